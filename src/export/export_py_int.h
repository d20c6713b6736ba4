/* export_py_int.h - what export_py.c and export_py_forward.c share: the
 * pieces a class's code is made of, and the writers of Python values. */
#ifndef GRAFT_EXPORT_PY_INT_H
#define GRAFT_EXPORT_PY_INT_H

#include <stdbool.h>

#include "core/error.h"
#include "core/model.h"
#include "core/module.h"
#include "core/util.h"
#include "core/value.h"

/* Helpers written into the file only when used. */
enum {
	NEED_OPERATOR = 1 << 0,
	NEED_MATH = 1 << 1,
	NEED_LAYERNORM2D = 1 << 2,
	NEED_STOCHASTIC = 1 << 3,
	NEED_PERMUTE = 1 << 4,
	NEED_SWIN = 1 << 5,
	NEED_PATCH_PAD = 1 << 6,
	NEED_REL_BIAS = 1 << 7,
	NEED_SDPA = 1 << 8,
	NEED_SHUFFLE = 1 << 9,
	NEED_FROZEN_BN = 1 << 10,
	NEED_TORCHVISION = 1 << 11, /* import torchvision (torchvision.ops calls) */
	NEED_DETECTION = 1 << 12,
	NEED_MVIT_DIMS = 1 << 13,
	NEED_MVIT_REL_POS = 1 << 14,
	NEED_MVIT_SHORTCUT = 1 << 15,
	NEED_INDEX_PYRAMID = 1 << 16,
	NEED_DEFAULT_BOXES = 1 << 17,
	NEED_ONESTAGE = 1 << 18,
};

enum piece_kind { P_TEXT, P_LIT, P_CHILD };

struct inst;

struct piece {
	enum piece_kind kind;
	char *text;         /* P_TEXT: code; P_LIT: the constant */
	char *name, *qname; /* P_LIT: names for it as a parameter, short and long */
	bool forward;       /* P_LIT: in forward, so kept as an attribute */
	struct inst *child; /* P_CHILD */
};

struct pbuf {
	struct piece *p;
	int n, cap;
};

struct group;

struct inst {
	const struct module *mod;
	struct group *g;
	struct pbuf body;
	char **args; /* values of the group's parameters, once finalised */
};

struct group {
	int id;
	char *type, *key, *name;
	bool chain;
	struct inst **insts;
	int ninsts, cap;
	int npos;       /* positions: P_LIT holes and the children's arguments */
	int *pos_param; /* per position: a parameter, or -1 for a constant */
	char **params;  /* parameter names */
	char **attrs;   /* per parameter: self.NAME for forward, or NULL */
	int nparams;
};

struct exporter {
	const struct model *m;
	struct group **groups;
	int ngroups, gcap;
	struct inst **insts; /* all, for freeing */
	int ninsts, icap;
	unsigned needs;
	struct error *e;
	bool failed;
};

/* The variable names of one forward. */
struct names {
	char **var; /* per node */
	int n;
};

/* A Python identifier that is not a keyword. */
bool py_is_identifier(const char *s);
/* A name the file uses globally (torch, F, a helper), which a local
 * variable must not shadow. */
bool py_reserved(const char *s);
/* A string literal. */
void py_str(struct strbuf *sb, const char *s);
/* A value as Python; a reference is the variable of its node in vars;
 * in_index writes slices as a:b. A tensor constant sets x's error. */
void py_value(struct exporter *x, struct strbuf *sb, const struct value *v,
              const struct names *vars, bool in_index);
/* An index for x[...]: a tuple without its parentheses. */
void py_index(struct exporter *x, struct strbuf *sb, const struct value *v,
              const struct names *vars);
/* base.a.b for the dotted path, with getattr for parts that are not names. */
void py_path(struct strbuf *sb, const char *base, const char *path);

/* Appends code, or the text of sb (which is then emptied). */
void pb_text(struct pbuf *pb, const char *text);
void pb_sb(struct pbuf *pb, struct strbuf *sb);
/* A value: a hole (named name, or qname when name is taken) when it is a
 * constant number or tuple of them, plain code otherwise. */
void pb_value(struct exporter *x, struct pbuf *pb, const struct value *v, const struct names *vars,
              const char *name, const char *qname, bool forward);

/* The forward method of a composite with a graph (export_py_forward.c). */
void py_forward_body(struct exporter *x, struct pbuf *pb, const struct module *mod);

#endif
