/* io_json.c - load and save the graft JSON architecture format; read JSON.
 *
 * The only file that includes cJSON: architectures, and the small document
 * reader of io_json.h for the JSON inside other formats. Every message
 * names the source and the module path or forward node it is about. */
#include "io/io_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/budget.h"
#include "core/registry.h"
#include "core/util.h"
#include "core/ties.h"

#define JSON_MAX_DEPTH 100

struct loader {
	const char *where;
	struct error *e;
};

static int load_fail(struct loader *ld, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int load_fail(struct loader *ld, const char *path, const char *fmt, ...)
{
	char msg[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!path)
		return error_set(ld->e, "%s: %s", ld->where, msg);
	/* a path starting with '@' is a ready-made context, e.g. a forward node */
	if (path[0] == '@')
		return error_set(ld->e, "%s: %s: %s", ld->where, path + 1, msg);
	if (path[0])
		return error_set(ld->e, "%s: module '%s': %s", ld->where, path, msg);
	return error_set(ld->e, "%s: root module: %s", ld->where, msg);
}

/* JSON numbers with an integral value that fits become ints. */
static struct value number_value(const cJSON *j)
{
	double d = j->valuedouble;
	if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0)
		return value_int((int64_t)d);
	return value_float(d);
}

static int json_to_value(struct loader *ld, const char *path, const cJSON *j, const struct graph *g,
			 struct value *out, int depth);

static const char *duplicate_key(const cJSON *o);
/* {"dict": {KEY: VALUE, ...}}: a Python dict, keys in order. */
static int json_to_dict(struct loader *ld, const char *path, const cJSON *j, const struct graph *g,
			struct value *out, int depth)
{
	if (!cJSON_IsObject(j))
		return load_fail(ld, path, "a dict is {\"dict\": {KEY: VALUE, ...}}");
	const char *dup = duplicate_key(j);
	if (dup)
		return load_fail(ld, path, "dict key '%s' appears twice", dup);
	int n = cJSON_GetArraySize(j), i = 0;
	const char **keys = xcalloc((size_t)n + 1, sizeof *keys);
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
		keys[i++] = it->string;
	*out = value_dict(n, keys);
	free(keys);
	i = 0;
	cJSON_ArrayForEach(it, j)
	{
		if (json_to_value(ld, path, it, g, &out->u.list.items[i++], depth + 1) < 0) {
			value_free(out);
			return -1;
		}
	}
	return 0;
}

/* Converts a JSON value of an attribute or graph argument. Refs are resolved
 * against the nodes of g built so far (g NULL: refs are not allowed). */
