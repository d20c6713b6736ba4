/* kernels_act.c - elementwise kernels: activations (and PReLU and GLU),
 * arithmetic with broadcasting, softmax, log_softmax and softmin.
 *
 * Activations follow PyTorch's formulas in float32 (GELU's exact form
 * through erff, its tanh form as written in torch.nn.functional.gelu).
 * Binary operations broadcast like PyTorch; a Python number operand is
 * converted to float first, as PyTorch does for a float32 tensor. With an
 * operand or a result that is not float32 (int64 positions, bool masks)
 * they are kernels_math.c's elementwise kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "exec/kvec.h"
#include "core/util.h"

/* ---- activations ---- */

struct act_state {
	struct kact act; /* kind KACT_NONE: see kind */
	int kind;        /* ACT_* below for the ones that are not in kernels_act.h */
};

enum { ACT_PLAIN, ACT_EXP, ACT_NEG };

static bool is(const struct kop *op, const char *name)
{
	return strcmp(op->kernel->name, name) == 0;
}

static const char *approximate(const struct kop *op)
{
	if (op->call.module)
		return module_attr_str(op->call.module, "approximate", "none");
	const struct value *a = op_arg(&op->call, -1, "approximate");
	return a && a->kind == VAL_STR ? a->u.s : "none";
}

/* The module type of each line of kernels_act.h, by kind. */
#define ACT_MODULE_TYPE(name, module_type, function, scalar, vector) [KACT_##name] = module_type,
static const char *const act_module_types[] = {KACT_FUSABLE(ACT_MODULE_TYPE)};
#undef ACT_MODULE_TYPE

/* The first two float attributes of the activation `kind` as op computes
 * it, into act->a and act->b: the module's attributes, or the function's
 * arguments of the same names at their constructor positions, else the
 * registry's defaults. -1 when an argument is not a number or a required
 * one is missing. */
static int act_floats(const struct kop *op, enum kact_kind kind, struct kact *act)
{
	const struct op_def *def = registry_module(act_module_types[kind]);
	float *out[2] = {&act->a, &act->b};
	int n = 0;
	for (int i = 0; def && i < def->nattrs && n < 2; i++) {
		const struct attr_spec *spec = &def->attrs[i];
		if (spec->type != AT_FLOAT)
			continue;
		double d;
		if (op->call.module) {
			d = module_attr_float(op->call.module, spec->name, 0);
		} else {
			const struct value *v = op_arg(&op->call, i + 1, spec->name);
			if (v ? !value_number(v, &d) : !spec->def)
				return -1;
			if (!v)
				d = strtod(spec->def, NULL);
		}
		*out[n++] = (float)d;
	}
	return 0;
}

struct kact kernels_act_of(const struct kop *op)
{
	struct kact act = {KACT_NONE, 0, 0};
	enum kact_kind kind = op->kernel ? KF_ACT_OF(op->kernel->flags) : KACT_NONE;
	if (kind == KACT_NONE || act_floats(op, kind, &act) < 0)
		return act;
	act.kind =
	    kind == KACT_GELU && strcmp(approximate(op), "tanh") == 0 ? KACT_GELU_TANH : kind;
	return act;
}

static int act_prepare(struct kop *op, struct error *e)
{
	struct act_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->act = kernels_act_of(op);
	st->kind = ACT_PLAIN;
	if (KF_ACT_OF(op->kernel->flags) != KACT_NONE && st->act.kind == KACT_NONE)
		return error_set(e, "%s() takes numbers for its parameters (not tensors)",
		                 op->kernel->name);
	if (is(op, "exp")) {
		st->kind = ACT_EXP;
	} else if (is(op, "neg")) {
		st->kind = ACT_NEG;
	}
	return 0;
}

struct act_job {
	const struct act_state *st;
	const float *x;
	float *y;
};

static void act_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct act_job *j = ctx;
	const float *x = j->x;
	float *y = j->y;
	const struct act_state *st = j->st;
	switch (st->kind) {
	case ACT_EXP:
		for (int64_t i = b; i < e; i++)
			y[i] = expf(x[i]);
		return;
	case ACT_NEG:
		for (int64_t i = b; i < e; i++)
			y[i] = -x[i];
		return;
	}
}

