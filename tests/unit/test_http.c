/*
 * test_http - ew_loop and ew_http against a loopback HTTP/1.1 server that
 * runs inside the test (a second thread, plain sockets, epoll).
 *
 * The server answers by path (see route()): fixed answers, echoes, chunked
 * bodies, interim 1xx answers, delays, hangs and cut-off answers. It counts
 * accepted connections and requests so connection reuse can be checked.
 *
 * The client side is driven exactly as the worker drives it: one thread,
 * ew_loop_run_once() with the wait taken from ew_http_timeout_ms(), then
 * ew_http_on_timeout().
 *
 * Suite "bench" is a throughput measurement, not a check of speed; tune it
 * with EW_HTTP_BENCH_N, EW_HTTP_BENCH_INFLIGHT, EW_HTTP_BENCH_DELAY_MS (in-test
 * server latency) and EW_HTTP_BENCH_URL (another server, e.g. monitoring-sim).
 */
#include "ew_test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ew_http.h"
#include "ew_loop.h"
#include "ew_util.h"

/*
 * The loopback server.
 */

typedef struct dbuf {
        char  *p;
        size_t len, off, cap;
} dbuf_t;

typedef struct sconn {
        int      fd;
        unsigned serial;
        dbuf_t   in;
        dbuf_t   out;
        dbuf_t   held;        /* a delayed answer waiting for its time */
        int      close_after; /* close once out is flushed */
        int      want_write;  /* EPOLLOUT registered */
} sconn_t;

typedef struct timer_ent {
        int64_t  due;
        int      fd;
        unsigned serial;
} timer_ent_t;

typedef struct srv {
        int          lfd;
        int          ep;
        int          stop[2];
        int          port;
        pthread_t    th;
        sconn_t    **conns; /* by fd */
        int          nconns;
        unsigned     serial;
        timer_ent_t *heap;
        size_t       heap_len, heap_cap;
        atomic_int   accepted;
        atomic_int   requests;
} srv_t;

static void dbuf_reserve(dbuf_t *b, size_t more)
{
        if (b->len + more + 1 <= b->cap)
                return;
        while (b->len + more + 1 > b->cap)
                b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
                abort();
}

static void dbuf_add(dbuf_t *b, const void *p, size_t n)
{
        dbuf_reserve(b, n);
        memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void dbuf_printf(dbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void dbuf_printf(dbuf_t *b, const char *fmt, ...)
{
        va_list ap;
        int     n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        dbuf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

static void dbuf_free(dbuf_t *b)
{
        free(b->p);
        memset(b, 0, sizeof(*b));
}

static void set_nonblock(int fd)
{
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void heap_push(srv_t *s, timer_ent_t e)
{
        size_t i;

        if (s->heap_len == s->heap_cap) {
                s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 64;
                s->heap     = realloc(s->heap, s->heap_cap * sizeof(*s->heap));
                if (!s->heap)
                        abort();
        }
        i = s->heap_len++;
        while (i > 0 && s->heap[(i - 1) / 2].due > e.due) {
                s->heap[i] = s->heap[(i - 1) / 2];
                i          = (i - 1) / 2;
        }
        s->heap[i] = e;
}

static timer_ent_t heap_pop(srv_t *s)
{
        timer_ent_t top = s->heap[0], last = s->heap[--s->heap_len];
        size_t      i = 0;

        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= s->heap_len)
                        break;
                if (c + 1 < s->heap_len && s->heap[c + 1].due < s->heap[c].due)
                        c++;
                if (s->heap[c].due >= last.due)
                        break;
                s->heap[i] = s->heap[c];
                i          = c;
        }
        if (s->heap_len)
                s->heap[i] = last;
        return top;
}

static void conn_close(srv_t *s, sconn_t *c)
{
        epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        s->conns[c->fd] = NULL;
        dbuf_free(&c->in);
        dbuf_free(&c->out);
        dbuf_free(&c->held);
        free(c);
}

/* Writes what is pending; returns -1 if the connection was closed. */
static int conn_flush(srv_t *s, sconn_t *c)
{
        while (c->out.off < c->out.len) {
                ssize_t n = write(c->fd, c->out.p + c->out.off,
                                  c->out.len - c->out.off);
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        conn_close(s, c);
                        return -1;
                }
                c->out.off += (size_t)n;
        }
        if (c->out.off == c->out.len) {
                c->out.off = c->out.len = 0;
                if (c->close_after) {
                        conn_close(s, c);
                        return -1;
                }
        }
        if ((c->out.len > 0) != c->want_write) {
                struct epoll_event ev = {0};
                c->want_write         = c->out.len > 0;
                ev.events  = EPOLLIN | (c->want_write ? EPOLLOUT : 0);
                ev.data.fd = c->fd;
                epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        return 0;
}

static const char *find_crlf2(const char *p, size_t n)
{
        size_t i;

        for (i = 0; i + 3 < n; i++)
                if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
                    p[i + 3] == '\n')
                        return p + i;
        return NULL;
}

/* Copies header name's value (or "-") from the head into out. */
static void header_value(const char *head, const char *name, char *out,
                         size_t size)
{
        size_t      nlen = strlen(name);
        const char *l    = strstr(head, "\r\n");

        ew_snprintf(out, size, "-");
        while (l) {
                const char *line = l + 2, *end = strstr(line, "\r\n");
                if (!end)
                        break;
                if ((size_t)(end - line) > nlen && line[nlen] == ':' &&
                    strncasecmp(line, name, nlen) == 0) {
                        const char *v = line + nlen + 1;
                        while (*v == ' ')
                                v++;
                        ew_snprintf(out, size, "%.*s", (int)(end - v), v);
                        return;
                }
                l = end;
        }
}

static void answer(dbuf_t *b, int status, const char *extra, const char *body,
                   size_t len)
{
        dbuf_printf(b,
                    "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                    "Content-Length: %zu\r\n\r\n",
                    status, extra ? extra : "", len);
        dbuf_add(b, body, len);
}

static void answer_chunked(dbuf_t *b, const char *ctype, const char *body,
                           size_t len, size_t chunk)
{
        size_t off;

        dbuf_printf(b,
                    "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n",
                    ctype);
        for (off = 0; off < len; off += chunk) {
                size_t n = len - off < chunk ? len - off : chunk;
                dbuf_printf(b, "%zx\r\n", n);
                dbuf_add(b, body + off, n);
                dbuf_add(b, "\r\n", 2);
        }
        dbuf_add(b, "0\r\n\r\n", 5);
}

/* Answers one request on c. */
static void route(srv_t *s, sconn_t *c, const char *path, const char *head,
                  const char *body, size_t blen)
{
        dbuf_t       *o = &c->out;
        unsigned long n;

        if (strcmp(path, "/ok") == 0) {
                answer(o, 200, NULL, "{\"ok\":true}", 11);
        } else if (sscanf(path, "/status/%lu", &n) == 1) {
                char b[64];
                int  len = snprintf(b, sizeof(b), "{\"status\":%lu}", n);
                answer(o, (int)n, NULL, b, (size_t)len);
        } else if (strcmp(path, "/retry") == 0) {
                answer(o, 429, "retry-AFTER: \t 17  \r\n", "{\"e\":1}", 7);
        } else if (strcmp(path, "/interim") == 0) {
                dbuf_printf(o, "HTTP/1.1 100 Continue\r\nRetry-After: 99\r\n"
                               "\r\n");
                answer(o, 200, NULL, "ok", 2);
        } else if (strcmp(path, "/interim-retry") == 0) {
                dbuf_printf(o, "HTTP/1.1 100 Continue\r\nRetry-After: 99\r\n"
                               "\r\n");
                answer(o, 503, "Retry-After: 3\r\n", "no", 2);
        } else if (strcmp(path, "/chunked") == 0) {
                static const char txt[] = "hello, chunked world";
                answer_chunked(o, "application/octet-stream", txt,
                               sizeof(txt) - 1, 5);
        } else if (strncmp(path, "http://", 7) == 0) {
                /* Absolute form: the client took this server for a proxy. */
                char b[300];
                int  len = snprintf(b, sizeof(b), "proxied %s", path);
                answer(o, 200, NULL, b, (size_t)len);
        } else if (strncmp(path, "/target", 7) == 0) {
                answer(o, 200, NULL, path, strlen(path));
        } else if (strcmp(path, "/echo") == 0) {
                answer(o, 200, NULL, body, blen);
        } else if (strcmp(path, "/headers") == 0) {
                char ua[256], tp[256], ct[256], ac[256], ex[256], b[1400];
                int  len;
                header_value(head, "user-agent", ua, sizeof(ua));
                header_value(head, "traceparent", tp, sizeof(tp));
                header_value(head, "content-type", ct, sizeof(ct));
                header_value(head, "accept", ac, sizeof(ac));
                header_value(head, "expect", ex, sizeof(ex));
                len = snprintf(b, sizeof(b),
                               "ua=%s\ntp=%s\nct=%s\naccept=%s\nexpect=%s\n"
                               "method=%.4s\n",
                               ua, tp, ct, ac, ex, head);
                answer(o, 200, NULL, b, (size_t)len);
        } else if (sscanf(path, "/size/%lu", &n) == 1) {
                char *b = malloc(n + 1);
                memset(b, 'x', n);
                answer(o, 200, NULL, b, n);
                free(b);
        } else if (sscanf(path, "/sizechunked/%lu", &n) == 1) {
                char *b = malloc(n + 1);
                memset(b, 'y', n);
                answer_chunked(o, "application/json", b, n, 100);
                free(b);
        } else if (strcmp(path, "/cut") == 0) {
                dbuf_printf(o, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                               "\r\n0123456789");
                c->close_after = 1;
        } else if (strcmp(path, "/hang") == 0) {
                /* never answers; the client gives up */
        } else if (sscanf(path, "/delay/%lu", &n) == 1) {
                timer_ent_t e;
                answer(&c->held, 200, NULL, body, blen);
                e.due    = ew_mono_ms() + (int64_t)n;
                e.fd     = c->fd;
                e.serial = c->serial;
                heap_push(s, e);
        } else {
                answer(o, 404, NULL, "{}", 2);
        }
}

/* Parses and answers the complete requests in c->in. */
static void conn_requests(srv_t *s, sconn_t *c)
{
        for (;;) {
                const char *p     = c->in.p + c->in.off;
                size_t      avail = c->in.len - c->in.off;
                const char *end   = find_crlf2(p, avail);
                char        cl[32], path[256], *head;
                size_t      hlen, blen;

                if (avail > 0 && (*p < 'A' || *p > 'Z')) {
                        /* not HTTP (a TLS ClientHello, say): refuse */
                        answer(&c->out, 400, "Connection: close\r\n", "{}", 2);
                        c->close_after = 1;
                        c->in.off      = c->in.len;
                        break;
                }
                if (!end)
                        break;
                hlen = (size_t)(end - p) + 4;
                head = strndup(p, hlen);
                header_value(head, "content-length", cl, sizeof(cl));
                blen = strcmp(cl, "-") ? strtoul(cl, NULL, 10) : 0;
                if (avail < hlen + blen) {
                        free(head);
                        break;
                }
                if (sscanf(head, "%*s %255s", path) != 1)
                        ew_snprintf(path, sizeof(path), "/");
                atomic_fetch_add(&s->requests, 1);
                route(s, c, path, head, p + hlen, blen);
                free(head);
                c->in.off += hlen + blen;
        }
        if (c->in.off == c->in.len)
                c->in.off = c->in.len = 0;
}

static void conn_event(srv_t *s, int fd, uint32_t events)
{
        sconn_t *c = fd < s->nconns ? s->conns[fd] : NULL;

        if (!c)
                return;
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                        ssize_t n;
                        dbuf_reserve(&c->in, 16384);
                        n = read(fd, c->in.p + c->in.len,
                                 c->in.cap - c->in.len - 1);
                        if (n < 0 && errno == EAGAIN)
                                break;
                        if (n <= 0) {
                                conn_close(s, c);
                                return;
                        }
                        c->in.len += (size_t)n;
                }
                conn_requests(s, c);
        }
        conn_flush(s, c);
}

