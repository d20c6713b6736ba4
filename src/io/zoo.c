/* zoo.c - matching bare checkpoints against the shipped architectures. */
#include "io/zoo.h"

#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/model_json.h"
#include "io/save.h"
#include "core/registry.h"
#include "core/shape.h"
#include "core/util.h"

#define ZOO_INDEX        "index.txt"
#define ZOO_INDEX_HEADER "# graft zoo index 2: FILE BYTES TENSORS FINGERPRINT NAMES"

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *zoo_dir(void)
{
	const char *env = getenv("GRAFT_MODELS");
	if (env && *env)
		return xstrdup(env);
#ifdef GRAFT_MODELSDIR
	if (is_dir(GRAFT_MODELSDIR))
		return xstrdup(GRAFT_MODELSDIR);
#endif
	char *beside = path_beside_exe("models");
	if (beside && is_dir(beside))
		return beside;
	free(beside);
	return NULL;
}

struct fp_item {
	const char *name;
	const struct shape *shape;
};

static int cmp_fp_item(const void *a, const void *b)
{
	return strcmp(((const struct fp_item *)a)->name, ((const struct fp_item *)b)->name);
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The fingerprint of the names, with each tensor's rank and, when
 * `dims`, its dimensions. */
static uint64_t fingerprint(const char *const *names, const struct tensor *const *tensors, int n,
                            bool dims)
{
	struct fp_item *items = xcalloc((size_t)n + 1, sizeof *items);
	for (int i = 0; i < n; i++)
		items[i] = (struct fp_item){names[i], &tensors[i]->shape};
	qsort(items, (size_t)n, sizeof *items, cmp_fp_item);
	uint64_t h = 14695981039346656037ULL;
	for (int i = 0; i < n; i++) {
		h = fnv(h, items[i].name, strlen(items[i].name) + 1);
		unsigned char buf[8 * (SHAPE_MAX_DIMS + 1)];
		size_t len = 0;
		int64_t d_list[SHAPE_MAX_DIMS + 1];
		int nd = items[i].shape->ndim;
		d_list[0] = nd;
		for (int d = 0; d < nd; d++)
			d_list[d + 1] = items[i].shape->dim[d];
		for (int d = 0; d <= (dims ? nd : 0); d++)
			for (int b = 0; b < 8; b++)
				buf[len++] = (unsigned char)((uint64_t)d_list[d] >> (8 * b));
		h = fnv(h, buf, len);
	}
	free(items);
	return h;
}

uint64_t zoo_fingerprint(const char *const *names, const struct tensor *const *tensors, int n)
{
	return fingerprint(names, tensors, n, true);
}

/* One architecture of the zoo folder. */
struct zoo_entry {
	char *file;
	long long bytes;
	int tensors;
	uint64_t fp;
	uint64_t names_fp; /* the names and ranks alone */
	bool listed;       /* from the index */
};

static void free_entries(struct zoo_entry *z, int n)
{
	for (int i = 0; i < n; i++)
		free(z[i].file);
	free(z);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct zoo_entry *)a)->file, ((const struct zoo_entry *)b)->file);
}

/* The *.json files of dir, sorted, with their sizes. */
static struct zoo_entry *list_dir(const char *dir, int *count)
{
	*count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	struct zoo_entry *z = NULL;
	int n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!str_ends_with(de->d_name, ".json") || de->d_name[0] == '.')
			continue;
		char *full = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		bool ok = stat(full, &st) == 0 && S_ISREG(st.st_mode);
		free(full);
		if (!ok)
			continue;
		xgrow(&z, &cap, n + 1, sizeof *z);
		z[n] =
		    (struct zoo_entry){.file = xstrdup(de->d_name), .bytes = (long long)st.st_size};
		n++;
	}
	closedir(d);
	if (n)
		qsort(z, (size_t)n, sizeof *z, cmp_entry);
	*count = n;
	return z;
}

