/* outline.c - the outline's view-model: nodes from the module tree, visible
 * rows, cursor, expansion, search, marks, sorting and change marks. */
#include "view/outline.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/registry.h"
#include "core/text.h"
#include "core/util.h"
#include "edit/select.h"

/* --- string sets ------------------------------------------------------- */

/* Open addressing with linear probing; deleted slots hold TOMB. */
static char tomb_[1];
#define TOMB tomb_

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t hash_str(const char *s)
{
	return hash_bytes(s, strlen(s), 14695981039346656037ULL);
}

static size_t set_probe(const struct outline_set *s, const char *key, bool *found)
{
	size_t mask = s->cap - 1, i = hash_str(key) & mask, tomb = SIZE_MAX;
	for (;;) {
		char *k = s->slot[i];
		if (!k) {
			*found = false;
			return tomb != SIZE_MAX ? tomb : i;
		}
		if (k == TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (strcmp(k, key) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
}

bool outline_set_has(const struct outline_set *s, const char *key)
{
	bool found = false;
	if (s->n)
		set_probe(s, key, &found);
	return found;
}

static void set_rehash(struct outline_set *s, size_t cap)
{
	struct outline_set t = {.slot = xcalloc(cap, sizeof *t.slot), .cap = cap};
	for (size_t i = 0; i < s->cap; i++) {
		if (s->slot[i] && s->slot[i] != TOMB) {
			bool found;
			size_t j = set_probe(&t, s->slot[i], &found);
			t.slot[j] = s->slot[i];
			t.n++;
			t.used++;
		}
	}
	free(s->slot);
	*s = t;
}

void outline_set_add(struct outline_set *s, const char *key)
{
	if ((s->used + 1) * 4 >= s->cap * 3)
		set_rehash(s, s->cap < 16                    ? 16
		              : (s->n + 1) * 4 >= s->cap * 2 ? s->cap * 2
		                                             : s->cap);
	bool found;
	size_t i = set_probe(s, key, &found);
	if (found)
		return;
	if (!s->slot[i])
		s->used++;
	s->slot[i] = xstrdup(key);
	s->n++;
}

void outline_set_del(struct outline_set *s, const char *key)
{
	if (!s->n)
		return;
	bool found;
	size_t i = set_probe(s, key, &found);
	if (!found)
		return;
	free(s->slot[i]);
	s->slot[i] = TOMB;
	s->n--;
}

void outline_set_clear(struct outline_set *s)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i] != TOMB)
			free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof *s);
}

/* --- the model as opened ----------------------------------------------- */

/* Every module of the original tree, found by (parent, name) in O(1), so a
 * live module's counterpart is looked up from its parent's. */
struct orig_entry {
	const struct module *m;
	int parent; /* entry index, -1 for the root */
	int node;   /* the live node at this path in the last build, or -1 */
};

struct outline_orig {
	struct orig_entry *v;
	int n, cap;
	int *table; /* entry indices, -1 empty */
	size_t mask;
};

static uint64_t orig_hash(const struct module *parent, const char *name)
{
	uint64_t h = hash_bytes(&parent, sizeof parent, 14695981039346656037ULL);
	return hash_bytes(name, strlen(name), h);
}

static struct outline_orig *orig_index(const struct module *root)
{
	struct outline_orig *x = xcalloc(1, sizeof *x);
	/* preorder with an explicit stack of (module, parent entry) */
	int scap = 64, sn = 0;
	struct {
		const struct module *m;
		int parent;
	} *stack = xmalloc((size_t)scap * sizeof *stack);
	stack[sn].m = root;
	stack[sn++].parent = -1;
	while (sn) {
		const struct module *m = stack[--sn].m;
		int parent = stack[sn].parent;
		xgrow(&x->v, &x->cap, x->n + 1, sizeof *x->v);
		int me = x->n++;
		x->v[me] = (struct orig_entry){.m = m, .parent = parent, .node = -1};
		xgrow(&stack, &scap, sn + m->nchildren, sizeof *stack);
		for (int i = m->nchildren - 1; i >= 0; i--) {
			stack[sn].m = m->children[i];
			stack[sn++].parent = me;
		}
	}
	free(stack);
	size_t cap = 16;
	while (cap < (size_t)x->n * 2)
		cap *= 2;
	x->table = xmalloc(cap * sizeof *x->table);
	memset(x->table, 0xff, cap * sizeof *x->table);
	x->mask = cap - 1;
	for (int i = 1; i < x->n; i++) {
		const struct module *parent = x->v[x->v[i].parent].m;
		size_t h = orig_hash(parent, x->v[i].m->name) & x->mask;
		while (x->table[h] >= 0)
			h = (h + 1) & x->mask;
		x->table[h] = i;
	}
	return x;
}

