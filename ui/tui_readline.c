/* tui_readline.c - readline inside the curses screen, as tig does it.
 *
 * Readline gets its keys from a queue the screen fills (rl_getc_function),
 * never touches the terminal (no-op prep/deprep hooks, output to /dev/null,
 * no signal handlers) and paints nothing: the screen draws rl_line_buffer
 * after every key. Lines are read with the callback interface, so the
 * screen's loop stays in charge and scripts drive the prompt like a user.
 * History is kept in $XDG_STATE_HOME/graft/history. Tab completes command
 * names, module paths, type names and each type's keyword arguments. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"
#include "core/registry.h"
#include "tui.h"

#define HISTORY_MAX 1000

static struct tui *rl_tui; /* the screen readline works for */
static unsigned char queue[256];
static int qhead, qtail;
static FILE *rl_null;

static int getc_hook(FILE *f)
{
	(void)f;
	if (qhead == qtail)
		return EOF; /* not reached: readline is only called with input queued */
	int c = queue[qhead];
	qhead = (qhead + 1) % (int)sizeof queue;
	return c;
}

static int input_available_hook(void)
{
	return qhead != qtail;
}

static void redisplay_hook(void)
{
	/* the screen draws the line after every key */
}

static void prep_hook(int meta)
{
	(void)meta;
}

static void deprep_hook(void)
{
}

static void push_bytes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int next = (qtail + 1) % (int)sizeof queue;
		if (next == qhead)
			return;
		queue[qtail] = (unsigned char)s[i];
		qtail = next;
	}
}

/* The line entered, handed to the screen once readline has returned (the
 * command it runs may start another prompt, which must not happen inside
 * readline's own handler). */
static char *entered;
static bool has_entered;

static void line_handler(char *line)
{
	if (line && *line) {
		HIST_ENTRY *last =
		    history_length ? history_get(history_base + history_length - 1) : NULL;
		if (!last || strcmp(last->line, line) != 0)
			add_history(line);
	}
	rl_callback_handler_remove();
	entered = line;
	has_entered = true;
}

/* --- completion -------------------------------------------------------- */

struct cands {
	char **v;
	int n, cap;
};

static void cand_add(struct cands *c, const char *s)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->v[i], s))
			return;
	xgrow(&c->v, &c->cap, c->n + 1, sizeof *c->v);
	c->v[c->n++] = xstrdup(s);
}

static void cands_free(struct cands *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	memset(c, 0, sizeof *c);
}

static struct cands gen_cands;
static int gen_index;

static char *generator(const char *text, int state)
{
	if (!state)
		gen_index = 0;
	size_t n = strlen(text);
	while (gen_index < gen_cands.n) {
		const char *s = gen_cands.v[gen_index++];
		if (!strncmp(s, text, n))
			return xstrdup(s);
	}
	return NULL;
}

static void add_commands(struct cands *c)
{
	for (int i = 0; editor_command_name(i); i++)
		cand_add(c, editor_command_name(i));
	static const char *const own[] = {"quit", "quit!", "goto", "save-screen"};
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		cand_add(c, own[i]);
	static const char *const actions[] = {
#define TUI_ACTION_NAME3(id, name, section, help) name,
	    TUI_ACTIONS(TUI_ACTION_NAME3)
#undef TUI_ACTION_NAME3
	};
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
		cand_add(c, actions[i]);
}

static void add_types(struct cands *c)
{
	int n;
	const struct op_def *const *defs = registry_all(OP_MODULE, &n);
	for (int i = 0; i < n; i++)
		cand_add(c, defs[i]->name);
	cand_add(c, "Sequential");
	const struct type_lib *lib = &rl_tui->ed->types;
	for (int i = 0; i < lib->n; i++)
		cand_add(c, lib->defs[i].name);
}

static int add_model_types(struct module *m, void *ctx)
{
	cand_add(ctx, m->type);
	return 0;
}

