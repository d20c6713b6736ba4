/* bench_basics.c - how fast graft opens, checks and summarises models.
 *
 *   bench_basics MODELS_DIR TMP_DIR
 *
 * Times (median of repeated runs): opening, the shape pass and the summary
 * of the largest zoo architecture; the same on a synthetic model of 100,000
 * modules; and opening a bundle with 1 MB and with 500 MB of weights, which
 * must cost the same (the weights are mapped, not read). Times are CPU
 * time of the process, median of 9 runs. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/format.h"
#include "io/io_json.h"
#include "io/io_safetensors.h"
#include "core/model.h"
#include "core/registry.h"
#include "core/shape.h"
#include "view/summary.h"
#include "core/util.h"

/* CPU time of this (single-threaded) process: steadier than wall time on a
 * machine doing other work. */
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

#define RUNS 9

static void die(const char *what, const struct error *e)
{
	fprintf(stderr, "bench: %s: %s\n", what, e->msg);
	exit(1);
}

static void bench_model(const char *label, const char *path)
{
	double t_open[RUNS], t_shape[RUNS], t_sum[RUNS];
	int modules = 0;
	FILE *devnull = fopen("/dev/null", "w");
	for (int i = 0; i < RUNS; i++) {
		struct error e = {0};
		double t0 = now_ms();
		struct model *m = format_open(path, NULL, &e);
		double t1 = now_ms();
		if (!m)
			die(path, &e);
		struct shape_result r;
		if (shape_pass(m, &r) < 0)
			die(path, &r.err);
		double t2 = now_ms();
		struct summary_opts so = {.depth = -1};
		summary_write(devnull, m, &r, &so);
		double t3 = now_ms();
		t_open[i] = t1 - t0;
		t_shape[i] = t2 - t1;
		t_sum[i] = t3 - t2;
		modules = module_count_nodes(m->root);
		shape_result_free(&r);
		model_free(m);
	}
	fclose(devnull);
	double shape_ms = median(t_shape, RUNS);
	printf("%-28s %7d modules  open %8.2f ms  shape pass %8.3f ms (%.3f ms per 1,000 modules)  summary %8.2f ms\n",
	       label, modules, median(t_open, RUNS), shape_ms, shape_ms * 1000.0 / modules,
	       median(t_sum, RUNS));
}

static const char *largest_zoo_model(const char *dir)
{
	static char best[2048];
	off_t best_size = -1;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		char path[2048];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && st.st_size > best_size) {
			best_size = st.st_size;
			memcpy(best, path, sizeof best);
		}
	}
	if (d)
		closedir(d);
	return best_size < 0 ? NULL : best;
}

/* A Sequential of 25,000 blocks (Linear, ReLU, Linear), 100,001 modules. */
static void write_synthetic(const char *path)
{
	struct model *m = model_new("synthetic-100k");
	struct shape s = {.ndim = 2, .dim = {1, 8}};
	model_add_input(m, "x", &s, DT_F32);
	m->root = module_new("", "Sequential");
	m->has_forward = true;
	struct error e = {0};
	for (int i = 0; i < 25000; i++) {
		char name[16];
		snprintf(name, sizeof name, "%d", i);
		struct module *blk = module_new(name, "Sequential");
		const char *types[3] = {"Linear", "ReLU", "Linear"};
		for (int j = 0; j < 3; j++) {
			snprintf(name, sizeof name, "%d", j);
			struct module *c = module_new(name, types[j]);
			c->def = registry_module(c->type);
			if (j != 1) {
				struct value v = value_int(8);
				module_set_attr(c, "in_features", &v);
				module_set_attr(c, "out_features", &v);
			}
			if (registry_prepare(c, &e) < 0)
				die("synthetic", &e);
			module_add_child(blk, c);
		}
		module_add_child(m->root, blk);
	}
	char *text = json_save_model(m, NULL);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	free(text);
	model_free(m);
}

/* A bundle of one Linear whose weight has `bytes` bytes. */
static void write_bundle(const char *path, int64_t bytes)
{
	int64_t out = bytes / (1024 * 4);
	char *doc = xasprintf("{\"graft\": 1, \"name\": \"w\", \"inputs\": [{\"name\": \"x\", \"shape\": [1, 1024]}],"
			      " \"module\": {\"type\": \"Linear\", \"in_features\": 1024, \"out_features\": %lld, \"bias\": false}}",
			      (long long)out);
	struct tensor t = {.dtype = DT_F32, .shape = {.ndim = 2, .dim = {out, 1024}}};
	tensor_alloc(&t, NULL);
	const char *names[] = {"weight"};
	const struct tensor *ts[] = {&t};
	struct st_meta meta = {.key = "graft", .value = doc};
	struct error e = {0};
	if (st_write(path, names, ts, 1, &meta, 1, &e) < 0)
		die(path, &e);
	tensor_release(&t);
	free(doc);
}

static void bench_open_weights(const char *label, const char *path)
{
	double t[RUNS];
	for (int i = 0; i < RUNS; i++) {
		struct error e = {0};
		double t0 = now_ms();
		struct model *m = format_open(path, NULL, &e);
		t[i] = now_ms() - t0;
		if (!m)
			die(path, &e);
		model_free(m);
	}
	printf("%-28s open %8.3f ms\n", label, median(t, RUNS));
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_basics MODELS_DIR TMP_DIR\n");
		return 2;
	}
	/* the largest architecture file, the most modules, the most parameters */
	const char *big = largest_zoo_model(argv[1]);
	if (big) {
		char label[256];
		const char *base = strrchr(big, '/');
		snprintf(label, sizeof label, "%s", base ? base + 1 : big);
		bench_model(label, big);
	}
	const char *named[] = {"efficientnet_v2_l.json", "regnet_y_128gf.json"};
	for (int i = 0; i < 2; i++) {
		char path[2048];
		snprintf(path, sizeof path, "%s/%s", argv[1], named[i]);
		if (access(path, R_OK) == 0)
			bench_model(named[i], path);
	}
	char *syn = xasprintf("%s/synthetic-100k.json", argv[2]);
	write_synthetic(syn);
	bench_model("synthetic-100k.json", syn);
	char *w1 = xasprintf("%s/weights-1mb.safetensors", argv[2]);
	char *w500 = xasprintf("%s/weights-500mb.safetensors", argv[2]);
	write_bundle(w1, (int64_t)1 << 20);
	write_bundle(w500, (int64_t)500 << 20);
	bench_open_weights("bundle with 1 MB of weights", w1);
	bench_open_weights("bundle with 500 MB of weights", w500);
	remove(syn);
	remove(w1);
	remove(w500);
	free(syn);
	free(w1);
	free(w500);
	return 0;
}
