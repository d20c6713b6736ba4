/* registry_linear.c - products: Linear, Bilinear, linear(), bilinear(), matmul, mm, bmm,
 * addmm, baddbmm, outer, einsum. */
#include "core/registry_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/util.h"

/* ---- Linear ---- */

static const struct attr_spec linear_attrs[] = {
    {"in_features", AT_INT, NULL},
    {"out_features", AT_INT, NULL},
    {"bias", AT_BOOL, "True"},
};

static int linear_check(struct module *m, struct error *e)
{
	return op_check_positive(m, "in_features", e) || op_check_positive(m, "out_features", e)
	           ? -1
	           : 0;
}

static int linear_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t w[2] = {module_attr_int(m, "out_features", 1),
	                module_attr_int(m, "in_features", 1)};
	op_add_param(m, "weight", 2, w, false);
	if (module_attr_bool(m, "bias", true))
		op_add_param(m, "bias", 1, w, false);
	return 0;
}

/* Linear.reset_parameters. */
static int linear_init(struct module *m, struct rng *r, struct error *e)
{
	struct param *w = init_param(m, "weight", e);
	return w ? init_linear_reset(w, module_param(m, "bias"), r, e) : -1;
}

static int linear_infer(struct op_call *c)
{
	const struct value *x = op_tensor(c, 0, "input");
	if (!x)
		return -1;
	int64_t in = module_attr_int(c->module, "in_features", 0);
	const struct shape *xs = op_shape(x);
	if (xs->ndim == 0 || xs->dim[xs->ndim - 1] != in) {
		char desc[96], sb[160];
		snprintf(desc, sizeof desc, "%s(in_features=%lld)", c->def->name, (long long)in);
		if (xs->ndim == 0)
			return op_break(c, x, desc, "a 0-d tensor");
		return op_break(c, x, desc, "%lld features (%s)", (long long)xs->dim[xs->ndim - 1],
		                shape_format(xs, sb, sizeof sb));
	}
	struct shape os = *xs;
	os.dim[os.ndim - 1] = module_attr_int(c->module, "out_features", 0);
	int64_t n = op_checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), &os, NULL);
	c->macs = op_mul_sat(n, in);
	return 0;
}

static void linear_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld→%lld", (long long)module_attr_int(m, "in_features", 0),
	         (long long)module_attr_int(m, "out_features", 0));
	if (!module_attr_bool(m, "bias", true))
		op_append(buf, size, " no bias");
}

static const struct op_def def_linear = {
    .name = "Linear",
    .in_size_attr = "in_features",
    .in_size_dim = -1,
    .kind = OP_MODULE,
    .doc = "y = x W^T + b over the last dimension",
    .attrs = linear_attrs,
    .nattrs = sizeof linear_attrs / sizeof *linear_attrs,
    .size_attr = "out_features",
    .params = linear_params,
    .infer = linear_infer,
    .describe = linear_describe,
    .check = linear_check,
    .init = linear_init,
};

/* ---- Bilinear ---- */

static const struct attr_spec bilinear_attrs[] = {
    {"in1_features", AT_INT, NULL},
    {"in2_features", AT_INT, NULL},
    {"out_features", AT_INT, NULL},
    {"bias", AT_BOOL, "True"},
};

static int bilinear_check(struct module *m, struct error *e)
{
	return op_check_positive(m, "in1_features", e) || op_check_positive(m, "in2_features", e) ||
	               op_check_positive(m, "out_features", e)
	           ? -1
	           : 0;
}

static int bilinear_params(struct module *m, struct error *e)
{
	(void)e;
	int64_t w[3] = {module_attr_int(m, "out_features", 1), module_attr_int(m, "in1_features", 1),
	                module_attr_int(m, "in2_features", 1)};
	op_add_param(m, "weight", 3, w, false);
	if (module_attr_bool(m, "bias", true))
		op_add_param(m, "bias", 1, w, false);
	return 0;
}

/* Bilinear.reset_parameters: uniform(-1/sqrt(in1), 1/sqrt(in1)) for both. */
static int bilinear_init(struct module *m, struct rng *r, struct error *e)
{
	struct param *w = init_param(m, "weight", e);
	if (!w)
		return -1;
	double bound = 1 / sqrt((double)module_attr_int(m, "in1_features", 1));
	init_uniform(w, r, -bound, bound);
	struct param *b = module_param(m, "bias");
	if (b)
		init_uniform(b, r, -bound, bound);
	return 0;
}

