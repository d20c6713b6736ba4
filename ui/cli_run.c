/* cli_run.c - `graft run`: the model's forward on real numbers. */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "exec/exec.h"
#include "io/io_npy.h"
#include "core/model.h"
#include "io/format.h"
#include "core/registry.h"
#include "core/text.h"
#include "core/util.h"

const char cli_run_synopsis[] =
    "graft run MODEL [--input [NAME=]X.npy|SHAPE]... [--random SEED] [-o Y.npy] "
    "[--threads N] [--stats] [--top K] [--bench N] [--compare OTHER]";
const char cli_run_help[] =
    "Run the model's forward pass on an input, in float32 on the CPU, as\n"
    "PyTorch does in eval mode (dropout and stochastic depth are identities,\n"
    "batch norms use their running statistics).\n"
    "\n"
    "  --input [NAME=]X.npy the input NAME (default: the next one in order), a\n"
    "                       NumPy array of its dtype (a floating input takes\n"
    "                       float32, float16 or float64; token ids int64);\n"
    "                       repeat for a model with several inputs: then every\n"
    "                       input is given\n"
    "  --input [NAME=]SHAPE a random input of that shape, e.g. ids=1x16\n"
    "  --random SEED        random inputs: the values of\n"
    "                       torch.manual_seed(SEED); torch.randn(shape)\n"
    "                       (the default, with SEED 0, when no .npy is given; a\n"
    "                       second input uses SEED + 1, and so on); an integer\n"
    "                       input draws ids below the smallest num_embeddings\n"
    "                       of the model, a bool input True or False\n"
    "  --input-shape SHAPE  the first random input's shape (default: the model's)\n"
    "  -o, --output Y.npy   write the output; a model returning a tuple, list or\n"
    "                       dict writes one file per tensor named by its place:\n"
    "                       Y.0.npy, Y.1.npy for a tuple, Y.KEY.npy for a dict,\n"
    "                       Y.1.0.npy, Y.0.KEY.npy nested\n"
    "  --threads N          threads for the kernels (default: all cores)\n"
    "  --stats              mean, std, min, max and NaN/Inf counts of every\n"
    "                       module's output\n"
    "  --top K              the K largest outputs with their indices\n"
    "  --bench N            time N forwards after one warm-up; the last line is\n"
    "                       'median T ms' (loading and planning excluded)\n"
    "  --weights FILE       weights for a .json architecture\n"
    "  --init-seed N        a model without weights runs with PyTorch's default\n"
    "                       initialisation after torch.manual_seed(N) (default 0)\n"
    "  --no-fuse            do not fold batch norms or fuse activations\n"
    "  --profile            where the time goes: each kind of op, and the\n"
    "                       slowest calls\n"
    "  --compare OTHER      run OTHER (say, MODEL edited) on the same input and\n"
    "                       print the drift of its outputs from MODEL's: the\n"
    "                       largest absolute difference, the cosine similarity\n"
    "                       and how often the largest value (top-1) is at the\n"
    "                       same index; then the same for every module output\n"
    "                       of OTHER with one of the same path and shape in\n"
    "                       MODEL, in the order they ran, nothing fused\n"
    "\n"
    "Without -o, graft prints each output's shape and statistics.\n"
    "Exit status: 0 success, 1 the model does not check, 2 bad usage or input.\n";

#define MAX_INPUTS 16

struct run_opts {
	const char *inputs[MAX_INPUTS];
	int ninputs;
	uint64_t seed, init_seed;
	bool have_shape;
	struct shape shape;
	const char *output, *weights, *compare;
	int threads, top, bench;
	bool stats, no_fuse, profile;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "graft: run: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nUsage: %s\n", cli_run_synopsis);
	return EXIT_USAGE;
}

