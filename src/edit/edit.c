/* edit.c - the editor's state and its operations: replace, insert, delete,
 * set, head, freeze; undo and redo by snapshots; the shape re-check.
 *
 * Every changing operation works on the live model after a snapshot was
 * taken; when it fails the snapshot is put back, so a refused command never
 * leaves a half-changed model. */
#include "edit/edit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit/edit_ops.h"
#include "core/registry.h"
#include "core/text.h"
#include "edit/select.h"
#include "core/ties.h"

/* Numbers the modules 1, 2, ... in preorder (see inspect_diff). */
static int number_module(struct module *m, void *ctx)
{
	int *next = ctx;
	m->id = (*next)++;
	return 0;
}

void editor_init(struct editor *ed, struct model *m)
{
	memset(ed, 0, sizeof *ed);
	int next = 1;
	module_walk(m->root, number_module, &next);
	ed->model = m;
	ed->original = model_clone(m);
	rng_seed(&ed->rng, 0);
	edit_recheck(ed);
}

static void free_snapshots(struct snapshot *s, int n)
{
	for (int i = 0; i < n; i++)
		model_free(s[i].model);
}

static void free_strings(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
}

void editor_free(struct editor *ed)
{
	shape_result_free(&ed->check);
	model_free(ed->model);
	model_free(ed->original);
	free_snapshots(ed->undo, ed->nundo);
	free_snapshots(ed->redo, ed->nredo);
	free(ed->undo);
	free(ed->redo);
	free_strings(ed->log, ed->nlog);
	free(ed->log);
	free_strings(ed->redo_log, ed->nredo_log);
	free(ed->redo_log);
	free_strings(ed->defines, ed->ndefines);
	free(ed->defines);
	type_lib_free(&ed->types);
	if (ed->journal)
		fclose(ed->journal);
	memset(ed, 0, sizeof *ed);
}

/* Re-resolves every graph's callees (children may have been replaced) and
 * re-runs the shape pass. */
static int rebind(struct module *m, void *ctx)
{
	struct error *e = ctx;
	if (m->forward && graph_bind(m, e) < 0)
		return 1;
	return 0;
}

void edit_recheck(struct editor *ed)
{
	struct error e = {0};
	shape_result_free(&ed->check);
	if (module_walk(ed->model->root, rebind, &e)) {
		memset(&ed->check, 0, sizeof ed->check);
		ed->check.err = e;
		ed->check.err.kind = ERR_SHAPE;
		return;
	}
	shape_pass(ed->model, &ed->check);
}

/* --- undo -------------------------------------------------------------- */

static void push_snapshot(struct snapshot **v, int *n, int *cap, struct snapshot s)
{
	xgrow(v, cap, *n + 1, sizeof **v);
	(*v)[(*n)++] = s;
}

void edit_begin(struct editor *ed)
{
	struct snapshot s = {.model = model_clone(ed->model), .rng = ed->rng, .nlog = ed->nlog};
	push_snapshot(&ed->undo, &ed->nundo, &ed->undo_cap, s);
}

void edit_abort(struct editor *ed)
{
	struct snapshot s = ed->undo[--ed->nundo];
	model_free(ed->model);
	ed->model = s.model;
	ed->rng = s.rng;
	edit_recheck(ed);
}

void edit_commit(struct editor *ed, const char *command)
{
	xgrow(&ed->log, &ed->log_cap, ed->nlog + 1, sizeof *ed->log);
	ed->log[ed->nlog++] = xstrdup(command);
	free_snapshots(ed->redo, ed->nredo);
	ed->nredo = 0;
	free_strings(ed->redo_log, ed->nredo_log);
	ed->nredo_log = 0;
	ed->dirty = true;
	edit_recheck(ed);
}

int edit_undo(struct editor *ed, struct error *e)
{
	if (ed->nundo == 0)
		return error_set(e, "nothing to undo");
	struct snapshot s = ed->undo[--ed->nundo];
	struct snapshot now = {.model = ed->model, .rng = ed->rng, .nlog = ed->nlog};
	push_snapshot(&ed->redo, &ed->nredo, &ed->redo_cap, now);
	for (int i = ed->nlog - 1; i >= s.nlog; i--) {
		xgrow(&ed->redo_log, &ed->redo_log_cap, ed->nredo_log + 1, sizeof *ed->redo_log);
		ed->redo_log[ed->nredo_log++] = ed->log[i];
	}
	ed->nlog = s.nlog;
	ed->model = s.model;
	ed->rng = s.rng;
	ed->dirty = true;
	edit_recheck(ed);
	return 0;
}

int edit_redo(struct editor *ed, struct error *e)
{
	if (ed->nredo == 0)
		return error_set(e, "nothing to redo");
	struct snapshot s = ed->redo[--ed->nredo];
	struct snapshot now = {.model = ed->model, .rng = ed->rng, .nlog = ed->nlog};
	push_snapshot(&ed->undo, &ed->nundo, &ed->undo_cap, now);
	while (ed->nlog < s.nlog && ed->nredo_log > 0) {
		xgrow(&ed->log, &ed->log_cap, ed->nlog + 1, sizeof *ed->log);
		ed->log[ed->nlog++] = ed->redo_log[--ed->nredo_log];
	}
	ed->model = s.model;
	ed->rng = s.rng;
	ed->dirty = true;
	edit_recheck(ed);
	return 0;
}

/* --- helpers ----------------------------------------------------------- */

