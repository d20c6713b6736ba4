/* exec.c - the numeric forward pass: plans and runs.
 *
 * Planning walks the forward like the shape pass (shape.c): composites run
 * their graph or their children in order, registry modules and functions
 * apply their shape rule. While it walks, a tensor value carries no data:
 * its storage is the plan's sentinel and its offset the number of a *slot*
 * (a tensor of the forward). Slots live in *buffers*; views share their
 * input's buffer, everything else gets a new one. Each call whose output
 * holds a new tensor becomes a *step* for its kernel. The steps are then
 * fused, folded, given memory and bound to real storage (see exec.h). */
#include "exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init.h"
#include "kernels.h"
#include "registry.h"
#include "util.h"

#define ARENA_ALIGN 64

/* ---- a pointer -> int map ---- */

struct ptrmap {
	const void **keys;
	int *vals;
	int cap, n;
};

static size_t ptr_hash(const void *k, int cap)
{
	uintptr_t x = (uintptr_t)k;
	x ^= x >> 17;
	x *= 0xed5ad4bbu;
	x ^= x >> 11;
	return (size_t)x & (size_t)(cap - 1);
}

static int ptrmap_get(const struct ptrmap *m, const void *k)
{
	if (!m->cap)
		return -1;
	for (size_t i = ptr_hash(k, m->cap);; i = (i + 1) & (size_t)(m->cap - 1)) {
		if (!m->keys[i])
			return -1;
		if (m->keys[i] == k)
			return m->vals[i];
	}
}

