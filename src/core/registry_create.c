/* registry_create.c - tensors made from sizes and numbers: arange, zeros,
 * ones, full, empty, eye, their *_like forms and the new_* methods.
 *
 * Dtypes follow PyTorch: float32 by default, arange gives int64 when all
 * its numbers are ints, full takes its fill value's kind (int64, bool,
 * float32); a dtype= keyword wins, and *_like and new_* take their
 * tensor's. */
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The dtype= keyword, or def. */
static enum dtype dtype_kw(const struct op_call *c, enum dtype def)
{
	const struct value *v = op_arg(c, -1, "dtype");
	return v && v->kind == VAL_DTYPE ? v->u.dtype : def;
}

static int out_new(struct op_call *c, enum dtype dt, const struct shape *s)
{
	for (int i = 0; i < s->ndim; i++)
		if (s->dim[i] < 0)
			return op_fail(c, "%s(): negative dimension %lld", op_fn_name(c),
			               (long long)s->dim[i]);
	if (op_checked_numel(c, s) < 0)
		return -1;
	op_out_tensor(c, dt, s, NULL);
	return 0;
}

/* Sizes from the arguments at pos: ints, one tuple, or size=. */
static int sizes_at(struct op_call *c, int pos, struct shape *s)
{
	int n = op_int_list(c, pos, "size", true, s->dim, SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	s->ndim = n;
	return 0;
}

/* The fill value of full(): a number. */
static const struct value *fill_value(struct op_call *c, int pos)
{
	const struct value *v = op_arg(c, pos, "fill_value");
	double f;
	if (v && (v->kind == VAL_BOOL || value_number(v, &f)))
		return v;
	op_fail(c, "%s() needs a number for fill_value", op_fn_name(c));
	return NULL;
}

static enum dtype fill_dtype(const struct value *v)
{
	return v->kind == VAL_FLOAT ? DT_F32 : v->kind == VAL_BOOL ? DT_BOOL : DT_I64;
}

/* zeros(*size), ones, empty */
static int fn_filled(struct op_call *c)
{
	struct shape s;
	return sizes_at(c, 0, &s) < 0 ? -1 : out_new(c, dtype_kw(c, DT_F32), &s);
}

/* full(size, fill_value) */
static int fn_full(struct op_call *c)
{
	struct shape s;
	int n = op_int_list(c, 0, "size", false, s.dim, SHAPE_MAX_DIMS);
	const struct value *v = n < 0 ? NULL : fill_value(c, 1);
	if (!v)
		return -1;
	s.ndim = n;
	return out_new(c, dtype_kw(c, fill_dtype(v)), &s);
}

/* zeros_like(x), ones_like, empty_like, rand-free: x's shape and dtype. */
static int fn_like(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	return x ? out_new(c, dtype_kw(c, op_dtype(x)), op_shape(x)) : -1;
}

/* full_like(x, fill_value) */
static int fn_full_like(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x || !fill_value(c, 1))
		return -1;
	return out_new(c, dtype_kw(c, op_dtype(x)), op_shape(x));
}

/* x.new_zeros(size), new_ones, new_empty: x's dtype. */
static int fn_new_filled(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	struct shape s;
	if (!x || sizes_at(c, 1, &s) < 0)
		return -1;
	return out_new(c, dtype_kw(c, op_dtype(x)), &s);
}

/* x.new_full(size, fill_value) */
static int fn_new_full(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	struct shape s;
	int n = x ? op_int_list(c, 1, "size", false, s.dim, SHAPE_MAX_DIMS) : -1;
	if (n < 0 || !fill_value(c, 2))
		return -1;
	s.ndim = n;
	return out_new(c, dtype_kw(c, op_dtype(x)), &s);
}

int op_arange_count(const struct value *start, const struct value *end, const struct value *step,
                    int64_t *count)
{
	double a = 0, b, d = 1;
	if ((start && !value_number(start, &a)) || !value_number(end, &b) ||
	    (step && !value_number(step, &d)) || d == 0)
		return -1;
	double n = ceil((b - a) / d);
	if (!(n < 9e15))
		return -1;
	*count = n > 0 ? (int64_t)n : 0;
	return 0;
}

