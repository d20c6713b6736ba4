/* pickle.c - the safe unpickler and the state_dict pickler (pickle.h).
 *
 * The reader is a plain loop over opcodes with an explicit stack, a mark
 * stack and a memo; it never recurses, so deeply nested input costs memory
 * within the bounds of pickle.h, not C stack. Values are allocated per
 * document and freed together, so cycles (a list appended to itself through
 * the memo) cannot leak. */
#include "io/pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opcodes of the pickle protocols, 0 to 5. */
enum {
	OP_MARK = '(',
	OP_STOP = '.',
	OP_POP = '0',
	OP_POP_MARK = '1',
	OP_DUP = '2',
	OP_FLOAT = 'F',
	OP_INT = 'I',
	OP_BININT = 'J',
	OP_BININT1 = 'K',
	OP_LONG = 'L',
	OP_BININT2 = 'M',
	OP_NONE = 'N',
	OP_PERSID = 'P',
	OP_BINPERSID = 'Q',
	OP_REDUCE = 'R',
	OP_STRING = 'S',
	OP_BINSTRING = 'T',
	OP_SHORT_BINSTRING = 'U',
	OP_UNICODE = 'V',
	OP_BINUNICODE = 'X',
	OP_APPEND = 'a',
	OP_BUILD = 'b',
	OP_GLOBAL = 'c',
	OP_DICT = 'd',
	OP_EMPTY_DICT = '}',
	OP_APPENDS = 'e',
	OP_GET = 'g',
	OP_BINGET = 'h',
	OP_INST = 'i',
	OP_LONG_BINGET = 'j',
	OP_LIST = 'l',
	OP_EMPTY_LIST = ']',
	OP_OBJ = 'o',
	OP_PUT = 'p',
	OP_BINPUT = 'q',
	OP_LONG_BINPUT = 'r',
	OP_SETITEM = 's',
	OP_TUPLE = 't',
	OP_EMPTY_TUPLE = ')',
	OP_SETITEMS = 'u',
	OP_BINFLOAT = 'G',
	OP_PROTO = 0x80,
	OP_NEWOBJ = 0x81,
	OP_EXT1 = 0x82,
	OP_EXT2 = 0x83,
	OP_EXT4 = 0x84,
	OP_TUPLE1 = 0x85,
	OP_TUPLE2 = 0x86,
	OP_TUPLE3 = 0x87,
	OP_NEWTRUE = 0x88,
	OP_NEWFALSE = 0x89,
	OP_LONG1 = 0x8a,
	OP_LONG4 = 0x8b,
	OP_BINBYTES = 'B',
	OP_SHORT_BINBYTES = 'C',
	OP_SHORT_BINUNICODE = 0x8c,
	OP_BINUNICODE8 = 0x8d,
	OP_BINBYTES8 = 0x8e,
	OP_EMPTY_SET = 0x8f,
	OP_ADDITEMS = 0x90,
	OP_FROZENSET = 0x91,
	OP_NEWOBJ_EX = 0x92,
	OP_STACK_GLOBAL = 0x93,
	OP_MEMOIZE = 0x94,
	OP_FRAME = 0x95,
	OP_BYTEARRAY8 = 0x96,
	OP_NEXT_BUFFER = 0x97,
	OP_READONLY_BUFFER = 0x98
};

static const char *const op_names[256] = {
    [OP_MARK] = "MARK",
    [OP_STOP] = "STOP",
    [OP_POP] = "POP",
    [OP_POP_MARK] = "POP_MARK",
    [OP_DUP] = "DUP",
    [OP_FLOAT] = "FLOAT",
    [OP_INT] = "INT",
    [OP_BININT] = "BININT",
    [OP_BININT1] = "BININT1",
    [OP_LONG] = "LONG",
    [OP_BININT2] = "BININT2",
    [OP_NONE] = "NONE",
    [OP_PERSID] = "PERSID",
    [OP_BINPERSID] = "BINPERSID",
    [OP_REDUCE] = "REDUCE",
    [OP_STRING] = "STRING",
    [OP_BINSTRING] = "BINSTRING",
    [OP_SHORT_BINSTRING] = "SHORT_BINSTRING",
    [OP_UNICODE] = "UNICODE",
    [OP_BINUNICODE] = "BINUNICODE",
    [OP_APPEND] = "APPEND",
    [OP_BUILD] = "BUILD",
    [OP_GLOBAL] = "GLOBAL",
    [OP_DICT] = "DICT",
    [OP_EMPTY_DICT] = "EMPTY_DICT",
    [OP_APPENDS] = "APPENDS",
    [OP_GET] = "GET",
    [OP_BINGET] = "BINGET",
    [OP_INST] = "INST",
    [OP_LONG_BINGET] = "LONG_BINGET",
    [OP_LIST] = "LIST",
    [OP_EMPTY_LIST] = "EMPTY_LIST",
    [OP_OBJ] = "OBJ",
    [OP_PUT] = "PUT",
    [OP_BINPUT] = "BINPUT",
    [OP_LONG_BINPUT] = "LONG_BINPUT",
    [OP_SETITEM] = "SETITEM",
    [OP_TUPLE] = "TUPLE",
    [OP_EMPTY_TUPLE] = "EMPTY_TUPLE",
    [OP_SETITEMS] = "SETITEMS",
    [OP_BINFLOAT] = "BINFLOAT",
    [OP_PROTO] = "PROTO",
    [OP_NEWOBJ] = "NEWOBJ",
    [OP_EXT1] = "EXT1",
    [OP_EXT2] = "EXT2",
    [OP_EXT4] = "EXT4",
    [OP_TUPLE1] = "TUPLE1",
    [OP_TUPLE2] = "TUPLE2",
    [OP_TUPLE3] = "TUPLE3",
    [OP_NEWTRUE] = "NEWTRUE",
    [OP_NEWFALSE] = "NEWFALSE",
    [OP_LONG1] = "LONG1",
    [OP_LONG4] = "LONG4",
    [OP_BINBYTES] = "BINBYTES",
    [OP_SHORT_BINBYTES] = "SHORT_BINBYTES",
    [OP_SHORT_BINUNICODE] = "SHORT_BINUNICODE",
    [OP_BINUNICODE8] = "BINUNICODE8",
    [OP_BINBYTES8] = "BINBYTES8",
    [OP_EMPTY_SET] = "EMPTY_SET",
    [OP_ADDITEMS] = "ADDITEMS",
    [OP_FROZENSET] = "FROZENSET",
    [OP_NEWOBJ_EX] = "NEWOBJ_EX",
    [OP_STACK_GLOBAL] = "STACK_GLOBAL",
    [OP_MEMOIZE] = "MEMOIZE",
    [OP_FRAME] = "FRAME",
    [OP_BYTEARRAY8] = "BYTEARRAY8",
    [OP_NEXT_BUFFER] = "NEXT_BUFFER",
    [OP_READONLY_BUFFER] = "READONLY_BUFFER",
};

