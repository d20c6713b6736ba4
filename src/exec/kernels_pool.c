/* kernels_pool.c - pooling and reductions: max/avg/power-average pools
 * over 1 to 3 dims (ceil_mode, count_include_pad, divisor_override,
 * dilation, indices), adaptive pools, max unpooling, and
 * mean/sum/amax/amin over dims.
 *
 * Windows are PyTorch's: an average's divisor counts the padded window
 * clipped to input + padding (count_include_pad) or the input elements it
 * covers; a max propagates NaN; adaptive windows run from floor(i*H/OH) to
 * ceil((i+1)*H/OH). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "exec/kvec.h"
#include "core/util.h"

enum pool_kind { POOL_MAX, POOL_AVG, POOL_LP, POOL_ADAPTIVE_AVG, POOL_ADAPTIVE_MAX };

/* Sizes per spatial dim, depth first; a 2-D pool has depth 1, a 1-D one
 * height 1 too. */
struct pool_state {
	enum pool_kind kind;
	int64_t planes, in[3], out[3];
	int64_t k[3], s[3], p[3], d[3];
	bool count_include_pad, indices;
	int64_t divisor; /* 0: none */
	double norm;     /* LP: the norm_type */
};

/* The optional int-or-tuple argument at pos/kw into the last n of p[3]:
 * def when absent or None; -1 when it is something else. */
static int ints_arg(const struct kop *op, int pos, const char *kw, int n, const int64_t *def,
                    int64_t p[3])
{
	const struct value *v = op_arg(&op->call, pos, kw);
	if (!v || v->kind == VAL_NONE || (v->kind == VAL_LIST && v->u.list.n == 0)) {
		if (!def)
			return -1;
		memcpy(p + 3 - n, def + 3 - n, (size_t)n * sizeof *p);
		return 0;
	}
	if (v->kind == VAL_LIST && v->u.list.n == 1)
		v = &v->u.list.items[0];
	return value_ints(v, p + 3 - n, n);
}

static bool bool_arg(const struct kop *op, int pos, const char *kw, bool def)
{
	const struct value *v = op_arg(&op->call, pos, kw);
	if (v && v->kind == VAL_BOOL)
		return v->u.b;
	if (v && v->kind == VAL_INT)
		return v->u.i != 0;
	return def;
}

/* The window arguments of a pooling function: kernel_size at `at`, then
 * stride and padding; dilation after them for max pools. */
static int pool_args(struct kop *op, struct pool_state *st, int nd, int at, bool dilation,
                     struct error *e)
{
	static const int64_t zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
	const char *name = op->kernel->name;
	if (ints_arg(op, at, "kernel_size", nd, NULL, st->k) < 0 ||
	    ints_arg(op, at + 1, "stride", nd, st->k, st->s) < 0 ||
	    (st->kind != POOL_LP && ints_arg(op, at + 2, "padding", nd, zero, st->p) < 0))
		return error_set(e, "%s(): bad kernel_size, stride or padding", name);
	if (dilation && ints_arg(op, at + 3, "dilation", nd, one, st->d) < 0)
		return error_set(e, "%s(): bad dilation", name);
	return 0;
}

