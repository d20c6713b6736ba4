/* test_registry.c - module types and functions: attributes, parameters,
 * shape rules, mult-adds and break messages.
 *
 * Expected numbers follow PyTorch's documented formulas (and were checked
 * against torch 1.13 / torchvision 0.14); the test itself needs no Python. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/registry.h"
#include "core/util.h"

static struct error err;
static struct value last; /* the result of the last call */
static int64_t last_macs; /* its mult-adds */
static struct kwarg kws[4];
static int nkws;

/* ---- building modules and values ---- */

/* Sets attributes from "name=value name=value" (values in command syntax). */
static void set_attrs(struct module *m, const char *text)
{
	const char *p = text;
	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *eq = strchr(p, '=');
		if (!*p || !eq)
			break;
		char *name = xstrndup(p, (size_t)(eq - p));
		struct value v;
		struct error e = {0};
		if (value_parse(eq + 1, &v, &p, &e) < 0) {
			printf("  bad attribute text: %s\n", e.msg);
			free(name);
			return;
		}
		module_set_attr(m, name, &v);
		value_free(&v);
		free(name);
	}
}

/* A prepared module TYPE(ATTRS) named `name`; NULL when registry_prepare
 * fails (err says why). */
static struct module *mk_named(const char *name, const char *type, const char *attrs)
{
	struct module *m = module_new(name, type);
	set_attrs(m, attrs);
	error_clear(&err);
	if (registry_prepare(m, &err) < 0) {
		module_free(m);
		return NULL;
	}
	return m;
}

static struct module *mk(const char *type, const char *attrs)
{
	return mk_named("m", type, attrs);
}

/* The message registry_prepare gives for TYPE(ATTRS), or "ok". */
static const char *prepare_error(const char *type, const char *attrs)
{
	static char buf[1024];
	struct module *m = mk(type, attrs);
	if (m) {
		module_free(m);
		return "ok";
	}
	snprintf(buf, sizeof buf, "%s", err.msg);
	return buf;
}

static struct shape shape_of(const char *text)
{
	struct shape s = {.ndim = 0};
	if (text[0]) {
		struct error e = {0};
		if (shape_parse(text, &s, &e) < 0)
			printf("  bad shape text '%s': %s\n", text, e.msg);
	}
	return s;
}

/* A float32 tensor of shape "2x3x4" ("" is a scalar), made by nothing. */
static struct value T(const char *shape) {
	struct shape s = shape_of(shape);
	struct origin o = {0};
	return value_tensor_meta(DT_F32, &s, o);
}

static struct value
TI(const char *shape) {
	struct value v = T(shape);
	v.u.tensor.t.dtype = DT_I64;
	return v;
}

/* A value in command syntax: 3, (1, 2), None, ..., 'tanh'. */
static struct value
P(const char *text) {
	struct value v;
	struct error e = {0};
	if (value_parse(text, &v, NULL, &e) < 0)
		printf("  bad value text '%s': %s\n", text, e.msg);
	return v;
}

/* A slice from "start:stop:step", any part empty. */
static struct value
SL(const char *text) {
	struct value v = {.kind = VAL_SLICE};
	const char *p = text;
	for (int part = 0; part < 3; part++) {
		char *end;
		long long n = strtoll(p, &end, 10);
		bool has = end != p;
		if (part == 0) {
			v.u.slice.start = n;
			v.u.slice.has_start = has;
		} else if (part == 1) {
			v.u.slice.stop = n;
			v.u.slice.has_stop = has;
		} else {
			v.u.slice.step = n;
			v.u.slice.has_step = has;
		}
		p = end;
		if (*p != ':')
			break;
		p++;
	}
	return v;
}

static struct value
ELL(void) {
	struct value v = {.kind = VAL_ELLIPSIS};
	return v;
}

/* A tuple of n values (taken over). */
static struct value
TUP(int n, ...) {
	struct value t = value_list(n);
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		t.u.list.items[i] = va_arg(ap, struct value);
	va_end(ap);
	return t;
}

/* Adds a keyword argument to the next call. */
static void
kw(const char *name, struct value v)
{
	kws[nkws].name = xstrdup(name);
	kws[nkws].value = v;
	nkws++;
}

/* ---- calling ---- */

/* Text for a result: a tensor's shape, else the value. */
static void result_text(const struct value *v, char *buf, size_t size)
{
	if (v->kind == VAL_TENSOR)
		shape_format(&v->u.tensor.t.shape, buf, size);
	else
		value_format(v, buf, size);
}

/* Runs def on args (taken over) and the pending keywords; returns the
 * result text or the error message. `last` keeps the result. */
static const char *run(const struct op_def *def, const struct module *m, const char *path,
                       struct value *args, int nargs)
{
	static char buf[1100];
	value_free(&last);
	error_clear(&err);
	last_macs = 0;
	if (!def) {
		snprintf(buf, sizeof buf, "(no such entry)");
		return buf;
	}
	struct op_call c = {.def = def,
	                    .module = m,
	                    .path = path,
	                    .args = args,
	                    .nargs = nargs,
	                    .kwargs = kws,
	                    .nkwargs = nkws,
	                    .err = &err};
	int rc = def->infer(&c);
	for (int i = 0; i < nargs; i++)
		value_free(&args[i]);
	for (int i = 0; i < nkws; i++) {
		free(kws[i].name);
		value_free(&kws[i].value);
	}
	nkws = 0;
	if (rc < 0) {
		value_free(&c.out);
		snprintf(buf, sizeof buf, "%s", err.msg);
		return buf;
	}
	if (c.err->kind != ERR_NONE)
		printf("  %s succeeded with an error set: %s\n", def->name, err.msg);
	last = c.out;
	last_macs = c.macs;
	result_text(&last, buf, sizeof buf);
	return buf;
}

/* Calls function NAME with n arguments (taken over). */
static const char *fn(const char *name, int n, ...)
{
	struct value args[16];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		args[i] = va_arg(ap, struct value);
	va_end(ap);
	return run(registry_function(name), NULL, name, args, n);
}

/* Builds TYPE(ATTRS) and calls it on a float32 input of shape IN. */
static const char *mod(const char *type, const char *attrs, const char *in)
{
	static char buf[1100];
	struct module *m = mk(type, attrs);
	if (!m) {
		snprintf(buf, sizeof buf, "prepare failed: %s", err.msg);
		return buf;
	}
	struct value x = T(in);
	const char *r = run(m->def, m, "m", &x, 1);
	snprintf(buf, sizeof buf, "%s", r);
	module_free(m);
	return buf;
}

static const char *describe(const char *type, const char *attrs)
{
	static char buf[256];
	struct module *m = mk(type, attrs);
	if (!m)
		return err.msg;
	buf[0] = '\0';
	if (m->def->describe)
		m->def->describe(m, buf, sizeof buf);
	module_free(m);
	return buf;
}

static const char *attr_text(const struct module *m, const char *name)
{
	static char buf[256];
	const struct value *v = module_attr(m, name);
	if (!v)
		return "(absent)";
	value_format(v, buf, sizeof buf);
	return buf;
}

/* "weight [64, 3, 7, 7] float32, bias [64] float32" */
static const char *params_text(const struct module *m)
{
	static char buf[1024];
	buf[0] = '\0';
	for (int i = 0; i < m->nparams; i++) {
		char s[160];
		const struct param *p = &m->params[i];
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s %s %s%s", i ? ", " : "",
		         p->name, shape_format(&p->t.shape, s, sizeof s), dtype_name(p->t.dtype),
		         p->buffer ? " (buffer)" : "");
	}
	return buf;
}

/* ---- lookup ---- */

static void test_lookup(void)
{
	const struct op_def *d = registry_module("Conv2d");
	CHECK(d && d->kind == OP_MODULE && strcmp(d->name, "Conv2d") == 0);
	CHECK(d && strcmp(d->size_attr, "out_channels") == 0);
	CHECK(registry_module("BatchNorm2d") && !registry_module("BatchNorm2d")->size_attr);
	CHECK(registry_module("conv2d") == NULL);
	CHECK(registry_module("ResNet") == NULL);
	d = registry_function("add");
	CHECK(d && d->kind == OP_FUNCTION);
	CHECK(registry_function("Conv2d") == NULL);
	CHECK(registry_attr_spec(registry_module("Conv2d"), "groups") != NULL);
	CHECK(registry_attr_spec(registry_module("Conv2d"), "group") == NULL);

	int n;
	const struct op_def *const *all = registry_all(OP_MODULE, &n);
	CHECK(n >= 25);
	for (int i = 0; i < n; i++) {
		CHECK(all[i]->kind == OP_MODULE && all[i]->infer && all[i]->doc);
		CHECK(registry_module(all[i]->name) == all[i]);
		for (int j = 0; j < all[i]->nattrs; j++)
			CHECK(all[i]->attrs[j].name && all[i]->attrs[j].name[0]);
	}
	all = registry_all(OP_FUNCTION, &n);
	CHECK(n >= 60);
	for (int i = 0; i < n; i++) {
		CHECK(all[i]->kind == OP_FUNCTION && all[i]->infer && all[i]->doc);
		CHECK(registry_function(all[i]->name) == all[i]);
	}
	/* Every name the torchvision zoo calls. */
	static const char *const zoo[] = {"add",
	                                  "mul",
	                                  "getitem",
	                                  "cat",
	                                  "view",
	                                  "reshape",
	                                  "floordiv",
	                                  "relu",
	                                  "permute",
	                                  "shifted_window_attention",
	                                  "_get_relative_position_bias",
	                                  "contiguous",
	                                  "getattr",
	                                  "size",
	                                  "transpose",
	                                  "sigmoid",
	                                  "chunk",
	                                  "flatten",
	                                  "einsum",
	                                  "unsqueeze",
	                                  "swapaxes",
	                                  "softmax",
	                                  "_patch_merging_pad",
	                                  "avg_pool2d",
	                                  "mean",
	                                  "adaptive_avg_pool2d",
	                                  "expand",
	                                  "max_pool2d"};
	for (size_t i = 0; i < sizeof zoo / sizeof *zoo; i++)
		CHECK(registry_function(zoo[i]) != NULL);
	static const char *const types[] = {"Conv2d",      "Linear",
	                                    "BatchNorm2d", "LayerNorm",
	                                    "LayerNorm2d", "GroupNorm",
	                                    "ReLU",        "ReLU6",
	                                    "SiLU",        "GELU",
	                                    "Hardswish",   "Hardsigmoid",
	                                    "Sigmoid",     "Tanh",
	                                    "Softmax",     "MaxPool2d",
	                                    "AvgPool2d",   "AdaptiveAvgPool2d",
	                                    "Dropout",     "Flatten",
	                                    "Identity",    "StochasticDepth",
	                                    "Permute",     "MultiheadAttention"};
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		CHECK(registry_module(types[i]) != NULL);
}

/* ---- attributes and parameters ---- */

static void test_prepare_conv2d(void)
{
	struct module *m = mk("Conv2d", "out_channels=64 in_channels=3 kernel_size=7 stride=2 "
	                                "padding=3 bias=False");
	CHECK(m != NULL);
	if (!m)
		return;
	/* schema order, pairs expanded, defaults filled */
	const struct op_def *d = registry_module("Conv2d");
	CHECK(m->def == d && m->nattrs == d->nattrs);
	for (int i = 0; i < m->nattrs && i < d->nattrs; i++)
		CHECK_STR(m->attrs[i].name, d->attrs[i].name);
	CHECK_STR(attr_text(m, "in_channels"), "3");
	CHECK_STR(attr_text(m, "kernel_size"), "(7, 7)");
	CHECK_STR(attr_text(m, "stride"), "(2, 2)");
	CHECK_STR(attr_text(m, "padding"), "(3, 3)");
	CHECK_STR(attr_text(m, "dilation"), "(1, 1)");
	CHECK_STR(attr_text(m, "groups"), "1");
	CHECK_STR(attr_text(m, "bias"), "False");
	CHECK_STR(attr_text(m, "padding_mode"), "'zeros'");
	CHECK_STR(params_text(m), "weight [64, 3, 7, 7] float32");
	CHECK(m->params[0].trainable && !m->params[0].buffer);
	module_free(m);

	m = mk("Conv2d",
	       "in_channels=32 out_channels=64 kernel_size=(1, 3) groups=4 padding='same'");
	CHECK(m != NULL);
	if (m) {
		CHECK_STR(params_text(m), "weight [64, 8, 1, 3] float32, bias [64] float32");
		CHECK_STR(attr_text(m, "padding"), "'same'");
		CHECK_STR(attr_text(m, "kernel_size"), "(1, 3)");
	}
	module_free(m);
}

