/* tui_draw.c - painting the screen: header, outline, panes, status and
 * prompt. Reads the state, changes nothing but the detail text's cache.
 * Everything is drawn into stdscr, so a headless screen can be dumped. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <curses.h>

#include "edit/edit.h"
#include "core/registry.h"
#include "tui.h"

static const char *const bar_parts_utf8[] = {"▏", "▎", "▍", "▌", "▋", "▊", "▉"};
static const char *const spark_utf8[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char *const spark_ascii[] = {"_", ".", ":", "-", "=", "+", "*", "#"};

const struct tui_glyphs tui_glyphs_utf8 = {
    .vert = "│",
    .tee = "├",
    .corner = "└",
    .horiz = "─",
    .open = "▾",
    .closed = "▸",
    .leaf = "─",
    .arrow = "→",
    .ok = "✓",
    .bad = "✗",
    .bar_full = "█",
    .bar_parts = bar_parts_utf8,
    .spark = spark_utf8,
    .ellipsis = "…",
    .dot = "·",
};
const struct tui_glyphs tui_glyphs_ascii = {
    .vert = "|",
    .tee = "|",
    .corner = "`",
    .horiz = "-",
    .open = "v",
    .closed = ">",
    .leaf = "-",
    .arrow = "->",
    .ok = "ok",
    .bad = "X",
    .bar_full = "#",
    .bar_parts = NULL,
    .spark = spark_ascii,
    .ellipsis = "~",
    .dot = "-",
};

static const struct {
	short fg, bg;
	attr_t attr;
} roles[ROLE_COUNT] = {
#define TUI_ROLE_DEF(role, fg, bg, attr) {fg, bg, attr},
    TUI_COLORS(TUI_ROLE_DEF)
#undef TUI_ROLE_DEF
};

void tui_colors_init(struct tui *t)
{
	t->color = !t->headless && has_colors() && !getenv("NO_COLOR");
	if (!t->color)
		return;
	start_color();
	bool defaults = use_default_colors() == OK;
	for (int i = 0; i < ROLE_COUNT; i++) {
		short fg = roles[i].fg, bg = roles[i].bg;
		if (!defaults) {
			fg = fg < 0 ? COLOR_WHITE : fg;
			bg = bg < 0 ? COLOR_BLACK : bg;
		}
		init_pair((short)(i + 1), fg, bg);
	}
}

static attr_t attr_of(const struct tui *t, int role)
{
	if (t->color)
		return COLOR_PAIR(role + 1) | roles[role].attr;
	/* without colours, a background means reverse video */
	return roles[role].attr | (roles[role].bg >= 0 ? A_REVERSE : 0);
}

/* Bytes of the first `cols` columns of s. */
static size_t cols_bytes(const char *s, int cols)
{
	const char *p = s;
	for (int c = 0; *p && c < cols; c++) {
		p++;
		while ((*p & 0xC0) == 0x80)
			p++;
	}
	return (size_t)(p - s);
}

/* Appends text as the terminal shows it to sb: control characters escaped
 * (text_escape_control), as names and messages come from files, and in
 * ASCII when the locale is not UTF-8. */
static void shown_text(const struct tui *t, struct strbuf *sb, const char *text)
{
	if (t->utf8)
		text_escape_control(sb, text);
	else
		text_escape_ascii(sb, text);
}

/* The columns text takes on the screen. */
static int shown_width(const struct tui *t, const char *text)
{
	struct strbuf sb = {0};
	shown_text(t, &sb, text);
	int w = sb.s ? text_width(sb.s) : 0;
	strbuf_free(&sb);
	return w;
}

/* Draws text at (y, x) in at most w columns as shown_text shows it, ending
 * in an ellipsis when cut. Returns the columns used. */
static int put(const struct tui *t, int y, int x, int w, attr_t a, const char *text)
{
	if (w <= 0 || x >= t->cols)
		return 0;
	if (x + w > t->cols)
		w = t->cols - x;
	struct strbuf shown = {0};
	shown_text(t, &shown, text);
	const char *s = shown.s ? shown.s : "";
	int width = text_width(s);
	attrset(a);
	if (width <= w) {
		mvaddstr(y, x, s);
	} else {
		mvaddnstr(y, x, s, (int)cols_bytes(s, w - 1));
		addstr(t->g->ellipsis);
		width = w;
	}
	strbuf_free(&shown);
	return width;
}

