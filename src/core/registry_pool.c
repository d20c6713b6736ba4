/* registry_pool.c - pooling and reductions: max, average, adaptive and
 * power-average pools over 1 to 3 dims, MaxUnpool, Fold and Unfold, mean,
 * sum, .... */
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static bool optional_bool(const struct op_call *c, int pos, const char *kw, bool def)
{
	const struct value *v = op_arg(c, pos, kw);
	if (v && v->kind == VAL_BOOL)
		return v->u.b;
	if (v && v->kind == VAL_INT)
		return v->u.i != 0;
	return def;
}

/* ---- pooling ---- */

/* "MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))" for breaks. */
static void pool_desc(const struct op_call *c, const struct pool_geom *g, char *buf, size_t size)
{
	char t[96];
	int nd = g->nd;
	snprintf(buf, size, "%s(kernel_size=%s", c->def->name,
	         op_tuple_text(g->k, nd, t, sizeof t));
	op_append(buf, size, ", stride=%s", op_tuple_text(g->s, nd, t, sizeof t));
	bool pad = false, dil = false;
	for (int i = 0; i < nd; i++) {
		pad = pad || g->p[i];
		dil = dil || g->d[i] != 1;
	}
	if (pad)
		op_append(buf, size, ", padding=%s", op_tuple_text(g->p, nd, t, sizeof t));
	if (dil)
		op_append(buf, size, ", dilation=%s", op_tuple_text(g->d, nd, t, sizeof t));
	if (g->ceil_mode)
		op_append(buf, size, ", ceil_mode=True");
	op_append(buf, size, ")");
}

/* Sizes joined by 'x' ("5x5"), negative ones as 0. */
static void dims_text(const int64_t *v, int n, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		op_append(buf, size, "%s%lld", i ? "x" : "", (long long)(v[i] > 0 ? v[i] : 0));
}

/* Sets c->out to the pool's output of shape os, and with return_indices
 * the pair (output, int64 indices). */
static void pool_out(struct op_call *c, const struct value *x, const struct shape *os,
                     bool return_indices)
{
	op_out_tensor(c, op_dtype(x), os, x);
	if (!return_indices)
		return;
	struct value out = value_list(2);
	out.u.list.items[0] = c->out;
	c->out = value_none();
	op_out_tensor(c, DT_I64, os, x);
	out.u.list.items[1] = c->out;
	c->out = out;
}

/* The input, checked to be (nd+1)-D or (nd+2)-D. */
static int pool_rank(struct op_call *c, const struct value *x, int nd)
{
	const struct shape *xs = op_shape(x);
	char sb[160];
	if (xs->ndim != nd + 1 && xs->ndim != nd + 2)
		return op_break(c, x, c->def->name, "%d-D %s (needs %d-D or %d-D input)", xs->ndim,
		                shape_format(xs, sb, sizeof sb), nd + 1, nd + 2);
	return 0;
}