static bool is_known_type(const char *word, void *ctx)
{
	struct editor *ed = ctx;
	return registry_module(word) || type_lib_find(&ed->types, word) ||
	       strcmp(word, "Sequential") == 0 || edit_model_has_type(ed->model->root, word);
}

bool edit_model_has_type(const struct module *m, const char *type)
{
	if (strcmp(m->type, type) == 0)
		return true;
	for (int i = 0; i < m->nchildren; i++)
		if (edit_model_has_type(m->children[i], type))
			return true;
	return false;
}

/* Module types, each once, and how many modules have each. */
struct type_counts {
	const char **names;
	int *counts;
	int n, cap;
};

static int count_type(struct module *m, void *ctx)
{
	struct type_counts *tc = ctx;
	for (int i = 0; i < tc->n; i++) {
		if (strcmp(tc->names[i], m->type) == 0) {
			tc->counts[i]++;
			return 0;
		}
	}
	int cap = tc->cap;
	xgrow(&tc->names, &tc->cap, tc->n + 1, sizeof *tc->names);
	xgrow(&tc->counts, &cap, tc->n + 1, sizeof *tc->counts);
	tc->names[tc->n] = m->type;
	tc->counts[tc->n++] = 1;
	return 0;
}

/* The type a selector word names: one that specs build or one in the
 * model, spelt alike or (when only one is) with other letter case; NULL
 * when none. */
static const char *selector_type(const char *word, void *ctx)
{
	struct editor *ed = ctx;
	const char *type = spec_type_name(&ed->types, word);
	if (type)
		return type;
	struct type_counts tc = {0};
	module_walk(ed->model->root, count_type, &tc);
	type = spec_pick_name(spec_skip_nn_prefix(word), tc.names, tc.n);
	free(tc.names);
	free(tc.counts);
	return type;
}

int edit_select(struct editor *ed, const char *sel, struct module ***out, struct error *e)
{
	struct module *exact = sel[0] && !strpbrk(sel, "*?[") ? module_find(ed->model->root, sel) : NULL;
	if (exact && !is_known_type(sel, ed)) {
		*out = xmalloc(sizeof **out);
		(*out)[0] = exact;
		return 1;
	}
	int n = select_modules(ed->model->root, sel, selector_type, ed, out, e);
	if (n == 0) {
		free(*out);
		*out = NULL;
		return error_set(e, "nothing matches '%s'", sel);
	}
	return n;
}

int edit_select_say(struct editor *ed, const char *sel, struct module ***out, struct strbuf *say,
		    struct error *e)
{
	int n = edit_select(ed, sel, out, e);
	const char *type;
	if (n != 1 || (*out)[0] != module_find(ed->model->root, sel) ||
	    !(type = selector_type(sel, ed)) || strcmp(type, sel) == 0)
		return n;
	struct type_counts tc = {0};
	module_walk(ed->model->root, count_type, &tc);
	for (int i = 0; i < tc.n; i++)
		if (strcmp(tc.names[i], type) == 0)
			strbuf_addf(say, "note: '%s' is the module at that path; '%s' picks all %d %s modules\n",
				    sel, type, tc.counts[i], type);
	free(tc.names);
	free(tc.counts);
	return n;
}

/* Collects module paths for did-you-mean. */
struct paths {
	char **v;
	int n, cap;
};

static int add_path(struct module *m, void *ctx)
{
	struct paths *p = ctx;
	if (!m->parent)
		return 0;
	xgrow(&p->v, &p->cap, p->n + 1, sizeof *p->v);
	p->v[p->n++] = module_path(m);
	return 0;
}

struct module *edit_find(struct editor *ed, const char *path, struct error *e)
{
	struct module *m = module_find(ed->model->root, path);
	if (m)
		return m;
	struct paths p = {0};
	module_walk(ed->model->root, add_path, &p);
	const char *near = text_did_you_mean(path, (const char *const *)p.v, p.n);
	if (near)
		error_set(e, "no module '%s' (did you mean '%s'?)", path, near);
	else
		error_set(e, "no module '%s' (see 'find')", path);
	free_strings(p.v, p.n);
	free(p.v);
	return NULL;
}

/* The value flowing into m's first call, or NULL when unknown. */
static const struct value *input_of(const struct module *m)
{
	if (m->ncalls > 0 && m->calls[0].in.u.list.n > 0)
		return &m->calls[0].in.u.list.items[0];
	return NULL;
}

static const struct value *output_of(const struct module *m)
{
	return m->ncalls > 0 ? &m->calls[0].out : NULL;
}

static int child_index(const struct module *parent, const struct module *m)
{
	for (int i = 0; i < parent->nchildren; i++)
		if (parent->children[i] == m)
			return i;
	return -1;
}

/* Copies the overlapping block of src into dst (same rank, float data). */
static void copy_overlap(struct tensor *dst, const struct tensor *src)
{
	const struct shape *ds = &dst->shape, *ss = &src->shape;
	if (ds->ndim != ss->ndim || dst->dtype != src->dtype || !dst->storage || !src->storage)
		return;
	int nd = ds->ndim;
	int64_t idx[SHAPE_MAX_DIMS] = {0}, lim[SHAPE_MAX_DIMS];
	int64_t total = 1;
	for (int d = 0; d < nd; d++) {
		lim[d] = ds->dim[d] < ss->dim[d] ? ds->dim[d] : ss->dim[d];
		total *= lim[d];
	}
	if (total <= 0)
		return;
	size_t es = dtype_size(dst->dtype);
	uint8_t *dp = (uint8_t *)dst->storage->data + dst->offset;
	const uint8_t *sp = (const uint8_t *)tensor_data(src);
	for (int64_t k = 0; k < total; k++) {
		int64_t doff = 0, soff = 0;
		for (int d = 0; d < nd; d++) {
			doff = doff * ds->dim[d] + idx[d];
			soff = soff * ss->dim[d] + idx[d];
		}
		memcpy(dp + doff * (int64_t)es, sp + soff * (int64_t)es, es);
		for (int d = nd - 1; d >= 0; d--) {
			if (++idx[d] < lim[d])
				break;
			idx[d] = 0;
		}
	}
}

