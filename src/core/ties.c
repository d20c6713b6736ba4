/* ties.c - tied weights kept tied through loads, inits and edits. */
#include "core/ties.h"

#include <stdlib.h>
#include <string.h>

struct sync_ctx {
	struct module *root;
	struct strbuf *dropped;
	int ndropped;
};

/* Float dtypes are one for a tie: a file may store either name in float16. */
static bool same_dtype(enum dtype a, enum dtype b)
{
	return a == b || (dtype_is_float(a) && dtype_is_float(b));
}

static int sync_module(struct module *m, void *vctx)
{
	struct sync_ctx *c = vctx;
	for (int i = 0; i < m->nparams; i++) {
		struct param *p = &m->params[i];
		if (!p->tie)
			continue;
		const struct param *first = module_find_tensor(c->root, p->tie);
		if (first && first != p && !first->tie && first->buffer == p->buffer &&
		    same_dtype(first->t.dtype, p->t.dtype) &&
		    shape_equal(&first->t.shape, &p->t.shape)) {
			if (first->t.storage)
				tensor_share(&p->t, &first->t);
			continue;
		}
		if (c->dropped) {
			char name[4096];
			strbuf_addf(c->dropped, "%s is no longer tied to %s\n",
				    module_param_path(m, p->name, name, sizeof name), p->tie);
		}
		free(p->tie);
		p->tie = NULL;
		c->ndropped++;
	}
	return 0;
}

int ties_sync(struct module *root, struct strbuf *dropped)
{
	struct sync_ctx c = {.root = root, .dropped = dropped};
	module_walk(root, sync_module, &c);
	return c.ndropped;
}

struct rebase_ctx {
	const char *from, *to;
};

static int rebase_module(struct module *m, void *vctx)
{
	const struct rebase_ctx *c = vctx;
	size_t n = strlen(c->from);
	for (int i = 0; i < m->nparams; i++) {
		struct param *p = &m->params[i];
		if (!p->tie)
			continue;
		char *t = strncmp(p->tie, c->from, n) == 0 ? xasprintf("%s%s", c->to, p->tie + n)
							    : NULL;
		free(p->tie);
		p->tie = t;
	}
	return 0;
}

void ties_rebase(struct module *root, const char *from, const char *to)
{
	struct rebase_ctx c = {.from = from, .to = to};
	module_walk(root, rebase_module, &c);
}
