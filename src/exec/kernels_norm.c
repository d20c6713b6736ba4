/* kernels_norm.c - normalisation: BatchNorm (eval; also SyncBatchNorm and
 * torchvision's FrozenBatchNorm2d), LayerNorm, torchvision's LayerNorm2d,
 * GroupNorm, InstanceNorm, local response norms and F.normalize.
 *
 * BatchNorm in eval mode is PyTorch's per-channel affine
 * x * (w / sqrt(var + eps)) + (b - mean * w / sqrt(var + eps)), which is
 * also what the executor folds into a preceding convolution. Without
 * running statistics it normalises with the batch's, as PyTorch does.
 * Means and variances are accumulated in double (biased variance). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "core/util.h"

static double attr_eps(const struct kop *op, int pos, double def)
{
	if (op->call.module)
		return module_attr_float(op->call.module, "eps", def);
	const struct value *v = op_arg(&op->call, pos, "eps");
	double d;
	return v && value_number(v, &d) ? d : def;
}

/* ---- BatchNorm ---- */

struct bn_state {
	int64_t outer, channels, inner;
	bool batch_stats; /* no running statistics: use the batch's */
	double eps;
	const float *w, *b;   /* with batch statistics */
	float *scale, *shift; /* into store */
	float store[];
};

/* The BatchNorm's tensors: module parameters or F.batch_norm arguments. */
static void bn_tensors(const struct kop *op, const struct tensor **w, const struct tensor **b,
                       const struct tensor **mean, const struct tensor **var)
{
	if (op->call.module) {
		*w = kop_param(op, "weight");
		*b = kop_param(op, "bias");
		*mean = kop_param(op, "running_mean");
		*var = kop_param(op, "running_var");
		if (!module_attr_bool(op->call.module, "track_running_stats", true))
			*mean = *var = NULL;
	} else {
		*mean = kop_tensor(op, 1, "running_mean");
		*var = kop_tensor(op, 2, "running_var");
		*w = kop_tensor(op, 3, "weight");
		*b = kop_tensor(op, 4, "bias");
	}
}

static void affine_of(const float *w, const float *b, const float *mean, const float *var,
                      double eps, int64_t c, float *scale, float *shift)
{
	for (int64_t i = 0; i < c; i++) {
		double invstd = 1 / sqrt((double)var[i] + eps);
		double a = invstd * (w ? w[i] : 1);
		scale[i] = (float)a;
		shift[i] = (float)((b ? b[i] : 0) - mean[i] * a);
	}
}

int kernels_bn_affine(const struct kop *bn, float **scale, float **shift, struct error *e)
{
	const struct tensor *w, *b, *mean, *var;
	bn_tensors(bn, &w, &b, &mean, &var);
	if (!mean || !var)
		return error_set(e, "BatchNorm without running statistics");
	int64_t c = shape_numel(&mean->shape);
	*scale = xcalloc((size_t)c, sizeof **scale);
	*shift = xcalloc((size_t)c, sizeof **shift);
	affine_of(w ? kt_f32(w) : NULL, b ? kt_f32(b) : NULL, kt_f32(mean), kt_f32(var),
	          attr_eps(bn, 7, 1e-5), c, *scale, *shift);
	return 0;
}

static int bn_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op), *w, *b, *mean, *var;
	bn_tensors(op, &w, &b, &mean, &var);
	const struct shape *s = &x->shape;
	if (s->ndim < 2)
		return error_set(e, "batch_norm: needs at least 2-D input");
	int64_t c = s->dim[1];
	struct bn_state *st = xcalloc(1, sizeof *st + 2 * (size_t)c * sizeof(float));
	op->state = st;
	st->outer = s->dim[0];
	st->channels = c;
	int64_t oc = st->outer * c;
	st->inner = shape_numel(s) / (oc > 0 ? oc : 1);
	st->eps = attr_eps(op, 7, 1e-5);
	st->scale = st->store;
	st->shift = st->store + c;
	if (!op->call.module) {
		const struct value *tr = op_arg(&op->call, 5, "training");
		if (tr && tr->kind == VAL_BOOL && tr->u.b)
			mean = var = NULL; /* training mode normalises with the batch */
	}
	if (!mean || !var) {
		st->batch_stats = true;
		st->w = w ? kt_f32(w) : NULL;
		st->b = b ? kt_f32(b) : NULL;
		return 0;
	}
	affine_of(w ? kt_f32(w) : NULL, b ? kt_f32(b) : NULL, kt_f32(mean), kt_f32(var), st->eps, c,
	          st->scale, st->shift);
	return 0;
}

