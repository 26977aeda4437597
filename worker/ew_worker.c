/*
 * ew_worker - see ew_worker.h.
 */
#include "ew_worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ew_consumer.h"
#include "ew_engine.h"
#include "ew_http.h"
#include "ew_log.h"
#include "ew_loop.h"
#include "ew_metrics.h"
#include "ew_producer.h"
#include "ew_util.h"
#include "ew_version.h"

/* The loop wakes at least this often: librdkafka must see the consumer
 * polled within max.poll.interval.ms even when no message arrives. */
#define TICK_MS 1000
#define STATS_EVERY_MS 60000

typedef struct ew_worker {
        const ew_config_t *conf;
        ew_loop_t         *loop;
        ew_http_t         *http;
        ew_engine_t       *eng;
        ew_producer_t     *prod;
        ew_consumer_t     *cons;
        ew_metrics_t      *metrics; /* never NULL once started */
        int                sigfd;
        int                signals;       /* 1: stopping, 2+: stop at once */
        int                draining;      /* inside a revoke drain */
        ew_worker_flow_t   flow;          /* backpressure state */
        int64_t            held_since_ms; /* when holding began */
        int64_t            next_tick_ms;
        int64_t            next_stats_ms;
        int64_t            consumed;
} ew_worker_t;

static int stopping(const ew_worker_t *w)
{
        return w->signals > 0;
}

static int hard_stop(const ew_worker_t *w)
{
        return w->signals > 1;
}

static void backpressure(ew_worker_t *w, int may_poll);

/* --- hooks ------------------------------------------------------------ */

static int on_message(void *arg, ew_partition_t *part, rd_kafka_message_t *rkm)
{
        ew_worker_t *w = arg;
        ew_input_t   in;

        if (stopping(w))
                return -1; /* not taken: redone by whoever comes next */
        memset(&in, 0, sizeof(in));
        in.key       = rkm->key;
        in.key_len   = rkm->key ? rkm->key_len : 0;
        in.value     = rkm->payload;
        in.value_len = rkm->payload ? rkm->len : 0;
        if (rd_kafka_message_detach_headers(rkm, &in.headers))
                in.headers = NULL;
        in.source.topic     = rd_kafka_topic_name(rkm->rkt);
        in.source.partition = rkm->partition;
        in.source.offset    = rkm->offset;
        in.timestamp_ms     = rd_kafka_message_timestamp(rkm, NULL);
        in.opaque           = part;
        w->consumed++;
        ew_metrics_counter_add(w->metrics, EW_M_EVENTS_CONSUMED, 0, 1);
        if (ew_engine_submit(w->eng, &in) == -1)
                return -1;
        /* Per message, not per batch: the hold starts at the message that
         * reaches the watermark (on_room already sized the batch so that
         * none goes past it). */
        backpressure(w, 0 /*inside the consumer's poll*/);
        return 0;
}

static int on_room(void *arg)
{
        ew_worker_t      *w = arg;
        ew_engine_stats_t st;

        ew_engine_get_stats(w->eng, &st);
        return ew_worker_flow_room(w->flow, st.waiting, w->conf);
}

static int on_publish(void *arg, ew_job_t *job, const ew_output_t *out)
{
        ew_worker_t *w = arg;
        char         errstr[512];
        int          r;

        r = ew_producer_send(w->prod, out->dead_letter, out->key, out->key_len,
                             out->value, out->value_len, out->headers, job,
                             errstr, sizeof(errstr));
        if (r == -2)
                return EW_ENGINE_TOO_LARGE;
        if (r == -1) {
                EW_WARN("worker", "event %s: %s; will try again", out->event_id,
                        errstr);
                return -1;
        }
        return 0;
}

static void on_delivery(void *arg, void *msg_opaque, const char *err,
                        int too_large)
{
        ew_worker_t *w = arg;

        if (too_large)
                ew_engine_published_too_large(w->eng, msg_opaque, err);
        else
                ew_engine_published(w->eng, msg_opaque, err);
}

static void on_done(void *arg, void *opaque, const ew_output_t *out)
{
        ew_worker_t *w = arg;

        ew_consumer_done(w->cons, opaque, out->source->offset);
}

static void on_stats(void *arg, const char *json, size_t len)
{
        ew_worker_t *w = arg;

        ew_metrics_update_from_stats(w->metrics, json, len);
}

