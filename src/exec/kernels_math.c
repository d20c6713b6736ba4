/* kernels_math.c - elementwise kernels on tensors of any dtype: unary math
 * (abs, sqrt, log, sin, floor, ...), comparisons, minimum and maximum,
 * clamp (bounds that are numbers or tensors),
 * logical operations, where and masked_fill; dtype casts (long, float,
 * to, type, ...); and the tensors made from sizes (arange, zeros, ones,
 * full, eye and their *_like and new_* forms). The arithmetic operators
 * come here when an operand is not float32 (kernels_act.c's bin_prepare
 * hands them over).
 *
 * Each element is read as a double from its operand's dtype, computed, and
 * stored in the output's dtype (floats rounded to float32, integers
 * truncated toward zero as PyTorch casts): integer and bool tensors keep
 * their dtype through comparisons and casts. Operands broadcast as in
 * PyTorch; a Python number is a broadcast scalar. These are not the hot
 * kernels of a model, so they walk the output with one odometer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "core/util.h"

/* ---- loading and storing any dtype ---- */

double kload(const void *p, enum dtype dt, int64_t i)
{
	switch (dt) {
	case DT_F32:
		return ((const float *)p)[i];
	case DT_F64:
		return ((const double *)p)[i];
	case DT_F16:
		return f16_to_f32(((const uint16_t *)p)[i]);
	case DT_BF16:
		return bf16_to_f32(((const uint16_t *)p)[i]);
	case DT_I64:
		return (double)((const int64_t *)p)[i];
	case DT_I32:
		return ((const int32_t *)p)[i];
	case DT_I16:
		return ((const int16_t *)p)[i];
	case DT_I8:
		return ((const int8_t *)p)[i];
	case DT_U8:
		return ((const uint8_t *)p)[i];
	case DT_BOOL:
		return ((const uint8_t *)p)[i] != 0;
	default:
		return 0;
	}
}

/* An integer from a double, saturating where C's conversion is undefined
 * (NaN gives 0). */
static int64_t to_int(double v)
{
	if (!(v == v))
		return 0;
	if (v >= 9.2233720368547758e18)
		return INT64_MAX;
	if (v <= -9.2233720368547758e18)
		return INT64_MIN;
	return (int64_t)v;
}

void kstore(void *p, enum dtype dt, int64_t i, double v)
{
	switch (dt) {
	case DT_F32:
		((float *)p)[i] = (float)v;
		return;
	case DT_F64:
		((double *)p)[i] = v;
		return;
	case DT_F16:
		((uint16_t *)p)[i] = f32_to_f16((float)v);
		return;
	case DT_BF16:
		((uint16_t *)p)[i] = f32_to_bf16((float)v);
		return;
	case DT_I64:
		((int64_t *)p)[i] = to_int(v);
		return;
	case DT_I32:
		((int32_t *)p)[i] = (int32_t)to_int(v);
		return;
	case DT_I16:
		((int16_t *)p)[i] = (int16_t)to_int(v);
		return;
	case DT_I8:
		((int8_t *)p)[i] = (int8_t)to_int(v);
		return;
	case DT_U8:
		((uint8_t *)p)[i] = (uint8_t)to_int(v);
		return;
	case DT_BOOL:
		((uint8_t *)p)[i] = v != 0;
		return;
	default:
		return;
	}
}

static void *out_data(struct tensor *t)
{
	return (char *)t->storage->data + t->offset;
}

/* ---- the elementwise engine ---- */

