/* registry_functions.c - the functions a forward graph may call.
 *
 * Names are those of the Python callables without their module
 * (operator.add, torch.add and Tensor.add are all `add`); a call_method node
 * calls the same entry with the tensor first. Every rule follows PyTorch's
 * semantics on shapes: broadcasting, negative dims, -1 in view/reshape,
 * basic indexing. Values may be tensors (dtype and shape only), ints,
 * floats, bools, tuples, slices, None and Ellipsis; ints compute like
 * Python's so that shape arithmetic (`h // p`) runs as ordinary nodes.
 *
 * Result dtypes: the first tensor operand's, except that a floating operand
 * wins over an integer one, true division gives float32 for integers and
 * comparisons give bool. MACs: matmul, bmm, einsum, linear, conv2d and
 * attention count their products (see registry_nn.c); everything else 0. */
#include "core/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- helpers ---- */

static const struct shape *tshape(const struct value *v)
{
	return &v->u.tensor.t.shape;
}

static enum dtype tdtype(const struct value *v)
{
	return v->u.tensor.t.dtype;
}

static bool is_tensor(const struct value *v)
{
	return v && v->kind == VAL_TENSOR;
}

static bool is_float_dtype(enum dtype t)
{
	return t == DT_F32 || t == DT_F16 || t == DT_BF16 || t == DT_F64;
}

static const char *shp(const struct shape *s, char *buf, size_t size)
{
	return shape_format(s, buf, size);
}

static int64_t mul_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (a < 0 || b < 0)
		return 0;
	if (__builtin_mul_overflow(a, b, &r))
		return INT64_MAX;
	return r;
}

/* numel of s, or -1 with a break when it overflows. */
static int64_t checked_numel(struct op_call *c, const struct shape *s)
{
	int64_t n = shape_numel(s);
	if (n < 0) {
		char sb[160];
		op_mismatch(c, "the result %s is too large", shp(s, sb, sizeof sb));
	}
	return n;
}

/* Sets c->out to a tensor like x (same dtype) with shape s, checking its
 * size. */
static int out_like(struct op_call *c, const struct value *x, const struct shape *s)
{
	if (checked_numel(c, s) < 0)
		return -1;
	op_out_tensor(c, tdtype(x), s, x);
	return 0;
}

static void set_out(struct op_call *c, struct value v)
{
	value_free(&c->out);
	c->out = v;
}

static const char *fname(const struct op_call *c)
{
	return c->def->name;
}

/* The first argument as a tensor ("input" or "self"). */
static const struct value *self_tensor(struct op_call *c)
{
	const struct value *x = op_arg(c, 0, "input");
	if (!x)
		x = op_arg(c, -1, "self");
	if (is_tensor(x))
		return x;
	return op_tensor(c, 0, "input");
}

static bool optional_bool(const struct op_call *c, int pos, const char *kw, bool def)
{
	const struct value *v = op_arg(c, pos, kw);
	if (v && v->kind == VAL_BOOL)
		return v->u.b;
	if (v && v->kind == VAL_INT)
		return v->u.i != 0;
	return def;
}

/* The optional number argument at pos/kw, or def. -1 when mistyped. */
static int optional_number(struct op_call *c, int pos, const char *kw, double def, double *out)
{
	const struct value *v = op_arg(c, pos, kw);
	*out = def;
	if (!v || v->kind == VAL_NONE)
		return 0;
	if (value_number(v, out))
		return 0;
	char got[128];
	value_format(v, got, sizeof got);
	return op_fail(c, "%s() needs a number for '%s', got %s", fname(c), kw, got);
}

/* Broadcasts a and b (PyTorch/NumPy rules) into out. -1 when they do not. */
static int broadcast(const struct shape *a, const struct shape *b, struct shape *out)
{
	int n = a->ndim > b->ndim ? a->ndim : b->ndim;
	out->ndim = n;
	for (int i = 0; i < n; i++) {
		int ia = a->ndim - n + i, ib = b->ndim - n + i;
		int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
		if (da != db && da != 1 && db != 1)
			return -1;
		out->dim[i] = da == 1 ? db : da;
	}
	return 0;
}

/* "from X and Y" for two tensors. */
static int broadcast_fail(struct op_call *c, const char *verb, const struct value *a,
                          const struct value *b)
{
	char sa[160], sb[160], oa[320], ob[320];
	origin_describe(a, oa, sizeof oa);
	origin_describe(b, ob, sizeof ob);
	return op_mismatch(c, "cannot %s %s with %s (from %s and %s)", verb,
	                   shp(tshape(a), sa, sizeof sa), shp(tshape(b), sb, sizeof sb), oa, ob);
}

/* A tuple of ints. */
static struct value int_tuple(const int64_t *x, int n)
{
	struct value v = value_list(n);
	for (int i = 0; i < n; i++)
		v.u.list.items[i] = value_int(x[i]);
	return v;
}

/* A list of tensors from the argument at pos (a tuple) or from the
 * positional arguments from pos on. Returns the count or -1. */
static int tensor_list(struct op_call *c, int pos, const char *kw, const struct value ***out)
{
	const struct value *v = op_arg(c, pos, kw);
	if (!v)
		return op_fail(c, "%s() needs a sequence of tensors", fname(c));
	int n;
	const struct value *items;
	if (v->kind == VAL_LIST) {
		n = v->u.list.n;
		items = v->u.list.items;
	} else {
		n = c->nargs - pos;
		items = &c->args[pos];
	}
	if (n < 1)
		return op_fail(c, "%s() needs at least one tensor", fname(c));
	const struct value **t = xcalloc((size_t)n, sizeof *t);
	for (int i = 0; i < n; i++) {
		if (items[i].kind != VAL_TENSOR) {
			char got[128];
			value_format(&items[i], got, sizeof got);
			free(t);
			return op_fail(c, "%s() needs tensors, got %s", fname(c), got);
		}
		t[i] = &items[i];
	}
	*out = t;
	return n;
}

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

static int64_t as_int(const struct value *v)
{
	return v->kind == VAL_BOOL ? (int64_t)v->u.b : v->u.i;
}

static double as_float(const struct value *v)
{
	return v->kind == VAL_FLOAT ? v->u.f : (double)as_int(v);
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
			int64_t i = as_int(a), j = as_int(b);
			cmp = (i > j) - (i < j);
		} else {
			double x = as_float(a), y = as_float(b);
			cmp = (x > y) - (x < y);
			if (x != x || y != y) /* NaN: only != holds */
				cmp = 2;
		}
		set_out(c, value_bool(compare_holds(op, cmp)));
		return 0;
	}
	if (ints && op != B_DIV) {
		int64_t x = as_int(a), y = as_int(b), r = 0;
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
				set_out(c, value_float(pow((double)x, (double)y)));
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
			return op_mismatch(c, "integer overflow in %s()", fname(c));
		set_out(c, value_int(r));
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
	set_out(c, value_float(r));
	return 0;
}

static int binary_tensor(struct op_call *c, enum binop op, const struct value *a,
                         const struct value *b)
{
	const struct value *t = is_tensor(a) ? a : b, *other = t == a ? b : a;
	if (!is_tensor(other) && !is_number(other)) {
		char got[128];
		value_format(other, got, sizeof got);
		return op_fail(c, "%s() cannot combine a tensor with %s", fname(c), got);
	}
	struct shape s;
	enum dtype dt = tdtype(t);
	const struct value *keep = t;
	if (is_tensor(other)) {
		if (broadcast(tshape(a), tshape(b), &s) < 0)
			return broadcast_fail(c, "broadcast", a, b);
		if (!is_float_dtype(tdtype(a)) && is_float_dtype(tdtype(b)))
			dt = tdtype(b);
		else
			dt = tdtype(a);
		keep = shape_equal(&s, tshape(a)) ? a : shape_equal(&s, tshape(b)) ? b : a;
	} else {
		s = *tshape(t);
		if (other->kind == VAL_FLOAT && !is_float_dtype(dt))
			dt = DT_F32;
	}
	if (op == B_DIV && !is_float_dtype(dt))
		dt = DT_F32;
	if (is_compare(op))
		dt = DT_BOOL;
	if (checked_numel(c, &s) < 0)
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
		return op_fail(c, "%s() needs two operands", fname(c));
	if (is_tensor(a) || is_tensor(b))
		return binary_tensor(c, op, a, b);
	if (is_number(a) && is_number(b))
		return binary_number(c, op, a, b);
	if (op == B_ADD && a->kind == VAL_LIST && b->kind == VAL_LIST) {
		struct value r = value_list(a->u.list.n + b->u.list.n);
		for (int i = 0; i < a->u.list.n; i++)
			r.u.list.items[i] = value_copy(&a->u.list.items[i]);
		for (int i = 0; i < b->u.list.n; i++)
			r.u.list.items[a->u.list.n + i] = value_copy(&b->u.list.items[i]);
		set_out(c, r);
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
		set_out(c, r);
		return 0;
	}
	if (op == B_EQ || op == B_NE) {
		bool eq = value_equal(a, b);
		set_out(c, value_bool(op == B_EQ ? eq : !eq));
		return 0;
	}
	char ga[128], gb[128];
	value_format(a, ga, sizeof ga);
	value_format(b, gb, sizeof gb);
	return op_fail(c, "%s() does not apply to %s and %s", fname(c), ga, gb);
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
	if (a && is_tensor(a)) {
		op_out_tensor(c, tdtype(a), tshape(a), a);
		return 0;
	}
	if (a && (a->kind == VAL_INT || a->kind == VAL_BOOL)) {
		if (as_int(a) == INT64_MIN)
			return op_mismatch(c, "integer overflow in neg()");
		set_out(c, value_int(-as_int(a)));
		return 0;
	}
	if (a && a->kind == VAL_FLOAT) {
		set_out(c, value_float(-a->u.f));
		return 0;
	}
	return op_fail(c, "neg() needs a number or a tensor");
}