/* Fills fingerprints from dir's index for the files whose size it lists. */
static void read_index(const char *dir, struct zoo_entry *z, int n)
{
	char *path = xasprintf("%s/%s", dir, ZOO_INDEX);
	FILE *f = fopen(path, "r");
	free(path);
	if (!f)
		return;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		char file[512];
		long long bytes;
		int tensors;
		unsigned long long fp, names_fp;
		if (line[0] == '#' || sscanf(line, "%511s %lld %d %llx %llx", file, &bytes,
		                             &tensors, &fp, &names_fp) != 5)
			continue;
		struct zoo_entry key = {.file = file};
		struct zoo_entry *hit =
		    n ? bsearch(&key, z, (size_t)n, sizeof *z, cmp_entry) : NULL;
		if (hit && hit->bytes == bytes) {
			hit->tensors = tensors;
			hit->fp = fp;
			hit->names_fp = names_fp;
			hit->listed = true;
		}
	}
	fclose(f);
}

/* The architecture alone: the weights it may name are not the zoo's
 * business. */
static struct model *load_zoo_model(const char *dir, const char *file, struct error *e)
{
	char *path = xasprintf("%s/%s", dir, file);
	struct model *m = json_model_open(path, e);
	free(path);
	return m;
}

static void fingerprint_model(const struct model *m, struct zoo_entry *z)
{
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	z->fp = fingerprint((const char *const *)names, tensors, n, true);
	z->names_fp = fingerprint((const char *const *)names, tensors, n, false);
	z->tensors = n;
	save_state_dict_free(names, tensors, n);
}

struct type_check {
	const struct module *tree;
	bool ok;
};

static int same_type(struct module *m, void *vctx)
{
	struct type_check *c = vctx;
	char path[4096];
	module_path_buf(m, path, sizeof path);
	const struct module *other = module_find(c->tree, path);
	if (!other || strcmp(other->type, m->type) != 0 || other->nchildren != m->nchildren) {
		c->ok = false;
		return 1;
	}
	return 0;
}

/* Gives the classifier heads of m the number of outputs the tensors have:
 * a Linear or Conv2d whose weight differs from the checkpoint's in its
 * first dimension alone takes that many out_features/out_channels. Then
 * the names and shapes must all agree and the forward still check. Adds
 * "'fc' 1000→7" for each head to *what. 0, or -1 when it does not fit. */
static int fit_heads(struct model *m, const char *const *names, const struct tensor *const *tensors,
                     int n, struct strbuf *what)
{
	for (int i = 0; i < n; i++) {
		struct module *mod;
		const struct param *p = model_find_param(m, names[i], &mod);
		if (!p)
			return -1;
		const struct shape *want = &tensors[i]->shape, *have = &p->t.shape;
		if (shape_equal(want, have))
			continue;
		const char *attr = strcmp(mod->type, "Linear") == 0   ? "out_features"
		                   : strcmp(mod->type, "Conv2d") == 0 ? "out_channels"
		                                                      : NULL;
		if (!attr || strcmp(p->name, "weight") != 0 || want->ndim != have->ndim)
			return -1;
		for (int d = 1; d < want->ndim; d++)
			if (want->dim[d] != have->dim[d])
				return -1;
		char path[4096];
		module_path_buf(mod, path, sizeof path);
		strbuf_addf(what, "%s'%s' %lld→%lld", what->len ? ", " : "", path,
		            (long long)have->dim[0], (long long)want->dim[0]);
		struct value v = value_int(want->dim[0]);
		module_set_attr(mod, attr, &v);
		struct error e = {0};
		if (registry_prepare(mod, &e) < 0)
			return -1;
	}
	struct shape_result r;
	int rc = shape_pass(m, &r);
	shape_result_free(&r);
	return rc;
}

/* The architecture of zoo file z bound to the tensors, heads resized when
 * `heads`; NULL when it does not fit. */
