/*
 * engagement-worker - command line entry point. Only main() decides to exit.
 *
 *   engagement-worker [run] --config FILE          a consumer-group member
 *   engagement-worker batch --config FILE --input F evaluate a file of events
 *   engagement-worker redrive --config FILE [...]   replay dead letters
 *   engagement-worker --config FILE --check-config validate, print config
 *   engagement-worker --config-reference           every key as Markdown
 *   engagement-worker --version | --help
 *
 * The config path falls back to $ENGAGEMENT_WORKER_CONFIG.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json_c_version.h>
#include <librdkafka/rdkafka.h>

#include "ew_batch.h"
#include "ew_config.h"
#include "ew_log.h"
#include "ew_redrive.h"
#include "ew_version.h"
#include "ew_worker.h"

static void usage_run(FILE *fp)
{
        fprintf(
            fp,
            "Usage: " EW_NAME " [run] [--config FILE] [options]\n"
            "       " EW_NAME " batch --config FILE --input FILE [...]\n"
            "\n"
            "Consumes visitor-activity events from Kafka, asks LivePerson's\n"
            "Monitoring API (engagement method, on behalf of each consumer)\n"
            "whether an engagement is available, and publishes the outcome\n"
            "to the output topic, or the event to the dead-letter topic.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE     YAML configuration (default:\n"
            "                        $ENGAGEMENT_WORKER_CONFIG)\n"
            "      --check-config    validate the configuration, print the\n"
            "                        effective values (secrets masked), exit\n"
            "      --config-reference\n"
            "                        print every configuration key as "
            "Markdown\n"
            "  -V, --version         print version and library versions\n"
            "  -h, --help            this text\n"
            "\n"
            "Subcommands (each has --help):\n"
            "  run      the default: one member of the consumer group\n"
            "  batch    evaluate a file of events without Kafka\n"
            "  redrive  replay dead letters to the input topic\n"
            "\n"
            "Exit status: 0 after a clean shutdown (SIGTERM/SIGINT) or a "
            "valid\n"
            "--check-config; 1 on a configuration or start-up error, or when\n"
            "a second signal cut the shutdown short; 2 on a usage error.\n"
            "\n"
            "Documentation: README.md, docs/configuration.md, "
            "docs/contracts.md\n");
}

static void usage_batch(FILE *fp)
{
        fprintf(
            fp,
            "Usage: " EW_NAME " batch --config FILE --input FILE|- "
            "[--output FILE|-]\n"
            "                         [--dead-letter FILE] "
            "[--progress|--no-progress]\n"
            "\n"
            "Batch eligibility evaluation without Kafka. Reads visitor events\n"
            "as NDJSON (one event per line, the inbound contract of\n"
            "docs/contracts.md; - for stdin) and runs them through the same\n"
            "engine as the worker: concurrency (monitoring.max_in_flight),\n"
            "per-key order, the retry policy, sessions, rate limit and\n"
            "circuit breaker. Kafka settings are not used.\n"
            "\n"
            "  -c, --config FILE       YAML configuration\n"
            "  -i, --input FILE        events, one JSON object per line; - is "
            "stdin\n"
            "  -o, --output FILE       outcome lines (default: stdout)\n"
            "  -d, --dead-letter FILE  dead-letter lines: the dead-letter "
            "header\n"
            "                          fields as JSON keys plus \"event\", "
            "the\n"
            "                          original line (default: with the "
            "outcomes)\n"
            "      --progress          progress line on stderr (default: when\n"
            "                          stderr is a terminal)\n"
            "      --no-progress       no progress line\n"
            "  -h, --help              this text\n"
            "\n"
            "A summary goes to stderr at the end. An event's source is\n"
            "{\"topic\": <input>, \"partition\": 0, \"offset\": <line "
            "number>}.\n"
            "\n"
            "Exit status: 0 when every event got an outcome; 3 when some went\n"
            "to dead letters; 1 on an error; 2 on a usage error; 130 when\n"
            "interrupted (SIGINT/SIGTERM: events already read are "
            "finished).\n");
}

static void version(void)
{
        printf(EW_NAME " " EW_VERSION "\n");
        printf("librdkafka %s, %s, json-c %s\n", rd_kafka_version_str(),
               curl_version(), json_c_version());
}

static ew_config_t *load_config(const char *path)
{
        ew_config_t   *conf;
        ew_log_level_t level;
        char           errstr[1024];

        if (!path || !*path) {
                fprintf(stderr,
                        EW_NAME ": no configuration: pass --config "
                                "FILE or set ENGAGEMENT_WORKER_CONFIG\n");
                return NULL;
        }
        conf = ew_config_load(path, errstr, sizeof(errstr));
        if (!conf) {
                fprintf(stderr, EW_NAME ": %s\n", errstr);
                return NULL;
        }
        if (conf->log.level && ew_log_level_parse(conf->log.level, &level) == 0)
                ew_log_set_level(level);
        if (conf->log.format && !strcmp(conf->log.format, "json"))
                ew_log_set_format(EW_LOG_FORMAT_JSON);
        return conf;
}

static int cmd_batch(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"input", required_argument, NULL, 'i'},
            {"output", required_argument, NULL, 'o'},
            {"dead-letter", required_argument, NULL, 'd'},
            {"progress", no_argument, NULL, 'p'},
            {"no-progress", no_argument, NULL, 'P'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char        *config_path = getenv("ENGAGEMENT_WORKER_CONFIG");
        ew_batch_opts_t    bo          = {NULL, NULL, NULL, -1};
        ew_batch_summary_t sum;
        ew_config_t       *conf;
        char               errstr[1024] = "";
        int                opt, rc;

        while ((opt = getopt_long(argc, argv, "c:i:o:d:h", opts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'i':
                        bo.input = optarg;
                        break;
                case 'o':
                        bo.output = optarg;
                        break;
                case 'd':
                        bo.dead_letter = optarg;
                        break;
                case 'p':
                        bo.progress = 1;
                        break;
                case 'P':
                        bo.progress = 0;
                        break;
                case 'h':
                        usage_batch(stdout);
                        return 0;
                default:
                        usage_batch(stderr);
                        return 2;
                }
        }
        if (optind < argc || !bo.input) {
                fprintf(stderr, EW_NAME " batch: %s\n",
                        optind < argc ? "unexpected argument"
                                      : "--input FILE is required");
                usage_batch(stderr);
                return 2;
        }
        conf = load_config(config_path);
        if (!conf)
                return config_path && *config_path ? 1 : 2;

        rc = ew_batch_run(conf, &bo, &sum, errstr, sizeof(errstr));
        if (rc == 1)
                fprintf(stderr, EW_NAME " batch: %s\n", errstr);
        fprintf(stderr,
                EW_NAME
                " batch: %lld events in %.1f s: %lld engagement, %lld "
                "conversation, %lld unavailable; dead letters: %lld "
                "invalid_event, %lld rejected, %lld retries_exhausted%s\n",
                sum.events, sum.seconds, sum.engagement, sum.conversation,
                sum.unavailable, sum.invalid_event, sum.rejected,
                sum.retries_exhausted, rc == 130 ? " (interrupted)" : "");
        ew_config_destroy(conf);
        return rc;
}

static void usage_redrive(FILE *fp)
{
        fprintf(
            fp,
            "Usage: " EW_NAME " redrive --config FILE [--kind KIND]... "
            "[--since TIME]\n"
            "                           [--max-redrives N] [--dry-run]\n"
            "\n"
            "Replays dead letters after an outage: reads the dead-letter "
            "topic\n"
            "(kafka.dead_letter_topic) from the beginning up to its end at\n"
            "start, and re-publishes each selected dead letter's original "
            "event\n"
            "(key, value and its own headers; the error.*, source.*, "
            "eventId\n"
            "and failedAt headers removed) to kafka.input_topic, with a\n"
            "\"" EW_REDRIVE_HEADER "\" header counting the replays.\n"
            "\n"
            "  -c, --config FILE      YAML configuration\n"
            "  -k, --kind KIND        only this error.kind: invalid_event, "
            "rejected\n"
            "                         or retries_exhausted (repeatable; "
            "default:\n"
            "                         every kind)\n"
            "  -s, --since TIME       only dead letters whose failedAt is at "
            "or\n"
            "                         after TIME (RFC 3339, e.g.\n"
            "                         2026-11-24T06:00:00Z, or epoch ms)\n"
            "  -m, --max-redrives N   refuse events already replayed N "
            "times\n"
            "                         (default 3)\n"
            "  -n, --dry-run          count what would be replayed, "
            "publish nothing\n"
            "  -h, --help             this text\n"
            "\n"
            "Exit status: 0 when done (refused events are reported, not "
            "errors);\n"
            "1 on an error; 2 on a usage error.\n");
}

static int cmd_redrive(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"kind", required_argument, NULL, 'k'},
            {"since", required_argument, NULL, 's'},
            {"max-redrives", required_argument, NULL, 'm'},
            {"dry-run", no_argument, NULL, 'n'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char          *config_path = getenv("ENGAGEMENT_WORKER_CONFIG");
        ew_redrive_opts_t    ro;
        ew_redrive_summary_t sum;
        ew_config_t         *conf;
        char                 errstr[1024] = "";
        char                *end;
        int                  opt, rc;

        memset(&ro, 0, sizeof(ro));
        ro.since_ms     = -1;
        ro.max_redrives = 3;
        while ((opt = getopt_long(argc, argv, "c:k:s:m:nh", opts, NULL)) !=
               -1) {
                switch (opt) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'k':
                        if (strcmp(optarg, "invalid_event") &&
                            strcmp(optarg, "rejected") &&
                            strcmp(optarg, "retries_exhausted")) {
                                fprintf(stderr,
                                        EW_NAME " redrive: --kind %s: must be "
                                                "invalid_event, rejected or "
                                                "retries_exhausted\n",
                                        optarg);
                                return 2;
                        }
                        if (ro.kinds_cnt < EW_REDRIVE_MAX_KINDS)
                                ro.kinds[ro.kinds_cnt++] = optarg;
                        break;
                case 's':
                        if (ew_redrive_parse_time(optarg, &ro.since_ms) == -1) {
                                fprintf(stderr,
                                        EW_NAME " redrive: --since %s: not a "
                                                "time (RFC 3339 such as "
                                                "2026-11-24T06:00:00Z, or "
                                                "epoch milliseconds)\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'm':
                        ro.max_redrives = (int)strtol(optarg, &end, 10);
                        if (*end || ro.max_redrives < 1 ||
                            ro.max_redrives > 1000) {
                                fprintf(stderr,
                                        EW_NAME " redrive: --max-redrives %s: "
                                                "must be an integer between 1 "
                                                "and 1000\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'n':
                        ro.dry_run = 1;
                        break;
                case 'h':
                        usage_redrive(stdout);
                        return 0;
                default:
                        usage_redrive(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, EW_NAME " redrive: unexpected argument '%s'\n",
                        argv[optind]);
                return 2;
        }
        conf = load_config(config_path);
        if (!conf)
                return config_path && *config_path ? 1 : 2;
        rc = ew_redrive_run(conf, &ro, &sum, errstr, sizeof(errstr));
        if (rc == -1)
                fprintf(stderr, EW_NAME " redrive: %s\n", errstr);
        fprintf(
            stderr,
            EW_NAME " redrive: read %lld dead letter(s) from %s: %s %lld "
                    "to %s, skipped %lld, refused %lld (redrive limit %d)\n",
            sum.read, conf->kafka.dead_letter_topic,
            ro.dry_run ? "would replay" : "replayed", sum.redriven,
            conf->kafka.input_topic, sum.skipped, sum.refused, ro.max_redrives);
        ew_config_destroy(conf);
        return rc == 0 ? 0 : 1;
}

static int cmd_run(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"check-config", no_argument, NULL, 'k'},
            {"config-reference", no_argument, NULL, 'r'},
            {"version", no_argument, NULL, 'V'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char  *config_path = getenv("ENGAGEMENT_WORKER_CONFIG");
        int          check_only  = 0;
        ew_config_t *conf;
        char         errstr[1024];
        int          opt, rc;

        while ((opt = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'k':
                        check_only = 1;
                        break;
                case 'r':
                        ew_config_print_reference(stdout);
                        return 0;
                case 'V':
                        version();
                        return 0;
                case 'h':
                        usage_run(stdout);
                        return 0;
                default:
                        usage_run(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, EW_NAME ": unexpected argument '%s'\n",
                        argv[optind]);
                usage_run(stderr);
                return 2;
        }
        conf = load_config(config_path);
        if (!conf)
                return config_path && *config_path ? 1 : 2;

        if (check_only) {
                ew_config_print(conf, stdout);
                fprintf(stderr, EW_NAME ": %s: configuration is valid\n",
                        config_path);
                ew_config_destroy(conf);
                return 0;
        }
        rc = ew_worker_run(conf, errstr, sizeof(errstr));
        if (rc == -1)
                fprintf(stderr, EW_NAME ": %s\n", errstr);
        ew_config_destroy(conf);
        return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
        /* A subcommand takes argv[1]'s place; getopt then sees its
         * options. */
        if (argc > 1 && !strcmp(argv[1], "batch"))
                return cmd_batch(argc - 1, argv + 1);
        if (argc > 1 && !strcmp(argv[1], "redrive"))
                return cmd_redrive(argc - 1, argv + 1);
        if (argc > 1 && !strcmp(argv[1], "run"))
                return cmd_run(argc - 1, argv + 1);
        return cmd_run(argc, argv);
}
