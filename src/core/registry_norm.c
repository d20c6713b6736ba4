/* registry_norm.c - normalisation: BatchNorm, LayerNorm, GroupNorm and their functions. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

/* ---- BatchNorm1d, BatchNorm2d ---- */

static const struct attr_spec batchnorm_attrs[] = {
    {"num_features", AT_INT, NULL},           {"eps", AT_FLOAT, "1e-05"},
    {"momentum", AT_FLOAT_OR_NONE, "0.1"},    {"affine", AT_BOOL, "True"},
    {"track_running_stats", AT_BOOL, "True"},
};

static int batchnorm_check(struct module *m, struct error *e)
{
	return op_check_positive(m, "num_features", e);
}

static int batchnorm_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t c = module_attr_int(m, "num_features", 1);
	if (module_attr_bool(m, "affine", true)) {
		op_add_param(m, "weight", 1, &c, false);
		op_add_param(m, "bias", 1, &c, false);
	}
	if (module_attr_bool(m, "track_running_stats", true)) {
		op_add_param(m, "running_mean", 1, &c, true);
		op_add_param(m, "running_var", 1, &c, true);
		struct shape scalar = {.ndim = 0};
		module_add_param(m, "num_batches_tracked", DT_I64, &scalar, true);
	}
	return 0;
}

/* reset_running_stats and reset_parameters: no draws. */
static int batchnorm_init(struct module *m, struct rng *r, struct error *e)
{
	(void)r;
	(void)e;
	struct param *p;
	if ((p = module_param(m, "weight")))
		init_constant(p, 1.0);
	if ((p = module_param(m, "bias")))
		init_constant(p, 0.0);
	if ((p = module_param(m, "running_mean")))
		init_constant(p, 0.0);
	if ((p = module_param(m, "running_var")))
		init_constant(p, 1.0);
	return 0; /* num_batches_tracked keeps the zeros init_module gave it */
}

/* Checks dim 1 of x against the attribute `attr` (num_features, ...). */
static int check_channels(struct op_call *c, const struct value *x, const char *attr,
                          const char *unit)
{
	int64_t want = module_attr_int(c->module, attr, 0);
	int64_t got = op_shape(x)->dim[1];
	if (got == want)
		return 0;
	char desc[128];
	snprintf(desc, sizeof desc, "%s(%s=%lld)", c->def->name, attr, (long long)want);
	return op_break(c, x, desc, "%lld %s", (long long)got, unit);
}

