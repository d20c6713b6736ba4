/* registry_resample.c - the spatial grid and its channels rearranged:
 * padding (the pad layers and F.pad in every mode), resizing (Upsample and
 * F.interpolate in every mode), PixelShuffle, PixelUnshuffle and
 * ChannelShuffle, with their functions; sampling at coordinates
 * (F.grid_sample, and index_pyramid: RAFT's correlation lookup). */
#include "core/registry_impl.h"
#include "core/registry_resample.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- padding ---- */

/* The output of padding x's trailing dims by p (n values, left and right
 * of the last dim first) in mode ("constant", "reflect", "replicate",
 * "circular"), with PyTorch's limits: the non-constant modes pad the last
 * 1 to 3 dims of an input with one or two more (circular: two more), a
 * reflection less than the size, a circular padding at most the size.
 * `who` names the caller in a break ("ReflectionPad2d(padding=(1, 1, 1, 1))"). */
static int pad_infer(struct op_call *c, const struct value *x, const int64_t *p, int n,
                     const char *mode, const char *who)
{
	const struct shape *xs = op_shape(x);
	int k = n / 2;
	char sb[160];
	if (n % 2 || k > xs->ndim)
		return op_fail(c,
		               "pad(): padding length must be even and at most twice the "
		               "input's rank, got %d for a %d-D input",
		               n, xs->ndim);
	bool constant = strcmp(mode, "constant") == 0, circular = strcmp(mode, "circular") == 0;
	if (!constant && strcmp(mode, "reflect") && strcmp(mode, "replicate") && !circular)
		return op_fail(c,
		               "pad(): mode must be 'constant', 'reflect', 'replicate' or "
		               "'circular', got '%s'",
		               mode);
	if (!constant && (k < 1 || k > 3 || xs->ndim > k + 2 || xs->ndim < k + 1 + circular)) {
		char need[32];
		snprintf(need, sizeof need, circular ? "%d-D" : "%d-D or %d-D", k + 1 + circular,
		         k + 2);
		return op_break(c, x, who,
		                "a %d-D input %s (%s padding of the last %d dims needs %s)",
		                xs->ndim, shape_format(xs, sb, sizeof sb), mode, k,
		                k >= 1 && k <= 3 ? need : "1 to 3 of them");
	}
	struct shape os = *xs;
	for (int i = 0; i < k; i++) {
		int d = xs->ndim - 1 - i;
		int64_t v, lo = p[2 * i], hi = p[2 * i + 1], in = xs->dim[d];
		if (__builtin_add_overflow(in, lo, &v) || __builtin_add_overflow(v, hi, &v))
			return op_mismatch(c, "pad() result too large");
		bool too_wide = (strcmp(mode, "reflect") == 0 && (lo >= in || hi >= in)) ||
		                (circular && (lo > in || hi > in));
		if (v < 0 || (v == 0 && !constant) || too_wide)
			return op_break(c, x, who, "%s, too small to %s-pad dim %d by (%lld, %lld)",
			                shape_format(xs, sb, sizeof sb), mode, d, (long long)lo,
			                (long long)hi);
		os.dim[d] = v;
	}
	return op_out_like(c, x, &os);
}

