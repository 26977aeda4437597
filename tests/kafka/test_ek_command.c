/*
 * Unit tests of ek_names and ek_command: the control-line grammar of
 * embedded-kafka. Table-driven; every table counts its failures.
 */
#include "ek_command.h"
#include "ek_names.h"
#include "ew_test.h"

#include <stdio.h>
#include <string.h>

static void test_api_keys(void)
{
        static const struct {
                const char *in;
                int         ok;
                int16_t     key;
        } cases[] = {
            {"Produce", 1, 0},
            {"produce", 1, 0},
            {"ProduceRequest", 1, 0},
            {"Fetch", 1, 1},
            {"Metadata", 1, 3},
            {"OffsetCommit", 1, 8},
            {"OffsetFetch", 1, 9},
            {"FindCoordinator", 1, 10},
            {"JoinGroup", 1, 11},
            {"Heartbeat", 1, 12},
            {"SyncGroup", 1, 14},
            {"ApiVersion", 1, 18},
            {"InitProducerId", 1, 22},
            {"8", 1, 8},
            {"0", 1, 0},
            {"Produc", 0, 0},
            {"ProduceX", 0, 0},
            {"-1", 0, 0},
            {"40000", 0, 0},
            {"", 0, 0},
            {"8x", 0, 0},
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int16_t key = -99;
                int     r   = ek_names_api_key_parse(cases[i].in, &key);

                if ((r == 0) != cases[i].ok ||
                    (cases[i].ok && key != cases[i].key)) {
                        fprintf(stderr, "api key \"%s\": r=%d key=%d\n",
                                cases[i].in, r, key);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_STRING_EQUAL(ek_names_api_key_name(11), "JoinGroup");
        CU_ASSERT_STRING_EQUAL(ek_names_api_key_name(-1), "Unknown");
        CU_ASSERT_STRING_EQUAL(ek_names_api_key_name(999), "Unknown");
}

static void test_errors(void)
{
        static const struct {
                const char         *in;
                int                 ok;
                rd_kafka_resp_err_t err;
        } cases[] = {
            {"NOT_LEADER_FOR_PARTITION", 1,
             RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION},
            {"not_leader_for_partition", 1,
             RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION},
            {"NOT_LEADER_OR_FOLLOWER", 1,
             RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION},
            {"REQUEST_TIMED_OUT", 1, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT},
            {"RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT", 1,
             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT},
            {"COORDINATOR_NOT_AVAILABLE", 1,
             RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE},
            {"NOT_COORDINATOR", 1, RD_KAFKA_RESP_ERR_NOT_COORDINATOR},
            {"UNKNOWN_TOPIC_OR_PART", 1,
             RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART},
            {"_TRANSPORT", 1, RD_KAFKA_RESP_ERR__TRANSPORT},
            {"none", 1, RD_KAFKA_RESP_ERR_NO_ERROR},
            {"NO_ERROR", 1, RD_KAFKA_RESP_ERR_NO_ERROR},
            {"7", 1, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT},
            {"-195", 1, RD_KAFKA_RESP_ERR__TRANSPORT},
            {"-1000", 0, 0},
            {"70000", 0, 0},
            {"NOT_A_REAL_ERROR", 0, 0},
            {"", 0, 0},
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                rd_kafka_resp_err_t err = (rd_kafka_resp_err_t)-999;
                int                 r   = ek_names_err_parse(cases[i].in, &err);

                if ((r == 0) != cases[i].ok ||
                    (cases[i].ok && err != cases[i].err)) {
                        fprintf(stderr, "error \"%s\": r=%d err=%d\n",
                                cases[i].in, r, (int)err);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_STRING_EQUAL(
            ek_names_err_name(RD_KAFKA_RESP_ERR_NOT_COORDINATOR),
            "NOT_COORDINATOR");
}

/* Expected parse of a valid line; fields not listed must stay zero. */
typedef struct valid_case {
        const char         *line;
        ek_command_type_t   type;
        int32_t             broker_id;
        int32_t             partition;
        int                 rtt_ms;
        int                 partitions;
        int                 replication;
        int16_t             api_key;
        size_t              err_cnt;
        rd_kafka_resp_err_t err0, err1;
        int                 rtt0, rtt1;
        const char         *name;
        const char         *key_type;
} valid_case_t;

static int check_valid(const valid_case_t *vc)
{
        ek_command_t cmd;
        char         errstr[256] = "";
        int r = ek_command_parse(vc->line, &cmd, errstr, sizeof(errstr));

        if (r != 0) {
                fprintf(stderr, "\"%s\": r=%d (%s)\n", vc->line, r, errstr);
                return 1;
        }
        if (cmd.type != vc->type || cmd.broker_id != vc->broker_id ||
            cmd.partition != vc->partition || cmd.rtt_ms != vc->rtt_ms ||
            cmd.partitions != vc->partitions ||
            cmd.replication != vc->replication || cmd.api_key != vc->api_key ||
            cmd.err_cnt != vc->err_cnt ||
            (vc->err_cnt > 0 &&
             (cmd.errs[0] != vc->err0 || cmd.err_rtts[0] != vc->rtt0)) ||
            (vc->err_cnt > 1 &&
             (cmd.errs[1] != vc->err1 || cmd.err_rtts[1] != vc->rtt1)) ||
            strcmp(cmd.name, vc->name ? vc->name : "") != 0 ||
            strcmp(cmd.key_type, vc->key_type ? vc->key_type : "") != 0) {
                fprintf(stderr, "\"%s\": fields differ (type %d)\n", vc->line,
                        (int)cmd.type);
                return 1;
        }
        return 0;
}

static void test_valid_lines(void)
{
        static const valid_case_t cases[] = {
            {.line = "help", .type = EK_COMMAND_HELP},
            {.line = "  ping \r\n", .type = EK_COMMAND_PING},
            {.line = "bootstrap", .type = EK_COMMAND_BOOTSTRAP},
            {.line      = "broker down 1",
             .type      = EK_COMMAND_BROKER_DOWN,
             .broker_id = 1},
            {.line      = "broker up 2\n",
             .type      = EK_COMMAND_BROKER_UP,
             .broker_id = 2},
            {.line      = "broker down all",
             .type      = EK_COMMAND_BROKER_DOWN,
             .broker_id = EK_COMMAND_ALL_BROKERS},
            {.line      = "broker rtt 3 250",
             .type      = EK_COMMAND_BROKER_RTT,
             .broker_id = 3,
             .rtt_ms    = 250},
            {.line      = "broker errors 2 Fetch NOT_LEADER_FOR_PARTITION "
                          "REQUEST_TIMED_OUT@1500",
             .type      = EK_COMMAND_BROKER_ERRORS,
             .broker_id = 2,
             .api_key   = 1,
             .err_cnt   = 2,
             .err0      = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
             .err1      = RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
             .rtt1      = 1500},
            {.line      = "leader events 2 3",
             .type      = EK_COMMAND_LEADER,
             .partition = 2,
             .broker_id = 3,
             .name      = "events"},
            {.line      = "leader events 0 none",
             .type      = EK_COMMAND_LEADER,
             .broker_id = -1,
             .name      = "events"},
            {.line    = "errors Produce NOT_LEADER_FOR_PARTITION 7",
             .type    = EK_COMMAND_ERRORS,
             .api_key = 0,
             .err_cnt = 2,
             .err0    = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
             .err1    = RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT},
            {.line    = "errors OffsetCommit COORDINATOR_NOT_AVAILABLE",
             .type    = EK_COMMAND_ERRORS,
             .api_key = 8,
             .err_cnt = 1,
             .err0    = RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE},
            {.line    = "clear-errors JoinGroup",
             .type    = EK_COMMAND_CLEAR_ERRORS,
             .api_key = 11},
            {.line    = "topic-error out UNKNOWN_TOPIC_OR_PART",
             .type    = EK_COMMAND_TOPIC_ERROR,
             .err_cnt = 1,
             .err0    = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
             .name    = "out"},
            {.line    = "topic-error out none",
             .type    = EK_COMMAND_TOPIC_ERROR,
             .err_cnt = 1,
             .err0    = RD_KAFKA_RESP_ERR_NO_ERROR,
             .name    = "out"},
            {.line = "topic-down out",
             .type = EK_COMMAND_TOPIC_DOWN,
             .name = "out"},
            {.line = "topic-up out",
             .type = EK_COMMAND_TOPIC_UP,
             .name = "out"},
            {.line       = "create dlq 2",
             .type       = EK_COMMAND_CREATE,
             .partitions = 2,
             .name       = "dlq"},
            {.line        = "create dlq 2 3",
             .type        = EK_COMMAND_CREATE,
             .partitions  = 2,
             .replication = 3,
             .name        = "dlq"},
            {.line      = "coordinator group workers 2",
             .type      = EK_COMMAND_COORDINATOR,
             .broker_id = 2,
             .name      = "workers",
             .key_type  = "group"},
            {.line      = "COORDINATOR Transaction tx1 1",
             .type      = EK_COMMAND_COORDINATOR,
             .broker_id = 1,
             .name      = "tx1",
             .key_type  = "transaction"},
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                failures += check_valid(&cases[i]);
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_invalid_lines(void)
{
        static const char *const bad[] = {
            "frobnicate",
            "help me",
            "broker",
            "broker sideways 1",
            "broker down",
            "broker down x",
            "broker down -2",
            "broker down 1 2",
            "broker rtt 1",
            "broker rtt 1 -5",
            "broker errors all Produce REQUEST_TIMED_OUT",
            "broker errors 1 Produce",
            "broker errors 1 Produce REQUEST_TIMED_OUT@x",
            "leader t 0",
            "leader t x 1",
            "leader t 0 all",
            "errors",
            "errors Produce",
            "errors Bogus REQUEST_TIMED_OUT",
            "errors Produce BOGUS_ERROR",
            "errors Produce REQUEST_TIMED_OUT@5",
            "clear-errors",
            "clear-errors Bogus",
            "topic-error t",
            "topic-error t BOGUS",
            "topic-down",
            "topic-up a b",
            "create t",
            "create t 0",
            "create t 3 0",
            "create t 3 1 9",
            "coordinator group g",
            "coordinator cluster g 1",
            "coordinator group g all",
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ek_command_t cmd;
                char         errstr[256] = "";

                if (ek_command_parse(bad[i], &cmd, errstr, sizeof(errstr)) !=
                        -1 ||
                    errstr[0] == '\0') {
                        fprintf(stderr, "accepted bad line \"%s\"\n", bad[i]);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_blank_and_comment(void)
{
        ek_command_t cmd;
        char         errstr[64];

        CU_ASSERT_EQUAL(ek_command_parse("", &cmd, errstr, sizeof(errstr)), 1);
        CU_ASSERT_EQUAL(
            ek_command_parse("  \t\n", &cmd, errstr, sizeof(errstr)), 1);
        CU_ASSERT_EQUAL(
            ek_command_parse("# broker down 1", &cmd, errstr, sizeof(errstr)),
            1);
}

static void test_limits(void)
{
        static char  line[EK_COMMAND_LINE_MAX + 64];
        ek_command_t cmd;
        char         errstr[128];
        size_t       len;
        int          i;

        /* A line one byte over the limit is refused... */
        memset(line, 'a', EK_COMMAND_LINE_MAX);
        line[EK_COMMAND_LINE_MAX] = '\0';
        CU_ASSERT_EQUAL(ek_command_parse(line, &cmd, errstr, sizeof(errstr)),
                        -1);

        /* ...as are more errors than one command may push... */
        len = (size_t)snprintf(line, sizeof(line), "errors Produce");
        for (i = 0; i < EK_COMMAND_ERRS_MAX + 1; i++)
                len += (size_t)snprintf(line + len, sizeof(line) - len, " 7");
        CU_ASSERT_EQUAL(ek_command_parse(line, &cmd, errstr, sizeof(errstr)),
                        -1);

        /* ...while exactly the maximum is accepted. */
        len = (size_t)snprintf(line, sizeof(line), "errors Produce");
        for (i = 0; i < EK_COMMAND_ERRS_MAX; i++)
                len += (size_t)snprintf(line + len, sizeof(line) - len, " 7");
        CU_ASSERT_EQUAL(ek_command_parse(line, &cmd, errstr, sizeof(errstr)),
                        0);
        CU_ASSERT_EQUAL(cmd.err_cnt, (size_t)EK_COMMAND_ERRS_MAX);

        /* Topic names longer than the name buffer are refused. */
        len = (size_t)snprintf(line, sizeof(line), "create ");
        memset(line + len, 't', EK_COMMAND_NAME_MAX);
        snprintf(line + len + EK_COMMAND_NAME_MAX,
                 sizeof(line) - len - EK_COMMAND_NAME_MAX, " 3");
        CU_ASSERT_EQUAL(ek_command_parse(line, &cmd, errstr, sizeof(errstr)),
                        -1);
}

static const ew_test_case_t names_cases[] = {
    {"api_keys", test_api_keys},
    {"errors", test_errors},
    {NULL, NULL},
};

static const ew_test_case_t command_cases[] = {
    {"valid_lines", test_valid_lines},
    {"invalid_lines", test_invalid_lines},
    {"blank_and_comment", test_blank_and_comment},
    {"limits", test_limits},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {
    {"names", names_cases},
    {"command", command_cases},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