static int orig_lookup(const struct outline_orig *x, int parent, const char *name)
{
	const struct module *pm = x->v[parent].m;
	size_t h = orig_hash(pm, name) & x->mask;
	for (; x->table[h] >= 0; h = (h + 1) & x->mask) {
		const struct orig_entry *e = &x->v[x->table[h]];
		if (e->parent == parent && strcmp(e->m->name, name) == 0)
			return x->table[h];
	}
	return -1;
}

static void orig_free(struct outline_orig *x)
{
	if (!x)
		return;
	free(x->v);
	free(x->table);
	free(x);
}

/* --- building ---------------------------------------------------------- */

void outline_init(struct outline *o)
{
	memset(o, 0, sizeof *o);
	o->depth = 1;
	o->height = 1;
}

void outline_free(struct outline *o)
{
	free(o->nodes);
	free(o->paths);
	free(o->rows);
	outline_set_clear(&o->toggled);
	outline_set_clear(&o->marked);
	free(o->pattern);
	select_free(o->selector);
	orig_free(o->orig);
	memset(o, 0, sizeof *o);
}

const char *outline_path(const struct outline *o, int node)
{
	return o->paths + o->nodes[node].path;
}

/* Appends the path of a child of `parent` named `name` to the arena. */
static size_t add_path(struct outline *o, int parent, const char *name)
{
	size_t plen = parent >= 0 ? strlen(o->paths + o->nodes[parent].path) : 0;
	size_t need = o->paths_len + plen + 1 + strlen(name) + 1;
	if (need > o->paths_cap) {
		o->paths_cap = need * 2 > 4096 ? need * 2 : 4096;
		o->paths = xrealloc(o->paths, o->paths_cap);
	}
	size_t at = o->paths_len;
	char *p = o->paths + at;
	if (parent < 0) {
		*p = '\0';
	} else {
		memcpy(p, o->paths + o->nodes[parent].path, plen);
		if (plen)
			p[plen++] = '.';
		strcpy(p + plen, name);
	}
	o->paths_len += strlen(p) + 1;
	return at;
}

static int add_node(struct outline *o, const struct module *m, int parent)
{
	xgrow(&o->nodes, &o->nodes_cap, o->nnodes + 1, sizeof *o->nodes);
	int i = o->nnodes++;
	struct outline_node *n = &o->nodes[i];
	memset(n, 0, sizeof *n);
	n->m = m;
	n->parent = parent;
	n->first_child = n->last_child = n->next_sibling = -1;
	n->depth = parent >= 0 ? o->nodes[parent].depth + 1 : 0;
	n->path = add_path(o, parent, m->name);
	if (parent >= 0) {
		struct outline_node *p = &o->nodes[parent];
		if (p->last_child >= 0)
			o->nodes[p->last_child].next_sibling = i;
		else
			p->first_child = i;
		p->last_child = i;
		p->nchildren++;
	}
	return i;
}

/* Own counts of one module: parameters, frozen ones, mult-adds, memory. */
static void own_counts(struct outline_node *n)
{
	const struct module *m = n->m;
	for (int i = 0; i < m->nparams; i++) {
		if (m->params[i].buffer || m->params[i].tie)
			continue; /* a tied one: add_tied */
		int64_t k = shape_numel(&m->params[i].t.shape);
		k = k < 0 ? 0 : k;
		n->params += k;
		if (!m->params[i].trainable)
			n->frozen += k;
	}
	for (int i = 0; i < m->ncalls; i++) {
		n->macs += m->calls[i].macs;
		if (m->def)
			n->memory += value_bytes(&m->calls[i].out);
	}
}

/* True when the state_dict key lies in the subtree at path. */
static bool key_below(const char *key, const char *path)
{
	size_t n = strlen(path);
	return n == 0 || (strncmp(key, path, n) == 0 && key[n] == '.');
}

