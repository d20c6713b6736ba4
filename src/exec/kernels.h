/* kernels.h - the numeric kernels behind `graft run`, one per module type
 * and function.
 *
 * The executor (exec.c) turns a model into a list of operations, each a
 * `struct kop`: the registry's op_call with real tensors in its arguments
 * and output, plus what the executor decided around it (a BatchNorm folded
 * into a convolution's output, an activation fused into its producer). A
 * kernel computes the output of one operation. Kernels are found by op name
 * in one table (kernels.c), not in the registry's op_def: the registry is
 * the shape-level description every part of graft shares, and keeping the
 * kernels out of it keeps BLAS out of everything that is not a kernel file
 * (doc/executor.md says more).
 *
 * Tensors a kernel sees are float32 and contiguous, except where its flags
 * say it takes any dtype (KF_ANY_DTYPE: it moves bytes, or reads and
 * writes elements through kload and kstore), reads an integer index
 * tensor or a bool mask. Kernels never allocate in their run function: scratch memory is
 * sized by prepare and handed over by the executor. */
#ifndef GRAFT_KERNELS_H
#define GRAFT_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/registry.h"
#include "exec/kernels_act.h"

/* An activation applied elementwise to a kernel's output: KACT_NONE or one
 * of kernels_act.h's lines, with the values of its float attributes (ELU's
 * alpha in a; zeros for the ones that have none). */
#define KACT_ENUM(name, module_type, function, scalar, vector) KACT_##name,
enum kact_kind { KACT_NONE, KACT_FUSABLE(KACT_ENUM) KACT_VARIANTS(KACT_ENUM) };
#undef KACT_ENUM
struct kact {
	enum kact_kind kind;
	float a, b;
};

/* Kernel flags. */
enum {
	KF_ALIAS = 1 << 0,       /* output 0 is input 0 with another shape: nothing runs */
	KF_INPLACE = 1 << 1,     /* the output may overwrite input 0 (same size) */
	KF_INPLACE_ANY = 1 << 2, /* the output may overwrite any tensor argument of its size */
	KF_ACT = 1 << 3,         /* applies op->act to its output */
	KF_BN = 1 << 4,          /* applies op->post_scale/post_shift per channel (dim 1) */
	KF_ANY_DTYPE = 1 << 5,   /* takes tensors of any dtype (layout kernels, kload/kstore) */
	KF_INT_INDEX = 1 << 6,   /* reads integer index tensors among float ones */
	KF_BOOL_MASK = 1 << 7,   /* reads bool (or uint8) mask tensors among float ones */
	KF_CAST = 1 << 8,        /* with KF_ALIAS: a dtype cast, run when the dtype changes */
};
/* An activation kernel's flags carry the activation it computes, which the
 * executor fuses into the op producing its input (KF_ACT):
 * KF_IS_ACT(KACT_RELU) on the row, KF_ACT_OF(flags) to read it back
 * (KACT_NONE for every other kernel). */
#define KF_IS_ACT(act)   ((unsigned)(act) << 16)
#define KF_ACT_OF(flags) ((enum kact_kind)(((flags) >> 16) & 0xff))

struct kop;

struct kernel {
	const char *name;  /* the op_def name: "Conv2d", "add" */
	enum op_kind kind; /* OP_MODULE or OP_FUNCTION */
	unsigned flags;
	/* Checks what the shape rule does not (supported variants), reads
	 * hyper-parameters, fills op->state and op->scratch_bytes. Runs once,
	 * when the plan is built, with every tensor at its final address: it
	 * may keep pointers, and read the values of weights and constants, but
	 * not of activations (computed later). NULL: nothing to prepare. 0, or
	 * -1 with e set. */
	int (*prepare)(struct kop *op, struct error *e);
	/* Computes op->call.out from op->call.args. 0, or -1 with e set (only
	 * for data-dependent failures, such as an index out of range). A
	 * kernel whose output size depends on the data (its shape rule marks
	 * a bound) writes the exact dims into its output tensors' shapes; the
	 * bound is read from its arguments, since the output's shape may
	 * hold the last run's sizes. */
	int (*run)(struct kop *op, struct error *e);
};

