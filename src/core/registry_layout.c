/* registry_layout.c - moving data without arithmetic: Flatten, Unflatten, Permute, the
 * dropouts, Identity, StochasticDepth, cat, split, reshape, permute, ...,
 * and torchvision MViT's _unsqueeze and _squeeze. */
#include "core/registry_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* Runs the function `fn` on the given arguments for this module call. */
static int delegate(struct op_call *c, const char *fn, const struct value *args, int nargs)
{
	struct op_call f = *c;
	f.def = registry_function(fn);
	if (!f.def) {
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

/* The optional number argument at pos/kw, or def. -1 when mistyped. */
static int optional_number(struct op_call *c, int pos, const char *kw, double def, double *out)
{
	const struct value *v = op_arg(c, pos, kw);
	*out = def;
	if (!v || v->kind == VAL_NONE)
		return 0;
	if (value_number(v, out))
		return 0;
	char got[128];
	value_format(v, got, sizeof got);
	return op_fail(c, "%s() needs a number for '%s', got %s", op_fn_name(c), kw, got);
}

static const struct attr_spec dropout_attrs[] = {
    {"p", AT_FLOAT, "0.5"},
    {"inplace", AT_BOOL, "False"},
};

static int dropout_check(struct module *m, struct error *e)
{
	return op_check_probability(m, "p", e);
}

static void dropout_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "p=%g", module_attr_float(m, "p", 0.5));
}

/* Dropout1d and dropout1d take a 2-D or 3-D input; the other dropouts any. */
static int dropout_infer(struct op_call *c)
{
	const char *name = c->def->name;
	if ((!strcmp(name, "Dropout1d") || !strcmp(name, "dropout1d")) &&
	    !op_input_rank(c, 2, 3, "2-D or 3-D"))
		return -1;
	return op_same_as_input(c);
}

/* A dropout module type: identity in eval. */
#define DROPOUT_DEF(id, type, doc_)                                                                \
	static const struct op_def def_##id = {                                                    \
	    .name = type,                                                                          \
	    .kind = OP_MODULE,                                                                     \
	    .doc = doc_,                                                                           \
	    .attrs = dropout_attrs,                                                                \
	    .nattrs = 2,                                                                           \
	    .infer = dropout_infer,                                                                \
	    .describe = dropout_describe,                                                          \
	    .check = dropout_check,                                                                \
	}

DROPOUT_DEF(dropout, "Dropout", "zeroes elements with probability p in training; identity in eval");
DROPOUT_DEF(dropout1d, "Dropout1d",
            "zeroes whole channels of [N, C, L] or [C, L] in training; identity in eval");
DROPOUT_DEF(dropout2d, "Dropout2d",
            "zeroes whole channels of [N, C, H, W] in training; identity in eval");
DROPOUT_DEF(dropout3d, "Dropout3d",
            "zeroes whole channels of [N, C, D, H, W] in training; identity in eval");
DROPOUT_DEF(alpha_dropout, "AlphaDropout",
            "dropout keeping SELU's mean and variance in training; identity in eval");
DROPOUT_DEF(feature_alpha_dropout, "FeatureAlphaDropout",
            "AlphaDropout of whole channels in training; identity in eval");

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

static const struct attr_spec unflatten_attrs[] = {
    {"dim", AT_INT, NULL},
    {"unflattened_size", AT_INTS, NULL},
};

/* [..., D, ...] -> [..., sizes..., ...] at dim d; one size may be -1, the
 * product is D. A break names the call: "Unflatten(dim=1,
 * unflattened_size=(4, 4))", "unflatten(dim=1, sizes=(4, 4))". */
static int unflatten_shape(struct op_call *c, const struct value *x, int64_t d,
                           const int64_t *given, int n)
{
	const struct shape *xs = op_shape(x);
	int dim;
	if (op_dim(c, d, xs->ndim, &dim) < 0)
		return -1;
	if (n < 1 || xs->ndim - 1 + n > SHAPE_MAX_DIMS)
		return op_fail(c, "unflatten(): needs 1 to %d sizes",
		               SHAPE_MAX_DIMS - xs->ndim + 1);
	int64_t sizes[SHAPE_MAX_DIMS];
	memcpy(sizes, given, (size_t)n * sizeof *sizes);
	int infer = -1;
	int64_t known = 1;
	for (int i = 0; i < n; i++) {
		if (sizes[i] == -1 && infer < 0)
			infer = i;
		else if (sizes[i] < 0)
			return op_fail(c, "unflatten(): sizes must be positive or one -1");
		else
			known = op_mul_sat(known, sizes[i]);
	}
	if (infer >= 0 && known > 0 && xs->dim[dim] % known == 0) {
		sizes[infer] = xs->dim[dim] / known;
		known = xs->dim[dim];
	}
	if (known != xs->dim[dim]) {
		char desc[192], t[96], sb[160];
		struct shape w = {.ndim = n};
		memcpy(w.dim, given, (size_t)n * sizeof *given);
		shape_format(&w, t, sizeof t);
		t[0] = '(';
		t[strlen(t) - 1] = ')';
		snprintf(desc, sizeof desc, "%s(dim=%lld, %s=%s)", c->def->name, (long long)d,
		         c->module ? "unflattened_size" : "sizes", t);
		return op_break(c, x, desc, "%s (dim %d is %lld)", shape_format(xs, sb, sizeof sb),
		                dim, (long long)xs->dim[dim]);
	}
	struct shape os = {.ndim = xs->ndim - 1 + n};
	memcpy(os.dim, xs->dim, (size_t)dim * sizeof *os.dim);
	memcpy(os.dim + dim, sizes, (size_t)n * sizeof *os.dim);
	memcpy(os.dim + dim + n, xs->dim + dim + 1, (size_t)(xs->ndim - dim - 1) * sizeof *os.dim);
	op_out_tensor(c, op_dtype(x), &os, x);
	return 0;
}

