/* registry_impl.h - for the registry's own files: the shape-rule helpers
 * the family files share (registry.c), the function-entry macro and the
 * family tables registry.c collects.
 *
 * Each family file (registry_conv.c, registry_act.c, ...) holds the module
 * types and functions of one family, matching the kernel files, and ends
 * with its table. Every entry follows PyTorch exactly: a module type's
 * attributes are its constructor's keywords with their defaults, its
 * parameters the state_dict's (parameters first, then buffers, in
 * registration order) with their shapes and dtypes; a function is named as
 * the Python callable without its module (operator.add, torch.add and
 * Tensor.add are all `add`; a call_method node passes the tensor first).
 * Shape rules accept what PyTorch accepts: broadcasting, negative dims, -1
 * in view/reshape, basic indexing; values may be tensors (dtype and shape
 * only), ints, floats, bools, tuples, slices, None and Ellipsis.
 *
 * Result dtypes: the first tensor operand's, except that a floating operand
 * wins over an integer one, true division gives float32 for integers and
 * comparisons give bool.
 *
 * Mult-adds (MACs) count the multiply-accumulates of the products that
 * dominate the cost, per call, batch included:
 *   Conv2d, conv2d      out_numel * in_channels/groups * kh * kw
 *   Linear, linear      out_numel * in_features
 *   matmul, bmm, einsum their products
 *   MultiheadAttention  its q, k, v and out projections, plus QK^T and
 *                       attention x V: 2 * N * L * S * embed_dim
 * Bias additions, normalisation, activations, pooling, dropout and layout
 * changes count 0. */
#ifndef GRAFT_REGISTRY_IMPL_H
#define GRAFT_REGISTRY_IMPL_H

#include "core/registry.h"

/* Defines the entry fn_def_ID of the function ID with shape rule FN and
 * one-line doc D. */
#define REGISTRY_FUNCTION(id, fn, d)                                                               \
	static const struct op_def fn_def_##id = {                                                 \
	    .name = #id,                                                                           \
	    .kind = OP_FUNCTION,                                                                   \
	    .doc = d,                                                                              \
	    .infer = fn,                                                                           \
	}

/* The same, for a function export-py writes as the Python callable PY
 * ("F.interpolate"). */
#define REGISTRY_FUNCTION_PY(id, fn, d, py_)                                                       \
	static const struct op_def fn_def_##id = {                                                 \
	    .name = #id,                                                                           \
	    .kind = OP_FUNCTION,                                                                   \
	    .doc = d,                                                                              \
	    .infer = fn,                                                                           \
	    .py = py_,                                                                             \
	}

/* The family tables, each NULL-terminated, module types and functions
 * mixed; registry.c lists them in this order. */
extern const struct op_def *const registry_conv_defs[];
extern const struct op_def *const registry_linear_defs[];
extern const struct op_def *const registry_norm_defs[];
extern const struct op_def *const registry_act_defs[];
extern const struct op_def *const registry_pool_defs[];
extern const struct op_def *const registry_layout_defs[];
extern const struct op_def *const registry_attention_defs[];
extern const struct op_def *const registry_math_defs[];
extern const struct op_def *const registry_index_defs[];
extern const struct op_def *const registry_rnn_defs[];
extern const struct op_def *const registry_resample_defs[];
extern const struct op_def *const registry_embed_defs[];
extern const struct op_def *const registry_elementwise_defs[];
extern const struct op_def *const registry_reduce_defs[];
extern const struct op_def *const registry_create_defs[];
extern const struct op_def *const registry_rearrange_defs[];
extern const struct op_def *const registry_distance_defs[];
extern const struct op_def *const registry_boxes_defs[];
extern const struct op_def *const registry_select_defs[];
extern const struct op_def *const registry_detection_defs[];
extern const struct op_def *const registry_onestage_defs[];

/* ---- helpers shared by the family files (registry.c) ---- */

/* Appends printf-style text to buf (always terminated). */
void op_append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "3" for a square pair, "1x7" otherwise; op_sizes_text for n sizes
 * ("3", "1x3x3"). */