/* Keeps the old tensors in the new module where the user wants them:
 * same type with identical shapes keeps all (unless keep=none);
 * keep=overlap copies the overlapping slices of changed ones. Returns 0, or
 * -1 with e set when a copy cannot be allocated. */
static int keep_weights(const struct module *old, struct module *nw, enum keep_mode keep,
                        struct error *e)
{
	if (keep == KEEP_NONE || strcmp(old->type, nw->type) != 0)
		return 0;
	bool identical = old->nparams == nw->nparams;
	for (int i = 0; identical && i < nw->nparams; i++) {
		const struct param *op = module_param(old, nw->params[i].name);
		identical = op && shape_equal(&op->t.shape, &nw->params[i].t.shape) &&
			    op->t.storage;
	}
	for (int i = 0; i < nw->nparams; i++) {
		struct param *np = &nw->params[i];
		const struct param *op = module_param(old, np->name);
		if (!op || !op->t.storage)
			continue;
		if (identical) {
			tensor_share(&np->t, &op->t);
			np->trainable = op->trainable;
		} else if (keep == KEEP_OVERLAP) {
			if (shape_equal(&op->t.shape, &np->t.shape) && op->t.dtype == np->t.dtype) {
				tensor_share(&np->t, &op->t);
			} else {
				struct tensor t = {.dtype = op->t.dtype, .shape = np->t.shape};
				if (tensor_alloc(&t, e) < 0)
					return error_prefix(e, "%s", np->name);
				if (np->t.storage && np->t.dtype == op->t.dtype)
					memcpy(t.storage->data, tensor_data(&np->t), tensor_nbytes(&t));
				copy_overlap(&t, &op->t);
				tensor_release(&np->t);
				np->t = t;
			}
		}
	}
	return 0;
}

/* A tie is kept by name: a tensor of nw named as a tied one of old is tied
 * to the same first name (ties_sync drops it if the shapes now differ). */
static void keep_ties(const struct module *old, struct module *nw)
{
	for (int i = 0; i < nw->nparams; i++) {
		const struct param *op = module_param(old, nw->params[i].name);
		if (op && op->tie && !nw->params[i].tie)
			nw->params[i].tie = xstrdup(op->tie);
	}
}

static struct build_ctx build_ctx(struct editor *ed)
{
	struct build_ctx c = {.lib = &ed->types, .rng = ed->model->has_weights ? &ed->rng : NULL};
	return c;
}

/* Puts nw where old is in old's parent and frees old. */
static void swap_module(struct module *old, struct module *nw)
{
	struct module *parent = old->parent;
	int i = child_index(parent, old);
	parent->children[i] = nw;
	nw->parent = parent;
	free(nw->name);
	nw->name = xstrdup(old->name);
	module_free(old);
}

int edit_replace_one(struct editor *ed, struct module *old, const struct spec *s,
		     enum keep_mode keep, struct strbuf *out, struct error *e)
{
	char path[4096];
	module_path_buf(old, path, sizeof path);
	if (!old->parent)
		return error_set(e, "cannot replace the root module");
	struct build_ctx ctx = build_ctx(ed);
	struct module *nw = spec_build(&ctx, s, old->name, old, input_of(old), NULL, e);
	if (!nw)
		return error_prefix(e, "%s", path);
	if (keep_weights(old, nw, keep, e) < 0) {
		module_free(nw);
		return error_prefix(e, "%s", path);
	}
	keep_ties(old, nw);
	char a[256], b[256];
	registry_describe(old, a, sizeof a);
	registry_describe(nw, b, sizeof b);
	strbuf_addf(out, "replaced %s: %s -> %s\n", path, a, b);
	swap_module(old, nw);
	return 0;
}

static int replace_node(struct editor *ed, const char *path, const char *colon,
			const struct spec *s, struct strbuf *out, struct error *e);

int edit_replace(struct editor *ed, const char *sel, const struct spec *s, enum keep_mode keep,
		 bool all, struct strbuf *out, struct error *e)
{
	struct module **mods = NULL;
	int n;
	if (!all && strchr(sel, ':'))
		return replace_node(ed, sel, strchr(sel, ':'), s, out, e);
	if (!all) {
		struct module *m = edit_find(ed, sel, e);
		if (!m)
			return -1;
		return edit_replace_one(ed, m, s, keep, out, e);
	}
	n = edit_select_say(ed, sel, &mods, out, e);
	if (n < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++)
		rc = edit_replace_one(ed, mods[i], s, keep, out, e);
	if (rc == 0)
		strbuf_addf(out, "%d module%s replaced\n", n, n == 1 ? "" : "s");
	free(mods);
	return rc;
}

/* --- insert and delete ------------------------------------------------- */

static bool numbered(const struct module *parent)
{
	for (int i = 0; i < parent->nchildren; i++) {
		char want[16];
		snprintf(want, sizeof want, "%d", i);
		if (strcmp(parent->children[i]->name, want) != 0)
			return false;
	}
	return true;
}

