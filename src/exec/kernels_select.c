/* kernels_select.c - the kernels of registry_select.c: topk, sort, argsort
 * (a stable merge sort along one dim, NaN largest) and nonzero, whose
 * output size is the data's (it writes its exact count into its output's
 * shape). Any dtype: values are read and written with kload and kstore. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"

/* One sort along a dim of x: outer x len x inner elements. */
struct order_state {
	int64_t outer, len, inner;
	bool descending;
};

void ksort_stable(int64_t *idx, int64_t *tmp, int64_t n,
                  bool (*before)(const void *ctx, int64_t b, int64_t a), const void *ctx)
{
	for (int64_t width = 1; width < n; width *= 2) {
		for (int64_t lo = 0; lo < n; lo += 2 * width) {
			int64_t mid = lo + width < n ? lo + width : n;
			int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			int64_t a = lo, b = mid, o = lo;
			while (a < mid && b < hi)
				tmp[o++] = before(ctx, idx[b], idx[a]) ? idx[b++] : idx[a++];
			while (a < mid)
				tmp[o++] = idx[a++];
			while (b < hi)
				tmp[o++] = idx[b++];
		}
		memcpy(idx, tmp, (size_t)n * sizeof *idx);
	}
}

/* Values being sorted, and the direction. */
struct sort_keys {
	const double *v;
	bool descending;
};

/* b before a: the smaller first (NaN largest), or the larger when
 * descending. */
static bool value_before(const void *ctx, int64_t b, int64_t a)
{
	const struct sort_keys *k = ctx;
	double x = k->v[b], y = k->v[a];
	if (k->descending) {
		double t = x;
		x = y;
		y = t;
	}
	if (isnan(y))
		return !isnan(x);
	return x < y;
}

/* The int argument at pos/kw, def when absent. */
static int64_t int_arg(const struct kop *op, int pos, const char *kw, int64_t def)
{
	const struct value *v = op_arg(&op->call, pos, kw);
	if (v && v->kind == VAL_BOOL)
		return v->u.b;
	return v && v->kind == VAL_INT ? v->u.i : def;
}

static int order_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const char *name = op->kernel->name;
	bool topk = strcmp(name, "topk") == 0;
	struct order_state *st = calloc(1, sizeof *st);
	if (!st)
		return error_set(e, "out of memory");
	op->state = st;
	int nd = x->shape.ndim;
	int64_t d = int_arg(op, topk ? 2 : 1, "dim", -1);
	int dim = nd == 0 ? 0 : (int)(d < 0 ? d + nd : d);
	st->outer = st->inner = 1;
	st->len = nd == 0 ? 1 : x->shape.dim[dim];
	for (int i = 0; i < dim; i++)
		st->outer *= x->shape.dim[i];
	for (int i = dim + 1; i < nd; i++)
		st->inner *= x->shape.dim[i];
	st->descending = topk ? int_arg(op, 3, "largest", 1) != 0
	                      : int_arg(op, 2, "descending", 0) != 0;
	op->scratch_bytes = (size_t)st->len * (sizeof(double) + 2 * sizeof(int64_t));
	return 0;
}

static int order_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct order_state *st = op->state;
	const struct tensor *x = kop_input(op);
	bool pair = op->call.out.kind == VAL_LIST;
	struct tensor *values = pair ? kop_out(op, 0) : NULL, *indices = kop_out(op, pair ? 1 : 0);
	int64_t len = st->len, k = indices->shape.ndim ? shape_numel(&indices->shape) /
	                                                     (st->outer * st->inner)
	                                               : 1;
	double *v = op->scratch;
	int64_t *idx = (int64_t *)(v + len), *tmp = idx + len;
	const void *xd = tensor_data(x);
	void *vd = values ? (void *)tensor_data(values) : NULL, *id = (void *)tensor_data(indices);
	for (int64_t o = 0; o < st->outer; o++)
		for (int64_t i = 0; i < st->inner; i++) {
			int64_t base = o * len * st->inner + i;
			for (int64_t j = 0; j < len; j++) {
				v[j] = kload(xd, x->dtype, base + j * st->inner);
				idx[j] = j;
			}
			struct sort_keys keys = {v, st->descending};
			ksort_stable(idx, tmp, len, value_before, &keys);
			for (int64_t j = 0; j < k; j++) {
				int64_t at = o * k * st->inner + j * st->inner + i;
				kstore(id, DT_I64, at, (double)idx[j]);
				if (vd)
					kstore(vd, values->dtype, at, v[idx[j]]);
			}
		}
	return 0;
}

static int nonzero_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	int nd = x->shape.ndim;
	bool tuple = op->call.out.kind == VAL_LIST;
	int64_t n = shape_numel(&x->shape), count = 0;
	int64_t strides[SHAPE_MAX_DIMS];
	kstrides(&x->shape, strides);
	const void *xd = tensor_data(x);
	for (int64_t i = 0; i < n; i++) {
		if (kload(xd, x->dtype, i) == 0)
			continue;
		if (tuple && nd == 0) /* a scalar's one index, as PyTorch gives */
			((int64_t *)tensor_data(kop_out(op, 0)))[count] = 0;
		for (int d = 0; d < nd; d++) {
			int64_t coord = i / strides[d] % x->shape.dim[d];
			int64_t *out = (int64_t *)tensor_data(kop_out(op, tuple ? d : 0));
			out[tuple ? count : count * nd + d] = coord;
		}
		count++;
	}
	for (int d = 0; d < (tuple ? op->call.out.u.list.n : 1); d++)
		kop_out(op, d)->shape.dim[0] = count;
	return 0;
}

const struct kernel kernels_select[] = {
    {"topk", OP_FUNCTION, KF_ANY_DTYPE, order_prepare, order_run},
    {"sort", OP_FUNCTION, KF_ANY_DTYPE, order_prepare, order_run},
    {"argsort", OP_FUNCTION, KF_ANY_DTYPE, order_prepare, order_run},
    {"nonzero", OP_FUNCTION, KF_ANY_DTYPE, NULL, nonzero_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
