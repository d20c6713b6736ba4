/* registry_attention.c - attention: MultiheadAttention, scaled_dot_product_attention and the
 * torchvision Swin and MViT functions. */
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

static struct shape shape_of(int ndim, const int64_t *dims)
{
	struct shape s = {.ndim = ndim};
	for (int i = 0; i < ndim; i++)
		s.dim[i] = dims[i];
	return s;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return INT64_MAX;
	return r;
}

/* ---- MultiheadAttention ---- */

static const struct attr_spec mha_attrs[] = {
    {"embed_dim", AT_INT, NULL},       {"num_heads", AT_INT, NULL},
    {"dropout", AT_FLOAT, "0.0"},      {"bias", AT_BOOL, "True"},
    {"add_bias_kv", AT_BOOL, "False"}, {"add_zero_attn", AT_BOOL, "False"},
    {"kdim", AT_INT_OR_NONE, "None"},  {"vdim", AT_INT_OR_NONE, "None"},
    {"batch_first", AT_BOOL, "False"},
};

/* kdim/vdim, which default to embed_dim. */
static void mha_dims(const struct module *m, int64_t *e, int64_t *kd, int64_t *vd)
{
	*e = module_attr_int(m, "embed_dim", 1);
	const struct value *k = module_attr(m, "kdim"), *v = module_attr(m, "vdim");
	*kd = k && k->kind == VAL_INT ? k->u.i : *e;
	*vd = v && v->kind == VAL_INT ? v->u.i : *e;
}

static int mha_check(struct module *m, struct error *e)
{
	if (op_check_positive(m, "embed_dim", e) || op_check_positive(m, "num_heads", e) ||
	    op_check_probability(m, "dropout", e))
		return -1;
	if (module_attr_int(m, "embed_dim", 1) % module_attr_int(m, "num_heads", 1))
		return error_set(e, "MultiheadAttention: embed_dim must be divisible by num_heads");
	int64_t ed, kd, vd;
	mha_dims(m, &ed, &kd, &vd);
	if (kd <= 0 || vd <= 0)
		return error_set(e, "MultiheadAttention: kdim and vdim must be positive");
	return 0;
}

static int mha_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t ed, kd, vd;
	mha_dims(m, &ed, &kd, &vd);
	bool bias = module_attr_bool(m, "bias", true);
	if (kd == ed && vd == ed) {
		int64_t w[2] = {3 * ed, ed};
		op_add_param(m, "in_proj_weight", 2, w, false);
	} else {
		int64_t q[2] = {ed, ed}, k[2] = {ed, kd}, v[2] = {ed, vd};
		op_add_param(m, "q_proj_weight", 2, q, false);
		op_add_param(m, "k_proj_weight", 2, k, false);
		op_add_param(m, "v_proj_weight", 2, v, false);
	}
	if (bias) {
		int64_t b = 3 * ed;
		op_add_param(m, "in_proj_bias", 1, &b, false);
	}
	if (module_attr_bool(m, "add_bias_kv", false)) {
		int64_t b[3] = {1, 1, ed};
		op_add_param(m, "bias_k", 3, b, false);
		op_add_param(m, "bias_v", 3, b, false);
	}
	int64_t o[2] = {ed, ed};
	op_add_param(m, "out_proj.weight", 2, o, false);
	if (bias)
		op_add_param(m, "out_proj.bias", 1, o, false);
	return 0;
}

/* __init__ builds out_proj, a Linear whose reset_parameters draws first;
 * _reset_parameters then draws the input projections, zeroes both biases
 * and draws bias_k and bias_v. */