static int unflatten_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	int64_t sizes[SHAPE_MAX_DIMS];
	const struct value *sv = module_attr(c->module, "unflattened_size");
	if (!x || sv->u.list.n > SHAPE_MAX_DIMS || value_ints(sv, sizes, sv->u.list.n) < 0)
		return x ? op_fail(c, "Unflatten: bad unflattened_size") : -1;
	return unflatten_shape(c, x, module_attr_int(c->module, "dim", 0), sizes, sv->u.list.n);
}

static void unflatten_describe(const struct module *m, char *buf, size_t size)
{
	char t[96];
	value_format(module_attr(m, "unflattened_size"), t, sizeof t);
	snprintf(buf, size, "dim %lld -> %s", (long long)module_attr_int(m, "dim", 0), t);
}

static const struct op_def def_unflatten = {
    .name = "Unflatten",
    .kind = OP_MODULE,
    .doc = "splits dim into unflattened_size (one size may be -1)",
    .attrs = unflatten_attrs,
    .nattrs = 2,
    .infer = unflatten_infer,
    .describe = unflatten_describe,
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
	if (op_check_probability(m, "p", e) < 0)
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
    .infer = op_same_as_input,
    .describe = stochastic_depth_describe,
    .check = stochastic_depth_check,
};

/* ---- joining and splitting ---- */

static int join(struct op_call *c, bool stack)
{
	const struct value **t = NULL;
	int n = op_tensor_list(c, 0, "tensors", &t);
	if (n < 0)
		return -1;
	int64_t d;
	int dim, rc = -1;
	const struct shape *s0 = op_shape(t[0]);
	if (op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, s0->ndim + (stack ? 1 : 0), &dim) < 0)
		goto out;
	if (!stack && s0->ndim == 0) {
		op_mismatch(c, "zero-dimensional tensors cannot be concatenated");
		goto out;
	}
	struct shape os = *s0;
	for (int i = 1; i < n; i++) {
		const struct shape *s = op_shape(t[i]);
		bool ok = s->ndim == s0->ndim;
		for (int k = 0; ok && k < s->ndim; k++)
			ok = s->dim[k] == s0->dim[k] || (!stack && k == dim);
		if (!ok) {
			char sa[160], sb[160], oa[320], ob[320];
			origin_describe(t[0], oa, sizeof oa);
			origin_describe(t[i], ob, sizeof ob);
			op_mismatch(c, "cannot %s %s with %s along dim %d (from %s and %s)",
			            stack ? "stack" : "concatenate",
			            shape_format(s0, sa, sizeof sa), shape_format(s, sb, sizeof sb),
			            dim, oa, ob);
			goto out;
		}
		if (!stack && __builtin_add_overflow(os.dim[dim], s->dim[dim], &os.dim[dim])) {
			op_mismatch(c, "cat() result too large");
			goto out;
		}
	}
	if (stack) {
		if (os.ndim >= SHAPE_MAX_DIMS) {
			op_mismatch(c, "stack() gives too many dimensions");
			goto out;
		}
		memmove(&os.dim[dim + 1], &os.dim[dim], (size_t)(os.ndim - dim) * sizeof *os.dim);
		os.dim[dim] = n;
		os.ndim++;
	}
	if (op_checked_numel(c, &os) < 0)
		goto out;
	op_out_tensor(c, op_dtype(t[0]), &os, n == 1 ? t[0] : NULL);
	rc = 0;
out:
	free(t);
	return rc;
}

static int fn_cat(struct op_call *c)
{
	return join(c, false);
}
static int fn_stack(struct op_call *c)
{
	return join(c, true);
}