/* Counts node i's tied parameters in i and its ancestors up to the one
 * holding the tensor under its first name, which counts it already
 * (module_count's rule). */
static void add_tied(struct outline *o, int i)
{
	const struct module *m = o->nodes[i].m;
	for (int j = 0; j < m->nparams; j++) {
		const struct param *p = &m->params[j];
		if (p->buffer || !p->tie)
			continue;
		int64_t k = shape_numel(&p->t.shape);
		k = k < 0 ? 0 : k;
		for (int a = i; a >= 0 && !key_below(p->tie, outline_path(o, a));
		     a = o->nodes[a].parent) {
			o->nodes[a].params += k;
			if (!p->trainable)
				o->nodes[a].frozen += k;
		}
	}
}

/* The entry of the original module m keeps being (its id: an editor numbers
 * the modules it opens in preorder, as the entries are, and clones keep the
 * number), or -1 when m is new or that entry has its counterpart already. */
static int orig_by_id(const struct outline_orig *x, const struct module *m)
{
	int e = m->id - 1;
	return e >= 0 && e < x->n && x->v[e].m->id == m->id && x->v[e].node < 0 ? e : -1;
}

/* Finds the live node's counterpart: the original module it is (moved or
 * renamed by wrap, extract or a renumbering), else the one at its path,
 * looked up from its parent's entry (-1: none),
 * sets its change, and returns the entry its children are matched against:
 * its own when it kept its type, -1 when it is new or replaced. */
static int match_orig(struct outline *o, int i, int parent_entry)
{
	struct outline_node *n = &o->nodes[i];
	if (!o->orig) {
		n->change = OUTLINE_SAME;
		return -1;
	}
	int e = n->parent < 0 ? 0 : orig_by_id(o->orig, n->m);
	if (e < 0 && n->parent >= 0 && parent_entry >= 0) {
		e = orig_lookup(o->orig, parent_entry, n->m->name);
		if (e >= 0 && o->orig->v[e].node >= 0)
			e = -1; /* that one moved here as another module */
	}
	if (e < 0) {
		n->change = OUTLINE_NEW;
		return -1;
	}
	const struct module *om = o->orig->v[e].m;
	n->orig = om;
	o->orig->v[e].node = i;
	if (strcmp(om->type, n->m->type) != 0) {
		n->change = OUTLINE_REPLACED;
		return -1;
	}
	n->change = module_same_attrs(om, n->m) ? OUTLINE_SAME : OUTLINE_MODIFIED;
	return e;
}

static void build_nodes(struct outline *o, const struct module *root)
{
	o->nnodes = 0;
	o->paths_len = 0;
	if (o->orig)
		for (int i = 0; i < o->orig->n; i++)
			o->orig->v[i].node = -1;
	int scap = 64, sn = 0;
	struct {
		const struct module *m;
		int parent;
	} *stack = xmalloc((size_t)scap * sizeof *stack);
	stack[sn].m = root;
	stack[sn++].parent = -1;
	/* entry of each node, for matching its children */
	int *entry = NULL;
	int ecap = 0;
	while (sn) {
		const struct module *m = stack[--sn].m;
		int parent = stack[sn].parent;
		int i = add_node(o, m, parent);
		xgrow(&entry, &ecap, i + 1, sizeof *entry);
		entry[i] = match_orig(o, i, parent >= 0 ? entry[parent] : -1);
		xgrow(&stack, &scap, sn + m->nchildren, sizeof *stack);
		for (int c = m->nchildren - 1; c >= 0; c--) {
			stack[sn].m = m->children[c];
			stack[sn++].parent = i;
		}
	}
	free(stack);
	free(entry);
	o->nreal = o->nnodes;

	/* counts, bottom-up: children follow their parents in preorder */
	for (int i = o->nreal - 1; i >= 0; i--) {
		struct outline_node *n = &o->nodes[i];
		int64_t child_params = n->params, child_frozen = n->frozen, child_mem = n->memory;
		n->params = n->frozen = n->memory = 0;
		own_counts(n);
		n->params += child_params;
		n->frozen += child_frozen;
		n->memory += child_mem;
		n->broken = n->m->broken;
		if (n->parent >= 0) {
			struct outline_node *p = &o->nodes[n->parent];
			p->params += n->params;
			p->frozen += n->frozen;
			p->memory += n->memory;
			p->broken_below |= n->broken || n->broken_below;
			p->changed_below |= n->change != OUTLINE_SAME || n->changed_below;
		}
	}
	for (int i = 0; i < o->nreal; i++)
		add_tied(o, i);

	/* removed modules: an original module not matched whose parent was
	 * matched and kept its type */
	if (!o->orig)
		return;
	for (int e = 1; e < o->orig->n; e++) {
		const struct orig_entry *oe = &o->orig->v[e];
		if (oe->node >= 0)
			continue;
		int pnode = o->orig->v[oe->parent].node;
		if (pnode < 0 || pnode >= o->nreal)
			continue;
		enum outline_change pc = o->nodes[pnode].change;
		if (pc != OUTLINE_SAME && pc != OUTLINE_MODIFIED)
			continue;
		int g = add_node(o, oe->m, pnode);
		struct outline_node *n = &o->nodes[g];
		n->orig = oe->m;
		n->change = OUTLINE_REMOVED;
		struct param_counts cnt;
		module_count(oe->m, &cnt);
		n->params = cnt.params;
		n->frozen = cnt.params - cnt.trainable;
		for (int p = pnode; p >= 0; p = o->nodes[p].parent)
			o->nodes[p].changed_below = true;
	}
}

