/* cli_diff.c - `graft diff A B`: what differs between two models. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "core/model.h"
#include "view/diff.h"
#include "view/diff_write.h"

const char cli_diff_synopsis[] =
    "graft diff A B [--json] [--limit N | --all] [--weights-a FILE] [--weights-b FILE]";
const char cli_diff_help[] =
    "Compare two models, say a checkpoint and its edit, or two checkpoints of\n"
    "one architecture. Modules are matched by path: added (+), removed (-), or\n"
    "changed (~) in type or attributes; a module whose type changed is one\n"
    "line, its insides not compared. Tensors are matched by name: identical,\n"
    "changed values (with the largest absolute difference and how many values\n"
    "differ), changed shape or dtype, or on one side only.\n"
    "\n"
    "The text starts with a summary (changes by kind, type changes grouped as\n"
    "'BatchNorm2d -> GroupNorm: 20', tensor counts, parameter totals), then\n"
    "lists the changed modules, the changed tensors and the identical ones\n"
    "(named by the largest modules whose tensors are all identical).\n"
    "\n"
    "  --json            every module change and every tensor, for programs\n"
    "  --limit N         lines each list shows (default 20)\n"
    "  --all             list everything\n"
    "  --weights-a FILE  weights for A when it is a .json architecture\n"
    "  --weights-b FILE  weights for B\n"
    "\n"
    "Exit status, as diff(1): 0 the models are the same, 1 they differ, 2 bad\n"
    "usage or an unreadable model.\n";

static int usage(void)
{
	fprintf(stderr, "Usage: %s\n", cli_diff_synopsis);
	return EXIT_USAGE;
}

int cli_diff(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"limit", required_argument, NULL, 'l'},
	    {"all", no_argument, NULL, 'a'},
	    {"weights-a", required_argument, NULL, 'A'},
	    {"weights-b", required_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct diff_write_opts o = {.limit = 20};
	const char *weights[2] = {NULL, NULL};
	int c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'l':
			o.limit = (int)strtol(optarg, &end, 10);
			if (!*optarg || *end || o.limit < 0 || o.limit > 1000000) {
				fprintf(stderr, "graft: diff: --limit needs a number, not '%s'\n",
				        optarg);
				return usage();
			}
			break;
		case 'a':
			o.limit = -1;
			break;
		case 'A':
		case 'B':
			weights[c - 'A'] = optarg;
			break;
		case 'h':
			printf("Usage: %s\n\n%s", cli_diff_synopsis, cli_diff_help);
			return EXIT_OK;
		default:
			return usage();
		}
	}
	if (optind + 2 != argc)
		return usage();
	struct model *a = cli_open_model(argv[optind], weights[0], NULL, 0);
	struct model *b = a ? cli_open_model(argv[optind + 1], weights[1], NULL, 0) : NULL;
	int status = EXIT_USAGE;
	if (a && b) {
		struct model_diff d;
		model_diff(a, b, &d);
		diff_write(stdout, &d, &o);
		status = model_diff_same(&d) ? EXIT_OK : EXIT_BREAK;
		model_diff_free(&d);
	}
	model_free(b);
	model_free(a);
	return status;
}