static void on_dropped(void *arg, void *opaque)
{
        ew_worker_t *w = arg;

        ew_consumer_dropped(w->cons, opaque);
}

/* --- the loop ---------------------------------------------------------- */

static void on_signal(ew_loop_t *loop, int fd, int events, void *opaque)
{
        ew_worker_t            *w = opaque;
        struct signalfd_siginfo si;

        (void)loop;
        (void)events;
        while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                w->signals++;
                if (w->signals == 1)
                        EW_INFO("worker",
                                "%s: shutting down (in-flight work has %d ms; "
                                "a second signal stops at once)",
                                strsignal((int)si.ssi_signo),
                                w->conf->worker.shutdown_timeout_ms);
                else
                        EW_WARN("worker",
                                "%s again: stopping now; "
                                "uncommitted events will be redone",
                                strsignal((int)si.ssi_signo));
        }
}

static void log_stats(ew_worker_t *w)
{
        ew_engine_stats_t st;

        ew_engine_get_stats(w->eng, &st);
        EW_INFO("worker",
                "consumed %lld, outcomes %lld, dead letters %lld, API calls "
                "%lld, retries %lld; in flight %d, waiting %d, partitions %d%s",
                (long long)w->consumed, (long long)st.outcomes,
                (long long)st.dead_letters, (long long)st.api_calls,
                (long long)st.retries, st.in_flight, st.waiting,
                ew_consumer_assigned_cnt(w->cons),
                ew_consumer_paused(w->cons)    ? " (paused)"
                : w->flow == EW_WORKER_HOLDING ? " (holding)"
                                               : "");
}

ew_worker_flow_t ew_worker_flow_next(ew_worker_flow_t state, int waiting,
                                     int64_t held_ms, int stopping,
                                     const ew_config_t *conf)
{
        int high = conf->worker.queue_high_watermark;
        int low  = conf->worker.queue_low_watermark;

        switch (state) {
        case EW_WORKER_TAKING:
                if (waiting < high)
                        return EW_WORKER_TAKING;
                return conf->worker.hold_max_ms > 0 ? EW_WORKER_HOLDING
                                                    : EW_WORKER_PAUSED;
        case EW_WORKER_HOLDING:
                /* Releasing beats pausing: it costs no refetch. */
                if (waiting <= low && !stopping)
                        return EW_WORKER_TAKING;
                return held_ms >= conf->worker.hold_max_ms ? EW_WORKER_PAUSED
                                                           : EW_WORKER_HOLDING;
        case EW_WORKER_PAUSED:
        default:
                return waiting <= low && !stopping ? EW_WORKER_TAKING
                                                   : EW_WORKER_PAUSED;
        }
}

int ew_worker_flow_room(ew_worker_flow_t state, int waiting,
                        const ew_config_t *conf)
{
        int room = conf->worker.queue_high_watermark - waiting;

        return state == EW_WORKER_TAKING && room > 0 ? room : 0;
}

/* Moves to the next backpressure state. may_poll: 0 when called from
 * inside the consumer's poll, which must not be re-entered. */
static void backpressure(ew_worker_t *w, int may_poll)
{
        ew_engine_stats_t st;
        ew_worker_flow_t  next;
        int64_t           now = 0, held = 0;

        ew_engine_get_stats(w->eng, &st);
        if (w->flow == EW_WORKER_HOLDING) {
                now  = ew_mono_ms();
                held = now - w->held_since_ms;
        }
        next = ew_worker_flow_next(w->flow, st.waiting, held, stopping(w),
                                   w->conf);
        if (next == w->flow)
                return;
        if (next == EW_WORKER_HOLDING) {
                EW_INFO("worker", "%d events waiting: holding", st.waiting);
                w->held_since_ms = ew_mono_ms();
        } else if (next == EW_WORKER_PAUSED) {
                if (w->flow == EW_WORKER_HOLDING)
                        EW_INFO("worker",
                                "%d events waiting, held for %lld ms: "
                                "pausing fetch",
                                st.waiting, (long long)held);
                else
                        EW_INFO("worker", "%d events waiting: pausing fetch",
                                st.waiting);
                ew_consumer_set_paused(w->cons, 1);
        } else if (w->flow == EW_WORKER_HOLDING) {
                EW_INFO("worker",
                        "%d events waiting: releasing after %lld ms held",
                        st.waiting, (long long)held);
        } else {
                EW_INFO("worker", "%d events waiting: resuming fetch",
                        st.waiting);
                ew_consumer_set_paused(w->cons, 0);
        }
        w->flow = next;
        /* Serve the consumer queue at once: after a release the held
         * messages are there already (their wake-up came and went); after
         * a pause, the rebalances and errors behind them get through. */
        if (may_poll && next != EW_WORKER_HOLDING)
                ew_consumer_poll(w->cons);
}

