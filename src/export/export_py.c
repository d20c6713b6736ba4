/* export_py.c - writing a model as Python (export_py.h).
 *
 * Each composite module becomes an *instance*: the code of its class as a
 * list of pieces, text and holes. A hole is a constant (a constructor
 * argument of a layer, a literal in the forward, a tensor's shape) or the
 * construction of a child composite. Instances of one type whose text is
 * the same, holes aside, form a *group*, one Python class. Once every
 * module has been visited, each group finds which holes differ between its
 * instances; those become the parameters of its constructor (holes equal in
 * every instance merge into one), the others stay constants. Groups are
 * made children first, so a child's parameters are known when its parent's
 * are worked out: the child's arguments are holes of the parent.
 *
 * A chain without a forward graph is an nn.Sequential subclass (a plain
 * Sequential named 0, 1, ... is written inline as nn.Sequential(...)); a
 * composite with a graph gets a forward with one assignment per node. */
#include "export/export_py.h"
#include "io/save.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export_py_int.h"
#include "core/module.h"
#include "core/registry.h"
#include "core/text.h"
#include "core/util.h"

static const char *const py_keywords[] = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield",
};

/* Names the file defines or uses globally, which locals must not shadow. */
static const char *const py_globals[] = {
    "self",
    "torch",
    "nn",
    "F",
    "math",
    "operator",
    "json",
    "struct",
    "load",
    "getattr",
    "slice",
    "float",
    "int",
    "len",
    "sum",
    "super",
    "tuple",
    "list",
    "range",
    "LayerNorm2d",
    "StochasticDepth",
    "Permute",
    "FrozenBatchNorm2d",
    "torchvision",
    "det_roi_heads",
    "det_rpn",
    "det_transform",
    "ImageList",
    "GeneralizedRCNNTransform",
    "AnchorGenerator",
    "filter_proposals",
    "postprocess_detections",
    "resize_boxes",
    "maskrcnn_inference",
    "paste_masks_in_image",
    "keypointrcnn_inference",
    "resize_keypoints",
    "DefaultBoxGenerator",
    "det_utils",
    "det_fcos",
    "det_retinanet",
    "det_ssd",
    "_OneStageSettings",
    "_per_level",
    "retinanet_postprocess_detections",
    "fcos_postprocess_detections",
    "ssd_postprocess_detections",
    "stochastic_depth",
    "shifted_window_attention",
    "_get_relative_position_bias",
    "_patch_merging_pad",
    "scaled_dot_product_attention",
    "channel_shuffle",
    "_unsqueeze",
    "_squeeze",
    "_add_rel_pos",
    "_add_shortcut",
    "index_pyramid",
    "_read_safetensors",
    "FROZEN",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

bool py_reserved(const char *s)
{
	return in_list(s, py_globals, sizeof py_globals / sizeof *py_globals);
}

bool py_is_identifier(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return !in_list(s, py_keywords, sizeof py_keywords / sizeof *py_keywords);
}

/* s as the inside of a Python string literal closed by quote: quotes and
 * backslashes escaped, controls and bytes that are not UTF-8 as \xNN, so
 * no text from a file can end the literal or make the file unreadable. */
static void py_escaped(struct strbuf *sb, const char *s, char quote)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int n = text_utf8_len((const char *)p);
		if (*p == quote || *p == '\\') {
			strbuf_addf(sb, "\\%c", *p);
			p++;
		} else if (n == 0 || *p < 0x20 || *p == 0x7f) {
			strbuf_addf(sb, "\\x%02x", *p);
			p++;
		} else {
			strbuf_addn(sb, (const char *)p, (size_t)n);
			p += n;
		}
	}
}

/* A Python string literal. */
void py_str(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, "'");
	py_escaped(sb, s, '\'');
	strbuf_add(sb, "'");
}