static void srv_accept(srv_t *s)
{
        for (;;) {
                struct epoll_event ev = {0};
                int                fd = accept(s->lfd, NULL, NULL), one = 1;
                sconn_t           *c;

                if (fd < 0)
                        return;
                atomic_fetch_add(&s->accepted, 1);
                set_nonblock(fd);
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (fd >= s->nconns) {
                        int n = s->nconns ? s->nconns : 256;
                        while (n <= fd)
                                n *= 2;
                        s->conns =
                            realloc(s->conns, (size_t)n * sizeof(*s->conns));
                        memset(s->conns + s->nconns, 0,
                               (size_t)(n - s->nconns) * sizeof(*s->conns));
                        s->nconns = n;
                }
                c            = calloc(1, sizeof(*c));
                c->fd        = fd;
                c->serial    = ++s->serial;
                s->conns[fd] = c;
                ev.events    = EPOLLIN;
                ev.data.fd   = fd;
                epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
        }
}

static void *srv_main(void *arg)
{
        srv_t             *s = arg;
        struct epoll_event evs[256];
        int                i;

        for (;;) {
                int     timeout = -1, n;
                int64_t now;

                if (s->heap_len) {
                        int64_t d = s->heap[0].due - ew_mono_ms();
                        timeout   = d < 0 ? 0 : (int)d;
                }
                n = epoll_wait(s->ep, evs, 256, timeout);
                for (i = 0; i < n; i++) {
                        if (evs[i].data.fd == s->stop[0])
                                return NULL;
                        if (evs[i].data.fd == s->lfd)
                                srv_accept(s);
                        else
                                conn_event(s, evs[i].data.fd, evs[i].events);
                }
                now = ew_mono_ms();
                while (s->heap_len && s->heap[0].due <= now) {
                        timer_ent_t e = heap_pop(s);
                        sconn_t *c = e.fd < s->nconns ? s->conns[e.fd] : NULL;
                        if (!c || c->serial != e.serial)
                                continue;
                        dbuf_add(&c->out, c->held.p, c->held.len);
                        c->held.len = 0;
                        conn_flush(s, c);
                }
        }
}

static srv_t *srv_start(void)
{
        srv_t             *s = calloc(1, sizeof(*s));
        struct sockaddr_in sa;
        socklen_t          salen = sizeof(sa);
        struct epoll_event ev    = {0};
        int                one   = 1;

        s->lfd = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&sa, 0, sizeof(sa));
        sa.sin_family      = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            listen(s->lfd, 4096) != 0 ||
            getsockname(s->lfd, (struct sockaddr *)&sa, &salen) != 0)
                abort();
        s->port = ntohs(sa.sin_port);
        set_nonblock(s->lfd);
        if (pipe(s->stop) != 0)
                abort();
        s->ep      = epoll_create1(0);
        ev.events  = EPOLLIN;
        ev.data.fd = s->lfd;
        epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev);
        ev.data.fd = s->stop[0];
        epoll_ctl(s->ep, EPOLL_CTL_ADD, s->stop[0], &ev);
        if (pthread_create(&s->th, NULL, srv_main, s) != 0)
                abort();
        return s;
}