static int pool_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const struct tensor *y = kop_out(op, 0);
	struct pool_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const char *name = op->kernel->name;
	const struct module *m = op->call.module;
	st->kind = strstr(name, "daptive")
	               ? (strstr(name, "vg") ? POOL_ADAPTIVE_AVG : POOL_ADAPTIVE_MAX)
	           : strstr(name, "ax")                                  ? POOL_MAX
	           : (strstr(name, "LP") || strstr(name, "lp_")) ? POOL_LP
	                                                                 : POOL_AVG;
	const char *digit = strpbrk(name, "123");
	int nd = digit ? *digit - '0' : 2, xd = x->shape.ndim;
	st->planes = 1;
	for (int i = 0; i < 3; i++) {
		st->in[i] = st->out[i] = st->k[i] = st->s[i] = st->d[i] = 1;
		st->p[i] = 0;
	}
	for (int i = 0; i < xd - nd; i++)
		st->planes *= x->shape.dim[i];
	for (int i = 0; i < nd; i++) {
		st->in[3 - nd + i] = x->shape.dim[xd - nd + i];
		st->out[3 - nd + i] = y->shape.dim[xd - nd + i];
	}
	st->count_include_pad = true;
	bool with = strstr(name, "with_indices") != NULL;
	if (st->kind == POOL_ADAPTIVE_MAX)
		st->indices = m ? module_attr_bool(m, "return_indices", false)
		                : with || bool_arg(op, 2, "return_indices", false);
	if (st->kind == POOL_ADAPTIVE_AVG || st->kind == POOL_ADAPTIVE_MAX)
		return 0;
	if (m) {
		module_attr_ints(m, "kernel_size", st->k + 3 - nd, nd);
		module_attr_ints(m, "stride", st->s + 3 - nd, nd);
		if (module_attr(m, "padding"))
			module_attr_ints(m, "padding", st->p + 3 - nd, nd);
		if (module_attr(m, "dilation"))
			module_attr_ints(m, "dilation", st->d + 3 - nd, nd);
		st->count_include_pad = module_attr_bool(m, "count_include_pad", true);
		st->indices = module_attr_bool(m, "return_indices", false);
		st->norm = module_attr_float(m, "norm_type", 2);
		const struct value *dv = module_attr(m, "divisor_override");
		if (dv && dv->kind == VAL_INT)
			st->divisor = dv->u.i;
		return 0;
	}
	if (st->kind == POOL_MAX) {
		if (pool_args(op, st, nd, 1, true, e) < 0)
			return -1;
		st->indices = with || bool_arg(op, 6, "return_indices", false);
	} else if (st->kind == POOL_LP) {
		const struct value *v = op_arg(&op->call, 1, "norm_type");
		if (!v || !value_number(v, &st->norm) || pool_args(op, st, nd, 2, false, e) < 0)
			return error_set(e, "%s(): bad norm_type, kernel_size or stride", name);
	} else {
		if (pool_args(op, st, nd, 1, false, e) < 0)
			return -1;
		st->count_include_pad = bool_arg(op, 5, "count_include_pad", true);
		const struct value *dv = op_arg(&op->call, 6, "divisor_override");
		if (dv && dv->kind == VAL_INT)
			st->divisor = dv->u.i;
	}
	return 0;
}

struct pool_job {
	const struct pool_state *st;
	const float *x;
	float *y;
	int64_t *idx;
};

static inline int64_t start_index(int64_t a, int64_t b, int64_t c)
{
	return a * c / b;
}

static inline int64_t end_index(int64_t a, int64_t b, int64_t c)
{
	return ((a + 1) * c + b - 1) / b;
}

/* The window of output position o along dim i: input positions lo,
 * lo + step, ... below hi; for an average also its divisor's extent
 * (the window clipped to the input and its padding). */
static void pool_window(const struct pool_state *st, int i, int64_t o, int64_t *lo, int64_t *hi,
                        int64_t *step, int64_t *padded)
{
	int64_t n = st->in[i];
	*step = 1;
	if (st->kind == POOL_ADAPTIVE_AVG || st->kind == POOL_ADAPTIVE_MAX) {
		*lo = start_index(o, st->out[i], n);
		*hi = end_index(o, st->out[i], n);
		*padded = *hi - *lo;
		return;
	}
	int64_t a = o * st->s[i] - st->p[i];
	if (st->kind == POOL_MAX) {
		int64_t b = a + (st->k[i] - 1) * st->d[i] + 1;
		while (a < 0)
			a += st->d[i];
		*lo = a;
		*hi = b > n ? n : b;
		*step = st->d[i];
		*padded = 0;
		return;
	}
	int64_t b = a + st->k[i];
	if (b > n + st->p[i])
		b = n + st->p[i];
	*padded = b - a;
	*lo = a < 0 ? 0 : a;
	*hi = b > n ? n : b;
}

