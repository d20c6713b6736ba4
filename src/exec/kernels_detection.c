/* kernels_detection.c - the kernels of torchvision's two-stage detectors:
 * GeneralizedRCNNTransform, AnchorGenerator, filter_proposals,
 * postprocess_detections, maskrcnn_inference, keypointrcnn_inference,
 * resize_boxes, paste_masks_in_image and resize_keypoints
 * (registry_detection.c says what each computes).
 *
 * Every step follows torchvision 0.14's code in float32, operation for
 * operation: the transform's scale, the anchors' rounding (half to even),
 * BoxCoder.decode (divisions by the weights, dw and dh clamped to
 * log(1000 / 16)), clip_boxes_to_image, remove_small_boxes, and
 * batched_nms, which offsets each group's boxes by its index times (the
 * largest coordinate + 1) up to 1000 boxes and runs NMS per group beyond,
 * as torchvision does on the CPU. Sorts are by score, descending, ties in
 * index order.
 *
 * A proposal, detection or mask tensor is planned at its upper bound; the
 * kernel writes the count it found into the tensor's shape, which later
 * steps and graft run's outputs see. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry_detection.h"
#include "core/util.h"
#include "exec/kernels.h"
#include "exec/kernels_boxes.h"
#include "exec/kernels_resample.h"

/* ---- GeneralizedRCNNTransform ---- */

/* The module's image_mean or image_std, item i, as float32. */
static float channel_number(const struct module *m, const char *name, int i)
{
	double v = 0;
	value_number(&module_attr(m, name)->u.list.items[i], &v);
	return (float)v;
}

static int transform_prepare(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	struct rcnn_sizes r;
	rcnn_transform_sizes(op->call.module, x->shape.dim[2], x->shape.dim[3], &r);
	struct resize rs = {RESIZE_LINEAR, false, 2, {r.h, r.w, 0}, {0, 0, 0}};
	size_t scratch;
	op->state = resize_state_new(&rs, &x->shape, &scratch);
	int64_t nc = x->shape.dim[0] * x->shape.dim[1];
	op->scratch_bytes = (size_t)(shape_numel(&x->shape) + nc * r.h * r.w) * sizeof(float) + scratch;
	return 0;
}

/* (image - mean) / std per channel, bilinear resize, zero padding to the
 * output's size. */
static int transform_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	int64_t n = x->shape.dim[0], ch = x->shape.dim[1], plane = x->shape.dim[2] * x->shape.dim[3];
	struct rcnn_sizes r;
	rcnn_transform_sizes(op->call.module, x->shape.dim[2], x->shape.dim[3], &r);
	float *norm = op->scratch, *resized = norm + n * ch * plane;
	const float *src = kt_f32(x);
	for (int64_t i = 0; i < n * ch; i++) {
		float mean = channel_number(op->call.module, "image_mean", (int)(i % ch));
		float std = channel_number(op->call.module, "image_std", (int)(i % ch));
		for (int64_t k = 0; k < plane; k++)
			norm[i * plane + k] = (src[i * plane + k] - mean) / std;
	}
	resize_apply(op->state, norm, resized, resized + n * ch * r.h * r.w);
	float *dst = kt_f32(y);
	int64_t ph = y->shape.dim[2], pw = y->shape.dim[3];
	memset(dst, 0, (size_t)(n * ch * ph * pw) * sizeof(float));
	for (int64_t i = 0; i < n * ch; i++)
		for (int64_t h = 0; h < r.h; h++)
			memcpy(dst + (i * ph + h) * pw, resized + (i * r.h + h) * r.w,
			       (size_t)r.w * sizeof(float));
	return 0;
}

/* ---- AnchorGenerator ---- */

/* The numbers of level l of the module's tuple-of-tuples attribute as
 * float32 into out; returns the count. */
static int level_floats(const struct module *m, const char *name, int level, float *out)
{
	const struct value *v = &module_attr(m, name)->u.list.items[level];
	if (v->kind != VAL_LIST) {
		double d = 0;
		value_number(v, &d);
		out[0] = (float)d;
		return 1;
	}
	for (int i = 0; i < v->u.list.n; i++) {
		double d = 0;
		value_number(&v->u.list.items[i], &d);
		out[i] = (float)d;
	}
	return v->u.list.n;
}

