/* registry.c - lookup of module types and functions, attribute checking and
 * normalisation, and the helpers shape rules share.
 *
 * The entries themselves live in the family files (registry_conv.c,
 * registry_act.c, ...; registry_impl.h lists them). */
#include "core/registry_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "core/util.h"

/* The families, in the order registry_all lists them. */
static const struct op_def *const *const families[] = {
    registry_conv_defs,      registry_linear_defs, registry_norm_defs,
    registry_act_defs,       registry_pool_defs,   registry_layout_defs,
    registry_attention_defs, registry_math_defs,   registry_index_defs,
    registry_rnn_defs,
    registry_resample_defs,
    registry_embed_defs,
    registry_elementwise_defs, registry_reduce_defs, registry_create_defs,
    registry_rearrange_defs, registry_distance_defs,
    registry_boxes_defs,     registry_select_defs, registry_detection_defs,
    registry_onestage_defs,
};

static const struct op_def *find(enum op_kind kind, const char *name)
{
	for (size_t f = 0; f < sizeof families / sizeof *families; f++)
		for (const struct op_def *const *d = families[f]; *d; d++)
			if ((*d)->kind == kind && strcmp((*d)->name, name) == 0)
				return *d;
	return NULL;
}

const struct op_def *registry_module(const char *type)
{
	return find(OP_MODULE, type);
}

const struct op_def *registry_function(const char *name)
{
	return find(OP_FUNCTION, name);
}

const struct op_def *const *registry_all(enum op_kind kind, int *n)
{
	/* Built on first use: the family tables' sizes are not constants here. */
	static const struct op_def **all[2];
	static int count[2];
	int k = kind == OP_MODULE ? 0 : 1;
	if (!all[k]) {
		int total = 0;
		for (size_t f = 0; f < sizeof families / sizeof *families; f++)
			for (const struct op_def *const *d = families[f]; *d; d++)
				total++;
		all[k] = xmalloc((size_t)total * sizeof *all[k]);
		for (size_t f = 0; f < sizeof families / sizeof *families; f++)
			for (const struct op_def *const *d = families[f]; *d; d++)
				if ((*d)->kind == kind)
					all[k][count[k]++] = *d;
	}
	*n = count[k];
	return all[k];
}

const struct attr_spec *registry_attr_spec(const struct op_def *def, const char *name)
{
	for (int i = 0; i < def->nattrs; i++)
		if (strcmp(def->attrs[i].name, name) == 0)
			return &def->attrs[i];
	return NULL;
}

/* ---- attributes ---- */

static int unknown_attr(const struct op_def *def, const char *name, struct error *e)
{
	const char **names = xmalloc((size_t)def->nattrs * sizeof *names);
	for (int i = 0; i < def->nattrs; i++)
		names[i] = def->attrs[i].name;
	/* Close enough to be a typo: a third of the name, at least 2 edits. */
	int limit = (int)strlen(name) / 3;
	const char *best = text_closest(name, names, def->nattrs, limit < 2 ? 2 : limit);
	free(names);
	if (best)
		return error_set(e, "%s has no attribute '%s' (did you mean '%s'?)", def->name,
		                 name, best);
	if (def->nattrs == 0)
		return error_set(e, "%s has no attribute '%s' (it takes none)", def->name, name);
	return error_set(e, "%s has no attribute '%s'", def->name, name);
}

static const char *attr_type_text(enum attr_type t)
{
	switch (t) {
	case AT_INT:
		return "an int";
	case AT_FLOAT:
		return "a number";
	case AT_BOOL:
		return "True or False";
	case AT_STR:
		return "a string";
	case AT_INT_PAIR:
		return "an int or a pair of ints";
	case AT_INTS:
		return "an int or a tuple of ints";
	case AT_INT_OR_NONE:
		return "an int or None";
	case AT_FLOAT_OR_NONE:
		return "a number or None";
	case AT_PADDING:
		return "an int, a pair of ints, 'same' or 'valid'";
	case AT_ANY:
		return "a value";
	}
	return "a value";
}

