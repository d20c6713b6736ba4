/* test_kernels.c - every kernel against a naive reference written here.
 *
 * Each test builds the call the executor would make (the registry's shape
 * rule gives the output shape), runs the kernel's prepare and run on
 * random data, and compares with a plain loop computed in double: odd
 * sizes, groups, strides, padding modes, dilation, ceil_mode windows that
 * start in the padding, broadcasting, and the fused output pass (a folded
 * BatchNorm's scale and shift, an activation). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/init.h"
#include "exec/kernels.h"
#include "core/registry.h"
#include "edit/spec.h"
#include "core/util.h"

/* ---- random data ---- */

static uint64_t seed = 88172645463325252ull;

static float frand(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (float)((double)(seed >> 11) / (double)(1ull << 53) * 2 - 1);
}

static struct value tensor_of(int ndim, const int64_t *dims)
{
	struct value v = {.kind = VAL_TENSOR};
	v.u.tensor.t.dtype = DT_F32;
	v.u.tensor.t.shape.ndim = ndim;
	memcpy(v.u.tensor.t.shape.dim, dims, (size_t)ndim * sizeof *dims);
	tensor_alloc(&v.u.tensor.t, NULL);
	float *d = v.u.tensor.t.storage->data;
	for (int64_t i = 0; i < shape_numel(&v.u.tensor.t.shape); i++)
		d[i] = frand();
	return v;
}

#define T(...)                                                                                     \
	tensor_of(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

static float *f32(const struct value *v)
{
	return v->u.tensor.t.storage->data;
}

static int64_t numel(const struct value *v)
{
	return shape_numel(&v->u.tensor.t.shape);
}

/* A module from a spec, its tensors random (variances positive). */
static struct module *mk(const char *text)
{
	struct error e = {0};
	const char *end;
	struct spec *s = spec_parse(text, &end, &e);
	struct type_lib lib = {0};
	struct rng r;
	rng_seed(&r, 1);
	struct build_ctx ctx = {.lib = &lib, .rng = &r};
	struct module *m = s ? spec_build(&ctx, s, "m", NULL, NULL, NULL, &e) : NULL;
	spec_free(s);
	if (!m) {
		printf("  %s: %s\n", text, e.msg);
		return NULL;
	}
	for (int i = 0; i < m->nparams; i++) {
		struct tensor *t = &m->params[i].t;
		if (t->dtype != DT_F32)
			continue;
		float *d = t->storage->data;
		bool var = !strcmp(m->params[i].name, "running_var");
		for (int64_t k = 0; k < shape_numel(&t->shape); k++)
			d[k] = var ? 0.5f + fabsf(frand()) : frand();
	}
	return m;
}

/* ---- calling a kernel ---- */

struct call {
	const char *name;
	struct module *m;
	struct value args[8];
	int nargs;
	struct kwarg kw[6];
	int nkw;
	struct kact act;
	const float *scale, *shift;
	struct value out;
};

static void alloc_fresh(struct value *v)
{
	if (v->kind == VAL_LIST)
		for (int i = 0; i < v->u.list.n; i++)
			alloc_fresh(&v->u.list.items[i]);
	else if (v->kind == VAL_TENSOR && !v->u.tensor.t.storage)
		tensor_alloc(&v->u.tensor.t, NULL);
}

/* Runs the call; 0, or -1 with the reason printed. */
static int run(struct call *c)
{
	struct error e = {0};
	const struct op_def *def = c->m ? c->m->def : registry_function(c->name);
	const char *name = c->m ? c->m->type : c->name;
	const struct kernel *k = kernels_find(name, c->m ? OP_MODULE : OP_FUNCTION);
	if (!def || !k) {
		printf("  %s: no op or kernel\n", name);
		return -1;
	}
	struct op_call oc = {.def = def,
	                     .module = c->m,
	                     .args = c->args,
	                     .nargs = c->nargs,
	                     .kwargs = c->kw,
	                     .nkwargs = c->nkw,
	                     .err = &e};
	if (def->infer(&oc) < 0) {
		printf("  %s: shape rule: %s\n", name, e.msg);
		value_free(&oc.out);
		return -1;
	}
	alloc_fresh(&oc.out);
	struct tensor params[16];
	struct kop op = {
	    .call = oc, .kernel = k, .act = c->act, .post_scale = c->scale, .post_shift = c->shift};
	if (c->m) {
		for (int i = 0; i < c->m->nparams && i < 16; i++)
			params[i] = c->m->params[i].t;
		op.params = params;
		op.nparams = c->m->nparams;
	}
	int rc = 0;
	if (k->prepare && k->prepare(&op, &e) < 0) {
		printf("  %s: prepare: %s\n", name, e.msg);
		rc = -1;
	}
	if (rc == 0) {
		op.scratch = xmalloc(op.scratch_bytes ? op.scratch_bytes : 1);
		if (k->run(&op, &e) < 0) {
			printf("  %s: run: %s\n", name, e.msg);
			rc = -1;
		}
		free(op.scratch);
	}
	free(op.state);
	c->out = oc.out;
	return rc;
}

static void call_free(struct call *c)
{
	for (int i = 0; i < c->nargs; i++)
		value_free(&c->args[i]);
	for (int i = 0; i < c->nkw; i++)
		value_free(&c->kw[i].value);
	value_free(&c->out);
	module_free(c->m);
}

static struct value *out_item(struct call *c, int i)
{
	return c->out.kind == VAL_LIST ? &c->out.u.list.items[i] : &c->out;
}

/* Compares n floats with a double reference; prints the first mismatch. */
static bool near(const char *what, const float *got, const double *want, int64_t n, double tol)
{
	for (int64_t i = 0; i < n; i++) {
		if (isnan(want[i]) && isnan(got[i]))
			continue;
		if (!(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])))) {
			printf("  %s: element %lld: %.8g, expected %.8g\n", what, (long long)i,
			       got[i], want[i]);
			return false;
		}
	}
	return true;
}

/* An activation without float attributes, or with their values. */
static struct kact K(enum kact_kind kind) {
	return (struct kact){kind, 0, 0};
}

static struct kact
K2(enum kact_kind kind, float a, float b) {
	return (struct kact){kind, a, b};
}

/* PyTorch's formulas in double (those of torch/nn/modules/activation.py's
 * documentation; the kernels follow its CPU code). */
static double
act_ref(struct kact act, double v)
{
	double a = act.a, b = act.b, sp;
	if (isnan(v))
		return v; /* every activation keeps a NaN */
	switch (act.kind) {
	case KACT_NONE:
		return v;
	case KACT_RELU:
		return v > 0 ? v : 0;
	case KACT_RELU6:
		return fmin(fmax(v, 0), 6);
	case KACT_SILU:
		return v / (1 + exp(-v));
	case KACT_HARDSWISH:
		return v * fmin(fmax(v + 3, 0), 6) / 6;
	case KACT_HARDSIGMOID:
		return fmin(fmax(v + 3, 0), 6) / 6;
	case KACT_SIGMOID:
		return 1 / (1 + exp(-v));
	case KACT_TANH:
		return tanh(v);
	case KACT_GELU:
		return 0.5 * v * (1 + erf(v / sqrt(2)));
	case KACT_GELU_TANH:
		return 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
	case KACT_LEAKY_RELU:
		return v >= 0 ? v : a * v;
	case KACT_RRELU:
		return v >= 0 ? v : (a + b) / 2 * v;
	case KACT_ELU:
		return v > 0 ? v : a * expm1(v);
	case KACT_CELU:
		return fmax(0, v) + fmin(0, a * expm1(v / a));
	case KACT_SELU:
		return 1.0507009873554804934 *
		       (fmax(0, v) + fmin(0, 1.6732632423543772848 * expm1(v)));
	case KACT_MISH:
		return v * tanh(log1p(exp(v)));
	case KACT_SOFTPLUS:
		sp = log1p(exp(a * v)) / a;
		return a * v > b ? v : sp;
	case KACT_LOGSIGMOID:
		return fmin(v, 0) - log1p(exp(-fabs(v)));
	case KACT_SOFTSIGN:
		return v / (1 + fabs(v));
	case KACT_TANHSHRINK:
		return v - tanh(v);
	case KACT_SOFTSHRINK:
		return v > a ? v - a : v < -a ? v + a : 0;
	case KACT_HARDSHRINK:
		return fabs(v) > a ? v : 0;
	case KACT_HARDTANH:
		return fmin(fmax(v, a), b);
	case KACT_THRESHOLD:
		return v > a ? v : b;
	}
	return v;
}

/* ---- convolution ---- */

struct conv_case {
	int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, g;
	bool bias;
	const char *mode;
};

static int64_t pad_map(const char *mode, int64_t i, int64_t n)
{
	if (i >= 0 && i < n)
		return i;
	if (!strcmp(mode, "reflect"))
		return i < 0 ? -i : 2 * (n - 1) - i;
	if (!strcmp(mode, "replicate"))
		return i < 0 ? 0 : n - 1;
	if (!strcmp(mode, "circular"))
		return (i + n) % n;
	return -1;
}