/* Right-aligned in w columns. */
static void put_right(const struct tui *t, int y, int x, int w, attr_t a, const char *text)
{
	int width = shown_width(t, text);
	if (width > w)
		put(t, y, x, w, a, text);
	else
		put(t, y, x + w - width, width, a, text);
}

static void fill(const struct tui *t, int y, int x, int w, attr_t a)
{
	attrset(a);
	for (int i = 0; i < w && x + i < t->cols; i++)
		mvaddch(y, x + i, ' ');
}

/* --- header ------------------------------------------------------------ */

/* " · input 1x3x224x224", or " · inputs ids 1x16 int64, mask 1x16":
 * the names when there are several inputs, the dtype when not float32. */
static void inputs_text(const struct tui *t, const struct model *m, char *buf, size_t size)
{
	int l = snprintf(buf, size, " %s input%s", t->g->dot, m->ninputs > 1 ? "s" : "");
	for (int i = 0; i < m->ninputs && l >= 0 && (size_t)l < size; i++) {
		char d[160];
		shape_format_x(&m->inputs[i].shape, d, sizeof d);
		l += snprintf(buf + l, size - (size_t)l, "%s %s%s%s%s", i ? "," : "",
		              m->ninputs > 1 ? m->inputs[i].name : "", m->ninputs > 1 ? " " : "", d,
		              m->inputs[i].dtype == DT_F32 ? "" : " ");
		if (m->inputs[i].dtype != DT_F32 && (size_t)l < size)
			l += snprintf(buf + l, size - (size_t)l, "%s", dtype_name(m->inputs[i].dtype));
	}
}

static void draw_header(struct tui *t)
{
	const struct editor *ed = t->ed;
	const struct model *m = ed->model;
	attr_t h = attr_of(t, ROLE_HEADER);
	fill(t, 0, 0, t->cols, h);
	int x = 1;
	x += put(t, 0, x, t->cols - x, attr_of(t, ROLE_HEADER_NAME), m->name) + 1;
	if (m->path) {
		const char *base = strrchr(m->path, '/');
		char buf[512];
		snprintf(buf, sizeof buf, "%s %s", t->g->dot, base ? base + 1 : m->path);
		x += put(t, 0, x, t->cols - x, h, buf) + 1;
	}
	char right[128] = "";
	size_t len = 0;
	if (t->ol.marked.n)
		len += (size_t)snprintf(right + len, sizeof right - len, "%zu marked  ",
		                        t->ol.marked.n);
	snprintf(right + len, sizeof right - len, "bar: %s%s ", outline_metric_name(t->ol.metric),
	         t->ol.sorted ? ", sorted" : "");
	int rw = text_width(right);
	if (ed->dirty)
		rw += 11;
	if (t->cols - rw > x) {
		put(t, 0, t->cols - rw, rw, h, right);
		if (ed->dirty)
			put(t, 0, t->cols - 11, 10, attr_of(t, ROLE_MODIFIED), " modified ");
	}
	if (t->outline_y < 2)
		return;

	/* totals and the dry run: what does not fit goes, least useful first */
	struct param_counts pc;
	module_count(m->root, &pc);
	char parts[4][200] = {"", "", "", ""};
	char a[32], b[32];
	fmt_compact((double)pc.params, a, sizeof a);
	int n = snprintf(parts[0], sizeof parts[0], " %s params", a);
	if (pc.trainable != pc.params) {
		fmt_compact((double)(pc.params - pc.trainable), b, sizeof b);
		snprintf(parts[0] + n, sizeof parts[0] - (size_t)n, " (%s frozen)", b);
	}
	if (ed->check.ok) {
		fmt_compact((double)ed->check.macs, a, sizeof a);
		snprintf(parts[1], sizeof parts[1], " %s %s mult-adds", t->g->dot, a);
	}
	if (m->ninputs)
		inputs_text(t, m, parts[2], sizeof parts[2]);
	fmt_bytes((double)pc.param_bytes, a, sizeof a);
	snprintf(parts[3], sizeof parts[3], " %s %s", t->g->dot, a);
	char st[300];
	int role = ROLE_HEADER_OK;
	if (!m->has_forward) {
		snprintf(st, sizeof st, "shapes unknown (no forward)");
		role = ROLE_DIM;
	} else if (ed->check.ok) {
		snprintf(st, sizeof st, "%s shapes check", t->g->ok);
	} else if (ed->check.failed) {
		char path[256];
		module_path_buf(ed->check.failed, path, sizeof path);
		snprintf(st, sizeof st, "%s shape break in %s", t->g->bad,
		         path[0] ? path : "the model");
		role = ROLE_HEADER_BAD;
	} else {
		snprintf(st, sizeof st, "%s does not check", t->g->bad);
		role = ROLE_HEADER_BAD;
	}
	/* keep: params, the check, mult-adds, input, size (in that order) */
	int keep = 4, sw = text_width(st) + 3;
	for (;;) {
		int w = sw;
		for (int i = 0; i < keep; i++)
			w += text_width(parts[i]);
		if (w <= t->cols || keep == 1)
			break;
		keep--;
	}
	static const int order[] = {0, 3, 1, 2}; /* as shown: params, size, macs, input */
	attr_t na = attr_of(t, ROLE_NORMAL);
	x = 0;
	for (int i = 0; i < 4; i++)
		if (order[i] < keep)
			x += put(t, 1, x, t->cols - x, na, parts[order[i]]);
	char sep[16];
	snprintf(sep, sizeof sep, " %s ", t->g->dot);
	x += put(t, 1, x, t->cols - x, na, sep);
	put(t, 1, x, t->cols - x, attr_of(t, role), st);
}