/* y[..., o] = x1[..., i] W[o, i, j] x2[..., j] + b[o]: the two inputs
 * agree on their leading dims. Shared by Bilinear and bilinear(); in1, in2
 * and out come from the module or the weight. */
static int bilinear_shape(struct op_call *c, const struct value *x1, const struct value *x2,
                          int64_t in1, int64_t in2, int64_t out)
{
	const struct shape *s1 = op_shape(x1), *s2 = op_shape(x2);
	char desc[128], sb[160];
	snprintf(desc, sizeof desc, "%s(in1_features=%lld, in2_features=%lld)", op_fn_name(c),
	         (long long)in1, (long long)in2);
	if (s1->ndim == 0 || s1->dim[s1->ndim - 1] != in1)
		return op_break(c, x1, desc, "%s as input1", shape_format(s1, sb, sizeof sb));
	if (s2->ndim == 0 || s2->dim[s2->ndim - 1] != in2)
		return op_break(c, x2, desc, "%s as input2", shape_format(s2, sb, sizeof sb));
	struct shape l1 = *s1, l2 = *s2;
	l1.ndim--;
	l2.ndim--;
	if (!shape_equal(&l1, &l2))
		return op_broadcast_fail(c, "combine", x1, x2);
	struct shape os = *s1;
	os.dim[os.ndim - 1] = out;
	int64_t n = op_checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, op_dtype(x1), &os, NULL);
	c->macs = op_mul_sat(op_mul_sat(n, in1), in2);
	return 0;
}

static int bilinear_infer(struct op_call *c)
{
	const struct value *x1 = op_tensor(c, 0, "input1");
	const struct value *x2 = x1 ? op_tensor(c, 1, "input2") : NULL;
	if (!x2)
		return -1;
	return bilinear_shape(c, x1, x2, module_attr_int(c->module, "in1_features", 0),
	                      module_attr_int(c->module, "in2_features", 0),
	                      module_attr_int(c->module, "out_features", 0));
}

static void bilinear_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "%lld×%lld→%lld", (long long)module_attr_int(m, "in1_features", 0),
	         (long long)module_attr_int(m, "in2_features", 0),
	         (long long)module_attr_int(m, "out_features", 0));
	if (!module_attr_bool(m, "bias", true))
		op_append(buf, size, " no bias");
}

static const struct op_def def_bilinear = {
    .name = "Bilinear",
    .kind = OP_MODULE,
    .doc = "y = x1^T W x2 + b, one matrix W per output feature",
    .attrs = bilinear_attrs,
    .nattrs = sizeof bilinear_attrs / sizeof *bilinear_attrs,
    .size_attr = "out_features",
    .params = bilinear_params,
    .infer = bilinear_infer,
    .describe = bilinear_describe,
    .check = bilinear_check,
    .init = bilinear_init,
};

/* bilinear(input1, input2, weight, bias=None) */
static int fn_bilinear(struct op_call *c)
{
	const struct value *x1 = op_tensor(c, 0, "input1");
	const struct value *x2 = x1 ? op_tensor(c, 1, "input2") : NULL;
	const struct value *w = x2 ? op_tensor(c, 2, "weight") : NULL, *b;
	if (!w || op_optional_tensor(c, 3, "bias", &b) < 0)
		return -1;
	const struct shape *ws = op_shape(w);
	if (ws->ndim != 3)
		return op_fail(c, "bilinear() needs a 3-D weight");
	return bilinear_shape(c, x1, x2, ws->dim[1], ws->dim[2], ws->dim[0]);
}

/* ---- products ---- */

static int fn_matmul(struct op_call *c)
{
	const struct value *a = op_self_tensor(c);
	const struct value *b = a ? op_tensor(c, 1, "other") : NULL;
	if (!b)
		return -1;
	const struct shape *as = op_shape(a), *bs = op_shape(b);
	if (as->ndim == 0 || bs->ndim == 0)
		return op_mismatch(c, "matmul() needs tensors of at least 1 dimension");
	/* Treat 1-D operands as [1, k] and [k, 1], dropped from the result. */
	struct shape sa = *as, sb = *bs;
	if (sa.ndim == 1) {
		sa.ndim = 2;
		sa.dim[1] = sa.dim[0];
		sa.dim[0] = 1;
	}
	if (sb.ndim == 1) {
		sb.ndim = 2;
		sb.dim[1] = 1;
	}
	int64_t n = sa.dim[sa.ndim - 2], k = sa.dim[sa.ndim - 1], m = sb.dim[sb.ndim - 1];
	if (sb.dim[sb.ndim - 2] != k)
		return op_broadcast_fail(c, "multiply", a, b);
	struct shape ba = sa, bb = sb, bo;
	ba.ndim -= 2;
	bb.ndim -= 2;
	if (op_broadcast(&ba, &bb, &bo) < 0)
		return op_broadcast_fail(c, "multiply", a, b);
	struct shape os = bo;
	if (as->ndim > 1)
		os.dim[os.ndim++] = n;
	if (bs->ndim > 1)
		os.dim[os.ndim++] = m;
	if (os.ndim > SHAPE_MAX_DIMS)
		return op_mismatch(c, "matmul() result has too many dimensions");
	int64_t numel = op_checked_numel(c, &os);
	if (numel < 0)
		return -1;
	op_out_tensor(c, op_dtype(a), &os, NULL);
	c->macs = op_mul_sat(numel, k);
	return 0;
}

