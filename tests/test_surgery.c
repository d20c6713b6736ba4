/* test_surgery.c - the surgeries tutorials do by hand in PyTorch, done with
 * graft's commands and compared with what PyTorch made (tests/edits/, from
 * tools/make-edit-fixtures): module types, state_dict keys and shapes in
 * order, parameter counts, the output shape, and where a broken model
 * fails. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "edit/edit.h"
#include "core/model.h"
#include "io/format.h"
#include "io/save.h"

static const char *srcdir = ".";

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)len + 1);
	size_t n = fread(buf, 1, (size_t)len, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool same_shape(const cJSON *j, const struct shape *s)
{
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != s->ndim)
		return false;
	for (int d = 0; d < s->ndim; d++)
		if ((int64_t)cJSON_GetArrayItem(j, d)->valuedouble != s->dim[d])
			return false;
	return true;
}

static bool same_output(const cJSON *j, const struct value *v)
{
	if (cJSON_IsObject(j))
		return v->kind == VAL_TENSOR &&
		       same_shape(cJSON_GetObjectItem(j, "shape"), &v->u.tensor.t.shape);
	if (cJSON_IsArray(j)) {
		if (v->kind != VAL_LIST || v->u.list.n != cJSON_GetArraySize(j))
			return false;
		for (int i = 0; i < v->u.list.n; i++)
			if (!same_output(cJSON_GetArrayItem(j, i), &v->u.list.items[i]))
				return false;
		return true;
	}
	return cJSON_IsNull(j) && v->kind == VAL_NONE;
}

/* Runs the script line by line as the interactive pane would: a break is
 * kept and the next line may fix it; a refused command fails the test. */
static bool run_script(struct editor *ed, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[4096];
	int lineno = 0;
	bool ok = true;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		struct strbuf out = {0};
		struct error e = {0};
		if (editor_run(ed, line, &out, &e) < 0) {
			printf("  %s:%d: %s\n", path, lineno, e.msg);
			ok = false;
		}
		strbuf_free(&out);
	}
	fclose(f);
	return ok;
}