static bool all_ints(const struct value *v)
{
	for (int i = 0; i < v->u.list.n; i++)
		if (v->u.list.items[i].kind != VAL_INT)
			return false;
	return true;
}

static struct value int_list(const int64_t *x, int n)
{
	struct value out = value_list(n);
	for (int i = 0; i < n; i++)
		out.u.list.items[i] = value_int(x[i]);
	return out;
}

/* Checks v against spec and writes the normalised value to *out. */
static int attr_normalise(const struct op_def *def, const struct attr_spec *spec,
                          const struct value *v, struct value *out, struct error *e)
{
	switch (spec->type) {
	case AT_INT:
		if (v->kind == VAL_INT)
			goto copy;
		break;
	case AT_FLOAT:
		if (v->kind == VAL_FLOAT)
			goto copy;
		if (v->kind == VAL_INT) {
			*out = value_float((double)v->u.i);
			return 0;
		}
		break;
	case AT_BOOL:
		if (v->kind == VAL_BOOL)
			goto copy;
		break;
	case AT_STR:
		if (v->kind == VAL_STR)
			goto copy;
		break;
	case AT_INT_PAIR:
	case AT_PADDING:
		if (spec->type == AT_PADDING && v->kind == VAL_STR) {
			if (strcmp(v->u.s, "same") == 0 || strcmp(v->u.s, "valid") == 0)
				goto copy;
			break;
		}
		if (v->kind == VAL_INT) {
			int64_t p[2] = {v->u.i, v->u.i};
			*out = int_list(p, 2);
			return 0;
		}
		if (v->kind == VAL_LIST && v->u.list.n == 2 && all_ints(v))
			goto copy;
		break;
	case AT_INTS:
		if (v->kind == VAL_INT) {
			*out = int_list(&v->u.i, 1);
			return 0;
		}
		if (v->kind == VAL_LIST && all_ints(v))
			goto copy;
		break;
	case AT_INT_OR_NONE:
		if (v->kind == VAL_INT || v->kind == VAL_NONE)
			goto copy;
		break;
	case AT_FLOAT_OR_NONE:
		if (v->kind == VAL_FLOAT || v->kind == VAL_NONE)
			goto copy;
		if (v->kind == VAL_INT) {
			*out = value_float((double)v->u.i);
			return 0;
		}
		break;
	case AT_ANY:
		goto copy;
	}
	char got[128];
	value_format(v, got, sizeof got);
	return error_set(e, "%s: attribute '%s' must be %s, got %s", def->name, spec->name,
	                 attr_type_text(spec->type), got);
copy:
	*out = value_copy(v);
	return 0;
}

static void free_attrs(struct attr *a, int n)
{
	for (int i = 0; i < n; i++) {
		free(a[i].name);
		value_free(&a[i].value);
	}
	free(a);
}

static void free_params(struct param *p, int n)
{
	for (int i = 0; i < n; i++)
		param_free_fields(&p[i]);
	free(p);
}

