/*
 * ew_http - see ew_http.h.
 *
 * Shape (after curl's multi-event/ephiperfifo examples):
 *
 *   - curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION): we
 *     register them on the ew_loop with on_sock_event() as callback;
 *   - curl tells us when it next wants a timeout call
 *     (CURLMOPT_TIMERFUNCTION): we only store the deadline; the loop's
 *     owner reads it through ew_http_timeout_ms() and calls
 *     ew_http_on_timeout();
 *   - after every curl_multi_socket_action() we drain curl's finished
 *     transfers (check_done()) and call the user callbacks there, outside
 *     of any curl callback, so that a user callback may start or cancel
 *     requests (curl_multi_add/remove_handle) freely.
 *
 * Each request owns one easy handle for life; finished requests go back to
 * a free list with their handle, error buffer and body buffer, so a steady
 * stream of requests allocates nothing (connections are kept by the multi
 * handle's cache, not by the easy handles).
 *
 * Shards: libcurl 7.88 walks a multi handle's connection list on every
 * connection reuse (looking for an idle one) and on every
 * curl_multi_remove_handle() (looking for the last used one), so with
 * HTTP/1.1 and N requests in flight each request costs O(N) (measured on
 * loopback with one multi handle: loop-thread CPU per request went from
 * ~25 us with 100 connections to ~72 us with 2000). The dispatcher
 * therefore spreads its requests over several multi handles ("shards",
 * each with its own connection cache of ceil(max_connections / shards)),
 * about HTTP_SHARD_CONNS connections per shard, all driven by the same
 * loop. A new request goes to the shard with the fewest in flight, which
 * keeps every shard at or below ceil(in flight / shards): with
 * max_connections >= the caller's in-flight limit, every shard finds an
 * idle connection of its own and none is closed for lack of cache room.
 */
#include "ew_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ew_util.h"

#define HTTP_DEFAULT_MAX_BODY ((size_t)1 << 20)
/* First body allocation; doubled as needed up to max_body_bytes + 1. */
#define HTTP_BODY_INITIAL 1024
/* Body buffers bigger than this are freed when the request returns to the
 * pool, so one large answer does not pin memory in every pooled request. */
#define HTTP_BODY_KEEP ((size_t)64 << 10)
/* Connections per shard when max_connections asks for more, and the most
 * shards (see the top of the file). */
#define HTTP_SHARD_CONNS 64
#define HTTP_SHARD_MAX 32
/* Retry-After values are delta-seconds or an HTTP-date (29 chars); longer
 * values are truncated to this size - 1. */
#define HTTP_RETRY_AFTER_SIZE 64

typedef enum req_state {
        REQ_IDLE,   /* in the pool */
        REQ_ACTIVE, /* added to the multi handle */
        REQ_DONE,   /* removed, its callback is running */
} req_state_t;

/* One multi handle with its connection cache and its timer. */
typedef struct shard {
        ew_http_t *http;
        CURLM     *multi;
        int        in_flight;
        int64_t    deadline_us; /* curl's timer, monotonic us; -1: none */
        unsigned   timer_calls; /* bumped by every timer callback */
} shard_t;

struct ew_http_req {
        ew_http_t     *http;
        shard_t       *shard; /* while REQ_ACTIVE */
        CURL          *easy;
        ew_http_req_t *prev, *next; /* active list, or pool (next only) */
        req_state_t    state;

        ew_http_done_cb_t *cb;
        void              *opaque;
        int64_t            start_ms;

        char  *body; /* response body, NUL-terminated, or NULL */
        size_t body_len;
        size_t body_cap;
        int    body_too_big;
        int    body_oom;

        char retry_after[HTTP_RETRY_AFTER_SIZE];
        int  has_retry_after;

        /* "traceparent: ..." as a one-node list prepended to the shared
         * header list: curl reads CURLOPT_HTTPHEADER lists, never frees
         * them, so a list node inside the request is fine. */
        struct curl_slist tp_node;
        char             *tp_line;
        size_t            tp_cap;

        /* The URL, pre-parsed: libcurl 7.88 parses and re-assembles a
         * URL string for every transfer (about 9k instructions a request).
         * Requests to the origin the handle last used only replace the
         * path and the query. origin is the "scheme://authority" prefix
         * that cu holds (NULL until first use). */
        CURLU *cu;
        char  *origin;
        size_t origin_len;