const char *op_pair_text(const int64_t p[2], char *buf, size_t size);
const char *op_sizes_text(const int64_t *v, int n, char *buf, size_t size);
/* n ints as Python prints a tuple: "(3, 3)", "(3,)". */
const char *op_tuple_text(const int64_t *v, int n, char *buf, size_t size);
/* a * b for sizes: 0 when either is negative, INT64_MAX on overflow. */
int64_t op_mul_sat(int64_t a, int64_t b);
/* numel of s, or -1 with a break when it is too large. */
int64_t op_checked_numel(struct op_call *c, const struct shape *s);
/* The shape and dtype of a tensor value. */
const struct shape *op_shape(const struct value *v);
enum dtype op_dtype(const struct value *v);
/* Attribute checks for def->check: the int (or both ints of the pair) is
 * positive, the float is in [0, 1]. 0, or -1 with e naming the attribute. */
int op_check_positive(const struct module *m, const char *name, struct error *e);
int op_check_positive_pair(const struct module *m, const char *name, struct error *e);
/* The same for the n ints (n <= 3) of a list attribute. */
int op_check_positive_ints(const struct module *m, const char *name, int n, struct error *e);
/* Makes a list attribute n ints (n <= 3): an int or a one-item list
 * repeats, as PyTorch's _ntuple does. 0, or -1 with e naming it. */
int op_expand_ints(struct module *m, const char *name, int n, struct error *e);
int op_check_probability(const struct module *m, const char *name, struct error *e);
/* Adds a float32 parameter (or buffer) of the given dims to m. */
void op_add_param(struct module *m, const char *name, int ndim, const int64_t *dims, bool buffer);
/* The input tensor ("input", argument 0), checked to have a rank in [lo,
 * hi]; NULL with a break naming c->def and `what` ("3-D or 4-D")
 * otherwise. */
const struct value *op_input_rank(struct op_call *c, int lo, int hi, const char *what);
/* The same shape and dtype as the input, its origin kept. */
int op_same_as_input(struct op_call *c);
/* v is a tensor (v may be NULL); t is a floating dtype. */
bool op_is_tensor(const struct value *v);
bool op_is_float_dtype(enum dtype t);
/* Sets c->out to a tensor like x (same dtype) with shape s, checking its
 * size. */
int op_out_like(struct op_call *c, const struct value *x, const struct shape *s);
/* Sets c->out to v (taking it), freeing what c->out held. */
void op_set_out(struct op_call *c, struct value v);
/* The name of the called entry, for messages. */
const char *op_fn_name(const struct op_call *c);
/* The first argument as a tensor ("input" or "self"). */
const struct value *op_self_tensor(struct op_call *c);
/* Broadcasts a and b (PyTorch/NumPy rules) into out. -1 when they do not. */
int op_broadcast(const struct shape *a, const struct shape *b, struct shape *out);
/* Reports that a and b cannot be combined ("cannot VERB [2, 3] and [4]").
 * Returns -1. */
int op_broadcast_fail(struct op_call *c, const char *verb, const struct value *a,
                      const struct value *b);
/* A list of tensors from the argument at pos (a tuple) or from the
 * positional arguments from pos on. Returns the count or -1. */
int op_tensor_list(struct op_call *c, int pos, const char *kw, const struct value ***out);
/* Same shape and dtype as the input (activations, contiguous, ...). */
int op_same(struct op_call *c);
/* A tensor argument that may be absent or None; -1 when it is something
 * else. */
int op_optional_tensor(struct op_call *c, int pos, const char *kw, const struct value **out);
/* An int or bool value as an int. */
int64_t op_as_int(const struct value *v);
/* An int or a pair of ints (a one-item tuple repeats) from the argument at
 * pos/kw into p; def when absent, None or an empty tuple. -1 (op_fail) when
 * it is required and absent, or not an int pair. */
int op_pair_arg(struct op_call *c, int pos, const char *kw, const int64_t *def, int64_t p[2]);
/* The same for n ints (an int or a one-item tuple repeats n times). */
int op_tuple_arg(struct op_call *c, int pos, const char *kw, int n, const int64_t *def,
                 int64_t *p);
/* The shape of x reduced over `dims` (an int, a tuple, or NULL/None/()
 * for all), dims kept as 1 with keep. 0, or -1 (op_fail, a break for a
 * dim out of range). */
int op_reduced_shape(struct op_call *c, const struct value *x, const struct value *dims, bool keep,
                     struct shape *out);

#endif
