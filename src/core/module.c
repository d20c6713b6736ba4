/* module.c - the module tree: children, attributes, parameters, walks. */
#include "core/module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct module *module_new(const char *name, const char *type)
{
	struct module *m = xcalloc(1, sizeof *m);
	m->name = xstrdup(name);
	m->type = xstrdup(type);
	return m;
}

void module_clear_calls(struct module *m)
{
	for (int i = 0; i < m->ncalls; i++) {
		value_free(&m->calls[i].in);
		value_free(&m->calls[i].out);
	}
	m->ncalls = 0;
	m->broken = false;
	for (int i = 0; m->forward && i < m->forward->n; i++)
		value_free(&m->forward->nodes[i].out);
	for (int i = 0; i < m->nchildren; i++)
		module_clear_calls(m->children[i]);
}

void module_free(struct module *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nchildren; i++)
		module_free(m->children[i]);
	free(m->children);
	for (int i = 0; i < m->nattrs; i++) {
		free(m->attrs[i].name);
		value_free(&m->attrs[i].value);
	}
	free(m->attrs);
	for (int i = 0; i < m->nparams; i++)
		param_free_fields(&m->params[i]);
	free(m->params);
	graph_free(m->forward);
	for (int i = 0; i < m->ncalls; i++) {
		value_free(&m->calls[i].in);
		value_free(&m->calls[i].out);
	}
	free(m->calls);
	free(m->name);
	free(m->type);
	free(m);
}

void module_add_child(struct module *m, struct module *child)
{
	xgrow(&m->children, &m->children_cap, m->nchildren + 1, sizeof *m->children);
	m->children[m->nchildren++] = child;
	child->parent = m;
}

struct module *module_child(const struct module *m, const char *name)
{
	for (int i = 0; i < m->nchildren; i++)
		if (strcmp(m->children[i]->name, name) == 0)
			return m->children[i];
	return NULL;
}

struct module *module_find(const struct module *m, const char *path)
{
	struct module *cur = (struct module *)m;
	const char *p = path;
	while (*p && cur) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		struct module *next = NULL;
		for (int i = 0; i < cur->nchildren; i++) {
			const char *cn = cur->children[i]->name;
			if (strlen(cn) == n && strncmp(cn, p, n) == 0) {
				next = cur->children[i];
				break;
			}
		}
		cur = next;
		p = dot ? dot + 1 : p + n;
	}
	return cur;
}

const char *module_path_buf(const struct module *m, char *buf, size_t size)
{
	const struct module *chain[256];
	int n = 0;
	for (const struct module *c = m; c && c->parent && n < 256; c = c->parent)
		chain[n++] = c;
	size_t o = 0;
	buf[0] = '\0';
	for (int i = n - 1; i >= 0; i--) {
		int w = snprintf(buf + o, o < size ? size - o : 0, "%s%s", i == n - 1 ? "" : ".",
				 chain[i]->name);
		if (w < 0 || o + (size_t)w >= size)
			break;
		o += (size_t)w;
	}
	return buf;
}

const char *module_param_path(const struct module *m, const char *name, char *buf,
                              size_t size)
{
	char path[2048];
	module_path_buf(m, path, sizeof path);
	snprintf(buf, size, "%s%s%s", path, path[0] ? "." : "", name);
	return buf;
}

char *module_path(const struct module *m)
{
	char buf[4096];
	return xstrdup(module_path_buf(m, buf, sizeof buf));
}

const struct value *module_attr(const struct module *m, const char *name)
{
	for (int i = 0; i < m->nattrs; i++)
		if (strcmp(m->attrs[i].name, name) == 0)
			return &m->attrs[i].value;
	return NULL;
}

bool module_same_attrs(const struct module *a, const struct module *b)
{
	if (a->nattrs != b->nattrs)
		return false;
	for (int i = 0; i < a->nattrs; i++) {
		const struct value *v = module_attr(b, a->attrs[i].name);
		if (!v || !value_equal(v, &a->attrs[i].value))
			return false;
	}
	return true;
}

