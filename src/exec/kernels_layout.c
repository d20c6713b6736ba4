/* kernels_layout.c - moving elements: views, permutes, cat and splits,
 * expand, indexing, pad and the pad layers, roll, channel and pixel shuffles, Swin's
 * patch-merging pad and MViT's _unsqueeze and _squeeze.
 *
 * Views (view, reshape, flatten, unsqueeze, contiguous, Flatten, Dropout
 * and StochasticDepth in eval, ...) are KF_ALIAS: the executor gives their
 * output the input's bytes and runs nothing. Everything else copies, byte
 * for byte, so these kernels serve any dtype (MaxViT and Swin index
 * tables are int64). Indexing follows PyTorch: ints, slices with a
 * positive step, None, Ellipsis, and integer index tensors (or lists of
 * ints) broadcast together, their dimensions placed where the first one
 * is when they are adjacent, else in front. */
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "core/registry_resample.h"
#include "core/util.h"

static size_t elem_size(const struct tensor *t)
{
	return dtype_size(t->dtype);
}

static void *mut_data(struct tensor *t)
{
	return (char *)t->storage->data + t->offset;
}

static int64_t wrap_dim(int64_t d, int ndim)
{
	int n = ndim ? ndim : 1;
	return d < 0 ? d + n : d;
}

/* ---- a strided copy decided at prepare: out = gather(in) ---- */

struct gather_state {
	int ndim;
	int64_t size[SHAPE_MAX_DIMS];
	int64_t sstride[SHAPE_MAX_DIMS]; /* source strides per output dim */
	int64_t dstride[SHAPE_MAX_DIMS]; /* contiguous output strides */
	int64_t base;                    /* source offset, elements */
};

static void gather_init(struct gather_state *g, const struct shape *out)
{
	g->ndim = out->ndim;
	memcpy(g->size, out->dim, (size_t)out->ndim * sizeof *g->size);
	kstrides(out, g->dstride);
}

static int gather_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct gather_state *g = op->state;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	size_t es = elem_size(x);
	kcopy_strided(mut_data(y), g->dstride, (const char *)tensor_data(x) + (size_t)g->base * es,
	              g->sstride, g->size, g->ndim, es);
	return 0;
}

/* Reads dims from the argument at pos: ints from pos on, or one tuple. */
static int int_list(const struct kop *op, int pos, const char *kw, int64_t *out, int max)
{
	const struct value *v = op_arg(&op->call, pos, kw);
	if (!v)
		return -1;
	if (v->kind == VAL_LIST) {
		if (v->u.list.n > max || value_ints(v, out, v->u.list.n) < 0)
			return -1;
		return v->u.list.n;
	}
	if (pos < 0 || pos >= op->call.nargs) { /* one int by keyword */
		if (v->kind != VAL_INT || max < 1)
			return -1;
		out[0] = v->u.i;
		return 1;
	}
	int n = 0;
	for (int i = pos; i < op->call.nargs && n < max; i++) {
		if (op->call.args[i].kind != VAL_INT)
			return -1;
		out[n++] = op->call.args[i].u.i;
	}
	return n;
}

static int permute_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	int nd = x->shape.ndim;
	int64_t perm[SHAPE_MAX_DIMS];
	const char *name = op->kernel->name;
	if (!strcmp(name, "Permute")) {
		const struct value *dv = module_attr(op->call.module, "dims");
		if (!dv || dv->u.list.n != nd || value_ints(dv, perm, nd) < 0)
			return error_set(e, "Permute: bad dims");
	} else if (!strcmp(name, "permute")) {
		if (int_list(op, 1, "dims", perm, SHAPE_MAX_DIMS) != nd)
			return error_set(e, "permute(): bad dims");
	} else {
		bool axes = !strcmp(name, "swapaxes");
		const struct value *a = op_arg(&op->call, 1, axes ? "axis0" : "dim0");
		const struct value *b = op_arg(&op->call, 2, axes ? "axis1" : "dim1");
		if (!a || !b || a->kind != VAL_INT || b->kind != VAL_INT)
			return error_set(e, "%s(): needs two int dims", name);
		for (int i = 0; i < nd; i++)
			perm[i] = i;
		int64_t i0 = wrap_dim(a->u.i, nd), i1 = wrap_dim(b->u.i, nd);
		if (nd) {
			perm[i0] = i1;
			perm[i1] = i0;
		}
	}
	struct gather_state *g = xcalloc(1, sizeof *g);
	op->state = g;
	gather_init(g, &kop_out(op, 0)->shape);
	int64_t in[SHAPE_MAX_DIMS];
	kstrides(&x->shape, in);
	for (int i = 0; i < nd; i++)
		g->sstride[i] = in[wrap_dim(perm[i], nd)];
	return 0;
}

