/* init.c - PyTorch's CPU generator, its uniform and normal fills, and the
 * torch.nn.init functions built on them.
 *
 * Everything here follows PyTorch 1.13's CPU code value for value:
 *
 * - The generator is at::mt19937 (MT19937RNGEngine.h): the 32-bit Mersenne
 *   Twister, seeded from the low 32 bits of the seed with the reference
 *   initialisation. random() is one draw, random64() two (high word first).
 *
 * - uniform_ on float32 (DistributionTemplates.h, TransformationHelper.h)
 *   takes one 32-bit draw per element, serially, keeps its low 24 bits,
 *   scales them by 2^-24 and computes x * (to - from) + from in float with
 *   from and to rounded to float. PyTorch's AVX2 kernels are built with
 *   FMA enabled and GCC fuses that multiply-add, so graft fuses it too.
 *
 * - normal_ on float32 takes two routes. With 16 or more elements the AVX2
 *   kernel fills the tensor with uniform [0, 1) floats, then turns each
 *   block of 16 into normals by Box-Muller over elements j and j+8 with the
 *   Cephes-style logf and sincosf of avx_mathfun.h; when the size is not a
 *   multiple of 16 the last 16 elements are drawn again and transformed
 *   again. cephes_logf and cephes_sincosf below repeat those polynomials
 *   operation for operation, with fmaf exactly where GCC fuses them in
 *   PyTorch's AVX2 build. Fewer than 16 elements use the double-precision
 *   normal_distribution, one Box-Muller pair per two elements with the
 *   second value cached in the generator (and kept across calls until the
 *   next seed).
 *
 * PyTorch picks its kernels by CPU at run time. Without AVX2 nothing is
 * fused, and its AVX-512 kernels (which some builds pick) compute normal_
 * with libm's logf, cosf and sinf, so their values can differ in the last
 * bit; graft follows the AVX2 kernels, which PyTorch runs on current x86-64
 * machines (the AVX-512 kernels fuse too, so uniform_ and the normal of
 * fewer than 16 elements match them as well). */
#include "core/init.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/registry.h"

/* ---- the generator ---- */

#define MT_M        397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER    0x80000000u
#define MT_LOWER    0x7fffffffu

void rng_seed(struct rng *r, uint64_t seed)
{
	r->state[0] = (uint32_t)(seed & 0xffffffffu);
	for (uint32_t j = 1; j < RNG_STATE_WORDS; j++) {
		uint32_t prev = r->state[j - 1];
		r->state[j] = 1812433253u * (prev ^ (prev >> 30)) + j;
	}
	r->index = RNG_STATE_WORDS; /* the first draw regenerates the state */
	r->has_normal = false;
	r->next_normal = 0.0;
}

/* Regenerates all 624 words (PyTorch's next_state). */
static void rng_twist(struct rng *r)
{
	uint32_t *s = r->state;
	for (int k = 0; k < RNG_STATE_WORDS; k++) {
		uint32_t y = (s[k] & MT_UPPER) | (s[(k + 1) % RNG_STATE_WORDS] & MT_LOWER);
		s[k] = s[(k + MT_M) % RNG_STATE_WORDS] ^ (y >> 1) ^ ((y & 1) ? MT_MATRIX_A : 0);
	}
	r->index = 0;
}