/* Builds the normalised attribute array of m in schema order. */
static struct attr *normalise_attrs(const struct op_def *def, const struct module *m,
                                    struct error *e)
{
	for (int i = 0; i < m->nattrs; i++)
		if (!registry_attr_spec(def, m->attrs[i].name)) {
			unknown_attr(def, m->attrs[i].name, e);
			return NULL;
		}
	struct attr *na = xcalloc((size_t)(def->nattrs ? def->nattrs : 1), sizeof *na);
	const char *missing[16];
	int nmissing = 0;
	for (int i = 0; i < def->nattrs; i++) {
		const struct attr_spec *spec = &def->attrs[i];
		na[i].name = xstrdup(spec->name);
		const struct value *v = module_attr(m, spec->name);
		struct value parsed = {0};
		if (!v) {
			if (!spec->def) {
				if (nmissing < 16)
					missing[nmissing++] = spec->name;
				continue;
			}
			struct error pe = {0};
			if (value_parse(spec->def, &parsed, NULL, &pe) < 0) {
				error_setk(e, ERR_INTERNAL, "%s: bad default for '%s': %s",
				           def->name, spec->name, pe.msg);
				free_attrs(na, def->nattrs);
				return NULL;
			}
			v = &parsed;
		}
		int rc = attr_normalise(def, spec, v, &na[i].value, e);
		value_free(&parsed);
		if (rc < 0) {
			free_attrs(na, def->nattrs);
			return NULL;
		}
	}
	if (nmissing) {
		struct strbuf sb = {0};
		for (int i = 0; i < nmissing; i++)
			strbuf_addf(&sb, "%s'%s'",
			            i == 0              ? ""
			            : i == nmissing - 1 ? " and "
			                                : ", ",
			            missing[i]);
		error_set(e, "%s needs attribute%s %s", def->name, nmissing > 1 ? "s" : "", sb.s);
		strbuf_free(&sb);
		free_attrs(na, def->nattrs);
		return NULL;
	}
	return na;
}

int registry_prepare(struct module *m, struct error *e)
{
	const struct op_def *def = registry_module(m->type);
	if (!def || def->kind != OP_MODULE)
		return error_set(e, "'%s' is not a module type graft knows", m->type);
	struct attr *na = normalise_attrs(def, m, e);
	if (!na)
		return -1;

	/* Swap the new attributes in, keeping the old ones until all is well. */
	struct attr *old_attrs = m->attrs;
	int old_nattrs = m->nattrs;
	const struct op_def *old_def = m->def;
	m->attrs = na;
	m->nattrs = def->nattrs;
	m->def = def;
	struct param *old_params = m->params;
	int old_nparams = m->nparams;
	m->params = NULL;
	m->nparams = 0;
	if ((def->check && def->check(m, e) < 0) || (def->params && def->params(m, e) < 0)) {
		free_params(m->params, m->nparams);
		free_attrs(m->attrs, m->nattrs);
		m->params = old_params;
		m->nparams = old_nparams;
		m->attrs = old_attrs;
		m->nattrs = old_nattrs;
		m->def = old_def;
		return -1;
	}

	/* Keep the storage (and frozen state) of tensors that still fit. */
	for (int i = 0; i < m->nparams; i++) {
		struct param *p = &m->params[i];
		for (int j = 0; j < old_nparams; j++) {
			struct param *o = &old_params[j];
			if (!o->name || strcmp(o->name, p->name) != 0 || o->buffer != p->buffer)
				continue;
			if (!p->buffer)
				p->trainable = o->trainable;
			p->tie = o->tie;
			o->tie = NULL;
			if (o->t.storage && o->t.dtype == p->t.dtype &&
			    shape_equal(&o->t.shape, &p->t.shape)) {
				tensor_release(&p->t);
				p->t.storage = o->t.storage;
				p->t.offset = o->t.offset;
				o->t.storage = NULL;
			}
			break;
		}
	}
	free_params(old_params, old_nparams);
	free_attrs(old_attrs, old_nattrs);
	return 0;
}

/* ---- helpers for shape rules ---- */

const struct value *op_arg(const struct op_call *c, int pos, const char *kw)
{
	if (pos >= 0 && pos < c->nargs)
		return &c->args[pos];
	if (kw)
		for (int i = 0; i < c->nkwargs; i++)
			if (strcmp(c->kwargs[i].name, kw) == 0)
				return &c->kwargs[i].value;
	return NULL;
}

static const char *call_name(const struct op_call *c)
{
	return c->def ? c->def->name : "call";
}

