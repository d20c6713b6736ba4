/* registry_act.c - activations: ReLU, GELU, Softmax, ... and their functions. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

/* ---- activations, dropout, identity ---- */

/* The attribute sets of the ACTIVATIONS lines: the module type's
 * constructor keywords with PyTorch's defaults. A float attribute is also
 * the function's argument of that name, at its position in the
 * constructor (after the input): F.elu(x, alpha), F.hardtanh(x, min_val,
 * max_val). */
static const struct attr_spec inplace_attrs[] = {{"inplace", AT_BOOL, "False"}};
static const struct attr_spec alpha_attrs[] = {{"alpha", AT_FLOAT, "1.0"},
                                               {"inplace", AT_BOOL, "False"}};
static const struct attr_spec leaky_relu_attrs[] = {{"negative_slope", AT_FLOAT, "0.01"},
                                                    {"inplace", AT_BOOL, "False"}};
static const struct attr_spec rrelu_attrs[] = {{"lower", AT_FLOAT, "0.125"},
                                               {"upper", AT_FLOAT, "0.3333333333333333"},
                                               {"inplace", AT_BOOL, "False"}};
static const struct attr_spec softplus_attrs[] = {{"beta", AT_FLOAT, "1.0"},
                                                  {"threshold", AT_FLOAT, "20.0"}};
static const struct attr_spec lambd_attrs[] = {{"lambd", AT_FLOAT, "0.5"}};
static const struct attr_spec hardtanh_attrs[] = {
    {"min_val", AT_FLOAT, "-1.0"}, {"max_val", AT_FLOAT, "1.0"}, {"inplace", AT_BOOL, "False"}};
static const struct attr_spec threshold_attrs[] = {
    {"threshold", AT_FLOAT, NULL}, {"value", AT_FLOAT, NULL}, {"inplace", AT_BOOL, "False"}};

#define ACT_ATTRS(set)                                                                             \
	.attrs = set##_attrs, .nattrs = (int)(sizeof set##_attrs / sizeof *set##_attrs)
#define ACT_ATTRS_NONE      .attrs = NULL, .nattrs = 0
#define ACT_ATTRS_INPLACE   ACT_ATTRS(inplace)
#define ACT_ATTRS_ALPHA     ACT_ATTRS(alpha)
#define ACT_ATTRS_LEAKY     ACT_ATTRS(leaky_relu)
#define ACT_ATTRS_RRELU     ACT_ATTRS(rrelu)
#define ACT_ATTRS_SOFTPLUS  ACT_ATTRS(softplus)
#define ACT_ATTRS_LAMBD     ACT_ATTRS(lambd)
#define ACT_ATTRS_HARDTANH  ACT_ATTRS(hardtanh)
#define ACT_ATTRS_THRESHOLD ACT_ATTRS(threshold)

/* The elementwise activations that are a module type without parameters and
 * a function of one tensor, one line each:
 *
 *   X(function, module type, PyTorch callable, attributes, formula)
 *
 * The function is written as PyTorch names it (F.silu's `silu`); the
 * callable is what export-py writes for a call of it; the attributes are
 * one of the sets above (ACT_ATTRS_*: INPLACE is the module's
 * `inplace=False`) or NONE. Each line is also a line of the kernels'
 * KACT_FUSABLE list (exec/kernels_act.h), whose formulas read the first two
 * float attributes. */
