/* model_safetensors.h - safetensors files (io_safetensors.h) as a row of
 * the format table (format.h): a bundle (tensors with the architecture in
 * __metadata__["graft"]) or plain tensors as a model, a file as the weights
 * of an architecture, a model written as a bundle. */
#ifndef GRAFT_MODEL_SAFETENSORS_H
#define GRAFT_MODEL_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/model.h"

/* True for a file that starts with a little-endian 8-byte header length
 * that fits in its `size` bytes, followed by '{'. */
bool st_recognise(const unsigned char *head, size_t n, unsigned long long size);

/* Opens a bundle as its architecture, with no storage and the file as its
 * weights_path (format_open binds it); plain tensors as the zoo model with
 * the same names and shapes, or the tree from the names (zoo.h), bound.
 * NULL with e set. */
struct model *st_model_open(const char *path, struct error *e);

/* Binds the file's tensors to m's architecture, checked by
 * model_bind_tensors. 0 or -1 with e set. */
int st_model_attach(struct model *m, const char *path, struct error *e);

/* Writes m as a bundle; every tensor must have values. 0 or -1 with e set. */
int st_model_save(const struct model *m, const char *path, unsigned flags, struct error *e);

#endif
