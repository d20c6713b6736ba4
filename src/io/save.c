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

/* The file path names, symlinks followed (also dangling ones, whose
 * target a save creates), or NULL with e set after too many hops. */
static char *follow_links(const char *path, struct error *e)
{
	char *p = xstrdup(path);
	for (int hops = 0; hops < 40; hops++) {
		struct stat st;
		char link[4096];
		ssize_t n;
		if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode) ||
		    (n = readlink(p, link, sizeof link - 1)) < 0)
			return p;
		link[n] = '\0';
		const char *slash = strrchr(p, '/');
		char *next = link[0] == '/' || !slash
				 ? xstrdup(link)
				 : xasprintf("%.*s%s", (int)(slash - p + 1), p, link);
		free(p);
		p = next;
	}
	free(p);
	error_set(e, "%s: too many levels of symbolic links", path);
	return NULL;
}

static mode_t default_file_mode(void)
{
	mode_t mask = umask(022);
	umask(mask);
	return 0666 & ~mask;
}

int save_begin(struct save_file *sf, const char *path, unsigned flags, struct error *e)
{
	memset(sf, 0, sizeof *sf);
	char *target = follow_links(path, e);
	if (!target)
		return -1;
	struct stat st;
	int rc = 0;
	if (stat(target, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			rc = error_set(e, "%s: is a folder; give a file name", path);
		else if (!S_ISREG(st.st_mode))
			rc = error_set(e, "%s: is not a regular file; graft writes only regular files",
				       path);
		else if (!(flags & SAVE_FORCE) &&
			 (access(target, W_OK) != 0 || !(st.st_mode & 0222)))
			rc = error_set(e, "%s: the file is read-only (--force, or save! in the editor, replaces it)",
				       path);
		sf->existed = true;
		sf->mode = st.st_mode & 07777;
	} else if (errno != ENOENT) {
		rc = error_set(e, "%s: %s", path, strerror(errno));
	} else {
		sf->mode = default_file_mode();
	}
	if (rc < 0) {
		free(target);
		return -1;
	}
	char *tmp = xasprintf("%s.tmpXXXXXX", target);
	int fd = mkstemp(tmp);
	FILE *fp = fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 ? fdopen(fd, "wb") : NULL;
	if (!fp) {
		error_set(e, "%s: cannot create a temporary file beside it: %s", path,
			  strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		free(target);
		return -1;
	}
	sf->path = xstrdup(path);
	sf->target = target;
	sf->tmp = tmp;
	sf->fp = fp;
	return 0;
}

int save_write(struct save_file *sf, const void *data, size_t len, struct error *e)
{
	if (len && fwrite(data, 1, len, sf->fp) != len)
		return error_set(e, "%s: cannot write: %s", sf->path, strerror(errno ? errno : EIO));
	return 0;
}

static void save_free(struct save_file *sf)
{
	if (sf->fp)
		fclose(sf->fp);
	free(sf->path);
	free(sf->target);
	free(sf->tmp);
	memset(sf, 0, sizeof *sf);
}

void save_abort(struct save_file *sf)
{
	if (sf->tmp)
		unlink(sf->tmp);
	save_free(sf);
}

/* Closes the temporary and makes its bytes durable with the final mode.
 * The bytes are synced through the name, not the stream: a writer may
 * have replaced the temporary by name (libzip writes a new file). */
static int seal(struct save_file *sf, struct error *e)
{
	int err = 0;
	if (fflush(sf->fp) != 0)
		err = errno;
	if (fclose(sf->fp) != 0 && !err)
		err = errno;
	sf->fp = NULL;
	int fd = err ? -1 : open(sf->tmp, O_RDONLY | O_CLOEXEC);
	if (!err && (fd < 0 || fchmod(fd, sf->mode) != 0 || fsync(fd) != 0))
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err)
		return error_set(e, "%s: cannot write: %s", sf->path, strerror(err));
	return 0;
}

/* Makes a rename in target's folder durable; failing here loses nothing. */
static void sync_folder_of(const char *target)
{
	const char *slash = strrchr(target, '/');
	char *dir = !slash ? xstrdup(".")
		    : slash == target ? xstrdup("/")
				      : xstrndup(target, (size_t)(slash - target));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

static int land(struct save_file *sf, struct error *e)
{
	if (rename(sf->tmp, sf->target) != 0)
		return error_set(e, "%s: cannot write: %s", sf->path, strerror(errno));
	sync_folder_of(sf->target);
	return 0;
}

int save_commit(struct save_file *sf, struct error *e)
{
	if (seal(sf, e) < 0 || land(sf, e) < 0) {
		save_abort(sf);
		return -1;
	}
	save_free(sf);
	return 0;
}

/* A second name for target's old file, so it can be put back, or NULL
 * when there is none or the file system has no hard links. */
static char *keep_old(const struct save_file *sf)
{
	if (!sf->existed)
		return NULL;
	for (int i = 0; i < 100; i++) {
		char *name = xasprintf("%s.old%ld.%d", sf->target, (long)getpid(), i);
		if (link(sf->target, name) == 0)
			return name;
		free(name);
		if (errno != EEXIST)
			break;
	}
	return NULL;
}

int save_commit_pair(struct save_file *first, struct save_file *second, struct error *e)
{
	if (seal(first, e) < 0 || seal(second, e) < 0) {
		save_abort(first);
		save_abort(second);
		return -1;
	}
	char *old = keep_old(first);
	int rc = land(first, e);
	if (rc < 0) {
		save_abort(first);
	} else if (land(second, e) < 0) {
		/* put the first back as it was */
		if (old ? rename(old, first->target) != 0 : unlink(first->target) != 0) {
			struct error put_back = {0};
			error_set(&put_back, "%s could not be put back: %s", first->path,
				  strerror(errno));
			error_prefix(e, "%s", put_back.msg);
		}
		save_free(first);
		rc = -1;
	} else {
		save_free(first);
	}
	if (old) {
		unlink(old);
		free(old);
	}
	if (rc < 0)
		save_abort(second);
	else
		save_free(second);
	return rc;
}

int save_end(struct save_file *sf, int rc, struct error *e)
{
	if (rc == 0)
		return save_commit(sf, e);
	save_abort(sf);
	return -1;
}

int save_file_atomic(const char *path, const char *data, size_t len, unsigned flags,
		     struct error *e)
{
	struct save_file sf;
	if (save_begin(&sf, path, flags, e) < 0)
		return -1;
	return save_end(&sf, save_write(&sf, data, len, e), e);
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
