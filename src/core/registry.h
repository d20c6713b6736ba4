/* registry.h - what graft knows about each module type and function.
 *
 * One `struct op_def` per PyTorch module type (Conv2d, BatchNorm2d, ...) and
 * per function a forward graph may call (add, cat, flatten, getitem, ...).
 * Adding a type is adding an entry: loading, the shape pass, the outline and
 * the summary all learn it from here. Entries live in one file per family
 * (registry_conv.c, registry_act.c, ...) and are collected by registry.c. */
#ifndef GRAFT_REGISTRY_H
#define GRAFT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/module.h"
#include "core/value.h"

struct rng;

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
	AT_ANY           /* anything; the type's check() validates it */
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
	const char *path;            /* for messages, or NULL: see op_path */
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
	 * and c->macs (both zero on entry). 0, or -1 with c->err set (kind
	 * ERR_SHAPE for a break, ERR_INPUT for a malformed call). */
	int (*infer)(struct op_call *c);
	/* Module types: key hyper-parameters for the outline, "64→128 k3 s2 p1". */
	void (*describe)(const struct module *m, char *buf, size_t size);
	/* Module types: checks what the attribute types cannot (in_channels
	 * divisible by groups, a stride that is an int pair or None) and fills
	 * derived values (a pool's stride=None becomes its kernel_size). Runs on
	 * normalised attributes, before params. NULL: nothing to check. 0 or -1
	 * with e set. */
	int (*check)(struct module *m, struct error *e);
	/* Module types: the attribute that must equal the size of the input
	 * dimension `in_size_dim` (1: channels, -1: the last dimension), so an
	 * edit can infer it ("in_features" of a Linear from [N, 512]). NULL:
	 * nothing to infer. LayerNorm's normalized_shape takes a list. */
	const char *in_size_attr;
	int in_size_dim;
	/* Module types: gives every parameter and buffer fresh storage (float32,
	 * int64 for counters) initialised as the PyTorch constructor does, with
	 * the same draws from r in the same order (init.h has the helpers).
	 * Runs on a prepared module. NULL: the type has no tensors. 0, or -1
	 * with e set. */
	int (*init)(struct module *m, struct rng *r, struct error *e);
	/* Functions: the Python callable export-py writes for a call
	 * ("F.silu", "torch.sigmoid"); NULL when export-py's own table says.
	 * Module types: the class export-py constructs when it is not
	 * nn.NAME ("torchvision.ops.RoIAlign"). */
	const char *py;
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
 * schema order; then runs def->check and builds its parameters
 * (def->params), keeping any existing tensors' storage whose name, shape and
 * dtype still match, and the frozen state of parameters that keep their
 * name. Sets m->def to the entry of m->type. 0, or -1 with e naming the
 * attribute ("Conv2d has no attribute 'kernal_size' (did you mean
 * 'kernel_size'?)") and m unchanged. */
int registry_prepare(struct module *m, struct error *e);

/* Writes the module's type and key hyper-parameters ("Conv2d 3→64 k7 s2
 * p3"), or just its type for composites. */
void registry_describe(const struct module *m, char *buf, size_t size);

/* Helpers for shape rules. Every helper that fails sets c->err and returns
 * -1 (or NULL); messages start with c->path. */
/* The positional argument `pos`, or the keyword `kw` (either may be -1/NULL),
 * or NULL when absent. */
const struct value *op_arg(const struct op_call *c, int pos, const char *kw);
/* The tensor argument at pos/kw; NULL with c->err set when it is missing or
 * not a tensor. */
const struct value *op_tensor(struct op_call *c, int pos, const char *kw);
/* Sets c->out to a tensor of shape s and dtype dt (freeing what c->out held),
 * without bounds: a rule whose output size depends on the data marks its
 * bounds after (c->out.u.tensor.t.shape.bounded |= 1u << d; bounds.h).
 * Its origin is the input's (`keep_origin_from`, may be NULL) when the op
 * keeps the input's sizes: the same shape, or the same sizes reordered or
 * with dimensions of size 1 added or dropped (permute, flatten after a global
 * pool), so a later break still names the module that fixed them. Otherwise,
 * and always for a module type with a size_attr, it is this call:
 * {c->module, NULL} for a module, {c->owner, c->node} for a function. */
void op_out_tensor(struct op_call *c, enum dtype dt, const struct shape *s,
		   const struct value *keep_origin_from);
/* Reports a break: "PATH: DESC gets GOT from ORIGIN", where DESC is the
 * module with the attribute that disagrees ("BatchNorm2d(num_features=128)")
 * and ORIGIN names where `from` was made ("layer2.0.conv1 (out_channels=64)").
 * Returns -1. */
int op_break(struct op_call *c, const struct value *from, const char *desc, const char *got_fmt,
	     ...) __attribute__((format(printf, 4, 5)));
/* The call's name for messages ("layer2.0.bn1", "layer1.0:add"), built
 * into buf only when c->path is NULL. */