enum ew_op {
	EW_ABS,
	EW_SQRT,
	EW_RSQRT,
	EW_LOG,
	EW_LOG1P,
	EW_LOG2,
	EW_EXPM1,
	EW_SIN,
	EW_COS,
	EW_ERF,
	EW_RECIPROCAL,
	EW_SQUARE,
	EW_SIGN,
	EW_FLOOR,
	EW_CEIL,
	EW_ROUND,
	EW_TRUNC,
	EW_ISNAN,
	EW_ISINF,
	EW_NOT,
	EW_INVERT,
	EW_ADD, /* binary */
	EW_SUB,
	EW_MUL,
	EW_DIV,
	EW_FLOORDIV,
	EW_TRUNCDIV,
	EW_MOD,
	EW_POW,
	EW_MIN,
	EW_MAX,
	EW_AND,
	EW_OR,
	EW_XOR,
	EW_BITAND,
	EW_BITOR,
	EW_BITXOR,
	EW_EQ,
	EW_NE,
	EW_LT,
	EW_LE,
	EW_GT,
	EW_GE,
	EW_WHERE, /* ternary: a ? b : c */
	EW_CLAMP  /* min(max(a, b), c) */
};

/* Kernel names and the operation each computes. */
static const struct {
	const char *name;
	enum ew_op op;
} ew_names[] = {
    {"abs", EW_ABS},
    {"sqrt", EW_SQRT},
    {"rsqrt", EW_RSQRT},
    {"log", EW_LOG},
    {"log1p", EW_LOG1P},
    {"log2", EW_LOG2},
    {"expm1", EW_EXPM1},
    {"sin", EW_SIN},
    {"cos", EW_COS},
    {"erf", EW_ERF},
    {"reciprocal", EW_RECIPROCAL},
    {"square", EW_SQUARE},
    {"sign", EW_SIGN},
    {"floor", EW_FLOOR},
    {"ceil", EW_CEIL},
    {"round", EW_ROUND},
    {"trunc", EW_TRUNC},
    {"isnan", EW_ISNAN},
    {"isinf", EW_ISINF},
    {"logical_not", EW_NOT},
    {"minimum", EW_MIN},
    {"maximum", EW_MAX},
    {"max", EW_MAX},
    {"min", EW_MIN},
    {"logical_and", EW_AND},
    {"logical_or", EW_OR},
    {"logical_xor", EW_XOR},
    {"eq", EW_EQ},
    {"ne", EW_NE},
    {"lt", EW_LT},
    {"le", EW_LE},
    {"gt", EW_GT},
    {"ge", EW_GE},
    {"where", EW_WHERE},
    {"masked_fill", EW_WHERE},
    {"masked_fill_", EW_WHERE},
    {"add", EW_ADD},
    {"sub", EW_SUB},
    {"mul", EW_MUL},
    {"truediv", EW_DIV},
    {"div", EW_DIV},
    {"floordiv", EW_FLOORDIV},
    {"floor_divide", EW_FLOORDIV},
    {"mod", EW_MOD},
    {"pow", EW_POW},
    {"and_", EW_BITAND},
    {"or_", EW_BITOR},
    {"xor", EW_BITXOR},
    {"invert", EW_INVERT},
    {"clamp", EW_CLAMP},
    {"clip", EW_CLAMP},
    {"clamp_min", EW_CLAMP},
    {"clamp_max", EW_CLAMP},
};

#define EW_MAX_IN 3

struct ew_operand {
	const struct value *v; /* a tensor, or NULL for a number */
	double value;          /* the number */
	int64_t stride[SHAPE_MAX_DIMS];
};

struct ew_state {
	enum ew_op op;
	int nin;
	struct ew_operand in[EW_MAX_IN];
};

