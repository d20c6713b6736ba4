/* kernels_rearrange.c - kernels that pick or repeat elements, any dtype:
 * repeat, repeat_interleave, flip, tril, triu, movedim, t, narrow,
 * index_select, gather and take_along_dim; and meshgrid, whose outputs
 * each repeat one input along the others' dimensions.
 *
 * Each is one walk over the output: every output dimension maps to an
 * input dimension through a rule (the same index, flipped, modulo the
 * input size for repeat, divided for repeat_interleave, shifted for
 * narrow, looked up in an index tensor), and tril/triu zero what lies on
 * the wrong side of the diagonal. Index values are checked against the
 * size they index, as PyTorch does, when the kernel runs. */
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "core/util.h"

enum pick_rule {
	PICK_SAME,   /* in = out */
	PICK_FLIP,   /* in = size - 1 - out */
	PICK_MOD,    /* in = out % size (repeat) */
	PICK_DIV,    /* in = out / n (repeat_interleave) */
	PICK_SHIFT,  /* in = out + n (narrow) */
	PICK_INDEX,  /* in = index[out] (index_select) */
	PICK_GATHER, /* in = index[every output index] (gather, take_along_dim) */
	PICK_NONE    /* a new output dim (repeat's leading ones) */
};

enum { TRI_NONE, TRI_LOWER, TRI_UPPER };

struct pick_state {
	int ndim;                /* output dims */
	int src[SHAPE_MAX_DIMS]; /* the input dim each output dim walks */
	enum pick_rule rule[SHAPE_MAX_DIMS];
	int64_t n[SHAPE_MAX_DIMS]; /* the rule's number */
	int64_t in_stride[SHAPE_MAX_DIMS], in_size[SHAPE_MAX_DIMS];
	struct shape in_shape; /* the input as the walk sees it */
	int index_arg;         /* the argument holding the index tensor */
	const char *index_kw;
	int64_t index_stride[SHAPE_MAX_DIMS]; /* gather: per output dim, 0 where it broadcasts */
	int tri;
	int64_t diagonal;
};

static struct pick_state *pick_new(struct kop *op, const struct shape *in)
{
	struct pick_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const struct shape *o = &kop_out(op, 0)->shape;
	st->ndim = o->ndim;
	st->in_shape = *in;
	int64_t str[SHAPE_MAX_DIMS];
	kstrides(in, str);
	for (int i = 0; i < in->ndim; i++) {
		st->in_stride[i] = str[i];
		st->in_size[i] = in->dim[i];
	}
	for (int i = 0; i < o->ndim; i++) {
		st->src[i] = i < in->ndim ? i : -1;
		st->rule[i] = i < in->ndim ? PICK_SAME : PICK_NONE;
	}
	st->index_arg = -1;
	return st;
}

/* The dim argument at pos/kw wrapped for ndim, or -1. */
static int dim_arg(const struct kop *op, int pos, const char *kw, int ndim)
{
	const struct value *v = op_arg(&op->call, pos, kw);
	int n = ndim ? ndim : 1;
	if (!v || v->kind != VAL_INT || v->u.i < -n || v->u.i >= n)
		return -1;
	return (int)(v->u.i < 0 ? v->u.i + n : v->u.i);
}

/* Ints from pos on (or one tuple at pos). */
static int ints_arg(const struct kop *op, int pos, const char *kw, int64_t *out)
{
	const struct value *v = op_arg(&op->call, pos, kw);
	if (!v)
		return -1;
	if (v->kind == VAL_LIST)
		return v->u.list.n <= SHAPE_MAX_DIMS && value_ints(v, out, v->u.list.n) == 0
		           ? v->u.list.n
		           : -1;
	int n = 0;
	for (int i = pos; i < op->call.nargs && n < SHAPE_MAX_DIMS; i++) {
		if (op->call.args[i].kind != VAL_INT)
			return -1;
		out[n++] = op->call.args[i].u.i;
	}
	return n;
}

static int repeat_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const struct shape *o = &kop_out(op, 0)->shape;
	struct pick_state *st = pick_new(op, &x->shape);
	(void)e;
	int lead = o->ndim - x->shape.ndim;
	for (int i = 0; i < o->ndim; i++) {
		st->src[i] = i < lead ? -1 : i - lead;
		st->rule[i] = i < lead ? PICK_NONE : PICK_MOD;
	}
	return 0;
}

