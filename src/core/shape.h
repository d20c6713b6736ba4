/* shape.h - the forward walker, and the shape pass: a dry run on shapes, not
 * numbers.
 *
 * The walker is graft's one reading of a model's forward: the shape pass and
 * the executor's planner (exec.h) both run it, so the graph that is checked is
 * the graph that runs. The shape pass runs the model's forward on tensor
 * shapes from its input spec, recording in every module the inputs and
 * outputs of each call and its mult-adds. On a break it stops at the failing
 * call, keeps what was recorded before it, marks the module and explains the
 * mismatch. */
#ifndef GRAFT_SHAPE_H
#define GRAFT_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/model.h"

struct op_call; /* registry.h */

/* A walk of a forward and its user's hooks. The walker runs a composite's
 * graph (placeholder, call_module, call_function, call_method, get_attr,
 * output nodes) or, without one, its children in order (a Sequential), and
 * applies the registry's shape rule to every registry module and function.
 * The first failing call stops the walk. */
struct shape_walk {
	struct error *err; /* where a break or problem is explained */
	void *ctx;         /* the user's */
	/* A registry module or function call whose shape rule ran: c->out is
	 * its output, which the hook may change (the planner gives its tensors
	 * places). 0, or -1 with err set, which stops the walk. NULL: none. */
	int (*on_op)(struct shape_walk *w, struct op_call *c);
	/* A module call ended (children's before their parent's): out is what
	 * it returned and macs the mult-adds of its subtree; out is NULL when the
	 * module's own call failed (args are then what reached it). NULL: none. */
	void (*on_module)(struct shape_walk *w, struct module *m, const struct value *args,
			  int nargs, const struct value *out, int64_t macs);
	/* Node `node` of m's forward graph computed v (for the output node,
	 * what m returns). NULL: none. */
	void (*on_node)(struct shape_walk *w, struct module *m, int node, const struct value *v);
	/* The value of a get_attr node: 0, or -1 with err set. NULL: a tensor of
	 * the parameter's dtype and shape, without data. */
	int (*get_attr)(struct shape_walk *w, const struct graph_node *nd, struct value *out);
	/* Set by the walk when it breaks: the module the failing call is in (or
	 * whose graph or children it is in). */
	struct module *failed;
};

/* Walks the forward of module m called on args, calling w's hooks: *out gets
 * its output and *macs its mult-adds. 0, or -1 with w->err set (kind
 * ERR_SHAPE for a mismatch, ERR_INPUT for a malformed model) and w->failed
 * set; *out is then none. Changes nothing in the model. */
int shape_walk(struct shape_walk *w, struct module *m, const struct value *args, int nargs,
	       struct value *out, int64_t *macs);

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
