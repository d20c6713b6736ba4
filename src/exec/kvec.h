/* kvec.h - eight floats at a time, for the kernel files.
 *
 * GCC's vector extensions: in the x86-64-v3 clones of KERNEL_HOT functions
 * they become AVX instructions, elsewhere pairs of SSE ones (or whatever
 * the target has). Loads and stores go through memcpy (unaligned). The
 * helpers are always inlined, so the ABI of passing vectors by value, which
 * GCC warns about for targets without AVX, never comes into play. */
#ifndef GRAFT_KVEC_H
#define GRAFT_KVEC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "exec/kernels.h"

#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define V8_INLINE static inline __attribute__((always_inline))

V8_INLINE v8f v8_load(const float *p)
{
	v8f v;
	memcpy(&v, p, sizeof v);
	return v;
}

V8_INLINE void v8_store(float *p, v8f v)
{
	memcpy(p, &v, sizeof v);
}

V8_INLINE v8f v8_splat(float f)
{
	return (v8f){f, f, f, f, f, f, f, f};
}

/* m ? a : b, lane by lane (m from a comparison: all ones or zeros). */
V8_INLINE v8f v8_select(v8i m, v8f a, v8f b)
{
	return (v8f)((m & (v8i)a) | (~m & (v8i)b));
}

/* Elements 0, 2, ..., 14 of the 16 floats at p (a stride-2 load). */
V8_INLINE v8f v8_load_even(const float *p)
{
	v8f a = v8_load(p), b = v8_load(p + 8);
	return __builtin_shuffle(a, b, (v8i){0, 2, 4, 6, 8, 10, 12, 14});
}

/* Stores a0 b0 a1 b1 ... a7 b7 at p (16 floats). */
V8_INLINE void v8_store_interleave2(float *p, v8f a, v8f b)
{
	v8_store(p, __builtin_shuffle(a, b, (v8i){0, 8, 1, 9, 2, 10, 3, 11}));
	v8_store(p + 8, __builtin_shuffle(a, b, (v8i){4, 12, 5, 13, 6, 14, 7, 15}));
}

/* max(a, b) where a NaN in b wins (PyTorch's max pooling propagates NaN). */
V8_INLINE v8f v8_max_nan(v8f a, v8f b)
{
	return v8_select((b > a) | (b != b), b, a);
}

/* e^x, Cephes' method: x = n ln2 + r, a degree-6 polynomial for e^r, 2^n
 * built in the exponent bits (n clamped to the normal range, which also
 * keeps NaN a NaN). About 2 ulp over the range where the result is a
 * normal float. */
V8_INLINE v8f v8_exp(v8f x)
{
	v8f fn = x * 1.44269504088896341f + 12582912.0f; /* round to nearest: 1.5 * 2^23 */
	v8f nf = fn - 12582912.0f;
	v8i n = (v8i)fn - 0x4B400000;
	n = ((n > 127) & 127) | (~(n > 127) & n);
	n = ((n < -126) & -126) | (~(n < -126) & n);
	v8f r = x - nf * 0.693359375f;
	r = r - nf * -2.12194440e-4f;
	v8f p = v8_splat(1.9875691500E-4f);
	p = p * r + 1.3981999507E-3f;
	p = p * r + 8.3334519073E-3f;
	p = p * r + 4.1665795894E-2f;
	p = p * r + 1.6666665459E-1f;
	p = p * r + 5.0000001201E-1f;
	p = p * (r * r) + r + 1.0f;
	return p * (v8f)((n + 127) << 23);
}

V8_INLINE v8f v8_clamp(v8f v, float lo, float hi)
{
	v = v8_select(v < lo, v8_splat(lo), v); /* NaN stays NaN */
	return v8_select(v > hi, v8_splat(hi), v);
}

/* tanh(x) = sign(x) (1 - 2 / (e^2|x| + 1)), and its series near 0 where
 * that cancels. */
