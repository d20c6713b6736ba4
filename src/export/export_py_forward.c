/* export_py_forward.c - a forward graph as the Python of a forward method:
 * one assignment per node, named after the node; calls of functions
 * written as operators, torch or torch.nn.functional calls, methods, or
 * the local helpers of export_py_text.c. Constants passed to calls are
 * holes, which become constructor parameters when they differ between
 * modules of one class (export_py.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export_py_int.h"
#include "core/registry.h"
#include "core/util.h"

/* How call_function targets are written: this table, else the callable
 * the function's registry entry names (op_def.py). */
enum fn_style {
	FN_BINOP,
	FN_UNARY,
	FN_TORCH,
	FN_F,
	FN_METHOD,
	FN_LOCAL,
	FN_GETITEM,
	FN_GETATTR,
	FN_MATH_OR_TORCH /* math.NAME on a Python number, torch.NAME on a tensor */
};

static const struct {
	const char *name;
	enum fn_style style;
	const char *py; /* operator, or the callable */
	unsigned need;
} functions[] = {
    {"add", FN_BINOP, "+", 0},
    {"sub", FN_BINOP, "-", 0},
    {"mul", FN_BINOP, "*", 0},
    {"truediv", FN_BINOP, "/", 0},
    {"floordiv", FN_BINOP, "//", 0},
    {"mod", FN_BINOP, "%", 0},
    {"pow", FN_BINOP, "**", 0},
    {"eq", FN_BINOP, "==", 0},
    {"ne", FN_BINOP, "!=", 0},
    {"lt", FN_BINOP, "<", 0},
    {"le", FN_BINOP, "<=", 0},
    {"gt", FN_BINOP, ">", 0},
    {"ge", FN_BINOP, ">=", 0},
    {"matmul", FN_BINOP, "@", 0},
    {"and_", FN_BINOP, "&", 0},
    {"or_", FN_BINOP, "|", 0},
    {"xor", FN_BINOP, "^", 0},
    {"invert", FN_UNARY, "~", 0},
    {"neg", FN_UNARY, "-", 0},
    {"not_", FN_UNARY, "not ", 0},
    {"getitem", FN_GETITEM, NULL, 0},
    {"getattr", FN_GETATTR, NULL, 0},
    {"div", FN_TORCH, "torch.div", 0},
    {"floor_divide", FN_TORCH, "torch.floor_divide", 0},
    {"_assert", FN_TORCH, "torch._assert", 0},
    {"cat", FN_TORCH, "torch.cat", 0},
    {"concat", FN_TORCH, "torch.cat", 0},
    {"stack", FN_TORCH, "torch.stack", 0},
    {"chunk", FN_TORCH, "torch.chunk", 0},
    {"split", FN_TORCH, "torch.split", 0},
    {"unbind", FN_TORCH, "torch.unbind", 0},
    {"flatten", FN_TORCH, "torch.flatten", 0},
    {"reshape", FN_TORCH, "torch.reshape", 0},
    {"permute", FN_TORCH, "torch.permute", 0},
    {"transpose", FN_TORCH, "torch.transpose", 0},
    {"swapaxes", FN_TORCH, "torch.swapaxes", 0},
    {"swapdims", FN_TORCH, "torch.swapdims", 0},
    {"unsqueeze", FN_TORCH, "torch.unsqueeze", 0},
    {"squeeze", FN_TORCH, "torch.squeeze", 0},
    {"mean", FN_TORCH, "torch.mean", 0},
    {"sum", FN_TORCH, "torch.sum", 0},
    {"amax", FN_TORCH, "torch.amax", 0},
    {"amin", FN_TORCH, "torch.amin", 0},
    {"bmm", FN_TORCH, "torch.bmm", 0},
    {"einsum", FN_TORCH, "torch.einsum", 0},
    {"exp", FN_TORCH, "torch.exp", 0},
    {"clamp", FN_TORCH, "torch.clamp", 0},
    {"roll", FN_TORCH, "torch.roll", 0},
    {"relu_", FN_TORCH, "torch.relu_", 0},
    {"gelu", FN_F, "F.gelu", 0},
    {"softmax", FN_F, "F.softmax", 0},
    {"log_softmax", FN_F, "F.log_softmax", 0},
    {"normalize", FN_F, "F.normalize", 0},
    {"dropout", FN_F, "F.dropout", 0},
    {"pad", FN_F, "F.pad", 0},
    {"adaptive_avg_pool2d", FN_F, "F.adaptive_avg_pool2d", 0},
    {"adaptive_max_pool2d", FN_F, "F.adaptive_max_pool2d", 0},
    {"avg_pool2d", FN_F, "F.avg_pool2d", 0},
    {"max_pool2d", FN_F, "F.max_pool2d", 0},
    {"layer_norm", FN_F, "F.layer_norm", 0},
    {"batch_norm", FN_F, "F.batch_norm", 0},
    {"linear", FN_F, "F.linear", 0},
    {"conv2d", FN_F, "F.conv2d", 0},
    {"embedding", FN_F, "F.embedding", 0},
    {"embedding_bag", FN_F, "F.embedding_bag", 0},
    {"size", FN_METHOD, "size", 0},
    {"dim", FN_METHOD, "dim", 0},
    {"numel", FN_METHOD, "numel", 0},
    {"contiguous", FN_METHOD, "contiguous", 0},
    {"clone", FN_METHOD, "clone", 0},
    {"detach", FN_METHOD, "detach", 0},
    {"to", FN_METHOD, "to", 0},
    {"type_as", FN_METHOD, "type_as", 0},
    {"float", FN_METHOD, "float", 0},
    {"expand", FN_METHOD, "expand", 0},
    {"expand_as", FN_METHOD, "expand_as", 0},
    {"view", FN_METHOD, "view", 0},
    {"stochastic_depth", FN_LOCAL, "stochastic_depth", NEED_STOCHASTIC},
    {"shifted_window_attention", FN_LOCAL, "shifted_window_attention", NEED_SWIN | NEED_MATH},
    {"_get_relative_position_bias", FN_LOCAL, "_get_relative_position_bias", NEED_REL_BIAS},
    {"_patch_merging_pad", FN_LOCAL, "_patch_merging_pad", NEED_PATCH_PAD},
    {"scaled_dot_product_attention", FN_LOCAL, "scaled_dot_product_attention",
     NEED_SDPA | NEED_MATH},
    {"channel_shuffle", FN_LOCAL, "channel_shuffle", NEED_SHUFFLE},
    {"filter_proposals", FN_LOCAL, "filter_proposals",
     NEED_DETECTION | NEED_TORCHVISION},
    {"postprocess_detections", FN_LOCAL, "postprocess_detections",
     NEED_DETECTION | NEED_TORCHVISION},
    {"resize_boxes", FN_LOCAL, "resize_boxes",
     NEED_DETECTION | NEED_TORCHVISION},
    {"maskrcnn_inference", FN_LOCAL, "maskrcnn_inference",
     NEED_DETECTION | NEED_TORCHVISION},
    {"paste_masks_in_image", FN_LOCAL, "paste_masks_in_image",
     NEED_DETECTION | NEED_TORCHVISION},
    {"keypointrcnn_inference", FN_LOCAL, "keypointrcnn_inference",
     NEED_DETECTION | NEED_TORCHVISION},
    {"resize_keypoints", FN_LOCAL, "resize_keypoints",
     NEED_DETECTION | NEED_TORCHVISION},
    {"_unsqueeze", FN_LOCAL, "_unsqueeze", NEED_MVIT_DIMS},
    {"_squeeze", FN_LOCAL, "_squeeze", NEED_MVIT_DIMS},
    {"_add_rel_pos", FN_LOCAL, "_add_rel_pos", NEED_MVIT_REL_POS},
    {"_add_shortcut", FN_LOCAL, "_add_shortcut", NEED_MVIT_SHORTCUT},
    {"index_pyramid", FN_LOCAL, "index_pyramid", NEED_INDEX_PYRAMID},
    {"retinanet_postprocess_detections", FN_LOCAL, "retinanet_postprocess_detections",
     NEED_DETECTION | NEED_TORCHVISION | NEED_ONESTAGE},
    {"fcos_postprocess_detections", FN_LOCAL, "fcos_postprocess_detections",
     NEED_DETECTION | NEED_TORCHVISION | NEED_ONESTAGE},
    {"ssd_postprocess_detections", FN_LOCAL, "ssd_postprocess_detections",
     NEED_DETECTION | NEED_TORCHVISION | NEED_ONESTAGE},
    {"generate_square_subsequent_mask", FN_TORCH, "nn.Transformer.generate_square_subsequent_mask",
     0},
    {"sqrt", FN_MATH_OR_TORCH, "sqrt", NEED_MATH},
    {"log", FN_MATH_OR_TORCH, "log", NEED_MATH},
    {"log1p", FN_MATH_OR_TORCH, "log1p", NEED_MATH},
    {"log2", FN_MATH_OR_TORCH, "log2", NEED_MATH},
    {"expm1", FN_MATH_OR_TORCH, "expm1", NEED_MATH},
    {"sin", FN_MATH_OR_TORCH, "sin", NEED_MATH},
    {"cos", FN_MATH_OR_TORCH, "cos", NEED_MATH},
    {"erf", FN_MATH_OR_TORCH, "erf", NEED_MATH},
    {"floor", FN_MATH_OR_TORCH, "floor", NEED_MATH},
    {"ceil", FN_MATH_OR_TORCH, "ceil", NEED_MATH},
    {"trunc", FN_MATH_OR_TORCH, "trunc", NEED_MATH},
};

