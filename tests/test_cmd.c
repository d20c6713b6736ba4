/* test_cmd.c - the command table: the tokenizer, usage lines and argument
 * checks derived from the table, and completion candidates for each kind
 * of argument (without curses). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "edit/cmd.h"
#include "edit/edit.h"
#include "io/format.h"

static const char *srcdir = ".";
static struct editor ed;

/* A front end's own command, as the screen hands them to completion. */
static const struct cmd_spec screen_commands[] = {
    {"save-screen", NULL, {{CMD_ARG_FILE, "FILE", NULL, 0}}, "write the screen as text"},
};

static const struct cmd_spec *more(int i)
{
	return i == 0 ? &screen_commands[0] : NULL;
}

/* The candidates for the end of line, sorted and joined by spaces. */
static char *complete(const char *line, bool *files)
{
	struct cmd_complete_ctx ctx = {&ed, more, false};
	struct cmd_candidates c;
	int end = (int)strlen(line), start = end;
	while (start > 0 && !strchr(" (,", line[start - 1]))
		start--;
	cmd_complete(&ctx, line, start, end, &c);
	for (int i = 0; i < c.n; i++)
		for (int j = i + 1; j < c.n; j++)
			if (strcmp(c.v[j], c.v[i]) < 0) {
				char *t = c.v[i];
				c.v[i] = c.v[j];
				c.v[j] = t;
			}
	struct strbuf sb = {0};
	for (int i = 0; i < c.n; i++)
		strbuf_addf(&sb, "%s%s", i ? " " : "", c.v[i]);
	if (files)
		*files = c.files;
	cmd_candidates_free(&c);
	return sb.s ? sb.s : xstrdup("");
}

#define CHECK_COMPLETES(line, want)                                                      \
	do {                                                                             \
		char *got_ = complete(line, NULL);                                       \
		CHECK_STR(got_, want);                                                   \
		free(got_);                                                              \
	} while (0)

static void test_split(void)
{
	struct cmd_words w;
	struct error e = {0};
	CHECK(cmd_split_line("replace fc Linear(512, 10)  # a comment", &w, &e) == 0);
	CHECK(w.n == 3);
	CHECK_STR(w.w[2], "Linear(512, 10)");
	cmd_words_free(&w);
	CHECK(cmd_split_line("set fc name='a b'", &w, &e) == 0 && w.n == 3);
	cmd_words_free(&w);
	CHECK(cmd_split_line("replace fc Linear(512,", &w, &e) < 0);
	CHECK_STR(e.msg, "unbalanced brackets in 'Linear(512,'");
	/* a prefix: the word it ends in is left open */
	const char *line = "replace fc Sequential(ReLU(), Drop";
	CHECK(cmd_split(line, strlen(line), &w, &e) == 0);
	CHECK(w.n == 2 && w.open == '(');
	CHECK_STR(w.tail, "Sequential(ReLU(), Drop");
	cmd_words_free(&w);
}

static void test_usage_and_checks(void)
{
	struct strbuf out = {0};
	struct error e = {0};
	CHECK(editor_run(&ed, "help", &out, &e) == 0);
	CHECK_CONTAINS(out.s, "  replace PATH TYPE [k=v ...] [keep=overlap|none]\n");
	CHECK_CONTAINS(out.s, "  insert before|after PATH TYPE [k=v ...] [name=NAME]\n");
	CHECK_CONTAINS(out.s, "  set PATH k=v ...\n");
	CHECK_CONTAINS(out.s, "  head N [PATH] [keep=overlap|none]\n");
	CHECK_CONTAINS(out.s, "  define NAME [k=default ...] = TYPE(...) > TYPE(...)\n");
	CHECK_CONTAINS(out.s, "  freeze [PATH|SELECTOR]\n");
	CHECK_CONTAINS(out.s, "  input [NAME] SHAPE\n");
	strbuf_free(&out);
	CHECK(editor_run(&ed, "delete", &out, &e) < 0);
	CHECK_STR(e.msg, "usage: delete PATH");
	CHECK(editor_run(&ed, "undo now", &out, &e) < 0);
	CHECK_STR(e.msg, "usage: undo");
	CHECK(editor_run(&ed, "insert under fc ReLU", &out, &e) < 0);
	CHECK_STR(e.msg, "insert: say 'before' or 'after', not 'under'");
	CHECK(editor_run(&ed, "sohw fc", &out, &e) < 0);
	CHECK_STR(e.msg, "unknown command 'sohw' (did you mean 'show'?)");
	strbuf_free(&out);
	CHECK_STR(cmd_explain("seed"), "Reset the generator that initialises new modules (default 0).");
	CHECK(cmd_explain("save-screen") == NULL);
}

