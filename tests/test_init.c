/* test_init.c - the generator and the default initialisation against
 * PyTorch.
 *
 * The fixtures in tests/data/init (written by tools/make-init-fixtures with
 * torch 1.13) hold PyTorch's values for raw uniform_/normal_ fills and for
 * every tensor of freshly built modules; graft must reproduce each one bit
 * for bit. The test itself needs no Python. Run from the build directory;
 * $srcdir names the source directory, "." by default. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/init.h"
#include "core/registry.h"
#include "core/util.h"

/* ---- fixtures ---- */

static cJSON *load_fixture(const char *name)
{
	char path[4096];
	const char *srcdir = getenv("srcdir");
	snprintf(path, sizeof path, "%s/tests/data/init/%s", srcdir ? srcdir : ".", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("  cannot open %s\n", path);
		return NULL;
	}
	struct strbuf sb = {0};
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_addn(&sb, buf, n);
	fclose(f);
	char *text = strbuf_take(&sb);
	cJSON *doc = cJSON_Parse(text);
	free(text);
	if (!doc)
		printf("  %s: not JSON\n", path);
	return doc;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static int64_t jint(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* Doubles are stored as float.hex() strings, seeds as decimal strings. */
static double jdouble(const cJSON *o, const char *key)
{
	return strtod(jstr(o, key), NULL);
}

static uint64_t jseed(const cJSON *o, const char *key)
{
	return strtoull(jstr(o, key), NULL, 10);
}

static uint32_t fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* The fixtures' checksum: c = c * 1000003 + bits, modulo 2^64. */
static uint64_t checksum(const float *v, int64_t n)
{
	uint64_t c = 0;
	for (int64_t i = 0; i < n; i++)
		c = c * 1000003u + fbits(v[i]);
	return c;
}

/* Checks n floats against a fixture entry: every value ("bits"), or a
 * checksum and samples. Prints the first difference under `what`. */
static bool same_floats(const cJSON *entry, const float *v, int64_t n, const char *what)
{
	const cJSON *bits = cJSON_GetObjectItemCaseSensitive(entry, "bits");
	if (bits) {
		if (cJSON_GetArraySize(bits) != n) {
			printf("  %s: %d values in the fixture, %lld here\n", what,
			       cJSON_GetArraySize(bits), (long long)n);
			return false;
		}
		int64_t i = 0;
		const cJSON *b;
		cJSON_ArrayForEach(b, bits)
		{
			uint32_t want = (uint32_t)b->valuedouble;
			if (fbits(v[i]) != want) {
				printf("  %s[%lld]: %08x (%.9g) here, PyTorch %08x\n", what,
				       (long long)i, fbits(v[i]), v[i], want);
				return false;
			}
			i++;
		}
		return true;
	}
	if (jint(entry, "n") != n) {
		printf("  %s: %lld values in the fixture, %lld here\n", what,
		       (long long)jint(entry, "n"), (long long)n);
		return false;
	}
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(entry, "samples"))
	{
		int64_t i = (int64_t)cJSON_GetArrayItem(s, 0)->valuedouble;
		uint32_t want = (uint32_t)cJSON_GetArrayItem(s, 1)->valuedouble;
		if (i >= n || fbits(v[i]) != want) {
			printf("  %s[%lld]: %08x here, PyTorch %08x\n", what, (long long)i,
			       i < n ? fbits(v[i]) : 0, want);
			return false;
		}
	}
	uint64_t want = strtoull(jstr(entry, "checksum"), NULL, 16);
	if (checksum(v, n) != want) {
		printf("  %s: checksum %016llx here, PyTorch %016llx\n", what,
		       (unsigned long long)checksum(v, n), (unsigned long long)want);
		return false;
	}
	return true;
}

/* ---- the generator ---- */

static void test_mt19937_reference_values(void)
{
	struct rng r;
	/* The C++ standard's check: the 10000th draw of a default-seeded
	 * std::mt19937 (seed 5489). */
	rng_seed(&r, 5489);
	uint32_t v = 0;
	for (int i = 0; i < 10000; i++)
		v = rng_next(&r);
	CHECK(v == 4123659995u);
	/* The first draws for seed 0 (std::mt19937(0), numpy's RandomState(0)). */
	rng_seed(&r, 0);
	CHECK(rng_next(&r) == 2357136044u);
	CHECK(rng_next(&r) == 2546248239u);
	CHECK(rng_next(&r) == 3071714933u);
	CHECK(rng_next(&r) == 3626093760u);
	/* Only the low 32 bits of a seed reach the state, as in PyTorch. */
	rng_seed(&r, (UINT64_C(7) << 32) | 0);
	CHECK(rng_next(&r) == 2357136044u);
}

static void test_seed_restarts(void)
{
	struct rng r;
	uint32_t first[700], again[700];
	rng_seed(&r, 42);
	for (int i = 0; i < 700; i++) /* across a regeneration of the state */
		first[i] = rng_next(&r);
	float junk[3];
	rng_normal_f32(&r, junk, 1, 0.0, 1.0); /* leaves a cached normal */
	rng_seed(&r, 42);
	CHECK(!r.has_normal);
	for (int i = 0; i < 700; i++)
		again[i] = rng_next(&r);
	CHECK(memcmp(first, again, sizeof first) == 0);
}

/* ---- raw fills ---- */

static bool run_fill(struct rng *r, const cJSON *op, const char *what)
{
	const char *kind = jstr(op, "op");
	if (strcmp(kind, "seed") == 0) {
		rng_seed(r, jseed(op, "seed"));
		return true;
	}
	int64_t n = jint(op, "n");
	float *v = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	if (strcmp(kind, "uniform") == 0)
		rng_uniform_f32(r, v, n, jdouble(op, "from"), jdouble(op, "to"));
	else
		rng_normal_f32(r, v, n, jdouble(op, "mean"), jdouble(op, "std"));
	bool ok = same_floats(op, v, n, what);
	free(v);
	return ok;
}

static void test_draws(void)
{
	cJSON *doc = load_fixture("draws.json");
	CHECK(doc != NULL);
	if (!doc)
		return;
	int ncases = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases"))
	{
		struct rng r;
		rng_seed(&r, 0);
		int i = 0;
		const cJSON *op;
		cJSON_ArrayForEach(op, cJSON_GetObjectItemCaseSensitive(c, "ops"))
		{
			char what[128];
			snprintf(what, sizeof what, "%s op %d (%s)", jstr(c, "name"), i++,
			         jstr(op, "op"));
			CHECK(run_fill(&r, op, what));
		}
		ncases++;
	}
	CHECK(ncases >= 10);
	cJSON_Delete(doc);
}

/* Many seeds, sizes (up to 2^20) and ranges, kept as checksums. */
static void test_sweep(void)
{
	cJSON *doc = load_fixture("sweep.json");
	CHECK(doc != NULL);
	if (!doc)
		return;
	int ncases = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases"))
	{
		int64_t n = jint(c, "n");
		float *v = xmalloc((size_t)n * sizeof *v);
		struct rng r;
		rng_seed(&r, jseed(c, "seed"));
		bool uniform = strcmp(jstr(c, "op"), "uniform") == 0;
		if (uniform)
			rng_uniform_f32(&r, v, n, jdouble(c, "a"), jdouble(c, "b"));
		else
			rng_normal_f32(&r, v, n, jdouble(c, "a"), jdouble(c, "b"));
		uint64_t want = strtoull(jstr(c, "checksum"), NULL, 16);
		if (checksum(v, n) != want) {
			printf("  %s seed %s n %lld (%s, %s): differs from PyTorch\n",
			       jstr(c, "op"), jstr(c, "seed"), (long long)n, jstr(c, "a"),
			       jstr(c, "b"));
			CHECK(0);
		}
		free(v);
		ncases++;
	}
	CHECK(ncases >= 100);
	cJSON_Delete(doc);
}

/* ---- modules ---- */

/* Sets attributes from "name=value, name=value" (command syntax). */
static bool set_attrs(struct module *m, const char *text)
{
	const char *p = text;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *eq = strchr(p, '=');
		if (!*p)
			break;
		if (!eq)
			return false;
		char *name = xstrndup(p, (size_t)(eq - p));
		struct value v;
		struct error e = {0};
		if (value_parse(eq + 1, &v, &p, &e) < 0) {
			printf("  bad attribute text '%s': %s\n", text, e.msg);
			free(name);
			return false;
		}
		module_set_attr(m, name, &v);
		value_free(&v);
		free(name);
	}
	return true;
}

