/* registry_norm.c - normalisation: BatchNorm, InstanceNorm, LayerNorm, GroupNorm, local
 * response norms, torchvision's FrozenBatchNorm2d and their functions. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

/* ---- BatchNorm1d/2d/3d, SyncBatchNorm, InstanceNorm1d/2d/3d ---- */

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

/* Checks dim `dim` of x against the attribute `attr` (num_features, ...). */
static int check_channels(struct op_call *c, const struct value *x, const char *attr,
                          const char *unit, int dim)
{
	int64_t want = module_attr_int(c->module, attr, 0);
	int64_t got = op_shape(x)->dim[dim];
	if (got == want)
		return 0;
	char desc[128];
	snprintf(desc, sizeof desc, "%s(%s=%lld)", c->def->name, attr, (long long)want);
	return op_break(c, x, desc, "%lld %s", (long long)got, unit);
}

/* A per-channel normalisation's shape rule: an input of rank [lo, hi]
 * whose channels (dim 1, or dim 0 of an unbatched input of rank lo when
 * `unbatched`) equal num_features when `check` is set; the same output. */
static int norm_infer(struct op_call *c, int lo, int hi, const char *what, bool unbatched,
                      bool check)
{
	const struct value *x = op_input_rank(c, lo, hi, what);
	if (!x)
		return -1;
	int cdim = unbatched && op_shape(x)->ndim == lo ? 0 : 1;
	if (check &&
	    check_channels(c, x, "num_features", lo == 2 ? "features" : "channels", cdim) < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

static int batchnorm1d_infer(struct op_call *c)
{
	return norm_infer(c, 2, 3, "2-D or 3-D", false, true);
}

static int batchnorm2d_infer(struct op_call *c)
{
	return norm_infer(c, 4, 4, "4-D", false, true);
}

static int batchnorm3d_infer(struct op_call *c)
{
	return norm_infer(c, 5, 5, "5-D", false, true);
}

static int syncbatchnorm_infer(struct op_call *c)
{
	return norm_infer(c, 2, SHAPE_MAX_DIMS, "at least 2-D", false, true);
}

/* InstanceNorm: the channels matter only when there are weights or running
 * statistics (PyTorch only warns otherwise). */
static bool instancenorm_checks(const struct op_call *c)
{
	return module_attr_bool(c->module, "affine", false) ||
	       module_attr_bool(c->module, "track_running_stats", false);
}

static int instancenorm1d_infer(struct op_call *c)
{
	return norm_infer(c, 2, 3, "2-D or 3-D", true, instancenorm_checks(c));
}

static int instancenorm2d_infer(struct op_call *c)
{
	return norm_infer(c, 3, 4, "3-D or 4-D", true, instancenorm_checks(c));
}

static int instancenorm3d_infer(struct op_call *c)
{
	return norm_infer(c, 4, 5, "4-D or 5-D", true, instancenorm_checks(c));
}

/* "64", with what differs from the type's defaults: " no affine" for a
 * BatchNorm, " affine" for an InstanceNorm. */
static void batchnorm_describe(const struct module *m, char *buf, size_t size)
{
	bool instance = strncmp(m->type, "InstanceNorm", 12) == 0;
	snprintf(buf, size, "%lld", (long long)module_attr_int(m, "num_features", 0));
	if (module_attr_bool(m, "affine", !instance) != !instance)
		op_append(buf, size, instance ? " affine" : " no affine");
	if (module_attr_bool(m, "track_running_stats", !instance) != !instance)
		op_append(buf, size, instance ? " running stats" : " no running stats");
}

/* A module type with BatchNorm's parameters, init and description. */
#define BATCHNORM_DEF(id, type, doc_, infer_, attrs_)                                              \
	static const struct op_def def_##id = {                                                    \
	    .name = type,                                                                          \
	    .in_size_attr = "num_features",                                                        \
	    .in_size_dim = 1,                                                                      \
	    .kind = OP_MODULE,                                                                     \
	    .doc = doc_,                                                                           \
	    .attrs = attrs_,                                                                       \
	    .nattrs = sizeof attrs_ / sizeof *attrs_,                                              \
	    .params = batchnorm_params,                                                            \
	    .infer = infer_,                                                                       \
	    .describe = batchnorm_describe,                                                        \
	    .check = batchnorm_check,                                                              \
	    .init = batchnorm_init,                                                                \
	}

BATCHNORM_DEF(batchnorm1d, "BatchNorm1d", "batch normalisation over dim 1 of [N, C] or [N, C, L]",
              batchnorm1d_infer, batchnorm_attrs);
BATCHNORM_DEF(batchnorm2d, "BatchNorm2d", "batch normalisation over the channels of [N, C, H, W]",
              batchnorm2d_infer, batchnorm_attrs);
BATCHNORM_DEF(batchnorm3d, "BatchNorm3d",
              "batch normalisation over the channels of [N, C, D, H, W]", batchnorm3d_infer,
              batchnorm_attrs);
BATCHNORM_DEF(syncbatchnorm, "SyncBatchNorm",
              "batch normalisation over dim 1, synchronised across processes in training",
              syncbatchnorm_infer, batchnorm_attrs);

static const struct attr_spec instancenorm_attrs[] = {
    {"num_features", AT_INT, NULL},
    {"eps", AT_FLOAT, "1e-05"},
    {"momentum", AT_FLOAT_OR_NONE, "0.1"},
    {"affine", AT_BOOL, "False"},
    {"track_running_stats", AT_BOOL, "False"},
};

BATCHNORM_DEF(instancenorm1d, "InstanceNorm1d",
              "normalises each channel of each sample of [N, C, L] or [C, L]", instancenorm1d_infer,
              instancenorm_attrs);
BATCHNORM_DEF(instancenorm2d, "InstanceNorm2d",
              "normalises each channel of each sample of [N, C, H, W] or [C, H, W]",
              instancenorm2d_infer, instancenorm_attrs);
BATCHNORM_DEF(instancenorm3d, "InstanceNorm3d",
              "normalises each channel of each sample of [N, C, D, H, W] or [C, D, H, W]",
              instancenorm3d_infer, instancenorm_attrs);

/* ---- torchvision's FrozenBatchNorm2d: BatchNorm2d in eval, every tensor a buffer ---- */

static const struct attr_spec frozen_bn_attrs[] = {
    {"num_features", AT_INT, NULL},
    {"eps", AT_FLOAT, "1e-05"},
};

static int frozen_bn_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t c = module_attr_int(m, "num_features", 1);
	static const char *const names[] = {"weight", "bias", "running_mean", "running_var"};
	for (int i = 0; i < 4; i++)
		op_add_param(m, names[i], 1, &c, true);
	return 0;
}

