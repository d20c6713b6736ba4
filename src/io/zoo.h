/* zoo.h - the shipped architectures (models/NAME.json) as a catalogue that
 * bare checkpoints are matched against.
 *
 * A checkpoint without an architecture (a state_dict .pth, plain
 * .safetensors) takes the architecture of the zoo model that declares
 * exactly its tensor names with the same shapes. The zoo folder is
 * $GRAFT_MODELS, else the installed $(pkgdatadir)/models, else models/
 * beside the executable (an uninstalled build).
 *
 * Matching compares fingerprints: a 64-bit hash of the sorted tensor names
 * and their shapes. The zoo's are kept in DIR/index.txt (written by
 * zoo_write_index, `graft convert --index DIR`), one line per architecture:
 * "FILE BYTES TENSORS FINGERPRINT"; a file that is not listed, or whose
 * size differs from the one listed, is loaded and fingerprinted on the
 * spot. A fingerprint match is confirmed by binding the tensors to the
 * architecture, with every name and shape checked. */
#ifndef GRAFT_ZOO_H
#define GRAFT_ZOO_H

#include <stdint.h>

#include "core/error.h"
#include "core/model.h"
#include "core/module.h"

/* The zoo folder, malloc'd, or NULL when there is none. */
char *zoo_dir(void);

/* The fingerprint of n named tensors (the order does not matter). */
uint64_t zoo_fingerprint(const char *const *names, const struct tensor *const *tensors, int n);

/* The zoo architecture whose tensors are exactly these names and shapes
 * (and, when `tree` is given, whose modules have the same paths and
 * types), bound to the tensors, with m->note "FILE: matches models/X.json"
 * (FILE is the base name of `path`). NULL when nothing matches. */
struct model *zoo_match(const char *path, const char *const *names,
                        const struct tensor *const *tensors, int n, const struct module *tree);

/* The model for plain tensors read from `path`: zoo_match, or else the tree
 * from the names (model_from_tensor_names) with a note saying that the
 * forward is unknown. */
struct model *zoo_open_tensors(const char *path, const char *const *names,
                               const struct tensor *const *tensors, int n, struct error *e);

/* Writes DIR/index.txt for the architectures DIR/NAME.json, atomically.
 * *count gets the number listed. 0, or -1 with e set. */
int zoo_write_index(const char *dir, int *count, struct error *e);

#endif
