/*
 * ek_cluster - see ek_cluster.h.
 */
#include "ek_cluster.h"
#include "ek_names.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define BROKERS_MAX 64
/* Topics made with --topic or "create", remembered for topic-down/up. */
#define TOPICS_MAX 256

/* Gap left between two calls that go through the mock thread's op queue.
 * librdkafka 2.0.2's mock thread serves its ops before it drains its
 * wake-up pipe, so an op queued right after the previous op's reply can
 * lose its wake-up byte and wait for the mock's 1 s poll timeout
 * (measured: "create t 3", four ops back to back, took 2 s). A few
 * milliseconds between ops let the mock thread finish its loop first. */
#define OP_GAP_US 5000

struct ek_cluster {
        rd_kafka_t              *rk;       /* owns the mock cluster */
        rd_kafka_mock_cluster_t *mcluster; /* ours, destroyed before rk */
        int                      broker_cnt;
        int                      debug;
        int64_t                  last_op_us; /* end of the last mock op */
        struct {
                char name[EK_COMMAND_NAME_MAX];
                int  partitions;
        } topics[TOPICS_MAX];
        int topic_cnt;
};

static int64_t mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits until OP_GAP_US have passed since the previous mock op. */
static void op_begin(const ek_cluster_t *cluster)
{
        int64_t wait = cluster->last_op_us + OP_GAP_US - mono_us();

        if (wait > 0) {
                struct timespec ts = {.tv_sec  = (time_t)(wait / 1000000),
                                      .tv_nsec = (long)(wait % 1000000) * 1000};
                while (nanosleep(&ts, &ts) != 0)
                        ;
        }
}

static void op_end(ek_cluster_t *cluster)
{
        cluster->last_op_us = mono_us();
}

/* librdkafka log lines go to stderr. librdkafka only calls this for lines
 * at or below the "log_level" property: warnings and worse unless --debug,
 * so the stand-in stays quiet in test logs. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
        (void)rk;
        fprintf(stderr, "embedded-kafka: %d %s: %s\n", level, fac, buf);
}

ek_cluster_t *ek_cluster_new(int broker_cnt, int debug, char *errstr,
                             size_t errstr_size)
{
        ek_cluster_t    *cluster = NULL;
        rd_kafka_conf_t *conf    = NULL;
        char             lerr[256];

        if (broker_cnt < 1 || broker_cnt > BROKERS_MAX) {
                snprintf(errstr, errstr_size, "broker count %d not in 1..%d",
                         broker_cnt, BROKERS_MAX);
                goto error;
        }
        cluster = calloc(1, sizeof(*cluster));
        if (!cluster) {
                snprintf(errstr, errstr_size, "out of memory");
                goto error;
        }
        cluster->broker_cnt = broker_cnt;
        cluster->debug      = debug;

        conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, log_cb);
        if (rd_kafka_conf_set(conf, "log_level", debug ? "7" : "4", lerr,
                              sizeof(lerr)) != RD_KAFKA_CONF_OK ||
            (debug && rd_kafka_conf_set(conf, "debug", "mock", lerr,
                                        sizeof(lerr)) != RD_KAFKA_CONF_OK) ||
            rd_kafka_conf_set(conf, "client.id", "embedded-kafka", lerr,
                              sizeof(lerr)) != RD_KAFKA_CONF_OK) {
                snprintf(errstr, errstr_size, "config: %s", lerr);
                goto error;
        }
        cluster->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, lerr, sizeof(lerr));
        if (!cluster->rk) {
                snprintf(errstr, errstr_size, "rd_kafka_new: %s", lerr);
                goto error;
        }
        conf = NULL; /* now owned by rk */

        cluster->mcluster = rd_kafka_mock_cluster_new(cluster->rk, broker_cnt);
        if (!cluster->mcluster) {
                snprintf(errstr, errstr_size,
                         "rd_kafka_mock_cluster_new failed (see log)");
                goto error;
        }
        return cluster;

error:
        if (conf)
                rd_kafka_conf_destroy(conf);
        ek_cluster_destroy(cluster);
        return NULL;
}

const char *ek_cluster_bootstraps(const ek_cluster_t *cluster)
{
        return rd_kafka_mock_cluster_bootstraps(cluster->mcluster);
}

/* Sets the leader of every partition of a topic: its pinned broker
 * (p mod broker_cnt) + 1, or none (-1) if down. */
