/* registry_detection.h - the geometry torchvision's detection models fix
 * from their attributes and the input sizes, shared by the shape rules
 * (registry_detection.c) and the kernels (kernels_detection.c). */
#ifndef GRAFT_REGISTRY_DETECTION_H
#define GRAFT_REGISTRY_DETECTION_H

#include <stdint.h>

#include "core/module.h"

/* The image size a GeneralizedRCNNTransform resizes an h x w image to
 * (torchvision's _resize_image_and_masks: the scale min(min_size / short
 * side, max_size / long side) in float32, each division a reciprocal times
 * a size as Tensor.__rtruediv__ computes it, the size floored as
 * F.interpolate with recompute_scale_factor=True floors it; fixed_size
 * (w, h) when set), and the batch size padded up to size_divisible. */
struct rcnn_sizes {
	int64_t h, w;
	int64_t padded_h, padded_w;
};
/* Fills *out for module m. -1 when a size would be < 1. */
int rcnn_transform_sizes(const struct module *m, int64_t h, int64_t w, struct rcnn_sizes *out);

/* The number of feature levels of an AnchorGenerator (len(sizes)). */
int anchor_levels(const struct module *m);
/* The anchors of one cell of level l: len(sizes[l]) * len(aspect_ratios[l]). */
int64_t anchor_cell_count(const struct module *m, int level);

struct op_call;
/* The shape rule of an anchor generator called with (images [N, C, H, W],
 * a tuple of `levels` feature maps [N, C_l, H_l, W_l]): anchors
 * [sum_l H_l W_l cell_count(module, l), 4], the same for every image.
 * 0, or -1 with c->err set. */
int anchors_infer(struct op_call *c, int levels,
                  int64_t (*cell_count)(const struct module *m, int level));

#endif