        char errbuf[CURL_ERROR_SIZE];
};

struct ew_http {
        ew_loop_t *loop;
        shard_t   *shards;
        int        nshards;
        int        global_init; /* curl_global_init() succeeded */

        long   timeout_ms;
        long   connect_timeout_ms;
        char  *user_agent;
        char  *ca_bundle;
        int    insecure_skip_verify;
        int    env_proxy; /* a proxy variable is set: let curl read them */
        size_t max_body_bytes;

        struct curl_slist *headers; /* the headers every request carries */

        ew_http_req_t *active; /* in flight, doubly linked */
        ew_http_req_t *pool;   /* idle, singly linked */
        int            in_flight;
};

static int64_t mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * curl callbacks. None of them may add or remove easy handles.
 */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        ew_http_req_t *req = userdata;
        size_t         n   = size * nmemb;
        size_t         max = req->http->max_body_bytes;

        if (req->body_len > max || n > max - req->body_len) {
                req->body_too_big = 1;
                return 0; /* != n: curl fails the transfer */
        }
        if (req->body_len + n + 1 > req->body_cap) {
                size_t cap = req->body_cap ? req->body_cap : HTTP_BODY_INITIAL;
                char  *body;

                while (cap < req->body_len + n + 1)
                        cap *= 2;
                if (cap > max + 1)
                        cap = max + 1;
                body = realloc(req->body, cap);
                if (!body) {
                        req->body_oom = 1;
                        return 0;
                }
                req->body     = body;
                req->body_cap = cap;
        }
        memcpy(req->body + req->body_len, ptr, n);
        req->body_len += n;
        req->body[req->body_len] = '\0';
        return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        static const char name[] = "retry-after:";
        ew_http_req_t    *req    = userdata;
        size_t            n      = size * nmemb;
        const char       *v, *end;
        size_t            vlen;

        /* A status line starts the headers of a new answer: forget what a
         * 1xx interim answer carried. */
        if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
                req->has_retry_after = 0;
                req->retry_after[0]  = '\0';
                return n;
        }
        if (n < sizeof(name) - 1 || strncasecmp(ptr, name, sizeof(name) - 1))
                return n;

        v   = ptr + sizeof(name) - 1;
        end = ptr + n;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
                           end[-1] == ' ' || end[-1] == '\t'))
                end--;
        vlen = (size_t)(end - v);
        if (vlen >= sizeof(req->retry_after))
                vlen = sizeof(req->retry_after) - 1;
        memcpy(req->retry_after, v, vlen);
        req->retry_after[vlen] = '\0';
        req->has_retry_after   = 1;
        return n;
}

static void on_sock_event(ew_loop_t *loop, int fd, int events, void *opaque);

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
                          void *socketp)
{
        shard_t *shard  = userp;
        int      events = 0;

        (void)easy;
        (void)socketp;
        if (what == CURL_POLL_REMOVE) {
                /* Mostly a connection going idle in curl's cache, to be
                 * reused by the next request: parking it saves an
                 * epoll_ctl per request (curl closes what it drops). */
                ew_loop_park(shard->http->loop, s);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EW_LOOP_READ;
        if (what & CURL_POLL_OUT)
                events |= EW_LOOP_WRITE;
        /* -1 makes curl fail the transfers on this socket. */
        return ew_loop_set(shard->http->loop, s, events, on_sock_event,
                           shard) == 0
                   ? 0
                   : -1;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
        shard_t *shard = userp;

        (void)multi;
        shard->timer_calls++;
        shard->deadline_us =
            timeout_ms < 0 ? -1 : mono_us() + (int64_t)timeout_ms * 1000;
        return 0;
}

/*
 * Requests and the pool.
 */

static void active_link(ew_http_t *http, ew_http_req_t *req)
{
        req->prev = NULL;
        req->next = http->active;
        if (http->active)
                http->active->prev = req;
        http->active = req;
        http->in_flight++;
}

static void active_unlink(ew_http_t *http, ew_http_req_t *req)
{
        if (req->prev)
                req->prev->next = req->next;
        else
                http->active = req->next;
        if (req->next)
                req->next->prev = req->prev;
        req->prev = req->next = NULL;
        http->in_flight--;
}

/* Takes an active request out of its multi handle and the active list. */
static void detach(ew_http_t *http, ew_http_req_t *req)
{
        curl_multi_remove_handle(req->shard->multi, req->easy);
        req->shard->in_flight--;
        req->shard = NULL;
        active_unlink(http, req);
}

/* The shard with the fewest requests in flight (the first on ties, so a
 * light load keeps to one shard and its warm connections). */
static shard_t *shard_pick(ew_http_t *http)
{
        shard_t *best = &http->shards[0];
        int      i;

        for (i = 1; i < http->nshards; i++)
                if (http->shards[i].in_flight < best->in_flight)
                        best = &http->shards[i];
        return best;
}

static void req_free(ew_http_req_t *req)
{
        if (!req)
                return;
        if (req->easy)
                curl_easy_cleanup(req->easy);
        curl_url_cleanup(req->cu);
        free(req->origin);
        free(req->body);
        free(req->tp_line);
        free(req);
}

/* 1 if the environment names a proxy for libcurl. libcurl reads these
 * variables for every transfer (five getenv scans of the environment);
 * the worker never changes its environment, so when none is set it can
 * tell curl once that there is no proxy. */
static int env_proxy_set(void)
{
        static const char *const names[] = {
            "http_proxy",  "HTTP_PROXY", "https_proxy",
            "HTTPS_PROXY", "all_proxy",  "ALL_PROXY",
        };
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(names); i++) {
                const char *v = getenv(names[i]);
                if (v && *v)
                        return 1;
        }
        return 0;
}