const struct value *op_tensor(struct op_call *c, int pos, const char *kw)
{
	const struct value *v = op_arg(c, pos, kw);
	if (v && v->kind == VAL_TENSOR)
		return v;
	char what[64];
	if (kw)
		snprintf(what, sizeof what, "'%s'", kw);
	else
		snprintf(what, sizeof what, "argument %d", pos + 1);
	if (!v) {
		op_fail(c, "%s() needs a tensor for %s", call_name(c), what);
		return NULL;
	}
	char got[128];
	value_format(v, got, sizeof got);
	op_fail(c, "%s() needs a tensor for %s, got %s", call_name(c), what, got);
	return NULL;
}

/* True when a and b hold the same sizes once dimensions of size 1 are
 * dropped, in any order: [1, 512, 1, 1] and [1, 512] (a flatten after a
 * global pool), [1, 96, 56, 56] and [1, 56, 56, 96] (a permute). */
static bool same_sizes(const struct shape *a, const struct shape *b)
{
	int64_t x[SHAPE_MAX_DIMS], y[SHAPE_MAX_DIMS];
	int nx = 0, ny = 0;
	for (int i = 0; i < a->ndim; i++)
		if (a->dim[i] != 1)
			x[nx++] = a->dim[i];
	for (int i = 0; i < b->ndim; i++)
		if (b->dim[i] != 1)
			y[ny++] = b->dim[i];
	if (nx != ny)
		return false;
	/* Match each size of x with an unused equal size of y. */
	bool used[SHAPE_MAX_DIMS] = {false};
	for (int i = 0; i < nx; i++) {
		int j = 0;
		while (j < ny && (used[j] || y[j] != x[i]))
			j++;
		if (j == ny)
			return false;
		used[j] = true;
	}
	return true;
}

void op_out_tensor(struct op_call *c, enum dtype dt, const struct shape *s,
                   const struct value *keep_origin_from)
{
	struct origin o;
	/* A module with a size attribute makes its sizes even when they happen
	 * to equal its input's (a 64 -> 64 convolution). */
	bool sizes_own = c->module && c->module->def && c->module->def->size_attr;
	if (keep_origin_from && keep_origin_from->kind == VAL_TENSOR && !sizes_own &&
	    same_sizes(&keep_origin_from->u.tensor.t.shape, s)) {
		o = keep_origin_from->u.tensor.origin;
	} else if (c->module) {
		o.module = c->module;
		o.node = NULL;
	} else {
		o.module = c->owner;
		o.node = c->node;
	}
	value_free(&c->out);
	c->out = value_tensor_meta(dt, s, o);
	c->out.u.tensor.t.shape.bounded = 0;
}

void origin_describe(const struct value *v, char *buf, size_t size)
{
	char path[512];
	if (!v || v->kind != VAL_TENSOR) {
		char got[128];
		if (v)
			value_format(v, got, sizeof got);
		snprintf(buf, size, "%s", v ? got : "nothing");
		return;
	}
	const struct origin *o = &v->u.tensor.origin;
	if (o->node) {
		if (o->module)
			module_path_buf(o->module, path, sizeof path);
		else
			path[0] = '\0';
		if (path[0])
			snprintf(buf, size, "%s (in %s)", o->node->name, path);
		else
			snprintf(buf, size, "%s", o->node->name);
		return;
	}
	if (!o->module) {
		snprintf(buf, size, "the model input");
		return;
	}
	module_path_buf(o->module, path, sizeof path);
	if (!path[0])
		snprintf(path, sizeof path, "the model");
	const struct op_def *def = o->module->def;
	const struct value *a =
	    def && def->size_attr ? module_attr(o->module, def->size_attr) : NULL;
	if (a) {
		char val[128];
		value_format(a, val, sizeof val);
		snprintf(buf, size, "%s (%s=%s)", path, def->size_attr, val);
	} else {
		snprintf(buf, size, "%s", path);
	}
}

/* The call's name for messages: c->path when set, else the module's
 * dotted path, or "OWNER:NODE" for a function node. Computed only when a
 * message needs it, so the shape pass builds no strings on success. */