static bool conv_check(const struct conv_case *k, struct kact act, bool fold)
{
	char text[400];
	snprintf(text, sizeof text,
	         "Conv2d(%lld, %lld, (%lld, %lld), stride=(%lld, %lld), padding=(%lld, %lld), "
	         "dilation=(%lld, %lld), groups=%lld, bias=%s, padding_mode='%s')",
	         (long long)k->c, (long long)k->o, (long long)k->kh, (long long)k->kw,
	         (long long)k->sh, (long long)k->sw, (long long)k->ph, (long long)k->pw,
	         (long long)k->dh, (long long)k->dw, (long long)k->g, k->bias ? "True" : "False",
	         k->mode);
	struct call c = {.m = mk(text), .nargs = 1, .act = act};
	if (!c.m)
		return false;
	c.args[0] = T(k->n, k->c, k->h, k->w);
	float *scale = NULL, *shift = NULL;
	if (fold) {
		scale = xcalloc((size_t)k->o, sizeof *scale);
		shift = xcalloc((size_t)k->o, sizeof *shift);
		for (int64_t i = 0; i < k->o; i++) {
			scale[i] = frand() + 1.5f;
			shift[i] = frand();
		}
		c.scale = scale;
		c.shift = shift;
	}
	bool ok = run(&c) == 0;
	if (ok) {
		const struct shape *os = &c.out.u.tensor.t.shape;
		int64_t oh = os->dim[2], ow = os->dim[3], cg = k->c / k->g, og = k->o / k->g;
		const float *x = f32(&c.args[0]), *w = module_param(c.m, "weight")->t.storage->data;
		const struct param *bp = module_param(c.m, "bias");
		const float *b = bp ? bp->t.storage->data : NULL;
		double *ref = xcalloc((size_t)numel(&c.out), sizeof *ref);
		for (int64_t n = 0; n < k->n; n++)
			for (int64_t o = 0; o < k->o; o++)
				for (int64_t y = 0; y < oh; y++)
					for (int64_t z = 0; z < ow; z++) {
						int64_t g = o / og;
						double s = b ? b[o] : 0;
						for (int64_t ci = 0; ci < cg; ci++)
							for (int64_t i = 0; i < k->kh; i++)
								for (int64_t j = 0; j < k->kw;
								     j++) {
									int64_t ih = pad_map(
									    k->mode,
									    y * k->sh - k->ph +
									        i * k->dh,
									    k->h);
									int64_t iw = pad_map(
									    k->mode,
									    z * k->sw - k->pw +
									        j * k->dw,
									    k->w);
									if (ih < 0 || iw < 0)
										continue;
									s += (double)
									         x[((n * k->c +
									             g * cg + ci) *
									                k->h +
									            ih) *
									               k->w +
									           iw] *
									     w[((o * cg + ci) *
									            k->kh +
									        i) *
									           k->kw +
									       j];
								}
						if (fold)
							s = s * scale[o] + shift[o];
						ref[((n * k->o + o) * oh + y) * ow + z] =
						    act_ref(act, s);
					}
		/* float sums of K products (and Winograd's transforms): the error
		 * is relative to the output's scale, not to each element */
		int64_t nout = numel(&c.out);
		double rms = 0;
		for (int64_t i = 0; i < nout; i++)
			rms += ref[i] * ref[i];
		rms = sqrt(rms / (double)(nout ? nout : 1));
		for (int64_t i = 0; i < nout && ok; i++)
			if (!(fabs(f32(&c.out)[i] - ref[i]) <= 1e-5 * (rms + fabs(ref[i])))) {
				printf("  %s: element %lld: %.8g, expected %.8g (scale %.3g)\n",
				       text, (long long)i, f32(&c.out)[i], ref[i], rms);
				ok = false;
			}
		free(ref);
	}
	free(scale);
	free(shift);
	call_free(&c);
	return ok;
}

static void test_conv2d(void)
{
	static const struct conv_case cases[] = {
	    {1, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, "zeros"},
	    {2, 4, 11, 13, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, false, "zeros"},
	    {1, 6, 9, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, true, "zeros"},
	    {2, 6, 10, 9, 6, 5, 5, 2, 2, 2, 2, 1, 1, 6, true, "zeros"},
	    {1, 4, 8, 9, 8, 3, 3, 1, 2, 0, 1, 1, 1, 4, true, "zeros"},
	    {1, 4, 12, 11, 4, 3, 3, 1, 1, 2, 2, 2, 2, 4, false, "zeros"},
	    {1, 4, 7, 5, 4, 3, 3, 3, 2, 1, 0, 1, 1, 4, true, "zeros"},
	    {1, 4, 9, 21, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, true, "zeros"},
	    {2, 4, 9, 40, 8, 3, 3, 2, 2, 1, 1, 1, 1, 4, true, "zeros"},
	    {1, 3, 11, 35, 3, 7, 7, 1, 3, 3, 3, 1, 1, 3, false, "zeros"},
	    {1, 5, 6, 7, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1, true, "zeros"},
	    {2, 5, 6, 7, 7, 1, 1, 2, 2, 0, 0, 1, 1, 1, false, "zeros"},
	    {1, 6, 5, 5, 6, 1, 1, 1, 1, 1, 1, 1, 1, 3, true, "zeros"},
	    {1, 4, 9, 8, 6, 1, 7, 1, 1, 0, 3, 1, 1, 1, true, "zeros"},
	    {1, 4, 9, 8, 6, 7, 1, 2, 1, 3, 0, 1, 1, 2, true, "zeros"},
	    {1, 3, 7, 7, 4, 3, 3, 3, 3, 0, 0, 1, 1, 1, true, "zeros"},
	    {1, 3, 5, 4, 2, 5, 4, 1, 1, 0, 0, 1, 1, 1, true, "zeros"},
	    {1, 4, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, "reflect"},
	    {1, 4, 9, 8, 4, 3, 3, 2, 1, 2, 1, 1, 1, 2, true, "replicate"},
	    {1, 4, 6, 7, 4, 3, 3, 1, 1, 1, 2, 1, 1, 4, false, "circular"},
	    {1, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, true, "reflect"},
	    /* several im2col blocks */
	    {1, 128, 40, 40, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2, true, "zeros"},
	    /* Winograd: odd and even sizes, paddings 0 to 2, several blocks */
	    {1, 16, 13, 15, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, "zeros"},
	    {2, 24, 12, 20, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, "zeros"},
	    {1, 16, 13, 13, 32, 3, 3, 1, 1, 0, 0, 1, 1, 1, true, "zeros"},
	    {1, 20, 10, 13, 16, 3, 3, 1, 1, 2, 1, 1, 1, 1, true, "zeros"},
	    {1, 64, 70, 37, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, "zeros"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		CHECK(conv_check(&cases[i], K(KACT_NONE), false));
	/* the output pass: a folded BatchNorm and an activation, every route */
	CHECK(conv_check(&cases[0], K(KACT_RELU), true));
	CHECK(conv_check(&cases[2], K(KACT_RELU6), true));
	CHECK(conv_check(&cases[7], K(KACT_HARDSWISH), true));
	CHECK(conv_check(&cases[3], K(KACT_SILU), false));
	CHECK(conv_check(&cases[14], K(KACT_GELU), true));
	CHECK(conv_check(&cases[22], K(KACT_RELU), true));
	CHECK(conv_check(&cases[23], K(KACT_SIGMOID), true));
	CHECK(conv_check(&cases[7], K(KACT_HARDSIGMOID), true));
	CHECK(conv_check(&cases[8], K(KACT_TANH), true));
	CHECK(conv_check(&cases[22], K2(KACT_ELU, 0.7f, 0), true));
	CHECK(conv_check(&cases[1], K2(KACT_HARDTANH, -0.5f, 0.25f), false));
	CHECK(conv_check(&cases[0], K(KACT_MISH), true));
}

/* F.conv2d with padding='same' (asymmetric for an even kernel). */
static void test_conv2d_same(void)
{
	struct call c = {.name = "conv2d", .nargs = 3};
	c.args[0] = T(1, 2, 6, 7);
	c.args[1] = T(3, 2, 4, 4);
	c.args[2] = value_none();
	c.kw[0] = (struct kwarg){"padding", value_str("same")};
	c.kw[1] = (struct kwarg){"dilation", value_int(1)};
	c.nkw = 2;
	CHECK(run(&c) == 0);
	/* PyTorch pads 'same' with total d*(k-1) = 3: 1 before, 2 after */
	const float *x = f32(&c.args[0]), *w = f32(&c.args[1]);
	double ref[3 * 6 * 7];
	for (int o = 0; o < 3; o++)
		for (int y = 0; y < 6; y++)
			for (int z = 0; z < 7; z++) {
				double s = 0;
				for (int ci = 0; ci < 2; ci++)
					for (int i = 0; i < 4; i++)
						for (int j = 0; j < 4; j++) {
							int ih = y - 1 + i, iw = z - 1 + j;
							if (ih >= 0 && ih < 6 && iw >= 0 && iw < 7)
								s += (double)
								         x[(ci * 6 + ih) * 7 + iw] *
								     w[((o * 2 + ci) * 4 + i) * 4 +
								       j];
						}
				ref[(o * 6 + y) * 7 + z] = s;
			}
	CHECK(near("conv2d same", f32(&c.out), ref, 3 * 6 * 7, 1e-5));
	call_free(&c);
}

/* ---- linear, matmul, einsum ---- */

/* A transposed convolution (2-D: depth 1; 3-D) against the scatter loop,
 * with a folded BatchNorm's scale and shift and a fused ReLU; and
 * MaxUnpool's index outside the output, which PyTorch refuses too. */
static void test_conv_transposed(void)
{
	static const char *const specs[] = {
	    "ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)",
	    "ConvTranspose2d(3, 2, (2, 3), stride=(1, 2), dilation=(2, 1))",
	    "ConvTranspose3d(2, 4, (2, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))",
	};
	for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
		struct call c = {.m = mk(specs[s]), .nargs = 1, .act = K(KACT_RELU)};
		if (!c.m)
			continue;
		int nd = c.m->params[0].t.shape.ndim - 2;
		int64_t in = c.m->params[0].t.shape.dim[0];
		c.args[0] = nd == 3 ? T(2, in, 3, 4, 5) : T(2, in, 4, 5);
		int64_t out = module_attr_int(c.m, "out_channels", 1);
		float scale[8], shift[8];
		for (int64_t o = 0; o < out; o++) {
			scale[o] = frand();
			shift[o] = frand();
		}
		c.scale = scale;
		c.shift = shift;
		CHECK(run(&c) == 0);
		/* dims padded to 3, depth first */
		int64_t xs[3] = {1, 1, 1}, ys[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1},
		        p[3] = {0, 0, 0}, d[3] = {1, 1, 1};
		const struct shape *xsh = &c.args[0].u.tensor.t.shape, *ysh = &c.out.u.tensor.t.shape;
		for (int i = 0; i < nd; i++) {
			xs[3 - nd + i] = xsh->dim[2 + i];
			ys[3 - nd + i] = ysh->dim[2 + i];
			k[3 - nd + i] = c.m->params[0].t.shape.dim[2 + i];
		}
		module_attr_ints(c.m, "stride", st + 3 - nd, nd);
		module_attr_ints(c.m, "padding", p + 3 - nd, nd);
		module_attr_ints(c.m, "dilation", d + 3 - nd, nd);
		int64_t g = module_attr_int(c.m, "groups", 1), ig = in / g, og = out / g;
		int64_t xp = xs[0] * xs[1] * xs[2], yp = ys[0] * ys[1] * ys[2], kk = k[0] * k[1] * k[2];
		double *ref = xcalloc((size_t)numel(&c.out), sizeof *ref);
		const float *x = f32(&c.args[0]), *w = c.m->params[0].t.storage->data,
		            *b = c.m->params[1].t.storage->data;
		for (int64_t n = 0; n < 2; n++)
			for (int64_t ci = 0; ci < in; ci++)
				for (int64_t q = 0; q < xp; q++)
					for (int64_t co = 0; co < og; co++)
						for (int64_t t = 0; t < kk; t++) {
							int64_t a[3] = {q / (xs[1] * xs[2]),
							                q / xs[2] % xs[1], q % xs[2]};
							int64_t kt[3] = {t / (k[1] * k[2]),
							                 t / k[2] % k[1], t % k[2]};
							int64_t at = 0;
							bool inside = true;
							for (int i = 0; i < 3; i++) {
								int64_t o = a[i] * st[i] - p[i] + kt[i] * d[i];
								inside = inside && o >= 0 && o < ys[i];
								at = at * ys[i] + o;
							}
							if (!inside)
								continue;
							int64_t oc = ci / ig * og + co;
							ref[(n * out + oc) * yp + at] +=
							    (double)x[(n * in + ci) * xp + q] *
							    w[(ci * og + co) * kk + t];
						}
		for (int64_t i = 0; i < numel(&c.out); i++) {
			int64_t oc = i / yp % out;
			double v = (ref[i] + b[oc]) * scale[oc] + shift[oc];
			ref[i] = v > 0 ? v : 0;
		}
		CHECK(near(specs[s], f32(&c.out), ref, numel(&c.out), 1e-5));
		free(ref);
		call_free(&c);
	}
	struct call u = {.m = mk("MaxUnpool1d(2)"), .nargs = 2};
	if (u.m) {
		u.args[0] = T(1, 2, 3);
		u.args[1] = T(1, 2, 3);
		u.args[1].u.tensor.t.dtype = DT_I64;
		tensor_alloc(&u.args[1].u.tensor.t, NULL);
		int64_t *ix = u.args[1].u.tensor.t.storage->data;
		for (int i = 0; i < 6; i++)
			ix[i] = i;
		ix[4] = 6; /* the output has 6 values per plane */
		CHECK(run(&u) < 0);
		call_free(&u);
	}
}

static void test_linear(void)
{
	static const int64_t shapes[][3] = {{1, 1, 17}, {2, 3, 17}, {5, 1, 17}};
	static const char *const specs[] = {"Linear(17, 9)", "Linear(17, 1)",
	                                    "Linear(17, 9, bias=False)"};
	for (size_t s = 0; s < 3; s++)
		for (size_t i = 0; i < 3; i++) {
			struct call c = {.m = mk(specs[s]),
			                 .nargs = 1,
			                 .act = K(i == 1 ? KACT_GELU : KACT_NONE)};
			if (!c.m)
				continue;
			c.args[0] = T(shapes[i][0], shapes[i][1], shapes[i][2]);
			CHECK(run(&c) == 0);
			const float *x = f32(&c.args[0]),
			            *w = module_param(c.m, "weight")->t.storage->data;
			const struct param *bp = module_param(c.m, "bias");
			int64_t nout = module_param(c.m, "weight")->t.shape.dim[0];
			int64_t rows = shapes[i][0] * shapes[i][1];
			double *ref = xcalloc((size_t)(rows * nout), sizeof *ref);
			for (int64_t r = 0; r < rows; r++)
				for (int64_t o = 0; o < nout; o++) {
					double v = bp ? ((float *)bp->t.storage->data)[o] : 0;
					for (int64_t k = 0; k < 17; k++)
						v += (double)x[r * 17 + k] * w[o * 17 + k];
					ref[r * nout + o] = act_ref(c.act, v);
				}
			CHECK(near(specs[s], f32(&c.out), ref, rows * nout, 1e-5));
			free(ref);
			call_free(&c);
		}
}

/* A naive batched product: a [B..., n, k] (or broadcast) @ b. */
static void test_matmul(void)
{
	struct call c = {.name = "matmul", .nargs = 2};
	c.args[0] = T(3, 1, 4, 5);
	c.args[1] = T(2, 5, 6);
	CHECK(run(&c) == 0);
	double ref[3 * 2 * 4 * 6];
	const float *a = f32(&c.args[0]), *b = f32(&c.args[1]);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++)
			for (int r = 0; r < 4; r++)
				for (int q = 0; q < 6; q++) {
					double s = 0;
					for (int k = 0; k < 5; k++)
						s += (double)a[(i * 4 + r) * 5 + k] *
						     b[(j * 5 + k) * 6 + q];
					ref[((i * 2 + j) * 4 + r) * 6 + q] = s;
				}
	CHECK(near("matmul broadcast", f32(&c.out), ref, 144, 1e-5));
	call_free(&c);

	struct call d = {.name = "bmm", .nargs = 2};
	d.args[0] = T(70, 80, 70); /* large enough for BLAS */
	d.args[1] = T(70, 70, 90);
	CHECK(run(&d) == 0);
	const float *x = f32(&d.args[0]), *y = f32(&d.args[1]);
	double *r2 = xcalloc(70 * 80 * 90, sizeof *r2);
	for (int i = 0; i < 70; i++)
		for (int r = 0; r < 80; r++)
			for (int q = 0; q < 90; q++) {
				double s = 0;
				for (int k = 0; k < 70; k++)
					s += (double)x[(i * 80 + r) * 70 + k] *
					     y[(i * 70 + k) * 90 + q];
				r2[(i * 80 + r) * 90 + q] = s;
			}
	CHECK(near("bmm", f32(&d.out), r2, 70 * 80 * 90, 1e-5));
	free(r2);
	call_free(&d);
}