static void test_prepare_params(void)
{
	struct module *m = mk("BatchNorm2d", "num_features=64");
	CHECK_STR(params_text(m),
	          "weight [64] float32, bias [64] float32, running_mean [64] float32 (buffer), "
	          "running_var [64] float32 (buffer), num_batches_tracked [] int64 (buffer)");
	CHECK_STR(attr_text(m, "eps"), "1e-05");
	CHECK_STR(attr_text(m, "momentum"), "0.1");
	CHECK(!m->params[4].trainable && m->params[0].trainable);
	module_free(m);
	m = mk("BatchNorm2d", "num_features=8 affine=False");
	CHECK_STR(params_text(m), "running_mean [8] float32 (buffer), running_var [8] float32 "
	                          "(buffer), num_batches_tracked [] int64 (buffer)");
	module_free(m);
	m = mk("BatchNorm2d", "num_features=8 track_running_stats=False momentum=None");
	CHECK_STR(params_text(m), "weight [8] float32, bias [8] float32");
	CHECK_STR(attr_text(m, "momentum"), "None");
	module_free(m);

	m = mk("Linear", "in_features=512 out_features=1000");
	CHECK_STR(params_text(m), "weight [1000, 512] float32, bias [1000] float32");
	module_free(m);
	m = mk("Linear", "in_features=512 out_features=10 bias=False");
	CHECK_STR(params_text(m), "weight [10, 512] float32");
	module_free(m);

	m = mk("LayerNorm", "normalized_shape=768 eps=1e-6");
	CHECK_STR(attr_text(m, "normalized_shape"), "(768,)");
	CHECK_STR(params_text(m), "weight [768] float32, bias [768] float32");
	module_free(m);
	m = mk("LayerNorm", "normalized_shape=(7, 7) elementwise_affine=False");
	CHECK_STR(params_text(m), "");
	module_free(m);
	m = mk("LayerNorm2d", "normalized_shape=[96]");
	CHECK_STR(params_text(m), "weight [96] float32, bias [96] float32");
	module_free(m);
	m = mk("GroupNorm", "num_groups=8 num_channels=64");
	CHECK_STR(params_text(m), "weight [64] float32, bias [64] float32");
	module_free(m);

	m = mk("MultiheadAttention", "embed_dim=768 num_heads=12");
	CHECK_STR(params_text(m), "in_proj_weight [2304, 768] float32, in_proj_bias [2304] "
	                          "float32, out_proj.weight [768, 768] float32, out_proj.bias "
	                          "[768] float32");
	CHECK_STR(attr_text(m, "kdim"), "None");
	module_free(m);
	m = mk("MultiheadAttention", "embed_dim=8 num_heads=2 add_bias_kv=True");
	CHECK_STR(params_text(m), "in_proj_weight [24, 8] float32, in_proj_bias [24] float32, "
	                          "bias_k [1, 1, 8] float32, bias_v [1, 1, 8] float32, "
	                          "out_proj.weight [8, 8] float32, out_proj.bias [8] float32");
	module_free(m);
	m = mk("MultiheadAttention", "embed_dim=8 num_heads=2 kdim=4 vdim=6 bias=False");
	CHECK_STR(params_text(m), "q_proj_weight [8, 8] float32, k_proj_weight [8, 4] float32, "
	                          "v_proj_weight [8, 6] float32, out_proj.weight [8, 8] float32");
	module_free(m);

	m = mk("MaxPool2d", "kernel_size=3");
	CHECK_STR(attr_text(m, "stride"), "(3, 3)");
	CHECK_STR(attr_text(m, "padding"), "(0, 0)");
	CHECK_STR(attr_text(m, "ceil_mode"), "False");
	module_free(m);
	m = mk("AvgPool2d", "kernel_size=(2, 3) stride=1");
	CHECK_STR(attr_text(m, "stride"), "(1, 1)");
	CHECK_STR(attr_text(m, "divisor_override"), "None");
	module_free(m);
	m = mk("AdaptiveAvgPool2d", "output_size=1");
	CHECK_STR(attr_text(m, "output_size"), "(1, 1)");
	module_free(m);
	m = mk("AdaptiveAvgPool2d", "output_size=(None, 7)");
	CHECK_STR(attr_text(m, "output_size"), "(None, 7)");
	module_free(m);
	m = mk("Identity", "");
	CHECK(m && m->nparams == 0 && m->nattrs == 0);
	module_free(m);
	m = mk("Dropout", "p=0");
	CHECK_STR(attr_text(m, "p"), "0.0");
	CHECK_STR(attr_text(m, "inplace"), "False");
	module_free(m);
	m = mk("Permute", "dims=(0, 2, 3, 1)");
	CHECK_STR(attr_text(m, "dims"), "(0, 2, 3, 1)");
	module_free(m);
}

static void test_attr_errors(void)
{
	CHECK_STR(prepare_error("Conv2d", "in_channels=3 out_channels=8 kernel_size='abc'"),
	          "Conv2d: attribute 'kernel_size' must be an int or a pair of ints, got 'abc'");
	CHECK_STR(prepare_error("Conv2d", "in_channels=3 out_channels=8 kernal_size=3"),
	          "Conv2d has no attribute 'kernal_size' (did you mean 'kernel_size'?)");
	CHECK_STR(prepare_error("Conv2d", "in_channels=3 out_channels=8 kernel_size=3 colour=1"),
	          "Conv2d has no attribute 'colour'");
	CHECK_STR(prepare_error("Sigmoid", "inplace=True"),
	          "Sigmoid has no attribute 'inplace' (it takes none)");
	CHECK_STR(prepare_error("Conv2d", "in_channels=3 out_channels=8 kernel_size=3 bias=1"),
	          "Conv2d: attribute 'bias' must be True or False, got 1");
	CHECK_STR(prepare_error("Conv2d", "in_channels=3 out_channels=8 kernel_size=3 groups=1.5"),
	          "Conv2d: attribute 'groups' must be an int, got 1.5");
	CHECK_STR(prepare_error("Conv2d", "in_channels=3 out_channels=8 kernel_size=3 groups=True"),
	          "Conv2d: attribute 'groups' must be an int, got True");
	CHECK_STR(
	    prepare_error("Conv2d", "in_channels=3 out_channels=8 kernel_size=(3, 3, 3)"),
	    "Conv2d: attribute 'kernel_size' must be an int or a pair of ints, got (3, 3, 3)");
	CHECK_STR(prepare_error("Conv2d", "stride=2"),
	          "Conv2d needs attributes 'in_channels', 'out_channels' and 'kernel_size'");
	CHECK_STR(prepare_error("Linear", "in_features=3"),
	          "Linear needs attribute 'out_features'");
	CHECK_STR(prepare_error("Conv2d", "in_channels=3 out_channels=8 kernel_size=3 groups=2"),
	          "Conv2d: in_channels must be divisible by groups");
	CHECK_STR(prepare_error("Conv2d", "in_channels=4 out_channels=6 kernel_size=3 groups=4"),
	          "Conv2d: out_channels must be divisible by groups");
	CHECK_STR(
	    prepare_error("Conv2d",
	                  "in_channels=4 out_channels=8 kernel_size=3 stride=2 padding='same'"),
	    "Conv2d: padding='same' is not supported for strided convolutions");
	CHECK_STR(
	    prepare_error("Conv2d", "in_channels=4 out_channels=8 kernel_size=3 padding='full'"),
	    "Conv2d: attribute 'padding' must be an int, a pair of ints, 'same' or 'valid', "
	    "got 'full'");
	CHECK_STR(prepare_error("Conv2d", "in_channels=4 out_channels=8 kernel_size=0"),
	          "Conv2d: kernel_size must be positive, got (0, 0)");
	CHECK_STR(prepare_error("Conv2d",
	                        "in_channels=4 out_channels=8 kernel_size=3 padding_mode='zero'"),
	          "Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
	          "got 'zero'");
	CHECK_STR(prepare_error("GroupNorm", "num_groups=3 num_channels=8"),
	          "GroupNorm: num_channels must be divisible by num_groups");
	CHECK_STR(prepare_error("MultiheadAttention", "embed_dim=10 num_heads=3"),
	          "MultiheadAttention: embed_dim must be divisible by num_heads");
	CHECK_STR(prepare_error("Dropout", "p=1.5"), "Dropout: p must be between 0 and 1, got 1.5");
	CHECK_STR(prepare_error("Dropout", "p='high'"),
	          "Dropout: attribute 'p' must be a number, got 'high'");
	CHECK_STR(prepare_error("MaxPool2d", "kernel_size=3 padding=2"),
	          "MaxPool2d: pad should be at most half of kernel size, but got pad=2 and "
	          "kernel_size=3");
	CHECK_STR(prepare_error("MaxPool2d", "kernel_size=3 stride='x'"),
	          "MaxPool2d: attribute 'stride' must be an int, a pair of ints or None, got 'x'");
	CHECK_STR(prepare_error("GELU", "approximate='fast'"),
	          "GELU: approximate must be 'none' or 'tanh', got 'fast'");
	CHECK_STR(prepare_error("StochasticDepth", "p=0.1 mode='rows'"),
	          "StochasticDepth: mode must be 'batch' or 'row', got 'rows'");
	CHECK_STR(prepare_error("AdaptiveAvgPool2d", "output_size=(1, 2, 3)"),
	          "AdaptiveAvgPool2d: attribute 'output_size' must be an int or a pair of ints "
	          "(None keeps a size), got (1, 2, 3)");
	CHECK_STR(prepare_error("ResNet", ""), "'ResNet' is not a module type graft knows");
	CHECK_STR(prepare_error("LayerNorm", "normalized_shape=(768, 'a')"),
	          "LayerNorm: attribute 'normalized_shape' must be an int or a tuple of ints, got "
	          "(768, 'a')");
}

/* A failed prepare leaves the module as it was. */
static void test_prepare_atomic(void)
{
	struct module *m = mk("Conv2d", "in_channels=4 out_channels=8 kernel_size=3");
	CHECK(m != NULL);
	if (!m)
		return;
	struct value v = value_int(3);
	module_set_attr(m, "groups", &v);
	CHECK(registry_prepare(m, &err) < 0);
	CHECK_STR(err.msg, "Conv2d: in_channels must be divisible by groups");
	CHECK_STR(attr_text(m, "groups"), "3");
	CHECK_STR(params_text(m), "weight [8, 4, 3, 3] float32, bias [8] float32");
	v = value_int(2);
	module_set_attr(m, "groups", &v);
	CHECK(registry_prepare(m, &err) == 0);
	CHECK_STR(params_text(m), "weight [8, 2, 3, 3] float32, bias [8] float32");
	module_free(m);
}

/* Re-preparing keeps the storage of tensors whose shape still fits, and
 * their frozen state. */
static void test_prepare_keeps_storage(void)
{
	struct module *m = mk("Conv2d", "in_channels=4 out_channels=8 kernel_size=3");
	if (!m) {
		CHECK(0);
		return;
	}
	tensor_alloc(&m->params[0].t, NULL);
	tensor_alloc(&m->params[1].t, NULL);
	struct storage *w = m->params[0].t.storage, *b = m->params[1].t.storage;
	m->params[1].trainable = false;
	CHECK(registry_prepare(m, &err) == 0);
	CHECK(m->params[0].t.storage == w && m->params[1].t.storage == b);
	CHECK(!m->params[1].trainable && m->params[0].trainable);
	struct value v = value_int(5);
	module_set_attr(m, "kernel_size", &v);
	CHECK(registry_prepare(m, &err) == 0);
	CHECK_STR(params_text(m), "weight [8, 4, 5, 5] float32, bias [8] float32");
	CHECK(m->params[0].t.storage == NULL);
	CHECK(m->params[1].t.storage == b);
	module_free(m);
}

/* ---- shapes of module types ---- */

static void test_conv2d_shapes(void)
{
	CHECK_STR(mod("Conv2d", "in_channels=3 out_channels=64 kernel_size=7 stride=2 padding=3",
	              "1x3x224x224"),
	          "[1, 64, 112, 112]");
	CHECK(last_macs == 118013952); /* 64*112*112 * 3*7*7 */
	CHECK_STR(mod("Conv2d",
	              "in_channels=8 out_channels=16 kernel_size=3 stride=2 padding=1 dilation=2 "
	              "groups=4",
	              "2x8x17x23"),
	          "[2, 16, 8, 11]");
	CHECK(last_macs == 2 * 16 * 8 * 11 * 2 * 9);
	CHECK_STR(mod("Conv2d", "in_channels=8 out_channels=16 kernel_size=(1, 7) padding=(0, 3)",
	              "1x8x17x17"),
	          "[1, 16, 17, 17]");
	CHECK_STR(mod("Conv2d",
	              "in_channels=8 out_channels=16 kernel_size=4 padding='same' dilation=2",
	              "1x8x9x10"),
	          "[1, 16, 9, 10]");
	CHECK_STR(
	    mod("Conv2d", "in_channels=8 out_channels=16 kernel_size=3 padding='valid'", "8x9x9"),
	    "[16, 7, 7]");
	CHECK(last_macs == 16 * 7 * 7 * 8 * 9);
	CHECK_STR(mod("Conv2d", "in_channels=1 out_channels=1 kernel_size=5 stride=3", "1x1x7x7"),
	          "[1, 1, 1, 1]");
	CHECK_STR(mod("Conv2d", "in_channels=4 out_channels=8 kernel_size=3", "1x3x8x8"),
	          "m: Conv2d(in_channels=4) gets 3 channels from the model input");
	CHECK(err.kind == ERR_SHAPE);
	CHECK_STR(
	    mod("Conv2d", "in_channels=4 out_channels=8 kernel_size=7", "1x4x5x5"),
	    "m: Conv2d(kernel_size=(7, 7)) gets a 5x5 input (too small) from the model input");
	CHECK_STR(mod("Conv2d", "in_channels=4 out_channels=8 kernel_size=7 padding=1", "1x4x4x4"),
	          "m: Conv2d(kernel_size=(7, 7), padding=(1, 1)) gets a 4x4 input (too small) from "
	          "the model input");
	CHECK_STR(mod("Conv2d", "in_channels=4 out_channels=8 kernel_size=3", "1x512"),
	          "m: Conv2d gets 2-D [1, 512] (needs 3-D or 4-D input) from the model input");
}

/* A tuple of n ints. */
static struct value ints(int n, const int64_t *v)
{
	struct value l = value_list(n);
	for (int i = 0; i < n; i++)
		l.u.list.items[i] = value_int(v[i]);
	return l;
}

/* Calls module TYPE(ATTRS) with the n arguments (taken over). */
static const char *mod_args(const char *type, const char *attrs, int n, ...)
{
	static char buf[1100];
	struct value args[4];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		args[i] = va_arg(ap, struct value);
	va_end(ap);
	struct module *m = mk(type, attrs);
	if (!m) {
		for (int i = 0; i < n; i++)
			value_free(&args[i]);
		snprintf(buf, sizeof buf, "prepare failed: %s", err.msg);
		return buf;
	}
	snprintf(buf, sizeof buf, "%s", run(m->def, m, "m", args, n));
	module_free(m);
	return buf;
}

