/* spec.c - parsing type specs and building modules from them, with the
 * arguments a user leaves out inferred from the module replaced and the
 * shapes flowing in. */
#include "edit/spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/registry.h"
#include "core/shape.h"
#include "core/text.h"

/* --- parsing ----------------------------------------------------------- */

static void skip_space(const char **p)
{
	while (isspace((unsigned char)**p))
		(*p)++;
}

static size_t ident_len(const char *p)
{
	size_t n = 0;
	if (!isalpha((unsigned char)p[0]) && p[0] != '_')
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	return n;
}

const char *spec_skip_nn_prefix(const char *p)
{
	const char *q = !strncmp(p, "torch.nn.", 9) ? p + 9 : !strncmp(p, "nn.", 3) ? p + 3 : p;
	return ident_len(q) ? q : p;
}

struct spec *spec_new(const char *type)
{
	struct spec *s = xcalloc(1, sizeof *s);
	s->type = xstrdup(type);
	return s;
}

static struct spec_arg *spec_add_arg(struct spec *s)
{
	s->args = xrealloc(s->args, (size_t)(s->nargs + 1) * sizeof *s->args);
	struct spec_arg *a = &s->args[s->nargs++];
	memset(a, 0, sizeof *a);
	return a;
}

void spec_add_kwarg(struct spec *s, const char *key, const struct value *v)
{
	struct spec_arg *a = spec_add_arg(s);
	a->key = xstrdup(key);
	a->v = value_copy(v);
}

void spec_free(struct spec *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nargs; i++) {
		free(s->args[i].key);
		spec_free(s->args[i].sub);
		value_free(&s->args[i].v);
	}
	free(s->args);
	free(s->name);
	free(s->type);
	free(s);
}

static bool is_keyword_value(const char *p, size_t n)
{
	return (n == 4 && !strncmp(p, "True", 4)) || (n == 5 && !strncmp(p, "False", 5)) ||
	       (n == 4 && !strncmp(p, "None", 4)) || (n == 3 && !strncmp(p, "inf", 3)) ||
	       (n == 3 && !strncmp(p, "nan", 3));
}

static int parse_arg(const char **pp, struct spec_arg *a, int depth, struct error *e);

static struct spec *parse_spec(const char **pp, int depth, struct error *e)
{
	const char *p = *pp;
	skip_space(&p);
	if (depth > 32) {
		error_set(e, "type spec nested too deeply");
		return NULL;
	}
	p = spec_skip_nn_prefix(p);
	size_t n = ident_len(p);
	if (!n) {
		error_set(e, "expected a type name at '%.20s'", p);
		return NULL;
	}
	struct spec *s = xcalloc(1, sizeof *s);
	if (p[n] == ':' && ident_len(p + n + 1)) {
		s->name = xstrndup(p, n);
		p += n + 1;
		n = ident_len(p);
	}
	s->type = xstrndup(p, n);
	p += n;
	if (*p == '(') {
		p++;
		skip_space(&p);
		while (*p != ')') {
			if (!*p) {
				error_set(e, "%s(...: missing ')'", s->type);
				goto fail;
			}
			if (parse_arg(&p, spec_add_arg(s), depth, e) < 0)
				goto fail;
			skip_space(&p);
			if (*p == ',') {
				p++;
				skip_space(&p);
			} else if (*p != ')') {
				error_set(e, "%s(...): expected ',' or ')' at '%.20s'", s->type, p);
				goto fail;
			}
		}
		p++;
	}
	*pp = p;
	return s;
fail:
	spec_free(s);
	return NULL;
}

static int parse_arg(const char **pp, struct spec_arg *a, int depth, struct error *e)
{
	const char *p = *pp;
	size_t n = ident_len(p);
	const char *q = p + n;
	while (*q == ' ')
		q++;
	if (n && *q == '=' && q[1] != '=') {
		a->key = xstrndup(p, n);
		p = q + 1;
		skip_space(&p);
		n = ident_len(p);
	}
	if (spec_skip_nn_prefix(p) != p) {
		p = spec_skip_nn_prefix(p);
		n = ident_len(p);
	}
	if (n && (p[n] == '(' || p[n] == ':') && !is_keyword_value(p, n)) {
		a->sub = parse_spec(&p, depth + 1, e);
		if (!a->sub)
			return -1;
	} else if (n && !is_keyword_value(p, n)) {
		a->v = value_str("");
		free(a->v.u.s);
		a->v.u.s = xstrndup(p, n);
		a->bare = true;
		p += n;
	} else {
		const char *end;
		if (value_parse(p, &a->v, &end, e) < 0)
			return -1;
		p = end;
	}
	*pp = p;
	return 0;
}