static int mha_init(struct module *m, struct rng *r, struct error *e)
{
	struct param *ow = init_param(m, "out_proj.weight", e);
	if (!ow)
		return -1;
	struct param *ob = module_param(m, "out_proj.bias");
	if (init_linear_reset(ow, ob, r, e) < 0)
		return -1;
	static const char *const proj[] = {"in_proj_weight", "q_proj_weight", "k_proj_weight",
	                                   "v_proj_weight"};
	for (size_t i = 0; i < sizeof proj / sizeof *proj; i++) {
		struct param *p = module_param(m, proj[i]);
		if (p && init_xavier_uniform(p, r, 1.0, e) < 0)
			return -1;
	}
	struct param *ib = module_param(m, "in_proj_bias");
	if (ib) {
		init_constant(ib, 0.0);
		if (ob)
			init_constant(ob, 0.0);
	}
	static const char *const kv[] = {"bias_k", "bias_v"};
	for (size_t i = 0; i < 2; i++) {
		struct param *p = module_param(m, kv[i]);
		if (p && init_xavier_normal(p, r, 1.0, e) < 0)
			return -1;
	}
	return 0;
}

/* Checks key_padding_mask ([N, S], [S] unbatched) and attn_mask ([L, S]
 * or [N*heads, L, S], [heads, L, S] unbatched) as PyTorch 1.13 does: bool
 * or floating masks (an attn_mask may be uint8, read as bool); a float
 * key_padding_mask cannot be merged into a float attn_mask. */
static int mha_check_masks(struct op_call *c, bool batched, int64_t n, int64_t heads, int64_t l,
                           int64_t s)
{
	const struct value *kpm, *am;
	if (op_optional_tensor(c, 3, "key_padding_mask", &kpm) < 0 ||
	    op_optional_tensor(c, 5, "attn_mask", &am) < 0)
		return -1;
	char sb[160];
	const struct value *masks[2] = {kpm, am};
	for (int i = 0; i < 2; i++) {
		enum dtype t = masks[i] ? op_dtype(masks[i]) : DT_BOOL;
		if (t != DT_BOOL && !(i == 1 && t == DT_U8) && !op_is_float_dtype(t))
			return op_fail(c, "MultiheadAttention: only bool and floating types of %s "
			                  "are supported",
			               i ? "attn_mask" : "key_padding_mask");
	}
	if (kpm) {
		struct shape want = batched ? shape_of(2, (int64_t[]){n, s}) : shape_of(1, &s);
		char sw[64];
		if (!shape_equal(op_shape(kpm), &want))
			return op_mismatch(c, "key_padding_mask %s must be %s (%s)",
			                   shape_format(op_shape(kpm), sb, sizeof sb),
			                   shape_format(&want, sw, sizeof sw), batched ? "N, S" : "S");
	}
	if (am) {
		const struct shape *as = op_shape(am);
		struct shape two = shape_of(2, (int64_t[]){l, s});
		struct shape three = shape_of(3, (int64_t[]){op_mul_sat(n, heads), l, s});
		char s2[64], s3[80];
		if (!shape_equal(as, &two) && !shape_equal(as, &three))
			return op_mismatch(c, "attn_mask %s must be %s (L, S) or %s (%s, L, S)",
			                   shape_format(as, sb, sizeof sb),
			                   shape_format(&two, s2, sizeof s2),
			                   shape_format(&three, s3, sizeof s3),
			                   batched ? "N*num_heads" : "num_heads");
	}
	if (kpm && am && op_is_float_dtype(op_dtype(kpm)) && op_is_float_dtype(op_dtype(am)))
		return op_fail(c, "MultiheadAttention: a float key_padding_mask cannot be merged "
		                  "into a float attn_mask (masked_fill needs a bool mask)");
	return 0;
}

/* forward(query, key, value, key_padding_mask=None, need_weights=True,
 * attn_mask=None, average_attn_weights=True) -> (attn_output, attn_weights) */
