/* registry.h - what graft knows about each module type and function.
 *
 * One `struct op_def` per PyTorch module type (Conv2d, BatchNorm2d, ...) and
 * per function a forward graph may call (add, cat, flatten, getitem, ...).
 * Adding a type is adding an entry: loading, the shape pass, the outline and
 * the summary all learn it from here. Entries live in registry_*.c and are
 * collected by registry.c. */
#ifndef GRAFT_REGISTRY_H
#define GRAFT_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "module.h"
#include "value.h"

enum op_kind { OP_MODULE, OP_FUNCTION };

enum attr_type {
	AT_INT,
	AT_FLOAT,
	AT_BOOL,
	AT_STR,
	AT_INT_PAIR,     /* 3 or (3, 3); stored as a list of two ints */
	AT_INTS,         /* (1, 2, 3) or one int; stored as a list of ints */
	AT_INT_OR_NONE,
	AT_FLOAT_OR_NONE,
	AT_PADDING,      /* an int pair, or 'same' / 'valid' */
	AT_ANY
};

struct attr_spec {
	const char *name;
	enum attr_type type;
	const char *def; /* default in command syntax ("1", "(1, 1)", "None"); NULL: required */
};

/* One call being checked by an op's shape rule. */
struct op_call {
	const struct op_def *def;
	const struct module *module; /* the module called (OP_MODULE), else NULL */
	const struct module *owner;  /* the module whose forward makes the call */
	const struct graph_node *node; /* the graph node, NULL in a chain */
	const char *path;            /* for messages: "layer2.0.bn1", "layer1.0:add" */
	const struct value *args;    /* positional arguments (tensors are meta) */
	int nargs;
	const struct kwarg *kwargs;
	int nkwargs;
	/* Outputs of the rule: */
	struct value out;            /* the result */
	int64_t macs;                /* mult-adds of this call */
	struct error *err;
};

struct op_def {
	const char *name;
	enum op_kind kind;
	const char *doc;               /* one line for help and the outline */
	const struct attr_spec *attrs; /* module types: constructor keywords, in order */
	int nattrs;
	/* Module types: the attribute that fixes the size of the output's
	 * channel/feature dimension ("out_channels"), named in break messages;
	 * NULL when the output size follows the input. */
	const char *size_attr;
	/* Module types: adds the parameters and buffers the attributes imply,
	 * with shapes and dtypes (module_add_param). 0 or -1 with e set. */
	int (*params)(struct module *m, struct error *e);
	/* The shape rule: reads c->args (and c->module's attributes), sets c->out
	 * and c->macs. 0, or -1 with c->err set (kind ERR_SHAPE for a break,
	 * ERR_INPUT for a malformed call). */
	int (*infer)(struct op_call *c);
	/* Module types: key hyper-parameters for the outline, "64→128 k3 s2 p1". */
	void (*describe)(const struct module *m, char *buf, size_t size);
};

/* The entry for a module type or a function name, or NULL. */
const struct op_def *registry_module(const char *type);
const struct op_def *registry_function(const char *name);
/* All entries of a kind, in a stable order; *n gets the count. */
const struct op_def *const *registry_all(enum op_kind kind, int *n);
/* The schema entry of a module type's attribute, or NULL. */
const struct attr_spec *registry_attr_spec(const struct op_def *def, const char *name);

/* Checks and normalises the attributes of a registry-typed module: every
 * attribute known and of the right type, pairs expanded, defaults filled,
 * schema order; then builds its parameters (def->params), keeping any
 * existing tensors' storage whose name, shape and dtype still match.
 * 0 or -1 with e naming the attribute. */
int registry_prepare(struct module *m, struct error *e);

/* Helpers for shape rules. */
/* The positional argument `pos`, or the keyword `kw` (either may be -1/NULL),
 * or NULL when absent. */
const struct value *op_arg(const struct op_call *c, int pos, const char *kw);
/* The tensor argument at pos/kw; NULL with c->err set when it is missing or
 * not a tensor. */
const struct value *op_tensor(struct op_call *c, int pos, const char *kw);
/* Sets c->out to a tensor of shape s and dtype dt. Its origin is the input's
 * (`keep_origin_from`) when the op preserves the shape, else this call. */
void op_out_tensor(struct op_call *c, enum dtype dt, const struct shape *s,
		   const struct value *keep_origin_from);
/* Reports a break: "PATH: DESC gets GOT from ORIGIN", where DESC is the
 * module with the attribute that disagrees ("BatchNorm2d(num_features=128)")
 * and ORIGIN names where `from` was made ("layer2.0.conv1 (out_channels=64)").
 * Returns -1. */
int op_break(struct op_call *c, const struct value *from, const char *desc, const char *got_fmt,
	     ...) __attribute__((format(printf, 4, 5)));
/* Reports a malformed call (wrong argument kinds/counts). Returns -1. */
int op_fail(struct op_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Describes where a tensor value came from, as op_break does. */
void origin_describe(const struct value *v, char *buf, size_t size);

#endif
