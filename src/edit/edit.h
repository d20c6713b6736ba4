/* edit.h - the editor: a model, its last shape check, undo and redo, and
 * the commands of doc/commands.md (their table is cmd.h).
 *
 * The interactive pane and batch files both call editor_run with one
 * command line; a command that works in one works in the other. Every change
 * re-runs the shape pass: a change that breaks shapes is kept (so the next
 * command can fix it) and the break is in ed->check. */
#ifndef GRAFT_EDIT_H
#define GRAFT_EDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/init.h"
#include "core/model.h"
#include "core/shape.h"
#include "edit/spec.h"
#include "core/util.h"

/* The model and generator as they were before one change. */
struct snapshot {
	struct model *model;
	struct rng rng;
	int nlog;        /* commands in effect at that point */
};

struct editor {
	struct model *model;
	struct model *original;  /* as opened, for diff */
	struct shape_result check;
	struct rng rng;
	struct type_lib types;

	struct snapshot *undo, *redo;
	int nundo, nredo, undo_cap, redo_cap;

	char **log;              /* the changing commands in effect, in order */
	int nlog, log_cap;
	char **redo_log;         /* commands undone, for redo */
	int nredo_log, redo_log_cap;
	char **defines;          /* `define` lines run, for editor_script */
	int ndefines, defines_cap;

	bool dirty;              /* changed since opened or saved */
	FILE *journal;           /* every change appended as it happens, or NULL */
};

/* Takes ownership of m, runs the first shape pass, seeds the generator with
 * 0 and loads no types (see editor_load_types). */
void editor_init(struct editor *ed, struct model *m);
void editor_free(struct editor *ed);

/* Loads `define` lines (and comments) from a file; a missing file is not an
 * error when `optional`. 0 or -1 with e set ("FILE:LINE: ..."). */
int editor_load_types(struct editor *ed, const char *path, bool optional, struct error *e);

/* Runs one command line (comments and blank lines do nothing). Output for
 * the user (lists, diff, help, show) is appended to out. Returns 0 when the
 * command ran — the model may now break: see ed->check.ok — or -1 with e
 * set when it was refused, leaving the model unchanged. */
int editor_run(struct editor *ed, const char *line, struct strbuf *out, struct error *e);

/* Writes the commands in effect as a script that reproduces the model from
 * the file it was opened from. */
void editor_script(const struct editor *ed, struct strbuf *out);

/* Starts appending every change to `path`, emptied and given a header
 * naming the model, and locked (flock) while ed keeps it open. Returns 0,
 * 1 when another process holds the lock (nothing is changed), or -1 with e
 * set. */
int editor_journal_open(struct editor *ed, const char *path, struct error *e);
/* Appends one line to the journal as it is (nothing without a journal). */
void editor_journal_add(struct editor *ed, const char *line);
/* Empties the journal to its header: the model file now holds every edit
 * (a save to its own path). */
void editor_journal_reset(struct editor *ed);

#endif
