/* text.c - display width and did-you-mean suggestions. */
#include "core/text.h"

#include <ctype.h>
#include <string.h>

int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
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