static int expand_prepare(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	const struct shape *o = &kop_out(op, 0)->shape;
	struct gather_state *g = xcalloc(1, sizeof *g);
	op->state = g;
	gather_init(g, o);
	int64_t in[SHAPE_MAX_DIMS];
	kstrides(&x->shape, in);
	for (int i = 0; i < o->ndim; i++) {
		int k = i - (o->ndim - x->shape.ndim);
		g->sstride[i] = k < 0 || x->shape.dim[k] == 1 ? 0 : in[k];
	}
	return 0;
}

/* channel_shuffle(x, groups) or ChannelShuffle: [N, g, C/g, *] read as
 * [N, C/g, g, *]. */
static int channel_shuffle_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const struct value *gv = op->call.module ? module_attr(op->call.module, "groups")
	                                         : op_arg(&op->call, 1, "groups");
	if (!gv || gv->kind != VAL_INT || gv->u.i <= 0)
		return error_set(e, "channel_shuffle(): bad groups");
	int64_t groups = gv->u.i, n = x->shape.dim[0], c = x->shape.dim[1];
	int64_t inner = shape_numel(&x->shape) / (n * c);
	struct shape s = {.ndim = 4, .dim = {n, c / groups, groups, inner}};
	struct gather_state *g = xcalloc(1, sizeof *g);
	op->state = g;
	gather_init(g, &s);
	g->sstride[0] = c * inner;
	g->sstride[1] = inner;
	g->sstride[2] = c / groups * inner;
	g->sstride[3] = 1;
	return 0;
}

/* pixel_shuffle, PixelShuffle: the output [B, C, H*r, W*r] read as
 * [B, C, H, r, W, r] from input channel c*r*r + i*r + j; pixel_unshuffle,
 * PixelUnshuffle: the output [B, C*r*r, H, W] read as [B, C, r, r, H, W]
 * from input pixel (h*r + i, w*r + j). Leading dims are one batch dim. */
static int pixel_shuffle_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const char *name = op->kernel->name;
	bool unshuffle = strstr(name, "nshuffle") != NULL;
	const char *attr = unshuffle ? "downscale_factor" : "upscale_factor";
	const struct value *rv =
	    op->call.module ? module_attr(op->call.module, attr) : op_arg(&op->call, 1, attr);
	if (!rv || rv->kind != VAL_INT || rv->u.i <= 0)
		return error_set(e, "%s: bad %s", name, attr);
	int64_t r = rv->u.i;
	const struct shape *xs = &x->shape;
	int nd = xs->ndim;
	int64_t c = xs->dim[nd - 3], h = xs->dim[nd - 2], w = xs->dim[nd - 1];
	int64_t b = c * h * w != 0 ? shape_numel(xs) / (c * h * w) : 0;
	struct gather_state *g = xcalloc(1, sizeof *g);
	op->state = g;
	if (!unshuffle) {
		int64_t oc = c / (r * r);
		struct shape s = {.ndim = 6, .dim = {b, oc, h, r, w, r}};
		gather_init(g, &s);
		int64_t str[6] = {c * h * w, r * r * h * w, w, r * h * w, 1, h * w};
		memcpy(g->sstride, str, sizeof str);
	} else {
		struct shape s = {.ndim = 6, .dim = {b, c, r, r, h / r, w / r}};
		gather_init(g, &s);
		int64_t str[6] = {c * h * w, h * w, w, 1, r * w, r};
		memcpy(g->sstride, str, sizeof str);
	}
	return 0;
}

/* ---- cat, stack ---- */

struct join_state {
	int64_t outer, inner, total; /* total: output length of the joined dim */
};

static const struct value *join_list(const struct kop *op, int *n)
{
	const struct value *v = op_arg(&op->call, 0, "tensors");
	if (v && v->kind == VAL_LIST) {
		*n = v->u.list.n;
		return v->u.list.items;
	}
	*n = op->call.nargs;
	return op->call.args;
}

