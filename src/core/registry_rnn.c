/* registry_rnn.c - recurrent layers: RNN, LSTM, GRU and their cells
 * RNNCell, LSTMCell, GRUCell.
 *
 * The parameters are PyTorch's: per layer and direction weight_ih_lK,
 * weight_hh_lK, bias_ih_lK, bias_hh_lK and, for an LSTM with proj_size,
 * weight_hr_lK, the reverse direction's with the suffix _reverse; a cell
 * has weight_ih, weight_hh, bias_ih, bias_hh. The gates are stacked along
 * dimension 0 of each weight (RNN 1, LSTM 4: i f g o, GRU 3: r z n).
 *
 * No attribute alone fixes the output's feature size (hidden_size,
 * proj_size and bidirectional do together), so the types have no size_attr:
 * a break after one names the layer ("from lstm"), and `head` does not
 * take them for classifier layers.
 *
 * Mult-adds: the gate products of every time step, layer and direction,
 * L * N * gates * hidden * (layer_input + hidden_out), plus the projection
 * L * N * hidden * proj_size of an LSTM with proj_size. */
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

/* The gate count of a recurrent type: RNN 1, LSTM 4, GRU 3. */
static int64_t rnn_gates(const char *type)
{
	if (strncmp(type, "LSTM", 4) == 0)
		return 4;
	if (strncmp(type, "GRU", 3) == 0)
		return 3;
	return 1;
}

/* What a recurrent module's attributes fix. */
struct rnn_dims {
	int64_t gates, input, hidden, proj, layers, dirs;
	int64_t out; /* the size of h: proj_size, or hidden_size when there is none */
	bool bias, batch_first;
};

static struct rnn_dims rnn_dims_of(const struct module *m)
{
	struct rnn_dims d = {
	    .gates = rnn_gates(m->type),
	    .input = module_attr_int(m, "input_size", 1),
	    .hidden = module_attr_int(m, "hidden_size", 1),
	    .proj = module_attr_int(m, "proj_size", 0),
	    .layers = module_attr_int(m, "num_layers", 1),
	    .dirs = module_attr_bool(m, "bidirectional", false) ? 2 : 1,
	    .bias = module_attr_bool(m, "bias", true),
	    .batch_first = module_attr_bool(m, "batch_first", false),
	};
	d.out = d.proj > 0 ? d.proj : d.hidden;
	return d;
}

/* ---- attributes and checks ---- */

static const struct attr_spec rnn_attrs[] = {
    {"input_size", AT_INT, NULL},     {"hidden_size", AT_INT, NULL},
    {"num_layers", AT_INT, "1"},      {"nonlinearity", AT_STR, "'tanh'"},
    {"bias", AT_BOOL, "True"},        {"batch_first", AT_BOOL, "False"},
    {"dropout", AT_FLOAT, "0.0"},     {"bidirectional", AT_BOOL, "False"},
};

static const struct attr_spec lstm_attrs[] = {
    {"input_size", AT_INT, NULL},     {"hidden_size", AT_INT, NULL},
    {"num_layers", AT_INT, "1"},      {"bias", AT_BOOL, "True"},
    {"batch_first", AT_BOOL, "False"}, {"dropout", AT_FLOAT, "0.0"},
    {"bidirectional", AT_BOOL, "False"}, {"proj_size", AT_INT, "0"},
};

static const struct attr_spec gru_attrs[] = {
    {"input_size", AT_INT, NULL},     {"hidden_size", AT_INT, NULL},
    {"num_layers", AT_INT, "1"},      {"bias", AT_BOOL, "True"},
    {"batch_first", AT_BOOL, "False"}, {"dropout", AT_FLOAT, "0.0"},
    {"bidirectional", AT_BOOL, "False"},
};

static const struct attr_spec rnn_cell_attrs[] = {
    {"input_size", AT_INT, NULL},
    {"hidden_size", AT_INT, NULL},
    {"bias", AT_BOOL, "True"},
    {"nonlinearity", AT_STR, "'tanh'"},
};

static const struct attr_spec cell_attrs[] = {
    {"input_size", AT_INT, NULL},
    {"hidden_size", AT_INT, NULL},
    {"bias", AT_BOOL, "True"},
};

/* input_size and hidden_size positive, nonlinearity 'tanh' or 'relu' (RNN
 * and RNNCell only have one). */
/* Sizes beyond these are refused, so that the gate and parameter
 * arithmetic cannot overflow and a layer count cannot make millions of
 * tensors. */
#define RNN_MAX_SIZE   INT32_MAX
#define RNN_MAX_LAYERS 4096