/* --- the outline ------------------------------------------------------- */

struct columns {
	int name_x, name_w, type_x, type_w, shape_x, shape_w;
	int params_x, frozen_x, macs_x, pct_x, bar_x, bar_w;
	bool shape, params, frozen, macs, pct, bar;
};

#define NUM_W 6

static int row_name_width(const struct tui *t, int row)
{
	const struct outline_node *n = outline_row_node(&t->ol, row);
	char name[512];
	const struct graph_node *nd = outline_row_function(&t->ol, row);
	if (nd) {
		outline_row_ref(&t->ol, row, name, sizeof name);
		return 2 * (n->depth + 1) + 2 + shown_width(t, name);
	}
	outline_node_name(n, t->ed->model->name, name, sizeof name);
	return 2 * n->depth + 2 + shown_width(t, name);
}

/* The widths names and types would like: measured over every row when the
 * rows change (over the rows on screen for very long outlines). */
static void measure(struct tui *t)
{
	const struct outline *o = &t->ol;
	if (t->widths_version == o->version + 1 && o->nrows <= 5000)
		return;
	t->widths_version = o->version + 1;
	int from = 0, to = o->nrows;
	if (o->nrows > 5000) {
		from = o->top;
		to = o->top + o->height < o->nrows ? o->top + o->height : o->nrows;
	}
	t->name_want = t->type_want = 12;
	for (int r = from; r < to; r++) {
		int w = row_name_width(t, r);
		t->name_want = w > t->name_want ? w : t->name_want;
		char buf[256];
		const struct graph_node *nd = outline_row_function(o, r);
		if (nd)
			outline_function_type(nd, buf, sizeof buf);
		else
			outline_node_type(outline_row_node(o, r), buf, sizeof buf);
		w = shown_width(t, buf);
		t->type_want = w > t->type_want ? w : t->type_want;
	}
}

