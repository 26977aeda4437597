/*
 * Unit tests of ek_cluster: control lines applied to a real in-process
 * librdkafka mock cluster, checked by their replies and, where the effect
 * is visible to a client, through a metadata request.
 */
#include "ek_cluster.h"
#include "ew_test.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

static ek_cluster_t *new_cluster(void)
{
        char          errstr[256];
        ek_cluster_t *cluster =
            ek_cluster_new(3, 0 /*no debug*/, errstr, sizeof(errstr));

        if (!cluster)
                fprintf(stderr, "ek_cluster_new: %s\n", errstr);
        return cluster;
}

/* Fetches metadata of one topic from the cluster with a fresh client.
 * Returns NULL on failure; free with rd_kafka_metadata_destroy. */
static const rd_kafka_metadata_t *
topic_metadata(ek_cluster_t *cluster, const char *topic, rd_kafka_t **rkp)
{
        rd_kafka_conf_t           *conf = rd_kafka_conf_new();
        const rd_kafka_metadata_t *md   = NULL;
        rd_kafka_topic_t          *rkt;
        char                       errstr[256];

        *rkp = NULL;
        if (rd_kafka_conf_set(conf, "bootstrap.servers",
                              ek_cluster_bootstraps(cluster), errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) !=
                RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        *rkp = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!*rkp) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rkt = rd_kafka_topic_new(*rkp, topic, NULL);
        if (rd_kafka_metadata(*rkp, 0, rkt, &md, 5000) != 0)
                md = NULL;
        rd_kafka_topic_destroy(rkt);
        return md;
}

/* Leader of partition p in md's only topic, or -2 if absent. */
static int32_t leader_of(const rd_kafka_metadata_t *md, int32_t p)
{
        int i;

        if (!md || md->topic_cnt != 1)
                return -2;
        for (i = 0; i < md->topics[0].partition_cnt; i++) {
                if (md->topics[0].partitions[i].id == p)
                        return md->topics[0].partitions[i].leader;
        }
        return -2;
}

static void test_bootstraps(void)
{
        ek_cluster_t *cluster = new_cluster();
        const char   *bs;
        const char   *p;
        int           commas = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(cluster);
        bs = ek_cluster_bootstraps(cluster);
        CU_ASSERT_PTR_NOT_NULL(bs);
        for (p = bs; p && *p; p++)
                commas += *p == ',';
        CU_ASSERT_EQUAL(commas, 2); /* three brokers */
        CU_ASSERT_EQUAL(strncmp(bs, "127.0.0.1:", 10), 0);
        ek_cluster_destroy(cluster);
}