static int json_to_value(struct loader *ld, const char *path, const cJSON *j, const struct graph *g,
			 struct value *out, int depth)
{
	*out = value_none();
	if (depth > JSON_MAX_DEPTH)
		return load_fail(ld, path, "value nested too deeply");
	if (cJSON_IsNull(j))
		return 0;
	if (cJSON_IsBool(j)) {
		*out = value_bool(cJSON_IsTrue(j));
		return 0;
	}
	if (cJSON_IsNumber(j)) {
		/* 1e999 parses as infinity, which JSON cannot hold when saved */
		if (!isfinite(j->valuedouble))
			return load_fail(ld, path, "'%s': number out of range (not finite)",
					 j->string ? j->string : "a list item");
		*out = number_value(j);
		return 0;
	}
	if (cJSON_IsString(j)) {
		*out = value_str(j->valuestring);
		return 0;
	}
	if (cJSON_IsArray(j)) {
		int n = cJSON_GetArraySize(j);
		*out = value_list(n);
		int i = 0;
		const cJSON *it;
		cJSON_ArrayForEach(it, j)
		{
			if (json_to_value(ld, path, it, g, &out->u.list.items[i++], depth + 1) < 0) {
				value_free(out);
				return -1;
			}
		}
		return 0;
	}
	if (cJSON_IsObject(j)) {
		const cJSON *ref = cJSON_GetObjectItemCaseSensitive(j, "ref");
		const cJSON *slice = cJSON_GetObjectItemCaseSensitive(j, "slice");
		const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
		const cJSON *dict = cJSON_GetObjectItemCaseSensitive(j, "dict");
		if (cJSON_GetArraySize(j) != 1)
			return load_fail(ld, path, "a value object must have one key (ref, slice, ellipsis, dtype, float or dict)");
		if (dict)
			return json_to_dict(ld, path, dict, g, out, depth);
		if (ref) {
			if (!g)
				return load_fail(ld, path, "a ref is only allowed in a forward graph");
			int idx = cJSON_IsString(ref) ? graph_find(g, ref->valuestring) : -1;
			if (idx < 0)
				return load_fail(ld, path, "refers to '%s', which is not an earlier node",
						 cJSON_IsString(ref) ? ref->valuestring : "?");
			out->kind = VAL_REF;
			out->u.ref = idx;
			return 0;
		}
		if (slice) {
			if (!cJSON_IsArray(slice) || cJSON_GetArraySize(slice) != 3)
				return load_fail(ld, path, "a slice is [start, stop, step]");
			out->kind = VAL_SLICE;
			int64_t *parts[3] = {&out->u.slice.start, &out->u.slice.stop, &out->u.slice.step};
			bool *has[3] = {&out->u.slice.has_start, &out->u.slice.has_stop,
					&out->u.slice.has_step};
			for (int i = 0; i < 3; i++) {
				const cJSON *p = cJSON_GetArrayItem(slice, i);
				*has[i] = !cJSON_IsNull(p);
				*parts[i] = 0;
				if (*has[i]) {
					struct value v = cJSON_IsNumber(p) ? number_value(p) : value_none();
					if (v.kind != VAL_INT)
						return load_fail(ld, path, "slice parts must be ints or null");
					*parts[i] = v.u.i;
				}
			}
			return 0;
		}
		const cJSON *fl = cJSON_GetObjectItemCaseSensitive(j, "float");
		if (fl) {
			/* the floats JSON numbers cannot hold */
			const char *t = cJSON_IsString(fl) ? fl->valuestring : "";
			double f = !strcmp(t, "inf") ? INFINITY : !strcmp(t, "-inf") ? -INFINITY : NAN;
			if (strcmp(t, "inf") && strcmp(t, "-inf") && strcmp(t, "nan"))
				return load_fail(ld, path, "a float object is \"inf\", \"-inf\" or \"nan\"");
			*out = value_float(f);
			return 0;
		}
		if (cJSON_GetObjectItemCaseSensitive(j, "ellipsis")) {
			out->kind = VAL_ELLIPSIS;
			return 0;
		}
		if (dt) {
			enum dtype t;
			if (!cJSON_IsString(dt) || dtype_parse(dt->valuestring, &t) < 0)
				return load_fail(ld, path, "unknown dtype");
			out->kind = VAL_DTYPE;
			out->u.dtype = t;
			return 0;
		}
		return load_fail(ld, path, "unknown value object key '%s'", j->child->string);
	}
	return load_fail(ld, path, "unsupported JSON value");
}

static int parse_shape(const cJSON *j, struct shape *s)
{
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) > SHAPE_MAX_DIMS)
		return -1;
	s->ndim = 0;
	s->bounded = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		if (!cJSON_IsNumber(it))
			return -1;
		struct value v = number_value(it);
		if (v.kind != VAL_INT || v.u.i < 0)
			return -1;
		s->dim[s->ndim++] = v.u.i;
	}
	return shape_numel(s) < 0 ? -1 : 0;
}

