/* exec_plan.c - what the executor decides once a model is walked: fusions,
 * constants, liveness, in-place writes, the arena's layout, and binding
 * every planning tensor to real memory (see exec.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bounds.h"
#include "exec/exec_impl.h"
#include "core/registry.h"
#include "core/util.h"

/* ---- planning: fusion ---- */

static void count_use(struct exec_plan *p, const struct value *v, void *ctx)
{
	(void)ctx;
	p->bufs[xbuf_of(p, v)].uses++;
}

static void count_uses(struct exec_plan *p)
{
	for (int b = 0; b < p->nbufs; b++)
		p->bufs[b].uses = 0;
	for (int i = 0; i < p->nsteps; i++)
		if (p->steps[i].active)
			xeach_arg_slot(p, &p->steps[i], count_use, NULL);
	for (int i = 0; i < p->nmarks; i++)
		xeach_slot(p, &p->marks[i].out, count_use, NULL);
	xeach_slot(p, &p->output, count_use, NULL);
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
	if (xbuf_of(p, &s->op.call.out) != b)
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
	int ob = xbuf_of(p, &j->op.call.out);
	j->active = false;
	p->bufs[ob].parent = b;
	p->bufs[b].uses = p->bufs[ob].uses;
}

void xfuse(struct exec_plan *p)
{
	count_uses(p);
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *j = &p->steps[i];
		/* a bounded output's exact shape is published by its own step
		 * (exec_bounds.c): such a step is never folded away */
		if (!j->active || j->op.call.out.kind != VAL_TENSOR || bounds_any(&j->op.call.out))
			continue;
		const struct value *x = op_arg(&j->op.call, 0, "input");
		if (!x)
			x = op_arg(&j->op.call, -1, "self");
		if (!x || !xis_slot(p, x))
			continue;
		int b = xbuf_of(p, x);
		const char *name = j->op.kernel->name;
		if (strcmp(name, "BatchNorm2d") == 0 && j->op.call.def->kind == OP_MODULE) {
			struct xstep *s = sole_producer(p, b, KF_BN);
			if (!s || s->op.post_shift || s->op.act.kind != KACT_NONE ||
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
		struct kact act = kernels_act_of(&j->op);
		if (act.kind == KACT_NONE)
			continue;
		struct xstep *s = sole_producer(p, b, KF_ACT);
		if (!s || s->op.act.kind != KACT_NONE)
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
	if (p->bufs[xbuf_of(p, v)].kind != XB_CONST)
		cc->all_const = false;
}

static void make_const(struct exec_plan *p, const struct value *v, void *ctx)
{
	(void)ctx;
	p->bufs[xbuf_of(p, v)].kind = XB_CONST;
}

void xfind_constants(struct exec_plan *p)
{
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		if (!s->active)
			continue;
		struct const_check cc = {.all_const = true};
		xeach_arg_slot(p, s, check_const, &cc);
		if (!cc.all_const || cc.n == 0)
			continue;
		s->constant = true;
		xeach_slot(p, &s->op.call.out, make_const, NULL);
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
	struct xbuf *b = &p->bufs[xbuf_of(p, v)];
	if (lc->step > b->last)
		b->last = lc->step;
}

void xliveness(struct exec_plan *p)
{
	for (int b = 0; b < p->nbufs; b++) {
		struct xbuf *xb = &p->bufs[b];
		xb->first = xb->producer;
		xb->last = xb->producer;
	}
	/* A merged buffer starts where its earliest member does. */
	for (int b = 0; b < p->nbufs; b++) {
		int r = xbuf_find(p, b);
		if (p->bufs[b].first < p->bufs[r].first)
			p->bufs[r].first = p->bufs[b].first;
		if (p->bufs[b].last > p->bufs[r].last)
			p->bufs[r].last = p->bufs[b].last;
	}
	for (int i = 0; i < p->nsteps; i++) {
		if (!p->steps[i].active)
			continue;
		struct live_ctx lc = {i};
		xeach_arg_slot(p, &p->steps[i], extend_live, &lc);
		xeach_slot(p, &p->steps[i].op.call.out, extend_live, &lc);
	}
	for (int i = 0; i < p->nmarks; i++) {
		struct live_ctx lc = {p->marks[i].after - 1};
		xeach_slot(p, &p->marks[i].out, extend_live, &lc);
	}
	struct live_ctx end = {p->nsteps};
	xeach_slot(p, &p->output, extend_live, &end);
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
	int b = xbuf_of(p, v);
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
	if (xbuf_of(p, v) == ic->cand)
		ic->others++;
}

void xplan_inplace(struct exec_plan *p)
{
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		unsigned f = s->op.kernel->flags;
		if (!s->active || s->constant || !(f & (KF_INPLACE | KF_INPLACE_ANY)) ||
		    s->op.call.out.kind != VAL_TENSOR)
			continue;
		int ob = xbuf_of(p, &s->op.call.out);
		struct inplace_ctx ic = {.step = i,
		                         .out_buf = ob,
		                         .cand = -1,
		                         .bytes = p->bufs[ob].bytes,
		                         .any = (f & KF_INPLACE_ANY) != 0};
		xeach_arg_slot(p, s, inplace_candidate, &ic);
		if (ic.cand < 0 || p->bufs[ob].kind != XB_ARENA || p->bufs[ob].first != i)
			continue;
		/* The candidate must be read once by this step. */
		ic.others = 0;
		xeach_arg_slot(p, s, count_cand, &ic);
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
size_t xpack_arena(struct exec_plan *p)
{
	struct sized *order = xcalloc((size_t)p->nbufs + 1, sizeof *order);
	int n = 0;
	for (int b = 0; b < p->nbufs; b++)
		if (xbuf_find(p, b) == b && p->bufs[b].kind == XB_ARENA && p->bufs[b].bytes > 0)
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
			if (xb->parent == b && xb->kind == XB_ARENA && xb->first <= s &&
			    s <= xb->last)
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
	if (!xis_slot(p, v))
		return;
	const struct xbuf *xb = &p->bufs[xbuf_of(p, v)];
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

/* Gives a constant's buffer its own storage; *ctx (an int) becomes -1, with
 * p->err set, when that storage cannot be allocated. */
static void bind_const_out(struct exec_plan *p, const struct value *v, void *ctx)
{
	int *rc = ctx;
	struct xbuf *xb = &p->bufs[xbuf_of(p, v)];
	if (!xb->st && *rc == 0) {
		xb->st = storage_alloc(xb->bytes ? xb->bytes : 1, "a constant", p->err);
		xb->st_offset = 0;
		if (!xb->st)
			*rc = -1;
	}
}

int xbind(struct exec_plan *p, size_t arena_bytes)
{
	p->arena = storage_alloc(arena_bytes ? arena_bytes : ARENA_ALIGN, "the activations",
	                         p->err);
	if (!p->arena)
		return -1;
	int rc = 0;
	for (int i = 0; i < p->nsteps; i++)
		if (p->steps[i].active && p->steps[i].constant)
			xeach_slot(p, &p->steps[i].op.call.out, bind_const_out, &rc);
	if (rc < 0)
		return -1;
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