static int join_prepare(struct kop *op, struct error *e)
{
	(void)e;
	int n;
	const struct value *items = join_list(op, &n);
	const struct shape *o = &kop_out(op, 0)->shape;
	bool stack = !strcmp(op->kernel->name, "stack");
	const struct value *dv = op_arg(&op->call, 1, "dim");
	if (dv && dv->kind != VAL_INT)
		dv = NULL;
	int64_t d = wrap_dim(dv ? dv->u.i : 0, o->ndim);
	(void)items;
	struct join_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->outer = st->inner = 1;
	for (int i = 0; i < d; i++)
		st->outer *= o->dim[i];
	for (int i = (int)d + 1; i < o->ndim; i++)
		st->inner *= o->dim[i];
	st->total = o->dim[d] * st->inner;
	(void)stack;
	return 0;
}

static int join_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct join_state *st = op->state;
	int n;
	const struct value *items = join_list(op, &n);
	struct tensor *y = kop_out(op, 0);
	size_t es = elem_size(y);
	char *dst = mut_data(y);
	int64_t at = 0;
	for (int i = 0; i < n; i++) {
		const struct tensor *x = &items[i].u.tensor.t;
		int64_t len = shape_numel(&x->shape) / (st->outer ? st->outer : 1);
		int64_t size[2] = {st->outer, len}, ss[2] = {len, 1}, ds[2] = {st->total, 1};
		if (len)
			kcopy_strided(dst + (size_t)at * es, ds, tensor_data(x), ss, size, 2, es);
		at += len;
	}
	return 0;
}

/* ---- chunk, split, unbind: output i is a block of the input ---- */

struct split_state {
	int64_t outer, total; /* total: input length of the split dim * inner */
};

static int split_prepare(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	bool unbind = !strcmp(op->kernel->name, "unbind");
	const struct value *dv = op_arg(&op->call, unbind ? 1 : 2, "dim");
	int64_t d = wrap_dim(dv && dv->kind == VAL_INT ? dv->u.i : 0, x->shape.ndim);
	struct split_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->outer = 1;
	for (int i = 0; i < d; i++)
		st->outer *= x->shape.dim[i];
	st->total = st->outer ? shape_numel(&x->shape) / st->outer : 0;
	return 0;
}

static int split_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct split_state *st = op->state;
	const struct tensor *x = kop_input(op);
	size_t es = elem_size(x);
	const char *src = tensor_data(x);
	int64_t at = 0;
	for (int i = 0;; i++) {
		struct tensor *y = kop_out(op, i);
		if (!y)
			break;
		int64_t len = st->outer ? shape_numel(&y->shape) / st->outer : 0;
		int64_t size[2] = {st->outer, len}, ss[2] = {st->total, 1}, ds[2] = {len, 1};
		if (len)
			kcopy_strided(mut_data(y), ds, src + (size_t)at * es, ss, size, 2, es);
		at += len;
	}
	return 0;
}

/* ---- getitem ---- */

enum idx_kind { IDX_BASIC, IDX_NEW, IDX_ADV };

struct getitem_state {
	int ndim; /* output dims */
	int64_t size[SHAPE_MAX_DIMS], sstride[SHAPE_MAX_DIMS];
	int64_t base;
	/* Advanced indexing: the index tensors (argument positions inside the
	 * index tuple), the input dims they index, the broadcast shape, and
	 * where its dims sit in the output. */
	int nadv;
	int adv_item[SHAPE_MAX_DIMS], adv_dim[SHAPE_MAX_DIMS];
	int64_t adv_stride[SHAPE_MAX_DIMS], adv_dimsize[SHAPE_MAX_DIMS];
	struct shape adv_shape;
	int adv_at; /* output dims [adv_at, adv_at + adv_shape.ndim) */
	int64_t adv_count;
};

/* Python's slice.indices() for a positive step. */
static void slice_range(const struct value *sl, int64_t len, int64_t *start, int64_t *step,
                        int64_t *count)
{
	int64_t st = sl->u.slice.has_step ? sl->u.slice.step : 1;
	int64_t a = sl->u.slice.has_start ? sl->u.slice.start : 0;
	int64_t b = sl->u.slice.has_stop ? sl->u.slice.stop : len;
	if (a < 0)
		a = a + len < 0 ? 0 : a + len;
	else if (a > len)
		a = len;
	if (b < 0)
		b = b + len < 0 ? 0 : b + len;
	else if (b > len)
		b = len;
	*start = a;
	*step = st;
	*count = b > a ? (b - a - 1) / st + 1 : 0;
}