void py_value(struct exporter *x, struct strbuf *sb, const struct value *v,
              const struct names *vars, bool in_index)
{
	char buf[64];
	switch (v->kind) {
	case VAL_NONE:
		strbuf_add(sb, "None");
		return;
	case VAL_BOOL:
		strbuf_add(sb, v->u.b ? "True" : "False");
		return;
	case VAL_INT:
		strbuf_addf(sb, "%lld", (long long)v->u.i);
		return;
	case VAL_FLOAT:
		if (v->u.f != v->u.f) {
			strbuf_add(sb, "float('nan')");
		} else if (v->u.f > 1e308 || v->u.f < -1e308) {
			strbuf_add(sb, v->u.f > 0 ? "float('inf')" : "float('-inf')");
		} else {
			value_format(v, buf, sizeof buf);
			strbuf_add(sb, buf);
		}
		return;
	case VAL_STR:
		py_str(sb, v->u.s);
		return;
	case VAL_LIST:
		strbuf_add(sb, v->u.list.keys ? "{" : "(");
		for (int i = 0; i < v->u.list.n; i++) {
			if (i)
				strbuf_add(sb, ", ");
			if (v->u.list.keys) {
				py_str(sb, v->u.list.keys[i]);
				strbuf_add(sb, ": ");
			}
			py_value(x, sb, &v->u.list.items[i], vars, false);
		}
		strbuf_add(sb, v->u.list.keys ? "}" : v->u.list.n == 1 ? ",)" : ")");
		return;
	case VAL_SLICE:
		if (!in_index)
			strbuf_add(sb, "slice(");
		if (v->u.slice.has_start)
			strbuf_addf(sb, "%lld", (long long)v->u.slice.start);
		else if (!in_index)
			strbuf_add(sb, "None");
		strbuf_add(sb, in_index ? ":" : ", ");
		if (v->u.slice.has_stop)
			strbuf_addf(sb, "%lld", (long long)v->u.slice.stop);
		else if (!in_index)
			strbuf_add(sb, "None");
		if (v->u.slice.has_step)
			strbuf_addf(sb, "%s%lld", in_index ? ":" : ", ",
			            (long long)v->u.slice.step);
		if (!in_index)
			strbuf_add(sb, ")");
		return;
	case VAL_ELLIPSIS:
		strbuf_add(sb, "...");
		return;
	case VAL_DTYPE:
		strbuf_addf(sb, "torch.%s", dtype_name(v->u.dtype));
		return;
	case VAL_REF:
		if (vars && v->u.ref >= 0 && v->u.ref < vars->n && vars->var[v->u.ref]) {
			strbuf_add(sb, vars->var[v->u.ref]);
			return;
		}
		break;
	case VAL_TENSOR:
		break;
	}
	if (!x->failed)
		error_set(x->e, "export-py: a constant tensor or a dangling reference in a forward "
		                "graph cannot be written as Python");
	x->failed = true;
	strbuf_add(sb, "None");
}

/* An index for x[...]: a tuple is written without parentheses. */
void py_index(struct exporter *x, struct strbuf *sb, const struct value *v,
              const struct names *vars)
{
	if (v->kind != VAL_LIST) {
		py_value(x, sb, v, vars, true);
		return;
	}
	for (int i = 0; i < v->u.list.n; i++) {
		if (i)
			strbuf_add(sb, ", ");
		py_value(x, sb, &v->u.list.items[i], vars, true);
	}
	if (v->u.list.n == 1)
		strbuf_add(sb, ",");
	if (v->u.list.n == 0)
		strbuf_add(sb, "()");
}

/* self.a.b for a dotted path, with getattr for parts that are not names. */
void py_path(struct strbuf *sb, const char *base, const char *path)
{
	struct strbuf cur = {0};
	strbuf_add(&cur, base);
	const char *p = path;
	while (*p) {
		const char *dot = strchr(p, '.');
		char *part = dot ? xstrndup(p, (size_t)(dot - p)) : xstrdup(p);
		if (py_is_identifier(part)) {
			strbuf_addf(&cur, ".%s", part);
		} else {
			struct strbuf g = {0};
			strbuf_addf(&g, "getattr(%s, ", cur.s);
			py_str(&g, part);
			strbuf_add(&g, ")");
			strbuf_free(&cur);
			cur = g;
		}
		free(part);
		p = dot ? dot + 1 : p + strlen(p);
	}
	strbuf_add(sb, cur.s);
	strbuf_free(&cur);
}

/* ---- pieces ---- */

void pb_text(struct pbuf *pb, const char *text)
{
	if (pb->n && pb->p[pb->n - 1].kind == P_TEXT) {
		struct piece *last = &pb->p[pb->n - 1];
		char *joined = xasprintf("%s%s", last->text, text);
		free(last->text);
		last->text = joined;
		return;
	}
	xgrow(&pb->p, &pb->cap, pb->n + 1, sizeof *pb->p);
	pb->p[pb->n++] = (struct piece){.kind = P_TEXT, .text = xstrdup(text)};
}

void pb_sb(struct pbuf *pb, struct strbuf *sb)
{
	if (sb->len)
		pb_text(pb, sb->s);
	strbuf_free(sb);
}

static void pb_lit(struct pbuf *pb, const char *text, const char *name, const char *qname,
                   bool forward)
{
	xgrow(&pb->p, &pb->cap, pb->n + 1, sizeof *pb->p);
	pb->p[pb->n++] = (struct piece){.kind = P_LIT,
	                                .text = xstrdup(text),
	                                .name = xstrdup(name),
	                                .qname = xstrdup(qname),
	                                .forward = forward};
}

static void pb_child(struct pbuf *pb, struct inst *child)
{
	xgrow(&pb->p, &pb->cap, pb->n + 1, sizeof *pb->p);
	pb->p[pb->n++] = (struct piece){.kind = P_CHILD, .child = child};
}

static void pb_free(struct pbuf *pb)
{
	for (int i = 0; i < pb->n; i++) {
		free(pb->p[i].text);
		free(pb->p[i].name);
		free(pb->p[i].qname);
	}
	free(pb->p);
}

/* A value that may become a parameter: numbers, booleans and tuples of them. */
static bool literal(const struct value *v)
{
	switch (v->kind) {
	case VAL_INT:
	case VAL_FLOAT:
	case VAL_BOOL:
		return true;
	case VAL_LIST:
		if (v->u.list.keys)
			return false;
		for (int i = 0; i < v->u.list.n; i++)
			if (!literal(&v->u.list.items[i]))
				return false;
		return true;
	default:
		return false;
	}
}

