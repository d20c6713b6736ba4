/* error.h - how libgraft reports failure.
 *
 * Fallible functions take a `struct error *` and return a status (0 or a
 * pointer on success, -1 or NULL on failure) after filling the message. The
 * core never prints and never exits: the caller decides how to show it. */
#ifndef GRAFT_ERROR_H
#define GRAFT_ERROR_H

enum error_kind {
	ERR_NONE = 0,
	ERR_INPUT,   /* unreadable or invalid input: a file, a command, an argument */
	ERR_SHAPE,   /* the model does not check: a shape break */
	ERR_INTERNAL /* a bug in graft */
};

struct error {
	enum error_kind kind;
	char msg[1024];
};

/* Sets the message (printf-style) with kind ERR_INPUT; returns -1 so callers
 * can write `return error_set(e, ...)`. Tolerates e == NULL. */
int error_set(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with an explicit kind. */
int error_setk(struct error *e, enum error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes the current message with "prefix: " (printf-style). Returns -1. */
int error_prefix(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears e. */
void error_clear(struct error *e);

#endif
