/* main.c - the graft command line: subcommands, options and exit codes.
 *
 * Exit codes: 0 success, 1 the model does not check (a shape break),
 * 2 bad usage or unreadable/invalid input. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "edit/cmd.h"
#include "edit/edit.h"
#include "core/model.h"
#include "io/format.h"
#include "core/registry.h"
#include "core/shape.h"
#include "core/text.h"
#include "edit/spec.h"
#include "exec/kernels.h"
#include "view/summary.h"


struct subcommand {
	const char *name;
	const char *synopsis;
	const char *help;
	int (*run)(int argc, char **argv);
};

static int cmd_summary(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct subcommand subcommands[] = {
	{"summary", "graft summary MODEL [--input [NAME=]SHAPE]... [--depth N] [--json] [--weights FILE]",
	 "Print the module tree with output shapes, parameter counts and mult-adds,\n"
	 "then the totals, like torchinfo. The shape pass runs on the model's input\n"
	 "shape, or the one given with --input. A model folder's config.json is shown\n"
	 "in one line after the totals.\n"
	 "\n"
	 "  --input [NAME=]SHAPE\n"
	 "                   dry-run shape of the input NAME, e.g. ids=1x32 (default:\n"
	 "                   the next input in order); a .npy file gives its shape\n"
	 "                   (and must have the input's dtype); repeat for each input\n"
	 "  --depth N        show modules down to depth N (default 3, or all with\n"
	 "                   --json; -1 for all)\n"
	 "  --json           machine-readable output (every module unless --depth,\n"
	 "                   all calls)\n"
	 "  --weights FILE   weights for a .json architecture (.safetensors, .pth or a\n"
	 "                   model folder)\n"
	 "\n"
	 "Exit status: 0 when the model checks; 1 on a shape break, after the table\n"
	 "up to the failing module and a message saying what was expected, what\n"
	 "came, and where it came from; 2 for bad usage or an unreadable model.\n",
	 cmd_summary},
	{"edit", cli_edit_synopsis, cli_edit_help, cli_edit},
	{"convert", cli_convert_synopsis, cli_convert_help, cli_convert},
	{"export-py", cli_export_py_synopsis, cli_export_py_help, cli_export_py},
	{"run", cli_run_synopsis, cli_run_help, cli_run},
	{"diff", cli_diff_synopsis, cli_diff_help, cli_diff},
	{"help", "graft help [COMMAND]", "Show help for graft or for one command.\n", cmd_help},
};
#define NSUBCOMMANDS ((int)(sizeof subcommands / sizeof subcommands[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: graft MODEL\n"
		"       graft COMMAND [ARGS]\n"
		"\n"
		"graft looks inside neural-network models and edits them. MODEL is a graft\n"
		"architecture (.json), a .safetensors file (a graft bundle, or plain\n"
		"tensors), a PyTorch checkpoint (.pth, .pt) or a hub-style model folder\n"
		"(model.safetensors, pytorch_model.bin, or shards with their index).\n"
		"Opening a MODEL without a command shows it full-screen on a terminal\n"
		"(keys: ? for help, : for commands) and prints its summary otherwise\n"
		"(when the output is a pipe or a file).\n"
		"\n"
		"Commands:\n");
	for (int i = 0; i < NSUBCOMMANDS; i++)
		fprintf(out, "  %s\n", subcommands[i].synopsis);
	fprintf(out, "\n"
		     "Options of 'graft MODEL':\n"
		     "  --input [NAME=]SHAPE\n"
		     "                   dry-run input shape (repeat for each input)\n"
		     "  --weights FILE   weights for a .json architecture\n"
		     "  --script FILE    run keys and :commands from FILE on a headless screen\n"
		     "  --size COLSxROWS the headless screen's size (default 100x30)\n");
	fprintf(out, "\n"
		     "Options:\n"
		     "  -h, --help       show this help\n"
		     "  -V, --version    show the version\n"
		     "\n"
		     "Exit status: 0 success, 1 the model does not check (a shape break),\n"
		     "2 bad usage or unreadable/invalid input.\n"
		     "See graft(1) and 'graft help COMMAND'.\n");
}

static const struct subcommand *find_subcommand(const char *name)
{
	for (int i = 0; i < NSUBCOMMANDS; i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	return NULL;
}

/* Help on a built-in type or function: its description and attributes. */
static int help_op(const struct op_def *def)
{
	printf("%s — %s\n", def->name, def->doc ? def->doc : "");
	for (int i = 0; i < def->nattrs; i++)
		printf("  %s=%s\n", def->attrs[i].name,
		       def->attrs[i].def ? def->attrs[i].def : "(required)");
	return EXIT_OK;
}

