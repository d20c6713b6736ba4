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

void pkw_storage(struct pk_writer *w, enum dtype dt, const char *key, const char *location,
                 int64_t numel)
{
	pkw_op(w, '(');
	pkw_str(w, "storage");
	pkw_global(w, "torch", pk_storage_name(dt));
	pkw_str(w, key);
	pkw_str(w, location);
	pkw_int(w, numel);
	pkw_op(w, 't');
	pkw_op(w, 'Q');
}

/* ---- any value, for the parts of a checkpoint graft writes back ---- */

/* Deepest nesting written back (the reader's MARKs are bounded, not its
 * nesting through the memo). */
#define PKW_MAX_DEPTH 1000

/* Values already written, by address: their memo index, or -1 while a
 * tuple is being written (its memo index comes after its items). */
struct memo_map {
	const struct pk_value **keys;
	int *memo;
	size_t n, cap; /* cap: a power of two, or 0 */
};

static size_t memo_slot(const struct memo_map *m, const struct pk_value *v)
{
	size_t h = ((uintptr_t)v >> 4) * 0x9E3779B97F4A7C15ull;
	size_t i = h & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != v)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int *memo_find(const struct memo_map *m, const struct pk_value *v)
{
	if (!m->cap)
		return NULL;
	size_t i = memo_slot(m, v);
	return m->keys[i] ? &m->memo[i] : NULL;
}

static void memo_add(struct memo_map *m, const struct pk_value *v, int memo)
{
	if (2 * (m->n + 1) > m->cap) {
		struct memo_map old = *m;
		m->cap = m->cap ? 2 * m->cap : 64;
		m->keys = xcalloc(m->cap, sizeof *m->keys);
		m->memo = xcalloc(m->cap, sizeof *m->memo);
		for (size_t i = 0; i < old.cap; i++)
			if (old.keys[i]) {
				size_t j = memo_slot(m, old.keys[i]);
				m->keys[j] = old.keys[i];
				m->memo[j] = old.memo[i];
			}
		free(old.keys);
		free(old.memo);
	}
	size_t i = memo_slot(m, v);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = v;
	m->memo[i] = memo;
}

struct value_writer {
	struct pk_writer *w;
	struct memo_map memo;
	const struct pkw_hooks *h;
	struct error *e;
};

/* Stores the value just written in the memo under v. */
static void remember(struct value_writer *vw, const struct pk_value *v)
{
	memo_add(&vw->memo, v, vw->w->memo);
	memo_put_op(vw->w);
}

static int write_value(struct value_writer *vw, const struct pk_value *v, int depth);

/* Writes n items, MARK ... OP in batches of 1000 as pickle does. */
static int write_batched(struct value_writer *vw, struct pk_value *const *a,
                         struct pk_value *const *b, int n, unsigned char op, int depth)
{
	for (int i = 0; i < n; i++) {
		if (i % 1000 == 0)
			pkw_op(vw->w, '(');
		if (write_value(vw, a[i], depth + 1) < 0 ||
		    (b && write_value(vw, b[i], depth + 1) < 0))
			return -1;
		if (i % 1000 == 999 || i == n - 1)
			pkw_op(vw->w, op);
	}
	return 0;
}

static void write_tensor(struct value_writer *vw, const struct pk_value *v)
{
	struct pk_writer *w = vw->w;
	const struct pk_value *st = v->u.tensor.storage;
	if (v->u.tensor.parameter)
		pkw_global(w, "torch._utils", "_rebuild_parameter");
	pkw_global(w, "torch._utils", "_rebuild_tensor_v2");
	pkw_op(w, '(');
	pkw_storage(w, st->u.storage.dtype, vw->h->storage_key(st, vw->h->storage_ctx),
	            st->u.storage.location, st->u.storage.numel);
	pkw_int(w, v->u.tensor.offset);
	pkw_int_tuple(w, v->u.tensor.shape.dim, v->u.tensor.shape.ndim);
	pkw_int_tuple(w, v->u.tensor.stride, v->u.tensor.shape.ndim);
	pkw_bool(w, v->u.tensor.parameter ? false : v->u.tensor.requires_grad);
	pkw_global(w, "collections", "OrderedDict");
	pkw_op(w, ')');
	pkw_op(w, 'R');
	pkw_op(w, 't');
	pkw_op(w, 'R');
	if (v->u.tensor.parameter) {
		pkw_bool(w, v->u.tensor.requires_grad);
		pkw_global(w, "collections", "OrderedDict");
		pkw_op(w, ')');
		pkw_op(w, 'R');
		pkw_op(w, 0x87); /* TUPLE3 */
		pkw_op(w, 'R');
	}
}

