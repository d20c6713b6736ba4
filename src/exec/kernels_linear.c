/* kernels_linear.c - matrix products: nn.Linear and F.linear, nn.Bilinear
 * and F.bilinear, matmul, mm, bmm, addmm, baddbmm, outer and einsum.
 *
 * Large products go to the matrix library (gemm.c); batches of small ones
 * (attention heads, MaxViT's einsums) run graft's own loop in parallel
 * over the batch, where the library's per-call cost would dominate.
 * einsum runs any equation: those of two operands without repeated or
 * summed-away labels, and one-operand permutations, as batched products;
 * the others by a plain loop over every label. In the products, labels
 * shared by both operands and the output are batch dimensions, labels in
 * both operands only are contracted, the others are rows or columns. Operands already laid out as
 * a batch of matrices (plain or transposed) are used in place. */
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "core/util.h"

/* Products up to this many mult-adds use the small loop. */
#define SMALL_GEMM (64 * 64 * 64)

KERNEL_HOT
void kgemm_small(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                 const float *b, int64_t ldb, float *restrict c, int64_t ldc)
{
	for (int64_t i = 0; i < m; i++) {
		float *restrict ci = c + i * ldc;
		for (int64_t j = 0; j < n; j++)
			ci[j] = 0;
		if (!tb) {
			for (int64_t p = 0; p < k; p++) {
				float av = ta ? a[p * lda + i] : a[i * lda + p];
				const float *restrict bp = b + p * ldb;
				for (int64_t j = 0; j < n; j++)
					ci[j] += av * bp[j];
			}
		} else {
			for (int64_t j = 0; j < n; j++) {
				const float *bj = b + j * ldb;
				float s = 0;
				if (ta)
					for (int64_t p = 0; p < k; p++)
						s += a[p * lda + i] * bj[p];
				else
					for (int64_t p = 0; p < k; p++)
						s += a[i * lda + p] * bj[p];
				ci[j] = s;
			}
		}
	}
}

/* A batch of products: matrix i of each operand at offsets from the
 * callback-free layout (a + i*sa, b + i*sb, c + i*sc). */
struct bgemm {
	bool ta, tb;
	int64_t m, n, k, lda, ldb, ldc;
	const float *a, *b;
	float *c;
	const int64_t *aoff, *boff; /* per batch, or NULL: i * stride */
	int64_t sa, sb, sc;
};

static void bgemm_chunk(void *ctx, int64_t b, int64_t e)
{
	const struct bgemm *g = ctx;
	for (int64_t i = b; i < e; i++) {
		const float *a = g->a + (g->aoff ? g->aoff[i] : i * g->sa);
		const float *bb = g->b + (g->boff ? g->boff[i] : i * g->sb);
		kgemm_small(g->ta, g->tb, g->m, g->n, g->k, a, g->lda, bb, g->ldb, g->c + i * g->sc,
		            g->ldc);
	}
}

static void bgemm_run(const struct bgemm *g, int64_t batch)
{
	if (g->m * g->n * g->k <= SMALL_GEMM) {
		kpar_for(batch, 1, bgemm_chunk, (void *)g);
		return;
	}
	for (int64_t i = 0; i < batch; i++) {
		const float *a = g->a + (g->aoff ? g->aoff[i] : i * g->sa);
		const float *b = g->b + (g->boff ? g->boff[i] : i * g->sb);
		kgemm_ex(g->ta, g->tb, g->m, g->n, g->k, a, g->lda, b, g->ldb, 0.0f,
		         g->c + i * g->sc, g->ldc);
	}
}

/* ---- Linear ---- */

struct linear_state {
	int64_t m, k, n;
	const float *w, *b;
};

static int linear_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op), *w, *b;
	if (op->call.module) {
		w = kop_param(op, "weight");
		b = kop_param(op, "bias");
	} else {
		w = kop_tensor(op, 1, "weight");
		b = kop_tensor(op, 2, "bias");
	}
	if (!w)
		return error_set(e, "linear: no weight");
	struct linear_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->k = x->shape.ndim ? x->shape.dim[x->shape.ndim - 1] : 1;
	st->n = w->shape.ndim == 2 ? w->shape.dim[0] : 1;
	st->m = shape_numel(&x->shape) / (st->k ? st->k : 1);
	st->w = kt_f32(w);
	if (b) {
		if (shape_numel(&b->shape) != st->n)
			return error_set(e,
			                 "linear(): a bias of %lld values for %lld outputs is not "
			                 "supported",
			                 (long long)shape_numel(&b->shape), (long long)st->n);
		st->b = kt_f32(b);
	}
	return 0;
}

