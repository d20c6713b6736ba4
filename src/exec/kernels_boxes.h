/* kernels_boxes.h - box arithmetic as torchvision.ops computes it, for the
 * box kernels (kernels_boxes.c) and the detection kernels built on them.
 *
 * A box is 4 floats (x1, y1, x2, y2); n boxes are n*4 floats. Every
 * function computes in float32 in torchvision's order of operations, so
 * the results are PyTorch's to the bit (exp aside). */
#ifndef GRAFT_KERNELS_BOXES_H
#define GRAFT_KERNELS_BOXES_H

#include <stddef.h>
#include <stdint.h>

/* Intersection over union of boxes a and b, as box_iou: 0/0 (two empty
 * boxes) is NaN. */
float kboxes_iou(const float *a, const float *b);

/* Scratch bytes kboxes_nms and kboxes_batched_nms need for n boxes. */
size_t kboxes_nms_scratch(int64_t n);

/* torchvision.ops.nms: visits the boxes by descending score (equal scores
 * by index, a stable sort), keeps each one not suppressed, and suppresses
 * every later box whose IoU with it is above iou_threshold (a zero-area
 * box is never suppressed: its IoU is NaN). Writes the kept indices, in
 * that order, to keep (room for n) and returns their count. `scratch`
 * holds kboxes_nms_scratch(n) bytes, 8-byte aligned. */
int64_t kboxes_nms(const float *boxes, const float *scores, int64_t n, double iou_threshold,
                   int64_t *keep, void *scratch);

/* torchvision.ops.batched_nms: nms within each value of idxs. Up to 1000
 * boxes it offsets each class's boxes by idx * (max coordinate + 1) and
 * runs one nms, as torchvision does on the CPU; above, nms per class and
 * the kept indices sorted by descending score (equal scores by index).
 * Arguments as kboxes_nms. */
int64_t kboxes_batched_nms(const float *boxes, const float *scores, const int64_t *idxs,
                           int64_t n, double iou_threshold, int64_t *keep, void *scratch);

/* det_utils.BoxCoder: weights (wx, wy, ww, wh) and bbox_xform_clip (the
 * largest dw, dh before exp; torchvision's default is log(1000 / 16)). */
struct kboxes_coder {
	float wx, wy, ww, wh;
	float clip;
};

/* BoxCoder.decode_single: for each of n reference boxes, its k codes
 * (rel_codes [n, 4k]: dx, dy, dw, dh each) become k boxes in out [n, 4k]. */
void kboxes_decode(const struct kboxes_coder *bc, const float *rel_codes, const float *boxes,
                   int64_t n, int64_t k, float *out);

#endif