static int mha_infer(struct op_call *c)
{
	const struct module *m = c->module;
	const struct value *q = op_tensor(c, 0, "query");
	const struct value *k = q ? op_tensor(c, 1, "key") : NULL;
	const struct value *v = k ? op_tensor(c, 2, "value") : NULL;
	if (!v)
		return -1;
	const struct value *nw = op_arg(c, 4, "need_weights");
	const struct value *avg = op_arg(c, 6, "average_attn_weights");
	bool need_weights = !nw || nw->kind != VAL_BOOL || nw->u.b;
	bool average = !avg || avg->kind != VAL_BOOL || avg->u.b;
	bool batch_first = module_attr_bool(m, "batch_first", false);
	int64_t ed, kd, vd, heads = module_attr_int(m, "num_heads", 1);
	mha_dims(m, &ed, &kd, &vd);
	const struct shape *qs = op_shape(q), *ks = op_shape(k), *vs = op_shape(v);
	char desc[128], sa[160], sb[160];
	if (qs->ndim != 2 && qs->ndim != 3)
		return op_break(c, q, "MultiheadAttention", "query %s (needs 2-D or 3-D)",
		                shape_format(qs, sa, sizeof sa));
	const struct value *vals[3] = {q, k, v};
	const int64_t want[3] = {ed, kd, vd};
	const char *names[3] = {"embed_dim", "kdim", "vdim"};
	const char *args[3] = {"query", "key", "value"};
	for (int i = 0; i < 3; i++) {
		const struct shape *s = op_shape(vals[i]);
		if (s->ndim != qs->ndim)
			return op_mismatch(c, "query %s, key %s and value %s must all be %d-D",
			                   shape_format(qs, sa, sizeof sa),
			                   shape_format(ks, sb, sizeof sb),
			                   shape_format(vs, desc, sizeof desc), qs->ndim);
		if (s->dim[s->ndim - 1] != want[i]) {
			snprintf(desc, sizeof desc, "MultiheadAttention(%s=%lld)", names[i],
			         (long long)want[i]);
			return op_break(c, vals[i], desc, "a %s of %lld features", args[i],
			                (long long)s->dim[s->ndim - 1]);
		}
	}
	bool batched = qs->ndim == 3;
	int li = batched && batch_first ? 1 : 0; /* index of the sequence dim */
	int64_t L = qs->dim[li], S = ks->dim[li];
	int64_t N = batched ? qs->dim[batch_first ? 0 : 1] : 1;
	if (vs->dim[li] != S || (batched && (ks->dim[1 - li] != N || vs->dim[1 - li] != N)))
		return op_mismatch(c, "key %s and value %s do not match query %s",
		                   shape_format(ks, sa, sizeof sa), shape_format(vs, sb, sizeof sb),
		                   shape_format(qs, desc, sizeof desc));
	if (mha_check_masks(c, batched, N, heads, L, S) < 0)
		return -1;
	/* Projections on the given sequences; the attention sees the extra
	 * bias_k/zero rows. */
	int64_t macs = op_mul_sat(op_mul_sat(N, L), op_mul_sat(ed, ed));
	macs = add_sat(macs, op_mul_sat(op_mul_sat(N, S), op_mul_sat(kd, ed)));
	macs = add_sat(macs, op_mul_sat(op_mul_sat(N, S), op_mul_sat(vd, ed)));
	int64_t S2 = S + module_attr_bool(m, "add_bias_kv", false) +
	             module_attr_bool(m, "add_zero_attn", false);
	macs = add_sat(macs, op_mul_sat(2, op_mul_sat(op_mul_sat(N, L), op_mul_sat(S2, ed))));
	macs = add_sat(macs, op_mul_sat(op_mul_sat(N, L), op_mul_sat(ed, ed)));

	struct value out = value_list(2);
	op_out_tensor(c, op_dtype(q), qs, q);
	out.u.list.items[0] = c->out;
	c->out = value_none();
	if (need_weights) {
		int64_t d[4];
		int n = 0;
		if (batched)
			d[n++] = N;
		if (!average)
			d[n++] = heads;
		d[n++] = L;
		d[n++] = S2;
		struct shape ws = shape_of(n, d);
		if (op_checked_numel(c, &ws) < 0) {
			value_free(&out);
			return -1;
		}
		op_out_tensor(c, op_dtype(q), &ws, NULL);
		out.u.list.items[1] = c->out;
		c->out = value_none();
	}
	c->out = out;
	c->macs = macs;
	return 0;
}