/* Python's `not` and truth of a plain value. */
static int fn_not(struct op_call *c)
{
	const struct value *a = op_arg(c, 0, NULL);
	if (!a || is_tensor(a))
		return op_fail(c, "not_() needs a plain value");
	double f = 0;
	bool truth = a->kind == VAL_BOOL   ? a->u.b
	             : value_number(a, &f) ? f != 0
	             : a->kind == VAL_LIST ? a->u.list.n > 0
	                                   : a->kind != VAL_NONE;
	set_out(c, value_bool(!truth));
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
	set_out(c, value_none());
	return 0;
}

/* ---- products ---- */

static int fn_matmul(struct op_call *c)
{
	const struct value *a = self_tensor(c);
	const struct value *b = a ? op_tensor(c, 1, "other") : NULL;
	if (!b)
		return -1;
	const struct shape *as = tshape(a), *bs = tshape(b);
	if (as->ndim == 0 || bs->ndim == 0)
		return op_mismatch(c, "matmul() needs tensors of at least 1 dimension");
	/* Treat 1-D operands as [1, k] and [k, 1], dropped from the result. */
	struct shape sa = *as, sb = *bs;
	if (sa.ndim == 1) {
		sa.ndim = 2;
		sa.dim[1] = sa.dim[0];
		sa.dim[0] = 1;
	}
	if (sb.ndim == 1) {
		sb.ndim = 2;
		sb.dim[1] = 1;
	}
	int64_t n = sa.dim[sa.ndim - 2], k = sa.dim[sa.ndim - 1], m = sb.dim[sb.ndim - 1];
	if (sb.dim[sb.ndim - 2] != k)
		return broadcast_fail(c, "multiply", a, b);
	struct shape ba = sa, bb = sb, bo;
	ba.ndim -= 2;
	bb.ndim -= 2;
	if (broadcast(&ba, &bb, &bo) < 0)
		return broadcast_fail(c, "multiply", a, b);
	struct shape os = bo;
	if (as->ndim > 1)
		os.dim[os.ndim++] = n;
	if (bs->ndim > 1)
		os.dim[os.ndim++] = m;
	if (os.ndim > SHAPE_MAX_DIMS)
		return op_mismatch(c, "matmul() result has too many dimensions");
	int64_t numel = checked_numel(c, &os);
	if (numel < 0)
		return -1;
	op_out_tensor(c, tdtype(a), &os, NULL);
	c->macs = mul_sat(numel, k);
	return 0;
}

static int fn_bmm(struct op_call *c)
{
	const struct value *a = self_tensor(c);
	const struct value *b = a ? op_tensor(c, 1, "mat2") : NULL;
	if (!b)
		return -1;
	const struct shape *as = tshape(a), *bs = tshape(b);
	if (as->ndim != 3 || bs->ndim != 3 || as->dim[0] != bs->dim[0] || as->dim[2] != bs->dim[1])
		return broadcast_fail(c, "batch-multiply", a, b);
	int64_t d[3] = {as->dim[0], as->dim[1], bs->dim[2]};
	struct shape os = {.ndim = 3, .dim = {d[0], d[1], d[2]}};
	int64_t numel = checked_numel(c, &os);
	if (numel < 0)
		return -1;
	op_out_tensor(c, tdtype(a), &os, NULL);
	c->macs = mul_sat(numel, as->dim[2]);
	return 0;
}

/* einsum("B G H I D, B G H J D -> B G H I J", q, k): labels are letters,
 * spaces are ignored, "..." broadcasts. */
static int label_index(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return 26 + ch - 'a';
	return -1;
}

struct einsum_term {
	int labels[SHAPE_MAX_DIMS + 1];
	int n;        /* labels, ellipsis excluded */
	int ellipsis; /* index in labels where "..." sits, or -1 */
};

/* Parses one subscript term up to ',' or '-' or the end. */
static int einsum_term(const char **p, struct einsum_term *t)
{
	t->n = 0;
	t->ellipsis = -1;
	for (const char *s = *p;; s++) {
		if (*s == ' ')
			continue;
		if (*s == '.') {
			if (strncmp(s, "...", 3) != 0 || t->ellipsis >= 0)
				return -1;
			t->ellipsis = t->n;
			s += 2;
			continue;
		}
		int l = label_index(*s);
		if (l < 0) {
			*p = s;
			return 0;
		}
		if (t->n >= SHAPE_MAX_DIMS)
			return -1;
		t->labels[t->n++] = l;
	}
}

