/* registry_rearrange.c - functions that pick or repeat elements: repeat,
 * repeat_interleave, flip, tril, triu, movedim, t, narrow, gather,
 * index_select, take_along_dim and meshgrid. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* x.repeat(*sizes): at least x's rank; leading new dims. */
static int fn_repeat(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t r[SHAPE_MAX_DIMS];
	int n = x ? op_int_list(c, 1, "repeats", true, r, SHAPE_MAX_DIMS) : -1;
	if (n < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	if (n < xs->ndim)
		return op_fail(c,
		               "Number of dimensions of repeat dims can not be smaller than number "
		               "of dimensions of tensor");
	struct shape os = {.ndim = n};
	for (int i = 0; i < n; i++) {
		int k = i - (n - xs->ndim);
		if (r[i] < 0)
			return op_fail(c, "repeat(): negative repeat %lld", (long long)r[i]);
		os.dim[i] = op_mul_sat(k < 0 ? 1 : xs->dim[k], r[i]);
	}
	return op_out_like(c, x, &os);
}

/* repeat_interleave(x, repeats: int, dim=None) */
static int fn_repeat_interleave(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t r;
	if (!x)
		return -1;
	const struct value *rv = op_arg(c, 1, "repeats");
	if (!rv || rv->kind != VAL_INT || rv->u.i < 0)
		return op_fail(c, "repeat_interleave() takes a non-negative int for repeats");
	r = rv->u.i;
	const struct value *dv = op_arg(c, 2, "dim");
	const struct shape *xs = op_shape(x);
	struct shape os;
	if (!dv || dv->kind == VAL_NONE) {
		os.ndim = 1;
		os.dim[0] = op_mul_sat(shape_numel(xs), r);
	} else {
		int dim;
		if (dv->kind != VAL_INT || op_dim(c, dv->u.i, xs->ndim, &dim) < 0)
			return dv->kind != VAL_INT
			           ? op_fail(c, "repeat_interleave() needs an int dim")
			           : -1;
		os = *xs;
		if (os.ndim == 0) {
			os.ndim = 1;
			os.dim[0] = 1;
		}
		os.dim[dim] = op_mul_sat(os.dim[dim], r);
	}
	return op_out_like(c, x, &os);
}

/* Reads dims (one int or a tuple) at pos/kw into a mask over x's dims. */
static int dims_mask(struct op_call *c, int pos, const char *kw, int ndim, bool *mask)
{
	int64_t d[SHAPE_MAX_DIMS];
	int n = op_int_list(c, pos, kw, true, d, SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int k;
		if (op_dim(c, d[i], ndim, &k) < 0)
			return -1;
		if (mask[k])
			return op_fail(c, "dim %d appears multiple times in the list of dims", k);
		mask[k] = true;
	}
	return 0;
}

/* flip(x, dims) */
static int fn_flip(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	bool mask[SHAPE_MAX_DIMS] = {false};
	if (!x || dims_mask(c, 1, "dims", op_shape(x)->ndim, mask) < 0)
		return -1;
	return op_same(c);
}

/* tril(x, diagonal=0), triu: the last two dims are a matrix. */
static int fn_triangle(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d;
	if (!x || op_int(c, 1, "diagonal", 0, &d) < 0)
		return -1;
	if (op_shape(x)->ndim < 2)
		return op_break(c, x, op_fn_name(c), "a %d-D input (needs at least 2-D)",
		                op_shape(x)->ndim);
	return op_same(c);
}

/* movedim(x, source, destination): ints or tuples of the same length. */
int op_movedim_perm(struct op_call *c, int ndim, int *perm)
{
	int64_t s[SHAPE_MAX_DIMS], d[SHAPE_MAX_DIMS];
	int ns = op_int_list(c, 1, "source", false, s, SHAPE_MAX_DIMS);
	int nd = ns < 0 ? -1 : op_int_list(c, 2, "destination", false, d, SHAPE_MAX_DIMS);
	if (nd < 0)
		return -1;
	if (ns != nd)
		return op_fail(c, "movedim(): source and destination must have the same length");
	bool used_src[SHAPE_MAX_DIMS] = {false}, used_dst[SHAPE_MAX_DIMS] = {false};
	for (int i = 0; i < ndim; i++)
		perm[i] = -1;
	for (int i = 0; i < ns; i++) {
		int a, b;
		if (op_dim(c, s[i], ndim, &a) < 0 || op_dim(c, d[i], ndim, &b) < 0)
			return -1;
		if (used_src[a] || used_dst[b])
			return op_fail(c, "movedim(): repeated dim");
		used_src[a] = used_dst[b] = true;
		perm[b] = a;
	}
	int next = 0;
	for (int i = 0; i < ndim; i++) {
		if (perm[i] >= 0)
			continue;
		while (used_src[next])
			next++;
		perm[i] = next++;
	}
	return 0;
}

static int fn_movedim(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int perm[SHAPE_MAX_DIMS];
	if (!x || op_movedim_perm(c, op_shape(x)->ndim, perm) < 0)
		return -1;
	struct shape os = *op_shape(x);
	for (int i = 0; i < os.ndim; i++)
		os.dim[i] = op_shape(x)->dim[perm[i]];
	return op_out_like(c, x, &os);
}

/* x.t(): a 2-D transpose; 0-D and 1-D stay. */
static int fn_t(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	struct shape os = *op_shape(x);
	if (os.ndim > 2)
		return op_break(c, x, "t()", "a %d-D input (expects a tensor with <= 2 dimensions)",
		                os.ndim);
	if (os.ndim == 2) {
		os.dim[0] = op_shape(x)->dim[1];
		os.dim[1] = op_shape(x)->dim[0];
	}
	return op_out_like(c, x, &os);
}

/* narrow(x, dim, start, length) */
static int fn_narrow(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d, start, len;
	int dim;
	if (!x || op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, op_shape(x)->ndim, &dim) < 0 ||
	    op_int(c, 2, "start", 0, &start) < 0 || op_int(c, 3, "length", -1, &len) < 0)
		return -1;
	int64_t size = op_shape(x)->dim[dim];
	if (start < 0)
		start += size;
	if (start < 0 || len < 0 || start > size || len > size - start)
		return op_mismatch(c,
		                   "narrow(): start %lld + length %lld exceeds dimension size %lld",
		                   (long long)start, (long long)len, (long long)size);
	struct shape os = *op_shape(x);
	os.dim[dim] = len;
	return op_out_like(c, x, &os);
}

