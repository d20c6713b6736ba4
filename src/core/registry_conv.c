/* registry_conv.c - convolution: Conv1d/2d/3d, ConvTranspose1d/2d/3d and their functions. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

static bool conv_transposed(const char *name)
{
	return strstr(name, "ranspose") != NULL;
}

static bool all_equal(const int64_t *v, int n, int64_t x)
{
	for (int i = 0; i < n; i++)
		if (v[i] != x)
			return false;
	return true;
}

/* ---- the module types ---- */

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

/* Conv1d and Conv3d: sizes are ints or tuples, expanded by conv_check. */
static const struct attr_spec convnd_attrs[] = {
    {"in_channels", AT_INT, NULL},
    {"out_channels", AT_INT, NULL},
    {"kernel_size", AT_INTS, NULL},
    {"stride", AT_INTS, "1"},
    {"padding", AT_ANY, "0"},
    {"dilation", AT_INTS, "1"},
    {"groups", AT_INT, "1"},
    {"bias", AT_BOOL, "True"},
    {"padding_mode", AT_STR, "'zeros'"},
};

static const struct attr_spec conv_transpose_attrs[] = {
    {"in_channels", AT_INT, NULL},  {"out_channels", AT_INT, NULL},
    {"kernel_size", AT_INTS, NULL}, {"stride", AT_INTS, "1"},
    {"padding", AT_INTS, "0"},      {"output_padding", AT_INTS, "0"},
    {"groups", AT_INT, "1"},        {"bias", AT_BOOL, "True"},
    {"dilation", AT_INTS, "1"},     {"padding_mode", AT_STR, "'zeros'"},
};

static int check_non_negative(const struct module *m, const char *name, int nd, struct error *e)
{
	int64_t p[3];
	module_attr_ints(m, name, p, nd);
	for (int i = 0; i < nd; i++)
		if (p[i] < 0)
			return error_set(e, "%s: %s must be non-negative", m->type, name);
	return 0;
}

/* Conv1d/2d/3d and ConvTranspose1d/2d/3d. */
static int conv_check(struct module *m, struct error *e)
{
	int nd = op_spatial_dims(m->type);
	bool tr = conv_transposed(m->type);
	if (op_check_positive(m, "in_channels", e) || op_check_positive(m, "out_channels", e) ||
	    op_check_positive(m, "groups", e))
		return -1;
	static const char *const sizes[] = {"kernel_size", "stride", "dilation", "output_padding"};
	for (int i = 0; i < (tr ? 4 : 3); i++)
		if (op_expand_ints(m, sizes[i], nd, e) < 0 ||
		    (i < 3 && op_check_positive_ints(m, sizes[i], nd, e) < 0))
			return -1;
	int64_t g = module_attr_int(m, "groups", 1);
	if (module_attr_int(m, "in_channels", 1) % g)
		return error_set(e, "%s: in_channels must be divisible by groups", m->type);
	if (module_attr_int(m, "out_channels", 1) % g)
		return error_set(e, "%s: out_channels must be divisible by groups", m->type);
	const struct value *pad = module_attr(m, "padding");
	if (pad->kind == VAL_STR && !tr) {
		int64_t s[3];
		module_attr_ints(m, "stride", s, nd);
		if (strcmp(pad->u.s, "same") && strcmp(pad->u.s, "valid"))
			return error_set(e,
			                 "%s: padding must be an int, a tuple of ints, 'same' or "
			                 "'valid', got '%s'",
			                 m->type, pad->u.s);
		if (strcmp(pad->u.s, "same") == 0 && !all_equal(s, nd, 1))
			return error_set(e,
			                 "%s: padding='same' is not supported for strided "
			                 "convolutions",
			                 m->type);
	} else if (op_expand_ints(m, "padding", nd, e) < 0 ||
	           check_non_negative(m, "padding", nd, e) < 0) {
		return -1;
	}
	const char *mode = module_attr_str(m, "padding_mode", "zeros");
	if (tr) {
		int64_t op[3], s[3], d[3];
		module_attr_ints(m, "output_padding", op, nd);
		module_attr_ints(m, "stride", s, nd);
		module_attr_ints(m, "dilation", d, nd);
		for (int i = 0; i < nd; i++)
			if (op[i] < 0 || (op[i] >= s[i] && op[i] >= d[i]))
				return error_set(e,
				                 "%s: output_padding must be smaller than either "
				                 "stride or dilation",
				                 m->type);
		if (strcmp(mode, "zeros") != 0)
			return error_set(e, "%s: only padding_mode 'zeros' is supported, got '%s'",
			                 m->type, mode);
		return 0;
	}
	static const char *const modes[] = {"zeros", "reflect", "replicate", "circular"};
	for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
		if (strcmp(mode, modes[i]) == 0)
			return 0;
	return error_set(e,
	                 "%s: padding_mode must be 'zeros', 'reflect', 'replicate' or "
	                 "'circular', got '%s'",
	                 m->type, mode);
}