static void srv_stop(srv_t *s)
{
        int i;

        if (write(s->stop[1], "x", 1) != 1)
                abort();
        pthread_join(s->th, NULL);
        for (i = 0; i < s->nconns; i++)
                if (s->conns[i])
                        conn_close(s, s->conns[i]);
        free(s->conns);
        free(s->heap);
        close(s->lfd);
        close(s->ep);
        close(s->stop[0]);
        close(s->stop[1]);
        free(s);
}

/*
 * Client side fixture.
 */

typedef struct fx {
        srv_t     *srv;
        ew_loop_t *loop;
        ew_http_t *http;
        char       base[64];
} fx_t;

static ew_http_conf_t default_conf(void)
{
        ew_http_conf_t conf;

        memset(&conf, 0, sizeof(conf));
        conf.timeout_ms         = 5000;
        conf.connect_timeout_ms = 2000;
        conf.user_agent         = "ew-test/1.0";
        conf.max_body_bytes     = 1000;
        return conf;
}

static int fx_open(fx_t *fx, const ew_http_conf_t *conf)
{
        char errstr[256] = "";

        memset(fx, 0, sizeof(*fx));
        fx->srv = srv_start();
        ew_snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d",
                    fx->srv->port);
        fx->loop = ew_loop_new(errstr, sizeof(errstr));
        CU_ASSERT_PTR_NOT_NULL_FATAL(fx->loop);
        fx->http = ew_http_new(fx->loop, conf, errstr, sizeof(errstr));
        if (!fx->http)
                fprintf(stderr, "ew_http_new: %s\n", errstr);
        CU_ASSERT_PTR_NOT_NULL_FATAL(fx->http);
        return 0;
}

static void fx_close(fx_t *fx)
{
        ew_http_destroy(fx->http);
        ew_loop_destroy(fx->loop);
        srv_stop(fx->srv);
}

/* Runs the loop as the worker does until *count reaches target or max_ms
 * passes. Returns 0 if the target was reached. */
static int drive(fx_t *fx, const int *count, int target, int max_ms)
{
        int64_t end = ew_mono_ms() + max_ms;

        while (!count || *count < target) {
                int64_t left = end - ew_mono_ms();
                long    t    = ew_http_timeout_ms(fx->http);

                if (left <= 0)
                        return count ? -1 : 0;
                if (t < 0 || t > left)
                        t = (long)left;
                if (ew_loop_run_once(fx->loop, (int)t) < 0)
                        return -1;
                ew_http_on_timeout(fx->http);
        }
        return 0;
}

/* What a callback saw, copied (the result's pointers die with the call). */
typedef struct got {
        int     called;
        int     status;
        char    body[2048];
        size_t  body_len;
        int     has_retry_after;
        char    retry_after[128];
        int     has_error;
        char    error[512];
        int     timed_out;
        int64_t elapsed_ms;
} got_t;

static int g_done; /* callbacks run, across a test */

static void on_done(void *opaque, const ew_http_result_t *res)
{
        got_t *g = opaque;

        g->called++;
        g->status   = res->status;
        g->body_len = res->body_len;
        ew_snprintf(g->body, sizeof(g->body), "%s", res->body);
        g->has_retry_after = res->retry_after != NULL;
        ew_snprintf(g->retry_after, sizeof(g->retry_after), "%s",
                    res->retry_after ? res->retry_after : "");
        g->has_error = res->error != NULL;
        ew_snprintf(g->error, sizeof(g->error), "%s",
                    res->error ? res->error : "");
        g->timed_out  = res->timed_out;
        g->elapsed_ms = res->elapsed_ms;
        g_done++;
}

/* Posts one request to base+path and waits for it. */
static int post_wait(fx_t *fx, const char *path, const char *body,
                     const char *traceparent, got_t *g)
{
        char           url[256], errstr[256] = "";
        ew_http_req_t *req;

        memset(g, 0, sizeof(*g));
        g_done = 0;
        ew_snprintf(url, sizeof(url), "%s%s", fx->base, path);
        req = ew_http_post(fx->http, url, body, body ? strlen(body) : 0,
                           traceparent, on_done, g, errstr, sizeof(errstr));
        CU_ASSERT_PTR_NOT_NULL(req);
        if (!req)
                return -1;
        return drive(fx, &g_done, 1, 10000);
}

/*
 * ew_loop
 */

typedef struct lctx {
        int  calls;
        int  last_events;
        int  last_fd;
        int  other; /* fd the callback deletes and closes, or -1 */
        int *other_ctx_closed;
        int  new_rd, new_wr;
        int  new_calls;
        int  self_del;
} lctx_t;

static void on_count(ew_loop_t *loop, int fd, int events, void *opaque)
{
        lctx_t *c = opaque;

        c->calls++;
        c->last_events = events;
        c->last_fd     = fd;
        if (c->self_del)
                ew_loop_del(loop, fd);
}

static void test_loop_timeout(void)
{
        char       errstr[128];
        ew_loop_t *loop = ew_loop_new(errstr, sizeof(errstr));
        int64_t    t0;
        int        n;

        CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
        t0 = ew_mono_ms();
        n  = ew_loop_run_once(loop, 40);
        CU_ASSERT_EQUAL(n, 0);
        CU_ASSERT(ew_mono_ms() - t0 >= 35);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 0), 0);
        ew_loop_destroy(loop);
        ew_loop_destroy(NULL);
}

static void test_loop_read_write_hup(void)
{
        char       errstr[128];
        ew_loop_t *loop = ew_loop_new(errstr, sizeof(errstr));
        lctx_t     r = {0}, w = {0};
        int        p[2];

        CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
        CU_ASSERT_FATAL(pipe(p) == 0);
        CU_ASSERT_EQUAL(ew_loop_set(loop, p[0], EW_LOOP_READ, on_count, &r), 0);
        CU_ASSERT_EQUAL(ew_loop_set(loop, p[1], EW_LOOP_WRITE, on_count, &w),
                        0);
        /* only the write end is ready */
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(w.calls, 1);
        CU_ASSERT_EQUAL(w.last_events, EW_LOOP_WRITE);
        CU_ASSERT_EQUAL(w.last_fd, p[1]);
        CU_ASSERT_EQUAL(r.calls, 0);

        /* silence the write end, make the read end ready */
        CU_ASSERT_EQUAL(ew_loop_set(loop, p[1], 0, on_count, &w), 0);
        CU_ASSERT_EQUAL(write(p[1], "a", 1), 1);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(r.calls, 1);
        CU_ASSERT_EQUAL(r.last_events, EW_LOOP_READ);
        CU_ASSERT_EQUAL(w.calls, 1);

        /* hang-up is reported as READ|WRITE */
        ew_loop_del(loop, p[1]);
        close(p[1]);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(r.calls, 2);
        CU_ASSERT_EQUAL(r.last_events, EW_LOOP_READ | EW_LOOP_WRITE);

        /* a silent registration is not woken even by the hang-up */
        CU_ASSERT_EQUAL(ew_loop_set(loop, p[0], 0, on_count, &r), 0);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 20), 0);
        CU_ASSERT_EQUAL(r.calls, 2);
        ew_loop_del(loop, p[0]);
        ew_loop_del(loop, p[0]);  /* unknown now: ignored */
        ew_loop_del(loop, 12345); /* never seen: ignored */
        close(p[0]);
        ew_loop_destroy(loop);
}

/* Parking leaves an fd in the epoll set without a callback: an event on
 * it takes it out, a new registration reuses the entry (or adds it anew
 * when the fd number now names another file). */