static void test_conv_nd_shapes(void)
{
	CHECK_STR(mod("Conv1d", "in_channels=1 out_channels=8 kernel_size=40 stride=8", "2x1x800"),
	          "[2, 8, 96]");
	CHECK(last_macs == 2 * 8 * 96 * 40);
	CHECK_STR(mod("Conv1d", "in_channels=4 out_channels=4 kernel_size=4 padding='same'", "4x9"),
	          "[4, 9]");
	CHECK_STR(mod("Conv3d",
	              "in_channels=4 out_channels=6 kernel_size=(1, 3, 3) stride=(1, 2, 2) "
	              "padding=(0, 1, 1) groups=2",
	              "1x4x5x9x8"),
	          "[1, 6, 5, 5, 4]");
	CHECK(last_macs == 6 * 5 * 5 * 4 * 2 * 9);
	CHECK_STR(mod("Conv1d", "in_channels=4 out_channels=8 kernel_size=3", "1x3x10"),
	          "m: Conv1d(in_channels=4) gets 3 channels from the model input");
	CHECK_STR(mod("Conv3d", "in_channels=2 out_channels=2 kernel_size=3 dilation=(1, 2, 1)",
	              "1x2x4x4x4"),
	          "m: Conv3d(kernel_size=(3, 3, 3), dilation=(1, 2, 1)) gets a 4x4x4 input (too "
	          "small) from the model input");
	CHECK_STR(mod("Conv1d", "in_channels=2 out_channels=2 kernel_size=5 padding=1", "1x2x2"),
	          "m: Conv1d(kernel_size=(5,), padding=(1,)) gets a length-2 input (too small) "
	          "from the model input");
	CHECK_STR(mod("Conv3d", "in_channels=2 out_channels=2 kernel_size=3", "2x8"),
	          "m: Conv3d gets 2-D [2, 8] (needs 4-D or 5-D input) from the model input");
	/* transposed: (in - 1) * s - 2p + d(k - 1) + output_padding + 1 */
	CHECK_STR(mod("ConvTranspose2d",
	              "in_channels=4 out_channels=6 kernel_size=3 stride=2 padding=1 "
	              "output_padding=1 groups=2",
	              "1x4x5x7"),
	          "[1, 6, 10, 14]");
	CHECK(last_macs == 4 * 5 * 7 * 3 * 9);
	CHECK_STR(mod("ConvTranspose1d", "in_channels=6 out_channels=4 kernel_size=5 stride=3 "
	                                 "dilation=2 output_padding=2",
	              "2x6x8"),
	          "[2, 4, 32]");
	CHECK_STR(mod("ConvTranspose3d", "in_channels=2 out_channels=1 kernel_size=(1, 3, 3)",
	              "2x3x4x5"),
	          "[1, 3, 6, 7]");
	/* forward(x, output_size) picks the output padding */
	kw("output_size", ints(4, (int64_t[]){1, 3, 10, 9}));
	CHECK_STR(mod_args("ConvTranspose2d",
	                   "in_channels=4 out_channels=3 kernel_size=3 stride=2 padding=1", 1,
	                   T("1x4x5x5")),
	          "[1, 3, 10, 9]");
	kw("output_size", ints(2, (int64_t[]){12, 9}));
	CHECK_CONTAINS(mod_args("ConvTranspose2d",
	                        "in_channels=4 out_channels=3 kernel_size=3 stride=2 padding=1", 1,
	                        T("1x4x5x5")),
	               "requested an output size of 12, but valid sizes range from 9 to 10");
	CHECK_STR(fn("conv1d", 3, T("2x4x10"), T("6x4x3"), value_none()), "[2, 6, 8]");
	kw("groups", value_int(2));
	CHECK_STR(fn("conv1d", 2, T("2x4x10"), T("6x2x3")), "[2, 6, 8]");
	kw("stride", value_int(2));
	kw("output_padding", value_int(1));
	CHECK_STR(fn("conv_transpose1d", 2, T("2x4x10"), T("4x3x3")), "[2, 3, 22]");
	CHECK_STR(fn("conv3d", 2, T("1x2x5x6x7"), T("4x2x3x3x3")), "[1, 4, 3, 4, 5]");
	CHECK_STR(fn("conv_transpose3d", 2, T("1x2x5x6x7"), T("2x4x3x3x3")), "[1, 4, 7, 8, 9]");
	CHECK_STR(fn("conv3d", 2, T("1x3x5x6x7"), T("4x2x3x3x3")),
	          "conv3d: conv3d(weight [4, 2, 3, 3, 3], groups=1) gets 3 channels from the model "
	          "input");
	/* attributes */
	CHECK_STR(prepare_error("Conv3d", "in_channels=2 out_channels=2 kernel_size=(3, 3)"),
	          "Conv3d: attribute 'kernel_size' must be an int or 3 ints, got (3, 3)");
	CHECK_STR(prepare_error("ConvTranspose2d",
	                        "in_channels=2 out_channels=2 kernel_size=3 output_padding=1"),
	          "ConvTranspose2d: output_padding must be smaller than either stride or dilation");
	CHECK_STR(prepare_error("ConvTranspose1d", "in_channels=2 out_channels=2 kernel_size=3 "
	                                           "padding_mode='reflect'"),
	          "ConvTranspose1d: only padding_mode 'zeros' is supported, got 'reflect'");
	CHECK_STR(prepare_error("Conv1d", "in_channels=3 out_channels=2 kernel_size=3 groups=2"),
	          "Conv1d: in_channels must be divisible by groups");
	CHECK_STR(describe("Conv3d", "in_channels=2 out_channels=4 kernel_size=(1, 3, 3) "
	                             "padding=(0, 1, 1) padding_mode='circular'"),
	          "2→4 k1x3x3 p0x1x1 circular");
	CHECK_STR(describe("ConvTranspose1d", "in_channels=8 out_channels=4 kernel_size=4 "
	                                      "stride=2 output_padding=1 groups=4"),
	          "8→4 k4 s2 op1 g4");
	struct module *m = mk("ConvTranspose2d", "in_channels=4 out_channels=6 kernel_size=3 "
	                                         "groups=2 bias=False");
	CHECK(m && m->nparams == 1 && m->params[0].t.shape.ndim == 4 &&
	      m->params[0].t.shape.dim[0] == 4 && m->params[0].t.shape.dim[1] == 3);
	module_free(m);
}

static void test_pool_nd_shapes(void)
{
	CHECK_STR(mod("MaxPool1d", "kernel_size=3 stride=2 padding=1", "2x3x40"), "[2, 3, 20]");
	CHECK_STR(mod("AvgPool1d", "kernel_size=2 ceil_mode=True", "3x9"), "[3, 5]");
	CHECK_STR(mod("MaxPool3d", "kernel_size=(1, 2, 2)", "1x2x5x9x8"), "[1, 2, 5, 4, 4]");
	CHECK_STR(mod("AvgPool3d", "kernel_size=3 stride=1 padding=1 divisor_override=3",
	              "1x2x4x4x4"),
	          "[1, 2, 4, 4, 4]");
	CHECK_STR(mod("MaxPool1d", "kernel_size=2 return_indices=True", "1x3x9"),
	          "(Tensor[1, 3, 4], Tensor[1, 3, 4])");
	CHECK(last.kind == VAL_LIST && last.u.list.items[1].u.tensor.t.dtype == DT_I64);
	CHECK_STR(mod("MaxPool3d", "kernel_size=3", "1x2x2x9x9"),
	          "m: MaxPool3d(kernel_size=(3, 3, 3), stride=(3, 3, 3)) gets a 2x9x9 input "
	          "(output would be 0x3x3) from the model input");
	CHECK_STR(mod("AdaptiveAvgPool1d", "output_size=5", "2x3x13"), "[2, 3, 5]");
	CHECK_STR(mod("AdaptiveMaxPool3d", "output_size=(2, None, 1)", "1x2x9x7x5"),
	          "[1, 2, 2, 7, 1]");
	CHECK_STR(mod("LPPool2d", "norm_type=2 kernel_size=3 stride=2 ceil_mode=True",
	              "1x3x10x11"),
	          "[1, 3, 5, 5]");
	CHECK_STR(mod("LPPool1d", "norm_type=3 kernel_size=2", "2x3x9"), "[2, 3, 4]");
	CHECK_STR(describe("LPPool1d", "norm_type=3 kernel_size=2"), "p3 k2 s2");
	CHECK_STR(prepare_error("AdaptiveAvgPool3d", "output_size=(2, 2)"),
	          "AdaptiveAvgPool3d: attribute 'output_size' must be an int or 3 ints (None keeps "
	          "a size), got (2, 2)");
	CHECK_STR(mod_args("MaxUnpool2d", "kernel_size=2", 2, T("1x3x4x4"), TI("1x3x4x4")),
	          "[1, 3, 8, 8]");
	kw("output_size", ints(2, (int64_t[]){9, 9}));
	CHECK_STR(mod_args("MaxUnpool2d", "kernel_size=2", 2, T("1x3x4x4"), TI("1x3x4x4")),
	          "[1, 3, 9, 9]");
	CHECK_CONTAINS(mod_args("MaxUnpool1d", "kernel_size=2", 2, T("1x3x4"), TI("1x3x5")),
	               "indices [1, 3, 5] do not match the input [1, 3, 4]");
	CHECK_STR(fn("max_unpool3d", 3, T("1x2x2x2x2"), TI("1x2x2x2x2"), value_int(2)),
	          "[1, 2, 4, 4, 4]");
	CHECK_STR(fn("max_pool2d_with_indices", 2, T("1x3x8x8"), value_int(2)),
	          "(Tensor[1, 3, 4, 4], Tensor[1, 3, 4, 4])");
	CHECK_STR(fn("avg_pool3d", 2, T("1x2x4x6x6"), value_int(2)), "[1, 2, 2, 3, 3]");
	CHECK_STR(fn("lp_pool1d", 3, T("2x3x12"), value_float(2), value_int(3)), "[2, 3, 4]");
	CHECK_STR(fn("adaptive_max_pool1d_with_indices", 2, T("2x3x12"), value_int(3)),
	          "(Tensor[2, 3, 3], Tensor[2, 3, 3])");
	CHECK_CONTAINS(fn("fractional_max_pool2d", 2, T("1x3x8x8"), value_int(2)),
	               "PyTorch draws its pooling regions at random on every call");
	/* Unfold and Fold: blocks of C * kh * kw values */
	CHECK_STR(mod("Unfold", "kernel_size=4 padding=1 stride=2", "1x3x12x16"), "[1, 48, 48]");
	CHECK_STR(mod("Fold", "output_size=(12, 16) kernel_size=4 padding=1 stride=2", "1x48x48"),
	          "[1, 3, 12, 16]");
	CHECK_STR(mod("Fold", "output_size=(12, 16) kernel_size=4 padding=1 stride=2", "1x48x30"),
	          "m: Fold(kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)) gets 30 blocks "
	          "(output_size (12, 16) makes 48) from the model input");
	CHECK_STR(mod("Fold", "output_size=4 kernel_size=2", "1x10x9"),
	          "m: Fold(kernel_size=(2, 2), stride=(1, 1)) gets 10 channels (not a multiple of "
	          "4) from the model input");
	CHECK_STR(fn("unfold", 2, T("2x3x5x5"), value_int(3)), "[2, 27, 9]");
	CHECK_STR(fn("fold", 3, T("27x9"), ints(2, (int64_t[]){5, 5}), value_int(3)),
	          "[3, 5, 5]");
}

static void test_pool_shapes(void)
{
	/* PyTorch's ceil_mode: the last window must start inside the input. */
	CHECK_STR(mod("MaxPool2d", "kernel_size=3 stride=2 ceil_mode=True", "1x64x56x56"),
	          "[1, 64, 28, 28]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=3 stride=2 ceil_mode=True", "1x64x55x55"),
	          "[1, 64, 27, 27]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=3 stride=2 ceil_mode=True", "1x64x112x112"),
	          "[1, 64, 56, 56]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=3 stride=2 padding=1", "1x64x112x112"),
	          "[1, 64, 56, 56]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=2 stride=2 ceil_mode=True", "1x1x5x5"),
	          "[1, 1, 3, 3]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=3 stride=3 padding=1 ceil_mode=True", "1x1x7x7"),
	          "[1, 1, 3, 3]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=3 stride=3 padding=1 ceil_mode=True", "1x1x8x8"),
	          "[1, 1, 3, 3]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=2 stride=2 padding=1 ceil_mode=True", "1x1x4x4"),
	          "[1, 1, 3, 3]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=3 stride=1 dilation=2", "1x1x10x10"),
	          "[1, 1, 6, 6]");
	CHECK_STR(mod("MaxPool2d", "kernel_size=2", "1x1x7x7"), "[1, 1, 3, 3]");
	CHECK(last_macs == 0);
	CHECK_STR(mod("MaxPool2d", "kernel_size=3 stride=2", "1x1x2x2"),
	          "m: MaxPool2d(kernel_size=(3, 3), stride=(2, 2)) gets a 2x2 input (output would "
	          "be 0x0) from the model input");
	CHECK_STR(mod("MaxPool2d", "kernel_size=2 return_indices=True", "1x1x4x6"),
	          "(Tensor[1, 1, 2, 3], Tensor[1, 1, 2, 3])");
	CHECK(last.kind == VAL_LIST && last.u.list.items[1].u.tensor.t.dtype == DT_I64);
	CHECK_STR(mod("AvgPool2d", "kernel_size=3 stride=2 ceil_mode=True", "1x1x6x6"),
	          "[1, 1, 3, 3]");
	CHECK_STR(mod("AvgPool2d", "kernel_size=2 ceil_mode=True", "1x1x7x8"), "[1, 1, 4, 4]");
	CHECK_STR(mod("AvgPool2d", "kernel_size=3 stride=2 padding=1 ceil_mode=True", "2x3x7x7"),
	          "[2, 3, 4, 4]");
	CHECK_STR(mod("AvgPool2d", "kernel_size=2 stride=2", "3x8x8"), "[3, 4, 4]");
	CHECK_STR(mod("AdaptiveAvgPool2d", "output_size=(None, 7)", "1x3x10x12"), "[1, 3, 10, 7]");
	CHECK_STR(mod("AdaptiveAvgPool2d", "output_size=3", "3x10x12"), "[3, 3, 3]");
	CHECK_STR(mod("AdaptiveAvgPool2d", "output_size=(1, 1)", "1x512x7x7"), "[1, 512, 1, 1]");
	CHECK_STR(mod("AdaptiveMaxPool2d", "output_size=2 return_indices=True", "1x4x5x5"),
	          "(Tensor[1, 4, 2, 2], Tensor[1, 4, 2, 2])");
	CHECK_STR(mod("AdaptiveAvgPool2d", "output_size=1", "1x512"),
	          "m: AdaptiveAvgPool2d gets 2-D [1, 512] (needs 3-D or 4-D input) from the model "
	          "input");
}

