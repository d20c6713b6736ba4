/* kernels_attention.c - attention: nn.MultiheadAttention, nn.Transformer's
 * causal mask, torchvision Swin's functional pieces
 * (shifted_window_attention, _get_relative_position_bias) and MViT v2's
 * (_add_rel_pos, _add_shortcut).
 *
 * MultiheadAttention computes what PyTorch 1.13's
 * F.multi_head_attention_forward does in eval: the input projections, q
 * divided by sqrt(head_dim), softmax(q k^T) v per head, the output
 * projection; bias_k/bias_v and add_zero_attn extend the keys; the
 * attention weights come averaged over heads or per head. The masks
 * (key_padding_mask [N, S], attn_mask [L, S] or [N*heads, L, S]) are added
 * to q k^T: a bool (or uint8) one as -inf where it is true, a float one as
 * its values; with an attn_mask of bool, a float key_padding_mask counts
 * as true where it is not zero (PyTorch's logical_or). bias_k and the zero
 * row are never masked.
 *
 * shifted_window_attention is torchvision 0.14's function step by step:
 * pad to whole windows, roll by -shift, partition, one qkv projection for
 * all tokens, per window and head either q/sqrt(d) k^T (v1) or cosine
 * attention scaled by exp(min(logit_scale, log 100)) (v2, whose k bias is
 * zero), plus the relative position bias, the -100 mask between regions
 * of a shifted window (built with the same Python slices), softmax, v,
 * the projection, then the windows back, the roll back and the crop.
 * Dropout arguments are ignored (eval).
 *
 * _add_rel_pos is torchvision 0.14's function: per axis (h, w, t) the
 * table row of each (query, key) position pair, the products of each query
 * token (the class token left out) with them, their sums added to the
 * attention between non-class tokens. _add_shortcut adds the pooled q to
 * the attention output in place, as torchvision does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "core/util.h"

/* ---- MultiheadAttention ---- */

struct mha_state {
	int64_t n, l, s, s2, e, heads, hd, kd, vd;
	bool batch_first, need_weights, average;
	const float *wq, *wk, *wv, *bq, *bk, *bv, *wo, *bo, *bias_k, *bias_v;
	bool zero_attn;
	bool kpm_bool, am_bool, am_per_head; /* the masks' kinds, when given */
};

static bool is_mask_dtype(enum dtype t)
{
	return t == DT_BOOL || t == DT_U8;
}

static bool flag_arg(const struct kop *op, int pos, const char *kw, bool def)
{
	const struct value *v = op_arg(&op->call, pos, kw);
	return v && v->kind == VAL_BOOL ? v->u.b : def;
}

static const float *f32_or_null(const struct tensor *t)
{
	return t ? kt_f32(t) : NULL;
}

static int mha_prepare(struct kop *op, struct error *e)
{
	const struct module *m = op->call.module;
	const struct tensor *q = kop_tensor(op, 0, "query"), *k = kop_tensor(op, 1, "key");
	const struct tensor *kpm = kop_tensor(op, 3, "key_padding_mask");
	const struct tensor *am = kop_tensor(op, 5, "attn_mask");
	struct mha_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const struct tensor *v = kop_tensor(op, 2, "value");
	if (is_mask_dtype(q->dtype) || is_mask_dtype(k->dtype) || is_mask_dtype(v->dtype))
		return error_set(e, "MultiheadAttention: query, key and value must be float");
	st->kpm_bool = kpm && is_mask_dtype(kpm->dtype);
	st->am_bool = am && is_mask_dtype(am->dtype);
	st->am_per_head = am && am->shape.ndim == 3;
	st->batch_first = module_attr_bool(m, "batch_first", false);
	st->e = module_attr_int(m, "embed_dim", 1);
	st->heads = module_attr_int(m, "num_heads", 1);
	st->hd = st->e / st->heads;
	bool batched = q->shape.ndim == 3;
	int li = batched && st->batch_first ? 1 : 0;
	st->l = q->shape.dim[li];
	st->s = k->shape.dim[li];
	st->n = batched ? q->shape.dim[st->batch_first ? 0 : 1] : 1;
	st->kd = k->shape.dim[k->shape.ndim - 1];
	st->vd = v->shape.dim[k->shape.ndim - 1];
	st->need_weights = flag_arg(op, 4, "need_weights", true);
	st->average = flag_arg(op, 6, "average_attn_weights", true);
	const struct tensor *in = kop_param(op, "in_proj_weight");
	int64_t ee = st->e * st->e;
	if (in) {
		st->wq = kt_f32(in);
		st->wk = st->wq + ee;
		st->wv = st->wq + 2 * ee;
	} else {
		st->wq = f32_or_null(kop_param(op, "q_proj_weight"));
		st->wk = f32_or_null(kop_param(op, "k_proj_weight"));
		st->wv = f32_or_null(kop_param(op, "v_proj_weight"));
	}
	const float *ib = f32_or_null(kop_param(op, "in_proj_bias"));
	if (ib) {
		st->bq = ib;
		st->bk = ib + st->e;
		st->bv = ib + 2 * st->e;
	}
	st->wo = f32_or_null(kop_param(op, "out_proj.weight"));
	st->bo = f32_or_null(kop_param(op, "out_proj.bias"));
	st->bias_k = f32_or_null(kop_param(op, "bias_k"));
	st->bias_v = f32_or_null(kop_param(op, "bias_v"));
	st->zero_attn = module_attr_bool(m, "add_zero_attn", false);
	if (!st->wq || !st->wk || !st->wv || !st->wo)
		return error_set(e, "MultiheadAttention: missing projection weights");
	st->s2 = st->s + (st->bias_k ? 1 : 0) + (st->zero_attn ? 1 : 0);
	op->scratch_bytes = (size_t)(2 * st->l * st->e + 2 * st->s2 * st->e + st->l * st->s2 +
	                             (st->need_weights ? st->l * st->s2 : 0)) *
	                    sizeof(float);
	return 0;
}

