/*
 * ew_producer - publishes the worker's terminal messages (outcomes and dead
 * letters) with an idempotent producer (acks=all), driven by the loop:
 * delivery reports arrive on the producer's main queue, whose wake-up fd is
 * registered on the loop (rd_kafka_queue_io_event_enable).
 *
 * Payloads are not copied: the caller keeps key and value alive until the
 * delivery callback for that message has run.
 *
 * @locality single thread: the loop's owner.
 */
#ifndef EW_PRODUCER_H
#define EW_PRODUCER_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "ew_config.h"
#include "ew_loop.h"

typedef struct ew_producer ew_producer_t;

/* Delivery report: err is NULL when the broker acknowledged the message,
 * else a description of why it was not delivered; too_large is 1 when the
 * broker refused it for its size. */
typedef void(ew_producer_dr_cb_t)(void *arg, void *msg_opaque, const char *err,
                                  int too_large);

/* Creates the producer and registers it on loop. Returns NULL with errstr
 * set on failure. */
ew_producer_t *ew_producer_new(const ew_config_t *conf, ew_loop_t *loop,
                               ew_producer_dr_cb_t *dr_cb, void *arg,
                               char *errstr, size_t errstr_size);

/* Flushes for up to timeout_ms, then destroys. NULL-safe. Messages not
 * delivered by then are lost from the producer (their inputs were not
 * committed, so the group redoes them). */
void ew_producer_destroy(ew_producer_t *p, int timeout_ms);

/* Queues one message on the output topic (dead_letter 0) or the dead-letter
 * topic (1). headers (may be NULL) are copied. Returns 0, -1 with errstr
 * set (e.g. the local queue is full: the caller tries again later), or -2
 * with errstr set when the message is over message.max.bytes (it never
 * will be accepted). */
int ew_producer_send(ew_producer_t *p, int dead_letter, const void *key,
                     size_t key_len, const void *value, size_t value_len,
                     const rd_kafka_headers_t *headers, void *msg_opaque,
                     char *errstr, size_t errstr_size);

/* Serves delivery reports now (also done from the loop). */
void ew_producer_poll(ew_producer_t *p);

/* Waits up to timeout_ms for every queued message to be delivered, serving
 * delivery reports. Returns the number still queued. */
int ew_producer_flush(ew_producer_t *p, int timeout_ms);

/* Messages queued or in flight to the broker. */
int ew_producer_outq_len(const ew_producer_t *p);

/* A fatal producer error (idempotence broken), or NULL. */
const char *ew_producer_fatal(ew_producer_t *p, char *buf, size_t size);

#endif /* EW_PRODUCER_H */