/* The name of an opcode, or NULL for a byte that is none. */
static const char *op_name(int op)
{
	return op >= 0 && op < 256 ? op_names[op] : NULL;
}

static const struct {
	const char *name;
	enum dtype dtype;
} storage_types[] = {
    {"FloatStorage", DT_F32},  {"HalfStorage", DT_F16}, {"BFloat16Storage", DT_BF16},
    {"DoubleStorage", DT_F64}, {"LongStorage", DT_I64}, {"IntStorage", DT_I32},
    {"ShortStorage", DT_I16},  {"CharStorage", DT_I8},  {"ByteStorage", DT_U8},
    {"BoolStorage", DT_BOOL},
};
#define NSTORAGE_TYPES ((int)(sizeof storage_types / sizeof storage_types[0]))

int pk_storage_dtype(const char *name)
{
	for (int i = 0; i < NSTORAGE_TYPES; i++)
		if (strcmp(storage_types[i].name, name) == 0)
			return (int)storage_types[i].dtype;
	return -1;
}

const char *pk_storage_name(enum dtype dt)
{
	for (int i = 0; i < NSTORAGE_TYPES; i++)
		if (storage_types[i].dtype == dt)
			return storage_types[i].name;
	return "ByteStorage";
}

/* ---- the reader ---- */

struct unpickler {
	const unsigned char *p, *end, *start;
	const char *where;
	struct budget *budget;
	struct error *e;
	struct pk_doc *doc;
	struct pk_value **stack;
	int sp, stack_cap;
	int *marks;
	int nmarks, marks_cap;
	struct pk_value **memo;
	int memo_cap;
	int64_t memo_next; /* MEMOIZE's next index */
	size_t op_at;      /* offset of the opcode being run */
	int op;
};

static int fail(struct unpickler *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct unpickler *u, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return error_set(u->e, "%s: offset %zu: %s", u->where, u->op_at, msg);
}

/* Charges what the next value or item costs to the budget of the file;
 * -1 when it is spent. */
static int spend(struct unpickler *u, size_t bytes)
{
	if (budget_spend(u->budget, bytes, u->e) < 0)
		return error_prefix(u->e, "%s: offset %zu", u->where, u->op_at);
	return 0;
}

static struct pk_value *new_value(struct unpickler *u, enum pk_kind kind)
{
	if (spend(u, sizeof(struct pk_value)) < 0)
		return NULL;
	struct pk_value *v = xcalloc(1, sizeof *v);
	v->kind = kind;
	v->next_alloc = u->doc->all;
	u->doc->all = v;
	u->doc->nvalues++;
	return v;
}

static void free_value(struct pk_value *v)
{
	switch (v->kind) {
	case PK_STR:
	case PK_BYTES:
		free(v->u.str.s);
		break;
	case PK_TUPLE:
	case PK_LIST:
	case PK_SET:
		free(v->u.seq.items);
		break;
	case PK_DICT:
		free(v->u.dict.keys);
		free(v->u.dict.values);
		free(v->u.dict.slots);
		break;
	case PK_GLOBAL:
		free(v->u.global.module);
		free(v->u.global.name);
		break;
	case PK_STORAGE:
		free(v->u.storage.key);
		free(v->u.storage.location);
		break;
	default:
		break;
	}
	free(v);
}

void pk_doc_free(struct pk_doc *doc)
{
	struct pk_value *v = doc->all;
	while (v) {
		struct pk_value *next = v->next_alloc;
		free_value(v);
		v = next;
	}
	doc->all = doc->root = NULL;
	doc->nvalues = 0;
}

static int push(struct unpickler *u, struct pk_value *v)
{
	if (!v)
		return -1;
	if (u->sp >= PK_MAX_STACK)
		return fail(u, "stack deeper than %d values", PK_MAX_STACK);
	xgrow(&u->stack, &u->stack_cap, u->sp + 1, sizeof *u->stack);
	u->stack[u->sp++] = v;
	return 0;
}

/* The bottom of the topmost mark frame. */
static int frame_base(const struct unpickler *u)
{
	return u->nmarks ? u->marks[u->nmarks - 1] : 0;
}

static struct pk_value *pop(struct unpickler *u)
{
	if (u->sp <= frame_base(u)) {
		fail(u, "%s needs a value and the stack is empty", op_name(u->op));
		return NULL;
	}
	return u->stack[--u->sp];
}

static struct pk_value *top(struct unpickler *u)
{
	if (u->sp <= frame_base(u)) {
		fail(u, "%s needs a value and the stack is empty", op_name(u->op));
		return NULL;
	}
	return u->stack[u->sp - 1];
}

/* Pops back to the last MARK; *base gets the first item's stack index. */
static int pop_mark(struct unpickler *u, int *base)
{
	if (u->nmarks == 0)
		return fail(u, "%s without a MARK", op_name(u->op));
	*base = u->marks[--u->nmarks];
	return 0;
}

