/*
 * ew_consumer - the worker's membership of the consumer group: the
 * KafkaConsumer handle, the partitions it owns, and what may be committed.
 *
 * Each assigned partition has an ew_partition_t: its offset tracker
 * (ew_offsets) and a count of events taken from it and not yet finished.
 * An event is finished when its terminal message was acknowledged
 * (ew_consumer_done) or it was abandoned (ew_consumer_dropped). Only the
 * contiguous prefix of finished offsets is stored
 * (enable.auto.offset.store=false + rd_kafka_offsets_store) and committed.
 *
 * Partition objects are reference counted: one reference for the
 * assignment, one per pending event, so an event that finishes after its
 * partition was revoked finds a revoked partition, not freed memory, and
 * does not touch the offsets of a later assignment of the same partition.
 *
 * Rebalances are cooperative by default. Before a partition is let go, the
 * revoke hook runs (the worker drains in-flight work there), then the done
 * prefix is committed synchronously, then the partition is unassigned.
 *
 * @locality single thread: the loop's owner.
 */
#ifndef EW_CONSUMER_H
#define EW_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ew_config.h"
#include "ew_loop.h"

typedef struct ew_consumer  ew_consumer_t;
typedef struct ew_partition ew_partition_t;

typedef struct ew_consumer_hooks {
        /* One consumed message of part. The hook must not keep rkm; it may
         * detach its headers. It must call ew_consumer_done() or
         * ew_consumer_dropped() for the offset later (exactly once) if it
         * returns 0; returning -1 means it did not take the event (the
         * worker is stopping): the offset stays unfinished. */
        int (*message)(void *arg, ew_partition_t *part,
                       rd_kafka_message_t *rkm);
        /* How many more messages the worker takes now; asked before each
         * batch while not paused. 0 holds: the consumer queue is not
         * served, so messages (and rebalances, errors) stay in librdkafka
         * until a later ew_consumer_poll() finds room, or the consumer is
         * paused. May be NULL: no limit. */
        int (*room)(void *arg);
        /* parts are about to be revoked (lost: 1 when the group already
         * gave them away, so nothing can be committed). The hook finishes
         * or abandons their pending events before returning. */
        void (*revoke)(void *arg, ew_partition_t **parts, int cnt, int lost);
        /* librdkafka's statistics JSON (every statistics.interval.ms,
         * 5000 by default when this hook is set); may be NULL. */
        void (*stats)(void *arg, const char *json, size_t len);
        void *arg;
} ew_consumer_hooks_t;

/* Creates the consumer, subscribes to kafka.input_topic and registers on
 * loop. Returns NULL with errstr set. */
ew_consumer_t *ew_consumer_new(const ew_config_t *conf, ew_loop_t *loop,
                               const ew_consumer_hooks_t *hooks, char *errstr,
                               size_t errstr_size);

/* Leaves the group (rd_kafka_consumer_close: revoke hook runs) and frees
 * everything. NULL-safe. */
void ew_consumer_destroy(ew_consumer_t *c);

/* Consumes what is queued (messages, rebalances, errors) without waiting,
 * taking at most the room hook's count of messages (any number while
 * paused). Called from the loop when the queue's fd wakes, periodically so
 * librdkafka sees the application alive (max.poll.interval.ms), and by the
 * worker when room opens again (the fd does not wake again for messages
 * that were already queued). */
void ew_consumer_poll(ew_consumer_t *c);

/* Stops (muted 1) or restarts (0) serving the consumer queue from the loop:
 * used while a revoke drains, since the queue must not be consumed from
 * inside its own rebalance callback. */
void ew_consumer_mute(ew_consumer_t *c, int muted);

/* Pauses (1) or resumes (0) fetching on every assigned partition, and on
 * partitions assigned while paused. librdkafka drops what it prefetched
 * for them and, on resume, fetches from the message after the last one it
 * handed over. While paused the consumer queue is served without limit
 * (see the room hook). Partitions revoked while paused are resumed as they
 * go: librdkafka keeps a partition's pause across an assignment. */
void ew_consumer_set_paused(ew_consumer_t *c, int paused);
int  ew_consumer_paused(const ew_consumer_t *c);

/* The event at offset of part is finished: its message was acknowledged.
 * Advances the done prefix (stored by the next ew_consumer_store_offsets).
 * Drops the event's reference. */
void ew_consumer_done(ew_consumer_t *c, ew_partition_t *part, int64_t offset);

/* The event was abandoned without a message: drops its reference, stores
 * nothing. */
void ew_consumer_dropped(ew_consumer_t *c, ew_partition_t *part);

/* Stores every partition's advanced done prefix (rd_kafka_offsets_store),
 * in one call; the worker calls it once per loop iteration. */
void ew_consumer_store_offsets(ew_consumer_t *c);

/* The final commit, asynchronous so a shutdown keeps its deadline even when
 * the coordinator holds the request behind a pending JoinGroup.
 *
 * ew_consumer_commit_start() sends the done prefix of every partition
 * assigned now (kept across a rejoin that revoked and gave back the same
 * partitions): returns 1 when a commit is under way, 0 when there is
 * nothing to commit, -1 with errstr set.
 *
 * ew_consumer_commit_poll() serves its answer: 1 while pending, 0 when
 * committed, -2 with errstr set when the group was re-forming (stale
 * generation, rebalance in progress: serve the consumer, start again), -1
 * with errstr set on another error. */
int ew_consumer_commit_start(ew_consumer_t *c, char *errstr,
                             size_t errstr_size);
int ew_consumer_commit_poll(ew_consumer_t *c, char *errstr, size_t errstr_size);

/* Partition accessors. */
int32_t     ew_partition_id(const ew_partition_t *part);
const char *ew_partition_topic(const ew_partition_t *part);
int         ew_partition_pending(const ew_partition_t *part);
int         ew_partition_revoked(const ew_partition_t *part);

/* Number of partitions currently assigned. */
int ew_consumer_assigned_cnt(const ew_consumer_t *c);

#endif /* EW_CONSUMER_H */
