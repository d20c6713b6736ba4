/* io_npy.c - NumPy .npy files. See io_npy.h; the format is NumPy's
 * "NEP 1": a magic string, a version, a little-endian header length, and an
 * ASCII header that is a Python dict literal, padded with spaces and ending
 * in a newline, then the raw data. */
#include "io/io_npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/save.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

struct npy_header {
	enum dtype dtype;
	bool big_endian;
	bool fortran;
	struct shape shape;
	bool has_descr, has_order, has_shape;
};

/* A cursor over the header text, for messages with offsets. */
struct cursor {
	const char *s, *end;
	size_t base; /* file offset of s's start */
	const char *start;
	struct error *e;
};

static int fail(struct cursor *c, const char *what)
{
	return error_set(c->e, "offset %zu: %s", c->base + (size_t)(c->s - c->start), what);
}

static void skip_ws(struct cursor *c)
{
	while (c->s < c->end && (*c->s == ' ' || *c->s == '\t'))
		c->s++;
}

static bool accept(struct cursor *c, char ch)
{
	skip_ws(c);
	if (c->s < c->end && *c->s == ch) {
		c->s++;
		return true;
	}
	return false;
}

/* A quoted string ('...' or "...") without escapes, into buf. */
static int read_string(struct cursor *c, char *buf, size_t size)
{
	skip_ws(c);
	if (c->s >= c->end || (*c->s != '\'' && *c->s != '"'))
		return fail(c, "expected a quoted string in the header");
	char q = *c->s++;
	size_t n = 0;
	while (c->s < c->end && *c->s != q) {
		if (*c->s == '\\' || n + 1 >= size)
			return fail(c, "unsupported string in the header");
		buf[n++] = *c->s++;
	}
	if (c->s >= c->end)
		return fail(c, "unterminated string in the header");
	c->s++;
	buf[n] = '\0';
	return 0;
}

static int read_descr(struct cursor *c, struct npy_header *h)
{
	char d[32];
	if (read_string(c, d, sizeof d) < 0)
		return -1;
	char order = d[0];
	if (order != '<' && order != '>' && order != '=' && order != '|')
		return fail(c, "descr must start with a byte order ('<f4')");
	static const struct {
		const char *descr;
		enum dtype dtype;
	} known[] = {{"f4", DT_F32}, {"f2", DT_F16}, {"f8", DT_F64}, {"i8", DT_I64},
	             {"i4", DT_I32}, {"i2", DT_I16}, {"i1", DT_I8},  {"u1", DT_U8},
	             {"b1", DT_BOOL}};
	size_t k = 0;
	while (k < sizeof known / sizeof *known && strcmp(d + 1, known[k].descr))
		k++;
	if (k == sizeof known / sizeof *known)
		return error_set(c->e,
		                 "dtype '%s' is not supported (float32, float16, float64, int64, "
		                 "int32, int16, int8, uint8 or bool)",
		                 d);
	h->dtype = known[k].dtype;
	h->big_endian = order == '>';
	h->has_descr = true;
	return 0;
}

static int read_bool(struct cursor *c, bool *out)
{
	skip_ws(c);
	if ((size_t)(c->end - c->s) >= 4 && !strncmp(c->s, "True", 4)) {
		c->s += 4;
		*out = true;
		return 0;
	}
	if ((size_t)(c->end - c->s) >= 5 && !strncmp(c->s, "False", 5)) {
		c->s += 5;
		*out = false;
		return 0;
	}
	return fail(c, "expected True or False");
}