const char *op_path(const struct op_call *c, char *buf, size_t size)
{
	if (c->path)
		return c->path;
	if (c->module) {
		module_path_buf(c->module, buf, size);
		if (!buf[0])
			snprintf(buf, size, "%s", c->module->type);
		return buf;
	}
	char owner[2048] = "";
	if (c->owner)
		module_path_buf(c->owner, owner, sizeof owner);
	const char *node = c->node ? c->node->name : c->def ? c->def->name : "?";
	if (owner[0])
		snprintf(buf, size, "%s:%s", owner, node);
	else
		snprintf(buf, size, "%s", node);
	return buf;
}

int op_break(struct op_call *c, const struct value *from, const char *desc, const char *got_fmt,
             ...)
{
	char got[256], origin[640];
	va_list ap;
	va_start(ap, got_fmt);
	vsnprintf(got, sizeof got, got_fmt, ap);
	va_end(ap);
	origin_describe(from, origin, sizeof origin);
	char path[2600];
	return error_setk(c->err, ERR_SHAPE, "%s: %s gets %s from %s",
	                  op_path(c, path, sizeof path), desc, got, origin);
}

int op_fail(struct op_call *c, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char path[2600];
	return error_setk(c->err, ERR_INPUT, "%s: %s", op_path(c, path, sizeof path), msg);
}

int op_mismatch(struct op_call *c, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char path[2600];
	return error_setk(c->err, ERR_SHAPE, "%s: %s", op_path(c, path, sizeof path), msg);
}

int op_int(struct op_call *c, int pos, const char *kw, int64_t def, int64_t *out)
{
	const struct value *v = op_arg(c, pos, kw);
	if (!v || v->kind == VAL_NONE) {
		*out = def;
		return 0;
	}
	if (v->kind == VAL_INT) {
		*out = v->u.i;
		return 0;
	}
	char got[128];
	value_format(v, got, sizeof got);
	return op_fail(c, "%s() needs an int for '%s', got %s", call_name(c), kw ? kw : "argument",
	               got);
}

int op_int_list(struct op_call *c, int pos, const char *kw, bool varargs, int64_t *out, int max)
{
	const struct value *v = op_arg(c, pos, kw);
	const char *what = kw ? kw : "argument";
	if (!v)
		return op_fail(c, "%s() needs '%s'", call_name(c), what);
	if (v->kind == VAL_INT && varargs && pos >= 0 && pos < c->nargs) {
		int n = c->nargs - pos;
		if (n > max)
			return op_fail(c, "%s(): too many values for '%s'", call_name(c), what);
		for (int i = 0; i < n; i++) {
			const struct value *a = &c->args[pos + i];
			if (a->kind != VAL_INT) {
				char got[128];
				value_format(a, got, sizeof got);
				return op_fail(c, "%s() needs ints for '%s', got %s", call_name(c),
				               what, got);
			}
			out[i] = a->u.i;
		}
		return n;
	}
	if (v->kind == VAL_INT) {
		out[0] = v->u.i;
		return 1;
	}
	if (v->kind == VAL_LIST && all_ints(v)) {
		if (v->u.list.n > max)
			return op_fail(c, "%s(): too many values for '%s'", call_name(c), what);
		for (int i = 0; i < v->u.list.n; i++)
			out[i] = v->u.list.items[i].u.i;
		return v->u.list.n;
	}
	char got[128];
	value_format(v, got, sizeof got);
	return op_fail(c, "%s() needs an int or a tuple of ints for '%s', got %s", call_name(c),
	               what, got);
}

int op_dim(struct op_call *c, int64_t dim, int ndim, int *out)
{
	int64_t n = ndim > 0 ? ndim : 1;
	if (dim < -n || dim >= n)
		return op_mismatch(
		    c,
		    "dimension out of range (expected to be in range of [%lld, %lld], "
		    "but got %lld)",
		    (long long)-n, (long long)(n - 1), (long long)dim);
	*out = (int)(dim < 0 ? dim + n : dim);
	return 0;
}