/* Names of positional parameters of the local functions, for the constants
 * passed to them. */
static const char *arg_name(const char *fn, int i)
{
	static const char *const swin[] = {
	    "input",       "qkv_weight", "proj_weight", "relative_position_bias",
	    "window_size", "num_heads",  "shift_size"};
	if (strcmp(fn, "shifted_window_attention") == 0 && i < 7)
		return swin[i];
	if (strcmp(fn, "_get_relative_position_bias") == 0 && i == 2)
		return "window_size";
	return NULL;
}

static void call_args(struct exporter *x, struct pbuf *pb, const struct graph_node *nd, int from,
                      const struct names *vars)
{
	bool first = true;
	for (int a = from; a < nd->nargs; a++) {
		pb_text(pb, first ? "" : ", ");
		first = false;
		const char *known = arg_name(nd->target, a);
		char *name = known ? xstrdup(known) : xasprintf("%s_arg%d", nd->target, a);
		char *qname = xasprintf("%s_arg%d", nd->name, a);
		pb_value(x, pb, &nd->args[a], vars, name, qname, true);
		free(name);
		free(qname);
	}
	for (int k = 0; k < nd->nkwargs; k++) {
		if (!py_is_identifier(nd->kwargs[k].name)) {
			if (!x->failed)
				error_set(x->e, "export-py: node '%s': keyword argument '%s' is not a Python name",
				          nd->name, nd->kwargs[k].name);
			x->failed = true;
			return;
		}
		char *kw = xasprintf("%s%s=", first ? "" : ", ", nd->kwargs[k].name);
		pb_text(pb, kw);
		free(kw);
		first = false;
		char *qname = xasprintf("%s_%s", nd->name, nd->kwargs[k].name);
		pb_value(x, pb, &nd->kwargs[k].value, vars, nd->kwargs[k].name, qname, true);
		free(qname);
	}
}

