/* registry_reduce.c - reductions beyond mean and sum: max and min (whole,
 * along a dim with their indices, or elementwise against another tensor),
 * argmax, argmin, prod, norm, var, std, logsumexp, all, any, and the
 * running cumsum and cumprod. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <string.h>

int op_reduced_shape(struct op_call *c, const struct value *x, const struct value *dims, bool keep,
                     struct shape *out)
{
	const struct shape *xs = op_shape(x);
	bool red[SHAPE_MAX_DIMS] = {false};
	bool all =
	    !dims || dims->kind == VAL_NONE || (dims->kind == VAL_LIST && dims->u.list.n == 0);
	if (all) {
		for (int i = 0; i < xs->ndim; i++)
			red[i] = true;
	} else {
		int64_t d[SHAPE_MAX_DIMS];
		int n = dims->kind == VAL_LIST ? dims->u.list.n : 1;
		if (n > SHAPE_MAX_DIMS ||
		    (dims->kind == VAL_LIST ? value_ints(dims, d, n) : value_ints(dims, d, 1)) < 0)
			return op_fail(c, "%s() needs an int or a tuple of ints for dim",
			               op_fn_name(c));
		for (int i = 0; i < n; i++) {
			int k;
			if (op_dim(c, d[i], xs->ndim, &k) < 0)
				return -1;
			if (red[k])
				return op_fail(
				    c, "dim %d appears multiple times in the list of dims", k);
			red[k] = true;
		}
	}
	out->ndim = 0;
	for (int i = 0; i < xs->ndim; i++) {
		if (!red[i])
			out->dim[out->ndim++] = xs->dim[i];
		else if (keep)
			out->dim[out->ndim++] = 1;
	}
	return 0;
}

/* A bool argument, or def. */
static bool flag(struct op_call *c, int pos, const char *kw, bool def)
{
	const struct value *v = op_arg(c, pos, kw);
	return v && (v->kind == VAL_BOOL || v->kind == VAL_INT) ? op_as_int(v) != 0 : def;
}

/* The reduction of x over the dims at pos/kw (all when absent), keepdim
 * at kpos, into a tensor of dtype dt. */
static int reduce_to(struct op_call *c, const struct value *x, int pos, const char *kw, int kpos,
                     enum dtype dt)
{
	struct shape os;
	if (op_reduced_shape(c, x, op_arg(c, pos, kw), flag(c, kpos, "keepdim", false), &os) < 0)
		return -1;
	op_out_tensor(c, dt, &os, x);
	return 0;
}

static enum dtype float_of(enum dtype t)
{
	return op_is_float_dtype(t) ? t : DT_F32;
}

/* max(x), max(x, dim, keepdim=False) -> (values, indices), max(x, other);
 * min likewise; on plain numbers, Python's max and min. */
static int fn_max_min(struct op_call *c)
{
	const struct value *x = op_arg(c, 0, "input");
	if (!op_is_tensor(x)) {
		double best = 0, v;
		if (c->nargs < 1)
			return op_fail(c, "%s() needs arguments", op_fn_name(c));
		int at = 0;
		bool is_max = strcmp(op_fn_name(c), "max") == 0;
		for (int i = 0; i < c->nargs; i++) {
			if (!value_number(&c->args[i], &v))
				return op_fail(c, "%s() needs tensors or numbers", op_fn_name(c));
			if (i == 0 || (is_max ? v > best : v < best)) {
				best = v;
				at = i;
			}
		}
		op_set_out(c, value_copy(&c->args[at]));
		return 0;
	}
	const struct value *d = op_arg(c, 1, "dim");
	if (!d || d->kind == VAL_NONE) {
		op_out_tensor(c, op_dtype(x), &(struct shape){.ndim = 0}, NULL);
		return 0;
	}
	if (op_is_tensor(d)) {
		struct shape s;
		if (op_broadcast(op_shape(x), op_shape(d), &s) < 0)
			return op_broadcast_fail(c, "broadcast", x, d);
		op_out_tensor(c, op_dtype(x), &s, x);
		return 0;
	}
	if (d->kind != VAL_INT)
		return op_fail(c, "%s() needs an int dim", op_fn_name(c));
	struct shape os;
	if (op_reduced_shape(c, x, d, flag(c, 2, "keepdim", false), &os) < 0)
		return -1;
	struct value r = value_list(2);
	op_out_tensor(c, op_dtype(x), &os, x);
	r.u.list.items[0] = c->out;
	c->out = value_none();
	op_out_tensor(c, DT_I64, &os, x);
	r.u.list.items[1] = c->out;
	c->out = r;
	return 0;
}

/* argmax(x, dim=None, keepdim=False): int64. */
static int fn_arg_reduce(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *d = x ? op_arg(c, 1, "dim") : NULL;
	if (!x)
		return -1;
	if (d && d->kind != VAL_NONE && d->kind != VAL_INT)
		return op_fail(c, "%s() needs an int dim", op_fn_name(c));
	return reduce_to(c, x, 1, "dim", 2, DT_I64);
}

