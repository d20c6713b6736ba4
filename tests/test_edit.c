/* test_edit.c - the editor: every command, inference, weights kept byte for
 * byte, breaks and their messages, undo/redo, scripts, head on the zoo. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "edit/edit.h"
#include "edit/edit_ops.h"
#include "edit/select.h"
#include "core/model.h"
#include "io/format.h"
#include "io/save.h"

static const char *srcdir = ".";
static char tmpdir[] = "/tmp/graft-test-edit-XXXXXX";

static bool open_editor(struct editor *ed, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", srcdir, rel);
	struct error e = {0};
	struct model *m = format_open(path, NULL, &e);
	if (!m) {
		printf("  %s\n", e.msg);
		return false;
	}
	editor_init(ed, m);
	char lib[1024];
	snprintf(lib, sizeof lib, "%s/lib/types.graft", srcdir);
	if (editor_load_types(ed, lib, false, &e) < 0)
		printf("  %s\n", e.msg);
	return true;
}

/* Runs a command that must succeed; returns its output (static buffer). */
static const char *run_ok(struct editor *ed, const char *cmd)
{
	static char buf[8192];
	struct strbuf out = {0};
	struct error e = {0};
	int rc = editor_run(ed, cmd, &out, &e);
	if (rc < 0)
		printf("  '%s' failed: %s\n", cmd, e.msg);
	CHECK(rc == 0);
	snprintf(buf, sizeof buf, "%s", out.s ? out.s : "");
	strbuf_free(&out);
	return buf;
}

/* Runs a command that must be refused; returns the message. */
static const char *run_fail(struct editor *ed, const char *cmd)
{
	static struct error e;
	struct strbuf out = {0};
	error_clear(&e);
	int rc = editor_run(ed, cmd, &out, &e);
	if (rc == 0)
		printf("  '%s' should have failed\n", cmd);
	CHECK(rc < 0);
	strbuf_free(&out);
	return e.msg;
}

static const char *out_shape(const struct editor *ed, char *buf, size_t n)
{
	if (ed->check.output.kind != VAL_TENSOR)
		return "?";
	return shape_format(&ed->check.output.u.tensor.t.shape, buf, n);
}

static const struct param *param_at(const struct editor *ed, const char *path, const char *name)
{
	const struct module *m = module_find(ed->model->root, path);
	return m ? module_param(m, name) : NULL;
}

static void test_replace_infers_and_keeps(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_resnet.safetensors"))
		return;
	CHECK(ed.check.ok);
	const struct storage *conv_before = param_at(&ed, "conv1", "weight")->t.storage;
	CHECK_CONTAINS(run_ok(&ed, "replace fc Linear out_features=3"),
		       "replaced fc: Linear 32→10 -> Linear 32→3");
	const struct module *fc = module_find(ed.model->root, "fc");
	CHECK(module_attr_int(fc, "in_features", 0) == 32);
	CHECK(param_at(&ed, "fc", "weight")->t.storage != NULL);
	/* untouched tensors are the very same bytes */
	CHECK(param_at(&ed, "conv1", "weight")->t.storage == conv_before);
	char buf[64];
	CHECK_STR(out_shape(&ed, buf, sizeof buf), "[1, 3]");
	/* call form and explicit arguments win */
	run_ok(&ed, "replace fc Linear(32, 5, bias=False)");
	CHECK(!param_at(&ed, "fc", "bias"));
	/* same type and shapes keeps the weights */
	run_ok(&ed, "replace fc Linear out_features=5 bias=False");
	const struct storage *w = param_at(&ed, "fc", "weight")->t.storage;
	run_ok(&ed, "replace fc Linear");
	CHECK(param_at(&ed, "fc", "weight")->t.storage == w);
	run_ok(&ed, "replace fc Linear keep=none");
	CHECK(param_at(&ed, "fc", "weight")->t.storage != w);
	editor_free(&ed);
}

