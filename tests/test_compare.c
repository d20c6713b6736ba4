/* test_compare.c - the drift between two models on one input: a model
 * against itself drifts by nothing, one changed bias drifts its module and
 * the output by exactly its change, and nothing before it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/model.h"
#include "exec/exec_compare.h"
#include "io/format.h"

static struct model *resnet;
static struct tensor input;

static void test_drift(void)
{
	const float a[] = {1, 2, 3}, b[] = {1, 2, 3.5f}, x[] = {1, 0}, y[] = {0, 1}, z[] = {0, 0};
	struct drift d;
	drift_compute(a, a, 3, &d);
	CHECK(d.max_abs == 0 && d.cosine == 1);
	drift_compute(a, b, 3, &d);
	CHECK(d.max_abs == 0.5);
	CHECK(fabs(d.cosine - 15.5 / sqrt(14.0 * 17.25)) < 1e-12);
	drift_compute(x, y, 2, &d);
	CHECK(d.max_abs == 1 && d.cosine == 0);
	drift_compute(z, z, 2, &d);
	CHECK(d.cosine == 1);
	const float n[] = {NAN, 1};
	drift_compute(n, x, 2, &d);
	CHECK(isinf(d.max_abs));
}

static void test_itself(void)
{
	struct compare_result r;
	struct error e = {0};
	CHECK(exec_compare(resnet, resnet, &input, 1, &r, &e) == 0);
	CHECK(r.noutputs == 1);
	CHECK(r.outputs[0].compared);
	CHECK(r.outputs[0].drift.max_abs == 0);
	CHECK(r.outputs[0].drift.cosine == 1);
	CHECK(r.outputs[0].rows == 2 && r.outputs[0].top1_agree == 2);
	CHECK(r.nmodules > 50 && r.nunmatched == 0);
	for (int i = 0; i < r.nmodules; i++)
		CHECK(r.modules[i].drift.max_abs == 0);
	compare_result_free(&r);
}

/* fc.bias[3] moved by about 1: the output's column 3 moves by as much. */
static void test_one_bias(void)
{
	struct model *b = model_clone(resnet);
	struct param *bias = module_param(module_find(b->root, "fc"), "bias");
	struct tensor old = bias->t;
	struct error e = {0};
	bias->t.storage = NULL;
	bias->t.offset = 0;
	bias->t.dtype = DT_F32;
	CHECK(tensor_alloc(&bias->t, &e) == 0);
	float *x = (float *)tensor_data(&bias->t);
	for (int i = 0; i < bias->t.shape.dim[0]; i++)
		x[i] = (float)tensor_get(&old, i);
	x[3] += 1;
	double change = x[3] - tensor_get(&old, 3);
	tensor_release(&old);

	struct compare_result r;
	CHECK(exec_compare(resnet, b, &input, 1, &r, &e) == 0);
	CHECK(fabs(r.outputs[0].drift.max_abs - change) < 1e-5);
	CHECK(r.outputs[0].drift.cosine < 1);
	bool fc_seen = false;
	for (int i = 0; i < r.nmodules; i++) {
		const char *name = r.modules[i].b->name;
		if (strcmp(name, "fc") == 0) {
			fc_seen = true;
			CHECK(fabs(r.modules[i].drift.max_abs - change) < 1e-5);
		} else if (r.modules[i].b != b->root) {
			CHECK(r.modules[i].drift.max_abs == 0);
		}
	}
	CHECK(fc_seen);
	compare_result_free(&r);
	model_free(b);
}

int main(void)
{
	const char *srcdir = getenv("srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/data/run/resnet.safetensors", srcdir ? srcdir : ".");
	struct error e = {0};
	resnet = format_open(path, NULL, &e);
	if (!resnet) {
		printf("%s\n", e.msg);
		return 1;
	}
	input.dtype = DT_F32;
	input.shape = resnet->inputs[0].shape;
	if (tensor_alloc(&input, &e) < 0)
		return 1;
	exec_randn(input.storage->data, shape_numel(&input.shape), 0);
	RUN(test_drift);
	RUN(test_itself);
	RUN(test_one_bias);
	tensor_release(&input);
	model_free(resnet);
	return CHECK_DONE();
}