static int load_tensors(struct loader *ld, const char *path, struct module *m, const cJSON *j,
			bool buffer)
{
	if (!cJSON_IsObject(j))
		return load_fail(ld, path, "'%s' must be an object", buffer ? "buffers" : "parameters");
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		struct shape s;
		enum dtype dt = DT_F32;
		const cJSON *js = cJSON_GetObjectItemCaseSensitive(it, "shape");
		const cJSON *jd = cJSON_GetObjectItemCaseSensitive(it, "dtype");
		if (!js || parse_shape(js, &s) < 0)
			return load_fail(ld, path, "tensor '%s' needs a valid \"shape\" (a list of at most %d sizes, not too large)",
					 it->string, SHAPE_MAX_DIMS);
		if (jd && (!cJSON_IsString(jd) || dtype_parse(jd->valuestring, &dt) < 0))
			return load_fail(ld, path, "tensor '%s' has an unknown dtype", it->string);
		if (module_param(m, it->string))
			return load_fail(ld, path, "tensor '%s' is declared twice", it->string);
		module_add_param(m, it->string, dt, &s, buffer);
	}
	return 0;
}

static int load_forward(struct loader *ld, const char *path, struct module *m, const cJSON *j)
{
	if (!cJSON_IsArray(j))
		return load_fail(ld, path, "\"forward\" must be a list of nodes");
	m->forward = graph_new();
	struct graph *g = m->forward;
	const cJSON *jn;
	int idx = 0;
	cJSON_ArrayForEach(jn, j)
	{
		const cJSON *name = cJSON_GetArrayItem(jn, 0), *op = cJSON_GetArrayItem(jn, 1),
			    *target = cJSON_GetArrayItem(jn, 2), *args = cJSON_GetArrayItem(jn, 3),
			    *kwargs = cJSON_GetArrayItem(jn, 4);
		enum node_op nop;
		if (!cJSON_IsArray(jn) || cJSON_GetArraySize(jn) != 5 || !cJSON_IsString(name) ||
		    !cJSON_IsString(op) || !cJSON_IsString(target) || !cJSON_IsArray(args) ||
		    !cJSON_IsObject(kwargs))
			return load_fail(ld, path, "forward node %d must be [name, op, target, [args], {kwargs}]",
					 idx);
		if (node_op_parse(op->valuestring, &nop) < 0)
			return load_fail(ld, path, "forward node '%s' has unknown op '%s'",
					 name->valuestring, op->valuestring);
		if (graph_find(g, name->valuestring) >= 0)
			return load_fail(ld, path, "forward node '%s' is defined twice", name->valuestring);
		char where[600];
		if (path[0])
			snprintf(where, sizeof where, "@module '%s', forward node '%s'", path,
				 name->valuestring);
		else
			snprintf(where, sizeof where, "@forward node '%s'", name->valuestring);
		int nargs = cJSON_GetArraySize(args), nkw = cJSON_GetArraySize(kwargs);
		struct value *av = xcalloc((size_t)(nargs ? nargs : 1), sizeof *av);
		struct kwarg *kv = xcalloc((size_t)(nkw ? nkw : 1), sizeof *kv);
		int ai = 0, ki = 0, rc = 0;
		const cJSON *it;
		cJSON_ArrayForEach(it, args)
		{
			if (rc == 0)
				rc = json_to_value(ld, where, it, g, &av[ai++], 1);
		}
		cJSON_ArrayForEach(it, kwargs)
		{
			if (rc == 0) {
				kv[ki].name = xstrdup(it->string);
				rc = json_to_value(ld, where, it, g, &kv[ki++].value, 1);
			}
		}
		struct graph_node *nd =
			graph_add(g, xstrdup(name->valuestring), nop, xstrdup(target->valuestring));
		nd->args = av;
		nd->nargs = ai;
		nd->kwargs = kv;
		nd->nkwargs = ki;
		if (rc < 0)
			return -1;
		idx++;
	}
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A key that appears twice in object o, or NULL. Sorting keeps this
 * O(n log n): a Sequential may have tens of thousands of children. */
static const char *duplicate_key(const cJSON *o)
{
	int n = cJSON_GetArraySize(o);
	const char **keys = xmalloc((size_t)(n ? n : 1) * sizeof *keys);
	const char *dup = NULL;
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, o)
	{
		keys[i++] = it->string;
	}
	qsort(keys, (size_t)n, sizeof *keys, cmp_key);
	for (i = 1; i < n && !dup; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0)
			dup = keys[i];
	free(keys);
	return dup;
}

