/* test_pth.c - the pickle reader and writer, PyTorch checkpoints read and
 * written, models opened from checkpoints and matched against a zoo, and a
 * corpus of hostile files, none of which may run anything.
 *
 * The fixtures in tests/data/pth were written by PyTorch
 * (tools/make-pth-fixtures), so no PyTorch is needed here. Run from the
 * build directory; $srcdir names the source directory, "." by default.
 * Scratch files go to a fresh directory under $TMPDIR (or /tmp). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "io/io_pth.h"
#include "io/io_safetensors.h"
#include "core/model.h"
#include "core/registry.h"
#include "io/format.h"
#include "io/model_pth.h"
#include "io/pickle.h"
#include "io/save.h"
#include "core/util.h"
#include "io/zoo.h"

static const char *srcdir = ".";
static char tmp_dir[512];

static const char *data(const char *name)
{
	static char buf[4][1024];
	static int slot;
	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof buf[slot], "%s/tests/data/pth/%s", srcdir, name);
	return buf[slot];
}

static const char *tmp(const char *name)
{
	static char buf[4][1024];
	static int slot;
	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof buf[slot], "%s/%s", tmp_dir, name);
	return buf[slot];
}

static const struct pth_entry *entry(const struct pth_file *f, const char *name)
{
	for (int i = 0; f && i < f->n; i++)
		if (strcmp(f->entries[i].name, name) == 0)
			return &f->entries[i];
	return NULL;
}

static bool shape_is(const struct tensor *t, const char *want)
{
	char buf[128];
	return strcmp(shape_format(&t->shape, buf, sizeof buf), want) == 0;
}

static struct pth_file *open_ok(const char *path)
{
	struct error e = {0};
	struct pth_file *f = pth_open(path, &e);
	if (!f)
		printf("  %s\n", e.msg);
	return f;
}

/* ---- the pickle reader and writer ---- */

static int load(const char *bytes, size_t len, struct pk_doc *d, struct error *e)
{
	struct budget b;
	budget_init(&b, len);
	return pk_load((const unsigned char *)bytes, len, "test", &b, d, NULL, e);
}

/* A pickle of many empty lists costs far more memory than its bytes: it
 * is refused once the file's budget is spent, naming the place and the
 * limit. */
static void test_pickle_budget(void)
{
	size_t n = 300000;
	char *p = xmalloc(n + 3);
	memcpy(p, "\x80\x02", 2);
	memset(p + 2, ']', n - 2);
	memcpy(p + n, "\x85.", 2); /* a tuple of the last one, then STOP */
	struct pk_doc d;
	struct error e = {0};
	CHECK(load(p, n + 2, &d, &e) < 0);
	CHECK(strncmp(e.msg, "test: offset ", 13) == 0);
	CHECK(strstr(e.msg, "reading it would take more than 25.60 MB of memory (the budget "
	                    "for a file of 300.00 KB: 32 times its size plus 16.00 MB)") != NULL);
	/* a budget that overflows is the whole address space */
	struct budget b;
	budget_init(&b, (size_t)-1 / 2);
	CHECK(budget_spend(&b, (size_t)-1 / 2, &e) == 0);
	free(p);
}

static void test_pickle_values(void)
{
	struct pk_doc d;
	struct error e = {0};
	/* {'a': [1, -2, 3.5, None, True], 'b': ('x', b'yz')} with memo and DUP */
	static const char p[] = "\x80\x02}q\x00(X\x01\x00\x00\x00"
	                        "a]q\x01(K\x01J\xfe\xff\xff\xff"
	                        "G@\x0c\x00\x00\x00\x00\x00\x00N\x88"
	                        "eX\x01\x00\x00\x00"
	                        "b"
	                        "X\x01\x00\x00\x00xC\x02yz\x86u.";
	CHECK(load(p, sizeof p - 1, &d, &e) == 0);
	if (!d.root)
		return;
	CHECK(d.root->kind == PK_DICT && d.root->u.dict.n == 2);
	struct pk_value *a = pk_dict_get(d.root, "a");
	CHECK(a && a->kind == PK_LIST && a->u.seq.n == 5);
	if (a && a->u.seq.n == 5) {
		CHECK(a->u.seq.items[0]->u.i == 1);
		CHECK(a->u.seq.items[1]->u.i == -2);
		CHECK(a->u.seq.items[2]->kind == PK_FLOAT && a->u.seq.items[2]->u.f == 3.5);
		CHECK(a->u.seq.items[3]->kind == PK_NONE);
		CHECK(a->u.seq.items[4]->kind == PK_BOOL && a->u.seq.items[4]->u.b);
	}
	struct pk_value *b = pk_dict_get(d.root, "b");
	CHECK(b && b->kind == PK_TUPLE && b->u.seq.n == 2 && b->u.seq.items[1]->kind == PK_BYTES);
	pk_doc_free(&d);
	/* several pickles in a row: consumed tells where the next starts */
	static const char two[] = "\x80\x02K\x07.\x80\x02N.";
	size_t used = 0;
	struct budget budget;
	budget_init(&budget, sizeof two - 1);
	CHECK(pk_load((const unsigned char *)two, sizeof two - 1, "t", &budget, &d, &used, &e) == 0);
	CHECK(used == 5 && d.root && d.root->u.i == 7);
	pk_doc_free(&d);
	/* NEWOBJ of a class is an inert record; BUILD gives it its state */
	static const char obj[] = "\x80\x02"
	                          "cmypkg.models\nNet\n)\x81}X\x01\x00\x00\x00kK\x02sb.";
	CHECK(load(obj, sizeof obj - 1, &d, &e) == 0);
	struct pk_value *state = NULL;
	CHECK(d.root && pk_object_state(d.root, &state) && pk_dict_get(state, "k")->u.i == 2);
	char what[128];
	pk_describe(d.root, what, sizeof what);
	CHECK_STR(what, "a mypkg.models.Net object");
	pk_doc_free(&d);
}