struct spec *spec_parse(const char *text, const char **end, struct error *e)
{
	const char *p = text;
	struct spec *s = parse_spec(&p, 0, e);
	if (s && end)
		*end = p;
	return s;
}

void spec_format(const struct spec *s, struct strbuf *sb)
{
	if (s->name)
		strbuf_addf(sb, "%s:", s->name);
	strbuf_add(sb, s->type);
	strbuf_add(sb, "(");
	for (int i = 0; i < s->nargs; i++) {
		const struct spec_arg *a = &s->args[i];
		if (i)
			strbuf_add(sb, ", ");
		if (a->key)
			strbuf_addf(sb, "%s=", a->key);
		if (a->sub) {
			spec_format(a->sub, sb);
		} else if (a->bare) {
			strbuf_add(sb, a->v.u.s);
		} else {
			char buf[512];
			value_format(&a->v, buf, sizeof buf);
			strbuf_add(sb, buf);
		}
	}
	strbuf_add(sb, ")");
}

/* --- define ------------------------------------------------------------ */

const struct type_def *type_lib_find(const struct type_lib *lib, const char *name)
{
	for (int i = 0; lib && i < lib->n; i++)
		if (strcmp(lib->defs[i].name, name) == 0)
			return &lib->defs[i];
	return NULL;
}

const char *spec_pick_name(const char *word, const char *const *names, int n)
{
	const char *caseless = NULL;
	int ncaseless = 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i], word) == 0)
			return names[i];
		if (strcasecmp(names[i], word) == 0 && (!caseless || strcmp(caseless, names[i]) != 0)) {
			caseless = names[i];
			ncaseless++;
		}
	}
	return ncaseless == 1 ? caseless : NULL;
}

/* The names of the types specs can build: the registry's modules,
 * Sequential and lib's (malloc'd; *n set). */
static const char **buildable_types(const struct type_lib *lib, int *n)
{
	int nreg;
	const struct op_def *const *defs = registry_all(OP_MODULE, &nreg);
	const char **names = xmalloc((size_t)(nreg + 1 + (lib ? lib->n : 0)) * sizeof *names);
	int k = 0;
	for (int i = 0; i < nreg; i++)
		names[k++] = defs[i]->name;
	names[k++] = "Sequential";
	for (int i = 0; lib && i < lib->n; i++)
		names[k++] = lib->defs[i].name;
	*n = k;
	return names;
}

const char *spec_type_name(const struct type_lib *lib, const char *word)
{
	int n;
	const char **names = buildable_types(lib, &n);
	const char *name = spec_pick_name(spec_skip_nn_prefix(word), names, n);
	free(names);
	return name;
}

static void type_def_free(struct type_def *d)
{
	free(d->name);
	free(d->text);
	for (int i = 0; i < d->nparams; i++) {
		free(d->params[i].name);
		value_free(&d->params[i].value);
	}
	free(d->params);
	for (int i = 0; i < d->nchildren; i++)
		spec_free(d->children[i]);
	free(d->children);
}

void type_lib_free(struct type_lib *lib)
{
	for (int i = 0; i < lib->n; i++)
		type_def_free(&lib->defs[i]);
	free(lib->defs);
	lib->defs = NULL;
	lib->n = 0;
}

