/* fuzz_pickle.c - the safe unpickler alone, on every pickle in a row (as
 * the pre-1.6 checkpoint format has them). */
#include "io/pickle.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct budget budget;
	budget_init(&budget, size);
	size_t at = 0;
	while (at < size) {
		struct error e = {0};
		struct pk_doc doc;
		size_t used = 0;
		if (pk_load(data + at, size - at, "fuzz.pkl", &budget, &doc, &used, &e) < 0)
			break;
		char what[256];
		pk_describe(doc.root, what, sizeof what);
		pk_doc_free(&doc);
		if (used == 0)
			break;
		at += used;
	}
	return 0;
}
