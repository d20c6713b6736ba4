/* tui.h - the full-screen outline (`graft MODEL`): the state shared by its
 * files. tui.c runs the loop, the screens (states with enter/draw/key) and
 * scripts; tui_draw.c only paints; tui_readline.c runs readline inside the
 * command line; tui_detail.c builds the text of the details pane. The
 * outline's view-model (src/outline.h) owns rows, cursor and expansion. */
#ifndef GRAFT_TUI_H
#define GRAFT_TUI_H

#include <stdbool.h>
#include <stdio.h>

#include "core/text.h"
#include "edit/cmd.h"
#include "edit/edit.h"
#include "keys.h"
#include "view/outline.h"

#define TK_ALT_BIT 0x2000000
#define TK_ALT(c)  (TK_ALT_BIT | (c))

/* Colour roles: C(ROLE, foreground, background, attributes). -1 is the
 * terminal's default colour; without colours only the attributes apply. */
#define TUI_COLORS(C)                                                                              \
	C(NORMAL, -1, -1, A_NORMAL)                                                                \
	C(HEADER, COLOR_BLACK, COLOR_CYAN, A_NORMAL)                                               \
	C(HEADER_NAME, COLOR_BLACK, COLOR_CYAN, A_BOLD)                                            \
	C(HEADER_OK, COLOR_GREEN, -1, A_BOLD)                                                      \
	C(HEADER_BAD, COLOR_RED, -1, A_BOLD)                                                       \
	C(MODIFIED, COLOR_BLACK, COLOR_YELLOW, A_BOLD)                                             \
	C(COLHEAD, -1, -1, A_BOLD | A_UNDERLINE)                                                   \
	C(GUIDE, COLOR_BLUE, -1, A_NORMAL)                                                         \
	C(NAME, -1, -1, A_NORMAL)                                                                  \
	C(NAME_PARENT, -1, -1, A_BOLD)                                                             \
	C(TYPE, COLOR_CYAN, -1, A_NORMAL)                                                          \
	C(DIM, -1, -1, A_DIM)                                                                      \
	C(NUM, -1, -1, A_NORMAL)                                                                   \
	C(FROZEN, COLOR_BLUE, -1, A_BOLD)                                                          \
	C(BAR, COLOR_GREEN, -1, A_NORMAL)                                                          \
	C(NEW, COLOR_GREEN, -1, A_BOLD)                                                            \
	C(REPLACED, COLOR_YELLOW, -1, A_BOLD)                                                      \
	C(REMOVED, COLOR_RED, -1, A_DIM)                                                           \
	C(BREAK, COLOR_RED, -1, A_BOLD)                                                            \
	C(MATCH, COLOR_YELLOW, -1, A_BOLD | A_UNDERLINE)                                           \
	C(MARK, COLOR_MAGENTA, -1, A_BOLD)                                                         \
	C(STATUS, -1, -1, A_NORMAL)                                                                \
	C(ERROR, COLOR_RED, -1, A_BOLD)                                                            \
	C(OK, COLOR_GREEN, -1, A_NORMAL)                                                           \
	C(HINT, -1, -1, A_DIM)                                                                     \
	C(HINT_KEY, -1, -1, A_BOLD)                                                                \
	C(PANE_TITLE, COLOR_BLACK, COLOR_WHITE, A_NORMAL)                                          \
	C(SECTION, -1, -1, A_BOLD)                                                                 \
	C(KEY, COLOR_YELLOW, -1, A_BOLD)                                                           \
	C(PROMPT, -1, -1, A_BOLD)

enum tui_role {
#define TUI_ROLE_ENUM(role, fg, bg, attr) ROLE_##role,
	TUI_COLORS(TUI_ROLE_ENUM)
#undef TUI_ROLE_ENUM
	    ROLE_COUNT
};

