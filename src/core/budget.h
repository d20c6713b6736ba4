/* budget.h - the memory a reader may spend on its own structures while it
 * opens one file: a floor plus a multiple of the file's size, so that
 * opening any file costs memory roughly linear in its size however the
 * file is made (values shared many times, modules reached through many
 * paths, documents of tiny values). Tensor bytes read from the file are
 * the file's own and are not charged; readers charge what they build from
 * it (pickle values, module trees, JSON documents) before building it. */
#ifndef GRAFT_BUDGET_H
#define GRAFT_BUDGET_H

#include <stddef.h>

#include "core/error.h"

#define BUDGET_FLOOR    ((size_t)16000000) /* bytes any file may spend */
#define BUDGET_PER_BYTE 32                 /* and this much a byte of it */

struct budget {
	size_t file_size;
	size_t limit;
	size_t used;
};

/* The budget for opening a file of file_size bytes. */
void budget_init(struct budget *b, size_t file_size);
/* Charges `bytes` to b. 0, or -1 with e set to "reading it would take
 * more than LIMIT of memory (...)" when the budget would be exceeded; the
 * caller prefixes the file and the place. */
int budget_spend(struct budget *b, size_t bytes, struct error *e);

#endif