static void ptrmap_put(struct ptrmap *m, const void *k, int v)
{
	if (2 * (m->n + 1) > m->cap) {
		struct ptrmap g = {.cap = m->cap ? 2 * m->cap : 64};
		g.keys = xcalloc((size_t)g.cap, sizeof *g.keys);
		g.vals = xcalloc((size_t)g.cap, sizeof *g.vals);
		for (int i = 0; i < m->cap; i++)
			if (m->keys[i])
				ptrmap_put(&g, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = g;
	}
	size_t i = ptr_hash(k, m->cap);
	while (m->keys[i] && m->keys[i] != k)
		i = (i + 1) & (size_t)(m->cap - 1);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = k;
	m->vals[i] = v;
}

static void ptrmap_free(struct ptrmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

/* ---- the plan ---- */

struct xslot {
	int buf;
};

enum xbuf_kind { XB_ARENA, XB_CONST };

struct xbuf {
	enum xbuf_kind kind;
	size_t bytes;
	int parent;   /* union-find: buffers merged by fusion and in-place writes */
	int producer; /* the step that writes it, -1 for inputs and weights */
	int first, last; /* steps during which it must hold its bytes */
	int uses;     /* readers, for fusion */
	size_t offset; /* in the arena */
	struct storage *st; /* XB_CONST: weights (shared) or folded constants */
	size_t st_offset;
};

struct xstep {
	struct kop op;
	struct value *args;
	int nargs;
	struct kwarg *kwargs;
	int nkwargs;
	bool active;   /* false once fused into another step */
	bool constant; /* depends on weights only: ran at planning */
};

/* A module call ended after `after` steps: its output, for statistics. */
struct xmark {
	const struct module *module;
	int call;
	int after;
	struct value out;
};

/* A module's tensors in compute form. */
struct xweights {
	struct tensor *t;
	int n;
};

struct exec_plan {
	struct model *model;
	struct exec_opts opts;
	struct storage *sentinel;
	struct error *err; /* while planning */

	struct xslot *slots;
	int nslots, slots_cap;
	struct xbuf *bufs;
	int nbufs, bufs_cap;
	struct xstep *steps;
	int nsteps, steps_cap;
	struct xmark *marks;
	int nmarks, marks_cap;

	struct xweights *weights;
	int nweights, weights_cap;
	struct ptrmap weight_map; /* module -> index in weights */
	struct ptrmap attr_map;   /* weight tensor -> its slot */
	struct ptrmap call_count; /* module -> calls so far */

	int ninputs;
	struct shape *in_shapes;
	int *in_slots;
	struct value output;

	struct storage *arena;
	void *scratch;
	float **owned; /* arrays handed to kernels (folded BatchNorms) */
	int nowned, owned_cap;

	struct exec_stat *stats;
	int nstats, stats_cap;
	bool have_stats;
	struct exec_info info;
};

static int buf_find(struct exec_plan *p, int b)
{
	while (p->bufs[b].parent != b) {
		p->bufs[b].parent = p->bufs[p->bufs[b].parent].parent;
		b = p->bufs[b].parent;
	}
	return b;
}

static int new_buf(struct exec_plan *p, enum xbuf_kind kind, size_t bytes, int producer)
{
	xgrow(&p->bufs, &p->bufs_cap, p->nbufs + 1, sizeof *p->bufs);
	struct xbuf *b = &p->bufs[p->nbufs];
	memset(b, 0, sizeof *b);
	b->kind = kind;
	b->bytes = bytes;
	b->parent = p->nbufs;
	b->producer = producer;
	return p->nbufs++;
}

static int new_slot(struct exec_plan *p, int buf)
{
	xgrow(&p->slots, &p->slots_cap, p->nslots + 1, sizeof *p->slots);
	p->slots[p->nslots].buf = buf;
	return p->nslots++;
}

/* A planning-time tensor value for slot s. */
static struct value slot_value(struct exec_plan *p, int s, enum dtype dt, const struct shape *shape,
			       struct origin o)
{
	struct value v = value_tensor_meta(dt, shape, o);
	v.u.tensor.t.storage = storage_ref(p->sentinel);
	v.u.tensor.t.offset = (size_t)s;
	return v;
}

static bool is_slot(const struct exec_plan *p, const struct value *v)
{
	return v->kind == VAL_TENSOR && v->u.tensor.t.storage == p->sentinel;
}

static int slot_of(const struct value *v)
{
	return (int)v->u.tensor.t.offset;
}

static int buf_of(struct exec_plan *p, const struct value *v)
{
	return buf_find(p, p->slots[slot_of(v)].buf);
}

/* Whether v holds a tensor the shape rule just made (no storage yet). */
static bool has_fresh(const struct value *v)
{
	if (v->kind == VAL_TENSOR)
		return v->u.tensor.t.storage == NULL;
	if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			if (has_fresh(&v->u.list.items[i]))
				return true;
	return false;
}

/* Gives every fresh tensor in v a slot: in buffer `alias` when >= 0, else
 * in a new arena buffer written by step `producer`. */
static void claim_fresh(struct exec_plan *p, struct value *v, int alias, int producer)
{
	if (v->kind == VAL_LIST) {
		for (int i = 0; i < v->u.list.n; i++)
			claim_fresh(p, &v->u.list.items[i], alias, producer);
		return;
	}
	if (v->kind != VAL_TENSOR || v->u.tensor.t.storage)
		return;
	int b = alias >= 0 ? alias
			   : new_buf(p, XB_ARENA, tensor_nbytes(&v->u.tensor.t), producer);
	v->u.tensor.t.storage = storage_ref(p->sentinel);
	v->u.tensor.t.offset = (size_t)new_slot(p, b);
}

/* Calls fn on every planning tensor in v. */
static void each_slot(struct exec_plan *p, const struct value *v,
		      void (*fn)(struct exec_plan *p, const struct value *t, void *ctx), void *ctx)
{
	if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			each_slot(p, &v->u.list.items[i], fn, ctx);
	else if (is_slot(p, v))
		fn(p, v, ctx);
}

static void each_arg_slot(struct exec_plan *p, const struct xstep *s,
			  void (*fn)(struct exec_plan *p, const struct value *t, void *ctx),
			  void *ctx)
{
	for (int i = 0; i < s->nargs; i++)
		each_slot(p, &s->args[i], fn, ctx);
	for (int i = 0; i < s->nkwargs; i++)
		each_slot(p, &s->kwargs[i].value, fn, ctx);
}

/* ---- weights ---- */

static bool dtype_is_float(enum dtype dt)
{
	return dt == DT_F32 || dt == DT_F16 || dt == DT_BF16 || dt == DT_F64;
}

/* The compute form of module m's tensors: float32 for floating ones
 * (shared when already float32 and aligned), an aligned copy otherwise. */
static struct xweights *weights_of(struct exec_plan *p, const struct module *m)
{
	int i = ptrmap_get(&p->weight_map, m);
	if (i >= 0)
		return &p->weights[i];
	struct xweights w = {.n = m->nparams};
	w.t = xcalloc((size_t)(m->nparams ? m->nparams : 1), sizeof *w.t);
	for (int k = 0; k < m->nparams; k++) {
		const struct tensor *src = &m->params[k].t;
		if (!src->storage) {
			char path[2048];
			module_path_buf(m, path, sizeof path);
			error_setk(p->err, ERR_INPUT, "%s%s%s has no values: the model has no weights",
				   path, path[0] ? "." : "", m->params[k].name);
			for (int j = 0; j < k; j++)
				tensor_release(&w.t[j]);
			free(w.t);
			return NULL;
		}
		struct tensor *t = &w.t[k];
		const void *data = tensor_data(src);
		if (src->dtype == DT_F32 && ((uintptr_t)data & 3) == 0) {
			tensor_share(t, src);
			continue;
		}
		t->dtype = dtype_is_float(src->dtype) ? DT_F32 : src->dtype;
		t->shape = src->shape;
		tensor_alloc(t);
		if (t->dtype == DT_F32)
			tensor_to_f32(src, t->storage->data);
		else
			memcpy(t->storage->data, data, tensor_nbytes(t));
		p->info.weight_bytes += tensor_nbytes(t);
	}
	xgrow(&p->weights, &p->weights_cap, p->nweights + 1, sizeof *p->weights);
	p->weights[p->nweights] = w;
	ptrmap_put(&p->weight_map, m, p->nweights);
	return &p->weights[p->nweights++];
}

/* ---- planning: the walk ---- */

static int trace_module(struct exec_plan *p, struct module *m, const struct module *owner,
			const struct graph_node *node, const struct value *args, int nargs,
			const struct kwarg *kwargs, int nkwargs, struct value *out);

/* Replaces refs in v (recursively) by copies of the values they name. */
static struct value resolve(const struct value *v, const struct value *vals)
{
	if (v->kind == VAL_REF)
		return value_copy(&vals[v->u.ref]);
	if (v->kind == VAL_LIST) {
		struct value l = value_list(v->u.list.n);
		for (int i = 0; i < v->u.list.n; i++)
			l.u.list.items[i] = resolve(&v->u.list.items[i], vals);
		return l;
	}
	return value_copy(v);
}

struct dtype_check {
	const struct kernel *k;
	bool ok;
	enum dtype bad;
};

static void check_dtype(struct exec_plan *p, const struct value *v, void *ctx)
{
	(void)p;
	struct dtype_check *dc = ctx;
	enum dtype dt = v->u.tensor.t.dtype;
	if (dt == DT_F32 || (dc->k->flags & KF_ANY_DTYPE))
		return;
	if ((dc->k->flags & KF_INT_INDEX) && (dt == DT_I64 || dt == DT_I32))
		return;
	dc->ok = false;
	dc->bad = dt;
}

/* Records the call c (its shape rule has run) as a step when it makes a
 * tensor. */
static int emit(struct exec_plan *p, struct op_call *c)
{
	if (!has_fresh(&c->out))
		return 0; /* plain values, or tensors passed through (a tuple's item) */
	char path[2600];
	const struct kernel *k = kernels_find(c->def->name, c->def->kind);
	if (!k)
		return error_setk(p->err, ERR_INPUT, "%s: graft run has no kernel for the %s %s",
				  op_path(c, path, sizeof path),
				  c->def->kind == OP_MODULE ? "module type" : "function",
				  c->def->name);
	if (k->flags & KF_ALIAS) {
		const struct value *x = op_arg(c, 0, "input");
		if (!x)
			x = op_arg(c, -1, "self");
		if (!x || !is_slot(p, x) || c->out.kind != VAL_TENSOR ||
		    c->out.u.tensor.t.dtype != x->u.tensor.t.dtype ||
		    tensor_nbytes(&c->out.u.tensor.t) != tensor_nbytes(&x->u.tensor.t))
			return error_setk(p->err, ERR_INPUT,
					  "%s: %s changes the dtype or size of its input, which graft "
					  "run does not compute",
					  op_path(c, path, sizeof path), c->def->name);
		claim_fresh(p, &c->out, p->slots[slot_of(x)].buf, -1);
		return 0;
	}
	xgrow(&p->steps, &p->steps_cap, p->nsteps + 1, sizeof *p->steps);
	struct xstep *s = &p->steps[p->nsteps];
	memset(s, 0, sizeof *s);
	s->active = true;
	s->nargs = c->nargs;
	s->args = xcalloc((size_t)(c->nargs ? c->nargs : 1), sizeof *s->args);
	for (int i = 0; i < c->nargs; i++)
		s->args[i] = value_copy(&c->args[i]);
	s->nkwargs = c->nkwargs;
	s->kwargs = xcalloc((size_t)(c->nkwargs ? c->nkwargs : 1), sizeof *s->kwargs);
	for (int i = 0; i < c->nkwargs; i++) {
		s->kwargs[i].name = c->kwargs[i].name; /* the graph's, which outlives the plan */
		s->kwargs[i].value = value_copy(&c->kwargs[i].value);
	}
	claim_fresh(p, &c->out, -1, p->nsteps);
	struct op_call *sc = &s->op.call;
	*sc = *c;
	sc->args = s->args;
	sc->kwargs = s->kwargs;
	sc->out = value_copy(&c->out);
	sc->macs = 0;
	sc->err = NULL;
	sc->path = NULL;
	s->op.kernel = k;
	p->nsteps++;
	struct dtype_check dc = {.k = k, .ok = true};
	each_arg_slot(p, s, check_dtype, &dc);
	each_slot(p, &sc->out, check_dtype, &dc);
	if (!dc.ok)
		return error_setk(p->err, ERR_INPUT,
				  "%s: %s gets a %s tensor; graft run computes in float32",
				  op_path(c, path, sizeof path), c->def->name, dtype_name(dc.bad));
	if (c->module) {
		struct xweights *w = weights_of(p, c->module);
		if (!w)
			return -1;
		s->op.params = w->t;
		s->op.nparams = w->n;
	}
	return 0;
}

static void mark_call(struct exec_plan *p, const struct module *m, const struct value *out)
{
	if (!p->opts.stats)
		return;
	int calls = ptrmap_get(&p->call_count, m);
	calls = calls < 0 ? 0 : calls;
	ptrmap_put(&p->call_count, m, calls + 1);
	xgrow(&p->marks, &p->marks_cap, p->nmarks + 1, sizeof *p->marks);
	struct xmark *k = &p->marks[p->nmarks++];
	k->module = m;
	k->call = calls;
	k->after = p->nsteps;
	k->out = value_copy(out);
}

/* The value of a get_attr node: a constant slot for the weight. */
static int trace_get_attr(struct exec_plan *p, const struct graph_node *nd, struct value *out)
{
	struct xweights *w = weights_of(p, nd->attr_owner);
	if (!w)
		return -1;
	const struct tensor *t = &w->t[nd->attr_index];
	int s = ptrmap_get(&p->attr_map, t);
	if (s < 0) {
		int b = new_buf(p, XB_CONST, tensor_nbytes(t), -1);
		p->bufs[b].st = storage_ref(t->storage);
		p->bufs[b].st_offset = t->offset;
		s = new_slot(p, b);
		ptrmap_put(&p->attr_map, t, s);
	}
	struct origin o = {.module = nd->attr_owner, .node = NULL};
	*out = slot_value(p, s, t->dtype, &t->shape, o);
	return 0;
}

static int trace_graph(struct exec_plan *p, struct module *m, const struct value *args, int nargs,
		       const struct kwarg *kwargs, int nkwargs, struct value *out)
{
	const struct graph *g = m->forward;
	struct value *vals = xcalloc((size_t)g->n, sizeof *vals);
	int placeholder = 0, rc = 0;
	for (int i = 0; i < g->n && rc == 0; i++) {
		const struct graph_node *nd = &g->nodes[i];
		int na = nd->nargs, nk = nd->nkwargs;
		struct value *a = xcalloc((size_t)(na ? na : 1), sizeof *a);
		struct kwarg *k = xcalloc((size_t)(nk ? nk : 1), sizeof *k);
		for (int j = 0; j < na; j++)
			a[j] = resolve(&nd->args[j], vals);
		for (int j = 0; j < nk; j++) {
			k[j].name = nd->kwargs[j].name;
			k[j].value = resolve(&nd->kwargs[j].value, vals);
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
				given = &a[0];
			if (!given) {
				char path[2048];
				module_path_buf(m, path, sizeof path);
				rc = error_setk(p->err, ERR_SHAPE,
						"%s: forward expects an argument '%s' that the caller "
						"does not pass",
						path[0] ? path : m->type, nd->target);
				break;
			}
			vals[i] = value_copy(given);
			placeholder++;
			break;
		}
		case NODE_CALL_MODULE:
			rc = trace_module(p, nd->callee, m, nd, a, na, k, nk, &vals[i]);
			break;
		case NODE_CALL_FUNCTION:
		case NODE_CALL_METHOD: {
			struct op_call c = {.def = nd->fn, .owner = m, .node = nd, .args = a,
					    .nargs = na, .kwargs = k, .nkwargs = nk, .err = p->err};
			if (nd->fn->infer(&c) < 0) {
				if (p->err->kind == ERR_NONE)
					p->err->kind = ERR_SHAPE;
				value_free(&c.out);
				rc = -1;
				break;
			}
			rc = emit(p, &c);
			vals[i] = c.out;
			break;
		}
		case NODE_GET_ATTR:
			rc = trace_get_attr(p, nd, &vals[i]);
			break;
		case NODE_OUTPUT:
			*out = value_copy(&a[0]);
			break;
		}
		for (int j = 0; j < na; j++)
			value_free(&a[j]);
		for (int j = 0; j < nk; j++)
			value_free(&k[j].value);
		free(a);
		free(k);
	}
	for (int i = 0; i < g->n; i++)
		value_free(&vals[i]);
	free(vals);
	return rc;
}

static int trace_chain(struct exec_plan *p, struct module *m, const struct value *args, int nargs,
		       struct value *out)
{
	char path[2048] = "";
	if (m->nchildren == 0 || nargs != 1)
		module_path_buf(m, path, sizeof path);
	if (m->nchildren == 0 && strcmp(m->type, "Sequential") != 0)
		return error_setk(p->err, ERR_INPUT,
				  "%s: graft does not know the type %s, and it has no forward graph",
				  path[0] ? path : "root module", m->type);
	if (nargs != 1)
		return error_setk(p->err, ERR_SHAPE,
				  "%s: %s runs its children in order and takes one input, but gets %d",
				  path[0] ? path : "root module", m->type, nargs);
	struct value cur = value_copy(&args[0]);
	for (int i = 0; i < m->nchildren; i++) {
		struct value next = value_none();
		if (trace_module(p, m->children[i], m, NULL, &cur, 1, NULL, 0, &next) < 0) {
			value_free(&cur);
			return -1;
		}
		value_free(&cur);
		cur = next;
	}
	*out = cur;
	return 0;
}

static int trace_module(struct exec_plan *p, struct module *m, const struct module *owner,
			const struct graph_node *node, const struct value *args, int nargs,
			const struct kwarg *kwargs, int nkwargs, struct value *out)
{
	int rc;
	*out = value_none();
	if (m->def) {
		struct op_call c = {.def = m->def, .module = m, .owner = owner, .node = node,
				    .args = args, .nargs = nargs, .kwargs = kwargs,
				    .nkwargs = nkwargs, .err = p->err};
		if (m->def->infer(&c) < 0) {
			if (p->err->kind == ERR_NONE)
				p->err->kind = ERR_SHAPE;
			value_free(&c.out);
			return -1;
		}
		rc = emit(p, &c);
		*out = c.out;
	} else if (m->forward) {
		rc = trace_graph(p, m, args, nargs, kwargs, nkwargs, out);
	} else {
		rc = trace_chain(p, m, args, nargs, out);
	}
	if (rc < 0)
		return -1;
	mark_call(p, m, out);
	return 0;
}

/* ---- planning: fusion ---- */

static void count_use(struct exec_plan *p, const struct value *v, void *ctx)
{
	(void)ctx;
	p->bufs[buf_of(p, v)].uses++;
}

static void count_uses(struct exec_plan *p)
{
	for (int b = 0; b < p->nbufs; b++)
		p->bufs[b].uses = 0;
	for (int i = 0; i < p->nsteps; i++)
		if (p->steps[i].active)
			each_arg_slot(p, &p->steps[i], count_use, NULL);
	for (int i = 0; i < p->nmarks; i++)
		each_slot(p, &p->marks[i].out, count_use, NULL);
	each_slot(p, &p->output, count_use, NULL);
}

/* The step whose single output lives alone in buffer b, read only once
 * (by the step that asks); NULL otherwise. */
static struct xstep *sole_producer(struct exec_plan *p, int b, unsigned need_flag)
{
	struct xbuf *xb = &p->bufs[b];
	if (xb->kind != XB_ARENA || xb->producer < 0 || xb->uses != 1)
		return NULL;
	struct xstep *s = &p->steps[xb->producer];
	if (!s->active || !(s->op.kernel->flags & need_flag) || s->op.call.out.kind != VAL_TENSOR)
		return NULL;
	if (buf_of(p, &s->op.call.out) != b)
		return NULL;
	return s;
}

static float *own_floats(struct exec_plan *p, float *a)
{
	xgrow(&p->owned, &p->owned_cap, p->nowned + 1, sizeof *p->owned);
	p->owned[p->nowned++] = a;
	return a;
}

/* Folds step j into its producer: j's output becomes the producer's. */
static void fold_into(struct exec_plan *p, struct xstep *j, int b)
{
	int ob = buf_of(p, &j->op.call.out);
	j->active = false;
	p->bufs[ob].parent = b;
	p->bufs[b].uses = p->bufs[ob].uses;
}

static void fuse(struct exec_plan *p)
{
	count_uses(p);
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *j = &p->steps[i];
		if (!j->active || j->op.call.out.kind != VAL_TENSOR)
			continue;
		const struct value *x = op_arg(&j->op.call, 0, "input");
		if (!x)
			x = op_arg(&j->op.call, -1, "self");
		if (!x || !is_slot(p, x))
			continue;
		int b = buf_of(p, x);
		const char *name = j->op.kernel->name;
		if (strcmp(name, "BatchNorm2d") == 0 && j->op.call.def->kind == OP_MODULE) {
			struct xstep *s = sole_producer(p, b, KF_BN);
			if (!s || s->op.post_shift || s->op.act != KACT_NONE ||
			    !shape_equal(&s->op.call.out.u.tensor.t.shape, &x->u.tensor.t.shape))
				continue;
			float *scale, *shift;
			struct error e = {0};
			if (kernels_bn_affine(&j->op, &scale, &shift, &e) < 0)
				continue;
			s->op.post_scale = own_floats(p, scale);
			s->op.post_shift = own_floats(p, shift);
			fold_into(p, j, b);
			p->info.fused_bn++;
			continue;
		}
		enum kact act = kernels_act_of(&j->op);
		if (act == KACT_NONE)
			continue;
		struct xstep *s = sole_producer(p, b, KF_ACT);
		if (!s || s->op.act != KACT_NONE)
			continue;
		s->op.act = act;
		fold_into(p, j, b);
		p->info.fused_act++;
	}
}