/* One operation of a plan. */
struct kop {
	struct op_call call; /* def, module, args, kwargs, out */
	const struct kernel *kernel;
	/* Module kernels: the module's parameters and buffers in module order,
	 * floating ones as float32, others in their dtype (storage NULL for
	 * none). */
	const struct tensor *params;
	int nparams;
	/* Set by the executor before prepare: */
	struct kact act;         /* KF_ACT: applied to the output */
	const float *post_scale; /* KF_BN: out[c] = out[c] * scale[c] + shift[c] */
	const float *post_shift; /*   (before act); NULL when there is none */
	/* Owned by the kernel: */
	void *state;          /* freed with free() by the executor */
	size_t scratch_bytes; /* scratch the run needs */
	/* Set by the executor before run: */
	void *scratch; /* scratch_bytes bytes, 64-byte aligned */
};

/* Every kernel: the family tables (kernels_conv, ...), NULL-terminated,
 * each ending with a row whose name is NULL. */
extern const struct kernel *const kernels_tables[];

/* The kernel for an op, or NULL. */
const struct kernel *kernels_find(const char *name, enum op_kind kind);

/* The activation an op computes when it is nothing but an elementwise
 * activation of its input (ReLU, F.silu, GELU(approximate='tanh'),
 * ELU(alpha=0.5), ...), else one of kind KACT_NONE (also when a function's
 * float argument is not a number). */
struct kact kernels_act_of(const struct kop *op);

/* A BatchNorm's eval-mode transform as a per-channel affine: scale[c] and
 * shift[c] (num_features floats each, malloc'd, the caller frees). -1 with
 * e set when the module is not a BatchNorm in eval with running stats. */
int kernels_bn_affine(const struct kop *bn, float **scale, float **shift, struct error *e);

/* Threads for the kernels: graft's own loops and the matrix library's
 * products. n <= 0 keeps the default (the library's, usually the number
 * of cores). */
void kernels_set_threads(int n);
int kernels_threads(void);

/* ---- for kernel files ---- */

/* Marks a function with a hot loop: compiled twice, for x86-64-v3 (AVX2
 * and FMA) and the baseline, the one for the running CPU picked at load
 * time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define KERNEL_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KERNEL_HOT
#endif

/* The module's own tensor `name` in float32 (or its dtype), or NULL. */
const struct tensor *kop_param(const struct kop *op, const char *name);
/* Data pointers. */
static inline float *kt_f32(const struct tensor *t)
{
	return (float *)tensor_data(t);
}
/* The tensor argument at pos/kw, or NULL when absent or None. */
const struct tensor *kop_tensor(const struct kop *op, int pos, const char *kw);
/* The output tensor: c->out itself, or item i of a tuple output. */
struct tensor *kop_out(struct kop *op, int i);
/* The input tensor ("input", or "self" for methods), or NULL. */
const struct tensor *kop_input(const struct kop *op);

/* Applies act to n floats in place: kact_apply over the threads,
 * kact_row in the calling thread (inside a kpar_for chunk). */
void kact_apply(struct kact act, float *x, int64_t n);
void kact_row(struct kact act, float *x, int64_t n);
/* x[i] = act(x[i] * s + t) (KAFFINE_SCALE), act(x[i] + t) (KAFFINE_SHIFT) or
 * act(x[i]) (KAFFINE_NONE) over n floats, in the calling thread. */
enum { KAFFINE_NONE, KAFFINE_SHIFT, KAFFINE_SCALE };
void krow_affine_act(float *x, int64_t n, float s, float t, int mode, struct kact act);
/* out[c*inner + i] = act(out[...] * scale[c] + shift[c]) over channels c
 * (scale or shift NULL: 1 or 0), for `outer` blocks of channels*inner. */
void kact_epilogue(float *x, int64_t outer, int64_t channels, int64_t inner, const float *scale,
                   const float *shift, struct kact act);

/* Runs fn(ctx, begin, end) over [0, n) split into chunks across the
 * kernels' threads (inline when n is small or one thread is set). `grain`
 * is the smallest chunk worth a thread. */
void kpar_for(int64_t n, int64_t grain, void (*fn)(void *ctx, int64_t begin, int64_t end),
              void *ctx);

/* Strided copy: copies the n-dimensional block `size` from src (element
 * strides sstride) to dst (element strides dstride), elements of `elem`
 * bytes. Used by every layout kernel. */