/* A dict of 100,000 keys (and one repeated) loads in linear time. */
static void test_pickle_big_dict(void)
{
	enum { NKEYS = 100000 };
	struct strbuf p = {0};
	strbuf_addn(&p, "\x80\x02}(", 4);
	for (int i = 0; i <= NKEYS; i++) {
		/* BINUNICODE 'k<i>', BININT1 1 (7 for the repeated first key) */
		char rec[32] = "X";
		int n = snprintf(rec + 5, 16, "k%d", i % NKEYS);
		rec[1] = (char)n;
		rec[5 + n] = 'K';
		rec[6 + n] = i == NKEYS ? 7 : 1;
		strbuf_addn(&p, rec, (size_t)n + 7);
	}
	strbuf_addn(&p, "u.", 2);
	struct pk_doc d;
	struct error e = {0};
	clock_t t0 = clock();
	CHECK(load(p.s, p.len, &d, &e) == 0);
	double seconds = (double)(clock() - t0) / CLOCKS_PER_SEC;
	CHECK(seconds < 5);
	CHECK(d.root && d.root->u.dict.n == NKEYS);
	struct pk_value *v = pk_dict_get(d.root, "k0");
	CHECK(v && v->u.i == 7);
	v = pk_dict_get(d.root, "k99999");
	CHECK(v && v->u.i == 1);
	CHECK(pk_dict_get(d.root, "k100000") == NULL);
	pk_doc_free(&d);
	strbuf_free(&p);
}

static void test_pickle_writer(void)
{
	static const int64_t vals[] = {0,
	                               1,
	                               255,
	                               256,
	                               65535,
	                               65536,
	                               -1,
	                               -129,
	                               INT32_MAX,
	                               (int64_t)INT32_MAX + 1,
	                               INT32_MIN,
	                               (int64_t)INT32_MIN - 1,
	                               (int64_t)1 << 40,
	                               -((int64_t)1 << 40),
	                               INT64_MAX,
	                               INT64_MIN};
	int n = (int)(sizeof vals / sizeof vals[0]);
	struct pk_writer w;
	pkw_begin(&w);
	pkw_op(&w, '(');
	for (int i = 0; i < n; i++)
		pkw_int(&w, vals[i]);
	pkw_str(&w, "name");
	pkw_bool(&w, true);
	pkw_global(&w, "collections", "OrderedDict");
	pkw_global(&w, "collections", "OrderedDict"); /* memoised: a BINGET */
	pkw_int_tuple(&w, vals, 5);
	pkw_op(&w, 'l');
	size_t len;
	char *bytes = pkw_finish(&w, &len);
	pkw_free(&w);
	struct pk_doc d;
	struct error e = {0};
	CHECK(load(bytes, len, &d, &e) == 0);
	if (d.root) {
		CHECK(d.root->kind == PK_LIST && d.root->u.seq.n == n + 5);
		for (int i = 0; i < n && i < d.root->u.seq.n; i++)
			CHECK(d.root->u.seq.items[i]->kind == PK_INT &&
			      d.root->u.seq.items[i]->u.i == vals[i]);
		CHECK(d.root->u.seq.items[n]->kind == PK_STR);
		CHECK(d.root->u.seq.items[n + 2] == d.root->u.seq.items[n + 3]);
		CHECK(d.root->u.seq.items[n + 4]->kind == PK_TUPLE &&
		      d.root->u.seq.items[n + 4]->u.seq.n == 5);
	}
	pk_doc_free(&d);
	free(bytes);
}

/* ---- checkpoints written by PyTorch ---- */

static void test_state_dict(void)
{
	struct pth_file *f = open_ok(data("state.pth"));
	CHECK(f && f->n == 7 && !f->legacy && !f->root && f->ncopied == 0);
	if (!f)
		return;
	static const char *const names[] = {"conv.weight",
	                                    "conv.bias",
	                                    "bn.weight",
	                                    "bn.bias",
	                                    "bn.running_mean",
	                                    "bn.running_var",
	                                    "bn.num_batches_tracked"};
	for (int i = 0; i < 7 && i < f->n; i++)
		CHECK_STR(f->entries[i].name, names[i]);
	const struct tensor *w = &f->entries[0].t;
	CHECK(w->dtype == DT_F32 && shape_is(w, "[2, 3, 2, 2]"));
	for (int i = 0; i < 24; i++)
		CHECK(tensor_get(w, i) == i / 4.0);
	const struct tensor *nbt = &entry(f, "bn.num_batches_tracked")->t;
	CHECK(nbt->dtype == DT_I64 && nbt->shape.ndim == 0 && tensor_get(nbt, 0) == 7);
	CHECK(tensor_get(&entry(f, "bn.running_var")->t, 1) == 2.0);
	pth_close(f);
}

static void test_dtypes(void)
{
	struct pth_file *f = open_ok(data("dtypes.pth"));
	CHECK(f && f->n == 12);
	if (!f)
		return;
	static const struct {
		const char *name;
		enum dtype dt;
		double last;
	} want[] = {
	    {"f32", DT_F32, 3.25},
	    {"f16", DT_F16, 65504.0},
	    {"f64", DT_F64, 1e300},
	    {"i64", DT_I64, 1099511627776.0},
	    {"i32", DT_I32, 1073741824.0},
	    {"i16", DT_I16, 300},
	    {"i8", DT_I8, 100},
	    {"u8", DT_U8, 255},
	    {"bool", DT_BOOL, 1},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct pth_entry *en = entry(f, want[i].name);
		CHECK(en && en->t.dtype == want[i].dt && shape_is(&en->t, "[3]"));
		if (!en)
			continue;
		CHECK(tensor_get(&en->t, 0) == 1 ||
		      (want[i].dt != DT_U8 && tensor_get(&en->t, 0) == 1.5));
		CHECK(tensor_get(&en->t, 2) == want[i].last);
	}
	const struct pth_entry *bf = entry(f, "bf16");
	CHECK(bf && bf->t.dtype == DT_BF16 && tensor_get(&bf->t, 1) == -2.0);
	CHECK(bf && fabs(tensor_get(&bf->t, 2) / 3.0e38 - 1) < 0.01);
	const struct pth_entry *s = entry(f, "scalar");
	CHECK(s && s->t.shape.ndim == 0 && tensor_get(&s->t, 0) == 42.0);
	const struct pth_entry *em = entry(f, "empty");
	CHECK(em && shape_is(&em->t, "[0, 3]") && em->t.storage);
	pth_close(f);
}