/* generate_anchors: the cell anchors of level l, centred on 0, rounded
 * half to even, into base[A * 4]. */
static void cell_anchors(const struct module *m, int level, float *base)
{
	float sizes[16], ratios[16];
	int ns = level_floats(m, "sizes", level, sizes);
	int nr = level_floats(m, "aspect_ratios", level, ratios);
	for (int i = 0; i < nr; i++) {
		float hr = sqrtf(ratios[i]), wr = 1 / hr;
		for (int j = 0; j < ns; j++) {
			float ws = wr * sizes[j], hs = hr * sizes[j];
			float *b = base + (i * ns + j) * 4;
			b[0] = nearbyintf(-ws / 2);
			b[1] = nearbyintf(-hs / 2);
			b[2] = nearbyintf(ws / 2);
			b[3] = nearbyintf(hs / 2);
		}
	}
}

static int anchor_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct module *m = op->call.module;
	const struct tensor *img = kop_tensor(op, 0, "image_list");
	const struct value *f = op_arg(&op->call, 1, "feature_maps");
	float *out = kt_f32(kop_out(op, 0));
	for (int l = 0; l < f->u.list.n; l++) {
		const struct shape *fs = &f->u.list.items[l].u.tensor.t.shape;
		int64_t gh = fs->dim[2], gw = fs->dim[3];
		float sh = (float)(img->shape.dim[2] / gh), sw = (float)(img->shape.dim[3] / gw);
		float base[16 * 16 * 4];
		cell_anchors(m, l, base);
		int64_t a = anchor_cell_count(m, l);
		for (int64_t y = 0; y < gh; y++)
			for (int64_t x = 0; x < gw; x++) {
				float sx = (float)x * sw, sy = (float)y * sh;
				for (int64_t k = 0; k < a; k++, out += 4) {
					out[0] = sx + base[k * 4];
					out[1] = sy + base[k * 4 + 1];
					out[2] = sx + base[k * 4 + 2];
					out[3] = sy + base[k * 4 + 3];
				}
			}
	}
	return 0;
}

/* ---- candidates ---- */

/* BoxCoder with torchvision's default clip, log(1000 / 16). */
static struct kboxes_coder coder(const float w[4])
{
	return (struct kboxes_coder){w[0], w[1], w[2], w[3], (float)log(1000.0 / 16)};
}

/* clip_boxes_to_image for an image of h x w. */
static void clip_box(float *b, int64_t h, int64_t w)
{
	float fw = (float)w, fh = (float)h;
	for (int k = 0; k < 4; k += 2) {
		b[k] = b[k] < 0 ? 0 : b[k] > fw ? fw : b[k];
		b[k + 1] = b[k + 1] < 0 ? 0 : b[k + 1] > fh ? fh : b[k + 1];
	}
}

/* remove_small_boxes' test: both sides at least min_size. */
static bool big_enough(const float *b, float min_size)
{
	return b[2] - b[0] >= min_size && b[3] - b[1] >= min_size;
}

/* The candidate boxes of one image, in the order torchvision keeps them,
 * with their scores and groups (level or class), and room for
 * batched_nms. */
struct candidates {
	float *boxes, *scores;
	int64_t *groups;
	int64_t n;
	int64_t *keep;
	void *nms_scratch;
};

/* Carves the candidate arrays for up to n boxes out of scratch p (NULL:
 * only counts); returns the bytes used. */
static size_t candidates_carve(struct candidates *c, char *p, int64_t n)
{
	size_t sizes[] = {(size_t)n * 4 * sizeof(float), (size_t)n * sizeof(float),
	                  (size_t)n * sizeof(int64_t), (size_t)n * sizeof(int64_t),
	                  kboxes_nms_scratch(n)};
	void **slots[] = {(void **)&c->boxes, (void **)&c->scores, (void **)&c->groups,
	                  (void **)&c->keep, &c->nms_scratch};
	size_t used = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		if (p)
			*slots[i] = p + used;
		used += (sizes[i] + 63) / 64 * 64;
	}
	return used;
}

