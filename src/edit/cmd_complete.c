/* cmd_complete.c - completion of a command line from the argument kinds of
 * the command tables: command names, module paths, selectors, type names,
 * each type's keyword arguments, fixed words and option values. Curses-free:
 * the screen's readline hook only hands the candidates over. */
#include "edit/cmd.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "edit/edit.h"

struct completion {
	const struct cmd_complete_ctx *ctx;
	struct cmd_candidates *out;
	const char *text; /* the word being completed */
	size_t len;
};

static void add(struct completion *c, const char *s)
{
	struct cmd_candidates *o = c->out;
	if (strncmp(s, c->text, c->len) != 0)
		return;
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->v[i], s))
			return;
	xgrow(&o->v, &o->cap, o->n + 1, sizeof *o->v);
	o->v[o->n++] = xstrdup(s);
}

void cmd_candidates_free(struct cmd_candidates *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	memset(c, 0, sizeof *c);
}

static void add_commands(struct completion *c)
{
	for (int i = 0; cmd_at(i); i++)
		add(c, cmd_at(i)->spec.name);
	for (int i = 0; c->ctx->more && c->ctx->more(i); i++)
		add(c, c->ctx->more(i)->name);
}

static const struct cmd_spec *find_spec(const struct cmd_complete_ctx *ctx, const char *name)
{
	for (int i = 0; ctx->more && ctx->more(i); i++)
		if (cmd_is_called(ctx->more(i), name))
			return ctx->more(i);
	const struct cmd_def *d = cmd_find(name);
	return d ? &d->spec : NULL;
}

static void add_types(struct completion *c)
{
	int n;
	const struct op_def *const *defs = registry_all(OP_MODULE, &n);
	for (int i = 0; i < n; i++)
		add(c, defs[i]->name);
	add(c, "Sequential");
	const struct type_lib *lib = &c->ctx->ed->types;
	for (int i = 0; i < lib->n; i++)
		add(c, lib->defs[i].name);
}

static int add_model_type(struct module *m, void *ctx)
{
	add(ctx, m->type);
	return 0;
}

/* Paths below the parent named by what is typed: "layer1.0.c" offers the
 * children of layer1.0 starting with "c"; a complete path of a module with
 * children offers itself and its children. */
static void add_paths(struct completion *c)
{
	const struct module *root = c->ctx->ed->model->root;
	if (!root)
		return;
	const char *text = c->text;
	const struct module *self =
	    c->len && text[c->len - 1] != '.' ? module_find(root, text) : NULL;
	if (self && self->nchildren) {
		add(c, text);
		for (int i = 0; i < self->nchildren; i++) {
			char *p = xasprintf("%s.%s", text, self->children[i]->name);
			add(c, p);
			free(p);
		}
		return;
	}
	const char *dot = strrchr(text, '.');
	char *parent_path = dot ? xstrndup(text, (size_t)(dot - text)) : xstrdup("");
	const struct module *parent = module_find(root, parent_path);
	for (int i = 0; parent && i < parent->nchildren; i++) {
		char *p = *parent_path ? xasprintf("%s.%s", parent_path, parent->children[i]->name)
		                       : xstrdup(parent->children[i]->name);
		add(c, p);
		free(p);
	}
	free(parent_path);
	if (c->ctx->marks)
		add(c, "{}");
}

/* "k=" for each attribute of a type (a registry type or a defined one). */
static void add_kwargs(struct completion *c, const char *type)
{
	const struct op_def *def = registry_module(type);
	for (int i = 0; def && i < def->nattrs; i++) {
		char *s = xasprintf("%s=", def->attrs[i].name);
		add(c, s);
		free(s);
	}
	const struct type_def *td = type_lib_find(&c->ctx->ed->types, type);
	for (int i = 0; td && i < td->nparams; i++) {
		char *s = xasprintf("%s=", td->params[i].name);
		add(c, s);
		free(s);
	}
}

/* The type whose '(' is still open at the end of word, into type. */
static bool open_call(const char *word, char *type, size_t size)
{
	int depth = 0;
	for (const char *p = word + strlen(word); p > word; p--) {
		if (p[-1] == ')' || p[-1] == ']') {
			depth++;
		} else if ((p[-1] == '(' || p[-1] == '[') && depth-- == 0) {
			const char *q = p - 1;
			while (q > word && (isalnum((unsigned char)q[-1]) || q[-1] == '_'))
				q--;
			snprintf(type, size, "%.*s", (int)(p - 1 - q), q);
			return p[-1] == '(';
		}
	}
	return false;
}

/* The type the k=v words of a command are for: the TYPE typed, or the type
 * of the module at the PATH typed. args[i] was typed as w[slot[i]]. */