static void test_layer_shapes(void)
{
	CHECK_STR(mod("Linear", "in_features=5 out_features=7", "2x3x5"), "[2, 3, 7]");
	CHECK(last_macs == 2 * 3 * 7 * 5);
	CHECK_STR(mod("Linear", "in_features=5 out_features=7", "5"), "[7]");
	CHECK_STR(mod("Linear", "in_features=1024 out_features=10", "1x512"),
	          "m: Linear(in_features=1024) gets 512 features ([1, 512]) from the model input");
	CHECK_STR(mod("BatchNorm2d", "num_features=64", "1x64x56x56"), "[1, 64, 56, 56]");
	CHECK(last_macs == 0);
	CHECK_STR(mod("BatchNorm2d", "num_features=128", "1x64x28x28"),
	          "m: BatchNorm2d(num_features=128) gets 64 channels from the model input");
	CHECK_STR(mod("BatchNorm2d", "num_features=64", "1x64x56"),
	          "m: BatchNorm2d gets 3-D [1, 64, 56] (needs 4-D input) from the model input");
	CHECK_STR(mod("BatchNorm1d", "num_features=64", "8x64"), "[8, 64]");
	CHECK_STR(mod("BatchNorm1d", "num_features=64", "8x64x10"), "[8, 64, 10]");
	CHECK_STR(mod("LayerNorm", "normalized_shape=768", "1x197x768"), "[1, 197, 768]");
	CHECK_STR(mod("LayerNorm", "normalized_shape=(7, 7)", "2x3x7x7"), "[2, 3, 7, 7]");
	CHECK_STR(mod("LayerNorm", "normalized_shape=768", "1x197x512"),
	          "m: LayerNorm(normalized_shape=768) gets 512 features ([1, 197, 512]) from the "
	          "model input");
	CHECK_STR(mod("LayerNorm", "normalized_shape=(7, 7)", "2x7x6"),
	          "m: LayerNorm(normalized_shape=(7, 7)) gets [2, 7, 6] from the model input");
	CHECK_STR(mod("LayerNorm2d", "normalized_shape=96", "1x96x56x56"), "[1, 96, 56, 56]");
	CHECK_STR(mod("LayerNorm2d", "normalized_shape=96", "1x56x56x96"),
	          "m: LayerNorm2d(normalized_shape=96) gets 56 channels from the model input");
	CHECK_STR(mod("GroupNorm", "num_groups=8 num_channels=64", "2x64x9"), "[2, 64, 9]");
	CHECK_STR(mod("GroupNorm", "num_groups=8 num_channels=64", "2x32x9x9"),
	          "m: GroupNorm(num_channels=64) gets 32 channels from the model input");
	CHECK_STR(mod("ReLU", "inplace=True", "2x3"), "[2, 3]");
	CHECK_STR(mod("GELU", "approximate='tanh'", "2x3x4"), "[2, 3, 4]");
	CHECK_STR(mod("Softmax", "dim=-1", "2x3"), "[2, 3]");
	CHECK_STR(mod("Softmax", "dim=2", "2x3"),
	          "m: dimension out of range (expected to be in range of [-2, 1], but got 2)");
	CHECK_STR(mod("ELU", "alpha=0.5", "2x3"), "[2, 3]");
	CHECK_STR(mod("Threshold", "threshold=0.1 value=20", "2x3"), "[2, 3]");
	CHECK_STR(mod("PReLU", "", "2x3x4"), "[2, 3, 4]");
	CHECK_STR(mod("PReLU", "num_parameters=3", "2x3x4"), "[2, 3, 4]");
	CHECK_STR(mod("PReLU", "num_parameters=8", "2x3x4"),
	          "m: PReLU(num_parameters=8) gets 3 channels from the model input");
	CHECK_STR(mod("GLU", "", "2x3x8"), "[2, 3, 4]");
	CHECK_STR(mod("GLU", "dim=1", "2x3x8"), "m: glu halves dimension 1, whose size 3 is odd");
	CHECK_STR(mod("LogSoftmax", "dim=1", "2x3"), "[2, 3]");
	CHECK_STR(mod("Softmax2d", "", "2x3x4x5"), "[2, 3, 4, 5]");
	CHECK_STR(mod("Softmax2d", "", "2x3"),
	          "m: Softmax2d gets 2-D [2, 3] (needs 3-D or 4-D input) from the model input");
	CHECK_STR(mod("Dropout", "p=0.2", "1x1280"), "[1, 1280]");
	CHECK_STR(mod("Identity", "", "1x3"), "[1, 3]");
	CHECK_STR(mod("StochasticDepth", "p=0.1 mode='row'", "1x96x56x56"), "[1, 96, 56, 56]");
	CHECK_STR(mod("Flatten", "", "2x512x1x1"), "[2, 512]");
	CHECK_STR(mod("Flatten", "start_dim=0 end_dim=1", "2x3x4"), "[6, 4]");
	CHECK_STR(mod("Permute", "dims=(0, 2, 3, 1)", "1x96x56x48"), "[1, 56, 48, 96]");
	CHECK_STR(mod("Permute", "dims=(0, 2, 1)", "1x96x56x48"),
	          "m: permute(): number of dims don't match (the input has 4, got 3)");
}

/* BatchNorm3d, SyncBatchNorm, InstanceNorm, FrozenBatchNorm2d, the LRNs,
 * the dropouts, Unflatten and their functions. */
static void test_norm_dropout_shapes(void)
{
	CHECK_STR(mod("BatchNorm3d", "num_features=3", "2x3x4x5x6"), "[2, 3, 4, 5, 6]");
	CHECK_STR(mod("BatchNorm3d", "num_features=3", "2x3x4x5"),
	          "m: BatchNorm3d gets 4-D [2, 3, 4, 5] (needs 5-D input) from the model input");
	CHECK_STR(mod("BatchNorm3d", "num_features=4", "2x3x4x5x6"),
	          "m: BatchNorm3d(num_features=4) gets 3 channels from the model input");
	CHECK_STR(mod("SyncBatchNorm", "num_features=3", "2x3"), "[2, 3]");
	CHECK_STR(mod("SyncBatchNorm", "num_features=3", "2x3x4x5x6"), "[2, 3, 4, 5, 6]");
	CHECK_STR(mod("InstanceNorm2d", "num_features=3", "2x3x4x5"), "[2, 3, 4, 5]");
	CHECK_STR(mod("InstanceNorm2d", "num_features=3", "3x4x5"), "[3, 4, 5]");
	CHECK_STR(mod("InstanceNorm2d", "num_features=8", "2x3x4x5"), "[2, 3, 4, 5]");
	CHECK_STR(mod("InstanceNorm2d", "num_features=8 affine=True", "2x3x4x5"),
	          "m: InstanceNorm2d(num_features=8) gets 3 channels from the model input");
	CHECK_STR(mod("InstanceNorm1d", "num_features=8 track_running_stats=True", "3x4"),
	          "m: InstanceNorm1d(num_features=8) gets 3 features from the model input");
	CHECK_STR(mod("InstanceNorm3d", "num_features=2 affine=True", "2x4x5x6"), "[2, 4, 5, 6]");
	CHECK_STR(
	    mod("InstanceNorm3d", "num_features=2", "2x3"),
	    "m: InstanceNorm3d gets 2-D [2, 3] (needs 4-D or 5-D input) from the model input");
	CHECK_STR(mod("FrozenBatchNorm2d", "num_features=3", "2x3x4x5"), "[2, 3, 4, 5]");
	CHECK_STR(mod("LocalResponseNorm", "size=2", "2x3x4"), "[2, 3, 4]");
	CHECK_STR(
	    mod("LocalResponseNorm", "size=2", "2x3"),
	    "m: LocalResponseNorm gets 2-D [2, 3] (needs at least 3-D input) from the model input");
	CHECK_STR(mod("CrossMapLRN2d", "size=5", "2x3x4x5"), "[2, 3, 4, 5]");
	CHECK_STR(prepare_error("LocalResponseNorm", "size=0"),
	          "LocalResponseNorm: size must be positive, got 0");
	CHECK_STR(mod("Dropout1d", "p=0.2", "2x3x4"), "[2, 3, 4]");
	CHECK_STR(
	    mod("Dropout1d", "", "2x3x4x5"),
	    "m: Dropout1d gets 4-D [2, 3, 4, 5] (needs 2-D or 3-D input) from the model input");
	CHECK_STR(mod("Dropout3d", "", "2x3x4x5x6"), "[2, 3, 4, 5, 6]");
	CHECK_STR(mod("AlphaDropout", "p=0.1", "2x3"), "[2, 3]");
	CHECK_STR(prepare_error("FeatureAlphaDropout", "p=1.5"),
	          "FeatureAlphaDropout: p must be between 0 and 1, got 1.5");
	CHECK_STR(mod("Unflatten", "dim=1 unflattened_size=(2, -1)", "4x6x5"), "[4, 2, 3, 5]");
	CHECK_STR(mod("Unflatten", "dim=-1 unflattened_size=(4, 4)", "4x6x5"),
	          "m: Unflatten(dim=-1, unflattened_size=(4, 4)) gets [4, 6, 5] (dim 2 is 5) from "
	          "the model input");
	CHECK_STR(fn("unflatten", 3, T("4x6"), value_int(1), P("(3, 2)")), "[4, 3, 2]");
	CHECK_STR(fn("unflatten", 3, T("4x6"), value_int(1), P("(-1, -1)")),
	          "unflatten: unflatten(): sizes must be positive or one -1");
	CHECK_STR(fn("dropout2d", 3, T("2x3x4"), value_float(0.5), value_bool(false)), "[2, 3, 4]");
	CHECK_STR(fn("dropout1d", 2, T("2x3x4x5"), value_float(0.5)),
	          "dropout1d: dropout1d gets 4-D [2, 3, 4, 5] (needs 2-D or 3-D input) from the "
	          "model input");
	CHECK_STR(fn("instance_norm", 1, T("2x3x4")), "[2, 3, 4]");
	CHECK_STR(fn("instance_norm", 4, T("2x3x4"), P("None"), P("None"), T("4")),
	          "instance_norm: instance_norm(weight of 4) gets 3 channels from the model input");
	CHECK_STR(fn("group_norm", 2, T("2x6x4"), value_int(3)), "[2, 6, 4]");
	CHECK_STR(fn("group_norm", 2, T("2x6x4"), value_int(4)),
	          "group_norm: group_norm(num_groups=4) gets 6 channels (not divisible) from the "
	          "model input");
	CHECK_STR(fn("local_response_norm", 2, T("2x6x4x4"), value_int(3)), "[2, 6, 4, 4]");
	CHECK_STR(fn("batch_norm", 3, T("2x3x4x5x6"), T("3"), T("3")), "[2, 3, 4, 5, 6]");
	CHECK_STR(describe("InstanceNorm2d", "num_features=64 affine=True"), "64 affine");
	CHECK_STR(describe("BatchNorm3d", "num_features=8 track_running_stats=False"),
	          "8 no running stats");
	CHECK_STR(describe("LocalResponseNorm", "size=5"), "size 5 a=0.0001 b=0.75 k=1");
	CHECK_STR(describe("Unflatten", "dim=1 unflattened_size=(2, 3)"), "dim 1 -> (2, 3)");
}

/* The pad layers, F.pad's modes, the resizes and the shuffles. */
static void test_resample_shapes(void)
{
	CHECK_STR(mod("ReflectionPad2d", "padding=1", "2x3x4x5"), "[2, 3, 6, 7]");
	CHECK_STR(mod("ReflectionPad2d", "padding=(1, 2, 3, 0)", "3x4x5"), "[3, 7, 8]");
	CHECK_STR(mod("ReflectionPad2d", "padding=4", "2x3x4x5"),
	          "m: ReflectionPad2d(padding=(4, 4, 4, 4)) gets [2, 3, 4, 5], too small to "
	          "reflect-pad dim 2 by (4, 4) from the model input");
	CHECK_STR(mod("ReflectionPad2d", "padding=1", "2x3x4x5x6"),
	          "m: ReflectionPad2d gets 5-D [2, 3, 4, 5, 6] (needs 3-D or 4-D input) from the "
	          "model input");
	CHECK_STR(prepare_error("ReflectionPad2d", "padding=(1, 2, 3)"),
	          "ReflectionPad2d: padding must be one int or 4 ints, got 3");
	CHECK_STR(mod("ReplicationPad1d", "padding=(3, 9)", "2x3x4"), "[2, 3, 16]");
	CHECK_STR(mod("ConstantPad3d", "padding=1 value=0.5", "3x4x5"), "[5, 6, 7]");
	CHECK_STR(mod("ZeroPad2d", "padding=(1, 1, -1, 0)", "1x3x4x5"), "[1, 3, 3, 7]");
	CHECK_STR(describe("ReflectionPad2d", "padding=(1, 1, 2, 2)"), "(1, 1, 2, 2)");
	CHECK_STR(describe("ConstantPad1d", "padding=3 value=1.5"), "3 value=1.5");
	CHECK_STR(fn("pad", 3, T("2x3x4"), P("(4, 4)"), P("'circular'")), "[2, 3, 12]");
	CHECK_STR(fn("pad", 3, T("2x3x4"), P("(5, 4)"), P("'circular'")),
	          "pad: pad() gets [2, 3, 4], too small to circular-pad dim 2 by (5, 4) from the "
	          "model input");
	CHECK_STR(fn("pad", 3, T("3x4"), P("(1, 1)"), P("'circular'")),
	          "pad: pad() gets a 2-D input [3, 4] (circular padding of the last 1 dims needs "
	          "3-D) from the model input");
	CHECK_STR(fn("pad", 3, T("2x3x4x5"), P("(1, 1, 1, 1, 1, 1)"), P("'reflect'")),
	          "[2, 5, 6, 7]");
	CHECK_STR(fn("pad", 3, T("2x3x4x5"), P("(1, 1)"), P("'replicate'")),
	          "pad: pad() gets a 4-D input [2, 3, 4, 5] (replicate padding of the last 1 dims "
	          "needs 2-D or 3-D) from the model input");
	CHECK_STR(fn("pad", 3, T("2x3x4"), P("(1, 1)"), P("'wrap'")),
	          "pad: pad(): mode must be 'constant', 'reflect', 'replicate' or 'circular', got "
	          "'wrap'");
	CHECK_STR(mod("Upsample", "scale_factor=2.0", "1x3x4x5"), "[1, 3, 8, 10]");
	CHECK_STR(mod("Upsample", "scale_factor=(1.5, 0.5) mode='bilinear'", "1x3x5x5"),
	          "[1, 3, 7, 2]");
	CHECK_STR(mod("Upsample", "size=7 mode='linear' align_corners=True", "1x3x4"), "[1, 3, 7]");
	CHECK_STR(mod("Upsample", "size=(2, 3, 4) mode='trilinear'", "1x3x4x5x6"),
	          "[1, 3, 2, 3, 4]");
	CHECK_STR(mod("Upsample", "scale_factor=2.0 mode='bilinear'", "1x3x4"),
	          "m: Upsample(mode='bilinear') gets a 3-D input [1, 3, 4] (needs 4-D) from the "
	          "model input");
	CHECK_STR(mod("Upsample", "scale_factor=2.0 align_corners=True", "1x3x4x4"),
	          "m: Upsample: align_corners can only be set with the interpolating modes: "
	          "linear, bilinear, bicubic, trilinear");
	CHECK_STR(mod("Upsample", "size=(4, 4) scale_factor=2.0", "1x3x4x4"),
	          "m: Upsample: needs exactly one of size and scale_factor");
	CHECK_STR(mod("Upsample", "scale_factor=0.1", "1x3x4x4"),
	          "m: Upsample(scale_factor=0.1) gets 4 in dim 2 (an output size of 0) from the "
	          "model input");
	CHECK_STR(mod("UpsamplingBilinear2d", "size=(9, 7)", "1x3x4x4"), "[1, 3, 9, 7]");
	CHECK_STR(mod("UpsamplingNearest2d", "scale_factor=3", "1x3x4x4"), "[1, 3, 12, 12]");
	CHECK_STR(describe("Upsample", "scale_factor=2.0 mode='bilinear' align_corners=True"),
	          "x2.0 bilinear align_corners");
	CHECK_STR(describe("UpsamplingBilinear2d", "size=(9, 7)"), "size 9x7");
	kw("scale_factor", value_float(1.5));
	kw("mode", P("'bicubic'"));
	CHECK_STR(fn("interpolate", 1, T("1x3x5x5")), "[1, 3, 7, 7]");
	kw("size", P("(3, 4)"));
	kw("mode", P("'area'"));
	CHECK_STR(fn("interpolate", 1, T("1x3x5x5")), "[1, 3, 3, 4]");
	kw("scale_factor", value_float(2));
	kw("antialias", value_bool(true));
	CHECK_STR(fn("interpolate", 1, T("1x3x5x5")),
	          "interpolate: interpolate: antialias=True is not supported");
	CHECK_STR(fn("upsample_nearest", 3, T("1x3x5"), P("None"), value_int(2)), "[1, 3, 10]");
	CHECK_STR(mod("PixelShuffle", "upscale_factor=2", "1x12x3x4"), "[1, 3, 6, 8]");
	CHECK_STR(mod("PixelShuffle", "upscale_factor=3", "1x12x3x4"),
	          "m: PixelShuffle(upscale_factor=3) gets 12 channels (not divisible by 9) from "
	          "the model input");
	CHECK_STR(mod("PixelUnshuffle", "downscale_factor=2", "12x4x6"), "[48, 2, 3]");
	CHECK_STR(mod("PixelUnshuffle", "downscale_factor=2", "1x12x3x4"),
	          "m: PixelUnshuffle(downscale_factor=2) gets [1, 12, 3, 4] (height and width not "
	          "divisible by 2) from the model input");
	CHECK_STR(fn("pixel_shuffle", 2, T("2x5x8x3x4"), value_int(2)), "[2, 5, 2, 6, 8]");
	CHECK_STR(mod("ChannelShuffle", "groups=3", "1x12x3x4"), "[1, 12, 3, 4]");
	CHECK_STR(
	    mod("ChannelShuffle", "groups=5", "1x12x3x4"),
	    "m: ChannelShuffle(groups=5) gets 12 channels (not divisible) from the model input");
	CHECK_STR(describe("PixelShuffle", "upscale_factor=2"), "x2");
	CHECK_STR(describe("ChannelShuffle", "groups=3"), "groups 3");
}