/* ---- planning: constants ---- */

struct const_check {
	bool all_const;
	int n;
};

static void check_const(struct exec_plan *p, const struct value *v, void *ctx)
{
	struct const_check *cc = ctx;
	cc->n++;
	if (p->bufs[buf_of(p, v)].kind != XB_CONST)
		cc->all_const = false;
}

static void make_const(struct exec_plan *p, const struct value *v, void *ctx)
{
	(void)ctx;
	p->bufs[buf_of(p, v)].kind = XB_CONST;
}

static void find_constants(struct exec_plan *p)
{
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		if (!s->active)
			continue;
		struct const_check cc = {.all_const = true};
		each_arg_slot(p, s, check_const, &cc);
		if (!cc.all_const || cc.n == 0)
			continue;
		s->constant = true;
		each_slot(p, &s->op.call.out, make_const, NULL);
		p->info.constant++;
	}
}

/* ---- planning: memory ---- */

struct live_ctx {
	int step;
};

static void extend_live(struct exec_plan *p, const struct value *v, void *ctx)
{
	const struct live_ctx *lc = ctx;
	struct xbuf *b = &p->bufs[buf_of(p, v)];
	if (lc->step > b->last)
		b->last = lc->step;
}

static void liveness(struct exec_plan *p)
{
	for (int b = 0; b < p->nbufs; b++) {
		struct xbuf *xb = &p->bufs[b];
		xb->first = xb->producer;
		xb->last = xb->producer;
	}
	/* A merged buffer starts where its earliest member does. */
	for (int b = 0; b < p->nbufs; b++) {
		int r = buf_find(p, b);
		if (p->bufs[b].first < p->bufs[r].first)
			p->bufs[r].first = p->bufs[b].first;
		if (p->bufs[b].last > p->bufs[r].last)
			p->bufs[r].last = p->bufs[b].last;
	}
	for (int i = 0; i < p->nsteps; i++) {
		if (!p->steps[i].active)
			continue;
		struct live_ctx lc = {i};
		each_arg_slot(p, &p->steps[i], extend_live, &lc);
		each_slot(p, &p->steps[i].op.call.out, extend_live, &lc);
	}
	for (int i = 0; i < p->nmarks; i++) {
		struct live_ctx lc = {p->marks[i].after - 1};
		each_slot(p, &p->marks[i].out, extend_live, &lc);
	}
	struct live_ctx end = {p->nsteps};
	each_slot(p, &p->output, extend_live, &end);
}

