/* format.h - the model file formats graft reads and writes, one row each.
 *
 * A file is recognised by its first bytes (format_recognise), and by its
 * extension when no format claims them; the row then opens it as a model,
 * binds it as the weights of an architecture, or writes a model to it.
 * A new format is one io file with these three functions and one row in
 * format.c. */
#ifndef GRAFT_FORMAT_H
#define GRAFT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/model.h"

/* The first bytes graft reads to recognise a file. */
#define FORMAT_HEAD_BYTES 16

struct format {
	const char *name;              /* "safetensors" */
	const char *const *extensions; /* NULL-terminated: ".safetensors" */
	/* True when a file of `size` bytes that starts with head[0..n) is of
	 * this format (n is FORMAT_HEAD_BYTES, or the size when smaller).
	 * NULL for the row of folders, which is chosen for any folder. */
	bool (*recognise)(const unsigned char *head, size_t n, unsigned long long size);
	/* Opens the file as a model. A model without storage whose
	 * weights_path is set gets that file bound by format_open. NULL with
	 * e set. */
	struct model *(*open)(const char *path, struct error *e);
	/* Binds the file's tensors to m's tree, checked by model_bind_tensors.
	 * NULL when the format holds no weights. */
	int (*attach)(struct model *m, const char *path, struct error *e);
	/* Writes m to path atomically (flags: enum save_flags). 0, or -1
	 * with e set. */
	int (*save)(const struct model *m, const char *path, unsigned flags, struct error *e);
};

/* The format of the file at path: a folder is a model folder
 * (model_folder.h); a file is known by its first bytes, else by its name
 * (a file that cannot be read is known by its name only). NULL when
 * neither says. */
const struct format *format_recognise(const char *path);
/* The format whose extension ends path, or NULL. */
const struct format *format_by_name(const char *path);

/* Opens a model file: a .json architecture (with the weights it names), a
 * .safetensors bundle or plain tensors, a PyTorch checkpoint (.pth, .pt,
 * .bin, .ckpt), or a hub-style model folder (model_folder.h). Plain tensors take the architecture of the zoo model with
 * the same names and shapes (zoo.h), or else a tree built from the names,
 * without a forward; m->note says which. `weights` (may be NULL) replaces
 * the file's own weights. NULL with e set; the message names the file. */
struct model *format_open(const char *path, const char *weights, struct error *e);

/* Binds every tensor of the model to the same-named tensor in a weights
 * file (.safetensors, a PyTorch checkpoint, or a model folder), checking names, shapes and
 * dtypes (model_bind_tensors); m->weights_path becomes path. 0 or -1 with
 * e set. */
int format_attach_weights(struct model *m, const char *path, struct error *e);

/* Saves m to path in the format its extension names:
 *  .json         the architecture; when the model has weights, they go to
 *                STEM.safetensors beside it, named in the JSON;
 *  .safetensors  a bundle: the tensors, with the architecture in
 *                __metadata__["graft"] (plain tensors for a model whose
 *                forward is unknown);
 *  .pth, .pt     the state_dict as torch.save writes it (io_pth.h), for
 *                load_state_dict; the architecture is not kept.
 * Tensors are written as they are (dtype and bytes unchanged), in
 * state_dict order. Every file is written atomically, and a .json and its
 * weights both or neither (save.h); a symlink is written through, a
 * folder (an existing one, or a path ending in '/': graft does not write
 * model folders) or, without SAVE_FORCE in flags, a read-only file is
 * refused.
 * The weights beside a .json never replace the model's own file, nor,
 * without SAVE_FORCE, an existing file that is not the weights the
 * existing .json names. 0, or -1 with e set and nothing replaced. */
int format_save(const struct model *m, const char *path, unsigned flags, struct error *e);

#endif