KERNEL_HOT
static void pool_planes(void *ctx, int64_t pb, int64_t pe)
{
	const struct pool_job *j = ctx;
	const struct pool_state *st = j->st;
	int64_t h = st->in[1], w = st->in[2];
	int64_t in_plane = st->in[0] * h * w, out_plane = st->out[0] * st->out[1] * st->out[2];
	for (int64_t pl = pb; pl < pe; pl++) {
		const float *x = j->x + pl * in_plane;
		float *y = j->y + pl * out_plane;
		int64_t *ix = j->idx ? j->idx + pl * out_plane : NULL;
		int64_t o = 0;
		for (int64_t oz = 0; oz < st->out[0]; oz++)
			for (int64_t oh = 0; oh < st->out[1]; oh++)
				for (int64_t ow = 0; ow < st->out[2]; ow++, o++) {
					int64_t lo[3], hi[3], step[3], ext[3], at[3] = {oz, oh, ow};
					for (int i = 0; i < 3; i++)
						pool_window(st, i, at[i], &lo[i], &hi[i], &step[i],
						            &ext[i]);
					if (st->kind == POOL_MAX || st->kind == POOL_ADAPTIVE_MAX) {
						float best = -INFINITY;
						int64_t arg = (lo[0] * h + lo[1]) * w + lo[2];
						for (int64_t a = lo[0]; a < hi[0]; a += step[0])
							for (int64_t b = lo[1]; b < hi[1]; b += step[1])
								for (int64_t c = lo[2]; c < hi[2];
								     c += step[2]) {
									int64_t q = (a * h + b) * w + c;
									float v = x[q];
									if (v > best || isnan(v)) {
										best = v;
										arg = q;
										if (isnan(v))
											goto found;
									}
								}
					found:
						y[o] = best;
						if (ix)
							ix[o] = arg;
						continue;
					}
					int64_t count = (hi[0] - lo[0]) * (hi[1] - lo[1]) *
					                (hi[2] - lo[2]);
					if (hi[0] <= lo[0] || hi[1] <= lo[1] || hi[2] <= lo[2]) {
						y[o] = 0;
						continue;
					}
					double sum = 0;
					for (int64_t a = lo[0]; a < hi[0]; a++)
						for (int64_t b = lo[1]; b < hi[1]; b++)
							for (int64_t c = lo[2]; c < hi[2]; c++) {
								float v = x[(a * h + b) * w + c];
								sum += st->kind == POOL_LP
								           ? powf(v, (float)st->norm)
								           : v;
							}
					if (st->kind == POOL_ADAPTIVE_AVG) {
						y[o] = (float)sum / (float)count;
						continue;
					}
					int64_t div = st->divisor ? st->divisor
					              : st->count_include_pad
					                  ? ext[0] * ext[1] * ext[2]
					                  : count;
					float avg = (float)(sum / (double)div);
					/* lp_pool: the mean of x^p over the window clipped
					 * to the input, times the kernel's size, to 1/p */
					y[o] = st->kind == POOL_LP
					           ? powf(avg * (float)(st->k[0] * st->k[1] * st->k[2]),
					                  (float)(1.0 / st->norm))
					           : avg;
				}
	}
}

/* Global average pooling: one mean per plane. */
KERNEL_HOT
static void mean_planes(void *ctx, int64_t pb, int64_t pe)
{
	const struct pool_job *j = ctx;
	int64_t n = j->st->in[0] * j->st->in[1] * j->st->in[2];
	for (int64_t pl = pb; pl < pe; pl++) {
		const float *x = j->x + pl * n;
		v8f acc = v8_splat(0);
		int64_t i = 0;
		for (; i + 8 <= n; i += 8)
			acc += v8_load(x + i);
		float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
		            ((acc[4] + acc[5]) + (acc[6] + acc[7]));
		for (; i < n; i++)
			sum += x[i];
		j->y[pl] = sum / (float)n;
	}
}

/* The range [lo, hi) of output columns whose input column
 * ow * s - pad + off lies in [0, w). */
static void valid_cols(int64_t ow, int64_t s, int64_t pad, int64_t off, int64_t w, int64_t *lo,
                       int64_t *hi)
{
	int64_t base = off - pad;
	int64_t l = base >= 0 ? 0 : (-base + s - 1) / s;
	int64_t h = w - 1 - base < 0 ? 0 : (w - 1 - base) / s + 1;
	*lo = l > ow ? ow : l;
	*hi = h > ow ? ow : h < *lo ? *lo : h;
}

