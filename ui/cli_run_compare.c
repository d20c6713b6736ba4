/* cli_run_compare.c - `graft run MODEL --compare OTHER`: the drift of
 * OTHER's outputs from MODEL's on the same input, then module by module. */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "core/text.h"
#include "exec/exec_compare.h"
#include "io/format.h"

static void print_outputs(const struct compare_result *r)
{
	for (int i = 0; i < r->noutputs; i++) {
		const struct compare_output *o = &r->outputs[i];
		char sa[160] = "(none)", sb[160] = "(none)";
		if (o->a.ndim >= 0)
			shape_format(&o->a, sa, sizeof sa);
		if (o->b.ndim >= 0)
			shape_format(&o->b, sb, sizeof sb);
		printf(r->noutputs > 1 ? "output %d " : "output ", i);
		if (!o->compared) {
			printf("%s -> %s: the shapes differ, not compared\n", sa, sb);
			continue;
		}
		printf("%s  max abs %.6g  cosine %.6f  top-1 agreement %.1f%% (%lld of %lld)\n", sa,
		       o->drift.max_abs, o->drift.cosine,
		       o->rows ? 100.0 * (double)o->top1_agree / (double)o->rows : 100.0,
		       (long long)o->top1_agree, (long long)o->rows);
	}
}

static void print_modules(const struct compare_result *r)
{
	printf("\nmodules: %d outputs compared", r->nmodules);
	if (r->nunmatched)
		printf(", %d of OTHER without one of the same path and shape", r->nunmatched);
	if (r->nskipped)
		printf(", %d not kept (memory)", r->nskipped);
	printf("\n");
	for (int i = 0; i < r->nmodules; i++) {
		if (r->modules[i].drift.max_abs > 0) {
			char name[2100], shown[2200];
			cli_call_name(r->modules[i].b, r->modules[i].call, r->modules[i].output,
			              r->modules[i].output > 0, name, sizeof name);
			printf("first to drift: %s\n", text_escape_buf(name, shown, sizeof shown));
			break;
		}
	}
	printf("%-36s %-24s %-18s %11s %11s\n", "module", "type", "output", "max abs", "cosine");
	for (int i = 0; i < r->nmodules; i++) {
		const struct compare_module *cm = &r->modules[i];
		bool several = cm->output > 0 || (i + 1 < r->nmodules && r->modules[i + 1].b == cm->b &&
		                                  r->modules[i + 1].call == cm->call);
		char name[2100], name_shown[256], type_shown[256], sb[96];
		cli_call_name(cm->b, cm->call, cm->output, several, name, sizeof name);
		printf("%-36s %-24s %-18s %11.4g %11.6f\n",
		       text_escape_buf(name, name_shown, sizeof name_shown),
		       text_escape_buf(cm->b->type, type_shown, sizeof type_shown),
		       shape_format_x(&cm->shape, sb, sizeof sb), cm->drift.max_abs,
		       cm->drift.cosine);
	}
}

int cli_run_compare(struct model *m, const char *other_path, uint64_t init_seed,
                    const struct tensor *in, int nin)
{
	struct error e = {0};
	struct model *other = format_open(other_path, NULL, &e), *init = NULL;
	if (!other) {
		fprintf(stderr, "graft: %s\n", e.msg);
		return EXIT_USAGE;
	}
	int status = EXIT_USAGE;
	struct model *run = cli_runnable(other, other_path, init_seed, &init);
	if (!run)
		goto done;
	struct compare_result r;
	if (exec_compare(m, run, in, nin, &r, &e) < 0) {
		fprintf(stderr, "graft: %s\n", e.msg);
		status = e.kind == ERR_SHAPE ? EXIT_BREAK : EXIT_USAGE;
		goto done;
	}
	print_outputs(&r);
	print_modules(&r);
	compare_result_free(&r);
	status = EXIT_OK;
done:
	model_free(init);
	model_free(other);
	return status;
}