static double ew_compute(enum ew_op op, double a, double b, double c)
{
	switch (op) {
	case EW_ABS:
		return fabs(a);
	case EW_SQRT:
		return sqrtf((float)a);
	case EW_RSQRT:
		return 1 / sqrtf((float)a);
	case EW_LOG:
		return logf((float)a);
	case EW_LOG1P:
		return log1pf((float)a);
	case EW_LOG2:
		return log2f((float)a);
	case EW_EXPM1:
		return expm1f((float)a);
	case EW_SIN:
		return sinf((float)a);
	case EW_COS:
		return cosf((float)a);
	case EW_ERF:
		return erff((float)a);
	case EW_RECIPROCAL:
		return 1 / a;
	case EW_SQUARE:
		return a * a;
	case EW_SIGN:
		return (a > 0) - (a < 0);
	case EW_FLOOR:
		return floor(a);
	case EW_CEIL:
		return ceil(a);
	case EW_ROUND:
		return nearbyint(a);
	case EW_TRUNC:
		return trunc(a);
	case EW_ISNAN:
		return a != a;
	case EW_ISINF:
		return isinf(a) != 0;
	case EW_NOT:
		return a == 0;
	case EW_INVERT:
		return (double)~to_int(a);
	case EW_ADD:
		return a + b;
	case EW_SUB:
		return a - b;
	case EW_MUL:
		return a * b;
	case EW_DIV:
		return a / b;
	case EW_FLOORDIV:
		return floor(a / b);
	case EW_TRUNCDIV:
		return trunc(a / b);
	case EW_MOD: /* Python's sign: the divisor's */
		return a - floor(a / b) * b;
	case EW_POW:
		return pow(a, b);
	case EW_MIN: /* NaN propagates */
		return a != a || b != b ? NAN : a < b ? a : b;
	case EW_MAX:
		return a != a || b != b ? NAN : a > b ? a : b;
	case EW_AND:
		return a != 0 && b != 0;
	case EW_OR:
		return a != 0 || b != 0;
	case EW_XOR:
		return (a != 0) != (b != 0);
	case EW_BITAND:
		return (double)(to_int(a) & to_int(b));
	case EW_BITOR:
		return (double)(to_int(a) | to_int(b));
	case EW_BITXOR:
		return (double)(to_int(a) ^ to_int(b));
	case EW_EQ:
		return a == b;
	case EW_NE:
		return a != b;
	case EW_LT:
		return a < b;
	case EW_LE:
		return a <= b;
	case EW_GT:
		return a > b;
	case EW_GE:
		return a >= b;
	case EW_WHERE:
		return a != 0 ? b : c;
	case EW_CLAMP: /* min first, then max; NaN stays */
		return a != a ? a : fmin(fmax(a, b), c);
	}
	return 0;
}

/* The operands of op as written: (x), (a, b), (condition, a, b);
 * masked_fill(x, mask, value) is where(mask, value, x). */
static int ew_operands(const struct kop *op, enum ew_op kind, const struct value **v)
{
	const char *name = op->kernel->name;
	if (!strncmp(name, "masked_fill", 11)) {
		v[0] = op_arg(&op->call, 1, "mask");
		v[1] = op_arg(&op->call, 2, "value");
		v[2] = op_arg(&op->call, 0, "input");
		if (!v[2])
			v[2] = op_arg(&op->call, -1, "self");
		return 3;
	}
	if (kind == EW_CLAMP) { /* an absent bound is a NULL operand: no bound */
		bool max_only = !strcmp(op->kernel->name, "clamp_max");
		bool min_only = !strcmp(op->kernel->name, "clamp_min");
		v[0] = op_arg(&op->call, 0, "input");
		v[1] = max_only ? NULL : op_arg(&op->call, 1, "min");
		v[2] = min_only ? NULL : op_arg(&op->call, max_only ? 1 : 2, "max");
		return 3;
	}
	if (kind == EW_WHERE) {
		v[0] = op_arg(&op->call, 0, "condition");
		v[1] = op_arg(&op->call, 1, "input");
		v[2] = op_arg(&op->call, 2, "other");
		return 3;
	}
	v[0] = op_arg(&op->call, 0, "input");
	if (!v[0])
		v[0] = op_arg(&op->call, -1, "self");
	if (kind < EW_ADD) /* unary */
		return 1;
	v[1] = op_arg(&op->call, 1, "other");
	if (!v[1] && kind == EW_POW)
		v[1] = op_arg(&op->call, -1, "exponent");
	return 2;
}

