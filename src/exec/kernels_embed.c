/* kernels_embed.c - lookup tables: Embedding, EmbeddingBag and their
 * functional forms. Indices are int64 or int32 tensors (KF_INT_INDEX); an
 * index outside the table is an error naming it, as PyTorch raises. */
#include "exec/kernels.h"

#include <string.h>

#include "core/util.h"

struct embed_state {
	const float *weight; /* [rows, dim] */
	int64_t rows, dim;
	int64_t pad; /* the padding row an EmbeddingBag skips, or -1 */
	enum { BAG_SUM, BAG_MEAN, BAG_MAX } mode;
	bool include_last;
};

/* Index i of an int64 or int32 tensor. */
static int64_t index_at(const struct tensor *t, int64_t i)
{
	return t->dtype == DT_I64 ? ((const int64_t *)tensor_data(t))[i]
	                          : ((const int32_t *)tensor_data(t))[i];
}

static int bad_index(struct error *e, int64_t ix, int64_t rows)
{
	return error_setk(e, ERR_INPUT, "index %lld is out of range for a table of %lld rows",
	                  (long long)ix, (long long)rows);
}

/* The optional int argument at pos/kw, or the module's attribute `name`;
 * def when absent or None. */
static int64_t int_setting(const struct kop *op, int pos, const char *name, int64_t def)
{
	if (op->call.module)
		return module_attr_int(op->call.module, name, def);
	const struct value *v = op_arg(&op->call, pos, name);
	if (v && v->kind == VAL_BOOL)
		return v->u.b;
	return v && v->kind == VAL_INT ? v->u.i : def;
}

/* Reads the weight (the module's, or argument 1) and the padding row. */
static struct embed_state *embed_state_new(struct kop *op, int pad_pos, struct error *e)
{
	const struct tensor *w =
	    op->call.module ? kop_param(op, "weight") : kop_tensor(op, 1, "weight");
	if (!w || w->dtype != DT_F32 || w->shape.ndim != 2)
		return error_set(e, "needs a 2-D float weight"), NULL;
	struct embed_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->weight = kt_f32(w);
	st->rows = w->shape.dim[0];
	st->dim = w->shape.dim[1];
	st->pad = int_setting(op, pad_pos, "padding_idx", -1 - st->rows);
	st->pad = st->pad < -st->rows ? -1 : st->pad < 0 ? st->pad + st->rows : st->pad;
	return st;
}

/* ---- Embedding, embedding() ---- */

static int embed_prepare(struct kop *op, struct error *e)
{
	return embed_state_new(op, 2, e) ? 0 : -1;
}

static int embed_run(struct kop *op, struct error *e)
{
	const struct embed_state *st = op->state;
	const struct tensor *x = kop_tensor(op, 0, "input");
	float *y = kt_f32(kop_out(op, 0));
	int64_t n = shape_numel(&x->shape);
	size_t row_bytes = (size_t)st->dim * sizeof *y;
	for (int64_t i = 0; i < n; i++) {
		int64_t ix = index_at(x, i);
		if (ix < 0 || ix >= st->rows)
			return bad_index(e, ix, st->rows);
		memcpy(y + i * st->dim, st->weight + ix * st->dim, row_bytes);
	}
	return 0;
}

/* ---- EmbeddingBag, embedding_bag() ---- */

static int bag_prepare(struct kop *op, struct error *e)
{
	struct embed_state *st = embed_state_new(op, 10, e);
	if (!st)
		return -1;
	const char *mode = "mean";
	if (op->call.module) {
		mode = module_attr_str(op->call.module, "mode", mode);
	} else {
		const struct value *v = op_arg(&op->call, 6, "mode");
		mode = v && v->kind == VAL_STR ? v->u.s : mode;
	}
	st->mode = !strcmp(mode, "sum") ? BAG_SUM : !strcmp(mode, "max") ? BAG_MAX : BAG_MEAN;
	st->include_last = int_setting(op, 9, "include_last_offset", 0) != 0;
	return 0;
}

/* Pools the rows of indices [begin, end) of x into y (dim floats). */
static int bag_pool(const struct embed_state *st, const struct tensor *x, const float *psw,
                    int64_t begin, int64_t end, float *y, struct error *e)
{
	memset(y, 0, (size_t)st->dim * sizeof *y);
	int64_t count = 0;
	for (int64_t i = begin; i < end; i++) {
		int64_t ix = index_at(x, i);
		if (ix < 0 || ix >= st->rows)
			return bad_index(e, ix, st->rows);
		if (ix == st->pad)
			continue;
		const float *row = st->weight + ix * st->dim;
		float w = psw ? psw[i] : 1.0f;
		for (int64_t d = 0; d < st->dim; d++) {
			if (st->mode == BAG_MAX)
				y[d] = count == 0 || row[d] > y[d] ? row[d] : y[d];
			else
				y[d] += w * row[d];
		}
		count++;
	}
	if (st->mode == BAG_MEAN && count > 0)
		for (int64_t d = 0; d < st->dim; d++)
			y[d] /= (float)count;
	return 0;
}

static int bag_run(struct kop *op, struct error *e)
{
	const struct embed_state *st = op->state;
	bool fn = op->call.module == NULL;
	const struct tensor *x = kop_tensor(op, 0, "input");
	const struct tensor *off = kop_tensor(op, fn ? 2 : 1, "offsets");
	const struct tensor *w = kop_tensor(op, fn ? 8 : 2, "per_sample_weights");
	const float *psw = w ? kt_f32(w) : NULL;
	float *y = kt_f32(kop_out(op, 0));
	int64_t n = shape_numel(&x->shape);
	if (!off) { /* 2-D: one bag per row */
		int64_t len = x->shape.dim[1];
		for (int64_t b = 0; b < x->shape.dim[0]; b++)
			if (bag_pool(st, x, psw, b * len, (b + 1) * len, y + b * st->dim, e) < 0)
				return -1;
		return 0;
	}
	int64_t noff = off->shape.dim[0], bags = noff - (st->include_last ? 1 : 0);
	if (noff > 0 && index_at(off, 0) != 0)
		return error_setk(e, ERR_INPUT, "offsets[0] is %lld; it must be 0",
		                  (long long)index_at(off, 0));
	for (int64_t b = 0; b < bags; b++) {
		int64_t begin = index_at(off, b), end = b + 1 < noff ? index_at(off, b + 1) : n;
		if (begin > end || end > n)
			return error_setk(
			    e, ERR_INPUT,
			    "offsets do not split the %lld indices into bags: bag %lld "
			    "is [%lld, %lld)",
			    (long long)n, (long long)b, (long long)begin, (long long)end);
		if (bag_pool(st, x, psw, begin, end, y + b * st->dim, e) < 0)
			return -1;
	}
	return 0;
}

const struct kernel kernels_embed[] = {
    {"Embedding", OP_MODULE, KF_INT_INDEX, embed_prepare, embed_run},
    {"embedding", OP_FUNCTION, KF_INT_INDEX, embed_prepare, embed_run},
    {"EmbeddingBag", OP_MODULE, KF_INT_INDEX, bag_prepare, bag_run},
    {"embedding_bag", OP_FUNCTION, KF_INT_INDEX, bag_prepare, bag_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
