/* shape.h - the shape pass: a dry run on shapes, not numbers.
 *
 * Runs the model's forward on tensor shapes from its input spec, recording in
 * every module the inputs and outputs of each call and its mult-adds. On a
 * break it stops at the failing call, keeps what was recorded before it, marks
 * the module and explains the mismatch. */
#ifndef GRAFT_SHAPE_H
#define GRAFT_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/model.h"

struct shape_result {
	bool ok;
	struct error err;             /* the break or problem, when !ok */
	const struct module *failed;  /* the module the break is in (or whose graph), or NULL */
	struct value output;          /* the model's output when ok */
	int64_t macs;                 /* total mult-adds */
	int64_t activation_bytes;     /* bytes of all module outputs of one forward */
};

/* Runs the shape pass over m. Returns 0 when the model checks, -1 when it
 * breaks (r->err says why; kind ERR_SHAPE for a mismatch, ERR_INPUT for a
 * malformed model, e.g. no forward). r is always filled; free with
 * shape_result_free. */
int shape_pass(struct model *m, struct shape_result *r);
void shape_result_free(struct shape_result *r);

/* Runs the shape rule of one module (and its subtree) on args alone, as if
 * it were a model: *out gets its output. Records calls in the subtree like
 * shape_pass. 0, or -1 with e set. */
int shape_run_module(struct module *m, const struct value *args, int nargs, struct value *out,
		     struct error *e);

#endif