/* prod(x, dim=None, keepdim=False, dtype=None): int64 for integers. */
static int fn_prod(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	enum dtype dt = op_is_float_dtype(op_dtype(x)) ? op_dtype(x) : DT_I64;
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	return reduce_to(c, x, 1, "dim", 2, dt);
}

static bool is_norm_order(const struct value *p)
{
	double f;
	return value_number(p, &f) || (p->kind == VAL_STR && strcmp(p->u.s, "fro") == 0);
}

/* norm(x, p='fro', dim=None, keepdim=False): p a number, inf, 'fro'. */
static int fn_norm(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct value *p = op_arg(c, 1, "p");
	if (p && p->kind != VAL_NONE && !is_norm_order(p))
		return op_fail(c, "norm() supports p a number or 'fro'");
	return reduce_to(c, x, 2, "dim", 3, float_of(op_dtype(x)));
}

/* var(x, dim=None, unbiased=True, keepdim=False), also var(x, unbiased)
 * and the keyword correction=; std likewise. */
static int fn_var(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct value *d = op_arg(c, 1, "dim");
	if (d && d->kind == VAL_BOOL) /* var(x, unbiased) */
		return reduce_to(c, x, -1, "dim", -1, float_of(op_dtype(x)));
	return reduce_to(c, x, 1, "dim", 3, float_of(op_dtype(x)));
}

/* logsumexp(x, dim, keepdim=False) */
static int fn_logsumexp(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	if (!op_arg(c, 1, "dim"))
		return op_fail(c, "logsumexp() needs a dim");
	return reduce_to(c, x, 1, "dim", 2, float_of(op_dtype(x)));
}

/* all(x, dim=None, keepdim=False), any: bool. */
static int fn_all_any(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	return x ? reduce_to(c, x, 1, "dim", 2, DT_BOOL) : -1;
}

/* cumsum(x, dim, dtype=None), cumprod: the shape of x; int64 for
 * integers. */
static int fn_cumulative(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d;
	int dim;
	if (!x)
		return -1;
	if (!op_arg(c, 1, "dim"))
		return op_fail(c, "%s() needs a dim", op_fn_name(c));
	if (op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, op_shape(x)->ndim, &dim) < 0)
		return -1;
	enum dtype dt = op_is_float_dtype(op_dtype(x)) ? op_dtype(x) : DT_I64;
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	op_out_tensor(c, dt, op_shape(x), x);
	return 0;
}

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(max, fn_max_min,
                     "max(x), max(x, dim, keepdim=False) -> (values, indices), max(x, y)",
                     "torch.max");
REGISTRY_FUNCTION_PY(min, fn_max_min,
                     "min(x), min(x, dim, keepdim=False) -> (values, indices), min(x, y)",
                     "torch.min");
REGISTRY_FUNCTION_PY(argmax, fn_arg_reduce, "argmax(x, dim=None, keepdim=False): int64",
                     "torch.argmax");
REGISTRY_FUNCTION_PY(argmin, fn_arg_reduce, "argmin(x, dim=None, keepdim=False): int64",
                     "torch.argmin");
REGISTRY_FUNCTION_PY(prod, fn_prod, "prod(x, dim=None, keepdim=False)", "torch.prod");
REGISTRY_FUNCTION_PY(norm, fn_norm, "norm(x, p='fro', dim=None, keepdim=False)", "torch.norm");
REGISTRY_FUNCTION_PY(var, fn_var, "var(x, dim=None, unbiased=True, keepdim=False)", "torch.var");
REGISTRY_FUNCTION_PY(std, fn_var, "std(x, dim=None, unbiased=True, keepdim=False)", "torch.std");
REGISTRY_FUNCTION_PY(logsumexp, fn_logsumexp, "logsumexp(x, dim, keepdim=False)",
                     "torch.logsumexp");
REGISTRY_FUNCTION_PY(all, fn_all_any, "all(x, dim=None, keepdim=False): bool", "torch.all");
REGISTRY_FUNCTION_PY(any, fn_all_any, "any(x, dim=None, keepdim=False): bool", "torch.any");
REGISTRY_FUNCTION_PY(cumsum, fn_cumulative, "cumsum(x, dim)", "torch.cumsum");
REGISTRY_FUNCTION_PY(cumprod, fn_cumulative, "cumprod(x, dim)", "torch.cumprod");

const struct op_def *const registry_reduce_defs[] = {
    &fn_def_max,     &fn_def_min, &fn_def_argmax,    &fn_def_argmin, &fn_def_prod, &fn_def_norm,
    &fn_def_var,     &fn_def_std, &fn_def_logsumexp, &fn_def_all,    &fn_def_any,  &fn_def_cumsum,
    &fn_def_cumprod, NULL,
};