static void layout_columns(struct tui *t, struct columns *c)
{
	const struct outline *o = &t->ol;
	memset(c, 0, sizeof *c);
	c->shape = c->params = c->macs = c->pct = c->bar = true;
	c->frozen = o->nnodes && o->nodes[0].frozen > 0;
	c->shape_w = 14;
	c->bar_w = 10;
	measure(t);
	int name_want = t->name_want > 48 ? 48 : t->name_want;
	int type_want = t->type_want > 36 ? 36 : t->type_want;
	int flex;
	for (;;) {
		int fixed = 2 + (c->shape ? c->shape_w + 1 : 0) + (c->params ? NUM_W + 1 : 0) +
		            (c->frozen ? NUM_W + 1 : 0) + (c->macs ? NUM_W + 1 : 0) +
		            (c->pct ? NUM_W + 1 : 0) + (c->bar ? c->bar_w + 1 : 0);
		flex = t->cols - fixed;
		int need = (name_want < 20 ? name_want : 20) + 1 + 14;
		if (flex >= need)
			break;
		if (c->bar)
			c->bar = false;
		else if (c->frozen)
			c->frozen = false;
		else if (c->macs)
			c->macs = false;
		else if (c->pct)
			c->pct = false;
		else if (c->shape)
			c->shape = false;
		else if (c->params)
			c->params = false;
		else
			break;
	}
	if (flex >= name_want + 1 + type_want) {
		c->name_w = name_want;
		c->type_w = type_want;
		int extra = flex - name_want - 1 - type_want;
		int more = c->shape ? (extra < 8 ? extra : 8) : 0;
		c->shape_w += more;
		extra -= more;
		more = c->bar ? (extra < 20 ? extra : 20) : 0;
		c->bar_w += more;
		/* the rest stays blank at the right */
	} else {
		c->name_w = flex * 45 / 100;
		if (c->name_w > name_want)
			c->name_w = name_want;
		if (c->name_w < 8)
			c->name_w = 8;
		c->type_w = flex - c->name_w - 1;
	}
	int x = 2;
	c->name_x = x;
	x += c->name_w + 1;
	c->type_x = x;
	x += c->type_w + 1;
	if (c->shape) {
		c->shape_x = x;
		x += c->shape_w + 1;
	}
	if (c->params) {
		c->params_x = x;
		x += NUM_W + 1;
	}
	if (c->frozen) {
		c->frozen_x = x;
		x += NUM_W + 1;
	}
	if (c->macs) {
		c->macs_x = x;
		x += NUM_W + 1;
	}
	if (c->pct) {
		c->pct_x = x;
		x += NUM_W + 1;
	}
	if (c->bar)
		c->bar_x = x;
}

static void draw_column_heads(struct tui *t, const struct columns *c, int y)
{
	attr_t a = attr_of(t, ROLE_COLHEAD);
	fill(t, y, 0, t->cols, a);
	put(t, y, c->name_x, c->name_w, a, "Module");
	put(t, y, c->type_x, c->type_w, a, "Type");
	if (c->shape)
		put(t, y, c->shape_x, c->shape_w, a, "Output");
	if (c->params)
		put_right(t, y, c->params_x, NUM_W, a, "Params");
	if (c->frozen)
		put_right(t, y, c->frozen_x, NUM_W, a, "Frozen");
	if (c->macs)
		put_right(t, y, c->macs_x, NUM_W, a, "MACs");
	static const char *const short_names[] = {"params", "MACs", "memory"};
	char label[64];
	snprintf(label, sizeof label, "%% %s%s", short_names[t->ol.metric],
	         t->ol.sorted ? (t->utf8 ? " ▼" : " v") : "");
	if (c->pct)
		put(t, y, c->pct_x, NUM_W + 1 + (c->bar ? c->bar_w : 0), a, label);
}

static void draw_bar(struct tui *t, int y, int x, int w, double share, attr_t a)
{
	if (!t->g->bar_parts) {
		int n = (int)(share * (w - 2) + 0.5);
		attrset(a);
		mvaddch(y, x, '[');
		for (int i = 0; i < w - 2; i++)
			addch(i < n ? '#' : ' ');
		addch(']');
		return;
	}
	int eighths = (int)(share * w * 8 + 0.5);
	attrset(a);
	move(y, x);
	for (int i = 0; i < w; i++, eighths -= 8) {
		if (eighths >= 8)
			addstr(t->g->bar_full);
		else if (eighths > 0)
			addstr(t->g->bar_parts[eighths - 1]);
		else
			break;
	}
}

/* Guides and branch of a row into label; returns the length. */
static size_t row_guides(struct tui *t, int row, char *label, size_t size)
{
	const struct outline *o = &t->ol;
	size_t len = 0;
	bool cont[64];
	int depth = outline_row_guides(o, row, cont, 64);
	for (int l = 1; l < depth && len + 16 < size; l++)
		len += (size_t)snprintf(label + len, size - len, "%s ",
		                        l < 64 && cont[l] ? t->g->vert : " ");
	if (depth > 0)
		len += (size_t)snprintf(label + len, size - len, "%s%s",
		                        o->rows[row].last ? t->g->corner : t->g->tee, t->g->horiz);
	return len;
}

