/* cli_input.c - the --input arguments of summary, run and the outline:
 * one per model input, each a shape or a .npy file, named or in order. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/model.h"
#include "io/io_npy.h"

/* The index of m's input called name (len bytes), or -1. */
static int input_named(const struct model *m, const char *name, size_t len)
{
	for (int i = 0; i < m->ninputs; i++)
		if (strlen(m->inputs[i].name) == len && !strncmp(m->inputs[i].name, name, len))
			return i;
	return -1;
}

static void list_inputs(const struct model *m, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < m->ninputs; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, size - l, "%s%s", i ? ", " : "", m->inputs[i].name);
	}
}

int cli_inputs_parse(const struct model *m, const char *const *args, int n, struct cli_input *out)
{
	char names[1024];
	for (int i = 0; i < m->ninputs; i++)
		out[i] = (struct cli_input){0};
	int next = 0;
	for (int k = 0; k < n; k++) {
		const char *arg = args[k], *eq = strchr(arg, '=');
		int i;
		if (eq) {
			i = input_named(m, arg, (size_t)(eq - arg));
			if (i < 0) {
				list_inputs(m, names, sizeof names);
				fprintf(stderr,
				        "graft: --input %s: the model has no input '%.*s' (%s%s)\n",
				        arg, (int)(eq - arg), arg, m->ninputs ? "its inputs: " : "",
				        m->ninputs ? names : "it has none");
				return -1;
			}
			arg = eq + 1;
		} else {
			while (next < m->ninputs && out[next].given)
				next++;
			i = next;
			if (i == m->ninputs) {
				fprintf(stderr, "graft: --input %s: the model takes %d input%s\n",
				        arg, m->ninputs, m->ninputs == 1 ? "" : "s");
				return -1;
			}
		}
		if (out[i].given) {
			fprintf(stderr, "graft: --input %s: input '%s' is given twice\n", args[k],
			        m->inputs[i].name);
			return -1;
		}
		out[i].given = true;
		struct error e = {0};
		if (shape_parse(arg, &out[i].shape, &e) == 0)
			continue;
		size_t len = strlen(arg);
		if (len < 4 || strcmp(arg + len - 4, ".npy") != 0) {
			fprintf(stderr, "graft: --input %s: not a shape (%s) nor a .npy file\n",
			        args[k], e.msg);
			return -1;
		}
		out[i].file = arg;
	}
	return 0;
}

int cli_input_read(const struct model *m, int i, const char *file, struct tensor *out)
{
	struct error e = {0};
	if (npy_read(file, out, &e) < 0) {
		fprintf(stderr, "graft: %s\n", e.msg);
		return -1;
	}
	enum dtype want = m->inputs[i].dtype;
	bool floating = want == DT_F32 || want == DT_F16 || want == DT_BF16 || want == DT_F64;
	/* npy_read gives every floating array as float32 */
	if (floating ? out->dtype != DT_F32 : out->dtype != want) {
		fprintf(stderr, "graft: %s holds %s values; input '%s' takes %s\n", file,
		        dtype_name(out->dtype), m->inputs[i].name,
		        floating ? "floating ones (float32, float16 or float64)"
		                 : dtype_name(want));
		tensor_release(out);
		return -1;
	}
	return 0;
}

int cli_inputs_apply(struct model *m, const char *const *args, int n)
{
	struct cli_input given[CLI_MAX_INPUTS];
	if (m->ninputs > CLI_MAX_INPUTS) {
		fprintf(stderr, "graft: --input: the model has too many inputs\n");
		return -1;
	}
	if (cli_inputs_parse(m, args, n, given) < 0)
		return -1;
	for (int i = 0; i < m->ninputs; i++) {
		if (given[i].file) {
			struct tensor t;
			if (cli_input_read(m, i, given[i].file, &t) < 0)
				return -1;
			given[i].shape = t.shape;
			tensor_release(&t);
		}
		if (given[i].given)
			m->inputs[i].shape = given[i].shape;
	}
	return 0;
}
