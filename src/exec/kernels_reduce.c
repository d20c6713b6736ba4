/* kernels_reduce.c - reductions on tensors of any dtype: max and min
 * (whole, or along a dim with int64 indices), argmax, argmin, prod, norm,
 * var, std, logsumexp, all, any, and sum and mean of tensors that are not
 * float32 (kernels_pool.c's own loop does float32); the running cumsum and cumprod; and the
 * distances CosineSimilarity, PairwiseDistance, cosine_similarity,
 * pairwise_distance and cdist.
 *
 * Elements are read as doubles (kload) and sums kept in double, so the
 * results match PyTorch's float32 ones within rounding. max and min return
 * the first index of the extreme value, or of the first NaN, which wins. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "core/util.h"

/* ---- reductions ---- */

enum red_op {
	RED_SUM,
	RED_MEAN,
	RED_MAX,
	RED_MIN,
	RED_ARGMAX,
	RED_ARGMIN,
	RED_PROD,
	RED_NORM,
	RED_VAR,
	RED_STD,
	RED_LOGSUMEXP,
	RED_ALL,
	RED_ANY
};

static const struct {
	const char *name;
	enum red_op op;
	int dim_pos; /* the dims argument */
} red_names[] = {
    {"sum", RED_SUM, 1},   {"mean", RED_MEAN, 1},           {"max", RED_MAX, 1},
    {"min", RED_MIN, 1},   {"argmax", RED_ARGMAX, 1},       {"argmin", RED_ARGMIN, 1},
    {"prod", RED_PROD, 1}, {"norm", RED_NORM, 2},           {"var", RED_VAR, 1},
    {"std", RED_STD, 1},   {"logsumexp", RED_LOGSUMEXP, 1}, {"all", RED_ALL, 1},
    {"any", RED_ANY, 1},
};

struct red_state {
	enum red_op op;
	double p;          /* norm's order */
	double correction; /* var, std */
	int nk, nr;        /* kept and reduced dims */
	int64_t ksize[SHAPE_MAX_DIMS], kstride[SHAPE_MAX_DIMS];
	int64_t rsize[SHAPE_MAX_DIMS], rstride[SHAPE_MAX_DIMS];
	int64_t count, outn;
};

/* Marks the dims of v (an int, a tuple, or none for all) in red. */
static int reduced_dims(const struct value *v, int ndim, bool *red)
{
	if (!v || v->kind == VAL_NONE || v->kind == VAL_BOOL ||
	    (v->kind == VAL_LIST && v->u.list.n == 0)) {
		for (int i = 0; i < ndim; i++)
			red[i] = true;
		return 0;
	}
	int64_t d[SHAPE_MAX_DIMS];
	int n = v->kind == VAL_LIST ? v->u.list.n : 1;
	if (n > SHAPE_MAX_DIMS ||
	    (v->kind == VAL_LIST ? value_ints(v, d, n) : value_ints(v, d, 1)) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int64_t k = d[i] < 0 ? d[i] + (ndim ? ndim : 1) : d[i];
		if (k < 0 || k >= (ndim ? ndim : 1))
			return -1;
		if (ndim)
			red[k] = true;
	}
	return 0;
}

static int norm_order(const struct kop *op, double *p)
{
	const struct value *v = op_arg(&op->call, 1, "p");
	*p = 2;
	if (!v || v->kind == VAL_NONE || (v->kind == VAL_STR && !strcmp(v->u.s, "fro")))
		return 0;
	return value_number(v, p) ? 0 : -1;
}

/* var(x, dim, unbiased, keepdim) or correction=: the divisor's offset. */
static double var_correction(const struct kop *op)
{
	const struct value *u = op_arg(&op->call, 1, NULL);
	if (!u || u->kind != VAL_BOOL)
		u = op_arg(&op->call, 2, "unbiased");
	const struct value *c = op_arg(&op->call, -1, "correction");
	double d;
	if (c && value_number(c, &d))
		return d;
	return u && u->kind == VAL_BOOL && !u->u.b ? 0 : 1;
}

static bool elementwise_form(const struct kop *op)
{
	const struct value *other = op_arg(&op->call, 1, "other");
	return other && other->kind == VAL_TENSOR;
}