/* batched_nms of the candidates by group, then the first `limit` kept
 * written to boxes, scores and labels (the group, when labels is not
 * NULL), each of which gets the kept count as its size. */
static void write_kept(struct candidates *c, double thresh, int64_t limit, struct tensor *boxes,
                       struct tensor *scores, struct tensor *labels)
{
	int64_t kept = kboxes_batched_nms(c->boxes, c->scores, c->groups, c->n, thresh, c->keep,
	                                  c->nms_scratch);
	kept = kept < limit ? kept : limit;
	kept = kept < boxes->shape.dim[0] ? kept : boxes->shape.dim[0];
	float *b = kt_f32(boxes), *s = kt_f32(scores);
	int64_t *l = labels ? (int64_t *)tensor_data(labels) : NULL;
	for (int64_t r = 0; r < kept; r++) {
		int64_t i = c->keep[r];
		memcpy(b + r * 4, c->boxes + i * 4, 4 * sizeof(float));
		s[r] = c->scores[i];
		if (l)
			l[r] = c->groups[i];
	}
	boxes->shape.dim[0] = kept;
	scores->shape.dim[0] = kept;
	if (labels)
		labels->shape.dim[0] = kept;
}

/* An optional float keyword argument of a function call. */
static float kw_float(const struct kop *op, const char *kw, double def)
{
	const struct value *v = op_arg(&op->call, -1, kw);
	double d;
	return (float)(v && value_number(v, &d) ? d : def);
}

static int64_t kw_int(const struct kop *op, const char *kw, int64_t def)
{
	const struct value *v = op_arg(&op->call, -1, kw);
	return v && v->kind == VAL_INT ? v->u.i : def;
}

/* Image i's tensor of output j (a tuple of per-image tuples). */
static struct tensor *out_item(struct kop *op, int j, int i)
{
	return &op->call.out.u.list.items[j].u.list.items[i].u.tensor.t;
}

/* The (h, w) of item i of the image-sizes argument at pos. */
static void image_size(const struct kop *op, int pos, const char *kw, int i, int64_t hw[2])
{
	const struct value *sizes = op_arg(&op->call, pos, kw);
	value_ints(&sizes->u.list.items[i], hw, 2);
}

/* ---- filter_proposals ---- */

/* An objectness logit and its index in the level, for the level's top-k
 * (torch.topk: descending; equal logits in index order). */
struct scored {
	float score;
	int64_t index;
};