/* A value as a hole when it is a literal, as text otherwise. */
void pb_value(struct exporter *x, struct pbuf *pb, const struct value *v, const struct names *vars,
              const char *name, const char *qname, bool forward)
{
	struct strbuf sb = {0};
	py_value(x, &sb, v, vars, false);
	if (literal(v))
		pb_lit(pb, sb.s, name, qname, forward);
	else
		pb_text(pb, sb.s);
	strbuf_free(&sb);
}

/* ---- registry modules ---- */

static bool is_default(const struct attr_spec *spec, const struct value *v)
{
	if (!spec->def)
		return false;
	struct value d;
	struct error e = {0};
	if (value_parse(spec->def, &d, NULL, &e) < 0)
		return false;
	bool same = value_equal(v, &d);
	if (!same && d.kind == VAL_INT && v->kind == VAL_LIST && v->u.list.n > 0) {
		same = true;
		for (int i = 0; i < v->u.list.n; i++)
			same = same && v->u.list.items[i].kind == VAL_INT &&
			       v->u.list.items[i].u.i == d.u.i;
	}
	value_free(&d);
	return same;
}

/* nn.Conv2d(3, 64, (7, 7), stride=(2, 2), ...): required arguments by
 * position, the others by keyword when they differ from the default. */
static void registry_ctor(struct exporter *x, struct pbuf *pb, const struct module *mod)
{
	const struct op_def *def = mod->def;
	if (strcmp(def->name, "LayerNorm2d") == 0) {
		x->needs |= NEED_LAYERNORM2D;
		pb_text(pb, "LayerNorm2d(");
	} else if (strcmp(def->name, "StochasticDepth") == 0) {
		x->needs |= NEED_STOCHASTIC;
		pb_text(pb, "StochasticDepth(");
	} else if (strcmp(def->name, "Permute") == 0) {
		x->needs |= NEED_PERMUTE;
		pb_text(pb, "Permute(");
	} else if (strcmp(def->name, "FrozenBatchNorm2d") == 0) {
		x->needs |= NEED_FROZEN_BN;
		pb_text(pb, "FrozenBatchNorm2d(");
	} else if (strcmp(def->name, "GeneralizedRCNNTransform") == 0 ||
	           strcmp(def->name, "AnchorGenerator") == 0) {
		x->needs |= NEED_DETECTION | NEED_TORCHVISION;
		char *t = xasprintf("%s(", def->name);
		pb_text(pb, t);
		free(t);
	} else if (strcmp(def->name, "DefaultBoxGenerator") == 0) {
		x->needs |= NEED_TORCHVISION | NEED_DETECTION | NEED_DEFAULT_BOXES;
		pb_text(pb, "DefaultBoxGenerator(");
	} else if (def->py) {
		if (strncmp(def->py, "torchvision.", strlen("torchvision.")) == 0)
			x->needs |= NEED_TORCHVISION;
		char *t = xasprintf("%s(", def->py);
		pb_text(pb, t);
		free(t);
	} else {
		char *t = xasprintf("nn.%s(", def->name);
		pb_text(pb, t);
		free(t);
	}
	bool first = true, keywords = false;
	for (int i = 0; i < def->nattrs; i++) {
		const struct attr_spec *spec = &def->attrs[i];
		const struct value *v = module_attr(mod, spec->name);
		if (!v || is_default(spec, v)) {
			keywords = true; /* what follows cannot be positional */
			continue;
		}
		pb_text(pb, first ? "" : ", ");
		first = false;
		if (spec->def || keywords) {
			char *kw = xasprintf("%s=", spec->name);
			pb_text(pb, kw);
			free(kw);
			keywords = true;
		}
		char *qname = xasprintf("%s_%s", mod->name, spec->name);
		pb_value(x, pb, v, NULL, spec->name, qname, false);
		free(qname);
	}
	pb_text(pb, ")");
}

/* ---- composites ---- */

static struct inst *build_inst(struct exporter *x, const struct module *mod, const char *want);

static bool is_plain_sequence(const struct module *mod)
{
	if (mod->forward || mod->nparams ||
	    (strcmp(mod->type, "Sequential") != 0 && strcmp(mod->type, "ModuleList") != 0))
		return false;
	for (int i = 0; i < mod->nchildren; i++) {
		char want[16];
		snprintf(want, sizeof want, "%d", i);
		if (strcmp(mod->children[i]->name, want) != 0)
			return false;
	}
	return true;
}

static void pb_indent(struct pbuf *pb, int n)
{
	char buf[128];
	if (n > 120)
		n = 120;
	memset(buf, ' ', (size_t)n);
	buf[n] = '\0';
	pb_text(pb, buf);
}

static void tensor_ctor(struct exporter *x, struct pbuf *pb, const struct param *p);

/* nn.ModuleDict, nn.ParameterList and nn.ParameterDict without a forward:
 * the container of that type, built inline. */
enum container_kind { NOT_CONTAINER, MODULE_DICT, PARAMETER_LIST, PARAMETER_DICT };