struct rows_job {
	float *y;
	int64_t n;
	const float *b;
	struct kact act;
};

KERNEL_HOT
static void bias_rows(void *ctx, int64_t rb, int64_t re)
{
	const struct rows_job *j = ctx;
	for (int64_t r = rb; r < re; r++) {
		float *restrict p = j->y + r * j->n;
		if (j->b)
			for (int64_t i = 0; i < j->n; i++)
				p[i] += j->b[i];
		kact_row(j->act, p, j->n);
	}
}

/* y[m, n] += b[n], then act. */
static void rows_epilogue(float *y, int64_t m, int64_t n, const float *b, struct kact act)
{
	if (!b && act.kind == KACT_NONE)
		return;
	struct rows_job j = {y, n, b, act};
	kpar_for(m, n >= 4096 ? 1 : 4096 / n, bias_rows, &j);
}

static int linear_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct linear_state *st = op->state;
	const float *x = kt_f32(kop_input(op));
	float *y = kt_f32(kop_out(op, 0));
	if (st->m == 1 || st->n == 1) {
		if (st->n == 1)
			kgemv(st->m, st->k, x, st->w, y);
		else
			kgemv(st->n, st->k, st->w, x, y);
	} else {
		kgemm(true, st->m, st->n, st->k, x, st->k, st->w, st->k, 0.0f, y, st->n);
	}
	rows_epilogue(y, st->m, st->n, st->b, op->act);
	return 0;
}

/* ---- matmul, bmm ---- */

struct matmul_state {
	int64_t batch, m, n, k;
	int64_t *aoff, *boff; /* per batch element offsets (broadcasting) */
	int64_t store[];
};

/* The keyword of the second factor: matmul's other, mm's and bmm's mat2. */
static const char *second_operand(const struct kop *op)
{
	return strcmp(op->kernel->name, "matmul") ? "mat2" : "other";
}

static int matmul_prepare(struct kop *op, struct error *e)
{
	const struct tensor *a = kop_input(op);
	const struct tensor *b = kop_tensor(op, 1, second_operand(op));
	const struct tensor *o = kop_out(op, 0);
	if (!a || !b)
		return error_set(e, "%s(): needs two tensors", op->kernel->name);
	struct shape sa = a->shape, sb = b->shape;
	if (sa.ndim == 1) {
		sa.ndim = 2;
		sa.dim[1] = sa.dim[0];
		sa.dim[0] = 1;
	}
	if (sb.ndim == 1) {
		sb.ndim = 2;
		sb.dim[1] = 1;
	}
	int64_t m = sa.dim[sa.ndim - 2], k = sa.dim[sa.ndim - 1], n = sb.dim[sb.ndim - 1];
	/* The broadcast batch shape, from the output's leading dims. */
	int nb = sa.ndim - 2 > sb.ndim - 2 ? sa.ndim - 2 : sb.ndim - 2;
	struct shape bs = {.ndim = nb};
	int64_t batch = 1;
	for (int i = 0; i < nb; i++) {
		int ia = sa.ndim - 2 - nb + i, ib = sb.ndim - 2 - nb + i;
		int64_t da = ia >= 0 ? sa.dim[ia] : 1, db = ib >= 0 ? sb.dim[ib] : 1;
		bs.dim[i] = da == 1 ? db : da;
		batch *= bs.dim[i];
	}
	(void)o;
	struct matmul_state *st = xcalloc(1, sizeof *st + 2 * (size_t)batch * sizeof(int64_t));
	op->state = st;
	st->batch = batch;
	st->m = m;
	st->n = n;
	st->k = k;
	st->aoff = st->store;
	st->boff = st->store + batch;
	for (int64_t i = 0; i < batch; i++) {
		int64_t rem = i, oa = 0, ob = 0, stra = m * k, strb = k * n;
		for (int d = nb - 1; d >= 0; d--) {
			int64_t idx = rem % bs.dim[d];
			rem /= bs.dim[d];
			int ia = sa.ndim - 2 - nb + d, ib = sb.ndim - 2 - nb + d;
			if (ia >= 0) {
				if (sa.dim[ia] != 1)
					oa += idx * stra;
				stra *= sa.dim[ia];
			}
			if (ib >= 0) {
				if (sb.dim[ib] != 1)
					ob += idx * strb;
				strb *= sb.dim[ib];
			}
		}
		st->aoff[i] = oa;
		st->boff[i] = ob;
	}
	return 0;
}

