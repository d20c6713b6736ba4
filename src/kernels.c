/* kernels.c - the kernel table, shared helpers for kernel files, fused
 * activations and graft's own thread pool.
 *
 * Matrix products run in OpenBLAS, which keeps its own threads; the loops
 * graft writes itself (depthwise convolution, im2col, elementwise work)
 * share the work through kpar_for, over a small pool of threads that spin
 * briefly and then sleep between jobs. */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* ---- the table ---- */

static const struct kernel *const kernel_tables[] = {
	kernels_conv, kernels_linear, kernels_norm,      kernels_act,
	kernels_pool, kernels_layout, kernels_attention,
};

const struct kernel *kernels_find(const char *name, enum op_kind kind)
{
	for (size_t t = 0; t < sizeof kernel_tables / sizeof *kernel_tables; t++)
		for (const struct kernel *k = kernel_tables[t]; k->name; k++)
			if (k->kind == kind && strcmp(k->name, name) == 0)
				return k;
	return NULL;
}

/* ---- argument helpers ---- */

const struct tensor *kop_param(const struct kop *op, const char *name)
{
	const struct module *m = op->call.module;
	if (!m || !op->params)
		return NULL;
	for (int i = 0; i < m->nparams && i < op->nparams; i++)
		if (strcmp(m->params[i].name, name) == 0)
			return op->params[i].storage ? &op->params[i] : NULL;
	return NULL;
}

const struct tensor *kop_tensor(const struct kop *op, int pos, const char *kw)
{
	const struct value *v = op_arg(&op->call, pos, kw);
	return v && v->kind == VAL_TENSOR ? &v->u.tensor.t : NULL;
}

struct tensor *kop_out(struct kop *op, int i)
{
	struct value *v = &op->call.out;
	if (v->kind == VAL_LIST)
		v = i < v->u.list.n ? &v->u.list.items[i] : NULL;
	else if (i != 0)
		v = NULL;
	return v && v->kind == VAL_TENSOR ? &v->u.tensor.t : NULL;
}

const struct tensor *kop_input(const struct kop *op)
{
	const struct tensor *t = kop_tensor(op, 0, "input");
	return t ? t : kop_tensor(op, -1, "self");
}

void kstrides(const struct shape *s, int64_t *strides)
{
	int64_t st = 1;
	for (int i = s->ndim - 1; i >= 0; i--) {
		strides[i] = st;
		st *= s->dim[i];
	}
}

/* ---- strided copies ---- */

static void copy_inner(char *dst, int64_t ds, const char *src, int64_t ss, int64_t n, size_t elem)
{
	if (ds == 1 && ss == 1) {
		memcpy(dst, src, (size_t)n * elem);
		return;
	}
	switch (elem) {
	case 4: {
		float *d = (float *)(void *)dst;
		const float *s = (const float *)(const void *)src;
		for (int64_t i = 0; i < n; i++)
			d[i * ds] = s[i * ss];
		return;
	}
	case 8: {
		int64_t *d = (int64_t *)(void *)dst;
		const int64_t *s = (const int64_t *)(const void *)src;
		for (int64_t i = 0; i < n; i++)
			d[i * ds] = s[i * ss];
		return;
	}
	default:
		for (int64_t i = 0; i < n; i++)
			memcpy(dst + (size_t)(i * ds) * elem, src + (size_t)(i * ss) * elem, elem);
	}
}

void kcopy_strided(void *dst, const int64_t *dstride, const void *src, const int64_t *sstride,
		   const int64_t *size, int ndim, size_t elem)
{
	if (ndim == 0) {
		memcpy(dst, src, elem);
		return;
	}
	for (int i = 0; i < ndim; i++)
		if (size[i] == 0)
			return;
	/* An odometer over all dims but the last. */
	int64_t idx[SHAPE_MAX_DIMS] = {0};
	int last = ndim - 1;
	char *d = dst;
	const char *s = src;
	for (;;) {
		copy_inner(d, dstride[last], s, sstride[last], size[last], elem);
		int k = last - 1;
		for (; k >= 0; k--) {
			d += (size_t)dstride[k] * elem;
			s += (size_t)sstride[k] * elem;
			if (++idx[k] < size[k])
				break;
			d -= (size_t)(dstride[k] * size[k]) * elem;
			s -= (size_t)(sstride[k] * size[k]) * elem;
			idx[k] = 0;
		}
		if (k < 0)
			return;
	}
}