/* --- visible rows ------------------------------------------------------ */

bool outline_is_open(const struct outline *o, int node)
{
	const struct outline_node *n = &o->nodes[node];
	if (!n->nchildren)
		return false;
	return (n->depth < o->depth) != outline_set_has(&o->toggled, outline_path(o, node));
}

void outline_set_open(struct outline *o, int node, bool open)
{
	bool def = o->nodes[node].depth < o->depth;
	if (open == def)
		outline_set_del(&o->toggled, outline_path(o, node));
	else
		outline_set_add(&o->toggled, outline_path(o, node));
}

int64_t outline_value(const struct outline_node *n, enum outline_metric m)
{
	switch (m) {
	case OUTLINE_MACS:
		return n->macs;
	case OUTLINE_MEMORY:
		return n->memory;
	default:
		return n->params;
	}
}

struct sort_item {
	int64_t v;
	int node, order;
};

static int cmp_items(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	if (x->v != y->v)
		return x->v > y->v ? -1 : 1;
	return x->order - y->order;
}

static int push_row(struct outline *o, int node, int parent_row, bool last)
{
	xgrow(&o->rows, &o->rows_cap, o->nrows + 1, sizeof *o->rows);
	int r = o->nrows++;
	o->rows[r] = (struct outline_row){
	    .node = node, .parent_row = parent_row, .last = last, .fn = -1};
	return r;
}

static bool is_function(const struct graph_node *nd)
{
	return nd->op == NODE_CALL_FUNCTION || nd->op == NODE_CALL_METHOD;
}

/* The forward graph whose function nodes show under a node's row, or NULL. */
static const struct graph *function_graph(const struct outline *o, int node)
{
	const struct outline_node *n = &o->nodes[node];
	if (!o->functions || n->change == OUTLINE_REMOVED || !n->m->forward)
		return NULL;
	return n->m->forward;
}

static int count_functions(const struct graph *g)
{
	int k = 0;
	for (int i = 0; g && i < g->n; i++)
		k += is_function(&g->nodes[i]);
	return k;
}

/* The index of the graph node m's shape pass stopped at, or -1. */
static int break_node(const struct module *m)
{
	const struct graph *g = m->forward;
	for (int i = 0; m->broken && g && i < g->n; i++)
		if (g->nodes[i].out.kind == VAL_NONE)
			return i;
	return -1;
}

