/* tui_drift.c - how far the edit has moved the model's numbers: the model
 * as opened and as edited run on one random input (seed 0, as for the
 * activations) through exec_compare; the status line gets the outputs'
 * drift and the details each module's. A model without weights runs both
 * ways with PyTorch's default initialisation. The run belongs to the edit
 * it was made on: any change drops it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "exec/exec_compare.h"
#include "tui.h"

struct tui_drift {
	struct model *init_opened, *init_edited; /* initialised clones, when without weights */
	struct compare_result r;
	unsigned gen; /* the outline generation it was run on */
};

void tui_drift_free(struct tui *t)
{
	struct tui_drift *d = t->drift;
	if (!d)
		return;
	compare_result_free(&d->r);
	model_free(d->init_opened);
	model_free(d->init_edited);
	free(d);
	t->drift = NULL;
}

/* m, or an initialised clone of it (kept in *init) when it has no weights. */
static struct model *runnable(struct model *m, struct model **init, struct error *e)
{
	if (m->has_weights)
		return m;
	*init = exec_init_model(m, 0, e);
	return *init;
}

int tui_drift_run(struct tui *t, char *summary, size_t size, struct error *e)
{
	tui_drift_free(t);
	if (!t->ed->check.ok)
		return error_set(e, "the shapes do not check: fix them first");
	struct tui_drift *d = xcalloc(1, sizeof *d);
	struct model *edited = t->ed->model;
	struct model *a = runnable(t->ed->original, &d->init_opened, e);
	struct model *b = a ? runnable(edited, &d->init_edited, e) : NULL;
	struct tensor *in = b ? tui_random_inputs(edited, e) : NULL;
	int rc = in ? exec_compare(a, b, in, edited->ninputs, &d->r, e) : -1;
	tui_random_inputs_free(in, edited->ninputs);
	d->gen = t->gen;
	t->drift = d;
	if (rc < 0) {
		tui_drift_free(t);
		return -1;
	}
	const struct compare_output *o = d->r.noutputs ? &d->r.outputs[0] : NULL;
	if (o && o->compared)
		snprintf(summary, size,
		         "drift from the model as opened: output max abs %.4g, cosine %.6f, top-1 "
		         "%.0f%%; the details show each module's",
		         o->drift.max_abs, o->drift.cosine,
		         o->rows ? 100.0 * (double)o->top1_agree / (double)o->rows : 100.0);
	else
		snprintf(summary, size,
		         "drift from the model as opened: the output's shape changed; the details "
		         "show each module's");
	return 0;
}

void tui_drift_add(struct tui *t, const struct module *m, const char *path)
{
	struct tui_drift *d = t->drift;
	if (!d)
		return;
	if (d->gen != t->gen) {
		/* the model changed since: the drift is of another edit */
		tui_drift_free(t);
		return;
	}
	const struct module *rm = d->init_edited ? module_find(d->init_edited->root, path) : m;
	tui_text_add(&t->detail, ROLE_SECTION, "Drift from the model as opened (random input)");
	bool any = false;
	for (int i = 0; rm && i < d->r.nmodules; i++) {
		const struct compare_module *cm = &d->r.modules[i];
		if (cm->b != rm)
			continue;
		char shape[160], which[48] = "";
		shape_format_x(&cm->shape, shape, sizeof shape);
		if (m->ncalls > 1 || cm->output > 0)
			snprintf(which, sizeof which, "call %d [%d]: ", cm->call + 1, cm->output);
		tui_text_add(&t->detail, cm->drift.max_abs > 0 ? ROLE_REPLACED : ROLE_NORMAL,
		             "  %s%-14s max abs %.4g  cosine %.6f", which, shape, cm->drift.max_abs,
		             cm->drift.cosine);
		any = true;
	}
	if (!any)
		tui_text_add(&t->detail, ROLE_DIM, "  %s",
		             "not compared: the model as opened has no output of this path and shape");
}