static const struct op_def def_frozen_bn = {
    .name = "FrozenBatchNorm2d",
    .in_size_attr = "num_features",
    .in_size_dim = 1,
    .kind = OP_MODULE,
    .doc = "BatchNorm2d with fixed statistics and affine (torchvision.ops.misc)",
    .attrs = frozen_bn_attrs,
    .nattrs = sizeof frozen_bn_attrs / sizeof *frozen_bn_attrs,
    .params = frozen_bn_params,
    .infer = batchnorm2d_infer,
    .describe = batchnorm_describe,
    .check = batchnorm_check,
    .init = batchnorm_init,
};

/* ---- LocalResponseNorm, CrossMapLRN2d ---- */

static const struct attr_spec lrn_attrs[] = {
    {"size", AT_INT, NULL},
    {"alpha", AT_FLOAT, "0.0001"},
    {"beta", AT_FLOAT, "0.75"},
    {"k", AT_FLOAT, "1.0"},
};

static int lrn_check(struct module *m, struct error *e)
{
	return op_check_positive(m, "size", e);
}

static int lrn_infer(struct op_call *c)
{
	return op_input_rank(c, 3, SHAPE_MAX_DIMS, "at least 3-D") ? op_same(c) : -1;
}

static int cross_map_lrn_infer(struct op_call *c)
{
	return op_input_rank(c, 4, 4, "4-D") ? op_same(c) : -1;
}

static void lrn_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "size %lld a=%g b=%g k=%g", (long long)module_attr_int(m, "size", 0),
	         module_attr_float(m, "alpha", 1e-4), module_attr_float(m, "beta", 0.75),
	         module_attr_float(m, "k", 1));
}

static const struct op_def def_lrn = {
    .name = "LocalResponseNorm",
    .kind = OP_MODULE,
    .doc = "divides by the mean square over `size` neighbouring channels",
    .attrs = lrn_attrs,
    .nattrs = sizeof lrn_attrs / sizeof *lrn_attrs,
    .infer = lrn_infer,
    .describe = lrn_describe,
    .check = lrn_check,
};

