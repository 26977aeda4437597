/*
 * monitoring-sim - a stand-in for LivePerson's Monitoring API (engagement
 * method) and Domain API, for the worker's end-to-end tests, fault tests
 * and benchmarks. See tests/sim/README.md.
 *
 * Prints "listening on http://ADDR:PORT" as its first line on stdout, then
 * serves until SIGTERM or SIGINT (exit 0). SIGHUP re-reads the scenario.
 */
#include "sim_server.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum opt_type {
        OPT_STR,    /* const char * */
        OPT_INT,    /* int, in [min, max] */
        OPT_SIZE,   /* size_t, in [min, max] */
        OPT_U64,    /* uint64_t */
        OPT_SEC_MS, /* seconds given, int64_t milliseconds stored */
        OPT_DOUBLE, /* double, in [min, max] */
        OPT_FLAG,   /* int set to 1, takes no value */
} opt_type_t;

/* The command line, one declarative table: --help is generated from it. */
static const struct opt {
        const char *name;
        opt_type_t  type;
        size_t      offset;
        double      min, max;
        const char *arg;
        const char *help;
} opts[] = {
    {"port", OPT_INT, offsetof(sim_options_t, port), 0, 65535, "N",
     "port to listen on; 0 picks a free one (default 0)"},
    {"bind", OPT_STR, offsetof(sim_options_t, bind), 0, 0, "ADDR",
     "IPv4 address to listen on (default 127.0.0.1)"},
    {"scenario", OPT_STR, offsetof(sim_options_t, scenario_path), 0, 0, "FILE",
     "scenario file (JSON); re-read on SIGHUP"},
    {"log", OPT_STR, offsetof(sim_options_t, log_path), 0, 0, "FILE",
     "request log, one JSON object per line; - for stdout"},
    {"threads", OPT_INT, offsetof(sim_options_t, threads), 1, 64, "N",
     "server threads (default 4)"},
    {"apps", OPT_STR, offsetof(sim_options_t, apps), 0, 0, "A,B",
     "known appInstallationIds; others get 404/18 (default: any)"},
    {"session-ttl-s", OPT_SEC_MS, offsetof(sim_options_t, session_ttl_ms), 0,
     31536000, "N", "forget sessions idle for N seconds (default 0: never)"},
    {"max-sessions", OPT_SIZE, offsetof(sim_options_t, max_sessions), 1,
     100000000, "N",
     "session table size; the oldest goes first (default 1000000)"},
    {"latency-ms", OPT_INT, offsetof(sim_options_t, latency_ms), 0, 600000, "N",
     "delay every Monitoring API answer by N ms"},
    {"latency-jitter-ms", OPT_INT, offsetof(sim_options_t, latency_jitter_ms),
     0, 600000, "N", "plus a random 0..N ms"},
    {"fail-ratio", OPT_DOUBLE, offsetof(sim_options_t, fail_ratio), 0, 1, "X",
     "share of engagement calls that fail (0 to 1, default 0)"},
    {"fail-status", OPT_INT, offsetof(sim_options_t, fail_status), 400, 599,
     "N", "HTTP status of those failures (default 503)"},
    {"csds-base-uri", OPT_STR, offsetof(sim_options_t, csds_base_uri), 0, 0,
     "HOST:PORT",
     "baseURI the Domain API returns (default: ADDR:PORT of this sim)"},
    {"max-body", OPT_SIZE, offsetof(sim_options_t, max_body), 1, 1 << 30,
     "BYTES", "largest request body (default 1048576)"},
    {"max-connections", OPT_INT, offsetof(sim_options_t, max_connections), 1,
     1000000, "N", "most open connections (default 10000)"},
    {"max-delayed", OPT_SIZE, offsetof(sim_options_t, max_delayed), 1, 10000000,
     "N", "most answers waiting for their latency (default 100000)"},
    {"idle-timeout-s", OPT_INT, offsetof(sim_options_t, idle_timeout_s), 0,
     86400, "N", "close idle connections after N s (default 0: never)"},
    {"conn-memory", OPT_SIZE, offsetof(sim_options_t, conn_memory), 4096,
     1 << 20, "BYTES",
     "memory pool per connection: headers, buffers (default 16384)"},
    {"seed", OPT_U64, offsetof(sim_options_t, seed), 0, 0, "N",
     "random seed (default 0: from the system)"},
    {"turbo", OPT_FLAG, offsetof(sim_options_t, turbo), 0, 0, NULL,
     "libmicrohttpd turbo mode"},
    {"verbose", OPT_FLAG, offsetof(sim_options_t, verbose), 0, 0, NULL,
     "print libmicrohttpd's messages to stderr"},
};

