/*
 * ew_engine - see ew_engine.h.
 *
 * A job's life:
 *
 *   submit --invalid--------------------------------------> PUBLISHING
 *     |                                                        ^  |
 *     v  (key busy)          (slot free)                       |  | hook
 *   QUEUED --key free--> READY --------> IN_FLIGHT --answer----+  | failed
 *                          ^                 |                    v
 *                          +---RETRY_WAIT <--+ (retryable)  PUBLISH_WAIT
 *
 * A job holds its key's active slot in ew_keyq from the moment it leaves
 * QUEUED until its API work is over (a terminal answer, or given up), so
 * the next event of the same key starts only then, and finds the session
 * the previous answer left in the cache.
 */
#include "ew_engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_account.h"
#include "ew_hash.h"
#include "ew_hmac.h"
#include "ew_keyq.h"
#include "ew_log.h"
#include "ew_request.h"
#include "ew_response.h"
#include "ew_sessions.h"
#include "ew_timerq.h"
#include "ew_util.h"

#define EVENT_ID_SIZE 320
#define DEAD_MESSAGE_SIZE 512
#define PUBLISH_BACKOFF_MIN 100
#define PUBLISH_BACKOFF_MAX 5000
#define MAX_TOPICS 16

typedef enum job_state {
        JOB_QUEUED = 0,
        JOB_READY,
        JOB_PARKED, /* waiting for its account: host, rate or circuit */
        JOB_IN_FLIGHT,
        JOB_RETRY_WAIT,
        JOB_PUBLISHING,
        JOB_PUBLISH_WAIT,
} job_state_t;

struct ew_job {
        ew_engine_t *eng;
        ew_job_t    *prev, *next;   /* every live job */
        ew_job_t    *rprev, *rnext; /* the ready FIFO, or the account's
                                     * parked FIFO */
        ew_account_t *acct;
        job_state_t   state;
        void         *opaque;

        ew_source_t source; /* topic interned in the engine */
        int64_t     timestamp_ms;
        int64_t     submitted_ms; /* monotonic */

        char               *buf; /* key then value, one allocation */
        const char         *key; /* the input key, NULL if none */
        size_t              key_len;
        const char         *value;
        size_t              value_len;
        rd_kafka_headers_t *headers; /* the input's, owned */

        char        event_id[EVENT_ID_SIZE];
        const char *account; /* the account's id (lives in acct) */
        const char *app;     /* the event's or the config's */
        char       *strs;    /* the event's strings the job keeps */
        const char *ev_vid;  /* the event's own visitorId, or NULL */
        const char *ev_sid;  /* the event's own sessionId, or NULL */
        const void *msg_key; /* input key, else derived; may be NULL */
        size_t      msg_key_len;
        int         holds_key; /* holds its key's active slot in keyq */

        char  *body; /* request body, built once */
        size_t body_len;
        char  *traceparent;
        char  *vid, *sid;        /* the visit the next call carries */
        int    vid_sid_set;      /* vid/sid decided (first dispatch) */
        int    visit_from_cache; /* vid/sid came from the session cache */
        int    attempts;         /* API calls made */
        ew_http_req_t *req;
        ew_timer_t     timer;
        ew_result_t    result; /* the last answer */

        /* The terminal message. */
        ew_output_t         out;
        char               *out_value; /* outcome JSON */
        rd_kafka_headers_t *out_hdrs;  /* dead letter headers */
        ew_dead_letter_t    dead;
        char                dead_message[DEAD_MESSAGE_SIZE];
        int                 publish_failures;
        int                 truncated; /* the dead letter's value was cut */
};

struct ew_engine {
        const ew_config_t *conf;
        ew_http_t         *http;
        ew_engine_hooks_t  hooks;
        ew_event_limits_t  limits;
        ew_keyq_t         *keyq;
        ew_timerq_t       *timers;
        ew_sessions_t     *sessions;
        ew_hash_t         *accounts; /* account id -> ew_account_t */
        ew_account_conf_t  acct_conf;
        ew_timerq_t       *acct_timers; /* wake-ups of parked accounts */
        ew_job_t          *jobs;        /* head of every live job */
        ew_job_t          *ready_head, *ready_tail;
        int                in_flight;
        int                live;
        int                ready;
        int               no_pump; /* set while abandoning: start nothing new */
        uint64_t          rng;
        char             *topics[MAX_TOPICS];
        int               topics_cnt;
        ew_engine_stats_t stats;
        ew_metrics_t     *metrics; /* may be NULL */
        ew_hmac_t        *hasher;  /* identity.hash_key prepared, or NULL */
};

static void publish(ew_job_t *job);
static void pump(ew_engine_t *eng);

/* xorshift64*: jitter only, no need for quality beyond "not in step". */
static double rand_unit(ew_engine_t *eng)
{
        uint64_t x = eng->rng;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        eng->rng = x;
        return (double)((x * 2685821657736338717ULL) >> 11) /
               9007199254740992.0;
}

/* Topic names are few; jobs point at one interned copy. */
static const char *intern_topic(ew_engine_t *eng, const char *topic)
{
        int i;

        if (!topic)
                return "";
        for (i = 0; i < eng->topics_cnt; i++)
                if (!strcmp(eng->topics[i], topic))
                        return eng->topics[i];
        if (eng->topics_cnt == MAX_TOPICS)
                return eng->topics[MAX_TOPICS - 1]; /* not reached: one topic */
        eng->topics[eng->topics_cnt] = strdup(topic);
        if (!eng->topics[eng->topics_cnt])
                return "";
        return eng->topics[eng->topics_cnt++];
}

static void job_link(ew_engine_t *eng, ew_job_t *job)
{
        job->next = eng->jobs;
        if (eng->jobs)
                eng->jobs->prev = job;
        eng->jobs = job;
        eng->live++;
}

