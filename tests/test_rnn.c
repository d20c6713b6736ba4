/* test_rnn.c - the recurrent layers (RNN, LSTM, GRU and their cells):
 * PyTorch's parameter names and shapes, attribute checks, shape rules with
 * and without initial states, batched and unbatched, the break that names
 * input_size, mult-adds and descriptions (registry_rnn.c); and the kernels
 * (kernels_rnn.c) against a step-by-step reference computed here in double.
 * tests/data/user's recurrent models check the same kernels against
 * PyTorch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/init.h"
#include "core/registry.h"
#include "core/util.h"
#include "edit/spec.h"
#include "exec/kernels.h"

/* ---- building modules and calls ---- */

/* A module from a spec ("LSTM(4, 6, bidirectional=True)") with PyTorch's
 * initialisation after seed 3, or NULL (printed). */
static struct module *build(const char *text)
{
	struct error e = {0};
	const char *end;
	struct spec *s = spec_parse(text, &end, &e);
	struct type_lib lib = {0};
	struct rng r;
	rng_seed(&r, 3);
	struct build_ctx ctx = {.lib = &lib, .rng = &r};
	struct module *m = s ? spec_build(&ctx, s, "rnn", NULL, NULL, NULL, &e) : NULL;
	spec_free(s);
	if (!m)
		printf("  %s: %s\n", text, e.msg);
	return m;
}

/* The message of a failed build, or "ok". */
static const char *build_error(const char *text)
{
	static char buf[512];
	struct error e = {0};
	const char *end;
	struct spec *s = spec_parse(text, &end, &e);
	struct type_lib lib = {0};
	struct build_ctx ctx = {.lib = &lib};
	struct module *m = s ? spec_build(&ctx, s, "rnn", NULL, NULL, NULL, &e) : NULL;
	spec_free(s);
	snprintf(buf, sizeof buf, "%s", m ? "ok" : e.msg);
	module_free(m);
	return buf;
}

static struct value meta(const char *shape)
{
	struct shape s = {.ndim = 0};
	struct error e = {0};
	if (shape_parse(shape, &s, &e) < 0)
		printf("  bad shape %s: %s\n", shape, e.msg);
	struct origin o = {0};
	return value_tensor_meta(DT_F32, &s, o);
}

static struct value pair_of(struct value a, struct value b)
{
	struct value v = value_list(2);
	v.u.list.items[0] = a;
	v.u.list.items[1] = b;
	return v;
}

static int64_t last_macs;

/* m's shape rule on args: the output as text, or the error message. */
static const char *shapes(const struct module *m, struct value *args, int nargs)
{
	static char buf[1024];
	struct error e = {0};
	struct op_call c = {.def = m->def, .module = m, .args = args, .nargs = nargs, .err = &e};
	if (m->def->infer(&c) < 0)
		snprintf(buf, sizeof buf, "%s", e.msg);
	else
		value_format(&c.out, buf, sizeof buf);
	last_macs = c.macs;
	value_free(&c.out);
	for (int i = 0; i < nargs; i++)
		value_free(&args[i]);
	return buf;
}

