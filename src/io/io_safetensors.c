/* io_safetensors.c - reading and writing the safetensors format.
 *
 * A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON,
 * then the data area. The JSON maps each tensor name to {"dtype", "shape",
 * "data_offsets": [begin, end]} (offsets relative to the data area) and may
 * hold "__metadata__", a string-to-string object.
 *
 * Reading follows the rules of the reference implementation (the Rust
 * safetensors crate), and is stricter in a few places where it is lax or
 * where C needs it: duplicate tensor names, metadata keys and tensor fields
 * are errors rather than "last one wins"; numbers a double cannot hold
 * exactly (above 2^53) and the escape \u0000 are refused.
 *
 * Writing reproduces what the reference writes for the same tensors in the
 * same order: compact JSON, "__metadata__" first, then the tensors in data
 * order with their fields in the order dtype, shape, data_offsets, strings
 * escaped as serde_json does, the header padded with spaces to a multiple of
 * 8. The reference itself lays tensors out by decreasing dtype alignment,
 * then by name, and writes the header keys in that same (data) order; since
 * st_open returns entries in data order and metadata in file order, reading
 * a reference file and writing it back gives the same bytes. st_write does
 * not reorder: a caller that wants the reference layout for new tensors
 * sorts them first. */
#include "io/io_safetensors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/budget.h"
#include "core/util.h"
#include "io/io_json.h"
#include "io/save.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; graft does not byte-swap it yet"
#endif

/* Tensor names are quoted in messages up to this many bytes. */
#define NAME_MAX_SHOWN 200

/* Numbers in the header must be integers that a double holds exactly. */
#define JSON_MAX_INT ((int64_t)1 << 53)

/* st_file with the index st_find searches; st_open hands out &pub. */
struct st_file_priv {
	struct st_file pub;
	struct st_entry **by_name; /* the entries sorted by name */
};

/* One tensor while the header is being checked. */
struct st_rec {
	const char *name; /* points into the parsed header */
	enum dtype dtype;
	struct shape shape;
	int64_t begin, end;
	int pos; /* position in the header */
};