static void mha_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld, %lld heads", (long long)module_attr_int(m, "embed_dim", 0),
	         (long long)module_attr_int(m, "num_heads", 0));
	if (module_attr_bool(m, "batch_first", false))
		op_append(buf, size, " batch_first");
}

static const struct op_def def_mha = {
    .name = "MultiheadAttention",
    .in_size_attr = "embed_dim",
    .in_size_dim = -1,
    .kind = OP_MODULE,
    .doc = "multi-head attention; returns (attn_output, attn_weights or None)",
    .attrs = mha_attrs,
    .nattrs = sizeof mha_attrs / sizeof *mha_attrs,
    .size_attr = "embed_dim",
    .params = mha_params,
    .infer = mha_infer,
    .describe = mha_describe,
    .check = mha_check,
    .init = mha_init,
};

/* F.scaled_dot_product_attention(q [..., L, E], k [..., S, E], v [..., S, Ev]) */
static int fn_sdpa(struct op_call *c)
{
	const struct value *q = op_tensor(c, 0, "query");
	const struct value *k = q ? op_tensor(c, 1, "key") : NULL;
	const struct value *v = k ? op_tensor(c, 2, "value") : NULL;
	if (!v)
		return -1;
	const struct shape *qs = op_shape(q), *ks = op_shape(k), *vs = op_shape(v);
	if (qs->ndim < 2 || ks->ndim < 2 || vs->ndim < 2 ||
	    qs->dim[qs->ndim - 1] != ks->dim[ks->ndim - 1] ||
	    ks->dim[ks->ndim - 2] != vs->dim[vs->ndim - 2])
		return op_broadcast_fail(c, "attend", q, k);
	struct shape bq = *qs, bk = *ks, bo;
	bq.ndim -= 2;
	bk.ndim -= 2;
	if (op_broadcast(&bq, &bk, &bo) < 0 || bo.ndim + 2 > SHAPE_MAX_DIMS)
		return op_broadcast_fail(c, "attend", q, k);
	int64_t L = qs->dim[qs->ndim - 2], E = qs->dim[qs->ndim - 1];
	int64_t S = ks->dim[ks->ndim - 2], Ev = vs->dim[vs->ndim - 1];
	struct shape os = bo;
	os.dim[os.ndim++] = L;
	os.dim[os.ndim++] = Ev;
	if (op_checked_numel(c, &os) < 0)
		return -1;
	int64_t batch = shape_numel(&bo);
	op_out_tensor(c, op_dtype(q), &os, q);
	c->macs = op_mul_sat(op_mul_sat(batch, op_mul_sat(L, S)), E + Ev);
	return 0;
}

/* nn.Transformer.generate_square_subsequent_mask(sz) -> [sz, sz] float32 */
static int fn_square_subsequent_mask(struct op_call *c)
{
	int64_t sz;
	if (op_int(c, 0, "sz", -1, &sz) < 0)
		return -1;
	if (sz < 0)
		return op_fail(c, "generate_square_subsequent_mask() needs a size of at least 0");
	struct shape os = {.ndim = 2, .dim = {sz, sz}};
	if (op_checked_numel(c, &os) < 0)
		return -1;
	op_out_tensor(c, DT_F32, &os, NULL);
	return 0;
}

/* ---- torchvision Swin ---- */

/* _patch_merging_pad(x [..., H, W, C]) -> [..., ceil(H/2), ceil(W/2), 4*C] */
static int fn_patch_merging_pad(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct shape *xs = op_shape(x);
	char sb[160];
	if (xs->ndim < 3)
		return op_break(c, x, "_patch_merging_pad", "%s (needs [..., H, W, C])",
		                shape_format(xs, sb, sizeof sb));
	struct shape os = *xs;
	int n = xs->ndim;
	os.dim[n - 3] = (xs->dim[n - 3] + 1) / 2;
	os.dim[n - 2] = (xs->dim[n - 2] + 1) / 2;
	if (__builtin_mul_overflow(xs->dim[n - 1], 4, &os.dim[n - 1]))
		return op_mismatch(c, "_patch_merging_pad() result too large");
	return op_out_like(c, x, &os);
}

