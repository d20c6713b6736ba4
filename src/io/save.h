/* save.h - writing models: architecture JSON, weights, bundles. */
#ifndef GRAFT_SAVE_H
#define GRAFT_SAVE_H

#include "core/error.h"
#include "core/model.h"

/* Saves m to `path`, chosen by its extension:
 *  .json         the architecture; when the model has weights, they go to
 *                STEM.safetensors beside it, named in the JSON;
 *  .safetensors  a bundle: the tensors, with the architecture in
 *                __metadata__["graft"];
 *  .pth, .pt     the state_dict as torch.save writes it (io_pth.h), for
 *                load_state_dict; the architecture is not kept.
 * Tensors are written as they are (dtype and bytes unchanged), in
 * state_dict order. Every file is written atomically (a temporary file in
 * the same folder, then rename). 0, or -1 with e set and nothing replaced. */
int model_save(const struct model *m, const char *path, struct error *e);

/* Writes len bytes to path atomically: a temporary file in the same folder
 * (mode 0644), fsync'd, then renamed over path. 0, or -1 with e set and
 * path untouched. */
int save_file_atomic(const char *path, const char *data, size_t len, struct error *e);

/* The state_dict of m: parallel arrays of malloc'd names and pointers to the
 * tensors in the tree, in PyTorch's order. Returns the count; free the
 * names and both arrays. */
int model_state_dict(const struct model *m, char ***names, const struct tensor ***tensors);

#endif
