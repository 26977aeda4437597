/*
 * ew_request - builds the engagement request (the API's doc: "Request",
 * "Query parameters", "Body Parameters").
 *
 *   POST {base_url}/api/account/{accountId}/app/{appInstallationId}
 *        /engagement?v={1.0|1.1}&vid={vid}&sid={sid}&obh=true
 *
 * Every path segment and query value is percent-encoded (RFC 3986
 * unreserved characters pass as they are). vid and sid are present only
 * when known. The body carries consumerId, identities, clientProperties,
 * entryPoints and engagementAttributes, each only when the event has it.
 *
 * Pure: no I/O.
 */
#ifndef EW_REQUEST_H
#define EW_REQUEST_H

#include <stddef.h>

#include "ew_config.h"
#include "ew_event.h"
#include "ew_hmac.h"

typedef struct ew_request_params {
        const char      *base_url;            /* no trailing slash needed */
        const char      *account_id;          /* required */
        const char      *app_installation_id; /* required */
        ew_api_version_t api_version;
        const char      *visitor_id; /* may be NULL */
        const char      *session_id; /* may be NULL */
        int on_behalf; /* 1: obh=true (the worker always sets it) */
} ew_request_params_t;

/* Percent-encodes s into a new string (caller frees), keeping only
 * RFC 3986 unreserved characters. NULL on allocation failure. */
char *ew_request_pct_encode(const char *s);

/* Builds the URL. Returns a new string (caller frees), or NULL with errstr
 * set when a required part is missing. */
char *ew_request_url(const ew_request_params_t *p, char *errstr,
                     size_t errstr_size);

/* Builds the JSON body from the event: {"consumerId", "identities",
 * "clientProperties", "entryPoints", "engagementAttributes"}, in that
 * order, each only when the event has it. The last four are the event's
 * own JSON text (its white space and number spelling kept). Returns a new
 * NUL-terminated string (caller frees) and its length in *lenp (may be
 * NULL), or NULL on allocation failure (also for a NULL ev). hasher,
 * when non-NULL (prepared from identity.hash_key, see ew_hmac.h), replaces
 * each identity's sub and the consumerId by hex(HMAC-SHA256(key, value));
 * the identities' other members stay as written. NULL hasher: no hashing.
 * The event is not changed; the hasher is used, so the caller must be
 * its only user for the call (@locality of ew_hmac_t). */
char *ew_request_body(const ew_event_t *ev, ew_hmac_t *hasher, size_t *lenp);

#endif /* EW_REQUEST_H */