static void test_params(void)
{
	struct module *m = build("LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=3)");
	if (!m) {
		CHECK(0);
		return;
	}
	static const char *const names[] = {
	    "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",   "bias_hh_l0",
	    "weight_hr_l0",         "weight_ih_l0_reverse", "weight_hh_l0_reverse",
	    "bias_ih_l0_reverse",   "bias_hh_l0_reverse",   "weight_hr_l0_reverse",
	    "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",   "bias_hh_l1",
	    "weight_hr_l1",         "weight_ih_l1_reverse", "weight_hh_l1_reverse",
	    "bias_ih_l1_reverse",   "bias_hh_l1_reverse",   "weight_hr_l1_reverse"};
	CHECK(m->nparams == 20);
	for (int i = 0; i < m->nparams && i < 20; i++)
		CHECK_STR(m->params[i].name, names[i]);
	char sb[64];
	CHECK_STR(shape_format(&module_param(m, "weight_ih_l0")->t.shape, sb, sizeof sb),
	          "[32, 5]");
	CHECK_STR(shape_format(&module_param(m, "weight_hh_l0")->t.shape, sb, sizeof sb),
	          "[32, 3]");
	CHECK_STR(shape_format(&module_param(m, "weight_hr_l1")->t.shape, sb, sizeof sb),
	          "[3, 8]");
	CHECK_STR(shape_format(&module_param(m, "weight_ih_l1_reverse")->t.shape, sb, sizeof sb),
	          "[32, 6]");
	/* every parameter uniform in +-1/sqrt(hidden_size) */
	const float *w = module_param(m, "weight_hr_l1")->t.storage->data;
	for (int i = 0; i < 24; i++)
		CHECK(fabsf(w[i]) <= 1 / sqrtf(8.0f));
	module_free(m);

	m = build("GRU(2, 7, bias=False)");
	CHECK(m && m->nparams == 2);
	CHECK(m && strcmp(shape_format(&m->params[0].t.shape, sb, sizeof sb), "[21, 2]") == 0);
	module_free(m);
	m = build("RNNCell(3, 4)");
	CHECK(m && m->nparams == 4 && strcmp(m->params[3].name, "bias_hh") == 0);
	module_free(m);
	m = build("LSTMCell(3, 4, bias=False)");
	CHECK(m && m->nparams == 2 &&
	      strcmp(shape_format(&m->params[1].t.shape, sb, sizeof sb), "[16, 4]") == 0);
	module_free(m);
}

static void test_checks(void)
{
	CHECK_STR(build_error("LSTM(4, 8, proj_size=8)"),
	          "LSTM: proj_size must be smaller than hidden_size");
	CHECK_STR(build_error("RNN(4, 8, nonlinearity='gelu')"),
	          "RNN: nonlinearity must be 'tanh' or 'relu', got 'gelu'");
	CHECK_STR(build_error("GRU(4, 8, num_layers=0)"), "GRU: num_layers must be positive, got 0");
	CHECK_STR(build_error("GRU(4, 8, dropout=1.5)"),
	          "GRU: dropout must be between 0 and 1, got 1.5");
	CHECK_STR(build_error("GRUCell(0, 8)"), "GRUCell: input_size must be positive, got 0");
	CHECK_STR(build_error("LSTM(4, 8, num_layers=100000)"),
	          "LSTM: num_layers must be at most 4096, got 100000");
	CHECK_STR(build_error("RNNCell(4, 9223372036854775807)"),
	          "RNNCell: hidden_size must be at most 2147483647, got 9223372036854775807");
	CHECK_STR(build_error("GRU(4, 8, proj_size=2)"),
	          "GRU has no attribute 'proj_size'");
}

