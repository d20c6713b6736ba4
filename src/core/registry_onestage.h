/* registry_onestage.h - SSD's default boxes and the arguments of the
 * one-stage detectors' postprocessing (RetinaNet, FCOS, SSD), read the same
 * way by the shape rules (registry_onestage.c) and the kernels
 * (kernels_onestage.c).
 *
 * DefaultBoxGenerator(aspect_ratios, scales, steps=None, clip=True),
 * called with (images, feature maps),
 * gives the default boxes [sum_k H_k W_k (2 + 2 len(aspect_ratios[k])), 4]
 * (x1, y1, x2, y2 in the images' padded size), the same for every image.
 *
 * Each family's postprocess_detections is one function of graft:
 *   retinanet_postprocess_detections(head_outputs, anchors, image_sizes,
 *       features, score_thresh, nms_thresh, detections_per_img,
 *       topk_candidates, box_weights)
 *   fcos_postprocess_detections(head_outputs, anchors, image_sizes,
 *       features, score_thresh, nms_thresh, detections_per_img,
 *       topk_candidates)
 *   ssd_postprocess_detections(head_outputs, anchors, image_sizes,
 *       score_thresh, nms_thresh, detections_per_img, topk_candidates,
 *       box_weights)
 * head_outputs is the head's dict (cls_logits [N, HWA, C], bbox_regression
 * [N, HWA, 4], FCOS's bbox_ctrness [N, HWA, 1]), anchors one [HWA, 4]
 * tensor for every image (the anchor generator's), image_sizes one (h, w) per image, features the feature
 * maps whose H x W cells (times the anchors per cell) make each level's
 * share of HWA. The result is a list of one dict per image: boxes [≤K, 4],
 * scores [≤K], labels [≤K] (int64). */
#ifndef GRAFT_REGISTRY_ONESTAGE_H
#define GRAFT_REGISTRY_ONESTAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/registry.h"

#define DEFAULT_BOX_MAX_LEVELS 16
#define DEFAULT_BOX_MAX_PAIRS 16

/* The (w, h) pairs of one level of a DefaultBoxGenerator, relative to the
 * image, as float32 (before clipping); writes at most
 * DEFAULT_BOX_MAX_PAIRS into wh[2 * n] and returns n, or -1 when the
 * module's attributes do not define level k. */
int default_box_pairs(const struct module *m, int k, float *wh);
/* The number of levels (len(aspect_ratios)), or -1. */
int default_box_levels(const struct module *m);

enum onestage_family { ONESTAGE_RETINANET, ONESTAGE_FCOS, ONESTAGE_SSD };

#define ONESTAGE_MAX_LEVELS 16

struct onestage_args {
	enum onestage_family family;
	const struct value *cls_logits, *bbox_regression, *bbox_ctrness; /* ctrness: FCOS */
	const struct value *anchors; /* [HWA, 4], the same for every image */
	const struct value *image_sizes;
	int64_t images, anchors_total, classes;
	/* Per level (one level for SSD): how many of the HWA anchors it holds. */
	int levels;
	int64_t level_anchors[ONESTAGE_MAX_LEVELS];
	double score_thresh, nms_thresh;
	int64_t detections_per_img, topk_candidates;
	double box_weights[4];
};

/* Reads and checks c's arguments for FAMILY into *a. 0, or -1 with c->err
 * set (op_fail for a malformed call, a break for shapes that disagree). */
int onestage_args(struct op_call *c, enum onestage_family family, struct onestage_args *a);

/* The (h, w) of image i, from a->image_sizes. -1 when it is not a pair of
 * ints. */
int onestage_image_size(const struct onestage_args *a, int64_t i, int64_t *h, int64_t *w);

#endif