/* The loop's own gauges and its heartbeat, for /metrics and /healthz. */
static void update_gauges(ew_worker_t *w)
{
        ew_engine_stats_t st;
        int               assigned = ew_consumer_assigned_cnt(w->cons);

        ew_engine_get_stats(w->eng, &st);
        ew_metrics_heartbeat(w->metrics, ew_mono_ms());
        ew_metrics_gauge_set(w->metrics, EW_M_IN_FLIGHT, st.in_flight);
        ew_metrics_gauge_set(w->metrics, EW_M_WAITING, st.waiting);
        ew_metrics_gauge_set(w->metrics, EW_M_ASSIGNED_PARTITIONS, assigned);
        ew_metrics_gauge_set(w->metrics, EW_M_PAUSED_PARTITIONS,
                             ew_consumer_paused(w->cons) ? assigned : 0);
        ew_metrics_gauge_set(w->metrics, EW_M_HOLDING,
                             w->flow == EW_WORKER_HOLDING);
        ew_metrics_gauge_set(w->metrics, EW_M_PRODUCER_QUEUE_DEPTH,
                             ew_producer_outq_len(w->prod));
        ew_metrics_set_ready(w->metrics, assigned > 0 && !stopping(w));
}

/* One turn of the loop: wait for the earliest of an fd, curl's timer, a
 * retry timer or the tick; then serve what is due. */
static void iterate(ew_worker_t *w, long max_wait_ms)
{
        long    wait = max_wait_ms, t;
        int64_t now;

        t = ew_http_timeout_ms(w->http);
        if (t >= 0 && t < wait)
                wait = t;
        t = ew_engine_timeout_ms(w->eng);
        if (t >= 0 && t < wait)
                wait = t;
        now = ew_mono_ms();
        if (w->next_tick_ms - now < wait)
                wait =
                    w->next_tick_ms > now ? (long)(w->next_tick_ms - now) : 0;
        if (w->flow == EW_WORKER_HOLDING && !w->draining) {
                /* Wake when the hold runs out, even if nothing finishes. */
                int64_t end = w->held_since_ms + w->conf->worker.hold_max_ms;
                if (end - now < wait)
                        wait = end > now ? (long)(end - now) : 0;
        }

        ew_loop_run_once(w->loop, (int)wait);

        if (ew_http_timeout_ms(w->http) == 0)
                ew_http_on_timeout(w->http);
        ew_engine_run_timers(w->eng);
        ew_consumer_store_offsets(w->cons);
        update_gauges(w);

        now = ew_mono_ms();
        if (now >= w->next_tick_ms) {
                w->next_tick_ms = now + TICK_MS;
                if (!w->draining)
                        ew_consumer_poll(w->cons);
                ew_producer_poll(w->prod);
        }
        if (now >= w->next_stats_ms) {
                w->next_stats_ms = now + STATS_EVERY_MS;
                log_stats(w);
        }
        if (!w->draining)
                backpressure(w, 1);
}

/* --- revoke and shutdown ------------------------------------------------ */

typedef struct part_set {
        ew_partition_t **parts;
        int              cnt;
} part_set_t;

static int in_set(void *opaque, void *arg)
{
        part_set_t *set = arg;
        int         i;

        for (i = 0; i < set->cnt; i++)
                if (set->parts[i] == opaque)
                        return 1;
        return 0;
}

static int any(void *opaque, void *arg)
{
        (void)opaque;
        (void)arg;
        return 1;
}

static int set_pending(const part_set_t *set)
{
        int i, n = 0;

        for (i = 0; i < set->cnt; i++)
                n += ew_partition_pending(set->parts[i]);
        return n;
}

/* Runs the loop (without consuming) until pending() reaches 0, the
 * deadline passes or a second signal comes; what has not started is
 * abandoned on every turn, so only in-flight and publishing work remains. */
