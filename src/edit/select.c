/* select.c - picking modules by type, attribute filters or path glob. */
#include "edit/select.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "core/util.h"
#include "core/value.h"

/* Dynamic programming over (glob position, path position), from the
 * ends: at[i * (pn + 1) + j] tells whether g[i..] matches p[j..]. Time and
 * memory are len(g) * len(p) whatever the stars, where trying every split
 * of every star took exponential time. */
bool glob_match(const char *g, const char *p)
{
	size_t gn = strlen(g), pn = strlen(p), w = pn + 1;
	bool *at = xcalloc((gn + 2) * w, sizeof *at);
	at[gn * w + pn] = true;
	for (size_t i = gn; i-- > 0;) {
		bool twice = g[i] == '*' && g[i + 1] == '*';
		for (size_t j = pn + 1; j-- > 0;) {
			bool more = j < pn; /* a path character is left */
			bool m;
			if (twice)
				m = at[(i + 2) * w + j] || (more && at[i * w + j + 1]);
			else if (g[i] == '*')
				m = at[(i + 1) * w + j] || (more && p[j] != '.' && at[i * w + j + 1]);
			else if (g[i] == '?')
				m = more && p[j] != '.' && at[(i + 1) * w + j + 1];
			else
				m = more && g[i] == p[j] && at[(i + 1) * w + j + 1];
			at[i * w + j] = m;
		}
	}
	bool match = at[0];
	free(at);
	return match;
}

enum cmp_op { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

struct filter {
	char *attr;
	enum cmp_op op;
	struct value v;
};

struct selector {
	char *type;   /* type selector, or NULL */
	char *glob;   /* path glob, or NULL */
	struct filter *filters;
	int nfilters;
};

static bool compare_number(double a, enum cmp_op op, double b)
{
	switch (op) {
	case CMP_EQ:
		return a == b;
	case CMP_NE:
		return a != b;
	case CMP_LT:
		return a < b;
	case CMP_LE:
		return a <= b;
	case CMP_GT:
		return a > b;
	case CMP_GE:
		return a >= b;
	}
	return false;
}

/* A single number matches a list when every element matches it
 * (kernel_size=1 matches (1, 1)). */
static bool filter_match(const struct filter *f, const struct value *v)
{
	double a, b;
	if (!v)
		return false;
	if (v->kind == VAL_LIST && f->v.kind != VAL_LIST && v->u.list.n > 0) {
		for (int i = 0; i < v->u.list.n; i++)
			if (!filter_match(f, &v->u.list.items[i]))
				return false;
		return true;
	}
	if (value_number(v, &a) && v->kind != VAL_BOOL && value_number(&f->v, &b))
		return compare_number(a, f->op, b);
	if (f->op == CMP_EQ)
		return value_equal(v, &f->v);
	if (f->op == CMP_NE)
		return !value_equal(v, &f->v);
	return false;
}

void select_free(struct selector *s)
{
	if (!s)
		return;
	free(s->type);
	free(s->glob);
	for (int i = 0; i < s->nfilters; i++) {
		free(s->filters[i].attr);
		value_free(&s->filters[i].v);
	}
	free(s->filters);
	free(s);
}

static int parse_filters(struct selector *s, const char *p, struct error *e)
{
	/* p points after '[' */
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		const char *start = p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (p == start)
			return error_set(e, "selector: expected an attribute name at '%.20s'", start);
		struct filter f = {.attr = xstrndup(start, (size_t)(p - start))};
		while (isspace((unsigned char)*p))
			p++;
		if (!strncmp(p, "!=", 2))
			f.op = CMP_NE, p += 2;
		else if (!strncmp(p, "<=", 2))
			f.op = CMP_LE, p += 2;
		else if (!strncmp(p, ">=", 2))
			f.op = CMP_GE, p += 2;
		else if (!strncmp(p, "==", 2))
			f.op = CMP_EQ, p += 2;
		else if (*p == '=')
			f.op = CMP_EQ, p++;
		else if (*p == '<')
			f.op = CMP_LT, p++;
		else if (*p == '>')
			f.op = CMP_GT, p++;
		else {
			free(f.attr);
			return error_set(e, "selector: expected =, !=, <, <=, > or >= after '%.*s'",
					 (int)(p - start), start);
		}
		const char *end;
		if (value_parse(p, &f.v, &end, e) < 0) {
			free(f.attr);
			return error_prefix(e, "selector");
		}
		s->filters = xrealloc(s->filters, (size_t)(s->nfilters + 1) * sizeof *s->filters);
		s->filters[s->nfilters++] = f;
		p = end;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ']' && !p[1])
			return 0;
		return error_set(e, "selector: expected ',' or a final ']' at '%.20s'", p);
	}
}

