/* model_json.h - graft architecture files (io_json.h) as a row of the
 * format table (format.h). */
#ifndef GRAFT_MODEL_JSON_H
#define GRAFT_MODEL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/model.h"

/* True when the first non-blank byte is '{'. */
bool json_recognise(const unsigned char *head, size_t n, unsigned long long size);
/* Reads an architecture file; the weights file it names is resolved
 * against the file's folder and left for format_open to bind. NULL with
 * e set: "PATH: ...". */
struct model *json_model_open(const char *path, struct error *e);
/* Writes m's architecture to path; when m has weights, they go to
 * STEM.safetensors beside it, named in the document. Both atomically.
 * 0, or -1 with e set. */
int json_model_save(const struct model *m, const char *path, unsigned flags, struct error *e);

#endif
