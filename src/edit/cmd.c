/* cmd.c - the command language: splitting a line into words, the table of
 * commands with their help, and dispatch to the editor's operations. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "edit/edit.h"
#include "edit/edit_ops.h"
#include "edit/inspect.h"
#include "io/save.h"

#define MAX_WORDS 64

/* Splits a line into words at spaces outside (), [] and quotes; '#' outside
 * them starts a comment. Returns the count, or -1 with e set. */
static int split_words(const char *line, char **words, struct error *e)
{
	int n = 0;
	const char *p = line;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == MAX_WORDS) {
			error_set(e, "too many words (at most %d)", MAX_WORDS);
			goto fail;
		}
		const char *start = p;
		int depth = 0;
		char quote = 0;
		while (*p && (quote || depth > 0 || !isspace((unsigned char)*p))) {
			if (quote) {
				if (*p == quote)
					quote = 0;
			} else if (*p == '\'' || *p == '"') {
				quote = *p;
			} else if (*p == '(' || *p == '[') {
				depth++;
			} else if (*p == ')' || *p == ']') {
				depth--;
			} else if (*p == '#' && depth == 0) {
				break;
			}
			p++;
		}
		if (quote || depth > 0) {
			error_set(e, "unbalanced %s in '%s'", quote ? "quote" : "brackets", start);
			goto fail;
		}
		words[n++] = xstrndup(start, (size_t)(p - start));
	}
fail:
	for (int i = 0; i < n; i++)
		free(words[i]);
	return -1;
}

/* Parses "k=v" into kv; 0, 1 when the word is not k=v, -1 on a bad value. */
static int parse_kv(const char *word, struct kwarg *kv, struct error *e)
{
	const char *eq = strchr(word, '=');
	const char *bracket = strpbrk(word, "([");
	if (!eq || eq == word || (bracket && bracket < eq))
		return 1;
	for (const char *q = word; q < eq; q++)
		if (!isalnum((unsigned char)*q) && *q != '_')
			return 1;
	kv->name = xstrndup(word, (size_t)(eq - word));
	if (value_parse(eq + 1, &kv->value, NULL, e) < 0) {
		error_prefix(e, "%s", kv->name);
		free(kv->name);
		return -1;
	}
	return 0;
}

static void free_kv(struct kwarg *kv, int n)
{
	for (int i = 0; i < n; i++) {
		free(kv[i].name);
		value_free(&kv[i].value);
	}
}

/* A type spec from words: "Linear(512, 10)" or "Linear" "out_features=10".
 * Takes keep= and name= out into *keep / *name. NULL with e set. */
static struct spec *words_spec(char **w, int n, enum keep_mode *keep, char **name, struct error *e)
{
	if (n < 1) {
		error_set(e, "expected a type");
		return NULL;
	}
	const char *end;
	struct spec *s = spec_parse(w[0], &end, e);
	if (!s)
		return NULL;
	if (*end) {
		error_set(e, "unexpected '%s' after the type", end);
		spec_free(s);
		return NULL;
	}
	for (int i = 1; i < n; i++) {
		struct kwarg kv;
		int rc = parse_kv(w[i], &kv, e);
		if (rc != 0) {
			if (rc > 0)
				error_set(e, "expected k=v, got '%s'", w[i]);
			spec_free(s);
			return NULL;
		}
		if (strcmp(kv.name, "keep") == 0 && keep) {
			const char *k = kv.value.kind == VAL_STR ? kv.value.u.s : "";
			if (strcmp(k, "overlap") == 0)
				*keep = KEEP_OVERLAP;
			else if (strcmp(k, "none") == 0)
				*keep = KEEP_NONE;
			else if (strcmp(k, "same") == 0)
				*keep = KEEP_SAME;
			else {
				error_set(e, "keep= takes overlap, none or same");
				free_kv(&kv, 1);
				spec_free(s);
				return NULL;
			}
		} else if (strcmp(kv.name, "name") == 0 && name &&
			   (kv.value.kind == VAL_STR || kv.value.kind == VAL_INT)) {
			/* name=1 and name='1' both name a child "1" */
			char buf[64];
			value_format(&kv.value, buf, sizeof buf);
			free(*name);
			*name = kv.value.kind == VAL_STR ? xstrdup(kv.value.u.s) : xstrdup(buf);
		} else {
			spec_add_kwarg(s, kv.name, &kv.value);
		}
		free_kv(&kv, 1);
	}
	return s;
}

