/* util.c - allocation, string buffers, number formatting, small path helpers. */
#include "core/util.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

static void out_of_memory(size_t n)
{
	fprintf(stderr, "graft: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory(n);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		out_of_memory(count * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		out_of_memory(n);
	return p;
}

/* Bytes of physical memory, or SIZE_MAX when the system does not say. */
static size_t physical_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	size_t bytes;
	if (pages <= 0 || page <= 0 ||
	    __builtin_mul_overflow((size_t)pages, (size_t)page, &bytes))
		return SIZE_MAX;
	return bytes;
}

void *try_calloc(size_t count, size_t size, const char *what, struct error *e)
{
	char want[32], have[32];
	size_t bytes;
	if (__builtin_mul_overflow(count, size, &bytes)) {
		error_set(e, "cannot allocate %zu x %zu bytes for %s: the size overflows", count,
		          size, what);
		return NULL;
	}
	size_t limit = physical_memory();
	fmt_bytes((double)bytes, want, sizeof want);
	if (bytes > limit) {
		error_set(e, "cannot allocate %s for %s: more than the %s of memory", want, what,
		          fmt_bytes((double)limit, have, sizeof have));
		return NULL;
	}
	void *p = calloc(bytes ? bytes : 1, 1);
	if (!p)
		error_set(e, "cannot allocate %s for %s: out of memory", want, what);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	char *s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, again);
	va_end(again);
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void xgrow(void *items, int *cap, int need, size_t elem)
{
	void **p = items;
	if (need <= *cap)
		return;
	int n = *cap ? *cap : 4;
	while (n < need)
		n *= 2;
	*p = xrealloc(*p, (size_t)n * elem);
	*cap = n;
}

void strbuf_addn(struct strbuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 64;
		while (cap < sb->len + n + 1)
			cap *= 2;
		sb->s = xrealloc(sb->s, cap);
		sb->cap = cap;
	}
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

void strbuf_add(struct strbuf *sb, const char *s)
{
	strbuf_addn(sb, s, strlen(s));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	strbuf_addn(sb, "", 0);
	if (sb->len + (size_t)n + 1 > sb->cap) {
		size_t cap = sb->cap;
		while (cap < sb->len + (size_t)n + 1)
			cap *= 2;
		sb->s = xrealloc(sb->s, cap);
		sb->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

char *strbuf_take(struct strbuf *sb)
{
	char *s = sb->s ? sb->s : xstrdup("");
	sb->s = NULL;
	sb->len = sb->cap = 0;
	return s;
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
}

const char *fmt_count(int64_t n, char *buf, size_t size)
{
	char digits[32];
	int len = snprintf(digits, sizeof digits, "%lld", (long long)(n < 0 ? -n : n));
	size_t o = 0;
	if (n < 0 && o + 1 < size)
		buf[o++] = '-';
	for (int i = 0; i < len && o + 1 < size; i++) {
		if (i > 0 && (len - i) % 3 == 0 && o + 1 < size)
			buf[o++] = ',';
		if (o + 1 < size)
			buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

const char *fmt_compact(double n, char *buf, size_t size)
{
	static const char units[] = " KMGTP";
	int u = 0;
	double a = n < 0 ? -n : n;
	while (a >= 999.95 && u < 5) {
		a /= 1000;
		n /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0f", n);
	else if (a < 9.995)
		snprintf(buf, size, "%.2f%c", n, units[u]);
	else if (a < 99.95)
		snprintf(buf, size, "%.1f%c", n, units[u]);
	else
		snprintf(buf, size, "%.0f%c", n, units[u]);
	return buf;
}

const char *fmt_bytes(double bytes, char *buf, size_t size)
{
	static const char *units[] = {"B", "KB", "MB", "GB", "TB"};
	int u = 0;
	while (bytes >= 1000 && u < 4) {
		bytes /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0f B", bytes);
	else
		snprintf(buf, size, "%.2f %s", bytes, units[u]);
	return buf;
}

bool str_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool path_same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

char *path_beside_exe(const char *name)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return xasprintf("%s/%s", exe, name);
}

enum path_place path_place(const char *path, const char *dir)
{
	char *real = realpath(path, NULL);
	if (!real)
		return PATH_MISSING;
	char *real_dir = realpath(dir, NULL);
	size_t n = real_dir ? strlen(real_dir) : 0;
	bool inside = real_dir && strncmp(real, real_dir, n) == 0 &&
		      (real[n] == '/' || (n == 1 && real_dir[0] == '/'));
	free(real_dir);
	free(real);
	return inside ? PATH_INSIDE : PATH_OUTSIDE;
}
