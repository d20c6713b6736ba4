/* test_outline.c - the outline's view-model: rows, expansion, cursor kept
 * across edits, change marks, search, marks, sorting, text, and a tree of
 * 100,000 modules. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "edit/edit.h"
#include "io/format.h"
#include "view/outline.h"
#include "core/registry.h"

static const char *srcdir = ".";

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
	return true;
}

static void run(struct editor *ed, struct outline *o, const char *cmd)
{
	struct strbuf out = {0};
	struct error e = {0};
	if (editor_run(ed, cmd, &out, &e) < 0) {
		printf("  '%s' failed: %s\n", cmd, e.msg);
		CHECK(0);
	}
	strbuf_free(&out);
	outline_build(o, ed->model, ed->original, &ed->check);
}

static const char *cur(const struct outline *o)
{
	return outline_path(o, outline_current(o));
}

static const struct outline_node *node(const struct outline *o, const char *path)
{
	int n = outline_find(o, path);
	return n >= 0 ? &o->nodes[n] : NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_sets(void)
{
	struct outline_set s = {0};
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "layer%d.conv", i);
		outline_set_add(&s, key);
	}
	outline_set_add(&s, "layer7.conv");
	CHECK(s.n == 1000);
	for (int i = 0; i < 1000; i += 2) {
		snprintf(key, sizeof key, "layer%d.conv", i);
		outline_set_del(&s, key);
	}
	CHECK(s.n == 500);
	CHECK(!outline_set_has(&s, "layer2.conv"));
	CHECK(outline_set_has(&s, "layer3.conv"));
	outline_set_add(&s, "layer2.conv");
	CHECK(outline_set_has(&s, "layer2.conv"));
	outline_set_clear(&s);
	CHECK(!outline_set_has(&s, "layer3.conv"));
}

static void test_rows_and_expansion(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	struct outline o;
	outline_init(&o);
	outline_build(&o, ed.model, ed.original, &ed.check);
	CHECK(o.nreal == module_count_nodes(ed.model->root));
	CHECK(o.nnodes == o.nreal);
	/* depth 1: the model and its 10 children */
	CHECK(o.nrows == 11);
	CHECK_STR(outline_path(&o, o.rows[10].node), "fc");
	CHECK(o.rows[10].last && !o.rows[9].last);
	CHECK(o.rows[0].open);
	CHECK(outline_fit_depth(&o, 19) == 2);
	CHECK(outline_fit_depth(&o, 18) == 1);
	outline_set_height(&o, 10);

	/* layer1: expand with l, into its first child, collapse with h */
	CHECK(outline_goto(&o, "layer1"));
	CHECK_STR(cur(&o), "layer1");
	outline_right(&o);
	CHECK(o.nrows == 13);
	outline_right(&o);
	CHECK_STR(cur(&o), "layer1.0");
	outline_left(&o);
	CHECK_STR(cur(&o), "layer1");
	outline_left(&o);
	CHECK(o.nrows == 11);
	outline_toggle(&o);
	CHECK(o.nrows == 13);

	/* guides: layer1.0 is under layer1, which is not last */
	outline_set_depth(&o, INT_MAX);
	CHECK(o.nrows == o.nreal);
	CHECK(outline_goto(&o, "layer1.0.conv1"));
	bool cont[8] = {0};
	CHECK(outline_row_guides(&o, o.cursor, cont, 8) == 3);
	CHECK(cont[1] && cont[2]);
	CHECK(outline_goto(&o, "fc"));
	CHECK(o.cursor == o.nrows - 1);
	CHECK(o.top == o.nrows - 10);

	/* depth 0: the model alone; the cursor goes to the nearest ancestor */
	CHECK(outline_goto(&o, "layer2.1.bn2"));
	outline_set_depth(&o, 0);
	CHECK(o.nrows == 1 && o.cursor == 0);
	outline_set_depth(&o, 2);
	CHECK(o.nrows == 19);

	/* moving and paging stay inside the rows */
	outline_go(&o, 0);
	outline_move(&o, -5);
	CHECK(o.cursor == 0);
	outline_page(&o, 1);
	CHECK(o.cursor == 9 && o.top == 9);
	outline_page(&o, 5);
	CHECK(o.cursor == 18 && o.top == 9);
	outline_free(&o);
	editor_free(&ed);
}

