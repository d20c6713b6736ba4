/* save.c - what every format writer shares: the state_dict, a check that
 * it has values, and the atomic file write. */
#include "io/save.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void save_state_dict_free(char **names, const struct tensor **tensors, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tensors);
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

int save_check_storage(char **names, const struct tensor **tensors, int n, const char *path,
		       struct error *e)
{
	for (int i = 0; i < n; i++) {
		if (!tensors[i]->storage)
			return error_set(e, "%s: tensor '%s' has no values (the model has no weights; save the architecture as .json)",
					 path, names[i]);
		if (!storage_file_unchanged(tensors[i]->storage))
			return error_set(e, "%s: tensor '%s': " STORAGE_CHANGED, path, names[i]);
	}
	return 0;
}