/* MaxViT's equations, one that needs copies, and a permutation. */
static void test_einsum(void)
{
	struct call c = {.name = "einsum", .nargs = 3};
	c.args[0] = value_str("B G H I D, B G H J D -> B G H I J");
	c.args[1] = T(2, 3, 2, 5, 4);
	c.args[2] = T(2, 3, 2, 6, 4);
	CHECK(run(&c) == 0);
	const float *q = f32(&c.args[1]), *k = f32(&c.args[2]);
	double *ref = xcalloc(12 * 30, sizeof *ref);
	for (int b = 0; b < 12; b++)
		for (int i = 0; i < 5; i++)
			for (int j = 0; j < 6; j++) {
				double s = 0;
				for (int d = 0; d < 4; d++)
					s +=
					    (double)q[(b * 5 + i) * 4 + d] * k[(b * 6 + j) * 4 + d];
				ref[(b * 5 + i) * 6 + j] = s;
			}
	CHECK(near("einsum qk", f32(&c.out), ref, 360, 1e-5));
	free(ref);
	call_free(&c);

	struct call d = {.name = "einsum", .nargs = 3};
	d.args[0] = value_str("bij,jk->kbi");
	d.args[1] = T(2, 3, 4);
	d.args[2] = T(4, 5);
	CHECK(run(&d) == 0);
	const float *a = f32(&d.args[1]), *m = f32(&d.args[2]);
	double r2[5 * 2 * 3];
	for (int kk = 0; kk < 5; kk++)
		for (int b = 0; b < 2; b++)
			for (int i = 0; i < 3; i++) {
				double s = 0;
				for (int j = 0; j < 4; j++)
					s += (double)a[(b * 3 + i) * 4 + j] * m[j * 5 + kk];
				r2[(kk * 2 + b) * 3 + i] = s;
			}
	CHECK(near("einsum kbi", f32(&d.out), r2, 30, 1e-5));
	call_free(&d);

	struct call p = {.name = "einsum", .nargs = 2};
	p.args[0] = value_str("abc->cab");
	p.args[1] = T(2, 3, 4);
	CHECK(run(&p) == 0);
	const float *x = f32(&p.args[1]);
	double r3[24];
	for (int a2 = 0; a2 < 2; a2++)
		for (int b = 0; b < 3; b++)
			for (int cc = 0; cc < 4; cc++)
				r3[(cc * 2 + a2) * 3 + b] = x[(a2 * 3 + b) * 4 + cc];
	CHECK(near("einsum permute", f32(&p.out), r3, 24, 0));
	call_free(&p);
}

/* ---- normalisation ---- */

static void test_batchnorm(void)
{
	struct call c = {.m = mk("BatchNorm2d(5, eps=0.001)"), .nargs = 1, .act = K(KACT_RELU)};
	if (!c.m)
		return;
	c.args[0] = T(2, 5, 3, 4);
	CHECK(run(&c) == 0);
	const float *x = f32(&c.args[0]);
	const float *w = module_param(c.m, "weight")->t.storage->data,
	            *b = module_param(c.m, "bias")->t.storage->data,
	            *mean = module_param(c.m, "running_mean")->t.storage->data,
	            *var = module_param(c.m, "running_var")->t.storage->data;
	double ref[120];
	for (int i = 0; i < 120; i++) {
		int ch = i / 12 % 5;
		ref[i] =
		    act_ref(K(KACT_RELU), (x[i] - mean[ch]) / sqrt(var[ch] + 1e-3) * w[ch] + b[ch]);
	}
	CHECK(near("BatchNorm2d", f32(&c.out), ref, 120, 1e-5));
	/* kernels_bn_affine gives the same transform for folding */
	struct kop op = {.call = {.def = c.m->def, .module = c.m}};
	struct tensor params[8];
	for (int i = 0; i < c.m->nparams; i++)
		params[i] = c.m->params[i].t;
	op.params = params;
	op.nparams = c.m->nparams;
	float *scale, *shift;
	struct error e = {0};
	CHECK(kernels_bn_affine(&op, &scale, &shift, &e) == 0);
	for (int i = 0; i < 120; i++)
		ref[i] = act_ref(K(KACT_RELU), x[i] * scale[i / 12 % 5] + shift[i / 12 % 5]);
	CHECK(near("BatchNorm2d folded", f32(&c.out), ref, 120, 1e-5));
	free(scale);
	free(shift);
	call_free(&c);

	/* without running statistics: the batch's */
	struct call d = {.m = mk("BatchNorm1d(3, track_running_stats=False)"), .nargs = 1};
	if (!d.m)
		return;
	d.args[0] = T(4, 3, 5);
	CHECK(run(&d) == 0);
	const float *y = f32(&d.args[0]);
	const float *w1 = module_param(d.m, "weight")->t.storage->data,
	            *b1 = module_param(d.m, "bias")->t.storage->data;
	double r2[60];
	for (int ch = 0; ch < 3; ch++) {
		double s = 0, sq = 0;
		for (int n = 0; n < 4; n++)
			for (int i = 0; i < 5; i++)
				s += y[(n * 3 + ch) * 5 + i];
		s /= 20;
		for (int n = 0; n < 4; n++)
			for (int i = 0; i < 5; i++)
				sq += pow(y[(n * 3 + ch) * 5 + i] - s, 2);
		sq /= 20;
		for (int n = 0; n < 4; n++)
			for (int i = 0; i < 5; i++)
				r2[(n * 3 + ch) * 5 + i] =
				    (y[(n * 3 + ch) * 5 + i] - s) / sqrt(sq + 1e-5) * w1[ch] +
				    b1[ch];
	}
	CHECK(near("BatchNorm1d batch statistics", f32(&d.out), r2, 60, 1e-5));
	call_free(&d);
}

/* SyncBatchNorm and FrozenBatchNorm2d compute what BatchNorm2d computes
 * with the same tensors (FrozenBatchNorm2d's four are all buffers); an
 * unbatched InstanceNorm2d what a batch of one computes. */