static void test_text(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	struct outline o;
	outline_init(&o);
	outline_build(&o, ed.model, ed.original, &ed.check);
	char buf[256];
	outline_node_type(node(&o, "conv1"), buf, sizeof buf);
	CHECK_STR(buf, "Conv2d 3→64 k7 s2 p3 no bias");
	outline_node_shape(&o, node(&o, "layer1.0.conv1"), buf, sizeof buf);
	CHECK_STR(buf, "1x64x56x56");
	outline_node_shape(&o, node(&o, ""), buf, sizeof buf);
	CHECK_STR(buf, "1x1000");
	/* the activation (ReLU) of a block is called twice */
	outline_node_shape(&o, node(&o, "layer1.0.relu"), buf, sizeof buf);
	CHECK_STR(buf, "1x64x56x56 ×2");
	CHECK(node(&o, "")->params == 11689512);
	CHECK(node(&o, "fc")->params == 513000);
	CHECK(o.total[OUTLINE_PARAMS] == 11689512);
	CHECK(o.total[OUTLINE_MACS] == ed.check.macs);
	double s = outline_share(&o, node(&o, "fc"));
	CHECK(s > 0.0438 && s < 0.0439);
	CHECK(node(&o, "")->memory > node(&o, "layer1")->memory);
	outline_free(&o);
	editor_free(&ed);
}

/* The number of rows marked `change`, and the original path of the last. */
static int marked(const struct outline *o, enum outline_change change, char *path, size_t size)
{
	int n = 0;
	for (int i = 0; i < o->nnodes; i++)
		if (o->nodes[i].change == change) {
			n++;
			module_path_buf(o->nodes[i].orig ? o->nodes[i].orig : o->nodes[i].m, path,
					size);
		}
	return n;
}

/* Modules moved or renamed by an edit are the same modules: wrap and
 * extract mark only what is new, a delete only what went. */
static void test_moved_modules(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	struct outline o;
	outline_init(&o);
	char path[256];
	run(&ed, &o, "delete layer1.0");
	CHECK(marked(&o, OUTLINE_REMOVED, path, sizeof path) == 1);
	CHECK_STR(path, "layer1.0");
	CHECK(marked(&o, OUTLINE_NEW, path, sizeof path) == 0);
	CHECK(node(&o, "layer1.0")->change == OUTLINE_SAME);
	run(&ed, &o, "undo");
	run(&ed, &o, "wrap backbone");
	CHECK(marked(&o, OUTLINE_REMOVED, path, sizeof path) == 0);
	CHECK(marked(&o, OUTLINE_NEW, path, sizeof path) == 1);
	CHECK_STR(path, "backbone");
	CHECK(node(&o, "backbone.layer1.0.conv1")->change == OUTLINE_SAME);
	run(&ed, &o, "undo");
	run(&ed, &o, "extract layer4");
	CHECK(marked(&o, OUTLINE_NEW, path, sizeof path) == 0);
	CHECK(node(&o, "0.conv1")->change == OUTLINE_SAME);
	outline_free(&o);
	editor_free(&ed);
}

/* A tied weight counts once, in every module holding it up to the one that
 * holds its first name (tied_projection: unproject.weight is
 * project.weight; aliased_module: shared is proj). */
