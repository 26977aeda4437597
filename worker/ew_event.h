/*
 * ew_event - the inbound event contract (docs/contracts.md): parse and
 * validate the value of one input message.
 *
 * The value is a JSON object:
 *   eventId             string, default "<topic>:<partition>:<offset>"
 *   accountId           string, overrides monitoring.account_id
 *   appInstallationId   string, overrides monitoring.app_installation_id
 *   visitorId           string, continue a visit (vid)
 *   sessionId           string, continue a visit (sid)
 *   consumerId          string, deprecated (the doc's body parameter)
 *   identities          [{iss?, acr, sub}]  acr "0" | "loa1", sub required
 *   clientProperties    {appVersion, deviceFamily, ipAddress, os|osName,
 *                        osVersion, ...}
 *   entryPoints         [string]
 *   engagementAttributes [{type, ...}]  documented types only, no
 *                        impression events
 * At least one of identities, consumerId, visitorId must be present, and
 * no object anywhere in the value may name a member twice (members are
 * forwarded as their text, so a repeat would carry an unchecked value).
 *
 * Pure: no I/O. Every failure yields one message naming the field, e.g.
 * "identities[1].acr: must be \"0\" or \"loa1\", got \"2\"" or
 * "clientProperties: member \"osName\" appears twice".
 */
#ifndef EW_EVENT_H
#define EW_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Where an input message came from. Strings are borrowed. */
typedef struct ew_source {
        const char *topic;
        int32_t     partition;
        int64_t     offset;
} ew_source_t;

typedef struct ew_event_limits {
        size_t max_bytes;        /* default 65536 */
        int    max_depth;        /* JSON nesting limit, default 32 */
        size_t max_identities;   /* default 100 */
        size_t max_attributes;   /* default 100 */
        size_t max_entry_points; /* default 100 */
} ew_event_limits_t;

#define EW_EVENT_LIMITS_DEFAULT                                                \
        {                                                                      \
                65536, 32, 100, 100, 100                                       \
        }

/* Longest identifier (eventId, accountId, appInstallationId, visitorId,
 * sessionId, consumerId, identities[].sub), in bytes. */
#define EW_EVENT_MAX_ID_BYTES 256
/* Longest other checked string (iss, entry points, clientProperties). */
#define EW_EVENT_MAX_TEXT_BYTES 2048

/* The JSON text of one member, exactly as the event wrote it (its own
 * white space and escapes), NUL-terminated; json is NULL and len 0 when
 * the member is absent. */
typedef struct ew_event_json {
        const char *json;
        size_t      len;
} ew_event_json_t;

/* A validated event: what the worker needs of the value, copied out of it
 * (the value itself may go once the event is parsed).
 *
 * The event is ONE allocation: this struct followed by the bytes every
 * pointer below points into, so ew_event_destroy() is one free() and no
 * pointer outlives the event.
 *
 * The identifiers are the decoded strings (escapes resolved), NUL-
 * terminated, never holding a NUL (the rules refuse \u0000 in them);
 * NULL means absent (or JSON null). event_id is never NULL: the event's
 * eventId, else "<topic>:<partition>:<offset>". first_sub is the first
 * identity's sub, decoded (the derived message key and nothing else).
 *
 * The four members forwarded to the API travel as the event's own JSON
 * text: ew_request_body() copies them into the body as they are (and
 * reads identities again when it must hash each sub). */
typedef struct ew_event {
        const char     *event_id;
        const char     *account_id;
        const char     *app_installation_id;
        const char     *visitor_id;
        const char     *session_id;
        const char     *consumer_id;
        const char     *first_sub;             /* identities[0].sub */
        ew_event_json_t identities;            /* array */
        ew_event_json_t client_properties;     /* object */
        ew_event_json_t entry_points;          /* array */
        ew_event_json_t engagement_attributes; /* array */
} ew_event_t;

/* Parses and validates buf[0..len). buf need not be NUL-terminated and may
 * hold any bytes: oversized, non-UTF-8, non-JSON, non-object values and NUL
 * bytes are refused with a message, and so is an object that names a
 * member twice (anywhere in the value). src supplies the default eventId.
 * buf is only read during the call: the event keeps copies.
 *
 * Returns 0 and *evp (caller destroys), or -1 with errstr set and *evp
 * NULL. When the value was JSON, an object with a usable string "eventId"
 * (a repeated member does not matter here), but failed validation, that
 * id is still copied to event_id_out (if non-NULL, size event_id_size) so
 * the dead letter can carry it; otherwise event_id_out gets the default
 * id. On success event_id_out gets ev->event_id. Both are cut to fit. */
int ew_event_parse(const char *buf, size_t len, const ew_event_limits_t *lim,
                   const ew_source_t *src, ew_event_t **evp, char *event_id_out,
                   size_t event_id_size, char *errstr, size_t errstr_size);

/* Frees the event (its one allocation). NULL-safe. */
void ew_event_destroy(ew_event_t *ev);

/* Writes the default event id "<topic>:<partition>:<offset>". */
void ew_event_default_id(const ew_source_t *src, char *buf, size_t size);

/* The key an event's messages are published with when the input message
 * has no key: the first identity's sub, else consumerId, else visitorId.
 * Returns a pointer borrowed from ev, or NULL if none. */
const char *ew_event_derived_key(const ew_event_t *ev);

#endif /* EW_EVENT_H */