static int matmul_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct matmul_state *st = op->state;
	const char *bname = second_operand(op);
	struct bgemm g = {.m = st->m,
	                  .n = st->n,
	                  .k = st->k,
	                  .lda = st->k,
	                  .ldb = st->n,
	                  .ldc = st->n,
	                  .a = kt_f32(kop_input(op)),
	                  .b = kt_f32(kop_tensor(op, 1, bname)),
	                  .c = kt_f32(kop_out(op, 0)),
	                  .aoff = st->aoff,
	                  .boff = st->boff,
	                  .sc = st->m * st->n};
	bgemm_run(&g, st->batch);
	return 0;
}

/* ---- addmm, baddbmm: beta * input + alpha * (a @ b) ---- */

struct addmm_state {
	int64_t batch, m, n, k;
	float alpha, beta;
	int ndim;
	int64_t size[3], istride[3]; /* the output, and input's broadcast strides */
};

static int number_or(const struct kop *op, const char *kw, double def, float *out)
{
	const struct value *v = op_arg(&op->call, -1, kw);
	double d = def;
	if (v && !value_number(v, &d))
		return -1;
	*out = (float)d;
	return 0;
}

static int addmm_prepare(struct kop *op, struct error *e)
{
	bool batched = !strcmp(op->kernel->name, "baddbmm");
	const struct tensor *x = kop_input(op);
	const struct tensor *a = kop_tensor(op, 1, batched ? "batch1" : "mat1");
	const struct tensor *o = kop_out(op, 0);
	struct addmm_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	if (number_or(op, "beta", 1, &st->beta) < 0 || number_or(op, "alpha", 1, &st->alpha) < 0)
		return error_set(e, "%s(): alpha and beta must be numbers", op->kernel->name);
	st->ndim = o->shape.ndim;
	st->batch = batched ? o->shape.dim[0] : 1;
	st->m = o->shape.dim[st->ndim - 2];
	st->n = o->shape.dim[st->ndim - 1];
	st->k = a->shape.dim[a->shape.ndim - 1];
	int64_t own[3];
	kstrides(&x->shape, own);
	for (int i = 0; i < st->ndim; i++) {
		int q = x->shape.ndim - st->ndim + i;
		st->size[i] = o->shape.dim[i];
		st->istride[i] = q < 0 || x->shape.dim[q] == 1 ? 0 : own[q];
	}
	return 0;
}

static int addmm_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct addmm_state *st = op->state;
	bool batched = st->ndim == 3;
	const float *x = kt_f32(kop_input(op));
	struct bgemm g = {.m = st->m,
	                  .n = st->n,
	                  .k = st->k,
	                  .lda = st->k,
	                  .ldb = st->n,
	                  .ldc = st->n,
	                  .a = kt_f32(kop_tensor(op, 1, batched ? "batch1" : "mat1")),
	                  .b = kt_f32(kop_tensor(op, 2, batched ? "batch2" : "mat2")),
	                  .c = kt_f32(kop_out(op, 0)),
	                  .sa = st->m * st->k,
	                  .sb = st->k * st->n,
	                  .sc = st->m * st->n};
	bgemm_run(&g, st->batch);
	int64_t bs = batched ? st->istride[0] : 0, rs = st->istride[st->ndim - 2],
	        cs = st->istride[st->ndim - 1];
	for (int64_t q = 0; q < st->batch; q++)
		for (int64_t i = 0; i < st->m; i++)
			for (int64_t j = 0; j < st->n; j++) {
				float *y = g.c + (q * st->m + i) * st->n + j;
				float in = x[q * bs + i * rs + j * cs];
				/* beta = 0 ignores the input, NaN included, as PyTorch */
				*y = st->alpha * *y + (st->beta != 0 ? st->beta * in : 0);
			}
	return 0;
}

