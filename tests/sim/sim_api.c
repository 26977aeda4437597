/*
 * sim_api - see sim_api.h.
 */
#include "sim_api.h"
#include "sim_util.h"
#include "sim_validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Identifiers of the engagement the simulator exposes unless a scenario's
 * "details" says otherwise (values of the API's documented examples). */
#define EXPOSE_CAMPAIGN_ID 880524023LL
#define EXPOSE_ENGAGEMENT_ID 880524123LL
#define EXPOSE_REVISION 21
#define CONV_CAMPAIGN_ID 880524423LL
#define CONV_ENGAGEMENT_ID 880524523LL
#define CONV_REVISION 23
#define CONNECTOR_ID 2642324112LL

int sim_api_init(sim_api_t *api, size_t max_sessions, int64_t ttl_ms,
                 const char *apps, sim_scenario_t *scenario, char *errstr,
                 size_t errstr_size)
{
        char  *copy = NULL, *tok, *save = NULL;
        size_t n = 0;

        memset(api, 0, sizeof(*api));
        pthread_mutex_init(&api->scenario_lock, NULL);
        api->scenario = scenario ? scenario : sim_scenario_new_default();
        api->sessions = sim_sessions_new(max_sessions, ttl_ms);
        atomic_init(&api->fail_status, 503);
        if (!api->scenario || !api->sessions)
                goto oom;
        if (apps && *apps) {
                const char *p;

                for (p = apps, n = 1; *p; p++)
                        n += *p == ',';
                api->apps = calloc(n, sizeof(*api->apps));
                copy      = strdup(apps);
                if (!api->apps || !copy)
                        goto oom;
                for (tok = strtok_r(copy, ",", &save); tok;
                     tok = strtok_r(NULL, ",", &save)) {
                        api->apps[api->napps] = strdup(tok);
                        if (!api->apps[api->napps])
                                goto oom;
                        api->napps++;
                }
                free(copy);
        }
        return 0;
oom:
        free(copy);
        snprintf(errstr, errstr_size, "out of memory");
        sim_api_fini(api);
        return -1;
}

void sim_api_fini(sim_api_t *api)
{
        size_t i;

        for (i = 0; i < api->napps; i++)
                free(api->apps[i]);
        free(api->apps);
        api->apps  = NULL;
        api->napps = 0;
        sim_sessions_destroy(api->sessions);
        api->sessions = NULL;
        sim_scenario_unref(api->scenario);
        api->scenario = NULL;
        pthread_mutex_destroy(&api->scenario_lock);
}

sim_scenario_t *sim_api_scenario(sim_api_t *api)
{
        sim_scenario_t *sc;

        pthread_mutex_lock(&api->scenario_lock);
        sc = sim_scenario_ref(api->scenario);
        pthread_mutex_unlock(&api->scenario_lock);
        return sc;
}

void sim_api_set_scenario(sim_api_t *api, sim_scenario_t *sc)
{
        sim_scenario_t *old;

        pthread_mutex_lock(&api->scenario_lock);
        old           = api->scenario;
        api->scenario = sc;
        pthread_mutex_unlock(&api->scenario_lock);
        sim_scenario_unref(old);
}

void sim_answer_clear(sim_answer_t *ans)
{
        if (!ans)
                return;
        free(ans->body);
        memset(ans, 0, sizeof(*ans));
}

/* Longest answer body the simulator builds. */
#define MAX_ANSWER 65536

/* Moves the contents of b into ans as its body. */
static void answer_take(sim_answer_t *ans, int status, sim_buf_t *b)
{
        free(ans->body);
        ans->status = status;
        if (!ans->content_type)
                ans->content_type = SIM_CT_MONITORING;
        ans->body = sim_buf_take(b, &ans->body_len);
        if (!ans->body)
                ans->body_len = 0;
}

void sim_answer_json(sim_answer_t *ans, int status, json_object *obj)
{
        const char *s;
        sim_buf_t   b;

        sim_buf_init(&b, MAX_ANSWER);
        s = obj ? json_object_to_json_string_ext(
                      obj,
                      JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                : NULL;
        if (s)
                sim_buf_puts(&b, s);
        json_object_put(obj);
        answer_take(ans, status, &b);
}

void sim_answer_error(sim_answer_t *ans, int status, int internal_code,
                      const char *message)
{
        sim_buf_t b;

        sim_buf_init(&b, MAX_ANSWER);
        sim_buf_puts(&b, "{\"time\":");
        sim_buf_int(&b, sim_wall_ms());
        sim_buf_puts(&b, ",\"message\":");
        sim_buf_jstr(&b, message, strlen(message));
        sim_buf_puts(&b, ",\"internalCode\":");
        sim_buf_int(&b, internal_code);
        sim_buf_puts(&b, "}");
        ans->internal_code = internal_code;
        answer_take(ans, status, &b);
}

/* The answer's delay under the global settings: latency plus a random
 * jitter. */
static int64_t global_delay(sim_api_t *api)
{
        int64_t lat    = atomic_load(&api->latency_ms);
        int64_t jitter = atomic_load(&api->latency_jitter_ms);

        if (jitter > 0)
                lat += sim_random_range(0, jitter);
        return lat;
}

static int app_known(const sim_api_t *api, const char *app)
{
        size_t i;

        if (api->napps == 0)
                return 1;
        for (i = 0; i < api->napps; i++) {
                if (!strcmp(api->apps[i], app))
                        return 1;
        }
        return 0;
}

/* A conversation id that stays the same for a consumer of an account, in
 * the shape of a UUID. */
static void conversation_id(const char *account, const char *key, char *buf,
                            size_t size)
{
        uint64_t    h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
        const char *parts[2] = {account ? account : "", key ? key : ""};
        const char *s;
        size_t      i;

        for (i = 0; i < 2; i++) {
                for (s = parts[i]; *s; s++) {
                        h1 = (h1 ^ (unsigned char)*s) * 0x100000001b3ULL;
                        h2 = (h2 ^ (unsigned char)*s) * 0x100000001b3ULL;
                        h2 ^= h2 >> 29;
                }
                h1 = (h1 ^ 0x1f) * 0x100000001b3ULL;
        }
        snprintf(buf, size, "%08x-%04x-4%03x-a%03x-%012llx",
                 (unsigned)(h1 >> 32), (unsigned)(h1 >> 16) & 0xffff,
                 (unsigned)h1 & 0xfff, (unsigned)(h2 >> 52) & 0xfff,
                 (unsigned long long)(h2 & 0xffffffffffffULL));
}

/* One member of an engagementDetails entry: its name and JSON value. */
typedef struct field {
        const char *key;
        const char *json;
} field_t;

/* Appends {fields...} where the scenario's details (JSON object text, may
 * be NULL) replace fields of the same name and add the others. */
static void write_details(sim_buf_t *b, const field_t *fields, size_t n,
                          const char *details)
{
        sim_json_t       *doc = NULL;
        const sim_jval_t *d   = NULL, *m, *over;
        char              err[64];
        size_t            i;
        int               first = 1;

        if (details) {
                doc = sim_json_parse(details, strlen(details), 64, err,
                                     sizeof(err));
                d   = doc ? sim_json_root(doc) : NULL;
        }
        sim_buf_puts(b, "{");
        for (i = 0; i < n; i++) {
                over = sim_json_get(d, fields[i].key);
                if (!first)
                        sim_buf_puts(b, ",");
                first = 0;
                sim_buf_jstr(b, fields[i].key, strlen(fields[i].key));
                sim_buf_puts(b, ":");
                if (over)
                        sim_buf_jminify(b, over->raw, over->raw_len);
                else
                        sim_buf_puts(b, fields[i].json);
        }
        for (m = d && d->type == SIM_JSON_OBJECT ? d->child : NULL; m;
             m = m->next) {
                for (i = 0; i < n && strcmp(fields[i].key, m->key); i++)
                        ;
                if (i < n)
                        continue;
                sim_buf_puts(b, ",");
                sim_buf_jstr(b, m->key, strlen(m->key));
                sim_buf_puts(b, ":");
                sim_buf_jminify(b, m->raw, m->raw_len);
        }
        sim_buf_puts(b, "}");
        sim_json_free(doc);
}

/* The body of a successful engagement answer. */
static void engagement_body(sim_buf_t *b, const sim_outcome_t *oc,
                            const char *sid, const char *vid,
                            const char *account, const char *key)
{
        char          page[32], conv[64], conv_json[72];
        const field_t expose[] = {
            {"campaignId", "880524023"},   {"engagementId", "880524123"},
            {"engagementRevision", "21"},  {"contextId", "\"1\""},
            {"connectorId", "2642324112"}, {"windowId", "\"3407296972\""},
            {"language", "\"en-US\""},     {"status", "\"expose\""},
        };
        const field_t conversation[] = {
            {"campaignId", "880524423"},   {"engagementId", "880524523"},
            {"engagementRevision", "23"},  {"conversationId", conv_json},
            {"connectorId", "2642324112"}, {"status", "\"conversation\""},
        };

        sim_random_page_id(page, sizeof(page));
        sim_buf_puts(b, "{\"sessionId\":");
        sim_buf_jstr(b, sid, strlen(sid));
        sim_buf_puts(b, ",\"visitorId\":");
        sim_buf_jstr(b, vid, strlen(vid));
        sim_buf_puts(b, ",\"pageId\":\"");
        sim_buf_puts(b, page);
        sim_buf_puts(b, "\"");
        if (oc->behaviour == SIM_B_CONVERSATION) {
                conversation_id(account, key, conv, sizeof(conv));
                snprintf(conv_json, sizeof(conv_json), "\"%s\"", conv);
                sim_buf_puts(b, ",\"engagementDetails\":[");
                write_details(b, conversation, SIM_ARRAY_SIZE(conversation),
                              oc->details_json);
                sim_buf_puts(b, "]");
        } else if (oc->behaviour != SIM_B_UNAVAILABLE) {
                sim_buf_puts(b, ",\"engagementDetails\":[");
                write_details(b, expose, SIM_ARRAY_SIZE(expose),
                              oc->details_json);
                sim_buf_puts(b, "]");
        }
        sim_buf_puts(b, "}");
}

/* Fills ans with a successful engagement answer. */
static void answer_engagement(sim_answer_t *ans, int status,
                              const sim_outcome_t *oc, const char *sid,
                              const char *vid, const char *account,
                              const char *key)
{
        sim_buf_t b;

        sim_buf_init(&b, MAX_ANSWER);
        engagement_body(&b, oc, sid, vid, account, key);
        answer_take(ans, status, &b);
}

static int nonempty(const char *s)
{
        return s && *s;
}

void sim_api_engagement(sim_api_t *api, const sim_request_t *rq,
                        const char *account, const char *app, sim_answer_t *ans)
{
        sim_body_info_t   info;
        sim_match_input_t in;
        sim_outcome_t     oc;
        sim_scenario_t   *sc;
        const char       *vid = nonempty(rq->vid) ? rq->vid : NULL;
        const char       *sid = nonempty(rq->sid) ? rq->sid : NULL;
        char              msg[128];
        char              new_sid[SIM_ID_MAX + 1], cur_vid[SIM_ID_MAX + 1];
        int               minor, fail_ppm;

        ans->content_type  = SIM_CT_MONITORING;
        ans->internal_code = -1;
        ans->behaviour     = "validation";
        ans->delay_ms      = global_delay(api);

        if (sim_validate_version(rq->v, &minor)) {
                sim_answer_error(ans, 400, 33, "illegal API version");
                return;
        }
        if (!app_known(api, app)) {
                sim_answer_error(ans, 404, 18, "invalid appInstallationId");
                return;
        }
        if (sim_validate_obh(rq->obh)) {
                sim_answer_error(ans, 400, 5, "obh");
                return;
        }
        if (vid && strlen(vid) > SIM_ID_MAX) {
                sim_answer_error(ans, 400, 5, "vid");
                return;
        }
        if (rq->body_too_large) {
                sim_answer_error(ans, 400, 5, "request body too large");
                return;
        }
        if (sim_validate_body(rq->json, vid, &info, msg, sizeof(msg))) {
                sim_answer_error(ans, 400, 5, msg);
                return;
        }

        ans->behaviour = "session";
        if (sid) {
                switch (strlen(sid) > SIM_ID_MAX
                            ? SIM_SESSIONS_UNKNOWN
                            : sim_sessions_lookup(api->sessions, account, sid,
                                                  vid, cur_vid)) {
                case SIM_SESSIONS_OK:
                        break;
                case SIM_SESSIONS_VID_MISMATCH:
                        sim_answer_error(ans, 404, 37, "invalid visitorId");
                        return;
                case SIM_SESSIONS_UNKNOWN:
                        sim_answer_error(ans, 404, 39, "invalid sessionId");
                        return;
                default:
                        sim_answer_error(ans, 500, 18, "internal server error");
                        return;
                }
        }

        fail_ppm = atomic_load(&api->fail_ppm);
        if (fail_ppm > 0 && sim_random_range(0, 999999) < fail_ppm) {
                int status = atomic_load(&api->fail_status);

                ans->behaviour = "fail-ratio";
                sim_answer_error(ans, status, sim_default_internal_code(status),
                                 sim_default_message(status, 0));
                return;
        }

        memset(&in, 0, sizeof(in));
        in.account     = account;
        in.app         = app;
        in.sub         = info.sub;
        in.consumer_id = info.consumer_id;
        in.vid         = vid;
        in.api_minor   = minor;
        sc             = sim_api_scenario(api);
        sim_scenario_decide(sc, &in, &oc);
        ans->behaviour = sim_behaviour_name(oc.behaviour);
        if (oc.has_latency)
                ans->delay_ms =
                    sim_random_range(oc.latency_min_ms, oc.latency_max_ms);

        switch (oc.behaviour) {
        case SIM_B_EXPOSE:
        case SIM_B_CONVERSATION:
        case SIM_B_UNAVAILABLE:
                if (sid) {
                        answer_engagement(ans, 200, &oc, sid, cur_vid, account,
                                          sim_match_key(&in));
                        break;
                }
                if (sim_sessions_create(api->sessions, account, vid, new_sid,
                                        cur_vid) != SIM_SESSIONS_OK) {
                        sim_answer_error(ans, 500, 18, "internal server error");
                        break;
                }
                answer_engagement(ans, 201, &oc, new_sid, cur_vid, account,
                                  sim_match_key(&in));
                break;
        case SIM_B_EXPIRE:
                if (sid && oc.internal_code == 39)
                        sim_sessions_remove(api->sessions, sid);
                sim_answer_error(ans, oc.status, oc.internal_code, oc.message);
                break;
        case SIM_B_CLOSE:
                /* What would have been sent; no session is kept. */
                sim_random_id(new_sid, sizeof(new_sid), 22);
                sim_random_id(cur_vid, sizeof(cur_vid), 22);
                oc.behaviour = SIM_B_EXPOSE;
                answer_engagement(ans, oc.status, &oc, sid ? sid : new_sid,
                                  vid ? vid : cur_vid, account,
                                  sim_match_key(&in));
                ans->close      = 1;
                ans->close_mode = oc.close_mode;
                break;
        default: /* loading, fail, always, reject */
                sim_answer_error(ans, oc.status, oc.internal_code, oc.message);
                snprintf(ans->retry_after, sizeof(ans->retry_after), "%s",
                         oc.retry_after);
                break;
        }
        sim_scenario_unref(sc);
}

void sim_api_domain(sim_api_t *api, const sim_request_t *rq,
                    const char *account, const char *service, sim_answer_t *ans)
{
        json_object *o, *arr;

        (void)rq;
        ans->content_type  = SIM_CT_JSON;
        ans->internal_code = -1;
        ans->behaviour     = "domain";
        if (service && strcmp(service, "smt")) {
                sim_answer_error(ans, 404, 0, "service not found");
                return;
        }
        o = json_object_new_object();
        json_object_object_add(o, "service", json_object_new_string("smt"));
        json_object_object_add(o, "account", json_object_new_string(account));
        json_object_object_add(o, "baseURI",
                               json_object_new_string(api->csds_base_uri));
        if (!service) {
                arr = json_object_new_array();
                json_object_array_add(arr, o);
                o = json_object_new_object();
                json_object_object_add(o, "baseURIs", arr);
        }
        sim_answer_json(ans, 200, o);
}
