/* registry_onestage.c - SSD's DefaultBoxGenerator and the postprocessing
 * of torchvision's one-stage detectors (RetinaNet, FCOS, SSD) as graft
 * functions: what each family's postprocess_detections returns, with the
 * number of detections of an image as a bound (registry_onestage.h). */
#include "core/registry_onestage.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/registry_detection.h"
#include "core/registry_impl.h"

/* ---- DefaultBoxGenerator ---- */

/* torchvision's constructor also takes min_ratio and max_ratio, which only
 * make the scales when none are given; the module keeps the scales. */
static const struct attr_spec default_box_attrs[] = {
    {"aspect_ratios", AT_ANY, NULL},
    {"scales", AT_ANY, NULL},
    {"steps", AT_ANY, "None"},
    {"clip", AT_BOOL, "True"},
};

static bool numbers(const struct value *v, int max)
{
	if (!v || v->kind != VAL_LIST || v->u.list.keys || v->u.list.n > max)
		return false;
	double x;
	for (int i = 0; i < v->u.list.n; i++)
		if (!value_number(&v->u.list.items[i], &x))
			return false;
	return true;
}

int default_box_levels(const struct module *m)
{
	const struct value *r = module_attr(m, "aspect_ratios");
	if (!r || r->kind != VAL_LIST || r->u.list.n < 1 || r->u.list.n > DEFAULT_BOX_MAX_LEVELS)
		return -1;
	for (int k = 0; k < r->u.list.n; k++)
		if (!numbers(&r->u.list.items[k], DEFAULT_BOX_MAX_PAIRS / 2 - 1))
			return -1;
	return r->u.list.n;
}

/* Scale k of the levels (k up to levels, one more than the levels). */
static double default_box_scale(const struct module *m, int k)
{
	double v = 0;
	value_number(&module_attr(m, "scales")->u.list.items[k], &v);
	return v;
}

int default_box_pairs(const struct module *m, int k, float *wh)
{
	int levels = default_box_levels(m);
	if (levels < 0 || k >= levels)
		return -1;
	const struct value *ar = &module_attr(m, "aspect_ratios")->u.list.items[k];
	double s = default_box_scale(m, k);
	double s_prime = sqrt(s * default_box_scale(m, k + 1));
	int n = 0;
	wh[n * 2] = wh[n * 2 + 1] = (float)s;
	n++;
	wh[n * 2] = wh[n * 2 + 1] = (float)s_prime;
	n++;
	for (int i = 0; i < ar->u.list.n; i++) {
		double r = 0;
		value_number(&ar->u.list.items[i], &r);
		double w = s * sqrt(r), h = s / sqrt(r);
		wh[n * 2] = (float)w;
		wh[n * 2 + 1] = (float)h;
		n++;
		wh[n * 2] = (float)h;
		wh[n * 2 + 1] = (float)w;
		n++;
	}
	return n;
}

static int default_box_check(struct module *m, struct error *e)
{
	int levels = default_box_levels(m);
	if (levels < 0)
		return error_setk(e, ERR_INPUT, "DefaultBoxGenerator: aspect_ratios must be a list of "
		                  "1 to %d lists of at most %d numbers, one list per feature map",
		                  DEFAULT_BOX_MAX_LEVELS, DEFAULT_BOX_MAX_PAIRS / 2 - 1);
	const struct value *s = module_attr(m, "scales"), *st = module_attr(m, "steps");
	if (!numbers(s, levels + 1) || s->u.list.n != levels + 1)
		return error_setk(e, ERR_INPUT, "DefaultBoxGenerator: scales must be %d numbers (one "
		                  "per feature map, and one more)", levels + 1);
	if (st && st->kind != VAL_NONE && (!numbers(st, levels) || st->u.list.n != levels))
		return error_setk(e, ERR_INPUT, "DefaultBoxGenerator: steps must be None or %d "
		                  "numbers (one per feature map)", levels);
	return 0;
}