static void fail_at(struct exporter *x, const char *owner, const char *fmt, const char *a,
                    const char *b)
{
	if (!x->failed)
		error_set(x->e, "export-py: %s: %s%s%s", owner, a, fmt, b);
	x->failed = true;
}

/* callable(args...) */
static void plain_call(struct exporter *x, struct pbuf *pb, const char *callable,
                       const struct graph_node *nd, const struct names *vars)
{
	pb_text(pb, callable);
	pb_text(pb, "(");
	call_args(x, pb, nd, 0, vars);
	pb_text(pb, ")");
}

static void function_call(struct exporter *x, struct pbuf *pb, const struct graph_node *nd,
                          const struct names *vars, const char *owner)
{
	int fi = -1;
	for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
		if (strcmp(functions[i].name, nd->target) == 0)
			fi = (int)i;
	if (fi < 0) {
		const struct op_def *def = registry_function(nd->target);
		if (!def || !def->py) {
			fail_at(x, owner, "' has no Python equivalent here", "function '", nd->target);
			return;
		}
		if (strncmp(def->py, "torchvision.", strlen("torchvision.")) == 0)
			x->needs |= NEED_TORCHVISION;
		plain_call(x, pb, def->py, nd, vars);
		return;
	}
	x->needs |= functions[fi].need;
	struct strbuf sb = {0};
	switch (functions[fi].style) {
	case FN_BINOP:
		if (nd->nargs == 2 && nd->nkwargs == 0) {
			py_value(x, &sb, &nd->args[0], vars, false);
			strbuf_addf(&sb, " %s ", functions[fi].py);
			bool neg = (nd->args[1].kind == VAL_INT && nd->args[1].u.i < 0) ||
			           (nd->args[1].kind == VAL_FLOAT && nd->args[1].u.f < 0);
			strbuf_add(&sb, neg ? "(" : "");
			py_value(x, &sb, &nd->args[1], vars, false);
			strbuf_add(&sb, neg ? ")" : "");
			pb_sb(pb, &sb);
			return;
		}
		if (strcmp(nd->target, "truediv") == 0 || strcmp(nd->target, "floordiv") == 0 ||
		    strcmp(nd->target, "mod") == 0) {
			x->needs |= NEED_OPERATOR;
			strbuf_addf(&sb, "operator.%s(", nd->target);
		} else {
			strbuf_addf(&sb, "torch.%s(", nd->target);
		}
		pb_sb(pb, &sb);
		call_args(x, pb, nd, 0, vars);
		pb_text(pb, ")");
		return;
	case FN_UNARY:
		strbuf_add(&sb, functions[fi].py);
		if (nd->nargs >= 1)
			py_value(x, &sb, &nd->args[0], vars, false);
		pb_sb(pb, &sb);
		return;
	case FN_GETITEM:
		if (nd->nargs != 2)
			break;
		py_value(x, &sb, &nd->args[0], vars, false);
		strbuf_add(&sb, "[");
		py_index(x, &sb, &nd->args[1], vars);
		strbuf_add(&sb, "]");
		pb_sb(pb, &sb);
		return;
	case FN_GETATTR:
		if (nd->nargs != 2 || nd->args[1].kind != VAL_STR)
			break;
		if (py_is_identifier(nd->args[1].u.s)) {
			py_value(x, &sb, &nd->args[0], vars, false);
			strbuf_addf(&sb, ".%s", nd->args[1].u.s);
		} else {
			strbuf_add(&sb, "getattr(");
			py_value(x, &sb, &nd->args[0], vars, false);
			strbuf_add(&sb, ", ");
			py_str(&sb, nd->args[1].u.s);
			strbuf_add(&sb, ")");
		}
		pb_sb(pb, &sb);
		return;
	case FN_METHOD:
		if (nd->nargs < 1)
			break;
		py_value(x, &sb, &nd->args[0], vars, false);
		strbuf_addf(&sb, ".%s(", functions[fi].py);
		pb_sb(pb, &sb);
		call_args(x, pb, nd, 1, vars);
		pb_text(pb, ")");
		return;
	case FN_MATH_OR_TORCH:
		if (nd->nargs != 1 || nd->nkwargs)
			break;
		if (nd->args[0].kind == VAL_REF) {
			/* the graph does not say whether it is a number or a tensor */
			strbuf_addf(&sb, "(math.%s if isinstance(", functions[fi].py);
			py_value(x, &sb, &nd->args[0], vars, false);
			strbuf_addf(&sb, ", (int, float)) else torch.%s)(", functions[fi].py);
		} else {
			strbuf_addf(&sb, "%s.%s(", nd->args[0].kind == VAL_TENSOR ? "torch" : "math",
			            functions[fi].py);
		}
		py_value(x, &sb, &nd->args[0], vars, false);
		strbuf_add(&sb, ")");
		pb_sb(pb, &sb);
		return;
	case FN_TORCH:
	case FN_F:
	case FN_LOCAL:
		plain_call(x, pb, functions[fi].py, nd, vars);
		return;
	}
	strbuf_free(&sb);
	fail_at(x, owner, " with unusual arguments", nd->name, "");
}

