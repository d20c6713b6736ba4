/* registry_elementwise.c - elementwise functions beyond the operators:
 * unary math (abs, sqrt, log, sin, floor, ...), minimum and maximum,
 * where, masked_fill, logical and bitwise operations (&, |, ^, ~),
 * isnan/isinf, and dtype casts
 * (long, int, bool, double, half, type).
 *
 * Result dtypes follow registry_impl.h: functions that only make sense on
 * floats (sqrt, log, sin, ...) give float32 for integer inputs, those that
 * keep values (abs, floor, sign, ...) keep the dtype, logical functions
 * and isnan give bool. On a Python number (math.sqrt(d), math.floor(n)
 * in a forward) they compute as the math module does. */
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- dtype promotion ---- */

static int dtype_rank(enum dtype t)
{
	return t == DT_BOOL ? 0 : op_is_float_dtype(t) ? 2 : 1;
}

/* The dtype of a number operand: float32, int64 or bool. */
static enum dtype number_dtype(const struct value *v)
{
	return v->kind == VAL_FLOAT ? DT_F32 : v->kind == VAL_BOOL ? DT_BOOL : DT_I64;
}

static bool is_number(const struct value *v)
{
	return v && (v->kind == VAL_INT || v->kind == VAL_FLOAT || v->kind == VAL_BOOL);
}

/* PyTorch's promotion of a tensor dtype t with operand v (a tensor or a
 * number): the higher category wins; within a category the tensor's. */
static enum dtype promote(enum dtype t, const struct value *v)
{
	enum dtype o = op_is_tensor(v) ? op_dtype(v) : number_dtype(v);
	return dtype_rank(o) > dtype_rank(t) ? o : t;
}

/* ---- unary ---- */

/* The math module's function of the same name on a Python number:
 * math.sqrt(d) in a forward. floor, ceil and trunc give ints. */
static int python_math(struct op_call *c, const struct value *a)
{
	static const struct {
		const char *name;
		double (*fn)(double);
		bool to_int;
	} fns[] = {
	    {"sqrt", sqrt, false}, {"log", log, false},     {"log1p", log1p, false},
	    {"log2", log2, false}, {"expm1", expm1, false}, {"sin", sin, false},
	    {"cos", cos, false},   {"erf", erf, false},     {"floor", floor, true},
	    {"ceil", ceil, true},  {"trunc", trunc, true},
	};
	double x;
	value_number(a, &x);
	for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
		if (strcmp(fns[i].name, op_fn_name(c)) != 0)
			continue;
		double r = fns[i].fn(x);
		if (!fns[i].to_int) {
			op_set_out(c, value_float(r));
			return 0;
		}
		if (!(r > -9.2e18 && r < 9.2e18))
			return op_mismatch(c, "%s() of %g is not an int", op_fn_name(c), x);
		op_set_out(c, value_int((int64_t)r));
		return 0;
	}
	return op_fail(c, "%s() needs a tensor", op_fn_name(c));
}

/* abs, floor, sign, ...: the input's dtype; on a Python number, the math
 * module's function. */
static int fn_unary_same(struct op_call *c)
{
	const struct value *a = op_arg(c, 0, "input");
	if (is_number(a))
		return python_math(c, a);
	return op_same(c);
}

/* sqrt, log, sin, ...: float32 for integer inputs. */
static int fn_unary_float(struct op_call *c)
{
	const struct value *a = op_arg(c, 0, "input");
	if (is_number(a))
		return python_math(c, a);
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	enum dtype dt = op_is_float_dtype(op_dtype(x)) ? op_dtype(x) : DT_F32;
	op_out_tensor(c, dt, op_shape(x), x);
	return 0;
}

/* isnan, isinf, logical_not: bool. */
static int fn_unary_bool(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	op_out_tensor(c, DT_BOOL, op_shape(x), x);
	return 0;
}

/* ---- binary and ternary with broadcasting ---- */

/* Broadcasts the tensor operands among n values into s; numbers are 0-d.
 * The first tensor is *keep. -1 with a break when they do not. */
static int broadcast_all(struct op_call *c, const struct value *const *v, int n, struct shape *s,
                         const struct value **keep)
{
	*s = (struct shape){.ndim = 0};
	*keep = NULL;
	const struct value *prev = NULL;
	for (int i = 0; i < n; i++) {
		if (!op_is_tensor(v[i]))
			continue;
		struct shape b;
		if (op_broadcast(s, op_shape(v[i]), &b) < 0)
			return op_broadcast_fail(c, "broadcast", prev, v[i]);
		*s = b;
		prev = v[i];
		if (!*keep)
			*keep = v[i];
	}
	for (int i = 0; i < n; i++)
		if (op_is_tensor(v[i]) && shape_equal(op_shape(v[i]), s))
			*keep = v[i];
	return op_checked_numel(c, s) < 0 ? -1 : 0;
}