/* F.pad(input, pad, mode='constant', value=None) */
static int fn_pad(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	int64_t p[2 * SHAPE_MAX_DIMS];
	int n = op_int_list(c, 1, "pad", false, p, 2 * SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	const struct value *mode = op_arg(c, 2, "mode");
	return pad_infer(c, x, p, n, mode && mode->kind == VAL_STR ? mode->u.s : "constant",
	                 "pad()");
}

/* A pad layer pads this many trailing dims: the digit of "ReflectionPad2d". */
static int pad_layer_dims(const char *type)
{
	return type[strlen(type) - 2] - '0';
}

const char *resample_pad_mode(const char *type)
{
	return !strncmp(type, "Reflection", 10)    ? "reflect"
	       : !strncmp(type, "Replication", 11) ? "replicate"
	                                           : "constant";
}

/* padding=1 becomes (1, 1, 1, 1) for a 2-D pad, as PyTorch stores it. */
static int pad_layer_check(struct module *m, struct error *e)
{
	int k = pad_layer_dims(m->type);
	const struct value *v = module_attr(m, "padding");
	if (v->u.list.n == 1) {
		struct value all = value_list(2 * k);
		for (int i = 0; i < 2 * k; i++)
			all.u.list.items[i] = value_int(v->u.list.items[0].u.i);
		module_set_attr(m, "padding", &all);
		value_free(&all);
	} else if (v->u.list.n != 2 * k) {
		return error_set(e, "%s: padding must be one int or %d ints, got %d", m->type,
		                 2 * k, v->u.list.n);
	}
	return 0;
}

static int pad_layer_infer(struct op_call *c)
{
	const char *mode = resample_pad_mode(c->def->name);
	int k = pad_layer_dims(c->def->name);
	bool constant = strcmp(mode, "constant") == 0;
	char what[32];
	snprintf(what, sizeof what, constant ? "at least %d-D" : "%d-D or %d-D",
	         constant ? k : k + 1, k + 2);
	const struct value *x =
	    op_input_rank(c, constant ? k : k + 1, constant ? SHAPE_MAX_DIMS : k + 2, what);
	if (!x)
		return -1;
	int64_t p[6];
	const struct value *pv = module_attr(c->module, "padding");
	value_ints(pv, p, 2 * k);
	char who[160], t[96];
	value_format(pv, t, sizeof t);
	snprintf(who, sizeof who, "%s(padding=%s)", c->def->name, t);
	return pad_infer(c, x, p, 2 * k, mode, who);
}

static void pad_layer_describe(const struct module *m, char *buf, size_t size)
{
	const struct value *v = module_attr(m, "padding");
	bool same = true;
	for (int i = 1; i < v->u.list.n; i++)
		same = same && v->u.list.items[i].u.i == v->u.list.items[0].u.i;
	if (same)
		snprintf(buf, size, "%lld", (long long)v->u.list.items[0].u.i);
	else
		value_format(v, buf, size);
	const struct value *fill = module_attr(m, "value");
	if (fill)
		op_append(buf, size, " value=%g", fill->u.f);
}

static const struct attr_spec constant_pad_attrs[] = {
    {"padding", AT_INTS, NULL},
    {"value", AT_FLOAT, NULL},
};

static const struct attr_spec pad_attrs[] = {
    {"padding", AT_INTS, NULL},
};

/* A pad layer: `attrs_` is constant_pad_attrs or pad_attrs. */
#define PAD_DEF(id, type, doc_, attrs_)                                                            \
	static const struct op_def def_##id = {                                                    \
	    .name = type,                                                                          \
	    .kind = OP_MODULE,                                                                     \
	    .doc = doc_,                                                                           \
	    .attrs = attrs_,                                                                       \
	    .nattrs = sizeof attrs_ / sizeof *attrs_,                                              \
	    .infer = pad_layer_infer,                                                              \
	    .describe = pad_layer_describe,                                                        \
	    .check = pad_layer_check,                                                              \
	}

PAD_DEF(constant_pad1d, "ConstantPad1d", "pads the last dim with `value`", constant_pad_attrs);
PAD_DEF(constant_pad2d, "ConstantPad2d", "pads the last 2 dims with `value`", constant_pad_attrs);
PAD_DEF(constant_pad3d, "ConstantPad3d", "pads the last 3 dims with `value`", constant_pad_attrs);
PAD_DEF(zero_pad2d, "ZeroPad2d", "pads the last 2 dims with zeros", pad_attrs);
PAD_DEF(reflection_pad1d, "ReflectionPad1d", "pads the last dim with its reflection", pad_attrs);
PAD_DEF(reflection_pad2d, "ReflectionPad2d", "pads the last 2 dims with their reflection",
        pad_attrs);
PAD_DEF(reflection_pad3d, "ReflectionPad3d", "pads the last 3 dims with their reflection",
        pad_attrs);
