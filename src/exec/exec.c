/* exec.c - the numeric forward pass: planning, and the plan's life.
 *
 * Planning runs the forward walker the shape pass runs (shape_walk in
 * shape.h): composites run their graph or their children in order, registry
 * modules and functions apply their shape rule, and this file's hooks see
 * every call. While it walks, a tensor value carries no data:
 * its storage is the plan's sentinel and its offset the number of a *slot*
 * (a tensor of the forward). Slots live in *buffers*; views share their
 * input's buffer, everything else gets a new one. Each call whose output
 * holds a new tensor becomes a *step* for its kernel. The steps are then
 * fused, folded, given memory and bound to real storage (exec_plan.c),
 * and run (exec_run.c). See exec.h and doc/executor.md. */
#include "exec/exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_impl.h"
#include "core/bounds.h"
#include "core/init.h"
#include "exec/kernels.h"
#include "core/registry.h"
#include "core/ties.h"
#include "core/shape.h"
#include "core/util.h"

/* ---- a pointer -> int map ---- */

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

/* ---- buffers and slots ---- */

int xbuf_find(struct exec_plan *p, int b)
{
	while (p->bufs[b].parent != b) {
		p->bufs[b].parent = p->bufs[p->bufs[b].parent].parent;
		b = p->bufs[b].parent;
	}
	return b;
}

int xbuf_new(struct exec_plan *p, enum xbuf_kind kind, size_t bytes, int producer)
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

bool xis_slot(const struct exec_plan *p, const struct value *v)
{
	return v->kind == VAL_TENSOR && v->u.tensor.t.storage == p->sentinel;
}

static int slot_of(const struct value *v)
{
	return (int)v->u.tensor.t.offset;
}

int xbuf_of(struct exec_plan *p, const struct value *v)
{
	return xbuf_find(p, p->slots[slot_of(v)].buf);
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
	int b = alias >= 0 ? alias : xbuf_new(p, XB_ARENA, tensor_nbytes(&v->u.tensor.t), producer);
	v->u.tensor.t.storage = storage_ref(p->sentinel);
	v->u.tensor.t.offset = (size_t)new_slot(p, b);
}

/* Calls fn on every planning tensor in v. */
void xeach_slot(struct exec_plan *p, const struct value *v,
                void (*fn)(struct exec_plan *p, const struct value *t, void *ctx), void *ctx)
{
	if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			xeach_slot(p, &v->u.list.items[i], fn, ctx);
	else if (xis_slot(p, v))
		fn(p, v, ctx);
}

void xeach_arg_slot(struct exec_plan *p, const struct xstep *s,
                    void (*fn)(struct exec_plan *p, const struct value *t, void *ctx), void *ctx)
{
	for (int i = 0; i < s->nargs; i++)
		xeach_slot(p, &s->args[i], fn, ctx);
	for (int i = 0; i < s->nkwargs; i++)
		xeach_slot(p, &s->kwargs[i].value, fn, ctx);
}

/* ---- weights ---- */


/* Releases the first n tensors of w and its array; returns NULL. */
static struct xweights *weights_drop(struct xweights *w, int n)
{
	for (int j = 0; j < n; j++)
		tensor_release(&w->t[j]);
	free(w->t);
	return NULL;
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
		char name[2048];
		if (!src->storage) {
			error_setk(p->err, ERR_INPUT, "%s has no values: the model has no weights",
			           module_param_path(m, m->params[k].name, name, sizeof name));
			return weights_drop(&w, k);
		}
		struct tensor *t = &w.t[k];
		const void *data = tensor_data(src);
		if (src->dtype == DT_F32 && ((uintptr_t)data & 3) == 0) {
			tensor_share(t, src);
			continue;
		}
		t->dtype = xdtype_is_float(src->dtype) ? DT_F32 : src->dtype;
		t->shape = src->shape;
		if (tensor_alloc(t, p->err) < 0) {
			error_prefix(p->err, "%s",
			             module_param_path(m, m->params[k].name, name, sizeof name));
			return weights_drop(&w, k);
		}
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

/* ---- planning: the walker's hooks (shape.h) ---- */

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
	if ((dc->k->flags & KF_BOOL_MASK) && (dt == DT_BOOL || dt == DT_U8))
		return;
	dc->ok = false;
	dc->bad = dt;
}

/* Records the call c (its shape rule has run) as a step when it makes a
 * tensor. */
