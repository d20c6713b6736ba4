/* kernels_act.h - the elementwise activations the executor fuses into the
 * op producing their input, one line each.
 *
 *   X(NAME, module type, function, scalar form, vector form)
 *
 * From each line come the enum value KACT_NAME (kernels.h), the scalar case
 * of k_act1 and the vector case of v8_act (kvec.h), and the kernel rows of
 * the module type and the function (kernels_act.c). Both forms compute the
 * activation of `v`: a float in the scalar form, a v8f (kvec.h's helpers)
 * in the vector one. The module type and the function are registry entries
 * (registry_act.c's ACTIVATIONS list). */
#ifndef GRAFT_KERNELS_ACT_H
#define GRAFT_KERNELS_ACT_H

/* clang-format off */
#define KACT_FUSABLE(X)                                                                            \
	X(RELU, "ReLU", "relu", v < 0 ? 0 : v, v8_select(v < 0.0f, v8_splat(0), v))                \
	X(RELU6, "ReLU6", "relu6", v < 0 ? 0 : v > 6 ? 6 : v, v8_clamp(v, 0, 6))                   \
	X(SILU, "SiLU", "silu", v / (1 + expf(-v)), v / (1.0f + v8_exp(-v)))                        \
	X(HARDSWISH, "Hardswish", "hardswish", v * (v + 3 < 0 ? 0 : v + 3 > 6 ? 6 : v + 3) / 6,     \
	  v * v8_clamp(v + 3.0f, 0, 6) / 6.0f)                                                     \
	X(HARDSIGMOID, "Hardsigmoid", "hardsigmoid", (v + 3 < 0 ? 0 : v + 3 > 6 ? 6 : v + 3) / 6,   \
	  v8_clamp(v + 3.0f, 0, 6) / 6.0f)                                                         \
	X(SIGMOID, "Sigmoid", "sigmoid", 1 / (1 + expf(-v)), 1.0f / (1.0f + v8_exp(-v)))            \
	X(TANH, "Tanh", "tanh", tanhf(v), v8_tanh(v))                                              \
	X(GELU, "GELU", "gelu", 0.5f * v * (1 + erff(v * (float)M_SQRT1_2)),                         \
	  0.5f * v * (1.0f + v8_erf(v * (float)M_SQRT1_2)))

/* Variants a kernel's prepare picks from an attribute (GELU's
 * approximate='tanh'): an enum value and both forms, no kernel row. The
 * constant is sqrt(2 / pi). */
#define KACT_VARIANTS(X)                                                                           \
	X(GELU_TANH, NULL, NULL,                                                                   \
	  0.5f * v * (1 + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v))),              \
	  0.5f * v * (1.0f + v8_tanh(0.7978845608028654f * (v + 0.044715f * v * v * v))))
/* clang-format on */

#endif
