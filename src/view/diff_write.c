/* diff_write.c - a model diff as text or JSON (diff_write.h). */
#include "view/diff_write.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "core/text.h"
#include "view/json_write.h"

static const char *const change_names[DIFF_NCHANGES] = {"added", "removed", "type",
                                                        "attributes"};
static const char *const state_names[DIFF_T_NSTATES] = {"identical", "values", "shape",
                                                        "uncompared", "only_a", "only_b"};

void diff_module_line(const struct diff_module *dm, struct strbuf *out)
{
	char old[256] = "", new[256] = "";
	if (dm->a)
		registry_describe(dm->a, old, sizeof old);
	if (dm->b)
		registry_describe(dm->b, new, sizeof new);
	if (dm->change == DIFF_ADDED)
		strbuf_addf(out, "+ %s: %s", dm->path, new);
	else if (dm->change == DIFF_REMOVED)
		strbuf_addf(out, "- %s: %s", dm->path, old);
	else
		strbuf_addf(out, "~ %s: %s -> %s", dm->path, old, new);
}

/* Prints a line of text from a file with its control characters escaped. */
static void put_escaped(FILE *out, const char *line)
{
	struct strbuf sb = {0};
	text_escape_control(&sb, line);
	fprintf(out, "%s\n", sb.s ? sb.s : "");
	strbuf_free(&sb);
}

/* --- the summary ------------------------------------------------------- */

struct type_change {
	const char *from, *to;
	int n;
};

static int by_count(const void *x, const void *y)
{
	return ((const struct type_change *)y)->n - ((const struct type_change *)x)->n;
}

/* "BatchNorm2d -> GroupNorm: 20", most frequent first, up to the limit. */
static void write_type_changes(FILE *out, const struct model_diff *d, int limit)
{
	struct type_change *tc = xcalloc((size_t)d->nmodules + 1, sizeof *tc);
	int n = 0;
	for (int i = 0; i < d->nmodules; i++) {
		const struct diff_module *dm = &d->modules[i];
		if (dm->change != DIFF_TYPE)
			continue;
		int k = 0;
		while (k < n && (strcmp(tc[k].from, dm->a->type) || strcmp(tc[k].to, dm->b->type)))
			k++;
		if (k == n)
			tc[n++] = (struct type_change){dm->a->type, dm->b->type, 0};
		tc[k].n++;
	}
	qsort(tc, (size_t)n, sizeof *tc, by_count);
	for (int i = 0; i < n && (limit < 0 || i < limit); i++) {
		char line[600];
		snprintf(line, sizeof line, "  %s -> %s: %d", tc[i].from, tc[i].to, tc[i].n);
		put_escaped(out, line);
	}
	if (limit >= 0 && n > limit)
		fprintf(out, "  ... and %d more kinds\n", n - limit);
	free(tc);
}

static void write_summary(FILE *out, const struct model_diff *d, int limit)
{
	const int *c = d->nchanges, *s = d->nstates;
	if (d->nmodules)
		fprintf(out, "modules: %d changed type, %d changed attributes, %d added, %d removed\n",
		        c[DIFF_TYPE], c[DIFF_ATTRS], c[DIFF_ADDED], c[DIFF_REMOVED]);
	else
		fprintf(out, "modules: the same\n");
	write_type_changes(out, d, limit);
	fprintf(out,
	        "tensors: %d identical, %d changed values, %d changed shape, %d only in A, %d only "
	        "in B",
	        s[DIFF_T_SAME], s[DIFF_T_VALUES], s[DIFF_T_SHAPE], s[DIFF_T_ONLY_A], s[DIFF_T_ONLY_B]);
	if (s[DIFF_T_UNCOMPARED])
		fprintf(out, ", %d not compared (without values)", s[DIFF_T_UNCOMPARED]);
	fprintf(out, "\n");
	struct strbuf totals = {0};
	diff_totals(d, &totals);
	for (char *line = totals.s, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = 0;
		put_escaped(out, line);
	}
	strbuf_free(&totals);
}