/* ---- activations ---- */

static inline float act1(enum kact act, float v)
{
	switch (act) {
	case KACT_NONE:
		return v;
	case KACT_RELU:
		return v > 0 ? v : 0;
	case KACT_RELU6:
		return v < 0 ? 0 : v > 6 ? 6 : v;
	case KACT_SILU:
		return v / (1 + expf(-v));
	case KACT_HARDSWISH:
		return v <= -3 ? 0 : v >= 3 ? v : v * (v + 3) / 6;
	case KACT_HARDSIGMOID:
		return v <= -3 ? 0 : v >= 3 ? 1 : v / 6 + 0.5f;
	case KACT_SIGMOID:
		return 1 / (1 + expf(-v));
	case KACT_TANH:
		return tanhf(v);
	case KACT_GELU:
		return 0.5f * v * (1 + erff(v * (float)M_SQRT1_2));
	case KACT_GELU_TANH: {
		const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
		return 0.5f * v * (1 + tanhf(k * (v + 0.044715f * v * v * v)));
	}
	}
	return v;
}

struct act_job {
	enum kact act;
	float *x;
};

static void act_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct act_job *j = ctx;
	float *x = j->x;
	switch (j->act) {
	case KACT_NONE:
		break;
	case KACT_RELU:
		for (int64_t i = b; i < e; i++)
			x[i] = x[i] > 0 ? x[i] : 0;
		break;
	case KACT_RELU6:
		for (int64_t i = b; i < e; i++)
			x[i] = x[i] < 0 ? 0 : x[i] > 6 ? 6 : x[i];
		break;
	default:
		for (int64_t i = b; i < e; i++)
			x[i] = act1(j->act, x[i]);
	}
}

void kact_apply(enum kact act, float *x, int64_t n)
{
	if (act == KACT_NONE)
		return;
	struct act_job j = {act, x};
	kpar_for(n, 1 << 14, act_chunk, &j);
}

struct epi_job {
	float *x;
	int64_t channels, inner;
	const float *scale, *shift;
	enum kact act;
};

/* Rows are (outer, channel) pairs. */
static void epi_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct epi_job *j = ctx;
	for (int64_t r = b; r < e; r++) {
		int64_t c = r % j->channels;
		float *p = j->x + r * j->inner;
		float s = j->scale ? j->scale[c] : 1, t = j->shift ? j->shift[c] : 0;
		int64_t n = j->inner;
		if (j->scale)
			for (int64_t i = 0; i < n; i++)
				p[i] = p[i] * s + t;
		else if (j->shift)
			for (int64_t i = 0; i < n; i++)
				p[i] += t;
		switch (j->act) {
		case KACT_NONE:
			break;
		case KACT_RELU:
			for (int64_t i = 0; i < n; i++)
				p[i] = p[i] > 0 ? p[i] : 0;
			break;
		case KACT_RELU6:
			for (int64_t i = 0; i < n; i++)
				p[i] = p[i] < 0 ? 0 : p[i] > 6 ? 6 : p[i];
			break;
		default:
			for (int64_t i = 0; i < n; i++)
				p[i] = act1(j->act, p[i]);
		}
	}
}

void kact_epilogue(float *x, int64_t outer, int64_t channels, int64_t inner, const float *scale,
		   const float *shift, enum kact act)
{
	if (!scale && !shift && act == KACT_NONE)
		return;
	if (inner == 1 && outer > 1 && !scale && !shift) {
		kact_apply(act, x, outer * channels);
		return;
	}
	struct epi_job j = {x, channels, inner, scale, shift, act};
	int64_t rows = outer * channels;
	int64_t grain = inner >= (1 << 14) ? 1 : (1 << 14) / (inner ? inner : 1);
	kpar_for(rows, grain, epi_chunk, &j);
}

/* ---- threads ---- */

