/*
 * ew_response - classifies one answer of the engagement method, from
 * (API version, HTTP status, body) to one result kind, following the API
 * doc's response examples, response codes and retry policy:
 *
 *   ENGAGEMENT    200/201 with an engagementDetails entry of status "expose"
 *   CONVERSATION  200/201 with an entry of status "conversation"
 *                 (its conversationId kept)
 *   UNAVAILABLE   200/201 without engagementDetails (or an empty list)
 *   LOADING       v1.0 500 internalCode 20, v1.1 202 internalCode 38, and any
 *                 202; the vid after "vid: " in message kept in loading_vid
 *   RETRYABLE     other 5xx, 429, 408, timeouts and transport errors
 *   REJECTED      other 4xx (not retried), and unexpected 1xx/3xx
 *
 * The body is never trusted: the content type is ignored (the API sends
 * JSON as application/octet-stream), and empty, non-JSON (RFC 8259, read
 * strictly), truncated or oddly shaped bodies are classified by status
 * alone with a message that says what was wrong. A 200/201 whose body is
 * not a JSON object is RETRYABLE ("unparseable success body"), since the
 * answer was lost.
 *
 * Error bodies look like {"time":…,"message":"…","internalCode":N}; the
 * internalCode and message are kept.
 *
 * Pure: no I/O.
 */
#ifndef EW_RESPONSE_H
#define EW_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "ew_config.h"

/* Limits on what the classifier reads from a body (bodies beyond them are
 * classified by status alone, with a message saying so). */
#define EW_RESPONSE_MAX_BODY (1024 * 1024) /* bytes parsed at most */
#define EW_RESPONSE_MAX_DEPTH 32           /* JSON nesting */
#define EW_RESPONSE_MAX_MESSAGE 1024       /* bytes of a server message kept */
#define EW_RESPONSE_MAX_VID 256            /* a longer loading vid is ignored */

/* Retry-After values are capped at one day. */
#define EW_RETRY_AFTER_MAX_MS ((int64_t)86400 * 1000)

typedef enum ew_result_kind {
        EW_RESULT_ENGAGEMENT = 0,
        EW_RESULT_CONVERSATION,
        EW_RESULT_UNAVAILABLE,
        EW_RESULT_LOADING,
        EW_RESULT_RETRYABLE,
        EW_RESULT_REJECTED,
} ew_result_kind_t;

/* "engagement", "conversation", "unavailable", "loading", "retryable",
 * "rejected". */
const char *ew_result_kind_str(ew_result_kind_t kind);

/* One classified answer. The strings live in one allocation (mem) that
 * the result owns and ew_result_clear() releases; do not free them one by
 * one. */
typedef struct ew_result {
        ew_result_kind_t kind;
        int              http_status;   /* 0 for a transport error or timeout */
        int              internal_code; /* -1 when the body carried none */
        char *message;    /* error message / transport error; may be NULL */
        char *visitor_id; /* from a success body; may be NULL */
        char *session_id; /* from a success body; may be NULL */
        char *page_id;    /* from a success body; may be NULL */
        char *conversation_id; /* CONVERSATION only */
        char *loading_vid;     /* LOADING only, may be NULL if not announced */
        /* engagementDetails as the API returned them: the JSON text of an
         * array (a single object is wrapped as a one-entry array), checked
         * by the parser, insignificant white space removed, NUL-terminated;
         * NULL when absent. */
        char  *engagement_details;
        size_t engagement_details_len;
        void  *mem; /* the allocation the strings above point into */
} ew_result_t;

/* Classifies an HTTP answer. body may be NULL (len 0) and need not be
 * NUL-terminated. res is overwritten (call ew_result_clear first if it
 * held something). Returns res->kind. */
ew_result_kind_t ew_response_classify(ew_api_version_t version, int http_status,
                                      const char *body, size_t len,
                                      ew_result_t *res);

/* Fills res for a request that got no HTTP answer (timeout, refused,
 * reset, TLS failure): RETRYABLE with http_status 0 and message copied.
 * Returns res->kind. */
ew_result_kind_t ew_response_transport_error(const char  *message,
                                             ew_result_t *res);

/* Releases what res owns and zeroes it. NULL-safe. */
void ew_result_clear(ew_result_t *res);

/* Parses a Retry-After header value (delta-seconds, or an HTTP-date per
 * RFC 9110) relative to now_epoch_ms. Returns the wait in milliseconds
 * (0 for a date in the past), or -1 if the value is absent or invalid.
 * value may be NULL. */
int64_t ew_response_retry_after_ms(const char *value, int64_t now_epoch_ms);

#endif /* EW_RESPONSE_H */
