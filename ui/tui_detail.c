/* tui_detail.c - the text of the details pane: the selected module's
 * attributes, its tensors (with statistics and a histogram when they have
 * values), the shapes of its calls, and what changed since opening; and the
 * text of the help screen. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "edit/inspect.h"
#include "tui.h"

/* Statistics of a tensor's values; large tensors are sampled. */
#define STATS_EXACT_MAX ((int64_t)1 << 22)
#define STATS_SAMPLE    1000000
#define HIST_BINS       16

struct stats {
	int64_t n, nonfinite;
	bool sampled;
	double mean, std, min, max;
	int64_t hist[HIST_BINS];
};

static bool tensor_stats(const struct tensor *t, struct stats *s)
{
	memset(s, 0, sizeof *s);
	int64_t numel = shape_numel(&t->shape);
	if (!tensor_data(t) || numel <= 0)
		return false;
	int64_t step = 1;
	if (numel > STATS_EXACT_MAX) {
		step = numel / STATS_SAMPLE;
		s->sampled = true;
	}
	double sum = 0, sum2 = 0;
	s->min = INFINITY;
	s->max = -INFINITY;
	for (int64_t i = 0; i < numel; i += step) {
		double v = tensor_get(t, i);
		if (!isfinite(v)) {
			s->nonfinite++;
			continue;
		}
		s->n++;
		sum += v;
		sum2 += v * v;
		s->min = v < s->min ? v : s->min;
		s->max = v > s->max ? v : s->max;
	}
	if (!s->n)
		return true;
	s->mean = sum / (double)s->n;
	double var = sum2 / (double)s->n - s->mean * s->mean;
	s->std = var > 0 ? sqrt(var) : 0;
	double w = s->max - s->min;
	for (int64_t i = 0; i < numel; i += step) {
		double v = tensor_get(t, i);
		if (!isfinite(v))
			continue;
		int b = w > 0 ? (int)((v - s->min) / w * HIST_BINS) : HIST_BINS / 2;
		b = b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
		s->hist[b]++;
	}
	return true;
}

/* A histogram as one character a bin, scaled to the fullest bin. */
static void histogram(const struct tui *t, const struct stats *s, char *buf, size_t size)
{
	int64_t top = 0;
	for (int i = 0; i < HIST_BINS; i++)
		top = s->hist[i] > top ? s->hist[i] : top;
	size_t len = 0;
	buf[0] = '\0';
	for (int i = 0; i < HIST_BINS && top; i++) {
		const char *c = " ";
		if (s->hist[i]) {
			int level = (int)((double)s->hist[i] / (double)top * 7.999);
			c = t->g->spark[level < 0 ? 0 : level > 7 ? 7 : level];
		}
		len += (size_t)snprintf(buf + len, size - len, "%s", c);
		if (len >= size)
			break;
	}
}

/* Adds text wrapped at width, each line indented by `indent` spaces. */
static void add_wrapped(struct tui_text *tx, int role, const char *text, int width, int indent)
{
	int avail = width - indent;
	if (avail < 20)
		avail = 20;
	while (*text) {
		int len = (int)strlen(text);
		int cut = len;
		if (text_width(text) > avail) {
			cut = 0;
			for (int i = 0, cols = 0; text[i] && cols <= avail; i++) {
				if (((unsigned char)text[i] & 0xC0) != 0x80)
					cols++;
				if (cols <= avail && (text[i] == ' ' || text[i] == ','))
					cut = i + 1;
			}
			if (!cut)
				cut = avail;
		}
		tui_text_add(tx, role, "%*s%.*s", indent, "", cut, text);
		text += cut;
		while (*text == ' ')
			text++;
	}
}