static void test_tied_counts(void)
{
	struct editor ed;
	if (!open_editor(&ed, "tests/data/user/tied_projection.safetensors"))
		return;
	struct outline o;
	outline_init(&o);
	outline_build(&o, ed.model, ed.original, &ed.check);
	CHECK(node(&o, "")->params == 312);
	CHECK(node(&o, "unproject")->params == 156);
	CHECK(node(&o, "project")->params == 144);
	CHECK(o.total[OUTLINE_PARAMS] == 312);
	run(&ed, &o, "replace unproject Linear in_features=12 out_features=6");
	CHECK(node(&o, "")->params == 144 + 156 + 78);
	outline_free(&o);
	editor_free(&ed);
	if (!open_editor(&ed, "tests/data/user/aliased_module.safetensors"))
		return;
	outline_init(&o);
	outline_build(&o, ed.model, ed.original, &ed.check);
	CHECK(node(&o, "")->params == 195);
	CHECK(node(&o, "shared")->params == 156);
	outline_free(&o);
	editor_free(&ed);
}

static void test_changes_and_cursor(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	struct outline o;
	outline_init(&o);
	outline_build(&o, ed.model, ed.original, &ed.check);
	outline_set_height(&o, 10);
	CHECK(outline_goto(&o, "fc"));
	CHECK(node(&o, "fc")->change == OUTLINE_SAME);

	/* same type, other attributes */
	run(&ed, &o, "replace fc Linear out_features=10");
	CHECK_STR(cur(&o), "fc");
	CHECK(node(&o, "fc")->change == OUTLINE_MODIFIED);
	CHECK(node(&o, "")->changed_below);
	CHECK(!node(&o, "layer1")->changed_below);

	/* another type, with new children */
	run(&ed, &o, "replace fc Sequential(Dropout(0.2), Linear(512, 10))");
	CHECK_STR(cur(&o), "fc");
	CHECK(node(&o, "fc")->change == OUTLINE_REPLACED);
	CHECK(node(&o, "fc.1")->change == OUTLINE_NEW);
	CHECK(node(&o, "fc.0")->change == OUTLINE_NEW);

	/* undo swaps the whole tree: the cursor stays on the path */
	run(&ed, &o, "undo");
	run(&ed, &o, "undo");
	CHECK_STR(cur(&o), "fc");
	CHECK(node(&o, "fc")->change == OUTLINE_SAME);
	CHECK(!node(&o, "")->changed_below);

	/* a module removed from a Sequential is a ghost row, last */
	run(&ed, &o, "replace layer1 Sequential(Identity(), Identity(), Identity())");
	run(&ed, &o, "undo");
	CHECK(outline_goto(&o, "layer1.1"));
	run(&ed, &o, "delete layer1.1");
	const struct outline_node *g = node(&o, "layer1.1");
	CHECK(g && g->change == OUTLINE_REMOVED);
	CHECK(g && g->parent == outline_find(&o, "layer1"));
	CHECK(g && o.nodes[g->parent].last_child == g - o.nodes);
	/* the cursor was on the module removed: it stays on its path (ghost) */
	CHECK_STR(cur(&o), "layer1.1");

	/* a break: the failing module, what follows is unknown */
	run(&ed, &o, "set layer2.0.conv1 out_channels=100");
	CHECK(!ed.check.ok);
	CHECK(node(&o, "layer2.0.bn1")->broken);
	CHECK(node(&o, "layer2.0")->broken_below);
	CHECK(node(&o, "layer2")->broken_below);
	CHECK(node(&o, "layer2.0.conv1")->change == OUTLINE_MODIFIED);
	char buf[64];
	outline_node_shape(&o, node(&o, "layer3.0.conv1"), buf, sizeof buf);
	CHECK_STR(buf, "?");
	outline_node_shape(&o, node(&o, "layer2.0.conv1"), buf, sizeof buf);
	CHECK_STR(buf, "1x100x28x28");
	CHECK(outline_share(&o, node(&o, "layer1")) > 0);
	outline_set_metric(&o, OUTLINE_MACS);
	CHECK(outline_share(&o, node(&o, "layer1")) < 0);
	outline_free(&o);
	editor_free(&ed);
}

/* Sets the search and looks from the cursor on. */
static bool search(struct outline *o, const char *pattern)
{
	struct error e = {0};
	return outline_set_search(o, pattern, &e) == 0 && outline_search(o, 1, true);
}

