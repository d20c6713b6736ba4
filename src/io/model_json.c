/* model_json.c - graft architecture files as models, and models written as
 * an architecture with its weights beside it. */
#include "io/model_json.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The folder of the file path names, symlinks followed: an architecture's
 * weights sit beside the document itself, wherever a link to it is. */
static char *dir_of(const char *path)
{
	char *real = realpath(path, NULL);
	char *copy = real ? real : xstrdup(path);
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

/* The "weights" the architecture now at path names, or NULL (no file,
 * not an architecture, no weights). */
static char *weights_named_at(const char *path)
{
	struct error ignored = {0};
	size_t len;
	char *text = read_file(path, &len, &ignored);
	if (!text)
		return NULL;
	struct json_value *doc = json_parse(text, len, &len);
	const struct json_value *w = doc ? json_member(doc, "weights") : NULL;
	char *named = w && json_kind(w) == JSON_STRING ? xstrdup(json_text(w)) : NULL;
	json_free(doc);
	free(text);
	return named;
}

/* 0 when the weights of the .json at path may be written to weights
 * (named weights_name in the document), or -1 with e set: never over the
 * files m was opened from (unless the .json is itself rewritten in place),
 * and over another existing file only with SAVE_FORCE or when the .json
 * there now names it (the pair a save wrote before). */
static int check_weights_target(const struct model *m, const char *path, const char *weights,
				const char *weights_name, unsigned flags, struct error *e)
{
	if (access(weights, F_OK) != 0)
		return 0;
	bool in_place = path_same_file(path, m->path);
	if (path_same_file(weights, m->path) ||
	    (!in_place && path_same_file(weights, m->weights_path)))
		return error_set(e, "%s: its weights would be written beside it to %s, the model opened; give the .json another name",
				 path, weights);
	if (flags & SAVE_FORCE)
		return 0;
	char *named = weights_named_at(path);
	bool pair = named && strcmp(named, weights_name) == 0;
	free(named);
	if (!pair)
		return error_set(e, "%s: its weights would replace %s, which exists and is not this .json's; give the .json another name, or use --force",
				 path, weights);
	return 0;
}

int json_model_save(const struct model *m, const char *path, unsigned flags, struct error *e)
{
	if (!m->has_forward)
		return error_set(e, "%s: the forward is unknown, so there is no architecture to write; save as .safetensors or .pth",
				 path);
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	bool with_weights = m->has_weights && n > 0;
	struct save_file arch_file, weights_file;
	char *weights = NULL;
	int rc = -1;
	if (with_weights && save_check_storage(names, tensors, n, path, e) < 0)
		goto out;
	if (save_begin(&arch_file, path, flags, e) < 0)
		goto out;
	/* the weights go beside the file the .json lands in (a symlink's
	 * target), named relative to it */
	const char *target = arch_file.target;
	if (with_weights) {
		size_t stem = strlen(target) - (str_ends_with(target, ".json") ? 5 : 0);
		weights = xasprintf("%.*s.safetensors", (int)stem, target);
	}
	const char *slash = weights ? strrchr(weights, '/') : NULL;
	const char *weights_name = !weights ? NULL : slash ? slash + 1 : weights;
	if (with_weights && (check_weights_target(m, path, weights, weights_name, flags, e) < 0 ||
			     save_begin(&weights_file, weights, flags, e) < 0)) {
		save_abort(&arch_file);
		goto out;
	}
	char *arch = json_save_model(m, weights_name);
	rc = save_write(&arch_file, arch, strlen(arch), e);
	free(arch);
	if (rc == 0)
		rc = save_write(&arch_file, "\n", 1, e);
	if (rc == 0 && with_weights)
		rc = st_write_to(&weights_file, (const char *const *)names, tensors, n, NULL, 0, e);
	if (!with_weights) {
		rc = save_end(&arch_file, rc, e);
	} else if (rc < 0) {
		save_abort(&arch_file);
		save_abort(&weights_file);
	} else {
		/* the weights land first: a .json never names weights not there */
		rc = save_commit_pair(&weights_file, &arch_file, e);
	}
out:
	free(weights);
	save_state_dict_free(names, tensors, n);
	return rc;
}