static void test_keep_overlap(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_resnet.safetensors"))
		return;
	const struct param *old = param_at(&ed, "fc", "weight");
	float first[32 * 10];
	tensor_to_f32(&old->t, first); /* old is [10, 32]; the new one keeps rows 0..2 */
	run_ok(&ed, "replace fc Linear out_features=3 keep=overlap");
	const struct param *nw = param_at(&ed, "fc", "weight");
	CHECK(nw->t.shape.dim[0] == 3 && nw->t.shape.dim[1] == 32);
	float now[32 * 10];
	if (nw->t.shape.dim[0] == 3)
		tensor_to_f32(&nw->t, now);
	CHECK(memcmp(first, now, 32 * 3 * sizeof(float)) == 0);
	editor_free(&ed);
}

static void test_errors(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_resnet.safetensors"))
		return;
	CHECK_CONTAINS(run_fail(&ed, "replace layer1.conv9 Linear"), "no module 'layer1.conv9' (did you mean 'layer1.conv1'?)");
	CHECK_CONTAINS(run_fail(&ed, "replace fc Linaer out_features=3"), "unknown type 'Linaer' (did you mean 'Linear'?)");
	CHECK_CONTAINS(run_fail(&ed, "replace fc Linear out_featurs=3"), "did you mean 'out_features'");
	CHECK_CONTAINS(run_fail(&ed, "replace fc Conv2d kernel_size=(1, 1)"), "out_channels is required");
	CHECK_CONTAINS(run_fail(&ed, "replace fc Linear out_features=three"), "out_features");
	CHECK_CONTAINS(run_fail(&ed, "replac fc Linear"), "did you mean 'replace'");
	CHECK_CONTAINS(run_fail(&ed, "replace fc"), "usage: replace PATH TYPE");
	CHECK_CONTAINS(run_fail(&ed, "replace-all Frobnicate ReLU"), "nothing matches 'Frobnicate'");
	CHECK_CONTAINS(run_fail(&ed, "undo"), "nothing to undo");
	CHECK_CONTAINS(run_fail(&ed, "head 0"), "positive");
	CHECK_CONTAINS(run_fail(&ed, "input 1x3xfoo"), "input");
	/* refused commands change nothing */
	CHECK(ed.nlog == 0 && ed.check.ok && !ed.dirty);
	editor_free(&ed);
}

static void test_replace_all(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	CHECK_CONTAINS(run_ok(&ed, "replace-all BatchNorm2d GroupNorm num_groups=8"), "20 modules replaced");
	const struct module *gn = module_find(ed.model->root, "layer2.0.bn1");
	CHECK(gn && strcmp(gn->type, "GroupNorm") == 0 && module_attr_int(gn, "num_channels", 0) == 128);
	CHECK_CONTAINS(run_ok(&ed, "replace-all ReLU FusedReLU p=0.5"), "9 modules replaced");
	const struct module *fr = module_find(ed.model->root, "layer1.0.relu");
	CHECK(fr && strcmp(fr->type, "FusedReLU") == 0 && fr->nchildren == 2);
	CHECK(module_find(ed.model->root, "layer1.0.relu.1") &&
	      module_attr_float(module_find(ed.model->root, "layer1.0.relu.1"), "p", 0) == 0.5);
	CHECK(ed.check.ok);
	/* 1x1 convs become 3x3 with padding 1: in/out channels, stride, bias kept */
	CHECK_CONTAINS(run_ok(&ed, "replace-all Conv2d[kernel_size=1] Conv2d kernel_size=3 padding=1"),
		       "3 modules replaced");
	const struct module *ds = module_find(ed.model->root, "layer2.0.downsample.0");
	int64_t k[2], s[2];
	module_attr_ints(ds, "kernel_size", k, 2);
	module_attr_ints(ds, "stride", s, 2);
	CHECK(k[0] == 3 && s[0] == 2 && module_attr_int(ds, "in_channels", 0) == 64 &&
	      !module_attr_bool(ds, "bias", true));
	CHECK(ed.check.ok);
	/* without padding the shapes break at the residual add, and it says why */
	run_ok(&ed, "undo");
	run_ok(&ed, "replace-all Conv2d[kernel_size=1] Conv2d kernel_size=3");
	CHECK(!ed.check.ok);
	CHECK_CONTAINS(ed.check.err.msg, "layer2.0:add");
	CHECK_CONTAINS(ed.check.err.msg, "[1, 128, 27, 27]");
	/* glob selector */
	run_ok(&ed, "undo");
	CHECK_CONTAINS(run_ok(&ed, "find layer*.*.conv2"), "8 modules");
	CHECK_CONTAINS(run_fail(&ed, "find Conv2d[groups>1]"), "nothing matches");
	editor_free(&ed);
}

