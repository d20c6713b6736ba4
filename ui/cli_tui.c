/* cli_tui.c - `graft MODEL`: its options, opening the model, and handing
 * the editor to the full-screen outline (tui.c). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <curses.h>
#include <term.h>

#include "cli.h"
#include "edit/edit.h"
#include "tui.h"

const char cli_tui_synopsis[] =
    "graft MODEL [--input SHAPE] [--weights FILE] [--script FILE [--size COLSxROWS]]";

bool cli_tui_terminal_ok(char *why, size_t size)
{
	const char *term = getenv("TERM");
	int err;
	if (!term || !*term) {
		snprintf(why, size, "TERM is not set");
		return false;
	}
	if (setupterm(NULL, STDOUT_FILENO, &err) != OK) {
		snprintf(why, size, "the terminal TERM=%s is not described on this system", term);
		return false;
	}
	const char *cup = tigetstr("cup");
	bool ok = cup && cup != (char *)-1;
	del_curterm(cur_term);
	if (!ok)
		snprintf(why, size, "the terminal TERM=%s cannot move the cursor", term);
	return ok;
}

static void usage_error(void)
{
	fprintf(stderr, "Usage: %s\n", cli_tui_synopsis);
}

int cli_tui(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},  {"weights", required_argument, NULL, 'w'},
	    {"script", required_argument, NULL, 's'}, {"size", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *inputs[CLI_MAX_INPUTS], *weights = NULL, *script = NULL;
	int ninputs = 0;
	int cols = 100, rows = 30, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (ninputs == CLI_MAX_INPUTS) {
				fprintf(stderr, "graft: too many --input arguments\n");
				return EXIT_USAGE;
			}
			inputs[ninputs++] = optarg;
			break;
		case 'w':
			weights = optarg;
			break;
		case 's':
			script = optarg;
			break;
		case 'S':
			if (sscanf(optarg, "%dx%d", &cols, &rows) != 2 || cols < 20 || rows < 5 ||
			    cols > 1000 || rows > 1000) {
				fprintf(stderr, "graft: --size takes COLSxROWS, e.g. 100x30\n");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("Usage: %s\n", cli_tui_synopsis);
			return EXIT_OK;
		default:
			usage_error();
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage_error();
		return EXIT_USAGE;
	}
	struct model *m = cli_open_model(argv[optind], weights, inputs, ninputs);
	if (!m)
		return EXIT_USAGE;
	struct editor ed;
	editor_init(&ed, m);
	cli_load_type_libraries(&ed);
	struct tui_options o = {.script = script, .cols = cols, .rows = rows};
	int status = tui_run(&ed, &o);
	editor_free(&ed);
	return status;
}
