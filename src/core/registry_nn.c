/* registry_nn.c - the module types graft knows: torch.nn layers and the few
 * torchvision ones its classifiers are built from.
 *
 * Each entry follows PyTorch exactly: attributes are the constructor's
 * keywords with its defaults, parameters are the state_dict's (parameters
 * first, then buffers, in registration order) with their shapes and dtypes,
 * and the shape rule accepts what forward() accepts.
 *
 * Mult-adds (MACs) count the multiply-accumulates of the products that
 * dominate the cost, per call, batch included:
 *   Conv2d              out_numel * in_channels/groups * kh * kw
 *   Linear              out_numel * in_features
 *   MultiheadAttention  its q, k, v and out projections, plus QK^T and
 *                       attention x V: 2 * N * L * S * embed_dim
 * Bias additions, normalisation, activations, pooling, dropout and layout
 * changes count 0.
 *
 * MultiheadAttention keeps its output projection as parameters named
 * "out_proj.weight" and "out_proj.bias" on itself rather than as a child
 * module (PyTorch's NonDynamicallyQuantizableLinear): the state_dict keys are
 * the same, and the type stays one leaf with one shape rule. */
#include "core/registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

/* ---- small helpers ---- */

/* Appends printf-style text to buf (always terminated). */
static void bcat(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bcat(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	if (len + 1 >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* "3" for a square pair, "1x7" otherwise. */
static const char *pair_text(const int64_t p[2], char *buf, size_t size)
{
	if (p[0] == p[1])
		snprintf(buf, size, "%lld", (long long)p[0]);
	else
		snprintf(buf, size, "%lldx%lld", (long long)p[0], (long long)p[1]);
	return buf;
}

static struct shape shape_of(int ndim, const int64_t *dims)
{
	struct shape s = {.ndim = ndim};
	for (int i = 0; i < ndim; i++)
		s.dim[i] = dims[i];
	return s;
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

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return INT64_MAX;
	return r;
}

/* numel of s, or -1 with a break when it is too large. */
static int64_t checked_numel(struct op_call *c, const struct shape *s)
{
	int64_t n = shape_numel(s);
	if (n < 0) {
		char sb[160];
		op_mismatch(c, "the output %s is too large", shape_format(s, sb, sizeof sb));
	}
	return n;
}

static const struct shape *tshape(const struct value *v)
{
	return &v->u.tensor.t.shape;
}

static enum dtype tdtype(const struct value *v)
{
	return v->u.tensor.t.dtype;
}

/* The input tensor, checked to have a rank in [lo, hi]. `what` names the
 * ranks in a break: "3-D or 4-D". */
static const struct value *input_rank(struct op_call *c, int lo, int hi, const char *what)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return NULL;
	int r = tshape(x)->ndim;
	if (r < lo || r > hi) {
		char sb[160];
		op_break(c, x, c->def->name, "%d-D %s (needs %s input)", r,
		         shape_format(tshape(x), sb, sizeof sb), what);
		return NULL;
	}
	return x;
}

static int check_positive(const struct module *m, const char *name, struct error *e)
{
	int64_t v = module_attr_int(m, name, 1);
	if (v <= 0)
		return error_set(e, "%s: %s must be positive, got %lld", m->type, name,
		                 (long long)v);
	return 0;
}

static int check_positive_pair(const struct module *m, const char *name, struct error *e)
{
	int64_t p[2];
	module_attr_ints(m, name, p, 2);
	if (p[0] <= 0 || p[1] <= 0)
		return error_set(e, "%s: %s must be positive, got (%lld, %lld)", m->type, name,
		                 (long long)p[0], (long long)p[1]);
	return 0;
}

static int check_probability(const struct module *m, const char *name, struct error *e)
{
	double p = module_attr_float(m, name, 0);
	if (!(p >= 0 && p <= 1))
		return error_set(e, "%s: %s must be between 0 and 1, got %g", m->type, name, p);
	return 0;
}

/* Sets an attribute to a pair of ints. */
static void set_pair(struct module *m, const char *name, const int64_t p[2])
{
	struct value v = value_list(2);
	v.u.list.items[0] = value_int(p[0]);
	v.u.list.items[1] = value_int(p[1]);
	module_set_attr(m, name, &v);
	value_free(&v);
}

/* Reads an int or pair of ints or None (when none_ok) from v into p;
 * None gives -1s. */
static int read_pair(const struct value *v, int64_t p[2], bool none_ok)
{
	if (v->kind == VAL_NONE && none_ok) {
		p[0] = p[1] = -1;
		return 0;
	}
	return value_ints(v, p, 2);
}

static void add_param(struct module *m, const char *name, int ndim, const int64_t *dims,
                      bool buffer)
{
	struct shape s = shape_of(ndim, dims);
	module_add_param(m, name, DT_F32, &s, buffer);
}

/* The same shape and dtype as the input, its origin kept. */
static int same_as_input(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	op_out_tensor(c, tdtype(x), tshape(x), x);
	return 0;
}

/* Runs the function `fn` on the given arguments for this module call. */
static int delegate(struct op_call *c, const char *fn, const struct value *args, int nargs)
{
	struct op_call f = *c;
	f.def = registry_function(fn);
	if (!f.def)
	{
		char path[2600];
		return error_setk(c->err, ERR_INTERNAL, "%s: no function '%s'",
				  op_path(c, path, sizeof path), fn);
	}
	f.args = args;
	f.nargs = nargs;
	f.kwargs = NULL;
	f.nkwargs = 0;
	f.out = value_none();
	f.macs = 0;
	value_free(&c->out);
	int rc = f.def->infer(&f);
	c->out = f.out;
	c->macs = f.macs;
	return rc;
}

/* ---- Conv2d ---- */

static const struct attr_spec conv2d_attrs[] = {
    {"in_channels", AT_INT, NULL},
    {"out_channels", AT_INT, NULL},
    {"kernel_size", AT_INT_PAIR, NULL},
    {"stride", AT_INT_PAIR, "1"},
    {"padding", AT_PADDING, "0"},
    {"dilation", AT_INT_PAIR, "1"},
    {"groups", AT_INT, "1"},
    {"bias", AT_BOOL, "True"},
    {"padding_mode", AT_STR, "'zeros'"},
};

static int conv2d_check(struct module *m, struct error *e)
{
	if (check_positive(m, "in_channels", e) || check_positive(m, "out_channels", e) ||
	    check_positive(m, "groups", e) || check_positive_pair(m, "kernel_size", e) ||
	    check_positive_pair(m, "stride", e) || check_positive_pair(m, "dilation", e))
		return -1;
	int64_t g = module_attr_int(m, "groups", 1);
	if (module_attr_int(m, "in_channels", 1) % g)
		return error_set(e, "Conv2d: in_channels must be divisible by groups");
	if (module_attr_int(m, "out_channels", 1) % g)
		return error_set(e, "Conv2d: out_channels must be divisible by groups");
	const struct value *pad = module_attr(m, "padding");
	if (pad->kind == VAL_STR) {
		int64_t s[2];
		module_attr_ints(m, "stride", s, 2);
		if (strcmp(pad->u.s, "same") == 0 && (s[0] != 1 || s[1] != 1))
			return error_set(e, "Conv2d: padding='same' is not supported for strided "
			                    "convolutions");
	} else {
		int64_t p[2];
		module_attr_ints(m, "padding", p, 2);
		if (p[0] < 0 || p[1] < 0)
			return error_set(e, "Conv2d: padding must be non-negative");
	}
	const char *mode = module_attr_str(m, "padding_mode", "zeros");
	static const char *const modes[] = {"zeros", "reflect", "replicate", "circular"};
	for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
		if (strcmp(mode, modes[i]) == 0)
			return 0;
	return error_set(e,
	                 "Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or "
	                 "'circular', got '%s'",
	                 mode);
}

static int conv2d_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t k[2], out = module_attr_int(m, "out_channels", 1);
	module_attr_ints(m, "kernel_size", k, 2);
	int64_t w[4] = {out, module_attr_int(m, "in_channels", 1) / module_attr_int(m, "groups", 1),
	                k[0], k[1]};
	add_param(m, "weight", 4, w, false);
	if (module_attr_bool(m, "bias", true))
		add_param(m, "bias", 1, &out, false);
	return 0;
}

/* _ConvNd.reset_parameters. */
static int conv2d_init(struct module *m, struct rng *r, struct error *e)
{
	struct param *w = init_param(m, "weight", e);
	return w ? init_linear_reset(w, module_param(m, "bias"), r, e) : -1;
}

/* Left and right padding of one dimension for a padding attribute or
 * argument: an int pair, 'valid' or 'same'. */
static void conv_padding(const struct value *pad, int i, int64_t k, int64_t d, int64_t *l,
                         int64_t *r)
{
	if (pad->kind == VAL_STR) {
		if (strcmp(pad->u.s, "same") == 0) {
			int64_t total = d * (k - 1);
			*l = total / 2;
			*r = total - *l;
		} else {
			*l = *r = 0;
		}
		return;
	}
	int64_t p[2] = {0, 0};
	value_ints(pad, p, 2);
	*l = *r = p[i];
}

/* Names the convolution in a break: its channels (size false) or its
 * kernel, padding and dilation (size true). Built only when it breaks. */
static void conv_desc(const struct op_call *c, bool size, int64_t in, const int64_t k[2],
                      const struct value *pad, const int64_t d[2], int64_t groups, char *buf,
                      size_t n)
{
	if (!c->module) {
		const struct value *w = op_arg(c, 1, "weight");
		char sb[160];
		shape_format(tshape(w), sb, sizeof sb);
		if (size)
			snprintf(buf, n, "%s(weight %s)", c->def->name, sb);
		else
			snprintf(buf, n, "%s(weight %s, groups=%lld)", c->def->name, sb,
			         (long long)groups);
		return;
	}
	if (!size) {
		snprintf(buf, n, "%s(in_channels=%lld)", c->def->name, (long long)in);
		return;
	}
	snprintf(buf, n, "%s(kernel_size=(%lld, %lld)", c->def->name, (long long)k[0],
	         (long long)k[1]);
	int64_t p[2];
	if (pad->kind != VAL_STR && value_ints(pad, p, 2) == 0 && (p[0] || p[1]))
		bcat(buf, n, ", padding=(%lld, %lld)", (long long)p[0], (long long)p[1]);
	if (d[0] != 1 || d[1] != 1)
		bcat(buf, n, ", dilation=(%lld, %lld)", (long long)d[0], (long long)d[1]);
	bcat(buf, n, ")");
}

int op_conv2d(struct op_call *c, const struct value *x, int64_t in, int64_t out, const int64_t k[2],
              const int64_t s[2], const struct value *pad, const int64_t d[2], int64_t groups)
{
	const struct shape *xs = tshape(x);
	char sb[160], desc[320];
	if (xs->ndim != 3 && xs->ndim != 4)
		return op_break(c, x, c->def->name, "%d-D %s (needs 3-D or 4-D input)", xs->ndim,
		                shape_format(xs, sb, sizeof sb));
	int ch = xs->ndim - 3;
	if (xs->dim[ch] != in) {
		conv_desc(c, false, in, k, pad, d, groups, desc, sizeof desc);
		return op_break(c, x, desc, "%lld channels", (long long)xs->dim[ch]);
	}
	struct shape os = *xs;
	os.dim[ch] = out;
	for (int i = 0; i < 2; i++) {
		int64_t l, r;
		conv_padding(pad, i, k[i], d[i], &l, &r);
		int64_t o = op_window_out(xs->dim[ch + 1 + i], k[i], s[i], l, r, d[i], false);
		if (o == INT64_MIN)
			return op_mismatch(c, "invalid convolution parameters");
		if (o < 1) {
			conv_desc(c, true, in, k, pad, d, groups, desc, sizeof desc);
			return op_break(c, x, desc, "a %lldx%lld input (too small)",
			                (long long)xs->dim[ch + 1], (long long)xs->dim[ch + 2]);
		}
		os.dim[ch + 1 + i] = o;
	}
	int64_t n = checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, tdtype(x), &os, NULL);
	c->macs = mul_sat(mul_sat(n, in / groups), mul_sat(k[0], k[1]));
	return 0;
}