struct inplace_ctx {
	int step, out_buf, cand, others;
	size_t bytes;
	bool any;
	const struct value *first;
};

static void inplace_candidate(struct exec_plan *p, const struct value *v, void *ctx)
{
	struct inplace_ctx *ic = ctx;
	int b = buf_of(p, v);
	bool first = ic->first == NULL;
	if (first)
		ic->first = v;
	if (ic->cand >= 0) {
		if (b == ic->cand)
			ic->others++;
		return;
	}
	if (!first && !ic->any)
		return;
	struct xbuf *xb = &p->bufs[b];
	if (xb->kind == XB_ARENA && xb->last == ic->step && xb->bytes == ic->bytes &&
	    b != ic->out_buf)
		ic->cand = b;
}

static void count_cand(struct exec_plan *p, const struct value *v, void *ctx)
{
	struct inplace_ctx *ic = ctx;
	if (buf_of(p, v) == ic->cand)
		ic->others++;
}

static void plan_inplace(struct exec_plan *p)
{
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		unsigned f = s->op.kernel->flags;
		if (!s->active || s->constant || !(f & (KF_INPLACE | KF_INPLACE_ANY)) ||
		    s->op.call.out.kind != VAL_TENSOR)
			continue;
		int ob = buf_of(p, &s->op.call.out);
		struct inplace_ctx ic = {.step = i, .out_buf = ob, .cand = -1,
					 .bytes = p->bufs[ob].bytes, .any = (f & KF_INPLACE_ANY) != 0};
		each_arg_slot(p, s, inplace_candidate, &ic);
		if (ic.cand < 0 || p->bufs[ob].kind != XB_ARENA || p->bufs[ob].first != i)
			continue;
		/* The candidate must be read once by this step. */
		ic.others = 0;
		each_arg_slot(p, s, count_cand, &ic);
		if (ic.others != 1)
			continue;
		p->bufs[ob].parent = ic.cand;
		p->bufs[ic.cand].last = p->bufs[ob].last;
		p->info.inplace++;
	}
}