static int set_leaders(ek_cluster_t *cluster, const char *topic, int partitions,
                       int down, char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t err;
        int                 p;

        for (p = 0; p < partitions; p++) {
                int32_t id = down ? -1 : (int32_t)(p % cluster->broker_cnt) + 1;

                op_begin(cluster);
                err = rd_kafka_mock_partition_set_leader(cluster->mcluster,
                                                         topic, p, id);
                op_end(cluster);
                if (err) {
                        snprintf(errstr, errstr_size, "leader %.100s [%d]: %s",
                                 topic, p, rd_kafka_err2name(err));
                        return -1;
                }
        }
        return 0;
}

/* Partition count of a topic made here, or -1 if unknown. */
static int topic_partitions(const ek_cluster_t *cluster, const char *topic)
{
        int i;

        for (i = 0; i < cluster->topic_cnt; i++) {
                if (strcmp(cluster->topics[i].name, topic) == 0)
                        return cluster->topics[i].partitions;
        }
        return -1;
}

int ek_cluster_topic_create(ek_cluster_t *cluster, const char *topic,
                            int partitions, int replication, char *errstr,
                            size_t errstr_size)
{
        rd_kafka_resp_err_t err;
        size_t              len = strlen(topic);

        if (cluster->topic_cnt == TOPICS_MAX) {
                snprintf(errstr, errstr_size, "create %s: more than %d topics",
                         topic, TOPICS_MAX);
                return -1;
        }
        if (len >= sizeof(cluster->topics[0].name)) {
                snprintf(errstr, errstr_size, "create: topic name too long");
                return -1;
        }
        if (replication <= 0)
                replication = cluster->broker_cnt < 3 ? cluster->broker_cnt : 3;
        op_begin(cluster);
        err = rd_kafka_mock_topic_create(cluster->mcluster, topic, partitions,
                                         replication);
        op_end(cluster);
        if (err) {
                snprintf(errstr, errstr_size, "create %s: %s", topic,
                         rd_kafka_err2name(err));
                return -1;
        }
        memcpy(cluster->topics[cluster->topic_cnt].name, topic, len + 1);
        cluster->topics[cluster->topic_cnt].partitions = partitions;
        cluster->topic_cnt++;

        /* The mock picks a random leader among the replicas; pin it so
         * that "broker down 2" hits the same partitions on every run. */
        return set_leaders(cluster, topic, partitions, 0 /*up*/, errstr,
                           errstr_size);
}

/* Formats into reply and returns rc, so callers can "return reply_f(...)". */
static int reply_f(char *reply, size_t reply_size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int reply_f(char *reply, size_t reply_size, int rc, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reply, reply_size, fmt, ap);
        va_end(ap);
        return rc;
}

/* Appends the names of cmd->errs to reply (truncating if needed). */
static void append_err_names(const ek_command_t *cmd, char *reply,
                             size_t reply_size)
{
        size_t len = strlen(reply);
        size_t i;

        for (i = 0; i < cmd->err_cnt && len + 1 < reply_size; i++) {
                int n;

                if (cmd->err_rtts[i])
                        n = snprintf(reply + len, reply_size - len, " %s@%d",
                                     ek_names_err_name(cmd->errs[i]),
                                     cmd->err_rtts[i]);
                else
                        n = snprintf(reply + len, reply_size - len, " %s",
                                     ek_names_err_name(cmd->errs[i]));
                if (n < 0 || (size_t)n >= reply_size - len)
                        break; /* truncated: reply stays NUL-terminated */
                len += (size_t)n;
        }
}

static int broker_valid(const ek_cluster_t *cluster, int32_t id)
{
        return id >= 1 && id <= cluster->broker_cnt;
}

/* Applies up/down/rtt to one broker or, for "all", to each in turn: the
 * 2.0.2 mock only takes one broker id per call. */