/* Floor division for a positive divisor. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && (a < 0))
		q--;
	return q;
}

int64_t op_window_out(int64_t in, int64_t k, int64_t s, int64_t pad_l, int64_t pad_r, int64_t d,
                      bool ceil_mode)
{
	int64_t span, num;
	if (k <= 0 || s <= 0 || d <= 0)
		return INT64_MIN;
	if (__builtin_mul_overflow(d, k - 1, &span) || __builtin_add_overflow(in, pad_l, &num) ||
	    __builtin_add_overflow(num, pad_r, &num) || __builtin_sub_overflow(num, span, &num) ||
	    __builtin_sub_overflow(num, 1, &num) ||
	    (ceil_mode && __builtin_add_overflow(num, s - 1, &num)))
		return INT64_MIN;
	int64_t out = floor_div(num, s) + 1;
	/* The last window must start inside the input or the left padding. */
	if (ceil_mode && out > 0 && (out - 1) * s >= in + pad_l)
		out--;
	return out;
}

int op_softmax_default_dim(int ndim)
{
	return (ndim == 0 || ndim == 1 || ndim == 3) ? 0 : 1;
}

void registry_describe(const struct module *m, char *buf, size_t size)
{
	char d[200] = "";
	if (m->def && m->def->describe)
		m->def->describe(m, d, sizeof d);
	snprintf(buf, size, "%s%s%s", m->type, d[0] ? " " : "", d);
}

/* ---- helpers for the family files ---- */

/* The input tensor, checked to have a rank in [lo, hi]. */
const struct value *op_input_rank(struct op_call *c, int lo, int hi, const char *what)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return NULL;
	int r = op_shape(x)->ndim;
	if (r < lo || r > hi) {
		char sb[160];
		op_break(c, x, c->def->name, "%d-D %s (needs %s input)", r,
		         shape_format(op_shape(x), sb, sizeof sb), what);
		return NULL;
	}
	return x;
}

/* Appends printf-style text to buf (always terminated). */
void op_append(char *buf, size_t size, const char *fmt, ...)
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
const char *op_sizes_text(const int64_t *v, int n, char *buf, size_t size)
{
	bool same = true;
	for (int i = 1; i < n; i++)
		same = same && v[i] == v[0];
	buf[0] = '\0';
	for (int i = 0; i < (same ? 1 : n); i++)
		op_append(buf, size, "%s%lld", i ? "x" : "", (long long)v[i]);
	return buf;
}

const char *op_pair_text(const int64_t p[2], char *buf, size_t size)
{
	return op_sizes_text(p, 2, buf, size);
}

const char *op_tuple_text(const int64_t *v, int n, char *buf, size_t size)
{
	snprintf(buf, size, "(");
	for (int i = 0; i < n; i++)
		op_append(buf, size, "%s%lld", i ? ", " : "", (long long)v[i]);
	op_append(buf, size, n == 1 ? ",)" : ")");
	return buf;
}

int op_spatial_dims(const char *name)
{
	const char *d = strpbrk(name, "123");
	return d ? *d - '0' : 2;
}

int64_t op_mul_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (a < 0 || b < 0)
		return 0;
	if (__builtin_mul_overflow(a, b, &r))
		return INT64_MAX;
	return r;
}

/* numel of s, or -1 with a break when it is too large. */
int64_t op_checked_numel(struct op_call *c, const struct shape *s)
{
	int64_t n = shape_numel(s);
	if (n < 0) {
		char sb[160];
		op_mismatch(c, "the output %s is too large", shape_format(s, sb, sizeof sb));
	}
	return n;
}

const struct shape *op_shape(const struct value *v)
{
	return &v->u.tensor.t.shape;
}

enum dtype op_dtype(const struct value *v)
{
	return v->u.tensor.t.dtype;
}

