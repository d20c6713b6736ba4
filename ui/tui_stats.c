/* tui_stats.c - activation statistics for the details pane: one forward of
 * the numeric engine (exec.h) on a random input (seed 0), keeping every
 * module's output statistics. A model without weights runs with PyTorch's
 * default initialisation, as `graft run` does. The run belongs to the model
 * it was made on: any change drops it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "tui.h"

struct tui_stats {
	struct model *init; /* an initialised clone when the model has no weights */
	struct exec_plan *plan;
	unsigned gen; /* the outline generation it was run on */
};

void tui_stats_free(struct tui *t)
{
	struct tui_stats *s = t->stats;
	if (!s)
		return;
	exec_plan_free(s->plan);
	model_free(s->init);
	free(s);
	t->stats = NULL;
}

struct tensor *tui_random_inputs(const struct model *m, struct error *e)
{
	int n = m->ninputs;
	struct tensor *in = xcalloc((size_t)(n ? n : 1), sizeof *in);
	for (int i = 0; i < n; i++)
		if (exec_random_input(m, i, &m->inputs[i].shape, (uint64_t)i, &in[i], e) < 0) {
			tui_random_inputs_free(in, n);
			return NULL;
		}
	return in;
}

void tui_random_inputs_free(struct tensor *in, int n)
{
	for (int i = 0; in && i < n; i++)
		tensor_release(&in[i]);
	free(in);
}

int tui_stats_run(struct tui *t, struct error *e)
{
	tui_stats_free(t);
	struct model *m = t->ed->model;
	if (!t->ed->check.ok)
		return error_set(e, "the shapes do not check: fix them first");
	struct tui_stats *s = xcalloc(1, sizeof *s);
	struct model *run = m;
	if (!m->has_weights) {
		s->init = exec_init_model(m, 0, e);
		if (!s->init) {
			free(s);
			return -1;
		}
		run = s->init;
	}
	int n = m->ninputs;
	struct tensor *in = tui_random_inputs(m, e);
	struct shape *shapes = xcalloc((size_t)(n ? n : 1), sizeof *shapes);
	int rc = in ? 0 : -1;
	for (int i = 0; i < n && in; i++)
		shapes[i] = in[i].shape;
	struct exec_opts opts = {.stats = true};
	if (rc == 0)
		s->plan = exec_plan_new(run, shapes, &opts, e);
	rc = -1;
	if (s->plan) {
		struct value out = value_none();
		rc = exec_run(s->plan, in, n, &out, e);
		value_free(&out);
	}
	tui_random_inputs_free(in, n);
	free(shapes);
	s->gen = t->gen;
	t->stats = s;
	if (rc < 0) {
		tui_stats_free(t);
		return -1;
	}
	return 0;
}

void tui_stats_add(struct tui *t, const struct module *m, const char *path, int width)
{
	struct tui_stats *s = t->stats;
	if (!s)
		return;
	if (s->gen != t->gen) {
		/* the model changed since: the statistics are of another model */
		tui_stats_free(t);
		return;
	}
	const struct module *rm = s->init ? module_find(s->init->root, path) : m;
	if (!rm)
		return;
	tui_text_add(&t->detail, ROLE_SECTION, "Activations (random input, seed 0%s)",
	             s->init ? ", default initialisation" : "");
	bool any = false;
	for (int call = 0; call < m->ncalls; call++) {
		int k;
		const struct exec_stat *st = exec_module_stats(s->plan, rm, call, &k);
		for (int i = 0; st && i < k; i++) {
			char shape[160], line[400];
			shape_format_x(&st[i].shape, shape, sizeof shape);
			char which[32] = "";
			if (m->ncalls > 1)
				snprintf(which, sizeof which, "call %d: ", call + 1);
			int len = snprintf(
			    line, sizeof line, "  %s%-14s mean %.4g  std %.4g  min %.4g  max %.4g",
			    which, shape, st[i].mean, st[i].std, st[i].min, st[i].max);
			if (st[i].nan || st[i].inf)
				snprintf(line + len, sizeof line - (size_t)len,
				         "  %lld NaN, %lld inf", (long long)st[i].nan,
				         (long long)st[i].inf);
			tui_text_add(&t->detail, st[i].nan || st[i].inf ? ROLE_ERROR : ROLE_NORMAL,
			             "%s", line);
			any = true;
		}
	}
	if (!any)
		tui_text_add(&t->detail, ROLE_DIM, "  %s", "no output recorded for this module");
	(void)width;
}