void diff_totals(const struct model_diff *d, struct strbuf *out)
{
	const struct param_counts *a = &d->counts_a, *b = &d->counts_b;
	char x[32], y[32], z[32];
	strbuf_addf(out, "parameters: %s -> %s (%s%s)", fmt_count(a->params, x, sizeof x),
	            fmt_count(b->params, y, sizeof y), b->params >= a->params ? "+" : "",
	            fmt_count(b->params - a->params, z, sizeof z));
	strbuf_addf(out, ", trainable %s -> %s\n", fmt_count(a->trainable, x, sizeof x),
	            fmt_count(b->trainable, y, sizeof y));
	for (int i = 0; i < d->ninputs; i++) {
		char sa[160] = "(none)", sb[160] = "(none)";
		if (d->inputs[i].a)
			shape_format_x(d->inputs[i].a, sa, sizeof sa);
		if (d->inputs[i].b)
			shape_format_x(d->inputs[i].b, sb, sizeof sb);
		strbuf_addf(out, "input %s: %s -> %s\n", d->inputs[i].name, sa, sb);
	}
}

/* --- the details ------------------------------------------------------- */

static bool over_limit(FILE *out, int shown, int total, int limit)
{
	if (limit < 0 || shown < limit)
		return false;
	fprintf(out, "  ... and %d more (--all lists every one)\n", total - shown);
	return true;
}

static void write_modules(FILE *out, const struct model_diff *d, int limit)
{
	if (!d->nmodules)
		return;
	fprintf(out, "\nModules (%d):\n", d->nmodules);
	for (int i = 0; i < d->nmodules && !over_limit(out, i, d->nmodules, limit); i++) {
		struct strbuf sb = {0};
		diff_module_line(&d->modules[i], &sb);
		put_escaped(out, sb.s);
		strbuf_free(&sb);
	}
}

static void tensor_line(const struct diff_tensor *t, char *line, size_t size)
{
	char sa[160], sb[160], x[32], y[32];
	switch (t->state) {
	case DIFF_T_SHAPE:
		snprintf(line, size, "~ %s: %s -> %s", t->key, shape_format(&t->a->t.shape, sa, sizeof sa),
		         shape_format(&t->b->t.shape, sb, sizeof sb));
		break;
	case DIFF_T_VALUES: {
		int n = 0;
		if (t->a->t.dtype != t->b->t.dtype)
			n = snprintf(line, size, "~ %s: %s -> %s, ", t->key, dtype_name(t->a->t.dtype),
			             dtype_name(t->b->t.dtype));
		else
			n = snprintf(line, size, "~ %s: ", t->key);
		if (!tensor_data(&t->a->t) || !tensor_data(&t->b->t))
			snprintf(line + n, size - (size_t)n, "values not compared");
		else
			snprintf(line + n, size - (size_t)n, "max abs difference %.6g (%s of %s values)",
			         t->max_abs, fmt_count(t->nchanged, x, sizeof x),
			         fmt_count(shape_numel(&t->a->t.shape), y, sizeof y));
		break;
	}
	case DIFF_T_ONLY_A:
		snprintf(line, size, "- %s: only in A", t->key);
		break;
	case DIFF_T_ONLY_B:
		snprintf(line, size, "+ %s: only in B", t->key);
		break;
	default:
		snprintf(line, size, "  %s", t->key);
		break;
	}
}

static bool differs(const struct diff_tensor *t)
{
	return t->state != DIFF_T_SAME && t->state != DIFF_T_UNCOMPARED;
}

static void write_changed_tensors(FILE *out, const struct model_diff *d, int limit)
{
	/* those of added, removed or retyped modules only with --all: their
	 * module's line says it */
	bool all = limit < 0;
	int total = 0, shown = 0, of_changed_modules = 0;
	for (int i = 0; i < d->ntensors; i++) {
		total += differs(&d->tensors[i]) && (all || !d->tensors[i].module_changed);
		of_changed_modules += differs(&d->tensors[i]) && d->tensors[i].module_changed;
	}
	if (total)
		fprintf(out, "\nChanged tensors (%d):\n", total);
	for (int i = 0; i < d->ntensors; i++) {
		if (!differs(&d->tensors[i]) || (!all && d->tensors[i].module_changed))
			continue;
		if (over_limit(out, shown, total, limit))
			break;
		char line[4600];
		tensor_line(&d->tensors[i], line, sizeof line);
		put_escaped(out, line);
		shown++;
	}
	if (of_changed_modules && !all)
		fprintf(out,
		        "%s%d changed tensor%s of added, removed or retyped modules (--all lists "
		        "them)\n",
		        total ? "  and " : "\n", of_changed_modules, of_changed_modules == 1 ? "" : "s");
}