static int plan_op(struct shape_walk *walk, struct op_call *c)
{
	struct exec_plan *p = walk->ctx;
	if (!has_fresh(&c->out))
		return 0; /* plain values, or tensors passed through (a tuple's item) */
	char path[2600];
	const struct kernel *k = kernels_find(c->def->name, c->def->kind);
	if (!k)
		return error_setk(p->err, ERR_INPUT, "%s: graft run has no kernel for the %s %s",
		                  op_path(c, path, sizeof path),
		                  c->def->kind == OP_MODULE ? "module type" : "function",
		                  c->def->name);
	const struct value *x = op_arg(c, 0, "input");
	if (!x)
		x = op_arg(c, -1, "self");
	/* A cast is a view of its input unless it changes the dtype. */
	bool converts = (k->flags & KF_CAST) && x && x->kind == VAL_TENSOR &&
	                c->out.kind == VAL_TENSOR && c->out.u.tensor.t.dtype != x->u.tensor.t.dtype;
	bool view = (k->flags & KF_ALIAS) && !converts;
	if (view) {
		if (!x || !xis_slot(p, x) || c->out.kind != VAL_TENSOR ||
		    c->out.u.tensor.t.dtype != x->u.tensor.t.dtype ||
		    tensor_nbytes(&c->out.u.tensor.t) != tensor_nbytes(&x->u.tensor.t))
			return error_setk(
			    p->err, ERR_INPUT,
			    "%s: %s changes the dtype or size of its input, which graft "
			    "run does not compute",
			    op_path(c, path, sizeof path), c->def->name);
		claim_fresh(p, &c->out, p->slots[slot_of(x)].buf, -1);
		/* a view of a bounded tensor is a step, for its exact shape */
		if (!bounds_any(&c->out))
			return 0;
	}
	xgrow(&p->steps, &p->steps_cap, p->nsteps + 1, sizeof *p->steps);
	struct xstep *s = &p->steps[p->nsteps];
	memset(s, 0, sizeof *s);
	s->active = true;
	s->view = view;
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
	if (!view)
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
	xeach_arg_slot(p, s, check_dtype, &dc);
	xeach_slot(p, &sc->out, check_dtype, &dc);
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

/* Notes where a module call ended, for statistics (plans with opts.stats). */
static void plan_module_end(struct shape_walk *walk, struct module *m,
                            const struct value *args, int nargs, const struct value *out,
                            int64_t macs)
{
	(void)args;
	(void)nargs;
	(void)macs;
	struct exec_plan *p = walk->ctx;
	if (!out)
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
static int plan_get_attr(struct shape_walk *walk, const struct graph_node *nd, struct value *out)
{
	struct exec_plan *p = walk->ctx;
	struct xweights *w = weights_of(p, nd->attr_owner);
	if (!w)
		return -1;
	const struct tensor *t = &w->t[nd->attr_index];
	int s = ptrmap_get(&p->attr_map, t);
	if (s < 0) {
		int b = xbuf_new(p, XB_CONST, tensor_nbytes(t), -1);
		p->bufs[b].st = storage_ref(t->storage);
		p->bufs[b].st_offset = t->offset;
		s = new_slot(p, b);
		ptrmap_put(&p->attr_map, t, s);
	}
	struct origin o = {.module = nd->attr_owner, .node = NULL};
	*out = slot_value(p, s, t->dtype, &t->shape, o);
	return 0;
}

int xreserve_scratch(struct exec_plan *p, size_t n, struct error *e)
{
	if (n <= p->info.scratch_bytes)
		return 0;
	free(p->scratch);
	p->scratch = NULL;
	p->info.scratch_bytes = 0;
	if (posix_memalign(&p->scratch, ARENA_ALIGN, n) != 0) {
		p->scratch = NULL;
		char want[32];
		error_set(e, "cannot allocate %s for the kernels' scratch: out of memory",
		          fmt_bytes((double)n, want, sizeof want));
		return -1;
	}
	p->info.scratch_bytes = n;
	return 0;
}

int xprepare_step(struct exec_plan *p, struct xstep *s, struct error *e)
{
	if (s->op.kernel->prepare && s->op.kernel->prepare(&s->op, e) < 0) {
		char path[2600];
		return error_prefix(e, "%s", op_path(&s->op.call, path, sizeof path));
	}
	return xreserve_scratch(p, s->op.scratch_bytes, e);
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
		if (xbounds_sync(p, s, false, p->err) < 0 || xprepare_step(p, s, p->err) < 0)
			return -1;
		if (s->constant) {
			if (xrun_step(p, s, p->err) < 0)
				return -1;
			xbounds_publish(p, s);
		} else if (!s->view) {
			p->info.ops++;
		}
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
		error_setk(
		    e, ERR_INPUT,
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
	p->in_dtypes = xcalloc((size_t)(m->ninputs ? m->ninputs : 1), sizeof *p->in_dtypes);
	struct value *args = xcalloc((size_t)(m->ninputs ? m->ninputs : 1), sizeof *args);
	for (int i = 0; i < m->ninputs; i++) {
		p->in_shapes[i] = input_shapes ? input_shapes[i] : m->inputs[i].shape;
		/* floating inputs are computed in float32; integer and bool ones
		 * keep their dtype, for the kernels that read them */
		enum dtype dt = m->inputs[i].dtype;
		p->in_dtypes[i] = xdtype_is_float(dt) ? DT_F32 : dt;
		struct tensor t = {.dtype = p->in_dtypes[i], .shape = p->in_shapes[i]};
		int b = xbuf_new(p, XB_ARENA, tensor_nbytes(&t), -1);
		p->in_slots[i] = new_slot(p, b);
		struct origin o = {0};
		args[i] = slot_value(p, p->in_slots[i], t.dtype, &p->in_shapes[i], o);
	}
	struct shape_walk w = {.err = e,
	                       .ctx = p,
	                       .on_op = plan_op,
	                       .on_module = p->opts.stats ? plan_module_end : NULL,
	                       .get_attr = plan_get_attr};
	int64_t macs = 0;
	int rc = shape_walk(&w, m->root, args, m->ninputs, &p->output, &macs);
	for (int i = 0; i < m->ninputs; i++)
		value_free(&args[i]);
	free(args);
	if (rc == 0) {
		if (!p->opts.stats && !p->opts.no_fuse)
			xfuse(p);
		if (!p->opts.stats)
			xfind_constants(p);
		xliveness(p);
		xplan_inplace(p);
		p->info.arena_bytes = xpack_arena(p);
		xbounds_link(p);
		rc = xbind(p, p->info.arena_bytes);
		if (rc == 0)
			rc = prepare_steps(p);
	}
	p->err = NULL;
	if (rc < 0) {
		exec_plan_free(p);
		return NULL;
	}
	if (p->opts.profile) {
		p->prof = xcalloc((size_t)(p->nsteps ? p->nsteps : 1), sizeof *p->prof);
		for (int i = 0; i < p->nsteps; i++) {
			p->prof[i].op = p->steps[i].op.kernel->name;
			p->prof[i].call = &p->steps[i].op.call;
		}
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
	free(p->slot_shapes);
	free(p->links);
	free(p->in_shapes);
	free(p->in_slots);
	free(p->in_dtypes);
	storage_unref(p->arena);
	free(p->scratch);
	free(p->stats);
	free(p->prof);
	storage_unref(p->sentinel);
	free(p);
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

const struct exec_prof *exec_profile(const struct exec_plan *p, int *n)
{
	*n = p->prof ? p->nsteps : 0;
	return p->prof;
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
	if (c->root)
		ties_sync(c->root, NULL);
	c->has_weights = true;
	return c;
}

void exec_randn(float *out, int64_t n, uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	rng_normal_f32(&r, out, n, 0.0, 1.0);
}

static int smallest_table(struct module *m, void *ctx)
{
	int64_t *bound = ctx, n = module_attr_int(m, "num_embeddings", 0);
	if (n > 0 && (*bound == 0 || n < *bound))
		*bound = n;
	return 0;
}

int exec_random_input(const struct model *m, int i, const struct shape *s, uint64_t seed,
                      struct tensor *out, struct error *e)
{
	enum dtype dt = m->inputs[i].dtype;
	*out = (struct tensor){.dtype = xdtype_is_float(dt) ? DT_F32 : dt, .shape = *s};
	if (tensor_alloc(out, e) < 0)
		return error_prefix(e, "input '%s'", m->inputs[i].name);
	int64_t n = shape_numel(s);
	if (out->dtype == DT_F32) {
		exec_randn(out->storage->data, n, seed);
		return 0;
	}
	int64_t bound = 0;
	if (dt == DT_BOOL)
		bound = 2;
	else if (m->root)
		module_walk(m->root, smallest_table, &bound);
	if (bound <= 0 || (dt == DT_I8 && bound > 128) || (dt == DT_U8 && bound > 256))
		bound = 2;
	struct rng r;
	rng_seed(&r, seed);
	char *data = out->storage->data;
	size_t size = dtype_size(dt);
	for (int64_t k = 0; k < n; k++) {
		int64_t v = (int64_t)(rng_next(&r) % (uint64_t)bound);
		/* little-endian: the low bytes of v are the value at any width */
		memcpy(data + (size_t)k * size, &v, size);
	}
	return 0;
}
