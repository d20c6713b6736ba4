/* test_value.c - values, the module tree and the JSON format round trip. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/io_json.h"
#include "core/model.h"
#include "core/module.h"
#include "core/registry.h"
#include "core/util.h"
#include "core/value.h"

static void roundtrip(const char *text, const char *want)
{
	struct value v;
	struct error e = {0};
	char buf[256];
	int rc = value_parse(text, &v, NULL, &e);
	CHECK(rc == 0);
	if (rc < 0) {
		printf("  parse '%s': %s\n", text, e.msg);
		return;
	}
	value_format(&v, buf, sizeof buf);
	CHECK_STR(buf, want);
	value_free(&v);
}

static void test_parse_format(void)
{
	roundtrip("3", "3");
	roundtrip("-12", "-12");
	roundtrip("0.5", "0.5");
	roundtrip("1e-05", "1e-05");
	roundtrip("2.0", "2.0");
	roundtrip("True", "True");
	roundtrip("None", "None");
	roundtrip("(3, 3)", "(3, 3)");
	roundtrip("[1,2, 3]", "(1, 2, 3)");
	roundtrip("(3)", "3");
	roundtrip("(3,)", "(3,)");
	roundtrip("'same'", "'same'");
	roundtrip("\"zeros\"", "'zeros'");
	roundtrip("tanh", "'tanh'");
	roundtrip("((1, 2), [3])", "((1, 2), (3,))");
}

static void test_parse_errors(void)
{
	struct value v;
	struct error e = {0};
	CHECK(value_parse("(1, 2", &v, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "expected ',' or ')'");
	CHECK(value_parse("'abc", &v, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "unterminated string");
	CHECK(value_parse("3 4", &v, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "unexpected text");
	CHECK(value_parse("99999999999999999999", &v, NULL, &e) < 0);
	CHECK(value_parse("", &v, NULL, &e) < 0);
	char deep[200];
	memset(deep, '(', 100);
	deep[100] = '\0';
	CHECK(value_parse(deep, &v, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "nested too deeply");
	const char *end;
	CHECK(value_parse("7 rest", &v, &end, &e) == 0);
	CHECK(v.kind == VAL_INT && v.u.i == 7);
	CHECK_STR(end, "rest");
}

static void test_value_ints(void)
{
	struct value v = value_int(3);
	int64_t out[2];
	CHECK(value_ints(&v, out, 2) == 0 && out[0] == 3 && out[1] == 3);
	struct value l;
	struct error e = {0};
	CHECK(value_parse("(2, 5)", &l, NULL, &e) == 0);
	CHECK(value_ints(&l, out, 2) == 0 && out[0] == 2 && out[1] == 5);
	CHECK(value_ints(&l, out, 3) < 0);
	struct value c = value_copy(&l);
	CHECK(value_equal(&c, &l));
	value_free(&c);
	value_free(&l);
	struct value one = value_int(1), onef = value_float(1.0), t = value_bool(true);
	CHECK(value_equal(&one, &onef));
	CHECK(!value_equal(&one, &t));
}

static void test_value_bytes_and_shapes(void)
{
	struct shape s = {.ndim = 2, .dim = {2, 3}};
	struct value t = value_tensor_meta(DT_F32, &s, (struct origin){0});
	struct value pair = value_list(2);
	pair.u.list.items[0] = value_copy(&t);
	pair.u.list.items[1] = value_int(7);
	CHECK(value_bytes(&t) == 24);
	CHECK(value_bytes(&pair) == 24);
	struct value n = value_int(1);
	CHECK(value_bytes(&n) == 0);
	struct strbuf sb = {0};
	value_format_shapes(&pair, shape_format, &sb);
	strbuf_add(&sb, " ");
	value_format_shapes(&pair, shape_format_x, &sb);
	CHECK_STR(sb.s, "([2, 3], 7) (2x3, 7)");
	strbuf_free(&sb);
	value_free(&pair);
	value_free(&t);
}

static void test_same_attrs(void)
{
	struct module *a = module_new("a", "Conv2d"), *b = module_new("b", "Conv2d");
	struct value three = value_int(3), one = value_int(1);
	module_set_attr(a, "kernel_size", &three);
	module_set_attr(a, "stride", &one);
	module_set_attr(b, "stride", &one);
	CHECK(!module_same_attrs(a, b));
	module_set_attr(b, "kernel_size", &three);
	CHECK(module_same_attrs(a, b));
	module_set_attr(b, "stride", &three);
	CHECK(!module_same_attrs(a, b));
	module_free(a);
	module_free(b);
}

static void test_tree(void)
{
	struct module *root = module_new("", "Net");
	struct module *a = module_new("layer1", "Sequential");
	struct module *b = module_new("0", "Block");
	module_add_child(root, a);
	module_add_child(a, b);
	struct shape s = {.ndim = 2, .dim = {4, 5}};
	module_add_param(b, "weight", DT_F32, &s, false);
	module_add_param(b, "running_mean", DT_F32, &s, true);
	CHECK(module_find(root, "layer1.0") == b);
	CHECK(module_find(root, "") == root);
	CHECK(module_find(root, "layer1.1") == NULL);
	CHECK(module_find(root, "layer1.0.x") == NULL);
	char *p = module_path(b);
	CHECK_STR(p, "layer1.0");
	free(p);
	struct param_counts pc;
	module_count(root, &pc);
	CHECK(pc.params == 20 && pc.trainable == 20 && pc.buffers == 20);
	CHECK(pc.param_bytes == 80);
	module_param(b, "weight")->trainable = false;
	module_count(root, &pc);
	CHECK(pc.trainable == 0);
	CHECK(module_count_nodes(root) == 3);
	module_free(root);
}

static const char *small_model =
	"{\"graft\": 1, \"name\": \"net\",\n"
	" \"inputs\": [{\"name\": \"x\", \"shape\": [1, 3, 8, 8], \"dtype\": \"float32\"}],\n"
	" \"module\": {\"type\": \"Net\", \"children\": {\n"
	"   \"conv\": {\"type\": \"Conv2d\", \"in_channels\": 3, \"out_channels\": 4, \"kernel_size\": 3, \"padding\": 1},\n"
	"   \"relu\": {\"type\": \"ReLU\"},\n"
	"   \"head\": {\"type\": \"Sequential\", \"children\": {\n"
	"      \"0\": {\"type\": \"Flatten\"},\n"
	"      \"1\": {\"type\": \"Linear\", \"in_features\": 256, \"out_features\": 10}}}},\n"
	"  \"parameters\": {\"scale\": {\"shape\": [1], \"dtype\": \"float32\"}},\n"
	"  \"frozen\": [\"scale\"],\n"
	"  \"forward\": [[\"x\", \"placeholder\", \"x\", [], {}],\n"
	"     [\"conv\", \"call_module\", \"conv\", [{\"ref\": \"x\"}], {}],\n"
	"     [\"relu\", \"call_module\", \"relu\", [{\"ref\": \"conv\"}], {}],\n"
	"     [\"add\", \"call_function\", \"add\", [{\"ref\": \"relu\"}, {\"ref\": \"conv\"}], {}],\n"
	"     [\"head\", \"call_module\", \"head\", [{\"ref\": \"add\"}], {}],\n"
	"     [\"output\", \"output\", \"output\", [{\"ref\": \"head\"}], {}]]}}\n";

static void test_json_roundtrip(void)
{
	struct error e = {0};
	struct model *m = json_load_model(small_model, strlen(small_model), "net.json", NULL, &e);
	if (!m)
		printf("  %s\n", e.msg);
	CHECK(m != NULL);
	if (!m)
		return;
	const struct module *conv = module_find(m->root, "conv");
	CHECK(conv && conv->def == registry_module("Conv2d"));
	/* defaults filled, pairs expanded */
	int64_t k[2];
	module_attr_ints(conv, "kernel_size", k, 2);
	CHECK(k[0] == 3 && k[1] == 3);
	CHECK(module_attr_int(conv, "groups", 0) == 1);
	CHECK(module_param(conv, "weight") && module_param(conv, "bias"));
	CHECK(!module_param(m->root, "scale")->trainable);
	char *text = json_save_model(m, NULL);
	struct model *m2 = json_load_model(text, strlen(text), "again.json", NULL, &e);
	CHECK(m2 != NULL);
	if (m2) {
		char *text2 = json_save_model(m2, NULL);
		CHECK_STR(text2, text);
		free(text2);
		model_free(m2);
	}
	free(text);
	model_free(m);
}