static int is_reserved(const char *key)
{
	static const char *const reserved[] = {"type", "children", "forward", "parameters",
					       "buffers", "frozen", "tied"};
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if (strcmp(key, reserved[i]) == 0)
			return 1;
	return 0;
}

/* "tied": {"weight": "wte.weight"}: which own tensors are another's. The
 * names are checked once the whole tree is loaded (check_ties). */
static int load_ties(struct loader *ld, const char *path, struct module *m, const cJSON *j)
{
	if (!cJSON_IsObject(j))
		return load_fail(ld, path, "\"tied\" must be an object of tensor names");
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		struct param *p = module_param(m, it->string);
		if (!p)
			return load_fail(ld, path, "\"tied\" names '%s', which is not a tensor of this module",
					 it->string);
		if (!cJSON_IsString(it) || !it->valuestring[0])
			return load_fail(ld, path, "\"tied\": '%s' must name a tensor", it->string);
		free(p->tie);
		p->tie = xstrdup(it->valuestring);
	}
	return 0;
}

static struct module *load_module(struct loader *ld, const char *name, const char *path,
				  const cJSON *j, int depth)
{
	if (depth > JSON_MAX_DEPTH) {
		load_fail(ld, path, "modules nested too deeply");
		return NULL;
	}
	if (!cJSON_IsObject(j)) {
		load_fail(ld, path, "a module must be a JSON object");
		return NULL;
	}
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (!cJSON_IsString(type) || !type->valuestring[0]) {
		load_fail(ld, path, "missing \"type\"");
		return NULL;
	}
	struct module *m = module_new(name, type->valuestring);
	m->def = registry_module(m->type);
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		if (is_reserved(it->string))
			continue;
		struct value v;
		if (json_to_value(ld, path, it, NULL, &v, 1) < 0)
			goto fail;
		module_set_attr(m, it->string, &v);
		value_free(&v);
	}
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "parameters");
	const cJSON *buffers = cJSON_GetObjectItemCaseSensitive(j, "buffers");
	const cJSON *children = cJSON_GetObjectItemCaseSensitive(j, "children");
	const cJSON *forward = cJSON_GetObjectItemCaseSensitive(j, "forward");
	const cJSON *frozen = cJSON_GetObjectItemCaseSensitive(j, "frozen");
	if (m->def) {
		if (params || buffers || children || forward) {
			load_fail(ld, path, "%s is a built-in type: its parameters come from its attributes and it has no children or forward",
				  m->type);
			goto fail;
		}
		struct error e2 = {0};
		if (registry_prepare(m, &e2) < 0) {
			load_fail(ld, path, "%s", e2.msg);
			goto fail;
		}
	} else {
		if (params && load_tensors(ld, path, m, params, false) < 0)
			goto fail;
		if (buffers && load_tensors(ld, path, m, buffers, true) < 0)
			goto fail;
	}
	if (children) {
		if (!cJSON_IsObject(children)) {
			load_fail(ld, path, "\"children\" must be an object");
			goto fail;
		}
		const char *dup = duplicate_key(children);
		if (dup) {
			load_fail(ld, path, "child '%s' appears twice", dup);
			goto fail;
		}
		cJSON_ArrayForEach(it, children)
		{
			if (!it->string[0] || strchr(it->string, '.')) {
				load_fail(ld, path, "child name '%s' must be non-empty and have no '.'",
					  it->string);
				goto fail;
			}
			char *cpath = path[0] ? xasprintf("%s.%s", path, it->string)
					      : xstrdup(it->string);
			struct module *c = load_module(ld, it->string, cpath, it, depth + 1);
			free(cpath);
			if (!c)
				goto fail;
			module_add_child(m, c);
		}
	}
	if (frozen) {
		if (!cJSON_IsArray(frozen)) {
			load_fail(ld, path, "\"frozen\" must be a list of parameter names");
			goto fail;
		}
		cJSON_ArrayForEach(it, frozen)
		{
			struct param *p = cJSON_IsString(it) ? module_param(m, it->valuestring) : NULL;
			if (!p || p->buffer) {
				load_fail(ld, path, "\"frozen\" names '%s', which is not a parameter of this module",
					  cJSON_IsString(it) ? it->valuestring : "?");
				goto fail;
			}
			p->trainable = false;
		}
	}
	const cJSON *tied = cJSON_GetObjectItemCaseSensitive(j, "tied");
	if (tied && load_ties(ld, path, m, tied) < 0)
		goto fail;
	if (forward && load_forward(ld, path, m, forward) < 0)
		goto fail;
	return m;
