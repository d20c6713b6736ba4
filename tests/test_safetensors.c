/* test_safetensors.c - dtypes, shapes, half conversions and the safetensors
 * reader and writer, including a corpus of hostile files.
 *
 * Run from the build directory; $srcdir names the source directory (for the
 * fixtures in tests/data/safetensors), "." by default. Scratch files go to a
 * fresh directory under $TMPDIR (or /tmp), removed at the end. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/io_safetensors.h"
#include "core/tensor.h"
#include "core/util.h"

static char tmp_dir[512];

/* A path in the scratch directory (a static buffer, one at a time per slot). */
static const char *tmp_path(const char *name)
{
	static char buf[4][1024];
	static int slot;
	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof buf[slot], "%s/%s", tmp_dir, name);
	return buf[slot];
}

static const char *data_path(const char *name)
{
	static char buf[1024];
	const char *srcdir = getenv("srcdir");
	snprintf(buf, sizeof buf, "%s/tests/data/safetensors/%s", srcdir ? srcdir : ".", name);
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len)) {
		printf("  cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fclose(f);
}

/* Reads a whole file; NULL if it cannot be read. */
static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb = {0};
	char buf[4096];
	size_t n;
	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_addn(&sb, buf, n);
	fclose(f);
	*len = sb.len;
	return (unsigned char *)strbuf_take(&sb);
}

static bool files_equal(const char *a, const char *b)
{
	size_t na = 0, nb = 0;
	unsigned char *da = read_file(a, &na), *db = read_file(b, &nb);
	bool same = da && db && na == nb && memcmp(da, db, na) == 0;
	free(da);
	free(db);
	return same;
}

/* Writes a safetensors file: the header length `declared` (or the header's
 * own length when declared is -1), the header, then `data_len` bytes
 * 0, 1, 2, ... */
static void write_st(const char *path, const char *header, int64_t declared, size_t data_len)
{
	size_t hlen = strlen(header);
	uint64_t n = declared < 0 ? hlen : (uint64_t)declared;
	size_t total = 8 + hlen + data_len;
	unsigned char *buf = xmalloc(total);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(n >> (8 * i));
	memcpy(buf + 8, header, hlen);
	for (size_t i = 0; i < data_len; i++)
		buf[8 + hlen + i] = (unsigned char)i;
	write_file(path, buf, total);
	free(buf);
}

/* Reads a file and writes it back with st_write; true when the result is
 * the same bytes. */
static bool rewrite_same(const char *in, const char *out)
{
	struct error e = {0};
	struct st_file *f = st_open(in, &e);
	if (!f) {
		printf("  %s\n", e.msg);
		return false;
	}
	const char **names = xcalloc((size_t)f->n + 1, sizeof *names);
	const struct tensor **ts = xcalloc((size_t)f->n + 1, sizeof *ts);
	for (int i = 0; i < f->n; i++) {
		names[i] = f->entries[i].name;
		ts[i] = &f->entries[i].t;
	}
	int rc = st_write(out, names, ts, f->n, f->meta, f->nmeta, &e);
	if (rc < 0)
		printf("  %s\n", e.msg);
	free(names);
	free(ts);
	st_close(f);
	return rc == 0 && files_equal(in, out);
}

static int count_tmp_leftovers(void)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".tmp"))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* ---- dtypes and shapes ---- */

static void test_dtype_tables(void)
{
	enum dtype t;
	CHECK(dtype_size(DT_F32) == 4 && dtype_size(DT_F16) == 2 && dtype_size(DT_BF16) == 2);
	CHECK(dtype_size(DT_F64) == 8 && dtype_size(DT_I64) == 8 && dtype_size(DT_I32) == 4);
	CHECK(dtype_size(DT_I16) == 2 && dtype_size(DT_I8) == 1 && dtype_size(DT_U8) == 1);
	CHECK(dtype_size(DT_BOOL) == 1);
	CHECK_STR(dtype_name(DT_BF16), "bfloat16");
	CHECK_STR(dtype_st_name(DT_BOOL), "BOOL");
	for (int i = 0; i < DT_COUNT; i++) {
		CHECK(dtype_parse(dtype_name((enum dtype)i), &t) == 0 && t == (enum dtype)i);
		CHECK(dtype_parse(dtype_st_name((enum dtype)i), &t) == 0 && t == (enum dtype)i);
	}
	CHECK(dtype_parse("torch.float16", &t) == 0 && t == DT_F16);
	CHECK(dtype_parse("bf16", &t) == 0 && t == DT_BF16);
	CHECK(dtype_parse("half", &t) == 0 && t == DT_F16);
	CHECK(dtype_parse("torch.long", &t) == 0 && t == DT_I64);
	CHECK(dtype_parse("F8_E4M3", &t) < 0);
	CHECK(dtype_parse("float8", &t) < 0);
	CHECK(dtype_parse("", &t) < 0);
}