static void emit(struct outline *o, int node, int parent_row, bool last)
{
	int r = push_row(o, node, parent_row, last);
	if (!outline_is_open(o, node))
		return;
	o->rows[r].open = true;
	int n = o->nodes[node].nchildren;
	struct sort_item *kids = xmalloc((size_t)n * sizeof *kids);
	int k = 0;
	for (int c = o->nodes[node].first_child; c >= 0; c = o->nodes[c].next_sibling, k++) {
		kids[k].node = c;
		kids[k].order = k;
		/* removed rows stay last */
		kids[k].v = o->nodes[c].change == OUTLINE_REMOVED
		                ? INT64_MIN
		                : outline_value(&o->nodes[c], o->metric);
	}
	if (o->sorted)
		qsort(kids, (size_t)n, sizeof *kids, cmp_items);
	const struct graph *g = function_graph(o, node);
	int nfn = count_functions(g);
	for (k = 0; k < n; k++)
		emit(o, kids[k].node, r, k == n - 1 && !nfn);
	free(kids);
	for (int i = 0; g && i < g->n; i++) {
		if (is_function(&g->nodes[i]))
			o->rows[push_row(o, node, r, --nfn == 0)].fn = i;
	}
}

static void clamp(struct outline *o)
{
	if (o->cursor >= o->nrows)
		o->cursor = o->nrows - 1;
	if (o->cursor < 0)
		o->cursor = 0;
	int h = o->height > 0 ? o->height : 1;
	if (o->top > o->cursor)
		o->top = o->cursor;
	if (o->cursor >= o->top + h)
		o->top = o->cursor - h + 1;
	if (o->top > o->nrows - h)
		o->top = o->nrows - h;
	if (o->top < 0)
		o->top = 0;
}

/* Rebuilds the rows keeping the cursor on `keep_node` when it is visible,
 * else on its nearest visible ancestor. */
static void reflatten(struct outline *o, int keep_node)
{
	int off = o->cursor - o->top;
	o->version++;
	o->nrows = 0;
	if (o->nnodes)
		emit(o, 0, -1, true);
	int row = -1;
	for (int n = keep_node; n >= 0 && row < 0; n = o->nodes[n].parent)
		row = outline_row_of(o, n);
	if (row >= 0) {
		o->cursor = row;
		o->top = row - off;
	}
	clamp(o);
}

/* Puts the cursor on the row of node's function node fn, when shown. */
static void go_function_row(struct outline *o, int node, int fn)
{
	for (int r = 0; r < o->nrows; r++) {
		if (o->rows[r].node == node && o->rows[r].fn == fn) {
			outline_go(o, r);
			return;
		}
	}
}

/* The index of the function node named name in node's forward, or -1. */
static int function_named(const struct outline *o, int node, const char *name)
{
	const struct graph *g = node >= 0 ? o->nodes[node].m->forward : NULL;
	for (int i = 0; g && name && i < g->n; i++)
		if (is_function(&g->nodes[i]) && strcmp(g->nodes[i].name, name) == 0)
			return i;
	return -1;
}

int outline_current(const struct outline *o)
{
	return o->nrows ? o->rows[o->cursor].node : -1;
}

int outline_row_of(const struct outline *o, int node)
{
	for (int r = 0; r < o->nrows; r++)
		if (o->rows[r].node == node && o->rows[r].fn < 0)
			return r;
	return -1;
}

int outline_find(const struct outline *o, const char *path)
{
	for (int i = 0; i < o->nnodes; i++)
		if (strcmp(outline_path(o, i), path) == 0)
			return i;
	return -1;
}

void outline_build(struct outline *o, const struct model *m, const struct model *original,
                   const struct shape_result *check)
{
	/* remember where the cursor was, by path */
	char *keep = NULL, *keep_fn = NULL;
	int cur = outline_current(o);
	if (cur >= 0)
		keep = xstrdup(outline_path(o, cur));
	const struct graph_node *nd = cur >= 0 ? outline_row_function(o, o->cursor) : NULL;
	if (nd)
		keep_fn = xstrdup(nd->name);
	if (original && original->root != o->orig_root) {
		orig_free(o->orig);
		o->orig = original->root ? orig_index(original->root) : NULL;
		o->orig_root = original->root;
	}
	o->nnodes = o->nreal = 0;
	o->checked = check && check->ok;
	o->has_forward = m && m->has_forward;
	if (m && m->root)
		build_nodes(o, m->root);
	memset(o->total, 0, sizeof o->total);
	if (o->nnodes) {
		o->total[OUTLINE_PARAMS] = o->nodes[0].params;
		o->total[OUTLINE_MACS] = o->checked ? check->macs : 0;
		o->total[OUTLINE_MEMORY] = o->nodes[0].memory;
	}
	int keep_node = -1;
	if (keep) {
		/* the path, or its longest surviving prefix */
		for (;;) {
			keep_node = outline_find(o, keep);
			char *dot = strrchr(keep, '.');
			if (keep_node >= 0 || !*keep)
				break;
			if (dot)
				*dot = '\0';
			else
				keep[0] = '\0';
			free(keep_fn); /* its module is gone */
			keep_fn = NULL;
		}
	}
	reflatten(o, keep_node >= 0 ? keep_node : 0);
	/* a function node's row: the same node, when it is still there */
	int fn = function_named(o, keep_node, keep_fn);
	if (fn >= 0)
		go_function_row(o, keep_node, fn);
	free(keep);
	free(keep_fn);
}