struct placed {
	size_t offset, end;
	int first, last;
};

struct sized {
	size_t bytes;
	int buf;
};

static int by_size_desc(const void *a, const void *b)
{
	const struct sized *x = a, *y = b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : x->buf - y->buf;
}

static int by_offset(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Greedy by size: the largest buffers first, each at the lowest offset
 * that no buffer alive at the same time overlaps. */
static size_t pack_arena(struct exec_plan *p)
{
	struct sized *order = xcalloc((size_t)p->nbufs + 1, sizeof *order);
	int n = 0;
	for (int b = 0; b < p->nbufs; b++)
		if (buf_find(p, b) == b && p->bufs[b].kind == XB_ARENA && p->bufs[b].bytes > 0)
			order[n++] = (struct sized){p->bufs[b].bytes, b};
	qsort(order, (size_t)n, sizeof *order, by_size_desc);
	struct placed *pl = xcalloc((size_t)n + 1, sizeof *pl);
	int npl = 0;
	size_t total = 0;
	struct placed *live = xcalloc((size_t)n + 1, sizeof *live);
	for (int i = 0; i < n; i++) {
		struct xbuf *xb = &p->bufs[order[i].buf];
		size_t size = (xb->bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
		int nl = 0;
		for (int j = 0; j < npl; j++)
			if (pl[j].first <= xb->last && xb->first <= pl[j].last)
				live[nl++] = pl[j];
		qsort(live, (size_t)nl, sizeof *live, by_offset);
		size_t at = 0;
		for (int j = 0; j < nl; j++) {
			if (live[j].offset >= at + size)
				break;
			if (live[j].end > at)
				at = live[j].end;
		}
		xb->offset = at;
		pl[npl++] = (struct placed){at, at + size, xb->first, xb->last};
		if (at + size > total)
			total = at + size;
	}
	free(live);
	free(pl);
	free(order);
	/* The most bytes alive at once, for exec_info. */
	size_t peak = 0;
	for (int s = -1; s <= p->nsteps; s++) {
		size_t sum = 0;
		for (int b = 0; b < p->nbufs; b++) {
			const struct xbuf *xb = &p->bufs[b];
			if (xb->parent == b && xb->kind == XB_ARENA && xb->first <= s && s <= xb->last)
				sum += xb->bytes;
		}
		if (sum > peak)
			peak = sum;
	}
	p->info.peak_live_bytes = peak;
	return total;
}

/* ---- planning: binding ---- */

static void bind_value(struct exec_plan *p, struct value *v)
{
	if (v->kind == VAL_LIST) {
		for (int i = 0; i < v->u.list.n; i++)
			bind_value(p, &v->u.list.items[i]);
		return;
	}
	if (!is_slot(p, v))
		return;
	const struct xbuf *xb = &p->bufs[buf_of(p, v)];
	struct tensor *t = &v->u.tensor.t;
	storage_unref(t->storage);
	if (xb->kind == XB_ARENA) {
		t->storage = storage_ref(p->arena);
		t->offset = xb->offset;
	} else {
		t->storage = storage_ref(xb->st);
		t->offset = xb->st_offset;
	}
}

static void bind_const_out(struct exec_plan *p, const struct value *v, void *ctx)
{
	(void)ctx;
	struct xbuf *xb = &p->bufs[buf_of(p, v)];
	if (!xb->st) {
		xb->st = storage_new(xb->bytes ? xb->bytes : 1);
		xb->st_offset = 0;
	}
}

static int bind(struct exec_plan *p, size_t arena_bytes)
{
	p->arena = storage_new(arena_bytes ? arena_bytes : ARENA_ALIGN);
	for (int i = 0; i < p->nsteps; i++)
		if (p->steps[i].active && p->steps[i].constant)
			each_slot(p, &p->steps[i].op.call.out, bind_const_out, NULL);
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		for (int j = 0; j < s->nargs; j++)
			bind_value(p, &s->args[j]);
		for (int j = 0; j < s->nkwargs; j++)
			bind_value(p, &s->kwargs[j].value);
		bind_value(p, &s->op.call.out);
	}
	for (int i = 0; i < p->nmarks; i++)
		bind_value(p, &p->marks[i].out);
	bind_value(p, &p->output);
	return 0;
}

static int run_step(struct exec_plan *p, struct xstep *s, struct error *e)
{
	s->op.scratch = p->scratch;
	if (s->op.kernel->run(&s->op, e) == 0)
		return 0;
	char path[2600];
	return error_prefix(e, "%s", op_path(&s->op.call, path, sizeof path));
}

/* Grows the scratch to at least n bytes (planning only). */
static void reserve_scratch(struct exec_plan *p, size_t n)
{
	if (n <= p->info.scratch_bytes)
		return;
	free(p->scratch);
	p->scratch = NULL;
	if (posix_memalign(&p->scratch, ARENA_ALIGN, n) != 0) {
		fprintf(stderr, "graft: out of memory\n");
		abort();
	}
	p->info.scratch_bytes = n;
}

/* Prepares every step in order, once everything is bound, running the
 * constant ones as soon as they are prepared: a kernel's prepare may then
 * read the values of the constants it takes, and the pointers of every
 * tensor. */
static int prepare_steps(struct exec_plan *p)
{
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		if (!s->active)
			continue;
		if (s->op.kernel->prepare && s->op.kernel->prepare(&s->op, p->err) < 0) {
			char path[2600];
			return error_prefix(p->err, "%s", op_path(&s->op.call, path, sizeof path));
		}
		reserve_scratch(p, s->op.scratch_bytes);
		if (s->constant && run_step(p, s, p->err) < 0)
			return -1;
		if (!s->constant)
			p->info.ops++;
	}
	return 0;
}