static void test_batchnorm_variants(void)
{
	static const char *const names[] = {"weight", "bias", "running_mean", "running_var"};
	static const char *const variants[] = {"SyncBatchNorm(5, eps=0.001)",
	                                       "FrozenBatchNorm2d(5, eps=0.001)"};
	struct call bn = {.m = mk("BatchNorm2d(5, eps=0.001)"), .nargs = 1};
	if (!bn.m)
		return;
	bn.args[0] = T(2, 5, 3, 4);
	CHECK(run(&bn) == 0);
	double ref[120];
	for (int i = 0; i < 120; i++)
		ref[i] = f32(&bn.out)[i];
	for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
		struct call c = {.m = mk(variants[v]), .nargs = 1};
		if (!c.m)
			continue;
		for (int i = 0; i < 4; i++)
			memcpy(module_param(c.m, names[i])->t.storage->data,
			       module_param(bn.m, names[i])->t.storage->data, 5 * sizeof(float));
		c.args[0] = T(2, 5, 3, 4);
		memcpy(f32(&c.args[0]), f32(&bn.args[0]), 120 * sizeof(float));
		CHECK(run(&c) == 0);
		CHECK(near(variants[v], f32(&c.out), ref, 120, 1e-6));
		CHECK(module_param(c.m, "weight")->buffer == (v == 1));
		call_free(&c);
	}
	call_free(&bn);

	struct call b = {.m = mk("InstanceNorm2d(3, affine=True)"), .nargs = 1};
	struct call u = {.m = mk("InstanceNorm2d(3, affine=True)"), .nargs = 1};
	if (!b.m || !u.m)
		return;
	for (int i = 0; i < 2; i++)
		memcpy(module_param(u.m, names[i])->t.storage->data,
		       module_param(b.m, names[i])->t.storage->data, 3 * sizeof(float));
	b.args[0] = T(1, 3, 4, 5);
	u.args[0] = T(3, 4, 5);
	memcpy(f32(&u.args[0]), f32(&b.args[0]), 60 * sizeof(float));
	CHECK(run(&b) == 0 && run(&u) == 0);
	for (int i = 0; i < 60; i++)
		ref[i] = f32(&b.out)[i];
	CHECK(near("InstanceNorm2d unbatched", f32(&u.out), ref, 60, 1e-6));
	call_free(&b);
	call_free(&u);
}

/* LayerNorm over the last two dims, LayerNorm2d over channels, GroupNorm. */
static void test_norms(void)
{
	struct call c = {.m = mk("LayerNorm((3, 5), eps=0.01)"), .nargs = 1};
	if (!c.m)
		return;
	c.args[0] = T(2, 4, 3, 5);
	CHECK(run(&c) == 0);
	const float *x = f32(&c.args[0]), *w = module_param(c.m, "weight")->t.storage->data,
	            *b = module_param(c.m, "bias")->t.storage->data;
	double ref[120];
	for (int r = 0; r < 8; r++) {
		double s = 0, sq = 0;
		for (int i = 0; i < 15; i++)
			s += x[r * 15 + i];
		s /= 15;
		for (int i = 0; i < 15; i++)
			sq += pow(x[r * 15 + i] - s, 2);
		for (int i = 0; i < 15; i++)
			ref[r * 15 + i] = (x[r * 15 + i] - s) / sqrt(sq / 15 + 0.01) * w[i] + b[i];
	}
	CHECK(near("LayerNorm", f32(&c.out), ref, 120, 1e-5));
	call_free(&c);

	struct call d = {.m = mk("LayerNorm2d(6, eps=1e-06)"), .nargs = 1};
	if (!d.m)
		return;
	d.args[0] = T(2, 6, 3, 5);
	CHECK(run(&d) == 0);
	x = f32(&d.args[0]);
	w = module_param(d.m, "weight")->t.storage->data;
	b = module_param(d.m, "bias")->t.storage->data;
	double r2[180];
	for (int n = 0; n < 2; n++)
		for (int p = 0; p < 15; p++) {
			double s = 0, sq = 0;
			for (int ch = 0; ch < 6; ch++)
				s += x[(n * 6 + ch) * 15 + p];
			s /= 6;
			for (int ch = 0; ch < 6; ch++)
				sq += pow(x[(n * 6 + ch) * 15 + p] - s, 2);
			for (int ch = 0; ch < 6; ch++)
				r2[(n * 6 + ch) * 15 + p] =
				    (x[(n * 6 + ch) * 15 + p] - s) / sqrt(sq / 6 + 1e-6) * w[ch] +
				    b[ch];
		}
	CHECK(near("LayerNorm2d", f32(&d.out), r2, 180, 1e-5));
	call_free(&d);

	struct call g = {.m = mk("GroupNorm(3, 6)"), .nargs = 1};
	if (!g.m)
		return;
	g.args[0] = T(2, 6, 7);
	CHECK(run(&g) == 0);
	x = f32(&g.args[0]);
	w = module_param(g.m, "weight")->t.storage->data;
	b = module_param(g.m, "bias")->t.storage->data;
	double r3[84];
	for (int n = 0; n < 2; n++)
		for (int gr = 0; gr < 3; gr++) {
			const float *p = x + (n * 6 + gr * 2) * 7;
			double s = 0, sq = 0;
			for (int i = 0; i < 14; i++)
				s += p[i];
			s /= 14;
			for (int i = 0; i < 14; i++)
				sq += pow(p[i] - s, 2);
			for (int i = 0; i < 14; i++)
				r3[(n * 6 + gr * 2) * 7 + i] =
				    (p[i] - s) / sqrt(sq / 14 + 1e-5) * w[gr * 2 + i / 7] +
				    b[gr * 2 + i / 7];
		}
	CHECK(near("GroupNorm", f32(&g.out), r3, 84, 1e-5));
	call_free(&g);
}

/* ---- elementwise ---- */

/* x: 3x7x11 random values times 8, through every piece of the piecewise
 * activations, with -3, 3 and a NaN. */
static struct value act_input(void)
{
	struct value v = T(3, 7, 11);
	float *x = f32(&v);
	for (int k = 0; k < 231; k++)
		x[k] *= 8;
	x[0] = -3;
	x[1] = 3;
	x[2] = NAN;
	return v;
}

/* Runs c (its input act_input) and compares with act's reference. */
static void act_check(struct call *c, struct kact act, const char *what)
{
	CHECK(run(c) == 0);
	double ref[231];
	for (int k = 0; k < 231; k++)
		ref[k] = act_ref(act, f32(&c->args[0])[k]);
	CHECK(near(what, f32(&c->out), ref, 231, 2e-6));
	call_free(c);
}

static void test_activations(void)
{
	static const struct {
		const char *spec;
		struct kact act;
	} acts[] = {
	    {"ReLU()", {KACT_RELU, 0, 0}},
	    {"ReLU6()", {KACT_RELU6, 0, 0}},
	    {"SiLU()", {KACT_SILU, 0, 0}},
	    {"Hardswish()", {KACT_HARDSWISH, 0, 0}},
	    {"Hardsigmoid()", {KACT_HARDSIGMOID, 0, 0}},
	    {"Sigmoid()", {KACT_SIGMOID, 0, 0}},
	    {"Tanh()", {KACT_TANH, 0, 0}},
	    {"GELU()", {KACT_GELU, 0, 0}},
	    {"GELU(approximate='tanh')", {KACT_GELU_TANH, 0, 0}},
	    {"LeakyReLU(0.3)", {KACT_LEAKY_RELU, 0.3f, 0}},
	    {"LeakyReLU()", {KACT_LEAKY_RELU, 0.01f, 0}},
	    {"RReLU()", {KACT_RRELU, 0.125f, 1.0f / 3}},
	    {"RReLU(0.1, 0.3)", {KACT_RRELU, 0.1f, 0.3f}},
	    {"ELU()", {KACT_ELU, 1, 0}},
	    {"ELU(alpha=0.7)", {KACT_ELU, 0.7f, 0}},
	    {"CELU(alpha=2.5)", {KACT_CELU, 2.5f, 0}},
	    {"SELU()", {KACT_SELU, 0, 0}},
	    {"Mish()", {KACT_MISH, 0, 0}},
	    {"Softplus()", {KACT_SOFTPLUS, 1, 20}},
	    {"Softplus(beta=2, threshold=5)", {KACT_SOFTPLUS, 2, 5}},
	    {"LogSigmoid()", {KACT_LOGSIGMOID, 0, 0}},
	    {"Softsign()", {KACT_SOFTSIGN, 0, 0}},
	    {"Tanhshrink()", {KACT_TANHSHRINK, 0, 0}},
	    {"Softshrink()", {KACT_SOFTSHRINK, 0.5f, 0}},
	    {"Softshrink(2.0)", {KACT_SOFTSHRINK, 2, 0}},
	    {"Hardshrink(1.5)", {KACT_HARDSHRINK, 1.5f, 0}},
	    {"Hardtanh()", {KACT_HARDTANH, -1, 1}},
	    {"Hardtanh(-2.0, 3.0)", {KACT_HARDTANH, -2, 3}},
	    {"Threshold(0.5, -4.0)", {KACT_THRESHOLD, 0.5f, -4}},
	};
	for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
		struct call c = {.m = mk(acts[i].spec), .nargs = 1};
		if (!c.m)
			continue;
		c.args[0] = act_input();
		act_check(&c, acts[i].act, acts[i].spec);
	}
	/* the function forms: float arguments by position, by keyword, or
	 * the module type's defaults */
	struct call f1 = {.name = "hardtanh", .nargs = 3};
	f1.args[0] = act_input();
	f1.args[1] = value_float(-0.5);
	f1.args[2] = value_int(2);
	act_check(&f1, K2(KACT_HARDTANH, -0.5f, 2), "hardtanh(x, -0.5, 2)");
	struct call f2 = {.name = "softplus", .nargs = 1, .nkw = 1};
	f2.args[0] = act_input();
	f2.kw[0] = (struct kwarg){"threshold", value_float(3)};
	act_check(&f2, K2(KACT_SOFTPLUS, 1, 3), "softplus(x, threshold=3)");
	struct call f3 = {.name = "rrelu", .nargs = 1};
	f3.args[0] = act_input();
	act_check(&f3, K2(KACT_RRELU, 0.125f, 1.0f / 3), "rrelu(x)");
	struct call f4 = {.name = "threshold", .nargs = 3};
	f4.args[0] = act_input();
	f4.args[1] = value_float(-1);
	f4.args[2] = value_float(7);
	act_check(&f4, K2(KACT_THRESHOLD, -1, 7), "threshold(x, -1, 7)");
	struct call k = {.name = "clamp", .nargs = 3};
	k.args[0] = T(30);
	k.args[1] = value_float(-0.25);
	k.args[2] = value_none();
	f32(&k.args[0])[3] = NAN;
	CHECK(run(&k) == 0);
	double ref[30];
	for (int i = 0; i < 30; i++)
		ref[i] = isnan(f32(&k.args[0])[i]) ? NAN : fmax(f32(&k.args[0])[i], -0.25);
	CHECK(near("clamp", f32(&k.out), ref, 30, 0));
	call_free(&k);
}