/* Adds the masks of batch element b and head h to the scores attn [l,
 * s2] of the s given keys. */
static void mask_scores(const struct mha_state *st, const struct tensor *kpm,
                        const struct tensor *am, int64_t b, int64_t h, float *attn)
{
	int64_t l = st->l, s = st->s;
	const uint8_t *kb = kpm && st->kpm_bool ? tensor_data(kpm) : NULL;
	const float *kf = kpm && !st->kpm_bool ? kt_f32(kpm) : NULL;
	const uint8_t *ab = am && st->am_bool ? tensor_data(am) : NULL;
	const float *af = am && !st->am_bool ? kt_f32(am) : NULL;
	int64_t a0 = st->am_per_head ? (b * st->heads + h) * l * s : 0;
	for (int64_t i = 0; i < l; i++)
		for (int64_t j = 0; j < s; j++) {
			float *x = attn + i * st->s2 + j;
			bool masked = (kb && kb[b * s + j]) || (ab && ab[a0 + i * s + j]) ||
			              (ab && kf && kf[b * s + j] != 0.0f);
			if (masked) {
				*x = -INFINITY;
				continue;
			}
			if (af)
				*x += af[a0 + i * s + j];
			if (kf && !ab)
				*x += kf[b * s + j];
		}
}

/* dst[rows, e] = src (rows `ld` apart) W^T + b. */
static void project(float *dst, const float *src, int64_t ld, int64_t rows, int64_t in, int64_t e,
                    const float *w, const float *b)
{
	if (rows == 0)
		return;
	kgemm(true, rows, e, in, src, ld, w, in, 0.0f, dst, e);
	if (b)
		for (int64_t r = 0; r < rows; r++)
			for (int64_t i = 0; i < e; i++)
				dst[r * e + i] += b[i];
}

