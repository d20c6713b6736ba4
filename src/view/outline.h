/* outline.h - the outline's view-model: which modules of the tree show as
 * rows, the cursor and scroll, expansion, search, marks, sorting, and each
 * module's change since the model was opened.
 *
 * The outline never includes curses: the screen draws from it and turns keys
 * into outline_* calls, and unit tests drive it the same way. Nobody else
 * writes its state.
 *
 * It works on nodes: one per module of the live tree (preorder), then one
 * per module removed since opening ("ghost" rows), rebuilt by outline_build
 * after every change, which is O(modules). Expansion, marks and the cursor
 * are kept by dotted path, so they survive edits, undo and redo (which swap
 * the whole tree). The visible rows are rebuilt in O(visible rows). */
#ifndef GRAFT_OUTLINE_H
#define GRAFT_OUTLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/shape.h"

struct selector; /* edit/select.h */

/* What the bar measures and the sort orders by. */
enum outline_metric {
	OUTLINE_PARAMS, /* parameter elements in the subtree */
	OUTLINE_MACS,   /* mult-adds of the module's calls */
	OUTLINE_MEMORY, /* bytes of the outputs of the layers in the subtree */
	OUTLINE_NMETRICS
};

enum outline_change {
	OUTLINE_SAME,
	OUTLINE_NEW,      /* no module at this path when opened */
	OUTLINE_REPLACED, /* a module of another type was here */
	OUTLINE_MODIFIED, /* same type, other attributes */
	OUTLINE_REMOVED   /* here when opened, gone now: a ghost row */
};

struct outline_node {
	const struct module *m;    /* the live module; the original one when removed */
	const struct module *orig; /* the module at this path when opened, or NULL */
	size_t path;               /* offset of the dotted path in the outline's arena */
	int parent;                /* node index, -1 for the root */
	int first_child, last_child, next_sibling, nchildren;
	int depth; /* the root is 0 */
	enum outline_change change;
	bool changed_below;     /* a descendant changed */
	bool broken;            /* the shape break is in this module */
	bool broken_below;      /* ... in a descendant */
	int64_t params, frozen; /* parameter elements in the subtree; not trainable */
	int64_t macs;           /* of the module's calls (children included) */
	int64_t memory;         /* output bytes of the layers in the subtree */
};

struct outline_row {
	int node;
	int parent_row; /* -1 for the root */
	bool last;      /* the last of its siblings as shown */
	bool open;      /* expanded (only meaningful with children) */
	int fn;         /* a function-node row: the index of the node in the
	                   forward graph of `node`'s module; -1 for a module row */
};

/* A set of strings (paths), for expansion and marks. */
struct outline_set {
	char **slot;
	size_t cap, used, n;
};

struct outline_orig; /* the model as opened, indexed (outline.c) */

struct outline {
	struct outline_node *nodes;
	int nnodes, nreal, nodes_cap; /* nreal: live modules; ghosts follow */
	char *paths;                  /* arena of NUL-terminated paths */
	size_t paths_len, paths_cap;

	struct outline_row *rows; /* visible rows, top to bottom */
	int nrows, rows_cap;
	int cursor, top, height; /* selected row, first row shown, rows shown */
	unsigned version;        /* bumped whenever the rows are rebuilt */

	int depth;                  /* nodes shallower than this are open... */
	struct outline_set toggled; /* ...except these paths, toggled by hand */
	struct outline_set marked;

	enum outline_metric metric;
	bool sorted;   /* siblings by metric, largest first */
	bool functions; /* function-node rows shown under their composites */
	char *pattern; /* the last search, or NULL */
	struct selector *selector; /* the pattern as a selector, or NULL */

	bool checked;     /* the last shape pass went through */
	bool has_forward; /* shapes are known at all */
	int64_t total[OUTLINE_NMETRICS];

	const struct module *orig_root;
	struct outline_orig *orig;
};

void outline_init(struct outline *o);
void outline_free(struct outline *o);

/* (Re)builds the nodes from the live model, its last shape pass and the
 * model as opened, then the visible rows; the cursor stays on the same path
 * (or its nearest surviving ancestor). O(modules). */
void outline_build(struct outline *o, const struct model *m, const struct model *original,
                   const struct shape_result *check);

/* The node of a visible row, and the dotted path of a node ("" is the root). */
const struct outline_node *outline_row_node(const struct outline *o, int row);
const char *outline_path(const struct outline *o, int node);
/* The node index of a path, or -1. O(modules). */
int outline_find(const struct outline *o, const char *path);
/* The visible row of a node (its module row), or -1. O(visible rows). */
int outline_row_of(const struct outline *o, int node);
/* The node under the cursor (on a function-node row, the module whose
 * forward has it), or -1 when there are no rows. */
int outline_current(const struct outline *o);

/* Tree guides of a row: for levels 1..depth-1, cont[level] says whether the
 * ancestor at that level has siblings below it (a vertical line goes on).
 * Returns the row's depth; at most max levels are filled. */
int outline_row_guides(const struct outline *o, int row, bool *cont, int max);