/* PReLU: one slope per channel (dim 1) or one for all; the function form
 * with its weight argument; GLU along dim. */
static void test_prelu_glu(void)
{
	for (int per_channel = 0; per_channel < 2; per_channel++) {
		struct call c = {.m = mk(per_channel ? "PReLU(5)" : "PReLU()"), .nargs = 1};
		if (!c.m)
			continue;
		c.args[0] = T(2, 5, 3, 4);
		CHECK(run(&c) == 0);
		const float *x = f32(&c.args[0]), *w = module_param(c.m, "weight")->t.storage->data;
		double ref[120];
		for (int i = 0; i < 120; i++)
			ref[i] = x[i] > 0 ? x[i] : x[i] * w[per_channel ? i / 12 % 5 : 0];
		CHECK(near("PReLU", f32(&c.out), ref, 120, 1e-6));
		call_free(&c);
	}
	struct call p = {.name = "prelu", .nargs = 2};
	p.args[0] = T(4, 3, 5);
	p.args[1] = T(3);
	CHECK(run(&p) == 0);
	double pref[60];
	for (int i = 0; i < 60; i++) {
		float v = f32(&p.args[0])[i];
		pref[i] = v > 0 ? v : v * f32(&p.args[1])[i / 5 % 3];
	}
	CHECK(near("prelu", f32(&p.out), pref, 60, 1e-6));
	call_free(&p);
	/* GLU(dim=1) over [2, 6, 5]: halves of 3 channels */
	struct call g = {.m = mk("GLU(dim=1)"), .nargs = 1};
	if (g.m) {
		g.args[0] = T(2, 6, 5);
		CHECK(run(&g) == 0);
		const float *x = f32(&g.args[0]);
		double ref[30];
		for (int n = 0; n < 2; n++)
			for (int c = 0; c < 3; c++)
				for (int i = 0; i < 5; i++) {
					double a = x[(n * 6 + c) * 5 + i],
					       b = x[(n * 6 + c + 3) * 5 + i];
					ref[(n * 3 + c) * 5 + i] = a / (1 + exp(-b));
				}
		CHECK(near("GLU", f32(&g.out), ref, 30, 1e-6));
		call_free(&g);
	}
	struct call f = {.name = "glu", .nargs = 1};
	f.args[0] = T(3, 8);
	CHECK(run(&f) == 0);
	double fref[12];
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 4; i++)
			fref[r * 4 + i] =
			    f32(&f.args[0])[r * 8 + i] / (1 + exp(-f32(&f.args[0])[r * 8 + i + 4]));
	CHECK(near("glu", f32(&f.out), fref, 12, 1e-6));
	call_free(&f);
}

/* Binary operations: broadcasting in every position, scalars, alpha. */
static void test_binary(void)
{
	static const struct {
		const char *op;
		int64_t a[4], b[4];
		int na, nb;
	} cases[] = {
	    {"add", {2, 3, 4, 5}, {2, 3, 4, 5}, 4, 4}, {"mul", {2, 3, 4, 5}, {2, 3, 1, 1}, 4, 4},
	    {"sub", {2, 1, 4, 5}, {3, 1, 5}, 4, 3},    {"truediv", {5}, {2, 3, 4, 5}, 1, 4},
	    {"mul", {1, 3, 1, 5}, {2, 1, 4, 1}, 4, 4}, {"add", {7, 9}, {1}, 2, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct call c = {
		    .name = cases[i].op, .nargs = 2, .act = K(i == 0 ? KACT_RELU : KACT_NONE)};
		c.args[0] = tensor_of(cases[i].na, cases[i].a);
		c.args[1] = tensor_of(cases[i].nb, cases[i].b);
		CHECK(run(&c) == 0);
		const struct shape *os = &c.out.u.tensor.t.shape;
		const struct shape *sa = &c.args[0].u.tensor.t.shape,
		                   *sb = &c.args[1].u.tensor.t.shape;
		int64_t n = shape_numel(os);
		double *ref = xcalloc((size_t)n, sizeof *ref);
		for (int64_t o = 0; o < n; o++) {
			int64_t rem = o, ia = 0, ib = 0, ma = 1, mb = 1;
			for (int d = os->ndim - 1; d >= 0; d--) {
				int64_t idx = rem % os->dim[d];
				rem /= os->dim[d];
				int da = sa->ndim - os->ndim + d, db = sb->ndim - os->ndim + d;
				if (da >= 0) {
					ia += (sa->dim[da] == 1 ? 0 : idx) * ma;
					ma *= sa->dim[da];
				}
				if (db >= 0) {
					ib += (sb->dim[db] == 1 ? 0 : idx) * mb;
					mb *= sb->dim[db];
				}
			}
			double x = f32(&c.args[0])[ia], y = f32(&c.args[1])[ib];
			double v = cases[i].op[0] == 'a'   ? x + y
			           : cases[i].op[0] == 's' ? x - y
			           : cases[i].op[0] == 'm' ? x * y
			                                   : x / y;
			ref[o] = act_ref(c.act, v);
		}
		CHECK(near(cases[i].op, f32(&c.out), ref, n, 1e-6));
		free(ref);
		call_free(&c);
	}
	struct call s = {.name = "add", .nargs = 2};
	s.args[0] = value_int(2);
	s.args[1] = T(3, 4);
	s.kw[0] = (struct kwarg){"alpha", value_float(0.5)};
	s.nkw = 1;
	CHECK(run(&s) == 0);
	double ref[12];
	for (int i = 0; i < 12; i++)
		ref[i] = 2 + 0.5 * f32(&s.args[1])[i];
	CHECK(near("2 + 0.5 * x", f32(&s.out), ref, 12, 1e-6));
	call_free(&s);
}

/* softmax (or softmin: of -x, or log_softmax) of x [3, 4, 5] along dim. */
static void softmax_ref(const float *x, int dim, int sign, bool log_, double *ref)
{
	int64_t st[3] = {20, 5, 1}, sz[3] = {3, 4, 5};
	for (int o = 0; o < 60; o++) {
		int64_t base = o - (o / st[dim] % sz[dim]) * st[dim];
		double mx = -INFINITY, sum = 0;
		for (int k = 0; k < sz[dim]; k++)
			mx = fmax(mx, sign * x[base + k * st[dim]]);
		for (int k = 0; k < sz[dim]; k++)
			sum += exp(sign * x[base + k * st[dim]] - mx);
		ref[o] = log_ ? sign * x[o] - mx - log(sum) : exp(sign * x[o] - mx) / sum;
	}
}

static void test_softmax(void)
{
	double ref[60];
	for (int dim = 0; dim < 3; dim++) {
		static const char *const names[] = {"softmax", "softmin", "log_softmax"};
		struct call c = {.name = names[dim], .nargs = 2};
		c.args[0] = T(3, 4, 5);
		c.args[1] = value_int(dim);
		CHECK(run(&c) == 0);
		softmax_ref(f32(&c.args[0]), dim, dim == 1 ? -1 : 1, dim == 2, ref);
		CHECK(near(c.name, f32(&c.out), ref, 60, 1e-6));
		call_free(&c);
	}
	/* the module types: Softmin(dim=2), LogSoftmax(dim=1), Softmax2d (dim
	 * -3 of a 3-D input: 0) */
	static const struct {
		const char *spec;
		int dim, sign;
		bool log_;
	} mods[] = {{"Softmin(dim=2)", 2, -1, false},
	            {"LogSoftmax(dim=1)", 1, 1, true},
	            {"Softmax2d()", 0, 1, false}};
	for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) {
		struct call c = {.m = mk(mods[i].spec), .nargs = 1};
		if (!c.m)
			continue;
		c.args[0] = T(3, 4, 5);
		CHECK(run(&c) == 0);
		softmax_ref(f32(&c.args[0]), mods[i].dim, mods[i].sign, mods[i].log_, ref);
		CHECK(near(mods[i].spec, f32(&c.out), ref, 60, 1e-6));
		call_free(&c);
	}
}

/* ---- pooling ---- */

struct pool_case {
	const char *spec;
	int64_t h, w;
};

/* PyTorch's rules, written out plainly. */
static void pool_ref(const char *spec, const float *x, int64_t planes, int64_t h, int64_t w,
                     int64_t oh, int64_t ow, const struct module *m, double *ref, double *idx)
{
	bool max = strstr(spec, "Max") != NULL;
	int64_t k[2], s[2], p[2], d[2] = {1, 1};
	module_attr_ints(m, "kernel_size", k, 2);
	module_attr_ints(m, "stride", s, 2);
	module_attr_ints(m, "padding", p, 2);
	if (max)
		module_attr_ints(m, "dilation", d, 2);
	bool cip = !max && module_attr_bool(m, "count_include_pad", true);
	const struct value *dv = module_attr(m, "divisor_override");
	int64_t div = dv && dv->kind == VAL_INT ? dv->u.i : 0;
	for (int64_t pl = 0; pl < planes; pl++)
		for (int64_t y = 0; y < oh; y++)
			for (int64_t z = 0; z < ow; z++) {
				double best = -INFINITY, sum = 0;
				int64_t cnt = 0, at = -1, area = 0;
				for (int64_t i = 0; i < k[0]; i++)
					for (int64_t j = 0; j < k[1]; j++) {
						int64_t ih = y * s[0] - p[0] + i * d[0];
						int64_t iw = z * s[1] - p[1] + j * d[1];
						/* the padded window, clipped to input + padding */
						if (ih < h + p[0] && iw < w + p[1])
							area++;
						if (ih < 0 || ih >= h || iw < 0 || iw >= w)
							continue;
						double v = x[(pl * h + ih) * w + iw];
						cnt++;
						sum += v;
						if (v > best) {
							best = v;
							at = ih * w + iw;
						}
					}
				int64_t o = (pl * oh + y) * ow + z;
				if (max) {
					ref[o] = best;
					if (idx)
						idx[o] = (double)at;
				} else {
					ref[o] = cnt ? sum / (double)(div   ? div
					                              : cip ? area
					                                    : cnt)
					             : 0;
				}
			}
}

