/* fuzz_pth.c - a PyTorch checkpoint from memory (the zip format or the
 * older pickle sequence), through pth_open_memory, which pth_open calls on
 * the file's mapping. */
#include "io/io_pth.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e = {0};
	pth_close(pth_open_memory(data, size, "fuzz.pth", &e));
	return 0;
}
