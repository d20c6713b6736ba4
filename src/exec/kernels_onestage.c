/* kernels_onestage.c - SSD's default boxes and the postprocessing of the
 * one-stage detectors (registry_onestage.h) as torchvision computes them.
 *
 * DefaultBoxGenerator: for each level k, each cell (y, x) in row-major
 * order and each (w, h) pair of the level (clamped to [0, 1] with clip),
 * the centre ((x + 0.5) / fx, (y + 0.5) / fy) in float32, fx, fy the
 * image's size over steps[k] (or the feature map's size without steps);
 * the box is (centre -/+ 0.5 (w, h)) times the image's (W, H).
 *
 * postprocess_detections, image by image:
 *
 *   RetinaNet, FCOS: per level, the scores (sigmoid of the class logits;
 *   FCOS: sqrt of it times the sigmoid of the centerness) above
 *   score_thresh, the topk_candidates best (descending, equal scores by
 *   position); their anchor (position / classes) and label (position %
 *   classes); the anchor's box decoded (RetinaNet: BoxCoder with
 *   box_weights; FCOS: BoxLinearCoder normalised by the anchor's size)
 *   and clipped to the image.
 *   SSD: every anchor's box decoded (BoxCoder) and clipped, softmax scores;
 *   per class but the background (0), the scores above score_thresh, the
 *   topk_candidates best.
 *
 * Then batched NMS over the candidates (kernels_boxes.h) and the first
 * detections_per_img kept: the output dims are those exact counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry_onestage.h"
#include "core/util.h"
#include "exec/kernels.h"
#include "exec/kernels_boxes.h"

static int default_box_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct module *m = op->call.module;
	const struct tensor *img = kop_tensor(op, 0, "image_list");
	const struct value *maps = op_arg(&op->call, 1, "feature_maps");
	const struct value *steps = module_attr(m, "steps");
	bool clip = module_attr_bool(m, "clip", true);
	int64_t H = img->shape.dim[2], W = img->shape.dim[3];
	float *out = kt_f32(kop_out(op, 0));
	for (int k = 0; k < maps->u.list.n; k++) {
		const struct shape *fs = &maps->u.list.items[k].u.tensor.t.shape;
		int64_t fh = fs->dim[2], fw = fs->dim[3];
		double fx = (double)fw, fy = (double)fh, step;
		if (steps && steps->kind == VAL_LIST && value_number(&steps->u.list.items[k], &step)) {
			fx = (double)W / step;
			fy = (double)H / step;
		}
		float wh[2 * DEFAULT_BOX_MAX_PAIRS];
		int n = default_box_pairs(m, k, wh);
		for (int p = 0; clip && p < 2 * n; p++)
			wh[p] = wh[p] < 0 ? 0 : wh[p] > 1 ? 1 : wh[p];
		for (int64_t y = 0; y < fh; y++) {
			float cy = ((float)y + 0.5f) / (float)fy;
			for (int64_t x = 0; x < fw; x++) {
				float cx = ((float)x + 0.5f) / (float)fx;
				for (int p = 0; p < n; p++, out += 4) {
					out[0] = (cx - 0.5f * wh[2 * p]) * (float)W;
					out[1] = (cy - 0.5f * wh[2 * p + 1]) * (float)H;
					out[2] = (cx + 0.5f * wh[2 * p]) * (float)W;
					out[3] = (cy + 0.5f * wh[2 * p + 1]) * (float)H;
				}
			}
		}
	}
	return 0;
}

/* A candidate: its score and its position among the level's scores. */
struct cand {
	float score;
	int64_t at;
};

struct onestage_state {
	struct onestage_args a;
	int64_t most; /* candidates of one image, at most */
	int64_t widest; /* the most scores one selection visits (SSD: its
	                 * softmax table) */
};

/* The candidate ranked lower: smaller score, or equal score and later. */
static bool worse(const struct cand *x, const struct cand *y)
{
	return x->score < y->score || (x->score == y->score && x->at > y->at);
}

