/* cli_edit.c - `graft edit`: commands from -e/-f in batch, or typed at a
 * readline prompt, through the same editor; and `graft --recover`. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"
#include "edit/edit.h"
#include "edit/inspect.h"
#include "core/model.h"
#include "core/text.h"
#include "io/format.h"

const char cli_edit_synopsis[] =
	"graft edit MODEL [-e CMD | -f FILE | -f -]... [-o OUT] [--force] [--keep-going] [--dry-run] [--in-place]";
const char cli_edit_help[] =
	"Edit a model with graft's commands (see doc/commands.md or 'help' at the\n"
	"prompt). Commands come from -e and -f (a file, or - for standard input), in\n"
	"the order given; without them graft prompts for commands interactively.\n"
	"\n"
	"  -e, --command CMD    run one command\n"
	"  -f, --file FILE      run the commands in FILE ('-': standard input)\n"
	"  -o, --output OUT     save to OUT: .json (+ weights beside it) or\n"
	"                       .safetensors (bundle); written atomically\n"
	"  --weights FILE       weights for a .json architecture\n"
	"  --force              save even when the final model does not check;\n"
	"                       replace a read-only OUT, or an existing\n"
	"                       NAME.safetensors beside a .json OUT that is not that\n"
	"                       .json's weights\n"
	"  --keep-going         go on after a refused command (reported, skipped)\n"
	"  --dry-run            check everything, write nothing\n"
	"  --in-place           allow OUT to be the model opened (default OUT)\n"
	"\n"
	"Every command runs; a break of the shapes between two commands is a note\n"
	"(FILE:LINE: note: ...), as the next command may fix it. Only the model after\n"
	"the last command decides: when it does not check, the exit status is 1 and\n"
	"nothing is saved (unless --force). A command that is refused (a bad word,\n"
	"an unknown path) stops the batch with FILE:LINE: and the reason: exit\n"
	"status 2, nothing saved; with --keep-going it is skipped and the rest runs\n"
	"(the exit status is still 2). At the end graft prints what changed, and\n"
	"says so when nothing was written.\n"
	"Exit status: 0 success, 1 the model does not check, 2 a refused command or\n"
	"bad input.\n";

struct source {
	const char *text; /* -e */
	const char *file; /* -f */
};

struct batch {
	struct editor *ed;
	bool keep_going;
	int refused; /* commands refused */
};

/* Prints a command's output, line by line with control characters shown
 * escaped: it quotes names from the model file. */
static void print_output(const struct strbuf *out)
{
	struct strbuf shown = {0};
	for (const char *p = out->s; p && *p;) {
		const char *nl = strchr(p, '\n');
		char *line = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
		text_escape_control(&shown, line);
		if (nl)
			strbuf_add(&shown, "\n");
		free(line);
		p = nl ? nl + 1 : p + strlen(p);
	}
	if (shown.len)
		fputs(shown.s, stdout);
	strbuf_free(&shown);
}

/* Runs one line from `where`:LINE; returns false when the batch must stop:
 * a refused command, without --keep-going. A shape break is a note (the
 * next command may fix it), given when it appears or changes. */
static bool batch_line(struct batch *b, const char *where, int lineno, const char *line)
{
	struct strbuf out = {0};
	struct error e = {0};
	bool was_ok = b->ed->check.ok;
	char *was_msg = xstrdup(b->ed->check.err.msg);
	int nlog = b->ed->nlog;
	int rc = editor_run(b->ed, line, &out, &e);
	print_output(&out);
	strbuf_free(&out);
	fflush(stdout);
	if (rc < 0) {
		fprintf(stderr, "graft: %s:%d: %s\n", where, lineno, e.msg);
		b->refused++;
	} else if (b->ed->nlog != nlog && !b->ed->check.ok &&
		   (was_ok || strcmp(was_msg, b->ed->check.err.msg) != 0)) {
		fprintf(stderr, "graft: %s:%d: note: %s%s\n", where, lineno,
			was_ok ? "" : "still broken: ", b->ed->check.err.msg);
	}
	free(was_msg);
	return rc == 0 || b->keep_going;
}

static bool batch_file(struct batch *b, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "graft: %s: %s\n", path, strerror(errno));
		b->refused++;
		return false;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	bool go = true;
	errno = 0;
	while (go && getline(&line, &cap, f) >= 0) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		go = batch_line(b, strcmp(path, "-") == 0 ? "<stdin>" : path, lineno, line);
		errno = 0;
	}
	if (ferror(f)) {
		/* a directory opens, and fails on the first read */
		fprintf(stderr, "graft: %s: cannot read the script: %s\n", path, strerror(errno));
		b->refused++;
		go = false;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return go;
}

static void print_status(const struct editor *ed)
{
	if (!ed->check.ok)
		fprintf(stderr, "shape break: %s\n", ed->check.err.msg);
}

/* The interactive prompt: one command a line, with readline editing and
 * history; every change goes to the journal at jpath (taken and freed), or
 * a new one when jpath is NULL. */
