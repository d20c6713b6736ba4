/* io_npy.h - NumPy .npy files: one array, read and written.
 *
 * Reading accepts format versions 1.0, 2.0 and 3.0, C order, and the
 * floating dtypes float32, float16 and float64 in either byte order, which
 * it converts to float32, and the integer and bool dtypes (int64, int32,
 * int16, int8, uint8, bool), which it keeps (in host byte order). The header is parsed strictly (a Python dict
 * literal with exactly 'descr', 'fortran_order' and 'shape') and the data
 * must have exactly the size the shape says: a .npy file is untrusted
 * input. Writing produces version 1.0 files of float32 (little-endian). */
#ifndef GRAFT_IO_NPY_H
#define GRAFT_IO_NPY_H

#include <stddef.h>

#include "core/error.h"
#include "core/tensor.h"

/* Largest header graft reads. */
#define NPY_MAX_HEADER (1u << 20)

/* Parses an .npy image of `len` bytes into *out, a float32 (or integer or
 * bool) tensor with its own storage (tensor_release it). 0, or -1 with e set to "offset N: what
 * is wrong" (the caller adds the file name) and *out untouched. */
int npy_parse(const void *data, size_t len, struct tensor *out, struct error *e);

/* Reads the file at path: npy_parse with "PATH: " before messages. */
int npy_read(const char *path, struct tensor *out, struct error *e);

/* Writes t (float32, or any float dtype, converted) to path atomically
 * (save.h: a temporary beside it, then a rename; symlinks written through,
 * folders and read-only files refused). 0, or -1 with e set. */
int npy_write(const char *path, const struct tensor *t, struct error *e);

#endif