int op_pool(struct op_call *c, const struct value *x, const struct pool_geom *g,
            bool return_indices)
{
	int nd = g->nd;
	if (pool_rank(c, x, nd) < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	char desc[320], in[96], out[96];
	for (int i = 0; i < nd; i++) {
		if (g->k[i] <= 0 || g->s[i] <= 0 || g->d[i] <= 0)
			return op_fail(c, "%s(): kernel_size, stride and dilation must be positive",
			               c->def->name);
		if (g->p[i] < 0 || g->p[i] > g->k[i] / 2)
			return op_fail(c,
			               "%s(): pad should be at most half of kernel size, but got "
			               "pad=%lld and kernel_size=%lld",
			               c->def->name, (long long)g->p[i], (long long)g->k[i]);
	}
	struct shape os = *xs;
	int h = xs->ndim - nd;
	bool empty = false;
	for (int i = 0; i < nd; i++) {
		int64_t o = op_window_out(xs->dim[h + i], g->k[i], g->s[i], g->p[i], g->p[i],
		                          g->d[i], g->ceil_mode);
		if (o == INT64_MIN)
			return op_mismatch(c, "pooling sizes overflow");
		os.dim[h + i] = o;
		empty = empty || o < 1;
	}
	if (empty) {
		pool_desc(c, g, desc, sizeof desc);
		dims_text(xs->dim + h, nd, in, sizeof in);
		dims_text(os.dim + h, nd, out, sizeof out);
		return op_break(c, x, desc, "a %s input (output would be %s)", in, out);
	}
	pool_out(c, x, &os, return_indices);
	return 0;
}

int op_adaptive_pool(struct op_call *c, const struct value *x, int nd, const int64_t *size,
                     bool return_indices)
{
	if (pool_rank(c, x, nd) < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	char sb[160];
	struct shape os = *xs;
	int h = xs->ndim - nd;
	for (int i = 0; i < nd; i++) {
		if (xs->dim[h + i] < 1)
			return op_break(c, x, c->def->name, "an empty input %s",
			                shape_format(xs, sb, sizeof sb));
		if (size[i] >= 0)
			os.dim[h + i] = size[i];
	}
	pool_out(c, x, &os, return_indices);
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

/* MaxPool1d/3d, AvgPool1d/3d: sizes are ints or tuples, expanded by
 * pool_check. AvgPool1d has no divisor_override. */
static const struct attr_spec maxpoolnd_attrs[] = {
    {"kernel_size", AT_INTS, NULL},
    {"stride", AT_ANY, "None"},
    {"padding", AT_INTS, "0"},
    {"dilation", AT_INTS, "1"},
    {"return_indices", AT_BOOL, "False"},
    {"ceil_mode", AT_BOOL, "False"},
};

static const struct attr_spec avgpool1d_attrs[] = {
    {"kernel_size", AT_INTS, NULL},
    {"stride", AT_ANY, "None"},
    {"padding", AT_INTS, "0"},
    {"ceil_mode", AT_BOOL, "False"},
    {"count_include_pad", AT_BOOL, "True"},
};

static const struct attr_spec avgpool3d_attrs[] = {
    {"kernel_size", AT_INTS, NULL},
    {"stride", AT_ANY, "None"},
    {"padding", AT_INTS, "0"},
    {"ceil_mode", AT_BOOL, "False"},
    {"count_include_pad", AT_BOOL, "True"},
    {"divisor_override", AT_INT_OR_NONE, "None"},
};

static const struct attr_spec lppool_attrs[] = {
    {"norm_type", AT_FLOAT, NULL},
    {"kernel_size", AT_INTS, NULL},
    {"stride", AT_ANY, "None"},
    {"ceil_mode", AT_BOOL, "False"},
};

/* LPPool1d takes ints only (F.lp_pool1d multiplies by its kernel_size):
 * they stay ints. */
static const struct attr_spec lppool1d_attrs[] = {
    {"norm_type", AT_FLOAT, NULL},
    {"kernel_size", AT_INT, NULL},
    {"stride", AT_INT_OR_NONE, "None"},
    {"ceil_mode", AT_BOOL, "False"},
};

static const struct attr_spec maxunpool_attrs[] = {
    {"kernel_size", AT_INTS, NULL},
    {"stride", AT_ANY, "None"},
    {"padding", AT_INTS, "0"},
};

/* stride=None means kernel_size, as PyTorch stores it; sizes become nd
 * ints; also checks them. */
static int pool_check(struct module *m, struct error *e)
{
	int nd = op_spatial_dims(m->type);
	int64_t k[3], p[3] = {0, 0, 0};
	bool ints = registry_attr_spec(m->def, "kernel_size")->type == AT_INT;
	if ((!ints && op_expand_ints(m, "kernel_size", nd, e) < 0) ||
	    op_check_positive_ints(m, "kernel_size", nd, e))
		return -1;
	const struct value *sv = module_attr(m, "stride");
	if (sv->kind == VAL_NONE || (sv->kind == VAL_LIST && sv->u.list.n == 0)) {
		struct value kv = value_copy(module_attr(m, "kernel_size"));
		module_set_attr(m, "stride", &kv);
		value_free(&kv);
	}
	if (ints)
		return op_check_positive_ints(m, "stride", nd, e);
	int64_t s[3];
	sv = module_attr(m, "stride");
	if (sv->kind == VAL_LIST && sv->u.list.n == 1)
		sv = &sv->u.list.items[0];
	if (value_ints(sv, s, nd) < 0) {
		char got[128];
		value_format(sv, got, sizeof got);
		if (nd == 2)
			return error_set(e,
			                 "%s: attribute 'stride' must be an int, a pair of ints or "
			                 "None, got %s",
			                 m->type, got);
		return error_set(e,
		                 "%s: attribute 'stride' must be an int, %d ints or None, got %s",
		                 m->type, nd, got);
	}
	if (op_expand_ints(m, "stride", nd, e) < 0 || op_check_positive_ints(m, "stride", nd, e))
		return -1;
	if (module_attr(m, "dilation") && (op_expand_ints(m, "dilation", nd, e) < 0 ||
	                                   op_check_positive_ints(m, "dilation", nd, e)))
		return -1;
	module_attr_ints(m, "kernel_size", k, nd);
	if (module_attr(m, "padding")) {
		if (op_expand_ints(m, "padding", nd, e) < 0)
			return -1;
		module_attr_ints(m, "padding", p, nd);
	}
	bool unpool = strncmp(m->type, "MaxUnpool", 9) == 0;
	for (int i = 0; i < nd; i++)
		if (p[i] < 0 || (!unpool && p[i] > k[i] / 2))
			return error_set(e,
			                 "%s: pad should be at most half of kernel size, but got "
			                 "pad=%lld and kernel_size=%lld",
			                 m->type, (long long)p[i], (long long)k[i]);
	const struct value *div = module_attr(m, "divisor_override");
	if (div && div->kind == VAL_INT && div->u.i == 0)
		return error_set(e, "%s: divisor_override must not be zero", m->type);
	return 0;
}

/* The window of a pooling module; padding and dilation default to 0 and 1
 * for the types without them. */
static void module_pool_geom(const struct module *m, struct pool_geom *g)
{
	g->nd = op_spatial_dims(m->type);
	for (int i = 0; i < 3; i++) {
		g->p[i] = 0;
		g->d[i] = 1;
	}
	module_attr_ints(m, "kernel_size", g->k, g->nd);
	module_attr_ints(m, "stride", g->s, g->nd);
	if (module_attr(m, "padding"))
		module_attr_ints(m, "padding", g->p, g->nd);
	if (module_attr(m, "dilation"))
		module_attr_ints(m, "dilation", g->d, g->nd);
	g->ceil_mode = module_attr_bool(m, "ceil_mode", false);
}

static int pool_infer(struct op_call *c)
{
	const struct module *m = c->module;
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	struct pool_geom g;
	module_pool_geom(m, &g);
	return op_pool(c, x, &g, module_attr_bool(m, "return_indices", false));
}

static void pool_describe(const struct module *m, char *buf, size_t size)
{
	struct pool_geom g;
	char t[48];
	module_pool_geom(m, &g);
	int nd = g.nd;
	const struct value *norm = module_attr(m, "norm_type");
	buf[0] = '\0';
	if (norm)
		op_append(buf, size, "p%g ", module_attr_float(m, "norm_type", 2));
	op_append(buf, size, "k%s", op_sizes_text(g.k, nd, t, sizeof t));
	bool s1 = true, p0 = true, d1 = true;
	for (int i = 0; i < nd; i++) {
		s1 = s1 && g.s[i] == 1;
		p0 = p0 && g.p[i] == 0;
		d1 = d1 && g.d[i] == 1;
	}
	if (!s1)
		op_append(buf, size, " s%s", op_sizes_text(g.s, nd, t, sizeof t));
	if (!p0)
		op_append(buf, size, " p%s", op_sizes_text(g.p, nd, t, sizeof t));
	if (!d1)
		op_append(buf, size, " d%s", op_sizes_text(g.d, nd, t, sizeof t));
	if (g.ceil_mode)
		op_append(buf, size, " ceil");
}

#define POOL_DEF(id, nm, at, d)                                                                    \
	static const struct op_def def_##id = {                                                    \
	    .name = nm,                                                                            \
	    .kind = OP_MODULE,                                                                     \
	    .doc = d,                                                                              \
	    .attrs = at,                                                                           \
	    .nattrs = sizeof at / sizeof *at,                                                      \
	    .infer = pool_infer,                                                                   \
	    .describe = pool_describe,                                                             \
	    .check = pool_check,                                                                   \
	}

POOL_DEF(maxpool2d, "MaxPool2d", maxpool2d_attrs, "max over kernel_size windows of [N, C, H, W]");
POOL_DEF(avgpool2d, "AvgPool2d", avgpool2d_attrs, "mean over kernel_size windows of [N, C, H, W]");
POOL_DEF(maxpool1d, "MaxPool1d", maxpoolnd_attrs, "max over kernel_size windows of [N, C, L]");
POOL_DEF(maxpool3d, "MaxPool3d", maxpoolnd_attrs,
         "max over kernel_size windows of [N, C, D, H, W]");
POOL_DEF(avgpool1d, "AvgPool1d", avgpool1d_attrs, "mean over kernel_size windows of [N, C, L]");
POOL_DEF(avgpool3d, "AvgPool3d", avgpool3d_attrs,
         "mean over kernel_size windows of [N, C, D, H, W]");
POOL_DEF(lppool1d, "LPPool1d", lppool1d_attrs,
         "power-average: the norm_type-norm of kernel_size windows of [N, C, L]");
POOL_DEF(lppool2d, "LPPool2d", lppool_attrs,
         "power-average: the norm_type-norm of kernel_size windows of [N, C, H, W]");

/* ---- MaxUnpool ---- */

/* The unpooled shape of x: (in - 1) * stride - 2 * padding + kernel_size,
 * or the last nd sizes of output_size (the argument at pos) when given,
 * which must lie within stride of those. */
static int unpool_shape(struct op_call *c, const struct value *x, const struct pool_geom *g,
                        int pos, struct shape *os)
{
	const struct shape *xs = op_shape(x);
	int nd = g->nd, h = xs->ndim - nd;
	*os = *xs;
	for (int i = 0; i < nd; i++)
		os->dim[h + i] = (xs->dim[h + i] - 1) * g->s[i] - 2 * g->p[i] + g->k[i];
	const struct value *v = op_arg(c, pos, "output_size");
	if (!v || v->kind == VAL_NONE)
		return 0;
	int64_t want[5];
	int n = op_int_list(c, pos, "output_size", false, want, 5);
	if (n < 0)
		return -1;
	if (n != nd && n != xs->ndim)
		return op_fail(c, "%s: output_size must have %d or %d elements (got %d)",
		               c->def->name, nd, xs->ndim, n);
	for (int i = 0; i < nd; i++) {
		int64_t lo = os->dim[h + i], w = want[n - nd + i];
		if (w < lo - g->s[i] || w > lo + g->s[i])
			return op_fail(c, "%s: output_size %lld must be between %lld and %lld",
			               c->def->name, (long long)w, (long long)(lo - g->s[i]),
			               (long long)(lo + g->s[i]));
		os->dim[h + i] = w;
	}
	return 0;
}

/* max_unpool(x, indices, ...) with the indices the shape of x. */
static int op_unpool(struct op_call *c, const struct value *x, const struct pool_geom *g, int pos)
{
	const struct value *ix = op_tensor(c, 1, "indices");
	if (!ix || pool_rank(c, x, g->nd) < 0)
		return -1;
	char a[160], b[160];
	if (!shape_equal(op_shape(x), op_shape(ix)))
		return op_mismatch(c, "%s: indices %s do not match the input %s", c->def->name,
		                   shape_format(op_shape(ix), a, sizeof a),
		                   shape_format(op_shape(x), b, sizeof b));
	if (op_is_float_dtype(op_dtype(ix)))
		return op_fail(c, "%s: indices must be an integer tensor", c->def->name);
	struct shape os;
	if (unpool_shape(c, x, g, pos, &os) < 0)
		return -1;
	for (int i = 0; i < os.ndim; i++)
		if (os.dim[i] < 1)
			return op_mismatch(c, "%s: the output would be empty", c->def->name);
	if (op_checked_numel(c, &os) < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), &os, NULL);
	return 0;
}

static int unpool_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	struct pool_geom g;
	module_pool_geom(c->module, &g);
	return op_unpool(c, x, &g, 2);
}