int type_lib_define(struct type_lib *lib, const char *text, struct error *e)
{
	struct type_def d = {0};
	const char *p = text;
	skip_space(&p);
	size_t n = ident_len(p);
	if (!n || !isupper((unsigned char)p[0]))
		return error_set(e, "define: expected a type name starting with a capital letter");
	d.name = xstrndup(p, n);
	d.text = xstrdup(text);
	p += n;
	if (registry_module(d.name) || strcmp(d.name, "Sequential") == 0) {
		error_set(e, "define: %s is a built-in type", d.name);
		goto fail;
	}
	for (;;) {
		skip_space(&p);
		if (*p == '=')
			break;
		n = ident_len(p);
		if (!n || p[n] != '=') {
			error_set(e, "define %s: expected 'name=default' or '=' at '%.20s'", d.name, p);
			goto fail;
		}
		d.params = xrealloc(d.params, (size_t)(d.nparams + 1) * sizeof *d.params);
		struct attr *a = &d.params[d.nparams++];
		a->name = xstrndup(p, n);
		a->value = value_none();
		const char *end;
		if (value_parse(p + n + 1, &a->value, &end, e) < 0) {
			error_prefix(e, "define %s: parameter %s", d.name, a->name);
			goto fail;
		}
		p = end;
	}
	p++;
	for (;;) {
		struct spec *s = spec_parse(p, &p, e);
		if (!s) {
			error_prefix(e, "define %s", d.name);
			goto fail;
		}
		d.children = xrealloc(d.children, (size_t)(d.nchildren + 1) * sizeof *d.children);
		d.children[d.nchildren++] = s;
		skip_space(&p);
		if (*p == '>') {
			p++;
			continue;
		}
		if (*p) {
			error_set(e, "define %s: expected '>' or the end at '%.20s'", d.name, p);
			goto fail;
		}
		break;
	}
	for (int i = 0; i < lib->n; i++) {
		if (strcmp(lib->defs[i].name, d.name) == 0) {
			type_def_free(&lib->defs[i]);
			lib->defs[i] = d;
			return 0;
		}
	}
	lib->defs = xrealloc(lib->defs, (size_t)(lib->n + 1) * sizeof *lib->defs);
	lib->defs[lib->n++] = d;
	return 0;
fail:
	type_def_free(&d);
	return -1;
}

int type_lib_load(struct type_lib *lib, const char *path, bool optional, struct error *e)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (optional && errno == ENOENT)
			return 0;
		return error_set(e, "%s: %s", path, strerror(errno));
	}
	char line[4096];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		const char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (strncmp(p, "define", 6) != 0 || !isspace((unsigned char)p[6])) {
			rc = error_set(e, "%s:%d: a type library holds only 'define' lines", path, lineno);
			break;
		}
		if (type_lib_define(lib, p + 6, e) < 0)
			rc = error_prefix(e, "%s:%d", path, lineno);
	}
	fclose(f);
	return rc;
}

/* --- building ---------------------------------------------------------- */

struct binding {
	const struct attr *params; /* a define's bound parameters, or NULL */
	int nparams;
};

/* The value of an argument: a bare word naming a bound define parameter
 * is that parameter's value; any other bare word is a string. */
static struct value arg_value(const struct spec_arg *a, const struct binding *b)
{
	if (a->bare)
		for (int i = 0; b && i < b->nparams; i++)
			if (strcmp(b->params[i].name, a->v.u.s) == 0)
				return value_copy(&b->params[i].value);
	return value_copy(&a->v);
}

static struct module *build(const struct build_ctx *ctx, const struct spec *s, const char *name,
			    const struct module *old, const struct value *input,
			    const struct binding *b, struct value *output, struct error *e);

static int unknown_type(const struct build_ctx *ctx, const char *type, struct error *e)
{
	int k;
	const char **names = buildable_types(ctx->lib, &k);
	const char *near = text_did_you_mean(type, names, k);
	if (near)
		error_set(e, "unknown type '%s' (did you mean '%s'?)", type, near);
	else
		error_set(e, "unknown type '%s' (see 'help types')", type);
	free(names);
	return -1;
}

/* Runs child on the flowing value, replacing it by the child's output (or
 * by unknown when the child cannot take it). */
static void flow(struct module *child, struct value *cur)
{
	struct value out = value_none();
	struct error ignored = {0};
	if (cur->kind == VAL_TENSOR && shape_run_module(child, cur, 1, &out, &ignored) == 0) {
		value_free(cur);
		*cur = out;
	} else {
		value_free(cur);
		*cur = value_none();
	}
}

static struct module *build_chain(const struct build_ctx *ctx, struct module *m,
				  struct spec *const *children, int nchildren,
				  const struct spec_arg *args, int nargs, const struct value *input,
				  const struct binding *b, struct error *e)
{
	struct value cur = input ? value_copy(input) : value_none();
	int idx = 0;
	for (int i = 0; i < nchildren + nargs; i++) {
		const struct spec *cs = i < nchildren ? children[i] : args[i - nchildren].sub;
		struct spec *bare_spec = NULL;
		if (i >= nchildren) {
			const struct spec_arg *a = &args[i - nchildren];
			if (a->key || (!cs && !a->bare)) {
				error_set(e, "%s takes modules as arguments, not '%s'", m->type,
					  a->key ? a->key : "a value");
				value_free(&cur);
				module_free(m);
				return NULL;
			}
			if (!cs)
				cs = bare_spec = spec_new(a->v.u.s);
		}
		char cname[32];
		snprintf(cname, sizeof cname, "%d", idx++);
		struct module *c = build(ctx, cs, cs->name ? cs->name : cname, NULL,
					 cur.kind == VAL_TENSOR ? &cur : NULL, b, NULL, e);
		spec_free(bare_spec);
		if (!c) {
			value_free(&cur);
			module_free(m);
			return NULL;
		}
		if (module_child(m, c->name)) {
			error_set(e, "%s: two children named '%s'", m->type, c->name);
			module_free(c);
			value_free(&cur);
			module_free(m);
			return NULL;
		}
		module_add_child(m, c);
		flow(c, &cur);
	}
	value_free(&cur);
	return m;
}