/* Splits dim `dim` of x into pieces of the given sizes; c->out is a tuple. */
static int split_into(struct op_call *c, const struct value *x, int dim, const int64_t *sizes,
                      int n)
{
	struct value r = value_list(n);
	for (int i = 0; i < n; i++) {
		struct shape s = *op_shape(x);
		s.dim[dim] = sizes[i];
		c->out = value_none();
		op_out_tensor(c, op_dtype(x), &s, x);
		r.u.list.items[i] = c->out;
	}
	c->out = r;
	return 0;
}

#define MAX_PIECES 4096

static int fn_chunk(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t chunks, d;
	int dim;
	if (!x || op_int(c, 1, "chunks", -1, &chunks) < 0 || op_int(c, 2, "dim", 0, &d) < 0 ||
	    op_dim(c, d, op_shape(x)->ndim, &dim) < 0)
		return -1;
	if (chunks <= 0)
		return op_fail(c, "chunk expects `chunks` to be greater than 0, got: %lld",
		               (long long)chunks);
	if (op_shape(x)->ndim == 0)
		return op_mismatch(c, "chunk expects at least a 1-dimensional tensor");
	int64_t size = op_shape(x)->dim[dim];
	int64_t piece = (size + chunks - 1) / chunks;
	int64_t n = piece ? (size + piece - 1) / piece : chunks;
	if (n > MAX_PIECES)
		return op_mismatch(c, "chunk() gives too many pieces");
	int64_t *sizes = xcalloc((size_t)n, sizeof *sizes);
	for (int64_t i = 0; i < n; i++)
		sizes[i] = piece ? (i < n - 1 ? piece : size - piece * (n - 1)) : 0;
	int rc = split_into(c, x, dim, sizes, (int)n);
	free(sizes);
	return rc;
}

static int fn_split(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct value *how = op_arg(c, 1, "split_size_or_sections");
	if (!how)
		how = op_arg(c, -1, "split_size");
	int64_t d;
	int dim;
	if (op_int(c, 2, "dim", 0, &d) < 0 || op_dim(c, d, op_shape(x)->ndim, &dim) < 0)
		return -1;
	if (op_shape(x)->ndim == 0)
		return op_mismatch(c, "split expects at least a 1-dimensional tensor");
	int64_t size = op_shape(x)->dim[dim];
	if (how && how->kind == VAL_INT) {
		int64_t piece = how->u.i;
		if (piece < 0 || (piece == 0 && size != 0))
			return op_fail(c,
			               "split_size can only be 0 if dimension size is 0, but got "
			               "dimension size of %lld",
			               (long long)size);
		int64_t n = piece ? (size + piece - 1) / piece : 1;
		if (n < 1)
			n = 1;
		if (n > MAX_PIECES)
			return op_mismatch(c, "split() gives too many pieces");
		int64_t *sizes = xcalloc((size_t)n, sizeof *sizes);
		for (int64_t i = 0; i < n; i++)
			sizes[i] = i < n - 1 ? piece : size - piece * (n - 1);
		int rc = split_into(c, x, dim, sizes, (int)n);
		free(sizes);
		return rc;
	}
	if (how && how->kind == VAL_LIST && how->u.list.n > 0 && how->u.list.n <= MAX_PIECES) {
		int n = how->u.list.n;
		int64_t *sizes = xcalloc((size_t)n, sizeof *sizes), sum = 0;
		bool ok = true;
		for (int i = 0; i < n && ok; i++) {
			ok = how->u.list.items[i].kind == VAL_INT && how->u.list.items[i].u.i >= 0;
			sizes[i] = ok ? how->u.list.items[i].u.i : 0;
			ok = ok && !__builtin_add_overflow(sum, sizes[i], &sum);
		}
		int rc;
		if (!ok) {
			rc = op_fail(c, "split() sizes must be non-negative ints");
		} else if (sum != size) {
			char got[256];
			value_format(how, got, sizeof got);
			rc = op_mismatch(c,
			                 "split_with_sizes expects split_sizes to sum exactly to "
			                 "%lld (input tensor's size at dimension %d), but got "
			                 "split_sizes=%s",
			                 (long long)size, dim, got);
		} else {
			rc = split_into(c, x, dim, sizes, n);
		}
		free(sizes);
		return rc;
	}
	return op_fail(c, "split() needs an int or a list of ints");
}

/* tensor_split(x, indices_or_sections, dim=0): an int n gives n pieces,
 * the first size % n of them one longer; a tuple of indices cuts before
 * each (Python slice bounds: negative ones count from the end, large ones
 * stop at the end), which must not decrease. */