#define UNPOOL_DEF(id, nm, d)                                                                      \
	static const struct op_def def_##id = {                                                    \
	    .name = nm,                                                                            \
	    .kind = OP_MODULE,                                                                     \
	    .doc = d,                                                                              \
	    .attrs = maxunpool_attrs,                                                              \
	    .nattrs = sizeof maxunpool_attrs / sizeof *maxunpool_attrs,                            \
	    .infer = unpool_infer,                                                                 \
	    .describe = pool_describe,                                                             \
	    .check = pool_check,                                                                   \
	}

UNPOOL_DEF(maxunpool1d, "MaxUnpool1d",
           "places [N, C, L] at a MaxPool1d's indices, zeros elsewhere");
UNPOOL_DEF(maxunpool2d, "MaxUnpool2d",
           "places [N, C, H, W] at a MaxPool2d's indices, zeros elsewhere");
UNPOOL_DEF(maxunpool3d, "MaxUnpool3d",
           "places [N, C, D, H, W] at a MaxPool3d's indices, zeros elsewhere");

/* ---- adaptive pools ---- */

static const struct attr_spec adaptive_avg_attrs[] = {
    {"output_size", AT_ANY, NULL},
};

static const struct attr_spec adaptive_max_attrs[] = {
    {"output_size", AT_ANY, NULL},
    {"return_indices", AT_BOOL, "False"},
};