/* Reads window_size-like arguments: a pair of positive ints. */
static int window_arg(struct op_call *c, int pos, const char *kw, int64_t w[2], bool zero_ok)
{
	if (op_pair_arg(c, pos, kw, NULL, w) < 0)
		return -1;
	if (w[0] < (zero_ok ? 0 : 1) || w[1] < (zero_ok ? 0 : 1))
		return op_fail(c, "%s(): %s must be %s, got (%lld, %lld)", op_fn_name(c), kw,
		               zero_ok ? "non-negative" : "positive", (long long)w[0],
		               (long long)w[1]);
	return 0;
}

/* _get_relative_position_bias(table [K, heads], index [N*N], window_size)
 * -> [1, heads, N, N] with N = Wh * Ww */
static int fn_relative_position_bias(struct op_call *c)
{
	const struct value *table = op_tensor(c, 0, "relative_position_bias_table");
	const struct value *index = table ? op_tensor(c, 1, "relative_position_index") : NULL;
	int64_t w[2];
	if (!index || window_arg(c, 2, "window_size", w, false) < 0)
		return -1;
	const struct shape *ts = op_shape(table);
	if (ts->ndim < 1)
		return op_fail(c, "_get_relative_position_bias() needs a table of at least 1-D");
	int64_t n = w[0] * w[1], nn, rest = 1;
	for (int i = 1; i < ts->ndim; i++)
		rest = op_mul_sat(rest, ts->dim[i]);
	int64_t total = op_mul_sat(shape_numel(op_shape(index)), rest);
	if (__builtin_mul_overflow(n, n, &nn) || nn == 0 || total % nn) {
		char sb[160], desc[96];
		snprintf(desc, sizeof desc, "_get_relative_position_bias(window_size=(%lld, %lld))",
		         (long long)w[0], (long long)w[1]);
		return op_break(c, index, desc, "an index %s",
		                shape_format(op_shape(index), sb, sizeof sb));
	}
	struct shape os = {.ndim = 4, .dim = {1, total / nn, n, n}};
	if (op_checked_numel(c, &os) < 0)
		return -1;
	op_out_tensor(c, op_dtype(table), &os, NULL);
	return 0;
}

/* shifted_window_attention(input [B, H, W, C], qkv_weight [3C, C],
 * proj_weight [C, C], relative_position_bias, window_size, num_heads,
 * shift_size, attention_dropout, dropout, qkv_bias, proj_bias, logit_scale)
 * -> [B, H, W, C]. MACs per window of N = Wh*Ww tokens: N*C*3C (qkv) +
 * 2*N*N*C (QK^T and AV) + N*C*C (proj), over the padded windows. */
