/*
 * ek_names - see ek_names.h.
 */
#include "ek_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Kafka protocol request names, indexed by ApiKey (KIP-specified numbers).
 * Only the ones a mock cluster can receive or that a test might name. */
static const char *const api_key_names[] = {
    "Produce",
    "Fetch",
    "ListOffsets",
    "Metadata",
    "LeaderAndIsr",
    "StopReplica",
    "UpdateMetadata",
    "ControlledShutdown",
    "OffsetCommit",
    "OffsetFetch",
    "FindCoordinator",
    "JoinGroup",
    "Heartbeat",
    "LeaveGroup",
    "SyncGroup",
    "DescribeGroups",
    "ListGroups",
    "SaslHandshake",
    "ApiVersions",
    "CreateTopics",
    "DeleteTopics",
    "DeleteRecords",
    "InitProducerId",
    "OffsetForLeaderEpoch",
    "AddPartitionsToTxn",
    "AddOffsetsToTxn",
    "EndTxn",
    "WriteTxnMarkers",
    "TxnOffsetCommit",
    "DescribeAcls",
    "CreateAcls",
    "DeleteAcls",
    "DescribeConfigs",
    "AlterConfigs",
    "AlterReplicaLogDirs",
    "DescribeLogDirs",
    "SaslAuthenticate",
    "CreatePartitions",
    "CreateDelegationToken",
    "RenewDelegationToken",
    "ExpireDelegationToken",
    "DescribeDelegationToken",
    "DeleteGroups",
    "ElectLeaders",
    "IncrementalAlterConfigs",
    "AlterPartitionReassignments",
    "ListPartitionReassignments",
    "OffsetDelete",
};

#define API_KEY_CNT ((int)(sizeof(api_key_names) / sizeof(api_key_names[0])))

/* Older or alternative spellings people use for the same request. */
static const struct {
        const char *name;
        int16_t     key;
} api_key_aliases[] = {
    {"Offset", 2},
    {"Offsets", 2},
    {"ApiVersion", 18},
    {"GroupCoordinator", 10},
};

/* Error names other clients and newer Kafka versions use for codes that
 * librdkafka 2.0.2 names differently. */
static const struct {
        const char         *name;
        rd_kafka_resp_err_t err;
} err_aliases[] = {
    {"NONE", RD_KAFKA_RESP_ERR_NO_ERROR},
    {"OK", RD_KAFKA_RESP_ERR_NO_ERROR},
    {"NOT_LEADER_OR_FOLLOWER", RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION},
    {"TRANSPORT", RD_KAFKA_RESP_ERR__TRANSPORT},
    {"DISCONNECT", RD_KAFKA_RESP_ERR__TRANSPORT},
};

/* Parses a whole decimal integer (optional sign). Returns 0 or -1. */
static int parse_long(const char *s, long *vp)
{
        char *end = NULL;
        long  v;

        if (!*s)
                return -1;
        errno = 0;
        v     = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -1;
        *vp = v;
        return 0;
}

/* Case-insensitive match of s against name, optionally followed by suffix
 * (e.g. "Request"). */
static int name_matches(const char *s, const char *name, const char *suffix)
{
        size_t nlen = strlen(name);

        if (strncasecmp(s, name, nlen) != 0)
                return 0;
        if (s[nlen] == '\0')
                return 1;
        return suffix && strcasecmp(s + nlen, suffix) == 0;
}

int ek_names_api_key_parse(const char *s, int16_t *keyp)
{
        long   v;
        size_t i;

        if (!s)
                return -1;
        if (parse_long(s, &v) == 0) {
                if (v < 0 || v > INT16_MAX)
                        return -1;
                *keyp = (int16_t)v;
                return 0;
        }
        for (i = 0; i < (size_t)API_KEY_CNT; i++) {
                if (name_matches(s, api_key_names[i], "Request")) {
                        *keyp = (int16_t)i;
                        return 0;
                }
        }
        for (i = 0; i < sizeof(api_key_aliases) / sizeof(api_key_aliases[0]);
             i++) {
                if (name_matches(s, api_key_aliases[i].name, "Request")) {
                        *keyp = api_key_aliases[i].key;
                        return 0;
                }
        }
        return -1;
}

const char *ek_names_api_key_name(int16_t key)
{
        if (key < 0 || key >= API_KEY_CNT)
                return "Unknown";
        return api_key_names[key];
}

/* Looks s up in librdkafka's own error table. */
static int err_lookup_librdkafka(const char *s, rd_kafka_resp_err_t *errp)
{
        const struct rd_kafka_err_desc *descs = NULL;
        size_t                          cnt   = 0;
        size_t                          i;

        rd_kafka_get_err_descs(&descs, &cnt);
        for (i = 0; i < cnt; i++) {
                if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
                        *errp = descs[i].code;
                        return 0;
                }
        }
        return -1;
}

/* Returns 1 if librdkafka knows the code (has a name for it). */
static int err_known(long code)
{
        const struct rd_kafka_err_desc *descs = NULL;
        size_t                          cnt   = 0;
        size_t                          i;

        rd_kafka_get_err_descs(&descs, &cnt);
        for (i = 0; i < cnt; i++) {
                if (descs[i].name && (long)descs[i].code == code)
                        return 1;
        }
        return 0;
}

int ek_names_err_parse(const char *s, rd_kafka_resp_err_t *errp)
{
        static const char prefix[] = "RD_KAFKA_RESP_ERR_";
        long              v;
        size_t            i;

        if (!s || !*s)
                return -1;
        if (parse_long(s, &v) == 0) {
                /* Broker error codes travel as int16; negative ones are
                 * librdkafka-internal and only meaningful if known (e.g.
                 * -195 _TRANSPORT makes the mock drop the connection). */
                if ((v >= 0 && v <= INT16_MAX) || err_known(v)) {
                        *errp = (rd_kafka_resp_err_t)v;
                        return 0;
                }
                return -1;
        }
        if (strncasecmp(s, prefix, sizeof(prefix) - 1) == 0)
                s += sizeof(prefix) - 1;
        for (i = 0; i < sizeof(err_aliases) / sizeof(err_aliases[0]); i++) {
                if (strcasecmp(s, err_aliases[i].name) == 0) {
                        *errp = err_aliases[i].err;
                        return 0;
                }
        }
        return err_lookup_librdkafka(s, errp);
}

const char *ek_names_err_name(rd_kafka_resp_err_t err)
{
        return rd_kafka_err2name(err);
}
