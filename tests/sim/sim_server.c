/*
 * sim_server - see sim_server.h.
 *
 * A request goes through on_request() in up to three calls: the first
 * makes its context, the middle ones collect the body, the last decides
 * the answer (sim_api, sim_control), logs it and either sends it or, if it
 * has a latency, suspends the connection and sets a timer whose callback
 * resumes it; MHD then calls on_request() once more and the answer goes
 * out. Server threads never sleep.
 */
#include "sim_server.h"
#include "sim_api.h"
#include "sim_control.h"
#include "sim_delay.h"
#include "sim_json.h"
#include "sim_reqlog.h"
#include "sim_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Largest path the router looks at. */
#define MAX_PATH 1024
/* Most path segments the router needs ("api/account/a/app/b/engagement"). */
#define MAX_SEGMENTS 6

struct sim_server {
        sim_options_t         opts;
        struct MHD_Daemon    *daemon;
        uint16_t              port;
        sim_api_t             api;
        int                   api_ready;
        sim_delay_t          *delay;
        sim_reqlog_t         *reqlog;
        atomic_uint_least64_t requests;
};

enum { REQ_NEW = 0, REQ_WAITING, REQ_READY };

/* One request in progress; MHD keeps it in *con_cls. */
typedef struct conn_req {
        sim_server_t          *srv;
        struct MHD_Connection *conn;
        int64_t                start_ms; /* wall clock */
        char                  *body;
        size_t                 body_len, body_cap;
        int                    too_large;
        int                    state;
        sim_answer_t           ans;
} conn_req_t;

/* An answer's body being sent; owned by the MHD response. */
typedef struct out_body {
        char            *data;
        size_t           len;
        int              close;
        sim_close_mode_t mode;
} out_body_t;

/* Request headers copied into the request log, and their names there. */
static const struct {
        const char *header;
        const char *field;
} logged_headers[] = {
    {"User-Agent", "user-agent"},
    {"traceparent", "traceparent"},
    {"tracestate", "tracestate"},
    {"Content-Type", "content-type"},
};

void sim_options_init(sim_options_t *o)
{
        memset(o, 0, sizeof(*o));
        o->bind            = "127.0.0.1";
        o->threads         = 4;
        o->max_sessions    = 1000000;
        o->fail_status     = 503;
        o->max_body        = 1 << 20;
        o->max_connections = 10000;
        o->max_delayed     = 100000;
        o->conn_memory     = 16384;
}

/* ---- sending ---------------------------------------------------------- */

static ssize_t body_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
        out_body_t *ob    = cls;
        size_t      limit = ob->len, n;

        if (ob->close) {
                if (ob->mode == SIM_CLOSE_HEADERS)
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                limit = ob->len / 2;
        }
        if (pos >= limit)
                return ob->close ? MHD_CONTENT_READER_END_WITH_ERROR
                                 : MHD_CONTENT_READER_END_OF_STREAM;
        n = limit - (size_t)pos;
        if (n > max)
                n = max;
        memcpy(buf, ob->data + pos, n);
        return (ssize_t)n;
}

static void out_body_free(void *cls)
{
        out_body_t *ob = cls;

        free(ob->data);
        free(ob);
}

/* Queues rq's answer. Returns MHD_NO to drop the connection instead. */
static enum MHD_Result send_answer(conn_req_t *rq)
{
        sim_answer_t        *ans = &rq->ans;
        out_body_t          *ob;
        struct MHD_Response *resp;
        enum MHD_Result      ret;

