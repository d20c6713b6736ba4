/* registry_math.c - arithmetic and comparisons on tensors and Python numbers: add, mul,
 * truediv, eq, neg, not, _assert. */
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- arithmetic ---- */

enum binop {
	B_ADD,
	B_SUB,
	B_MUL,
	B_DIV,
	B_FLOORDIV,
	B_MOD,
	B_POW,
	B_EQ,
	B_NE,
	B_LT,
	B_LE,
	B_GT,
	B_GE
};

static bool is_number(const struct value *v)
{
	return v->kind == VAL_INT || v->kind == VAL_FLOAT || v->kind == VAL_BOOL;
}

static double as_float(const struct value *v)
{
	return v->kind == VAL_FLOAT ? v->u.f : (double)op_as_int(v);
}

static bool is_compare(enum binop op)
{
	return op >= B_EQ;
}

/* Whether a three-way comparison result (-1, 0, 1; 2 for unordered)
 * satisfies op. */
static bool compare_holds(enum binop op, int cmp)
{
	switch (op) {
	case B_EQ:
		return cmp == 0;
	case B_NE:
		return cmp != 0;
	case B_LT:
		return cmp == -1;
	case B_LE:
		return cmp == -1 || cmp == 0;
	case B_GT:
		return cmp == 1;
	case B_GE:
		return cmp == 1 || cmp == 0;
	default:
		return false;
	}
}

/* Python arithmetic on two numbers. */
static int binary_number(struct op_call *c, enum binop op, const struct value *a,
                         const struct value *b)
{
	bool ints = a->kind != VAL_FLOAT && b->kind != VAL_FLOAT;
	if (is_compare(op)) {
		int cmp;
		if (ints) {
			int64_t i = op_as_int(a), j = op_as_int(b);
			cmp = (i > j) - (i < j);
		} else {
			double x = as_float(a), y = as_float(b);
			cmp = (x > y) - (x < y);
			if (x != x || y != y) /* NaN: only != holds */
				cmp = 2;
		}
		op_set_out(c, value_bool(compare_holds(op, cmp)));
		return 0;
	}
	if (ints && op != B_DIV) {
		int64_t x = op_as_int(a), y = op_as_int(b), r = 0;
		bool ovf = false;
		switch (op) {
		case B_ADD:
			ovf = __builtin_add_overflow(x, y, &r);
			break;
		case B_SUB:
			ovf = __builtin_sub_overflow(x, y, &r);
			break;
		case B_MUL:
			ovf = __builtin_mul_overflow(x, y, &r);
			break;
		case B_FLOORDIV:
		case B_MOD:
			if (y == 0)
				return op_mismatch(c, "integer division by zero");
			if (x == INT64_MIN && y == -1) {
				ovf = true;
				break;
			}
			r = x / y;
			if ((x % y != 0) && ((x < 0) != (y < 0)))
				r--;
			if (op == B_MOD)
				r = x - r * y;
			break;
		case B_POW:
			if (y < 0) {
				op_set_out(c, value_float(pow((double)x, (double)y)));
				return 0;
			}
			r = 1;
			for (int64_t i = 0; i < y && !ovf; i++)
				ovf = __builtin_mul_overflow(r, x, &r);
			break;
		default:
			break;
		}
		if (ovf)
			return op_mismatch(c, "integer overflow in %s()", op_fn_name(c));
		op_set_out(c, value_int(r));
		return 0;
	}
	double x = as_float(a), y = as_float(b), r = 0;
	switch (op) {
	case B_ADD:
		r = x + y;
		break;
	case B_SUB:
		r = x - y;
		break;
	case B_MUL:
		r = x * y;
		break;
	case B_DIV:
	case B_FLOORDIV:
	case B_MOD:
		if (y == 0)
			return op_mismatch(c, "division by zero");
		r = op == B_DIV ? x / y : op == B_FLOORDIV ? floor(x / y) : x - floor(x / y) * y;
		break;
	case B_POW:
		r = pow(x, y);
		break;
	default:
		break;
	}
	op_set_out(c, value_float(r));
	return 0;
}