static void renumber(struct module *parent)
{
	for (int i = 0; i < parent->nchildren; i++) {
		free(parent->children[i]->name);
		parent->children[i]->name = xasprintf("%d", i);
	}
}

static void insert_child(struct module *parent, int at, struct module *c)
{
	module_add_child(parent, c);
	memmove(&parent->children[at + 1], &parent->children[at],
		(size_t)(parent->nchildren - 1 - at) * sizeof *parent->children);
	parent->children[at] = c;
}

static char *unique_child_name(const struct module *parent, const char *base)
{
	char *name = xstrdup(base);
	for (int k = 1; module_child(parent, name); k++) {
		free(name);
		name = xasprintf("%s_%d", base, k);
	}
	return name;
}

/* Shifts refs to nodes at or after `from` by one (a node was inserted). */
static void shift_refs(struct value *v, int from)
{
	if (v->kind == VAL_REF && v->u.ref >= from)
		v->u.ref++;
	else if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			shift_refs(&v->u.list.items[i], from);
}

static void redirect_refs(struct value *v, int from, int to)
{
	if (v->kind == VAL_REF && v->u.ref == from)
		v->u.ref = to;
	else if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			redirect_refs(&v->u.list.items[i], from, to);
}

/* Inserts a call_module node for `target` at index `at` with one argument. */
static void graph_insert_call(struct graph *g, int at, const char *target, struct value arg)
{
	char *name = xstrdup(target);
	for (int k = 1; graph_find(g, name) >= 0; k++) {
		free(name);
		name = xasprintf("%s_%d", target, k);
	}
	graph_add(g, NULL, NODE_CALL_MODULE, NULL);
	memmove(&g->nodes[at + 1], &g->nodes[at], (size_t)(g->n - 1 - at) * sizeof *g->nodes);
	for (int i = at + 1; i < g->n; i++) {
		for (int a = 0; a < g->nodes[i].nargs; a++)
			shift_refs(&g->nodes[i].args[a], at);
		for (int k = 0; k < g->nodes[i].nkwargs; k++)
			shift_refs(&g->nodes[i].kwargs[k].value, at);
	}
	shift_refs(&arg, at);
	struct graph_node *nd = &g->nodes[at];
	memset(nd, 0, sizeof *nd);
	nd->name = name;
	nd->op = NODE_CALL_MODULE;
	nd->target = xstrdup(target);
	nd->attr_index = -1;
	nd->nargs = 1;
	nd->args = xcalloc(1, sizeof *nd->args);
	nd->args[0] = arg;
}

/* Calls the module `target` on node i's output (after), or on node i's first
 * argument, passing node i what it returns (before). The node then is at
 * i + 1. */
static void call_around(struct graph *g, int i, bool after, const char *target)
{
	if (after) {
		struct value ref = {.kind = VAL_REF, .u.ref = i};
		graph_insert_call(g, i + 1, target, ref);
		for (int j = i + 2; j < g->n; j++) {
			for (int a = 0; a < g->nodes[j].nargs; a++)
				redirect_refs(&g->nodes[j].args[a], i, i + 1);
			for (int k = 0; k < g->nodes[j].nkwargs; k++)
				redirect_refs(&g->nodes[j].kwargs[k].value, i, i + 1);
		}
		return;
	}
	struct graph_node *nd = &g->nodes[i];
	struct value arg = nd->nargs ? value_copy(&nd->args[0]) : value_none();
	graph_insert_call(g, i, target, arg);
	nd = &g->nodes[i + 1];
	if (nd->nargs) {
		value_free(&nd->args[0]);
		nd->args[0].kind = VAL_REF;
		nd->args[0].u.ref = i;
	}
}

/* The index of node NODE in the graph of the module at OWNER, for a path
 * "OWNER:NODE" whose colon is at `colon`; *owner gets the module. -1 with e
 * set when there is no such node. */
static int find_node(struct editor *ed, const char *path, const char *colon, struct module **owner,
		     struct error *e)
{
	char *opath = xstrndup(path, (size_t)(colon - path));
	*owner = edit_find(ed, opath, e);
	free(opath);
	if (!*owner)
		return -1;
	const struct graph *g = (*owner)->forward;
	int i = g ? graph_find(g, colon + 1) : -1;
	if (i < 0)
		error_set(e, "%s (%s) has no forward node '%s'%s", path, (*owner)->type, colon + 1,
			  g ? " (show lists them)" : ": it runs its children in order");
	return i;
}

/* A graph value refers to a node whose value is a tensor. */
static bool refers_to_tensor(const struct graph *g, const struct value *v)
{
	if (v->kind == VAL_REF)
		return g->nodes[v->u.ref].out.kind == VAL_TENSOR;
	for (int i = 0; v->kind == VAL_LIST && i < v->u.list.n; i++)
		if (refers_to_tensor(g, &v->u.list.items[i]))
			return true;
	return false;
}

/* replace a function node of a forward graph ("fc:relu") by a module
 * called on the node's first argument, a new last child of the owner named
 * after the node. */
