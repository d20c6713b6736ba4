/* inspect.c - the editor's read-only views: show, find and diff. */
#include "edit/inspect.h"

#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "edit/edit_ops.h"
#include "view/diff_write.h"

void inspect_show(const struct editor *ed, const struct module *m, struct strbuf *out)
{
	char path[4096], d[256], buf[64];
	module_path_buf(m, path, sizeof path);
	registry_describe(m, d, sizeof d);
	strbuf_addf(out, "%s: %s\n", path[0] ? path : "(root)", d);
	if (m->nattrs) {
		strbuf_add(out, "  ");
		for (int i = 0; i < m->nattrs; i++) {
			char v[256];
			value_format(&m->attrs[i].value, v, sizeof v);
			strbuf_addf(out, "%s%s=%s", i ? ", " : "", m->attrs[i].name, v);
		}
		strbuf_add(out, "\n");
	}
	for (int i = 0; i < m->nparams; i++) {
		const struct param *p = &m->params[i];
		char s[160];
		strbuf_addf(out, "  %-24s %-20s %-8s %12s  %s%s\n", p->name,
			    shape_format(&p->t.shape, s, sizeof s), dtype_name(p->t.dtype),
			    fmt_count(shape_numel(&p->t.shape), buf, sizeof buf),
			    p->buffer ? "buffer" : p->trainable ? "trainable" : "frozen",
			    p->t.storage ? "" : " (no values)");
	}
	struct param_counts pc;
	module_count(m, &pc);
	strbuf_addf(out, "  parameters: %s", fmt_count(pc.params, buf, sizeof buf));
	strbuf_addf(out, " (trainable %s)", fmt_count(pc.trainable, buf, sizeof buf));
	if (m->nchildren)
		strbuf_addf(out, ", %d children", m->nchildren);
	strbuf_add(out, "\n");
	for (int i = 0; i < m->ncalls; i++) {
		strbuf_addf(out, "  call %d: ", i + 1);
		value_format_shapes(&m->calls[i].in, shape_format, out);
		strbuf_add(out, " -> ");
		value_format_shapes(&m->calls[i].out, shape_format, out);
		strbuf_addf(out, ", %s mult-adds\n",
			    fmt_compact((double)m->calls[i].macs, buf, sizeof buf));
	}
	if (!m->ncalls)
		strbuf_add(out, m->broken ? "  the shape break is here\n"
					  : "  not reached by the last shape pass\n");
	(void)ed;
}

int inspect_find(struct editor *ed, const char *pattern, struct strbuf *out, struct error *e)
{
	struct module **mods;
	int n = edit_select(ed, pattern, &mods, e);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[4096], d[256];
		module_path_buf(mods[i], path, sizeof path);
		registry_describe(mods[i], d, sizeof d);
		strbuf_addf(out, "%-40s %-36s ", path[0] ? path : "(root)", d);
		if (mods[i]->ncalls)
			value_format_shapes(&mods[i]->calls[0].out, shape_format, out);
		strbuf_add(out, "\n");
	}
	strbuf_addf(out, "%d module%s\n", n, n == 1 ? "" : "s");
	free(mods);
	return 0;
}

void inspect_diff(const struct editor *ed, struct strbuf *out)
{
	struct model_diff d;
	model_diff(ed->original, ed->model, &d);
	for (int i = 0; i < d.nmodules; i++) {
		diff_module_line(&d.modules[i], out);
		strbuf_add(out, "\n");
	}
	if (d.nmodules == 0)
		strbuf_add(out, "no module changed\n");
	diff_totals(&d, out);
	model_diff_free(&d);
}