        if (ans->close && ans->close_mode == SIM_CLOSE_NONE)
                return MHD_NO;
        ob = calloc(1, sizeof(*ob));
        if (!ob)
                return MHD_NO;
        ob->data      = ans->body;
        ob->len       = ans->body_len;
        ob->close     = ans->close;
        ob->mode      = ans->close_mode;
        ans->body     = NULL;
        ans->body_len = 0;
        /* Unknown size: MHD sends it chunked, like the real service. */
        /* MHD allocates and zeroes a buffer of the block size for every
         * response: keep it near the body's size. */
        resp = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, ob->len < 512 ? 512 : ob->len + 64, body_reader,
            ob, out_body_free);
        if (!resp) {
                out_body_free(ob);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                ans->content_type ? ans->content_type
                                                  : SIM_CT_JSON);
        if (ans->retry_after[0])
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
                                        ans->retry_after);
        if (ans->allow)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                        ans->allow);
        ret = MHD_queue_response(rq->conn, (unsigned)ans->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* Timer callback: the latency has passed. */
static void resume_request(void *arg)
{
        conn_req_t *rq = arg;

        rq->state = REQ_READY;
        MHD_resume_connection(rq->conn);
}

/* ---- request log ------------------------------------------------------ */

/* Longest request log line; longer bodies are cut (the line stays JSON). */
#define MAX_LOG_LINE (2u << 20)

typedef struct query_writer {
        sim_buf_t *b;
        int        n;
} query_writer_t;

static enum MHD_Result add_query_arg(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
        query_writer_t *qw = cls;

        (void)kind;
        if (qw->n++)
                sim_buf_puts(qw->b, ",");
        sim_buf_jstr(qw->b, key, strlen(key));
        sim_buf_puts(qw->b, ":");
        if (value)
                sim_buf_jstr(qw->b, value, strlen(value));
        else
                sim_buf_puts(qw->b, "null");
        return MHD_YES;
}

/* Appends the request body: the JSON itself (on one line), else the text
 * as a string, else null. */
static void log_body(sim_buf_t *b, const sim_request_t *req)
{
        size_t mark = b->len;

        if (req->json)
                sim_buf_jminify(b, req->json->raw, req->json->raw_len);
        else if (req->body_len > 0)
                sim_buf_jstr(b, req->body, req->body_len);
        else
                sim_buf_puts(b, "null");
        if (b->failed) {
                /* Too long for a log line: say so instead. */
                b->failed = 0;
                b->len    = mark;
                sim_buf_puts(b, "\"(body of ");
                sim_buf_int(b, (int64_t)req->body_len);
                sim_buf_puts(b, " bytes not logged)\"");
        }
}

static void log_request(conn_req_t *rq, const sim_request_t *req)
{
        query_writer_t qw;
        sim_buf_t      b;
        const char    *v;
        char           ts[SIM_RFC3339_SIZE];
        size_t         i;
        int            n = 0;

        sim_buf_init(&b, MAX_LOG_LINE);
        sim_buf_puts(&b, "{\"time\":\"");
        sim_buf_puts(&b, sim_rfc3339_ms(rq->start_ms, ts, sizeof(ts)));
        sim_buf_puts(&b, "\",\"method\":");
        sim_buf_jstr(&b, req->method, strlen(req->method));
        sim_buf_puts(&b, ",\"path\":");
        sim_buf_jstr(&b, req->path, strlen(req->path));
        sim_buf_puts(&b, ",\"query\":{");
        qw.b = &b;
        qw.n = 0;
        MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND,
                                  add_query_arg, &qw);
        sim_buf_puts(&b, "},\"headers\":{");
        for (i = 0; i < SIM_ARRAY_SIZE(logged_headers); i++) {
                v = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                logged_headers[i].header);
                if (!v)
                        continue;
                if (n++)
                        sim_buf_puts(&b, ",");
                sim_buf_jstr(&b, logged_headers[i].field,
                             strlen(logged_headers[i].field));
                sim_buf_puts(&b, ":");
                sim_buf_jstr(&b, v, strlen(v));
        }
        sim_buf_puts(&b, "},\"body\":");
        log_body(&b, req);
        sim_buf_puts(&b, ",\"status\":");
        sim_buf_int(&b, rq->ans.status);
        sim_buf_puts(&b, ",\"internalCode\":");
        if (rq->ans.internal_code >= 0)
                sim_buf_int(&b, rq->ans.internal_code);
        else
                sim_buf_puts(&b, "null");
        sim_buf_puts(&b, ",\"behaviour\":");
        v = rq->ans.behaviour ? rq->ans.behaviour : "none";
        sim_buf_jstr(&b, v, strlen(v));
        sim_buf_puts(&b, ",\"delayMs\":");
        sim_buf_int(&b, rq->ans.delay_ms);
        sim_buf_puts(&b, "}");
        if (!b.failed)
                sim_reqlog_write(rq->srv->reqlog, b.data, b.len);
        sim_buf_free(&b);
}

/* ---- routing ---------------------------------------------------------- */

/* Splits "/a/b/c" in place into segments; returns their number, or
 * MAX_SEGMENTS + 1 when there are more. */
static size_t split_path(char *path, char **seg)
{
        size_t n = 0;
        char  *p = path, *slash;

        if (*p != '/')
                return 0;
        p++;
        for (;;) {
                if (n == MAX_SEGMENTS)
                        return MAX_SEGMENTS + 1;
                seg[n++] = p;
                slash    = strchr(p, '/');
                if (!slash)
                        break;
                *slash = '\0';
                p      = slash + 1;
        }
        return n;
}

/* Deepest nesting of a request body (json-c's default is 32). */
#define MAX_BODY_DEPTH 64

static int nonempty(const char *s)
{
        return s && *s;
}