static void test_replies(void)
{
        static const struct {
                const char *line;
                int         rc;
                const char *reply; /* exact, or prefix if ending in '*' */
        } cases[] = {
            {"ping", 0, "ok pong"},
            {"   ", 1, ""},
            {"# nothing", 1, ""},
            {"bogus", -1, "error unknown command \"bogus\" (try help)"},
            {"help", 0, "ok commands: help;*"},
            {"broker down 1", 0, "ok broker 1 down"},
            {"broker up 1", 0, "ok broker 1 up"},
            {"broker down 4", -1, "error no broker 4 (brokers are 1..3)"},
            {"broker down all", 0, "ok broker all down"},
            {"broker up all", 0, "ok broker all up"},
            {"broker rtt 2 5", 0, "ok broker 2 rtt 5"},
            {"broker rtt all 0", 0, "ok broker all rtt 0"},
            {"create t1 3", 0, "ok created t1 3"},
            {"create t1 3", -1, "error create t1: TOPIC_ALREADY_EXISTS"},
            {"leader t1 2 1", 0, "ok leader t1 [2] 1"},
            {"leader t1 7 1", -1, "error leader t1 [7]: UNKNOWN_TOPIC_OR_PART"},
            {"leader t1 0 5", -1, "error no broker 5 (brokers are 1..3)"},
            {"errors Produce NOT_LEADER_FOR_PARTITION 7", 0,
             "ok Produce pushed 2: NOT_LEADER_FOR_PARTITION "
             "REQUEST_TIMED_OUT"},
            {"clear-errors produce", 0, "ok Produce cleared"},
            {"errors OffsetCommit BOGUS", -1, "error unknown error \"BOGUS\""},
            /* The broker stack depth in the reply proves the push landed
             * in the mock: it grows with each command. */
            {"broker errors 2 Fetch REQUEST_TIMED_OUT@100", 0,
             "ok broker 2 Fetch queued 1: REQUEST_TIMED_OUT@100"},
            {"broker errors 2 Fetch NOT_LEADER_FOR_PARTITION _TRANSPORT", 0,
             "ok broker 2 Fetch queued 3: NOT_LEADER_FOR_PARTITION "
             "_TRANSPORT"},
            {"broker errors 7 Fetch REQUEST_TIMED_OUT", -1,
             "error no broker 7 (brokers are 1..3)"},
            {"coordinator group g 2", 0, "ok coordinator group g 2"},
            {"coordinator group g 9", -1,
             "error no broker 9 (brokers are 1..3)"},
            {"topic-error t1 UNKNOWN_TOPIC_OR_PART", 0,
             "ok topic t1 UNKNOWN_TOPIC_OR_PART"},
            {"topic-error t1 none", 0, "ok topic t1 NO_ERROR"},
            {"topic-down t1", 0, "ok topic t1 down (3 partitions)"},
            {"topic-up t1", 0, "ok topic t1 up (3 partitions)"},
            {"topic-down nosuch", -1,
             "error topic nosuch was not made with --topic or create"},
        };
        ek_cluster_t *cluster  = new_cluster();
        int           failures = 0;
        size_t        i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(cluster);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char        reply[1024];
                const char *want = cases[i].reply;
                size_t      wlen = strlen(want);
                int rc   = ek_cluster_handle_line(cluster, cases[i].line, reply,
                                                  sizeof(reply));
                int same = wlen > 0 && want[wlen - 1] == '*'
                               ? strncmp(reply, want, wlen - 1) == 0
                               : strcmp(reply, want) == 0;

                if (rc != cases[i].rc || !same) {
                        fprintf(stderr, "\"%s\": rc=%d reply \"%s\"\n",
                                cases[i].line, rc, reply);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        ek_cluster_destroy(cluster);
}

/* Topics made at start get pinned leaders; "leader" moves one and
 * "topic-error" shows up in the client's metadata. */
static void test_effects_in_metadata(void)
{
        ek_cluster_t              *cluster = new_cluster();
        const rd_kafka_metadata_t *md;
        rd_kafka_t                *rk = NULL;
        char                       errstr[256], reply[256];

        CU_ASSERT_PTR_NOT_NULL_FATAL(cluster);
        CU_ASSERT_EQUAL_FATAL(ek_cluster_topic_create(cluster, "events", 4, 0,
                                                      errstr, sizeof(errstr)),
                              0);
        md = topic_metadata(cluster, "events", &rk);
        CU_ASSERT_PTR_NOT_NULL(md);
        CU_ASSERT_EQUAL(leader_of(md, 0), 1);
        CU_ASSERT_EQUAL(leader_of(md, 1), 2);
        CU_ASSERT_EQUAL(leader_of(md, 2), 3);
        CU_ASSERT_EQUAL(leader_of(md, 3), 1);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rk)
                rd_kafka_destroy(rk);

        CU_ASSERT_EQUAL(ek_cluster_handle_line(cluster, "leader events 1 3",
                                               reply, sizeof(reply)),
                        0);
        CU_ASSERT_EQUAL(ek_cluster_handle_line(cluster, "leader events 2 none",
                                               reply, sizeof(reply)),
                        0);
        md = topic_metadata(cluster, "events", &rk);
        CU_ASSERT_EQUAL(leader_of(md, 1), 3);
        CU_ASSERT_EQUAL(leader_of(md, 2), -1);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rk)
                rd_kafka_destroy(rk);

        /* topic-down takes every leader away, topic-up pins them back. */
        CU_ASSERT_EQUAL(ek_cluster_handle_line(cluster, "topic-down events",
                                               reply, sizeof(reply)),
                        0);
        md = topic_metadata(cluster, "events", &rk);
        CU_ASSERT_EQUAL(leader_of(md, 0), -1);
        CU_ASSERT_EQUAL(leader_of(md, 3), -1);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rk)
                rd_kafka_destroy(rk);
        CU_ASSERT_EQUAL(ek_cluster_handle_line(cluster, "topic-up events",
                                               reply, sizeof(reply)),
                        0);
        md = topic_metadata(cluster, "events", &rk);
        CU_ASSERT_EQUAL(leader_of(md, 1), 2);
        CU_ASSERT_EQUAL(leader_of(md, 2), 3);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rk)
                rd_kafka_destroy(rk);

        CU_ASSERT_EQUAL(ek_cluster_handle_line(
                            cluster,
                            "topic-error events TOPIC_AUTHORIZATION_FAILED",
                            reply, sizeof(reply)),
                        0);
        md = topic_metadata(cluster, "events", &rk);
        CU_ASSERT_PTR_NOT_NULL(md);
        if (md && md->topic_cnt == 1)
                CU_ASSERT_EQUAL(md->topics[0].err,
                                RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rk)
                rd_kafka_destroy(rk);
        ek_cluster_destroy(cluster);
}

static void test_bad_new(void)
{
        char errstr[128] = "";

        CU_ASSERT_PTR_NULL(ek_cluster_new(0, 0, errstr, sizeof(errstr)));
        CU_ASSERT_NOT_EQUAL(errstr[0], '\0');
        CU_ASSERT_PTR_NULL(ek_cluster_new(65, 0, errstr, sizeof(errstr)));
        ek_cluster_destroy(NULL); /* must be a no-op */
}

static const ew_test_case_t cluster_cases[] = {
    {"bootstraps", test_bootstraps},
    {"replies", test_replies},
    {"effects_in_metadata", test_effects_in_metadata},
    {"bad_new", test_bad_new},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {
    {"cluster", cluster_cases},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