/* weight [out, in/groups, *k] ([in, out/groups, *k] transposed), bias [out]. */
static int conv_params(struct module *m, struct error *e)
{
	(void)e;
	int nd = op_spatial_dims(m->type);
	int64_t out = module_attr_int(m, "out_channels", 1),
	        in = module_attr_int(m, "in_channels", 1);
	int64_t g = module_attr_int(m, "groups", 1);
	int64_t w[5];
	bool tr = conv_transposed(m->type);
	w[0] = tr ? in : out;
	w[1] = (tr ? out : in) / g;
	module_attr_ints(m, "kernel_size", w + 2, nd);
	op_add_param(m, "weight", nd + 2, w, false);
	if (module_attr_bool(m, "bias", true))
		op_add_param(m, "bias", 1, &out, false);
	return 0;
}

/* _ConvNd.reset_parameters (fans from the weight's dims 1 and on, as
 * PyTorch takes them for the transposed types too). */
static int conv_init(struct module *m, struct rng *r, struct error *e)
{
	struct param *w = init_param(m, "weight", e);
	return w ? init_linear_reset(w, module_param(m, "bias"), r, e) : -1;
}

/* Left and right padding of one dimension for a padding attribute or
 * argument: ints, 'valid' or 'same'. */
static void conv_padding(const struct value *pad, int nd, int i, int64_t k, int64_t d, int64_t *l,
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
	int64_t p[3] = {0, 0, 0};
	value_ints(pad, p, nd);
	*l = *r = p[i];
}

/* Names the convolution in a break: its channels (size false) or its
 * kernel, padding and dilation (size true). Built only when it breaks. */
static void conv_desc(const struct op_call *c, bool size, const struct conv_geom *g, char *buf,
                      size_t n)
{
	char t[96];
	if (!c->module) {
		const struct value *w = op_arg(c, 1, "weight");
		char sb[160];
		shape_format(op_shape(w), sb, sizeof sb);
		if (size)
			snprintf(buf, n, "%s(weight %s)", c->def->name, sb);
		else
			snprintf(buf, n, "%s(weight %s, groups=%lld)", c->def->name, sb,
			         (long long)g->groups);
		return;
	}
	if (!size) {
		snprintf(buf, n, "%s(in_channels=%lld)", c->def->name, (long long)g->in);
		return;
	}
	snprintf(buf, n, "%s(kernel_size=%s", c->def->name,
	         op_tuple_text(g->k, g->nd, t, sizeof t));
	int64_t p[3];
	if (g->pad->kind != VAL_STR && value_ints(g->pad, p, g->nd) == 0 && !all_equal(p, g->nd, 0))
		op_append(buf, n, ", padding=%s", op_tuple_text(p, g->nd, t, sizeof t));
	if (!all_equal(g->d, g->nd, 1))
		op_append(buf, n, ", dilation=%s", op_tuple_text(g->d, g->nd, t, sizeof t));
	op_append(buf, n, ")");
}

/* "a 5x5 input", "a 4x5x5 input", "a length-5 input". */
static void input_size_text(const int64_t *dims, int nd, char *buf, size_t size)
{
	snprintf(buf, size, nd == 1 ? "a length-" : "a ");
	for (int i = 0; i < nd; i++)
		op_append(buf, size, "%s%lld", i ? "x" : "", (long long)dims[i]);
	op_append(buf, size, " input");
}