/* Type names as users write them: any letter case when only one type is
 * so spelt, and PyTorch's nn. prefix. */
static void test_type_names(void)
{
	const char *names[] = {"ReLU", "ReLU6", "Foo", "FOO"};
	CHECK_STR(spec_pick_name("relu", names, 4), "ReLU");
	CHECK_STR(spec_pick_name("FOO", names, 4), "FOO");
	CHECK(spec_pick_name("foo", names, 4) == NULL); /* Foo or FOO */
	CHECK(spec_pick_name("relu7", names, 4) == NULL);
	CHECK_STR(spec_type_name(NULL, "nn.Linear"), "Linear");
	CHECK_STR(spec_type_name(NULL, "torch.nn.conv2d"), "Conv2d");
	CHECK_STR(spec_type_name(NULL, "sequential"), "Sequential");
	struct error e = {0};
	struct type_lib lib = {0};
	CHECK(type_lib_define(&lib, "FusedReLU p=0.5 = ReLU() > Dropout(p=p)", &e) == 0);
	CHECK_STR(spec_type_name(&lib, "fusedrelu"), "FusedReLU");
	type_lib_free(&lib);
	CHECK(spec_type_name(NULL, "nn.") == NULL);
	const char *end;
	struct spec *s = spec_parse("nn.Sequential(nn.ReLU(), torch.nn.Linear(4, out_features=2))", &end, &e);
	CHECK(s && !*end);
	if (s) {
		struct strbuf sb = {0};
		spec_format(s, &sb);
		CHECK_STR(sb.s, "Sequential(ReLU(), Linear(4, out_features=2))");
		strbuf_free(&sb);
		spec_free(s);
	}
}

static void test_complete_commands(void)
{
	CHECK_COMPLETES("rep", "replace replace-all");
	CHECK_COMPLETES("save", "save save! save-screen save-script");
	CHECK_COMPLETES("help sa", "save save! save-screen save-script");
	CHECK_COMPLETES("help save ", "");
	CHECK_COMPLETES("nosuch ", "");
}

static void test_complete_paths_and_types(void)
{
	CHECK_COMPLETES("replace layer1.", "layer1.0 layer1.1");
	CHECK_COMPLETES("delete layer4.1.c", "layer4.1.conv1 layer4.1.conv2");
	CHECK_COMPLETES("show layer2", "layer2 layer2.0 layer2.1");
	/* a selector also offers the types in the model */
	CHECK_COMPLETES("replace-all Conv", "Conv2d");
	CHECK_COMPLETES("replace Conv", "");
	CHECK_COMPLETES("replace fc Linea", "Linear");
	CHECK_COMPLETES("replace fc Sequential(ReLU(), Linea", "Linear");
	CHECK_COMPLETES("wrap backbone Sequenti", "Sequential");
}

static void test_complete_keywords(void)
{
	CHECK_COMPLETES("replace fc Linear ", "bias= in_features= keep= out_features=");
	CHECK_COMPLETES("replace fc Linear out_features=10 ",
			"bias= in_features= keep= out_features=");
	CHECK_COMPLETES("replace fc Linear(512, o", "out_features=");
	CHECK_COMPLETES("replace fc Linear keep=", "keep=none keep=overlap");
	/* set: the attributes of the module at the path */
	CHECK_COMPLETES("set layer1.0.bn1 mom", "momentum=");
	CHECK_COMPLETES("insert ", "after before");
	CHECK_COMPLETES("insert after fc Dropout ", "inplace= name= p=");
	CHECK_COMPLETES("head 10 f", "fc");
	CHECK_COMPLETES("head 10 k", "keep=");
	CHECK_COMPLETES("head ", "");
}

static void test_complete_files(void)
{
	bool files = false;
	free(complete("save-script ", &files));
	CHECK(files);
	free(complete("save-screen ", &files));
	CHECK(files);
	free(complete("show ", &files));
	CHECK(!files);
}

int main(void)
{
	if (getenv("srcdir"))
		srcdir = getenv("srcdir");
	char path[1024];
	snprintf(path, sizeof path, "%s/models/resnet18.json", srcdir);
	struct error e = {0};
	struct model *m = format_open(path, NULL, &e);
	if (!m) {
		printf("%s\n0 passed, 1 failed\n", e.msg);
		return 1;
	}
	editor_init(&ed, m);
	RUN(test_split);
	RUN(test_usage_and_checks);
	RUN(test_type_names);
	RUN(test_complete_commands);
	RUN(test_complete_paths_and_types);
	RUN(test_complete_keywords);
	RUN(test_complete_files);
	editor_free(&ed);
	return CHECK_DONE();
}