static int conv2d_infer(struct op_call *c)
{
	const struct module *m = c->module;
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	int64_t k[2], s[2], d[2];
	module_attr_ints(m, "kernel_size", k, 2);
	module_attr_ints(m, "stride", s, 2);
	module_attr_ints(m, "dilation", d, 2);
	return op_conv2d(c, x, module_attr_int(m, "in_channels", 0),
	                 module_attr_int(m, "out_channels", 0), k, s, module_attr(m, "padding"), d,
	                 module_attr_int(m, "groups", 1));
}

static void conv2d_describe(const struct module *m, char *buf, size_t size)
{
	int64_t k[2], s[2], d[2], in = module_attr_int(m, "in_channels", 0);
	int64_t g = module_attr_int(m, "groups", 1);
	char t[48];
	module_attr_ints(m, "kernel_size", k, 2);
	module_attr_ints(m, "stride", s, 2);
	module_attr_ints(m, "dilation", d, 2);
	snprintf(buf, size, "%lld→%lld k%s", (long long)in,
	         (long long)module_attr_int(m, "out_channels", 0), pair_text(k, t, sizeof t));
	if (s[0] != 1 || s[1] != 1)
		bcat(buf, size, " s%s", pair_text(s, t, sizeof t));
	const struct value *pad = module_attr(m, "padding");
	if (pad && pad->kind == VAL_STR) {
		if (strcmp(pad->u.s, "same") == 0)
			bcat(buf, size, " same");
	} else {
		int64_t p[2];
		module_attr_ints(m, "padding", p, 2);
		if (p[0] || p[1])
			bcat(buf, size, " p%s", pair_text(p, t, sizeof t));
	}
	if (d[0] != 1 || d[1] != 1)
		bcat(buf, size, " d%s", pair_text(d, t, sizeof t));
	if (g > 1 && g == in)
		bcat(buf, size, " dw");
	else if (g > 1)
		bcat(buf, size, " g%lld", (long long)g);
	const char *mode = module_attr_str(m, "padding_mode", "zeros");
	if (strcmp(mode, "zeros") != 0)
		bcat(buf, size, " %s", mode);
	if (!module_attr_bool(m, "bias", true))
		bcat(buf, size, " no bias");
}