int op_conv(struct op_call *c, const struct value *x, const struct conv_geom *g)
{
	const struct shape *xs = op_shape(x);
	int nd = g->nd;
	char sb[160], desc[320], what[96];
	if (xs->ndim != nd + 1 && xs->ndim != nd + 2)
		return op_break(c, x, c->def->name, "%d-D %s (needs %d-D or %d-D input)", xs->ndim,
		                shape_format(xs, sb, sizeof sb), nd + 1, nd + 2);
	int ch = xs->ndim - nd - 1;
	if (xs->dim[ch] != g->in) {
		conv_desc(c, false, g, desc, sizeof desc);
		return op_break(c, x, desc, "%lld channels", (long long)xs->dim[ch]);
	}
	struct shape os = *xs;
	os.dim[ch] = g->out;
	int64_t kprod = 1;
	for (int i = 0; i < nd; i++) {
		int64_t in = xs->dim[ch + 1 + i], o;
		if (g->transposed) {
			o = (in - 1) * g->s[i] - 2 * g->p[i] + g->d[i] * (g->k[i] - 1) +
			    g->output_padding[i] + 1;
			if (in > INT64_MAX / 4 / g->s[i] || g->k[i] > INT64_MAX / 4 / g->d[i])
				return op_mismatch(c, "invalid convolution parameters");
		} else {
			int64_t l, r;
			conv_padding(g->pad, nd, i, g->k[i], g->d[i], &l, &r);
			o = op_window_out(in, g->k[i], g->s[i], l, r, g->d[i], false);
			if (o == INT64_MIN)
				return op_mismatch(c, "invalid convolution parameters");
		}
		if (o < 1) {
			conv_desc(c, true, g, desc, sizeof desc);
			input_size_text(xs->dim + ch + 1, nd, what, sizeof what);
			return op_break(c, x, desc, "%s (too small)", what);
		}
		os.dim[ch + 1 + i] = o;
		kprod = op_mul_sat(kprod, g->k[i]);
	}
	int64_t n = op_checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), &os, NULL);
	/* a transposed convolution: each input element times its filter */
	if (g->transposed)
		c->macs = op_mul_sat(op_mul_sat(shape_numel(xs), g->out / g->groups), kprod);
	else
		c->macs = op_mul_sat(op_mul_sat(n, g->in / g->groups), kprod);
	return 0;
}

/* ConvTranspose*d.forward(x, output_size): the output_padding that gives
 * the requested size, as PyTorch's _output_padding picks it. */