static void drain(ew_worker_t *w, int (*pred)(void *, void *), void *arg,
                  int (*pending)(ew_worker_t *, void *), int64_t deadline)
{
        ew_engine_abandon(w->eng, pred, arg, 0);
        while (pending(w, arg) > 0 && !hard_stop(w)) {
                int64_t left = deadline - ew_mono_ms();
                if (left <= 0)
                        break;
                iterate(w, left < 100 ? (long)left : 100);
                ew_engine_abandon(w->eng, pred, arg, 0);
        }
        ew_engine_abandon(w->eng, pred, arg, 1);
}

static int revoke_pending(ew_worker_t *w, void *arg)
{
        (void)w;
        return set_pending(arg);
}

static void on_revoke(void *arg, ew_partition_t **parts, int cnt, int lost)
{
        ew_worker_t *w       = arg;
        part_set_t   set     = {parts, cnt};
        int64_t      started = ew_mono_ms();
        int          before;

        if (!w->eng)
                return; /* tearing down: nothing left to finish */
        before = set_pending(&set);
        if (lost) {
                /* The group gave them away already: nothing we publish
                 * now could be committed. */
                ew_engine_abandon(w->eng, in_set, &set, 1);
                return;
        }
        w->draining = 1;
        ew_consumer_mute(w->cons, 1);
        drain(w, in_set, &set, revoke_pending,
              started + w->conf->worker.shutdown_timeout_ms);
        ew_consumer_mute(w->cons, 0);
        w->draining = 0;
        EW_INFO("worker",
                "revoke of %d partition(s): %d event(s) pending, %d still "
                "publishing after %lld ms",
                cnt, before, set_pending(&set),
                (long long)(ew_mono_ms() - started));
}

static int engine_active(ew_worker_t *w, void *arg)
{
        ew_engine_stats_t st;

        (void)arg;
        ew_engine_get_stats(w->eng, &st);
        return st.waiting;
}

static void shutdown_worker(ew_worker_t *w)
{
        int64_t deadline = ew_mono_ms() + w->conf->worker.shutdown_timeout_ms;
        char    errstr[512];
        int     left, pending;

        ew_metrics_set_ready(w->metrics, 0);
        ew_consumer_set_paused(w->cons, 1);
        w->flow     = EW_WORKER_PAUSED;
        w->draining = 1;
        drain(w, any, NULL, engine_active, deadline);
        w->draining = 0;
        if (hard_stop(w))
                return;

        left = ew_producer_flush(
            w->prod,
            (int)(deadline > ew_mono_ms() ? deadline - ew_mono_ms() : 1000));
        if (left > 0)
                EW_WARN("worker", "%d message(s) still unacknowledged", left);
        /* The final commit, bounded by the deadline. A group that is
         * re-forming answers it late (behind a pending JoinGroup) or refuses
         * it (stale generation): keep serving the consumer so the rejoin can
         * complete, and commit again, until the deadline. */
        for (pending = 0;;) {
                int r;
                if (!pending) {
                        r = ew_consumer_commit_start(w->cons, errstr,
                                                     sizeof(errstr));
                        if (r <= 0) {
                                if (r < 0)
                                        EW_WARN("worker", "final %s", errstr);
                                break;
                        }
                        pending = 1;
                }
                r = ew_consumer_commit_poll(w->cons, errstr, sizeof(errstr));
                if (r == 0)
                        break;
                if (r == -1) {
                        EW_WARN("worker", "final %s", errstr);
                        break;
                }
                if (r == -2) {
                        EW_INFO("worker",
                                "final %s; committing again once "
                                "the group settles",
                                errstr);
                        pending = 0;
                }
                if (ew_mono_ms() >= deadline || hard_stop(w)) {
                        EW_WARN("worker",
                                "final commit not done by the shutdown "
                                "deadline; the events past the last commit "
                                "will be redone");
                        break;
                }
                ew_consumer_poll(w->cons);
                iterate(w, 50);
        }
        log_stats(w);
}

/* --- start-up and teardown -------------------------------------------- */

static int block_signals(sigset_t *set, char *errstr, size_t errstr_size)
{
        sigemptyset(set);
        sigaddset(set, SIGTERM);
        sigaddset(set, SIGINT);
        /* Blocked before librdkafka starts its threads, which inherit the
         * mask: the signals then only reach the signalfd. */
        if (sigprocmask(SIG_BLOCK, set, NULL) == -1) {
                ew_snprintf(errstr, errstr_size, "sigprocmask: %s",
                            strerror(errno));
                return -1;
        }
        return 0;
}

