/* pth_tree.c - graft's module tree from a pickled nn.Module (io_pth.h).
 *
 * torch.save(model, f) pickles each module as an instance of its class
 * whose state is its __dict__: `_modules` (the children, in order),
 * `_parameters`, `_buffers` and `_non_persistent_buffers_set`, then the
 * plain attributes the constructor stored (in_channels, kernel_size, ...).
 * Each becomes a graft module of the class's name. A module of a type graft
 * knows (Conv2d, BatchNorm2d, ... from torch or torchvision) takes its
 * constructor keywords from those attributes and must then declare exactly
 * the tensors the pickle holds, with the same shapes; one that does not is
 * kept as a plain container named by its full class name
 * (torch.nn.modules.conv.Conv2d) holding the tensors as they are, and the
 * reason goes to the file's tree_note. Other classes are containers with
 * their own parameters and persistent buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_pth.h"
#include "io/pickle.h"
#include "core/registry.h"
#include "core/util.h"

/* Deepest module nesting accepted (torchvision's models nest 6 deep). */
#define TREE_MAX_DEPTH 64
/* Deepest tuple nesting of an attribute value. */
#define VALUE_MAX_DEPTH 8
/* Most items an attribute value may hold, nested ones included (a shared
 * tuple counts each time it is reached). */
#define VALUE_MAX_ITEMS 4096

struct tree_ctx {
	struct pth_reader *r;
	struct pth_file *f;
	struct error *e;
	struct strbuf note;
	int nkept;             /* registry-typed modules kept as plain containers */
	size_t nodes_left;     /* modules built and module states visited */
	size_t nodes_limit;    /* what nodes_left started at */
	struct budget *budget; /* the file's, charged for each of them */
};

/* Counts one module (built, or its state visited) against the number of
 * the pickle's values, and charges it to the file's budget: a module
 * reached many times through shared references (a DAG) would otherwise
 * expand into a tree exponentially larger than the file, in time and in
 * memory. -1 with the error set when either is spent. */
static int spend_node(struct tree_ctx *c, const char *path)
{
	const char *name = path[0] ? path : "<root>";
	if (c->nodes_left == 0)
		return error_set(c->e,
		                 "module '%.200s': the tree would have more than %zu modules, as "
		                 "many as the pickle has values (modules shared too often)",
		                 name, c->nodes_limit);
	c->nodes_left--;
	if (budget_spend(c->budget, sizeof(struct module) + strlen(path) + 1, c->e) < 0)
		return error_prefix(c->e, "module '%.200s'", name);
	return 0;
}

/* Converts an attribute value; -1 for what graft's values cannot hold,
 * -2 when it holds more than *items_left items. */
static int to_value(const struct pk_value *v, struct value *out, int depth, int *items_left)
{
	switch (v->kind) {
	case PK_NONE:
		*out = value_none();
		return 0;
	case PK_BOOL:
		*out = value_bool(v->u.b);
		return 0;
	case PK_INT:
		*out = value_int(v->u.i);
		return 0;
	case PK_FLOAT:
		*out = value_float(v->u.f);
		return 0;
	case PK_STR:
		*out = value_str(v->u.str.s);
		return 0;
	case PK_TUPLE:
	case PK_LIST:
		if (depth >= VALUE_MAX_DEPTH)
			return -1;
		if (v->u.seq.n > *items_left)
			return -2;
		*items_left -= v->u.seq.n;
		*out = value_list(v->u.seq.n);
		for (int i = 0; i < v->u.seq.n; i++) {
			int rc = to_value(v->u.seq.items[i], &out->u.list.items[i], depth + 1,
			                  items_left);
			if (rc < 0) {
				value_free(out);
				return rc;
			}
		}
		return 0;
	case PK_GLOBAL: {
		enum dtype dt;
		if (strcmp(v->u.global.module, "torch") == 0 &&
		    dtype_parse(v->u.global.name, &dt) == 0) {
			out->kind = VAL_DTYPE;
			out->u.dtype = dt;
			return 0;
		}
		return -1;
	}
	default:
		return -1;
	}
}