static int fn_tensor_split(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct value *how = op_arg(c, 1, "indices_or_sections");
	if (!how)
		how = op_arg(c, -1, "sections");
	if (!how)
		how = op_arg(c, -1, "indices");
	int64_t d;
	int dim;
	if (op_int(c, 2, "dim", 0, &d) < 0 || op_dim(c, d, op_shape(x)->ndim, &dim) < 0)
		return -1;
	if (op_shape(x)->ndim == 0)
		return op_mismatch(c, "tensor_split expects at least a 1-dimensional tensor");
	int64_t size = op_shape(x)->dim[dim];
	if (how && how->kind == VAL_INT) {
		int64_t n = how->u.i;
		if (n <= 0)
			return op_fail(c, "number of sections must be larger than 0, got %lld",
			               (long long)n);
		if (n > MAX_PIECES)
			return op_mismatch(c, "tensor_split() gives too many pieces");
		int64_t *sizes = xcalloc((size_t)n, sizeof *sizes);
		for (int64_t i = 0; i < n; i++)
			sizes[i] = size / n + (i < size % n);
		int rc = split_into(c, x, dim, sizes, (int)n);
		free(sizes);
		return rc;
	}
	if (how && how->kind == VAL_LIST && how->u.list.n < MAX_PIECES) {
		int n = how->u.list.n + 1;
		int64_t *sizes = xcalloc((size_t)n, sizeof *sizes), at = 0;
		int rc = 0;
		for (int i = 0; i < n && rc == 0; i++) {
			const struct value *v = i < n - 1 ? &how->u.list.items[i] : NULL;
			int64_t cut = size;
			if (v && v->kind != VAL_INT) {
				rc = op_fail(c, "tensor_split() indices must be ints");
				break;
			}
			if (v)
				cut = v->u.i < 0 ? (v->u.i < -size ? 0 : size + v->u.i)
				                 : (v->u.i > size ? size : v->u.i);
			if (cut < at)
				rc = op_fail(c, "tensor_split() indices that decrease are not supported");
			sizes[i] = cut - at;
			at = cut;
		}
		if (rc == 0)
			rc = split_into(c, x, dim, sizes, n);
		free(sizes);
		return rc;
	}
	return op_fail(c, "tensor_split() needs an int or a tuple of ints");
}

static int fn_unbind(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d;
	int dim;
	if (!x || op_int(c, 1, "dim", 0, &d) < 0 || op_dim(c, d, op_shape(x)->ndim, &dim) < 0)
		return -1;
	if (op_shape(x)->ndim == 0)
		return op_mismatch(c, "unbind() needs at least a 1-dimensional tensor");
	int64_t n = op_shape(x)->dim[dim];
	if (n > MAX_PIECES)
		return op_mismatch(c, "unbind() gives too many pieces");
	struct shape s = *op_shape(x);
	memmove(&s.dim[dim], &s.dim[dim + 1], (size_t)(s.ndim - dim - 1) * sizeof *s.dim);
	s.ndim--;
	struct value r = value_list((int)n);
	for (int64_t i = 0; i < n; i++) {
		c->out = value_none();
		op_out_tensor(c, op_dtype(x), &s, x);
		r.u.list.items[i] = c->out;
	}
	c->out = r;
	return 0;
}

/* ---- layout ---- */

