/* model_pth.c - PyTorch checkpoints as models, as weights, and written as
 * state_dicts (inside the training checkpoint they came from, when they
 * did), with graft's architecture as an extra record. */
#include "io/model_pth.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/io_json.h"
#include "io/io_pth.h"
#include "io/pickle.h"
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
		struct param *p = model_find_param(m, f->entries[i].name, NULL);
		if (p && !p->buffer)
			p->trainable = f->entries[i].trainable;
	}
}

/* Strips the prefixes wrappers put before every name of a state_dict:
 * nn.DataParallel's "module.", torch.compile's "_orig_mod." and, inside a
 * checkpoint dict (Lightning's "state_dict"), a LightningModule's
 * "model.". Returns what was stripped ("module._orig_mod."), or NULL. */
static char *strip_prefixes(struct pth_file *f)
{
	static const char *const prefixes[] = {"module.", "_orig_mod.", "model."};
	int nprefixes = f->inner_key ? 3 : 2;
	struct strbuf stripped = {0};
	for (int p = 0; p < nprefixes && f->n > 0;) {
		size_t len = strlen(prefixes[p]);
		bool all = true;
		for (int i = 0; i < f->n && all; i++)
			all = strncmp(f->entries[i].name, prefixes[p], len) == 0 &&
			      f->entries[i].name[len] != '\0';
		if (!all) {
			p++;
			continue;
		}
		for (int i = 0; i < f->n; i++)
			memmove(f->entries[i].name, f->entries[i].name + len,
			        strlen(f->entries[i].name + len) + 1);
		strbuf_add(&stripped, prefixes[p]);
		p = 0;
	}
	return stripped.s ? strbuf_take(&stripped) : NULL;
}

/* The model of the architecture graft wrote inside the file, bound to its
 * tensors; NULL (with a note in *why) when they do not fit it. */
static struct model *open_own_architecture(const char *path, const struct pth_file *f,
                                           const char **names, const struct tensor **tensors,
                                           char **why)
{
	struct error e = {0};
	char *where = xasprintf("%s (%s)", path, PTH_ARCHITECTURE_RECORD);
	struct model *m =
	    json_load_model(f->architecture, strlen(f->architecture), where, NULL, &e);
	free(where);
	if (m && model_bind_tensors(m, names, tensors, f->n, path, &e) < 0) {
		model_free(m);
		m = NULL;
	}
	char *copy = xstrdup(path);
	if (m) {
		free(m->weights_path);
		m->weights_path = xstrdup(path);
		m->note = xasprintf("%s: the architecture graft saved inside it", basename(copy));
	} else {
		*why = xasprintf("the architecture graft saved inside does not fit: %s", e.msg);
	}
	free(copy);
	return m;
}

/* What a save needs to write the checkpoint back around the state_dict:
 * where it was, and the parameters an optimizer in it numbers. */
static struct model_checkpoint *checkpoint_record(const struct model *m, const char *path,
                                                  const char *key, const char *prefix)
{
	struct model_checkpoint *c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path);
	c->key = key ? xstrdup(key) : NULL;
	c->prefix = prefix ? xstrdup(prefix) : NULL;
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	c->param_names = xcalloc((size_t)n + 1, sizeof *c->param_names);
	c->param_shapes = xcalloc((size_t)n + 1, sizeof *c->param_shapes);
	for (int i = 0; i < n; i++) {
		const struct param *p = model_find_param(m, names[i], NULL);
		if (p && p->buffer)
			continue;
		c->param_names[c->nparams] = xstrdup(names[i]);
		c->param_shapes[c->nparams++] = tensors[i]->shape;
	}
	save_state_dict_free(names, tensors, n);
	return c;
}