struct exec_plan *exec_plan_new(struct model *m, const struct shape *input_shapes,
				const struct exec_opts *opts, struct error *e)
{
	if (!m->root) {
		error_setk(e, ERR_INPUT, "%s: the model is empty", m->name);
		return NULL;
	}
	if (!m->has_forward) {
		error_setk(e, ERR_INPUT,
			   "%s: the forward is unknown (a tree built from tensor names): it cannot run",
			   m->path ? m->path : m->name);
		return NULL;
	}
	struct exec_plan *p = xcalloc(1, sizeof *p);
	p->model = m;
	if (opts)
		p->opts = *opts;
	p->err = e;
	p->sentinel = storage_new(0);
	p->output = value_none();
	p->ninputs = m->ninputs;
	p->in_shapes = xcalloc((size_t)(m->ninputs ? m->ninputs : 1), sizeof *p->in_shapes);
	p->in_slots = xcalloc((size_t)(m->ninputs ? m->ninputs : 1), sizeof *p->in_slots);
	struct value *args = xcalloc((size_t)(m->ninputs ? m->ninputs : 1), sizeof *args);
	int rc = 0;
	for (int i = 0; i < m->ninputs; i++) {
		p->in_shapes[i] = input_shapes ? input_shapes[i] : m->inputs[i].shape;
		if (!dtype_is_float(m->inputs[i].dtype)) {
			rc = error_setk(e, ERR_INPUT, "%s: input '%s' is %s; graft run takes float inputs",
					m->name, m->inputs[i].name, dtype_name(m->inputs[i].dtype));
			continue;
		}
		struct tensor t = {.dtype = DT_F32, .shape = p->in_shapes[i]};
		int b = new_buf(p, XB_ARENA, tensor_nbytes(&t), -1);
		p->in_slots[i] = new_slot(p, b);
		struct origin o = {0};
		args[i] = slot_value(p, p->in_slots[i], DT_F32, &p->in_shapes[i], o);
	}
	if (rc == 0)
		rc = trace_module(p, m->root, NULL, NULL, args, m->ninputs, NULL, 0, &p->output);
	for (int i = 0; i < m->ninputs; i++)
		value_free(&args[i]);
	free(args);
	if (rc == 0) {
		if (!p->opts.stats && !p->opts.no_fuse)
			fuse(p);
		if (!p->opts.stats)
			find_constants(p);
		liveness(p);
		plan_inplace(p);
		p->info.arena_bytes = pack_arena(p);
		bind(p, p->info.arena_bytes);
		rc = prepare_steps(p);
	}
	p->err = NULL;
	if (rc < 0) {
		exec_plan_free(p);
		return NULL;
	}
	return p;
}

