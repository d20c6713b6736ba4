/* model_json.c - graft architecture files as models, and models written as
 * an architecture with its weights beside it. */
#include "io/model_json.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "io/io_json.h"
#include "io/io_safetensors.h"
#include "io/save.h"

/* Largest architecture document graft reads (the largest zoo model is well
 * under a megabyte). */
#define JSON_MAX_BYTES (256u << 20)

bool json_recognise(const unsigned char *head, size_t n, unsigned long long size)
{
	(void)size;
	size_t i = 0;
	while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r'))
		i++;
	return i < n && head[i] == '{';
}

static char *dir_of(const char *path)
{
	char *copy = xstrdup(path);
	char *d = xstrdup(dirname(copy));
	free(copy);
	return d;
}

static char *read_file(const char *path, size_t *len, struct error *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		error_set(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		error_set(e, "%s: not a regular file", path);
		fclose(f);
		return NULL;
	}
	if ((uint64_t)st.st_size > JSON_MAX_BYTES) {
		error_set(e, "%s: %lld bytes is too large for an architecture file", path,
			  (long long)st.st_size);
		fclose(f);
		return NULL;
	}
	char *buf = xmalloc((size_t)st.st_size + 1);
	size_t n = fread(buf, 1, (size_t)st.st_size, f);
	int err = ferror(f);
	fclose(f);
	if (err || n != (size_t)st.st_size) {
		error_set(e, "%s: read error", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

struct model *json_model_open(const char *path, struct error *e)
{
	size_t len;
	char *text = read_file(path, &len, e);
	if (!text)
		return NULL;
	char *dir = dir_of(path);
	struct model *m = json_load_model(text, len, path, dir, e);
	free(dir);
	free(text);
	return m;
}

int json_model_save(const struct model *m, const char *path, struct error *e)
{
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	int rc = -1;
	char *weights = NULL, *weights_name = NULL;
	if (m->has_weights && n > 0) {
		if (save_check_storage(names, tensors, n, path, e) < 0)
			goto out;
		weights = xasprintf("%.*s.safetensors", (int)(strlen(path) - 5), path);
		const char *slash = strrchr(weights, '/');
		weights_name = xstrdup(slash ? slash + 1 : weights);
		if (st_write(weights, (const char *const *)names, tensors, n, NULL, 0, e) < 0)
			goto out;
	}
	char *arch = json_save_model(m, weights_name);
	size_t len = strlen(arch);
	arch = xrealloc(arch, len + 2);
	arch[len++] = '\n';
	arch[len] = '\0';
	rc = save_file_atomic(path, arch, len, e);
	free(arch);
out:
	free(weights);
	free(weights_name);
	save_state_dict_free(names, tensors, n);
	return rc;
}