static int by_score(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The candidates one image can have, sum_l min(pre_nms_top_n, A_l H_l W_l);
 * *total gets sum_l A_l H_l W_l. */
static int64_t proposal_bound(const struct kop *op, int64_t *total)
{
	const struct value *obj = op_arg(&op->call, 0, "objectness");
	int64_t pre = kw_int(op, "pre_nms_top_n", 1000), kept = 0;
	*total = 0;
	for (int l = 0; l < obj->u.list.n; l++) {
		const struct shape *s = &obj->u.list.items[l].u.tensor.t.shape;
		int64_t a = s->dim[1] * s->dim[2] * s->dim[3];
		*total += a;
		kept += a < pre ? a : pre;
	}
	return kept;
}

static int filter_prepare(struct kop *op, struct error *e)
{
	(void)e;
	int64_t total, kept = proposal_bound(op, &total);
	struct candidates c;
	op->scratch_bytes = (size_t)total * sizeof(struct scored) + candidates_carve(&c, NULL, kept);
	return 0;
}

/* One image's candidates: the pre_nms_top_n best objectness logits of each
 * level, decoded on their anchors, clipped, sigmoid scores; small and low
 * ones dropped. */
static void proposal_candidates(const struct kop *op, int64_t img, const int64_t hw[2],
                                struct scored *level, struct candidates *c)
{
	const struct value *obj = op_arg(&op->call, 0, "objectness");
	const struct value *del = op_arg(&op->call, 1, "pred_bbox_deltas");
	const float *anchors = kt_f32(kop_tensor(op, 2, "anchors"));
	int64_t pre = kw_int(op, "pre_nms_top_n", 1000), offset = 0;
	float min_size = kw_float(op, "min_size", 1e-3), score_thresh = kw_float(op, "score_thresh", 0);
	const float ones[4] = {1, 1, 1, 1};
	struct kboxes_coder bc = coder(ones);
	c->n = 0;
	for (int l = 0; l < obj->u.list.n; l++) {
		const struct tensor *o = &obj->u.list.items[l].u.tensor.t;
		const struct tensor *d = &del->u.list.items[l].u.tensor.t;
		int64_t a = o->shape.dim[1], plane = o->shape.dim[2] * o->shape.dim[3], cnt = a * plane;
		const float *ol = kt_f32(o) + img * cnt, *dl = kt_f32(d) + img * cnt * 4;
		/* torchvision's order within a level: (y, x, anchor) */
		for (int64_t p = 0; p < plane; p++)
			for (int64_t k = 0; k < a; k++)
				level[p * a + k] = (struct scored){ol[k * plane + p], p * a + k};
		qsort(level, (size_t)cnt, sizeof *level, by_score);
		int64_t top = cnt < pre ? cnt : pre;
		for (int64_t t = 0; t < top; t++) {
			int64_t i = level[t].index, p = i / a, k = i % a;
			float *b = c->boxes + c->n * 4, codes[4];
			for (int q = 0; q < 4; q++)
				codes[q] = dl[(k * 4 + q) * plane + p];
			kboxes_decode(&bc, codes, anchors + (offset + i) * 4, 1, 1, b);
			clip_box(b, hw[0], hw[1]);
			float s = 1.0f / (1.0f + expf(-level[t].score));
			if (!big_enough(b, min_size) || !(s >= score_thresh))
				continue;
			c->scores[c->n] = s;
			c->groups[c->n] = l;
			c->n++;
		}
		offset += cnt;
	}
}

static int filter_run(struct kop *op, struct error *e)
{
	(void)e;
	int64_t total, kept = proposal_bound(op, &total);
	struct scored *level = op->scratch;
	struct candidates c;
	candidates_carve(&c, (char *)(level + total), kept);
	const struct value *out = &op->call.out;
	for (int i = 0; i < out->u.list.items[0].u.list.n; i++) {
		int64_t hw[2];
		image_size(op, 3, "image_sizes", i, hw);
		proposal_candidates(op, i, hw, level, &c);
		write_kept(&c, kw_float(op, "nms_thresh", 0.7), kw_int(op, "post_nms_top_n", 1000),
		           out_item(op, 0, i), out_item(op, 1, i), NULL);
	}
	return 0;
}

/* ---- postprocess_detections ---- */

/* Scratch for one proposal's softmax scores and decoded boxes. */
static size_t row_bytes(int64_t classes)
{
	return ((size_t)classes * 5 * sizeof(float) + 63) / 64 * 64;
}

static int postprocess_prepare(struct kop *op, struct error *e)
{
	(void)e;
	const struct value *props = op_arg(&op->call, 2, "proposals");
	int64_t classes = kop_tensor(op, 0, "class_logits")->shape.dim[1], most = 0;
	for (int i = 0; i < props->u.list.n; i++) {
		int64_t p = props->u.list.items[i].u.tensor.t.shape.dim[0];
		most = p > most ? p : most;
	}
	struct candidates c;
	op->scratch_bytes = row_bytes(classes) +
	                    candidates_carve(&c, NULL, most * (classes > 1 ? classes - 1 : 0));
	return 0;
}

/* softmax of n logits into p, as PyTorch computes it: exp(x - max) times
 * 1 / sum. */
static void softmax_row(const float *x, int64_t n, float *p)
{
	float top = x[0], sum = 0;
	for (int64_t k = 1; k < n; k++)
		top = x[k] > top ? x[k] : top;
	for (int64_t k = 0; k < n; k++) {
		p[k] = expf(x[k] - top);
		sum += p[k];
	}
	float inv = 1 / sum;
	for (int64_t k = 0; k < n; k++)
		p[k] *= inv;
}

/* One image's candidates: each proposal's box for every class but the
 * background, decoded with the weights, clipped; softmax scores above
 * score_thresh; small boxes dropped. */
static void detection_candidates(const struct kop *op, const float *logits, const float *reg,
                                 const float *props, int64_t rows, const int64_t hw[2],
                                 float *prob, struct candidates *c)
{
	int64_t classes = kop_tensor(op, 0, "class_logits")->shape.dim[1];
	float *decoded = prob + classes;
	float thresh = kw_float(op, "score_thresh", 0.05), w[4] = {10, 10, 5, 5};
	const struct value *wv = op_arg(&op->call, -1, "weights");
	for (int k = 0; wv && wv->kind == VAL_LIST && k < 4 && k < wv->u.list.n; k++) {
		double d;
		if (value_number(&wv->u.list.items[k], &d))
			w[k] = (float)d;
	}
	struct kboxes_coder bc = coder(w);
	c->n = 0;
	for (int64_t r = 0; r < rows; r++) {
		softmax_row(logits + r * classes, classes, prob);
		kboxes_decode(&bc, reg + r * classes * 4, props + r * 4, 1, classes, decoded);
		for (int64_t k = 1; k < classes; k++) {
			float *b = c->boxes + c->n * 4;
			memcpy(b, decoded + k * 4, 4 * sizeof(float));
			clip_box(b, hw[0], hw[1]);
			if (!(prob[k] > thresh) || !big_enough(b, 1e-2f))
				continue;
			c->scores[c->n] = prob[k];
			c->groups[c->n] = k;
			c->n++;
		}
	}
}

static int postprocess_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct value *props = op_arg(&op->call, 2, "proposals");
	int64_t classes = kop_tensor(op, 0, "class_logits")->shape.dim[1], most = 0;
	for (int i = 0; i < props->u.list.n; i++) {
		int64_t p = props->u.list.items[i].u.tensor.t.shape.dim[0];
		most = p > most ? p : most;
	}
	float *prob = op->scratch;
	struct candidates c;
	candidates_carve(&c, (char *)op->scratch + row_bytes(classes), most * (classes - 1));
	const float *logits = kt_f32(kop_tensor(op, 0, "class_logits"));
	const float *reg = kt_f32(kop_tensor(op, 1, "box_regression"));
	int64_t row = 0;
	for (int i = 0; i < props->u.list.n; i++) {
		const struct tensor *p = &props->u.list.items[i].u.tensor.t;
		int64_t rows = p->shape.dim[0], hw[2];
		image_size(op, 3, "image_shapes", i, hw);
		detection_candidates(op, logits + row * classes, reg + row * classes * 4, kt_f32(p),
		                     rows, hw, prob, &c);
		row += rows;
		write_kept(&c, kw_float(op, "nms_thresh", 0.5), kw_int(op, "detections_per_img", 100),
		           out_item(op, 0, i), out_item(op, 1, i), out_item(op, 2, i));
	}
	return 0;
}