/* Cursor and scroll. The height is the number of rows the view shows. */
void outline_set_height(struct outline *o, int height);
void outline_move(struct outline *o, int delta);
void outline_page(struct outline *o, int pages);
void outline_go(struct outline *o, int row); /* clamped */

/* Expansion. */
bool outline_is_open(const struct outline *o, int node);
void outline_set_open(struct outline *o, int node, bool open);
void outline_toggle(struct outline *o);               /* the current row */
void outline_left(struct outline *o);                 /* collapse, or go to the parent */
void outline_right(struct outline *o);                /* expand, or go to the first child */
void outline_set_depth(struct outline *o, int depth); /* INT_MAX: all; drops toggles */
/* The deepest expansion whose rows fit in `rows` (at least 1). */
int outline_fit_depth(const struct outline *o, int rows);
/* Opens every ancestor of node and puts the cursor on it. */
void outline_reveal(struct outline *o, int node);
/* Opens every ancestor of node, leaving the cursor where it is. */
void outline_open_to(struct outline *o, int node);
/* Reveals the module at path; false when there is none. */
bool outline_goto(struct outline *o, const char *path);

/* Search. A pattern with *, ? or [ is a selector as `find` takes it
 * (`Conv2d[kernel_size=1]`, `layer*.*.relu`, `**.downsample`). Any other
 * is a substring of a module's name, or of its path when it has a dot, in
 * any case unless it has a capital letter; or of its type as written
 * (`Conv` finds every Conv2d); or its whole type in any case (`relu` finds
 * every ReLU, named relu or not). outline_set_search keeps the
 * pattern for outline_search and outline_matches (NULL or "" clears it):
 * 0, or -1 with e set when it is a malformed selector (the search is then
 * cleared). outline_search looks from the cursor (included when `here`) in
 * tree order, forward (dir > 0) or backward, wrapping; on a match it
 * reveals it and returns true. */
int outline_set_search(struct outline *o, const char *pattern, struct error *e);
bool outline_search(struct outline *o, int dir, bool here);
bool outline_matches(const struct outline *o, int node);

/* Marks, by path. outline_marked fills *paths (malloc'd array of pointers
 * into the arena, valid until the next build) in tree order; returns the
 * count. */
void outline_toggle_mark(struct outline *o);
bool outline_is_marked(const struct outline *o, int node);
void outline_clear_marks(struct outline *o);
int outline_marked(const struct outline *o, const char ***paths);

/* Function-node rows. When shown, each open composite with a forward graph
 * has, after its child modules, one row per call_function/call_method node
 * of that graph, in forward order (call_module nodes are the module rows). */
void outline_set_functions(struct outline *o, bool on);
/* The forward-graph node of a row, or NULL for a module row. */
const struct graph_node *outline_row_function(const struct outline *o, int row);
/* Whether the shape pass stopped at the row's function node. */
bool outline_row_function_broken(const struct outline *o, int row);
/* What edit commands call the row: the module's dotted path, or
 * "OWNER:NODE" for a function node (":add" under the root). */
void outline_row_ref(const struct outline *o, int row, char *buf, size_t size);
/* A function-node row's type column (its function, "add" or ".view") and
 * output shape ("1x64x8x8"; "" where the pass broke, "?" or "--" where it
 * did not reach). */
void outline_function_type(const struct graph_node *nd, char *buf, size_t size);
void outline_function_shape(const struct outline *o, int row, char *buf, size_t size);

/* Opens the tree down to the module where the shapes break; when function
 * rows are shown and the break is at a function node, also opens that
 * module and puts the cursor on the node's row. */
void outline_show_break(struct outline *o);

/* Metric and order. */
void outline_set_metric(struct outline *o, enum outline_metric m);
void outline_set_sorted(struct outline *o, bool sorted);
const char *outline_metric_name(enum outline_metric m);
int64_t outline_value(const struct outline_node *n, enum outline_metric m);
/* The node's share of the model's total of the metric (0..1), or -1 when
 * the total is unknown. */
double outline_share(const struct outline *o, const struct outline_node *n);

/* Text for a node: its name (root_name for the root); its type and key
 * hyper-parameters "Conv2d 3→64 k7 s2 p3", returning the length of the
 * type's part; the output shape(s) "1x64x56x56", "(1x10, 1x10)", "1x64 ×2",
 * "?" when the last pass broke before it, "--" when it was not called, ""
 * for the broken module and removed rows. Names and types come from files,
 * so they are shown with control characters escaped (text_escape_control). */
void outline_node_name(const struct outline_node *n, const char *root_name, char *buf,
                       size_t size);
size_t outline_node_type(const struct outline_node *n, char *buf, size_t size);
void outline_node_shape(const struct outline *o, const struct outline_node *n, char *buf,
                        size_t size);

/* String sets (used by the outline, exported for tests and the screen). */
bool outline_set_has(const struct outline_set *s, const char *key);
void outline_set_add(struct outline_set *s, const char *key);
void outline_set_del(struct outline_set *s, const char *key);
void outline_set_clear(struct outline_set *s);

#endif
