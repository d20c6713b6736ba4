/* value.c - graph and attribute values: construction, copying, parsing and
 * formatting in graft's Python-literal syntax. */
#include "core/value.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct value value_none(void)
{
	struct value v = {.kind = VAL_NONE};
	return v;
}

struct value value_bool(bool b)
{
	struct value v = {.kind = VAL_BOOL, .u.b = b};
	return v;
}

struct value value_int(int64_t i)
{
	struct value v = {.kind = VAL_INT, .u.i = i};
	return v;
}

struct value value_float(double f)
{
	struct value v = {.kind = VAL_FLOAT, .u.f = f};
	return v;
}

struct value value_str(const char *s)
{
	struct value v = {.kind = VAL_STR, .u.s = xstrdup(s)};
	return v;
}

struct value value_list(int n)
{
	struct value v = {.kind = VAL_LIST};
	v.u.list.n = n;
	v.u.list.items = xcalloc((size_t)(n > 0 ? n : 1), sizeof(struct value));
	return v;
}

struct value value_dict(int n, const char *const *keys)
{
	struct value v = value_list(n);
	v.u.list.keys = xcalloc((size_t)(n > 0 ? n : 1), sizeof *v.u.list.keys);
	for (int i = 0; i < n; i++)
		v.u.list.keys[i] = xstrdup(keys[i]);
	return v;
}

struct value value_list_like(const struct value *v)
{
	if (v->u.list.keys)
		return value_dict(v->u.list.n, (const char *const *)v->u.list.keys);
	return value_list(v->u.list.n);
}

struct value value_tensor_meta(enum dtype dt, const struct shape *s, struct origin o)
{
	struct value v = {.kind = VAL_TENSOR};
	v.u.tensor.t.dtype = dt;
	v.u.tensor.t.shape = *s;
	v.u.tensor.origin = o;
	return v;
}

struct value value_copy(const struct value *v)
{
	struct value c = *v;
	switch (v->kind) {
	case VAL_STR:
		c.u.s = xstrdup(v->u.s);
		break;
	case VAL_LIST:
		c = value_list_like(v);
		for (int i = 0; i < v->u.list.n; i++)
			c.u.list.items[i] = value_copy(&v->u.list.items[i]);
		break;
	case VAL_TENSOR:
		if (v->u.tensor.t.storage)
			storage_ref(v->u.tensor.t.storage);
		break;
	default:
		break;
	}
	return c;
}

void value_free(struct value *v)
{
	switch (v->kind) {
	case VAL_STR:
		free(v->u.s);
		break;
	case VAL_LIST:
		for (int i = 0; i < v->u.list.n; i++) {
			value_free(&v->u.list.items[i]);
			if (v->u.list.keys)
				free(v->u.list.keys[i]);
		}
		free(v->u.list.items);
		free(v->u.list.keys);
		break;
	case VAL_TENSOR:
		storage_unref(v->u.tensor.t.storage);
		break;
	default:
		break;
	}
	v->kind = VAL_NONE;
}

static void add_tensors(const struct value *v, const struct tensor **out, int *n, int max)
{
	if (v->kind == VAL_TENSOR && *n < max)
		out[(*n)++] = &v->u.tensor.t;
	else if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			add_tensors(&v->u.list.items[i], out, n, max);
}

int value_tensors(const struct value *v, const struct tensor **out, int max)
{
	int n = 0;
	add_tensors(v, out, &n, max);
	return n;
}

/* key: the buffer holding the key so far, len its length. */
static int each_tensor(const struct value *v, char *key, size_t len, size_t size,
		       int (*fn)(const char *key, const struct tensor *t, void *ctx), void *ctx)
{
	if (v->kind == VAL_TENSOR)
		return fn(key, &v->u.tensor.t, ctx);
	if (v->kind != VAL_LIST)
		return 0;
	for (int i = 0; i < v->u.list.n; i++) {
		if (v->u.list.keys)
			snprintf(key + len, size - len, "%s%s", len ? "." : "", v->u.list.keys[i]);
		else
			snprintf(key + len, size - len, "%s%d", len ? "." : "", i);
		int rc = each_tensor(&v->u.list.items[i], key, strlen(key), size, fn, ctx);
		key[len] = '\0';
		if (rc)
			return rc;
	}
	return 0;
}