static void test_loop_park(void)
{
        char       errstr[128];
        ew_loop_t *loop = ew_loop_new(errstr, sizeof(errstr));
        lctx_t     a = {0}, b = {0}, c = {0}, d = {0};
        int        p[2], q[2], num;
        char       buf[8];

        CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
        CU_ASSERT_FATAL(pipe(p) == 0);
        CU_ASSERT_EQUAL(ew_loop_set(loop, p[0], EW_LOOP_READ, on_count, &a), 0);
        ew_loop_park(loop, p[0]);
        CU_ASSERT_EQUAL(ew_loop_in_set(loop, p[0]), 1);

        /* An event on a parked fd: no callback, and out of the set. */
        CU_ASSERT_EQUAL(write(p[1], "x", 1), 1);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 0);
        CU_ASSERT_EQUAL(a.calls, 0);
        CU_ASSERT_EQUAL(ew_loop_in_set(loop, p[0]), 0);

        /* Registered again (added anew): the pending byte is reported. */
        CU_ASSERT_EQUAL(ew_loop_set(loop, p[0], EW_LOOP_READ, on_count, &b), 0);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(b.calls, 1);
        CU_ASSERT_EQUAL(read(p[0], buf, sizeof(buf)), 1);

        /* Parked while quiet, then registered again: the entry is reused
         * and the new callback gets the next event, the old one nothing. */
        ew_loop_park(loop, p[0]);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 20), 0);
        CU_ASSERT_EQUAL(ew_loop_in_set(loop, p[0]), 1);
        CU_ASSERT_EQUAL(ew_loop_set(loop, p[0], EW_LOOP_READ, on_count, &c), 0);
        CU_ASSERT_EQUAL(write(p[1], "y", 1), 1);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(c.calls, 1);
        CU_ASSERT_EQUAL(b.calls, 1);
        CU_ASSERT_EQUAL(read(p[0], buf, sizeof(buf)), 1);

        /* Parked, closed, and the number reused by another pipe: the
         * kernel forgot the old file; registering the new one works. */
        ew_loop_park(loop, p[0]);
        num = p[0];
        close(p[0]);
        close(p[1]);
        CU_ASSERT_FATAL(pipe(q) == 0);
        if (q[0] != num) {
                CU_ASSERT_FATAL(dup2(q[0], num) == num);
                close(q[0]);
                q[0] = num;
        }
        CU_ASSERT_EQUAL(ew_loop_set(loop, q[0], EW_LOOP_READ, on_count, &d), 0);
        CU_ASSERT_EQUAL(write(q[1], "z", 1), 1);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(d.calls, 1);
        CU_ASSERT_EQUAL(c.calls, 1);

        /* Deleting a parked fd takes it out; unknown fds are ignored. */
        CU_ASSERT_EQUAL(read(q[0], buf, sizeof(buf)), 1);
        ew_loop_park(loop, q[0]);
        ew_loop_del(loop, q[0]);
        CU_ASSERT_EQUAL(ew_loop_in_set(loop, q[0]), 0);
        ew_loop_park(loop, 12345);
        CU_ASSERT_EQUAL(ew_loop_in_set(loop, 12345), 0);
        close(q[0]);
        close(q[1]);
        ew_loop_destroy(loop);
}

static void on_count_int(ew_loop_t *loop, int fd, int events, void *opaque)
{
        (void)loop;
        (void)fd;
        (void)events;
        (*(int *)opaque)++;
}

/* Callback of the "delete the other during dispatch" test. The first of
 * the two ready fds to run deletes and closes the other one, then opens a
 * new pipe (which reuses the freed fd number) and makes it ready. */
static lctx_t *g_pair[2];

static void on_first_deletes(ew_loop_t *loop, int fd, int events, void *opaque)
{
        lctx_t *c = opaque;
        int     p[2];

        (void)events;
        c->calls++;
        c->last_fd = fd;
        if (c->other < 0)
                return;
        ew_loop_del(loop, c->other);
        close(c->other);
        (g_pair[0] == c ? g_pair[1] : g_pair[0])->other = -1;
        c->other                                        = -1;
        if (pipe(p) != 0)
                return;
        c->new_rd = p[0];
        c->new_wr = p[1];
        ew_loop_set(loop, p[0], EW_LOOP_READ, on_count_int, &c->new_calls);
        if (write(p[1], "n", 1) != 1)
                return;
}

static void test_loop_delete_during_dispatch(void)
{
        char       errstr[128];
        ew_loop_t *loop = ew_loop_new(errstr, sizeof(errstr));
        lctx_t     a = {0}, b = {0}, *winner, *loser;
        int        pa[2], pb[2];
        int        n;

        CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
        CU_ASSERT_FATAL(pipe(pa) == 0 && pipe(pb) == 0);
        a.other   = pb[0];
        b.other   = pa[0];
        g_pair[0] = &a;
        g_pair[1] = &b;
        CU_ASSERT_EQUAL(write(pa[1], "a", 1), 1);
        CU_ASSERT_EQUAL(write(pb[1], "b", 1), 1);
        ew_loop_set(loop, pa[0], EW_LOOP_READ, on_first_deletes, &a);
        ew_loop_set(loop, pb[0], EW_LOOP_READ, on_first_deletes, &b);

        /* Both are ready in the same batch; only one may run. */
        n = ew_loop_run_once(loop, 100);
        CU_ASSERT_EQUAL(n, 1);
        CU_ASSERT_EQUAL(a.calls + b.calls, 1);
        winner = a.calls ? &a : &b;
        loser  = a.calls ? &b : &a;
        CU_ASSERT_EQUAL(loser->calls, 0);
        /* The new pipe got the deleted fd's number, so a stale event for
         * that number must not have reached the new registration. */
        CU_ASSERT_EQUAL(winner->new_calls, 0);

        /* Next round: the winner again and the new pipe; the loser never. */
        n = ew_loop_run_once(loop, 100);
        CU_ASSERT_EQUAL(n, 2);
        CU_ASSERT_EQUAL(winner->new_calls, 1);
        CU_ASSERT_EQUAL(loser->calls, 0);

        ew_loop_del(loop, pa[0]);
        ew_loop_del(loop, pb[0]);
        ew_loop_del(loop, winner->new_rd);
        close(winner->new_rd);
        close(winner->new_wr);
        close(winner == &a ? pa[0] : pb[0]);
        close(pa[1]);
        close(pb[1]);
        ew_loop_destroy(loop);
}

static void test_loop_self_delete_and_replace(void)
{
        char       errstr[128];
        ew_loop_t *loop = ew_loop_new(errstr, sizeof(errstr));
        lctx_t     c1 = {0}, c2 = {0};
        int        p[2], hi;

        CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
        CU_ASSERT_FATAL(pipe(p) == 0);
        CU_ASSERT_EQUAL(write(p[1], "x", 1), 1);
        c1.self_del = 1;
        ew_loop_set(loop, p[0], EW_LOOP_READ, on_count, &c1);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 0), 0); /* still readable */
        CU_ASSERT_EQUAL(c1.calls, 1);

        /* Re-registering replaces the callback. */
        ew_loop_set(loop, p[0], EW_LOOP_READ, on_count, &c1);
        c1.self_del = 0;
        ew_loop_set(loop, p[0], EW_LOOP_READ, on_count, &c2);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(c1.calls, 1);
        CU_ASSERT_EQUAL(c2.calls, 1);
        ew_loop_del(loop, p[0]);

        /* A high fd number grows the table. */
        hi = dup2(p[0], 700);
        CU_ASSERT_EQUAL_FATAL(hi, 700);
        CU_ASSERT_EQUAL(ew_loop_set(loop, hi, EW_LOOP_READ, on_count, &c2), 0);
        CU_ASSERT_EQUAL(ew_loop_run_once(loop, 100), 1);
        CU_ASSERT_EQUAL(c2.calls, 2);
        CU_ASSERT_EQUAL(c2.last_fd, 700);
        CU_ASSERT_EQUAL(ew_loop_set(loop, -1, EW_LOOP_READ, on_count, &c2), -1);
        ew_loop_del(loop, hi);
        close(hi);
        close(p[0]);
        close(p[1]);
        ew_loop_destroy(loop);
}

/*
 * ew_http
 */