static void test_shared(void)
{
	struct pth_file *f = open_ok(data("shared.pth"));
	CHECK(f && f->n == 4 && f->ncopied == 0);
	if (!f || f->n != 4)
		return;
	const struct tensor *a = &entry(f, "a")->t, *tied = &entry(f, "a_tied")->t;
	const struct tensor *row = &entry(f, "row")->t, *tail = &entry(f, "tail")->t;
	CHECK(a->storage == tied->storage && a->offset == tied->offset);
	CHECK(row->storage == a->storage && row->offset == 16 && shape_is(row, "[4]"));
	CHECK(tensor_get(row, 0) == 4 && tensor_get(row, 3) == 7);
	CHECK(tail->storage != a->storage && tail->offset == 24 && tensor_get(tail, 0) == 6);
	pth_close(f);
}

static void test_noncontiguous(void)
{
	struct pth_file *f = open_ok(data("noncontig.pth"));
	CHECK(f && f->ncopied == 3);
	if (!f)
		return;
	static const double t[] = {0, 3, 1, 4, 2, 5}, strided[] = {0, 2, 4, 6, 8, 10},
	                    expanded[] = {0, 1, 2, 0, 1, 2};
	const struct pth_entry *et = entry(f, "t"), *es = entry(f, "strided"),
	                       *ee = entry(f, "expanded");
	CHECK(et && shape_is(&et->t, "[3, 2]") && es && shape_is(&es->t, "[3, 2]") &&
	      es->t.dtype == DT_I64 && ee && shape_is(&ee->t, "[2, 3]"));
	for (int i = 0; et && es && ee && i < 6; i++) {
		CHECK(tensor_get(&et->t, i) == t[i]);
		CHECK(tensor_get(&es->t, i) == strided[i]);
		CHECK(tensor_get(&ee->t, i) == expanded[i]);
	}
	pth_close(f);
}

static void test_legacy(void)
{
	struct pth_file *f = open_ok(data("legacy.pth"));
	CHECK(f && f->legacy && f->n == 8);
	if (!f)
		return;
	const struct pth_entry *w = entry(f, "conv.weight"), *row = entry(f, "row");
	CHECK(w && shape_is(&w->t, "[2, 3, 2, 2]") && tensor_get(&w->t, 23) == 23 / 4.0);
	CHECK(row && tensor_get(&row->t, 0) == 4 && row->t.offset == 16);
	CHECK(entry(f, "bn.num_batches_tracked") &&
	      tensor_get(&entry(f, "bn.num_batches_tracked")->t, 0) == 7);
	pth_close(f);
}

static void test_checkpoint_dict(void)
{
	struct pth_file *f = open_ok(data("checkpoint.pth"));
	CHECK(f && f->n == 7 && f->inner_key && strcmp(f->inner_key, "state_dict") == 0);
	pth_close(f);
}

/* The bytes of two tensors are equal. */
static bool same_values(const struct tensor *a, const struct tensor *b)
{
	return a->dtype == b->dtype && shape_equal(&a->shape, &b->shape) &&
	       memcmp(tensor_data(a), tensor_data(b), tensor_nbytes(a)) == 0;
}

static void check_tiny_cnn_tree(const char *file)
{
	struct pth_file *f = open_ok(data(file)), *sd = open_ok(data("tiny_cnn.pth"));
	CHECK(f && f->root && sd && f->n == 14 && sd->n == 14 && !f->tree_note);
	if (!f || !f->root || !sd || f->n != 14 || sd->n != 14)
		goto out;
	CHECK_STR(f->root_class, "torch.nn.modules.container.Sequential");
	CHECK_STR(f->root->type, "Sequential");
	CHECK(f->root->nchildren == 9);
	static const char *const types[] = {"Conv2d",    "BatchNorm2d", "ReLU",
	                                    "Conv2d",    "BatchNorm2d", "ReLU",
	                                    "MaxPool2d", "Flatten",     "Linear"};
	for (int i = 0; i < 9 && i < f->root->nchildren; i++) {
		CHECK_STR(f->root->children[i]->type, types[i]);
		CHECK(f->root->children[i]->def != NULL);
	}
	const struct module *conv = module_find(f->root, "3");
	CHECK(conv && module_attr_int(conv, "in_channels", 0) == 8 &&
	      module_attr_int(conv, "out_channels", 0) == 16 &&
	      !module_attr_bool(conv, "bias", true));
	int64_t pad[2] = {0, 0};
	module_attr_ints(conv, "padding", pad, 2);
	CHECK(pad[0] == 1 && pad[1] == 1);
	const struct module *fc = module_find(f->root, "8");
	CHECK(fc && module_attr_int(fc, "in_features", 0) == 1024 &&
	      module_attr_bool(fc, "bias", false));
	CHECK(module_attr_int(module_find(f->root, "6"), "kernel_size", 0) == 4 ||
	      module_attr(module_find(f->root, "6"), "kernel_size"));
	for (int i = 0; i < 14; i++) {
		CHECK_STR(f->entries[i].name, sd->entries[i].name);
		CHECK(same_values(&f->entries[i].t, &sd->entries[i].t));
	}
out:
	pth_close(f);
	pth_close(sd);
}

static void test_full_model(void)
{
	check_tiny_cnn_tree("tiny_cnn_full.pth");
}

static void test_full_model_legacy(void)
{
	check_tiny_cnn_tree("tiny_cnn_full_legacy.pth");
}