static int repeat_interleave_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const struct value *rv = op_arg(&op->call, 1, "repeats");
	const struct value *dv = op_arg(&op->call, 2, "dim");
	if (!rv || rv->kind != VAL_INT)
		return error_set(e, "repeat_interleave(): repeats must be an int");
	struct shape in = x->shape;
	int d = 0;
	if (!dv || dv->kind == VAL_NONE) {
		in.ndim = 1;
		in.dim[0] = shape_numel(&x->shape);
	} else if (in.ndim == 0) {
		in.ndim = 1;
		in.dim[0] = 1;
	} else {
		d = dim_arg(op, 2, "dim", in.ndim);
	}
	struct pick_state *st = pick_new(op, &in);
	st->rule[d] = PICK_DIV;
	st->n[d] = rv->u.i ? rv->u.i : 1;
	return 0;
}

static int flip_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	struct pick_state *st = pick_new(op, &x->shape);
	int64_t d[SHAPE_MAX_DIMS];
	int n = ints_arg(op, 1, "dims", d);
	if (n < 0)
		return error_set(e, "flip(): bad dims");
	for (int i = 0; i < n && x->shape.ndim; i++)
		st->rule[d[i] < 0 ? d[i] + x->shape.ndim : d[i]] = PICK_FLIP;
	return 0;
}

static int triangle_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	struct pick_state *st = pick_new(op, &x->shape);
	const struct value *dv = op_arg(&op->call, 1, "diagonal");
	if (dv && dv->kind != VAL_INT)
		return error_set(e, "%s(): diagonal must be an int", op->kernel->name);
	st->diagonal = dv ? dv->u.i : 0;
	st->tri = !strcmp(op->kernel->name, "tril") ? TRI_LOWER : TRI_UPPER;
	return 0;
}

static int movedim_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	struct pick_state *st = pick_new(op, &x->shape);
	int nd = x->shape.ndim;
	if (!strcmp(op->kernel->name, "t")) {
		for (int i = 0; i < nd; i++)
			st->src[i] = nd - 1 - i;
		return 0;
	}
	int perm[SHAPE_MAX_DIMS];
	if (op_movedim_perm(&op->call, nd, perm) < 0)
		return error_set(e, "movedim(): bad dims");
	for (int i = 0; i < nd; i++)
		st->src[i] = perm[i];
	return 0;
}

static int narrow_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	struct pick_state *st = pick_new(op, &x->shape);
	int d = dim_arg(op, 1, "dim", x->shape.ndim);
	const struct value *sv = op_arg(&op->call, 2, "start");
	if (d < 0 || !sv || sv->kind != VAL_INT)
		return error_set(e, "narrow(): bad dim or start");
	st->rule[d] = PICK_SHIFT;
	st->n[d] = sv->u.i < 0 ? sv->u.i + x->shape.dim[d] : sv->u.i;
	return 0;
}

static int index_select_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	struct pick_state *st = pick_new(op, &x->shape);
	int d = dim_arg(op, 1, "dim", x->shape.ndim);
	if (d < 0)
		return error_set(e, "index_select(): bad dim");
	if (x->shape.ndim)
		st->rule[d] = PICK_INDEX;
	st->index_arg = 2;
	st->index_kw = "index";
	return 0;
}

/* gather(x, dim, index), take_along_dim(x, indices, dim): the index
 * broadcasts to the output (take_along_dim) or has its shape (gather). */
static int gather_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	bool take = !strcmp(op->kernel->name, "take_along_dim");
	struct pick_state *st = pick_new(op, &x->shape);
	int d = dim_arg(op, take ? 2 : 1, "dim", x->shape.ndim);
	st->index_arg = take ? 1 : 2;
	st->index_kw = take ? "indices" : "index";
	const struct tensor *ix = kop_tensor(op, st->index_arg, st->index_kw);
	if (d < 0 || !ix)
		return error_set(e, "%s(): bad dim or index", op->kernel->name);
	const struct shape *o = &kop_out(op, 0)->shape;
	int64_t own[SHAPE_MAX_DIMS];
	kstrides(&ix->shape, own);
	for (int i = 0; i < o->ndim; i++)
		st->index_stride[i] = ix->shape.dim[i] == 1 ? 0 : own[i];
	if (o->ndim)
		st->rule[d] = PICK_GATHER;
	/* x broadcasts against the output outside dim (take_along_dim) */
	for (int i = 0; i < o->ndim; i++)
		if (i != d && x->shape.dim[i] == 1)
			st->rule[i] = PICK_NONE;
	return 0;
}

static int64_t index_at(const struct tensor *t, int64_t i)
{
	return t->dtype == DT_I32 ? ((const int32_t *)tensor_data(t))[i]
	                          : ((const int64_t *)tensor_data(t))[i];
}