static void test_insert_delete(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_cnn.safetensors"))
		return;
	/* into a numbered Sequential: renumbered like nn.Sequential(*layers) */
	run_ok(&ed, "insert after 2 Dropout p=0.1");
	const struct module *d = module_find(ed.model->root, "3");
	CHECK(d && strcmp(d->type, "Dropout") == 0);
	CHECK(strcmp(module_find(ed.model->root, "4")->type, "Conv2d") == 0);
	CHECK(ed.check.ok);
	CHECK_CONTAINS(run_fail(&ed, "delete 8"), "cannot delete 8: it takes [1, 16, 8, 8] and gives [1, 1024]");
	run_ok(&ed, "delete 3");
	CHECK(strcmp(module_find(ed.model->root, "3")->type, "Conv2d") == 0);
	editor_free(&ed);

	/* into a graph: a new child and node; consumers re-pointed */
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	run_ok(&ed, "insert after layer4 Dropout p=0.2");
	CHECK(module_find(ed.model->root, "layer4_post") != NULL);
	CHECK(module_find(ed.model->root, "layer4_post")->ncalls == 1);
	run_ok(&ed, "insert before fc Linear out_features=256 name=neck");
	CHECK(ed.check.ok == false); /* fc still expects 512 */
	CHECK_CONTAINS(ed.check.err.msg, "fc: Linear(in_features=512) gets 256");
	run_ok(&ed, "replace fc Linear out_features=10");
	CHECK(ed.check.ok);
	CHECK(module_attr_int(module_find(ed.model->root, "fc"), "in_features", 0) == 256);
	run_ok(&ed, "delete layer4_post");
	CHECK(ed.check.ok);
	editor_free(&ed);
}

static void test_set_and_break(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	run_ok(&ed, "set layer2.0.conv1 out_channels=64");
	CHECK(!ed.check.ok);
	CHECK_CONTAINS(ed.check.err.msg,
		       "layer2.0.bn1: BatchNorm2d(num_features=128) gets 64 channels from layer2.0.conv1 (out_channels=64)");
	run_ok(&ed, "undo");
	CHECK(ed.check.ok);
	run_ok(&ed, "redo");
	CHECK(!ed.check.ok);
	run_ok(&ed, "set layer2.0.bn1 num_features=64");
	CHECK_CONTAINS(ed.check.err.msg, "layer2.0.conv2");
	CHECK_CONTAINS(run_fail(&ed, "save /tmp/never.json"), "does not check");
	editor_free(&ed);
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)len + 1);
	*n = fread(buf, 1, (size_t)len, f);
	fclose(f);
	return buf;
}

static bool same_bytes(const char *a, const char *b)
{
	size_t na, nb;
	char *x = slurp(a, &na), *y = slurp(b, &nb);
	bool same = x && y && na == nb && memcmp(x, y, na) == 0;
	free(x);
	free(y);
	return same;
}

