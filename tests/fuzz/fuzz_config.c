/*
 * fuzz_config - libFuzzer target for the YAML configuration loader.
 *
 * The input is a whole configuration file. It is loaded with
 * ew_config_load_string; a config that loads is printed (to /dev/null, as
 * --print-config would) and destroyed, a failure must leave a terminated,
 * non-empty message within the buffer handed in.
 *
 * A few environment variables are set once so ${VAR} and ${VAR:-default}
 * references can resolve (see fuzz_config.dict): EW_FUZZ_BROKERS,
 * EW_FUZZ_NUM, EW_FUZZ_EMPTY (set, empty) and EW_FUZZ_LONG (longer than
 * a scalar may grow); EW_FUZZ_UNSET is never set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
                                __LINE__, #cond);                              \
                        abort();                                               \
                }                                                              \
        } while (0)

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        static char long_value[70000];

        (void)argc;
        (void)argv;
        memset(long_value, 'L', sizeof(long_value) - 1);
        long_value[sizeof(long_value) - 1] = '\0';
        if (setenv("EW_FUZZ_BROKERS", "127.0.0.1:9092,127.0.0.1:9093", 1) ||
            setenv("EW_FUZZ_NUM", "250", 1) || setenv("EW_FUZZ_EMPTY", "", 1) ||
            setenv("EW_FUZZ_LONG", long_value, 1) ||
            unsetenv("EW_FUZZ_UNSET")) {
                perror("fuzz_config: setenv");
                abort();
        }
        devnull = fopen("/dev/null", "w");
        if (!devnull) {
                perror("fuzz_config: /dev/null");
                abort();
        }
        return 0;
}

/* Loads data with an error buffer of esz bytes; checks the message on
 * failure. Returns the config or NULL. */
static ew_config_t *load(const uint8_t *data, size_t size, size_t esz)
{
        char         errstr[512 + 1];
        ew_config_t *conf;

        CHECK(esz < sizeof(errstr));
        memset(errstr, 'X', sizeof(errstr));
        conf = ew_config_load_string((const char *)data, size, "fuzz.yaml",
                                     errstr, esz);
        CHECK(errstr[esz] == 'X'); /* nothing past the size given */
        if (!conf) {
                CHECK(memchr(errstr, '\0', esz) != NULL);
                CHECK(errstr[0] != '\0');
        }
        return conf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ew_config_t *conf = load(data, size, 512);

        if (conf) {
                ew_config_print(conf, devnull);
                ew_config_destroy(conf);
        } else {
                /* Again with a short buffer, so long messages get cut; the
                 * answer must not change. */
                conf = load(data, size, 24);
                CHECK(conf == NULL);
        }
        ew_config_destroy(NULL);
        return 0;
}
