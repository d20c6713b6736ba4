/* io_json.h - the graft JSON architecture format (doc/format.md). */
#ifndef GRAFT_IO_JSON_H
#define GRAFT_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/model.h"

/* Parses an architecture document of n bytes. `where` names its source in
 * messages ("resnet18.json"). The model has shapes for every tensor and no
 * storage; its weights path (if the document names one) is resolved against
 * `dir` (may be NULL). NULL with e set: "WHERE: module 'layer1.0': ...". */
struct model *json_load_model(const char *text, size_t n, const char *where, const char *dir,
			      struct error *e);

/* Serialises m's architecture; `weights` (may be NULL) is written as the
 * "weights" key. Returns a malloc'd, NUL-terminated document. */
char *json_save_model(const struct model *m, const char *weights);

/* The row of the format table (format.h) for architecture files: */
/* True when the first non-blank byte is '{'. */
bool json_recognise(const unsigned char *head, size_t n, unsigned long long size);
/* Reads an architecture file; the weights file it names is resolved
 * against the file's folder and left for format_open to bind. NULL with
 * e set: "PATH: ...". */
struct model *json_model_open(const char *path, struct error *e);
/* Writes m's architecture to path; when m has weights, they go to
 * STEM.safetensors beside it, named in the document. Both atomically.
 * 0, or -1 with e set. */
int json_model_save(const struct model *m, const char *path, struct error *e);

#endif
