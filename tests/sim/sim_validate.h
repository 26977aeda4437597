/*
 * sim_validate - checks an engagement request the way the Monitoring API
 * does: the API version, the obh flag, and the JSON body (identities,
 * clientProperties, entryPoints, engagementAttributes, and that the
 * consumer is identified at all).
 *
 * Pure functions, no I/O: the unit tests call them directly.
 */
#ifndef SIM_VALIDATE_H
#define SIM_VALIDATE_H

#include "sim_json.h"

#include <stddef.h>

/* What the body says about who the consumer is; pointers are borrowed from
 * the body object and live as long as it does. */
typedef struct sim_body_info {
        const char *consumer_id; /* NULL if absent or empty */
        const char *sub;         /* first identity's sub, NULL if none */
} sim_body_info_t;

/* Parses the v query parameter. Returns 0 and sets *minorp to 0 for API
 * version 1.0 or to 1 for 1.1; returns -1 for anything else, NULL
 * included (the API answers 400, internalCode 33). */
int sim_validate_version(const char *v, int *minorp);

/* Returns 0 if obh is absent (NULL) or "true"/"false" (any case), else -1
 * (the API answers 400, internalCode 5). */
int sim_validate_obh(const char *obh);

/* Validates the request body (must be a JSON object; NULL is rejected)
 * given the vid query parameter (may be NULL). Returns 0 and fills info,
 * or -1 with the offending field written to msg (e.g. "consumerId",
 * "identities[0].acr"); the API answers 400, internalCode 5. */
int sim_validate_body(const sim_jval_t *body, const char *vid,
                      sim_body_info_t *info, char *msg, size_t msg_size);

#endif /* SIM_VALIDATE_H */