static const struct op_def def_cross_map_lrn = {
    .name = "CrossMapLRN2d",
    .kind = OP_MODULE,
    .doc = "Lua Torch's cross-channel LRN over [N, C, H, W]",
    .attrs = lrn_attrs,
    .nattrs = sizeof lrn_attrs / sizeof *lrn_attrs,
    .infer = cross_map_lrn_infer,
    .describe = lrn_describe,
    .check = lrn_check,
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
	if (!x || check_channels(c, x, "num_channels", "channels", 1) < 0)
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

/* The per-channel tensors of a norm function (weight, running_mean, ...),
 * at the given positions, each None or of x's channels. */
static int check_channel_tensors(struct op_call *c, const struct value *x, const int *pos,
                                 const char *const *kw, int n)
{
	for (int i = 0; i < n; i++) {
		const struct value *t;
		if (op_optional_tensor(c, pos[i], kw[i], &t) < 0)
			return -1;
		if (t && shape_numel(op_shape(t)) != op_shape(x)->dim[1]) {
			char desc[128];
			snprintf(desc, sizeof desc, "%s(%s of %lld)", op_fn_name(c), kw[i],
			         (long long)shape_numel(op_shape(t)));
			return op_break(c, x, desc, "%lld channels",
			                (long long)op_shape(x)->dim[1]);
		}
	}
	return 0;
}

/* F.instance_norm(input, running_mean, running_var, weight, bias,
 * use_input_stats, momentum, eps) */
static int fn_instance_norm(struct op_call *c)
{
	static const int pos[] = {1, 2, 3, 4};
	static const char *const kw[] = {"running_mean", "running_var", "weight", "bias"};
	const struct value *x = op_input_rank(c, 3, SHAPE_MAX_DIMS, "at least 3-D");
	if (!x || check_channel_tensors(c, x, pos, kw, 4) < 0)
		return -1;
	return op_same(c);
}

/* F.group_norm(input, num_groups, weight, bias, eps) */
static int fn_group_norm(struct op_call *c)
{
	static const int pos[] = {2, 3};
	static const char *const kw[] = {"weight", "bias"};
	const struct value *x = op_input_rank(c, 2, SHAPE_MAX_DIMS, "at least 2-D");
	int64_t g;
	if (!x || op_int(c, 1, "num_groups", 0, &g) < 0 ||
	    check_channel_tensors(c, x, pos, kw, 2) < 0)
		return -1;
	if (g <= 0)
		return op_fail(c, "group_norm(): num_groups must be positive, got %lld",
		               (long long)g);
	if (op_shape(x)->dim[1] % g) {
		char desc[96];
		snprintf(desc, sizeof desc, "group_norm(num_groups=%lld)", (long long)g);
		return op_break(c, x, desc, "%lld channels (not divisible)",
		                (long long)op_shape(x)->dim[1]);
	}
	return op_same(c);
}

/* F.local_response_norm(input, size, alpha, beta, k) */
static int fn_local_response_norm(struct op_call *c)
{
	int64_t size;
	if (!op_input_rank(c, 3, SHAPE_MAX_DIMS, "at least 3-D") ||
	    op_int(c, 1, "size", 0, &size) < 0)
		return -1;
	if (size <= 0)
		return op_fail(c, "local_response_norm(): size must be positive, got %lld",
		               (long long)size);
	return op_same(c);
}

/* ---- the table ---- */

REGISTRY_FUNCTION(normalize, fn_normalize, "normalize(x, p=2.0, dim=1)");
REGISTRY_FUNCTION(layer_norm, fn_layer_norm, "layer_norm(x, normalized_shape, weight, bias, eps)");
REGISTRY_FUNCTION(batch_norm, fn_batch_norm, "batch_norm(x, running_mean, running_var, ...)");
REGISTRY_FUNCTION_PY(instance_norm, fn_instance_norm,
                     "instance_norm(x, running_mean=None, running_var=None, weight=None, "
                     "bias=None, use_input_stats=True, momentum=0.1, eps=1e-05)",
                     "F.instance_norm");
REGISTRY_FUNCTION_PY(group_norm, fn_group_norm,
                     "group_norm(x, num_groups, weight=None, bias=None, eps=1e-05)",
                     "F.group_norm");
REGISTRY_FUNCTION_PY(local_response_norm, fn_local_response_norm,
                     "local_response_norm(x, size, alpha=0.0001, beta=0.75, k=1.0)",
                     "F.local_response_norm");

const struct op_def *const registry_norm_defs[] = {
    &def_batchnorm1d,
    &def_batchnorm2d,
    &def_layernorm,
    &def_layernorm2d,
    &def_groupnorm,
    &fn_def_normalize,
    &fn_def_layer_norm,
    &fn_def_batch_norm,
    &def_batchnorm3d,
    &def_syncbatchnorm,
    &def_instancenorm1d,
    &def_instancenorm2d,
    &def_instancenorm3d,
    &def_frozen_bn,
    &def_lrn,
    &def_cross_map_lrn,
    &fn_def_instance_norm,
    &fn_def_group_norm,
    &fn_def_local_response_norm,
    NULL,
};