static void test_full_model_composites(void)
{
	struct pth_file *f = open_ok(data("tiny_resnet_full.pth"));
	CHECK(f && f->root && f->n == 38);
	if (!f || !f->root)
		goto out;
	CHECK_STR(f->root_class, "tiny_models.TinyResNet");
	CHECK_STR(f->root->type, "TinyResNet");
	const struct module *b = module_find(f->root, "layer2");
	CHECK(b && strcmp(b->type, "BasicBlock") == 0 && b->def == NULL);
	const struct module *ds = module_find(f->root, "layer2.downsample.0");
	int64_t stride[2] = {0, 0};
	module_attr_ints(ds, "stride", stride, 2);
	CHECK(ds && strcmp(ds->type, "Conv2d") == 0 && stride[0] == 2);
	const struct module *c1 = module_find(f->root, "layer1.conv1");
	CHECK(c1 && c1->nparams == 1 && !c1->params[0].trainable);
	const struct module *c2 = module_find(f->root, "layer1.conv2");
	CHECK(c2 && c2->nparams == 1 && c2->params[0].trainable);
	const struct module *bn = module_find(f->root, "bn1");
	CHECK(bn && bn->nparams == 5 && module_param(bn, "num_batches_tracked")->buffer);
	CHECK_STR(f->entries[0].name, "conv1.weight");
	CHECK_STR(f->entries[f->n - 1].name, "fc.bias");
out:
	pth_close(f);
}

/* ---- writing ---- */

static void roundtrip(const char *file)
{
	struct pth_file *f = open_ok(data(file));
	if (!f)
		return;
	const char **names = xcalloc((size_t)f->n + 1, sizeof *names);
	const struct tensor **ts = xcalloc((size_t)f->n + 1, sizeof *ts);
	for (int i = 0; i < f->n; i++) {
		names[i] = f->entries[i].name;
		ts[i] = &f->entries[i].t;
	}
	struct error e = {0};
	CHECK(pth_write(tmp("out.pth"), names, ts, f->n, NULL, &e) == 0);
	struct pth_file *g = open_ok(tmp("out.pth"));
	CHECK(g && g->n == f->n && !g->legacy);
	for (int i = 0; g && i < f->n && i < g->n; i++) {
		CHECK_STR(g->entries[i].name, f->entries[i].name);
		CHECK(same_values(&g->entries[i].t, &f->entries[i].t));
	}
	pth_close(g);
	pth_close(f);
	free(names);
	free(ts);
}

static void test_write_roundtrip(void)
{
	roundtrip("state.pth");
	roundtrip("dtypes.pth");
	roundtrip("noncontig.pth");
	roundtrip("legacy.pth");
	roundtrip("tiny_resnet_full.pth");
}

static void test_write_sharing(void)
{
	roundtrip("shared.pth");
	/* what shared before shares again: tied weights and views */
	struct pth_file *g = open_ok(tmp("out.pth"));
	if (!g)
		return;
	const struct tensor *a = &entry(g, "a")->t, *tied = &entry(g, "a_tied")->t;
	const struct tensor *row = &entry(g, "row")->t, *tail = &entry(g, "tail")->t;
	CHECK(a->storage == tied->storage && row->storage == a->storage && row->offset == 16);
	CHECK(tail->storage != a->storage && tail->storage->size == 16);
	pth_close(g);
	/* the file: data.pkl, byteorder, data/0, data/1, version; 64-byte aligned */
	FILE *fp = fopen(tmp("out.pth"), "rb");
	unsigned char buf[4096];
	size_t len = fp ? fread(buf, 1, sizeof buf, fp) : 0;
	if (fp)
		fclose(fp);
	int records = 0;
	for (size_t at = 0; at + 30 < len && memcmp(buf + at, "PK\x03\x04", 4) == 0; records++) {
		size_t nlen = buf[at + 26] | (size_t)buf[at + 27] << 8;
		size_t xlen = buf[at + 28] | (size_t)buf[at + 29] << 8;
		size_t dlen = buf[at + 18] | (size_t)buf[at + 19] << 8 | (size_t)buf[at + 20] << 16;
		CHECK((at + 30 + nlen + xlen) % 64 == 0);
		at += 30 + nlen + xlen + dlen;
	}
	CHECK(records == 5);
}