static void job_free(ew_job_t *job)
{
        ew_engine_t *eng = job->eng;

        if (job->prev)
                job->prev->next = job->next;
        else
                eng->jobs = job->next;
        if (job->next)
                job->next->prev = job->prev;
        eng->live--;

        ew_result_clear(&job->result);
        free(job->strs);
        if (job->headers)
                rd_kafka_headers_destroy(job->headers);
        if (job->out_hdrs)
                rd_kafka_headers_destroy(job->out_hdrs);
        free(job->out_value);
        free(job->body);
        free(job->traceparent);
        free(job->vid);
        free(job->sid);
        free(job->buf);
        free(job);
}

static void ready_push(ew_engine_t *eng, ew_job_t *job)
{
        job->state = JOB_READY;
        job->rnext = NULL;
        job->rprev = eng->ready_tail;
        if (eng->ready_tail)
                eng->ready_tail->rnext = job;
        else
                eng->ready_head = job;
        eng->ready_tail = job;
        eng->ready++;
}

static void ready_unlink(ew_engine_t *eng, ew_job_t *job)
{
        if (job->rprev)
                job->rprev->rnext = job->rnext;
        else
                eng->ready_head = job->rnext;
        if (job->rnext)
                job->rnext->rprev = job->rprev;
        else
                eng->ready_tail = job->rprev;
        job->rprev = job->rnext = NULL;
        eng->ready--;
}

/* The structured log fields of a job's lines. Returns f. */
static const ew_log_fields_t *job_fields(const ew_job_t  *job,
                                         ew_log_fields_t *f)
{
        f->event_id  = job->event_id;
        f->partition = job->source.partition;
        f->offset    = job->source.offset;
        f->status    = job->result.http_status;
        f->attempt   = job->attempts;
        return f;
}

/* --- accounts: host, rate limit, circuit ------------------------------- */

static void park(ew_engine_t *eng, ew_job_t *job)
{
        ew_account_t *acct = job->acct;
        ew_job_t     *tail = acct->parked_tail;

        (void)eng;
        job->state = JOB_PARKED;
        job->rnext = NULL;
        job->rprev = tail;
        if (tail)
                tail->rnext = job;
        else
                acct->parked_head = job;
        acct->parked_tail = job;
        acct->parked++;
}

static void unpark_one(ew_job_t *job)
{
        ew_account_t *acct = job->acct;

        if (job->rprev)
                job->rprev->rnext = job->rnext;
        else
                acct->parked_head = job->rnext;
        if (job->rnext)
                job->rnext->rprev = job->rprev;
        else
                acct->parked_tail = job->rprev;
        job->rprev = job->rnext = NULL;
        acct->parked--;
}

/* Moves the account's parked jobs to the front of the ready FIFO, in their
 * order: they have waited longest. */
static void unpark_all(ew_engine_t *eng, ew_account_t *acct)
{
        ew_job_t *head = acct->parked_head, *tail = acct->parked_tail, *j;

        if (!head)
                return;
        for (j = head; j; j = j->rnext)
                j->state = JOB_READY;
        tail->rnext = eng->ready_head;
        if (eng->ready_head)
                eng->ready_head->rprev = tail;
        else
                eng->ready_tail = tail;
        eng->ready_head = head;
        head->rprev     = NULL;
        eng->ready += acct->parked;
        acct->parked_head = acct->parked_tail = NULL;
        acct->parked                          = 0;
}

static void account_wake_at(ew_engine_t *eng, ew_account_t *acct, int64_t when)
{
        if (ew_timer_scheduled(&acct->wake_timer)) {
                if (acct->wake_ms <= when)
                        return;
                ew_timerq_cancel(eng->acct_timers, &acct->wake_timer);
        }
        acct->wake_ms = when;
        if (ew_timerq_add(eng->acct_timers, &acct->wake_timer, when, acct) ==
            -1)
                acct->wake_ms = -1;
}

static ew_account_t *account_get(ew_engine_t *eng, const char *id)
{
        ew_account_t *acct = ew_hash_get(eng->accounts, id, strlen(id));

        if (acct)
                return acct;
        acct = ew_account_new(id, &eng->acct_conf, ew_mono_ms());
        if (!acct)
                return NULL;
        /* The table borrows the key: it lives in the account. */
        if (ew_hash_put(eng->accounts, acct->id, strlen(acct->id), acct,
                        NULL) == -1) {
                ew_account_destroy(acct);
                return NULL;
        }
        ew_metrics_circuit_set(eng->metrics, acct->id, EW_M_CIRCUIT_CLOSED);
        return acct;
}

static void on_domain_done(void *opaque, const ew_http_result_t *hr)
{
        ew_account_t *acct = opaque;
        ew_engine_t  *eng  = acct->lookup_owner;
        int64_t       now  = ew_mono_ms();
        char          errstr[256];
        char         *url = NULL;

        acct->lookup = NULL;
        if (hr->status == 200)
                url = ew_account_parse_domain(
                    hr->body, hr->body_len,
                    eng->conf->monitoring.discovered_scheme, errstr,
                    sizeof(errstr));
        else if (hr->status == 0)
                ew_snprintf(errstr, sizeof(errstr), "%s",
                            hr->error ? hr->error : "transport error");
        else
                ew_snprintf(errstr, sizeof(errstr), "HTTP %d", hr->status);

        if (url && ew_account_domain_set(acct, url, now) == 0) {
                EW_INFO("engine", "account %s: Monitoring API at %s (for %d s)",
                        acct->id, url, eng->conf->monitoring.domain_ttl_s);
                unpark_all(eng, acct);
        } else {
                int64_t backoff = ew_account_domain_failed(acct, now);
                EW_WARN("engine",
                        "account %s: Domain API lookup failed (%s); %s, next "
                        "try in %lld ms",
                        acct->id, errstr,
                        acct->base_url ? "keeping the known host"
                                       : "its events wait",
                        (long long)backoff);
                account_wake_at(eng, acct, now + backoff);
        }
        free(url);
        pump(eng);
}

