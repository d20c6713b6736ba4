/* kernels_resample.c - resizing: Upsample, UpsamplingNearest2d,
 * UpsamplingBilinear2d, F.interpolate and F.upsample in every mode; and
 * sampling at coordinates: F.grid_sample and index_pyramid.
 * (The pad layers and the pixel and channel shuffles only move elements:
 * they are layout kernels, in kernels_layout.c.)
 *
 * Each resized dimension is a list of taps per output index, source
 * indices and weights worked out once with PyTorch's CPU index rules
 * (UpSample.h): the nearest modes one tap, linear two, cubic four
 * (A = -0.75, edges clamped), area the window of adaptive average pooling.
 * The dimensions are resized one at a time, the last first, which is the
 * order PyTorch's separable kernels sum in. Index arithmetic is in float
 * where PyTorch's is, so that the same source pixels are picked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels_resample.h"
#include "exec/kernels.h"
#include "core/util.h"

/* The taps of one dimension: output index o reads idx[begin[o] ..
 * begin[o+1]) with weights w. */
struct taps {
	int64_t in, out;
	int64_t *begin, *idx;
	float *w;
};

struct resize_state {
	int nd;
	int64_t outer; /* N * C */
	struct taps t[3];
};

/* compute_scales_value: 1 / scale when one was given, else in / out. */
static float scale_value(double scale, int64_t in, int64_t out)
{
	return scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

/* area_pixel_compute_scale */
static float area_scale(bool align, double scale, int64_t in, int64_t out)
{
	if (align)
		return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
	return scale_value(scale, in, out);
}

/* area_pixel_compute_source_index */
static float source_index(float ratio, int64_t o, bool align, bool cubic)
{
	if (align)
		return ratio * (float)o;
	float s = (float)(ratio * (o + 0.5) - 0.5);
	return !cubic && s < 0 ? 0.0f : s;
}

static int64_t clamp_index(int64_t i, int64_t n)
{
	return i < 0 ? 0 : i >= n ? n - 1 : i;
}

static float cubic1(float x, float a)
{
	return ((a + 2) * x - (a + 3)) * x * x + 1;
}

static float cubic2(float x, float a)
{
	return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

static void add_tap(struct taps *t, int64_t *n, int64_t idx, float w)
{
	t->idx[*n] = idx;
	t->w[*n] = w;
	(*n)++;
}

struct linear_tap resize_linear_tap(int64_t in, int64_t out, int64_t o, bool align, double scale)
{
	float real = source_index(area_scale(align, scale, in, out), o, align, false);
	int64_t i0 = (int64_t)real < in - 1 ? (int64_t)real : in - 1;
	float l1 = real - (float)i0;
	l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
	return (struct linear_tap){i0, i0 + (i0 < in - 1), l1};
}

struct cubic_tap resize_cubic_tap(int64_t in, int64_t out, int64_t o, bool align, double scale)
{
	float real = source_index(area_scale(align, scale, in, out), o, align, true);
	int64_t i = (int64_t)floorf(real);
	float x = real - (float)i, a = -0.75f;
	struct cubic_tap ct = {{0}, {cubic2(x + 1.0f, a), cubic1(x, a), cubic1(1.0f - x, a),
	                             cubic2(1.0f - x + 1.0f, a)}};
	for (int j = 0; j < 4; j++)
		ct.i[j] = clamp_index(i - 1 + j, in);
	return ct;
}

/* The taps of output index o in mode m. */
static void taps_of(struct taps *t, int64_t *n, int64_t o, enum resize_mode m, bool align,
                    double scale)
{
	int64_t in = t->in, out = t->out;
	switch (m) {
	case RESIZE_NEAREST: {
		int64_t i = out == in ? o : out == 2 * in ? o >> 1 : -1;
		if (i < 0) {
			float s = scale_value(scale, in, out);
			i = (int64_t)floorf((float)o * s);
			i = i < in - 1 ? i : in - 1;
		}
		add_tap(t, n, i, 1);
		return;
	}
	case RESIZE_NEAREST_EXACT: {
		float s = scale_value(scale, in, out);
		int64_t i = (int64_t)floorf((float)((o + 0.5) * s));
		add_tap(t, n, i < in - 1 ? i : in - 1, 1);
		return;
	}
	case RESIZE_LINEAR: {
		if (out == in) {
			add_tap(t, n, o, 1);
			return;
		}
		struct linear_tap lt = resize_linear_tap(in, out, o, align, scale);
		add_tap(t, n, lt.i0, 1 - lt.l1);
		add_tap(t, n, lt.i1, lt.l1);
		return;
	}
	case RESIZE_CUBIC: {
		struct cubic_tap ct = resize_cubic_tap(in, out, o, align, scale);
		for (int j = 0; j < 4; j++)
			add_tap(t, n, ct.i[j], ct.w[j]);
		return;
	}
	case RESIZE_AREA: {
		int64_t lo = o * in / out, hi = ((o + 1) * in + out - 1) / out;
		for (int64_t i = lo; i < hi; i++)
			add_tap(t, n, i, 1.0f / (float)(hi - lo));
		return;
	}
	}
}

/* The most taps an output index of this mode reads. */
static int64_t most_taps(enum resize_mode m, int64_t in, int64_t out)
{
	return m == RESIZE_AREA ? in / out + 2 : 4;
}

struct resize_state *resize_state_new(const struct resize *r, const struct shape *in,
                                      size_t *scratch_bytes)
{
	/* the state and every dimension's taps in one block (freed with
	 * free()) */
	size_t bytes = sizeof(struct resize_state);
	for (int k = 0; k < r->nd; k++) {
		int64_t most = most_taps(r->mode, in->dim[2 + k], r->out[k]);
		bytes += (size_t)(r->out[k] + 1 + r->out[k] * most) * sizeof(int64_t) +
		         (size_t)(r->out[k] * most) * sizeof(float);
	}
	struct resize_state *st = xcalloc(1, bytes);
	char *p = (char *)(st + 1);
	st->nd = r->nd;
	st->outer = in->dim[0] * in->dim[1];
	size_t scratch = 0;
	int64_t cur = st->outer;
	for (int k = 0; k < r->nd; k++)
		cur *= in->dim[2 + k];
	for (int k = r->nd - 1; k >= 0; k--) {
		struct taps *t = &st->t[k];
		t->in = in->dim[2 + k];
		t->out = r->out[k];
		int64_t most = most_taps(r->mode, t->in, t->out);
		t->begin = (int64_t *)p;
		t->idx = t->begin + t->out + 1;
		t->w = (float *)(t->idx + t->out * most);
		p = (char *)(t->w + t->out * most);
		int64_t n = 0;
		for (int64_t o = 0; o < t->out; o++) {
			t->begin[o] = n;
			taps_of(t, &n, o, r->mode, r->align_corners, r->scale[k]);
		}
		t->begin[t->out] = n;
		cur = cur / t->in * t->out;
		if (k > 0)
			scratch += (size_t)cur * sizeof(float);
	}
	*scratch_bytes = scratch;
	return st;
}

static int resize_prepare(struct kop *op, struct error *e)
{
	struct op_call call = op->call;
	call.err = e;
	struct resize r;
	const struct value *xv = op_tensor(&call, 0, "input");
	if (!xv || resize_read(&call, xv, &r) < 0)
		return -1;
	op->state = resize_state_new(&r, &kop_input(op)->shape, &op->scratch_bytes);
	return 0;
}

struct resize_job {
	const struct taps *t;
	const float *x;
	float *y;
	int64_t inner;
};

/* Rows [rb, re) of a pass: each row is one [in, inner] block resized to
 * [out, inner]. */
KERNEL_HOT
static void resize_rows(void *ctx, int64_t rb, int64_t re)
{
	const struct resize_job *j = ctx;
	const struct taps *t = j->t;
	int64_t inner = j->inner;
	for (int64_t r = rb; r < re; r++) {
		const float *x = j->x + r * t->in * inner;
		float *y = j->y + r * t->out * inner;
		for (int64_t o = 0; o < t->out; o++) {
			float *yo = y + o * inner;
			for (int64_t i = 0; i < inner; i++)
				yo[i] = 0;
			for (int64_t q = t->begin[o]; q < t->begin[o + 1]; q++) {
				const float *xs = x + t->idx[q] * inner;
				float w = t->w[q];
				for (int64_t i = 0; i < inner; i++)
					yo[i] += w * xs[i];
			}
		}
	}
}

void resize_apply(const struct resize_state *st, const float *src, float *dst, float *scratch)
{
	int64_t dims[3];
	for (int k = 0; k < st->nd; k++)
		dims[k] = st->t[k].in;
	for (int k = st->nd - 1; k >= 0; k--) {
		int64_t rows = st->outer, inner = 1;
		for (int q = 0; q < k; q++)
			rows *= dims[q];
		for (int q = k + 1; q < st->nd; q++)
			inner *= dims[q];
		float *to = k == 0 ? dst : scratch;
		struct resize_job j = {&st->t[k], src, to, inner};
		kpar_for(rows, 1, resize_rows, &j);
		dims[k] = st->t[k].out;
		src = to;
		scratch += rows * st->t[k].out * inner;
	}
}

static int resize_run(struct kop *op, struct error *e)
{
	(void)e;
	resize_apply(op->state, kt_f32(kop_input(op)), kt_f32(kop_out(op, 0)), op->scratch);
	return 0;
}

/* ---- sampling at coordinates: grid_sample, index_pyramid ----
 *
 * As PyTorch's CPU kernel (GridSamplerKernel.cpp, its AVX2 build), in
 * float, operation for operation: a grid coordinate in [-1, 1] becomes a
 * pixel position, (v + 1) * ((size - 1) / 2) aligned at the corners,
 * fma(v + 1, size / 2, -0.5) otherwise; the padding mode clips it
 * (border) or reflects and clips it (reflection); bilinear mode weighs the
 * four neighbours by the distances to the floor and accumulates them nw,
 * ne, sw, se with fused multiply-adds, nearest mode reads the pixel
 * rounded half to even; pixels outside the input read 0. The compiler
 * fuses PyTorch's multiply-adds, so they are fmaf here, and these
 * functions keep every other product and sum separate. */

struct grid_axis {
	float scale, max_val, low, twice_span;
	bool align, empty;
};

static struct grid_axis grid_axis_of(int64_t size, bool align)
{
	struct grid_axis a = {.max_val = (float)(size - 1), .align = align};
	a.scale = (float)(align ? size - 1 : size) / 2;
	a.low = align ? 0.0f : -0.5f;
	a.twice_span = (float)(align ? size - 1 : size) * 2;
	a.empty = align ? size <= 1 : size <= 0;
	return a;
}

/* clamp_max(max_val, clamp_min(0, v)): NaN becomes 0 */
static float grid_clip(const struct grid_axis *a, float v)
{
	v = v > 0 ? v : 0.0f;
	return v < a->max_val ? v : a->max_val;
}

static float grid_reflect(const struct grid_axis *a, float v)
{
	if (a->empty)
		return 0;
	float in = fabsf(v - a->low);
	float flips = truncf(in / a->twice_span);
	float extra = fmaf(-flips, a->twice_span, in);
	float other = a->twice_span - extra;
	return (extra < other ? extra : other) + a->low;
}

/* The pixel position of grid coordinate v along axis a. */
static float grid_source(const struct grid_axis *a, enum grid_padding p, float v)
{
	float x = a->align ? (v + 1) * a->scale : fmaf(v + 1, a->scale, -0.5f);
	if (p == GRID_BORDER)
		return grid_clip(a, x);
	if (p == GRID_REFLECTION)
		return grid_clip(a, grid_reflect(a, x));
	return x;
}

/* The (up to) four pixels a sample reads: offsets in an H x W plane,
 * whether each is inside, and their weights. */
struct grid_taps {
	int64_t off[4];
	bool in[4];
	float w[4];
	int n;
};

static void grid_tap(struct grid_taps *t, float x, float y, int64_t h, int64_t w, float weight)
{
	int k = t->n++;
	t->in[k] = x > -1 && x < (float)w && y > -1 && y < (float)h;
	t->off[k] = t->in[k] ? (int64_t)y * w + (int64_t)x : 0;
	t->w[k] = weight;
}

static void grid_taps_of(struct grid_taps *t, enum grid_mode mode, float x, float y, int64_t h,
                         int64_t w)
{
	t->n = 0;
	if (mode == GRID_NEAREST) {
		grid_tap(t, nearbyintf(x), nearbyintf(y), h, w, 1);
		return;
	}
	float xw = floorf(x), yn = floorf(y);
	float dw = x - xw, de = 1 - dw, dn = y - yn, ds = 1 - dn;
	grid_tap(t, xw, yn, h, w, ds * de);
	grid_tap(t, xw + 1, yn, h, w, ds * dw);
	grid_tap(t, xw, yn + 1, h, w, dn * de);
	grid_tap(t, xw + 1, yn + 1, h, w, dn * dw);
}

/* One channel's sample: the nearest pixel, or the weighted sum as PyTorch
 * accumulates it. */
static float grid_read(const struct grid_taps *t, const float *plane)
{
	if (t->n == 1)
		return t->in[0] ? plane[t->off[0]] : 0.0f;
	float v[4];
	for (int k = 0; k < 4; k++)
		v[k] = t->in[k] ? plane[t->off[k]] : 0.0f;
	float sum = v[0] * t->w[0];
	for (int k = 1; k < 4; k++)
		sum = fmaf(v[k], t->w[k], sum);
	return sum;
}

struct grid_sample_job {
	struct grid_sampling g;
	const float *x, *grid;
	float *y;
	int64_t c, h, w, points; /* points: H_out * W_out per image */
};

static void grid_sample_rows(void *ctx, int64_t rb, int64_t re)
{
	const struct grid_sample_job *j = ctx;
	struct grid_axis ax = grid_axis_of(j->w, j->g.align_corners);
	struct grid_axis ay = grid_axis_of(j->h, j->g.align_corners);
	for (int64_t r = rb; r < re; r++) { /* r: image * points + point */
		int64_t b = r / j->points, p = r % j->points;
		const float *g = j->grid + r * 2;
		struct grid_taps t;
		grid_taps_of(&t, j->g.mode, grid_source(&ax, j->g.padding, g[0]),
		             grid_source(&ay, j->g.padding, g[1]), j->h, j->w);
		for (int64_t c = 0; c < j->c; c++)
			j->y[(b * j->c + c) * j->points + p] =
			    grid_read(&t, j->x + (b * j->c + c) * j->h * j->w);
	}
}

static int grid_sample_prepare(struct kop *op, struct error *e)
{
	struct op_call call = op->call;
	call.err = e;
	struct grid_sampling *g = xcalloc(1, sizeof *g);
	op->state = g;
	if (grid_sampling_read(&call, g) < 0)
		return -1;
	if (g->mode == GRID_BICUBIC)
		return error_set(e, "grid_sample(): mode='bicubic' is not computed by graft run");
	return 0;
}

static int grid_sample_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_tensor(op, 0, "input"), *grid = kop_tensor(op, 1, "grid");
	const struct grid_sampling *g = op->state;
	struct grid_sample_job j = {
	    .g = *g, .x = kt_f32(x), .grid = kt_f32(grid), .y = kt_f32(kop_out(op, 0))};
	j.c = x->shape.dim[1];
	j.h = x->shape.dim[2];
	j.w = x->shape.dim[3];
	j.points = grid->shape.dim[1] * grid->shape.dim[2];
	kpar_for(x->shape.dim[0] * j.points, 64, grid_sample_rows, &j);
	return 0;
}

struct pyramid_job {
	const struct value *levels;
	int nlevels;
	const float *coords;
	float *y;
	int64_t radius, h, w, channels; /* channels: the output's */
};

/* The torchvision helper's normalisation, 2 * v / (size - 1) - 1 (left as
 * it is along a height of 1), then grid_sample's, aligned at the corners,
 * with zeros padding. */
static float pyramid_source(float v, int64_t size, bool normalise)
{
	struct grid_axis a = grid_axis_of(size, true);
	if (normalise)
		v = 2 * v / (float)(size - 1) - 1;
	return grid_source(&a, GRID_ZEROS, v);
}

static void pyramid_points(void *ctx, int64_t pb, int64_t pe)
{
	const struct pyramid_job *j = ctx;
	int64_t side = 2 * j->radius + 1, hw = j->h * j->w;
	for (int64_t n = pb; n < pe; n++) { /* n: b * h * w + pixel */
		int64_t b = n / hw, p = n % hw;
		float cx = j->coords[b * 2 * hw + p], cy = j->coords[(b * 2 + 1) * hw + p];
		int64_t ch = 0;
		for (int l = 0; l < j->nlevels; l++) {
			const struct tensor *lv = &j->levels[l].u.tensor.t;
			int64_t lc = lv->shape.dim[1], lh = lv->shape.dim[2], lw = lv->shape.dim[3];
			const float *vol = kt_f32(lv) + n * lc * lh * lw;
			for (int64_t i = 0; i < side; i++)
				for (int64_t k = 0; k < side; k++) {
					struct grid_taps t;
					float x = cx + (float)(i - j->radius);
					float y = cy + (float)(k - j->radius);
					grid_taps_of(&t, GRID_BILINEAR, pyramid_source(x, lw, true),
					             pyramid_source(y, lh, lh > 1), lh, lw);
					for (int64_t c = 0; c < lc; c++)
						j->y[(b * j->channels + ch + (c * side + i) * side + k) * hw + p] =
						    grid_read(&t, vol + c * lh * lw);
				}
			ch += lc * side * side;
			cx = cx / 2;
			cy = cy / 2;
		}
	}
}

static int index_pyramid_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct value *pyr = op_arg(&op->call, 0, "corr_pyramid");
	const struct tensor *coords = kop_tensor(op, 1, "centroids_coords");
	const struct value *rv = op_arg(&op->call, 2, "radius");
	struct tensor *y = kop_out(op, 0);
	struct pyramid_job j = {
	    .levels = pyr->u.list.items,
	    .nlevels = pyr->u.list.n,
	    .coords = kt_f32(coords),
	    .y = kt_f32(y),
	    .radius = rv->u.i,
	    .h = coords->shape.dim[2],
	    .w = coords->shape.dim[3],
	    .channels = y->shape.dim[1],
	};
	kpar_for(coords->shape.dim[0] * j.h * j.w, 16, pyramid_points, &j);
	return 0;
}

const struct kernel kernels_resample[] = {
    {"Upsample", OP_MODULE, 0, resize_prepare, resize_run},
    {"UpsamplingNearest2d", OP_MODULE, 0, resize_prepare, resize_run},
    {"UpsamplingBilinear2d", OP_MODULE, 0, resize_prepare, resize_run},
    {"interpolate", OP_FUNCTION, 0, resize_prepare, resize_run},
    {"upsample", OP_FUNCTION, 0, resize_prepare, resize_run},
    {"upsample_nearest", OP_FUNCTION, 0, resize_prepare, resize_run},
    {"upsample_bilinear", OP_FUNCTION, 0, resize_prepare, resize_run},
    {"grid_sample", OP_FUNCTION, 0, grid_sample_prepare, grid_sample_run},
    {"index_pyramid", OP_FUNCTION, 0, NULL, index_pyramid_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