static void test_write_errors(void)
{
	struct tensor t = {.dtype = DT_F32, .shape = {1, {4}}};
	const struct tensor *ts[] = {&t};
	const char *names[] = {"w"};
	struct error e = {0};
	CHECK(pth_write(tmp("nostorage.pth"), names, ts, 1, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "'w' has no values");
	tensor_alloc(&t, NULL);
	CHECK(pth_write("/nonexistent-dir/x.pth", names, ts, 1, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "/nonexistent-dir/x.pth: cannot create a temporary file beside it");
	tensor_release(&t);
}

/* ---- models from checkpoints, the zoo ---- */

/* A zoo of one architecture: tiny_cnn, from its bundle. */
static void make_zoo(void)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/models/tiny/tiny_cnn.safetensors", srcdir);
	struct error e = {0};
	struct model *m = format_open(path, NULL, &e);
	CHECK(m != NULL);
	if (!m)
		return;
	mkdir(tmp("zoo"), 0755);
	m->has_weights = false; /* the architecture alone */
	CHECK(format_save(m, tmp("zoo/tiny_cnn.json"), 0, &e) == 0);
	model_free(m);
	setenv("GRAFT_MODELS", tmp("zoo"), 1);
}

static void test_zoo_match(void)
{
	make_zoo();
	struct error e = {0};
	struct model *m = format_open(data("tiny_cnn.pth"), NULL, &e);
	CHECK(m && m->has_forward && m->has_weights);
	if (!m) {
		printf("  %s\n", e.msg);
		return;
	}
	CHECK_STR(m->note, "tiny_cnn.pth: matches zoo/tiny_cnn.json");
	CHECK_STR(m->name, "tiny_cnn");
	CHECK(m->ninputs == 1);
	struct pth_file *f = open_ok(data("tiny_cnn.pth"));
	const struct module *fc = module_find(m->root, "8");
	CHECK(f && fc && fc->nparams == 2 &&
	      same_values(&fc->params[0].t, &entry(f, "8.weight")->t));
	pth_close(f);
	model_free(m);

	/* a pickled module whose types match takes the zoo's forward too */
	m = format_open(data("tiny_cnn_full.pth"), NULL, &e);
	CHECK(m && m->has_forward && m->note && strstr(m->note, "matches zoo/tiny_cnn.json"));
	model_free(m);

	/* plain safetensors (no architecture inside) match too */
	f = open_ok(data("tiny_cnn.pth"));
	const char **names = xcalloc((size_t)f->n + 1, sizeof *names);
	const struct tensor **ts = xcalloc((size_t)f->n + 1, sizeof *ts);
	for (int i = 0; i < f->n; i++) {
		names[i] = f->entries[i].name;
		ts[i] = &f->entries[i].t;
	}
	CHECK(st_write(tmp("plain.safetensors"), names, ts, f->n, NULL, 0, &e) == 0);
	free(names);
	free(ts);
	pth_close(f);
	m = format_open(tmp("plain.safetensors"), NULL, &e);
	CHECK(m && m->has_forward && m->note &&
	      strstr(m->note, "plain.safetensors: matches zoo/tiny_cnn.json"));
	model_free(m);

	/* through the index, and with a stale index entry ignored */
	int n = 0;
	CHECK(zoo_write_index(tmp("zoo"), &n, &e) == 0 && n == 1);
	m = format_open(data("tiny_cnn.pth"), NULL, &e);
	CHECK(m && m->has_forward);
	model_free(m);
	FILE *idx = fopen(tmp("zoo/index.txt"), "w");
	fputs("tiny_cnn.json 12 14 0000000000000000\n", idx);
	fclose(idx);
	m = format_open(data("tiny_cnn.pth"), NULL, &e);
	CHECK(m && m->has_forward);
	model_free(m);
}

static void test_zoo_no_match(void)
{
	struct error e = {0};
	struct model *m = format_open(data("state.pth"), NULL, &e);
	CHECK(m && !m->has_forward && m->has_weights);
	if (!m)
		return;
	CHECK_CONTAINS(m->note, "state.pth: no zoo architecture has these tensor names");
	CHECK_CONTAINS(m->note, "forward is unknown");
	CHECK(module_find(m->root, "bn") &&
	      module_param(module_find(m->root, "bn"), "running_var")->buffer);
	model_free(m);

	m = format_open(data("tiny_resnet_full.pth"), NULL, &e);
	CHECK(m && !m->has_forward && m->has_weights);
	if (m) {
		CHECK_CONTAINS(m->note, "a pickled tiny_models.TinyResNet; no zoo architecture "
		                        "matches it, so the forward is unknown");
		CHECK_STR(m->root->type, "TinyResNet");
	}
	model_free(m);

	m = format_open(data("legacy.pth"), NULL, &e);
	CHECK(m && strstr(m->note, "format before PyTorch 1.6"));
	model_free(m);
	m = format_open(data("checkpoint.pth"), NULL, &e);
	CHECK(m && strstr(m->note, "the checkpoint's 'state_dict' entry"));
	model_free(m);
	m = format_open(data("noncontig.pth"), NULL, &e);
	CHECK(m && strstr(m->note, "3 non-contiguous tensors were made contiguous"));
	model_free(m);
}

static void test_attach_weights(void)
{
	struct error e = {0};
	struct model *m = format_open(tmp("zoo/tiny_cnn.json"), data("tiny_cnn.pth"), &e);
	CHECK(m && m->has_weights);
	model_free(m);
	m = format_open(tmp("zoo/tiny_cnn.json"), NULL, &e);
	CHECK(m && !m->has_weights);
	if (!m)
		return;
	CHECK(format_attach_weights(m, data("state.pth"), &e) < 0);
	CHECK_CONTAINS(e.msg, "the weights do not match the architecture");
	CHECK_CONTAINS(e.msg, "missing 14: 0.weight, 1.weight");
	CHECK_CONTAINS(e.msg, "unexpected 7: conv.weight");
	CHECK(!m->has_weights);
	CHECK(format_attach_weights(m, data("tiny_cnn.pth"), &e) == 0 && m->has_weights);
	/* a mis-shaped tensor is named with both shapes */
	char **names;
	const struct tensor **ts;
	int n = model_state_dict(m, &names, &ts);
	struct tensor wrong = {.dtype = DT_F32, .shape = {2, {10, 1000}}};
	tensor_alloc(&wrong, NULL);
	ts[n - 2] = &wrong;
	CHECK(pth_write(tmp("wrong.pth"), (const char *const *)names, ts, n, NULL, &e) == 0);
	CHECK(format_attach_weights(m, tmp("wrong.pth"), &e) < 0);
	CHECK_CONTAINS(e.msg, "wrong shape 1: 8.weight is float32 [10, 1000] in the file, float32 "
	                      "[10, 1024] in the architecture");
	tensor_release(&wrong);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(ts);
	model_free(m);
}

static void test_save_pth(void)
{
	struct error e = {0};
	char path[1024];
	snprintf(path, sizeof path, "%s/models/tiny/tiny_resnet.safetensors", srcdir);
	struct model *m = format_open(path, NULL, &e);
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(format_save(m, tmp("tiny_resnet.pth"), 0, &e) == 0);
	CHECK(format_save(m, tmp("tiny_resnet.json"), 0, &e) == 0);
	struct model *back = format_open(tmp("tiny_resnet.json"), tmp("tiny_resnet.pth"), &e);
	CHECK(back && back->has_weights);
	if (back) {
		char **n1, **n2;
		const struct tensor **t1, **t2;
		int k1 = model_state_dict(m, &n1, &t1), k2 = model_state_dict(back, &n2, &t2);
		CHECK(k1 == k2 && k1 > 0);
		for (int i = 0; i < k1 && i < k2; i++) {
			CHECK_STR(n1[i], n2[i]);
			CHECK(same_values(t1[i], t2[i]));
		}
		for (int i = 0; i < k1; i++)
			free(n1[i]);
		for (int i = 0; i < k2; i++)
			free(n2[i]);
		free(n1), free(n2), free(t1), free(t2);
	}
	model_free(back);
	model_free(m);
}

/* ---- hostile files ---- */

static const struct {
	const char *file, *message;
} hostile[] = {
    {"os_system", "REDUCE calls os.system: refused (graft never runs code from a file"},
    {"posix_system", "REDUCE calls posix.system: refused"},
    {"builtins_eval", "REDUCE calls builtins.eval: refused"},
    {"subprocess_newobj", "NEWOBJ of subprocess.Popen: refused"},
    {"stack_global", "REDUCE calls os.system: refused"},
    {"unknown_global", "REDUCE calls numpy.core.multiarray._reconstruct: refused"},
    {"inst", "unsupported pickle opcode INST (0x69)"},
    {"reduce_in_state_dict", "data.pkl: offset 74: REDUCE calls os.system"},
    {"bad_global_name", "GLOBAL names something that is not a Python identifier"},
    {"huge_string", "BINUNICODE of 4294967295 bytes runs past the end of the pickle"},
    {"huge_memo", "LONG_BINPUT: memo index 4294967280 out of range"},
    {"memo_missing", "BINGET: memo index 5 was never stored"},
    {"deep_nesting", "nesting deeper than 512 levels"},
    /* 200,000 nested tuples from 457 compressed bytes: past the budget */
    {"deep_tuples", "reading it would take more than 16.01 MB of memory"},
    {"cyclic_list", "holds a list, not a state_dict or a model"},
    {"empty_stack", "REDUCE needs a value and the stack is empty"},
    {"ext1", "unsupported pickle opcode EXT1"},
    {"proto6", "pickle protocol 6"},
    {"long1_huge", "LONG1: an integer of 9 bytes is too large"},
    {"truncated_pickle", "the pickle ends without STOP (truncated file?)"},
    {"no_stop", "the pickle ends without STOP"},
    {"build_on_int", "BUILD on an int: refused"},
    {"bad_persid", "unknown persistent id 'evil'"},
    {"huge_numel", "malformed storage id"},
    {"wrong_storage_size",
     "data/0 holds 12 bytes, but the pickle declares 4 float32 elements (16 bytes)"},
    {"missing_record", "storage record data/5 is missing"},
    {"out_of_storage", "tensor reaches element 99 of storage '0', which has 4"},
    {"offset_out_of_storage", "tensor reaches element 4 of storage '0', which has 4"},
    {"shape_overflow", "tensor shape overflows"},
    {"too_many_dims", "tensor with 9 dimensions"},
    {"dtype_conflict", "storage '0' is declared both as"},
    {"unknown_storage", "unsupported storage type torch.ComplexFloatStorage"},
    {"int_key", "a state_dict key is an int, not a str"},
    {"not_a_tensor", "not a state_dict: 'a' is an int, not a tensor"},
    {"single_tensor", "holds a single tensor, not a state_dict or a model"},
    {"no_data_pkl", "not a PyTorch checkpoint (no archive/data.pkl)"},
    {"flat_zip", "not a PyTorch checkpoint"},
    {"truncated_zip", "not a readable zip archive"},
    {"bad_crc", "data/0: CRC error"},
    {"not_a_checkpoint", "not a PyTorch checkpoint"},
    {"empty", "not a PyTorch checkpoint"},
    {"old_tar", "a tar checkpoint from PyTorch before 0.4"},
    {"legacy_truncated", "storage '7' (4 float32 elements) is truncated or has the wrong size"},
    /* small files that expanded into gigabytes when shared values were copied */
    {"memo_dag", "module '<root>': attribute 'kernel_size' holds more than 4096 values"},
    {"module_dag", "modules, as many as the pickle has values (modules shared too often)"},
    {"stride0_view", "a view of storage '0' (1 elements) would copy 1073741824 bytes"},
};

static void test_hostile(void)
{
	int n = (int)(sizeof hostile / sizeof hostile[0]);
	for (int i = 0; i < n; i++) {
		char name[256];
		snprintf(name, sizeof name, "bad/%s.pth", hostile[i].file);
		struct error e = {0};
		struct pth_file *f = pth_open(data(name), &e);
		if (f) {
			printf("  %s: accepted\n", name);
			check_failures_in_test++;
			pth_close(f);
			continue;
		}
		if (!strstr(e.msg, hostile[i].message)) {
			printf("  %s: \"%s\" lacks \"%s\"\n", name, e.msg, hostile[i].message);
			check_failures_in_test++;
		}
		/* the message starts with the file */
		CHECK(strncmp(e.msg, data(name), strlen(data(name))) == 0);
		/* model_open says the same */
		struct model *m = format_open(data(name), NULL, &e);
		CHECK(m == NULL && strstr(e.msg, hostile[i].message));
		model_free(m);
	}
	/* every file of bad/ is in the list */
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/tests/data/pth/bad", srcdir);
	DIR *d = opendir(dir);
	int files = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		files += strstr(de->d_name, ".pth") != NULL;
	if (d)
		closedir(d);
	CHECK(files == n);
	/* and nothing ran: the payloads would have created this file */
	CHECK(access("tests/out/pwned", F_OK) != 0);
}

/* ---- checkpoints as training scripts leave them (tests/data/ckpt) ---- */

static const char *ckpt(const char *name)
{
	static char buf[4][1024];
	static int slot;
	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof buf[slot], "%s/tests/data/ckpt/%s", srcdir, name);
	return buf[slot];
}

