/* kernels_conv.c - convolutions 1-D, 2-D and 3-D, transposed ones, and
 * Fold/Unfold: nn.Conv1d/2d/3d, nn.ConvTranspose1d/2d/3d, their functions,
 * nn.Fold and nn.Unfold.
 *
 * Every convolution is a 3-D one here: a 2-D one has depth 1, a 1-D one
 * height 1 too. Five routes, picked once when the plan is made (the
 * products through kgemm, so BLAS calls live in kernels_linear.c):
 *   - 1x1, stride 1, no padding: the input already is the matrix, one
 *     sgemm per image and group;
 *   - 3x3, stride 1, no groups, enough channels and tiles: Winograd's
 *     F(2x2, 3x3) (Lavin and Gray, 2015): 16 products of [out, in] x
 *     [in, tiles], 2.25 times fewer multiplications than the direct
 *     convolution, input and output transforms vectorised over eight
 *     tiles, the output pass fused in. (F(4x4, 3x3) was faster still, but
 *     four times further from float64 results on Inception v3 than
 *     PyTorch's float32: doc/performance.md.)
 *   - depthwise (one input channel per group): a direct loop over output
 *     rows, vectorised along the row;
 *   - anything else: im2col into scratch, a block of output rows (over
 *     depth and height) at a time so the column matrix stays small, and
 *     sgemm;
 *   - transposed: the adjoint of the convolution from its output to its
 *     input (the state describes that convolution: its weight is the
 *     transposed one's, [in, out/groups, k...]); per block, the columns
 *     W^T x by sgemm, scattered and summed into the output (col2im).
 * The depthwise and Winograd routes are 2-D only.
 * Unfold is im2col of whole images, Fold col2im.
 * The output pass (bias, a folded BatchNorm's scale and shift, a fused
 * activation) runs on each block while it is still in cache. Padding modes
 * other than zeros pad a copy of the input first. */
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "exec/kvec.h"
#include "core/util.h"

enum conv_route { CONV_GEMM1X1, CONV_DEPTHWISE, CONV_IM2COL, CONV_WINOGRAD, CONV_TRANSPOSED };
enum pad_mode { PAD_ZEROS, PAD_REFLECT, PAD_REPLICATE, PAD_CIRCULAR };

/* Floats of im2col columns per block, and of Winograd's transformed input
 * and output per block. */
#define CONV_COL_BUDGET ((int64_t)1 << 20)
#define WINO_BUDGET     ((int64_t)1 << 20)
#define WINO_MIN_BLOCK  256
/* Widest padded input row of the Winograd route (floats). */
#define WINO_MAX_ROW 4096
/* Winograd pays off from this many channels in and out, and 2x2 tiles
 * per image: below, its 16/9 larger filters cost more than the products
 * save (7x7 outputs, ResNet's last stage, were as slow as im2col). */
#define WINO_MIN_CHANNELS 16
#define WINO_MIN_TILES    32
/* Largest kernel side of the depthwise route. */
#define DW_KMAX 11

struct conv_state {
	enum conv_route route;
	enum pad_mode pad_mode;
	int64_t n, c, z, h, w; /* input (depth z), n = 1 for an unbatched input */
	int64_t o, oz, oh, ow; /* output */
	int64_t kz, kh, kw, sz, sh, sw, dz, dh, dw;
	int64_t pf, pt, pl, pk, pb, pr; /* padding: front, top, left, back, bottom, right */
	int64_t groups, cg, og;         /* channels per group in and out */
	int64_t pz, ph, pw;             /* the padded copy (pad modes other than zeros) */
	int64_t block_rows; /* output rows (depth x height) per im2col block, tile rows per
	                       Winograd block */
	int64_t th, tw, wh, ww; /* Winograd: tiles, and the padded input copy's size */
	const float *wino;      /* Winograd: the filters transformed, [16][o][c] */
	const float *weight;    /* [o, cg, kz, kh, kw] */
	const float *scale;     /* per output channel, or NULL */
	float *shift;           /* per output channel (into shift_store), or NULL */
	float shift_store[];
};

/* n ints from an int, a one-item tuple or n ints. */
static int ints_of(const struct value *v, int64_t *p, int n)
{
	if (v && v->kind == VAL_LIST && v->u.list.n == 1 && v->u.list.items[0].kind == VAL_INT)
		v = &v->u.list.items[0];
	return v ? value_ints(v, p, n) : -1;
}

/* The optional argument at pos/kw into the last n of p[3] (left as they
 * are when absent or None). */
static int ints_arg(const struct kop *op, int pos, const char *kw, int n, int64_t p[3])
{
	const struct value *v = op_arg(&op->call, pos, kw);
	if (!v || v->kind == VAL_NONE)
		return 0;
	return ints_of(v, p + 3 - n, n);
}

/* Padding of one dimension from ints or 'same'/'valid'. */
static void conv_pad(const struct value *pad, int nd, int i, int64_t k, int64_t d, int64_t *l,
                     int64_t *r)
{
	if (pad && pad->kind == VAL_STR) {
		int64_t total = strcmp(pad->u.s, "same") == 0 ? d * (k - 1) : 0;
		*l = total / 2;
		*r = total - *l;
		return;
	}
	int64_t p[3] = {0, 0, 0};
	if (pad)
		ints_of(pad, p, nd);
	*l = *r = p[i];
}

static size_t wino_prepare(struct conv_state *st);