/* o[i] = max(o[i], src[i * stride]) over n elements, NaN winning. */
KERNEL_HOT
static void max_into(float *o, const float *src, int64_t n, int64_t stride)
{
	int64_t i = 0;
	if (stride == 1)
		for (; i + 8 <= n; i += 8)
			v8_store(o + i, v8_max_nan(v8_load(o + i), v8_load(src + i)));
	else if (stride == 2)
		for (; i + 9 <= n; i += 8) /* the load reads src[2i + 15] */
			v8_store(o + i, v8_max_nan(v8_load(o + i), v8_load_even(src + 2 * i)));
	for (; i < n; i++) {
		float v = src[i * stride];
		if (v > o[i] || isnan(v))
			o[i] = v;
	}
}

/* Max pooling without depth, dilation or indices: whole rows of the
 * window at once, vectorised along the output row. */
static void max_planes(void *ctx, int64_t pb, int64_t pe)
{
	const struct pool_job *j = ctx;
	const struct pool_state *st = j->st;
	for (int64_t pl = pb; pl < pe; pl++) {
		int64_t h = st->in[1], w = st->in[2], ow = st->out[2];
		const float *x = j->x + pl * h * w;
		float *y = j->y + pl * st->out[1] * ow;
		for (int64_t oh = 0; oh < st->out[1]; oh++) {
			float *o = y + oh * ow;
			for (int64_t i = 0; i < ow; i++)
				o[i] = -INFINITY;
			int64_t h0 = oh * st->s[1] - st->p[1], h1 = h0 + st->k[1];
			h0 = h0 < 0 ? 0 : h0;
			h1 = h1 > h ? h : h1;
			for (int64_t ih = h0; ih < h1; ih++)
				for (int64_t kj = 0; kj < st->k[2]; kj++) {
					int64_t lo, hi;
					valid_cols(ow, st->s[2], st->p[2], kj, w, &lo, &hi);
					if (hi > lo)
						max_into(o + lo,
						         x + ih * w + (lo * st->s[2] + kj - st->p[2]),
						         hi - lo, st->s[2]);
				}
		}
	}
}

static int pool_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct pool_state *st = op->state;
	struct tensor *idx = st->indices ? kop_out(op, 1) : NULL;
	struct pool_job j = {st, kt_f32(kop_input(op)), kt_f32(kop_out(op, 0)),
	                     idx ? (int64_t *)tensor_data(idx) : NULL};
	if (st->kind == POOL_ADAPTIVE_AVG && st->out[0] * st->out[1] * st->out[2] == 1) {
		kpar_for(st->planes, 64, mean_planes, &j);
		return 0;
	}
	int64_t window = st->k[0] * st->k[1] * st->k[2];
	int64_t work = st->out[0] * st->out[1] * st->out[2] * (window > 1 ? window : 4);
	if (st->kind == POOL_MAX && !idx && st->in[0] == 1 && st->k[0] == 1 && st->d[1] == 1 &&
	    st->d[2] == 1) {
		kpar_for(st->planes, work >= 8192 ? 1 : 8192 / work, max_planes, &j);
		return 0;
	}
	kpar_for(st->planes, work >= 8192 ? 1 : 8192 / work, pool_planes, &j);
	return 0;
}

/* ---- max unpooling ---- */

