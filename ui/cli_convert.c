/* cli_convert.c - `graft convert` between graft's formats and PyTorch's,
 * and `graft export-py`, a model as a Python file that needs only torch. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "export/export_py.h"
#include "io/io_safetensors.h"
#include "core/model.h"
#include "io/format.h"
#include "io/save.h"
#include "core/util.h"
#include "io/zoo.h"

const char cli_convert_synopsis[] =
    "graft convert IN OUT [--weights FILE] [--force] | graft convert --index DIR";
const char cli_convert_help[] =
    "Convert a model between formats. IN is recognised by its first bytes (then\n"
    "its name); OUT's format is chosen by its name:\n"
    "\n"
    "  NAME.json          a graft architecture; with weights, they are written\n"
    "                     to NAME.safetensors beside it\n"
    "  NAME.safetensors   a bundle: the tensors with the architecture inside\n"
    "                     (reading also takes plain safetensors files)\n"
    "  NAME.pth, NAME.pt  a PyTorch checkpoint: writing gives the state_dict, as\n"
    "                     torch.save(model.state_dict(), f) does; reading takes a\n"
    "                     state_dict or a torch.save'd module\n"
    "  FOLDER             reading only: a hub-style model folder (model.safetensors,\n"
    "                     pytorch_model.bin, or shards with their index.json)\n"
    "\n"
    "A bare checkpoint (a state_dict or plain safetensors) takes the architecture\n"
    "of the zoo model with the same tensor names and shapes, and says which; the\n"
    "zoo is $GRAFT_MODELS, the installed models, or models/ beside graft.\n"
    "Tensors are written byte for byte in their dtype. OUT is written atomically\n"
    "(a .json and its weights both or neither), through a symlink to the file it\n"
    "names; graft never writes over IN, nor over a folder.\n"
    "\n"
    "  --weights FILE   the weights for IN (.safetensors, .pth or a model folder),\n"
    "                   checked name by name and shape by shape against its\n"
    "                   architecture\n"
    "  --force          replace a read-only OUT, or an existing NAME.safetensors\n"
    "                   beside a .json OUT that is not that .json's weights\n"
    "  --index DIR      write DIR/index.txt, the fingerprints of the DIR/*.json\n"
    "                   architectures that bare checkpoints are matched against\n"
    "\n"
    "Exit status: 0 success, 2 bad usage or an unreadable or unwritable model.\n";

const char cli_export_py_synopsis[] = "graft export-py MODEL -o OUT.py [--weights FILE]";
const char cli_export_py_help[] =
    "Write the model as a Python file that needs only torch: one nn.Module class\n"
    "per composite type, the root class, and load(weights=None), which builds\n"
    "the model and, given a .safetensors or .pth file, loads it with strict=True\n"
    "(the state_dict keys are graft's tensor names).\n"
    "\n"
    "  -o, --output OUT.py   the file to write (atomically)\n"
    "  --weights FILE        weights for a .json architecture\n"
    "\n"
    "Exit status: 0 success, 2 bad usage, an unreadable model, or a model whose\n"
    "forward is unknown.\n";

/* Opens a model and shows what opening found out. */
static struct model *open_model(const char *path, const char *weights)
{
	struct error e = {0};
	struct model *m = format_open(path, weights, &e);
	if (!m) {
		fprintf(stderr, "graft: %s\n", e.msg);
		return NULL;
	}
	if (m->note)
		fprintf(stderr, "graft: %s\n", m->note);
	return m;
}

int cli_convert(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"weights", required_argument, NULL, 'w'},
	    {"index", required_argument, NULL, 'x'},
	    {"force", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *weights = NULL, *index = NULL;
	bool force = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			weights = optarg;
			break;
		case 'x':
			index = optarg;
			break;
		case 'F':
			force = true;
			break;
		case 'h':
			printf("Usage: %s\n\n%s", cli_convert_synopsis, cli_convert_help);
			return EXIT_OK;
		default:
			fprintf(stderr, "Usage: %s\n", cli_convert_synopsis);
			return EXIT_USAGE;
		}
	}
	struct error e = {0};
	if (index) {
		if (optind != argc || weights) {
			fprintf(stderr, "Usage: %s\n", cli_convert_synopsis);
			return EXIT_USAGE;
		}
		int n = 0;
		if (zoo_write_index(index, &n, &e) < 0) {
			fprintf(stderr, "graft: %s\n", e.msg);
			return EXIT_USAGE;
		}
		printf("%s/index.txt: %d architectures\n", index, n);
		return EXIT_OK;
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "Usage: %s\n", cli_convert_synopsis);
		return EXIT_USAGE;
	}
	const char *in = argv[optind], *out = argv[optind + 1];
	if (path_same_file(out, in) || path_same_file(out, weights)) {
		fprintf(stderr, "graft: %s: refusing to overwrite the model converted\n", out);
		return EXIT_USAGE;
	}
	struct model *m = open_model(in, weights);
	if (!m)
		return EXIT_USAGE;
	int status = EXIT_OK;
	if (format_save(m, out, force ? SAVE_FORCE : 0, &e) < 0) {
		fprintf(stderr, "graft: %s\n", e.msg);
		status = EXIT_USAGE;
	} else {
		struct param_counts pc;
		module_count(m->root, &pc);
		char **names;
		const struct tensor **tensors;
		int n = model_state_dict(m, &names, &tensors);
		save_state_dict_free(names, tensors, n);
		char buf[32];
		printf("%s: %d tensors, %s parameters\n", out, n,
		       fmt_count(pc.params, buf, sizeof buf));
	}
	model_free(m);
	return status;
}

int cli_export_py(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"weights", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *weights = NULL, *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'w':
			weights = optarg;
			break;
		case 'h':
			printf("Usage: %s\n\n%s", cli_export_py_synopsis, cli_export_py_help);
			return EXIT_OK;
		default:
			fprintf(stderr, "Usage: %s\n", cli_export_py_synopsis);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !out) {
		fprintf(stderr, "Usage: %s\n", cli_export_py_synopsis);
		return EXIT_USAGE;
	}
	struct model *m = open_model(argv[optind], weights);
	if (!m)
		return EXIT_USAGE;
	struct error e = {0};
	int status = EXIT_OK;
	if (export_py_write(m, out, &e) < 0) {
		fprintf(stderr, "graft: %s\n", e.msg);
		status = EXIT_USAGE;
	}
	model_free(m);
	return status;
}
