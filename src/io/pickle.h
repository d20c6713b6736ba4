/* pickle.h - a safe reader for the part of Python's pickle format that
 * PyTorch checkpoints use, and a writer for the state_dicts graft saves.
 *
 * The reader never runs anything. A global (`GLOBAL 'os system'`) becomes
 * a name; calling one (REDUCE) is allowed only for the few callables a
 * checkpoint needs, each turned into plain data by graft itself:
 * collections.OrderedDict, builtins.set/frozenset, torch.Size,
 * torch.device, torch._utils._rebuild_tensor(_v2),
 * torch._utils._rebuild_parameter(_with_state) and TorchScript's
 * torch.jit._pickle.build_*list and restore_type_tag (their argument). Anything else is refused
 * with a message naming the opcode or the global. Classes instantiated by
 * NEWOBJ (what pickling an nn.Module writes), and functools.partial (a
 * module's norm_layer), become inert records: class name, arguments and
 * the state BUILD gives them; they are never called.
 * Storages are the ('storage', torch.FloatStorage, key, location, numel)
 * persistent ids torch.save writes; their bytes are the caller's business.
 *
 * Everything has a bound: nesting of MARKs, stack size, memo indices
 * (also fewer than the pickle's bytes), the memory values and container
 * items take (charged to the budget of the file, core/budget.h), string
 * lengths (the input), tensor ranks and sizes (a tensor must lie inside its
 * storage, with int64 overflow checks). A value fetched from the memo is
 * the value stored, shared, never a copy: the values form a graph (a DAG,
 * or cycles) no larger than the pickle, and whoever walks it must not
 * expand it into a tree. Dicts are hashed, so reading costs time roughly
 * linear in the pickle's size. */
#ifndef GRAFT_PICKLE_H
#define GRAFT_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/budget.h"
#include "core/error.h"
#include "core/tensor.h"
#include "core/util.h"

/* Bounds of one unpickling. */
#define PK_MAX_DEPTH 512       /* open MARKs */
#define PK_MAX_STACK (1 << 20) /* values on the stack */
#define PK_MAX_MEMO  (1 << 22) /* memo indices */
#define PK_MAX_NAME  256       /* module and name of a global */

enum pk_kind {
	PK_NONE,
	PK_BOOL,
	PK_INT,
	PK_FLOAT,
	PK_STR, /* text (also Python 2 str) */
	PK_BYTES,
	PK_TUPLE,
	PK_LIST,
	PK_DICT,    /* dict or OrderedDict: keys in insertion order */
	PK_SET,     /* set or frozenset */
	PK_GLOBAL,  /* a module-level name, never resolved */
	PK_OBJECT,  /* an instance made by NEWOBJ: class, args, BUILD state */
	PK_STORAGE, /* a torch storage named by a persistent id */
	PK_TENSOR   /* a torch tensor or parameter */
};

struct pk_value {
	enum pk_kind kind;
	struct pk_value *next_alloc; /* all values of one document, for freeing */
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			char *s; /* NUL-terminated; may hold NULs before len */
			size_t len;
		} str;
		struct {
			struct pk_value **items;
			int n, cap;
		} seq; /* PK_TUPLE, PK_LIST, PK_SET */
		struct {
			struct pk_value **keys, **values;
			int n, cap;
			/* once the dict grows past a few keys: a hash table of
			 * its str keys, each slot 0 (empty) or a key index + 1 */
			int *slots;
			int nslots; /* a power of two */
		} dict;
		struct {
			char *module, *name;
		} global;
		struct {
			struct pk_value *cls;   /* a PK_GLOBAL */
			struct pk_value *args;  /* a PK_TUPLE */
			struct pk_value *state; /* from BUILD, or NULL */
		} obj;
		struct {
			enum dtype dtype;
			char *key;      /* the record name: data/KEY */
			char *location; /* "cpu", "cuda:0" */
			int64_t numel;  /* elements of dtype */
		} storage;
		struct {
			struct pk_value *storage; /* a PK_STORAGE */
			int64_t offset;           /* in elements */
			struct shape shape;
			int64_t stride[SHAPE_MAX_DIMS];
			bool requires_grad;
			bool parameter; /* rebuilt as an nn.Parameter */
		} tensor;
	} u;
};

