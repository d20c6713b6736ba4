/* tui_guard.c - the terminal is given back on every way out of the
 * full-screen outline: a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL), an abort
 * (an allocation that cannot be met), a signal that ends the program
 * (SIGTERM, SIGINT, SIGHUP, SIGQUIT) or an exit() from deep code.
 *
 * The handler leaves curses (endwin, as ncurses' own handlers do), says
 * which signal stopped graft and where the unsaved edits are kept, and
 * re-raises the signal so that the exit status tells it. Readline never
 * owns the terminal in the outline (tui_readline.c), so endwin is all
 * there is to restore. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curses.h>

#include "tui.h"

static const struct {
	int sig;
	const char *name;
} fatal_signals[] = {
    {SIGSEGV, "SIGSEGV (a crash)"},
    {SIGBUS, "SIGBUS (a crash)"},
    {SIGFPE, "SIGFPE (a crash)"},
    {SIGILL, "SIGILL (a crash)"},
    {SIGABRT, "SIGABRT (aborted)"},
    {SIGTERM, "SIGTERM"},
    {SIGINT, "SIGINT"},
    {SIGHUP, "SIGHUP"},
    {SIGQUIT, "SIGQUIT"},
};
#define NFATAL (sizeof fatal_signals / sizeof fatal_signals[0])

static volatile sig_atomic_t guarded;
static const struct editor *guard_ed;
/* "; unsaved edits are kept in PATH (graft --recover)\n", made before any
 * signal can come: the handler only writes it. */
static char kept[4200];

static void say(const char *s)
{
	ssize_t unused = write(STDERR_FILENO, s, strlen(s));
	(void)unused;
}

static void leave_screen(void)
{
	if (!guarded)
		return;
	guarded = 0;
	if (!isendwin())
		endwin();
}

static void on_fatal(int sig)
{
	bool was_guarded = guarded;
	leave_screen();
	if (was_guarded) {
		const char *name = "a signal";
		for (size_t i = 0; i < NFATAL; i++)
			if (fatal_signals[i].sig == sig)
				name = fatal_signals[i].name;
		say("graft: stopped by ");
		say(name);
		say(guard_ed && guard_ed->dirty && kept[0] ? kept : "\n");
	}
	/* SA_RESETHAND made the action the default again */
	raise(sig);
}

void tui_guard_on(const struct editor *ed, const char *journal_path)
{
	static bool at_exit;
	if (!at_exit)
		at_exit = atexit(leave_screen) == 0;
	guard_ed = ed;
	kept[0] = '\0';
	if (journal_path)
		snprintf(kept, sizeof kept, "; unsaved edits are kept in %s (graft --recover)\n",
		         journal_path);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i].sig, &sa, NULL);
	guarded = 1;
}

void tui_guard_off(void)
{
	guarded = 0;
	for (size_t i = 0; i < NFATAL; i++)
		signal(fatal_signals[i].sig, SIG_DFL);
}
