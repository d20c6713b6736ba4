/* text.c - display width, control characters shown escaped, and
 * did-you-mean suggestions. */
#include "core/text.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* The length in bytes of the well-formed UTF-8 character at p (0 when
 * none, as text_utf8_len); *cp gets its code point. */
static int utf8_decode(const unsigned char *p, unsigned *cp)
{
	int n;
	unsigned min;
	*cp = p[0];
	if (p[0] < 0x80)
		return p[0] ? 1 : 0;
	if ((p[0] & 0xE0) == 0xC0) {
		n = 2, min = 0x80, *cp = p[0] & 0x1Fu;
	} else if ((p[0] & 0xF0) == 0xE0) {
		n = 3, min = 0x800, *cp = p[0] & 0x0Fu;
	} else if ((p[0] & 0xF8) == 0xF0) {
		n = 4, min = 0x10000, *cp = p[0] & 0x07u;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		*cp = *cp << 6 | (p[i] & 0x3Fu);
	}
	if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
		return 0;
	return n;
}

int text_utf8_len(const char *s)
{
	unsigned cp;
	return utf8_decode((const unsigned char *)s, &cp);
}

/* ASCII for the characters graft itself writes (registry descriptions,
 * summaries, the outline's glyphs). */
static const struct {
	unsigned cp;
	const char *ascii;
} look_alikes[] = {
    {0x2192, "->"},  {0x2190, "<-"}, {0x00D7, "x"},  {0x2014, "-"}, {0x2013, "-"},
    {0x2026, "..."}, {0x00B7, "."},  {0x2713, "ok"}, {0x2717, "X"}, {0x25BC, "v"},
    {0x2502, "|"},   {0x251C, "|"},  {0x2514, "`"},  {0x2500, "-"},
};

/* The text the character at p is shown as (written to piece, at most 15
 * bytes and a NUL), in ASCII only when `ascii`; sets *used to the bytes it
 * takes from p. */
static void escape_one(const unsigned char *p, char piece[16], int *used, bool ascii)
{
	unsigned cp;
	int n = utf8_decode(p, &cp);
	*used = n ? n : 1;
	if (n == 0 || *p < 0x20 || *p == 0x7F) {
		snprintf(piece, 16, "\\x%02x", *p);
	} else if ((n == 2 && p[0] == 0xC2 && p[1] < 0xA0) || (ascii && n > 1)) {
		for (size_t i = 0; ascii && i < sizeof look_alikes / sizeof look_alikes[0]; i++) {
			if (look_alikes[i].cp == cp) {
				snprintf(piece, 16, "%s", look_alikes[i].ascii);
				return;
			}
		}
		snprintf(piece, 16, cp > 0xFFFF ? "\\U%08x" : "\\u%04x", cp);
	} else {
		memcpy(piece, p, (size_t)n);
		piece[n] = '\0';
	}
}

static void escape_all(struct strbuf *sb, const char *s, bool ascii)
{
	char piece[16];
	int used;
	for (const unsigned char *p = (const unsigned char *)s; *p; p += used) {
		escape_one(p, piece, &used, ascii);
		strbuf_add(sb, piece);
	}
}

void text_escape_control(struct strbuf *sb, const char *s)
{
	escape_all(sb, s, false);
}

void text_escape_ascii(struct strbuf *sb, const char *s)
{
	escape_all(sb, s, true);
}

char *text_escape_buf(const char *s, char *buf, size_t size)
{
	char piece[16];
	int used;
	size_t len = 0;
	if (size == 0)
		return buf;
	for (const unsigned char *p = (const unsigned char *)s; *p; p += used) {
		escape_one(p, piece, &used, false);
		size_t n = strlen(piece);
		if (len + n >= size)
			break;
		memcpy(buf + len, piece, n);
		len += n;
	}
	buf[len] = '\0';
	return buf;
}

int text_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	int row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int best = diag + (tolower((unsigned char)a[i - 1]) !=
			                   tolower((unsigned char)b[j - 1]));
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *text_closest(const char *word, const char *const *names, int n, int max_distance)
{
	const char *best = NULL;
	int best_d = max_distance + 1;
	for (int i = 0; i < n; i++) {
		int d = text_distance(word, names[i]);
		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best;
}

const char *text_did_you_mean(const char *word, const char *const *names, int n)
{
	int limit = (int)strlen(word) / 2 + 1;
	return text_closest(word, names, n, limit < 3 ? limit : 3);
}