static void test_undo_saves_identical(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_blocks.safetensors"))
		return;
	char a[256], b[256], c[256], cmd[300];
	snprintf(a, sizeof a, "%s/a.safetensors", tmpdir);
	snprintf(b, sizeof b, "%s/b.safetensors", tmpdir);
	snprintf(c, sizeof c, "%s/c.safetensors", tmpdir);
	run_ok(&ed, "replace block2.conv2 Conv2d kernel_size=5 padding=2");
	snprintf(cmd, sizeof cmd, "save %s", a);
	run_ok(&ed, cmd);
	run_ok(&ed, "replace classifier Sequential(AdaptiveAvgPool2d(1), Flatten(), Linear(out_features=10))");
	CHECK(!ed.check.ok || ed.check.ok); /* mean over (2, 3) of a 2-D tensor may break */
	run_ok(&ed, "undo");
	snprintf(cmd, sizeof cmd, "save %s", b);
	run_ok(&ed, cmd);
	CHECK(same_bytes(a, b));
	run_ok(&ed, "redo");
	run_ok(&ed, "undo");
	snprintf(cmd, sizeof cmd, "save %s", c);
	run_ok(&ed, cmd);
	CHECK(same_bytes(a, c));
	/* the saved bundle opens and checks */
	struct error e = {0};
	struct model *m = format_open(a, NULL, &e);
	CHECK(m != NULL);
	model_free(m);
	editor_free(&ed);
}

static void test_script_reproduces(void)
{
	struct editor ed, ed2;
	if (!open_editor(&ed, "models/tiny/tiny_resnet.safetensors"))
		return;
	run_ok(&ed, "seed 7");
	run_ok(&ed, "replace-all ReLU FusedReLU p=0.25");
	run_ok(&ed, "replace fc Linear out_features=4");
	run_ok(&ed, "freeze layer1");
	run_ok(&ed, "input 1x3x64x64");
	run_ok(&ed, "set layer2.conv1 stride=1");
	run_ok(&ed, "undo");
	struct strbuf script = {0};
	editor_script(&ed, &script);
	CHECK_CONTAINS(script.s, "replace fc Linear out_features=4");
	CHECK(!strstr(script.s, "stride=1"));
	if (!open_editor(&ed2, "models/tiny/tiny_resnet.safetensors"))
		return;
	char *line = strtok(script.s, "\n");
	while (line) {
		run_ok(&ed2, line);
		line = strtok(NULL, "\n");
	}
	char a[256], b[256], cmd[300];
	snprintf(a, sizeof a, "%s/s1.safetensors", tmpdir);
	snprintf(b, sizeof b, "%s/s2.safetensors", tmpdir);
	snprintf(cmd, sizeof cmd, "save %s", a);
	run_ok(&ed, cmd);
	snprintf(cmd, sizeof cmd, "save %s", b);
	run_ok(&ed2, cmd);
	CHECK(same_bytes(a, b));
	struct param_counts pc;
	module_count(ed.model->root, &pc);
	CHECK(pc.trainable < pc.params);
	strbuf_free(&script);
	editor_free(&ed);
	editor_free(&ed2);
}

static void test_head_two_heads(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_twohead.safetensors"))
		return;
	CHECK_CONTAINS(run_fail(&ed, "head 3"), "several outputs");
	CHECK_CONTAINS(run_fail(&ed, "head 3"), "head1");
	run_ok(&ed, "head 3 head1");
	CHECK(ed.check.ok);
	const struct value *o = &ed.check.output;
	CHECK(o->kind == VAL_LIST && o->u.list.n == 2);
	CHECK(o->u.list.items[0].u.tensor.t.shape.dim[1] == 3);
	CHECK(o->u.list.items[1].u.tensor.t.shape.dim[1] == 2);
	/* a container: its last layer */
	CHECK_CONTAINS(run_ok(&ed, "head 7 head2"), "head2.2: Linear 16→2 -> Linear 16→7");
	CHECK(ed.check.ok && o->u.list.items[1].u.tensor.t.shape.dim[1] == 7);
	const char *not_head = run_fail(&ed, "head 7 trunk.2");
	CHECK_CONTAINS(not_head, "trunk.2 is a ReLU, not a Conv2d");
	CHECK_CONTAINS(not_head, "or Linear");
	editor_free(&ed);
}