int op_check_positive(const struct module *m, const char *name, struct error *e)
{
	int64_t v = module_attr_int(m, name, 1);
	if (v <= 0)
		return error_set(e, "%s: %s must be positive, got %lld", m->type, name,
		                 (long long)v);
	return 0;
}

int op_check_positive_ints(const struct module *m, const char *name, int n, struct error *e)
{
	int64_t p[3];
	char t[96];
	module_attr_ints(m, name, p, n);
	for (int i = 0; i < n; i++)
		if (p[i] <= 0)
			return error_set(e, "%s: %s must be positive, got %s", m->type, name,
			                 op_tuple_text(p, n, t, sizeof t));
	return 0;
}

int op_check_positive_pair(const struct module *m, const char *name, struct error *e)
{
	return op_check_positive_ints(m, name, 2, e);
}

int op_expand_ints(struct module *m, const char *name, int n, struct error *e)
{
	const struct value *v = module_attr(m, name);
	int64_t p[3];
	if (v->kind == VAL_LIST && v->u.list.n == 1 && v->u.list.items[0].kind == VAL_INT)
		v = &v->u.list.items[0];
	if (value_ints(v, p, n) < 0) {
		char got[128];
		value_format(v, got, sizeof got);
		return error_set(e, "%s: attribute '%s' must be an int or %d ints, got %s", m->type,
		                 name, n, got);
	}
	struct value l = value_list(n);
	for (int i = 0; i < n; i++)
		l.u.list.items[i] = value_int(p[i]);
	module_set_attr(m, name, &l);
	value_free(&l);
	return 0;
}

int op_check_probability(const struct module *m, const char *name, struct error *e)
{
	double p = module_attr_float(m, name, 0);
	if (!(p >= 0 && p <= 1))
		return error_set(e, "%s: %s must be between 0 and 1, got %g", m->type, name, p);
	return 0;
}

void op_add_param(struct module *m, const char *name, int ndim, const int64_t *dims, bool buffer)
{
	struct shape s = {.ndim = ndim};
	for (int i = 0; i < ndim; i++)
		s.dim[i] = dims[i];
	module_add_param(m, name, DT_F32, &s, buffer);
}

/* The same shape and dtype as the input, its origin kept. */
int op_same_as_input(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

bool op_is_tensor(const struct value *v)
{
	return v && v->kind == VAL_TENSOR;
}

bool op_is_float_dtype(enum dtype t)
{
	return t == DT_F32 || t == DT_F16 || t == DT_BF16 || t == DT_F64;
}

/* Sets c->out to a tensor like x (same dtype) with shape s, checking its
 * size. */
int op_out_like(struct op_call *c, const struct value *x, const struct shape *s)
{
	if (op_checked_numel(c, s) < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), s, x);
	return 0;
}

void op_set_out(struct op_call *c, struct value v)
{
	value_free(&c->out);
	c->out = v;
}

const char *op_fn_name(const struct op_call *c)
{
	return c->def->name;
}

/* The first argument as a tensor ("input" or "self"). */
const struct value *op_self_tensor(struct op_call *c)
{
	const struct value *x = op_arg(c, 0, "input");
	if (!x)
		x = op_arg(c, -1, "self");
	if (op_is_tensor(x))
		return x;
	return op_tensor(c, 0, "input");
}

/* Broadcasts a and b (PyTorch/NumPy rules) into out. -1 when they do not. */
int op_broadcast(const struct shape *a, const struct shape *b, struct shape *out)
{
	int n = a->ndim > b->ndim ? a->ndim : b->ndim;
	out->ndim = n;
	out->bounded = 0;
	for (int i = 0; i < n; i++) {
		int ia = a->ndim - n + i, ib = b->ndim - n + i;
		int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
		if (da != db && da != 1 && db != 1)
			return -1;
		out->dim[i] = da == 1 ? db : da;
	}
	return 0;
}