static int conv_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op), *w, *b;
	struct tensor *y = kop_out(op, 0);
	const char *name = op->kernel->name;
	bool tr = strstr(name, "ranspose") != NULL;
	/* sizes of the three spatial dims, depth first; the missing ones 1 (0
	 * for padding) */
	int64_t s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, groups = 1;
	const struct value *pad;
	const char *mode = "zeros";
	const struct module *m = op->call.module;
	if (m) {
		w = kop_param(op, "weight");
		b = kop_param(op, "bias");
	} else {
		w = kop_tensor(op, 1, "weight");
		b = kop_tensor(op, 2, "bias");
	}
	if (!w || w->shape.ndim < 3 || w->shape.ndim > 5)
		return error_set(e, "%s: no weight of 3 to 5 dimensions", name);
	int nd = w->shape.ndim - 2;
	if (m) {
		module_attr_ints(m, "stride", s + 3 - nd, nd);
		module_attr_ints(m, "dilation", d + 3 - nd, nd);
		groups = module_attr_int(m, "groups", 1);
		pad = module_attr(m, "padding");
		mode = module_attr_str(m, "padding_mode", "zeros");
	} else {
		const struct value *v;
		if (ints_arg(op, 3, "stride", nd, s) < 0 ||
		    ints_arg(op, tr ? 7 : 5, "dilation", nd, d) < 0)
			return error_set(e, "%s(): bad stride or dilation", name);
		if ((v = op_arg(&op->call, 6, "groups")) && v->kind == VAL_INT)
			groups = v->u.i;
		pad = op_arg(&op->call, 4, "padding");
		if (pad && pad->kind == VAL_NONE)
			pad = NULL;
	}
	/* the image the windows run over, and the planes they make: the
	 * input and output, or the other way round when transposed */
	const struct tensor *img = tr ? y : x, *out = tr ? x : y;
	int bat = img->shape.ndim == nd + 2;
	int64_t o = w->shape.dim[0];
	int64_t ksz[3] = {1, 1, 1}, isz[3] = {1, 1, 1}, osz[3] = {1, 1, 1};
	for (int i = 0; i < nd; i++) {
		ksz[3 - nd + i] = w->shape.dim[2 + i];
		isz[3 - nd + i] = img->shape.dim[bat + 1 + i];
		osz[3 - nd + i] = out->shape.dim[bat + 1 + i];
	}
	int64_t yh = osz[1], yw = osz[2];
	bool tiles = (yh + 1) / 2 * ((yw + 1) / 2) >= WINO_MIN_TILES;
	bool wino = !tr && nd == 2 && ksz[1] == 3 && ksz[2] == 3 && s[1] == 1 && s[2] == 1 &&
	            d[1] == 1 && d[2] == 1 && groups == 1 && !strcmp(mode, "zeros") &&
	            w->shape.dim[1] >= WINO_MIN_CHANNELS && o >= WINO_MIN_CHANNELS && tiles &&
	            2 * ((yw + 1) / 2 + 2) <= WINO_MAX_ROW;
	int64_t bias_n = y->shape.dim[bat];
	size_t extra = (size_t)bias_n + (wino ? 16 * (size_t)(o * w->shape.dim[1]) : 0);
	struct conv_state *st = xcalloc(1, sizeof *st + extra * sizeof(float));
	op->state = st;
	st->pad_mode = !strcmp(mode, "reflect")     ? PAD_REFLECT
	               : !strcmp(mode, "replicate") ? PAD_REPLICATE
	               : !strcmp(mode, "circular")  ? PAD_CIRCULAR
	                                            : PAD_ZEROS;
	st->n = bat ? img->shape.dim[0] : 1;
	st->c = img->shape.dim[bat];
	st->z = isz[0];
	st->h = isz[1];
	st->w = isz[2];
	st->o = o;
	st->oz = osz[0];
	st->oh = osz[1];
	st->ow = osz[2];
	st->kz = ksz[0];
	st->kh = ksz[1];
	st->kw = ksz[2];
	st->sz = s[0];
	st->sh = s[1];
	st->sw = s[2];
	st->dz = d[0];
	st->dh = d[1];
	st->dw = d[2];
	int64_t *lo[3] = {&st->pf, &st->pt, &st->pl}, *hi[3] = {&st->pk, &st->pb, &st->pr};
	for (int i = 0; i < nd; i++)
		conv_pad(pad, nd, i, ksz[3 - nd + i], d[3 - nd + i], lo[3 - nd + i], hi[3 - nd + i]);
	if (tr) /* the output padding is in the output's size: cut at the far end */
		for (int i = 0; i < 3; i++)
			*hi[i] = 0;
	st->groups = groups;
	st->cg = st->c / groups;
	st->og = o / groups;
	st->weight = kt_f32(w);
	st->scale = op->post_scale;
	if (b || op->post_shift) {
		st->shift = st->shift_store;
		for (int64_t i = 0; i < bias_n; i++) {
			float bias = b ? kt_f32(b)[i] : 0;
			st->shift[i] = op->post_scale ? bias * op->post_scale[i] : bias;
			if (op->post_shift)
				st->shift[i] += op->post_shift[i];
		}
	}
	size_t scratch = 0;
	bool no_pad = !st->pf && !st->pk && !st->pt && !st->pb && !st->pl && !st->pr;
	if (st->pad_mode != PAD_ZEROS && !no_pad) {
		st->pz = st->z + st->pf + st->pk;
		st->ph = st->h + st->pt + st->pb;
		st->pw = st->w + st->pl + st->pr;
		scratch = (size_t)(st->c * st->pz * st->ph * st->pw) * sizeof(float);
	} else {
		st->pad_mode = PAD_ZEROS;
	}
	bool one = st->kz == 1 && st->kh == 1 && st->kw == 1 && st->sz == 1 && st->sh == 1 &&
	           st->sw == 1 && no_pad;
	if (one && !tr) {
		st->route = CONV_GEMM1X1;
	} else if (wino && st->pad_mode == PAD_ZEROS) {
		st->route = CONV_WINOGRAD;
		scratch = wino_prepare(st);
	} else if (!tr && nd < 3 && st->cg == 1 && st->kh <= DW_KMAX && st->kw <= DW_KMAX) {
		st->route = CONV_DEPTHWISE;
	} else {
		st->route = tr ? CONV_TRANSPOSED : CONV_IM2COL;
		int64_t k = st->cg * st->kz * st->kh * st->kw, nrows = st->oz * st->oh;
		int64_t rows = CONV_COL_BUDGET / (k * st->ow);
		st->block_rows = rows < 1 ? 1 : rows > nrows ? nrows : rows;
		/* Even blocks: the last one not much smaller than the rest. */
		int64_t nblocks = (nrows + st->block_rows - 1) / st->block_rows;
		st->block_rows = (nrows + nblocks - 1) / nblocks;
		scratch += (size_t)(k * st->block_rows * st->ow) * sizeof(float);
	}
	op->scratch_bytes = scratch;
	return 0;
}

