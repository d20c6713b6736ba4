/* kernels_boxes.c - the kernels of torchvision.ops (registry_boxes.c) and
 * the box helpers of kernels_boxes.h.
 *
 * A kernel whose output size depends on the data (nms) writes its exact
 * size into its output's shape; the executor carries it to later steps
 * (exec_bounds.c). Its capacity is its bound, read from its arguments. */
#include "exec/kernels_boxes.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry_boxes.h"
#include "exec/kernels.h"

/* ---- helpers ---- */

static float area(const float *b)
{
	return (b[2] - b[0]) * (b[3] - b[1]);
}

/* The IoU of a (of area area_a) and b (area_b), in torchvision's order:
 * inter / (area_a + area_b - inter). */
static float iou_with_areas(const float *a, float area_a, const float *b, float area_b)
{
	float w = fmaxf(0.0f, fminf(a[2], b[2]) - fmaxf(a[0], b[0]));
	float h = fmaxf(0.0f, fminf(a[3], b[3]) - fmaxf(a[1], b[1]));
	float inter = w * h;
	return inter / (area_a + area_b - inter);
}

float kboxes_iou(const float *a, const float *b)
{
	return iou_with_areas(a, area(a), b, area(b));
}

size_t kboxes_nms_scratch(int64_t n)
{
	/* order, its merge buffer, a class's kept indices and its members
	 * (int64); suppressed (bytes); a class's boxes and scores, or the
	 * offset boxes (floats) */
	return (size_t)n * (4 * sizeof(int64_t) + 1 + 5 * sizeof(float)) + 8;
}

static bool higher_score(const void *scores, int64_t b, int64_t a)
{
	return ((const float *)scores)[b] > ((const float *)scores)[a];
}

/* Sorts idx[n] by descending score, equal scores keeping their order (a
 * stable sort, as torchvision's nms sorts); tmp holds n. */
static void sort_by_score(int64_t *idx, int64_t *tmp, int64_t n, const float *scores)
{
	ksort_stable(idx, tmp, n, higher_score, scores);
}

/* The scratch of kboxes_nms_scratch, split. */
struct nms_scratch {
	int64_t *order, *tmp, *class_keep, *members;
	unsigned char *suppressed;
	float *floats;
};

static struct nms_scratch split_scratch(void *scratch, int64_t n)
{
	struct nms_scratch s;
	s.order = scratch;
	s.tmp = s.order + n;
	s.class_keep = s.tmp + n;
	s.members = s.class_keep + n;
	s.suppressed = (unsigned char *)(s.members + n);
	s.floats = (float *)(((uintptr_t)(s.suppressed + n) + 7) & ~(uintptr_t)7);
	return s;
}

static int64_t nms_with(const float *boxes, const float *scores, int64_t n, double iou_threshold,
                        int64_t *keep, const struct nms_scratch *s)
{
	if (n <= 0)
		return 0;
	for (int64_t i = 0; i < n; i++) {
		s->order[i] = i;
		s->suppressed[i] = 0;
	}
	sort_by_score(s->order, s->tmp, n, scores);
	int64_t kept = 0;
	for (int64_t a = 0; a < n; a++) {
		int64_t i = s->order[a];
		if (s->suppressed[i])
			continue;
		keep[kept++] = i;
		const float *bi = boxes + 4 * i;
		float ai = area(bi);
		for (int64_t b = a + 1; b < n; b++) {
			int64_t j = s->order[b];
			if (!s->suppressed[j] &&
			    iou_with_areas(bi, ai, boxes + 4 * j, area(boxes + 4 * j)) > iou_threshold)
				s->suppressed[j] = 1;
		}
	}
	return kept;
}

int64_t kboxes_nms(const float *boxes, const float *scores, int64_t n, double iou_threshold,
                   int64_t *keep, void *scratch)
{
	struct nms_scratch s = split_scratch(scratch, n);
	return nms_with(boxes, scores, n, iou_threshold, keep, &s);
}

/* batched_nms as one nms over boxes moved apart by class. */
static int64_t batched_by_offsets(const float *boxes, const float *scores, const int64_t *idxs,
                                  int64_t n, double iou_threshold, int64_t *keep,
                                  const struct nms_scratch *s)
{
	float mx = boxes[0];
	for (int64_t i = 1; i < 4 * n; i++)
		mx = fmaxf(mx, boxes[i]);
	for (int64_t i = 0; i < n; i++) {
		float offset = (float)idxs[i] * (mx + 1.0f);
		for (int c = 0; c < 4; c++)
			s->floats[4 * i + c] = boxes[4 * i + c] + offset;
	}
	return nms_with(s->floats, scores, n, iou_threshold, keep, s);
}