static int mha_run(struct kop *op, struct error *er)
{
	(void)er;
	const struct mha_state *st = op->state;
	const float *q = kt_f32(kop_tensor(op, 0, "query"));
	const float *k = kt_f32(kop_tensor(op, 1, "key"));
	const float *v = kt_f32(kop_tensor(op, 2, "value"));
	const struct tensor *kpm = kop_tensor(op, 3, "key_padding_mask");
	const struct tensor *am = kop_tensor(op, 5, "attn_mask");
	float *out = kt_f32(kop_out(op, 0));
	struct tensor *wt = st->need_weights ? kop_out(op, 1) : NULL;
	float *weights = wt ? kt_f32(wt) : NULL;
	int64_t e = st->e, l = st->l, s = st->s, s2 = st->s2, hd = st->hd;
	float *qp = op->scratch, *kp = qp + l * e, *vp = kp + s2 * e, *o = vp + s2 * e;
	float *attn = o + l * e, *avg = attn + l * s2;
	/* Row r of batch element b: batch_first [N, L, E], else [L, N, E]. */
	int64_t rs = st->batch_first ? 1 : st->n; /* row stride, in rows */
	float scale = sqrtf((float)hd);           /* q / sqrt(head_dim), as PyTorch divides */
	for (int64_t b = 0; b < st->n; b++) {
		int64_t off_q = st->batch_first ? b * l : b, off_k = st->batch_first ? b * s : b;
		project(qp, q + off_q * e, rs * e, l, e, e, st->wq, st->bq);
		project(kp, k + off_k * st->kd, rs * st->kd, s, st->kd, e, st->wk, st->bk);
		project(vp, v + off_k * st->vd, rs * st->vd, s, st->vd, e, st->wv, st->bv);
		int64_t row = s;
		if (st->bias_k) {
			memcpy(kp + row * e, st->bias_k, (size_t)e * sizeof(float));
			memcpy(vp + row * e, st->bias_v, (size_t)e * sizeof(float));
			row++;
		}
		if (st->zero_attn) {
			memset(kp + row * e, 0, (size_t)e * sizeof(float));
			memset(vp + row * e, 0, (size_t)e * sizeof(float));
		}
		for (int64_t i = 0; i < l * e; i++)
			qp[i] /= scale;
		if (weights && st->average)
			memset(avg, 0, (size_t)(l * s2) * sizeof(float));
		for (int64_t h = 0; h < st->heads; h++) {
			kgemm_small(false, true, l, s2, hd, qp + h * hd, e, kp + h * hd, e, attn,
			            s2);
			if (kpm || am)
				mask_scores(st, kpm, am, b, h, attn);
			ksoftmax_rows(attn, l, s2, s2);
			kgemm_small(false, false, l, hd, s2, attn, s2, vp + h * hd, e, o + h * hd,
			            e);
			if (!weights)
				continue;
			if (st->average) {
				for (int64_t i = 0; i < l * s2; i++)
					avg[i] += attn[i];
			} else {
				memcpy(weights + (b * st->heads + h) * l * s2, attn,
				       (size_t)(l * s2) * sizeof(float));
			}
		}
		if (weights && st->average)
			for (int64_t i = 0; i < l * s2; i++)
				weights[b * l * s2 + i] = avg[i] / (float)st->heads;
		/* the output projection, written into the output's row layout */
		kgemm(true, l, e, e, o, e, st->wo, e, 0.0f, out + off_q * e, rs * e);
		if (st->bo)
			for (int64_t r = 0; r < l; r++)
				for (int64_t i = 0; i < e; i++)
					out[(off_q + r * rs) * e + i] += st->bo[i];
	}
	return 0;
}

/* ---- nn.Transformer.generate_square_subsequent_mask ---- */

static int square_subsequent_mask_run(struct kop *op, struct error *e)
{
	(void)e;
	struct tensor *y = kop_out(op, 0);
	float *m = kt_f32(y);
	int64_t sz = y->shape.dim[0];
	for (int64_t i = 0; i < sz; i++)
		for (int64_t j = 0; j < sz; j++)
			m[i * sz + j] = j > i ? -INFINITY : 0.0f;
	return 0;
}

/* ---- Swin: _get_relative_position_bias ---- */

struct rpb_state {
	int64_t n, heads, rest, rows, nindex;
};

static int rpb_prepare(struct kop *op, struct error *e)
{
	const struct tensor *table = kop_tensor(op, 0, "relative_position_bias_table");
	const struct tensor *index = kop_tensor(op, 1, "relative_position_index");
	const struct tensor *y = kop_out(op, 0);
	if (!table || !index || (index->dtype != DT_I64 && index->dtype != DT_I32))
		return error_set(e,
		                 "_get_relative_position_bias(): needs a table and an int index");
	struct rpb_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->rows = table->shape.ndim ? table->shape.dim[0] : 1;
	st->rest = shape_numel(&table->shape) / (st->rows ? st->rows : 1);
	st->heads = y->shape.dim[1];
	st->n = y->shape.dim[2];
	st->nindex = shape_numel(&index->shape);
	return 0;
}