/* The identical tensors, named by the largest modules whose tensors are
 * all identical. count_same notes, per module of a in preorder, its
 * subtree's tensors and how many are identical; name_same then lists the
 * modules and lone tensors to name. */
struct same_name {
	const struct module *m; /* a module whose tensors are all identical, */
	const char *key;        /* or one identical tensor */
};

struct same_walk {
	const struct model_diff *d;
	int *ntensors, *nsame;
	int node, tensor; /* preorder position, index in d->tensors */
	struct same_name *names;
	int nnames;
};

static void count_same(struct same_walk *w, const struct module *m)
{
	int at = w->node++;
	w->ntensors[at] = m->nparams;
	for (int i = 0; i < m->nparams; i++)
		w->nsame[at] += w->d->tensors[w->tensor++].state == DIFF_T_SAME;
	for (int i = 0; i < m->nchildren; i++) {
		int child = w->node;
		count_same(w, m->children[i]);
		w->ntensors[at] += w->ntensors[child];
		w->nsame[at] += w->nsame[child];
	}
}

static void name_same(struct same_walk *w, const struct module *m)
{
	int at = w->node;
	if (w->ntensors[at] > 0 && w->nsame[at] == w->ntensors[at]) {
		w->names[w->nnames++] = (struct same_name){m, NULL};
		w->node += module_count_nodes(m);
		w->tensor += w->ntensors[at];
		return;
	}
	w->node++;
	for (int i = 0; i < m->nparams; i++, w->tensor++)
		if (w->d->tensors[w->tensor].state == DIFF_T_SAME)
			w->names[w->nnames++] = (struct same_name){NULL, w->d->tensors[w->tensor].key};
	for (int i = 0; i < m->nchildren; i++)
		name_same(w, m->children[i]);
}

static void write_identical(FILE *out, const struct model_diff *d, int limit)
{
	int same = d->nstates[DIFF_T_SAME];
	if (!same || !d->a->root)
		return;
	int nodes = module_count_nodes(d->a->root);
	struct same_walk w = {.d = d,
	                      .ntensors = xcalloc((size_t)nodes, sizeof(int)),
	                      .nsame = xcalloc((size_t)nodes, sizeof(int)),
	                      .names = xcalloc((size_t)same, sizeof *w.names)};
	count_same(&w, d->a->root);
	w.node = w.tensor = 0;
	name_same(&w, d->a->root);
	int col = fprintf(out, "\nIdentical tensors (%d):", same);
	if (w.nnames == 1 && w.names[0].m == d->a->root) {
		fprintf(out, " all of them\n");
	} else {
		for (int i = 0; i < w.nnames; i++) {
			if (limit >= 0 && i == limit) {
				fprintf(out, "\n  ... and %d more (--all lists every one)", w.nnames - i);
				break;
			}
			char path[4096], shown[4200];
			const char *name = w.names[i].m ? module_path_buf(w.names[i].m, path, sizeof path)
			                                : w.names[i].key;
			text_escape_buf(name, shown, sizeof shown);
			int len = (int)strlen(shown) + 2;
			if (col + len + 1 > 78) {
				fprintf(out, "%s\n  %s", i ? "," : "", shown);
				col = len;
			} else {
				fprintf(out, "%s %s", i ? "," : "", shown);
				col += len;
			}
		}
		fprintf(out, "\n");
	}
	free(w.ntensors);
	free(w.nsame);
	free(w.names);
}

/* --- JSON -------------------------------------------------------------- */

static void json_module_side(FILE *out, const char *side, const struct module *m)
{
	char d[256];
	fprintf(out, ",\"%s\":", side);
	if (!m) {
		fputs("null", out);
		return;
	}
	registry_describe(m, d, sizeof d);
	fputs("{\"type\":", out);
	json_write_string(out, m->type);
	fputs(",\"detail\":", out);
	json_write_string(out, d);
	fputc('}', out);
}

