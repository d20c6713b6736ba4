/* registry_detection.c - the steps of torchvision's two-stage detectors
 * (Faster R-CNN and its kin) that are not plain tensor code: the
 * GeneralizedRCNNTransform and AnchorGenerator module types, and the
 * functions filter_proposals (the region proposal network's box decoding
 * and filtering), postprocess_detections (RoIHeads' per-class boxes, score
 * threshold and NMS), maskrcnn_inference (Mask R-CNN's mask per box),
 * keypointrcnn_inference (Keypoint R-CNN's keypoints per box),
 * resize_boxes, paste_masks_in_image and resize_keypoints (the
 * transform's postprocess).
 *
 * Images are one batched tensor [N, C, H, W], so every image has the same
 * size: the transform's image_sizes are N equal (h, w) pairs, and the
 * anchor generator's anchors are one [A, 4] tensor that holds for every
 * image. Proposal and detection counts depend on the data: their shape is
 * the upper bound (post_nms_top_n proposals, detections_per_img boxes). */
#include "core/registry_detection.h"
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- attribute reading ---- */

/* The numbers of list v (or v itself when it is one number) into out[max].
 * Returns the count, or -1 when v is not that. */
static int numbers_of(const struct value *v, double *out, int max)
{
	if (v && value_number(v, &out[0]) && max > 0)
		return 1;
	if (!v || v->kind != VAL_LIST || v->u.list.keys || v->u.list.n > max)
		return -1;
	for (int i = 0; i < v->u.list.n; i++)
		if (!value_number(&v->u.list.items[i], &out[i]))
			return -1;
	return v->u.list.n;
}

#define RCNN_MAX_CHANNELS 16
#define ANCHOR_MAX_LEVELS 8
#define ANCHOR_MAX_PER_LEVEL 16

/* ---- GeneralizedRCNNTransform ---- */

static const struct attr_spec transform_attrs[] = {
    {"min_size", AT_ANY, NULL},
    {"max_size", AT_INT, NULL},
    {"image_mean", AT_ANY, NULL},
    {"image_std", AT_ANY, NULL},
    {"size_divisible", AT_INT, "32"},
    {"fixed_size", AT_ANY, "None"},
};

static int transform_check(struct module *m, struct error *e)
{
	double v[RCNN_MAX_CHANNELS], s[RCNN_MAX_CHANNELS];
	int n = numbers_of(module_attr(m, "min_size"), v, RCNN_MAX_CHANNELS);
	if (n < 1 || v[n - 1] <= 0)
		return error_setk(e, ERR_INPUT, "GeneralizedRCNNTransform: min_size must be a "
		                  "positive int or a tuple of them");
	if (op_check_positive(m, "max_size", e) < 0 || op_check_positive(m, "size_divisible", e) < 0)
		return -1;
	n = numbers_of(module_attr(m, "image_mean"), v, RCNN_MAX_CHANNELS);
	int ns = numbers_of(module_attr(m, "image_std"), s, RCNN_MAX_CHANNELS);
	if (n < 1 || ns != n)
		return error_setk(e, ERR_INPUT, "GeneralizedRCNNTransform: image_mean and image_std "
		                  "must be lists of one number per channel (at most %d)",
		                  RCNN_MAX_CHANNELS);
	const struct value *fixed = module_attr(m, "fixed_size");
	if (fixed && fixed->kind != VAL_NONE &&
	    (numbers_of(fixed, v, 2) != 2 || v[0] < 1 || v[1] < 1))
		return error_setk(e, ERR_INPUT, "GeneralizedRCNNTransform: fixed_size must be None or "
		                  "(width, height)");
	return 0;
}