static struct module *build_defined(const struct build_ctx *ctx, const struct type_def *d,
				    const struct spec *s, const char *name,
				    const struct value *input, const struct binding *outer,
				    struct error *e)
{
	struct attr *bound = xcalloc((size_t)(d->nparams ? d->nparams : 1), sizeof *bound);
	bool *given = xcalloc((size_t)(d->nparams ? d->nparams : 1), sizeof *given);
	struct module *m = NULL;
	int pos = 0;
	for (int i = 0; i < d->nparams; i++) {
		bound[i].name = d->params[i].name;
		bound[i].value = value_copy(&d->params[i].value);
	}
	for (int i = 0; i < s->nargs; i++) {
		const struct spec_arg *a = &s->args[i];
		int k = -1;
		if (a->key) {
			for (int j = 0; j < d->nparams; j++)
				if (strcmp(d->params[j].name, a->key) == 0)
					k = j;
			if (k < 0) {
				const char **names = xmalloc((size_t)(d->nparams + 1) * sizeof *names);
				for (int j = 0; j < d->nparams; j++)
					names[j] = d->params[j].name;
				const char *near = text_did_you_mean(a->key, names, d->nparams);
				if (near)
					error_set(e, "%s has no argument '%s' (did you mean '%s'?)", d->name,
						  a->key, near);
				else
					error_set(e, "%s has no argument '%s'", d->name, a->key);
				free(names);
				goto out;
			}
		} else {
			k = pos++;
			if (k >= d->nparams) {
				error_set(e, "%s takes %d argument%s, got more", d->name, d->nparams,
					  d->nparams == 1 ? "" : "s");
				goto out;
			}
		}
		if (a->sub) {
			error_set(e, "%s: argument '%s' must be a value", d->name, d->params[k].name);
			goto out;
		}
		value_free(&bound[k].value);
		bound[k].value = arg_value(a, outer);
		given[k] = true;
	}
	m = module_new(name, d->name);
	for (int i = 0; i < d->nparams; i++)
		module_set_attr(m, bound[i].name, &bound[i].value);
	struct binding b = {.params = bound, .nparams = d->nparams};
	m = build_chain(ctx, m, d->children, d->nchildren, NULL, 0, input, &b, e);
out:
	for (int i = 0; i < d->nparams; i++)
		value_free(&bound[i].value);
	free(bound);
	free(given);
	return m;
}

static bool spec_gives(const struct spec *s, const struct op_def *def, const char *attr)
{
	int pos = 0;
	for (int i = 0; i < s->nargs; i++) {
		if (s->args[i].key ? strcmp(s->args[i].key, attr) == 0
				   : pos < def->nattrs && strcmp(def->attrs[pos].name, attr) == 0)
			return true;
		if (!s->args[i].key)
			pos++;
	}
	return false;
}

