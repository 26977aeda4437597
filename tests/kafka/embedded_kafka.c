/*
 * embedded-kafka - a standalone Kafka broker for tests, built on
 * librdkafka's mock cluster. See tests/kafka/README.md.
 *
 * The first line on stdout is the bootstrap.servers list and nothing
 * else; it is written once the topics exist and the control channel
 * listens. Later stdout lines are replies to commands read on stdin.
 * SIGTERM, SIGINT and SIGHUP stop it cleanly with exit status 0.
 */
#include "ek_client.h"
#include "ek_cluster.h"
#include "ek_command.h"
#include "ek_control.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define TOPICS_MAX 64
#define DEFAULT_BROKERS 3
#define CTL_TIMEOUT_MS 10000
#define EXIT_USAGE 2

typedef struct topic_spec {
        char name[EK_COMMAND_NAME_MAX];
        int  partitions;
        int  replication; /* 0: cluster default */
} topic_spec_t;

typedef struct options {
        int          brokers;
        topic_spec_t topics[TOPICS_MAX];
        int          topic_cnt;
        const char  *control_path;
        int          read_stdin;
        int          exit_on_eof;
        int          debug;
        const char  *ctl_path; /* client mode */
        int          ctl_timeout_ms;
} options_t;

static void usage(FILE *fp)
{
        fprintf(fp,
                "usage: embedded-kafka [options]\n"
                "  -b, --brokers N          brokers, ids 1..N (default %d)\n"
                "  -t, --topic NAME:PARTITIONS[:REPLICATION]\n"
                "                           create a topic at start "
                "(repeatable)\n"
                "  -c, --control PATH       serve control commands on a "
                "unix socket\n"
                "      --no-stdin           do not read commands from stdin\n"
                "      --exit-on-eof        exit 0 when stdin reaches end "
                "of file\n"
                "  -d, --debug              log librdkafka's mock debug "
                "lines to stderr\n"
                "  -h, --help               this text\n"
                "       embedded-kafka --ctl PATH [--timeout MS] COMMAND...\n"
                "                           send one command to a running "
                "instance,\n"
                "                           print the reply; exit 0 ok, 1 "
                "error, 2 failure\n"
                "%s\n",
                DEFAULT_BROKERS, ek_command_help());
}

/* Parses a whole decimal number within [lo, hi]. */
static int parse_num(const char *s, long lo, long hi, int *vp)
{
        char *end = NULL;
        long  v;

        errno = 0;
        v     = strtol(s, &end, 10);
        if (!*s || errno != 0 || *end != '\0' || v < lo || v > hi)
                return -1;
        *vp = (int)v;
        return 0;
}

/* NAME:PARTITIONS[:REPLICATION] */
static int parse_topic(const char *arg, topic_spec_t *t)
{
        char   buf[EK_COMMAND_NAME_MAX + 32];
        char  *colon, *colon2;
        size_t len = strlen(arg);

        if (len >= sizeof(buf))
                return -1;
        memcpy(buf, arg, len + 1);
        colon = strchr(buf, ':');
        if (!colon || colon == buf)
                return -1;
        *colon = '\0';
        if (strlen(buf) >= sizeof(t->name))
                return -1;
        memcpy(t->name, buf, strlen(buf) + 1);
        colon2 = strchr(colon + 1, ':');
        if (colon2)
                *colon2 = '\0';
        if (parse_num(colon + 1, 1, 100000, &t->partitions) != 0)
                return -1;
        t->replication = 0;
        if (colon2 && parse_num(colon2 + 1, 1, 1000, &t->replication) != 0)
                return -1;
        return 0;
}

