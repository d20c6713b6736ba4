/* model_pth.c - PyTorch checkpoints as models and as weights. */
#include "io/model_pth.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_pth.h"
#include "core/util.h"
#include "io/zoo.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool pth_path(const char *path)
{
	return ends_with(path, ".pth") || ends_with(path, ".pt") || ends_with(path, ".bin") ||
	       ends_with(path, ".ckpt");
}

/* Parallel arrays of names and tensors over f's entries. */
static void entry_arrays(const struct pth_file *f, const char ***names,
                         const struct tensor ***tensors)
{
	*names = xcalloc((size_t)f->n + 1, sizeof **names);
	*tensors = xcalloc((size_t)f->n + 1, sizeof **tensors);
	for (int i = 0; i < f->n; i++) {
		(*names)[i] = f->entries[i].name;
		(*tensors)[i] = &f->entries[i].t;
	}
}

/* A pickled module's requires_grad flags, onto the matching zoo model. */
static void copy_trainable(struct model *m, const struct pth_file *f)
{
	for (int i = 0; i < f->n; i++) {
		const char *name = f->entries[i].name;
		const char *dot = strrchr(name, '.');
		char *owner = dot ? xstrndup(name, (size_t)(dot - name)) : xstrdup("");
		struct module *mod = module_find(m->root, owner);
		struct param *p = mod ? module_param(mod, dot ? dot + 1 : name) : NULL;
		if (p && !p->buffer)
			p->trainable = f->entries[i].trainable;
		free(owner);
	}
}

static void add_note(struct model *m, const char *fmt, const char *arg)
{
	char *more = xasprintf(fmt, arg);
	char *note = m->note ? xasprintf("%s; %s", m->note, more) : xstrdup(more);
	free(more);
	free(m->note);
	m->note = note;
}

struct model *model_open_pth(const char *path, const char *weights, struct error *e)
{
	struct pth_file *f = pth_open(path, e);
	if (!f)
		return NULL;
	const char **names;
	const struct tensor **tensors;
	entry_arrays(f, &names, &tensors);
	struct model *m;
	if (f->root) {
		m = zoo_match(path, names, tensors, f->n, f->root);
		if (m) {
			copy_trainable(m, f);
		} else {
			char *copy = xstrdup(path);
			char *base = basename(copy);
			char *dot = strrchr(base, '.');
			if (dot && dot != base)
				*dot = '\0';
			m = model_new(base);
			free(copy);
			m->root = pth_take_tree(f);
			m->has_weights = true;
			m->weights_path = xstrdup(path);
			m->source = xasprintf("torch.save of %s", f->root_class);
			copy = xstrdup(path);
			m->note = xasprintf(
			    "%s: a pickled %s; no zoo architecture matches it, so the forward is "
			    "unknown (the tree can be browsed, shapes are not checked)",
			    basename(copy), f->root_class);
			free(copy);
		}
		if (f->tree_note)
			add_note(m, "%s", f->tree_note);
	} else {
		m = zoo_open_tensors(path, names, tensors, f->n, e);
	}
	if (m && f->legacy)
		add_note(m, "%s", "written in the format before PyTorch 1.6");
	if (m && f->inner_key)
		add_note(m, "the state_dict is the checkpoint's '%s' entry", f->inner_key);
	if (m && f->ncopied) {
		char n[32];
		snprintf(n, sizeof n, "%d", f->ncopied);
		add_note(m, "%s non-contiguous tensors were made contiguous", n);
	}
	free(names);
	free(tensors);
	pth_close(f);
	if (m && weights && model_attach_weights(m, weights, e) < 0) {
		model_free(m);
		return NULL;
	}
	return m;
}

int pth_attach_weights(struct model *m, const char *path, struct error *e)
{
	struct pth_file *f = pth_open(path, e);
	if (!f)
		return -1;
	const char **names;
	const struct tensor **tensors;
	entry_arrays(f, &names, &tensors);
	int rc = model_bind_tensors(m, names, tensors, f->n, path, e);
	if (rc == 0 && f->root)
		copy_trainable(m, f);
	free(names);
	free(tensors);
	pth_close(f);
	return rc;
}
