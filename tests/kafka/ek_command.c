/*
 * ek_command - see ek_command.h.
 */
#include "ek_command.h"
#include "ek_names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A command has at most "broker errors ID APIKEY" plus its errors. */
#define TOKENS_MAX (4 + EK_COMMAND_ERRS_MAX + 1)

typedef struct tokens {
        char  *v[TOKENS_MAX];
        size_t cnt;
} tokens_t;

/* Splits buf in place on blanks. Returns 0, or -1 if there are too many. */
static int tokenize(char *buf, tokens_t *tok)
{
        char *p = buf;

        tok->cnt = 0;
        for (;;) {
                while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                        p++;
                if (!*p)
                        return 0;
                if (tok->cnt == TOKENS_MAX)
                        return -1;
                tok->v[tok->cnt++] = p;
                while (*p && *p != ' ' && *p != '\t' && *p != '\r' &&
                       *p != '\n')
                        p++;
                if (*p)
                        *p++ = '\0';
        }
}

/* Parses a whole decimal integer within [lo, hi]. Returns 0 or -1. */
static int parse_int(const char *s, long lo, long hi, long *vp)
{
        char *end = NULL;
        long  v;

        if (!*s)
                return -1;
        errno = 0;
        v     = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < lo || v > hi)
                return -1;
        *vp = v;
        return 0;
}

/* Broker id: a non-negative number, or "all" if allow_all. */
static int parse_broker(const char *s, int allow_all, int32_t *idp,
                        char *errstr, size_t errstr_size)
{
        long v;

        if (allow_all && strcasecmp(s, "all") == 0) {
                *idp = EK_COMMAND_ALL_BROKERS;
                return 0;
        }
        if (parse_int(s, 0, INT32_MAX, &v) != 0) {
                snprintf(errstr, errstr_size, "bad broker id \"%s\"%s", s,
                         allow_all ? " (want a number or all)" : "");
                return -1;
        }
        *idp = (int32_t)v;
        return 0;
}

static int parse_api_key(const char *s, int16_t *keyp, char *errstr,
                         size_t errstr_size)
{
        if (ek_names_api_key_parse(s, keyp) != 0) {
                snprintf(errstr, errstr_size, "unknown api key \"%s\"", s);
                return -1;
        }
        return 0;
}

static int parse_name(const char *s, char *name, size_t name_size, char *errstr,
                      size_t errstr_size)
{
        size_t len = strlen(s);

        if (len >= name_size) {
                snprintf(errstr, errstr_size, "name longer than %zu bytes",
                         name_size - 1);
                return -1;
        }
        memcpy(name, s, len + 1);
        return 0;
}

/* Parses errors tok->v[first..] into cmd->errs; with_rtt allows ERR@MS. */
static int parse_errors(const tokens_t *tok, size_t first, int with_rtt,
                        ek_command_t *cmd, char *errstr, size_t errstr_size)
{
        size_t i;

        if (first >= tok->cnt) {
                snprintf(errstr, errstr_size, "no error codes given");
                return -1;
        }
        if (tok->cnt - first > EK_COMMAND_ERRS_MAX) {
                snprintf(errstr, errstr_size, "more than %d error codes",
                         EK_COMMAND_ERRS_MAX);
                return -1;
        }
        for (i = first; i < tok->cnt; i++) {
                char *s   = tok->v[i];
                char *at  = with_rtt ? strchr(s, '@') : NULL;
                long  rtt = 0;

                if (at) {
                        *at = '\0';
                        if (parse_int(at + 1, 0, 3600 * 1000, &rtt) != 0) {
                                snprintf(errstr, errstr_size,
                                         "bad delay \"%s\" (want ms)", at + 1);
                                return -1;
                        }
                }
                if (ek_names_err_parse(s, &cmd->errs[cmd->err_cnt]) != 0) {
                        snprintf(errstr, errstr_size, "unknown error \"%s\"",
                                 s);
                        return -1;
                }
                cmd->err_rtts[cmd->err_cnt] = (int)rtt;
                cmd->err_cnt++;
        }
        return 0;
}

/* Checks the token count is within [lo, hi]. */
static int want_args(const tokens_t *tok, size_t lo, size_t hi,
                     const char *usage, char *errstr, size_t errstr_size)
{
        if (tok->cnt < lo || tok->cnt > hi) {
                snprintf(errstr, errstr_size, "usage: %s", usage);
                return -1;
        }
        return 0;
}

