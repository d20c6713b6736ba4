/* fuzz_safetensors.c - a safetensors file from memory: header checks and
 * the name index over every entry. */
#include "io/io_safetensors.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e = {0};
	struct st_file *f = st_open_memory(data, size, "fuzz.safetensors", &e);
	if (!f)
		return 0;
	for (int i = 0; i < f->n; i++)
		st_find(f, f->entries[i].name);
	for (int i = 0; i < f->nmeta; i++)
		st_meta_get(f, f->meta[i].key);
	st_close(f);
	return 0;
}