/* Starts a Domain API lookup of the account's smt host, unless one runs. */
static void domain_lookup(ew_engine_t *eng, ew_account_t *acct)
{
        char   errstr[256];
        char  *id, *url;
        size_t n;

        if (acct->lookup)
                return;
        id = ew_request_pct_encode(acct->id);
        n  = strlen(eng->conf->monitoring.csds_base_url) +
            (id ? strlen(id) : 0) + 64;
        url = malloc(n);
        if (!id || !url) {
                free(id);
                free(url);
                account_wake_at(eng, acct,
                                ew_mono_ms() + ew_account_domain_failed(
                                                   acct, ew_mono_ms()));
                return;
        }
        ew_snprintf(url, n,
                    "%s/api/account/%s/service/smt/baseURI.json?version=1.0",
                    eng->conf->monitoring.csds_base_url, id);
        acct->lookup_owner = eng;
        acct->lookup = ew_http_get(eng->http, url, on_domain_done, acct, errstr,
                                   sizeof(errstr));
        if (!acct->lookup) {
                EW_WARN("engine",
                        "account %s: cannot start the Domain API "
                        "lookup: %s",
                        acct->id, errstr);
                account_wake_at(eng, acct,
                                ew_mono_ms() + ew_account_domain_failed(
                                                   acct, ew_mono_ms()));
        } else {
                EW_DEBUG("engine", "account %s: looking up its host at %s",
                         acct->id, url);
        }
        free(id);
        free(url);
}

/* The job's API work is over: the next event of its key may start. */
static void release_key(ew_job_t *job)
{
        ew_engine_t *eng = job->eng;
        ew_job_t    *next;

        if (!job->holds_key)
                return;
        job->holds_key = 0;
        next = ew_keyq_done(eng->keyq, job->msg_key, job->msg_key_len);
        if (next) {
                next->holds_key = 1;
                ready_push(eng, next);
        }
}