/* GoogLeNet's auxiliary classifiers change with fc, as num_classes changes
 * them; one of them alone when named. */
static void test_head_auxiliary(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/googlenet.json"))
		return;
	const char *out = run_ok(&ed, "head 7 aux1");
	CHECK_CONTAINS(out, "aux1.fc2: Linear 1024→1000 -> Linear 1024→7");
	CHECK(!strstr(out, "aux2") && !strstr(out, "replaced fc"));
	out = run_ok(&ed, "head 10");
	CHECK_CONTAINS(out, "aux1.fc2: Linear 1024→7 -> Linear 1024→10");
	CHECK_CONTAINS(out, "aux2.fc2: Linear 1024→1000 -> Linear 1024→10");
	CHECK_CONTAINS(out, "fc: Linear 1024→1000 -> Linear 1024→10");
	/* without its auxiliary classifiers, fc alone */
	run_ok(&ed, "undo");
	run_ok(&ed, "delete aux1");
	run_ok(&ed, "delete aux2");
	out = run_ok(&ed, "head 5");
	CHECK_CONTAINS(out, "fc: Linear 1024→1000 -> Linear 1024→5");
	CHECK(!strstr(out, "aux"));
	editor_free(&ed);
}

/* The parameter count torchvision gives zoo model `name` with
 * num_classes=10 (tests/data/head_classes.txt), or -1 when its builder
 * takes no num_classes. */
static int64_t torchvision_params_10(const char *name)
{
	char path[1200], line[256];
	snprintf(path, sizeof path, "%s/tests/data/head_classes.txt", srcdir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	int64_t found = -1;
	while (f && fgets(line, sizeof line, f)) {
		char model[200];
		long long params;
		if (sscanf(line, "%199s %lld", model, &params) == 2 && !strcmp(model, name))
			found = params;
	}
	if (f)
		fclose(f);
	return found;
}

/* A tensor that should give 10 classes and does not. A detector's outputs
 * (an image's boxes, scores and labels) have no class dimension: its
 * classes show in its parameters, and in its checking (the heads' outputs
 * are cut into the classes). */
static int not_ten_classes(const char *key, const struct tensor *t, void *ctx)
{
	(void)ctx;
	const char *leaf = strrchr(key, '.');
	if (leaf && (!strcmp(leaf, ".boxes") || !strcmp(leaf, ".scores") || !strcmp(leaf, ".labels")))
		return 0;
	return t->shape.ndim < 2 || t->shape.dim[1] != 10;
}

static int not_five_maps(const char *key, const struct tensor *t, void *ctx)
{
	(void)key;
	(void)ctx;
	char buf[64];
	return strcmp(shape_format(&t->shape, buf, sizeof buf), "[2, 5, 16, 24]") != 0;
}

/* head 10 on every zoo model: the classifier is found from the output (or
 * the heads of head_sets.def), every output gives 10 classes afterwards
 * (scores [1, 10], segmentation maps [1, 10, H, W], each of a dict; a
 * detector's box predictor 10 class scores), and
 * the model has the parameters torchvision's num_classes=10 gives it
 * (auxiliary classifiers included). A model whose builder takes no
 * num_classes (no line in head_classes.txt) has no class head, and head
 * says so. */
static void test_head_zoo(void)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/models", srcdir);
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	struct dirent *de;
	int n = 0, bad = 0;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		char rel[1200], name[256];
		snprintf(rel, sizeof rel, "models/%s", de->d_name);
		snprintf(name, sizeof name, "%.*s", (int)(len - 5), de->d_name);
		struct editor ed;
		if (!open_editor(&ed, rel)) {
			bad++;
			continue;
		}
		struct strbuf out = {0};
		struct error e = {0};
		char buf[64];
		struct param_counts pc = {0};
		int rc = editor_run(&ed, "head 10", &out, &e);
		module_count(ed.model->root, &pc);
		int64_t want = torchvision_params_10(name);
		/* a detector outputs boxes: its classes are its box predictor's */
		const struct module *cls =
		    module_find(ed.model->root, "roi_heads.box_predictor.cls_score");
		bool ten = cls ? module_attr_int(cls, "out_features", 0) == 10
		               : value_each_tensor(&ed.check.output, not_ten_classes, NULL) == 0;
		if (want < 0) {
			if (rc == 0 || !strstr(e.msg, "has no class head")) {
				printf("  %s: head 10 not refused: %s\n", de->d_name, e.msg);
				bad++;
			}
		} else if (rc < 0 || !ed.check.ok || !ten || pc.params != want) {
			printf("  %s: %s %s; output %s; %lld parameters, torchvision %lld\n",
			       de->d_name, e.msg, ed.check.err.msg, out_shape(&ed, buf, sizeof buf),
			       (long long)pc.params, (long long)want);
			bad++;
		}
		n++;
		strbuf_free(&out);
		editor_free(&ed);
	}
	if (d)
		closedir(d);
	CHECK(n >= 100);
	CHECK(bad == 0);
}