static int64_t default_box_cell_count(const struct module *m, int k)
{
	float wh[2 * DEFAULT_BOX_MAX_PAIRS];
	return default_box_pairs(m, k, wh);
}

/* forward(images [N, C, H, W], feature maps) -> default boxes [B, 4]. */
static int default_box_infer(struct op_call *c)
{
	return anchors_infer(c, default_box_levels(c->module), default_box_cell_count);
}

static void default_box_describe(const struct module *m, char *buf, size_t size)
{
	int n = default_box_levels(m);
	snprintf(buf, size, "%d level%s, %lld per cell", n, n == 1 ? "" : "s",
	         (long long)default_box_cell_count(m, 0));
}

static const struct op_def def_default_box = {
    .name = "DefaultBoxGenerator",
    .kind = OP_MODULE,
    .doc = "SSD's default boxes for each cell of each feature map: two squares (scale s_k "
           "and sqrt(s_k s_k+1)) and two boxes per aspect ratio; returns [B, 4] (x1, y1, x2, "
           "y2)",
    .attrs = default_box_attrs,
    .nattrs = sizeof default_box_attrs / sizeof *default_box_attrs,
    .infer = default_box_infer,
    .describe = default_box_describe,
    .check = default_box_check,
};

/* ---- postprocess_detections ---- */

static const struct value *dict_item(const struct value *d, const char *key)
{
	for (int i = 0; i < d->u.list.n; i++)
		if (strcmp(d->u.list.keys[i], key) == 0)
			return &d->u.list.items[i];
	return NULL;
}

/* head_outputs[key], a 3-D tensor [images, anchors, columns] (columns 0:
 * any). */
static const struct value *head_output(struct op_call *c, const struct value *heads,
                                       const char *key, int64_t columns)
{
	const struct value *t = dict_item(heads, key);
	if (!op_is_tensor(t) || op_shape(t)->ndim != 3)
		return op_fail(c, "head_outputs needs %s, a 3-D tensor", key), NULL;
	if (columns && op_shape(t)->dim[2] != columns)
		return op_mismatch(c, "head_outputs %s has %lld columns, not %lld", key,
		                   (long long)op_shape(t)->dim[2], (long long)columns),
		       NULL;
	return t;
}

static int float_kw(struct op_call *c, int pos, const char *kw, double def, double *out)
{
	const struct value *v = op_arg(c, pos, kw);
	*out = def;
	if (v && v->kind != VAL_NONE && !value_number(v, out))
		return op_fail(c, "%s needs a number", kw);
	return 0;
}

/* The levels' shares of the anchors: H x W of each feature map times the
 * anchors per cell, which is the anchors' count over the cells'. */
static int level_anchors(struct op_call *c, const struct value *features, struct onestage_args *a)
{
	if (!features || features->kind != VAL_LIST || features->u.list.n < 1 ||
	    features->u.list.n > ONESTAGE_MAX_LEVELS)
		return op_fail(c, "features needs a list of 1 to %d feature maps",
		               ONESTAGE_MAX_LEVELS);
	int64_t cells = 0;
	a->levels = features->u.list.n;
	for (int l = 0; l < a->levels; l++) {
		const struct value *f = &features->u.list.items[l];
		if (!op_is_tensor(f) || op_shape(f)->ndim != 4)
			return op_fail(c, "features needs 4-D feature maps");
		a->level_anchors[l] = op_shape(f)->dim[2] * op_shape(f)->dim[3];
		cells += a->level_anchors[l];
	}
	if (cells < 1 || a->anchors_total % cells != 0)
		return op_mismatch(c, "%lld anchors are not a whole number per feature-map cell "
		                   "(%lld cells)", (long long)a->anchors_total, (long long)cells);
	for (int l = 0; l < a->levels; l++)
		a->level_anchors[l] *= a->anchors_total / cells;
	return 0;
}

