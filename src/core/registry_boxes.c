/* registry_boxes.c - torchvision.ops: box filtering and region pooling.
 *
 * Boxes are [N, 4] float tensors of (x1, y1, x2, y2). The functions whose
 * output size depends on the values (nms keeps some boxes) give the upper
 * bound and mark it (bounds.h): nms of N boxes is [≤N]. Region pooling
 * (roi_align, roi_pool and their modules) takes its boxes as one [K, 5]
 * tensor of (batch index, x1, y1, x2, y2) or as a list of [Ki, 4], one per
 * image, and gives [K, C, output_size]. */
#include "core/registry_boxes.h"
#include "core/registry_impl.h"

#include <stdio.h>
#include <string.h>

#include "core/value.h"

/* The float tensor argument `boxes` at pos, [N, 4]; NULL (a break) when it
 * is not. */
static const struct value *boxes_arg(struct op_call *c, int pos, const char *kw)
{
	const struct value *b = op_tensor(c, pos, kw);
	if (!b)
		return NULL;
	const struct shape *s = op_shape(b);
	if (s->ndim != 2 || s->dim[1] != 4 || !op_is_float_dtype(op_dtype(b))) {
		char buf[96];
		op_mismatch(c, "%s(): %s must be a float [N, 4] tensor, got %s %s", op_fn_name(c),
		            kw, dtype_name(op_dtype(b)), shape_format(s, buf, sizeof buf));
		return NULL;
	}
	return b;
}

/* A tensor argument of n values (one per box): [N]. */
static int per_box_arg(struct op_call *c, int pos, const char *kw, int64_t n)
{
	const struct value *v = op_tensor(c, pos, kw);
	if (!v)
		return -1;
	const struct shape *s = op_shape(v);
	if (s->ndim != 1 || s->dim[0] != n) {
		char buf[96];
		return op_mismatch(c, "%s(): %s must be [%lld], one per box, got %s", op_fn_name(c), kw,
		                   (long long)n, shape_format(s, buf, sizeof buf));
	}
	return 0;
}

/* The int64 indices of the kept boxes, at most n of them: [≤n]. */
static int kept_indices(struct op_call *c, int64_t n)
{
	struct shape s = {.ndim = 1, .dim = {n}};
	op_out_tensor(c, DT_I64, &s, NULL);
	c->out.u.tensor.t.shape.bounded = 1;
	return 0;
}

static int number_arg(struct op_call *c, int pos, const char *kw)
{
	const struct value *v = op_arg(c, pos, kw);
	double d;
	if (!v || !value_number(v, &d))
		return op_fail(c, "%s(): %s must be a number", op_fn_name(c), kw);
	return 0;
}

/* nms(boxes, scores, iou_threshold) */
static int fn_nms(struct op_call *c)
{
	const struct value *b = boxes_arg(c, 0, "boxes");
	if (!b || per_box_arg(c, 1, "scores", op_shape(b)->dim[0]) < 0 ||
	    number_arg(c, 2, "iou_threshold") < 0)
		return -1;
	return kept_indices(c, op_shape(b)->dim[0]);
}

/* batched_nms(boxes, scores, idxs, iou_threshold) */
static int fn_batched_nms(struct op_call *c)
{
	const struct value *b = boxes_arg(c, 0, "boxes");
	if (!b)
		return -1;
	int64_t n = op_shape(b)->dim[0];
	if (per_box_arg(c, 1, "scores", n) < 0 || per_box_arg(c, 2, "idxs", n) < 0 ||
	    number_arg(c, 3, "iou_threshold") < 0)
		return -1;
	return kept_indices(c, n);
}

/* box_iou(boxes1, boxes2): [N, M] */
static int fn_box_iou(struct op_call *c)
{
	const struct value *a = boxes_arg(c, 0, "boxes1"), *b;
	if (!a || !(b = boxes_arg(c, 1, "boxes2")))
		return -1;
	struct shape s = {.ndim = 2, .dim = {op_shape(a)->dim[0], op_shape(b)->dim[0]}};
	return op_out_like(c, a, &s);
}

