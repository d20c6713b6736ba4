/* test_run.c - the forward pass against PyTorch, and .npy files.
 *
 * Every case in tests/data/run (written by tools/make-run-fixtures) and
 * tests/data/user (tools/make-user-fixtures) is a bundle, its input(s) and
 * PyTorch's output(s), NAME.y.npy or one NAME.y.KEY.npy per tensor of a
 * tuple or list. Each runs three ways: as
 * planned (fusions, constant folding, two threads), without fusions on one
 * thread, and with statistics on; every output element must be within
 * 1e-4 + 1e-4 * |torch| of PyTorch's, and a second run must give the same
 * bits as the first. No Python is needed. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "exec/exec.h"
#include "io/io_npy.h"
#include "core/model.h"
#include "io/format.h"
#include "core/util.h"

#define MAX_OUT 64

static char dir[4096];

/* Whether the n bytes at p contain the string s. */
static bool has_bytes(const void *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp((const char *)p + i, s, k) == 0)
			return true;
	return false;
}

/* One tensor of a model's output and its key: "" for a lone tensor, the
 * positions in tuples and lists and the keys of dicts joined by dots ("0",
 * "1.0", "1.logits") otherwise, as tools/make-user-fixtures names
 * NAME.y.KEY.npy. */
struct leaf {
	const struct tensor *t;
	char key[64];
};

struct leaves {
	struct leaf *out;
	int n;
};

static int add_leaf(const char *key, const struct tensor *t, void *ctx)
{
	struct leaves *l = ctx;
	if (l->n == MAX_OUT)
		return 1;
	l->out[l->n].t = t;
	snprintf(l->out[l->n].key, sizeof l->out[l->n].key, "%s", key);
	l->n++;
	return 0;
}

static void collect(const struct value *v, struct leaf *out, int *n)
{
	struct leaves l = {.out = out};
	value_each_tensor(v, add_leaf, &l);
	*n = l.n;
}

/* How many files NAME.y.*.npy or NAME.y.npy the fixture directory has. */
static int count_outputs(const char *name)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char prefix[300];
	snprintf(prefix, sizeof prefix, "%s.y.", name);
	size_t k = strlen(prefix);
	int count = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (strncmp(de->d_name, prefix, k) == 0 && l > k && strcmp(de->d_name + l - 4, ".npy") == 0)
			count++;
	}
	closedir(d);
	return count;
}

/* Compares got with the reference; describes the first mismatch. */
static bool close_enough(const struct tensor *got, const struct tensor *want, char *why, size_t n)
{
	char a[160], b[160];
	if (!shape_equal(&got->shape, &want->shape)) {
		snprintf(why, n, "shape %s, PyTorch %s", shape_format(&got->shape, a, sizeof a),
		         shape_format(&want->shape, b, sizeof b));
		return false;
	}
	if (got->dtype != want->dtype) {
		snprintf(why, n, "dtype %s, PyTorch %s", dtype_name(got->dtype), dtype_name(want->dtype));
		return false;
	}
	int64_t count = shape_numel(&got->shape);
	if (want->dtype != DT_F32) { /* integer and bool outputs are exact */
		if (memcmp(tensor_data(got), tensor_data(want), tensor_nbytes(got)) != 0) {
			snprintf(why, n, "%s values differ from PyTorch's", dtype_name(got->dtype));
			return false;
		}
		return true;
	}
	const float *g = tensor_data(got), *w = tensor_data(want);
	double worst = 0;
	for (int64_t i = 0; i < count; i++) {
		if (isnan(w[i]) && isnan(g[i]))
			continue;
		double d = fabs((double)g[i] - w[i]);
		if (!(d <= 1e-4 + 1e-4 * fabs(w[i]))) {
			snprintf(why, n, "element %lld: graft %.9g, PyTorch %.9g", (long long)i,
			         g[i], w[i]);
			return false;
		}
		worst = d > worst ? d : worst;
	}
	return true;
}

struct mode {
	const char *name;
	struct exec_opts opts;
	int threads;
};

