/* kernels.c - the kernel table, shared helpers for kernel files, fused
 * activations and graft's own thread pool.
 *
 * Matrix products (gemm.c) and the loops graft writes itself (depthwise
 * convolution, im2col, elementwise work) share the work through kpar_for,
 * over a small pool of threads that spin briefly and then sleep between
 * jobs; the matrix library runs single-threaded in each of them. */
#include "exec/kernels.h"

#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

/* ---- the table ---- */

const struct kernel *const kernels_tables[] = {
    kernels_conv,      kernels_linear, kernels_norm,      kernels_act,
    kernels_pool,      kernels_layout, kernels_attention, kernels_rnn,
    kernels_resample,  kernels_embed,  kernels_math,      kernels_reduce,
    kernels_rearrange, kernels_boxes,  kernels_select, kernels_detection, kernels_onestage,
    NULL,
};

const struct kernel *kernels_find(const char *name, enum op_kind kind)
{
	for (const struct kernel *const *t = kernels_tables; *t; t++)
		for (const struct kernel *k = *t; k->name; k++)
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

#include "exec/kvec.h"

KERNEL_HOT
void krow_affine_act(float *x, int64_t n, float s, float t, int mode, struct kact act)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		v8f v = v8_load(x + i);
		if (mode == KAFFINE_SCALE)
			v = v * s + t;
		else if (mode == KAFFINE_SHIFT)
			v = v + t;
		v8_store(x + i, v8_act(act, v));
	}
	for (; i < n; i++) {
		float v = x[i];
		if (mode == KAFFINE_SCALE)
			v = v * s + t;
		else if (mode == KAFFINE_SHIFT)
			v = v + t;
		x[i] = k_act1(act, v);
	}
}

void kact_row(struct kact act, float *x, int64_t n)
{
	if (act.kind != KACT_NONE)
		krow_affine_act(x, n, 1, 0, KAFFINE_NONE, act);
}

struct act_job {
	struct kact act;
	float *x;
};

static void act_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct act_job *j = ctx;
	kact_row(j->act, j->x + b, e - b);
}

void kact_apply(struct kact act, float *x, int64_t n)
{
	if (act.kind == KACT_NONE)
		return;
	struct act_job j = {act, x};
	kpar_for(n, 1 << 14, act_chunk, &j);
}

struct epi_job {
	float *x;
	int64_t channels, inner;
	const float *scale, *shift;
	struct kact act;
};

/* Rows are (outer, channel) pairs. */
static void epi_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct epi_job *j = ctx;
	int mode = j->scale ? KAFFINE_SCALE : j->shift ? KAFFINE_SHIFT : KAFFINE_NONE;
	for (int64_t r = b; r < e; r++) {
		int64_t c = r % j->channels;
		krow_affine_act(j->x + r * j->inner, j->inner, j->scale ? j->scale[c] : 1,
		                j->shift ? j->shift[c] : 0, mode, j->act);
	}
}

void kact_epilogue(float *x, int64_t outer, int64_t channels, int64_t inner, const float *scale,
                   const float *shift, struct kact act)
{
	if (!scale && !shift && act.kind == KACT_NONE)
		return;
	if (inner < 8 && !scale && !shift) {
		kact_apply(act, x, outer * channels * inner);
		return;
	}
	struct epi_job j = {x, channels, inner, scale, shift, act};
	int64_t rows = outer * channels;
	int64_t grain = inner >= (1 << 14) ? 1 : (1 << 14) / (inner ? inner : 1);
	kpar_for(rows, grain, epi_chunk, &j);
}

/* ---- threads ---- */

#define POOL_MAX  64
#define POOL_SPIN 1000

static struct {
	int nthreads; /* 0 until set: then the caller plus nthreads - 1 workers */
	int nworkers;
	pthread_t workers[POOL_MAX];
	unsigned start_gen[POOL_MAX]; /* the job count when each worker started */
	pthread_mutex_t mu, submit;
	pthread_cond_t go, done;
	unsigned gen; /* bumped for each job */
	int running;  /* workers still on the current job */
	int64_t n, chunk;
	int nchunks;
	int next;   /* next chunk to take */
	int active; /* workers that take part in the current job */
	void (*fn)(void *ctx, int64_t begin, int64_t end);
	void *ctx;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .submit = PTHREAD_MUTEX_INITIALIZER,
          .go = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

/* Set while a thread works on a job, so that a nested kpar_for runs
 * inline. */
static __thread bool in_job;

static void pool_take_chunks(void)
{
	in_job = true;
	for (;;) {
		int c = __atomic_fetch_add(&pool.next, 1, __ATOMIC_ACQ_REL);
		if (c >= pool.nchunks) {
			in_job = false;
			return;
		}
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

void kernels_set_threads(int n)
{
	if (n <= 0)
		n = kernels_matrix_default_threads();
	if (n > POOL_MAX)
		n = POOL_MAX;
	kmatrix_thread_serial();
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
	if (in_job) { /* nested: the threads are busy with the outer job */
		fn(ctx, 0, n);
		return;
	}
	int threads = kernels_threads();
	if (threads > pool.nworkers + 1)
		threads = pool.nworkers + 1;
	if (grain < 1)
		grain = 1;
	/* One job at a time: a caller in another thread (two plans running
	 * at once) does its work alone. */
	if (threads <= 1 || n < 2 * grain || pthread_mutex_trylock(&pool.submit) != 0) {
		in_job = true;
		fn(ctx, 0, n);
		in_job = false;
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
	pthread_mutex_unlock(&pool.submit);
}