static int ew_setup(struct kop *op, enum ew_op kind, struct error *e)
{
	struct ew_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->op = kind;
	const struct value *v[EW_MAX_IN] = {NULL};
	st->nin = ew_operands(op, kind, v);
	const struct shape *o = &kop_out(op, 0)->shape;
	for (int i = 0; i < st->nin; i++) {
		struct ew_operand *in = &st->in[i];
		if (v[i] && v[i]->kind == VAL_TENSOR) {
			in->v = v[i];
			int64_t own[SHAPE_MAX_DIMS];
			const struct shape *s = &v[i]->u.tensor.t.shape;
			kstrides(s, own);
			for (int d = 0; d < o->ndim; d++) {
				int k = s->ndim - o->ndim + d;
				in->stride[d] = k < 0 || s->dim[k] == 1 ? 0 : own[k];
			}
		} else if (v[i] && v[i]->kind == VAL_BOOL) {
			in->value = v[i]->u.b;
		} else if (kind == EW_CLAMP && (!v[i] || v[i]->kind == VAL_NONE)) {
			in->value = i == 1 ? -INFINITY : INFINITY;
		} else if (!v[i] || !value_number(v[i], &in->value)) {
			return error_set(e, "%s(): operand %d is not a tensor or a number",
			                 op->kernel->name, i + 1);
		}
	}
	return 0;
}

int kelem_prepare(struct kop *op, struct error *e)
{
	const struct value *alpha = op_arg(&op->call, -1, "alpha");
	double d;
	if (alpha && !(value_number(alpha, &d) && d == 1))
		return error_set(e, "%s(): alpha is not supported on integer tensors",
		                 op->kernel->name);
	const struct value *rm = op_arg(&op->call, -1, "rounding_mode");
	if (rm && rm->kind == VAL_STR)
		return ew_setup(op, !strcmp(rm->u.s, "floor") ? EW_FLOORDIV : EW_TRUNCDIV, e);
	if (!strcmp(op->kernel->name, "invert") && kop_out(op, 0)->dtype == DT_BOOL)
		return ew_setup(op, EW_NOT, e); /* ~mask */
	for (size_t i = 0; i < sizeof ew_names / sizeof *ew_names; i++)
		if (!strcmp(ew_names[i].name, op->kernel->name))
			return ew_setup(op, ew_names[i].op, e);
	return error_set(e, "%s(): no elementwise form", op->kernel->name);
}

int kelem_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct ew_state *st = op->state;
	struct tensor *y = kop_out(op, 0);
	const struct shape *o = &y->shape;
	const void *data[EW_MAX_IN] = {NULL};
	enum dtype dt[EW_MAX_IN] = {DT_F32};
	for (int i = 0; i < st->nin; i++)
		if (st->in[i].v) {
			data[i] = tensor_data(&st->in[i].v->u.tensor.t);
			dt[i] = st->in[i].v->u.tensor.t.dtype;
		}
	int64_t n = shape_numel(o), idx[SHAPE_MAX_DIMS] = {0}, off[EW_MAX_IN] = {0};
	void *out = out_data(y);
	for (int64_t k = 0; k < n; k++) {
		double x[EW_MAX_IN] = {0};
		for (int i = 0; i < st->nin; i++)
			x[i] = data[i] ? kload(data[i], dt[i], off[i]) : st->in[i].value;
		kstore(out, y->dtype, k, ew_compute(st->op, x[0], x[1], x[2]));
		for (int d = o->ndim - 1; d >= 0; d--) {
			for (int i = 0; i < st->nin; i++)
				off[i] += st->in[i].stride[d];
			if (++idx[d] < o->dim[d])
				break;
			for (int i = 0; i < st->nin; i++)
				off[i] -= st->in[i].stride[d] * o->dim[d];
			idx[d] = 0;
		}
	}
	return 0;
}

/* ---- casts ---- */

int kcast_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	int64_t n = shape_numel(&y->shape);
	const void *src = tensor_data(x);
	void *dst = out_data(y);
	for (int64_t i = 0; i < n; i++)
		kstore(dst, y->dtype, i, kload(src, x->dtype, i));
	return 0;
}

/* ---- tensors made from sizes ---- */

enum fill_kind { FILL_VALUE, FILL_ARANGE, FILL_EYE };