static void check_case(const char *file)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/tests/edits/%s", srcdir, file);
	char *text = slurp(path);
	cJSON *fx = text ? cJSON_Parse(text) : NULL;
	free(text);
	CHECK(fx != NULL);
	if (!fx)
		return;
	const char *start = cJSON_GetObjectItem(fx, "start")->valuestring;
	const char *script = cJSON_GetObjectItem(fx, "script")->valuestring;
	char mpath[1200], spath[1200], lib[1200];
	snprintf(mpath, sizeof mpath, "%s/%s", srcdir, start);
	snprintf(spath, sizeof spath, "%s/%s", srcdir, script);
	snprintf(lib, sizeof lib, "%s/lib/types.graft", srcdir);
	struct error e = {0};
	struct model *m = format_open(mpath, NULL, &e);
	if (!m) {
		printf("  %s\n", e.msg);
		CHECK(m != NULL);
		cJSON_Delete(fx);
		return;
	}
	struct editor ed;
	editor_init(&ed, m);
	CHECK(editor_load_types(&ed, lib, false, &e) == 0);
	CHECK(run_script(&ed, spath));
	bool want_ok = cJSON_IsTrue(cJSON_GetObjectItem(fx, "ok"));
	if (ed.check.ok != want_ok)
		printf("  %s: PyTorch %s, graft %s (%s)\n", file, want_ok ? "runs" : "fails",
		       ed.check.ok ? "checks" : "breaks", ed.check.err.msg);
	CHECK(ed.check.ok == want_ok);
	if (!want_ok && !ed.check.ok) {
		const cJSON *at = cJSON_GetObjectItem(fx, "fails_at");
		char fpath[1024] = "";
		if (ed.check.failed)
			module_path_buf(ed.check.failed, fpath, sizeof fpath);
		if (cJSON_IsString(at) && strcmp(at->valuestring, fpath) != 0)
			printf("  %s: PyTorch fails in '%s', graft in '%s'\n", file, at->valuestring, fpath);
		CHECK(cJSON_IsString(at) && strcmp(at->valuestring, fpath) == 0);
	}
	if (want_ok && ed.check.ok)
		CHECK(same_output(cJSON_GetObjectItem(fx, "output"), &ed.check.output));
	struct param_counts pc;
	module_count(ed.model->root, &pc);
	int64_t want_total = (int64_t)cJSON_GetObjectItem(fx, "params_total")->valuedouble;
	int64_t want_train = (int64_t)cJSON_GetObjectItem(fx, "params_trainable")->valuedouble;
	if (pc.params != want_total || pc.trainable != want_train)
		printf("  %s: params %lld/%lld trainable %lld/%lld (graft/PyTorch)\n", file,
		       (long long)pc.params, (long long)want_total, (long long)pc.trainable,
		       (long long)want_train);
	CHECK(pc.params == want_total);
	CHECK(pc.trainable == want_train);
	/* module types, path by path */
	int bad = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(fx, "modules"))
	{
		const struct module *gm = module_find(ed.model->root, it->string);
		bool inside_leaf = false;
		if (!gm) {
			/* PyTorch sub-modules graft folds into a type (MHA's out_proj) */
			char *p = strdup(it->string), *dot;
			while (!inside_leaf && (dot = strrchr(p, '.'))) {
				*dot = '\0';
				const struct module *up = module_find(ed.model->root, p);
				inside_leaf = up && up->def;
			}
			free(p);
		}
		if ((!gm && !inside_leaf) || (gm && strcmp(gm->type, it->valuestring) != 0)) {
			if (bad++ < 3)
				printf("  %s: module '%s' is %s in PyTorch, %s in graft\n", file, it->string,
				       it->valuestring, gm ? gm->type : "missing");
		}
	}
	CHECK(bad == 0);
	/* the state_dict: same keys, same order, same shapes */
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(ed.model, &names, &tensors);
	const cJSON *sd = cJSON_GetObjectItem(fx, "state_dict");
	CHECK(n == cJSON_GetArraySize(sd));
	int i = 0;
	bad = 0;
	cJSON_ArrayForEach(it, sd)
	{
		if (i >= n || strcmp(names[i], it->string) != 0 ||
		    !same_shape(it, &tensors[i]->shape)) {
			if (bad++ < 3)
				printf("  %s: state_dict[%d]: PyTorch %s, graft %s\n", file, i, it->string,
				       i < n ? names[i] : "(none)");
		}
		i++;
	}
	CHECK(bad == 0);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tensors);
	editor_free(&ed);
	cJSON_Delete(fx);
}

/* head 10 on every zoo model picks the classifier PyTorch users change by
 * hand (fc, classifier.6, heads.head, SqueezeNet's 1x1 conv, ...). */
static void test_head10_zoo(void)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/tests/edits/head10_zoo.json", srcdir);
	char *text = slurp(path);
	cJSON *fx = text ? cJSON_Parse(text) : NULL;
	free(text);
	CHECK(fx != NULL);
	if (!fx)
		return;
	int n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(fx, "models"))
	{
		char mpath[1200];
		snprintf(mpath, sizeof mpath, "%s/models/%s.json", srcdir, it->string);
		struct error e = {0};
		struct model *m = format_open(mpath, NULL, &e);
		CHECK(m != NULL);
		if (!m)
			continue;
		struct editor ed;
		editor_init(&ed, m);
		struct strbuf out = {0};
		int rc = editor_run(&ed, "head 10", &out, &e);
		const char *cls = cJSON_GetObjectItem(it, "classifier")->valuestring;
		const struct module *c = module_find(ed.model->root, cls);
		const struct param *w = c ? module_param(c, "weight") : NULL;
		struct param_counts pc;
		module_count(ed.model->root, &pc);
		/* graft keeps the classifier's own configuration: where it has no
		 * bias (maxvit_t), the new one has none either, while the
		 * hand-written nn.Linear(512, 10) adds one */
		int64_t want = (int64_t)cJSON_GetObjectItem(it, "params_total")->valuedouble;
		bool no_bias = c && !module_param(c, "bias");
		bool ok = rc == 0 && ed.check.ok && w &&
			  same_shape(cJSON_GetObjectItem(it, "weight"), &w->t.shape) &&
			  (pc.params == want || (no_bias && pc.params + 10 == want)) &&
			  same_output(cJSON_GetObjectItem(it, "output"), &ed.check.output);
		if (!ok)
			printf("  %s: PyTorch changes %s; graft: %s%s\n", it->string, cls,
			       out.s ? out.s : "", e.msg);
		CHECK(ok);
		strbuf_free(&out);
		editor_free(&ed);
		n++;
	}
	CHECK(n >= 80);
	cJSON_Delete(fx);
}