static int rpb_run(struct kop *op, struct error *e)
{
	const struct rpb_state *st = op->state;
	const float *table = kt_f32(kop_tensor(op, 0, "relative_position_bias_table"));
	const struct tensor *index = kop_tensor(op, 1, "relative_position_index");
	float *y = kt_f32(kop_out(op, 0));
	int64_t nn = st->n * st->n;
	/* gathered[t * rest + r] = table[index[t] * rest + r], viewed as
	 * [N, N, heads] and permuted to [heads, N, N] */
	for (int64_t t = 0; t < st->nindex; t++) {
		int64_t ix = index->dtype == DT_I64 ? ((const int64_t *)tensor_data(index))[t]
		                                    : ((const int32_t *)tensor_data(index))[t];
		if (ix < -st->rows || ix >= st->rows)
			return error_setk(
			    e, ERR_INPUT,
			    "index %lld is out of bounds for dimension 0 with size %lld",
			    (long long)ix, (long long)st->rows);
		if (ix < 0)
			ix += st->rows;
		for (int64_t r = 0; r < st->rest; r++) {
			int64_t g = t * st->rest + r; /* flat index of the gathered tensor */
			int64_t ij = g / st->heads, h = g % st->heads;
			y[h * nn + ij] = table[ix * st->rest + r];
		}
	}
	return 0;
}

/* ---- Swin: shifted_window_attention ---- */

struct swa_state {
	int64_t b, h, w, c, heads, hd;
	int64_t ws[2], shift[2], ph, pw, nwh, nww, n, windows, tokens;
	bool v2, masked;
	int64_t rpb_stride[4]; /* over [windows, heads, N, N], 0 where it broadcasts */
	const float *qkv_bias, *proj_bias, *logit_scale;
	int8_t *region; /* per padded position, its mask region (into the scratch plan) */
	size_t off_x, off_qkv, off_o, off_y, off_attn, off_region;
};

static int pair_arg(const struct kop *op, int pos, const char *kw, int64_t p[2])
{
	const struct value *v = op_arg(&op->call, pos, kw);
	if (v && v->kind == VAL_LIST && v->u.list.n == 1 && v->u.list.items[0].kind == VAL_INT) {
		p[0] = p[1] = v->u.list.items[0].u.i;
		return 0;
	}
	return v ? value_ints(v, p, 2) : -1;
}

/* Which of the three regions Python's slices (0, -ws), (-ws, -s), (-s,
 * None) give position p of a dimension of length n: later slices win. */
static int slice_region(int64_t p, int64_t n, int64_t ws, int64_t s)
{
	int64_t starts[3] = {0, -ws, -s}, stops[3] = {-ws, -s, n};
	bool has_stop[3] = {true, true, false};
	int region = -1;
	for (int k = 0; k < 3; k++) {
		int64_t a = starts[k] < 0 ? starts[k] + n : starts[k];
		int64_t b = has_stop[k] ? (stops[k] < 0 ? stops[k] + n : stops[k]) : n;
		a = a < 0 ? 0 : a > n ? n : a;
		b = b < 0 ? 0 : b > n ? n : b;
		if (p >= a && p < b)
			region = k;
	}
	return region;
}

static size_t align64(size_t n)
{
	return (n + 63) / 64 * 64;
}