int rcnn_transform_sizes(const struct module *m, int64_t h, int64_t w, struct rcnn_sizes *out)
{
	double v[RCNN_MAX_CHANNELS];
	const struct value *fixed = module_attr(m, "fixed_size");
	if (fixed && fixed->kind != VAL_NONE && numbers_of(fixed, v, 2) == 2) {
		out->w = (int64_t)v[0];
		out->h = (int64_t)v[1];
	} else {
		int n = numbers_of(module_attr(m, "min_size"), v, RCNN_MAX_CHANNELS);
		/* self_min_size / min_size with a float32 tensor on the right is
		 * Tensor.__rtruediv__: min_size.reciprocal() * self_min_size */
		float lo = (float)(h < w ? h : w), hi = (float)(h < w ? w : h);
		float a = (1.0f / lo) * (float)(n > 0 ? v[n - 1] : 0);
		float b = (1.0f / hi) * (float)module_attr_int(m, "max_size", 0);
		double scale = a < b ? a : b;
		out->h = (int64_t)floor((double)h * scale);
		out->w = (int64_t)floor((double)w * scale);
	}
	int64_t d = module_attr_int(m, "size_divisible", 32);
	out->padded_h = (out->h + d - 1) / d * d;
	out->padded_w = (out->w + d - 1) / d * d;
	return out->h >= 1 && out->w >= 1 ? 0 : -1;
}

/* forward(images [N, C, H, W]) -> (images [N, C, H', W'] normalised,
 * resized and padded, image_sizes: N (h, w) pairs before padding). */
static int transform_infer(struct op_call *c)
{
	const struct value *x = op_input_rank(c, 4, 4, "4-D (a batch of images)");
	if (!x)
		return -1;
	const struct shape *xs = op_shape(x);
	double mean[RCNN_MAX_CHANNELS];
	int channels = numbers_of(module_attr(c->module, "image_mean"), mean, RCNN_MAX_CHANNELS);
	if (xs->dim[1] != channels)
		return op_mismatch(c, "GeneralizedRCNNTransform normalises %d channels, the images have "
		                   "%lld", channels, (long long)xs->dim[1]);
	struct rcnn_sizes r;
	if (rcnn_transform_sizes(c->module, xs->dim[2], xs->dim[3], &r) < 0)
		return op_mismatch(c, "GeneralizedRCNNTransform resizes %lldx%lld images to nothing",
		                   (long long)xs->dim[2], (long long)xs->dim[3]);
	struct shape s = *xs;
	s.dim[2] = r.padded_h;
	s.dim[3] = r.padded_w;
	if (op_checked_numel(c, &s) < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), &s, NULL);
	struct value images = c->out;
	struct value sizes = value_list((int)xs->dim[0]);
	for (int i = 0; i < sizes.u.list.n; i++) {
		struct value hw = value_list(2);
		hw.u.list.items[0] = value_int(r.h);
		hw.u.list.items[1] = value_int(r.w);
		sizes.u.list.items[i] = hw;
	}
	c->out = value_list(2);
	c->out.u.list.items[0] = images;
	c->out.u.list.items[1] = sizes;
	return 0;
}

static void transform_describe(const struct module *m, char *buf, size_t size)
{
	double v[RCNN_MAX_CHANNELS];
	int n = numbers_of(module_attr(m, "min_size"), v, RCNN_MAX_CHANNELS);
	snprintf(buf, size, "min %g max %lld", n > 0 ? v[n - 1] : 0.0,
	         (long long)module_attr_int(m, "max_size", 0));
	int64_t d = module_attr_int(m, "size_divisible", 32);
	if (d != 32)
		op_append(buf, size, " /%lld", (long long)d);
}

static const struct op_def def_transform = {
    .name = "GeneralizedRCNNTransform",
    .kind = OP_MODULE,
    .doc = "normalises images by image_mean/image_std, resizes them (bilinear) so the short "
           "side is min_size and the long one at most max_size, and pads the batch to "
           "size_divisible; returns (images, image_sizes)",
    .attrs = transform_attrs,
    .nattrs = sizeof transform_attrs / sizeof *transform_attrs,
    .infer = transform_infer,
    .describe = transform_describe,
    .check = transform_check,
};

/* ---- AnchorGenerator ---- */

static const struct attr_spec anchor_attrs[] = {
    {"sizes", AT_ANY, "((128, 256, 512),)"},
    {"aspect_ratios", AT_ANY, "((0.5, 1.0, 2.0),)"},
};

