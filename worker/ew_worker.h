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
 * (in flight + queued behind keys + waiting on timers + publishing),
 * fetching is paused on every partition; it resumes at
 * worker.queue_low_watermark.
 *
 * Shutdown (SIGTERM/SIGINT): stop fetching, drop what has not started,
 * let in-flight work finish within worker.shutdown_timeout_ms, flush the
 * producer, commit, leave the group. A second signal stops at once.
 */
#ifndef EW_WORKER_H
#define EW_WORKER_H

#include <stddef.h>

#include "ew_config.h"

/* Runs until SIGTERM/SIGINT. Returns 0 after a clean shutdown, 1 after a
 * second signal cut it short, or -1 with errstr set if it could not start
 * or hit a fatal error. */
int ew_worker_run(const ew_config_t *conf, char *errstr, size_t errstr_size);

#endif /* EW_WORKER_H */