struct command {
	const char *name;
	const char *usage;
	const char *help;
	bool changes; /* runs between a snapshot and a commit */
	int (*run)(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		   struct error *e);
};

static int need_args(char **w, int n, int min, int max, const char *usage, struct error *e)
{
	if (n - 1 < min || (max >= 0 && n - 1 > max))
		return error_set(e, "usage: %s", usage);
	return 0;
}

static int run_replace_common(struct editor *ed, char **w, int n, bool all, struct strbuf *out,
			      struct error *e)
{
	enum keep_mode keep = KEEP_SAME;
	struct spec *s = words_spec(w + 2, n - 2, &keep, NULL, e);
	if (!s)
		return -1;
	int rc = edit_replace(ed, w[1], s, keep, all, out, e);
	spec_free(s);
	return rc;
}

static int run_replace(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		       struct error *e)
{
	if (need_args(w, n, 2, -1, "replace PATH TYPE [k=v ...] [keep=overlap|none]", e) < 0)
		return -1;
	return run_replace_common(ed, w, n, false, out, e);
}

static int run_replace_all(struct editor *ed, char **w, int n, const char *line,
			   struct strbuf *out, struct error *e)
{
	if (need_args(w, n, 2, -1, "replace-all SELECTOR TYPE [k=v ...] [keep=overlap|none]", e) < 0)
		return -1;
	return run_replace_common(ed, w, n, true, out, e);
}

static int run_insert(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		      struct error *e)
{
	if (need_args(w, n, 3, -1, "insert before|after PATH TYPE [k=v ...] [name=NAME]", e) < 0)
		return -1;
	bool after = strcmp(w[1], "after") == 0;
	if (!after && strcmp(w[1], "before") != 0)
		return error_set(e, "insert: say 'before' or 'after', not '%s'", w[1]);
	char *name = NULL;
	struct spec *s = words_spec(w + 3, n - 3, NULL, &name, e);
	if (!s)
		return -1;
	int rc = edit_insert(ed, after, w[2], s, name, out, e);
	spec_free(s);
	free(name);
	return rc;
}

static int run_delete(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		      struct error *e)
{
	if (need_args(w, n, 1, 1, "delete PATH", e) < 0)
		return -1;
	return edit_delete(ed, w[1], out, e);
}

static int run_set(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		   struct error *e)
{
	if (need_args(w, n, 2, -1, "set PATH k=v ...", e) < 0)
		return -1;
	struct kwarg kv[MAX_WORDS];
	int nkv = 0, rc = 0;
	for (int i = 2; i < n && rc == 0; i++) {
		rc = parse_kv(w[i], &kv[nkv], e);
		if (rc > 0) {
			rc = error_set(e, "set: expected k=v, got '%s'", w[i]);
			break;
		}
		if (rc == 0)
			nkv++;
	}
	if (rc == 0)
		rc = edit_set(ed, w[1], kv, nkv, out, e);
	free_kv(kv, nkv);
	return rc;
}

static int parse_count(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v <= 0 || v > ((int64_t)1 << 40))
		return -1;
	*out = v;
	return 0;
}

static int run_head(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (need_args(w, n, 1, 3, "head N [PATH] [keep=overlap|none]", e) < 0)
		return -1;
	int64_t classes;
	if (parse_count(w[1], &classes) < 0)
		return error_set(e, "head: N must be a positive number, not '%s'", w[1]);
	enum keep_mode keep = KEEP_SAME;
	const char *path = NULL;
	for (int i = 2; i < n; i++) {
		if (!strncmp(w[i], "keep=", 5)) {
			if (!strcmp(w[i] + 5, "overlap"))
				keep = KEEP_OVERLAP;
			else if (!strcmp(w[i] + 5, "none"))
				keep = KEEP_NONE;
			else
				return error_set(e, "keep= takes overlap or none");
		} else {
			path = w[i];
		}
	}
	return edit_head(ed, classes, path, keep, out, e);
}

