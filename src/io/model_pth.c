/* model_pth.c - PyTorch checkpoints as models, as weights, and written as
 * state_dicts. */
#include "io/model_pth.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/io_pth.h"
#include "io/save.h"
#include "io/zoo.h"

bool pth_recognise(const unsigned char *head, size_t n, unsigned long long size)
{
	(void)size;
	return (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) || /* zip, PyTorch 1.6 on */
	       (n >= 2 && head[0] == 0x80 && head[1] == 0x02);     /* pickle, before 1.6 */
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

struct model *pth_model_open(const char *path, struct error *e)
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
	return m;
}

int pth_model_attach(struct model *m, const char *path, struct error *e)
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

/* The _version of the PyTorch class of each module, for a .pth's
 * _metadata: 1 (nn.Module's) but for the classes that changed their
 * state_dict layout and check the version when loading. */
static int module_version(const struct module *m)
{
	static const char *const version2[] = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
					       "SyncBatchNorm", "MNASNet"};
	for (size_t i = 0; i < sizeof version2 / sizeof version2[0]; i++)
		if (strcmp(m->type, version2[i]) == 0)
			return 2;
	return 1;
}

struct versions {
	struct pth_version *list;
	int n, cap;
};

static int collect_versions(struct module *m, void *vctx)
{
	struct versions *v = vctx;
	xgrow(&v->list, &v->cap, v->n + 1, sizeof *v->list);
	v->list[v->n].path = module_path(m);
	v->list[v->n].version = module_version(m);
	v->n++;
	return 0;
}


int pth_model_save(const struct model *m, const char *path, unsigned flags, struct error *e)
{
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	int rc = save_check_storage(names, tensors, n, path, e);
	if (rc == 0) {
		struct versions v = {0};
		module_walk(m->root, collect_versions, &v);
		struct save_file sf;
		rc = save_begin(&sf, path, flags, e);
		if (rc == 0)
			rc = save_end(&sf,
				      pth_write_to(&sf, (const char *const *)names, tensors, n,
						   v.list, v.n, e),
				      e);
		for (int i = 0; i < v.n; i++)
			free((char *)v.list[i].path);
		free(v.list);
	}
	save_state_dict_free(names, tensors, n);
	return rc;
}
