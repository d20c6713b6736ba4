/* exec_compare.h - one input through two models (say a model as opened and
 * as edited): how far the second's outputs drift from the first's, for the
 * models' outputs and for each module call both make (matched by module
 * path, call and output tensor, when their shapes are equal). Both models
 * run as exec_plan_new plans with statistics (every module's own output,
 * nothing fused), so a model compared with itself drifts by exactly 0. */
#ifndef GRAFT_EXEC_COMPARE_H
#define GRAFT_EXEC_COMPARE_H

#include "exec/exec.h"

struct drift {
	double max_abs; /* the largest |a - b|; infinity where only one is NaN */
	double cosine;  /* of a and b as vectors; 1 when both are zero */
};

/* The drift of b from a, n floats each. */
void drift_compute(const float *a, const float *b, int64_t n, struct drift *d);

struct compare_output {
	struct shape a, b; /* the shapes (ndim -1 when that model has no such output) */
	bool compared;     /* the shapes are equal: drift and top-1 are set */
	struct drift drift;
	int64_t rows;       /* rows of the last dimension */
	int64_t top1_agree; /* rows whose largest value is at the same index */
};

struct compare_module {
	const struct module *a, *b;
	int call, output;
	struct shape shape;
	struct drift drift;
};

struct compare_result {
	struct compare_output *outputs; /* the models' output tensors, in order */
	int noutputs;
	struct compare_module *modules; /* in b's order of module calls ending */
	int nmodules;
	int nunmatched; /* module outputs of b with no output of a at the same
	                   path, call and index with the same shape */
	int nskipped;   /* outputs of a not kept: the memory for them ran out */
};

/* Runs a and b on the same inputs (as exec_run takes them; both models must
 * have weights) and fills *r. 0, or -1 with e set (naming the model) when a
 * model cannot be planned or run. Free r with compare_result_free. */
int exec_compare(struct model *a, struct model *b, const struct tensor *inputs, int ninputs,
                 struct compare_result *r, struct error *e);
void compare_result_free(struct compare_result *r);

#endif
