/* kernels_act.h - the elementwise activations the executor fuses into the
 * op producing their input, one line each.
 *
 *   X(NAME, module type, function, scalar form, vector form)
 *
 * From each line come the enum value KACT_NAME (kernels.h), the scalar case
 * of k_act1 and the vector case of v8_act (kvec.h), and the kernel rows of
 * the module type and the function (kernels_act.c). Both forms compute the
 * activation of `v`: a float in the scalar form, a v8f (kvec.h's helpers)
 * in the vector one. They may use the floats `a` and `b`: the first and
 * second float attributes of the module type's registry entry (ELU's
 * alpha, Hardtanh's min_val and max_val), which kernels_act.c reads when
 * the plan is built, from the module's attributes or from the function's
 * arguments of the same names (positions 1 and 2), with the registry's
 * defaults. The module type and the function are registry entries
 * (registry_act.c's ACTIVATIONS list).
 *
 * The formulas are PyTorch's CPU kernels' (1.13), in float32: ELU's
 * exp(x) - 1 rather than expm1, Softshrink's x * 0 that keeps a NaN. */
#ifndef GRAFT_KERNELS_ACT_H
#define GRAFT_KERNELS_ACT_H

/* SELU's constants: scale, and scale * alpha (PyTorch computes the product
 * in double). */
#define KACT_SELU_SCALE       1.0507009873554804934193349852946f
#define KACT_SELU_SCALE_ALPHA 1.7580993408473768599402175208123f

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
	  0.5f * v * (1.0f + v8_erf(v * (float)M_SQRT1_2)))                                        \
	X(LEAKY_RELU, "LeakyReLU", "leaky_relu", v > 0 ? v : v * a,                                 \
	  v8_select(v > 0.0f, v, v * a))                                                           \
	X(RRELU, "RReLU", "rrelu", v > 0 ? v : v * ((a + b) / 2),                                   \
	  v8_select(v > 0.0f, v, v * ((a + b) / 2)))                                               \
	X(ELU, "ELU", "elu", v > 0 ? v : (expf(v) - 1) * a,                                         \
	  v8_select(v > 0.0f, v, (v8_exp(v) - 1.0f) * a))                                          \
	X(CELU, "CELU", "celu", v > 0 ? v : (expf(v * (1 / a)) - 1) * a,                            \
	  v8_select(v > 0.0f, v, (v8_exp(v * (1 / a)) - 1.0f) * a))                                \
	X(SELU, "SELU", "selu",                                                                    \
	  v > 0 ? v * KACT_SELU_SCALE : (expf(v) - 1) * KACT_SELU_SCALE_ALPHA,                     \
	  v8_select(v > 0.0f, v * KACT_SELU_SCALE, (v8_exp(v) - 1.0f) * KACT_SELU_SCALE_ALPHA))     \
	X(MISH, "Mish", "mish", v * tanhf(log1pf(expf(v))), v * v8_tanh(v8_log1p(v8_exp(v))))      \
	X(SOFTPLUS, "Softplus", "softplus", v * a > b ? v : log1pf(expf(v * a)) / a,                \
	  v8_select(v * a > b, v, v8_log1p(v8_exp(v * a)) / a))                                    \
	X(LOGSIGMOID, "LogSigmoid", "logsigmoid", (v < 0 ? v : 0) - log1pf(expf(-fabsf(v))),        \
	  v8_select(v < 0.0f, v, v8_splat(0)) - v8_log1p(v8_exp(-v8_abs(v))))                      \
	X(SOFTSIGN, "Softsign", "softsign", v / (fabsf(v) + 1), v / (v8_abs(v) + 1.0f))            \
	X(TANHSHRINK, "Tanhshrink", "tanhshrink", v - tanhf(v), v - v8_tanh(v))                    \
	X(SOFTSHRINK, "Softshrink", "softshrink", v > a ? v - a : v < -a ? v + a : v * 0,           \
	  v8_select(v > a, v - a, v8_select(v < -a, v + a, v * 0.0f)))                             \
	X(HARDSHRINK, "Hardshrink", "hardshrink", v >= -a && v <= a ? 0 : v,                        \
	  v8_select((v >= -a) & (v <= a), v8_splat(0), v))                                         \
	X(HARDTANH, "Hardtanh", "hardtanh", v < a ? a : v > b ? b : v, v8_clamp(v, a, b))          \
	X(THRESHOLD, "Threshold", "threshold", v <= a ? b : v, v8_select(v <= a, v8_splat(b), v))

/* Variants a kernel's prepare picks from an attribute (GELU's
 * approximate='tanh'): an enum value and both forms, no kernel row. The
 * constant is sqrt(2 / pi). */
#define KACT_VARIANTS(X)                                                                           \
	X(GELU_TANH, NULL, NULL,                                                                   \
	  0.5f * v * (1 + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v))),              \
	  0.5f * v * (1.0f + v8_tanh(0.7978845608028654f * (v + 0.044715f * v * v * v))))
/* clang-format on */

#endif
