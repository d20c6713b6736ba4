/* tensor.c - dtypes, shapes, storage and half-precision conversions. */
#include "core/tensor.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

/* ---- dtypes ---- */

struct dtype_info {
	size_t size;
	const char *name;    /* PyTorch */
	const char *st_name; /* safetensors */
};

static const struct dtype_info dtype_table[] = {
    [DT_F32] = {4, "float32", "F32"},    [DT_F16] = {2, "float16", "F16"},
    [DT_BF16] = {2, "bfloat16", "BF16"}, [DT_F64] = {8, "float64", "F64"},
    [DT_I64] = {8, "int64", "I64"},      [DT_I32] = {4, "int32", "I32"},
    [DT_I16] = {2, "int16", "I16"},      [DT_I8] = {1, "int8", "I8"},
    [DT_U8] = {1, "uint8", "U8"},        [DT_BOOL] = {1, "bool", "BOOL"},
};
_Static_assert(sizeof dtype_table / sizeof dtype_table[0] == DT_COUNT,
               "dtype_table must have one row per enum dtype");

/* PyTorch's other spellings of the same types (torch.float is float32). */
static const struct {
	const char *alias;
	enum dtype t;
} dtype_aliases[] = {
    {"float", DT_F32}, {"half", DT_F16}, {"double", DT_F64},
    {"long", DT_I64},  {"int", DT_I32},  {"short", DT_I16},
};

static bool dtype_valid(enum dtype t)
{
	return (unsigned)t < DT_COUNT;
}

bool dtype_is_float(enum dtype t)
{
	return t == DT_F32 || t == DT_F16 || t == DT_BF16 || t == DT_F64;
}

size_t dtype_size(enum dtype t)
{
	return dtype_valid(t) ? dtype_table[t].size : 0;
}

const char *dtype_name(enum dtype t)
{
	return dtype_valid(t) ? dtype_table[t].name : "?";
}

const char *dtype_st_name(enum dtype t)
{
	return dtype_valid(t) ? dtype_table[t].st_name : "?";
}