/* One unpickled object and everything it owns. */
struct pk_doc {
	struct pk_value *root;
	struct pk_value *all; /* every value, through next_alloc */
	size_t nvalues;       /* how many */
};

/* Unpickles the pickle at the start of data[0..len). `where` prefixes
 * messages ("model.pth: data.pkl"). On success fills *doc and, when
 * `consumed` is non-NULL, the bytes read up to and including STOP (the
 * pre-1.6 format has several pickles in a row). What the values take is
 * charged to `budget`, the budget of the file the pickle is in. 0, or -1
 * with e set to "WHERE: offset N: what" and *doc empty. */
int pk_load(const unsigned char *data, size_t len, const char *where, struct budget *budget,
            struct pk_doc *doc, size_t *consumed, struct error *e);
void pk_doc_free(struct pk_doc *doc);

/* The value of key `key` (a string) in a PK_DICT, or NULL. */
struct pk_value *pk_dict_get(const struct pk_value *dict, const char *key);
/* Removes entry i (0 <= i < n) of a PK_DICT, keeping the others' order. */
void pk_dict_remove(struct pk_value *dict, int i);
/* True when v is a PK_OBJECT whose state is a dict (or a (dict, slots)
 * tuple); *state gets that dict. */
bool pk_object_state(const struct pk_value *v, struct pk_value **state);
/* "an int", "a str", "a torchvision.models.resnet.ResNet object", ... */
void pk_describe(const struct pk_value *v, char *buf, size_t size);
/* The dtype of a torch storage class name ("FloatStorage"), or -1. */
int pk_storage_dtype(const char *name);
/* The storage class name of a dtype ("FloatStorage"). */
const char *pk_storage_name(enum dtype dt);

/* A pickle being written, protocol 2 as torch.save writes it. Globals are
 * memoised and referred back to; nothing else is. */
struct pk_writer {
	struct strbuf out;
	char **globals; /* "module\nname" already written */
	int *global_memo;
	int nglobals, cap;
	int memo; /* next memo index */
};

void pkw_begin(struct pk_writer *w);
/* Opcodes without arguments: MARK '(', TUPLE 't', EMPTY_TUPLE ')',
 * REDUCE 'R', SETITEMS 'u', BINPERSID 'Q', NEWFALSE 0x89, ... */
void pkw_op(struct pk_writer *w, unsigned char op);
void pkw_global(struct pk_writer *w, const char *module, const char *name);
void pkw_str(struct pk_writer *w, const char *s);
void pkw_int(struct pk_writer *w, int64_t v);
void pkw_bool(struct pk_writer *w, bool b);
/* A tuple of ints (EMPTY_TUPLE, TUPLE1..3 or MARK ... TUPLE). */
void pkw_int_tuple(struct pk_writer *w, const int64_t *v, int n);
/* Ends with STOP; returns the bytes (the caller frees them) and *len. */
/* What pkw_value asks its caller. */
struct pkw_hooks {
	/* the record name a PK_STORAGE is written under */
	const char *(*storage_key)(const struct pk_value *storage, void *ctx);
	void *storage_ctx;
	/* a value written by fill instead (NULL: none) */
	const struct pk_value *hole;
	void (*fill)(struct pk_writer *w, void *ctx);
	void *fill_ctx;
};
/* Writes v and everything it holds back as the reader read it (pickle.h's
 * kinds: containers, globals, objects by NEWOBJ and BUILD, tensors and
 * parameters through their storages' persistent ids), the hole excepted.
 * A value shared in the graph is written once and fetched from the memo
 * after. 0, or -1 with e set for a graph nested too deep or looping
 * through a tuple. */
int pkw_value(struct pk_writer *w, const struct pk_value *v, const struct pkw_hooks *h,
              struct error *e);
/* The persistent id of a storage: ('storage', torch.KStorage, key,
 * location, numel) BINPERSID. */
void pkw_storage(struct pk_writer *w, enum dtype dt, const char *key, const char *location,
                 int64_t numel);
char *pkw_finish(struct pk_writer *w, size_t *len);
void pkw_free(struct pk_writer *w);

#endif
