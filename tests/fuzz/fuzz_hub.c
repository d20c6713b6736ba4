/* fuzz_hub.c - the JSON files of a model folder from memory: the input
 * read as a shard index (every tensor looked up again) and as a
 * config.json to show. */
#include <stdlib.h>

#include "io/hub_json.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e = {0};
	struct hub_index ix;
	if (hub_index_parse((const char *)data, size, "fuzz.json", &ix, &e) == 0) {
		for (int i = 0; i < ix.n; i++)
			if (hub_index_find(&ix, ix.tensors[i]) != i || ix.shard[i] >= ix.nshards)
				abort(); /* every tensor is found, in a shard named */
		hub_index_free(&ix);
	}
	free(hub_config_text((const char *)data, size));
	return 0;
}