struct fill_state {
	enum fill_kind kind;
	double value, start, step;
};

static int fill_prepare(struct kop *op, struct error *e)
{
	struct fill_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const char *name = op->kernel->name;
	if (!strcmp(name, "arange")) {
		const struct value *start, *end, *step;
		op_arange_args(&op->call, &start, &end, &step);
		st->kind = FILL_ARANGE;
		st->step = 1;
		if ((start && !value_number(start, &st->start)) ||
		    (step && !value_number(step, &st->step)))
			return error_set(e, "arange(): start and step must be numbers");
		return 0;
	}
	if (!strcmp(name, "eye")) {
		st->kind = FILL_EYE;
		return 0;
	}
	if (strstr(name, "ones")) {
		st->value = 1;
	} else if (strstr(name, "full")) {
		/* full(size, v), full_like(x, v), x.new_full(size, v) */
		int pos = strncmp(name, "new_", 4) == 0 ? 2 : 1;
		const struct value *v = op_arg(&op->call, pos, "fill_value");
		if (v && v->kind == VAL_BOOL)
			st->value = v->u.b;
		else if (!v || !value_number(v, &st->value))
			return error_set(e, "%s(): fill_value must be a number", name);
	}
	return 0;
}

static int fill_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct fill_state *st = op->state;
	struct tensor *y = kop_out(op, 0);
	int64_t n = shape_numel(&y->shape);
	void *out = out_data(y);
	int64_t cols = y->shape.ndim == 2 ? y->shape.dim[1] : 1;
	for (int64_t i = 0; i < n; i++) {
		double v = st->kind == FILL_ARANGE ? st->start + (double)i * st->step
		           : st->kind == FILL_EYE  ? (i / cols == i % cols)
		                                   : st->value;
		kstore(out, y->dtype, i, v);
	}
	return 0;
}

#define EW(nm)                                                                                     \
	{                                                                                          \
		nm, OP_FUNCTION, KF_ANY_DTYPE, kelem_prepare, kelem_run                            \
	}
#define CAST(nm)                                                                                   \
	{                                                                                          \
		nm, OP_FUNCTION, KF_ALIAS | KF_CAST | KF_ANY_DTYPE, NULL, kcast_run                \
	}
#define FILL(nm)                                                                                   \
	{                                                                                          \
		nm, OP_FUNCTION, KF_ANY_DTYPE, fill_prepare, fill_run                              \
	}

const struct kernel kernels_math[] = {
    EW("abs"),          EW("sqrt"),         EW("rsqrt"),        EW("log"),
    EW("log1p"),        EW("log2"),         EW("expm1"),        EW("sin"),
    EW("cos"),          EW("erf"),          EW("reciprocal"),   EW("square"),
    EW("sign"),         EW("floor"),        EW("ceil"),         EW("round"),
    EW("trunc"),        EW("isnan"),        EW("isinf"),        EW("logical_not"),
    EW("minimum"),      EW("maximum"),      EW("logical_and"),  EW("logical_or"),
    EW("logical_xor"),  EW("eq"),           EW("ne"),           EW("lt"),
    EW("le"),           EW("gt"),           EW("ge"),           EW("where"),
    EW("masked_fill"),  EW("masked_fill_"), EW("mod"),          EW("and_"),
    EW("or_"),          EW("xor"),          EW("invert"),       EW("clamp"),
    EW("clip"),         EW("clamp_min"),    EW("clamp_max"),    CAST("long"),
    CAST("int"),        CAST("bool"),       CAST("double"),     CAST("half"),
    CAST("type"),       FILL("arange"),     FILL("zeros"),      FILL("ones"),
    FILL("empty"),      FILL("full"),       FILL("zeros_like"), FILL("ones_like"),
    FILL("empty_like"), FILL("full_like"),  FILL("new_zeros"),  FILL("new_ones"),
    FILL("new_empty"),  FILL("new_full"),   FILL("eye"),        {NULL, OP_MODULE, 0, NULL, NULL},
};