static int replace_node(struct editor *ed, const char *path, const char *colon,
			const struct spec *s, struct strbuf *out, struct error *e)
{
	struct module *owner;
	int i = find_node(ed, path, colon, &owner, e);
	if (i < 0)
		return -1;
	struct graph *g = owner->forward;
	struct graph_node *nd = &g->nodes[i];
	if (nd->op != NODE_CALL_FUNCTION && nd->op != NODE_CALL_METHOD)
		return error_set(e, "replace %s: only a function node is replaced this way%s", path,
				 nd->op == NODE_CALL_MODULE ? " (replace the module it calls)" : "");
	bool one_tensor = nd->nargs && nd->args[0].kind == VAL_REF;
	for (int a = 1; one_tensor && a < nd->nargs; a++)
		one_tensor = !refers_to_tensor(g, &nd->args[a]);
	for (int k = 0; one_tensor && k < nd->nkwargs; k++)
		one_tensor = !refers_to_tensor(g, &nd->kwargs[k].value);
	if (!one_tensor)
		return error_set(e, "replace %s: %s() does not take exactly one tensor; a module "
				    "replacing it is called on one",
				 path, nd->target);
	const struct value *flowing = &g->nodes[nd->args[0].u.ref].out;
	char *uname = unique_child_name(owner, nd->name);
	struct build_ctx ctx = build_ctx(ed);
	struct module *nw = spec_build(&ctx, s, uname, NULL,
				       flowing->kind == VAL_TENSOR ? flowing : NULL, NULL, e);
	free(uname);
	if (!nw)
		return error_prefix(e, "replace %s", path);
	module_add_child(owner, nw);
	char d[256], npath[4096];
	registry_describe(nw, d, sizeof d);
	strbuf_addf(out, "replaced %s: %s() -> %s %s\n", path, nd->target,
		    module_path_buf(nw, npath, sizeof npath), d);
	for (int a = 1; a < nd->nargs; a++)
		value_free(&nd->args[a]);
	nd->nargs = 1;
	for (int k = 0; k < nd->nkwargs; k++) {
		free(nd->kwargs[k].name);
		value_free(&nd->kwargs[k].value);
	}
	nd->nkwargs = 0;
	nd->op = NODE_CALL_MODULE;
	free(nd->target);
	nd->target = xstrdup(nw->name);
	nd->fn = NULL;
	return 0;
}

/* insert before/after a node of a forward graph: "layer1.0:add". The new
 * module is the owner's last child. */
static int insert_at_node(struct editor *ed, bool after, const char *path, const char *colon,
			  const struct spec *s, const char *name, struct strbuf *out,
			  struct error *e)
{
	struct module *owner;
	int i = find_node(ed, path, colon, &owner, e);
	if (i < 0)
		return -1;
	struct graph *g = owner->forward;
	const char *node = colon + 1;
	const struct graph_node *nd = &g->nodes[i];
	if (after ? nd->op == NODE_OUTPUT : nd->op == NODE_PLACEHOLDER || !nd->nargs ||
						nd->args[0].kind != VAL_REF)
		return error_set(e, "insert %s %s: %s", after ? "after" : "before", path,
				 after ? "nothing runs after the output node"
				       : "the node takes no tensor to pass on");
	const struct value *flowing = after ? &nd->out : &g->nodes[nd->args[0].u.ref].out;
	if (flowing->kind != VAL_TENSOR)
		flowing = NULL;
	char *cname = name ? xstrdup(name) : xasprintf("%s_%s", node, after ? "post" : "pre");
	if (name && module_child(owner, name)) {
		free(cname);
		return error_set(e, "%s already has a child '%s'", owner->type, name);
	}
	char *uname = unique_child_name(owner, cname);
	free(cname);
	struct build_ctx ctx = build_ctx(ed);
	struct module *nw = spec_build(&ctx, s, uname, NULL, flowing, NULL, e);
	free(uname);
	if (!nw)
		return error_prefix(e, "insert %s %s", after ? "after" : "before", path);
	module_add_child(owner, nw);
	call_around(g, i, after, nw->name);
	char d[256], npath[4096];
	registry_describe(nw, d, sizeof d);
	strbuf_addf(out, "inserted %s: %s %s %s\n", module_path_buf(nw, npath, sizeof npath), d,
		    after ? "after" : "before", path);
	return 0;
}

int edit_insert(struct editor *ed, bool after, const char *path, const struct spec *s,
		const char *name, struct strbuf *out, struct error *e)
{
	const char *colon = strchr(path, ':');
	if (colon)
		return insert_at_node(ed, after, path, colon, s, name, out, e);
	struct module *m = edit_find(ed, path, e);
	if (!m)
		return -1;
	if (!m->parent)
		return error_set(e, "cannot insert around the root module");
	struct module *parent = m->parent;
	const struct value *flowing = after ? output_of(m) : input_of(m);
	if (flowing && flowing->kind != VAL_TENSOR)
		flowing = NULL;
	struct build_ctx ctx = build_ctx(ed);
	char *cname = name ? xstrdup(name) : xasprintf("%s_%s", m->name, after ? "post" : "pre");
	if (name && module_child(parent, name)) {
		free(cname);
		return error_set(e, "%s already has a child '%s'", parent->type, name);
	}
	char *uname = unique_child_name(parent, cname);
	free(cname);
	struct module *nw = spec_build(&ctx, s, uname, NULL, flowing, NULL, e);
	free(uname);
	if (!nw)
		return error_prefix(e, "insert %s %s", after ? "after" : "before", path);
	int at = child_index(parent, m) + (after ? 1 : 0);
	char d[256];
	registry_describe(nw, d, sizeof d);
	if (!parent->forward) {
		bool renum = numbered(parent) && !name;
		insert_child(parent, at, nw);
		if (renum)
			renumber(parent);
	} else {
		insert_child(parent, at, nw);
		struct graph *g = parent->forward;
		for (int i = 0; i < g->n; i++) {
			if (g->nodes[i].op == NODE_CALL_MODULE && g->nodes[i].callee == m) {
				call_around(g, i, after, nw->name);
				i++;
			}
		}
	}
	char ppath[4096];
	module_path_buf(nw, ppath, sizeof ppath);
	strbuf_addf(out, "inserted %s: %s %s %s\n", ppath, d, after ? "after" : "before", path);
	return 0;
}

