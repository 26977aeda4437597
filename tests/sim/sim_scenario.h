/*
 * sim_scenario - scripted behaviours of the simulator.
 *
 * A scenario (JSON, format in tests/sim/README.md) is an ordered list of
 * rules, each a match on the request (first identity's sub, consumerId,
 * vid, the key - sub, else consumerId, else vid -, account, app; glob
 * patterns) and a behaviour, plus a default behaviour. The first rule that
 * matches decides. Behaviours: expose, conversation, unavailable, loading,
 * fail, always, reject, close, expire. Any behaviour may carry a latency,
 * a count (only the first count requests of a key get it) and a "then"
 * behaviour for the requests after those.
 *
 * A scenario is immutable once parsed except for its per-key state (how
 * many requests of a key a behaviour has answered, the vid a loading
 * answer announced), which lives in a bounded table inside it: replacing
 * the scenario resets that state. It is reference counted so a new one can
 * replace it while requests still use the old one.
 *
 * @locality any thread: sim_scenario_decide serialises on the scenario's
 * lock; parse/load run on one thread.
 */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <json-c/json.h>
#include <stddef.h>

typedef struct sim_scenario sim_scenario_t;

typedef enum sim_behaviour {
        SIM_B_EXPOSE = 0,
        SIM_B_CONVERSATION,
        SIM_B_UNAVAILABLE,
        SIM_B_LOADING,
        SIM_B_FAIL,
        SIM_B_ALWAYS,
        SIM_B_REJECT,
        SIM_B_CLOSE,
        SIM_B_EXPIRE,
} sim_behaviour_t;

/* How a "close" behaviour breaks the connection. */
typedef enum sim_close_mode {
        SIM_CLOSE_NONE = 0, /* no answer at all */
        SIM_CLOSE_HEADERS,  /* status line and headers, then close */
        SIM_CLOSE_PARTIAL,  /* headers and half the body, then close */
} sim_close_mode_t;

/* The request as the rules see it. Every pointer may be NULL. */
typedef struct sim_match_input {
        const char *account;
        const char *app;
        const char *sub; /* first identity's sub */
        const char *consumer_id;
        const char *vid;
        int         api_minor; /* 0: v=1.0, 1: v=1.1 */
} sim_match_input_t;

/* What to answer. */
typedef struct sim_outcome {
        sim_behaviour_t  behaviour;
        int              rule;            /* index of the rule, -1: default */
        int              status;          /* error answers and close */
        int              internal_code;   /* error answers */
        char             message[256];    /* error answers */
        char             retry_after[32]; /* "": no Retry-After header */
        sim_close_mode_t close_mode;
        int              has_latency; /* else the global latency holds */
        int              latency_min_ms, latency_max_ms;
        /* Fields to merge into each engagementDetails entry, as JSON text
         * (parse it per use); NULL if none. Borrowed from the scenario:
         * valid while the caller holds its reference. */
        const char *details_json;
} sim_outcome_t;

/* Name of a behaviour as written in scenarios ("expose", ...). */
const char *sim_behaviour_name(sim_behaviour_t b);

/* The key that per-key state and the "key" match use: sub, else
 * consumerId, else vid. NULL if none. */
const char *sim_match_key(const sim_match_input_t *in);

/* Builds a scenario from its JSON form. origin names the source in error
 * messages (e.g. the file name). Returns 0 and sets *scp (one reference,
 * the caller's), or -1 with the reason in errstr. root stays the caller's. */
int sim_scenario_parse(json_object *root, const char *origin,
                       sim_scenario_t **scp, char *errstr, size_t errstr_size);

/* Reads and parses a scenario file. As sim_scenario_parse. */
int sim_scenario_load_file(const char *path, sim_scenario_t **scp, char *errstr,
                           size_t errstr_size);

/* A scenario with no rules whose default is "expose". NULL when out of
 * memory. The caller owns one reference. */
sim_scenario_t *sim_scenario_new_default(void);

/* Takes another reference. Returns sc. */
sim_scenario_t *sim_scenario_ref(sim_scenario_t *sc);

/* Drops a reference; the last one frees the scenario. NULL-safe. */
void sim_scenario_unref(sim_scenario_t *sc);

/* Forgets all per-key state (counters, announced vids), as if the
 * scenario had just been loaded. */
void sim_scenario_reset_state(sim_scenario_t *sc);

/* Number of rules. */
size_t sim_scenario_rule_count(const sim_scenario_t *sc);

/* Decides the answer to one request and advances the per-key state.
 * api_minor picks the loading answer (1.0: 500/20, 1.1: 202/38). */
void sim_scenario_decide(sim_scenario_t *sc, const sim_match_input_t *in,
                         sim_outcome_t *out);

#endif /* SIM_SCENARIO_H */