static void tensors(struct tui *t, const struct module *m, int width)
{
	struct tui_text *tx = &t->detail;
	if (!m->nparams)
		return;
	tui_text_add(tx, ROLE_SECTION, "Tensors");
	for (int i = 0; i < m->nparams; i++) {
		const struct param *p = &m->params[i];
		char shape[160], count[32], line[600];
		shape_format_x(&p->t.shape, shape, sizeof shape);
		fmt_compact((double)shape_numel(&p->t.shape), count, sizeof count);
		int n = snprintf(line, sizeof line, "  %-20s %-16s %-8s %6s  %-9s", p->name, shape,
		                 dtype_name(p->t.dtype), count,
		                 p->buffer      ? "buffer"
		                 : p->trainable ? "trainable"
		                                : "frozen");
		struct stats s;
		if (!tensor_stats(&p->t, &s)) {
			snprintf(line + n, sizeof line - (size_t)n, "  (no values)");
			tui_text_add(tx, p->trainable || p->buffer ? ROLE_NORMAL : ROLE_FROZEN,
			             "%s", line);
			continue;
		}
		tui_text_add(tx, p->trainable || p->buffer ? ROLE_NORMAL : ROLE_FROZEN, "%s", line);
		char hist[HIST_BINS * 4 + 1];
		histogram(t, &s, hist, sizeof hist);
		n = snprintf(line, sizeof line, "    %smean %.4g  std %.4g  min %.4g  max %.4g",
		             s.sampled ? "~ " : "", s.mean, s.std, s.min, s.max);
		if (s.nonfinite)
			n += snprintf(line + n, sizeof line - (size_t)n, "  %lld not finite",
			              (long long)s.nonfinite);
		if (n + 4 + HIST_BINS <= width)
			snprintf(line + n, sizeof line - (size_t)n, "  %s", hist);
		tui_text_add(tx, ROLE_DIM, "%s", line);
		if (n + 4 + HIST_BINS > width)
			tui_text_add(tx, ROLE_DIM, "    %s", hist);
	}
}

/* A function node of a forward: what it calls, on what, and its shape. */
static void function_detail(struct tui *t, int row, int width)
{
	struct tui_text *tx = &t->detail;
	const struct graph_node *nd = outline_row_function(&t->ol, row);
	char buf[512];
	outline_function_type(nd, buf, sizeof buf);
	tui_text_add(tx, ROLE_TYPE, "%s()", buf);
	tui_text_add(tx, ROLE_SECTION, "Arguments");
	const struct graph *g = t->ol.nodes[t->ol.rows[row].node].m->forward;
	for (int i = 0; i < nd->nargs; i++) {
		/* an earlier node's value by that node's name */
		const struct value *a = &nd->args[i];
		if (a->kind == VAL_REF && a->u.ref >= 0 && a->u.ref < g->n)
			text_escape_buf(g->nodes[a->u.ref].name, buf, sizeof buf);
		else
			value_format(a, buf, sizeof buf);
		tui_text_add(tx, ROLE_NORMAL, "  %s", buf);
	}
	tui_text_add(tx, ROLE_SECTION, "Shape");
	if (outline_row_function_broken(&t->ol, row)) {
		struct strbuf sb = {0};
		strbuf_addf(&sb, "%s %s", t->g->bad, t->ed->check.err.msg);
		add_wrapped(tx, ROLE_BREAK, sb.s, width, 2);
		strbuf_free(&sb);
	} else {
		outline_function_shape(&t->ol, row, buf, sizeof buf);
		tui_text_add(tx, ROLE_NORMAL, "  out %s", buf);
	}
}