uint32_t rng_next(struct rng *r)
{
	if (r->index >= RNG_STATE_WORDS || r->index < 0)
		rng_twist(r);
	uint32_t y = r->state[r->index++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

/* CPUGeneratorImpl::random64(): two draws, the first the high word. */
static uint64_t rng_next64(struct rng *r)
{
	uint64_t hi = rng_next(r);
	uint64_t lo = rng_next(r);
	return hi << 32 | lo;
}

/* transformation::uniform_real<float> on one draw, in float. */
static float uniform_f32(struct rng *r, float from, float to)
{
	float x = (float)(rng_next(r) & 0xffffffu) * (1.0f / 16777216.0f);
	return fmaf(x, to - from, from);
}

/* transformation::uniform_real<double>(random64(), 0, 1): 53 bits. */
static double uniform01_f64(struct rng *r)
{
	return (double)(rng_next64(r) & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

void rng_uniform_f32(struct rng *r, float *out, int64_t n, double from, double to)
{
	float f = (float)from, t = (float)to;
	for (int64_t i = 0; i < n; i++)
		out[i] = uniform_f32(r, f, t);
}

/* ---- normal_ ---- */

static float bits_float(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static uint32_t float_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* avx_mathfun.h's constants, written as there: double literals rounded to
 * float. */
static const float C_SQRTHF = 0.707106781186547524;
static const float C_LOG_P[9] = {7.0376836292E-2,  -1.1514610310E-1, 1.1676998740E-1,
                                 -1.2420140846E-1, +1.4249322787E-1, -1.6668057665E-1,
                                 +2.0000714765E-1, -2.4999993993E-1, +3.3333331174E-1};
static const float C_LOG_Q1 = -2.12194440e-4;
static const float C_LOG_Q2 = 0.693359375;
static const float C_DP1 = -0.78515625;
static const float C_DP2 = -2.4187564849853515625e-4;
static const float C_DP3 = -3.77489497744594108e-8;
static const float C_SINCOF[3] = {-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1};
static const float C_COSCOF[3] = {2.443315711809948E-005, -1.388731625493765E-003,
                                  4.166664568298827E-002};
static const float C_FOPI = 1.27323954473516;

/* log256_ps for one lane. Only called on (0, 1]. */
static float cephes_logf(float x)
{
	bool invalid = !(x > 0.0f);
	if (!(x >= FLT_MIN))
		x = FLT_MIN; /* _mm256_max_ps(x, min_norm_pos) */
	uint32_t u = float_bits(x);
	int32_t exp = (int32_t)(u >> 23) - 0x7f;
	x = bits_float((u & ~0x7f800000u) | float_bits(0.5f));
	float e = (float)exp + 1.0f;
	float tmp = 0.0f;
	if (x < C_SQRTHF) {
		tmp = x;
		e -= 1.0f;
	}
	x = x - 1.0f;
	x = x + tmp;
	float z = x * x;
	float y = C_LOG_P[0];
	for (int i = 1; i < 9; i++)
		y = fmaf(y, x, C_LOG_P[i]);
	y = y * x;
	y = fmaf(y, z, e * C_LOG_Q1);
	y = fmaf(-z, 0.5f, y);
	x = x + y;
	x = fmaf(e, C_LOG_Q2, x);
	return invalid ? NAN : x;
}

/* sincos256_ps for one lane. */
static void cephes_sincosf(float x, float *s, float *c)
{
	uint32_t sign_sin = float_bits(x) & 0x80000000u;
	x = fabsf(x);
	int32_t j = (int32_t)(x * C_FOPI); /* truncates, as cvttps does */
	j = (j + 1) & ~1;
	float y = (float)j;
	uint32_t swap_sin = (uint32_t)(j & 4) << 29;
	bool poly = (j & 2) == 0;
	x = fmaf(y, C_DP1, x);
	x = fmaf(y, C_DP2, x);
	x = fmaf(y, C_DP3, x);
	uint32_t sign_cos = (uint32_t)(~(j - 2) & 4) << 29;
	sign_sin ^= swap_sin;

	float z = x * x;
	float yc = fmaf(fmaf(C_COSCOF[0], z, C_COSCOF[1]), z, C_COSCOF[2]);
	yc = yc * z;
	yc = fmaf(yc, z, -(z * 0.5f));
	yc = yc + 1.0f;
	float ys = fmaf(fmaf(C_SINCOF[0], z, C_SINCOF[1]), z, C_SINCOF[2]);
	ys = ys * z;
	ys = fmaf(ys, x, x);

	/* The selection as the vector code does it: masks, subtractions and
	 * additions (which only matter for the sign of a zero). */
	float ysin2 = poly ? ys : 0.0f;
	float ysin1 = poly ? 0.0f : yc;
	ys = ys - ysin2;
	yc = yc - ysin1;
	*s = bits_float(float_bits(ysin1 + ysin2) ^ sign_sin);
	*c = bits_float(float_bits(yc + ys) ^ sign_cos);
}

/* normal_fill_16_AVX2 on out[0..15]: Box-Muller on out[j] and out[j + 8]. */
static void normal_fill_16(float *out, float mean, float std)
{
	const float two_pi = (float)(2.0 * 3.14159265358979323846);
	for (int j = 0; j < 8; j++) {
		float u1 = 1.0f - out[j];
		float u2 = out[j + 8];
		float radius = sqrtf(-2.0f * cephes_logf(u1));
		float s, c;
		cephes_sincosf(two_pi * u2, &s, &c);
		out[j] = fmaf(radius * c, std, mean);
		out[j + 8] = fmaf(radius * s, std, mean);
	}
}

/* at::normal_distribution<double>: one standard normal, the second of each
 * Box-Muller pair cached. */
static double normal_f64(struct rng *r)
{
	if (r->has_normal) {
		r->has_normal = false;
		return r->next_normal;
	}
	double u1 = uniform01_f64(r);
	double u2 = uniform01_f64(r);
	double radius = sqrt(-2.0 * log(1.0 - u2));
	double theta = 2.0 * 3.14159265358979323846 * u1;
	r->next_normal = radius * sin(theta);
	r->has_normal = true;
	return radius * cos(theta);
}

void rng_normal_f32(struct rng *r, float *out, int64_t n, double mean, double std)
{
	if (n < 16) {
		for (int64_t i = 0; i < n; i++)
			out[i] = (float)fma(normal_f64(r), std, mean);
		return;
	}
	float m = (float)mean, s = (float)std;
	for (int64_t i = 0; i < n; i++)
		out[i] = uniform_f32(r, 0.0f, 1.0f);
	for (int64_t i = 0; i + 16 <= n; i += 16)
		normal_fill_16(out + i, m, s);
	if (n % 16) {
		float *tail = out + n - 16;
		for (int i = 0; i < 16; i++)
			tail[i] = uniform_f32(r, 0.0f, 1.0f);
		normal_fill_16(tail, m, s);
	}
}

/* ---- torch.nn.init ---- */

float *init_data_f32(struct param *p, int64_t *n)
{
	*n = shape_numel(&p->t.shape);
	return p->t.storage->data;
}

void init_constant(struct param *p, double v)
{
	int64_t n;
	float *d = init_data_f32(p, &n);
	for (int64_t i = 0; i < n; i++)
		d[i] = (float)v;
}

void init_uniform(struct param *p, struct rng *r, double from, double to)
{
	int64_t n;
	float *d = init_data_f32(p, &n);
	rng_uniform_f32(r, d, n, from, to);
}

int init_fans(const struct param *p, int64_t *fan_in, int64_t *fan_out, struct error *e)
{
	const struct shape *s = &p->t.shape;
	if (s->ndim < 2)
		return error_setk(e, ERR_INTERNAL,
		                  "%s: fan in and fan out need at least 2 dimensions", p->name);
	int64_t field = 1;
	for (int i = 2; i < s->ndim; i++)
		field *= s->dim[i];
	*fan_in = s->dim[1] * field;
	*fan_out = s->dim[0] * field;
	return 0;
}

int init_kaiming_uniform(struct param *p, struct rng *r, double a, struct error *e)
{
	int64_t fan_in = 0, fan_out = 0;
	if (init_fans(p, &fan_in, &fan_out, e) < 0)
		return -1;
	if (shape_numel(&p->t.shape) == 0) {
		init_constant(p, 0.0); /* PyTorch leaves it empty and draws nothing */
		return 0;
	}
	/* calculate_gain('leaky_relu', a) and kaiming_uniform_, in the same
	 * double operations as torch/nn/init.py. */
	double gain = sqrt(2.0 / (1 + pow(a, 2)));
	double std = gain / sqrt((double)fan_in);
	double bound = sqrt(3.0) * std;
	init_uniform(p, r, -bound, bound);
	return 0;
}

int init_xavier_uniform(struct param *p, struct rng *r, double gain, struct error *e)
{
	int64_t fan_in = 0, fan_out = 0;
	if (init_fans(p, &fan_in, &fan_out, e) < 0)
		return -1;
	double std = gain * sqrt(2.0 / (double)(fan_in + fan_out));
	double a = sqrt(3.0) * std;
	init_uniform(p, r, -a, a);
	return 0;
}

int init_xavier_normal(struct param *p, struct rng *r, double gain, struct error *e)
{
	int64_t fan_in = 0, fan_out = 0;
	if (init_fans(p, &fan_in, &fan_out, e) < 0)
		return -1;
	double std = gain * sqrt(2.0 / (double)(fan_in + fan_out));
	int64_t n;
	float *d = init_data_f32(p, &n);
	rng_normal_f32(r, d, n, 0.0, std);
	return 0;
}

int init_linear_reset(struct param *weight, struct param *bias, struct rng *r, struct error *e)
{
	if (init_kaiming_uniform(weight, r, sqrt(5.0), e) < 0)
		return -1;
	if (!bias)
		return 0;
	int64_t fan_in = 0, fan_out = 0;
	if (init_fans(weight, &fan_in, &fan_out, e) < 0)
		return -1;
	if (fan_in <= 0) {
		init_constant(bias, 0.0);
		return 0;
	}
	double bound = 1 / sqrt((double)fan_in);
	init_uniform(bias, r, -bound, bound);
	return 0;
}

struct param *init_param(struct module *m, const char *name, struct error *e)
{
	struct param *p = module_param(m, name);
	if (!p)
		error_setk(e, ERR_INTERNAL, "%s has no tensor '%s' to initialise", m->type, name);
	return p;
}

/* ---- the walk ---- */

/* Zeros for tensors no rule covers: float32, or the tensor's own dtype when
 * it is an integer or bool type. Returns 0, or -1 with e set naming the
 * tensor that cannot be allocated. */
static int init_zeros(struct module *m, struct error *e)
{
	for (int i = 0; i < m->nparams; i++) {
		struct param *p = &m->params[i];
		if (dtype_is_float(p->t.dtype))
			p->t.dtype = DT_F32;
		if (tensor_alloc(&p->t, e) < 0) {
			char name[2048];
			return error_prefix(e, "%s", module_param_path(m, p->name, name, sizeof name));
		}
	}
	return 0;
}

int init_module(struct module *m, struct rng *r, struct error *e)
{
	/* Zeros first, so a tensor a rule leaves alone still gets fresh storage. */
	if (init_zeros(m, e) < 0)
		return -1;
	if (m->def && m->def->init && m->def->init(m, r, e) < 0)
		return -1;
	for (int i = 0; i < m->nchildren; i++)
		if (init_module(m->children[i], r, e) < 0)
			return -1;
	return 0;
}
