/* registry_boxes.c - torchvision.ops: box filtering and region pooling.
 *
 * Boxes are [N, 4] float tensors of (x1, y1, x2, y2). The functions whose
 * output size depends on the values (nms keeps some boxes) give the upper
 * bound and mark it (bounds.h): nms of N boxes is [≤N]. */
#include "core/registry_impl.h"

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

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(nms, fn_nms,
                     "nms(boxes, scores, iou_threshold): indices of the kept boxes, by score",
                     "torchvision.ops.nms");
REGISTRY_FUNCTION_PY(batched_nms, fn_batched_nms,
                     "batched_nms(boxes, scores, idxs, iou_threshold): nms within each idx",
                     "torchvision.ops.batched_nms");

const struct op_def *const registry_boxes_defs[] = {
    &fn_def_nms,
    &fn_def_batched_nms,
    NULL,
};