static void test_search_marks_sort(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	struct outline o;
	outline_init(&o);
	outline_build(&o, ed.model, ed.original, &ed.check);
	outline_set_height(&o, 10);

	/* search reveals what it finds */
	CHECK(search(&o, "conv2"));
	CHECK_STR(cur(&o), "layer1.0.conv2");
	CHECK(outline_search(&o, 1, false));
	CHECK_STR(cur(&o), "layer1.1.conv2");
	CHECK(outline_search(&o, -1, false));
	CHECK_STR(cur(&o), "layer1.0.conv2");
	CHECK(outline_search(&o, -1, false)); /* wraps */
	CHECK_STR(cur(&o), "layer4.1.conv2");
	CHECK(outline_matches(&o, outline_current(&o)));
	/* types, case folding, paths */
	CHECK(search(&o, "Linear"));
	CHECK_STR(cur(&o), "fc");
	CHECK(outline_goto(&o, "conv1"));
	CHECK(search(&o, "linear")); /* a whole type in any case */
	CHECK_STR(cur(&o), "fc");
	CHECK(search(&o, "batchnorm2d"));
	CHECK_STR(cur(&o), "bn1");
	CHECK(!search(&o, "linea")); /* a part of a type: as written */
	CHECK(!search(&o, "Linearx"));
	CHECK(!search(&o, "LAYER4")); /* a capital: case-sensitive */
	CHECK(search(&o, "LAYER") == false);
	CHECK(search(&o, "MaxPool"));
	CHECK_STR(cur(&o), "maxpool");
	CHECK(search(&o, "maxp"));
	CHECK(search(&o, "3.1.b"));
	CHECK_STR(cur(&o), "layer3.1.bn1");
	/* the selectors find takes: attribute filters, path globs */
	CHECK(outline_goto(&o, "conv1"));
	CHECK(search(&o, "Conv2d[kernel_size=1]"));
	CHECK_STR(cur(&o), "layer2.0.downsample.0");
	CHECK(outline_search(&o, 1, false));
	CHECK_STR(cur(&o), "layer3.0.downsample.0");
	CHECK(outline_matches(&o, outline_current(&o)));
	CHECK(!outline_matches(&o, 1)); /* conv1: kernel 7 */
	CHECK(search(&o, "layer4.*.relu"));
	CHECK_STR(cur(&o), "layer4.0.relu");
	CHECK(search(&o, "**.bn2"));
	CHECK_STR(cur(&o), "layer4.0.bn2"); /* from the cursor on */
	CHECK(!search(&o, "Conv2d[stride=5]"));
	struct error e = {0};
	CHECK(outline_set_search(&o, "Conv2d[kernel_size", &e) < 0);
	CHECK(strstr(e.msg, "selector") != NULL);
	CHECK(!o.pattern && !outline_search(&o, 1, true));

	/* marks by path, in tree order, across an edit */
	CHECK(outline_goto(&o, "fc"));
	outline_toggle_mark(&o);
	CHECK(outline_goto(&o, "conv1"));
	outline_toggle_mark(&o);
	run(&ed, &o, "replace fc Linear out_features=10");
	const char **paths;
	int n = outline_marked(&o, &paths);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(paths[0], "conv1");
		CHECK_STR(paths[1], "fc");
	}
	free(paths);
	outline_toggle_mark(&o);
	CHECK(o.marked.n == 1);
	outline_clear_marks(&o);
	CHECK(outline_marked(&o, &paths) == 0);

	/* siblings by parameters, largest first; removed rows stay last */
	outline_set_depth(&o, 1);
	outline_set_sorted(&o, true);
	CHECK_STR(outline_path(&o, o.rows[1].node), "layer4");
	CHECK_STR(outline_path(&o, o.rows[2].node), "layer3");
	CHECK(o.rows[o.nrows - 1].last);
	outline_set_metric(&o, OUTLINE_MACS);
	CHECK_STR(outline_path(&o, o.rows[1].node), "layer1");
	outline_set_sorted(&o, false);
	CHECK_STR(outline_path(&o, o.rows[1].node), "conv1");
	outline_free(&o);
	editor_free(&ed);
}