/* Index into a dimension of size n padded by `lo` before, for a mode. */
static int64_t pad_index(enum pad_mode mode, int64_t i, int64_t n)
{
	switch (mode) {
	case PAD_REFLECT:
		if (n == 1)
			return 0;
		while (i < 0 || i >= n)
			i = i < 0 ? -i : 2 * (n - 1) - i;
		return i;
	case PAD_REPLICATE:
		return i < 0 ? 0 : i >= n ? n - 1 : i;
	case PAD_CIRCULAR:
		return ((i % n) + n) % n;
	default:
		return i;
	}
}

/* Pads one image [c, z, h, w] into dst [c, pz, ph, pw] with the state's
 * mode. */
static void pad_image(const struct conv_state *st, const float *x, float *dst)
{
	for (int64_t c = 0; c < st->c; c++)
		for (int64_t f = 0; f < st->pz; f++) {
			const float *plane =
			    x + (c * st->z + pad_index(st->pad_mode, f - st->pf, st->z)) * st->h *
			            st->w;
			for (int64_t i = 0; i < st->ph; i++) {
				const float *row =
				    plane + pad_index(st->pad_mode, i - st->pt, st->h) * st->w;
				float *d = dst + ((c * st->pz + f) * st->ph + i) * st->pw;
				for (int64_t j = 0; j < st->pw; j++)
					d[j] = row[pad_index(st->pad_mode, j - st->pl, st->w)];
			}
		}
}

/* The range [lo, hi) of output columns whose input column
 * ow * s - pad + off lies in [0, w). */
static void valid_cols(int64_t ow, int64_t s, int64_t pad, int64_t off, int64_t w, int64_t *lo,
                       int64_t *hi)
{
	int64_t base = off - pad; /* input column of output column 0 */
	int64_t l = base >= 0 ? 0 : (-base + s - 1) / s;
	int64_t h = w - 1 - base < 0 ? 0 : (w - 1 - base) / s + 1;
	*lo = l > ow ? ow : l;
	*hi = h > ow ? ow : h < *lo ? *lo : h;
}

/* ---- im2col ---- */

/* A block of output rows: rows q of the output's depth x height, from
 * row0; the image (input, or the transposed convolution's output) with
 * its padding. */
struct im2col_job {
	const struct conv_state *st;
	const float *x; /* the group's first image channel */
	float *y;       /* col2im: the group's first output channel */
	int64_t z, h, w, pf, pt, pl;
	float *col;
	int64_t row0, rows;
};

/* The image row (plane offset in rows of w) that column-matrix row r
 * reads for output row q, or -1 when it lies in the padding. */
static inline int64_t image_row(const struct im2col_job *j, int64_t kz, int64_t ki, int64_t q)
{
	const struct conv_state *st = j->st;
	int64_t iz = q / st->oh * st->sz - j->pf + kz * st->dz;
	int64_t ih = q % st->oh * st->sh - j->pt + ki * st->dh;
	if (iz < 0 || iz >= j->z || ih < 0 || ih >= j->h)
		return -1;
	return iz * j->h + ih;
}

KERNEL_HOT
static void im2col_chunk(void *ctx, int64_t rb, int64_t re)
{
	const struct im2col_job *j = ctx;
	const struct conv_state *st = j->st;
	int64_t cols = j->rows * st->ow, kk = st->kz * st->kh * st->kw;
	for (int64_t r = rb; r < re; r++) {
		int64_t c = r / kk, kz = r % kk / (st->kh * st->kw), ki = r % (st->kh * st->kw) / st->kw,
		        kj = r % st->kw;
		const float *plane = j->x + c * j->z * j->h * j->w;
		float *dst = j->col + r * cols;
		int64_t lo, hi;
		valid_cols(st->ow, st->sw, j->pl, kj * st->dw, j->w, &lo, &hi);
		for (int64_t q = j->row0; q < j->row0 + j->rows; q++, dst += st->ow) {
			int64_t ih = image_row(j, kz, ki, q);
			if (ih < 0) {
				memset(dst, 0, (size_t)st->ow * sizeof *dst);
				continue;
			}
			/* the input column of output column lo */
			const float *src = plane + ih * j->w + (lo * st->sw + kj * st->dw - j->pl);
			for (int64_t i = 0; i < lo; i++)
				dst[i] = 0;
			if (st->sw == 1)
				memcpy(dst + lo, src, (size_t)(hi - lo) * sizeof *dst);
			else
				for (int64_t i = 0; i < hi - lo; i++)
					dst[lo + i] = src[i * st->sw];
			for (int64_t i = hi; i < st->ow; i++)
				dst[i] = 0;
		}
	}
}

/* The adjoint of im2col over image channels [cb, ce): every column-matrix
 * value added into the image place it was read from. */
KERNEL_HOT
static void col2im_chunk(void *ctx, int64_t cb, int64_t ce)
{
	const struct im2col_job *j = ctx;
	const struct conv_state *st = j->st;
	int64_t cols = j->rows * st->ow, kk = st->kz * st->kh * st->kw;
	for (int64_t c = cb; c < ce; c++) {
		float *plane = j->y + c * j->z * j->h * j->w;
		for (int64_t r = c * kk; r < (c + 1) * kk; r++) {
			int64_t kz = r % kk / (st->kh * st->kw), ki = r % (st->kh * st->kw) / st->kw,
			        kj = r % st->kw;
			const float *src = j->col + r * cols;
			int64_t lo, hi;
			valid_cols(st->ow, st->sw, j->pl, kj * st->dw, j->w, &lo, &hi);
			for (int64_t q = j->row0; q < j->row0 + j->rows; q++, src += st->ow) {
				int64_t ih = image_row(j, kz, ki, q);
				if (ih < 0)
					continue;
				float *d = plane + ih * j->w + (lo * st->sw + kj * st->dw - j->pl);
				for (int64_t i = lo; i < hi; i++)
					d[(i - lo) * st->sw] += src[i];
			}
		}
	}
}

/* ---- the output pass on a block: rows of `cols` floats, ld apart ---- */

struct epi_job {
	float *y;
	int64_t ld, cols;
	const float *scale, *shift;
	struct kact act;
};