static int seq_add(struct unpickler *u, struct pk_value *seq, struct pk_value *item)
{
	if (spend(u, 2 * sizeof *seq->u.seq.items) < 0) /* xgrow doubles */
		return -1;
	xgrow(&seq->u.seq.items, &seq->u.seq.cap, seq->u.seq.n + 1, sizeof *seq->u.seq.items);
	seq->u.seq.items[seq->u.seq.n++] = item;
	return 0;
}

static bool str_equal(const struct pk_value *v, const char *s)
{
	return v && v->kind == PK_STR && strlen(s) == v->u.str.len &&
	       memcmp(v->u.str.s, s, v->u.str.len) == 0;
}

/* Dicts index their str keys in a hash table from this many keys on, so
 * that building a dict of n keys costs O(n), not O(n^2). */
#define DICT_INDEX_MIN 8

static bool key_equal(const struct pk_value *k, const char *s, size_t len)
{
	return k->kind == PK_STR && k->u.str.len == len && memcmp(k->u.str.s, s, len) == 0;
}

/* FNV-1a */
static size_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return (size_t)h;
}

/* The index of the str key s[0..len) in dict, or -1. */
static int dict_find(const struct pk_value *dict, const char *s, size_t len)
{
	if (!dict->u.dict.slots) {
		for (int i = 0; i < dict->u.dict.n; i++)
			if (key_equal(dict->u.dict.keys[i], s, len))
				return i;
		return -1;
	}
	size_t mask = (size_t)dict->u.dict.nslots - 1;
	for (size_t h = hash_bytes(s, len) & mask;; h = (h + 1) & mask) {
		int at = dict->u.dict.slots[h];
		if (at == 0)
			return -1;
		if (key_equal(dict->u.dict.keys[at - 1], s, len))
			return at - 1;
	}
}

/* Enters key i (a str) in the hash table, which has a free slot. */
static void index_key(struct pk_value *dict, int i)
{
	const struct pk_value *k = dict->u.dict.keys[i];
	size_t mask = (size_t)dict->u.dict.nslots - 1;
	size_t h = hash_bytes(k->u.str.s, k->u.str.len) & mask;
	while (dict->u.dict.slots[h])
		h = (h + 1) & mask;
	dict->u.dict.slots[h] = i + 1;
}

/* Remakes the hash table with at least 4 slots a key (at most half full). */
static void index_rebuild(struct pk_value *dict)
{
	int nslots = 16;
	while (nslots < 4 * dict->u.dict.n)
		nslots *= 2;
	free(dict->u.dict.slots);
	dict->u.dict.slots = xcalloc((size_t)nslots, sizeof *dict->u.dict.slots);
	dict->u.dict.nslots = nslots;
	for (int i = 0; i < dict->u.dict.n; i++)
		if (dict->u.dict.keys[i]->kind == PK_STR)
			index_key(dict, i);
}

struct pk_value *pk_dict_get(const struct pk_value *dict, const char *key)
{
	if (!dict || dict->kind != PK_DICT)
		return NULL;
	int i = dict_find(dict, key, strlen(key));
	return i < 0 ? NULL : dict->u.dict.values[i];
}

void pk_dict_remove(struct pk_value *dict, int i)
{
	int n = --dict->u.dict.n;
	memmove(&dict->u.dict.keys[i], &dict->u.dict.keys[i + 1],
	        (size_t)(n - i) * sizeof *dict->u.dict.keys);
	memmove(&dict->u.dict.values[i], &dict->u.dict.values[i + 1],
	        (size_t)(n - i) * sizeof *dict->u.dict.values);
	if (dict->u.dict.slots)
		index_rebuild(dict);
}

/* Sets dict[key] = value; a string key already present is replaced. */
static int dict_set(struct unpickler *u, struct pk_value *dict, struct pk_value *key,
                    struct pk_value *value)
{
	if (key->kind == PK_STR) {
		int i = dict_find(dict, key->u.str.s, key->u.str.len);
		if (i >= 0) {
			dict->u.dict.values[i] = value;
			return 0;
		}
	}
	/* a key and a value, doubled as arrays grow, and up to 8 index slots */
	if (spend(u, 4 * sizeof *dict->u.dict.keys + 8 * sizeof *dict->u.dict.slots) < 0)
		return -1;
	int cap = dict->u.dict.cap;
	xgrow(&dict->u.dict.keys, &cap, dict->u.dict.n + 1, sizeof *dict->u.dict.keys);
	cap = dict->u.dict.cap;
	xgrow(&dict->u.dict.values, &cap, dict->u.dict.n + 1, sizeof *dict->u.dict.values);
	dict->u.dict.cap = cap;
	int i = dict->u.dict.n++;
	dict->u.dict.keys[i] = key;
	dict->u.dict.values[i] = value;
	if (dict->u.dict.n >= DICT_INDEX_MIN && 2 * dict->u.dict.n > dict->u.dict.nslots)
		index_rebuild(dict);
	else if (dict->u.dict.slots && key->kind == PK_STR)
		index_key(dict, i);
	return 0;
}

static int need(struct unpickler *u, size_t n)
{
	if ((size_t)(u->end - u->p) < n)
		return fail(u, "%s: the pickle ends in the middle of the opcode (truncated file?)",
		            op_name(u->op));
	return 0;
}

static uint64_t read_le(struct unpickler *u, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)u->p[i] << (8 * i);
	u->p += n;
	return v;
}

static struct pk_value *make_str(struct unpickler *u, enum pk_kind kind, size_t len)
{
	if ((size_t)(u->end - u->p) < len) {
		fail(u, "%s of %zu bytes runs past the end of the pickle", op_name(u->op), len);
		return NULL;
	}
	if (spend(u, len + 1) < 0)
		return NULL;
	struct pk_value *v = new_value(u, kind);
	if (!v)
		return NULL;
	v->u.str.s = xstrndup((const char *)u->p, len);
	v->u.str.len = len;
	u->p += len;
	return v;
}

static bool valid_dotted_name(const char *s, size_t len)
{
	if (len == 0 || len > PK_MAX_NAME)
		return false;
	bool part_start = true;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (part_start)
				return false;
			part_start = true;
			continue;
		}
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		bool digit = c >= '0' && c <= '9';
		if (!alpha && !(digit && !part_start))
			return false;
		part_start = false;
	}
	return !part_start;
}