static int check_at_most(const struct module *m, const char *name, int64_t max, struct error *e)
{
	int64_t v = module_attr_int(m, name, 1);
	if (v > max)
		return error_set(e, "%s: %s must be at most %lld, got %lld", m->type, name,
		                 (long long)max, (long long)v);
	return 0;
}

static int cell_check(struct module *m, struct error *e)
{
	if (op_check_positive(m, "input_size", e) || op_check_positive(m, "hidden_size", e) ||
	    check_at_most(m, "input_size", RNN_MAX_SIZE, e) ||
	    check_at_most(m, "hidden_size", RNN_MAX_SIZE, e))
		return -1;
	const char *act = module_attr_str(m, "nonlinearity", "tanh");
	if (strcmp(act, "tanh") != 0 && strcmp(act, "relu") != 0)
		return error_set(e, "%s: nonlinearity must be 'tanh' or 'relu', got '%s'", m->type,
		                 act);
	return 0;
}

static int rnn_check(struct module *m, struct error *e)
{
	if (cell_check(m, e) || op_check_positive(m, "num_layers", e) ||
	    check_at_most(m, "num_layers", RNN_MAX_LAYERS, e) ||
	    op_check_probability(m, "dropout", e))
		return -1;
	int64_t proj = module_attr_int(m, "proj_size", 0);
	if (proj < 0)
		return error_set(e, "%s: proj_size must be zero or positive, got %lld", m->type,
		                 (long long)proj);
	if (proj >= module_attr_int(m, "hidden_size", 1))
		return error_set(e, "%s: proj_size must be smaller than hidden_size", m->type);
	return 0;
}

/* ---- parameters and initialisation ---- */

static void add_2d(struct module *m, const char *name, int64_t rows, int64_t cols)
{
	int64_t d[2] = {rows, cols};
	op_add_param(m, name, 2, d, false);
}

/* weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 [, weight_hr_l0],
 * then _reverse, layer after layer: PyTorch's _flat_weights_names. */
static int rnn_params(struct module *m, struct error *e)
{
	(void)e;
	struct rnn_dims d = rnn_dims_of(m);
	int64_t gh = d.gates * d.hidden;
	for (int64_t l = 0; l < d.layers; l++)
		for (int64_t dir = 0; dir < d.dirs; dir++) {
			const char *sfx = dir ? "_reverse" : "";
			int64_t in = l == 0 ? d.input : d.out * d.dirs;
			char name[64];
			snprintf(name, sizeof name, "weight_ih_l%lld%s", (long long)l, sfx);
			add_2d(m, name, gh, in);
			snprintf(name, sizeof name, "weight_hh_l%lld%s", (long long)l, sfx);
			add_2d(m, name, gh, d.out);
			if (d.bias) {
				snprintf(name, sizeof name, "bias_ih_l%lld%s", (long long)l, sfx);
				op_add_param(m, name, 1, &gh, false);
				snprintf(name, sizeof name, "bias_hh_l%lld%s", (long long)l, sfx);
				op_add_param(m, name, 1, &gh, false);
			}
			if (d.proj > 0) {
				snprintf(name, sizeof name, "weight_hr_l%lld%s", (long long)l, sfx);
				add_2d(m, name, d.proj, d.hidden);
			}
		}
	return 0;
}

static int cell_params(struct module *m, struct error *e)
{
	(void)e;
	struct rnn_dims d = rnn_dims_of(m);
	int64_t gh = d.gates * d.hidden;
	add_2d(m, "weight_ih", gh, d.input);
	add_2d(m, "weight_hh", gh, d.hidden);
	if (d.bias) {
		op_add_param(m, "bias_ih", 1, &gh, false);
		op_add_param(m, "bias_hh", 1, &gh, false);
	}
	return 0;
}

/* reset_parameters of RNNBase and RNNCellBase: uniform_(-1/sqrt(hidden),
 * 1/sqrt(hidden)) on every parameter, in order. */
static int rnn_init(struct module *m, struct rng *r, struct error *e)
{
	(void)e;
	int64_t hidden = module_attr_int(m, "hidden_size", 1);
	double stdv = hidden > 0 ? 1.0 / sqrt((double)hidden) : 0.0;
	for (int i = 0; i < m->nparams; i++)
		if (!m->params[i].buffer)
			init_uniform(&m->params[i], r, -stdv, stdv);
	return 0;
}

/* ---- shape rules ---- */

/* The input [.., input_size], checked against input_size; its rank must
 * be batched_rank or batched_rank - 1 (unbatched). */
