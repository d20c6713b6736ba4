/* io_pth.c - reading and writing PyTorch checkpoints (io_pth.h).
 *
 * The zip format (PyTorch 1.6 and later): every record lives in one folder,
 * ARCHIVE/ (the file's stem when torch wrote it): data.pkl is the pickle
 * of the saved object, whose storages are persistent ids
 * ('storage', torch.FloatStorage, KEY, LOCATION, NUMEL) naming the record
 * data/KEY that holds exactly NUMEL elements; version holds the format
 * version; newer versions add byteorder. torch stores records uncompressed
 * and pads the local headers so that data starts at a multiple of 64 bytes.
 *
 * The older format: pickles of a magic number, the protocol version 1001
 * and a dict of system information, then the object's pickle, then a pickle
 * of the list of storage keys; then, for each key in that order, the element
 * count as a little-endian int64 and the bytes. */
#include "io/io_pth.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "io/pickle.h"
#include "io/save.h"
#include "core/util.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "PyTorch writes little-endian storages; graft does not byte-swap them yet"
#endif

/* Tensor names longer than this are refused. */
#define PTH_MAX_NAME 4096
/* Deflate cannot expand data by more than this factor. */
#define ZIP_MAX_RATIO 1032
/* Non-contiguous views are copied; all copies of one file together may
 * take this many bytes plus twice the bytes of its storages (a view bounded
 * by its storage can still repeat elements: stride 0, overlaps, a view
 * reached through many names). */
#define PTH_COPY_SLACK (1u << 20)

/* The first pickle of the older format: protocol 2, LONG1 of the magic
 * number 0x1950a86a20f9469cfc6c, STOP. */
static const unsigned char legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                             0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

struct skey {
	char *key;
	enum dtype dtype;
	int64_t numel;
	struct storage *st; /* the bytes, once read */
};

struct pth_reader {
	char *path;
	struct budget budget; /* for the pickles and the module tree */
	struct pk_doc doc;
	char *architecture;    /* ARCHIVE/graft/architecture.json, or NULL */
	struct pth_code *code; /* a TorchScript archive's code/ (then non-NULL) */
	int ncode;
	struct skey *keys;
	int nkeys, keys_cap;
	int ncopied;
	size_t copy_left; /* bytes non-contiguous views may still copy */
};

static void reader_free(struct pth_reader *r)
{
	free(r->path);
	free(r->architecture);
	for (int i = 0; i < r->ncode; i++) {
		free(r->code[i].module);
		free(r->code[i].text);
	}
	free(r->code);
	pk_doc_free(&r->doc);
	for (int i = 0; i < r->nkeys; i++) {
		free(r->keys[i].key);
		storage_unref(r->keys[i].st);
	}
	free(r->keys);
}

static int cmp_skey(const void *pa, const void *pb)
{
	return strcmp(((const struct skey *)pa)->key, ((const struct skey *)pb)->key);
}

/* The storage named key (r->keys is sorted by key), or NULL. */
static struct skey *find_key(struct pth_reader *r, const char *key)
{
	struct skey want = {.key = (char *)key};
	return bsearch(&want, r->keys, (size_t)r->nkeys, sizeof *r->keys, cmp_skey);
}

/* Collects the storages the pickle names: one entry per key, sorted by
 * key, checked for agreeing dtypes and sizes. */
static int collect_storages(struct pth_reader *r, struct error *e)
{
	for (struct pk_value *v = r->doc.all; v; v = v->next_alloc) {
		if (v->kind != PK_STORAGE)
			continue;
		xgrow(&r->keys, &r->keys_cap, r->nkeys + 1, sizeof *r->keys);
		r->keys[r->nkeys++] = (struct skey){.key = xstrdup(v->u.storage.key),
		                                    .dtype = v->u.storage.dtype,
		                                    .numel = v->u.storage.numel};
	}
	if (r->nkeys > 1)
		qsort(r->keys, (size_t)r->nkeys, sizeof *r->keys, cmp_skey);
	int n = 0, rc = 0;
	for (int i = 0; i < r->nkeys; i++) {
		struct skey *k = &r->keys[i], *prev = n ? &r->keys[n - 1] : NULL;
		if (!prev || strcmp(prev->key, k->key) != 0) {
			r->keys[n++] = *k;
			continue;
		}
		if (rc == 0 && (prev->dtype != k->dtype || prev->numel != k->numel))
			rc = error_set(e,
			               "%s: storage '%s' is declared both as %lld %s and as %lld %s "
			               "elements",
			               r->path, k->key, (long long)prev->numel,
			               dtype_name(prev->dtype), (long long)k->numel,
			               dtype_name(k->dtype));
		free(k->key);
	}
	r->nkeys = n;
	return rc;
}

/* Allocates the storage of k, `size` bytes read from the file, which
 * views may copy twice over. */
static int skey_alloc(struct pth_reader *r, struct skey *k, size_t size, struct error *e)
{
	k->st = storage_alloc(size, "a storage", e);
	if (!k->st)
		return error_prefix(e, "%s", r->path);
	r->copy_left += 2 * size;
	return 0;
}

/* ---- tensors ---- */

static bool is_contiguous(const struct pk_value *v)
{
	int64_t expect = 1;
	for (int i = v->u.tensor.shape.ndim - 1; i >= 0; i--) {
		int64_t d = v->u.tensor.shape.dim[i];
		if (d != 1 && v->u.tensor.stride[i] != expect)
			return false;
		expect *= d;
	}
	return true;
}