/* Options that never change over the life of the easy handle. */
static int req_setup(ew_http_t *http, ew_http_req_t *req)
{
        CURL    *e = req->easy;
        CURLcode r = CURLE_OK;

#define SET(opt, val)                                                          \
        do {                                                                   \
                if (r == CURLE_OK)                                             \
                        r = curl_easy_setopt(e, opt, val);                     \
        } while (0)
        SET(CURLOPT_PRIVATE, (void *)req);
        SET(CURLOPT_ERRORBUFFER, req->errbuf);
        SET(CURLOPT_WRITEFUNCTION, on_body);
        SET(CURLOPT_WRITEDATA, (void *)req);
        SET(CURLOPT_HEADERFUNCTION, on_header);
        SET(CURLOPT_HEADERDATA, (void *)req);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_TCP_NODELAY, 1L);
        SET(CURLOPT_TCP_KEEPALIVE, 1L);
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)http->max_body_bytes);
        if (http->timeout_ms > 0)
                SET(CURLOPT_TIMEOUT_MS, http->timeout_ms);
        if (http->connect_timeout_ms > 0)
                SET(CURLOPT_CONNECTTIMEOUT_MS, http->connect_timeout_ms);
        if (http->ca_bundle)
                SET(CURLOPT_CAINFO, http->ca_bundle);
        if (!http->env_proxy)
                SET(CURLOPT_PROXY, "");
        SET(CURLOPT_SSL_VERIFYPEER, http->insecure_skip_verify ? 0L : 1L);
        SET(CURLOPT_SSL_VERIFYHOST, http->insecure_skip_verify ? 0L : 2L);
#undef SET
        return r == CURLE_OK ? 0 : -1;
}

/* Takes an idle request from the pool or makes one. NULL on failure. */
static ew_http_req_t *req_get(ew_http_t *http)
{
        ew_http_req_t *req = http->pool;

        if (req) {
                http->pool = req->next;
                req->next  = NULL;
                return req;
        }
        req = calloc(1, sizeof(*req));
        if (!req)
                return NULL;
        req->http = http;
        req->easy = curl_easy_init();
        if (!req->easy || req_setup(http, req) == -1) {
                req_free(req);
                return NULL;
        }
        return req;
}

/* Returns a request that is no longer in the multi handle to the pool. */
static void req_put(ew_http_t *http, ew_http_req_t *req)
{
        req->state  = REQ_IDLE;
        req->cb     = NULL;
        req->opaque = NULL;
        if (req->body_cap > HTTP_BODY_KEEP) {
                free(req->body);
                req->body     = NULL;
                req->body_cap = 0;
        }
        req->prev  = NULL;
        req->next  = http->pool;
        http->pool = req;
}