static bool name_in_set(const struct pk_value *set, const char *name)
{
	if (!set || set->kind != PK_SET)
		return false;
	for (int i = 0; i < set->u.seq.n; i++) {
		const struct pk_value *s = set->u.seq.items[i];
		if (s->kind == PK_STR && strcmp(s->u.str.s, name) == 0)
			return true;
	}
	return false;
}

/* The tensor `name` ("weight", or "out_proj.weight" in a child) among the
 * parameters and persistent buffers of the module whose state is `state`;
 * NULL when absent or None. *is_param tells which it is. */
static const struct pk_value *find_tensor(const struct pk_value *state, const char *name,
                                          bool *is_param, int depth)
{
	const char *dot = strchr(name, '.');
	if (dot) {
		if (depth >= TREE_MAX_DEPTH)
			return NULL;
		char *head = xstrndup(name, (size_t)(dot - name));
		const struct pk_value *child = pk_dict_get(pk_dict_get(state, "_modules"), head);
		free(head);
		struct pk_value *cstate;
		if (!pk_object_state(child, &cstate))
			return NULL;
		return find_tensor(cstate, dot + 1, is_param, depth + 1);
	}
	const struct pk_value *t = pk_dict_get(pk_dict_get(state, "_parameters"), name);
	*is_param = true;
	if (!t || t->kind != PK_TENSOR) {
		*is_param = false;
		if (name_in_set(pk_dict_get(state, "_non_persistent_buffers_set"), name))
			return NULL;
		t = pk_dict_get(pk_dict_get(state, "_buffers"), name);
	}
	return t && t->kind == PK_TENSOR ? t : NULL;
}

/* Number of tensors in a module's state_dict, children included; -1 with
 * the error set when the states visited spend the tree's budget. */
static int count_tensors(struct tree_ctx *c, const struct pk_value *state, const char *path,
                         int depth)
{
	if (spend_node(c, path) < 0)
		return -1;
	int n = 0;
	const struct pk_value *d = pk_dict_get(state, "_parameters");
	for (int i = 0; d && d->kind == PK_DICT && i < d->u.dict.n; i++)
		n += d->u.dict.values[i]->kind == PK_TENSOR;
	d = pk_dict_get(state, "_buffers");
	const struct pk_value *np = pk_dict_get(state, "_non_persistent_buffers_set");
	for (int i = 0; d && d->kind == PK_DICT && i < d->u.dict.n; i++)
		n += d->u.dict.values[i]->kind == PK_TENSOR && d->u.dict.keys[i]->kind == PK_STR &&
		     !name_in_set(np, d->u.dict.keys[i]->u.str.s);
	d = pk_dict_get(state, "_modules");
	for (int i = 0; d && d->kind == PK_DICT && i < d->u.dict.n && depth < TREE_MAX_DEPTH; i++) {
		struct pk_value *cs;
		if (!pk_object_state(d->u.dict.values[i], &cs))
			continue;
		int k = count_tensors(c, cs, path, depth + 1);
		if (k < 0)
			return -1;
		n += k;
	}
	return n;
}

static void add_entry(struct tree_ctx *c, const char *path, const char *name, const struct param *p)
{
	struct pth_file *f = c->f;
	f->entries = xrealloc(f->entries, (size_t)(f->n + 1) * sizeof *f->entries);
	struct pth_entry *en = &f->entries[f->n++];
	en->name = path[0] ? xasprintf("%s.%s", path, name) : xstrdup(name);
	memset(&en->t, 0, sizeof en->t);
	tensor_share(&en->t, &p->t);
	en->trainable = p->trainable;
}

static void keep_note(struct tree_ctx *c, const char *path, const char *why)
{
	if (c->nkept < 3)
		strbuf_addf(&c->note, "%s'%s' (%s)", c->nkept ? ", " : "",
		            path[0] ? path : "<root>", why);
	c->nkept++;
}