static int binary_tensor(struct op_call *c, enum binop op, const struct value *a,
                         const struct value *b)
{
	const struct value *t = op_is_tensor(a) ? a : b, *other = t == a ? b : a;
	if (!op_is_tensor(other) && !is_number(other)) {
		char got[128];
		value_format(other, got, sizeof got);
		return op_fail(c, "%s() cannot combine a tensor with %s", op_fn_name(c), got);
	}
	struct shape s;
	enum dtype dt = op_dtype(t);
	const struct value *keep = t;
	if (op_is_tensor(other)) {
		if (op_broadcast(op_shape(a), op_shape(b), &s) < 0)
			return op_broadcast_fail(c, "broadcast", a, b);
		if (!op_is_float_dtype(op_dtype(a)) && op_is_float_dtype(op_dtype(b)))
			dt = op_dtype(b);
		else
			dt = op_dtype(a);
		keep = shape_equal(&s, op_shape(a)) ? a : shape_equal(&s, op_shape(b)) ? b : a;
	} else {
		s = *op_shape(t);
		if (other->kind == VAL_FLOAT && !op_is_float_dtype(dt))
			dt = DT_F32;
	}
	if (op == B_DIV && !op_is_float_dtype(dt))
		dt = DT_F32;
	if (is_compare(op))
		dt = DT_BOOL;
	if (op_checked_numel(c, &s) < 0)
		return -1;
	op_out_tensor(c, dt, &s, keep);
	return 0;
}

static int binary(struct op_call *c, enum binop op)
{
	const struct value *a = op_arg(c, 0, "input"), *b = op_arg(c, 1, "other");
	if (!a)
		a = op_arg(c, -1, "self");
	if (!b && op == B_POW)
		b = op_arg(c, -1, "exponent");
	if (!a || !b)
		return op_fail(c, "%s() needs two operands", op_fn_name(c));
	if (op_is_tensor(a) || op_is_tensor(b))
		return binary_tensor(c, op, a, b);
	if (is_number(a) && is_number(b))
		return binary_number(c, op, a, b);
	if (op == B_ADD && a->kind == VAL_LIST && b->kind == VAL_LIST) {
		struct value r = value_list(a->u.list.n + b->u.list.n);
		for (int i = 0; i < a->u.list.n; i++)
			r.u.list.items[i] = value_copy(&a->u.list.items[i]);
		for (int i = 0; i < b->u.list.n; i++)
			r.u.list.items[a->u.list.n + i] = value_copy(&b->u.list.items[i]);
		op_set_out(c, r);
		return 0;
	}
	if (op == B_MUL && (a->kind == VAL_LIST || b->kind == VAL_LIST) &&
	    (a->kind == VAL_INT || b->kind == VAL_INT)) {
		const struct value *l = a->kind == VAL_LIST ? a : b, *k = l == a ? b : a;
		int64_t times = k->u.i < 0 ? 0 : k->u.i, n;
		if (__builtin_mul_overflow(times, (int64_t)l->u.list.n, &n) || n > 4096)
			return op_mismatch(c, "tuple repetition too large");
		struct value r = value_list((int)n);
		for (int64_t i = 0; i < n; i++)
			r.u.list.items[i] = value_copy(&l->u.list.items[i % l->u.list.n]);
		op_set_out(c, r);
		return 0;
	}
	if (op == B_EQ || op == B_NE) {
		bool eq = value_equal(a, b);
		op_set_out(c, value_bool(op == B_EQ ? eq : !eq));
		return 0;
	}
	char ga[128], gb[128];
	value_format(a, ga, sizeof ga);
	value_format(b, gb, sizeof gb);
	return op_fail(c, "%s() does not apply to %s and %s", op_fn_name(c), ga, gb);
}

static int fn_add(struct op_call *c)
{
	return binary(c, B_ADD);
}
static int fn_sub(struct op_call *c)
{
	return binary(c, B_SUB);
}
static int fn_mul(struct op_call *c)
{
	return binary(c, B_MUL);
}
static int fn_truediv(struct op_call *c)
{
	return binary(c, B_DIV);
}
static int fn_floordiv(struct op_call *c)
{
	return binary(c, B_FLOORDIV);
}
static int fn_mod(struct op_call *c)
{
	return binary(c, B_MOD);
}
static int fn_pow(struct op_call *c)
{
	return binary(c, B_POW);
}
static int fn_eq(struct op_call *c)
{
	return binary(c, B_EQ);
}
static int fn_ne(struct op_call *c)
{
	return binary(c, B_NE);
}
static int fn_lt(struct op_call *c)
{
	return binary(c, B_LT);
}
static int fn_le(struct op_call *c)
{
	return binary(c, B_LE);
}
static int fn_gt(struct op_call *c)
{
	return binary(c, B_GT);
}
static int fn_ge(struct op_call *c)
{
	return binary(c, B_GE);
}