static void test_shapes(void)
{
	struct module *m = build("LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)");
	struct module *g = build("GRU(4, 6, num_layers=3)");
	struct module *c = build("LSTMCell(4, 6)");
	struct module *r = build("GRUCell(4, 6)");
	if (!m || !g || !c || !r) {
		CHECK(0);
		return;
	}
	struct value a[2] = {meta("2x7x8")};
	CHECK_STR(shapes(m, a, 1),
	          "(Tensor[2, 7, 32], (Tensor[4, 2, 16], Tensor[4, 2, 16]))");
	/* 2 directions * 14 steps * 64 gates * ((8 + 16) + (32 + 16)) */
	CHECK(last_macs == 129024);
	struct value b[1] = {meta("7x8")};
	CHECK_STR(shapes(m, b, 1), "(Tensor[7, 32], (Tensor[4, 16], Tensor[4, 16]))");
	struct value d[2] = {meta("2x7x8"), pair_of(meta("4x2x16"), meta("4x2x16"))};
	CHECK_STR(shapes(m, d, 2),
	          "(Tensor[2, 7, 32], (Tensor[4, 2, 16], Tensor[4, 2, 16]))");
	struct value e[2] = {meta("2x7x8"), pair_of(meta("4x2x16"), meta("2x2x16"))};
	CHECK_STR(shapes(m, e, 2), "LSTM: hx[1] must have shape [4, 2, 16], got [2, 2, 16]");
	struct value f[2] = {meta("2x7x8"), meta("4x2x16")};
	CHECK_STR(shapes(m, f, 2), "LSTM: LSTM() needs hx as a pair of tensors (h_0, c_0)");
	struct value h[1] = {meta("2x7x9")};
	CHECK_STR(shapes(m, h, 1),
	          "LSTM: LSTM(input_size=8) gets 9 features ([2, 7, 9]) from the model input");
	struct value i[1] = {meta("2x3x7x8")};
	CHECK_STR(shapes(m, i, 1),
	          "LSTM: LSTM gets 4-D [2, 3, 7, 8] (needs 2-D or 3-D input) from the model input");

	struct value j[2] = {meta("5x2x4"), meta("3x2x6")};
	CHECK_STR(shapes(g, j, 2), "(Tensor[5, 2, 6], Tensor[3, 2, 6])");
	struct value k[2] = {meta("5x2x4"), meta("3x6")};
	CHECK_STR(shapes(g, k, 2), "GRU: hx must have shape [3, 2, 6], got [3, 6]");
	struct value l[2] = {meta("5x4"), value_none()};
	CHECK_STR(shapes(g, l, 2), "(Tensor[5, 6], Tensor[3, 6])");

	struct value n[1] = {meta("3x4")};
	CHECK_STR(shapes(c, n, 1), "(Tensor[3, 6], Tensor[3, 6])");
	CHECK(last_macs == 3 * 24 * (4 + 6));
	struct value o[2] = {meta("4"), pair_of(meta("6"), meta("6"))};
	CHECK_STR(shapes(c, o, 2), "(Tensor[6], Tensor[6])");
	struct value p[2] = {meta("3x4"), meta("3x6")};
	CHECK_STR(shapes(r, p, 2), "Tensor[3, 6]");
	struct value q[1] = {meta("3x5")};
	CHECK_STR(shapes(r, q, 1),
	          "GRUCell: GRUCell(input_size=4) gets 5 features ([3, 5]) from the model input");
	module_free(m);
	module_free(g);
	module_free(c);
	module_free(r);
}

static const char *describe(const char *text)
{
	static char buf[256];
	struct module *m = build(text);
	buf[0] = '\0';
	if (m)
		registry_describe(m, buf, sizeof buf);
	module_free(m);
	return buf;
}

static void test_describe(void)
{
	CHECK_STR(describe("LSTM(32, 64, num_layers=2, bidirectional=True)"), "LSTM 32→64 ×2 bi");
	CHECK_STR(describe("LSTM(32, 64, proj_size=16, batch_first=True)"),
	          "LSTM 32→64 proj 16 batch_first");
	CHECK_STR(describe("RNN(4, 8, nonlinearity='relu', bias=False)"), "RNN 4→8 relu no bias");
	CHECK_STR(describe("GRUCell(3, 10)"), "GRUCell 3→10");
}

/* ---- the kernels against a reference ---- */

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static float frand(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (float)((double)(seed >> 11) / (double)(1ull << 53) * 2 - 1);
}

static struct value random_tensor(const char *shape)
{
	struct value v = meta(shape);
	tensor_alloc(&v.u.tensor.t, NULL);
	float *d = v.u.tensor.t.storage->data;
	for (int64_t i = 0; i < shape_numel(&v.u.tensor.t.shape); i++)
		d[i] = frand();
	return v;
}

static const float *param(const struct module *m, const char *fmt, const char *sfx)
{
	char name[64];
	snprintf(name, sizeof name, fmt, sfx);
	const struct param *p = module_param(m, name);
	return p ? p->t.storage->data : NULL;
}

static double dot(const float *w, const double *x, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += w[i] * x[i];
	return s;
}

static double sigm(double v)
{
	return 1 / (1 + exp(-v));
}

struct ref {
	int64_t len, n, in, hidden, out, layers, dirs, gates;
	bool relu, cell;
};