static enum container_kind container_kind(const struct module *mod)
{
	if (mod->forward)
		return NOT_CONTAINER;
	if (strcmp(mod->type, "ModuleDict") == 0 && !mod->nparams)
		return MODULE_DICT;
	bool list = strcmp(mod->type, "ParameterList") == 0;
	if ((!list && strcmp(mod->type, "ParameterDict") != 0) || mod->nchildren)
		return NOT_CONTAINER;
	for (int i = 0; i < mod->nparams; i++) {
		char want[16];
		snprintf(want, sizeof want, "%d", i);
		if (mod->params[i].buffer || (list && strcmp(mod->params[i].name, want) != 0))
			return NOT_CONTAINER;
	}
	return list ? PARAMETER_LIST : PARAMETER_DICT;
}

/* Starts item i of an inline container at indentation `indent`: a new
 * line, and the key of a dict's item. */
static void item_start(struct pbuf *pb, int indent, const char *key)
{
	pb_text(pb, "\n");
	pb_indent(pb, indent + 4);
	if (key) {
		struct strbuf sb = {0};
		py_str(&sb, key);
		strbuf_add(&sb, ": ");
		pb_sb(pb, &sb);
	}
}

/* The expression that builds mod: a layer, a composite class's
 * construction, or an inline nn.Sequential(...), nn.ModuleList([...]),
 * nn.ModuleDict({...}), nn.ParameterList([...]) or nn.ParameterDict({...})
 * at indentation `indent`. */
static void ctor(struct exporter *x, struct pbuf *pb, const struct module *mod, int indent)
{
	if (mod->def) {
		registry_ctor(x, pb, mod);
		return;
	}
	enum container_kind kind = container_kind(mod);
	if (is_plain_sequence(mod) || kind == MODULE_DICT) {
		bool list = strcmp(mod->type, "ModuleList") == 0;
		pb_text(pb, kind == MODULE_DICT ? "nn.ModuleDict({" :
		            list ? "nn.ModuleList([" : "nn.Sequential(");
		for (int i = 0; i < mod->nchildren; i++) {
			item_start(pb, indent, kind == MODULE_DICT ? mod->children[i]->name : NULL);
			ctor(x, pb, mod->children[i], indent + 4);
			pb_text(pb, ",");
		}
		if (mod->nchildren) {
			pb_text(pb, "\n");
			pb_indent(pb, indent);
		}
		pb_text(pb, kind == MODULE_DICT ? "})" : list ? "])" : ")");
		return;
	}
	if (kind == PARAMETER_LIST || kind == PARAMETER_DICT) {
		bool list = kind == PARAMETER_LIST;
		pb_text(pb, list ? "nn.ParameterList([" : "nn.ParameterDict({");
		for (int i = 0; i < mod->nparams; i++) {
			item_start(pb, indent, list ? NULL : mod->params[i].name);
			pb_text(pb, "nn.Parameter(");
			tensor_ctor(x, pb, &mod->params[i]);
			pb_text(pb, "),");
		}
		if (mod->nparams) {
			pb_text(pb, "\n");
			pb_indent(pb, indent);
		}
		pb_text(pb, list ? "])" : "})");
		return;
	}
	struct inst *child = build_inst(x, mod, mod->type);
	if (child)
		pb_child(pb, child);
}

static void tensor_ctor(struct exporter *x, struct pbuf *pb, const struct param *p)
{
	struct value shape = value_list(p->t.shape.ndim);
	for (int d = 0; d < p->t.shape.ndim; d++)
		shape.u.list.items[d] = value_int(p->t.shape.dim[d]);
	pb_text(pb, "torch.zeros(");
	char *name = xasprintf("%s_shape", p->name);
	pb_value(x, pb, &shape, NULL, name, name, false);
	free(name);
	value_free(&shape);
	/* floating tensors are float32, as in the layers graft computes with */
	if (!dtype_is_float(p->t.dtype)) {
		char *dt = xasprintf(", dtype=torch.%s", dtype_name(p->t.dtype));
		pb_text(pb, dt);
		free(dt);
	}
	pb_text(pb, ")");
}

static void init_body(struct exporter *x, struct pbuf *pb, const struct module *mod)
{
	for (int i = 0; i < mod->nparams; i++) {
		const struct param *p = &mod->params[i];
		struct strbuf sb = {0};
		strbuf_add(&sb, "        ");
		if (p->buffer) {
			strbuf_add(&sb, "self.register_buffer(");
			py_str(&sb, p->name);
			strbuf_add(&sb, ", ");
		} else if (py_is_identifier(p->name)) {
			strbuf_addf(&sb, "self.%s = nn.Parameter(", p->name);
		} else {
			strbuf_add(&sb, "self.register_parameter(");
			py_str(&sb, p->name);
			strbuf_add(&sb, ", nn.Parameter(");
		}
		pb_sb(pb, &sb);
		tensor_ctor(x, pb, p);
		pb_text(pb, p->buffer || py_is_identifier(p->name) ? ")\n" : "))\n");
	}
	for (int i = 0; i < mod->nchildren; i++) {
		const struct module *c = mod->children[i];
		struct strbuf sb = {0};
		if (py_is_identifier(c->name)) {
			strbuf_addf(&sb, "        self.%s = ", c->name);
			pb_sb(pb, &sb);
			ctor(x, pb, c, 8);
		} else {
			strbuf_add(&sb, "        self.add_module(");
			py_str(&sb, c->name);
			strbuf_add(&sb, ", ");
			pb_sb(pb, &sb);
			ctor(x, pb, c, 8);
			pb_text(pb, ")");
		}
		pb_text(pb, "\n");
	}
	if (!mod->nparams && !mod->nchildren && !mod->forward)
		pb_text(pb, "        pass\n");
}