static int fn_einsum(struct op_call *c)
{
	const struct value *eqv = op_arg(c, 0, "equation");
	if (!eqv || eqv->kind != VAL_STR)
		return op_fail(c, "einsum() needs an equation string");
	const struct value **ops = NULL;
	int nops = tensor_list(c, 1, "operands", &ops);
	if (nops < 0)
		return -1;
	struct einsum_term terms[8], outt;
	const char *p = eqv->u.s;
	int nterms = 0, rc = -1;
	for (;;) {
		if (nterms == 8 || einsum_term(&p, &terms[nterms]) < 0)
			goto bad;
		nterms++;
		if (*p != ',')
			break;
		p++;
	}
	bool explicit_out = strncmp(p, "->", 2) == 0;
	if (explicit_out) {
		p += 2;
		if (einsum_term(&p, &outt) < 0)
			goto bad;
	}
	if (*p != '\0' || nterms != nops)
		goto bad;
	int64_t size[52];
	int count[52] = {0};
	for (int i = 0; i < 52; i++)
		size[i] = -1;
	struct shape ell = {.ndim = 0};
	bool has_ell = false;
	for (int i = 0; i < nops; i++) {
		const struct shape *s = tshape(ops[i]);
		struct einsum_term *t = &terms[i];
		int ne = s->ndim - t->n;
		if (ne < 0 || (ne > 0 && t->ellipsis < 0)) {
			char sb[160];
			op_mismatch(c, "einsum(): operand %d %s does not fit its subscripts", i + 1,
			            shp(s, sb, sizeof sb));
			goto out;
		}
		int d = 0;
		for (int j = 0; j <= t->n; j++) {
			if (j == t->ellipsis) {
				struct shape e = {.ndim = ne}, b;
				for (int q = 0; q < ne; q++)
					e.dim[q] = s->dim[d + q];
				if (broadcast(&ell, &e, &b) < 0) {
					op_mismatch(c, "einsum(): operands do not broadcast");
					goto out;
				}
				ell = b;
				has_ell = true;
				d += ne;
			}
			if (j == t->n)
				break;
			int l = t->labels[j];
			int64_t sz = s->dim[d++];
			count[l]++;
			if (size[l] < 0 || size[l] == 1)
				size[l] = sz;
			else if (sz != size[l] && sz != 1) {
				op_mismatch(c,
				            "einsum(): subscript %c has size %lld in operand %d, "
				            "but %lld before",
				            l < 26 ? 'A' + l : 'a' + l - 26, (long long)sz, i + 1,
				            (long long)size[l]);
				goto out;
			}
		}
	}
	if (!explicit_out) {
		outt.n = 0;
		outt.ellipsis = has_ell ? 0 : -1;
		for (int l = 0; l < 52; l++)
			if (count[l] == 1)
				outt.labels[outt.n++] = l;
	}
	bool in_out[52] = {false};
	for (int j = 0; j < outt.n; j++) {
		if (in_out[outt.labels[j]])
			goto bad;
		in_out[outt.labels[j]] = true;
	}
	struct shape os = {.ndim = 0};
	for (int j = 0; j <= outt.n; j++) {
		if (j == outt.ellipsis)
			for (int q = 0; q < ell.ndim && os.ndim < SHAPE_MAX_DIMS; q++)
				os.dim[os.ndim++] = ell.dim[q];
		if (j == outt.n)
			break;
		int l = outt.labels[j];
		if (size[l] < 0 || os.ndim >= SHAPE_MAX_DIMS)
			goto bad;
		os.dim[os.ndim++] = size[l];
	}
	if (checked_numel(c, &os) < 0)
		goto out;
	int64_t macs = 0;
	if (nops > 1) {
		/* The naive loop count: every label's size, contracted or not. */
		macs = 1;
		for (int l = 0; l < 52; l++)
			if (size[l] >= 0)
				macs = mul_sat(macs, size[l]);
		for (int q = 0; q < ell.ndim; q++)
			macs = mul_sat(macs, ell.dim[q]);
	}
	op_out_tensor(c, tdtype(ops[0]), &os, nops == 1 ? ops[0] : NULL);
	c->macs = macs;
	rc = 0;
	goto out;
bad:
	op_fail(c, "einsum(): cannot use equation '%s' with %d operand%s", eqv->u.s, nops,
	        nops == 1 ? "" : "s");
out:
	free(ops);
	return rc;
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

static int getitem_list(struct op_call *c, const struct value *l, const struct value *idx)
{
	int64_t n = l->u.list.n;
	if (idx->kind == VAL_INT || idx->kind == VAL_BOOL) {
		int64_t i = as_int(idx);
		if (i < -n || i >= n)
			return op_mismatch(c, "tuple index %lld out of range for %lld items",
			                   (long long)i, (long long)n);
		set_out(c, value_copy(&l->u.list.items[i < 0 ? i + n : i]));
		return 0;
	}
	if (idx->kind == VAL_SLICE) {
		int64_t start, step, count;
		if (slice_indices(idx, n, &start, &step, &count) < 0)
			return op_fail(c, "slice step cannot be zero");
		struct value r = value_list((int)count);
		for (int64_t i = 0; i < count; i++)
			r.u.list.items[i] = value_copy(&l->u.list.items[start + i * step]);
		set_out(c, r);
		return 0;
	}
	char got[128];
	value_format(idx, got, sizeof got);
	return op_fail(c, "tuple indices must be ints or slices, got %s", got);
}

/* Basic indexing (ints, slices, None, ...) and integer-tensor indexing. */
static int getitem_tensor(struct op_call *c, const struct value *x, const struct value *idx)
{
	const struct shape *xs = tshape(x);
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
			if (tdtype(&items[i]) == DT_BOOL || tdtype(&items[i]) == DT_U8)
				return op_fail(c, "boolean mask indexing has no static shape");
			if (is_float_dtype(tdtype(&items[i])))
				return op_fail(c,
				               "tensors used as indices must be integer tensors");
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
			struct shape b;
			if (broadcast(&adv, tshape(it), &b) < 0)
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
	return out_like(c, x, &os);
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
	if (is_tensor(obj)) {
		if (strcmp(name->u.s, "shape") == 0) {
			set_out(c, shape_tuple(tshape(obj)));
			return 0;
		}
		if (strcmp(name->u.s, "ndim") == 0) {
			set_out(c, value_int(tshape(obj)->ndim));
			return 0;
		}
		if (strcmp(name->u.s, "dtype") == 0) {
			struct value v = {.kind = VAL_DTYPE};
			v.u.dtype = tdtype(obj);
			set_out(c, v);
			return 0;
		}
	}
	const struct value *def = op_arg(c, 2, NULL);
	if (def) {
		set_out(c, value_copy(def));
		return 0;
	}
	return op_fail(c, "getattr(): no attribute '%s' in the shape pass", name->u.s);
}

/* x.size() -> tuple; x.size(dim) -> int */
static int fn_size(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	const struct value *d = op_arg(c, 1, "dim");
	if (!d || d->kind == VAL_NONE) {
		set_out(c, shape_tuple(tshape(x)));
		return 0;
	}
	int dim;
	if (d->kind != VAL_INT)
		return op_fail(c, "size() needs an int dim");
	if (tshape(x)->ndim == 0)
		return op_mismatch(c, "dimension specified as %lld but tensor has no dimensions",
		                   (long long)d->u.i);
	if (op_dim(c, d->u.i, tshape(x)->ndim, &dim) < 0)
		return -1;
	set_out(c, value_int(tshape(x)->ndim ? tshape(x)->dim[dim] : 1));
	return 0;
}

static int fn_dim(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	set_out(c, value_int(tshape(x)->ndim));
	return 0;
}

static int fn_numel(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	set_out(c, value_int(shape_numel(tshape(x))));
	return 0;
}

/* ---- joining and splitting ---- */

static int join(struct op_call *c, bool stack)
{
	const struct value **t = NULL;
	int n = tensor_list(c, 0, "tensors", &t);
	if (n < 0)
		return -1;
	int64_t d;
	int dim, rc = -1;
	const struct shape *s0 = tshape(t[0]);
	if (op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, s0->ndim + (stack ? 1 : 0), &dim) < 0)
		goto out;
	if (!stack && s0->ndim == 0) {
		op_mismatch(c, "zero-dimensional tensors cannot be concatenated");
		goto out;
	}
	struct shape os = *s0;
	for (int i = 1; i < n; i++) {
		const struct shape *s = tshape(t[i]);
		bool ok = s->ndim == s0->ndim;
		for (int k = 0; ok && k < s->ndim; k++)
			ok = s->dim[k] == s0->dim[k] || (!stack && k == dim);
		if (!ok) {
			char sa[160], sb[160], oa[320], ob[320];
			origin_describe(t[0], oa, sizeof oa);
			origin_describe(t[i], ob, sizeof ob);
			op_mismatch(c, "cannot %s %s with %s along dim %d (from %s and %s)",
			            stack ? "stack" : "concatenate", shp(s0, sa, sizeof sa),
			            shp(s, sb, sizeof sb), dim, oa, ob);
			goto out;
		}
		if (!stack && __builtin_add_overflow(os.dim[dim], s->dim[dim], &os.dim[dim])) {
			op_mismatch(c, "cat() result too large");
			goto out;
		}
	}
	if (stack) {
		if (os.ndim >= SHAPE_MAX_DIMS) {
			op_mismatch(c, "stack() gives too many dimensions");
			goto out;
		}
		memmove(&os.dim[dim + 1], &os.dim[dim], (size_t)(os.ndim - dim) * sizeof *os.dim);
		os.dim[dim] = n;
		os.ndim++;
	}
	if (checked_numel(c, &os) < 0)
		goto out;
	op_out_tensor(c, tdtype(t[0]), &os, n == 1 ? t[0] : NULL);
	rc = 0;
out:
	free(t);
	return rc;
}

static int fn_cat(struct op_call *c)
{
	return join(c, false);
}
static int fn_stack(struct op_call *c)
{
	return join(c, true);
}

/* Splits dim `dim` of x into pieces of the given sizes; c->out is a tuple. */
static int split_into(struct op_call *c, const struct value *x, int dim, const int64_t *sizes,
                      int n)
{
	struct value r = value_list(n);
	for (int i = 0; i < n; i++) {
		struct shape s = *tshape(x);
		s.dim[dim] = sizes[i];
		c->out = value_none();
		op_out_tensor(c, tdtype(x), &s, x);
		r.u.list.items[i] = c->out;
	}
	c->out = r;
	return 0;
}

#define MAX_PIECES 4096

static int fn_chunk(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t chunks, d;
	int dim;
	if (!x || op_int(c, 1, "chunks", -1, &chunks) < 0 || op_int(c, 2, "dim", 0, &d) < 0 ||
	    op_dim(c, d, tshape(x)->ndim, &dim) < 0)
		return -1;
	if (chunks <= 0)
		return op_fail(c, "chunk expects `chunks` to be greater than 0, got: %lld",
		               (long long)chunks);
	if (tshape(x)->ndim == 0)
		return op_mismatch(c, "chunk expects at least a 1-dimensional tensor");
	int64_t size = tshape(x)->dim[dim];
	int64_t piece = (size + chunks - 1) / chunks;
	int64_t n = piece ? (size + piece - 1) / piece : chunks;
	if (n > MAX_PIECES)
		return op_mismatch(c, "chunk() gives too many pieces");
	int64_t *sizes = xcalloc((size_t)n, sizeof *sizes);
	for (int64_t i = 0; i < n; i++)
		sizes[i] = piece ? (i < n - 1 ? piece : size - piece * (n - 1)) : 0;
	int rc = split_into(c, x, dim, sizes, (int)n);
	free(sizes);
	return rc;
}

