/* pickle_write.c - the pickle writer of pickle.h: protocol 2, the opcodes
 * torch.save uses for a state_dict, globals memoised as pickle does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pickle.h"

void pkw_begin(struct pk_writer *w)
{
	memset(w, 0, sizeof *w);
	strbuf_addn(&w->out, "\x80\x02", 2);
}

void pkw_op(struct pk_writer *w, unsigned char op)
{
	strbuf_addn(&w->out, (const char *)&op, 1);
}

static void put_le(struct pk_writer *w, uint64_t v, int n)
{
	unsigned char b[8];
	for (int i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	strbuf_addn(&w->out, (const char *)b, (size_t)n);
}

static void memo_put_op(struct pk_writer *w)
{
	if (w->memo < 256) {
		pkw_op(w, 'q');
		pkw_op(w, (unsigned char)w->memo);
	} else {
		pkw_op(w, 'r');
		put_le(w, (uint64_t)w->memo, 4);
	}
	w->memo++;
}

void pkw_global(struct pk_writer *w, const char *module, const char *name)
{
	char *key = xasprintf("%s\n%s\n", module, name);
	for (int i = 0; i < w->nglobals; i++)
		if (strcmp(w->globals[i], key) == 0) {
			int m = w->global_memo[i];
			if (m < 256) {
				pkw_op(w, 'h');
				pkw_op(w, (unsigned char)m);
			} else {
				pkw_op(w, 'j');
				put_le(w, (uint64_t)m, 4);
			}
			free(key);
			return;
		}
	pkw_op(w, 'c');
	strbuf_add(&w->out, key);
	if (w->nglobals == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 8;
		w->globals = xrealloc(w->globals, (size_t)w->cap * sizeof *w->globals);
		w->global_memo = xrealloc(w->global_memo, (size_t)w->cap * sizeof *w->global_memo);
	}
	w->globals[w->nglobals] = key;
	w->global_memo[w->nglobals++] = w->memo;
	memo_put_op(w);
}

void pkw_str(struct pk_writer *w, const char *s)
{
	size_t n = strlen(s);
	pkw_op(w, 'X');
	put_le(w, n, 4);
	strbuf_addn(&w->out, s, n);
}

void pkw_int(struct pk_writer *w, int64_t v)
{
	if (v >= 0 && v < 256) {
		pkw_op(w, 'K');
		put_le(w, (uint64_t)v, 1);
	} else if (v >= 0 && v < 65536) {
		pkw_op(w, 'M');
		put_le(w, (uint64_t)v, 2);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		pkw_op(w, 'J');
		put_le(w, (uint64_t)(uint32_t)(int32_t)v, 4);
	} else {
		/* LONG1 with the fewest bytes that keep the sign, as pickle does */
		int n = 8;
		while (n > 1) {
			int64_t lo = -((int64_t)1 << (8 * (n - 1) - 1));
			int64_t hi = ((int64_t)1 << (8 * (n - 1) - 1)) - 1;
			if (v < lo || v > hi)
				break;
			n--;
		}
		pkw_op(w, 0x8a);
		pkw_op(w, (unsigned char)n);
		put_le(w, (uint64_t)v, n);
	}
}

void pkw_bool(struct pk_writer *w, bool b)
{
	pkw_op(w, b ? 0x88 : 0x89);
}

void pkw_int_tuple(struct pk_writer *w, const int64_t *v, int n)
{
	if (n == 0) {
		pkw_op(w, ')');
		return;
	}
	if (n > 3)
		pkw_op(w, '(');
	for (int i = 0; i < n; i++)
		pkw_int(w, v[i]);
	pkw_op(w, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
}

char *pkw_finish(struct pk_writer *w, size_t *len)
{
	pkw_op(w, '.');
	*len = w->out.len;
	return strbuf_take(&w->out);
}

void pkw_free(struct pk_writer *w)
{
	strbuf_free(&w->out);
	for (int i = 0; i < w->nglobals; i++)
		free(w->globals[i]);
	free(w->globals);
	free(w->global_memo);
	memset(w, 0, sizeof *w);
}
