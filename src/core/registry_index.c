/* registry_index.c - indexing and tensor attributes: getitem, getattr, size, dim, numel. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* A tuple of ints. */
static struct value int_tuple(const int64_t *x, int n)
{
	struct value v = value_list(n);
	for (int i = 0; i < n; i++)
		v.u.list.items[i] = value_int(x[i]);
	return v;
}

/* ---- indexing and attributes ---- */

/* Python's slice.indices(): start and count of a slice over `len` items. */
static int slice_indices(const struct value *sl, int64_t len, int64_t *start, int64_t *step,
                         int64_t *count)
{
	int64_t st = sl->u.slice.has_step ? sl->u.slice.step : 1;
	if (st == 0)
		return -1;
	int64_t lower = st > 0 ? 0 : -1, upper = st > 0 ? len : len - 1;
	int64_t a, b;
	if (sl->u.slice.has_start) {
		a = sl->u.slice.start;
		if (a < 0)
			a = a + len < lower ? lower : a + len;
		else if (a > upper)
			a = upper;
	} else {
		a = st > 0 ? lower : upper;
	}
	if (sl->u.slice.has_stop) {
		b = sl->u.slice.stop;
		if (b < 0)
			b = b + len < lower ? lower : b + len;
		else if (b > upper)
			b = upper;
	} else {
		b = st > 0 ? upper : lower;
	}
	if (st > 0)
		*count = b > a ? (b - a - 1) / st + 1 : 0;
	else
		*count = a > b ? (a - b - 1) / (-st) + 1 : 0;
	*start = a;
	*step = st;
	return 0;
}

static int getitem_dict(struct op_call *c, const struct value *d, const struct value *key)
{
	char got[128];
	value_format(key, got, sizeof got);
	for (int i = 0; key->kind == VAL_STR && i < d->u.list.n; i++) {
		if (strcmp(d->u.list.keys[i], key->u.s) == 0) {
			op_set_out(c, value_copy(&d->u.list.items[i]));
			return 0;
		}
	}
	return op_mismatch(c, "the dict has no key %s", got);
}

static int getitem_list(struct op_call *c, const struct value *l, const struct value *idx)
{
	int64_t n = l->u.list.n;
	if (l->u.list.keys)
		return getitem_dict(c, l, idx);
	if (idx->kind == VAL_INT || idx->kind == VAL_BOOL) {
		int64_t i = op_as_int(idx);
		if (i < -n || i >= n)
			return op_mismatch(c, "tuple index %lld out of range for %lld items",
			                   (long long)i, (long long)n);
		op_set_out(c, value_copy(&l->u.list.items[i < 0 ? i + n : i]));
		return 0;
	}
	if (idx->kind == VAL_SLICE) {
		int64_t start, step, count;
		if (slice_indices(idx, n, &start, &step, &count) < 0)
			return op_fail(c, "slice step cannot be zero");
		struct value r = value_list((int)count);
		for (int64_t i = 0; i < count; i++)
			r.u.list.items[i] = value_copy(&l->u.list.items[start + i * step]);
		op_set_out(c, r);
		return 0;
	}
	char got[128];
	value_format(idx, got, sizeof got);
	return op_fail(c, "tuple indices must be ints or slices, got %s", got);
}