/* A model of 1 + 1,000 + 100,000 modules: Sequential blocks of Linear and
 * ReLU layers. */
static struct model *big_model(void)
{
	struct model *m = model_new("big");
	struct shape s = {.ndim = 2, .dim = {1, 8}};
	model_add_input(m, "x", &s, DT_F32);
	m->root = module_new("", "Sequential");
	m->has_forward = true;
	struct error e = {0};
	for (int b = 0; b < 1000; b++) {
		char name[16];
		snprintf(name, sizeof name, "%d", b);
		struct module *blk = module_new(name, "Sequential");
		for (int i = 0; i < 100; i++) {
			snprintf(name, sizeof name, "%d", i);
			struct module *l = module_new(name, i % 2 ? "ReLU" : "Linear");
			if (i % 2 == 0) {
				struct value v = value_int(8);
				module_set_attr(l, "in_features", &v);
				module_set_attr(l, "out_features", &v);
			}
			if (registry_prepare(l, &e) < 0)
				printf("  %s\n", e.msg);
			module_add_child(blk, l);
		}
		module_add_child(m->root, blk);
	}
	return m;
}

/* The row of the function node `ref` (OWNER:NODE), or -1. */
static int function_row(const struct outline *o, const char *ref)
{
	char buf[256];
	for (int r = 0; r < o->nrows; r++) {
		outline_row_ref(o, r, buf, sizeof buf);
		if (o->rows[r].fn >= 0 && strcmp(buf, ref) == 0)
			return r;
	}
	return -1;
}

static void test_function_rows(void)
{
	struct editor ed;
	if (!open_editor(&ed, "models/resnet18.json"))
		return;
	struct outline o;
	outline_init(&o);
	outline_build(&o, ed.model, ed.original, &ed.check);
	CHECK(o.nrows == 11);
	CHECK(function_row(&o, ":flatten") < 0);

	/* on: the root's flatten after its modules, last */
	outline_set_functions(&o, true);
	CHECK(o.nrows == 12);
	CHECK_STR(outline_path(&o, o.rows[10].node), "fc");
	CHECK(!o.rows[10].last && o.rows[11].last);
	CHECK(function_row(&o, ":flatten") == 11);
	CHECK(outline_row_function(&o, 10) == NULL);
	char buf[256];
	outline_function_type(outline_row_function(&o, 11), buf, sizeof buf);
	CHECK_STR(buf, "flatten");
	outline_function_shape(&o, 11, buf, sizeof buf);
	CHECK_STR(buf, "1x512");
	bool cont[8];
	CHECK(outline_row_guides(&o, 11, cont, 8) == 1);

	/* a block's add after its modules, at their depth, with its shape */
	CHECK(outline_goto(&o, "layer1.0.conv1"));
	int add = function_row(&o, "layer1.0:add");
	CHECK(add > 0);
	CHECK_STR(outline_path(&o, o.rows[add - 1].node), "layer1.0.bn2");
	CHECK(o.rows[add].last && !o.rows[add - 1].last);
	CHECK(outline_row_guides(&o, add, cont, 8) == 3);
	outline_function_shape(&o, add, buf, sizeof buf);
	CHECK_STR(buf, "1x64x56x56");
	CHECK(!outline_row_function_broken(&o, add));
	outline_row_ref(&o, add - 1, buf, sizeof buf);
	CHECK_STR(buf, "layer1.0.bn2");

	/* on a node row: an edit elsewhere keeps the cursor there; no marks;
	 * left goes to its module */
	outline_go(&o, add);
	run(&ed, &o, "replace fc Linear out_features=10");
	CHECK(o.cursor == add);
	outline_toggle_mark(&o);
	CHECK(o.marked.n == 0);
	outline_left(&o);
	CHECK_STR(cur(&o), "layer1.0");
	CHECK(outline_row_function(&o, o.cursor) == NULL);
	CHECK(function_row(&o, "layer1.0:add") == add);

	/* the cursor stays on a node row when toggling, goes to its owner when
	 * the rows go */
	outline_go(&o, add);
	int shown = o.nrows;
	outline_set_functions(&o, true);
	CHECK(o.cursor == add);
	outline_set_functions(&o, false);
	CHECK(o.nrows == shown - 2); /* :flatten and layer1.0:add */
	CHECK(function_row(&o, "layer1.0:add") < 0);
	CHECK_STR(cur(&o), "layer1.0");

	/* a break at the add: marked, and shown with the cursor on it */
	outline_set_functions(&o, true);
	run(&ed, &o, "replace layer1.0.conv2 Conv2d out_channels=32");
	run(&ed, &o, "replace layer1.0.bn2 BatchNorm2d");
	outline_set_depth(&o, 1);
	outline_go(&o, 0);
	outline_show_break(&o);
	outline_row_ref(&o, o.cursor, buf, sizeof buf);
	CHECK_STR(buf, "layer1.0:add");
	CHECK(outline_row_function_broken(&o, o.cursor));
	outline_function_shape(&o, o.cursor, buf, sizeof buf);
	CHECK_STR(buf, "");
	/* ...and, rows hidden, the break opens down to the block as before */
	outline_set_functions(&o, false);
	outline_set_depth(&o, 1);
	outline_go(&o, 0);
	outline_show_break(&o);
	CHECK(o.cursor == 0);
	CHECK(outline_row_of(&o, outline_find(&o, "layer1.0")) > 0);
	outline_free(&o);
	editor_free(&ed);
}