static int act_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	struct act_job j = {op->state, kt_f32(x), kt_f32(y)};
	int64_t n = shape_numel(&y->shape);
	if (j.st->kind == ACT_PLAIN) {
		/* kact_apply splits the work itself */
		if (j.y != j.x)
			memcpy(j.y, j.x, (size_t)n * sizeof(float));
		kact_apply(j.st->act, j.y, n);
		return 0;
	}
	kpar_for(n, 1 << 14, act_chunk, &j);
	return 0;
}

/* ---- PReLU and GLU: activations that are not elementwise ---- */

/* Rows of an input seen as [outer, channels, inner] around one dimension. */
struct rows_state {
	int64_t outer, channels, inner;
};

static void rows_around(const struct shape *s, int dim, struct rows_state *st)
{
	st->outer = st->inner = 1;
	st->channels = s->ndim ? s->dim[dim] : 1;
	for (int i = 0; i < dim; i++)
		st->outer *= s->dim[i];
	for (int i = dim + 1; i < s->ndim; i++)
		st->inner *= s->dim[i];
}

static int prelu_prepare(struct kop *op, struct error *e)
{
	(void)e;
	struct rows_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const struct shape *s = &kop_input(op)->shape;
	if (s->ndim >= 2) {
		rows_around(s, 1, st);
	} else {
		st->outer = st->channels = 1;
		st->inner = shape_numel(s);
	}
	return 0;
}

struct prelu_job {
	const struct rows_state *st;
	const float *x, *w;
	float *y;
	bool shared; /* one weight for every channel */
};

/* Rows are (outer, channel) pairs: leaky_relu with the channel's slope. */
static void prelu_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct prelu_job *j = ctx;
	int64_t inner = j->st->inner;
	for (int64_t r = b; r < e; r++) {
		float *y = j->y + r * inner;
		if (y != j->x + r * inner)
			memcpy(y, j->x + r * inner, (size_t)inner * sizeof *y);
		float w = j->w[j->shared ? 0 : r % j->st->channels];
		kact_row((struct kact){KACT_LEAKY_RELU, w, 0}, y, inner);
	}
}

static int prelu_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct rows_state *st = op->state;
	const struct tensor *w =
	    op->call.module ? kop_param(op, "weight") : kop_tensor(op, 1, "weight");
	struct prelu_job j = {st, kt_f32(kop_input(op)), kt_f32(w), kt_f32(kop_out(op, 0)),
	                      shape_numel(&w->shape) == 1};
	int64_t grain = st->inner >= (1 << 14) ? 1 : (1 << 14) / (st->inner ? st->inner : 1);
	kpar_for(st->outer * st->channels, grain, prelu_chunk, &j);
	return 0;
}

/* channels is the size of the dimension halved. */
static int glu_prepare(struct kop *op, struct error *e)
{
	const struct shape *s = &kop_input(op)->shape;
	const struct value *v =
	    op->call.module ? module_attr(op->call.module, "dim") : op_arg(&op->call, 1, "dim");
	int64_t d = v && v->kind == VAL_INT ? v->u.i : -1;
	if (d < 0)
		d += s->ndim;
	if (d < 0 || d >= s->ndim)
		return error_set(e, "glu(): dim out of range");
	struct rows_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	rows_around(s, (int)d, st);
	return 0;
}

struct glu_job {
	const struct rows_state *st;
	const float *x;
	float *y;
};

/* Row o: y = a * sigmoid(b), a and b the halves of x's row o. */
static void glu_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct glu_job *j = ctx;
	int64_t half = j->st->channels / 2 * j->st->inner;
	for (int64_t o = b; o < e; o++) {
		const float *xa = j->x + o * 2 * half;
		float *y = j->y + o * half;
		memcpy(y, xa + half, (size_t)half * sizeof *y);
		kact_row((struct kact){KACT_SIGMOID, 0, 0}, y, half);
		for (int64_t i = 0; i < half; i++)
			y[i] *= xa[i];
	}
}

