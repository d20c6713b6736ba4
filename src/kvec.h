/* kvec.h - eight floats at a time, for the kernel files.
 *
 * GCC's vector extensions: in the x86-64-v3 clones of KERNEL_HOT functions
 * they become AVX instructions, elsewhere pairs of SSE ones (or whatever
 * the target has). Loads and stores go through memcpy (unaligned). The
 * helpers are always inlined, so the ABI of passing vectors by value, which
 * GCC warns about for targets without AVX, never comes into play. */
#ifndef GRAFT_KVEC_H
#define GRAFT_KVEC_H

#include <stdint.h>
#include <string.h>

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

/* max(a, b) where a NaN in b wins (PyTorch's max pooling propagates NaN). */
V8_INLINE v8f v8_max_nan(v8f a, v8f b)
{
	return v8_select((b > a) | (b != b), b, a);
}

#endif