static int red_prepare(struct kop *op, struct error *e)
{
	if (elementwise_form(op)) /* max(a, b) */
		return kelem_prepare(op, e);
	const struct tensor *x = kop_input(op);
	struct red_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	int dim_pos = 1;
	for (size_t i = 0; i < sizeof red_names / sizeof *red_names; i++)
		if (!strcmp(red_names[i].name, op->kernel->name)) {
			st->op = red_names[i].op;
			dim_pos = red_names[i].dim_pos;
		}
	if (st->op == RED_NORM && norm_order(op, &st->p) < 0)
		return error_set(e, "norm(): p must be a number or 'fro'");
	st->correction = var_correction(op);
	bool red[SHAPE_MAX_DIMS] = {false};
	if (reduced_dims(op_arg(&op->call, dim_pos, "dim"), x->shape.ndim, red) < 0)
		return error_set(e, "%s(): bad dims", op->kernel->name);
	int64_t str[SHAPE_MAX_DIMS];
	kstrides(&x->shape, str);
	st->count = st->outn = 1;
	for (int i = 0; i < x->shape.ndim; i++) {
		if (red[i]) {
			st->rsize[st->nr] = x->shape.dim[i];
			st->rstride[st->nr++] = str[i];
			st->count *= x->shape.dim[i];
		} else {
			st->ksize[st->nk] = x->shape.dim[i];
			st->kstride[st->nk++] = str[i];
			st->outn *= x->shape.dim[i];
		}
	}
	return 0;
}

/* The reduction of the `count` values v (in reduction order); *at gets the
 * position of the extreme value for max, min and their arg forms. */
static double reduce_values(const struct red_state *st, const double *v, int64_t *at)
{
	int64_t n = st->count;
	double acc = 0;
	*at = 0;
	switch (st->op) {
	case RED_SUM:
	case RED_MEAN:
		for (int64_t i = 0; i < n; i++)
			acc += v[i];
		return st->op == RED_MEAN ? acc / (double)n : acc;
	case RED_MAX:
	case RED_ARGMAX:
	case RED_MIN:
	case RED_ARGMIN: {
		bool max = st->op == RED_MAX || st->op == RED_ARGMAX;
		acc = n ? v[0] : NAN;
		for (int64_t i = 1; i < n && acc == acc; i++)
			if (v[i] != v[i] || (max ? v[i] > acc : v[i] < acc)) {
				acc = v[i];
				*at = i;
			}
		return acc;
	}
	case RED_PROD:
		acc = 1;
		for (int64_t i = 0; i < n; i++)
			acc *= v[i];
		return acc;
	case RED_NORM:
		if (isinf(st->p)) {
			acc = st->p > 0 ? 0 : INFINITY;
			for (int64_t i = 0; i < n; i++)
				acc = st->p > 0 ? fmax(acc, fabs(v[i])) : fmin(acc, fabs(v[i]));
			return acc;
		}
		for (int64_t i = 0; i < n; i++)
			acc += st->p == 0   ? v[i] != 0
			       : st->p == 1 ? fabs(v[i])
			                    : pow(fabs(v[i]), st->p);
		return st->p == 0 || st->p == 1 ? acc : pow(acc, 1 / st->p);
	case RED_VAR:
	case RED_STD: {
		double mean = 0;
		for (int64_t i = 0; i < n; i++)
			mean += v[i];
		mean /= (double)n;
		for (int64_t i = 0; i < n; i++)
			acc += (v[i] - mean) * (v[i] - mean);
		double div = (double)n - st->correction;
		acc = div > 0 ? acc / div : NAN;
		return st->op == RED_STD ? sqrt(acc) : acc;
	}
	case RED_LOGSUMEXP: {
		double mx = -INFINITY;
		for (int64_t i = 0; i < n; i++)
			mx = v[i] > mx ? v[i] : mx;
		if (isinf(mx))
			return mx;
		for (int64_t i = 0; i < n; i++)
			acc += exp(v[i] - mx);
		return log(acc) + mx;
	}
	case RED_ALL:
		for (int64_t i = 0; i < n; i++)
			if (v[i] == 0)
				return 0;
		return 1;
	case RED_ANY:
		for (int64_t i = 0; i < n; i++)
			if (v[i] != 0)
				return 1;
		return 0;
	}
	return 0;
}