static void usage(FILE *fp)
{
        size_t i;
        char   left[64];

        fprintf(fp, "Usage: monitoring-sim [OPTION]...\n"
                    "A stand-in for LivePerson's Monitoring API and Domain "
                    "API (see tests/sim/README.md).\n\n");
        for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
                snprintf(left, sizeof(left), "--%s%s%s", opts[i].name,
                         opts[i].arg ? " " : "",
                         opts[i].arg ? opts[i].arg : "");
                fprintf(fp, "  %-28s %s\n", left, opts[i].help);
        }
        fprintf(fp, "  %-28s %s\n\n", "--help", "this text");
        fprintf(fp, "Prints \"listening on http://ADDR:PORT\" first; runs "
                    "until SIGTERM/SIGINT; SIGHUP re-reads the scenario.\n");
}

static int parse_number(const char *s, double *out)
{
        char *end;

        errno = 0;
        *out  = strtod(s, &end);
        return errno || end == s || *end ? -1 : 0;
}

/* Stores value into the field of option o. Returns 0 or -1. */
static int set_option(sim_options_t *so, const struct opt *o, const char *value)
{
        char  *field = (char *)so + o->offset;
        double d;

        switch (o->type) {
        case OPT_STR:
                *(const char **)(void *)field = value;
                return 0;
        case OPT_FLAG:
                *(int *)(void *)field = 1;
                return 0;
        case OPT_U64: {
                char              *end;
                unsigned long long u;

                errno = 0;
                u     = strtoull(value, &end, 10);
                if (errno || end == value || *end)
                        return -1;
                *(uint64_t *)(void *)field = u;
                return 0;
        }
        default:
                break;
        }
        if (parse_number(value, &d) || d < o->min || d > o->max)
                return -1;
        if (o->type != OPT_DOUBLE && d != (double)(long long)d)
                return -1;
        switch (o->type) {
        case OPT_INT:
                *(int *)(void *)field = (int)d;
                break;
        case OPT_SIZE:
                *(size_t *)(void *)field = (size_t)d;
                break;
        case OPT_SEC_MS:
                *(int64_t *)(void *)field = (int64_t)d * 1000;
                break;
        default:
                *(double *)(void *)field = d;
                break;
        }
        return 0;
}

/* Parses argv into so. Returns 0, 1 for --help, -1 on error (printed). */
static int parse_args(int argc, char **argv, sim_options_t *so)
{
        int         i;
        size_t      j, nlen;
        const char *arg, *value;

        for (i = 1; i < argc; i++) {
                arg = argv[i];
                if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
                        return 1;
                if (strncmp(arg, "--", 2)) {
                        fprintf(stderr,
                                "monitoring-sim: unexpected "
                                "argument \"%s\"\n",
                                arg);
                        return -1;
                }
                arg += 2;
                value = strchr(arg, '=');
                nlen  = value ? (size_t)(value - arg) : strlen(arg);
                for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++) {
                        if (strlen(opts[j].name) == nlen &&
                            !strncmp(opts[j].name, arg, nlen))
                                break;
                }
                if (j == sizeof(opts) / sizeof(opts[0])) {
                        fprintf(stderr,
                                "monitoring-sim: unknown option "
                                "\"%s\" (see --help)\n",
                                argv[i]);
                        return -1;
                }
                if (opts[j].type == OPT_FLAG) {
                        if (value) {
                                fprintf(stderr,
                                        "monitoring-sim: --%s takes "
                                        "no value\n",
                                        opts[j].name);
                                return -1;
                        }
                } else if (value) {
                        value++;
                } else if (i + 1 < argc) {
                        value = argv[++i];
                } else {
                        fprintf(stderr,
                                "monitoring-sim: --%s needs a "
                                "value\n",
                                opts[j].name);
                        return -1;
                }
                if (set_option(so, &opts[j], value)) {
                        fprintf(stderr,
                                "monitoring-sim: --%s: bad value "
                                "\"%s\"\n",
                                opts[j].name, value);
                        return -1;
                }
        }
        return 0;
}

int main(int argc, char **argv)
{
        sim_options_t so;
        sim_server_t *srv = NULL;
        sigset_t      set;
        char          errstr[512];
        int           sig = 0, rc;

        sim_options_init(&so);
        rc = parse_args(argc, argv, &so);
        if (rc) {
                if (rc > 0)
                        usage(stdout);
                return rc > 0 ? 0 : 2;
        }

        /* Signals are taken synchronously by this thread; every thread
         * started from here on inherits the mask. */
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);

        if (sim_server_start(&so, &srv, errstr, sizeof(errstr))) {
                fprintf(stderr, "monitoring-sim: %s\n", errstr);
                return 1;
        }
        printf("listening on http://%s:%u\n", so.bind,
               (unsigned)sim_server_port(srv));
        fflush(stdout);

        for (;;) {
                if (sigwait(&set, &sig) != 0)
                        continue;
                if (sig != SIGHUP)
                        break;
                if (sim_server_reload(srv, errstr, sizeof(errstr)))
                        fprintf(stderr, "monitoring-sim: reload: %s\n", errstr);
                else
                        fprintf(stderr,
                                "monitoring-sim: scenario %s "
                                "reloaded\n",
                                so.scenario_path);
        }
        sim_server_stop(srv);
        fprintf(stderr, "monitoring-sim: stopped (signal %d)\n", sig);
        return 0;
}
