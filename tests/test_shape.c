/* test_shape.c - the forward walker and the shape pass: records, mult-adds,
 * breaks and messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/io_json.h"
#include "core/model.h"
#include "core/registry.h"
#include "core/shape.h"
#include "core/util.h"

static struct model *load(const char *module_json, const char *shape)
{
	char *doc = xasprintf("{\"graft\": 1, \"name\": \"t\", \"inputs\": [{\"name\": \"x\", "
			      "\"shape\": %s}], \"module\": %s}",
			      shape, module_json);
	struct error e = {0};
	struct model *m = json_load_model(doc, strlen(doc), "t.json", NULL, &e);
	if (!m)
		printf("  load: %s\n", e.msg);
	free(doc);
	return m;
}

static const char *chain =
	"{\"type\": \"Sequential\", \"children\": {"
	"\"conv\": {\"type\": \"Conv2d\", \"in_channels\": 3, \"out_channels\": 8, \"kernel_size\": 3, \"padding\": 1},"
	"\"relu\": {\"type\": \"ReLU\"},"
	"\"bn\": {\"type\": \"BatchNorm2d\", \"num_features\": %d},"
	"\"pool\": {\"type\": \"AdaptiveAvgPool2d\", \"output_size\": 1}}}";

static void test_chain_ok(void)
{
	char *js = xasprintf(chain, 8);
	struct model *m = load(js, "[2, 3, 8, 8]");
	free(js);
	CHECK(m != NULL);
	if (!m)
		return;
	struct shape_result r;
	CHECK(shape_pass(m, &r) == 0);
	CHECK(r.ok);
	const struct module *conv = module_find(m->root, "conv");
	CHECK(conv->ncalls == 1);
	char buf[128];
	CHECK_STR(shape_format(&conv->calls[0].out.u.tensor.t.shape, buf, sizeof buf),
		  "[2, 8, 8, 8]");
	/* out elements 2*8*8*8 = 1024, each 3*3*3 mult-adds */
	CHECK(conv->calls[0].macs == 1024 * 27);
	CHECK(r.macs == 1024 * 27);
	CHECK(r.output.kind == VAL_TENSOR);
	CHECK_STR(shape_format(&r.output.u.tensor.t.shape, buf, sizeof buf), "[2, 8, 1, 1]");
	CHECK(m->root->ncalls == 1);
	shape_result_free(&r);
	model_free(m);
}

static void test_chain_break(void)
{
	char *js = xasprintf(chain, 16);
	struct model *m = load(js, "[1, 3, 8, 8]");
	free(js);
	if (!m)
		return;
	struct shape_result r;
	CHECK(shape_pass(m, &r) < 0);
	CHECK(!r.ok);
	CHECK(r.err.kind == ERR_SHAPE);
	/* The message names the failing module, what it expects, what came
	 * and the module that made it (through the ReLU). */
	CHECK_CONTAINS(r.err.msg, "bn: BatchNorm2d(num_features=16) gets 8 channels");
	CHECK_CONTAINS(r.err.msg, "from conv (out_channels=8)");
	CHECK(r.failed == module_find(m->root, "bn"));
	CHECK(module_find(m->root, "bn")->broken);
	/* shapes are kept up to the failure, nothing after it */
	CHECK(module_find(m->root, "conv")->ncalls == 1);
	CHECK(module_find(m->root, "relu")->ncalls == 1);
	CHECK(module_find(m->root, "pool")->ncalls == 0);
	/* a second pass after a fix clears the flag */
	struct value v = value_int(8);
	module_set_attr(module_find(m->root, "bn"), "num_features", &v);
	shape_result_free(&r);
	CHECK(shape_pass(m, &r) == 0);
	CHECK(!module_find(m->root, "bn")->broken);
	shape_result_free(&r);
	model_free(m);
}

static const char *residual =
	"{\"type\": \"Block\", \"children\": {"
	"\"conv\": {\"type\": \"Conv2d\", \"in_channels\": 4, \"out_channels\": %d, \"kernel_size\": 1},"
	"\"relu\": {\"type\": \"ReLU\"}},"
	"\"forward\": [[\"x\", \"placeholder\", \"x\", [], {}],"
	"[\"conv\", \"call_module\", \"conv\", [{\"ref\": \"x\"}], {}],"
	"[\"relu\", \"call_module\", \"relu\", [{\"ref\": \"conv\"}], {}],"
	"[\"add\", \"call_function\", \"add\", [{\"ref\": \"relu\"}, {\"ref\": \"x\"}], {}],"
	"[\"relu_1\", \"call_module\", \"relu\", [{\"ref\": \"add\"}], {}],"
	"[\"output\", \"output\", \"output\", [{\"ref\": \"relu_1\"}], {}]]}";

static void test_graph_calls(void)
{
	char *js = xasprintf(residual, 4);
	struct model *m = load(js, "[1, 4, 5, 5]");
	free(js);
	if (!m)
		return;
	struct shape_result r;
	CHECK(shape_pass(m, &r) == 0);
	/* a module called twice has two records */
	CHECK(module_find(m->root, "relu")->ncalls == 2);
	shape_result_free(&r);
	model_free(m);
}