/* The module a fixture describes, prepared; NULL (with a message) if it
 * cannot be built. */
static struct module *build(const cJSON *spec, const char *name)
{
	struct module *m = module_new(name, jstr(spec, "type"));
	const cJSON *children = cJSON_GetObjectItemCaseSensitive(spec, "children");
	if (children) {
		const cJSON *c;
		cJSON_ArrayForEach(c, children)
		{
			struct module *child = build(c, jstr(c, "name"));
			if (!child) {
				module_free(m);
				return NULL;
			}
			module_add_child(m, child);
		}
		return m;
	}
	struct error e = {0};
	if (!set_attrs(m, jstr(spec, "attrs")) || registry_prepare(m, &e) < 0) {
		printf("  %s(%s): %s\n", m->type, jstr(spec, "attrs"), e.msg);
		module_free(m);
		return NULL;
	}
	return m;
}

struct tensor_list {
	struct param *p[64];
	char *key[64];
	int n;
};

static int collect(struct module *m, void *ctx)
{
	struct tensor_list *l = ctx;
	char path[512];
	module_path_buf(m, path, sizeof path);
	for (int i = 0; i < m->nparams && l->n < 64; i++) {
		l->p[l->n] = &m->params[i];
		l->key[l->n] = path[0] ? xasprintf("%s.%s", path, m->params[i].name)
		                       : xstrdup(m->params[i].name);
		l->n++;
	}
	return 0;
}