const struct outline_node *outline_row_node(const struct outline *o, int row)
{
	return &o->nodes[o->rows[row].node];
}

int outline_row_guides(const struct outline *o, int row, bool *cont, int max)
{
	int depth = o->nodes[o->rows[row].node].depth + (o->rows[row].fn >= 0);
	/* the ancestor at level L (1 <= L < depth) */
	int r = o->rows[row].parent_row;
	for (int level = depth - 1; level >= 1 && r >= 0; level--) {
		if (level < max)
			cont[level] = !o->rows[r].last;
		r = o->rows[r].parent_row;
	}
	return depth;
}

/* --- cursor and expansion ---------------------------------------------- */

void outline_set_height(struct outline *o, int height)
{
	o->height = height > 0 ? height : 1;
	clamp(o);
}

void outline_move(struct outline *o, int delta)
{
	o->cursor += delta;
	clamp(o);
}

void outline_page(struct outline *o, int pages)
{
	int d = pages * (o->height > 1 ? o->height - 1 : 1);
	o->top += d;
	o->cursor += d;
	if (o->top < 0)
		o->top = 0;
	clamp(o);
}

void outline_go(struct outline *o, int row)
{
	o->cursor = row;
	clamp(o);
}

/* Whether the cursor is on a function-node row (which has no children and
 * cannot be marked). */
static bool on_function(const struct outline *o)
{
	return o->nrows && o->rows[o->cursor].fn >= 0;
}

void outline_toggle(struct outline *o)
{
	int n = outline_current(o);
	if (n < 0 || !o->nodes[n].nchildren || on_function(o))
		return;
	outline_set_open(o, n, !outline_is_open(o, n));
	reflatten(o, n);
}

void outline_left(struct outline *o)
{
	int n = outline_current(o);
	if (n < 0)
		return;
	if (outline_is_open(o, n) && !on_function(o)) {
		outline_set_open(o, n, false);
		reflatten(o, n);
	} else if (o->rows[o->cursor].parent_row >= 0) {
		outline_go(o, o->rows[o->cursor].parent_row);
	}
}

void outline_right(struct outline *o)
{
	int n = outline_current(o);
	if (n < 0 || !o->nodes[n].nchildren || on_function(o))
		return;
	if (!outline_is_open(o, n)) {
		outline_set_open(o, n, true);
		reflatten(o, n);
	} else {
		outline_move(o, 1);
	}
}

void outline_set_depth(struct outline *o, int depth)
{
	int n = outline_current(o);
	o->depth = depth < 0 ? 0 : depth;
	outline_set_clear(&o->toggled);
	reflatten(o, n >= 0 ? n : 0);
}

int outline_fit_depth(const struct outline *o, int rows)
{
	if (!o->nnodes)
		return 1;
	/* rows at depth limit d = nodes of depth <= d; count per depth */
	int maxd = 0;
	for (int i = 0; i < o->nreal; i++)
		maxd = o->nodes[i].depth > maxd ? o->nodes[i].depth : maxd;
	int *count = xcalloc((size_t)maxd + 2, sizeof *count);
	for (int i = 0; i < o->nreal; i++)
		count[o->nodes[i].depth]++;
	int best = 1, total = count[0];
	for (int d = 1; d <= maxd; d++) {
		total += count[d];
		if (total > rows)
			break;
		best = d;
	}
	free(count);
	return best;
}

void outline_reveal(struct outline *o, int node)
{
	for (int p = o->nodes[node].parent; p >= 0; p = o->nodes[p].parent)
		if (!outline_is_open(o, p))
			outline_set_open(o, p, true);
	reflatten(o, node);
}