static const struct op_def def_conv2d = {
    .name = "Conv2d",
    .in_size_attr = "in_channels",
    .in_size_dim = 1,
    .kind = OP_MODULE,
    .doc = "2-D convolution over [N, C, H, W]",
    .attrs = conv2d_attrs,
    .nattrs = sizeof conv2d_attrs / sizeof *conv2d_attrs,
    .size_attr = "out_channels",
    .params = conv2d_params,
    .infer = conv2d_infer,
    .describe = conv2d_describe,
    .check = conv2d_check,
    .init = conv2d_init,
};

/* ---- Linear ---- */

static const struct attr_spec linear_attrs[] = {
    {"in_features", AT_INT, NULL},
    {"out_features", AT_INT, NULL},
    {"bias", AT_BOOL, "True"},
};

static int linear_check(struct module *m, struct error *e)
{
	return check_positive(m, "in_features", e) || check_positive(m, "out_features", e) ? -1 : 0;
}

static int linear_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t w[2] = {module_attr_int(m, "out_features", 1),
	                module_attr_int(m, "in_features", 1)};
	add_param(m, "weight", 2, w, false);
	if (module_attr_bool(m, "bias", true))
		add_param(m, "bias", 1, w, false);
	return 0;
}

/* Linear.reset_parameters. */
static int linear_init(struct module *m, struct rng *r, struct error *e)
{
	struct param *w = init_param(m, "weight", e);
	return w ? init_linear_reset(w, module_param(m, "bias"), r, e) : -1;
}

static int linear_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	int64_t in = module_attr_int(c->module, "in_features", 0);
	const struct shape *xs = tshape(x);
	if (xs->ndim == 0 || xs->dim[xs->ndim - 1] != in) {
		char desc[96], sb[160];
		snprintf(desc, sizeof desc, "%s(in_features=%lld)", c->def->name, (long long)in);
		if (xs->ndim == 0)
			return op_break(c, x, desc, "a 0-d tensor");
		return op_break(c, x, desc, "%lld features (%s)", (long long)xs->dim[xs->ndim - 1],
		                shape_format(xs, sb, sizeof sb));
	}
	struct shape os = *xs;
	os.dim[os.ndim - 1] = module_attr_int(c->module, "out_features", 0);
	int64_t n = checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, tdtype(x), &os, NULL);
	c->macs = mul_sat(n, in);
	return 0;
}

static void linear_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld→%lld", (long long)module_attr_int(m, "in_features", 0),
	         (long long)module_attr_int(m, "out_features", 0));
	if (!module_attr_bool(m, "bias", true))
		bcat(buf, size, " no bias");
}

static const struct op_def def_linear = {
    .name = "Linear",
    .in_size_attr = "in_features",
    .in_size_dim = -1,
    .kind = OP_MODULE,
    .doc = "y = x W^T + b over the last dimension",
    .attrs = linear_attrs,
    .nattrs = sizeof linear_attrs / sizeof *linear_attrs,
    .size_attr = "out_features",
    .params = linear_params,
    .infer = linear_infer,
    .describe = linear_describe,
    .check = linear_check,
    .init = linear_init,
};

/* ---- BatchNorm1d, BatchNorm2d ---- */

static const struct attr_spec batchnorm_attrs[] = {
    {"num_features", AT_INT, NULL},           {"eps", AT_FLOAT, "1e-05"},
    {"momentum", AT_FLOAT_OR_NONE, "0.1"},    {"affine", AT_BOOL, "True"},
    {"track_running_stats", AT_BOOL, "True"},
};

static int batchnorm_check(struct module *m, struct error *e)
{
	return check_positive(m, "num_features", e);
}

static int batchnorm_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t c = module_attr_int(m, "num_features", 1);
	if (module_attr_bool(m, "affine", true)) {
		add_param(m, "weight", 1, &c, false);
		add_param(m, "bias", 1, &c, false);
	}
	if (module_attr_bool(m, "track_running_stats", true)) {
		add_param(m, "running_mean", 1, &c, true);
		add_param(m, "running_var", 1, &c, true);
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
	if ((p = module_param(m, "num_batches_tracked"))) {
		p->t.dtype = DT_I64;
		tensor_alloc(&p->t);
	}
	return 0;
}