void module_set_attr(struct module *m, const char *name, const struct value *v)
{
	for (int i = 0; i < m->nattrs; i++) {
		if (strcmp(m->attrs[i].name, name) == 0) {
			struct value copy = value_copy(v);
			value_free(&m->attrs[i].value);
			m->attrs[i].value = copy;
			return;
		}
	}
	m->attrs = xrealloc(m->attrs, (size_t)(m->nattrs + 1) * sizeof *m->attrs);
	m->attrs[m->nattrs].name = xstrdup(name);
	m->attrs[m->nattrs].value = value_copy(v);
	m->nattrs++;
}

int64_t module_attr_int(const struct module *m, const char *name, int64_t def)
{
	const struct value *v = module_attr(m, name);
	return v && v->kind == VAL_INT ? v->u.i : def;
}

void module_attr_ints(const struct module *m, const char *name, int64_t *out, int n)
{
	const struct value *v = module_attr(m, name);
	if (!v || value_ints(v, out, n) < 0)
		for (int i = 0; i < n; i++)
			out[i] = 0;
}

double module_attr_float(const struct module *m, const char *name, double def)
{
	const struct value *v = module_attr(m, name);
	double d;
	return v && value_number(v, &d) ? d : def;
}

bool module_attr_bool(const struct module *m, const char *name, bool def)
{
	const struct value *v = module_attr(m, name);
	return v && v->kind == VAL_BOOL ? v->u.b : def;
}

const char *module_attr_str(const struct module *m, const char *name, const char *def)
{
	const struct value *v = module_attr(m, name);
	return v && v->kind == VAL_STR ? v->u.s : def;
}

struct param *module_add_param(struct module *m, const char *name, enum dtype dt,
			       const struct shape *s, bool buffer)
{
	m->params = xrealloc(m->params, (size_t)(m->nparams + 1) * sizeof *m->params);
	struct param *p = &m->params[m->nparams++];
	memset(p, 0, sizeof *p);
	p->name = xstrdup(name);
	p->t.dtype = dt;
	p->t.shape = *s;
	p->buffer = buffer;
	p->trainable = !buffer;
	return p;
}

void param_free_fields(struct param *p)
{
	free(p->name);
	free(p->tie);
	tensor_release(&p->t);
}

struct param *module_param(const struct module *m, const char *name)
{
	for (int i = 0; i < m->nparams; i++)
		if (strcmp(m->params[i].name, name) == 0)
			return &m->params[i];
	return NULL;
}

struct param *module_find_tensor(const struct module *m, const char *key)
{
	struct param *p = module_param(m, key);
	if (p)
		return p;
	for (const char *dot = strrchr(key, '.'); dot;) {
		char *prefix = xstrndup(key, (size_t)(dot - key));
		struct module *o = module_find(m, prefix);
		free(prefix);
		p = o ? module_param(o, dot + 1) : NULL;
		if (p)
			return p;
		const char *prev = NULL;
		for (const char *q = key; q < dot; q++)
			if (*q == '.')
				prev = q;
		dot = prev;
	}
	return NULL;
}

/* prefix: the counted subtree's path and a dot ("" for the root). */
static void count_into(const struct module *m, const char *prefix, struct param_counts *c)
{
	for (int i = 0; i < m->nparams; i++) {
		const struct param *p = &m->params[i];
		if (p->tie && strncmp(p->tie, prefix, strlen(prefix)) == 0)
			continue;
		int64_t n = shape_numel(&p->t.shape);
		if (n < 0)
			n = 0;
		int64_t bytes = n * (int64_t)dtype_size(p->t.dtype);
		if (p->buffer) {
			c->buffers += n;
			c->buffer_bytes += bytes;
		} else {
			c->params += n;
			c->param_bytes += bytes;
			if (p->trainable)
				c->trainable += n;
		}
	}
	for (int i = 0; i < m->nchildren; i++)
		count_into(m->children[i], prefix, c);
}