/* One layer and direction over x [len, n, in] (time-major), writing h into
 * y [len, n, dirs*out] at its direction's columns; h [n, out] and c [n,
 * hidden] start as given and end as the final states. */
static void ref_direction(const struct ref *r, const struct module *m, const char *sfx,
                          int64_t in, int64_t dir, const double *x, double *y, double *h,
                          double *c)
{
	const float *wih = param(m, "weight_ih%s", sfx), *whh = param(m, "weight_hh%s", sfx);
	const float *bih = param(m, "bias_ih%s", sfx), *bhh = param(m, "bias_hh%s", sfx);
	const float *whr = param(m, "weight_hr%s", sfx);
	int64_t H = r->hidden, O = r->out, G = r->gates * H;
	double *gi = xcalloc((size_t)G, sizeof *gi), *gh = xcalloc((size_t)G, sizeof *gh);
	double *hn = xcalloc((size_t)H, sizeof *hn);
	for (int64_t s = 0; s < r->len; s++) {
		int64_t t = dir ? r->len - 1 - s : s;
		for (int64_t b = 0; b < r->n; b++) {
			double *hb = h + b * O, *cb = c + b * H;
			for (int64_t j = 0; j < G; j++) {
				gi[j] = (bih ? bih[j] : 0) + dot(wih + j * in, x + (t * r->n + b) * in, in);
				gh[j] = (bhh ? bhh[j] : 0) + dot(whh + j * O, hb, O);
			}
			for (int64_t j = 0; j < H; j++) {
				if (r->gates == 1) {
					double v = gi[j] + gh[j];
					hn[j] = r->relu ? fmax(v, 0) : tanh(v);
				} else if (r->gates == 3) {
					double rr = sigm(gi[j] + gh[j]), z = sigm(gi[H + j] + gh[H + j]);
					double nn = tanh(gi[2 * H + j] + rr * gh[2 * H + j]);
					hn[j] = (1 - z) * nn + z * hb[j];
				} else {
					double ig = sigm(gi[j] + gh[j]), f = sigm(gi[H + j] + gh[H + j]);
					double g = tanh(gi[2 * H + j] + gh[2 * H + j]);
					double o = sigm(gi[3 * H + j] + gh[3 * H + j]);
					cb[j] = f * cb[j] + ig * g;
					hn[j] = o * tanh(cb[j]);
				}
			}
			for (int64_t j = 0; j < O; j++) {
				hb[j] = whr ? 0 : hn[j];
				for (int64_t k = 0; whr && k < H; k++)
					hb[j] += whr[j * H + k] * hn[k];
				if (y)
					y[(t * r->n + b) * r->dirs * O + dir * O + j] = hb[j];
			}
		}
	}
	free(gi);
	free(gh);
	free(hn);
}

/* The whole module: y [len, n, dirs*out] (NULL for a cell), hn [layers*dirs,
 * n, out], cn [layers*dirs, n, hidden]; h0 and c0 may be NULL. */
static void reference(const struct ref *r, const struct module *m, const float *x, const float *h0,
                      const float *c0, double *y, double *hn, double *cn)
{
	int64_t O = r->out, H = r->hidden, N = r->n;
	double *in = xcalloc((size_t)(r->len * N * r->in), sizeof *in);
	for (int64_t i = 0; i < r->len * N * r->in; i++)
		in[i] = x[i];
	int64_t in_size = r->in;
	for (int64_t l = 0; l < r->layers; l++) {
		double *out = xcalloc((size_t)(r->len * N * r->dirs * O), sizeof *out);
		for (int64_t d = 0; d < r->dirs; d++) {
			int64_t k = l * r->dirs + d;
			for (int64_t i = 0; i < N * O; i++)
				hn[k * N * O + i] = h0 ? h0[k * N * O + i] : 0;
			for (int64_t i = 0; i < N * H; i++)
				cn[k * N * H + i] = c0 ? c0[k * N * H + i] : 0;
			char sfx[32] = "";
			if (!r->cell)
				snprintf(sfx, sizeof sfx, "_l%lld%s", (long long)l, d ? "_reverse" : "");
			ref_direction(r, m, sfx, in_size, d, in, out, hn + k * N * O, cn + k * N * H);
		}
		free(in);
		in = out;
		in_size = r->dirs * O;
	}
	if (y)
		memcpy(y, in, (size_t)(r->len * N * r->dirs * O) * sizeof *y);
	free(in);
}