const char *op_path(const struct op_call *c, char *buf, size_t size);
/* Reports a malformed call (wrong argument kinds/counts), kind ERR_INPUT:
 * "PATH: message". Returns -1. */
int op_fail(struct op_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a shape break that is not one attribute's fault, kind ERR_SHAPE:
 * "PATH: message" ("layer1.0:add: cannot broadcast ..."). Returns -1. */
int op_mismatch(struct op_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Describes where a tensor value came from, as op_break does:
 * "layer2.0.conv1 (out_channels=64)" for a module type with a size_attr,
 * "layer1" for another module, "flatten (in layer1.0)" or "flatten" (at the
 * root) for a function node, "the model input" when nothing made it. */
void origin_describe(const struct value *v, char *buf, size_t size);

/* The optional int argument at pos/kw: *out gets it, or def when absent or
 * None. -1 (op_fail) when it is present and not an int. */
int op_int(struct op_call *c, int pos, const char *kw, int64_t def, int64_t *out);
/* Reads ints from an argument that is one int, a tuple of ints, or (when
 * `varargs` is true and the argument at pos is an int) the positional ints
 * from pos on: x.view(1, -1), x.view((1, -1)), x.permute(0, 2, 1). Returns
 * the count (at most max), or -1 (op_fail). */
int op_int_list(struct op_call *c, int pos, const char *kw, bool varargs, int64_t *out, int max);
/* Wraps a possibly negative dim for a tensor of rank ndim (ndim 0 counts
 * as 1, as in PyTorch). -1 with a break when out of range. */
int op_dim(struct op_call *c, int64_t dim, int ndim, int *out);
/* Size of one output dimension of a convolution or pooling window:
 * floor((in + pad_l + pad_r - d*(k-1) - 1) / s) + 1; with ceil_mode it rounds
 * up, but the last window must start inside the input or the left padding
 * (PyTorch's rule). Returns the size, which is < 1 when the window does not
 * fit, or INT64_MIN on overflow or a non-positive k, s or d. */
int64_t op_window_out(int64_t in, int64_t k, int64_t s, int64_t pad_l, int64_t pad_r, int64_t d,
		      bool ceil_mode);

/* Shape rules shared by module types and the functions of the same name
 * (registry_conv.c, registry_pool.c). Breaks name the caller by c->def and
 * its hyper-parameters: "MaxPool2d(kernel_size=(3, 3), stride=(2, 2)) gets a
 * 2x2 input ...". Each sets c->out. */
/* The spatial dims of a convolution or pool type or function from the
 * digit in its name ("Conv3d", "max_pool1d"), 2 when it has none (Fold). */
int op_spatial_dims(const char *name);
/* A pool's window over nd spatial dims (1 to 3). */
struct pool_geom {
	int nd;
	int64_t k[3], s[3], p[3], d[3];
	bool ceil_mode;
};
/* A pool's window over the last g->nd dims of an (nd+1)-D or (nd+2)-D x;
 * with return_indices the output is (values, int64 indices). */
int op_pool(struct op_call *c, const struct value *x, const struct pool_geom *g,
	    bool return_indices);
/* size[i] < 0 keeps that input dimension (output_size=(None, 7)). */
int op_adaptive_pool(struct op_call *c, const struct value *x, int nd, const int64_t *size,
		     bool return_indices);
/* A convolution's geometry: nd spatial dims (1 to 3), channels, kernel,
 * stride, dilation, groups; `pad` is the padding as given (nd ints, or
 * 'same'/'valid'); a transposed one also has p (its padding as ints) and
 * output_padding. */
struct conv_geom {
	int nd;
	bool transposed;
	int64_t in, out, groups;
	int64_t k[3], s[3], d[3], p[3], output_padding[3];
	const struct value *pad;
};
/* Convolution (or transposed convolution) over an (nd+1)-D or (nd+2)-D x
 * with g->in channels; MACs out_numel * in/groups * prod(k)
 * (in_numel * out/groups * prod(k) transposed). A module call names its
 * in_channels or kernel_size in a break, a function call its weight
 * (argument 1). */
int op_conv(struct op_call *c, const struct value *x, const struct conv_geom *g);
/* movedim(x, source, destination) as a permutation of ndim dims:
 * output dim i is input dim perm[i]. 0, or -1 (op_fail). */
int op_movedim_perm(struct op_call *c, int ndim, int *perm);
/* The numbers of an arange call, (end), (start, end) or (start, end,
 * step), positional or by keyword; NULL for those absent. */
void op_arange_args(const struct op_call *c, const struct value **start, const struct value **end,
                    const struct value **step);
/* The length of arange(start, end, step) (start 0 and step 1 when NULL).
 * -1 when they are not numbers or step is 0. */
int op_arange_count(const struct value *start, const struct value *end, const struct value *step,
                    int64_t *count);
/* PyTorch's softmax dim for dim=None: 0 for rank 0, 1 and 3, else 1. */
int op_softmax_default_dim(int ndim);

#endif