#define POOL_MAX 64
#define POOL_SPIN 4000

static struct {
	int nthreads; /* 0 until set: then the caller plus nthreads - 1 workers */
	int nworkers;
	pthread_t workers[POOL_MAX];
	unsigned start_gen[POOL_MAX]; /* the job count when each worker started */
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned gen;    /* bumped for each job */
	int running;     /* workers still on the current job */
	int64_t n, chunk;
	int nchunks;
	int next;        /* next chunk to take */
	int active;      /* workers that take part in the current job */
	void (*fn)(void *ctx, int64_t begin, int64_t end);
	void *ctx;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
	  .go = PTHREAD_COND_INITIALIZER,
	  .done = PTHREAD_COND_INITIALIZER};

static void pool_take_chunks(void)
{
	for (;;) {
		int c = __atomic_fetch_add(&pool.next, 1, __ATOMIC_ACQ_REL);
		if (c >= pool.nchunks)
			return;
		int64_t b = c * pool.chunk, e = b + pool.chunk;
		pool.fn(pool.ctx, b, e < pool.n ? e : pool.n);
	}
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *pool_worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	unsigned seen = pool.start_gen[id];
	for (;;) {
		/* Spin a little: jobs come in quick succession during a forward. */
		for (int i = 0; i < POOL_SPIN; i++) {
			if (__atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE) != seen)
				break;
			cpu_relax();
		}
		pthread_mutex_lock(&pool.mu);
		while (pool.gen == seen)
			pthread_cond_wait(&pool.go, &pool.mu);
		seen = pool.gen;
		bool take = id < pool.active;
		pthread_mutex_unlock(&pool.mu);
		if (take)
			pool_take_chunks();
		pthread_mutex_lock(&pool.mu);
		if (--pool.running == 0)
			pthread_cond_signal(&pool.done);
		pthread_mutex_unlock(&pool.mu);
	}
	return NULL;
}

static int default_threads(void)
{
	int n = openblas_get_num_threads();
	return n > 0 ? n : 1;
}

void kernels_set_threads(int n)
{
	if (n <= 0)
		n = default_threads();
	if (n > POOL_MAX)
		n = POOL_MAX;
	openblas_set_num_threads(n);
	pool.nthreads = n;
	/* Workers are started on demand and kept: a smaller count leaves the
	 * extra ones asleep. */
	while (pool.nworkers < n - 1) {
		pool.start_gen[pool.nworkers] = pool.gen;
		if (pthread_create(&pool.workers[pool.nworkers], NULL, pool_worker,
				   (void *)(intptr_t)pool.nworkers) != 0)
			break;
		pthread_detach(pool.workers[pool.nworkers]);
		pool.nworkers++;
	}
}

int kernels_threads(void)
{
	if (!pool.nthreads)
		kernels_set_threads(0);
	return pool.nthreads;
}

void kpar_for(int64_t n, int64_t grain, void (*fn)(void *ctx, int64_t begin, int64_t end),
	      void *ctx)
{
	if (n <= 0)
		return;
	int threads = kernels_threads();
	if (threads > pool.nworkers + 1)
		threads = pool.nworkers + 1;
	if (grain < 1)
		grain = 1;
	if (threads <= 1 || n < 2 * grain) {
		fn(ctx, 0, n);
		return;
	}
	/* A few chunks per thread, each at least `grain`. */
	int64_t nchunks = n / grain;
	if (nchunks > 4 * threads)
		nchunks = 4 * threads;
	int64_t chunk = (n + nchunks - 1) / nchunks;
	pthread_mutex_lock(&pool.mu);
	pool.fn = fn;
	pool.ctx = ctx;
	pool.n = n;
	pool.chunk = chunk;
	pool.nchunks = (int)((n + chunk - 1) / chunk);
	pool.next = 0;
	/* Every worker wakes and counts itself out; only the first
	 * threads - 1 take chunks. */
	pool.active = threads - 1;
	pool.running = pool.nworkers;
	__atomic_add_fetch(&pool.gen, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	pool_take_chunks();
	pthread_mutex_lock(&pool.mu);
	while (pool.running > 0)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
}