static int broker_apply(ek_cluster_t *cluster, const ek_command_t *cmd,
                        char *reply, size_t reply_size)
{
        int32_t             first = cmd->broker_id, last = cmd->broker_id;
        int32_t             id;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        const char         *what;
        char                who[16];

        if (cmd->broker_id == EK_COMMAND_ALL_BROKERS) {
                first = 1;
                last  = cluster->broker_cnt;
        } else if (!broker_valid(cluster, cmd->broker_id)) {
                return reply_f(reply, reply_size, -1,
                               "error no broker %d (brokers are 1..%d)",
                               (int)cmd->broker_id, cluster->broker_cnt);
        }
        for (id = first; id <= last && !err; id++) {
                op_begin(cluster);
                if (cmd->type == EK_COMMAND_BROKER_DOWN)
                        err = rd_kafka_mock_broker_set_down(cluster->mcluster,
                                                            id);
                else if (cmd->type == EK_COMMAND_BROKER_UP)
                        err =
                            rd_kafka_mock_broker_set_up(cluster->mcluster, id);
                else
                        err = rd_kafka_mock_broker_set_rtt(cluster->mcluster,
                                                           id, cmd->rtt_ms);
                op_end(cluster);
        }
        if (err)
                return reply_f(reply, reply_size, -1, "error broker %d: %s",
                               (int)(id - 1), rd_kafka_err2name(err));
        what = cmd->type == EK_COMMAND_BROKER_DOWN ? "down"
               : cmd->type == EK_COMMAND_BROKER_UP ? "up"
                                                   : "rtt";
        if (cmd->broker_id == EK_COMMAND_ALL_BROKERS)
                snprintf(who, sizeof(who), "all");
        else
                snprintf(who, sizeof(who), "%d", (int)cmd->broker_id);
        if (cmd->type == EK_COMMAND_BROKER_RTT)
                return reply_f(reply, reply_size, 0, "ok broker %s rtt %d", who,
                               cmd->rtt_ms);
        return reply_f(reply, reply_size, 0, "ok broker %s %s", who, what);
}

static int broker_errors(ek_cluster_t *cluster, const ek_command_t *cmd,
                         char *reply, size_t reply_size)
{
        rd_kafka_resp_err_t err;
        size_t              i, depth = 0;

        if (!broker_valid(cluster, cmd->broker_id))
                return reply_f(reply, reply_size, -1,
                               "error no broker %d (brokers are 1..%d)",
                               (int)cmd->broker_id, cluster->broker_cnt);
        for (i = 0; i < cmd->err_cnt; i++) {
                err = rd_kafka_mock_broker_push_request_error_rtts(
                    cluster->mcluster, cmd->broker_id, cmd->api_key, 1,
                    cmd->errs[i], cmd->err_rtts[i]);
                if (err)
                        return reply_f(
                            reply, reply_size, -1, "error broker %d: %s",
                            (int)cmd->broker_id, rd_kafka_err2name(err));
        }
        (void)rd_kafka_mock_broker_error_stack_cnt(
            cluster->mcluster, cmd->broker_id, cmd->api_key, &depth);
        reply_f(reply, reply_size, 0,
                "ok broker %d %s queued %zu:", (int)cmd->broker_id,
                ek_names_api_key_name(cmd->api_key), depth);
        append_err_names(cmd, reply, reply_size);
        return 0;
}

static int leader(ek_cluster_t *cluster, const ek_command_t *cmd, char *reply,
                  size_t reply_size)
{
        rd_kafka_resp_err_t err;

        if (cmd->broker_id != -1 && !broker_valid(cluster, cmd->broker_id))
                return reply_f(reply, reply_size, -1,
                               "error no broker %d (brokers are 1..%d)",
                               (int)cmd->broker_id, cluster->broker_cnt);
        op_begin(cluster);
        err = rd_kafka_mock_partition_set_leader(
            cluster->mcluster, cmd->name, cmd->partition, cmd->broker_id);
        op_end(cluster);
        if (err)
                return reply_f(reply, reply_size, -1,
                               "error leader %s [%d]: %s", cmd->name,
                               (int)cmd->partition, rd_kafka_err2name(err));
        if (cmd->broker_id == -1)
                return reply_f(reply, reply_size, 0, "ok leader %s [%d] none",
                               cmd->name, (int)cmd->partition);
        return reply_f(reply, reply_size, 0, "ok leader %s [%d] %d", cmd->name,
                       (int)cmd->partition, (int)cmd->broker_id);
}

