/* tui_readline.c - readline inside the curses screen, as tig does it.
 *
 * Readline gets its keys from a queue the screen fills (rl_getc_function),
 * never touches the terminal (no-op prep/deprep hooks, output to /dev/null,
 * no signal handlers) and paints nothing: the screen draws rl_line_buffer
 * after every key. Lines are read with the callback interface, so the
 * screen's loop stays in charge and scripts drive the prompt like a user.
 * History is kept in $XDG_STATE_HOME/graft/history. Tab completes what the
 * command tables say goes there (cmd_complete). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"
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

/* The screen's commands and the actions by name, for cmd_complete. */
static const struct cmd_spec *screen_command(int i)
{
	static const struct cmd_spec actions[] = {
#define TUI_ACTION_SPEC(id, name, section, help) {name, NULL, {{0}}, help},
	    TUI_ACTIONS(TUI_ACTION_SPEC)
#undef TUI_ACTION_SPEC
	};
	int own = 0;
	while (tui_command_spec(own))
		own++;
	if (i < own)
		return tui_command_spec(i);
	return i - own < ACT_COUNT ? &actions[i - own] : NULL;
}

static struct cmd_candidates gen_cands;
static int gen_index;

/* Hands readline the candidates cmd_complete found (all match the text). */
static char *generator(const char *text, int state)
{
	(void)text;
	if (!state)
		gen_index = 0;
	return gen_index < gen_cands.n ? xstrdup(gen_cands.v[gen_index++]) : NULL;
}

static char **complete(const char *text, int start, int end)
{
	struct cmd_complete_ctx ctx = {rl_tui->ed, screen_command, rl_tui->ol.marked.n > 0};
	cmd_candidates_free(&gen_cands);
	cmd_complete(&ctx, rl_line_buffer, start, end, &gen_cands);
	/* a file name: readline's own completion */
	rl_attempted_completion_over = !gen_cands.files;
	if (gen_cands.files)
		return NULL;
	char **matches = rl_completion_matches(text, generator);
	/* no space after "k=" or after a module whose children may follow */
	rl_completion_suppress_append = gen_cands.continues;
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
	cmd_candidates_free(&gen_cands);
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