/* An integer index tensor at pos/kw. */
static const struct value *index_tensor(struct op_call *c, int pos)
{
	const struct value *i = op_tensor(c, pos, "index");
	if (i && op_dtype(i) != DT_I64 && op_dtype(i) != DT_I32) {
		op_fail(c, "%s(): the index must be an int64 tensor, got %s", op_fn_name(c),
		        dtype_name(op_dtype(i)));
		return NULL;
	}
	return i;
}

/* index_select(x, dim, index): index 1-D. */
static int fn_index_select(struct op_call *c)
{
	const struct value *x = op_self_tensor(c), *i;
	int64_t d;
	int dim;
	if (!x || op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, op_shape(x)->ndim, &dim) < 0 ||
	    !(i = index_tensor(c, 2)))
		return -1;
	if (op_shape(i)->ndim > 1)
		return op_fail(c, "index_select(): index must be a vector");
	struct shape os = *op_shape(x);
	if (os.ndim > 0)
		os.dim[dim] = shape_numel(op_shape(i));
	return op_out_like(c, x, &os);
}

/* gather(x, dim, index): index of x's rank, no larger than x outside dim;
 * the result has index's shape. take_along_dim(x, indices, dim) is
 * gather with broadcasting. */
static int fn_gather(struct op_call *c)
{
	const struct value *x = op_self_tensor(c), *i;
	int64_t d;
	int dim;
	if (!x || op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, op_shape(x)->ndim, &dim) < 0 ||
	    !(i = index_tensor(c, 2)))
		return -1;
	const struct shape *xs = op_shape(x), *is = op_shape(i);
	if (is->ndim != xs->ndim)
		return op_mismatch(c, "gather(): index tensor must have the same number of "
		                      "dimensions as input tensor");
	for (int k = 0; k < xs->ndim; k++)
		if (k != dim && is->dim[k] > xs->dim[k]) {
			char sa[160], sb[160];
			return op_mismatch(c,
			                   "gather(): size of index %s is larger than input %s at "
			                   "dimension %d",
			                   shape_format(is, sa, sizeof sa),
			                   shape_format(xs, sb, sizeof sb), k);
		}
	op_out_tensor(c, op_dtype(x), is, i);
	return 0;
}

static int fn_take_along_dim(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *i = x ? op_tensor(c, 1, "indices") : NULL;
	int64_t d;
	int dim;
	if (!i)
		return -1;
	const struct value *dv = op_arg(c, 2, "dim");
	if (!dv || dv->kind != VAL_INT)
		return op_fail(c, "take_along_dim() needs an int dim");
	d = dv->u.i;
	const struct shape *xs = op_shape(x), *is = op_shape(i);
	if (op_dim(c, d, xs->ndim, &dim) < 0)
		return -1;
	if (is->ndim != xs->ndim)
		return op_mismatch(c, "take_along_dim(): input and indices should have the same "
		                      "number of dimensions");
	struct shape a = *xs, b = *is, s;
	a.dim[dim] = 1;
	b.dim[dim] = 1;
	if (op_broadcast(&a, &b, &s) < 0)
		return op_broadcast_fail(c, "broadcast", x, i);
	s.dim[dim] = is->dim[dim];
	return op_out_like(c, x, &s);
}