int ek_cluster_execute(ek_cluster_t *cluster, const ek_command_t *cmd,
                       char *reply, size_t reply_size)
{
        rd_kafka_resp_err_t err;
        char                errstr[256];

        switch (cmd->type) {
        case EK_COMMAND_HELP:
                return reply_f(reply, reply_size, 0, "ok %s",
                               ek_command_help());
        case EK_COMMAND_PING:
                return reply_f(reply, reply_size, 0, "ok pong");
        case EK_COMMAND_BOOTSTRAP:
                return reply_f(reply, reply_size, 0, "ok %s",
                               ek_cluster_bootstraps(cluster));
        case EK_COMMAND_BROKER_DOWN:
        case EK_COMMAND_BROKER_UP:
        case EK_COMMAND_BROKER_RTT:
                return broker_apply(cluster, cmd, reply, reply_size);
        case EK_COMMAND_BROKER_ERRORS:
                return broker_errors(cluster, cmd, reply, reply_size);
        case EK_COMMAND_LEADER:
                return leader(cluster, cmd, reply, reply_size);
        case EK_COMMAND_ERRORS:
                rd_kafka_mock_push_request_errors_array(
                    cluster->mcluster, cmd->api_key, cmd->err_cnt, cmd->errs);
                reply_f(reply, reply_size, 0, "ok %s pushed %zu:",
                        ek_names_api_key_name(cmd->api_key), cmd->err_cnt);
                append_err_names(cmd, reply, reply_size);
                return 0;
        case EK_COMMAND_CLEAR_ERRORS:
                rd_kafka_mock_clear_request_errors(cluster->mcluster,
                                                   cmd->api_key);
                return reply_f(reply, reply_size, 0, "ok %s cleared",
                               ek_names_api_key_name(cmd->api_key));
        case EK_COMMAND_TOPIC_ERROR:
                op_begin(cluster);
                rd_kafka_mock_topic_set_error(cluster->mcluster, cmd->name,
                                              cmd->errs[0]);
                op_end(cluster);
                return reply_f(reply, reply_size, 0, "ok topic %s %s",
                               cmd->name, ek_names_err_name(cmd->errs[0]));
        case EK_COMMAND_TOPIC_DOWN:
        case EK_COMMAND_TOPIC_UP: {
                int down       = cmd->type == EK_COMMAND_TOPIC_DOWN;
                int partitions = topic_partitions(cluster, cmd->name);

                if (partitions < 0)
                        return reply_f(reply, reply_size, -1,
                                       "error topic %s was not made with "
                                       "--topic or create",
                                       cmd->name);
                if (set_leaders(cluster, cmd->name, partitions, down, errstr,
                                sizeof(errstr)) != 0)
                        return reply_f(reply, reply_size, -1, "error %s",
                                       errstr);
                return reply_f(reply, reply_size, 0,
                               "ok topic %s %s (%d partitions)", cmd->name,
                               down ? "down" : "up", partitions);
        }
        case EK_COMMAND_CREATE:
                if (ek_cluster_topic_create(cluster, cmd->name, cmd->partitions,
                                            cmd->replication, errstr,
                                            sizeof(errstr)) != 0)
                        return reply_f(reply, reply_size, -1, "error %s",
                                       errstr);
                return reply_f(reply, reply_size, 0, "ok created %s %d",
                               cmd->name, cmd->partitions);
        case EK_COMMAND_COORDINATOR:
                /* The 2.0.2 mock asserts if FindCoordinator resolves to a
                 * broker that does not exist: only accept real ones. */
                if (!broker_valid(cluster, cmd->broker_id))
                        return reply_f(reply, reply_size, -1,
                                       "error no broker %d (brokers are "
                                       "1..%d)",
                                       (int)cmd->broker_id,
                                       cluster->broker_cnt);
                op_begin(cluster);
                err = rd_kafka_mock_coordinator_set(cluster->mcluster,
                                                    cmd->key_type, cmd->name,
                                                    cmd->broker_id);
                op_end(cluster);
                if (err)
                        return reply_f(reply, reply_size, -1,
                                       "error coordinator: %s",
                                       rd_kafka_err2name(err));
                return reply_f(reply, reply_size, 0, "ok coordinator %s %s %d",
                               cmd->key_type, cmd->name, (int)cmd->broker_id);
        }
        return reply_f(reply, reply_size, -1, "error unhandled command");
}

int ek_cluster_handle_line(ek_cluster_t *cluster, const char *line, char *reply,
                           size_t reply_size)
{
        ek_command_t *cmd;
        char          errstr[256];
        int           r;

        reply[0] = '\0';
        /* ek_command_t holds arrays of errors: keep it off the stack. */
        cmd = malloc(sizeof(*cmd));
        if (!cmd)
                return reply_f(reply, reply_size, -1, "error out of memory");
        r = ek_command_parse(line, cmd, errstr, sizeof(errstr));
        if (r == 1)
                goto done;
        if (r != 0) {
                r = reply_f(reply, reply_size, -1, "error %s", errstr);
                goto done;
        }
        r = ek_cluster_execute(cluster, cmd, reply, reply_size);
done:
        free(cmd);
        return r;
}

void ek_cluster_destroy(ek_cluster_t *cluster)
{
        if (!cluster)
                return;
        if (cluster->mcluster)
                rd_kafka_mock_cluster_destroy(cluster->mcluster);
        if (cluster->rk)
                rd_kafka_destroy(cluster->rk);
        free(cluster);
}