static int fn_split(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	const struct value *how = op_arg(c, 1, "split_size_or_sections");
	if (!how)
		how = op_arg(c, -1, "split_size");
	int64_t d;
	int dim;
	if (op_int(c, 2, "dim", 0, &d) < 0 || op_dim(c, d, tshape(x)->ndim, &dim) < 0)
		return -1;
	if (tshape(x)->ndim == 0)
		return op_mismatch(c, "split expects at least a 1-dimensional tensor");
	int64_t size = tshape(x)->dim[dim];
	if (how && how->kind == VAL_INT) {
		int64_t piece = how->u.i;
		if (piece < 0 || (piece == 0 && size != 0))
			return op_fail(c,
			               "split_size can only be 0 if dimension size is 0, but got "
			               "dimension size of %lld",
			               (long long)size);
		int64_t n = piece ? (size + piece - 1) / piece : 1;
		if (n < 1)
			n = 1;
		if (n > MAX_PIECES)
			return op_mismatch(c, "split() gives too many pieces");
		int64_t *sizes = xcalloc((size_t)n, sizeof *sizes);
		for (int64_t i = 0; i < n; i++)
			sizes[i] = i < n - 1 ? piece : size - piece * (n - 1);
		int rc = split_into(c, x, dim, sizes, (int)n);
		free(sizes);
		return rc;
	}
	if (how && how->kind == VAL_LIST && how->u.list.n > 0 && how->u.list.n <= MAX_PIECES) {
		int n = how->u.list.n;
		int64_t *sizes = xcalloc((size_t)n, sizeof *sizes), sum = 0;
		bool ok = true;
		for (int i = 0; i < n && ok; i++) {
			ok = how->u.list.items[i].kind == VAL_INT && how->u.list.items[i].u.i >= 0;
			sizes[i] = ok ? how->u.list.items[i].u.i : 0;
			ok = ok && !__builtin_add_overflow(sum, sizes[i], &sum);
		}
		int rc;
		if (!ok) {
			rc = op_fail(c, "split() sizes must be non-negative ints");
		} else if (sum != size) {
			char got[256];
			value_format(how, got, sizeof got);
			rc = op_mismatch(c,
			                 "split_with_sizes expects split_sizes to sum exactly to "
			                 "%lld (input tensor's size at dimension %d), but got "
			                 "split_sizes=%s",
			                 (long long)size, dim, got);
		} else {
			rc = split_into(c, x, dim, sizes, n);
		}
		free(sizes);
		return rc;
	}
	return op_fail(c, "split() needs an int or a list of ints");
}

static int fn_unbind(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t d;
	int dim;
	if (!x || op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, tshape(x)->ndim, &dim) < 0)
		return -1;
	if (tshape(x)->ndim == 0)
		return op_mismatch(c, "unbind() needs at least a 1-dimensional tensor");
	int64_t n = tshape(x)->dim[dim];
	if (n > MAX_PIECES)
		return op_mismatch(c, "unbind() gives too many pieces");
	struct shape s = *tshape(x);
	memmove(&s.dim[dim], &s.dim[dim + 1], (size_t)(s.ndim - dim - 1) * sizeof *s.dim);
	s.ndim--;
	struct value r = value_list((int)n);
	for (int64_t i = 0; i < n; i++) {
		c->out = value_none();
		op_out_tensor(c, tdtype(x), &s, x);
		r.u.list.items[i] = c->out;
	}
	c->out = r;
	return 0;
}

/* ---- layout ---- */

static int fn_flatten(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t s, e;
	if (!x || op_int(c, 1, "start_dim", 0, &s) < 0 || op_int(c, 2, "end_dim", -1, &e) < 0)
		return -1;
	const struct shape *xs = tshape(x);
	int a, b;
	if (op_dim(c, s, xs->ndim, &a) < 0 || op_dim(c, e, xs->ndim, &b) < 0)
		return -1;
	if (a > b)
		return op_fail(c,
		               "flatten() has invalid args: start_dim cannot come after end_dim");
	struct shape os = {.ndim = 0};
	if (xs->ndim == 0) {
		os.ndim = 1;
		os.dim[0] = 1;
		return out_like(c, x, &os);
	}
	for (int i = 0; i < a; i++)
		os.dim[os.ndim++] = xs->dim[i];
	int64_t prod = 1;
	for (int i = a; i <= b; i++)
		if (__builtin_mul_overflow(prod, xs->dim[i], &prod))
			return op_mismatch(c, "flatten() result too large");
	os.dim[os.ndim++] = prod;
	for (int i = b + 1; i < xs->ndim; i++)
		os.dim[os.ndim++] = xs->dim[i];
	return out_like(c, x, &os);
}

/* view/reshape with one -1 inferred. */
static int fn_reshape(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	const char *kw = strcmp(fname(c), "view") == 0 ? "size" : "shape";
	const struct value *a = op_arg(c, 1, kw);
	if (a && a->kind == VAL_DTYPE)
		return op_fail(c, "view(dtype) is not supported in the shape pass");
	int64_t d[SHAPE_MAX_DIMS];
	int n = op_int_list(c, 1, kw, true, d, SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	int64_t numel = shape_numel(tshape(x)), known = 1;
	int infer = -1;
	for (int i = 0; i < n; i++) {
		if (d[i] == -1) {
			if (infer >= 0)
				return op_fail(c, "only one dimension can be inferred");
			infer = i;
		} else if (d[i] < 0) {
			return op_fail(c, "invalid shape dimension %lld", (long long)d[i]);
		} else if (__builtin_mul_overflow(known, d[i], &known)) {
			known = -1;
			break;
		}
	}
	bool ok = known >= 0;
	if (ok && infer >= 0) {
		ok = known > 0 && numel % known == 0;
		if (ok)
			d[infer] = numel / known;
	} else if (ok) {
		ok = known == numel;
	}
	if (!ok) {
		char want[256], sb[160], o[320];
		want[0] = '[';
		want[1] = '\0';
		for (int i = 0; i < n; i++)
			snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld",
			         i ? ", " : "", (long long)d[i]);
		snprintf(want + strlen(want), sizeof want - strlen(want), "]");
		origin_describe(x, o, sizeof o);
		return op_mismatch(c, "shape '%s' is invalid for input of size %lld (%s from %s)",
		                   want, (long long)numel, shp(tshape(x), sb, sizeof sb), o);
	}
	struct shape os = {.ndim = n};
	memcpy(os.dim, d, (size_t)n * sizeof *d);
	return out_like(c, x, &os);
}

/* Reads a permutation of ndim dims from the arguments at 1. */
static int read_perm(struct op_call *c, int ndim, int *perm)
{
	int64_t d[SHAPE_MAX_DIMS];
	int n = op_int_list(c, 1, "dims", true, d, SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	if (n != ndim)
		return op_mismatch(c,
		                   "permute(): number of dims don't match (the input has %d, got "
		                   "%d)",
		                   ndim, n);
	bool seen[SHAPE_MAX_DIMS] = {false};
	for (int i = 0; i < n; i++) {
		if (op_dim(c, d[i], ndim, &perm[i]) < 0)
			return -1;
		if (seen[perm[i]])
			return op_fail(c, "permute(): repeated dim %lld", (long long)d[i]);
		seen[perm[i]] = true;
	}
	return 0;
}

static int fn_permute(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int perm[SHAPE_MAX_DIMS];
	if (!x || read_perm(c, tshape(x)->ndim, perm) < 0)
		return -1;
	struct shape os = *tshape(x);
	for (int i = 0; i < os.ndim; i++)
		os.dim[i] = tshape(x)->dim[perm[i]];
	return out_like(c, x, &os);
}

static int fn_transpose(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t d0, d1;
	int a, b;
	if (!x)
		return -1;
	const char *k0 = strcmp(fname(c), "swapaxes") == 0 ? "axis0" : "dim0";
	const char *k1 = strcmp(fname(c), "swapaxes") == 0 ? "axis1" : "dim1";
	if (!op_arg(c, 1, k0) || !op_arg(c, 2, k1))
		return op_fail(c, "%s() needs two dims", fname(c));
	if (op_int(c, 1, k0, 0, &d0) < 0 || op_int(c, 2, k1, 0, &d1) < 0 ||
	    op_dim(c, d0, tshape(x)->ndim, &a) < 0 || op_dim(c, d1, tshape(x)->ndim, &b) < 0)
		return -1;
	struct shape os = *tshape(x);
	if (os.ndim > 0) {
		os.dim[a] = tshape(x)->dim[b];
		os.dim[b] = tshape(x)->dim[a];
	}
	return out_like(c, x, &os);
}

static int fn_unsqueeze(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t d;
	int dim;
	if (!x || !op_arg(c, 1, "dim"))
		return x ? op_fail(c, "unsqueeze() needs a dim") : -1;
	if (op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, tshape(x)->ndim + 1, &dim) < 0)
		return -1;
	struct shape os = *tshape(x);
	if (os.ndim >= SHAPE_MAX_DIMS)
		return op_mismatch(c, "unsqueeze() gives too many dimensions");
	memmove(&os.dim[dim + 1], &os.dim[dim], (size_t)(os.ndim - dim) * sizeof *os.dim);
	os.dim[dim] = 1;
	os.ndim++;
	return out_like(c, x, &os);
}