static void test_mha(void)
{
	struct module *m = mk("MultiheadAttention", "embed_dim=8 num_heads=2 batch_first=True");
	if (!m) {
		CHECK(0);
		return;
	}
	struct value a[3] = {T("3x5x8"), T("3x6x8"), T("3x6x8")};
	CHECK_STR(run(m->def, m, "attn", a, 3), "(Tensor[3, 5, 8], Tensor[3, 5, 6])");
	/* q, k, v projections 3*(5+6+6)*8*8, QK^T and AV 2*3*5*6*8, out 3*5*8*8 */
	CHECK(last_macs == 5664);
	struct value b[3] = {T("1x197x768"), T("1x197x768"), T("1x197x768")};
	kw("need_weights", value_bool(false));
	CHECK_STR(run(m->def, m, "attn", b, 3),
	          "attn: MultiheadAttention(embed_dim=8) gets a query of 768 features from the "
	          "model input");
	struct value c[3] = {T("3x5x8"), T("3x5x8"), T("3x5x8")};
	kw("need_weights", value_bool(false));
	CHECK_STR(run(m->def, m, "attn", c, 3), "(Tensor[3, 5, 8], None)");
	struct value d[3] = {T("3x5x8"), T("3x6x8"), T("3x7x8")};
	CHECK_STR(run(m->def, m, "attn", d, 3),
	          "attn: key [3, 6, 8] and value [3, 7, 8] do not match query [3, 5, 8]");
	module_free(m);

	m = mk("MultiheadAttention", "embed_dim=8 num_heads=2");
	struct value e[5] = {T("5x8"), T("6x8"), T("6x8"), value_none(), value_bool(true)};
	kw("average_attn_weights", value_bool(false));
	CHECK_STR(run(m->def, m, "attn", e, 5), "(Tensor[5, 8], Tensor[2, 5, 6])");
	struct value f[3] = {T("5x3x8"), T("6x3x8"), T("6x3x8")};
	CHECK_STR(run(m->def, m, "attn", f, 3), "(Tensor[5, 3, 8], Tensor[3, 5, 6])");
	CHECK(last_macs == 5664);
	module_free(m);
}

static void test_describe(void)
{
	CHECK_STR(describe("Conv2d", "in_channels=3 out_channels=64 kernel_size=7 stride=2 "
	                             "padding=3 bias=False"),
	          "3→64 k7 s2 p3 no bias");
	CHECK_STR(describe("Conv2d", "in_channels=32 out_channels=32 kernel_size=3 padding=1 "
	                             "groups=32"),
	          "32→32 k3 p1 dw");
	CHECK_STR(describe("Conv2d", "in_channels=128 out_channels=128 kernel_size=3 groups=32 "
	                             "dilation=2 stride=(2, 1)"),
	          "128→128 k3 s2x1 d2 g32");
	CHECK_STR(describe("Conv2d", "in_channels=8 out_channels=8 kernel_size=(1, 7) "
	                             "padding='same'"),
	          "8→8 k1x7 same");
	CHECK_STR(describe("Linear", "in_features=512 out_features=1000"), "512→1000");
	CHECK_STR(describe("BatchNorm2d", "num_features=64"), "64");
	CHECK_STR(describe("Dropout", "p=0.5"), "p=0.5");
	CHECK_STR(describe("MaxPool2d", "kernel_size=3 stride=2 padding=1"), "k3 s2 p1");
	CHECK_STR(describe("AvgPool2d", "kernel_size=2 ceil_mode=True"), "k2 s2 ceil");
	CHECK_STR(describe("AdaptiveAvgPool2d", "output_size=1"), "→1x1");
	CHECK_STR(describe("AdaptiveAvgPool2d", "output_size=(None, 7)"), "→*x7");
	CHECK_STR(describe("GELU", "approximate='tanh'"), "tanh");
	CHECK_STR(describe("GELU", ""), "");
	CHECK_STR(describe("LayerNorm", "normalized_shape=768"), "768");
	CHECK_STR(describe("GroupNorm", "num_groups=8 num_channels=64"), "64 g8");
	CHECK_STR(describe("MultiheadAttention", "embed_dim=768 num_heads=12"), "768, 12 heads");
	CHECK_STR(describe("StochasticDepth", "p=0.1 mode='row'"), "p=0.1 row");
	CHECK_STR(describe("Permute", "dims=[0, 2, 3, 1]"), "(0, 2, 3, 1)");
}

/* ---- functions ---- */

static void test_arithmetic(void)
{
	CHECK_STR(fn("add", 2, T("5x1x4"), T("3x1")), "[5, 3, 4]");
	CHECK_STR(fn("mul", 2, T("1x64x1x1"), T("8x64x7x7")), "[8, 64, 7, 7]");
	CHECK_STR(fn("mul", 2, value_int(16), T("1x3x49x49")), "[1, 3, 49, 49]");
	CHECK_STR(fn("add", 2, T("2x3"), value_float(0.5)), "[2, 3]");
	CHECK_STR(fn("add", 2, TI("2x3"), value_float(0.5)), "[2, 3]");
	CHECK(last.u.tensor.t.dtype == DT_F32);
	CHECK_STR(fn("truediv", 2, TI("4"), value_int(2)), "[4]");
	CHECK(last.u.tensor.t.dtype == DT_F32);
	CHECK_STR(fn("add", 2, TI("4"), value_int(2)), "[4]");
	CHECK(last.u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("eq", 2, T("4"), T("1")), "[4]");
	CHECK(last.u.tensor.t.dtype == DT_BOOL);
	CHECK_STR(fn("add", 2, T("1x64x56x56"), T("1x128x28x28")),
	          "add: cannot broadcast [1, 64, 56, 56] with [1, 128, 28, 28] (from the model "
	          "input and the model input)");
	CHECK(err.kind == ERR_SHAPE);
	/* Python ints */
	CHECK_STR(fn("floordiv", 2, value_int(224), value_int(16)), "14");
	CHECK_STR(fn("floordiv", 2, value_int(-7), value_int(2)), "-4");
	CHECK_STR(fn("mod", 2, value_int(-7), value_int(2)), "1");
	CHECK_STR(fn("mod", 2, value_int(7), value_int(-2)), "-1");
	CHECK_STR(fn("truediv", 2, value_int(7), value_int(2)), "3.5");
	CHECK_STR(fn("mul", 2, value_int(14), value_int(14)), "196");
	CHECK_STR(fn("sub", 2, value_int(3), value_int(5)), "-2");
	CHECK_STR(fn("pow", 2, value_int(2), value_int(10)), "1024");
	CHECK_STR(fn("pow", 2, value_int(32), value_float(-0.5)), "0.1767766952966369");
	CHECK_STR(fn("add", 2, value_int(1), value_float(0.5)), "1.5");
	CHECK_STR(fn("neg", 1, value_int(3)), "-3");
	CHECK_STR(fn("eq", 2, value_int(3), value_int(3)), "True");
	CHECK_STR(fn("lt", 2, value_int(3), value_int(3)), "False");
	CHECK_STR(fn("add", 2, P("(1, 2)"), P("(3,)")), "(1, 2, 3)");
	CHECK_STR(fn("mul", 2, P("(7,)"), value_int(2)), "(7, 7)");
	CHECK_STR(fn("floordiv", 2, value_int(1), value_int(0)),
	          "floordiv: integer division by zero");
	CHECK_STR(fn("mul", 2, value_int(INT64_MAX), value_int(2)),
	          "mul: integer overflow in mul()");
	CHECK_STR(fn("add", 2, T("2"), P("'a'")), "add: add() cannot combine a tensor with 'a'");
	CHECK(err.kind == ERR_INPUT);
	CHECK_STR(fn("_assert", 2, value_bool(true), P("'fine'")), "None");
	CHECK_STR(fn("_assert", 2, value_bool(false), P("'Wrong image height!'")),
	          "_assert: assertion failed: Wrong image height!");
}

static void test_matmul(void)
{
	CHECK_STR(fn("matmul", 2, T("3"), T("3")), "[]");
	CHECK(last_macs == 3);
	CHECK_STR(fn("matmul", 2, T("2x3"), T("3")), "[2]");
	CHECK_STR(fn("matmul", 2, T("3"), T("3x4")), "[4]");
	CHECK_STR(fn("matmul", 2, T("10x1x2x3"), T("5x3x4")), "[10, 5, 2, 4]");
	CHECK(last_macs == 1200);
	CHECK_STR(fn("matmul", 2, T("2x3"), T("4x5")),
	          "matmul: cannot multiply [2, 3] with [4, 5] (from the model input and the model "
	          "input)");
	CHECK_STR(fn("bmm", 2, T("4x2x3"), T("4x3x5")), "[4, 2, 5]");
	CHECK(last_macs == 4 * 2 * 5 * 3);
	CHECK_STR(fn("einsum", 3, P("'bij,bjk->bik'"), T("2x3x4"), T("2x4x5")), "[2, 3, 5]");
	CHECK(last_macs == 120);
	CHECK_STR(fn("einsum", 3, P("'B G H I D, B G H J D -> B G H I J'"), T("1x4x2x5x8"),
	             T("1x4x2x6x8")),
	          "[1, 4, 2, 5, 6]");
	CHECK(last_macs == 1 * 4 * 2 * 5 * 6 * 8);
	CHECK_STR(fn("einsum", 2, P("'ij'"), T("2x3")), "[2, 3]");
	CHECK_STR(fn("einsum", 2, P("'ba'"), T("2x3")), "[3, 2]");
	CHECK_STR(fn("einsum", 3, P("'...ij,jk'"), T("7x2x3"), T("3x4")), "[7, 2, 4]");
	CHECK_STR(fn("einsum", 2, P("'ij,jk'"), TUP(2, T("2x3"), T("3x4"))), "[2, 4]");
	CHECK_STR(fn("einsum", 3, P("'ij,jk->ik'"), T("2x3"), T("4x5")),
	          "einsum: einsum(): subscript j has size 4 in operand 2, but 3 before");
	CHECK_STR(fn("einsum", 2, P("'ij->ii'"), T("2x3")),
	          "einsum: einsum(): cannot use equation 'ij->ii' with 1 operand");
	CHECK_STR(fn("einsum", 2, P("'ij->ik'"), T("2x3")),
	          "einsum: einsum(): cannot use equation 'ij->ik' with 1 operand");
}