void exec_plan_free(struct exec_plan *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		for (int j = 0; j < s->nargs; j++)
			value_free(&s->args[j]);
		for (int j = 0; j < s->nkwargs; j++)
			value_free(&s->kwargs[j].value);
		free(s->args);
		free(s->kwargs);
		value_free(&s->op.call.out);
		free(s->op.state);
	}
	free(p->steps);
	for (int i = 0; i < p->nmarks; i++)
		value_free(&p->marks[i].out);
	free(p->marks);
	value_free(&p->output);
	for (int b = 0; b < p->nbufs; b++)
		storage_unref(p->bufs[b].st);
	free(p->bufs);
	free(p->slots);
	for (int i = 0; i < p->nweights; i++) {
		for (int k = 0; k < p->weights[i].n; k++)
			tensor_release(&p->weights[i].t[k]);
		free(p->weights[i].t);
	}
	free(p->weights);
	ptrmap_free(&p->weight_map);
	ptrmap_free(&p->attr_map);
	ptrmap_free(&p->call_count);
	for (int i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	free(p->owned);
	free(p->in_shapes);
	free(p->in_slots);
	storage_unref(p->arena);
	free(p->scratch);
	free(p->stats);
	storage_unref(p->sentinel);
	free(p);
}

/* ---- running ---- */

void exec_stat_compute(const float *x, int64_t n, struct exec_stat *st)
{
	double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
	int64_t finite = 0;
	st->count = n;
	st->nan = st->inf = 0;
	for (int64_t i = 0; i < n; i++) {
		float v = x[i];
		if (isnan(v)) {
			st->nan++;
			continue;
		}
		if (isinf(v)) {
			st->inf++;
			continue;
		}
		sum += v;
		finite++;
		if (v < mn)
			mn = v;
		if (v > mx)
			mx = v;
	}
	double mean = finite ? sum / (double)finite : NAN;
	for (int64_t i = 0; i < n; i++)
		if (isfinite(x[i]))
			sq += ((double)x[i] - mean) * ((double)x[i] - mean);
	st->mean = mean;
	st->std = finite ? sqrt(sq / (double)finite) : NAN;
	st->min = finite ? mn : NAN;
	st->max = finite ? mx : NAN;
}

