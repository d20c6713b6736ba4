/* model.c - opening models: architecture JSON, bundles, plain safetensors,
 * and binding weight files to the module tree. */
#include "model.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_json.h"
#include "io_safetensors.h"
#include "util.h"

/* Largest architecture document graft reads (the largest zoo model is well
 * under a megabyte). */
#define MODEL_MAX_JSON (256u << 20)

struct model *model_new(const char *name)
{
	struct model *m = xcalloc(1, sizeof *m);
	m->name = xstrdup(name);
	return m;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->source);
	free(m->path);
	free(m->weights_path);
	for (int i = 0; i < m->ninputs; i++)
		free(m->inputs[i].name);
	free(m->inputs);
	module_free(m->root);
	free(m);
}

void model_add_input(struct model *m, const char *name, const struct shape *s, enum dtype dt)
{
	m->inputs = xrealloc(m->inputs, (size_t)(m->ninputs + 1) * sizeof *m->inputs);
	m->inputs[m->ninputs].name = xstrdup(name);
	m->inputs[m->ninputs].shape = *s;
	m->inputs[m->ninputs].dtype = dt;
	m->ninputs++;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static char *dir_of(const char *path)
{
	char *copy = xstrdup(path);
	char *d = xstrdup(dirname(copy));
	free(copy);
	return d;
}

static char *read_file(const char *path, size_t *len, struct error *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		error_set(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		error_set(e, "%s: not a regular file", path);
		fclose(f);
		return NULL;
	}
	if ((uint64_t)st.st_size > MODEL_MAX_JSON) {
		error_set(e, "%s: %lld bytes is too large for an architecture file", path,
			  (long long)st.st_size);
		fclose(f);
		return NULL;
	}
	char *buf = xmalloc((size_t)st.st_size + 1);
	size_t n = fread(buf, 1, (size_t)st.st_size, f);
	int err = ferror(f);
	fclose(f);
	if (err || n != (size_t)st.st_size) {
		error_set(e, "%s: read error", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Float dtypes convert into each other on use; a file may store a float32
 * parameter as float16 without it being a mismatch. */
static bool dtype_is_float(enum dtype t)
{
	return t == DT_F32 || t == DT_F16 || t == DT_BF16 || t == DT_F64;
}

struct bind_ctx {
	const struct st_file *f;
	const char *where;
	struct strbuf missing, misshaped;
	int nmissing, nmisshaped, nbound;
	char **used; /* names matched, to find the unexpected ones */
	int nused;
};

static void list_add(struct strbuf *sb, int *count, const char *text)
{
	if (*count < 8)
		strbuf_addf(sb, "%s%s", *count ? ", " : "", text);
	(*count)++;
}

static int bind_module(struct module *mod, void *vctx)
{
	struct bind_ctx *c = vctx;
	char path[4096];
	module_path_buf(mod, path, sizeof path);
	for (int i = 0; i < mod->nparams; i++) {
		struct param *p = &mod->params[i];
		char *key = path[0] ? xasprintf("%s.%s", path, p->name) : xstrdup(p->name);
		const struct st_entry *en = st_find(c->f, key);
		if (!en) {
			list_add(&c->missing, &c->nmissing, key);
		} else if (!shape_equal(&en->t.shape, &p->t.shape) ||
			   (en->t.dtype != p->t.dtype &&
			    !(dtype_is_float(en->t.dtype) && dtype_is_float(p->t.dtype)))) {
			char a[160], b[160], msg[512];
			snprintf(msg, sizeof msg, "%s is %s %s in the file, %s %s in the architecture",
				 key, dtype_name(en->t.dtype), shape_format(&en->t.shape, a, sizeof a),
				 dtype_name(p->t.dtype), shape_format(&p->t.shape, b, sizeof b));
			list_add(&c->misshaped, &c->nmisshaped, msg);
		} else {
			c->nbound++;
		}
		free(key);
	}
	return 0;
}

static int set_storage(struct module *mod, void *vctx)
{
	const struct st_file *f = vctx;
	char path[4096];
	module_path_buf(mod, path, sizeof path);
	for (int i = 0; i < mod->nparams; i++) {
		struct param *p = &mod->params[i];
		char *key = path[0] ? xasprintf("%s.%s", path, p->name) : xstrdup(p->name);
		const struct st_entry *en = st_find(f, key);
		free(key);
		bool trainable = p->trainable;
		tensor_share(&p->t, &en->t);
		p->t.dtype = en->t.dtype;
		p->trainable = trainable;
	}
	return 0;
}

/* True when `key` names a tensor of the tree: "a.b.weight" is parameter
 * "weight" of module a.b, or a parameter whose own name has a dot
 * (MultiheadAttention's "out_proj.weight") of a module higher up. */
static bool name_in_tree(const struct module *root, const char *key)
{
	if (module_param(root, key))
		return true;
	for (const char *dot = strrchr(key, '.'); dot; ) {
		char *prefix = xstrndup(key, (size_t)(dot - key));
		const struct module *owner = module_find(root, prefix);
		free(prefix);
		if (owner && module_param(owner, dot + 1))
			return true;
		const char *prev = NULL;
		for (const char *q = key; q < dot; q++)
			if (*q == '.')
				prev = q;
		dot = prev;
	}
	return false;
}

static int attach_file(struct model *m, const struct st_file *f, const char *where,
		       struct error *e)
{
	struct bind_ctx c = {.f = f, .where = where};
	module_walk(m->root, bind_module, &c);
	struct strbuf unexpected = {0};
	int nunexpected = 0;
	for (int i = 0; i < f->n; i++)
		if (!name_in_tree(m->root, f->entries[i].name))
			list_add(&unexpected, &nunexpected, f->entries[i].name);
	int rc = 0;
	if (c.nmissing || c.nmisshaped || nunexpected) {
		struct strbuf msg = {0};
		strbuf_addf(&msg, "%s: the weights do not match the architecture of %s", where,
			    m->name);
		if (c.nmissing)
			strbuf_addf(&msg, "; missing %d: %s%s", c.nmissing, c.missing.s,
				    c.nmissing > 8 ? ", ..." : "");
		if (nunexpected)
			strbuf_addf(&msg, "; unexpected %d: %s%s", nunexpected, unexpected.s,
				    nunexpected > 8 ? ", ..." : "");
		if (c.nmisshaped)
			strbuf_addf(&msg, "; wrong shape %d: %s%s", c.nmisshaped, c.misshaped.s,
				    c.nmisshaped > 8 ? ", ..." : "");
		error_set(e, "%s", msg.s);
		strbuf_free(&msg);
		rc = -1;
	} else {
		module_walk(m->root, set_storage, (void *)f);
		m->has_weights = true;
	}
	strbuf_free(&c.missing);
	strbuf_free(&c.misshaped);
	strbuf_free(&unexpected);
	return rc;
}

int model_attach_weights(struct model *m, const char *path, struct error *e)
{
	struct st_file *f = st_open(path, e);
	if (!f)
		return -1;
	int rc = attach_file(m, f, path, e);
	st_close(f);
	if (rc == 0 && (!m->weights_path || strcmp(m->weights_path, path) != 0)) {
		free(m->weights_path);
		m->weights_path = xstrdup(path);
	}
	return rc;
}

/* Guesses whether a tensor name from a plain state_dict is a buffer. */
static bool looks_like_buffer(const char *pname)
{
	return strcmp(pname, "running_mean") == 0 || strcmp(pname, "running_var") == 0 ||
	       strcmp(pname, "num_batches_tracked") == 0 ||
	       strstr(pname, "relative_position_index") != NULL;
}

/* Builds a tree from dotted tensor names alone: every prefix is a module of
 * type "Module", every last part a tensor. */
static struct model *model_from_names(const struct st_file *f, const char *path)
{
	char *copy = xstrdup(path);
	struct model *m = model_new(basename(copy));
	free(copy);
	m->root = module_new("", "Module");
	for (int i = 0; i < f->n; i++) {
		const char *name = f->entries[i].name;
		struct module *cur = m->root;
		const char *p = name;
		const char *dot;
		while ((dot = strchr(p, '.')) != NULL) {
			char *part = xstrndup(p, (size_t)(dot - p));
			struct module *next = module_child(cur, part);
			if (!next) {
				next = module_new(part, "Module");
				module_add_child(cur, next);
			}
			free(part);
			cur = next;
			p = dot + 1;
		}
		struct param *prm = module_add_param(cur, p, f->entries[i].t.dtype,
						     &f->entries[i].t.shape, looks_like_buffer(p));
		tensor_share(&prm->t, &f->entries[i].t);
	}
	m->has_weights = true;
	m->weights_path = xstrdup(path);
	return m;
}

static struct model *open_safetensors(const char *path, const char *weights, struct error *e)
{
	struct st_file *f = st_open(path, e);
	if (!f)
		return NULL;
	const char *arch = st_meta_get(f, "graft");
	struct model *m;
	if (!arch) {
		m = model_from_names(f, path);
	} else {
		char *where = xasprintf("%s (architecture in __metadata__)", path);
		m = json_load_model(arch, strlen(arch), where, NULL, e);
		free(where);
		free(m ? m->weights_path : NULL);
		if (m)
			m->weights_path = NULL;
		if (m && !weights && attach_file(m, f, path, e) < 0) {
			model_free(m);
			m = NULL;
		}
		if (m && !weights)
			m->weights_path = xstrdup(path);
	}
	st_close(f);
	if (m && weights && arch && model_attach_weights(m, weights, e) < 0) {
		model_free(m);
		return NULL;
	}
	return m;
}

struct model *model_open(const char *path, const char *weights, struct error *e)
{
	struct model *m = NULL;
	if (ends_with(path, ".safetensors")) {
		m = open_safetensors(path, weights, e);
	} else if (ends_with(path, ".json")) {
		size_t len;
		char *text = read_file(path, &len, e);
		if (!text)
			return NULL;
		char *dir = dir_of(path);
		m = json_load_model(text, len, path, dir, e);
		free(dir);
		free(text);
		const char *w = weights ? weights : m ? m->weights_path : NULL;
		if (m && w) {
			char *wcopy = xstrdup(w);
			int rc = model_attach_weights(m, wcopy, e);
			free(wcopy);
			if (rc < 0) {
				model_free(m);
				return NULL;
			}
		}
	} else {
		error_set(e, "%s: unknown model format (graft opens .json architectures and .safetensors files)",
			  path);
		return NULL;
	}
	if (m) {
		free(m->path);
		m->path = xstrdup(path);
	}
	return m;
}

struct model *model_clone(const struct model *m)
{
	struct model *c = model_new(m->name);
	c->source = m->source ? xstrdup(m->source) : NULL;
	c->path = m->path ? xstrdup(m->path) : NULL;
	c->weights_path = m->weights_path ? xstrdup(m->weights_path) : NULL;
	for (int i = 0; i < m->ninputs; i++)
		model_add_input(c, m->inputs[i].name, &m->inputs[i].shape, m->inputs[i].dtype);
	c->root = m->root ? module_clone(m->root) : NULL;
	c->has_forward = m->has_forward;
	c->has_weights = m->has_weights;
	return c;
}