/* An output_size value: an int, None, or nd ints and Nones, into size
 * (-1 for None). False when it is none of these. */
static bool read_output_size(const struct value *v, int nd, int64_t *size)
{
	if (v->kind == VAL_LIST && v->u.list.n == 1)
		v = &v->u.list.items[0];
	if (v->kind == VAL_INT || v->kind == VAL_NONE) {
		for (int i = 0; i < nd; i++)
			size[i] = v->kind == VAL_INT ? v->u.i : -1;
		return true;
	}
	if (v->kind != VAL_LIST || v->u.list.n != nd)
		return false;
	for (int i = 0; i < nd; i++) {
		const struct value *it = &v->u.list.items[i];
		if (it->kind != VAL_INT && it->kind != VAL_NONE)
			return false;
		size[i] = it->kind == VAL_INT ? it->u.i : -1;
	}
	return true;
}

/* output_size: an int, None, or nd ints and Nones; stored as nd values. */
static int adaptive_check(struct module *m, struct error *e)
{
	int nd = op_spatial_dims(m->type);
	const struct value *v = module_attr(m, "output_size");
	int64_t size[3];
	if (!read_output_size(v, nd, size)) {
		char got[128];
		value_format(v, got, sizeof got);
		if (nd == 2)
			return error_set(e,
			                 "%s: attribute 'output_size' must be an int or a pair of "
			                 "ints (None keeps a size), got %s",
			                 m->type, got);
		return error_set(e,
		                 "%s: attribute 'output_size' must be an int or %d ints (None "
		                 "keeps a size), got %s",
		                 m->type, nd, got);
	}
	/* None reads as -1: a negative int is one below */
	bool negative = v->kind == VAL_INT && v->u.i < 0;
	for (int i = 0; v->kind == VAL_LIST && i < v->u.list.n; i++)
		negative =
		    negative || (v->u.list.items[i].kind == VAL_INT && v->u.list.items[i].u.i < 0);
	struct value l = value_list(nd);
	for (int i = 0; i < nd; i++)
		l.u.list.items[i] = size[i] >= 0 ? value_int(size[i]) : value_none();
	module_set_attr(m, "output_size", &l);
	value_free(&l);
	if (negative)
		return error_set(e, "%s: output_size must be non-negative", m->type);
	return 0;
}

static void adaptive_size(const struct module *m, int64_t size[3])
{
	read_output_size(module_attr(m, "output_size"), op_spatial_dims(m->type), size);
}

static int adaptive_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	int64_t size[3];
	adaptive_size(c->module, size);
	return op_adaptive_pool(c, x, op_spatial_dims(c->module->type), size,
	                        module_attr_bool(c->module, "return_indices", false));
}

static void adaptive_describe(const struct module *m, char *buf, size_t size)
{
	int64_t s[3];
	int nd = op_spatial_dims(m->type);
	adaptive_size(m, s);
	snprintf(buf, size, "→");
	for (int i = 0; i < nd; i++) {
		if (s[i] >= 0)
			op_append(buf, size, "%s%lld", i ? "x" : "", (long long)s[i]);
		else
			op_append(buf, size, "%s*", i ? "x" : "");
	}
}

#define ADAPTIVE_DEF(id, nm, at, d)                                                                \
	static const struct op_def def_##id = {                                                    \
	    .name = nm,                                                                            \
	    .kind = OP_MODULE,                                                                     \
	    .doc = d,                                                                              \
	    .attrs = at,                                                                           \
	    .nattrs = sizeof at / sizeof *at,                                                      \
	    .infer = adaptive_infer,                                                               \
	    .describe = adaptive_describe,                                                         \
	    .check = adaptive_check,                                                               \
	}

ADAPTIVE_DEF(adaptive_avgpool2d, "AdaptiveAvgPool2d", adaptive_avg_attrs,
             "mean pooling to a fixed output_size");
ADAPTIVE_DEF(adaptive_maxpool2d, "AdaptiveMaxPool2d", adaptive_max_attrs,
             "max pooling to a fixed output_size");
ADAPTIVE_DEF(adaptive_avgpool1d, "AdaptiveAvgPool1d", adaptive_avg_attrs,
             "mean pooling of [N, C, L] to a fixed output_size");
