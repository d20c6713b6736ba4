/* registry_act.c - activations: ReLU, GELU, Softmax, ... and their functions. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- activations, dropout, identity ---- */

static const struct attr_spec inplace_attrs[] = {
    {"inplace", AT_BOOL, "False"},
};

/* The elementwise activations that are a module type without parameters and
 * a function of one tensor, one line each:
 *
 *   X(function, module type, PyTorch callable, attributes, formula)
 *
 * The function is written as PyTorch names it (F.silu's `silu`); the
 * callable is what export-py writes for a call of it; the attributes are
 * INPLACE (the module's `inplace=False`) or NONE. Each line is also a line
 * of the kernels' KACT_FUSABLE list (exec/kernels_act.h). */
#define ACTIVATIONS(X)                                                                             \
	X(relu, "ReLU", "F.relu", INPLACE, "max(x, 0)")                                            \
	X(relu6, "ReLU6", "F.relu6", INPLACE, "min(max(x, 0), 6)")                                 \
	X(silu, "SiLU", "F.silu", INPLACE, "x * sigmoid(x)")                                       \
	X(hardswish, "Hardswish", "F.hardswish", INPLACE, "x * relu6(x + 3) / 6")                  \
	X(hardsigmoid, "Hardsigmoid", "F.hardsigmoid", INPLACE, "relu6(x + 3) / 6")                \
	X(sigmoid, "Sigmoid", "torch.sigmoid", NONE, "1 / (1 + exp(-x))")                          \
	X(tanh, "Tanh", "torch.tanh", NONE, "tanh(x)")

#define ACTIVATION_ATTRS_INPLACE .attrs = inplace_attrs, .nattrs = 1
#define ACTIVATION_ATTRS_NONE    .attrs = NULL, .nattrs = 0
#define ACTIVATION_DEFS(fn, type, callable, attrs, formula)                                        \
	static const struct op_def def_##fn = {                                                    \
	    .name = type,                                                                          \
	    .kind = OP_MODULE,                                                                     \
	    .doc = formula,                                                                        \
	    ACTIVATION_ATTRS_##attrs,                                                              \
	    .infer = op_same_as_input,                                                             \
	};                                                                                         \
	static const struct op_def fn_def_##fn = {                                                 \
	    .name = #fn,                                                                           \
	    .kind = OP_FUNCTION,                                                                   \
	    .doc = #fn "(x)",                                                                      \
	    .infer = op_same,                                                                      \
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

static const struct attr_spec leaky_relu_attrs[] = {
    {"negative_slope", AT_FLOAT, "0.01"},
    {"inplace", AT_BOOL, "False"},
};

static void leaky_relu_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%g", module_attr_float(m, "negative_slope", 0.01));
}

static const struct op_def def_leaky_relu = {
    .name = "LeakyReLU",
    .kind = OP_MODULE,
    .doc = "max(x, 0) + negative_slope * min(x, 0)",
    .attrs = leaky_relu_attrs,
    .nattrs = 2,
    .infer = op_same_as_input,
    .describe = leaky_relu_describe,
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
REGISTRY_FUNCTION(clamp, op_same, "clamp(x, min=None, max=None)");
REGISTRY_FUNCTION(leaky_relu, op_same, "leaky_relu(x, negative_slope=0.01)");
REGISTRY_FUNCTION(softmax, fn_softmax, "softmax(x, dim)");
REGISTRY_FUNCTION(log_softmax, fn_softmax, "log_softmax(x, dim)");

const struct op_def *const registry_act_defs[] = {
    ACTIVATIONS(ACTIVATION_POINTERS) &def_gelu, &def_leaky_relu, &def_softmax, &fn_def_relu_,
    &fn_def_gelu, &fn_def_exp, &fn_def_clamp, &fn_def_leaky_relu, &fn_def_softmax,
    &fn_def_log_softmax, NULL,
};