static void test_pools(void)
{
	static const struct pool_case cases[] = {
	    {"MaxPool2d(3, 2, 1)", 11, 12},
	    {"MaxPool2d(3, 2, ceil_mode=True)", 10, 11},
	    {"MaxPool2d(2, 2, ceil_mode=True)", 5, 7},
	    {"MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1))", 9, 6},
	    {"MaxPool2d(3, 2, 1, ceil_mode=True)", 6, 8},
	    {"AvgPool2d(3, 2, 1)", 11, 12},
	    {"AvgPool2d(3, 2, 1, count_include_pad=False)", 11, 12},
	    {"AvgPool2d(3, 2, 1, ceil_mode=True)", 6, 8},
	    {"AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)", 6, 8},
	    {"AvgPool2d(2, ceil_mode=True)", 5, 7},
	    {"AvgPool2d(3, 3, divisor_override=4)", 8, 9},
	    {"AvgPool2d((2, 3), stride=(1, 2), padding=(1, 1))", 5, 6},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct call c = {.m = mk(cases[i].spec), .nargs = 1};
		if (!c.m)
			continue;
		c.args[0] = T(2, 3, cases[i].h, cases[i].w);
		CHECK(run(&c) == 0);
		const struct shape *os = &c.out.u.tensor.t.shape;
		double *ref = xcalloc((size_t)numel(&c.out), sizeof *ref);
		pool_ref(cases[i].spec, f32(&c.args[0]), 6, cases[i].h, cases[i].w, os->dim[2],
		         os->dim[3], c.m, ref, NULL);
		CHECK(near(cases[i].spec, f32(&c.out), ref, numel(&c.out), 1e-6));
		free(ref);
		call_free(&c);
	}
	/* indices of a max pool */
	struct call r = {.m = mk("MaxPool2d(3, 2, 1, return_indices=True)"), .nargs = 1};
	if (r.m) {
		r.args[0] = T(1, 2, 7, 8);
		CHECK(run(&r) == 0);
		struct value *v = out_item(&r, 0), *ix = out_item(&r, 1);
		int64_t n = numel(v);
		double *ref = xcalloc((size_t)n, sizeof *ref),
		       *iref = xcalloc((size_t)n, sizeof *iref);
		pool_ref("Max", f32(&r.args[0]), 2, 7, 8, 4, 4, r.m, ref, iref);
		CHECK(near("MaxPool2d values", f32(v), ref, n, 0));
		const int64_t *got = ix->u.tensor.t.storage->data;
		for (int64_t i = 0; i < n; i++)
			CHECK(got[i] == (int64_t)iref[i]);
		free(ref);
		free(iref);
		call_free(&r);
	}
	/* adaptive windows: floor(i*H/O) .. ceil((i+1)*H/O), larger than the
	 * input too */
	static const char *const adaptive[] = {"AdaptiveAvgPool2d((3, 5))", "AdaptiveAvgPool2d(1)",
	                                       "AdaptiveAvgPool2d((9, 13))",
	                                       "AdaptiveMaxPool2d((4, 3))"};
	for (size_t i = 0; i < 4; i++) {
		struct call c = {.m = mk(adaptive[i]), .nargs = 1};
		if (!c.m)
			continue;
		c.args[0] = T(2, 3, 7, 10);
		CHECK(run(&c) == 0);
		const struct shape *os = &c.out.u.tensor.t.shape;
		int64_t oh = os->dim[2], ow = os->dim[3];
		bool max = strstr(adaptive[i], "Max") != NULL;
		double *ref = xcalloc((size_t)numel(&c.out), sizeof *ref);
		const float *x = f32(&c.args[0]);
		for (int64_t pl = 0; pl < 6; pl++)
			for (int64_t y = 0; y < oh; y++)
				for (int64_t z = 0; z < ow; z++) {
					int64_t h0 = y * 7 / oh, h1 = ((y + 1) * 7 + oh - 1) / oh;
					int64_t w0 = z * 10 / ow, w1 = ((z + 1) * 10 + ow - 1) / ow;
					double s = 0, best = -INFINITY;
					for (int64_t a = h0; a < h1; a++)
						for (int64_t b = w0; b < w1; b++) {
							s += x[(pl * 7 + a) * 10 + b];
							best = fmax(best, x[(pl * 7 + a) * 10 + b]);
						}
					ref[(pl * oh + y) * ow + z] =
					    max ? best : s / (double)((h1 - h0) * (w1 - w0));
				}
		CHECK(near(adaptive[i], f32(&c.out), ref, numel(&c.out), 1e-6));
		free(ref);
		call_free(&c);
	}
}

static void test_reductions(void)
{
	struct call c = {.name = "mean", .nargs = 2};
	c.args[0] = T(2, 3, 4, 5);
	struct value dims = value_list(2);
	dims.u.list.items[0] = value_int(1);
	dims.u.list.items[1] = value_int(-1);
	c.args[1] = dims;
	c.kw[0] = (struct kwarg){"keepdim", value_bool(true)};
	c.nkw = 1;
	CHECK(run(&c) == 0);
	CHECK(c.out.u.tensor.t.shape.ndim == 4 && c.out.u.tensor.t.shape.dim[1] == 1);
	const float *x = f32(&c.args[0]);
	double ref[8];
	for (int n = 0; n < 2; n++)
		for (int h = 0; h < 4; h++) {
			double s = 0;
			for (int ch = 0; ch < 3; ch++)
				for (int w = 0; w < 5; w++)
					s += x[((n * 3 + ch) * 4 + h) * 5 + w];
			ref[n * 4 + h] = s / 15;
		}
	CHECK(near("mean((1, -1))", f32(&c.out), ref, 8, 1e-6));
	call_free(&c);
	struct call a = {.name = "amax", .nargs = 1};
	a.args[0] = T(3, 4);
	CHECK(run(&a) == 0);
	double mx = -INFINITY;
	for (int i = 0; i < 12; i++)
		mx = fmax(mx, f32(&a.args[0])[i]);
	CHECK(near("amax", f32(&a.out), &mx, 1, 0));
	call_free(&a);
}

/* ---- functions on any dtype ---- */

/* An int64 tensor of n values. */
static struct value ints_of(int n, const int64_t *v)
{
	struct value t = {.kind = VAL_TENSOR};
	t.u.tensor.t.dtype = DT_I64;
	t.u.tensor.t.shape.ndim = 1;
	t.u.tensor.t.shape.dim[0] = n;
	tensor_alloc(&t.u.tensor.t, NULL);
	memcpy(t.u.tensor.t.storage->data, v, (size_t)n * sizeof *v);
	return t;
}

static void test_max_with_indices(void)
{
	struct call c = {.name = "max", .nargs = 2};
	c.args[0] = T(3, 5);
	c.args[1] = value_int(-1);
	CHECK(run(&c) == 0);
	const float *x = f32(&c.args[0]);
	const struct tensor *idx = &out_item(&c, 1)->u.tensor.t;
	CHECK(idx->dtype == DT_I64);
	for (int r = 0; r < 3; r++) {
		int at = 0;
		for (int i = 1; i < 5; i++)
			at = x[r * 5 + i] > x[r * 5 + at] ? i : at;
		CHECK(((const int64_t *)tensor_data(idx))[r] == at);
		CHECK(f32(out_item(&c, 0))[r] == x[r * 5 + at]);
	}
	call_free(&c);
	/* var with the unbiased divisor, std with none */
	struct call v = {.name = "var", .nargs = 2};
	v.args[0] = T(2, 4);
	v.args[1] = value_int(1);
	CHECK(run(&v) == 0);
	double ref[2];
	for (int r = 0; r < 2; r++) {
		double m = 0, q = 0;
		for (int i = 0; i < 4; i++)
			m += f32(&v.args[0])[r * 4 + i] / 4.0;
		for (int i = 0; i < 4; i++)
			q += pow(f32(&v.args[0])[r * 4 + i] - m, 2);
		ref[r] = q / 3;
	}
	CHECK(near("var", f32(&v.out), ref, 2, 1e-6));
	call_free(&v);
}

static void test_masks_and_casts(void)
{
	/* masked_fill(x, x > 0, -inf) keeps a bool mask through gt */
	struct call g = {.name = "gt", .nargs = 2};
	g.args[0] = T(2, 3);
	g.args[1] = value_float(0);
	CHECK(run(&g) == 0);
	CHECK(g.out.u.tensor.t.dtype == DT_BOOL);
	struct call m = {.name = "masked_fill", .nargs = 3};
	m.args[0] = value_copy(&g.args[0]);
	m.args[1] = value_copy(&g.out);
	m.args[2] = value_float(-INFINITY);
	CHECK(run(&m) == 0);
	for (int i = 0; i < 6; i++) {
		float xv = f32(&g.args[0])[i];
		CHECK(f32(&m.out)[i] == (xv > 0 ? -INFINITY : xv));
	}
	call_free(&m);
	call_free(&g);
	/* long() truncates toward zero; arange counts in int64 */
	struct call l = {.name = "long", .nargs = 1};
	l.args[0] = T(4);
	f32(&l.args[0])[0] = -1.5f;
	f32(&l.args[0])[1] = 2.9f;
	CHECK(run(&l) == 0);
	const int64_t *li = tensor_data(&l.out.u.tensor.t);
	CHECK(l.out.u.tensor.t.dtype == DT_I64 && li[0] == -1 && li[1] == 2);
	call_free(&l);
	struct call a = {.name = "arange", .nargs = 3};
	a.args[0] = value_int(2);
	a.args[1] = value_int(9);
	a.args[2] = value_int(3);
	CHECK(run(&a) == 0);
	const int64_t *ai = tensor_data(&a.out.u.tensor.t);
	CHECK(numel(&a.out) == 3 && ai[0] == 2 && ai[1] == 5 && ai[2] == 8);
	call_free(&a);
}

static void test_pick(void)
{
	/* gather(x, 1, index) and flip(x, -1) and tril(x, -1) */
	struct call g = {.name = "gather", .nargs = 3};
	g.args[0] = T(2, 3);
	g.args[1] = value_int(1);
	g.args[2] = ints_of(2, (int64_t[]){2, 0});
	g.args[2].u.tensor.t.shape = (struct shape){.ndim = 2, .dim = {2, 1}};
	CHECK(run(&g) == 0);
	CHECK(f32(&g.out)[0] == f32(&g.args[0])[2] && f32(&g.out)[1] == f32(&g.args[0])[3]);
	call_free(&g);
	struct call f = {.name = "flip", .nargs = 2};
	f.args[0] = T(2, 3);
	f.args[1] = value_int(-1);
	CHECK(run(&f) == 0);
	CHECK(f32(&f.out)[0] == f32(&f.args[0])[2] && f32(&f.out)[5] == f32(&f.args[0])[3]);
	call_free(&f);
	struct call t = {.name = "tril", .nargs = 2};
	t.args[0] = T(3, 3);
	t.args[1] = value_int(-1);
	CHECK(run(&t) == 0);
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 3; c++)
			CHECK(f32(&t.out)[r * 3 + c] == (c - r <= -1 ? f32(&t.args[0])[r * 3 + c] : 0));
	call_free(&t);
	/* an index out of range is an error when the kernel runs */
	struct call s = {.name = "index_select", .nargs = 3};
	s.args[0] = T(2, 3);
	s.args[1] = value_int(1);
	s.args[2] = ints_of(1, (int64_t[]){3});
	CHECK(run(&s) < 0);
	call_free(&s);
}

