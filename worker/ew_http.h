/*
 * ew_http - the HTTP dispatcher: POSTs on libcurl's multi interface, driven
 * by ew_loop (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION with
 * curl_multi_socket_action), many transfers in flight on reused
 * connections, HTTP/2 multiplexed where the server offers it (TLS ALPN).
 *
 * Easy handles are pooled and reused (their connections stay in the multi
 * handle's cache). The response body is collected up to a bound; the
 * Retry-After header is captured. TLS peer and host verification are always
 * on unless insecure_skip_verify is set (the caller logs the warning).
 *
 * The dispatcher does not limit concurrency itself: the caller (the engine)
 * admits at most monitoring.max_in_flight requests.
 *
 * @locality single thread: the loop's owner.
 */
#ifndef EW_HTTP_H
#define EW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "ew_loop.h"

typedef struct ew_http     ew_http_t;
typedef struct ew_http_req ew_http_req_t;

typedef struct ew_http_conf {
        long        timeout_ms;         /* whole transfer */
        long        connect_timeout_ms; /* connect phase */
        const char *user_agent;         /* copied; no CR or LF */
        const char *ca_bundle;          /* may be NULL; copied */
        int         insecure_skip_verify;
        size_t max_body_bytes; /* larger answers fail the transfer; 0 = 1 MiB */
        long   max_connections; /* connection cache size, 0 = curl default */
} ew_http_conf_t;

/* What a finished request produced. All pointers are valid only during the
 * callback. */
typedef struct ew_http_result {
        int         status; /* HTTP status, 0 when no answer came */
        const char *body;   /* NUL-terminated; "" if none */
        size_t      body_len;
        const char *retry_after; /* Retry-After header value, or NULL */
        const char *error;       /* transport error text when status == 0 */
        int         timed_out;   /* 1 if it ended on timeout_ms */
        int64_t     elapsed_ms;  /* from submit to completion */
} ew_http_result_t;

/* Called once per submitted request, unless it was cancelled. */
typedef void(ew_http_done_cb_t)(void *opaque, const ew_http_result_t *res);

/* Returns a new dispatcher registered on loop, or NULL with errstr set. */
ew_http_t *ew_http_new(ew_loop_t *loop, const ew_http_conf_t *conf,
                       char *errstr, size_t errstr_size);

/* Cancels what is in flight (no callbacks) and frees everything.
 * NULL-safe. */
void ew_http_destroy(ew_http_t *http);

/* Starts a POST of body (borrowed: it must stay valid until the callback
 * runs or the request is cancelled) to url (copied) with "Content-Type:
 * application/json" and, when traceparent is non-NULL, a "traceparent" header.
 * Returns the request handle (valid until its callback returns or it is
 * cancelled), or NULL with errstr set. */
ew_http_req_t *ew_http_post(ew_http_t *http, const char *url, const char *body,
                            size_t body_len, const char *traceparent,
                            ew_http_done_cb_t *cb, void *opaque, char *errstr,
                            size_t errstr_size);

/* Starts a GET of url (copied), otherwise like ew_http_post(). */
ew_http_req_t *ew_http_get(ew_http_t *http, const char *url,
                           ew_http_done_cb_t *cb, void *opaque, char *errstr,
                           size_t errstr_size);

/* Cancels an in-flight request: its callback will not be called. */
void ew_http_cancel(ew_http_t *http, ew_http_req_t *req);

/* Milliseconds until curl wants ew_http_on_timeout() called, or -1. */
long ew_http_timeout_ms(const ew_http_t *http);

/* Lets curl act on its timers; completion callbacks run from here or from
 * the loop's socket callbacks. */
void ew_http_on_timeout(ew_http_t *http);

/* Requests in flight. */
int ew_http_in_flight(const ew_http_t *http);

#endif /* EW_HTTP_H */
