/* ties.h - tied weights: one tensor under several state_dict names.
 *
 * PyTorch ties a weight by assigning one Parameter to two modules
 * (lm_head.weight = wte.weight) or one module to two names (self.a =
 * self.b = nn.Linear(...)). graft keeps every name as a tensor of its own
 * module, and marks each later name with the first one (param.tie): the
 * state_dict keeps every name, counts see the tensor once, and the later
 * names share the first one's storage. */
#ifndef GRAFT_TIES_H
#define GRAFT_TIES_H

#include "core/module.h"
#include "core/util.h"

/* Makes every tied tensor under root share the storage of the tensor its
 * tie names. A tie whose first name is gone, is itself tied, or now differs
 * in shape or dtype (floating dtypes count as one) is dropped (the tensor
 * keeps its own storage); each dropped tie is appended to `dropped` (may be NULL) as "NAME is no longer
 * tied to FIRST\n". Returns how many were dropped. */
int ties_sync(struct module *root, struct strbuf *dropped);

/* Rewrites the ties under root that begin with `from` to begin with `to`
 * instead (a tree whose paths all gained or lost a prefix), and drops the
 * others (they name tensors no longer in the tree). */
void ties_rebase(struct module *root, const char *from, const char *to);

#endif