void module_count(const struct module *m, struct param_counts *out)
{
	memset(out, 0, sizeof *out);
	char path[4096];
	module_path_buf(m, path, sizeof path - 1);
	if (path[0])
		strcat(path, ".");
	count_into(m, path, out);
}

int module_walk(struct module *m, int (*fn)(struct module *m, void *ctx), void *ctx)
{
	int rc = fn(m, ctx);
	if (rc)
		return rc;
	for (int i = 0; i < m->nchildren; i++) {
		rc = module_walk(m->children[i], fn, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

int module_count_nodes(const struct module *m)
{
	int n = 1;
	for (int i = 0; i < m->nchildren; i++)
		n += module_count_nodes(m->children[i]);
	return n;
}

static struct graph *graph_clone(const struct graph *g, const struct module *orig,
				 struct module *owner)
{
	struct graph *c = graph_new();
	for (int i = 0; i < g->n; i++) {
		const struct graph_node *nd = &g->nodes[i];
		struct graph_node *cn = graph_add(c, xstrdup(nd->name), nd->op, xstrdup(nd->target));
		cn->nargs = nd->nargs;
		cn->args = xcalloc((size_t)(nd->nargs ? nd->nargs : 1), sizeof *cn->args);
		for (int a = 0; a < nd->nargs; a++)
			cn->args[a] = value_copy(&nd->args[a]);
		cn->nkwargs = nd->nkwargs;
		cn->kwargs = xcalloc((size_t)(nd->nkwargs ? nd->nkwargs : 1), sizeof *cn->kwargs);
		for (int k = 0; k < nd->nkwargs; k++) {
			cn->kwargs[k].name = xstrdup(nd->kwargs[k].name);
			cn->kwargs[k].value = value_copy(&nd->kwargs[k].value);
		}
		cn->fn = nd->fn;
		cn->attr_index = nd->attr_index;
		/* callee and attr_owner point into the copy: re-resolved by path */
		if (nd->callee)
			cn->callee = module_find(owner, nd->target);
		if (nd->attr_owner) {
			/* the tensor's owner is orig or below it: same relative path */
			char path[4096], opath[4096];
			module_path_buf(nd->attr_owner, path, sizeof path);
			module_path_buf(orig, opath, sizeof opath);
			size_t olen = strlen(opath);
			const char *rel = path + olen + (olen && path[olen] == '.');
			cn->attr_owner = rel[0] ? module_find(owner, rel) : owner;
		}
	}
	return c;
}

static struct module *clone_into(const struct module *m)
{
	struct module *c = module_new(m->name, m->type);
	c->def = m->def;
	c->id = m->id;
	for (int i = 0; i < m->nattrs; i++)
		module_set_attr(c, m->attrs[i].name, &m->attrs[i].value);
	for (int i = 0; i < m->nparams; i++) {
		const struct param *p = &m->params[i];
		struct param *cp = module_add_param(c, p->name, p->t.dtype, &p->t.shape, p->buffer);
		tensor_share(&cp->t, &p->t);
		cp->trainable = p->trainable;
		cp->tie = p->tie ? xstrdup(p->tie) : NULL;
	}
	for (int i = 0; i < m->nchildren; i++)
		module_add_child(c, clone_into(m->children[i]));
	return c;
}

/* Second pass: graphs, once the whole subtree exists (paths resolve). */
static void clone_graphs(const struct module *m, struct module *c)
{
	if (m->forward)
		c->forward = graph_clone(m->forward, m, c);
	for (int i = 0; i < m->nchildren; i++)
		clone_graphs(m->children[i], c->children[i]);
}

struct module *module_clone(const struct module *m)
{
	struct module *c = clone_into(m);
	clone_graphs(m, c);
	return c;
}