/* The operand at pos/kw: a tensor or a number. */
static const struct value *operand(struct op_call *c, int pos, const char *kw)
{
	const struct value *v = op_arg(c, pos, kw);
	if (op_is_tensor(v) || is_number(v))
		return v;
	char got[128] = "nothing";
	if (v)
		value_format(v, got, sizeof got);
	op_fail(c, "%s() needs a tensor or a number for '%s', got %s", op_fn_name(c), kw, got);
	return NULL;
}

/* A function of two operands that broadcast: a tensor and a tensor or a
 * number; bool results for logical ones, else the promoted dtype. */
static int elementwise_pair(struct op_call *c, bool logical)
{
	const struct value *a = op_self_tensor(c), *b = a ? operand(c, 1, "other") : NULL;
	if (!b)
		return -1;
	const struct value *v[2] = {a, b}, *keep;
	struct shape s;
	if (broadcast_all(c, v, 2, &s, &keep) < 0)
		return -1;
	op_out_tensor(c, logical ? DT_BOOL : promote(op_dtype(a), b), &s, keep);
	return 0;
}

/* minimum, maximum */
static int fn_minmax(struct op_call *c)
{
	return elementwise_pair(c, false);
}

/* logical_and, logical_or, logical_xor */
static int fn_logical(struct op_call *c)
{
	return elementwise_pair(c, true);
}

/* a & b, a | b, a ^ b: bitwise on ints and int tensors, logical on bools
 * and bool tensors. */
static int fn_bitwise(struct op_call *c)
{
	const struct value *a = op_arg(c, 0, NULL), *b = op_arg(c, 1, NULL);
	if (!a || !b)
		return op_fail(c, "%s() needs two operands", op_fn_name(c));
	char op = op_fn_name(c)[0];
	if (!op_is_tensor(a) && !op_is_tensor(b)) {
		if ((a->kind != VAL_INT && a->kind != VAL_BOOL) ||
		    (b->kind != VAL_INT && b->kind != VAL_BOOL))
			return op_fail(c, "%s() needs ints or bools", op_fn_name(c));
		int64_t x = op_as_int(a), y = op_as_int(b);
		int64_t r = op == 'a' ? (x & y) : op == 'o' ? (x | y) : (x ^ y);
		bool bools = a->kind == VAL_BOOL && b->kind == VAL_BOOL;
		op_set_out(c, bools ? value_bool(r != 0) : value_int(r));
		return 0;
	}
	const struct value *v[2] = {a, b}, *keep;
	struct shape s;
	if (broadcast_all(c, v, 2, &s, &keep) < 0)
		return -1;
	const struct value *t = op_is_tensor(a) ? a : b, *other = t == a ? b : a;
	enum dtype dt = promote(op_dtype(t), other);
	if (op_is_float_dtype(dt))
		return op_fail(c, "%s() is not defined on float tensors", op_fn_name(c));
	op_out_tensor(c, dt, &s, keep);
	return 0;
}

/* ~x: logical not on bools, bitwise on ints. */
static int fn_invert(struct op_call *c)
{
	const struct value *a = op_arg(c, 0, NULL);
	if (a && (a->kind == VAL_INT || a->kind == VAL_BOOL)) {
		op_set_out(c, value_int(~op_as_int(a)));
		return 0;
	}
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	if (op_is_float_dtype(op_dtype(x)))
		return op_fail(c, "~ is not defined on float tensors");
	return op_same(c);
}

/* where(condition, input, other) */
static int fn_where(struct op_call *c)
{
	const struct value *cond = op_tensor(c, 0, "condition");
	if (!cond)
		return -1;
	const struct value *a = operand(c, 1, "input"), *b = a ? operand(c, 2, "other") : NULL;
	if (!b)
		return -1;
	const struct value *v[3] = {cond, a, b}, *keep;
	struct shape s;
	if (broadcast_all(c, v, 3, &s, &keep) < 0)
		return -1;
	enum dtype dt = op_is_tensor(a)   ? promote(op_dtype(a), b)
	                : op_is_tensor(b) ? promote(op_dtype(b), a)
	                                  : promote(number_dtype(a), b);
	op_out_tensor(c, dt, &s, keep);
	return 0;
}