static const char *same_key(const struct pk_value *storage, void *ctx)
{
	(void)ctx;
	return storage->u.storage.key;
}

/* A pickle written back by pkw_value reads as the same values, and writing
 * that again gives the same bytes. */
static void test_value_writer(void)
{
	struct error e = {0};
	struct pth_reader *r = pth_read_object(ckpt("lightning.ckpt"), &e);
	CHECK(r != NULL);
	if (!r)
		return;
	struct pkw_hooks hooks = {.storage_key = same_key};
	char *bytes[2] = {NULL, NULL};
	size_t len[2] = {0, 0};
	const struct pk_value *root = pth_reader_root(r);
	struct pk_doc doc = {0};
	for (int pass = 0; pass < 2; pass++) {
		struct pk_writer w;
		pkw_begin(&w);
		CHECK(pkw_value(&w, root, &hooks, &e) == 0);
		bytes[pass] = pkw_finish(&w, &len[pass]);
		pkw_free(&w);
		if (pass == 0) {
			CHECK(load(bytes[0], len[0], &doc, &e) == 0);
			root = doc.root;
		}
	}
	CHECK(len[0] == len[1] && memcmp(bytes[0], bytes[1], len[0]) == 0);
	const struct pk_value *v = pk_dict_get(doc.root, "global_step");
	CHECK(v && v->kind == PK_INT && v->u.i == 120);
	v = pk_dict_get(pk_dict_get(doc.root, "hyper_parameters"), "lr");
	CHECK(v && v->kind == PK_FLOAT && v->u.f == 0.01);
	v = pk_dict_get(doc.root, "optimizer_states");
	const struct pk_value *opt = v && v->kind == PK_LIST ? v->u.seq.items[0] : NULL;
	const struct pk_value *state = pk_dict_get(opt, "state");
	CHECK(state && state->kind == PK_DICT && state->u.dict.n == 8);
	const struct pk_value *groups = pk_dict_get(opt, "param_groups");
	const struct pk_value *betas = groups ? pk_dict_get(groups->u.seq.items[0], "betas") : NULL;
	CHECK(betas && betas->kind == PK_TUPLE && betas->u.seq.n == 2);
	/* removing an entry keeps the others, in order, found by key */
	struct pk_value *sd = pk_dict_get(doc.root, "state_dict");
	int n = sd ? sd->u.dict.n : 0;
	CHECK(n == 14);
	if (n == 14) {
		pk_dict_remove(sd, 0);
		CHECK(sd->u.dict.n == 13 && !pk_dict_get(sd, "model.0.weight") &&
		      pk_dict_get(sd, "model.8.bias") == sd->u.dict.values[12]);
	}
	pk_doc_free(&doc);
	free(bytes[0]);
	free(bytes[1]);
	pth_reader_free(r);
}

