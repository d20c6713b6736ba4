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
 *    which graft rebuilds its own module tree (pth_tree.c);
 *  - a TorchScript archive, torch.jit.save(m, f): the pickled
 *    RecursiveScriptModule objects (data.pkl), whose parameters and buffers
 *    the class definitions under code/ name; the code is read as text,
 *    never run.
 *
 * Tensors that share a storage share graft storage; a non-contiguous view
 * (a transposed matrix, a strided slice) is copied into a contiguous tensor
 * of its own, since graft's tensors are dense.
 *
 * Writing produces a state_dict file in the zip format, as
 * torch.save(state_dict, f) does, that torch.load(f, weights_only=True)
 * accepts, or a training checkpoint read back with its state_dict
 * replaced. graft adds its architecture as one more record,
 * ARCHIVE/graft/architecture.json, which torch's loader never reads. */
#ifndef GRAFT_IO_PTH_H
#define GRAFT_IO_PTH_H

#include <stdbool.h>

#include "core/budget.h"
#include "core/error.h"
#include "core/module.h"
#include "core/tensor.h"

/* Largest pickle graft reads (data.pkl), and largest architecture. */
#define PTH_MAX_PICKLE (256u << 20)
/* The record, under ARCHIVE/, holding the architecture graft wrote. */
#define PTH_ARCHITECTURE_RECORD "graft/architecture.json"

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
	bool inner_is_module; /* ... holding a pickled module, not a state_dict */
	bool torchscript;     /* a torch.jit.save archive */
	char *architecture;   /* the graft JSON inside a .pth graft wrote, or NULL */
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

/* A checkpoint's saved object with the bytes of every storage it names,
 * read to be written back (pth_write_extras). */
struct pth_reader;

/* What a .pth holds besides the state_dict; all may be 0/NULL. */
struct pth_write_extras {
	const struct pth_version *versions; /* the state_dict's _metadata */
	int nversions;
	const char *architecture; /* graft JSON, for PTH_ARCHITECTURE_RECORD */
	/* the checkpoint written around the state_dict: its saved object, a
	 * dict, whose entry `key` the state_dict replaces */
	struct pth_reader *envelope;
	const char *key;
};

/* Writes tensors (every one with storage) as a state_dict, in the order
 * given, into the temporary of sf (save.h), which the caller commits or
 * aborts, with `_metadata` holding x->versions as torch.save does (none
 * when nversions is 0), inside x->envelope when given (x may be NULL).
 * Tensors whose bytes overlap in one storage with the same dtype (tied
 * weights, views) share one storage in the file; the others get one each,
 * written byte for byte in their dtype; the envelope's tensors keep their
 * storages. 0, or -1 with e set. */
struct save_file;
int pth_write_to(struct save_file *sf, const char *const *names,
		 const struct tensor *const *tensors, int n, const struct pth_write_extras *x,
		 struct error *e);
/* The same written to path atomically (save_file_atomic's rules). */
int pth_write(const char *path, const char *const *names, const struct tensor *const *tensors,
              int n, const struct pth_write_extras *x, struct error *e);

/* Reads a checkpoint's saved object as it is. NULL with e set. */
struct pth_reader *pth_read_object(const char *path, struct error *e);
/* The saved object; the caller may change it before writing it back. */
struct pk_value *pth_reader_root(struct pth_reader *r);
/* Frees r. Tolerates NULL. */
void pth_reader_free(struct pth_reader *r);

/* For pth_tree.c: converts the pickled tensor v (a PK_TENSOR) into *out,
 * sharing or copying the storage io_pth.c has read. 0 or -1 with e set. */
struct pk_value;
int pth_reader_tensor(struct pth_reader *r, const struct pk_value *v, struct tensor *out,
                      struct error *e);
/* A TorchScript archive's code/PATH.py: the Python module it defines
 * ("__torch__.torch.nn.modules.conv") and its text. */
struct pth_code {
	char *module;
	char *text;
};
/* Builds graft's module tree from the pickled objects of a TorchScript
 * archive (pth_tree.c), each module a container of the parameters and
 * buffers its class in code[ncode] declares (every tensor a parameter when
 * the class is not found), typed by its class ("torch.nn.modules.conv.
 * Conv2d"); adds every tensor to f->entries in state_dict order. At most
 * max_nodes modules, each charged to budget (as pth_tree_build). NULL with
 * e set. */
struct module *pth_script_build(struct pth_reader *r, struct pth_file *f,
                                const struct pk_value *root, const struct pth_code *code, int ncode,
                                size_t max_nodes, struct budget *budget, struct error *e);
/* Builds graft's module tree from a pickled nn.Module (pth_tree.c); adds
 * every tensor to f->entries in state_dict order. A module shared through
 * the memo is built once for each place it appears, at most max_nodes
 * modules in all (the pickle's values), each charged to the file's budget:
 * the tree stays roughly as large as the file. NULL with e set. */
struct module *pth_tree_build(struct pth_reader *r, struct pth_file *f, const struct pk_value *root,
                              size_t max_nodes, struct budget *budget, struct error *e);

#endif