/* masked_fill(input, mask, value): the mask broadcasts to the input. */
static int fn_masked_fill(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *mask = x ? op_tensor(c, 1, "mask") : NULL;
	const struct value *value = mask ? operand(c, 2, "value") : NULL;
	if (!value)
		return -1;
	if (op_dtype(mask) != DT_BOOL)
		return op_fail(c,
		               "masked_fill() only supports boolean masks, but got mask with "
		               "dtype %s",
		               dtype_name(op_dtype(mask)));
	if (op_is_tensor(value) && op_shape(value)->ndim != 0)
		return op_fail(c, "masked_fill() only supports a 0-dimensional value tensor");
	struct shape s;
	if (op_broadcast(op_shape(x), op_shape(mask), &s) < 0 || !shape_equal(&s, op_shape(x)))
		return op_broadcast_fail(c, "mask", x, mask);
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

/* clamp(x, min=None, max=None), clip; clamp_min(x, min), clamp_max(x,
 * max): bounds are numbers or tensors that broadcast to x. */
static int fn_clamp(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	bool one = strncmp(op_fn_name(c), "clamp_m", 7) == 0;
	const struct value *v[3] = {x, op_arg(c, 1, one ? NULL : "min"),
	                            one ? NULL : op_arg(c, 2, "max")},
	                   *keep;
	if (one && !v[1])
		v[1] = op_arg(c, -1, strcmp(op_fn_name(c), "clamp_min") ? "max" : "min");
	if (!v[1] && !v[2])
		return op_fail(c, "%s() needs at least one of min and max", op_fn_name(c));
	struct shape s;
	if (broadcast_all(c, v, 3, &s, &keep) < 0)
		return -1;
	if (!shape_equal(&s, op_shape(x)))
		return op_broadcast_fail(c, "clamp", x, op_is_tensor(v[1]) ? v[1] : v[2]);
	enum dtype dt = op_dtype(x);
	for (int i = 1; i < 3; i++)
		if (v[i] && v[i]->kind != VAL_NONE)
			dt = promote(dt, v[i]);
	op_out_tensor(c, dt, op_shape(x), x);
	return 0;
}

/* ---- dtype casts ---- */

static int cast_to(struct op_call *c, enum dtype dt)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	op_out_tensor(c, dt, op_shape(x), x);
	return 0;
}

static int fn_long(struct op_call *c)
{
	return cast_to(c, DT_I64);
}
static int fn_int(struct op_call *c)
{
	return cast_to(c, DT_I32);
}
static int fn_bool(struct op_call *c)
{
	return cast_to(c, DT_BOOL);
}
static int fn_double(struct op_call *c)
{
	return cast_to(c, DT_F64);
}
static int fn_half(struct op_call *c)
{
	return cast_to(c, DT_F16);
}

/* x.type(dtype); x.type() with no dtype (a string) is refused. */
static int fn_type(struct op_call *c)
{
	const struct value *d = op_arg(c, 1, "dtype");
	if (!d || d->kind != VAL_DTYPE)
		return op_fail(c, "type() needs a dtype such as torch.float32");
	return cast_to(c, d->u.dtype);
}

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(abs, fn_unary_same, "abs(x)", "torch.abs");
REGISTRY_FUNCTION_PY(sqrt, fn_unary_float, "sqrt(x)", "torch.sqrt");
REGISTRY_FUNCTION_PY(rsqrt, fn_unary_float, "1 / sqrt(x)", "torch.rsqrt");
REGISTRY_FUNCTION_PY(log, fn_unary_float, "log(x)", "torch.log");
REGISTRY_FUNCTION_PY(log1p, fn_unary_float, "log(1 + x)", "torch.log1p");
REGISTRY_FUNCTION_PY(log2, fn_unary_float, "log2(x)", "torch.log2");
REGISTRY_FUNCTION_PY(expm1, fn_unary_float, "exp(x) - 1", "torch.expm1");
REGISTRY_FUNCTION_PY(sin, fn_unary_float, "sin(x)", "torch.sin");
REGISTRY_FUNCTION_PY(cos, fn_unary_float, "cos(x)", "torch.cos");
REGISTRY_FUNCTION_PY(erf, fn_unary_float, "erf(x)", "torch.erf");
REGISTRY_FUNCTION_PY(reciprocal, fn_unary_float, "1 / x", "torch.reciprocal");
REGISTRY_FUNCTION_PY(square, fn_unary_same, "x * x", "torch.square");
REGISTRY_FUNCTION_PY(sign, fn_unary_same, "-1, 0 or 1", "torch.sign");
REGISTRY_FUNCTION_PY(floor, fn_unary_same, "floor(x)", "torch.floor");
REGISTRY_FUNCTION_PY(ceil, fn_unary_same, "ceil(x)", "torch.ceil");
REGISTRY_FUNCTION_PY(round, fn_unary_same, "round half to even", "torch.round");
REGISTRY_FUNCTION_PY(trunc, fn_unary_same, "trunc(x)", "torch.trunc");
REGISTRY_FUNCTION_PY(isnan, fn_unary_bool, "x is NaN", "torch.isnan");
REGISTRY_FUNCTION_PY(isinf, fn_unary_bool, "x is infinite", "torch.isinf");
REGISTRY_FUNCTION_PY(logical_not, fn_unary_bool, "not x, as bool", "torch.logical_not");
REGISTRY_FUNCTION_PY(minimum, fn_minmax, "elementwise min(a, b), with broadcasting",
                     "torch.minimum");
