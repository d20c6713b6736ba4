/* summary.c - the summary table (tree, output shape, params, mult-adds,
 * totals) and its JSON form. */
#include "view/summary.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "core/text.h"
#include "core/util.h"
#include "view/json_write.h"

struct row {
	const struct module *m;
	int depth;
	char *label; /* tree guides + name */
	char *type;  /* type and key hyper-parameters */
	char *out;   /* output shape(s) or "--" / "?" */
	int64_t params;
	int64_t macs;
	bool broken;
};

struct rows {
	struct row *v;
	int n, cap;
	bool stop; /* the failing module was reached */
};

static char *type_text(const struct module *m)
{
	char desc[256], shown[1024];
	registry_describe(m, desc, sizeof desc);
	return xstrdup(text_escape_buf(desc, shown, sizeof shown));
}

/* A cell of the table from s (taken): in ASCII when o asks. */
static char *cell(char *s, const struct summary_opts *o)
{
	if (!o->ascii)
		return s;
	struct strbuf sb = {0};
	text_escape_ascii(&sb, s);
	free(s);
	return strbuf_take(&sb);
}

static void collect(struct rows *rs, const struct module *m, int depth, const char *prefix,
		    bool last, const struct summary_opts *o)
{
	if (rs->stop)
		return;
	struct param_counts pc;
	module_count(m, &pc);
	xgrow(&rs->v, &rs->cap, rs->n + 1, sizeof *rs->v);
	struct row *r = &rs->v[rs->n++];
	memset(r, 0, sizeof *r);
	r->m = m;
	r->depth = depth;
	struct strbuf label = {0};
	if (depth == 0 && !m->name[0])
		strbuf_add(&label, "(root)");
	else if (depth > 0)
		strbuf_addf(&label, "%s%s", prefix, last ? "└─" : "├─");
	text_escape_control(&label, m->name);
	r->label = cell(strbuf_take(&label), o);
	r->type = cell(type_text(m), o);
	r->params = pc.params;
	struct strbuf sb = {0};
	for (int i = 0; i < m->ncalls; i++) {
		r->macs += m->calls[i].macs;
		if (i == 0 && !m->broken)
			value_format_shapes(&m->calls[i].out, shape_format, &sb);
	}
	if (m->ncalls > 1 && !m->broken)
		strbuf_addf(&sb, " ×%d", m->ncalls);
	if (m->broken)
		strbuf_add(&sb, "✗ shape break");
	else if (!m->ncalls)
		strbuf_add(&sb, "--");
	r->out = cell(strbuf_take(&sb), o);
	r->broken = m->broken;
	/* Stop at the failing module, unless the break is below it (shown
	 * with its children). */
	bool below = false;
	for (int i = 0; i < m->nchildren && m->broken; i++)
		below = below || m->children[i]->broken;
	if (m->broken && !below) {
		rs->stop = true;
		return;
	}
	if (o->depth >= 0 && depth >= o->depth)
		return;
	char *child_prefix = depth == 0 ? xstrdup("") : xasprintf("%s%s", prefix, last ? "  " : "│ ");
	for (int i = 0; i < m->nchildren && !rs->stop; i++)
		collect(rs, m->children[i], depth + 1, child_prefix, i == m->nchildren - 1, o);
	free(child_prefix);
}

static void free_rows(struct rows *rs)
{
	for (int i = 0; i < rs->n; i++) {
		free(rs->v[i].label);
		free(rs->v[i].type);
		free(rs->v[i].out);
	}
	free(rs->v);
}

static void pad(FILE *out, const char *s, int width)
{
	fputs(s, out);
	for (int w = text_width(s); w < width; w++)
		fputc(' ', out);
}

static void rule(FILE *out, char c, int width)
{
	for (int i = 0; i < width; i++)
		fputc(c, out);
	fputc('\n', out);
}

