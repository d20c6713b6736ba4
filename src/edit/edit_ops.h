/* edit_ops.h - the editor's operations, for the command layer (cmd.c) and
 * the views. Each changing operation runs between edit_begin and
 * edit_commit / edit_abort. */
#ifndef GRAFT_EDIT_OPS_H
#define GRAFT_EDIT_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "edit/edit.h"

enum keep_mode {
	KEEP_SAME,    /* same type and shapes keeps the tensors (the default) */
	KEEP_OVERLAP, /* also copy the overlapping slices of changed shapes */
	KEEP_NONE     /* always initialise afresh */
};

/* Takes a snapshot before a change. */
void edit_begin(struct editor *ed);
/* The change succeeded: records `command` for undo/scripts and re-checks. */
void edit_commit(struct editor *ed, const char *command);
/* The change failed: puts the snapshot back. */
void edit_abort(struct editor *ed);
/* Re-binds graphs and re-runs the shape pass into ed->check. */
void edit_recheck(struct editor *ed);
int edit_undo(struct editor *ed, struct error *e);
int edit_redo(struct editor *ed, struct error *e);

/* The module at path, or NULL with a did-you-mean in e. */
struct module *edit_find(struct editor *ed, const char *path, struct error *e);
/* The modules a selector (or exact path) picks; count or -1 (also when
 * nothing matches). *out is malloc'd. */
int edit_select(struct editor *ed, const char *sel, struct module ***out, struct error *e);
/* edit_select for a command that tells the user: when sel picked the
 * module at that path but also names a type with other letter case
 * ('relu' and ReLU), a note saying how to pick the type is appended to
 * say. */
int edit_select_say(struct editor *ed, const char *sel, struct module ***out, struct strbuf *say,
		    struct error *e);
bool edit_model_has_type(const struct module *m, const char *type);

/* Operations: 0 or -1 with e set; what they did is appended to out. */
int edit_replace_one(struct editor *ed, struct module *old, const struct spec *s,
		     enum keep_mode keep, struct strbuf *out, struct error *e);
int edit_replace(struct editor *ed, const char *sel, const struct spec *s, enum keep_mode keep,
		 bool all, struct strbuf *out, struct error *e);
int edit_insert(struct editor *ed, bool after, const char *path, const struct spec *s,
		const char *name, struct strbuf *out, struct error *e);
int edit_delete(struct editor *ed, const char *path, struct strbuf *out, struct error *e);
int edit_set(struct editor *ed, const char *path, const struct kwarg *kv, int n,
	     struct strbuf *out, struct error *e);
int edit_head(struct editor *ed, int64_t classes, const char *path, enum keep_mode keep,
	      struct strbuf *out, struct error *e);
/* Makes the whole model the child `name` of a new root of `type` that runs
 * its children in order, so modules can be added after it
 * (nn.Sequential(model, head) in PyTorch). */
int edit_wrap(struct editor *ed, const char *name, const char *type, struct strbuf *out,
	      struct error *e);
/* Keeps only the module at path as the whole model (model = model.features
 * in PyTorch); its tensor names lose the path prefix. */
int edit_extract(struct editor *ed, const char *path, struct strbuf *out, struct error *e);
int edit_freeze(struct editor *ed, const char *sel, bool freeze, struct strbuf *out,
		struct error *e);

#endif
