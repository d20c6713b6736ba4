/* inspect.c - the editor's read-only views: show, find and diff. */
#include "edit/inspect.h"

#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "edit/edit_ops.h"

void inspect_show(const struct editor *ed, const struct module *m, struct strbuf *out)
{
	char path[4096], d[256], buf[64];
	module_path_buf(m, path, sizeof path);
	registry_describe(m, d, sizeof d);
	strbuf_addf(out, "%s: %s\n", path[0] ? path : "(root)", d);
	if (m->nattrs) {
		strbuf_add(out, "  ");
		for (int i = 0; i < m->nattrs; i++) {
			char v[256];
			value_format(&m->attrs[i].value, v, sizeof v);
			strbuf_addf(out, "%s%s=%s", i ? ", " : "", m->attrs[i].name, v);
		}
		strbuf_add(out, "\n");
	}
	for (int i = 0; i < m->nparams; i++) {
		const struct param *p = &m->params[i];
		char s[160];
		strbuf_addf(out, "  %-24s %-20s %-8s %12s  %s%s\n", p->name,
			    shape_format(&p->t.shape, s, sizeof s), dtype_name(p->t.dtype),
			    fmt_count(shape_numel(&p->t.shape), buf, sizeof buf),
			    p->buffer ? "buffer" : p->trainable ? "trainable" : "frozen",
			    p->t.storage ? "" : " (no values)");
	}
	struct param_counts pc;
	module_count(m, &pc);
	strbuf_addf(out, "  parameters: %s", fmt_count(pc.params, buf, sizeof buf));
	strbuf_addf(out, " (trainable %s)", fmt_count(pc.trainable, buf, sizeof buf));
	if (m->nchildren)
		strbuf_addf(out, ", %d children", m->nchildren);
	strbuf_add(out, "\n");
	for (int i = 0; i < m->ncalls; i++) {
		strbuf_addf(out, "  call %d: ", i + 1);
		value_format_shapes(&m->calls[i].in, shape_format, out);
		strbuf_add(out, " -> ");
		value_format_shapes(&m->calls[i].out, shape_format, out);
		strbuf_addf(out, ", %s mult-adds\n",
			    fmt_compact((double)m->calls[i].macs, buf, sizeof buf));
	}
	if (!m->ncalls)
		strbuf_add(out, m->broken ? "  the shape break is here\n"
					  : "  not reached by the last shape pass\n");
	(void)ed;
}

int inspect_find(struct editor *ed, const char *pattern, struct strbuf *out, struct error *e)
{
	struct module **mods;
	int n = edit_select_say(ed, pattern, &mods, out, e);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[4096], d[256];
		module_path_buf(mods[i], path, sizeof path);
		registry_describe(mods[i], d, sizeof d);
		strbuf_addf(out, "%-40s %-36s ", path[0] ? path : "(root)", d);
		if (mods[i]->ncalls)
			value_format_shapes(&mods[i]->calls[0].out, shape_format, out);
		strbuf_add(out, "\n");
	}
	strbuf_addf(out, "%d module%s\n", n, n == 1 ? "" : "s");
	free(mods);
	return 0;
}

struct diff_ctx {
	const struct module *other;
	struct strbuf *out;
	char mark;
	int count;
};

/* Walks `m` reporting what `other` lacks (added or removed), and, on the
 * added side, modules whose type or attributes changed. */
static void diff_walk(const struct module *m, struct diff_ctx *c, bool report_changes)
{
	for (int i = 0; i < m->nchildren; i++) {
		const struct module *ch = m->children[i];
		char path[4096], d[256];
		module_path_buf(ch, path, sizeof path);
		const struct module *o = module_find(c->other, path);
		registry_describe(ch, d, sizeof d);
		if (!o) {
			strbuf_addf(c->out, "%c %s: %s\n", c->mark, path, d);
			c->count++;
			continue;
		}
		if (report_changes && strcmp(o->type, ch->type) != 0) {
			char od[256];
			registry_describe(o, od, sizeof od);
			strbuf_addf(c->out, "~ %s: %s -> %s\n", path, od, d);
			c->count++;
			continue;
		}
		if (report_changes && !module_same_attrs(o, ch)) {
			char od[256];
			registry_describe(o, od, sizeof od);
			strbuf_addf(c->out, "~ %s: %s -> %s\n", path, od, d);
			c->count++;
		}
		if (report_changes || strcmp(o->type, ch->type) == 0)
			diff_walk(ch, c, report_changes);
	}
}

void inspect_diff(const struct editor *ed, struct strbuf *out)
{
	struct diff_ctx add = {.other = ed->original->root, .out = out, .mark = '+'};
	diff_walk(ed->model->root, &add, true);
	struct diff_ctx rem = {.other = ed->model->root, .out = out, .mark = '-'};
	diff_walk(ed->original->root, &rem, false);
	struct param_counts a, b;
	module_count(ed->original->root, &a);
	module_count(ed->model->root, &b);
	char x[32], y[32], z[32];
	if (add.count + rem.count == 0)
		strbuf_add(out, "no module changed\n");
	strbuf_addf(out, "parameters: %s -> %s (%s%s)", fmt_count(a.params, x, sizeof x),
		    fmt_count(b.params, y, sizeof y), b.params >= a.params ? "+" : "",
		    fmt_count(b.params - a.params, z, sizeof z));
	strbuf_addf(out, ", trainable %s -> %s\n", fmt_count(a.trainable, x, sizeof x),
		    fmt_count(b.trainable, y, sizeof y));
	for (int i = 0; i < ed->model->ninputs && i < ed->original->ninputs; i++) {
		if (!shape_equal(&ed->model->inputs[i].shape, &ed->original->inputs[i].shape)) {
			char s1[160], s2[160];
			strbuf_addf(out, "input %s: %s -> %s\n", ed->model->inputs[i].name,
				    shape_format_x(&ed->original->inputs[i].shape, s1, sizeof s1),
				    shape_format_x(&ed->model->inputs[i].shape, s2, sizeof s2));
		}
	}
}