static void write_table(FILE *out, const struct model *m, const struct shape_result *res,
			const struct summary_opts *o)
{
	struct rows rs = {0};
	collect(&rs, m->root, 0, "", true, o);
	int wl = 6, wt = 4, wo = 12;
	for (int i = 0; i < rs.n; i++) {
		int l = text_width(rs.v[i].label), t = text_width(rs.v[i].type),
		    s = text_width(rs.v[i].out);
		wl = l > wl ? l : wl;
		wt = t > wt ? t : wt;
		wo = s > wo ? s : wo;
	}
	wl = wl > 60 ? 60 : wl;
	wt = wt > 40 ? 40 : wt;
	wo = wo > 40 ? 40 : wo;
	int total = wl + 2 + wt + 2 + wo + 2 + 13 + 2 + 9;
	rule(out, '=', total);
	pad(out, "Module", wl + 2);
	pad(out, "Type", wt + 2);
	pad(out, "Output shape", wo + 2);
	fprintf(out, "%13s  %9s\n", "Params", "Mult-adds");
	rule(out, '=', total);
	for (int i = 0; i < rs.n; i++) {
		const struct row *r = &rs.v[i];
		char pbuf[32], mbuf[32];
		pad(out, r->label, wl + 2);
		pad(out, r->type, wt + 2);
		pad(out, r->out, wo + 2);
		fprintf(out, "%13s  %9s\n", r->params ? fmt_count(r->params, pbuf, sizeof pbuf) : "--",
			r->macs ? fmt_compact((double)r->macs, mbuf, sizeof mbuf) : "--");
	}
	rule(out, '=', total);
	struct param_counts pc;
	module_count(m->root, &pc);
	char buf[64];
	fprintf(out, "Total params: %s\n", fmt_count(pc.params, buf, sizeof buf));
	fprintf(out, "Trainable params: %s\n", fmt_count(pc.trainable, buf, sizeof buf));
	fprintf(out, "Non-trainable params: %s\n", fmt_count(pc.params - pc.trainable, buf, sizeof buf));
	fprintf(out, "Buffers: %s\n", fmt_count(pc.buffers, buf, sizeof buf));
	fprintf(out, "Params size: %s\n", fmt_bytes((double)pc.param_bytes, buf, sizeof buf));
	if (res->ok) {
		fprintf(out, "Total mult-adds: %s\n", fmt_compact((double)res->macs, buf, sizeof buf));
		fprintf(out, "Activations (one forward): %s\n",
			fmt_bytes((double)res->activation_bytes, buf, sizeof buf));
	} else {
		fprintf(out, "Total mult-adds: unknown (shape break)\n");
	}
	for (int i = 0; i < m->ninputs; i++) {
		char sb[160], name[256];
		fprintf(out, "Input %s: %s %s\n",
			text_escape_buf(m->inputs[i].name, name, sizeof name),
			shape_format_x(&m->inputs[i].shape, sb, sizeof sb),
			dtype_name(m->inputs[i].dtype));
	}
	if (m->config && *m->config)
		fprintf(out, "Config (config.json): %s\n", m->config);
	rule(out, '=', total);
	free_rows(&rs);
}

/* --- JSON -------------------------------------------------------------- */

static void json_value(FILE *out, const struct value *v)
{
	switch (v->kind) {
	case VAL_TENSOR:
		fputs("{\"shape\":", out);
		json_write_shape(out, &v->u.tensor.t.shape);
		fprintf(out, ",\"dtype\":\"%s\"}", dtype_name(v->u.tensor.t.dtype));
		break;
	case VAL_LIST:
		fputc('[', out);
		for (int i = 0; i < v->u.list.n; i++) {
			if (i)
				fputc(',', out);
			json_value(out, &v->u.list.items[i]);
		}
		fputc(']', out);
		break;
	case VAL_INT:
		fprintf(out, "%" PRId64, v->u.i);
		break;
	case VAL_FLOAT:
		fprintf(out, "%.17g", v->u.f);
		break;
	case VAL_BOOL:
		fputs(v->u.b ? "true" : "false", out);
		break;
	case VAL_STR:
		json_write_string(out, v->u.s);
		break;
	default:
		fputs("null", out);
		break;
	}
}

