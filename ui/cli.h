/* cli.h - the graft subcommands beyond summary and help. */
#ifndef GRAFT_CLI_H
#define GRAFT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"

enum { EXIT_OK = 0, EXIT_BREAK = 1, EXIT_USAGE = 2 };

/* graft edit MODEL (-e CMD | -f FILE)... [-o OUT] [...]: batch edits, or an
 * interactive prompt without -e/-f. Returns the exit status. */
int cli_edit(int argc, char **argv);
/* graft --recover [JOURNAL]: replays the journal of an interrupted
 * interactive session (journal.graft by default) and continues it. */
int cli_recover(int argc, char **argv);
/* graft MODEL on a terminal: the full-screen outline (cli_tui.c). */
int cli_tui(int argc, char **argv);
/* Whether the terminal on stdout can show the full-screen outline (TERM
 * names a terminal that can move its cursor); if not, why into why. */
bool cli_tui_terminal_ok(char *why, size_t size);
extern const char cli_tui_synopsis[];

struct editor;
struct model;
struct tensor;
/* Opens the model at path (weights from `weights` when non-NULL) and sets
 * its inputs' shapes from n --input arguments (cli_inputs_apply). NULL
 * after printing the problem to stderr. */
struct model *cli_open_model(const char *path, const char *weights, const char *const *inputs,
                             int n);

/* --input arguments (cli_input.c): each "[NAME=]SHAPE" or "[NAME=]FILE.npy",
 * for the input called NAME, or else the next input not yet given, in
 * order. */
#define CLI_MAX_INPUTS 16
struct cli_input {
	bool given;
	const char *file;   /* a .npy file, or NULL for a shape */
	struct shape shape; /* the shape given (a file's: once read) */
};
/* Fills out[i] for each of m's inputs (m->ninputs <= CLI_MAX_INPUTS) from
 * the n arguments. 0, or -1 after printing the problem (no such input,
 * given twice, more arguments than inputs, neither a shape nor a .npy). */
int cli_inputs_parse(const struct model *m, const char *const *args, int n,
                     struct cli_input *out);
/* Reads file as the value of m's input i into *out: its dtype must be
 * the input's (any floating one for a floating input). 0, or -1 after
 * printing a message naming the input. */
int cli_input_read(const struct model *m, int i, const char *file, struct tensor *out);
/* Sets the shapes of m's inputs from n --input arguments (a file gives its
 * shape, after the dtype check). 0, or -1 after printing the problem. */
int cli_inputs_apply(struct model *m, const char *const *args, int n);
/* Loads the shipped type library ($GRAFT_TYPES, lib/types.graft beside an
 * uninstalled binary, or the installed one), then the user's
 * ($XDG_CONFIG_HOME/graft/types.graft); problems go to stderr. */
void cli_load_type_libraries(struct editor *ed);
/* The same libraries into lib, without an editor (graft help TYPE). */
struct type_lib;
void cli_load_types(struct type_lib *lib);
/* Takes the character type from the environment's locale (LC_CTYPE only:
 * numbers are still written as in C) and says whether it is UTF-8. */
bool cli_locale_utf8(void);
/* $XDG_STATE_HOME/graft/FILE (~/.local/state/graft/FILE), creating the
 * directory; malloc'd. */
char *cli_state_path(const char *file);
/* Starts ed's journal: journal.graft in the state directory, or
 * journal.PID.graft while another graft holds that one. Returns its path
 * (malloc'd), or NULL after a warning on stderr. */
char *cli_journal_open(struct editor *ed);
/* At the end of an editing session: removes the journal when nothing is
 * unsaved, else says where the edits are kept. Frees path (NULL is fine). */
void cli_journal_close(const struct editor *ed, char *path);

struct module;
/* Names one output of a module call for a table: "PATH #CALL [OUTPUT]",
 * the root as "(root)", the call (from 1) from the second call on, the
 * output's index when the call returned several tensors. Returns buf. */
const char *cli_call_name(const struct module *m, int call, int output, bool several, char *buf,
                          size_t size);

/* graft convert IN OUT, graft convert --index DIR (cli_convert.c). */
int cli_convert(int argc, char **argv);
extern const char cli_convert_synopsis[];
extern const char cli_convert_help[];
/* graft export-py MODEL -o OUT.py (cli_convert.c). */
int cli_export_py(int argc, char **argv);
extern const char cli_export_py_synopsis[];
extern const char cli_export_py_help[];
int cli_run(int argc, char **argv); extern const char cli_run_synopsis[], cli_run_help[];
/* graft diff A B (cli_diff.c). Exit 0 same, 1 different, 2 error. */
int cli_diff(int argc, char **argv);
extern const char cli_diff_synopsis[];
extern const char cli_diff_help[];
struct tensor;
struct model;
/* The model to run for m, read from path: m itself, or, when it has no
 * weights, *init, a copy with PyTorch's default initialisation from
 * init_seed (the caller frees it), said on stderr. NULL, after a message,
 * when m's forward is unknown or it cannot be initialised. */
struct model *cli_runnable(struct model *m, const char *path, uint64_t init_seed,
                           struct model **init);
/* graft run MODEL --compare OTHER (cli_run_compare.c): runs m (ready to
 * run) and OTHER (initialised from init_seed when it has no weights) on the
 * inputs and prints the drift of OTHER's outputs and modules from m's.
 * Returns the exit status. */
int cli_run_compare(struct model *m, const char *other_path, uint64_t init_seed,
                    const struct tensor *in, int nin);
extern const char cli_edit_synopsis[];
extern const char cli_edit_help[];

#endif