/* A function node of a forward: OWNER:NODE, its function and output shape. */
static void draw_function_row(struct tui *t, const struct columns *c, int row, int y)
{
	const struct outline *o = &t->ol;
	bool sel = row == o->cursor && t->state != TUI_HELP;
	attr_t rev = sel ? A_REVERSE : 0;
	if (sel)
		fill(t, y, 0, t->cols, attr_of(t, ROLE_NORMAL) | rev);
	bool broken = outline_row_function_broken(o, row);
	char label[1024], text[512];
	size_t len = row_guides(t, row, label, sizeof label);
	snprintf(label + len, sizeof label - len, "%s ", t->g->leaf);
	int x = c->name_x;
	x += put(t, y, x, c->name_w, attr_of(t, ROLE_GUIDE) | rev, label);
	outline_row_ref(o, row, text, sizeof text);
	put(t, y, x, c->name_x + c->name_w - x, attr_of(t, broken ? ROLE_BREAK : ROLE_NAME) | rev,
	    text);
	outline_function_type(outline_row_function(o, row), text, sizeof text);
	put(t, y, c->type_x, c->type_w, attr_of(t, ROLE_TYPE) | rev, text);
	if (!c->shape)
		return;
	int role = ROLE_NORMAL;
	if (broken) {
		snprintf(text, sizeof text, "%s shape break", t->g->bad);
		role = ROLE_BREAK;
	} else {
		outline_function_shape(o, row, text, sizeof text);
		if (!strcmp(text, "?") || !strcmp(text, "--"))
			role = ROLE_DIM;
	}
	put(t, y, c->shape_x, c->shape_w, attr_of(t, role) | rev, text);
}

static void draw_row(struct tui *t, const struct columns *c, int row, int y)
{
	if (outline_row_function(&t->ol, row)) {
		draw_function_row(t, c, row, y);
		return;
	}
	const struct outline *o = &t->ol;
	const struct outline_node *n = outline_row_node(o, row);
	const struct outline_row *r = &o->rows[row];
	bool sel = row == o->cursor && t->state != TUI_HELP;
	attr_t rev = sel ? A_REVERSE : 0;
	if (sel)
		fill(t, y, 0, t->cols, attr_of(t, ROLE_NORMAL) | rev);
	bool removed = n->change == OUTLINE_REMOVED;

	/* marks */
	if (outline_is_marked(o, r->node))
		put(t, y, 0, 1, attr_of(t, ROLE_MARK) | rev, "*");
	static const char change_mark[] = {' ', '+', '~', '~', '-'};
	static const int change_role[] = {ROLE_NORMAL, ROLE_NEW, ROLE_REPLACED, ROLE_REPLACED,
	                                  ROLE_REMOVED};
	if (n->change != OUTLINE_SAME) {
		char s[2] = {change_mark[n->change], 0};
		put(t, y, 1, 1, attr_of(t, change_role[n->change]) | rev, s);
	} else if (n->changed_below && !r->open) {
		put(t, y, 1, 1, attr_of(t, ROLE_REPLACED) | rev, t->g->dot);
	}

	/* guides, expander and name */
	char label[1024];
	size_t len = row_guides(t, row, label, sizeof label);
	size_t guide_len = len;
	const char *exp = n->nchildren ? (r->open ? t->g->open : t->g->closed) : t->g->leaf;
	len += (size_t)snprintf(label + len, sizeof label - len, "%s", exp);
	size_t exp_end = len;
	char name[512];
	outline_node_name(n, t->ed->model->name, name, sizeof name);
	snprintf(label + len, sizeof label - len, " %s", name);
	int x = c->name_x;
	attr_t guide = attr_of(t, ROLE_GUIDE) | rev;
	char save = label[guide_len];
	label[guide_len] = '\0';
	x += put(t, y, x, c->name_w, guide, label);
	label[guide_len] = save;
	save = label[exp_end];
	label[exp_end] = '\0';
	x += put(t, y, x, c->name_x + c->name_w - x,
	         n->nchildren ? attr_of(t, ROLE_NAME_PARENT) | rev : guide, label + guide_len);
	label[exp_end] = save;
	int name_role = removed                       ? ROLE_REMOVED
	                : n->broken                   ? ROLE_BREAK
	                : outline_matches(o, r->node) ? ROLE_MATCH
	                : n->nchildren                ? ROLE_NAME_PARENT
	                                              : ROLE_NAME;
	put(t, y, x, c->name_x + c->name_w - x, attr_of(t, name_role) | rev, label + exp_end);

	/* type and hyper-parameters */
	char type[256];
	size_t tl = outline_node_type(n, type, sizeof type);
	x = c->type_x;
	char keep = type[tl];
	type[tl] = '\0';
	x += put(t, y, x, c->type_w, attr_of(t, removed ? ROLE_REMOVED : ROLE_TYPE) | rev, type);
	type[tl] = keep;
	put(t, y, x, c->type_x + c->type_w - x,
	    attr_of(t, removed ? ROLE_REMOVED : ROLE_NORMAL) | rev, type + tl);

	/* output shape */
	if (c->shape) {
		char shape[256];
		int role = ROLE_NORMAL;
		if (removed) {
			snprintf(shape, sizeof shape, "(removed)");
			role = ROLE_REMOVED;
		} else if (n->broken) {
			snprintf(shape, sizeof shape, "%s shape break", t->g->bad);
			role = ROLE_BREAK;
		} else if (n->broken_below && !r->open) {
			snprintf(shape, sizeof shape, "%s break inside", t->g->bad);
			role = ROLE_BREAK;
		} else {
			outline_node_shape(o, n, shape, sizeof shape);
			if (!strcmp(shape, "?") || !strcmp(shape, "--"))
				role = ROLE_DIM;
		}
		put(t, y, c->shape_x, c->shape_w, attr_of(t, role) | rev, shape);
	}

	/* numbers */
	char num[32];
	attr_t na = attr_of(t, removed ? ROLE_REMOVED : ROLE_NUM) | rev;
	if (c->params && n->params)
		put_right(t, y, c->params_x, NUM_W, na,
		          fmt_compact((double)n->params, num, sizeof num));
	if (c->frozen && n->frozen)
		put_right(t, y, c->frozen_x, NUM_W, attr_of(t, ROLE_FROZEN) | rev,
		          fmt_compact((double)n->frozen, num, sizeof num));
	if (c->macs && !removed) {
		if (n->m->ncalls && n->macs)
			put_right(t, y, c->macs_x, NUM_W, na,
			          fmt_compact((double)n->macs, num, sizeof num));
		else if (!n->m->ncalls && !o->checked && o->has_forward)
			put_right(t, y, c->macs_x, NUM_W, attr_of(t, ROLE_DIM) | rev, "?");
	}
	double share = outline_share(o, n);
	if (c->pct && share >= 0 && outline_value(n, o->metric) > 0) {
		snprintf(num, sizeof num, "%.1f%%", share * 100);
		put_right(t, y, c->pct_x, NUM_W, na, num);
		if (c->bar)
			draw_bar(t, y, c->bar_x, c->bar_w, share, attr_of(t, ROLE_BAR) | rev);
	}
}