/* Makes m, of a registry type, from the pickled attributes; -1 (with a
 * reason in why) when the type's schema does not describe the pickle, -2
 * (with c->e set) when the pickle is refused. */
static int registry_module_from(struct tree_ctx *c, struct module *m, const struct pk_value *state,
                                const char *path, char *why, size_t whysize)
{
	const struct op_def *def = registry_module(m->type);
	for (int i = 0; i < def->nattrs; i++) {
		const char *an = def->attrs[i].name;
		const struct pk_value *v = pk_dict_get(state, an);
		struct value val;
		bool is_param;
		if (v) {
			int items_left = VALUE_MAX_ITEMS;
			int rc = to_value(v, &val, 0, &items_left);
			if (rc == -2) {
				error_set(c->e, "module '%.200s': attribute '%s' holds more than %d values",
				          path[0] ? path : "<root>", an, VALUE_MAX_ITEMS);
				return -2;
			}
			if (rc < 0)
				continue;
		} else if (strcmp(an, "bias") == 0) {
			/* the constructor's bias=True/False is whether the tensor exists */
			bool has = find_tensor(state, "bias", &is_param, 0) ||
			           find_tensor(state, "in_proj_bias", &is_param, 0);
			val = value_bool(has);
		} else if (strcmp(an, "add_bias_kv") == 0) {
			val = value_bool(find_tensor(state, "bias_k", &is_param, 0) != NULL);
		} else {
			continue;
		}
		module_set_attr(m, an, &val);
		value_free(&val);
	}
	struct error e2 = {0};
	if (registry_prepare(m, &e2) < 0) {
		snprintf(why, whysize, "%s", e2.msg);
		return -1;
	}
	int n = 0;
	for (int i = 0; i < m->nparams; i++) {
		struct param *p = &m->params[i];
		bool is_param;
		const struct pk_value *t = find_tensor(state, p->name, &is_param, 0);
		char a[96], b[96];
		if (!t) {
			snprintf(why, whysize, "no tensor '%s'", p->name);
			return -1;
		}
		if (!shape_equal(&t->u.tensor.shape, &p->t.shape)) {
			snprintf(why, whysize, "'%s' is %s, the attributes imply %s", p->name,
			         shape_format(&t->u.tensor.shape, a, sizeof a),
			         shape_format(&p->t.shape, b, sizeof b));
			return -1;
		}
		struct tensor tt;
		if (pth_reader_tensor(c->r, t, &tt, c->e) < 0)
			return -2;
		tensor_share(&p->t, &tt);
		tensor_release(&tt);
		p->trainable = !p->buffer && t->u.tensor.requires_grad;
		n++;
	}
	int all = count_tensors(c, state, path, 0);
	if (all < 0)
		return -2;
	if (n != all) {
		snprintf(why, whysize, "tensors the type does not have");
		return -1;
	}
	for (int i = 0; i < m->nparams; i++)
		add_entry(c, path, m->params[i].name, &m->params[i]);
	return 0;
}

/* Adds the own parameters and persistent buffers of a container. */
static int container_tensors(struct tree_ctx *c, struct module *m, const struct pk_value *state,
                             const char *path)
{
	const struct pk_value *np = pk_dict_get(state, "_non_persistent_buffers_set");
	const struct pk_value *params = pk_dict_get(state, "_parameters");
	for (int pass = 0; pass < 2; pass++) {
		const struct pk_value *d = pk_dict_get(state, pass ? "_buffers" : "_parameters");
		for (int i = 0; d && d->kind == PK_DICT && i < d->u.dict.n; i++) {
			const struct pk_value *k = d->u.dict.keys[i], *t = d->u.dict.values[i];
			if (t->kind == PK_NONE)
				continue;
			if (k->kind != PK_STR || !k->u.str.s[0] || strchr(k->u.str.s, '.') ||
			    strlen(k->u.str.s) != k->u.str.len || t->kind != PK_TENSOR)
				return error_set(c->e, "module '%s': a malformed %s entry", path,
				                 pass ? "_buffers" : "_parameters");
			if (pass && name_in_set(np, k->u.str.s))
				continue;
			/* dict keys are unique: only a buffer can repeat a parameter */
			const struct pk_value *param = pass ? pk_dict_get(params, k->u.str.s) : NULL;
			if (param && param->kind == PK_TENSOR)
				return error_set(c->e, "module '%s': tensor '%s' appears twice",
				                 path, k->u.str.s);
			struct tensor tt;
			if (pth_reader_tensor(c->r, t, &tt, c->e) < 0)
				return -1;
			struct param *p =
			    module_add_param(m, k->u.str.s, tt.dtype, &tt.shape, pass == 1);
			tensor_share(&p->t, &tt);
			tensor_release(&tt);
			p->trainable = !pass && t->u.tensor.requires_grad;
			add_entry(c, path, p->name, p);
		}
	}
	return 0;
}

