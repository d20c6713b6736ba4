/* spec.h - type specs: "Linear(512, 10)", "Sequential(Flatten(), Linear(256, 10))",
 * "Conv2d kernel_size=3 padding=1", and the composite types made by
 * `define`, turned into modules with what the user left out inferred. */
#ifndef GRAFT_SPEC_H
#define GRAFT_SPEC_H

#include <stdbool.h>

#include "core/error.h"
#include "core/init.h"
#include "core/module.h"
#include "core/util.h"
#include "core/value.h"

struct spec;

struct spec_arg {
	char *key;         /* keyword, or NULL for a positional argument */
	struct spec *sub;  /* a nested spec (Sequential's children), or NULL */
	struct value v;    /* the literal otherwise */
	bool bare;         /* v is a bare word: a define parameter, or a string */
};

struct spec {
	char *name; /* "relu" in "relu:ReLU()", or NULL */
	char *type;
	struct spec_arg *args;
	int nargs;
};

/* p past a "nn." or "torch.nn." prefix before a name (as in code pasted
 * from PyTorch: nn.Linear(512, 10)), or p itself. */
const char *spec_skip_nn_prefix(const char *p);
/* The one of names[0..n) that word names: spelt the same, or else the only
 * one spelt alike without regard to letter case; NULL when none is (or
 * several differ only in case). */
const char *spec_pick_name(const char *word, const char *const *names, int n);
/* Parses one spec in call form at text ("Linear(512, out_features=10)",
 * "relu:ReLU", "Sequential(A(1), B())"). *end gets the first character after
 * it. NULL with e set. */
struct spec *spec_parse(const char *text, const char **end, struct error *e);
/* A spec of `type` with no arguments. */
struct spec *spec_new(const char *type);
/* Appends a keyword argument (copies v). */
void spec_add_kwarg(struct spec *s, const char *key, const struct value *v);
void spec_free(struct spec *s);
/* Writes the spec back in call form. */
void spec_format(const struct spec *s, struct strbuf *sb);

/* A composite type made by `define NAME [k=default ...] = SPEC > SPEC ...`. */
struct type_def {
	char *name;
	char *text;          /* the definition as written */
	struct attr *params; /* parameters with their defaults */
	int nparams;
	struct spec **children;
	int nchildren;
};

struct type_lib {
	struct type_def *defs;
	int n;
};

/* Parses "NAME [k=default ...] = SPEC > SPEC ..." (the text after `define`)
 * and adds or replaces the type in lib. 0 or -1 with e set. */
int type_lib_define(struct type_lib *lib, const char *text, struct error *e);
/* Adds the `define` lines (and comments) of a file to lib; a missing file
 * is not an error when `optional`. 0 or -1 with e set ("FILE:LINE: ..."). */
int type_lib_load(struct type_lib *lib, const char *path, bool optional, struct error *e);
const struct type_def *type_lib_find(const struct type_lib *lib, const char *name);
/* The type a user's word names among those specs build (the registry's,
 * Sequential and lib's), by spec_pick_name after any "nn." prefix: "relu"
 * is ReLU, "nn.Linear" Linear. NULL when none. */
const char *spec_type_name(const struct type_lib *lib, const char *word);
void type_lib_free(struct type_lib *lib);

/* What building a module may use. */
struct build_ctx {
	const struct type_lib *lib;
	struct rng *rng;  /* draws initial values; NULL: shapes only, no values */
};

/* Builds the module a spec describes, named `name`. Arguments left out are
 * taken from `old` when it has the same type, then inferred from `input`
 * (the value flowing in, may be NULL when unknown), then PyTorch's
 * defaults. With ctx->rng the new module's tensors are initialised. On
 * success *out is the module and, when `output` is non-NULL, *output what
 * it returns for `input`. NULL with e set (naming the argument that cannot
 * be inferred and why). */
struct module *spec_build(const struct build_ctx *ctx, const struct spec *s, const char *name,
			  const struct module *old, const struct value *input,
			  struct value *output, struct error *e);

#endif
