/* registry_distance.c - distances and similarities between two tensors:
 * CosineSimilarity, PairwiseDistance, cosine_similarity(),
 * pairwise_distance() and cdist(). */
#include "core/registry_impl.h"

#include <stdio.h>
#include <string.h>

/* The broadcast shape of x1 and x2 with dimension `dim` dropped (kept as
 * 1 with keep) into c->out. */
static int reduced_pair(struct op_call *c, const struct value *x1, const struct value *x2,
                        int64_t dim, bool keep)
{
	struct shape s;
	if (op_broadcast(op_shape(x1), op_shape(x2), &s) < 0)
		return op_broadcast_fail(c, "broadcast", x1, x2);
	int d;
	if (op_dim(c, dim, s.ndim, &d) < 0)
		return -1;
	if (s.ndim == 0)
		return op_mismatch(c, "%s() needs tensors of at least 1 dimension", op_fn_name(c));
	if (keep) {
		s.dim[d] = 1;
	} else {
		memmove(&s.dim[d], &s.dim[d + 1], (size_t)(s.ndim - d - 1) * sizeof *s.dim);
		s.ndim--;
	}
	if (op_checked_numel(c, &s) < 0)
		return -1;
	op_out_tensor(c, op_dtype(x1), &s, NULL);
	return 0;
}

static bool flag_arg(struct op_call *c, int pos, const char *kw)
{
	const struct value *v = op_arg(c, pos, kw);
	return v && (v->kind == VAL_BOOL || v->kind == VAL_INT) && op_as_int(v) != 0;
}

/* ---- modules ---- */

static const struct attr_spec cosine_attrs[] = {
    {"dim", AT_INT, "1"},
    {"eps", AT_FLOAT, "1e-08"},
};

static int cosine_infer(struct op_call *c)
{
	const struct value *x1 = op_tensor(c, 0, "x1");
	const struct value *x2 = x1 ? op_tensor(c, 1, "x2") : NULL;
	return x2 ? reduced_pair(c, x1, x2, module_attr_int(c->module, "dim", 1), false) : -1;
}

static void cosine_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "dim=%lld", (long long)module_attr_int(m, "dim", 1));
}

static const struct op_def def_cosine_similarity = {
    .name = "CosineSimilarity",
    .kind = OP_MODULE,
    .doc = "x1 . x2 / max(|x1| |x2|, eps) along dim",
    .attrs = cosine_attrs,
    .nattrs = sizeof cosine_attrs / sizeof *cosine_attrs,
    .infer = cosine_infer,
    .describe = cosine_describe,
};

static const struct attr_spec pairwise_attrs[] = {
    {"p", AT_FLOAT, "2.0"},
    {"eps", AT_FLOAT, "1e-06"},
    {"keepdim", AT_BOOL, "False"},
};

static int pairwise_infer(struct op_call *c)
{
	const struct value *x1 = op_tensor(c, 0, "x1");
	const struct value *x2 = x1 ? op_tensor(c, 1, "x2") : NULL;
	return x2 ? reduced_pair(c, x1, x2, -1, module_attr_bool(c->module, "keepdim", false)) : -1;
}

static void pairwise_describe(const struct module *m, char *buf, size_t size)
{
	snprintf(buf, size, "p=%g", module_attr_float(m, "p", 2));
}

static const struct op_def def_pairwise_distance = {
    .name = "PairwiseDistance",
    .kind = OP_MODULE,
    .doc = "the p-norm of x1 - x2 + eps over the last dimension",
    .attrs = pairwise_attrs,
    .nattrs = sizeof pairwise_attrs / sizeof *pairwise_attrs,
    .infer = pairwise_infer,
    .describe = pairwise_describe,
};

/* ---- functions ---- */

/* cosine_similarity(x1, x2, dim=1, eps=1e-8) */
static int fn_cosine_similarity(struct op_call *c)
{
	const struct value *x1 = op_tensor(c, 0, "x1");
	const struct value *x2 = x1 ? op_tensor(c, 1, "x2") : NULL;
	int64_t d;
	if (!x2 || op_int(c, 2, "dim", 1, &d) < 0)
		return -1;
	return reduced_pair(c, x1, x2, d, false);
}

/* pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False) */
static int fn_pairwise_distance(struct op_call *c)
{
	const struct value *x1 = op_tensor(c, 0, "x1");
	const struct value *x2 = x1 ? op_tensor(c, 1, "x2") : NULL;
	return x2 ? reduced_pair(c, x1, x2, -1, flag_arg(c, 4, "keepdim")) : -1;
}

/* cdist(x1 [..., P, M], x2 [..., R, M], p=2.0) -> [..., P, R] */
static int fn_cdist(struct op_call *c)
{
	const struct value *x1 = op_tensor(c, 0, "x1");
	const struct value *x2 = x1 ? op_tensor(c, 1, "x2") : NULL;
	if (!x2)
		return -1;
	const struct shape *a = op_shape(x1), *b = op_shape(x2);
	if (a->ndim < 2 || b->ndim < 2 || a->dim[a->ndim - 1] != b->dim[b->ndim - 1])
		return op_broadcast_fail(c, "take distances between", x1, x2);
	struct shape la = *a, lb = *b, os;
	la.ndim -= 2;
	lb.ndim -= 2;
	if (op_broadcast(&la, &lb, &os) < 0)
		return op_broadcast_fail(c, "broadcast", x1, x2);
	os.dim[os.ndim++] = a->dim[a->ndim - 2];
	os.dim[os.ndim++] = b->dim[b->ndim - 2];
	int64_t n = op_checked_numel(c, &os);
	if (n < 0)
		return -1;
	op_out_tensor(c, op_dtype(x1), &os, NULL);
	c->macs = op_mul_sat(n, a->dim[a->ndim - 1]);
	return 0;
}

/* ---- the table ---- */

REGISTRY_FUNCTION_PY(cosine_similarity, fn_cosine_similarity,
                     "cosine_similarity(x1, x2, dim=1, eps=1e-8)", "F.cosine_similarity");
REGISTRY_FUNCTION_PY(pairwise_distance, fn_pairwise_distance,
                     "pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False)",
                     "F.pairwise_distance");
REGISTRY_FUNCTION_PY(cdist, fn_cdist, "cdist(x1, x2, p=2.0): [.., P, M] x [.., R, M] -> [.., P, R]",
                     "torch.cdist");

const struct op_def *const registry_distance_defs[] = {
    &def_cosine_similarity,    &def_pairwise_distance, &fn_def_cosine_similarity,
    &fn_def_pairwise_distance, &fn_def_cdist,          NULL,
};