/* batched_nms as one nms per class: keep is first a mask of the kept. */
static int64_t batched_by_class(const float *boxes, const float *scores, const int64_t *idxs,
                                int64_t n, double iou_threshold, int64_t *keep,
                                const struct nms_scratch *s)
{
	float *cboxes = s->floats, *cscores = s->floats + 4 * n;
	memset(keep, 0, (size_t)n * sizeof *keep);
	for (int64_t i = 0; i < n; i++) {
		bool first = true;
		for (int64_t j = 0; j < i && first; j++)
			first = idxs[j] != idxs[i];
		if (!first)
			continue;
		int64_t m = 0;
		for (int64_t j = 0; j < n; j++)
			if (idxs[j] == idxs[i]) {
				s->members[m] = j;
				memcpy(cboxes + 4 * m, boxes + 4 * j, 4 * sizeof *boxes);
				cscores[m++] = scores[j];
			}
		int64_t k = nms_with(cboxes, cscores, m, iou_threshold, s->class_keep, s);
		for (int64_t t = 0; t < k; t++)
			keep[s->members[s->class_keep[t]]] = 1;
	}
	int64_t kept = 0;
	for (int64_t i = 0; i < n; i++)
		if (keep[i])
			keep[kept++] = i;
	sort_by_score(keep, s->tmp, kept, scores);
	return kept;
}

int64_t kboxes_batched_nms(const float *boxes, const float *scores, const int64_t *idxs,
                           int64_t n, double iou_threshold, int64_t *keep, void *scratch)
{
	if (n == 0)
		return 0;
	struct nms_scratch s = split_scratch(scratch, n);
	if (4 * n <= 4000)
		return batched_by_offsets(boxes, scores, idxs, n, iou_threshold, keep, &s);
	return batched_by_class(boxes, scores, idxs, n, iou_threshold, keep, &s);
}

void kboxes_decode(const struct kboxes_coder *bc, const float *rel_codes, const float *boxes,
                   int64_t n, int64_t k, float *out)
{
	for (int64_t i = 0; i < n; i++) {
		const float *b = boxes + 4 * i;
		float w = b[2] - b[0], h = b[3] - b[1];
		float cx = b[0] + 0.5f * w, cy = b[1] + 0.5f * h;
		for (int64_t j = 0; j < k; j++) {
			const float *r = rel_codes + 4 * (i * k + j);
			float dx = r[0] / bc->wx, dy = r[1] / bc->wy;
			float dw = r[2] / bc->ww, dh = r[3] / bc->wh;
			dw = dw > bc->clip ? bc->clip : dw; /* torch.clamp keeps NaN */
			dh = dh > bc->clip ? bc->clip : dh;
			float px = dx * w + cx, py = dy * h + cy;
			float pw = expf(dw) * w, ph = expf(dh) * h;
			float hw = 0.5f * pw, hh = 0.5f * ph;
			float *o = out + 4 * (i * k + j);
			o[0] = px - hw;
			o[1] = py - hh;
			o[2] = px + hw;
			o[3] = py + hh;
		}
	}
}

/* ---- kernels ---- */

/* The number argument at pos/kw as a double (the shape rule checked it). */
static double number_arg(const struct kop *op, int pos, const char *kw)
{
	double d = 0;
	const struct value *v = op_arg(&op->call, pos, kw);
	if (v)
		value_number(v, &d);
	return d;
}

static int nms_prepare(struct kop *op, struct error *e)
{
	(void)e;
	op->scratch_bytes = kboxes_nms_scratch(kop_tensor(op, 0, "boxes")->shape.dim[0]);
	return 0;
}

/* Sets the output's size to the kept count. */
static void kept_count(struct kop *op, int64_t kept)
{
	kop_out(op, 0)->shape.dim[0] = kept;
}

static int nms_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *boxes = kop_tensor(op, 0, "boxes");
	struct tensor *out = kop_out(op, 0);
	kept_count(op, kboxes_nms(kt_f32(boxes), kt_f32(kop_tensor(op, 1, "scores")),
	                          boxes->shape.dim[0], number_arg(op, 2, "iou_threshold"),
	                          (int64_t *)tensor_data(out), op->scratch));
	return 0;
}