static void test_graph_break(void)
{
	char *js = xasprintf(residual, 6);
	struct model *m = load(js, "[1, 4, 5, 5]");
	free(js);
	if (!m)
		return;
	struct shape_result r;
	CHECK(shape_pass(m, &r) < 0);
	CHECK(r.err.kind == ERR_SHAPE);
	CHECK_CONTAINS(r.err.msg, "add");
	CHECK_CONTAINS(r.err.msg, "[1, 6, 5, 5]");
	CHECK_CONTAINS(r.err.msg, "[1, 4, 5, 5]");
	CHECK(r.failed == m->root);
	CHECK(module_find(m->root, "relu")->ncalls == 1);
	shape_result_free(&r);
	model_free(m);
}

/* What the walker's hooks saw: "op:NAME" and "end:PATH" in order. */
struct seen {
	char log[512];
	int stop_at; /* on_op fails at this call (from 1), 0: never */
	int ops;
};

static int seen_op(struct shape_walk *w, struct op_call *c)
{
	struct seen *s = w->ctx;
	size_t n = strlen(s->log);
	snprintf(s->log + n, sizeof s->log - n, "op:%s ", c->def->name);
	if (++s->ops == s->stop_at)
		return error_setk(w->err, ERR_INPUT, "stopped at %s", c->def->name);
	return 0;
}

static void seen_module(struct shape_walk *w, struct module *m, const struct value *args,
			int nargs, const struct value *out, int64_t macs)
{
	(void)args;
	(void)nargs;
	(void)macs;
	struct seen *s = w->ctx;
	char path[128];
	module_path_buf(m, path, sizeof path);
	size_t n = strlen(s->log);
	snprintf(s->log + n, sizeof s->log - n, "%s:%s ", out ? "end" : "failed",
		 path[0] ? path : "root");
}

static void test_walk_hooks(void)
{
	char *js = xasprintf(residual, 4);
	struct model *m = load(js, "[1, 4, 5, 5]");
	free(js);
	if (!m)
		return;
	struct shape x = {.ndim = 4, .dim = {1, 4, 5, 5}};
	struct value in = value_tensor_meta(DT_F32, &x, (struct origin){0});
	struct error e = {0};
	struct seen s = {0};
	struct shape_walk w = {.err = &e, .ctx = &s, .on_op = seen_op, .on_module = seen_module};
	struct value out;
	int64_t macs = 0;
	CHECK(shape_walk(&w, m->root, &in, 1, &out, &macs) == 0);
	/* every registry call, then every module call's end, children first */
	CHECK_STR(s.log, "op:Conv2d end:conv op:ReLU end:relu op:add op:ReLU end:relu end:root ");
	CHECK(macs == 25 * 4 * 4);
	CHECK(w.failed == NULL);
	value_free(&out);
	/* the walk records nothing in the model */
	CHECK(module_find(m->root, "conv")->ncalls == 0);

	/* a hook's failure stops the walk where it is */
	memset(&s, 0, sizeof s);
	s.stop_at = 2;
	CHECK(shape_walk(&w, m->root, &in, 1, &out, &macs) < 0);
	CHECK_STR(e.msg, "stopped at ReLU");
	CHECK_STR(s.log, "op:Conv2d end:conv op:ReLU failed:relu ");
	CHECK(w.failed == module_find(m->root, "relu"));
	CHECK(out.kind == VAL_NONE);
	/* the walk marks no module broken: that is the shape pass's record */
	CHECK(!module_find(m->root, "relu")->broken);
	value_free(&in);
	model_free(m);
}