/* ---- outer ---- */

static int outer_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *a = kop_input(op), *b = kop_tensor(op, 1, "vec2");
	float *y = kt_f32(kop_out(op, 0));
	const float *u = kt_f32(a), *w = kt_f32(b);
	int64_t n = a->shape.dim[0], m = b->shape.dim[0];
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < m; j++)
			y[i * m + j] = u[i] * w[j];
	return 0;
}

/* ---- Bilinear, bilinear ---- */

struct bilinear_state {
	int64_t rows, in1, in2, out;
	const float *w, *b;
};

static int bilinear_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x1 = kop_tensor(op, 0, "input1"), *w, *b;
	if (op->call.module) {
		w = kop_param(op, "weight");
		b = kop_param(op, "bias");
	} else {
		w = kop_tensor(op, 2, "weight");
		b = kop_tensor(op, 3, "bias");
	}
	if (!w || !x1)
		return error_set(e, "bilinear: no weight");
	struct bilinear_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->out = w->shape.dim[0];
	st->in1 = w->shape.dim[1];
	st->in2 = w->shape.dim[2];
	st->rows = st->in1 ? shape_numel(&x1->shape) / st->in1 : 0;
	st->w = kt_f32(w);
	st->b = b ? kt_f32(b) : NULL;
	if (b && shape_numel(&b->shape) != st->out)
		return error_set(e, "bilinear(): a bias of %lld values for %lld outputs",
		                 (long long)shape_numel(&b->shape), (long long)st->out);
	op->scratch_bytes = (size_t)(st->rows * st->in2) * sizeof(float);
	return 0;
}

/* For each output feature o: U = x1 W[o] ([rows, in2]), then
 * y[r, o] = U[r] . x2[r] + b[o]. */
static int bilinear_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct bilinear_state *st = op->state;
	const float *x1 = kt_f32(kop_tensor(op, 0, "input1"));
	const float *x2 = kt_f32(kop_tensor(op, 1, "input2"));
	float *y = kt_f32(kop_out(op, 0)), *u = op->scratch;
	for (int64_t o = 0; o < st->out; o++) {
		kgemm(false, st->rows, st->in2, st->in1, x1, st->in1, st->w + o * st->in1 * st->in2,
		      st->in2, 0.0f, u, st->in2);
		for (int64_t r = 0; r < st->rows; r++) {
			double acc = st->b ? st->b[o] : 0;
			for (int64_t j = 0; j < st->in2; j++)
				acc += (double)u[r * st->in2 + j] * x2[r * st->in2 + j];
			y[r * st->out + o] = (float)acc;
		}
	}
	return 0;
}

/* ---- einsum ---- */

#define EIN_LABELS 64 /* 52 letters, then the dims of "..." */

struct ein_operand {
	int labels[SHAPE_MAX_DIMS];
	int n;
};

struct einsum_state {
	bool general; /* false; true in struct ein_general, which starts the same */
	int nops;
	int64_t batch, m, n, k;
	/* Per operand: copy into scratch (gather) or use in place (ta/tb). */
	bool gather[2], trans[2];
	int64_t gsize[2][SHAPE_MAX_DIMS], gstride[2][SHAPE_MAX_DIMS]; /* gather: source strides */
	int gndim[2];
	size_t gbytes[2];
	/* The output: written in place, or scattered from scratch. */
	bool scatter;
	int64_t ssize[SHAPE_MAX_DIMS], sstride[SHAPE_MAX_DIMS];
	int sndim;
};

static int ein_label(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return 26 + ch - 'a';
	return -1;
}

/* Parses one term; "..." becomes the labels 52.. right-aligned to `ell`
 * dims. */
