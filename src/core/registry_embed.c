/* registry_embed.c - lookup tables: Embedding, EmbeddingBag, embedding(),
 * embedding_bag().
 *
 * An embedding reads integer indices (int64 or int32, as PyTorch takes)
 * and returns rows of its weight. max_norm is refused: PyTorch renormalises
 * the looked-up rows of the weight in place at every call, which a model
 * graft runs or saves would silently lose. scale_grad_by_freq and sparse
 * only change the gradient: accepted, and nothing in eval. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <string.h>

#include "core/init.h"

/* ---- shared ---- */

static bool is_index_dtype(enum dtype t)
{
	return t == DT_I64 || t == DT_I32;
}

/* An index tensor argument at pos/kw (int64 or int32); NULL with c->err
 * set otherwise. */
static const struct value *index_tensor(struct op_call *c, int pos, const char *kw)
{
	const struct value *x = op_tensor(c, pos, kw);
	if (x && !is_index_dtype(op_dtype(x))) {
		op_fail(c, "%s() needs int64 or int32 indices for '%s', gets a %s tensor",
		        op_fn_name(c), kw, dtype_name(op_dtype(x)));
		return NULL;
	}
	return x;
}

/* padding_idx may be negative, counted from the end, as PyTorch's
 * constructor takes it. -1 with e set when out of range. */
static int check_padding_idx(const struct module *m, struct error *e)
{
	const struct value *p = module_attr(m, "padding_idx");
	int64_t n = module_attr_int(m, "num_embeddings", 0);
	if (p && p->kind == VAL_INT && (p->u.i < -n || p->u.i >= n))
		return error_set(e, "%s: padding_idx %lld is out of range for num_embeddings=%lld",
		                 m->type, (long long)p->u.i, (long long)n);
	return 0;
}

static int check_max_norm(const char *who, const struct value *max_norm, struct error *e)
{
	if (max_norm && max_norm->kind != VAL_NONE)
		return error_set(e,
		                 "%s: max_norm is set: PyTorch renormalises the weight's rows at "
		                 "every call, which graft does not do; set max_norm=None (or "
		                 "renormalise the weight once before exporting)",
		                 who);
	return 0;
}

static int embed_check(struct module *m, struct error *e)
{
	if (op_check_positive(m, "num_embeddings", e) < 0 ||
	    op_check_positive(m, "embedding_dim", e) < 0 || check_padding_idx(m, e) < 0 ||
	    check_max_norm(m->type, module_attr(m, "max_norm"), e) < 0)
		return -1;
	return 0;
}

static int embed_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t w[2] = {module_attr_int(m, "num_embeddings", 1),
	                module_attr_int(m, "embedding_dim", 1)};
	op_add_param(m, "weight", 2, w, false);
	return 0;
}

/* The padding row as a non-negative index, or -1 when there is none. */
static int64_t embed_padding_row(const struct module *m)
{
	const struct value *p = module_attr(m, "padding_idx");
	if (!p || p->kind != VAL_INT)
		return -1;
	return p->u.i < 0 ? p->u.i + module_attr_int(m, "num_embeddings", 0) : p->u.i;
}

/* Embedding.reset_parameters: normal_(weight), then the padding row
 * zeroed. EmbeddingBag does the same. */
static int embed_init(struct module *m, struct rng *r, struct error *e)
{
	struct param *w = init_param(m, "weight", e);
	if (!w)
		return -1;
	int64_t n;
	float *x = init_data_f32(w, &n);
	rng_normal_f32(r, x, n, 0.0, 1.0);
	int64_t row = embed_padding_row(m), dim = module_attr_int(m, "embedding_dim", 0);
	if (row >= 0)
		memset(x + row * dim, 0, (size_t)dim * sizeof *x);
	return 0;
}

static void embed_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lldx%lld", (long long)module_attr_int(m, "num_embeddings", 0),
	         (long long)module_attr_int(m, "embedding_dim", 0));
	int64_t row = embed_padding_row(m);
	if (row >= 0)
		op_append(buf, size, " pad %lld", (long long)row);
	const char *mode = module_attr_str(m, "mode", NULL);
	if (mode)
		op_append(buf, size, " %s", mode);
}