PAD_DEF(replication_pad1d, "ReplicationPad1d", "pads the last dim with its edge values", pad_attrs);
PAD_DEF(replication_pad2d, "ReplicationPad2d", "pads the last 2 dims with their edge values",
        pad_attrs);
PAD_DEF(replication_pad3d, "ReplicationPad3d", "pads the last 3 dims with their edge values",
        pad_attrs);

/* ---- resizing: Upsample, F.interpolate ---- */

/* How each resizing entry reads its call: a module's attributes or a
 * function's arguments (positions of size, scale_factor, mode,
 * align_corners, recompute_scale_factor, antialias; -1 when it has none),
 * or a fixed mode and align_corners. */
static const struct resize_form {
	const char *name;
	int pos[6];
	const char *mode; /* fixed, or NULL: read */
	bool align;       /* fixed align_corners (with a fixed mode) */
} resize_forms[] = {
    {"Upsample", {-1, -1, -1, -1, -1, -1}, NULL, false},
    {"UpsamplingNearest2d", {-1, -1, -1, -1, -1, -1}, "nearest", false},
    {"UpsamplingBilinear2d", {-1, -1, -1, -1, -1, -1}, "bilinear", true},
    {"interpolate", {1, 2, 3, 4, 5, 6}, NULL, false},
    {"upsample", {1, 2, 3, 4, -1, -1}, NULL, false},
    {"upsample_nearest", {1, 2, -1, -1, -1, -1}, "nearest", false},
    {"upsample_bilinear", {1, 2, -1, -1, -1, -1}, "bilinear", true},
};

static const char *const resize_keys[6] = {
    "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias",
};

/* Argument i of the call in form f, or NULL when absent (None stays None). */
static const struct value *resize_arg(const struct op_call *c, const struct resize_form *f, int i)
{
	if (c->module)
		return module_attr(c->module, resize_keys[i]);
	return f->pos[i] < 0 ? NULL : op_arg(c, f->pos[i], resize_keys[i]);
}

static bool is_none(const struct value *v)
{
	return !v || v->kind == VAL_NONE;
}

/* Reads nd ints (sizes) or numbers (scales) from v: one, or a list of nd. */
static int resize_numbers(struct op_call *c, const struct value *v, int nd, bool ints, double *out)
{
	int n = v->kind == VAL_LIST ? v->u.list.n : 1;
	if (v->kind == VAL_LIST && n != nd)
		return op_fail(c, "%s: %s has %d values for a %d-D resize", op_fn_name(c),
		               ints ? "size" : "scale_factor", n, nd);
	for (int i = 0; i < nd; i++) {
		const struct value *e = v->kind == VAL_LIST ? &v->u.list.items[i] : v;
		if ((ints && e->kind != VAL_INT) || !value_number(e, &out[i]) ||
		    e->kind == VAL_BOOL || !(out[i] > 0)) {
			char got[96];
			value_format(v, got, sizeof got);
			return op_fail(c, "%s: %s must be %s, got %s", op_fn_name(c),
			               ints ? "size" : "scale_factor",
			               ints ? "positive ints" : "positive numbers", got);
		}
	}
	return 0;
}

static const struct {
	const char *name;
	enum resize_mode mode;
	int rank; /* the input's rank, 0: 3-D to 5-D */
} resize_modes[] = {
    {"nearest", RESIZE_NEAREST, 0},  {"nearest-exact", RESIZE_NEAREST_EXACT, 0},
    {"area", RESIZE_AREA, 0},        {"linear", RESIZE_LINEAR, 3},
    {"bilinear", RESIZE_LINEAR, 4},  {"bicubic", RESIZE_CUBIC, 4},
    {"trilinear", RESIZE_LINEAR, 5},
};

static const struct resize_form *resize_form_of(const char *name)
{
	for (size_t i = 0; i < sizeof resize_forms / sizeof *resize_forms; i++)
		if (strcmp(resize_forms[i].name, name) == 0)
			return &resize_forms[i];
	return NULL;
}