static void test_http_status_body_retry_after(void)
{
        ew_http_conf_t conf = default_conf();
        fx_t           fx;
        got_t          g;

        fx_open(&fx, &conf);
        CU_ASSERT_EQUAL(post_wait(&fx, "/ok", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.called, 1);
        CU_ASSERT_EQUAL(g.status, 200);
        CU_ASSERT_STRING_EQUAL(g.body, "{\"ok\":true}");
        CU_ASSERT_EQUAL(g.body_len, 11);
        CU_ASSERT_FALSE(g.has_retry_after);
        CU_ASSERT_FALSE(g.has_error);
        CU_ASSERT_FALSE(g.timed_out);
        CU_ASSERT(g.elapsed_ms >= 0 && g.elapsed_ms < 5000);

        CU_ASSERT_EQUAL(post_wait(&fx, "/retry", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.status, 429);
        CU_ASSERT_STRING_EQUAL(g.body, "{\"e\":1}");
        CU_ASSERT_TRUE(g.has_retry_after);
        CU_ASSERT_STRING_EQUAL(g.retry_after, "17");

        /* The same pooled handle must not carry Retry-After over. */
        CU_ASSERT_EQUAL(post_wait(&fx, "/status/503", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.status, 503);
        CU_ASSERT_STRING_EQUAL(g.body, "{\"status\":503}");
        CU_ASSERT_FALSE(g.has_retry_after);
        CU_ASSERT_FALSE(g.has_error);

        /* Headers of a 1xx interim answer are not the answer's. */
        CU_ASSERT_EQUAL(post_wait(&fx, "/interim", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.status, 200);
        CU_ASSERT_STRING_EQUAL(g.body, "ok");
        CU_ASSERT_FALSE(g.has_retry_after);
        CU_ASSERT_EQUAL(post_wait(&fx, "/interim-retry", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.status, 503);
        CU_ASSERT_STRING_EQUAL(g.retry_after, "3");

        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 0);
        fx_close(&fx);
}

static void test_http_chunked(void)
{
        ew_http_conf_t conf = default_conf();
        fx_t           fx;
        got_t          g;

        fx_open(&fx, &conf);
        CU_ASSERT_EQUAL(post_wait(&fx, "/chunked", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.status, 200);
        CU_ASSERT_STRING_EQUAL(g.body, "hello, chunked world");
        CU_ASSERT_EQUAL(g.body_len, 20);
        fx_close(&fx);
}

static void test_http_headers_sent(void)
{
        static const char tp[] =
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        ew_http_conf_t conf = default_conf();
        char           want[256];
        fx_t           fx;
        got_t          g;

        fx_open(&fx, &conf);
        CU_ASSERT_EQUAL(post_wait(&fx, "/headers", "{\"a\":1}", tp, &g), 0);
        CU_ASSERT_EQUAL(g.status, 200);
        ew_snprintf(want, sizeof(want), "tp=%s\n", tp);
        CU_ASSERT_PTR_NOT_NULL(strstr(g.body, want));
        CU_ASSERT_PTR_NOT_NULL(strstr(g.body, "ua=ew-test/1.0\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(g.body, "ct=application/json\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(g.body, "accept=application/json\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(g.body, "expect=-\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(g.body, "method=POST\n"));

        /* Same pooled handle, no traceparent this time. */
        CU_ASSERT_EQUAL(post_wait(&fx, "/headers", "{}", NULL, &g), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(g.body, "tp=-\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(g.body, "ct=application/json\n"));

        /* A header value with a line break would inject headers. */
        {
                char errstr[128] = "";
                char url[128];
                ew_snprintf(url, sizeof(url), "%s/ok", fx.base);
                CU_ASSERT_PTR_NULL(ew_http_post(fx.http, url, "{}", 2,
                                                "00-x\r\nEvil: 1", on_done, &g,
                                                errstr, sizeof(errstr)));
                CU_ASSERT(errstr[0] != '\0');
                CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 0);
        }
        fx_close(&fx);
}

/* 100 concurrent requests, each with its own body; the server echoes it. */
#define CONC 100

typedef struct conc {
        int id;
        int called;
        int ok;
} conc_t;

static int g_conc_done;

static void on_conc(void *opaque, const ew_http_result_t *res)
{
        conc_t *c = opaque;
        char    want[32];

        ew_snprintf(want, sizeof(want), "{\"id\":%d}", c->id);
        c->called++;
        c->ok = res->status == 200 && res->body_len == strlen(want) &&
                strcmp(res->body, want) == 0;
        g_conc_done++;
}

static int run_concurrent(fx_t *fx, conc_t *cs, char (*bodies)[32])
{
        char url[128], errstr[128];
        int  i, bad = 0;

        ew_snprintf(url, sizeof(url), "%s/echo", fx->base);
        g_conc_done = 0;
        for (i = 0; i < CONC; i++) {
                cs[i].id     = i;
                cs[i].called = 0;
                cs[i].ok     = 0;
                ew_snprintf(bodies[i], sizeof(bodies[i]), "{\"id\":%d}", i);
                if (!ew_http_post(fx->http, url, bodies[i], strlen(bodies[i]),
                                  NULL, on_conc, &cs[i], errstr,
                                  sizeof(errstr)))
                        bad++;
        }
        CU_ASSERT_EQUAL(ew_http_in_flight(fx->http), CONC - bad);
        CU_ASSERT_EQUAL(drive(fx, &g_conc_done, CONC, 10000), 0);
        for (i = 0; i < CONC; i++)
                if (cs[i].called != 1 || !cs[i].ok)
                        bad++;
        return bad;
}

static void test_http_concurrent_and_reuse(void)
{
        ew_http_conf_t conf = default_conf();
        static conc_t  cs[CONC];
        static char    bodies[CONC][32];
        int            accepted, i;
        fx_t           fx;
        got_t          g;

        /* curl's default cache (4 per easy handle in the multi handle)
         * shrinks as finished handles leave it: size it as the worker
         * does, to the number of requests in flight. */
        conf.max_connections = CONC;
        fx_open(&fx, &conf);
        CU_ASSERT_EQUAL(run_concurrent(&fx, cs, bodies), 0);
        CU_ASSERT_EQUAL(run_concurrent(&fx, cs, bodies), 0);
        accepted = atomic_load(&fx.srv->accepted);
        CU_ASSERT(accepted <= CONC);
        CU_ASSERT_EQUAL(atomic_load(&fx.srv->requests), 2 * CONC);
        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 0);

        /* One at a time: no new connection at all. */
        for (i = 0; i < 20; i++) {
                CU_ASSERT_EQUAL(
                    post_wait(&fx, "/echo", "{\"seq\":1}", NULL, &g), 0);
                CU_ASSERT_STRING_EQUAL(g.body, "{\"seq\":1}");
        }
        CU_ASSERT_EQUAL(atomic_load(&fx.srv->accepted), accepted);
        fx_close(&fx);
}

/* A pooled handle keeps its URL pre-parsed and only swaps the path and the
 * query while the origin stays the same: every request must still reach
 * exactly its own target, on whichever origin it names. */
static void test_http_url_reuse(void)
{
        static const struct {
                int         other; /* 1: the second server's origin */
                const char *target;
        } steps[] = {
            {0, "/target/a?x=1"},       {0, "/target/b"},
            {0, "/target/c?y=2&z=%20"}, {1, "/target/d?q=1"},
            {1, "/target/d"},           {0, "/target/e?x=%2F"},
            {0, "/target/f?"},          {1, "/target/g?r=s#frag"},
        };
        ew_http_conf_t conf = default_conf();
        fx_t           fx;
        srv_t         *other;
        char           other_base[64];
        size_t         i;
        int            failures = 0, other_requests = 0;

        fx_open(&fx, &conf);
        other = srv_start();
        ew_snprintf(other_base, sizeof(other_base), "http://127.0.0.1:%d",
                    other->port);
        for (i = 0; i < EW_ARRAY_SIZE(steps); i++) {
                char           url[256], errstr[256] = "", want[256];
                ew_http_req_t *req;
                got_t          g;

                memset(&g, 0, sizeof(g));
                g_done = 0;
                ew_snprintf(url, sizeof(url), "%s%s",
                            steps[i].other ? other_base : fx.base,
                            steps[i].target);
                /* The fragment never goes on the wire. */
                ew_snprintf(want, sizeof(want), "%.*s",
                            (int)strcspn(steps[i].target, "#"),
                            steps[i].target);
                req = ew_http_post(fx.http, url, "{}", 2, NULL, on_done, &g,
                                   errstr, sizeof(errstr));
                if (!req || drive(&fx, &g_done, 1, 10000) != 0 ||
                    g.status != 200 || strcmp(g.body, want) != 0) {
                        fprintf(stderr, "step %zu: %s: got %d \"%s\" %s\n", i,
                                url, g.status, g.body, errstr);
                        failures++;
                }
                other_requests += steps[i].other;
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_EQUAL(atomic_load(&other->requests), other_requests);
        fx_close(&fx);
        srv_stop(other);
}

/* The dispatcher tells curl "no proxy" once when the environment names
 * none; when it names one, curl must still use it. The proxy is a second
 * test server; the target, port 1 of loopback, has no listener, so a
 * request that bypassed the proxy would fail (and still stay on
 * loopback). no_proxy is cleared meanwhile: it could exempt 127.0.0.1. */
static void test_http_env_proxy(void)
{
        static const char *const exempt[] = {"no_proxy", "NO_PROXY"};
        ew_http_conf_t           conf     = default_conf();
        char                     proxy[64], errstr[256] = "";
        char                    *saved[2];
        const char              *url = "http://127.0.0.1:1/target/p?q=1";
        fx_t                     fx;
        got_t                    g;
        srv_t                   *srv = srv_start();
        int                      i;

        for (i = 0; i < 2; i++) {
                const char *v = getenv(exempt[i]);
                saved[i]      = v ? strdup(v) : NULL;
                unsetenv(exempt[i]);
        }
        ew_snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", srv->port);
        setenv("http_proxy", proxy, 1);
        fx_open(&fx, &conf);
        memset(&g, 0, sizeof(g));
        g_done = 0;
        CU_ASSERT_PTR_NOT_NULL(ew_http_post(
            fx.http, url, "{}", 2, NULL, on_done, &g, errstr, sizeof(errstr)));
        CU_ASSERT_EQUAL(drive(&fx, &g_done, 1, 10000), 0);
        /* curl reads the variables when the transfer starts. */
        unsetenv("http_proxy");
        for (i = 0; i < 2; i++) {
                if (saved[i])
                        setenv(exempt[i], saved[i], 1);
                free(saved[i]);
        }
        CU_ASSERT_EQUAL(g.status, 200);
        CU_ASSERT_STRING_EQUAL(g.body,
                               "proxied http://127.0.0.1:1/target/p?q=1");
        CU_ASSERT_EQUAL(atomic_load(&srv->requests), 1);
        fx_close(&fx);
        srv_stop(srv);
}

static void test_http_timeout(void)
{
        ew_http_conf_t conf = default_conf();
        fx_t           fx;
        got_t          g;

        conf.timeout_ms = 150;
        fx_open(&fx, &conf);
        CU_ASSERT_EQUAL(post_wait(&fx, "/hang", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.called, 1);
        CU_ASSERT_EQUAL(g.status, 0);
        CU_ASSERT_TRUE(g.timed_out);
        CU_ASSERT_TRUE(g.has_error);
        CU_ASSERT(g.error[0] != '\0');
        CU_ASSERT_STRING_EQUAL(g.body, "");
        CU_ASSERT(g.elapsed_ms >= 140 && g.elapsed_ms < 2000);

        /* The pooled handle works again afterwards. */
        CU_ASSERT_EQUAL(post_wait(&fx, "/ok", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.status, 200);
        CU_ASSERT_FALSE(g.timed_out);
        CU_ASSERT_FALSE(g.has_error);
        fx_close(&fx);
}

static void test_http_refused(void)
{
        ew_http_conf_t     conf = default_conf();
        struct sockaddr_in sa;
        socklen_t          salen = sizeof(sa);
        int                fd    = socket(AF_INET, SOCK_STREAM, 0);
        char               path[64];
        fx_t               fx;
        got_t              g;

        /* A port that was free a moment ago and has no listener. */
        memset(&sa, 0, sizeof(sa));
        sa.sin_family      = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
        CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sa, &salen) == 0);
        close(fd);

        fx_open(&fx, &conf);
        ew_snprintf(fx.base, sizeof(fx.base), "http://127.0.0.1:%d",
                    ntohs(sa.sin_port));
        ew_snprintf(path, sizeof(path), "/ok");
        CU_ASSERT_EQUAL(post_wait(&fx, path, "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.called, 1);
        CU_ASSERT_EQUAL(g.status, 0);
        CU_ASSERT_FALSE(g.timed_out);
        CU_ASSERT_TRUE(g.has_error);
        CU_ASSERT(g.error[0] != '\0');

        /* Protocols other than http/https are refused by curl. */
        ew_snprintf(fx.base, sizeof(fx.base), "ftp://127.0.0.1:%d",
                    ntohs(sa.sin_port));
        CU_ASSERT_EQUAL(post_wait(&fx, "/x", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.status, 0);
        CU_ASSERT_TRUE(g.has_error);
        fx_close(&fx);
}

/* https to a server that speaks plain HTTP: the TLS handshake fails. Three
 * at once, so two of them wait (CURLOPT_PIPEWAIT) for the first connection
 * and must still complete when it fails. */
static void test_http_tls_handshake_fails(void)
{
        ew_http_conf_t conf = default_conf();
        static got_t   gs[3];
        char           url[128], errstr[128];
        int            i, bad = 0;
        fx_t           fx;

        fx_open(&fx, &conf);
        ew_snprintf(url, sizeof(url), "https://127.0.0.1:%d/ok", fx.srv->port);
        g_done = 0;
        for (i = 0; i < 3; i++) {
                memset(&gs[i], 0, sizeof(gs[i]));
                CU_ASSERT_PTR_NOT_NULL(ew_http_post(fx.http, url, "{}", 2, NULL,
                                                    on_done, &gs[i], errstr,
                                                    sizeof(errstr)));
        }
        CU_ASSERT_EQUAL(drive(&fx, &g_done, 3, 5000), 0);
        for (i = 0; i < 3; i++)
                if (gs[i].called != 1 || gs[i].status != 0 ||
                    !gs[i].has_error || gs[i].error[0] == '\0')
                        bad++;
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 0);
        fx_close(&fx);
}

static void test_http_cut_mid_response(void)
{
        ew_http_conf_t conf = default_conf();
        fx_t           fx;
        got_t          g;

        fx_open(&fx, &conf);
        CU_ASSERT_EQUAL(post_wait(&fx, "/cut", "{}", NULL, &g), 0);
        CU_ASSERT_EQUAL(g.called, 1);
        CU_ASSERT_EQUAL(g.status, 0);
        CU_ASSERT_TRUE(g.has_error);
        CU_ASSERT_FALSE(g.timed_out);
        CU_ASSERT_STRING_EQUAL(g.body, "");
        fx_close(&fx);
}

static void test_http_body_limit(void)
{
        static const struct {
                const char *path;
                int         status;
                size_t      len;
        } cases[] = {
            {"/size/1000", 200, 1000},   {"/size/1001", 0, 0},
            {"/size/50000", 0, 0},       {"/sizechunked/1000", 200, 1000},
            {"/sizechunked/1001", 0, 0}, {"/sizechunked/50000", 0, 0},
            {"/size/0", 200, 0},
        };
        ew_http_conf_t conf = default_conf(); /* max_body_bytes 1000 */
        size_t         i;
        int            failed = 0;
        fx_t           fx;
        got_t          g;

        fx_open(&fx, &conf);
        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                int ok;
                if (post_wait(&fx, cases[i].path, "{}", NULL, &g) != 0) {
                        failed++;
                        continue;
                }
                ok = g.called == 1 && g.status == cases[i].status &&
                     g.body_len == cases[i].len;
                if (cases[i].status == 0)
                        ok = ok && strcmp(g.error,
                                          "response body over 1000 bytes") == 0;
                else
                        ok = ok && !g.has_error &&
                             strlen(g.body) == cases[i].len;
                if (!ok) {
                        fprintf(stderr,
                                "body limit %s: status %d len %zu "
                                "error '%s'\n",
                                cases[i].path, g.status, g.body_len, g.error);
                        failed++;
                }
        }
        CU_ASSERT_EQUAL(failed, 0);
        fx_close(&fx);
}

static void test_http_cancel(void)
{
        ew_http_conf_t conf = default_conf();
        char           url[128], errstr[128];
        ew_http_req_t *req;
        got_t          cancelled, other;
        fx_t           fx;

        fx_open(&fx, &conf);
        memset(&cancelled, 0, sizeof(cancelled));
        memset(&other, 0, sizeof(other));
        g_done = 0;

        /* cancelled before curl even started it */
        ew_snprintf(url, sizeof(url), "%s/delay/1", fx.base);
        req = ew_http_post(fx.http, url, "{}", 2, NULL, on_done, &cancelled,
                           errstr, sizeof(errstr));
        CU_ASSERT_PTR_NOT_NULL_FATAL(req);
        ew_http_cancel(fx.http, req);
        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 0);

        /* cancelled while the server holds the answer */
        ew_snprintf(url, sizeof(url), "%s/delay/100", fx.base);
        req = ew_http_post(fx.http, url, "{}", 2, NULL, on_done, &cancelled,
                           errstr, sizeof(errstr));
        CU_ASSERT_PTR_NOT_NULL_FATAL(req);
        drive(&fx, NULL, 0, 30);
        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 1);
        ew_http_cancel(fx.http, req);
        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 0);

        ew_snprintf(url, sizeof(url), "%s/delay/150", fx.base);
        CU_ASSERT_PTR_NOT_NULL(ew_http_post(fx.http, url, "{}", 2, NULL,
                                            on_done, &other, errstr,
                                            sizeof(errstr)));
        CU_ASSERT_EQUAL(drive(&fx, &g_done, 1, 5000), 0);
        CU_ASSERT_EQUAL(other.called, 1);
        CU_ASSERT_EQUAL(other.status, 200);
        CU_ASSERT_EQUAL(cancelled.called, 0);
        fx_close(&fx);
}

/* Pairs of requests whose callbacks cancel the partner: whichever ends
 * first wins, the other must never report. */
typedef struct pair {
        ew_http_req_t *req[2];
        int            called[2];
} pair_t;

static int g_pair_done;

static void on_pair(void *opaque, const ew_http_result_t *res, int me)
{
        pair_t *p = opaque;

        (void)res;
        p->called[me]++;
        ew_http_cancel(NULL, NULL); /* harmless */
        g_pair_done++;
}

static ew_http_t *g_pair_http;

static void on_pair0(void *opaque, const ew_http_result_t *res)
{
        pair_t *p = opaque;

        on_pair(opaque, res, 0);
        ew_http_cancel(g_pair_http, p->req[1]);
        /* cancelling myself while my callback runs is ignored */
        ew_http_cancel(g_pair_http, p->req[0]);
}

static void on_pair1(void *opaque, const ew_http_result_t *res)
{
        pair_t *p = opaque;

        on_pair(opaque, res, 1);
        ew_http_cancel(g_pair_http, p->req[0]);
}

static void test_http_cancel_from_callback(void)
{
        ew_http_conf_t conf = default_conf();
        static pair_t  pairs[20];
        char           url[128], errstr[128];
        size_t         i;
        int            bad = 0;
        fx_t           fx;

        fx_open(&fx, &conf);
        g_pair_http = fx.http;
        g_pair_done = 0;
        ew_snprintf(url, sizeof(url), "%s/ok", fx.base);
        for (i = 0; i < EW_ARRAY_SIZE(pairs); i++) {
                memset(&pairs[i], 0, sizeof(pairs[i]));
                pairs[i].req[0] =
                    ew_http_post(fx.http, url, "{}", 2, NULL, on_pair0,
                                 &pairs[i], errstr, sizeof(errstr));
                pairs[i].req[1] =
                    ew_http_post(fx.http, url, "{}", 2, NULL, on_pair1,
                                 &pairs[i], errstr, sizeof(errstr));
                CU_ASSERT_PTR_NOT_NULL(pairs[i].req[0]);
                CU_ASSERT_PTR_NOT_NULL(pairs[i].req[1]);
        }
        CU_ASSERT_EQUAL(
            drive(&fx, &g_pair_done, (int)EW_ARRAY_SIZE(pairs), 5000), 0);
        drive(&fx, NULL, 0, 50); /* give stray callbacks a chance */
        for (i = 0; i < EW_ARRAY_SIZE(pairs); i++)
                if (pairs[i].called[0] + pairs[i].called[1] != 1)
                        bad++;
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(g_pair_done, (int)EW_ARRAY_SIZE(pairs));
        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 0);
        fx_close(&fx);
}

/* A callback that submits the next request from inside the callback. */
typedef struct chain {
        fx_t *fx;
        int   left;
        int   done;
        int   bad;
} chain_t;

static void on_chain(void *opaque, const ew_http_result_t *res)
{
        chain_t *c = opaque;
        char     url[128], errstr[128], body[32];

        c->done++;
        ew_snprintf(body, sizeof(body), "{\"n\":%d}", c->left + 1);
        if (res->status != 200 || strcmp(res->body, body) != 0)
                c->bad++;
        if (c->left-- <= 0)
                return;
        ew_snprintf(url, sizeof(url), "%s/echo", c->fx->base);
        /* body must outlive the request: a static per position */
        {
                static char bodies[16][32];
                ew_snprintf(bodies[c->left], sizeof(bodies[0]), "{\"n\":%d}",
                            c->left + 1);
                if (!ew_http_post(c->fx->http, url, bodies[c->left],
                                  strlen(bodies[c->left]), NULL, on_chain, c,
                                  errstr, sizeof(errstr)))
                        c->bad++;
        }
}

static void test_http_submit_from_callback(void)
{
        ew_http_conf_t conf = default_conf();
        char           url[128], errstr[128];
        chain_t        c = {0};
        fx_t           fx;

        fx_open(&fx, &conf);
        c.fx   = &fx;
        c.left = 5;
        ew_snprintf(url, sizeof(url), "%s/echo", fx.base);
        CU_ASSERT_PTR_NOT_NULL(ew_http_post(fx.http, url, "{\"n\":6}", 7, NULL,
                                            on_chain, &c, errstr,
                                            sizeof(errstr)));
        CU_ASSERT_EQUAL(drive(&fx, &c.done, 6, 5000), 0);
        CU_ASSERT_EQUAL(c.done, 6);
        CU_ASSERT_EQUAL(c.bad, 0);
        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 0);
        CU_ASSERT_EQUAL(atomic_load(&fx.srv->accepted), 1);
        fx_close(&fx);
}

static int64_t thread_cpu_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t cpu_ms(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* With a connection cached and nothing to do, the loop sleeps. */
static void test_http_idle_no_cpu(void)
{
        ew_http_conf_t conf = default_conf();
        int64_t        c0, wall;
        fx_t           fx;
        got_t          g;
        int            rounds = 0;

        fx_open(&fx, &conf);
        CU_ASSERT_EQUAL(post_wait(&fx, "/ok", "{}", NULL, &g), 0);
        c0   = cpu_ms();
        wall = ew_mono_ms();
        while (ew_mono_ms() - wall < 300) {
                long t = ew_http_timeout_ms(fx.http);
                if (t < 0 || t > 100)
                        t = 100;
                ew_loop_run_once(fx.loop, (int)t);
                ew_http_on_timeout(fx.http);
                rounds++;
        }
        /* 300 ms idle: a few wake-ups and a few ms of CPU at most */
        CU_ASSERT(rounds <= 20);
        CU_ASSERT(cpu_ms() - c0 < 60);
        fx_close(&fx);
}

static void test_http_new_errors(void)
{
        ew_http_conf_t conf        = default_conf();
        char           errstr[128] = "";
        ew_loop_t     *loop        = ew_loop_new(errstr, sizeof(errstr));

        CU_ASSERT_PTR_NULL(ew_http_new(NULL, &conf, errstr, sizeof(errstr)));
        CU_ASSERT(errstr[0] != '\0');
        errstr[0] = '\0';
        CU_ASSERT_PTR_NULL(ew_http_new(loop, NULL, errstr, sizeof(errstr)));
        CU_ASSERT(errstr[0] != '\0');
        /* The user agent becomes a header line: no line break in it. */
        errstr[0]       = '\0';
        conf.user_agent = "ua/1.0\r\nX-Injected: 1";
        CU_ASSERT_PTR_NULL(ew_http_new(loop, &conf, errstr, sizeof(errstr)));
        CU_ASSERT_PTR_NOT_NULL(strstr(errstr, "line break"));
        ew_http_destroy(NULL);
        CU_ASSERT_EQUAL(ew_http_in_flight(NULL), 0);
        ew_loop_destroy(loop);
}

/* Destroy with requests in flight: no callbacks, no leaks. */
static void test_http_destroy_in_flight(void)
{
        ew_http_conf_t conf = default_conf();
        char           url[128], errstr[128];
        got_t          g;
        fx_t           fx;
        int            i;

        memset(&g, 0, sizeof(g));
        fx_open(&fx, &conf);
        ew_snprintf(url, sizeof(url), "%s/hang", fx.base);
        for (i = 0; i < 5; i++)
                CU_ASSERT_PTR_NOT_NULL(ew_http_post(fx.http, url, "{}", 2, NULL,
                                                    on_done, &g, errstr,
                                                    sizeof(errstr)));
        drive(&fx, NULL, 0, 50);
        CU_ASSERT_EQUAL(ew_http_in_flight(fx.http), 5);
        fx_close(&fx);
        CU_ASSERT_EQUAL(g.called, 0);
}

/*
 * Throughput measurement.
 */

typedef struct bench {
        fx_t       *fx;
        const char *url;
        const char *body;
        int         total, started, done, ok, window;
} bench_t;

static void on_bench(void *opaque, const ew_http_result_t *res);

static void bench_fill(bench_t *b)
{
        char errstr[128];

        while (b->started < b->total &&
               ew_http_in_flight(b->fx->http) < b->window) {
                if (!ew_http_post(b->fx->http, b->url, b->body, strlen(b->body),
                                  NULL, on_bench, b, errstr, sizeof(errstr))) {
                        fprintf(stderr, "bench post: %s\n", errstr);
                        b->total = b->started;
                        break;
                }
                b->started++;
        }
}

static void on_bench(void *opaque, const ew_http_result_t *res)
{
        bench_t *b = opaque;

        b->done++;
        if (res->status >= 200 && res->status < 300)
                b->ok++;
        else if (b->done - b->ok < 5)
                fprintf(stderr, "bench: status %d %s\n", res->status,
                        res->error ? res->error : "");
        bench_fill(b);
}

static int env_int(const char *name, int def)
{
        const char *v = getenv(name);

        return v && *v ? atoi(v) : def;
}

static void test_bench_throughput(void)
{
        ew_http_conf_t conf     = default_conf();
        const char    *ext      = getenv("EW_HTTP_BENCH_URL");
        const char    *ext_body = getenv("EW_HTTP_BENCH_BODY");
        int            delay    = env_int("EW_HTTP_BENCH_DELAY_MS", 0);
        char           url[256];
        bench_t        b;
        int64_t        t0, ms, c0, tc0;
        fx_t           fx;

        conf.max_body_bytes  = 1 << 20;
        conf.max_connections = env_int("EW_HTTP_BENCH_MAXCONN", 2000);
        fx_open(&fx, &conf);
        memset(&b, 0, sizeof(b));
        b.fx     = &fx;
        b.total  = env_int("EW_HTTP_BENCH_N", 2000);
        b.window = env_int("EW_HTTP_BENCH_INFLIGHT", 100);
        b.body   = ext_body ? ext_body : "{\"bench\":true}";
        if (ext)
                ew_snprintf(url, sizeof(url), "%s", ext);
        else if (delay > 0)
                ew_snprintf(url, sizeof(url), "%s/delay/%d", fx.base, delay);
        else
                ew_snprintf(url, sizeof(url), "%s/echo", fx.base);
        b.url = url;

        t0  = ew_mono_ms();
        c0  = cpu_ms();
        tc0 = thread_cpu_ms();
        bench_fill(&b);
        CU_ASSERT_EQUAL(drive(&fx, &b.done, b.total, 60000), 0);
        ms = ew_mono_ms() - t0;
        fprintf(stderr,
                "\nbench: %d requests (%d ok), %d in flight, %s, %lld ms, "
                "%.0f req/s, cpu: process %lld ms, loop thread %lld ms, "
                "%d connections\n",
                b.done, b.ok, b.window, url, (long long)ms,
                ms > 0 ? b.done * 1000.0 / (double)ms : 0.0,
                (long long)(cpu_ms() - c0), (long long)(thread_cpu_ms() - tc0),
                atomic_load(&fx.srv->accepted));
        CU_ASSERT_EQUAL(b.ok, b.total);
        fx_close(&fx);
}

static const ew_test_case_t loop_cases[] = {
    {"timeout", test_loop_timeout},
    {"read_write_hup", test_loop_read_write_hup},
    {"park", test_loop_park},
    {"delete_during_dispatch", test_loop_delete_during_dispatch},
    {"self_delete_and_replace", test_loop_self_delete_and_replace},
    {NULL, NULL},
};

static const ew_test_case_t http_cases[] = {
    {"status_body_retry_after", test_http_status_body_retry_after},
    {"chunked", test_http_chunked},
    {"headers_sent", test_http_headers_sent},
    {"concurrent_and_reuse", test_http_concurrent_and_reuse},
    {"url_reuse", test_http_url_reuse},
    {"env_proxy", test_http_env_proxy},
    {"timeout", test_http_timeout},
    {"refused", test_http_refused},
    {"tls_handshake_fails", test_http_tls_handshake_fails},
    {"cut_mid_response", test_http_cut_mid_response},
    {"body_limit", test_http_body_limit},
    {"cancel", test_http_cancel},
    {"cancel_from_callback", test_http_cancel_from_callback},
    {"submit_from_callback", test_http_submit_from_callback},
    {"idle_no_cpu", test_http_idle_no_cpu},
    {"new_errors", test_http_new_errors},
    {"destroy_in_flight", test_http_destroy_in_flight},
    {NULL, NULL},
};

static const ew_test_case_t bench_cases[] = {
    {"throughput", test_bench_throughput},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {
    {"loop", loop_cases},
    {"http", http_cases},
    {"bench", bench_cases},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