/* Checks dim 1 of x against the attribute `attr` (num_features, ...). */
static int check_channels(struct op_call *c, const struct value *x, const char *attr,
                          const char *unit)
{
	int64_t want = module_attr_int(c->module, attr, 0);
	int64_t got = tshape(x)->dim[1];
	if (got == want)
		return 0;
	char desc[128];
	snprintf(desc, sizeof desc, "%s(%s=%lld)", c->def->name, attr, (long long)want);
	return op_break(c, x, desc, "%lld %s", (long long)got, unit);
}

static int batchnorm2d_infer(struct op_call *c)
{
	const struct value *x = input_rank(c, 4, 4, "4-D");
	if (!x || check_channels(c, x, "num_features", "channels") < 0)
		return -1;
	op_out_tensor(c, tdtype(x), tshape(x), x);
	return 0;
}

static int batchnorm1d_infer(struct op_call *c)
{
	const struct value *x = input_rank(c, 2, 3, "2-D or 3-D");
	if (!x || check_channels(c, x, "num_features", "features") < 0)
		return -1;
	op_out_tensor(c, tdtype(x), tshape(x), x);
	return 0;
}

static void batchnorm_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld", (long long)module_attr_int(m, "num_features", 0));
	if (!module_attr_bool(m, "affine", true))
		bcat(buf, size, " no affine");
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
		add_param(m, "weight", n, dims, false);
		add_param(m, "bias", n, dims, false);
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
		bcat(buf, size, "%s%lld", i ? "x" : "", (long long)v->u.list.items[i].u.i);
}

static int layernorm_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	const struct value *ns = module_attr(c->module, "normalized_shape");
	const struct shape *xs = tshape(x);
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
	op_out_tensor(c, tdtype(x), xs, x);
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
	const struct value *x = input_rank(c, 4, 4, "4-D");
	if (!x)
		return -1;
	int64_t want = module_attr(c->module, "normalized_shape")->u.list.items[0].u.i;
	if (tshape(x)->dim[1] != want) {
		char desc[128];
		snprintf(desc, sizeof desc, "LayerNorm2d(normalized_shape=%lld)", (long long)want);
		return op_break(c, x, desc, "%lld channels", (long long)tshape(x)->dim[1]);
	}
	op_out_tensor(c, tdtype(x), tshape(x), x);
	return 0;
}

static void layernorm_describe(const struct module *m, char *buf, size_t size)
{
	dims_text(module_attr(m, "normalized_shape"), buf, size);
	if (!module_attr_bool(m, "elementwise_affine", true))
		bcat(buf, size, " no affine");
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
	if (check_positive(m, "num_groups", e) || check_positive(m, "num_channels", e))
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
		add_param(m, "weight", 1, &c, false);
		add_param(m, "bias", 1, &c, false);
	}
	return 0;
}

static int groupnorm_infer(struct op_call *c)
{
	const struct value *x = input_rank(c, 2, SHAPE_MAX_DIMS, "at least 2-D");
	if (!x || check_channels(c, x, "num_channels", "channels") < 0)
		return -1;
	op_out_tensor(c, tdtype(x), tshape(x), x);
	return 0;
}

static void groupnorm_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld g%lld", (long long)module_attr_int(m, "num_channels", 0),
	         (long long)module_attr_int(m, "num_groups", 0));
	if (!module_attr_bool(m, "affine", true))
		bcat(buf, size, " no affine");
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

/* ---- activations, dropout, identity ---- */

static const struct attr_spec inplace_attrs[] = {
    {"inplace", AT_BOOL, "False"},
};

#define ACTIVATION(ident, nm, d)                                                                   \
	static const struct op_def ident = {                                                       \
	    .name = nm,                                                                            \
	    .kind = OP_MODULE,                                                                     \
	    .doc = d,                                                                              \
	    .attrs = inplace_attrs,                                                                \
	    .nattrs = 1,                                                                           \
	    .infer = same_as_input,                                                                \
	}

ACTIVATION(def_relu, "ReLU", "max(x, 0)");
ACTIVATION(def_relu6, "ReLU6", "min(max(x, 0), 6)");
ACTIVATION(def_silu, "SiLU", "x * sigmoid(x)");
ACTIVATION(def_hardswish, "Hardswish", "x * relu6(x + 3) / 6");
ACTIVATION(def_hardsigmoid, "Hardsigmoid", "relu6(x + 3) / 6");

static const struct op_def def_sigmoid = {
    .name = "Sigmoid",
    .kind = OP_MODULE,
    .doc = "1 / (1 + exp(-x))",
    .infer = same_as_input,
};

static const struct op_def def_tanh = {
    .name = "Tanh",
    .kind = OP_MODULE,
    .doc = "tanh(x)",
    .infer = same_as_input,
};

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
    .infer = same_as_input,
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
    .infer = same_as_input,
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
	if (d && d->kind == VAL_INT && op_dim(c, d->u.i, tshape(x)->ndim, &dim) < 0)
		return -1;
	op_out_tensor(c, tdtype(x), tshape(x), x);
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

static const struct attr_spec dropout_attrs[] = {
    {"p", AT_FLOAT, "0.5"},
    {"inplace", AT_BOOL, "False"},
};

static int dropout_check(struct module *m, struct error *e)
{
	return check_probability(m, "p", e);
}

static void dropout_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "p=%g", module_attr_float(m, "p", 0.5));
}

static const struct op_def def_dropout = {
    .name = "Dropout",
    .kind = OP_MODULE,
    .doc = "zeroes elements with probability p in training; identity in eval",
    .attrs = dropout_attrs,
    .nattrs = 2,
    .infer = same_as_input,
    .describe = dropout_describe,
    .check = dropout_check,
};

/* nn.Identity takes and ignores any constructor arguments; graft keeps none. */
static int identity_infer(struct op_call *c)
{
	const struct value *x = op_arg(c, 0, "input");
	if (!x)
		return op_fail(c, "Identity needs an input");
	value_free(&c->out);
	c->out = value_copy(x);
	return 0;
}

static const struct op_def def_identity = {
    .name = "Identity",
    .kind = OP_MODULE,
    .doc = "returns its input",
    .infer = identity_infer,
};

/* ---- pooling ---- */

