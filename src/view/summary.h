/* summary.h - the `graft summary` report: a torchinfo-like table or JSON. */
#ifndef GRAFT_SUMMARY_H
#define GRAFT_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include "core/model.h"
#include "core/shape.h"

struct summary_opts {
	int depth;  /* deepest level of modules shown (root is 0); -1: all */
	bool json;  /* machine-readable JSON instead of the table */
	bool ascii; /* the table in ASCII (text_escape_ascii), for a terminal
	               whose locale is not UTF-8 */
};

/* Writes the summary of m after its shape pass r. On a break the table stops
 * at the failing module, flagged; the break message itself is the caller's
 * to print (it is in r->err). */
void summary_write(FILE *out, const struct model *m, const struct shape_result *r,
		   const struct summary_opts *o);

#endif
