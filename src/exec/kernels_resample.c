/* kernels_resample.c - resizing: Upsample, UpsamplingNearest2d,
 * UpsamplingBilinear2d, F.interpolate and F.upsample in every mode.
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

const struct kernel kernels_resample[] = {
    {"Upsample", OP_MODULE, 0, resize_prepare, resize_run},
    {"UpsamplingNearest2d", OP_MODULE, 0, resize_prepare, resize_run},
    {"UpsamplingBilinear2d", OP_MODULE, 0, resize_prepare, resize_run},
    {"interpolate", OP_FUNCTION, 0, resize_prepare, resize_run},
    {"upsample", OP_FUNCTION, 0, resize_prepare, resize_run},
    {"upsample_nearest", OP_FUNCTION, 0, resize_prepare, resize_run},
    {"upsample_bilinear", OP_FUNCTION, 0, resize_prepare, resize_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