static int fn_flatten(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t s, e;
	if (!x || op_int(c, 1, "start_dim", 0, &s) < 0 || op_int(c, 2, "end_dim", -1, &e) < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	int a, b;
	if (op_dim(c, s, xs->ndim, &a) < 0 || op_dim(c, e, xs->ndim, &b) < 0)
		return -1;
	if (a > b)
		return op_fail(c,
		               "flatten() has invalid args: start_dim cannot come after end_dim");
	struct shape os = {.ndim = 0};
	if (xs->ndim == 0) {
		os.ndim = 1;
		os.dim[0] = 1;
		return op_out_like(c, x, &os);
	}
	for (int i = 0; i < a; i++)
		os.dim[os.ndim++] = xs->dim[i];
	int64_t prod = 1;
	for (int i = a; i <= b; i++)
		if (__builtin_mul_overflow(prod, xs->dim[i], &prod))
			return op_mismatch(c, "flatten() result too large");
	os.dim[os.ndim++] = prod;
	for (int i = b + 1; i < xs->ndim; i++)
		os.dim[os.ndim++] = xs->dim[i];
	return op_out_like(c, x, &os);
}

/* view/reshape with one -1 inferred. */
static int fn_reshape(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const char *kw = strcmp(op_fn_name(c), "view") == 0 ? "size" : "shape";
	const struct value *a = op_arg(c, 1, kw);
	if (a && a->kind == VAL_DTYPE)
		return op_fail(c, "view(dtype) is not supported in the shape pass");
	int64_t d[SHAPE_MAX_DIMS];
	int n = op_int_list(c, 1, kw, true, d, SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	int64_t numel = shape_numel(op_shape(x)), known = 1;
	int infer = -1;
	for (int i = 0; i < n; i++) {
		if (d[i] == -1) {
			if (infer >= 0)
				return op_fail(c, "only one dimension can be inferred");
			infer = i;
		} else if (d[i] < 0) {
			return op_fail(c, "invalid shape dimension %lld", (long long)d[i]);
		} else if (__builtin_mul_overflow(known, d[i], &known)) {
			known = -1;
			break;
		}
	}
	bool ok = known >= 0;
	if (ok && infer >= 0) {
		ok = known > 0 && numel % known == 0;
		if (ok)
			d[infer] = numel / known;
	} else if (ok) {
		ok = known == numel;
	}
	if (!ok) {
		char want[256], sb[160], o[320];
		want[0] = '[';
		want[1] = '\0';
		for (int i = 0; i < n; i++)
			snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld",
			         i ? ", " : "", (long long)d[i]);
		snprintf(want + strlen(want), sizeof want - strlen(want), "]");
		origin_describe(x, o, sizeof o);
		return op_mismatch(c, "shape '%s' is invalid for input of size %lld (%s from %s)",
		                   want, (long long)numel, shape_format(op_shape(x), sb, sizeof sb),
		                   o);
	}
	struct shape os = {.ndim = n};
	memcpy(os.dim, d, (size_t)n * sizeof *d);
	return op_out_like(c, x, &os);
}

/* Reads a permutation of ndim dims from the arguments at 1. */
static int read_perm(struct op_call *c, int ndim, int *perm)
{
	int64_t d[SHAPE_MAX_DIMS];
	int n = op_int_list(c, 1, "dims", true, d, SHAPE_MAX_DIMS);
	if (n < 0)
		return -1;
	if (n != ndim)
		return op_mismatch(c,
		                   "permute(): number of dims don't match (the input has %d, got "
		                   "%d)",
		                   ndim, n);
	bool seen[SHAPE_MAX_DIMS] = {false};
	for (int i = 0; i < n; i++) {
		if (op_dim(c, d[i], ndim, &perm[i]) < 0)
			return -1;
		if (seen[perm[i]])
			return op_fail(c, "permute(): repeated dim %lld", (long long)d[i]);
		seen[perm[i]] = true;
	}
	return 0;
}

static int fn_permute(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int perm[SHAPE_MAX_DIMS];
	if (!x || read_perm(c, op_shape(x)->ndim, perm) < 0)
		return -1;
	struct shape os = *op_shape(x);
	for (int i = 0; i < os.ndim; i++)
		os.dim[i] = op_shape(x)->dim[perm[i]];
	return op_out_like(c, x, &os);
}

static int fn_transpose(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d0, d1;
	int a, b;
	if (!x)
		return -1;
	const char *k0 = strcmp(op_fn_name(c), "swapaxes") == 0 ? "axis0" : "dim0";
	const char *k1 = strcmp(op_fn_name(c), "swapaxes") == 0 ? "axis1" : "dim1";
	if (!op_arg(c, 1, k0) || !op_arg(c, 2, k1))
		return op_fail(c, "%s() needs two dims", op_fn_name(c));
	if (op_int(c, 1, k0, 0, &d0) < 0 || op_int(c, 2, k1, 0, &d1) < 0 ||
	    op_dim(c, d0, op_shape(x)->ndim, &a) < 0 || op_dim(c, d1, op_shape(x)->ndim, &b) < 0)
		return -1;
	struct shape os = *op_shape(x);
	if (os.ndim > 0) {
		os.dim[a] = op_shape(x)->dim[b];
		os.dim[b] = op_shape(x)->dim[a];
	}
	return op_out_like(c, x, &os);
}

/* x's shape with a dim of size 1 inserted at d (x.unsqueeze(d)) into os.
 * 0, or -1 (a break for d out of range, a mismatch for too many dims). */
static int unsqueezed_shape(struct op_call *c, const struct value *x, int64_t d, struct shape *os)
{
	int dim;
	if (op_dim(c, d, op_shape(x)->ndim + 1, &dim) < 0)
		return -1;
	*os = *op_shape(x);
	if (os->ndim >= SHAPE_MAX_DIMS)
		return op_mismatch(c, "unsqueeze() gives too many dimensions");
	memmove(&os->dim[dim + 1], &os->dim[dim], (size_t)(os->ndim - dim) * sizeof *os->dim);
	os->dim[dim] = 1;
	os->ndim++;
	return 0;
}

static int fn_unsqueeze(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d;
	struct shape os;
	if (!x || !op_arg(c, 1, "dim"))
		return x ? op_fail(c, "unsqueeze() needs a dim") : -1;
	if (op_int(c, 1, "dim", 0, &d) < 0 || unsqueezed_shape(c, x, d, &os) < 0)
		return -1;
	return op_out_like(c, x, &os);
}

static int fn_squeeze(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	const struct shape *xs = op_shape(x);
	bool drop[SHAPE_MAX_DIMS] = {false};
	const struct value *dv = op_arg(c, 1, "dim");
	if (!dv || dv->kind == VAL_NONE) {
		for (int i = 0; i < xs->ndim; i++)
			drop[i] = xs->dim[i] == 1;
	} else {
		int64_t d[SHAPE_MAX_DIMS];
		int n = op_int_list(c, 1, "dim", false, d, SHAPE_MAX_DIMS);
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			int k;
			if (op_dim(c, d[i], xs->ndim, &k) < 0)
				return -1;
			drop[k] = xs->ndim > 0 && xs->dim[k] == 1;
		}
	}
	struct shape os = {.ndim = 0};
	for (int i = 0; i < xs->ndim; i++)
		if (!drop[i])
			os.dim[os.ndim++] = xs->dim[i];
	return op_out_like(c, x, &os);
}