int resize_read(struct op_call *c, const struct value *x, struct resize *r)
{
	const struct resize_form *f = resize_form_of(c->def->name);
	if (!f)
		return op_fail(c, "%s is not a resize", c->def->name);
	const struct value *mv = resize_arg(c, f, 2), *av = resize_arg(c, f, 3);
	const char *mode = f->mode ? f->mode : is_none(mv) ? "nearest" : NULL;
	if (!mode && mv->kind == VAL_STR)
		mode = mv->u.s;
	int m = -1;
	for (int i = 0; mode && i < (int)(sizeof resize_modes / sizeof *resize_modes); i++)
		if (strcmp(resize_modes[i].name, mode) == 0)
			m = i;
	if (m < 0)
		return op_fail(c,
		               "%s: mode must be one of nearest, nearest-exact, linear, bilinear, "
		               "bicubic, trilinear, area",
		               op_fn_name(c));
	const struct shape *xs = op_shape(x);
	int want = resize_modes[m].rank;
	if ((want && xs->ndim != want) || xs->ndim < 3 || xs->ndim > 5) {
		char who[96], sb[160];
		snprintf(who, sizeof who, "%s(mode='%s')", c->def->name, mode);
		if (want)
			return op_break(c, x, who, "a %d-D input %s (needs %d-D)", xs->ndim,
			                shape_format(xs, sb, sizeof sb), want);
		return op_break(c, x, who, "a %d-D input %s (needs 3-D to 5-D)", xs->ndim,
		                shape_format(xs, sb, sizeof sb));
	}
	r->mode = resize_modes[m].mode;
	r->nd = xs->ndim - 2;
	bool interpolating = r->mode == RESIZE_LINEAR || r->mode == RESIZE_CUBIC;
	r->align_corners = f->align;
	if (!f->mode && !is_none(av)) {
		if (av->kind != VAL_BOOL)
			return op_fail(c, "%s: align_corners must be True, False or None",
			               op_fn_name(c));
		if (!interpolating)
			return op_fail(c,
			               "%s: align_corners can only be set with the interpolating "
			               "modes: linear, bilinear, bicubic, trilinear",
			               op_fn_name(c));
		r->align_corners = av->u.b;
	}
	const struct value *antialias = resize_arg(c, f, 5);
	if (!is_none(antialias) && !(antialias->kind == VAL_BOOL && !antialias->u.b))
		return op_fail(c, "%s: antialias=True is not supported", op_fn_name(c));
	const struct value *size = resize_arg(c, f, 0), *scale = resize_arg(c, f, 1);
	const struct value *rv = resize_arg(c, f, 4);
	bool recompute = !is_none(rv) && rv->kind == VAL_BOOL && rv->u.b;
	if (is_none(size) == is_none(scale))
		return op_fail(c, "%s: needs exactly one of size and scale_factor", op_fn_name(c));
	double v[3];
	if (!is_none(size)) {
		if (recompute)
			return op_fail(
			    c, "%s: recompute_scale_factor is for a scale_factor, not a size",
			    op_fn_name(c));
		if (resize_numbers(c, size, r->nd, true, v) < 0)
			return -1;
		for (int i = 0; i < r->nd; i++) {
			r->out[i] = (int64_t)v[i];
			r->scale[i] = 0;
		}
		return 0;
	}
	if (resize_numbers(c, scale, r->nd, false, v) < 0)
		return -1;
	if (r->mode == RESIZE_AREA && is_none(rv))
		recompute = true;
	for (int i = 0; i < r->nd; i++) {
		double o = floor((double)xs->dim[2 + i] * v[i]);
		if (!(o >= 1 && o < 9e18)) {
			char who[96];
			snprintf(who, sizeof who, "%s(scale_factor=%g)", c->def->name, v[i]);
			return op_break(c, x, who, "%lld in dim %d (an output size of %.0f)",
			                (long long)xs->dim[2 + i], 2 + i, o);
		}
		r->out[i] = (int64_t)o;
		r->scale[i] = recompute ? 0 : v[i];
	}
	return 0;
}