/* The shape of an index: a tensor's, or [n] for a list of n ints (in
 * *list). */
static const struct shape *index_shape(const struct value *v, struct shape *list)
{
	if (v->kind == VAL_TENSOR)
		return &v->u.tensor.t.shape;
	*list = (struct shape){.ndim = 1, .dim = {v->u.list.n}};
	return list;
}

static const struct value *index_items(const struct kop *op, int *n)
{
	const struct value *idx = op_arg(&op->call, 1, NULL);
	if (idx->kind == VAL_LIST) {
		*n = idx->u.list.n;
		return idx->u.list.items;
	}
	*n = 1;
	return idx;
}

static int getitem_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	if (!x)
		x = kop_tensor(op, 0, NULL);
	const struct shape *xs = &x->shape;
	int n;
	const struct value *items = index_items(op, &n);
	int consumed = 0;
	for (int i = 0; i < n; i++)
		if (items[i].kind == VAL_INT || items[i].kind == VAL_SLICE ||
		    items[i].kind == VAL_TENSOR || items[i].kind == VAL_LIST)
			consumed++;
	struct getitem_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	int64_t in[SHAPE_MAX_DIMS];
	kstrides(xs, in);
	int k = 0, od = 0, adv_pos = -1;
	bool adv_split = false;
	for (int i = 0; i < n; i++) {
		const struct value *it = &items[i];
		switch (it->kind) {
		case VAL_NONE:
			st->size[od] = 1;
			st->sstride[od++] = 0;
			break;
		case VAL_ELLIPSIS:
			for (int q = 0; q < xs->ndim - consumed; q++, k++) {
				st->size[od] = xs->dim[k];
				st->sstride[od++] = in[k];
			}
			break;
		case VAL_INT: {
			int64_t v = it->u.i < 0 ? it->u.i + xs->dim[k] : it->u.i;
			st->base += v * in[k];
			k++;
			break;
		}
		case VAL_SLICE: {
			int64_t start, step, count;
			slice_range(it, xs->dim[k], &start, &step, &count);
			st->base += start * in[k];
			st->size[od] = count;
			st->sstride[od++] = step * in[k];
			k++;
			break;
		}
		case VAL_TENSOR:
		case VAL_LIST: /* a list of ints is an index tensor */
			if (adv_pos >= 0 && adv_pos != od)
				adv_split = true;
			if (adv_pos < 0)
				adv_pos = od;
			st->adv_item[st->nadv] = i;
			st->adv_dim[st->nadv] = k;
			st->adv_stride[st->nadv] = in[k];
			st->adv_dimsize[st->nadv++] = xs->dim[k];
			k++;
			break;
		default:
			return error_set(e, "getitem(): unsupported index");
		}
	}
	for (; k < xs->ndim; k++) {
		st->size[od] = xs->dim[k];
		st->sstride[od++] = in[k];
	}
	st->ndim = od;
	if (st->nadv) {
		/* The broadcast shape of the index tensors. */
		struct shape b = {.ndim = 0};
		for (int a = 0; a < st->nadv; a++) {
			struct shape ls;
			const struct shape *s = index_shape(&items[st->adv_item[a]], &ls);
			int nd = s->ndim > b.ndim ? s->ndim : b.ndim;
			struct shape r = {.ndim = nd};
			for (int q = 0; q < nd; q++) {
				int ia = b.ndim - nd + q, ib = s->ndim - nd + q;
				int64_t da = ia >= 0 ? b.dim[ia] : 1, db = ib >= 0 ? s->dim[ib] : 1;
				r.dim[q] = da == 1 ? db : da;
			}
			b = r;
		}
		st->adv_shape = b;
		st->adv_at = adv_split ? 0 : adv_pos;
		st->adv_count = shape_numel(&b);
		op->scratch_bytes = (size_t)(st->adv_count ? st->adv_count : 1) * sizeof(int64_t);
	}
	return 0;
}

