/* test_text.c - display width, edit distance and did-you-mean suggestions. */
#include <string.h>

#include "check.h"
#include "core/text.h"

static void test_width(void)
{
	CHECK(text_width("") == 0);
	CHECK(text_width("conv1") == 5);
	CHECK(text_width("├─ relu →") == 9);
}

static void test_distance(void)
{
	CHECK(text_distance("", "") == 0);
	CHECK(text_distance("", "abc") == 3);
	CHECK(text_distance("kernal_size", "kernel_size") == 1);
	CHECK(text_distance("Linaer", "Linear") == 2);
	CHECK(text_distance("LINEAR", "linear") == 0);
	CHECK(text_distance("stride", "padding") == 6);
	char long_name[80];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	CHECK(text_distance(long_name, "a") == 99);
}

static void test_closest(void)
{
	static const char *const names[] = {"show", "set", "save", "head"};
	CHECK_STR(text_closest("sav", names, 4, 1), "save");
	CHECK_STR(text_closest("st", names, 4, 2), "set");
	static const char *const tied[] = {"sat", "set"};
	CHECK_STR(text_closest("sbt", tied, 2, 1), "sat"); /* ties go to the first */
	CHECK(text_closest("quit", names, 4, 2) == NULL);
	CHECK(text_closest("show", names, 0, 3) == NULL);
}

static void test_did_you_mean(void)
{
	static const char *const types[] = {"Linear", "Conv2d", "ReLU", "Sequential"};
	CHECK_STR(text_did_you_mean("Linaer", types, 4), "Linear");
	CHECK_STR(text_did_you_mean("relu", types, 4), "ReLU");
	CHECK_STR(text_did_you_mean("Sequentail", types, 4), "Sequential");
	/* at most half the word plus one: "Rx" is 3 edits from ReLU */
	CHECK(text_did_you_mean("Rx", types, 4) == NULL);
	/* never more than 3 edits, however long the word */
	CHECK(text_did_you_mean("Convolution2d", types, 4) == NULL);
}

int main(void)
{
	RUN(test_width);
	RUN(test_distance);
	RUN(test_closest);
	RUN(test_did_you_mean);
	return CHECK_DONE();
}