/* Gives Linear `path` n outputs, its new tensors zeros: `head N`'s shapes. */
static void resize_head(struct model *m, const char *path, int64_t n)
{
	struct module *fc = module_find(m->root, path);
	struct value v = value_int(n);
	struct error e = {0};
	module_set_attr(fc, "out_features", &v);
	CHECK(registry_prepare(fc, &e) == 0);
	for (int i = 0; i < fc->nparams; i++)
		CHECK(fc->params[i].t.storage || tensor_alloc(&fc->params[i].t, &e) == 0);
}

static int state_entries(const char *path)
{
	struct error e = {0};
	struct pth_reader *r = pth_read_object(path, &e);
	const struct pk_value *state =
	    pk_dict_get(pk_dict_get(r ? pth_reader_root(r) : NULL, "optimizer"), "state");
	int n = state ? state->u.dict.n : -1;
	pth_reader_free(r);
	return n;
}

/* A training checkpoint written back: the other entries as they were, the
 * optimizer's state of reshaped parameters refused, kept or dropped. */
static void test_training_checkpoint(void)
{
	make_zoo();
	struct error e = {0};
	struct model *m = format_open(ckpt("train.pth"), NULL, &e);
	CHECK(m && m->has_forward && m->checkpoint);
	if (!m || !m->checkpoint) {
		model_free(m);
		return;
	}
	CHECK_CONTAINS(m->note, "the state_dict is the checkpoint's 'model' entry");
	CHECK_STR(m->checkpoint->key, "model");
	CHECK(!m->checkpoint->prefix && m->checkpoint->nparams == 8);
	CHECK_STR(m->checkpoint->param_names[6], "8.weight");

	/* unchanged: saved as it was, the optimizer whole */
	CHECK(format_save(m, tmp("train_same.pth"), 0, &e) == 0);
	struct pth_reader *r = pth_read_object(tmp("train_same.pth"), &e);
	const struct pk_value *root = r ? pth_reader_root(r) : NULL;
	CHECK(root && root->kind == PK_DICT && root->u.dict.n == 5);
	const struct pk_value *epoch = pk_dict_get(root, "epoch");
	CHECK(epoch && epoch->kind == PK_INT && epoch->u.i == 7);
	const struct pk_value *tags = pk_dict_get(pk_dict_get(root, "args"), "tags");
	CHECK(tags && tags->kind == PK_LIST && tags->u.seq.n == 2);
	pth_reader_free(r);
	CHECK(state_entries(tmp("train_same.pth")) == 8);

	/* the head reshaped, as `head 5` does */
	resize_head(m, "8", 5);
	CHECK(format_save(m, tmp("train5.pth"), 0, &e) < 0);
	CHECK_CONTAINS(e.msg,
	               "of 2 parameters whose shape changed no longer fits (8.weight, 8.bias)");
	CHECK(access(tmp("train5.pth"), F_OK) != 0);
	m->checkpoint->optimizer = MODEL_OPTIMIZER_KEEP;
	CHECK(format_save(m, tmp("train5.pth"), 0, &e) == 0);
	CHECK(state_entries(tmp("train5.pth")) == 8);
	m->checkpoint->optimizer = MODEL_OPTIMIZER_DROP;
	CHECK(format_save(m, tmp("train5.pth"), 0, &e) == 0);
	CHECK(state_entries(tmp("train5.pth")) == 6);
	model_free(m);

	/* the saved file reopens with its architecture and entry */
	m = format_open(tmp("train5.pth"), NULL, &e);
	CHECK(m && m->checkpoint &&
	      module_attr_int(module_find(m->root, "8"), "out_features", 0) == 5);
	CHECK(m && strstr(m->note, "the architecture graft saved inside it"));
	model_free(m);
}