KERNEL_HOT
static void epi_rows(void *ctx, int64_t rb, int64_t re)
{
	const struct epi_job *j = ctx;
	for (int64_t r = rb; r < re; r++) {
		float *p = j->y + r * j->ld;
		float s = j->scale ? j->scale[r] : 1, t = j->shift ? j->shift[r] : 0;
		if (j->scale)
			for (int64_t i = 0; i < j->cols; i++)
				p[i] = p[i] * s + t;
		else if (j->shift)
			for (int64_t i = 0; i < j->cols; i++)
				p[i] += t;
		kact_row(j->act, p, j->cols);
	}
}

static void epilogue(const struct conv_state *st, struct kact act, float *y, int64_t ld,
                     int64_t rows, int64_t cols, int64_t ch0)
{
	if (!st->scale && !st->shift && act.kind == KACT_NONE)
		return;
	struct epi_job j = {
	    y,  ld, cols, st->scale ? st->scale + ch0 : NULL, st->shift ? st->shift + ch0 : NULL,
	    act};
	int64_t grain = cols >= 4096 ? 1 : 4096 / cols;
	kpar_for(rows, grain, epi_rows, &j);
}

/* ---- depthwise ---- */

struct dw_job {
	const struct conv_state *st;
	const float *x;
	float *y;
	int64_t h, w, pt, pl;
	struct kact act;
};

/* One output plane of a depthwise convolution: the columns whose taps are
 * all inside the input (the interior) eight at a time, every tap of every
 * valid row accumulated in registers, then the output pass; the border
 * columns one by one. */
KERNEL_HOT
static void dw_plane(const struct conv_state *st, const struct dw_job *j, const float *plane,
                     const float *wk, float *out, float s, float t, int mode)
{
	int64_t kw = st->kw, sw = st->sw, dw = st->dw, pl = j->pl, w = j->w;
	/* interior: ow * sw - pl >= 0 and ow * sw - pl + (kw - 1) * dw <= w - 1 */
	int64_t c0 = (pl + sw - 1) / sw;
	int64_t last = w - 1 + pl - (kw - 1) * dw;
	int64_t c1 = last < 0 ? 0 : last / sw + 1;
	c1 = c1 > st->ow ? st->ow : c1;
	c0 = c0 > c1 ? c1 : c0;
	/* a stride-2 load reads one float past its last element */
	int64_t cv = sw == 2 && c1 > c0 ? c1 - 1 : c1;
	v8f vs = v8_splat(s), vt = v8_splat(t);
	for (int64_t oh = 0; oh < st->oh; oh++) {
		const float *rows[DW_KMAX];
		float wts[DW_KMAX * DW_KMAX];
		int nr = 0;
		for (int64_t ki = 0; ki < st->kh; ki++) {
			int64_t ih = oh * st->sh - j->pt + ki * st->dh;
			if (ih < 0 || ih >= j->h)
				continue;
			rows[nr] = plane + ih * w;
			memcpy(wts + nr * kw, wk + ki * kw, (size_t)kw * sizeof *wts);
			nr++;
		}
		float *o = out + oh * st->ow;
		int64_t ow = c0;
		/* eight columns from q, all their taps inside the input */
#define DW_CHUNK(q)                                                                                \
	do {                                                                                       \
		v8f acc_ = v8_splat(0);                                                            \
		for (int r_ = 0; r_ < nr; r_++) {                                                  \
			const float *base_ = rows[r_] + ((q)*sw - pl);                             \
			for (int64_t kj_ = 0; kj_ < kw; kj_++) {                                   \
				const float *p_ = base_ + kj_ * dw;                                \
				v8f v_;                                                            \
				if (sw == 1)                                                       \
					v_ = v8_load(p_);                                          \
				else if (sw == 2)                                                  \
					v_ = v8_load_even(p_);                                     \
				else                                                               \
					v_ =                                                       \
					    (v8f){p_[0],      p_[sw],     p_[2 * sw], p_[3 * sw],  \
					          p_[4 * sw], p_[5 * sw], p_[6 * sw], p_[7 * sw]}; \
				acc_ += wts[r_ * kw + kj_] * v_;                                   \
			}                                                                          \
		}                                                                                  \
		if (mode == KAFFINE_SCALE)                                                         \
			acc_ = acc_ * vs + vt;                                                     \
		else if (mode == KAFFINE_SHIFT)                                                    \
			acc_ = acc_ + vt;                                                          \
		v8_store(o + (q), v8_act(j->act, acc_));                                           \
	} while (0)
		if (cv - c0 >= 8) {
			for (; ow + 8 <= cv; ow += 8)
				DW_CHUNK(ow);
			if (ow < cv) { /* the tail: a last chunk overlapping the one before */
				DW_CHUNK(cv - 8);
				ow = cv;
			}
		}
#undef DW_CHUNK
		/* the rest: borders and the tail of the interior */
		for (int64_t q = 0; q < st->ow; q++) {
			if (q >= c0 && q < ow)
				continue;
			float acc = 0;
			for (int r = 0; r < nr; r++)
				for (int64_t kj = 0; kj < kw; kj++) {
					int64_t iw = q * sw - pl + kj * dw;
					if (iw >= 0 && iw < w)
						acc += wts[r * kw + kj] * rows[r][iw];
				}
			if (mode == KAFFINE_SCALE)
				acc = acc * s + t;
			else if (mode == KAFFINE_SHIFT)
				acc += t;
			o[q] = k_act1(j->act, acc);
		}
	}
}

/* Planes this small are copied into a zero-padded buffer on the stack,
 * wide enough for whole groups of eight output columns: no borders. */
#define DW_PAD_MAX 32768

/* The padded buffer's size for a plane, or 0 when it does not fit. */
static int64_t dw_pad_size(const struct conv_state *st, const struct dw_job *j, int64_t *ph,
                           int64_t *pw, int64_t *owp)
{
	*owp = (st->ow + 7) / 8 * 8;
	*ph = (st->oh - 1) * st->sh + (st->kh - 1) * st->dh + 1;
	*pw = (*owp - 1) * st->sw + (st->kw - 1) * st->dw + 1 + (st->sw == 2);
	if (*ph < j->h + j->pt)
		*ph = j->h + j->pt;
	if (*pw < j->w + j->pl)
		*pw = j->w + j->pl;
	return *ph * *pw <= DW_PAD_MAX && *owp <= DW_PAD_MAX / 8 ? *ph * *pw : 0;
}