void outline_open_to(struct outline *o, int node)
{
	int cur = outline_current(o);
	for (int p = o->nodes[node].parent; p >= 0; p = o->nodes[p].parent)
		if (!outline_is_open(o, p))
			outline_set_open(o, p, true);
	reflatten(o, cur >= 0 ? cur : 0);
}

bool outline_goto(struct outline *o, const char *path)
{
	int n = outline_find(o, path);
	if (n < 0)
		return false;
	outline_reveal(o, n);
	return true;
}

/* --- search ------------------------------------------------------------ */

static bool contains(const char *hay, const char *needle, bool fold)
{
	if (!fold)
		return strstr(hay, needle) != NULL;
	size_t n = strlen(needle);
	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] &&
		       tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return n == 0;
}

bool outline_matches(const struct outline *o, int node)
{
	const char *pat = o->pattern;
	if (!pat)
		return false;
	const struct module *m = o->nodes[node].m;
	if (o->selector)
		return select_picks(o->selector, m);
	bool fold = true;
	for (const char *p = pat; *p; p++)
		if (isupper((unsigned char)*p))
			fold = false;
	if (strchr(pat, '.'))
		return contains(outline_path(o, node), pat, fold);
	return contains(m->name, pat, fold) || contains(m->type, pat, false) ||
	       strcasecmp(m->type, pat) == 0;
}

int outline_set_search(struct outline *o, const char *pattern, struct error *e)
{
	free(o->pattern);
	select_free(o->selector);
	o->pattern = NULL;
	o->selector = NULL;
	if (!pattern || !*pattern)
		return 0;
	if (strpbrk(pattern, "*?[")) {
		const struct module *root = o->nnodes ? o->nodes[0].m : NULL;
		o->selector = select_parse(root, pattern, NULL, NULL, e);
		if (!o->selector)
			return -1;
	}
	o->pattern = xstrdup(pattern);
	return 0;
}

bool outline_search(struct outline *o, int dir, bool here)
{
	if (!o->pattern || !o->nnodes)
		return false;
	int start = outline_current(o);
	if (start < 0)
		start = 0;
	int step = dir < 0 ? -1 : 1;
	for (int k = here ? 0 : 1; k <= o->nnodes; k++) {
		int i = ((start + step * k) % o->nnodes + o->nnodes) % o->nnodes;
		if (outline_matches(o, i)) {
			outline_reveal(o, i);
			return true;
		}
	}
	return false;
}

/* --- marks, metric, order ---------------------------------------------- */

void outline_toggle_mark(struct outline *o)
{
	int n = outline_current(o);
	if (n < 0 || o->nodes[n].change == OUTLINE_REMOVED || on_function(o))
		return;
	const char *p = outline_path(o, n);
	if (outline_set_has(&o->marked, p))
		outline_set_del(&o->marked, p);
	else
		outline_set_add(&o->marked, p);
}

bool outline_is_marked(const struct outline *o, int node)
{
	return o->marked.n && outline_set_has(&o->marked, outline_path(o, node));
}

void outline_clear_marks(struct outline *o)
{
	outline_set_clear(&o->marked);
}

int outline_marked(const struct outline *o, const char ***paths)
{
	*paths = NULL;
	if (!o->marked.n)
		return 0;
	int n = 0, cap = 0;
	for (int i = 0; i < o->nreal; i++) {
		if (outline_is_marked(o, i)) {
			xgrow(paths, &cap, n + 1, sizeof **paths);
			(*paths)[n++] = outline_path(o, i);
		}
	}
	return n;
}

void outline_set_metric(struct outline *o, enum outline_metric m)
{
	o->metric = m;
	if (o->sorted)
		reflatten(o, outline_current(o) >= 0 ? outline_current(o) : 0);
}

void outline_set_sorted(struct outline *o, bool sorted)
{
	o->sorted = sorted;
	reflatten(o, outline_current(o) >= 0 ? outline_current(o) : 0);
}

const char *outline_metric_name(enum outline_metric m)
{
	static const char *const names[] = {"params", "mult-adds", "memory"};
	return m >= 0 && m < OUTLINE_NMETRICS ? names[m] : "?";
}