/* Basic indexing (ints, slices, None, ...) and integer-tensor indexing. */
static int getitem_tensor(struct op_call *c, const struct value *x, const struct value *idx)
{
	const struct shape *xs = op_shape(x);
	const struct value *items = idx;
	int nitems = 1;
	if (idx->kind == VAL_LIST) {
		items = idx->u.list.items;
		nitems = idx->u.list.n;
	}
	int consumed = 0, ellipses = 0;
	for (int i = 0; i < nitems; i++) {
		switch (items[i].kind) {
		case VAL_INT:
		case VAL_SLICE:
			consumed++;
			break;
		case VAL_TENSOR:
			if (op_dtype(&items[i]) == DT_BOOL || op_dtype(&items[i]) == DT_U8)
				return op_fail(c, "boolean mask indexing has no static shape");
			if (op_is_float_dtype(op_dtype(&items[i])))
				return op_fail(c,
				               "tensors used as indices must be integer tensors");
			consumed++;
			break;
		case VAL_LIST: /* x[:, [0, 2]]: an index tensor of those ints */
			for (int k = 0; k < items[i].u.list.n; k++)
				if (items[i].u.list.items[k].kind != VAL_INT)
					return op_fail(c, "a list used as an index must hold ints");
			consumed++;
			break;
		case VAL_ELLIPSIS:
			if (++ellipses > 1)
				return op_fail(c,
				               "an index can only have a single ellipsis ('...')");
			break;
		case VAL_NONE:
			break;
		default: {
			char got[128];
			value_format(&items[i], got, sizeof got);
			return op_fail(c, "cannot index a tensor with %s", got);
		}
		}
	}
	if (consumed > xs->ndim)
		return op_mismatch(c, "too many indices for tensor of dimension %d", xs->ndim);
	struct shape os = {.ndim = 0}, adv = {.ndim = 0};
	int adv_pos = -1, in = 0;
	bool adv_split = false;
	for (int i = 0; i < nitems; i++) {
		const struct value *it = &items[i];
		if (os.ndim >= SHAPE_MAX_DIMS)
			return op_mismatch(c, "indexing gives too many dimensions");
		if (it->kind == VAL_NONE) {
			os.dim[os.ndim++] = 1;
		} else if (it->kind == VAL_ELLIPSIS) {
			for (int k = 0; k < xs->ndim - consumed; k++) {
				if (os.ndim >= SHAPE_MAX_DIMS)
					return op_mismatch(c, "indexing gives too many dimensions");
				os.dim[os.ndim++] = xs->dim[in++];
			}
		} else if (it->kind == VAL_INT) {
			int64_t size = xs->dim[in];
			if (it->u.i < -size || it->u.i >= size)
				return op_mismatch(
				    c,
				    "index %lld is out of bounds for dimension %d with "
				    "size %lld",
				    (long long)it->u.i, in, (long long)size);
			in++;
		} else if (it->kind == VAL_SLICE) {
			if (it->u.slice.has_step && it->u.slice.step <= 0)
				return op_fail(c, "slice step must be greater than zero");
			int64_t start, step, count;
			slice_indices(it, xs->dim[in++], &start, &step, &count);
			os.dim[os.ndim++] = count;
		} else {
			struct shape b, list = {.ndim = 1, .dim = {it->kind == VAL_LIST ? it->u.list.n : 0}};
			if (op_broadcast(&adv, it->kind == VAL_LIST ? &list : op_shape(it), &b) < 0)
				return op_mismatch(c, "index tensors cannot be broadcast together");
			adv = b;
			if (adv_pos >= 0 && adv_pos != os.ndim)
				adv_split = true;
			if (adv_pos < 0)
				adv_pos = os.ndim;
			in++;
		}
	}
	while (in < xs->ndim) {
		if (os.ndim >= SHAPE_MAX_DIMS)
			return op_mismatch(c, "indexing gives too many dimensions");
		os.dim[os.ndim++] = xs->dim[in++];
	}
	if (adv_pos >= 0) {
		int at = adv_split ? 0 : adv_pos;
		if (os.ndim + adv.ndim > SHAPE_MAX_DIMS)
			return op_mismatch(c, "indexing gives too many dimensions");
		memmove(&os.dim[at + adv.ndim], &os.dim[at],
		        (size_t)(os.ndim - at) * sizeof *os.dim);
		for (int k = 0; k < adv.ndim; k++)
			os.dim[at + k] = adv.dim[k];
		os.ndim += adv.ndim;
	}
	return op_out_like(c, x, &os);
}

static int fn_getitem(struct op_call *c)
{
	const struct value *obj = op_arg(c, 0, NULL), *idx = op_arg(c, 1, NULL);
	if (!obj || !idx)
		return op_fail(c, "getitem() needs an object and an index");
	if (obj->kind == VAL_LIST)
		return getitem_list(c, obj, idx);
	if (obj->kind == VAL_TENSOR)
		return getitem_tensor(c, obj, idx);
	char got[128];
	value_format(obj, got, sizeof got);
	return op_fail(c, "cannot index %s", got);
}

static struct value shape_tuple(const struct shape *s)
{
	return int_tuple(s->dim, s->ndim);
}

