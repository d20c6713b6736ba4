/* test_zoo.c - graft's shape pass and parameter counts against PyTorch.
 *
 * For every fixture tests/zoo/NAME.json (recorded by
 * tools/make-shape-fixtures with forward hooks on every module) opens
 * models/NAME.json, runs the shape pass and checks: total, trainable and
 * buffer counts; for every module, its type, its parameter count and the
 * output shape of each of its calls, in order. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

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
static bool same_output(const cJSON *j, const struct value *v, char *why, size_t n)
{
	if (cJSON_IsNull(j)) {
		if (v->kind != VAL_NONE)
			snprintf(why, n, "expected None");
		return v->kind == VAL_NONE;
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
			ok = (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble == s->dim[d];
		if (!ok) {
			char *txt = cJSON_PrintUnformatted(shape);
			char buf[160];
			snprintf(why, n, "PyTorch %s, graft %s", txt, shape_format(s, buf, sizeof buf));
			cJSON_free(txt);
		}
		return ok;
	}
	if (cJSON_IsArray(j)) {
		if (v->kind != VAL_LIST || v->u.list.n != cJSON_GetArraySize(j)) {
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

static void check_model(const char *name)
{
	char fpath[1024], mpath[1024];
	snprintf(fpath, sizeof fpath, "%s/tests/zoo/%s.json", srcdir, name);
	snprintf(mpath, sizeof mpath, "%s/models/%s.json", srcdir, name);
	FILE *probe = fopen(mpath, "r");
	if (probe)
		fclose(probe);
	else /* the tiny models with weights are bundles */
		snprintf(mpath, sizeof mpath, "%s/models/tiny/%s.safetensors", srcdir, name);
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

int main(void)
{
	if (getenv("srcdir"))
		srcdir = getenv("srcdir");
	only = getenv("GRAFT_ZOO_ONLY");
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/tests/zoo", srcdir);
	DIR *d = opendir(dir);
	if (!d) {
		printf("no fixtures in %s\n", dir);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	char *names[512];
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 512) {
		size_t len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
			names[n++] = xstrndup(de->d_name, len - 5);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], cmp_str);
	for (int i = 0; i < n; i++) {
		if (!only || strcmp(only, names[i]) == 0) {
			check_failures_in_test = 0;
			check_model(names[i]);
			if (check_failures_in_test) {
				printf("FAIL %s\n", names[i]);
				check_failed++;
			} else {
				printf("ok   %s\n", names[i]);
				check_passed++;
			}
		}
		free(names[i]);
	}
	return CHECK_DONE();
}