static int64_t index_value(const struct value *v, int64_t i)
{
	if (v->kind == VAL_LIST)
		return v->u.list.items[i].u.i;
	const struct tensor *t = &v->u.tensor.t;
	if (t->dtype == DT_I64)
		return ((const int64_t *)tensor_data(t))[i];
	if (t->dtype == DT_I32)
		return ((const int32_t *)tensor_data(t))[i];
	return (int64_t)tensor_get(t, i);
}

static int getitem_run(struct kop *op, struct error *e)
{
	const struct getitem_state *st = op->state;
	const struct tensor *x = kop_tensor(op, 0, NULL);
	struct tensor *y = kop_out(op, 0);
	size_t es = elem_size(x);
	const char *src = (const char *)tensor_data(x) + (size_t)st->base * es;
	char *dst = mut_data(y);
	int64_t dstr[SHAPE_MAX_DIMS];
	kstrides(&y->shape, dstr);
	if (!st->nadv) {
		kcopy_strided(dst, dstr, src, st->sstride, st->size, st->ndim, es);
		return 0;
	}
	/* Offsets of every position of the broadcast index shape. */
	int n;
	const struct value *items = index_items(op, &n);
	int64_t *off = op->scratch;
	const struct shape *b = &st->adv_shape;
	for (int64_t p = 0; p < st->adv_count; p++)
		off[p] = 0;
	for (int a = 0; a < st->nadv; a++) {
		const struct value *t = &items[st->adv_item[a]];
		struct shape ls;
		const struct shape *ts = index_shape(t, &ls);
		int64_t tstr[SHAPE_MAX_DIMS];
		kstrides(ts, tstr);
		for (int64_t p = 0; p < st->adv_count; p++) {
			int64_t rem = p, ti = 0;
			for (int q = b->ndim - 1; q >= 0; q--) {
				int64_t iq = rem % b->dim[q];
				rem /= b->dim[q];
				int tq = ts->ndim - b->ndim + q;
				if (tq >= 0 && ts->dim[tq] != 1)
					ti += iq * tstr[tq];
			}
			int64_t v = index_value(t, ti), size = st->adv_dimsize[a];
			if (v < -size || v >= size)
				return error_setk(
				    e, ERR_INPUT,
				    "index %lld is out of bounds for dimension %d with size "
				    "%lld",
				    (long long)v, st->adv_dim[a], (long long)size);
			off[p] += (v < 0 ? v + size : v) * st->adv_stride[a];
		}
	}
	/* Output dims: basic ones before the index dims, the index dims, the
	 * rest. Walk the ones before and the index positions; copy the rest as
	 * a block. */
	int before = st->adv_at, after = st->ndim - before;
	int64_t bsize[SHAPE_MAX_DIMS], bstride[SHAPE_MAX_DIMS];
	int64_t outer = 1;
	for (int q = 0; q < before; q++) {
		bsize[q] = st->size[q];
		bstride[q] = st->sstride[q];
		outer *= bsize[q];
	}
	const int64_t *asize = st->size + before, *astride = st->sstride + before;
	int64_t block = 1;
	for (int q = 0; q < after; q++)
		block *= asize[q];
	int64_t odstr[SHAPE_MAX_DIMS];
	struct shape as = {.ndim = after};
	memcpy(as.dim, asize, (size_t)after * sizeof *as.dim);
	kstrides(&as, odstr);
	for (int64_t o = 0; o < outer; o++) {
		int64_t rem = o, boff = 0;
		for (int q = before - 1; q >= 0; q--) {
			boff += rem % bsize[q] * bstride[q];
			rem /= bsize[q];
		}
		for (int64_t p = 0; p < st->adv_count; p++) {
			char *d = dst + (size_t)((o * st->adv_count + p) * block) * es;
			const char *s = src + (size_t)(boff + off[p]) * es;
			if (after)
				kcopy_strided(d, odstr, s, astride, asize, after, es);
			else
				memcpy(d, s, es);
		}
	}
	return 0;
}

/* ---- pad ---- */

enum pad_mode { PM_CONSTANT, PM_REFLECT, PM_REPLICATE, PM_CIRCULAR };

struct pad_state {
	enum pad_mode mode;
	float value;
	int ndim;
	int64_t before[SHAPE_MAX_DIMS]; /* padding before each dim (may be < 0) */
	int64_t in[SHAPE_MAX_DIMS], out[SHAPE_MAX_DIMS];
};

