/* model_pth.h - PyTorch checkpoints (io_pth.h) as a row of the format
 * table (format.h): opening a .pth/.pt as a model, using one as the
 * weights of an architecture, writing a model's state_dict. */
#ifndef GRAFT_MODEL_PTH_H
#define GRAFT_MODEL_PTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/model.h"

/* True for the first bytes torch.save writes: a zip archive (PyTorch 1.6
 * and later) or a protocol 2 pickle (the older format). */
bool pth_recognise(const unsigned char *head, size_t n, unsigned long long size);

/* Opens a checkpoint as a model. A state_dict, or a pickled module whose
 * tensors and module types are those of a zoo architecture, takes that
 * architecture (zoo.h); any other pickled module gives its own tree and
 * any other state_dict the tree from its names, both without a forward.
 * m->note says which, and mentions an older-format file, a state_dict
 * taken from a training checkpoint and non-contiguous tensors copied.
 * NULL with e set. */
struct model *pth_model_open(const char *path, struct error *e);

/* Binds a checkpoint's state_dict (or the tensors of its pickled module)
 * to m's architecture, checked by model_bind_tensors. 0 or -1 with e set. */
int pth_model_attach(struct model *m, const char *path, struct error *e);

/* Writes m's state_dict as torch.save does (io_pth.h), with each module's
 * version in _metadata; every tensor must have values. 0 or -1 with e set. */
int pth_model_save(const struct model *m, const char *path, unsigned flags, struct error *e);

#endif