static int fn_expand(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	int64_t d[SHAPE_MAX_DIMS];
	int n;
	const struct value *other =
	    strcmp(op_fn_name(c), "expand_as") == 0 ? op_tensor(c, 1, "other") : NULL;
	if (strcmp(op_fn_name(c), "expand_as") == 0) {
		if (!other)
			return -1;
		n = op_shape(other)->ndim;
		memcpy(d, op_shape(other)->dim, (size_t)n * sizeof *d);
	} else {
		n = op_int_list(c, 1, "size", true, d, SHAPE_MAX_DIMS);
		if (n < 0)
			return -1;
	}
	const struct shape *xs = op_shape(x);
	char sa[160], sb[160];
	struct shape want = {.ndim = n};
	memcpy(want.dim, d, (size_t)n * sizeof *d);
	if (n < xs->ndim)
		return op_mismatch(c,
		                   "expand(): the number of sizes provided (%d) must be greater or "
		                   "equal to the number of dimensions in the tensor (%d)",
		                   n, xs->ndim);
	struct shape os = {.ndim = n};
	for (int i = 0; i < n; i++) {
		int k = i - (n - xs->ndim);
		if (k < 0) {
			if (d[i] < 0)
				return op_fail(c, "expand(): -1 is not allowed in a leading, "
				                  "non-existing dimension");
			os.dim[i] = d[i];
		} else if (d[i] == -1 || d[i] == xs->dim[k]) {
			os.dim[i] = xs->dim[k];
		} else if (xs->dim[k] == 1 && d[i] >= 0) {
			os.dim[i] = d[i];
		} else {
			return op_mismatch(c,
			                   "the expanded size of the tensor (%lld) must match the "
			                   "existing size (%lld) at non-singleton dimension %d: "
			                   "target sizes %s, tensor sizes %s",
			                   (long long)d[i], (long long)xs->dim[k], i,
			                   shape_format(&want, sa, sizeof sa),
			                   shape_format(xs, sb, sizeof sb));
		}
	}
	return op_out_like(c, x, &os);
}

static int fn_dropout(struct op_call *c)
{
	double p;
	if (optional_number(c, 1, "p", 0.5, &p) < 0)
		return -1;
	if (!(p >= 0 && p <= 1))
		return op_fail(c, "dropout probability has to be between 0 and 1, but got %g", p);
	return dropout_infer(c);
}

/* x.to(dtype), x.to(other), x.to(device): only the dtype matters here. */
static int fn_to(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	enum dtype dt = op_dtype(x);
	for (int i = 1; i < c->nargs; i++) {
		if (c->args[i].kind == VAL_DTYPE)
			dt = c->args[i].u.dtype;
		else if (c->args[i].kind == VAL_TENSOR)
			dt = op_dtype(&c->args[i]);
	}
	const struct value *dtv = op_arg(c, -1, "dtype");
	if (dtv && dtv->kind == VAL_DTYPE)
		dt = dtv->u.dtype;
	op_out_tensor(c, dt, op_shape(x), x);
	return 0;
}

static int fn_type_as(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *o = x ? op_tensor(c, 1, "other") : NULL;
	if (!o)
		return -1;
	op_out_tensor(c, op_dtype(o), op_shape(x), x);
	return 0;
}

static int fn_float(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	op_out_tensor(c, DT_F32, op_shape(x), x);
	return 0;
}

/* x.unflatten(dim, sizes) */
static int fn_unflatten(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	int64_t d, sizes[SHAPE_MAX_DIMS];
	if (!x || op_int(c, 1, "dim", 0, &d) < 0)
		return -1;
	int n = op_int_list(c, 2, "sizes", false, sizes, SHAPE_MAX_DIMS);
	return n < 0 ? -1 : unflatten_shape(c, x, d, sizes, n);
}