static const struct value *rnn_input(struct op_call *c, const struct rnn_dims *d, int batched_rank)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return NULL;
	const struct shape *xs = op_shape(x);
	char sb[160], desc[96];
	if (xs->ndim != batched_rank && xs->ndim != batched_rank - 1) {
		op_break(c, x, c->def->name, "%d-D %s (needs %d-D or %d-D input)", xs->ndim,
		         shape_format(xs, sb, sizeof sb), batched_rank - 1, batched_rank);
		return NULL;
	}
	if (xs->dim[xs->ndim - 1] != d->input) {
		snprintf(desc, sizeof desc, "%s(input_size=%lld)", c->def->name,
		         (long long)d->input);
		op_break(c, x, desc, "%lld features (%s)", (long long)xs->dim[xs->ndim - 1],
		         shape_format(xs, sb, sizeof sb));
		return NULL;
	}
	return x;
}

/* Checks an initial state argument against the shape it must have;
 * `what` names it in the message ("hx", "hx[1]"). */
static int state_check(struct op_call *c, const struct value *v, const struct shape *want,
                       const char *what)
{
	char sa[160], sb[160];
	if (!op_is_tensor(v)) {
		char got[128];
		value_format(v, got, sizeof got);
		return op_fail(c, "%s() needs a tensor for %s, got %s", c->def->name, what, got);
	}
	if (!shape_equal(op_shape(v), want))
		return op_mismatch(c, "%s must have shape %s, got %s", what,
		                   shape_format(want, sa, sizeof sa),
		                   shape_format(op_shape(v), sb, sizeof sb));
	return 0;
}

/* The initial states hx (argument 1): absent or None, one tensor, or (for an
 * LSTM and LSTMCell) a pair (h, c). h has shape hs, c shape cs. */
static int states_check(struct op_call *c, bool lstm, const struct shape *hs,
                        const struct shape *cs)
{
	const struct value *hx = op_arg(c, 1, "hx");
	if (!hx || hx->kind == VAL_NONE)
		return 0;
	if (!lstm)
		return state_check(c, hx, hs, "hx");
	if (hx->kind != VAL_LIST || hx->u.list.n != 2)
		return op_fail(c, "%s() needs hx as a pair of tensors (h_0, c_0)", c->def->name);
	if (state_check(c, &hx->u.list.items[0], hs, "hx[0]") < 0)
		return -1;
	return state_check(c, &hx->u.list.items[1], cs, "hx[1]");
}

/* Sets *out to a fresh tensor made by the call, of shape s. */
static int made_tensor(struct op_call *c, enum dtype dt, const struct shape *s, struct value *out)
{
	if (op_checked_numel(c, s) < 0)
		return -1;
	op_out_tensor(c, dt, s, NULL);
	*out = c->out;
	c->out = value_none();
	return 0;
}

static struct value pair(struct value a, struct value b)
{
	struct value v = value_list(2);
	v.u.list.items[0] = a;
	v.u.list.items[1] = b;
	return v;
}

/* forward(input, hx=None) -> (output, h_n), or (output, (h_n, c_n)) for an
 * LSTM. input [L, N, input_size] ([N, L, ...] batch_first) or [L,
 * input_size] unbatched; output [L, N, dirs * out]; h_n [dirs * layers, N,
 * out], c_n [dirs * layers, N, hidden]. */
static int rnn_infer(struct op_call *c)
{
	struct rnn_dims d = rnn_dims_of(c->module);
	const struct value *x = rnn_input(c, &d, 3);
	if (!x)
		return -1;
	const struct shape *xs = op_shape(x);
	bool batched = xs->ndim == 3;
	int64_t len = xs->dim[batched && d.batch_first ? 1 : 0];
	int64_t n = batched ? xs->dim[d.batch_first ? 0 : 1] : 1;
	bool lstm = d.gates == 4;
	struct shape os = *xs, hs = {.ndim = 0}, cs;
	os.dim[os.ndim - 1] = d.out * d.dirs;
	hs.dim[hs.ndim++] = d.layers * d.dirs;
	if (batched)
		hs.dim[hs.ndim++] = n;
	hs.dim[hs.ndim++] = d.out;
	cs = hs;
	cs.dim[cs.ndim - 1] = d.hidden;
	if (states_check(c, lstm, &hs, &cs) < 0)
		return -1;
	struct value out, h, cell;
	if (made_tensor(c, op_dtype(x), &os, &out) < 0)
		return -1;
	if (made_tensor(c, op_dtype(x), &hs, &h) < 0) {
		value_free(&out);
		return -1;
	}
	if (lstm) {
		if (made_tensor(c, op_dtype(x), &cs, &cell) < 0) {
			value_free(&out);
			value_free(&h);
			return -1;
		}
		h = pair(h, cell);
	}
	c->out = pair(out, h);
	int64_t macs = 0;
	for (int64_t l = 0; l < d.layers; l++) {
		int64_t in = l == 0 ? d.input : d.out * d.dirs;
		int64_t per = op_mul_sat(d.gates * d.hidden, in + d.out);
		if (d.proj > 0 && __builtin_add_overflow(per, d.hidden * d.proj, &per))
			per = INT64_MAX;
		int64_t layer = op_mul_sat(op_mul_sat(len, n), op_mul_sat(per, d.dirs));
		if (__builtin_add_overflow(macs, layer, &macs))
			macs = INT64_MAX;
	}
	c->macs = macs;
	return 0;
}