static const char *describe_failure(ew_http_req_t *req, CURLcode rc)
{
        if (req->body_too_big || rc == CURLE_FILESIZE_EXCEEDED) {
                ew_snprintf(req->errbuf, sizeof(req->errbuf),
                            "response body over %zu bytes",
                            req->http->max_body_bytes);
                return req->errbuf;
        }
        if (req->body_oom)
                return "out of memory for the response body";
        if (req->errbuf[0])
                return req->errbuf;
        return curl_easy_strerror(rc);
}

/* Completes one transfer curl reported done: out of the multi handle, user
 * callback, back to the pool. */
static void finish(ew_http_t *http, ew_http_req_t *req, CURLcode rc)
{
        ew_http_result_t res;
        long             status = 0;

        detach(http, req);
        req->state = REQ_DONE;

        memset(&res, 0, sizeof(res));
        res.body = "";
        if (rc == CURLE_OK &&
            curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status) ==
                CURLE_OK &&
            status > 0) {
                res.status   = (int)status;
                res.body     = req->body ? req->body : "";
                res.body_len = req->body_len;
                res.retry_after =
                    req->has_retry_after ? req->retry_after : NULL;
        } else if (rc == CURLE_OK) {
                res.error = "no HTTP status in the answer";
        } else {
                res.error     = describe_failure(req, rc);
                res.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        }
        res.elapsed_ms = ew_mono_ms() - req->start_ms;

        req->cb(req->opaque, &res);
        req_put(http, req);
}

/* Drains curl's finished transfers. Called right after each
 * curl_multi_socket_action(), never from inside a curl callback. */
static void check_done(shard_t *shard)
{
        CURLMsg *msg;
        int      left;

        while ((msg = curl_multi_info_read(shard->multi, &left))) {
                ew_http_req_t *req  = NULL;
                CURL          *easy = msg->easy_handle;
                CURLcode       rc   = msg->data.result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                /* msg is invalid once the handle is removed: copied above. */
                if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req) !=
                        CURLE_OK ||
                    !req || req->state != REQ_ACTIVE)
                        continue;
                finish(shard->http, req, rc);
        }
}

static void on_sock_event(ew_loop_t *loop, int fd, int events, void *opaque)
{
        shard_t *shard = opaque;
        int      mask  = 0;
        int      running;

        (void)loop;
        if (events & EW_LOOP_READ)
                mask |= CURL_CSELECT_IN;
        if (events & EW_LOOP_WRITE)
                mask |= CURL_CSELECT_OUT;
        curl_multi_socket_action(shard->multi, fd, mask, &running);
        check_done(shard);
}

