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
#include "core/util.h"

#define ZOO_INDEX        "index.txt"
#define ZOO_INDEX_HEADER "# graft zoo index 1: FILE BYTES TENSORS FINGERPRINT"

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

uint64_t zoo_fingerprint(const char *const *names, const struct tensor *const *tensors, int n)
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
		int64_t dims[SHAPE_MAX_DIMS + 1];
		dims[0] = items[i].shape->ndim;
		for (int d = 0; d < items[i].shape->ndim; d++)
			dims[d + 1] = items[i].shape->dim[d];
		for (int d = 0; d <= items[i].shape->ndim; d++)
			for (int b = 0; b < 8; b++)
				buf[len++] = (unsigned char)((uint64_t)dims[d] >> (8 * b));
		h = fnv(h, buf, len);
	}
	free(items);
	return h;
}

/* One architecture of the zoo folder. */
struct zoo_entry {
	char *file;
	long long bytes;
	int tensors;
	uint64_t fp;
	bool listed; /* from the index */
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
		unsigned long long fp;
		if (line[0] == '#' ||
		    sscanf(line, "%511s %lld %d %llx", file, &bytes, &tensors, &fp) != 4)
			continue;
		struct zoo_entry key = {.file = file};
		struct zoo_entry *hit =
		    n ? bsearch(&key, z, (size_t)n, sizeof *z, cmp_entry) : NULL;
		if (hit && hit->bytes == bytes) {
			hit->tensors = tensors;
			hit->fp = fp;
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

static void fingerprint_model(const struct model *m, uint64_t *fp, int *count)
{
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	*fp = zoo_fingerprint((const char *const *)names, tensors, n);
	*count = n;
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

struct model *zoo_match(const char *path, const char *const *names,
                        const struct tensor *const *tensors, int n, const struct module *tree)
{
	char *dir = zoo_dir();
	if (!dir)
		return NULL;
	int nz;
	struct zoo_entry *z = list_dir(dir, &nz);
	read_index(dir, z, nz);
	uint64_t fp = zoo_fingerprint(names, tensors, n);
	struct model *found = NULL;
	for (int i = 0; i < nz && !found; i++) {
		struct error e = {0};
		struct model *m = NULL;
		if (!z[i].listed) {
			m = load_zoo_model(dir, z[i].file, &e);
			if (!m)
				continue;
			fingerprint_model(m, &z[i].fp, &z[i].tensors);
		}
		if (z[i].fp != fp || z[i].tensors != n) {
			model_free(m);
			continue;
		}
		if (!m && !(m = load_zoo_model(dir, z[i].file, &e)))
			continue;
		struct type_check tc = {.tree = tree, .ok = true};
		if (tree)
			module_walk(m->root, same_type, &tc);
		if (!tc.ok || !m->has_forward ||
		    model_bind_tensors(m, names, tensors, n, path, &e) < 0) {
			model_free(m);
			continue;
		}
		char *copy = xstrdup(path), *dcopy = xstrdup(dir);
		m->note =
		    xasprintf("%s: matches %s/%s", basename(copy), basename(dcopy), z[i].file);
		free(copy);
		free(dcopy);
		free(m->weights_path);
		m->weights_path = xstrdup(path);
		found = m;
	}
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
		fingerprint_model(m, &z[i].fp, &z[i].tensors);
		model_free(m);
		strbuf_addf(&sb, "%s %lld %d %016llx\n", z[i].file, z[i].bytes, z[i].tensors,
		            (unsigned long long)z[i].fp);
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
