/* test_zoo.c - graft's shape pass and parameter counts against PyTorch.
 *
 * For every fixture tests/zoo/NAME.json (recorded by
 * tools/make-shape-fixtures with forward hooks on every module) opens
 * models/NAME.json (or the tiny model's bundle), and for every
 * tests/data/user/NAME.shapes.json (tools/make-user-fixtures) the bundle
 * beside it; runs the shape pass and checks: total, trainable and
 * buffer counts; for every module, its type, its parameter count and the
 * output shape of each of its calls, in order. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/model.h"
#include "io/format.h"
#include "core/registry.h"
#include "core/shape.h"
#include "core/util.h"

static const char *srcdir = ".";
static const char *only; /* run one model (GRAFT_ZOO_ONLY) */

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = xmalloc((size_t)len + 1);
	size_t got = fread(buf, 1, (size_t)len, f);
	fclose(f);
	buf[got] = '\0';
	*n = got;
	return buf;
}

/* Compares a recorded output (fixture encoding) with graft's value. */
/* Dim d of graft's shape s against the fixture's: a bound "≤B" must be
 * graft's bound B; PyTorch's size n is graft's size, or within graft's
 * bound (PyTorch records the exact size of the run). */
static bool same_dim(const cJSON *item, const struct shape *s, int d)
{
	bool bounded = s->bounded >> d & 1;
	if (cJSON_IsString(item)) {
		const char *t = item->valuestring;
		size_t le = strlen("≤");
		return strncmp(t, "≤", le) == 0 && bounded && strtoll(t + le, NULL, 10) == s->dim[d];
	}
	int64_t n = (int64_t)item->valuedouble;
	return bounded ? n <= s->dim[d] : n == s->dim[d];
}

static bool same_output(const cJSON *j, const struct value *v, char *why, size_t n)
{
	if (cJSON_IsNull(j)) {
		if (v->kind != VAL_NONE)
			snprintf(why, n, "expected None");
		return v->kind == VAL_NONE;
	}
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "keys");
	if (keys) {
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(j, "values");
		int nk = cJSON_GetArraySize(keys);
		if (v->kind != VAL_LIST || !v->u.list.keys || v->u.list.n != nk) {
			snprintf(why, n, "expected a dict of %d", nk);
			return false;
		}
		for (int i = 0; i < nk; i++) {
			const char *k = cJSON_GetArrayItem(keys, i)->valuestring;
			if (strcmp(k, v->u.list.keys[i]) != 0) {
				snprintf(why, n, "dict key %d: PyTorch '%s', graft '%s'", i, k,
					 v->u.list.keys[i]);
				return false;
			}
			if (!same_output(cJSON_GetArrayItem(values, i), &v->u.list.items[i], why, n))
				return false;
		}
		return true;
	}
	if (cJSON_IsObject(j)) {
		const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
		if (v->kind != VAL_TENSOR) {
			snprintf(why, n, "expected a tensor");
			return false;
		}
		const struct shape *s = &v->u.tensor.t.shape;
		bool ok = cJSON_GetArraySize(shape) == s->ndim;
		for (int d = 0; ok && d < s->ndim; d++)
			ok = same_dim(cJSON_GetArrayItem(shape, d), s, d);
		if (!ok) {
			char *txt = cJSON_PrintUnformatted(shape);
			char buf[160];
			snprintf(why, n, "PyTorch %s, graft %s", txt, shape_format(s, buf, sizeof buf));
			cJSON_free(txt);
		}
		return ok;
	}
	if (cJSON_IsNumber(j)) {
		if (v->kind != VAL_INT || v->u.i != (int64_t)j->valuedouble)
			snprintf(why, n, "expected the int %lld", (long long)j->valuedouble);
		return v->kind == VAL_INT && v->u.i == (int64_t)j->valuedouble;
	}
	if (cJSON_IsArray(j)) {
		if (v->kind != VAL_LIST || v->u.list.keys || v->u.list.n != cJSON_GetArraySize(j)) {
			snprintf(why, n, "expected a tuple of %d", cJSON_GetArraySize(j));
			return false;
		}
		for (int i = 0; i < v->u.list.n; i++)
			if (!same_output(cJSON_GetArrayItem(j, i), &v->u.list.items[i], why, n))
				return false;
		return true;
	}
	snprintf(why, n, "unexpected fixture value");
	return false;
}

/* True when path lies inside a registry-typed module (PyTorch sub-modules
 * graft folds into one type, like MultiheadAttention's out_proj). */
static bool inside_leaf(const struct module *root, const char *path)
{
	char *p = xstrdup(path);
	bool inside = false;
	for (char *dot = strrchr(p, '.'); dot && !inside; dot = strrchr(p, '.')) {
		*dot = '\0';
		const struct module *m = module_find(root, p);
		inside = m && m->def;
	}
	free(p);
	return inside;
}

static int failures_shown;