#define ACTIVATIONS(X)                                                                             \
	X(relu, "ReLU", "F.relu", INPLACE, "max(x, 0)")                                            \
	X(relu6, "ReLU6", "F.relu6", INPLACE, "min(max(x, 0), 6)")                                 \
	X(silu, "SiLU", "F.silu", INPLACE, "x * sigmoid(x)")                                       \
	X(hardswish, "Hardswish", "F.hardswish", INPLACE, "x * relu6(x + 3) / 6")                  \
	X(hardsigmoid, "Hardsigmoid", "F.hardsigmoid", INPLACE, "relu6(x + 3) / 6")                \
	X(sigmoid, "Sigmoid", "torch.sigmoid", NONE, "1 / (1 + exp(-x))")                          \
	X(tanh, "Tanh", "torch.tanh", NONE, "tanh(x)")                                             \
	X(leaky_relu, "LeakyReLU", "F.leaky_relu", LEAKY,                                          \
	  "max(x, 0) + negative_slope * min(x, 0)")                                                \
	X(rrelu, "RReLU", "F.rrelu", RRELU, "x if x >= 0 else x * (lower + upper) / 2 (eval)")     \
	X(elu, "ELU", "F.elu", ALPHA, "x if x > 0 else alpha * (exp(x) - 1)")                      \
	X(celu, "CELU", "F.celu", ALPHA, "x if x > 0 else alpha * (exp(x / alpha) - 1)")           \
	X(selu, "SELU", "F.selu", INPLACE, "1.0507 * (x if x > 0 else 1.67326 * (exp(x) - 1))")    \
	X(mish, "Mish", "F.mish", INPLACE, "x * tanh(softplus(x))")                                \
	X(softplus, "Softplus", "F.softplus", SOFTPLUS,                                            \
	  "log(1 + exp(beta * x)) / beta, or x where beta * x > threshold")                        \
	X(logsigmoid, "LogSigmoid", "F.logsigmoid", NONE, "log(sigmoid(x))")                       \
	X(softsign, "Softsign", "F.softsign", NONE, "x / (1 + |x|)")                               \
	X(tanhshrink, "Tanhshrink", "F.tanhshrink", NONE, "x - tanh(x)")                           \
	X(softshrink, "Softshrink", "F.softshrink", LAMBD,                                         \
	  "x - lambd if x > lambd, x + lambd if x < -lambd, else 0")                               \
	X(hardshrink, "Hardshrink", "F.hardshrink", LAMBD, "x if |x| > lambd else 0")              \
	X(hardtanh, "Hardtanh", "F.hardtanh", HARDTANH, "clamp(x, min_val, max_val)")              \
	X(threshold, "Threshold", "F.threshold", THRESHOLD, "x if x > threshold else value")

/* The float attributes, "0.01" or "-1, 1"; nothing for the others. */
static void activation_describe(const struct module *m, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < m->def->nattrs; i++)
		if (m->def->attrs[i].type == AT_FLOAT)
			op_append(buf, size, "%s%g", buf[0] ? ", " : "",
			          module_attr_float(m, m->def->attrs[i].name, 0));
}

/* The function of an activation line: its float arguments are numbers
 * (the required ones present), and training=True (rrelu's random slopes)
 * is refused; the output is like the input. */
static int activation_function(struct op_call *c, const struct op_def *module_def)
{
	for (int i = 0; i < module_def->nattrs; i++) {
		const struct attr_spec *spec = &module_def->attrs[i];
		if (spec->type != AT_FLOAT)
			continue;
		const struct value *v = op_arg(c, i + 1, spec->name);
		double d;
		if (!v && !spec->def)
			return op_fail(c, "%s() needs %s", op_fn_name(c), spec->name);
		if (v && !value_number(v, &d))
			return op_fail(c, "%s(): %s must be a number", op_fn_name(c), spec->name);
	}
	const struct value *t = op_arg(c, -1, "training");
	if (t && t->kind == VAL_BOOL && t->u.b)
		return op_fail(c, "%s(training=True) draws random values; graft computes eval mode",
		               op_fn_name(c));
	return op_same(c);
}

#define ACTIVATION_DEFS(fn, type, callable, attrs, formula)                                        \
	static const struct op_def def_##fn = {                                                    \
	    .name = type,                                                                          \
	    .kind = OP_MODULE,                                                                     \
	    .doc = formula,                                                                        \
	    ACT_ATTRS_##attrs,                                                                     \
	    .infer = op_same_as_input,                                                             \
	    .describe = activation_describe,                                                       \
	};                                                                                         \
	static int fn_infer_##fn(struct op_call *c)                                                \
	{                                                                                          \
		return activation_function(c, &def_##fn);                                          \
	}                                                                                          \
	static const struct op_def fn_def_##fn = {                                                 \
	    .name = #fn,                                                                           \
	    .kind = OP_FUNCTION,                                                                   \
	    .doc = formula,                                                                        \
	    .infer = fn_infer_##fn,                                                                \
	    .py = callable,                                                                        \
	};
#define ACTIVATION_POINTERS(fn, type, callable, attrs, formula) &def_##fn, &fn_def_##fn,

ACTIVATIONS(ACTIVATION_DEFS)

static const struct attr_spec gelu_attrs[] = {
    {"approximate", AT_STR, "'none'"},
};

static int gelu_check(struct module *m, struct error *e)
{
	const char *a = module_attr_str(m, "approximate", "none");
	if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0)
		return error_set(e, "GELU: approximate must be 'none' or 'tanh', got '%s'", a);
	return 0;
}