/* "PATH: message" */
static int st_error(struct error *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int st_error(struct error *e, const char *path, const char *fmt, ...)
{
	char msg[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return error_set(e, "%s: %s", path, msg);
}

/* "PATH: tensor 'NAME': message" */
static int tensor_error(struct error *e, const char *path, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int tensor_error(struct error *e, const char *path, const char *name, const char *fmt, ...)
{
	char msg[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	size_t len = strlen(name);
	return error_set(e, "%s: tensor '%.*s%s': %s", path, NAME_MAX_SHOWN, name,
	                 len > NAME_MAX_SHOWN ? "..." : "", msg);
}

/* ---- lexical checks on the raw header ---- */

/* Returns the offset of the first byte that is not part of valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included), or
 * -1 when all of s is valid. */
static int64_t utf8_invalid_at(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return (int64_t)i;
		}
		if (n - i < len)
			return (int64_t)i;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (int64_t)i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return (int64_t)i;
		i += len;
	}
	return -1;
}

/* The JSON parser (io_json.h) is more lenient than JSON: it skips any
 * control character as white space and takes raw control characters inside
 * strings. This finds what JSON forbids, plus the escape \u0000, which would cut a C string
 * short. Returns the offset of the problem (with *what set) or -1. */
static int64_t json_lexical_error(const char *s, size_t n, const char **what)
{
	bool in_string = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (in_string) {
			if (c == '"') {
				in_string = false;
			} else if (c == '\\') {
				if (n - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0) {
					*what = "a string holds the NUL character (\\u0000)";
					return (int64_t)i;
				}
				i++; /* the escaped character */
			} else if (c < 0x20) {
				*what = "control character inside a string";
				return (int64_t)i;
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			*what = "control character in the header";
			return (int64_t)i;
		}
	}
	return -1;
}

static int str_ptr_cmp(const void *pa, const void *pb)
{
	const char *const *a = pa, *const *b = pb;
	return strcmp(*a, *b);
}

/* A string that occurs more than once among strs[0..n), or NULL. Sorts a
 * copy: a header can hold millions of keys, too many to compare pairwise. */
static const char *find_duplicate(const char *const *strs, int n)
{
	const char *dup = NULL;
	if (n < 2) /* and strs may be NULL */
		return NULL;
	const char **sorted = xmalloc(((size_t)n + 1) * sizeof *sorted);
	memcpy(sorted, strs, (size_t)n * sizeof *sorted);
	qsort(sorted, (size_t)n, sizeof *sorted, str_ptr_cmp);
	for (int i = 1; i < n && !dup; i++) {
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			dup = sorted[i];
	}
	free(sorted);
	return dup;
}

/* Checks that the metadata keys are distinct. */
static int check_meta_keys(const struct st_meta *meta, int nmeta, const char *path, const char *how,
                           struct error *e)
{
	const char **keys = xmalloc(((size_t)nmeta + 1) * sizeof *keys);
	for (int i = 0; i < nmeta; i++)
		keys[i] = meta[i].key;
	const char *dup = find_duplicate(keys, nmeta);
	int rc = 0;
	if (dup)
		rc = st_error(e, path, "__metadata__ key '%.*s' %s", NAME_MAX_SHOWN, dup, how);
	free(keys);
	return rc;
}

/* ---- header values ---- */

/* Reads a JSON number that must be an integer in [0, 2^53]. Returns 0, or
 * -1 with *why set. */
static int json_uint(const struct json_value *v, int64_t *out, const char **why)
{
	if (json_kind(v) != JSON_NUMBER) {
		*why = "is not a number";
		return -1;
	}
	double d = json_number(v);
	if (d < 0) {
		*why = "is negative";
		return -1;
	}
	if (!(d <= (double)JSON_MAX_INT)) {
		*why = "is too large";
		return -1;
	}
	if (d != (double)(int64_t)d) {
		*why = "is not an integer";
		return -1;
	}
	*out = (int64_t)d;
	return 0;
}

/* Writes a JSON array of numbers as "[1, 2, 3]" for messages. */
static const char *json_array_format(const struct json_value *a, char *buf, size_t size)
{
	size_t o = 0;
	const struct json_value *v;
	int i = 0;
	o += (size_t)snprintf(buf, size, "[");
	for (v = json_first(a); v; v = json_next(v)) {
		if (o >= size)
			break;
		if (json_kind(v) == JSON_NUMBER)
			o += (size_t)snprintf(buf + o, size - o, "%s%.17g", i ? ", " : "",
			                      json_number(v));
		else
			o += (size_t)snprintf(buf + o, size - o, "%s?", i ? ", " : "");
		i++;
	}
	if (o < size)
		snprintf(buf + o, size - o, "]");
	return buf;
}

static int parse_dtype(const struct json_value *obj, const char *path, const char *name, enum dtype *out,
                       struct error *e)
{
	const struct json_value *v = json_member(obj, "dtype");
	if (!v)
		return tensor_error(e, path, name, "missing \"dtype\"");
	if (json_kind(v) != JSON_STRING)
		return tensor_error(e, path, name, "\"dtype\" is not a string");
	for (int i = 0; i < DT_COUNT; i++) {
		if (strcmp(json_text(v), dtype_st_name((enum dtype)i)) == 0) {
			*out = (enum dtype)i;
			return 0;
		}
	}
	return tensor_error(
	    e, path, name,
	    "unsupported dtype \"%.40s\" (graft reads F64, F32, F16, BF16, I64, I32, "
	    "I16, I8, U8 and BOOL)",
	    json_text(v));
}

static int parse_shape(const struct json_value *obj, const char *path, const char *name, struct shape *out,
                       struct error *e)
{
	const struct json_value *a = json_member(obj, "shape");
	char buf[256];
	if (!a)
		return tensor_error(e, path, name, "missing \"shape\"");
	if (json_kind(a) != JSON_ARRAY)
		return tensor_error(e, path, name, "\"shape\" is not an array");
	int ndim = json_count(a);
	if (ndim > SHAPE_MAX_DIMS)
		return tensor_error(e, path, name, "shape %s has %d dimensions (at most %d)",
		                    json_array_format(a, buf, sizeof buf), ndim, SHAPE_MAX_DIMS);
	struct shape s = {.ndim = 0};
	const struct json_value *v;
	for (v = json_first(a); v; v = json_next(v)) {
		const char *why;
		if (json_uint(v, &s.dim[s.ndim], &why) < 0)
			return tensor_error(e, path, name, "shape %s: dimension %d %s",
			                    json_array_format(a, buf, sizeof buf), s.ndim, why);
		s.ndim++;
	}
	if (shape_numel(&s) < 0)
		return tensor_error(e, path, name,
		                    "shape %s is too large (more than 2^40 elements)",
		                    shape_format(&s, buf, sizeof buf));
	*out = s;
	return 0;
}

static int parse_offsets(const struct json_value *obj, const char *path, const char *name, int64_t *begin,
                         int64_t *end, struct error *e)
{
	const struct json_value *a = json_member(obj, "data_offsets");
	char buf[256];
	const char *why;
	if (!a)
		return tensor_error(e, path, name, "missing \"data_offsets\"");
	if (json_kind(a) != JSON_ARRAY || json_count(a) != 2)
		return tensor_error(e, path, name, "\"data_offsets\" is not [begin, end]");
	json_array_format(a, buf, sizeof buf);
	if (json_uint(json_first(a), begin, &why) < 0)
		return tensor_error(e, path, name, "data_offsets %s: begin %s", buf, why);
	if (json_uint(json_next(json_first(a)), end, &why) < 0)
		return tensor_error(e, path, name, "data_offsets %s: end %s", buf, why);
	if (*end < *begin)
		return tensor_error(e, path, name, "data_offsets %s: end is before begin", buf);
	return 0;
}

/* Checks one tensor entry against the data area of `data_size` bytes. */
static int parse_tensor(const struct json_value *obj, const char *path, int64_t data_size, struct st_rec *r,
                        struct error *e)
{
	const char *name = json_key(obj);
	char sbuf[256];
	int64_t nbytes;
	static const char *const fields[] = {"dtype", "shape", "data_offsets"};
	int seen[3] = {0};
	const struct json_value *v;
	if (json_kind(obj) != JSON_OBJECT)
		return tensor_error(e, path, name, "entry is not an object");
	for (v = json_first(obj); v; v = json_next(v)) {
		for (int i = 0; i < 3; i++) {
			if (strcmp(json_key(v), fields[i]) == 0 && seen[i]++)
				return tensor_error(e, path, name, "\"%s\" appears twice",
				                    fields[i]);
		}
	}
	if (parse_dtype(obj, path, name, &r->dtype, e) < 0 ||
	    parse_shape(obj, path, name, &r->shape, e) < 0 ||
	    parse_offsets(obj, path, name, &r->begin, &r->end, e) < 0)
		return -1;
	if (r->end > data_size)
		return tensor_error(e, path, name,
		                    "data_offsets [%lld, %lld] are out of range: the data area has "
		                    "%lld bytes",
		                    (long long)r->begin, (long long)r->end, (long long)data_size);
	if (__builtin_mul_overflow(shape_numel(&r->shape), (int64_t)dtype_size(r->dtype), &nbytes))
		return tensor_error(e, path, name, "shape %s of %s is too large",
		                    shape_format(&r->shape, sbuf, sizeof sbuf),
		                    dtype_st_name(r->dtype));
	if (r->end - r->begin != nbytes)
		return tensor_error(
		    e, path, name,
		    "data_offsets [%lld, %lld] do not match shape %s of %s (%lld bytes)",
		    (long long)r->begin, (long long)r->end,
		    shape_format(&r->shape, sbuf, sizeof sbuf), dtype_st_name(r->dtype),
		    (long long)nbytes);
	r->name = name;
	return 0;
}

static int parse_meta(const struct json_value *obj, const char *path, struct st_file *f, struct error *e)
{
	const struct json_value *v;
	if (f->meta)
		return st_error(e, path, "__metadata__ appears twice in the header");
	if (json_kind(obj) != JSON_OBJECT)
		return st_error(e, path, "__metadata__ is not an object");
	/* Non-NULL even when empty: an empty "__metadata__": {} is written back. */
	f->meta = xcalloc((size_t)json_count(obj) + 1, sizeof *f->meta);
	for (v = json_first(obj); v; v = json_next(v)) {
		if (json_kind(v) != JSON_STRING)
			return st_error(e, path, "__metadata__ '%.*s': value is not a string",
			                NAME_MAX_SHOWN, json_key(v));
		f->meta[f->nmeta].key = xstrdup(json_key(v));
		f->meta[f->nmeta].value = xstrdup(json_text(v));
		f->nmeta++;
	}
	return check_meta_keys(f->meta, f->nmeta, path, "appears twice", e);
}

static int rec_by_offset(const void *pa, const void *pb)
{
	const struct st_rec *a = pa, *b = pb;
	if (a->begin != b->begin)
		return a->begin < b->begin ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return a->pos - b->pos; /* empty tensors at one offset keep header order */
}

static int rec_by_name(const void *pa, const void *pb)
{
	const struct st_rec *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

static int entry_ptr_by_name(const void *pa, const void *pb)
{
	const struct st_entry *const *a = pa, *const *b = pb;
	return strcmp((*a)->name, (*b)->name);
}

/* Checks the tensors as a whole and fills f's entries, in data order. */
static int check_layout(struct st_rec *recs, int n, const char *path, size_t header_end,
                        int64_t data_size, struct st_file_priv *fp, struct error *e)
{
	struct st_file *f = &fp->pub;
	qsort(recs, (size_t)n, sizeof *recs, rec_by_name);
	for (int i = 1; i < n; i++) {
		if (strcmp(recs[i - 1].name, recs[i].name) == 0)
			return tensor_error(e, path, recs[i].name, "appears twice in the header");
	}
	qsort(recs, (size_t)n, sizeof *recs, rec_by_offset);
	int64_t at = 0;
	for (int i = 0; i < n; i++) {
		const struct st_rec *r = &recs[i];
		if (r->begin > at && i == 0)
			return tensor_error(
			    e, path, r->name,
			    "data_offsets [%lld, %lld] leave a gap of %lld bytes at "
			    "the start of the data area",
			    (long long)r->begin, (long long)r->end, (long long)(r->begin - at));
		if (r->begin > at)
			return tensor_error(
			    e, path, r->name,
			    "data_offsets [%lld, %lld] leave a gap of %lld bytes after "
			    "tensor '%.*s' (which ends at %lld)",
			    (long long)r->begin, (long long)r->end, (long long)(r->begin - at),
			    NAME_MAX_SHOWN, recs[i - 1].name, (long long)at);
		if (r->begin < at)
			return tensor_error(e, path, r->name,
			                    "data_offsets [%lld, %lld] overlap tensor '%.*s' "
			                    "[%lld, %lld]",
			                    (long long)r->begin, (long long)r->end, NAME_MAX_SHOWN,
			                    recs[i - 1].name, (long long)recs[i - 1].begin,
			                    (long long)recs[i - 1].end);
		at = r->end;
	}
	if (at != data_size)
		return st_error(
		    e, path,
		    "the tensors end at byte %lld of the data area, which has %lld bytes "
		    "(%lld bytes not covered)",
		    (long long)at, (long long)data_size, (long long)(data_size - at));

	f->entries = xcalloc((size_t)n + 1, sizeof *f->entries);
	for (int i = 0; i < n; i++) {
		struct st_entry *en = &f->entries[i];
		en->name = xstrdup(recs[i].name);
		en->t.dtype = recs[i].dtype;
		en->t.shape = recs[i].shape;
		en->t.storage = storage_ref(f->map);
		en->t.offset = header_end + (size_t)recs[i].begin;
		f->n = i + 1;
	}
	fp->by_name = xmalloc(((size_t)n + 1) * sizeof *fp->by_name);
	for (int i = 0; i < n; i++)
		fp->by_name[i] = &f->entries[i];
	qsort(fp->by_name, (size_t)n, sizeof *fp->by_name, entry_ptr_by_name);
	return 0;
}

static int parse_header(const struct json_value *root, const char *path, size_t header_end, int64_t data_size,
                        struct st_file_priv *fp, struct error *e)
{
	int count = json_count(root), n = 0, rc;
	struct st_rec *recs = xcalloc((size_t)count + 1, sizeof *recs);
	const struct json_value *v;
	for (v = json_first(root); v; v = json_next(v)) {
		if (strcmp(json_key(v), "__metadata__") == 0) {
			if (parse_meta(v, path, &fp->pub, e) < 0)
				goto fail;
			continue;
		}
		if (parse_tensor(v, path, data_size, &recs[n], e) < 0)
			goto fail;
		recs[n].pos = n;
		n++;
	}
	rc = check_layout(recs, n, path, header_end, data_size, fp, e);
	free(recs);
	return rc;
fail:
	free(recs);
	return -1;
}

static int st_parse(struct st_file_priv *fp, const char *path, struct error *e)
{
	const struct storage *map = fp->pub.map;
	const unsigned char *bytes = map->data;
	uint64_t n = 0;
	int64_t bad;
	const char *what = NULL;

	if (map->size < 8)
		return st_error(e, path,
		                "file too small for safetensors: %zu bytes, and the header length "
		                "alone takes 8",
		                map->size);
	for (int i = 7; i >= 0; i--)
		n = n << 8 | bytes[i];
	if (n > SAFETENSORS_MAX_HEADER)
		return st_error(e, path, "header length %llu is over the limit of %d bytes",
		                (unsigned long long)n, SAFETENSORS_MAX_HEADER);
	if (n > map->size - 8)
		return st_error(e, path,
		                "header length %llu runs past the end of the file (%zu bytes)",
		                (unsigned long long)n, map->size);

	const char *header = (const char *)bytes + 8;
	size_t hlen = (size_t)n;
	if ((bad = utf8_invalid_at((const unsigned char *)header, hlen)) >= 0)
		return st_error(e, path, "offset %lld: header is not valid UTF-8",
		                (long long)(bad + 8));
	if (hlen == 0 || header[0] != '{')
		return st_error(e, path, "header is not a JSON object (it must start with '{')");
	if ((bad = json_lexical_error(header, hlen, &what)) >= 0)
		return st_error(e, path, "offset %lld: header is not valid JSON: %s",
		                (long long)(bad + 8), what);

	struct budget budget;
	budget_init(&budget, map->size);
	if (budget_spend(&budget, json_parse_cost(header, hlen), e) < 0)
		return error_prefix(e, "%s: the header", path);
	size_t end;
	struct json_value *root = json_parse(header, hlen, &end);
	if (!root)
		return st_error(e, path, "offset %zu: header is not valid JSON", end + 8);
	/* The reference pads the header with spaces; JSON white space may follow
	 * the object, nothing else. */
	for (const char *p = header + end; p < header + hlen; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			json_free(root);
			return st_error(e, path,
			                "offset %zu: unexpected data after the header's JSON",
			                (size_t)(p - header) + 8);
		}
	}
	int rc = parse_header(root, path, 8 + hlen, (int64_t)(map->size - 8 - hlen), fp, e);
	json_free(root);
	return rc;
}

/* Validates the safetensors image in map (its reference is taken over);
 * `path` names it in messages. */
static struct st_file *st_open_storage(struct storage *map, const char *path, struct error *e)
{
	struct st_file_priv *fp = xcalloc(1, sizeof *fp);
	fp->pub.map = map;
	if (st_parse(fp, path, e) < 0) {
		st_close(&fp->pub);
		return NULL;
	}
	return &fp->pub;
}

struct st_file *st_open(const char *path, struct error *e)
{
	struct storage *map = storage_map_file(path, e);
	return map ? st_open_storage(map, path, e) : NULL;
}

struct st_file *st_open_memory(const void *data, size_t len, const char *where, struct error *e)
{
	struct storage *copy = storage_new(len);
	if (len)
		memcpy(copy->data, data, len);
	return st_open_storage(copy, where, e);
}

void st_close(struct st_file *f)
{
	struct st_file_priv *fp = (struct st_file_priv *)f;
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		free(f->entries[i].name);
		tensor_release(&f->entries[i].t);
	}
	free(f->entries);
	for (int i = 0; i < f->nmeta; i++) {
		free(f->meta[i].key);
		free(f->meta[i].value);
	}
	free(f->meta);
	storage_unref(f->map);
	free(fp->by_name);
	free(fp);
}

const struct st_entry *st_find(const struct st_file *f, const char *name)
{
	const struct st_file_priv *fp = (const struct st_file_priv *)f;
	int lo = 0, hi = f->n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const struct st_entry *en = fp->by_name[mid];
		int c = strcmp(name, en->name);
		if (c == 0)
			return en;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *st_meta_get(const struct st_file *f, const char *key)
{
	for (int i = 0; i < f->nmeta; i++) {
		if (strcmp(f->meta[i].key, key) == 0)
			return f->meta[i].value;
	}
	return NULL;
}

/* ---- writing ---- */

/* Appends s as a JSON string the way serde_json writes it: only '"', '\\'
 * and control characters are escaped (\b \t \n \f \r, else \u00xx), and
 * everything else, non-ASCII included, is copied as is. */
static void json_string(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			strbuf_add(sb, "\\\"");
			break;
		case '\\':
			strbuf_add(sb, "\\\\");
			break;
		case '\b':
			strbuf_add(sb, "\\b");
			break;
		case '\t':
			strbuf_add(sb, "\\t");
			break;
		case '\n':
			strbuf_add(sb, "\\n");
			break;
		case '\f':
			strbuf_add(sb, "\\f");
			break;
		case '\r':
			strbuf_add(sb, "\\r");
			break;
		default:
			if (*p < 0x20)
				strbuf_addf(sb, "\\u%04x", *p);
			else
				strbuf_addn(sb, (const char *)p, 1);
		}
	}
	strbuf_add(sb, "\"");
}