/* The numbers of level l of a tuple of tuples attribute; -1 when absent. */
static int level_numbers(const struct module *m, const char *name, int level, double *out)
{
	const struct value *v = module_attr(m, name);
	if (!v || v->kind != VAL_LIST || level >= v->u.list.n)
		return -1;
	return numbers_of(&v->u.list.items[level], out, ANCHOR_MAX_PER_LEVEL);
}

int anchor_levels(const struct module *m)
{
	const struct value *v = module_attr(m, "sizes");
	return v && v->kind == VAL_LIST ? v->u.list.n : 0;
}

int64_t anchor_cell_count(const struct module *m, int level)
{
	double s[ANCHOR_MAX_PER_LEVEL], r[ANCHOR_MAX_PER_LEVEL];
	int ns = level_numbers(m, "sizes", level, s), nr = level_numbers(m, "aspect_ratios", level, r);
	return ns > 0 && nr > 0 ? (int64_t)ns * nr : 0;
}

static int anchor_check(struct module *m, struct error *e)
{
	const struct value *r = module_attr(m, "aspect_ratios");
	int n = anchor_levels(m);
	if (n < 1 || n > ANCHOR_MAX_LEVELS || !r || r->kind != VAL_LIST || r->u.list.n != n)
		return error_setk(e, ERR_INPUT, "AnchorGenerator: sizes and aspect_ratios must be tuples "
		                  "of the same number of levels (1 to %d), one tuple per level",
		                  ANCHOR_MAX_LEVELS);
	for (int l = 0; l < n; l++)
		if (anchor_cell_count(m, l) < 1)
			return error_setk(e, ERR_INPUT, "AnchorGenerator: level %d of sizes or "
			                  "aspect_ratios is not a tuple of 1 to %d numbers",
			                  l, ANCHOR_MAX_PER_LEVEL);
	return 0;
}

int anchors_infer(struct op_call *c, int levels,
                  int64_t (*cell_count)(const struct module *m, int level))
{
	const char *type = c->def->name;
	const struct value *img = op_tensor(c, 0, "image_list");
	const struct value *f = img ? op_arg(c, 1, "feature_maps") : NULL;
	if (!img)
		return -1;
	if (!f || f->kind != VAL_LIST)
		return op_fail(c, "%s takes (images, a tuple of feature maps)", type);
	if (f->u.list.n != levels)
		return op_mismatch(c, "%s has anchors for %d feature maps, gets %d", type, levels,
		                   f->u.list.n);
	int64_t total = 0;
	for (int l = 0; l < levels; l++) {
		const struct value *t = &f->u.list.items[l];
		if (!op_is_tensor(t) || op_shape(t)->ndim != 4)
			return op_fail(c, "%s: feature map %d is not a 4-D tensor", type, l);
		total += op_shape(t)->dim[2] * op_shape(t)->dim[3] * cell_count(c->module, l);
	}
	struct shape s = {.ndim = 2, .dim = {total, 4}};
	op_out_tensor(c, DT_F32, &s, NULL);
	return 0;
}

/* forward(images [N, C, H, W], features: a tuple of [N, C_l, H_l, W_l]) ->
 * anchors [sum_l H_l * W_l * A_l, 4], one set for every image. */
static int anchor_infer(struct op_call *c)
{
	return anchors_infer(c, anchor_levels(c->module), anchor_cell_count);
}

static void anchor_describe(const struct module *m, char *buf, size_t size)
{
	int n = anchor_levels(m);
	snprintf(buf, size, "%d level%s, %lld per cell", n, n == 1 ? "" : "s",
	         (long long)anchor_cell_count(m, 0));
}

static const struct op_def def_anchor = {
    .name = "AnchorGenerator",
    .kind = OP_MODULE,
    .doc = "anchor boxes for each cell of each feature map: sizes x aspect_ratios per level, "
           "shifted by the level's stride; returns [A, 4] (x1, y1, x2, y2)",
    .attrs = anchor_attrs,
    .nattrs = sizeof anchor_attrs / sizeof *anchor_attrs,
    .infer = anchor_infer,
    .describe = anchor_describe,
    .check = anchor_check,
};

/* ---- functions ---- */