double outline_share(const struct outline *o, const struct outline_node *n)
{
	int64_t t = o->total[o->metric];
	if (t <= 0 || n->change == OUTLINE_REMOVED)
		return -1;
	if (o->metric == OUTLINE_MACS && !o->checked)
		return -1;
	double s = (double)outline_value(n, o->metric) / (double)t;
	return s < 0 ? 0 : s > 1 ? 1 : s;
}

/* --- text -------------------------------------------------------------- */

void outline_node_name(const struct outline_node *n, const char *root_name, char *buf,
                       size_t size)
{
	text_escape_buf(n->depth ? n->m->name : root_name, buf, size);
}

size_t outline_node_type(const struct outline_node *n, char *buf, size_t size)
{
	char desc[256], type[1024];
	registry_describe(n->m, desc, sizeof desc);
	text_escape_buf(desc, buf, size);
	size_t type_len = strlen(text_escape_buf(n->m->type, type, sizeof type));
	return type_len < strlen(buf) ? type_len : strlen(buf);
}

void outline_node_shape(const struct outline *o, const struct outline_node *n, char *buf,
                        size_t size)
{
	const struct module *m = n->m;
	if (n->change == OUTLINE_REMOVED || n->broken) {
		snprintf(buf, size, "%s", "");
		return;
	}
	if (!m->ncalls) {
		snprintf(buf, size, "%s", o->checked || !o->has_forward ? "--" : "?");
		return;
	}
	struct strbuf sb = {0};
	value_format_shapes(&m->calls[0].out, shape_format_x, &sb);
	if (m->ncalls > 1)
		strbuf_addf(&sb, " ×%d", m->ncalls);
	snprintf(buf, size, "%s", sb.s);
	strbuf_free(&sb);
}

/* --- function-node rows ------------------------------------------------ */

void outline_set_functions(struct outline *o, bool on)
{
	int row = o->cursor;
	int keep = outline_current(o);
	int fn = o->nrows ? o->rows[row].fn : -1;
	o->functions = on;
	reflatten(o, keep);
	/* stay on the same function node when it is still shown */
	if (fn >= 0)
		go_function_row(o, keep, fn);
}

const struct graph_node *outline_row_function(const struct outline *o, int row)
{
	const struct outline_row *r = &o->rows[row];
	return r->fn < 0 ? NULL : &o->nodes[r->node].m->forward->nodes[r->fn];
}

bool outline_row_function_broken(const struct outline *o, int row)
{
	const struct outline_row *r = &o->rows[row];
	return r->fn >= 0 && break_node(o->nodes[r->node].m) == r->fn;
}

void outline_row_ref(const struct outline *o, int row, char *buf, size_t size)
{
	const struct graph_node *nd = outline_row_function(o, row);
	const char *path = outline_path(o, o->rows[row].node);
	if (nd)
		snprintf(buf, size, "%s:%s", path, nd->name);
	else
		snprintf(buf, size, "%s", path);
}

void outline_function_type(const struct graph_node *nd, char *buf, size_t size)
{
	char what[512];
	snprintf(what, sizeof what, "%s%s", nd->op == NODE_CALL_METHOD ? "." : "", nd->target);
	text_escape_buf(what, buf, size);
}

void outline_function_shape(const struct outline *o, int row, char *buf, size_t size)
{
	const struct graph_node *nd = outline_row_function(o, row);
	if (nd->out.kind == VAL_NONE) {
		snprintf(buf, size, "%s",
		         outline_row_function_broken(o, row) ? ""
		         : o->checked || !o->has_forward     ? "--"
		                                             : "?");
		return;
	}
	struct strbuf sb = {0};
	value_format_shapes(&nd->out, shape_format_x, &sb);
	snprintf(buf, size, "%s", sb.s);
	strbuf_free(&sb);
}

void outline_show_break(struct outline *o)
{
	for (int i = 0; i < o->nreal; i++) {
		if (!o->nodes[i].broken)
			continue;
		outline_open_to(o, i);
		int fn = break_node(o->nodes[i].m);
		if (!function_graph(o, i) || fn < 0 || !is_function(&o->nodes[i].m->forward->nodes[fn]))
			return;
		outline_set_open(o, i, true);
		reflatten(o, i);
		go_function_row(o, i, fn);
		return;
	}
}