int kreduce_run(struct kop *op, struct error *e)
{
	if (elementwise_form(op))
		return kelem_run(op, e);
	const struct red_state *st = op->state;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0), *idx = kop_out(op, 1);
	const void *src = tensor_data(x);
	void *dst = (char *)y->storage->data + y->offset;
	double *v = op->scratch;
	for (int64_t o = 0; o < st->outn; o++) {
		int64_t rem = o, base = 0;
		for (int k = st->nk - 1; k >= 0; k--) {
			base += rem % st->ksize[k] * st->kstride[k];
			rem /= st->ksize[k];
		}
		for (int64_t r = 0; r < st->count; r++) {
			int64_t rr = r, off = base;
			for (int k = st->nr - 1; k >= 0; k--) {
				off += rr % st->rsize[k] * st->rstride[k];
				rr /= st->rsize[k];
			}
			v[r] = kload(src, x->dtype, off);
		}
		int64_t at;
		double r = reduce_values(st, v, &at);
		bool arg = st->op == RED_ARGMAX || st->op == RED_ARGMIN;
		kstore(dst, y->dtype, o, arg ? (double)at : r);
		if (idx)
			((int64_t *)(void *)((char *)idx->storage->data + idx->offset))[o] = at;
	}
	return 0;
}

int kreduce_prepare(struct kop *op, struct error *e)
{
	if (red_prepare(op, e) < 0)
		return -1;
	if (!elementwise_form(op)) {
		const struct red_state *st = op->state;
		op->scratch_bytes = (size_t)(st->count ? st->count : 1) * sizeof(double);
	}
	return 0;
}

/* ---- cumsum, cumprod ---- */

struct cum_state {
	bool prod;
	int64_t outer, len, inner;
};

static int cum_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const struct value *dv = op_arg(&op->call, 1, "dim");
	int nd = x->shape.ndim ? x->shape.ndim : 1;
	if (!dv || dv->kind != VAL_INT || dv->u.i < -nd || dv->u.i >= nd)
		return error_set(e, "%s(): bad dim", op->kernel->name);
	int d = (int)(dv->u.i < 0 ? dv->u.i + nd : dv->u.i);
	struct cum_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->prod = !strcmp(op->kernel->name, "cumprod");
	st->outer = st->inner = 1;
	st->len = x->shape.ndim ? x->shape.dim[d] : 1;
	for (int i = 0; i < x->shape.ndim; i++) {
		if (i < d)
			st->outer *= x->shape.dim[i];
		else if (i > d)
			st->inner *= x->shape.dim[i];
	}
	return 0;
}

static int cum_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct cum_state *st = op->state;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	const void *src = tensor_data(x);
	void *dst = (char *)y->storage->data + y->offset;
	for (int64_t o = 0; o < st->outer; o++)
		for (int64_t in = 0; in < st->inner; in++) {
			double acc = st->prod ? 1 : 0;
			for (int64_t i = 0; i < st->len; i++) {
				int64_t at = (o * st->len + i) * st->inner + in;
				double v = kload(src, x->dtype, at);
				acc = st->prod ? acc * v : acc + v;
				kstore(dst, y->dtype, at, acc);
			}
		}
	return 0;
}

/* ---- distances between two tensors along one dimension ---- */

enum dist_op { DIST_COSINE, DIST_PAIRWISE };

struct dist_state {
	enum dist_op op;
	double p, eps;
	int ndim, dim; /* the broadcast shape, the dim reduced */
	int64_t size[SHAPE_MAX_DIMS];
	int64_t s1[SHAPE_MAX_DIMS], s2[SHAPE_MAX_DIMS];
};

/* The float argument at pos/kw of a function, or the module's attribute. */
static double float_param(const struct kop *op, int pos, const char *kw, double def)
{
	if (op->call.module)
		return module_attr_float(op->call.module, kw, def);
	const struct value *v = op_arg(&op->call, pos, kw);
	double d;
	return v && value_number(v, &d) ? d : def;
}