static int bn_run(struct kop *op, struct error *e)
{
	(void)e;
	struct bn_state *st = op->state;
	const float *x = kt_f32(kop_input(op));
	float *y = kt_f32(kop_out(op, 0));
	if (st->batch_stats) {
		int64_t per = st->outer * st->inner;
		for (int64_t c = 0; c < st->channels; c++) {
			double sum = 0, sq = 0;
			for (int64_t n = 0; n < st->outer; n++)
				for (int64_t i = 0; i < st->inner; i++)
					sum += x[(n * st->channels + c) * st->inner + i];
			double mean = sum / (double)(per ? per : 1);
			for (int64_t n = 0; n < st->outer; n++)
				for (int64_t i = 0; i < st->inner; i++) {
					double d = x[(n * st->channels + c) * st->inner + i] - mean;
					sq += d * d;
				}
			double a = 1 / sqrt(sq / (double)(per ? per : 1) + st->eps) *
			           (st->w ? st->w[c] : 1);
			st->scale[c] = (float)a;
			st->shift[c] = (float)((st->b ? st->b[c] : 0) - mean * a);
		}
	}
	if (y != x)
		memcpy(y, x, (size_t)(st->outer * st->channels * st->inner) * sizeof *y);
	kact_epilogue(y, st->outer, st->channels, st->inner, st->scale, st->shift, op->act);
	return 0;
}

/* ---- LayerNorm, layer_norm ---- */

struct ln_state {
	int64_t rows, len;
	double eps;
	const float *w, *b;
};

static int ln_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op), *w, *b;
	int64_t len = 1;
	int n;
	if (op->call.module) {
		const struct value *ns = module_attr(op->call.module, "normalized_shape");
		n = ns->u.list.n;
		w = kop_param(op, "weight");
		b = kop_param(op, "bias");
	} else {
		int64_t d[SHAPE_MAX_DIMS];
		const struct value *ns = op_arg(&op->call, 1, "normalized_shape");
		n = ns && ns->kind == VAL_LIST ? ns->u.list.n : 1;
		if (ns && ns->kind == VAL_LIST && value_ints(ns, d, n) < 0)
			return error_set(e, "layer_norm(): bad normalized_shape");
		w = kop_tensor(op, 2, "weight");
		b = kop_tensor(op, 3, "bias");
	}
	for (int i = 0; i < n; i++)
		len *= x->shape.dim[x->shape.ndim - n + i];
	struct ln_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->len = len;
	st->rows = len ? shape_numel(&x->shape) / len : 0;
	st->eps = attr_eps(op, 4, 1e-5);
	st->w = w ? kt_f32(w) : NULL;
	st->b = b ? kt_f32(b) : NULL;
	return 0;
}

struct ln_job {
	const struct ln_state *st;
	const float *x;
	float *y;
};

KERNEL_HOT
static void ln_rows(void *ctx, int64_t rb, int64_t re)
{
	const struct ln_job *j = ctx;
	const struct ln_state *st = j->st;
	int64_t len = st->len;
	for (int64_t r = rb; r < re; r++) {
		const float *x = j->x + r * len;
		float *y = j->y + r * len;
		double sum = 0, sq = 0;
		for (int64_t i = 0; i < len; i++)
			sum += x[i];
		double mean = sum / (double)len;
		for (int64_t i = 0; i < len; i++) {
			double d = x[i] - mean;
			sq += d * d;
		}
		float rstd = (float)(1 / sqrt(sq / (double)len + st->eps)), m = (float)mean;
		for (int64_t i = 0; i < len; i++) {
			float v = (x[i] - m) * rstd;
			if (st->w)
				v *= st->w[i];
			if (st->b)
				v += st->b[i];
			y[i] = v;
		}
	}
}

