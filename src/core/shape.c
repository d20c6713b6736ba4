/* shape.c - the forward walker, and the shape pass built on it.
 *
 * The walker is an interpreter over struct value: leaf modules and functions
 * apply their registry shape rule, composites run their graph or their
 * children in order, and the user's hooks see every call (shape.h). The
 * shape pass records each module call in the module (inputs, output,
 * mult-adds); the first failing call stops it. */
#include "core/shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bounds.h"
#include "core/registry.h"
#include "core/util.h"

/* ---- the walker ---- */

/* Marks where the walk broke: the module the failing call is in. */
static int fail_at(struct shape_walk *w, struct module *m)
{
	if (!w->failed)
		w->failed = m;
	return -1;
}

static int walk_module(struct shape_walk *w, struct module *m, const struct module *owner,
		       const struct graph_node *node, const struct value *args, int nargs,
		       const struct kwarg *kwargs, int nkwargs, struct value *out, int64_t *macs);

/* A deep copy of v with refs replaced by copies of the values they name. */
static struct value resolve_copy(const struct value *v, const struct value *vals)
{
	if (v->kind == VAL_REF)
		return value_copy(&vals[v->u.ref]);
	if (v->kind == VAL_LIST) {
		struct value l = value_list_like(v);
		for (int i = 0; i < v->u.list.n; i++)
			l.u.list.items[i] = resolve_copy(&v->u.list.items[i], vals);
		return l;
	}
	return value_copy(v);
}

static bool has_ref(const struct value *v)
{
	if (v->kind == VAL_REF)
		return true;
	for (int i = 0; v->kind == VAL_LIST && i < v->u.list.n; i++)
		if (has_ref(&v->u.list.items[i]))
			return true;
	return false;
}

/* Resolves a graph argument. A plain ref or a literal is borrowed (no
 * copy: most arguments); a list holding refs is rebuilt and *owned is set,
 * so the caller frees it. */
static struct value resolve(const struct value *v, const struct value *vals, bool *owned)
{
	*owned = false;
	if (v->kind == VAL_REF)
		return vals[v->u.ref];
	if (v->kind == VAL_LIST && has_ref(v)) {
		*owned = true;
		return resolve_copy(v, vals);
	}
	return *v;
}

/* Applies the shape rule of the registry call c, carrying the bounds of
 * data-dependent sizes through it (bounds.h), then the user's hook;
 * *out gets c's output. 0, or -1 with the error set and the break marked in
 * module `at` (the module called, or the one whose graph calls a function). */
static int apply_rule(struct shape_walk *w, struct op_call *c, struct module *at,
		      struct value *out)
{
	if (bounds_infer(c) < 0) {
		if (w->err->kind == ERR_NONE)
			w->err->kind = ERR_SHAPE;
		value_free(&c->out);
		return fail_at(w, at);
	}
	if (w->on_op && w->on_op(w, c) < 0) {
		value_free(&c->out);
		return fail_at(w, at);
	}
	*out = c->out;
	return 0;
}