static int fn_roll(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	int64_t s[SHAPE_MAX_DIMS], d[SHAPE_MAX_DIMS];
	int ns = op_int_list(c, 1, "shifts", false, s, SHAPE_MAX_DIMS);
	if (ns < 0)
		return -1;
	const struct value *dv = op_arg(c, 2, "dims");
	if (dv && dv->kind != VAL_NONE) {
		int nd = op_int_list(c, 2, "dims", false, d, SHAPE_MAX_DIMS);
		if (nd < 0)
			return -1;
		if (nd != ns)
			return op_fail(c,
			               "roll(): shifts and dims must have the same length, got "
			               "%d and %d",
			               ns, nd);
		for (int i = 0; i < nd; i++) {
			int k;
			if (op_dim(c, d[i], op_shape(x)->ndim, &k) < 0)
				return -1;
		}
	} else if (ns != 1) {
		return op_fail(c, "roll(): without dims, shifts must be a single int");
	}
	return op_same(c);
}

static int check_probability_arg(struct op_call *c, int pos, const char *kw)
{
	double p;
	if (optional_number(c, pos, kw, 0, &p) < 0)
		return -1;
	if (!(p >= 0 && p <= 1))
		return op_fail(c, "%s() needs %s between 0 and 1, got %g", op_fn_name(c), kw, p);
	return 0;
}

static int fn_stochastic_depth(struct op_call *c)
{
	if (check_probability_arg(c, 1, "p") < 0)
		return -1;
	const struct value *m = op_arg(c, 2, "mode");
	if (!m || m->kind != VAL_STR || (strcmp(m->u.s, "row") && strcmp(m->u.s, "batch")))
		return op_fail(c, "stochastic_depth(): mode has to be either 'batch' or 'row'");
	return op_same(c);
}

/* ---- torchvision MViT: _unsqueeze, _squeeze ---- */

/* _unsqueeze(x, target_dim, expand_dim) -> (x, x.dim()): x with a dim of
 * size 1 at expand_dim when it has target_dim - 1 dims, x itself when it
 * has target_dim. */
static int fn_mvit_unsqueeze(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "x");
	int64_t target, at;
	if (!x || op_int(c, 1, "target_dim", 0, &target) < 0 ||
	    op_int(c, 2, "expand_dim", 0, &at) < 0)
		return -1;
	const struct shape *xs = op_shape(x);
	struct value r = value_list(2);
	r.u.list.items[1] = value_int(xs->ndim);
	if (xs->ndim == target) {
		r.u.list.items[0] = value_copy(x);
	} else if (xs->ndim == target - 1) {
		struct shape os;
		if (unsqueezed_shape(c, x, at, &os) < 0) {
			value_free(&r);
			return -1;
		}
		op_out_like(c, x, &os);
		r.u.list.items[0] = c->out;
		c->out = value_none();
	} else {
		char sb[160], desc[64];
		value_free(&r);
		snprintf(desc, sizeof desc, "_unsqueeze(target_dim=%lld)", (long long)target);
		return op_break(c, x, desc, "%s (Unsupported input dimension)",
		                shape_format(xs, sb, sizeof sb));
	}
	op_set_out(c, r);
	return 0;
}

/* _squeeze(x, target_dim, expand_dim, tensor_dim): x.squeeze(expand_dim)
 * when tensor_dim == target_dim - 1 (what _unsqueeze added), else x. */
static int fn_mvit_squeeze(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "x");
	int64_t target, at, had;
	if (!x || op_int(c, 1, "target_dim", 0, &target) < 0 ||
	    op_int(c, 2, "expand_dim", 0, &at) < 0 || op_int(c, 3, "tensor_dim", 0, &had) < 0)
		return -1;
	if (had != target - 1) {
		op_set_out(c, value_copy(x));
		return 0;
	}
	int dim;
	const struct shape *xs = op_shape(x);
	if (op_dim(c, at, xs->ndim, &dim) < 0)
		return -1;
	struct shape os = *xs;
	if (xs->ndim > 0 && xs->dim[dim] == 1) {
		memmove(&os.dim[dim], &os.dim[dim + 1], (size_t)(os.ndim - dim - 1) * sizeof *os.dim);
		os.ndim--;
	}
	return op_out_like(c, x, &os);
}

/* ---- the table ---- */

REGISTRY_FUNCTION(cat, fn_cat, "cat(tensors, dim=0)");
REGISTRY_FUNCTION(concat, fn_cat, "cat(tensors, dim=0)");
REGISTRY_FUNCTION(stack, fn_stack, "stack(tensors, dim=0)");
REGISTRY_FUNCTION(chunk, fn_chunk, "chunk(x, chunks, dim=0) -> tuple");
REGISTRY_FUNCTION(split, fn_split, "split(x, split_size_or_sections, dim=0) -> tuple");
REGISTRY_FUNCTION_PY(tensor_split, fn_tensor_split,
                     "tensor_split(x, indices_or_sections, dim=0) -> tuple", "torch.tensor_split");