static int write_value(struct value_writer *vw, const struct pk_value *v, int depth)
{
	struct pk_writer *w = vw->w;
	if (depth > PKW_MAX_DEPTH)
		return error_set(vw->e, "values nested deeper than %d levels", PKW_MAX_DEPTH);
	if (v == vw->h->hole) {
		vw->h->fill(w, vw->h->fill_ctx);
		return 0;
	}
	int *seen = memo_find(&vw->memo, v);
	if (seen && *seen < 0)
		return error_set(vw->e, "a tuple that holds itself");
	if (seen) {
		if (*seen < 256) {
			pkw_op(w, 'h');
			pkw_op(w, (unsigned char)*seen);
		} else {
			pkw_op(w, 'j');
			put_le(w, (uint64_t)*seen, 4);
		}
		return 0;
	}
	switch (v->kind) {
	case PK_NONE:
		pkw_op(w, 'N');
		return 0;
	case PK_BOOL:
		pkw_bool(w, v->u.b);
		return 0;
	case PK_INT:
		pkw_int(w, v->u.i);
		return 0;
	case PK_FLOAT: {
		uint64_t bits;
		memcpy(&bits, &v->u.f, sizeof bits);
		pkw_op(w, 'G');
		for (int i = 7; i >= 0; i--)
			pkw_op(w, (unsigned char)(bits >> (8 * i)));
		return 0;
	}
	case PK_STR:
	case PK_BYTES:
		pkw_op(w, v->kind == PK_STR ? 'X' : 'B');
		put_le(w, v->u.str.len, 4);
		strbuf_addn(&w->out, v->u.str.s, v->u.str.len);
		remember(vw, v);
		return 0;
	case PK_TUPLE:
		memo_add(&vw->memo, v, -1);
		pkw_op(w, '(');
		for (int i = 0; i < v->u.seq.n; i++)
			if (write_value(vw, v->u.seq.items[i], depth + 1) < 0)
				return -1;
		pkw_op(w, 't');
		remember(vw, v);
		return 0;
	case PK_LIST:
		pkw_op(w, ']');
		remember(vw, v);
		return write_batched(vw, v->u.seq.items, NULL, v->u.seq.n, 'e', depth);
	case PK_DICT:
		pkw_op(w, '}');
		remember(vw, v);
		return write_batched(vw, v->u.dict.keys, v->u.dict.values, v->u.dict.n, 'u', depth);
	case PK_SET:
		/* set([items]) as protocol 2 writes it */
		memo_add(&vw->memo, v, -1);
		pkw_global(w, "__builtin__", "set");
		pkw_op(w, ']');
		if (write_batched(vw, v->u.seq.items, NULL, v->u.seq.n, 'e', depth) < 0)
			return -1;
		pkw_op(w, 0x85); /* TUPLE1 */
		pkw_op(w, 'R');
		remember(vw, v);
		return 0;
	case PK_GLOBAL:
		pkw_global(w, v->u.global.module, v->u.global.name);
		return 0;
	case PK_OBJECT: {
		const struct pk_value *cls = v->u.obj.cls;
		bool partial = strcmp(cls->u.global.module, "functools") == 0 &&
		               strcmp(cls->u.global.name, "partial") == 0;
		memo_add(&vw->memo, v, -1);
		pkw_global(w, cls->u.global.module, cls->u.global.name);
		if (write_value(vw, v->u.obj.args, depth + 1) < 0)
			return -1;
		pkw_op(w, partial ? 'R' : 0x81 /* NEWOBJ */);
		remember(vw, v);
		if (v->u.obj.state) {
			if (write_value(vw, v->u.obj.state, depth + 1) < 0)
				return -1;
			pkw_op(w, 'b');
		}
		return 0;
	}
	case PK_STORAGE:
		pkw_storage(w, v->u.storage.dtype, vw->h->storage_key(v, vw->h->storage_ctx),
		            v->u.storage.location, v->u.storage.numel);
		return 0;
	case PK_TENSOR:
		write_tensor(vw, v);
		remember(vw, v);
		return 0;
	}
	return error_set(vw->e, "a value of unknown kind");
}

int pkw_value(struct pk_writer *w, const struct pk_value *v, const struct pkw_hooks *h,
              struct error *e)
{
	struct value_writer vw = {.w = w, .h = h, .e = e};
	int rc = write_value(&vw, v, 0);
	free(vw.memo.keys);
	free(vw.memo.memo);
	return rc;
}
