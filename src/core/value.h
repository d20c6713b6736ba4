/* value.h - the values that flow through graphs and fill attributes.
 *
 * Attributes of modules, arguments of graph nodes and the results of the
 * shape pass are all `struct value`: Python-like scalars, tuples, slices and
 * tensors. In the shape pass a tensor value carries only dtype and shape
 * (and where it came from); the numeric pass adds data. */
#ifndef GRAFT_VALUE_H
#define GRAFT_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

enum value_kind {
	VAL_NONE,
	VAL_BOOL,
	VAL_INT,
	VAL_FLOAT,
	VAL_STR,
	VAL_LIST,     /* a tuple or list; a dict when it has keys */
	VAL_SLICE,    /* start:stop:step, each part optional */
	VAL_ELLIPSIS, /* ... */
	VAL_DTYPE,    /* torch.float32 */
	VAL_REF,      /* in a graph: the value of an earlier node */
	VAL_TENSOR
};

struct module;
struct graph_node;

/* Where a tensor value was made: the module whose call produced it, or the
 * function node (and the module whose graph holds it). Shape-preserving
 * operations pass their input's origin on, so a break can name the module
 * that fixed the mismatching size. */
struct origin {
	const struct module *module; /* the producing module, or the graph owner */
	const struct graph_node *node; /* a function node, or NULL */
};

struct value {
	enum value_kind kind;
	union {
		bool b;
		int64_t i;
		double f;
		char *s;
		struct {
			struct value *items;
			int n;
			char **keys; /* a dict's keys, items[i] under keys[i]; NULL
			              * for a tuple or list */
		} list;
		struct {
			int64_t start, stop, step;
			bool has_start, has_stop, has_step;
		} slice;
		enum dtype dtype;
		int ref; /* node index in the owning graph */
		struct {
			struct tensor t;
			struct origin origin;
		} tensor;
	} u;
};

/* Constructors: plain values, nothing to free except strings and lists. */
struct value value_none(void);
struct value value_bool(bool b);
struct value value_int(int64_t i);
struct value value_float(double f);
struct value value_str(const char *s);           /* copies s */
struct value value_list(int n);                   /* n VAL_NONE items */
/* A dict of n VAL_NONE items whose keys are copies of keys[n]. */
struct value value_dict(int n, const char *const *keys);
/* A list of v's length holding VAL_NONE, a dict with v's keys when v is
 * one: what to fill when mapping over v's items. */
struct value value_list_like(const struct value *v);
struct value value_tensor_meta(enum dtype dt, const struct shape *s, struct origin o);

/* Deep copy (tensor storage is shared, not copied). */
struct value value_copy(const struct value *v);
/* Frees what v owns and sets it to VAL_NONE. */
void value_free(struct value *v);
bool value_equal(const struct value *a, const struct value *b);
/* Bytes of the tensors in v (a tensor, or a tuple holding tensors); tensors
 * of unknown size count 0. */
int64_t value_bytes(const struct value *v);
/* The tensors of v (a tensor, or nested tuples holding them), in order,
 * into out[max]; returns how many were stored. */
int value_tensors(const struct value *v, const struct tensor **out, int max);

/* Calls fn on each tensor of v (a tensor, or nested tuples, lists and
 * dicts holding them), in order, with its key: "" for v itself, the
 * positions and dict keys on the way joined by dots ("0", "1.logits")
 * otherwise. Stops and returns fn's value when it is non-zero. */
int value_each_tensor(const struct value *v,
		      int (*fn)(const char *key, const struct tensor *t, void *ctx), void *ctx);

/* Reads an int, or a list of ints of length n, into out[n]. An int is
 * repeated n times (kernel_size=3 -> [3, 3]). Returns 0 or -1. */
int value_ints(const struct value *v, int64_t *out, int n);
/* True when v is a number (int or float); sets *out. */
bool value_number(const struct value *v, double *out);

/* Parses one value in the Python-literal syntax of graft commands:
 * 1, -2, 0.5, 1e-5, True, False, None, 'text', "text", (1, 2), [1, 2],
 * bare words as strings (tanh). Returns 0 or -1 with e set. `*end` gets the
 * first unparsed character when end is non-NULL; otherwise trailing text is
 * an error. */
int value_parse(const char *text, struct value *out, const char **end, struct error *e);
/* Formats v the way value_parse reads it: 3, (3, 3), True, 'zeros'.
 * Tensors format as their shape: Tensor[1, 64, 56, 56]. */
void value_format(const struct value *v, char *buf, size_t size);

/* Appends v for people: tensors as their shape written by format_shape
 * (shape_format: [1, 64, 56, 56], shape_format_x: 1x64x56x56), tuples in
 * parentheses, other values as value_format writes them. */
struct strbuf;
void value_format_shapes(const struct value *v, shape_format_fn format_shape, struct strbuf *sb);

#endif
