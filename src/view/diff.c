/* diff.c - what differs between two models (diff.h). */
#include "view/diff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define PATH_MAX_LEN 4096

static void add_module(struct model_diff *d, int *cap, enum diff_change change,
                       const char *path, const struct module *a, const struct module *b)
{
	xgrow(&d->modules, cap, d->nmodules + 1, sizeof *d->modules);
	d->modules[d->nmodules++] = (struct diff_module){change, xstrdup(path), a, b};
	d->nchanges[change]++;
}

/* Walks b's subtree under m: modules a lacks, and those whose type or
 * attributes changed. A new or retyped module is one entry; its subtree is
 * not walked. */
static void walk_new(struct model_diff *d, int *cap, const struct module *m)
{
	for (int i = 0; i < m->nchildren; i++) {
		const struct module *ch = m->children[i];
		char path[PATH_MAX_LEN];
		module_path_buf(ch, path, sizeof path);
		const struct module *o = module_find(d->a->root, path);
		if (!o) {
			add_module(d, cap, DIFF_ADDED, path, NULL, ch);
			continue;
		}
		if (strcmp(o->type, ch->type) != 0) {
			add_module(d, cap, DIFF_TYPE, path, o, ch);
			continue;
		}
		if (!module_same_attrs(o, ch))
			add_module(d, cap, DIFF_ATTRS, path, o, ch);
		walk_new(d, cap, ch);
	}
}

/* Walks a's subtree under m: modules b lacks (not below a retyped module). */
static void walk_old(struct model_diff *d, int *cap, const struct module *m)
{
	for (int i = 0; i < m->nchildren; i++) {
		const struct module *ch = m->children[i];
		char path[PATH_MAX_LEN];
		module_path_buf(ch, path, sizeof path);
		const struct module *o = module_find(d->b->root, path);
		if (!o)
			add_module(d, cap, DIFF_REMOVED, path, ch, NULL);
		else if (strcmp(o->type, ch->type) == 0)
			walk_old(d, cap, ch);
	}
}

static bool same_value(double x, double y)
{
	return x == y || (isnan(x) && isnan(y));
}

/* Compares the values of two tensors of one shape into t. */
static void compare_values(const struct tensor *a, const struct tensor *b, struct diff_tensor *t)
{
	if (a->dtype == b->dtype && (tensor_data(a) == tensor_data(b) || memcmp(tensor_data(a), tensor_data(b), tensor_nbytes(a)) == 0)) {
		t->state = DIFF_T_SAME;
		return;
	}
	int64_t n = shape_numel(&a->shape);
	for (int64_t i = 0; i < n; i++) {
		double x = tensor_get(a, i), y = tensor_get(b, i);
		if (same_value(x, y))
			continue;
		t->nchanged++;
		double diff = isnan(x) || isnan(y) ? INFINITY : fabs(x - y);
		if (diff > t->max_abs || isnan(t->max_abs))
			t->max_abs = diff;
	}
	t->state = t->nchanged || a->dtype != b->dtype ? DIFF_T_VALUES : DIFF_T_SAME;
}

static enum diff_tensor_state tensor_state(const struct param *a, const struct param *b,
                                           struct diff_tensor *t)
{
	if (!a)
		return DIFF_T_ONLY_B;
	if (!b)
		return DIFF_T_ONLY_A;
	if (!shape_equal(&a->t.shape, &b->t.shape))
		return DIFF_T_SHAPE;
	if (!tensor_data(&a->t) || !tensor_data(&b->t))
		return a->t.dtype == b->t.dtype ? DIFF_T_UNCOMPARED : DIFF_T_VALUES;
	compare_values(&a->t, &b->t, t);
	return t->state;
}

struct tensor_walk {
	struct model_diff *d;
	int cap;
	const struct model *other;
	bool from_a; /* walking a (every tensor) or b (those a lacks) */
};

static void walk_tensors(struct tensor_walk *w, const struct module *m, bool changed)
{
	char path[PATH_MAX_LEN];
	module_path_buf(m, path, sizeof path);
	const struct module *o = module_find(w->other->root, path);
	changed = changed || !o || strcmp(o->type, m->type) != 0;
	for (int i = 0; i < m->nparams; i++) {
		const struct param *p = &m->params[i];
		const struct param *op = o ? module_param(o, p->name) : NULL;
		if (!w->from_a && op)
			continue;
		struct model_diff *d = w->d;
		xgrow(&d->tensors, &w->cap, d->ntensors + 1, sizeof *d->tensors);
		struct diff_tensor *t = &d->tensors[d->ntensors++];
		char key[PATH_MAX_LEN];
		*t = (struct diff_tensor){.key = xstrdup(module_param_path(m, p->name, key, sizeof key)),
		                          .a = w->from_a ? p : op,
		                          .b = w->from_a ? op : p,
		                          .module_changed = changed};
		t->state = tensor_state(t->a, t->b, t);
		d->nstates[t->state]++;
	}
	for (int i = 0; i < m->nchildren; i++)
		walk_tensors(w, m->children[i], changed);
}

static void add_input(struct model_diff *d, const char *name, const struct shape *a,
                      const struct shape *b)
{
	d->inputs = xrealloc(d->inputs, (size_t)(d->ninputs + 1) * sizeof *d->inputs);
	d->inputs[d->ninputs++] = (struct diff_input){name, a, b};
}

static void diff_inputs(struct model_diff *d)
{
	const struct model *a = d->a, *b = d->b;
	int n = a->ninputs > b->ninputs ? a->ninputs : b->ninputs;
	for (int i = 0; i < n; i++) {
		const struct model_input *x = i < a->ninputs ? &a->inputs[i] : NULL;
		const struct model_input *y = i < b->ninputs ? &b->inputs[i] : NULL;
		if (!x || !y || !shape_equal(&x->shape, &y->shape))
			add_input(d, (x ? x : y)->name, x ? &x->shape : NULL, y ? &y->shape : NULL);
	}
}

void model_diff_totals(const struct model *a, const struct model *b, struct model_diff *d)
{
	memset(d, 0, sizeof *d);
	d->a = a;
	d->b = b;
	diff_inputs(d);
	if (a->root)
		module_count(a->root, &d->counts_a);
	if (b->root)
		module_count(b->root, &d->counts_b);
}

void model_diff(const struct model *a, const struct model *b, struct model_diff *d)
{
	model_diff_totals(a, b, d);
	int cap = 0;
	if (a->root && b->root) {
		walk_new(d, &cap, b->root);
		walk_old(d, &cap, a->root);
	}
	struct tensor_walk wa = {d, 0, b, true};
	if (a->root)
		walk_tensors(&wa, a->root, !b->root);
	struct tensor_walk wb = {d, wa.cap, a, false};
	if (b->root)
		walk_tensors(&wb, b->root, !a->root);
}

void model_diff_free(struct model_diff *d)
{
	for (int i = 0; i < d->nmodules; i++)
		free(d->modules[i].path);
	for (int i = 0; i < d->ntensors; i++)
		free(d->tensors[i].key);
	free(d->modules);
	free(d->tensors);
	free(d->inputs);
	memset(d, 0, sizeof *d);
}

bool model_diff_same(const struct model_diff *d)
{
	return d->nmodules == 0 && d->ninputs == 0 &&
	       d->nstates[DIFF_T_SAME] + d->nstates[DIFF_T_UNCOMPARED] == d->ntensors;
}