/* clip_boxes_to_image(boxes, size): boxes [..., 4], size (height, width) */
static int fn_clip_boxes_to_image(struct op_call *c)
{
	const struct value *b = op_tensor(c, 0, "boxes");
	int64_t hw[2];
	if (!b || op_tuple_arg(c, 1, "size", 2, NULL, hw) < 0)
		return -1;
	const struct shape *s = op_shape(b);
	if (s->ndim < 1 || s->dim[s->ndim - 1] != 4 || !op_is_float_dtype(op_dtype(b))) {
		char buf[96];
		return op_mismatch(c, "clip_boxes_to_image(): boxes must be float [..., 4], got %s",
		                   shape_format(s, buf, sizeof buf));
	}
	return op_same(c);
}

/* remove_small_boxes(boxes, min_size): indices of the boxes at least
 * min_size wide and high */
static int fn_remove_small_boxes(struct op_call *c)
{
	const struct value *b = boxes_arg(c, 0, "boxes");
	if (!b || number_arg(c, 1, "min_size") < 0)
		return -1;
	return kept_indices(c, op_shape(b)->dim[0]);
}

/* ---- region pooling ---- */

/* The region count of a boxes argument: [K, 5], or a list of [Ki, 4]. -1
 * (a break) otherwise. */
static int64_t roi_count(struct op_call *c, const struct value *boxes)
{
	char buf[96];
	if (boxes && boxes->kind == VAL_TENSOR) {
		const struct shape *s = op_shape(boxes);
		if (s->ndim == 2 && s->dim[1] == 5)
			return s->dim[0];
		return op_mismatch(c, "%s: boxes must be [K, 5] (batch index, x1, y1, x2, y2), got %s",
		                   op_fn_name(c), shape_format(s, buf, sizeof buf));
	}
	if (!boxes || boxes->kind != VAL_LIST)
		return op_fail(c, "%s: boxes must be a [K, 5] tensor or a list of [Ki, 4] tensors",
		               op_fn_name(c));
	int64_t k = 0;
	for (int i = 0; i < boxes->u.list.n; i++) {
		const struct value *b = &boxes->u.list.items[i];
		if (!op_is_tensor(b) || op_shape(b)->ndim != 2 || op_shape(b)->dim[1] != 4)
			return op_mismatch(c, "%s: boxes[%d] must be a [Ki, 4] tensor", op_fn_name(c), i);
		k += op_shape(b)->dim[0];
	}
	return k;
}

/* [K, C, oh, ow] for features x [N, C, H, W] and the boxes. */
static int roi_out(struct op_call *c, const struct value *x, const struct value *boxes,
                   const int64_t size[2])
{
	if (!x || !boxes)
		return -1;
	const struct shape *xs = op_shape(x);
	if (xs->ndim != 4 || !op_is_float_dtype(op_dtype(x))) {
		char buf[96];
		return op_mismatch(c, "%s: the input must be float [N, C, H, W], got %s",
		                   op_fn_name(c), shape_format(xs, buf, sizeof buf));
	}
	int64_t k = roi_count(c, boxes);
	if (k < 0)
		return -1;
	if (size[0] < 1 || size[1] < 1)
		return op_fail(c, "%s: output_size must be positive", op_fn_name(c));
	struct shape s = {.ndim = 4, .dim = {k, xs->dim[1], size[0], size[1]}};
	return op_out_like(c, x, &s);
}

/* roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1,
 * aligned=False) and roi_pool(input, boxes, output_size, spatial_scale=1.0) */
static int fn_roi_pooling(struct op_call *c)
{
	int64_t size[2];
	const struct value *x = op_tensor(c, 0, "input");
	if (!x || op_pair_arg(c, 2, "output_size", NULL, size) < 0)
		return -1;
	return roi_out(c, x, op_arg(c, 1, "boxes"), size);
}