int edit_delete(struct editor *ed, const char *path, struct strbuf *out, struct error *e)
{
	struct module *m = edit_find(ed, path, e);
	if (!m)
		return -1;
	if (!m->parent)
		return error_set(e, "cannot delete the root module");
	const struct value *in = input_of(m), *res = output_of(m);
	if (in && res && !(in->kind == VAL_TENSOR && res->kind == VAL_TENSOR &&
			   shape_equal(&in->u.tensor.t.shape, &res->u.tensor.t.shape))) {
		char a[160] = "?", b[160] = "?";
		if (in->kind == VAL_TENSOR)
			shape_format(&in->u.tensor.t.shape, a, sizeof a);
		if (res->kind == VAL_TENSOR)
			shape_format(&res->u.tensor.t.shape, b, sizeof b);
		return error_set(e, "cannot delete %s: it takes %s and gives %s, so what follows would get the wrong shape (replace it instead)",
				 path, a, b);
	}
	struct module *parent = m->parent;
	if (parent->forward) {
		struct spec *s = spec_new("Identity");
		struct build_ctx ctx = build_ctx(ed);
		struct module *id = spec_build(&ctx, s, m->name, NULL, NULL, NULL, e);
		spec_free(s);
		if (!id)
			return -1;
		swap_module(m, id);
		strbuf_addf(out, "deleted %s (now Identity in %s's forward)\n", path, parent->type);
		return 0;
	}
	bool renum = numbered(parent);
	int i = child_index(parent, m);
	memmove(&parent->children[i], &parent->children[i + 1],
		(size_t)(parent->nchildren - i - 1) * sizeof *parent->children);
	parent->nchildren--;
	module_free(m);
	if (renum)
		renumber(parent);
	strbuf_addf(out, "deleted %s\n", path);
	return 0;
}

/* --- set --------------------------------------------------------------- */

int edit_set(struct editor *ed, const char *path, const struct kwarg *kv, int n,
	     struct strbuf *out, struct error *e)
{
	struct module *m = edit_find(ed, path, e);
	if (!m)
		return -1;
	if (n == 0)
		return error_set(e, "set %s: nothing to set (give k=v)", path);
	const struct type_def *d = type_lib_find(&ed->types, m->type);
	if (!m->def && !d)
		return error_set(e, "set %s: %s is a composite; set changes built-in and defined types (replace it instead)",
				 path, m->type);
	if (d) {
		/* rebuild the defined type from its arguments, changed */
		struct spec *s = spec_new(m->type);
		for (int i = 0; i < m->nattrs; i++) {
			bool overridden = false;
			for (int k = 0; k < n; k++)
				overridden = overridden || strcmp(kv[k].name, m->attrs[i].name) == 0;
			if (!overridden)
				spec_add_kwarg(s, m->attrs[i].name, &m->attrs[i].value);
		}
		for (int k = 0; k < n; k++)
			spec_add_kwarg(s, kv[k].name, &kv[k].value);
		int rc = edit_replace_one(ed, m, s, KEEP_SAME, out, e);
		spec_free(s);
		return rc;
	}
	for (int k = 0; k < n; k++) {
		if (!registry_attr_spec(m->def, kv[k].name))
			break; /* registry_prepare names it, with a did-you-mean */
	}
	struct module *trial = module_clone(m);
	for (int k = 0; k < n; k++)
		module_set_attr(trial, kv[k].name, &kv[k].value);
	if (registry_prepare(trial, e) < 0) {
		module_free(trial);
		return error_prefix(e, "set %s", path);
	}
	/* tensors whose shape changed lost their storage: initialise them as a
	 * new module of the same attributes would be */
	bool fresh = false;
	for (int i = 0; i < trial->nparams; i++)
		fresh = fresh || !trial->params[i].t.storage;
	if (fresh && ed->model->has_weights) {
		struct module *init = module_clone(trial);
		for (int i = 0; i < init->nparams; i++)
			tensor_release(&init->params[i].t);
		if (init_module(init, &ed->rng, e) < 0) {
			module_free(init);
			module_free(trial);
			return -1;
		}
		for (int i = 0; i < trial->nparams; i++)
			if (!trial->params[i].t.storage)
				tensor_share(&trial->params[i].t, &init->params[i].t);
		module_free(init);
	}
	char a[256], b[256];
	registry_describe(m, a, sizeof a);
	registry_describe(trial, b, sizeof b);
	strbuf_addf(out, "set %s: %s -> %s\n", path, a, b);
	swap_module(m, trial);
	return 0;
}

/* --- head -------------------------------------------------------------- */

/* The attribute that sets the output size of a classifier layer of type d
 * (d may be NULL), or NULL: a type that maps input features (in_size_attr)
 * to an output size of its own (size_attr), not tied to its input size
 * (MultiheadAttention's embed_dim is both; an Embedding reads indices, not
 * features). */
static const char *head_size_attr(const struct op_def *d)
{
	if (!d || !d->size_attr || !d->in_size_attr || strcmp(d->size_attr, d->in_size_attr) == 0)
		return NULL;
	return d->size_attr;
}

