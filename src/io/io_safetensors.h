/* io_safetensors.h - read and write the safetensors format.
 *
 * Reading maps the file and checks the header as the reference
 * implementation does: header size bound, valid JSON, known dtypes, shapes
 * whose byte size matches the data offsets, offsets in range, tensors
 * contiguous and not overlapping, covering the data area. Tensor data is
 * never copied. */
#ifndef GRAFT_IO_SAFETENSORS_H
#define GRAFT_IO_SAFETENSORS_H

#include "core/error.h"
#include "core/tensor.h"

/* Upper bound on the JSON header, as in the reference implementation. */
#define SAFETENSORS_MAX_HEADER (100 * 1000 * 1000)

struct st_entry {
	char *name;
	struct tensor t; /* shares the file's mapped storage */
};

struct st_meta {
	char *key, *value;
};

struct st_file {
	struct st_entry *entries; /* in file order (by data offset) */
	int n;
	struct st_meta *meta;     /* __metadata__, in file order; NULL when the */
	int nmeta;                /* header has none, non-NULL if it is {} */
	struct storage *map;      /* the mapped file */
};

/* Opens and validates `path`. NULL with e set (kind ERR_INPUT) to a message
 * that starts with the path and names the tensor and the problem:
 * "PATH: tensor 'fc.weight': data_offsets [0, 100] do not match shape
 * [10, 512] of F32 (20480 bytes)", or "PATH: offset N: ..." for a problem
 * in the raw header bytes. Close with st_close (tolerates NULL). */
struct st_file *st_open(const char *path, struct error *e);
/* As st_open, for an image of len bytes in memory (copied); `where` stands
 * for the path in messages. */
struct st_file *st_open_memory(const void *data, size_t len, const char *where, struct error *e);
void st_close(struct st_file *f);
/* The entry with this name, or NULL (a binary search). */
const struct st_entry *st_find(const struct st_file *f, const char *name);
/* The __metadata__ value for key, or NULL. */
const char *st_meta_get(const struct st_file *f, const char *key);

/* Writes tensors (every one must have storage) and metadata into the
 * temporary of sf (save.h), which the caller commits or aborts. Tensors
 * are laid out and listed in the order given, after "__metadata__", which
 * is written when meta is non-NULL (so nmeta == 0 gives "{}"). The bytes
 * are those the reference implementation writes for the same order, so
 * writing back what st_open read reproduces a reference-written file.
 * 0, or -1 with e set. */
struct save_file;
int st_write_to(struct save_file *sf, const char *const *names,
		const struct tensor *const *tensors, int n, const struct st_meta *meta, int nmeta,
		struct error *e);
/* The same written to path atomically (save_file_atomic's rules): on
 * failure path is left as it was. 0, or -1 with e set. */
int st_write(const char *path, const char *const *names, const struct tensor *const *tensors,
	     int n, const struct st_meta *meta, int nmeta, struct error *e);

#endif
