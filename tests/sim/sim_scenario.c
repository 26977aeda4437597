/*
 * sim_scenario - see sim_scenario.h.
 */
#include "sim_scenario.h"
#include "sim_lru.h"
#include "sim_util.h"

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bound of the per-key state table; the key used longest ago goes first. */
#define MAX_KEYS 1000000
/* Longest chain of "then" behaviours. */
#define MAX_DEPTH 16
/* Longest latency a scenario may ask for, in ms. */
#define MAX_LATENCY_MS 600000

typedef struct spec {
        int              id; /* names the spec in per-key state */
        sim_behaviour_t  behaviour;
        int              status;
        int              internal_code;
        char            *message;     /* NULL: the default text */
        char            *retry_after; /* NULL: no header */
        long             count;       /* -1: every request */
        sim_close_mode_t close_mode;
        int              has_latency;
        int              latency_min_ms, latency_max_ms;
        char            *details_json;
        struct spec     *then;
} spec_t;

/* Index of the match fields in rule_t.pattern. */
enum { M_KEY, M_SUB, M_CONSUMER, M_VID, M_ACCOUNT, M_APP, M_COUNT };
static const char *const match_names[M_COUNT] = {"key", "sub",     "consumerId",
                                                 "vid", "account", "app"};

typedef struct rule {
        char   *pattern[M_COUNT]; /* NULL: not matched on */
        spec_t *spec;
} rule_t;

/* What a key has seen of one spec. */
typedef struct key_state {
        long count;
        int  done; /* loading: the announced vid came back */
        char vid[SIM_ID_MAX + 1];
} key_state_t;

struct sim_scenario {
        atomic_int      refs;
        rule_t         *rules;
        size_t          nrules;
        spec_t         *def;
        int             next_id;
        pthread_mutex_t lock; /* guards state */
        sim_lru_t      *state;
};

static const char *const behaviour_names[] = {
    [SIM_B_EXPOSE]       = "expose",
    [SIM_B_CONVERSATION] = "conversation",
    [SIM_B_UNAVAILABLE]  = "unavailable",
    [SIM_B_LOADING]      = "loading",
    [SIM_B_FAIL]         = "fail",
    [SIM_B_ALWAYS]       = "always",
    [SIM_B_REJECT]       = "reject",
    [SIM_B_CLOSE]        = "close",
    [SIM_B_EXPIRE]       = "expire",
};

const char *sim_behaviour_name(sim_behaviour_t b)
{
        if ((size_t)b >= SIM_ARRAY_SIZE(behaviour_names))
                return "?";
        return behaviour_names[b];
}

const char *sim_match_key(const sim_match_input_t *in)
{
        if (in->sub && *in->sub)
                return in->sub;
        if (in->consumer_id && *in->consumer_id)
                return in->consumer_id;
        if (in->vid && *in->vid)
                return in->vid;
        return NULL;
}

static void spec_free(spec_t *sp)
{
        if (!sp)
                return;
        spec_free(sp->then);
        free(sp->message);
        free(sp->retry_after);
        free(sp->details_json);
        free(sp);
}

static sim_scenario_t *scenario_alloc(void)
{
        sim_scenario_t *sc = calloc(1, sizeof(*sc));

        if (!sc)
                return NULL;
        sc->state = sim_lru_new(MAX_KEYS, free);
        if (!sc->state) {
                free(sc);
                return NULL;
        }
        atomic_init(&sc->refs, 1);
        pthread_mutex_init(&sc->lock, NULL);
        return sc;
}

static void scenario_free(sim_scenario_t *sc)
{
        size_t i, j;

        for (i = 0; i < sc->nrules; i++) {
                for (j = 0; j < M_COUNT; j++)
                        free(sc->rules[i].pattern[j]);
                spec_free(sc->rules[i].spec);
        }
        free(sc->rules);
        spec_free(sc->def);
        sim_lru_destroy(sc->state);
        pthread_mutex_destroy(&sc->lock);
        free(sc);
}

sim_scenario_t *sim_scenario_ref(sim_scenario_t *sc)
{
        atomic_fetch_add(&sc->refs, 1);
        return sc;
}

void sim_scenario_unref(sim_scenario_t *sc)
{
        if (sc && atomic_fetch_sub(&sc->refs, 1) == 1)
                scenario_free(sc);
}

void sim_scenario_reset_state(sim_scenario_t *sc)
{
        pthread_mutex_lock(&sc->lock);
        sim_lru_clear(sc->state);
        pthread_mutex_unlock(&sc->lock);
}