static void test_products_and_distances(void)
{
	/* addmm(b, a, w, beta=0.5, alpha=2) */
	struct call c = {.name = "addmm", .nargs = 3};
	c.args[0] = T(3);
	c.args[1] = T(2, 4);
	c.args[2] = T(4, 3);
	c.kw[0] = (struct kwarg){"beta", value_float(0.5)};
	c.kw[1] = (struct kwarg){"alpha", value_float(2)};
	c.nkw = 2;
	CHECK(run(&c) == 0);
	double ref[6];
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++) {
			double s = 0;
			for (int k = 0; k < 4; k++)
				s += (double)f32(&c.args[1])[i * 4 + k] * f32(&c.args[2])[k * 3 + j];
			ref[i * 3 + j] = 2 * s + 0.5 * f32(&c.args[0])[j];
		}
	CHECK(near("addmm", f32(&c.out), ref, 6, 1e-5));
	call_free(&c);
	/* Bilinear: y[o] = x1 W[o] x2 + b[o] */
	struct call b = {.m = mk("Bilinear(2, 3, 2)"),
	                 .nargs = 2};
	b.args[0] = T(1, 2);
	b.args[1] = T(1, 3);
	CHECK(b.m && run(&b) == 0);
	const float *w = b.m->params[0].t.storage->data, *bias = b.m->params[1].t.storage->data;
	double yb[2];
	for (int o = 0; o < 2; o++) {
		yb[o] = bias[o];
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 3; j++)
				yb[o] += (double)f32(&b.args[0])[i] * w[(o * 2 + i) * 3 + j] *
				         f32(&b.args[1])[j];
	}
	CHECK(near("Bilinear", f32(&b.out), yb, 2, 1e-5));
	call_free(&b);
	/* cosine_similarity along dim 1 */
	struct call s = {.name = "cosine_similarity", .nargs = 2};
	s.args[0] = T(2, 3);
	s.args[1] = T(2, 3);
	CHECK(run(&s) == 0);
	double cs[2];
	for (int r = 0; r < 2; r++) {
		double d = 0, n1 = 0, n2 = 0;
		for (int i = 0; i < 3; i++) {
			double a = f32(&s.args[0])[r * 3 + i], z = f32(&s.args[1])[r * 3 + i];
			d += a * z;
			n1 += a * a;
			n2 += z * z;
		}
		cs[r] = d / sqrt(n1 * n2);
	}
	CHECK(near("cosine_similarity", f32(&s.out), cs, 2, 1e-6));
	call_free(&s);
}

/* ---- layout ---- */

static void test_permute_cat_split(void)
{
	struct call p = {.name = "permute", .nargs = 5};
	p.args[0] = T(2, 3, 4, 5);
	p.args[1] = value_int(2);
	p.args[2] = value_int(0);
	p.args[3] = value_int(3);
	p.args[4] = value_int(1);
	CHECK(run(&p) == 0);
	const float *x = f32(&p.args[0]);
	double ref[120];
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 3; b++)
			for (int c = 0; c < 4; c++)
				for (int d = 0; d < 5; d++)
					ref[((c * 2 + a) * 5 + d) * 3 + b] =
					    x[((a * 3 + b) * 4 + c) * 5 + d];
	CHECK(near("permute", f32(&p.out), ref, 120, 0));
	call_free(&p);

	struct call c = {.name = "cat", .nargs = 2};
	struct value l = value_list(3);
	l.u.list.items[0] = T(2, 1, 3);
	l.u.list.items[1] = T(2, 4, 3);
	l.u.list.items[2] = T(2, 2, 3);
	c.args[0] = l;
	c.args[1] = value_int(-2);
	CHECK(run(&c) == 0);
	double r2[42];
	for (int n = 0; n < 2; n++) {
		int at = 0;
		for (int t = 0; t < 3; t++) {
			const struct value *v = &l.u.list.items[t];
			int64_t len = v->u.tensor.t.shape.dim[1];
			for (int64_t i = 0; i < len * 3; i++)
				r2[n * 21 + at * 3 + i] = f32(v)[n * len * 3 + i];
			at += (int)len;
		}
	}
	CHECK(near("cat", f32(&c.out), r2, 42, 0));
	call_free(&c);

	struct call s = {.name = "chunk", .nargs = 3};
	s.args[0] = T(2, 7, 3);
	s.args[1] = value_int(3);
	s.args[2] = value_int(1);
	CHECK(run(&s) == 0);
	CHECK(s.out.kind == VAL_LIST && s.out.u.list.n == 3);
	if (s.out.kind == VAL_LIST && s.out.u.list.n == 3) {
		/* 3, 3, 1 rows */
		const float *in = f32(&s.args[0]);
		const float *last = f32(&s.out.u.list.items[2]);
		CHECK(last[0] == in[6 * 3] && last[5] == in[21 + 6 * 3 + 2]);
		const float *mid = f32(&s.out.u.list.items[1]);
		CHECK(mid[0] == in[9] && mid[17] == in[21 + 5 * 3 + 2]);
	}
	call_free(&s);
}

/* MViT's pieces: tensor_split at an index, _unsqueeze of a 3-D tensor,
 * _add_shortcut without the class token. */
static void test_mvit_pieces(void)
{
	struct call s = {.name = "tensor_split", .nargs = 3};
	s.args[0] = T(2, 5, 3);
	s.args[1] = value_list(1);
	s.args[1].u.list.items[0] = value_int(1);
	s.args[2] = value_int(1);
	CHECK(run(&s) == 0);
	CHECK(s.out.kind == VAL_LIST && s.out.u.list.n == 2);
	if (s.out.kind == VAL_LIST && s.out.u.list.n == 2) {
		const float *in = f32(&s.args[0]);
		const float *first = f32(&s.out.u.list.items[0]);
		const float *rest = f32(&s.out.u.list.items[1]);
		CHECK(first[0] == in[0] && first[3] == in[15] && first[5] == in[17]);
		CHECK(rest[0] == in[3] && rest[11] == in[14] && rest[12] == in[18]);
	}
	call_free(&s);

	struct call u = {.name = "_unsqueeze", .nargs = 3};
	u.args[0] = T(2, 5, 3);
	u.args[1] = value_int(4);
	u.args[2] = value_int(1);
	CHECK(run(&u) == 0);
	CHECK(u.out.kind == VAL_LIST && out_item(&u, 1)->kind == VAL_INT &&
	      out_item(&u, 1)->u.i == 3);
	double ref[30];
	for (int i = 0; i < 30; i++)
		ref[i] = f32(&u.args[0])[i];
	CHECK(near("_unsqueeze", f32(out_item(&u, 0)), ref, 30, 0));
	call_free(&u);

	struct call a = {.name = "_add_shortcut", .nargs = 3};
	a.args[0] = T(1, 2, 3, 4);
	a.args[1] = T(1, 2, 3, 4);
	a.args[2] = value_bool(false);
	CHECK(run(&a) == 0);
	const float *x = f32(&a.args[0]), *q = f32(&a.args[1]);
	double sum[24];
	for (int i = 0; i < 24; i++)
		sum[i] = x[i] + (i % 12 < 4 ? 0 : q[i]); /* token 0 of each head unchanged */
	CHECK(near("_add_shortcut", f32(&a.out), sum, 24, 1e-6));
	call_free(&a);
}

/* Indexing: basic, advanced with a negative index, advanced split by a
 * slice (the index dims go first). */
static void test_getitem(void)
{
	struct call c = {.name = "getitem", .nargs = 2};
	c.args[0] = T(3, 4, 5);
	struct value idx = value_list(3);
	idx.u.list.items[0] =
	    (struct value){.kind = VAL_SLICE, .u.slice = {1, 0, 0, true, false, false}};
	idx.u.list.items[1] = value_int(-1);
	idx.u.list.items[2] =
	    (struct value){.kind = VAL_SLICE, .u.slice = {0, 0, 2, false, false, true}};
	c.args[1] = idx;
	CHECK(run(&c) == 0); /* x[1:, -1, ::2] -> [2, 3] */
	const float *x = f32(&c.args[0]);
	double ref[6];
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 3; b++)
			ref[a * 3 + b] = x[((a + 1) * 4 + 3) * 5 + 2 * b];
	CHECK(near("x[1:, -1, ::2]", f32(&c.out), ref, 6, 0));
	call_free(&c);

	struct call d = {.name = "getitem", .nargs = 2};
	d.args[0] = T(4, 3, 5);
	struct value ix = {.kind = VAL_TENSOR};
	ix.u.tensor.t.dtype = DT_I64;
	ix.u.tensor.t.shape = (struct shape){.ndim = 1, .dim = {2}};
	tensor_alloc(&ix.u.tensor.t, NULL);
	((int64_t *)ix.u.tensor.t.storage->data)[0] = 3;
	((int64_t *)ix.u.tensor.t.storage->data)[1] = -4;
	struct value i2 = value_list(3);
	i2.u.list.items[0] = value_copy(&ix);
	i2.u.list.items[1] = (struct value){.kind = VAL_SLICE};
	i2.u.list.items[2] = ix;
	((int64_t *)ix.u.tensor.t.storage->data)[0] = 3;
	d.args[1] = i2;
	CHECK(run(&d) == 0); /* x[ix, :, ix] -> [2, 3] */
	CHECK(d.out.u.tensor.t.shape.ndim == 2 && d.out.u.tensor.t.shape.dim[0] == 2);
	x = f32(&d.args[0]);
	double r2[6];
	for (int p = 0; p < 2; p++)
		for (int m = 0; m < 3; m++)
			r2[p * 3 + m] = x[((p ? 0 : 3) * 3 + m) * 5 + (p ? 1 : 3)];
	CHECK(near("x[ix, :, ix]", f32(&d.out), r2, 6, 0));
	/* out of range: a run error, not a crash */
	((int64_t *)i2.u.list.items[0].u.tensor.t.storage->data)[0] = 4;
	value_free(&d.out);
	CHECK(run(&d) < 0);
	call_free(&d);
}

/* ---- attention ---- */