/* The numbers of an arange call: (end), (start, end) or (start, end,
 * step), positional or by keyword. */
void op_arange_args(const struct op_call *c, const struct value **start, const struct value **end,
                    const struct value **step)
{
	int n = 0;
	while (n < c->nargs && n < 3 && c->args[n].kind != VAL_DTYPE)
		n++;
	*start = n >= 2 ? &c->args[0] : op_arg(c, -1, "start");
	*end = n == 1 ? &c->args[0] : n >= 2 ? &c->args[1] : op_arg(c, -1, "end");
	*step = n == 3 ? &c->args[2] : op_arg(c, -1, "step");
}

/* arange(end), arange(start, end, step=1) */
static int fn_arange(struct op_call *c)
{
	const struct value *start, *end, *step;
	op_arange_args(c, &start, &end, &step);
	int64_t n;
	if (!end || op_arange_count(start, end, step, &n) < 0)
		return op_fail(c, "arange() needs numbers for start, end and a non-zero step");
	bool ints = end->kind != VAL_FLOAT && (!start || start->kind != VAL_FLOAT) &&
	            (!step || step->kind != VAL_FLOAT);
	struct shape s = {.ndim = 1, .dim = {n}};
	return out_new(c, dtype_kw(c, ints ? DT_I64 : DT_F32), &s);
}

/* eye(n, m=None) */
static int fn_eye(struct op_call *c)
{
	int64_t n, m;
	if (op_int(c, 0, "n", -1, &n) < 0 || op_int(c, 1, "m", n, &m) < 0)
		return -1;
	struct shape s = {.ndim = 2, .dim = {n, m}};
	return out_new(c, dtype_kw(c, DT_F32), &s);
}

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(arange, fn_arange, "arange(start=0, end, step=1): int64 for ints",
                     "torch.arange");
REGISTRY_FUNCTION_PY(zeros, fn_filled, "zeros(*size)", "torch.zeros");
REGISTRY_FUNCTION_PY(ones, fn_filled, "ones(*size)", "torch.ones");
REGISTRY_FUNCTION_PY(empty, fn_filled, "empty(*size): zeros in graft", "torch.zeros");
REGISTRY_FUNCTION_PY(full, fn_full, "full(size, fill_value)", "torch.full");
REGISTRY_FUNCTION_PY(zeros_like, fn_like, "zeros_like(x)", "torch.zeros_like");
REGISTRY_FUNCTION_PY(ones_like, fn_like, "ones_like(x)", "torch.ones_like");
REGISTRY_FUNCTION_PY(empty_like, fn_like, "empty_like(x): zeros in graft", "torch.zeros_like");
REGISTRY_FUNCTION_PY(full_like, fn_full_like, "full_like(x, fill_value)", "torch.full_like");
REGISTRY_FUNCTION_PY(new_zeros, fn_new_filled, "x.new_zeros(size)", NULL);
REGISTRY_FUNCTION_PY(new_ones, fn_new_filled, "x.new_ones(size)", NULL);
REGISTRY_FUNCTION_PY(new_empty, fn_new_filled, "x.new_empty(size): zeros in graft", NULL);
REGISTRY_FUNCTION_PY(new_full, fn_new_full, "x.new_full(size, fill_value)", NULL);
REGISTRY_FUNCTION_PY(eye, fn_eye, "eye(n, m=n)", "torch.eye");

const struct op_def *const registry_create_defs[] = {
    &fn_def_arange,     &fn_def_zeros,     &fn_def_ones,       &fn_def_empty,     &fn_def_full,
    &fn_def_zeros_like, &fn_def_ones_like, &fn_def_empty_like, &fn_def_full_like, &fn_def_new_zeros,
    &fn_def_new_ones,   &fn_def_new_empty, &fn_def_new_full,   &fn_def_eye,       NULL,
};