static int fn_shifted_window_attention(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	const struct value *qkv = x ? op_tensor(c, 1, "qkv_weight") : NULL;
	const struct value *proj = qkv ? op_tensor(c, 2, "proj_weight") : NULL;
	const struct value *rpb = proj ? op_tensor(c, 3, "relative_position_bias") : NULL;
	int64_t w[2], shift[2], heads;
	if (!rpb || window_arg(c, 4, "window_size", w, false) < 0 ||
	    op_int(c, 5, "num_heads", 0, &heads) < 0 || window_arg(c, 6, "shift_size", shift, true))
		return -1;
	const struct shape *xs = op_shape(x), *qs = op_shape(qkv), *ps = op_shape(proj);
	char sb[160], desc[200];
	if (xs->ndim != 4)
		return op_break(c, x, "shifted_window_attention", "%s (needs [B, H, W, C])",
		                shape_format(xs, sb, sizeof sb));
	int64_t B = xs->dim[0], H = xs->dim[1], W = xs->dim[2], C = xs->dim[3];
	if (heads <= 0 || C % heads)
		return op_break(c, x, "shifted_window_attention", "%lld channels for %lld heads",
		                (long long)C, (long long)heads);
	if (qs->ndim != 2 || qs->dim[1] != C || qs->dim[0] != 3 * C) {
		snprintf(desc, sizeof desc, "shifted_window_attention(qkv_weight %s)",
		         shape_format(qs, sb, sizeof sb));
		return op_break(c, x, desc, "%lld channels", (long long)C);
	}
	if (ps->ndim != 2 || ps->dim[1] != C || ps->dim[0] != C) {
		snprintf(desc, sizeof desc, "shifted_window_attention(proj_weight %s)",
		         shape_format(ps, sb, sizeof sb));
		return op_break(c, x, desc, "%lld channels", (long long)C);
	}
	int64_t hw = (H + w[0] - 1) / w[0], ww = (W + w[1] - 1) / w[1];
	int64_t n = w[0] * w[1], windows = op_mul_sat(B, op_mul_sat(hw, ww));
	struct shape attn = {.ndim = 4, .dim = {windows, heads, n, n}}, bs;
	if (op_broadcast(&attn, op_shape(rpb), &bs) < 0 || !shape_equal(&bs, &attn)) {
		char sa[160];
		return op_mismatch(c,
		                   "relative_position_bias %s does not fit the attention %s "
		                   "(from %s)",
		                   shape_format(op_shape(rpb), sb, sizeof sb),
		                   shape_format(&attn, sa, sizeof sa),
		                   (origin_describe(rpb, desc, sizeof desc), desc));
	}
	int64_t per = op_mul_sat(op_mul_sat(n, C), op_mul_sat(4, C)),
	        att = op_mul_sat(2, op_mul_sat(op_mul_sat(n, n), C));
	if (__builtin_add_overflow(per, att, &per))
		per = INT64_MAX;
	op_out_tensor(c, op_dtype(x), xs, x);
	c->macs = op_mul_sat(windows, per);
	return 0;
}

/* ---- torchvision MViT ---- */

/* A (t, h, w) argument: three positive ints into thw. */
static int thw_arg(struct op_call *c, int pos, const char *kw, int64_t thw[3])
{
	if (op_tuple_arg(c, pos, kw, 3, NULL, thw) < 0)
		return -1;
	if (thw[0] < 1 || thw[1] < 1 || thw[2] < 1)
		return op_fail(c, "%s(): %s must be three positive ints", op_fn_name(c), kw);
	return 0;
}

/* _add_rel_pos(attn [B, heads, 1+Nq, 1+Nk], q [B, heads, 1+Nq, dim], q_thw,
 * k_thw, rel_pos_h [Lh, dim], rel_pos_w [Lw, dim], rel_pos_t [Lt, dim])
 * -> like attn, with Nq = q_t*q_h*q_w and Nk = k_t*k_h*k_w. MACs: each
 * query token's products with its k_h + k_w + k_t table rows. */
static int fn_add_rel_pos(struct op_call *c)
{
	static const char *const tables[3] = {"rel_pos_h", "rel_pos_w", "rel_pos_t"};
	const struct value *attn = op_tensor(c, 0, "attn");
	const struct value *q = attn ? op_tensor(c, 1, "q") : NULL;
	int64_t qthw[3], kthw[3];
	if (!q || thw_arg(c, 2, "q_thw", qthw) < 0 || thw_arg(c, 3, "k_thw", kthw) < 0)
		return -1;
	const struct shape *as = op_shape(attn), *qs = op_shape(q);
	char sb[160], desc[160];
	int64_t nq = op_mul_sat(qthw[0], op_mul_sat(qthw[1], qthw[2]));
	int64_t nk = op_mul_sat(kthw[0], op_mul_sat(kthw[1], kthw[2]));
	snprintf(desc, sizeof desc, "_add_rel_pos(q_thw=(%lld, %lld, %lld))", (long long)qthw[0],
	         (long long)qthw[1], (long long)qthw[2]);
	if (qs->ndim != 4 || qs->dim[2] != nq + 1)
		return op_break(c, q, desc, "q %s (needs [B, heads, 1 + %lld, dim])",
		                shape_format(qs, sb, sizeof sb), (long long)nq);
	if (as->ndim != 4 || as->dim[0] != qs->dim[0] || as->dim[1] != qs->dim[1] ||
	    as->dim[2] != nq + 1 || as->dim[3] != nk + 1)
		return op_break(c, attn, desc, "attn %s (needs [%lld, %lld, %lld, %lld])",
		                shape_format(as, sb, sizeof sb), (long long)qs->dim[0],
		                (long long)qs->dim[1], (long long)nq + 1, (long long)nk + 1);
	for (int i = 0; i < 3; i++) {
		const struct value *t = op_tensor(c, 4 + i, tables[i]);
		if (!t)
			return -1;
		const struct shape *ts = op_shape(t);
		if (ts->ndim != 2 || ts->dim[0] < 1 || ts->dim[1] != qs->dim[3])
			return op_break(c, t, desc, "%s %s (needs [L, %lld])", tables[i],
			                shape_format(ts, sb, sizeof sb), (long long)qs->dim[3]);
	}
	int64_t rows = op_mul_sat(qs->dim[0], op_mul_sat(qs->dim[1], nq));
	c->macs = op_mul_sat(op_mul_sat(rows, kthw[0] + kthw[1] + kthw[2]), qs->dim[3]);
	op_out_tensor(c, op_dtype(attn), as, attn);
	return 0;
}