/* forward(input, hx=None): input [N, input_size] or [input_size]; returns
 * h' [N, hidden] (RNNCell, GRUCell) or (h', c') (LSTMCell). */
static int cell_infer(struct op_call *c)
{
	struct rnn_dims d = rnn_dims_of(c->module);
	const struct value *x = rnn_input(c, &d, 2);
	if (!x)
		return -1;
	const struct shape *xs = op_shape(x);
	int64_t n = xs->ndim == 2 ? xs->dim[0] : 1;
	bool lstm = d.gates == 4;
	struct shape hs = *xs;
	hs.dim[hs.ndim - 1] = d.hidden;
	if (states_check(c, lstm, &hs, &hs) < 0)
		return -1;
	struct value h, cell;
	if (made_tensor(c, op_dtype(x), &hs, &h) < 0)
		return -1;
	if (lstm) {
		if (made_tensor(c, op_dtype(x), &hs, &cell) < 0) {
			value_free(&h);
			return -1;
		}
		h = pair(h, cell);
	}
	c->out = h;
	c->macs = op_mul_sat(n, op_mul_sat(d.gates * d.hidden, d.input + d.hidden));
	return 0;
}

/* ---- descriptions ---- */

/* "32→64 ×2 bi proj 16 relu no bias batch_first" */
static void rnn_describe(const struct module *m, char *buf, size_t size)
{
	struct rnn_dims d = rnn_dims_of(m);
	snprintf(buf, size, "%lld→%lld", (long long)d.input, (long long)d.hidden);
	if (d.layers > 1)
		op_append(buf, size, " ×%lld", (long long)d.layers);
	if (d.dirs == 2)
		op_append(buf, size, " bi");
	if (d.proj > 0)
		op_append(buf, size, " proj %lld", (long long)d.proj);
	if (strcmp(module_attr_str(m, "nonlinearity", "tanh"), "relu") == 0)
		op_append(buf, size, " relu");
	if (!d.bias)
		op_append(buf, size, " no bias");
	if (d.batch_first)
		op_append(buf, size, " batch_first");
}

/* ---- the table ---- */

#define RNN_DEF(id, type, attr_table, par, chk, inf, d)                                                 \
	static const struct op_def id = {                                                          \
	    .name = type,                                                                          \
	    .kind = OP_MODULE,                                                                     \
	    .doc = d,                                                                              \
	    .attrs = attr_table,                                                                   \
	    .nattrs = sizeof attr_table / sizeof *attr_table,                                      \
	    .params = par,                                                                         \
	    .infer = inf,                                                                          \
	    .describe = rnn_describe,                                                              \
	    .check = chk,                                                                          \
	    .in_size_attr = "input_size",                                                          \
	    .in_size_dim = -1,                                                                     \
	    .init = rnn_init,                                                                      \
	}

RNN_DEF(def_rnn, "RNN", rnn_attrs, rnn_params, rnn_check, rnn_infer,
        "Elman RNN (tanh or relu) over a sequence; returns (output, h_n)");
RNN_DEF(def_lstm, "LSTM", lstm_attrs, rnn_params, rnn_check, rnn_infer,
        "LSTM over a sequence; returns (output, (h_n, c_n))");
RNN_DEF(def_gru, "GRU", gru_attrs, rnn_params, rnn_check, rnn_infer,
        "GRU over a sequence; returns (output, h_n)");
RNN_DEF(def_rnn_cell, "RNNCell", rnn_cell_attrs, cell_params, cell_check, cell_infer,
        "one step of an Elman RNN; returns h'");
RNN_DEF(def_lstm_cell, "LSTMCell", cell_attrs, cell_params, cell_check, cell_infer,
        "one step of an LSTM; returns (h', c')");
RNN_DEF(def_gru_cell, "GRUCell", cell_attrs, cell_params, cell_check, cell_infer,
        "one step of a GRU; returns h'");

const struct op_def *const registry_rnn_defs[] = {
    &def_rnn, &def_lstm, &def_gru, &def_rnn_cell, &def_lstm_cell, &def_gru_cell, NULL,
};