static int shard_setup(shard_t *shard, long maxconnects, char *errstr,
                       size_t errstr_size)
{
        CURLMcode mc = CURLM_OK;

#define MSET(opt, val)                                                         \
        do {                                                                   \
                if (mc == CURLM_OK)                                            \
                        mc = curl_multi_setopt(shard->multi, opt, val);        \
        } while (0)
        MSET(CURLMOPT_SOCKETFUNCTION, on_curl_socket);
        MSET(CURLMOPT_SOCKETDATA, (void *)shard);
        MSET(CURLMOPT_TIMERFUNCTION, on_curl_timer);
        MSET(CURLMOPT_TIMERDATA, (void *)shard);
        MSET(CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
        if (maxconnects > 0)
                MSET(CURLMOPT_MAXCONNECTS, maxconnects);
#undef MSET
        if (mc != CURLM_OK) {
                ew_snprintf(errstr, errstr_size, "curl_multi_setopt: %s",
                            curl_multi_strerror(mc));
                return -1;
        }
        return 0;
}

/*
 * Public API.
 */

/* The headers every request carries. */
static const char *const base_headers[] = {
    "Content-Type: application/json", "Accept: application/json",
    "Expect:", /* no 100-continue round trip */
};

/* Contract in ew_http.h. The loop must outlive the dispatcher: destroying
 * the dispatcher takes its sockets off the loop. */
ew_http_t *ew_http_new(ew_loop_t *loop, const ew_http_conf_t *conf,
                       char *errstr, size_t errstr_size)
{
        ew_http_t *http = NULL;
        CURLcode   rc;
        int        i;

        if (!loop || !conf) {
                ew_snprintf(errstr, errstr_size, "no loop or configuration");
                goto error;
        }
        http = calloc(1, sizeof(*http));
        if (!http)
                goto oom;
        http->loop                 = loop;
        http->timeout_ms           = conf->timeout_ms;
        http->connect_timeout_ms   = conf->connect_timeout_ms;
        http->insecure_skip_verify = conf->insecure_skip_verify;
        http->env_proxy            = env_proxy_set();
        http->max_body_bytes =
            conf->max_body_bytes ? conf->max_body_bytes : HTTP_DEFAULT_MAX_BODY;
        if ((conf->user_agent &&
             !(http->user_agent = ew_strdup(conf->user_agent))) ||
            (conf->ca_bundle &&
             !(http->ca_bundle = ew_strdup(conf->ca_bundle))))
                goto oom;

        rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK) {
                ew_snprintf(errstr, errstr_size, "curl_global_init: %s",
                            curl_easy_strerror(rc));
                goto error;
        }
        http->global_init = 1;

        /* One shard per HTTP_SHARD_CONNS connections asked for. */
        http->nshards = 1;
        if (conf->max_connections > HTTP_SHARD_CONNS)
                http->nshards =
                    (int)((conf->max_connections + HTTP_SHARD_CONNS - 1) /
                          HTTP_SHARD_CONNS);
        if (http->nshards > HTTP_SHARD_MAX)
                http->nshards = HTTP_SHARD_MAX;
        http->shards = calloc((size_t)http->nshards, sizeof(*http->shards));
        if (!http->shards)
                goto oom;
        for (i = 0; i < http->nshards; i++) {
                shard_t *shard       = &http->shards[i];
                long     maxconnects = 0;

                shard->http        = http;
                shard->deadline_us = -1;
                shard->multi       = curl_multi_init();
                if (!shard->multi)
                        goto oom;
                if (conf->max_connections > 0)
                        maxconnects =
                            (conf->max_connections + http->nshards - 1) /
                            http->nshards;
                if (shard_setup(shard, maxconnects, errstr, errstr_size) == -1)
                        goto error;
        }

        for (i = 0; i < (int)EW_ARRAY_SIZE(base_headers); i++) {
                struct curl_slist *l =
                    curl_slist_append(http->headers, base_headers[i]);
                if (!l)
                        goto oom;
                http->headers = l;
        }
        /* A header line rather than CURLOPT_USERAGENT: libcurl 7.88
         * formats that option into a header anew for every request, then
         * formats the result again into the request (its printf costs about
         * 100 instructions a character); a custom header is copied once. */
        if (http->user_agent &&
            http->user_agent[strcspn(http->user_agent, "\r\n")]) {
                ew_snprintf(errstr, errstr_size,
                            "user agent contains a line break");
                goto error;
        }
        if (http->user_agent) {
                size_t             n    = strlen(http->user_agent) + 13;
                char              *line = malloc(n);
                struct curl_slist *l    = NULL;

                if (line) {
                        ew_snprintf(line, n, "User-Agent: %s",
                                    http->user_agent);
                        l = curl_slist_append(http->headers, line);
                        free(line);
                }
                if (!l)
                        goto oom;
                http->headers = l;
        }
        return http;

oom:
        ew_snprintf(errstr, errstr_size, "out of memory");
error:
        ew_http_destroy(http);
        return NULL;
}

/* Contract in ew_http.h. Must not be called from a done callback. */
void ew_http_destroy(ew_http_t *http)
{
        ew_http_req_t *req;
        int            i;

        if (!http)
                return;
        while ((req = http->active)) {
                detach(http, req);
                req_free(req);
        }
        while ((req = http->pool)) {
                http->pool = req->next;
                req_free(req);
        }
        /* Closes the cached connections; their sockets leave the loop
         * through on_curl_socket(). */
        for (i = 0; http->shards && i < http->nshards; i++)
                if (http->shards[i].multi)
                        curl_multi_cleanup(http->shards[i].multi);
        free(http->shards);
        curl_slist_free_all(http->headers);
        if (http->global_init)
                curl_global_cleanup();
        free(http->user_agent);
        free(http->ca_bundle);
        free(http);
}

/* Length of url's "scheme://authority" prefix, or 0 if url has none. */
static size_t origin_len(const char *url)
{
        const char *p = strstr(url, "://");

        if (!p || p == url)
                return 0;
        p += 3;
        p += strcspn(p, "/?#");
        return (size_t)(p - url);
}

/* Points req's CURLU at url. When the origin is the one cu already holds,
 * only the path and the query are replaced; anything else (a fragment, an
 * origin of another form) takes the full parse. Returns a curl URL code. */