static void draw_outline(struct tui *t)
{
	struct columns c;
	layout_columns(t, &c);
	if (t->outline_y > (t->outline_y >= 2 ? 1 : 0))
		draw_column_heads(t, &c, t->outline_y - 1);
	const struct outline *o = &t->ol;
	for (int i = 0; i < t->outline_h; i++) {
		int row = o->top + i;
		if (row >= o->nrows)
			break;
		draw_row(t, &c, row, t->outline_y + i);
	}
}

/* --- panes ------------------------------------------------------------- */

static void draw_text(struct tui *t, const struct tui_text *tx, int top, int y, int h)
{
	for (int i = 0; i < h; i++) {
		int l = top + i;
		if (l < 0 || l >= tx->n)
			break;
		put(t, y + i, 0, t->cols, attr_of(t, tx->v[l].role), tx->v[l].text);
	}
}

static void draw_pane(struct tui *t)
{
	if (!t->pane_h)
		return;
	struct tui_text *tx;
	int *top;
	char title[300];
	const char *hint;
	if (t->state == TUI_PAGER) {
		tx = &t->pager;
		top = &t->pager_top;
		snprintf(title, sizeof title, " %s ", t->pager_title);
		hint = "j/k PgUp/PgDn scroll, q closes ";
	} else {
		tui_detail_update(t, t->cols);
		tx = &t->detail;
		top = &t->detail_top;
		char p[512] = "";
		if (t->ol.nrows)
			outline_row_ref(&t->ol, t->ol.cursor, p, sizeof p);
		snprintf(title, sizeof title, " Details: %s ", *p ? p : t->ed->model->name);
		hint = "J/K scroll, i hides ";
	}
	int body = t->pane_h - 1;
	if (*top > tx->n - body)
		*top = tx->n - body;
	if (*top < 0)
		*top = 0;
	attr_t a = attr_of(t, ROLE_PANE_TITLE);
	fill(t, t->pane_y, 0, t->cols, a);
	int x = put(t, t->pane_y, 0, t->cols, a, title);
	char pos[64];
	snprintf(pos, sizeof pos, "%s%d-%d/%d ", hint, tx->n ? *top + 1 : 0,
	         *top + body < tx->n ? *top + body : tx->n, tx->n);
	int pw = text_width(pos);
	if (t->cols - pw > x)
		put(t, t->pane_y, t->cols - pw, pw, a, pos);
	draw_text(t, tx, *top, t->pane_y + 1, body);
}

