/* kernels_resample.h - resizing as F.interpolate does it, for the kernels
 * that resize as one of their steps (GeneralizedRCNNTransform,
 * paste_masks_in_image, keypointrcnn_inference). */
#ifndef GRAFT_KERNELS_RESAMPLE_H
#define GRAFT_KERNELS_RESAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/registry_resample.h"
#include "core/tensor.h"

struct resize_state;

/* Linear interpolation of output index o of a dimension resized from in
 * to out (in != out): (1 - l1) * x[i0] + l1 * x[i1]. scale as struct
 * resize has it (0: in / out). */
struct linear_tap {
	int64_t i0, i1;
	float l1;
};
struct linear_tap resize_linear_tap(int64_t in, int64_t out, int64_t o, bool align, double scale);
/* The same for bicubic interpolation (A = -0.75): sum of w[j] * x[i[j]],
 * the indices clamped to the edges. */
struct cubic_tap {
	int64_t i[4];
	float w[4];
};
struct cubic_tap resize_cubic_tap(int64_t in, int64_t out, int64_t o, bool align, double scale);

/* The source indices and weights of resizing an input of shape `in` ([N,
 * C, spatial...]) as r says; *scratch_bytes gets the scratch resize_apply
 * needs. Freed with free(). */
struct resize_state *resize_state_new(const struct resize *r, const struct shape *in,
                                      size_t *scratch_bytes);
/* Resizes src (the input's shape) into dst (the output's). */
void resize_apply(const struct resize_state *st, const float *src, float *dst, float *scratch);

#endif
