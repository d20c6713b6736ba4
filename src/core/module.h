/* module.h - the module tree.
 *
 * A module has a name (its key in the parent), a type, attributes, its own
 * parameters and buffers, children in PyTorch's order and, for composites
 * that are not a plain chain, a forward graph over its direct children. The
 * dotted path of every tensor is its PyTorch state_dict key.
 *
 * The shape pass writes each module's call records; nothing else does. */
#ifndef GRAFT_MODULE_H
#define GRAFT_MODULE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "core/value.h"

struct op_def;

struct attr {
	char *name;
	struct value value;
};

/* A parameter or buffer owned by one module. */
struct param {
	char *name;        /* local name: "weight", "running_mean" */
	struct tensor t;   /* shape and dtype always; storage once loaded */
	bool buffer;       /* a buffer (running_mean), not a parameter */
	bool trainable;    /* requires_grad; always false for buffers */
	char *tie;         /* a tied weight: the state_dict key of the tensor this
	                    * one is (lm_head.weight is "wte.weight"), the first
	                    * name PyTorch lists; NULL for a tensor of its own
	                    * (ties.h) */
};

enum node_op {
	NODE_PLACEHOLDER,
	NODE_CALL_MODULE,
	NODE_CALL_FUNCTION,
	NODE_CALL_METHOD,
	NODE_GET_ATTR,
	NODE_OUTPUT
};

struct kwarg {
	char *name;
	struct value value;
};

struct graph_node {
	char *name;
	enum node_op op;
	char *target;
	struct value *args;
	int nargs;
	struct kwarg *kwargs;
	int nkwargs;
	/* Resolved when the graph is bound to its module (graph_bind): */
	struct module *callee;        /* NODE_CALL_MODULE */
	const struct op_def *fn;      /* NODE_CALL_FUNCTION / METHOD */
	struct module *attr_owner;    /* NODE_GET_ATTR: the module holding it */
	int attr_index;               /* NODE_GET_ATTR: index in its params */
	/* Written by the shape pass (shape.c) only: the node's value in the
	 * first call of its module, VAL_NONE when not reached. */
	struct value out;
};

struct graph {
	struct graph_node *nodes;
	int n, cap;
};

/* One call of a module in the last shape pass. The call that broke keeps its
 * inputs and has out = None. */
struct call_record {
	struct value in;   /* VAL_LIST of the call's arguments */
	struct value out;  /* what it returned */
	int64_t macs;      /* mult-adds of this call, children included */
	int seq;           /* when the call ended, in the pass's order */
};

struct module {
	char *name;               /* key in the parent; "" for the root */
	char *type;               /* PyTorch class name */
	const struct op_def *def; /* registry entry, NULL for composites */
	struct module *parent;

	struct module **children;
	int nchildren, children_cap;

	struct attr *attrs;
	int nattrs;

	struct param *params; /* own parameters then buffers, PyTorch order */
	int nparams;

	struct graph *forward; /* NULL: run the children in order */

	/* Written by the shape pass (shape.c) only. */
	struct call_record *calls;
	int ncalls, calls_cap;
	bool broken;          /* the first shape break is in this module */

	/* Free for views and editors to use; the core does not touch it. */
	void *user;
	/* Who the module is, through edits that move or rename it: 0 from
	 * module_new, copied by module_clone; an editor numbers the modules of
	 * the model it opens. */
	int id;
};

/* A new module with the given name and type and nothing else. */
struct module *module_new(const char *name, const char *type);
/* Frees m and its whole subtree. Tolerates NULL. */
void module_free(struct module *m);
/* Appends child (taking ownership) and sets its parent. */
void module_add_child(struct module *m, struct module *child);
/* The direct child with this name, or NULL. */
struct module *module_child(const struct module *m, const char *name);
/* Follows a dotted path ("layer1.0.conv1") from m; "" is m itself. NULL when
 * any part is missing. */
struct module *module_find(const struct module *m, const char *path);
/* The dotted path from the root ("" for the root); malloc'd. */
char *module_path(const struct module *m);
/* Writes the dotted path into buf; returns buf. */
const char *module_path_buf(const struct module *m, char *buf, size_t size);
/* Writes "PATH.NAME" for m's tensor `name` ("NAME" at the root); returns buf. */
const char *module_param_path(const struct module *m, const char *name, char *buf,
                              size_t size);

/* Attributes. module_attr returns NULL when absent. module_set_attr copies v
 * and replaces an existing value. */
const struct value *module_attr(const struct module *m, const char *name);
void module_set_attr(struct module *m, const char *name, const struct value *v);
/* True when a and b have the same attributes with equal values, in any
 * order. */
bool module_same_attrs(const struct module *a, const struct module *b);
/* Attribute as int / list of n ints / float / bool / string, with a default
 * for absent or mistyped values. */
int64_t module_attr_int(const struct module *m, const char *name, int64_t def);
void module_attr_ints(const struct module *m, const char *name, int64_t *out, int n);
double module_attr_float(const struct module *m, const char *name, double def);
bool module_attr_bool(const struct module *m, const char *name, bool def);
const char *module_attr_str(const struct module *m, const char *name, const char *def);

/* Appends a parameter or buffer (shape and dtype, no storage). Returns it. */
struct param *module_add_param(struct module *m, const char *name, enum dtype dt,
			       const struct shape *s, bool buffer);
/* Frees what p owns (name, tie, storage reference), not p itself. */
void param_free_fields(struct param *p);
/* The own parameter or buffer with this local name, or NULL. */
struct param *module_param(const struct module *m, const char *name);

/* The tensor a state_dict key names below m ("a.b.weight" is parameter
 * "weight" of module a.b, or a parameter whose own name has a dot, as
 * MultiheadAttention's "out_proj.weight", of a module higher up), or NULL. */
struct param *module_find_tensor(const struct module *m, const char *key);

/* Counts over the subtree: parameter elements (total and trainable) and
 * buffer elements. A tied tensor whose first name lies in the subtree counts
 * once, as module.parameters() does. */
struct param_counts {
	int64_t params, trainable, buffers;
	int64_t param_bytes, buffer_bytes;
};
void module_count(const struct module *m, struct param_counts *out);

/* Visits m and its subtree depth-first, parents first (named_modules order).
 * Stops and returns the callback's value when it is non-zero. */
int module_walk(struct module *m, int (*fn)(struct module *m, void *ctx), void *ctx);
/* Number of modules in the subtree, m included. */
int module_count_nodes(const struct module *m);

/* Forward graphs. */
struct graph *graph_new(void);
void graph_free(struct graph *g);
/* Appends a node taking ownership of name/target/args/kwargs. */
struct graph_node *graph_add(struct graph *g, char *name, enum node_op op, char *target);
/* Index of the node named `name`, or -1. */
int graph_find(const struct graph *g, const char *name);
/* Resolves call_module targets, functions and get_attr targets of m's graph,
 * and checks that every ref names an earlier node and that there is exactly
 * one output node, last. Returns 0 or -1 with e naming the node. */
int graph_bind(struct module *m, struct error *e);
const char *node_op_name(enum node_op op);
int node_op_parse(const char *s, enum node_op *out);

/* A deep copy of m's subtree (name, type, attributes, tensors sharing
 * storage, children, bound graphs), without call records and parent. */
struct module *module_clone(const struct module *m);

/* Drops every call record (and graph node value) in the subtree. */
void module_clear_calls(struct module *m);

#endif