/* "MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))" for breaks. */
static void pool_desc(const struct op_call *c, const int64_t k[2], const int64_t s[2],
                      const int64_t p[2], const int64_t d[2], bool ceil_mode, char *buf,
                      size_t size)
{
	snprintf(buf, size, "%s(kernel_size=(%lld, %lld), stride=(%lld, %lld)", c->def->name,
	         (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1]);
	if (p[0] || p[1])
		bcat(buf, size, ", padding=(%lld, %lld)", (long long)p[0], (long long)p[1]);
	if (d[0] != 1 || d[1] != 1)
		bcat(buf, size, ", dilation=(%lld, %lld)", (long long)d[0], (long long)d[1]);
	if (ceil_mode)
		bcat(buf, size, ", ceil_mode=True");
	bcat(buf, size, ")");
}

int op_pool2d(struct op_call *c, const struct value *x, const int64_t k[2], const int64_t s[2],
              const int64_t p[2], const int64_t d[2], bool ceil_mode, bool return_indices)
{
	const struct shape *xs = tshape(x);
	char sb[160], desc[320];
	if (xs->ndim != 3 && xs->ndim != 4)
		return op_break(c, x, c->def->name, "%d-D %s (needs 3-D or 4-D input)", xs->ndim,
		                shape_format(xs, sb, sizeof sb));
	for (int i = 0; i < 2; i++) {
		if (k[i] <= 0 || s[i] <= 0 || d[i] <= 0)
			return op_fail(c, "%s(): kernel_size, stride and dilation must be positive",
			               c->def->name);
		if (p[i] < 0 || p[i] > k[i] / 2)
			return op_fail(c,
			               "%s(): pad should be at most half of kernel size, but got "
			               "pad=%lld and kernel_size=%lld",
			               c->def->name, (long long)p[i], (long long)k[i]);
	}
	struct shape os = *xs;
	int h = xs->ndim - 2;
	for (int i = 0; i < 2; i++) {
		int64_t o = op_window_out(xs->dim[h + i], k[i], s[i], p[i], p[i], d[i], ceil_mode);
		if (o == INT64_MIN)
			return op_mismatch(c, "pooling sizes overflow");
		os.dim[h + i] = o;
	}
	if (os.dim[h] < 1 || os.dim[h + 1] < 1) {
		pool_desc(c, k, s, p, d, ceil_mode, desc, sizeof desc);
		return op_break(c, x, desc, "a %lldx%lld input (output would be %lldx%lld)",
		                (long long)xs->dim[h], (long long)xs->dim[h + 1],
		                (long long)(os.dim[h] > 0 ? os.dim[h] : 0),
		                (long long)(os.dim[h + 1] > 0 ? os.dim[h + 1] : 0));
	}
	op_out_tensor(c, tdtype(x), &os, x);
	if (return_indices) {
		struct value out = value_list(2);
		out.u.list.items[0] = c->out;
		c->out = value_none();
		op_out_tensor(c, DT_I64, &os, x);
		out.u.list.items[1] = c->out;
		c->out = out;
	}
	return 0;
}

int op_adaptive_pool2d(struct op_call *c, const struct value *x, const int64_t size[2],
                       bool return_indices)
{
	const struct shape *xs = tshape(x);
	char sb[160];
	if (xs->ndim != 3 && xs->ndim != 4)
		return op_break(c, x, c->def->name, "%d-D %s (needs 3-D or 4-D input)", xs->ndim,
		                shape_format(xs, sb, sizeof sb));
	struct shape os = *xs;
	int h = xs->ndim - 2;
	for (int i = 0; i < 2; i++) {
		if (xs->dim[h + i] < 1)
			return op_break(c, x, c->def->name, "an empty input %s",
			                shape_format(xs, sb, sizeof sb));
		if (size[i] >= 0)
			os.dim[h + i] = size[i];
	}
	op_out_tensor(c, tdtype(x), &os, x);
	if (return_indices) {
		struct value out = value_list(2);
		out.u.list.items[0] = c->out;
		c->out = value_none();
		op_out_tensor(c, DT_I64, &os, x);
		out.u.list.items[1] = c->out;
		c->out = out;
	}
	return 0;
}

static const struct attr_spec maxpool2d_attrs[] = {
    {"kernel_size", AT_INT_PAIR, NULL},   {"stride", AT_ANY, "None"},
    {"padding", AT_INT_PAIR, "0"},        {"dilation", AT_INT_PAIR, "1"},
    {"return_indices", AT_BOOL, "False"}, {"ceil_mode", AT_BOOL, "False"},
};

static const struct attr_spec avgpool2d_attrs[] = {
    {"kernel_size", AT_INT_PAIR, NULL},     {"stride", AT_ANY, "None"},
    {"padding", AT_INT_PAIR, "0"},          {"ceil_mode", AT_BOOL, "False"},
    {"count_include_pad", AT_BOOL, "True"}, {"divisor_override", AT_INT_OR_NONE, "None"},
};

/* stride=None means kernel_size, as PyTorch stores it; also checks sizes. */
static int pool_check(struct module *m, struct error *e)
{
	int64_t k[2], s[2], p[2];
	if (check_positive_pair(m, "kernel_size", e))
		return -1;
	module_attr_ints(m, "kernel_size", k, 2);
	const struct value *sv = module_attr(m, "stride");
	if (!sv || read_pair(sv, s, true) < 0) {
		char got[128];
		value_format(sv, got, sizeof got);
		return error_set(e,
		                 "%s: attribute 'stride' must be an int, a pair of ints or None, "
		                 "got %s",
		                 m->type, got);
	}
	if (s[0] == -1 && sv->kind == VAL_NONE)
		set_pair(m, "stride", k);
	else if (sv->kind == VAL_INT)
		set_pair(m, "stride", s);
	if (check_positive_pair(m, "stride", e))
		return -1;
	if (module_attr(m, "dilation") && check_positive_pair(m, "dilation", e))
		return -1;
	module_attr_ints(m, "padding", p, 2);
	for (int i = 0; i < 2; i++)
		if (p[i] < 0 || p[i] > k[i] / 2)
			return error_set(e,
			                 "%s: pad should be at most half of kernel size, but got "
			                 "pad=%lld and kernel_size=%lld",
			                 m->type, (long long)p[i], (long long)k[i]);
	const struct value *div = module_attr(m, "divisor_override");
	if (div && div->kind == VAL_INT && div->u.i == 0)
		return error_set(e, "%s: divisor_override must not be zero", m->type);
	return 0;
}