/* New modules after `seed 0` hold exactly PyTorch's values after
 * torch.manual_seed(0). */
static void test_init_values(void)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/tests/edits/init_seed0.json", srcdir);
	char *text = slurp(path);
	cJSON *fx = text ? cJSON_Parse(text) : NULL;
	free(text);
	CHECK(fx != NULL);
	if (!fx)
		return;
	const cJSON *rec;
	int cases = 0;
	cJSON_ArrayForEach(rec, cJSON_GetObjectItem(fx, "records"))
	{
		char mpath[1200], spath[1200];
		snprintf(mpath, sizeof mpath, "%s/%s", srcdir,
			 cJSON_GetObjectItem(rec, "start")->valuestring);
		snprintf(spath, sizeof spath, "%s/%s", srcdir,
			 cJSON_GetObjectItem(rec, "script")->valuestring);
		struct error e = {0};
		struct model *m = format_open(mpath, NULL, &e);
		CHECK(m != NULL);
		if (!m)
			continue;
		struct editor ed;
		editor_init(&ed, m);
		CHECK(run_script(&ed, spath));
		const cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItem(rec, "tensors"))
		{
			/* "8.weight" -> module "8", parameter "weight" (or a dotted
			 * parameter name such as out_proj.weight) */
			const struct param *p = NULL;
			char *key = strdup(t->string);
			for (char *dot = strrchr(key, '.'); dot && !p; ) {
				*dot = '\0';
				const struct module *owner = module_find(ed.model->root, key);
				*dot = '.';
				if (owner)
					p = module_param(owner, dot + 1);
				char *prev = NULL;
				for (char *q = key; q < dot; q++)
					if (*q == '.')
						prev = q;
				dot = prev;
			}
			free(key);
			const cJSON *vals = cJSON_GetObjectItem(t, "values");
			CHECK(p && p->t.storage);
			if (!p || !p->t.storage)
				continue;
			int64_t n = shape_numel(&p->t.shape);
			CHECK(n == cJSON_GetArraySize(vals));
			float *got = malloc((size_t)n * sizeof *got);
			tensor_to_f32(&p->t, got);
			int bad = 0, i = 0;
			const cJSON *v;
			cJSON_ArrayForEach(v, vals)
			{
				if (i < n && got[i] != (float)v->valuedouble)
					bad++;
				i++;
			}
			if (bad)
				printf("  %s: %d of %lld values differ from PyTorch's\n", t->string, bad,
				       (long long)n);
			CHECK(bad == 0);
			free(got);
		}
		editor_free(&ed);
		cases++;
	}
	CHECK(cases >= 4);
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
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/tests/edits", srcdir);
	DIR *d = opendir(dir);
	char *names[256];
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) && n < 256) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		char path[1300];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		char *text = slurp(path);
		/* surgery cases have a "case" and a "start"; other files in the
		 * folder hold initial values or the zoo-wide head table */
		if (text && strstr(text, "\"start\"") && strstr(text, "\"state_dict\""))
			names[n++] = strdup(de->d_name);
		free(text);
	}
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof names[0], cmp_str);
	for (int i = 0; i < n; i++) {
		check_failures_in_test = 0;
		check_case(names[i]);
		if (check_failures_in_test) {
			printf("FAIL %s\n", names[i]);
			check_failed++;
		} else {
			printf("ok   %s\n", names[i]);
			check_passed++;
		}
		free(names[i]);
	}
	if (n == 0) {
		printf("no surgery fixtures in %s\n", dir);
		check_failed++;
	}
	RUN(test_head10_zoo);
	RUN(test_init_values);
	return CHECK_DONE();
}