static CURLUcode req_set_url(ew_http_req_t *req, const char *url)
{
        size_t      olen = origin_len(url);
        const char *rest = url + olen, *q;
        char        path[2048];
        size_t      plen;
        CURLUcode   uc;

        if (!req->cu) {
                req->cu = curl_url();
                if (!req->cu)
                        return CURLUE_OUT_OF_MEMORY;
        }
        q    = strchr(rest, '?');
        plen = q ? (size_t)(q - rest) : strlen(rest);
        if (olen && req->origin && olen == req->origin_len &&
            memcmp(url, req->origin, olen) == 0 && !strchr(rest, '#') &&
            plen > 0 && *rest == '/' && plen < sizeof(path)) {
                memcpy(path, rest, plen);
                path[plen] = '\0';
                uc         = curl_url_set(req->cu, CURLUPART_PATH, path, 0);
                if (uc == CURLUE_OK)
                        uc = curl_url_set(req->cu, CURLUPART_QUERY,
                                          q ? q + 1 : NULL, 0);
                if (uc == CURLUE_OK)
                        return uc;
        }
        free(req->origin);
        req->origin     = NULL;
        req->origin_len = 0;
        uc              = curl_url_set(req->cu, CURLUPART_URL, url, 0);
        if (uc == CURLUE_OK && olen) {
                req->origin = malloc(olen + 1);
                if (req->origin) {
                        memcpy(req->origin, url, olen);
                        req->origin[olen] = '\0';
                        req->origin_len   = olen;
                }
        }
        return uc;
}

/* Contract in ew_http.h. May be called from a done callback. Nothing is
 * sent here: curl sets its timer to 0 and the transfer starts from the next
 * ew_http_on_timeout(). */
static ew_http_req_t *submit(ew_http_t *http, int get, const char *url,
                             const char *body, size_t body_len,
                             const char *traceparent, ew_http_done_cb_t *cb,
                             void *opaque, char *errstr, size_t errstr_size)
{
        struct curl_slist *headers = http->headers;
        ew_http_req_t     *req     = NULL;
        shard_t           *shard;
        CURLMcode          mc;
        CURLcode           rc = CURLE_OK;
        CURLUcode          uc;

        if (!url || !cb || (!body && body_len)) {
                ew_snprintf(errstr, errstr_size, "no url, callback or body");
                goto error;
        }
        if (traceparent && traceparent[strcspn(traceparent, "\r\n")]) {
                ew_snprintf(errstr, errstr_size,
                            "traceparent contains a line break");
                goto error;
        }
        req = req_get(http);
        if (!req) {
                ew_snprintf(errstr, errstr_size, "cannot create a curl handle");
                goto error;
        }

        if (traceparent && *traceparent) {
                size_t need = sizeof("traceparent: ") + strlen(traceparent);

                if (need > req->tp_cap) {
                        char *line = realloc(req->tp_line, need);
                        if (!line) {
                                ew_snprintf(errstr, errstr_size,
                                            "out of memory");
                                goto error;
                        }
                        req->tp_line = line;
                        req->tp_cap  = need;
                }
                ew_snprintf(req->tp_line, req->tp_cap, "traceparent: %s",
                            traceparent);
                req->tp_node.data = req->tp_line;
                req->tp_node.next = http->headers;
                headers           = &req->tp_node;
        }

        uc = req_set_url(req, url);
        if (uc != CURLUE_OK) {
                ew_snprintf(errstr, errstr_size, "bad URL: %s",
                            curl_url_strerror(uc));
                goto error;
        }
        rc = curl_easy_setopt(req->easy, CURLOPT_CURLU, req->cu);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, headers);
        if (get) {
                /* Pooled handles may have posted before: back to GET. */
                if (rc == CURLE_OK)
                        rc = curl_easy_setopt(req->easy, CURLOPT_HTTPGET, 1L);
        } else {
                if (rc == CURLE_OK)
                        rc = curl_easy_setopt(req->easy,
                                              CURLOPT_POSTFIELDSIZE_LARGE,
                                              (curl_off_t)body_len);
                if (rc == CURLE_OK)
                        rc = curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS,
                                              body ? body : "");
        }
        /* Over TLS, wait for a connection being set up rather than open one
         * per request: it may turn out to multiplex (HTTP/2). Cleartext is
         * HTTP/1.1 here, where waiting would only add latency. */
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(req->easy, CURLOPT_PIPEWAIT,
                                      strncasecmp(url, "https:", 6) == 0 ? 1L
                                                                         : 0L);
        if (rc != CURLE_OK) {
                ew_snprintf(errstr, errstr_size, "curl_easy_setopt: %s",
                            curl_easy_strerror(rc));
                goto error;
        }

        req->body_len        = 0;
        req->body_too_big    = 0;
        req->body_oom        = 0;
        req->has_retry_after = 0;
        req->retry_after[0]  = '\0';
        req->errbuf[0]       = '\0';
        if (req->body)
                req->body[0] = '\0';
        req->cb       = cb;
        req->opaque   = opaque;
        req->start_ms = ew_mono_ms();

        /* curl asks for a timeout call at once (CURLMOPT_TIMERFUNCTION
         * with 0): the transfer starts from ew_http_on_timeout(). */
        shard = shard_pick(http);
        mc    = curl_multi_add_handle(shard->multi, req->easy);
        if (mc != CURLM_OK) {
                ew_snprintf(errstr, errstr_size, "curl_multi_add_handle: %s",
                            curl_multi_strerror(mc));
                goto error;
        }
        shard->in_flight++;
        req->shard = shard;
        req->state = REQ_ACTIVE;
        active_link(http, req);
        return req;

