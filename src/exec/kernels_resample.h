/* kernels_resample.h - resizing as F.interpolate does it, for the kernels
 * that resize as one of their steps (GeneralizedRCNNTransform). */
#ifndef GRAFT_KERNELS_RESAMPLE_H
#define GRAFT_KERNELS_RESAMPLE_H

#include <stddef.h>

#include "core/registry_resample.h"
#include "core/tensor.h"

struct resize_state;

/* The source indices and weights of resizing an input of shape `in` ([N,
 * C, spatial...]) as r says; *scratch_bytes gets the scratch resize_apply
 * needs. Freed with free(). */
struct resize_state *resize_state_new(const struct resize *r, const struct shape *in,
                                      size_t *scratch_bytes);
/* Resizes src (the input's shape) into dst (the output's). */
void resize_apply(const struct resize_state *st, const float *src, float *dst, float *scratch);

#endif