int ew_worker_run(const ew_config_t *conf, char *errstr, size_t errstr_size)
{
        ew_engine_hooks_t   eh;
        ew_consumer_hooks_t ch;
        ew_log_level_t      level;
        ew_worker_t         w;
        sigset_t            sigs;
        int                 rc = -1;

        memset(&w, 0, sizeof(w));
        w.conf  = conf;
        w.sigfd = -1;

        if (conf->log.level && ew_log_level_parse(conf->log.level, &level) == 0)
                ew_log_set_level(level);
        if (conf->log.format && !strcmp(conf->log.format, "json"))
                ew_log_set_format(EW_LOG_FORMAT_JSON);


        if (block_signals(&sigs, errstr, errstr_size) == -1)
                return -1;
        w.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
        if (w.sigfd == -1) {
                ew_snprintf(errstr, errstr_size, "signalfd: %s",
                            strerror(errno));
                goto done;
        }

        w.metrics = ew_metrics_new(conf->metrics.listen, errstr, errstr_size);
        if (!w.metrics)
                goto done;
        if (ew_metrics_port(w.metrics) > 0)
                EW_INFO("worker",
                        "metrics and health on port %d (/metrics, "
                        "/healthz, /readyz)",
                        ew_metrics_port(w.metrics));

        w.loop = ew_loop_new(errstr, errstr_size);
        if (!w.loop)
                goto done;
        if (ew_loop_set(w.loop, w.sigfd, EW_LOOP_READ, on_signal, &w) == -1) {
                ew_snprintf(errstr, errstr_size, "epoll: %s", strerror(errno));
                goto done;
        }

        w.http = ew_engine_http_new(w.loop, conf, errstr, errstr_size);
        if (!w.http)
                goto done;

        memset(&eh, 0, sizeof(eh));
        eh.publish = on_publish;
        eh.done    = on_done;
        eh.dropped = on_dropped;
        eh.arg     = &w;
        w.eng      = ew_engine_new(conf, w.http, &eh, errstr, errstr_size);
        if (!w.eng)
                goto done;
        ew_engine_set_metrics(w.eng, w.metrics);

        w.prod =
            ew_producer_new(conf, w.loop, on_delivery, &w, errstr, errstr_size);
        if (!w.prod)
                goto done;

        memset(&ch, 0, sizeof(ch));
        ch.message = on_message;
        ch.room    = on_room;
        ch.revoke  = on_revoke;
        ch.stats   = on_stats;
        ch.arg     = &w;
        w.cons     = ew_consumer_new(conf, w.loop, &ch, errstr, errstr_size);
        if (!w.cons)
                goto done;

        EW_INFO("worker",
                EW_NAME " " EW_VERSION " started: %s -> %s (dead letters: %s), "
                        "API %s v%s, max in flight %d",
                conf->kafka.input_topic, conf->kafka.output_topic,
                conf->kafka.dead_letter_topic,
                conf->monitoring.base_url ? conf->monitoring.base_url
                                          : "discovered per account",
                ew_api_version_str(conf->monitoring.api_version),
                conf->monitoring.max_in_flight);

        w.next_tick_ms  = ew_mono_ms();
        w.next_stats_ms = ew_mono_ms() + STATS_EVERY_MS;
        while (!stopping(&w)) {
                char fatal[512];
                iterate(&w, TICK_MS);
                if (ew_producer_fatal(w.prod, fatal, sizeof(fatal))) {
                        ew_snprintf(errstr, errstr_size,
                                    "fatal producer error: %s", fatal);
                        goto done;
                }
        }
        shutdown_worker(&w);
        rc = hard_stop(&w) ? 1 : 0;

done:
        /* Order matters: the producer still points at job payloads until
         * purged; the engine's leftover jobs hold partition references the
         * consumer must see dropped before it closes. */
        ew_producer_destroy(w.prod, 0);
        w.prod = NULL;
        ew_engine_destroy(w.eng);
        w.eng = NULL;
        ew_consumer_destroy(w.cons);
        ew_http_destroy(w.http);
        if (w.loop && w.sigfd != -1)
                ew_loop_del(w.loop, w.sigfd);
        ew_loop_destroy(w.loop);
        if (w.sigfd != -1)
                close(w.sigfd);
        ew_metrics_destroy(w.metrics);
        if (rc >= 0)
                EW_INFO("worker", "stopped%s", rc ? " (cut short)" : "");
        return rc;
}