static int walk_graph(struct shape_walk *w, struct module *m, const struct value *args, int nargs,
		      const struct kwarg *kwargs, int nkwargs, struct value *out, int64_t *macs)
{
	const struct graph *g = m->forward;
	struct value *vals = xcalloc((size_t)g->n, sizeof *vals);
	int placeholder = 0, rc = 0;
	for (int i = 0; i < g->n && rc == 0; i++) {
		const struct graph_node *nd = &g->nodes[i];
		int na = nd->nargs, nk = nd->nkwargs;
		/* most nodes have a handful of arguments: no allocation then */
		struct value a_small[8];
		struct kwarg k_small[8];
		bool a_owned_small[8], k_owned_small[8];
		struct value *a = na <= 8 ? a_small : xmalloc((size_t)na * sizeof *a);
		struct kwarg *k = nk <= 8 ? k_small : xmalloc((size_t)nk * sizeof *k);
		bool *a_owned = na <= 8 ? a_owned_small : xmalloc((size_t)na * sizeof *a_owned);
		bool *k_owned = nk <= 8 ? k_owned_small : xmalloc((size_t)nk * sizeof *k_owned);
		for (int j = 0; j < na; j++)
			a[j] = resolve(&nd->args[j], vals, &a_owned[j]);
		for (int j = 0; j < nk; j++) {
			k[j].name = nd->kwargs[j].name;
			k[j].value = resolve(&nd->kwargs[j].value, vals, &k_owned[j]);
		}
		switch (nd->op) {
		case NODE_PLACEHOLDER: {
			const struct value *given = NULL;
			if (placeholder < nargs)
				given = &args[placeholder];
			for (int j = 0; !given && j < nkwargs; j++)
				if (strcmp(kwargs[j].name, nd->target) == 0)
					given = &kwargs[j].value;
			if (!given && na > 0)
				given = &a[0]; /* the parameter's default value */
			if (!given) {
				char owner_path[2048];
				module_path_buf(m, owner_path, sizeof owner_path);
				error_setk(w->err, ERR_SHAPE,
					   "%s: forward expects an argument '%s' that the caller does not pass",
					   owner_path[0] ? owner_path : m->type, nd->target);
				rc = fail_at(w, m);
				break;
			}
			vals[i] = value_copy(given);
			placeholder++;
			break;
		}
		case NODE_CALL_MODULE: {
			int64_t sub = 0;
			rc = walk_module(w, nd->callee, m, nd, a, na, k, nk, &vals[i], &sub);
			*macs += sub;
			break;
		}
		case NODE_CALL_FUNCTION:
		case NODE_CALL_METHOD: {
			struct op_call c = {.def = nd->fn, .owner = m, .node = nd,
					    .args = a, .nargs = na, .kwargs = k, .nkwargs = nk,
					    .err = w->err};
			rc = apply_rule(w, &c, m, &vals[i]);
			if (rc == 0)
				*macs += c.macs;
			break;
		}
		case NODE_GET_ATTR:
			if (w->get_attr) {
				rc = w->get_attr(w, nd, &vals[i]);
			} else {
				const struct param *p = &nd->attr_owner->params[nd->attr_index];
				struct origin o = {.module = nd->attr_owner, .node = NULL};
				vals[i] = value_tensor_meta(p->t.dtype, &p->t.shape, o);
			}
			break;
		case NODE_OUTPUT:
			*out = value_copy(&a[0]);
			break;
		}
		if (rc == 0 && w->on_node)
			w->on_node(w, m, i, nd->op == NODE_OUTPUT ? out : &vals[i]);
		for (int j = 0; j < na; j++)
			if (a_owned[j])
				value_free(&a[j]);
		for (int j = 0; j < nk; j++)
			if (k_owned[j])
				value_free(&k[j].value);
		if (a != a_small) {
			free(a);
			free(a_owned);
		}
		if (k != k_small) {
			free(k);
			free(k_owned);
		}
	}
	for (int i = 0; i < g->n; i++)
		value_free(&vals[i]);
	free(vals);
	return rc;
}

static int walk_chain(struct shape_walk *w, struct module *m, const struct value *args, int nargs,
		      struct value *out, int64_t *macs)
{
	char path[2048] = "";
	if (m->nchildren == 0 || nargs != 1)
		module_path_buf(m, path, sizeof path);
	if (m->nchildren == 0 && strcmp(m->type, "Sequential") != 0) {
		error_setk(w->err, ERR_INPUT,
			   "%s: graft does not know the type %s, and it has no forward graph",
			   path[0] ? path : "root module", m->type);
		return fail_at(w, m);
	}
	if (nargs != 1) {
		error_setk(w->err, ERR_SHAPE,
			   "%s: %s runs its children in order and takes one input, but gets %d",
			   path[0] ? path : "root module", m->type, nargs);
		return fail_at(w, m);
	}
	struct value cur = value_copy(&args[0]);
	for (int i = 0; i < m->nchildren; i++) {
		struct value next = value_none();
		int64_t sub = 0;
		if (walk_module(w, m->children[i], m, NULL, &cur, 1, NULL, 0, &next, &sub) < 0) {
			value_free(&cur);
			return -1;
		}
		*macs += sub;
		value_free(&cur);
		cur = next;
	}
	*out = cur;
	return 0;
}

static int walk_module(struct shape_walk *w, struct module *m, const struct module *owner,
		       const struct graph_node *node, const struct value *args, int nargs,
		       const struct kwarg *kwargs, int nkwargs, struct value *out, int64_t *macs)
{
	int rc;
	*out = value_none();
	*macs = 0;
	if (m->def) {
		struct op_call c = {.def = m->def, .module = m, .owner = owner, .node = node,
				    .args = args, .nargs = nargs,
				    .kwargs = kwargs, .nkwargs = nkwargs, .err = w->err};
		rc = apply_rule(w, &c, m, out);
		if (rc < 0) {
			/* tell what reached the failing module */
			if (w->on_module)
				w->on_module(w, m, args, nargs, NULL, 0);
			return -1;
		}
		*macs = c.macs;
	} else if (m->forward) {
		rc = walk_graph(w, m, args, nargs, kwargs, nkwargs, out, macs);
	} else {
		rc = walk_chain(w, m, args, nargs, out, macs);
	}
	if (rc < 0)
		return -1;
	if (w->on_module)
		w->on_module(w, m, args, nargs, out, *macs);
	return 0;
}