static struct pk_value *make_global(struct unpickler *u, const char *mod, size_t modlen,
                                    const char *name, size_t namelen)
{
	if (!valid_dotted_name(mod, modlen) || !valid_dotted_name(name, namelen)) {
		fail(u, "%s names something that is not a Python identifier", op_name(u->op));
		return NULL;
	}
	struct pk_value *v = new_value(u, PK_GLOBAL);
	if (!v)
		return NULL;
	v->u.global.module = xstrndup(mod, modlen);
	v->u.global.name = xstrndup(name, namelen);
	/* Python 2 pickles name the builtins module __builtin__. */
	if (strcmp(v->u.global.module, "__builtin__") == 0) {
		free(v->u.global.module);
		v->u.global.module = xstrdup("builtins");
	}
	return v;
}

static bool is_global(const struct pk_value *v, const char *module, const char *name)
{
	return v && v->kind == PK_GLOBAL && strcmp(v->u.global.module, module) == 0 &&
	       strcmp(v->u.global.name, name) == 0;
}

static int as_int(const struct pk_value *v, int64_t *out)
{
	if (!v || (v->kind != PK_INT && v->kind != PK_BOOL))
		return -1;
	*out = v->kind == PK_INT ? v->u.i : v->u.b;
	return 0;
}

void pk_describe(const struct pk_value *v, char *buf, size_t size)
{
	if (!v) {
		snprintf(buf, size, "nothing");
		return;
	}
	switch (v->kind) {
	case PK_NONE:
		snprintf(buf, size, "None");
		return;
	case PK_BOOL:
		snprintf(buf, size, "a bool");
		return;
	case PK_INT:
		snprintf(buf, size, "an int");
		return;
	case PK_FLOAT:
		snprintf(buf, size, "a float");
		return;
	case PK_STR:
		snprintf(buf, size, "a str");
		return;
	case PK_BYTES:
		snprintf(buf, size, "bytes");
		return;
	case PK_TUPLE:
		snprintf(buf, size, "a tuple");
		return;
	case PK_LIST:
		snprintf(buf, size, "a list");
		return;
	case PK_DICT:
		snprintf(buf, size, "a dict");
		return;
	case PK_SET:
		snprintf(buf, size, "a set");
		return;
	case PK_GLOBAL:
		snprintf(buf, size, "the global %s.%s", v->u.global.module, v->u.global.name);
		return;
	case PK_OBJECT:
		snprintf(buf, size, "a %s.%s object", v->u.obj.cls->u.global.module,
		         v->u.obj.cls->u.global.name);
		return;
	case PK_STORAGE:
		snprintf(buf, size, "a storage");
		return;
	case PK_TENSOR:
		snprintf(buf, size, "a tensor");
		return;
	}
	snprintf(buf, size, "a value");
}

bool pk_object_state(const struct pk_value *v, struct pk_value **state)
{
	if (!v || v->kind != PK_OBJECT || !v->u.obj.state)
		return false;
	struct pk_value *s = v->u.obj.state;
	/* (dict, slotstate) from objects with __slots__ */
	if (s->kind == PK_TUPLE && s->u.seq.n == 2)
		s = s->u.seq.items[0];
	if (s->kind != PK_DICT)
		return false;
	*state = s;
	return true;
}

/* The persistent id ('storage', torch.FloatStorage, key, location, numel
 * [, view_metadata]) or ('module', class, file, source). */
static struct pk_value *persistent_load(struct unpickler *u, struct pk_value *pid)
{
	char what[128];
	if (pid->kind != PK_TUPLE || pid->u.seq.n < 1 || pid->u.seq.items[0]->kind != PK_STR) {
		pk_describe(pid, what, sizeof what);
		fail(u, "BINPERSID: the persistent id is %s, not a ('storage', ...) tuple", what);
		return NULL;
	}
	struct pk_value **it = pid->u.seq.items;
	int n = pid->u.seq.n;
	if (str_equal(it[0], "module") && n == 4 && it[1]->kind == PK_GLOBAL)
		return it[1];
	if (!str_equal(it[0], "storage") || (n != 5 && n != 6)) {
		fail(u, "BINPERSID: unknown persistent id '%.40s' (graft reads torch storages)",
		     it[0]->u.str.s);
		return NULL;
	}
	if (it[1]->kind != PK_GLOBAL || strcmp(it[1]->u.global.module, "torch") != 0) {
		pk_describe(it[1], what, sizeof what);
		fail(u, "BINPERSID: the storage type is %s, not a torch storage class", what);
		return NULL;
	}
	int dt = pk_storage_dtype(it[1]->u.global.name);
	if (dt < 0) {
		fail(u,
		     "unsupported storage type torch.%s (graft reads float32/16, bfloat16, "
		     "float64, int64/32/16/8, uint8 and bool)",
		     it[1]->u.global.name);
		return NULL;
	}
	int64_t numel;
	if (it[2]->kind != PK_STR || it[3]->kind != PK_STR || as_int(it[4], &numel) < 0 ||
	    numel < 0 || numel > SHAPE_MAX_NUMEL) {
		fail(u, "BINPERSID: malformed storage id (key, location and a size from 0 to 2^40 "
		        "expected)");
		return NULL;
	}
	if (memchr(it[2]->u.str.s, '\0', it[2]->u.str.len) || it[2]->u.str.len > 64) {
		fail(u, "BINPERSID: malformed storage key");
		return NULL;
	}
	if (n == 6 && it[5]->kind != PK_NONE) {
		fail(u, "BINPERSID: storage views of the pre-1.6 format are not supported");
		return NULL;
	}
	struct pk_value *s = new_value(u, PK_STORAGE);
	if (!s)
		return NULL;
	s->u.storage.dtype = (enum dtype)dt;
	s->u.storage.key = xstrdup(it[2]->u.str.s);
	s->u.storage.location =
	    xstrndup(it[3]->u.str.s, it[3]->u.str.len > 64 ? 64 : it[3]->u.str.len);
	s->u.storage.numel = numel;
	return s;
}