static void gelu_describe(const struct module *m, char *buf, size_t size)
{
	const char *a = module_attr_str(m, "approximate", "none");
	snprintf(buf, size, "%s", strcmp(a, "none") == 0 ? "" : a);
}

static const struct op_def def_gelu = {
    .name = "GELU",
    .kind = OP_MODULE,
    .doc = "x * Phi(x), or its tanh approximation",
    .attrs = gelu_attrs,
    .nattrs = 1,
    .infer = op_same_as_input,
    .describe = gelu_describe,
    .check = gelu_check,
};

static const struct attr_spec softmax_attrs[] = {
    {"dim", AT_INT_OR_NONE, "None"},
};

static int softmax_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	const struct value *d = module_attr(c->module, "dim");
	int dim;
	if (d && d->kind == VAL_INT && op_dim(c, d->u.i, op_shape(x)->ndim, &dim) < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static void softmax_describe(const struct module *m, char *buf, size_t size)
{
	const struct value *d = module_attr(m, "dim");
	if (d && d->kind == VAL_INT)
		snprintf(buf, size, "dim=%lld", (long long)d->u.i);
	else
		buf[0] = '\0';
}

static const struct op_def def_softmax = {
    .name = "Softmax",
    .kind = OP_MODULE,
    .doc = "exp(x) / sum(exp(x)) along dim",
    .attrs = softmax_attrs,
    .nattrs = 1,
    .infer = softmax_infer,
    .describe = softmax_describe,
};

static const struct op_def def_softmin = {
    .name = "Softmin",
    .kind = OP_MODULE,
    .doc = "exp(-x) / sum(exp(-x)) along dim",
    .attrs = softmax_attrs,
    .nattrs = 1,
    .infer = softmax_infer,
    .describe = softmax_describe,
};

static const struct op_def def_log_softmax = {
    .name = "LogSoftmax",
    .kind = OP_MODULE,
    .doc = "x - log(sum(exp(x))) along dim",
    .attrs = softmax_attrs,
    .nattrs = 1,
    .infer = softmax_infer,
    .describe = softmax_describe,
};

/* Softmax over the channels of a [C, H, W] or [N, C, H, W] input. */
static int softmax2d_infer(struct op_call *c)
{
	const struct value *x = op_input_rank(c, 3, 4, "3-D or 4-D");
	if (!x)
		return -1;
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static const struct op_def def_softmax2d = {
    .name = "Softmax2d",
    .kind = OP_MODULE,
    .doc = "softmax over the channels at each location (dim -3)",
    .infer = softmax2d_infer,
};

/* GLU: the input's dim split in halves a and b, a * sigmoid(b). */
static int glu_shape(struct op_call *c, const struct value *x, int64_t d)
{
	struct shape s = *op_shape(x);
	int dim;
	if (s.ndim == 0)
		return op_mismatch(c, "glu does not take a 0-D input");
	if (op_dim(c, d, s.ndim, &dim) < 0)
		return -1;
	if (s.dim[dim] % 2)
		return op_mismatch(c, "glu halves dimension %d, whose size %lld is odd", dim,
		                   (long long)s.dim[dim]);
	s.dim[dim] /= 2;
	return op_out_like(c, x, &s);
}

static const struct attr_spec glu_attrs[] = {
    {"dim", AT_INT, "-1"},
};

static int glu_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	return x ? glu_shape(c, x, module_attr_int(c->module, "dim", -1)) : -1;
}

static void glu_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "dim=%lld", (long long)module_attr_int(m, "dim", -1));
}

static const struct op_def def_glu = {
    .name = "GLU",
    .kind = OP_MODULE,
    .doc = "a * sigmoid(b), a and b the halves of the input along dim",
    .attrs = glu_attrs,
    .nattrs = 1,
    .infer = glu_infer,
    .describe = glu_describe,
};

static int fn_glu(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d;
	if (!x || op_int(c, 1, "dim", -1, &d) < 0)
		return -1;
	return glu_shape(c, x, d);
}

/* PReLU: max(x, 0) + weight * min(x, 0), one weight or one per channel
 * (dimension 1; an input of fewer dimensions has one channel). */
static const struct attr_spec prelu_attrs[] = {
    {"num_parameters", AT_INT, "1"},
    {"init", AT_FLOAT, "0.25"},
};

static int prelu_check(struct module *m, struct error *e)
{
	return op_check_positive(m, "num_parameters", e);
}

