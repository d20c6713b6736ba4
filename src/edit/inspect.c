/* inspect.c - the editor's read-only views: show, find and diff. */
#include "edit/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "edit/edit_ops.h"
#include "view/diff_write.h"

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
	if (m->forward) {
		strbuf_add(out, "  forward:\n");
		inspect_forward(m, shape_format, out);
	}
	(void)ed;
}

void inspect_forward(const struct module *m, shape_format_fn format_shape, struct strbuf *out)
{
	const struct graph *g = m->forward;
	bool stopped = false;
	for (int i = 0; g && i < g->n; i++) {
		const struct graph_node *nd = &g->nodes[i];
		char what[300];
		switch (nd->op) {
		case NODE_PLACEHOLDER:
			snprintf(what, sizeof what, "input %s", nd->target);
			break;
		case NODE_CALL_FUNCTION:
			snprintf(what, sizeof what, "%s()", nd->target);
			break;
		case NODE_CALL_METHOD:
			snprintf(what, sizeof what, ".%s()", nd->target);
			break;
		case NODE_GET_ATTR:
			snprintf(what, sizeof what, "tensor %s", nd->target);
			break;
		case NODE_CALL_MODULE:
		case NODE_OUTPUT:
			snprintf(what, sizeof what, "%s", nd->target);
			break;
		}
		strbuf_addf(out, "  %-20s %-24s ", nd->name, what);
		if (nd->out.kind != VAL_NONE || (m->ncalls && !m->broken)) {
			value_format_shapes(&nd->out, format_shape, out);
		} else if (m->broken && !stopped) {
			strbuf_add(out, "<- the shape break");
			stopped = true;
		} else {
			strbuf_add(out, "--");
		}
		strbuf_add(out, "\n");
	}
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

/* The modules of the edited model and of the model as opened, each matched
 * with its counterpart: by id first (editor_init numbers the modules in
 * preorder, and clones keep the numbers, so a module moved or renamed by an
 * edit is still found), then a module new to the tree with an unmatched
 * original at its path (the module a replace put there). */
struct diff {
	const struct module **now, **orig; /* preorder */
	int nnow, norig;
	int *now_parent;              /* index in now of each one's parent, or -1 */
	int *match_now, *match_orig;  /* the counterpart's index, or -1 */
	bool *keeps_now, *keeps_orig; /* the subtree holds a matched module */
	struct strbuf *out;
	int count;
};

static void diff_collect(const struct module *m, int parent, const struct module ***v,
			 int **parents, int *n, int *cap)
{
	int cap2 = *cap;
	xgrow(v, cap, *n + 1, sizeof **v);
	xgrow(parents, &cap2, *n + 1, sizeof **parents);
	int me = (*n)++;
	(*v)[me] = m;
	(*parents)[me] = parent;
	for (int i = 0; i < m->nchildren; i++)
		diff_collect(m->children[i], me, v, parents, n, cap);
}

static void diff_link(struct diff *d, int j, int i)
{
	d->match_now[j] = i;
	d->match_orig[i] = j;
}

/* The original's index of a module of the original tree, or -1. */
static int orig_index(const struct diff *d, const struct module *o)
{
	return o && o->id >= 1 && o->id <= d->norig && d->orig[o->id - 1] == o ? o->id - 1 : -1;
}

static void diff_match(struct diff *d, const struct module *orig_root, int *orig_parent)
{
	d->match_now = xmalloc((size_t)d->nnow * sizeof *d->match_now);
	d->match_orig = xmalloc((size_t)d->norig * sizeof *d->match_orig);
	memset(d->match_now, 0xff, (size_t)d->nnow * sizeof *d->match_now);
	memset(d->match_orig, 0xff, (size_t)d->norig * sizeof *d->match_orig);
	for (int j = 0; j < d->nnow; j++) {
		int id = d->now[j]->id;
		if (id >= 1 && id <= d->norig && d->orig[id - 1]->id == id &&
		    d->match_orig[id - 1] < 0)
			diff_link(d, j, id - 1);
	}
	for (int j = 0; j < d->nnow; j++) {
		if (d->match_now[j] >= 0)
			continue;
		char path[4096];
		module_path_buf(d->now[j], path, sizeof path);
		int i = orig_index(d, module_find(orig_root, path));
		if (i >= 0 && d->match_orig[i] < 0)
			diff_link(d, j, i);
	}
	d->keeps_now = xcalloc((size_t)d->nnow, sizeof *d->keeps_now);
	d->keeps_orig = xcalloc((size_t)d->norig, sizeof *d->keeps_orig);
	for (int j = d->nnow - 1; j > 0; j--)
		if (d->match_now[j] >= 0 || d->keeps_now[j])
			d->keeps_now[d->now_parent[j]] = true;
	for (int i = d->norig - 1; i > 0; i--)
		if (d->match_orig[i] >= 0 || d->keeps_orig[i])
			d->keeps_orig[orig_parent[i]] = true;
}

static void diff_say(struct diff *d, char mark, const struct module *m, const char *what)
{
	char path[4096], desc[256];
	module_path_buf(m, path, sizeof path);
	registry_describe(m, desc, sizeof desc);
	strbuf_addf(d->out, "%c %s: %s%s\n", mark, path[0] ? path : "(root)", what, desc);
	d->count++;
}

/* Reports module j of the edited tree and its subtree: added (+), moved or
 * renamed (>), changed (~). Returns the index after its subtree. */
static int report_now(struct diff *d, int j)
{
	const struct module *c = d->now[j];
	int end = j + module_count_nodes(c), i = d->match_now[j];
	if (i < 0) {
		diff_say(d, '+', c, "");
		if (!d->keeps_now[j])
			return end;
	} else {
		const struct module *o = d->orig[i];
		int p = d->now_parent[j];
		bool in_place = p < 0 ? i == 0
				      : d->match_now[p] >= 0 && d->orig[d->match_now[p]] == o->parent &&
						strcmp(c->name, o->name) == 0;
		if (!in_place) {
			char from[4096], to[4096];
			module_path_buf(o, from, sizeof from);
			module_path_buf(c, to, sizeof to);
			strbuf_addf(d->out, "> %s: now %s\n", from[0] ? from : "(root)",
				    to[0] ? to : "(root)");
			d->count++;
		}
		bool retyped = strcmp(o->type, c->type) != 0;
		if (retyped || !module_same_attrs(o, c)) {
			char od[256], what[300];
			registry_describe(o, od, sizeof od);
			snprintf(what, sizeof what, "%s -> ", od);
			diff_say(d, '~', c, what);
		}
		if (retyped)
			return end; /* a new module of another type: its insides are new */
	}
	for (int k = j + 1; k < end;)
		k = report_now(d, k);
	return end;
}

/* Reports module i of the original tree and its subtree if removed (-).
 * Returns the index after its subtree. */
static int report_orig(struct diff *d, int i)
{
	const struct module *o = d->orig[i];
	int end = i + module_count_nodes(o), j = d->match_orig[i];
	if (j < 0) {
		diff_say(d, '-', o, "");
		if (!d->keeps_orig[i])
			return end;
	} else if (strcmp(o->type, d->now[j]->type) != 0) {
		return end; /* reported as changed */
	}
	for (int k = i + 1; k < end;)
		k = report_orig(d, k);
	return end;
}

/* Appends the modules added, moved, changed and removed; returns how many. */
static int diff_modules(const struct editor *ed, struct strbuf *out)
{
	struct diff d = {.out = out};
	int *orig_parent = NULL, cap = 0;
	diff_collect(ed->model->root, -1, &d.now, &d.now_parent, &d.nnow, &cap);
	cap = 0;
	diff_collect(ed->original->root, -1, &d.orig, &orig_parent, &d.norig, &cap);
	diff_match(&d, ed->original->root, orig_parent);
	report_now(&d, 0);
	report_orig(&d, 0);
	free(d.now);
	free(d.orig);
	free(d.now_parent);
	free(orig_parent);
	free(d.match_now);
	free(d.match_orig);
	free(d.keeps_now);
	free(d.keeps_orig);
	return d.count;
}

void inspect_diff(const struct editor *ed, struct strbuf *out)
{
	if (diff_modules(ed, out) == 0)
		strbuf_add(out, "no module changed\n");
	/* the totals as `graft diff` gives them; the modules were reported
	 * above by identity, and no tensor is compared */
	struct model_diff d;
	model_diff_totals(ed->original, ed->model, &d);
	diff_totals(&d, out);
	model_diff_free(&d);
}
