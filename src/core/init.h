/* init.h - PyTorch's default initialisation, number for number.
 *
 * graft's generator is PyTorch's CPU generator (mt19937 seeded like
 * torch.manual_seed), and each type draws its values in the order and with
 * the transformation its PyTorch constructor uses, so a module built after
 * `seed N` has the same values as one built after torch.manual_seed(N):
 * bit for bit, as PyTorch 1.13 computes them with its AVX2 kernels (see
 * init.c for the one place where other CPUs may differ). */
#ifndef GRAFT_INIT_H
#define GRAFT_INIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/module.h"

#define RNG_STATE_WORDS 624

struct rng {
	uint32_t state[RNG_STATE_WORDS];
	int index; /* next word of state; RNG_STATE_WORDS: twist first */
	/* The second value of the last Box-Muller pair of the double-precision
	 * normal (PyTorch's next_double_normal_sample), until it is used or the
	 * generator is seeded. */
	bool has_normal;
	double next_normal;
};

/* Seeds like torch.manual_seed(seed): only the low 32 bits reach the
 * state, as in PyTorch. */
void rng_seed(struct rng *r, uint64_t seed);
/* The next 32-bit draw (PyTorch's CPUGeneratorImpl::random()). */
uint32_t rng_next(struct rng *r);
/* Fills n floats like torch.Tensor.uniform_(from, to) on a float32 tensor:
 * one draw per element, in order. */
void rng_uniform_f32(struct rng *r, float *out, int64_t n, double from, double to);
/* Fills n floats like torch.Tensor.normal_(mean, std) on a contiguous
 * float32 tensor of n elements (the route, and so the draws, depend on n). */
void rng_normal_f32(struct rng *r, float *out, int64_t n, double mean, double std);

/* Gives every parameter and buffer in m's subtree fresh storage initialised
 * as PyTorch's constructors do, walking m then its children in order (the
 * order PyTorch constructs them in: a Sequential's children are built before
 * it, first to last). A registry type uses its def->init (a type without
 * one has no tensors to draw). Tensors no rule covers, among them a
 * composite's own parameters and buffers, become zeros. Floating tensors
 * become float32 (PyTorch's default dtype), integer and bool tensors
 * (BatchNorm's num_batches_tracked) keep their dtype. Trainable flags are
 * kept. 0, or -1 with e set (ERR_INTERNAL: a registry module whose tensors
 * were not built); the tensors initialised before the failure keep their new
 * values. */
int init_module(struct module *m, struct rng *r, struct error *e);

/* torch.nn.init for the registry's init hooks (op_def.init). Each gives p
 * fresh float32 storage of its shape, drops what it held and fills it; the
 * ones that take e fail (ERR_INTERNAL) only for a tensor of fewer than two
 * dimensions. Bounds are computed in double exactly as torch/nn/init.py
 * does, then rounded to float by the fill. */

/* The float32 data of p, which init_module's zero pass gave its own
 * storage (so a rule allocates nothing); *n gets its element count. */
float *init_data_f32(struct param *p, int64_t *n);
/* constant_(p, v); ones and zeros too. Draws nothing. */
void init_constant(struct param *p, double v);
/* uniform_(p, from, to). */
void init_uniform(struct param *p, struct rng *r, double from, double to);
/* _calculate_fan_in_and_fan_out: size(1) and size(0) times the product of
 * the remaining sizes. */
int init_fans(const struct param *p, int64_t *fan_in, int64_t *fan_out, struct error *e);
/* kaiming_uniform_(p, a, mode='fan_in', nonlinearity='leaky_relu'). */
int init_kaiming_uniform(struct param *p, struct rng *r, double a, struct error *e);
/* xavier_uniform_(p, gain) and xavier_normal_(p, gain). */
int init_xavier_uniform(struct param *p, struct rng *r, double gain, struct error *e);
int init_xavier_normal(struct param *p, struct rng *r, double gain, struct error *e);
/* nn.Linear's and nn.Conv2d's reset_parameters: kaiming_uniform_(weight,
 * a=sqrt(5)), then, when bias is not NULL, uniform_(bias, -1/sqrt(fan_in),
 * 1/sqrt(fan_in)) (zeros when fan_in is 0, which PyTorch leaves
 * uninitialised). */
int init_linear_reset(struct param *weight, struct param *bias, struct rng *r, struct error *e);
/* m's own tensor `name`, or NULL with e set (ERR_INTERNAL) when m has none. */
struct param *init_param(struct module *m, const char *name, struct error *e);

#endif
