/* kernels_boxes.c - the kernels of torchvision.ops (registry_boxes.c) and
 * the box helpers of kernels_boxes.h.
 *
 * A kernel whose output size depends on the data (nms) writes its exact
 * size into its output's shape; the executor carries it to later steps
 * (exec_bounds.c). Its capacity is its bound, read from its arguments. */
#include "exec/kernels_boxes.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

/* Sorts idx[n] by descending score, equal scores keeping their order (a
 * stable merge sort, as torchvision's nms sorts); tmp holds n. */
static void sort_by_score(int64_t *idx, int64_t *tmp, int64_t n, const float *scores)
{
	for (int64_t width = 1; width < n; width *= 2) {
		for (int64_t lo = 0; lo < n; lo += 2 * width) {
			int64_t mid = lo + width < n ? lo + width : n;
			int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			int64_t a = lo, b = mid, o = lo;
			while (a < mid && b < hi)
				tmp[o++] = scores[idx[b]] > scores[idx[a]] ? idx[b++] : idx[a++];
			while (a < mid)
				tmp[o++] = idx[a++];
			while (b < hi)
				tmp[o++] = idx[b++];
		}
		memcpy(idx, tmp, (size_t)n * sizeof *idx);
	}
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

const struct kernel kernels_boxes[] = {
    {"nms", OP_FUNCTION, KF_INT_INDEX, nms_prepare, nms_run},
    {"batched_nms", OP_FUNCTION, KF_INT_INDEX, nms_prepare, batched_nms_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
