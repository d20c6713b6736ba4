/* test_diff.c - model diffs: modules added, removed and retyped, tensors
 * identical or changed with their largest difference, the text and JSON. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/model.h"
#include "view/diff.h"
#include "view/diff_write.h"

/* Adds a float32 tensor of n values 0, 1, 2, ... to m. */
static struct param *add_tensor(struct module *m, const char *name, int64_t rows, int64_t cols,
                                bool buffer)
{
	struct shape s = {.ndim = 2, .dim = {rows, cols}};
	struct param *p = module_add_param(m, name, DT_F32, &s, buffer);
	struct error e = {0};
	CHECK(tensor_alloc(&p->t, &e) == 0);
	float *x = (float *)tensor_data(&p->t);
	for (int64_t i = 0; i < rows * cols; i++)
		x[i] = (float)i;
	return p;
}

/* A: a conv, a norm and a block of two linears, all with values. */
static struct model *make_model(void)
{
	struct model *m = model_new("net");
	m->path = strdup("a.safetensors");
	m->root = module_new("", "Net");
	struct module *conv = module_new("conv", "Conv2d");
	add_tensor(conv, "weight", 2, 3, false);
	struct module *norm = module_new("norm", "BatchNorm2d");
	add_tensor(norm, "weight", 1, 2, false);
	add_tensor(norm, "running_mean", 1, 2, true);
	struct module *block = module_new("block", "Sequential");
	struct module *l0 = module_new("0", "Linear"), *l1 = module_new("1", "Linear");
	add_tensor(l0, "weight", 4, 4, false);
	add_tensor(l1, "weight", 4, 4, false);
	module_add_child(block, l0);
	module_add_child(block, l1);
	module_add_child(m->root, conv);
	module_add_child(m->root, norm);
	module_add_child(m->root, block);
	struct shape in = {.ndim = 2, .dim = {1, 3}};
	model_add_input(m, "x", &in, DT_F32);
	m->has_weights = true;
	return m;
}

/* Writes d as text or JSON into a malloc'd string. */
static char *written(const struct model_diff *d, bool json, int limit)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct diff_write_opts o = {.json = json, .limit = limit};
	diff_write(f, d, &o);
	fclose(f);
	return buf;
}

static void test_same(void)
{
	struct model *a = make_model(), *b = model_clone(a);
	struct model_diff d;
	model_diff(a, b, &d);
	CHECK(model_diff_same(&d));
	CHECK(d.nmodules == 0);
	CHECK(d.nstates[DIFF_T_SAME] == 5);
	char *text = written(&d, false, 20);
	CHECK_CONTAINS(text, "modules: the same\n");
	CHECK_CONTAINS(text, "tensors: 5 identical, 0 changed values");
	CHECK_CONTAINS(text, "Identical tensors (5): all of them\n");
	free(text);
	model_diff_free(&d);
	model_free(a);
	model_free(b);
}

static void test_changes(void)
{
	struct model *a = make_model(), *b = model_clone(a);
	struct error e = {0};
	/* conv.weight: new values, one of them 0.5 off */
	struct param *w = module_param(module_find(b->root, "conv"), "weight");
	CHECK(tensor_alloc(&w->t, &e) == 0);
	float *x = (float *)tensor_data(&w->t);
	for (int i = 0; i < 6; i++)
		x[i] = (float)i;
	x[4] += 0.5f;
	/* the norm changes type; block.1 is removed and block.2 added */
	struct module *norm = module_find(b->root, "norm");
	free(norm->type);
	norm->type = strdup("GroupNorm");
	struct module *block = module_find(b->root, "block");
	free(block->children[1]->name);
	block->children[1]->name = strdup("2");

	struct model_diff d;
	model_diff(a, b, &d);
	CHECK(!model_diff_same(&d));
	CHECK(d.nchanges[DIFF_TYPE] == 1);
	CHECK(d.nchanges[DIFF_ADDED] == 1);
	CHECK(d.nchanges[DIFF_REMOVED] == 1);
	CHECK(d.nstates[DIFF_T_VALUES] == 1);
	CHECK(d.nstates[DIFF_T_SAME] == 3); /* norm's two, block.0.weight */
	CHECK(d.nstates[DIFF_T_ONLY_A] == 1);
	CHECK(d.nstates[DIFF_T_ONLY_B] == 1);
	CHECK_STR(d.tensors[0].key, "conv.weight");
	CHECK(d.tensors[0].max_abs == 0.5);
	CHECK(d.tensors[0].nchanged == 1);
	CHECK(d.tensors[1].module_changed); /* norm.weight, of a retyped module */

	char *text = written(&d, false, 20);
	CHECK_CONTAINS(text, "modules: 1 changed type, 0 changed attributes, 1 added, 1 removed\n");
	CHECK_CONTAINS(text, "  BatchNorm2d -> GroupNorm: 1\n");
	CHECK_CONTAINS(text, "~ norm: BatchNorm2d -> GroupNorm\n");
	CHECK_CONTAINS(text, "+ block.2: Linear\n");
	CHECK_CONTAINS(text, "- block.1: Linear\n");
	CHECK_CONTAINS(text, "~ conv.weight: max abs difference 0.5 (1 of 6 values)\n");
	CHECK_CONTAINS(text, "Identical tensors (3): norm, block.0\n");
	free(text);
	text = written(&d, false, 1);
	CHECK_CONTAINS(text, "  ... and 2 more (--all lists every one)\n");
	free(text);
	text = written(&d, true, 20);
	CHECK_CONTAINS(text, "\"same\":false");
	CHECK_CONTAINS(text, "{\"key\":\"conv.weight\",\"state\":\"values\"");
	CHECK_CONTAINS(text, "\"max_abs\":0.5,\"changed\":1");
	CHECK_CONTAINS(text, "{\"key\":\"block.0.weight\",\"state\":\"identical\"");
	CHECK_CONTAINS(text, "\"change\":\"type\",\"a\":{\"type\":\"BatchNorm2d\"");
	free(text);
	model_diff_free(&d);
	model_free(a);
	model_free(b);
}

int main(void)
{
	RUN(test_same);
	RUN(test_changes);
	return CHECK_DONE();
}
