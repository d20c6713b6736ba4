/* gemm.c - graft's one matrix interface: the only file that knows which
 * library computes the products.
 *
 * With oneDNN (HAVE_DNNL, the default where configure finds it) products
 * run in dnnl_sgemm, the routine PyTorch's CPU build uses; otherwise in
 * OpenBLAS's cblas_sgemm. Either library runs single-threaded in each of
 * graft's threads: a large product is split into blocks of rows or
 * columns that graft's pool (kpar_for) shares out, so one set of threads
 * does all the work and none spins against another. */
#include "config.h"
#include "exec/kernels.h"

#include <stdio.h>

#ifdef HAVE_DNNL
#include <dnnl.h>
#include <omp.h>
#else
#include <cblas.h>
#endif

const char *kernels_matrix_library(void)
{
#ifdef HAVE_DNNL
	static char name[48];
	if (!name[0]) {
		const dnnl_version_t *v = dnnl_version();
		snprintf(name, sizeof name, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
	}
	return name;
#else
	return openblas_get_config(); /* its version and the kernels it picked */
#endif
}

int kernels_matrix_default_threads(void)
{
	static int n; /* read once, before kmatrix_thread_serial changes it */
	if (!n) {
#ifdef HAVE_DNNL
		n = omp_get_max_threads(); /* the cores, or OMP_NUM_THREADS */
#else
		n = openblas_get_num_threads(); /* the cores, or OPENBLAS_NUM_THREADS */
#endif
		n = n > 0 ? n : 1;
	}
	return n;
}

void kmatrix_thread_serial(void)
{
	kernels_matrix_default_threads();
#ifdef HAVE_DNNL
	/* oneDNN sizes its parallel regions by the calling thread's OpenMP
	 * setting, which is per thread. */
	omp_set_num_threads(1);
#else
	openblas_set_num_threads(1); /* process-wide */
#endif
}

void kgemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
#ifdef HAVE_DNNL
	static __thread bool serial; /* kmatrix_thread_serial done in this thread */
	if (!serial) {
		kmatrix_thread_serial();
		serial = true;
	}
	dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
#else
	if (n == 1 && beta == 0.0f) { /* one column: the matrix-vector routine */
		cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, (int)(ta ? k : m),
		            (int)(ta ? m : k), 1.0f, a, (int)lda, b, tb ? 1 : (int)ldb, 0.0f, c, (int)ldc);
		return;
	}
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
	            (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
#endif
}

struct gemm_job {
	bool ta, tb, split_n;
	int64_t m, n, k, lda, ldb, ldc;
	const float *a, *b;
	float beta;
	float *c;
};

#define GEMM_UNIT 16
#define GEMM_MIN_UNITS 8

static void gemm_chunk(void *ctx, int64_t ub, int64_t ue)
{
	const struct gemm_job *g = ctx;
	int64_t lo = ub * GEMM_UNIT, hi = ue * GEMM_UNIT;
	if (g->split_n) {
		hi = hi < g->n ? hi : g->n;
		const float *b = g->tb ? g->b + lo * g->ldb : g->b + lo;
		kgemm_serial(g->ta, g->tb, g->m, hi - lo, g->k, g->a, g->lda, b, g->ldb, g->beta,
		             g->c + lo, g->ldc);
	} else {
		hi = hi < g->m ? hi : g->m;
		const float *a = g->ta ? g->a + lo : g->a + lo * g->lda;
		kgemm_serial(g->ta, g->tb, hi - lo, g->n, g->k, a, g->lda, g->b, g->ldb, g->beta,
		             g->c + lo * g->ldc, g->ldc);
	}
}

void kgemm_ex(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
	int threads = kernels_threads();
	if (threads == 1 || m * n * k < 32 * 32 * 64 || (m < 2 * GEMM_UNIT && n < 2 * GEMM_UNIT)) {
		kgemm_serial(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
		return;
	}
	/* Split the larger side into two blocks per thread (taken in turn, so
	 * that a thread the system delays does not hold the others up), each
	 * at least GEMM_MIN_UNITS wide. */
	struct gemm_job g = {ta, tb, n >= m, m, n, k, lda, ldb, ldc, a, b, beta, c};
	int64_t units = ((g.split_n ? n : m) + GEMM_UNIT - 1) / GEMM_UNIT;
	int64_t grain = (units + 2 * threads - 1) / (2 * threads);
	kpar_for(units, grain < GEMM_MIN_UNITS ? GEMM_MIN_UNITS : grain, gemm_chunk, &g);
}

void kgemm(bool trans_b, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
           const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
	kgemm_ex(false, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

struct gemv_job {
	int64_t k;
	const float *w, *x;
	float *y;
};

static void gemv_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct gemv_job *g = ctx;
	kgemm_serial(false, false, e - b, 1, g->k, g->w + b * g->k, g->k, g->x, 1, 0.0f, g->y + b, 1);
}

void kgemv(int64_t n, int64_t k, const float *w, const float *x, float *y)
{
	struct gemv_job g = {k, w, x, y};
	int threads = kernels_threads();
	kpar_for(n, n * k < (1 << 16) ? n : (n + threads - 1) / threads, gemv_chunk, &g);
}
