/* editor.c - the editor's entry points: running one command line (with
 * its snapshot, undo record and journal line), the script of the edits in
 * effect, type libraries and the journal. The commands themselves are the
 * table in cmd.c. */
#include "edit/edit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "edit/cmd.h"
#include "edit/edit_ops.h"
#include "core/ties.h"

void editor_journal_add(struct editor *ed, const char *line)
{
	if (!ed->journal)
		return;
	fprintf(ed->journal, "%s\n", line);
	fflush(ed->journal);
}

int editor_run(struct editor *ed, const char *line, struct strbuf *out, struct error *e)
{
	struct cmd_words words;
	if (cmd_split_line(line, &words, e) < 0)
		return -1;
	char **w = words.w;
	int n = words.n, rc = 0;
	const struct cmd_def *c = n ? cmd_find(w[0]) : NULL;
	if (!n) {
		/* a blank line or a comment */
	} else if (!c) {
		const char *near = cmd_near(w[0]);
		if (near)
			rc = error_set(e, "unknown command '%s' (did you mean '%s'?)", w[0], near);
		else
			rc = error_set(e, "unknown command '%s' (see 'help')", w[0]);
	} else if (cmd_check_args(&c->spec, w, n, e) < 0) {
		rc = -1;
	} else if (c->changes) {
		edit_begin(ed);
		rc = c->run(ed, w, n, line, out, e);
		if (rc < 0) {
			edit_abort(ed);
		} else {
			ties_sync(ed->model->root, out);
			/* the canonical text of the command, without comments */
			struct strbuf sb = {0};
			for (int i = 0; i < n; i++)
				strbuf_addf(&sb, "%s%s", i ? " " : "", w[i]);
			edit_commit(ed, sb.s);
			editor_journal_add(ed, sb.s);
			strbuf_free(&sb);
		}
	} else {
		rc = c->run(ed, w, n, line, out, e);
		if (rc == 0 && c->journal)
			editor_journal_add(ed, line);
	}
	cmd_words_free(&words);
	return rc;
}

void editor_script(const struct editor *ed, struct strbuf *out)
{
	strbuf_addf(out, "# graft script: reproduces the edits of %s\n",
		    ed->model->path ? ed->model->path : ed->model->name);
	for (int i = 0; i < ed->ndefines; i++)
		strbuf_addf(out, "%s\n", ed->defines[i]);
	for (int i = 0; i < ed->nlog; i++)
		strbuf_addf(out, "%s\n", ed->log[i]);
}

int editor_load_types(struct editor *ed, const char *path, bool optional, struct error *e)
{
	return type_lib_load(&ed->types, path, optional, e);
}

/* Empties f and writes the header naming the model as it is on disk. */
static void journal_header(const struct editor *ed, FILE *f)
{
	rewind(f);
	if (ftruncate(fileno(f), 0) < 0)
		return; /* the header below still overwrites the start */
	char *abs = ed->model->path ? realpath(ed->model->path, NULL) : NULL;
	fprintf(f, "# graft journal: %s\n",
		abs ? abs : ed->model->path ? ed->model->path : ed->model->name);
	free(abs);
	fflush(f);
}

int editor_journal_open(struct editor *ed, const char *path, struct error *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(e, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK)
			return 1;
		return error_set(e, "%s: cannot lock: %s", path, strerror(err));
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return error_set(e, "%s: %s", path, strerror(errno));
	}
	journal_header(ed, f);
	if (ed->journal)
		fclose(ed->journal);
	ed->journal = f;
	return 0;
}

void editor_journal_reset(struct editor *ed)
{
	if (ed->journal)
		journal_header(ed, ed->journal);
}