/* Reads a tuple of non-negative ints (a size or a stride) into out. */
static int int_tuple(struct unpickler *u, const struct pk_value *v, int64_t *out, int *n,
                     const char *what)
{
	if (v->kind != PK_TUPLE && v->kind != PK_LIST)
		return fail(u, "tensor %s is not a tuple", what);
	if (v->u.seq.n > SHAPE_MAX_DIMS)
		return fail(u, "tensor with %d dimensions (graft handles up to %d)", v->u.seq.n,
		            SHAPE_MAX_DIMS);
	for (int i = 0; i < v->u.seq.n; i++)
		if (as_int(v->u.seq.items[i], &out[i]) < 0 || out[i] < 0)
			return fail(u, "tensor %s holds something other than non-negative ints",
			            what);
	*n = v->u.seq.n;
	return 0;
}

/* torch._utils._rebuild_tensor(_v2)(storage, offset, size, stride, ...):
 * checks that every element lies inside the storage. */
static struct pk_value *rebuild_tensor(struct unpickler *u, struct pk_value *args, bool v2)
{
	int n = args->u.seq.n;
	if (n < 4 || (v2 && n < 6) || n > 7) {
		fail(u, "REDUCE: tensor rebuilt with %d arguments", n);
		return NULL;
	}
	struct pk_value **a = args->u.seq.items;
	if (a[0]->kind != PK_STORAGE) {
		fail(u, "REDUCE: tensor rebuilt from something that is not a storage");
		return NULL;
	}
	struct pk_value *t = new_value(u, PK_TENSOR);
	if (!t)
		return NULL;
	t->u.tensor.storage = a[0];
	int nd, ns;
	if (as_int(a[1], &t->u.tensor.offset) < 0 || t->u.tensor.offset < 0) {
		fail(u, "REDUCE: tensor storage offset is not a non-negative int");
		return NULL;
	}
	if (int_tuple(u, a[2], t->u.tensor.shape.dim, &nd, "size") < 0 ||
	    int_tuple(u, a[3], t->u.tensor.stride, &ns, "stride") < 0)
		return NULL;
	if (nd != ns) {
		fail(u, "tensor with %d sizes and %d strides", nd, ns);
		return NULL;
	}
	t->u.tensor.shape.ndim = nd;
	t->u.tensor.shape.bounded = 0;
	int64_t numel = shape_numel(&t->u.tensor.shape);
	if (numel < 0) {
		fail(u, "tensor shape overflows or exceeds 2^40 elements");
		return NULL;
	}
	if (n > 4 && a[4]->kind == PK_BOOL)
		t->u.tensor.requires_grad = a[4]->u.b;
	if (numel > 0) {
		/* the last element: offset + sum((size - 1) * stride) */
		int64_t last = t->u.tensor.offset;
		for (int i = 0; i < nd; i++) {
			int64_t step;
			if (__builtin_mul_overflow(t->u.tensor.shape.dim[i] - 1,
			                           t->u.tensor.stride[i], &step) ||
			    __builtin_add_overflow(last, step, &last)) {
				fail(u, "tensor strides overflow");
				return NULL;
			}
		}
		if (last >= a[0]->u.storage.numel) {
			fail(u, "tensor reaches element %lld of storage '%s', which has %lld",
			     (long long)last, a[0]->u.storage.key,
			     (long long)a[0]->u.storage.numel);
			return NULL;
		}
	}
	return t;
}

static struct pk_value *rebuild_parameter(struct unpickler *u, struct pk_value *args)
{
	if (args->u.seq.n < 2 || args->u.seq.items[0]->kind != PK_TENSOR) {
		fail(u, "REDUCE: a parameter rebuilt from something that is not a tensor");
		return NULL;
	}
	/* Parameters wrap the tensor; make a copy so a shared tensor keeps its flags. */
	struct pk_value *t = new_value(u, PK_TENSOR);
	if (!t)
		return NULL;
	t->u.tensor = args->u.seq.items[0]->u.tensor;
	t->u.tensor.parameter = true;
	t->u.tensor.requires_grad =
	    args->u.seq.items[1]->kind == PK_BOOL && args->u.seq.items[1]->u.b;
	return t;
}

/* The items of a list or tuple argument into a new set or dict. */
static struct pk_value *from_items(struct unpickler *u, struct pk_value *args, enum pk_kind kind)
{
	struct pk_value *v = new_value(u, kind);
	if (!v || args->u.seq.n == 0)
		return v;
	struct pk_value *src = args->u.seq.items[0];
	if (args->u.seq.n != 1 || (src->kind != PK_LIST && src->kind != PK_TUPLE &&
	                           !(kind == PK_SET && src->kind == PK_SET))) {
		fail(u, "REDUCE: %s built from something other than a list",
		     kind == PK_SET ? "set" : "dict");
		return NULL;
	}
	for (int i = 0; i < src->u.seq.n; i++) {
		struct pk_value *it = src->u.seq.items[i];
		if (kind == PK_SET) {
			if (seq_add(u, v, it) < 0)
				return NULL;
		} else {
			if ((it->kind != PK_TUPLE && it->kind != PK_LIST) || it->u.seq.n != 2) {
				fail(u, "REDUCE: dict built from items that are not pairs");
				return NULL;
			}
			if (dict_set(u, v, it->u.seq.items[0], it->u.seq.items[1]) < 0)
				return NULL;
		}
	}
	return v;
}