/* _add_shortcut(x, shortcut, residual_with_cls_embed) -> x + shortcut, or
 * with residual_with_cls_embed false x with shortcut added to x[:, :, 1:]
 * only; both of one shape, of at least 3 dims. */
static int fn_add_shortcut(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "x");
	const struct value *sc = x ? op_tensor(c, 1, "shortcut") : NULL;
	if (!sc || !op_arg(c, 2, "residual_with_cls_embed"))
		return sc ? op_fail(c, "_add_shortcut() needs residual_with_cls_embed") : -1;
	const struct shape *xs = op_shape(x);
	if (xs->ndim < 3 || !shape_equal(xs, op_shape(sc))) {
		char sa[160], sb[160];
		return op_mismatch(c, "_add_shortcut() needs x and shortcut of one shape, of at "
		                      "least 3 dims, got %s and %s",
		                   shape_format(xs, sa, sizeof sa),
		                   shape_format(op_shape(sc), sb, sizeof sb));
	}
	op_out_tensor(c, op_dtype(x), xs, NULL);
	return 0;
}

/* ---- the table ---- */

REGISTRY_FUNCTION(scaled_dot_product_attention, fn_sdpa, "softmax(q k^T / sqrt(E)) v");
REGISTRY_FUNCTION(generate_square_subsequent_mask, fn_square_subsequent_mask,
                  "nn.Transformer's causal mask: [sz, sz], -inf above the diagonal, 0 elsewhere");
REGISTRY_FUNCTION(shifted_window_attention, fn_shifted_window_attention,
                  "torchvision Swin window attention: [B, H, W, C] -> [B, H, W, C]");
REGISTRY_FUNCTION(_patch_merging_pad, fn_patch_merging_pad,
                  "torchvision Swin: [..., H, W, C] -> [..., H/2, W/2, 4C]");
REGISTRY_FUNCTION(_get_relative_position_bias, fn_relative_position_bias,
                  "torchvision Swin: table[index] -> [1, heads, N, N]");
REGISTRY_FUNCTION(_add_rel_pos, fn_add_rel_pos,
                  "torchvision MViT v2: attn plus the decomposed relative position bias of q");
REGISTRY_FUNCTION(_add_shortcut, fn_add_shortcut,
                  "torchvision MViT v2: residual pooling, x + shortcut (class token too or not)");

const struct op_def *const registry_attention_defs[] = {
    &def_mha,
    &fn_def_scaled_dot_product_attention,
    &fn_def_generate_square_subsequent_mask,
    &fn_def_shifted_window_attention,
    &fn_def__patch_merging_pad,
    &fn_def__get_relative_position_bias,
    &fn_def__add_rel_pos,
    &fn_def__add_shortcut,
    NULL,
};
