/* registry_conv.c - convolution: Conv2d and conv2d(). */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

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
	if (op_check_positive(m, "in_channels", e) || op_check_positive(m, "out_channels", e) ||
	    op_check_positive(m, "groups", e) || op_check_positive_pair(m, "kernel_size", e) ||
	    op_check_positive_pair(m, "stride", e) || op_check_positive_pair(m, "dilation", e))
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
	op_add_param(m, "weight", 4, w, false);
	if (module_attr_bool(m, "bias", true))
		op_add_param(m, "bias", 1, &out, false);
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
		shape_format(op_shape(w), sb, sizeof sb);
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
		op_append(buf, n, ", padding=(%lld, %lld)", (long long)p[0], (long long)p[1]);
	if (d[0] != 1 || d[1] != 1)
		op_append(buf, n, ", dilation=(%lld, %lld)", (long long)d[0], (long long)d[1]);
	op_append(buf, n, ")");
}

int op_conv2d(struct op_call *c, const struct value *x, int64_t in, int64_t out, const int64_t k[2],
              const int64_t s[2], const struct value *pad, const int64_t d[2], int64_t groups)
{
	const struct shape *xs = op_shape(x);
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
	int64_t n = op_checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), &os, NULL);
	c->macs = op_mul_sat(op_mul_sat(n, in / groups), op_mul_sat(k[0], k[1]));
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
	         (long long)module_attr_int(m, "out_channels", 0), op_pair_text(k, t, sizeof t));
	if (s[0] != 1 || s[1] != 1)
		op_append(buf, size, " s%s", op_pair_text(s, t, sizeof t));
	const struct value *pad = module_attr(m, "padding");
	if (pad && pad->kind == VAL_STR) {
		if (strcmp(pad->u.s, "same") == 0)
			op_append(buf, size, " same");
	} else {
		int64_t p[2];
		module_attr_ints(m, "padding", p, 2);
		if (p[0] || p[1])
			op_append(buf, size, " p%s", op_pair_text(p, t, sizeof t));
	}
	if (d[0] != 1 || d[1] != 1)
		op_append(buf, size, " d%s", op_pair_text(d, t, sizeof t));
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

static int fn_conv2d(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *w = x ? op_tensor(c, 1, "weight") : NULL, *b;
	if (!w || op_optional_tensor(c, 2, "bias", &b) < 0)
		return -1;
	const struct shape *ws = op_shape(w);
	if (ws->ndim != 4)
		return op_fail(c, "conv2d() needs a 4-D weight");
	int64_t s[2], d[2], g;
	static const int64_t one[2] = {1, 1};
	if (op_pair_arg(c, 3, "stride", one, s) < 0 || op_pair_arg(c, 5, "dilation", one, d) < 0 ||
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
		if (op_pair_arg(c, 4, "padding", NULL, p) < 0) {
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

/* ---- the table ---- */

REGISTRY_FUNCTION(conv2d, fn_conv2d, "conv2d(x, weight, bias, stride, padding, dilation, groups)");

const struct op_def *const registry_conv_defs[] = {
    &def_conv2d,
    &fn_def_conv2d,
    NULL,
};