static bool same_tensor(const cJSON *want, const struct param *p, const char *what)
{
	if (strcmp(dtype_name(p->t.dtype), jstr(want, "dtype")) != 0) {
		printf("  %s: dtype %s here, PyTorch %s\n", what, dtype_name(p->t.dtype),
		       jstr(want, "dtype"));
		return false;
	}
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(want, "shape");
	bool same = cJSON_GetArraySize(shape) == p->t.shape.ndim;
	for (int i = 0; same && i < p->t.shape.ndim; i++)
		same = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble == p->t.shape.dim[i];
	if (!same) {
		char sb[128];
		printf("  %s: shape %s here differs from PyTorch's\n", what,
		       shape_format(&p->t.shape, sb, sizeof sb));
		return false;
	}
	if (!tensor_data(&p->t)) {
		printf("  %s: no storage\n", what);
		return false;
	}
	int64_t n = shape_numel(&p->t.shape);
	if (p->t.dtype == DT_I64) {
		const cJSON *vals = cJSON_GetObjectItemCaseSensitive(want, "values");
		if (cJSON_GetArraySize(vals) != n)
			return false;
		for (int64_t i = 0; i < n; i++)
			if (tensor_get(&p->t, i) != cJSON_GetArrayItem(vals, (int)i)->valuedouble) {
				printf("  %s[%lld] differs\n", what, (long long)i);
				return false;
			}
		return true;
	}
	return same_floats(want, tensor_data(&p->t), n, what);
}

static void test_modules(void)
{
	cJSON *doc = load_fixture("modules.json");
	CHECK(doc != NULL);
	if (!doc)
		return;
	int ncases = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases"))
	{
		const char *name = jstr(c, "name");
		struct module *m = build(cJSON_GetObjectItemCaseSensitive(c, "module"), "");
		CHECK(m != NULL);
		if (!m)
			continue;
		struct rng r;
		struct error e = {0};
		rng_seed(&r, jseed(c, "seed"));
		CHECK(init_module(m, &r, &e) == 0);
		struct tensor_list l = {.n = 0};
		module_walk(m, collect, &l);
		const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(c, "tensors");
		if (cJSON_GetArraySize(tensors) != l.n) {
			printf("  %s: %d tensors here, PyTorch %d\n", name, l.n,
			       cJSON_GetArraySize(tensors));
			CHECK(0);
		}
		const cJSON *t;
		cJSON_ArrayForEach(t, tensors)
		{
			char what[256];
			snprintf(what, sizeof what, "%s: %s", name, jstr(t, "key"));
			int i = 0;
			while (i < l.n && strcmp(l.key[i], jstr(t, "key")) != 0)
				i++;
			if (i == l.n) {
				printf("  %s: missing here\n", what);
				CHECK(0);
				continue;
			}
			CHECK(same_tensor(t, l.p[i], what));
		}
		for (int i = 0; i < l.n; i++)
			free(l.key[i]);
		module_free(m);
		ncases++;
	}
	CHECK(ncases >= 10);
	cJSON_Delete(doc);
}

