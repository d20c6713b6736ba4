/* cmd.c - the command language: the tokenizer, the table of the editor's
 * commands (each described once: name, argument kinds, help) with the
 * functions that run them, and what is derived from the table: usage lines,
 * the argument check and `help`. Dispatch with undo and the journal is
 * editor_run (editor.c); completion is cmd_complete.c. */
#include "edit/cmd.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "edit/edit.h"
#include "edit/edit_ops.h"
#include "edit/inspect.h"
#include "io/format.h"
#include "io/save.h"

/* --- the tokenizer ------------------------------------------------------ */

int cmd_split(const char *line, size_t len, struct cmd_words *out, struct error *e)
{
	memset(out, 0, sizeof *out);
	const char *p = line, *end = line + len;
	for (;;) {
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end || *p == '#')
			return 0;
		const char *start = p;
		int depth = 0;
		char quote = 0;
		while (p < end && (quote || depth > 0 || !isspace((unsigned char)*p))) {
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
		if (p == end) {
			out->tail = start;
			out->open = quote ? quote : depth > 0 ? '(' : 0;
			return 0;
		}
		if (out->n == CMD_MAX_WORDS) {
			cmd_words_free(out);
			return error_set(e, "too many words (at most %d)", CMD_MAX_WORDS);
		}
		out->w[out->n++] = xstrndup(start, (size_t)(p - start));
	}
}

int cmd_split_line(const char *line, struct cmd_words *out, struct error *e)
{
	if (cmd_split(line, strlen(line), out, e) < 0)
		return -1;
	if (out->open) {
		error_set(e, "unbalanced %s in '%s'", out->open == '(' ? "brackets" : "quote",
			  out->tail);
		cmd_words_free(out);
		return -1;
	}
	if (out->tail) {
		if (out->n == CMD_MAX_WORDS) {
			cmd_words_free(out);
			return error_set(e, "too many words (at most %d)", CMD_MAX_WORDS);
		}
		out->w[out->n++] = xstrdup(out->tail);
		out->tail = NULL;
	}
	return 0;
}

void cmd_words_free(struct cmd_words *words)
{
	for (int i = 0; i < words->n; i++)
		free(words->w[i]);
	memset(words, 0, sizeof *words);
}

bool cmd_is_kwarg(const char *word)
{
	const char *eq = strchr(word, '=');
	const char *bracket = strpbrk(word, "([");
	if (!eq || eq == word || (bracket && bracket < eq))
		return false;
	for (const char *q = word; q < eq; q++)
		if (!isalnum((unsigned char)*q) && *q != '_')
			return false;
	return true;
}

/* --- running the commands ----------------------------------------------- */