/* Checks the model at mpath against the fixture at fpath. */
static void check_model(const char *name, const char *fpath, const char *mpath)
{
	size_t n;
	char *text = slurp(fpath, &n);
	CHECK(text != NULL);
	if (!text)
		return;
	cJSON *fx = cJSON_Parse(text);
	free(text);
	CHECK(fx != NULL);
	struct error e = {0};
	struct model *m = format_open(mpath, NULL, &e);
	if (!m) {
		printf("  %s: %s\n", name, e.msg);
		CHECK(m != NULL);
		cJSON_Delete(fx);
		return;
	}
	struct shape_result r;
	int rc = shape_pass(m, &r);
	if (rc < 0)
		printf("  %s: shape pass failed: %s\n", name, r.err.msg);
	CHECK(rc == 0);
	struct param_counts pc;
	module_count(m->root, &pc);
	int64_t want_params = (int64_t)cJSON_GetObjectItem(fx, "params_total")->valuedouble;
	int64_t want_train = (int64_t)cJSON_GetObjectItem(fx, "params_trainable")->valuedouble;
	int64_t want_buf = (int64_t)cJSON_GetObjectItem(fx, "buffers_total")->valuedouble;
	if (pc.params != want_params || pc.trainable != want_train || pc.buffers != want_buf)
		printf("  %s: params %lld/%lld trainable %lld/%lld buffers %lld/%lld (graft/PyTorch)\n",
		       name, (long long)pc.params, (long long)want_params, (long long)pc.trainable,
		       (long long)want_train, (long long)pc.buffers, (long long)want_buf);
	CHECK(pc.params == want_params);
	CHECK(pc.trainable == want_train);
	CHECK(pc.buffers == want_buf);
	int bad = 0;
	const cJSON *mod;
	cJSON_ArrayForEach(mod, cJSON_GetObjectItem(fx, "modules"))
	{
		const char *path = cJSON_GetObjectItem(mod, "path")->valuestring;
		const char *type = cJSON_GetObjectItem(mod, "type")->valuestring;
		const cJSON *calls = cJSON_GetObjectItem(mod, "calls");
		const struct module *gm = module_find(m->root, path);
		char why[400] = "";
		if (!gm) {
			if (!inside_leaf(m->root, path))
				snprintf(why, sizeof why, "missing from graft's tree");
		} else if (strcmp(gm->type, type) != 0) {
			snprintf(why, sizeof why, "type %s, PyTorch %s", gm->type, type);
		} else {
			struct param_counts mc;
			module_count(gm, &mc);
			int64_t want = (int64_t)cJSON_GetObjectItem(mod, "params")->valuedouble;
			if (mc.params != want)
				snprintf(why, sizeof why, "params %lld, PyTorch %lld",
					 (long long)mc.params, (long long)want);
			else if (rc == 0 && gm->ncalls != cJSON_GetArraySize(calls))
				snprintf(why, sizeof why, "called %d times, PyTorch %d", gm->ncalls,
					 cJSON_GetArraySize(calls));
			for (int i = 0; rc == 0 && !why[0] && i < gm->ncalls; i++)
				if (!same_output(cJSON_GetArrayItem(calls, i), &gm->calls[i].out, why,
						 sizeof why))
					break;
		}
		if (why[0]) {
			if (bad < 3 && failures_shown < 60)
				printf("  %s: module '%s': %s\n", name, path, why), failures_shown++;
			bad++;
		}
	}
	if (bad)
		printf("  %s: %d modules differ from PyTorch\n", name, bad);
	CHECK(bad == 0);
	shape_result_free(&r);
	model_free(m);
	cJSON_Delete(fx);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the files in dir ending in suffix, without it, sorted;
 * returns the count. */
static int list_names(const char *dir, const char *suffix, char **names, int max)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	size_t k = strlen(suffix);
	struct dirent *de;
	while ((de = readdir(d)) && n < max) {
		size_t len = strlen(de->d_name);
		if (len > k && strcmp(de->d_name + len - k, suffix) == 0)
			names[n++] = xstrndup(de->d_name, len - k);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], cmp_str);
	return n;
}

/* Checks one model and reports it as a test of its own. */
static void run_model(const char *label, const char *name, const char *fpath, const char *mpath)
{
	if (only && strcmp(only, name) != 0)
		return;
	check_failures_in_test = 0;
	check_model(name, fpath, mpath);
	if (check_failures_in_test) {
		printf("FAIL %s\n", label);
		check_failed++;
	} else {
		printf("ok   %s\n", label);
		check_passed++;
	}
}

int main(void)
{
	if (getenv("srcdir"))
		srcdir = getenv("srcdir");
	only = getenv("GRAFT_ZOO_ONLY");
	char dir[1024], fpath[1200], mpath[1200], label[600];
	char *names[512];
	/* tests/zoo: the zoo (models/NAME.json) and the tiny models with
	 * weights (models/tiny/NAME.safetensors). */
	snprintf(dir, sizeof dir, "%s/tests/zoo", srcdir);
	int n = list_names(dir, ".json", names, 512);
	if (n <= 0) {
		printf("no fixtures in %s\n", dir);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(fpath, sizeof fpath, "%s/%s.json", dir, names[i]);
		snprintf(mpath, sizeof mpath, "%s/models/%s.json", srcdir, names[i]);
		if (access(mpath, R_OK) != 0)
			snprintf(mpath, sizeof mpath, "%s/models/tiny/%s.safetensors", srcdir, names[i]);
		run_model(names[i], names[i], fpath, mpath);
		free(names[i]);
	}
	/* tests/data/user: the user-model suite, each bundle beside its
	 * fixture. */
	snprintf(dir, sizeof dir, "%s/tests/data/user", srcdir);
	n = list_names(dir, ".shapes.json", names, 512);
	CHECK(n >= 5);
	for (int i = 0; i < n; i++) {
		snprintf(fpath, sizeof fpath, "%s/%s.shapes.json", dir, names[i]);
		snprintf(mpath, sizeof mpath, "%s/%s.safetensors", dir, names[i]);
		snprintf(label, sizeof label, "user/%s", names[i]);
		run_model(label, names[i], fpath, mpath);
		free(names[i]);
	}
	return CHECK_DONE();
}