/* ---- maskrcnn_inference ---- */

static int mask_inference_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_tensor(op, 0, "x");
	const struct value *labels = op_arg(&op->call, 1, "labels");
	int64_t k = x->shape.dim[1], plane = x->shape.dim[2] * x->shape.dim[3], row = 0;
	const float *src = kt_f32(x);
	for (int i = 0; i < labels->u.list.n; i++) {
		const struct tensor *l = &labels->u.list.items[i].u.tensor.t;
		struct tensor *out = &op->call.out.u.list.items[i].u.tensor.t;
		const int64_t *lab = (const int64_t *)tensor_data(l);
		float *dst = kt_f32(out);
		for (int64_t r = 0; r < l->shape.dim[0]; r++, row++) {
			const float *m = src + (row * k + lab[r]) * plane;
			for (int64_t q = 0; q < plane; q++)
				dst[r * plane + q] = 1.0f / (1.0f + expf(-m[q]));
		}
		out->shape.dim[0] = l->shape.dim[0];
	}
	return 0;
}

/* ---- paste_masks_in_image ---- */

/* expand_boxes(box, scale), as int64: the box grown about its centre. */
static void expanded_box(const float *b, float scale, int64_t *out)
{
	float wh = (b[2] - b[0]) * 0.5f, hh = (b[3] - b[1]) * 0.5f;
	float xc = (b[2] + b[0]) * 0.5f, yc = (b[3] + b[1]) * 0.5f;
	wh *= scale;
	hh *= scale;
	out[0] = (int64_t)(xc - wh);
	out[1] = (int64_t)(yc - hh);
	out[2] = (int64_t)(xc + wh);
	out[3] = (int64_t)(yc + hh);
}