static char *class_ident(const char *type)
{
	struct strbuf sb = {0};
	if (*type >= '0' && *type <= '9')
		strbuf_add(&sb, "M");
	for (const char *p = type; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		          (*p >= '0' && *p <= '9') || *p == '_';
		strbuf_addn(&sb, ok ? p : "_", 1);
	}
	if (!sb.len)
		strbuf_add(&sb, "Module");
	while (!py_is_identifier(sb.s) ||
	       in_list(sb.s, py_globals, sizeof py_globals / sizeof *py_globals))
		strbuf_add(&sb, "_");
	return strbuf_take(&sb);
}

/* The text of an instance with its holes marked, which instances of one
 * class share. */
static char *template_key(const struct inst *in)
{
	struct strbuf sb = {0};
	for (int i = 0; i < in->body.n; i++) {
		const struct piece *p = &in->body.p[i];
		if (p->kind == P_TEXT)
			strbuf_add(&sb, p->text);
		else if (p->kind == P_LIT)
			strbuf_add(&sb, "\x01");
		else
			strbuf_addf(&sb, "\x02%d\x03", p->child->g->id);
	}
	return strbuf_take(&sb);
}

static struct inst *build_inst(struct exporter *x, const struct module *mod, const char *want)
{
	struct inst *in = xcalloc(1, sizeof *in);
	in->mod = mod;
	xgrow(&x->insts, &x->icap, x->ninsts + 1, sizeof *x->insts);
	x->insts[x->ninsts++] = in;
	init_body(x, &in->body, mod);
	if (mod->forward)
		py_forward_body(x, &in->body, mod);
	char *tk = template_key(in);
	char *key = xasprintf("%s\x1e%s\x1e%s", mod->type, mod->forward ? "m" : "s", tk);
	free(tk);
	struct group *g = NULL;
	for (int i = 0; i < x->ngroups && !g; i++)
		if (strcmp(x->groups[i]->key, key) == 0)
			g = x->groups[i];
	if (!g) {
		g = xcalloc(1, sizeof *g);
		g->id = x->ngroups;
		g->type = xstrdup(mod->type);
		g->key = key;
		g->chain = !mod->forward;
		char *base = class_ident(want);
		g->name = xstrdup(base);
		for (int k = 2;; k++) {
			bool taken = false;
			for (int i = 0; i < x->ngroups && !taken; i++)
				taken = strcmp(x->groups[i]->name, g->name) == 0;
			if (!taken)
				break;
			free(g->name);
			g->name = xasprintf("%s_%d", base, k);
		}
		free(base);
		xgrow(&x->groups, &x->gcap, x->ngroups + 1, sizeof *x->groups);
		x->groups[x->ngroups++] = g;
	} else {
		free(key);
	}
	xgrow(&g->insts, &g->cap, g->ninsts + 1, sizeof *g->insts);
	g->insts[g->ninsts++] = in;
	in->g = g;
	return in;
}

/* One position of an instance's holes: its value, its names, where. */
struct pos {
	const char *value, *name, *qname;
	bool forward;
};

static int expand(const struct inst *in, struct pos *out)
{
	int n = 0;
	for (int i = 0; i < in->body.n; i++) {
		const struct piece *p = &in->body.p[i];
		if (p->kind == P_LIT) {
			if (out)
				out[n] = (struct pos){p->text, p->name, p->qname, p->forward};
			n++;
		} else if (p->kind == P_CHILD) {
			const struct group *cg = p->child->g;
			for (int j = 0; j < cg->nparams; j++, n++)
				if (out)
					out[n] = (struct pos){p->child->args[j], cg->params[j],
					                      cg->params[j], false};
		}
	}
	return n;
}

static bool name_taken(const struct group *g, const char *name, const struct module *mod)
{
	if (!py_is_identifier(name) || strcmp(name, "self") == 0 ||
	    in_list(name, py_globals, sizeof py_globals / sizeof *py_globals))
		return true;
	for (int i = 0; i < g->nparams; i++)
		if (strcmp(g->params[i], name) == 0)
			return true;
	(void)mod;
	return false;
}

static char *sanitize(const char *s)
{
	struct strbuf sb = {0};
	for (const char *p = s; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		          (*p >= '0' && *p <= '9') || *p == '_';
		strbuf_addn(&sb, ok ? p : "_", 1);
	}
	if (!sb.len || (sb.s[0] >= '0' && sb.s[0] <= '9')) {
		char *t = xasprintf("p_%s", sb.s ? sb.s : "");
		strbuf_free(&sb);
		return t;
	}
	return strbuf_take(&sb);
}