int onestage_args(struct op_call *c, enum onestage_family family, struct onestage_args *a)
{
	static const double weights[][4] = {
	    [ONESTAGE_RETINANET] = {1, 1, 1, 1}, [ONESTAGE_FCOS] = {1, 1, 1, 1},
	    [ONESTAGE_SSD] = {10, 10, 5, 5}};
	static const double defaults[][2] = {
	    [ONESTAGE_RETINANET] = {0.05, 0.5}, [ONESTAGE_FCOS] = {0.2, 0.6},
	    [ONESTAGE_SSD] = {0.01, 0.45}};
	static const int64_t counts[][2] = {
	    [ONESTAGE_RETINANET] = {300, 1000}, [ONESTAGE_FCOS] = {100, 1000},
	    [ONESTAGE_SSD] = {200, 400}};
	memset(a, 0, sizeof *a);
	a->family = family;
	const struct value *heads = op_arg(c, 0, "head_outputs");
	if (!heads || heads->kind != VAL_LIST || !heads->u.list.keys)
		return op_fail(c, "head_outputs needs the head's dict");
	if (!(a->cls_logits = head_output(c, heads, "cls_logits", 0)) ||
	    !(a->bbox_regression = head_output(c, heads, "bbox_regression", 4)) ||
	    (family == ONESTAGE_FCOS &&
	     !(a->bbox_ctrness = head_output(c, heads, "bbox_ctrness", 1))))
		return -1;
	const struct shape *ls = op_shape(a->cls_logits);
	a->images = ls->dim[0];
	a->anchors_total = ls->dim[1];
	a->classes = ls->dim[2];
	if (!shape_equal(op_shape(a->bbox_regression),
	                 &(struct shape){3, {a->images, a->anchors_total, 4}, 0}))
		return op_mismatch(c, "cls_logits and bbox_regression disagree on images or anchors");
	a->anchors = op_tensor(c, 1, "anchors");
	a->image_sizes = op_arg(c, 2, "image_sizes");
	if (!a->anchors)
		return -1;
	if (!shape_equal(op_shape(a->anchors), &(struct shape){2, {a->anchors_total, 4}, 0}))
		return op_mismatch(c, "anchors are not [%lld, 4]", (long long)a->anchors_total);
	if (!a->image_sizes || a->image_sizes->kind != VAL_LIST ||
	    a->image_sizes->u.list.n != a->images)
		return op_fail(c, "image_sizes needs one (h, w) per image");
	for (int64_t i = 0; i < a->images; i++) {
		int64_t h, w;
		if (onestage_image_size(a, i, &h, &w) < 0)
			return op_fail(c, "image_sizes needs one (h, w) per image");
	}
	int next = 3;
	if (family == ONESTAGE_SSD) {
		a->levels = 1;
		a->level_anchors[0] = a->anchors_total;
	} else if (level_anchors(c, op_arg(c, next++, "features"), a) < 0) {
		return -1;
	}
	if (float_kw(c, next, "score_thresh", defaults[family][0], &a->score_thresh) < 0 ||
	    float_kw(c, next + 1, "nms_thresh", defaults[family][1], &a->nms_thresh) < 0 ||
	    op_int(c, next + 2, "detections_per_img", counts[family][0], &a->detections_per_img) <
	        0 ||
	    op_int(c, next + 3, "topk_candidates", counts[family][1], &a->topk_candidates) < 0)
		return -1;
	if (a->detections_per_img < 0 || a->topk_candidates < 0)
		return op_fail(c, "detections_per_img and topk_candidates need counts >= 0");
	memcpy(a->box_weights, weights[family], sizeof a->box_weights);
	const struct value *bw = family == ONESTAGE_FCOS ? NULL : op_arg(c, next + 4, "box_weights");
	if (bw && bw->kind != VAL_NONE) {
		if (bw->kind != VAL_LIST || bw->u.list.n != 4)
			return op_fail(c, "box_weights needs 4 numbers");
		for (int k = 0; k < 4; k++)
			if (!value_number(&bw->u.list.items[k], &a->box_weights[k]))
				return op_fail(c, "box_weights needs 4 numbers");
	}
	return 0;
}