static int fn_bmm(struct op_call *c)
{
	const struct value *a = op_self_tensor(c);
	const struct value *b = a ? op_tensor(c, 1, "mat2") : NULL;
	if (!b)
		return -1;
	const struct shape *as = op_shape(a), *bs = op_shape(b);
	if (as->ndim != 3 || bs->ndim != 3 || as->dim[0] != bs->dim[0] || as->dim[2] != bs->dim[1])
		return op_broadcast_fail(c, "batch-multiply", a, b);
	int64_t d[3] = {as->dim[0], as->dim[1], bs->dim[2]};
	struct shape os = {.ndim = 3, .dim = {d[0], d[1], d[2]}};
	int64_t numel = op_checked_numel(c, &os);
	if (numel < 0)
		return -1;
	op_out_tensor(c, op_dtype(a), &os, NULL);
	c->macs = op_mul_sat(numel, as->dim[2]);
	return 0;
}

/* mm(a, b): 2-D only. */
static int fn_mm(struct op_call *c)
{
	const struct value *a = op_self_tensor(c);
	const struct value *b = a ? op_tensor(c, 1, "mat2") : NULL;
	if (!b)
		return -1;
	const struct shape *as = op_shape(a), *bs = op_shape(b);
	if (as->ndim != 2 || bs->ndim != 2 || as->dim[1] != bs->dim[0])
		return op_broadcast_fail(c, "multiply", a, b);
	struct shape os = {.ndim = 2, .dim = {as->dim[0], bs->dim[1]}};
	int64_t numel = op_checked_numel(c, &os);
	if (numel < 0)
		return -1;
	op_out_tensor(c, op_dtype(a), &os, NULL);
	c->macs = op_mul_sat(numel, as->dim[1]);
	return 0;
}

/* addmm(input, mat1, mat2, beta=1, alpha=1), baddbmm(input, batch1,
 * batch2, ...): the product, to which input broadcasts. */
static int fn_add_product(struct op_call *c)
{
	bool batched = strcmp(op_fn_name(c), "baddbmm") == 0;
	const struct value *x = op_self_tensor(c);
	const struct value *a = x ? op_tensor(c, 1, batched ? "batch1" : "mat1") : NULL;
	const struct value *b = a ? op_tensor(c, 2, batched ? "batch2" : "mat2") : NULL;
	if (!b)
		return -1;
	const struct shape *as = op_shape(a), *bs = op_shape(b);
	int nd = batched ? 3 : 2;
	if (as->ndim != nd || bs->ndim != nd || as->dim[nd - 1] != bs->dim[nd - 2] ||
	    (batched && as->dim[0] != bs->dim[0]))
		return op_broadcast_fail(c, "multiply", a, b);
	struct shape os = *as, bc;
	os.dim[nd - 1] = bs->dim[nd - 1];
	if (op_broadcast(op_shape(x), &os, &bc) < 0 || !shape_equal(&bc, &os))
		return op_broadcast_fail(c, "add", x, a);
	int64_t numel = op_checked_numel(c, &os);
	if (numel < 0)
		return -1;
	op_out_tensor(c, op_dtype(a), &os, NULL);
	c->macs = op_mul_sat(numel, as->dim[nd - 1]);
	return 0;
}