/* "Linear or Conv2d": the registry's types head can change, for messages. */
static void head_type_names(char *buf, size_t size)
{
	int n, total = 0, k = 0;
	const struct op_def *const *defs = registry_all(OP_MODULE, &n);
	for (int i = 0; i < n; i++)
		total += head_size_attr(defs[i]) != NULL;
	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		if (!head_size_attr(defs[i]))
			continue;
		size_t len = strlen(buf);
		const char *sep = k == 0 ? "" : k == total - 1 ? " or " : ", ";
		snprintf(buf + len, size - len, "%s%s", sep, defs[i]->name);
		k++;
	}
}

/* The classifier heads a model type has beside its output layer (GoogLeNet's
 * auxiliary classifiers): every layer torchvision's num_classes sets, by
 * its path from the module of that type, with its outputs per class. */
static const struct head_set_row {
	const char *type, *path;
	int per_class;
} head_sets[] = {
#define HEAD(type, path, per_class) {type, path, per_class},
#include "edit/head_sets.def"
#undef HEAD
};

/* Model types whose outputs are not class scores: head refuses them and
 * says what computes their outputs instead. */
static const struct headless_type {
	const char *type, *why;
} headless_types[] = {
    {"RAFT", "optical flow: its outputs are the flow estimates, 2 channels (x and y) "
             "each, which update_block.flow_head computes; replace and set change its layers"},
};

static int find_headless(struct module *m, void *ctx)
{
	for (size_t i = 0; i < sizeof headless_types / sizeof headless_types[0]; i++)
		if (strcmp(m->type, headless_types[i].type) == 0) {
			*(const struct headless_type **)ctx = &headless_types[i];
			return 1;
		}
	return 0;
}

struct last_layer {
	struct module *called; /* the last classifier-type layer to run */
	int seq;
	struct module *last; /* the last one in tree order */
};

static int find_last_layer(struct module *m, void *ctx)
{
	struct last_layer *l = ctx;
	if (!head_size_attr(m->def))
		return 0;
	l->last = m;
	if (m->ncalls > 0) {
		int seq = m->calls[m->ncalls - 1].seq;
		if (!l->called || seq > l->seq) {
			l->called = m;
			l->seq = seq;
		}
	}
	return 0;
}

/* The classifier layer m is or holds: m itself when head can change it,
 * else the last such layer inside it to run (the last in tree order when
 * none runs); NULL when there is none. */
static struct module *classifier_in(struct module *m)
{
	struct last_layer l = {0};
	module_walk(m, find_last_layer, &l);
	return l.called ? l.called : l.last;
}

struct head {
	struct module *layer;
	int per_class;
};
struct heads {
	struct head *v;
	int n, cap;
};

static void heads_add(struct heads *h, struct module *layer, int per_class)
{
	xgrow(&h->v, &h->cap, h->n + 1, sizeof *h->v);
	h->v[h->n++] = (struct head){layer, per_class};
}

/* Adds the heads m's type declares (head_sets) that m still has: the layer
 * at the path, when it is one head can change (models of one type may hold
 * a container where another holds the layer: SSD's per-level classifiers
 * are convolutions, SSDlite's blocks ending in one). */
static int add_declared_heads(struct module *m, void *ctx)
{
	for (size_t i = 0; i < sizeof head_sets / sizeof head_sets[0]; i++) {
		struct module *at = strcmp(head_sets[i].type, m->type) == 0
		                        ? module_find(m, head_sets[i].path)
		                        : NULL;
		if (at && head_size_attr(at->def))
			heads_add(ctx, at, head_sets[i].per_class);
	}
	return 0;
}

/* The classifier found from the single output backwards: the last layer
 * with an output size to run, which must give the model's classes. */
static struct module *output_classifier(struct editor *ed, int64_t classes, struct error *e)
{
	if (!ed->check.ok) {
		error_set(e, "head: the model does not check, so its classifier cannot be followed from the output (name it: head N PATH)");
		return NULL;
	}
	const struct value *o = &ed->check.output;
	if (o->kind != VAL_TENSOR) {
		struct strbuf names = {0};
		for (int i = 0; o->kind == VAL_LIST && i < o->u.list.n; i++) {
			const struct value *it = &o->u.list.items[i];
			if (it->kind == VAL_TENSOR && it->u.tensor.origin.module &&
			    it->u.tensor.origin.module->parent) {
				char p[1024];
				module_path_buf(it->u.tensor.origin.module, p, sizeof p);
				strbuf_addf(&names, "%s%s", names.len ? ", " : "", p);
			}
		}
		error_set(e, "head: the model has several outputs; name the classifier to change: head %lld PATH%s%s%s",
			  (long long)classes, names.len ? " (outputs come from " : "",
			  names.len ? names.s : "", names.len ? ")" : "");
		strbuf_free(&names);
		return NULL;
	}
	struct last_layer l = {0};
	module_walk(ed->model->root, find_last_layer, &l);
	struct module *cls = l.called;
	if (!cls) {
		char types[256];
		head_type_names(types, sizeof types);
		error_set(e, "head: no %s layer leads to the output", types);
		return NULL;
	}
	const struct shape *os = &o->u.tensor.t.shape;
	int64_t want = os->ndim ? os->dim[os->ndim > 1 ? 1 : 0] : -1;
	int64_t have = module_attr_int(cls, head_size_attr(cls->def), -1);
	if (have != want) {
		char p[1024];
		module_path_buf(cls, p, sizeof p);
		error_set(e, "head: the last layer with weights (%s) has %lld outputs but the model gives %lld classes; name the classifier: head N PATH",
			  p, (long long)have, (long long)want);
		return NULL;
	}
	return cls;
}