void tui_detail_update(struct tui *t, int width)
{
	int node = outline_current(&t->ol);
	int fn = node >= 0 ? t->ol.rows[t->ol.cursor].fn : -1;
	if (node == t->detail_node && fn == t->detail_fn && t->gen == t->detail_gen &&
	    width == t->detail_width)
		return;
	if (node != t->detail_node || fn != t->detail_fn)
		t->detail_top = 0;
	t->detail_node = node;
	t->detail_fn = fn;
	t->detail_gen = t->gen;
	t->detail_width = width;
	struct tui_text *tx = &t->detail;
	tui_text_clear(tx);
	if (node < 0)
		return;
	if (fn >= 0) {
		function_detail(t, t->ol.cursor, width);
		return;
	}
	const struct outline_node *n = &t->ol.nodes[node];
	const struct module *m = n->m;
	char type[300], buf[300];
	outline_node_type(n, type, sizeof type);
	tui_text_add(tx, ROLE_TYPE, "%s", type);
	if (m->def && m->def->doc)
		tui_text_add(tx, ROLE_DIM, "%s", m->def->doc);
	/* what opening the file found out: the zoo match, a stripped prefix */
	if (m == t->ed->model->root && t->ed->model->note)
		add_wrapped(tx, ROLE_DIM, t->ed->model->note, width, 0);

	/* change since opening */
	static const char *const what[] = {"", "new", "replaced", "changed", "removed"};
	if (n->change != OUTLINE_SAME) {
		int role = n->change == OUTLINE_NEW       ? ROLE_NEW
		           : n->change == OUTLINE_REMOVED ? ROLE_REMOVED
		                                          : ROLE_REPLACED;
		if (n->orig && n->change != OUTLINE_REMOVED) {
			struct outline_node on = {.m = n->orig};
			outline_node_type(&on, buf, sizeof buf);
			tui_text_add(tx, role, "%s since opening; was %s", what[n->change], buf);
		} else {
			tui_text_add(tx, role, "%s since opening", what[n->change]);
		}
	}

	/* attributes */
	if (m->nattrs) {
		struct strbuf sb = {0};
		for (int i = 0; i < m->nattrs; i++) {
			value_format(&m->attrs[i].value, buf, sizeof buf);
			strbuf_addf(&sb, "%s%s=%s", i ? ", " : "", m->attrs[i].name, buf);
		}
		add_wrapped(tx, ROLE_NORMAL, sb.s, width, 2);
		strbuf_free(&sb);
	}

	/* counts */
	char a[32], b[32];
	fmt_count(n->params, a, sizeof a);
	int len = snprintf(buf, sizeof buf, "%s parameters", a);
	if (n->frozen)
		len += snprintf(buf + len, sizeof buf - (size_t)len, " (%s frozen)",
		                fmt_count(n->frozen, b, sizeof b));
	if (m->nchildren)
		snprintf(buf + len, sizeof buf - (size_t)len, " in %d children", m->nchildren);
	tui_text_add(tx, ROLE_NORMAL, "%s", buf);

	if (n->change == OUTLINE_REMOVED)
		return;
	const char *config = t->ed->model->config;
	if (n->depth == 0 && config && *config) {
		tui_text_add(tx, ROLE_SECTION, "Config (config.json)");
		add_wrapped(tx, ROLE_NORMAL, config, width, 2);
	}
	tensors(t, m, width);

	/* shapes */
	tui_text_add(tx, ROLE_SECTION, "Shapes");
	for (int i = 0; i < m->ncalls; i++) {
		struct strbuf sb = {0};
		strbuf_add(&sb, "  in ");
		const struct value *in = &m->calls[i].in;
		if (in->kind == VAL_LIST && in->u.list.n == 1)
			in = &in->u.list.items[0];
		value_format_shapes(in, shape_format_x, &sb);
		if (m->broken && m->calls[i].out.kind == VAL_NONE) {
			tui_text_add(tx, ROLE_NORMAL, "%s", sb.s);
		} else {
			strbuf_addf(&sb, " %s out ", t->g->arrow);
			value_format_shapes(&m->calls[i].out, shape_format_x, &sb);
			strbuf_addf(&sb, "   %s mult-adds",
			            fmt_compact((double)m->calls[i].macs, a, sizeof a));
			tui_text_add(tx, ROLE_NORMAL, "%s", sb.s);
		}
		strbuf_free(&sb);
	}
	if (m->broken) {
		snprintf(buf, sizeof buf, "%s ", t->g->bad);
		struct strbuf sb = {0};
		strbuf_addf(&sb, "%s%s", buf, t->ed->check.err.msg);
		add_wrapped(tx, ROLE_BREAK, sb.s, width, 2);
		strbuf_free(&sb);
	} else if (!m->ncalls) {
		tui_text_add(tx, ROLE_DIM, "  %s",
		             !t->ed->model->has_forward ? "unknown: the model has no forward"
		             : t->ed->check.ok          ? "not called by the forward"
		             : n->broken_below          ? "unknown: the shapes break inside"
		                                        : "unknown: the shapes break before it");
	}
	if (m->forward) {
		tui_text_add(tx, ROLE_SECTION, "Forward");
		struct strbuf sb = {0};
		inspect_forward(m, shape_format_x, &sb);
		for (char *line = sb.s, *nl; line && *line; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			tui_text_add(tx, ROLE_NORMAL, "%s", line);
		}
		strbuf_free(&sb);
	}
	tui_stats_add(t, m, outline_path(&t->ol, node), width);
	tui_drift_add(t, m, outline_path(&t->ol, node));
}