V8_INLINE v8f v8_tanh(v8f x)
{
	v8i sign = (v8i)x & (int32_t)0x80000000;
	v8f a = (v8f)((v8i)x & 0x7fffffff);
	v8f t = 1.0f - 2.0f / (v8_exp(a + a) + 1.0f);
	v8f a2 = a * a;
	v8f small = a * (1.0f + a2 * (-1.0f / 3 + a2 * (2.0f / 15 - a2 * (17.0f / 315))));
	t = v8_select(a < 0.0625f, small, t);
	return (v8f)((v8i)t | sign);
}

V8_INLINE v8f v8_abs(v8f x)
{
	return (v8f)((v8i)x & 0x7fffffff);
}

/* ln(x) for a positive normal x or +inf, Cephes' logf: x = m 2^e with m
 * in [sqrt(1/2), sqrt(2)), a degree-9 polynomial in m - 1. About 1 ulp. */
V8_INLINE v8f v8_log(v8f x)
{
	v8i bits = (v8i)x;
	v8f m = (v8f)((bits & 0x007fffff) | 0x3f000000); /* [0.5, 1) */
	v8i low = m < 0.70710678f;                       /* all ones: one octave down */
	v8f e = __builtin_convertvector(((bits >> 23) & 0xff) - 126 + low, v8f);
	m = v8_select(low, m + m, m) - 1.0f;
	v8f z = m * m;
	v8f y = v8_splat(7.0376836292E-2f);
	y = y * m - 1.1514610310E-1f;
	y = y * m + 1.1676998740E-1f;
	y = y * m - 1.2420140846E-1f;
	y = y * m + 1.4249322787E-1f;
	y = y * m - 1.6668057665E-1f;
	y = y * m + 2.0000714765E-1f;
	y = y * m - 2.4999993993E-1f;
	y = y * m + 3.3333331174E-1f;
	y = y * m * z + e * -2.12194440e-4f - 0.5f * z;
	return v8_select(x == INFINITY, x, m + y + e * 0.693359375f);
}

/* ln(1 + x) for x >= 0 (or +inf): log(u) * x / (u - 1) with u = 1 + x,
 * which cancels the rounding of u, and x itself where u rounds to 1. */
V8_INLINE v8f v8_log1p(v8f x)
{
	v8f u = 1.0f + x;
	v8f r = v8_log(u) * (x / (u - 1.0f));
	r = v8_select(u == INFINITY, u, r);
	return v8_select(u == 1.0f, x, r);
}

/* erf(x): Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7). */
V8_INLINE v8f v8_erf(v8f x)
{
	v8i sign = (v8i)x & (int32_t)0x80000000;
	v8f a = (v8f)((v8i)x & 0x7fffffff);
	v8f t = 1.0f / (1.0f + 0.3275911f * a);
	v8f y =
	    t * (0.254829592f +
	         t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
	y = 1.0f - y * v8_exp(-(a * a));
	return (v8f)((v8i)y | sign);
}

#define KACT_VECTOR_CASE(name, module_type, function, scalar, vector)                              \
	case KACT_##name:                                                                          \
		return vector;
#define KACT_SCALAR_CASE(name, module_type, function, scalar, vector)                              \
	case KACT_##name:                                                                          \
		return scalar;

/* act(v), eight lanes: the vector forms of kernels_act.h. Inlined into a
 * loop, the switch is hoisted out of it by the compiler. */
V8_INLINE v8f v8_act(struct kact act, v8f v)
{
	const float a = act.a, b = act.b;
	switch (act.kind) {
	case KACT_NONE:
		return v;
		KACT_FUSABLE(KACT_VECTOR_CASE)
		KACT_VARIANTS(KACT_VECTOR_CASE)
	}
	return v;
}

/* The scalar forms, for the last few elements of a row. */
V8_INLINE float k_act1(struct kact act, float v)
{
	const float a = act.a, b = act.b;
	switch (act.kind) {
	case KACT_NONE:
		return v;
		KACT_FUSABLE(KACT_SCALAR_CASE)
		KACT_VARIANTS(KACT_SCALAR_CASE)
	}
	return v;
}

#undef KACT_VECTOR_CASE
#undef KACT_SCALAR_CASE

#endif
