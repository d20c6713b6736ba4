/* fuzz.h - the entry point every fuzz target defines, as libFuzzer calls
 * it (make fuzz) and as replay.c calls it for each corpus file (make
 * check). A target returns 0 for every input; an input that crashes, leaks
 * or trips a sanitizer is a finding. */
#ifndef GRAFT_FUZZ_H
#define GRAFT_FUZZ_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif
