/* model_folder.h - a Hugging Face hub-style model folder as one model: a
 * row of the format table (format.h).
 *
 * The folder's weights are the first of these it holds (the order the
 * transformers library looks for them in):
 *
 *   model.safetensors              one safetensors file
 *   model.safetensors.index.json   a shard index (hub_json.h) naming the
 *                                  safetensors files that hold the tensors
 *   pytorch_model.bin              one PyTorch checkpoint
 *   pytorch_model.bin.index.json   a shard index naming PyTorch checkpoints
 *
 * Every file read must be a regular file inside the folder, symlinks
 * resolved. Each shard must hold exactly the tensors the index puts in it.
 * The tensors take an architecture as a single file's do (zoo.h); a single
 * file opens as its format's row opens it. config.json, when the folder
 * has one, becomes m->config. */
#ifndef GRAFT_MODEL_FOLDER_H
#define GRAFT_MODEL_FOLDER_H

#include "core/error.h"
#include "core/model.h"

/* Opens the folder at path as a model; m->note names the weights file or
 * index read, and why config.json is not shown when it cannot be. NULL
 * with e set to a message that names the folder or the file, the tensor
 * and the problem: "m/model.safetensors.index.json: shard
 * 'model-00002-of-00002.safetensors' does not exist". */
struct model *folder_model_open(const char *path, struct error *e);

/* Binds the folder's tensors to m's architecture, checked by
 * model_bind_tensors. 0 or -1 with e set. */
int folder_model_attach(struct model *m, const char *path, struct error *e);

#endif