/* Runs case `name` one way. 0 when it matches, else -1 with why. */
static int run_case(const char *name, const struct mode *md, char *why, size_t n)
{
	char path[4400];
	struct error e = {0};
	snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
	struct model *m = format_open(path, NULL, &e);
	if (!m) {
		snprintf(why, n, "open: %s", e.msg);
		return -1;
	}
	int rc = -1, nin = m->ninputs;
	struct tensor in[4] = {{0}}, ref[MAX_OUT];
	int nref = 0;
	struct shape shapes[4];
	struct exec_plan *p = NULL;
	struct value out1 = value_none(), out2 = value_none();
	memset(ref, 0, sizeof ref);
	for (int i = 0; i < nin && i < 4; i++) {
		if (i == 0)
			snprintf(path, sizeof path, "%s/%s.x.npy", dir, name);
		else
			snprintf(path, sizeof path, "%s/%s.x.%d.npy", dir, name, i);
		if (npy_read(path, &in[i], &e) < 0) {
			snprintf(why, n, "%s", e.msg);
			goto done;
		}
		shapes[i] = in[i].shape;
	}
	if (!md->opts.stats && !md->opts.no_fuse && in[0].dtype == DT_F32) {
		/* The fixtures' float inputs are torch.randn after a seed of 3: so is
		 * exec_randn (graft run --random 3). */
		int64_t count = shape_numel(&in[0].shape);
		float *r = xcalloc((size_t)count, sizeof *r);
		exec_randn(r, count, 3);
		bool same = memcmp(r, in[0].storage->data, (size_t)count * sizeof *r) == 0;
		free(r);
		if (!same) {
			snprintf(why, n,
			         "exec_randn(3) is not torch.randn after torch.manual_seed(3)");
			goto done;
		}
	}
	exec_set_threads(md->threads);
	p = exec_plan_new(m, shapes, &md->opts, &e);
	if (!p) {
		snprintf(why, n, "plan: %s", e.msg);
		goto done;
	}
	if (exec_run(p, in, nin, &out1, &e) < 0 || exec_run(p, in, nin, &out2, &e) < 0) {
		snprintf(why, n, "run: %s", e.msg);
		goto done;
	}
	struct leaf o1[MAX_OUT], o2[MAX_OUT];
	int n1 = 0, n2 = 0;
	collect(&out1, o1, &n1);
	collect(&out2, o2, &n2);
	int nfiles = count_outputs(name);
	if (n1 != nfiles) {
		snprintf(why, n, "%d outputs, PyTorch %d", n1, nfiles);
		goto done;
	}
	for (int i = 0; i < n1; i++) {
		char w[400];
		if (*o1[i].key)
			snprintf(path, sizeof path, "%s/%s.y.%s.npy", dir, name, o1[i].key);
		else
			snprintf(path, sizeof path, "%s/%s.y.npy", dir, name);
		if (npy_read(path, &ref[nref++], &e) < 0) {
			snprintf(why, n, "%s", e.msg);
			goto done;
		}
		if (!close_enough(o1[i].t, &ref[i], w, sizeof w)) {
			snprintf(why, n, "output %s: %s", *o1[i].key ? o1[i].key : "0", w);
			goto done;
		}
		if (memcmp(tensor_data(o1[i].t), tensor_data(o2[i].t), tensor_nbytes(o1[i].t)) != 0) {
			snprintf(why, n, "output %s differs between two runs", o1[i].key);
			goto done;
		}
	}
	if (md->opts.stats) {
		/* The root's statistics describe the output (its float tensors,
		 * at their exact sizes). */
		int ns, nfloat = 0;
		for (int i = 0; i < n1; i++)
			nfloat += o1[i].t->dtype == DT_F32;
		const struct exec_stat *st = exec_module_stats(p, m->root, 0, &ns);
		if (!st || ns != nfloat || st[0].count != shape_numel(&o1[0].t->shape)) {
			snprintf(why, n, "no statistics for the root module's output");
			goto done;
		}
		struct exec_stat check;
		exec_stat_compute(tensor_data(o1[0].t), shape_numel(&o1[0].t->shape), &check);
		if (check.mean != st[0].mean || check.max != st[0].max) {
			snprintf(why, n, "the root's statistics differ from its output's");
			goto done;
		}
	}
	rc = 0;
	goto done;
done:
	value_free(&out1);
	value_free(&out2);
	exec_plan_free(p);
	for (int i = 0; i < nin && i < 4; i++)
		tensor_release(&in[i]);
	for (int i = 0; i < nref; i++)
		tensor_release(&ref[i]);
	model_free(m);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every case of the fixture directory `dir`; at least `min_cases`. */
static void run_fixtures(int min_cases)
{
	static const struct mode modes[] = {
	    {"planned", {.stats = false, .no_fuse = false}, 2},
	    {"unfused", {.stats = false, .no_fuse = true}, 1},
	    {"stats", {.stats = true, .no_fuse = false}, 2},
	};
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	if (!d)
		return;
	char **names = NULL;
	int n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 12 && strcmp(de->d_name + l - 12, ".safetensors") == 0) {
			xgrow(&names, &cap, n + 1, sizeof *names);
			names[n++] = xstrndup(de->d_name, l - 12);
		}
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, by_name);
	CHECK(n >= min_cases);
	for (int i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof modes / sizeof *modes; k++) {
			char why[800] = "";
			if (run_case(names[i], &modes[k], why, sizeof why) < 0) {
				printf("  %s (%s): %s\n", names[i], modes[k].name, why);
				check_failures_in_test++;
			}
		}
		free(names[i]);
	}
	free(names);
}