/* getattr(x, 'shape'), also 'ndim' and 'dtype'. */
static int fn_getattr(struct op_call *c)
{
	const struct value *obj = op_arg(c, 0, NULL), *name = op_arg(c, 1, NULL);
	if (!obj || !name || name->kind != VAL_STR)
		return op_fail(c, "getattr() needs an object and an attribute name");
	if (op_is_tensor(obj)) {
		if (strcmp(name->u.s, "shape") == 0) {
			op_set_out(c, shape_tuple(op_shape(obj)));
			return 0;
		}
		if (strcmp(name->u.s, "ndim") == 0) {
			op_set_out(c, value_int(op_shape(obj)->ndim));
			return 0;
		}
		if (strcmp(name->u.s, "dtype") == 0) {
			struct value v = {.kind = VAL_DTYPE};
			v.u.dtype = op_dtype(obj);
			op_set_out(c, v);
			return 0;
		}
		if (strcmp(name->u.s, "device") == 0) {
			op_set_out(c, value_str("cpu"));
			return 0;
		}
		if (strcmp(name->u.s, "mT") == 0 || strcmp(name->u.s, "T") == 0) {
			struct shape s = *op_shape(obj);
			bool mt = name->u.s[0] == 'm';
			if (mt && s.ndim < 2)
				return op_mismatch(c, "tensor.mT is only supported on matrices or batches "
				                      "of matrices");
			for (int i = mt ? s.ndim - 2 : 0, j = s.ndim - 1; i < j; i++, j--) {
				int64_t t = s.dim[i];
				s.dim[i] = s.dim[j];
				s.dim[j] = t;
			}
			op_out_tensor(c, op_dtype(obj), &s, obj);
			return 0;
		}
	}
	/* the (values, indices) of max(x, dim) and friends */
	if (obj->kind == VAL_LIST && obj->u.list.n == 2) {
		int at = strcmp(name->u.s, "values") == 0 ? 0 : strcmp(name->u.s, "indices") == 0 ? 1 : -1;
		if (at >= 0) {
			op_set_out(c, value_copy(&obj->u.list.items[at]));
			return 0;
		}
	}
	const struct value *def = op_arg(c, 2, NULL);
	if (def) {
		op_set_out(c, value_copy(def));
		return 0;
	}
	return op_fail(c, "getattr(): no attribute '%s' in the shape pass", name->u.s);
}

/* x.size() -> tuple; x.size(dim) -> int */
static int fn_size(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct value *d = op_arg(c, 1, "dim");
	if (!d || d->kind == VAL_NONE) {
		op_set_out(c, shape_tuple(op_shape(x)));
		return 0;
	}
	int dim;
	if (d->kind != VAL_INT)
		return op_fail(c, "size() needs an int dim");
	if (op_shape(x)->ndim == 0)
		return op_mismatch(c, "dimension specified as %lld but tensor has no dimensions",
		                   (long long)d->u.i);
	if (op_dim(c, d->u.i, op_shape(x)->ndim, &dim) < 0)
		return -1;
	op_set_out(c, value_int(op_shape(x)->ndim ? op_shape(x)->dim[dim] : 1));
	return 0;
}

static int fn_dim(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	op_set_out(c, value_int(op_shape(x)->ndim));
	return 0;
}

static int fn_numel(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	op_set_out(c, value_int(shape_numel(op_shape(x))));
	return 0;
}

/* slice(start, stop, step): a slice whose bounds the forward computes
 * (x[:, :x.size(1)]); each part an int or None. */
static int fn_slice(struct op_call *c)
{
	if (c->nargs < 1 || c->nargs > 3 || c->nkwargs)
		return op_fail(c, "slice() takes one to three positional arguments");
	/* slice(stop) or slice(start, stop[, step]), as Python's */
	const struct value *parts[3] = {NULL, NULL, NULL};
	if (c->nargs == 1)
		parts[1] = &c->args[0];
	else
		for (int i = 0; i < c->nargs; i++)
			parts[i] = &c->args[i];
	struct value v = {.kind = VAL_SLICE};
	int64_t *at[3] = {&v.u.slice.start, &v.u.slice.stop, &v.u.slice.step};
	bool *has[3] = {&v.u.slice.has_start, &v.u.slice.has_stop, &v.u.slice.has_step};
	for (int i = 0; i < 3; i++) {
		if (!parts[i] || parts[i]->kind == VAL_NONE)
			continue;
		if (parts[i]->kind != VAL_INT)
			return op_fail(c, "slice() parts must be ints or None");
		*at[i] = parts[i]->u.i;
		*has[i] = true;
	}
	if (v.u.slice.has_step && v.u.slice.step == 0)
		return op_fail(c, "slice step cannot be zero");
	op_set_out(c, v);
	return 0;
}

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(slice, fn_slice, "slice(start, stop, step) for x[a:b] with computed bounds",
                     "slice");
REGISTRY_FUNCTION(getitem, fn_getitem,
                  "x[index]: tuples, and tensors with ints, slices, None, ...");
REGISTRY_FUNCTION(getattr, fn_getattr,
                  "getattr(x, 'shape'), 'ndim', 'dtype', 'device', 'mT', 'T', 'values'");
REGISTRY_FUNCTION(size, fn_size, "x.size() -> tuple, x.size(dim) -> int");
REGISTRY_FUNCTION(dim, fn_dim, "x.dim(): the rank");
REGISTRY_FUNCTION(numel, fn_numel, "x.numel(): the element count");

const struct op_def *const registry_index_defs[] = {
    &fn_def_getitem, &fn_def_getattr, &fn_def_size, &fn_def_dim, &fn_def_numel, &fn_def_slice,
    NULL,
};
