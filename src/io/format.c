/* format.c - the table of model file formats, recognising a file, and
 * opening, binding and saving through its row. */
#include "io/format.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "io/model_folder.h"
#include "io/model_json.h"
#include "io/model_pth.h"
#include "io/model_safetensors.h"

static const char *const json_extensions[] = {".json", NULL};
static const char *const safetensors_extensions[] = {".safetensors", NULL};
static const char *const pth_extensions[] = {".pth", ".pt", ".bin", ".ckpt", NULL};
static const char *const no_extensions[] = {NULL};

/* Checked in this order: safetensors before JSON, whose '{' can also be
 * the first byte of a safetensors header length. */
static const struct format formats[] = {
    {"safetensors", safetensors_extensions, st_recognise, st_model_open, st_model_attach,
     st_model_save},
    {"pth", pth_extensions, pth_recognise, pth_model_open, pth_model_attach, pth_model_save},
    {"json", json_extensions, json_recognise, json_model_open, NULL, json_model_save},
    {"folder", no_extensions, NULL, folder_model_open, folder_model_attach, NULL},
};
#define NFORMATS (sizeof formats / sizeof formats[0])

const struct format *format_by_name(const char *path)
{
	for (size_t i = 0; i < NFORMATS; i++)
		for (const char *const *ext = formats[i].extensions; *ext; ext++)
			if (str_ends_with(path, *ext))
				return &formats[i];
	return NULL;
}

const struct format *format_recognise(const char *path)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	bool known = fd >= 0 && fstat(fd, &st) == 0;
	bool is_file = known && S_ISREG(st.st_mode), is_folder = known && S_ISDIR(st.st_mode);
	unsigned char head[FORMAT_HEAD_BYTES];
	ssize_t n = is_file ? read(fd, head, sizeof head) : -1;
	for (size_t i = 0; (is_folder || n >= 0) && i < NFORMATS; i++)
		if (is_folder ? !formats[i].recognise
			      : formats[i].recognise &&
				    formats[i].recognise(head, (size_t)n, (unsigned long long)st.st_size)) {
			close(fd);
			return &formats[i];
		}
	if (fd >= 0)
		close(fd);
	return format_by_name(path);
}

/* 0 when the weights an architecture at doc names, symlinks resolved, lie
 * in doc's folder, or -1 with e set. A missing file passes: opening it
 * reports that. */
static int check_weights_inside(const char *doc, const char *weights, struct error *e)
{
	/* the document's own folder, wherever a link to it is */
	char *real_doc = realpath(doc, NULL);
	char *doc_copy = real_doc ? real_doc : xstrdup(doc);
	bool outside = path_place(weights, dirname(doc_copy)) == PATH_OUTSIDE;
	free(doc_copy);
	if (outside)
		return error_set(e, "%s: its weights file %s leads outside the architecture's folder (pass it with --weights to use it)",
				 doc, weights);
	return 0;
}

int format_attach_weights(struct model *m, const char *path, struct error *e)
{
	const struct format *f = format_recognise(path);
	if (!f || !f->attach)
		return error_set(e, "%s: not a weights file (graft reads weights from .safetensors, PyTorch .pth/.pt files and model folders)",
				 path);
	if (f->attach(m, path, e) < 0)
		return -1;
	if (!m->weights_path || strcmp(m->weights_path, path) != 0) {
		free(m->weights_path);
		m->weights_path = xstrdup(path);
	}
	return 0;
}

struct model *format_open(const char *path, const char *weights, struct error *e)
{
	const struct format *f = format_recognise(path);
	if (!f || !f->open) {
		error_set(e, "%s: unknown model format (graft opens .json architectures, .safetensors, PyTorch .pth/.pt files and model folders)",
			  path);
		return NULL;
	}
	struct model *m = f->open(path, e);
	if (!m)
		return NULL;
	/* the override, or the weights file an architecture names */
	const char *w = weights ? weights : !m->has_weights ? m->weights_path : NULL;
	if (w && !weights && check_weights_inside(path, w, e) < 0) {
		model_free(m);
		return NULL;
	}
	if (w) {
		char *copy = xstrdup(w); /* binding replaces m->weights_path */
		int rc = format_attach_weights(m, copy, e);
		free(copy);
		if (rc < 0) {
			model_free(m);
			return NULL;
		}
	}
	free(m->path);
	m->path = xstrdup(path);
	return m;
}

/* True when path, or the folder a new file at path would be created in,
 * lies in the folder dir. */
static bool lands_in(const char *path, const char *dir)
{
	enum path_place place = path_place(path, dir);
	if (place != PATH_MISSING)
		return place == PATH_INSIDE;
	char *copy = xstrdup(path);
	const char *parent = dirname(copy);
	bool inside = path_same_file(parent, dir) || path_place(parent, dir) == PATH_INSIDE;
	free(copy);
	return inside;
}

int format_save(const struct model *m, const char *path, unsigned flags, struct error *e)
{
	struct stat st;
	if (str_ends_with(path, "/") || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
		return error_set(e, "%s: a folder: graft saves a model as one file, .json (architecture + weights), .safetensors (bundle) or .pth (PyTorch state_dict), not as a model folder",
				 path);
	/* a model folder's files (its shards) are the model opened */
	if (m->path && stat(m->path, &st) == 0 && S_ISDIR(st.st_mode) && lands_in(path, m->path))
		return error_set(e, "%s: inside the model folder opened (%s); save elsewhere",
				 path, m->path);
	const struct format *f = format_by_name(path);
	if (!f || !f->save)
		return error_set(e, "%s: unknown format: save as .json (architecture + weights), .safetensors (bundle) or .pth (PyTorch state_dict)",
				 path);
	return f->save(m, path, flags, e);
}