ADAPTIVE_DEF(adaptive_maxpool1d, "AdaptiveMaxPool1d", adaptive_max_attrs,
             "max pooling of [N, C, L] to a fixed output_size");
ADAPTIVE_DEF(adaptive_avgpool3d, "AdaptiveAvgPool3d", adaptive_avg_attrs,
             "mean pooling of [N, C, D, H, W] to a fixed output_size");
ADAPTIVE_DEF(adaptive_maxpool3d, "AdaptiveMaxPool3d", adaptive_max_attrs,
             "max pooling of [N, C, D, H, W] to a fixed output_size");

/* ---- Fold and Unfold ---- */

static const struct attr_spec fold_attrs[] = {
    {"output_size", AT_INTS, NULL}, {"kernel_size", AT_INTS, NULL}, {"dilation", AT_INTS, "1"},
    {"padding", AT_INTS, "0"},      {"stride", AT_INTS, "1"},
};

static const struct attr_spec unfold_attrs[] = {
    {"kernel_size", AT_INTS, NULL},
    {"dilation", AT_INTS, "1"},
    {"padding", AT_INTS, "0"},
    {"stride", AT_INTS, "1"},
};

static int fold_check(struct module *m, struct error *e)
{
	static const char *const names[] = {"output_size", "kernel_size", "dilation", "stride",
	                                    "padding"};
	for (int i = 0; i < 5; i++) {
		if (!module_attr(m, names[i]))
			continue;
		if (op_expand_ints(m, names[i], 2, e) < 0 ||
		    (i < 4 && op_check_positive_ints(m, names[i], 2, e)))
			return -1;
	}
	int64_t p[2];
	module_attr_ints(m, "padding", p, 2);
	if (p[0] < 0 || p[1] < 0)
		return error_set(e, "%s: padding must be non-negative", m->type);
	return 0;
}

/* Blocks per dimension of an image of size `image` under the window: 0
 * or less when none fits. */
static void fold_blocks(const struct pool_geom *g, const int64_t image[2], int64_t blocks[2])
{
	for (int i = 0; i < 2; i++)
		blocks[i] =
		    op_window_out(image[i], g->k[i], g->s[i], g->p[i], g->p[i], g->d[i], false);
}

static void fold_desc(const struct op_call *c, const struct pool_geom *g, char *buf, size_t n)
{
	char t[96];
	snprintf(buf, n, "%s(kernel_size=%s", c->def->name, op_tuple_text(g->k, 2, t, sizeof t));
	op_append(buf, n, ", stride=%s", op_tuple_text(g->s, 2, t, sizeof t));
	if (g->p[0] || g->p[1])
		op_append(buf, n, ", padding=%s", op_tuple_text(g->p, 2, t, sizeof t));
	if (g->d[0] != 1 || g->d[1] != 1)
		op_append(buf, n, ", dilation=%s", op_tuple_text(g->d, 2, t, sizeof t));
	op_append(buf, n, ")");
}

/* unfold: [N, C, H, W] -> [N, C * kh * kw, L], L the number of blocks. */
static int op_unfold(struct op_call *c, const struct value *x, const struct pool_geom *g)
{
	if (pool_rank(c, x, 2) < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	int h = xs->ndim - 2;
	int64_t blocks[2];
	char desc[320], in[96];
	fold_blocks(g, xs->dim + h, blocks);
	if (blocks[0] == INT64_MIN || blocks[1] == INT64_MIN)
		return op_mismatch(c, "unfold sizes overflow");
	if (blocks[0] < 1 || blocks[1] < 1) {
		fold_desc(c, g, desc, sizeof desc);
		dims_text(xs->dim + h, 2, in, sizeof in);
		return op_break(c, x, desc, "a %s input (too small)", in);
	}
	int b = xs->ndim - 3;
	struct shape os = {.ndim = xs->ndim - 1};
	if (b)
		os.dim[0] = xs->dim[0];
	os.dim[b] = op_mul_sat(xs->dim[b], op_mul_sat(g->k[0], g->k[1]));
	os.dim[b + 1] = op_mul_sat(blocks[0], blocks[1]);
	if (op_checked_numel(c, &os) < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), &os, NULL);
	return 0;
}

/* fold: [N, C * kh * kw, L] -> [N, C, output_size]. */
static int op_fold(struct op_call *c, const struct value *x, const struct pool_geom *g,
                   const int64_t size[2])
{
	const struct shape *xs = op_shape(x);
	char sb[160], desc[320];
	if (xs->ndim != 2 && xs->ndim != 3)
		return op_break(c, x, c->def->name, "%d-D %s (needs 2-D or 3-D input)", xs->ndim,
		                shape_format(xs, sb, sizeof sb));
	int b = xs->ndim - 2;
	int64_t kk = g->k[0] * g->k[1], blocks[2];
	fold_blocks(g, size, blocks);
	if (blocks[0] == INT64_MIN || blocks[1] == INT64_MIN)
		return op_mismatch(c, "fold sizes overflow");
	fold_desc(c, g, desc, sizeof desc);
	if (xs->dim[b] % kk)
		return op_break(c, x, desc, "%lld channels (not a multiple of %lld)",
		                (long long)xs->dim[b], (long long)kk);
	if (blocks[0] < 1 || blocks[1] < 1 || xs->dim[b + 1] != blocks[0] * blocks[1])
		return op_break(
		    c, x, desc, "%lld blocks (output_size (%lld, %lld) makes %lld)",
		    (long long)xs->dim[b + 1], (long long)size[0], (long long)size[1],
		    (long long)(blocks[0] > 0 && blocks[1] > 0 ? blocks[0] * blocks[1] : 0));
	struct shape os = {.ndim = b + 3};
	if (b)
		os.dim[0] = xs->dim[0];
	os.dim[b] = xs->dim[b] / kk;
	os.dim[b + 1] = size[0];
	os.dim[b + 2] = size[1];
	if (op_checked_numel(c, &os) < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), &os, NULL);
	return 0;
}

