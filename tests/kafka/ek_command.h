/*
 * ek_command - parses one embedded-kafka control line into a command.
 *
 * Pure: no I/O, no cluster. The grammar (tokens separated by blanks):
 *
 *   help | ping | bootstrap
 *   broker down ID|all            broker up ID|all
 *   broker rtt ID|all MS
 *   broker errors ID APIKEY ERR[@MS] [ERR[@MS]...]
 *   leader TOPIC PARTITION BROKER|none
 *   errors APIKEY ERR [ERR...]    clear-errors APIKEY
 *   topic-error TOPIC ERR|none
 *   topic-down TOPIC              topic-up TOPIC
 *   create TOPIC PARTITIONS [REPLICATION]
 *   coordinator group|transaction KEY BROKER
 *
 * APIKEY and ERR take names or numbers (see ek_names.h).
 */
#ifndef EK_COMMAND_H
#define EK_COMMAND_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* Longest control line accepted, including the newline. */
#define EK_COMMAND_LINE_MAX 1024
/* Most errors one "errors" command can push. */
#define EK_COMMAND_ERRS_MAX 64
/* Kafka topic names are at most 249 bytes; group ids have no protocol limit
 * but ours are short. One size for both, NUL included. */
#define EK_COMMAND_NAME_MAX 256
/* broker_id value meaning "every broker". */
#define EK_COMMAND_ALL_BROKERS (-1)

typedef enum ek_command_type {
        EK_COMMAND_HELP,
        EK_COMMAND_PING,
        EK_COMMAND_BOOTSTRAP,
        EK_COMMAND_BROKER_DOWN,   /* broker_id */
        EK_COMMAND_BROKER_UP,     /* broker_id */
        EK_COMMAND_BROKER_RTT,    /* broker_id, rtt_ms */
        EK_COMMAND_BROKER_ERRORS, /* broker_id, api_key, errs, err_rtts */
        EK_COMMAND_LEADER,        /* name, partition, broker_id (-1 none) */
        EK_COMMAND_ERRORS,        /* api_key, errs */
        EK_COMMAND_CLEAR_ERRORS,  /* api_key */
        EK_COMMAND_TOPIC_ERROR,   /* name, errs[0] */
        EK_COMMAND_TOPIC_DOWN,    /* name */
        EK_COMMAND_TOPIC_UP,      /* name */
        EK_COMMAND_CREATE,        /* name, partitions, replication (0 dflt) */
        EK_COMMAND_COORDINATOR,   /* key_type, name, broker_id */
} ek_command_type_t;

typedef struct ek_command {
        ek_command_type_t   type;
        int32_t             broker_id;
        int32_t             partition;
        int                 rtt_ms;
        int                 partitions;
        int                 replication;
        int16_t             api_key;
        size_t              err_cnt;
        rd_kafka_resp_err_t errs[EK_COMMAND_ERRS_MAX];
        int                 err_rtts[EK_COMMAND_ERRS_MAX]; /* ms, 0 = none */
        char                name[EK_COMMAND_NAME_MAX];     /* topic or key */
        char                key_type[16]; /* "group" / "transaction" */
} ek_command_t;

/* Parses one line (trailing newline and blanks allowed) into *cmd.
 * Returns 0 on success, 1 if the line is blank or a '#' comment (no
 * command, nothing to answer), -1 on error with the reason in errstr. */
int ek_command_parse(const char *line, ek_command_t *cmd, char *errstr,
                     size_t errstr_size);

/* The help text: one line, commands separated by "; ". Static storage. */
const char *ek_command_help(void);

#endif /* EK_COMMAND_H */
