/* test_boxes.c - the box helpers of kernels_boxes.h against torchvision
 * 0.14's numbers: nms order with equal scores, the IoU threshold, empty
 * input, zero-area boxes, batched_nms on both of torchvision's paths, and
 * BoxCoder decoding. (The box ops as a whole run against PyTorch in
 * test_run, on the user models of tools/usermodels/boxes.py.) */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "exec/kernels_boxes.h"

/* kboxes_nms (or kboxes_batched_nms when idxs) into keep; the count. */
static int64_t run_nms(const float *boxes, const float *scores, const int64_t *idxs, int64_t n,
                       double thr, int64_t *keep)
{
	void *scratch = malloc(kboxes_nms_scratch(n));
	int64_t k = idxs ? kboxes_batched_nms(boxes, scores, idxs, n, thr, keep, scratch)
	                 : kboxes_nms(boxes, scores, n, thr, keep, scratch);
	free(scratch);
	return k;
}

static bool same(const int64_t *a, const int64_t *b, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static const float boxes7[] = {0, 0, 10, 10, 0, 0, 10, 10, 20, 20, 30, 30, 0, 0, 10, 10,
                               5, 5, 5,  5,  5, 5, 5,  5,  0,  0,  10, 5};
static const float scores7[] = {1, 1, 1, 1, 2, 2, 0.5f};

/* torchvision.ops.nms: equal scores keep their index order; zero-area
 * boxes (IoU NaN) suppress nothing and are never suppressed. */
static void test_nms_ties_and_zero_area(void)
{
	int64_t keep[7];
	int64_t n = run_nms(boxes7, scores7, NULL, 7, 0.5, keep);
	CHECK(n == 5 && same(keep, (int64_t[]){4, 5, 0, 2, 6}, 5));
	CHECK(isnan(kboxes_iou(boxes7 + 16, boxes7 + 20)));
}

/* A box is suppressed only above the threshold: IoU 0.5 at 0.5 stays. */
static void test_nms_threshold_is_strict(void)
{
	static const float b[] = {0, 0, 10, 10, 0, 0, 10, 5};
	static const float s[] = {1, 0.5f};
	int64_t keep[2];
	CHECK(kboxes_iou(b, b + 4) == 0.5f);
	CHECK(run_nms(b, s, NULL, 2, 0.5, keep) == 2);
	CHECK(run_nms(b, s, NULL, 2, 0.49, keep) == 1 && keep[0] == 0);
}

static void test_nms_empty(void)
{
	int64_t keep[1];
	CHECK(run_nms(NULL, NULL, NULL, 0, 0.5, keep) == 0);
	CHECK(run_nms(NULL, NULL, (int64_t[]){0}, 0, 0.5, keep) == 0);
}

static void test_batched_nms_small(void)
{
	int64_t keep[7];
	int64_t n = run_nms(boxes7, scores7, (int64_t[]){0, 1, 0, 1, 0, 0, 1}, 7, 0.5, keep);
	CHECK(n == 6 && same(keep, (int64_t[]){4, 5, 0, 1, 2, 6}, 6));
}

/* n boxes spread over a 100 x 100 square, three classes, scores repeating
 * every 101 boxes (many ties). */
static void spread(int64_t n, float *b, float *s, int64_t *c)
{
	for (int64_t i = 0; i < n; i++) {
		float x = (float)(i * 37 % 100), y = (float)(i * 61 % 100);
		b[4 * i] = x;
		b[4 * i + 1] = y;
		b[4 * i + 2] = x + (float)(10 + i % 7);
		b[4 * i + 3] = y + (float)(10 + i % 5);
		s[i] = (float)(i * 13 % 101) / 101.0f;
		c[i] = i % 3;
	}
}

/* Up to 1000 boxes torchvision offsets the classes apart (its exact
 * order); above, one nms per class, sorted by score after (the same boxes;
 * among equal scores torch's sort has no fixed order, graft keeps the
 * index order). */
static void test_batched_nms_both_paths(void)
{
	enum { N = 1001 };
	float *b = malloc(N * 4 * sizeof *b), *s = malloc(N * sizeof *s);
	int64_t *c = malloc(N * sizeof *c), *keep = malloc(N * sizeof *keep);
	spread(N, b, s, c);
	int64_t n = run_nms(b, s, c, 300, 0.3, keep), sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += keep[i] * i;
	CHECK(n == 246 && sum == 4319788);
	CHECK(same(keep, (int64_t[]){31, 132, 233, 62, 163, 264, 93, 194, 295, 23, 124, 225}, 12));
	n = run_nms(b, s, c, N, 0.3, keep);
	int64_t s1 = 0, s2 = 0;
	bool sorted = true;
	for (int64_t i = 0; i < n; i++) {
		s1 += keep[i];
		s2 += keep[i] * keep[i];
		sorted = sorted && (i == 0 || s[keep[i]] < s[keep[i - 1]] ||
		                    (s[keep[i]] == s[keep[i - 1]] && keep[i] > keep[i - 1]));
	}
	CHECK(n == 247 && s1 == 129245 && s2 == 84672915 && sorted);
	free(b);
	free(s);
	free(c);
	free(keep);
}

/* BoxCoder((10, 10, 5, 5)).decode_single: the second code's dw is clipped
 * at log(1000 / 16). */
static void test_decode(void)
{
	static const float rel[] = {0.5f, -0.5f, 1.0f, 0.2f, 0, 0, 100, -1};
	static const float box[] = {2, 3, 12, 9};
	static const float want[] = {1.3929862976074219f, 2.5775673389434814f, 13.607013702392578f,
	                             8.822432518005371f,  -305.5000305175781f, 3.5438077449798584f,
	                             319.5000305175781f,  8.456192016601562f};
	struct kboxes_coder bc = {10, 10, 5, 5, (float)log(1000.0 / 16)};
	float out[8];
	kboxes_decode(&bc, rel, box, 1, 2, out);
	for (int i = 0; i < 8; i++)
		CHECK(fabsf(out[i] - want[i]) <= 1e-5f * fabsf(want[i]) + 1e-6f);
}

int main(void)
{
	RUN(test_nms_ties_and_zero_area);
	RUN(test_nms_threshold_is_strict);
	RUN(test_nms_empty);
	RUN(test_batched_nms_small);
	RUN(test_batched_nms_both_paths);
	RUN(test_decode);
	return CHECK_DONE();
}