int value_each_tensor(const struct value *v,
		      int (*fn)(const char *key, const struct tensor *t, void *ctx), void *ctx)
{
	char key[1024] = "";
	return each_tensor(v, key, 0, sizeof key, fn, ctx);
}

bool value_equal(const struct value *a, const struct value *b)
{
	if (a->kind != b->kind) {
		double x, y;
		/* 1 == 1.0, as in Python */
		if (a->kind != VAL_BOOL && b->kind != VAL_BOOL && value_number(a, &x) &&
		    value_number(b, &y))
			return x == y;
		return false;
	}
	switch (a->kind) {
	case VAL_NONE:
	case VAL_ELLIPSIS:
		return true;
	case VAL_BOOL:
		return a->u.b == b->u.b;
	case VAL_INT:
		return a->u.i == b->u.i;
	case VAL_FLOAT:
		return a->u.f == b->u.f;
	case VAL_STR:
		return strcmp(a->u.s, b->u.s) == 0;
	case VAL_LIST:
		if (a->u.list.n != b->u.list.n || !a->u.list.keys != !b->u.list.keys)
			return false;
		for (int i = 0; i < a->u.list.n; i++)
			if (!value_equal(&a->u.list.items[i], &b->u.list.items[i]) ||
			    (a->u.list.keys && strcmp(a->u.list.keys[i], b->u.list.keys[i]) != 0))
				return false;
		return true;
	case VAL_SLICE:
		return a->u.slice.has_start == b->u.slice.has_start &&
		       a->u.slice.has_stop == b->u.slice.has_stop &&
		       a->u.slice.has_step == b->u.slice.has_step &&
		       (!a->u.slice.has_start || a->u.slice.start == b->u.slice.start) &&
		       (!a->u.slice.has_stop || a->u.slice.stop == b->u.slice.stop) &&
		       (!a->u.slice.has_step || a->u.slice.step == b->u.slice.step);
	case VAL_DTYPE:
		return a->u.dtype == b->u.dtype;
	case VAL_REF:
		return a->u.ref == b->u.ref;
	case VAL_TENSOR:
		return a->u.tensor.t.dtype == b->u.tensor.t.dtype &&
		       shape_equal(&a->u.tensor.t.shape, &b->u.tensor.t.shape);
	}
	return false;
}

int64_t value_bytes(const struct value *v)
{
	if (v->kind == VAL_TENSOR) {
		int64_t n = shape_numel(&v->u.tensor.t.shape);
		return n < 0 ? 0 : n * (int64_t)dtype_size(v->u.tensor.t.dtype);
	}
	int64_t total = 0;
	if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			total += value_bytes(&v->u.list.items[i]);
	return total;
}

int value_ints(const struct value *v, int64_t *out, int n)
{
	if (v->kind == VAL_INT) {
		for (int i = 0; i < n; i++)
			out[i] = v->u.i;
		return 0;
	}
	if (v->kind != VAL_LIST || v->u.list.n != n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (v->u.list.items[i].kind != VAL_INT)
			return -1;
		out[i] = v->u.list.items[i].u.i;
	}
	return 0;
}

bool value_number(const struct value *v, double *out)
{
	if (v->kind == VAL_INT) {
		*out = (double)v->u.i;
		return true;
	}
	if (v->kind == VAL_FLOAT) {
		*out = v->u.f;
		return true;
	}
	return false;
}

/* --- parsing ----------------------------------------------------------- */

struct parser {
	const char *p;
	const char *start;
	struct error *e;
	int depth;
};