REGISTRY_FUNCTION_PY(maximum, fn_minmax, "elementwise max(a, b), with broadcasting",
                     "torch.maximum");
REGISTRY_FUNCTION_PY(logical_and, fn_logical, "a and b, as bool", "torch.logical_and");
REGISTRY_FUNCTION_PY(logical_or, fn_logical, "a or b, as bool", "torch.logical_or");
REGISTRY_FUNCTION_PY(logical_xor, fn_logical, "a xor b, as bool", "torch.logical_xor");
REGISTRY_FUNCTION_PY(and_, fn_bitwise, "a & b: bitwise, logical on bools", NULL);
REGISTRY_FUNCTION_PY(or_, fn_bitwise, "a | b: bitwise, logical on bools", NULL);
REGISTRY_FUNCTION_PY(xor, fn_bitwise, "a ^ b: bitwise, logical on bools", NULL);
REGISTRY_FUNCTION_PY(invert, fn_invert, "~a: bitwise, logical on bools", NULL);
REGISTRY_FUNCTION_PY(clamp, fn_clamp, "clamp(x, min=None, max=None)", NULL);
REGISTRY_FUNCTION_PY(clip, fn_clamp, "clip(x, min=None, max=None)", "torch.clip");
REGISTRY_FUNCTION_PY(clamp_min, fn_clamp, "clamp_min(x, min)", "torch.clamp_min");
REGISTRY_FUNCTION_PY(clamp_max, fn_clamp, "clamp_max(x, max)", "torch.clamp_max");
REGISTRY_FUNCTION_PY(where, fn_where, "where(condition, input, other)", "torch.where");
REGISTRY_FUNCTION_PY(masked_fill, fn_masked_fill, "masked_fill(x, mask, value)",
                     "torch.masked_fill");
REGISTRY_FUNCTION_PY(masked_fill_, fn_masked_fill, "x.masked_fill_(mask, value), in place", NULL);
REGISTRY_FUNCTION_PY(long, fn_long, "x.long(): int64", NULL);
REGISTRY_FUNCTION_PY(int, fn_int, "x.int(): int32", NULL);
REGISTRY_FUNCTION_PY(bool, fn_bool, "x.bool()", NULL);
REGISTRY_FUNCTION_PY(double, fn_double, "x.double(): float64", NULL);
REGISTRY_FUNCTION_PY(half, fn_half, "x.half(): float16", NULL);
REGISTRY_FUNCTION_PY(type, fn_type, "x.type(dtype)", NULL);

const struct op_def *const registry_elementwise_defs[] = {
    &fn_def_abs,
    &fn_def_sqrt,
    &fn_def_rsqrt,
    &fn_def_log,
    &fn_def_log1p,
    &fn_def_log2,
    &fn_def_expm1,
    &fn_def_sin,
    &fn_def_cos,
    &fn_def_erf,
    &fn_def_reciprocal,
    &fn_def_square,
    &fn_def_sign,
    &fn_def_floor,
    &fn_def_ceil,
    &fn_def_round,
    &fn_def_trunc,
    &fn_def_isnan,
    &fn_def_isinf,
    &fn_def_logical_not,
    &fn_def_minimum,
    &fn_def_maximum,
    &fn_def_logical_and,
    &fn_def_logical_or,
    &fn_def_logical_xor,
    &fn_def_where,
    &fn_def_masked_fill,
    &fn_def_masked_fill_,
    &fn_def_long,
    &fn_def_int,
    &fn_def_bool,
    &fn_def_double,
    &fn_def_half,
    &fn_def_type,
    &fn_def_and_,
    &fn_def_or_,
    &fn_def_xor,
    &fn_def_invert,
    &fn_def_clamp,
    &fn_def_clip,
    &fn_def_clamp_min,
    &fn_def_clamp_max,
    NULL,
};