static int ein_term(const char **p, int ndim, struct ein_operand *t)
{
	int raw[SHAPE_MAX_DIMS + 1], n = 0, ell = -1;
	const char *s = *p;
	for (;; s++) {
		if (*s == ' ')
			continue;
		if (*s == '.') {
			if (strncmp(s, "...", 3) != 0 || ell >= 0)
				return -1;
			ell = n;
			s += 2;
			continue;
		}
		int l = ein_label(*s);
		if (l < 0)
			break;
		if (n >= SHAPE_MAX_DIMS)
			return -1;
		raw[n++] = l;
	}
	*p = s;
	int ne = ell >= 0 ? ndim - n : 0;
	if (ne < 0 || n + ne > SHAPE_MAX_DIMS)
		return -1;
	t->n = 0;
	for (int i = 0; i <= n; i++) {
		if (i == ell)
			for (int q = 0; q < ne; q++)
				t->labels[t->n++] = 52 + (SHAPE_MAX_DIMS - ne) + q;
		if (i < n)
			t->labels[t->n++] = raw[i];
	}
	return 0;
}

static int ein_find(const struct ein_operand *t, int l)
{
	for (int i = 0; i < t->n; i++)
		if (t->labels[i] == l)
			return i;
	return -1;
}

/* The output of an equation without "->": the labels of "..." first,
 * then those seen once (count[label] == 1), sorted. */
static void ein_implicit_output(const int *count, struct ein_operand *out)
{
	out->n = 0;
	for (int lb = 52; lb < EIN_LABELS; lb++)
		if (count[lb])
			out->labels[out->n++] = lb;
	for (int lb = 0; lb < 52; lb++)
		if (count[lb] == 1)
			out->labels[out->n++] = lb;
}

/* Whether operand t (contiguous, of shape s) is exactly the labels
 * first..., second... in that order, with no broadcasting. */
static bool ein_layout(const struct ein_operand *t, const struct shape *s, const int *order, int n,
                       const int64_t *size)
{
	if (t->n != n)
		return false;
	for (int i = 0; i < n; i++)
		if (t->labels[i] != order[i] || s->dim[i] != size[order[i]])
			return false;
	return true;
}

/* ---- einsum, the general case: a loop over every label ----
 *
 * For what the batched product does not take: three or more operands,
 * repeated labels (diagonals) and labels summed away in one operand. */

#define EIN_MAX_OPS 8

struct ein_general {
	bool general; /* true */
	int nops, nlab;
	int64_t size[EIN_LABELS];                  /* per label used */
	int64_t stride[EIN_MAX_OPS][EIN_LABELS];   /* per operand, 0 where it broadcasts */
	int64_t ostride[EIN_LABELS];               /* 0 for contracted labels */
};

/* The operands of an einsum call: a tuple, or the arguments after the
 * equation. */
static const struct value *ein_operands(const struct kop *op, int *n)
{
	const struct value *l = op_arg(&op->call, 1, "operands");
	if (l && l->kind == VAL_LIST) {
		*n = l->u.list.n;
		return l->u.list.items;
	}
	*n = op->call.nargs - 1;
	return op->call.args + 1;
}

static int einsum_general_prepare(struct kop *op, struct error *e)
{
	const char *eq = op_arg(&op->call, 0, "equation")->u.s, *p = eq;
	int nops;
	const struct value *items = ein_operands(op, &nops);
	if (nops > EIN_MAX_OPS)
		return error_set(e, "einsum(): graft runs at most %d operands", EIN_MAX_OPS);
	struct ein_general *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->general = true;
	st->nops = nops;
	struct ein_operand t[EIN_MAX_OPS], out;
	int index[EIN_LABELS], count[EIN_LABELS] = {0};
	for (int i = 0; i < EIN_LABELS; i++)
		index[i] = -1;
	for (int i = 0; i < nops; i++) {
		if (ein_term(&p, items[i].u.tensor.t.shape.ndim, &t[i]) < 0)
			return error_set(e, "einsum(): cannot read '%s'", eq);
		if (*p == ',')
			p++;
		for (int j = 0; j < t[i].n; j++) {
			int lb = t[i].labels[j];
			count[lb]++;
			if (index[lb] < 0) {
				index[lb] = st->nlab;
				st->size[st->nlab++] = 1;
			}
			int64_t d = items[i].u.tensor.t.shape.dim[j];
			if (d != 1)
				st->size[index[lb]] = d;
		}
	}
	const struct tensor *o = kop_out(op, 0);
	if (strncmp(p, "->", 2) == 0) {
		p += 2;
		if (ein_term(&p, o->shape.ndim, &out) < 0)
			return error_set(e, "einsum(): cannot read '%s'", eq);
	} else {
		ein_implicit_output(count, &out);
	}
	for (int i = 0; i < nops; i++) {
		int64_t own[SHAPE_MAX_DIMS];
		kstrides(&items[i].u.tensor.t.shape, own);
		for (int j = 0; j < t[i].n; j++)
			if (items[i].u.tensor.t.shape.dim[j] != 1)
				st->stride[i][index[t[i].labels[j]]] += own[j];
	}
	int64_t ostr[SHAPE_MAX_DIMS];
	kstrides(&o->shape, ostr);
	for (int j = 0; j < out.n; j++)
		if (index[out.labels[j]] >= 0)
			st->ostride[index[out.labels[j]]] = ostr[j];
	return 0;
}

