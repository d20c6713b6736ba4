/* bounds.c - carrying data-dependent sizes through shape rules (bounds.h). */
#include "core/bounds.h"

#include <stdlib.h>

#include "core/util.h"

bool bounds_any(const struct value *v)
{
	if (v->kind == VAL_TENSOR)
		return v->u.tensor.t.shape.bounded != 0;
	for (int i = 0; v->kind == VAL_LIST && i < v->u.list.n; i++)
		if (bounds_any(&v->u.list.items[i]))
			return true;
	return false;
}

void bounds_clear(struct value *v)
{
	if (v->kind == VAL_TENSOR)
		v->u.tensor.t.shape.bounded = 0;
	for (int i = 0; v->kind == VAL_LIST && i < v->u.list.n; i++)
		bounds_clear(&v->u.list.items[i]);
}

/* How the bounded dims are scaled for a run of a rule: by num / den. */
struct scale {
	int64_t num, den;
};

/* v with its bounded dims scaled and its bits cleared: the sizes a shape
 * rule sees. */
static struct value scaled_copy(const struct value *v, struct scale scale)
{
	struct value c = value_copy(v);
	if (c.kind == VAL_TENSOR) {
		struct shape *s = &c.u.tensor.t.shape;
		for (int d = 0; d < s->ndim; d++)
			if (s->bounded >> d & 1)
				s->dim[d] = s->dim[d] * scale.num / scale.den;
		s->bounded = 0;
	}
	for (int i = 0; c.kind == VAL_LIST && i < c.u.list.n; i++) {
		struct value item = scaled_copy(&v->u.list.items[i], scale);
		value_free(&c.u.list.items[i]);
		c.u.list.items[i] = item;
	}
	return c;
}

/* Runs c's rule on its arguments scaled as scaled_copy does, into c->out;
 * c's arguments are its own again after. */
static int infer_scaled(struct op_call *c, struct scale scale)
{
	const struct value *given = c->args;
	const struct kwarg *given_kw = c->kwargs;
	struct value *args = xcalloc((size_t)(c->nargs ? c->nargs : 1), sizeof *args);
	struct kwarg *kwargs = xcalloc((size_t)(c->nkwargs ? c->nkwargs : 1), sizeof *kwargs);
	for (int i = 0; i < c->nargs; i++)
		args[i] = scaled_copy(&given[i], scale);
	for (int i = 0; i < c->nkwargs; i++) {
		kwargs[i].name = given_kw[i].name;
		kwargs[i].value = scaled_copy(&given_kw[i].value, scale);
	}
	c->args = args;
	c->kwargs = kwargs;
	int rc = c->def->infer(c);
	for (int i = 0; i < c->nargs; i++)
		value_free(&args[i]);
	for (int i = 0; i < c->nkwargs; i++)
		value_free(&kwargs[i].value);
	free(args);
	free(kwargs);
	c->args = given;
	c->kwargs = given_kw;
	return rc;
}

/* Sets the bit of every dim of `out` that differs in `moved`. */
static void mark_moved(struct value *out, const struct value *moved)
{
	if (out->kind == VAL_TENSOR && moved->kind == VAL_TENSOR) {
		struct shape *s = &out->u.tensor.t.shape;
		const struct shape *m = &moved->u.tensor.t.shape;
		for (int d = 0; d < s->ndim && s->ndim == m->ndim; d++)
			if (s->dim[d] != m->dim[d])
				s->bounded |= (uint8_t)(1u << d);
		return;
	}
	if (out->kind != VAL_LIST || moved->kind != VAL_LIST || out->u.list.n != moved->u.list.n)
		return;
	for (int i = 0; i < out->u.list.n; i++)
		mark_moved(&out->u.list.items[i], &moved->u.list.items[i]);
}

static bool args_bounded(const struct op_call *c)
{
	for (int i = 0; i < c->nargs; i++)
		if (bounds_any(&c->args[i]))
			return true;
	for (int i = 0; i < c->nkwargs; i++)
		if (bounds_any(&c->kwargs[i].value))
			return true;
	return false;
}

int bounds_infer(struct op_call *c)
{
	if (!args_bounded(c))
		return c->def->infer(c);
	/* The rule sees plain sizes: its output's bits are then its own (a
	 * rule may copy an input's shape, bits and all, and move its dims). */
	if (infer_scaled(c, (struct scale){1, 1}) < 0)
		return -1;
	/* Doubled, for the sizes that grow with a bound; at zero, for those
	 * that follow it only below a limit (topk's min(k, n)). A rule that
	 * breaks on other sizes ties a bound to a fixed size (adding [≤5, 4]
	 * to [5, 4]): that run marks nothing, and graft run checks the exact
	 * sizes. */
	static const struct scale moves[] = {{2, 1}, {0, 1}};
	for (size_t i = 0; i < sizeof moves / sizeof *moves; i++) {
		struct error quiet = {0};
		struct op_call moved = *c;
		moved.out = value_none();
		moved.macs = 0;
		moved.err = &quiet;
		if (infer_scaled(&moved, moves[i]) == 0)
			mark_moved(&c->out, &moved.out);
		value_free(&moved.out);
	}
	return 0;
}