static int batched_nms_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *boxes = kop_tensor(op, 0, "boxes");
	const struct tensor *idxs = kop_tensor(op, 2, "idxs");
	if (idxs->dtype != DT_I64)
		return error_set(e, "batched_nms(): idxs must be int64, got %s",
		                 dtype_name(idxs->dtype));
	struct tensor *out = kop_out(op, 0);
	kept_count(op, kboxes_batched_nms(kt_f32(boxes), kt_f32(kop_tensor(op, 1, "scores")),
	                                  tensor_data(idxs), boxes->shape.dim[0],
	                                  number_arg(op, 3, "iou_threshold"),
	                                  (int64_t *)tensor_data(out), op->scratch));
	return 0;
}

static int box_iou_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *a = kop_tensor(op, 0, "boxes1"), *b = kop_tensor(op, 1, "boxes2");
	int64_t n = a->shape.dim[0], m = b->shape.dim[0];
	const float *pa = kt_f32(a), *pb = kt_f32(b);
	float *out = kt_f32(kop_out(op, 0));
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < m; j++)
			out[i * m + j] = kboxes_iou(pa + 4 * i, pb + 4 * j);
	return 0;
}

/* x clamped to [0, hi], NaN kept (torch.clamp). */
static float clamp_coord(float x, float hi)
{
	x = x < 0.0f ? 0.0f : x;
	return x > hi ? hi : x;
}

static int clip_boxes_run(struct kop *op, struct error *e)
{
	int64_t hw[2];
	const struct value *size = op_arg(&op->call, 1, "size");
	if (!size || value_ints(size, hw, 2) < 0)
		return error_set(e, "clip_boxes_to_image(): size must be (height, width)");
	const struct tensor *b = kop_tensor(op, 0, "boxes");
	const float *in = kt_f32(b);
	float *out = kt_f32(kop_out(op, 0));
	int64_t n = shape_numel(&b->shape);
	for (int64_t i = 0; i < n; i++)
		out[i] = clamp_coord(in[i], (float)(i % 2 ? hw[0] : hw[1]));
	return 0;
}

static int remove_small_boxes_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *b = kop_tensor(op, 0, "boxes");
	float min_size = (float)number_arg(op, 1, "min_size");
	const float *p = kt_f32(b);
	int64_t *keep = (int64_t *)tensor_data(kop_out(op, 0)), kept = 0;
	for (int64_t i = 0; i < b->shape.dim[0]; i++) {
		const float *q = p + 4 * i;
		if (q[2] - q[0] >= min_size && q[3] - q[1] >= min_size)
			keep[kept++] = i;
	}
	kept_count(op, kept);
	return 0;
}

/* ---- region pooling ---- */

/* How the regions are pooled: torchvision's roi_align or roi_pool. */
struct roi_geom {
	int64_t oh, ow;
	float scale;
	int64_t sampling; /* roi_align: samples per bin side, <= 0 adaptive */
	bool aligned;     /* roi_align: pixel centres at +0.5 */
	bool max_pool;    /* roi_pool */
};

/* Region k of a boxes value ([K, 5], or a list of [Ki, 4] whose regions
 * take the list's index as batch index): (batch index, x1, y1, x2, y2). */
static void roi_at(const struct value *boxes, int64_t k, float roi[5])
{
	if (boxes->kind == VAL_TENSOR) {
		memcpy(roi, kt_f32(&boxes->u.tensor.t) + 5 * k, 5 * sizeof *roi);
		return;
	}
	for (int i = 0; i < boxes->u.list.n; i++) {
		const struct tensor *t = &boxes->u.list.items[i].u.tensor.t;
		if (k < t->shape.dim[0]) {
			roi[0] = (float)i;
			memcpy(roi + 1, kt_f32(t) + 4 * k, 4 * sizeof *roi);
			return;
		}
		k -= t->shape.dim[0];
	}
}

/* roi_align of one region (x1, y1, x2, y2) of the C x H x W feature map f
 * into out [C, oh, ow], as torchvision's CPU kernel computes it: the same
 * samples, weights and order of additions. */