KERNEL_HOT
static void dw_plane_padded(const struct conv_state *st, const struct dw_job *j, const float *plane,
                            const float *wk, float *out, float s, float t, int mode, float *buf,
                            int64_t ph, int64_t pw, int64_t owp)
{
	memset(buf, 0, (size_t)(ph * pw) * sizeof *buf);
	for (int64_t i = 0; i < j->h; i++)
		memcpy(buf + (i + j->pt) * pw + j->pl, plane + i * j->w,
		       (size_t)j->w * sizeof *buf);
	int64_t kh = st->kh, kw = st->kw, sw = st->sw, dw = st->dw;
	v8f vs = v8_splat(s), vt = v8_splat(t);
	float row[DW_PAD_MAX / 8 + 8];
	for (int64_t oh = 0; oh < st->oh; oh++) {
		const float *top = buf + oh * st->sh * pw;
		float *o = st->ow == owp ? out + oh * st->ow : row;
		for (int64_t ow = 0; ow < owp; ow += 8) {
			v8f acc = v8_splat(0);
			for (int64_t ki = 0; ki < kh; ki++) {
				const float *base = top + ki * st->dh * pw + ow * sw;
				for (int64_t kj = 0; kj < kw; kj++) {
					const float *p = base + kj * dw;
					v8f v;
					if (sw == 1)
						v = v8_load(p);
					else if (sw == 2)
						v = v8_load_even(p);
					else
						v = (v8f){p[0],      p[sw],     p[2 * sw],
						          p[3 * sw], p[4 * sw], p[5 * sw],
						          p[6 * sw], p[7 * sw]};
					acc += wk[ki * kw + kj] * v;
				}
			}
			if (mode == KAFFINE_SCALE)
				acc = acc * vs + vt;
			else if (mode == KAFFINE_SHIFT)
				acc = acc + vt;
			v8_store(o + ow, v8_act(j->act, acc));
		}
		if (o == row)
			memcpy(out + oh * st->ow, row, (size_t)st->ow * sizeof *row);
	}
}

/* Planes are (image, output channel) pairs. */
static void dw_planes(void *ctx, int64_t pb, int64_t pe)
{
	const struct dw_job *j = ctx;
	const struct conv_state *st = j->st;
	int mode = st->scale ? KAFFINE_SCALE : st->shift ? KAFFINE_SHIFT : KAFFINE_NONE;
	int64_t ph, pw, owp;
	bool padded = dw_pad_size(st, j, &ph, &pw, &owp) > 0 && st->sw <= 8;
	float buf[DW_PAD_MAX];
	for (int64_t p = pb; p < pe; p++) {
		int64_t n = p / st->o, o = p % st->o, g = o / st->og;
		const float *plane = j->x + (n * st->c + g) * j->h * j->w;
		const float *wk = st->weight + o * st->kh * st->kw;
		float *out = j->y + p * st->oh * st->ow;
		float s = st->scale ? st->scale[o] : 1, t = st->shift ? st->shift[o] : 0;
		if (padded)
			dw_plane_padded(st, j, plane, wk, out, s, t, mode, buf, ph, pw, owp);
		else
			dw_plane(st, j, plane, wk, out, s, t, mode);
	}
}

/* ---- Winograd F(2x2, 3x3) ---- */

/* U = G g G^T for every filter, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 * stored [16][o][c] for the products; returns the scratch the run needs:
 * the zero-padded input, the transformed input and output of a block of
 * tile rows, and an output buffer when the output has an odd size. */
