/* tensor.h - dtypes, shapes and tensors whose bytes are owned or mapped.
 *
 * A shape is a small fixed array of int64 dimensions. A tensor's bytes live
 * in a refcounted storage: malloc'd memory, or a read-only mmap of a weights
 * file, so opening a model reads nothing until the bytes are used. */
#ifndef GRAFT_TENSOR_H
#define GRAFT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/error.h"

#define SHAPE_MAX_DIMS 8
/* Largest element count graft accepts for one tensor (2^40). */
#define SHAPE_MAX_NUMEL ((int64_t)1 << 40)

enum dtype {
	DT_F32,
	DT_F16,
	DT_BF16,
	DT_F64,
	DT_I64,
	DT_I32,
	DT_I16,
	DT_I8,
	DT_U8,
	DT_BOOL,
	DT_COUNT
};

/* Bytes per element. */
size_t dtype_size(enum dtype t);
/* True for the floating dtypes (float32, float16, bfloat16, float64), which
 * graft computes in float32. */
bool dtype_is_float(enum dtype t);
/* PyTorch's name: "float32", "int64", ... */
const char *dtype_name(enum dtype t);
/* safetensors' name: "F32", "I64", ... */
const char *dtype_st_name(enum dtype t);
/* Parses a dtype name: PyTorch's ("float32", "torch.float32", and aliases
 * such as "half" or "long") or safetensors' in any case ("F32", "bf16").
 * Returns 0 and sets *out, or -1. */
int dtype_parse(const char *name, enum dtype *out);

/* bounded: bit i set means dim[i] is an upper bound, the size known only
 * once the data is (the number of boxes an nms keeps). The shape pass
 * carries bounds through later ops (bounds.h); graft run computes the exact
 * sizes, which have no bits set. */
struct shape {
	int ndim;
	int64_t dim[SHAPE_MAX_DIMS];
	uint8_t bounded;
};

/* Returns the element count, or -1 when it overflows or exceeds
 * SHAPE_MAX_NUMEL or a dimension is negative. */
int64_t shape_numel(const struct shape *s);
/* Same rank, dims and bounded bits: a bound is not the exact size it
 * bounds ([≤5, 4] differs from [5, 4]). */
bool shape_equal(const struct shape *a, const struct shape *b);
/* Writes "[1, 64, 56, 56]" into buf (always terminated); a bounded dim is
 * written "≤1000". */
const char *shape_format(const struct shape *s, char *buf, size_t size);
/* Writes "1x64x56x56" (or "≤1000x4") into buf; a scalar is "[]". */
const char *shape_format_x(const struct shape *s, char *buf, size_t size);
/* shape_format or shape_format_x, for functions that take either. */
typedef const char *(*shape_format_fn)(const struct shape *s, char *buf, size_t size);
/* Parses "1x3x224x224", "1,3,224,224", "[1, 3, 224, 224]" or "(3,)"; "[]" is a
 * scalar. A dimension written "≤1000" or "<=1000" is a bound. Dimensions are non-negative integers, at most SHAPE_MAX_DIMS of
 * them, SHAPE_MAX_NUMEL elements in all. Returns 0, or -1 with e set to
 * 'shape "TEXT": what is wrong' and *out untouched. */
int shape_parse(const char *text, struct shape *out, struct error *e);

/* The bytes behind one or more tensors. */
struct storage {
	int refs;
	void *data;
	size_t size;
	bool mapped; /* data is a read-only mmap: unmap, never free or write */
	/* mapped only: the file, kept open, and its size and change time when
	 * mapped, so a file changed under the mapping is noticed before use */
	int fd;
	off_t file_size;
	struct timespec file_mtime;
};

/* A malloc'd, zeroed storage of `size` bytes with one reference, for small
 * sizes graft chooses itself; aborts when memory runs out. */
struct storage *storage_new(size_t size);
/* The same for sizes from a file or the user: NULL with e set naming the
 * size and `what` when it is too large or memory runs out (try_calloc). */
struct storage *storage_alloc(size_t size, const char *what, struct error *e);
/* Maps `path` read-only (private, never written); NULL with e set to
 * "PATH: reason" on failure. An empty file gives an empty malloc'd storage,
 * since zero bytes cannot be mapped. */
struct storage *storage_map_file(const char *path, struct error *e);
/* True when s is not a mapping, or its file still has the size and
 * modification time it had when mapped: reading a mapping whose file was
 * truncated since would kill graft with SIGBUS. */
bool storage_file_unchanged(const struct storage *s);
/* What to tell the user when storage_file_unchanged is false. */
#define STORAGE_CHANGED "its file changed on disk since graft opened it (reopen the model)"
struct storage *storage_ref(struct storage *s);
/* Drops one reference; frees or unmaps at zero. Tolerates NULL. */
void storage_unref(struct storage *s);

/* A dense, contiguous tensor. `storage` may be NULL for a tensor that has a
 * shape but no values yet (an architecture loaded without weights). */
struct tensor {
	enum dtype dtype;
	struct shape shape;
	struct storage *storage;
	size_t offset; /* byte offset of the first element in storage */
};

/* Byte size of the tensor's data (numel * dtype size); 0 if numel < 0. */
size_t tensor_nbytes(const struct tensor *t);
/* Pointer to the first byte, or NULL when the tensor has no storage. */
const void *tensor_data(const struct tensor *t);
/* Makes t own a fresh zeroed storage of the right size and drops the old
 * one. Returns 0, or -1 with e set (naming the shape and size) and t
 * untouched when the shape has too many elements or memory runs out. */
int tensor_alloc(struct tensor *t, struct error *e);
/* Drops t's storage reference and clears it. */
void tensor_release(struct tensor *t);
/* Makes t a view of the same bytes as *from: copies dtype, shape and offset
 * and takes a reference to from's storage, dropping t's old one. */
void tensor_share(struct tensor *t, const struct tensor *from);
/* Converts element i of t to double (any dtype). t must have storage; its
 * data need not be aligned. */
double tensor_get(const struct tensor *t, int64_t i);
/* Copies t's values as float32 into out (numel floats). */
void tensor_to_f32(const struct tensor *t, float *out);

/* IEEE half and bfloat16 from and to float: exact one way, round to nearest
 * even the other (overflow gives infinity, tiny values subnormals or zero);
 * NaN stays NaN, infinities stay infinite, the sign of zero is kept. */
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

#endif