/* Help on the type a word names among the built-in and defined ones (letter
 * case aside, "nn." allowed), or a message that there is none. */
static int help_type(const char *word)
{
	struct type_lib lib = {0};
	cli_load_types(&lib);
	const char *type = spec_type_name(&lib, word);
	const struct type_def *d = type ? type_lib_find(&lib, type) : NULL;
	int status = EXIT_OK;
	if (d) {
		printf("%s — a defined type: %s\n", d->name, d->text + strspn(d->text, " \t"));
		for (int i = 0; i < d->nparams; i++) {
			char v[256];
			value_format(&d->params[i].value, v, sizeof v);
			printf("  %s=%s\n", d->params[i].name, v);
		}
	} else if (type && registry_module(type)) {
		status = help_op(registry_module(type));
	} else if (type) {
		printf("%s — runs its children in order: %s(Flatten(), Linear(512, 10))\n", type, type);
	} else {
		fprintf(stderr, "graft: no help for '%s' (try 'graft help', 'graft help types')\n",
			word);
		status = EXIT_USAGE;
	}
	type_lib_free(&lib);
	return status;
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return EXIT_OK;
	}
	const struct subcommand *sc = find_subcommand(argv[1]);
	if (sc) {
		printf("Usage: %s\n\n%s", sc->synopsis, sc->help);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "types") == 0 || strcmp(argv[1], "functions") == 0) {
		int n;
		enum op_kind kind = argv[1][0] == 't' ? OP_MODULE : OP_FUNCTION;
		bool attrs = argc > 2 && strcmp(argv[2], "--attrs") == 0;
		const struct op_def *const *defs = registry_all(kind, &n);
		for (int i = 0; i < n; i++) {
			if (!attrs) {
				printf("%-24s %s\n", defs[i]->name, defs[i]->doc ? defs[i]->doc : "");
				continue;
			}
			/* For scripts: the name and its attributes in schema order. */
			printf("%s", defs[i]->name);
			for (int j = 0; j < defs[i]->nattrs; j++)
				printf(" %s", defs[i]->attrs[j].name);
			printf("\n");
		}
		return EXIT_OK;
	}
	const struct op_def *def = registry_module(argv[1]);
	if (!def)
		def = registry_function(argv[1]);
	if (def)
		return help_op(def);
	const char *cmd_help_text = cmd_explain(argv[1]);
	if (cmd_help_text) {
		printf("%s (an edit command; see 'graft help edit')\n%s\n", argv[1], cmd_help_text);
		return EXIT_OK;
	}
	return help_type(argv[1]);
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < -1 || v > 1000)
		return -1;
	*out = (int)v;
	return 0;
}