REGISTRY_FUNCTION(unbind, fn_unbind, "unbind(x, dim=0) -> tuple");
REGISTRY_FUNCTION(flatten, fn_flatten, "flatten(x, start_dim=0, end_dim=-1)");
REGISTRY_FUNCTION(reshape, fn_reshape, "reshape(x, shape); one -1 is inferred");
REGISTRY_FUNCTION(view, fn_reshape, "x.view(*shape); one -1 is inferred");
REGISTRY_FUNCTION(permute, fn_permute, "permute(x, dims)");
REGISTRY_FUNCTION(transpose, fn_transpose, "transpose(x, dim0, dim1)");
REGISTRY_FUNCTION(swapaxes, fn_transpose, "swapaxes(x, axis0, axis1)");
REGISTRY_FUNCTION(swapdims, fn_transpose, "swapdims(x, dim0, dim1)");
REGISTRY_FUNCTION(unsqueeze, fn_unsqueeze, "unsqueeze(x, dim)");
REGISTRY_FUNCTION(squeeze, fn_squeeze, "squeeze(x, dim=None)");
REGISTRY_FUNCTION(expand, fn_expand, "x.expand(*sizes); -1 keeps a size");
REGISTRY_FUNCTION(expand_as, fn_expand, "x.expand_as(other)");
REGISTRY_FUNCTION(contiguous, op_same, "x.contiguous()");
REGISTRY_FUNCTION(clone, op_same, "clone(x)");
REGISTRY_FUNCTION(detach, op_same, "x.detach()");
REGISTRY_FUNCTION(to, fn_to, "x.to(dtype)");
REGISTRY_FUNCTION(type_as, fn_type_as, "x.type_as(other)");
REGISTRY_FUNCTION(float, fn_float, "x.float()");
REGISTRY_FUNCTION(dropout, fn_dropout, "dropout(x, p=0.5, training=True)");
REGISTRY_FUNCTION_PY(dropout1d, fn_dropout, "dropout1d(x, p=0.5, training=True)", "F.dropout1d");
REGISTRY_FUNCTION_PY(dropout2d, fn_dropout, "dropout2d(x, p=0.5, training=True)", "F.dropout2d");
REGISTRY_FUNCTION_PY(dropout3d, fn_dropout, "dropout3d(x, p=0.5, training=True)", "F.dropout3d");
REGISTRY_FUNCTION_PY(alpha_dropout, fn_dropout, "alpha_dropout(x, p=0.5, training=False)",
                     "F.alpha_dropout");
REGISTRY_FUNCTION_PY(feature_alpha_dropout, fn_dropout,
                     "feature_alpha_dropout(x, p=0.5, training=False)", "F.feature_alpha_dropout");
REGISTRY_FUNCTION_PY(unflatten, fn_unflatten, "x.unflatten(dim, sizes); one size may be -1",
                     "torch.Tensor.unflatten");
REGISTRY_FUNCTION(stochastic_depth, fn_stochastic_depth,
                  "stochastic_depth(x, p, mode, training=True)");
REGISTRY_FUNCTION(roll, fn_roll, "roll(x, shifts, dims=None)");
REGISTRY_FUNCTION(_unsqueeze, fn_mvit_unsqueeze,
                  "torchvision MViT: (x.unsqueeze(expand_dim) when x has target_dim - 1 dims, "
                  "x.dim())");
REGISTRY_FUNCTION(_squeeze, fn_mvit_squeeze,
                  "torchvision MViT: x.squeeze(expand_dim) when tensor_dim == target_dim - 1");

const struct op_def *const registry_layout_defs[] = {
    &def_dropout,
    &def_flatten,
    &def_identity,
    &def_stochastic_depth,
    &def_permute,
    &fn_def_cat,
    &fn_def_concat,
    &fn_def_stack,
    &fn_def_chunk,
    &fn_def_split,
    &fn_def_unbind,
    &fn_def_flatten,
    &fn_def_reshape,
    &fn_def_view,
    &fn_def_permute,
    &fn_def_transpose,
    &fn_def_swapaxes,
    &fn_def_swapdims,
    &fn_def_unsqueeze,
    &fn_def_squeeze,
    &fn_def_expand,
    &fn_def_expand_as,
    &fn_def_contiguous,
    &fn_def_clone,
    &fn_def_detach,
    &fn_def_to,
    &fn_def_type_as,
    &fn_def_float,
    &fn_def_dropout,
    &fn_def_stochastic_depth,
    &fn_def_roll,
    &def_dropout1d,
    &def_dropout2d,
    &def_dropout3d,
    &def_alpha_dropout,
    &def_feature_alpha_dropout,
    &fn_def_dropout1d,
    &fn_def_dropout2d,
    &fn_def_dropout3d,
    &fn_def_alpha_dropout,
    &fn_def_feature_alpha_dropout,
    &def_unflatten,
    &fn_def_unflatten,
    &fn_def_tensor_split,
    &fn_def__unsqueeze,
    &fn_def__squeeze,
    NULL,
};
