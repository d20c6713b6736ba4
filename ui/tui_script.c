/* tui_script.c - --script: keys and commands read from a file and run on
 * the headless screen, one step a line, each finished before the next:
 *
 *   :COMMAND            as if typed at the ':' prompt
 *   /PATTERN            as if typed at the '/' prompt
 *   type TEXT           TEXT, one key a character
 *   resize COLSxROWS    a new screen size
 *   click X Y           a mouse click
 *   save-screen FILE    the screen as text
 *   KEY ...             keys: a character, or Enter Esc Tab Space Backspace
 *                       Delete Up Down Left Right PgUp PgDn Home End F1,
 *                       C-x (control), M-x (alt)
 *
 * A line ":" or "/" alone is the key. # starts a comment line. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>

#include "tui.h"

static const struct {
	const char *name;
	int key;
} key_names[] = {
    {"Enter", '\r'},
    {"Esc", TK_ESC},
    {"Tab", '\t'},
    {"Space", ' '},
    {"Backspace", TK_FN(KEY_BACKSPACE)},
    {"Delete", TK_FN(KEY_DC)},
    {"Up", TK_FN(KEY_UP)},
    {"Down", TK_FN(KEY_DOWN)},
    {"Left", TK_FN(KEY_LEFT)},
    {"Right", TK_FN(KEY_RIGHT)},
    {"PgUp", TK_FN(KEY_PPAGE)},
    {"PgDn", TK_FN(KEY_NPAGE)},
    {"Home", TK_FN(KEY_HOME)},
    {"End", TK_FN(KEY_END)},
    {"F1", TK_FN(KEY_F(1))},
};

/* Decodes one UTF-8 character; returns its length (1 on bad input). */
static int utf8_decode(const char *s, int *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	int n = u[0] < 0x80 ? 1 : u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : 4;
	int c = n == 1 ? u[0] : u[0] & (0x3f >> (n - 1));
	for (int i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80) {
			*cp = u[0];
			return 1;
		}
		c = (c << 6) | (u[i] & 0x3f);
	}
	*cp = c;
	return n;
}

/* A key name of a script: a character, a name from key_names, C-x, M-x. */
static int parse_key(const char *w)
{
	for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
		if (!strcmp(key_names[i].name, w))
			return key_names[i].key;
	if ((w[0] == 'C' || w[0] == 'M') && w[1] == '-' && w[2] && !w[3])
		return w[0] == 'C' ? TK_CTRL(w[2]) : TK_ALT(w[2]);
	int cp;
	if (*w && w[utf8_decode(w, &cp)] == '\0')
		return cp;
	return -1;
}

static void resize_to(struct tui *t, int cols, int rows)
{
	if (t->headless)
		resize_term(rows, cols);
	t->rows = LINES;
	t->cols = COLS;
	tui_layout(t);
}

/* Runs a script: one step a line, each finished before the next. Returns
 * 0, or -1 after printing FILE:LINE: message to *err (kept for after the
 * screen is closed). */
int tui_script_run(struct tui *t, const char *path, char *err, size_t errsize)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;
	while (!t->quit && rc == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		tui_layout(t);
		if ((*p == ':' || *p == '/') && p[1]) {
			/* as if typed at the prompt */
			if (t->state == TUI_PROMPT)
				tui_rl_cancel(t);
			tui_set_state(t, TUI_BROWSE);
			t->status[0] = '\0';
			if (*p == ':') {
				tui_command(t, p + 1);
			} else {
				t->search_origin = outline_current(&t->ol);
				t->prompt = PROMPT_SEARCH;
				tui_prompt_done(t, p + 1);
			}
		} else if (!strncmp(p, "type ", 5)) {
			for (const char *q = p + 5; *q;) {
				int cp;
				q += utf8_decode(q, &cp);
				tui_key(t, cp);
			}
		} else if (!strncmp(p, "resize ", 7)) {
			int c, r;
			if (sscanf(p + 7, "%dx%d", &c, &r) != 2 || c < 10 || r < 3 || c > 1000 ||
			    r > 1000) {
				snprintf(err, errsize, "%s:%d: resize COLSxROWS", path, lineno);
				rc = -1;
				break;
			}
			resize_to(t, c, r);
			tui_key(t, TK_FN(KEY_RESIZE));
		} else if (!strncmp(p, "click ", 6)) {
			int x, y;
			if (sscanf(p + 6, "%d %d", &x, &y) != 2) {
				snprintf(err, errsize, "%s:%d: click X Y", path, lineno);
				rc = -1;
				break;
			}
			tui_click(t, x, y);
		} else if (!strncmp(p, "save-screen ", 12)) {
			char *dst = p + 12;
			if (tui_dump_screen(t, dst) < 0) {
				snprintf(err, errsize, "%s:%d: %s: %s", path, lineno, dst,
				         strerror(errno));
				rc = -1;
			}
		} else {
			for (char *w = strtok(p, " \t"); w && !t->quit; w = strtok(NULL, " \t")) {
				int k = parse_key(w);
				if (k < 0) {
					snprintf(err, errsize, "%s:%d: unknown key '%s'", path,
					         lineno, w);
					rc = -1;
					break;
				}
				tui_key(t, k);
			}
		}
		tui_draw(t);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* --- set-up ------------------------------------------------------------ */
