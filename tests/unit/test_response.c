#include "ew_test.h"
static void placeholder(void) { CU_FAIL("not written yet"); }
static const ew_test_case_t cases[] = {{"placeholder", placeholder}, {NULL, NULL}};
static const ew_test_suite_t suites[] = {{"test_response", cases}, {NULL, NULL}};
int main(int argc, char **argv) { return ew_test_main(argc, argv, suites); }