static int resize_infer(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	struct resize r;
	if (!x || resize_read(c, x, &r) < 0)
		return -1;
	struct shape os = *op_shape(x);
	for (int i = 0; i < r.nd; i++)
		os.dim[2 + i] = r.out[i];
	return op_out_like(c, x, &os);
}

static const struct attr_spec upsample_attrs[] = {
    {"size", AT_ANY, "None"},
    {"scale_factor", AT_ANY, "None"},
    {"mode", AT_STR, "'nearest'"},
    {"align_corners", AT_ANY, "None"},
    {"recompute_scale_factor", AT_ANY, "None"},
};

/* "x2 nearest", "size 32x32 bilinear align_corners"; the mode only where
 * the type does not fix it. */
static void upsample_describe(const struct module *m, char *buf, size_t size)
{
	const struct value *s = module_attr(m, "size"), *f = module_attr(m, "scale_factor");
	char t[96];
	buf[0] = '\0';
	if (!is_none(f)) {
		value_format(f, t, sizeof t);
		op_append(buf, size, "x%s", t);
	} else if (s && s->kind == VAL_LIST) {
		op_append(buf, size, "size");
		for (int i = 0; i < s->u.list.n; i++)
			op_append(buf, size, "%s%lld", i ? "x" : " ",
			          (long long)s->u.list.items[i].u.i);
	} else if (!is_none(s)) {
		value_format(s, t, sizeof t);
		op_append(buf, size, "size %s", t);
	}
	if (!resize_form_of(m->type)->mode)
		op_append(buf, size, " %s", module_attr_str(m, "mode", "nearest"));
	const struct value *a = module_attr(m, "align_corners");
	if (a && a->kind == VAL_BOOL && a->u.b)
		op_append(buf, size, " align_corners");
}

static const struct op_def def_upsample = {
    .name = "Upsample",
    .kind = OP_MODULE,
    .doc = "resizes the trailing 1 to 3 dims to size, or by scale_factor",
    .attrs = upsample_attrs,
    .nattrs = sizeof upsample_attrs / sizeof *upsample_attrs,
    .infer = resize_infer,
    .describe = upsample_describe,
};

static const struct op_def def_upsampling_nearest2d = {
    .name = "UpsamplingNearest2d",
    .kind = OP_MODULE,
    .doc = "nearest-neighbour resize of [N, C, H, W] to size, or by scale_factor",
    .attrs = upsample_attrs,
    .nattrs = 2,
    .infer = resize_infer,
    .describe = upsample_describe,
};

static const struct op_def def_upsampling_bilinear2d = {
    .name = "UpsamplingBilinear2d",
    .kind = OP_MODULE,
    .doc = "bilinear resize (align_corners=True) of [N, C, H, W] to size, or by scale_factor",
    .attrs = upsample_attrs,
    .nattrs = 2,
    .infer = resize_infer,
    .describe = upsample_describe,
};

/* ---- PixelShuffle, PixelUnshuffle, ChannelShuffle ---- */

/* [*, C*r*r, H, W] -> [*, C, H*r, W*r] (shuffle), or back (unshuffle). */
static int pixel_shuffle_shape(struct op_call *c, const struct value *x, int64_t r, bool unshuffle)
{
	const char *attr = unshuffle ? "downscale_factor" : "upscale_factor";
	if (r <= 0)
		return op_fail(c, "%s: %s must be positive, got %lld", op_fn_name(c), attr,
		               (long long)r);
	const struct shape *xs = op_shape(x);
	char who[128], sb[160];
	snprintf(who, sizeof who, "%s(%s=%lld)", c->def->name, attr, (long long)r);
	if (xs->ndim < 3)
		return op_break(c, x, who, "a %d-D input (needs at least 3-D)", xs->ndim);
	int ch = xs->ndim - 3;
	struct shape os = *xs;
	int64_t rr = op_mul_sat(r, r);
	if (!unshuffle) {
		if (xs->dim[ch] % rr)
			return op_break(c, x, who, "%lld channels (not divisible by %lld)",
			                (long long)xs->dim[ch], (long long)rr);
		os.dim[ch] /= rr;
		os.dim[ch + 1] = op_mul_sat(xs->dim[ch + 1], r);
		os.dim[ch + 2] = op_mul_sat(xs->dim[ch + 2], r);
	} else {
		if (xs->dim[ch + 1] % r || xs->dim[ch + 2] % r)
			return op_break(c, x, who, "%s (height and width not divisible by %lld)",
			                shape_format(xs, sb, sizeof sb), (long long)r);
		os.dim[ch] = op_mul_sat(xs->dim[ch], rr);
		os.dim[ch + 1] /= r;
		os.dim[ch + 2] /= r;
	}
	return op_out_like(c, x, &os);
}