static int glu_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct rows_state *st = op->state;
	struct glu_job j = {st, kt_f32(kop_input(op)), kt_f32(kop_out(op, 0))};
	int64_t half = st->channels / 2 * st->inner;
	int64_t grain = half >= (1 << 14) ? 1 : (1 << 14) / (half ? half : 1);
	kpar_for(st->outer, grain, glu_chunk, &j);
	return 0;
}

/* ---- binary arithmetic with broadcasting ---- */

enum binop { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_FLOORDIV, BIN_TRUNCDIV, BIN_POW };

struct bin_state {
	enum binop op;
	float alpha; /* add/sub: b is scaled by alpha */
	int ndim;    /* after merging dims */
	int64_t size[SHAPE_MAX_DIMS];
	int64_t sa[SHAPE_MAX_DIMS], sb[SHAPE_MAX_DIMS]; /* element strides, 0: broadcast */
	bool a_scalar, b_scalar;                        /* a Python number */
	float av, bv;
	int a_arg, b_arg; /* which argument each tensor is */
	bool swap;        /* the tensor is the second operand: a and b as written */
};

static const struct value *bin_operand(const struct kop *op, int i)
{
	if (i == 0) {
		const struct value *a = op_arg(&op->call, 0, "input");
		return a ? a : op_arg(&op->call, -1, "self");
	}
	const struct value *b = op_arg(&op->call, 1, "other");
	return b ? b : op_arg(&op->call, -1, "exponent");
}

/* Broadcast strides of tensor shape s against the output shape o. */
static void bcast_strides(const struct shape *s, const struct shape *o, int64_t *st)
{
	int64_t own[SHAPE_MAX_DIMS];
	kstrides(s, own);
	for (int i = 0; i < o->ndim; i++) {
		int k = s->ndim - o->ndim + i;
		st[i] = k < 0 || s->dim[k] == 1 ? 0 : own[k];
	}
}

/* Whether an operand or the result is not float32: integer arithmetic
 * (positions from arange, counts), done by kernels_math.c's elementwise
 * kernels. */
static bool bin_generic(struct kop *op)
{
	const struct value *v[2] = {bin_operand(op, 0), bin_operand(op, 1)};
	for (int i = 0; i < 2; i++)
		if (v[i] && v[i]->kind == VAL_TENSOR && v[i]->u.tensor.t.dtype != DT_F32)
			return true;
	return kop_out(op, 0)->dtype != DT_F32;
}

static int bin_prepare(struct kop *op, struct error *e)
{
	if (bin_generic(op))
		return kelem_prepare(op, e);
	struct bin_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const char *name = op->kernel->name;
	st->op = !strcmp(name, "add")                                         ? BIN_ADD
	         : !strcmp(name, "sub")                                       ? BIN_SUB
	         : !strcmp(name, "mul")                                       ? BIN_MUL
	         : !strcmp(name, "pow")                                       ? BIN_POW
	         : !strcmp(name, "floordiv") || !strcmp(name, "floor_divide") ? BIN_FLOORDIV
	                                                                      : BIN_DIV;
	if (st->op == BIN_DIV) {
		const struct value *rm = op_arg(&op->call, -1, "rounding_mode");
		if (rm && rm->kind == VAL_STR)
			st->op = !strcmp(rm->u.s, "floor") ? BIN_FLOORDIV : BIN_TRUNCDIV;
	}
	double alpha = 1;
	const struct value *av = op_arg(&op->call, -1, "alpha");
	if (av && !value_number(av, &alpha))
		return error_set(e, "%s(): alpha must be a number", name);
	st->alpha = (float)alpha;
	const struct value *a = bin_operand(op, 0), *b = bin_operand(op, 1);
	const struct shape *o = &kop_out(op, 0)->shape;
	const struct value *v[2] = {a, b};
	int64_t *strides[2] = {st->sa, st->sb};
	bool *scalar[2] = {&st->a_scalar, &st->b_scalar};
	float *sv[2] = {&st->av, &st->bv};
	for (int i = 0; i < 2; i++) {
		double d;
		if (v[i]->kind == VAL_TENSOR) {
			bcast_strides(&v[i]->u.tensor.t.shape, o, strides[i]);
		} else if (v[i]->kind == VAL_BOOL || value_number(v[i], &d)) {
			*scalar[i] = true;
			*sv[i] = v[i]->kind == VAL_BOOL ? (float)v[i]->u.b : (float)d;
		} else {
			return error_set(e, "%s(): unsupported operand", name);
		}
	}
	/* Merge dims that both operands walk contiguously (or both skip). */
	int n = 0;
	for (int i = 0; i < o->ndim; i++) {
		if (o->dim[i] == 1)
			continue;
		if (n > 0 && st->sa[n - 1] == st->sa[i] * o->dim[i] &&
		    st->sb[n - 1] == st->sb[i] * o->dim[i]) {
			st->size[n - 1] *= o->dim[i];
			st->sa[n - 1] = st->sa[i];
			st->sb[n - 1] = st->sb[i];
			continue;
		}
		st->size[n] = o->dim[i];
		st->sa[n] = st->sa[i];
		st->sb[n] = st->sb[i];
		n++;
	}
	if (n == 0) {
		st->size[0] = 1;
		st->sa[0] = st->sb[0] = 0;
		n = 1;
	}
	st->ndim = n;
	return 0;
}

