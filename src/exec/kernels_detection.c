/* kernels_detection.c - the kernels of torchvision's two-stage detectors:
 * GeneralizedRCNNTransform, AnchorGenerator, filter_proposals,
 * postprocess_detections and resize_boxes (registry_detection.c says what
 * each computes).
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
 * A proposal or detection tensor has the shape of its upper bound; the
 * rows past the ones found are zero (zero-size proposals, which
 * postprocess_detections drops as small boxes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry_detection.h"
#include "core/util.h"
#include "exec/kernels.h"
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

/* ---- boxes ---- */

/* BoxCoder.decode_single of one box: deltas d (dx, dy, dw, dh) divided by
 * the weights w, on the reference box ref, into out. */
static void decode_box(const float *ref, float dx, float dy, float dw, float dh, const float *w,
                       float *out)
{
	const float clip = (float)log(1000.0 / 16);
	float width = ref[2] - ref[0], height = ref[3] - ref[1];
	float cx = ref[0] + 0.5f * width, cy = ref[1] + 0.5f * height;
	dx = dx / w[0];
	dy = dy / w[1];
	dw = dw / w[2];
	dh = dh / w[3];
	dw = dw < clip ? dw : clip;
	dh = dh < clip ? dh : clip;
	float pcx = dx * width + cx, pcy = dy * height + cy;
	float pw = expf(dw) * width, ph = expf(dh) * height;
	float hw = 0.5f * pw, hh = 0.5f * ph;
	out[0] = pcx - hw;
	out[1] = pcy - hh;
	out[2] = pcx + hw;
	out[3] = pcy + hh;
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

/* A candidate box: its score and its index. */
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

/* batched_nms(boxes[n * 4], scores[n], groups[n], thresh): writes the kept
 * indices, best score first, into keep and returns their count. order
 * (n), shifted (n * 4 floats) and gone (n bytes) are scratch. */
static int64_t batched_nms(const float *boxes, const float *scores, const int64_t *groups,
                           int64_t n, float thresh, struct scored *order, float *shifted,
                           unsigned char *gone, int64_t *keep)
{
	float top = 0;
	for (int64_t i = 0; i < n * 4; i++)
		top = i == 0 || boxes[i] > top ? boxes[i] : top;
	bool offset = n * 4 <= 4000;
	for (int64_t i = 0; i < n; i++) {
		float o = offset ? (float)groups[i] * (top + 1.0f) : 0;
		for (int k = 0; k < 4; k++)
			shifted[i * 4 + k] = boxes[i * 4 + k] + o;
		order[i] = (struct scored){scores[i], i};
		gone[i] = 0;
	}
	qsort(order, (size_t)n, sizeof *order, by_score);
	int64_t kept = 0;
	for (int64_t a = 0; a < n; a++) {
		int64_t i = order[a].index;
		if (gone[i])
			continue;
		keep[kept++] = i;
		const float *bi = shifted + i * 4;
		float ai = (bi[2] - bi[0]) * (bi[3] - bi[1]);
		for (int64_t b = a + 1; b < n; b++) {
			int64_t j = order[b].index;
			if (gone[j] || groups[j] != groups[i])
				continue;
			const float *bj = shifted + j * 4;
			float xx1 = bi[0] > bj[0] ? bi[0] : bj[0], yy1 = bi[1] > bj[1] ? bi[1] : bj[1];
			float xx2 = bi[2] < bj[2] ? bi[2] : bj[2], yy2 = bi[3] < bj[3] ? bi[3] : bj[3];
			float w = xx2 - xx1 > 0 ? xx2 - xx1 : 0, h = yy2 - yy1 > 0 ? yy2 - yy1 : 0;
			float inter = w * h, aj = (bj[2] - bj[0]) * (bj[3] - bj[1]);
			if (inter / (ai + aj - inter) > thresh)
				gone[j] = 1;
		}
	}
	return kept;
}

/* The candidates of one image, in the order torchvision keeps them. */
struct candidates {
	float *boxes, *scores;
	int64_t *groups;
	int64_t n;
	/* batched_nms's scratch and result */
	struct scored *order;
	float *shifted;
	unsigned char *gone;
	int64_t *keep;
};

/* Carves the candidate arrays for up to n boxes out of scratch p; returns
 * the bytes used (p NULL: only counts). */
static size_t candidates_carve(struct candidates *c, char *p, int64_t n)
{
	size_t sizes[] = {(size_t)n * 4 * sizeof(float), (size_t)n * sizeof(float),
	                  (size_t)n * sizeof(int64_t),   (size_t)n * sizeof(struct scored),
	                  (size_t)n * 4 * sizeof(float), (size_t)n * sizeof(int64_t),
	                  (size_t)n};
	void **slots[] = {(void **)&c->boxes, (void **)&c->scores, (void **)&c->groups,
	                  (void **)&c->order, (void **)&c->shifted, (void **)&c->keep,
	                  (void **)&c->gone};
	size_t used = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		if (p)
			*slots[i] = p + used;
		used += (sizes[i] + 63) / 64 * 64;
	}
	return used;
}

/* Writes the first `limit` kept candidates (after batched_nms with thresh)
 * into boxes, scores and, when not NULL, labels (as int64), zeroing the
 * rows past them up to `rows`. */