/* F.pad(x, pad, mode, value), or a pad layer (ReflectionPad2d, ...). */
static int pad_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	const struct module *m = op->call.module;
	int64_t p[2 * SHAPE_MAX_DIMS];
	const struct value *pv = m ? module_attr(m, "padding") : NULL;
	int n = m ? (value_ints(pv, p, pv->u.list.n) < 0 ? -1 : pv->u.list.n)
	          : int_list(op, 1, "pad", p, 2 * SHAPE_MAX_DIMS);
	if (n < 0 || n % 2)
		return error_set(e, "pad(): bad padding");
	struct pad_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	const struct value *mv = m ? NULL : op_arg(&op->call, 2, "mode");
	const char *mode = m                           ? resample_pad_mode(m->type)
	                   : mv && mv->kind == VAL_STR ? mv->u.s
	                                               : "constant";
	st->mode = !strcmp(mode, "reflect")     ? PM_REFLECT
	           : !strcmp(mode, "replicate") ? PM_REPLICATE
	           : !strcmp(mode, "circular")  ? PM_CIRCULAR
	                                        : PM_CONSTANT;
	double v = 0;
	const struct value *vv = m ? module_attr(m, "value") : op_arg(&op->call, 3, "value");
	if (vv && vv->kind != VAL_NONE && !value_number(vv, &v))
		return error_set(e, "pad(): value must be a number");
	st->value = (float)v;
	st->ndim = x->shape.ndim;
	for (int i = 0; i < st->ndim; i++) {
		st->in[i] = x->shape.dim[i];
		st->out[i] = kop_out(op, 0)->shape.dim[i];
	}
	for (int i = 0; i < n / 2; i++)
		st->before[st->ndim - 1 - i] = p[2 * i];
	if (x->dtype != DT_F32 && st->value != 0)
		return error_set(e, "pad(): a fill value needs a float32 tensor");
	return 0;
}

/* Source index for output index i of a dim of n elements padded to out,
 * or -1 for the fill value. A circular padding wraps around what a
 * negative padding of either side leaves, as PyTorch's does. */
static int64_t pad_src(enum pad_mode mode, int64_t i, int64_t before, int64_t n, int64_t out)
{
	int64_t s = i - before;
	if (s >= 0 && s < n)
		return s;
	switch (mode) {
	case PM_CONSTANT:
		return -1;
	case PM_REFLECT:
		while (s < 0 || s >= n)
			s = s < 0 ? -s : 2 * (n - 1) - s;
		return s;
	case PM_REPLICATE:
		return s < 0 ? 0 : n - 1;
	case PM_CIRCULAR: {
		int64_t after = out - n - before;
		int64_t lo = before < 0 ? -before : 0, m = n - lo - (after < 0 ? -after : 0);
		return lo + ((s - lo) % m + m) % m;
	}
	}
	return -1;
}

static int pad_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct pad_state *st = op->state;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	size_t es = elem_size(x);
	const char *src = tensor_data(x);
	char *dst = mut_data(y);
	int64_t total = shape_numel(&y->shape), istr[SHAPE_MAX_DIMS];
	kstrides(&x->shape, istr);
	int64_t idx[SHAPE_MAX_DIMS] = {0};
	for (int64_t o = 0; o < total; o++) {
		int64_t off = 0;
		bool fill = false;
		for (int q = 0; q < st->ndim && !fill; q++) {
			int64_t s = pad_src(st->mode, idx[q], st->before[q], st->in[q], st->out[q]);
			if (s < 0)
				fill = true;
			else
				off += s * istr[q];
		}
		if (fill) {
			if (es == sizeof(float))
				memcpy(dst + (size_t)o * es, &st->value, es);
			else
				memset(dst + (size_t)o * es, 0, es);
		} else {
			memcpy(dst + (size_t)o * es, src + (size_t)off * es, es);
		}
		for (int q = st->ndim - 1; q >= 0; q--) {
			if (++idx[q] < st->out[q])
				break;
			idx[q] = 0;
		}
	}
	return 0;
}

/* ---- roll ---- */

struct roll_state {
	int ndim;
	bool flat;
	int64_t shift[SHAPE_MAX_DIMS];
};