static int prelu_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t n = module_attr_int(m, "num_parameters", 1);
	op_add_param(m, "weight", 1, &n, false);
	return 0;
}

static int prelu_init(struct module *m, struct rng *r, struct error *e)
{
	(void)r;
	(void)e;
	init_constant(module_param(m, "weight"), module_attr_float(m, "init", 0.25));
	return 0;
}

static int64_t prelu_channels(const struct value *x)
{
	return op_shape(x)->ndim >= 2 ? op_shape(x)->dim[1] : 1;
}

static int prelu_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	int64_t n = module_attr_int(c->module, "num_parameters", 1);
	if (n != 1 && n != prelu_channels(x)) {
		char desc[64];
		snprintf(desc, sizeof desc, "PReLU(num_parameters=%lld)", (long long)n);
		return op_break(c, x, desc, "%lld channels", (long long)prelu_channels(x));
	}
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static void prelu_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld", (long long)module_attr_int(m, "num_parameters", 1));
}

static const struct op_def def_prelu = {
    .name = "PReLU",
    .kind = OP_MODULE,
    .doc = "max(x, 0) + weight * min(x, 0), a learned slope per channel or one",
    .attrs = prelu_attrs,
    .nattrs = 2,
    .params = prelu_params,
    .infer = prelu_infer,
    .describe = prelu_describe,
    .check = prelu_check,
    .init = prelu_init,
};

static int fn_prelu(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *w = x ? op_tensor(c, 1, "weight") : NULL;
	if (!w)
		return -1;
	int64_t n = shape_numel(op_shape(w));
	if (n != 1 && n != prelu_channels(x))
		return op_mismatch(c, "prelu(): %lld weights for %lld channels", (long long)n,
		                   (long long)prelu_channels(x));
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static int fn_gelu(struct op_call *c)
{
	const struct value *a = op_arg(c, -1, "approximate");
	if (a && (a->kind != VAL_STR || (strcmp(a->u.s, "none") && strcmp(a->u.s, "tanh"))))
		return op_fail(c, "gelu(): approximate must be 'none' or 'tanh'");
	return op_same(c);
}

static int fn_softmax(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct value *dv = op_arg(c, 1, "dim");
	int dim;
	if (dv && dv->kind != VAL_NONE && dv->kind != VAL_INT)
		return op_fail(c, "%s() needs an int dim", op_fn_name(c));
	int64_t d = dv && dv->kind == VAL_INT ? dv->u.i : op_softmax_default_dim(op_shape(x)->ndim);
	if (op_dim(c, d, op_shape(x)->ndim, &dim) < 0)
		return -1;
	enum dtype dt = op_dtype(x);
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	op_out_tensor(c, dt, op_shape(x), x);
	return 0;
}

/* ---- the table ---- */

REGISTRY_FUNCTION(relu_, op_same, "relu_(x), in place");
REGISTRY_FUNCTION(gelu, fn_gelu, "gelu(x, approximate='none')");
REGISTRY_FUNCTION(exp, op_same, "exp(x)");
REGISTRY_FUNCTION(softmax, fn_softmax, "softmax(x, dim)");
REGISTRY_FUNCTION(log_softmax, fn_softmax, "log_softmax(x, dim)");

static const struct op_def fn_def_softmin = {
    .name = "softmin",
    .kind = OP_FUNCTION,
    .doc = "softmin(x, dim): softmax(-x, dim)",
    .infer = fn_softmax,
    .py = "F.softmin",
};

static const struct op_def fn_def_glu = {
    .name = "glu",
    .kind = OP_FUNCTION,
    .doc = "glu(x, dim=-1)",
    .infer = fn_glu,
    .py = "F.glu",
};

static const struct op_def fn_def_prelu = {
    .name = "prelu",
    .kind = OP_FUNCTION,
    .doc = "prelu(x, weight)",
    .infer = fn_prelu,
    .py = "F.prelu",
};

const struct op_def *const registry_act_defs[] = {
    ACTIVATIONS(ACTIVATION_POINTERS) &def_gelu, &def_softmax, &def_softmin, &def_log_softmax,
    &def_softmax2d, &def_glu, &def_prelu, &fn_def_relu_, &fn_def_gelu, &fn_def_exp,
    &fn_def_softmax, &fn_def_log_softmax, &fn_def_softmin, &fn_def_glu, &fn_def_prelu, NULL,
};
