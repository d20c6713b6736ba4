/* text.h - text for people: display width, control characters shown
 * escaped, and did-you-mean suggestions. */
#ifndef GRAFT_TEXT_H
#define GRAFT_TEXT_H

#include <stddef.h>

#include "core/util.h"

/* Display width of a UTF-8 string in terminal columns (each code point one
 * column: graft's box and arrow characters are all single-width). */
int text_width(const char *s);

/* The length in bytes (1 to 4) of the well-formed UTF-8 character s starts
 * with, or 0 when it starts none (a stray continuation byte, a truncated or
 * overlong sequence, a surrogate, past U+10FFFF, or the end of s). */
int text_utf8_len(const char *s);

/* Appends s to sb with everything a terminal would act on, and every byte
 * that is not UTF-8, shown as an escape: C0 controls, DEL and stray bytes
 * as \xNN, C1 controls as \u00NN. Other text is copied as it is. For any
 * name or text from a file before it is printed or drawn. */
void text_escape_control(struct strbuf *sb, const char *s);

/* text_escape_control, with every character beyond ASCII shown as an
 * ASCII look-alike (the arrow as ->, the multiplication sign as x) or as
 * \uXXXX: for a terminal whose locale is not UTF-8. */
void text_escape_ascii(struct strbuf *sb, const char *s);

/* text_escape_control into buf of size bytes, cut before the first
 * character or escape that does not fit; always terminated. Returns buf. */
char *text_escape_buf(const char *s, char *buf, size_t size);

/* Levenshtein distance between a and b, letters compared without regard to
 * ASCII case; strings longer than 64 bytes are 99 apart. */
int text_distance(const char *a, const char *b);

/* The first of `names` closest to `word` (text_distance) within
 * max_distance, or NULL. */
const char *text_closest(const char *word, const char *const *names, int n, int max_distance);

/* The name among `names` that `word` is most likely a typo of (at most 3
 * edits, and at most half the word plus one), or NULL. */
const char *text_did_you_mean(const char *word, const char *const *names, int n);

#endif
