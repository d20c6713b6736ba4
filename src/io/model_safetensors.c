/* model_safetensors.c - safetensors files as models, as weights, and
 * bundles written with the architecture inside. */
#include "io/model_safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/io_json.h"
#include "io/io_safetensors.h"
#include "io/save.h"
#include "io/zoo.h"

bool st_recognise(const unsigned char *head, size_t n, unsigned long long size)
{
	if (n < 9 || head[8] != '{')
		return false;
	uint64_t len = 0;
	for (int i = 7; i >= 0; i--)
		len = len << 8 | head[i];
	return len <= size - 8;
}

/* Parallel arrays of names and tensors over f's entries; free both. */
static void entry_arrays(const struct st_file *f, const char ***names,
			 const struct tensor ***tensors)
{
	*names = xcalloc((size_t)f->n + 1, sizeof **names);
	*tensors = xcalloc((size_t)f->n + 1, sizeof **tensors);
	for (int i = 0; i < f->n; i++) {
		(*names)[i] = f->entries[i].name;
		(*tensors)[i] = &f->entries[i].t;
	}
}

struct model *st_model_open(const char *path, struct error *e)
{
	struct st_file *f = st_open(path, e);
	if (!f)
		return NULL;
	const char *arch = st_meta_get(f, "graft");
	struct model *m;
	if (arch) {
		char *where = xasprintf("%s (architecture in __metadata__)", path);
		m = json_load_model(arch, strlen(arch), where, NULL, e);
		free(where);
		if (m) {
			free(m->weights_path);
			m->weights_path = xstrdup(path);
		}
	} else {
		const char **names;
		const struct tensor **tensors;
		entry_arrays(f, &names, &tensors);
		m = zoo_open_tensors(path, names, tensors, f->n, e);
		free(names);
		free(tensors);
	}
	st_close(f);
	return m;
}

int st_model_attach(struct model *m, const char *path, struct error *e)
{
	struct st_file *f = st_open(path, e);
	if (!f)
		return -1;
	const char **names;
	const struct tensor **tensors;
	entry_arrays(f, &names, &tensors);
	int rc = model_bind_tensors(m, names, tensors, f->n, path, e);
	free(names);
	free(tensors);
	st_close(f);
	return rc;
}

int st_model_save(const struct model *m, const char *path, unsigned flags, struct error *e)
{
	char **names;
	const struct tensor **tensors;
	int n = model_state_dict(m, &names, &tensors);
	int rc = save_check_storage(names, tensors, n, path, e);
	struct save_file sf;
	if (rc == 0)
		rc = save_begin(&sf, path, flags, e);
	if (rc == 0) {
		/* a model whose forward is unknown has no architecture to keep:
		 * its tensors reopen as the same tree */
		char *arch = m->has_forward ? json_save_model(m, NULL) : NULL;
		struct st_meta meta = {.key = "graft", .value = arch};
		rc = st_write_to(&sf, (const char *const *)names, tensors, n, arch ? &meta : NULL,
				 arch ? 1 : 0, e);
		free(arch);
		rc = save_end(&sf, rc, e);
	}
	save_state_dict_free(names, tensors, n);
	return rc;
}