static int einsum_general_run(struct kop *op)
{
	const struct ein_general *st = op->state;
	int nops;
	const struct value *items = ein_operands(op, &nops);
	const float *src[EIN_MAX_OPS];
	for (int i = 0; i < st->nops; i++)
		src[i] = kt_f32(&items[i].u.tensor.t);
	struct tensor *y = kop_out(op, 0);
	float *out = kt_f32(y);
	memset(out, 0, (size_t)shape_numel(&y->shape) * sizeof *out);
	int64_t total = 1, idx[EIN_LABELS] = {0}, off[EIN_MAX_OPS] = {0}, ooff = 0;
	for (int l = 0; l < st->nlab; l++)
		total *= st->size[l];
	for (int64_t k = 0; k < total; k++) {
		float v = 1;
		for (int i = 0; i < st->nops; i++)
			v *= src[i][off[i]];
		out[ooff] += v;
		for (int l = st->nlab - 1; l >= 0; l--) {
			for (int i = 0; i < st->nops; i++)
				off[i] += st->stride[i][l];
			ooff += st->ostride[l];
			if (++idx[l] < st->size[l])
				break;
			for (int i = 0; i < st->nops; i++)
				off[i] -= st->stride[i][l] * st->size[l];
			ooff -= st->ostride[l] * st->size[l];
			idx[l] = 0;
		}
	}
	return 0;
}