int pth_reader_tensor(struct pth_reader *r, const struct pk_value *v, struct tensor *out,
                      struct error *e)
{
	const struct pk_value *sv = v->u.tensor.storage;
	struct skey *k = find_key(r, sv->u.storage.key);
	if (!k || !k->st)
		return error_set(e, "%s: storage '%s' was not read", r->path, sv->u.storage.key);
	size_t es = dtype_size(k->dtype);
	memset(out, 0, sizeof *out);
	out->dtype = k->dtype;
	out->shape = v->u.tensor.shape;
	int64_t numel = shape_numel(&out->shape);
	if (numel == 0) {
		out->storage = storage_new(0);
		return 0;
	}
	if (is_contiguous(v)) {
		out->storage = storage_ref(k->st);
		out->offset = (size_t)v->u.tensor.offset * es;
		return 0;
	}
	/* A strided view (x.t(), x[:, ::2]): graft's tensors are dense, so the
	 * view becomes a contiguous copy, element by element in row-major
	 * order. pickle.c checked that every element lies inside the storage. */
	size_t bytes = (size_t)numel * es;
	if (bytes > r->copy_left)
		return error_set(e,
		                 "%s: a view of storage '%s' (%lld elements) would copy %zu bytes, "
		                 "more than the %zu left for copies (twice the file's storages "
		                 "plus %u)",
		                 r->path, sv->u.storage.key, (long long)k->numel, bytes,
		                 r->copy_left, PTH_COPY_SLACK);
	r->copy_left -= bytes;
	struct storage *st = storage_alloc(bytes, "the copy of a view", e);
	if (!st)
		return error_prefix(e, "%s", r->path);
	int nd = out->shape.ndim;
	int64_t idx[SHAPE_MAX_DIMS] = {0};
	const unsigned char *src = k->st->data;
	unsigned char *dst = st->data;
	for (int64_t i = 0; i < numel; i++) {
		int64_t at = v->u.tensor.offset;
		for (int d = 0; d < nd; d++)
			at += idx[d] * v->u.tensor.stride[d];
		memcpy(dst + (size_t)i * es, src + (size_t)at * es, es);
		for (int d = nd - 1; d >= 0; d--) {
			if (++idx[d] < out->shape.dim[d])
				break;
			idx[d] = 0;
		}
	}
	out->storage = st;
	r->ncopied++;
	return 0;
}

static int check_name(const struct pth_reader *r, const struct pk_value *key, struct error *e)
{
	char what[128];
	if (key->kind != PK_STR) {
		pk_describe(key, what, sizeof what);
		return error_set(e, "%s: a state_dict key is %s, not a str", r->path, what);
	}
	if (key->u.str.len == 0 || key->u.str.len > PTH_MAX_NAME ||
	    memchr(key->u.str.s, '\0', key->u.str.len))
		return error_set(e, "%s: a state_dict key is empty, too long or holds a NUL byte",
		                 r->path);
	return 0;
}

static void add_entry(struct pth_file *f, const char *name, const struct tensor *t, bool trainable)
{
	f->entries = xrealloc(f->entries, (size_t)(f->n + 1) * sizeof *f->entries);
	struct pth_entry *en = &f->entries[f->n++];
	en->name = xstrdup(name);
	en->t = *t;
	en->trainable = trainable;
}

static bool all_tensors(const struct pk_value *d)
{
	for (int i = 0; i < d->u.dict.n; i++)
		if (d->u.dict.values[i]->kind != PK_TENSOR)
			return false;
	return true;
}

static bool is_module_object(const struct pk_value *v)
{
	struct pk_value *state;
	return pk_object_state(v, &state) && pk_dict_get(state, "_modules") &&
	       pk_dict_get(state, "_parameters");
}

static int read_state_dict(struct pth_reader *r, struct pth_file *f, const struct pk_value *d,
                           struct error *e)
{
	char what[128];
	for (int i = 0; i < d->u.dict.n; i++) {
		const struct pk_value *k = d->u.dict.keys[i], *v = d->u.dict.values[i];
		if (check_name(r, k, e) < 0)
			return -1;
		if (v->kind != PK_TENSOR) {
			pk_describe(v, what, sizeof what);
			return error_set(e, "%s: not a state_dict: '%s' is %s, not a tensor",
			                 r->path, k->u.str.s, what);
		}
		struct tensor t;
		if (pth_reader_tensor(r, v, &t, e) < 0)
			return -1;
		add_entry(f, k->u.str.s, &t, v->u.tensor.requires_grad);
	}
	return 0;
}

/* Keys under which training scripts keep the model's state_dict. */
static const char *const wrapper_keys[] = {"state_dict", "model_state_dict", "model",   "module",
                                           "net",        "network",          "weights", "ema"};

/* What the saved object is: a state_dict, a checkpoint dict holding one, or
 * a module. */