static void fold_geom(const struct module *m, struct pool_geom *g)
{
	*g = (struct pool_geom){.nd = 2};
	module_attr_ints(m, "kernel_size", g->k, 2);
	module_attr_ints(m, "stride", g->s, 2);
	module_attr_ints(m, "padding", g->p, 2);
	module_attr_ints(m, "dilation", g->d, 2);
}

static int fold_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	struct pool_geom g;
	fold_geom(c->module, &g);
	if (strcmp(c->module->type, "Unfold") == 0)
		return op_unfold(c, x, &g);
	int64_t size[2];
	module_attr_ints(c->module, "output_size", size, 2);
	return op_fold(c, x, &g, size);
}

static void fold_describe(const struct module *m, char *buf, size_t size)
{
	struct pool_geom g;
	char t[48];
	fold_geom(m, &g);
	buf[0] = '\0';
	if (module_attr(m, "output_size")) {
		int64_t o[2];
		module_attr_ints(m, "output_size", o, 2);
		op_append(buf, size, "→%lldx%lld ", (long long)o[0], (long long)o[1]);
	}
	op_append(buf, size, "k%s", op_pair_text(g.k, t, sizeof t));
	if (g.s[0] != 1 || g.s[1] != 1)
		op_append(buf, size, " s%s", op_pair_text(g.s, t, sizeof t));
	if (g.p[0] || g.p[1])
		op_append(buf, size, " p%s", op_pair_text(g.p, t, sizeof t));
	if (g.d[0] != 1 || g.d[1] != 1)
		op_append(buf, size, " d%s", op_pair_text(g.d, t, sizeof t));
}

static const struct op_def def_fold = {
    .name = "Fold",
    .kind = OP_MODULE,
    .doc = "sums sliding blocks [N, C*kh*kw, L] into an image [N, C, H, W] (col2im)",
    .attrs = fold_attrs,
    .nattrs = sizeof fold_attrs / sizeof *fold_attrs,
    .infer = fold_infer,
    .describe = fold_describe,
    .check = fold_check,
};

static const struct op_def def_unfold = {
    .name = "Unfold",
    .kind = OP_MODULE,
    .doc = "sliding blocks of [N, C, H, W] as columns [N, C*kh*kw, L] (im2col)",
    .attrs = unfold_attrs,
    .nattrs = sizeof unfold_attrs / sizeof *unfold_attrs,
    .infer = fold_infer,
    .describe = fold_describe,
    .check = fold_check,
};

/* Reduces over dims (None: all) with keepdim. */
static int fn_reduce(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct shape *xs = op_shape(x);
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
	enum dtype dt = op_dtype(x);
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	op_out_tensor(c, dt, &os, x);
	return 0;
}

/* ---- layers as functions ---- */

/* max_poolNd(x, kernel_size, stride=None, padding=0, dilation=1,
 * ceil_mode=False, return_indices=False); the _with_indices forms always
 * return the indices. */
static int fn_max_pool(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	struct pool_geom g = {.nd = op_spatial_dims(c->def->name)};
	static const int64_t zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
	if (!x || op_tuple_arg(c, 1, "kernel_size", g.nd, NULL, g.k) < 0 ||
	    op_tuple_arg(c, 2, "stride", g.nd, g.k, g.s) < 0 ||
	    op_tuple_arg(c, 3, "padding", g.nd, zero, g.p) < 0 ||
	    op_tuple_arg(c, 4, "dilation", g.nd, one, g.d) < 0)
		return -1;
	g.ceil_mode = optional_bool(c, 5, "ceil_mode", false);
	bool with = strstr(c->def->name, "with_indices") != NULL;
	return op_pool(c, x, &g, with || optional_bool(c, 6, "return_indices", false));
}

/* avg_poolNd(x, kernel_size, stride=None, padding=0, ceil_mode=False,
 * count_include_pad=True, divisor_override=None). */
static int fn_avg_pool(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	struct pool_geom g = {.nd = op_spatial_dims(c->def->name), .d = {1, 1, 1}};
	static const int64_t zero[3] = {0, 0, 0};
	if (!x || op_tuple_arg(c, 1, "kernel_size", g.nd, NULL, g.k) < 0 ||
	    op_tuple_arg(c, 2, "stride", g.nd, g.k, g.s) < 0 ||
	    op_tuple_arg(c, 3, "padding", g.nd, zero, g.p) < 0)
		return -1;
	g.ceil_mode = optional_bool(c, 4, "ceil_mode", false);
	return op_pool(c, x, &g, false);
}

/* lp_poolNd(x, norm_type, kernel_size, stride=None, ceil_mode=False). */
static int fn_lp_pool(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	struct pool_geom g = {.nd = op_spatial_dims(c->def->name), .d = {1, 1, 1}};
	const struct value *norm = op_arg(c, 1, "norm_type");
	double p;
	if (!x)
		return -1;
	if (!norm || !value_number(norm, &p))
		return op_fail(c, "%s() needs a number for 'norm_type'", c->def->name);
	if (op_tuple_arg(c, 2, "kernel_size", g.nd, NULL, g.k) < 0 ||
	    op_tuple_arg(c, 3, "stride", g.nd, g.k, g.s) < 0)
		return -1;
	g.ceil_mode = optional_bool(c, 4, "ceil_mode", false);
	return op_pool(c, x, &g, false);
}