static int fn_neg(struct op_call *c)
{
	const struct value *a = op_arg(c, 0, "input");
	if (a && op_is_tensor(a)) {
		op_out_tensor(c, op_dtype(a), op_shape(a), a);
		return 0;
	}
	if (a && (a->kind == VAL_INT || a->kind == VAL_BOOL)) {
		if (op_as_int(a) == INT64_MIN)
			return op_mismatch(c, "integer overflow in neg()");
		op_set_out(c, value_int(-op_as_int(a)));
		return 0;
	}
	if (a && a->kind == VAL_FLOAT) {
		op_set_out(c, value_float(-a->u.f));
		return 0;
	}
	return op_fail(c, "neg() needs a number or a tensor");
}

/* Python's `not` and truth of a plain value. */
static int fn_not(struct op_call *c)
{
	const struct value *a = op_arg(c, 0, NULL);
	if (!a || op_is_tensor(a))
		return op_fail(c, "not_() needs a plain value");
	double f = 0;
	bool truth = a->kind == VAL_BOOL   ? a->u.b
	             : value_number(a, &f) ? f != 0
	             : a->kind == VAL_LIST ? a->u.list.n > 0
	                                   : a->kind != VAL_NONE;
	op_set_out(c, value_bool(!truth));
	return 0;
}

/* torch._assert(condition, message): a False condition is a break. */
static int fn_assert(struct op_call *c)
{
	const struct value *cond = op_arg(c, 0, "condition");
	const struct value *msg = op_arg(c, 1, "message");
	if (!cond)
		return op_fail(c, "_assert() needs a condition");
	if (cond->kind == VAL_BOOL && !cond->u.b)
		return op_mismatch(c, "assertion failed: %s",
		                   msg && msg->kind == VAL_STR ? msg->u.s : "(no message)");
	op_set_out(c, value_none());
	return 0;
}

/* ---- the table ---- */

REGISTRY_FUNCTION(add, fn_add, "a + b, with broadcasting; ints add, tuples concatenate");
REGISTRY_FUNCTION(sub, fn_sub, "a - b, with broadcasting");
REGISTRY_FUNCTION(mul, fn_mul, "a * b, with broadcasting");
REGISTRY_FUNCTION(truediv, fn_truediv, "a / b, with broadcasting");
REGISTRY_FUNCTION(div, fn_truediv, "a / b, with broadcasting (torch.div)");
REGISTRY_FUNCTION(floordiv, fn_floordiv, "a // b; Python floor division on ints");
REGISTRY_FUNCTION(floor_divide, fn_floordiv, "a // b, with broadcasting");
REGISTRY_FUNCTION(mod, fn_mod, "a % b; Python modulo on ints");
REGISTRY_FUNCTION(pow, fn_pow, "a ** b");
REGISTRY_FUNCTION(neg, fn_neg, "-a");
REGISTRY_FUNCTION(eq, fn_eq, "a == b");
REGISTRY_FUNCTION(ne, fn_ne, "a != b");
REGISTRY_FUNCTION(lt, fn_lt, "a < b");
REGISTRY_FUNCTION(le, fn_le, "a <= b");
REGISTRY_FUNCTION(gt, fn_gt, "a > b");
REGISTRY_FUNCTION(ge, fn_ge, "a >= b");
REGISTRY_FUNCTION(not_, fn_not, "not a");
REGISTRY_FUNCTION(_assert, fn_assert, "torch._assert(condition, message)");

const struct op_def *const registry_math_defs[] = {
    &fn_def_add,
    &fn_def_sub,
    &fn_def_mul,
    &fn_def_truediv,
    &fn_def_div,
    &fn_def_floordiv,
    &fn_def_floor_divide,
    &fn_def_mod,
    &fn_def_pow,
    &fn_def_neg,
    &fn_def_eq,
    &fn_def_ne,
    &fn_def_lt,
    &fn_def_le,
    &fn_def_gt,
    &fn_def_ge,
    &fn_def_not_,
    &fn_def__assert,
    NULL,
};
