/* cmd.h - the command language: one tokenizer, and tables that describe
 * each command once (name, alias, argument kinds, help).
 *
 * Usage lines, the argument count check, `help` and completion are all
 * derived from a command's struct cmd_spec. The editor's commands are the
 * table in cmd.c; a front end with commands of its own (the screen's quit,
 * goto, ...) describes them with the same struct and hands them to
 * cmd_complete. */
#ifndef GRAFT_CMD_H
#define GRAFT_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/util.h"

struct editor;

#define CMD_MAX_WORDS 64
#define CMD_MAX_ARGS  5

/* What an argument is, for completion (and for the usage line's shape). */
enum cmd_arg_kind {
	CMD_ARG_NONE,     /* ends the argument list */
	CMD_ARG_PATH,     /* a module path */
	CMD_ARG_SELECTOR, /* a path, glob or type selector */
	CMD_ARG_TYPE,     /* a module type, perhaps with (arguments) */
	CMD_ARG_KWARGS,   /* k=v attributes of the type before (or of the module at the path) */
	CMD_ARG_OPTION,   /* name=VALUE: `label` is the name, `words` the values, if fixed */
	CMD_ARG_WORD,     /* one of `words` */
	CMD_ARG_FILE,     /* a file name */
	CMD_ARG_COMMAND,  /* a command name */
	CMD_ARG_VALUE,    /* a number, a shape or a new name: nothing to complete */
	CMD_ARG_TEXT,     /* the rest of the line, checked by the command itself */
};

enum {
	CMD_OPTIONAL = 1, /* may be left out: [ARG] */
	CMD_MANY = 2,     /* may repeat: ARG ... */
};

struct cmd_arg {
	enum cmd_arg_kind kind;
	const char *label;        /* as the usage line shows it ("PATH", "keep") */
	const char *const *words; /* NULL-terminated choices of a WORD or OPTION */
	int flags;                /* CMD_OPTIONAL | CMD_MANY */
};

struct cmd_spec {
	const char *name;
	const char *alias; /* a shorter name, or NULL */
	struct cmd_arg args[CMD_MAX_ARGS];
	const char *help;  /* one paragraph (the screen shows its first line) */
};

/* The words of a command line. */
struct cmd_words {
	char *w[CMD_MAX_WORDS]; /* malloc'd */
	int n;
	const char *tail; /* the word the text ends in (no space after it), or NULL */
	char open;        /* what tail leaves open: a quote character, '(' for brackets, or 0 */
};

/* Splits the first len bytes of line into words at spaces outside (), []
 * and quotes; '#' outside them starts a comment. A word that runs to the
 * end of the text is left in tail, not in w (the caller decides whether it
 * is finished). Returns 0, or -1 with e set (and nothing to free) when
 * there are more than CMD_MAX_WORDS words. */
int cmd_split(const char *line, size_t len, struct cmd_words *out, struct error *e);
/* Splits a whole line: as cmd_split with the last word kept in w; an
 * unbalanced quote or bracket is an error. */
int cmd_split_line(const char *line, struct cmd_words *out, struct error *e);
void cmd_words_free(struct cmd_words *words);

/* Appends "name ARG [ARG] ..." built from the arguments. */
void cmd_usage(const struct cmd_spec *spec, struct strbuf *out);
/* Checks the count of arguments in w[1..n) against spec (a TEXT argument
 * counts none) and each WORD among its choices. 0, or -1 with e set
 * ("usage: ..."). */
int cmd_check_args(const struct cmd_spec *spec, char **w, int n, struct error *e);
/* Whether spec is called name, or has it as its alias. */
bool cmd_is_called(const struct cmd_spec *spec, const char *name);
/* Whether a word is "k=v" (an identifier, then '=' before any bracket). */
bool cmd_is_kwarg(const char *word);

/* The editor's commands. */
typedef int (*cmd_run_fn)(struct editor *ed, char **w, int n, const char *line,
			  struct strbuf *out, struct error *e);
struct cmd_def {
	struct cmd_spec spec;
	bool changes; /* runs between a snapshot and a commit */
	bool journal; /* a non-changing command the journal records as typed */
	cmd_run_fn run;
};
/* The i-th editor command, NULL past the end. */
const struct cmd_def *cmd_at(int i);
/* The editor command called name (or by that alias), or NULL. */
const struct cmd_def *cmd_find(const char *name);
/* The editor command nearest to a misspelt name, or NULL. */
const char *cmd_near(const char *name);
/* One-paragraph help for an editor command, or NULL. */
const char *cmd_explain(const char *name);

/* Completion of a command line being typed; curses-free. */
struct cmd_complete_ctx {
	const struct editor *ed;
	/* The front end's own commands, beside the editor's: the i-th, NULL
	 * past the end; or NULL for none. */
	const struct cmd_spec *(*more)(int i);
	bool marks; /* modules are marked: "{}" may stand for a path */
};
struct cmd_candidates {
	char **v; /* malloc'd, each starting with the word being completed */
	int n, cap;
	bool files;    /* a file name goes here: complete from the file system */
	bool continues; /* the one candidate is a k= or a module with children: no space after it */
};
/* The candidates for the word line[start, end) of a command line, from the
 * argument kinds of the command being typed. Fills *out (zeroed first). */
void cmd_complete(const struct cmd_complete_ctx *ctx, const char *line, int start, int end,
		  struct cmd_candidates *out);
void cmd_candidates_free(struct cmd_candidates *c);

#endif