/* REDUCE: the callables graft knows, each turned into data. */
static struct pk_value *reduce(struct unpickler *u, struct pk_value *fn, struct pk_value *args)
{
	char what[PK_MAX_NAME * 2 + 64];
	if (fn->kind != PK_GLOBAL) {
		pk_describe(fn, what, sizeof what);
		fail(u, "REDUCE calls %s: refused (graft never runs code from a file)", what);
		return NULL;
	}
	if (args->kind != PK_TUPLE) {
		fail(u, "REDUCE: the arguments of %s.%s are not a tuple", fn->u.global.module,
		     fn->u.global.name);
		return NULL;
	}
	const char *mod = fn->u.global.module, *name = fn->u.global.name;
	if (strcmp(mod, "collections") == 0 && strcmp(name, "OrderedDict") == 0)
		return from_items(u, args, PK_DICT);
	if (strcmp(mod, "builtins") == 0 &&
	    (strcmp(name, "set") == 0 || strcmp(name, "frozenset") == 0))
		return from_items(u, args, PK_SET);
	if (strcmp(mod, "torch._utils") == 0) {
		if (strcmp(name, "_rebuild_tensor_v2") == 0)
			return rebuild_tensor(u, args, true);
		if (strcmp(name, "_rebuild_tensor") == 0)
			return rebuild_tensor(u, args, false);
		if (strcmp(name, "_rebuild_parameter") == 0 ||
		    strcmp(name, "_rebuild_parameter_with_state") == 0)
			return rebuild_parameter(u, args);
	}
	if (strcmp(mod, "torch.jit._pickle") == 0 && args->u.seq.n >= 1 &&
	    (strcmp(name, "build_intlist") == 0 || strcmp(name, "build_doublelist") == 0 ||
	     strcmp(name, "build_boollist") == 0 || strcmp(name, "build_tensorlist") == 0 ||
	     strcmp(name, "restore_type_tag") == 0))
		/* TorchScript's typed lists and type tags: the value itself */
		return args->u.seq.items[0];
	if (strcmp(mod, "torch") == 0 && strcmp(name, "Size") == 0) {
		if (args->u.seq.n != 1 || args->u.seq.items[0]->kind != PK_TUPLE) {
			fail(u, "REDUCE: torch.Size of something that is not a tuple");
			return NULL;
		}
		return args->u.seq.items[0];
	}
	if (strcmp(mod, "torch") == 0 && strcmp(name, "device") == 0) {
		if (args->u.seq.n < 1 || args->u.seq.items[0]->kind != PK_STR) {
			fail(u, "REDUCE: torch.device of something that is not a str");
			return NULL;
		}
		return args->u.seq.items[0];
	}
	if (strcmp(mod, "functools") == 0 && strcmp(name, "partial") == 0) {
		/* a module's norm_layer=partial(nn.LayerNorm, eps=1e-6): kept as an
		 * inert record, like an object, and never called */
		struct pk_value *o = new_value(u, PK_OBJECT);
		if (o) {
			o->u.obj.cls = fn;
			o->u.obj.args = args;
		}
		return o;
	}
	fail(u,
	     "REDUCE calls %s.%s: refused (graft never runs code from a file; it reads tensors, "
	     "containers and module trees)",
	     mod, name);
	return NULL;
}

/* Modules whose names a checkpoint never instantiates; refused even though
 * NEWOBJ would only make an inert record of them. */
static bool suspicious_module(const char *mod)
{
	static const char *const bad[] = {
	    "builtins", "os",        "posix",    "nt",     "sys",    "subprocess", "shutil",
	    "socket",   "importlib", "runpy",    "pickle", "ctypes", "io",         "codecs",
	    "types",    "functools", "operator", "code",   "pty",    "webbrowser", "marshal"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n = strlen(bad[i]);
		if (strncmp(mod, bad[i], n) == 0 && (mod[n] == '\0' || mod[n] == '.'))
			return true;
	}
	return false;
}

static struct pk_value *newobj(struct unpickler *u, struct pk_value *cls, struct pk_value *args)
{
	char what[PK_MAX_NAME * 2 + 64];
	if (cls->kind != PK_GLOBAL) {
		pk_describe(cls, what, sizeof what);
		fail(u, "%s of %s: refused", op_name(u->op), what);
		return NULL;
	}
	if (args->kind != PK_TUPLE) {
		fail(u, "%s: the arguments are not a tuple", op_name(u->op));
		return NULL;
	}
	if (is_global(cls, "collections", "OrderedDict") && args->u.seq.n == 0)
		return new_value(u, PK_DICT);
	if (suspicious_module(cls->u.global.module)) {
		fail(u,
		     "%s of %s.%s: refused (graft never runs code from a file; it reads tensors, "
		     "containers and module trees)",
		     op_name(u->op), cls->u.global.module, cls->u.global.name);
		return NULL;
	}
	struct pk_value *o = new_value(u, PK_OBJECT);
	if (!o)
		return NULL;
	o->u.obj.cls = cls;
	o->u.obj.args = args;
	return o;
}

static int build(struct unpickler *u, struct pk_value *target, struct pk_value *state)
{
	char what[PK_MAX_NAME * 2 + 64];
	switch (target->kind) {
	case PK_OBJECT:
		target->u.obj.state = state;
		return 0;
	case PK_DICT:   /* an OrderedDict's attributes (a state_dict's _metadata) */
	case PK_TENSOR: /* a parameter's __dict__ */
		return 0;
	default:
		pk_describe(target, what, sizeof what);
		return fail(u, "BUILD on %s: refused", what);
	}
}

static int memo_put(struct unpickler *u, int64_t idx)
{
	/* a pickler numbers its memo from 0, one PUT at least a byte: a
	 * larger index only serves to allocate a large memo */
	int64_t limit = u->end - u->start;
	if (limit > PK_MAX_MEMO)
		limit = PK_MAX_MEMO;
	if (idx < 0 || idx >= limit)
		return fail(u, "%s: memo index %lld out of range (at most %lld for this pickle)",
		            op_name(u->op), (long long)idx, (long long)limit);
	struct pk_value *v = top(u);
	if (!v)
		return -1;
	if (idx >= u->memo_cap) {
		int old = u->memo_cap;
		xgrow(&u->memo, &u->memo_cap, (int)idx + 1, sizeof *u->memo);
		memset(u->memo + old, 0, (size_t)(u->memo_cap - old) * sizeof *u->memo);
	}
	u->memo[idx] = v;
	return 0;
}

