/* kernels_rnn.c - recurrent layers: RNN, LSTM, GRU and RNNCell, LSTMCell,
 * GRUCell, as PyTorch 1.13 computes them in eval (dropout between layers
 * is off).
 *
 * Each layer and direction first computes the input part of its gates for
 * the whole sequence, one product [L*N, in] x W_ih^T (+ b_ih); then the
 * recurrence runs step by step: h W_hh^T (+ b_hh) added to that step's
 * input part, then the gates:
 *   RNN   h' = tanh or relu(x_t + h_t)
 *   LSTM  i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (x_t + h_t);
 *         c' = f c + i g; h' = o tanh(c') (times W_hr^T with proj_size)
 *   GRU   r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z);
 *         n = tanh(x_n + r h_n); h' = (1 - z) n + z h
 * The sequence is worked on time-major ([L, N, features]); a batch_first
 * input is reordered on the way in and the output on the way out. A cell is
 * one step with L = 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "core/util.h"

enum rnn_mode { RNN_TANH, RNN_RELU, RNN_LSTM, RNN_GRU };

/* The weights of one layer and direction (biases and w_hr may be NULL). */
struct rnn_weights {
	const float *w_ih, *w_hh, *b_ih, *b_hh, *w_hr;
	int64_t in; /* the layer's input size */
};

struct rnn_state {
	enum rnn_mode mode;
	int64_t gates, hidden, out, layers, dirs, len, n, input;
	bool batch_first; /* batched and batch_first: reorder in and out */
	bool cell;
	/* outputs: the sequence (NULL for a cell), h_n and c_n (NULL but for
	 * LSTMs) */
	float *y, *hn, *cn;
	/* initial states, or NULL for zeros */
	const float *h0, *c0;
	struct rnn_weights w[]; /* layers * dirs */
};

/* Tensor i of a nested output (j < 0: item i itself). */
static float *out_at(struct kop *op, int i, int j)
{
	struct value *v = &op->call.out;
	if (v->kind == VAL_LIST)
		v = &v->u.list.items[i];
	if (j >= 0 && v->kind == VAL_LIST)
		v = &v->u.list.items[j];
	return v->kind == VAL_TENSOR ? kt_f32(&v->u.tensor.t) : NULL;
}

static const float *param_or_null(const struct kop *op, const char *name)
{
	const struct tensor *t = kop_param(op, name);
	return t ? kt_f32(t) : NULL;
}

static enum rnn_mode mode_of(const struct module *m)
{
	if (strncmp(m->type, "LSTM", 4) == 0)
		return RNN_LSTM;
	if (strncmp(m->type, "GRU", 3) == 0)
		return RNN_GRU;
	const char *act = module_attr_str(m, "nonlinearity", "tanh");
	return strcmp(act, "relu") == 0 ? RNN_RELU : RNN_TANH;
}

/* Reads the weights of layer l, direction dir ("_l0", "_l0_reverse"; a
 * cell's have no suffix). */
static int weights_of(struct kop *op, struct rnn_state *st, int64_t l, int64_t dir,
                      struct error *e)
{
	char sfx[40] = "", name[64];
	if (!st->cell)
		snprintf(sfx, sizeof sfx, "_l%lld%s", (long long)l, dir ? "_reverse" : "");
	struct rnn_weights *w = &st->w[l * st->dirs + dir];
	snprintf(name, sizeof name, "weight_ih%s", sfx);
	w->w_ih = param_or_null(op, name);
	snprintf(name, sizeof name, "weight_hh%s", sfx);
	w->w_hh = param_or_null(op, name);
	snprintf(name, sizeof name, "bias_ih%s", sfx);
	w->b_ih = param_or_null(op, name);
	snprintf(name, sizeof name, "bias_hh%s", sfx);
	w->b_hh = param_or_null(op, name);
	snprintf(name, sizeof name, "weight_hr%s", sfx);
	w->w_hr = param_or_null(op, name);
	w->in = l == 0 ? st->input : st->out * st->dirs;
	if (!w->w_ih || !w->w_hh || (st->out != st->hidden && !w->w_hr))
		return error_set(e, "%s: missing weights for layer %lld", op->call.module->type,
		                 (long long)l);
	return 0;
}