static int interpret(struct pth_reader *r, struct pth_file *f, const struct pk_value *root,
                     struct error *e)
{
	char what[128];
	if (r->code && root->kind == PK_OBJECT) {
		f->torchscript = true;
		f->root = pth_script_build(r, f, root, r->code, r->ncode, r->doc.nvalues, &r->budget, e);
		if (!f->root)
			return error_prefix(e, "%s: the TorchScript module", r->path);
		f->root_class = xasprintf("%s.%s", root->u.obj.cls->u.global.module,
		                          root->u.obj.cls->u.global.name);
		return 0;
	}
	if (is_module_object(root)) {
		f->root = pth_tree_build(r, f, root, r->doc.nvalues, &r->budget, e);
		if (!f->root)
			return error_prefix(e, "%s: the pickled model", r->path);
		return 0;
	}
	if (root->kind == PK_DICT) {
		if (all_tensors(root))
			return read_state_dict(r, f, root, e);
		for (size_t i = 0; i < sizeof wrapper_keys / sizeof wrapper_keys[0]; i++) {
			const struct pk_value *v = pk_dict_get(root, wrapper_keys[i]);
			if (v && ((v->kind == PK_DICT && all_tensors(v)) || is_module_object(v))) {
				f->inner_key = xstrdup(wrapper_keys[i]);
				f->inner_is_module = is_module_object(v);
				return interpret(r, f, v, e);
			}
		}
		for (int i = 0; i < root->u.dict.n; i++) {
			const struct pk_value *v = root->u.dict.values[i];
			if (v->kind == PK_TENSOR)
				continue;
			pk_describe(v, what, sizeof what);
			if (root->u.dict.keys[i]->kind == PK_STR)
				return error_set(
				    e,
				    "%s: not a state_dict: '%.200s' is %s, not a tensor (and no "
				    "'state_dict' or 'model' entry holds one)",
				    r->path, root->u.dict.keys[i]->u.str.s, what);
			return error_set(e, "%s: not a state_dict: a value is %s, not a tensor",
			                 r->path, what);
		}
	}
	pk_describe(root, what, sizeof what);
	if (root->kind == PK_TENSOR)
		return error_set(e, "%s: holds a single tensor, not a state_dict or a model",
		                 r->path);
	return error_set(e, "%s: holds %s, not a state_dict or a model", r->path, what);
}

/* ---- the zip format ---- */

static int zip_fail(const char *path, const char *what, zip_error_t *ze, struct error *e)
{
	return error_set(e, "%s: %s: %s", path, what, zip_error_strerror(ze));
}

