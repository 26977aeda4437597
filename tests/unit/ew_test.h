/*
 * ew_test - the shared CUnit runner of every unit test executable.
 *
 * A test file lists its cases in tables and hands them to ew_test_main():
 *
 *   static const ew_test_case_t cases[] = {
 *           {"parses_defaults", test_parses_defaults},
 *           {NULL, NULL},
 *   };
 *   static const ew_test_suite_t suites[] = {{"config", cases}, {NULL}};
 *   int main(int argc, char **argv) { return ew_test_main(argc, argv, suites);
 * }
 *
 * Run one case with `test_config config/parses_defaults` or one suite with
 * `test_config config`. The exit code is non-zero if any assertion failed,
 * so ctest sees failures.
 */
#ifndef EW_TEST_H
#define EW_TEST_H

#include <CUnit/CUnit.h>

typedef struct ew_test_case {
        const char *name;
        void (*fn)(void);
} ew_test_case_t;

typedef struct ew_test_suite {
        const char           *name;
        const ew_test_case_t *cases;
} ew_test_suite_t;

int ew_test_main(int argc, char **argv, const ew_test_suite_t *suites);

/* Path of a file under tests/data (EW_TEST_DATA). Returns a static buffer. */
const char *ew_test_data(const char *name);

/* Reads a whole file into a new NUL-terminated buffer; NULL on error. */
char *ew_test_read_file(const char *path, size_t *lenp);

#endif