/* Attributes nn.Module has, which a forward constant must not replace. */
static const char *const module_attrs[] = {
    "training",
    "forward",
    "eval",
    "train",
    "to",
    "cuda",
    "cpu",
    "float",
    "half",
    "double",
    "type",
    "apply",
    "children",
    "modules",
    "parameters",
    "buffers",
    "state_dict",
    "load_state_dict",
    "named_modules",
    "named_parameters",
    "named_buffers",
    "named_children",
    "register_buffer",
    "register_parameter",
    "add_module",
    "zero_grad",
    "requires_grad_",
    "get_parameter",
    "get_submodule",
    "extra_repr",
    "dump_patches",
};

static void finalize(struct group *g, const struct module *example)
{
	int npos = expand(g->insts[0], NULL);
	g->npos = npos;
	g->pos_param = xcalloc((size_t)npos + 1, sizeof *g->pos_param);
	struct pos **vec = xcalloc((size_t)g->ninsts, sizeof *vec);
	for (int k = 0; k < g->ninsts; k++) {
		vec[k] = xcalloc((size_t)npos + 1, sizeof **vec);
		expand(g->insts[k], vec[k]);
	}
	int *first = xcalloc((size_t)npos + 1, sizeof *first); /* param -> its first position */
	bool *fwd = xcalloc((size_t)npos + 1, sizeof *fwd);
	for (int p = 0; p < npos; p++) {
		g->pos_param[p] = -1;
		bool varies = false;
		for (int k = 1; k < g->ninsts && !varies; k++)
			varies = strcmp(vec[k][p].value, vec[0][p].value) != 0;
		if (!varies)
			continue;
		/* the same values at every instance as an earlier parameter: merge */
		for (int q = 0; q < g->nparams && g->pos_param[p] < 0; q++) {
			bool same = true;
			for (int k = 0; k < g->ninsts && same; k++)
				same = strcmp(vec[k][p].value, vec[k][first[q]].value) == 0;
			if (same)
				g->pos_param[p] = q;
		}
		if (g->pos_param[p] < 0) {
			char *n1 = sanitize(vec[0][p].name), *n2 = sanitize(vec[0][p].qname);
			char *name = NULL;
			if (!name_taken(g, n1, example))
				name = xstrdup(n1);
			else if (!name_taken(g, n2, example))
				name = xstrdup(n2);
			for (int k = 2; !name; k++) {
				char *t = xasprintf("%s_%d", n2, k);
				if (!name_taken(g, t, example))
					name = t;
				else
					free(t);
			}
			free(n1);
			free(n2);
			g->params =
			    xrealloc(g->params, (size_t)(g->nparams + 1) * sizeof *g->params);
			g->params[g->nparams] = name;
			first[g->nparams] = p;
			g->pos_param[p] = g->nparams++;
		}
		fwd[g->pos_param[p]] = fwd[g->pos_param[p]] || vec[0][p].forward;
	}
	/* forward constants live on self, under a name no child or tensor has */
	g->attrs = xcalloc((size_t)g->nparams + 1, sizeof *g->attrs);
	for (int q = 0; q < g->nparams; q++) {
		if (!fwd[q])
			continue;
		char *a = xstrdup(g->params[q]);
		for (;;) {
			bool clash =
			    module_child(example, a) || module_param(example, a) ||
			    in_list(a, module_attrs, sizeof module_attrs / sizeof *module_attrs);
			for (int r = 0; r < q && !clash; r++)
				clash = g->attrs[r] && strcmp(g->attrs[r], a) == 0;
			if (!clash)
				break;
			char *t = xasprintf("%s_", a);
			free(a);
			a = t;
		}
		g->attrs[q] = a;
	}
	for (int k = 0; k < g->ninsts; k++) {
		struct inst *in = g->insts[k];
		in->args = xcalloc((size_t)g->nparams + 1, sizeof *in->args);
		for (int q = 0; q < g->nparams; q++)
			in->args[q] = xstrdup(vec[k][first[q]].value);
		free(vec[k]);
	}
	free(vec);
	free(first);
	free(fwd);
}

/* The text at position p of group g, in __init__ or (forward) in forward. */
static void pos_text(struct strbuf *sb, const struct group *g, const struct inst *in0,
                     const struct pos *pv, int p, bool forward)
{
	int q = g->pos_param[p];
	(void)in0;
	if (q < 0)
		strbuf_add(sb, pv[p].value);
	else if (forward)
		strbuf_addf(sb, "self.%s", g->attrs[q]);
	else
		strbuf_add(sb, g->params[q]);
}