static int pick_run(struct kop *op, struct error *e)
{
	const struct pick_state *st = op->state;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	const struct tensor *ix =
	    st->index_arg >= 0 ? kop_tensor(op, st->index_arg, st->index_kw) : NULL;
	size_t es = dtype_size(x->dtype);
	const char *src = tensor_data(x);
	char *dst = (char *)y->storage->data + y->offset;
	const struct shape *o = &y->shape;
	int64_t n = shape_numel(o), idx[SHAPE_MAX_DIMS] = {0};
	for (int64_t k = 0; k < n; k++) {
		int64_t off = 0, ioff = 0;
		for (int d = 0; d < o->ndim; d++)
			ioff += idx[d] * st->index_stride[d];
		for (int d = 0; d < o->ndim; d++) {
			int s = st->src[d];
			if (s < 0 || st->rule[d] == PICK_NONE)
				continue;
			int64_t i = idx[d], size = st->in_size[s];
			switch (st->rule[d]) {
			case PICK_SAME:
			case PICK_NONE:
				break;
			case PICK_FLIP:
				i = size - 1 - i;
				break;
			case PICK_MOD:
				i %= size;
				break;
			case PICK_DIV:
				i /= st->n[d];
				break;
			case PICK_SHIFT:
				i += st->n[d];
				break;
			case PICK_INDEX:
			case PICK_GATHER:
				i = index_at(ix, st->rule[d] == PICK_INDEX ? i : ioff);
				if (i < -size || i >= size)
					return error_setk(e, ERR_INPUT,
					                  "%s(): index %lld is out of bounds for "
					                  "dimension %d with size %lld",
					                  op->kernel->name, (long long)i, s,
					                  (long long)size);
				i = i < 0 ? i + size : i;
				break;
			}
			off += i * st->in_stride[s];
		}
		bool zero = false;
		if (st->tri != TRI_NONE) {
			int64_t r = idx[o->ndim - 2], c = idx[o->ndim - 1];
			zero = st->tri == TRI_LOWER ? c - r > st->diagonal : c - r < st->diagonal;
		}
		if (zero)
			memset(dst + (size_t)k * es, 0, es);
		else
			memcpy(dst + (size_t)k * es, src + (size_t)off * es, es);
		for (int d = o->ndim - 1; d >= 0; d--) {
			if (++idx[d] < o->dim[d])
				break;
			idx[d] = 0;
		}
	}
	return 0;
}

/* meshgrid: output i holds input i's element idx[d_i] at every index,
 * d_i = i, or the first two swapped for indexing='xy'. */
static int meshgrid_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct value *iv = op_arg(&op->call, -1, "indexing");
	bool xy = iv && iv->kind == VAL_STR && strcmp(iv->u.s, "xy") == 0;
	const struct value *out = &op->call.out;
	for (int i = 0; i < out->u.list.n; i++) {
		const struct value *xv = op->call.args[0].kind == VAL_LIST
		                             ? &op->call.args[0].u.list.items[i]
		                             : &op->call.args[i];
		const struct tensor *x = &xv->u.tensor.t;
		struct tensor *y = kop_out(op, i);
		int d = xy && i < 2 && out->u.list.n >= 2 ? 1 - i : i;
		int64_t inner = 1, n = shape_numel(&y->shape);
		for (int q = d + 1; q < y->shape.ndim; q++)
			inner *= y->shape.dim[q];
		size_t es = dtype_size(x->dtype);
		const char *src = tensor_data(x);
		char *dst = (char *)y->storage->data + y->offset;
		for (int64_t k = 0; k < n; k++)
			memcpy(dst + (size_t)k * es, src + (size_t)((k / inner) % y->shape.dim[d]) * es,
			       es);
	}
	return 0;
}

#define PICK(nm, prep)                                                                             \
	{                                                                                          \
		nm, OP_FUNCTION, KF_ANY_DTYPE, prep, pick_run                                      \
	}

const struct kernel kernels_rearrange[] = {
    PICK("repeat", repeat_prepare),    PICK("repeat_interleave", repeat_interleave_prepare),
    PICK("flip", flip_prepare),        PICK("tril", triangle_prepare),
    PICK("triu", triangle_prepare),    PICK("movedim", movedim_prepare),
    PICK("moveaxis", movedim_prepare), PICK("t", movedim_prepare),
    PICK("narrow", narrow_prepare),    PICK("index_select", index_select_prepare),
    PICK("gather", gather_prepare),    PICK("take_along_dim", gather_prepare),
    {"meshgrid", OP_FUNCTION, KF_ANY_DTYPE, NULL, meshgrid_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
