/* cli.h - the graft subcommands beyond summary and help. */
#ifndef GRAFT_CLI_H
#define GRAFT_CLI_H

enum { EXIT_OK = 0, EXIT_BREAK = 1, EXIT_USAGE = 2 };

/* graft edit MODEL (-e CMD | -f FILE)... [-o OUT] [...]: batch edits, or an
 * interactive prompt without -e/-f. Returns the exit status. */
int cli_edit(int argc, char **argv);
/* graft --recover: replays the journal of an interrupted interactive
 * session and continues it. */
int cli_recover(int argc, char **argv);
extern const char cli_edit_synopsis[];
extern const char cli_edit_help[];

#endif