static int batchnorm2d_infer(struct op_call *c)
{
	const struct value *x = op_input_rank(c, 4, 4, "4-D");
	if (!x || check_channels(c, x, "num_features", "channels") < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static int batchnorm1d_infer(struct op_call *c)
{
	const struct value *x = op_input_rank(c, 2, 3, "2-D or 3-D");
	if (!x || check_channels(c, x, "num_features", "features") < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static void batchnorm_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld", (long long)module_attr_int(m, "num_features", 0));
	if (!module_attr_bool(m, "affine", true))
		op_append(buf, size, " no affine");
}

static const struct op_def def_batchnorm2d = {
    .name = "BatchNorm2d",
    .in_size_attr = "num_features",
    .in_size_dim = 1,
    .kind = OP_MODULE,
    .doc = "batch normalisation over the channels of [N, C, H, W]",
    .attrs = batchnorm_attrs,
    .nattrs = sizeof batchnorm_attrs / sizeof *batchnorm_attrs,
    .params = batchnorm_params,
    .infer = batchnorm2d_infer,
    .describe = batchnorm_describe,
    .check = batchnorm_check,
    .init = batchnorm_init,
};

static const struct op_def def_batchnorm1d = {
    .name = "BatchNorm1d",
    .in_size_attr = "num_features",
    .in_size_dim = 1,
    .kind = OP_MODULE,
    .doc = "batch normalisation over dim 1 of [N, C] or [N, C, L]",
    .attrs = batchnorm_attrs,
    .nattrs = sizeof batchnorm_attrs / sizeof *batchnorm_attrs,
    .params = batchnorm_params,
    .infer = batchnorm1d_infer,
    .describe = batchnorm_describe,
    .check = batchnorm_check,
    .init = batchnorm_init,
};

/* ---- LayerNorm, LayerNorm2d, GroupNorm ---- */

static const struct attr_spec layernorm_attrs[] = {
    {"normalized_shape", AT_INTS, NULL},
    {"eps", AT_FLOAT, "1e-05"},
    {"elementwise_affine", AT_BOOL, "True"},
};

static int layernorm_check(struct module *m, struct error *e)
{
	const struct value *v = module_attr(m, "normalized_shape");
	if (v->u.list.n < 1 || v->u.list.n > SHAPE_MAX_DIMS)
		return error_set(e, "%s: normalized_shape must have 1 to %d sizes", m->type,
		                 SHAPE_MAX_DIMS);
	for (int i = 0; i < v->u.list.n; i++)
		if (v->u.list.items[i].u.i <= 0)
			return error_set(e, "%s: normalized_shape sizes must be positive", m->type);
	return 0;
}

static int layernorm_params(struct module *m, struct error *e)
{
	(void)e;
	const struct value *v = module_attr(m, "normalized_shape");
	int64_t dims[SHAPE_MAX_DIMS];
	int n = v->u.list.n;
	for (int i = 0; i < n; i++)
		dims[i] = v->u.list.items[i].u.i;
	if (module_attr_bool(m, "elementwise_affine", true)) {
		op_add_param(m, "weight", n, dims, false);
		op_add_param(m, "bias", n, dims, false);
	}
	return 0;
}

/* LayerNorm's and GroupNorm's reset_parameters: weight ones, bias zeros. */
static int affine_init(struct module *m, struct rng *r, struct error *e)
{
	(void)r;
	(void)e;
	struct param *p;
	if ((p = module_param(m, "weight")))
		init_constant(p, 1.0);
	if ((p = module_param(m, "bias")))
		init_constant(p, 0.0);
	return 0;
}

/* "768" or "7x7". */
static void dims_text(const struct value *v, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < v->u.list.n; i++)
		op_append(buf, size, "%s%lld", i ? "x" : "", (long long)v->u.list.items[i].u.i);
}

static int layernorm_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	const struct value *ns = module_attr(c->module, "normalized_shape");
	const struct shape *xs = op_shape(x);
	int n = ns->u.list.n;
	bool ok = xs->ndim >= n;
	for (int i = 0; ok && i < n; i++)
		ok = xs->dim[xs->ndim - n + i] == ns->u.list.items[i].u.i;
	if (!ok) {
		char desc[128], t[96], sb[160];
		if (n == 1 && xs->ndim >= 1) {
			snprintf(desc, sizeof desc, "%s(normalized_shape=%lld)", c->def->name,
			         (long long)ns->u.list.items[0].u.i);
			return op_break(c, x, desc, "%lld features (%s)",
			                (long long)xs->dim[xs->ndim - 1],
			                shape_format(xs, sb, sizeof sb));
		}
		value_format(ns, t, sizeof t);
		snprintf(desc, sizeof desc, "%s(normalized_shape=%s)", c->def->name, t);
		return op_break(c, x, desc, "%s", shape_format(xs, sb, sizeof sb));
	}
	op_out_tensor(c, op_dtype(x), xs, x);
	return 0;
}

static int layernorm2d_check(struct module *m, struct error *e)
{
	if (layernorm_check(m, e) < 0)
		return -1;
	if (module_attr(m, "normalized_shape")->u.list.n != 1)
		return error_set(e, "LayerNorm2d: normalized_shape must be one size, the channels");
	return 0;
}

static int layernorm2d_infer(struct op_call *c)
{
	const struct value *x = op_input_rank(c, 4, 4, "4-D");
	if (!x)
		return -1;
	int64_t want = module_attr(c->module, "normalized_shape")->u.list.items[0].u.i;
	if (op_shape(x)->dim[1] != want) {
		char desc[128];
		snprintf(desc, sizeof desc, "LayerNorm2d(normalized_shape=%lld)", (long long)want);
		return op_break(c, x, desc, "%lld channels", (long long)op_shape(x)->dim[1]);
	}
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static void layernorm_describe(const struct module *m, char *buf, size_t size)
{
	dims_text(module_attr(m, "normalized_shape"), buf, size);
	if (!module_attr_bool(m, "elementwise_affine", true))
		op_append(buf, size, " no affine");
}

static const struct op_def def_layernorm = {
    .name = "LayerNorm",
    .in_size_attr = "normalized_shape",
    .in_size_dim = -1,
    .kind = OP_MODULE,
    .doc = "layer normalisation over the trailing normalized_shape dimensions",
    .attrs = layernorm_attrs,
    .nattrs = sizeof layernorm_attrs / sizeof *layernorm_attrs,
    .params = layernorm_params,
    .infer = layernorm_infer,
    .describe = layernorm_describe,
    .check = layernorm_check,
    .init = affine_init,
};

static const struct op_def def_layernorm2d = {
    .name = "LayerNorm2d",
    .in_size_attr = "normalized_shape",
    .in_size_dim = 1,
    .kind = OP_MODULE,
    .doc = "LayerNorm over the channels of [N, C, H, W] (torchvision ConvNeXt)",
    .attrs = layernorm_attrs,
    .nattrs = sizeof layernorm_attrs / sizeof *layernorm_attrs,
    .params = layernorm_params,
    .infer = layernorm2d_infer,
    .describe = layernorm_describe,
    .check = layernorm2d_check,
    .init = affine_init,
};

static const struct attr_spec groupnorm_attrs[] = {
    {"num_groups", AT_INT, NULL},
    {"num_channels", AT_INT, NULL},
    {"eps", AT_FLOAT, "1e-05"},
    {"affine", AT_BOOL, "True"},
};

static int groupnorm_check(struct module *m, struct error *e)
{
	if (op_check_positive(m, "num_groups", e) || op_check_positive(m, "num_channels", e))
		return -1;
	if (module_attr_int(m, "num_channels", 1) % module_attr_int(m, "num_groups", 1))
		return error_set(e, "GroupNorm: num_channels must be divisible by num_groups");
	return 0;
}

static int groupnorm_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t c = module_attr_int(m, "num_channels", 1);
	if (module_attr_bool(m, "affine", true)) {
		op_add_param(m, "weight", 1, &c, false);
		op_add_param(m, "bias", 1, &c, false);
	}
	return 0;
}

static int groupnorm_infer(struct op_call *c)
{
	const struct value *x = op_input_rank(c, 2, SHAPE_MAX_DIMS, "at least 2-D");
	if (!x || check_channels(c, x, "num_channels", "channels") < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static void groupnorm_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld g%lld", (long long)module_attr_int(m, "num_channels", 0),
	         (long long)module_attr_int(m, "num_groups", 0));
	if (!module_attr_bool(m, "affine", true))
		op_append(buf, size, " no affine");
}

static const struct op_def def_groupnorm = {
    .name = "GroupNorm",
    .in_size_attr = "num_channels",
    .in_size_dim = 1,
    .kind = OP_MODULE,
    .doc = "group normalisation over dim 1 split into num_groups",
    .attrs = groupnorm_attrs,
    .nattrs = sizeof groupnorm_attrs / sizeof *groupnorm_attrs,
    .params = groupnorm_params,
    .infer = groupnorm_infer,
    .describe = groupnorm_describe,
    .check = groupnorm_check,
    .init = affine_init,
};

static int fn_normalize(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d;
	int dim;
	if (!x || op_int(c, 2, "dim", 1, &d) < 0 || op_dim(c, d, op_shape(x)->ndim, &dim) < 0)
		return -1;
	return op_same(c);
}

static int fn_layer_norm(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	int64_t ns[SHAPE_MAX_DIMS];
	int n = op_int_list(c, 1, "normalized_shape", false, ns, SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	bool ok = xs->ndim >= n;
	for (int i = 0; ok && i < n; i++)
		ok = xs->dim[xs->ndim - n + i] == ns[i];
	if (!ok) {
		char sb[160], want[160];
		struct shape w = {.ndim = n};
		memcpy(w.dim, ns, (size_t)n * sizeof *ns);
		char desc[200];
		snprintf(desc, sizeof desc, "layer_norm(normalized_shape=%s)",
		         shape_format(&w, want, sizeof want));
		return op_break(c, x, desc, "%s", shape_format(xs, sb, sizeof sb));
	}
	return op_same(c);
}

static int fn_batch_norm(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *rm;
	if (!x || op_optional_tensor(c, 1, "running_mean", &rm) < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	if (xs->ndim < 2)
		return op_break(c, x, "batch_norm", "a %d-D input (needs at least 2-D)", xs->ndim);
	if (rm && shape_numel(op_shape(rm)) != xs->dim[1]) {
		char desc[96];
		snprintf(desc, sizeof desc, "batch_norm(running_mean of %lld)",
		         (long long)shape_numel(op_shape(rm)));
		return op_break(c, x, desc, "%lld channels", (long long)xs->dim[1]);
	}
	return op_same(c);
}

/* ---- the table ---- */

REGISTRY_FUNCTION(normalize, fn_normalize, "normalize(x, p=2.0, dim=1)");
REGISTRY_FUNCTION(layer_norm, fn_layer_norm, "layer_norm(x, normalized_shape, weight, bias, eps)");
REGISTRY_FUNCTION(batch_norm, fn_batch_norm, "batch_norm(x, running_mean, running_var, ...)");

const struct op_def *const registry_norm_defs[] = {
    &def_batchnorm1d,   &def_batchnorm2d,   &def_layernorm,
    &def_layernorm2d,   &def_groupnorm,     &fn_def_normalize,
    &fn_def_layer_norm, &fn_def_batch_norm, NULL,
};
