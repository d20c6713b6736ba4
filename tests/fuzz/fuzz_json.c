/* fuzz_json.c - a graft JSON architecture from memory: parsed, shape
 * checked and written back out. */
#include <stdlib.h>

#include "core/model.h"
#include "core/shape.h"
#include "io/io_json.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e = {0};
	struct model *m = json_load_model((const char *)data, size, "fuzz.json", NULL, &e);
	if (!m)
		return 0;
	struct shape_result r;
	shape_pass(m, &r);
	shape_result_free(&r);
	free(json_save_model(m, m->weights_path));
	model_free(m);
	return 0;
}