/* RoIAlign and RoIPool modules: forward(input, rois) */
static int roi_module_infer(struct op_call *c)
{
	int64_t size[2];
	module_attr_ints(c->module, "output_size", size, 2);
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	return roi_out(c, x, op_arg(c, 1, "rois"), size);
}

int registry_boxes_levels(const struct module *m, const struct value *x, const struct value **out,
                          int max)
{
	const struct value *names = module_attr(m, "featmap_names");
	int n = 0;
	for (int i = 0; x->kind == VAL_LIST && x->u.list.keys && i < x->u.list.n; i++)
		for (int j = 0; names && j < names->u.list.n && n < max; j++)
			if (names->u.list.items[j].kind == VAL_STR &&
			    strcmp(names->u.list.items[j].u.s, x->u.list.keys[i]) == 0) {
				out[n++] = &x->u.list.items[i];
				break;
			}
	return n;
}

/* MultiScaleRoIAlign: forward(x, boxes, image_shapes), x a dict of
 * feature maps, boxes a list of [Ki, 4], image_shapes a list of (h, w) */
static int multiscale_infer(struct op_call *c)
{
	const struct value *x = op_arg(c, 0, "x"), *shapes = op_arg(c, 2, "image_shapes");
	if (!x || x->kind != VAL_LIST || !x->u.list.keys)
		return op_fail(c, "MultiScaleRoIAlign: x must be a dict of feature maps");
	const struct value *levels[16];
	int n = registry_boxes_levels(c->module, x, levels, 16);
	if (n == 0)
		return op_mismatch(c, "MultiScaleRoIAlign: x has none of the featmap_names");
	for (int i = 0; i < n; i++)
		if (!op_is_tensor(levels[i]) || op_shape(levels[i])->ndim != 4 ||
		    op_shape(levels[i])->dim[1] != op_shape(levels[0])->dim[1])
			return op_mismatch(c, "MultiScaleRoIAlign: the feature maps must be "
			                      "[N, C, H, W] with the same C");
	if (!shapes || shapes->kind != VAL_LIST || shapes->u.list.n == 0)
		return op_fail(c, "MultiScaleRoIAlign: image_shapes must be a list of (height, width)");
	for (int i = 0; i < shapes->u.list.n; i++) {
		int64_t hw[2];
		if (value_ints(&shapes->u.list.items[i], hw, 2) < 0)
			return op_fail(c, "MultiScaleRoIAlign: image_shapes[%d] is not (height, width)", i);
	}
	const struct value *boxes = op_arg(c, 1, "boxes");
	if (!boxes || boxes->kind != VAL_LIST)
		return op_fail(c, "MultiScaleRoIAlign: boxes must be a list of [Ki, 4] tensors");
	int64_t size[2];
	module_attr_ints(c->module, "output_size", size, 2);
	return roi_out(c, levels[0], boxes, size);
}

static int multiscale_check(struct module *m, struct error *e)
{
	const struct value *names = module_attr(m, "featmap_names");
	bool ok = names && names->kind == VAL_LIST && names->u.list.n > 0 &&
	          names->u.list.n <= 16;
	for (int i = 0; ok && i < names->u.list.n; i++)
		ok = names->u.list.items[i].kind == VAL_STR;
	if (!ok)
		return error_set(e, "MultiScaleRoIAlign: featmap_names must be a list of 1 to 16 "
		                    "names");
	return op_check_positive_pair(m, "output_size", e);
}

static void roi_describe(const struct module *m, char *buf, size_t size)
{
	int64_t s[2];
	char t[32];
	module_attr_ints(m, "output_size", s, 2);
	snprintf(buf, size, "→%s", op_pair_text(s, t, sizeof t));
	if (module_attr(m, "spatial_scale"))
		op_append(buf, size, " scale %g", module_attr_float(m, "spatial_scale", 1));
	if (module_attr(m, "sampling_ratio"))
		op_append(buf, size, " sampling %lld",
		          (long long)module_attr_int(m, "sampling_ratio", -1));
	if (module_attr_bool(m, "aligned", false))
		op_append(buf, size, " aligned");
}