int edit_head(struct editor *ed, int64_t classes, const char *path, enum keep_mode keep,
	      struct strbuf *out, struct error *e)
{
	if (classes <= 0)
		return error_set(e, "head: the number of outputs must be positive");
	struct heads h = {0};
	if (path) {
		struct module *m = edit_find(ed, path, e);
		if (!m)
			return -1;
		add_declared_heads(m, &h);
		struct module *cls = h.n ? NULL : classifier_in(m);
		if (!h.n && !cls) {
			char types[256];
			head_type_names(types, sizeof types);
			return error_set(e, "head: %s is a %s, %s %s", path, m->type,
					 m->nchildren ? "with no layer inside that is a" : "not a",
					 types);
		}
		if (cls)
			heads_add(&h, cls, 1);
	} else {
		const struct headless_type *hl = NULL;
		if (module_walk(ed->model->root, find_headless, &hl))
			return error_set(e, "head: %s has no class head (%s)", hl->type, hl->why);
		module_walk(ed->model->root, add_declared_heads, &h);
		struct module *cls = h.n ? NULL : output_classifier(ed, classes, e);
		if (!h.n && !cls)
			return -1;
		if (cls)
			heads_add(&h, cls, 1);
	}
	int rc = 0;
	for (int i = 0; i < h.n && rc == 0; i++) {
		struct spec *s = spec_new(h.v[i].layer->type);
		struct value v = value_int(classes * h.v[i].per_class);
		spec_add_kwarg(s, head_size_attr(h.v[i].layer->def), &v);
		rc = edit_replace_one(ed, h.v[i].layer, s, keep, out, e);
		spec_free(s);
	}
	free(h.v);
	return rc;
}

/* --- freeze ------------------------------------------------------------ */

static int64_t set_trainable(struct module *m, bool trainable)
{
	int64_t n = 0;
	for (int i = 0; i < m->nparams; i++) {
		if (m->params[i].buffer)
			continue;
		m->params[i].trainable = trainable;
		int64_t k = shape_numel(&m->params[i].t.shape);
		n += k > 0 ? k : 0;
	}
	for (int i = 0; i < m->nchildren; i++)
		n += set_trainable(m->children[i], trainable);
	return n;
}

int edit_freeze(struct editor *ed, const char *sel, bool freeze, struct strbuf *out,
		struct error *e)
{
	struct module **mods;
	int n = sel[0] ? edit_select(ed, sel, &mods, e) : 0;
	if (!sel[0]) {
		mods = xmalloc(sizeof *mods);
		mods[0] = ed->model->root;
		n = 1;
	}
	if (n < 0)
		return -1;
	int64_t total = 0;
	for (int i = 0; i < n; i++)
		total += set_trainable(mods[i], !freeze);
	char buf[32];
	strbuf_addf(out, "%s %s parameters in %d module%s\n", freeze ? "froze" : "unfroze",
		    fmt_count(total, buf, sizeof buf), n, n == 1 ? "" : "s");
	free(mods);
	return 0;
}

/* --- wrap -------------------------------------------------------------- */

int edit_wrap(struct editor *ed, const char *name, const char *type, struct strbuf *out,
	      struct error *e)
{
	if (!name[0] || strchr(name, '.'))
		return error_set(e, "wrap: '%s' is not a module name", name);
	if (registry_module(type) || type_lib_find(&ed->types, type))
		return error_set(e, "wrap: %s is a built-in or defined type; the wrapper is a new composite that runs its children in order",
				 type);
	if (ed->model->ninputs != 1)
		return error_set(e, "wrap: the model takes %d inputs; a wrapper runs one input through its children",
				 ed->model->ninputs);
	struct module *root = ed->model->root;
	struct module *wrapper = module_new("", type);
	free(root->name);
	root->name = xstrdup(name);
	module_add_child(wrapper, root);
	ed->model->root = wrapper;
	char *prefix = xasprintf("%s.", name);
	ties_rebase(wrapper, "", prefix);
	free(prefix);
	strbuf_addf(out, "wrapped the model: %s is now %s.%s, and every tensor name starts with '%s.'\n",
		    root->type, type, name, name);
	return 0;
}

int edit_extract(struct editor *ed, const char *path, struct strbuf *out, struct error *e)
{
	struct module *m = edit_find(ed, path, e);
	if (!m)
		return -1;
	if (!m->parent)
		return error_set(e, "extract: %s is already the whole model", path[0] ? path : "the root");
	struct module *parent = m->parent;
	int i = child_index(parent, m);
	memmove(&parent->children[i], &parent->children[i + 1],
		(size_t)(parent->nchildren - i - 1) * sizeof *parent->children);
	parent->nchildren--;
	module_free(ed->model->root);
	m->parent = NULL;
	free(m->name);
	m->name = xstrdup("");
	ed->model->root = m;
	char *prefix = xasprintf("%s.", path);
	ties_rebase(m, prefix, "");
	free(prefix);
	struct param_counts pc;
	module_count(m, &pc);
	char buf[32];
	strbuf_addf(out, "the model is now %s (%s, %s parameters); tensor names lose the prefix '%s.'\n",
		    path, m->type, fmt_count(pc.params, buf, sizeof buf), path);
	return 0;
}
