/*
 * ew_message - the two messages an event can end in (docs/contracts.md):
 *
 * Outcome (value on kafka.output_topic, JSON):
 *   eventId, accountId, outcome (engagement|conversation|unavailable),
 *   httpStatus, attempts, visitorId, sessionId, pageId, engagementDetails
 *   (as the API returned them, or absent), source {topic, partition,
 *   offset}, completedAt (RFC 3339 UTC, milliseconds).
 *
 * Dead letter (on kafka.dead_letter_topic): the input's key, value and
 * headers byte for byte, plus headers describing the failure:
 *   error.kind (invalid_event|rejected|retries_exhausted), error.message,
 *   error.httpStatus and error.internalCode (only when there were any),
 *   error.attempts, source.topic, source.partition, source.offset,
 *   eventId, failedAt.
 *
 * Pure: builds values and header lists; producing them is the caller's.
 */
#ifndef EW_MESSAGE_H
#define EW_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ew_event.h"
#include "ew_response.h"

/* Names of the failure headers of a dead letter (also the keys of the
 * dead-letter JSON line). A consumer reads the last header of each name:
 * the input may already carry one (a dead letter fed back in). */
#define EW_HDR_ERROR_KIND "error.kind"
#define EW_HDR_ERROR_MESSAGE "error.message"
#define EW_HDR_ERROR_HTTP_STATUS "error.httpStatus"
#define EW_HDR_ERROR_INTERNAL_CODE "error.internalCode"
#define EW_HDR_ERROR_ATTEMPTS "error.attempts"
#define EW_HDR_SOURCE_TOPIC "source.topic"
#define EW_HDR_SOURCE_PARTITION "source.partition"
#define EW_HDR_SOURCE_OFFSET "source.offset"
#define EW_HDR_EVENT_ID "eventId"
#define EW_HDR_FAILED_AT "failedAt"

typedef enum ew_dead_kind {
        EW_DEAD_INVALID_EVENT = 0,
        EW_DEAD_REJECTED,
        EW_DEAD_RETRIES_EXHAUSTED,
} ew_dead_kind_t;

/* "invalid_event", "rejected", "retries_exhausted". */
const char *ew_dead_kind_str(ew_dead_kind_t kind);

/* Builds the outcome value for a result of kind ENGAGEMENT, CONVERSATION
 * or UNAVAILABLE. account_id is the effective account (event's or
 * config's). Returns a new NUL-terminated JSON string (caller frees) with
 * its length in *lenp, or NULL if res is not a success kind.
 * Also NULL (and *lenp 0) if event_id, account_id, res or src is NULL, or
 * on allocation failure. visitorId, sessionId and pageId are written as
 * null when unknown; conversationId is added for CONVERSATION;
 * engagementDetails is present whenever res->engagement_details is set.
 * lenp may be NULL. */
char *ew_message_outcome(const char *event_id, const char *account_id,
                         const ew_result_t *res, int attempts,
                         const ew_source_t *src, int64_t completed_at_ms,
                         size_t *lenp);

/* The failure a dead letter describes. Strings are borrowed. */
typedef struct ew_dead_letter {
        ew_dead_kind_t kind;
        const char    *message;       /* required */
        int            http_status;   /* 0 = none: header omitted */
        int            internal_code; /* -1 = none: header omitted */
        int            attempts;      /* API calls made, 0 for invalid_event */
        ew_source_t    source;
        const char    *event_id;     /* required */
        int64_t        failed_at_ms; /* epoch ms, written as RFC 3339 */
} ew_dead_letter_t;

/* Appends the failure headers to hdrs (which already holds a copy of the
 * input's headers, if any). Returns 0, or -1 if librdkafka refused one. */
int ew_message_dead_letter_headers(const ew_dead_letter_t *dl,
                                   rd_kafka_headers_t     *hdrs);

/* The same fields as a JSON object, plus "event": the original value as a
 * string (invalid UTF-8 bytes replaced by U+FFFD) - batch mode's
 * dead-letter line. Returns a new string (caller frees), length in *lenp. */
char *ew_message_dead_letter_json(const ew_dead_letter_t *dl, const char *value,
                                  size_t value_len, size_t *lenp);

/* The key for an event's messages: the input key when there is one
 * (returned as is), else ew_event_derived_key(ev) (ev may be NULL for an
 * event that did not parse). Returns the key and its length in *lenp, or
 * NULL/0 for no key. */
const void *ew_message_key(const void *input_key, size_t input_key_len,
                           const ew_event_t *ev, size_t *lenp);

#endif /* EW_MESSAGE_H */