static char *var_name(const char *node, char **taken, int ntaken)
{
	struct strbuf sb = {0};
	if (py_is_identifier(node)) {
		strbuf_add(&sb, node);
	} else {
		strbuf_add(&sb, "v_");
		for (const char *p = node; *p; p++) {
			bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			          (*p >= '0' && *p <= '9') || *p == '_';
			strbuf_addn(&sb, ok ? p : "_", 1);
		}
	}
	for (;;) {
		bool clash = py_reserved(sb.s);
		for (int i = 0; i < ntaken && !clash; i++)
			clash = taken[i] && strcmp(taken[i], sb.s) == 0;
		if (!clash)
			break;
		strbuf_add(&sb, "_");
	}
	return strbuf_take(&sb);
}

void py_forward_body(struct exporter *x, struct pbuf *pb, const struct module *mod)
{
	const struct graph *g = mod->forward;
	char path[1024];
	module_path_buf(mod, path, sizeof path);
	const char *owner = path[0] ? path : mod->type;
	struct names vars = {.var = xcalloc((size_t)g->n + 1, sizeof(char *)), .n = g->n};
	struct strbuf sb = {0};
	strbuf_add(&sb, "\n    def forward(self");
	for (int i = 0; i < g->n; i++) {
		const struct graph_node *nd = &g->nodes[i];
		if (nd->op == NODE_OUTPUT)
			continue;
		vars.var[i] = var_name(nd->name, vars.var, i);
		if (nd->op != NODE_PLACEHOLDER)
			continue;
		strbuf_addf(&sb, ", %s", vars.var[i]);
		if (nd->nargs > 0) {
			strbuf_add(&sb, "=");
			py_value(x, &sb, &nd->args[0], NULL, false);
		}
	}
	strbuf_add(&sb, "):\n");
	pb_sb(pb, &sb);
	for (int i = 0; i < g->n; i++) {
		const struct graph_node *nd = &g->nodes[i];
		if (nd->op != NODE_PLACEHOLDER && nd->op != NODE_OUTPUT)
			strbuf_addf(&sb, "        %s = ", vars.var[i]);
		switch (nd->op) {
		case NODE_PLACEHOLDER:
			break;
		case NODE_CALL_MODULE:
			py_path(&sb, "self", nd->target);
			strbuf_add(&sb, "(");
			pb_sb(pb, &sb);
			call_args(x, pb, nd, 0, &vars);
			pb_text(pb, ")\n");
			break;
		case NODE_GET_ATTR:
			py_path(&sb, "self", nd->target);
			strbuf_add(&sb, "\n");
			pb_sb(pb, &sb);
			break;
		case NODE_CALL_METHOD:
			if (nd->nargs < 1) {
				fail_at(x, owner, "' has no object", "method node '", nd->name);
				break;
			}
			py_value(x, &sb, &nd->args[0], &vars, false);
			strbuf_addf(&sb, ".%s(", nd->target);
			pb_sb(pb, &sb);
			call_args(x, pb, nd, 1, &vars);
			pb_text(pb, ")\n");
			break;
		case NODE_CALL_FUNCTION:
			pb_sb(pb, &sb);
			function_call(x, pb, nd, &vars, owner);
			pb_text(pb, "\n");
			break;
		case NODE_OUTPUT:
			strbuf_add(&sb, "        return ");
			if (nd->nargs > 0)
				py_value(x, &sb, &nd->args[0], &vars, false);
			else
				strbuf_add(&sb, "None");
			strbuf_add(&sb, "\n");
			pb_sb(pb, &sb);
			break;
		}
	}
	strbuf_free(&sb);
	for (int i = 0; i < g->n; i++)
		free(vars.var[i]);
	free(vars.var);
}