static void test_functions(void)
{
	/* elementwise: dtypes follow PyTorch */
	CHECK_STR(fn("sqrt", 1, TI("2x3")), "[2, 3]");
	CHECK(last.u.tensor.t.dtype == DT_F32);
	CHECK_STR(fn("abs", 1, TI("2")), "[2]");
	CHECK(last.u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("sqrt", 1, value_int(16)), "4.0");
	CHECK_STR(fn("floor", 1, value_float(2.5)), "2");
	CHECK_STR(fn("where", 3, T("4x1"), T("3"), value_float(0)), "[4, 3]");
	CHECK_STR(fn("maximum", 2, TI("2x1"), T("3")), "[2, 3]");
	CHECK(last.u.tensor.t.dtype == DT_F32);
	CHECK_STR(fn("masked_fill", 3, T("2x3"), T("3"), value_float(0)),
	          "masked_fill: masked_fill() only supports boolean masks, but got mask with dtype "
	          "float32");
	CHECK_STR(fn("logical_and", 2, T("2"), T("2")), "[2]");
	CHECK(last.u.tensor.t.dtype == DT_BOOL);
	CHECK_STR(fn("and_", 2, value_int(6), value_int(3)), "2");
	CHECK_STR(fn("clamp", 2, TI("3"), value_int(1)), "[3]");
	CHECK(last.u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("long", 1, T("3")), "[3]");
	CHECK(last.u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("type", 2, TI("3"), (struct value){.kind = VAL_DTYPE, .u.dtype = DT_F32}), "[3]");
	CHECK(last.u.tensor.t.dtype == DT_F32);
	/* reductions */
	CHECK_STR(fn("max", 2, T("2x3x4"), value_int(-1)), "(Tensor[2, 3], Tensor[2, 3])");
	CHECK(last.u.list.items[1].u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("getattr", 2, value_copy(&last), P("'indices'")), "[2, 3]");
	CHECK_STR(fn("max", 1, T("2x3")), "[]");
	CHECK_STR(fn("max", 2, value_int(2), value_int(5)), "5");
	kw("keepdim", value_bool(true));
	CHECK_STR(fn("argmax", 2, T("2x3"), value_int(1)), "[2, 1]");
	CHECK(last.u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("var", 2, T("2x3"), value_bool(false)), "[]");
	CHECK_STR(fn("norm", 3, T("2x3"), P("'fro'"), value_int(0)), "[3]");
	CHECK_STR(fn("logsumexp", 1, T("2x3")), "logsumexp: logsumexp() needs a dim");
	CHECK_STR(fn("sum", 2, TI("2x3"), value_int(0)), "[3]");
	CHECK(last.u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("cumsum", 2, T("2x3"), value_int(-1)), "[2, 3]");
	/* creation */
	CHECK_STR(fn("arange", 1, value_int(5)), "[5]");
	CHECK(last.u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("arange", 3, value_int(0), value_int(5), value_float(0.5)), "[10]");
	CHECK(last.u.tensor.t.dtype == DT_F32);
	CHECK_STR(fn("zeros", 2, value_int(2), value_int(3)), "[2, 3]");
	CHECK_STR(fn("ones", 1, P("(4, 1)")), "[4, 1]");
	CHECK_STR(fn("full", 2, P("(2,)"), value_int(7)), "[2]");
	CHECK(last.u.tensor.t.dtype == DT_I64);
	CHECK_STR(fn("eye", 1, value_int(3)), "[3, 3]");
	CHECK_STR(fn("zeros", 2, value_int(2), value_int(-1)), "zeros: zeros(): negative dimension -1");
	/* rearranging and indexing */
	CHECK_STR(fn("repeat", 3, T("2x3"), value_int(2), value_int(1)), "[4, 3]");
	CHECK_STR(fn("repeat", 2, T("2x3"), value_int(2)),
	          "repeat: Number of dimensions of repeat dims can not be smaller than number of "
	          "dimensions of tensor");
	CHECK_STR(fn("repeat_interleave", 3, T("2x3"), value_int(2), value_int(-1)), "[2, 6]");
	CHECK_STR(fn("movedim", 3, T("2x3x4"), value_int(0), value_int(-1)), "[3, 4, 2]");
	CHECK_STR(fn("t", 1, T("2x3")), "[3, 2]");
	CHECK_STR(fn("narrow", 4, T("5x6"), value_int(1), value_int(-2), value_int(2)), "[5, 2]");
	CHECK_STR(fn("narrow", 4, T("5x6"), value_int(1), value_int(4), value_int(3)),
	          "narrow: narrow(): start 4 + length 3 exceeds dimension size 6");
	CHECK_STR(fn("gather", 3, T("4x5"), value_int(1), TI("4x2")), "[4, 2]");
	CHECK_STR(fn("gather", 3, T("4x5"), value_int(1), T("4x2")),
	          "gather: gather(): the index must be an int64 tensor, got float32");
	CHECK_STR(fn("index_select", 3, T("4x5"), value_int(0), TI("7")), "[7, 5]");
	CHECK_STR(fn("tril", 1, T("3")),
	          "tril: tril gets a 1-D input (needs at least 2-D) from the model input");
	CHECK_STR(fn("getattr", 2, T("2x3x4"), P("'mT'")), "[2, 4, 3]");
	CHECK_STR(fn("getitem", 2, T("4x5"), TUP(2, SL("::"), P("(1, 3)"))), "[4, 2]");
	struct value mask = T("4");
	mask.u.tensor.t.dtype = DT_BOOL;
	CHECK_STR(fn("getitem", 2, T("4x5"), mask),
	          "getitem: boolean mask indexing has no static shape");
	CHECK_STR(fn("getitem", 2, T("4x5"), SL("::-1")),
	          "getitem: slice step must be greater than zero");
	/* products and distances, with mult-adds */
	CHECK_STR(fn("mm", 2, T("2x3"), T("3x4")), "[2, 4]");
	CHECK(last_macs == 24);
	CHECK_STR(fn("baddbmm", 3, T("1x4"), T("5x2x3"), T("5x3x4")), "[5, 2, 4]");
	CHECK(last_macs == 5 * 2 * 4 * 3);
	CHECK_STR(fn("addmm", 3, T("5"), T("2x3"), T("3x4")),
	          "addmm: cannot add [5] with [2, 3] (from the model input and the model input)");
	CHECK_STR(fn("outer", 2, T("3"), T("4")), "[3, 4]");
	CHECK_STR(fn("cosine_similarity", 2, T("4x8"), T("1x8")), "[4]");
	CHECK_STR(fn("pairwise_distance", 2, T("4x8"), T("4x8")), "[4]");
	CHECK_STR(fn("cdist", 2, T("2x5x3"), T("2x6x3")), "[2, 5, 6]");
	CHECK_STR(mod("Bilinear", "in1_features=3 in2_features=5 out_features=2", "4x3"),
	          "m: Bilinear() needs a tensor for 'input2'");
	CHECK_STR(mod("CosineSimilarity", "dim=0", "4x3"),
	          "m: CosineSimilarity() needs a tensor for 'x2'");
}

static void test_getitem(void)
{
	CHECK_STR(fn("getitem", 2, P("(1, 3, 224, 224)"), value_int(0)), "1");
	CHECK_STR(fn("getitem", 2, P("(1, 3, 224, 224)"), value_int(-1)), "224");
	CHECK_STR(fn("getitem", 2, P("(1, 3, 224, 224)"), SL("-3:")), "(3, 224, 224)");
	CHECK_STR(fn("getitem", 2, P("(1, 2, 3, 4)"), SL("::-2")), "(4, 2)");
	CHECK_STR(fn("getitem", 2, P("(1, 2)"), value_int(2)),
	          "getitem: tuple index 2 out of range for 2 items");
	CHECK_STR(fn("getitem", 2, TUP(2, T("1x8"), value_none()), value_int(0)), "[1, 8]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(2, SL(":"), value_int(0))), "[2, 4, 5]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(3, ELL(), SL("1::2"), value_none())),
	          "[2, 3, 4, 2, 1]");
	CHECK_STR(
	    fn("getitem", 2, T("2x3x4x5"), TUP(4, value_int(-1), SL(":"), SL("-2:"), SL("::3"))),
	    "[3, 2, 2]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(3, value_none(), ELL(), value_int(0))),
	          "[1, 2, 3, 4]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(2, SL(":"), SL("1:100"))), "[2, 2, 4, 5]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(2, SL(":"), SL("5:"))), "[2, 0, 4, 5]");
	CHECK_STR(fn("getitem", 2, T("1x197x768"), TUP(2, SL(":"), value_int(0))), "[1, 768]");
	CHECK_STR(fn("getitem", 2, T("1x7x9x96"), TUP(4, ELL(), SL("0::2"), SL("1::2"), SL(":"))),
	          "[1, 4, 4, 96]");
	CHECK_STR(fn("getitem", 2, T("2x3"), value_int(5)),
	          "getitem: index 5 is out of bounds for dimension 0 with size 2");
	CHECK_STR(fn("getitem", 2, T("2x3"), TUP(3, value_int(0), value_int(0), value_int(0))),
	          "getitem: too many indices for tensor of dimension 2");
	CHECK_STR(fn("getitem", 2, T("2x3"), TUP(2, ELL(), ELL())),
	          "getitem: an index can only have a single ellipsis ('...')");
	CHECK_STR(fn("getitem", 2, T("1x2x3x4x5x6x7x8"), TUP(2, value_none(), ELL())),
	          "getitem: indexing gives too many dimensions");
	CHECK_STR(fn("getitem", 2, T("1x2x3x4x5x6x7x8"), TUP(2, ELL(), value_int(0))),
	          "[1, 2, 3, 4, 5, 6, 7]");
	/* integer tensor indices */
	CHECK_STR(fn("getitem", 2, T("169x3"), TI("2401")), "[2401, 3]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(2, SL(":"), TI("7"))), "[2, 7, 4, 5]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(3, TI("7"), SL(":"), TI("7"))), "[7, 3, 5]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(3, SL(":"), TI("7"), TI("7"))), "[2, 7, 5]");
	CHECK_STR(fn("getitem", 2, T("2x3x4x5"), TUP(3, SL(":"), value_int(0), TI("7"))),
	          "[2, 7, 5]");
}

static void test_shape_queries(void)
{
	CHECK_STR(fn("getattr", 2, T("1x3x224x224"), P("'shape'")), "(1, 3, 224, 224)");
	CHECK_STR(fn("getattr", 2, T("1x3"), P("'ndim'")), "2");
	CHECK_STR(fn("size", 1, T("1x3x224x224")), "(1, 3, 224, 224)");
	CHECK_STR(fn("size", 2, T("1x3x224x224"), value_int(-1)), "224");
	CHECK_STR(fn("size", 2, T("1x3"), value_int(2)),
	          "size: dimension out of range (expected to be in range of [-2, 1], but got 2)");
	CHECK_STR(fn("size", 2, T(""), value_int(0)),
	          "size: dimension specified as 0 but tensor has no dimensions");
	CHECK_STR(fn("dim", 1, T("1x3x7")), "3");
	CHECK_STR(fn("numel", 1, T("1x3x7")), "21");
}

static void test_view_reshape(void)
{
	CHECK_STR(fn("view", 3, T("2x3x4x5"), value_int(-1), value_int(20)), "[6, 20]");
	CHECK_STR(fn("reshape", 2, T("2x3x4x5"), P("(6, -1, 5)")), "[6, 4, 5]");
	CHECK_STR(fn("view", 3, T("2x3x4x5"), value_int(2), value_int(-1)), "[2, 60]");
	CHECK_STR(fn("reshape", 4, T("1x768x14x14"), value_int(1), value_int(768), value_int(196)),
	          "[1, 768, 196]");
	CHECK_STR(fn("view", 2, T("2x3"), P("()")),
	          "view: shape '[]' is invalid for input of size 6 ([2, 3] from the model input)");
	CHECK_STR(fn("view", 2, T("1x1x1"), P("()")), "[]");
	CHECK_STR(fn("view", 3, T("2x3"), value_int(4), value_int(-1)),
	          "view: shape '[4, -1]' is invalid for input of size 6 ([2, 3] from the model "
	          "input)");
	CHECK(err.kind == ERR_SHAPE);
	CHECK_STR(fn("view", 3, T("2x3"), value_int(-1), value_int(-1)),
	          "view: only one dimension can be inferred");
	kw("shape", P("(3, 2)"));
	CHECK_STR(fn("reshape", 1, T("2x3")), "[3, 2]");
	CHECK_STR(fn("flatten", 2, T("1x512x7x7"), value_int(1)), "[1, 25088]");
	CHECK_STR(fn("flatten", 4, T("2x3x4x5"), value_int(1), value_int(2)), "[2, 12, 5]");
	CHECK_STR(fn("flatten", 1, T("")), "[1]");
	CHECK_STR(fn("flatten", 3, T("2x3x4"), value_int(2), value_int(1)),
	          "flatten: flatten() has invalid args: start_dim cannot come after end_dim");
}