static int read_shape(struct cursor *c, struct shape *out)
{
	struct shape s = {.ndim = 0};
	if (!accept(c, '('))
		return fail(c, "shape must be a tuple");
	for (;;) {
		if (accept(c, ')'))
			break;
		skip_ws(c);
		if (c->s >= c->end || *c->s < '0' || *c->s > '9')
			return fail(c, "shape must hold non-negative integers");
		int64_t d = 0;
		while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
			if (__builtin_mul_overflow(d, 10, &d) ||
			    __builtin_add_overflow(d, *c->s - '0', &d))
				return fail(c, "shape dimension too large");
			c->s++;
		}
		/* Python writes 3L in old files */
		if (c->s < c->end && *c->s == 'L')
			c->s++;
		if (s.ndim == SHAPE_MAX_DIMS)
			return fail(c, "too many dimensions");
		s.dim[s.ndim++] = d;
		if (accept(c, ','))
			continue;
		if (accept(c, ')'))
			break;
		return fail(c, "expected ',' or ')' in shape");
	}
	if (shape_numel(&s) < 0)
		return fail(c, "shape has too many elements");
	*out = s;
	return 0;
}

static int parse_header(struct cursor *c, struct npy_header *h)
{
	memset(h, 0, sizeof *h);
	if (!accept(c, '{'))
		return fail(c, "header must be a dict literal");
	for (;;) {
		if (accept(c, '}'))
			break;
		char key[32];
		if (read_string(c, key, sizeof key) < 0)
			return -1;
		if (!accept(c, ':'))
			return fail(c, "expected ':' after a key");
		bool *seen;
		int rc;
		if (!strcmp(key, "descr")) {
			seen = &h->has_descr;
			if (*seen)
				return fail(c, "duplicate key 'descr'");
			rc = read_descr(c, h);
		} else if (!strcmp(key, "fortran_order")) {
			seen = &h->has_order;
			if (*seen)
				return fail(c, "duplicate key 'fortran_order'");
			rc = read_bool(c, &h->fortran);
			h->has_order = true;
		} else if (!strcmp(key, "shape")) {
			seen = &h->has_shape;
			if (*seen)
				return fail(c, "duplicate key 'shape'");
			rc = read_shape(c, &h->shape);
			h->has_shape = true;
		} else {
			return fail(c, "unknown key in the header");
		}
		if (rc < 0)
			return -1;
		if (accept(c, ','))
			continue;
		if (accept(c, '}'))
			break;
		return fail(c, "expected ',' or '}' in the header");
	}
	/* Padding: spaces, then one newline at the very end. */
	while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\0'))
		c->s++;
	if (c->s < c->end && *c->s == '\n')
		c->s++;
	if (c->s != c->end)
		return fail(c, "unexpected text after the header");
	if (!h->has_descr || !h->has_order || !h->has_shape)
		return error_set(c->e, "header lacks %s",
		                 !h->has_descr   ? "'descr'"
		                 : !h->has_order ? "'fortran_order'"
		                                 : "'shape'");
	if (h->fortran)
		return error_set(c->e, "Fortran-order arrays are not supported (save with "
		                       "np.ascontiguousarray)");
	return 0;
}

int npy_parse(const void *data, size_t len, struct tensor *out, struct error *e)
{
	const unsigned char *p = data;
	if (len < 10 || memcmp(p, npy_magic, sizeof npy_magic) != 0)
		return error_set(e, "offset 0: not a NumPy .npy file");
	unsigned major = p[6];
	size_t hlen, hstart;
	if (major == 1) {
		hlen = (size_t)p[8] | (size_t)p[9] << 8;
		hstart = 10;
	} else if (major == 2 || major == 3) {
		if (len < 12)
			return error_set(e, "offset %zu: file ends inside the header length", len);
		hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
		hstart = 12;
	} else {
		return error_set(e, "offset 6: unsupported .npy format version %u.%u", major, p[7]);
	}
	if (hlen > NPY_MAX_HEADER)
		return error_set(e, "offset 8: header of %zu bytes is too large", hlen);
	if (hlen > len - hstart)
		return error_set(e, "offset %zu: file ends inside the header", len);
	struct npy_header h;
	const char *text = (const char *)p + hstart;
	struct cursor c = {text, text + hlen, hstart, text, e};
	if (parse_header(&c, &h) < 0)
		return -1;
	size_t es = dtype_size(h.dtype);
	int64_t n = shape_numel(&h.shape);
	size_t want = (size_t)n * es, have = len - hstart - hlen;
	if (have != want)
		return error_set(e, "offset %zu: the data is %zu bytes, shape %s of %s needs %zu",
		                 hstart + hlen, have, shape_format(&h.shape, (char[160]){0}, 160),
		                 dtype_name(h.dtype), want);
	bool floating = h.dtype == DT_F32 || h.dtype == DT_F16 || h.dtype == DT_F64;
	struct tensor t = {.dtype = floating ? DT_F32 : h.dtype, .shape = h.shape};
	if (tensor_alloc(&t, e) < 0)
		return -1;
	float *dst = t.storage->data;
	const unsigned char *src = p + hstart + hlen;
	for (int64_t i = 0; i < n; i++) {
		unsigned char b[8];
		for (size_t k = 0; k < es; k++)
			b[k] = src[(size_t)i * es + (h.big_endian ? es - 1 - k : k)];
		if (!floating) {
			memcpy((unsigned char *)t.storage->data + (size_t)i * es, b, es);
		} else if (h.dtype == DT_F32) {
			memcpy(&dst[i], b, 4);
		} else if (h.dtype == DT_F16) {
			uint16_t u = (uint16_t)(b[0] | b[1] << 8);
			dst[i] = f16_to_f32(u);
		} else {
			double d;
			memcpy(&d, b, 8);
			dst[i] = (float)d;
		}
	}
	*out = t;
	return 0;
}