static int swa_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_tensor(op, 0, "input");
	const struct tensor *rpb = kop_tensor(op, 3, "relative_position_bias");
	struct swa_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const struct value *hv = op_arg(&op->call, 5, "num_heads");
	if (pair_arg(op, 4, "window_size", st->ws) < 0 ||
	    pair_arg(op, 6, "shift_size", st->shift) < 0 || !hv || hv->kind != VAL_INT)
		return error_set(e, "shifted_window_attention(): bad window_size, shift_size or "
		                    "num_heads");
	st->b = x->shape.dim[0];
	st->h = x->shape.dim[1];
	st->w = x->shape.dim[2];
	st->c = x->shape.dim[3];
	st->heads = hv->u.i;
	st->hd = st->c / st->heads;
	st->ph = st->h + (st->ws[0] - st->h % st->ws[0]) % st->ws[0];
	st->pw = st->w + (st->ws[1] - st->w % st->ws[1]) % st->ws[1];
	if (st->ws[0] >= st->ph)
		st->shift[0] = 0;
	if (st->ws[1] >= st->pw)
		st->shift[1] = 0;
	st->masked = st->shift[0] + st->shift[1] > 0;
	st->nwh = st->ph / st->ws[0];
	st->nww = st->pw / st->ws[1];
	st->n = st->ws[0] * st->ws[1];
	st->windows = st->b * st->nwh * st->nww;
	st->tokens = st->windows * st->n;
	st->qkv_bias = f32_or_null(kop_tensor(op, 9, "qkv_bias"));
	st->proj_bias = f32_or_null(kop_tensor(op, 10, "proj_bias"));
	st->logit_scale = f32_or_null(kop_tensor(op, 11, "logit_scale"));
	st->v2 = st->logit_scale != NULL;
	if (st->v2 && shape_numel(&kop_tensor(op, 11, "logit_scale")->shape) != st->heads)
		return error_set(e, "shifted_window_attention(): logit_scale must have one value "
		                    "per head");
	/* The bias broadcast against [windows, heads, N, N]. */
	struct shape full = {.ndim = 4, .dim = {st->windows, st->heads, st->n, st->n}};
	int64_t own[SHAPE_MAX_DIMS];
	kstrides(&rpb->shape, own);
	for (int i = 0; i < 4; i++) {
		int k = rpb->shape.ndim - 4 + i;
		st->rpb_stride[i] = k < 0 || rpb->shape.dim[k] == 1 ? 0 : own[k];
	}
	(void)full;
	size_t f = sizeof(float), t = (size_t)st->tokens, c = (size_t)st->c;
	st->off_x = 0;
	st->off_qkv = st->off_x + align64(t * c * f);
	st->off_o = st->off_qkv + align64(3 * t * c * f);
	st->off_y = st->off_o + align64(t * c * f);
	st->off_attn = st->off_y + align64(t * c * f);
	st->off_region =
	    st->off_attn + align64((size_t)(st->windows * st->heads * st->n * st->n) * f);
	op->scratch_bytes = st->off_region + align64((size_t)(st->ph * st->pw));
	return 0;
}

struct swa_job {
	const struct swa_state *st;
	const float *rpb;
	float *qkv, *o, *attn;
	const int8_t *region;
};

/* One (window, head) pair per index. */
static void swa_heads(void *ctx, int64_t pb, int64_t pe)
{
	const struct swa_job *j = ctx;
	const struct swa_state *st = j->st;
	int64_t n = st->n, c = st->c, hd = st->hd;
	for (int64_t p = pb; p < pe; p++) {
		int64_t win = p / st->heads, h = p % st->heads;
		float *q = j->qkv + win * n * 3 * c + h * hd;
		float *k = q + c, *v = q + 2 * c;
		float *a = j->attn + p * n * n;
		kgemm_small(false, true, n, n, hd, q, 3 * c, k, 3 * c, a, n);
		if (st->v2) {
			float ls = st->logit_scale[h];
			float lmax = (float)log(100.0);
			float scale = expf(ls < lmax ? ls : lmax);
			for (int64_t i = 0; i < n * n; i++)
				a[i] *= scale;
		}
		const float *bias = j->rpb + win * st->rpb_stride[0] + h * st->rpb_stride[1];
		for (int64_t i = 0; i < n; i++)
			for (int64_t q2 = 0; q2 < n; q2++)
				a[i * n + q2] +=
				    bias[i * st->rpb_stride[2] + q2 * st->rpb_stride[3]];
		if (st->masked) {
			int64_t wi = win % (st->nwh * st->nww), wh = wi / st->nww,
			        ww = wi % st->nww;
			for (int64_t i = 0; i < n; i++) {
				int64_t pi = (wh * st->ws[0] + i / st->ws[1]) * st->pw +
				             ww * st->ws[1] + i % st->ws[1];
				for (int64_t q2 = 0; q2 < n; q2++) {
					int64_t pq = (wh * st->ws[0] + q2 / st->ws[1]) * st->pw +
					             ww * st->ws[1] + q2 % st->ws[1];
					if (j->region[pi] != j->region[pq])
						a[i * n + q2] += -100.0f;
				}
			}
		}
		ksoftmax_rows(a, n, n, n);
		kgemm_small(false, false, n, hd, n, a, n, v, 3 * c, j->o + win * n * c + h * hd, c);
	}
}

/* Normalises the q and k rows of each head (F.normalize, eps 1e-12). */
static void swa_normalize(void *ctx, int64_t tb, int64_t te)
{
	const struct swa_job *j = ctx;
	const struct swa_state *st = j->st;
	for (int64_t t = tb; t < te; t++)
		for (int64_t part = 0; part < 2; part++)
			for (int64_t h = 0; h < st->heads; h++) {
				float *r = j->qkv + t * 3 * st->c + part * st->c + h * st->hd;
				double ss = 0;
				for (int64_t i = 0; i < st->hd; i++)
					ss += (double)r[i] * r[i];
				float norm = (float)sqrt(ss);
				norm = norm > 1e-12f ? norm : 1e-12f;
				for (int64_t i = 0; i < st->hd; i++)
					r[i] /= norm;
			}
}