static void roi_align_one(const float *f, int64_t C, int64_t H, int64_t W, const float *box,
                          const struct roi_geom *g, float *out)
{
	float offset = g->aligned ? 0.5f : 0.0f;
	float start_w = box[0] * g->scale - offset, start_h = box[1] * g->scale - offset;
	float end_w = box[2] * g->scale - offset, end_h = box[3] * g->scale - offset;
	float rw = end_w - start_w, rh = end_h - start_h;
	if (!g->aligned) {
		rw = rw > 1.0f ? rw : 1.0f;
		rh = rh > 1.0f ? rh : 1.0f;
	}
	float bin_h = rh / (float)g->oh, bin_w = rw / (float)g->ow;
	int64_t grid_h = g->sampling > 0 ? g->sampling : (int64_t)ceilf(rh / (float)g->oh);
	int64_t grid_w = g->sampling > 0 ? g->sampling : (int64_t)ceilf(rw / (float)g->ow);
	float count = (float)(grid_h * grid_w > 1 ? grid_h * grid_w : 1);
	int64_t plane = g->oh * g->ow;
	memset(out, 0, (size_t)(C * plane) * sizeof *out);
	for (int64_t ph = 0; ph < g->oh; ph++)
		for (int64_t pw = 0; pw < g->ow; pw++)
			for (int64_t iy = 0; iy < grid_h; iy++) {
				float y0 = start_h + (float)ph * bin_h +
				           (float)((float)iy + .5f) * bin_h / (float)grid_h;
				for (int64_t ix = 0; ix < grid_w; ix++) {
					float x = start_w + (float)pw * bin_w +
					          (float)((float)ix + .5f) * bin_w / (float)grid_w;
					float y = y0;
					if (y < -1.0f || y > (float)H || x < -1.0f || x > (float)W)
						continue; /* outside: adds nothing */
					y = y <= 0 ? 0 : y;
					x = x <= 0 ? 0 : x;
					int64_t y_lo = (int64_t)y, x_lo = (int64_t)x, y_hi, x_hi;
					if (y_lo >= H - 1) {
						y_hi = y_lo = H - 1;
						y = (float)y_lo;
					} else {
						y_hi = y_lo + 1;
					}
					if (x_lo >= W - 1) {
						x_hi = x_lo = W - 1;
						x = (float)x_lo;
					} else {
						x_hi = x_lo + 1;
					}
					float ly = y - (float)y_lo, lx = x - (float)x_lo;
					float hy = 1.0f - ly, hx = 1.0f - lx;
					float w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx;
					int64_t p1 = y_lo * W + x_lo, p2 = y_lo * W + x_hi;
					int64_t p3 = y_hi * W + x_lo, p4 = y_hi * W + x_hi;
					for (int64_t c = 0; c < C; c++) {
						const float *fc = f + c * H * W;
						out[c * plane + ph * g->ow + pw] +=
						    w1 * fc[p1] + w2 * fc[p2] + w3 * fc[p3] + w4 * fc[p4];
					}
				}
			}
	for (int64_t i = 0; i < C * plane; i++)
		out[i] /= count;
}

/* roi_pool of one region: the max over each bin of the rounded box. */
static void roi_pool_one(const float *f, int64_t C, int64_t H, int64_t W, const float *box,
                         const struct roi_geom *g, float *out)
{
	int64_t start_w = (int64_t)roundf(box[0] * g->scale);
	int64_t start_h = (int64_t)roundf(box[1] * g->scale);
	int64_t end_w = (int64_t)roundf(box[2] * g->scale);
	int64_t end_h = (int64_t)roundf(box[3] * g->scale);
	int64_t rw = end_w - start_w + 1 > 1 ? end_w - start_w + 1 : 1;
	int64_t rh = end_h - start_h + 1 > 1 ? end_h - start_h + 1 : 1;
	float bin_h = (float)rh / (float)g->oh, bin_w = (float)rw / (float)g->ow;
	int64_t plane = g->oh * g->ow;
	for (int64_t ph = 0; ph < g->oh; ph++)
		for (int64_t pw = 0; pw < g->ow; pw++) {
			int64_t hs = (int64_t)floorf((float)ph * bin_h) + start_h;
			int64_t ws = (int64_t)floorf((float)pw * bin_w) + start_w;
			int64_t he = (int64_t)ceilf((float)(ph + 1) * bin_h) + start_h;
			int64_t we = (int64_t)ceilf((float)(pw + 1) * bin_w) + start_w;
			hs = hs < 0 ? 0 : hs > H ? H : hs;
			he = he < 0 ? 0 : he > H ? H : he;
			ws = ws < 0 ? 0 : ws > W ? W : ws;
			we = we < 0 ? 0 : we > W ? W : we;
			bool empty = he <= hs || we <= ws;
			for (int64_t c = 0; c < C; c++) {
				const float *fc = f + c * H * W;
				float mx = empty ? 0.0f : -FLT_MAX;
				for (int64_t h = hs; h < he; h++)
					for (int64_t w = ws; w < we; w++)
						if (fc[h * W + w] > mx)
							mx = fc[h * W + w];
				out[c * plane + ph * g->ow + pw] = mx;
			}
		}
}