static struct module *build(struct tree_ctx *c, const char *name, const char *path,
                            const struct pk_value *obj, int depth)
{
	char what[PK_MAX_NAME * 2 + 64];
	struct pk_value *state;
	if (depth > TREE_MAX_DEPTH) {
		error_set(c->e, "module '%s': modules nested deeper than %d levels", path,
		          TREE_MAX_DEPTH);
		return NULL;
	}
	if (spend_node(c, path) < 0)
		return NULL;
	if (!pk_object_state(obj, &state) || !pk_dict_get(state, "_modules")) {
		pk_describe(obj, what, sizeof what);
		error_set(c->e, "module '%s' is %s, not an nn.Module", path, what);
		return NULL;
	}
	const struct pk_value *cls = obj->u.obj.cls;
	const char *mod = cls->u.global.module;
	struct module *m = module_new(name, cls->u.global.name);
	const struct pk_value *children = pk_dict_get(state, "_modules");
	if (children->kind != PK_DICT) {
		error_set(c->e, "module '%s': _modules is not a dict", path);
		goto fail;
	}
	bool known = registry_module(m->type) &&
	             (strncmp(mod, "torch.", 6) == 0 || strncmp(mod, "torchvision.", 12) == 0);
	if (known) {
		char why[512];
		int rc = registry_module_from(c, m, state, path, why, sizeof why);
		if (rc == -2)
			goto fail;
		if (rc == 0)
			return m;
		/* kept as a container of its tensors, under its full class name */
		keep_note(c, path, why);
		module_free(m);
		char *full = xasprintf("%s.%s", mod, cls->u.global.name);
		m = module_new(name, full);
		free(full);
	}
	if (container_tensors(c, m, state, path) < 0)
		goto fail;
	for (int i = 0; i < children->u.dict.n; i++) {
		const struct pk_value *k = children->u.dict.keys[i],
		                      *v = children->u.dict.values[i];
		if (v->kind == PK_NONE)
			continue;
		if (k->kind != PK_STR || !k->u.str.s[0] || strchr(k->u.str.s, '.') ||
		    strlen(k->u.str.s) != k->u.str.len || k->u.str.len > 256) {
			error_set(c->e, "module '%s': a child name is empty, dotted or not a str",
			          path);
			goto fail;
		}
		/* dict keys are unique, so children names are */
		char *cpath = path[0] ? xasprintf("%s.%s", path, k->u.str.s) : xstrdup(k->u.str.s);
		struct module *child = build(c, k->u.str.s, cpath, v, depth + 1);
		free(cpath);
		if (!child)
			goto fail;
		module_add_child(m, child);
	}
	return m;
fail:
	module_free(m);
	return NULL;
}