/* ---- the table ---- */

/* meshgrid(*tensors, indexing=None): n 0-D or 1-D tensors of one dtype ->
 * n tensors of their lengths' shape (the first two swapped for 'xy'). */
static int fn_meshgrid(struct op_call *c)
{
	const struct value **t;
	int n = op_tensor_list(c, 0, NULL, &t);
	if (n < 0)
		return -1;
	int rc = -1;
	const struct value *iv = op_arg(c, -1, "indexing");
	bool xy = iv && iv->kind == VAL_STR && strcmp(iv->u.s, "xy") == 0;
	if (iv && iv->kind != VAL_NONE && !xy && !(iv->kind == VAL_STR && strcmp(iv->u.s, "ij") == 0)) {
		op_fail(c, "meshgrid(): indexing must be 'ij' or 'xy'");
		goto out;
	}
	if (n > SHAPE_MAX_DIMS) {
		op_fail(c, "meshgrid(): at most %d tensors", SHAPE_MAX_DIMS);
		goto out;
	}
	struct shape s = {.ndim = n};
	for (int i = 0; i < n; i++) {
		const struct shape *ts = op_shape(t[i]);
		if (ts->ndim > 1 || op_dtype(t[i]) != op_dtype(t[0])) {
			op_fail(c, "meshgrid(): expects 0-D or 1-D tensors of one dtype");
			goto out;
		}
		s.dim[i] = ts->ndim ? ts->dim[0] : 1;
	}
	if (xy && n >= 2) {
		int64_t d0 = s.dim[0];
		s.dim[0] = s.dim[1];
		s.dim[1] = d0;
	}
	struct value r = value_list(n);
	for (int i = 0; i < n; i++) {
		c->out = value_none();
		op_out_tensor(c, op_dtype(t[i]), &s, NULL);
		r.u.list.items[i] = c->out;
	}
	c->out = r;
	rc = 0;
out:
	free(t);
	return rc;
}

REGISTRY_FUNCTION_PY(repeat, fn_repeat, "x.repeat(*sizes): tiles x", NULL);
REGISTRY_FUNCTION_PY(repeat_interleave, fn_repeat_interleave,
                     "repeat_interleave(x, repeats, dim=None)", "torch.repeat_interleave");
REGISTRY_FUNCTION_PY(flip, fn_flip, "flip(x, dims)", "torch.flip");
REGISTRY_FUNCTION_PY(tril, fn_triangle, "tril(x, diagonal=0): zeroes above the diagonal",
                     "torch.tril");
REGISTRY_FUNCTION_PY(triu, fn_triangle, "triu(x, diagonal=0): zeroes below the diagonal",
                     "torch.triu");
REGISTRY_FUNCTION_PY(movedim, fn_movedim, "movedim(x, source, destination)", "torch.movedim");
REGISTRY_FUNCTION_PY(moveaxis, fn_movedim, "moveaxis(x, source, destination)", "torch.movedim");
REGISTRY_FUNCTION_PY(t, fn_t, "x.t(): transposes a 2-D tensor", "torch.t");
REGISTRY_FUNCTION_PY(narrow, fn_narrow, "narrow(x, dim, start, length)", "torch.narrow");
REGISTRY_FUNCTION_PY(index_select, fn_index_select, "index_select(x, dim, index)",
                     "torch.index_select");
REGISTRY_FUNCTION_PY(gather, fn_gather, "gather(x, dim, index)", "torch.gather");
REGISTRY_FUNCTION_PY(take_along_dim, fn_take_along_dim, "take_along_dim(x, indices, dim)",
                     "torch.take_along_dim");
REGISTRY_FUNCTION_PY(meshgrid, fn_meshgrid, "meshgrid(*tensors, indexing='ij') -> tuple",
                     "torch.meshgrid");

const struct op_def *const registry_rearrange_defs[] = {
    &fn_def_repeat,  &fn_def_repeat_interleave, &fn_def_flip, &fn_def_tril,   &fn_def_triu,
    &fn_def_movedim, &fn_def_moveaxis,          &fn_def_t,    &fn_def_narrow, &fn_def_index_select,
    &fn_def_gather,  &fn_def_take_along_dim,    &fn_def_meshgrid, NULL,
};