static size_t wino_prepare(struct conv_state *st)
{
	static const double g[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
	float *u = st->shift_store + st->o;
	st->wino = u;
	for (int64_t o = 0; o < st->o; o++)
		for (int64_t c = 0; c < st->c; c++) {
			const float *f = st->weight + (o * st->c + c) * 9;
			double t[4][3];
			for (int i = 0; i < 4; i++)
				for (int j = 0; j < 3; j++)
					t[i][j] = g[i][0] * f[j] + g[i][1] * f[3 + j] +
					          g[i][2] * f[6 + j];
			for (int i = 0; i < 4; i++)
				for (int j = 0; j < 4; j++)
					u[((i * 4 + j) * st->o + o) * st->c + c] =
					    (float)(t[i][0] * g[j][0] + t[i][1] * g[j][1] +
					            t[i][2] * g[j][2]);
		}
	st->th = (st->oh + 1) / 2;
	st->tw = (st->ow + 1) / 2;
	/* the padded copy: every tile's 4x4 patch inside; each row is stored
	 * as two phases (even columns, then odd ones), so that the same column
	 * of eight neighbouring tiles is eight neighbours in memory */
	st->wh = 2 * st->th + 2;
	st->ww = 2 * (st->tw + 2);
	/* Blocks of tile rows: within the budget, but with at least
	 * WINO_MIN_BLOCK tiles, below which the products get inefficient. */
	int64_t per_row = 16 * (st->c + st->o) * st->tw;
	int64_t rows = WINO_BUDGET / per_row, least = (WINO_MIN_BLOCK + st->tw - 1) / st->tw;
	rows = rows < least ? least : rows;
	rows = rows < 1 ? 1 : rows > st->th ? st->th : rows;
	int64_t nblocks = (st->th + rows - 1) / rows;
	st->block_rows = (st->th + nblocks - 1) / nblocks;
	size_t f = sizeof(float);
	size_t bytes = (size_t)(st->c * st->wh * st->ww) * f;
	bytes += (size_t)(16 * (st->c + st->o) * st->block_rows * st->tw) * f;
	if (st->oh % 2 || st->ow % 2)
		bytes += (size_t)(st->o * 4 * st->th * st->tw) * f;
	return bytes;
}

struct wino_job {
	const struct conv_state *st;
	const float *x;   /* one image */
	float *padded;    /* [c][wh][2][ww / 2] */
	float *v, *m;     /* [16][c][tb], [16][o][tb] */
	float *out;       /* [o][2th][2tw] or the output itself */
	int64_t ld;       /* row length of out */
	int64_t row0, tb; /* the block's first tile row, its tiles */
	struct kact act;
};

KERNEL_HOT
static void wino_pad(void *ctx, int64_t cb, int64_t ce)
{
	const struct wino_job *j = ctx;
	const struct conv_state *st = j->st;
	int64_t ww = st->ww, half = ww / 2;
	float row[WINO_MAX_ROW + 24];
	for (int64_t c = cb; c < ce; c++) {
		float *d = j->padded + c * st->wh * ww;
		for (int64_t r = 0; r < st->wh; r++) {
			int64_t i = r - st->pt;
			float *out = d + r * ww;
			if (i < 0 || i >= st->h) {
				memset(out, 0, (size_t)ww * sizeof *out);
				continue;
			}
			int64_t n = st->w + st->pl > ww ? ww - st->pl : st->w;
			memset(row, 0, (size_t)st->pl * sizeof *row);
			memcpy(row + st->pl, j->x + (c * st->h + i) * st->w,
			       (size_t)n * sizeof *row);
			memset(row + st->pl + n, 0, (size_t)(ww + 24 - st->pl - n) * sizeof *row);
			for (int64_t g = 0; g < half; g += 8)
				for (int64_t p = 0; p < 2; p++) {
					v8f v = v8_load_even(row + 2 * g + p);
					if (g + 8 <= half) {
						v8_store(out + p * half + g, v);
					} else {
						float tmp[8];
						v8_store(tmp, v);
						memcpy(out + p * half + g, tmp,
						       (size_t)(half - g) * sizeof *tmp);
					}
				}
		}
	}
}

/* B^T d B for a 4x4 patch d (of lanes),
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
#define WINO_IN(T, d, v)                                                                           \
	do {                                                                                       \
		T t_[4][4];                                                                        \
		for (int k_ = 0; k_ < 4; k_++) {                                                   \
			t_[0][k_] = d[0][k_] - d[2][k_];                                           \
			t_[1][k_] = d[1][k_] + d[2][k_];                                           \
			t_[2][k_] = d[2][k_] - d[1][k_];                                           \
			t_[3][k_] = d[1][k_] - d[3][k_];                                           \
		}                                                                                  \
		for (int r_ = 0; r_ < 4; r_++) {                                                   \
			v[r_ * 4 + 0] = t_[r_][0] - t_[r_][2];                                     \
			v[r_ * 4 + 1] = t_[r_][1] + t_[r_][2];                                     \
			v[r_ * 4 + 2] = t_[r_][2] - t_[r_][1];                                     \
			v[r_ * 4 + 3] = t_[r_][1] - t_[r_][3];                                     \
		}                                                                                  \
	} while (0)

/* Input transform of (channel, tile row) pairs. Whole groups of eight
 * tiles, the last one overlapping the one before when the row is not a
 * multiple of eight (the same values written twice). */
KERNEL_HOT
static void wino_input(void *ctx, int64_t pb, int64_t pe)
{
	const struct wino_job *j = ctx;
	const struct conv_state *st = j->st;
	int64_t tw = st->tw, plane = (int64_t)st->c * j->tb, half = st->ww / 2;
	int64_t groups = tw >= 8 ? (tw + 7) / 8 : 0;
	for (int64_t p = pb; p < pe; p++) {
		int64_t c = p / (j->tb / tw), tr = p % (j->tb / tw);
		const float *src = j->padded + (c * st->wh + 2 * (j->row0 + tr)) * st->ww;
		float *dst = j->v + c * j->tb + tr * tw;
		for (int64_t g = 0; g < groups; g++) {
			int64_t t = g * 8 + 8 <= tw ? g * 8 : tw - 8;
			v8f d[4][4], v[16];
			for (int r = 0; r < 4; r++)
				for (int k = 0; k < 4; k++)
					d[r][k] =
					    v8_load(src + r * st->ww + (k % 2) * half + t + k / 2);
			WINO_IN(v8f, d, v);
			for (int xi = 0; xi < 16; xi++)
				v8_store(dst + xi * plane + t, v[xi]);
		}
		for (int64_t t = groups ? tw : 0; t < tw; t++) {
			float d[4][4], v[16];
			for (int r = 0; r < 4; r++)
				for (int k = 0; k < 4; k++)
					d[r][k] = src[r * st->ww + (k % 2) * half + t + k / 2];
			WINO_IN(float, d, v);
			for (int xi = 0; xi < 16; xi++)
				dst[xi * plane + t] = v[xi];
		}
	}
}

/* The 16 products of the block, one per chunk item. */
static void wino_gemm(void *ctx, int64_t b, int64_t e)
{
	const struct wino_job *j = ctx;
	const struct conv_state *st = j->st;
	for (int64_t xi = b; xi < e; xi++)
		kgemm(false, st->o, j->tb, st->c, st->wino + xi * st->o * st->c, st->c,
		      j->v + xi * st->c * j->tb, j->tb, 0.0f, j->m + xi * st->o * j->tb, j->tb);
}

/* A^T m A = [y00 y01; y10 y11], A^T = [1 1 1 0; 0 1 -1 -1]. */
#define WINO_OUT(m, y00, y01, y10, y11)                                                            \
	do {                                                                                       \
		__typeof__(m[0]) s0_[4], s1_[4];                                                   \
		for (int k_ = 0; k_ < 4; k_++) {                                                   \
			s0_[k_] = m[k_] + m[4 + k_] + m[8 + k_];                                   \
			s1_[k_] = m[4 + k_] - m[8 + k_] - m[12 + k_];                              \
		}                                                                                  \
		y00 = s0_[0] + s0_[1] + s0_[2];                                                    \
		y01 = s0_[1] - s0_[2] - s0_[3];                                                    \
		y10 = s1_[0] + s1_[1] + s1_[2];                                                    \
		y11 = s1_[1] - s1_[2] - s1_[3];                                                    \
	} while (0)

/* Output transform and output pass of (output channel, tile row) pairs. */
KERNEL_HOT
static void wino_output(void *ctx, int64_t pb, int64_t pe)
{
	const struct wino_job *j = ctx;
	const struct conv_state *st = j->st;
	int64_t tw = st->tw, plane = (int64_t)st->o * j->tb, rows = j->tb / tw;
	int64_t groups = tw >= 8 ? (tw + 7) / 8 : 0;
	int mode = st->scale ? KAFFINE_SCALE : st->shift ? KAFFINE_SHIFT : KAFFINE_NONE;
	for (int64_t p = pb; p < pe; p++) {
		int64_t o = p / rows, tr = p % rows;
		const float *src = j->m + o * j->tb + tr * tw;
		float *y0 = j->out + (o * 2 * st->th + 2 * (j->row0 + tr)) * j->ld,
		      *y1 = y0 + j->ld;
		for (int64_t g = 0; g < groups; g++) {
			int64_t t = g * 8 + 8 <= tw ? g * 8 : tw - 8;
			v8f mv[16], a, b, c, d;
			for (int xi = 0; xi < 16; xi++)
				mv[xi] = v8_load(src + xi * plane + t);
			WINO_OUT(mv, a, b, c, d);
			v8_store_interleave2(y0 + 2 * t, a, b);
			v8_store_interleave2(y1 + 2 * t, c, d);
		}
		for (int64_t t = groups ? tw : 0; t < tw; t++) {
			float mv[16], a, b, c, d;
			for (int xi = 0; xi < 16; xi++)
				mv[xi] = src[xi * plane + t];
			WINO_OUT(mv, a, b, c, d);
			y0[2 * t] = a;
			y0[2 * t + 1] = b;
			y1[2 * t] = c;
			y1[2 * t + 1] = d;
		}
		float s = st->scale ? st->scale[o] : 1, t = st->shift ? st->shift[o] : 0;
		krow_affine_act(y0, 2 * tw, s, t, mode, j->act);
		krow_affine_act(y1, 2 * tw, s, t, mode, j->act);
	}
}

static void wino_run(const struct conv_state *st, const float *x, float *y, float *scratch,
                     struct kact act)
{
	float *padded = scratch;
	float *v = padded + st->c * st->wh * st->ww;
	float *mm = v + 16 * st->c * st->block_rows * st->tw;
	float *tmp = mm + 16 * st->o * st->block_rows * st->tw;
	bool odd = st->oh % 2 || st->ow % 2;
	int64_t plane = st->oh * st->ow;
	for (int64_t n = 0; n < st->n; n++) {
		struct wino_job j = {st,
		                     x + n * st->c * st->h * st->w,
		                     padded,
		                     v,
		                     mm,
		                     odd ? tmp : y + n * st->o * plane,
		                     odd ? 2 * st->tw : st->ow,
		                     0,
		                     0,
		                     act};
		kpar_for(st->c, 4, wino_pad, &j);
		for (j.row0 = 0; j.row0 < st->th; j.row0 += st->block_rows) {
			int64_t rows =
			    st->th - j.row0 < st->block_rows ? st->th - j.row0 : st->block_rows;
			j.tb = rows * st->tw;
			kpar_for(st->c * rows, 4, wino_input, &j);
			kpar_for(16, 1, wino_gemm, &j);
			kpar_for(st->o * rows, 4, wino_output, &j);
		}
		if (odd) {
			int64_t ls[2] = {2 * st->tw, 1}, ld[2] = {st->ow, 1},
			        size[2] = {st->oh, st->ow};
			for (int64_t o = 0; o < st->o; o++)
				kcopy_strided(y + (n * st->o + o) * plane, ld,
				              tmp + o * 4 * st->th * st->tw, ls, size, 2,
				              sizeof(float));
		}
	}
}

/* ---- the kernel ---- */

/* One image of a transposed convolution: x [o, oz, oh, ow] into y
 * [c, z, h, w]. */
static void transposed_image(const struct conv_state *st, const float *x, float *y,
                             float *scratch, struct kact act)
{
	int64_t plane_out = st->oz * st->oh * st->ow, plane = st->z * st->h * st->w;
	int64_t k = st->cg * st->kz * st->kh * st->kw, nrows = st->oz * st->oh;
	memset(y, 0, (size_t)(st->c * plane) * sizeof *y);
	for (int64_t g = 0; g < st->groups; g++) {
		const float *xg = x + g * st->og * plane_out;
		const float *wg = st->weight + g * st->og * k;
		for (int64_t row0 = 0; row0 < nrows; row0 += st->block_rows) {
			int64_t rows = nrows - row0 < st->block_rows ? nrows - row0 : st->block_rows;
			int64_t cols = rows * st->ow;
			kgemm_ex(true, false, k, cols, st->og, wg, k, xg + row0 * st->ow, plane_out,
			         0.0f, scratch, cols);
			struct im2col_job j = {st,    NULL,  y + g * st->cg * plane,
			                       st->z, st->h, st->w,
			                       st->pf, st->pt, st->pl,
			                       scratch, row0, rows};
			kpar_for(st->cg, 1, col2im_chunk, &j);
		}
	}
	epilogue(st, act, y, plane, st->c, plane, 0);
}

static int conv_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct conv_state *st = op->state;
	const float *x = kt_f32(kop_input(op));
	float *y = kt_f32(kop_out(op, 0));
	float *scratch = op->scratch;
	int64_t z = st->z, h = st->h, w = st->w, pf = st->pf, pt = st->pt, pl = st->pl;
	int64_t plane_out = st->oz * st->oh * st->ow, plane_in = st->z * st->h * st->w;
	if (st->route == CONV_TRANSPOSED) {
		for (int64_t n = 0; n < st->n; n++)
			transposed_image(st, x + n * st->o * plane_out, y + n * st->c * plane_in,
			                 scratch, op->act);
		return 0;
	}
	float *padded = NULL;
	if (st->pad_mode != PAD_ZEROS) {
		padded = scratch;
		scratch += st->c * st->pz * st->ph * st->pw;
		z = st->pz;
		h = st->ph;
		w = st->pw;
		pf = pt = pl = 0;
	}
	if (st->route == CONV_WINOGRAD) {
		wino_run(st, x, y, scratch, op->act);
		return 0;
	}
	if (st->route == CONV_DEPTHWISE && !padded) {
		struct dw_job j = {st, x, y, h, w, pt, pl, op->act};
		kpar_for(st->n * st->o, 1, dw_planes, &j);
		return 0;
	}
	for (int64_t n = 0; n < st->n; n++) {
		const float *xn = x + n * st->c * plane_in;
		float *yn = y + n * st->o * plane_out;
		if (padded) {
			pad_image(st, xn, padded);
			xn = padded;
		}
		if (st->route == CONV_DEPTHWISE) {
			struct conv_state one = *st;
			one.n = 1;
			struct dw_job j = {&one, xn, yn, h, w, pt, pl, op->act};
			kpar_for(st->o, 1, dw_planes, &j);
			continue;
		}
		int64_t k = st->cg * st->kz * st->kh * st->kw, nrows = st->oz * st->oh;
		for (int64_t g = 0; g < st->groups; g++) {
			const float *xg = xn + g * st->cg * z * h * w;
			const float *wg = st->weight + g * st->og * k;
			float *yg = yn + g * st->og * plane_out;
			if (st->route == CONV_GEMM1X1) {
				kgemm(false, st->og, plane_out, st->cg, wg, st->cg, xg, plane_out,
				      0.0f, yg, plane_out);
				epilogue(st, op->act, yg, plane_out, st->og, plane_out, g * st->og);
				continue;
			}
			for (int64_t row0 = 0; row0 < nrows; row0 += st->block_rows) {
				int64_t rows =
				    nrows - row0 < st->block_rows ? nrows - row0 : st->block_rows;
				int64_t cols = rows * st->ow;
				struct im2col_job j = {st, xg, NULL, z, h, w, pf, pt, pl, scratch, row0, rows};
				kpar_for(k, 4, im2col_chunk, &j);
				float *yb = yg + row0 * st->ow;
				kgemm(false, st->og, cols, k, wg, k, scratch, cols, 0.0f, yb,
				      plane_out);
				epilogue(st, op->act, yb, plane_out, st->og, cols, g * st->og);
			}
		}
	}
	return 0;
}