static int ln_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct ln_state *st = op->state;
	struct ln_job j = {st, kt_f32(kop_input(op)), kt_f32(kop_out(op, 0))};
	if (st->len)
		kpar_for(st->rows, st->len >= 1024 ? 1 : 1024 / st->len, ln_rows, &j);
	return 0;
}

/* ---- LayerNorm2d: over the channels of [N, C, H, W] at each pixel ---- */

struct ln2d_state {
	int64_t n, c, hw;
	double eps;
	const float *w, *b;
};

static int ln2d_prepare(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	struct ln2d_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->n = x->shape.dim[0];
	st->c = x->shape.dim[1];
	st->hw = x->shape.dim[2] * x->shape.dim[3];
	st->eps = attr_eps(op, -1, 1e-5);
	const struct tensor *w = kop_param(op, "weight"), *b = kop_param(op, "bias");
	st->w = w ? kt_f32(w) : NULL;
	st->b = b ? kt_f32(b) : NULL;
	op->scratch_bytes = 2 * (size_t)st->hw * sizeof(double);
	return 0;
}

struct ln2d_job {
	const struct ln2d_state *st;
	const float *x;
	float *y;
	double *mean, *rstd;
	int64_t n;
};

/* Statistics of pixels [pb, pe) of image n. */
KERNEL_HOT
static void ln2d_stats(void *ctx, int64_t pb, int64_t pe)
{
	const struct ln2d_job *j = ctx;
	const struct ln2d_state *st = j->st;
	const float *x = j->x + j->n * st->c * st->hw;
	double *mean = j->mean, *sq = j->rstd;
	for (int64_t p = pb; p < pe; p++)
		mean[p] = sq[p] = 0;
	for (int64_t c = 0; c < st->c; c++)
		for (int64_t p = pb; p < pe; p++)
			mean[p] += x[c * st->hw + p];
	for (int64_t p = pb; p < pe; p++)
		mean[p] /= (double)st->c;
	for (int64_t c = 0; c < st->c; c++)
		for (int64_t p = pb; p < pe; p++) {
			double d = x[c * st->hw + p] - mean[p];
			sq[p] += d * d;
		}
	for (int64_t p = pb; p < pe; p++)
		sq[p] = 1 / sqrt(sq[p] / (double)st->c + st->eps);
}

/* Output channels [cb, ce) of image n. */
KERNEL_HOT
static void ln2d_apply(void *ctx, int64_t cb, int64_t ce)
{
	const struct ln2d_job *j = ctx;
	const struct ln2d_state *st = j->st;
	const float *x = j->x + j->n * st->c * st->hw;
	float *y = j->y + j->n * st->c * st->hw;
	for (int64_t c = cb; c < ce; c++) {
		float w = st->w ? st->w[c] : 1, b = st->b ? st->b[c] : 0;
		for (int64_t p = 0; p < st->hw; p++) {
			float v = (x[c * st->hw + p] - (float)j->mean[p]) * (float)j->rstd[p];
			y[c * st->hw + p] = v * w + b;
		}
	}
}

static int ln2d_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct ln2d_state *st = op->state;
	double *sc = op->scratch;
	struct ln2d_job j = {st, kt_f32(kop_input(op)), kt_f32(kop_out(op, 0)), sc, sc + st->hw, 0};
	for (j.n = 0; j.n < st->n; j.n++) {
		kpar_for(st->hw, 256, ln2d_stats, &j);
		kpar_for(st->c, 4, ln2d_apply, &j);
	}
	return 0;
}

/* ---- GroupNorm, InstanceNorm and their functions ---- */

/* Normalisation over groups of channels: n samples of groups * cg channels
 * of `inner` elements each; each group of each sample normalised with its
 * own statistics, or each channel with running ones (an InstanceNorm that
 * tracks them, in eval), then the per-channel affine. */
struct gn_state {
	int64_t n, groups, cg, inner;
	double eps;
	const float *w, *b;
	const float *mean, *var; /* running statistics, or NULL */
};

static const float *f32_or_null(const struct tensor *t)
{
	return t ? kt_f32(t) : NULL;
}

/* An InstanceNorm module: its channels are dim 0 of an unbatched input
 * (InstanceNorm2d's [C, H, W]), else dim 1. */
