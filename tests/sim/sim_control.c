/*
 * sim_control - see sim_control.h.
 */
#include "sim_control.h"
#include "sim_util.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int sim_control_reload(sim_api_t *api, const char *path, char *errstr,
                       size_t errstr_size)
{
        sim_scenario_t *sc;

        if (!path) {
                snprintf(errstr, errstr_size, "no --scenario file to reload");
                return -1;
        }
        if (sim_scenario_load_file(path, &sc, errstr, errstr_size))
                return -1;
        sim_api_set_scenario(api, sc);
        return 0;
}

static json_object *current_config(sim_api_t *api)
{
        json_object    *o  = json_object_new_object();
        sim_scenario_t *sc = sim_api_scenario(api);

        json_object_object_add(
            o, "latencyMs", json_object_new_int(atomic_load(&api->latency_ms)));
        json_object_object_add(
            o, "latencyJitterMs",
            json_object_new_int(atomic_load(&api->latency_jitter_ms)));
        json_object_object_add(
            o, "failRatio",
            json_object_new_double(atomic_load(&api->fail_ppm) / 1e6));
        json_object_object_add(
            o, "failStatus",
            json_object_new_int(atomic_load(&api->fail_status)));
        json_object_object_add(
            o, "sessionTtlS",
            json_object_new_int64(sim_sessions_ttl(api->sessions) / 1000));
        json_object_object_add(
            o, "rules",
            json_object_new_int64((int64_t)sim_scenario_rule_count(sc)));
        sim_scenario_unref(sc);
        return o;
}

/* Reads an integer member in [lo, hi]. Returns 1 if present and valid, 0
 * if absent, -1 if invalid. */
