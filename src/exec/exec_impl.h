/* exec_impl.h - the executor's planning structures, shared by exec.c
 * (the walker's hooks, the plan's life), exec_plan.c (fusion, constants,
 * memory, binding) and exec_run.c (running, statistics). Not for other
 * files. */
#ifndef GRAFT_EXEC_IMPL_H
#define GRAFT_EXEC_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "exec/exec.h"
#include "exec/kernels.h"

#define ARENA_ALIGN 64

/* A pointer -> int map (open addressing). */
struct ptrmap {
	const void **keys;
	int *vals;
	int cap, n;
};

struct xslot {
	int buf;
};

enum xbuf_kind { XB_ARENA, XB_CONST };

struct xbuf {
	enum xbuf_kind kind;
	size_t bytes;
	int parent;         /* union-find: buffers merged by fusion and in-place writes */
	int producer;       /* the step that writes it, -1 for inputs and weights */
	int first, last;    /* steps during which it must hold its bytes */
	int uses;           /* readers, for fusion */
	size_t offset;      /* in the arena */
	struct storage *st; /* XB_CONST: weights (shared) or folded constants */
	size_t st_offset;
};

struct xstep {
	struct kop op;
	struct value *args;
	int nargs;
	struct kwarg *kwargs;
	int nkwargs;
	bool active;   /* false once fused into another step */
	bool constant; /* depends on weights only: ran at planning */
	/* Sizes known only when the data is (exec_bounds.c): */
	bool view;    /* a view (KF_ALIAS) of a bounded tensor: runs nothing,
	               * its shape follows its input's */
	bool dynamic; /* a tensor argument or output has bounded dims */
	int link;     /* its links in exec_plan.links: nin for the arguments, */
	int nin, nout; /* then nout for the output */
};

/* A tensor of the bound plan whose shape is slot `slot`'s exact shape at
 * run time. */
struct xlink {
	struct tensor *t;
	int slot;
};

/* A module call ended after `after` steps: its output, for statistics. */
struct xmark {
	const struct module *module;
	int call;
	int after;
	struct value out;
};

/* A module's tensors in compute form. */
struct xweights {
	struct tensor *t;
	int n;
};

struct exec_plan {
	struct model *model;
	struct exec_opts opts;
	struct storage *sentinel;
	struct error *err; /* while planning */

	struct xslot *slots;
	int nslots, slots_cap;
	struct xbuf *bufs;
	int nbufs, bufs_cap;
	struct xstep *steps;
	int nsteps, steps_cap;
	struct xmark *marks;
	int nmarks, marks_cap;

	struct xweights *weights;
	int nweights, weights_cap;
	struct ptrmap weight_map; /* module -> index in weights */
	struct ptrmap attr_map;   /* weight tensor -> its slot */
	struct ptrmap call_count; /* module -> calls so far */

	int ninputs;
	struct shape *in_shapes;
	int *in_slots;
	enum dtype *in_dtypes; /* float32 for every floating input */
	struct value output;

	struct storage *arena;
	void *scratch;
	float **owned; /* arrays handed to kernels (folded BatchNorms) */
	int nowned, owned_cap;

	/* Plans with bounded sizes (exec_bounds.c): the exact shape of each
	 * slot so far, the steps' links, and the links of the marks' outputs
	 * and the plan's output (after the steps'). NULL/0 without bounds. */
	struct shape *slot_shapes;
	struct xlink *links;
	int nlinks, nstep_links;

	struct exec_stat *stats;
	int nstats, stats_cap;
	bool have_stats;
	struct exec_prof *prof; /* per step, with opts.profile */
	struct exec_info info;
};

static inline bool xdtype_is_float(enum dtype dt)
{
	return dt == DT_F32 || dt == DT_F16 || dt == DT_BF16 || dt == DT_F64;
}

/* Buffers and slots (exec.c). */
int xbuf_find(struct exec_plan *p, int b);
int xbuf_new(struct exec_plan *p, enum xbuf_kind kind, size_t bytes, int producer);
bool xis_slot(const struct exec_plan *p, const struct value *v);
int xbuf_of(struct exec_plan *p, const struct value *v);
/* Calls fn on every planning tensor in v, or in a step's arguments. */
void xeach_slot(struct exec_plan *p, const struct value *v,
                void (*fn)(struct exec_plan *p, const struct value *t, void *ctx), void *ctx);
void xeach_arg_slot(struct exec_plan *p, const struct xstep *s,
                    void (*fn)(struct exec_plan *p, const struct value *t, void *ctx), void *ctx);

/* The plan's decisions, in order (exec_plan.c): fuse (unless stats or
 * no_fuse), find_constants (unless stats), liveness, plan_inplace,
 * pack_arena (returns the arena's size, fills info.peak_live_bytes), bind
 * (allocates the arena and the constants' storage, and turns every
 * planning tensor into a real one; -1 with p->err set when memory is short). */
void xfuse(struct exec_plan *p);
void xfind_constants(struct exec_plan *p);
void xliveness(struct exec_plan *p);
void xplan_inplace(struct exec_plan *p);
size_t xpack_arena(struct exec_plan *p);
int xbind(struct exec_plan *p, size_t arena_bytes);

/* Runs one step's kernel with the plan's scratch (nothing for a view);
 * errors name the call. */
int xrun_step(struct exec_plan *p, struct xstep *s, struct error *e);
/* Grows the kernels' scratch to at least n bytes. 0, or -1 with e set when
 * memory is short. */
int xreserve_scratch(struct exec_plan *p, size_t n, struct error *e);
/* Prepares step s's kernel (exec.c), growing the scratch to its needs.
 * Errors name the call. */
int xprepare_step(struct exec_plan *p, struct xstep *s, struct error *e);

/* Exact sizes at run time (exec_bounds.c). xbounds_link, before xbind,
 * marks the steps that read or write bounded tensors and records where
 * their bounded tensors are. Around each such step: xbounds_sync gives its
 * arguments the exact shapes of their slots and, when one changed, runs
 * its shape rule on them for its output's shapes and (when `prepared`)
 * prepares it again; xbounds_publish, once it ran, records its output's
 * exact shapes (a kernel with a data-dependent output wrote them).
 * xbounds_results gives the marks' outputs and the plan's output their
 * exact shapes. All do nothing in a plan without bounds. */
void xbounds_link(struct exec_plan *p);
int xbounds_sync(struct exec_plan *p, struct xstep *s, bool prepared, struct error *e);
void xbounds_publish(struct exec_plan *p, struct xstep *s);
void xbounds_results(struct exec_plan *p);

#endif