static inline float bin1(enum binop op, float a, float b)
{
	switch (op) {
	case BIN_ADD:
		return a + b;
	case BIN_SUB:
		return a - b;
	case BIN_MUL:
		return a * b;
	case BIN_DIV:
		return a / b;
	case BIN_FLOORDIV:
		return floorf(a / b);
	case BIN_TRUNCDIV:
		return truncf(a / b);
	case BIN_POW:
		return powf(a, b);
	}
	return 0;
}

/* One row: n elements, a and b with strides ia, ib. */
KERNEL_HOT
static void bin_row(enum binop op, float *o, const float *a, int64_t ia, const float *b, int64_t ib,
                    int64_t n)
{
	if (op <= BIN_DIV && ia <= 1 && ib <= 1 && (ia || ib)) {
		/* eight at a time; a stride of 0 is a broadcast scalar */
		int64_t i = 0;
		v8f sa = v8_splat(a[0]), sb = v8_splat(b[0]);
		for (; i + 8 <= n; i += 8) {
			v8f x = ia ? v8_load(a + i) : sa, y = ib ? v8_load(b + i) : sb;
			v8f r = op == BIN_ADD   ? x + y
			        : op == BIN_SUB ? x - y
			        : op == BIN_MUL ? x * y
			                        : x / y;
			v8_store(o + i, r);
		}
		for (; i < n; i++)
			o[i] = bin1(op, a[i * ia], b[i * ib]);
		return;
	}
#define BIN_LOOP(expr)                                                                             \
	do {                                                                                       \
		if (ia == 1 && ib == 1)                                                            \
			for (int64_t i = 0; i < n; i++) {                                          \
				float x = a[i], y = b[i];                                          \
				o[i] = (expr);                                                     \
			}                                                                          \
		else if (ia == 1 && ib == 0) {                                                     \
			float y = b[0];                                                            \
			for (int64_t i = 0; i < n; i++) {                                          \
				float x = a[i];                                                    \
				o[i] = (expr);                                                     \
			}                                                                          \
		} else if (ia == 0 && ib == 1) {                                                   \
			float x = a[0];                                                            \
			for (int64_t i = 0; i < n; i++) {                                          \
				float y = b[i];                                                    \
				o[i] = (expr);                                                     \
			}                                                                          \
		} else                                                                             \
			for (int64_t i = 0; i < n; i++) {                                          \
				float x = a[i * ia], y = b[i * ib];                                \
				o[i] = (expr);                                                     \
			}                                                                          \
	} while (0)
	switch (op) {
	case BIN_ADD:
		BIN_LOOP(x + y);
		break;
	case BIN_SUB:
		BIN_LOOP(x - y);
		break;
	case BIN_MUL:
		BIN_LOOP(x * y);
		break;
	case BIN_DIV:
		BIN_LOOP(x / y);
		break;
	default:
		BIN_LOOP(bin1(op, x, y));
	}
#undef BIN_LOOP
}

struct bin_job {
	const struct bin_state *st;
	const float *a, *b;
	float *o;
	int64_t inner;
	struct kact act;
	float alpha;
	bool scaled; /* b needs alpha: staged through the row of o */
};

