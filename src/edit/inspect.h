/* inspect.h - the editor's read-only views: show, find and diff, written as
 * text for the command output. */
#ifndef GRAFT_INSPECT_H
#define GRAFT_INSPECT_H

#include "edit/edit.h"

/* Appends m's path, type, attributes, tensors, counts and the shapes of its
 * calls in the last shape pass. */
void inspect_show(const struct editor *ed, const struct module *m, struct strbuf *out);
/* Appends m's forward graph, one line per node in order: its name, what it
 * calls (a child, f() for a function, .f() for a method, an input, a
 * tensor) and its value in the module's first call of the last shape pass,
 * shapes written by format_shape; the node a shape break stopped at is
 * marked. Nothing for a module without a forward graph. */
void inspect_forward(const struct module *m, shape_format_fn format_shape, struct strbuf *out);
/* Appends one line for each module the selector `pattern` picks and their
 * count; 0, or -1 with e set when nothing matches. */
int inspect_find(struct editor *ed, const char *pattern, struct strbuf *out, struct error *e);
/* Appends the modules added (+), removed (-) and changed (~) since the model
 * was opened, the parameter counts before and after, and changed inputs. */
void inspect_diff(const struct editor *ed, struct strbuf *out);

#endif