struct model *pth_model_open(const char *path, struct error *e)
{
	struct pth_file *f = pth_open(path, e);
	if (!f)
		return NULL;
	bool pickled_tree = f->root != NULL;
	char *prefix = pickled_tree ? NULL : strip_prefixes(f);
	const char **names;
	const struct tensor **tensors;
	entry_arrays(f, &names, &tensors);
	struct model *m = NULL;
	char *own_why = NULL;
	if (f->architecture)
		m = open_own_architecture(path, f, names, tensors, &own_why);
	if (m) {
		/* the architecture inside */
	} else if (f->root) {
		/* a TorchScript module's types are its classes: names and shapes decide */
		m = zoo_match(path, names, tensors, f->n, f->torchscript ? NULL : f->root);
		if (m) {
			copy_trainable(m, f);
			if (f->torchscript)
				model_add_note(m, "%s",
				         "a TorchScript archive, whose forward is taken from "
				         "the zoo architecture");
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
			m->source =
			    xasprintf("%s of %s", f->torchscript ? "torch.jit.save" : "torch.save",
			              f->root_class);
			copy = xstrdup(path);
			m->note = xasprintf(
			    f->torchscript
			        ? "%s: a TorchScript archive of %s: its forward is TorchScript "
			          "code, which graft neither runs nor translates, and no zoo "
			          "architecture matches it (the tree can be browsed, shapes are "
			          "not checked)"
			        : "%s: a pickled %s; no zoo architecture matches it, so the "
			          "forward is unknown (the tree can be browsed, shapes are not "
			          "checked)",
			    basename(copy), f->root_class);
			free(copy);
		}
		if (f->tree_note)
			model_add_note(m, "%s", f->tree_note);
	} else {
		m = zoo_open_tensors(path, names, tensors, f->n, e);
	}
	if (m && f->legacy)
		model_add_note(m, "%s", "written in the format before PyTorch 1.6");
	if (m && own_why)
		model_add_note(m, "%s", own_why);
	if (m && f->inner_key)
		model_add_note(m, "the state_dict is the checkpoint's '%s' entry", f->inner_key);
	if (m && prefix)
		model_add_note(m, "'%s' stripped from every name", prefix);
	if (m && !pickled_tree && !f->inner_is_module && (f->inner_key || prefix))
		m->checkpoint = checkpoint_record(m, path, f->inner_key, prefix);
	if (m && f->ncopied) {
		char n[32];
		snprintf(n, sizeof n, "%d", f->ncopied);
		model_add_note(m, "%s non-contiguous tensors were made contiguous", n);
	}
	free(names);
	free(tensors);
	free(prefix);
	free(own_why);
	pth_close(f);
	return m;
}