static bool close_to(const char *what, const float *got, const double *want, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (!(fabs(got[i] - want[i]) <= 1e-5 * (1 + fabs(want[i])))) {
			printf("  %s[%lld]: %.8g, expected %.8g\n", what, (long long)i, got[i],
			       want[i]);
			return false;
		}
	return true;
}

/* The tensor at index i of a nested output (j >= 0: item j of item i). */
static const float *item(const struct value *v, int i, int j)
{
	if (v->kind == VAL_LIST && i >= 0)
		v = &v->u.list.items[i];
	if (v->kind == VAL_LIST && j >= 0)
		v = &v->u.list.items[j];
	return v->u.tensor.t.storage->data;
}

static void alloc_outputs(struct value *v)
{
	if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			alloc_outputs(&v->u.list.items[i]);
	else if (v->kind == VAL_TENSOR)
		tensor_alloc(&v->u.tensor.t, NULL);
}

/* Runs m's kernel on x (and hx when given, taken), compares every output
 * with the reference. x is [len, n, in] time-major, or batch-first when
 * the module says so (then n and len are swapped in its shape). */
static void check_kernel(const char *text, const char *x_shape, const char *h_shape,
                         const char *c_shape)
{
	struct module *m = build(text);
	if (!m) {
		CHECK(0);
		return;
	}
	struct ref r = {.hidden = module_attr_int(m, "hidden_size", 0),
	                .layers = module_attr_int(m, "num_layers", 1),
	                .dirs = module_attr_bool(m, "bidirectional", false) ? 2 : 1,
	                .relu = !strcmp(module_attr_str(m, "nonlinearity", "tanh"), "relu"),
	                .cell = strstr(m->type, "Cell") != NULL};
	r.gates = m->type[0] == 'L' ? 4 : m->type[0] == 'G' ? 3 : 1;
	int64_t proj = module_attr_int(m, "proj_size", 0);
	r.out = proj ? proj : r.hidden;
	bool bf = module_attr_bool(m, "batch_first", false);
	struct value args[2] = {random_tensor(x_shape)};
	int nargs = 1;
	if (h_shape) {
		args[1] = c_shape ? pair_of(random_tensor(h_shape), random_tensor(c_shape))
		                  : random_tensor(h_shape);
		nargs = 2;
	}
	const struct shape *xs = &args[0].u.tensor.t.shape;
	bool batched = xs->ndim == (r.cell ? 2 : 3);
	r.in = xs->dim[xs->ndim - 1];
	r.len = r.cell ? 1 : xs->dim[batched && bf ? 1 : 0];
	r.n = !batched ? 1 : r.cell ? xs->dim[0] : xs->dim[bf ? 0 : 1];

	struct error e = {0};
	struct op_call c = {.def = m->def, .module = m, .args = args, .nargs = nargs, .err = &e};
	const struct kernel *k = kernels_find(m->type, OP_MODULE);
	struct tensor params[32];
	for (int i = 0; i < m->nparams && i < 32; i++)
		params[i] = m->params[i].t;
	struct kop op = {.kernel = k, .params = params, .nparams = m->nparams};
	if (m->def->infer(&c) < 0 || !k) {
		printf("  %s: %s\n", text, k ? e.msg : "no kernel");
		CHECK(0);
		goto out;
	}
	alloc_outputs(&c.out);
	op.call = c;
	CHECK(k->prepare(&op, &e) == 0);
	op.scratch = xmalloc(op.scratch_bytes ? op.scratch_bytes : 1);
	CHECK(k->run(&op, &e) == 0);
	free(op.scratch);
	free(op.state);

	/* the reference's time-major input */
	int64_t nx = r.len * r.n * r.in, ny = r.len * r.n * r.dirs * r.out;
	int64_t nh = r.layers * r.dirs * r.n * r.out, nc = r.layers * r.dirs * r.n * r.hidden;
	float *x = xmalloc((size_t)nx * sizeof *x);
	const float *xd = args[0].u.tensor.t.storage->data;
	for (int64_t t = 0; t < r.len; t++)
		for (int64_t b = 0; b < r.n; b++)
			memcpy(x + (t * r.n + b) * r.in,
			       xd + (batched && bf ? b * r.len + t : t * r.n + b) * r.in,
			       (size_t)r.in * sizeof *x);
	const float *h0 = NULL, *c0 = NULL;
	if (nargs == 2) {
		h0 = item(&args[1], c_shape ? 0 : -1, -1);
		c0 = c_shape ? item(&args[1], 1, -1) : NULL;
	}
	double *y = xcalloc((size_t)ny, sizeof *y), *hn = xcalloc((size_t)nh, sizeof *hn);
	double *cn = xcalloc((size_t)nc, sizeof *cn);
	reference(&r, m, x, h0, c0, r.cell ? NULL : y, hn, cn);
	bool lstm = r.gates == 4;
	if (r.cell) {
		CHECK(close_to(text, item(&c.out, lstm ? 0 : -1, -1), hn, nh));
		if (lstm)
			CHECK(close_to(text, item(&c.out, 1, -1), cn, nc));
	} else {
		double *yb = y;
		if (batched && bf) { /* the output back to [n, len, ...] */
			yb = xcalloc((size_t)ny, sizeof *yb);
			int64_t row = r.dirs * r.out;
			for (int64_t t = 0; t < r.len; t++)
				for (int64_t b = 0; b < r.n; b++)
					memcpy(yb + (b * r.len + t) * row, y + (t * r.n + b) * row,
					       (size_t)row * sizeof *yb);
		}
		CHECK(close_to(text, item(&c.out, 0, -1), yb, ny));
		CHECK(close_to(text, item(&c.out, 1, lstm ? 0 : -1), hn, nh));
		if (lstm)
			CHECK(close_to(text, item(&c.out, 1, 1), cn, nc));
		if (yb != y)
			free(yb);
	}
	free(x);
	free(y);
	free(hn);
	free(cn);
out:
	value_free(&c.out);
	for (int i = 0; i < nargs; i++)
		value_free(&args[i]);
	module_free(m);
}