static void emit_class(struct strbuf *out, const struct group *g)
{
	const struct inst *in0 = g->insts[0];
	struct pos *pv = xcalloc((size_t)g->npos + 1, sizeof *pv);
	expand(in0, pv);
	strbuf_addf(out, "\n\nclass %s(%s):\n    def __init__(self", g->name,
	            g->chain ? "nn.Sequential" : "nn.Module");
	for (int q = 0; q < g->nparams; q++)
		strbuf_addf(out, ", %s", g->params[q]);
	strbuf_add(out, "):\n        super().__init__()\n");
	for (int q = 0; q < g->nparams; q++)
		if (g->attrs[q])
			strbuf_addf(out, "        self.%s = %s\n", g->attrs[q], g->params[q]);
	int p = 0;
	for (int i = 0; i < in0->body.n; i++) {
		const struct piece *pc = &in0->body.p[i];
		if (pc->kind == P_TEXT) {
			strbuf_add(out, pc->text);
		} else if (pc->kind == P_LIT) {
			pos_text(out, g, in0, pv, p, pc->forward);
			p++;
		} else {
			const struct group *cg = pc->child->g;
			strbuf_addf(out, "%s(", cg->name);
			for (int j = 0; j < cg->nparams; j++, p++) {
				strbuf_add(out, j ? ", " : "");
				pos_text(out, g, in0, pv, p, false);
			}
			strbuf_add(out, ")");
		}
	}
	free(pv);
}

static void free_exporter(struct exporter *x)
{
	for (int i = 0; i < x->ninsts; i++) {
		struct inst *in = x->insts[i];
		pb_free(&in->body);
		for (int q = 0; in->args && q < in->g->nparams; q++)
			free(in->args[q]);
		free(in->args);
		free(in);
	}
	free(x->insts);
	for (int i = 0; i < x->ngroups; i++) {
		struct group *g = x->groups[i];
		free(g->type);
		free(g->key);
		free(g->name);
		free(g->insts);
		free(g->pos_param);
		for (int q = 0; q < g->nparams; q++) {
			free(g->params[q]);
			free(g->attrs ? g->attrs[q] : NULL);
		}
		free(g->params);
		free(g->attrs);
		free(g);
	}
	free(x->groups);
}

/* ---- the file ---- */

static void add_section(struct strbuf *sb, const char *text)
{
	strbuf_add(sb, "\n\n");
	strbuf_add(sb, text);
}

struct list_ctx {
	struct strbuf *sb;
	int n;
};

static int list_frozen(struct module *mod, void *vctx)
{
	struct list_ctx *c = vctx;
	char path[4096];
	module_path_buf(mod, path, sizeof path);
	for (int i = 0; i < mod->nparams; i++) {
		const struct param *p = &mod->params[i];
		if (p->buffer || p->trainable)
			continue;
		char *name = path[0] ? xasprintf("%s.%s", path, p->name) : xstrdup(p->name);
		strbuf_add(c->sb, "    ");
		py_str(c->sb, name);
		strbuf_add(c->sb, ",\n");
		free(name);
		c->n++;
	}
	return 0;
}

/* ('unproject.weight', 'project.weight'),: a tied parameter and its first
 * name, one line each, into c->sb. */
static int list_tied(struct module *mod, void *vctx)
{
	struct list_ctx *c = vctx;
	for (int i = 0; i < mod->nparams; i++) {
		const struct param *p = &mod->params[i];
		if (p->buffer || !p->tie)
			continue;
		char name[4096];
		strbuf_add(c->sb, "    (");
		py_str(c->sb, module_param_path(mod, p->name, name, sizeof name));
		strbuf_add(c->sb, ", ");
		py_str(c->sb, p->tie);
		strbuf_add(c->sb, "),\n");
		c->n++;
	}
	return 0;
}