int npy_read(const char *path, struct tensor *out, struct error *e)
{
	struct storage *s = storage_map_file(path, e);
	if (!s)
		return -1;
	int rc = npy_parse(s->data, s->size, out, e);
	storage_unref(s);
	if (rc < 0)
		error_prefix(e, "%s", path);
	return rc;
}

int npy_write(const char *path, const struct tensor *t, struct error *e)
{
	char shape[512], header[700];
	size_t o = 0;
	int64_t n = shape_numel(&t->shape);
	o += (size_t)snprintf(shape + o, sizeof shape - o, "(");
	for (int i = 0; i < t->shape.ndim && o < sizeof shape; i++)
		o += (size_t)snprintf(shape + o, sizeof shape - o, "%lld%s",
		                      (long long)t->shape.dim[i],
		                      t->shape.ndim == 1      ? ","
		                      : i + 1 < t->shape.ndim ? ", "
		                                              : "");
	if (o < sizeof shape)
		snprintf(shape + o, sizeof shape - o, ")");
	int hl = snprintf(header, sizeof header,
	                  "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
	/* Pad so that magic + version + length + header is a multiple of 64,
	 * the header ending in a newline. */
	size_t total = 10 + (size_t)hl + 1;
	size_t pad = (64 - total % 64) % 64;
	size_t hlen = (size_t)hl + pad + 1;
	struct save_file sf;
	if (save_begin(&sf, path, 0, e) < 0)
		return -1;
	unsigned char pre[10];
	memcpy(pre, npy_magic, 6);
	pre[6] = 1;
	pre[7] = 0;
	pre[8] = (unsigned char)(hlen & 0xff);
	pre[9] = (unsigned char)(hlen >> 8);
	char spaces[64];
	memset(spaces, ' ', sizeof spaces);
	int rc = save_write(&sf, pre, 10, e);
	if (rc == 0)
		rc = save_write(&sf, header, (size_t)hl, e);
	if (rc == 0)
		rc = save_write(&sf, spaces, pad, e);
	if (rc == 0)
		rc = save_write(&sf, "\n", 1, e);
	float buf[1024];
	for (int64_t i = 0; rc == 0 && i < n; i += 1024) {
		int64_t k = n - i < 1024 ? n - i : 1024;
		if (t->dtype == DT_F32) /* bits, not values: a signalling NaN stays one */
			memcpy(buf, (const float *)tensor_data(t) + i, (size_t)k * sizeof *buf);
		else
			for (int64_t j = 0; j < k; j++)
				buf[j] = (float)tensor_get(t, i + j);
		rc = save_write(&sf, buf, (size_t)k * sizeof *buf, e);
	}
	return save_end(&sf, rc, e);
}