fail:
	module_free(m);
	return NULL;
}

/* Binds every forward graph of the tree under m, once the tree is whole,
 * so that a message names the module by its full path. */
static int bind_forwards(struct loader *ld, struct module *m)
{
	struct error e2 = {0};
	if (m->forward && graph_bind(m, &e2) < 0)
		return error_set(ld->e, "%s: %s", ld->where, e2.msg);
	for (int i = 0; i < m->nchildren; i++)
		if (bind_forwards(ld, m->children[i]) < 0)
			return -1;
	return 0;
}

/* "line L, column C" of byte offset `off` in text. */
static void text_position(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* True when name is relative and has no '..' component, so it cannot name
 * a file outside the folder it is resolved in (symlinks aside). */
static bool weights_name_stays_inside(const char *name)
{
	if (name[0] == '/')
		return false;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		p += *p == '/';
	}
	return true;
}

struct model *json_load_model(const char *text, size_t n, const char *where, const char *dir,
			      struct error *e)
{
	struct loader ld = {.where = where, .e = e};
	struct budget budget;
	budget_init(&budget, n);
	if (budget_spend(&budget, json_parse_cost(text, n), e) < 0) {
		error_prefix(e, "%s: the document", where);
		return NULL;
	}
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithLengthOpts(text, n, &end, 0);
	if (!doc) {
		int line, col;
		size_t off = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
		text_position(text, off, &line, &col);
		error_set(e, "%s:%d:%d: not valid JSON", where, line, col);
		return NULL;
	}
	struct model *m = NULL;
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "graft");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");
	const cJSON *source = cJSON_GetObjectItemCaseSensitive(doc, "source");
	const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(doc, "inputs");
	const cJSON *root = cJSON_GetObjectItemCaseSensitive(doc, "module");
	const cJSON *weights = cJSON_GetObjectItemCaseSensitive(doc, "weights");
	if (!cJSON_IsObject(doc) || !ver) {
		load_fail(&ld, NULL, "not a graft architecture (no \"graft\" version key)");
		goto out;
	}
	if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
		load_fail(&ld, NULL, "format version %g is not supported (this graft reads version 1)",
			  cJSON_IsNumber(ver) ? ver->valuedouble : -1.0);
		goto out;
	}
	if (!cJSON_IsString(name)) {
		load_fail(&ld, NULL, "missing \"name\"");
		goto out;
	}
	if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) < 1) {
		load_fail(&ld, NULL, "\"inputs\" must be a non-empty list");
		goto out;
	}
	if (!root) {
		load_fail(&ld, NULL, "missing \"module\"");
		goto out;
	}
	m = model_new(name->valuestring);
	if (cJSON_IsString(source))
		m->source = xstrdup(source->valuestring);
	const cJSON *in;
	int idx = 0;
	cJSON_ArrayForEach(in, inputs)
	{
		const cJSON *iname = cJSON_GetObjectItemCaseSensitive(in, "name");
		const cJSON *ishape = cJSON_GetObjectItemCaseSensitive(in, "shape");
		const cJSON *idt = cJSON_GetObjectItemCaseSensitive(in, "dtype");
		struct shape s;
		enum dtype dt = DT_F32;
		if (!cJSON_IsString(iname) || !ishape || parse_shape(ishape, &s) < 0) {
			load_fail(&ld, NULL, "input %d needs a \"name\" and a valid \"shape\"", idx);
			goto fail;
		}
		if (idt && (!cJSON_IsString(idt) || dtype_parse(idt->valuestring, &dt) < 0)) {
			load_fail(&ld, NULL, "input '%s' has an unknown dtype", iname->valuestring);
			goto fail;
		}
		model_add_input(m, iname->valuestring, &s, dt);
		idx++;
	}
	m->root = load_module(&ld, "", "", root, 0);
	if (!m->root || bind_forwards(&ld, m->root) < 0)
		goto fail;
	{
		struct strbuf bad = {0};
		if (ties_sync(m->root, &bad)) {
			bad.s[bad.len - 1] = '\0'; /* the line's newline */
			load_fail(&ld, NULL, "a tie names no tensor of the same shape: %s", bad.s);
			strbuf_free(&bad);
			goto fail;
		}
	}
	m->has_forward = true;
	if (cJSON_IsString(weights) && weights->valuestring[0]) {
		if (!weights_name_stays_inside(weights->valuestring)) {
			load_fail(&ld, NULL,
				  "\"weights\" must name a file in the architecture's folder (no absolute path, no '..')");
			goto fail;
		}
		m->weights_path = dir ? xasprintf("%s/%s", dir, weights->valuestring)
				      : xstrdup(weights->valuestring);
	} else if (weights && !cJSON_IsNull(weights)) {
		load_fail(&ld, NULL, "\"weights\" must be a file name");
		goto fail;
	}
	goto out;
