/* save.h - what every format writer shares: the state_dict of a model, a
 * check that it has values, and writing files atomically: one file, or a
 * pair that lands both or neither. */
#ifndef GRAFT_SAVE_H
#define GRAFT_SAVE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/model.h"

/* How a save may treat an existing file. */
enum save_flags {
	/* replace a read-only file, or an existing file beside the one named
	 * (a .json's weights) that belongs to something else */
	SAVE_FORCE = 1,
};

/* An output file being written: a temporary beside the file it will
 * replace, renamed over it at commit. */
struct save_file {
	char *path;   /* as the user named it: the one in messages */
	char *target; /* the file replaced or created: symlinks followed */
	char *tmp;    /* the temporary in target's folder */
	FILE *fp;     /* the temporary, open for writing */
	mode_t mode;  /* the new file's mode: the old file's, or 0666 & ~umask */
	bool existed; /* target was there before */
};

/* Prepares to write path. A symlink is followed to the file it names (the
 * link stays, the file it names gets the bytes); a folder, a file that is
 * not a regular one, and, without SAVE_FORCE, a read-only file are refused
 * before anything is written. 0 and sf ready, or -1 with e set
 * ("PATH: is a folder") and nothing created. */
int save_begin(struct save_file *sf, const char *path, unsigned flags, struct error *e);
/* Writes len bytes to the temporary. 0, or -1 with e set. */
int save_write(struct save_file *sf, const void *data, size_t len, struct error *e);
/* Flushes, syncs and renames the temporary over the target; sf is freed
 * either way. 0, or -1 with e set and the target untouched. */
int save_commit(struct save_file *sf, struct error *e);
/* Renames both temporaries, first then second; if the second fails the
 * first's old file is put back, so both land or neither does. Both are
 * freed either way. 0, or -1 with e set. */
int save_commit_pair(struct save_file *first, struct save_file *second, struct error *e);
/* Removes the temporary and frees sf: the target is untouched. */
void save_abort(struct save_file *sf);
/* The end of a write whose status is rc: save_commit when rc is 0, else
 * save_abort. 0, or -1 (with e set by the writer or the commit). */
int save_end(struct save_file *sf, int rc, struct error *e);

/* Writes len bytes to path atomically (save_begin, save_write,
 * save_commit). 0, or -1 with e set and path untouched. */
int save_file_atomic(const char *path, const char *data, size_t len, unsigned flags,
		     struct error *e);

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