static int rnn_prepare(struct kop *op, struct error *e)
{
	const struct module *m = op->call.module;
	const struct tensor *x = kop_input(op);
	int64_t layers = module_attr_int(m, "num_layers", 1);
	int64_t dirs = module_attr_bool(m, "bidirectional", false) ? 2 : 1;
	struct rnn_state *st =
	    xcalloc(1, sizeof *st + (size_t)(layers * dirs) * sizeof(struct rnn_weights));
	op->state = st;
	st->layers = layers;
	st->dirs = dirs;
	st->mode = mode_of(m);
	st->gates = st->mode == RNN_LSTM ? 4 : st->mode == RNN_GRU ? 3 : 1;
	st->hidden = module_attr_int(m, "hidden_size", 1);
	int64_t proj = module_attr_int(m, "proj_size", 0);
	st->out = proj > 0 ? proj : st->hidden;
	st->input = x->shape.dim[x->shape.ndim - 1];
	st->cell = strstr(m->type, "Cell") != NULL;
	bool lstm = st->mode == RNN_LSTM;
	if (st->cell) {
		st->len = 1;
		st->n = x->shape.ndim == 2 ? x->shape.dim[0] : 1;
		st->hn = out_at(op, 0, lstm ? 0 : -1);
		st->cn = lstm ? out_at(op, 1, -1) : NULL;
	} else {
		bool batched = x->shape.ndim == 3;
		st->batch_first = batched && module_attr_bool(m, "batch_first", false);
		st->len = x->shape.dim[st->batch_first ? 1 : 0];
		st->n = batched ? x->shape.dim[st->batch_first ? 0 : 1] : 1;
		st->y = out_at(op, 0, -1);
		st->hn = out_at(op, 1, lstm ? 0 : -1);
		st->cn = lstm ? out_at(op, 1, 1) : NULL;
	}
	const struct value *hx = op_arg(&op->call, 1, "hx");
	if (hx && hx->kind == VAL_TENSOR) {
		st->h0 = kt_f32(&hx->u.tensor.t);
	} else if (hx && hx->kind == VAL_LIST && hx->u.list.n == 2) {
		st->h0 = kt_f32(&hx->u.list.items[0].u.tensor.t);
		st->c0 = kt_f32(&hx->u.list.items[1].u.tensor.t);
	}
	for (int64_t l = 0; l < st->layers; l++)
		for (int64_t d = 0; d < st->dirs; d++)
			if (weights_of(op, st, l, d, e) < 0)
				return -1;
	/* x in time-major order, the input part of the gates for one layer and
	 * direction, two layer outputs, and per step: h W_hh^T, h, c and the
	 * LSTM's h before its projection. */
	int64_t rows = st->len * st->n, gh = st->gates * st->hidden;
	int64_t floats = (st->batch_first ? rows * st->input : 0) + rows * gh +
	                 2 * rows * st->dirs * st->out + st->n * gh + st->n * st->out +
	                 2 * st->n * st->hidden;
	op->scratch_bytes = (size_t)floats * sizeof(float);
	return 0;
}

static inline float sigmoid(float v)
{
	return 1.0f / (1.0f + expf(-v));
}

/* One step for n rows: gx [n, gh] the input part (its row stride ldx),
 * gh_ [n, gh] h W_hh^T + b_hh; h [n, out] and c [n, hidden] updated in
 * place (hfull [n, hidden] holds the LSTM's h before W_hr). */
static void cell_step(const struct rnn_state *st, const struct rnn_weights *w, const float *gx,
                      int64_t ldx, const float *gh_, float *h, float *c, float *hfull)
{
	int64_t H = st->hidden, n = st->n;
	for (int64_t r = 0; r < n; r++) {
		const float *x = gx + r * ldx, *g = gh_ + r * st->gates * H;
		switch (st->mode) {
		case RNN_TANH:
		case RNN_RELU:
			for (int64_t j = 0; j < H; j++) {
				float v = x[j] + g[j];
				h[r * H + j] = st->mode == RNN_TANH ? tanhf(v) : (v > 0 ? v : 0);
			}
			break;
		case RNN_LSTM:
			for (int64_t j = 0; j < H; j++) {
				float i = sigmoid(x[j] + g[j]);
				float f = sigmoid(x[H + j] + g[H + j]);
				float gg = tanhf(x[2 * H + j] + g[2 * H + j]);
				float o = sigmoid(x[3 * H + j] + g[3 * H + j]);
				float cv = f * c[r * H + j] + i * gg;
				c[r * H + j] = cv;
				hfull[r * H + j] = o * tanhf(cv);
			}
			break;
		case RNN_GRU:
			for (int64_t j = 0; j < H; j++) {
				float rg = sigmoid(x[j] + g[j]);
				float z = sigmoid(x[H + j] + g[H + j]);
				float nn = tanhf(x[2 * H + j] + rg * g[2 * H + j]);
				h[r * H + j] = (1.0f - z) * nn + z * h[r * H + j];
			}
			break;
		}
	}
	if (st->mode != RNN_LSTM)
		return;
	if (w->w_hr)
		kgemm(true, n, st->out, H, hfull, H, w->w_hr, H, 0.0f, h, st->out);
	else
		memcpy(h, hfull, (size_t)(n * H) * sizeof(float));
}