struct pick {
	struct selector *sel;
	struct module **out;
	int n, cap;
};

bool select_picks(const struct selector *s, const struct module *m)
{
	if (s->type && strcmp(m->type, s->type) != 0)
		return false;
	if (s->glob) {
		char path[4096];
		module_path_buf(m, path, sizeof path);
		if (!m->parent || !glob_match(s->glob, path))
			return false;
	}
	for (int i = 0; i < s->nfilters; i++)
		if (!filter_match(&s->filters[i], module_attr(m, s->filters[i].attr)))
			return false;
	return true;
}

static void collect(struct pick *pk, struct module *m)
{
	if (select_picks(pk->sel, m)) {
		xgrow(&pk->out, &pk->cap, pk->n + 1, sizeof *pk->out);
		pk->out[pk->n++] = m;
		return; /* outermost only */
	}
	for (int i = 0; i < m->nchildren; i++)
		collect(pk, m->children[i]);
}

/* The first module of the type in m's subtree, or NULL. */
static const struct module *first_of_type(const struct module *m, const char *type)
{
	if (strcmp(m->type, type) == 0)
		return m;
	for (int i = 0; i < m->nchildren; i++) {
		const struct module *f = first_of_type(m->children[i], type);
		if (f)
			return f;
	}
	return NULL;
}

/* Whether a module of the type in m's subtree has the attribute. */
static bool type_has_attr(const struct module *m, const char *type, const char *attr)
{
	if (strcmp(m->type, type) == 0 && module_attr(m, attr))
		return true;
	for (int i = 0; i < m->nchildren; i++)
		if (type_has_attr(m->children[i], type, attr))
			return true;
	return false;
}

/* A filter on an attribute no module of the selector's type has is a typo,
 * not a filter that matches nothing: -1 with e naming it. */
static int check_filters(const struct selector *s, const struct module *root, struct error *e)
{
	const struct module *one = root ? first_of_type(root, s->type) : NULL;
	for (int i = 0; one && i < s->nfilters; i++) {
		const char *attr = s->filters[i].attr;
		if (type_has_attr(root, s->type, attr))
			continue;
		const char **names = xmalloc((size_t)(one->nattrs + 1) * sizeof *names);
		for (int k = 0; k < one->nattrs; k++)
			names[k] = one->attrs[k].name;
		const char *near = text_did_you_mean(attr, names, one->nattrs);
		struct strbuf has = {0};
		for (int k = 0; k < one->nattrs; k++)
			strbuf_addf(&has, "%s%s", k ? ", " : "", names[k]);
		if (near)
			error_set(e, "selector: %s has no attribute '%s' (did you mean '%s'?)", s->type,
				  attr, near);
		else
			error_set(e, "selector: %s has no attribute '%s' (%s%s)", s->type, attr,
				  has.len ? "it has " : "it has none", has.len ? has.s : "");
		strbuf_free(&has);
		free(names);
		return -1;
	}
	return 0;
}

struct selector *select_parse(const struct module *root, const char *text,
			      const char *(*type_name)(const char *word, void *ctx), void *ctx,
			      struct error *e)
{
	struct selector *s = xcalloc(1, sizeof *s);
	const char *br = strchr(text, '[');
	const char *type;
	if (br) {
		char *word = xstrndup(text, (size_t)(br - text));
		type = type_name ? type_name(word, ctx) : NULL;
		s->type = type ? xstrdup(type) : word;
		if (type)
			free(word);
		if (parse_filters(s, br + 1, e) < 0 || check_filters(s, root, e) < 0) {
			select_free(s);
			return NULL;
		}
	} else if (type_name && (type = type_name(text, ctx)) != NULL) {
		s->type = xstrdup(type);
	} else {
		s->glob = xstrdup(text);
	}
	return s;
}

int select_modules(struct module *root, const char *text,
		   const char *(*type_name)(const char *word, void *ctx), void *ctx,
		   struct module ***out, struct error *e)
{
	*out = NULL;
	struct selector *s = select_parse(root, text, type_name, ctx, e);
	if (!s)
		return -1;
	struct pick pk = {.sel = s};
	collect(&pk, root);
	select_free(s);
	*out = pk.out;
	return pk.n;
}