struct module *pth_tree_build(struct pth_reader *r, struct pth_file *f, const struct pk_value *root,
                              size_t max_nodes, struct budget *budget, struct error *e)
{
	struct tree_ctx c = {.r = r,
	                     .f = f,
	                     .e = e,
	                     .nodes_left = max_nodes,
	                     .nodes_limit = max_nodes,
	                     .budget = budget};
	struct module *m = build(&c, "", "", root, 0);
	if (!m) {
		strbuf_free(&c.note);
		return NULL;
	}
	f->root_class =
	    xasprintf("%s.%s", root->u.obj.cls->u.global.module, root->u.obj.cls->u.global.name);
	if (c.nkept)
		f->tree_note = xasprintf(
		    "%d module%s kept as plain containers of their tensors: %s%s", c.nkept,
		    c.nkept > 1 ? "s" : "", c.note.s, c.nkept > 3 ? ", ..." : "");
	strbuf_free(&c.note);
	return m;
}

/* ---- TorchScript archives ---- */

struct script_ctx {
	struct tree_ctx tree;
	const struct pth_code *code;
	int ncode;
};

/* The quoted names of the line `  KEY = ["a", "b", ]` in class cls's
 * definition in text (up to the next class), each ending with a NUL and
 * the whole with two; NULL when the class or the line is not there. The
 * caller frees it. */
static char *class_list(const char *text, const char *cls, const char *key)
{
	char *head = xasprintf("class %s(", cls);
	const char *at = text;
	size_t hl = strlen(head);
	while (at && strncmp(at, head, hl) != 0) {
		at = strchr(at, '\n');
		at = at ? at + 1 : NULL;
	}
	free(head);
	if (!at)
		return NULL;
	char *line_key = xasprintf("  %s = [", key);
	size_t kl = strlen(line_key);
	char *out = NULL;
	for (at = strchr(at, '\n'); at && !out; at = strchr(at + 1, '\n')) {
		const char *line = at + 1;
		if (strncmp(line, "class ", 6) == 0)
			break;
		if (strncmp(line, line_key, kl) != 0)
			continue;
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		out = xcalloc(len + 2, 1);
		size_t n = 0;
		for (const char *q = memchr(line, '"', len); q && q < line + len;) {
			const char *close = memchr(q + 1, '"', (size_t)(line + len - q - 1));
			if (!close)
				break;
			memcpy(out + n, q + 1, (size_t)(close - q - 1));
			n += (size_t)(close - q - 1) + 1;
			q = memchr(close + 1, '"', (size_t)(line + len - close - 1));
		}
	}
	free(line_key);
	return out;
}

static bool in_list(const char *list, const char *name)
{
	for (const char *p = list; p && *p; p += strlen(p) + 1)
		if (strcmp(p, name) == 0)
			return true;
	return false;
}

/* The class's type for graft: its qualified name without "__torch__."
 * and TorchScript's "___torch_mangle_N." parts. */
static char *script_type(const struct pk_value *cls)
{
	struct strbuf sb = {0};
	char *full = xasprintf("%s.%s", cls->u.global.module, cls->u.global.name);
	const char *p = full;
	if (strncmp(p, "__torch__.", 10) == 0)
		p += 10;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p + 1) : strlen(p);
		if (strncmp(p, "___torch_mangle_", 16) != 0)
			strbuf_addn(&sb, p, len);
		p += len;
	}
	free(full);
	if (sb.len && sb.s[sb.len - 1] == '.')
		sb.s[--sb.len] = '\0';
	if (!sb.len) /* a class named like a mangle */
		strbuf_add(&sb, cls->u.global.name);
	return strbuf_take(&sb);
}

/* Adds the tensors of state named in list (every tensor when list is
 * NULL and !buffers) as parameters or buffers of m. */
