/* init.h - PyTorch's default initialisation, number for number.
 *
 * graft's generator is PyTorch's CPU generator (mt19937 seeded like
 * torch.manual_seed), and each type draws its values in the order and with
 * the transformation its PyTorch constructor uses, so a module built after
 * `seed N` has the same values as one built after torch.manual_seed(N). */
#ifndef GRAFT_INIT_H
#define GRAFT_INIT_H

#include <stdint.h>

#include "error.h"
#include "module.h"

#define RNG_STATE_WORDS 624

struct rng {
	uint32_t state[RNG_STATE_WORDS];
	int index;
};

/* Seeds like torch.manual_seed(seed). */
void rng_seed(struct rng *r, uint64_t seed);
/* The next 32-bit draw (PyTorch's CPUGeneratorImpl::random()). */
uint32_t rng_next(struct rng *r);
/* Fills n floats like torch.Tensor.uniform_(from, to) on a float32 tensor. */
void rng_uniform_f32(struct rng *r, float *out, int64_t n, double from, double to);

/* Gives every parameter and buffer in m's subtree fresh float32 (int64 for
 * counters) storage initialised as PyTorch's constructors do, children in
 * construction order. Registry types use their own rule; a composite's own
 * tensors are zeros. 0, or -1 with e set. */
int init_module(struct module *m, struct rng *r, struct error *e);

#endif