static int run_wrap(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (need_args(w, n, 1, 2, "wrap NAME [TYPE]", e) < 0)
		return -1;
	return edit_wrap(ed, w[1], n > 2 ? w[2] : "Sequential", out, e);
}

static int run_extract(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		       struct error *e)
{
	if (need_args(w, n, 1, 1, "extract PATH", e) < 0)
		return -1;
	return edit_extract(ed, w[1], out, e);
}

static int run_freeze(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		      struct error *e)
{
	if (need_args(w, n, 0, 1, "freeze|unfreeze [PATH|SELECTOR]", e) < 0)
		return -1;
	return edit_freeze(ed, n > 1 ? w[1] : "", strcmp(w[0], "freeze") == 0, out, e);
}

static int run_input(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		     struct error *e)
{
	if (need_args(w, n, 1, 2, "input [NAME] SHAPE", e) < 0)
		return -1;
	int which = 0;
	if (n == 3) {
		which = -1;
		for (int i = 0; i < ed->model->ninputs; i++)
			if (strcmp(ed->model->inputs[i].name, w[1]) == 0)
				which = i;
		if (which < 0)
			return error_set(e, "input: the model has no input '%s'", w[1]);
	}
	struct shape s;
	if (shape_parse(w[n - 1], &s, e) < 0)
		return error_prefix(e, "input");
	if (ed->model->ninputs == 0)
		return error_set(e, "input: the model has no inputs (its forward is unknown)");
	ed->model->inputs[which].shape = s;
	char buf[160];
	strbuf_addf(out, "input %s: %s\n", ed->model->inputs[which].name,
		    shape_format_x(&s, buf, sizeof buf));
	return 0;
}

static int run_seed(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (need_args(w, n, 1, 1, "seed N", e) < 0)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(w[1], &end, 10);
	if (!*w[1] || *end || errno || w[1][0] == '-')
		return error_set(e, "seed: expected a non-negative number, not '%s'", w[1]);
	rng_seed(&ed->rng, v);
	return 0;
}

static int run_define(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		      struct error *e)
{
	const char *rest = strstr(line, "define") + 6;
	if (type_lib_define(&ed->types, rest, e) < 0)
		return -1;
	xgrow(&ed->defines, &ed->defines_cap, ed->ndefines + 1, sizeof *ed->defines);
	ed->defines[ed->ndefines++] = xstrdup(line);
	return 0;
}

static int run_undo(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (need_args(w, n, 0, 0, w[0], e) < 0)
		return -1;
	return strcmp(w[0], "undo") == 0 ? edit_undo(ed, e) : edit_redo(ed, e);
}

static int run_show(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (need_args(w, n, 0, 1, "show [PATH]", e) < 0)
		return -1;
	struct module *m = n > 1 ? edit_find(ed, w[1], e) : ed->model->root;
	if (!m)
		return -1;
	inspect_show(ed, m, out);
	return 0;
}

static int run_find(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (need_args(w, n, 1, 1, "find PATTERN", e) < 0)
		return -1;
	return inspect_find(ed, w[1], out, e);
}

static int run_diff(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (need_args(w, n, 0, 0, "diff", e) < 0)
		return -1;
	inspect_diff(ed, out);
	return 0;
}

static int run_save(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (need_args(w, n, 0, 1, "save [PATH]", e) < 0)
		return -1;
	bool force = strcmp(w[0], "save!") == 0;
	const char *path = n > 1 ? w[1] : ed->model->path;
	if (!path)
		return error_set(e, "save: give a file name");
	if (!ed->check.ok && !force)
		return error_set(e, "save: the model does not check (%s); fix it, or save anyway with 'save! %s'",
				 ed->check.err.msg, path);
	if (model_save(ed->model, path, e) < 0)
		return -1;
	ed->dirty = false;
	strbuf_addf(out, "saved %s\n", path);
	return 0;
}

static int run_save_script(struct editor *ed, char **w, int n, const char *line,
			   struct strbuf *out, struct error *e)
{
	if (need_args(w, n, 1, 1, "save-script FILE", e) < 0)
		return -1;
	struct strbuf sb = {0};
	editor_script(ed, &sb);
	FILE *f = fopen(w[1], "w");
	if (!f) {
		strbuf_free(&sb);
		return error_set(e, "%s: %s", w[1], strerror(errno));
	}
	fputs(sb.s ? sb.s : "", f);
	int bad = fclose(f) != 0;
	strbuf_free(&sb);
	if (bad)
		return error_set(e, "%s: write error", w[1]);
	strbuf_addf(out, "wrote %s\n", w[1]);
	return 0;
}

