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

#endif