/* Paths below the parent named by what is typed: "layer1.0.c" offers the
 * children of layer1.0 starting with "c"; a complete path of a module with
 * children offers itself and its children. Returns whether the only
 * candidate so far has children (so no space goes after it). */
static void add_paths(struct cands *c, const char *text)
{
	const struct module *root = rl_tui->ed->model->root;
	if (!root)
		return;
	size_t tl = strlen(text);
	const struct module *self = tl && text[tl - 1] != '.' ? module_find(root, text) : NULL;
	if (self && self->nchildren) {
		cand_add(c, text);
		for (int i = 0; i < self->nchildren; i++) {
			char *p = xasprintf("%s.%s", text, self->children[i]->name);
			cand_add(c, p);
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
		cand_add(c, p);
		free(p);
	}
	free(parent_path);
	if (rl_tui->ol.marked.n)
		cand_add(c, "{}");
}

static void add_kwargs(struct cands *c, const char *type)
{
	const struct op_def *def = registry_module(type);
	for (int i = 0; def && i < def->nattrs; i++) {
		char *s = xasprintf("%s=", def->attrs[i].name);
		cand_add(c, s);
		free(s);
	}
	const struct type_def *td = type_lib_find(&rl_tui->ed->types, type);
	for (int i = 0; td && i < td->nparams; i++) {
		char *s = xasprintf("%s=", td->params[i].name);
		cand_add(c, s);
		free(s);
	}
}

/* Words of the line before the one being completed (split at spaces
 * outside parentheses); sets *open_type to the type whose '(' is still
 * open, if any. */
static int split_before(const char *line, int end, char **w, int max, char *open_type,
                        size_t otsize)
{
	int n = 0, depth = 0;
	int i = 0;
	/* types of the open parentheses */
	char stack[16][64];
	open_type[0] = '\0';
	while (i < end) {
		while (i < end && isspace((unsigned char)line[i]))
			i++;
		if (i >= end)
			break;
		int start = i;
		while (i < end && (depth > 0 || !isspace((unsigned char)line[i]))) {
			if (line[i] == '(') {
				/* the identifier just before */
				int j = i;
				while (j > start &&
				       (isalnum((unsigned char)line[j - 1]) || line[j - 1] == '_'))
					j--;
				if (depth < 16)
					snprintf(stack[depth], sizeof stack[depth], "%.*s", i - j,
					         line + j);
				depth++;
			} else if (line[i] == ')' && depth > 0) {
				depth--;
			}
			i++;
		}
		if (i >= end && depth == 0 && !isspace((unsigned char)line[end - 1]))
			break; /* the word being completed */
		if (i >= end && depth > 0)
			break;
		if (n < max)
			w[n++] = xstrndup(line + start, (size_t)(i - start));
	}
	if (depth > 0 && depth <= 16)
		snprintf(open_type, otsize, "%s", stack[depth - 1]);
	return n;
}

static char **complete(const char *text, int start, int end)
{
	rl_attempted_completion_over = 1;
	char *w[64];
	char open_type[64];
	int n = split_before(rl_line_buffer, start, w, 64, open_type, sizeof open_type);
	struct cands c = {0};
	const char *cmd = n ? w[0] : "";
	int ai = n - 1; /* index of the argument being completed */
	bool want_files = false;
	if (open_type[0]) {
		if (!strcmp(open_type, "Sequential"))
			add_types(&c);
		else
			add_kwargs(&c, open_type);
	} else if (n == 0) {
		add_commands(&c);
	} else if (!strcmp(cmd, "help")) {
		if (ai == 0)
			add_commands(&c);
	} else if (!strcmp(cmd, "replace") || !strcmp(cmd, "replace-all")) {
		if (ai == 0) {
			add_paths(&c, text);
			if (cmd[7] == '-')
				module_walk(rl_tui->ed->model->root, add_model_types, &c);
		} else if (ai == 1) {
			add_types(&c);
		} else {
			add_kwargs(&c, w[2]);
			cand_add(&c, "keep=");
		}
	} else if (!strcmp(cmd, "insert")) {
		if (ai == 0) {
			cand_add(&c, "before");
			cand_add(&c, "after");
		} else if (ai == 1) {
			add_paths(&c, text);
		} else if (ai == 2) {
			add_types(&c);
		} else {
			add_kwargs(&c, w[3]);
			cand_add(&c, "name=");
		}
	} else if (!strcmp(cmd, "set")) {
		if (ai == 0) {
			add_paths(&c, text);
		} else {
			struct module *m = module_find(rl_tui->ed->model->root, w[1]);
			if (m)
				add_kwargs(&c, m->type);
		}
	} else if (!strcmp(cmd, "delete") || !strcmp(cmd, "show") || !strcmp(cmd, "goto")) {
		if (ai == 0)
			add_paths(&c, text);
	} else if (!strcmp(cmd, "freeze") || !strcmp(cmd, "unfreeze") || !strcmp(cmd, "find")) {
		if (ai == 0) {
			add_paths(&c, text);
			module_walk(rl_tui->ed->model->root, add_model_types, &c);
		}
	} else if (!strcmp(cmd, "head")) {
		if (ai >= 1) {
			add_paths(&c, text);
			cand_add(&c, "keep=");
		}
	} else if (!strncmp(cmd, "save", 4)) {
		want_files = true;
	}
	if (!strncmp(text, "keep=", 5)) {
		cands_free(&c);
		cand_add(&c, "keep=overlap");
		cand_add(&c, "keep=none");
	}
	for (int i = 0; i < n; i++)
		free(w[i]);
	if (want_files) {
		rl_attempted_completion_over = 0;
		cands_free(&c);
		return NULL;
	}
	cands_free(&gen_cands);
	gen_cands = c;
	char **matches = rl_completion_matches(text, generator);
	/* no space after "k=" or after a module whose children may follow */
	rl_completion_suppress_append = 0;
	if (matches && !matches[1]) {
		const char *m = matches[0];
		size_t l = strlen(m);
		const struct module *mod =
		    l && m[l - 1] != '=' ? module_find(rl_tui->ed->model->root, m) : NULL;
		if ((l && m[l - 1] == '=') || (mod && mod->nchildren))
			rl_completion_suppress_append = 1;
	}
	(void)end;
	return matches;
}

static void display_hook(char **matches, int num, int max)
{
	(void)max;
	tui_rl_clear_matches(rl_tui);
	rl_tui->matches = xcalloc((size_t)num, sizeof *rl_tui->matches);
	for (int i = 0; i < num; i++)
		rl_tui->matches[i] = xstrdup(matches[i + 1]);
	rl_tui->nmatches = num;
}

void tui_rl_clear_matches(struct tui *t)
{
	for (int i = 0; i < t->nmatches; i++)
		free(t->matches[i]);
	free(t->matches);
	t->matches = NULL;
	t->nmatches = 0;
}

/* --- the screen's side ------------------------------------------------- */

void tui_rl_init(struct tui *t)
{
	rl_tui = t;
	rl_null = fopen("/dev/null", "r+");
	rl_instream = rl_null;
	rl_outstream = rl_null;
	rl_readline_name = "graft";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_change_environment = 0;
	rl_getc_function = getc_hook;
	rl_input_available_hook = input_available_hook;
	rl_redisplay_function = redisplay_hook;
	rl_prep_term_function = prep_hook;
	rl_deprep_term_function = deprep_hook;
	rl_attempted_completion_function = complete;
	rl_completion_display_matches_hook = display_hook;
	rl_completer_word_break_characters = " \t\n(,";
	rl_completion_query_items = 0;
	rl_initialize();
	rl_variable_bind("bell-style", "none");
	rl_variable_bind("show-all-if-ambiguous", "on");
	rl_variable_bind("horizontal-scroll-mode", "on");
	using_history();
	stifle_history(HISTORY_MAX);
	t->history_path = cli_state_path("history");
	read_history(t->history_path);
}

void tui_rl_done(struct tui *t)
{
	if (t->state == TUI_PROMPT)
		rl_callback_handler_remove();
	if (t->history_path && history_length) {
		write_history(t->history_path);
		history_truncate_file(t->history_path, HISTORY_MAX);
	}
	cands_free(&gen_cands);
	if (rl_null) {
		fclose(rl_null);
		rl_null = NULL;
	}
	rl_instream = rl_outstream = NULL;
	clear_history();
}

void tui_rl_start(struct tui *t, enum tui_prompt kind, const char *text)
{
	qhead = qtail = 0;
	tui_rl_clear_matches(t);
	rl_callback_handler_install(kind == PROMPT_SEARCH ? "/" : ":", line_handler);
	if (text && *text) {
		rl_insert_text(text);
		rl_point = rl_end;
	}
}

void tui_rl_cancel(struct tui *t)
{
	rl_callback_sigcleanup();
	rl_free_line_state();
	rl_replace_line("", 1);
	rl_point = rl_end = 0;
	rl_callback_handler_remove();
	qhead = qtail = 0;
	tui_rl_clear_matches(t);
}

/* The bytes readline expects for a key. */
static size_t key_bytes(int key, char *buf)
{
	if (key & TK_FN_BIT) {
		static const struct {
			int k;
			const char *s;
		} fn[] = {
		    {KEY_UP, "\033[A"},   {KEY_DOWN, "\033[B"},    {KEY_RIGHT, "\033[C"},
		    {KEY_LEFT, "\033[D"}, {KEY_HOME, "\033[H"},    {KEY_END, "\033[F"},
		    {KEY_DC, "\033[3~"},  {KEY_BACKSPACE, "\177"}, {KEY_ENTER, "\r"},
		};
		for (size_t i = 0; i < sizeof fn / sizeof fn[0]; i++)
			if ((key & ~TK_FN_BIT) == fn[i].k) {
				strcpy(buf, fn[i].s);
				return strlen(buf);
			}
		return 0;
	}
	size_t n = 0;
	if (key & TK_ALT_BIT) {
		buf[n++] = '\033';
		key &= ~TK_ALT_BIT;
	}
	unsigned c = (unsigned)key;
	if (c == '\n')
		c = '\r';
	if (c < 0x80) {
		buf[n++] = (char)c;
	} else if (c < 0x800) {
		buf[n++] = (char)(0xc0 | (c >> 6));
		buf[n++] = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		buf[n++] = (char)(0xe0 | (c >> 12));
		buf[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
		buf[n++] = (char)(0x80 | (c & 0x3f));
	} else {
		buf[n++] = (char)(0xf0 | (c >> 18));
		buf[n++] = (char)(0x80 | ((c >> 12) & 0x3f));
		buf[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
		buf[n++] = (char)(0x80 | (c & 0x3f));
	}
	return n;
}

void tui_rl_feed(struct tui *t, int key)
{
	char buf[16];
	size_t n = key_bytes(key, buf);
	if (!n)
		return;
	if (key != '\t')
		tui_rl_clear_matches(t);
	push_bytes(buf, n);
	/* one byte a call; stop when the line was entered (the handler is gone) */
	has_entered = false;
	while (qhead != qtail && !has_entered)
		rl_callback_read_char();
	qhead = qtail = 0;
	if (has_entered) {
		char *line = entered;
		entered = NULL;
		has_entered = false;
		tui_rl_clear_matches(t);
		tui_prompt_done(t, line);
		free(line);
	}
}

void tui_rl_view(const char **prompt, const char **line, int *point)
{
	*prompt = rl_display_prompt ? rl_display_prompt : rl_prompt ? rl_prompt : "";
	*line = rl_line_buffer ? rl_line_buffer : "";
	*point = rl_point < 0 ? 0 : rl_point > rl_end ? rl_end : rl_point;
}