static int run_help(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e);

static const struct command commands[] = {
	{"replace", "replace PATH TYPE [k=v ...] [keep=overlap|none]",
	 "Replace one module: 'replace fc Linear out_features=10', 'replace fc Linear(512, 10)',\n"
	 "'replace classifier Sequential(Dropout(0.2), Linear(1280, 10))'. Arguments left out\n"
	 "come from the module replaced (same type) and the shape flowing in.",
	 true, run_replace},
	{"replace-all", "replace-all SELECTOR TYPE [k=v ...] [keep=overlap|none]",
	 "Replace every module a selector picks: 'replace-all ReLU FusedReLU p=0.5',\n"
	 "'replace-all BatchNorm2d GroupNorm num_groups=8', 'replace-all Conv2d[kernel_size=1]\n"
	 "Conv2d kernel_size=3 padding=1', 'replace-all layer*.*.relu GELU'.",
	 true, run_replace_all},
	{"insert", "insert before|after PATH TYPE [k=v ...] [name=NAME]",
	 "Put a new module in the data flow before or after PATH: 'insert after layer4\n"
	 "Dropout p=0.2'. In a Sequential it becomes an element; in a graph, a new node\n"
	 "whose consumers are re-pointed.",
	 true, run_insert},
	{"delete", "delete PATH",
	 "Remove a module from the data flow (Identity in a graph); refused when what comes\n"
	 "in does not have the shape that went out.",
	 true, run_delete},
	{"set", "set PATH k=v ...",
	 "Change attributes: 'set layer1.0.conv1 stride=2'. Tensors whose shape changes are\n"
	 "initialised afresh; the others are kept.",
	 true, run_set},
	{"head", "head N [PATH] [keep=overlap|none]",
	 "Change the final classifier to N outputs, found from the output backwards (or\n"
	 "named by PATH).",
	 true, run_head},
	{"wrap", "wrap NAME [TYPE]",
	 "Make the whole model the child NAME of a new root (a Sequential, or a composite\n"
	 "named TYPE) that runs its children in order, so a head can go after it:\n"
	 "'wrap backbone' then 'insert after backbone Linear(512, 10) name=head' is\n"
	 "nn.Sequential(backbone=model, head=...). Tensor names gain the 'NAME.' prefix.",
	 true, run_wrap},
	{"extract", "extract PATH",
	 "Keep only the module at PATH as the whole model (model = model.features):\n"
	 "'extract features' then 'wrap 0' and inserts builds nn.Sequential(features, ...).",
	 true, run_extract},
	{"define", "define NAME [k=default ...] = TYPE(...) > TYPE(...)",
	 "Define a composite type: 'define FusedReLU p=0.5 = ReLU() > Dropout(p=p)'.", false,
	 run_define},
	{"freeze", "freeze [PATH|SELECTOR]",
	 "Mark parameters as not trainable (requires_grad=False); no argument: all.", true,
	 run_freeze},
	{"unfreeze", "unfreeze [PATH|SELECTOR]", "Mark parameters as trainable again.", true,
	 run_freeze},
	{"input", "input [NAME] SHAPE", "Change the dry-run input: 'input 1x3x300x300'.", true,
	 run_input},
	{"seed", "seed N", "Reset the generator that initialises new modules (default 0).", true,
	 run_seed},
	{"undo", "undo", "Undo the last change.", false, run_undo},
	{"redo", "redo", "Redo the last change undone.", false, run_undo},
	{"show", "show [PATH]", "Show a module: attributes, tensors, input and output shapes.",
	 false, run_show},
	{"find", "find PATTERN", "List the modules a selector or glob picks.", false, run_find},
	{"diff", "diff", "What changed since the model was opened.", false, run_diff},
	{"save", "save [PATH]",
	 "Save atomically (.json + weights beside it, or a .safetensors bundle); refused\n"
	 "while the shapes break unless 'save! PATH'.",
	 false, run_save},
	{"save!", "save! [PATH]", "Save even though the shapes break.", false, run_save},
	{"save-script", "save-script FILE",
	 "Write the commands in effect as a script that reproduces this model.", false,
	 run_save_script},
	{"help", "help [COMMAND]", "List the commands, or explain one.", false, run_help},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

const char *editor_command_name(int i)
{
	return i >= 0 && i < NCOMMANDS ? commands[i].name : NULL;
}

static const struct command *find_command(const char *name)
{
	for (int i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

const char *editor_command_help(const char *name)
{
	const struct command *c = find_command(name);
	return c ? c->help : NULL;
}

static int run_help(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (n > 1) {
		const struct command *c = find_command(w[1]);
		if (!c)
			return error_set(e, "help: no command '%s'", w[1]);
		strbuf_addf(out, "%s\n%s\n", c->usage, c->help);
		return 0;
	}
	for (int i = 0; i < NCOMMANDS; i++)
		strbuf_addf(out, "  %s\n", commands[i].usage);
	return 0;
}

static void journal(struct editor *ed, const char *line)
{
	if (!ed->journal)
		return;
	fprintf(ed->journal, "%s\n", line);
	fflush(ed->journal);
}

int editor_run(struct editor *ed, const char *line, struct strbuf *out, struct error *e)
{
	char *w[MAX_WORDS];
	int n = split_words(line, w, e);
	if (n <= 0)
		return n;
	int rc;
	const struct command *c = find_command(w[0]);
	if (!c) {
		const char *names[NCOMMANDS];
		for (int i = 0; i < NCOMMANDS; i++)
			names[i] = commands[i].name;
		const char *near = text_did_you_mean(w[0], names, NCOMMANDS);
		if (near)
			rc = error_set(e, "unknown command '%s' (did you mean '%s'?)", w[0], near);
		else
			rc = error_set(e, "unknown command '%s' (see 'help')", w[0]);
	} else if (c->changes) {
		edit_begin(ed);
		rc = c->run(ed, w, n, line, out, e);
		if (rc < 0) {
			edit_abort(ed);
		} else {
			/* the canonical text of the command, without comments */
			struct strbuf sb = {0};
			for (int i = 0; i < n; i++)
				strbuf_addf(&sb, "%s%s", i ? " " : "", w[i]);
			edit_commit(ed, sb.s);
			journal(ed, sb.s);
			strbuf_free(&sb);
		}
	} else {
		rc = c->run(ed, w, n, line, out, e);
		if (rc == 0 && (c->run == run_undo || c->run == run_define))
			journal(ed, line);
	}
	for (int i = 0; i < n; i++)
		free(w[i]);
	return rc;
}

void editor_script(const struct editor *ed, struct strbuf *out)
{
	strbuf_addf(out, "# graft script: reproduces the edits of %s\n",
		    ed->model->path ? ed->model->path : ed->model->name);
	for (int i = 0; i < ed->ndefines; i++)
		strbuf_addf(out, "%s\n", ed->defines[i]);
	for (int i = 0; i < ed->nlog; i++)
		strbuf_addf(out, "%s\n", ed->log[i]);
}

int editor_load_types(struct editor *ed, const char *path, bool optional, struct error *e)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (optional && errno == ENOENT)
			return 0;
		return error_set(e, "%s: %s", path, strerror(errno));
	}
	char line[4096];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		const char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (strncmp(p, "define", 6) != 0 || !isspace((unsigned char)p[6])) {
			rc = error_set(e, "%s:%d: a type library holds only 'define' lines", path, lineno);
			break;
		}
		if (type_lib_define(&ed->types, p + 6, e) < 0)
			rc = error_prefix(e, "%s:%d", path, lineno);
	}
	fclose(f);
	return rc;
}

int editor_journal_open(struct editor *ed, const char *path, struct error *e)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return error_set(e, "%s: %s", path, strerror(errno));
	char *abs = ed->model->path ? realpath(ed->model->path, NULL) : NULL;
	fprintf(f, "# graft journal: %s\n",
		abs ? abs : ed->model->path ? ed->model->path : ed->model->name);
	free(abs);
	fflush(f);
	if (ed->journal)
		fclose(ed->journal);
	ed->journal = f;
	return 0;
}
