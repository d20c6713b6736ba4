/* diff.h - what differs between two models: modules added, removed and
 * changed (matched by path), tensors identical or changed (matched by their
 * state_dict key, with the largest difference of their values), changed
 * inputs and the parameter totals. diff_write.h writes it as text or JSON. */
#ifndef GRAFT_DIFF_H
#define GRAFT_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model.h"

enum diff_change {
	DIFF_ADDED,   /* only in b */
	DIFF_REMOVED, /* only in a */
	DIFF_TYPE,    /* another type at the same path (its subtree is not compared) */
	DIFF_ATTRS,   /* same type, other attributes */
	DIFF_NCHANGES
};

struct diff_module {
	enum diff_change change;
	char *path;
	const struct module *a, *b; /* a is NULL when added, b when removed */
};

enum diff_tensor_state {
	DIFF_T_SAME,       /* same shape, dtype and values */
	DIFF_T_VALUES,     /* same shape; other values or another dtype */
	DIFF_T_SHAPE,      /* another shape */
	DIFF_T_UNCOMPARED, /* same shape and dtype, but a side has no values */
	DIFF_T_ONLY_A,
	DIFF_T_ONLY_B,
	DIFF_T_NSTATES
};

struct diff_tensor {
	char *key; /* the state_dict key */
	enum diff_tensor_state state;
	const struct param *a, *b; /* NULL on the side that lacks it */
	double max_abs;            /* DIFF_T_VALUES: the largest |a - b| (inf when
	                              only one of them is NaN) */
	int64_t nchanged;          /* DIFF_T_VALUES: elements that differ */
	bool module_changed;       /* its module is added, removed or of another type */
};

/* A changed input: another shape, or present on one side only. */
struct diff_input {
	const char *name;
	const struct shape *a, *b; /* NULL on the side that lacks it */
};

struct model_diff {
	const struct model *a, *b;
	/* Added, type and attribute changes in b's order, then removals in a's. */
	struct diff_module *modules;
	int nmodules;
	int nchanges[DIFF_NCHANGES];
	/* Every tensor of a in its order, then those only in b. */
	struct diff_tensor *tensors;
	int ntensors;
	int nstates[DIFF_T_NSTATES];
	struct diff_input *inputs;
	int ninputs;
	struct param_counts counts_a, counts_b;
};

/* Compares a (the old model) with b (the new) into *d; the models must
 * outlive it. Free with model_diff_free. */
void model_diff(const struct model *a, const struct model *b, struct model_diff *d);
/* Only the parameter totals and the changed inputs of that comparison
 * (no module or tensor is compared): what diff_totals writes. */
void model_diff_totals(const struct model *a, const struct model *b, struct model_diff *d);
void model_diff_free(struct model_diff *d);
/* True when no module, tensor or input differs (tensors without values on
 * one side count as equal). */
bool model_diff_same(const struct model_diff *d);

#endif
