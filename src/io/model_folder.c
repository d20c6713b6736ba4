/* model_folder.c - hub-style model folders: finding the weights, reading
 * and checking shards, and config.json for display. */
#include "io/model_folder.h"

#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "io/hub_json.h"
#include "io/io_pth.h"
#include "io/io_safetensors.h"
#include "io/model_pth.h"
#include "io/model_safetensors.h"
#include "io/zoo.h"

/* The weights files a folder may hold, in the order they are looked for. */
static const struct folder_weights {
	const char *name;
	bool index;       /* a shard index; else the one weights file */
	bool safetensors; /* the file's (or the shards') format; else PyTorch's */
} folder_weights[] = {
    {"model.safetensors", false, true},
    {"model.safetensors.index.json", true, true},
    {"pytorch_model.bin", false, false},
    {"pytorch_model.bin.index.json", true, false},
};
#define NWEIGHTS (sizeof folder_weights / sizeof folder_weights[0])

/* folder/name, malloc'd, when it is a regular file inside the folder,
 * symlinks resolved; else NULL with e set. `index` (may be NULL) is the
 * index that names it, for messages. */
static char *member_path(const char *folder, const char *name, const char *index, struct error *e)
{
	char *path = xasprintf("%s/%s", folder, name);
	char *what = index ? xasprintf("%s: shard '%s'", index, name) : xasprintf("%s", path);
	enum path_place place = path_place(path, folder);
	struct stat st;
	bool ok = false;
	if (place == PATH_MISSING)
		error_setk(e, ERR_INPUT, "%s does not exist", what);
	else if (place == PATH_OUTSIDE)
		error_setk(e, ERR_INPUT, "%s leads outside the folder %s", what, folder);
	else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		error_setk(e, ERR_INPUT, "%s is not a regular file", what);
	else
		ok = true;
	free(what);
	if (!ok) {
		free(path);
		path = NULL;
	}
	return path;
}

/* The first weights file or index the folder has an entry for, or NULL
 * with e set. */
static const struct folder_weights *find_weights(const char *folder, struct error *e)
{
	for (size_t i = 0; i < NWEIGHTS; i++) {
		char *path = xasprintf("%s/%s", folder, folder_weights[i].name);
		struct stat st;
		bool there = lstat(path, &st) == 0; /* a dangling link too: say so */
		free(path);
		if (there)
			return &folder_weights[i];
	}
	error_setk(
	    e, ERR_INPUT,
	    "%s: a folder without model weights (graft looks for model.safetensors, "
	    "model.safetensors.index.json, pytorch_model.bin and pytorch_model.bin.index.json)",
	    folder);
	return NULL;
}

/* A sharded model's tensors, read and checked against its index. */
struct shards {
	struct hub_index ix;
	struct st_file **st;   /* each shard, when they are safetensors */
	struct pth_file **pth; /* or PyTorch checkpoints */
	const char **names;    /* every tensor, shard by shard in file order */
	const struct tensor **tensors;
	int n;
};

static void shards_close(struct shards *s)
{
	for (int i = 0; i < s->ix.nshards; i++) {
		st_close(s->st[i]);
		pth_close(s->pth[i]);
	}
	free(s->st);
	free(s->pth);
	free(s->names);
	free(s->tensors);
	hub_index_free(&s->ix);
}

/* Adds the tensors of shard k (at path) to s, each checked to be one the
 * index puts in this shard. */
static int add_shard(struct shards *s, int k, const char *path, bool *seen, struct error *e)
{
	int n = s->st[k] ? s->st[k]->n : s->pth[k]->n;
	for (int i = 0; i < n; i++) {
		const char *name =
		    s->st[k] ? s->st[k]->entries[i].name : s->pth[k]->entries[i].name;
		int at = hub_index_find(&s->ix, name);
		if (at < 0)
			return error_setk(e, ERR_INPUT, "%s: tensor '%s' is not in the index", path,
			                  name);
		if (s->ix.shard[at] != k)
			return error_setk(e, ERR_INPUT,
			                  "%s: tensor '%s' is here, but the index puts it in '%s'",
			                  path, name, s->ix.shards[s->ix.shard[at]]);
		if (seen[at])
			return error_setk(e, ERR_INPUT, "%s: tensor '%s' is here twice", path,
			                  name);
		seen[at] = true;
		s->names[s->n] = name;
		s->tensors[s->n++] = s->st[k] ? &s->st[k]->entries[i].t : &s->pth[k]->entries[i].t;
	}
	return 0;
}

/* Reads the shard index w names in folder, and every shard the index
 * names. 0, or -1 with e set and s empty. */