/* CamelCase of a model name: resnet18 -> Resnet18, tiny_cnn -> TinyCnn. */
static char *camel(const char *name)
{
	struct strbuf sb = {0};
	bool up = true;
	for (const char *p = name; *p; p++) {
		if (*p == '_' || *p == '-' || *p == '.' || *p == ' ') {
			up = true;
			continue;
		}
		char c = *p;
		if (up && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		strbuf_addn(&sb, &c, 1);
		up = false;
	}
	char *s = strbuf_take(&sb);
	char *id = class_ident(*s ? s : "Model");
	free(s);
	return id;
}

char *export_py_text(const struct model *m, struct error *e)
{
	if (!m->has_forward || !m->root) {
		error_set(
		    e,
		    "%s: the forward is unknown (no architecture), so there is no Python to write",
		    m->path ? m->path : m->name);
		return NULL;
	}
	struct exporter x = {.m = m, .e = e};
	const struct module *root = m->root;
	struct strbuf root_expr = {0};
	if (root->def) {
		struct pbuf pb = {0};
		registry_ctor(&x, &pb, root);
		for (int i = 0; i < pb.n; i++)
			strbuf_add(&root_expr, pb.p[i].text);
		pb_free(&pb);
	} else {
		bool generic = is_plain_sequence(root) || strcmp(root->type, "Module") == 0;
		char *want = generic ? camel(m->name) : xstrdup(root->type);
		struct inst *in = build_inst(&x, root, want);
		free(want);
		for (int i = 0; i < x.ngroups; i++)
			finalize(x.groups[i], x.groups[i]->insts[0]->mod);
		strbuf_addf(&root_expr, "%s(", in->g->name);
		for (int q = 0; q < in->g->nparams; q++)
			strbuf_addf(&root_expr, "%s%s", q ? ", " : "", in->args[q]);
		strbuf_add(&root_expr, ")");
	}
	struct strbuf out = {0};
	if (x.failed)
		goto fail;
	strbuf_add(&out, "\"\"\"");
	py_escaped(&out, m->name, '"');
	strbuf_add(&out, " as plain PyTorch, written by graft export-py");
	if (m->source) {
		strbuf_add(&out, " (from ");
		py_escaped(&out, m->source, '"');
		strbuf_add(&out, ")");
	}
	strbuf_add(&out, x.needs & NEED_TORCHVISION ? ".\n\nNeeds torch and torchvision."
	                                            : ".\n\nNeeds only torch.");
	strbuf_add(&out,
	           " load() builds the model, in eval mode; "
	           "load('weights.safetensors')\nor load('weights.pth') also loads its weights, "
	           "strictly (every tensor under its\ngraft name). Without weights, layers have "
	           "PyTorch's default initialisation and\nthe tensors composites own directly are "
	           "zeros.\n\"\"\"\n");
	strbuf_add(&out, "import json\n");
	if (x.needs & NEED_MATH)
		strbuf_add(&out, "import math\n");
	if (x.needs & NEED_OPERATOR)
		strbuf_add(&out, "import operator\n");
	strbuf_add(&out, "import struct\n\nimport torch\nimport torch.nn.functional as F\nfrom "
	                 "torch import nn\n");
	if (x.needs & NEED_TORCHVISION)
		strbuf_add(&out, "import torchvision\n");
	static const struct {
		unsigned need;
		const char *text;
	} sections[] = {
	    {NEED_LAYERNORM2D, export_py_layernorm2d},
	    {NEED_STOCHASTIC, export_py_stochastic},
	    {NEED_PERMUTE, export_py_permute},
	    {NEED_PATCH_PAD, export_py_patch_pad},
	    {NEED_REL_BIAS, export_py_rel_bias},
	    {NEED_SWIN, export_py_swin},
	    {NEED_SDPA, export_py_sdpa},
	    {NEED_SHUFFLE, export_py_shuffle},
	    {NEED_INDEX_PYRAMID, export_py_index_pyramid},
	    {NEED_FROZEN_BN, export_py_frozen_bn},
	    {NEED_DETECTION, export_py_detection},
	    {NEED_MVIT_DIMS, export_py_mvit_dims},
	    {NEED_MVIT_REL_POS, export_py_mvit_rel_pos},
	    {NEED_MVIT_SHORTCUT, export_py_mvit_shortcut},
	    {NEED_DEFAULT_BOXES, export_py_default_boxes},
	    {NEED_ONESTAGE, export_py_onestage_postprocess},
	};
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		if (x.needs & sections[i].need)
			add_section(&out, sections[i].text);
	for (int i = 0; i < x.ngroups; i++)
		emit_class(&out, x.groups[i]);
	add_section(&out, export_py_read_safetensors);
	struct strbuf frozen = {0};
	struct list_ctx fc = {.sb = &frozen};
	module_walk(m->root, list_frozen, &fc);
	if (fc.n)
		strbuf_addf(
		    &out,
		    "\n\n# Parameters graft has frozen (requires_grad=False).\nFROZEN = (\n%s)\n",
		    frozen.s);
	strbuf_free(&frozen);
	struct strbuf tied = {0};
	struct list_ctx tc = {.sb = &tied};
	module_walk(m->root, list_tied, &tc);
	if (tc.n)
		strbuf_addf(&out,
		            "\n\n# Tied parameters: each is its first name's Parameter "
		            "(lm_head.weight = wte.weight).\nTIED = (\n%s)\n",
		            tied.s);
	strbuf_free(&tied);
	strbuf_add(&out, "\n\ndef load(weights=None):\n"
	                 "    \"\"\"The model, with the weights of a .safetensors or .pth file if "
	                 "given.\"\"\"\n");
	strbuf_addf(&out, "    model = %s\n", root_expr.s);
	if (tc.n)
		strbuf_add(&out, "    for name, first in TIED:\n"
		                 "        owner, _, attr = name.rpartition('.')\n"
		                 "        setattr(model.get_submodule(owner), attr, model.get_parameter(first))\n");
	if (fc.n)
		strbuf_add(&out, "    for name in FROZEN:\n"
		                 "        model.get_parameter(name).requires_grad_(False)\n");
	strbuf_add(
	    &out, "    if weights is not None:\n"
	          "        if str(weights).endswith('.safetensors'):\n"
	          "            state = _read_safetensors(weights)\n"
	          "        else:\n"
	          "            state = torch.load(weights, map_location='cpu', weights_only=True)\n"
	          "        model.load_state_dict(state, strict=True)\n"
	          "    return model.eval()\n");
	free_exporter(&x);
	strbuf_free(&root_expr);
	return strbuf_take(&out);
fail:
	free_exporter(&x);
	strbuf_free(&root_expr);
	strbuf_free(&out);
	return NULL;
}

int export_py_write(const struct model *m, const char *path, struct error *e)
{
	char *text = export_py_text(m, e);
	if (!text)
		return -1;
	int rc = save_file_atomic(path, text, strlen(text), 0, e);
	free(text);
	return rc;
}