static int swa_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct swa_state *st = op->state;
	const float *x = kt_f32(kop_tensor(op, 0, "input"));
	const float *wqkv = kt_f32(kop_tensor(op, 1, "qkv_weight"));
	const float *wproj = kt_f32(kop_tensor(op, 2, "proj_weight"));
	const float *rpb = kt_f32(kop_tensor(op, 3, "relative_position_bias"));
	float *out = kt_f32(kop_out(op, 0));
	char *sc = op->scratch;
	float *xw = (float *)(void *)(sc + st->off_x), *qkv = (float *)(void *)(sc + st->off_qkv);
	float *o = (float *)(void *)(sc + st->off_o), *y = (float *)(void *)(sc + st->off_y);
	float *attn = (float *)(void *)(sc + st->off_attn);
	int8_t *region = (int8_t *)(sc + st->off_region);
	int64_t c = st->c, n = st->n;
	/* Partition: token (window, i) of the rolled, padded map. */
	for (int64_t win = 0; win < st->windows; win++) {
		int64_t b = win / (st->nwh * st->nww), wi = win % (st->nwh * st->nww);
		int64_t wh = wi / st->nww, ww = wi % st->nww;
		for (int64_t i = 0; i < n; i++) {
			int64_t ph = wh * st->ws[0] + i / st->ws[1],
			        pw = ww * st->ws[1] + i % st->ws[1];
			int64_t sh = (ph + st->shift[0]) % st->ph,
			        sw = (pw + st->shift[1]) % st->pw;
			float *d = xw + (win * n + i) * c;
			if (sh < st->h && sw < st->w)
				memcpy(d, x + ((b * st->h + sh) * st->w + sw) * c,
				       (size_t)c * sizeof *d);
			else
				memset(d, 0, (size_t)c * sizeof *d);
		}
	}
	/* qkv = x W^T + b (v2: the k third of the bias is zero) */
	kgemm(true, st->tokens, 3 * c, c, xw, c, wqkv, c, 0.0f, qkv, 3 * c);
	if (st->qkv_bias)
		for (int64_t t = 0; t < st->tokens; t++)
			for (int64_t i = 0; i < 3 * c; i++)
				if (!st->v2 || i < c || i >= 2 * c)
					qkv[t * 3 * c + i] += st->qkv_bias[i];
	struct swa_job j = {st, rpb, qkv, o, attn, region};
	if (st->v2) {
		kpar_for(st->tokens, 64, swa_normalize, &j);
	} else {
		float scale = (float)pow((double)(c / st->heads), -0.5);
		for (int64_t t = 0; t < st->tokens; t++)
			for (int64_t i = 0; i < c; i++)
				qkv[t * 3 * c + i] *= scale;
	}
	if (st->masked)
		for (int64_t ph = 0; ph < st->ph; ph++)
			for (int64_t pw = 0; pw < st->pw; pw++)
				region[ph * st->pw + pw] =
				    (int8_t)(slice_region(ph, st->ph, st->ws[0], st->shift[0]) * 3 +
				             slice_region(pw, st->pw, st->ws[1], st->shift[1]));
	kpar_for(st->windows * st->heads, 1, swa_heads, &j);
	kgemm(true, st->tokens, c, c, o, c, wproj, c, 0.0f, y, c);
	if (st->proj_bias)
		for (int64_t t = 0; t < st->tokens; t++)
			for (int64_t i = 0; i < c; i++)
				y[t * c + i] += st->proj_bias[i];
	/* Back: output pixel (r, q) was rolled to ((r - s) mod P). */
	for (int64_t b = 0; b < st->b; b++)
		for (int64_t r = 0; r < st->h; r++)
			for (int64_t q = 0; q < st->w; q++) {
				int64_t ph = ((r - st->shift[0]) % st->ph + st->ph) % st->ph;
				int64_t pw = ((q - st->shift[1]) % st->pw + st->pw) % st->pw;
				int64_t win =
				    (b * st->nwh + ph / st->ws[0]) * st->nww + pw / st->ws[1];
				int64_t i = ph % st->ws[0] * st->ws[1] + pw % st->ws[1];
				memcpy(out + ((b * st->h + r) * st->w + q) * c,
				       y + (win * n + i) * c, (size_t)c * sizeof *out);
			}
	return 0;
}