static int get_int(json_object *obj, const char *key, int64_t lo, int64_t hi,
                   int64_t *out)
{
        json_object *v;

        if (!json_object_object_get_ex(obj, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return -1;
        *out = json_object_get_int64(v);
        return *out >= lo && *out <= hi ? 1 : -1;
}

static int get_bool(json_object *obj, const char *key, int *out)
{
        json_object *v;

        if (!json_object_object_get_ex(obj, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return -1;
        *out = json_object_get_boolean(v);
        return 1;
}

/* The request body parsed by json-c (scenarios are json-c objects), or
 * NULL. The caller puts it. */
static json_object *body_object(const sim_request_t *rq)
{
        json_tokener *tok;
        json_object  *o = NULL;

        if (!rq->body || rq->body_len == 0 || rq->body_len > INT32_MAX)
                return NULL;
        tok = json_tokener_new();
        if (!tok)
                return NULL;
        o = json_tokener_parse_ex(tok, rq->body, (int)rq->body_len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

/* Checks the POST /_sim/config body o against the known keys. Returns 0,
 * or -1 with the reason in err. */
static int check_keys(json_object *o, char *err, size_t err_size)
{
        static const char *const known[] = {
            "latencyMs",  "latencyJitterMs", "failRatio",
            "failStatus", "sessionTtlS",     "scenario",
            "reload",     "resetState",      "comment"};
        size_t i;

        json_object_object_foreach(o, key, val)
        {
                (void)val;
                for (i = 0; i < SIM_ARRAY_SIZE(known); i++) {
                        if (!strcmp(key, known[i]))
                                break;
                }
                if (i == SIM_ARRAY_SIZE(known)) {
                        snprintf(err, err_size, "unknown key \"%.64s\"", key);
                        return -1;
                }
        }
        return 0;
}

/* POST /_sim/config: checks everything first, then applies it all. */
static void post_config(sim_api_t *api, const sim_request_t *rq,
                        const sim_control_env_t *env, sim_answer_t *ans)
{
        json_object    *o   = body_object(rq), *v;
        sim_scenario_t *sc  = NULL, *cur;
        int64_t         lat = 0, jit = 0, status = 0, ttl = 0;
        int             has_lat, has_jit, has_status, has_ttl;
        int             reload = 0, reset = 0, has_ratio = 0;
        double          ratio = 0;
        char            err[512];

        if (!o || !json_object_is_type(o, json_type_object)) {
                snprintf(err, sizeof(err), "a JSON object is expected");
                goto bad;
        }
        if (check_keys(o, err, sizeof(err)))
                goto bad;
        has_lat    = get_int(o, "latencyMs", 0, 600000, &lat);
        has_jit    = get_int(o, "latencyJitterMs", 0, 600000, &jit);
        has_status = get_int(o, "failStatus", 400, 599, &status);
        has_ttl    = get_int(o, "sessionTtlS", 0, 86400 * 365, &ttl);
        if (has_lat < 0 || has_jit < 0 || has_status < 0 || has_ttl < 0 ||
            get_bool(o, "reload", &reload) < 0 ||
            get_bool(o, "resetState", &reset) < 0) {
                snprintf(err, sizeof(err),
                         "latencyMs, latencyJitterMs: 0-600000; failStatus: "
                         "400-599; sessionTtlS: >= 0; reload, resetState: "
                         "booleans");
                goto bad;
        }
        if (json_object_object_get_ex(o, "failRatio", &v)) {
                ratio = json_object_get_double(v);
                if ((!json_object_is_type(v, json_type_double) &&
                     !json_object_is_type(v, json_type_int)) ||
                    ratio < 0 || ratio > 1) {
                        snprintf(err, sizeof(err), "failRatio: 0 to 1");
                        goto bad;
                }
                has_ratio = 1;
        }
        if (json_object_object_get_ex(o, "scenario", &v)) {
                if (reload) {
                        snprintf(err, sizeof(err),
                                 "scenario and reload exclude each other");
                        goto bad;
                }
                if (sim_scenario_parse(v, "scenario", &sc, err, sizeof(err)))
                        goto bad;
        } else if (reload) {
                if (!env->scenario_path) {
                        snprintf(err, sizeof(err),
                                 "no --scenario file to reload");
                        goto bad;
                }
                if (sim_scenario_load_file(env->scenario_path, &sc, err,
                                           sizeof(err)))
                        goto bad;
        }

        if (has_lat > 0)
                atomic_store(&api->latency_ms, (int)lat);
        if (has_jit > 0)
                atomic_store(&api->latency_jitter_ms, (int)jit);
        if (has_status > 0)
                atomic_store(&api->fail_status, (int)status);
        if (has_ratio)
                atomic_store(&api->fail_ppm, (int)(ratio * 1e6 + 0.5));
        if (has_ttl > 0)
                sim_sessions_set_ttl(api->sessions, ttl * 1000);
        if (sc)
                sim_api_set_scenario(api, sc);
        if (reset) {
                cur = sim_api_scenario(api);
                sim_scenario_reset_state(cur);
                sim_scenario_unref(cur);
        }
        sim_answer_json(ans, 200, current_config(api));
        goto done;
bad:
        sim_answer_error(ans, 400, 5, err);
done:
        json_object_put(o);
}

static void stats(sim_api_t *api, const sim_control_env_t *env,
                  sim_answer_t *ans)
{
        json_object         *o = json_object_new_object();
        sim_sessions_stats_t st;

        sim_sessions_stats(api->sessions, &st);
        json_object_object_add(o, "requests",
                               json_object_new_int64((int64_t)env->requests));
        json_object_object_add(o, "sessionsActive",
                               json_object_new_int64((int64_t)st.active));
        json_object_object_add(o, "sessionsCreated",
                               json_object_new_int64((int64_t)st.created));
        json_object_object_add(o, "sessionsEvicted",
                               json_object_new_int64((int64_t)st.evicted));
        json_object_object_add(
            o, "delayedPending",
            json_object_new_int64((int64_t)env->delayed_pending));
        sim_answer_json(ans, 200, o);
}

/* The methods each endpoint takes, as an Allow header says them. */
static const struct {
        const char *name;
        const char *allow;
} endpoints[] = {
    {"expire-sessions", "POST"},
    {"config", "GET, POST"},
    {"stats", "GET"},
    {"health", "GET"},
};

void sim_control_handle(sim_api_t *api, const sim_request_t *rq,
                        const char *name, const sim_control_env_t *env,
                        sim_answer_t *ans)
{
        const char  *method = rq->method ? rq->method : "";
        json_object *o;
        size_t       i;

        ans->content_type  = SIM_CT_JSON;
        ans->internal_code = -1;
        ans->behaviour     = "control";
        for (i = 0; i < SIM_ARRAY_SIZE(endpoints); i++) {
                if (!strcmp(name, endpoints[i].name))
                        break;
        }
        if (i == SIM_ARRAY_SIZE(endpoints)) {
                sim_answer_error(ans, 404, 0, "no such control endpoint");
                return;
        }
        /* Endpoints take GET and/or POST: look those up in Allow. */
        if ((strcmp(method, "GET") && strcmp(method, "POST")) ||
            !strstr(endpoints[i].allow, method)) {
                ans->allow = endpoints[i].allow;
                sim_answer_error(ans, 405, 0, "method not allowed");
                return;
        }
        if (!strcmp(name, "expire-sessions")) {
                o = json_object_new_object();
                json_object_object_add(
                    o, "expired",
                    json_object_new_int64(
                        (int64_t)sim_sessions_expire_all(api->sessions)));
                sim_answer_json(ans, 200, o);
        } else if (!strcmp(name, "config")) {
                if (!strcmp(method, "GET"))
                        sim_answer_json(ans, 200, current_config(api));
                else
                        post_config(api, rq, env, ans);
        } else if (!strcmp(name, "stats")) {
                stats(api, env, ans);
        } else {
                o = json_object_new_object();
                json_object_object_add(o, "status",
                                       json_object_new_string("ok"));
                sim_answer_json(ans, 200, o);
        }
}
