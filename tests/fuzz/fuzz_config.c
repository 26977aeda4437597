/*
 * fuzz_config - libFuzzer target for the YAML configuration loader.
 *
 * The input is a whole configuration file. It is loaded with
 * ew_config_load_string; a config that loads is printed (to /dev/null, as
 * --print-config would) and destroyed, a failure must leave a terminated,
 * non-empty message within the buffer handed in.
 *
 * Unless EW_FUZZ_CONFIG_ROUNDTRIP=0 is in the environment, a config that
 * loads is also printed to memory, loaded again from that text and printed
 * once more: both loads must succeed and both printouts be equal
 * (--print-config output must work as a config). Values holding "${" are
 * left out of that check: the config language has no way to write a
 * literal "${", so they cannot round-trip.
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
static int   roundtrip;

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
        roundtrip = !getenv("EW_FUZZ_CONFIG_ROUNDTRIP") ||
                    strcmp(getenv("EW_FUZZ_CONFIG_ROUNDTRIP"), "0") != 0;
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

/* conf printed into a new buffer (caller frees), its length in *lenp. */
static char *print_to_memory(const ew_config_t *conf, size_t *lenp)
{
        char *text = NULL;
        FILE *fp   = open_memstream(&text, lenp);

        CHECK(fp != NULL);
        ew_config_print(conf, fp);
        CHECK(fclose(fp) == 0);
        return text;
}

/* Aborts unless the printout of conf loads and prints the same again. */
static void check_roundtrip(const ew_config_t *conf)
{
        char         errstr[512];
        char        *first, *second;
        size_t       first_len, second_len;
        ew_config_t *again;

        first = print_to_memory(conf, &first_len);
        if (strstr(first, "${")) {
                free(first);
                return;
        }
        again = ew_config_load_string(first, first_len, "fuzz.yaml", errstr,
                                      sizeof(errstr));
        if (!again)
                fprintf(stderr, "printout does not load: %s\n%s", errstr,
                        first);
        CHECK(again != NULL);
        second = print_to_memory(again, &second_len);
        if (second_len != first_len || memcmp(first, second, first_len))
                fprintf(stderr, "printout changes on reload:\n%s---\n%s", first,
                        second);
        CHECK(second_len == first_len && !memcmp(first, second, first_len));
        free(second);
        ew_config_destroy(again);
        free(first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ew_config_t *conf = load(data, size, 512);

        if (conf) {
                if (roundtrip)
                        check_roundtrip(conf);
                else
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