static int memo_get(struct unpickler *u, int64_t idx)
{
	if (idx < 0 || idx >= u->memo_cap || !u->memo[idx])
		return fail(u, "%s: memo index %lld was never stored", op_name(u->op),
		            (long long)idx);
	return push(u, u->memo[idx]);
}

static int read_line(struct unpickler *u, const char **s, size_t *len)
{
	const unsigned char *nl = memchr(u->p, '\n', (size_t)(u->end - u->p));
	if (!nl)
		return fail(u, "%s: unterminated line", op_name(u->op));
	*s = (const char *)u->p;
	*len = (size_t)(nl - u->p);
	u->p = nl + 1;
	return 0;
}

/* Runs one opcode. Returns 1 at STOP, 0 to go on, -1 on error. */
static int step(struct unpickler *u)
{
	u->op_at = (size_t)(u->p - u->start);
	if (u->p >= u->end)
		return fail(u, "the pickle ends without STOP (truncated file?)");
	int op = *u->p++;
	u->op = op;
	struct pk_value *v, *a, *b;
	int base = 0;
	int64_t n;
	switch (op) {
	case OP_PROTO:
		if (need(u, 1) < 0)
			return -1;
		if (*u->p > 5)
			return fail(u, "pickle protocol %d (graft reads 2 to 5)", *u->p);
		u->p++;
		return 0;
	case OP_FRAME:
		if (need(u, 8) < 0)
			return -1;
		u->p += 8;
		return 0;
	case OP_STOP:
		return 1;
	case OP_MARK:
		if (u->nmarks >= PK_MAX_DEPTH)
			return fail(u, "nesting deeper than %d levels", PK_MAX_DEPTH);
		xgrow(&u->marks, &u->marks_cap, u->nmarks + 1, sizeof *u->marks);
		u->marks[u->nmarks++] = u->sp;
		return 0;
	case OP_POP:
		if (u->sp > frame_base(u))
			u->sp--;
		else if (u->nmarks) /* POP of a mark */
			u->nmarks--;
		else
			return fail(u, "POP on an empty stack");
		return 0;
	case OP_POP_MARK:
		if (pop_mark(u, &base) < 0)
			return -1;
		u->sp = base;
		return 0;
	case OP_DUP:
		return (v = top(u)) ? push(u, v) : -1;
	case OP_NONE:
		return push(u, new_value(u, PK_NONE));
	case OP_NEWTRUE:
	case OP_NEWFALSE:
		if (!(v = new_value(u, PK_BOOL)))
			return -1;
		v->u.b = op == OP_NEWTRUE;
		return push(u, v);
	case OP_BININT:
	case OP_BININT1:
	case OP_BININT2: {
		int nb = op == OP_BININT ? 4 : op == OP_BININT1 ? 1 : 2;
		if (need(u, (size_t)nb) < 0 || !(v = new_value(u, PK_INT)))
			return -1;
		uint64_t x = read_le(u, nb);
		v->u.i = op == OP_BININT ? (int64_t)(int32_t)(uint32_t)x : (int64_t)x;
		return push(u, v);
	}
	case OP_LONG1: {
		if (need(u, 1) < 0)
			return -1;
		int nb = *u->p++;
		if (nb > 8)
			return fail(u, "LONG1: an integer of %d bytes is too large", nb);
		if (need(u, (size_t)nb) < 0 || !(v = new_value(u, PK_INT)))
			return -1;
		uint64_t x = read_le(u, nb);
		if (nb > 0 && nb < 8 && (x >> (8 * nb - 1)) & 1)
			x |= ~(uint64_t)0 << (8 * nb); /* sign-extend */
		v->u.i = (int64_t)x;
		return push(u, v);
	}
	case OP_BINFLOAT: {
		if (need(u, 8) < 0 || !(v = new_value(u, PK_FLOAT)))
			return -1;
		uint64_t x = 0;
		for (int i = 0; i < 8; i++)
			x = x << 8 | u->p[i];
		u->p += 8;
		memcpy(&v->u.f, &x, sizeof x);
		return push(u, v);
	}
	case OP_SHORT_BINUNICODE:
	case OP_SHORT_BINSTRING:
	case OP_SHORT_BINBYTES:
		if (need(u, 1) < 0)
			return -1;
		n = *u->p++;
		return push(u, make_str(u, op == OP_SHORT_BINBYTES ? PK_BYTES : PK_STR, (size_t)n));
	case OP_BINUNICODE:
	case OP_BINSTRING:
	case OP_BINBYTES:
		if (need(u, 4) < 0)
			return -1;
		n = (int64_t)read_le(u, 4);
		if (op == OP_BINSTRING && n >= 0x80000000LL)
			return fail(u, "BINSTRING with a negative length");
		return push(u, make_str(u, op == OP_BINBYTES ? PK_BYTES : PK_STR, (size_t)n));
	case OP_BINUNICODE8:
	case OP_BINBYTES8: {
		if (need(u, 8) < 0)
			return -1;
		uint64_t len = read_le(u, 8);
		if (len > (uint64_t)(u->end - u->p))
			return fail(u, "%s of %llu bytes runs past the end of the pickle",
			            op_name(op), (unsigned long long)len);
		return push(u, make_str(u, op == OP_BINBYTES8 ? PK_BYTES : PK_STR, (size_t)len));
	}
	case OP_EMPTY_TUPLE:
		return push(u, new_value(u, PK_TUPLE));
	case OP_TUPLE1:
	case OP_TUPLE2:
	case OP_TUPLE3: {
		int k = op - OP_TUPLE1 + 1;
		if (u->sp - frame_base(u) < k)
			return fail(u, "%s needs %d values on the stack", op_name(op), k);
		if (!(v = new_value(u, PK_TUPLE)))
			return -1;
		for (int i = 0; i < k; i++)
			if (seq_add(u, v, u->stack[u->sp - k + i]) < 0)
				return -1;
		u->sp -= k;
		return push(u, v);
	}
	case OP_TUPLE:
	case OP_LIST:
	case OP_FROZENSET:
		if (pop_mark(u, &base) < 0 || !(v = new_value(u, op == OP_TUPLE  ? PK_TUPLE
		                                                 : op == OP_LIST ? PK_LIST
		                                                                 : PK_SET)))
			return -1;
		for (int i = base; i < u->sp; i++)
			if (seq_add(u, v, u->stack[i]) < 0)
				return -1;
		u->sp = base;
		return push(u, v);
	case OP_EMPTY_LIST:
		return push(u, new_value(u, PK_LIST));
	case OP_EMPTY_DICT:
		return push(u, new_value(u, PK_DICT));
	case OP_EMPTY_SET:
		return push(u, new_value(u, PK_SET));
	case OP_APPEND:
		if (!(a = pop(u)) || !(v = top(u)))
			return -1;
		if (v->kind != PK_LIST)
			return fail(u, "APPEND to something that is not a list");
		return seq_add(u, v, a);
	case OP_APPENDS:
	case OP_ADDITEMS:
		if (pop_mark(u, &base) < 0)
			return -1;
		if (base <= frame_base(u))
			return fail(u, "%s with nothing to add to", op_name(op));
		v = u->stack[base - 1];
		if (v->kind != (op == OP_APPENDS ? PK_LIST : PK_SET))
			return fail(u, "%s to something that is not a %s", op_name(op),
			            op == OP_APPENDS ? "list" : "set");
		for (int i = base; i < u->sp; i++)
			if (seq_add(u, v, u->stack[i]) < 0)
				return -1;
		u->sp = base;
		return 0;
	case OP_DICT:
		if (pop_mark(u, &base) < 0 || !(v = new_value(u, PK_DICT)))
			return -1;
		if ((u->sp - base) % 2)
			return fail(u, "DICT with an odd number of items");
		for (int i = base; i < u->sp; i += 2)
			if (dict_set(u, v, u->stack[i], u->stack[i + 1]) < 0)
				return -1;
		u->sp = base;
		return push(u, v);
	case OP_SETITEM:
		if (!(b = pop(u)) || !(a = pop(u)) || !(v = top(u)))
			return -1;
		if (v->kind != PK_DICT)
			return fail(u, "SETITEM on something that is not a dict");
		return dict_set(u, v, a, b);
	case OP_SETITEMS:
		if (pop_mark(u, &base) < 0)
			return -1;
		if (base <= frame_base(u))
			return fail(u, "SETITEMS with no dict to add to");
		v = u->stack[base - 1];
		if (v->kind != PK_DICT)
			return fail(u, "SETITEMS on something that is not a dict");
		if ((u->sp - base) % 2)
			return fail(u, "SETITEMS with an odd number of items");
		for (int i = base; i < u->sp; i += 2)
			if (dict_set(u, v, u->stack[i], u->stack[i + 1]) < 0)
				return -1;
		u->sp = base;
		return 0;
	case OP_GLOBAL: {
		const char *mod, *name;
		size_t ml, nl;
		if (read_line(u, &mod, &ml) < 0 || read_line(u, &name, &nl) < 0)
			return -1;
		return push(u, make_global(u, mod, ml, name, nl));
	}
	case OP_STACK_GLOBAL:
		if (!(b = pop(u)) || !(a = pop(u)))
			return -1;
		if (a->kind != PK_STR || b->kind != PK_STR)
			return fail(u, "STACK_GLOBAL of something that is not two strings");
		return push(u, make_global(u, a->u.str.s, a->u.str.len, b->u.str.s, b->u.str.len));
	case OP_REDUCE:
		if (!(b = pop(u)) || !(a = pop(u)))
			return -1;
		return push(u, reduce(u, a, b));
	case OP_NEWOBJ:
		if (!(b = pop(u)) || !(a = pop(u)))
			return -1;
		return push(u, newobj(u, a, b));
	case OP_NEWOBJ_EX:
		if (!pop(u) || !(b = pop(u)) || !(a = pop(u)))
			return -1;
		return push(u, newobj(u, a, b));
	case OP_BUILD:
		if (!(b = pop(u)) || !(a = top(u)))
			return -1;
		return build(u, a, b);
	case OP_BINPERSID:
		if (!(a = pop(u)))
			return -1;
		return push(u, persistent_load(u, a));
	case OP_BINPUT:
		if (need(u, 1) < 0)
			return -1;
		return memo_put(u, *u->p++);
	case OP_LONG_BINPUT:
		if (need(u, 4) < 0)
			return -1;
		return memo_put(u, (int64_t)read_le(u, 4));
	case OP_MEMOIZE:
		return memo_put(u, u->memo_next++);
	case OP_BINGET:
		if (need(u, 1) < 0)
			return -1;
		return memo_get(u, *u->p++);
	case OP_LONG_BINGET:
		if (need(u, 4) < 0)
			return -1;
		return memo_get(u, (int64_t)read_le(u, 4));
	}
	const char *name = op_name(op);
	if (name)
		return fail(u, "unsupported pickle opcode %s (0x%02x)", name, op);
	return fail(u, "unknown pickle opcode 0x%02x", op);
}

int pk_load(const unsigned char *data, size_t len, const char *where, struct budget *budget,
            struct pk_doc *doc, size_t *consumed, struct error *e)
{
	struct unpickler u = {.p = data,
	                      .start = data,
	                      .end = data + len,
	                      .where = where,
	                      .budget = budget,
	                      .e = e,
	                      .doc = doc};
	memset(doc, 0, sizeof *doc);
	int rc;
	while ((rc = step(&u)) == 0)
		;
	if (rc == 1) {
		if (u.nmarks)
			rc = fail(&u, "STOP inside an open MARK");
		else if (u.sp != 1)
			rc = fail(&u, "STOP with %d values on the stack, not 1", u.sp);
	}
	if (rc == 1) {
		doc->root = u.stack[0];
		if (consumed)
			*consumed = (size_t)(u.p - data);
		rc = 0;
	} else {
		pk_doc_free(doc);
		rc = -1;
	}
	free(u.stack);
	free(u.marks);
	free(u.memo);
	return rc;
}
