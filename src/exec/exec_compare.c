/* exec_compare.c - one input through two models, and the drift between
 * their outputs (exec_compare.h). */
#include "exec/exec_compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* What a's module outputs may take in memory; beyond it they are skipped. */
#define KEEP_BYTES ((size_t)2 << 30)

void drift_compute(const float *a, const float *b, int64_t n, struct drift *d)
{
	double max_abs = 0, dot = 0, na = 0, nb = 0;
	for (int64_t i = 0; i < n; i++) {
		double x = a[i], y = b[i];
		if (isnan(x) || isnan(y)) {
			if (isnan(x) != isnan(y))
				max_abs = INFINITY;
			continue;
		}
		double diff = fabs(x - y);
		if (diff > max_abs || isnan(diff))
			max_abs = diff;
		dot += x * y;
		na += x * x;
		nb += y * y;
	}
	d->max_abs = max_abs;
	/* equal vectors are exactly 1 apart, whatever the rounding of the sums */
	if (max_abs == 0)
		d->cosine = 1;
	else if (na == 0 || nb == 0)
		d->cosine = 0;
	else
		d->cosine = fmax(-1, fmin(1, dot / (sqrt(na) * sqrt(nb))));
}

/* One output of a module call of a, kept to compare b's with. */
struct kept {
	char *path;
	const struct module *module;
	int call, output;
	struct shape shape;
	float *x;
};

struct compare_run {
	const struct model *other; /* b, while a runs */
	struct kept *kept;
	int nkept, kept_cap, cursor;
	size_t kept_bytes;
	struct compare_result *r;
	int modules_cap;
};

static void keep_output(void *ctx, const struct exec_stat *st, const float *x)
{
	struct compare_run *c = ctx;
	char path[4096];
	module_path_buf(st->module, path, sizeof path);
	if (!module_find(c->other->root, path))
		return;
	size_t bytes = (size_t)st->count * sizeof *x;
	float *copy = c->kept_bytes + bytes <= KEEP_BYTES ? malloc(bytes ? bytes : 1) : NULL;
	if (!copy) {
		c->r->nskipped++;
		return;
	}
	memcpy(copy, x, bytes);
	c->kept_bytes += bytes;
	xgrow(&c->kept, &c->kept_cap, c->nkept + 1, sizeof *c->kept);
	c->kept[c->nkept++] = (struct kept){xstrdup(path), st->module, st->call, st->output,
	                                    st->shape, copy};
}

/* a's output at the same path, call and index; searched from the last
 * match on, as both models mostly run in the same order. */
static const struct kept *find_kept(struct compare_run *c, const char *path,
                                    const struct exec_stat *st)
{
	for (int k = 0; k < c->nkept; k++) {
		int i = (c->cursor + k) % c->nkept;
		const struct kept *o = &c->kept[i];
		if (o->call == st->call && o->output == st->output && strcmp(o->path, path) == 0) {
			c->cursor = i + 1;
			return o;
		}
	}
	return NULL;
}

static void match_output(void *ctx, const struct exec_stat *st, const float *x)
{
	struct compare_run *c = ctx;
	char path[4096];
	module_path_buf(st->module, path, sizeof path);
	const struct kept *o = find_kept(c, path, st);
	struct compare_result *r = c->r;
	if (!o || !shape_equal(&o->shape, &st->shape)) {
		r->nunmatched++;
		return;
	}
	xgrow(&r->modules, &c->modules_cap, r->nmodules + 1, sizeof *r->modules);
	struct compare_module *cm = &r->modules[r->nmodules++];
	*cm = (struct compare_module){
	    .a = o->module, .b = st->module, .call = st->call, .output = st->output, .shape = st->shape};
	drift_compute(o->x, x, st->count, &cm->drift);
}

/* Rows of the last dimension whose largest value is at the same index. */
static int64_t top1_agreement(const float *a, const float *b, int64_t rows, int64_t len)
{
	int64_t agree = 0;
	for (int64_t r = 0; r < rows; r++) {
		const float *x = a + r * len, *y = b + r * len;
		int64_t ia = 0, ib = 0;
		for (int64_t i = 1; i < len; i++) {
			if (x[i] > x[ia])
				ia = i;
			if (y[i] > y[ib])
				ib = i;
		}
		agree += ia == ib;
	}
	return agree;
}

static void compare_outputs(const struct value *va, const struct value *vb,
                            struct compare_result *r)
{
	const struct tensor *ta[64], *tb[64];
	int na = value_tensors(va, ta, 64), nb = value_tensors(vb, tb, 64);
	r->noutputs = na > nb ? na : nb;
	r->outputs = xcalloc((size_t)(r->noutputs ? r->noutputs : 1), sizeof *r->outputs);
	for (int i = 0; i < r->noutputs; i++) {
		struct compare_output *o = &r->outputs[i];
		o->a.ndim = o->b.ndim = -1;
		if (i < na)
			o->a = ta[i]->shape;
		if (i < nb)
			o->b = tb[i]->shape;
		o->compared = i < na && i < nb && shape_equal(&o->a, &o->b);
		if (!o->compared)
			continue;
		int64_t n = shape_numel(&o->a);
		const float *x = tensor_data(ta[i]), *y = tensor_data(tb[i]);
		drift_compute(x, y, n, &o->drift);
		int64_t len = o->a.ndim ? o->a.dim[o->a.ndim - 1] : 1;
		o->rows = len ? n / len : 0;
		o->top1_agree = top1_agreement(x, y, o->rows, len);
	}
}

/* Plans and runs m once with every module output handed to fn. */
static int run_observed(struct model *m, const struct tensor *inputs, int ninputs,
                        void (*fn)(void *, const struct exec_stat *, const float *),
                        struct compare_run *c, struct value *out, struct error *e)
{
	struct shape *shapes = xcalloc((size_t)(ninputs ? ninputs : 1), sizeof *shapes);
	for (int i = 0; i < ninputs; i++)
		shapes[i] = inputs[i].shape;
	struct exec_opts opts = {.stats = true, .on_output = fn, .on_output_ctx = c};
	int rc = -1;
	if (ninputs != m->ninputs) {
		error_setk(e, ERR_INPUT, "it takes %d input%s, not %d", m->ninputs,
		           m->ninputs == 1 ? "" : "s", ninputs);
	} else {
		struct exec_plan *p = exec_plan_new(m, shapes, &opts, e);
		rc = p ? exec_run(p, inputs, ninputs, out, e) : -1;
		exec_plan_free(p);
	}
	free(shapes);
	if (rc < 0)
		error_prefix(e, "%s", m->path ? m->path : m->name);
	return rc;
}

int exec_compare(struct model *a, struct model *b, const struct tensor *inputs, int ninputs,
                 struct compare_result *r, struct error *e)
{
	memset(r, 0, sizeof *r);
	struct compare_run c = {.other = b, .r = r};
	struct value out_a = value_none(), out_b = value_none();
	int rc = run_observed(a, inputs, ninputs, keep_output, &c, &out_a, e);
	if (rc == 0)
		rc = run_observed(b, inputs, ninputs, match_output, &c, &out_b, e);
	if (rc == 0)
		compare_outputs(&out_a, &out_b, r);
	value_free(&out_a);
	value_free(&out_b);
	for (int i = 0; i < c.nkept; i++) {
		free(c.kept[i].path);
		free(c.kept[i].x);
	}
	free(c.kept);
	if (rc < 0)
		compare_result_free(r);
	return rc;
}

void compare_result_free(struct compare_result *r)
{
	free(r->outputs);
	free(r->modules);
	memset(r, 0, sizeof *r);
}