static void test_layout(void)
{
	CHECK_STR(fn("permute", 4, T("1x768x196"), value_int(0), value_int(2), value_int(1)),
	          "[1, 196, 768]");
	CHECK_STR(fn("permute", 2, T("1x2x3x4"), P("(0, -1, 1, 2)")), "[1, 4, 2, 3]");
	CHECK_STR(fn("permute", 2, T("1x2x3"), P("(0, 0, 1)")),
	          "permute: permute(): repeated dim 0");
	CHECK_STR(fn("transpose", 3, T("2x3x4"), value_int(1), value_int(-1)), "[2, 4, 3]");
	CHECK_STR(fn("transpose", 3, T("2x3"), value_int(0), value_int(3)),
	          "transpose: dimension out of range (expected to be in range of [-2, 1], but got "
	          "3)");
	CHECK_STR(fn("swapaxes", 3, T("2x3x4"), value_int(-2), value_int(-1)), "[2, 4, 3]");
	CHECK_STR(fn("unsqueeze", 2, T("2x3"), value_int(-1)), "[2, 3, 1]");
	CHECK_STR(fn("unsqueeze", 2, T("2x3"), value_int(0)), "[1, 2, 3]");
	CHECK_STR(fn("squeeze", 1, T("1x3x1x2")), "[3, 2]");
	CHECK_STR(fn("squeeze", 2, T("1x3x1x2"), value_int(2)), "[1, 3, 2]");
	CHECK_STR(fn("squeeze", 2, T("1x3x1x2"), value_int(1)), "[1, 3, 1, 2]");
	CHECK_STR(fn("expand", 4, T("1x1x768"), value_int(4), value_int(-1), value_int(-1)),
	          "[4, 1, 768]");
	CHECK_STR(fn("expand", 2, T("3x1"), P("(2, 3, 4)")), "[2, 3, 4]");
	CHECK_STR(fn("expand", 3, T("2x3"), value_int(2), value_int(5)),
	          "expand: the expanded size of the tensor (5) must match the existing size (3) "
	          "at non-singleton dimension 1: target sizes [2, 5], tensor sizes [2, 3]");
	CHECK_STR(fn("contiguous", 1, T("2x3")), "[2, 3]");
	CHECK_STR(fn("cat", 2, TUP(2, T("1x64x56x56"), T("1x32x56x56")), value_int(1)),
	          "[1, 96, 56, 56]");
	CHECK_STR(fn("cat", 2, TUP(2, T("1x1x768"), T("1x196x768")), value_int(-2)),
	          "[1, 197, 768]");
	CHECK_STR(fn("cat", 2, TUP(2, T("1x64x56x56"), T("1x32x28x28")), value_int(1)),
	          "cat: cannot concatenate [1, 64, 56, 56] with [1, 32, 28, 28] along dim 1 (from "
	          "the model input and the model input)");
	kw("dim", value_int(-1));
	CHECK_STR(fn("stack", 1, TUP(2, T("2x3"), T("2x3"))), "[2, 3, 2]");
	CHECK_STR(fn("chunk", 3, T("1x10"), value_int(3), value_int(1)),
	          "(Tensor[1, 4], Tensor[1, 4], Tensor[1, 2])");
	CHECK_STR(fn("chunk", 2, T("6"), value_int(4)), "(Tensor[2], Tensor[2], Tensor[2])");
	kw("dim", value_int(1));
	CHECK_STR(fn("chunk", 2, T("1x116x28x28"), value_int(2)),
	          "(Tensor[1, 58, 28, 28], Tensor[1, 58, 28, 28])");
	CHECK_STR(fn("split", 2, T("10"), value_int(4)), "(Tensor[4], Tensor[4], Tensor[2])");
	CHECK_STR(fn("split", 3, T("2x12"), P("(4, 8)"), value_int(1)),
	          "(Tensor[2, 4], Tensor[2, 8])");
	CHECK_STR(fn("split", 3, T("2x12"), P("(4, 4)"), value_int(1)),
	          "split: split_with_sizes expects split_sizes to sum exactly to 12 (input "
	          "tensor's size at dimension 1), but got split_sizes=(4, 4)");
	CHECK_STR(fn("unbind", 1, T("3x2")), "(Tensor[2], Tensor[2], Tensor[2])");
	CHECK_STR(fn("mean", 2, T("2x3x4x5"), P("[2, 3]")), "[2, 3]");
	kw("keepdim", value_bool(true));
	CHECK_STR(fn("mean", 2, T("2x3x4x5"), P("(-1, 1)")), "[2, 1, 4, 1]");
	CHECK_STR(fn("sum", 1, T("2x3")), "[]");
	CHECK_STR(fn("mean", 2, T("2x3"), P("(1, -1)")),
	          "mean: dim 1 appears multiple times in the list of dims");
	CHECK_STR(fn("pad", 2, T("1x7x9x3"), P("(0, 0, 0, 1, 0, 1)")), "[1, 8, 10, 3]");
	CHECK_STR(fn("pad", 2, T("1x7"), P("(1, 2, 3)")),
	          "pad: pad(): padding length must be even and at most twice the input's rank, "
	          "got 3 for a 2-D input");
	kw("dims", P("(1, 2)"));
	CHECK_STR(fn("roll", 2, T("1x56x56x96"), P("(-3, -3)")), "[1, 56, 56, 96]");
	CHECK_STR(fn("channel_shuffle", 2, T("1x116x28x28"), value_int(2)), "[1, 116, 28, 28]");
	CHECK_STR(fn("channel_shuffle", 2, T("1x10x28x28"), value_int(3)),
	          "channel_shuffle: channel_shuffle(groups=3) gets 10 channels (not divisible) "
	          "from the model input");
}

static void test_elementwise_and_layers(void)
{
	static const char *const same[] = {"relu",      "relu6", "silu", "sigmoid", "hardsigmoid",
	                                   "hardswish", "tanh",  "gelu", "dropout", "clone"};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++)
		CHECK_STR(fn(same[i], 1, T("2x3x4")), "[2, 3, 4]");
	CHECK_STR(fn("dropout", 2, T("2"), value_float(1.5)),
	          "dropout: dropout probability has to be between 0 and 1, but got 1.5");
	CHECK_STR(fn("softmax", 2, T("2x3"), value_int(-1)), "[2, 3]");
	CHECK(op_softmax_default_dim(1) == 0 && op_softmax_default_dim(2) == 1 &&
	      op_softmax_default_dim(3) == 0 && op_softmax_default_dim(4) == 1);
	CHECK_STR(fn("stochastic_depth", 3, T("2x3"), value_float(0.1), P("'row'")), "[2, 3]");
	CHECK_STR(fn("stochastic_depth", 3, T("2x3"), value_float(0.1), P("'col'")),
	          "stochastic_depth: stochastic_depth(): mode has to be either 'batch' or 'row'");
	CHECK_STR(fn("adaptive_avg_pool2d", 2, T("1x1024x7x7"), P("(1, 1)")), "[1, 1024, 1, 1]");
	CHECK_STR(fn("adaptive_avg_pool2d", 2, T("1x1024x7x7"), value_int(2)), "[1, 1024, 2, 2]");
	kw("stride", value_int(1));
	CHECK_STR(fn("avg_pool2d", 2, T("1x192x35x35"), value_int(3)), "[1, 192, 33, 33]");
	kw("padding", value_int(1));
	kw("stride", value_int(1));
	CHECK_STR(fn("avg_pool2d", 2, T("1x192x35x35"), value_int(3)), "[1, 192, 35, 35]");
	kw("stride", value_int(2));
	CHECK_STR(fn("max_pool2d", 2, T("1x288x35x35"), value_int(3)), "[1, 288, 17, 17]");
	kw("ceil_mode", value_bool(true));
	CHECK_STR(fn("max_pool2d", 3, T("1x64x112x112"), value_int(3), value_int(2)),
	          "[1, 64, 56, 56]");
	CHECK_STR(
	    fn("max_pool2d", 4, T("1x1x9x9"), value_int(3), value_int(1), value_int(2)),
	    "max_pool2d: max_pool2d(): pad should be at most half of kernel size, but got pad=2 "
	    "and kernel_size=3");
	kw("stride", value_int(2));
	CHECK_STR(fn("max_pool2d", 2, T("1x8x2x2"), value_int(3)),
	          "max_pool2d: max_pool2d(kernel_size=(3, 3), stride=(2, 2)) gets a 2x2 input "
	          "(output would be 0x0) from the model input");
	CHECK_STR(fn("conv2d", 2, T("1x3x4x4"), T("8x3x7x7")),
	          "conv2d: conv2d(weight [8, 3, 7, 7]) gets a 4x4 input (too small) from the model "
	          "input");
	CHECK_STR(fn("linear", 3, T("2x5"), T("7x5"), T("7")), "[2, 7]");
	CHECK(last_macs == 70);
	CHECK_STR(fn("linear", 2, T("2x4"), T("7x5")),
	          "linear: linear(weight [7, 5]) gets 4 features from the model input");
	kw("stride", value_int(2));
	kw("padding", value_int(3));
	CHECK_STR(fn("conv2d", 2, T("1x3x224x224"), T("64x3x7x7")), "[1, 64, 112, 112]");
	CHECK(last_macs == 118013952);
	kw("groups", value_int(2));
	CHECK_STR(fn("conv2d", 2, T("1x6x8x8"), T("4x3x3x3")), "[1, 4, 6, 6]");
	kw("padding", P("'same'"));
	CHECK_STR(fn("conv2d", 2, T("1x6x8x8"), T("4x6x3x3")), "[1, 4, 8, 8]");
	CHECK_STR(fn("conv2d", 2, T("1x5x8x8"), T("4x6x3x3")),
	          "conv2d: conv2d(weight [4, 6, 3, 3], groups=1) gets 5 channels from the model "
	          "input");
	CHECK_STR(fn("layer_norm", 2, T("1x197x768"), P("(768,)")), "[1, 197, 768]");
	CHECK_STR(
	    fn("layer_norm", 2, T("1x197x768"), P("(512,)")),
	    "layer_norm: layer_norm(normalized_shape=[512]) gets [1, 197, 768] from the model "
	    "input");
	CHECK_STR(fn("scaled_dot_product_attention", 3, T("2x4x5x8"), T("2x4x6x8"), T("2x4x6x3")),
	          "[2, 4, 5, 3]");
	CHECK(last_macs == 2 * 4 * 5 * 6 * (8 + 3));
}

static void test_swin(void)
{
	CHECK_STR(fn("_patch_merging_pad", 1, T("1x7x9x96")), "[1, 4, 5, 384]");
	CHECK_STR(fn("_patch_merging_pad", 1, T("1x56x56x96")), "[1, 28, 28, 384]");
	CHECK_STR(fn("_get_relative_position_bias", 3, T("169x3"), TI("2401"), P("[7, 7]")),
	          "[1, 3, 49, 49]");
	CHECK_STR(fn("_get_relative_position_bias", 3, T("169x3"), TI("2400"), P("[7, 7]")),
	          "_get_relative_position_bias: _get_relative_position_bias(window_size=(7, 7)) "
	          "gets an index [2400] from the model input");
	kw("shift_size", P("[3, 3]"));
	CHECK_STR(fn("shifted_window_attention", 6, T("1x56x56x96"), T("288x96"), T("96x96"),
	             T("1x3x49x49"), P("[7, 7]"), value_int(3)),
	          "[1, 56, 56, 96]");
	CHECK(last_macs == 145108992);
	/* padded windows, Swin V2's logit_scale */
	kw("logit_scale", T("4x1x1"));
	CHECK_STR(fn("shifted_window_attention", 7, T("2x10x13x32"), T("96x32"), T("32x32"),
	             T("1x4x16x16"), P("[4, 4]"), value_int(4), P("[2, 2]")),
	          "[2, 10, 13, 32]");
	CHECK(last_macs == 1966080);
	CHECK_STR(fn("shifted_window_attention", 7, T("1x56x56x128"), T("288x96"), T("96x96"),
	             T("1x3x49x49"), P("[7, 7]"), value_int(4), P("[0, 0]")),
	          "shifted_window_attention: shifted_window_attention(qkv_weight [288, 96]) gets "
	          "128 channels from the model input");
}

/* ---- helpers and messages ---- */

static void test_window_out(void)
{
	CHECK(op_window_out(224, 7, 2, 3, 3, 1, false) == 112);
	CHECK(op_window_out(56, 3, 2, 0, 0, 1, true) == 28);
	CHECK(op_window_out(55, 3, 2, 0, 0, 1, true) == 27);
	CHECK(op_window_out(55, 3, 2, 0, 0, 1, false) == 27);
	CHECK(op_window_out(56, 3, 2, 0, 0, 1, false) == 27);
	CHECK(op_window_out(8, 3, 3, 1, 1, 1, true) == 3);
	CHECK(op_window_out(2, 3, 2, 0, 0, 1, false) == 0);
	CHECK(op_window_out(1, 7, 1, 0, 0, 1, false) < 1);
	CHECK(op_window_out(10, 3, 1, 0, 0, 2, false) == 6);
	CHECK(op_window_out(INT64_MAX, 3, 1, 1, 1, 1, false) == INT64_MIN);
	CHECK(op_window_out(10, 3, 0, 0, 0, 1, false) == INT64_MIN);
	CHECK(op_window_out(10, 3, 1, 0, 0, INT64_MAX, false) == INT64_MIN);
	CHECK(op_window_out(10, 2, 1, 0, 0, INT64_MAX, false) < 1);
}

/* A tree root -> layer1 -> 0 -> {conv1, bn2}, layer2 -> 0 -> conv1. */
static struct module *tree(void)
{
	struct module *root = module_new("", "ResNet");
	struct module *l1 = module_new("layer1", "Sequential"), *b1 = module_new("0", "BasicBlock");
	struct module *l2 = module_new("layer2", "Sequential"), *b2 = module_new("0", "BasicBlock");
	module_add_child(root, l1);
	module_add_child(l1, b1);
	module_add_child(b1, mk_named("conv1", "Conv2d",
	                              "in_channels=64 out_channels=64 "
	                              "kernel_size=3 padding=1"));
	module_add_child(b1, mk_named("bn2", "BatchNorm2d", "num_features=64"));
	module_add_child(root, l2);
	module_add_child(l2, b2);
	module_add_child(b2, mk_named("conv1", "Conv2d",
	                              "in_channels=64 out_channels=128 "
	                              "kernel_size=3 stride=2 padding=1"));
	module_add_child(root, mk_named("avgpool", "AdaptiveAvgPool2d", "output_size=1"));
	module_add_child(root, mk_named("fc", "Linear", "in_features=1024 out_features=10"));
	return root;
}

static void test_origin_describe(void)
{
	struct module *root = tree();
	struct graph_node add = {.name = "add"}, flat = {.name = "flatten"};
	char buf[256];
	struct value v = T("1x64x56x56");
	origin_describe(&v, buf, sizeof buf);
	CHECK_STR(buf, "the model input");
	v.u.tensor.origin.module = module_find(root, "layer2.0.conv1");
	origin_describe(&v, buf, sizeof buf);
	CHECK_STR(buf, "layer2.0.conv1 (out_channels=128)");
	v.u.tensor.origin.module = module_find(root, "layer1.0.bn2");
	origin_describe(&v, buf, sizeof buf);
	CHECK_STR(buf, "layer1.0.bn2");
	v.u.tensor.origin.module = module_find(root, "layer1");
	origin_describe(&v, buf, sizeof buf);
	CHECK_STR(buf, "layer1");
	v.u.tensor.origin.module = module_find(root, "layer1.0");
	v.u.tensor.origin.node = &add;
	origin_describe(&v, buf, sizeof buf);
	CHECK_STR(buf, "add (in layer1.0)");
	v.u.tensor.origin.module = root;
	v.u.tensor.origin.node = &flat;
	origin_describe(&v, buf, sizeof buf);
	CHECK_STR(buf, "flatten");
	value_free(&v);
	module_free(root);
}

/* Calls module `path` of root on x (taken over); the result stays in last. */
static const char *call_in(struct module *root, const char *path, struct value x)
{
	struct module *m = module_find(root, path);
	if (!m || !m->def)
		return "(no module)";
	return run(m->def, m, path, &x, 1);
}

