/* save.c - saving models atomically as JSON (+ weights) or bundles. */
#include "io/save.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io_json.h"
#include "io/io_pth.h"
#include "io/io_safetensors.h"
#include "io/model_pth.h"
#include "core/util.h"

struct sd_ctx {
	char **names;
	const struct tensor **tensors;
	int n, cap;
};

static int collect_tensors(struct module *m, void *vctx)
{
	struct sd_ctx *c = vctx;
	char path[4096];
	module_path_buf(m, path, sizeof path);
	for (int i = 0; i < m->nparams; i++) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 64;
			c->names = xrealloc(c->names, (size_t)c->cap * sizeof *c->names);
			c->tensors = xrealloc(c->tensors, (size_t)c->cap * sizeof *c->tensors);
		}
		c->names[c->n] = path[0] ? xasprintf("%s.%s", path, m->params[i].name)
					 : xstrdup(m->params[i].name);
		c->tensors[c->n] = &m->params[i].t;
		c->n++;
	}
	return 0;
}

int model_state_dict(const struct model *m, char ***names, const struct tensor ***tensors)
{
	struct sd_ctx c = {0};
	module_walk(m->root, collect_tensors, &c);
	*names = c.names;
	*tensors = c.tensors;
	return c.n;
}

static void free_state_dict(char **names, const struct tensor **tensors, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tensors);
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

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int save_file_atomic(const char *path, const char *data, size_t len, struct error *e)
{
	char *tmp = xasprintf("%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		error_set(e, "%s: cannot create a temporary file: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	fchmod(fd, 0644);
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int ok = off == len && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		if (ok)
			saved = errno;
		unlink(tmp);
		error_set(e, "%s: cannot write: %s", path, strerror(saved));
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

static int check_storage(const struct tensor **tensors, char **names, int n, const char *path,
			 struct error *e)
{
	for (int i = 0; i < n; i++)
		if (!tensors[i]->storage)
			return error_set(e, "%s: tensor '%s' has no values (the model has no weights; save the architecture as .json)",
					 path, names[i]);
	return 0;
}

int model_save(const struct model *m, const char *path, struct error *e)
{
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	int rc = -1;
	if (ends_with(path, ".safetensors")) {
		if (check_storage(tensors, names, n, path, e) < 0)
			goto out;
		char *arch = json_save_model(m, NULL);
		struct st_meta meta = {.key = "graft", .value = arch};
		rc = st_write(path, (const char *const *)names, tensors, n, &meta, 1, e);
		free(arch);
	} else if (pth_path(path)) {
		if (check_storage(tensors, names, n, path, e) < 0)
			goto out;
		struct versions v = {0};
		module_walk(m->root, collect_versions, &v);
		rc = pth_write(path, (const char *const *)names, tensors, n, v.list, v.n, e);
		for (int i = 0; i < v.n; i++)
			free((char *)v.list[i].path);
		free(v.list);
	} else if (ends_with(path, ".json")) {
		char *weights = NULL, *weights_name = NULL;
		if (m->has_weights && n > 0) {
			if (check_storage(tensors, names, n, path, e) < 0)
				goto out;
			weights = xasprintf("%.*s.safetensors", (int)(strlen(path) - 5), path);
			const char *slash = strrchr(weights, '/');
			weights_name = xstrdup(slash ? slash + 1 : weights);
			if (st_write(weights, (const char *const *)names, tensors, n, NULL, 0, e) < 0) {
				free(weights);
				free(weights_name);
				goto out;
			}
		}
		char *arch = json_save_model(m, weights_name);
		size_t len = strlen(arch);
		arch = xrealloc(arch, len + 2);
		arch[len++] = '\n';
		arch[len] = '\0';
		rc = save_file_atomic(path, arch, len, e);
		free(arch);
		free(weights);
		free(weights_name);
	} else {
		error_set(e, "%s: unknown format: save as .json (architecture + weights), .safetensors (bundle) or .pth (PyTorch state_dict)",
			  path);
	}
out:
	free_state_dict(names, tensors, n);
	return rc;
}