fail:
	model_free(m);
	m = NULL;
out:
	cJSON_Delete(doc);
	return m;
}

/* --- saving ------------------------------------------------------------ */

static cJSON *value_to_json(const struct value *v, const struct graph *g)
{
	switch (v->kind) {
	case VAL_NONE:
		return cJSON_CreateNull();
	case VAL_BOOL:
		return cJSON_CreateBool(v->u.b);
	case VAL_INT:
		return cJSON_CreateNumber((double)v->u.i);
	case VAL_FLOAT:
		if (isfinite(v->u.f))
			return cJSON_CreateNumber(v->u.f);
		else {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "float", isnan(v->u.f) ? "nan" : v->u.f > 0 ? "inf" : "-inf");
			return o;
		}
	case VAL_STR:
		return cJSON_CreateString(v->u.s);
	case VAL_LIST: {
		if (v->u.list.keys) {
			cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateObject();
			for (int i = 0; i < v->u.list.n; i++)
				cJSON_AddItemToObject(d, v->u.list.keys[i],
						      value_to_json(&v->u.list.items[i], g));
			cJSON_AddItemToObject(o, "dict", d);
			return o;
		}
		cJSON *a = cJSON_CreateArray();
		for (int i = 0; i < v->u.list.n; i++)
			cJSON_AddItemToArray(a, value_to_json(&v->u.list.items[i], g));
		return a;
	}
	case VAL_SLICE: {
		cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
		cJSON_AddItemToArray(a, v->u.slice.has_start ? cJSON_CreateNumber((double)v->u.slice.start)
							     : cJSON_CreateNull());
		cJSON_AddItemToArray(a, v->u.slice.has_stop ? cJSON_CreateNumber((double)v->u.slice.stop)
							    : cJSON_CreateNull());
		cJSON_AddItemToArray(a, v->u.slice.has_step ? cJSON_CreateNumber((double)v->u.slice.step)
							    : cJSON_CreateNull());
		cJSON_AddItemToObject(o, "slice", a);
		return o;
	}
	case VAL_ELLIPSIS: {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ellipsis");
		return o;
	}
	case VAL_DTYPE: {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "dtype", dtype_name(v->u.dtype));
		return o;
	}
	case VAL_REF: {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "ref", g->nodes[v->u.ref].name);
		return o;
	}
	case VAL_TENSOR:
		break;
	}
	return cJSON_CreateNull();
}