/* "from X and Y" for two tensors. */
int op_broadcast_fail(struct op_call *c, const char *verb, const struct value *a,
                      const struct value *b)
{
	char sa[160], sb[160], oa[320], ob[320];
	origin_describe(a, oa, sizeof oa);
	origin_describe(b, ob, sizeof ob);
	return op_mismatch(c, "cannot %s %s with %s (from %s and %s)", verb,
	                   shape_format(op_shape(a), sa, sizeof sa),
	                   shape_format(op_shape(b), sb, sizeof sb), oa, ob);
}

/* A list of tensors from the argument at pos (a tuple) or from the
 * positional arguments from pos on. Returns the count or -1. */
int op_tensor_list(struct op_call *c, int pos, const char *kw, const struct value ***out)
{
	const struct value *v = op_arg(c, pos, kw);
	if (!v)
		return op_fail(c, "%s() needs a sequence of tensors", op_fn_name(c));
	int n;
	const struct value *items;
	if (v->kind == VAL_LIST) {
		n = v->u.list.n;
		items = v->u.list.items;
	} else {
		n = c->nargs - pos;
		items = &c->args[pos];
	}
	if (n < 1)
		return op_fail(c, "%s() needs at least one tensor", op_fn_name(c));
	const struct value **t = xcalloc((size_t)n, sizeof *t);
	for (int i = 0; i < n; i++) {
		if (items[i].kind != VAL_TENSOR) {
			char got[128];
			value_format(&items[i], got, sizeof got);
			free(t);
			return op_fail(c, "%s() needs tensors, got %s", op_fn_name(c), got);
		}
		t[i] = &items[i];
	}
	*out = t;
	return n;
}

/* ---- elementwise ---- */

/* Same shape and dtype as the input (activations, contiguous, ...). */
int op_same(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	if (!x)
		return -1;
	op_out_tensor(c, op_dtype(x), op_shape(x), x);
	return 0;
}

/* A tensor argument that may be absent or None; -1 when it is something
 * else. */
int op_optional_tensor(struct op_call *c, int pos, const char *kw, const struct value **out)
{
	const struct value *v = op_arg(c, pos, kw);
	*out = NULL;
	if (!v || v->kind == VAL_NONE)
		return 0;
	if (v->kind != VAL_TENSOR)
		return op_fail(c, "%s() needs a tensor or None for '%s'", op_fn_name(c), kw);
	*out = v;
	return 0;
}

/* An int or bool value as an int. */
int64_t op_as_int(const struct value *v)
{
	return v->kind == VAL_BOOL ? (int64_t)v->u.b : v->u.i;
}

/* An int or a pair of ints (a one-item tuple repeats) into p; def when
 * absent, None or an empty tuple. */
int op_tuple_arg(struct op_call *c, int pos, const char *kw, int n, const int64_t *def,
                 int64_t *p)
{
	const struct value *v = op_arg(c, pos, kw);
	if (!v || v->kind == VAL_NONE || (v->kind == VAL_LIST && v->u.list.n == 0)) {
		if (!def)
			return op_fail(c, "%s() needs '%s'", op_fn_name(c), kw);
		memcpy(p, def, (size_t)n * sizeof *p);
		return 0;
	}
	if (v->kind == VAL_LIST && v->u.list.n == 1 && v->u.list.items[0].kind == VAL_INT) {
		for (int i = 0; i < n; i++)
			p[i] = v->u.list.items[0].u.i;
		return 0;
	}
	if (value_ints(v, p, n) == 0)
		return 0;
	char got[128];
	value_format(v, got, sizeof got);
	if (n == 2)
		return op_fail(c, "%s() needs an int or a pair of ints for '%s', got %s",
		               op_fn_name(c), kw, got);
	return op_fail(c, "%s() needs an int or %d ints for '%s', got %s", op_fn_name(c), n, kw,
	               got);
}

int op_pair_arg(struct op_call *c, int pos, const char *kw, const int64_t *def, int64_t p[2])
{
	return op_tuple_arg(c, pos, kw, 2, def, p);
}