struct json_ctx {
	FILE *out;
	int count;
	int maxdepth;
};

static int module_depth(const struct module *m)
{
	int d = 0;
	for (; m->parent; m = m->parent)
		d++;
	return d;
}

static int json_module(struct module *m, void *vctx)
{
	struct json_ctx *c = vctx;
	int depth = module_depth(m);
	if (c->maxdepth >= 0 && depth > c->maxdepth)
		return 0;
	char path[4096], buf[256] = "";
	struct param_counts pc;
	module_count(m, &pc);
	int64_t macs = 0;
	for (int i = 0; i < m->ncalls; i++)
		macs += m->calls[i].macs;
	fprintf(c->out, "%s\n  {\"path\":", c->count++ ? "," : "");
	json_write_string(c->out, module_path_buf(m, path, sizeof path));
	fputs(",\"type\":", c->out);
	json_write_string(c->out, m->type);
	if (m->def && m->def->describe)
		m->def->describe(m, buf, sizeof buf);
	fputs(",\"detail\":", c->out);
	json_write_string(c->out, buf);
	fprintf(c->out, ",\"depth\":%d,\"params\":%" PRId64 ",\"trainable\":%" PRId64
			",\"buffers\":%" PRId64 ",\"macs\":%" PRId64 ",\"broken\":%s,\"calls\":[",
		depth, pc.params, pc.trainable, pc.buffers, macs, m->broken ? "true" : "false");
	for (int i = 0; i < m->ncalls; i++) {
		if (i)
			fputc(',', c->out);
		json_value(c->out, &m->calls[i].out);
	}
	fputs("]}", c->out);
	return 0;
}

static void write_json(FILE *out, const struct model *m, const struct shape_result *r,
		       const struct summary_opts *o)
{
	struct param_counts pc;
	module_count(m->root, &pc);
	fputs("{\"model\":", out);
	json_write_string(out, m->name);
	fputs(",\"inputs\":[", out);
	for (int i = 0; i < m->ninputs; i++) {
		struct value v = value_tensor_meta(m->inputs[i].dtype, &m->inputs[i].shape,
						   (struct origin){0});
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_write_string(out, m->inputs[i].name);
		fputs(",\"tensor\":", out);
		json_value(out, &v);
		fputc('}', out);
	}
	fprintf(out, "],\"ok\":%s,\"error\":", r->ok ? "true" : "false");
	if (r->ok)
		fputs("null", out);
	else
		json_write_string(out, r->err.msg);
	fputs(",\"failed\":", out);
	if (r->failed) {
		char path[4096];
		json_write_string(out, module_path_buf(r->failed, path, sizeof path));
	} else {
		fputs("null", out);
	}
	fprintf(out,
		",\"totals\":{\"params\":%" PRId64 ",\"trainable\":%" PRId64
		",\"non_trainable\":%" PRId64 ",\"buffers\":%" PRId64 ",\"params_bytes\":%" PRId64
		",\"buffers_bytes\":%" PRId64 ",\"macs\":%" PRId64 ",\"activation_bytes\":%" PRId64
		"},\"output\":",
		pc.params, pc.trainable, pc.params - pc.trainable, pc.buffers, pc.param_bytes,
		pc.buffer_bytes, r->ok ? r->macs : (int64_t)-1,
		r->ok ? r->activation_bytes : (int64_t)-1);
	json_value(out, &r->output);
	fputs(",\"modules\":[", out);
	struct json_ctx c = {.out = out, .maxdepth = o->depth};
	module_walk(m->root, json_module, &c);
	fputs("\n]}\n", out);
}

void summary_write(FILE *out, const struct model *m, const struct shape_result *r,
		   const struct summary_opts *o)
{
	if (o->json)
		write_json(out, m, r, o);
	else
		write_table(out, m, r, o);
}
