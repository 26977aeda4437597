/*
 * ew_kafka_conf - see ew_kafka_conf.h.
 */
#include "ew_kafka_conf.h"

#include <string.h>

#include "ew_log.h"
#include "ew_util.h"

/* The worker's defaults. Each can be overridden through kafka.properties. */
static const struct {
        const char *name;
        const char *value;
        int         roles; /* bit 1<<EW_KAFKA_CONSUMER, 1<<EW_KAFKA_PRODUCER */
} defaults[] = {
#define C (1 << EW_KAFKA_CONSUMER)
#define P (1 << EW_KAFKA_PRODUCER)
    /* Offsets are stored by the worker once an event's message is
     * acknowledged (publish, then commit), and committed in the
     * background from what was stored. */
    {"enable.auto.offset.store", "false", C},
    {"enable.auto.commit", "true", C},
    {"auto.commit.interval.ms", "1000", C},
    {"auto.offset.reset", "earliest", C},
    {"partition.assignment.strategy", "cooperative-sticky", C},
    /* Bounded prefetch: the worker's memory must stay flat. Yet it must
     * hold about a second of input: whenever the queue is full,
     * librdkafka 2.0.2 stops fetching for a whole second (it has no
     * fetch.queue.backoff.ms yet), and a worker that empties the queue
     * sooner sits idle for the rest of it. The benchmark measured 11,400
     * events/s with 2 MiB, 20,500 with 4 MiB; 8 MiB gained nothing and
     * cost 10 MiB of RSS. */
    {"queued.max.messages.kbytes", "4096", C},
    {"fetch.wait.max.ms", "100", C},
    /* Exactly-once per partition from the producer's side, acknowledged
     * by all in-sync replicas. */
    {"enable.idempotence", "true", P},
    {"acks", "all", P},
    {"linger.ms", "5", P},
    /* Java's default partitioner: a key lands on the partition other
     * clients (and the input's producers) would choose for it. */
    {"partitioner", "murmur2_random", P},
    {"message.timeout.ms", "60000", P},
#undef C
#undef P
};

void ew_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf)
{
        ew_log_level_t lvl;

        (void)rk;
        /* syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug */
        if (level <= 3)
                lvl = EW_LOG_ERROR;
        else if (level == 4)
                lvl = EW_LOG_WARN;
        else if (level <= 6)
                lvl = EW_LOG_INFO;
        else
                lvl = EW_LOG_DEBUG;
        EW_LOG(lvl, "rdkafka", "%s: %s", fac, buf);
}

static int set(rd_kafka_conf_t *rkc, const char *name, const char *value,
               char *errstr, size_t errstr_size)
{
        char why[256];

        if (rd_kafka_conf_set(rkc, name, value, why, sizeof(why)) !=
            RD_KAFKA_CONF_OK) {
                ew_snprintf(errstr, errstr_size, "kafka property '%s': %s",
                            name, why);
                return -1;
        }
        return 0;
}

rd_kafka_conf_t *ew_kafka_conf_new(const ew_config_t *conf,
                                   ew_kafka_role_t role, char *errstr,
                                   size_t errstr_size)
{
        static const char *const prefixes[] = {"consumer.", "producer."};
        rd_kafka_conf_t         *rkc        = rd_kafka_conf_new();
        size_t                   i;

        for (i = 0; i < EW_ARRAY_SIZE(defaults); i++) {
                if (!(defaults[i].roles & (1 << role)))
                        continue;
                if (set(rkc, defaults[i].name, defaults[i].value, errstr,
                        errstr_size) == -1)
                        goto error;
        }
        if (set(rkc, "bootstrap.servers", conf->kafka.brokers, errstr,
                errstr_size) == -1)
                goto error;
        if (role == EW_KAFKA_CONSUMER &&
            set(rkc, "group.id", conf->kafka.group_id, errstr, errstr_size) ==
                -1)
                goto error;
        if (set(rkc, "client.id", EW_KAFKA_CLIENT_ID, errstr, errstr_size) ==
            -1)
                goto error;

        for (i = 0; i < conf->kafka.properties.cnt; i++) {
                const char *name  = conf->kafka.properties.items[i].key;
                const char *value = conf->kafka.properties.items[i].value;
                size_t      own   = strlen(prefixes[role]);
                size_t      other = strlen(prefixes[!role]);

                if (!strncmp(name, prefixes[!role], other))
                        continue;
                if (!strncmp(name, prefixes[role], own))
                        name += own;
                if (set(rkc, name, value, errstr, errstr_size) == -1)
                        goto error;
        }
        rd_kafka_conf_set_log_cb(rkc, ew_kafka_log_cb);
        return rkc;

error:
        rd_kafka_conf_destroy(rkc);
        return NULL;
}