/* Pools region `roi` (batch index first) of features x [N, C, H, W] into
 * out [C, oh, ow]. -1 with e set when the batch index is not in x. */
static int pool_region(const struct tensor *x, const float roi[5], const struct roi_geom *g,
                       float *out, struct error *e)
{
	int64_t n = x->shape.dim[0], C = x->shape.dim[1], H = x->shape.dim[2], W = x->shape.dim[3];
	int64_t b = (int64_t)roi[0];
	if (b < 0 || b >= n)
		return error_set(e, "a box has batch index %lld; the input has %lld images",
		                 (long long)b, (long long)n);
	const float *f = kt_f32(x) + b * C * H * W;
	if (g->max_pool)
		roi_pool_one(f, C, H, W, roi + 1, g, out);
	else
		roi_align_one(f, C, H, W, roi + 1, g, out);
	return 0;
}

/* The geometry of a roi_align / roi_pool call or RoIAlign / RoIPool
 * module, from its attributes or arguments (the shape rule checked them). */
static void roi_geom_of(const struct kop *op, struct roi_geom *g)
{
	const struct module *m = op->call.module;
	bool pool = strcmp(op->kernel->name, "roi_pool") == 0 ||
	            strcmp(op->kernel->name, "RoIPool") == 0;
	int64_t size[2] = {1, 1};
	*g = (struct roi_geom){.max_pool = pool, .sampling = -1, .scale = 1.0f};
	if (m) {
		module_attr_ints(m, "output_size", size, 2);
		g->scale = (float)module_attr_float(m, "spatial_scale", 1.0);
		g->sampling = module_attr_int(m, "sampling_ratio", -1);
		g->aligned = module_attr_bool(m, "aligned", false);
	} else {
		const struct value *v = op_arg(&op->call, 2, "output_size");
		if (v)
			value_ints(v, size, 2);
		g->scale = (float)number_arg(op, 3, "spatial_scale");
		if (!op_arg(&op->call, 3, "spatial_scale"))
			g->scale = 1.0f;
		if (!pool && op_arg(&op->call, 4, "sampling_ratio"))
			g->sampling = (int64_t)number_arg(op, 4, "sampling_ratio");
		v = op_arg(&op->call, 5, "aligned");
		g->aligned = !pool && v && v->kind == VAL_BOOL && v->u.b;
	}
	g->oh = size[0];
	g->ow = size[1];
}

static int roi_prepare(struct kop *op, struct error *e)
{
	(void)e;
	struct roi_geom *g = calloc(1, sizeof *g);
	if (!g)
		return error_set(e, "out of memory");
	roi_geom_of(op, g);
	op->state = g;
	return 0;
}

static int roi_run(struct kop *op, struct error *e)
{
	const struct roi_geom *g = op->state;
	const struct tensor *x = kop_tensor(op, 0, "input");
	const struct value *boxes = op_arg(&op->call, 1, op->call.module ? "rois" : "boxes");
	struct tensor *out = kop_out(op, 0);
	int64_t per = out->shape.dim[1] * g->oh * g->ow;
	for (int64_t k = 0; k < out->shape.dim[0]; k++) {
		float roi[5];
		roi_at(boxes, k, roi);
		if (pool_region(x, roi, g, kt_f32(out) + k * per, e) < 0)
			return -1;
	}
	return 0;
}

/* ---- MultiScaleRoIAlign ---- */

#define MS_MAX_LEVELS 16

/* A MultiScaleRoIAlign call: its feature maps, each with the roi_align
 * geometry of its scale, and torchvision's LevelMapper. */
struct multiscale {
	const struct tensor *level[MS_MAX_LEVELS];
	struct roi_geom geom[MS_MAX_LEVELS];
	int nlevels;
	int64_t k_min, k_max;
	float canonical_scale, canonical_level;
};

/* torchvision's _infer_scale: 2 ** round(log2(size / original size)), from
 * the height, the ratio and log2 in float32 and round to even as torch. */
static double infer_scale(int64_t size, int64_t original)
{
	float approx = (float)((double)size / (double)original);
	return pow(2.0, (double)rintf(log2f(approx)));
}