static void bin_chunk(void *ctx, int64_t rb, int64_t re)
{
	const struct bin_job *j = ctx;
	const struct bin_state *st = j->st;
	int n = st->ndim, last = n - 1;
	for (int64_t r = rb; r < re; r++) {
		int64_t rem = r, oa = 0, ob = 0;
		for (int k = last - 1; k >= 0; k--) {
			int64_t i = rem % st->size[k];
			rem /= st->size[k];
			oa += i * st->sa[k];
			ob += i * st->sb[k];
		}
		float *o = j->o + r * j->inner;
		const float *a = j->a + oa, *b = j->b + ob;
		int64_t ia = st->sa[last], ib = st->sb[last];
		if (j->scaled) {
			/* a + alpha * b: o may alias a, so scale b on the fly */
			for (int64_t i = 0; i < j->inner; i++)
				o[i] = bin1(st->op, a[i * ia], j->alpha * b[i * ib]);
		} else {
			bin_row(st->op, o, a, ia, b, ib, j->inner);
		}
		kact_row(j->act, o, j->inner);
	}
}

static int bin_run(struct kop *op, struct error *e)
{
	if (bin_generic(op)) {
		if (kelem_run(op, e) < 0)
			return -1;
		if (kop_out(op, 0)->dtype == DT_F32)
			kact_apply(op->act, kt_f32(kop_out(op, 0)), shape_numel(&kop_out(op, 0)->shape));
		return 0;
	}
	const struct bin_state *st = op->state;
	const struct value *a = bin_operand(op, 0), *b = bin_operand(op, 1);
	struct bin_job j = {.st = st,
	                    .a = st->a_scalar ? &st->av : kt_f32(&a->u.tensor.t),
	                    .b = st->b_scalar ? &st->bv : kt_f32(&b->u.tensor.t),
	                    .o = kt_f32(kop_out(op, 0)),
	                    .inner = st->size[st->ndim - 1],
	                    .act = op->act,
	                    .alpha = st->alpha,
	                    .scaled = st->alpha != 1 && (st->op == BIN_ADD || st->op == BIN_SUB)};
	int64_t rows = 1;
	for (int k = 0; k < st->ndim - 1; k++)
		rows *= st->size[k];
	int64_t grain = j.inner >= (1 << 14) ? 1 : (1 << 14) / j.inner;
	kpar_for(rows, grain, bin_chunk, &j);
	return 0;
}

/* ---- softmax ---- */

struct softmax_state {
	struct rows_state rows; /* channels: the dim softmax runs along */
	bool log;               /* log_softmax */
	bool negate;            /* softmin: softmax(-x) */
};

/* The dim: a module's attribute (Softmax2d's channels, dim -3), or the
 * function's argument; None or absent: PyTorch's implicit choice. */
static int softmax_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const struct shape *s = &x->shape;
	const char *name = op->kernel->name;
	const struct value *dv =
	    op->call.module ? module_attr(op->call.module, "dim") : op_arg(&op->call, 1, "dim");
	int64_t d;
	if (strcmp(name, "Softmax2d") == 0)
		d = -3;
	else if (dv && dv->kind == VAL_INT)
		d = dv->u.i;
	else
		d = op_softmax_default_dim(s->ndim);
	int nd = s->ndim ? s->ndim : 1;
	if (d < 0)
		d += nd;
	if (d < 0 || d >= nd)
		return error_set(e, "softmax(): dim out of range");
	struct softmax_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	rows_around(s, (int)d, &st->rows);
	st->log = strcmp(name, "log_softmax") == 0 || strcmp(name, "LogSoftmax") == 0;
	st->negate = strcmp(name, "softmin") == 0 || strcmp(name, "Softmin") == 0;
	return 0;
}

void ksoftmax_rows(float *x, int64_t n, int64_t len, int64_t stride)
{
	for (int64_t r = 0; r < n; r++) {
		float *p = x + r * stride;
		float mx = -INFINITY;
		for (int64_t i = 0; i < len; i++)
			mx = p[i] > mx ? p[i] : mx;
		float sum = 0;
		for (int64_t i = 0; i < len; i++) {
			p[i] = expf(p[i] - mx);
			sum += p[i];
		}
		float inv = 1 / sum;
		for (int64_t i = 0; i < len; i++)
			p[i] *= inv;
	}
}