int onestage_image_size(const struct onestage_args *a, int64_t i, int64_t *h, int64_t *w)
{
	const struct value *p = &a->image_sizes->u.list.items[i];
	if (p->kind != VAL_LIST || p->u.list.n != 2 || p->u.list.items[0].kind != VAL_INT ||
	    p->u.list.items[1].kind != VAL_INT)
		return -1;
	*h = p->u.list.items[0].u.i;
	*w = p->u.list.items[1].u.i;
	return 0;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* The most detections an image can have: the candidates each level (each
 * class but the background for SSD) passes to the NMS, at most
 * detections_per_img. */
static int64_t detections_bound(const struct onestage_args *a)
{
	int64_t n = 0;
	if (a->family == ONESTAGE_SSD) {
		n = op_mul_sat(a->classes > 0 ? a->classes - 1 : 0,
		               min64(a->topk_candidates, a->anchors_total));
	} else {
		for (int l = 0; l < a->levels; l++)
			n += min64(a->topk_candidates, op_mul_sat(a->level_anchors[l], a->classes));
	}
	return min64(n, a->detections_per_img);
}

static int postprocess(struct op_call *c, enum onestage_family family)
{
	struct onestage_args a;
	if (onestage_args(c, family, &a) < 0)
		return -1;
	int64_t k = detections_bound(&a);
	static const char *const keys[] = {"boxes", "scores", "labels"};
	const struct shape shapes[] = {{2, {k, 4}, 0}, {1, {k}, 0}, {1, {k}, 0}};
	const enum dtype dtypes[] = {DT_F32, DT_F32, DT_I64};
	struct value out = value_list((int)a.images);
	for (int64_t i = 0; i < a.images; i++) {
		struct value d = value_dict(3, keys);
		for (int j = 0; j < 3; j++) {
			op_out_tensor(c, dtypes[j], &shapes[j], NULL);
			c->out.u.tensor.t.shape.bounded = 1; /* the detections: dim 0 */
			d.u.list.items[j] = c->out;
			c->out = value_none();
		}
		out.u.list.items[i] = d;
	}
	op_set_out(c, out);
	return 0;
}

static int fn_retinanet_postprocess(struct op_call *c)
{
	return postprocess(c, ONESTAGE_RETINANET);
}

static int fn_fcos_postprocess(struct op_call *c)
{
	return postprocess(c, ONESTAGE_FCOS);
}

static int fn_ssd_postprocess(struct op_call *c)
{
	return postprocess(c, ONESTAGE_SSD);
}

REGISTRY_FUNCTION(retinanet_postprocess_detections, fn_retinanet_postprocess,
                  "RetinaNet.postprocess_detections: per level sigmoid scores above "
                  "score_thresh, topk_candidates, boxes decoded (BoxCoder) and clipped; "
                  "batched NMS; detections_per_img");
REGISTRY_FUNCTION(fcos_postprocess_detections, fn_fcos_postprocess,
                  "FCOS.postprocess_detections: per level sqrt(sigmoid(cls) * "
                  "sigmoid(centerness)) above score_thresh, topk_candidates, boxes decoded "
                  "(BoxLinearCoder) and clipped; batched NMS; detections_per_img");
REGISTRY_FUNCTION(ssd_postprocess_detections, fn_ssd_postprocess,
                  "SSD.postprocess_detections: boxes decoded (BoxCoder) and clipped; per "
                  "class softmax scores above score_thresh, topk_candidates; batched NMS; "
                  "detections_per_img");

const struct op_def *const registry_onestage_defs[] = {
    &def_default_box,
    &fn_def_retinanet_postprocess_detections,
    &fn_def_fcos_postprocess_detections,
    &fn_def_ssd_postprocess_detections,
    NULL,
};