error:
        if (req)
                req_put(http, req);
        return NULL;
}

/* Contract in ew_http.h. May be called from a done callback (cancelling
 * the request whose callback runs is ignored); NULL-safe. */
void ew_http_cancel(ew_http_t *http, ew_http_req_t *req)
{
        /* Ignored for a request whose callback is running. */
        if (!http || !req || req->state != REQ_ACTIVE)
                return;
        detach(http, req);
        req_put(http, req);
}

/* Contract in ew_http.h: the earliest of the shards' curl timers, rounded
 * up to whole milliseconds so the caller never wakes early. */
long ew_http_timeout_ms(const ew_http_t *http)
{
        int64_t deadline = -1, left;
        int     i;

        for (i = 0; i < http->nshards; i++) {
                int64_t d = http->shards[i].deadline_us;
                if (d >= 0 && (deadline < 0 || d < deadline))
                        deadline = d;
        }
        if (deadline < 0)
                return -1;
        left = deadline - mono_us();
        if (left <= 0)
                return 0;
        return (long)((left + 999) / 1000);
}

/* Contract in ew_http.h. Cheap when nothing is due, so the loop may call it
 * after every ew_loop_run_once(). */
void ew_http_on_timeout(ew_http_t *http)
{
        int64_t now = mono_us();
        int     i;

        for (i = 0; i < http->nshards; i++) {
                shard_t *shard = &http->shards[i];
                unsigned calls = shard->timer_calls;
                int      running;

                if (shard->deadline_us < 0 || now < shard->deadline_us)
                        continue;
                curl_multi_socket_action(shard->multi, CURL_SOCKET_TIMEOUT, 0,
                                         &running);
                /* curl rounds its timeouts to whole milliseconds and only
                 * calls the timer callback when its next expiry changes. If
                 * we came a little early, nothing expired and the old
                 * deadline stays in the past: look again in a millisecond
                 * instead of spinning. */
                if (shard->timer_calls == calls && shard->deadline_us >= 0 &&
                    shard->deadline_us <= now)
                        shard->deadline_us = now + 1000;
                check_done(shard);
        }
}

/* Contract in ew_http.h. NULL-safe (0). */
int ew_http_in_flight(const ew_http_t *http)
{
        return http ? http->in_flight : 0;
}

ew_http_req_t *ew_http_post(ew_http_t *http, const char *url, const char *body,
                            size_t body_len, const char *traceparent,
                            ew_http_done_cb_t *cb, void *opaque, char *errstr,
                            size_t errstr_size)
{
        return submit(http, 0, url, body, body_len, traceparent, cb, opaque,
                      errstr, errstr_size);
}

ew_http_req_t *ew_http_get(ew_http_t *http, const char *url,
                           ew_http_done_cb_t *cb, void *opaque, char *errstr,
                           size_t errstr_size)
{
        return submit(http, 1, url, NULL, 0, NULL, cb, opaque, errstr,
                      errstr_size);
}