static int instance_channel_dim(const struct kop *op, const struct shape *s)
{
	const char *type = op->call.module->type;
	return s->ndim == type[strlen(type) - 2] - '0' + 1 ? 0 : 1;
}

static int gn_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op), *w, *b, *mean = NULL, *var = NULL;
	const struct module *m = op->call.module;
	const char *name = op->kernel->name;
	int cdim = 1;
	int64_t groups = 0;
	double eps;
	if (!strcmp(name, "GroupNorm") || !strcmp(name, "group_norm")) {
		const struct value *g = m ? NULL : op_arg(&op->call, 1, "num_groups");
		groups = m ? module_attr_int(m, "num_groups", 1) : g ? g->u.i : 0;
		w = m ? kop_param(op, "weight") : kop_tensor(op, 2, "weight");
		b = m ? kop_param(op, "bias") : kop_tensor(op, 3, "bias");
		eps = attr_eps(op, 4, 1e-5);
	} else if (m) {
		cdim = instance_channel_dim(op, &x->shape);
		w = kop_param(op, "weight");
		b = kop_param(op, "bias");
		if (module_attr_bool(m, "track_running_stats", false)) {
			mean = kop_param(op, "running_mean");
			var = kop_param(op, "running_var");
		}
		eps = attr_eps(op, -1, 1e-5);
	} else {
		const struct value *u = op_arg(&op->call, 5, "use_input_stats");
		if (u && u->kind == VAL_BOOL && !u->u.b) {
			mean = kop_tensor(op, 1, "running_mean");
			var = kop_tensor(op, 2, "running_var");
			if (!mean || !var)
				return error_set(e, "instance_norm(): use_input_stats=False needs "
				                    "running_mean and running_var");
		}
		w = kop_tensor(op, 3, "weight");
		b = kop_tensor(op, 4, "bias");
		eps = attr_eps(op, 7, 1e-5);
	}
	int64_t c = x->shape.dim[cdim];
	if (!groups)
		groups = c; /* an instance norm: one channel a group */
	if (groups <= 0 || c % groups)
		return error_set(e, "%s: %lld channels in %lld groups", name, (long long)c,
		                 (long long)groups);
	struct gn_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->n = cdim ? x->shape.dim[0] : 1;
	st->groups = groups;
	st->cg = c / groups;
	st->inner = st->n * c != 0 ? shape_numel(&x->shape) / (st->n * c) : 0;
	st->eps = eps;
	st->w = f32_or_null(w);
	st->b = f32_or_null(b);
	st->mean = f32_or_null(mean);
	st->var = f32_or_null(var);
	return 0;
}

struct gn_job {
	const struct gn_state *st;
	const float *x;
	float *y;
};

/* Mean and 1/std of len floats (biased variance, in double). */
static void row_stats(const float *x, int64_t len, double eps, float *mean, float *rstd)
{
	double sum = 0, sq = 0;
	for (int64_t i = 0; i < len; i++)
		sum += x[i];
	double m = sum / (double)(len ? len : 1);
	for (int64_t i = 0; i < len; i++)
		sq += (x[i] - m) * (x[i] - m);
	*mean = (float)m;
	*rstd = (float)(1 / sqrt(sq / (double)(len ? len : 1) + eps));
}

static void gn_groups(void *ctx, int64_t gb, int64_t ge)
{
	const struct gn_job *j = ctx;
	const struct gn_state *st = j->st;
	int64_t len = st->cg * st->inner;
	for (int64_t g = gb; g < ge; g++) {
		const float *x = j->x + g * len;
		float *y = j->y + g * len;
		float m = 0, rstd = 0;
		if (!st->mean)
			row_stats(x, len, st->eps, &m, &rstd);
		int64_t c0 = g % st->groups * st->cg;
		for (int64_t c = 0; c < st->cg; c++) {
			if (st->mean) {
				m = st->mean[c0 + c];
				rstd = (float)(1 / sqrt((double)st->var[c0 + c] + st->eps));
			}
			float w = st->w ? st->w[c0 + c] : 1, b = st->b ? st->b[c0 + c] : 0;
			for (int64_t i = 0; i < st->inner; i++)
				y[c * st->inner + i] = (x[c * st->inner + i] - m) * rstd * w + b;
		}
	}
}

