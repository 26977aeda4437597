/*
 * ew_consumer - see ew_consumer.h.
 */
#include "ew_consumer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ew_kafka_conf.h"
#include "ew_log.h"
#include "ew_offsets.h"
#include "ew_util.h"

#define CONSUME_BATCH 512

struct ew_partition {
        char         *topic;
        int32_t       id;
        int           refcnt;  /* assignment + one per pending event */
        int           pending; /* events taken and not finished */
        int           revoked; /* no longer ours: store nothing */
        ew_offsets_t *offsets;
        int64_t       stored;   /* last offset stored, -1 if none */
        int64_t       to_store; /* done prefix not yet stored, -1 if none */
        int           stuck;    /* an offset could not be tracked: store none */
};

struct ew_consumer {
        rd_kafka_t       *rk;
        rd_kafka_queue_t *q;
        ew_loop_t        *loop;
        int               wake_fds[2];
        int               muted;
        int               paused;
        int               dirty; /* some partition has a done prefix to store */
        rd_kafka_queue_t *commit_q; /* the final commit's answer */
        int               commit_pending;
        rd_kafka_resp_err_t commit_err;
        int64_t            *done_next; /* by partition id: the done prefix last
                                        * stored, kept across revocations so a final
                                        * commit after a rejoin still knows it; -1 */
        int                 closing;
        char               *topic;
        ew_partition_t    **parts; /* by partition id, NULL if not assigned */
        int                 parts_size;
        int                 assigned;
        ew_consumer_hooks_t hooks;
};

static ew_partition_t *partition_new(const char *topic, int32_t id)
{
        ew_partition_t *part = calloc(1, sizeof(*part));

        if (!part)
                return NULL;
        part->topic   = strdup(topic);
        part->offsets = ew_offsets_new();
        if (!part->topic || !part->offsets) {
                free(part->topic);
                ew_offsets_destroy(part->offsets);
                free(part);
                return NULL;
        }
        part->id       = id;
        part->refcnt   = 1;
        part->stored   = -1;
        part->to_store = -1;
        return part;
}

static void partition_unref(ew_partition_t *part)
{
        if (--part->refcnt > 0)
                return;
        ew_offsets_destroy(part->offsets);
        free(part->topic);
        free(part);
}

int32_t ew_partition_id(const ew_partition_t *part)
{
        return part->id;
}

const char *ew_partition_topic(const ew_partition_t *part)
{
        return part->topic;
}

int ew_partition_pending(const ew_partition_t *part)
{
        return part->pending;
}

int ew_partition_revoked(const ew_partition_t *part)
{
        return part->revoked;
}

int ew_consumer_assigned_cnt(const ew_consumer_t *c)
{
        return c->assigned;
}

static ew_partition_t *lookup(ew_consumer_t *c, const char *topic, int32_t id)
{
        if (id < 0 || id >= c->parts_size || strcmp(topic, c->topic))
                return NULL;
        return c->parts[id];
}

/* Pauses or resumes exactly the partitions of list. */
static void pause_list(ew_consumer_t *c, rd_kafka_topic_partition_list_t *list,
                       int paused)
{
        rd_kafka_resp_err_t err;

        if (list->cnt == 0)
                return;
        err = paused ? rd_kafka_pause_partitions(c->rk, list)
                     : rd_kafka_resume_partitions(c->rk, list);
        if (err)
                EW_WARN("consumer", "%s partitions: %s",
                        paused ? "pause" : "resume", rd_kafka_err2str(err));
}