static int interactive(struct editor *ed, char *jpath)
{
	struct error e = {0};
	if (!jpath)
		jpath = cli_journal_open(ed);
	printf("graft: editing %s — 'help' lists the commands, 'quit' leaves\n",
	       ed->model->path ? ed->model->path : ed->model->name);
	print_status(ed);
	int status = EXIT_OK;
	for (;;) {
		char *line = readline(ed->dirty ? "graft*> " : "graft> ");
		if (!line)
			break;
		if (*line)
			add_history(line);
		if (!strcmp(line, "quit") || !strcmp(line, "q") || !strcmp(line, "quit!")) {
			bool force = !strcmp(line, "quit!");
			free(line);
			if (ed->dirty && !force) {
				printf("unsaved changes: 'save [PATH]' them, or 'quit!' to leave without saving\n");
				continue;
			}
			break;
		}
		struct strbuf out = {0};
		error_clear(&e);
		if (editor_run(ed, line, &out, &e) < 0)
			fprintf(stderr, "error: %s\n", e.msg);
		print_output(&out);
		strbuf_free(&out);
		print_status(ed);
		free(line);
	}
	cli_journal_close(ed, jpath);
	return status;
}

/* Says why the edited model is not written, when it is not: the batch
 * stopped, no -o, --dry-run, or a final model that does not check without
 * --force. Returns whether it is not. */
static bool say_not_saved(const struct editor *ed, const struct batch *b, const char *out_path,
			  bool force, bool dry_run)
{
	if (!b->keep_going && b->refused)
		fprintf(stderr, "graft: the batch stopped there: nothing written (--keep-going skips what is refused and runs the rest)\n");
	else if (dry_run)
		fprintf(stderr, "graft: --dry-run: nothing written\n");
	else if (!out_path && ed->dirty)
		fprintf(stderr, "graft: nothing written: give -o OUT to save the edited model, or --in-place to overwrite %s\n",
			ed->model->path);
	else if (out_path && !ed->check.ok && !force)
		fprintf(stderr, "graft: not saving %s: the model does not check (use --force to save anyway)\n",
			out_path);
	else
		return !out_path;
	return true;
}

/* Prints what changed and saves. Only the model after the last command
 * counts; a batch stopped by a refused command saves nothing. */
static int finish(struct editor *ed, struct batch *b, const char *out_path, bool force,
		  bool dry_run)
{
	struct strbuf d = {0};
	inspect_diff(ed, &d);
	printf("%s", d.s ? d.s : "");
	strbuf_free(&d);
	fflush(stdout);
	bool stopped = !b->keep_going && b->refused;
	int status = b->refused ? EXIT_USAGE : EXIT_OK;
	if (!ed->check.ok) {
		if (!stopped)
			fprintf(stderr, "graft: %s: the edited model does not check: %s\n",
				ed->model->path, ed->check.err.msg);
		if (status == EXIT_OK)
			status = EXIT_BREAK;
	}
	if (say_not_saved(ed, b, out_path, force, dry_run))
		return status;
	struct error e = {0};
	struct strbuf out = {0};
	char *cmd = xasprintf("%s %s", force ? "save!" : "save", out_path);
	int rc = editor_run(ed, cmd, &out, &e);
	free(cmd);
	print_output(&out);
	strbuf_free(&out);
	if (rc < 0) {
		fprintf(stderr, "graft: %s\n", e.msg);
		return EXIT_USAGE;
	}
	return status;
}

int cli_edit(int argc, char **argv)
{
	static const struct option opts[] = {
		{"command", required_argument, NULL, 'e'}, {"file", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},  {"weights", required_argument, NULL, 'w'},
		{"force", no_argument, NULL, 'F'},         {"keep-going", no_argument, NULL, 'k'},
		{"dry-run", no_argument, NULL, 'n'},       {"in-place", no_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	struct source *src = xcalloc((size_t)argc, sizeof *src);
	int nsrc = 0, c;
	const char *out_path = NULL, *weights = NULL;
	bool force = false, keep_going = false, dry_run = false, in_place = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "e:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			src[nsrc++].text = optarg;
			break;
		case 'f':
			src[nsrc++].file = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'w':
			weights = optarg;
			break;
		case 'F':
			force = true;
			break;
		case 'k':
			keep_going = true;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'i':
			in_place = true;
			break;
		case 'h':
			printf("Usage: %s\n\n%s", cli_edit_synopsis, cli_edit_help);
			free(src);
			return EXIT_OK;
		default:
			fprintf(stderr, "Usage: %s\n", cli_edit_synopsis);
			free(src);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "Usage: %s\n", cli_edit_synopsis);
		free(src);
		return EXIT_USAGE;
	}
	const char *in_path = argv[optind];
	struct error e = {0};
	struct model *m = format_open(in_path, weights, &e);
	if (!m) {
		fprintf(stderr, "graft: %s\n", e.msg);
		free(src);
		return EXIT_USAGE;
	}
	if (in_place && !out_path)
		out_path = in_path;
	if (out_path && !in_place &&
	    (path_same_file(out_path, in_path) || path_same_file(out_path, m->weights_path))) {
		fprintf(stderr, "graft: %s: refusing to overwrite the model opened (use --in-place)\n",
			out_path);
		model_free(m);
		free(src);
		return EXIT_USAGE;
	}
	struct editor ed;
	editor_init(&ed, m);
	cli_load_type_libraries(&ed);
	int status;
	if (nsrc == 0) {
		status = interactive(&ed, NULL);
	} else {
		struct batch b = {.ed = &ed, .keep_going = keep_going};
		for (int i = 0; i < nsrc; i++) {
			bool go = src[i].text ? batch_line(&b, "-e", i + 1, src[i].text)
					      : batch_file(&b, src[i].file);
			if (!go)
				break;
		}
		status = finish(&ed, &b, out_path, force, dry_run);
	}
	editor_free(&ed);
	free(src);
	return status;
}