/* ---- Fold and Unfold ---- */

/* The state of the convolution whose im2col Unfold is and whose col2im
 * Fold is: the image, its blocks, the window. */
static int fold_prepare(struct kop *op, struct error *e)
{
	(void)e;
	const struct module *m = op->call.module;
	bool fold = strcmp(op->kernel->name, "Fold") == 0 || strcmp(op->kernel->name, "fold") == 0;
	const struct tensor *img = fold ? kop_out(op, 0) : kop_input(op);
	int64_t k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, p[3] = {0, 0, 0};
	if (m) {
		module_attr_ints(m, "kernel_size", k + 1, 2);
		module_attr_ints(m, "stride", s + 1, 2);
		module_attr_ints(m, "dilation", d + 1, 2);
		module_attr_ints(m, "padding", p + 1, 2);
	} else {
		int at = fold ? 2 : 1;
		if (ints_arg(op, at, "kernel_size", 2, k) < 0 ||
		    ints_arg(op, at + 1, "dilation", 2, d) < 0 ||
		    ints_arg(op, at + 2, "padding", 2, p) < 0 ||
		    ints_arg(op, at + 3, "stride", 2, s) < 0)
			return error_set(e, "%s(): bad kernel_size, dilation, padding or stride",
			                 op->kernel->name);
	}
	struct conv_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	int b = img->shape.ndim == 4;
	st->n = b ? img->shape.dim[0] : 1;
	st->c = img->shape.dim[b];
	st->z = st->oz = 1;
	st->h = img->shape.dim[b + 1];
	st->w = img->shape.dim[b + 2];
	st->kz = st->sz = st->dz = 1;
	st->kh = k[1];
	st->kw = k[2];
	st->sh = s[1];
	st->sw = s[2];
	st->dh = d[1];
	st->dw = d[2];
	st->pt = p[1];
	st->pl = p[2];
	st->oh = (st->h + 2 * p[1] - d[1] * (k[1] - 1) - 1) / s[1] + 1;
	st->ow = (st->w + 2 * p[2] - d[2] * (k[2] - 1) - 1) / s[2] + 1;
	return 0;
}

