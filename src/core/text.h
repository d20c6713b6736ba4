/* text.h - text for people: display width and did-you-mean suggestions. */
#ifndef GRAFT_TEXT_H
#define GRAFT_TEXT_H

/* Display width of a UTF-8 string in terminal columns (each code point one
 * column: graft's box and arrow characters are all single-width). */
int text_width(const char *s);

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