static int einsum_prepare(struct kop *op, struct error *e)
{
	const struct value *eq = op_arg(&op->call, 0, "equation");
	const struct tensor *ops[2] = {NULL, NULL};
	int nops;
	const struct value *items = ein_operands(op, &nops);
	for (int i = 0; i < nops && i < 2; i++)
		ops[i] = &items[i].u.tensor.t;
	if (!eq || eq->kind != VAL_STR || nops < 1)
		return error_set(e, "einsum(): needs an equation and operands");
	if (nops > 2)
		return einsum_general_prepare(op, e);
	struct ein_operand t[2], out;
	const char *p = eq->u.s;
	for (int i = 0; i < nops; i++) {
		if (ein_term(&p, ops[i]->shape.ndim, &t[i]) < 0)
			return error_set(e, "einsum(): cannot read '%s'", eq->u.s);
		if (*p == ',')
			p++;
	}
	const struct tensor *o = kop_out(op, 0);
	int64_t size[EIN_LABELS];
	int count[EIN_LABELS] = {0};
	for (int i = 0; i < EIN_LABELS; i++)
		size[i] = 1;
	for (int i = 0; i < nops; i++)
		for (int j = 0; j < t[i].n; j++) {
			int lb = t[i].labels[j];
			if (ein_find(&t[i], lb) != j) /* a diagonal */
				return einsum_general_prepare(op, e);
			count[lb]++;
			if (ops[i]->shape.dim[j] != 1)
				size[lb] = ops[i]->shape.dim[j];
		}
	if (strncmp(p, "->", 2) == 0) {
		p += 2;
		if (ein_term(&p, o->shape.ndim, &out) < 0)
			return error_set(e, "einsum(): cannot read '%s'", eq->u.s);
	} else {
		ein_implicit_output(count, &out);
	}
	bool in_out[EIN_LABELS] = {false};
	for (int j = 0; j < out.n; j++)
		in_out[out.labels[j]] = true;
	for (int i = 0; i < nops; i++)
		for (int j = 0; j < t[i].n; j++)
			if (!in_out[t[i].labels[j]] &&
			    (nops == 1 || ein_find(&t[1 - i], t[i].labels[j]) < 0))
				return einsum_general_prepare(op, e);
	struct einsum_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->nops = nops;
	/* Classify: batch, rows (first operand only), cols (second only),
	 * contracted. */
	int bl[SHAPE_MAX_DIMS], rl[SHAPE_MAX_DIMS], cl[SHAPE_MAX_DIMS], kl[SHAPE_MAX_DIMS];
	int nb = 0, nr = 0, nc = 0, nk = 0;
	st->batch = st->m = st->n = st->k = 1;
	for (int j = 0; j < out.n; j++) {
		int lb = out.labels[j];
		bool in0 = ein_find(&t[0], lb) >= 0, in1 = nops == 2 && ein_find(&t[1], lb) >= 0;
		if (in0 && in1) {
			bl[nb++] = lb;
			st->batch *= size[lb];
		} else if (in0) {
			rl[nr++] = lb;
			st->m *= size[lb];
		} else {
			cl[nc++] = lb;
			st->n *= size[lb];
		}
	}
	if (nops == 2)
		for (int j = 0; j < t[0].n; j++)
			if (!in_out[t[0].labels[j]]) {
				kl[nk++] = t[0].labels[j];
				st->k *= size[t[0].labels[j]];
			}
	/* Operand layouts: [batch, rows, k] or [batch, k, rows] for the first,
	 * [batch, k, cols] or [batch, cols, k] for the second. */
	int order[2][2 * SHAPE_MAX_DIMS], ordt[2][2 * SHAPE_MAX_DIMS], no = 0;
	memcpy(order[0], bl, (size_t)nb * sizeof *bl);
	memcpy(order[0] + nb, rl, (size_t)nr * sizeof *rl);
	memcpy(order[0] + nb + nr, kl, (size_t)nk * sizeof *kl);
	memcpy(ordt[0], bl, (size_t)nb * sizeof *bl);
	memcpy(ordt[0] + nb, kl, (size_t)nk * sizeof *kl);
	memcpy(ordt[0] + nb + nk, rl, (size_t)nr * sizeof *rl);
	memcpy(order[1], bl, (size_t)nb * sizeof *bl);
	memcpy(order[1] + nb, kl, (size_t)nk * sizeof *kl);
	memcpy(order[1] + nb + nk, cl, (size_t)nc * sizeof *cl);
	memcpy(ordt[1], bl, (size_t)nb * sizeof *bl);
	memcpy(ordt[1] + nb, cl, (size_t)nc * sizeof *cl);
	memcpy(ordt[1] + nb + nc, kl, (size_t)nk * sizeof *kl);
	int nlab[2] = {nb + nr + nk, nb + nk + nc};
	size_t scratch = 0;
	for (int i = 0; i < nops; i++) {
		no = nlab[i];
		if (nops == 2 && ein_layout(&t[i], &ops[i]->shape, order[i], no, size))
			continue;
		if (nops == 2 && ein_layout(&t[i], &ops[i]->shape, ordt[i], no, size)) {
			st->trans[i] = true;
			continue;
		}
		/* gather into [order] from the operand's strides (0 where it
		 * broadcasts) */
		st->gather[i] = true;
		int64_t own[SHAPE_MAX_DIMS];
		kstrides(&ops[i]->shape, own);
		st->gndim[i] = no;
		for (int q = 0; q < no; q++) {
			int at = ein_find(&t[i], order[i][q]);
			st->gsize[i][q] = size[order[i][q]];
			st->gstride[i][q] = at < 0 || ops[i]->shape.dim[at] == 1 ? 0 : own[at];
		}
		if (nops == 1)
			break; /* copied straight into the output */
		st->gbytes[i] =
		    (size_t)(st->batch * (i == 0 ? st->m : st->n) * st->k) * sizeof(float);
		scratch += (st->gbytes[i] + 63) / 64 * 64;
	}
	/* The product comes out as [batch, rows, cols]; scatter it unless the
	 * output is in that order. */
	int prod[3 * SHAPE_MAX_DIMS];
	memcpy(prod, bl, (size_t)nb * sizeof *bl);
	memcpy(prod + nb, rl, (size_t)nr * sizeof *rl);
	memcpy(prod + nb + nr, cl, (size_t)nc * sizeof *cl);
	bool same = true;
	for (int j = 0; j < out.n; j++)
		same = same && out.labels[j] == prod[j];
	if (!same || nops == 1) {
		st->scatter = true;
		int64_t ostr[SHAPE_MAX_DIMS];
		kstrides(&o->shape, ostr);
		st->sndim = out.n;
		for (int q = 0; q < out.n; q++) {
			st->ssize[q] = size[prod[q]];
			st->sstride[q] = ostr[ein_find(&out, prod[q])];
		}
		if (nops == 2)
			scratch += (size_t)(st->batch * st->m * st->n) * sizeof(float);
	}
	op->scratch_bytes = scratch;
	return 0;
}