/* A plan is for its shapes: other inputs are refused, with a message. */
static void test_wrong_inputs(void)
{
	char path[4400];
	struct error e = {0};
	snprintf(path, sizeof path, "%s/resnet.safetensors", dir);
	struct model *m = format_open(path, NULL, &e);
	CHECK(m != NULL);
	if (!m)
		return;
	struct exec_plan *p = exec_plan_new(m, NULL, NULL, &e);
	CHECK(p != NULL);
	struct tensor t = {.dtype = DT_F32, .shape = {.ndim = 4, .dim = {1, 3, 8, 8}}};
	tensor_alloc(&t, NULL);
	struct value out;
	CHECK(exec_run(p, &t, 1, &out, &e) < 0);
	CHECK_CONTAINS(e.msg, "the plan is for [2, 3, 64, 64]");
	CHECK(exec_run(p, &t, 2, &out, &e) < 0);
	CHECK_CONTAINS(e.msg, "takes 1 input");
	tensor_release(&t);
	exec_plan_free(p);
	model_free(m);
	/* too small for the network: a shape break, when planning */
	snprintf(path, sizeof path, "%s/alexnet.safetensors", dir);
	m = format_open(path, NULL, &e);
	CHECK(m != NULL);
	struct shape tiny = {.ndim = 4, .dim = {1, 3, 4, 4}};
	CHECK(m && exec_plan_new(m, &tiny, NULL, &e) == NULL);
	CHECK(e.kind == ERR_SHAPE);
	CHECK_CONTAINS(e.msg, "features.0");
	model_free(m);
}

/* A model without weights is refused; exec_init_model gives it PyTorch's
 * initial values. */
static void test_no_weights(void)
{
	char path[4400];
	struct error e = {0};
	snprintf(path, sizeof path, "%s/../../../models/resnet18.json", dir);
	struct model *m = format_open(path, NULL, &e);
	CHECK(m != NULL);
	if (!m)
		return;
	struct shape s = {.ndim = 4, .dim = {1, 3, 32, 32}};
	CHECK(exec_plan_new(m, &s, NULL, &e) == NULL);
	CHECK_CONTAINS(e.msg, "has no values: the model has no weights");
	struct model *w = exec_init_model(m, 0, &e);
	CHECK(w != NULL);
	struct exec_plan *p = w ? exec_plan_new(w, &s, NULL, &e) : NULL;
	CHECK(p != NULL);
	struct exec_info info;
	if (p) {
		exec_info(p, &info);
		CHECK(info.fused_bn == 20);
		CHECK(info.fused_act >= 9);
		CHECK(info.arena_bytes < 4 * info.peak_live_bytes);
		struct tensor t = {.dtype = DT_F32, .shape = s};
		tensor_alloc(&t, NULL);
		exec_randn(t.storage->data, shape_numel(&s), 0);
		struct value out;
		CHECK(exec_run(p, &t, 1, &out, &e) == 0);
		CHECK(out.kind == VAL_TENSOR && out.u.tensor.t.shape.dim[1] == 1000);
		value_free(&out);
		tensor_release(&t);
	}
	exec_plan_free(p);
	model_free(w);
	model_free(m);
}