static void test_shape_arithmetic(void)
{
	/* n, c, h, w = x.shape; x.reshape(n, c * h * w) -> a Linear */
	const char *js =
		"{\"type\": \"Net\", \"children\": {\"fc\": {\"type\": \"Linear\", \"in_features\": 48, \"out_features\": 2}},"
		"\"forward\": [[\"x\", \"placeholder\", \"x\", [], {}],"
		"[\"shape\", \"call_function\", \"getattr\", [{\"ref\": \"x\"}, \"shape\"], {}],"
		"[\"n\", \"call_function\", \"getitem\", [{\"ref\": \"shape\"}, 0], {}],"
		"[\"c\", \"call_function\", \"getitem\", [{\"ref\": \"shape\"}, 1], {}],"
		"[\"h\", \"call_function\", \"getitem\", [{\"ref\": \"shape\"}, -2], {}],"
		"[\"w\", \"call_function\", \"getitem\", [{\"ref\": \"shape\"}, 3], {}],"
		"[\"ch\", \"call_function\", \"mul\", [{\"ref\": \"c\"}, {\"ref\": \"h\"}], {}],"
		"[\"chw\", \"call_function\", \"mul\", [{\"ref\": \"ch\"}, {\"ref\": \"w\"}], {}],"
		"[\"flat\", \"call_method\", \"reshape\", [{\"ref\": \"x\"}, {\"ref\": \"n\"}, {\"ref\": \"chw\"}], {}],"
		"[\"fc\", \"call_module\", \"fc\", [{\"ref\": \"flat\"}], {}],"
		"[\"output\", \"output\", \"output\", [{\"ref\": \"fc\"}], {}]]}";
	struct model *m = load(js, "[3, 3, 4, 4]");
	if (!m)
		return;
	struct shape_result r;
	int rc = shape_pass(m, &r);
	if (rc < 0)
		printf("  %s\n", r.err.msg);
	CHECK(rc == 0);
	char buf[64];
	CHECK(r.output.kind == VAL_TENSOR);
	CHECK_STR(shape_format(&r.output.u.tensor.t.shape, buf, sizeof buf), "[3, 2]");
	shape_result_free(&r);
	/* a different input breaks the Linear, and says where the size came from */
	m->inputs[0].shape.dim[2] = 8;
	m->inputs[0].shape.dim[3] = 8;
	CHECK(shape_pass(m, &r) < 0);
	CHECK_CONTAINS(r.err.msg, "fc: Linear(in_features=48) gets 192");
	shape_result_free(&r);
	model_free(m);
}

/* An unknown function names itself, the module whose forward calls it,
 * and the known functions it is likely a typo of. */
static void test_unknown_function(void)
{
	struct error e = {0};
	const char *doc =
	    "{\"graft\": 1, \"name\": \"t\", \"inputs\": [{\"name\": \"x\", \"shape\": [2, 3]}], "
	    "\"module\": {\"type\": \"Net\", \"children\": {\"head\": {\"type\": \"Net\", "
	    "\"forward\": [[\"x\", \"placeholder\", \"x\", [], {}], "
	    "[\"m\", \"call_function\", \"masked_fil\", [{\"ref\": \"x\"}], {}], "
	    "[\"output\", \"output\", \"output\", [{\"ref\": \"m\"}], {}]]}}, "
	    "\"forward\": [[\"x\", \"placeholder\", \"x\", [], {}], "
	    "[\"h\", \"call_module\", \"head\", [{\"ref\": \"x\"}], {}], "
	    "[\"output\", \"output\", \"output\", [{\"ref\": \"h\"}], {}]]}}";
	struct model *m = json_load_model(doc, strlen(doc), "t.json", NULL, &e);
	CHECK(m == NULL);
	CHECK_CONTAINS(e.msg, "head: forward node 'm' calls unknown function 'masked_fil' (did "
	                      "you mean 'masked_fill'");
	model_free(m);
}

static void test_unknown_type(void)
{
	struct model *m = load("{\"type\": \"Mystery\"}", "[1, 2]");
	if (!m)
		return;
	struct shape_result r;
	CHECK(shape_pass(m, &r) < 0);
	CHECK(r.err.kind == ERR_INPUT);
	CHECK_CONTAINS(r.err.msg, "does not know the type Mystery");
	shape_result_free(&r);
	model_free(m);
}

/* A model of 100,000 modules: a Sequential of 20,000 blocks of four. The
 * pass must complete and count every call (its speed is measured in
 * `make bench`, not here). */
static void test_large_model(void)
{
	struct model *m = model_new("big");
	struct shape s = {.ndim = 2, .dim = {1, 16}};
	model_add_input(m, "x", &s, DT_F32);
	m->root = module_new("", "Sequential");
	m->has_forward = true;
	struct error e = {0};
	for (int i = 0; i < 20000; i++) {
		char name[16];
		snprintf(name, sizeof name, "%d", i);
		struct module *blk = module_new(name, "Sequential");
		const char *types[3] = {"Linear", "ReLU", "Dropout"};
		for (int j = 0; j < 4; j++) {
			snprintf(name, sizeof name, "%d", j);
			struct module *c = module_new(name, types[j % 3]);
			c->def = registry_module(c->type);
			if (j % 3 == 0) {
				struct value v = value_int(16);
				module_set_attr(c, "in_features", &v);
				module_set_attr(c, "out_features", &v);
			}
			CHECK(registry_prepare(c, &e) == 0);
			module_add_child(blk, c);
		}
		module_add_child(m->root, blk);
	}
	CHECK(module_count_nodes(m->root) == 100001);
	struct shape_result r;
	CHECK(shape_pass(m, &r) == 0);
	CHECK(r.macs == (int64_t)40000 * 16 * 16);
	shape_result_free(&r);
	model_free(m);
}

int main(void)
{
	RUN(test_chain_ok);
	RUN(test_chain_break);
	RUN(test_graph_calls);
	RUN(test_graph_break);
	RUN(test_walk_hooks);
	RUN(test_shape_arithmetic);
	RUN(test_unknown_type);
	RUN(test_unknown_function);
	RUN(test_large_model);
	return CHECK_DONE();
}