static int transposed_output_size(struct op_call *c, const struct value *x, struct conv_geom *g)
{
	const struct value *v = op_arg(c, 1, "output_size");
	if (!v || v->kind == VAL_NONE)
		return 0;
	int64_t want[5];
	int n = op_int_list(c, 1, "output_size", false, want, 5);
	if (n < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	int nd = g->nd;
	if (n != nd && n != nd + 1 && n != nd + 2)
		return op_fail(c, "%s: output_size must have %d or %d elements (got %d)",
		               c->def->name, nd, nd + 2, n);
	if (xs->ndim < nd)
		return 0; /* op_conv reports the rank */
	for (int i = 0; i < nd; i++) {
		int64_t in = xs->dim[xs->ndim - nd + i];
		int64_t lo = (in - 1) * g->s[i] - 2 * g->p[i] + g->d[i] * (g->k[i] - 1) + 1;
		int64_t w = want[n - nd + i];
		if (w < lo || w > lo + g->s[i] - 1)
			return op_fail(c,
			               "%s: requested an output size of %lld, but valid sizes "
			               "range from %lld to %lld (for an input of %lld)",
			               c->def->name, (long long)w, (long long)lo,
			               (long long)(lo + g->s[i] - 1), (long long)in);
		g->output_padding[i] = w - lo;
	}
	return 0;
}

static int conv_infer(struct op_call *c)
{
	const struct module *m = c->module;
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	struct conv_geom g = {.nd = op_spatial_dims(m->type),
	                      .transposed = conv_transposed(m->type)};
	module_attr_ints(m, "kernel_size", g.k, g.nd);
	module_attr_ints(m, "stride", g.s, g.nd);
	module_attr_ints(m, "dilation", g.d, g.nd);
	g.in = module_attr_int(m, "in_channels", 0);
	g.out = module_attr_int(m, "out_channels", 0);
	g.groups = module_attr_int(m, "groups", 1);
	g.pad = module_attr(m, "padding");
	if (g.transposed) {
		module_attr_ints(m, "padding", g.p, g.nd);
		module_attr_ints(m, "output_padding", g.output_padding, g.nd);
		if (transposed_output_size(c, x, &g) < 0)
			return -1;
	}
	return op_conv(c, x, &g);
}

static void conv_describe(const struct module *m, char *buf, size_t size)
{
	int nd = op_spatial_dims(m->type);
	int64_t k[3], s[3], d[3], in = module_attr_int(m, "in_channels", 0);
	int64_t g = module_attr_int(m, "groups", 1);
	char t[48];
	module_attr_ints(m, "kernel_size", k, nd);
	module_attr_ints(m, "stride", s, nd);
	module_attr_ints(m, "dilation", d, nd);
	snprintf(buf, size, "%lld→%lld k%s", (long long)in,
	         (long long)module_attr_int(m, "out_channels", 0),
	         op_sizes_text(k, nd, t, sizeof t));
	if (!all_equal(s, nd, 1))
		op_append(buf, size, " s%s", op_sizes_text(s, nd, t, sizeof t));
	const struct value *pad = module_attr(m, "padding");
	if (pad && pad->kind == VAL_STR) {
		if (strcmp(pad->u.s, "same") == 0)
			op_append(buf, size, " same");
	} else {
		int64_t p[3];
		module_attr_ints(m, "padding", p, nd);
		if (!all_equal(p, nd, 0))
			op_append(buf, size, " p%s", op_sizes_text(p, nd, t, sizeof t));
	}
	int64_t op[3];
	if (module_attr(m, "output_padding")) {
		module_attr_ints(m, "output_padding", op, nd);
		if (!all_equal(op, nd, 0))
			op_append(buf, size, " op%s", op_sizes_text(op, nd, t, sizeof t));
	}
	if (!all_equal(d, nd, 1))
		op_append(buf, size, " d%s", op_sizes_text(d, nd, t, sizeof t));
	if (g > 1 && g == in)
		op_append(buf, size, " dw");
	else if (g > 1)
		op_append(buf, size, " g%lld", (long long)g);
	const char *mode = module_attr_str(m, "padding_mode", "zeros");
	if (strcmp(mode, "zeros") != 0)
		op_append(buf, size, " %s", mode);
	if (!module_attr_bool(m, "bias", true))
		op_append(buf, size, " no bias");
}

#define CONV_DEF(id, nm, at, d)                                                                    \
	static const struct op_def def_##id = {                                                    \
	    .name = nm,                                                                            \
	    .in_size_attr = "in_channels",                                                         \
	    .in_size_dim = 1,                                                                      \
	    .kind = OP_MODULE,                                                                     \
	    .doc = d,                                                                              \
	    .attrs = at,                                                                           \
	    .nattrs = sizeof at / sizeof *at,                                                      \
	    .size_attr = "out_channels",                                                           \
	    .params = conv_params,                                                                 \
	    .infer = conv_infer,                                                                   \
	    .describe = conv_describe,                                                             \
	    .check = conv_check,                                                                   \
	    .init = conv_init,                                                                     \
	}

CONV_DEF(conv1d, "Conv1d", convnd_attrs, "1-D convolution over [N, C, L]");
CONV_DEF(conv2d, "Conv2d", conv2d_attrs, "2-D convolution over [N, C, H, W]");
CONV_DEF(conv3d, "Conv3d", convnd_attrs, "3-D convolution over [N, C, D, H, W]");
CONV_DEF(conv_transpose1d, "ConvTranspose1d", conv_transpose_attrs,
         "1-D transposed convolution over [N, C, L]");
CONV_DEF(conv_transpose2d, "ConvTranspose2d", conv_transpose_attrs,
         "2-D transposed convolution over [N, C, H, W]");
CONV_DEF(conv_transpose3d, "ConvTranspose3d", conv_transpose_attrs,
         "3-D transposed convolution over [N, C, D, H, W]");