/* The help screen, from the tables the keys and commands come from. */
void tui_help_build(struct tui *t)
{
	static const char *const action_names[] = {
#define TUI_ACTION_NAME(id, name, section, help) name,
	    TUI_ACTIONS(TUI_ACTION_NAME)
#undef TUI_ACTION_NAME
	};
	static const char *const action_sections[] = {
#define TUI_ACTION_SECTION(id, name, section, help) section,
	    TUI_ACTIONS(TUI_ACTION_SECTION)
#undef TUI_ACTION_SECTION
	};
	static const char *const action_help[] = {
#define TUI_ACTION_HELP(id, name, section, help) help,
	    TUI_ACTIONS(TUI_ACTION_HELP)
#undef TUI_ACTION_HELP
	};
	static const struct {
		int action;
		const char *label;
	} binds[] = {
#define TUI_BIND_LABEL(key, label, action) {ACT_##action, label},
	    TUI_BINDINGS(TUI_BIND_LABEL)
#undef TUI_BIND_LABEL
	};
	struct tui_text *h = &t->help;
	tui_text_clear(h);
	tui_text_add(h, ROLE_SECTION, "graft %s: keys and commands", PACKAGE_VERSION);
	tui_text_add(h, ROLE_HINT, "j/k, PgUp/PgDn scroll; q, Esc or ? go back");
	const char *section = "";
	for (int a = 0; a < ACT_COUNT; a++) {
		if (strcmp(section, action_sections[a]) != 0) {
			section = action_sections[a];
			tui_text_add(h, ROLE_NORMAL, "%s", "");
			tui_text_add(h, ROLE_SECTION, "%s", section);
		}
		char keys[64] = "";
		size_t len = 0;
		for (size_t b = 0; b < sizeof binds / sizeof binds[0]; b++)
			if (binds[b].action == a && binds[b].label && len + 8 < sizeof keys)
				len += (size_t)snprintf(keys + len, sizeof keys - len, "%s%s",
				                        len ? " " : "", binds[b].label);
		tui_text_add(h, ROLE_NORMAL, "  %-16s %-14s %s", keys, action_names[a],
		             action_help[a]);
	}
	tui_text_add(h, ROLE_NORMAL, "%s", "");
	tui_text_add(h, ROLE_SECTION, "Mouse");
	tui_text_add(h, ROLE_NORMAL,
	             "  A click selects a row; a click on the selected row expands or "
	             "collapses it; the wheel scrolls.");
	tui_text_add(h, ROLE_NORMAL, "%s", "");
	tui_text_add(h, ROLE_SECTION,
	             "Commands (after ':'; Tab completes; 'help COMMAND' explains one)");
	struct strbuf out = {0};
	struct error e = {0};
	editor_run(t->ed, "help", &out, &e);
	tui_text_add_lines(h, ROLE_NORMAL, out.s);
	strbuf_free(&out);
	for (int i = 0; tui_command_spec(i); i++) {
		const struct cmd_spec *c = tui_command_spec(i);
		struct strbuf usage = {0};
		if (c->alias)
			strbuf_addf(&usage, "%s, %s", c->name, c->alias);
		else
			cmd_usage(c, &usage);
		tui_text_add(h, ROLE_NORMAL, "  %-17s %s", usage.s, c->help);
		strbuf_free(&usage);
	}
	tui_text_add(h, ROLE_NORMAL,
	             "  ACTION            any action above by its name: 'expand-all'");
	tui_text_add(h, ROLE_NORMAL,
	             "  A command with {} runs once for each marked module (or the "
	             "selected one) with {} replaced by its path.");
	tui_text_add(h, ROLE_NORMAL, "%s", "");
	tui_text_add(h, ROLE_SECTION, "Marks in the outline");
	tui_text_add(h, ROLE_NORMAL,
	             "  + new   ~ replaced or changed   - removed (since the model was "
	             "opened)   * marked");
	tui_text_add(h, ROLE_NORMAL,
	             "  A red row is where the shapes break; rows after it show ? "
	             "(shape unknown).");
	t->help_top = 0;
}