struct stat_ctx {
	const struct xmark *mark;
	int output;
};

static void stat_tensors(struct exec_plan *p, const struct value *v, struct stat_ctx *sc)
{
	if (v->kind == VAL_LIST) {
		for (int i = 0; i < v->u.list.n; i++)
			stat_tensors(p, &v->u.list.items[i], sc);
		return;
	}
	if (v->kind != VAL_TENSOR || v->u.tensor.t.dtype != DT_F32)
		return;
	xgrow(&p->stats, &p->stats_cap, p->nstats + 1, sizeof *p->stats);
	struct exec_stat *st = &p->stats[p->nstats++];
	memset(st, 0, sizeof *st);
	st->module = sc->mark->module;
	st->call = sc->mark->call;
	st->output = sc->output++;
	st->shape = v->u.tensor.t.shape;
	exec_stat_compute(tensor_data(&v->u.tensor.t), shape_numel(&v->u.tensor.t.shape), st);
}

static void take_stats(struct exec_plan *p, int *next_mark, int after)
{
	while (*next_mark < p->nmarks && p->marks[*next_mark].after <= after) {
		struct stat_ctx sc = {&p->marks[*next_mark], 0};
		stat_tensors(p, &p->marks[*next_mark].out, &sc);
		(*next_mark)++;
	}
}

/* A deep copy of a bound value whose tensors get their own storage. */
static struct value copy_out(const struct value *v)
{
	if (v->kind == VAL_LIST) {
		struct value l = value_list(v->u.list.n);
		for (int i = 0; i < v->u.list.n; i++)
			l.u.list.items[i] = copy_out(&v->u.list.items[i]);
		return l;
	}
	if (v->kind != VAL_TENSOR)
		return value_copy(v);
	struct value c = *v;
	c.u.tensor.t.storage = NULL;
	c.u.tensor.t.offset = 0;
	tensor_alloc(&c.u.tensor.t);
	memcpy(c.u.tensor.t.storage->data, tensor_data(&v->u.tensor.t),
	       tensor_nbytes(&v->u.tensor.t));
	return c;
}

int exec_run(struct exec_plan *p, const struct tensor *inputs, int ninputs, struct value *out,
	     struct error *e)
{
	*out = value_none();
	if (ninputs != p->ninputs)
		return error_setk(e, ERR_INPUT, "the model takes %d input%s, got %d", p->ninputs,
				  p->ninputs == 1 ? "" : "s", ninputs);
	for (int i = 0; i < ninputs; i++) {
		char want[160], got[160];
		if (!shape_equal(&inputs[i].shape, &p->in_shapes[i]))
			return error_setk(e, ERR_INPUT, "input %d is %s, the plan is for %s", i + 1,
					  shape_format(&inputs[i].shape, got, sizeof got),
					  shape_format(&p->in_shapes[i], want, sizeof want));
		if (!dtype_is_float(inputs[i].dtype) || !tensor_data(&inputs[i]))
			return error_setk(e, ERR_INPUT, "input %d must be a floating tensor with data",
					  i + 1);
	}
	for (int i = 0; i < ninputs; i++) {
		const struct xbuf *xb = &p->bufs[buf_find(p, p->slots[p->in_slots[i]].buf)];
		tensor_to_f32(&inputs[i], (float *)((char *)p->arena->data + xb->offset));
	}
	p->nstats = 0;
	int next_mark = 0;
	if (p->opts.stats)
		take_stats(p, &next_mark, 0);
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		if (s->active && !s->constant && run_step(p, s, e) < 0)
			return -1;
		if (p->opts.stats)
			take_stats(p, &next_mark, i + 1);
	}
	p->have_stats = p->opts.stats;
	*out = copy_out(&p->output);
	return 0;
}

const struct shape *exec_input_shape(const struct exec_plan *p, int i)
{
	return i >= 0 && i < p->ninputs ? &p->in_shapes[i] : NULL;
}

void exec_info(const struct exec_plan *p, struct exec_info *out)
{
	*out = p->info;
}

const struct exec_stat *exec_stats(const struct exec_plan *p, int *n)
{
	*n = p->have_stats ? p->nstats : 0;
	return p->have_stats ? p->stats : NULL;
}

const struct exec_stat *exec_module_stats(const struct exec_plan *p, const struct module *m,
					  int call, int *n)
{
	*n = 0;
	if (!p->have_stats)
		return NULL;
	for (int i = 0; i < p->nstats; i++) {
		if (p->stats[i].module != m || p->stats[i].call != call)
			continue;
		int k = i;
		while (k < p->nstats && p->stats[k].module == m && p->stats[k].call == call)
			k++;
		*n = k - i;
		return &p->stats[i];
	}
	return NULL;
}

void exec_set_threads(int n)
{
	kernels_set_threads(n);
}

struct model *exec_init_model(const struct model *m, uint64_t seed, struct error *e)
{
	struct model *c = model_clone(m);
	struct rng r;
	rng_seed(&r, seed);
	if (c->root && init_module(c->root, &r, e) < 0) {
		model_free(c);
		return NULL;
	}
	c->has_weights = true;
	return c;
}

void exec_randn(float *out, int64_t n, uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	rng_normal_f32(&r, out, n, 0.0, 1.0);
}
