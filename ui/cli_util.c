/* cli_util.c - what the interactive front ends share: the type libraries
 * and the files kept under the XDG state directory. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "core/util.h"
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
