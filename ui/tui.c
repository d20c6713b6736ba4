/* tui.c - the full-screen outline.
 *
 * One loop reads a key (from the terminal, or from a --script file) and
 * hands it to the current screen's key function; every screen is a state
 * (browse, prompt, pager, help, confirm) with an enter and a key function,
 * and tui_draw paints whatever the state is. Edits go through the editor
 * (editor_run), after which the outline is rebuilt from the new tree and
 * its shape check. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curses.h>

#include "cli.h"
#include "edit/edit.h"
#include "edit/edit_ops.h"
#include "tui.h"

/* --- small helpers ----------------------------------------------------- */

void tui_text_add(struct tui_text *t, int role, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		s = xstrdup("");
	va_end(ap);
	xgrow(&t->v, &t->cap, t->n + 1, sizeof *t->v);
	t->v[t->n++] = (struct tui_line){.text = s, .role = role};
}

void tui_text_add_lines(struct tui_text *t, int role, const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");
		tui_text_add(t, role, "%.*s", (int)n, text);
		text += n;
		if (*text == '\n')
			text++;
	}
}

void tui_text_clear(struct tui_text *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->v[i].text);
	free(t->v);
	memset(t, 0, sizeof *t);
}

static void set_status(struct tui *t, int role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_status(struct tui *t, int role, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->status, sizeof t->status, fmt, ap);
	va_end(ap);
	/* one line: the first */
	t->status[strcspn(t->status, "\n")] = '\0';
	t->status_role = role;
}

static void rebuild(struct tui *t)
{
	outline_build(&t->ol, t->ed->model, t->ed->original, &t->ed->check);
	t->gen++;
}

static const char *current_path(const struct tui *t)
{
	int n = outline_current(&t->ol);
	return n >= 0 ? outline_path(&t->ol, n) : "";
}

/* --- screens ----------------------------------------------------------- */

struct screen {
	void (*enter)(struct tui *t);
	void (*key)(struct tui *t, int key);
};
static const struct screen screens[TUI_NSTATES];

void tui_set_state(struct tui *t, enum tui_state s)
{
	t->state = s;
	if (screens[s].enter)
		screens[s].enter(t);
	tui_layout(t);
}

const char *tui_status(const struct tui *t, int *role)
{
	static char buf[sizeof t->status + 8];
	if (t->status[0]) {
		*role = t->status_role;
		return t->status;
	}
	if (!t->ed->check.ok && t->ed->model->has_forward) {
		snprintf(buf, sizeof buf, "%s %s", t->g->bad, t->ed->check.err.msg);
		*role = ROLE_BREAK;
		return buf;
	}
	return NULL;
}

void tui_layout(struct tui *t)
{
	int r = t->rows;
	int header = r >= 10 ? 2 : r >= 6 ? 1 : 0;
	int colhead = r >= 8 ? 1 : 0;
	int role;
	const char *st = tui_status(t, &role);
	t->status_lines = st && r >= 12 && text_width(st) > t->cols ? 2 : 1;
	t->bottom_y = r - 1;
	t->status_y = r >= 4 ? r - 1 - t->status_lines : r - 1;
	t->outline_y = header + colhead;
	int avail = t->status_y - t->outline_y;
	if (avail < 1)
		avail = 1;
	t->pane_h = 0;
	bool pane = t->state == TUI_PAGER || t->details;
	if (pane && avail >= 6)
		t->pane_h = avail / 2;
	t->outline_h = avail - t->pane_h;
	t->pane_y = t->outline_y + t->outline_h;
	outline_set_height(&t->ol, t->outline_h);
}

/* Runs one action of the key table. */
static void run_action(struct tui *t, enum tui_action a, int key);

static int key_action(int key)
{
	static const struct {
		int key;
		int action;
	} binds[] = {
#define TUI_BIND_KEY(k, label, action) {k, ACT_##action},
	    TUI_BINDINGS(TUI_BIND_KEY)
#undef TUI_BIND_KEY
	};
	for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++)
		if (binds[i].key == key)
			return binds[i].action;
	return -1;
}