static struct model *try_entry(const char *dir, const struct zoo_entry *z, const char *path,
                               const char *const *names, const struct tensor *const *tensors, int n,
                               const struct module *tree, bool heads)
{
	struct error e = {0};
	struct model *m = load_zoo_model(dir, z->file, &e);
	if (!m)
		return NULL;
	struct type_check tc = {.tree = tree, .ok = true};
	if (tree)
		module_walk(m->root, same_type, &tc);
	struct strbuf resized = {0};
	if (!tc.ok || !m->has_forward || (heads && fit_heads(m, names, tensors, n, &resized) < 0) ||
	    model_bind_tensors(m, names, tensors, n, path, &e) < 0) {
		model_free(m);
		strbuf_free(&resized);
		return NULL;
	}
	char *copy = xstrdup(path), *dcopy = xstrdup(dir);
	m->note = xasprintf("%s: matches %s/%s%s%s", basename(copy), basename(dcopy), z->file,
	                    heads ? " with its head resized: " : "", heads ? resized.s : "");
	free(copy);
	free(dcopy);
	strbuf_free(&resized);
	free(m->weights_path);
	m->weights_path = xstrdup(path);
	return m;
}

struct model *zoo_match(const char *path, const char *const *names,
                        const struct tensor *const *tensors, int n, const struct module *tree)
{
	char *dir = zoo_dir();
	if (!dir)
		return NULL;
	int nz;
	struct zoo_entry *z = list_dir(dir, &nz);
	read_index(dir, z, nz);
	for (int i = 0; i < nz; i++) {
		struct error e = {0};
		struct model *m = z[i].listed ? NULL : load_zoo_model(dir, z[i].file, &e);
		if (m)
			fingerprint_model(m, &z[i]);
		model_free(m);
	}
	uint64_t fp = fingerprint(names, tensors, n, true);
	uint64_t names_fp = fingerprint(names, tensors, n, false);
	struct model *found = NULL;
	/* the same shapes, else the same names with other heads */
	for (int heads = 0; heads < 2 && !found; heads++)
		for (int i = 0; i < nz && !found; i++)
			if (z[i].tensors == n &&
			    (heads ? z[i].names_fp == names_fp && z[i].fp != fp : z[i].fp == fp))
				found = try_entry(dir, &z[i], path, names, tensors, n, tree, heads);
	free_entries(z, nz);
	free(dir);
	return found;
}

struct model *zoo_open_tensors(const char *path, const char *const *names,
                               const struct tensor *const *tensors, int n, struct error *e)
{
	struct model *m = zoo_match(path, names, tensors, n, NULL);
	if (m)
		return m;
	m = model_from_tensor_names(path, names, tensors, n);
	char *copy = xstrdup(path);
	m->note = xasprintf("%s: no zoo architecture has these tensor names and shapes: the tree "
	                    "comes from the names and the forward is unknown",
	                    basename(copy));
	free(copy);
	return m;
}

int zoo_write_index(const char *dir, int *count, struct error *e)
{
	int nz;
	struct zoo_entry *z = list_dir(dir, &nz);
	if (!z && !is_dir(dir))
		return error_set(e, "%s: not a folder", dir);
	struct strbuf sb = {0};
	strbuf_addf(&sb, "%s\n", ZOO_INDEX_HEADER);
	int listed = 0;
	for (int i = 0; i < nz; i++) {
		struct model *m = load_zoo_model(dir, z[i].file, e);
		if (!m) {
			free_entries(z, nz);
			strbuf_free(&sb);
			return -1;
		}
		fingerprint_model(m, &z[i]);
		model_free(m);
		strbuf_addf(&sb, "%s %lld %d %016llx %016llx\n", z[i].file, z[i].bytes,
		            z[i].tensors, (unsigned long long)z[i].fp,
		            (unsigned long long)z[i].names_fp);
		listed++;
	}
	free_entries(z, nz);
	char *path = xasprintf("%s/%s", dir, ZOO_INDEX);
	int rc = save_file_atomic(path, sb.s, sb.len, 0, e);
	strbuf_free(&sb);
	free(path);
	if (count)
		*count = listed;
	return rc;
}