/* Ends the job's API work with a dead letter of kind. */
static void finish_dead(ew_job_t *job, ew_dead_kind_t kind, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void finish_dead(ew_job_t *job, ew_dead_kind_t kind, const char *fmt,
                        ...)
{
        ew_engine_t    *eng = job->eng;
        ew_log_fields_t lf;
        va_list         ap;

        release_key(job);
        va_start(ap, fmt);
        vsnprintf(job->dead_message, sizeof(job->dead_message), fmt, ap);
        va_end(ap);

        job->dead.kind          = kind;
        job->dead.message       = job->dead_message;
        job->dead.http_status   = job->result.http_status;
        job->dead.internal_code = job->result.internal_code;
        job->dead.attempts      = job->attempts;
        job->dead.source        = job->source;
        job->dead.event_id      = job->event_id;
        job->dead.failed_at_ms  = ew_wall_ms();
        if (kind == EW_DEAD_INVALID_EVENT) {
                job->dead.http_status   = 0;
                job->dead.internal_code = -1;
        }

        job->out_hdrs = job->headers ? rd_kafka_headers_copy(job->headers)
                                     : rd_kafka_headers_new(12);
        if (ew_message_dead_letter_headers(&job->dead, job->out_hdrs) == -1)
                EW_WARN("engine",
                        "event %s: could not add every dead-letter "
                        "header",
                        job->event_id);
        job->out.dead_letter = 1;
        job->out.key         = job->msg_key;
        job->out.key_len     = job->msg_key_len;
        job->out.value       = job->value;
        job->out.value_len   = job->value_len;
        job->out.headers     = job->out_hdrs;
        job->out.event_id    = job->event_id;
        job->out.dead        = &job->dead;
        job->out.source      = &job->source;
        eng->stats.dead_letters++;
        ew_metrics_counter_add(eng->metrics, EW_M_DEAD_LETTERS, (int)kind, 1);
        if (job->attempts > 0)
                ew_metrics_observe(eng->metrics, EW_M_ATTEMPTS, job->attempts);

        EW_LOGF(EW_LOG_INFO, "engine", job_fields(job, &lf),
                "dead letter %s: %s", ew_dead_kind_str(kind),
                job->dead_message);
        publish(job);
}

static void finish_outcome(ew_job_t *job)
{
        ew_engine_t    *eng = job->eng;
        ew_log_fields_t lf;

        /* Keep the visit for the key's next event before releasing it. */
        if (job->result.visitor_id && job->result.session_id &&
            job->msg_key_len > 0)
                ew_sessions_put(eng->sessions, job->account, job->msg_key,
                                job->msg_key_len, job->result.visitor_id,
                                job->result.session_id, ew_mono_ms());
        release_key(job);

        job->out_value = ew_message_outcome(
            job->event_id, job->account, &job->result, job->attempts,
            &job->source, ew_wall_ms(), &job->out.value_len);
        if (!job->out_value) {
                finish_dead(job, EW_DEAD_RETRIES_EXHAUSTED,
                            "could not build the outcome message (out of "
                            "memory)");
                return;
        }
        job->out.dead_letter = 0;
        job->out.kind        = job->result.kind;
        job->out.key         = job->msg_key;
        job->out.key_len     = job->msg_key_len;
        job->out.value       = job->out_value;
        job->out.headers     = NULL;
        job->out.event_id    = job->event_id;
        job->out.dead        = NULL;
        job->out.source      = &job->source;
        eng->stats.outcomes++;
        ew_metrics_counter_add(eng->metrics, EW_M_OUTCOMES,
                               (int)job->result.kind, 1);
        ew_metrics_observe(eng->metrics, EW_M_ATTEMPTS, job->attempts);
        EW_LOGF(EW_LOG_DEBUG, "engine", job_fields(job, &lf), "outcome %s",
                ew_result_kind_str(job->result.kind));
        publish(job);
}

static void publish_backoff(ew_job_t *job)
{
        ew_engine_t *eng   = job->eng;
        int64_t      delay = PUBLISH_BACKOFF_MIN;
        int          i;

        for (i = 1; i < job->publish_failures && delay < PUBLISH_BACKOFF_MAX;
             i++)
                delay *= 2;
        if (delay > PUBLISH_BACKOFF_MAX)
                delay = PUBLISH_BACKOFF_MAX;
        job->state = JOB_PUBLISH_WAIT;
        if (ew_timerq_add(eng->timers, &job->timer, ew_mono_ms() + delay,
                          job) == -1) {
                /* Out of memory for the timer: better too soon than never. */
                EW_ERROR("engine",
                         "event %s: cannot arm a timer; publishing "
                         "again now",
                         job->event_id);
                publish(job);
        }
}

/* A message too large to be accepted. A dead letter is cut to
 * EW_ENGINE_TRUNCATE_BYTES (then to nothing) and published again at once,
 * with the original size in a header; the input itself stays in the input
 * topic. Returns 1 if it did that, 0 if nothing more can be cut (an
 * outcome: retried with back-off and logged as an error). */
static int too_large(ew_job_t *job, const char *why)
{
        ew_log_fields_t lf;
        char            size[32];

        if (!job->out.dead_letter || job->out.value_len == 0 ||
            !job->out_hdrs) {
                EW_LOGF(EW_LOG_ERROR, "engine", job_fields(job, &lf),
                        "%s of %zu bytes refused for its size (%s); retrying",
                        job->out.dead_letter ? "dead letter" : "outcome",
                        job->out.value_len, why);
                return 0;
        }
        if (!job->truncated) {
                ew_snprintf(size, sizeof(size), "%zu", job->value_len);
                rd_kafka_header_add(job->out_hdrs, EW_HDR_VALUE_TRUNCATED, -1,
                                    size, -1);
                job->truncated = 1;
        }
        job->out.value_len = job->out.value_len > EW_ENGINE_TRUNCATE_BYTES
                                 ? EW_ENGINE_TRUNCATE_BYTES
                                 : 0;
        EW_LOGF(EW_LOG_WARN, "engine", job_fields(job, &lf),
                "dead letter refused for its size (%s): value cut from %zu "
                "to %zu bytes; the input stays at its source offset",
                why, job->value_len, job->out.value_len);
        publish(job);
        return 1;
}

static void publish(ew_job_t *job)
{
        ew_engine_t *eng = job->eng;
        int          r;

        job->state = JOB_PUBLISHING;
        /* The hook may report back (and so free the job) before it
         * returns: the job is not touched after a 0. */
        r = eng->hooks.publish(eng->hooks.arg, job, &job->out);
        if (r == 0)
                return;
        if (r == EW_ENGINE_TOO_LARGE && too_large(job, "over the producer's "
                                                       "message.max.bytes"))
                return;
        job->publish_failures++;
        publish_backoff(job);
}

void ew_engine_published_too_large(ew_engine_t *eng, ew_job_t *job,
                                   const char *err)
{
        if (!too_large(job, err))
                ew_engine_published(eng, job, err);
}

void ew_engine_published(ew_engine_t *eng, ew_job_t *job, const char *err)
{
        if (err) {
                ew_log_fields_t lf;
                job->publish_failures++;
                EW_LOGF(EW_LOG_WARN, "engine", job_fields(job, &lf),
                        "%s not delivered (%s); publishing again (failure %d)",
                        job->out.dead_letter ? "dead letter" : "outcome", err,
                        job->publish_failures);
                publish_backoff(job);
                return;
        }
        if (job->timestamp_ms > 0)
                ew_metrics_observe(eng->metrics, EW_M_END_TO_END,
                                   (double)(ew_wall_ms() - job->timestamp_ms) /
                                       1000.0);
        if (eng->hooks.done)
                eng->hooks.done(eng->hooks.arg, job->opaque, &job->out);
        job_free(job);
}

static void schedule_retry(ew_job_t *job, const char *retry_after)
{
        ew_engine_t       *eng  = job->eng;
        const ew_config_t *conf = eng->conf;
        ew_log_fields_t    lf;
        int64_t            delay, ra;

        if (job->attempts > conf->retry.delays_cnt) {
                finish_dead(job, EW_DEAD_RETRIES_EXHAUSTED,
                            "gave up after %d attempt(s): %s", job->attempts,
                            job->result.message
                                ? job->result.message
                                : ew_result_kind_str(job->result.kind));
                return;
        }
        delay = conf->retry.delays_ms[job->attempts - 1];
        if (conf->retry.jitter > 0)
                delay = (int64_t)((double)delay *
                                  (1.0 + conf->retry.jitter *
                                             (2.0 * rand_unit(eng) - 1.0)));
        ra = ew_response_retry_after_ms(retry_after, ew_wall_ms());
        if (ra > delay)
                delay = ra;
        if (delay < 0)
                delay = 0;
        EW_LOGF(EW_LOG_DEBUG, "engine", job_fields(job, &lf),
                "%s; retry in %lld ms", ew_result_kind_str(job->result.kind),
                (long long)delay);
        job->state = JOB_RETRY_WAIT;
        eng->stats.retries++;
        ew_metrics_counter_add(eng->metrics, EW_M_RETRIES, 0, 1);
        if (ew_timerq_add(eng->timers, &job->timer, ew_mono_ms() + delay,
                          job) == -1) {
                EW_ERROR("engine",
                         "event %s: cannot arm a timer; retrying "
                         "now",
                         job->event_id);
                ready_push(eng, job);
        }
}

/* Counts a finished call on the account's circuit breaker. */
static void account_record(ew_engine_t *eng, ew_account_t *acct, int failed)
{
        if (!ew_account_record(acct, ew_mono_ms(), failed))
                return;
        ew_metrics_circuit_set(eng->metrics, acct->id,
                               (ew_m_circuit_t)acct->circuit);
        if (acct->circuit == EW_CIRCUIT_OPEN) {
                EW_WARN("engine",
                        "account %s: circuit open after repeated failures; its "
                        "calls wait %d ms, then one probe decides",
                        acct->id, eng->conf->monitoring.circuit_cooldown_ms);
                account_wake_at(eng, acct, acct->open_until_ms);
        } else if (acct->circuit == EW_CIRCUIT_CLOSED) {
                EW_INFO("engine", "account %s: circuit closed again", acct->id);
                unpark_all(eng, acct);
        }
}

static void on_http_done(void *opaque, const ew_http_result_t *hr)
{
        ew_job_t    *job = opaque;
        ew_engine_t *eng = job->eng;
        ew_result_t *res = &job->result;

        job->req = NULL;
        eng->in_flight--;
        ew_result_clear(res);
        ew_metrics_counter_add(eng->metrics, EW_M_API_RESPONSES,
                               (int)ew_metrics_http_class(hr->status), 1);
        ew_metrics_observe(eng->metrics, EW_M_API_LATENCY,
                           (double)hr->elapsed_ms / 1000.0);

        if (hr->status == 0) {
                char msg[512];
                if (hr->timed_out)
                        ew_snprintf(msg, sizeof(msg), "timeout after %d ms: %s",
                                    eng->conf->monitoring.timeout_ms,
                                    hr->error ? hr->error : "");
                else
                        ew_snprintf(msg, sizeof(msg), "transport error: %s",
                                    hr->error ? hr->error : "unknown");
                ew_response_transport_error(msg, res);
        } else {
                ew_response_classify(eng->conf->monitoring.api_version,
                                     hr->status, hr->body, hr->body_len, res);
        }

        account_record(eng, job->acct, res->kind == EW_RESULT_RETRYABLE);

        switch (res->kind) {
        case EW_RESULT_ENGAGEMENT:
        case EW_RESULT_CONVERSATION:
        case EW_RESULT_UNAVAILABLE:
                finish_outcome(job);
                break;
        case EW_RESULT_LOADING:
                /* The doc: retry with the vid the answer announced. */
                if (res->loading_vid) {
                        free(job->vid);
                        job->vid = ew_strdup(res->loading_vid);
                }
                schedule_retry(job, hr->retry_after);
                break;
        case EW_RESULT_RETRYABLE:
                schedule_retry(job, hr->retry_after);
                break;
        case EW_RESULT_REJECTED:
        default:
                if ((res->internal_code == 37 || res->internal_code == 39) &&
                    res->http_status == 404 && job->visit_from_cache) {
                        /* The cached visit expired at the API: forget it
                         * and ask again at once without it. */
                        ew_sessions_remove(eng->sessions, job->account,
                                           job->msg_key, job->msg_key_len);
                        free(job->vid);
                        free(job->sid);
                        job->vid = job->sid   = NULL;
                        job->visit_from_cache = 0;
                        ew_log_fields_t lf;
                        EW_LOGF(EW_LOG_INFO, "engine", job_fields(job, &lf),
                                "cached visit expired (internalCode %d); "
                                "retrying without it",
                                res->internal_code);
                        if (job->attempts > eng->conf->retry.delays_cnt)
                                schedule_retry(job, NULL); /* exhausted */
                        else
                                ready_push(eng, job);
                } else if (res->internal_code >= 0) {
                        finish_dead(job, EW_DEAD_REJECTED,
                                    "HTTP %d internalCode %d: %s",
                                    res->http_status, res->internal_code,
                                    res->message ? res->message : "rejected");
                } else {
                        /* The classifier's message already names the
                         * status when the body carried no message. */
                        finish_dead(job, EW_DEAD_REJECTED, "%s",
                                    res->message ? res->message : "rejected");
                }
                break;
        }
        pump(eng);
}

/* Decides the visit the job's first call carries: the event's own
 * visitorId/sessionId win; else what the API last returned for this
 * (account, key). */
static void choose_visit(ew_job_t *job)
{
        ew_engine_t *eng = job->eng;
        const char  *vid = NULL, *sid = NULL;

        job->vid_sid_set = 1;
        if (job->ev_vid || job->ev_sid) {
                vid = job->ev_vid;
                sid = job->ev_sid;
        } else if (job->msg_key_len > 0) {
                job->visit_from_cache =
                    ew_sessions_get(eng->sessions, job->account, job->msg_key,
                                    job->msg_key_len, ew_mono_ms(), &vid, &sid);
        }
        job->vid = ew_strdup(vid);
        job->sid = ew_strdup(sid);
}

static void dispatch(ew_job_t *job)
{
        ew_engine_t        *eng = job->eng;
        ew_request_params_t params;
        char                errstr[256];
        char               *url;

        if (!job->vid_sid_set)
                choose_visit(job);
        memset(&params, 0, sizeof(params));
        params.base_url            = job->acct->base_url;
        params.account_id          = job->account;
        params.app_installation_id = job->app;
        params.api_version         = eng->conf->monitoring.api_version;
        params.visitor_id          = job->vid;
        params.session_id          = job->sid;
        params.on_behalf           = 1;

        job->attempts++;
        eng->stats.api_calls++;
        url = ew_request_url(&params, errstr, sizeof(errstr));
        if (url)
                job->req = ew_http_post(
                    eng->http, url, job->body, job->body_len, job->traceparent,
                    on_http_done, job, errstr, sizeof(errstr));
        free(url);
        if (!job->req) {
                /* Could not even start: counts as a failed attempt. */
                ew_result_clear(&job->result);
                ew_response_transport_error(errstr, &job->result);
                account_record(eng, job->acct, 1);
                schedule_retry(job, NULL);
                return;
        }
        job->state = JOB_IN_FLIGHT;
        eng->in_flight++;
}

/* Starts ready jobs while slots are free; a job whose account cannot take
 * a call now (host unknown, no token, circuit open) is parked on it. */
static void pump(ew_engine_t *eng)
{
        int     discover = eng->conf->monitoring.base_url == NULL;
        int64_t now      = ew_mono_ms();

        if (eng->no_pump)
                return;
        while (eng->ready_head &&
               eng->in_flight < eng->conf->monitoring.max_in_flight) {
                ew_job_t     *job  = eng->ready_head;
                ew_account_t *acct = job->acct;
                int64_t       wake = -1;
                ew_admit_t    admit;

                ready_unlink(eng, job);
                if (discover && ew_account_domain_due(acct, now))
                        domain_lookup(eng, acct);
                admit = ew_account_admit(acct, now, &wake);
                if (admit == EW_ADMIT_OK) {
                        dispatch(job);
                        continue;
                }
                park(eng, job);
                if (wake >= 0)
                        account_wake_at(eng, acct, wake);
        }
}

ew_http_t *ew_engine_http_new(ew_loop_t *loop, const ew_config_t *conf,
                              char *errstr, size_t errstr_size)
{
        ew_http_conf_t hc;

        if (conf->monitoring.insecure_skip_verify)
                EW_WARN("engine", "monitoring.insecure_skip_verify is set: TLS "
                                  "certificates of the API are NOT verified");
        memset(&hc, 0, sizeof(hc));
        hc.timeout_ms           = conf->monitoring.timeout_ms;
        hc.connect_timeout_ms   = conf->monitoring.connect_timeout_ms;
        hc.user_agent           = conf->monitoring.user_agent;
        hc.ca_bundle            = conf->monitoring.ca_bundle;
        hc.insecure_skip_verify = conf->monitoring.insecure_skip_verify;
        hc.max_body_bytes       = 1024 * 1024;
        /* One cached connection per request in flight (HTTP/1.1). */
        hc.max_connections = conf->monitoring.max_in_flight;
        return ew_http_new(loop, &hc, errstr, errstr_size);
}

ew_engine_t *ew_engine_new(const ew_config_t *conf, ew_http_t *http,
                           const ew_engine_hooks_t *hooks, char *errstr,
                           size_t errstr_size)
{
        ew_engine_t      *eng = calloc(1, sizeof(*eng));
        ew_event_limits_t lim = EW_EVENT_LIMITS_DEFAULT;

        if (!eng)
                goto oom;
        eng->conf             = conf;
        eng->http             = http;
        eng->hooks            = *hooks;
        eng->limits           = lim;
        eng->limits.max_bytes = (size_t)conf->worker.max_event_bytes;
        eng->rng = (uint64_t)ew_wall_ms() * 6364136223846793005ULL ^
                   (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
        if (!eng->rng)
                eng->rng = 1;
        eng->acct_conf.base_url      = conf->monitoring.base_url;
        eng->acct_conf.rate_per_s    = conf->monitoring.rate_limit_per_s;
        eng->acct_conf.failure_ratio = conf->monitoring.circuit_failure_ratio;
        eng->acct_conf.min_requests  = conf->monitoring.circuit_min_requests;
        eng->acct_conf.window_ms     = conf->monitoring.circuit_window_ms;
        eng->acct_conf.cooldown_ms   = conf->monitoring.circuit_cooldown_ms;
        eng->acct_conf.domain_ttl_ms = conf->monitoring.domain_ttl_s * 1000;
        eng->accounts                = ew_hash_new(0);
        eng->acct_timers             = ew_timerq_new(0);
        eng->keyq                    = ew_keyq_new(0);
        eng->timers                  = ew_timerq_new(0);
        eng->sessions =
            ew_sessions_new((size_t)conf->worker.session_cache_size,
                            (int64_t)conf->worker.session_ttl_s * 1000);
        if (!eng->keyq || !eng->timers || !eng->sessions || !eng->accounts ||
            !eng->acct_timers)
                goto oom;
        /* The key is absorbed once; each sub and consumerId then costs two
         * SHA-256 compressions (ew_hmac.h). */
        if (conf->identity.hash_key) {
                eng->hasher = ew_hmac_new(conf->identity.hash_key,
                                          strlen(conf->identity.hash_key),
                                          errstr, errstr_size);
                if (!eng->hasher)
                        goto error;
        }
        return eng;

oom:
        ew_snprintf(errstr, errstr_size, "out of memory creating the engine");
error:
        ew_engine_destroy(eng);
        return NULL;
}

static int destroy_account(const void *key, size_t keylen, void *value,
                           void *arg)
{
        ew_account_t *acct = value;
        ew_engine_t  *eng  = arg;

        (void)key;
        (void)keylen;
        if (acct->lookup)
                ew_http_cancel(eng->http, acct->lookup);
        ew_account_destroy(acct);
        return EW_HASH_REMOVE;
}

void ew_engine_destroy(ew_engine_t *eng)
{
        int i;

        if (!eng)
                return;
        while (eng->jobs) {
                ew_job_t *job = eng->jobs;
                if (job->req)
                        ew_http_cancel(eng->http, job->req);
                if (eng->hooks.dropped)
                        eng->hooks.dropped(eng->hooks.arg, job->opaque);
                job_free(job);
        }
        if (eng->accounts)
                ew_hash_foreach(eng->accounts, destroy_account, eng);
        ew_hash_destroy(eng->accounts);
        ew_timerq_destroy(eng->acct_timers);
        ew_keyq_destroy(eng->keyq);
        ew_timerq_destroy(eng->timers);
        ew_sessions_destroy(eng->sessions);
        ew_hmac_destroy(eng->hasher);
        for (i = 0; i < eng->topics_cnt; i++)
                free(eng->topics[i]);
        free(eng);
}

/* W3C Trace Context: version-traceid-parentid-flags in lowercase hex
 * (2-32-16-2), later versions possibly followed by "-more". */
static int valid_traceparent(const char *v, size_t n)
{
        static const size_t dash[] = {2, 35, 52};
        size_t              i, d = 0;

        if (n < 55 || (n > 55 && v[55] != '-') || (v[0] == 'f' && v[1] == 'f'))
                return 0;
        for (i = 0; i < 55; i++) {
                if (d < 3 && i == dash[d]) {
                        if (v[i] != '-')
                                return 0;
                        d++;
                } else if (!((v[i] >= '0' && v[i] <= '9') ||
                             (v[i] >= 'a' && v[i] <= 'f'))) {
                        return 0;
                }
        }
        for (; i < n; i++)
                if (v[i] < 0x21 || v[i] > 0x7e)
                        return 0;
        return 1;
}

static char *header_string(rd_kafka_headers_t *hdrs, const char *name)
{
        const void *val;
        size_t      size;
        char       *s;

        if (!hdrs ||
            rd_kafka_header_get_last(hdrs, name, &val, &size) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            !val || size == 0 || size > 512)
                return NULL;
        if (!valid_traceparent(val, size))
                return NULL; /* forward only a well-formed W3C value */
        s = malloc(size + 1);
        if (!s)
                return NULL;
        memcpy(s, val, size);
        s[size] = '\0';
        return s;
}

/* Copies what the job keeps of the parsed event (app id, own visit, the
 * derived key) into one allocation, so the parsed event can go at once: a
 * waiting event then costs its raw value and its request body. Returns 0,
 * or -1 if out of memory. */
static int take_event(ew_job_t *job, const ew_event_t *ev)
{
        const ew_config_t *conf     = job->eng->conf;
        const char        *parts[4] = {ev->app_installation_id, ev->visitor_id,
                                       ev->session_id, NULL};
        size_t             lens[4]  = {0, 0, 0, 0};
        const char       **dst[3]   = {&job->app, &job->ev_vid, &job->ev_sid};
        const void        *key;
        size_t             key_len, need = 0;
        char              *p;
        int                i;

        key = ew_message_key(job->key, job->key_len, ev, &key_len);
        if (key && key != (const void *)job->key) {
                parts[3] = key; /* derived: lives in the event */
                lens[3]  = key_len;
        }
        for (i = 0; i < 3; i++)
                lens[i] = parts[i] ? strlen(parts[i]) : 0;
        for (i = 0; i < 4; i++)
                need += parts[i] ? lens[i] + 1 : 0;
        p = job->strs = malloc(need ? need : 1);
        if (!p)
                return -1;
        for (i = 0; i < 4; i++) {
                if (!parts[i])
                        continue;
                memcpy(p, parts[i], lens[i]);
                p[lens[i]] = '\0';
                if (i < 3)
                        *dst[i] = p;
                else
                        key = p;
                p += lens[i] + 1;
        }
        if (!job->app)
                job->app = conf->monitoring.app_installation_id;
        job->msg_key     = key;
        job->msg_key_len = key ? key_len : 0;
        return 0;
}

int ew_engine_submit(ew_engine_t *eng, const ew_input_t *in)
{
        const ew_config_t *conf = eng->conf;
        ew_event_t        *ev   = NULL;
        const char        *account;
        char               errstr[512];
        ew_job_t          *job;
        int                r;

        job = calloc(1, sizeof(*job));
        if (!job)
                goto oom;
        job->buf = malloc(in->key_len + in->value_len + 1);
        if (!job->buf) {
                free(job);
                goto oom;
        }
        job->eng    = eng;
        job->opaque = in->opaque;
        ew_timer_init(&job->timer);
        job->result.internal_code = -1;
        if (in->key) {
                memcpy(job->buf, in->key, in->key_len);
                job->key     = job->buf;
                job->key_len = in->key_len;
        }
        if (in->value_len)
                memcpy(job->buf + in->key_len, in->value, in->value_len);
        job->buf[in->key_len + in->value_len] = '\0';
        job->value                            = job->buf + in->key_len;
        job->value_len                        = in->value_len;
        job->headers                          = in->headers;
        job->source                           = in->source;
        job->source.topic = intern_topic(eng, in->source.topic);
        job->timestamp_ms = in->timestamp_ms;
        job->submitted_ms = ew_mono_ms();
        job_link(eng, job);
        eng->stats.submitted++;

        /* Until the event parses, its messages carry the input key. */
        job->msg_key =
            ew_message_key(job->key, job->key_len, NULL, &job->msg_key_len);
        if (ew_event_parse(job->value, job->value_len, &eng->limits,
                           &job->source, &ev, job->event_id,
                           sizeof(job->event_id), errstr,
                           sizeof(errstr)) == -1) {
                finish_dead(job, EW_DEAD_INVALID_EVENT, "%s", errstr);
                return 0;
        }
        account = ev->account_id ? ev->account_id : conf->monitoring.account_id;
        if (!account) {
                ew_event_destroy(ev);
                finish_dead(job, EW_DEAD_INVALID_EVENT,
                            "accountId: missing: the event has none and "
                            "monitoring.account_id is not set");
                return 0;
        }
        job->acct = account_get(eng, account);
        if (!job->acct || take_event(job, ev) == -1) {
                ew_event_destroy(ev);
                finish_dead(job, EW_DEAD_INVALID_EVENT,
                            "out of memory taking the event");
                return 0;
        }
        job->account = job->acct->id;
        job->body    = ew_request_body(ev, eng->hasher, &job->body_len);
        /* From here on the job needs none of the parsed event. */
        ew_event_destroy(ev);
        if (!job->app) {
                finish_dead(job, EW_DEAD_INVALID_EVENT,
                            "appInstallationId: missing: the event has none "
                            "and monitoring.app_installation_id is not set");
                return 0;
        }
        if (!job->body) {
                finish_dead(job, EW_DEAD_INVALID_EVENT,
                            "could not build the request body (out of "
                            "memory)");
                return 0;
        }
        job->traceparent = header_string(job->headers, "traceparent");

        r = ew_keyq_push(eng->keyq, job->msg_key, job->msg_key_len, job);
        if (r == 1) {
                job->holds_key = 1;
                ready_push(eng, job);
                pump(eng);
        } else if (r == 0) {
                job->state = JOB_QUEUED;
        } else {
                /* Key too long for the key queues: order cannot be kept
                 * for it, but the event is still answered. */
                EW_WARN("engine", "event %s: key not orderable (%zu bytes)",
                        job->event_id, job->msg_key_len);
                ready_push(eng, job);
                pump(eng);
        }
        return 0;

oom:
        EW_ERROR("engine",
                 "out of memory taking an event from %s [%d] "
                 "offset %lld",
                 in->source.topic, in->source.partition,
                 (long long)in->source.offset);
        if (in->headers)
                rd_kafka_headers_destroy(in->headers);
        return -1;
}

long ew_engine_timeout_ms(const ew_engine_t *eng)
{
        int64_t due  = ew_timerq_next_due(eng->timers);
        int64_t adue = ew_timerq_next_due(eng->acct_timers);
        int64_t now;

        if (adue >= 0 && (due < 0 || adue < due))
                due = adue;

        if (due < 0)
                return -1;
        now = ew_mono_ms();
        return due <= now ? 0 : (long)(due - now);
}

void ew_engine_run_timers(ew_engine_t *eng)
{
        int64_t   now = ew_mono_ms();
        ew_job_t *job;

        ew_account_t *acct;

        while ((acct = ew_timerq_pop_due(eng->acct_timers, now))) {
                acct->wake_ms = -1;
                if (acct->domain == EW_DOMAIN_FAILED &&
                    ew_account_domain_due(acct, now))
                        domain_lookup(eng, acct);
                unpark_all(eng, acct);
        }
        while ((job = ew_timerq_pop_due(eng->timers, now))) {
                if (job->state == JOB_RETRY_WAIT)
                        ready_push(eng, job);
                else if (job->state == JOB_PUBLISH_WAIT)
                        publish(job);
        }
        pump(eng);
}

typedef struct abandon_ctx {
        int (*pred)(void *opaque, void *arg);
        void *arg;
} abandon_ctx_t;

static int queued_matches(void *item, void *arg)
{
        ew_job_t      *job = item;
        abandon_ctx_t *ctx = arg;

        return ctx->pred(job->opaque, ctx->arg);
}

static void drop_job(ew_job_t *job)
{
        ew_engine_t *eng = job->eng;

        if (eng->hooks.dropped)
                eng->hooks.dropped(eng->hooks.arg, job->opaque);
        job_free(job);
}

static void on_queued_removed(void *item, void *arg)
{
        (void)arg;
        drop_job(item);
}

int ew_engine_abandon(ew_engine_t *eng, int (*pred)(void *opaque, void *arg),
                      void *arg, int include_in_flight)
{
        abandon_ctx_t ctx = {pred, arg};
        ew_job_t     *job, *next;
        int           cnt;

        eng->no_pump = 1;
        /* Queued jobs first, so releasing a key below never hands it to a
         * job that is about to be abandoned too. */
        cnt = (int)ew_keyq_remove_if(eng->keyq, queued_matches, &ctx,
                                     on_queued_removed);
        for (job = eng->jobs; job; job = next) {
                next = job->next;
                if (!pred(job->opaque, arg))
                        continue;
                switch (job->state) {
                case JOB_READY:
                        ready_unlink(eng, job);
                        break;
                case JOB_PARKED:
                        unpark_one(job);
                        break;
                case JOB_RETRY_WAIT:
                        ew_timerq_cancel(eng->timers, &job->timer);
                        break;
                case JOB_IN_FLIGHT:
                        if (!include_in_flight)
                                continue;
                        ew_http_cancel(eng->http, job->req);
                        job->req = NULL;
                        eng->in_flight--;
                        /* If it was the half-open circuit's probe, the next
                         * call may probe instead. */
                        if (job->acct->circuit == EW_CIRCUIT_HALF_OPEN)
                                job->acct->probe_out = 0;
                        break;
                default: /* queued (handled above) or publishing */
                        continue;
                }
                /* Releasing may make the key's next job ready; it cannot be
                 * the one "next" points at being freed here. */
                release_key(job);
                drop_job(job);
                cnt++;
        }
        eng->no_pump = 0;
        pump(eng);
        return cnt;
}

void ew_engine_set_metrics(ew_engine_t *eng, ew_metrics_t *m)
{
        eng->metrics = m;
}

void ew_engine_get_stats(const ew_engine_t *eng, ew_engine_stats_t *st)
{
        *st           = eng->stats;
        st->in_flight = eng->in_flight;
        st->waiting   = eng->live;
        st->ready     = eng->ready;
        st->timers    = (int)ew_timerq_count(eng->timers);
}
