/* test_format.c - recognising model files by their first bytes before
 * their names (format.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/util.h"
#include "io/format.h"

static const char *srcdir = ".";
static char tmp_dir[512];

static char *tmp(const char *name)
{
	return xasprintf("%s/%s", tmp_dir, name);
}

/* Writes n bytes to tmp_dir/name; returns the malloc'd path. */
static char *write_tmp(const char *name, const void *data, size_t n)
{
	char *path = tmp(name);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(data, 1, n, f);
		fclose(f);
	}
	return path;
}

/* A copy of srcdir/from at tmp_dir/name; returns the malloc'd path. */
static char *copy_tmp(const char *from, const char *name)
{
	char *src = xasprintf("%s/%s", srcdir, from);
	FILE *f = fopen(src, "rb");
	struct strbuf sb = {0};
	char buf[65536];
	size_t got;
	while (f && (got = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_addn(&sb, buf, got);
	if (f)
		fclose(f);
	free(src);
	char *path = write_tmp(name, sb.s ? sb.s : "", sb.len);
	strbuf_free(&sb);
	return path;
}

static const char *recognised(const char *path)
{
	const struct format *f = format_recognise(path);
	return f ? f->name : "(none)";
}

static void test_bytes_before_names(void)
{
	char *st = copy_tmp("tests/data/safetensors/reference.safetensors", "weights.bin");
	char *zip = copy_tmp("tests/data/pth/state.pth", "model.json");
	char *pickle = copy_tmp("tests/data/pth/legacy.pth", "old.dat");
	static const char doc[] = "{\"root\":{\"type\": \"Module\"}}";
	char *json = write_tmp("arch.txt", doc, sizeof doc - 1);
	CHECK_STR(recognised(st), "safetensors");
	CHECK_STR(recognised(zip), "pth");
	CHECK_STR(recognised(pickle), "pth");
	/* '{' at byte 8, but no header length that fits the file */
	CHECK_STR(recognised(json), "json");

	struct error e = {0};
	struct model *m = format_open(st, NULL, &e);
	CHECK(m && m->has_weights);
	model_free(m);
	m = format_open(zip, NULL, &e);
	CHECK(m && m->has_weights);
	model_free(m);
	free(st);
	free(zip);
	free(pickle);
	free(json);
}

static void test_names_when_bytes_say_nothing(void)
{
	static const char junk[] = "not a model at all";
	char *pth = write_tmp("junk.pth", junk, sizeof junk - 1);
	char *missing = tmp("missing.safetensors");
	CHECK_STR(recognised(pth), "pth");
	CHECK_STR(recognised(missing), "safetensors");
	free(pth);
	free(missing);
}

static void test_unknown(void)
{
	static const char junk[] = "not a model at all";
	char *path = write_tmp("notes.xyz", junk, sizeof junk - 1);
	CHECK(format_recognise(path) == NULL);
	struct error e = {0};
	CHECK(format_open(path, NULL, &e) == NULL);
	CHECK_CONTAINS(e.msg, path);
	CHECK_CONTAINS(e.msg, "unknown model format");

	static const char doc[] = "{}";
	char *json = write_tmp("arch.json", doc, sizeof doc - 1);
	struct model *m = model_new("m");
	CHECK(format_attach_weights(m, json, &e) < 0);
	CHECK_CONTAINS(e.msg, json);
	CHECK_CONTAINS(e.msg, "not a weights file");
	CHECK(format_save(m, path, 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "unknown format");
	model_free(m);
	free(path);
	free(json);
}

int main(void)
{
	if (getenv("srcdir"))
		srcdir = getenv("srcdir");
	const char *t = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof tmp_dir, "%s/graft-test-format-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 2;
	}
	/* an empty zoo: plain tensors take the tree from their names */
	setenv("GRAFT_MODELS", tmp_dir, 1);
	RUN(test_bytes_before_names);
	RUN(test_names_when_bytes_say_nothing);
	RUN(test_unknown);
	static const char *const files[] = {"weights.bin", "model.json", "old.dat", "arch.txt",
					    "junk.pth", "notes.xyz", "arch.json"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char *p = tmp(files[i]);
		unlink(p);
		free(p);
	}
	rmdir(tmp_dir);
	return CHECK_DONE();
}
