/* cli_util.c - what the front ends share: opening the model named on the
 * command line, the type libraries and the files kept under the XDG state
 * directory. */
#include "config.h"

#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "core/model.h"
#include "core/util.h"
#include "io/format.h"
#include "edit/edit.h"

bool cli_locale_utf8(void)
{
	setlocale(LC_CTYPE, "");
	return strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
}

void cli_load_types(struct type_lib *lib)
{
	struct error e = {0};
	const char *env = getenv("GRAFT_TYPES");
	char *local = path_beside_exe("lib/types.graft");
	const char *shipped = env                                  ? env
	                      : local && access(local, R_OK) == 0 ? local
	                                                           : GRAFT_DATADIR "/types.graft";
	if (type_lib_load(lib, shipped, true, &e) < 0)
		fprintf(stderr, "graft: %s\n", e.msg);
	free(local);
	const char *cfg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char user[4096];
	if (cfg && *cfg)
		snprintf(user, sizeof user, "%s/graft/types.graft", cfg);
	else
		snprintf(user, sizeof user, "%s/.config/graft/types.graft", home ? home : ".");
	if (type_lib_load(lib, user, true, &e) < 0)
		fprintf(stderr, "graft: %s\n", e.msg);
}

void cli_load_type_libraries(struct editor *ed)
{
	cli_load_types(&ed->types);
}

char *cli_state_path(const char *file)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char dir[4096];
	if (state && *state)
		snprintf(dir, sizeof dir, "%s/graft", state);
	else
		snprintf(dir, sizeof dir, "%s/.local/state/graft", home ? home : ".");
	/* mkdir -p */
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	}
	mkdir(dir, 0700);
	return xasprintf("%s/%s", dir, file);
}

/* True when the journal at path holds lines after its header: edits a
 * crashed graft left for --recover. */
static bool journal_has_edits(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	int c, lines = 0;
	while ((c = getc(f)) != EOF && lines < 2)
		lines += c == '\n';
	fclose(f);
	return lines >= 2;
}

char *cli_journal_open(struct editor *ed)
{
	struct error e = {0};
	char *path = cli_state_path("journal.graft");
	/* 1 (in use) also when it holds edits still to recover */
	int rc = journal_has_edits(path) ? 1 : editor_journal_open(ed, path, &e);
	if (rc == 1) {
		char name[64];
		snprintf(name, sizeof name, "journal.%ld.graft", (long)getpid());
		free(path);
		path = cli_state_path(name);
		rc = editor_journal_open(ed, path, &e);
	}
	if (rc == 0)
		return path;
	if (rc == 1)
		error_set(&e, "%s: in use by another graft", path);
	fprintf(stderr, "graft: no journal: %s\n", e.msg);
	free(path);
	return NULL;
}

/* The command that recovers the journal at path. */
static void recover_hint(const char *path, char *buf, size_t size)
{
	char *usual = cli_state_path("journal.graft");
	snprintf(buf, size, "graft --recover%s%s", strcmp(path, usual) ? " " : "",
	         strcmp(path, usual) ? path : "");
	free(usual);
}

void cli_journal_close(const struct editor *ed, char *path)
{
	if (!path)
		return;
	if (!ed->dirty) {
		unlink(path);
	} else {
		char hint[4200];
		recover_hint(path, hint, sizeof hint);
		fprintf(stderr, "graft: unsaved edits are kept in %s; '%s' restores them\n", path,
		        hint);
	}
	free(path);
}

struct model *cli_open_model(const char *path, const char *weights, const char *const *inputs,
                             int n)
{
	struct error e = {0};
	struct model *m = format_open(path, weights, &e);
	if (!m) {
		fprintf(stderr, "graft: %s\n", e.msg);
		return NULL;
	}
	if (cli_inputs_apply(m, inputs, n) < 0) {
		model_free(m);
		return NULL;
	}
	return m;
}

const char *cli_call_name(const struct module *m, int call, int output, bool several, char *buf,
                          size_t size)
{
	char path[2048];
	module_path_buf(m, path, sizeof path);
	int l = snprintf(buf, size, "%s", path[0] ? path : "(root)");
	if (call > 0 && l >= 0 && (size_t)l < size)
		l += snprintf(buf + l, size - (size_t)l, " #%d", call + 1);
	if (several && l >= 0 && (size_t)l < size)
		snprintf(buf + l, size - (size_t)l, " [%d]", output);
	return buf;
}