/* The tuple argument at pos/kw; NULL (op_fail) when it is not one. */
static const struct value *tuple_arg(struct op_call *c, int pos, const char *kw)
{
	const struct value *v = op_arg(c, pos, kw);
	if (!v || v->kind != VAL_LIST || v->u.list.keys) {
		op_fail(c, "%s: %s must be a tuple", op_fn_name(c), kw);
		return NULL;
	}
	return v;
}

/* A tuple of n tensors of dtype dt, each the shape `s` with dim 0 a bound
 * (the rows depend on the data), into *out. */
static int tensor_tuple(struct op_call *c, int n, enum dtype dt, const struct shape *s,
                        struct value *out)
{
	if (op_checked_numel(c, s) < 0)
		return -1;
	*out = value_list(n);
	for (int i = 0; i < n; i++) {
		op_out_tensor(c, dt, s, NULL);
		c->out.u.tensor.t.shape.bounded = 1;
		out->u.list.items[i] = c->out;
		c->out = value_none();
	}
	return 0;
}

/* resize_boxes(boxes [K, 4], original_size (h, w), new_size (h, w)):
 * boxes scaled by new / original. */
static int resize_boxes_infer(struct op_call *c)
{
	const struct value *b = op_tensor(c, 0, "boxes");
	if (!b)
		return -1;
	int64_t from[2], to[2];
	if (op_int_list(c, 1, "original_size", false, from, 2) != 2 ||
	    op_int_list(c, 2, "new_size", false, to, 2) != 2)
		return op_fail(c, "resize_boxes takes (boxes, original_size, new_size)");
	const struct shape *s = op_shape(b);
	if (s->ndim != 2 || s->dim[1] != 4)
		return op_mismatch(c, "resize_boxes takes boxes [K, 4]");
	op_out_tensor(c, op_dtype(b), s, b);
	return 0;
}
REGISTRY_FUNCTION(resize_boxes, resize_boxes_infer,
                  "resize_boxes(boxes, original_size, new_size): boxes [K, 4] scaled from an "
                  "image of original_size to one of new_size");

/* filter_proposals(objectness, pred_bbox_deltas, anchors, image_sizes, *,
 * pre_nms_top_n, post_nms_top_n, nms_thresh, score_thresh, min_size):
 * objectness a tuple of [N, A_l, H_l, W_l], pred_bbox_deltas of [N, 4 A_l,
 * H_l, W_l], anchors [sum A_l H_l W_l, 4] -> (boxes, scores), each a tuple
 * of N tensors of at most P rows, P = min(post_nms_top_n, sum_l
 * min(pre_nms_top_n, A_l H_l W_l)). */
