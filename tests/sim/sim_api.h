/*
 * sim_api - what the simulated Monitoring API answers: the engagement
 * method, the Domain API (CSDS) lookup of the "smt" service, and the
 * run-time settings both share.
 *
 * No HTTP here: the server (sim_server) hands in a decoded request and
 * sends the answer these functions fill. The unit tests call them
 * directly.
 *
 * @locality any thread, concurrently: settings are atomics, the scenario
 * pointer is swapped under a lock and reference counted.
 */
#ifndef SIM_API_H
#define SIM_API_H

#include "sim_json.h"
#include "sim_scenario.h"
#include "sim_sessions.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_CT_MONITORING "application/octet-stream"
#define SIM_CT_JSON "application/json"

/* A decoded request. Every pointer may be NULL; all are borrowed. */
typedef struct sim_request {
        const char       *method;
        const char       *path;
        const char       *v, *vid, *sid, *obh; /* engagement query parameters */
        const char       *body;                /* raw body, body_len bytes */
        size_t            body_len;
        int               body_too_large; /* body was cut at the limit */
        const sim_jval_t *json;           /* body parsed, NULL if not JSON */
} sim_request_t;

/* An answer to send. */
typedef struct sim_answer {
        int              status;
        char            *body; /* owned; NULL: empty body */
        size_t           body_len;
        const char      *content_type;    /* static */
        const char      *allow;           /* static; Allow header of a 405 */
        char             retry_after[32]; /* "": no Retry-After header */
        int              internal_code;   /* -1: not an error body */
        const char      *behaviour;       /* static; for the request log */
        int              close;           /* break the connection ... */
        sim_close_mode_t close_mode;      /* ... this way */
        int64_t          delay_ms;        /* answer this much later */
} sim_answer_t;

/* Run-time state shared by every request. Fields are set up by
 * sim_api_init and changed only through the functions below (or, for the
 * atomics, by anyone). */
typedef struct sim_api {
        sim_sessions_t *sessions; /* owned */
        char          **apps;     /* known appInstallationIds; owned */
        size_t          napps;    /* 0: every app id is known */
        char            csds_base_uri[256];
        pthread_mutex_t scenario_lock;
        sim_scenario_t *scenario; /* one reference owned */
        atomic_int      latency_ms;
        atomic_int      latency_jitter_ms;
        atomic_int      fail_ppm; /* share of failed answers, 1e-6 */
        atomic_int      fail_status;
} sim_api_t;

/* Sets api up with a session table (max_sessions, ttl_ms: 0 never) and the
 * comma-separated list of known app ids (NULL: any). Takes over the
 * reference of scenario (NULL: expose for everyone). Returns 0, or -1 with
 * errstr set (the scenario reference is then dropped). */
int sim_api_init(sim_api_t *api, size_t max_sessions, int64_t ttl_ms,
                 const char *apps, sim_scenario_t *scenario, char *errstr,
                 size_t errstr_size);

/* Frees what api holds. Safe on a zeroed or half-initialised api. */
void sim_api_fini(sim_api_t *api);

/* A new reference to the current scenario; drop it with
 * sim_scenario_unref. */
sim_scenario_t *sim_api_scenario(sim_api_t *api);

/* Replaces the scenario, taking over the caller's reference to sc. */
void sim_api_set_scenario(sim_api_t *api, sim_scenario_t *sc);

/* Answers the engagement method for account and app. */
void sim_api_engagement(sim_api_t *api, const sim_request_t *rq,
                        const char *account, const char *app,
                        sim_answer_t *ans);

/* Answers the Domain API: the base URI of service (NULL: all services) of
 * account. Only "smt" is known. */
void sim_api_domain(sim_api_t *api, const sim_request_t *rq,
                    const char *account, const char *service,
                    sim_answer_t *ans);

/* Fills ans with an error body {"time","message","internalCode"}. */
void sim_answer_error(sim_answer_t *ans, int status, int internal_code,
                      const char *message);

/* Fills ans with status and obj serialised (json-c: for answers off the hot
 * path); takes over obj. */
void sim_answer_json(sim_answer_t *ans, int status, json_object *obj);

/* Frees what ans owns and zeroes it. NULL-safe. */
void sim_answer_clear(sim_answer_t *ans);

#endif /* SIM_API_H */
