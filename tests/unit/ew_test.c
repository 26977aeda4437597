/*
 * ew_test - see ew_test.h.
 */
#include "ew_test.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ew_test_data(const char *name)
{
        static char path[4096];
        const char *dir = getenv("EW_TEST_DATA");

        snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
        return path;
}

char *ew_test_read_file(const char *path, size_t *lenp)
{
        FILE *fp  = fopen(path, "rb");
        char *buf = NULL;
        long  size;

        if (!fp)
                return NULL;
        if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
            fseek(fp, 0, SEEK_SET) != 0)
                goto done;
        buf = malloc((size_t)size + 1);
        if (!buf)
                goto done;
        if (fread(buf, 1, (size_t)size, fp) != (size_t)size) {
                free(buf);
                buf = NULL;
                goto done;
        }
        buf[size] = '\0';
        if (lenp)
                *lenp = (size_t)size;
done:
        fclose(fp);
        return buf;
}

int ew_test_main(int argc, char **argv, const ew_test_suite_t *suites)
{
        const char  *only = argc > 1 ? argv[1] : NULL;
        unsigned int failures;
        size_t       i, j;
        int          added = 0;

        if (CU_initialize_registry() != CUE_SUCCESS)
                return 2;
        for (i = 0; suites[i].name; i++) {
                CU_pSuite s;
                size_t    slen = strlen(suites[i].name);
                if (only && strncmp(only, suites[i].name, slen) != 0)
                        continue;
                if (only && only[slen] != '\0' && only[slen] != '/')
                        continue;
                s = CU_add_suite(suites[i].name, NULL, NULL);
                if (!s)
                        goto error;
                for (j = 0; suites[i].cases[j].name; j++) {
                        const char *c = suites[i].cases[j].name;
                        if (only && only[slen] == '/' &&
                            strcmp(only + slen + 1, c) != 0)
                                continue;
                        if (!CU_add_test(s, c, suites[i].cases[j].fn))
                                goto error;
                        added++;
                }
        }
        if (added == 0) {
                fprintf(stderr, "no test matches '%s'\n", only ? only : "");
                CU_cleanup_registry();
                return 2;
        }
        CU_basic_set_mode(CU_BRM_VERBOSE);
        CU_basic_run_tests();
        failures =
            CU_get_number_of_failures() + CU_get_number_of_tests_failed();
        CU_cleanup_registry();
        return failures ? 1 : 0;

error:
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 2;
}
