/* bounds.h - data-dependent sizes in the shape pass.
 *
 * Some ops make tensors whose size depends on the values (the boxes an nms
 * keeps, the indices nonzero finds): their shape rule gives the upper bound
 * and sets the dim's bit in shape.bounded. Every later op whose output size
 * follows such a dim gets a bound there too, without its shape rule knowing
 * about bounds: bounds_infer runs the rule on the inputs' sizes as they
 * are, then again with every bounded input dim doubled, and at zero, and
 * marks the output dims that moved (a Linear on [≤1000, 1024] gives [≤1000, 91], a
 * flatten of [≤1000, 4] gives [≤4000], a cat of [≤1000, 4] and [5, 4]
 * along dim 0 gives [≤1005, 4], topk(k=100) of [≤1000] gives [≤100]). A size read from a bounded dim as a
 * number (x.size(0)) is its bound. */
#ifndef GRAFT_BOUNDS_H
#define GRAFT_BOUNDS_H

#include <stdbool.h>

#include "core/registry.h"

/* Runs c's shape rule (c->def->infer) and marks in c->out the bounds that
 * follow bounded dims of its tensor arguments, as above; the rule's own
 * bounds stay. 0, or -1 with c->err set as by the rule. */
int bounds_infer(struct op_call *c);

/* True when a tensor in v (a tensor, or tuples holding tensors) has a
 * bounded dim. */
bool bounds_any(const struct value *v);

/* Clears the bounded bits of every tensor in v: the sizes are exact. */
void bounds_clear(struct value *v);

#endif