/* Decides rq's answer. */
static void dispatch(conn_req_t *rq, const char *url, const char *method)
{
        sim_server_t     *srv = rq->srv;
        sim_request_t     req;
        sim_control_env_t env;
        sim_json_t       *doc = NULL;
        char              path[MAX_PATH], *seg[MAX_SEGMENTS], err[128];
        size_t            n       = 0;
        int               is_post = !strcmp(method, "POST");
        int               is_get  = !strcmp(method, "GET");

        memset(&req, 0, sizeof(req));
        req.method = method;
        req.path   = url;
        req.v =
            MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "v");
        req.vid =
            MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "vid");
        req.sid =
            MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "sid");
        req.obh =
            MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "obh");
        req.body           = rq->body;
        req.body_len       = rq->body_len;
        req.body_too_large = rq->too_large;
        if (rq->body_len > 0) {
                doc = sim_json_parse(rq->body, rq->body_len, MAX_BODY_DEPTH,
                                     err, sizeof(err));
                req.json = doc ? sim_json_root(doc) : NULL;
        }

        rq->ans.internal_code = -1;
        if (strlen(url) < sizeof(path)) {
                memcpy(path, url, strlen(url) + 1);
                n = split_path(path, seg);
        }
        if (n == 6 && !strcmp(seg[0], "api") && !strcmp(seg[1], "account") &&
            nonempty(seg[2]) && !strcmp(seg[3], "app") && nonempty(seg[4]) &&
            !strcmp(seg[5], "engagement")) {
                if (is_post) {
                        sim_api_engagement(&srv->api, &req, seg[2], seg[4],
                                           &rq->ans);
                } else {
                        rq->ans.allow     = "POST";
                        rq->ans.behaviour = "method";
                        sim_answer_error(&rq->ans, 405, 0,
                                         "method not allowed");
                }
        } else if ((n == 6 || n == 5) && !strcmp(seg[0], "api") &&
                   !strcmp(seg[1], "account") && nonempty(seg[2]) &&
                   !strcmp(seg[3], "service") && nonempty(seg[n - 2]) &&
                   !strcmp(seg[n - 1], "baseURI.json")) {
                if (is_get) {
                        sim_api_domain(&srv->api, &req, seg[2],
                                       n == 6 ? seg[4] : NULL, &rq->ans);
                } else {
                        rq->ans.allow        = "GET";
                        rq->ans.behaviour    = "method";
                        rq->ans.content_type = SIM_CT_JSON;
                        sim_answer_error(&rq->ans, 405, 0,
                                         "method not allowed");
                }
        } else if (n == 2 && !strcmp(seg[0], "_sim")) {
                env.scenario_path   = srv->opts.scenario_path;
                env.delayed_pending = sim_delay_pending(srv->delay);
                env.requests        = atomic_load(&srv->requests);
                sim_control_handle(&srv->api, &req, seg[1], &env, &rq->ans);
        } else {
                rq->ans.behaviour = "not-found";
                sim_answer_error(&rq->ans, 404, 0, "not found");
        }
        if (srv->reqlog)
                log_request(rq, &req);
        sim_json_free(doc);
}