static int gn_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct gn_state *st = op->state;
	struct gn_job j = {st, kt_f32(kop_input(op)), kt_f32(kop_out(op, 0))};
	kpar_for(st->n * st->groups, 1, gn_groups, &j);
	return 0;
}

/* ---- LocalResponseNorm, local_response_norm, CrossMapLRN2d ---- */

struct lrn_state {
	int64_t n, c, inner, size;
	double alpha, beta, k;
	bool cross_map; /* CrossMapLRN2d's running window */
};

static double lrn_number(const struct kop *op, const char *name, int pos, double def)
{
	if (op->call.module)
		return module_attr_float(op->call.module, name, def);
	const struct value *v = op_arg(&op->call, pos, name);
	double d;
	return v && value_number(v, &d) ? d : def;
}

static int lrn_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	struct lrn_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const struct value *sv =
	    op->call.module ? module_attr(op->call.module, "size") : op_arg(&op->call, 1, "size");
	if (!sv || sv->kind != VAL_INT || sv->u.i <= 0)
		return error_set(e, "%s: bad size", op->kernel->name);
	st->size = sv->u.i;
	st->alpha = lrn_number(op, "alpha", 2, 1e-4);
	st->beta = lrn_number(op, "beta", 3, 0.75);
	st->k = lrn_number(op, "k", 4, 1);
	st->cross_map = !strcmp(op->kernel->name, "CrossMapLRN2d");
	st->n = x->shape.dim[0];
	st->c = x->shape.dim[1];
	st->inner = st->n * st->c != 0 ? shape_numel(&x->shape) / (st->n * st->c) : 0;
	op->scratch_bytes = (size_t)(st->c * st->inner) * sizeof(double);
	return 0;
}

/* Sums of squares over each channel's window into sq ([c][inner]):
 * LocalResponseNorm's [c - size/2, c + (size-1)/2], zero-padded; or
 * CrossMapLRN2d's running sum as Lua Torch computes it (its window never
 * drops channel 0). */
static void lrn_window_sums(const struct lrn_state *st, const float *x, double *sq)
{
	int64_t in = st->inner;
	if (!st->cross_map) {
		for (int64_t c = 0; c < st->c; c++) {
			int64_t lo = c - st->size / 2, hi = c + (st->size - 1) / 2;
			for (int64_t i = 0; i < in; i++) {
				double s = 0;
				for (int64_t q = lo < 0 ? 0 : lo; q <= hi && q < st->c; q++)
					s += (double)x[q * in + i] * x[q * in + i];
				sq[c * in + i] = s;
			}
		}
		return;
	}
	int64_t pre = (st->size - 1) / 2 + 1, first = pre > st->c ? st->c : pre;
	for (int64_t i = 0; i < in; i++) {
		double s = 0;
		for (int64_t q = 0; q < first; q++)
			s += (double)x[q * in + i] * x[q * in + i];
		sq[i] = s;
	}
	for (int64_t c = 1; c < st->c; c++)
		for (int64_t i = 0; i < in; i++) {
			double s = sq[(c - 1) * in + i];
			if (c < st->c - pre + 1)
				s += (double)x[(c + pre - 1) * in + i] * x[(c + pre - 1) * in + i];
			if (c > pre)
				s -= (double)x[(c - pre) * in + i] * x[(c - pre) * in + i];
			sq[c * in + i] = s;
		}
}

static int lrn_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct lrn_state *st = op->state;
	const float *x = kt_f32(kop_input(op));
	float *y = kt_f32(kop_out(op, 0));
	double *sq = op->scratch;
	int64_t len = st->c * st->inner;
	for (int64_t n = 0; n < st->n; n++) {
		lrn_window_sums(st, x + n * len, sq);
		for (int64_t i = 0; i < len; i++) {
			double div = pow(sq[i] * st->alpha / (double)st->size + st->k, st->beta);
			y[n * len + i] = (float)(x[n * len + i] / div);
		}
	}
	return 0;
}

/* ---- F.normalize(x, p=2.0, dim=1, eps=1e-12) ---- */