/* Lines of a pane (details, command output, help), each in one role. */
struct tui_line {
	char *text;
	int role;
};
struct tui_text {
	struct tui_line *v;
	int n, cap;
};
void tui_text_add(struct tui_text *t, int role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds each line of a multi-line text. */
void tui_text_add_lines(struct tui_text *t, int role, const char *text);
void tui_text_clear(struct tui_text *t);

enum tui_state { TUI_BROWSE, TUI_PROMPT, TUI_PAGER, TUI_HELP, TUI_CONFIRM, TUI_NSTATES };
enum tui_prompt { PROMPT_COMMAND, PROMPT_SEARCH };

/* Box-drawing and bar glyphs: UTF-8, or ASCII in other locales. */
struct tui_glyphs {
	const char *vert, *tee, *corner, *horiz, *open, *closed, *leaf, *arrow, *ok, *bad;
	const char *bar_full;
	const char *const *bar_parts; /* 1/8 .. 7/8 of a cell, or NULL */
	const char *const *spark;     /* 8 levels for histograms */
	const char *ellipsis, *dot;
};

struct tui {
	struct editor *ed;
	struct outline ol;
	enum tui_state state;
	int rows, cols;
	bool headless, utf8, color;
	const struct tui_glyphs *g;
	bool quit;

	/* layout (tui_layout) */
	int outline_y, outline_h; /* the outline's rows */
	int pane_y, pane_h;       /* the lower pane (details or output), 0 when none */
	int status_y, status_lines, bottom_y;

	unsigned widths_version; /* outline rows the column widths were measured on */
	int name_want, type_want;

	bool details;
	struct tui_text detail;
	int detail_top, detail_node, detail_width;
	int detail_fn; /* the function node shown, -1 for a module */
	unsigned detail_gen;
	unsigned gen; /* bumped at every outline_build */

	char status[1024];
	int status_role;

	struct tui_text pager; /* command output */
	char pager_title[128];
	int pager_top;

	struct tui_text help;
	int help_top;

	enum tui_prompt prompt;
	int search_origin; /* node the search started from */
	char **matches;    /* completion candidates on show */
	int nmatches;

	char *history_path;
	char *journal_path;

	struct tui_stats *stats; /* activation statistics of one run (tui_stats.c) */
	struct tui_drift *drift; /* the edit's drift from the model as opened (tui_drift.c) */
};

/* tui.c */
/* How the outline runs: on the terminal, or headless from a script. */
struct tui_options {
	const char *script; /* keys and commands to run on a headless screen;
	                       NULL: the terminal */
	int cols, rows;     /* the headless screen's size */
};
/* Shows the editor's model in the full-screen outline until the user quits
 * or the script ends; on the terminal, unsaved edits are journalled for
 * 'graft --recover'. Problems go to stderr. Returns the exit status. */
int tui_run(struct editor *ed, const struct tui_options *o);
/* Hands a key to the current screen. */
void tui_key(struct tui *t, int key);
/* A mouse click at column x, row y. */
void tui_click(struct tui *t, int x, int y);
void tui_set_state(struct tui *t, enum tui_state s);
/* Runs a command line as typed at the ':' prompt (TUI commands, the
 * editor's, action names; {} runs it for each marked module). */
void tui_command(struct tui *t, const char *line);
/* The i-th of the screen's own commands (quit, goto, ...; the actions of
 * keys.h are commands too), NULL past the end. */
const struct cmd_spec *tui_command_spec(int i);
/* Called by tui_readline.c when a line is entered. */
void tui_prompt_done(struct tui *t, const char *line);
/* Recomputes the layout from the size and what is shown. */
void tui_layout(struct tui *t);
/* The status line's message (the last command's, else the shape break), or
 * NULL when there is none; *role gets its role. */
const char *tui_status(const struct tui *t, int *role);

/* tui_draw.c */
void tui_colors_init(struct tui *t);
void tui_draw(struct tui *t);
/* Draws the screen afresh and writes it as text, one line a row, trailing
 * spaces removed. 0, or -1 with errno set. */
int tui_dump_screen(struct tui *t, const char *path);
extern const struct tui_glyphs tui_glyphs_utf8, tui_glyphs_ascii;

/* tui_readline.c */
void tui_rl_init(struct tui *t);
void tui_rl_done(struct tui *t);
/* Starts editing a line with the given kind of prompt and initial text. */
void tui_rl_start(struct tui *t, enum tui_prompt kind, const char *text);
/* Feeds one key to readline; may call tui_prompt_done. */
void tui_rl_feed(struct tui *t, int key);
void tui_rl_cancel(struct tui *t);
/* What to draw: prompt, line and the cursor's byte offset in it. */
void tui_rl_view(const char **prompt, const char **line, int *point);
void tui_rl_clear_matches(struct tui *t);

/* tui_stats.c: activation statistics from one forward of the engine. */
/* Runs the model once on a random input; 0 or -1 with e set. */
int tui_stats_run(struct tui *t, struct error *e);
/* Adds the statistics of m's outputs (path is its path) to the details,
 * when there are any for the model as it is now. */
void tui_stats_add(struct tui *t, const struct module *m, const char *path, int width);
void tui_stats_free(struct tui *t);
/* The model's inputs, random as exec_random_input draws them with seed i
 * for input i; NULL with e set when memory is short. Free with
 * tui_random_inputs_free(in, m->ninputs). */
struct tensor *tui_random_inputs(const struct model *m, struct error *e);
void tui_random_inputs_free(struct tensor *in, int n);

/* tui_drift.c: the edit's drift from the model as opened. */
/* Runs both on a random input; 0 with a one-line summary of the outputs'
 * drift in summary, or -1 with e set. */
int tui_drift_run(struct tui *t, char *summary, size_t size, struct error *e);
/* Adds m's drift (path is its path) to the details, when there is a run
 * for the model as it is now. */
void tui_drift_add(struct tui *t, const struct module *m, const char *path);
void tui_drift_free(struct tui *t);

/* tui_guard.c: the terminal given back on every way out. */
/* From now until tui_guard_off, a fatal signal or an exit() leaves the
 * full screen first; a signal is then told on stderr, with the journal
 * (journal_path, may be NULL) when ed has unsaved edits, and ends graft as
 * it would have. */
void tui_guard_on(const struct editor *ed, const char *journal_path);
void tui_guard_off(void);

/* tui_script.c: runs a --script file on the (headless) screen. Returns 0,
 * or -1 with "FILE:LINE: message" in err. */
int tui_script_run(struct tui *t, const char *path, char *err, size_t errsize);

/* tui_detail.c */
/* The help screen's text into t->help, from the key, action and command
 * tables. */
void tui_help_build(struct tui *t);
/* Rebuilds t->detail for the current row when it or the model changed. */
void tui_detail_update(struct tui *t, int width);

#endif
