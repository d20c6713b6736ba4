/* fuzz_npy.c - an .npy image from memory. */
#include "io/io_npy.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e = {0};
	struct tensor t;
	if (npy_parse(data, size, &t, &e) == 0)
		tensor_release(&t);
	return 0;
}
