/* exec.h - the numeric forward pass: runs a model on real tensors.
 *
 * exec_plan_new walks the model's forward with the shape pass's own walker
 * (shape_walk, shape.h), the registry's shape rules computing every shape and
 * every plain value (ints, tuples), and records each call that makes a tensor
 * as one operation for its kernel (kernels.h). It then decides, once:
 *
 *   - fusions: a BatchNorm2d right after a convolution becomes a
 *     per-channel scale and shift in the convolution's output pass, and an
 *     activation whose input has no other reader is applied by the kernel
 *     that made the input (conv, linear, batch norm, add);
 *   - constants: operations on weights alone (Swin's relative position
 *     bias, MaxViT's bias table lookup) run once, now;
 *   - memory: every activation gets a place in one arena, from liveness: a
 *     tensor's bytes are reused once its last reader has run, elementwise
 *     operations write over an input that dies with them, and views
 *     (reshape, flatten, Identity, Dropout) share their input's bytes.
 *
 * exec_run then only calls kernels: no allocation, no graph walking.
 * Floating weights in float16 or bfloat16 are converted to float32 once, in
 * the plan; the model's own tensors are never written. The model must
 * outlive its plans. */
#ifndef GRAFT_EXEC_H
#define GRAFT_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/model.h"
#include "core/value.h"

struct exec_stat;

struct exec_opts {
	/* Keep every module's output for exec_stats (turns fusion and
	 * constant folding off, so each module's own output exists). */
	bool stats;
	/* Turn fusions off (BatchNorm folding, fused activations). */
	bool no_fuse;
	/* Time every kernel call (exec_profile). */
	bool profile;
	/* With stats: called by exec_run for each float32 tensor a module call
	 * returns, as soon as it is made, with its statistics and values
	 * (valid during the call only: the plan reuses the bytes). */
	void (*on_output)(void *ctx, const struct exec_stat *st, const float *x);
	void *on_output_ctx;
};

struct exec_plan;

/* Builds a plan to run `m` on inputs of the given shapes (NULL: the
 * model's declared input shapes; otherwise m->ninputs shapes). Every tensor
 * of the model must have storage (see exec_init_model). NULL with e set
 * (ERR_SHAPE when the shapes do not check, ERR_INPUT when the model has no
 * forward, lacks weights or uses an op graft cannot compute). */
struct exec_plan *exec_plan_new(struct model *m, const struct shape *input_shapes,
                                const struct exec_opts *opts, struct error *e);
void exec_plan_free(struct exec_plan *p);

/* Runs one forward (a plan runs one forward at a time). `inputs` are the
 * model's inputs, of the planned shapes: a floating input takes float32,
 * float16, bfloat16 or float64 (converted), an integer or bool input its
 * declared dtype (a message naming the input otherwise). *out gets the
 * model's output value: a tensor, or a tuple of them (with any plain values
 * the forward returns), each float32 with its own storage; free it with
 * value_free. 0, or -1 with e set. */
int exec_run(struct exec_plan *p, const struct tensor *inputs, int ninputs, struct value *out,
             struct error *e);

/* The planned input shapes. */
const struct shape *exec_input_shape(const struct exec_plan *p, int i);

/* What the plan holds. */
struct exec_info {
	int ops;                /* kernel calls per forward */
	int fused_bn;           /* BatchNorms folded into convolutions */
	int fused_act;          /* activations fused into their producer */
	int inplace;            /* operations writing over a dying input */
	int constant;           /* operations run once at planning */
	size_t arena_bytes;     /* activations, inputs included */
	size_t weight_bytes;    /* float32 copies made of the weights */
	size_t scratch_bytes;   /* kernel scratch (im2col, attention) */
	size_t peak_live_bytes; /* most activation bytes alive at once */
};
void exec_info(const struct exec_plan *p, struct exec_info *out);

/* Statistics of one module call's output (plans made with opts.stats).
 * A module that returns a tuple has one entry per tensor in it. */
struct exec_stat {
	const struct module *module;
	int call;   /* which call of the module, from 0 */
	int output; /* which tensor of the returned value, from 0 */
	struct shape shape;
	int64_t count, nan, inf;    /* elements, NaNs and infinities */
	double mean, std, min, max; /* over the finite elements; std is the
	                               population standard deviation */
};

/* The statistics of the last exec_run, in the order module calls ended
 * (children before parents); *n gets the count. NULL before a run or for
 * a plan without opts.stats. */
const struct exec_stat *exec_stats(const struct exec_plan *p, int *n);
/* The entries of one call of a module (one per tensor it returned), or
 * NULL when the module made no such call; *n gets their count. */
const struct exec_stat *exec_module_stats(const struct exec_plan *p, const struct module *m,
                                          int call, int *n);

/* Where the time of the runs so far went (plans made with opts.profile):
 * one entry per kernel call of a forward, in order. */
struct exec_prof {
	const char *op;             /* the kernel: "Conv2d", "add" */
	const struct op_call *call; /* its module or graph node, for naming */
	double ms;                  /* total over the runs */
	int runs;
};
const struct exec_prof *exec_profile(const struct exec_plan *p, int *n);

/* Statistics of n floats (used for the outputs too). */
void exec_stat_compute(const float *x, int64_t n, struct exec_stat *st);

/* Threads for BLAS and graft's kernels; n <= 0: the default (all cores).
 * Process-wide. */
void exec_set_threads(int n);

/* For a model without weights: a clone whose every tensor is initialised
 * as PyTorch's constructors do after torch.manual_seed(seed) (init.h).
 * NULL with e set. The caller frees it with model_free. */
struct model *exec_init_model(const struct model *m, uint64_t seed, struct error *e);

/* Fills n floats like torch.randn after torch.manual_seed(seed). */
void exec_randn(float *out, int64_t n, uint64_t seed);

/* A random value for input i of m, of shape s, in fresh storage drawn
 * from seed: a floating input float32 from exec_randn; an integer input
 * (token ids) uniform in [0, N), N the smallest num_embeddings among the
 * model's modules (2 when it has none), so that every id is in range; a
 * bool input True or False. 0, or -1 with e set (memory). */
int exec_random_input(const struct model *m, int i, const struct shape *s, uint64_t seed,
                      struct tensor *out, struct error *e);

#endif