static cJSON *tensors_to_json(const struct module *m, bool buffers)
{
	cJSON *o = NULL;
	for (int i = 0; i < m->nparams; i++) {
		const struct param *p = &m->params[i];
		if (p->buffer != buffers)
			continue;
		if (!o)
			o = cJSON_CreateObject();
		cJSON *t = cJSON_CreateObject(), *s = cJSON_CreateArray();
		for (int d = 0; d < p->t.shape.ndim; d++)
			cJSON_AddItemToArray(s, cJSON_CreateNumber((double)p->t.shape.dim[d]));
		cJSON_AddItemToObject(t, "shape", s);
		cJSON_AddStringToObject(t, "dtype", dtype_name(p->t.dtype));
		cJSON_AddItemToObject(o, p->name, t);
	}
	return o;
}

static cJSON *module_to_json(const struct module *m)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", m->type);
	for (int i = 0; i < m->nattrs; i++)
		cJSON_AddItemToObject(o, m->attrs[i].name, value_to_json(&m->attrs[i].value, NULL));
	if (!m->def) {
		cJSON *p = tensors_to_json(m, false), *b = tensors_to_json(m, true);
		if (p)
			cJSON_AddItemToObject(o, "parameters", p);
		if (b)
			cJSON_AddItemToObject(o, "buffers", b);
	}
	cJSON *frozen = NULL;
	for (int i = 0; i < m->nparams; i++) {
		if (!m->params[i].buffer && !m->params[i].trainable) {
			if (!frozen)
				frozen = cJSON_CreateArray();
			cJSON_AddItemToArray(frozen, cJSON_CreateString(m->params[i].name));
		}
	}
	if (frozen)
		cJSON_AddItemToObject(o, "frozen", frozen);
	cJSON *tied = NULL;
	for (int i = 0; i < m->nparams; i++) {
		if (m->params[i].tie) {
			if (!tied)
				tied = cJSON_CreateObject();
			cJSON_AddStringToObject(tied, m->params[i].name, m->params[i].tie);
		}
	}
	if (tied)
		cJSON_AddItemToObject(o, "tied", tied);
	if (m->nchildren) {
		cJSON *c = cJSON_CreateObject();
		for (int i = 0; i < m->nchildren; i++)
			cJSON_AddItemToObject(c, m->children[i]->name, module_to_json(m->children[i]));
		cJSON_AddItemToObject(o, "children", c);
	}
	if (m->forward) {
		cJSON *f = cJSON_CreateArray();
		for (int i = 0; i < m->forward->n; i++) {
			const struct graph_node *nd = &m->forward->nodes[i];
			cJSON *n = cJSON_CreateArray(), *args = cJSON_CreateArray(),
			      *kw = cJSON_CreateObject();
			cJSON_AddItemToArray(n, cJSON_CreateString(nd->name));
			cJSON_AddItemToArray(n, cJSON_CreateString(node_op_name(nd->op)));
			cJSON_AddItemToArray(n, cJSON_CreateString(nd->target));
			for (int a = 0; a < nd->nargs; a++)
				cJSON_AddItemToArray(args, value_to_json(&nd->args[a], m->forward));
			for (int k = 0; k < nd->nkwargs; k++)
				cJSON_AddItemToObject(kw, nd->kwargs[k].name,
						      value_to_json(&nd->kwargs[k].value, m->forward));
			cJSON_AddItemToArray(n, args);
			cJSON_AddItemToArray(n, kw);
			cJSON_AddItemToArray(f, n);
		}
		cJSON_AddItemToObject(o, "forward", f);
	}
	return o;
}