static int pool2d_infer(struct op_call *c)
{
	const struct module *m = c->module;
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	int64_t k[2], s[2], p[2], d[2] = {1, 1};
	module_attr_ints(m, "kernel_size", k, 2);
	module_attr_ints(m, "stride", s, 2);
	module_attr_ints(m, "padding", p, 2);
	if (module_attr(m, "dilation"))
		module_attr_ints(m, "dilation", d, 2);
	return op_pool2d(c, x, k, s, p, d, module_attr_bool(m, "ceil_mode", false),
	                 module_attr_bool(m, "return_indices", false));
}

static void pool2d_describe(const struct module *m, char *buf, size_t size)
{
	int64_t k[2], s[2], p[2], d[2] = {1, 1};
	char t[48];
	module_attr_ints(m, "kernel_size", k, 2);
	module_attr_ints(m, "stride", s, 2);
	module_attr_ints(m, "padding", p, 2);
	if (module_attr(m, "dilation"))
		module_attr_ints(m, "dilation", d, 2);
	snprintf(buf, size, "k%s", pair_text(k, t, sizeof t));
	if (s[0] != 1 || s[1] != 1)
		bcat(buf, size, " s%s", pair_text(s, t, sizeof t));
	if (p[0] || p[1])
		bcat(buf, size, " p%s", pair_text(p, t, sizeof t));
	if (d[0] != 1 || d[1] != 1)
		bcat(buf, size, " d%s", pair_text(d, t, sizeof t));
	if (module_attr_bool(m, "ceil_mode", false))
		bcat(buf, size, " ceil");
}

static const struct op_def def_maxpool2d = {
    .name = "MaxPool2d",
    .kind = OP_MODULE,
    .doc = "max over kernel_size windows of [N, C, H, W]",
    .attrs = maxpool2d_attrs,
    .nattrs = sizeof maxpool2d_attrs / sizeof *maxpool2d_attrs,
    .infer = pool2d_infer,
    .describe = pool2d_describe,
    .check = pool_check,
};

static const struct op_def def_avgpool2d = {
    .name = "AvgPool2d",
    .kind = OP_MODULE,
    .doc = "mean over kernel_size windows of [N, C, H, W]",
    .attrs = avgpool2d_attrs,
    .nattrs = sizeof avgpool2d_attrs / sizeof *avgpool2d_attrs,
    .infer = pool2d_infer,
    .describe = pool2d_describe,
    .check = pool_check,
};

static const struct attr_spec adaptive_avg_attrs[] = {
    {"output_size", AT_ANY, NULL},
};

static const struct attr_spec adaptive_max_attrs[] = {
    {"output_size", AT_ANY, NULL},
    {"return_indices", AT_BOOL, "False"},
};

/* output_size: an int, None, or a pair of ints and Nones; stored as a pair. */
static int adaptive_check(struct module *m, struct error *e)
{
	const struct value *v = module_attr(m, "output_size");
	bool ok = v->kind == VAL_INT || v->kind == VAL_NONE;
	if (v->kind == VAL_LIST && v->u.list.n == 2) {
		ok = true;
		for (int i = 0; i < 2; i++)
			ok = ok && (v->u.list.items[i].kind == VAL_INT ||
			            v->u.list.items[i].kind == VAL_NONE);
	}
	if (!ok) {
		char got[128];
		value_format(v, got, sizeof got);
		return error_set(e,
		                 "%s: attribute 'output_size' must be an int or a pair of ints "
		                 "(None keeps a size), got %s",
		                 m->type, got);
	}
	if (v->kind != VAL_LIST) {
		struct value pair = value_list(2);
		pair.u.list.items[0] = value_copy(v);
		pair.u.list.items[1] = value_copy(v);
		module_set_attr(m, "output_size", &pair);
		value_free(&pair);
		v = module_attr(m, "output_size");
	}
	for (int i = 0; i < 2; i++)
		if (v->u.list.items[i].kind == VAL_INT && v->u.list.items[i].u.i < 0)
			return error_set(e, "%s: output_size must be non-negative", m->type);
	return 0;
}

static void adaptive_size(const struct module *m, int64_t size[2])
{
	const struct value *v = module_attr(m, "output_size");
	for (int i = 0; i < 2; i++)
		size[i] = v->u.list.items[i].kind == VAL_INT ? v->u.list.items[i].u.i : -1;
}

static int adaptive_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	int64_t size[2];
	adaptive_size(c->module, size);
	return op_adaptive_pool2d(c, x, size, module_attr_bool(c->module, "return_indices", false));
}

static void adaptive_describe(const struct module *m, char *buf, size_t size)
{
	int64_t s[2];
	adaptive_size(m, s);
	snprintf(buf, size, "→");
	for (int i = 0; i < 2; i++) {
		if (s[i] >= 0)
			bcat(buf, size, "%s%lld", i ? "x" : "", (long long)s[i]);
		else
			bcat(buf, size, "%s*", i ? "x" : "");
	}
}

static const struct op_def def_adaptive_avgpool2d = {
    .name = "AdaptiveAvgPool2d",
    .kind = OP_MODULE,
    .doc = "mean pooling to a fixed output_size",
    .attrs = adaptive_avg_attrs,
    .nattrs = 1,
    .infer = adaptive_infer,
    .describe = adaptive_describe,
    .check = adaptive_check,
};

static const struct op_def def_adaptive_maxpool2d = {
    .name = "AdaptiveMaxPool2d",
    .kind = OP_MODULE,
    .doc = "max pooling to a fixed output_size",
    .attrs = adaptive_max_attrs,
    .nattrs = 2,
    .infer = adaptive_infer,
    .describe = adaptive_describe,
    .check = adaptive_check,
};

/* ---- layout: Flatten, Permute ---- */

static const struct attr_spec flatten_attrs[] = {
    {"start_dim", AT_INT, "1"},
    {"end_dim", AT_INT, "-1"},
};

static int flatten_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	struct value args[3] = {*x, value_int(module_attr_int(c->module, "start_dim", 1)),
	                        value_int(module_attr_int(c->module, "end_dim", -1))};
	return delegate(c, "flatten", args, 3);
}