int shape_walk(struct shape_walk *w, struct module *m, const struct value *args, int nargs,
	       struct value *out, int64_t *macs)
{
	w->failed = NULL;
	return walk_module(w, m, NULL, NULL, args, nargs, NULL, 0, out, macs);
}

/* ---- the shape pass ---- */

struct pass {
	struct shape_result *r;
	int seq; /* calls ended so far */
};

/* Counts the bytes of every registry call's output. */
static int pass_op(struct shape_walk *w, struct op_call *c)
{
	struct pass *ps = w->ctx;
	ps->r->activation_bytes += value_bytes(&c->out);
	return 0;
}

/* Records the call in the module; a failed call keeps what reached it, for
 * the views and for edits that fit a replacement to it. */
static void pass_module(struct shape_walk *w, struct module *m, const struct value *args,
			int nargs, const struct value *out, int64_t macs)
{
	struct pass *ps = w->ctx;
	xgrow(&m->calls, &m->calls_cap, m->ncalls + 1, sizeof *m->calls);
	struct call_record *rec = &m->calls[m->ncalls++];
	rec->in = value_list(nargs);
	for (int i = 0; i < nargs; i++)
		rec->in.u.list.items[i] = value_copy(&args[i]);
	rec->out = out ? value_copy(out) : value_none();
	rec->macs = macs;
	rec->seq = ps->seq++;
}

/* Keeps the value of each node in the first call of its module. */
static void pass_node(struct shape_walk *w, struct module *m, int node, const struct value *v)
{
	(void)w;
	struct graph_node *nd = &m->forward->nodes[node];
	if (m->ncalls == 0 && nd->out.kind == VAL_NONE)
		nd->out = value_copy(v);
}

/* Walks m on args recording calls into r, and marks the module a break is
 * in. */
static int pass_walk(struct shape_result *r, struct module *m, const struct value *args,
		     int nargs, struct value *out, int64_t *macs)
{
	struct pass ps = {.r = r};
	struct shape_walk w = {.err = &r->err, .ctx = &ps,
			       .on_op = pass_op, .on_module = pass_module,
			       .on_node = pass_node};
	int rc = shape_walk(&w, m, args, nargs, out, macs);
	if (w.failed) {
		r->failed = w.failed;
		w.failed->broken = true;
	}
	return rc;
}

int shape_pass(struct model *m, struct shape_result *r)
{
	memset(r, 0, sizeof *r);
	r->output = value_none();
	if (!m->root)
		return error_setk(&r->err, ERR_INPUT, "%s: the model is empty", m->name);
	module_clear_calls(m->root);
	if (!m->has_forward) {
		error_setk(&r->err, ERR_INPUT,
			   "%s: the forward is unknown (a tree built from tensor names): shapes cannot be checked",
			   m->path ? m->path : m->name);
		return -1;
	}
	struct value *args = xcalloc((size_t)m->ninputs, sizeof *args);
	for (int i = 0; i < m->ninputs; i++) {
		struct origin o = {0};
		args[i] = value_tensor_meta(m->inputs[i].dtype, &m->inputs[i].shape, o);
	}
	int64_t macs = 0;
	int rc = pass_walk(r, m->root, args, m->ninputs, &r->output, &macs);
	for (int i = 0; i < m->ninputs; i++)
		value_free(&args[i]);
	free(args);
	r->macs = macs;
	r->ok = rc == 0;
	return rc;
}

void shape_result_free(struct shape_result *r)
{
	value_free(&r->output);
}

int shape_run_module(struct module *m, const struct value *args, int nargs, struct value *out,
		     struct error *e)
{
	struct shape_result r;
	memset(&r, 0, sizeof r);
	int64_t macs = 0;
	int rc = pass_walk(&r, m, args, nargs, out, &macs);
	if (rc < 0) {
		if (e)
			*e = r.err;
		value_free(out);
	}
	return rc;
}
