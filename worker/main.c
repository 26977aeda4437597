/*
 * engagement-worker - command line entry point. Only main() decides to exit.
 *
 *   engagement-worker [run] --config FILE          run as a consumer-group member
 *   engagement-worker --config FILE --check-config validate, print effective config
 *   engagement-worker --config-reference           print every key as Markdown
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

#include "ew_config.h"
#include "ew_log.h"
#include "ew_version.h"
#include "ew_worker.h"

static void usage(FILE *fp)
{
        fprintf(fp,
                "Usage: " EW_NAME " [run] [--config FILE] [options]\n"
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
                "                        print every configuration key as Markdown\n"
                "  -V, --version         print version and library versions\n"
                "  -h, --help            this text\n"
                "\n"
                "Exit status: 0 after a clean shutdown (SIGTERM/SIGINT) or a valid\n"
                "--check-config; 1 on a configuration or start-up error; 2 on a\n"
                "usage error.\n"
                "\n"
                "Documentation: README.md, docs/configuration.md, docs/contracts.md\n");
}

static void version(void)
{
        printf(EW_NAME " " EW_VERSION "\n");
        printf("librdkafka %s, %s, json-c %s\n", rd_kafka_version_str(),
               curl_version(), json_c_version());
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"check-config", no_argument, NULL, 'k'},
            {"config-reference", no_argument, NULL, 'r'},
            {"version", no_argument, NULL, 'V'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *config_path = getenv("ENGAGEMENT_WORKER_CONFIG");
        int check_only          = 0;
        ew_config_t *conf       = NULL;
        char errstr[1024];
        int opt, rc = 1;

        /* "run" is the default and only subcommand so far. */
        if (argc > 1 && !strcmp(argv[1], "run")) {
                argv[1] = argv[0];
                argv++;
                argc--;
        }

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
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, EW_NAME ": unexpected argument '%s'\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        if (!config_path || !*config_path) {
                fprintf(stderr, EW_NAME ": no configuration: pass --config "
                                "FILE or set ENGAGEMENT_WORKER_CONFIG\n");
                return 2;
        }

        conf = ew_config_load(config_path, errstr, sizeof(errstr));
        if (!conf) {
                fprintf(stderr, EW_NAME ": %s\n", errstr);
                return 1;
        }

        if (check_only) {
                ew_config_print(conf, stdout);
                fprintf(stderr, EW_NAME ": %s: configuration is valid\n",
                        config_path);
                rc = 0;
                goto done;
        }

        rc = ew_worker_run(conf, errstr, sizeof(errstr)) == 0 ? 0 : 1;
        if (rc)
                fprintf(stderr, EW_NAME ": %s\n", errstr);
done:
        ew_config_destroy(conf);
        return rc;
}
