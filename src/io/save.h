/* save.h - what every format writer shares: the state_dict of a model, a
 * check that it has values, and writing a file atomically. */
#ifndef GRAFT_SAVE_H
#define GRAFT_SAVE_H

#include "core/error.h"
#include "core/model.h"

/* Writes len bytes to path atomically: a temporary file in the same folder
 * (mode 0644), fsync'd, then renamed over path. 0, or -1 with e set and
 * path untouched. */
int save_file_atomic(const char *path, const char *data, size_t len, struct error *e);

/* The state_dict of m: parallel arrays of malloc'd names and pointers to the
 * tensors in the tree, in PyTorch's order. Returns the count; free with
 * save_state_dict_free. */
int model_state_dict(const struct model *m, char ***names, const struct tensor ***tensors);
void save_state_dict_free(char **names, const struct tensor **tensors, int n);
/* 0 when every tensor has values, or -1 with e set to "PATH: tensor 'NAME'
 * has no values (...)". */
int save_check_storage(char **names, const struct tensor **tensors, int n, const char *path,
		       struct error *e);

#endif