static int filter_proposals_infer(struct op_call *c)
{
	const struct value *obj = tuple_arg(c, 0, "objectness");
	const struct value *del = obj ? tuple_arg(c, 1, "pred_bbox_deltas") : NULL;
	const struct value *anc = del ? op_tensor(c, 2, "anchors") : NULL;
	const struct value *sizes = anc ? tuple_arg(c, 3, "image_sizes") : NULL;
	int64_t pre, post;
	if (!sizes || op_int(c, -1, "pre_nms_top_n", 1000, &pre) < 0 ||
	    op_int(c, -1, "post_nms_top_n", 1000, &post) < 0)
		return -1;
	if (obj->u.list.n != del->u.list.n || obj->u.list.n < 1)
		return op_mismatch(c, "filter_proposals: objectness and pred_bbox_deltas need one "
		                   "tensor per level each");
	int64_t n = -1, total = 0, kept = 0;
	for (int l = 0; l < obj->u.list.n; l++) {
		const struct value *o = &obj->u.list.items[l], *d = &del->u.list.items[l];
		if (!op_is_tensor(o) || !op_is_tensor(d) || op_shape(o)->ndim != 4 ||
		    op_shape(d)->ndim != 4)
			return op_fail(c, "filter_proposals: level %d is not two 4-D tensors", l);
		const struct shape *os = op_shape(o), *ds = op_shape(d);
		if (ds->dim[0] != os->dim[0] || ds->dim[1] != 4 * os->dim[1] ||
		    ds->dim[2] != os->dim[2] || ds->dim[3] != os->dim[3] || (n >= 0 && os->dim[0] != n))
			return op_mismatch(c, "filter_proposals: level %d has objectness %s and deltas "
			                   "that do not match it", l, "[N, A, H, W]");
		n = os->dim[0];
		int64_t a = os->dim[1] * os->dim[2] * os->dim[3];
		total += a;
		kept += a < pre ? a : pre;
	}
	const struct shape *as = op_shape(anc);
	if (as->ndim != 2 || as->dim[0] != total || as->dim[1] != 4)
		return op_mismatch(c, "filter_proposals: %lld anchors [A, 4] for %lld predictions",
		                   (long long)as->dim[0], (long long)total);
	if (sizes->u.list.n != n)
		return op_mismatch(c, "filter_proposals: %d image sizes for %lld images",
		                   sizes->u.list.n, (long long)n);
	int64_t p = kept < post ? kept : post;
	struct shape bs = {.ndim = 2, .dim = {p, 4}}, ss = {.ndim = 1, .dim = {p}};
	struct value boxes, scores;
	if (tensor_tuple(c, (int)n, DT_F32, &bs, &boxes) < 0)
		return -1;
	if (tensor_tuple(c, (int)n, DT_F32, &ss, &scores) < 0) {
		value_free(&boxes);
		return -1;
	}
	c->out = value_list(2);
	c->out.u.list.items[0] = boxes;
	c->out.u.list.items[1] = scores;
	return 0;
}
REGISTRY_FUNCTION(filter_proposals, filter_proposals_infer,
                  "filter_proposals(objectness, pred_bbox_deltas, anchors, image_sizes, *, "
                  "pre_nms_top_n, post_nms_top_n, nms_thresh, score_thresh, min_size): the "
                  "region proposal network's proposals: deltas decoded on the anchors, the "
                  "pre_nms_top_n best per level, clipped, small and low boxes dropped, NMS per "
                  "level, the post_nms_top_n best; returns (boxes, scores) per image");

/* postprocess_detections(class_logits [M, K], box_regression [M, 4 K],
 * proposals: a tuple of N [P_i, 4] with sum P_i = M, image_shapes, *,
 * score_thresh, nms_thresh, detections_per_img, weights) -> (boxes,
 * scores, labels), each a tuple of N tensors of at most D rows, D =
 * min(detections_per_img, P_i (K - 1)). */
static int postprocess_infer(struct op_call *c)
{
	const struct value *logits = op_tensor(c, 0, "class_logits");
	const struct value *reg = logits ? op_tensor(c, 1, "box_regression") : NULL;
	const struct value *props = reg ? tuple_arg(c, 2, "proposals") : NULL;
	const struct value *shapes = props ? tuple_arg(c, 3, "image_shapes") : NULL;
	int64_t per_img;
	if (!shapes || op_int(c, -1, "detections_per_img", 100, &per_img) < 0)
		return -1;
	const struct shape *ls = op_shape(logits), *rs = op_shape(reg);
	if (ls->ndim != 2 || rs->ndim != 2 || rs->dim[0] != ls->dim[0] ||
	    rs->dim[1] != 4 * ls->dim[1])
		return op_mismatch(c, "postprocess_detections takes class_logits [M, K] and "
		                   "box_regression [M, 4 K]");
	int n = props->u.list.n;
	if (shapes->u.list.n != n)
		return op_mismatch(c, "postprocess_detections: %d image shapes for %d images",
		                   shapes->u.list.n, n);
	int64_t m = 0, most = 0;
	for (int i = 0; i < n; i++) {
		const struct value *p = &props->u.list.items[i];
		if (!op_is_tensor(p) || op_shape(p)->ndim != 2 || op_shape(p)->dim[1] != 4)
			return op_fail(c, "postprocess_detections: proposals %d is not [P, 4]", i);
		m += op_shape(p)->dim[0];
		most = op_shape(p)->dim[0] > most ? op_shape(p)->dim[0] : most;
	}
	if (m != ls->dim[0])
		return op_mismatch(c, "postprocess_detections: %lld scored boxes for %lld proposals",
		                   (long long)ls->dim[0], (long long)m);
	int64_t cand = op_mul_sat(most, ls->dim[1] - 1);
	int64_t d = cand < per_img ? cand : per_img;
	struct shape bs = {.ndim = 2, .dim = {d, 4}}, ss = {.ndim = 1, .dim = {d}};
	struct value out = value_list(3);
	if (tensor_tuple(c, n, DT_F32, &bs, &out.u.list.items[0]) < 0 ||
	    tensor_tuple(c, n, DT_F32, &ss, &out.u.list.items[1]) < 0 ||
	    tensor_tuple(c, n, DT_I64, &ss, &out.u.list.items[2]) < 0) {
		value_free(&out);
		return -1;
	}
	c->out = out;
	return 0;
}
REGISTRY_FUNCTION(postprocess_detections, postprocess_infer,
                  "postprocess_detections(class_logits, box_regression, proposals, image_shapes, "
                  "*, score_thresh, nms_thresh, detections_per_img, weights): RoIHeads' "
                  "detections: per-class boxes decoded on the proposals, clipped, softmax "
                  "scores above score_thresh, small boxes dropped, NMS per class, the "
                  "detections_per_img best; returns (boxes, scores, labels) per image");