/* dst[rows, cols] += b[cols] (b may be NULL). */
static void add_bias(float *dst, int64_t rows, int64_t cols, const float *b)
{
	if (b)
		for (int64_t r = 0; r < rows; r++)
			for (int64_t j = 0; j < cols; j++)
				dst[r * cols + j] += b[j];
}

/* Copies [a, b, f] to [b, a, f]. */
static void swap01(float *dst, const float *src, int64_t a, int64_t b, int64_t f)
{
	for (int64_t i = 0; i < a; i++)
		for (int64_t j = 0; j < b; j++)
			memcpy(dst + (j * a + i) * f, src + (i * b + j) * f, (size_t)f * sizeof(float));
}

static int rnn_run(struct kop *op, struct error *er)
{
	(void)er;
	const struct rnn_state *st = op->state;
	int64_t L = st->len, N = st->n, H = st->hidden, O = st->out, D = st->dirs;
	int64_t rows = L * N, gh = st->gates * H;
	const float *x = kt_f32(kop_input(op));
	float *s = op->scratch;
	float *xt = s;
	if (st->batch_first) {
		swap01(xt, x, N, L, st->input);
		x = xt;
		s += rows * st->input;
	}
	float *gx = s, *buf[2] = {gx + rows * gh, gx + rows * gh + rows * D * O};
	float *ghh = buf[1] + rows * D * O, *h = ghh + N * gh, *c = h + N * O, *hfull = c + N * H;
	const float *in = x;
	for (int64_t l = 0; l < st->layers; l++) {
		/* a cell writes its h straight into h' */
		float *y = st->cell ? NULL : buf[l % 2];
		for (int64_t d = 0; d < D; d++) {
			const struct rnn_weights *w = &st->w[l * D + d];
			int64_t k = l * D + d;
			kgemm(true, rows, gh, w->in, in, w->in, w->w_ih, w->in, 0.0f, gx, gh);
			add_bias(gx, rows, gh, w->b_ih);
			float *hk = st->cell ? st->hn : h;
			float *ck = st->cell ? st->cn : c;
			if (st->h0)
				memcpy(hk, st->h0 + k * N * O, (size_t)(N * O) * sizeof(float));
			else
				memset(hk, 0, (size_t)(N * O) * sizeof(float));
			if (ck && st->c0)
				memcpy(ck, st->c0 + k * N * H, (size_t)(N * H) * sizeof(float));
			else if (ck)
				memset(ck, 0, (size_t)(N * H) * sizeof(float));
			for (int64_t step = 0; step < L; step++) {
				int64_t t = d ? L - 1 - step : step;
				kgemm(true, N, gh, O, hk, O, w->w_hh, O, 0.0f, ghh, gh);
				add_bias(ghh, N, gh, w->b_hh);
				cell_step(st, w, gx + t * N * gh, gh, ghh, hk, ck, hfull);
				if (y)
					for (int64_t r = 0; r < N; r++)
						memcpy(y + (t * N + r) * D * O + d * O, hk + r * O,
						       (size_t)O * sizeof(float));
			}
			if (!st->cell) {
				memcpy(st->hn + k * N * O, hk, (size_t)(N * O) * sizeof(float));
				if (st->cn)
					memcpy(st->cn + k * N * H, ck, (size_t)(N * H) * sizeof(float));
			}
		}
		in = y;
	}
	if (st->cell)
		return 0;
	const float *last = buf[(st->layers - 1) % 2];
	if (st->batch_first)
		swap01(st->y, last, L, N, D * O);
	else
		memcpy(st->y, last, (size_t)(rows * D * O) * sizeof(float));
	return 0;
}

/* ---- the table ---- */

const struct kernel kernels_rnn[] = {
    {"RNN", OP_MODULE, 0, rnn_prepare, rnn_run},
    {"LSTM", OP_MODULE, 0, rnn_prepare, rnn_run},
    {"GRU", OP_MODULE, 0, rnn_prepare, rnn_run},
    {"RNNCell", OP_MODULE, 0, rnn_prepare, rnn_run},
    {"LSTMCell", OP_MODULE, 0, rnn_prepare, rnn_run},
    {"GRUCell", OP_MODULE, 0, rnn_prepare, rnn_run},
    {NULL, OP_MODULE, 0, NULL, NULL},
};