/* ---- torchvision MViT v2: _add_rel_pos ---- */

/* Axes in the order of the relative position tables' arguments (h, w, t)
 * and their place in a (t, h, w) triple. */
enum { RP_H, RP_W, RP_T, RP_AXES };
static const int rp_thw_place[RP_AXES] = {1, 2, 0};

struct rel_pos_state {
	int64_t heads_b, nq, nk, dim;
	int64_t q[RP_AXES], k[RP_AXES], len[RP_AXES]; /* sizes of q, k and the tables */
	size_t off_table[RP_AXES], off_dots;          /* scratch floats */
	const float *q_data;
	float *out, *scratch;
};

static int rel_pos_prepare(struct kop *op, struct error *e)
{
	const struct tensor *q = kop_tensor(op, 1, "q");
	const char *names[RP_AXES] = {"rel_pos_h", "rel_pos_w", "rel_pos_t"};
	int64_t qthw[3], kthw[3];
	const struct value *qv = op_arg(&op->call, 2, "q_thw"), *kv = op_arg(&op->call, 3, "k_thw");
	if (!q || !qv || !kv || value_ints(qv, qthw, 3) < 0 || value_ints(kv, kthw, 3) < 0)
		return error_set(e, "_add_rel_pos(): needs q, q_thw and k_thw");
	struct rel_pos_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->heads_b = q->shape.dim[0] * q->shape.dim[1];
	st->nq = q->shape.dim[2] - 1;
	st->nk = kthw[0] * kthw[1] * kthw[2];
	st->dim = q->shape.dim[3];
	size_t at = 0;
	for (int a = 0; a < RP_AXES; a++) {
		st->q[a] = qthw[rp_thw_place[a]];
		st->k[a] = kthw[rp_thw_place[a]];
		st->len[a] = kop_tensor(op, 4 + a, names[a])->shape.dim[0];
		st->off_table[a] = at;
		at += (size_t)(st->q[a] * st->k[a] * st->dim);
	}
	st->off_dots = at;
	at += (size_t)(st->heads_b * st->nq * (st->k[RP_H] + st->k[RP_W] + st->k[RP_T]));
	op->scratch_bytes = at * sizeof(float);
	return 0;
}

/* Row r of `table` [len, dim] interpolated linearly to `rows` rows (as
 * F.interpolate(mode="linear") does; the row itself when rows == len)
 * into out. */
static void rel_pos_row(const float *table, int64_t len, int64_t rows, int64_t dim, int64_t r,
                        float *out)
{
	if (rows == len) {
		memcpy(out, table + r * dim, (size_t)dim * sizeof *out);
		return;
	}
	float src = (float)len / (float)rows * ((float)r + 0.5f) - 0.5f;
	if (src < 0)
		src = 0;
	int64_t i0 = (int64_t)src, i1 = i0 < len - 1 ? i0 + 1 : i0;
	float w1 = src - (float)i0, w0 = 1.0f - w1;
	for (int64_t c = 0; c < dim; c++)
		out[c] = w0 * table[i0 * dim + c] + w1 * table[i1 * dim + c];
}

/* The table of one axis for each (query, key) position pair, [q, k, dim]:
 * torchvision's dist = i * q_ratio - (j + 1 - k) * k_ratio, in float32,
 * truncated, indexes the table interpolated to 2 * max(q, k) - 1 rows. */
static void rel_pos_table(const float *table, int64_t len, int64_t q, int64_t k, int64_t dim,
                          float *out)
{
	int64_t rows = 2 * (q > k ? q : k) - 1;
	double qr = (double)k / (double)q, kr = (double)q / (double)k;
	float q_ratio = (float)(qr > 1.0 ? qr : 1.0), k_ratio = (float)(kr > 1.0 ? kr : 1.0);
	for (int64_t i = 0; i < q; i++)
		for (int64_t j = 0; j < k; j++) {
			float dist = (float)i * q_ratio - ((float)j + (float)(1 - k)) * k_ratio;
			rel_pos_row(table, len, rows, dim, (int64_t)dist, out + (i * k + j) * dim);
		}
}