static int roll_prepare(struct kop *op, struct error *e)
{
	const struct tensor *x = kop_input(op);
	int64_t s[SHAPE_MAX_DIMS], d[SHAPE_MAX_DIMS];
	int ns = int_list(op, 1, "shifts", s, SHAPE_MAX_DIMS);
	const struct value *dv = op_arg(&op->call, 2, "dims");
	struct roll_state *st = xcalloc(1, sizeof *st);
	op->state = st;
	st->ndim = x->shape.ndim;
	if (ns < 1)
		return error_set(e, "roll(): bad shifts");
	if (!dv || dv->kind == VAL_NONE) {
		st->flat = true;
		st->shift[0] = s[0];
		return 0;
	}
	int nd = dv->kind == VAL_LIST ? dv->u.list.n : 1;
	if (nd != ns || (dv->kind == VAL_LIST ? value_ints(dv, d, nd) : value_ints(dv, d, 1)) < 0)
		return error_set(e, "roll(): bad dims");
	for (int i = 0; i < nd; i++)
		st->shift[wrap_dim(d[i], st->ndim)] += s[i];
	return 0;
}

static int roll_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct roll_state *st = op->state;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	size_t es = elem_size(x);
	const char *src = tensor_data(x);
	char *dst = mut_data(y);
	int64_t total = shape_numel(&x->shape);
	if (st->flat) {
		for (int64_t o = 0; o < total; o++) {
			int64_t s = ((o - st->shift[0]) % total + total) % total;
			memcpy(dst + (size_t)o * es, src + (size_t)s * es, es);
		}
		return 0;
	}
	int64_t istr[SHAPE_MAX_DIMS], idx[SHAPE_MAX_DIMS] = {0};
	kstrides(&x->shape, istr);
	for (int64_t o = 0; o < total; o++) {
		int64_t off = 0;
		for (int q = 0; q < st->ndim; q++) {
			int64_t n = x->shape.dim[q];
			off += ((idx[q] - st->shift[q]) % n + n) % n * istr[q];
		}
		memcpy(dst + (size_t)o * es, src + (size_t)off * es, es);
		for (int q = st->ndim - 1; q >= 0; q--) {
			if (++idx[q] < x->shape.dim[q])
				break;
			idx[q] = 0;
		}
	}
	return 0;
}

/* ---- torchvision Swin: _patch_merging_pad ---- */

static int merge_pad_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	struct tensor *y = kop_out(op, 0);
	int nd = x->shape.ndim;
	int64_t h = x->shape.dim[nd - 3], w = x->shape.dim[nd - 2], c = x->shape.dim[nd - 1];
	int64_t h2 = (h + 1) / 2, w2 = (w + 1) / 2;
	int64_t hwc = h * w * c;
	int64_t lead = hwc > 0 ? shape_numel(&x->shape) / hwc : 0;
	size_t es = elem_size(x), row = (size_t)c * es;
	const char *src = tensor_data(x);
	char *dst = mut_data(y);
	static const int dh[4] = {0, 1, 0, 1}, dw[4] = {0, 0, 1, 1};
	for (int64_t l = 0; l < lead; l++)
		for (int64_t i = 0; i < h2; i++)
			for (int64_t j = 0; j < w2; j++)
				for (int q = 0; q < 4; q++) {
					int64_t si = 2 * i + dh[q], sj = 2 * j + dw[q];
					char *d =
					    dst + (size_t)(((l * h2 + i) * w2 + j) * 4 + q) * row;
					if (si < h && sj < w)
						memcpy(d,
						       src + (size_t)((l * h + si) * w + sj) * row,
						       row);
					else
						memset(d, 0, row);
				}
	return 0;
}

/* ---- torchvision MViT: _unsqueeze, whose tensor is item 0 of a tuple ---- */

static int mvit_unsqueeze_run(struct kop *op, struct error *e)
{
	(void)e;
	const struct tensor *x = kop_input(op);
	void *y = mut_data(kop_out(op, 0));
	if (y != tensor_data(x))
		memcpy(y, tensor_data(x), tensor_nbytes(x));
	return 0;
}

#define ALIAS(nm, kind)                                                                            \
	{                                                                                          \
		nm, kind, KF_ALIAS | KF_ANY_DTYPE, NULL, NULL                                      \
	}