static void sift_down(struct cand *h, int64_t n, int64_t i)
{
	for (;;) {
		int64_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && worse(&h[l], &h[m]))
			m = l;
		if (r < n && worse(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		struct cand t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Keeps the k best of the candidates offered in h (a heap of the worst at
 * the top); *n is how many it holds. */
static void offer(struct cand *h, int64_t *n, int64_t k, struct cand c)
{
	if (*n < k) {
		int64_t i = (*n)++;
		h[i] = c;
		while (i > 0 && worse(&h[i], &h[(i - 1) / 2])) {
			struct cand t = h[i];
			h[i] = h[(i - 1) / 2];
			h[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
	} else if (k > 0 && worse(&h[0], &c)) {
		h[0] = c;
		sift_down(h, *n, 0);
	}
}

/* Empties the heap into descending order, in place. */
static void sort_desc(struct cand *h, int64_t n)
{
	for (int64_t m = n; m > 1; m--) {
		struct cand t = h[0];
		h[0] = h[m - 1];
		h[m - 1] = t;
		sift_down(h, m - 1, 0);
	}
}

static float sigmoid(float x)
{
	return 1.0f / (1.0f + expf(-x));
}

static void clip_box(float *b, int64_t h, int64_t w)
{
	const float lim[4] = {(float)w, (float)h, (float)w, (float)h};
	for (int k = 0; k < 4; k++)
		b[k] = b[k] < 0 ? 0 : b[k] > lim[k] ? lim[k] : b[k];
}

/* BoxLinearCoder(normalize_by_size=True).decode of one box. */
static void linear_decode(const float *rel, const float *anchor, float *out)
{
	float cx = 0.5f * (anchor[0] + anchor[2]), cy = 0.5f * (anchor[1] + anchor[3]);
	float w = anchor[2] - anchor[0], h = anchor[3] - anchor[1];
	out[0] = cx - rel[0] * w;
	out[1] = cy - rel[1] * h;
	out[2] = cx + rel[2] * w;
	out[3] = cy + rel[3] * h;
}

static struct kboxes_coder box_coder(const struct onestage_args *a)
{
	return (struct kboxes_coder){(float)a->box_weights[0], (float)a->box_weights[1],
	                             (float)a->box_weights[2], (float)a->box_weights[3],
	                             (float)log(1000.0 / 16)};
}

/* The candidates of one image. */
struct found {
	float *boxes, *scores;
	int64_t *labels;
	int64_t n;
};

static void add(struct found *f, const float *box, float score, int64_t label)
{
	memcpy(f->boxes + f->n * 4, box, 4 * sizeof(float));
	f->scores[f->n] = score;
	f->labels[f->n] = label;
	f->n++;
}

/* RetinaNet and FCOS: the best candidates of each level of image i. */
static void per_level(const struct onestage_args *a, int64_t i, struct cand *heap,
                      struct found *f)
{
	int64_t C = a->classes, H = a->anchors_total, h, w;
	onestage_image_size(a, i, &h, &w);
	const float *cls = kt_f32(&a->cls_logits->u.tensor.t) + i * H * C;
	const float *reg = kt_f32(&a->bbox_regression->u.tensor.t) + i * H * 4;
	const float *ctr = a->bbox_ctrness ? kt_f32(&a->bbox_ctrness->u.tensor.t) + i * H : NULL;
	const float *anchors = kt_f32(&a->anchors->u.tensor.t);
	struct kboxes_coder bc = box_coder(a);
	int64_t first = 0;
	for (int l = 0; l < a->levels; l++) {
		int64_t nh = 0, count = a->level_anchors[l] * C;
		for (int64_t j = 0; j < count; j++) {
			float s = sigmoid(cls[first * C + j]);
			if (ctr)
				s = sqrtf(s * sigmoid(ctr[first + j / C]));
			if (s > (float)a->score_thresh)
				offer(heap, &nh, a->topk_candidates, (struct cand){s, j});
		}
		sort_desc(heap, nh);
		for (int64_t k = 0; k < nh; k++) {
			int64_t anchor = first + heap[k].at / C;
			float box[4];
			if (ctr)
				linear_decode(reg + anchor * 4, anchors + anchor * 4, box);
			else
				kboxes_decode(&bc, reg + anchor * 4, anchors + anchor * 4, 1, 1, box);
			clip_box(box, h, w);
			add(f, box, heap[k].score, heap[k].at % C);
		}
		first += a->level_anchors[l];
	}
}

/* SSD: the best candidates of each class of image i; `table` holds the
 * decoded boxes and the softmax scores. */
static void per_class(const struct onestage_args *a, int64_t i, struct cand *heap, float *table,
                      struct found *f)
{
	int64_t C = a->classes, H = a->anchors_total, h, w;
	onestage_image_size(a, i, &h, &w);
	const float *cls = kt_f32(&a->cls_logits->u.tensor.t) + i * H * C;
	const float *reg = kt_f32(&a->bbox_regression->u.tensor.t) + i * H * 4;
	const float *anchors = kt_f32(&a->anchors->u.tensor.t);
	float *boxes = table, *prob = table + H * 4;
	struct kboxes_coder bc = box_coder(a);
	kboxes_decode(&bc, reg, anchors, H, 1, boxes);
	for (int64_t j = 0; j < H; j++) {
		clip_box(boxes + j * 4, h, w);
		const float *x = cls + j * C;
		float *p = prob + j * C, m = x[0], sum = 0;
		for (int64_t k = 1; k < C; k++)
			m = x[k] > m ? x[k] : m;
		for (int64_t k = 0; k < C; k++)
			sum += p[k] = expf(x[k] - m);
		for (int64_t k = 0; k < C; k++)
			p[k] /= sum;
	}
	for (int64_t label = 1; label < C; label++) {
		int64_t nh = 0;
		for (int64_t j = 0; j < H; j++) {
			float s = prob[j * C + label];
			if (s > (float)a->score_thresh)
				offer(heap, &nh, a->topk_candidates, (struct cand){s, j});
		}
		sort_desc(heap, nh);
		for (int64_t k = 0; k < nh; k++)
			add(f, boxes + heap[k].at * 4, heap[k].score, label);
	}
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static int onestage_prepare(struct kop *op, struct error *e)
{
	static const struct {
		const char *name;
		enum onestage_family family;
	} families[] = {{"retinanet_postprocess_detections", ONESTAGE_RETINANET},
	                {"fcos_postprocess_detections", ONESTAGE_FCOS},
	                {"ssd_postprocess_detections", ONESTAGE_SSD}};
	struct onestage_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	enum onestage_family family = ONESTAGE_SSD;
	for (size_t k = 0; k < sizeof families / sizeof families[0]; k++)
		if (strcmp(op->call.def->name, families[k].name) == 0)
			family = families[k].family;
	struct op_call c = op->call;
	c.err = e;
	if (onestage_args(&c, family, &st->a) < 0)
		return -1;
	const struct onestage_args *a = &st->a;
	int64_t topk = a->topk_candidates;
	if (family == ONESTAGE_SSD) {
		st->most = (a->classes - 1) * (topk < a->anchors_total ? topk : a->anchors_total);
		st->widest = a->anchors_total * (4 + a->classes);
	} else {
		for (int l = 0; l < a->levels; l++) {
			int64_t n = a->level_anchors[l] * a->classes;
			st->most += topk < n ? topk : n;
		}
	}
	int64_t heap = topk < a->anchors_total * a->classes ? topk : a->anchors_total * a->classes;
	op->scratch_bytes = align8((size_t)heap * sizeof(struct cand)) +
	                    align8((size_t)st->widest * sizeof(float)) +
	                    (size_t)st->most * (4 * sizeof(float) + sizeof(float) +
	                                        2 * sizeof(int64_t)) +
	                    kboxes_nms_scratch(st->most) + 64;
	return 0;
}

/* Writes the kept detections of one image into its dict of outputs. */
static void write_image(struct value *dict, const struct found *f, const int64_t *keep,
                        int64_t n)
{
	struct tensor *boxes = &dict->u.list.items[0].u.tensor.t;
	struct tensor *scores = &dict->u.list.items[1].u.tensor.t;
	struct tensor *labels = &dict->u.list.items[2].u.tensor.t;
	float *b = kt_f32(boxes), *s = kt_f32(scores);
	int64_t *l = (int64_t *)tensor_data(labels);
	for (int64_t k = 0; k < n; k++) {
		memcpy(b + k * 4, f->boxes + keep[k] * 4, 4 * sizeof(float));
		s[k] = f->scores[keep[k]];
		l[k] = f->labels[keep[k]];
	}
	boxes->shape.dim[0] = scores->shape.dim[0] = labels->shape.dim[0] = n;
	boxes->shape.bounded = scores->shape.bounded = labels->shape.bounded = 0;
}

static int onestage_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct onestage_state *st = op->state;
	const struct onestage_args *a = &st->a;
	int64_t heap_n = a->topk_candidates < a->anchors_total * a->classes
	                     ? a->topk_candidates
	                     : a->anchors_total * a->classes;
	char *p = op->scratch;
	struct cand *heap = (struct cand *)p;
	p += align8((size_t)heap_n * sizeof(struct cand));
	float *table = (float *)p;
	p += align8((size_t)st->widest * sizeof(float));
	struct found f = {.labels = (int64_t *)p};
	int64_t *keep = f.labels + st->most;
	f.boxes = (float *)(keep + st->most);
	f.scores = f.boxes + st->most * 4;
	void *nms_scratch = (void *)align8((size_t)(f.scores + st->most));
	for (int64_t i = 0; i < a->images; i++) {
		f.n = 0;
		if (a->family == ONESTAGE_SSD)
			per_class(a, i, heap, table, &f);
		else
			per_level(a, i, heap, &f);
		int64_t kept = kboxes_batched_nms(f.boxes, f.scores, f.labels, f.n, a->nms_thresh,
		                                  keep, nms_scratch);
		if (kept > a->detections_per_img)
			kept = a->detections_per_img;
		write_image(&op->call.out.u.list.items[i], &f, keep, kept);
	}
	return 0;
}

const struct kernel kernels_onestage[] = {
    {"DefaultBoxGenerator", OP_MODULE, KF_ANY_DTYPE, NULL, default_box_run},
    {"retinanet_postprocess_detections", OP_FUNCTION, KF_ANY_DTYPE, onestage_prepare,
     onestage_run},
    {"fcos_postprocess_detections", OP_FUNCTION, KF_ANY_DTYPE, onestage_prepare, onestage_run},
    {"ssd_postprocess_detections", OP_FUNCTION, KF_ANY_DTYPE, onestage_prepare, onestage_run},
    {NULL, 0, 0, NULL, NULL},
};