static void test_break_messages(void)
{
	struct module *root = tree();
	/* A chain: conv1 makes 64 channels, a mismatching norm names it... */
	struct module *seq = module_new("", "Sequential");
	module_add_child(seq, mk_named("conv1", "Conv2d",
	                               "in_channels=3 out_channels=8 "
	                               "kernel_size=3 padding=1 bias=False"));
	module_add_child(seq, mk_named("relu", "ReLU", ""));
	module_add_child(seq, mk_named("bn1", "BatchNorm2d", "num_features=16"));
	CHECK_STR(call_in(seq, "conv1", T("1x3x16x16")), "[1, 8, 16, 16]");
	struct value x = last;
	last = value_none();
	CHECK_STR(call_in(seq, "relu", x), "[1, 8, 16, 16]");
	x = last;
	last = value_none();
	CHECK_STR(call_in(seq, "bn1", x),
	          "bn1: BatchNorm2d(num_features=16) gets 8 channels from conv1 (out_channels=8)");
	CHECK(err.kind == ERR_SHAPE);

	/* ...even when its output has its input's shape (64 -> 64). */
	CHECK_STR(call_in(root, "layer1.0.conv1", T("1x64x56x56")), "[1, 64, 56, 56]");
	CHECK(last.u.tensor.origin.module == module_find(root, "layer1.0.conv1"));
	x = last;
	last = value_none();
	CHECK_STR(call_in(root, "layer1.0.bn2", x), "[1, 64, 56, 56]");
	CHECK(last.u.tensor.origin.module == module_find(root, "layer1.0.conv1"));
	struct value a = last;
	last = value_none();
	CHECK_STR(call_in(root, "layer2.0.conv1", value_copy(&a)), "[1, 128, 28, 28]");
	struct value b = last;
	last = value_none();

	/* a function node in layer1.0's graph */
	struct graph_node add = {.name = "add"};
	struct value args[2] = {value_copy(&a), value_copy(&b)};
	struct op_call c = {.def = registry_function("add"),
	                    .owner = module_find(root, "layer1.0"),
	                    .node = &add,
	                    .path = "layer1.0:add",
	                    .args = args,
	                    .nargs = 2,
	                    .err = &err};
	error_clear(&err);
	CHECK(c.def->infer(&c) < 0);
	CHECK_STR(err.msg, "layer1.0:add: cannot broadcast [1, 64, 56, 56] with [1, 128, 28, 28] "
	                   "(from layer1.0.conv1 (out_channels=64) and layer2.0.conv1 "
	                   "(out_channels=128))");
	value_free(&c.out);
	value_free(&args[1]);
	args[1] = value_copy(&a);
	c.out = value_none();
	CHECK(c.def->infer(&c) == 0);
	/* a shape-preserving function keeps the origin */
	CHECK(c.out.u.tensor.origin.module == module_find(root, "layer1.0.conv1"));
	CHECK(c.out.u.tensor.origin.node == NULL);
	value_free(&c.out);
	value_free(&args[0]);
	value_free(&args[1]);

	/* avgpool -> flatten (a root function) -> fc names the pool */
	CHECK_STR(call_in(root, "avgpool", T("1x512x7x7")), "[1, 512, 1, 1]");
	struct graph_node flat = {.name = "flatten"};
	struct value fargs[2] = {last, value_int(1)};
	last = value_none();
	struct op_call f = {.def = registry_function("flatten"),
	                    .owner = root,
	                    .node = &flat,
	                    .path = "flatten",
	                    .args = fargs,
	                    .nargs = 2,
	                    .err = &err};
	CHECK(f.def->infer(&f) == 0);
	CHECK_STR(call_in(root, "fc", f.out),
	          "fc: Linear(in_features=1024) gets 512 features ([1, 512]) from avgpool");
	value_free(&fargs[0]);

	/* a reshape that changes the sizes names the function node */
	struct value rargs[3] = {T("1x512x7x7"), value_int(1), value_int(-1)};
	struct graph_node view = {.name = "view"};
	struct op_call r = {.def = registry_function("view"),
	                    .owner = module_find(root, "layer1.0"),
	                    .node = &view,
	                    .path = "layer1.0:view",
	                    .args = rargs,
	                    .nargs = 3,
	                    .err = &err};
	CHECK(r.def->infer(&r) == 0);
	CHECK_STR(call_in(root, "fc", r.out),
	          "fc: Linear(in_features=1024) gets 25088 features ([1, 25088]) from view (in "
	          "layer1.0)");
	value_free(&rargs[0]);

	value_free(&a);
	value_free(&b);
	module_free(seq);
	module_free(root);
}

static void test_malformed_calls(void)
{
	CHECK_STR(fn("relu", 0), "relu: relu() needs a tensor for 'input'");
	CHECK(err.kind == ERR_INPUT);
	CHECK_STR(fn("relu", 1, value_int(3)), "relu: relu() needs a tensor for 'input', got 3");
	CHECK_STR(fn("cat", 1, TUP(2, T("2"), value_int(1))), "cat: cat() needs tensors, got 1");
	CHECK_STR(fn("view", 2, T("2x3"), P("'a'")),
	          "view: view() needs an int or a tuple of ints for 'size', got 'a'");
	CHECK_STR(fn("getitem", 2, value_int(3), value_int(0)), "getitem: cannot index 3");
	CHECK_STR(fn("threshold", 2, T("2x3"), value_float(0.5)),
	          "threshold: threshold() needs value");
	CHECK_STR(fn("elu", 2, T("2x3"), P("'a'")), "elu: elu(): alpha must be a number");
	CHECK_STR(fn("hardtanh", 3, T("2x3"), value_float(-2), value_int(2)), "[2, 3]");
	CHECK_STR(fn("prelu", 2, T("2x3x4"), T("4")), "prelu: prelu(): 4 weights for 3 channels");
	CHECK_STR(fn("glu", 2, T("3x6"), value_int(0)),
	          "glu: glu halves dimension 0, whose size 3 is odd");
	CHECK_STR(fn("chunk", 2, T("4"), value_int(0)),
	          "chunk: chunk expects `chunks` to be greater than 0, got: 0");
	struct module *m = mk("Conv2d", "in_channels=3 out_channels=8 kernel_size=3");
	struct value none = value_int(7);
	CHECK_STR(run(m->def, m, "conv", &none, 1),
	          "conv: Conv2d() needs a tensor for 'input', got 7");
	module_free(m);
}

/* ---- embeddings ---- */

/* Calls the prepared module m on n arguments (taken over). */
static const char *call(struct module *m, int n, ...)
{
	struct value args[4];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		args[i] = va_arg(ap, struct value);
	va_end(ap);
	return run(m->def, m, "emb", args, n);
}

static void test_embeddings(void)
{
	struct module *m = mk("Embedding", "num_embeddings=100 embedding_dim=16 padding_idx=-1");
	CHECK_STR(params_text(m), "weight [100, 16] float32");
	CHECK_STR(attr_text(m, "max_norm"), "None");
	CHECK_STR(describe("Embedding", "num_embeddings=100 embedding_dim=16 padding_idx=-1"),
	          "100x16 pad 99");
	CHECK_STR(call(m, 1, TI("2x7")), "[2, 7, 16]");
	CHECK_STR(call(m, 1, TI("")), "[16]");
	CHECK_STR(call(m, 1, T("2x7")),
	          "emb: Embedding() needs int64 or int32 indices for 'input', gets a float32 "
	          "tensor");
	module_free(m);
	CHECK_STR(prepare_error("Embedding", "num_embeddings=10 embedding_dim=4 padding_idx=10"),
	          "Embedding: padding_idx 10 is out of range for num_embeddings=10");
	CHECK_STR(prepare_error("Embedding", "num_embeddings=10 embedding_dim=4 padding_idx=-11"),
	          "Embedding: padding_idx -11 is out of range for num_embeddings=10");
	CHECK_CONTAINS(prepare_error("Embedding", "num_embeddings=10 embedding_dim=4 max_norm=1.0"),
	               "Embedding: max_norm is set: PyTorch renormalises the weight's rows");
	CHECK_STR(prepare_error("Embedding",
	                        "num_embeddings=10 embedding_dim=4 scale_grad_by_freq=True "
	                        "sparse=True"),
	          "ok");

	m = mk("EmbeddingBag", "num_embeddings=50 embedding_dim=8 mode='sum'");
	CHECK_STR(describe("EmbeddingBag", "num_embeddings=50 embedding_dim=8 mode='sum'"),
	          "50x8 sum");
	CHECK_STR(call(m, 1, TI("4x6")), "[4, 8]");
	CHECK_STR(call(m, 2, TI("10"), TI("3")), "[3, 8]");
	CHECK_STR(call(m, 3, TI("10"), TI("3"), T("10")), "[3, 8]");
	CHECK_STR(call(m, 1, TI("10")), "emb: EmbeddingBag(): a 1-D input needs offsets");
	CHECK_STR(call(m, 2, TI("4x6"), TI("3")),
	          "emb: EmbeddingBag(): offsets must be None for a 2-D input");
	CHECK_STR(call(m, 3, TI("10"), TI("3"), T("9")),
	          "emb: EmbeddingBag(): per_sample_weights [9] float32 must be floating and of the "
	          "input's shape [10]");
	module_free(m);
	m = mk("EmbeddingBag", "num_embeddings=50 embedding_dim=8 include_last_offset=True");
	CHECK_STR(attr_text(m, "mode"), "'mean'");
	CHECK_STR(call(m, 2, TI("10"), TI("4")), "[3, 8]");
	CHECK_STR(call(m, 3, TI("10"), TI("4"), T("10")),
	          "emb: EmbeddingBag(): per_sample_weights is only for mode='sum'");
	module_free(m);
	CHECK_STR(prepare_error("EmbeddingBag", "num_embeddings=5 embedding_dim=2 mode='min'"),
	          "EmbeddingBag: mode must be 'sum', 'mean' or 'max', got 'min'");

	CHECK_STR(fn("embedding", 2, TI("3x5"), T("20x4")), "[3, 5, 4]");
	CHECK_STR(fn("embedding", 2, TI("3x5"), T("20")),
	          "embedding: embedding() needs a 2-D floating weight");
	kw("max_norm", value_float(2));
	CHECK_CONTAINS(fn("embedding", 2, TI("3x5"), T("20x4")), "embedding: max_norm is set");
	CHECK_STR(fn("embedding_bag", 3, TI("12"), T("20x4"), TI("5")), "[5, 4]");
	kw("include_last_offset", value_bool(true));
	CHECK_STR(fn("embedding_bag", 3, TI("12"), T("20x4"), TI("5")), "[4, 4]");
	kw("mode", value_str("avg"));
	CHECK_STR(fn("embedding_bag", 2, TI("3x4"), T("20x4")),
	          "embedding_bag: mode must be 'sum', 'mean' or 'max', got 'avg'");
}

/* ---- detection ---- */

/* The image sizes of the transform's output, "800x1066 in 800x1088". */
static const char *transform_sizes(struct module *t, const char *input)
{
	static char buf[200];
	const char *r = call(t, 1, T(input));
	if (last.kind != VAL_LIST || last.u.list.n != 2)
		return r;
	const struct value *hw = &last.u.list.items[1].u.list.items[0];
	const struct shape *s = &last.u.list.items[0].u.tensor.t.shape;
	snprintf(buf, sizeof buf, "%lldx%lld in %lldx%lld", (long long)hw->u.list.items[0].u.i,
	         (long long)hw->u.list.items[1].u.i, (long long)s->dim[2], (long long)s->dim[3]);
	return buf;
}

static void test_detection(void)
{
	/* sizes as torchvision 0.14 computes them */
	const char *norm = "image_mean=[0.485, 0.456, 0.406] image_std=[0.229, 0.224, 0.225]";
	char attrs[200];
	snprintf(attrs, sizeof attrs, "min_size=(800,) max_size=1333 %s", norm);
	struct module *t = mk("GeneralizedRCNNTransform", attrs);
	CHECK_STR(transform_sizes(t, "1x3x480x640"), "800x1066 in 800x1088");
	CHECK_STR(transform_sizes(t, "2x3x1000x300"), "1333x399 in 1344x416");
	CHECK_STR(call(t, 1, T("1x1x480x640")),
	          "emb: GeneralizedRCNNTransform normalises 3 channels, the images have 1");
	module_free(t);
	snprintf(attrs, sizeof attrs, "min_size=64 max_size=96 %s", norm);
	t = mk("GeneralizedRCNNTransform", attrs);
	CHECK_STR(transform_sizes(t, "1x3x50x77"), "62x95 in 64x96");
	module_free(t);
	CHECK_STR(prepare_error("GeneralizedRCNNTransform", "min_size=800 max_size=1333 "
	                        "image_mean=[0.5, 0.5] image_std=[0.5]"),
	          "GeneralizedRCNNTransform: image_mean and image_std must be lists of one number "
	          "per channel (at most 16)");

	struct module *a = mk("AnchorGenerator", "sizes=((32,), (64,)) aspect_ratios=((0.5, 1.0, 2.0),"
	                      " (1.0,))");
	CHECK_STR(call(a, 2, T("1x3x64x96"), P("3")), "emb: AnchorGenerator takes (images, a "
	          "tuple of feature maps)");
	struct value maps = value_list(2);
	maps.u.list.items[0] = T("1x8x16x24");
	maps.u.list.items[1] = T("1x8x8x12");
	CHECK_STR(call(a, 2, T("1x3x64x96"), maps), "[1248, 4]"); /* 384 * 3 + 96 */
	module_free(a);

	/* the proposals: at most min(post_nms_top_n, sum of min(pre_nms_top_n, anchors)) */
	struct value obj = value_list(2), del = value_list(2);
	obj.u.list.items[0] = T("2x3x16x24");
	obj.u.list.items[1] = T("2x3x8x12");
	del.u.list.items[0] = T("2x12x16x24");
	del.u.list.items[1] = T("2x12x8x12");
	kw("pre_nms_top_n", value_int(200));
	kw("post_nms_top_n", value_int(1000));
	CHECK_STR(fn("filter_proposals", 4, obj, del, T("1440x4"), P("((64, 96), (64, 96))")),
	          "((Tensor[≤400, 4], Tensor[≤400, 4]), (Tensor[≤400], Tensor[≤400]))");
}

int main(void)
{
	RUN(test_lookup);
	RUN(test_prepare_conv2d);
	RUN(test_prepare_params);
	RUN(test_attr_errors);
	RUN(test_prepare_atomic);
	RUN(test_prepare_keeps_storage);
	RUN(test_conv2d_shapes);
	RUN(test_conv_nd_shapes);
	RUN(test_pool_nd_shapes);
	RUN(test_pool_shapes);
	RUN(test_layer_shapes);
	RUN(test_norm_dropout_shapes);
	RUN(test_resample_shapes);
	RUN(test_mha);
	RUN(test_describe);
	RUN(test_arithmetic);
	RUN(test_matmul);
	RUN(test_getitem);
	RUN(test_shape_queries);
	RUN(test_view_reshape);
	RUN(test_layout);
	RUN(test_elementwise_and_layers);
	RUN(test_swin);
	RUN(test_detection);
	RUN(test_window_out);
	RUN(test_origin_describe);
	RUN(test_break_messages);
	RUN(test_malformed_calls);
	RUN(test_embeddings);
	RUN(test_functions);
	value_free(&last);
	return CHECK_DONE();
}
