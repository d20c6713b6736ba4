/* registry_pool.c - pooling and reductions: MaxPool2d, AvgPool2d, the adaptive pools, mean, sum,
 * .... */
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

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
static void pool_desc(const struct op_call *c, const int64_t k[2], const int64_t s[2],
                      const int64_t p[2], const int64_t d[2], bool ceil_mode, char *buf,
                      size_t size)
{
	snprintf(buf, size, "%s(kernel_size=(%lld, %lld), stride=(%lld, %lld)", c->def->name,
	         (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1]);
	if (p[0] || p[1])
		op_append(buf, size, ", padding=(%lld, %lld)", (long long)p[0], (long long)p[1]);
	if (d[0] != 1 || d[1] != 1)
		op_append(buf, size, ", dilation=(%lld, %lld)", (long long)d[0], (long long)d[1]);
	if (ceil_mode)
		op_append(buf, size, ", ceil_mode=True");
	op_append(buf, size, ")");
}

int op_pool2d(struct op_call *c, const struct value *x, const int64_t k[2], const int64_t s[2],
              const int64_t p[2], const int64_t d[2], bool ceil_mode, bool return_indices)
{
	const struct shape *xs = op_shape(x);
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
	op_out_tensor(c, op_dtype(x), &os, x);
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
	const struct shape *xs = op_shape(x);
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
	op_out_tensor(c, op_dtype(x), &os, x);
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
	if (op_check_positive_pair(m, "kernel_size", e))
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
	if (op_check_positive_pair(m, "stride", e))
		return -1;
	if (module_attr(m, "dilation") && op_check_positive_pair(m, "dilation", e))
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
	snprintf(buf, size, "k%s", op_pair_text(k, t, sizeof t));
	if (s[0] != 1 || s[1] != 1)
		op_append(buf, size, " s%s", op_pair_text(s, t, sizeof t));
	if (p[0] || p[1])
		op_append(buf, size, " p%s", op_pair_text(p, t, sizeof t));
	if (d[0] != 1 || d[1] != 1)
		op_append(buf, size, " d%s", op_pair_text(d, t, sizeof t));
	if (module_attr_bool(m, "ceil_mode", false))
		op_append(buf, size, " ceil");
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
			op_append(buf, size, "%s%lld", i ? "x" : "", (long long)s[i]);
		else
			op_append(buf, size, "%s*", i ? "x" : "");
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

/* Reduces over dims (None: all) with keepdim. */
static int fn_reduce(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	struct shape os;
	if (op_reduced_shape(c, x, op_arg(c, 1, "dim"), optional_bool(c, 2, "keepdim", false),
	                     &os) < 0)
		return -1;
	enum dtype dt = op_dtype(x);
	/* sum counts bools and ints in int64 */
	if (strcmp(op_fn_name(c), "sum") == 0 && !op_is_float_dtype(dt))
		dt = DT_I64;
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	op_out_tensor(c, dt, &os, x);
	return 0;
}

/* ---- layers as functions ---- */

static int fn_max_pool2d(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t k[2], s[2], p[2], d[2];
	static const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
	if (!x || op_pair_arg(c, 1, "kernel_size", NULL, k) < 0 ||
	    op_pair_arg(c, 2, "stride", k, s) < 0 || op_pair_arg(c, 3, "padding", zero, p) < 0 ||
	    op_pair_arg(c, 4, "dilation", one, d) < 0)
		return -1;
	return op_pool2d(c, x, k, s, p, d, optional_bool(c, 5, "ceil_mode", false),
	                 optional_bool(c, 6, "return_indices", false));
}

static int fn_avg_pool2d(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t k[2], s[2], p[2];
	static const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
	if (!x || op_pair_arg(c, 1, "kernel_size", NULL, k) < 0 ||
	    op_pair_arg(c, 2, "stride", k, s) < 0 || op_pair_arg(c, 3, "padding", zero, p) < 0)
		return -1;
	return op_pool2d(c, x, k, s, p, one, optional_bool(c, 4, "ceil_mode", false), false);
}

static int fn_adaptive_pool2d(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct value *v = op_arg(c, 1, "output_size");
	int64_t size[2];
	bool ok = v != NULL;
	if (ok && (v->kind == VAL_INT || v->kind == VAL_NONE)) {
		size[0] = size[1] = v->kind == VAL_INT ? v->u.i : -1;
	} else if (ok && v->kind == VAL_LIST && v->u.list.n == 2) {
		for (int i = 0; i < 2 && ok; i++) {
			const struct value *it = &v->u.list.items[i];
			ok = it->kind == VAL_INT || it->kind == VAL_NONE;
			size[i] = it->kind == VAL_INT ? it->u.i : -1;
		}
	} else {
		ok = false;
	}
	if (!ok)
		return op_fail(c, "%s() needs output_size as an int or a pair of ints",
		               op_fn_name(c));
	return op_adaptive_pool2d(c, x, size, optional_bool(c, 2, "return_indices", false));
}

/* ---- the table ---- */

REGISTRY_FUNCTION(mean, fn_reduce, "mean(x, dim=None, keepdim=False)");
REGISTRY_FUNCTION(sum, fn_reduce, "sum(x, dim=None, keepdim=False)");
REGISTRY_FUNCTION(amax, fn_reduce, "amax(x, dim=None, keepdim=False)");
REGISTRY_FUNCTION(amin, fn_reduce, "amin(x, dim=None, keepdim=False)");
REGISTRY_FUNCTION(adaptive_avg_pool2d, fn_adaptive_pool2d, "adaptive_avg_pool2d(x, output_size)");
REGISTRY_FUNCTION(adaptive_max_pool2d, fn_adaptive_pool2d, "adaptive_max_pool2d(x, output_size)");
REGISTRY_FUNCTION(avg_pool2d, fn_avg_pool2d,
                  "avg_pool2d(x, kernel_size, stride=None, padding=0, ...)");
REGISTRY_FUNCTION(max_pool2d, fn_max_pool2d,
                  "max_pool2d(x, kernel_size, stride=None, padding=0, ...)");

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
    NULL,
};