static void write_kept(struct candidates *c, float thresh, int64_t limit, int64_t rows,
                       float *boxes, float *scores, int64_t *labels)
{
	int64_t kept = batched_nms(c->boxes, c->scores, c->groups, c->n, thresh, c->order,
	                           c->shifted, c->gone, c->keep);
	if (kept > limit)
		kept = limit;
	memset(boxes, 0, (size_t)rows * 4 * sizeof(float));
	memset(scores, 0, (size_t)rows * sizeof(float));
	if (labels)
		memset(labels, 0, (size_t)rows * sizeof(int64_t));
	for (int64_t r = 0; r < kept && r < rows; r++) {
		int64_t i = c->keep[r];
		memcpy(boxes + r * 4, c->boxes + i * 4, 4 * sizeof(float));
		scores[r] = c->scores[i];
		if (labels)
			labels[r] = c->groups[i];
	}
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

/* The (h, w) of item i of the image-sizes argument at pos. */
static void image_size(const struct kop *op, int pos, const char *kw, int i, int64_t hw[2])
{
	const struct value *sizes = op_arg(&op->call, pos, kw);
	value_ints(&sizes->u.list.items[i], hw, 2);
}

/* ---- filter_proposals ---- */

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
			float *b = c->boxes + c->n * 4;
			decode_box(anchors + (offset + i) * 4, dl[(k * 4) * plane + p],
			           dl[(k * 4 + 1) * plane + p], dl[(k * 4 + 2) * plane + p],
			           dl[(k * 4 + 3) * plane + p], ones, b);
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
		struct tensor *boxes = (struct tensor *)&out->u.list.items[0].u.list.items[i].u.tensor.t;
		struct tensor *scores = (struct tensor *)&out->u.list.items[1].u.list.items[i].u.tensor.t;
		write_kept(&c, kw_float(op, "nms_thresh", 0.7), kw_int(op, "post_nms_top_n", 1000),
		           boxes->shape.dim[0], kt_f32(boxes), kt_f32(scores), NULL);
	}
	return 0;
}

/* ---- postprocess_detections ---- */

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
	op->scratch_bytes = (size_t)classes * sizeof(float) +
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
	float thresh = kw_float(op, "score_thresh", 0.05), w[4] = {10, 10, 5, 5};
	const struct value *wv = op_arg(&op->call, -1, "weights");
	for (int k = 0; wv && wv->kind == VAL_LIST && k < 4 && k < wv->u.list.n; k++) {
		double d;
		if (value_number(&wv->u.list.items[k], &d))
			w[k] = (float)d;
	}
	c->n = 0;
	for (int64_t r = 0; r < rows; r++) {
		softmax_row(logits + r * classes, classes, prob);
		const float *d = reg + r * classes * 4;
		for (int64_t k = 1; k < classes; k++) {
			float *b = c->boxes + c->n * 4;
			decode_box(props + r * 4, d[k * 4], d[k * 4 + 1], d[k * 4 + 2], d[k * 4 + 3], w,
			           b);
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
	candidates_carve(&c, (char *)op->scratch + (classes * sizeof(float) + 63) / 64 * 64,
	                 most * (classes - 1));
	const float *logits = kt_f32(kop_tensor(op, 0, "class_logits"));
	const float *reg = kt_f32(kop_tensor(op, 1, "box_regression"));
	const struct value *out = &op->call.out;
	int64_t row = 0;
	for (int i = 0; i < props->u.list.n; i++) {
		const struct tensor *p = &props->u.list.items[i].u.tensor.t;
		int64_t rows = p->shape.dim[0], hw[2];
		image_size(op, 3, "image_shapes", i, hw);
		detection_candidates(op, logits + row * classes, reg + row * classes * 4, kt_f32(p),
		                     rows, hw, prob, &c);
		row += rows;
		struct tensor *boxes = (struct tensor *)&out->u.list.items[0].u.list.items[i].u.tensor.t;
		struct tensor *scores = (struct tensor *)&out->u.list.items[1].u.list.items[i].u.tensor.t;
		struct tensor *labels = (struct tensor *)&out->u.list.items[2].u.list.items[i].u.tensor.t;
		write_kept(&c, kw_float(op, "nms_thresh", 0.5), kw_int(op, "detections_per_img", 100),
		           boxes->shape.dim[0], kt_f32(boxes), kt_f32(scores),
		           (int64_t *)tensor_data(labels));
	}
	return 0;
}

/* ---- resize_boxes ---- */

static int resize_boxes_run(struct kop *op, struct error *e)
{
	(void)e;
	int64_t from[2], to[2];
	value_ints(op_arg(&op->call, 1, "original_size"), from, 2);
	value_ints(op_arg(&op->call, 2, "new_size"), to, 2);
	float rh = (float)to[0] / (float)from[0], rw = (float)to[1] / (float)from[1];
	const struct tensor *b = kop_tensor(op, 0, "boxes");
	const float *x = kt_f32(b);
	float *y = kt_f32(kop_out(op, 0));
	for (int64_t r = 0; r < b->shape.dim[0]; r++) {
		y[r * 4] = x[r * 4] * rw;
		y[r * 4 + 1] = x[r * 4 + 1] * rh;
		y[r * 4 + 2] = x[r * 4 + 2] * rw;
		y[r * 4 + 3] = x[r * 4 + 3] * rh;
	}
	return 0;
}

const struct kernel kernels_detection[] = {
    {"GeneralizedRCNNTransform", OP_MODULE, 0, transform_prepare, transform_run},
    {"AnchorGenerator", OP_MODULE, 0, NULL, anchor_run},
    {"filter_proposals", OP_FUNCTION, 0, filter_prepare, filter_run},
    {"postprocess_detections", OP_FUNCTION, KF_ANY_DTYPE, postprocess_prepare, postprocess_run},
    {"resize_boxes", OP_FUNCTION, KF_INPLACE, NULL, resize_boxes_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
