/*
 * ew_kafka_conf - builds librdkafka configurations from the worker's
 * config: the worker's defaults first, then kafka.properties as given (so
 * a user can override any default), where a key prefixed "consumer." or
 * "producer." applies to that client only, and any other key to both.
 */
#ifndef EW_KAFKA_CONF_H
#define EW_KAFKA_CONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "ew_config.h"

#define EW_KAFKA_CLIENT_ID "engagement-worker"

typedef enum ew_kafka_role {
        EW_KAFKA_CONSUMER = 0,
        EW_KAFKA_PRODUCER = 1,
} ew_kafka_role_t;

/* Returns a new rd_kafka_conf_t (the caller owns it until rd_kafka_new
 * takes it), or NULL with errstr naming the property librdkafka refused. */
rd_kafka_conf_t *ew_kafka_conf_new(const ew_config_t *conf,
                                   ew_kafka_role_t role, char *errstr,
                                   size_t errstr_size);

/* librdkafka log callback that writes through ew_log (tag "rdkafka"). */
void ew_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf);

#endif /* EW_KAFKA_CONF_H */