/* Every tensor of a model with its module's path, before an edit. */
struct kept {
	char path[256][64], name[256][32];
	const struct storage *storage[256];
	int n;
};

static int note_tensors(struct module *m, void *ctx)
{
	struct kept *k = ctx;
	for (int i = 0; i < m->nparams && k->n < 256; i++) {
		module_path_buf(m, k->path[k->n], sizeof k->path[k->n]);
		snprintf(k->name[k->n], sizeof k->name[k->n], "%s", m->params[i].name);
		k->storage[k->n++] = m->params[i].t.storage;
	}
	return 0;
}

/* head 5 on the small segmentation models (tools/usermodels): every head
 * of the type (head_sets.def) gives 5 classes, each output of the dict
 * [2, 5, 16, 24], and every other tensor keeps its very bytes. */
static void test_head_segmentation(void)
{
	static const struct {
		const char *model, *heads[2];
	} cases[] = {
		{"deeplabv3_small", {"classifier.4", "aux_classifier.4"}},
		{"deeplabv3_mobile_small", {"classifier.4", NULL}},
		{"fcn_small", {"classifier.4", "aux_classifier.4"}},
		{"lraspp_small", {"classifier.low_classifier", "classifier.high_classifier"}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char rel[256];
		snprintf(rel, sizeof rel, "tests/data/user/%s.safetensors", cases[c].model);
		struct editor ed;
		if (!open_editor(&ed, rel))
			continue;
		static struct kept k;
		k.n = 0;
		module_walk(ed.model->root, note_tensors, &k);
		run_ok(&ed, "head 5");
		CHECK(ed.check.ok);
		CHECK(value_each_tensor(&ed.check.output, not_five_maps, NULL) == 0);
		int changed = 0;
		for (int i = 0; i < k.n; i++) {
			bool head = false;
			for (int h = 0; h < 2; h++)
				head |= cases[c].heads[h] && !strcmp(k.path[i], cases[c].heads[h]);
			const struct param *p = param_at(&ed, k.path[i], k.name[i]);
			CHECK(p != NULL);
			if (!p)
				continue;
			if (head) {
				CHECK(p->t.shape.dim[0] == 5);
				changed++;
			} else if (p->t.storage != k.storage[i]) {
				printf("  %s: %s.%s changed\n", cases[c].model, k.path[i], k.name[i]);
				CHECK(p->t.storage == k.storage[i]);
			}
		}
		CHECK(changed == (cases[c].heads[1] ? 4 : 2));
		editor_free(&ed);
	}
}

static void test_show_diff(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	CHECK_CONTAINS(run_ok(&ed, "show layer1.0.conv1"), "weight");
	CHECK_CONTAINS(run_ok(&ed, "diff"), "no module changed");
	run_ok(&ed, "replace fc Linear out_features=10");
	run_ok(&ed, "input 1x3x300x300");
	const char *d = run_ok(&ed, "diff");
	CHECK_CONTAINS(d, "~ fc: Linear 512→1000 -> Linear 512→10");
	CHECK_CONTAINS(d, "parameters: 11,689,512 -> 11,181,642 (-507,870)");
	CHECK_CONTAINS(d, "input x: 1x3x224x224 -> 1x3x300x300");
	CHECK_CONTAINS(run_ok(&ed, "help"), "replace-all SELECTOR");
	CHECK_CONTAINS(run_ok(&ed, "help head"), "from the output");
	editor_free(&ed);
}

/* Untouched tensors are saved byte for byte: every tensor of the saved
 * model but the replaced ones has the bytes it had in the file opened. */
static void test_saved_bytes(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_resnet.safetensors"))
		return;
	run_ok(&ed, "replace-all BatchNorm2d GroupNorm num_groups=4");
	run_ok(&ed, "head 3");
	char out[256], cmd[300];
	snprintf(out, sizeof out, "%s/bytes.safetensors", tmpdir);
	snprintf(cmd, sizeof cmd, "save %s", out);
	run_ok(&ed, cmd);
	editor_free(&ed);
	struct error e = {0};
	char orig_path[1024];
	snprintf(orig_path, sizeof orig_path, "%s/models/tiny/tiny_resnet.safetensors", srcdir);
	struct model *a = format_open(orig_path, NULL, &e), *b = format_open(out, NULL, &e);
	CHECK(a && b);
	if (!a || !b) {
		model_free(a);
		model_free(b);
		return;
	}
	char **na, **nb;
	const struct tensor **ta, **tb;
	int n = model_state_dict(a, &na, &ta), m = model_state_dict(b, &nb, &tb);
	int same = 0, compared = 0;
	for (int i = 0; i < n; i++) {
		if (strstr(na[i], "bn") || !strncmp(na[i], "fc.", 3) || strstr(na[i], "downsample.1"))
			continue; /* replaced */
		for (int j = 0; j < m; j++) {
			if (strcmp(na[i], nb[j]) != 0)
				continue;
			compared++;
			same += tensor_nbytes(ta[i]) == tensor_nbytes(tb[j]) &&
				memcmp(tensor_data(ta[i]), tensor_data(tb[j]), tensor_nbytes(ta[i])) == 0 &&
				ta[i]->dtype == tb[j]->dtype;
		}
	}
	CHECK(compared >= 6);
	CHECK(same == compared);
	for (int i = 0; i < n; i++)
		free(na[i]);
	for (int j = 0; j < m; j++)
		free(nb[j]);
	free(na);
	free(nb);
	free(ta);
	free(tb);
	model_free(a);
	model_free(b);
}

/* A module the forward never runs (GoogLeNet's auxiliary classifiers in
 * eval) has no input shape: a new type is sized from the one it replaces. */
static void test_unreached_module(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/googlenet.json"))
		return;
	CHECK(module_find(ed.model->root, "aux1.conv.bn")->ncalls == 0);
	run_ok(&ed, "replace aux1.conv.bn GroupNorm num_groups=8");
	CHECK(module_attr_int(module_find(ed.model->root, "aux1.conv.bn"), "num_channels", 0) == 128);
	CHECK_CONTAINS(run_fail(&ed, "replace aux1.fc2 Conv2d kernel_size=1"), "no shape reaches this module");
	editor_free(&ed);
}

/* Sequential takes only modules: a value or a keyword is refused, and the
 * model is left as it was. */
static void test_sequential_arguments(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_cnn.safetensors"))
		return;
	CHECK_CONTAINS(run_fail(&ed, "replace 8 Sequential(ReLU(), x=1)"),
		       "Sequential takes modules as arguments, not 'x'");
	CHECK_CONTAINS(run_fail(&ed, "insert after 8 Sequential(ReLU()) foo=1"), "foo");
	CHECK_CONTAINS(run_fail(&ed, "replace 8 Sequential(ReLU(), 3)"),
		       "Sequential takes modules as arguments, not 'a value'");
	CHECK_CONTAINS(run_fail(&ed, "replace 8 Sequential(x=ReLU())"),
		       "Sequential takes modules as arguments, not 'x'");
	CHECK(strcmp(module_find(ed.model->root, "8")->type, "Linear") == 0);
	CHECK(ed.check.ok);
	editor_free(&ed);
}

static void test_define(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/tiny/tiny_cnn.safetensors"))
		return;
	run_ok(&ed, "define ConvGN c=8 g=2 = conv:Conv2d(out_channels=c, kernel_size=3, padding=1) > norm:GroupNorm(g, c) > act:ReLU()");
	run_ok(&ed, "insert after 2 ConvGN c=8");
	const struct module *m = module_find(ed.model->root, "3");
	CHECK(m && strcmp(m->type, "ConvGN") == 0);
	CHECK(module_find(ed.model->root, "3.conv") && module_param(module_find(ed.model->root, "3.norm"), "weight"));
	CHECK(module_attr_int(module_find(ed.model->root, "3.conv"), "in_channels", 0) == 8);
	CHECK(module_attr_int(module_find(ed.model->root, "3.norm"), "num_groups", 0) == 2);
	CHECK(ed.check.ok);
	run_ok(&ed, "set 3 g=4");
	CHECK(module_attr_int(module_find(ed.model->root, "3.norm"), "num_groups", 0) == 4);
	CHECK_CONTAINS(run_fail(&ed, "insert after 3 ConvGN q=1"), "ConvGN has no argument 'q'");
	CHECK_CONTAINS(run_fail(&ed, "define Conv2d = ReLU()"), "built-in type");
	CHECK_CONTAINS(run_fail(&ed, "define lower = ReLU()"), "capital letter");
	struct strbuf sc = {0};
	editor_script(&ed, &sc);
	CHECK_CONTAINS(sc.s, "define ConvGN");
	strbuf_free(&sc);
	editor_free(&ed);
}

/* Path globs: '**' spans dots, '*' stays in one segment, '?' is one
 * character of a segment; many stars in a row still answer (the fuzzer's
 * "?****************" once took exponential time). */
static void test_glob(void)
{
	CHECK(glob_match("layer1.*.conv1", "layer1.0.conv1"));
	CHECK(!glob_match("layer1.*", "layer1.0.conv1"));
	CHECK(glob_match("layer1.**", "layer1.0.conv1"));
	CHECK(glob_match("**conv?", "layer4.1.conv2"));
	CHECK(!glob_match("?", "."));
	CHECK(glob_match("fc", "fc") && !glob_match("fc", "fc2") && glob_match("*", ""));
	CHECK(glob_match("***", "a.b") && !glob_match("*", "a.b"));
	CHECK(!glob_match("?****************************************=head",
	                  "backbone.features.denseblock4.denselayer16.conv2"));
}

int main(void)
{
	if (getenv("srcdir"))
		srcdir = getenv("srcdir");
	if (!mkdtemp(tmpdir)) {
		printf("cannot make a temporary folder\n0 passed, 1 failed\n");
		return 1;
	}
	RUN(test_replace_infers_and_keeps);
	RUN(test_keep_overlap);
	RUN(test_errors);
	RUN(test_replace_all);
	RUN(test_insert_delete);
	RUN(test_set_and_break);
	RUN(test_undo_saves_identical);
	RUN(test_script_reproduces);
	RUN(test_head_two_heads);
	RUN(test_head_auxiliary);
	RUN(test_head_zoo);
	RUN(test_head_segmentation);
	RUN(test_show_diff);
	RUN(test_saved_bytes);
	RUN(test_define);
	RUN(test_sequential_arguments);
	RUN(test_unreached_module);
	RUN(test_glob);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", tmpdir);
	return CHECK_DONE();
}