static void test_shape_parse_good(void)
{
	static const struct {
		const char *text;
		int ndim;
		int64_t dim[4];
	} cases[] = {
	    {"1x3x224x224", 4, {1, 3, 224, 224}},
	    {"1,3,224,224", 4, {1, 3, 224, 224}},
	    {" 2 x 3 ", 2, {2, 3}},
	    {"2X3", 2, {2, 3}},
	    {"[1, 64, 56, 56]", 4, {1, 64, 56, 56}},
	    {"(3,)", 1, {3}},
	    {"(3, 4)", 2, {3, 4}},
	    {"7", 1, {7}},
	    {"0x5", 2, {0, 5}},
	    {"[]", 0, {0}},
	    {"1099511627776", 1, {(int64_t)1 << 40}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct shape s;
		struct error e = {0};
		int rc = shape_parse(cases[i].text, &s, &e);
		CHECK(rc == 0);
		if (rc < 0) {
			printf("  %s\n", e.msg);
			continue;
		}
		CHECK(s.ndim == cases[i].ndim);
		for (int d = 0; d < s.ndim && d < 4; d++)
			CHECK(s.dim[d] == cases[i].dim[d]);
	}
}

static void test_shape_parse_bad(void)
{
	static const struct {
		const char *text, *fragment;
	} cases[] = {
	    {"", "empty"},
	    {"   ", "empty"},
	    {"[ ]x", "empty"},
	    {"1x", "missing a dimension"},
	    {"x3", "expected a number"},
	    {"1x-3", "dimension 2 is negative"},
	    {"-1", "dimension 1 is negative"},
	    {"1x2x3x4x5x6x7x8x9", "too many dimensions (at most 8)"},
	    {"99999999999999999999", "dimension 1 is too large"},
	    {"1099511627776x1099511627776", "too many elements"},
	    {"1099511627777", "too many elements"},
	    {"1x2,3", "mixes"},
	    {"1xa", "expected a number"},
	    {"[1,2", "expected ']'"},
	    {"1.5", "unexpected"},
	    {"2 3", "unexpected"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct shape s = {.ndim = 99};
		struct error e = {0};
		CHECK(shape_parse(cases[i].text, &s, &e) < 0);
		CHECK(e.kind == ERR_INPUT);
		CHECK(s.ndim == 99); /* untouched on failure */
		CHECK_CONTAINS(e.msg, cases[i].fragment);
		CHECK_CONTAINS(e.msg, "shape \"");
	}
}

static void test_shape_format(void)
{
	struct shape s = {.ndim = 4, .dim = {1, 64, 56, 56}}, scalar = {.ndim = 0}, back;
	char buf[64], tiny[6];
	CHECK_STR(shape_format(&s, buf, sizeof buf), "[1, 64, 56, 56]");
	CHECK_STR(shape_format_x(&s, buf, sizeof buf), "1x64x56x56");
	CHECK_STR(shape_format(&scalar, buf, sizeof buf), "[]");
	CHECK_STR(shape_format_x(&scalar, buf, sizeof buf), "[]");
	CHECK_STR(shape_format(&s, tiny, sizeof tiny), "[1, 6");
	CHECK(shape_parse(shape_format(&s, buf, sizeof buf), &back, NULL) == 0);
	CHECK(shape_equal(&s, &back));
	CHECK(shape_parse(shape_format_x(&s, buf, sizeof buf), &back, NULL) == 0);
	CHECK(shape_equal(&s, &back));
	CHECK(shape_parse(shape_format_x(&scalar, buf, sizeof buf), &back, NULL) == 0);
	CHECK(shape_equal(&scalar, &back));
}

static void test_shape_numel(void)
{
	struct shape s = {.ndim = 2, .dim = {3, 4}};
	CHECK(shape_numel(&s) == 12);
	s = (struct shape){.ndim = 0, .dim = {0}};
	CHECK(shape_numel(&s) == 1);
	s = (struct shape){.ndim = 2, .dim = {5, 0}};
	CHECK(shape_numel(&s) == 0);
	s = (struct shape){.ndim = 2, .dim = {3, -4}};
	CHECK(shape_numel(&s) == -1);
	s = (struct shape){.ndim = 2, .dim = {(int64_t)1 << 40, (int64_t)1 << 40}};
	CHECK(shape_numel(&s) == -1);
	s = (struct shape){.ndim = 3, .dim = {INT64_MAX, 2, 0}};
	CHECK(shape_numel(&s) == -1);
	s = (struct shape){.ndim = 2, .dim = {(int64_t)1 << 20, (int64_t)1 << 20}};
	CHECK(shape_numel(&s) == SHAPE_MAX_NUMEL);
	s.dim[1]++;
	CHECK(shape_numel(&s) == -1);
	s = (struct shape){.ndim = SHAPE_MAX_DIMS + 1, .dim = {0}};
	CHECK(shape_numel(&s) == -1);
}

/* ---- half precision ---- */

static uint32_t bits_of(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static float float_of(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* The value of a finite half, computed independently of tensor.c. */
static double half_value(uint16_t h)
{
	int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	double v = exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
	return (h & 0x8000) ? -v : v;
}

static void test_f16_decode_all(void)
{
	int bad = 0;
	for (uint32_t h = 0; h <= 0xffff; h++) {
		float f = f16_to_f32((uint16_t)h);
		if (((h >> 10) & 0x1f) == 0x1f) {
			bool nan = (h & 0x3ff) != 0;
			bad += nan ? !isnan(f)
			           : !(isinf(f) && (signbit(f) != 0) == ((h & 0x8000) != 0));
			continue;
		}
		double want = half_value((uint16_t)h);
		/* == does not see the sign of zero; compare bits. */
		bad += bits_of(f) != bits_of((float)want);
		bad += f32_to_f16(f) != h;
	}
	CHECK(bad == 0);
	CHECK(f16_to_f32(0x3c00) == 1.0f);
	CHECK(f16_to_f32(0x7bff) == 65504.0f);
	CHECK(f16_to_f32(0x0001) == ldexpf(1, -24));
	CHECK(f16_to_f32(0x0400) == ldexpf(1, -14));
	CHECK(bits_of(f16_to_f32(0x8000)) == 0x80000000u);
}

/* Every value halfway between two adjacent halves rounds to the even one;
 * a hair either side rounds to the nearer. */
static void test_f16_encode_rounding(void)
{
	int bad = 0;
	for (uint32_t h = 0; h < 0x7bff; h++) {
		for (int sign = 0; sign < 2; sign++) {
			uint16_t lo = (uint16_t)(h | (sign ? 0x8000 : 0)), hi = (uint16_t)(lo + 1);
			float mid = (float)((half_value(lo) + half_value(hi)) / 2);
			float up = nextafterf(mid, sign ? -INFINITY : INFINITY);
			float down = nextafterf(mid, 0);
			bad += f32_to_f16(mid) != ((lo & 1) ? hi : lo);
			bad += f32_to_f16(up) != hi;
			bad += f32_to_f16(down) != lo;
		}
	}
	CHECK(bad == 0);
	CHECK(f32_to_f16(65519.99f) == 0x7bff);
	CHECK(f32_to_f16(65520.0f) == 0x7c00);
	CHECK(f32_to_f16(-65520.0f) == 0xfc00);
	CHECK(f32_to_f16(1e30f) == 0x7c00);
	CHECK(f32_to_f16(INFINITY) == 0x7c00);
	CHECK(f32_to_f16(-INFINITY) == 0xfc00);
	CHECK(f32_to_f16(ldexpf(1, -25)) == 0x0000); /* tie with 0: even */
	CHECK(f32_to_f16(nextafterf(ldexpf(1, -25), 1)) == 0x0001);
	CHECK(f32_to_f16(ldexpf(3, -26)) == 0x0001);
	CHECK(f32_to_f16(ldexpf(1, -30)) == 0x0000);
	CHECK(f32_to_f16(-ldexpf(1, -30)) == 0x8000);
	CHECK(f32_to_f16(-0.0f) == 0x8000);
	CHECK(f32_to_f16(float_of(0x00000001)) == 0); /* float subnormal */
	CHECK((f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (f32_to_f16(NAN) & 0x3ff) != 0);
	CHECK(isnan(f16_to_f32(f32_to_f16(-NAN))));
	/* A NaN whose payload sits only in the low bits must not become inf. */
	CHECK(isnan(f16_to_f32(f32_to_f16(float_of(0x7f800001)))));
}

static void test_bf16(void)
{
	int bad = 0;
	for (uint32_t h = 0; h <= 0xffff; h++) {
		float f = bf16_to_f32((uint16_t)h);
		bad += bits_of(f) != h << 16;
		if (isnan(f)) {
			bad += !isnan(bf16_to_f32(f32_to_bf16(f)));
			continue;
		}
		bad += f32_to_bf16(f) != h;
		if ((h & 0x7fff) >= 0x7f80)
			continue; /* infinities have no upper neighbour */
		/* Halfway to the next value up in magnitude, and either side. */
		uint32_t mid = h << 16 | 0x8000;
		uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
		bad += f32_to_bf16(float_of(mid)) != even;
		bad += f32_to_bf16(float_of(mid + 1)) != (uint16_t)(h + 1);
		bad += f32_to_bf16(float_of(mid - 1)) != (uint16_t)h;
	}
	CHECK(bad == 0);
	CHECK(f32_to_bf16(3.4028235e38f) == 0x7f80); /* rounds up to inf */
	CHECK(f32_to_bf16(1.0f) == 0x3f80);
	CHECK(isnan(bf16_to_f32(f32_to_bf16(NAN))));
	CHECK(isnan(bf16_to_f32(f32_to_bf16(float_of(0x7f800001)))));
	CHECK(isnan(bf16_to_f32(f32_to_bf16(float_of(0xff800001)))));
}

/* Compares with PyTorch's conversions, stored by tools/make-safetensors-fixtures. */
static void test_half_vs_torch(void)
{
	struct error e = {0};
	struct st_file *f = st_open(data_path("half-conversions.safetensors"), &e);
	CHECK(f != NULL);
	if (!f) {
		printf("  %s\n", e.msg);
		return;
	}
	const struct st_entry *x = st_find(f, "x"), *h = st_find(f, "x_f16"),
	                      *b = st_find(f, "x_bf16");
	CHECK(x && h && b);
	if (!x || !h || !b) {
		st_close(f);
		return;
	}
	int64_t n = shape_numel(&x->t.shape);
	int bad = 0;
	CHECK(n > 500 && shape_numel(&h->t.shape) == n && shape_numel(&b->t.shape) == n);
	for (int64_t i = 0; i < n; i++) {
		float v;
		uint16_t want_h, want_b;
		memcpy(&v, (const char *)tensor_data(&x->t) + 4 * i, 4);
		memcpy(&want_h, (const char *)tensor_data(&h->t) + 2 * i, 2);
		memcpy(&want_b, (const char *)tensor_data(&b->t) + 2 * i, 2);
		if (f32_to_f16(v) != want_h || f32_to_bf16(v) != want_b) {
			if (bad++ < 5)
				printf("  %a (0x%08x): f16 0x%04x want 0x%04x, bf16 0x%04x want "
				       "0x%04x\n",
				       (double)v, bits_of(v), f32_to_f16(v), want_h, f32_to_bf16(v),
				       want_b);
		}
		if (tensor_get(&h->t, i) != (double)f16_to_f32(want_h))
			bad++;
	}
	CHECK(bad == 0);
	st_close(f);
}

/* ---- storage and tensors ---- */

static void test_storage(void)
{
	struct error e = {0};
	struct storage *s = storage_new(16);
	CHECK(s->refs == 1 && s->size == 16 && !s->mapped);
	CHECK(((unsigned char *)s->data)[0] == 0 && ((unsigned char *)s->data)[15] == 0);
	CHECK(storage_ref(s) == s && s->refs == 2);
	storage_unref(s);
	storage_unref(s);
	storage_unref(NULL);

	write_file(tmp_path("empty"), "", 0);
	s = storage_map_file(tmp_path("empty"), &e);
	CHECK(s && s->size == 0);
	storage_unref(s);

	write_file(tmp_path("four"), "abcd", 4);
	s = storage_map_file(tmp_path("four"), &e);
	CHECK(s && s->size == 4 && s->mapped && memcmp(s->data, "abcd", 4) == 0);
	storage_unref(s);

	CHECK(storage_map_file(tmp_path("missing"), &e) == NULL);
	CHECK_CONTAINS(e.msg, tmp_path("missing"));
	CHECK_CONTAINS(e.msg, "No such file");
	CHECK(storage_map_file(tmp_dir, &e) == NULL);
	CHECK_CONTAINS(e.msg, "not a regular file");
}

/* A file truncated while mapped is refused before its data is read (which
 * would be SIGBUS), leaving no temporary file; a FIFO is never waited on. */
static void test_changed_under_map(void)
{
	struct error e = {0};
	struct tensor t = {.dtype = DT_F32, .shape = {.ndim = 1, .dim = {4096}}};
	tensor_alloc(&t, NULL);
	const char *names[] = {"w"};
	const struct tensor *tp[] = {&t};
	char src[1024], dest[1024];
	snprintf(src, sizeof src, "%s", tmp_path("mapped.safetensors"));
	snprintf(dest, sizeof dest, "%s", tmp_path("copy.safetensors"));
	CHECK(st_write(src, names, tp, 1, NULL, 0, &e) == 0);
	tensor_release(&t);
	struct st_file *f = st_open(src, &e);
	CHECK(f && f->n == 1 && storage_file_unchanged(f->map));
	CHECK(f && truncate(src, 8) == 0);
	if (f) {
		CHECK(!storage_file_unchanged(f->map));
		tp[0] = &f->entries[0].t;
		CHECK(st_write(dest, names, tp, 1, NULL, 0, &e) < 0);
		CHECK_CONTAINS(e.msg, "changed on disk");
		CHECK(count_tmp_leftovers() == 0);
		CHECK(access(dest, F_OK) != 0);
	}
	st_close(f);

	CHECK(mkfifo(tmp_path("fifo"), 0600) == 0);
	CHECK(storage_map_file(tmp_path("fifo"), &e) == NULL);
	CHECK_CONTAINS(e.msg, "not a regular file");
	unlink(tmp_path("fifo"));
}

static void test_tensor_helpers(void)
{
	struct tensor t = {.dtype = DT_I16, .shape = {2, {2, 3}}};
	CHECK(tensor_nbytes(&t) == 12);
	CHECK(tensor_data(&t) == NULL);
	tensor_alloc(&t, NULL);
	CHECK(t.storage && t.storage->size == 12 && t.offset == 0);
	int16_t vals[6] = {-3, 0, 7, 32767, -32768, 1};
	memcpy(t.storage->data, vals, sizeof vals);
	CHECK(tensor_get(&t, 0) == -3 && tensor_get(&t, 4) == -32768);
	float out[6];
	tensor_to_f32(&t, out);
	CHECK(out[3] == 32767.0f && out[5] == 1.0f);

	struct tensor u = {0};
	tensor_share(&u, &t);
	CHECK(u.storage == t.storage && t.storage->refs == 2 && u.dtype == DT_I16);
	CHECK(shape_equal(&u.shape, &t.shape));
	tensor_share(&u, &u); /* sharing with itself keeps the reference */
	CHECK(t.storage->refs == 2);
	tensor_release(&t);
	CHECK(t.storage == NULL && u.storage->refs == 1);
	CHECK(tensor_get(&u, 2) == 7);
	tensor_release(&u);
	tensor_release(&u);

	/* Every dtype, read from an odd (unaligned) offset. */
	static const struct {
		enum dtype dt;
		unsigned char bytes[8];
		double want;
	} cases[] = {
	    {DT_F32, {0x00, 0x00, 0x20, 0xc0}, -2.5},
	    {DT_F16, {0x00, 0x3c}, 1.0},
	    {DT_BF16, {0x49, 0x40}, 3.140625},
	    {DT_F64, {0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, 1.0},
	    {DT_I64, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, -2},
	    {DT_I32, {0x40, 0xe2, 0x01, 0x00}, 123456},
	    {DT_I16, {0xff, 0x7f}, 32767},
	    {DT_I8, {0x80}, -128},
	    {DT_U8, {0xff}, 255},
	    {DT_BOOL, {0x02}, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tensor v = {.dtype = cases[i].dt, .shape = {1, {1}}};
		v.storage = storage_new(1 + dtype_size(v.dtype));
		v.offset = 1;
		memcpy((char *)v.storage->data + 1, cases[i].bytes, dtype_size(v.dtype));
		CHECK(tensor_get(&v, 0) == cases[i].want);
		tensor_to_f32(&v, out);
		CHECK(out[0] == (float)cases[i].want);
		tensor_release(&v);
	}
}

/* ---- reading and writing ---- */

/* One tensor of each dtype plus a scalar and an empty one, filled with a
 * byte pattern. */
static void make_all_dtypes(struct tensor *ts, char names[][32], int *n)
{
	int k = 0;
	for (int i = 0; i < DT_COUNT; i++, k++) {
		ts[k] = (struct tensor){.dtype = (enum dtype)i, .shape = {2, {3, i + 1}}};
		snprintf(names[k], 32, "layer%d.%s", i, dtype_name((enum dtype)i));
	}
	ts[k] = (struct tensor){.dtype = DT_F32, .shape = {0, {0}}};
	snprintf(names[k++], 32, "scalar");
	ts[k] = (struct tensor){.dtype = DT_F16, .shape = {3, {2, 0, 5}}};
	snprintf(names[k++], 32, "empty");
	for (int i = 0; i < k; i++) {
		tensor_alloc(&ts[i], NULL);
		unsigned char *p = ts[i].storage->data;
		for (size_t b = 0; b < tensor_nbytes(&ts[i]); b++)
			p[b] = (unsigned char)(b * 7 + (size_t)i);
		if (ts[i].dtype == DT_BOOL)
			for (size_t b = 0; b < tensor_nbytes(&ts[i]); b++)
				p[b] &= 1;
	}
	*n = k;
}

static void test_roundtrip_every_dtype(void)
{
	struct tensor ts[DT_COUNT + 2];
	char names[DT_COUNT + 2][32];
	const char *name_ptrs[DT_COUNT + 2];
	const struct tensor *tptrs[DT_COUNT + 2];
	int n;
	struct error e = {0};
	struct st_meta meta[] = {{"format", "pt"}, {"graft", "{\"x\": \"\\u00e9\\n\"}\t\x01"}};

	make_all_dtypes(ts, names, &n);
	for (int i = 0; i < n; i++) {
		name_ptrs[i] = names[i];
		tptrs[i] = &ts[i];
	}
	CHECK(st_write(tmp_path("all.safetensors"), name_ptrs, tptrs, n, meta, 2, &e) == 0);
	struct st_file *f = st_open(tmp_path("all.safetensors"), &e);
	CHECK(f != NULL);
	if (!f) {
		printf("  %s\n", e.msg);
		goto out;
	}
	CHECK(f->n == n && f->nmeta == 2);
	CHECK_STR(st_meta_get(f, "format"), "pt");
	CHECK_STR(st_meta_get(f, "graft"), meta[1].value);
	CHECK(st_meta_get(f, "nope") == NULL);
	for (int i = 0; i < n && i < f->n; i++) {
		const struct st_entry *en = &f->entries[i];
		CHECK_STR(en->name, names[i]); /* written order is data order */
		CHECK(st_find(f, names[i]) == en);
		CHECK(en->t.dtype == ts[i].dtype);
		CHECK(shape_equal(&en->t.shape, &ts[i].shape));
		CHECK(tensor_nbytes(&en->t) == tensor_nbytes(&ts[i]));
		CHECK(memcmp(tensor_data(&en->t), tensor_data(&ts[i]), tensor_nbytes(&ts[i])) == 0);
		/* zero-copy: the entry points into the mapped file */
		CHECK(en->t.storage == f->map);
	}
	CHECK(f->map->refs == n + 1);
	st_close(f);
	/* write -> read -> write gives the same bytes */
	CHECK(rewrite_same(tmp_path("all.safetensors"), tmp_path("all2.safetensors")));
	/* and the header is laid out as documented */
	size_t len = 0;
	unsigned char *bytes = read_file(tmp_path("all.safetensors"), &len);
	CHECK(bytes && len > 8 &&
	      memcmp(bytes + 8, "{\"__metadata__\":{\"format\":\"pt\",", 31) == 0);
	CHECK(bytes && strstr((char *)bytes + 8,
	                      "\"graft\":\"{\\\"x\\\": \\\"\\\\u00e9\\\\n\\\"}\\t\\u0001\"}"));
	CHECK(bytes &&
	      strstr((char *)bytes + 8, "\"layer0.float32\":{\"dtype\":\"F32\",\"shape\":[3,1],"
	                                "\"data_offsets\":[0,12]}"));
	CHECK(bytes && (bytes[0] | bytes[1] << 8) % 8 == 0);
	free(bytes);
out:
	for (int i = 0; i < n; i++)
		tensor_release(&ts[i]);
}

/* Byte strings from the reference implementation's own tests. */
static void test_reference_vectors(void)
{
	static const unsigned char attn[] =
	    "\x40\0\0\0\0\0\0\0"
	    "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}"
	    "\0\0\0\0\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40\0\0\x80\x40\0\0\xa0\x40";
	static const unsigned char empty[] = "\x08\0\0\0\0\0\0\0{}      ";
	static const unsigned char framework[] = "\x28\0\0\0\0\0\0\0"
	                                         "{\"__metadata__\":{\"framework\":\"pt\"}}     ";
	static const unsigned char attn_padded[] =
	    "\x48\0\0\0\0\0\0\0"
	    "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       "
	    "\0\0\0\0\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40\0\0\x80\x40\0\0\xa0\x40";
	static const struct {
		const unsigned char *bytes;
		size_t len;
	} files[] = {
	    {attn, sizeof attn - 1},
	    {empty, sizeof empty - 1},
	    {framework, sizeof framework - 1},
	    {attn_padded, sizeof attn_padded - 1},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		write_file(tmp_path("ref.safetensors"), files[i].bytes, files[i].len);
		CHECK(rewrite_same(tmp_path("ref.safetensors"), tmp_path("ref2.safetensors")));
	}
	struct error e = {0};
	write_file(tmp_path("ref.safetensors"), attn, sizeof attn - 1);
	struct st_file *f = st_open(tmp_path("ref.safetensors"), &e);
	CHECK(f && f->n == 1 && f->meta == NULL);
	if (f) {
		float v[6];
		tensor_to_f32(&f->entries[0].t, v);
		CHECK(v[0] == 0 && v[1] == 1 && v[5] == 5);
		CHECK(f->entries[0].t.offset == 8 + 64);
		st_close(f);
	}
}

static void test_reference_fixture(void)
{
	struct error e = {0};
	const char *path = data_path("reference.safetensors");
	struct st_file *f = st_open(path, &e);
	CHECK(f != NULL);
	if (!f) {
		printf("  %s\n", e.msg);
		return;
	}
	CHECK(f->n == 14 && f->nmeta == 2);
	CHECK_STR(st_meta_get(f, "note"), "caf\xc3\xa9 \"quoted\"\n");
	const struct st_entry *w = st_find(f, "fc.weight");
	CHECK(w && w->t.dtype == DT_F32 && w->t.shape.ndim == 2 && tensor_get(&w->t, 1) == -1.25);
	const struct st_entry *odd = st_find(f, "odd \"name\"\\with\ttab.\xc3\xa9");
	CHECK(odd && odd->t.dtype == DT_U8 && tensor_get(&odd->t, 0) == 7);
	const struct st_entry *sc = st_find(f, "scale");
	CHECK(sc && sc->t.shape.ndim == 0 && tensor_get(&sc->t, 0) == 0.125);
	const struct st_entry *em = st_find(f, "empty");
	CHECK(em && tensor_nbytes(&em->t) == 0);
	const struct st_entry *br = st_find(f, "brain");
	CHECK(br && tensor_get(&br->t, 2) == 3.140625);
	const struct st_entry *ix = st_find(f, "index");
	CHECK(ix && tensor_get(&ix->t, 2) == 1099511627776.0);
	CHECK(f->n > 0 && strcmp(f->entries[0].name, "index") == 0); /* I64 first */
	for (int i = 0; i < f->n; i++) /* laid out by alignment: all aligned */
		CHECK(f->entries[i].t.offset % dtype_size(f->entries[i].t.dtype) == 0);
	st_close(f);
	CHECK(rewrite_same(path, tmp_path("reference2.safetensors")));
}

static void test_offset_order_and_find(void)
{
	struct error e = {0};
	const char *hdr =
	    "{\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[8,16]},"
	    "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,8]},"
	    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	    "\"extra\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[16,17],\"x\":1}}";
	write_st(tmp_path("order.safetensors"), hdr, -1, 17);
	struct st_file *f = st_open(tmp_path("order.safetensors"), &e);
	CHECK(f != NULL);
	if (!f) {
		printf("  %s\n", e.msg);
		return;
	}
	CHECK(f->n == 4 && f->meta == NULL && f->nmeta == 0);
	if (f->n == 4) {
		CHECK_STR(f->entries[0].name, "a");
		CHECK_STR(f->entries[1].name, "z");
		CHECK_STR(f->entries[2].name, "b");
		CHECK_STR(f->entries[3].name, "extra");
		size_t base = 8 + strlen(hdr);
		CHECK(f->entries[2].t.offset == base + 8);
		CHECK(tensor_data(&f->entries[2].t) == (const char *)f->map->data + base + 8);
		CHECK(tensor_get(&f->entries[2].t, 0) == 8);
	}
	CHECK(st_find(f, "b") == &f->entries[2]);
	CHECK(st_find(f, "extra") == &f->entries[3]);
	CHECK(st_find(f, "c") == NULL && st_find(f, "") == NULL);
	st_close(f);

	/* An empty __metadata__ is kept and written back. */
	const char *m =
	    "{\"__metadata__\":{},\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
	char padded[128];
	snprintf(padded, sizeof padded, "%-*s", (int)((strlen(m) + 7) / 8 * 8), m);
	write_st(tmp_path("emptymeta.safetensors"), padded, -1, 1);
	f = st_open(tmp_path("emptymeta.safetensors"), &e);
	CHECK(f && f->meta != NULL && f->nmeta == 0);
	st_close(f);
	CHECK(rewrite_same(tmp_path("emptymeta.safetensors"), tmp_path("emptymeta2.safetensors")));
}

struct hostile {
	const char *what;
	const char *header;
	int64_t declared; /* header length to write, -1 for the real one */
	size_t data_len;
	const char *fragment;
};

#define T(name, body) "\"" name "\":{" body "}"
#define F32_12        "\"dtype\":\"F32\",\"shape\":[3]"

static const struct hostile hostile_files[] = {
    {"header length cut", "{}", 100, 0,
     "header length 100 runs past the end of the file (10 bytes)"},
    {"header length huge", "{}", INT64_MAX, 0, "over the limit of 100000000 bytes"},
    {"header length just over", "{}", 100000001, 0, "header length 100000001 is over the limit"},
    {"not UTF-8", "{\"\xff\":1}", -1, 0, "offset 10: header is not valid UTF-8"},
    {"overlong UTF-8", "{\"\xc0\xaf\":1}", -1, 0, "not valid UTF-8"},
    {"surrogate in UTF-8", "{\"\xed\xa0\x80\":1}", -1, 0, "not valid UTF-8"},
    {"not JSON", "{abc}", -1, 0, "header is not valid JSON"},
    {"not an object", "[1, 2]", -1, 0, "header is not a JSON object"},
    {"empty header", "", -1, 0, "header is not a JSON object"},
    {"leading space", " {}", -1, 0, "must start with '{'"},
    {"garbage after", "{}  x", -1, 0, "offset 12: unexpected data after"},
    {"two objects", "{}{}", -1, 0, "unexpected data after"},
    {"control character", "{\x01}", -1, 0, "control character"},
    {"raw tab in a string", "{\"a\tb\":1}", -1, 0, "control character inside a string"},
    {"escaped NUL", "{\"a\\u0000b\":{}}", -1, 0, "NUL"},
    {"deep nesting", NULL, -1, 0, "not valid JSON"},
    {"entry not an object", "{\"a\":3}", -1, 0, "tensor 'a': entry is not an object"},
    {"missing dtype", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4]") "}", -1, 4,
     "tensor 'a': missing \"dtype\""},
    {"dtype not a string", "{" T("a", "\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]") "}", -1,
     4, "\"dtype\" is not a string"},
    {"unknown dtype", "{" T("w", "\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]") "}",
     -1, 4, "tensor 'w': unsupported dtype \"F8_E4M3\""},
    {"lower-case dtype", "{" T("w", "\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]") "}",
     -1, 4, "unsupported dtype \"f32\""},
    {"missing shape", "{" T("a", "\"dtype\":\"F32\",\"data_offsets\":[0,4]") "}", -1, 4,
     "missing \"shape\""},
    {"negative shape", "{" T("a", "\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,0]") "}",
     -1, 0, "tensor 'a': shape [2, -1]: dimension 1 is negative"},
    {"fractional shape", "{" T("a", "\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,6]") "}",
     -1, 6, "dimension 0 is not an integer"},
    {"string in shape",
     "{" T("a", "\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]") "}", -1, 4,
     "dimension 0 is not a number"},
    {"huge dimension", "{" T("a", "\"dtype\":\"U8\",\"shape\":[1e300],\"data_offsets\":[0,4]") "}",
     -1, 4, "dimension 0 is too large"},
    {"shape overflow",
     "{" T("a",
           "\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,4]") "}",
     -1, 4, "shape [1099511627776, 1099511627776] is too large"},
    {"shape overflow int64",
     "{" T("a", "\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                "\"data_offsets\":[0,4]") "}",
     -1, 4, "is too large"},
    {"too many dims",
     "{" T("a", "\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]") "}", -1, 1,
     "has 9 dimensions (at most 8)"},
    {"shape not an array", "{" T("a", "\"dtype\":\"U8\",\"shape\":3,\"data_offsets\":[0,3]") "}",
     -1, 3, "\"shape\" is not an array"},
    {"missing offsets", "{" T("a", F32_12) "}", -1, 12, "missing \"data_offsets\""},
    {"offsets not a pair", "{" T("a", F32_12 ",\"data_offsets\":[0]") "}", -1, 12,
     "\"data_offsets\" is not [begin, end]"},
    {"offsets triple", "{" T("a", F32_12 ",\"data_offsets\":[0,12,12]") "}", -1, 12,
     "is not [begin, end]"},
    {"negative offset", "{" T("a", F32_12 ",\"data_offsets\":[-4,8]") "}", -1, 12,
     "data_offsets [-4, 8]: begin is negative"},
    {"end before begin", "{" T("a", F32_12 ",\"data_offsets\":[12,0]") "}", -1, 12,
     "data_offsets [12, 0]: end is before begin"},
    {"offsets out of range", "{" T("a", F32_12 ",\"data_offsets\":[0,400]") "}", -1, 12,
     "tensor 'a': data_offsets [0, 400] are out of range: the data area has 12 bytes"},
    {"offsets far out of range", "{" T("a", F32_12 ",\"data_offsets\":[0,9007199254740992]") "}",
     -1, 12, "out of range"},
    {"offsets mismatch shape",
     "{" T("fc.weight", "\"dtype\":\"F32\",\"shape\":[10,512],\"data_offsets\":[0,100]") "}", -1,
     100,
     "tensor 'fc.weight': data_offsets [0, 100] do not match shape [10, 512] of F32 (20480 bytes)"},
    {"gap between tensors",
     "{" T("a", F32_12 ",\"data_offsets\":[0,12]") "," T("b",
                                                         F32_12 ",\"data_offsets\":[16,28]") "}",
     -1, 28, "tensor 'b': data_offsets [16, 28] leave a gap of 4 bytes after tensor 'a'"},
    {"gap at start", "{" T("a", F32_12 ",\"data_offsets\":[4,16]") "}", -1, 16,
     "leave a gap of 4 bytes at the start of the data area"},
    {"overlapping tensors",
     "{" T("a", F32_12 ",\"data_offsets\":[0,12]") "," T("b",
                                                         F32_12 ",\"data_offsets\":[8,20]") "}",
     -1, 20, "tensor 'b': data_offsets [8, 20] overlap tensor 'a' [0, 12]"},
    {"same offsets",
     "{" T("a", F32_12 ",\"data_offsets\":[0,12]") "," T("b",
                                                         F32_12 ",\"data_offsets\":[0,12]") "}",
     -1, 12, "overlap"},
    {"data not covered", "{" T("a", F32_12 ",\"data_offsets\":[0,12]") "}", -1, 20,
     "the tensors end at byte 12 of the data area, which has 20 bytes (8 bytes not covered)"},
    {"no tensors, data left", "{}", -1, 3, "(3 bytes not covered)"},
    {"non-string metadata", "{\"__metadata__\":{\"format\":\"pt\",\"epoch\":3}}", -1, 0,
     "__metadata__ 'epoch': value is not a string"},
    {"null metadata", "{\"__metadata__\":{\"k\":null}}", -1, 0, "value is not a string"},
    {"metadata not an object", "{\"__metadata__\":[\"pt\"]}", -1, 0,
     "__metadata__ is not an object"},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", -1, 0,
     "__metadata__ appears twice"},
    {"metadata key twice", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", -1, 0,
     "__metadata__ key 'k' appears twice"},
    {"duplicate names",
     "{" T("w", F32_12 ",\"data_offsets\":[0,12]") "," T("w",
                                                         F32_12 ",\"data_offsets\":[12,24]") "}",
     -1, 24, "tensor 'w': appears twice in the header"},
    {"duplicate field", "{" T("a", F32_12 ",\"dtype\":\"U8\",\"data_offsets\":[0,12]") "}", -1, 12,
     "\"dtype\" appears twice"},
};

static void check_rejected(const char *path, const char *what, const char *fragment)
{
	struct error e = {0};
	struct st_file *f = st_open(path, &e);
	CHECK(f == NULL);
	if (f) {
		printf("  %s: accepted\n", what);
		st_close(f);
		return;
	}
	CHECK(e.kind == ERR_INPUT);
	CHECK(strncmp(e.msg, path, strlen(path)) == 0 && e.msg[strlen(path)] == ':');
	if (!strstr(e.msg, fragment))
		printf("  %s:\n", what);
	CHECK_CONTAINS(e.msg, fragment);
}

static void test_hostile_files(void)
{
	const char *path = tmp_path("hostile.safetensors");
	write_file(path, "", 0);
	check_rejected(path, "empty file", "file too small for safetensors: 0 bytes");
	write_file(path, "\x02\0\0\0\0", 5);
	check_rejected(path, "5 bytes", "file too small for safetensors: 5 bytes");

	for (size_t i = 0; i < sizeof hostile_files / sizeof hostile_files[0]; i++) {
		const struct hostile *h = &hostile_files[i];
		if (!h->header) { /* deep nesting: a stack-depth attack on the parser */
			struct strbuf sb = {0};
			strbuf_add(&sb, "{\"a\":");
			for (int k = 0; k < 100000; k++)
				strbuf_add(&sb, "[");
			for (int k = 0; k < 100000; k++)
				strbuf_add(&sb, "]");
			strbuf_add(&sb, "}");
			write_st(path, sb.s, -1, 0);
			strbuf_free(&sb);
		} else {
			write_st(path, h->header, h->declared, h->data_len);
		}
		check_rejected(path, h->what, h->fragment);
	}
}

/* Every truncation of a good file is rejected, and no corruption of its
 * header crashes the reader. */
static void test_truncated_and_corrupted(void)
{
	size_t len = 0;
	unsigned char *good = read_file(data_path("reference.safetensors"), &len);
	const char *path = tmp_path("cut.safetensors");
	int accepted = 0;
	struct error e;
	CHECK(good != NULL);
	if (!good)
		return;
	for (size_t cut = 0; cut < len; cut++) {
		write_file(path, good, cut);
		struct st_file *f = st_open(path, &e);
		accepted += f != NULL;
		st_close(f);
	}
	CHECK(accepted == 0);
	size_t hlen = 8 + (good[0] | (size_t)good[1] << 8);
	static const unsigned char junk[] = {0x00, 0x7f, 0xff, '"', '[', ']',
	                                     '{',  '}',  ',',  '9', '-'};
	for (size_t at = 0; at < hlen && at < len; at++) {
		for (size_t j = 0; j < sizeof junk; j++) {
			unsigned char old = good[at];
			good[at] = junk[j];
			write_file(path, good, len);
			good[at] = old;
			struct st_file *f = st_open(path, &e);
			st_close(f);
		}
	}
	free(good);
}

static void test_write_errors(void)
{
	struct error e = {0};
	struct tensor t = {.dtype = DT_F32, .shape = {1, {4}}},
	              bare = {.dtype = DT_F32, .shape = {1, {2}}};
	const struct tensor *tp[2] = {&t, &t};
	const char *names[2] = {"a", "a"};
	const char *dest = tmp_path("dest.safetensors");
	size_t before_len = 0;

	tensor_alloc(&t, NULL);
	CHECK(st_write(dest, names, tp, 1, NULL, 0, &e) == 0);
	unsigned char *before = read_file(dest, &before_len);

	/* Rejected inputs leave the destination as it was. */
	CHECK(st_write(dest, names, tp, 2, NULL, 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "tensor 'a': given twice");
	CHECK(strncmp(e.msg, dest, strlen(dest)) == 0);
	tp[1] = &bare;
	names[1] = "b";
	CHECK(st_write(dest, names, tp, 2, NULL, 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "tensor 'b': has no data");
	names[1] = "__metadata__";
	tp[1] = &t;
	CHECK(st_write(dest, names, tp, 2, NULL, 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "cannot be named __metadata__");
	names[1] = "bad\xff";
	CHECK(st_write(dest, names, tp, 2, NULL, 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "not valid UTF-8");
	struct st_meta dup[] = {{"k", "1"}, {"k", "2"}};
	CHECK(st_write(dest, names, tp, 1, dup, 2, &e) < 0);
	CHECK_CONTAINS(e.msg, "__metadata__ key 'k' given twice");
	CHECK(st_write(tmp_path("no/such/dir.safetensors"), names, tp, 1, NULL, 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "cannot create a temporary file");

	/* A real I/O failure half-way: the file size limit. */
	struct rlimit old_lim, lim;
	void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
	struct tensor big = {.dtype = DT_U8, .shape = {1, {100000}}};
	const struct tensor *bp[1] = {&big};
	tensor_alloc(&big, NULL);
	getrlimit(RLIMIT_FSIZE, &old_lim);
	lim = old_lim;
	lim.rlim_cur = 4096;
	if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
		/* Nothing may be printed (stdout may be a log file) until the limit is lifted. */
		int rc = st_write(dest, names, bp, 1, NULL, 0, &e);
		setrlimit(RLIMIT_FSIZE, &old_lim);
		CHECK(rc < 0);
		CHECK_CONTAINS(e.msg, "cannot write: File too large");
	}
	signal(SIGXFSZ, old_sig);
	tensor_release(&big);

	size_t after_len = 0;
	unsigned char *after = read_file(dest, &after_len);
	CHECK(before && after && before_len == after_len && memcmp(before, after, after_len) == 0);
	CHECK(count_tmp_leftovers() == 0);
	free(before);
	free(after);

	/* The mode of an existing file is kept; a new one gets 0666 less umask. */
	struct stat st;
	mode_t mask = umask(022);
	umask(mask);
	CHECK(stat(dest, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask));
	chmod(dest, 0640);
	CHECK(st_write(dest, names, tp, 1, NULL, 0, &e) == 0);
	CHECK(stat(dest, &st) == 0 && (st.st_mode & 0777) == 0640);

	/* Rewriting the file a tensor is mapped from works: the old mapping lives on. */
	struct st_file *f = st_open(dest, &e);
	CHECK(f != NULL);
	if (f) {
		const char *n1[] = {"renamed"};
		const struct tensor *t1[] = {&f->entries[0].t};
		CHECK(st_write(dest, n1, t1, 1, NULL, 0, &e) == 0);
		st_close(f);
		f = st_open(dest, &e);
		CHECK(f && st_find(f, "renamed") != NULL);
		st_close(f);
	}
	tensor_release(&t);
}

/* Opening a large file reads the header, not the data. */
static void test_large_file_not_read(void)
{
	const char *path = tmp_path("large.safetensors");
	const int64_t size = 300 * 1000 * 1000;
	char hdr[256];
	struct error e = {0};
	struct rusage ru0, ru1;

	snprintf(hdr, sizeof hdr,
	         "{\"big\":{\"dtype\":\"F32\",\"shape\":[%lld],\"data_offsets\":[0,%lld]}}",
	         (long long)size / 4, (long long)size);
	size_t hlen = strlen(hdr);
	write_st(path, hdr, -1, 0);
	if (truncate(path, (off_t)(8 + hlen + (size_t)size)) < 0) {
		printf("  cannot make a sparse file: %s (skipped)\n", strerror(errno));
		return;
	}
	getrusage(RUSAGE_SELF, &ru0);
	struct st_file *f = st_open(path, &e);
	getrusage(RUSAGE_SELF, &ru1);
	CHECK(f != NULL);
	if (!f) {
		printf("  %s\n", e.msg);
		unlink(path);
		return;
	}
	CHECK(f->n == 1 && tensor_nbytes(&f->entries[0].t) == (size_t)size);
	/* ru_maxrss is in kilobytes; reading the data would add 300000. */
	long grew = ru1.ru_maxrss - ru0.ru_maxrss;
	CHECK(grew < 32 * 1024);
	if (grew >= 32 * 1024)
		printf("  max RSS grew by %ld kB\n", grew);
	st_close(f);
	unlink(path);
}

static void remove_tmp_dir(void)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlink(tmp_path(de->d_name));
	}
	if (d)
		closedir(d);
	rmdir(tmp_dir);
}

/* A header of empty lists takes more memory to parse than the file's
 * budget allows: refused before parsing, naming the file and the limit. */
static void test_header_budget(void)
{
	size_t n = 3000000;
	char *file = xmalloc(8 + n);
	uint64_t len = n;
	memcpy(file, &len, 8); /* little-endian */
	char *h = file + 8;
	memcpy(h, "{\"a\":[", 6);
	for (size_t i = 6; i + 3 <= n - 2; i += 3)
		memcpy(h + i, "[],", 3);
	memset(h + n - 5, ' ', 3);
	memcpy(h + n - 2, "]}", 2);
	h[n - 6] = ' '; /* no trailing comma */
	struct error e = {0};
	struct st_file *f = st_open_memory(file, 8 + n, "big.safetensors", &e);
	CHECK(f == NULL);
	st_close(f);
	CHECK_CONTAINS(e.msg, "big.safetensors: the header: reading it would take more than "
	                      "112.00 MB of memory (the budget for a file of 3.00 MB: 32 times "
	                      "its size plus 16.00 MB)");
	free(file);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof tmp_dir, "%s/graft-test-safetensors.XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_dir)) {
		printf("cannot make a scratch directory %s: %s\n", tmp_dir, strerror(errno));
		return 2;
	}

	RUN(test_large_file_not_read); /* first, before anything else raises the peak RSS */
	RUN(test_dtype_tables);
	RUN(test_shape_parse_good);
	RUN(test_shape_parse_bad);
	RUN(test_shape_format);
	RUN(test_shape_numel);
	RUN(test_f16_decode_all);
	RUN(test_f16_encode_rounding);
	RUN(test_bf16);
	RUN(test_half_vs_torch);
	RUN(test_storage);
	RUN(test_tensor_helpers);
	RUN(test_roundtrip_every_dtype);
	RUN(test_reference_vectors);
	RUN(test_reference_fixture);
	RUN(test_offset_order_and_find);
	RUN(test_hostile_files);
	RUN(test_truncated_and_corrupted);
	RUN(test_write_errors);
	RUN(test_changed_under_map);
	RUN(test_header_budget);

	remove_tmp_dir();
	return CHECK_DONE();
}
