/* test_save.c - atomic saves (save.h): a pair lands both or neither, an
 * abort leaves nothing, a dangling symlink's target is created, an old
 * file's mode is kept. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/util.h"
#include "io/save.h"

static char tmp_dir[512];

static char *tmp(const char *name)
{
	return xasprintf("%s/%s", tmp_dir, name);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The file's first line, or "" when it cannot be read. */
static const char *get(const char *path)
{
	static char line[256];
	line[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(line, sizeof line, f))
			line[0] = '\0';
		fclose(f);
	}
	return line;
}

/* True when tmp_dir holds only the names listed (NULL-terminated). */
static bool only(const char *const *names)
{
	char *cmd = xasprintf("ls -A '%s'", tmp_dir);
	FILE *p = popen(cmd, "r");
	free(cmd);
	char line[512];
	bool ok = p != NULL;
	while (p && fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = '\0';
		bool listed = false;
		for (const char *const *n = names; *n; n++)
			listed = listed || strcmp(line, *n) == 0;
		if (!listed) {
			printf("  unexpected file %s\n", line);
			ok = false;
		}
	}
	if (p)
		pclose(p);
	return ok;
}

static void test_pair_lands_both(void)
{
	char *w = tmp("p.safetensors"), *j = tmp("p.json");
	put(w, "old weights\n");
	struct save_file a, b;
	struct error e = {0};
	CHECK(save_begin(&a, w, 0, &e) == 0);
	CHECK(save_begin(&b, j, 0, &e) == 0);
	CHECK(save_write(&a, "new weights\n", 12, &e) == 0);
	CHECK(save_write(&b, "new json\n", 9, &e) == 0);
	CHECK(save_commit_pair(&a, &b, &e) == 0);
	CHECK_STR(get(w), "new weights\n");
	CHECK_STR(get(j), "new json\n");
	static const char *const left[] = {"p.safetensors", "p.json", NULL};
	CHECK(only(left));
	unlink(w);
	unlink(j);
	free(w);
	free(j);
}

/* The second rename fails (its target became a non-empty folder after the
 * checks): the first file is put back as it was. */
static void test_pair_lands_neither(void)
{
	char *w = tmp("q.safetensors"), *j = tmp("q.json"), *inside = tmp("q.json/x");
	char *fresh = tmp("fresh.safetensors");
	put(w, "old weights\n");
	struct error e = {0};
	for (int round = 0; round < 2; round++) {
		/* round 0: the first file existed; round 1: it did not */
		const char *first = round == 0 ? w : fresh;
		struct save_file a, b;
		CHECK(save_begin(&a, first, 0, &e) == 0);
		CHECK(save_begin(&b, j, 0, &e) == 0);
		CHECK(save_write(&a, "new weights\n", 12, &e) == 0);
		CHECK(save_write(&b, "new json\n", 9, &e) == 0);
		CHECK(mkdir(j, 0755) == 0);
		put(inside, "x");
		CHECK(save_commit_pair(&a, &b, &e) < 0);
		CHECK_CONTAINS(e.msg, "q.json: cannot write");
		unlink(inside);
		rmdir(j);
	}
	CHECK_STR(get(w), "old weights\n");
	CHECK(access(fresh, F_OK) != 0);
	static const char *const left[] = {"q.safetensors", NULL};
	CHECK(only(left));
	unlink(w);
	free(w);
	free(j);
	free(inside);
	free(fresh);
}

static void test_abort_and_refusals(void)
{
	char *f = tmp("ro.pth"), *d = tmp("folder.pth");
	struct error e = {0};
	struct save_file sf;
	put(f, "old\n");
	CHECK(chmod(f, 0444) == 0);
	CHECK(save_begin(&sf, f, 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "read-only");
	CHECK(save_begin(&sf, f, SAVE_FORCE, &e) == 0);
	CHECK(save_write(&sf, "new\n", 4, &e) == 0);
	save_abort(&sf);
	CHECK_STR(get(f), "old\n");
	CHECK(save_file_atomic(f, "new\n", 4, SAVE_FORCE, &e) == 0);
	CHECK_STR(get(f), "new\n");
	struct stat st;
	CHECK(stat(f, &st) == 0 && (st.st_mode & 07777) == 0444);
	CHECK(mkdir(d, 0755) == 0);
	CHECK(save_begin(&sf, d, SAVE_FORCE, &e) < 0);
	CHECK_CONTAINS(e.msg, "folder.pth: is a folder");
	static const char *const left[] = {"ro.pth", "folder.pth", NULL};
	CHECK(only(left));
	unlink(f);
	rmdir(d);
	free(f);
	free(d);
}

static void test_dangling_symlink(void)
{
	char *link = tmp("l.safetensors"), *target = tmp("t.safetensors");
	struct error e = {0};
	CHECK(symlink("t.safetensors", link) == 0);
	CHECK(save_file_atomic(link, "bytes\n", 6, 0, &e) == 0);
	struct stat st;
	CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK_STR(get(target), "bytes\n");
	unlink(link);
	unlink(target);
	free(link);
	free(target);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof tmp_dir, "%s/graft-test-save-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(test_pair_lands_both);
	RUN(test_pair_lands_neither);
	RUN(test_abort_and_refusals);
	RUN(test_dangling_symlink);
	rmdir(tmp_dir);
	return CHECK_DONE();
}