static void expect_load_error(const char *doc, const char *fragment)
{
	struct error e = {0};
	struct model *m = json_load_model(doc, strlen(doc), "bad.json", NULL, &e);
	CHECK(m == NULL);
	model_free(m);
	CHECK_CONTAINS(e.msg, fragment);
	CHECK_CONTAINS(e.msg, "bad.json");
}

/* A document of a million commas would take 64 bytes of parsed nodes a
 * byte: it is refused before parsing, past the file's memory budget. */
static void test_json_budget(void)
{
	size_t n = 1000000;
	char *doc = xmalloc(n + 1);
	memset(doc, ',', n);
	doc[0] = '[';
	doc[n] = '\0';
	expect_load_error(doc, "bad.json: the document: reading it would take more than 48.00 MB "
	                       "of memory (the budget for a file of 1.00 MB: 32 times its size "
	                       "plus 16.00 MB)");
	free(doc);
}

#define DOC(module) \
	"{\"graft\": 1, \"name\": \"n\", \"inputs\": [{\"name\": \"x\", \"shape\": [1, 3]}], \"module\": " module "}"

static void test_json_errors(void)
{
	expect_load_error("{\"graft\": 1,", "bad.json:1:12: not valid JSON");
	expect_load_error("[1, 2]", "not a graft architecture");
	expect_load_error("{\"graft\": 2, \"name\": \"n\"}", "version 2 is not supported");
	expect_load_error(DOC("{\"children\": {}}"), "root module: missing \"type\"");
	expect_load_error(DOC("{\"type\": \"Linear\", \"in_features\": 3}"), "out_features");
	expect_load_error(DOC("{\"type\": \"S\", \"children\": {\"a\": {\"type\": \"Linear\", "
			      "\"in_features\": \"x\", \"out_features\": 2}}}"),
			  "module 'a'");
	expect_load_error(DOC("{\"type\": \"S\", \"forward\": [[\"y\", \"call_module\", \"nope\", "
			      "[], {}], [\"output\", \"output\", \"output\", [{\"ref\": \"y\"}], {}]]}"),
			  "forward node 'y' calls 'nope', which is not a child");
	expect_load_error(DOC("{\"type\": \"S\", \"forward\": [[\"output\", \"output\", \"output\", "
			      "[{\"ref\": \"ghost\"}], {}]]}"),
			  "refers to 'ghost', which is not an earlier node");
	expect_load_error(DOC("{\"type\": \"S\", \"forward\": [[\"f\", \"call_function\", "
			      "\"frobnicate\", [], {}], [\"output\", \"output\", \"output\", "
			      "[{\"ref\": \"f\"}], {}]]}"),
			  "unknown function 'frobnicate'");
	expect_load_error(DOC("{\"type\": \"S\", \"parameters\": {\"w\": {\"shape\": [1099511627776, "
			      "1099511627776]}}}"),
			  "tensor 'w' needs a valid \"shape\"");
	expect_load_error(DOC("{\"type\": \"S\", \"children\": {\"a.b\": {\"type\": \"ReLU\"}}}"),
			  "child name 'a.b'");
	expect_load_error(DOC("{\"type\": \"S\", \"forward\": []}"), "does not end with an output");
}

int main(void)
{
	RUN(test_parse_format);
	RUN(test_parse_errors);
	RUN(test_value_ints);
	RUN(test_value_bytes_and_shapes);
	RUN(test_same_attrs);
	RUN(test_tree);
	RUN(test_json_roundtrip);
	RUN(test_json_errors);
	RUN(test_json_budget);
	return CHECK_DONE();
}