char *json_save_model(const struct model *m, const char *weights)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "graft", 1);
	cJSON_AddStringToObject(doc, "name", m->name);
	if (m->source)
		cJSON_AddStringToObject(doc, "source", m->source);
	cJSON *inputs = cJSON_CreateArray();
	for (int i = 0; i < m->ninputs; i++) {
		cJSON *in = cJSON_CreateObject(), *s = cJSON_CreateArray();
		cJSON_AddStringToObject(in, "name", m->inputs[i].name);
		for (int d = 0; d < m->inputs[i].shape.ndim; d++)
			cJSON_AddItemToArray(s, cJSON_CreateNumber((double)m->inputs[i].shape.dim[d]));
		cJSON_AddItemToObject(in, "shape", s);
		cJSON_AddStringToObject(in, "dtype", dtype_name(m->inputs[i].dtype));
		cJSON_AddItemToArray(inputs, in);
	}
	cJSON_AddItemToObject(doc, "inputs", inputs);
	cJSON_AddItemToObject(doc, "module", module_to_json(m->root));
	if (weights)
		cJSON_AddStringToObject(doc, "weights", weights);
	char *text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	char *out = xstrdup(text);
	cJSON_free(text);
	return out;
}

size_t json_parse_cost(const char *text, size_t n)
{
	/* a node a value, and a value is the document's, the first in its
	 * container, or after a comma; strings are copied */
	size_t nodes = 1;
	bool in_string = false;
	for (size_t i = 0; i < n; i++) {
		if (in_string) {
			if (text[i] == '\\')
				i++;
			else if (text[i] == '"')
				in_string = false;
		} else if (text[i] == '"') {
			in_string = true;
		} else if (text[i] == ',' || text[i] == '[' || text[i] == '{') {
			nodes++;
		}
	}
	return nodes * sizeof(cJSON) + n;
}

/* The document API: a struct json_value is a cJSON node. */
static const cJSON *node(const struct json_value *v)
{
	return (const cJSON *)v;
}

struct json_value *json_parse(const char *text, size_t n, size_t *end)
{
	const char *stop = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, n, &stop, 0);
	*end = stop && stop >= text && stop <= text + n ? (size_t)(stop - text) : 0;
	return (struct json_value *)root;
}

void json_free(struct json_value *root)
{
	cJSON_Delete((cJSON *)root);
}

enum json_kind json_kind(const struct json_value *v)
{
	return cJSON_IsNumber(node(v))   ? JSON_NUMBER
	       : cJSON_IsString(node(v)) ? JSON_STRING
	       : cJSON_IsArray(node(v))  ? JSON_ARRAY
	       : cJSON_IsObject(node(v)) ? JSON_OBJECT
	       : cJSON_IsTrue(node(v))   ? JSON_TRUE
	       : cJSON_IsFalse(node(v))  ? JSON_FALSE
	       : cJSON_IsNull(node(v))   ? JSON_NULL
	                                 : JSON_OTHER;
}

const struct json_value *json_first(const struct json_value *container)
{
	return (const struct json_value *)node(container)->child;
}

const struct json_value *json_next(const struct json_value *v)
{
	return (const struct json_value *)node(v)->next;
}

int json_count(const struct json_value *container)
{
	return cJSON_GetArraySize(node(container));
}

const struct json_value *json_member(const struct json_value *obj, const char *key)
{
	return (const struct json_value *)cJSON_GetObjectItemCaseSensitive(node(obj), key);
}

const char *json_key(const struct json_value *v)
{
	return node(v)->string;
}

double json_number(const struct json_value *v)
{
	return node(v)->valuedouble;
}

const char *json_text(const struct json_value *v)
{
	return node(v)->valuestring;
}