static int cmd_summary(int argc, char **argv)
{
	static const struct option opts[] = {
		{"input", required_argument, NULL, 'i'}, {"depth", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},        {"weights", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	struct summary_opts so = {.depth = -2}; /* -2: not given */
	const char *inputs[CLI_MAX_INPUTS], *weights = NULL;
	int ninputs = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:d:jw:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (ninputs == CLI_MAX_INPUTS) {
				fprintf(stderr, "graft: too many --input arguments\n");
				return EXIT_USAGE;
			}
			inputs[ninputs++] = optarg;
			break;
		case 'd':
			if (parse_int(optarg, &so.depth) < 0) {
				fprintf(stderr, "graft: summary: --depth needs a number (-1 for all), not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			so.json = true;
			break;
		case 'w':
			weights = optarg;
			break;
		case 'h':
			return cmd_help(2, (char *[]){"help", "summary", NULL});
		default:
			fprintf(stderr, "Usage: %s\n", subcommands[0].synopsis);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "Usage: %s\n", subcommands[0].synopsis);
		return EXIT_USAGE;
	}
	if (so.depth == -2)
		so.depth = so.json ? -1 : 3; /* JSON is for programs: every module */
	struct model *m = cli_open_model(argv[optind], weights, inputs, ninputs);
	if (!m)
		return EXIT_USAGE;
	struct shape_result r;
	int rc = shape_pass(m, &r);
	/* a terminal whose locale is not UTF-8 gets ASCII; files and pipes UTF-8 */
	so.ascii = !so.json && isatty(STDOUT_FILENO) && !cli_locale_utf8();
	summary_write(stdout, m, &r, &so);
	fflush(stdout);
	int status = EXIT_OK;
	if (m->note)
		fprintf(stderr, "graft: %s\n", m->note);
	if (!m->has_forward && !m->note) {
		fprintf(stderr, "graft: %s: no architecture: the tree comes from the tensor names and the forward is unknown, so shapes are not checked\n",
			m->path);
	} else if (m->has_forward && rc < 0) {
		fprintf(stderr, "graft: %s: %s\n", m->path, r.err.msg);
		status = r.err.kind == ERR_SHAPE ? EXIT_BREAK : EXIT_USAGE;
	}
	shape_result_free(&r);
	model_free(m);
	return status;
}

/* Whether `graft MODEL ...` opens the outline: with --script, or on a
 * terminal unless summary options (--json, --depth) ask for the table. A
 * terminal that cannot show it (TERM=dumb) gets the summary: why says why. */
static bool wants_outline(int argc, char **argv, char *why, size_t size)
{
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--script") || !strncmp(argv[i], "--script=", 9))
			return true;
		if (!strncmp(argv[i], "--json", 6) || !strncmp(argv[i], "--depth", 7))
			tty = false;
	}
	return tty && cli_tui_terminal_ok(why, size);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--recover") == 0)
		return cli_recover(argc - 1, argv + 1);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("graft %s\nmatrix products: %s\n", PACKAGE_VERSION, kernels_matrix_library());
		return EXIT_OK;
	}
	const struct subcommand *sc = find_subcommand(argv[1]);
	if (sc)
		return sc->run(argc - 1, argv + 1);
	if (argv[1][0] == '-') {
		fprintf(stderr, "graft: unknown option '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strchr(argv[1], '.') && !strchr(argv[1], '/')) {
		const char *names[NSUBCOMMANDS];
		for (int i = 0; i < NSUBCOMMANDS; i++)
			names[i] = subcommands[i].name;
		const char *near = text_did_you_mean(argv[1], names, NSUBCOMMANDS);
		if (near)
			fprintf(stderr, "graft: unknown command '%s' (did you mean '%s'?)\n", argv[1],
				near);
		else
			fprintf(stderr, "graft: unknown command '%s' (see 'graft --help')\n", argv[1]);
		return EXIT_USAGE;
	}
	/* graft MODEL: the full-screen outline on a terminal (or with a script),
	 * else the summary. */
	char why[200] = "";
	if (wants_outline(argc, argv, why, sizeof why))
		return cli_tui(argc, argv);
	int status = cmd_summary(argc, argv);
	if (why[0])
		fprintf(stderr,
		        "graft: %s, so the full-screen outline cannot be shown: the summary above is "
		        "'graft summary %s'; 'graft edit %s' edits at a prompt\n",
		        why, argv[1], argv[1]);
	return status;
}