static void flatten_describe(const struct module *m, char *buf, size_t size)
{
	int64_t s = module_attr_int(m, "start_dim", 1), e = module_attr_int(m, "end_dim", -1);
	if (s == 1 && e == -1)
		buf[0] = '\0';
	else
		snprintf(buf, size, "dims %lld..%lld", (long long)s, (long long)e);
}

static const struct op_def def_flatten = {
    .name = "Flatten",
    .kind = OP_MODULE,
    .doc = "flattens dims start_dim..end_dim into one",
    .attrs = flatten_attrs,
    .nattrs = 2,
    .infer = flatten_infer,
    .describe = flatten_describe,
};

static const struct attr_spec permute_attrs[] = {
    {"dims", AT_INTS, NULL},
};

static int permute_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	struct value args[2] = {*x, *module_attr(c->module, "dims")};
	return delegate(c, "permute", args, 2);
}

static void permute_describe(const struct module *m, char *buf, size_t size)
{
	value_format(module_attr(m, "dims"), buf, size);
}

static const struct op_def def_permute = {
    .name = "Permute",
    .kind = OP_MODULE,
    .doc = "reorders dimensions (torchvision.ops.Permute)",
    .attrs = permute_attrs,
    .nattrs = 1,
    .infer = permute_infer,
    .describe = permute_describe,
};

/* ---- StochasticDepth ---- */

static const struct attr_spec stochastic_depth_attrs[] = {
    {"p", AT_FLOAT, NULL},
    {"mode", AT_STR, NULL},
};

static int stochastic_depth_check(struct module *m, struct error *e)
{
	if (check_probability(m, "p", e) < 0)
		return -1;
	const char *mode = module_attr_str(m, "mode", "");
	if (strcmp(mode, "row") != 0 && strcmp(mode, "batch") != 0)
		return error_set(e, "StochasticDepth: mode must be 'batch' or 'row', got '%s'",
		                 mode);
	return 0;
}

static void stochastic_depth_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "p=%g %s", module_attr_float(m, "p", 0),
	         module_attr_str(m, "mode", ""));
}

static const struct op_def def_stochastic_depth = {
    .name = "StochasticDepth",
    .kind = OP_MODULE,
    .doc = "drops whole residual branches with probability p in training",
    .attrs = stochastic_depth_attrs,
    .nattrs = 2,
    .infer = same_as_input,
    .describe = stochastic_depth_describe,
    .check = stochastic_depth_check,
};

/* ---- MultiheadAttention ---- */

static const struct attr_spec mha_attrs[] = {
    {"embed_dim", AT_INT, NULL},       {"num_heads", AT_INT, NULL},
    {"dropout", AT_FLOAT, "0.0"},      {"bias", AT_BOOL, "True"},
    {"add_bias_kv", AT_BOOL, "False"}, {"add_zero_attn", AT_BOOL, "False"},
    {"kdim", AT_INT_OR_NONE, "None"},  {"vdim", AT_INT_OR_NONE, "None"},
    {"batch_first", AT_BOOL, "False"},
};

/* kdim/vdim, which default to embed_dim. */
static void mha_dims(const struct module *m, int64_t *e, int64_t *kd, int64_t *vd)
{
	*e = module_attr_int(m, "embed_dim", 1);
	const struct value *k = module_attr(m, "kdim"), *v = module_attr(m, "vdim");
	*kd = k && k->kind == VAL_INT ? k->u.i : *e;
	*vd = v && v->kind == VAL_INT ? v->u.i : *e;
}

static int mha_check(struct module *m, struct error *e)
{
	if (check_positive(m, "embed_dim", e) || check_positive(m, "num_heads", e) ||
	    check_probability(m, "dropout", e))
		return -1;
	if (module_attr_int(m, "embed_dim", 1) % module_attr_int(m, "num_heads", 1))
		return error_set(e, "MultiheadAttention: embed_dim must be divisible by num_heads");
	int64_t ed, kd, vd;
	mha_dims(m, &ed, &kd, &vd);
	if (kd <= 0 || vd <= 0)
		return error_set(e, "MultiheadAttention: kdim and vdim must be positive");
	return 0;
}

static int mha_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t ed, kd, vd;
	mha_dims(m, &ed, &kd, &vd);
	bool bias = module_attr_bool(m, "bias", true);
	if (kd == ed && vd == ed) {
		int64_t w[2] = {3 * ed, ed};
		add_param(m, "in_proj_weight", 2, w, false);
	} else {
		int64_t q[2] = {ed, ed}, k[2] = {ed, kd}, v[2] = {ed, vd};
		add_param(m, "q_proj_weight", 2, q, false);
		add_param(m, "k_proj_weight", 2, k, false);
		add_param(m, "v_proj_weight", 2, v, false);
	}
	if (bias) {
		int64_t b = 3 * ed;
		add_param(m, "in_proj_bias", 1, &b, false);
	}
	if (module_attr_bool(m, "add_bias_kv", false)) {
		int64_t b[3] = {1, 1, ed};
		add_param(m, "bias_k", 3, b, false);
		add_param(m, "bias_v", 3, b, false);
	}
	int64_t o[2] = {ed, ed};
	add_param(m, "out_proj.weight", 2, o, false);
	if (bias)
		add_param(m, "out_proj.bias", 1, o, false);
	return 0;
}

/* __init__ builds out_proj, a Linear whose reset_parameters draws first;
 * _reset_parameters then draws the input projections, zeroes both biases
 * and draws bias_k and bias_v. */
static int mha_init(struct module *m, struct rng *r, struct error *e)
{
	struct param *ow = init_param(m, "out_proj.weight", e);
	if (!ow)
		return -1;
	struct param *ob = module_param(m, "out_proj.bias");
	if (init_linear_reset(ow, ob, r, e) < 0)
		return -1;
	static const char *const proj[] = {"in_proj_weight", "q_proj_weight", "k_proj_weight",
	                                   "v_proj_weight"};
	for (size_t i = 0; i < sizeof proj / sizeof *proj; i++) {
		struct param *p = module_param(m, proj[i]);
		if (p && init_xavier_uniform(p, r, 1.0, e) < 0)
			return -1;
	}
	struct param *ib = module_param(m, "in_proj_bias");
	if (ib) {
		init_constant(ib, 0.0);
		if (ob)
			init_constant(ob, 0.0);
	}
	static const char *const kv[] = {"bias_k", "bias_v"};
	for (size_t i = 0; i < 2; i++) {
		struct param *p = module_param(m, kv[i]);
		if (p && init_xavier_normal(p, r, 1.0, e) < 0)
			return -1;
	}
	return 0;
}