struct normalize_state {
	int64_t outer, len, inner;
	double p, eps;
};

static int normalize_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	double p = 2, eps = 1e-12;
	const struct value *v;
	if ((v = op_arg(&op->call, 1, "p")) && !value_number(v, &p))
		return error_set(e, "normalize(): p must be a number");
	if ((v = op_arg(&op->call, 3, "eps")) && !value_number(v, &eps))
		return error_set(e, "normalize(): eps must be a number");
	int64_t d = 1;
	if ((v = op_arg(&op->call, 2, "dim")) && v->kind == VAL_INT)
		d = v->u.i;
	int nd = x->shape.ndim;
	if (d < 0)
		d += nd;
	if (d < 0 || d >= nd)
		return error_set(e, "normalize(): dim out of range");
	struct normalize_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->outer = st->inner = 1;
	for (int i = 0; i < d; i++)
		st->outer *= x->shape.dim[i];
	st->len = x->shape.dim[d];
	for (int i = (int)d + 1; i < nd; i++)
		st->inner *= x->shape.dim[i];
	st->p = p;
	st->eps = eps;
	return 0;
}

static int normalize_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct normalize_state *st = op->state;
	const float *x = kt_f32(kop_input(op));
	float *y = kt_f32(kop_out(op, 0));
	for (int64_t o = 0; o < st->outer; o++)
		for (int64_t i = 0; i < st->inner; i++) {
			const float *xp = x + o * st->len * st->inner + i;
			float *yp = y + o * st->len * st->inner + i;
			double norm = 0;
			for (int64_t k = 0; k < st->len; k++) {
				double a = fabs((double)xp[k * st->inner]);
				norm += st->p == 2 ? a * a : st->p == 1 ? a : pow(a, st->p);
			}
			norm = st->p == 2 ? sqrt(norm) : st->p == 1 ? norm : pow(norm, 1 / st->p);
			float inv = (float)(norm > st->eps ? norm : st->eps);
			for (int64_t k = 0; k < st->len; k++)
				yp[k * st->inner] = xp[k * st->inner] / inv;
		}
	return 0;
}

const struct kernel kernels_norm[] = {
    {"BatchNorm2d", OP_MODULE, KF_INPLACE | KF_ACT, bn_prepare, bn_run},
    {"BatchNorm1d", OP_MODULE, KF_INPLACE | KF_ACT, bn_prepare, bn_run},
    {"batch_norm", OP_FUNCTION, KF_INPLACE | KF_ACT, bn_prepare, bn_run},
    {"LayerNorm", OP_MODULE, KF_INPLACE, ln_prepare, ln_run},
    {"layer_norm", OP_FUNCTION, KF_INPLACE, ln_prepare, ln_run},
    {"LayerNorm2d", OP_MODULE, KF_INPLACE, ln2d_prepare, ln2d_run},
    {"GroupNorm", OP_MODULE, KF_INPLACE, gn_prepare, gn_run},
    {"BatchNorm3d", OP_MODULE, KF_INPLACE | KF_ACT, bn_prepare, bn_run},
    {"SyncBatchNorm", OP_MODULE, KF_INPLACE | KF_ACT, bn_prepare, bn_run},
    {"FrozenBatchNorm2d", OP_MODULE, KF_INPLACE | KF_ACT, bn_prepare, bn_run},
    {"InstanceNorm1d", OP_MODULE, KF_INPLACE, gn_prepare, gn_run},
    {"InstanceNorm2d", OP_MODULE, KF_INPLACE, gn_prepare, gn_run},
    {"InstanceNorm3d", OP_MODULE, KF_INPLACE, gn_prepare, gn_run},
    {"instance_norm", OP_FUNCTION, KF_INPLACE, gn_prepare, gn_run},
    {"group_norm", OP_FUNCTION, KF_INPLACE, gn_prepare, gn_run},
    {"LocalResponseNorm", OP_MODULE, 0, lrn_prepare, lrn_run},
    {"local_response_norm", OP_FUNCTION, 0, lrn_prepare, lrn_run},
    {"CrossMapLRN2d", OP_MODULE, 0, lrn_prepare, lrn_run},
    {"normalize", OP_FUNCTION, 0, normalize_prepare, normalize_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