int dtype_parse(const char *name, enum dtype *out)
{
	if (!name)
		return -1;
	if (strncmp(name, "torch.", 6) == 0)
		name += 6;
	for (int i = 0; i < DT_COUNT; i++) {
		if (strcmp(name, dtype_table[i].name) == 0 ||
		    strcasecmp(name, dtype_table[i].st_name) == 0) {
			*out = (enum dtype)i;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof dtype_aliases / sizeof dtype_aliases[0]; i++) {
		if (strcmp(name, dtype_aliases[i].alias) == 0) {
			*out = dtype_aliases[i].t;
			return 0;
		}
	}
	return -1;
}

/* ---- shapes ---- */

int64_t shape_numel(const struct shape *s)
{
	int64_t n = 1;
	if (s->ndim < 0 || s->ndim > SHAPE_MAX_DIMS)
		return -1;
	for (int i = 0; i < s->ndim; i++) {
		if (s->dim[i] < 0 || __builtin_mul_overflow(n, s->dim[i], &n))
			return -1;
	}
	return n > SHAPE_MAX_NUMEL ? -1 : n;
}

bool shape_equal(const struct shape *a, const struct shape *b)
{
	if (a->ndim != b->ndim || a->bounded != b->bounded)
		return false;
	for (int i = 0; i < a->ndim; i++) {
		if (a->dim[i] != b->dim[i])
			return false;
	}
	return true;
}

/* Joins the dimensions with sep between open and close; truncates to fit. */
static const char *shape_join(const struct shape *s, const char *open, const char *sep,
                              const char *close, char *buf, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return buf;
	buf[0] = '\0';
	int n = s->ndim < 0 ? 0 : s->ndim > SHAPE_MAX_DIMS ? SHAPE_MAX_DIMS : s->ndim;
	o += (size_t)snprintf(buf + o, size - o, "%s", open);
	for (int i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s%lld", i ? sep : "",
		                      s->bounded >> i & 1 ? "≤" : "", (long long)s->dim[i]);
	if (o < size)
		snprintf(buf + o, size - o, "%s", close);
	return buf;
}

const char *shape_format(const struct shape *s, char *buf, size_t size)
{
	return shape_join(s, "[", ", ", "]", buf, size);
}

const char *shape_format_x(const struct shape *s, char *buf, size_t size)
{
	if (s->ndim == 0)
		return shape_join(s, "[]", "", "", buf, size);
	return shape_join(s, "", "x", "", buf, size);
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int shape_parse(const char *text, struct shape *out, struct error *e)
{
	const char *p = skip_space(text);
	char close = '\0', sep = '\0';
	struct shape s = {0};

	if (*p == '[' || *p == '(') {
		close = *p == '[' ? ']' : ')';
		p = skip_space(p + 1);
		if (*p == close && *skip_space(p + 1) == '\0') {
			*out = s; /* "[]": a scalar */
			return 0;
		}
	}
	if (*p == '\0' || *p == close)
		return error_set(e, "shape \"%s\": empty shape", text);
	for (;;) {
		p = skip_space(p);
		bool bound = false;
		if (strncmp(p, "≤", strlen("≤")) == 0 || strncmp(p, "<=", 2) == 0) {
			bound = true;
			p += *p == '<' ? 2 : strlen("≤");
		}
		if (*p == '-')
			return error_set(e, "shape \"%s\": dimension %d is negative", text,
			                 s.ndim + 1);
		if (*p == '\0' || *p == close)
			return error_set(e, "shape \"%s\": missing a dimension at the end", text);
		if (!isdigit((unsigned char)*p))
			return error_set(e, "shape \"%s\": expected a number at \"%s\"", text, p);
		if (s.ndim == SHAPE_MAX_DIMS)
			return error_set(e, "shape \"%s\": too many dimensions (at most %d)", text,
			                 SHAPE_MAX_DIMS);
		int64_t d = 0;
		while (isdigit((unsigned char)*p)) {
			if (__builtin_mul_overflow(d, 10, &d) ||
			    __builtin_add_overflow(d, *p - '0', &d))
				return error_set(e, "shape \"%s\": dimension %d is too large", text,
				                 s.ndim + 1);
			p++;
		}
		if (bound)
			s.bounded |= (uint8_t)(1u << s.ndim);
		s.dim[s.ndim++] = d;
		p = skip_space(p);
		if (*p == 'x' || *p == 'X' || *p == ',') {
			char c = *p == 'X' ? 'x' : *p;
			if (sep && c != sep)
				return error_set(e, "shape \"%s\": mixes 'x' and ',' separators",
				                 text);
			sep = c;
			p++;
			/* Python's one-element tuple "(3,)" and a trailing comma in "[3,]" */
			if (c == ',' && close && *skip_space(p) == close)
				p = skip_space(p);
			else
				continue;
		}
		if (close) {
			if (*p != close)
				return error_set(e, "shape \"%s\": expected '%c' at \"%s\"", text,
				                 close, p);
			p = skip_space(p + 1);
		}
		if (*p != '\0')
			return error_set(e, "shape \"%s\": unexpected \"%s\"", text, p);
		break;
	}
	if (shape_numel(&s) < 0)
		return error_set(e, "shape \"%s\": too many elements (more than 2^40)", text);
	*out = s;
	return 0;
}

/* ---- storage ---- */

/* A storage with one reference owning `data` of `size` bytes. */
static struct storage *storage_wrap(void *data, size_t size)
{
	struct storage *s = xmalloc(sizeof *s);
	s->refs = 1;
	s->data = data;
	s->size = size;
	s->mapped = false;
	s->fd = -1;
	return s;
}

struct storage *storage_new(size_t size)
{
	return storage_wrap(xcalloc(1, size), size);
}

struct storage *storage_alloc(size_t size, const char *what, struct error *e)
{
	void *data = try_calloc(size, 1, what, e);
	return data ? storage_wrap(data, size) : NULL;
}

struct storage *storage_map_file(const char *path, struct error *e)
{
	struct stat st;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		error_set(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		error_set(e, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(e, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size == 0) {
		close(fd);
		return storage_new(0); /* mmap cannot map zero bytes */
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		error_set(e, "%s: file too large to map", path);
		close(fd);
		return NULL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		error_set(e, "%s: cannot map: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	struct storage *s = xmalloc(sizeof *s);
	s->refs = 1;
	s->data = p;
	s->size = (size_t)st.st_size;
	s->mapped = true;
	s->fd = fd;
	s->file_size = st.st_size;
	s->file_mtime = st.st_mtim;
	return s;
}

bool storage_file_unchanged(const struct storage *s)
{
	struct stat st;
	if (!s->mapped)
		return true;
	return fstat(s->fd, &st) == 0 && st.st_size == s->file_size &&
	       st.st_mtim.tv_sec == s->file_mtime.tv_sec &&
	       st.st_mtim.tv_nsec == s->file_mtime.tv_nsec;
}

struct storage *storage_ref(struct storage *s)
{
	if (s)
		s->refs++;
	return s;
}

void storage_unref(struct storage *s)
{
	if (!s || --s->refs > 0)
		return;
	if (s->mapped) {
		munmap(s->data, s->size);
		close(s->fd);
	} else
		free(s->data);
	free(s);
}

/* ---- tensors ---- */

size_t tensor_nbytes(const struct tensor *t)
{
	int64_t n = shape_numel(&t->shape), bytes;
	if (n < 0 || __builtin_mul_overflow(n, (int64_t)dtype_size(t->dtype), &bytes))
		return 0;
	return (size_t)bytes;
}

const void *tensor_data(const struct tensor *t)
{
	if (!t->storage)
		return NULL;
	return (const char *)t->storage->data + t->offset;
}

int tensor_alloc(struct tensor *t, struct error *e)
{
	char what[200], dims[160];
	shape_format(&t->shape, dims, sizeof dims);
	if (shape_numel(&t->shape) < 0)
		return error_set(e, "cannot allocate a %s %s tensor: more than 2^40 elements", dims,
		                 dtype_name(t->dtype));
	snprintf(what, sizeof what, "a %s %s tensor", dims, dtype_name(t->dtype));
	struct storage *s = storage_alloc(tensor_nbytes(t), what, e);
	if (!s)
		return -1;
	storage_unref(t->storage);
	t->storage = s;
	t->offset = 0;
	return 0;
}

void tensor_release(struct tensor *t)
{
	storage_unref(t->storage);
	t->storage = NULL;
	t->offset = 0;
}

void tensor_share(struct tensor *t, const struct tensor *from)
{
	struct storage *s = storage_ref(from->storage); /* before the unref: t may be from */
	storage_unref(t->storage);
	t->dtype = from->dtype;
	t->shape = from->shape;
	t->offset = from->offset;
	t->storage = s;
}

/* Elements are read with memcpy: a tensor in a mapped file need not be
 * aligned for its dtype. */
double tensor_get(const struct tensor *t, int64_t i)
{
	const char *p = (const char *)tensor_data(t) + (size_t)i * dtype_size(t->dtype);
	switch (t->dtype) {
	case DT_F32: {
		float v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	case DT_F16:
	case DT_BF16: {
		uint16_t h;
		memcpy(&h, p, sizeof h);
		return t->dtype == DT_F16 ? f16_to_f32(h) : bf16_to_f32(h);
	}
	case DT_F64: {
		double v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	case DT_I64: {
		int64_t v;
		memcpy(&v, p, sizeof v);
		return (double)v;
	}
	case DT_I32: {
		int32_t v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	case DT_I16: {
		int16_t v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	case DT_I8:
		return (int8_t)*p;
	case DT_U8:
		return (uint8_t)*p;
	case DT_BOOL:
		return *p != 0;
	case DT_COUNT:
		break;
	}
	return 0;
}

void tensor_to_f32(const struct tensor *t, float *out)
{
	int64_t n = shape_numel(&t->shape);
	if (t->dtype == DT_F32) {
		memcpy(out, tensor_data(t), tensor_nbytes(t));
		return;
	}
	for (int64_t i = 0; i < n; i++)
		out[i] = (float)tensor_get(t, i);
}

/* ---- half precision ---- */

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static float f32_from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;

	if (exp == 0x1f) /* inf, or NaN with its payload kept */
		return f32_from_bits(sign | 0x7f800000 | (mant << 13));
	if (exp == 0) {
		if (mant == 0)
			return f32_from_bits(sign);
		/* Subnormal: mant * 2^-24. Normalise so the leading 1 is bit 10. */
		int shift = __builtin_clz(mant) - 21;
		mant = (mant << shift) & 0x3ff;
		return f32_from_bits(sign | ((uint32_t)(113 - shift) << 23) | (mant << 13));
	}
	return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

/* Shifts m right by `shift` bits, rounding to nearest, ties to even. */
static uint32_t shift_round_even(uint32_t m, int shift)
{
	uint32_t q = m >> shift;
	uint32_t rem = m & ((1u << shift) - 1);
	uint32_t half = 1u << (shift - 1);
	if (rem > half || (rem == half && (q & 1)))
		q++;
	return q;
}

uint16_t f32_to_f16(float f)
{
	uint32_t x = f32_bits(f);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
	uint32_t a = x & 0x7fffffff;

	if (a > 0x7f800000) /* NaN: stays a quiet NaN */
		return sign | 0x7e00 | (uint16_t)((a >> 13) & 0x3ff);
	/* 65520 is halfway between 65504 (the largest half) and 2^16; ties go to
	 * the even side, which is infinity. */
	if (a >= 0x477ff000)
		return sign | 0x7c00;
	if (a >= 0x38800000) { /* normal half (>= 2^-14) */
		uint32_t m = ((a >> 23) - 112) << 23 | (a & 0x7fffff);
		/* A carry out of the mantissa correctly bumps the exponent. */
		return sign | (uint16_t)shift_round_even(m, 13);
	}
	if (a <= 0x33000000) /* <= 2^-25: halfway to the smallest subnormal rounds to 0 */
		return sign;
	/* Subnormal half: units of 2^-24. value = m * 2^(e - 150). */
	uint32_t e = a >> 23;
	uint32_t m = (a & 0x7fffff) | 0x800000;
	return sign | (uint16_t)shift_round_even(m, (int)(126 - e));
}

float bf16_to_f32(uint16_t h)
{
	return f32_from_bits((uint32_t)h << 16);
}

uint16_t f32_to_bf16(float f)
{
	uint32_t x = f32_bits(f);
	if ((x & 0x7fffffff) > 0x7f800000) /* NaN: keep sign and top payload, force quiet */
		return (uint16_t)((x >> 16) | 0x40);
	/* Round to nearest even; overflow rounds to infinity as it should. */
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}