static int script_tensors(struct script_ctx *c, struct module *m, const struct pk_value *state,
                          const char *list, bool buffers, const char *path)
{
	for (int i = 0; i < state->u.dict.n; i++) {
		const struct pk_value *k = state->u.dict.keys[i], *t = state->u.dict.values[i];
		if (t->kind != PK_TENSOR || k->kind != PK_STR)
			continue;
		if (list ? !in_list(list, k->u.str.s) : buffers)
			continue;
		if (!k->u.str.s[0] || strchr(k->u.str.s, '.') || strlen(k->u.str.s) != k->u.str.len)
			return error_set(c->tree.e, "module '%s': a malformed tensor name", path);
		struct tensor tt;
		if (pth_reader_tensor(c->tree.r, t, &tt, c->tree.e) < 0)
			return -1;
		struct param *p = module_add_param(m, k->u.str.s, tt.dtype, &tt.shape, buffers);
		tensor_share(&p->t, &tt);
		tensor_release(&tt);
		p->trainable = !buffers && t->u.tensor.requires_grad;
		add_entry(&c->tree, path, p->name, p);
	}
	return 0;
}

/* A TorchScript module object: its state, a dict, holds "training";
 * *state gets it. */
static bool is_script_module(const struct pk_value *v, struct pk_value **state)
{
	if (v->kind != PK_OBJECT || !v->u.obj.state || v->u.obj.state->kind != PK_DICT ||
	    !pk_dict_get(v->u.obj.state, "training"))
		return false;
	*state = v->u.obj.state;
	return true;
}

static struct module *script_build(struct script_ctx *c, const char *name, const char *path,
                                   const struct pk_value *obj, int depth)
{
	struct pk_value *state;
	if (depth > TREE_MAX_DEPTH) {
		error_set(c->tree.e, "module '%s': modules nested deeper than %d levels", path,
		          TREE_MAX_DEPTH);
		return NULL;
	}
	if (spend_node(&c->tree, path) < 0)
		return NULL;
	if (!is_script_module(obj, &state)) {
		error_set(c->tree.e, "module '%s' is not a TorchScript module",
		          path[0] ? path : "<root>");
		return NULL;
	}
	const struct pk_value *cls = obj->u.obj.cls;
	char *type = script_type(cls);
	struct module *m = module_new(name, type);
	free(type);
	char *params = NULL, *buffers = NULL;
	for (int i = 0; i < c->ncode && !params; i++)
		if (strcmp(c->code[i].module, cls->u.global.module) == 0) {
			params = class_list(c->code[i].text, cls->u.global.name, "__parameters__");
			buffers = class_list(c->code[i].text, cls->u.global.name, "__buffers__");
		}
	int rc = script_tensors(c, m, state, params, false, path);
	if (rc == 0 && buffers)
		rc = script_tensors(c, m, state, buffers, true, path);
	free(params);
	free(buffers);
	for (int i = 0; rc == 0 && i < state->u.dict.n; i++) {
		const struct pk_value *k = state->u.dict.keys[i], *v = state->u.dict.values[i];
		struct pk_value *cs;
		if (k->kind != PK_STR || !is_script_module(v, &cs))
			continue;
		if (!k->u.str.s[0] || strchr(k->u.str.s, '.') ||
		    strlen(k->u.str.s) != k->u.str.len || k->u.str.len > 256) {
			rc = error_set(c->tree.e,
			               "module '%s': a child name is empty, dotted or not a str",
			               path);
			break;
		}
		char *cpath = path[0] ? xasprintf("%s.%s", path, k->u.str.s) : xstrdup(k->u.str.s);
		struct module *child = script_build(c, k->u.str.s, cpath, v, depth + 1);
		free(cpath);
		if (!child)
			rc = -1;
		else
			module_add_child(m, child);
	}
	if (rc < 0) {
		module_free(m);
		return NULL;
	}
	return m;
}

struct module *pth_script_build(struct pth_reader *r, struct pth_file *f,
                                const struct pk_value *root, const struct pth_code *code, int ncode,
                                size_t max_nodes, struct budget *budget, struct error *e)
{
	struct script_ctx c = {
	    .tree = {.r = r,
	             .f = f,
	             .e = e,
	             .nodes_left = max_nodes,
	             .nodes_limit = max_nodes,
	             .budget = budget},
	    .code = code,
	    .ncode = ncode};
	struct module *m = script_build(&c, "", "", root, 0);
	strbuf_free(&c.tree.note);
	return m;
}
