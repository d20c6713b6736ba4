/* model_pth.h - models from PyTorch checkpoints (io_pth.h): opening a
 * .pth/.pt as a model, and using one as the weights of an architecture. */
#ifndef GRAFT_MODEL_PTH_H
#define GRAFT_MODEL_PTH_H

#include <stdbool.h>

#include "core/error.h"
#include "core/model.h"

/* True for the names graft reads as PyTorch checkpoints: .pth, .pt, .bin
 * (pytorch_model.bin) and .ckpt. */
bool pth_path(const char *path);

/* Opens a checkpoint as a model. A state_dict, or a pickled module whose
 * tensors and module types are those of a zoo architecture, takes that
 * architecture (zoo.h); any other pickled module gives its own tree and
 * any other state_dict the tree from its names, both without a forward.
 * m->note says which, and mentions an older-format file, a state_dict
 * taken from a training checkpoint and non-contiguous tensors copied.
 * `weights` (may be NULL) then replaces the tensors. NULL with e set. */
struct model *model_open_pth(const char *path, const char *weights, struct error *e);

/* model_attach_weights for a checkpoint: its state_dict (or the tensors
 * of its pickled module) checked against m's architecture and bound. */
int pth_attach_weights(struct model *m, const char *path, struct error *e);

#endif