static void test_100k_modules(void)
{
	double t0 = now();
	struct editor ed;
	editor_init(&ed, big_model());
	CHECK(ed.check.ok);
	double t1 = now();
	struct outline o;
	outline_init(&o);
	outline_build(&o, ed.model, ed.original, &ed.check);
	outline_set_height(&o, 30);
	CHECK(o.nreal == 101001);
	CHECK(o.nrows == 1001);
	double t2 = now();
	/* everything open, to the end and back, search, an edit */
	outline_set_depth(&o, INT_MAX);
	CHECK(o.nrows == 101001);
	outline_go(&o, o.nrows - 1);
	CHECK_STR(cur(&o), "999.99");
	outline_go(&o, 0);
	CHECK(search(&o, "998.42"));
	CHECK_STR(cur(&o), "998.42");
	outline_set_depth(&o, 1);
	CHECK_STR(cur(&o), "998");
	double t3 = now();
	run(&ed, &o, "replace 500.0 Linear out_features=8");
	CHECK(node(&o, "500.0")->change == OUTLINE_SAME);
	run(&ed, &o, "set 500.0 bias=False");
	CHECK(node(&o, "500.0")->change == OUTLINE_MODIFIED);
	CHECK_STR(cur(&o), "998");
	double t4 = now();
	printf("  100k modules: open %.3fs, outline %.3fs, browse %.3fs, two edits %.3fs\n",
	       t1 - t0, t2 - t1, t3 - t2, t4 - t3);
	/* generous bounds (sanitizer builds are slow): the outline's own work
	 * must stay well under the editor's */
	CHECK(t2 - t1 < 2.0);
	CHECK(t3 - t2 < 2.0);
	outline_free(&o);
	editor_free(&ed);
}

int main(void)
{
	const char *s = getenv("srcdir");
	if (s)
		srcdir = s;
	RUN(test_sets);
	RUN(test_rows_and_expansion);
	RUN(test_text);
	RUN(test_changes_and_cursor);
	RUN(test_moved_modules);
	RUN(test_tied_counts);
	RUN(test_search_marks_sort);
	RUN(test_function_rows);
	RUN(test_100k_modules);
	return CHECK_DONE();
}
