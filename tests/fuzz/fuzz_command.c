/* fuzz_command.c - the input's lines run as editor commands on a small
 * model (a Sequential CNN with a nested block), each input on a fresh
 * editor. Commands that write files (their arguments name a file: save,
 * save!, save-script) are skipped, so nothing is ever written. */
#include <stdlib.h>
#include <string.h>

#include "edit/cmd.h"
#include "edit/edit.h"
#include "io/io_json.h"
#include "tests/fuzz/fuzz.h"

/* Lines run per input, to keep one input fast. */
#define MAX_LINES 64

static const char model_json[] =
    "{\"graft\": 1, \"name\": \"fuzz\",\n"
    " \"inputs\": [{\"name\": \"x\", \"shape\": [1, 3, 8, 8], \"dtype\": \"float32\"}],\n"
    " \"module\": {\"type\": \"Sequential\", \"children\": {\n"
    "   \"conv1\": {\"type\": \"Conv2d\", \"in_channels\": 3, \"out_channels\": 4,\n"
    "             \"kernel_size\": 3, \"padding\": 1, \"bias\": false},\n"
    "   \"bn1\": {\"type\": \"BatchNorm2d\", \"num_features\": 4},\n"
    "   \"relu\": {\"type\": \"ReLU\"},\n"
    "   \"block\": {\"type\": \"Sequential\", \"children\": {\n"
    "     \"0\": {\"type\": \"Conv2d\", \"in_channels\": 4, \"out_channels\": 4,\n"
    "           \"kernel_size\": 1},\n"
    "     \"1\": {\"type\": \"ReLU\"}}},\n"
    "   \"pool\": {\"type\": \"AdaptiveAvgPool2d\", \"output_size\": 1},\n"
    "   \"flatten\": {\"type\": \"Flatten\"},\n"
    "   \"fc\": {\"type\": \"Linear\", \"in_features\": 4, \"out_features\": 2}}}}\n";

/* Whether the line is a command that takes a file name. */
static bool writes_files(const char *line)
{
	struct cmd_words words;
	struct error e = {0};
	if (cmd_split_line(line, &words, &e) < 0)
		return false;
	const struct cmd_def *c = words.n ? cmd_find(words.w[0]) : NULL;
	bool writes = false;
	for (int i = 0; c && i < CMD_MAX_ARGS; i++)
		writes |= c->spec.args[i].kind == CMD_ARG_FILE;
	cmd_words_free(&words);
	return writes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e = {0};
	struct model *m = json_load_model(model_json, sizeof model_json - 1, "fuzz.json", NULL, &e);
	if (!m)
		abort(); /* the built-in model must load */
	struct editor ed;
	editor_init(&ed, m);
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *line = text;
	for (int n = 0; line && n < MAX_LINES; n++) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!writes_files(line)) {
			struct strbuf out = {0};
			e = (struct error){0};
			editor_run(&ed, line, &out, &e);
			strbuf_free(&out);
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	editor_free(&ed);
	return 0;
}