/* Parses "k=v" into kv; 0, 1 when the word is not k=v, -1 on a bad value. */
static int parse_kv(const char *word, struct kwarg *kv, struct error *e)
{
	if (!cmd_is_kwarg(word))
		return 1;
	const char *eq = strchr(word, '=');
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

static int run_replace(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		       struct error *e)
{
	enum keep_mode keep = KEEP_SAME;
	struct spec *s = words_spec(w + 2, n - 2, &keep, NULL, e);
	if (!s)
		return -1;
	int rc = edit_replace(ed, w[1], s, keep, strcmp(w[0], "replace-all") == 0, out, e);
	spec_free(s);
	return rc;
}

static int run_insert(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		      struct error *e)
{
	bool after = strcmp(w[1], "after") == 0; /* or "before": checked by the table */
	char *name = NULL;
	struct spec *s = words_spec(w + 3, n - 3, NULL, &name, e);
	if (!s) {
		free(name); /* a name= may come before the word that is refused */
		return -1;
	}
	int rc = edit_insert(ed, after, w[2], s, name, out, e);
	spec_free(s);
	free(name);
	return rc;
}

static int run_delete(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		      struct error *e)
{
	return edit_delete(ed, w[1], out, e);
}

static int run_set(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		   struct error *e)
{
	struct kwarg kv[CMD_MAX_WORDS];
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
	return edit_wrap(ed, w[1], n > 2 ? w[2] : "Sequential", out, e);
}

static int run_extract(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		       struct error *e)
{
	return edit_extract(ed, w[1], out, e);
}

static int run_freeze(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		      struct error *e)
{
	return edit_freeze(ed, n > 1 ? w[1] : "", strcmp(w[0], "freeze") == 0, out, e);
}

static int run_input(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		     struct error *e)
{
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
	return strcmp(w[0], "undo") == 0 ? edit_undo(ed, e) : edit_redo(ed, e);
}

static int run_show(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	struct module *m = n > 1 ? edit_find(ed, w[1], e) : ed->model->root;
	if (!m)
		return -1;
	inspect_show(ed, m, out);
	return 0;
}

static int run_find(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	return inspect_find(ed, w[1], out, e);
}

static int run_diff(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	inspect_diff(ed, out);
	return 0;
}

static int run_save(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	bool force = strcmp(w[0], "save!") == 0;
	const char *path = n > 1 ? w[1] : ed->model->path;
	if (!path)
		return error_set(e, "save: give a file name");
	if (!ed->check.ok && !force)
		return error_set(e, "save: the model does not check (%s); fix it, or save anyway with 'save! %s'",
				 ed->check.err.msg, path);
	if (format_save(ed->model, path, force ? SAVE_FORCE : 0, e) < 0)
		return -1;
	ed->dirty = false;
	if (ed->model->path && path_same_file(path, ed->model->path))
		editor_journal_reset(ed); /* replaying the edits again would double them */
	strbuf_addf(out, "saved %s\n", path);
	return 0;
}

static int run_save_script(struct editor *ed, char **w, int n, const char *line,
			   struct strbuf *out, struct error *e)
{
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

static const char *const before_after[] = {"before", "after", NULL};
static const char *const keep_modes[] = {"overlap", "none", NULL};

#define ARG(kind, label) {CMD_ARG_##kind, label, NULL, 0}
#define OPT(kind, label) {CMD_ARG_##kind, label, NULL, CMD_OPTIONAL}
#define KWARGS           {CMD_ARG_KWARGS, "k=v", NULL, CMD_OPTIONAL | CMD_MANY}
#define KEEP             {CMD_ARG_OPTION, "keep", keep_modes, CMD_OPTIONAL}

static const struct cmd_def commands[] = {
	{{"replace", NULL, {ARG(PATH, "PATH"), ARG(TYPE, "TYPE"), KWARGS, KEEP},
	  "Replace one module: 'replace fc Linear out_features=10', 'replace fc Linear(512, 10)',\n"
	  "'replace classifier Sequential(Dropout(0.2), Linear(1280, 10))'. Arguments left out\n"
	  "come from the module replaced (same type) and the shape flowing in. A function\n"
	  "node of a forward, OWNER:NODE, becomes a module: 'replace :tanh GELU'."},
	 true, false, run_replace},
	{{"replace-all", NULL, {ARG(SELECTOR, "SELECTOR"), ARG(TYPE, "TYPE"), KWARGS, KEEP},
	  "Replace every module a selector picks: 'replace-all ReLU FusedReLU p=0.5',\n"
	  "'replace-all BatchNorm2d GroupNorm num_groups=8', 'replace-all Conv2d[kernel_size=1]\n"
	  "Conv2d kernel_size=3 padding=1', 'replace-all layer*.*.relu GELU'."},
	 true, false, run_replace},
	{{"insert", NULL,
	  {{CMD_ARG_WORD, NULL, before_after, 0}, ARG(PATH, "PATH"), ARG(TYPE, "TYPE"), KWARGS,
	   {CMD_ARG_OPTION, "name", NULL, CMD_OPTIONAL}},
	  "Put a new module in the data flow before or after PATH: 'insert after layer4\n"
	  "Dropout p=0.2'. In a Sequential it becomes an element; in a graph, a new node\n"
	  "whose consumers are re-pointed. PATH may be a function node, OWNER:NODE:\n"
	  "'insert after layer1.0:add ReLU'."},
	 true, false, run_insert},
	{{"delete", NULL, {ARG(PATH, "PATH")},
	  "Remove a module from the data flow (Identity in a graph); refused when what comes\n"
	  "in does not have the shape that went out."},
	 true, false, run_delete},
	{{"set", NULL, {ARG(PATH, "PATH"), {CMD_ARG_KWARGS, "k=v", NULL, CMD_MANY}},
	  "Change attributes: 'set layer1.0.conv1 stride=2'. Tensors whose shape changes are\n"
	  "initialised afresh; the others are kept."},
	 true, false, run_set},
	{{"head", NULL, {ARG(VALUE, "N"), OPT(PATH, "PATH"), KEEP},
	  "Change the final classifier to N outputs, found from the output backwards (or\n"
	  "named by PATH: a container's last Linear), with the auxiliary classifiers\n"
	  "num_classes also sets (GoogLeNet's aux1.fc2, aux2.fc2)."},
	 true, false, run_head},
	{{"wrap", NULL, {ARG(VALUE, "NAME"), OPT(TYPE, "TYPE")},
	  "Make the whole model the child NAME of a new root (a Sequential, or a composite\n"
	  "named TYPE) that runs its children in order, so a head can go after it:\n"
	  "'wrap backbone' then 'insert after backbone Linear(512, 10) name=head' is\n"
	  "nn.Sequential(backbone=model, head=...). Tensor names gain the 'NAME.' prefix."},
	 true, false, run_wrap},
	{{"extract", NULL, {ARG(PATH, "PATH")},
	  "Keep only the module at PATH as the whole model (model = model.features):\n"
	  "'extract features' then 'wrap 0' and inserts builds nn.Sequential(features, ...)."},
	 true, false, run_extract},
	{{"define", NULL, {ARG(TEXT, "NAME [k=default ...] = TYPE(...) > TYPE(...)")},
	  "Define a composite type: 'define FusedReLU p=0.5 = ReLU() > Dropout(p=p)'."},
	 false, true, run_define},
	{{"freeze", NULL, {OPT(SELECTOR, "PATH|SELECTOR")},
	  "Mark parameters as not trainable (requires_grad=False); no argument: all."},
	 true, false, run_freeze},
	{{"unfreeze", NULL, {OPT(SELECTOR, "PATH|SELECTOR")}, "Mark parameters as trainable again."},
	 true, false, run_freeze},
	{{"input", NULL, {OPT(VALUE, "NAME"), ARG(VALUE, "SHAPE")},
	  "Change the dry-run input: 'input 1x3x300x300'."},
	 true, false, run_input},
	{{"seed", NULL, {ARG(VALUE, "N")},
	  "Reset the generator that initialises new modules (default 0)."},
	 true, false, run_seed},
	{{"undo", NULL, {{0}}, "Undo the last change."}, false, true, run_undo},
	{{"redo", NULL, {{0}}, "Redo the last change undone."}, false, true, run_undo},
	{{"show", NULL, {OPT(PATH, "PATH")},
	  "Show a module: attributes, tensors, input and output shapes."},
	 false, false, run_show},
	{{"find", NULL, {ARG(SELECTOR, "PATTERN")}, "List the modules a selector or glob picks."},
	 false, false, run_find},
	{{"diff", NULL, {{0}}, "What changed since the model was opened."}, false, false, run_diff},
	{{"save", NULL, {OPT(FILE, "PATH")},
	  "Save atomically (.json + weights beside it, or a .safetensors bundle); refused\n"
	  "while the shapes break unless 'save! PATH'."},
	 false, false, run_save},
	{{"save!", NULL, {OPT(FILE, "PATH")}, "Save even though the shapes break."}, false, false,
	 run_save},
	{{"save-script", NULL, {ARG(FILE, "FILE")},
	  "Write the commands in effect as a script that reproduces this model."},
	 false, false, run_save_script},
	{{"help", NULL, {OPT(COMMAND, "COMMAND")}, "List the commands, or explain one."}, false,
	 false, run_help},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

#undef ARG
#undef OPT
#undef KWARGS
#undef KEEP

/* --- what the table gives ----------------------------------------------- */

const struct cmd_def *cmd_at(int i)
{
	return i >= 0 && i < NCOMMANDS ? &commands[i] : NULL;
}

bool cmd_is_called(const struct cmd_spec *spec, const char *name)
{
	return strcmp(spec->name, name) == 0 || (spec->alias && strcmp(spec->alias, name) == 0);
}

const struct cmd_def *cmd_find(const char *name)
{
	for (int i = 0; i < NCOMMANDS; i++)
		if (cmd_is_called(&commands[i].spec, name))
			return &commands[i];
	return NULL;
}

const char *cmd_near(const char *name)
{
	const char *names[NCOMMANDS];
	for (int i = 0; i < NCOMMANDS; i++)
		names[i] = commands[i].spec.name;
	return text_did_you_mean(name, names, NCOMMANDS);
}

const char *cmd_explain(const char *name)
{
	const struct cmd_def *c = cmd_find(name);
	return c ? c->spec.help : NULL;
}

/* "a|b|c" */
static void add_choices(struct strbuf *out, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		strbuf_addf(out, "%s%s", i ? "|" : "", words[i]);
}

void cmd_usage(const struct cmd_spec *spec, struct strbuf *out)
{
	strbuf_add(out, spec->name);
	for (int i = 0; i < CMD_MAX_ARGS && spec->args[i].kind != CMD_ARG_NONE; i++) {
		const struct cmd_arg *a = &spec->args[i];
		strbuf_add(out, a->flags & CMD_OPTIONAL ? " [" : " ");
		if (a->kind == CMD_ARG_OPTION) {
			strbuf_addf(out, "%s=", a->label);
			if (a->words)
				add_choices(out, a->words);
			else
				for (const char *c = a->label; *c; c++)
					strbuf_addf(out, "%c", toupper((unsigned char)*c));
		} else if (a->kind == CMD_ARG_WORD) {
			add_choices(out, a->words);
		} else {
			strbuf_add(out, a->label);
		}
		if (a->flags & CMD_MANY)
			strbuf_add(out, " ...");
		if (a->flags & CMD_OPTIONAL)
			strbuf_add(out, "]");
	}
}

int cmd_check_args(const struct cmd_spec *spec, char **w, int n, struct error *e)
{
	int min = 0, max = 0;
	for (int i = 0; i < CMD_MAX_ARGS && spec->args[i].kind != CMD_ARG_NONE; i++) {
		const struct cmd_arg *a = &spec->args[i];
		if (a->kind == CMD_ARG_TEXT || (a->flags & CMD_MANY))
			max = -1;
		else if (max >= 0)
			max++;
		if (a->kind != CMD_ARG_TEXT && !(a->flags & CMD_OPTIONAL))
			min++;
	}
	if (n - 1 < min || (max >= 0 && n - 1 > max)) {
		struct strbuf u = {0};
		cmd_usage(spec, &u);
		error_set(e, "usage: %s", u.s);
		strbuf_free(&u);
		return -1;
	}
	/* a WORD is checked where it stands when nothing optional comes before it */
	for (int i = 0; i < CMD_MAX_ARGS && i + 1 < n; i++) {
		const struct cmd_arg *a = &spec->args[i];
		if (a->kind == CMD_ARG_NONE || (a->flags & CMD_OPTIONAL))
			break;
		if (a->kind != CMD_ARG_WORD)
			continue;
		int k = 0;
		while (a->words[k] && strcmp(a->words[k], w[i + 1]) != 0)
			k++;
		if (a->words[k])
			continue;
		struct strbuf say = {0};
		for (k = 0; a->words[k]; k++)
			strbuf_addf(&say, "%s'%s'", !k ? "" : a->words[k + 1] ? ", " : " or ",
				    a->words[k]);
		error_set(e, "%s: say %s, not '%s'", spec->name, say.s, w[i + 1]);
		strbuf_free(&say);
		return -1;
	}
	return 0;
}

static int run_help(struct editor *ed, char **w, int n, const char *line, struct strbuf *out,
		    struct error *e)
{
	if (n > 1) {
		const struct cmd_def *c = cmd_find(w[1]);
		if (!c)
			return error_set(e, "help: no command '%s'", w[1]);
		cmd_usage(&c->spec, out);
		strbuf_addf(out, "\n%s\n", c->spec.help);
		return 0;
	}
	for (int i = 0; i < NCOMMANDS; i++) {
		strbuf_add(out, "  ");
		cmd_usage(&commands[i].spec, out);
		strbuf_add(out, "\n");
	}
	return 0;
}