/* ---- the functions ---- */

/* conv1d/2d/3d(x, weight, bias, stride, padding, dilation, groups) and
 * conv_transpose1d/2d/3d(x, weight, bias, stride, padding, output_padding,
 * groups, dilation). */
static int fn_conv(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *w = x ? op_tensor(c, 1, "weight") : NULL, *b;
	if (!w || op_optional_tensor(c, 2, "bias", &b) < 0)
		return -1;
	struct conv_geom g = {.nd = op_spatial_dims(c->def->name),
	                      .transposed = conv_transposed(c->def->name)};
	int nd = g.nd;
	const struct shape *ws = op_shape(w);
	if (ws->ndim != nd + 2)
		return op_fail(c, "%s() needs a %d-D weight", c->def->name, nd + 2);
	static const int64_t one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
	if (op_tuple_arg(c, 3, "stride", nd, one, g.s) < 0 ||
	    op_tuple_arg(c, g.transposed ? 7 : 5, "dilation", nd, one, g.d) < 0 ||
	    op_int(c, 6, "groups", 1, &g.groups) < 0)
		return -1;
	if (g.groups <= 0 || ws->dim[0] % g.groups)
		return op_fail(c, "%s(): groups must divide the weight's %lld %s channels",
		               c->def->name, (long long)ws->dim[0],
		               g.transposed ? "input" : "output");
	for (int i = 0; i < nd; i++)
		g.k[i] = ws->dim[2 + i];
	g.in = g.transposed ? ws->dim[0] : ws->dim[1] * g.groups;
	g.out = g.transposed ? ws->dim[1] * g.groups : ws->dim[0];
	const struct value *pad = op_arg(c, 4, "padding");
	struct value padv = value_none();
	if (pad && pad->kind == VAL_STR && !g.transposed) {
		if (strcmp(pad->u.s, "same") && strcmp(pad->u.s, "valid"))
			return op_fail(c, "%s(): padding must be 'same', 'valid' or ints",
			               c->def->name);
		padv = value_copy(pad);
	} else {
		if (op_tuple_arg(c, 4, "padding", nd, zero, g.p) < 0)
			return -1;
		padv = value_list(nd);
		for (int i = 0; i < nd; i++)
			padv.u.list.items[i] = value_int(g.p[i]);
	}
	g.pad = &padv;
	int rc =
	    g.transposed ? op_tuple_arg(c, 5, "output_padding", nd, zero, g.output_padding) : 0;
	if (rc == 0)
		rc = op_conv(c, x, &g);
	value_free(&padv);
	return rc;
}

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(conv1d, fn_conv, "conv1d(x, weight, bias, stride, padding, dilation, groups)",
                     "F.conv1d");
REGISTRY_FUNCTION(conv2d, fn_conv, "conv2d(x, weight, bias, stride, padding, dilation, groups)");
REGISTRY_FUNCTION_PY(conv3d, fn_conv, "conv3d(x, weight, bias, stride, padding, dilation, groups)",
                     "F.conv3d");
REGISTRY_FUNCTION_PY(conv_transpose1d, fn_conv,
                     "conv_transpose1d(x, weight, bias, stride, padding, output_padding, groups, "
                     "dilation)",
                     "F.conv_transpose1d");
REGISTRY_FUNCTION_PY(conv_transpose2d, fn_conv,
                     "conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, "
                     "dilation)",
                     "F.conv_transpose2d");
REGISTRY_FUNCTION_PY(conv_transpose3d, fn_conv,
                     "conv_transpose3d(x, weight, bias, stride, padding, output_padding, groups, "
                     "dilation)",
                     "F.conv_transpose3d");

const struct op_def *const registry_conv_defs[] = {
    &def_conv2d,
    &fn_def_conv2d,
    &def_conv1d,
    &def_conv3d,
    &def_conv_transpose1d,
    &def_conv_transpose2d,
    &def_conv_transpose3d,
    &fn_def_conv1d,
    &fn_def_conv3d,
    &fn_def_conv_transpose1d,
    &fn_def_conv_transpose2d,
    &fn_def_conv_transpose3d,
    NULL,
};