static void draw_help(struct tui *t)
{
	draw_text(t, &t->help, t->help_top, 0, t->rows - 1);
	attr_t a = attr_of(t, ROLE_PANE_TITLE);
	fill(t, t->rows - 1, 0, t->cols, a);
	bool more = t->help_top + t->rows - 1 < t->help.n;
	char pos[128];
	snprintf(pos, sizeof pos, " help: j/k PgUp/PgDn scroll, q goes back%s",
	         more ? "  (more below)" : "");
	put(t, t->rows - 1, 0, t->cols, a, pos);
}

/* --- status, hints, prompt --------------------------------------------- */

/* While a command is typed: what it does and how it is written. */
static bool draw_command_hint(struct tui *t, int y)
{
	if (t->state != TUI_PROMPT || t->prompt != PROMPT_COMMAND || t->status[0])
		return false;
	const char *prompt, *line;
	int point;
	tui_rl_view(&prompt, &line, &point);
	while (*line == ' ')
		line++;
	char word[64];
	snprintf(word, sizeof word, "%.*s", (int)strcspn(line, " "), line);
	const char *help = *word ? cmd_explain(word) : NULL;
	char hint[300];
	if (!*line)
		snprintf(hint, sizeof hint,
		         "a command: Tab lists them, 'help' explains them, Esc goes back");
	else if (help) {
		/* the help paragraph on one line */
		snprintf(hint, sizeof hint, "%s", help);
		for (char *c = hint; *c; c++)
			if (*c == '\n')
				*c = ' ';
	} else
		return false;
	put(t, y, 0, t->cols, attr_of(t, ROLE_HINT), hint);
	return true;
}

static void draw_status(struct tui *t)
{
	int y = t->status_y, role;
	if (draw_command_hint(t, y))
		return;
	const char *st = tui_status(t, &role);
	if (st) {
		if (t->status_lines == 2 && text_width(st) > t->cols) {
			/* two lines, cut at a space when there is one */
			size_t cut = cols_bytes(st, t->cols);
			size_t sp = cut;
			while (sp > 0 && st[sp] != ' ')
				sp--;
			if (sp > cut / 2)
				cut = sp;
			char *first = xstrndup(st, cut);
			put(t, y, 0, t->cols, attr_of(t, role), first);
			free(first);
			while (st[cut] == ' ')
				cut++;
			put(t, y + 1, 0, t->cols, attr_of(t, role), st + cut);
		} else {
			put(t, y, 0, t->cols, attr_of(t, role), st);
		}
		return;
	}
	const struct editor *ed = t->ed;
	int n = outline_current(&t->ol);
	if (n < 0)
		return;
	const char *p = outline_path(&t->ol, n);
	char pos[64];
	snprintf(pos, sizeof pos, " %d/%d", t->ol.cursor + 1, t->ol.nrows);
	int pw = text_width(pos);
	put(t, y, 0, t->cols - pw, attr_of(t, ROLE_STATUS), *p ? p : ed->model->name);
	put(t, y, t->cols - pw, pw, attr_of(t, ROLE_HINT), pos);
}

static void draw_hints(struct tui *t)
{
	static const char *const hints[][2] = {
	    {"?", "help"},   {":", "command"}, {"r", "replace"}, {"i", "details"},
	    {"/", "search"}, {"u", "undo"},    {"s", "save"},    {"q", "quit"},
	};
	int x = 0, y = t->bottom_y;
	for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
		int w = text_width(hints[i][0]) + 1 + text_width(hints[i][1]) + 2;
		if (x + w > t->cols)
			break;
		x += put(t, y, x, t->cols - x, attr_of(t, ROLE_HINT_KEY), hints[i][0]);
		x += put(t, y, x, t->cols - x, attr_of(t, ROLE_HINT), " ");
		x += put(t, y, x, t->cols - x, attr_of(t, ROLE_HINT), hints[i][1]);
		x += 2;
	}
}