static int multiscale_prepare(struct kop *op, struct error *e)
{
	const struct module *m = op->call.module;
	const struct value *x = op_arg(&op->call, 0, "x");
	const struct value *shapes = op_arg(&op->call, 2, "image_shapes");
	struct multiscale *ms = calloc(1, sizeof *ms);
	if (!ms)
		return error_set(e, "out of memory");
	op->state = ms;
	const struct value *levels[MS_MAX_LEVELS];
	ms->nlevels = registry_boxes_levels(m, x, levels, MS_MAX_LEVELS);
	int64_t max_h = 0, max_w = 0;
	for (int i = 0; i < shapes->u.list.n; i++) {
		int64_t hw[2] = {0, 0};
		value_ints(&shapes->u.list.items[i], hw, 2);
		max_h = hw[0] > max_h ? hw[0] : max_h;
		max_w = hw[1] > max_w ? hw[1] : max_w;
	}
	int64_t size[2];
	module_attr_ints(m, "output_size", size, 2);
	double scale[MS_MAX_LEVELS];
	for (int i = 0; i < ms->nlevels; i++) {
		ms->level[i] = &levels[i]->u.tensor.t;
		scale[i] = infer_scale(ms->level[i]->shape.dim[2], max_h);
		ms->geom[i] = (struct roi_geom){.oh = size[0],
		                                .ow = size[1],
		                                .scale = (float)scale[i],
		                                .sampling = module_attr_int(m, "sampling_ratio", -1)};
	}
	ms->k_min = (int64_t)(-(double)log2f((float)scale[0]));
	ms->k_max = (int64_t)(-(double)log2f((float)scale[ms->nlevels - 1]));
	ms->canonical_scale = (float)module_attr_int(m, "canonical_scale", 224);
	ms->canonical_level = (float)module_attr_int(m, "canonical_level", 4);
	return 0;
}

/* LevelMapper: the level of box b (x1, y1, x2, y2), from 0. */
static int64_t map_level(const struct multiscale *ms, const float *b)
{
	float s = sqrtf((b[2] - b[0]) * (b[3] - b[1]));
	float lvl = floorf(ms->canonical_level + log2f(s / ms->canonical_scale) + 1e-6f);
	lvl = lvl < (float)ms->k_min ? (float)ms->k_min : lvl;
	lvl = lvl > (float)ms->k_max ? (float)ms->k_max : lvl;
	return (int64_t)lvl - ms->k_min;
}

static int multiscale_run(struct kop *op, struct error *e)
{
	const struct multiscale *ms = op->state;
	const struct value *boxes = op_arg(&op->call, 1, "boxes");
	struct tensor *out = kop_out(op, 0);
	int64_t per = out->shape.dim[1] * out->shape.dim[2] * out->shape.dim[3];
	for (int64_t k = 0; k < out->shape.dim[0]; k++) {
		float roi[5];
		roi_at(boxes, k, roi);
		int64_t level = ms->nlevels == 1 ? 0 : map_level(ms, roi + 1);
		float *o = kt_f32(out) + k * per;
		if (level < 0 || level >= ms->nlevels) {
			memset(o, 0, (size_t)per * sizeof *o); /* torchvision's zeros */
			continue;
		}
		if (pool_region(ms->level[level], roi, &ms->geom[level], o, e) < 0)
			return -1;
	}
	return 0;
}

const struct kernel kernels_boxes[] = {
    {"nms", OP_FUNCTION, KF_INT_INDEX, nms_prepare, nms_run},
    {"batched_nms", OP_FUNCTION, KF_INT_INDEX, nms_prepare, batched_nms_run},
    {"box_iou", OP_FUNCTION, 0, NULL, box_iou_run},
    {"clip_boxes_to_image", OP_FUNCTION, 0, NULL, clip_boxes_run},
    {"remove_small_boxes", OP_FUNCTION, KF_INT_INDEX, NULL, remove_small_boxes_run},
    {"roi_align", OP_FUNCTION, 0, roi_prepare, roi_run},
    {"roi_pool", OP_FUNCTION, 0, roi_prepare, roi_run},
    {"RoIAlign", OP_MODULE, 0, roi_prepare, roi_run},
    {"RoIPool", OP_MODULE, 0, roi_prepare, roi_run},
    {"MultiScaleRoIAlign", OP_MODULE, 0, multiscale_prepare, multiscale_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