static int fn_squeeze(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	const struct shape *xs = tshape(x);
	bool drop[SHAPE_MAX_DIMS] = {false};
	const struct value *dv = op_arg(c, 1, "dim");
	if (!dv || dv->kind == VAL_NONE) {
		for (int i = 0; i < xs->ndim; i++)
			drop[i] = xs->dim[i] == 1;
	} else {
		int64_t d[SHAPE_MAX_DIMS];
		int n = op_int_list(c, 1, "dim", false, d, SHAPE_MAX_DIMS);
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			int k;
			if (op_dim(c, d[i], xs->ndim, &k) < 0)
				return -1;
			drop[k] = xs->ndim > 0 && xs->dim[k] == 1;
		}
	}
	struct shape os = {.ndim = 0};
	for (int i = 0; i < xs->ndim; i++)
		if (!drop[i])
			os.dim[os.ndim++] = xs->dim[i];
	return out_like(c, x, &os);
}

static int fn_expand(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	int64_t d[SHAPE_MAX_DIMS];
	int n;
	const struct value *other =
	    strcmp(fname(c), "expand_as") == 0 ? op_tensor(c, 1, "other") : NULL;
	if (strcmp(fname(c), "expand_as") == 0) {
		if (!other)
			return -1;
		n = tshape(other)->ndim;
		memcpy(d, tshape(other)->dim, (size_t)n * sizeof *d);
	} else {
		n = op_int_list(c, 1, "size", true, d, SHAPE_MAX_DIMS);
		if (n < 0)
			return -1;
	}
	const struct shape *xs = tshape(x);
	char sa[160], sb[160];
	struct shape want = {.ndim = n};
	memcpy(want.dim, d, (size_t)n * sizeof *d);
	if (n < xs->ndim)
		return op_mismatch(c,
		                   "expand(): the number of sizes provided (%d) must be greater or "
		                   "equal to the number of dimensions in the tensor (%d)",
		                   n, xs->ndim);
	struct shape os = {.ndim = n};
	for (int i = 0; i < n; i++) {
		int k = i - (n - xs->ndim);
		if (k < 0) {
			if (d[i] < 0)
				return op_fail(c, "expand(): -1 is not allowed in a leading, "
				                  "non-existing dimension");
			os.dim[i] = d[i];
		} else if (d[i] == -1 || d[i] == xs->dim[k]) {
			os.dim[i] = xs->dim[k];
		} else if (xs->dim[k] == 1 && d[i] >= 0) {
			os.dim[i] = d[i];
		} else {
			return op_mismatch(c,
			                   "the expanded size of the tensor (%lld) must match the "
			                   "existing size (%lld) at non-singleton dimension %d: "
			                   "target sizes %s, tensor sizes %s",
			                   (long long)d[i], (long long)xs->dim[k], i,
			                   shp(&want, sa, sizeof sa), shp(xs, sb, sizeof sb));
		}
	}
	return out_like(c, x, &os);
}