static int pixel_shuffle_infer(struct op_call *c)
{
	bool unshuffle = strstr(c->def->name, "nshuffle") != NULL;
	const char *attr = unshuffle ? "downscale_factor" : "upscale_factor";
	const struct value *x = op_self_tensor(c);
	int64_t r;
	if (!x)
		return -1;
	if (c->module)
		r = module_attr_int(c->module, attr, 1);
	else if (op_int(c, 1, attr, 0, &r) < 0)
		return -1;
	return pixel_shuffle_shape(c, x, r, unshuffle);
}

static int channel_shuffle_shape(struct op_call *c, const struct value *x, int64_t g)
{
	const struct shape *xs = op_shape(x);
	if (xs->ndim < 3)
		return op_break(c, x, "channel_shuffle", "a %d-D input (needs at least 3-D)",
		                xs->ndim);
	if (g <= 0)
		return op_fail(c, "channel_shuffle(): groups must be positive, got %lld",
		               (long long)g);
	if (xs->dim[1] % g) {
		char desc[96];
		snprintf(desc, sizeof desc, "%s(groups=%lld)", c->def->name, (long long)g);
		return op_break(c, x, desc, "%lld channels (not divisible)", (long long)xs->dim[1]);
	}
	return op_same(c);
}

static int fn_channel_shuffle(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t g;
	if (!x || op_int(c, 1, "groups", 0, &g) < 0)
		return -1;
	return channel_shuffle_shape(c, x, g);
}

static int channel_shuffle_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	return x ? channel_shuffle_shape(c, x, module_attr_int(c->module, "groups", 1)) : -1;
}

static int factor_check(struct module *m, struct error *e)
{
	return op_check_positive(m, registry_module(m->type)->attrs[0].name, e);
}

/* "x2" (PixelShuffle), "/2" (PixelUnshuffle), "groups 3". */
static void factor_describe(const struct module *m, char *buf, size_t size)
{
	const char *attr = registry_module(m->type)->attrs[0].name;
	snprintf(buf, size, "%s%lld",
	         attr[0] == 'g'   ? "groups "
	         : attr[0] == 'u' ? "x"
	                          : "/",
	         (long long)module_attr_int(m, attr, 0));
}

static const struct attr_spec pixel_shuffle_attrs[] = {{"upscale_factor", AT_INT, NULL}};
static const struct attr_spec pixel_unshuffle_attrs[] = {{"downscale_factor", AT_INT, NULL}};
static const struct attr_spec channel_shuffle_attrs[] = {{"groups", AT_INT, NULL}};

static const struct op_def def_pixel_shuffle = {
    .name = "PixelShuffle",
    .kind = OP_MODULE,
    .doc = "[*, C*r*r, H, W] -> [*, C, H*r, W*r], r the upscale_factor",
    .attrs = pixel_shuffle_attrs,
    .nattrs = 1,
    .infer = pixel_shuffle_infer,
    .describe = factor_describe,
    .check = factor_check,
};

static const struct op_def def_pixel_unshuffle = {
    .name = "PixelUnshuffle",
    .kind = OP_MODULE,
    .doc = "[*, C, H*r, W*r] -> [*, C*r*r, H, W], r the downscale_factor",
    .attrs = pixel_unshuffle_attrs,
    .nattrs = 1,
    .infer = pixel_shuffle_infer,
    .describe = factor_describe,
    .check = factor_check,
};

