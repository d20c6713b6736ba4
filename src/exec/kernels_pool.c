/* kernels_pool.c - pooling and reductions: max/avg pools (ceil_mode,
 * count_include_pad, divisor_override, dilation), adaptive pools, and
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

enum pool_kind { POOL_MAX, POOL_AVG, POOL_ADAPTIVE_AVG, POOL_ADAPTIVE_MAX };

struct pool_state {
	enum pool_kind kind;
	int64_t planes, h, w, oh, ow;
	int64_t kh, kw, sh, sw, ph, pw, dh, dw;
	bool count_include_pad, indices;
	int64_t divisor; /* 0: none */
};

static int pair_of(const struct value *v, const int64_t *def, int64_t p[2])
{
	if (!v || v->kind == VAL_NONE || (v->kind == VAL_LIST && v->u.list.n == 0)) {
		if (!def)
			return -1;
		p[0] = def[0];
		p[1] = def[1];
		return 0;
	}
	if (v->kind == VAL_LIST && v->u.list.n == 1 && v->u.list.items[0].kind == VAL_INT) {
		p[0] = p[1] = v->u.list.items[0].u.i;
		return 0;
	}
	return value_ints(v, p, 2);
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
	           : strstr(name, "ax") ? POOL_MAX
	                                : POOL_AVG;
	int nd = x->shape.ndim;
	st->h = x->shape.dim[nd - 2];
	st->w = x->shape.dim[nd - 1];
	st->oh = y->shape.dim[nd - 2];
	st->ow = y->shape.dim[nd - 1];
	st->planes = st->h > 0 && st->w > 0 ? shape_numel(&x->shape) / (st->h * st->w) : 0;
	st->count_include_pad = true;
	int64_t k[2] = {1, 1}, s[2], p[2] = {0, 0}, d[2] = {1, 1};
	if (st->kind == POOL_ADAPTIVE_MAX)
		st->indices = m ? module_attr_bool(m, "return_indices", false)
		                : bool_arg(op, 2, "return_indices", false);
	if (st->kind == POOL_ADAPTIVE_AVG || st->kind == POOL_ADAPTIVE_MAX)
		return 0;
	if (m) {
		module_attr_ints(m, "kernel_size", k, 2);
		module_attr_ints(m, "stride", s, 2);
		module_attr_ints(m, "padding", p, 2);
		if (module_attr(m, "dilation"))
			module_attr_ints(m, "dilation", d, 2);
		st->count_include_pad = module_attr_bool(m, "count_include_pad", true);
		st->indices = module_attr_bool(m, "return_indices", false);
		const struct value *dv = module_attr(m, "divisor_override");
		if (dv && dv->kind == VAL_INT)
			st->divisor = dv->u.i;
	} else {
		static const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
		if (pair_of(op_arg(&op->call, 1, "kernel_size"), NULL, k) < 0 ||
		    pair_of(op_arg(&op->call, 2, "stride"), k, s) < 0 ||
		    pair_of(op_arg(&op->call, 3, "padding"), zero, p) < 0)
			return error_set(e, "%s(): bad kernel_size, stride or padding", name);
		if (st->kind == POOL_MAX) {
			if (pair_of(op_arg(&op->call, 4, "dilation"), one, d) < 0)
				return error_set(e, "%s(): bad dilation", name);
			st->indices = bool_arg(op, 6, "return_indices", false);
		} else {
			st->count_include_pad = bool_arg(op, 5, "count_include_pad", true);
			const struct value *dv = op_arg(&op->call, 6, "divisor_override");
			if (dv && dv->kind == VAL_INT)
				st->divisor = dv->u.i;
		}
	}
	st->kh = k[0];
	st->kw = k[1];
	st->sh = s[0];
	st->sw = s[1];
	st->ph = p[0];
	st->pw = p[1];
	st->dh = d[0];
	st->dw = d[1];
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

KERNEL_HOT
static void pool_planes(void *ctx, int64_t pb, int64_t pe)
{
	const struct pool_job *j = ctx;
	const struct pool_state *st = j->st;
	for (int64_t pl = pb; pl < pe; pl++) {
		const float *x = j->x + pl * st->h * st->w;
		float *y = j->y + pl * st->oh * st->ow;
		int64_t *ix = j->idx ? j->idx + pl * st->oh * st->ow : NULL;
		for (int64_t oh = 0; oh < st->oh; oh++)
			for (int64_t ow = 0; ow < st->ow; ow++) {
				int64_t h0, h1, w0, w1, hstep = 1, wstep = 1;
				int64_t o = oh * st->ow + ow;
				if (st->kind == POOL_ADAPTIVE_AVG ||
				    st->kind == POOL_ADAPTIVE_MAX) {
					h0 = start_index(oh, st->oh, st->h);
					h1 = end_index(oh, st->oh, st->h);
					w0 = start_index(ow, st->ow, st->w);
					w1 = end_index(ow, st->ow, st->w);
				} else if (st->kind == POOL_MAX) {
					h0 = oh * st->sh - st->ph;
					w0 = ow * st->sw - st->pw;
					h1 = h0 + (st->kh - 1) * st->dh + 1;
					w1 = w0 + (st->kw - 1) * st->dw + 1;
					if (h1 > st->h)
						h1 = st->h;
					if (w1 > st->w)
						w1 = st->w;
					while (h0 < 0)
						h0 += st->dh;
					while (w0 < 0)
						w0 += st->dw;
					hstep = st->dh;
					wstep = st->dw;
				} else {
					h0 = oh * st->sh - st->ph;
					w0 = ow * st->sw - st->pw;
					h1 = h0 + st->kh;
					w1 = w0 + st->kw;
					if (h1 > st->h + st->ph)
						h1 = st->h + st->ph;
					if (w1 > st->w + st->pw)
						w1 = st->w + st->pw;
					int64_t pool = (h1 - h0) * (w1 - w0);
					h0 = h0 < 0 ? 0 : h0;
					w0 = w0 < 0 ? 0 : w0;
					h1 = h1 > st->h ? st->h : h1;
					w1 = w1 > st->w ? st->w : w1;
					if (h0 >= h1 || w0 >= w1) {
						y[o] = 0;
						continue;
					}
					double sum = 0;
					for (int64_t ih = h0; ih < h1; ih++)
						for (int64_t iw = w0; iw < w1; iw++)
							sum += x[ih * st->w + iw];
					int64_t div = st->divisor ? st->divisor
					              : st->count_include_pad
					                  ? pool
					                  : (h1 - h0) * (w1 - w0);
					y[o] = (float)(sum / (double)div);
					continue;
				}
				if (st->kind == POOL_ADAPTIVE_AVG) {
					float sum = 0;
					for (int64_t ih = h0; ih < h1; ih++)
						for (int64_t iw = w0; iw < w1; iw++)
							sum += x[ih * st->w + iw];
					y[o] = sum / (float)((h1 - h0) * (w1 - w0));
					continue;
				}
				float best = -INFINITY;
				int64_t at = h0 * st->w + w0;
				for (int64_t ih = h0; ih < h1; ih += hstep)
					for (int64_t iw = w0; iw < w1; iw += wstep) {
						float v = x[ih * st->w + iw];
						if (v > best || isnan(v)) {
							best = v;
							at = ih * st->w + iw;
							if (isnan(v))
								goto found;
						}
					}
			found:
				y[o] = best;
				if (ix)
					ix[o] = at;
			}
	}
}

/* Global average pooling: one mean per plane. */
KERNEL_HOT
static void mean_planes(void *ctx, int64_t pb, int64_t pe)
{
	const struct pool_job *j = ctx;
	int64_t n = j->st->h * j->st->w;
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

/* Max pooling without dilation or indices: whole rows of the window at
 * once, vectorised along the output row. */
static void max_planes(void *ctx, int64_t pb, int64_t pe)
{
	const struct pool_job *j = ctx;
	const struct pool_state *st = j->st;
	for (int64_t pl = pb; pl < pe; pl++) {
		const float *x = j->x + pl * st->h * st->w;
		float *y = j->y + pl * st->oh * st->ow;
		for (int64_t oh = 0; oh < st->oh; oh++) {
			float *o = y + oh * st->ow;
			for (int64_t i = 0; i < st->ow; i++)
				o[i] = -INFINITY;
			int64_t h0 = oh * st->sh - st->ph, h1 = h0 + st->kh;
			h0 = h0 < 0 ? 0 : h0;
			h1 = h1 > st->h ? st->h : h1;
			for (int64_t ih = h0; ih < h1; ih++)
				for (int64_t kj = 0; kj < st->kw; kj++) {
					int64_t lo, hi;
					valid_cols(st->ow, st->sw, st->pw, kj, st->w, &lo, &hi);
					if (hi > lo)
						max_into(o + lo,
						         x + ih * st->w +
						             (lo * st->sw + kj - st->pw),
						         hi - lo, st->sw);
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
	if (st->kind == POOL_ADAPTIVE_AVG && st->oh == 1 && st->ow == 1) {
		kpar_for(st->planes, 64, mean_planes, &j);
		return 0;
	}
	int64_t work = st->oh * st->ow * (st->kh * st->kw > 1 ? st->kh * st->kw : 4);
	if (st->kind == POOL_MAX && !idx && st->dh == 1 && st->dw == 1) {
		kpar_for(st->planes, work >= 8192 ? 1 : 8192 / work, max_planes, &j);
		return 0;
	}
	kpar_for(st->planes, work >= 8192 ? 1 : 8192 / work, pool_planes, &j);
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

/* A sum or mean that is not float32 to float32 (the count of a mask),
 * done by kernels_reduce.c. */
static bool reduce_generic(struct kop *op)
{
	return kop_input(op)->dtype != DT_F32 || kop_out(op, 0)->dtype != DT_F32;
}

static int reduce_prepare(struct kop *op, struct error *e)
{
	if (reduce_generic(op))
		return kreduce_prepare(op, e);
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
	if (reduce_generic(op))
		return kreduce_run(op, e);
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
#define REDUCE(nm)                                                                                 \
	{                                                                                          \
		nm, OP_FUNCTION, KF_ANY_DTYPE, reduce_prepare, reduce_run                          \
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
    REDUCE("mean"),
    REDUCE("sum"),
    REDUCE("amax"),
    REDUCE("amin"),
    {NULL, OP_MODULE, 0, NULL, NULL},
};