static bool utf8_valid(const char *s)
{
	return utf8_invalid_at((const unsigned char *)s, strlen(s)) < 0;
}

/* Checks what st_write is given and builds the header (padded). */
static int build_header(struct strbuf *sb, const char *path, const char *const *names,
                        const struct tensor *const *tensors, int n, const struct st_meta *meta,
                        int nmeta, struct error *e)
{
	int64_t at = 0;
	char buf[256];
	const char *dup;
	if (meta && check_meta_keys(meta, nmeta, path, "given twice", e) < 0)
		return -1;
	if ((dup = find_duplicate(names, n)) != NULL)
		return tensor_error(e, path, dup, "given twice");
	strbuf_add(sb, "{");
	if (meta) {
		strbuf_add(sb, "\"__metadata__\":{");
		for (int i = 0; i < nmeta; i++) {
			if (!utf8_valid(meta[i].key) || !utf8_valid(meta[i].value))
				return st_error(e, path, "__metadata__ '%.*s': not valid UTF-8",
				                NAME_MAX_SHOWN, meta[i].key);
			if (i)
				strbuf_add(sb, ",");
			json_string(sb, meta[i].key);
			strbuf_add(sb, ":");
			json_string(sb, meta[i].value);
		}
		strbuf_add(sb, "}");
	}
	for (int i = 0; i < n; i++) {
		const struct tensor *t = tensors[i];
		const char *name = names[i];
		int64_t numel = shape_numel(&t->shape), nbytes;
		if (strcmp(name, "__metadata__") == 0)
			return st_error(e, path, "a tensor cannot be named __metadata__");
		if (!utf8_valid(name))
			return st_error(e, path, "tensor name is not valid UTF-8");
		if ((unsigned)t->dtype >= DT_COUNT || numel < 0 ||
		    __builtin_mul_overflow(numel, (int64_t)dtype_size(t->dtype), &nbytes))
			return tensor_error(e, path, name, "invalid dtype or shape %s",
			                    shape_format(&t->shape, buf, sizeof buf));
		if (!t->storage)
			return tensor_error(e, path, name, "has no data");
		if (!storage_file_unchanged(t->storage))
			return tensor_error(e, path, name, STORAGE_CHANGED);
		if (t->offset > t->storage->size || (uint64_t)nbytes > t->storage->size - t->offset)
			return error_setk(
			    e, ERR_INTERNAL,
			    "%s: tensor '%.*s': %lld bytes at offset %zu run past its "
			    "storage of %zu bytes",
			    path, NAME_MAX_SHOWN, name, (long long)nbytes, t->offset,
			    t->storage->size);
		if (meta || i)
			strbuf_add(sb, ",");
		json_string(sb, name);
		strbuf_addf(sb, ":{\"dtype\":\"%s\",\"shape\":[", dtype_st_name(t->dtype));
		for (int d = 0; d < t->shape.ndim; d++)
			strbuf_addf(sb, "%s%lld", d ? "," : "", (long long)t->shape.dim[d]);
		strbuf_addf(sb, "],\"data_offsets\":[%lld,%lld]}", (long long)at,
		            (long long)(at + nbytes));
		at += nbytes;
	}
	strbuf_add(sb, "}");
	while (sb->len % 8)
		strbuf_add(sb, " ");
	if (sb->len > SAFETENSORS_MAX_HEADER)
		return st_error(e, path, "header of %zu bytes is over the limit of %d bytes",
		                sb->len, SAFETENSORS_MAX_HEADER);
	return 0;
}

int st_write_to(struct save_file *sf, const char *const *names,
		const struct tensor *const *tensors, int n, const struct st_meta *meta, int nmeta,
		struct error *e)
{
	struct strbuf sb = {0};
	unsigned char len8[8];
	int rc = build_header(&sb, sf->path, names, tensors, n, meta, nmeta, e);
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)sb.len >> (8 * i));
	if (rc == 0)
		rc = save_write(sf, len8, 8, e) < 0 || save_write(sf, sb.s, sb.len, e) < 0 ? -1 : 0;
	for (int i = 0; rc == 0 && i < n; i++)
		rc = save_write(sf, tensor_data(tensors[i]), tensor_nbytes(tensors[i]), e);
	strbuf_free(&sb);
	return rc;
}

int st_write(const char *path, const char *const *names, const struct tensor *const *tensors, int n,
             const struct st_meta *meta, int nmeta, struct error *e)
{
	struct save_file sf;
	if (save_begin(&sf, path, 0, e) < 0)
		return -1;
	return save_end(&sf, st_write_to(&sf, names, tensors, n, meta, nmeta, e), e);
}