/* [*] indices -> [*, dim] */
static int lookup_shape(struct op_call *c, const struct value *x, int64_t dim)
{
	const struct shape *xs = op_shape(x);
	if (xs->ndim >= SHAPE_MAX_DIMS)
		return op_mismatch(c, "%s() gets too many dimensions", op_fn_name(c));
	struct shape os = *xs;
	os.dim[os.ndim++] = dim;
	if (op_checked_numel(c, &os) < 0)
		return -1;
	op_out_tensor(c, DT_F32, &os, NULL);
	return 0;
}

/* ---- Embedding ---- */

static const struct attr_spec embed_attrs[] = {
    {"num_embeddings", AT_INT, NULL},
    {"embedding_dim", AT_INT, NULL},
    {"padding_idx", AT_INT_OR_NONE, "None"},
    {"max_norm", AT_FLOAT_OR_NONE, "None"},
    {"norm_type", AT_FLOAT, "2.0"},
    {"scale_grad_by_freq", AT_BOOL, "False"},
    {"sparse", AT_BOOL, "False"},
};

static int embed_infer(struct op_call *c)
{
	const struct value *x = index_tensor(c, 0, "input");
	return x ? lookup_shape(c, x, module_attr_int(c->module, "embedding_dim", 0)) : -1;
}

static const struct op_def def_embedding = {
    .name = "Embedding",
    .kind = OP_MODULE,
    .doc = "rows of a [num_embeddings, embedding_dim] table for integer indices",
    .attrs = embed_attrs,
    .nattrs = sizeof embed_attrs / sizeof *embed_attrs,
    .size_attr = "embedding_dim",
    .params = embed_params,
    .infer = embed_infer,
    .describe = embed_describe,
    .check = embed_check,
    .init = embed_init,
};

/* ---- EmbeddingBag ---- */

static const struct attr_spec bag_attrs[] = {
    {"num_embeddings", AT_INT, NULL},
    {"embedding_dim", AT_INT, NULL},
    {"max_norm", AT_FLOAT_OR_NONE, "None"},
    {"norm_type", AT_FLOAT, "2.0"},
    {"scale_grad_by_freq", AT_BOOL, "False"},
    {"mode", AT_STR, "'mean'"},
    {"sparse", AT_BOOL, "False"},
    {"include_last_offset", AT_BOOL, "False"},
    {"padding_idx", AT_INT_OR_NONE, "None"},
};

static int check_bag_mode(const char *who, const char *mode, struct error *e)
{
	if (strcmp(mode, "sum") && strcmp(mode, "mean") && strcmp(mode, "max"))
		return error_set(e, "%s: mode must be 'sum', 'mean' or 'max', got '%s'", who, mode);
	return 0;
}

static int bag_check(struct module *m, struct error *e)
{
	if (embed_check(m, e) < 0 || check_bag_mode(m->type, module_attr_str(m, "mode", ""), e) < 0)
		return -1;
	return 0;
}

/* The output of a bag lookup: [B, dim], B the rows of a 2-D input (no
 * offsets) or the bags the offsets of a 1-D input start. */