/* max_unpoolNd(x, indices, kernel_size, stride=None, padding=0,
 * output_size=None). */
static int fn_max_unpool(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	struct pool_geom g = {.nd = op_spatial_dims(c->def->name), .d = {1, 1, 1}};
	static const int64_t zero[3] = {0, 0, 0};
	if (!x || op_tuple_arg(c, 2, "kernel_size", g.nd, NULL, g.k) < 0 ||
	    op_tuple_arg(c, 3, "stride", g.nd, g.k, g.s) < 0 ||
	    op_tuple_arg(c, 4, "padding", g.nd, zero, g.p) < 0)
		return -1;
	return op_unpool(c, x, &g, 5);
}

/* adaptive_{avg,max}_poolNd(x, output_size, return_indices=False). */
static int fn_adaptive_pool(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	int nd = op_spatial_dims(c->def->name);
	const struct value *v = op_arg(c, 1, "output_size");
	int64_t size[3];
	if (!v || !read_output_size(v, nd, size)) {
		if (nd == 2)
			return op_fail(c, "%s() needs output_size as an int or a pair of ints",
			               op_fn_name(c));
		return op_fail(c, "%s() needs output_size as an int or %d ints", op_fn_name(c), nd);
	}
	bool with = strstr(c->def->name, "with_indices") != NULL;
	return op_adaptive_pool(c, x, nd, size,
	                        with || optional_bool(c, 2, "return_indices", false));
}

/* unfold(x, kernel_size, dilation=1, padding=0, stride=1) and
 * fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1). */