static void skip_space(struct parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static int parse_fail(struct parser *ps, const char *what)
{
	if (*ps->p)
		return error_set(ps->e, "%s at column %d ('%.20s')", what,
				 (int)(ps->p - ps->start) + 1, ps->p);
	return error_set(ps->e, "%s at the end of '%s'", what, ps->start);
}

static int parse_one(struct parser *ps, struct value *out);

static int parse_sequence(struct parser *ps, char close, struct value *out)
{
	struct value items[256];
	int n = 0;
	bool trailing_comma = false;
	ps->p++;
	skip_space(ps);
	while (*ps->p != close) {
		if (n == (int)(sizeof items / sizeof items[0])) {
			parse_fail(ps, "too many items");
			goto fail;
		}
		if (parse_one(ps, &items[n]) < 0)
			goto fail;
		n++;
		skip_space(ps);
		trailing_comma = false;
		if (*ps->p == ',') {
			ps->p++;
			skip_space(ps);
			trailing_comma = true;
			continue;
		}
		if (*ps->p != close) {
			parse_fail(ps, close == ')' ? "expected ',' or ')'" : "expected ',' or ']'");
			goto fail;
		}
	}
	ps->p++;
	/* (3) is the number 3, as in Python; (3,) is a tuple. */
	if (close == ')' && n == 1 && !trailing_comma) {
		*out = items[0];
		return 0;
	}
	*out = value_list(n);
	memcpy(out->u.list.items, items, (size_t)n * sizeof items[0]);
	return 0;
fail:
	for (int i = 0; i < n; i++)
		value_free(&items[i]);
	return -1;
}

static int parse_string(struct parser *ps, struct value *out)
{
	char quote = *ps->p++;
	struct strbuf sb = {0};
	while (*ps->p && *ps->p != quote) {
		if (*ps->p == '\\' && ps->p[1])
			ps->p++;
		strbuf_addn(&sb, ps->p, 1);
		ps->p++;
	}
	if (*ps->p != quote) {
		strbuf_free(&sb);
		return parse_fail(ps, "unterminated string");
	}
	ps->p++;
	out->kind = VAL_STR;
	out->u.s = strbuf_take(&sb);
	return 0;
}

static int parse_number(struct parser *ps, struct value *out)
{
	const char *s = ps->p;
	char *end;
	bool is_float = false;
	const char *q = s;
	if (*q == '-' || *q == '+')
		q++;
	while (isalnum((unsigned char)*q) || *q == '.' || ((*q == '-' || *q == '+') && (q[-1] == 'e' || q[-1] == 'E'))) {
		if (*q == '.' || *q == 'e' || *q == 'E' || *q == 'n' || *q == 'i')
			is_float = true;
		q++;
	}
	errno = 0;
	if (!is_float) {
		long long v = strtoll(s, &end, 10);
		if (end == q && errno == 0) {
			*out = value_int(v);
			ps->p = end;
			return 0;
		}
		if (errno == ERANGE)
			return parse_fail(ps, "integer out of range");
	}
	double d = strtod(s, &end);
	if (end != q || end == s)
		return parse_fail(ps, "bad number");
	*out = value_float(d);
	ps->p = end;
	return 0;
}

static int parse_one(struct parser *ps, struct value *out)
{
	skip_space(ps);
	char c = *ps->p;
	if (++ps->depth > 32) {
		ps->depth--;
		return parse_fail(ps, "nested too deeply");
	}
	int rc;
	if (c == '.' && ps->p[1] == '.' && ps->p[2] == '.') {
		ps->p += 3;
		out->kind = VAL_ELLIPSIS;
		rc = 0;
	} else if (c == '(')
		rc = parse_sequence(ps, ')', out);
	else if (c == '[')
		rc = parse_sequence(ps, ']', out);
	else if (c == '\'' || c == '"')
		rc = parse_string(ps, out);
	else if (isdigit((unsigned char)c) || ((c == '-' || c == '+' || c == '.') && ps->p[1] &&
					       (isdigit((unsigned char)ps->p[1]) || ps->p[1] == '.')))
		rc = parse_number(ps, out);
	else if (isalpha((unsigned char)c) || c == '_') {
		const char *s = ps->p;
		while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.')
			ps->p++;
		size_t n = (size_t)(ps->p - s);
		if (n == 4 && !strncmp(s, "True", 4))
			*out = value_bool(true);
		else if (n == 5 && !strncmp(s, "False", 5))
			*out = value_bool(false);
		else if (n == 4 && !strncmp(s, "None", 4))
			*out = value_none();
		else if ((n == 3 && !strncmp(s, "inf", 3)) || (n == 3 && !strncmp(s, "nan", 3)))
			*out = value_float(s[0] == 'i' ? INFINITY : NAN);
		else {
			out->kind = VAL_STR;
			out->u.s = xstrndup(s, n);
		}
		rc = 0;
	} else
		rc = parse_fail(ps, "expected a value");
	ps->depth--;
	return rc;
}

int value_parse(const char *text, struct value *out, const char **end, struct error *e)
{
	struct parser ps = {.p = text, .start = text, .e = e};
	*out = value_none();
	if (parse_one(&ps, out) < 0)
		return -1;
	skip_space(&ps);
	if (end) {
		*end = ps.p;
		return 0;
	}
	if (*ps.p) {
		value_free(out);
		return parse_fail(&ps, "unexpected text");
	}
	return 0;
}

/* --- formatting -------------------------------------------------------- */

static void format_into(const struct value *v, struct strbuf *sb)
{
	switch (v->kind) {
	case VAL_NONE:
		strbuf_add(sb, "None");
		break;
	case VAL_BOOL:
		strbuf_add(sb, v->u.b ? "True" : "False");
		break;
	case VAL_INT:
		strbuf_addf(sb, "%" PRId64, v->u.i);
		break;
	case VAL_FLOAT: {
		char buf[64];
		snprintf(buf, sizeof buf, "%.17g", v->u.f);
		/* the shortest form that reads back the same */
		for (int prec = 1; prec < 17; prec++) {
			char tmp[64];
			snprintf(tmp, sizeof tmp, "%.*g", prec, v->u.f);
			if (strtod(tmp, NULL) == v->u.f) {
				memcpy(buf, tmp, sizeof tmp);
				break;
			}
		}
		if (!strpbrk(buf, ".eEn"))
			strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
		strbuf_add(sb, buf);
		break;
	}
	case VAL_STR:
		strbuf_addf(sb, "'%s'", v->u.s);
		break;
	case VAL_LIST:
		strbuf_add(sb, v->u.list.keys ? "{" : "(");
		for (int i = 0; i < v->u.list.n; i++) {
			if (i)
				strbuf_add(sb, ", ");
			if (v->u.list.keys)
				strbuf_addf(sb, "'%s': ", v->u.list.keys[i]);
			format_into(&v->u.list.items[i], sb);
		}
		strbuf_add(sb, v->u.list.keys ? "}" : v->u.list.n == 1 ? ",)" : ")");
		break;
	case VAL_SLICE:
		if (v->u.slice.has_start)
			strbuf_addf(sb, "%" PRId64, v->u.slice.start);
		strbuf_add(sb, ":");
		if (v->u.slice.has_stop)
			strbuf_addf(sb, "%" PRId64, v->u.slice.stop);
		if (v->u.slice.has_step)
			strbuf_addf(sb, ":%" PRId64, v->u.slice.step);
		break;
	case VAL_ELLIPSIS:
		strbuf_add(sb, "...");
		break;
	case VAL_DTYPE:
		strbuf_addf(sb, "torch.%s", dtype_name(v->u.dtype));
		break;
	case VAL_REF:
		strbuf_addf(sb, "%%%d", v->u.ref);
		break;
	case VAL_TENSOR: {
		char buf[160];
		strbuf_addf(sb, "Tensor%s", shape_format(&v->u.tensor.t.shape, buf, sizeof buf));
		break;
	}
	}
}

void value_format(const struct value *v, char *buf, size_t size)
{
	struct strbuf sb = {0};
	format_into(v, &sb);
	snprintf(buf, size, "%s", sb.s ? sb.s : "");
	strbuf_free(&sb);
}

void value_format_shapes(const struct value *v, shape_format_fn format_shape, struct strbuf *sb)
{
	char buf[200];
	if (v->kind == VAL_TENSOR) {
		strbuf_add(sb, format_shape(&v->u.tensor.t.shape, buf, sizeof buf));
	} else if (v->kind == VAL_LIST) {
		strbuf_add(sb, v->u.list.keys ? "{" : "(");
		for (int i = 0; i < v->u.list.n; i++) {
			if (i)
				strbuf_add(sb, ", ");
			if (v->u.list.keys)
				strbuf_addf(sb, "%s: ", v->u.list.keys[i]);
			value_format_shapes(&v->u.list.items[i], format_shape, sb);
		}
		strbuf_add(sb, v->u.list.keys ? "}" : ")");
	} else {
		value_format(v, buf, sizeof buf);
		strbuf_add(sb, buf);
	}
}