/* Reads entry idx (declared `size` bytes) into buf. */
static int zip_read_all(zip_t *za, zip_uint64_t idx, const char *path, const char *name, void *buf,
                        size_t size, struct error *e)
{
	zip_file_t *zf = zip_fopen_index(za, idx, 0);
	if (!zf)
		return zip_fail(path, name, zip_get_error(za), e);
	size_t got = 0;
	while (got < size) {
		zip_int64_t n = zip_fread(zf, (char *)buf + got, size - got);
		if (n < 0) {
			zip_fail(path, name, zip_file_get_error(zf), e);
			zip_fclose(zf);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	/* One more read reaches the end, where libzip checks the CRC. */
	char extra;
	zip_int64_t more = got == size ? zip_fread(zf, &extra, 1) : 0;
	if (more < 0) {
		zip_fail(path, name, zip_file_get_error(zf), e);
		zip_fclose(zf);
		return -1;
	}
	zip_fclose(zf);
	if (got != size || more != 0)
		return error_set(
		    e, "%s: %s: the record does not hold the %zu bytes its header declares", path,
		    name, size);
	return 0;
}

/* Stats a record, checking its size against a bound and deflate's ratio. */
static int zip_stat_checked(zip_t *za, zip_uint64_t idx, const char *path, const char *name,
                            zip_uint64_t max, zip_stat_t *st, struct error *e)
{
	if (zip_stat_index(za, idx, 0, st) < 0)
		return zip_fail(path, name, zip_get_error(za), e);
	if (!(st->valid & ZIP_STAT_SIZE) || !(st->valid & ZIP_STAT_COMP_SIZE))
		return error_set(e, "%s: %s: the record's size is unknown", path, name);
	if (st->size > max)
		return error_set(e, "%s: %s: %llu bytes is more than graft reads (%llu)", path,
		                 name, (unsigned long long)st->size, (unsigned long long)max);
	if (st->comp_method != ZIP_CM_STORE && st->size / ZIP_MAX_RATIO > st->comp_size + 64)
		return error_set(
		    e, "%s: %s: %llu bytes cannot be the expansion of %llu compressed bytes", path,
		    name, (unsigned long long)st->size, (unsigned long long)st->comp_size);
	return 0;
}

/* Reads ARCHIVE/NAME, of at most max bytes, NUL-terminated, into *out;
 * *out stays NULL when there is no such record. */
static int read_record(zip_t *za, const char *path, const char *prefix, const char *name,
                       size_t max, unsigned char **out, size_t *len, struct error *e)
{
	char *full = xasprintf("%s/%s", prefix, name);
	zip_int64_t idx = zip_name_locate(za, full, ZIP_FL_ENC_RAW);
	free(full);
	*out = NULL;
	if (idx < 0)
		return 0;
	zip_stat_t st;
	if (zip_stat_checked(za, (zip_uint64_t)idx, path, name, max, &st, e) < 0)
		return -1;
	*out = xmalloc((size_t)st.size + 1);
	(*out)[st.size] = '\0';
	*len = (size_t)st.size;
	return zip_read_all(za, (zip_uint64_t)idx, path, name, *out, (size_t)st.size, e);
}

/* Reads the class definitions of a TorchScript archive, ARCHIVE/code/
 * PATH.py, as text, at most PTH_MAX_PICKLE bytes in all. */
static int read_code(zip_t *za, struct pth_reader *r, const char *prefix, struct error *e)
{
	char *dir = xasprintf("%s/code/", prefix);
	size_t dirlen = strlen(dir), total = 0;
	int cap = 0, rc = 0;
	r->code = xcalloc(1, sizeof *r->code);
	zip_int64_t n = zip_get_num_entries(za, 0);
	for (zip_int64_t i = 0; i < n && rc == 0; i++) {
		const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
		if (!name || strncmp(name, dir, dirlen) != 0 || !str_ends_with(name, ".py"))
			continue;
		unsigned char *text;
		size_t len;
		rc = read_record(za, r->path, prefix, name + strlen(prefix) + 1,
		                 PTH_MAX_PICKLE - total, &text, &len, e);
		if (rc < 0)
			break;
		total += len;
		char *module = xstrndup(name + dirlen, strlen(name + dirlen) - 3);
		for (char *c = module; *c; c++)
			if (*c == '/')
				*c = '.';
		xgrow(&r->code, &cap, r->ncode + 1, sizeof *r->code);
		r->code[r->ncode++] = (struct pth_code){module, (char *)text};
	}
	free(dir);
	return rc;
}

/* Reads a zip checkpoint: from the file when `file` is given (libzip's
 * reads then fail cleanly if the file is cut short while graft reads it,
 * where a mapping would fault), else from the len bytes at data. */
static int read_zip(struct pth_reader *r, const char *file, const unsigned char *data, size_t len,
                    struct error *e)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = file ? zip_source_file_create(file, 0, -1, &ze)
	                         : zip_source_buffer_create(data, len, 0, &ze);
	zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
	if (!za) {
		error_set(e,
		          "%s: not a readable zip archive (a truncated or damaged checkpoint?): %s",
		          r->path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		zip_source_free(src);
		return -1;
	}
	zip_error_fini(&ze);
	int rc = -1;
	char *prefix = NULL, *name = NULL;
	unsigned char *pkl = NULL;
	zip_int64_t nentries = zip_get_num_entries(za, 0);
	const char *first = nentries > 0 ? zip_get_name(za, 0, ZIP_FL_ENC_RAW) : NULL;
	const char *slash = first ? strchr(first, '/') : NULL;
	if (!slash || slash == first) {
		error_set(e,
		          "%s: a zip archive, but not a PyTorch checkpoint (no ARCHIVE/data.pkl)",
		          r->path);
		goto out;
	}
	prefix = xstrndup(first, (size_t)(slash - first));
	size_t pkl_len = 0, arch_len;
	if (read_record(za, r->path, prefix, "data.pkl", PTH_MAX_PICKLE, &pkl, &pkl_len, e) < 0)
		goto out;
	if (!pkl) {
		error_set(e, "%s: a zip archive, but not a PyTorch checkpoint (no %s/data.pkl)",
		          r->path, prefix);
		goto out;
	}
	if (read_record(za, r->path, prefix, PTH_ARCHITECTURE_RECORD, PTH_MAX_PICKLE,
	                (unsigned char **)&r->architecture, &arch_len, e) < 0)
		goto out;
	char *constants = xasprintf("%s/constants.pkl", prefix);
	bool script = zip_name_locate(za, constants, ZIP_FL_ENC_RAW) >= 0;
	free(constants);
	if (script && read_code(za, r, prefix, e) < 0)
		goto out;
	char *where = xasprintf("%s: data.pkl", r->path);
	int prc = pk_load(pkl, pkl_len, where, &r->budget, &r->doc, NULL, e);
	free(where);
	if (prc < 0 || collect_storages(r, e) < 0)
		goto out;
	for (int i = 0; i < r->nkeys; i++) {
		struct skey *k = &r->keys[i];
		free(name);
		name = xasprintf("%s/data/%s", prefix, k->key);
		const char *short_name = name + strlen(prefix) + 1;
		zip_int64_t idx = zip_name_locate(za, name, ZIP_FL_ENC_RAW);
		if (idx < 0) {
			error_set(e, "%s: storage record %s is missing", r->path, short_name);
			goto out;
		}
		zip_uint64_t want = (zip_uint64_t)k->numel * dtype_size(k->dtype);
		zip_stat_t st;
		if (zip_stat_checked(za, (zip_uint64_t)idx, r->path, short_name, UINT64_MAX, &st,
		                     e) < 0)
			goto out;
		if (st.size != want) {
			error_set(e,
			          "%s: %s holds %llu bytes, but the pickle declares %lld %s "
			          "elements (%llu bytes)",
			          r->path, short_name, (unsigned long long)st.size,
			          (long long)k->numel, dtype_name(k->dtype),
			          (unsigned long long)want);
			goto out;
		}
		if (skey_alloc(r, k, (size_t)want, e) < 0 || zip_read_all(za, (zip_uint64_t)idx, r->path, short_name, k->st->data,
		                           (size_t)want, e) < 0)
			goto out;
	}
	rc = 0;
out:
	free(pkl);
	free(prefix);
	free(name);
	zip_discard(za);
	return rc;
}

/* ---- the format before PyTorch 1.6 ---- */

static int read_legacy(struct pth_reader *r, const unsigned char *data, size_t len,
                       struct error *e)
{
	size_t at = sizeof legacy_magic;
	struct pk_doc d;
	size_t used;
	char *where = xasprintf("%s (pre-1.6 format)", r->path);
	int rc = -1;
	/* the protocol version, then the system information */
	if (pk_load(data + at, len - at, where, &r->budget, &d, &used, e) < 0)
		goto out;
	bool ok = d.root->kind == PK_INT && d.root->u.i == 1001;
	pk_doc_free(&d);
	if (!ok) {
		error_set(e, "%s: unknown protocol version of the pre-1.6 format", r->path);
		goto out;
	}
	at += used;
	if (pk_load(data + at, len - at, where, &r->budget, &d, &used, e) < 0)
		goto out;
	const struct pk_value *le = pk_dict_get(d.root, "little_endian");
	ok = le && le->kind == PK_BOOL && le->u.b;
	pk_doc_free(&d);
	if (!ok) {
		error_set(
		    e, "%s: written on a big-endian machine; graft reads little-endian checkpoints",
		    r->path);
		goto out;
	}
	at += used;
	if (pk_load(data + at, len - at, where, &r->budget, &r->doc, &used, e) < 0 ||
	    collect_storages(r, e) < 0)
		goto out;
	at += used;
	struct pk_doc keys;
	if (pk_load(data + at, len - at, where, &r->budget, &keys, &used, e) < 0)
		goto out;
	at += used;
	if (keys.root->kind != PK_LIST) {
		pk_doc_free(&keys);
		error_set(e, "%s: the storage key list is missing", r->path);
		goto out;
	}
	for (int i = 0; i < keys.root->u.seq.n; i++) {
		const struct pk_value *kv = keys.root->u.seq.items[i];
		struct skey *k = kv->kind == PK_STR ? find_key(r, kv->u.str.s) : NULL;
		if (!k || k->st) {
			pk_doc_free(&keys);
			error_set(e,
			          "%s: the storage key list names a storage the pickle does not "
			          "use (or twice)",
			          r->path);
			goto out;
		}
		size_t es = dtype_size(k->dtype), nbytes = (size_t)k->numel * es;
		uint64_t numel = 0;
		if (len - at < 8 || (memcpy(&numel, data + at, 8), numel != (uint64_t)k->numel) ||
		    len - at - 8 < nbytes) {
			pk_doc_free(&keys);
			error_set(e,
			          "%s: storage '%s' (%lld %s elements) is truncated or has the "
			          "wrong size",
			          r->path, k->key, (long long)k->numel, dtype_name(k->dtype));
			goto out;
		}
		at += 8;
		if (skey_alloc(r, k, nbytes, e) < 0) {
			pk_doc_free(&keys);
			goto out;
		}
		memcpy(k->st->data, data + at, nbytes);
		at += nbytes;
	}
	pk_doc_free(&keys);
	for (int i = 0; i < r->nkeys; i++)
		if (!r->keys[i].st) {
			error_set(e, "%s: storage '%s' is not in the file", r->path,
			          r->keys[i].key);
			goto out;
		}
	rc = 0;
out:
	free(where);
	return rc;
}

/* ---- opening ---- */

/* The bytes a checkpoint is read from: the len bytes at data, or (data
 * NULL) the file at path, len bytes long. */
struct pth_source {
	const unsigned char *data;
	const char *path;
	size_t len;
};

/* Fills head with the first n bytes of src (n at most src->len). 0, or -1
 * with e set. */
static int source_head(const struct pth_source *src, const char *where, unsigned char *head,
                       size_t n, struct error *e)
{
	if (src->data) {
		memcpy(head, src->data, n);
		return 0;
	}
	FILE *f = fopen(src->path, "rb");
	size_t got = f ? fread(head, 1, n, f) : 0;
	if (f)
		fclose(f);
	if (got != n)
		return error_set(e, "%s: cannot read the checkpoint's first %zu bytes", where, n);
	return 0;
}

/* Reads the whole file of src into a malloc'd buffer, which *out gets: a
 * file cut short while graft reads it is an error, where a mapping would
 * fault. 0, or -1 with e set. */
static int source_slurp(const struct pth_source *src, const char *where, unsigned char **out,
                        struct error *e)
{
	unsigned char *buf = try_calloc(src->len ? src->len : 1, 1, "the checkpoint", e);
	if (!buf)
		return -1;
	FILE *f = fopen(src->path, "rb");
	size_t got = f ? fread(buf, 1, src->len, f) : 0;
	if (f)
		fclose(f);
	if (got != src->len) {
		free(buf);
		return error_set(e, "%s: cannot read the checkpoint (%zu of %zu bytes; did the file "
		                 "change while graft read it?)",
		                 where, got, src->len);
	}
	*out = buf;
	return 0;
}

/* Reads the checkpoint's pickle and every storage it names from src into
 * r (the storages are copied); `where` names it in messages; *legacy
 * tells the format before PyTorch 1.6. A zip archive in a file is read
 * through libzip's file source, an older checkpoint from a copy of the
 * file, so that a file changed during the reading is an error, not a
 * fault. 0 or -1 with e set. */
static int read_object(struct pth_reader *r, const struct pth_source *src, const char *where,
                       bool *legacy, struct error *e)
{
	r->path = xstrdup(where);
	r->copy_left = PTH_COPY_SLACK;
	budget_init(&r->budget, src->len);
	*legacy = false;
	unsigned char p[262];
	size_t len = src->len < sizeof p ? src->len : sizeof p;
	if (source_head(src, where, p, len, e) < 0)
		return -1;
	if (len >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
		return read_zip(r, src->data ? NULL : src->path, src->data, src->len, e);
	if (len >= sizeof legacy_magic && memcmp(p, legacy_magic, sizeof legacy_magic) == 0) {
		*legacy = true;
		if (src->data)
			return read_legacy(r, src->data, src->len, e);
		unsigned char *copy = NULL;
		if (source_slurp(src, where, &copy, e) < 0)
			return -1;
		int rc = read_legacy(r, copy, src->len, e);
		free(copy);
		return rc;
	}
	if (len >= 262 && memcmp(p + 257, "ustar", 5) == 0)
		return error_set(e,
		                 "%s: a tar checkpoint from PyTorch before 0.4, which graft does not "
		                 "read; load and save it again with a newer PyTorch",
		                 where);
	if (len >= 4 && memcmp(p, "PK", 2) == 0)
		return error_set(e, "%s: a zip archive that is empty or damaged, not a checkpoint",
		                 where);
	return error_set(e,
	                 "%s: not a PyTorch checkpoint (neither the zip format of torch.save "
	                 "nor the older pickle format)",
	                 where);
}

/* The source for the file at path: its size, checked to be a regular
 * file. 0, or -1 with e set. */
static int path_source(const char *path, struct pth_source *src, struct error *e)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return error_set(e, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(e, "%s: not a regular file", path);
	*src = (struct pth_source){.path = path, .len = (size_t)st.st_size};
	return 0;
}

/* Opens the checkpoint of src. */
static struct pth_file *open_object(const struct pth_source *src, const char *where,
                                    struct error *e)
{
	struct pth_reader r = {0};
	struct pth_file *f = xcalloc(1, sizeof *f);
	int rc = read_object(&r, src, where, &f->legacy, e);
	if (rc == 0)
		rc = interpret(&r, f, r.doc.root, e);
	f->ncopied = r.ncopied;
	f->architecture = r.architecture;
	r.architecture = NULL;
	reader_free(&r);
	if (rc < 0) {
		pth_close(f);
		return NULL;
	}
	return f;
}

struct pth_file *pth_open_memory(const void *data, size_t len, const char *where,
                                 struct error *e)
{
	struct pth_source src = {.data = data, .len = len};
	return open_object(&src, where, e);
}

struct pth_file *pth_open(const char *path, struct error *e)
{
	struct pth_source src;
	if (path_source(path, &src, e) < 0)
		return NULL;
	return open_object(&src, path, e);
}

void pth_close(struct pth_file *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		free(f->entries[i].name);
		tensor_release(&f->entries[i].t);
	}
	free(f->entries);
	module_free(f->root);
	free(f->root_class);
	free(f->tree_note);
	free(f->inner_key);
	free(f->architecture);
	free(f);
}

struct pth_reader *pth_read_object(const char *path, struct error *e)
{
	struct pth_reader *r = xcalloc(1, sizeof *r);
	bool legacy;
	struct pth_source src;
	if (path_source(path, &src, e) < 0 || read_object(r, &src, path, &legacy, e) < 0) {
		pth_reader_free(r);
		return NULL;
	}
	return r;
}

struct pk_value *pth_reader_root(struct pth_reader *r)
{
	return r->doc.root;
}

void pth_reader_free(struct pth_reader *r)
{
	if (!r)
		return;
	reader_free(r);
	free(r);
}

struct module *pth_take_tree(struct pth_file *f)
{
	struct module *m = f->root;
	f->root = NULL;
	return m;
}

/* ---- writing ---- */

/* One storage of the file: a byte range of one graft storage. */
struct wstore {
	const struct storage *src;
	size_t begin, end;
	enum dtype dtype;
	int key; /* data/KEY, in order of first use */
};

struct wtensor {
	const struct storage *st;
	enum dtype dtype;
	size_t offset;
	int index; /* in the caller's arrays */
	int store;
};

static int cmp_by_bytes(const void *pa, const void *pb)
{
	const struct wtensor *a = pa, *b = pb;
	if (a->st != b->st)
		return (uintptr_t)a->st < (uintptr_t)b->st ? -1 : 1;
	if (a->dtype != b->dtype)
		return a->dtype < b->dtype ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return a->index - b->index;
}

/* Groups the tensors into file storages: overlapping byte ranges of one
 * storage with one dtype share. Returns the number of storages. */
static int group_storages(const struct tensor *const *tensors, int n, struct wtensor *wt,
                          struct wstore **out)
{
	for (int i = 0; i < n; i++)
		wt[i] = (struct wtensor){.st = tensors[i]->storage,
		                         .dtype = tensors[i]->dtype,
		                         .offset = tensors[i]->offset,
		                         .index = i};
	qsort(wt, (size_t)n, sizeof *wt, cmp_by_bytes);
	struct wstore *ws = xcalloc((size_t)n + 1, sizeof *ws);
	int nws = 0;
	for (int i = 0; i < n; i++) {
		const struct tensor *t = tensors[wt[i].index];
		size_t b = t->offset, en = t->offset + tensor_nbytes(t);
		struct wstore *last = nws ? &ws[nws - 1] : NULL;
		if (last && en > b && last->src == t->storage && last->dtype == t->dtype &&
		    b < last->end && (b - last->begin) % dtype_size(t->dtype) == 0) {
			if (en > last->end)
				last->end = en;
		} else {
			ws[nws] = (struct wstore){
			    .src = t->storage, .begin = b, .end = en, .dtype = t->dtype, .key = -1};
			nws++;
		}
		wt[i].store = nws - 1;
	}
	*out = ws;
	return nws;
}

static char *archive_name(const char *path)
{
	char *copy = xstrdup(path);
	char *base = basename(copy);
	char *dot = strrchr(base, '.');
	if (dot && dot != base)
		*dot = '\0';
	bool ok = *base != '\0' && strlen(base) < 128;
	for (const char *c = base; *c && ok; c++)
		ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		     (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.';
	char *name = xstrdup(ok ? base : "archive");
	free(copy);
	return name;
}

/* Adds a stored record whose data starts at a multiple of 64 bytes, as
 * torch writes them, by padding the local header with an extra field; *at
 * tracks the offset of the next local header. */
static int add_record(zip_t *za, const char *name, const void *data, size_t len, zip_uint64_t *at)
{
	zip_source_t *src = zip_source_buffer(za, data, len, 0);
	if (!src)
		return -1;
	zip_int64_t idx = zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8);
	if (idx < 0) {
		zip_source_free(src);
		return -1;
	}
	if (zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) < 0 ||
	    zip_file_set_mtime(za, (zip_uint64_t)idx, 315532800 + 86400, 0) < 0)
		return -1;
	zip_uint64_t header = 30 + strlen(name) + 4;
	zip_uint16_t pad = (zip_uint16_t)((64 - (*at + header) % 64) % 64);
	static const zip_uint8_t zeros[64];
	if (zip_file_extra_field_set(za, (zip_uint64_t)idx, 0x4246 /* "FB" */, ZIP_EXTRA_FIELD_NEW,
	                             zeros, pad, ZIP_FL_LOCAL) < 0)
		return -1;
	*at += header + pad + len;
	return 0;
}

/* The state_dict being written, for pickle_state_dict. */
struct wstate {
	const char *const *names;
	const struct tensor *const *tensors;
	int n;
	const struct wtensor *by_index;
	const struct wstore *ws;
	const struct pth_version *versions;
	int nversions;
};

static void pickle_state_dict(struct pk_writer *w, void *ctx)
{
	const struct wstate *sd = ctx;
	const char *const *names = sd->names;
	const struct tensor *const *tensors = sd->tensors;
	const struct pth_version *versions = sd->versions;
	int n = sd->n, nversions = sd->nversions;
	pkw_global(w, "collections", "OrderedDict");
	pkw_op(w, ')');
	pkw_op(w, 'R');
	for (int i = 0; i < n; i++) {
		if (i % 1000 == 0)
			pkw_op(w, '(');
		const struct tensor *t = tensors[i];
		const struct wstore *s = &sd->ws[sd->by_index[i].store];
		size_t es = dtype_size(t->dtype);
		pkw_str(w, names[i]);
		pkw_global(w, "torch._utils", "_rebuild_tensor_v2");
		pkw_op(w, '(');
		char key[32];
		snprintf(key, sizeof key, "%d", s->key);
		pkw_storage(w, t->dtype, key, "cpu", (int64_t)((s->end - s->begin) / es));
		pkw_int(w, (int64_t)((t->offset - s->begin) / es));
		int64_t stride[SHAPE_MAX_DIMS];
		int64_t step = 1;
		for (int d = t->shape.ndim - 1; d >= 0; d--) {
			stride[d] = step;
			step *= t->shape.dim[d];
		}
		pkw_int_tuple(w, t->shape.dim, t->shape.ndim);
		pkw_int_tuple(w, stride, t->shape.ndim);
		pkw_bool(w, false);
		pkw_global(w, "collections", "OrderedDict");
		pkw_op(w, ')');
		pkw_op(w, 'R');
		pkw_op(w, 't');
		pkw_op(w, 'R');
		if (i % 1000 == 999 || i == n - 1)
			pkw_op(w, 'u');
	}
	if (nversions > 0) {
		/* the OrderedDict's __dict__: {'_metadata': OrderedDict(
		 * path -> {'version': V})}, set by BUILD as torch.save does */
		pkw_op(w, '}');
		pkw_str(w, "_metadata");
		pkw_global(w, "collections", "OrderedDict");
		pkw_op(w, ')');
		pkw_op(w, 'R');
		for (int i = 0; i < nversions; i++) {
			if (i % 1000 == 0)
				pkw_op(w, '(');
			pkw_str(w, versions[i].path);
			pkw_op(w, '}');
			pkw_str(w, "version");
			pkw_int(w, versions[i].version);
			pkw_op(w, 's');
			if (i % 1000 == 999 || i == nversions - 1)
				pkw_op(w, 'u');
		}
		pkw_op(w, 's');
		pkw_op(w, 'b');
	}
}

/* The checkpoint's storages written back, renamed after the state_dict's. */
struct wenvelope {
	struct pth_reader *r;
	int first_key;     /* the name of r->keys[0] in the file */
	bool *used;        /* r->keys written */
	char (*names)[24]; /* their new names */
};

static const char *envelope_storage_key(const struct pk_value *storage, void *ctx)
{
	struct wenvelope *we = ctx;
	struct skey *k = find_key(we->r, storage->u.storage.key);
	int i = (int)(k - we->r->keys);
	we->used[i] = true;
	snprintf(we->names[i], sizeof we->names[i], "%d", we->first_key + i);
	return we->names[i];
}

static int cmp_key_str(const void *pa, const void *pb)
{
	char a[32], b[32];
	snprintf(a, sizeof a, "%d", (*(const struct wstore *const *)pa)->key);
	snprintf(b, sizeof b, "%d", (*(const struct wstore *const *)pb)->key);
	return strcmp(a, b);
}

int pth_write_to(struct save_file *sf, const char *const *names,
		 const struct tensor *const *tensors, int n, const struct pth_write_extras *x,
		 struct error *e)
{
	const char *path = sf->path;
	static const struct pth_write_extras none;
	if (!x)
		x = &none;
	for (int i = 0; i < n; i++)
		if (!tensors[i]->storage ||
		    tensors[i]->offset + tensor_nbytes(tensors[i]) > tensors[i]->storage->size)
			return error_set(e, "%s: tensor '%s' has no values", path, names[i]);
	struct wtensor *wt = xcalloc((size_t)n + 1, sizeof *wt);
	struct wstore *ws;
	int nws = group_storages(tensors, n, wt, &ws);
	/* keys in the order the pickle first names them, as torch numbers them */
	struct wtensor *by_index = xcalloc((size_t)n + 1, sizeof *by_index);
	for (int i = 0; i < n; i++)
		by_index[wt[i].index] = wt[i];
	int nkeys = 0;
	for (int i = 0; i < n; i++)
		if (ws[by_index[i].store].key < 0)
			ws[by_index[i].store].key = nkeys++;
	struct wstate sd = {names, tensors, n, by_index, ws, x->versions, x->nversions};
	struct wenvelope we = {0};
	struct pk_writer w;
	pkw_begin(&w);
	if (x->envelope) {
		we.r = x->envelope;
		we.first_key = nkeys;
		we.used = xcalloc((size_t)we.r->nkeys + 1, sizeof *we.used);
		we.names = xcalloc((size_t)we.r->nkeys + 1, sizeof *we.names);
		const struct pk_value *hole = pk_dict_get(we.r->doc.root, x->key);
		struct pkw_hooks hooks = {envelope_storage_key, &we, hole, pickle_state_dict, &sd};
		if (!hole || pkw_value(&w, we.r->doc.root, &hooks, e) < 0) {
			if (!hole)
				error_set(e, "no entry '%s'", x->key);
			error_prefix(e, "%s: writing back the checkpoint", path);
			pkw_free(&w);
			free(we.used);
			free(we.names);
			free(ws);
			free(wt);
			free(by_index);
			return -1;
		}
	} else {
		pickle_state_dict(&w, &sd);
	}
	size_t pkl_len;
	char *pkl = pkw_finish(&w, &pkl_len);
	pkw_free(&w);

	int rc = -1, zerr = 0;
	char *prefix = archive_name(path);
	char **recnames = xcalloc((size_t)nws + 4, sizeof *recnames);
	int nrec = 0;
	/* libzip writes the archive beside the temporary and renames it over
	 * the temporary; save_commit then renames that over the target */
	zip_t *za = zip_open(sf->tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
	if (!za) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, zerr);
		error_set(e, "%s: cannot write: %s", path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		goto out;
	}
	zip_uint64_t at = 0;
	recnames[nrec] = xasprintf("%s/data.pkl", prefix);
	if (add_record(za, recnames[nrec++], pkl, pkl_len, &at) < 0)
		goto zfail;
	recnames[nrec] = xasprintf("%s/byteorder", prefix);
	if (add_record(za, recnames[nrec++], "little", 6, &at) < 0)
		goto zfail;
	/* storages sorted by key as strings, as torch writes them */
	const struct wstore **order = xcalloc((size_t)nws + 1, sizeof *order);
	for (int i = 0; i < nws; i++)
		order[i] = &ws[i];
	qsort(order, (size_t)nws, sizeof *order, cmp_key_str);
	for (int i = 0; i < nws; i++) {
		const struct wstore *s = order[i];
		char *rn = xasprintf("%s/data/%d", prefix, s->key);
		recnames = xrealloc(recnames, (size_t)(nrec + 2) * sizeof *recnames);
		recnames[nrec++] = rn;
		if (add_record(za, rn, (const char *)s->src->data + s->begin, s->end - s->begin,
		               &at) < 0) {
			free(order);
			goto zfail;
		}
	}
	free(order);
	for (int i = 0; we.r && i < we.r->nkeys; i++) {
		if (!we.used[i])
			continue;
		const struct storage *st = we.r->keys[i].st;
		recnames = xrealloc(recnames, (size_t)(nrec + 2) * sizeof *recnames);
		recnames[nrec] = xasprintf("%s/data/%s", prefix, we.names[i]);
		if (add_record(za, recnames[nrec++], st->data, st->size, &at) < 0)
			goto zfail;
	}
	if (x->architecture) {
		recnames = xrealloc(recnames, (size_t)(nrec + 2) * sizeof *recnames);
		recnames[nrec] = xasprintf("%s/%s", prefix, PTH_ARCHITECTURE_RECORD);
		if (add_record(za, recnames[nrec++], x->architecture, strlen(x->architecture),
		               &at) < 0)
			goto zfail;
	}
	recnames = xrealloc(recnames, (size_t)(nrec + 2) * sizeof *recnames);
	recnames[nrec] = xasprintf("%s/version", prefix);
	if (add_record(za, recnames[nrec++], "3\n", 2, &at) < 0)
		goto zfail;
	if (zip_close(za) < 0)
		goto zfail;
	rc = 0;
	goto out;
zfail:
	error_set(e, "%s: cannot write: %s", path, zip_error_strerror(zip_get_error(za)));
	zip_discard(za);
out:
	for (int i = 0; i < nrec; i++)
		free(recnames[i]);
	free(recnames);
	free(prefix);
	free(pkl);
	free(we.used);
	free(we.names);
	free(ws);
	free(wt);
	free(by_index);
	return rc;
}

int pth_write(const char *path, const char *const *names, const struct tensor *const *tensors,
              int n, const struct pth_write_extras *x, struct error *e)
{
	struct save_file sf;
	if (save_begin(&sf, path, 0, e) < 0)
		return -1;
	return save_end(&sf, pth_write_to(&sf, names, tensors, n, x, e), e);
}