/* maskrcnn_inference(mask_logits [M, K, S, S], labels: a tuple of N [D_i]
 * with sum D_i = M) -> a tuple of N [D_i, 1, S, S]: the sigmoid of each
 * box's channel of its label. */
static int mask_inference_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "x");
	const struct value *labels = x ? tuple_arg(c, 1, "labels") : NULL;
	if (!labels)
		return -1;
	const struct shape *xs = op_shape(x);
	if (xs->ndim != 4)
		return op_mismatch(c, "maskrcnn_inference takes mask logits [M, K, S, S]");
	struct value out = value_list(labels->u.list.n);
	int64_t m = 0;
	for (int i = 0; i < labels->u.list.n; i++) {
		const struct value *l = &labels->u.list.items[i];
		if (!op_is_tensor(l) || op_shape(l)->ndim != 1) {
			value_free(&out);
			return op_fail(c, "maskrcnn_inference: labels %d is not a 1-D tensor", i);
		}
		struct shape s = {.ndim = 4, .dim = {op_shape(l)->dim[0], 1, xs->dim[2], xs->dim[3]}};
		m += s.dim[0];
		op_out_tensor(c, op_dtype(x), &s, NULL);
		out.u.list.items[i] = c->out;
		c->out = value_none();
	}
	if (m != xs->dim[0]) {
		value_free(&out);
		return op_mismatch(c, "maskrcnn_inference: %lld masks for %lld labels",
		                   (long long)xs->dim[0], (long long)m);
	}
	c->out = out;
	return 0;
}
REGISTRY_FUNCTION(maskrcnn_inference, mask_inference_infer,
                  "maskrcnn_inference(x, labels): per image, the sigmoid of each box's mask "
                  "logits of its label, [D, 1, S, S]");

/* paste_masks_in_image(masks [K, 1, S, S], boxes [K, 4], img_shape (h, w),
 * padding=1) -> [K, 1, h, w]: each mask resized into its box (grown by the
 * padding) on an empty image. */
static int paste_masks_infer(struct op_call *c)
{
	const struct value *masks = op_tensor(c, 0, "masks");
	const struct value *boxes = masks ? op_tensor(c, 1, "boxes") : NULL;
	int64_t hw[2];
	if (!boxes)
		return -1;
	if (op_int_list(c, 2, "img_shape", false, hw, 2) != 2)
		return op_fail(c, "paste_masks_in_image takes (masks, boxes, img_shape)");
	const struct shape *ms = op_shape(masks), *bs = op_shape(boxes);
	if (ms->ndim != 4 || ms->dim[1] != 1 || bs->ndim != 2 || bs->dim[1] != 4 ||
	    bs->dim[0] != ms->dim[0])
		return op_mismatch(c, "paste_masks_in_image takes masks [K, 1, S, S] and boxes [K, 4]");
	struct shape s = {.ndim = 4, .dim = {ms->dim[0], 1, hw[0], hw[1]}};
	if (op_checked_numel(c, &s) < 0)
		return -1;
	op_out_tensor(c, op_dtype(masks), &s, NULL);
	return 0;
}
REGISTRY_FUNCTION(paste_masks_in_image, paste_masks_infer,
                  "paste_masks_in_image(masks, boxes, img_shape, padding=1): each mask resized "
                  "(bilinear) into its box on an image of img_shape, [K, 1, h, w]");