/* ---- .npy ---- */

static int parse(const char *header, const void *data, size_t dlen, struct tensor *t,
                 struct error *e)
{
	size_t hl = strlen(header);
	unsigned char *buf = xcalloc(1, 10 + hl + dlen + 1);
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	buf[8] = (unsigned char)(hl & 0xff);
	buf[9] = (unsigned char)(hl >> 8);
	memcpy(buf + 10, header, hl);
	if (dlen)
		memcpy(buf + 10 + hl, data, dlen);
	int rc = npy_parse(buf, 10 + hl + dlen, t, e);
	free(buf);
	return rc;
}

static void test_npy_read(void)
{
	struct tensor t;
	struct error e = {0};
	float f[6] = {1, 2, 3, 4, 5, 6};
	CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", f, sizeof f,
	            &t, &e) == 0);
	CHECK(t.shape.ndim == 2 && t.shape.dim[1] == 3 && ((float *)t.storage->data)[5] == 6);
	tensor_release(&t);
	/* keys in any order, a 1-tuple, float64 and big-endian float16 */
	double d[3] = {0.5, -2, 1e-3};
	CHECK(parse("{'shape': (3,), 'fortran_order': False, 'descr': '<f8'}     \n", d, sizeof d,
	            &t, &e) == 0);
	CHECK(t.shape.ndim == 1 && ((float *)t.storage->data)[1] == -2);
	tensor_release(&t);
	unsigned char h[4] = {0x3c, 0x00, 0xc0, 0x00}; /* 1.0, -2.0 */
	CHECK(parse("{'descr': '>f2', 'fortran_order': False, 'shape': (2,)}\n", h, 4, &t, &e) ==
	      0);
	CHECK(((float *)t.storage->data)[0] == 1 && ((float *)t.storage->data)[1] == -2);
	tensor_release(&t);
	/* integers and bools keep their dtype, big-endian ones swapped */
	int64_t ids[3] = {7, -1, 1LL << 40};
	CHECK(parse("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 3)}\n", ids, sizeof ids,
	            &t, &e) == 0);
	CHECK(t.dtype == DT_I64 && memcmp(t.storage->data, ids, sizeof ids) == 0);
	tensor_release(&t);
	unsigned char be32[8] = {0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe};
	CHECK(parse("{'descr': '>i4', 'fortran_order': False, 'shape': (2,)}\n", be32, 8, &t, &e) ==
	      0);
	CHECK(t.dtype == DT_I32 && ((int32_t *)t.storage->data)[0] == 258 &&
	      ((int32_t *)t.storage->data)[1] == -2);
	tensor_release(&t);
	unsigned char mask[3] = {1, 0, 1};
	CHECK(parse("{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}\n", mask, 3, &t, &e) ==
	      0);
	CHECK(t.dtype == DT_BOOL && ((unsigned char *)t.storage->data)[2] == 1);
	tensor_release(&t);
	CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': ()}\n", f, 4, &t, &e) == 0);
	CHECK(t.shape.ndim == 0);
	tensor_release(&t);

	static const struct {
		const char *header;
		size_t bytes;
		const char *msg;
	} bad[] = {
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 20, "needs 24"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 28, "needs 24"},
	    {"{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }\n", 24, "not supported"},
	    {"{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }\n", 24, "Fortran"},
	    {"{'descr': '<f4', 'shape': (6,), }\n", 24, "lacks 'fortran_order'"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}\n", 24,
	     "unknown key"},
	    {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}\n", 24,
	     "duplicate"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}\n", 24, "non-negative"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999)}\n", 24,
	     "too many elements"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}\n", 4,
	     "too many dimensions"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)\n", 24, "expected ','"},
	    {"{'descr': 'f4', 'fortran_order': False, 'shape': (6,)}\n", 24, "byte order"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk\n", 24,
	     "unexpected text"},
	    {"[1, 2]\n", 0, "dict literal"},
	    {"{'descr: '<f4'}\n", 0, "expected ':'"},
	};
	float big[8] = {0};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		error_clear(&e);
		int rc = parse(bad[i].header, big, bad[i].bytes, &t, &e);
		CHECK(rc < 0);
		if (rc == 0)
			tensor_release(&t);
		else
			CHECK_CONTAINS(e.msg, bad[i].msg);
	}
	/* the raw layout: magic, version, truncated headers */
	CHECK(npy_parse("\x93NUMPX\x01\x00\x10\x00", 10, &t, &e) < 0);
	CHECK_CONTAINS(e.msg, "not a NumPy");
	CHECK(npy_parse("\x93NUMPY\x04\x00\x10\x00", 10, &t, &e) < 0);
	CHECK_CONTAINS(e.msg, "version 4.0");
	CHECK(npy_parse("\x93NUMPY\x01\x00\xff\x00{'descr'", 17, &t, &e) < 0);
	CHECK_CONTAINS(e.msg, "ends inside the header");
	CHECK(npy_parse("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12, &t, &e) < 0);
	CHECK_CONTAINS(e.msg, "too large");
	CHECK(npy_parse("\x93NUMPY", 6, &t, &e) < 0);
}

static void test_npy_write(void)
{
	char path[] = "tests/out/run_npy.npy";
	struct tensor t = {.dtype = DT_F32, .shape = {.ndim = 3, .dim = {2, 1, 5}}};
	tensor_alloc(&t, NULL);
	for (int i = 0; i < 10; i++)
		((float *)t.storage->data)[i] = (float)i / 3;
	uint32_t signalling_nan = 0x7fa00001; /* written as is, not quietened */
	memcpy((float *)t.storage->data + 3, &signalling_nan, 4);
	struct error e = {0};
	CHECK(npy_write(path, &t, &e) == 0);
	struct tensor r = {0};
	CHECK(npy_read(path, &r, &e) == 0);
	CHECK(shape_equal(&r.shape, &t.shape));
	CHECK(memcmp(r.storage->data, t.storage->data, 40) == 0);
	/* NumPy's layout: the data starts at a multiple of 64 */
	struct storage *s = storage_map_file(path, &e);
	CHECK(s && s->size == 128 + 40);
	CHECK(s && has_bytes(s->data, 128, "'shape': (2, 1, 5), }"));
	storage_unref(s);
	tensor_release(&r);
	struct tensor one = {.dtype = DT_F32, .shape = {.ndim = 1, .dim = {1}}};
	tensor_alloc(&one, NULL);
	CHECK(npy_write(path, &one, &e) == 0);
	s = storage_map_file(path, &e);
	CHECK(s && has_bytes(s->data, s->size, "'shape': (1,), }"));
	storage_unref(s);
	tensor_release(&one);
	CHECK(npy_read("tests/out/no-such.npy", &r, &e) < 0);
	CHECK_CONTAINS(e.msg, "no-such.npy");
	CHECK(npy_write("tests/out/no-such-dir/x.npy", &t, &e) < 0);
	tensor_release(&t);
}

/* tests/data/run: op families, zoo families and tiny models. */
static void test_fixtures(void)
{
	run_fixtures(30);
}

/* tests/data/user: the user-model suite (tools/usermodels). */
static void test_user_fixtures(void)
{
	const char *src = getenv("srcdir");
	snprintf(dir, sizeof dir, "%s/tests/data/user", src ? src : ".");
	run_fixtures(5);
}

int main(void)
{
	const char *src = getenv("srcdir");
	snprintf(dir, sizeof dir, "%s/tests/data/run", src ? src : ".");
	RUN(test_npy_read);
	RUN(test_npy_write);
	RUN(test_wrong_inputs);
	RUN(test_no_weights);
	RUN(test_fixtures);
	RUN(test_user_fixtures);
	return CHECK_DONE();
}