static void test_kernels(void)
{
	check_kernel("RNN(3, 5)", "4x2x3", NULL, NULL);
	check_kernel("RNN(3, 5, num_layers=2, nonlinearity='relu', bidirectional=True)", "4x3",
	             "4x5", NULL);
	check_kernel("LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True)", "3x5x4",
	             "4x3x6", "4x3x6");
	check_kernel("LSTM(4, 7, proj_size=3, bidirectional=True, num_layers=2)", "5x2x4", NULL,
	             NULL);
	check_kernel("LSTM(4, 7, proj_size=3, batch_first=True)", "2x5x4", "1x2x3", "1x2x7");
	check_kernel("GRU(3, 6, num_layers=3, bias=False, bidirectional=True)", "4x2x3", "6x2x6",
	             NULL);
	check_kernel("GRU(3, 6, batch_first=True)", "2x4x3", NULL, NULL);
	check_kernel("RNNCell(3, 5, nonlinearity='relu')", "2x3", "2x5", NULL);
	check_kernel("RNNCell(3, 5)", "3", NULL, NULL);
	check_kernel("LSTMCell(4, 6)", "3x4", "3x6", "3x6");
	check_kernel("LSTMCell(4, 6, bias=False)", "4", NULL, NULL);
	check_kernel("GRUCell(4, 6)", "2x4", "2x6", NULL);
	check_kernel("GRUCell(4, 6)", "4", NULL, NULL);
}

int main(void)
{
	RUN(test_params);
	RUN(test_checks);
	RUN(test_shapes);
	RUN(test_describe);
	RUN(test_kernels);
	return CHECK_DONE();
}
