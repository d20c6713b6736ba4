/* check.h - a minimal unit-test harness.
 *
 * Each test is a function `static void test_NAME(void)` listed in main with
 * RUN(test_NAME). CHECK records a failure with file and line and goes on;
 * the program ends with "N passed, N failed" and exits non-zero on failure. */
#ifndef GRAFT_CHECK_H
#define GRAFT_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures_in_test;
static int check_passed, check_failed;

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures_in_test++;                                      \
		}                                                                      \
	} while (0)

#define CHECK_STR(a, b)                                                                  \
	do {                                                                             \
		const char *check_a_ = (a), *check_b_ = (b);                             \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {         \
			printf("  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,        \
			       check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
			check_failures_in_test++;                                        \
		}                                                                        \
	} while (0)

/* Checks that haystack contains needle. */
#define CHECK_CONTAINS(haystack, needle)                                                 \
	do {                                                                             \
		const char *check_h_ = (haystack), *check_n_ = (needle);                 \
		if (!check_h_ || !strstr(check_h_, check_n_)) {                          \
			printf("  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,    \
			       __LINE__, check_h_ ? check_h_ : "(null)", check_n_);      \
			check_failures_in_test++;                                        \
		}                                                                        \
	} while (0)

#define RUN(test)                                                                      \
	do {                                                                           \
		check_failures_in_test = 0;                                            \
		test();                                                                \
		if (check_failures_in_test) {                                          \
			printf("FAIL %s\n", #test);                                    \
			check_failed++;                                                \
		} else {                                                               \
			printf("ok   %s\n", #test);                                    \
			check_passed++;                                                \
		}                                                                      \
		fflush(stdout);                                                        \
	} while (0)

#define CHECK_DONE()                                                                   \
	(printf("%d passed, %d failed\n", check_passed, check_failed), check_failed ? 1 : 0)

#endif