int pth_model_attach(struct model *m, const char *path, struct error *e)
{
	struct pth_file *f = pth_open(path, e);
	if (!f)
		return -1;
	if (!f->root)
		free(strip_prefixes(f));
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

/* The optimizers among a checkpoint's entries: a dict with "state" and
 * "param_groups" (optimizer.state_dict()), or a list of them (Lightning's
 * "optimizer_states"). Calls fn on each; stops at its first -1. */
static int each_optimizer(struct pk_value *entry, const char *key,
                          int (*fn)(struct pk_value *opt, const char *key, void *ctx), void *ctx)
{
	if (entry->kind == PK_LIST) {
		for (int i = 0; i < entry->u.seq.n; i++)
			if (each_optimizer(entry->u.seq.items[i], key, fn, ctx) < 0)
				return -1;
		return 0;
	}
	const struct pk_value *state = pk_dict_get(entry, "state");
	const struct pk_value *groups = pk_dict_get(entry, "param_groups");
	if (!state || state->kind != PK_DICT || !groups || groups->kind != PK_LIST)
		return 0;
	return fn(entry, key, ctx);
}

struct optimizer_fit {
	const struct model_checkpoint *c;
	const bool *misfit; /* c->param_names[i] is gone or has another shape */
	int nmisfit;
	const char *path;
	struct error *e;
};

/* Number of parameters an optimizer's param_groups list, or -1. */
static int optimizer_params(const struct pk_value *opt)
{
	const struct pk_value *groups = pk_dict_get(opt, "param_groups");
	int n = 0;
	for (int i = 0; i < groups->u.seq.n; i++) {
		const struct pk_value *params = pk_dict_get(groups->u.seq.items[i], "params");
		if (!params || params->kind != PK_LIST)
			return -1;
		n += params->u.seq.n;
	}
	return n;
}

/* Keeps, drops or refuses (by c->optimizer) the state an optimizer holds
 * for parameters that no longer fit it. */
static int fit_optimizer(struct pk_value *opt, const char *key, void *ctx)
{
	struct optimizer_fit *fit = ctx;
	const struct model_checkpoint *c = fit->c;
	struct pk_value *state = pk_dict_get(opt, "state");
	if (c->optimizer == MODEL_OPTIMIZER_KEEP || state->u.dict.n == 0)
		return 0;
	if (optimizer_params(opt) != c->nparams)
		return error_set(fit->e,
		                 "%s: %d parameters changed shape or went, and the optimizer in "
		                 "'%s' numbers %d parameters where the model had %d, so which "
		                 "state belongs to which is unknown; --optimizer=keep writes it "
		                 "back as it is",
		                 fit->path, fit->nmisfit, key, optimizer_params(opt), c->nparams);
	struct strbuf which = {0};
	int nstale = 0;
	for (int i = 0; i < state->u.dict.n; i++) {
		const struct pk_value *k = state->u.dict.keys[i];
		if (k->kind != PK_INT || k->u.i < 0 || k->u.i >= c->nparams || !fit->misfit[k->u.i])
			continue;
		if (c->optimizer == MODEL_OPTIMIZER_DROP) {
			pk_dict_remove(state, i--);
			continue;
		}
		if (nstale < 3)
			strbuf_addf(&which, "%s%s", nstale ? ", " : "", c->param_names[k->u.i]);
		nstale++;
	}
	int rc = 0;
	if (nstale)
		rc = error_set(fit->e,
		               "%s: the optimizer state in '%s' of %d parameter%s whose shape "
		               "changed no longer fits (%s%s): choose --optimizer=keep (write it "
		               "back as it is) or --optimizer=drop",
		               fit->path, key, nstale, nstale > 1 ? "s" : "", which.s,
		               nstale > 3 ? ", ..." : "");
	strbuf_free(&which);
	return rc;
}

/* Applies m's optimizer choice to the checkpoint's other entries. */
static int fit_optimizers(const struct model *m, struct pk_value *root, const char *path,
                          struct error *e)
{
	const struct model_checkpoint *c = m->checkpoint;
	bool *misfit = xcalloc((size_t)c->nparams + 1, sizeof *misfit);
	int nmisfit = 0;
	for (int i = 0; i < c->nparams; i++) {
		const struct param *p = model_find_param(m, c->param_names[i], NULL);
		misfit[i] = !p || p->buffer || !shape_equal(&p->t.shape, &c->param_shapes[i]);
		nmisfit += misfit[i];
	}
	struct optimizer_fit fit = {c, misfit, nmisfit, path, e};
	int rc = 0;
	for (int i = 0; nmisfit && rc == 0 && i < root->u.dict.n; i++) {
		const struct pk_value *k = root->u.dict.keys[i];
		if (k->kind == PK_STR && strcmp(k->u.str.s, c->key) != 0)
			rc =
			    each_optimizer(root->u.dict.values[i], k->u.str.s, fit_optimizer, &fit);
	}
	free(misfit);
	return rc;
}

/* The checkpoint m came from, read again, its optimizers fitted to m. */
static struct pth_reader *read_envelope(const struct model *m, const char *path, struct error *e)
{
	struct pth_reader *r = pth_read_object(m->checkpoint->path, e);
	if (!r) {
		error_prefix(e, "%s: reading the checkpoint again to keep its other entries", path);
		return NULL;
	}
	struct pk_value *root = pth_reader_root(r);
	if (!pk_dict_get(root, m->checkpoint->key)) {
		error_set(e, "%s: %s no longer has the '%s' entry the state_dict came from", path,
		          m->checkpoint->path, m->checkpoint->key);
	} else if (fit_optimizers(m, root, path, e) == 0) {
		return r;
	}
	pth_reader_free(r);
	return NULL;
}

int pth_model_save(const struct model *m, const char *path, unsigned flags, struct error *e)
{
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	int rc = save_check_storage(names, tensors, n, path, e);
	const struct model_checkpoint *c = m->checkpoint;
	struct pth_reader *envelope = NULL;
	if (rc == 0 && c && c->key && !(envelope = read_envelope(m, path, e)))
		rc = -1;
	if (rc == 0) {
		/* names as the checkpoint had them */
		const char *prefix = c && c->prefix ? c->prefix : "";
		for (int i = 0; *prefix && i < n; i++) {
			char *full = xasprintf("%s%s", prefix, names[i]);
			free(names[i]);
			names[i] = full;
		}
		struct versions v = {0};
		module_walk(m->root, collect_versions, &v);
		for (int i = 0; *prefix && i < v.n; i++) {
			char *full = *v.list[i].path ? xasprintf("%s%s", prefix, v.list[i].path)
			                             : xstrndup(prefix, strlen(prefix) - 1);
			free((char *)v.list[i].path);
			v.list[i].path = full;
		}
		char *arch = m->has_forward ? json_save_model(m, NULL) : NULL;
		struct pth_write_extras x = {v.list, v.n, arch, envelope, c ? c->key : NULL};
		struct save_file sf;
		rc = save_begin(&sf, path, flags, e);
		if (rc == 0)
			rc = save_end(&sf,
				      pth_write_to(&sf, (const char *const *)names, tensors, n, &x, e),
				      e);
		free(arch);
		for (int i = 0; i < v.n; i++)
			free((char *)v.list[i].path);
		free(v.list);
	}
	pth_reader_free(envelope);
	save_state_dict_free(names, tensors, n);
	return rc;
}
