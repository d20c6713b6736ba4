/* test_bounds.c - data-dependent sizes: bounded dims in shapes, carried
 * through shape rules (bounds.h), written and read back, and exact in
 * graft run (a model whose nms feeds index_select, a Linear and cat). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/bounds.h"
#include "core/registry.h"
#include "core/shape.h"
#include "core/util.h"
#include "exec/exec.h"
#include "io/format.h"
#include "io/io_npy.h"
#include "view/summary.h"

static char dir[4096];

static void test_parse_format(void)
{
	struct shape s;
	struct error e = {0};
	char buf[64];
	CHECK(shape_parse("[≤1000, 4]", &s, &e) == 0);
	CHECK(s.ndim == 2 && s.dim[0] == 1000 && s.dim[1] == 4 && s.bounded == 1);
	CHECK_STR(shape_format(&s, buf, sizeof buf), "[≤1000, 4]");
	CHECK_STR(shape_format_x(&s, buf, sizeof buf), "≤1000x4");
	struct shape t;
	CHECK(shape_parse("<=1000x4", &t, &e) == 0);
	CHECK(shape_equal(&s, &t));
	CHECK(shape_parse("1000x4", &t, &e) == 0);
	CHECK(!shape_equal(&s, &t)); /* a bound is not the size it bounds */
	CHECK(shape_parse("≤-3", &t, &e) < 0);
	CHECK(shape_parse("≤", &t, &e) < 0);
}

/* The shape rule of function `fn` on args through bounds_infer, formatted
 * into buf ("" when it fails). */
static const char *infer(const char *fn, const struct value *args, int nargs, char *buf,
                         size_t size)
{
	struct error e = {0};
	struct op_call c = {.def = registry_function(fn), .args = args, .nargs = nargs, .err = &e};
	buf[0] = '\0';
	if (bounds_infer(&c) == 0) {
		struct strbuf sb = {0};
		value_format_shapes(&c.out, shape_format, &sb);
		snprintf(buf, size, "%s", sb.s ? sb.s : "");
		free(sb.s);
	} else {
		printf("  %s: %s\n", fn, e.msg);
	}
	value_free(&c.out);
	return buf;
}

static struct value tensor(const char *shape)
{
	struct shape s;
	struct error e = {0};
	shape_parse(shape, &s, &e);
	return value_tensor_meta(DT_F32, &s, (struct origin){0});
}

static void test_rules_carry_bounds(void)
{
	char buf[128];
	struct value a[3];
	/* a layout change moves the bound with its dim */
	a[0] = tensor("[≤1000, 4]");
	a[1] = value_int(0);
	a[2] = value_int(1);
	CHECK_STR(infer("transpose", a, 3, buf, sizeof buf), "[4, ≤1000]");
	CHECK_STR(infer("flatten", a, 1, buf, sizeof buf), "[≤4000]");
	/* a reduction over the bounded dim drops it, over another keeps it */
	CHECK_STR(infer("sum", a, 2, buf, sizeof buf), "[4]");
	a[1] = value_int(1);
	CHECK_STR(infer("sum", a, 2, buf, sizeof buf), "[≤1000]");
	/* cat along the bounded dim adds the bound, along another keeps it */
	struct value l = value_list(2);
	l.u.list.items[0] = value_copy(&a[0]);
	l.u.list.items[1] = tensor("[5, 4]");
	struct value cat[2] = {l, value_int(0)};
	CHECK_STR(infer("cat", cat, 2, buf, sizeof buf), "[≤1005, 4]");
	value_free(&l.u.list.items[1]);
	l.u.list.items[1] = tensor("[≤1000, 1]");
	cat[0] = l;
	cat[1] = value_int(1);
	CHECK_STR(infer("cat", cat, 2, buf, sizeof buf), "[≤1000, 5]");
	/* topk's k is a bound when the data may have fewer */
	struct value topk[2] = {tensor("[≤1000]"), value_int(100)};
	CHECK_STR(infer("topk", topk, 2, buf, sizeof buf), "([≤100], [≤100])");
	value_free(&topk[0]);
	/* a size fixed by the other operand is exact */
	struct value add[2] = {value_copy(&a[0]), tensor("[1000, 4]")};
	CHECK_STR(infer("add", add, 2, buf, sizeof buf), "[1000, 4]");
	value_free(&add[0]);
	value_free(&add[1]);
	value_free(&l);
	value_free(&a[0]);
}

