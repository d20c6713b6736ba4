/* test_text.c - display width, control characters escaped, edit distance
 * and did-you-mean suggestions. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/text.h"

static void test_width(void)
{
	CHECK(text_width("") == 0);
	CHECK(text_width("conv1") == 5);
	CHECK(text_width("├─ relu →") == 9);
}

static void test_utf8_len(void)
{
	CHECK(text_utf8_len("") == 0);
	CHECK(text_utf8_len("a") == 1);
	CHECK(text_utf8_len("é") == 2);
	CHECK(text_utf8_len("─") == 3);
	CHECK(text_utf8_len("\xf0\x9f\x99\x82") == 4);
	CHECK(text_utf8_len("\x80") == 0);         /* a stray continuation byte */
	CHECK(text_utf8_len("\xc3") == 0);         /* truncated */
	CHECK(text_utf8_len("\xc0\xaf") == 0);     /* overlong */
	CHECK(text_utf8_len("\xed\xa0\x80") == 0); /* a surrogate */
	CHECK(text_utf8_len("\xf4\x90\x80\x80") == 0); /* past U+10FFFF */
}

static void expect_escaped(const char *s, const char *want)
{
	struct strbuf sb = {0};
	text_escape_control(&sb, s);
	CHECK_STR(sb.s ? sb.s : "", want);
	strbuf_free(&sb);
	char buf[64];
	CHECK_STR(text_escape_buf(s, buf, sizeof buf), want);
}

static void test_escape_control(void)
{
	expect_escaped("", "");
	expect_escaped("layer1.conv é ├─ \\", "layer1.conv é ├─ \\");
	expect_escaped("a\x1b[31mb\x07", "a\\x1b[31mb\\x07");
	expect_escaped("\n\r\t\x7f", "\\x0a\\x0d\\x09\\x7f");
	expect_escaped("\xc2\x9b" "2J", "\\u009b2J"); /* C1 CSI */
	expect_escaped("\xc2\xa0", "\xc2\xa0");    /* no-break space is text */
	expect_escaped("x\xff\xc3", "x\\xff\\xc3");
	char small[6];
	CHECK_STR(text_escape_buf("ab\x1b", small, sizeof small), "ab"); /* no half escape */
}

static void test_escape_ascii(void)
{
	struct strbuf sb = {0};
	text_escape_ascii(&sb, "Conv2d 3→64 ×2 … ✗ ok\x1b é 😀 \xff");
	CHECK_STR(sb.s, "Conv2d 3->64 x2 ... X ok\\x1b \\u00e9 \\U0001f600 \\xff");
	strbuf_free(&sb);
	text_escape_ascii(&sb, "│ ├─a └─b");
	CHECK_STR(sb.s, "| |-a `-b");
	strbuf_free(&sb);
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
	RUN(test_utf8_len);
	RUN(test_escape_control);
	RUN(test_escape_ascii);
	RUN(test_distance);
	RUN(test_closest);
	RUN(test_did_you_mean);
	return CHECK_DONE();
}
