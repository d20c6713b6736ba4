/* util.h - allocation that never returns NULL, small string and path helpers. */
#ifndef GRAFT_UTIL_H
#define GRAFT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocators: abort with a message on exhaustion, never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

struct error;
/* Zeroed memory for sizes that come from a file or the user: NULL with e
 * set to "cannot allocate SIZE for WHAT: reason" when count * size
 * overflows, exceeds the machine's physical memory, or malloc fails. */
void *try_calloc(size_t count, size_t size, const char *what, struct error *e);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd string formatted like printf. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with a va_list, which it uses up as vsnprintf does. */
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Grows *items (each of size elem) so that index `need - 1` fits; *cap holds
 * the current capacity in elements. */
void xgrow(void *items, int *cap, int need, size_t elem);

/* A growable string buffer. Start with `struct strbuf sb = {0};`. */
struct strbuf {
	char *s;
	size_t len, cap;
};
void strbuf_add(struct strbuf *sb, const char *s);
void strbuf_addn(struct strbuf *sb, const char *s, size_t n);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the string (never NULL) and leaves sb empty; the caller frees it. */
char *strbuf_take(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);

/* True when s ends with suffix. */
bool str_ends_with(const char *s, const char *suffix);
/* True when paths a and b (either may be NULL) name the same existing
 * file, symlinks followed. */
bool path_same_file(const char *a, const char *b);
/* FOLDER/name, where FOLDER holds the running executable (data shipped
 * beside an uninstalled build); malloc'd, NULL when it cannot be found. */
char *path_beside_exe(const char *name);

/* Where a path leads, symlinks resolved, seen from a folder. */
enum path_place {
	PATH_INSIDE,  /* an existing file or folder inside dir (at any depth) */
	PATH_OUTSIDE, /* it exists, but not inside dir (or dir cannot be resolved) */
	PATH_MISSING  /* it does not resolve: missing, a dangling link, no access */
};
/* Where `path` lies, symlinks resolved, relative to the folder `dir`
 * (resolved too), so that "dir/../x" and a link out of dir are outside. */
enum path_place path_place(const char *path, const char *dir);

/* Formats n with thousands separators (11,689,512) into buf. */
const char *fmt_count(int64_t n, char *buf, size_t size);
/* Formats n compactly (11.7M, 1.82G, 512) into buf. */
const char *fmt_compact(double n, char *buf, size_t size);
/* Formats a byte count (44.6 MB) into buf. */
const char *fmt_bytes(double bytes, char *buf, size_t size);

#endif