static int einsum_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct einsum_state *st = op->state;
	if (st->general)
		return einsum_general_run(op);
	const float *src[2];
	int nops;
	const struct value *items = ein_operands(op, &nops);
	for (int i = 0; i < st->nops; i++)
		src[i] = kt_f32(&items[i].u.tensor.t);
	float *out = kt_f32(kop_out(op, 0));
	char *scratch = op->scratch;
	if (st->nops == 1) {
		/* a permutation: copy straight into the output order */
		kcopy_strided(out, st->sstride, src[0], st->gstride[0], st->ssize, st->sndim,
		              sizeof(float));
		return 0;
	}
	const float *mat[2];
	for (int i = 0; i < 2; i++) {
		mat[i] = src[i];
		if (!st->gather[i])
			continue;
		struct shape gs = {.ndim = st->gndim[i]};
		memcpy(gs.dim, st->gsize[i], (size_t)gs.ndim * sizeof *gs.dim);
		int64_t dstr[SHAPE_MAX_DIMS];
		kstrides(&gs, dstr);
		kcopy_strided(scratch, dstr, src[i], st->gstride[i], st->gsize[i], st->gndim[i],
		              sizeof(float));
		mat[i] = (const float *)(void *)scratch;
		scratch += (st->gbytes[i] + 63) / 64 * 64;
	}
	float *dst = st->scatter ? (float *)(void *)scratch : out;
	struct bgemm g = {.ta = st->trans[0],
	                  .tb = st->trans[1],
	                  .m = st->m,
	                  .n = st->n,
	                  .k = st->k,
	                  .lda = st->trans[0] ? st->m : st->k,
	                  .ldb = st->trans[1] ? st->k : st->n,
	                  .ldc = st->n,
	                  .a = mat[0],
	                  .b = mat[1],
	                  .c = dst,
	                  .sa = st->m * st->k,
	                  .sb = st->k * st->n,
	                  .sc = st->m * st->n};
	bgemm_run(&g, st->batch);
	if (st->scatter) {
		struct shape ps = {.ndim = st->sndim};
		memcpy(ps.dim, st->ssize, (size_t)ps.ndim * sizeof *ps.dim);
		int64_t pstr[SHAPE_MAX_DIMS];
		kstrides(&ps, pstr);
		kcopy_strided(out, st->sstride, dst, pstr, st->ssize, st->sndim, sizeof(float));
	}
	return 0;
}

const struct kernel kernels_linear[] = {
    {"Linear", OP_MODULE, KF_ACT, linear_prepare, linear_run},
    {"linear", OP_FUNCTION, KF_ACT, linear_prepare, linear_run},
    {"matmul", OP_FUNCTION, 0, matmul_prepare, matmul_run},
    {"bmm", OP_FUNCTION, 0, matmul_prepare, matmul_run},
    {"einsum", OP_FUNCTION, 0, einsum_prepare, einsum_run},
    {"mm", OP_FUNCTION, 0, matmul_prepare, matmul_run},
    {"addmm", OP_FUNCTION, 0, addmm_prepare, addmm_run},
    {"baddbmm", OP_FUNCTION, 0, addmm_prepare, addmm_run},
    {"outer", OP_FUNCTION, 0, NULL, outer_run},
    {"Bilinear", OP_MODULE, 0, bilinear_prepare, bilinear_run},
    {"bilinear", OP_FUNCTION, 0, bilinear_prepare, bilinear_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