/* nn.MultiheadAttention against the formula, batch_first and not. */
static void test_mha(void)
{
	for (int bf = 0; bf < 2; bf++) {
		struct call c = {.m = mk(bf ? "MultiheadAttention(8, 2, batch_first=True)"
		                            : "MultiheadAttention(8, 4)"),
		                 .nargs = 3};
		if (!c.m)
			continue;
		int64_t L = 3, N = 2, E = 8, H = bf ? 2 : 4, D = E / H;
		c.args[0] = bf ? T(N, L, E) : T(L, N, E);
		c.args[1] = value_copy(&c.args[0]);
		c.args[2] = value_copy(&c.args[0]);
		CHECK(run(&c) == 0);
		const float *x = f32(&c.args[0]);
		const float *w = module_param(c.m, "in_proj_weight")->t.storage->data;
		const float *b = module_param(c.m, "in_proj_bias")->t.storage->data;
		const float *wo = module_param(c.m, "out_proj.weight")->t.storage->data;
		const float *bo = module_param(c.m, "out_proj.bias")->t.storage->data;
		double ref[48], wref[18] = {0};
		for (int64_t n = 0; n < N; n++) {
			double q[3][8], k[3][8], v[3][8], o[3][8];
			for (int64_t l = 0; l < L; l++) {
				const float *row = x + (bf ? n * L + l : l * N + n) * E;
				for (int64_t e = 0; e < E; e++) {
					q[l][e] = b[e];
					k[l][e] = b[E + e];
					v[l][e] = b[2 * E + e];
					for (int64_t i = 0; i < E; i++) {
						q[l][e] += w[e * E + i] * (double)row[i];
						k[l][e] += w[(E + e) * E + i] * (double)row[i];
						v[l][e] += w[(2 * E + e) * E + i] * (double)row[i];
					}
				}
			}
			for (int64_t h = 0; h < H; h++)
				for (int64_t l = 0; l < L; l++) {
					double a[3], mx = -INFINITY, sum = 0;
					for (int64_t s = 0; s < L; s++) {
						a[s] = 0;
						for (int64_t d = 0; d < D; d++)
							a[s] += q[l][h * D + d] * k[s][h * D + d];
						a[s] /= sqrt((double)D);
						mx = fmax(mx, a[s]);
					}
					for (int64_t s = 0; s < L; s++)
						sum += a[s] = exp(a[s] - mx);
					for (int64_t d = 0; d < D; d++) {
						o[l][h * D + d] = 0;
						for (int64_t s = 0; s < L; s++)
							o[l][h * D + d] +=
							    a[s] / sum * v[s][h * D + d];
					}
					for (int64_t s = 0; s < L; s++)
						wref[(n * L + l) * L + s] += a[s] / sum / (double)H;
				}
			for (int64_t l = 0; l < L; l++)
				for (int64_t e = 0; e < E; e++) {
					double s = bo[e];
					for (int64_t i = 0; i < E; i++)
						s += wo[e * E + i] * o[l][i];
					ref[(bf ? n * L + l : l * N + n) * E + e] = s;
				}
		}
		CHECK(near("MultiheadAttention", f32(out_item(&c, 0)), ref, 48, 1e-5));
		CHECK(near("MultiheadAttention weights", f32(out_item(&c, 1)), wref, 18, 1e-5));
		call_free(&c);
	}
}

/* A tensor of dtype dt and the given shape, elements from vals (as
 * floats, or as bools when dt is DT_BOOL). */
static struct value mask_of(enum dtype dt, int ndim, const int64_t *dims, const float *vals)
{
	struct value v = {.kind = VAL_TENSOR};
	v.u.tensor.t.dtype = dt;
	v.u.tensor.t.shape.ndim = ndim;
	memcpy(v.u.tensor.t.shape.dim, dims, (size_t)ndim * sizeof *dims);
	tensor_alloc(&v.u.tensor.t, NULL);
	for (int64_t i = 0; i < shape_numel(&v.u.tensor.t.shape); i++) {
		if (dt == DT_BOOL)
			((uint8_t *)v.u.tensor.t.storage->data)[i] = vals[i] != 0;
		else
			f32(&v)[i] = vals[i];
	}
	return v;
}

/* MultiheadAttention's masks: every way of masking the last of S = 4 keys
 * (a bool or float key_padding_mask, a 2-D or 3-D attn_mask, a bool
 * attn_mask with a float key_padding_mask) gives what the same module
 * computes on the first 3 keys alone, in the output and the weights. */
static void test_mha_masks(void)
{
	enum { L = 2, S = 4, N = 2, E = 8, H = 2 };
	struct call ref = {.m = mk("MultiheadAttention(8, 2)"), .nargs = 3};
	if (!ref.m)
		return;
	ref.args[0] = T(L, N, E);
	ref.args[1] = T(S - 1, N, E);
	ref.args[2] = T(S - 1, N, E);
	CHECK(run(&ref) == 0);
	double want[L * N * E], wweights[N * L * S];
	for (int64_t i = 0; i < L * N * E; i++)
		want[i] = f32(out_item(&ref, 0))[i];
	/* the masked key's weights are 0 */
	for (int64_t b = 0; b < N; b++)
		for (int64_t l = 0; l < L; l++)
			for (int64_t s = 0; s < S; s++)
				wweights[(b * L + l) * S + s] =
				    s < S - 1 ? f32(out_item(&ref, 1))[(b * L + l) * (S - 1) + s] : 0;
	float last[N * H * L * S], half[N * S], neg[L * S], none[L * S] = {0};
	for (int64_t i = 0; i < N * H * L * S; i++)
		last[i] = i % S == S - 1 ? 1.0f : 0.0f;
	for (int64_t i = 0; i < N * S; i++)
		half[i] = i % S == S - 1 ? 0.5f : 0.0f;
	for (int64_t i = 0; i < L * S; i++)
		neg[i] = i % S == S - 1 ? -INFINITY : 0.0f;
	struct {
		const char *what;
		struct value kpm, am;
	} cases[] = {
	    {"bool key_padding_mask", mask_of(DT_BOOL, 2, (int64_t[]){N, S}, last), {0}},
	    {"float key_padding_mask", mask_of(DT_F32, 2, (int64_t[]){N, S}, neg), {0}},
	    {"2-D float attn_mask", {0}, mask_of(DT_F32, 2, (int64_t[]){L, S}, neg)},
	    {"3-D bool attn_mask", {0}, mask_of(DT_BOOL, 3, (int64_t[]){N * H, L, S}, last)},
	    {"bool attn_mask with a float key_padding_mask",
	     mask_of(DT_F32, 2, (int64_t[]){N, S}, half),
	     mask_of(DT_BOOL, 2, (int64_t[]){L, S}, none)},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct call c = {.m = ref.m, .nargs = 3};
		c.args[0] = value_copy(&ref.args[0]);
		c.args[1] = T(S, N, E);
		c.args[2] = T(S, N, E);
		/* the first S-1 keys and values ([S, N, E] rows) are ref's */
		memcpy(f32(&c.args[1]), f32(&ref.args[1]), (size_t)((S - 1) * N * E) * sizeof(float));
		memcpy(f32(&c.args[2]), f32(&ref.args[2]), (size_t)((S - 1) * N * E) * sizeof(float));
		if (cases[i].kpm.kind == VAL_TENSOR)
			c.kw[c.nkw++] = (struct kwarg){"key_padding_mask", cases[i].kpm};
		if (cases[i].am.kind == VAL_TENSOR)
			c.kw[c.nkw++] = (struct kwarg){"attn_mask", cases[i].am};
		CHECK(run(&c) == 0);
		if (c.out.kind == VAL_LIST) {
			CHECK(near(cases[i].what, f32(out_item(&c, 0)), want, L * N * E, 1e-5));
			CHECK(near(cases[i].what, f32(out_item(&c, 1)), wweights, N * L * S, 1e-5));
		}
		c.m = NULL; /* ref's */
		call_free(&c);
	}
	/* a mask of another shape breaks in the shape rule */
	struct call bad = {.m = ref.m, .nargs = 3, .nkw = 1};
	bad.args[0] = T(L, N, E);
	bad.args[1] = T(S, N, E);
	bad.args[2] = T(S, N, E);
	bad.kw[0] = (struct kwarg){"attn_mask", T(L, S + 1)};
	CHECK(run(&bad) < 0);
	bad.m = NULL;
	call_free(&bad);
	call_free(&ref);
}

/* nn.Transformer.generate_square_subsequent_mask(3). */
static void test_square_subsequent_mask(void)
{
	struct call c = {.name = "generate_square_subsequent_mask", .nargs = 1};
	c.args[0] = value_int(3);
	CHECK(run(&c) == 0);
	for (int i = 0; i < 9 && c.out.kind == VAL_TENSOR; i++)
		CHECK(f32(&c.out)[i] == (i % 3 > i / 3 ? -INFINITY : 0.0f));
	call_free(&c);
}

/* Swin's relative position bias: out[0, h, i, j] = table[index[i*N+j], h]. */
static void test_relative_position_bias(void)
{
	struct call c = {.name = "_get_relative_position_bias", .nargs = 3};
	c.args[0] = T(9, 3);
	struct value ix = {.kind = VAL_TENSOR};
	ix.u.tensor.t.dtype = DT_I64;
	ix.u.tensor.t.shape = (struct shape){.ndim = 1, .dim = {16}};
	tensor_alloc(&ix.u.tensor.t, NULL);
	for (int i = 0; i < 16; i++)
		((int64_t *)ix.u.tensor.t.storage->data)[i] = (i * 5) % 9;
	c.args[1] = ix;
	c.args[2] = value_list(2);
	c.args[2].u.list.items[0] = value_int(2);
	c.args[2].u.list.items[1] = value_int(2);
	CHECK(run(&c) == 0);
	double ref[48];
	for (int h = 0; h < 3; h++)
		for (int t = 0; t < 16; t++)
			ref[h * 16 + t] = f32(&c.args[0])[((t * 5) % 9) * 3 + h];
	CHECK(near("_get_relative_position_bias", f32(&c.out), ref, 48, 0));
	call_free(&c);
}

/* ---- threads ---- */

struct sum_job {
	int64_t *hits;
};

static void mark(void *ctx, int64_t b, int64_t e)
{
	struct sum_job *j = ctx;
	for (int64_t i = b; i < e; i++)
		__atomic_add_fetch(&j->hits[i], 1, __ATOMIC_RELAXED);
}

/* Every index once, for any thread count, also nested. */
static void test_kpar_for(void)
{
	for (int t = 1; t <= 3; t++) {
		kernels_set_threads(t);
		CHECK(kernels_threads() == t);
		for (int64_t n = 0; n < 300; n += 37) {
			int64_t hits[300] = {0};
			struct sum_job j = {hits};
			kpar_for(n, 1, mark, &j);
			for (int64_t i = 0; i < n; i++)
				CHECK(hits[i] == 1);
		}
	}
	kernels_set_threads(2);
}

int main(void)
{
	RUN(test_kpar_for);
	RUN(test_conv2d);
	RUN(test_conv2d_same);
	RUN(test_conv_transposed);
	RUN(test_linear);
	RUN(test_matmul);
	RUN(test_einsum);
	RUN(test_batchnorm);
	RUN(test_batchnorm_variants);
	RUN(test_norms);
	RUN(test_activations);
	RUN(test_prelu_glu);
	RUN(test_binary);
	RUN(test_softmax);
	RUN(test_pools);
	RUN(test_reductions);
	RUN(test_max_with_indices);
	RUN(test_masks_and_casts);
	RUN(test_pick);
	RUN(test_products_and_distances);
	RUN(test_permute_cat_split);
	RUN(test_mvit_pieces);
	RUN(test_getitem);
	RUN(test_mha);
	RUN(test_mha_masks);
	RUN(test_square_subsequent_mask);
	RUN(test_relative_position_bias);
	return CHECK_DONE();
}