/* Reads the journal f (after its header) into *lines; returns the count. */
static int read_lines(FILE *f, char ***lines)
{
	char *line = NULL;
	size_t cap = 0;
	int n = 0, cap_lines = 0;
	*lines = NULL;
	while (getline(&line, &cap, f) >= 0) {
		line[strcspn(line, "\n")] = '\0';
		xgrow(lines, &cap_lines, n + 1, sizeof **lines);
		(*lines)[n++] = xstrdup(line);
	}
	free(line);
	return n;
}

/* Replays the journal's commands on ed, whose journal is the new one;
 * comments are copied, and a command that fails is reported with its line
 * number and kept as a comment. Returns the number of commands replayed. */
static int replay(struct editor *ed, const char *jpath, char **lines, int n)
{
	int done = 0;
	for (int i = 0; i < n; i++) {
		const char *p = lines[i] + strspn(lines[i], " \t");
		if (!*p || *p == '#') {
			editor_journal_add(ed, lines[i]);
			continue;
		}
		struct strbuf out = {0};
		struct error e = {0};
		if (editor_run(ed, lines[i], &out, &e) == 0) {
			done++;
		} else {
			/* line 1 is the header */
			fprintf(stderr, "graft: %s:%d: not replayed: %s\n", jpath, i + 2, e.msg);
			char *kept = xasprintf("# not replayed (%s): %s", e.msg, lines[i]);
			editor_journal_add(ed, kept);
			free(kept);
		}
		strbuf_free(&out);
	}
	return done;
}

int cli_recover(int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: graft --recover [JOURNAL]\n");
		return EXIT_USAGE;
	}
	char *jpath = argc == 2 ? xstrdup(argv[1]) : cli_state_path("journal.graft");
	int fd = open(jpath, O_RDWR | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		fprintf(stderr, "graft: nothing to recover (%s: %s)\n", jpath, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(jpath);
		return EXIT_USAGE;
	}
	/* held until the replayed journal replaces this one */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "graft: %s: in use by another graft\n", jpath);
		fclose(f);
		free(jpath);
		return EXIT_USAGE;
	}
	char *line = NULL;
	size_t cap = 0;
	char *model_path = NULL;
	if (getline(&line, &cap, f) >= 0 && !strncmp(line, "# graft journal: ", 17)) {
		line[strcspn(line, "\n")] = '\0';
		model_path = xstrdup(line + 17);
	}
	free(line);
	struct error e = {0};
	struct model *m = NULL;
	if (!model_path)
		fprintf(stderr, "graft: %s: not a graft journal\n", jpath);
	else if (!(m = format_open(model_path, NULL, &e)))
		fprintf(stderr, "graft: %s\n", e.msg);
	if (!m) {
		free(model_path);
		fclose(f);
		free(jpath);
		return EXIT_USAGE;
	}
	struct editor ed;
	editor_init(&ed, m);
	cli_load_type_libraries(&ed);
	/* the replay goes to a new journal that replaces the old one only once
	 * complete, so an interruption now loses nothing */
	char *tmp = xasprintf("%s.replay", jpath);
	int rc = editor_journal_open(&ed, tmp, &e);
	if (rc != 0) {
		fprintf(stderr, "graft: %s: %s\n", tmp, rc == 1 ? "in use by another graft" : e.msg);
		editor_free(&ed);
		free(tmp);
		free(model_path);
		fclose(f);
		free(jpath);
		return EXIT_USAGE;
	}
	char **lines;
	int nlines = read_lines(f, &lines);
	int n = replay(&ed, jpath, lines, nlines);
	for (int i = 0; i < nlines; i++)
		free(lines[i]);
	free(lines);
	if (rename(tmp, jpath) < 0)
		fprintf(stderr, "graft: %s: %s\n", jpath, strerror(errno));
	fclose(f);
	free(tmp);
	printf("graft: recovered %d command%s on %s\n", n, n == 1 ? "" : "s", model_path);
	free(model_path);
	int status = interactive(&ed, jpath);
	editor_free(&ed);
	return status;
}