static int shards_open(const char *folder, const struct folder_weights *w, struct shards *s,
                       struct error *e)
{
	*s = (struct shards){0};
	char *index = member_path(folder, w->name, NULL, e);
	if (!index)
		return -1;
	struct storage *text = storage_map_file(index, e);
	int rc = text ? 0 : -1;
	if (text && text->size > HUB_INDEX_MAX_BYTES)
		rc = error_setk(e, ERR_INPUT, "%s: %zu bytes is too large for a shard index", index,
		                text->size);
	if (rc == 0)
		rc = hub_index_parse(text->data, text->size, index, &s->ix, e);
	storage_unref(text);
	if (rc < 0) {
		free(index);
		return -1;
	}
	s->st = xcalloc((size_t)s->ix.nshards, sizeof *s->st);
	s->pth = xcalloc((size_t)s->ix.nshards, sizeof *s->pth);
	s->names = xcalloc((size_t)s->ix.n + 1, sizeof *s->names);
	s->tensors = xcalloc((size_t)s->ix.n + 1, sizeof *s->tensors);
	bool *seen = xcalloc((size_t)s->ix.n + 1, sizeof *seen);
	/* every file checked before any is read */
	char **paths = xcalloc((size_t)s->ix.nshards, sizeof *paths);
	for (int k = 0; rc == 0 && k < s->ix.nshards; k++)
		if (!(paths[k] = member_path(folder, s->ix.shards[k], index, e)))
			rc = -1;
	for (int k = 0; rc == 0 && k < s->ix.nshards; k++) {
		if (w->safetensors)
			s->st[k] = st_open(paths[k], e);
		else
			s->pth[k] = pth_open(paths[k], e);
		rc = s->st[k] || s->pth[k] ? add_shard(s, k, paths[k], seen, e) : -1;
	}
	for (int k = 0; k < s->ix.nshards; k++)
		free(paths[k]);
	free(paths);
	for (int i = 0; rc == 0 && i < s->ix.n; i++)
		if (!seen[i])
			rc = error_setk(e, ERR_INPUT, "%s: tensor '%s' is not in its shard '%s'",
			                index, s->ix.tensors[i], s->ix.shards[s->ix.shard[i]]);
	free(seen);
	free(index);
	if (rc < 0)
		shards_close(s);
	return rc;
}

/* m->config from the folder's config.json; when there is one that cannot
 * be shown, a note says why. */
static void read_config(const char *folder, struct model *m)
{
	char *path = xasprintf("%s/config.json", folder);
	struct stat st;
	bool there = lstat(path, &st) == 0;
	free(path);
	if (!there)
		return;
	struct error e = {0};
	path = member_path(folder, "config.json", NULL, &e);
	struct storage *text = path ? storage_map_file(path, &e) : NULL;
	if (text && text->size > HUB_CONFIG_MAX_BYTES)
		error_set(&e, "larger than %u bytes", HUB_CONFIG_MAX_BYTES);
	else if (text && !(m->config = hub_config_text(text->data, text->size)))
		error_set(&e, "not a JSON object");
	if (!m->config) {
		model_add_note(m, "config.json is not shown (%s)", e.msg);
	}
	storage_unref(text);
	free(path);
}

/* A model named after its weights file ("model.safetensors", or
 * "pytorch_model" for a pickled module) takes the folder's name. */
static void name_after_folder(struct model *m, const char *folder, const char *file)
{
	size_t stem = strcspn(file, ".");
	if (strcmp(m->name, file) != 0 && (strncmp(m->name, file, stem) != 0 || m->name[stem]))
		return;
	char *copy = xstrdup(folder);
	free(m->name);
	m->name = xstrdup(basename(copy));
	free(copy);
}

struct model *folder_model_open(const char *path, struct error *e)
{
	const struct folder_weights *w = find_weights(path, e);
	if (!w)
		return NULL;
	struct model *m = NULL;
	char *note = NULL;
	if (w->index) {
		struct shards s;
		if (shards_open(path, w, &s, e) < 0)
			return NULL;
		m = zoo_open_tensors(path, s.names, s.tensors, s.n, e);
		note = xasprintf("a model folder: %d tensors in %d shards listed in %s", s.n,
		                 s.ix.nshards, w->name);
		shards_close(&s);
	} else {
		char *file = member_path(path, w->name, NULL, e);
		if (file)
			m = w->safetensors ? st_model_open(file, e) : pth_model_open(file, e);
		if (m)
			name_after_folder(m, path, w->name);
		note = xasprintf("a model folder: the weights are %s", w->name);
		free(file);
	}
	if (m) {
		char *opened = m->note; /* after what the folder is */
		m->note = NULL;
		model_add_note(m, "%s", note);
		if (opened)
			model_add_note(m, "%s", opened);
		free(opened);
		read_config(path, m);
	}
	free(note);
	return m;
}

int folder_model_attach(struct model *m, const char *path, struct error *e)
{
	const struct folder_weights *w = find_weights(path, e);
	if (!w)
		return -1;
	if (!w->index) {
		char *file = member_path(path, w->name, NULL, e);
		int rc = !file            ? -1
		         : w->safetensors ? st_model_attach(m, file, e)
		                          : pth_model_attach(m, file, e);
		free(file);
		return rc;
	}
	struct shards s;
	if (shards_open(path, w, &s, e) < 0)
		return -1;
	int rc = model_bind_tensors(m, s.names, s.tensors, s.n, path, e);
	shards_close(&s);
	return rc;
}