/* keypointrcnn_inference(x [M, K, S, S], boxes: a tuple of N [D_i, 4] with
 * sum D_i = M) -> (keypoints, scores): tuples of N [D_i, K, 3] (x, y, 1)
 * and [D_i, K]. */
static int keypoint_inference_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "x");
	const struct value *boxes = x ? tuple_arg(c, 1, "boxes") : NULL;
	if (!boxes)
		return -1;
	const struct shape *xs = op_shape(x);
	if (xs->ndim != 4)
		return op_mismatch(c, "keypointrcnn_inference takes heatmaps [M, K, S, S]");
	int n = boxes->u.list.n;
	struct value out = value_list(2);
	out.u.list.items[0] = value_list(n);
	out.u.list.items[1] = value_list(n);
	int64_t m = 0;
	for (int i = 0; i < n; i++) {
		const struct value *b = &boxes->u.list.items[i];
		if (!op_is_tensor(b) || op_shape(b)->ndim != 2 || op_shape(b)->dim[1] != 4) {
			value_free(&out);
			return op_fail(c, "keypointrcnn_inference: boxes %d is not [D, 4]", i);
		}
		int64_t d = op_shape(b)->dim[0];
		m += d;
		struct shape ks = {.ndim = 3, .dim = {d, xs->dim[1], 3}};
		struct shape ss = {.ndim = 2, .dim = {d, xs->dim[1]}};
		op_out_tensor(c, DT_F32, &ks, NULL);
		out.u.list.items[0].u.list.items[i] = c->out;
		op_out_tensor(c, DT_F32, &ss, NULL);
		out.u.list.items[1].u.list.items[i] = c->out;
		c->out = value_none();
	}
	if (m != xs->dim[0]) {
		value_free(&out);
		return op_mismatch(c, "keypointrcnn_inference: %lld heatmaps for %lld boxes",
		                   (long long)xs->dim[0], (long long)m);
	}
	c->out = out;
	return 0;
}
REGISTRY_FUNCTION(keypointrcnn_inference, keypoint_inference_infer,
                  "keypointrcnn_inference(x, boxes): per image, each box's keypoints (x, y, 1) "
                  "at the maxima of its heatmaps resized (bicubic) to the box, and their scores");

/* resize_keypoints(keypoints [D, K, 3], original_size, new_size): x and y
 * scaled by new / original. */
static int resize_keypoints_infer(struct op_call *c)
{
	const struct value *k = op_tensor(c, 0, "keypoints");
	if (!k)
		return -1;
	int64_t from[2], to[2];
	if (op_int_list(c, 1, "original_size", false, from, 2) != 2 ||
	    op_int_list(c, 2, "new_size", false, to, 2) != 2)
		return op_fail(c, "resize_keypoints takes (keypoints, original_size, new_size)");
	const struct shape *s = op_shape(k);
	if (s->ndim != 3 || s->dim[2] != 3)
		return op_mismatch(c, "resize_keypoints takes keypoints [D, K, 3]");
	op_out_tensor(c, op_dtype(k), s, k);
	return 0;
}
REGISTRY_FUNCTION(resize_keypoints, resize_keypoints_infer,
                  "resize_keypoints(keypoints, original_size, new_size): keypoints [D, K, 3] "
                  "scaled from an image of original_size to one of new_size");

const struct op_def *const registry_detection_defs[] = {
    &def_transform,           &def_anchor,           &fn_def_resize_boxes,
    &fn_def_filter_proposals, &fn_def_postprocess_detections, &fn_def_maskrcnn_inference,
    &fn_def_paste_masks_in_image, &fn_def_keypointrcnn_inference, &fn_def_resize_keypoints, NULL,
};
