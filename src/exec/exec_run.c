/* exec_run.c - running a plan: kernels in order, module statistics,
 * timings, and the outputs handed back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec_impl.h"
#include "core/registry.h"
#include "core/util.h"

int xrun_step(struct exec_plan *p, struct xstep *s, struct error *e)
{
	s->op.scratch = p->scratch;
	if (s->view || s->op.kernel->run(&s->op, e) == 0)
		return 0;
	char path[2600];
	return error_prefix(e, "%s", op_path(&s->op.call, path, sizeof path));
}

/* ---- running ---- */

void exec_stat_compute(const float *x, int64_t n, struct exec_stat *st)
{
	double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
	int64_t finite = 0;
	st->count = n;
	st->nan = st->inf = 0;
	for (int64_t i = 0; i < n; i++) {
		float v = x[i];
		if (isnan(v)) {
			st->nan++;
			continue;
		}
		if (isinf(v)) {
			st->inf++;
			continue;
		}
		sum += v;
		finite++;
		if (v < mn)
			mn = v;
		if (v > mx)
			mx = v;
	}
	double mean = finite ? sum / (double)finite : NAN;
	for (int64_t i = 0; i < n; i++)
		if (isfinite(x[i]))
			sq += ((double)x[i] - mean) * ((double)x[i] - mean);
	st->mean = mean;
	st->std = finite ? sqrt(sq / (double)finite) : NAN;
	st->min = finite ? mn : NAN;
	st->max = finite ? mx : NAN;
}

struct stat_ctx {
	const struct xmark *mark;
	int output;
};

static void stat_tensors(struct exec_plan *p, const struct value *v, struct stat_ctx *sc)
{
	if (v->kind == VAL_LIST) {
		for (int i = 0; i < v->u.list.n; i++)
			stat_tensors(p, &v->u.list.items[i], sc);
		return;
	}
	if (v->kind != VAL_TENSOR || v->u.tensor.t.dtype != DT_F32)
		return;
	xgrow(&p->stats, &p->stats_cap, p->nstats + 1, sizeof *p->stats);
	struct exec_stat *st = &p->stats[p->nstats++];
	memset(st, 0, sizeof *st);
	st->module = sc->mark->module;
	st->call = sc->mark->call;
	st->output = sc->output++;
	st->shape = v->u.tensor.t.shape;
	exec_stat_compute(tensor_data(&v->u.tensor.t), shape_numel(&v->u.tensor.t.shape), st);
	if (p->opts.on_output)
		p->opts.on_output(p->opts.on_output_ctx, st, tensor_data(&v->u.tensor.t));
}

static void take_stats(struct exec_plan *p, int *next_mark, int after)
{
	xbounds_results(p);
	while (*next_mark < p->nmarks && p->marks[*next_mark].after <= after) {
		struct stat_ctx sc = {&p->marks[*next_mark], 0};
		stat_tensors(p, &p->marks[*next_mark].out, &sc);
		(*next_mark)++;
	}
}

/* Sets *out to a deep copy of a bound value whose tensors get their own
 * storage. Returns 0, or -1 with e set and *out freed when memory is short. */
static int copy_out(const struct value *v, struct value *out, struct error *e)
{
	if (v->kind == VAL_LIST) {
		*out = value_list_like(v);
		for (int i = 0; i < v->u.list.n; i++)
			if (copy_out(&v->u.list.items[i], &out->u.list.items[i], e) < 0) {
				value_free(out);
				*out = value_none();
				return -1;
			}
		return 0;
	}
	if (v->kind != VAL_TENSOR) {
		*out = value_copy(v);
		return 0;
	}
	struct value c = *v;
	c.u.tensor.t.storage = NULL;
	c.u.tensor.t.offset = 0;
	*out = value_none();
	if (tensor_alloc(&c.u.tensor.t, e) < 0)
		return error_prefix(e, "the output");
	memcpy(c.u.tensor.t.storage->data, tensor_data(&v->u.tensor.t),
	       tensor_nbytes(&v->u.tensor.t));
	*out = c;
	return 0;
}

/* Input i has the planned shape, data, and a dtype the plan takes: any
 * floating one for a floating input (converted), the declared one for an
 * integer or bool input. */
static int check_input(const struct exec_plan *p, int i, const struct tensor *t, struct error *e)
{
	const char *name = p->model->inputs[i].name;
	char want[160], got[160];
	if (!shape_equal(&t->shape, &p->in_shapes[i]))
		return error_setk(e, ERR_INPUT, "input '%s' is %s, the plan is for %s", name,
		                  shape_format(&t->shape, got, sizeof got),
		                  shape_format(&p->in_shapes[i], want, sizeof want));
	if (!tensor_data(t))
		return error_setk(e, ERR_INPUT, "input '%s' has no data", name);
	enum dtype dt = p->in_dtypes[i];
	if (dt == DT_F32 ? !xdtype_is_float(t->dtype) : t->dtype != dt)
		return error_setk(e, ERR_INPUT, "input '%s' is %s; the model takes %s", name,
		                  dtype_name(t->dtype),
		                  dt == DT_F32 ? "a floating tensor" : dtype_name(dt));
	return 0;
}

int exec_run(struct exec_plan *p, const struct tensor *inputs, int ninputs, struct value *out,
             struct error *e)
{
	*out = value_none();
	if (ninputs != p->ninputs)
		return error_setk(e, ERR_INPUT, "the model takes %d input%s, got %d", p->ninputs,
		                  p->ninputs == 1 ? "" : "s", ninputs);
	for (int i = 0; i < ninputs; i++)
		if (check_input(p, i, &inputs[i], e) < 0)
			return -1;
	for (int i = 0; i < ninputs; i++) {
		const struct xbuf *xb = &p->bufs[xbuf_find(p, p->slots[p->in_slots[i]].buf)];
		void *dst = (char *)p->arena->data + xb->offset;
		if (p->in_dtypes[i] == DT_F32)
			tensor_to_f32(&inputs[i], dst);
		else
			memcpy(dst, tensor_data(&inputs[i]), tensor_nbytes(&inputs[i]));
	}
	p->nstats = 0;
	int next_mark = 0;
	if (p->opts.stats)
		take_stats(p, &next_mark, 0);
	for (int i = 0; i < p->nsteps; i++) {
		struct xstep *s = &p->steps[i];
		if (s->active && !s->constant) {
			struct timespec t0, t1;
			if (p->prof)
				clock_gettime(CLOCK_MONOTONIC, &t0);
			if (xbounds_sync(p, s, true, e) < 0 || xrun_step(p, s, e) < 0)
				return -1;
			xbounds_publish(p, s);
			if (p->prof) {
				clock_gettime(CLOCK_MONOTONIC, &t1);
				p->prof[i].ms += (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
				p->prof[i].runs++;
			}
		}
		if (p->opts.stats)
			take_stats(p, &next_mark, i + 1);
	}
	p->have_stats = p->opts.stats;
	xbounds_results(p);
	return copy_out(&p->output, out, e);
}