/* Wrapper prefixes: stripped on opening, said, and put back on saving. */
static void test_prefixes(void)
{
	make_zoo();
	static const struct {
		const char *file, *prefix, *key;
	} cases[] = {
	    {"dataparallel.pth", "module.", NULL},      {"compiled.pth", "_orig_mod.", NULL},
	    {"lightning.ckpt", "model.", "state_dict"}, {"ema.pth", NULL, "ema"},
	    {"train_sd.pth", NULL, "model_state_dict"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct error e = {0};
		struct model *m = format_open(ckpt(cases[i].file), NULL, &e);
		CHECK(m && m->has_forward && m->checkpoint);
		if (!m || !m->checkpoint) {
			printf("  %s: %s\n", cases[i].file, m ? m->note : e.msg);
			model_free(m);
			continue;
		}
		CHECK_CONTAINS(m->note, "matches zoo/tiny_cnn.json");
		if (cases[i].prefix) {
			char said[64];
			snprintf(said, sizeof said, "'%s' stripped from every name",
			         cases[i].prefix);
			CHECK_CONTAINS(m->note, said);
			CHECK_STR(m->checkpoint->prefix, cases[i].prefix);
		}
		CHECK(!cases[i].key == !m->checkpoint->key);
		CHECK(format_save(m, tmp("prefixed.pth"), 0, &e) == 0);
		model_free(m);
		struct pth_file *f = open_ok(tmp("prefixed.pth"));
		CHECK(f && f->n == 14);
		CHECK(f && !cases[i].key == !f->inner_key);
		if (f && cases[i].prefix)
			CHECK(strncmp(f->entries[0].name, cases[i].prefix,
			              strlen(cases[i].prefix)) == 0);
		pth_close(f);
	}
	/* a bare state_dict keeps a "model." that is part of its names */
	struct pth_file *f = open_ok(ckpt("lightning.ckpt"));
	CHECK(f && f->n == 14 && strncmp(f->entries[0].name, "model.", 6) == 0);
	pth_close(f);
}

/* A fine-tuned head matches the zoo architecture, resized. */
static void test_zoo_head(void)
{
	make_zoo();
	struct error e = {0};
	struct model *m = format_open(ckpt("head7.pth"), NULL, &e);
	CHECK(m && m->has_forward && m->has_weights);
	if (!m)
		return;
	CHECK_STR(m->note, "head7.pth: matches zoo/tiny_cnn.json with its head resized: '8' 10→7");
	CHECK(module_attr_int(module_find(m->root, "8"), "out_features", 0) == 7);
	model_free(m);
}

/* A TorchScript archive: the module tree, parameters and buffers. */
static void test_torchscript(void)
{
	struct pth_file *f = open_ok(ckpt("scripted.pt"));
	struct pth_file *sd = open_ok(ckpt("ema.pth"));
	CHECK(f && f->torchscript && f->root && f->n == 14 && sd);
	if (!f || !f->root || f->n != 14 || !sd) {
		pth_close(f);
		pth_close(sd);
		return;
	}
	CHECK_STR(f->root_class, "__torch__.torch.nn.modules.container.Sequential");
	CHECK_STR(f->root->type, "torch.nn.modules.container.Sequential");
	CHECK(f->root->nchildren == 9);
	const struct module *bn = module_find(f->root, "4");
	CHECK(bn && bn->nparams == 5 && !bn->params[1].buffer && bn->params[2].buffer &&
	      strcmp(bn->type, "torch.nn.modules.batchnorm.BatchNorm2d") == 0);
	for (int i = 0; i < 14; i++) {
		CHECK_STR(f->entries[i].name, sd->entries[i].name);
		CHECK(same_values(&f->entries[i].t, &sd->entries[i].t));
	}
	pth_close(f);
	pth_close(sd);
	/* without a zoo to take the forward from: the tree, and one line why */
	setenv("GRAFT_MODELS", tmp("no-zoo"), 1);
	struct error e = {0};
	struct model *m = format_open(ckpt("scripted.pt"), NULL, &e);
	CHECK(m && !m->has_forward && m->has_weights);
	CHECK(m && strstr(m->note, "its forward is TorchScript code, which graft neither runs "
	                           "nor translates"));
	model_free(m);
	make_zoo();
}

static void cleanup(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[2048];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			cleanup(path);
		else
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(void)
{
	if (getenv("srcdir"))
		srcdir = getenv("srcdir");
	const char *t = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof tmp_dir, "%s/graft-test-pth-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(test_pickle_values);
	RUN(test_pickle_budget);
	RUN(test_pickle_big_dict);
	RUN(test_pickle_writer);
	RUN(test_state_dict);
	RUN(test_dtypes);
	RUN(test_shared);
	RUN(test_noncontiguous);
	RUN(test_legacy);
	RUN(test_checkpoint_dict);
	RUN(test_full_model);
	RUN(test_full_model_legacy);
	RUN(test_full_model_composites);
	RUN(test_write_roundtrip);
	RUN(test_write_sharing);
	RUN(test_write_errors);
	RUN(test_zoo_match);
	RUN(test_zoo_no_match);
	RUN(test_attach_weights);
	RUN(test_save_pth);
	RUN(test_hostile);
	RUN(test_value_writer);
	RUN(test_training_checkpoint);
	RUN(test_prefixes);
	RUN(test_zoo_head);
	RUN(test_torchscript);
	cleanup(tmp_dir);
	return CHECK_DONE();
}
