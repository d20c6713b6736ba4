/* fuzz_pth.c - a PyTorch checkpoint (the zip format or the older pickle
 * sequence), through a temporary file since the reader opens a path. The
 * file is made once per process and removed at exit. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/io_pth.h"
#include "tests/fuzz/fuzz.h"

static char tmp_path[] = "/tmp/graft-fuzz-pth-XXXXXX";
static int tmp_fd = -1;

static void remove_tmp(void)
{
	unlink(tmp_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tmp_fd < 0) {
		tmp_fd = mkstemp(tmp_path);
		if (tmp_fd < 0) {
			perror("fuzz_pth: mkstemp");
			abort();
		}
		atexit(remove_tmp);
	}
	if (ftruncate(tmp_fd, 0) < 0 || pwrite(tmp_fd, data, size, 0) != (ssize_t)size) {
		perror("fuzz_pth: writing the temporary file");
		abort();
	}
	struct error e = {0};
	pth_close(pth_open(tmp_path, &e));
	return 0;
}