static void json_tensor_side(FILE *out, const char *side, const struct param *p)
{
	fprintf(out, ",\"%s\":", side);
	if (!p) {
		fputs("null", out);
		return;
	}
	fputs("{\"shape\":", out);
	json_write_shape(out, &p->t.shape);
	fprintf(out, ",\"dtype\":\"%s\",\"has_values\":%s}", dtype_name(p->t.dtype),
	        tensor_data(&p->t) ? "true" : "false");
}

static void json_shape(FILE *out, const struct shape *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	json_write_shape(out, s);
}

static void json_counts(FILE *out, const char *side, const struct param_counts *c)
{
	fprintf(out,
	        "\"%s\":{\"params\":%" PRId64 ",\"trainable\":%" PRId64 ",\"buffers\":%" PRId64
	        "}",
	        side, c->params, c->trainable, c->buffers);
}

static void write_json(FILE *out, const struct model_diff *d)
{
	fputs("{\"a\":", out);
	json_write_string(out, d->a->path ? d->a->path : d->a->name);
	fputs(",\"b\":", out);
	json_write_string(out, d->b->path ? d->b->path : d->b->name);
	fprintf(out, ",\"same\":%s,\"counts\":{\"modules\":{", model_diff_same(d) ? "true" : "false");
	for (int i = 0; i < DIFF_NCHANGES; i++)
		fprintf(out, "%s\"%s\":%d", i ? "," : "", change_names[i], d->nchanges[i]);
	fputs("},\"tensors\":{", out);
	for (int i = 0; i < DIFF_T_NSTATES; i++)
		fprintf(out, "%s\"%s\":%d", i ? "," : "", state_names[i], d->nstates[i]);
	fputs("}},\"totals\":{", out);
	json_counts(out, "a", &d->counts_a);
	fputc(',', out);
	json_counts(out, "b", &d->counts_b);
	fputs("},\"inputs\":[", out);
	for (int i = 0; i < d->ninputs; i++) {
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_write_string(out, d->inputs[i].name);
		fputs(",\"a\":", out);
		json_shape(out, d->inputs[i].a);
		fputs(",\"b\":", out);
		json_shape(out, d->inputs[i].b);
		fputc('}', out);
	}
	fputs("],\"modules\":[", out);
	for (int i = 0; i < d->nmodules; i++) {
		const struct diff_module *dm = &d->modules[i];
		fprintf(out, "%s\n  {\"path\":", i ? "," : "");
		json_write_string(out, dm->path);
		fprintf(out, ",\"change\":\"%s\"", change_names[dm->change]);
		json_module_side(out, "a", dm->a);
		json_module_side(out, "b", dm->b);
		fputc('}', out);
	}
	fputs("],\"tensors\":[", out);
	for (int i = 0; i < d->ntensors; i++) {
		const struct diff_tensor *t = &d->tensors[i];
		fprintf(out, "%s\n  {\"key\":", i ? "," : "");
		json_write_string(out, t->key);
		fprintf(out, ",\"state\":\"%s\"", state_names[t->state]);
		json_tensor_side(out, "a", t->a);
		json_tensor_side(out, "b", t->b);
		if (t->state == DIFF_T_VALUES && tensor_data(&t->a->t) && tensor_data(&t->b->t)) {
			/* JSON has no infinity: a NaN against a number is null */
			if (isfinite(t->max_abs))
				fprintf(out, ",\"max_abs\":%.9g", t->max_abs);
			else
				fputs(",\"max_abs\":null", out);
			fprintf(out, ",\"changed\":%" PRId64, t->nchanged);
		}
		fprintf(out, ",\"module_changed\":%s}", t->module_changed ? "true" : "false");
	}
	fputs("\n]}\n", out);
}

void diff_write(FILE *out, const struct model_diff *d, const struct diff_write_opts *o)
{
	if (o->json) {
		write_json(out, d);
		return;
	}
	char a[4200], b[4200];
	fprintf(out, "A: %s\nB: %s\n", text_escape_buf(d->a->path ? d->a->path : d->a->name, a, sizeof a),
	        text_escape_buf(d->b->path ? d->b->path : d->b->name, b, sizeof b));
	write_summary(out, d, o->limit);
	write_modules(out, d, o->limit);
	write_changed_tensors(out, d, o->limit);
	write_identical(out, d, o->limit);
}