/* ---- the walk's own rules ---- */

static struct module *prepared(const char *type, const char *attrs)
{
	struct module *m = module_new("m", type);
	struct error e = {0};
	if (!set_attrs(m, attrs) || registry_prepare(m, &e) < 0) {
		printf("  %s(%s): %s\n", type, attrs, e.msg);
		module_free(m);
		return NULL;
	}
	return m;
}

/* Fresh float32 storage: a half tensor becomes float32, storage shared with
 * a clone is left alone, frozen parameters stay frozen. */
static void test_fresh_storage(void)
{
	struct module *m = prepared("Linear", "in_features=3, out_features=2");
	CHECK(m != NULL);
	if (!m)
		return;
	struct rng r;
	struct error e = {0};
	rng_seed(&r, 0);
	CHECK(init_module(m, &r, &e) == 0);
	struct module *copy = module_clone(m);
	struct param *w = module_param(m, "weight");
	float before = ((const float *)tensor_data(&module_param(copy, "weight")->t))[0];
	w->t.dtype = DT_F16;
	w->trainable = false;
	rng_seed(&r, 1);
	CHECK(init_module(m, &r, &e) == 0);
	CHECK(w->t.dtype == DT_F32);
	CHECK(!w->trainable);
	CHECK(w->t.storage != module_param(copy, "weight")->t.storage);
	CHECK(((const float *)tensor_data(&module_param(copy, "weight")->t))[0] == before);
	CHECK(((const float *)tensor_data(&w->t))[0] != before);
	module_free(copy);
	module_free(m);
}

/* A composite's own tensors are zeros (float32, integer dtypes kept) and
 * draw nothing: the child gets the values it would get alone. */
static void test_composite_tensors(void)
{
	struct module *root = module_new("", "Net");
	struct shape s3 = {.ndim = 1, .dim = {3}}, scalar = {.ndim = 0};
	module_add_param(root, "scale", DT_F16, &s3, false);
	module_add_param(root, "steps", DT_I64, &scalar, true);
	struct module *fc = prepared("Linear", "in_features=4, out_features=2");
	CHECK(fc != NULL);
	if (!fc) {
		module_free(root);
		return;
	}
	module_add_child(root, fc);
	struct module *alone = prepared("Linear", "in_features=4, out_features=2");
	struct rng r;
	struct error e = {0};
	rng_seed(&r, 5);
	CHECK(init_module(root, &r, &e) == 0);
	rng_seed(&r, 5);
	CHECK(init_module(alone, &r, &e) == 0);
	struct param *scale = module_param(root, "scale"), *steps = module_param(root, "steps");
	CHECK(scale->t.dtype == DT_F32 && tensor_get(&scale->t, 2) == 0.0);
	CHECK(steps->t.dtype == DT_I64 && tensor_get(&steps->t, 0) == 0.0);
	for (int i = 0; i < 2; i++) {
		const struct tensor *a = &fc->params[i].t, *b = &alone->params[i].t;
		CHECK(memcmp(tensor_data(a), tensor_data(b), tensor_nbytes(a)) == 0);
	}
	module_free(alone);
	module_free(root);
}

/* A registry module whose tensors were never built cannot be initialised. */
static void test_missing_tensors(void)
{
	struct module *m = prepared("Linear", "in_features=3, out_features=2");
	CHECK(m != NULL);
	if (!m)
		return;
	for (int i = 0; i < m->nparams; i++) {
		free(m->params[i].name);
		tensor_release(&m->params[i].t);
	}
	free(m->params);
	m->params = NULL;
	m->nparams = 0;
	struct rng r;
	struct error e = {0};
	rng_seed(&r, 0);
	CHECK(init_module(m, &r, &e) < 0);
	CHECK(e.kind == ERR_INTERNAL);
	CHECK_CONTAINS(e.msg, "Linear has no tensor 'weight'");
	module_free(m);
}

int main(void)
{
	RUN(test_mt19937_reference_values);
	RUN(test_seed_restarts);
	RUN(test_draws);
	RUN(test_sweep);
	RUN(test_modules);
	RUN(test_fresh_storage);
	RUN(test_composite_tensors);
	RUN(test_missing_tensors);
	return CHECK_DONE();
}