static int parse_broker_cmd(const tokens_t *tok, ek_command_t *cmd,
                            char *errstr, size_t errstr_size)
{
        const char *sub = tok->cnt > 1 ? tok->v[1] : "";
        long        v;

        if (strcasecmp(sub, "down") == 0 || strcasecmp(sub, "up") == 0) {
                if (want_args(tok, 3, 3, "broker down|up ID|all", errstr,
                              errstr_size) != 0)
                        return -1;
                cmd->type = strcasecmp(sub, "down") == 0
                                ? EK_COMMAND_BROKER_DOWN
                                : EK_COMMAND_BROKER_UP;
                return parse_broker(tok->v[2], 1 /*all ok*/, &cmd->broker_id,
                                    errstr, errstr_size);
        }
        if (strcasecmp(sub, "rtt") == 0) {
                if (want_args(tok, 4, 4, "broker rtt ID|all MS", errstr,
                              errstr_size) != 0)
                        return -1;
                cmd->type = EK_COMMAND_BROKER_RTT;
                if (parse_broker(tok->v[2], 1 /*all ok*/, &cmd->broker_id,
                                 errstr, errstr_size) != 0)
                        return -1;
                if (parse_int(tok->v[3], 0, 3600 * 1000, &v) != 0) {
                        snprintf(errstr, errstr_size, "bad rtt \"%s\"",
                                 tok->v[3]);
                        return -1;
                }
                cmd->rtt_ms = (int)v;
                return 0;
        }
        if (strcasecmp(sub, "errors") == 0) {
                if (tok->cnt < 5) {
                        snprintf(errstr, errstr_size,
                                 "usage: broker errors ID APIKEY ERR[@MS]...");
                        return -1;
                }
                cmd->type = EK_COMMAND_BROKER_ERRORS;
                if (parse_broker(tok->v[2], 0 /*no all*/, &cmd->broker_id,
                                 errstr, errstr_size) != 0 ||
                    parse_api_key(tok->v[3], &cmd->api_key, errstr,
                                  errstr_size) != 0)
                        return -1;
                return parse_errors(tok, 4, 1 /*with rtt*/, cmd, errstr,
                                    errstr_size);
        }
        snprintf(errstr, errstr_size,
                 "usage: broker down|up|rtt|errors ID ...");
        return -1;
}