/* Returns 0, or EXIT_USAGE after printing why. */
static int parse_options(int argc, char **argv, options_t *opt)
{
        enum { OPT_NO_STDIN = 256, OPT_EXIT_ON_EOF, OPT_CTL, OPT_TIMEOUT };
        static const struct option longopts[] = {
            {"brokers", required_argument, NULL, 'b'},
            {"topic", required_argument, NULL, 't'},
            {"control", required_argument, NULL, 'c'},
            {"no-stdin", no_argument, NULL, OPT_NO_STDIN},
            {"exit-on-eof", no_argument, NULL, OPT_EXIT_ON_EOF},
            {"debug", no_argument, NULL, 'd'},
            {"help", no_argument, NULL, 'h'},
            {"ctl", required_argument, NULL, OPT_CTL},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {NULL, 0, NULL, 0},
        };
        int c;

        memset(opt, 0, sizeof(*opt));
        opt->brokers        = DEFAULT_BROKERS;
        opt->read_stdin     = 1;
        opt->ctl_timeout_ms = CTL_TIMEOUT_MS;

        /* "+": stop at the first non-option, the --ctl command words. */
        while ((c = getopt_long(argc, argv, "+b:t:c:dh", longopts, NULL)) !=
               -1) {
                switch (c) {
                case 'b':
                        if (parse_num(optarg, 1, 64, &opt->brokers) != 0) {
                                fprintf(stderr, "embedded-kafka: bad "
                                                "--brokers (want 1..64)\n");
                                return EXIT_USAGE;
                        }
                        break;
                case 't':
                        if (opt->topic_cnt == TOPICS_MAX ||
                            parse_topic(optarg, &opt->topics[opt->topic_cnt]) !=
                                0) {
                                fprintf(stderr,
                                        "embedded-kafka: bad --topic \"%s\" "
                                        "(want NAME:PARTITIONS[:REPLICATION]"
                                        ", at most %d)\n",
                                        optarg, TOPICS_MAX);
                                return EXIT_USAGE;
                        }
                        opt->topic_cnt++;
                        break;
                case 'c':
                        opt->control_path = optarg;
                        break;
                case OPT_NO_STDIN:
                        opt->read_stdin = 0;
                        break;
                case OPT_EXIT_ON_EOF:
                        opt->exit_on_eof = 1;
                        break;
                case 'd':
                        opt->debug = 1;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                case OPT_CTL:
                        opt->ctl_path = optarg;
                        break;
                case OPT_TIMEOUT:
                        if (parse_num(optarg, 1, 3600 * 1000,
                                      &opt->ctl_timeout_ms) != 0) {
                                fprintf(stderr,
                                        "embedded-kafka: bad --timeout\n");
                                return EXIT_USAGE;
                        }
                        break;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (opt->ctl_path && optind >= argc) {
                fprintf(stderr, "embedded-kafka: --ctl needs a command\n");
                return EXIT_USAGE;
        }
        if (!opt->ctl_path && optind < argc) {
                fprintf(stderr, "embedded-kafka: unexpected argument \"%s\"\n",
                        argv[optind]);
                return EXIT_USAGE;
        }
        if (opt->exit_on_eof && !opt->read_stdin) {
                fprintf(stderr, "embedded-kafka: --exit-on-eof needs stdin\n");
                return EXIT_USAGE;
        }
        return 0;
}

/* Client mode: joins the command words, sends them, prints the reply. */
static int run_ctl(const options_t *opt, int argc, char **argv)
{
        char   line[EK_COMMAND_LINE_MAX];
        char   reply[EK_CONTROL_REPLY_MAX];
        char   errstr[256];
        size_t len = 0;
        int    i;

        line[0] = '\0';
        for (i = optind; i < argc; i++) {
                size_t wlen = strlen(argv[i]);

                if (len + wlen + 2 > sizeof(line)) {
                        fprintf(stderr, "embedded-kafka: command too long\n");
                        return EXIT_USAGE;
                }
                if (len > 0)
                        line[len++] = ' ';
                memcpy(line + len, argv[i], wlen + 1);
                len += wlen;
        }
        if (ek_client_send(opt->ctl_path, line, opt->ctl_timeout_ms, reply,
                           sizeof(reply), errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "embedded-kafka: --ctl: %s\n", errstr);
                return 2;
        }
        printf("%s\n", reply);
        return strncmp(reply, "ok", 2) == 0 ? 0 : 1;
}

static int control_handler(void *opaque, const char *line, char *reply,
                           size_t reply_size)
{
        return ek_cluster_handle_line(opaque, line, reply, reply_size);
}

int main(int argc, char **argv)
{
        options_t     opt;
        sigset_t      stop_sigs;
        int           sfd     = -1;
        ek_cluster_t *cluster = NULL;
        ek_control_t *ctl     = NULL;
        char          errstr[512];
        int           rc = 1, i;

        rc = parse_options(argc, argv, &opt);
        if (rc != 0)
                return rc;
        if (opt.ctl_path)
                return run_ctl(&opt, argc, argv);
        rc = 1;

        /* Block the stop signals before librdkafka starts threads, so that
         * only the signalfd sees them and the poll loop ends cleanly. */
        sigemptyset(&stop_sigs);
        sigaddset(&stop_sigs, SIGINT);
        sigaddset(&stop_sigs, SIGTERM);
        sigaddset(&stop_sigs, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &stop_sigs, NULL) != 0 ||
            (sfd = signalfd(-1, &stop_sigs, SFD_CLOEXEC)) < 0) {
                fprintf(stderr, "embedded-kafka: signalfd: %s\n",
                        strerror(errno));
                goto done;
        }
        signal(SIGPIPE, SIG_IGN);

        cluster =
            ek_cluster_new(opt.brokers, opt.debug, errstr, sizeof(errstr));
        if (!cluster) {
                fprintf(stderr, "embedded-kafka: %s\n", errstr);
                goto done;
        }
        for (i = 0; i < opt.topic_cnt; i++) {
                if (ek_cluster_topic_create(cluster, opt.topics[i].name,
                                            opt.topics[i].partitions,
                                            opt.topics[i].replication, errstr,
                                            sizeof(errstr)) != 0) {
                        fprintf(stderr, "embedded-kafka: %s\n", errstr);
                        goto done;
                }
        }
        ctl = ek_control_new(opt.read_stdin ? STDIN_FILENO : -1, STDOUT_FILENO,
                             opt.control_path, control_handler, cluster, errstr,
                             sizeof(errstr));
        if (!ctl) {
                fprintf(stderr, "embedded-kafka: control: %s\n", errstr);
                goto done;
        }

        /* The contract with every script: line one is the bootstrap list. */
        printf("%s\n", ek_cluster_bootstraps(cluster));
        fflush(stdout);
        fprintf(stderr, "embedded-kafka: %d broker(s) at %s, %d topic(s)%s%s\n",
                opt.brokers, ek_cluster_bootstraps(cluster), opt.topic_cnt,
                opt.control_path ? ", control socket " : "",
                opt.control_path ? opt.control_path : "");

        if (ek_control_run(ctl, sfd, opt.exit_on_eof, errstr, sizeof(errstr)) <
            0) {
                fprintf(stderr, "embedded-kafka: %s\n", errstr);
                goto done;
        }
        rc = 0;

done:
        ek_control_destroy(ctl);
        ek_cluster_destroy(cluster);
        if (sfd >= 0)
                close(sfd);
        return rc;
}