static void add_kwargs_of_args(struct completion *c, const struct cmd_spec *spec, char **w,
			       const int *slot)
{
	for (int i = CMD_MAX_ARGS - 1; i >= 0; i--) {
		if (slot[i] < 0)
			continue;
		const char *word = w[slot[i]];
		if (spec->args[i].kind == CMD_ARG_TYPE) {
			char *type = xstrndup(word, strcspn(word, "("));
			add_kwargs(c, type);
			free(type);
			return;
		}
		if (spec->args[i].kind == CMD_ARG_PATH) {
			const struct module *m = module_find(c->ctx->ed->model->root, word);
			if (m)
				add_kwargs(c, m->type);
			return;
		}
	}
}

/* The candidates one argument offers. */
static void add_arg(struct completion *c, const struct cmd_spec *spec, const struct cmd_arg *a,
		    char **w, const int *slot)
{
	switch (a->kind) {
	case CMD_ARG_PATH:
		add_paths(c);
		break;
	case CMD_ARG_SELECTOR:
		add_paths(c);
		module_walk(c->ctx->ed->model->root, add_model_type, c);
		break;
	case CMD_ARG_TYPE:
		add_types(c);
		break;
	case CMD_ARG_KWARGS:
		add_kwargs_of_args(c, spec, w, slot);
		break;
	case CMD_ARG_OPTION: {
		char *s = xasprintf("%s=", a->label);
		add(c, s);
		free(s);
		break;
	}
	case CMD_ARG_WORD:
		for (int i = 0; a->words[i]; i++)
			add(c, a->words[i]);
		break;
	case CMD_ARG_FILE:
		c->out->files = true;
		break;
	case CMD_ARG_COMMAND:
		add_commands(c);
		break;
	case CMD_ARG_NONE:
	case CMD_ARG_VALUE:
	case CMD_ARG_TEXT:
		break;
	}
}

static bool is_keyword_arg(const struct cmd_arg *a)
{
	return a->kind == CMD_ARG_KWARGS || a->kind == CMD_ARG_OPTION;
}

/* The arguments of a command that may come at w[n]: positional arguments
 * are typed in order, k=v words anywhere once the required ones are in. */
static void add_args(struct completion *c, const struct cmd_spec *spec, char **w, int n)
{
	int slot[CMD_MAX_ARGS], npos = 0, required = 0;
	int pos[CMD_MAX_ARGS];
	for (int i = 0; i < CMD_MAX_ARGS; i++) {
		slot[i] = -1;
		const struct cmd_arg *a = &spec->args[i];
		if (a->kind == CMD_ARG_NONE || is_keyword_arg(a))
			continue;
		if (a->kind == CMD_ARG_TEXT)
			return;
		pos[npos++] = i;
		if (!(a->flags & CMD_OPTIONAL))
			required = npos;
	}
	int typed = 0;
	for (int k = 1; k < n; k++)
		if (!cmd_is_kwarg(w[k]) && typed < npos)
			slot[pos[typed++]] = k;
	bool keyword = strchr(c->text, '=') != NULL;
	if (!keyword && typed < npos)
		add_arg(c, spec, &spec->args[pos[typed]], w, slot);
	if (typed < required)
		return;
	for (int i = 0; i < CMD_MAX_ARGS; i++) {
		const struct cmd_arg *a = &spec->args[i];
		if (!is_keyword_arg(a))
			continue;
		size_t l = strlen(a->label);
		if (a->kind == CMD_ARG_OPTION && a->words && !strncmp(c->text, a->label, l) &&
		    c->text[l] == '=') {
			/* name=: its values */
			for (int k = 0; a->words[k]; k++) {
				char *s = xasprintf("%s=%s", a->label, a->words[k]);
				add(c, s);
				free(s);
			}
		} else {
			add_arg(c, spec, a, w, slot);
		}
	}
}

/* Whether a single candidate is meant to be continued: "k=", or a module
 * whose children may follow. */
static bool continues(const struct cmd_complete_ctx *ctx, const char *s)
{
	size_t l = strlen(s);
	if (!l)
		return false;
	if (s[l - 1] == '=')
		return true;
	const struct module *m = module_find(ctx->ed->model->root, s);
	return m && m->nchildren;
}

void cmd_complete(const struct cmd_complete_ctx *ctx, const char *line, int start, int end,
		  struct cmd_candidates *out)
{
	memset(out, 0, sizeof *out);
	char *text = xstrndup(line + start, (size_t)(end - start));
	struct completion c = {ctx, out, text, strlen(text)};
	struct cmd_words words;
	struct error e = {0};
	if (cmd_split(line, (size_t)start, &words, &e) < 0) {
		free(text);
		return;
	}
	char type[64];
	if (words.tail && words.open == '(' && open_call(words.tail, type, sizeof type)) {
		/* inside TYPE(...): its arguments, or the modules of a Sequential */
		if (!strcmp(type, "Sequential"))
			add_types(&c);
		else
			add_kwargs(&c, type);
	} else if (words.n == 0) {
		add_commands(&c);
	} else {
		const struct cmd_spec *spec = find_spec(ctx, words.w[0]);
		if (spec)
			add_args(&c, spec, words.w, words.n);
	}
	out->continues = out->n == 1 && continues(ctx, out->v[0]);
	cmd_words_free(&words);
	free(text);
}