/* Every value of x at its index in its output plane, zeros elsewhere. */
static int unpool_run(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op), *ix = kop_tensor(op, 1, "indices");
	struct tensor *y = kop_out(op, 0);
	if (!ix || ix->dtype != DT_I64)
		return error_set(e, "%s: indices must be int64", op->kernel->name);
	const char *digit = strpbrk(op->kernel->name, "123");
	int nd = digit ? *digit - '0' : 2, xd = x->shape.ndim;
	int64_t planes = 1, in = 1, out = 1;
	for (int i = 0; i < xd - nd; i++)
		planes *= x->shape.dim[i];
	for (int i = xd - nd; i < xd; i++) {
		in *= x->shape.dim[i];
		out *= y->shape.dim[i];
	}
	const float *xv = kt_f32(x);
	const int64_t *iv = (const int64_t *)tensor_data(ix);
	float *yv = kt_f32(y);
	memset(yv, 0, (size_t)(planes * out) * sizeof *yv);
	for (int64_t p = 0; p < planes; p++)
		for (int64_t i = 0; i < in; i++) {
			int64_t at = iv[p * in + i];
			if (at < 0 || at >= out)
				return error_set(e, "%s: index %lld is outside the output (size %lld)",
				                 op->kernel->name, (long long)at, (long long)out);
			yv[p * out + at] = xv[p * in + i];
		}
	return 0;
}

/* ---- mean, sum, amax, amin ---- */

enum reduce_op { RED_MEAN, RED_SUM, RED_MAX, RED_MIN };

struct reduce_state {
	enum reduce_op op;
	int nk, nr; /* kept and reduced dims */
	int64_t ksize[SHAPE_MAX_DIMS], kstride[SHAPE_MAX_DIMS];
	int64_t rsize[SHAPE_MAX_DIMS], rstride[SHAPE_MAX_DIMS];
	int64_t count; /* elements per output */
	int64_t outn;
};

static int reduce_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const struct shape *s = &x->shape;
	bool red[SHAPE_MAX_DIMS] = {false};
	const struct value *dv = op_arg(&op->call, 1, "dim");
	if (!dv || dv->kind == VAL_NONE || (dv->kind == VAL_LIST && dv->u.list.n == 0)) {
		for (int i = 0; i < s->ndim; i++)
			red[i] = true;
	} else {
		int n = dv->kind == VAL_LIST ? dv->u.list.n : 1;
		for (int i = 0; i < n; i++) {
			const struct value *it = dv->kind == VAL_LIST ? &dv->u.list.items[i] : dv;
			if (it->kind != VAL_INT)
				return error_set(e, "%s(): dims must be ints", op->kernel->name);
			int64_t d = it->u.i < 0 ? it->u.i + s->ndim : it->u.i;
			if (d < 0 || d >= s->ndim)
				return error_set(e, "%s(): dim out of range", op->kernel->name);
			red[d] = true;
		}
	}
	struct reduce_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const char *name = op->kernel->name;
	st->op = !strcmp(name, "mean")   ? RED_MEAN
	         : !strcmp(name, "sum")  ? RED_SUM
	         : !strcmp(name, "amax") ? RED_MAX
	                                 : RED_MIN;
	int64_t str[SHAPE_MAX_DIMS];
	kstrides(s, str);
	st->count = 1;
	st->outn = 1;
	for (int i = 0; i < s->ndim; i++) {
		if (red[i]) {
			st->rsize[st->nr] = s->dim[i];
			st->rstride[st->nr++] = str[i];
			st->count *= s->dim[i];
		} else {
			st->ksize[st->nk] = s->dim[i];
			st->kstride[st->nk++] = str[i];
			st->outn *= s->dim[i];
		}
	}
	return 0;
}

struct reduce_job {
	const struct reduce_state *st;
	const float *x;
	float *y;
};

static void reduce_chunk(void *ctx, int64_t ob, int64_t oe)
{
	const struct reduce_job *j = ctx;
	const struct reduce_state *st = j->st;
	for (int64_t o = ob; o < oe; o++) {
		int64_t rem = o, base = 0;
		for (int k = st->nk - 1; k >= 0; k--) {
			base += rem % st->ksize[k] * st->kstride[k];
			rem /= st->ksize[k];
		}
		double acc = st->op == RED_MAX ? -INFINITY : st->op == RED_MIN ? INFINITY : 0;
		bool nan = false;
		for (int64_t r = 0; r < st->count; r++) {
			int64_t rr = r, off = base;
			for (int k = st->nr - 1; k >= 0; k--) {
				off += rr % st->rsize[k] * st->rstride[k];
				rr /= st->rsize[k];
			}
			float v = j->x[off];
			if (st->op == RED_MAX || st->op == RED_MIN) {
				nan = nan || isnan(v);
				acc = st->op == RED_MAX ? (v > acc ? v : acc) : (v < acc ? v : acc);
			} else {
				acc += v;
			}
		}
		if (st->op == RED_MEAN)
			acc /= (double)st->count;
		j->y[o] = nan ? NAN : (float)acc;
	}
}