size_t sim_scenario_rule_count(const sim_scenario_t *sc)
{
        return sc->nrules;
}

/* A plain "expose" spec. */
static spec_t *spec_new(sim_scenario_t *sc, sim_behaviour_t b)
{
        spec_t *sp = calloc(1, sizeof(*sp));

        if (!sp)
                return NULL;
        sp->id        = sc->next_id++;
        sp->behaviour = b;
        sp->count     = -1;
        return sp;
}

sim_scenario_t *sim_scenario_new_default(void)
{
        sim_scenario_t *sc = scenario_alloc();

        if (!sc)
                return NULL;
        sc->def = spec_new(sc, SIM_B_EXPOSE);
        if (!sc->def) {
                scenario_free(sc);
                return NULL;
        }
        return sc;
}

/* ---- parsing ---------------------------------------------------------- */

static int parse_error(char *errstr, size_t errstr_size, const char *where,
                       const char *what)
{
        snprintf(errstr, errstr_size, "%s: %s", where, what);
        return -1;
}

/* Reads an integer member into *out (untouched if absent). Returns 0, or
 * -1 if present but not an integer in [lo, hi]. */
static int get_int(json_object *obj, const char *key, long lo, long hi,
                   long *out)
{
        json_object *v;
        int64_t      n;

        if (!json_object_object_get_ex(obj, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return -1;
        n = json_object_get_int64(v);
        if (n < lo || n > hi)
                return -1;
        *out = (long)n;
        return 0;
}

static int parse_latency(json_object *v, spec_t *sp)
{
        long ms = -1, lo = -1, hi = -1;

        if (json_object_is_type(v, json_type_int)) {
                ms = (long)json_object_get_int64(v);
        } else if (json_object_is_type(v, json_type_object)) {
                json_object_object_foreach(v, k, unused)
                {
                        (void)unused;
                        if (strcmp(k, "ms") && strcmp(k, "min") &&
                            strcmp(k, "max"))
                                return -1;
                }
                if (get_int(v, "ms", 0, MAX_LATENCY_MS, &ms) ||
                    get_int(v, "min", 0, MAX_LATENCY_MS, &lo) ||
                    get_int(v, "max", 0, MAX_LATENCY_MS, &hi))
                        return -1;
        } else {
                return -1;
        }
        if (ms >= 0 && lo < 0 && hi < 0) {
                lo = hi = ms;
        } else if (ms < 0 && lo >= 0 && hi >= lo) {
                /* a range */
        } else {
                return -1;
        }
        if (lo > MAX_LATENCY_MS || hi > MAX_LATENCY_MS)
                return -1;
        sp->has_latency    = 1;
        sp->latency_min_ms = (int)lo;
        sp->latency_max_ms = (int)hi;
        return 0;
}

static int behaviour_parse(const char *s, sim_behaviour_t *b)
{
        size_t i;

        for (i = 0; i < SIM_ARRAY_SIZE(behaviour_names); i++) {
                if (!strcmp(s, behaviour_names[i])) {
                        *b = (sim_behaviour_t)i;
                        return 0;
                }
        }
        return -1;
}

static spec_t *parse_spec(sim_scenario_t *sc, json_object *js,
                          const char *where, int depth, int is_rule,
                          char *errstr, size_t errstr_size);

/* Checks and applies the members of a spec object other than "behaviour".
 * Returns 0 or -1 with errstr set. */
static int parse_spec_members(sim_scenario_t *sc, json_object *js, spec_t *sp,
                              const char *where, int depth, int is_rule,
                              char *errstr, size_t errstr_size)
{
        static const char *const known[] = {
            "behaviour", "behavior",   "status",  "internalCode",
            "message",   "retryAfter", "count",   "then",
            "latency",   "after",      "details", "comment"};
        char         sub[256];
        json_object *v;
        long         status = -1, code = -1, count = -2;
        size_t       i;

        json_object_object_foreach(js, key, val)
        {
                (void)val;
                for (i = 0; i < SIM_ARRAY_SIZE(known); i++) {
                        if (!strcmp(key, known[i]))
                                break;
                }
                if (i == SIM_ARRAY_SIZE(known) &&
                    !(is_rule && !strcmp(key, "match"))) {
                        snprintf(sub, sizeof(sub), "unknown key \"%s\"", key);
                        return parse_error(errstr, errstr_size, where, sub);
                }
        }
        if (get_int(js, "status", 100, 599, &status))
                return parse_error(errstr, errstr_size, where,
                                   "status: an HTTP status (100-599)");
        if (get_int(js, "internalCode", 0, 1000000, &code))
                return parse_error(errstr, errstr_size, where,
                                   "internalCode: a non-negative integer");
        if (get_int(js, "count", 0, 1000000000, &count))
                return parse_error(errstr, errstr_size, where,
                                   "count: a non-negative integer");
        if (json_object_object_get_ex(js, "message", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return parse_error(errstr, errstr_size, where,
                                           "message: a string");
                sp->message = strdup(json_object_get_string(v));
        }
        if (json_object_object_get_ex(js, "retryAfter", &v)) {
                if (!json_object_is_type(v, json_type_string) &&
                    !json_object_is_type(v, json_type_int))
                        return parse_error(errstr, errstr_size, where,
                                           "retryAfter: a string or number");
                sp->retry_after = strdup(json_object_get_string(v));
        }
        if (json_object_object_get_ex(js, "details", &v)) {
                if (!json_object_is_type(v, json_type_object))
                        return parse_error(errstr, errstr_size, where,
                                           "details: an object");
                sp->details_json = strdup(
                    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        }
        if (json_object_object_get_ex(js, "latency", &v) &&
            parse_latency(v, sp))
                return parse_error(errstr, errstr_size, where,
                                   "latency: {\"ms\":N} or "
                                   "{\"min\":A,\"max\":B} (0-600000)");
        if (json_object_object_get_ex(js, "after", &v)) {
                const char *a = json_object_is_type(v, json_type_string)
                                    ? json_object_get_string(v)
                                    : "";
                if (sp->behaviour != SIM_B_CLOSE)
                        return parse_error(errstr, errstr_size, where,
                                           "after: only for close");
                if (!strcmp(a, "none"))
                        sp->close_mode = SIM_CLOSE_NONE;
                else if (!strcmp(a, "headers"))
                        sp->close_mode = SIM_CLOSE_HEADERS;
                else if (!strcmp(a, "partial"))
                        sp->close_mode = SIM_CLOSE_PARTIAL;
                else
                        return parse_error(errstr, errstr_size, where,
                                           "after: none, headers or partial");
        } else if (sp->behaviour == SIM_B_CLOSE) {
                sp->close_mode = SIM_CLOSE_HEADERS;
        }

        /* Behaviour-specific defaults and limits. */
        switch (sp->behaviour) {
        case SIM_B_FAIL:
                if (status < 0)
                        status = 503;
                if (status < 400)
                        return parse_error(errstr, errstr_size, where,
                                           "status: fail needs 4xx or 5xx");
                if (count == -2)
                        count = 1;
                break;
        case SIM_B_ALWAYS:
                if (status < 0)
                        status = 500;
                if (status < 400)
                        return parse_error(errstr, errstr_size, where,
                                           "status: always needs >= 400");
                break;
        case SIM_B_REJECT:
                if (status < 0)
                        status = 400;
                if (status != 400 && status != 404)
                        return parse_error(errstr, errstr_size, where,
                                           "status: reject needs 400 or 404");
                break;
        case SIM_B_EXPIRE:
                if (status >= 0 && status != 404)
                        return parse_error(errstr, errstr_size, where,
                                           "status: expire answers 404");
                status = 404;
                if (code < 0)
                        code = 39;
                if (code != 37 && code != 39)
                        return parse_error(errstr, errstr_size, where,
                                           "internalCode: expire takes 37 "
                                           "or 39");
                break;
        case SIM_B_CLOSE:
                if (status < 0)
                        status = 200;
                break;
        case SIM_B_LOADING:
                if (status >= 0 || code >= 0)
                        return parse_error(errstr, errstr_size, where,
                                           "loading answers 500/20 (v1.0) or "
                                           "202/38 (v1.1); no status");
                if (count == -2)
                        count = 1;
                break;
        default:
                if (status >= 0 || code >= 0)
                        return parse_error(errstr, errstr_size, where,
                                           "status/internalCode: only for "
                                           "error behaviours");
                break;
        }
        sp->status = status < 0 ? 0 : (int)status;
        sp->internal_code =
            code >= 0 ? (int)code : sim_default_internal_code(sp->status);
        sp->count = count == -2 ? -1 : count;

        if (json_object_object_get_ex(js, "then", &v)) {
                if (sp->count < 0)
                        return parse_error(errstr, errstr_size, where,
                                           "then: needs a count (or fail, "
                                           "loading)");
                snprintf(sub, sizeof(sub), "%s.then", where);
                sp->then =
                    parse_spec(sc, v, sub, depth + 1, 0, errstr, errstr_size);
                if (!sp->then)
                        return -1;
        } else if (sp->count >= 0) {
                sp->then = spec_new(sc, SIM_B_EXPOSE);
                if (!sp->then)
                        return parse_error(errstr, errstr_size, where,
                                           "out of memory");
        }
        return 0;
}

/* Parses one behaviour: a name ("expose") or an object. Returns the spec
 * or NULL with errstr set. */
static spec_t *parse_spec(sim_scenario_t *sc, json_object *js,
                          const char *where, int depth, int is_rule,
                          char *errstr, size_t errstr_size)
{
        json_object    *v = NULL;
        const char     *name;
        sim_behaviour_t b;
        spec_t         *sp;
        char            msg[128];

        if (depth > MAX_DEPTH) {
                parse_error(errstr, errstr_size, where, "\"then\" too deep");
                return NULL;
        }
        if (json_object_is_type(js, json_type_string)) {
                name = json_object_get_string(js);
        } else if (json_object_is_type(js, json_type_object) &&
                   (json_object_object_get_ex(js, "behaviour", &v) ||
                    json_object_object_get_ex(js, "behavior", &v)) &&
                   json_object_is_type(v, json_type_string)) {
                name = json_object_get_string(v);
        } else {
                parse_error(errstr, errstr_size, where,
                            "a behaviour name or an object with "
                            "\"behaviour\"");
                return NULL;
        }
        if (behaviour_parse(name, &b)) {
                snprintf(msg, sizeof(msg), "unknown behaviour \"%.64s\"", name);
                parse_error(errstr, errstr_size, where, msg);
                return NULL;
        }
        sp = spec_new(sc, b);
        if (!sp) {
                parse_error(errstr, errstr_size, where, "out of memory");
                return NULL;
        }
        if (json_object_is_type(js, json_type_object)) {
                if (parse_spec_members(sc, js, sp, where, depth, is_rule,
                                       errstr, errstr_size)) {
                        spec_free(sp);
                        return NULL;
                }
        } else if (b == SIM_B_FAIL || b == SIM_B_LOADING || b == SIM_B_ALWAYS ||
                   b == SIM_B_REJECT || b == SIM_B_EXPIRE || b == SIM_B_CLOSE) {
                /* A bare name takes the same defaults as an object. */
                json_object *obj = json_object_new_object();
                int          rc;

                json_object_object_add(obj, "behaviour",
                                       json_object_new_string(name));
                rc = parse_spec_members(sc, obj, sp, where, depth, 0, errstr,
                                        errstr_size);
                json_object_put(obj);
                if (rc) {
                        spec_free(sp);
                        return NULL;
                }
        }
        return sp;
}

static int parse_match(json_object *m, rule_t *r, const char *where,
                       char *errstr, size_t errstr_size)
{
        size_t i;
        char   msg[256];

        if (json_object_is_type(m, json_type_string)) {
                r->pattern[M_KEY] = strdup(json_object_get_string(m));
                return r->pattern[M_KEY] ? 0
                                         : parse_error(errstr, errstr_size,
                                                       where, "out of memory");
        }
        if (!json_object_is_type(m, json_type_object))
                return parse_error(errstr, errstr_size, where,
                                   "match: a pattern or an object");
        json_object_object_foreach(m, key, val)
        {
                for (i = 0; i < M_COUNT; i++) {
                        if (!strcmp(key, match_names[i]))
                                break;
                }
                if (i == M_COUNT) {
                        snprintf(msg, sizeof(msg),
                                 "match: unknown field \"%.64s\" (key, sub, "
                                 "consumerId, vid, account, app)",
                                 key);
                        return parse_error(errstr, errstr_size, where, msg);
                }
                if (!json_object_is_type(val, json_type_string))
                        return parse_error(errstr, errstr_size, where,
                                           "match: patterns are strings");
                free(r->pattern[i]);
                r->pattern[i] = strdup(json_object_get_string(val));
                if (!r->pattern[i])
                        return parse_error(errstr, errstr_size, where,
                                           "out of memory");
        }
        return 0;
}

int sim_scenario_parse(json_object *root, const char *origin,
                       sim_scenario_t **scp, char *errstr, size_t errstr_size)
{
        sim_scenario_t *sc = NULL;
        json_object    *v, *rj, *m;
        char            where[256];
        size_t          i, n;

        *scp = NULL;
        if (!json_object_is_type(root, json_type_object))
                return parse_error(errstr, errstr_size, origin,
                                   "a scenario is a JSON object");
        json_object_object_foreach(root, key, val)
        {
                (void)val;
                if (strcmp(key, "default") && strcmp(key, "rules") &&
                    strcmp(key, "comment")) {
                        snprintf(where, sizeof(where),
                                 "unknown key \"%.64s\" (default, rules, "
                                 "comment)",
                                 key);
                        return parse_error(errstr, errstr_size, origin, where);
                }
        }
        sc = scenario_alloc();
        if (!sc)
                return parse_error(errstr, errstr_size, origin,
                                   "out of memory");
        if (json_object_object_get_ex(root, "default", &v)) {
                snprintf(where, sizeof(where), "%s: default", origin);
                sc->def = parse_spec(sc, v, where, 0, 0, errstr, errstr_size);
        } else {
                sc->def = spec_new(sc, SIM_B_EXPOSE);
                if (!sc->def)
                        parse_error(errstr, errstr_size, origin,
                                    "out of memory");
        }
        if (!sc->def)
                goto error;
        if (json_object_object_get_ex(root, "rules", &v)) {
                if (!json_object_is_type(v, json_type_array)) {
                        parse_error(errstr, errstr_size, origin,
                                    "rules: an array");
                        goto error;
                }
                n         = json_object_array_length(v);
                sc->rules = calloc(n ? n : 1, sizeof(*sc->rules));
                if (!sc->rules) {
                        parse_error(errstr, errstr_size, origin,
                                    "out of memory");
                        goto error;
                }
                for (i = 0; i < n; i++) {
                        rule_t *r = &sc->rules[i];

                        sc->nrules++;
                        rj = json_object_array_get_idx(v, i);
                        snprintf(where, sizeof(where), "%s: rules[%zu]", origin,
                                 i);
                        if (!json_object_is_type(rj, json_type_object)) {
                                parse_error(errstr, errstr_size, where,
                                            "a rule is an object");
                                goto error;
                        }
                        if (json_object_object_get_ex(rj, "match", &m) &&
                            parse_match(m, r, where, errstr, errstr_size))
                                goto error;
                        r->spec = parse_spec(sc, rj, where, 0, 1, errstr,
                                             errstr_size);
                        if (!r->spec)
                                goto error;
                }
        }
        *scp = sc;
        return 0;
error:
        scenario_free(sc);
        return -1;
}

int sim_scenario_load_file(const char *path, sim_scenario_t **scp, char *errstr,
                           size_t errstr_size)
{
        json_object *root = json_object_from_file(path);
        const char  *why;
        size_t       n;
        int          rc;

        *scp = NULL;
        if (!root) {
                why = json_util_get_last_err();
                snprintf(errstr, errstr_size, "%s: %s", path,
                         why ? why : "cannot read JSON");
                /* json-c ends its message with a newline */
                n = strlen(errstr);
                while (n > 0 && (errstr[n - 1] == '\n' || errstr[n - 1] == ' '))
                        errstr[--n] = '\0';
                return -1;
        }
        rc = sim_scenario_parse(root, path, scp, errstr, errstr_size);
        json_object_put(root);
        return rc;
}

/* ---- deciding --------------------------------------------------------- */

static int rule_matches(const rule_t *r, const sim_match_input_t *in,
                        const char *key)
{
        const char *value[M_COUNT];
        size_t      i;

        value[M_KEY]      = key;
        value[M_SUB]      = in->sub;
        value[M_CONSUMER] = in->consumer_id;
        value[M_VID]      = in->vid;
        value[M_ACCOUNT]  = in->account;
        value[M_APP]      = in->app;
        for (i = 0; i < M_COUNT; i++) {
                if (!r->pattern[i])
                        continue;
                if (!value[i] || fnmatch(r->pattern[i], value[i], 0) != 0)
                        return 0;
        }
        return 1;
}

/* The state of key under spec sp, created if new; NULL when out of memory
 * or when there is no key. Called with sc->lock held. */
static key_state_t *key_state(sim_scenario_t *sc, const spec_t *sp,
                              const char *key, int64_t now)
{
        char         name[SIM_ID_MAX * 2 + 32];
        key_state_t *st;

        if (!key)
                return NULL;
        snprintf(name, sizeof(name), "%d\x1f%s", sp->id, key);
        st = sim_lru_get(sc->state, name, now, 0);
        if (st)
                return st;
        st = calloc(1, sizeof(*st));
        if (!st || sim_lru_put(sc->state, name, st, now))
                return NULL;
        return st;
}

/* Marks vid, just announced by loading spec sp, as done under its own
 * name: a consumer known only by its vid (the key) comes back with the
 * announced vid as its key. Called with sc->lock held. */
static void announce(sim_scenario_t *sc, const spec_t *sp, const char *vid,
                     int64_t now)
{
        key_state_t *st = key_state(sc, sp, vid, now);

        if (st) {
                st->done = 1;
                snprintf(st->vid, sizeof(st->vid), "%s", vid);
        }
}

static void fill_error(const spec_t *sp, sim_outcome_t *out)
{
        out->status        = sp->status;
        out->internal_code = sp->internal_code;
        snprintf(out->message, sizeof(out->message), "%s",
                 sp->message
                     ? sp->message
                     : sim_default_message(sp->status, sp->internal_code));
        if (sp->retry_after)
                snprintf(out->retry_after, sizeof(out->retry_after), "%s",
                         sp->retry_after);
}

void sim_scenario_decide(sim_scenario_t *sc, const sim_match_input_t *in,
                         sim_outcome_t *out)
{
        const char   *key = sim_match_key(in);
        const spec_t *sp = sc->def, *lat = NULL;
        key_state_t  *st;
        int64_t       now = sim_mono_ms();
        size_t        i;
        int           depth;

        memset(out, 0, sizeof(*out));
        out->rule = -1;
        for (i = 0; i < sc->nrules; i++) {
                if (rule_matches(&sc->rules[i], in, key)) {
                        sp        = sc->rules[i].spec;
                        out->rule = (int)i;
                        break;
                }
        }

        pthread_mutex_lock(&sc->lock);
        for (depth = 0; depth <= MAX_DEPTH && sp; depth++) {
                if (sp->has_latency)
                        lat = sp;
                if (sp->count < 0 || !sp->then)
                        break;
                st = key_state(sc, sp, key, now);
                if (!st)
                        break; /* no key or no memory: answer sp itself */
                if (sp->behaviour == SIM_B_LOADING) {
                        if (st->done ||
                            (st->count >= sp->count && st->vid[0] && in->vid &&
                             !strcmp(in->vid, st->vid))) {
                                st->done = 1;
                                sp       = sp->then;
                                continue;
                        }
                        if (!st->vid[0]) {
                                sim_random_id(st->vid, sizeof(st->vid), 22);
                                announce(sc, sp, st->vid, now);
                        }
                        st->count++;
                        snprintf(out->message, sizeof(out->message),
                                 "Loading account: %s, vid: %s",
                                 in->account ? in->account : "", st->vid);
                        break;
                }
                if (st->count < sp->count) {
                        st->count++;
                        break;
                }
                sp = sp->then;
        }
        pthread_mutex_unlock(&sc->lock);

        out->behaviour    = sp->behaviour;
        out->close_mode   = sp->close_mode;
        out->details_json = sp->details_json;
        if (lat) {
                out->has_latency    = 1;
                out->latency_min_ms = lat->latency_min_ms;
                out->latency_max_ms = lat->latency_max_ms;
        }
        switch (sp->behaviour) {
        case SIM_B_LOADING:
                out->status        = in->api_minor == 0 ? 500 : 202;
                out->internal_code = in->api_minor == 0 ? 20 : 38;
                if (!out->message[0]) {
                        /* No key to remember a vid by: announce the one the
                         * request carried, or a fresh one. */
                        char vid[SIM_ID_MAX + 1];

                        if (in->vid)
                                snprintf(vid, sizeof(vid), "%s", in->vid);
                        else
                                sim_random_id(vid, sizeof(vid), 22);
                        snprintf(out->message, sizeof(out->message),
                                 "Loading account: %s, vid: %s",
                                 in->account ? in->account : "", vid);
                }
                break;
        case SIM_B_FAIL:
        case SIM_B_ALWAYS:
        case SIM_B_REJECT:
        case SIM_B_EXPIRE:
                fill_error(sp, out);
                break;
        case SIM_B_CLOSE:
                out->status = sp->status;
                break;
        default:
                break;
        }
}
