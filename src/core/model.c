/* model.c - the model object: its inputs, copies, and binding named tensors
 * to its module tree. */
#include "core/model.h"

#include <libgen.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/ties.h"

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
	free(m->note);
	free(m->config);
	for (int i = 0; i < m->ninputs; i++)
		free(m->inputs[i].name);
	free(m->inputs);
	module_free(m->root);
	model_checkpoint_free(m->checkpoint);
	free(m);
}

void model_add_note(struct model *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = xvasprintf(fmt, ap);
	va_end(ap);
	char *note = m->note ? xasprintf("%s; %s", m->note, text) : xstrdup(text);
	free(text);
	free(m->note);
	m->note = note;
}

void model_checkpoint_free(struct model_checkpoint *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->key);
	free(c->prefix);
	for (int i = 0; i < c->nparams; i++)
		free(c->param_names[i]);
	free(c->param_names);
	free(c->param_shapes);
	free(c);
}

/* A deep copy of c (NULL for NULL). */
static struct model_checkpoint *checkpoint_clone(const struct model_checkpoint *c)
{
	if (!c)
		return NULL;
	struct model_checkpoint *d = xmalloc(sizeof *d);
	*d = *c;
	d->path = xstrdup(c->path);
	d->key = c->key ? xstrdup(c->key) : NULL;
	d->prefix = c->prefix ? xstrdup(c->prefix) : NULL;
	d->param_names = xcalloc((size_t)c->nparams + 1, sizeof *d->param_names);
	d->param_shapes = xcalloc((size_t)c->nparams + 1, sizeof *d->param_shapes);
	for (int i = 0; i < c->nparams; i++) {
		d->param_names[i] = xstrdup(c->param_names[i]);
		d->param_shapes[i] = c->param_shapes[i];
	}
	return d;
}

void model_add_input(struct model *m, const char *name, const struct shape *s, enum dtype dt)
{
	m->inputs = xrealloc(m->inputs, (size_t)(m->ninputs + 1) * sizeof *m->inputs);
	m->inputs[m->ninputs].name = xstrdup(name);
	m->inputs[m->ninputs].shape = *s;
	m->inputs[m->ninputs].dtype = dt;
	m->ninputs++;
}

/* Float dtypes convert into each other on use (dtype_is_float); a file may
 * store a float32 parameter as float16 without it being a mismatch. */

/* The tensors of a weights file, sorted by name for lookups. */
struct named {
	const char *name;
	const struct tensor *t;
};

static int cmp_named(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

static const struct tensor *named_find(const struct named *sorted, int n, const char *name)
{
	struct named key = {.name = name};
	const struct named *hit = bsearch(&key, sorted, (size_t)n, sizeof *sorted, cmp_named);
	return hit ? hit->t : NULL;
}

struct bind_ctx {
	const struct named *sorted;
	int n;
	struct strbuf missing, misshaped;
	int nmissing, nmisshaped, nbound;
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
		const struct tensor *t = named_find(c->sorted, c->n, key);
		if (!t && p->tie) {
			/* a tied name a file may leave out: it is its first name */
		} else if (!t) {
			list_add(&c->missing, &c->nmissing, key);
		} else if (!shape_equal(&t->shape, &p->t.shape) ||
			   (t->dtype != p->t.dtype &&
			    !(dtype_is_float(t->dtype) && dtype_is_float(p->t.dtype)))) {
			char a[160], b[160], msg[512];
			snprintf(msg, sizeof msg, "%s is %s %s in the file, %s %s in the architecture",
				 key, dtype_name(t->dtype), shape_format(&t->shape, a, sizeof a),
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
	const struct bind_ctx *c = vctx;
	char path[4096];
	module_path_buf(mod, path, sizeof path);
	for (int i = 0; i < mod->nparams; i++) {
		struct param *p = &mod->params[i];
		char *key = path[0] ? xasprintf("%s.%s", path, p->name) : xstrdup(p->name);
		const struct tensor *t = named_find(c->sorted, c->n, key);
		free(key);
		if (!t)
			continue;
		bool trainable = p->trainable;
		tensor_share(&p->t, t);
		p->t.dtype = t->dtype;
		p->trainable = trainable;
	}
	return 0;
}

struct param *model_find_param(const struct model *m, const char *name, struct module **owner)
{
	const char *dot = strrchr(name, '.');
	char *path = dot ? xstrndup(name, (size_t)(dot - name)) : xstrdup("");
	struct module *mod = module_find(m->root, path);
	free(path);
	if (owner)
		*owner = mod;
	return mod ? module_param(mod, dot ? dot + 1 : name) : NULL;
}

int model_bind_tensors(struct model *m, const char *const *names,
		       const struct tensor *const *tensors, int n, const char *where,
		       struct error *e)
{
	struct named *sorted = xcalloc((size_t)n + 1, sizeof *sorted);
	for (int i = 0; i < n; i++)
		sorted[i] = (struct named){.name = names[i], .t = tensors[i]};
	qsort(sorted, (size_t)n, sizeof *sorted, cmp_named);
	struct bind_ctx c = {.sorted = sorted, .n = n};
	module_walk(m->root, bind_module, &c);
	struct strbuf unexpected = {0};
	int nunexpected = 0;
	for (int i = 0; i < n; i++)
		if (!module_find_tensor(m->root, names[i]))
			list_add(&unexpected, &nunexpected, names[i]);
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
		module_walk(m->root, set_storage, &c);
		ties_sync(m->root, NULL);
		m->has_weights = true;
	}
	strbuf_free(&c.missing);
	strbuf_free(&c.misshaped);
	strbuf_free(&unexpected);
	free(sorted);
	return rc;
}

/* Guesses whether a tensor name from a plain state_dict is a buffer. */
static bool looks_like_buffer(const char *pname)
{
	return strcmp(pname, "running_mean") == 0 || strcmp(pname, "running_var") == 0 ||
	       strcmp(pname, "num_batches_tracked") == 0 ||
	       strstr(pname, "relative_position_index") != NULL;
}

struct model *model_from_tensor_names(const char *path, const char *const *names,
				      const struct tensor *const *tensors, int n)
{
	char *copy = xstrdup(path);
	struct model *m = model_new(basename(copy));
	free(copy);
	m->root = module_new("", "Module");
	for (int i = 0; i < n; i++) {
		const char *name = names[i];
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
		struct param *prm = module_add_param(cur, p, tensors[i]->dtype, &tensors[i]->shape,
						     looks_like_buffer(p));
		tensor_share(&prm->t, tensors[i]);
	}
	m->has_weights = true;
	m->weights_path = xstrdup(path);
	return m;
}

struct model *model_clone(const struct model *m)
{
	struct model *c = model_new(m->name);
	c->source = m->source ? xstrdup(m->source) : NULL;
	c->path = m->path ? xstrdup(m->path) : NULL;
	c->weights_path = m->weights_path ? xstrdup(m->weights_path) : NULL;
	c->note = m->note ? xstrdup(m->note) : NULL;
	c->config = m->config ? xstrdup(m->config) : NULL;
	for (int i = 0; i < m->ninputs; i++)
		model_add_input(c, m->inputs[i].name, &m->inputs[i].shape, m->inputs[i].dtype);
	c->root = m->root ? module_clone(m->root) : NULL;
	c->has_forward = m->has_forward;
	c->has_weights = m->has_weights;
	c->checkpoint = checkpoint_clone(m->checkpoint);
	return c;
}