static int parse_count(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* The tensors composites own directly (ViT's class_token, a user's
 * nn.Parameter): graft's initialisation gives them zeros. */
struct own_tensors {
	struct strbuf names; /* the first four */
	int n;
};

static int add_own_tensor(struct module *m, void *ctx)
{
	struct own_tensors *o = ctx;
	for (int i = 0; !m->def && i < m->nparams; i++) {
		if (m->params[i].tie)
			continue;
		char name[4096];
		if (o->n < 4)
			strbuf_addf(&o->names, "%s%s", o->n ? ", " : "",
			            module_param_path(m, m->params[i].name, name, sizeof name));
		o->n++;
	}
	return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;
	if (!*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

struct model *cli_runnable(struct model *m, const char *path, uint64_t init_seed,
                           struct model **init)
{
	*init = NULL;
	if (!m->has_forward) {
		fprintf(stderr,
		        "graft: %s: no architecture: the forward is unknown, so it cannot run\n",
		        path);
		return NULL;
	}
	if (m->has_weights)
		return m;
	struct error e = {0};
	*init = exec_init_model(m, init_seed, &e);
	if (!*init) {
		fprintf(stderr, "graft: %s: %s\n", path, e.msg);
		return NULL;
	}
	fprintf(stderr,
	        "graft: %s has no weights: running with PyTorch's default initialisation "
	        "(torch.manual_seed(%llu))\n",
	        path, (unsigned long long)init_seed);
	struct own_tensors own = {0};
	module_walk(m->root, add_own_tensor, &own);
	if (own.n)
		fprintf(stderr,
		        "graft: %d tensor%s of the model's own modules start%s as zeros: graft does "
		        "not know how those modules initialise them (%s%s); give the weights "
		        "(--weights) to run them as trained\n",
		        own.n, own.n > 1 ? "s" : "", own.n > 1 ? "" : "s", own.names.s,
		        own.n > 4 ? ", ..." : "");
	strbuf_free(&own.names);
	return *init;
}

static int parse_args(int argc, char **argv, struct run_opts *o, const char **model)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"random", required_argument, NULL, 'r'},
	    {"input-shape", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    {"threads", required_argument, NULL, 't'},
	    {"stats", no_argument, NULL, 'S'},
	    {"top", required_argument, NULL, 'k'},
	    {"bench", required_argument, NULL, 'b'},
	    {"weights", required_argument, NULL, 'w'},
	    {"init-seed", required_argument, NULL, 'I'},
	    {"no-fuse", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {"profile", no_argument, NULL, 'P'},
	    {"compare", required_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	bool random = false;
	int c;
	long v;
	struct error e = {0};
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (o->ninputs == MAX_INPUTS)
				return usage_error("too many --input files%s", "");
			o->inputs[o->ninputs++] = optarg;
			break;
		case 'r':
			if (parse_seed(optarg, &o->seed) < 0)
				return usage_error(
				    "--random needs a non-negative integer seed, not '%s'", optarg);
			random = true;
			break;
		case 's':
			if (shape_parse(optarg, &o->shape, &e) < 0)
				return usage_error("--input-shape: %s", e.msg);
			o->have_shape = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 't':
			if (parse_count(optarg, 1, 256, &v) < 0)
				return usage_error(
				    "--threads needs a number from 1 to 256, not '%s'", optarg);
			o->threads = (int)v;
			break;
		case 'S':
			o->stats = true;
			break;
		case 'k':
			if (parse_count(optarg, 1, 1000000, &v) < 0)
				return usage_error("--top needs a positive number, not '%s'",
				                   optarg);
			o->top = (int)v;
			break;
		case 'b':
			if (parse_count(optarg, 1, 1000000, &v) < 0)
				return usage_error(
				    "--bench needs a positive number of runs, not '%s'", optarg);
			o->bench = (int)v;
			break;
		case 'w':
			o->weights = optarg;
			break;
		case 'I':
			if (parse_seed(optarg, &o->init_seed) < 0)
				return usage_error(
				    "--init-seed needs a non-negative integer, not '%s'", optarg);
			break;
		case 'F':
			o->no_fuse = true;
			break;
		case 'P':
			o->profile = true;
			break;
		case 'C':
			o->compare = optarg;
			break;
		case 'h':
			printf("Usage: %s\n\n%s", cli_run_synopsis, cli_run_help);
			return EXIT_OK + 100;
		default:
			fprintf(stderr, "Usage: %s\n", cli_run_synopsis);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "Usage: %s\n", cli_run_synopsis);
		return EXIT_USAGE;
	}
	for (int i = 0; random && i < o->ninputs; i++)
		if (strlen(o->inputs[i]) >= 4 && !strcmp(o->inputs[i] + strlen(o->inputs[i]) - 4, ".npy"))
			return usage_error("--input %s and --random exclude each other", o->inputs[i]);
	if (o->compare && (o->output || o->stats || o->top || o->bench || o->profile))
		return usage_error("--compare excludes -o, --stats, --top, --bench and --profile%s",
		                   "");
	*model = argv[optind];
	return -1;
}

/* Y.npy -> Y.1.npy */
/* Y.npy with an output's key before the extension: Y.0.npy, Y.logits.npy. */
static char *keyed_name(const char *path, const char *key)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return xasprintf("%s.%s", path, key);
	return xasprintf("%.*s.%s%s", (int)(dot - path), path, key, dot);
}

/* The tensors of a model's output with their keys (value_each_tensor). */
struct outputs {
	const struct tensor *t[64];
	char *key[64];
	int n;
};

static int add_output(const char *key, const struct tensor *t, void *ctx)
{
	struct outputs *o = ctx;
	if (o->n == 64)
		return 1;
	o->t[o->n] = t;
	o->key[o->n++] = xstrdup(key);
	return 0;
}

/* The k largest of n floats at x, best first, into best[] (indices);
 * returns how many. NaNs are skipped. */
static int top_k(const float *x, int64_t n, int k, int64_t *best)
{
	int nb = 0;
	for (int64_t i = 0; i < n; i++) {
		if (isnan(x[i]) || (nb == k && x[i] <= x[best[nb - 1]]))
			continue;
		int at = nb < k ? nb++ : nb - 1;
		while (at > 0 && x[best[at - 1]] < x[i]) {
			best[at] = best[at - 1];
			at--;
		}
		best[at] = i;
	}
	return nb;
}

/* The k largest values of each row (the last dimension), or of the whole
 * tensor when it has many rows. */
static void print_top(const struct tensor *t, int k)
{
	int64_t n = shape_numel(&t->shape);
	const float *x = tensor_data(t);
	int64_t len = t->shape.ndim ? t->shape.dim[t->shape.ndim - 1] : 1;
	int64_t rows = len ? n / len : 0;
	if (rows > 16) {
		len = n;
		rows = 1;
	}
	int64_t *best = xcalloc((size_t)k, sizeof *best);
	for (int64_t r = 0; r < rows; r++) {
		if (rows > 1)
			printf("  row %lld:\n", (long long)r);
		int nb = top_k(x + r * len, len, k, best);
		for (int i = 0; i < nb; i++)
			printf("  %3d.  %6lld  %.6g\n", i + 1, (long long)best[i],
			       x[r * len + best[i]]);
	}
	free(best);
}

static void print_stat_row(const char *name, const char *type, const struct exec_stat *st)
{
	char sb[96], name_shown[256], type_shown[256];
	shape_format_x(&st->shape, sb, sizeof sb);
	printf("%-36s %-24s %-18s %11.4g %11.4g %11.4g %11.4g",
	       text_escape_buf(name, name_shown, sizeof name_shown),
	       text_escape_buf(type, type_shown, sizeof type_shown), sb, st->mean, st->std, st->min,
	       st->max);
	if (st->nan || st->inf)
		printf("  %lld NaN, %lld Inf", (long long)st->nan, (long long)st->inf);
	printf("\n");
}

static void print_stats(const struct exec_plan *p)
{
	int n;
	const struct exec_stat *st = exec_stats(p, &n);
	printf("%-36s %-24s %-18s %11s %11s %11s %11s\n", "module", "type", "output", "mean", "std",
	       "min", "max");
	for (int i = 0; i < n; i++) {
		char name[2100];
		bool several = st[i].output > 0 || (i + 1 < n && st[i + 1].module == st[i].module &&
		                                    st[i + 1].call == st[i].call);
		cli_call_name(st[i].module, st[i].call, st[i].output, several, name, sizeof name);
		print_stat_row(name, st[i].module->type, &st[i]);
	}
}

struct op_time {
	const char *op;
	double ms;
	int calls;
};

static int by_ms(const void *a, const void *b)
{
	double x = ((const struct op_time *)a)->ms, y = ((const struct op_time *)b)->ms;
	return x < y ? 1 : x > y ? -1 : 0;
}

static int prof_by_ms(const void *a, const void *b)
{
	double x = (*(const struct exec_prof *const *)a)->ms,
	       y = (*(const struct exec_prof *const *)b)->ms;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void print_profile(const struct exec_plan *p)
{
	int n;
	const struct exec_prof *pr = exec_profile(p, &n);
	struct op_time *ops = xcalloc((size_t)(n ? n : 1), sizeof *ops);
	const struct exec_prof **calls = xcalloc((size_t)(n ? n : 1), sizeof *calls);
	int nops = 0, ncalls = 0, runs = 0;
	double total = 0;
	for (int i = 0; i < n; i++) {
		if (!pr[i].runs)
			continue;
		runs = pr[i].runs;
		total += pr[i].ms;
		calls[ncalls++] = &pr[i];
		int k = 0;
		while (k < nops && strcmp(ops[k].op, pr[i].op))
			k++;
		if (k == nops)
			ops[nops++] = (struct op_time){pr[i].op, 0, 0};
		ops[k].ms += pr[i].ms;
		ops[k].calls++;
	}
	qsort(ops, (size_t)nops, sizeof *ops, by_ms);
	qsort(calls, (size_t)ncalls, sizeof *calls, prof_by_ms);
	runs = runs ? runs : 1;
	printf("%-28s %6s %10s %6s\n", "op", "calls", "ms/run", "share");
	for (int i = 0; i < nops; i++)
		printf("%-28s %6d %10.3f %5.1f%%\n", ops[i].op, ops[i].calls, ops[i].ms / runs,
		       100 * ops[i].ms / (total > 0 ? total : 1));
	printf("\n%-40s %-20s %10s\n", "slowest calls", "op", "ms/run");
	for (int i = 0; i < ncalls && i < 15; i++) {
		char path[2600];
		printf("%-40s %-20s %10.3f\n", op_path(calls[i]->call, path, sizeof path),
		       calls[i]->op, calls[i]->ms / runs);
	}
	printf("\n");
	free(ops);
	free(calls);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int bench(struct exec_plan *p, const struct tensor *in, int nin, int runs)
{
	struct error e = {0};
	struct value out;
	double *t = xcalloc((size_t)runs, sizeof *t);
	/* the warm-up */
	if (exec_run(p, in, nin, &out, &e) < 0)
		goto fail;
	value_free(&out);
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		if (exec_run(p, in, nin, &out, &e) < 0)
			goto fail;
		t[i] = now_ms() - t0;
		value_free(&out);
	}
	qsort(t, (size_t)runs, sizeof *t, cmp_double);
	struct exec_info info;
	exec_info(p, &info);
	printf("plan: %d kernel calls (%d batch norms folded, %d activations fused, %d in place, "
	       "%d constant)\n",
	       info.ops, info.fused_bn, info.fused_act, info.inplace, info.constant);
	printf("memory: activations %.1f MB (at most %.1f MB alive at once), scratch %.1f MB, "
	       "converted weights %.1f MB\n",
	       (double)info.arena_bytes / 1e6, (double)info.peak_live_bytes / 1e6,
	       (double)info.scratch_bytes / 1e6, (double)info.weight_bytes / 1e6);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("runs %d, min %.1f ms, max %.1f ms\n", runs, t[0], t[runs - 1]);
	printf("peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
	double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
	printf("median %.1f ms\n", med);
	free(t);
	return EXIT_OK;
fail:
	fprintf(stderr, "graft: %s\n", e.msg);
	free(t);
	return EXIT_USAGE;
}

/* The model's inputs for a run, into in[] (*n of them filled, to be
 * released by the caller): each from its --input file, or random (of its
 * --input shape, or the model's) when no file is given at all. 0, or -1
 * after a message. */
static int read_inputs(const struct model *m, const char *path, const struct run_opts *o,
                       struct tensor *in, int *n)
{
	struct cli_input given[MAX_INPUTS];
	*n = 0;
	if (m->ninputs > MAX_INPUTS) {
		fprintf(stderr, "graft: %s: too many inputs\n", path);
		return -1;
	}
	if (cli_inputs_parse(m, o->inputs, o->ninputs, given) < 0)
		return -1;
	bool files = false;
	for (int i = 0; i < m->ninputs; i++)
		files = files || given[i].file;
	for (int i = 0; i < m->ninputs; i++) {
		const char *name = m->inputs[i].name;
		struct error e = {0};
		if (given[i].file) {
			if (cli_input_read(m, i, given[i].file, &in[i]) < 0)
				return -1;
			*n = i + 1;
			if (o->have_shape && i == 0 && !shape_equal(&o->shape, &in[i].shape)) {
				char a[160], b[160];
				fprintf(stderr, "graft: %s is %s, not the --input-shape %s\n",
				        given[i].file, shape_format_x(&in[i].shape, a, sizeof a),
				        shape_format_x(&o->shape, b, sizeof b));
				return -1;
			}
		} else if (files) {
			fprintf(stderr,
			        "graft: %s: input '%s' is not given: add --input %s=FILE.npy, or give "
			        "shapes only (random values)\n",
			        path, name, name);
			return -1;
		} else {
			struct shape s = given[i].given             ? given[i].shape
			                 : o->have_shape && i == 0 ? o->shape
			                                           : m->inputs[i].shape;
			/* inputs after the first draw on from the next seed */
			if (exec_random_input(m, i, &s, o->seed + (uint64_t)i, &in[i], &e) < 0) {
				fprintf(stderr, "graft: %s\n", e.msg);
				return -1;
			}
			*n = i + 1;
		}
	}
	return 0;
}

int cli_run(int argc, char **argv)
{
	struct run_opts o = {.threads = 0};
	const char *path = NULL;
	int rc = parse_args(argc, argv, &o, &path);
	if (rc >= 0)
		return rc >= 100 ? rc - 100 : rc;
	struct error e = {0};
	struct model *m = format_open(path, o.weights, &e);
	if (!m) {
		fprintf(stderr, "graft: %s\n", e.msg);
		return EXIT_USAGE;
	}
	struct model *init = NULL;
	struct tensor in[MAX_INPUTS];
	struct shape shapes[MAX_INPUTS];
	int nin = 0;
	struct exec_plan *plan = NULL;
	struct value out = value_none();
	int status = EXIT_USAGE;
	memset(in, 0, sizeof in);
	struct model *run = cli_runnable(m, path, o.init_seed, &init);
	if (!run)
		goto done;
	if (read_inputs(m, path, &o, in, &nin) < 0)
		goto done;
	for (int i = 0; i < nin; i++)
		shapes[i] = in[i].shape;
	exec_set_threads(o.threads);
	if (o.compare) {
		status = cli_run_compare(run, o.compare, o.init_seed, in, nin);
		goto done;
	}
	struct exec_opts eo = {.stats = o.stats, .no_fuse = o.no_fuse, .profile = o.profile};
	plan = exec_plan_new(run, shapes, &eo, &e);
	if (!plan) {
		fprintf(stderr, "graft: %s: %s\n", path, e.msg);
		status = e.kind == ERR_SHAPE ? EXIT_BREAK : EXIT_USAGE;
		goto done;
	}
	if (o.bench) {
		if (o.profile) {
			/* the profile before the timings, whose last line stays last */
			struct exec_plan *pp = plan;
			for (int i = 0; i < o.bench && exec_run(pp, in, nin, &out, &e) == 0; i++)
				value_free(&out);
			print_profile(pp);
		}
		status = bench(plan, in, nin, o.bench);
		goto done;
	}
	if (exec_run(plan, in, nin, &out, &e) < 0) {
		fprintf(stderr, "graft: %s: %s\n", path, e.msg);
		goto done;
	}
	if (o.stats)
		print_stats(plan);
	if (o.profile)
		print_profile(plan);
	struct outputs res = {0};
	value_each_tensor(&out, add_output, &res);
	const struct tensor **outs = res.t;
	int nout = res.n;
	status = EXIT_OK;
	for (int i = 0; i < nout; i++) {
		char *name = !o.output || !res.key[i][0] ? NULL : keyed_name(o.output, res.key[i]);
		if (o.output) {
			const char *dest = name ? name : o.output;
			if (npy_write(dest, outs[i], &e) < 0) {
				fprintf(stderr, "graft: %s\n", e.msg);
				status = EXIT_USAGE;
			}
		}
		free(name);
		if (!o.output || o.top) {
			struct exec_stat st;
			char sb[160];
			int64_t n = shape_numel(&outs[i]->shape);
			/* an integer output (a detector's labels) as its values */
			float *values = outs[i]->dtype == DT_F32 ? NULL
			                                         : xmalloc((size_t)(n ? n : 1) * sizeof *values);
			if (values)
				tensor_to_f32(outs[i], values);
			exec_stat_compute(values ? values : tensor_data(outs[i]), n, &st);
			free(values);
			if (nout > 1)
				printf("output %s ", res.key[i]);
			else
				printf("output ");
			printf("%s  mean %.6g  std %.6g  min %.6g  max %.6g",
			       shape_format(&outs[i]->shape, sb, sizeof sb), st.mean, st.std,
			       st.min, st.max);
			if (st.nan || st.inf)
				printf("  %lld NaN, %lld Inf", (long long)st.nan,
				       (long long)st.inf);
			printf("\n");
		}
		if (o.top)
			print_top(outs[i], o.top);
	}
	for (int i = 0; i < nout; i++)
		free(res.key[i]);
done:
	value_free(&out);
	exec_plan_free(plan);
	for (int i = 0; i < nin; i++)
		tensor_release(&in[i]);
	model_free(init);
	model_free(m);
	return status;
}