static void broadcast_strides(const struct shape *s, const struct shape *o, int64_t *st)
{
	int64_t own[SHAPE_MAX_DIMS];
	kstrides(s, own);
	for (int i = 0; i < o->ndim; i++) {
		int k = s->ndim - o->ndim + i;
		st[i] = k < 0 || s->dim[k] == 1 ? 0 : own[k];
	}
}

static int dist_prepare(struct kop *op, struct error *e)
{
	const struct tensor *a = kop_tensor(op, 0, "x1"), *b = kop_tensor(op, 1, "x2");
	if (!a || !b)
		return error_set(e, "%s: needs two tensors", op->kernel->name);
	struct dist_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	bool cosine = strstr(op->kernel->name, "osine") != NULL;
	st->op = cosine ? DIST_COSINE : DIST_PAIRWISE;
	st->p = cosine ? 2 : float_param(op, 2, "p", 2);
	st->eps = float_param(op, 3, "eps", cosine ? 1e-8 : 1e-6);
	struct shape o = {.ndim = a->shape.ndim > b->shape.ndim ? a->shape.ndim : b->shape.ndim};
	for (int i = 0; i < o.ndim; i++) {
		int ia = a->shape.ndim - o.ndim + i, ib = b->shape.ndim - o.ndim + i;
		int64_t da = ia >= 0 ? a->shape.dim[ia] : 1, db = ib >= 0 ? b->shape.dim[ib] : 1;
		o.dim[i] = da == 1 ? db : da;
	}
	int64_t d = -1;
	if (cosine) {
		d = op->call.module ? module_attr_int(op->call.module, "dim", 1) : 1;
		const struct value *dv = op->call.module ? NULL : op_arg(&op->call, 2, "dim");
		if (dv && dv->kind == VAL_INT)
			d = dv->u.i;
	}
	st->ndim = o.ndim;
	st->dim = (int)(d < 0 ? d + o.ndim : d);
	memcpy(st->size, o.dim, sizeof o.dim);
	broadcast_strides(&a->shape, &o, st->s1);
	broadcast_strides(&b->shape, &o, st->s2);
	return 0;
}

static int dist_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct dist_state *st = op->state;
	const struct tensor *a = kop_tensor(op, 0, "x1"), *b = kop_tensor(op, 1, "x2");
	struct tensor *y = kop_out(op, 0);
	const void *pa = tensor_data(a), *pb = tensor_data(b);
	void *dst = (char *)y->storage->data + y->offset;
	int64_t outn = shape_numel(&y->shape), len = st->size[st->dim];
	for (int64_t o = 0; o < outn; o++) {
		int64_t rem = o, oa = 0, ob = 0;
		for (int k = st->ndim - 1; k >= 0; k--) {
			if (k == st->dim)
				continue;
			int64_t i = rem % st->size[k];
			rem /= st->size[k];
			oa += i * st->s1[k];
			ob += i * st->s2[k];
		}
		double acc = 0, n1 = 0, n2 = 0;
		for (int64_t i = 0; i < len; i++) {
			double x = kload(pa, a->dtype, oa + i * st->s1[st->dim]);
			double z = kload(pb, b->dtype, ob + i * st->s2[st->dim]);
			if (st->op == DIST_COSINE) {
				acc += x * z;
				n1 += x * x;
				n2 += z * z;
			} else {
				double diff = fabs(x - z + st->eps);
				acc = isinf(st->p) ? fmax(acc, diff)
				      : st->p == 0 ? acc + (diff != 0)
				                   : acc + pow(diff, st->p);
			}
		}
		double r;
		if (st->op == DIST_COSINE)
			r = acc / fmax(sqrt(n1 * n2), st->eps);
		else
			r = isinf(st->p) || st->p == 0 ? acc : pow(acc, 1 / st->p);
		kstore(dst, y->dtype, o, r);
	}
	return 0;
}

/* cdist(x1 [..., P, M], x2 [..., R, M], p=2.0): batches broadcast. */
struct cdist_state {
	double p;
	int64_t batch, pn, rn, m;
	int64_t *aoff, *boff;
	int64_t store[];
};

