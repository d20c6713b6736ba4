/* cli_util.c - what the front ends share: opening the model named on the
 * command line, the type libraries and the files kept under the XDG state
 * directory. */
#include "config.h"

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

void cli_load_type_libraries(struct editor *ed)
{
	struct error e = {0};
	const char *env = getenv("GRAFT_TYPES");
	char *local = path_beside_exe("lib/types.graft");
	const char *shipped = env                                  ? env
	                      : local && access(local, R_OK) == 0 ? local
	                                                           : GRAFT_DATADIR "/types.graft";
	if (editor_load_types(ed, shipped, true, &e) < 0)
		fprintf(stderr, "graft: %s\n", e.msg);
	free(local);
	const char *cfg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char user[4096];
	if (cfg && *cfg)
		snprintf(user, sizeof user, "%s/graft/types.graft", cfg);
	else
		snprintf(user, sizeof user, "%s/.config/graft/types.graft", home ? home : ".");
	if (editor_load_types(ed, user, true, &e) < 0)
		fprintf(stderr, "graft: %s\n", e.msg);
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

struct model *cli_open_model(const char *path, const char *weights, const char *input)
{
	struct error e = {0};
	struct model *m = format_open(path, weights, &e);
	if (!m) {
		fprintf(stderr, "graft: %s\n", e.msg);
		return NULL;
	}
	if (input) {
		struct shape s;
		if (shape_parse(input, &s, &e) < 0 || m->ninputs == 0) {
			fprintf(stderr, "graft: --input: %s\n",
			        m->ninputs ? e.msg : "the model has no inputs");
			model_free(m);
			return NULL;
		}
		m->inputs[0].shape = s;
	}
	return m;
}