/* outer(a, b): [n] x [m] -> [n, m]. */
static int fn_outer(struct op_call *c)
{
	const struct value *a = op_self_tensor(c);
	const struct value *b = a ? op_tensor(c, 1, "vec2") : NULL;
	if (!b)
		return -1;
	if (op_shape(a)->ndim != 1 || op_shape(b)->ndim != 1)
		return op_broadcast_fail(c, "take the outer product of", a, b);
	struct shape os = {.ndim = 2, .dim = {op_shape(a)->dim[0], op_shape(b)->dim[0]}};
	int64_t numel = op_checked_numel(c, &os);
	if (numel < 0)
		return -1;
	op_out_tensor(c, op_dtype(a), &os, NULL);
	c->macs = numel;
	return 0;
}

/* einsum("B G H I D, B G H J D -> B G H I J", q, k): labels are letters,
 * spaces are ignored, "..." broadcasts. */
static int label_index(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return 26 + ch - 'a';
	return -1;
}

struct einsum_term {
	int labels[SHAPE_MAX_DIMS + 1];
	int n;        /* labels, ellipsis excluded */
	int ellipsis; /* index in labels where "..." sits, or -1 */
};

/* Parses one subscript term up to ',' or '-' or the end. */
static int einsum_term(const char **p, struct einsum_term *t)
{
	t->n = 0;
	t->ellipsis = -1;
	for (const char *s = *p;; s++) {
		if (*s == ' ')
			continue;
		if (*s == '.') {
			if (strncmp(s, "...", 3) != 0 || t->ellipsis >= 0)
				return -1;
			t->ellipsis = t->n;
			s += 2;
			continue;
		}
		int l = label_index(*s);
		if (l < 0) {
			*p = s;
			return 0;
		}
		if (t->n >= SHAPE_MAX_DIMS)
			return -1;
		t->labels[t->n++] = l;
	}
}

static int fn_einsum(struct op_call *c)
{
	const struct value *eqv = op_arg(c, 0, "equation");
	if (!eqv || eqv->kind != VAL_STR)
		return op_fail(c, "einsum() needs an equation string");
	const struct value **ops = NULL;
	int nops = op_tensor_list(c, 1, "operands", &ops);
	if (nops < 0)
		return -1;
	struct einsum_term terms[8], outt;
	const char *p = eqv->u.s;
	int nterms = 0, rc = -1;
	for (;;) {
		if (nterms == 8 || einsum_term(&p, &terms[nterms]) < 0)
			goto bad;
		nterms++;
		if (*p != ',')
			break;
		p++;
	}
	bool explicit_out = strncmp(p, "->", 2) == 0;
	if (explicit_out) {
		p += 2;
		if (einsum_term(&p, &outt) < 0)
			goto bad;
	}
	if (*p != '\0' || nterms != nops)
		goto bad;
	int64_t size[52];
	int count[52] = {0};
	for (int i = 0; i < 52; i++)
		size[i] = -1;
	struct shape ell = {.ndim = 0};
	bool has_ell = false;
	for (int i = 0; i < nops; i++) {
		const struct shape *s = op_shape(ops[i]);
		struct einsum_term *t = &terms[i];
		int ne = s->ndim - t->n;
		if (ne < 0 || (ne > 0 && t->ellipsis < 0)) {
			char sb[160];
			op_mismatch(c, "einsum(): operand %d %s does not fit its subscripts", i + 1,
			            shape_format(s, sb, sizeof sb));
			goto out;
		}
		int d = 0;
		for (int j = 0; j <= t->n; j++) {
			if (j == t->ellipsis) {
				struct shape e = {.ndim = ne}, b;
				for (int q = 0; q < ne; q++)
					e.dim[q] = s->dim[d + q];
				if (op_broadcast(&ell, &e, &b) < 0) {
					op_mismatch(c, "einsum(): operands do not broadcast");
					goto out;
				}
				ell = b;
				has_ell = true;
				d += ne;
			}
			if (j == t->n)
				break;
			int l = t->labels[j];
			int64_t sz = s->dim[d++];
			count[l]++;
			if (size[l] < 0 || size[l] == 1)
				size[l] = sz;
			else if (sz != size[l] && sz != 1) {
				op_mismatch(c,
				            "einsum(): subscript %c has size %lld in operand %d, "
				            "but %lld before",
				            l < 26 ? 'A' + l : 'a' + l - 26, (long long)sz, i + 1,
				            (long long)size[l]);
				goto out;
			}
		}
	}
	if (!explicit_out) {
		outt.n = 0;
		outt.ellipsis = has_ell ? 0 : -1;
		for (int l = 0; l < 52; l++)
			if (count[l] == 1)
				outt.labels[outt.n++] = l;
	}
	bool in_out[52] = {false};
	for (int j = 0; j < outt.n; j++) {
		if (in_out[outt.labels[j]])
			goto bad;
		in_out[outt.labels[j]] = true;
	}
	struct shape os = {.ndim = 0};
	for (int j = 0; j <= outt.n; j++) {
		if (j == outt.ellipsis)
			for (int q = 0; q < ell.ndim && os.ndim < SHAPE_MAX_DIMS; q++)
				os.dim[os.ndim++] = ell.dim[q];
		if (j == outt.n)
			break;
		int l = outt.labels[j];
		if (size[l] < 0 || os.ndim >= SHAPE_MAX_DIMS)
			goto bad;
		os.dim[os.ndim++] = size[l];
	}
	if (op_checked_numel(c, &os) < 0)
		goto out;
	int64_t macs = 0;
	if (nops > 1) {
		/* The naive loop count: every label's size, contracted or not. */
		macs = 1;
		for (int l = 0; l < 52; l++)
			if (size[l] >= 0)
				macs = op_mul_sat(macs, size[l]);
		for (int q = 0; q < ell.ndim; q++)
			macs = op_mul_sat(macs, ell.dim[q]);
	}
	op_out_tensor(c, op_dtype(ops[0]), &os, nops == 1 ? ops[0] : NULL);
	c->macs = macs;
	rc = 0;
	goto out;
bad:
	op_fail(c, "einsum(): cannot use equation '%s' with %d operand%s", eqv->u.s, nops,
	        nops == 1 ? "" : "s");
out:
	free(ops);
	return rc;
}