static int paste_prepare(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *m = kop_tensor(op, 0, "masks");
	int64_t pad = kw_int(op, "padding", 1);
	op->scratch_bytes = (size_t)((m->shape.dim[2] + 2 * pad) * (m->shape.dim[3] + 2 * pad)) *
	                    sizeof(float);
	return 0;
}

/* Each mask, padded by `padding` zeros (expand_masks), resized (bilinear)
 * to its grown box and pasted where the box lies on the image
 * (paste_mask_in_image). */
static int paste_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *masks = kop_tensor(op, 0, "masks");
	const float *boxes = kt_f32(kop_tensor(op, 1, "boxes"));
	struct tensor *out = kop_out(op, 0);
	int64_t pad = kw_int(op, "padding", 1), s = masks->shape.dim[3], ps = s + 2 * pad;
	int64_t n = masks->shape.dim[0], ih = out->shape.dim[2], iw = out->shape.dim[3];
	float scale = (float)((double)ps / (double)s), *padded = op->scratch;
	out->shape.dim[0] = n;
	float *dst = kt_f32(out);
	memset(dst, 0, (size_t)(n * ih * iw) * sizeof(float));
	for (int64_t r = 0; r < n; r++) {
		memset(padded, 0, (size_t)(ps * ps) * sizeof(float));
		const float *m = kt_f32(masks) + r * s * s;
		for (int64_t y = 0; y < s; y++)
			memcpy(padded + (y + pad) * ps + pad, m + y * s, (size_t)s * sizeof(float));
		int64_t b[4];
		expanded_box(boxes + r * 4, scale, b);
		int64_t w = b[2] - b[0] + 1, h = b[3] - b[1] + 1;
		w = w > 1 ? w : 1;
		h = h > 1 ? h : 1;
		int64_t x0 = b[0] > 0 ? b[0] : 0, x1 = b[2] + 1 < iw ? b[2] + 1 : iw;
		int64_t y0 = b[1] > 0 ? b[1] : 0, y1 = b[3] + 1 < ih ? b[3] + 1 : ih;
		float *img = dst + r * ih * iw;
		for (int64_t y = y0; y < y1; y++) {
			struct linear_tap ty = resize_linear_tap(ps, h, y - b[1], false, 0);
			for (int64_t x = x0; x < x1; x++) {
				struct linear_tap tx = resize_linear_tap(ps, w, x - b[0], false, 0);
				const float *r0 = padded + ty.i0 * ps, *r1 = padded + ty.i1 * ps;
				float v0 = (1 - tx.l1) * r0[tx.i0] + tx.l1 * r0[tx.i1];
				float v1 = (1 - tx.l1) * r1[tx.i0] + tx.l1 * r1[tx.i1];
				img[y * iw + x] = (1 - ty.l1) * v0 + ty.l1 * v1;
			}
		}
	}
	return 0;
}

/* ---- keypointrcnn_inference ---- */

/* heatmaps_to_keypoints for one box: each of the k maps (s x s) resized
 * (bicubic) to the box's ceil size, its first maximum as the keypoint
 * (pixel centre, scaled back to the box's size) and the value there as
 * the score. */