/* forward(query, key, value, key_padding_mask=None, need_weights=True,
 * attn_mask=None, average_attn_weights=True) -> (attn_output, attn_weights) */
static int mha_infer(struct op_call *c)
{
	const struct module *m = c->module;
	const struct value *q = op_tensor(c, 0, "query");
	const struct value *k = q ? op_tensor(c, 1, "key") : NULL;
	const struct value *v = k ? op_tensor(c, 2, "value") : NULL;
	if (!v)
		return -1;
	const struct value *nw = op_arg(c, 4, "need_weights");
	const struct value *avg = op_arg(c, 6, "average_attn_weights");
	bool need_weights = !nw || nw->kind != VAL_BOOL || nw->u.b;
	bool average = !avg || avg->kind != VAL_BOOL || avg->u.b;
	bool batch_first = module_attr_bool(m, "batch_first", false);
	int64_t ed, kd, vd, heads = module_attr_int(m, "num_heads", 1);
	mha_dims(m, &ed, &kd, &vd);
	const struct shape *qs = tshape(q), *ks = tshape(k), *vs = tshape(v);
	char desc[128], sa[160], sb[160];
	if (qs->ndim != 2 && qs->ndim != 3)
		return op_break(c, q, "MultiheadAttention", "query %s (needs 2-D or 3-D)",
		                shape_format(qs, sa, sizeof sa));
	const struct value *vals[3] = {q, k, v};
	const int64_t want[3] = {ed, kd, vd};
	const char *names[3] = {"embed_dim", "kdim", "vdim"};
	const char *args[3] = {"query", "key", "value"};
	for (int i = 0; i < 3; i++) {
		const struct shape *s = tshape(vals[i]);
		if (s->ndim != qs->ndim)
			return op_mismatch(c, "query %s, key %s and value %s must all be %d-D",
			                   shape_format(qs, sa, sizeof sa),
			                   shape_format(ks, sb, sizeof sb),
			                   shape_format(vs, desc, sizeof desc), qs->ndim);
		if (s->dim[s->ndim - 1] != want[i]) {
			snprintf(desc, sizeof desc, "MultiheadAttention(%s=%lld)", names[i],
			         (long long)want[i]);
			return op_break(c, vals[i], desc, "a %s of %lld features", args[i],
			                (long long)s->dim[s->ndim - 1]);
		}
	}
	bool batched = qs->ndim == 3;
	int li = batched && batch_first ? 1 : 0; /* index of the sequence dim */
	int64_t L = qs->dim[li], S = ks->dim[li];
	int64_t N = batched ? qs->dim[batch_first ? 0 : 1] : 1;
	if (vs->dim[li] != S || (batched && (ks->dim[1 - li] != N || vs->dim[1 - li] != N)))
		return op_mismatch(c, "key %s and value %s do not match query %s",
		                   shape_format(ks, sa, sizeof sa), shape_format(vs, sb, sizeof sb),
		                   shape_format(qs, desc, sizeof desc));
	/* Projections on the given sequences; the attention sees the extra
	 * bias_k/zero rows. */
	int64_t macs = mul_sat(mul_sat(N, L), mul_sat(ed, ed));
	macs = add_sat(macs, mul_sat(mul_sat(N, S), mul_sat(kd, ed)));
	macs = add_sat(macs, mul_sat(mul_sat(N, S), mul_sat(vd, ed)));
	int64_t S2 = S + module_attr_bool(m, "add_bias_kv", false) +
	             module_attr_bool(m, "add_zero_attn", false);
	macs = add_sat(macs, mul_sat(2, mul_sat(mul_sat(N, L), mul_sat(S2, ed))));
	macs = add_sat(macs, mul_sat(mul_sat(N, L), mul_sat(ed, ed)));

	struct value out = value_list(2);
	op_out_tensor(c, tdtype(q), qs, q);
	out.u.list.items[0] = c->out;
	c->out = value_none();
	if (need_weights) {
		int64_t d[4];
		int n = 0;
		if (batched)
			d[n++] = N;
		if (!average)
			d[n++] = heads;
		d[n++] = L;
		d[n++] = S2;
		struct shape ws = shape_of(n, d);
		if (checked_numel(c, &ws) < 0) {
			value_free(&out);
			return -1;
		}
		op_out_tensor(c, tdtype(q), &ws, NULL);
		out.u.list.items[1] = c->out;
		c->out = value_none();
	}
	c->out = out;
	c->macs = macs;
	return 0;
}

static void mha_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld, %lld heads", (long long)module_attr_int(m, "embed_dim", 0),
	         (long long)module_attr_int(m, "num_heads", 0));
	if (module_attr_bool(m, "batch_first", false))
		bcat(buf, size, " batch_first");
}

static const struct op_def def_mha = {
    .name = "MultiheadAttention",
    .in_size_attr = "embed_dim",
    .in_size_dim = -1,
    .kind = OP_MODULE,
    .doc = "multi-head attention; returns (attn_output, attn_weights or None)",
    .attrs = mha_attrs,
    .nattrs = sizeof mha_attrs / sizeof *mha_attrs,
    .size_attr = "embed_dim",
    .params = mha_params,
    .infer = mha_infer,
    .describe = mha_describe,
    .check = mha_check,
    .init = mha_init,
};

/* ---- the table ---- */

const struct op_def *const registry_nn_defs[] = {
    &def_conv2d,
    &def_linear,
    &def_batchnorm1d,
    &def_batchnorm2d,
    &def_layernorm,
    &def_layernorm2d,
    &def_groupnorm,
    &def_relu,
    &def_relu6,
    &def_silu,
    &def_gelu,
    &def_hardswish,
    &def_hardsigmoid,
    &def_sigmoid,
    &def_tanh,
    &def_leaky_relu,
    &def_softmax,
    &def_maxpool2d,
    &def_avgpool2d,
    &def_adaptive_avgpool2d,
    &def_adaptive_maxpool2d,
    &def_dropout,
    &def_flatten,
    &def_identity,
    &def_stochastic_depth,
    &def_permute,
    &def_mha,
};

const int registry_nn_count = sizeof registry_nn_defs / sizeof *registry_nn_defs;