#define MOVE(nm, prep, run)                                                                        \
	{                                                                                          \
		nm, OP_FUNCTION, KF_ANY_DTYPE, prep, run                                           \
	}

const struct kernel kernels_layout[] = {
    ALIAS("Flatten", OP_MODULE),
    ALIAS("Identity", OP_MODULE),
    ALIAS("Dropout", OP_MODULE),
    ALIAS("StochasticDepth", OP_MODULE),
    ALIAS("view", OP_FUNCTION),
    ALIAS("reshape", OP_FUNCTION),
    ALIAS("flatten", OP_FUNCTION),
    ALIAS("unsqueeze", OP_FUNCTION),
    ALIAS("squeeze", OP_FUNCTION),
    ALIAS("contiguous", OP_FUNCTION),
    ALIAS("clone", OP_FUNCTION),
    ALIAS("detach", OP_FUNCTION),
    {"to", OP_FUNCTION, KF_ALIAS | KF_CAST | KF_ANY_DTYPE, NULL, kcast_run},
    {"type_as", OP_FUNCTION, KF_ALIAS | KF_CAST | KF_ANY_DTYPE, NULL, kcast_run},
    {"float", OP_FUNCTION, KF_ALIAS | KF_CAST | KF_ANY_DTYPE, NULL, kcast_run},
    ALIAS("dropout", OP_FUNCTION),
    ALIAS("stochastic_depth", OP_FUNCTION),
    {"Permute", OP_MODULE, KF_ANY_DTYPE, permute_prepare, gather_run},
    MOVE("permute", permute_prepare, gather_run),
    MOVE("transpose", permute_prepare, gather_run),
    MOVE("swapaxes", permute_prepare, gather_run),
    MOVE("swapdims", permute_prepare, gather_run),
    MOVE("expand", expand_prepare, gather_run),
    MOVE("expand_as", expand_prepare, gather_run),
    MOVE("channel_shuffle", channel_shuffle_prepare, gather_run),
    MOVE("cat", join_prepare, join_run),
    MOVE("concat", join_prepare, join_run),
    MOVE("stack", join_prepare, join_run),
    MOVE("chunk", split_prepare, split_run),
    MOVE("split", split_prepare, split_run),
    MOVE("tensor_split", split_prepare, split_run),
    MOVE("unbind", split_prepare, split_run),
    MOVE("getitem", getitem_prepare, getitem_run),
    MOVE("pad", pad_prepare, pad_run),
    MOVE("roll", roll_prepare, roll_run),
    MOVE("_patch_merging_pad", NULL, merge_pad_run),
    MOVE("_unsqueeze", NULL, mvit_unsqueeze_run),
    ALIAS("_squeeze", OP_FUNCTION),
    ALIAS("Dropout1d", OP_MODULE),
    ALIAS("Dropout2d", OP_MODULE),
    ALIAS("Dropout3d", OP_MODULE),
    ALIAS("AlphaDropout", OP_MODULE),
    ALIAS("FeatureAlphaDropout", OP_MODULE),
    ALIAS("dropout1d", OP_FUNCTION),
    ALIAS("dropout2d", OP_FUNCTION),
    ALIAS("dropout3d", OP_FUNCTION),
    ALIAS("alpha_dropout", OP_FUNCTION),
    ALIAS("feature_alpha_dropout", OP_FUNCTION),
    ALIAS("Unflatten", OP_MODULE),
    ALIAS("unflatten", OP_FUNCTION),
    {"ChannelShuffle", OP_MODULE, KF_ANY_DTYPE, channel_shuffle_prepare, gather_run},
    {"PixelShuffle", OP_MODULE, KF_ANY_DTYPE, pixel_shuffle_prepare, gather_run},
    {"PixelUnshuffle", OP_MODULE, KF_ANY_DTYPE, pixel_shuffle_prepare, gather_run},
    MOVE("pixel_shuffle", pixel_shuffle_prepare, gather_run),
    MOVE("pixel_unshuffle", pixel_shuffle_prepare, gather_run),
    {"ConstantPad1d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ConstantPad2d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ConstantPad3d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ZeroPad2d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ReflectionPad1d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ReflectionPad2d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ReflectionPad3d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ReplicationPad1d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ReplicationPad2d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {"ReplicationPad3d", OP_MODULE, KF_ANY_DTYPE, pad_prepare, pad_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