static int parse_tokens(tokens_t *tok, ek_command_t *cmd, char *errstr,
                        size_t errstr_size)
{
        const char *verb = tok->v[0];
        long        v;

        if (strcasecmp(verb, "help") == 0) {
                cmd->type = EK_COMMAND_HELP;
                return want_args(tok, 1, 1, "help", errstr, errstr_size);
        }
        if (strcasecmp(verb, "ping") == 0) {
                cmd->type = EK_COMMAND_PING;
                return want_args(tok, 1, 1, "ping", errstr, errstr_size);
        }
        if (strcasecmp(verb, "bootstrap") == 0) {
                cmd->type = EK_COMMAND_BOOTSTRAP;
                return want_args(tok, 1, 1, "bootstrap", errstr, errstr_size);
        }
        if (strcasecmp(verb, "broker") == 0)
                return parse_broker_cmd(tok, cmd, errstr, errstr_size);
        if (strcasecmp(verb, "leader") == 0) {
                cmd->type = EK_COMMAND_LEADER;
                if (want_args(tok, 4, 4, "leader TOPIC PARTITION BROKER|none",
                              errstr, errstr_size) != 0 ||
                    parse_name(tok->v[1], cmd->name, sizeof(cmd->name), errstr,
                               errstr_size) != 0)
                        return -1;
                if (parse_int(tok->v[2], 0, INT32_MAX, &v) != 0) {
                        snprintf(errstr, errstr_size, "bad partition \"%s\"",
                                 tok->v[2]);
                        return -1;
                }
                cmd->partition = (int32_t)v;
                if (strcasecmp(tok->v[3], "none") == 0 ||
                    strcmp(tok->v[3], "-1") == 0) {
                        cmd->broker_id = -1;
                        return 0;
                }
                return parse_broker(tok->v[3], 0 /*no all*/, &cmd->broker_id,
                                    errstr, errstr_size);
        }
        if (strcasecmp(verb, "errors") == 0) {
                cmd->type = EK_COMMAND_ERRORS;
                if (tok->cnt < 3) {
                        snprintf(errstr, errstr_size,
                                 "usage: errors APIKEY ERR [ERR...]");
                        return -1;
                }
                if (parse_api_key(tok->v[1], &cmd->api_key, errstr,
                                  errstr_size) != 0)
                        return -1;
                return parse_errors(tok, 2, 0 /*no rtt*/, cmd, errstr,
                                    errstr_size);
        }
        if (strcasecmp(verb, "clear-errors") == 0) {
                cmd->type = EK_COMMAND_CLEAR_ERRORS;
                if (want_args(tok, 2, 2, "clear-errors APIKEY", errstr,
                              errstr_size) != 0)
                        return -1;
                return parse_api_key(tok->v[1], &cmd->api_key, errstr,
                                     errstr_size);
        }
        if (strcasecmp(verb, "topic-error") == 0) {
                cmd->type = EK_COMMAND_TOPIC_ERROR;
                if (want_args(tok, 3, 3, "topic-error TOPIC ERR|none", errstr,
                              errstr_size) != 0 ||
                    parse_name(tok->v[1], cmd->name, sizeof(cmd->name), errstr,
                               errstr_size) != 0)
                        return -1;
                return parse_errors(tok, 2, 0 /*no rtt*/, cmd, errstr,
                                    errstr_size);
        }
        if (strcasecmp(verb, "topic-down") == 0 ||
            strcasecmp(verb, "topic-up") == 0) {
                cmd->type = strcasecmp(verb, "topic-down") == 0
                                ? EK_COMMAND_TOPIC_DOWN
                                : EK_COMMAND_TOPIC_UP;
                if (want_args(tok, 2, 2, "topic-down|topic-up TOPIC", errstr,
                              errstr_size) != 0)
                        return -1;
                return parse_name(tok->v[1], cmd->name, sizeof(cmd->name),
                                  errstr, errstr_size);
        }
        if (strcasecmp(verb, "create") == 0) {
                cmd->type = EK_COMMAND_CREATE;
                if (want_args(tok, 3, 4,
                              "create TOPIC PARTITIONS [REPLICATION]", errstr,
                              errstr_size) != 0 ||
                    parse_name(tok->v[1], cmd->name, sizeof(cmd->name), errstr,
                               errstr_size) != 0)
                        return -1;
                if (parse_int(tok->v[2], 1, 100000, &v) != 0) {
                        snprintf(errstr, errstr_size,
                                 "bad partition count \"%s\"", tok->v[2]);
                        return -1;
                }
                cmd->partitions = (int)v;
                if (tok->cnt == 4) {
                        if (parse_int(tok->v[3], 1, 1000, &v) != 0) {
                                snprintf(errstr, errstr_size,
                                         "bad replication factor \"%s\"",
                                         tok->v[3]);
                                return -1;
                        }
                        cmd->replication = (int)v;
                }
                return 0;
        }
        if (strcasecmp(verb, "coordinator") == 0) {
                cmd->type = EK_COMMAND_COORDINATOR;
                if (want_args(tok, 4, 4,
                              "coordinator group|transaction KEY BROKER",
                              errstr, errstr_size) != 0)
                        return -1;
                if (strcasecmp(tok->v[1], "group") == 0)
                        snprintf(cmd->key_type, sizeof(cmd->key_type), "group");
                else if (strcasecmp(tok->v[1], "transaction") == 0)
                        snprintf(cmd->key_type, sizeof(cmd->key_type),
                                 "transaction");
                else {
                        snprintf(errstr, errstr_size,
                                 "bad coordinator type \"%s\" (want group or "
                                 "transaction)",
                                 tok->v[1]);
                        return -1;
                }
                if (parse_name(tok->v[2], cmd->name, sizeof(cmd->name), errstr,
                               errstr_size) != 0)
                        return -1;
                return parse_broker(tok->v[3], 0 /*no all*/, &cmd->broker_id,
                                    errstr, errstr_size);
        }
        snprintf(errstr, errstr_size, "unknown command \"%s\" (try help)",
                 verb);
        return -1;
}

int ek_command_parse(const char *line, ek_command_t *cmd, char *errstr,
                     size_t errstr_size)
{
        char     buf[EK_COMMAND_LINE_MAX];
        tokens_t tok;
        size_t   len = strlen(line);

        memset(cmd, 0, sizeof(*cmd));
        if (len >= sizeof(buf)) {
                snprintf(errstr, errstr_size, "line longer than %zu bytes",
                         sizeof(buf) - 1);
                return -1;
        }
        memcpy(buf, line, len + 1);
        if (tokenize(buf, &tok) != 0) {
                snprintf(errstr, errstr_size, "too many words");
                return -1;
        }
        if (tok.cnt == 0 || tok.v[0][0] == '#')
                return 1;
        return parse_tokens(&tok, cmd, errstr, errstr_size);
}

const char *ek_command_help(void)
{
        return "commands: help; ping; bootstrap; broker down|up ID|all; "
               "broker rtt ID|all MS; broker errors ID APIKEY ERR[@MS]...; "
               "leader TOPIC PARTITION BROKER|none; errors APIKEY ERR...; "
               "clear-errors APIKEY; topic-error TOPIC ERR|none; "
               "topic-down TOPIC; topic-up TOPIC; "
               "create TOPIC PARTITIONS [REPLICATION]; "
               "coordinator group|transaction KEY BROKER";
}