void kcopy_strided(void *dst, const int64_t *dstride, const void *src, const int64_t *sstride,
                   const int64_t *size, int ndim, size_t elem);
/* Contiguous strides of a shape (elements). */
void kstrides(const struct shape *s, int64_t *strides);

/* Kernel tables of each family, collected by kernels.c (kernels_tables). */
extern const struct kernel kernels_conv[];
extern const struct kernel kernels_linear[];
extern const struct kernel kernels_norm[];
extern const struct kernel kernels_act[];
extern const struct kernel kernels_pool[];
extern const struct kernel kernels_layout[];
extern const struct kernel kernels_attention[];
extern const struct kernel kernels_rnn[];
extern const struct kernel kernels_resample[];
extern const struct kernel kernels_embed[];
extern const struct kernel kernels_math[];
extern const struct kernel kernels_reduce[];
extern const struct kernel kernels_rearrange[];
extern const struct kernel kernels_boxes[];
extern const struct kernel kernels_select[];
extern const struct kernel kernels_detection[];
extern const struct kernel kernels_onestage[];
/* Each table ends with an entry whose name is NULL. */

/* ---- the matrix interface (gemm.c) ---- */

/* C[m, n] = op(A) op(B) + beta C, row-major with leading dimensions, A
 * [m, k] ([k, m] when ta), B [k, n] ([n, k] when tb), on the matrix
 * library: a large product is split into blocks of rows or columns shared
 * among the kernel threads, each block one single-threaded library call
 * (the library's own threads stay off, so that one pool of threads does
 * all the work). kgemm is kgemm_ex without ta. */
void kgemm_ex(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
void kgemm(bool trans_b, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
           const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* kgemm_ex's product on the library in the calling thread only: for
 * products inside a kpar_for chunk that are too large for kgemm_small
 * (attention heads, windows). */
void kgemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* y[n] = W[n, k] x[k], the rows of W shared among the kernel threads. */
void kgemv(int64_t n, int64_t k, const float *w, const float *x, float *y);
/* The library's name and version ("oneDNN 2.6.3"; OpenBLAS adds the
 * kernels it picked: "OpenBLAS 0.3.21 ... Haswell ..."). */
const char *kernels_matrix_library(void);
/* The library's default thread count (the cores, or the library's
 * environment variable), read once. */
int kernels_matrix_default_threads(void);
/* Makes the library single-threaded in the calling thread (process-wide
 * for OpenBLAS); kgemm_serial calls it in each thread before its first
 * product. */
void kmatrix_thread_serial(void);
/* C[m, n] = op(A) op(B) with graft's own loop, in the calling thread: for
 * small products inside a kpar_for chunk. A is [m, k] ([k, m] when ta),
 * B [k, n] ([n, k] when tb). */
void kgemm_small(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                 const float *b, int64_t ldb, float *c, int64_t ldc);
/* Element i of data of dtype dt as a double, and back: floats rounded to
 * the dtype, integers truncated toward zero (saturating, NaN as 0), bools
 * as v != 0. */
double kload(const void *data, enum dtype dt, int64_t i);
void kstore(void *data, enum dtype dt, int64_t i, double v);
/* The elementwise kernels of kernels_math.c, for kernels that compute an
 * elementwise form of their function (max(a, b)): prepare picks the
 * operation by op->kernel->name. kcast_run converts input 0 into the
 * output's dtype (the KF_CAST kernels). */
int kelem_prepare(struct kop *op, struct error *e);
int kelem_run(struct kop *op, struct error *e);
int kcast_run(struct kop *op, struct error *e);
/* The reductions of kernels_reduce.c, by op->kernel->name (sum, max, var,
 * ...), on any dtype: for kernels that hand such inputs over. */
int kreduce_prepare(struct kop *op, struct error *e);
int kreduce_run(struct kop *op, struct error *e);
/* Sorts idx[n] stably (a merge sort; tmp holds n): b goes before a only
 * when before(ctx, b, a) (kernels_select.c). */
void ksort_stable(int64_t *idx, int64_t *tmp, int64_t n,
                  bool (*before)(const void *ctx, int64_t b, int64_t a), const void *ctx);
/* Softmax of n rows of length len in place (rows `stride` apart). */
void ksoftmax_rows(float *x, int64_t n, int64_t len, int64_t stride);

#endif