/* The nms_head user model (tools/usermodels/boxes.py). */
static struct model *open_nms_head(void)
{
	char path[4200];
	struct error e = {0};
	snprintf(path, sizeof path, "%s/nms_head.safetensors", dir);
	struct model *m = format_open(path, NULL, &e);
	if (!m)
		printf("  %s\n", e.msg);
	return m;
}

static void test_shape_pass_and_json(void)
{
	struct model *m = open_nms_head();
	CHECK(m != NULL);
	if (!m)
		return;
	struct shape_result r;
	CHECK(shape_pass(m, &r) == 0);
	struct strbuf sb = {0};
	value_format_shapes(&r.output, shape_format, &sb);
	CHECK_STR(sb.s, "([≤40, 3], [≤200], [≤40])");
	free(sb.s);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct summary_opts o = {.depth = -1, .json = true};
	summary_write(f, m, &r, &o);
	fclose(f);
	CHECK_CONTAINS(text, "{\"shape\":[\"≤40\",3],\"dtype\":\"float32\"}");
	CHECK_CONTAINS(text, "{\"shape\":[\"≤40\"],\"dtype\":\"int64\"}");
	free(text);
	shape_result_free(&r);
	model_free(m);
}

/* Runs the plan on x scaled by `scale` and checks the outputs agree on the
 * kept count, which it returns (-1 on failure). */
static int64_t run_scaled(struct exec_plan *p, const struct tensor *x, float scale)
{
	struct tensor in = {.dtype = DT_F32, .shape = x->shape};
	struct error e = {0};
	if (tensor_alloc(&in, &e) < 0)
		return -1;
	float *d = in.storage->data;
	tensor_to_f32(x, d);
	for (int64_t i = 0; i < shape_numel(&x->shape); i++)
		d[i] *= scale;
	struct value out;
	int rc = exec_run(p, &in, 1, &out, &e);
	tensor_release(&in);
	if (rc < 0) {
		printf("  run: %s\n", e.msg);
		return -1;
	}
	int64_t k = -1;
	if (out.kind == VAL_LIST && out.u.list.n == 3) {
		const struct shape *logits = &out.u.list.items[0].u.tensor.t.shape;
		const struct shape *det = &out.u.list.items[1].u.tensor.t.shape;
		const struct shape *keep = &out.u.list.items[2].u.tensor.t.shape;
		k = keep->dim[0];
		if (logits->dim[0] != k || logits->dim[1] != 3 || det->dim[0] != 5 * k ||
		    logits->bounded || det->bounded || keep->bounded)
			k = -1;
	}
	value_free(&out);
	return k;
}

/* The exact sizes follow the data from run to run, in plans with and
 * without statistics. */
static void test_run_exact_sizes(void)
{
	struct model *m = open_nms_head();
	CHECK(m != NULL);
	if (!m)
		return;
	char path[4200];
	struct error e = {0};
	struct tensor x;
	snprintf(path, sizeof path, "%s/nms_head.x.npy", dir);
	CHECK(npy_read(path, &x, &e) == 0);
	for (int stats = 0; stats < 2; stats++) {
		struct exec_opts o = {.stats = stats};
		struct exec_plan *p = exec_plan_new(m, NULL, &o, &e);
		CHECK(p != NULL);
		if (!p)
			break;
		int64_t a = run_scaled(p, &x, 1.0f), b = run_scaled(p, &x, 0.05f);
		int64_t again = run_scaled(p, &x, 1.0f);
		CHECK(a == 24); /* PyTorch's count (tests/data/user/nms_head.y.2.npy) */
		CHECK(b > 0 && b != a);
		CHECK(again == a);
		if (stats) {
			int n;
			const struct exec_stat *st = exec_module_stats(p, m->root, 0, &n);
			CHECK(st && n == 2 && st[0].shape.dim[0] == a && !st[0].shape.bounded);
		}
		exec_plan_free(p);
	}
	tensor_release(&x);
	model_free(m);
}

int main(void)
{
	const char *src = getenv("srcdir");
	snprintf(dir, sizeof dir, "%s/tests/data/user", src ? src : ".");
	RUN(test_parse_format);
	RUN(test_rules_carry_bounds);
	RUN(test_shape_pass_and_json);
	RUN(test_run_exact_sizes);
	return CHECK_DONE();
}