static int cdist_prepare(struct kop *op, struct error *e)
{
	const struct tensor *a = kop_tensor(op, 0, "x1"), *b = kop_tensor(op, 1, "x2");
	const struct shape *o = &kop_out(op, 0)->shape;
	int64_t plane = o->dim[o->ndim - 2] * o->dim[o->ndim - 1];
	int64_t batch = plane ? shape_numel(o) / plane : 0;
	struct cdist_state *st =
	    xcalloc(1, sizeof *st + 2 * (size_t)(batch ? batch : 1) * sizeof(int64_t));
	op->state = st;
	st->p = float_param(op, 2, "p", 2);
	if (st->p < 0)
		return error_set(e, "cdist(): p must be non-negative");
	st->batch = batch;
	st->pn = a->shape.dim[a->shape.ndim - 2];
	st->rn = b->shape.dim[b->shape.ndim - 2];
	st->m = a->shape.dim[a->shape.ndim - 1];
	st->aoff = st->store;
	st->boff = st->store + batch;
	struct shape bs = *o;
	bs.ndim -= 2;
	int64_t sa[SHAPE_MAX_DIMS], sb[SHAPE_MAX_DIMS];
	struct shape la = a->shape, lb = b->shape;
	la.ndim -= 2;
	lb.ndim -= 2;
	broadcast_strides(&la, &bs, sa);
	broadcast_strides(&lb, &bs, sb);
	for (int64_t i = 0; i < batch; i++) {
		int64_t rem = i, oa = 0, ob = 0;
		for (int k = bs.ndim - 1; k >= 0; k--) {
			int64_t q = rem % bs.dim[k];
			rem /= bs.dim[k];
			oa += q * sa[k];
			ob += q * sb[k];
		}
		st->aoff[i] = oa * st->pn * st->m;
		st->boff[i] = ob * st->rn * st->m;
	}
	return 0;
}

static int cdist_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct cdist_state *st = op->state;
	const float *a = kt_f32(kop_tensor(op, 0, "x1")), *b = kt_f32(kop_tensor(op, 1, "x2"));
	float *y = kt_f32(kop_out(op, 0));
	for (int64_t q = 0; q < st->batch; q++)
		for (int64_t i = 0; i < st->pn; i++)
			for (int64_t j = 0; j < st->rn; j++) {
				const float *u = a + st->aoff[q] + i * st->m;
				const float *w = b + st->boff[q] + j * st->m;
				double acc = 0;
				for (int64_t k = 0; k < st->m; k++) {
					double d = fabs((double)u[k] - w[k]);
					acc = isinf(st->p) ? fmax(acc, d)
					      : st->p == 0 ? acc + (d != 0)
					                   : acc + pow(d, st->p);
				}
				y[(q * st->pn + i) * st->rn + j] =
				    (float)(isinf(st->p) || st->p == 0 ? acc : pow(acc, 1 / st->p));
			}
	return 0;
}

#define RED(nm)                                                                                    \
	{                                                                                          \
		nm, OP_FUNCTION, KF_ANY_DTYPE, kreduce_prepare, kreduce_run                        \
	}
#define CUM(nm)                                                                                    \
	{                                                                                          \
		nm, OP_FUNCTION, KF_ANY_DTYPE, cum_prepare, cum_run                                \
	}

const struct kernel kernels_reduce[] = {
    RED("max"),
    RED("min"),
    RED("argmax"),
    RED("argmin"),
    RED("prod"),
    RED("norm"),
    RED("var"),
    RED("std"),
    RED("logsumexp"),
    RED("all"),
    RED("any"),
    CUM("cumsum"),
    CUM("cumprod"),
    {"CosineSimilarity", OP_MODULE, 0, dist_prepare, dist_run},
    {"PairwiseDistance", OP_MODULE, 0, dist_prepare, dist_run},
    {"cosine_similarity", OP_FUNCTION, 0, dist_prepare, dist_run},
    {"pairwise_distance", OP_FUNCTION, 0, dist_prepare, dist_run},
    {"cdist", OP_FUNCTION, 0, cdist_prepare, cdist_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