struct softmax_job {
	const struct softmax_state *st;
	const float *x;
	float *y;
};

/* Rows are (outer, inner) pairs; each runs along len with stride inner. */
static void softmax_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct softmax_job *j = ctx;
	const struct softmax_state *st = j->st;
	int64_t len = st->rows.channels, in = st->rows.inner;
	float sign = st->negate ? -1 : 1;
	for (int64_t r = b; r < e; r++) {
		int64_t base = (r / in) * len * in + r % in;
		const float *x = j->x + base;
		float *y = j->y + base;
		float mx = -INFINITY;
		for (int64_t i = 0; i < len; i++)
			mx = sign * x[i * in] > mx ? sign * x[i * in] : mx;
		double sum = 0;
		if (st->log) {
			for (int64_t i = 0; i < len; i++)
				sum += exp((double)x[i * in] - mx);
			float lse = (float)log(sum);
			for (int64_t i = 0; i < len; i++)
				y[i * in] = x[i * in] - mx - lse;
			continue;
		}
		for (int64_t i = 0; i < len; i++) {
			float v = expf(sign * x[i * in] - mx);
			y[i * in] = v;
			sum += v;
		}
		float inv = (float)(1 / sum);
		for (int64_t i = 0; i < len; i++)
			y[i * in] *= inv;
	}
}

static int softmax_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct softmax_state *st = op->state;
	struct softmax_job j = {st, kt_f32(kop_input(op)), kt_f32(kop_out(op, 0))};
	int64_t rows = st->rows.outer * st->rows.inner;
	int64_t grain = st->rows.channels >= 4096 ? 1 : 4096 / st->rows.channels;
	kpar_for(rows, grain, softmax_chunk, &j);
	return 0;
}

#define ACT(nm, kind, act)                                                                         \
	{                                                                                          \
		nm, kind, KF_INPLACE | KF_IS_ACT(act), act_prepare, act_run                        \
	}
/* The module type and the function of each line of kernels_act.h. */
#define ACT_ROWS(name, module_type, function, scalar, vector)                                      \
	ACT(module_type, OP_MODULE, KACT_##name), ACT(function, OP_FUNCTION, KACT_##name),
#define BIN(nm)                                                                                    \
	{                                                                                          \
		nm, OP_FUNCTION, KF_INPLACE_ANY | KF_ACT | KF_ANY_DTYPE, bin_prepare, bin_run      \
	}

const struct kernel kernels_act[] = {
    KACT_FUSABLE(ACT_ROWS)
    ACT("relu_", OP_FUNCTION, KACT_RELU),
    ACT("exp", OP_FUNCTION, KACT_NONE),
    ACT("neg", OP_FUNCTION, KACT_NONE),
    BIN("add"),
    BIN("sub"),
    BIN("mul"),
    BIN("truediv"),
    BIN("div"),
    BIN("floordiv"),
    BIN("floor_divide"),
    BIN("pow"),
    {"Softmax", OP_MODULE, KF_INPLACE, softmax_prepare, softmax_run},
    {"softmax", OP_FUNCTION, KF_INPLACE, softmax_prepare, softmax_run},
    {"log_softmax", OP_FUNCTION, KF_INPLACE, softmax_prepare, softmax_run},
    {"Softmin", OP_MODULE, KF_INPLACE, softmax_prepare, softmax_run},
    {"softmin", OP_FUNCTION, KF_INPLACE, softmax_prepare, softmax_run},
    {"LogSoftmax", OP_MODULE, KF_INPLACE, softmax_prepare, softmax_run},
    {"Softmax2d", OP_MODULE, KF_INPLACE, softmax_prepare, softmax_run},
    {"PReLU", OP_MODULE, KF_INPLACE, prelu_prepare, prelu_run},
    {"prelu", OP_FUNCTION, KF_INPLACE, prelu_prepare, prelu_run},
    {"GLU", OP_MODULE, 0, glu_prepare, glu_run},
    {"glu", OP_FUNCTION, 0, glu_prepare, glu_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
