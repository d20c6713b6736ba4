/* io_pth.h - PyTorch checkpoints (.pth, .pt): what torch.save writes.
 *
 * Reads the zip format of PyTorch 1.6 and later (ARCHIVE/data.pkl, the
 * storages as ARCHIVE/data/KEY, ARCHIVE/version) and the older format (a
 * sequence of pickles followed by the raw storages), through the safe
 * unpickler of pickle.h: nothing in the file is ever executed. Two kinds of
 * content are understood:
 *
 *  - a state_dict, torch.save(model.state_dict(), f): a dict of names to
 *    tensors, also when it is the "state_dict" (or "model", ...) entry of a
 *    larger checkpoint dict;
 *  - a whole module, torch.save(model, f): the pickled nn.Module tree, from
 *    which graft rebuilds its own module tree (pth_tree.c).
 *
 * Tensors that share a storage share graft storage; a non-contiguous view
 * (a transposed matrix, a strided slice) is copied into a contiguous tensor
 * of its own, since graft's tensors are dense.
 *
 * Writing produces a state_dict file in the zip format, as
 * torch.save(state_dict, f) does, that torch.load(f, weights_only=True)
 * accepts. */
#ifndef GRAFT_IO_PTH_H
#define GRAFT_IO_PTH_H

#include <stdbool.h>

#include "core/budget.h"
#include "core/error.h"
#include "core/module.h"
#include "core/tensor.h"

/* Largest pickle graft reads (data.pkl). */
#define PTH_MAX_PICKLE (256u << 20)

struct pth_entry {
	char *name;
	struct tensor t;
	bool trainable; /* requires_grad of a pickled parameter */
};

struct pth_file {
	struct pth_entry *entries; /* the state_dict, in the file's order */
	int n;
	/* A torch.save'd nn.Module: its tree, with tensors bound (the same
	 * tensors as entries), and its class ("torchvision.models.resnet.ResNet");
	 * NULL for a state_dict. */
	struct module *root;
	char *root_class;
	char *tree_note; /* what the tree could not map exactly, or NULL */
	char *inner_key; /* the checkpoint key holding the state_dict, or NULL */
	bool legacy;     /* the format before PyTorch 1.6 */
	int ncopied;     /* non-contiguous tensors copied */
};

/* Reads a checkpoint. NULL with e set to a message that starts with the
 * path: "PATH: data.pkl: offset 58: REDUCE calls os.system: refused ...".
 * The tensors hold their own storage (nothing stays mapped). */
struct pth_file *pth_open(const char *path, struct error *e);
/* pth_open on the len bytes at data (a checkpoint in memory, which must
 * stay there until this returns); `where` stands for the path in
 * messages. */
struct pth_file *pth_open_memory(const void *data, size_t len, const char *where,
                                 struct error *e);
/* Frees f, its entries and its tree (unless taken). Tolerates NULL. */
void pth_close(struct pth_file *f);
/* Takes the module tree out of f (the caller owns it); NULL if none. */
struct module *pth_take_tree(struct pth_file *f);

/* A module's entry in a state_dict's _metadata: its path ("" for the root)
 * and the _version of its class, which load_state_dict passes to each
 * module's _load_from_state_dict. */
struct pth_version {
	const char *path;
	int version;
};

/* Writes tensors (every one with storage) as a state_dict, in the order
 * given, atomically, with `_metadata` holding versions[nversions] as
 * torch.save does (none when nversions is 0). Tensors whose bytes overlap
 * in one storage with the same dtype (tied weights, views) share one
 * storage in the file; the others get one each, written byte for byte in
 * their dtype. 0, or -1 with e set. */
int pth_write(const char *path, const char *const *names, const struct tensor *const *tensors,
              int n, const struct pth_version *versions, int nversions, struct error *e);

/* For pth_tree.c: converts the pickled tensor v (a PK_TENSOR) into *out,
 * sharing or copying the storage io_pth.c has read. 0 or -1 with e set. */
struct pth_reader;
struct pk_value;
int pth_reader_tensor(struct pth_reader *r, const struct pk_value *v, struct tensor *out,
                      struct error *e);
/* Builds graft's module tree from a pickled nn.Module (pth_tree.c); adds
 * every tensor to f->entries in state_dict order. A module shared through
 * the memo is built once for each place it appears, at most max_nodes
 * modules in all (the pickle's values), each charged to the file's budget:
 * the tree stays roughly as large as the file. NULL with e set. */
struct module *pth_tree_build(struct pth_reader *r, struct pth_file *f, const struct pk_value *root,
                              size_t max_nodes, struct budget *budget, struct error *e);

#endif