static void draw_matches(struct tui *t)
{
	if (!t->nmatches)
		return;
	int w = 0;
	for (int i = 0; i < t->nmatches; i++) {
		int l = text_width(t->matches[i]);
		w = l > w ? l : w;
	}
	w += 2;
	int per = t->cols / (w > 0 ? w : 1);
	per = per < 1 ? 1 : per;
	int lines = (t->nmatches + per - 1) / per;
	int maxl = t->status_y - t->outline_y;
	maxl = maxl > 8 ? 8 : maxl < 1 ? 1 : maxl;
	bool more = lines > maxl;
	if (more)
		lines = maxl;
	int y0 = t->status_y - lines;
	attr_t a = attr_of(t, ROLE_PANE_TITLE);
	for (int l = 0; l < lines; l++) {
		fill(t, y0 + l, 0, t->cols, a);
		for (int c = 0; c < per; c++) {
			int i = l * per + c;
			if (i >= t->nmatches)
				break;
			if (more && l == lines - 1 && c == per - 1) {
				char s[64];
				snprintf(s, sizeof s, "(%d more)", t->nmatches - i);
				put(t, y0 + l, c * w, w, a, s);
				break;
			}
			put(t, y0 + l, c * w, w - 1, a, t->matches[i]);
		}
	}
}

static void draw_prompt(struct tui *t)
{
	const char *prompt, *line;
	int point;
	tui_rl_view(&prompt, &line, &point);
	int y = t->bottom_y;
	int pw = text_width(prompt);
	char *before = xstrndup(line, (size_t)point);
	int cur = text_width(before);
	free(before);
	int avail = t->cols - pw - 1;
	int skip = cur > avail ? cur - avail : 0;
	put(t, y, 0, t->cols, attr_of(t, ROLE_PROMPT), prompt);
	const char *shown = line + cols_bytes(line, skip);
	put(t, y, pw, t->cols - pw, attr_of(t, ROLE_NORMAL), shown);
	move(y, pw + cur - skip);
}

void tui_draw(struct tui *t)
{
	erase();
	attrset(A_NORMAL);
	if (t->state == TUI_HELP) {
		draw_help(t);
	} else {
		if (t->outline_y >= 1)
			draw_header(t);
		draw_outline(t);
		draw_pane(t);
		draw_status(t);
		if (t->state == TUI_PROMPT) {
			draw_matches(t);
		} else if (t->state == TUI_CONFIRM) {
			put(t, t->bottom_y, 0, t->cols, attr_of(t, ROLE_ERROR),
			    "Unsaved changes. Quit without saving? y: quit  s: save, then quit  n: "
			    "stay");
		} else {
			draw_hints(t);
		}
	}
	attrset(A_NORMAL);
	if (t->state == TUI_PROMPT) {
		draw_prompt(t);
		curs_set(1);
	} else {
		move(t->bottom_y, 0);
		curs_set(0);
	}
	if (t->headless)
		wnoutrefresh(stdscr);
	else
		refresh();
}

int tui_dump_screen(struct tui *t, const char *path)
{
	tui_layout(t);
	tui_draw(t);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int cy, cx;
	getyx(stdscr, cy, cx);
	char *line = xmalloc((size_t)t->cols * MB_LEN_MAX + 1);
	for (int y = 0; y < t->rows; y++) {
		size_t len = 0, keep = 0;
		for (int x = 0; x < t->cols; x++) {
			cchar_t cc;
			wchar_t wch[CCHARW_MAX + 1] = {0};
			attr_t a;
			short pair;
			if (mvin_wch(y, x, &cc) == ERR)
				break;
			getcchar(&cc, wch, &a, &pair, NULL);
			mbstate_t st;
			memset(&st, 0, sizeof st);
			size_t n = wch[0] ? wcrtomb(line + len, wch[0], &st) : (size_t)-1;
			if (n == (size_t)-1) {
				line[len] = wch[0] ? '?' : ' ';
				n = 1;
			}
			len += n;
			if (!(n == 1 && line[len - 1] == ' '))
				keep = len;
			if (wch[0] && wcwidth(wch[0]) == 2)
				x++;
		}
		line[keep] = '\0';
		fprintf(f, "%s\n", line);
	}
	free(line);
	move(cy, cx);
	return fclose(f) == 0 ? 0 : -1;
}