static int fn_fold(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	bool fold = strcmp(c->def->name, "fold") == 0;
	int at = fold ? 2 : 1;
	struct pool_geom g = {.nd = 2};
	int64_t size[2];
	static const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
	if (c->node && c->node->op == NODE_CALL_METHOD)
		return op_fail(c, "Tensor.%s(dimension, size, step) is not supported (F.%s is)",
		               c->def->name, c->def->name);
	if (!x || (fold && op_pair_arg(c, 1, "output_size", NULL, size) < 0) ||
	    op_pair_arg(c, at, "kernel_size", NULL, g.k) < 0 ||
	    op_pair_arg(c, at + 1, "dilation", one, g.d) < 0 ||
	    op_pair_arg(c, at + 2, "padding", zero, g.p) < 0 ||
	    op_pair_arg(c, at + 3, "stride", one, g.s) < 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (g.k[i] <= 0 || g.s[i] <= 0 || g.d[i] <= 0 || g.p[i] < 0)
			return op_fail(c,
			               "%s(): kernel_size, dilation and stride must be positive, "
			               "padding non-negative",
			               c->def->name);
	return fold ? op_fold(c, x, &g, size) : op_unfold(c, x, &g);
}

/* fractional_max_pool2d/3d: refused. PyTorch draws the pooling regions
 * at random on every call, in eval mode too (unless the caller passes
 * _random_samples), so no run can give PyTorch's output. */
static int fn_fractional_max_pool(struct op_call *c)
{
	return op_fail(c,
	               "%s is not supported: PyTorch draws its pooling regions at random on "
	               "every call, even in eval mode, so its output cannot be reproduced (use "
	               "MaxPool%dd or AdaptiveMaxPool%dd)",
	               c->def->name, op_spatial_dims(c->def->name), op_spatial_dims(c->def->name));
}

/* ---- the table ---- */

REGISTRY_FUNCTION(fractional_max_pool2d, fn_fractional_max_pool,
                  "fractional_max_pool2d: refused (random pooling regions on every call)");
REGISTRY_FUNCTION(fractional_max_pool3d, fn_fractional_max_pool,
                  "fractional_max_pool3d: refused (random pooling regions on every call)");
REGISTRY_FUNCTION(mean, fn_reduce, "mean(x, dim=None, keepdim=False)");
REGISTRY_FUNCTION(sum, fn_reduce, "sum(x, dim=None, keepdim=False)");
REGISTRY_FUNCTION(amax, fn_reduce, "amax(x, dim=None, keepdim=False)");
REGISTRY_FUNCTION(amin, fn_reduce, "amin(x, dim=None, keepdim=False)");
REGISTRY_FUNCTION(adaptive_avg_pool2d, fn_adaptive_pool, "adaptive_avg_pool2d(x, output_size)");
REGISTRY_FUNCTION(adaptive_max_pool2d, fn_adaptive_pool, "adaptive_max_pool2d(x, output_size)");
REGISTRY_FUNCTION(avg_pool2d, fn_avg_pool,
                  "avg_pool2d(x, kernel_size, stride=None, padding=0, ...)");
REGISTRY_FUNCTION(max_pool2d, fn_max_pool,
                  "max_pool2d(x, kernel_size, stride=None, padding=0, ...)");
REGISTRY_FUNCTION_PY(adaptive_avg_pool1d, fn_adaptive_pool, "adaptive_avg_pool1d(x, output_size)",
                     "F.adaptive_avg_pool1d");
REGISTRY_FUNCTION_PY(adaptive_avg_pool3d, fn_adaptive_pool, "adaptive_avg_pool3d(x, output_size)",
                     "F.adaptive_avg_pool3d");
REGISTRY_FUNCTION_PY(adaptive_max_pool1d, fn_adaptive_pool,
                     "adaptive_max_pool1d(x, output_size, return_indices=False)",
                     "F.adaptive_max_pool1d");
REGISTRY_FUNCTION_PY(adaptive_max_pool3d, fn_adaptive_pool,
                     "adaptive_max_pool3d(x, output_size, return_indices=False)",
                     "F.adaptive_max_pool3d");
REGISTRY_FUNCTION_PY(adaptive_max_pool1d_with_indices, fn_adaptive_pool,
                     "adaptive_max_pool1d_with_indices(x, output_size)",
                     "F.adaptive_max_pool1d_with_indices");
REGISTRY_FUNCTION_PY(adaptive_max_pool2d_with_indices, fn_adaptive_pool,
                     "adaptive_max_pool2d_with_indices(x, output_size)",
                     "F.adaptive_max_pool2d_with_indices");
REGISTRY_FUNCTION_PY(adaptive_max_pool3d_with_indices, fn_adaptive_pool,
                     "adaptive_max_pool3d_with_indices(x, output_size)",
                     "F.adaptive_max_pool3d_with_indices");
REGISTRY_FUNCTION_PY(avg_pool1d, fn_avg_pool,
                     "avg_pool1d(x, kernel_size, stride=None, padding=0, ...)", "F.avg_pool1d");
REGISTRY_FUNCTION_PY(avg_pool3d, fn_avg_pool,
                     "avg_pool3d(x, kernel_size, stride=None, padding=0, ...)", "F.avg_pool3d");
REGISTRY_FUNCTION_PY(max_pool1d, fn_max_pool,
                     "max_pool1d(x, kernel_size, stride=None, padding=0, ...)", "F.max_pool1d");
REGISTRY_FUNCTION_PY(max_pool3d, fn_max_pool,
                     "max_pool3d(x, kernel_size, stride=None, padding=0, ...)", "F.max_pool3d");
REGISTRY_FUNCTION_PY(max_pool1d_with_indices, fn_max_pool,
                     "max_pool1d_with_indices(x, kernel_size, stride=None, padding=0, ...)",
                     "F.max_pool1d_with_indices");
REGISTRY_FUNCTION_PY(max_pool2d_with_indices, fn_max_pool,
                     "max_pool2d_with_indices(x, kernel_size, stride=None, padding=0, ...)",
                     "F.max_pool2d_with_indices");
REGISTRY_FUNCTION_PY(max_pool3d_with_indices, fn_max_pool,
                     "max_pool3d_with_indices(x, kernel_size, stride=None, padding=0, ...)",
                     "F.max_pool3d_with_indices");
REGISTRY_FUNCTION_PY(lp_pool1d, fn_lp_pool,
                     "lp_pool1d(x, norm_type, kernel_size, stride=None, ...)", "F.lp_pool1d");
REGISTRY_FUNCTION_PY(lp_pool2d, fn_lp_pool,
                     "lp_pool2d(x, norm_type, kernel_size, stride=None, ...)", "F.lp_pool2d");
REGISTRY_FUNCTION_PY(max_unpool1d, fn_max_unpool,
                     "max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size)",
                     "F.max_unpool1d");
REGISTRY_FUNCTION_PY(max_unpool2d, fn_max_unpool,
                     "max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size)",
                     "F.max_unpool2d");
REGISTRY_FUNCTION_PY(max_unpool3d, fn_max_unpool,
                     "max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size)",
                     "F.max_unpool3d");
REGISTRY_FUNCTION_PY(fold, fn_fold,
                     "fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1)",
                     "F.fold");
REGISTRY_FUNCTION_PY(unfold, fn_fold, "unfold(x, kernel_size, dilation=1, padding=0, stride=1)",
                     "F.unfold");

const struct op_def *const registry_pool_defs[] = {
    &def_maxpool2d,
    &def_avgpool2d,
    &def_adaptive_avgpool2d,
    &def_adaptive_maxpool2d,
    &fn_def_mean,
    &fn_def_sum,
    &fn_def_amax,
    &fn_def_amin,
    &fn_def_adaptive_avg_pool2d,
    &fn_def_adaptive_max_pool2d,
    &fn_def_avg_pool2d,
    &fn_def_max_pool2d,
    &def_maxpool1d,
    &def_maxpool3d,
    &def_avgpool1d,
    &def_avgpool3d,
    &def_adaptive_avgpool1d,
    &def_adaptive_avgpool3d,
    &def_adaptive_maxpool1d,
    &def_adaptive_maxpool3d,
    &def_lppool1d,
    &def_lppool2d,
    &def_maxunpool1d,
    &def_maxunpool2d,
    &def_maxunpool3d,
    &def_fold,
    &def_unfold,
    &fn_def_adaptive_avg_pool1d,
    &fn_def_adaptive_avg_pool3d,
    &fn_def_adaptive_max_pool1d,
    &fn_def_adaptive_max_pool3d,
    &fn_def_adaptive_max_pool1d_with_indices,
    &fn_def_adaptive_max_pool2d_with_indices,
    &fn_def_adaptive_max_pool3d_with_indices,
    &fn_def_avg_pool1d,
    &fn_def_avg_pool3d,
    &fn_def_max_pool1d,
    &fn_def_max_pool3d,
    &fn_def_max_pool1d_with_indices,
    &fn_def_max_pool2d_with_indices,
    &fn_def_max_pool3d_with_indices,
    &fn_def_lp_pool1d,
    &fn_def_lp_pool2d,
    &fn_def_max_unpool1d,
    &fn_def_max_unpool2d,
    &fn_def_max_unpool3d,
    &fn_def_fold,
    &fn_def_unfold,
    &fn_def_fractional_max_pool2d,
    &fn_def_fractional_max_pool3d,
    NULL,
};