static int reduce_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct reduce_state *st = op->state;
	struct reduce_job j = {st, kt_f32(kop_input(op)), kt_f32(kop_out(op, 0))};
	kpar_for(st->outn, st->count >= 4096 ? 1 : 4096 / (st->count ? st->count : 1), reduce_chunk,
	         &j);
	return 0;
}

#define POOL(nm, kind)                                                                             \
	{                                                                                          \
		nm, kind, KF_INT_INDEX, pool_prepare, pool_run                                     \
	}
#define UNPOOL(nm, kind)                                                                           \
	{                                                                                          \
		nm, kind, KF_INT_INDEX, NULL, unpool_run                                 \
	}
#define REDUCE(nm)                                                                                 \
	{                                                                                          \
		nm, OP_FUNCTION, 0, reduce_prepare, reduce_run                                     \
	}

const struct kernel kernels_pool[] = {
    POOL("MaxPool2d", OP_MODULE),
    POOL("AvgPool2d", OP_MODULE),
    POOL("AdaptiveAvgPool2d", OP_MODULE),
    POOL("AdaptiveMaxPool2d", OP_MODULE),
    POOL("max_pool2d", OP_FUNCTION),
    POOL("avg_pool2d", OP_FUNCTION),
    POOL("adaptive_avg_pool2d", OP_FUNCTION),
    POOL("adaptive_max_pool2d", OP_FUNCTION),
    POOL("MaxPool1d", OP_MODULE),
    POOL("MaxPool3d", OP_MODULE),
    POOL("AvgPool1d", OP_MODULE),
    POOL("AvgPool3d", OP_MODULE),
    POOL("LPPool1d", OP_MODULE),
    POOL("LPPool2d", OP_MODULE),
    POOL("AdaptiveAvgPool1d", OP_MODULE),
    POOL("AdaptiveAvgPool3d", OP_MODULE),
    POOL("AdaptiveMaxPool1d", OP_MODULE),
    POOL("AdaptiveMaxPool3d", OP_MODULE),
    POOL("max_pool1d", OP_FUNCTION),
    POOL("max_pool3d", OP_FUNCTION),
    POOL("max_pool1d_with_indices", OP_FUNCTION),
    POOL("max_pool2d_with_indices", OP_FUNCTION),
    POOL("max_pool3d_with_indices", OP_FUNCTION),
    POOL("avg_pool1d", OP_FUNCTION),
    POOL("avg_pool3d", OP_FUNCTION),
    POOL("lp_pool1d", OP_FUNCTION),
    POOL("lp_pool2d", OP_FUNCTION),
    POOL("adaptive_avg_pool1d", OP_FUNCTION),
    POOL("adaptive_avg_pool3d", OP_FUNCTION),
    POOL("adaptive_max_pool1d", OP_FUNCTION),
    POOL("adaptive_max_pool3d", OP_FUNCTION),
    POOL("adaptive_max_pool1d_with_indices", OP_FUNCTION),
    POOL("adaptive_max_pool2d_with_indices", OP_FUNCTION),
    POOL("adaptive_max_pool3d_with_indices", OP_FUNCTION),
    UNPOOL("MaxUnpool1d", OP_MODULE),
    UNPOOL("MaxUnpool2d", OP_MODULE),
    UNPOOL("MaxUnpool3d", OP_MODULE),
    UNPOOL("max_unpool1d", OP_FUNCTION),
    UNPOOL("max_unpool2d", OP_FUNCTION),
    UNPOOL("max_unpool3d", OP_FUNCTION),
    REDUCE("mean"),
    REDUCE("sum"),
    REDUCE("amax"),
    REDUCE("amin"),
    {NULL, OP_MODULE, 0, NULL, NULL},
};