static float dot_f32(const float *a, const float *b, int64_t n)
{
	float s = 0;
	for (int64_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* Query rows [begin, end) of all batches and heads: the products of each
 * query with its rows of the three tables, summed into the attention. */
static void rel_pos_rows(void *ctx, int64_t begin, int64_t end)
{
	const struct rel_pos_state *st = ctx;
	int64_t kh = st->k[RP_H], kw = st->k[RP_W], kt = st->k[RP_T], nd = kh + kw + kt;
	const float *th = st->scratch + st->off_table[RP_H];
	const float *tw = st->scratch + st->off_table[RP_W];
	const float *tt = st->scratch + st->off_table[RP_T];
	for (int64_t r = begin; r < end; r++) {
		int64_t bh = r / st->nq, p = r % st->nq;
		int64_t w = p % st->q[RP_W], h = p / st->q[RP_W] % st->q[RP_H],
		        t = p / (st->q[RP_W] * st->q[RP_H]);
		const float *qv = st->q_data + (bh * (st->nq + 1) + 1 + p) * st->dim;
		float *dots = st->scratch + st->off_dots + r * nd;
		for (int64_t j = 0; j < kh; j++)
			dots[j] = dot_f32(qv, th + (h * kh + j) * st->dim, st->dim);
		for (int64_t j = 0; j < kw; j++)
			dots[kh + j] = dot_f32(qv, tw + (w * kw + j) * st->dim, st->dim);
		for (int64_t j = 0; j < kt; j++)
			dots[kh + kw + j] = dot_f32(qv, tt + (t * kt + j) * st->dim, st->dim);
		float *row = st->out + (bh * (st->nq + 1) + 1 + p) * (st->nk + 1) + 1;
		for (int64_t a = 0; a < kt; a++)
			for (int64_t b = 0; b < kh; b++)
				for (int64_t c = 0; c < kw; c++)
					row[(a * kh + b) * kw + c] +=
					    dots[b] + dots[kh + c] + dots[kh + kw + a];
	}
}

static int rel_pos_run(struct kop *op, struct error *e)
{
	(void)e;
	struct rel_pos_state *st = op->state;
	const struct tensor *attn = kop_tensor(op, 0, "attn");
	struct tensor *y = kop_out(op, 0);
	st->out = kt_f32(y);
	if (st->out != kt_f32(attn))
		memcpy(st->out, kt_f32(attn), tensor_nbytes(attn));
	st->scratch = op->scratch;
	st->q_data = kt_f32(kop_tensor(op, 1, "q"));
	const char *names[RP_AXES] = {"rel_pos_h", "rel_pos_w", "rel_pos_t"};
	for (int a = 0; a < RP_AXES; a++)
		rel_pos_table(kt_f32(kop_tensor(op, 4 + a, names[a])), st->len[a], st->q[a],
		              st->k[a], st->dim, st->scratch + st->off_table[a]);
	kpar_for(st->heads_b * st->nq, 64, rel_pos_rows, st);
	return 0;
}

/* ---- torchvision MViT v2: _add_shortcut ---- */

static int add_shortcut_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_tensor(op, 0, "x");
	const float *sc = kt_f32(kop_tensor(op, 1, "shortcut"));
	float *y = kt_f32(kop_out(op, 0));
	if (y != kt_f32(x))
		memcpy(y, kt_f32(x), tensor_nbytes(x));
	/* with the class token, or from token 1 of dim 2 on */
	int64_t skip = flag_arg(op, 2, "residual_with_cls_embed", true) ? 0 : 1;
	int64_t outer = x->shape.dim[0] * x->shape.dim[1], n = x->shape.dim[2];
	int64_t inner = n ? shape_numel(&x->shape) / (outer * n) : 0;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = (o * n + skip) * inner; i < (o + 1) * n * inner; i++)
			y[i] += sc[i];
	return 0;
}

const struct kernel kernels_attention[] = {
    {"MultiheadAttention", OP_MODULE, KF_BOOL_MASK, mha_prepare, mha_run},
    {"generate_square_subsequent_mask", OP_FUNCTION, 0, NULL, square_subsequent_mask_run},
    {"_get_relative_position_bias", OP_FUNCTION, KF_INT_INDEX, rpb_prepare, rpb_run},
    {"shifted_window_attention", OP_FUNCTION, 0, swa_prepare, swa_run},
    {"_add_rel_pos", OP_FUNCTION, KF_INPLACE, rel_pos_prepare, rel_pos_run},
    {"_add_shortcut", OP_FUNCTION, KF_INPLACE, NULL, add_shortcut_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