/* Appends upload data to rq's body, up to the limit. */
static void collect_body(conn_req_t *rq, const char *data, size_t len)
{
        size_t max = rq->srv->opts.max_body, ncap;
        char  *nb;

        if (rq->too_large)
                return;
        if (rq->body_len + len > max) {
                rq->too_large = 1;
                return;
        }
        if (rq->body_len + len > rq->body_cap) {
                ncap = rq->body_cap ? rq->body_cap : 2048;
                while (ncap < rq->body_len + len)
                        ncap *= 2;
                nb = realloc(rq->body, ncap);
                if (!nb) {
                        rq->too_large = 1;
                        return;
                }
                rq->body     = nb;
                rq->body_cap = ncap;
        }
        memcpy(rq->body + rq->body_len, data, len);
        rq->body_len += len;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        sim_server_t *srv = cls;
        conn_req_t   *rq  = *con_cls;

        (void)version;
        if (!rq) {
                rq = calloc(1, sizeof(*rq));
                if (!rq)
                        return MHD_NO;
                rq->srv      = srv;
                rq->conn     = conn;
                rq->start_ms = sim_wall_ms();
                *con_cls     = rq;
                atomic_fetch_add(&srv->requests, 1);
                return MHD_YES;
        }
        if (*upload_data_size) {
                collect_body(rq, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (rq->state == REQ_READY)
                return send_answer(rq);
        if (rq->state == REQ_WAITING)
                return MHD_YES; /* not expected: suspended until resumed */

        dispatch(rq, url, method);
        if (rq->ans.delay_ms > 0) {
                /* Suspend first, so the timer can never resume a
                 * connection that is not suspended yet. */
                rq->state = REQ_WAITING;
                MHD_suspend_connection(conn);
                if (sim_delay_add(srv->delay, rq->ans.delay_ms, resume_request,
                                  rq) == 0)
                        return MHD_YES;
                /* No timer (stopping, too many waiting): answer now. */
                rq->state = REQ_READY;
                MHD_resume_connection(conn);
                return MHD_YES;
        }
        return send_answer(rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        conn_req_t *rq = *con_cls;

        (void)cls;
        (void)conn;
        (void)toe;
        if (!rq)
                return;
        sim_answer_clear(&rq->ans);
        free(rq->body);
        free(rq);
        *con_cls = NULL;
}

/* ---- life cycle ------------------------------------------------------- */

/* Creates the listening socket ourselves so the port (maybe picked by the
 * kernel) is known before the first request can arrive. */
static int listen_socket(const sim_options_t *o, uint16_t *portp, char *errstr,
                         size_t errstr_size)
{
        struct sockaddr_in sa;
        socklen_t          slen = sizeof(sa);
        int                fd, one = 1;

        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port   = htons((uint16_t)o->port);
        if (inet_pton(AF_INET, o->bind, &sa.sin_addr) != 1) {
                snprintf(errstr, errstr_size, "--bind %s: not an IPv4 address",
                         o->bind);
                return -1;
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                snprintf(errstr, errstr_size, "socket: %s", strerror(errno));
                return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            listen(fd, 4096) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &slen) != 0) {
                snprintf(errstr, errstr_size, "%s:%d: %s", o->bind, o->port,
                         strerror(errno));
                close(fd);
                return -1;
        }
        *portp = ntohs(sa.sin_port);
        return fd;
}

int sim_server_start(const sim_options_t *opts, sim_server_t **srvp,
                     char *errstr, size_t errstr_size)
{
        sim_server_t   *srv = calloc(1, sizeof(*srv));
        sim_scenario_t *sc  = NULL;
        unsigned int    flags;
        int             fd = -1;

        *srvp = NULL;
        if (!srv) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        srv->opts = *opts;
        sim_random_seed(opts->seed);
        if (opts->scenario_path &&
            sim_scenario_load_file(opts->scenario_path, &sc, errstr,
                                   errstr_size))
                goto error;
        if (sim_api_init(&srv->api, opts->max_sessions, opts->session_ttl_ms,
                         opts->apps, sc, errstr, errstr_size))
                goto error;
        srv->api_ready = 1;
        atomic_store(&srv->api.latency_ms, opts->latency_ms);
        atomic_store(&srv->api.latency_jitter_ms, opts->latency_jitter_ms);
        atomic_store(&srv->api.fail_ppm, (int)(opts->fail_ratio * 1e6 + 0.5));
        atomic_store(&srv->api.fail_status, opts->fail_status);
        srv->delay = sim_delay_new(opts->max_delayed, errstr, errstr_size);
        if (!srv->delay)
                goto error;
        if (opts->log_path) {
                srv->reqlog =
                    sim_reqlog_open(opts->log_path, errstr, errstr_size);
                if (!srv->reqlog)
                        goto error;
        }
        fd = listen_socket(opts, &srv->port, errstr, errstr_size);
        if (fd < 0)
                goto error;
        if (opts->csds_base_uri)
                snprintf(srv->api.csds_base_uri, sizeof(srv->api.csds_base_uri),
                         "%s", opts->csds_base_uri);
        else
                snprintf(srv->api.csds_base_uri, sizeof(srv->api.csds_base_uri),
                         "%s:%u", opts->bind, srv->port);

        flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
        if (opts->turbo)
                flags |= MHD_USE_TURBO;
        if (opts->verbose)
                flags |= MHD_USE_ERROR_LOG;
        srv->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, fd,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)opts->max_connections,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, opts->conn_memory,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)opts->idle_timeout_s,
            /* A pool of one is no pool: stop the list there. */
            opts->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
            (unsigned int)opts->threads, MHD_OPTION_END);
        if (!srv->daemon) {
                snprintf(errstr, errstr_size,
                         "cannot start the HTTP server (MHD_start_daemon)");
                close(fd);
                goto error;
        }
        *srvp = srv;
        return 0;
error:
        sim_server_stop(srv);
        return -1;
}

uint16_t sim_server_port(const sim_server_t *srv)
{
        return srv->port;
}

int sim_server_reload(sim_server_t *srv, char *errstr, size_t errstr_size)
{
        return sim_control_reload(&srv->api, srv->opts.scenario_path, errstr,
                                  errstr_size);
}

void sim_server_stop(sim_server_t *srv)
{
        if (!srv)
                return;
        /* Resume every suspended connection before MHD stops: MHD must not
         * be stopped with suspended connections. */
        if (srv->delay)
                sim_delay_stop(srv->delay);
        if (srv->daemon)
                MHD_stop_daemon(srv->daemon);
        sim_delay_destroy(srv->delay);
        sim_reqlog_close(srv->reqlog);
        if (srv->api_ready)
                sim_api_fini(&srv->api);
        free(srv);
}