static int action_by_name(const char *name)
{
	static const char *const names[] = {
#define TUI_ACTION_NAME2(id, n, section, help) n,
	    TUI_ACTIONS(TUI_ACTION_NAME2)
#undef TUI_ACTION_NAME2
	};
	for (int i = 0; i < ACT_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static void handle_mouse(struct tui *t, int x, int y, mmask_t bstate)
{
	if (bstate & BUTTON4_PRESSED) {
		outline_move(&t->ol, -3);
		return;
	}
#ifdef BUTTON5_PRESSED
	if (bstate & BUTTON5_PRESSED) {
		outline_move(&t->ol, 3);
		return;
	}
#endif
	if (!(bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)))
		return;
	if (y < t->outline_y || y >= t->outline_y + t->outline_h)
		return;
	int row = t->ol.top + (y - t->outline_y);
	if (row >= t->ol.nrows)
		return;
	if (row == t->ol.cursor)
		outline_toggle(&t->ol);
	else
		outline_go(&t->ol, row);
	(void)x;
}

void tui_click(struct tui *t, int x, int y)
{
	if (t->state == TUI_BROWSE)
		handle_mouse(t, x, y, BUTTON1_PRESSED);
}

static void prompt_with(struct tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void prompt_with(struct tui *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		s = xstrdup("");
	va_end(ap);
	t->prompt = PROMPT_COMMAND;
	tui_set_state(t, TUI_PROMPT);
	tui_rl_start(t, PROMPT_COMMAND, s);
	free(s);
}

/* What an edit key works on: {} when modules are marked, else the row's
 * module path or OWNER:NODE. */
static const char *target(const struct tui *t)
{
	static char ref[4096];
	if (t->ol.marked.n || !t->ol.nrows)
		return t->ol.marked.n ? "{}" : "";
	outline_row_ref(&t->ol, t->ol.cursor, ref, sizeof ref);
	return ref;
}

/* Whether an edit key works on function nodes of a forward: replace and
 * insert do; set, delete and freeze work on modules only. */
static bool edits_function_nodes(enum tui_action a)
{
	return a != ACT_SET && a != ACT_DELETE && a != ACT_FREEZE;
}

static void run_action(struct tui *t, enum tui_action a, int key)
{
	struct outline *o = &t->ol;
	int node = outline_current(o);
	if (!o->marked.n && o->nrows && outline_row_function(o, o->cursor) &&
	    !edits_function_nodes(a)) {
		set_status(t, ROLE_HINT, "a function node: r replaces it, a inserts after it");
		return;
	}
	switch (a) {
	case ACT_MOVE_UP:
		outline_move(o, -1);
		break;
	case ACT_MOVE_DOWN:
		outline_move(o, 1);
		break;
	case ACT_PAGE_UP:
		outline_page(o, -1);
		break;
	case ACT_PAGE_DOWN:
		outline_page(o, 1);
		break;
	case ACT_FIRST:
		outline_go(o, 0);
		break;
	case ACT_LAST:
		outline_go(o, o->nrows - 1);
		break;
	case ACT_SEARCH:
		t->search_origin = node;
		t->prompt = PROMPT_SEARCH;
		tui_set_state(t, TUI_PROMPT);
		tui_rl_start(t, PROMPT_SEARCH, "");
		break;
	case ACT_SEARCH_NEXT:
	case ACT_SEARCH_PREV:
		if (!o->pattern)
			set_status(t, ROLE_HINT, "no search yet: '/' searches");
		else if (!outline_search(o, a == ACT_SEARCH_NEXT ? 1 : -1, false))
			set_status(t, ROLE_ERROR, "no module matches '%s'", o->pattern);
		break;
	case ACT_TOGGLE:
		outline_toggle(o);
		break;
	case ACT_EXPAND:
		outline_right(o);
		break;
	case ACT_COLLAPSE:
		outline_left(o);
		break;
	case ACT_EXPAND_ALL:
		outline_set_depth(o, INT_MAX);
		break;
	case ACT_COLLAPSE_ALL:
		outline_set_depth(o, 1);
		break;
	case ACT_DEPTH:
		outline_set_depth(o, key >= '0' && key <= '9' ? key - '0' : 1);
		break;
	case ACT_MARK:
		outline_toggle_mark(o);
		outline_move(o, 1);
		if (o->marked.n)
			set_status(t, ROLE_HINT,
			           "%zu marked: r, e, D, F or a ':' command with {} work on them",
			           o->marked.n);
		break;
	case ACT_UNMARK_ALL:
		outline_clear_marks(o);
		break;
	case ACT_DETAILS:
		t->details = !t->details;
		t->detail_top = 0;
		tui_layout(t);
		break;
	case ACT_ACTIVATIONS: {
		struct error e = {0};
		if (tui_stats_run(t, &e) < 0) {
			set_status(t, ROLE_ERROR, "activations: %s", e.msg);
		} else {
			t->details = true;
			t->detail_node = -2; /* rebuild */
			tui_layout(t);
			set_status(
			    t, ROLE_OK, "%s",
			    "ran once on a random input: the details show each module's outputs");
		}
		break;
	}
	case ACT_DRIFT: {
		struct error e = {0};
		char summary[300];
		if (tui_drift_run(t, summary, sizeof summary, &e) < 0) {
			set_status(t, ROLE_ERROR, "drift: %s", e.msg);
		} else {
			t->details = true;
			t->detail_node = -2; /* rebuild */
			tui_layout(t);
			set_status(t, ROLE_OK, "%s", summary);
		}
		break;
	}
	case ACT_DETAILS_DOWN:
		t->detail_top++;
		break;
	case ACT_DETAILS_UP:
		t->detail_top = t->detail_top > 0 ? t->detail_top - 1 : 0;
		break;
	case ACT_METRIC:
		outline_set_metric(o, (enum outline_metric)((o->metric + 1) % OUTLINE_NMETRICS));
		set_status(t, ROLE_HINT, "bar: %s%s", outline_metric_name(o->metric),
		           o->sorted ? " (sorted)" : "");
		break;
	case ACT_SORT:
		outline_set_sorted(o, !o->sorted);
		set_status(t, ROLE_HINT, "%s",
		           o->sorted ? "siblings sorted by the bar's measure"
		                     : "siblings in model order");
		break;
	case ACT_HELP:
		tui_help_build(t);
		tui_set_state(t, TUI_HELP);
		break;
	case ACT_REDRAW:
		if (!t->headless)
			clearok(curscr, TRUE);
		break;
	case ACT_COMMAND:
		prompt_with(t, "%s", "");
		break;
	case ACT_FUNCTIONS:
		outline_set_functions(o, !o->functions);
		break;
	case ACT_REPLACE:
		prompt_with(t, "replace %s ", target(t));
		break;
	case ACT_INSERT:
		prompt_with(t, "insert after %s ", target(t));
		break;
	case ACT_SET:
		prompt_with(t, "set %s ", target(t));
		break;
	case ACT_DELETE:
		prompt_with(t, "delete %s", target(t));
		break;
	case ACT_FREEZE:
		if (node < 0)
			break;
		if (o->marked.n) {
			prompt_with(t, "freeze {}");
		} else {
			const struct outline_node *n = &o->nodes[node];
			if (!n->params) {
				set_status(t, ROLE_HINT, "%s has no parameters", n->m->type);
				break;
			}
			char *cmd =
			    xasprintf("%s %s", n->frozen == n->params ? "unfreeze" : "freeze",
			              current_path(t));
			tui_command(t, cmd);
			free(cmd);
		}
		break;
	case ACT_DIFF:
		tui_command(t, "diff");
		break;
	case ACT_UNDO:
		tui_command(t, "undo");
		break;
	case ACT_REDO:
		tui_command(t, "redo");
		break;
	case ACT_SAVE:
		prompt_with(t, "save %s", t->ed->model->path ? t->ed->model->path : "");
		break;
	case ACT_QUIT:
		if (t->ed->dirty)
			tui_set_state(t, TUI_CONFIRM);
		else
			t->quit = true;
		break;
	case ACT_SUSPEND:
		if (!t->headless) {
			def_prog_mode();
			endwin();
			raise(SIGTSTP);
			reset_prog_mode();
			clearok(curscr, TRUE);
		}
		break;
	case ACT_COUNT:
		break;
	}
}

static void browse_key(struct tui *t, int key)
{
	t->status[0] = '\0';
	if (key == TK_FN(KEY_RESIZE))
		return;
	if (key == TK_FN(KEY_MOUSE)) {
		MEVENT ev;
		if (getmouse(&ev) == OK)
			handle_mouse(t, ev.x, ev.y, ev.bstate);
		return;
	}
	int a = key_action(key);
	if (a >= 0)
		run_action(t, (enum tui_action)a, key);
}

/* Searches for pattern from the current row on, and says what is wrong
 * when nothing matches or the pattern is a malformed selector. */
static void search_from_cursor(struct tui *t, const char *pattern)
{
	struct error e = {0};
	t->status[0] = '\0';
	if (outline_set_search(&t->ol, pattern, &e) < 0)
		set_status(t, ROLE_ERROR, "%s", e.msg);
	else if (*pattern && !outline_search(&t->ol, 1, true))
		set_status(t, ROLE_ERROR, "no module matches '%s'", pattern);
}

/* The prompt: keys go to readline; Esc goes back. */
static void prompt_key(struct tui *t, int key)
{
	if (key == TK_FN(KEY_RESIZE) || key == TK_FN(KEY_MOUSE))
		return;
	if (key == TK_ESC || key == TK_CTRL('c') || key == TK_CTRL('g')) {
		tui_rl_cancel(t);
		if (t->prompt == PROMPT_SEARCH && t->search_origin >= 0 &&
		    t->search_origin < t->ol.nnodes)
			outline_reveal(&t->ol, t->search_origin);
		tui_set_state(t, TUI_BROWSE);
		return;
	}
	tui_rl_feed(t, key);
	if (t->state == TUI_PROMPT && t->prompt == PROMPT_SEARCH) {
		const char *prompt, *line;
		int point;
		tui_rl_view(&prompt, &line, &point);
		if (t->search_origin >= 0 && t->search_origin < t->ol.nnodes) {
			int r = outline_row_of(&t->ol, t->search_origin);
			if (r >= 0)
				outline_go(&t->ol, r);
		}
		search_from_cursor(t, line);
	}
}

void tui_prompt_done(struct tui *t, const char *line)
{
	enum tui_prompt kind = t->prompt;
	tui_set_state(t, TUI_BROWSE);
	if (!line)
		return;
	if (kind == PROMPT_SEARCH) {
		search_from_cursor(t, line);
		return;
	}
	tui_command(t, line);
}

/* Moves *top for a scrolling key (j/k, arrows, pages, g/G); false when key
 * is not one. The upper bound is the caller's to apply. */
static bool scroll_key(int key, int *top, int page, int end)
{
	switch (key) {
	case 'j':
	case TK_FN(KEY_DOWN):
		(*top)++;
		break;
	case 'k':
	case TK_FN(KEY_UP):
		(*top)--;
		break;
	case TK_FN(KEY_NPAGE):
	case ' ':
		*top += page;
		break;
	case TK_FN(KEY_PPAGE):
		*top -= page;
		break;
	case 'g':
	case TK_FN(KEY_HOME):
		*top = 0;
		break;
	case 'G':
	case TK_FN(KEY_END):
		*top = end;
		break;
	default:
		return false;
	}
	if (*top < 0)
		*top = 0;
	return true;
}

static void pager_key(struct tui *t, int key)
{
	if (scroll_key(key, &t->pager_top, t->pane_h > 2 ? t->pane_h - 2 : 1, t->pager.n))
		return;
	switch (key) {
	case 'q':
	case TK_ESC:
	case '\r':
	case '\n':
		tui_set_state(t, TUI_BROWSE);
		break;
	case TK_FN(KEY_RESIZE):
		break;
	default:
		/* any other key closes the output and works as usual */
		tui_set_state(t, TUI_BROWSE);
		browse_key(t, key);
		break;
	}
}

static void help_key(struct tui *t, int key)
{
	if (!scroll_key(key, &t->help_top, t->rows > 3 ? t->rows - 3 : 1, t->help.n)) {
		switch (key) {
		case 'q':
		case TK_ESC:
		case '?':
		case TK_FN(KEY_F(1)):
			tui_set_state(t, TUI_BROWSE);
			break;
		default:
			break;
		}
	}
	if (t->help_top > t->help.n - (t->rows - 1))
		t->help_top = t->help.n - (t->rows - 1);
	if (t->help_top < 0)
		t->help_top = 0;
}

static void confirm_key(struct tui *t, int key)
{
	if (key == TK_FN(KEY_RESIZE))
		return;
	tui_set_state(t, TUI_BROWSE);
	if (key == 'y' || key == 'Y') {
		t->quit = true;
	} else if (key == 's' || key == 'S') {
		tui_command(t, "save");
		if (!t->ed->dirty)
			t->quit = true;
	} else {
		set_status(t, ROLE_HINT, "%s", "not quitting");
	}
}

static void pager_enter(struct tui *t)
{
	t->pager_top = 0;
}

static const struct screen screens[TUI_NSTATES] = {
    [TUI_BROWSE] = {NULL, browse_key},      [TUI_PROMPT] = {NULL, prompt_key},
    [TUI_PAGER] = {pager_enter, pager_key}, [TUI_HELP] = {NULL, help_key},
    [TUI_CONFIRM] = {NULL, confirm_key},
};

void tui_key(struct tui *t, int key)
{
	tui_layout(t);
	screens[t->state].key(t, key);
}

/* --- commands ---------------------------------------------------------- */


/* Shows what a command printed: one line in the status line, more in the
 * output pane. */
static void show_output(struct tui *t, const char *title, const char *out)
{
	if (!out || !*out)
		return;
	size_t first = strcspn(out, "\n");
	bool one_line = out[first] == '\0' || out[first + 1] == '\0';
	if (one_line) {
		set_status(t, ROLE_OK, "%s", out);
		return;
	}
	tui_text_clear(&t->pager);
	tui_text_add_lines(&t->pager, ROLE_NORMAL, out);
	snprintf(t->pager_title, sizeof t->pager_title, "%s", title);
	tui_set_state(t, TUI_PAGER);
}

/* --- the screen's own commands ---------------------------------------- */

static int run_quit(struct tui *t, char **w, struct error *e)
{
	run_action(t, ACT_QUIT, 0);
	return 0;
}

static int run_quit_now(struct tui *t, char **w, struct error *e)
{
	t->quit = true;
	return 0;
}

static int run_goto(struct tui *t, char **w, struct error *e)
{
	if (outline_goto(&t->ol, w[1]))
		return 0;
	edit_find(t->ed, w[1], e); /* says why, with a did-you-mean */
	return -1;
}

static int run_save_screen(struct tui *t, char **w, struct error *e)
{
	if (tui_dump_screen(t, w[1]) < 0)
		return error_set(e, "%s: %s", w[1], strerror(errno));
	return 0;
}

/* Beside the editor's commands (cmd.c) and the actions by name (keys.h). */
static const struct tui_command {
	struct cmd_spec spec;
	int (*run)(struct tui *t, char **w, struct error *e);
} screen_commands[] = {
    {{"quit", "q", {{0}}, "leave (asks when there are unsaved changes)"}, run_quit},
    {{"quit!", "q!", {{0}}, "leave without saving"}, run_quit_now},
    {{"goto", NULL, {{CMD_ARG_PATH, "PATH", NULL, 0}}, "go to a module"}, run_goto},
    {{"save-screen", NULL, {{CMD_ARG_FILE, "FILE", NULL, 0}}, "write the screen as text"},
     run_save_screen},
};

const struct cmd_spec *tui_command_spec(int i)
{
	int n = (int)(sizeof screen_commands / sizeof screen_commands[0]);
	return i >= 0 && i < n ? &screen_commands[i].spec : NULL;
}

static const struct tui_command *find_screen_command(const char *name)
{
	for (int i = 0; tui_command_spec(i); i++)
		if (cmd_is_called(&screen_commands[i].spec, name))
			return &screen_commands[i];
	return NULL;
}

/* Runs one command line without {}; output is appended to out. Returns 0 or
 * -1 (e set); *handled says whether the screen ran it (not the editor). */
static int run_one(struct tui *t, const char *line, struct strbuf *out, struct error *e,
                   bool *handled)
{
	struct cmd_words words;
	*handled = false;
	if (cmd_split_line(line, &words, e) < 0 || !words.n)
		return editor_run(t->ed, line, out, e); /* says what is wrong, or nothing */
	char **w = words.w;
	int rc = 0;
	*handled = true;
	const struct tui_command *c = find_screen_command(w[0]);
	int a = action_by_name(w[0]);
	if (c) {
		rc = cmd_check_args(&c->spec, w, words.n, e) < 0 ? -1 : c->run(t, w, e);
	} else if (!strcmp(w[0], "help") && words.n == 1) {
		run_action(t, ACT_HELP, 0);
	} else if (a >= 0 && !cmd_find(w[0])) {
		run_action(t, (enum tui_action)a, words.n > 1 ? (unsigned char)w[1][0] : 0);
	} else {
		*handled = false;
		rc = editor_run(t->ed, line, out, e);
	}
	cmd_words_free(&words);
	return rc;
}

void tui_command(struct tui *t, const char *line)
{
	while (isspace((unsigned char)*line))
		line++;
	if (!*line)
		return;
	const char **paths = NULL;
	int npaths = 0;
	char *one[1];
	bool each = strstr(line, "{}") != NULL;
	if (each) {
		npaths = outline_marked(&t->ol, &paths);
		if (!npaths) {
			one[0] = (char *)current_path(t);
			paths = (const char **)one;
			npaths = 1;
		}
	}
	/* paths point into the outline, rebuilt by each command: copy them */
	char **targets = xcalloc((size_t)(npaths ? npaths : 1), sizeof *targets);
	for (int i = 0; i < npaths; i++)
		targets[i] = xstrdup(paths[i]);
	if (paths != (const char **)one)
		free(paths);
	bool was_ok = t->ed->check.ok;
	int nlog = t->ed->nlog, nredo = t->ed->nredo_log;
	struct strbuf out = {0};
	struct error e = {0};
	int rc = 0, ran = 0;
	bool handled = false, editor_ran = false;
	for (int i = 0; i < (each ? npaths : 1) && rc == 0; i++) {
		char *cmd;
		if (each) {
			struct strbuf sb = {0};
			for (const char *p = line; *p;) {
				const char *q = strstr(p, "{}");
				if (!q) {
					strbuf_add(&sb, p);
					break;
				}
				strbuf_addn(&sb, p, (size_t)(q - p));
				strbuf_add(&sb, targets[i]);
				p = q + 2;
			}
			cmd = strbuf_take(&sb);
		} else {
			cmd = xstrdup(line);
		}
		rc = run_one(t, cmd, &out, &e, &handled);
		free(cmd);
		editor_ran |= !handled;
		ran++;
	}
	for (int i = 0; i < npaths; i++)
		free(targets[i]);
	free(targets);
	if (!editor_ran) {
		if (rc < 0)
			set_status(t, ROLE_ERROR, "%s", e.msg);
		strbuf_free(&out);
		return;
	}
	rebuild(t);
	char title[128];
	snprintf(title, sizeof title, "%.*s", (int)strcspn(line, " "), line);
	if (rc < 0) {
		if (out.len)
			show_output(t, title, out.s);
		set_status(t, ROLE_ERROR, "%s%s", each && ran > 1 ? "stopped: " : "", e.msg);
	} else if (t->ed->nlog != nlog || t->ed->nredo_log != nredo) {
		/* the model changed */
		if (!strcmp(title, "undo") && t->ed->nredo_log)
			set_status(t, ROLE_OK, "undone: %s", t->ed->redo_log[t->ed->nredo_log - 1]);
		else if (!strcmp(title, "redo") && t->ed->nlog)
			set_status(t, ROLE_OK, "redone: %s", t->ed->log[t->ed->nlog - 1]);
		else
			show_output(t, title, out.s);
		if (!t->ed->check.ok) {
			/* the break matters most; after undo/redo, say what was undone too */
			char said[sizeof t->status] = "";
			if (!strcmp(title, "undo") || !strcmp(title, "redo"))
				snprintf(said, sizeof said, "%s; ", t->status);
			set_status(t, ROLE_BREAK, "%s%s %s", said, t->g->bad, t->ed->check.err.msg);
			outline_show_break(&t->ol);
		} else if (!was_ok) {
			char said[sizeof t->status];
			snprintf(said, sizeof said, "%s", t->status);
			set_status(t, ROLE_OK, "%s%s%s shapes check again", said,
			           said[0] ? " " : "", t->g->ok);
		}
	} else {
		show_output(t, title, out.s);
	}
	strbuf_free(&out);
}

/* --- input: terminal and scripts --------------------------------------- */

static int read_key(void)
{
	wint_t wc;
	int r = get_wch(&wc);
	if (r == ERR)
		return -1;
	if (r == KEY_CODE_YES)
		return TK_FN((int)wc);
	if (wc == TK_ESC) {
		/* Esc alone, or Alt-key (Esc then the key at once) */
		nodelay(stdscr, TRUE);
		wint_t w2;
		int r2 = get_wch(&w2);
		nodelay(stdscr, FALSE);
		if (r2 == OK)
			return TK_ALT((int)w2);
		if (r2 == KEY_CODE_YES)
			ungetch((int)w2);
		return TK_ESC;
	}
	return (int)wc;
}

static SCREEN *open_headless(FILE **devnull)
{
	static const char *const terms[] = {"xterm-256color", "xterm", "vt100", "ansi"};
	*devnull = fopen("/dev/null", "r+");
	if (!*devnull)
		return NULL;
	for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
		SCREEN *s = newterm(terms[i], *devnull, *devnull);
		if (s)
			return s;
	}
	fclose(*devnull);
	return NULL;
}

int tui_run(struct editor *ed, const struct tui_options *o)
{
	struct tui t;
	memset(&t, 0, sizeof t);
	t.ed = ed;
	t.headless = o->script != NULL;
	t.detail_node = -1;
	t.detail_fn = -1;
	t.utf8 = cli_locale_utf8();
	t.g = t.utf8 ? &tui_glyphs_utf8 : &tui_glyphs_ascii;

	FILE *devnull = NULL;
	SCREEN *screen = NULL;
	if (t.headless) {
		screen = open_headless(&devnull);
		if (!screen) {
			fprintf(stderr, "graft: no terminal description for a headless screen\n");
			return EXIT_USAGE;
		}
		resize_term(o->rows, o->cols);
	} else {
		if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
			fprintf(stderr,
			        "graft: the outline needs a terminal (try 'graft summary')\n");
			return EXIT_USAGE;
		}
		t.journal_path = cli_journal_open(ed);
		set_escdelay(25);
		initscr();
		tui_guard_on(ed, t.journal_path);
	}
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	if (!t.headless) {
		mousemask(BUTTON1_PRESSED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
		              | BUTTON5_PRESSED
#endif
		          ,
		          NULL);
		mouseinterval(0);
	}
	tui_colors_init(&t);
	t.rows = LINES;
	t.cols = COLS;
	tui_rl_init(&t);

	outline_init(&t.ol);
	rebuild(&t);
	tui_layout(&t);
	outline_set_depth(&t.ol, outline_fit_depth(&t.ol, t.outline_h));
	if (!ed->check.ok && ed->model->has_forward)
		outline_show_break(&t.ol);

	int status = EXIT_OK;
	char err[1200] = "";
	if (t.headless) {
		if (tui_script_run(&t, o->script, err, sizeof err) < 0)
			status = EXIT_USAGE;
	} else {
		while (!t.quit) {
			tui_layout(&t);
			tui_draw(&t);
			int k = read_key();
			if (k == TK_FN(KEY_RESIZE)) {
				t.rows = LINES;
				t.cols = COLS;
			}
			if (k >= 0)
				tui_key(&t, k);
		}
	}
	tui_rl_done(&t);
	if (!t.headless)
		tui_guard_off();
	endwin();
	if (screen) {
		delscreen(screen);
		fclose(devnull);
	}
	if (err[0])
		fprintf(stderr, "graft: %s\n", err);
	cli_journal_close(ed, t.journal_path);
	free(t.history_path);
	tui_text_clear(&t.detail);
	tui_text_clear(&t.pager);
	tui_text_clear(&t.help);
	tui_rl_clear_matches(&t);
	tui_stats_free(&t);
	tui_drift_free(&t);
	outline_free(&t.ol);
	return status;
}