static int fn_linear(struct op_call *c)
{
	const struct value *x = op_self_tensor(c);
	const struct value *w = x ? op_tensor(c, 1, "weight") : NULL, *b;
	if (!w || op_optional_tensor(c, 2, "bias", &b) < 0)
		return -1;
	const struct shape *xs = op_shape(x), *ws = op_shape(w);
	char desc[200], sb[160];
	if (ws->ndim != 1 && ws->ndim != 2)
		return op_fail(c, "linear() needs a 1-D or 2-D weight");
	int64_t in = ws->dim[ws->ndim - 1];
	snprintf(desc, sizeof desc, "linear(weight %s)", shape_format(ws, sb, sizeof sb));
	if (xs->ndim == 0 || xs->dim[xs->ndim - 1] != in)
		return op_break(c, x, desc, "%lld features",
		                (long long)(xs->ndim ? xs->dim[xs->ndim - 1] : 0));
	struct shape os = *xs;
	if (ws->ndim == 2)
		os.dim[os.ndim - 1] = ws->dim[0];
	else
		os.ndim--;
	if (b) {
		struct shape bs;
		if (op_broadcast(&os, op_shape(b), &bs) < 0 || !shape_equal(&bs, &os))
			return op_broadcast_fail(c, "add bias", b, x);
	}
	int64_t n = op_checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, op_dtype(x), &os, NULL);
	c->macs = op_mul_sat(n, in);
	return 0;
}

/* ---- the table ---- */

REGISTRY_FUNCTION(matmul, fn_matmul, "a @ b, batched with broadcasting");
REGISTRY_FUNCTION(bmm, fn_bmm, "batched [B, n, k] @ [B, k, m]");
REGISTRY_FUNCTION(einsum, fn_einsum, "einsum(equation, *operands)");
REGISTRY_FUNCTION(linear, fn_linear, "linear(x, weight, bias=None)");

REGISTRY_FUNCTION_PY(mm, fn_mm, "mm(a, b): [n, k] @ [k, m]", "torch.mm");
REGISTRY_FUNCTION_PY(addmm, fn_add_product, "addmm(x, a, b, beta=1, alpha=1): beta x + alpha a @ b",
        "torch.addmm");
REGISTRY_FUNCTION_PY(baddbmm, fn_add_product, "baddbmm(x, a, b, beta=1, alpha=1): batched addmm",
        "torch.baddbmm");
REGISTRY_FUNCTION_PY(outer, fn_outer, "outer(a, b): [n] x [m] -> [n, m]", "torch.outer");
REGISTRY_FUNCTION_PY(bilinear, fn_bilinear, "bilinear(x1, x2, weight, bias=None)", "F.bilinear");

const struct op_def *const registry_linear_defs[] = {
    &def_linear,   &fn_def_matmul,  &fn_def_bmm,   &fn_def_einsum,
    &fn_def_linear, &def_bilinear,  &fn_def_mm,    &fn_def_addmm,
    &fn_def_baddbmm, &fn_def_outer, &fn_def_bilinear, NULL,
};
