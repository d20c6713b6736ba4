/* select.h - selectors: which modules a command applies to.
 *
 * A selector is a type (`ReLU`), a type with attribute filters
 * (`Conv2d[kernel_size=1]`, `Conv2d[groups>1, stride=2]`) or a path glob
 * (`layer*.*.relu`; `*` within one dotted part, `**` across parts). */
#ifndef GRAFT_SELECT_H
#define GRAFT_SELECT_H

#include <stdbool.h>

#include "core/error.h"
#include "core/module.h"

/* The modules of root's subtree that `sel` picks, in tree order, outermost
 * only (a module inside a picked one is not picked again). `type_name`
 * (non-NULL: called with the word) gives the type a word names, or NULL
 * when it names none: a bare word is then a path glob. *out is malloc'd;
 * returns the count (maybe 0), or -1 with e set for a malformed selector or
 * a filter on an attribute the type's modules lack. */
int select_modules(struct module *root, const char *sel,
		   const char *(*type_name)(const char *word, void *ctx), void *ctx,
		   struct module ***out, struct error *e);

/* A selector parsed once, to test module by module. */
struct selector;
/* Parses sel as select_modules does for the modules under root; NULL with
 * e set when it is malformed or filters on an attribute the type's modules
 * lack. Free with select_free. */
struct selector *select_parse(const struct module *root, const char *sel,
			      const char *(*type_name)(const char *word, void *ctx), void *ctx,
			      struct error *e);
/* Whether s picks m itself (select_modules leaves out what is inside a
 * picked module; this does not). */
bool select_picks(const struct selector *s, const struct module *m);
void select_free(struct selector *s);

/* True when the dotted path matches the glob. */
bool glob_match(const char *glob, const char *path);

#endif