static void box_keypoints(const float *maps, int64_t k, int64_t s, const float *box, float *xy,
                          float *scores)
{
	float w = box[2] - box[0], h = box[3] - box[1];
	w = w < 1 ? 1 : w;
	h = h < 1 ? 1 : h;
	int64_t mw = (int64_t)ceilf(w), mh = (int64_t)ceilf(h);
	float wc = w / (float)mw, hc = h / (float)mh;
	for (int64_t j = 0; j < k; j++) {
		const float *map = maps + j * s * s;
		float best = 0;
		int64_t bx = 0, by = 0;
		for (int64_t y = 0; y < mh; y++) {
			struct cubic_tap ty = resize_cubic_tap(s, mh, y, false, 0);
			for (int64_t x = 0; x < mw; x++) {
				struct cubic_tap tx = resize_cubic_tap(s, mw, x, false, 0);
				float v = 0;
				for (int q = 0; q < 4; q++) {
					const float *row = map + ty.i[q] * s;
					float r = 0;
					for (int p = 0; p < 4; p++)
						r += tx.w[p] * row[tx.i[p]];
					v += ty.w[q] * r;
				}
				if ((y == 0 && x == 0) || v > best) {
					best = v;
					bx = x;
					by = y;
				}
			}
		}
		xy[j * 3] = ((float)bx + 0.5f) * wc + box[0];
		xy[j * 3 + 1] = ((float)by + 0.5f) * hc + box[1];
		xy[j * 3 + 2] = 1;
		scores[j] = best;
	}
}

static int keypoint_inference_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_tensor(op, 0, "x");
	const struct value *boxes = op_arg(&op->call, 1, "boxes");
	int64_t k = x->shape.dim[1], s = x->shape.dim[3], row = 0;
	for (int i = 0; i < boxes->u.list.n; i++) {
		const struct tensor *b = &boxes->u.list.items[i].u.tensor.t;
		struct tensor *kp = out_item(op, 0, i), *sc = out_item(op, 1, i);
		for (int64_t r = 0; r < b->shape.dim[0]; r++, row++)
			box_keypoints(kt_f32(x) + row * k * s * s, k, s, kt_f32(b) + r * 4,
			              kt_f32(kp) + r * k * 3, kt_f32(sc) + r * k);
		kp->shape.dim[0] = b->shape.dim[0];
		sc->shape.dim[0] = b->shape.dim[0];
	}
	return 0;
}

/* ---- resize_boxes, resize_keypoints ---- */

/* Boxes [K, 4] (x1, y1, x2, y2) or keypoints [D, K, 3] (x, y, visibility):
 * x times new_w / old_w, y times new_h / old_h (float32 ratios). */
static int resize_points_run(struct kop *op, struct error *e)
{
	(void)e;
	int64_t from[2], to[2];
	value_ints(op_arg(&op->call, 1, "original_size"), from, 2);
	value_ints(op_arg(&op->call, 2, "new_size"), to, 2);
	float rh = (float)to[0] / (float)from[0], rw = (float)to[1] / (float)from[1];
	const struct tensor *t = kop_tensor(op, 0, NULL);
	int64_t stride = t->shape.dim[t->shape.ndim - 1], n = shape_numel(&t->shape);
	const float box[4] = {rw, rh, rw, rh}, point[3] = {rw, rh, 1};
	const float *f = stride == 4 ? box : point;
	const float *x = kt_f32(t);
	float *y = kt_f32(kop_out(op, 0));
	for (int64_t i = 0; i < n; i++)
		y[i] = x[i] * f[i % stride];
	return 0;
}

const struct kernel kernels_detection[] = {
    {"GeneralizedRCNNTransform", OP_MODULE, 0, transform_prepare, transform_run},
    {"AnchorGenerator", OP_MODULE, 0, NULL, anchor_run},
    {"filter_proposals", OP_FUNCTION, 0, filter_prepare, filter_run},
    {"postprocess_detections", OP_FUNCTION, KF_ANY_DTYPE, postprocess_prepare, postprocess_run},
    {"resize_boxes", OP_FUNCTION, KF_INPLACE, NULL, resize_points_run},
    {"resize_keypoints", OP_FUNCTION, KF_INPLACE, NULL, resize_points_run},
    {"keypointrcnn_inference", OP_FUNCTION, 0, NULL, keypoint_inference_run},
    {"maskrcnn_inference", OP_FUNCTION, KF_INT_INDEX, NULL, mask_inference_run},
    {"paste_masks_in_image", OP_FUNCTION, 0, paste_prepare, paste_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
