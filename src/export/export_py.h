/* export_py.h - a model as a Python file that needs only torch.
 *
 * The file has one nn.Module class per composite type (BasicBlock,
 * FusedReLU, ...), whose __init__ builds its children and whose forward is
 * Python code written from the forward graph (or the chain of children),
 * then the root class and load(weights=None). Module types graft knows
 * become torch.nn constructors; the few that come from torchvision
 * (LayerNorm2d, StochasticDepth, Permute) and the functions torchvision
 * wraps for tracing (shifted_window_attention, ...) get small local
 * implementations, so the file imports nothing but torch.
 *
 * Composites of one type whose code differs only in constants (channel
 * counts, strides, a window shift) share a class whose constructor takes
 * the constants that vary, BasicBlock(64, 128); composites of one type name
 * with different structure get distinct class names (BasicBlock,
 * BasicBlock_2). The state_dict keys of the built module are
 * graft's tensor names, so load() reads the weights with strict=True, from
 * a .safetensors file (with a small reader in the file itself) or a .pth
 * (torch.load with weights_only=True). */
#ifndef GRAFT_EXPORT_PY_H
#define GRAFT_EXPORT_PY_H

#include "core/error.h"
#include "core/model.h"

/* Writes m as Python to `path` atomically. -1 with e set when the forward
 * is unknown or the model uses something graft cannot express. */
int export_py_write(const struct model *m, const char *path, struct error *e);
/* The same text, malloc'd; NULL with e set. */
char *export_py_text(const struct model *m, struct error *e);

/* For export_py.c: the helpers written when a model uses them
 * (export_py_text.c). */
extern const char export_py_layernorm2d[], export_py_stochastic[], export_py_permute[],
    export_py_patch_pad[], export_py_rel_bias[], export_py_swin[], export_py_sdpa[],
    export_py_shuffle[], export_py_index_pyramid[], export_py_read_safetensors[];
extern const char export_py_frozen_bn[], export_py_detection[];
extern const char export_py_mvit_dims[], export_py_mvit_rel_pos[], export_py_mvit_shortcut[];
/* The one-stage detectors' parts (export_py_onestage.c). */
extern const char export_py_default_boxes[], export_py_onestage_postprocess[];

#endif
