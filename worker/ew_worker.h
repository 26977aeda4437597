/*
 * ew_worker - one member of the consumer group: wires the loop, the
 * consumer, the engine, the HTTP dispatcher and the producer together, and
 * owns start-up, backpressure, rebalance draining and shutdown.
 *
 *   consumer --message--> engine --HTTP--> API
 *                           |  --publish--> producer --ack--> engine
 *   consumer <--done (offset may be stored)----------------------'
 *
 * Backpressure: when the engine holds worker.queue_high_watermark events
 * (in flight + queued behind keys + waiting on timers + publishing), the
 * worker holds: it takes no more messages from librdkafka, which goes on
 * fetching into its prefetch queue until queued.max.messages.kbytes. At
 * worker.queue_low_watermark it takes again, from messages already there.
 * It does not pause the partitions: after rd_kafka_resume_partitions,
 * librdkafka 2.0.2 fetches again only after up to a second. But a held
 * consumer queue also holds rebalances and errors, so a hold longer than
 * worker.hold_max_ms pauses fetching on every partition (librdkafka drops
 * the prefetch; on resume it fetches from the message after the last one
 * taken), and the queue is served again; fetching resumes at the low
 * watermark.
 *
 * Shutdown (SIGTERM/SIGINT): stop fetching, drop what has not started,
 * let in-flight work finish within worker.shutdown_timeout_ms, flush the
 * producer, commit, leave the group. A second signal stops at once.
 */
#ifndef EW_WORKER_H
#define EW_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "ew_config.h"

/* Backpressure states. */
typedef enum ew_worker_flow {
        EW_WORKER_TAKING = 0, /* taking messages from librdkafka */
        EW_WORKER_HOLDING,    /* taking none; partitions still fetched */
        EW_WORKER_PAUSED,     /* fetching paused on every partition */
} ew_worker_flow_t;

/* The backpressure state that follows state, given the events waiting
 * (taken and not finished), how long the worker has been holding (ms; read
 * only in EW_WORKER_HOLDING) and whether it is stopping (a stopping worker
 * never takes again). Uses conf->worker's queue_high_watermark,
 * queue_low_watermark and hold_max_ms. Pure. */
ew_worker_flow_t ew_worker_flow_next(ew_worker_flow_t state, int waiting,
                                     int64_t held_ms, int stopping,
                                     const ew_config_t *conf);

/* How many messages the worker may take now in state, with waiting events:
 * up to the high watermark while taking, none otherwise. Pure. */
int ew_worker_flow_room(ew_worker_flow_t state, int waiting,
                        const ew_config_t *conf);

/* Runs until SIGTERM/SIGINT. Returns 0 after a clean shutdown, 1 after a
 * second signal cut it short, or -1 with errstr set if it could not start
 * or hit a fatal error. */
int ew_worker_run(const ew_config_t *conf, char *errstr, size_t errstr_size);

#endif /* EW_WORKER_H */