/* Reduces over dims (None: all) with keepdim. */
static int fn_reduce(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	const struct shape *xs = tshape(x);
	bool red[SHAPE_MAX_DIMS] = {false};
	const struct value *dv = op_arg(c, 1, "dim");
	bool all = !dv || dv->kind == VAL_NONE || (dv->kind == VAL_LIST && dv->u.list.n == 0);
	if (all) {
		for (int i = 0; i < xs->ndim; i++)
			red[i] = true;
	} else {
		int64_t d[SHAPE_MAX_DIMS];
		int n = op_int_list(c, 1, "dim", false, d, SHAPE_MAX_DIMS);
		if (n < 0)
			return -1;
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
	bool keep = optional_bool(c, 2, "keepdim", false);
	struct shape os = {.ndim = 0};
	for (int i = 0; i < xs->ndim; i++) {
		if (!red[i])
			os.dim[os.ndim++] = xs->dim[i];
		else if (keep)
			os.dim[os.ndim++] = 1;
	}
	enum dtype dt = tdtype(x);
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	op_out_tensor(c, dt, &os, x);
	return 0;
}

/* ---- elementwise ---- */

/* Same shape and dtype as the input (activations, contiguous, ...). */
static int fn_same(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	op_out_tensor(c, tdtype(x), tshape(x), x);
	return 0;
}

static int fn_dropout(struct op_call *c)
{
	double p;
	if (optional_number(c, 1, "p", 0.5, &p) < 0)
		return -1;
	if (!(p >= 0 && p <= 1))
		return op_fail(c, "dropout probability has to be between 0 and 1, but got %g", p);
	return fn_same(c);
}

static int fn_gelu(struct op_call *c)
{
	const struct value *a = op_arg(c, -1, "approximate");
	if (a && (a->kind != VAL_STR || (strcmp(a->u.s, "none") && strcmp(a->u.s, "tanh"))))
		return op_fail(c, "gelu(): approximate must be 'none' or 'tanh'");
	return fn_same(c);
}

static int fn_softmax(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	const struct value *dv = op_arg(c, 1, "dim");
	int dim;
	if (dv && dv->kind != VAL_NONE && dv->kind != VAL_INT)
		return op_fail(c, "%s() needs an int dim", fname(c));
	int64_t d = dv && dv->kind == VAL_INT ? dv->u.i : op_softmax_default_dim(tshape(x)->ndim);
	if (op_dim(c, d, tshape(x)->ndim, &dim) < 0)
		return -1;
	enum dtype dt = tdtype(x);
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	op_out_tensor(c, dt, tshape(x), x);
	return 0;
}

/* x.to(dtype), x.to(other), x.to(device): only the dtype matters here. */
static int fn_to(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	enum dtype dt = tdtype(x);
	for (int i = 1; i < c->nargs; i++) {
		if (c->args[i].kind == VAL_DTYPE)
			dt = c->args[i].u.dtype;
		else if (c->args[i].kind == VAL_TENSOR)
			dt = tdtype(&c->args[i]);
	}
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	op_out_tensor(c, dt, tshape(x), x);
	return 0;
}

static int fn_type_as(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	const struct value *o = x ? op_tensor(c, 1, "other") : NULL;
	if (!o)
		return -1;
	op_out_tensor(c, tdtype(o), tshape(x), x);
	return 0;
}

static int fn_float(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	op_out_tensor(c, DT_F32, tshape(x), x);
	return 0;
}

static int fn_roll(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	int64_t s[SHAPE_MAX_DIMS], d[SHAPE_MAX_DIMS];
	int ns = op_int_list(c, 1, "shifts", false, s, SHAPE_MAX_DIMS);
	if (ns < 0)
		return -1;
	const struct value *dv = op_arg(c, 2, "dims");
	if (dv && dv->kind != VAL_NONE) {
		int nd = op_int_list(c, 2, "dims", false, d, SHAPE_MAX_DIMS);
		if (nd < 0)
			return -1;
		if (nd != ns)
			return op_fail(c,
			               "roll(): shifts and dims must have the same length, got "
			               "%d and %d",
			               ns, nd);
		for (int i = 0; i < nd; i++) {
			int k;
			if (op_dim(c, d[i], tshape(x)->ndim, &k) < 0)
				return -1;
		}
	} else if (ns != 1) {
		return op_fail(c, "roll(): without dims, shifts must be a single int");
	}
	return fn_same(c);
}

static int fn_normalize(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t d;
	int dim;
	if (!x || op_int(c, 2, "dim", 1, &d) < 0 || op_dim(c, d, tshape(x)->ndim, &dim) < 0)
		return -1;
	return fn_same(c);
}

static int check_probability(struct op_call *c, int pos, const char *kw)
{
	double p;
	if (optional_number(c, pos, kw, 0, &p) < 0)
		return -1;
	if (!(p >= 0 && p <= 1))
		return op_fail(c, "%s() needs %s between 0 and 1, got %g", fname(c), kw, p);
	return 0;
}

static int fn_stochastic_depth(struct op_call *c)
{
	if (check_probability(c, 1, "p") < 0)
		return -1;
	const struct value *m = op_arg(c, 2, "mode");
	if (!m || m->kind != VAL_STR || (strcmp(m->u.s, "row") && strcmp(m->u.s, "batch")))
		return op_fail(c, "stochastic_depth(): mode has to be either 'batch' or 'row'");
	return fn_same(c);
}

static int fn_channel_shuffle(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t g;
	if (!x || op_int(c, 1, "groups", 0, &g) < 0)
		return -1;
	const struct shape *xs = tshape(x);
	if (xs->ndim < 3)
		return op_break(c, x, "channel_shuffle", "a %d-D input (needs at least 3-D)",
		                xs->ndim);
	if (g <= 0)
		return op_fail(c, "channel_shuffle(): groups must be positive, got %lld",
		               (long long)g);
	if (xs->dim[1] % g) {
		char desc[96];
		snprintf(desc, sizeof desc, "channel_shuffle(groups=%lld)", (long long)g);
		return op_break(c, x, desc, "%lld channels (not divisible)", (long long)xs->dim[1]);
	}
	return fn_same(c);
}

/* F.pad(input, pad, mode='constant', value=None) */
static int fn_pad(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	int64_t p[2 * SHAPE_MAX_DIMS];
	int n = op_int_list(c, 1, "pad", false, p, 2 * SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	const struct shape *xs = tshape(x);
	if (n % 2 || n / 2 > xs->ndim)
		return op_fail(c,
		               "pad(): padding length must be even and at most twice the "
		               "input's rank, got %d for a %d-D input",
		               n, xs->ndim);
	const struct value *mode = op_arg(c, 2, "mode");
	bool constant = !mode || mode->kind != VAL_STR || strcmp(mode->u.s, "constant") == 0;
	struct shape os = *xs;
	for (int i = 0; i < n / 2; i++) {
		int k = xs->ndim - 1 - i;
		int64_t v;
		if (__builtin_add_overflow(xs->dim[k], p[2 * i], &v) ||
		    __builtin_add_overflow(v, p[2 * i + 1], &v))
			return op_mismatch(c, "pad() result too large");
		if (v < 0 ||
		    (!constant && (p[2 * i] >= xs->dim[k] || p[2 * i + 1] >= xs->dim[k]))) {
			char sb[160];
			return op_break(c, x, "pad()",
			                "%s, too small to pad dim %d by (%lld, %lld)",
			                shp(xs, sb, sizeof sb), k, (long long)p[2 * i],
			                (long long)p[2 * i + 1]);
		}
		os.dim[k] = v;
	}
	return out_like(c, x, &os);
}

/* ---- layers as functions ---- */

/* An int or a pair of ints (a one-item tuple repeats) into p; def when
 * absent, None or an empty tuple. */
static int pair_arg(struct op_call *c, int pos, const char *kw, const int64_t *def, int64_t p[2])
{
	const struct value *v = op_arg(c, pos, kw);
	if (!v || v->kind == VAL_NONE || (v->kind == VAL_LIST && v->u.list.n == 0)) {
		if (!def)
			return op_fail(c, "%s() needs '%s'", fname(c), kw);
		p[0] = def[0];
		p[1] = def[1];
		return 0;
	}
	if (v->kind == VAL_LIST && v->u.list.n == 1 && v->u.list.items[0].kind == VAL_INT) {
		p[0] = p[1] = v->u.list.items[0].u.i;
		return 0;
	}
	if (value_ints(v, p, 2) == 0)
		return 0;
	char got[128];
	value_format(v, got, sizeof got);
	return op_fail(c, "%s() needs an int or a pair of ints for '%s', got %s", fname(c), kw,
	               got);
}

static int fn_max_pool2d(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t k[2], s[2], p[2], d[2];
	static const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
	if (!x || pair_arg(c, 1, "kernel_size", NULL, k) < 0 ||
	    pair_arg(c, 2, "stride", k, s) < 0 || pair_arg(c, 3, "padding", zero, p) < 0 ||
	    pair_arg(c, 4, "dilation", one, d) < 0)
		return -1;
	return op_pool2d(c, x, k, s, p, d, optional_bool(c, 5, "ceil_mode", false),
	                 optional_bool(c, 6, "return_indices", false));
}

static int fn_avg_pool2d(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	int64_t k[2], s[2], p[2];
	static const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
	if (!x || pair_arg(c, 1, "kernel_size", NULL, k) < 0 ||
	    pair_arg(c, 2, "stride", k, s) < 0 || pair_arg(c, 3, "padding", zero, p) < 0)
		return -1;
	return op_pool2d(c, x, k, s, p, one, optional_bool(c, 4, "ceil_mode", false), false);
}

static int fn_adaptive_pool2d(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	const struct value *v = op_arg(c, 1, "output_size");
	int64_t size[2];
	bool ok = v != NULL;
	if (ok && (v->kind == VAL_INT || v->kind == VAL_NONE)) {
		size[0] = size[1] = v->kind == VAL_INT ? v->u.i : -1;
	} else if (ok && v->kind == VAL_LIST && v->u.list.n == 2) {
		for (int i = 0; i < 2 && ok; i++) {
			const struct value *it = &v->u.list.items[i];
			ok = it->kind == VAL_INT || it->kind == VAL_NONE;
			size[i] = it->kind == VAL_INT ? it->u.i : -1;
		}
	} else {
		ok = false;
	}
	if (!ok)
		return op_fail(c, "%s() needs output_size as an int or a pair of ints", fname(c));
	return op_adaptive_pool2d(c, x, size, optional_bool(c, 2, "return_indices", false));
}

/* A tensor argument that may be absent or None; -1 when it is something
 * else. */
static int optional_tensor(struct op_call *c, int pos, const char *kw, const struct value **out)
{
	const struct value *v = op_arg(c, pos, kw);
	*out = NULL;
	if (!v || v->kind == VAL_NONE)
		return 0;
	if (v->kind != VAL_TENSOR)
		return op_fail(c, "%s() needs a tensor or None for '%s'", fname(c), kw);
	*out = v;
	return 0;
}

static int fn_linear(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	const struct value *w = x ? op_tensor(c, 1, "weight") : NULL, *b;
	if (!w || optional_tensor(c, 2, "bias", &b) < 0)
		return -1;
	const struct shape *xs = tshape(x), *ws = tshape(w);
	char desc[200], sb[160];
	if (ws->ndim != 1 && ws->ndim != 2)
		return op_fail(c, "linear() needs a 1-D or 2-D weight");
	int64_t in = ws->dim[ws->ndim - 1];
	snprintf(desc, sizeof desc, "linear(weight %s)", shp(ws, sb, sizeof sb));
	if (xs->ndim == 0 || xs->dim[xs->ndim - 1] != in)
		return op_break(c, x, desc, "%lld features",
		                (long long)(xs->ndim ? xs->dim[xs->ndim - 1] : 0));
	struct shape os = *xs;
	if (ws->ndim == 2)
		os.dim[os.ndim - 1] = ws->dim[0];
	else
		os.ndim--;
	if (b) {
		struct shape bs;
		if (broadcast(&os, tshape(b), &bs) < 0 || !shape_equal(&bs, &os))
			return broadcast_fail(c, "add bias", b, x);
	}
	int64_t n = checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, tdtype(x), &os, NULL);
	c->macs = mul_sat(n, in);
	return 0;
}

static int fn_conv2d(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	const struct value *w = x ? op_tensor(c, 1, "weight") : NULL, *b;
	if (!w || optional_tensor(c, 2, "bias", &b) < 0)
		return -1;
	const struct shape *ws = tshape(w);
	if (ws->ndim != 4)
		return op_fail(c, "conv2d() needs a 4-D weight");
	int64_t s[2], d[2], g;
	static const int64_t one[2] = {1, 1};
	if (pair_arg(c, 3, "stride", one, s) < 0 || pair_arg(c, 5, "dilation", one, d) < 0 ||
	    op_int(c, 6, "groups", 1, &g) < 0)
		return -1;
	const struct value *pad = op_arg(c, 4, "padding");
	struct value padv = value_list(2);
	padv.u.list.items[0] = value_int(0);
	padv.u.list.items[1] = value_int(0);
	if (pad && pad->kind == VAL_STR) {
		if (strcmp(pad->u.s, "same") && strcmp(pad->u.s, "valid")) {
			value_free(&padv);
			return op_fail(c, "conv2d(): padding must be 'same', 'valid' or ints");
		}
		value_free(&padv);
		padv = value_copy(pad);
	} else if (pad) {
		int64_t p[2];
		if (pair_arg(c, 4, "padding", NULL, p) < 0) {
			value_free(&padv);
			return -1;
		}
		padv.u.list.items[0].u.i = p[0];
		padv.u.list.items[1].u.i = p[1];
	}
	if (g <= 0 || ws->dim[0] % g) {
		value_free(&padv);
		return op_fail(c, "conv2d(): groups must divide the weight's %lld output channels",
		               (long long)ws->dim[0]);
	}
	int64_t k[2] = {ws->dim[2], ws->dim[3]};
	int rc = op_conv2d(c, x, ws->dim[1] * g, ws->dim[0], k, s, &padv, d, g);
	value_free(&padv);
	return rc;
}

static int fn_layer_norm(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	int64_t ns[SHAPE_MAX_DIMS];
	int n = op_int_list(c, 1, "normalized_shape", false, ns, SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	const struct shape *xs = tshape(x);
	bool ok = xs->ndim >= n;
	for (int i = 0; ok && i < n; i++)
		ok = xs->dim[xs->ndim - n + i] == ns[i];
	if (!ok) {
		char sb[160], want[160];
		struct shape w = {.ndim = n};
		memcpy(w.dim, ns, (size_t)n * sizeof *ns);
		char desc[200];
		snprintf(desc, sizeof desc, "layer_norm(normalized_shape=%s)",
		         shp(&w, want, sizeof want));
		return op_break(c, x, desc, "%s", shp(xs, sb, sizeof sb));
	}
	return fn_same(c);
}

static int fn_batch_norm(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	const struct value *rm;
	if (!x || optional_tensor(c, 1, "running_mean", &rm) < 0)
		return -1;
	const struct shape *xs = tshape(x);
	if (xs->ndim < 2)
		return op_break(c, x, "batch_norm", "a %d-D input (needs at least 2-D)", xs->ndim);
	if (rm && shape_numel(tshape(rm)) != xs->dim[1]) {
		char desc[96];
		snprintf(desc, sizeof desc, "batch_norm(running_mean of %lld)",
		         (long long)shape_numel(tshape(rm)));
		return op_break(c, x, desc, "%lld channels", (long long)xs->dim[1]);
	}
	return fn_same(c);
}

/* F.scaled_dot_product_attention(q [..., L, E], k [..., S, E], v [..., S, Ev]) */
static int fn_sdpa(struct op_call *c)
{
	const struct value *q = op_tensor(c, 0, "query");
	const struct value *k = q ? op_tensor(c, 1, "key") : NULL;
	const struct value *v = k ? op_tensor(c, 2, "value") : NULL;
	if (!v)
		return -1;
	const struct shape *qs = tshape(q), *ks = tshape(k), *vs = tshape(v);
	if (qs->ndim < 2 || ks->ndim < 2 || vs->ndim < 2 ||
	    qs->dim[qs->ndim - 1] != ks->dim[ks->ndim - 1] ||
	    ks->dim[ks->ndim - 2] != vs->dim[vs->ndim - 2])
		return broadcast_fail(c, "attend", q, k);
	struct shape bq = *qs, bk = *ks, bo;
	bq.ndim -= 2;
	bk.ndim -= 2;
	if (broadcast(&bq, &bk, &bo) < 0 || bo.ndim + 2 > SHAPE_MAX_DIMS)
		return broadcast_fail(c, "attend", q, k);
	int64_t L = qs->dim[qs->ndim - 2], E = qs->dim[qs->ndim - 1];
	int64_t S = ks->dim[ks->ndim - 2], Ev = vs->dim[vs->ndim - 1];
	struct shape os = bo;
	os.dim[os.ndim++] = L;
	os.dim[os.ndim++] = Ev;
	if (checked_numel(c, &os) < 0)
		return -1;
	int64_t batch = shape_numel(&bo);
	op_out_tensor(c, tdtype(q), &os, q);
	c->macs = mul_sat(mul_sat(batch, mul_sat(L, S)), E + Ev);
	return 0;
}

/* ---- torchvision Swin ---- */

/* _patch_merging_pad(x [..., H, W, C]) -> [..., ceil(H/2), ceil(W/2), 4*C] */
static int fn_patch_merging_pad(struct op_call *c)
{
	const struct value *x = self_tensor(c);
	if (!x)
		return -1;
	const struct shape *xs = tshape(x);
	char sb[160];
	if (xs->ndim < 3)
		return op_break(c, x, "_patch_merging_pad", "%s (needs [..., H, W, C])",
		                shp(xs, sb, sizeof sb));
	struct shape os = *xs;
	int n = xs->ndim;
	os.dim[n - 3] = (xs->dim[n - 3] + 1) / 2;
	os.dim[n - 2] = (xs->dim[n - 2] + 1) / 2;
	if (__builtin_mul_overflow(xs->dim[n - 1], 4, &os.dim[n - 1]))
		return op_mismatch(c, "_patch_merging_pad() result too large");
	return out_like(c, x, &os);
}

/* Reads window_size-like arguments: a pair of positive ints. */
static int window_arg(struct op_call *c, int pos, const char *kw, int64_t w[2], bool zero_ok)
{
	if (pair_arg(c, pos, kw, NULL, w) < 0)
		return -1;
	if (w[0] < (zero_ok ? 0 : 1) || w[1] < (zero_ok ? 0 : 1))
		return op_fail(c, "%s(): %s must be %s, got (%lld, %lld)", fname(c), kw,
		               zero_ok ? "non-negative" : "positive", (long long)w[0],
		               (long long)w[1]);
	return 0;
}

/* _get_relative_position_bias(table [K, heads], index [N*N], window_size)
 * -> [1, heads, N, N] with N = Wh * Ww */
static int fn_relative_position_bias(struct op_call *c)
{
	const struct value *table = op_tensor(c, 0, "relative_position_bias_table");
	const struct value *index = table ? op_tensor(c, 1, "relative_position_index") : NULL;
	int64_t w[2];
	if (!index || window_arg(c, 2, "window_size", w, false) < 0)
		return -1;
	const struct shape *ts = tshape(table);
	if (ts->ndim < 1)
		return op_fail(c, "_get_relative_position_bias() needs a table of at least 1-D");
	int64_t n = w[0] * w[1], nn, rest = 1;
	for (int i = 1; i < ts->ndim; i++)
		rest = mul_sat(rest, ts->dim[i]);
	int64_t total = mul_sat(shape_numel(tshape(index)), rest);
	if (__builtin_mul_overflow(n, n, &nn) || nn == 0 || total % nn) {
		char sb[160], desc[96];
		snprintf(desc, sizeof desc, "_get_relative_position_bias(window_size=(%lld, %lld))",
		         (long long)w[0], (long long)w[1]);
		return op_break(c, index, desc, "an index %s", shp(tshape(index), sb, sizeof sb));
	}
	struct shape os = {.ndim = 4, .dim = {1, total / nn, n, n}};
	if (checked_numel(c, &os) < 0)
		return -1;
	op_out_tensor(c, tdtype(table), &os, NULL);
	return 0;
}

/* shifted_window_attention(input [B, H, W, C], qkv_weight [3C, C],
 * proj_weight [C, C], relative_position_bias, window_size, num_heads,
 * shift_size, attention_dropout, dropout, qkv_bias, proj_bias, logit_scale)
 * -> [B, H, W, C]. MACs per window of N = Wh*Ww tokens: N*C*3C (qkv) +
 * 2*N*N*C (QK^T and AV) + N*C*C (proj), over the padded windows. */
static int fn_shifted_window_attention(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	const struct value *qkv = x ? op_tensor(c, 1, "qkv_weight") : NULL;
	const struct value *proj = qkv ? op_tensor(c, 2, "proj_weight") : NULL;
	const struct value *rpb = proj ? op_tensor(c, 3, "relative_position_bias") : NULL;
	int64_t w[2], shift[2], heads;
	if (!rpb || window_arg(c, 4, "window_size", w, false) < 0 ||
	    op_int(c, 5, "num_heads", 0, &heads) < 0 || window_arg(c, 6, "shift_size", shift, true))
		return -1;
	const struct shape *xs = tshape(x), *qs = tshape(qkv), *ps = tshape(proj);
	char sb[160], desc[200];
	if (xs->ndim != 4)
		return op_break(c, x, "shifted_window_attention", "%s (needs [B, H, W, C])",
		                shp(xs, sb, sizeof sb));
	int64_t B = xs->dim[0], H = xs->dim[1], W = xs->dim[2], C = xs->dim[3];
	if (heads <= 0 || C % heads)
		return op_break(c, x, "shifted_window_attention", "%lld channels for %lld heads",
		                (long long)C, (long long)heads);
	if (qs->ndim != 2 || qs->dim[1] != C || qs->dim[0] != 3 * C) {
		snprintf(desc, sizeof desc, "shifted_window_attention(qkv_weight %s)",
		         shp(qs, sb, sizeof sb));
		return op_break(c, x, desc, "%lld channels", (long long)C);
	}
	if (ps->ndim != 2 || ps->dim[1] != C || ps->dim[0] != C) {
		snprintf(desc, sizeof desc, "shifted_window_attention(proj_weight %s)",
		         shp(ps, sb, sizeof sb));
		return op_break(c, x, desc, "%lld channels", (long long)C);
	}
	int64_t hw = (H + w[0] - 1) / w[0], ww = (W + w[1] - 1) / w[1];
	int64_t n = w[0] * w[1], windows = mul_sat(B, mul_sat(hw, ww));
	struct shape attn = {.ndim = 4, .dim = {windows, heads, n, n}}, bs;
	if (broadcast(&attn, tshape(rpb), &bs) < 0 || !shape_equal(&bs, &attn)) {
		char sa[160];
		return op_mismatch(c,
		                   "relative_position_bias %s does not fit the attention %s "
		                   "(from %s)",
		                   shp(tshape(rpb), sb, sizeof sb), shp(&attn, sa, sizeof sa),
		                   (origin_describe(rpb, desc, sizeof desc), desc));
	}
	int64_t per = mul_sat(mul_sat(n, C), mul_sat(4, C)),
	        att = mul_sat(2, mul_sat(mul_sat(n, n), C));
	if (__builtin_add_overflow(per, att, &per))
		per = INT64_MAX;
	op_out_tensor(c, tdtype(x), xs, x);
	c->macs = mul_sat(windows, per);
	return 0;
}

/* ---- the table ---- */

#define FUNCTIONS(X)                                                                               \
	X(add, fn_add, "a + b, with broadcasting; ints add, tuples concatenate")                   \
	X(sub, fn_sub, "a - b, with broadcasting")                                                 \
	X(mul, fn_mul, "a * b, with broadcasting")                                                 \
	X(truediv, fn_truediv, "a / b, with broadcasting")                                         \
	X(div, fn_truediv, "a / b, with broadcasting (torch.div)")                                 \
	X(floordiv, fn_floordiv, "a // b; Python floor division on ints")                          \
	X(floor_divide, fn_floordiv, "a // b, with broadcasting")                                  \
	X(mod, fn_mod, "a % b; Python modulo on ints")                                             \
	X(pow, fn_pow, "a ** b")                                                                   \
	X(neg, fn_neg, "-a")                                                                       \
	X(eq, fn_eq, "a == b")                                                                     \
	X(ne, fn_ne, "a != b")                                                                     \
	X(lt, fn_lt, "a < b")                                                                      \
	X(le, fn_le, "a <= b")                                                                     \
	X(gt, fn_gt, "a > b")                                                                      \
	X(ge, fn_ge, "a >= b")                                                                     \
	X(not_, fn_not, "not a")                                                                   \
	X(_assert, fn_assert, "torch._assert(condition, message)")                                 \
	X(matmul, fn_matmul, "a @ b, batched with broadcasting")                                   \
	X(bmm, fn_bmm, "batched [B, n, k] @ [B, k, m]")                                            \
	X(einsum, fn_einsum, "einsum(equation, *operands)")                                        \
	X(getitem, fn_getitem, "x[index]: tuples, and tensors with ints, slices, None, ...")       \
	X(getattr, fn_getattr, "getattr(x, 'shape'), 'ndim', 'dtype'")                             \
	X(size, fn_size, "x.size() -> tuple, x.size(dim) -> int")                                  \
	X(dim, fn_dim, "x.dim(): the rank")                                                        \
	X(numel, fn_numel, "x.numel(): the element count")                                         \
	X(cat, fn_cat, "cat(tensors, dim=0)")                                                      \
	X(concat, fn_cat, "cat(tensors, dim=0)")                                                   \
	X(stack, fn_stack, "stack(tensors, dim=0)")                                                \
	X(chunk, fn_chunk, "chunk(x, chunks, dim=0) -> tuple")                                     \
	X(split, fn_split, "split(x, split_size_or_sections, dim=0) -> tuple")                     \
	X(unbind, fn_unbind, "unbind(x, dim=0) -> tuple")                                          \
	X(flatten, fn_flatten, "flatten(x, start_dim=0, end_dim=-1)")                              \
	X(reshape, fn_reshape, "reshape(x, shape); one -1 is inferred")                            \
	X(view, fn_reshape, "x.view(*shape); one -1 is inferred")                                  \
	X(permute, fn_permute, "permute(x, dims)")                                                 \
	X(transpose, fn_transpose, "transpose(x, dim0, dim1)")                                     \
	X(swapaxes, fn_transpose, "swapaxes(x, axis0, axis1)")                                     \
	X(swapdims, fn_transpose, "swapdims(x, dim0, dim1)")                                       \
	X(unsqueeze, fn_unsqueeze, "unsqueeze(x, dim)")                                            \
	X(squeeze, fn_squeeze, "squeeze(x, dim=None)")                                             \
	X(expand, fn_expand, "x.expand(*sizes); -1 keeps a size")                                  \
	X(expand_as, fn_expand, "x.expand_as(other)")                                              \
	X(contiguous, fn_same, "x.contiguous()")                                                   \
	X(clone, fn_same, "clone(x)")                                                              \
	X(detach, fn_same, "x.detach()")                                                           \
	X(to, fn_to, "x.to(dtype)")                                                                \
	X(type_as, fn_type_as, "x.type_as(other)")                                                 \
	X(float, fn_float, "x.float()")                                                            \
	X(mean, fn_reduce, "mean(x, dim=None, keepdim=False)")                                     \
	X(sum, fn_reduce, "sum(x, dim=None, keepdim=False)")                                       \
	X(amax, fn_reduce, "amax(x, dim=None, keepdim=False)")                                     \
	X(amin, fn_reduce, "amin(x, dim=None, keepdim=False)")                                     \
	X(relu, fn_same, "relu(x)")                                                                \
	X(relu_, fn_same, "relu_(x), in place")                                                    \
	X(relu6, fn_same, "relu6(x)")                                                              \
	X(gelu, fn_gelu, "gelu(x, approximate='none')")                                            \
	X(silu, fn_same, "silu(x)")                                                                \
	X(sigmoid, fn_same, "sigmoid(x)")                                                          \
	X(hardsigmoid, fn_same, "hardsigmoid(x)")                                                  \
	X(hardswish, fn_same, "hardswish(x)")                                                      \
	X(tanh, fn_same, "tanh(x)")                                                                \
	X(exp, fn_same, "exp(x)")                                                                  \
	X(clamp, fn_same, "clamp(x, min=None, max=None)")                                          \
	X(leaky_relu, fn_same, "leaky_relu(x, negative_slope=0.01)")                               \
	X(softmax, fn_softmax, "softmax(x, dim)")                                                  \
	X(log_softmax, fn_softmax, "log_softmax(x, dim)")                                          \
	X(normalize, fn_normalize, "normalize(x, p=2.0, dim=1)")                                   \
	X(dropout, fn_dropout, "dropout(x, p=0.5, training=True)")                                 \
	X(stochastic_depth, fn_stochastic_depth, "stochastic_depth(x, p, mode, training=True)")    \
	X(roll, fn_roll, "roll(x, shifts, dims=None)")                                             \
	X(pad, fn_pad, "pad(x, pad, mode='constant', value=None)")                                 \
	X(channel_shuffle, fn_channel_shuffle, "channel_shuffle(x, groups)")                       \
	X(adaptive_avg_pool2d, fn_adaptive_pool2d, "adaptive_avg_pool2d(x, output_size)")          \
	X(adaptive_max_pool2d, fn_adaptive_pool2d, "adaptive_max_pool2d(x, output_size)")          \
	X(avg_pool2d, fn_avg_pool2d, "avg_pool2d(x, kernel_size, stride=None, padding=0, ...)")    \
	X(max_pool2d, fn_max_pool2d, "max_pool2d(x, kernel_size, stride=None, padding=0, ...)")    \
	X(layer_norm, fn_layer_norm, "layer_norm(x, normalized_shape, weight, bias, eps)")         \
	X(batch_norm, fn_batch_norm, "batch_norm(x, running_mean, running_var, ...)")              \
	X(linear, fn_linear, "linear(x, weight, bias=None)")                                       \
	X(conv2d, fn_conv2d, "conv2d(x, weight, bias, stride, padding, dilation, groups)")         \
	X(scaled_dot_product_attention, fn_sdpa, "softmax(q k^T / sqrt(E)) v")                     \
	X(shifted_window_attention, fn_shifted_window_attention,                                   \
	  "torchvision Swin window attention: [B, H, W, C] -> [B, H, W, C]")                       \
	X(_patch_merging_pad, fn_patch_merging_pad,                                                \
	  "torchvision Swin: [..., H, W, C] -> [..., H/2, W/2, 4C]")                               \
	X(_get_relative_position_bias, fn_relative_position_bias,                                  \
	  "torchvision Swin: table[index] -> [1, heads, N, N]")

#define DEFINE(id, fn, d)                                                                          \
	static const struct op_def def_##id = {                                                    \
	    .name = #id,                                                                           \
	    .kind = OP_FUNCTION,                                                                   \
	    .doc = d,                                                                              \
	    .infer = fn,                                                                           \
	};
FUNCTIONS(DEFINE)
#undef DEFINE

#define POINTER(id, fn, d) &def_##id,
const struct op_def *const registry_fn_defs[] = {FUNCTIONS(POINTER)};
#undef POINTER

const int registry_fn_count = sizeof registry_fn_defs / sizeof *registry_fn_defs;