static struct module *build_registry(const struct op_def *def, const struct spec *s,
				     const char *name, const struct module *old,
				     const struct value *input, const struct binding *b,
				     struct error *e)
{
	struct module *m = module_new(name, def->name);
	int pos = 0;
	for (int i = 0; i < s->nargs; i++) {
		const struct spec_arg *a = &s->args[i];
		const char *key = a->key;
		if (!key) {
			if (pos >= def->nattrs) {
				error_set(e, "%s takes at most %d positional arguments", def->name,
					  def->nattrs);
				goto fail;
			}
			key = def->attrs[pos++].name;
		}
		if (a->sub) {
			error_set(e, "%s: argument '%s' must be a value, not a module", def->name, key);
			goto fail;
		}
		if (module_attr(m, key)) {
			error_set(e, "%s: argument '%s' given twice", def->name, key);
			goto fail;
		}
		struct value v = arg_value(a, b);
		module_set_attr(m, key, &v);
		value_free(&v);
	}
	/* 1. the size of the input from the shape flowing in */
	if (def->in_size_attr && !module_attr(m, def->in_size_attr) &&
	    !spec_gives(s, def, def->in_size_attr) && input && input->kind == VAL_TENSOR) {
		const struct shape *sh = &input->u.tensor.t.shape;
		int d = def->in_size_dim < 0 ? sh->ndim + def->in_size_dim : def->in_size_dim;
		if (d >= 0 && d < sh->ndim) {
			const struct attr_spec *as = registry_attr_spec(def, def->in_size_attr);
			struct value v;
			if (as && as->type == AT_INTS) {
				v = value_list(1);
				v.u.list.items[0] = value_int(sh->dim[d]);
			} else {
				v = value_int(sh->dim[d]);
			}
			module_set_attr(m, def->in_size_attr, &v);
			value_free(&v);
		}
	}
	/* 1b. a module the forward never reaches: the input size the replaced
	 * module was built for (BatchNorm2d's num_features -> GroupNorm's
	 * num_channels) */
	if (def->in_size_attr && !module_attr(m, def->in_size_attr) &&
	    !spec_gives(s, def, def->in_size_attr) && old && old->def &&
	    old->def->in_size_attr && old->def->in_size_dim == def->in_size_dim) {
		const struct value *ov = module_attr(old, old->def->in_size_attr);
		const struct attr_spec *as = registry_attr_spec(def, def->in_size_attr);
		int64_t size;
		if (ov && (value_ints(ov, &size, 1) == 0 ||
			   (ov->kind == VAL_LIST && ov->u.list.n == 1 &&
			    value_ints(&ov->u.list.items[0], &size, 1) == 0))) {
			struct value v;
			if (as && as->type == AT_INTS) {
				v = value_list(1);
				v.u.list.items[0] = value_int(size);
			} else {
				v = value_int(size);
			}
			module_set_attr(m, def->in_size_attr, &v);
			value_free(&v);
		}
	}
	/* 2. the rest from the module replaced, when it is of the same type */
	if (old && strcmp(old->type, def->name) == 0)
		for (int i = 0; i < old->nattrs; i++)
			if (!module_attr(m, old->attrs[i].name))
				module_set_attr(m, old->attrs[i].name, &old->attrs[i].value);
	/* 3. required arguments still missing cannot be inferred */
	for (int i = 0; i < def->nattrs; i++) {
		const struct attr_spec *as = &def->attrs[i];
		if (as->def || module_attr(m, as->name))
			continue;
		if (def->in_size_attr && strcmp(as->name, def->in_size_attr) == 0)
			error_set(e, "%s: %s is required and cannot be inferred: no shape reaches this module (the forward does not run it, or breaks before it)",
				  def->name, as->name);
		else
			error_set(e, "%s: %s is required: it cannot be inferred from the input", def->name,
				  as->name);
		goto fail;
	}
	if (registry_prepare(m, e) < 0)
		goto fail;
	return m;
fail:
	module_free(m);
	return NULL;
}

static struct module *build(const struct build_ctx *ctx, const struct spec *s, const char *name,
			    const struct module *old, const struct value *input,
			    const struct binding *b, struct value *output, struct error *e)
{
	struct module *m = NULL;
	const struct type_def *d;
	const char *type = spec_type_name(ctx->lib, s->type);
	if (!type) {
		unknown_type(ctx, s->type, e);
	} else if (strcmp(type, "Sequential") == 0) {
		m = build_chain(ctx, module_new(name, "Sequential"), NULL, 0, s->args, s->nargs, input,
				b, e);
	} else if ((d = type_lib_find(ctx->lib, type)) != NULL) {
		m = build_defined(ctx, d, s, name, input, b, e);
	} else {
		m = build_registry(registry_module(type), s, name, old, input, b, e);
	}
	if (m && output) {
		*output = input ? value_copy(input) : value_none();
		flow(m, output);
	}
	return m;
}

struct module *spec_build(const struct build_ctx *ctx, const struct spec *s, const char *name,
			  const struct module *old, const struct value *input,
			  struct value *output, struct error *e)
{
	if (output)
		*output = value_none();
	struct module *m = build(ctx, s, name, old, input, NULL, output, e);
	if (m && ctx->rng && init_module(m, ctx->rng, e) < 0) {
		module_free(m);
		if (output)
			value_free(output);
		return NULL;
	}
	return m;
}
