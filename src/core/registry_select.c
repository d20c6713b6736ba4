/* registry_select.c - ordering and selection: topk, sort, argsort and
 * nonzero, whose count depends on the data (a bound, bounds.h).
 *
 * graft sorts stably: equal values keep their index order, in both
 * directions (PyTorch's sort without stable=True, and topk, leave the order
 * of equal values open). NaN sorts as the largest value, as in PyTorch. */
#include "core/registry_impl.h"

/* A bool (or int) argument at pos/kw, def when absent. */
static bool flag_arg(const struct op_call *c, int pos, const char *kw, bool def)
{
	const struct value *v = op_arg(c, pos, kw);
	return v && (v->kind == VAL_BOOL || v->kind == VAL_INT) ? op_as_int(v) != 0 : def;
}

/* The (values, indices) pair of x's dtype and int64, both of shape s. */
static int values_and_indices(struct op_call *c, const struct value *x, const struct shape *s)
{
	struct value r = value_list(2);
	op_out_tensor(c, op_dtype(x), s, x);
	r.u.list.items[0] = c->out;
	c->out = value_none();
	op_out_tensor(c, DT_I64, s, x);
	r.u.list.items[1] = c->out;
	c->out = value_none();
	op_set_out(c, r);
	return 0;
}

/* The sorted dim of x (the argument at pos/kw, -1 when absent), checked. */
static int sort_dim(struct op_call *c, const struct value *x, int pos, int *dim)
{
	int64_t d;
	if (op_int(c, pos, "dim", -1, &d) < 0)
		return -1;
	return op_dim(c, d, op_shape(x)->ndim, dim);
}

/* topk(input, k, dim=-1, largest=True, sorted=True): (values, indices); a
 * k above the dim's size takes the whole dim, so a k computed as
 * min(k, n) from a bounded n stays within the data. */
static int fn_topk(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t k;
	int dim;
	if (!x || op_int(c, 1, "k", -1, &k) < 0 || sort_dim(c, x, 2, &dim) < 0)
		return -1;
	if (k < 0)
		return op_fail(c, "topk(): k must be a non-negative int");
	struct shape s = *op_shape(x);
	if (s.ndim > 0 && k < s.dim[dim])
		s.dim[dim] = k;
	return values_and_indices(c, x, &s);
}

/* sort(input, dim=-1, descending=False, stable=False): (values, indices) */
static int fn_sort(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int dim;
	if (!x || sort_dim(c, x, 1, &dim) < 0)
		return -1;
	return values_and_indices(c, x, op_shape(x));
}

/* argsort(input, dim=-1, descending=False): int64 indices */
static int fn_argsort(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int dim;
	if (!x || sort_dim(c, x, 1, &dim) < 0)
		return -1;
	op_out_tensor(c, DT_I64, op_shape(x), x);
	return 0;
}

/* nonzero(input, *, as_tuple=False): [≤numel, ndim] int64, or a tuple of
 * ndim [≤numel] (one per dim, as where(condition) gives). */
static int fn_nonzero(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	int64_t n = op_checked_numel(c, op_shape(x));
	if (n < 0)
		return -1;
	int nd = op_shape(x)->ndim;
	if (!flag_arg(c, -1, "as_tuple", false)) {
		op_out_tensor(c, DT_I64, &(struct shape){.ndim = 2, .dim = {n, nd}}, NULL);
		c->out.u.tensor.t.shape.bounded = 1;
		return 0;
	}
	struct value r = value_list(nd > 0 ? nd : 1);
	for (int i = 0; i < r.u.list.n; i++) {
		op_out_tensor(c, DT_I64, &(struct shape){.ndim = 1, .dim = {n}}, NULL);
		c->out.u.tensor.t.shape.bounded = 1;
		r.u.list.items[i] = c->out;
		c->out = value_none();
	}
	op_set_out(c, r);
	return 0;
}

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(topk, fn_topk,
                     "topk(x, k, dim=-1, largest=True, sorted=True): (values, indices)",
                     "torch.topk");
REGISTRY_FUNCTION_PY(sort, fn_sort, "sort(x, dim=-1, descending=False): (values, indices)",
                     "torch.sort");
REGISTRY_FUNCTION_PY(argsort, fn_argsort, "argsort(x, dim=-1, descending=False): int64",
                     "torch.argsort");
REGISTRY_FUNCTION_PY(nonzero, fn_nonzero,
                     "nonzero(x, as_tuple=False): indices of the non-zero elements",
                     "torch.nonzero");

const struct op_def *const registry_select_defs[] = {
    &fn_def_topk, &fn_def_sort, &fn_def_argsort, &fn_def_nonzero, NULL,
};