static int roi_check(struct module *m, struct error *e)
{
	return op_check_positive_pair(m, "output_size", e);
}

static const struct attr_spec roi_align_attrs[] = {
    {"output_size", AT_INT_PAIR, NULL},
    {"spatial_scale", AT_FLOAT, NULL},
    {"sampling_ratio", AT_INT, NULL},
    {"aligned", AT_BOOL, "False"},
};

static const struct attr_spec roi_pool_attrs[] = {
    {"output_size", AT_INT_PAIR, NULL},
    {"spatial_scale", AT_FLOAT, NULL},
};

static const struct attr_spec multiscale_attrs[] = {
    {"featmap_names", AT_ANY, NULL},
    {"output_size", AT_INT_PAIR, NULL},
    {"sampling_ratio", AT_INT, NULL},
    {"canonical_scale", AT_INT, "224"},
    {"canonical_level", AT_INT, "4"},
};

#define ROI_MODULE(id, nm, at, fn, chk, d)                                                         \
	static const struct op_def def_##id = {                                                    \
	    .name = nm,                                                                            \
	    .py = "torchvision.ops." nm,                                                           \
	    .kind = OP_MODULE,                                                                     \
	    .doc = d,                                                                              \
	    .attrs = at,                                                                           \
	    .nattrs = sizeof at / sizeof *at,                                                      \
	    .infer = fn,                                                                           \
	    .describe = roi_describe,                                                              \
	    .check = chk,                                                                          \
	}

ROI_MODULE(roi_align_module, "RoIAlign", roi_align_attrs, roi_module_infer, roi_check,
           "torchvision.ops.RoIAlign: bilinear pooling of boxes to output_size");
ROI_MODULE(roi_pool_module, "RoIPool", roi_pool_attrs, roi_module_infer, roi_check,
           "torchvision.ops.RoIPool: max pooling of boxes to output_size");
ROI_MODULE(multiscale_roi_align, "MultiScaleRoIAlign", multiscale_attrs, multiscale_infer,
           multiscale_check,
           "torchvision.ops.MultiScaleRoIAlign: RoIAlign on the FPN level each box maps to");

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(nms, fn_nms,
                     "nms(boxes, scores, iou_threshold): indices of the kept boxes, by score",
                     "torchvision.ops.nms");
REGISTRY_FUNCTION_PY(batched_nms, fn_batched_nms,
                     "batched_nms(boxes, scores, idxs, iou_threshold): nms within each idx",
                     "torchvision.ops.batched_nms");

REGISTRY_FUNCTION_PY(box_iou, fn_box_iou, "box_iou(boxes1, boxes2): [N, M] intersection over union",
                     "torchvision.ops.box_iou");
REGISTRY_FUNCTION_PY(clip_boxes_to_image, fn_clip_boxes_to_image,
                     "clip_boxes_to_image(boxes, size): boxes inside (height, width)",
                     "torchvision.ops.clip_boxes_to_image");
REGISTRY_FUNCTION_PY(remove_small_boxes, fn_remove_small_boxes,
                     "remove_small_boxes(boxes, min_size): indices of the boxes kept",
                     "torchvision.ops.remove_small_boxes");
REGISTRY_FUNCTION_PY(roi_align, fn_roi_pooling,
                     "roi_align(input, boxes, output_size, spatial_scale=1.0, "
                     "sampling_ratio=-1, aligned=False)",
                     "torchvision.ops.roi_align");
REGISTRY_FUNCTION_PY(roi_pool, fn_roi_pooling,
                     "roi_pool(input, boxes, output_size, spatial_scale=1.0)",
                     "torchvision.ops.roi_pool");

const struct op_def *const registry_boxes_defs[] = {
    &fn_def_nms,
    &fn_def_batched_nms,
    &fn_def_box_iou,
    &fn_def_clip_boxes_to_image,
    &fn_def_remove_small_boxes,
    &fn_def_roi_align,
    &fn_def_roi_pool,
    &def_roi_align_module,
    &def_roi_pool_module,
    &def_multiscale_roi_align,
    NULL,
};