static void on_assign(ew_consumer_t *c, rd_kafka_topic_partition_list_t *list,
                      int cooperative)
{
        rd_kafka_error_t   *error = NULL;
        rd_kafka_resp_err_t err   = 0;
        int                 i;

        for (i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];
                ew_partition_t             *part;

                if (strcmp(tp->topic, c->topic) || tp->partition < 0)
                        continue;
                if (tp->partition >= c->parts_size) {
                        int              n = tp->partition + 1, j;
                        ew_partition_t **np =
                            realloc(c->parts, sizeof(*np) * (size_t)n);
                        int64_t *nd;
                        if (!np)
                                continue; /* logged below as not tracked */
                        c->parts = np;
                        nd = realloc(c->done_next, sizeof(*nd) * (size_t)n);
                        if (!nd)
                                continue;
                        c->done_next = nd;
                        for (j = c->parts_size; j < n; j++) {
                                np[j] = NULL;
                                nd[j] = -1;
                        }
                        c->parts_size = n;
                }
                if (c->parts[tp->partition])
                        continue; /* already ours */
                part = partition_new(tp->topic, tp->partition);
                if (!part) {
                        EW_ERROR("consumer", "out of memory assigning %s [%d]",
                                 tp->topic, tp->partition);
                        continue;
                }
                c->parts[tp->partition] = part;
                c->assigned++;
        }

        if (cooperative)
                error = rd_kafka_incremental_assign(c->rk, list);
        else
                err = rd_kafka_assign(c->rk, list);
        if (error) {
                EW_ERROR("consumer", "incremental assign: %s",
                         rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else if (err) {
                EW_ERROR("consumer", "assign: %s", rd_kafka_err2str(err));
        }
        if (c->paused)
                pause_list(c, list, 1);
        EW_INFO("consumer", "assigned %d partition(s) of %s, now %d", list->cnt,
                c->topic, c->assigned);
}

/* Commits list (NULL: what was stored) synchronously. Errors a rebalance
 * or a coordinator move cause are retried a few times (about 1.5 s in all):
 * brokers refuse commits while a group is being re-formed, and giving up
 * would make the next owner redo finished work. */
static rd_kafka_resp_err_t
commit_sync(ew_consumer_t *c, const rd_kafka_topic_partition_list_t *list)
{
        struct timespec     ts = {0, 100 * 1000 * 1000};
        rd_kafka_resp_err_t err;
        int                 i;

        for (i = 0;; i++) {
                err = rd_kafka_commit(c->rk, list, 0 /*sync*/);
                if (i == 4 ||
                    (err != RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS &&
                     err != RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS &&
                     err != RD_KAFKA_RESP_ERR_NOT_COORDINATOR &&
                     err != RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT &&
                     err != RD_KAFKA_RESP_ERR__TIMED_OUT))
                        return err;
                EW_INFO("consumer", "commit refused (%s); trying again",
                        rd_kafka_err2str(err));
                nanosleep(&ts, NULL);
                ts.tv_nsec *= 2;
                if (ts.tv_nsec >= 1000 * 1000 * 1000)
                        ts.tv_nsec = 999 * 1000 * 1000;
        }
}

static void on_revoke(ew_consumer_t *c, rd_kafka_topic_partition_list_t *list,
                      int cooperative)
{
        ew_partition_t                 **parts;
        rd_kafka_topic_partition_list_t *commit;
        int                              lost = rd_kafka_assignment_lost(c->rk);
        int                              i, cnt = 0;

        parts  = calloc((size_t)list->cnt + 1, sizeof(*parts));
        commit = rd_kafka_topic_partition_list_new(list->cnt);
        for (i = 0; parts && i < list->cnt; i++) {
                ew_partition_t *part =
                    lookup(c, list->elems[i].topic, list->elems[i].partition);
                if (part)
                        parts[cnt++] = part;
        }

        /* Let the worker finish (or give up on) what it holds of these
         * partitions, then commit their done prefix, then let go. */
        if (cnt > 0 && c->hooks.revoke)
                c->hooks.revoke(c->hooks.arg, parts, cnt, lost);
        if (!lost)
                ew_consumer_store_offsets(c);

        for (i = 0; i < cnt; i++) {
                ew_partition_t *part = parts[i];
                if (!lost && part->stored >= 0 && !part->stuck)
                        rd_kafka_topic_partition_list_add(commit, part->topic,
                                                          part->id)
                            ->offset = part->stored;
        }
        if (commit->cnt > 0) {
                rd_kafka_resp_err_t err = commit_sync(c, commit);
                if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                        EW_WARN("consumer",
                                "commit of revoked partitions failed: %s "
                                "(their uncommitted events will be redone)",
                                rd_kafka_err2str(err));
        }
        /* librdkafka keeps a partition's pause flag after it is unassigned:
         * given back later, while this worker no longer pauses, it would
         * never be fetched again. Resume what we paused before letting go
         * (the fetch stops with the unassign below). */
        if (c->paused && !c->closing)
                pause_list(c, list, 0);
        for (i = 0; i < cnt; i++) {
                ew_partition_t *part = parts[i];
                /* A lost partition keeps its done prefix: if the rejoin
                 * gives it back, the final commit still has it. A partition
                 * handed over cleanly was committed above. */
                if (!lost)
                        c->done_next[part->id] = -1;
                part->revoked      = 1;
                c->parts[part->id] = NULL;
                c->assigned--;
                partition_unref(part); /* the assignment's reference */
        }

        if (cooperative) {
                rd_kafka_error_t *error =
                    rd_kafka_incremental_unassign(c->rk, list);
                if (error) {
                        EW_ERROR("consumer", "incremental unassign: %s",
                                 rd_kafka_error_string(error));
                        rd_kafka_error_destroy(error);
                }
        } else {
                rd_kafka_assign(c->rk, NULL);
        }
        EW_INFO("consumer", "%s %d partition(s) of %s, now %d",
                lost ? "lost" : "revoked", list->cnt, c->topic, c->assigned);
        rd_kafka_topic_partition_list_destroy(commit);
        free(parts);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
        ew_consumer_t *c = opaque;
        int            cooperative =
            !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
                on_assign(c, list, cooperative);
        else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
                on_revoke(c, list, cooperative);
        else {
                EW_ERROR("consumer", "rebalance failed: %s",
                         rd_kafka_err2str(err));
                rd_kafka_assign(rk, NULL);
        }
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
        ew_consumer_t *c = opaque;

        (void)rk;
        c->hooks.stats(c->hooks.arg, json, len);
        return 0; /* librdkafka frees json */
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        (void)rk;
        (void)opaque;
        EW_WARN("consumer", "%s: %s",
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void on_wake(ew_loop_t *loop, int fd, int events, void *opaque)
{
        (void)loop;
        (void)events;
        ew_fd_drain(fd);
        ew_consumer_poll(opaque);
}

void ew_consumer_poll(ew_consumer_t *c)
{
        rd_kafka_message_t *msgs[CONSUME_BATCH];
        ssize_t             n = 0, i;
        size_t              want;
        int                 r;

        if (c->muted)
                return;
        do {
                /* Never more than the worker takes: a message handed over
                 * and not taken would be lost to a pause, which refetches
                 * from after the last message handed over. Paused, the
                 * queue holds no messages of ours (librdkafka drops them),
                 * only rebalances and errors to serve. */
                want = CONSUME_BATCH;
                if (!c->paused && c->hooks.room) {
                        int room = c->hooks.room(c->hooks.arg);
                        if (room <= 0)
                                break; /* holding */
                        if ((size_t)room < want)
                                want = (size_t)room;
                }
                n = rd_kafka_consume_batch_queue(c->q, 0, msgs, want);
                for (i = 0; i < n; i++) {
                        rd_kafka_message_t *rkm = msgs[i];
                        ew_partition_t     *part;

                        if (rkm->err) {
                                if (rkm->err !=
                                    RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                        EW_WARN("consumer", "%s",
                                                rd_kafka_message_errstr(rkm));
                                rd_kafka_message_destroy(rkm);
                                continue;
                        }
                        part = lookup(c, rd_kafka_topic_name(rkm->rkt),
                                      rkm->partition);
                        if (!part || c->closing) {
                                /* Not (or no longer) ours: leave it for
                                 * whoever owns the partition. */
                                rd_kafka_message_destroy(rkm);
                                continue;
                        }
                        r = ew_offsets_track(part->offsets, rkm->offset);
                        if (r == EW_OFFSETS_ERR_ORDER) {
                                /* Already seen (a re-delivery after a
                                 * seek): it is being handled. */
                                EW_WARN("consumer",
                                        "%s [%d] offset %lld out of order; "
                                        "skipped",
                                        part->topic, part->id,
                                        (long long)rkm->offset);
                                rd_kafka_message_destroy(rkm);
                                continue;
                        } else if (r != 0) {
                                /* Cannot track it (out of memory): nothing
                                 * of this partition may be committed any
                                 * more, or a later offset would pass it. It
                                 * is redone by the next owner. */
                                EW_ERROR("consumer",
                                         "%s [%d] offset %lld cannot be "
                                         "tracked; no further commits for "
                                         "this partition",
                                         part->topic, part->id,
                                         (long long)rkm->offset);
                                part->stuck = 1;
                                rd_kafka_message_destroy(rkm);
                                continue;
                        }
                        part->refcnt++;
                        part->pending++;
                        if (c->hooks.message(c->hooks.arg, part, rkm) == -1) {
                                part->refcnt--;
                                part->pending--;
                        }
                        rd_kafka_message_destroy(rkm);
                }
        } while (n == (ssize_t)want && !c->muted && !c->paused);
        if (n < 0)
                EW_WARN("consumer", "consume: %s",
                        rd_kafka_err2str(rd_kafka_last_error()));
}

ew_consumer_t *ew_consumer_new(const ew_config_t *conf, ew_loop_t *loop,
                               const ew_consumer_hooks_t *hooks, char *errstr,
                               size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *sub = NULL;
        rd_kafka_conf_t                 *rkc;
        rd_kafka_resp_err_t              err;
        ew_consumer_t                   *c;
        char                             why[512];

        c = calloc(1, sizeof(*c));
        if (!c) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        c->wake_fds[0] = c->wake_fds[1] = -1;
        c->loop                         = loop;
        c->hooks                        = *hooks;
        c->topic                        = strdup(conf->kafka.input_topic);
        if (!c->topic) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                goto error;
        }

        rkc = ew_kafka_conf_new(conf, EW_KAFKA_CONSUMER, errstr, errstr_size);
        if (!rkc)
                goto error;
        rd_kafka_conf_set_rebalance_cb(rkc, rebalance_cb);
        if (c->hooks.stats) {
                char   val[32];
                size_t vlen = sizeof(val);
                /* A user's own interval (kafka.properties) is kept. */
                if (rd_kafka_conf_get(rkc, "statistics.interval.ms", val,
                                      &vlen) == RD_KAFKA_CONF_OK &&
                    !strcmp(val, "0"))
                        rd_kafka_conf_set(rkc, "statistics.interval.ms", "5000",
                                          NULL, 0);
                rd_kafka_conf_set_stats_cb(rkc, stats_cb);
        }
        rd_kafka_conf_set_error_cb(rkc, error_cb);
        rd_kafka_conf_set_opaque(rkc, c);
        c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, why, sizeof(why));
        if (!c->rk) {
                rd_kafka_conf_destroy(rkc);
                ew_snprintf(errstr, errstr_size, "cannot create consumer: %s",
                            why);
                goto error;
        }
        /* rkc belongs to c->rk now. Everything (messages, rebalances,
         * errors, logs) arrives on the consumer queue. */
        rd_kafka_poll_set_consumer(c->rk);
        c->q = rd_kafka_queue_get_consumer(c->rk);

        if (ew_pipe_nonblock(c->wake_fds) == -1) {
                ew_snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
                goto error;
        }
        rd_kafka_queue_io_event_enable(c->q, c->wake_fds[1], "1", 1);
        if (ew_loop_set(loop, c->wake_fds[0], EW_LOOP_READ, on_wake, c) == -1) {
                ew_snprintf(errstr, errstr_size, "epoll: %s", strerror(errno));
                goto error;
        }

        sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(c->rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (err) {
                ew_snprintf(errstr, errstr_size, "subscribe to %s: %s",
                            c->topic, rd_kafka_err2str(err));
                goto error;
        }
        EW_INFO("consumer", "joining group '%s' for topic '%s' at %s",
                conf->kafka.group_id, c->topic, conf->kafka.brokers);
        return c;

error:
        ew_consumer_destroy(c);
        return NULL;
}

void ew_consumer_destroy(ew_consumer_t *c)
{
        int i;

        if (!c)
                return;
        if (c->rk) {
                rd_kafka_resp_err_t err;
                c->closing = 1;
                c->muted   = 0;
                /* Serves the final revoke through rebalance_cb. */
                err = rd_kafka_consumer_close(c->rk);
                if (err)
                        EW_WARN("consumer", "close: %s", rd_kafka_err2str(err));
        }
        if (c->wake_fds[0] != -1)
                ew_loop_del(c->loop, c->wake_fds[0]);
        if (c->q) {
                rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
                rd_kafka_queue_destroy(c->q);
        }
        for (i = 0; i < c->parts_size; i++)
                if (c->parts[i])
                        partition_unref(c->parts[i]);
        if (c->commit_q)
                rd_kafka_queue_destroy(c->commit_q);
        if (c->rk)
                rd_kafka_destroy(c->rk);
        if (c->wake_fds[0] != -1)
                close(c->wake_fds[0]);
        if (c->wake_fds[1] != -1)
                close(c->wake_fds[1]);
        free(c->parts);
        free(c->done_next);
        free(c->topic);
        free(c);
}

void ew_consumer_mute(ew_consumer_t *c, int muted)
{
        c->muted = muted;
        /* While muted the wake fd must not be watched, or the level-
         * triggered loop would spin on it. */
        ew_loop_set(c->loop, c->wake_fds[0], muted ? 0 : EW_LOOP_READ, on_wake,
                    c);
}

void ew_consumer_set_paused(ew_consumer_t *c, int paused)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t              err;

        if (c->paused == paused)
                return;
        c->paused = paused;
        err       = rd_kafka_assignment(c->rk, &list);
        if (err) {
                EW_WARN("consumer", "assignment: %s", rd_kafka_err2str(err));
                return;
        }
        pause_list(c, list, paused);
        rd_kafka_topic_partition_list_destroy(list);
}

int ew_consumer_paused(const ew_consumer_t *c)
{
        return c->paused;
}

void ew_consumer_done(ew_consumer_t *c, ew_partition_t *part, int64_t offset)
{
        part->pending--;
        if (!part->revoked) {
                int64_t next;
                if (ew_offsets_done(part->offsets, offset) == -1)
                        EW_WARN("consumer",
                                "%s [%d] offset %lld finished twice or unknown",
                                part->topic, part->id, (long long)offset);
                next = ew_offsets_committable(part->offsets);
                if (next >= 0) {
                        part->to_store = next;
                        c->dirty       = 1;
                }
        }
        partition_unref(part);
}

void ew_consumer_dropped(ew_consumer_t *c, ew_partition_t *part)
{
        (void)c;
        part->pending--;
        partition_unref(part);
}

void ew_consumer_store_offsets(ew_consumer_t *c)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t              err;
        int                              i;

        if (!c->dirty)
                return;
        c->dirty = 0;
        list     = rd_kafka_topic_partition_list_new(c->assigned);
        for (i = 0; i < c->parts_size; i++) {
                ew_partition_t *part = c->parts[i];
                if (part && part->to_store >= 0 && !part->stuck)
                        rd_kafka_topic_partition_list_add(list, part->topic,
                                                          part->id)
                            ->offset = part->to_store;
        }
        err = list->cnt ? rd_kafka_offsets_store(c->rk, list) : 0;
        if (err)
                EW_WARN("consumer", "store offsets: %s", rd_kafka_err2str(err));
        for (i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *tp   = &list->elems[i];
                ew_partition_t             *part = c->parts[tp->partition];
                if (tp->err) {
                        EW_WARN("consumer", "store offset %lld of %s [%d]: %s",
                                (long long)tp->offset, tp->topic, tp->partition,
                                rd_kafka_err2str(tp->err));
                        continue;
                }
                if (!err) {
                        part->stored           = part->to_store;
                        c->done_next[part->id] = part->stored;
                        part->to_store         = -1;
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
        ew_consumer_t *c = opaque;

        (void)rk;
        (void)offsets;
        c->commit_pending = 0;
        c->commit_err     = err;
}

int ew_consumer_commit_start(ew_consumer_t *c, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *assigned = NULL, *list;
        rd_kafka_resp_err_t              err;
        int                              i, rc = 1;

        if (c->commit_pending)
                return 1;
        ew_consumer_store_offsets(c);
        /* Explicit offsets of the partitions assigned now: after a rejoin
         * they may be new partition objects that stored nothing yet, while
         * done_next still holds what this worker finished. */
        if (rd_kafka_assignment(c->rk, &assigned))
                return 0;
        list = rd_kafka_topic_partition_list_new(assigned->cnt);
        for (i = 0; i < assigned->cnt; i++) {
                const rd_kafka_topic_partition_t *tp = &assigned->elems[i];
                if (!strcmp(tp->topic, c->topic) && tp->partition >= 0 &&
                    tp->partition < c->parts_size &&
                    c->done_next[tp->partition] >= 0)
                        rd_kafka_topic_partition_list_add(list, tp->topic,
                                                          tp->partition)
                            ->offset = c->done_next[tp->partition];
        }
        if (list->cnt == 0) {
                rc = 0;
                goto done;
        }
        if (!c->commit_q)
                c->commit_q = rd_kafka_queue_new(c->rk);
        c->commit_pending = 1;
        c->commit_err     = RD_KAFKA_RESP_ERR_NO_ERROR;
        err = rd_kafka_commit_queue(c->rk, list, c->commit_q, commit_cb, c);
        if (err) {
                c->commit_pending = 0;
                ew_snprintf(errstr, errstr_size, "commit: %s",
                            rd_kafka_err2str(err));
                rc = -1;
        }
done:
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_topic_partition_list_destroy(assigned);
        return rc;
}

int ew_consumer_commit_poll(ew_consumer_t *c, char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t err;

        if (c->commit_q)
                rd_kafka_queue_poll_callback(c->commit_q, 0);
        if (c->commit_pending)
                return 1;
        err = c->commit_err;
        if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
                return 0;
        ew_snprintf(errstr, errstr_size, "commit: %s", rd_kafka_err2str(err));
        return (err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
                err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
                err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
                err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
                err == RD_KAFKA_RESP_ERR__STATE)
                   ? -2
                   : -1;
}
