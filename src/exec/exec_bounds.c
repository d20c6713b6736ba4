/* exec_bounds.c - exact sizes at run time for plans with bounded dims.
 *
 * The shape pass gives a data-dependent size as its upper bound (bounds.h),
 * and the plan gives every buffer the bytes of its bound. At run time a
 * kernel with a data-dependent output (nms) writes its exact dims into its
 * output tensors; each later step that reads a bounded tensor gets the
 * exact shape of that tensor's slot in its arguments, its output shapes
 * from its shape rule run again on them, and is prepared again (kernels
 * bake sizes in prepare). Views of bounded tensors are steps that run
 * nothing, so their shapes follow too. See doc/executor.md. */
#include <stdlib.h>
#include <string.h>

#include "core/bounds.h"
#include "exec/exec_impl.h"
#include "core/util.h"

static void add_link(struct exec_plan *p, struct tensor *t, int slot)
{
	p->links = xrealloc(p->links, (size_t)(p->nlinks + 1) * sizeof *p->links);
	p->links[p->nlinks++] = (struct xlink){t, slot};
}

/* Links every planning tensor of v that has bounded dims; returns how many. */
static int link_value(struct exec_plan *p, struct value *v)
{
	if (v->kind == VAL_LIST) {
		int n = 0;
		for (int i = 0; i < v->u.list.n; i++)
			n += link_value(p, &v->u.list.items[i]);
		return n;
	}
	if (!xis_slot(p, v) || !v->u.tensor.t.shape.bounded)
		return 0;
	int slot = (int)v->u.tensor.t.offset;
	p->slot_shapes[slot] = v->u.tensor.t.shape;
	add_link(p, &v->u.tensor.t, slot);
	return 1;
}

void xbounds_link(struct exec_plan *p)
{
	bool any = false;
	for (int i = 0; i < p->nsteps && !any; i++)
		any = bounds_any(&p->steps[i].op.call.out);
	if (!any)
		return;
	p->slot_shapes = xcalloc((size_t)p->nslots, sizeof *p->slot_shapes);
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		s->link = p->nlinks;
		for (int j = 0; j < s->nargs; j++)
			s->nin += link_value(p, &s->args[j]);
		for (int j = 0; j < s->nkwargs; j++)
			s->nin += link_value(p, &s->kwargs[j].value);
		s->nout = link_value(p, &s->op.call.out);
		s->dynamic = s->nin + s->nout > 0;
	}
	p->nstep_links = p->nlinks;
	for (int i = 0; i < p->nmarks; i++)
		link_value(p, &p->marks[i].out);
	link_value(p, &p->output);
}

/* Copies the shapes of the tensors of `from` into those of `to` (values of
 * the same structure). */
static void copy_shapes(struct value *to, const struct value *from)
{
	if (to->kind == VAL_TENSOR && from->kind == VAL_TENSOR)
		to->u.tensor.t.shape = from->u.tensor.t.shape;
	for (int i = 0; to->kind == VAL_LIST && from->kind == VAL_LIST && i < to->u.list.n &&
	                i < from->u.list.n;
	     i++)
		copy_shapes(&to->u.list.items[i], &from->u.list.items[i]);
}

int xbounds_sync(struct exec_plan *p, struct xstep *s, bool prepared, struct error *e)
{
	if (!s->dynamic)
		return 0;
	bool changed = false;
	for (int i = s->link; i < s->link + s->nin; i++) {
		struct xlink *l = &p->links[i];
		if (!shape_equal(&l->t->shape, &p->slot_shapes[l->slot])) {
			l->t->shape = p->slot_shapes[l->slot];
			changed = true;
		}
	}
	if (!changed)
		return 0;
	struct op_call c = s->op.call;
	c.out = value_none();
	c.macs = 0;
	c.err = e;
	if (c.def->infer(&c) < 0) {
		value_free(&c.out);
		return -1; /* the rule's message names the call */
	}
	copy_shapes(&s->op.call.out, &c.out);
	value_free(&c.out);
	xbounds_publish(p, s);
	if (!prepared || s->view)
		return 0;
	free(s->op.state);
	s->op.state = NULL;
	s->op.scratch_bytes = 0;
	return xprepare_step(p, s, e);
}

void xbounds_publish(struct exec_plan *p, struct xstep *s)
{
	for (int i = s->link + s->nin; i < s->link + s->nin + s->nout; i++) {
		struct xlink *l = &p->links[i];
		l->t->shape.bounded = 0;
		p->slot_shapes[l->slot] = l->t->shape;
	}
}

void xbounds_results(struct exec_plan *p)
{
	for (int i = p->nstep_links; i < p->nlinks; i++)
		p->links[i].t->shape = p->slot_shapes[p->links[i].slot];
}