static const struct op_def def_channel_shuffle = {
    .name = "ChannelShuffle",
    .kind = OP_MODULE,
    .doc = "interleaves the channels of `groups` groups (ShuffleNet)",
    .attrs = channel_shuffle_attrs,
    .nattrs = 1,
    .infer = channel_shuffle_infer,
    .describe = factor_describe,
    .check = factor_check,
};

/* ---- sampling at coordinates ---- */

static int str_choice(struct op_call *c, int pos, const char *kw, const char *const *names, int n,
                      int *out)
{
	const struct value *v = op_arg(c, pos, kw);
	if (!v || v->kind == VAL_NONE)
		return 0;
	for (int i = 0; v->kind == VAL_STR && i < n; i++)
		if (strcmp(v->u.s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	char got[64];
	value_format(v, got, sizeof got);
	return op_fail(c, "grid_sample(): %s must be '%s', '%s' or '%s', got %s", kw, names[0],
	               names[1], names[2], got);
}

int grid_sampling_read(struct op_call *c, struct grid_sampling *g)
{
	static const char *const modes[] = {"bilinear", "nearest", "bicubic"};
	static const char *const paddings[] = {"zeros", "border", "reflection"};
	int mode = GRID_BILINEAR, padding = GRID_ZEROS;
	if (str_choice(c, 2, "mode", modes, 3, &mode) < 0 ||
	    str_choice(c, 3, "padding_mode", paddings, 3, &padding) < 0)
		return -1;
	const struct value *av = op_arg(c, 4, "align_corners");
	if (av && av->kind != VAL_NONE && av->kind != VAL_BOOL)
		return op_fail(c, "grid_sample(): align_corners must be True, False or None");
	g->mode = (enum grid_mode)mode;
	g->padding = (enum grid_padding)padding;
	g->align_corners = av && av->kind == VAL_BOOL && av->u.b;
	return 0;
}

/* F.grid_sample(input, grid, ...): [N, C, H, W] sampled at the grid's
 * [N, H_out, W_out, 2] points (x, y in [-1, 1]) -> [N, C, H_out, W_out]. */
static int fn_grid_sample(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	const struct value *grid = x ? op_tensor(c, 1, "grid") : NULL;
	struct grid_sampling g;
	if (!grid || grid_sampling_read(c, &g) < 0)
		return -1;
	const struct shape *xs = op_shape(x), *gs = op_shape(grid);
	char sb[160], gb[160];
	if (xs->ndim != 4)
		return op_break(c, x, "grid_sample()", "a %d-D input %s (graft samples 4-D ones)",
		                xs->ndim, shape_format(xs, sb, sizeof sb));
	if (gs->ndim != 4 || gs->dim[3] != 2 || gs->dim[0] != xs->dim[0])
		return op_break(c, grid, "grid_sample()",
		                "the grid %s for the input %s (it must be [N, H_out, W_out, 2])",
		                shape_format(gs, gb, sizeof gb), shape_format(xs, sb, sizeof sb));
	struct shape os = *xs;
	os.dim[2] = gs->dim[1];
	os.dim[3] = gs->dim[2];
	return op_out_like(c, x, &os);
}

/* index_pyramid(corr_pyramid, centroids_coords, radius): each level
 * [B*h*w, C, H_l, W_l] sampled around the coordinates [B, 2, h, w] ->
 * [B, levels*C*(2*radius+1)^2, h, w]. */
static int fn_index_pyramid(struct op_call *c)
{
	const struct value **levels;
	int n = op_tensor_list(c, 0, "corr_pyramid", &levels);
	if (n < 0)
		return -1;
	const struct value *coords = op_tensor(c, 1, "centroids_coords");
	int64_t radius;
	int rc = -1;
	char sb[160], cb[160];
	if (!coords || op_int(c, 2, "radius", -1, &radius) < 0)
		goto out;
	if (radius < 0 || radius > 1024) {
		op_fail(c, "index_pyramid(): radius must be in [0, 1024], got %lld", (long long)radius);
		goto out;
	}
	const struct shape *cs = op_shape(coords);
	if (cs->ndim != 4 || cs->dim[1] != 2) {
		op_break(c, coords, "index_pyramid()", "coordinates %s (they must be [B, 2, h, w])",
		         shape_format(cs, cb, sizeof cb));
		goto out;
	}
	int64_t side = 2 * radius + 1;
	int64_t points = op_mul_sat(op_mul_sat(cs->dim[0], cs->dim[2]), cs->dim[3]);
	int64_t channels = 0;
	for (int i = 0; i < n; i++) {
		const struct shape *ls = op_shape(levels[i]);
		if (ls->ndim != 4 || ls->dim[0] != points) {
			op_break(c, levels[i], "index_pyramid()",
			         "the level %s for the coordinates %s (it must be [B*h*w, C, H, W])",
			         shape_format(ls, sb, sizeof sb), shape_format(cs, cb, sizeof cb));
			goto out;
		}
		channels += ls->dim[1];
	}
	struct shape os = *cs;
	os.dim[1] = op_mul_sat(channels, side * side);
	rc = op_out_like(c, levels[0], &os);
out:
	free(levels);
	return rc;
}

/* ---- the table ---- */

REGISTRY_FUNCTION(pad, fn_pad, "pad(x, pad, mode='constant', value=None)");
REGISTRY_FUNCTION(channel_shuffle, fn_channel_shuffle, "channel_shuffle(x, groups)");
REGISTRY_FUNCTION_PY(interpolate, resize_infer,
                     "interpolate(x, size=None, scale_factor=None, mode='nearest', "
                     "align_corners=None, recompute_scale_factor=None)",
                     "F.interpolate");
REGISTRY_FUNCTION_PY(upsample, resize_infer,
                     "upsample(x, size=None, scale_factor=None, mode='nearest', "
                     "align_corners=None)",
                     "F.upsample");
REGISTRY_FUNCTION_PY(upsample_nearest, resize_infer,
                     "upsample_nearest(x, size=None, scale_factor=None)", "F.upsample_nearest");
REGISTRY_FUNCTION_PY(upsample_bilinear, resize_infer,
                     "upsample_bilinear(x, size=None, scale_factor=None), align_corners=True",
                     "F.upsample_bilinear");
REGISTRY_FUNCTION_PY(pixel_shuffle, pixel_shuffle_infer, "pixel_shuffle(x, upscale_factor)",
                     "F.pixel_shuffle");
REGISTRY_FUNCTION_PY(pixel_unshuffle, pixel_shuffle_infer, "pixel_unshuffle(x, downscale_factor)",
                     "F.pixel_unshuffle");

REGISTRY_FUNCTION_PY(grid_sample, fn_grid_sample,
                     "grid_sample(x, grid, mode='bilinear', padding_mode='zeros', "
                     "align_corners=None)",
                     "F.grid_sample");
REGISTRY_FUNCTION(index_pyramid, fn_index_pyramid,
                  "index_pyramid(corr_pyramid, centroids_coords, radius): RAFT's "
                  "correlation lookup");

const struct op_def *const registry_resample_defs[] = {
    &def_constant_pad1d,
    &def_constant_pad2d,
    &def_constant_pad3d,
    &def_zero_pad2d,
    &def_reflection_pad1d,
    &def_reflection_pad2d,
    &def_reflection_pad3d,
    &def_replication_pad1d,
    &def_replication_pad2d,
    &def_replication_pad3d,
    &def_upsample,
    &def_upsampling_nearest2d,
    &def_upsampling_bilinear2d,
    &def_pixel_shuffle,
    &def_pixel_unshuffle,
    &def_channel_shuffle,
    &fn_def_pad,
    &fn_def_channel_shuffle,
    &fn_def_interpolate,
    &fn_def_upsample,
    &fn_def_upsample_nearest,
    &fn_def_upsample_bilinear,
    &fn_def_pixel_shuffle,
    &fn_def_pixel_unshuffle,
    &fn_def_grid_sample,
    &fn_def_index_pyramid,
    NULL,
};