static int fold_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct conv_state *st = op->state;
	bool fold = strcmp(op->kernel->name, "Fold") == 0 || strcmp(op->kernel->name, "fold") == 0;
	float *x = kt_f32(kop_input(op)), *y = kt_f32(kop_out(op, 0));
	int64_t plane = st->h * st->w, cols = st->kh * st->kw * st->oh * st->ow;
	if (fold)
		memset(y, 0, (size_t)(st->n * st->c * plane) * sizeof *y);
	for (int64_t n = 0; n < st->n; n++) {
		/* Fold reads its input as the column matrix, Unfold writes it */
		struct im2col_job j = {st,     x + n * st->c * plane, y + n * st->c * plane,
		                       1,      st->h,                 st->w,
		                       0,      st->pt,                st->pl,
		                       (fold ? x : y) + n * st->c * cols, 0, st->oh};
		if (fold)
			kpar_for(st->c, 1, col2im_chunk, &j);
		else
			kpar_for(st->c * st->kh * st->kw, 4, im2col_chunk, &j);
	}
	return 0;
}

const struct kernel kernels_conv[] = {
    {"Conv2d", OP_MODULE, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"conv2d", OP_FUNCTION, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"Conv1d", OP_MODULE, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"Conv3d", OP_MODULE, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"ConvTranspose1d", OP_MODULE, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"ConvTranspose2d", OP_MODULE, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"ConvTranspose3d", OP_MODULE, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"conv1d", OP_FUNCTION, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"conv3d", OP_FUNCTION, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"conv_transpose1d", OP_FUNCTION, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"conv_transpose2d", OP_FUNCTION, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"conv_transpose3d", OP_FUNCTION, KF_ACT | KF_BN, conv_prepare, conv_run},
    {"Fold", OP_MODULE, 0, fold_prepare, fold_run},
    {"Unfold", OP_MODULE, 0, fold_prepare, fold_run},
    {"fold", OP_FUNCTION, 0, fold_prepare, fold_run},
    {"unfold", OP_FUNCTION, 0, fold_prepare, fold_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