static int bag_shape(struct op_call *c, int64_t dim, const char *mode, bool include_last,
                     int offsets_pos, int weights_pos)
{
	const struct value *x = index_tensor(c, 0, "input"), *off, *psw;
	if (!x || op_optional_tensor(c, offsets_pos, "offsets", &off) < 0 ||
	    op_optional_tensor(c, weights_pos, "per_sample_weights", &psw) < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	const char *fn = op_fn_name(c);
	int64_t bags;
	if (xs->ndim == 2) {
		if (off)
			return op_fail(c, "%s(): offsets must be None for a 2-D input", fn);
		bags = xs->dim[0];
	} else if (xs->ndim == 1) {
		if (!off)
			return op_fail(c, "%s(): a 1-D input needs offsets", fn);
		if (!is_index_dtype(op_dtype(off)) || op_shape(off)->ndim != 1)
			return op_fail(c, "%s(): offsets must be a 1-D int64 or int32 tensor", fn);
		bags = op_shape(off)->dim[0] - (include_last ? 1 : 0);
		if (bags < 0)
			return op_fail(c, "%s(): include_last_offset needs at least one offset",
			               fn);
	} else {
		char sb[160];
		return op_mismatch(c, "%s() needs a 1-D or 2-D input, gets %s", fn,
		                   shape_format(xs, sb, sizeof sb));
	}
	if (psw) {
		if (strcmp(mode, "sum"))
			return op_fail(c, "%s(): per_sample_weights is only for mode='sum'", fn);
		char ws[160], is[160];
		if (!shape_equal(op_shape(psw), xs) || !op_is_float_dtype(op_dtype(psw)))
			return op_mismatch(c,
			                   "%s(): per_sample_weights %s %s must be floating and "
			                   "of the input's shape %s",
			                   fn, shape_format(op_shape(psw), ws, sizeof ws),
			                   dtype_name(op_dtype(psw)),
			                   shape_format(xs, is, sizeof is));
	}
	struct shape os = {.ndim = 2, .dim = {bags, dim}};
	if (op_checked_numel(c, &os) < 0)
		return -1;
	op_out_tensor(c, DT_F32, &os, NULL);
	return 0;
}

static int bag_infer(struct op_call *c)
{
	const struct module *m = c->module;
	return bag_shape(c, module_attr_int(m, "embedding_dim", 0), module_attr_str(m, "mode", ""),
	                 module_attr_bool(m, "include_last_offset", false), 1, 2);
}

static const struct op_def def_embedding_bag = {
    .name = "EmbeddingBag",
    .kind = OP_MODULE,
    .doc = "sum, mean or max of the embedding rows of each bag of indices",
    .attrs = bag_attrs,
    .nattrs = sizeof bag_attrs / sizeof *bag_attrs,
    .size_attr = "embedding_dim",
    .params = embed_params,
    .infer = bag_infer,
    .describe = embed_describe,
    .check = bag_check,
    .init = embed_init,
};

/* ---- the functions ---- */

/* The weight argument of F.embedding / F.embedding_bag: 2-D floating. */
static const struct value *weight_arg(struct op_call *c)
{
	const struct value *w = op_tensor(c, 1, "weight");
	if (w && (op_shape(w)->ndim != 2 || !op_is_float_dtype(op_dtype(w)))) {
		op_fail(c, "%s() needs a 2-D floating weight", op_fn_name(c));
		return NULL;
	}
	return w;
}

static int call_max_norm(struct op_call *c, int pos)
{
	char path[2600];
	return check_max_norm(op_path(c, path, sizeof path), op_arg(c, pos, "max_norm"), c->err);
}

static int fn_embedding(struct op_call *c)
{
	const struct value *w = weight_arg(c);
	const struct value *x = w ? index_tensor(c, 0, "input") : NULL;
	if (!x || call_max_norm(c, 3) < 0)
		return -1;
	return lookup_shape(c, x, op_shape(w)->dim[1]);
}

static int fn_embedding_bag(struct op_call *c)
{
	const struct value *w = weight_arg(c);
	const struct value *mode = op_arg(c, 6, "mode"),
	                   *last = op_arg(c, 9, "include_last_offset");
	const char *mode_s = mode && mode->kind == VAL_STR ? mode->u.s : "mean";
	char path[2600];
	if (!w || call_max_norm(c, 3) < 0)
		return -1;
	if (check_bag_mode(op_path(c, path, sizeof path), mode_s, c->err) < 0)
		return -1;
	bool include_last =
	    last && (last->kind == VAL_BOOL || last->kind == VAL_INT) && op_as_int(last) != 0;
	return bag_shape(c, op_shape(w)->dim[1], mode_s, include_last, 2, 8);
}

REGISTRY_FUNCTION(embedding, fn_embedding,
                  "embedding(input, weight, padding_idx=None): weight[input]");
REGISTRY_FUNCTION(embedding_bag, fn_embedding_bag,
                  "embedding_bag(input, weight, offsets=None, mode='mean', ...)");

/* ---- the table ---- */

const struct op_def *const registry_embed_defs[] = {
    &def_embedding, &def_embedding_bag, &fn_def_embedding, &fn_def_embedding_bag, NULL,
};
