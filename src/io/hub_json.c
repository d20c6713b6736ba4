/* hub_json.c - a hub folder's shard index, checked, and its config.json
 * as a line to show. */
#include "io/hub_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "core/util.h"
#include "io/io_json.h"

/* Longest value hub_config_text shows, in bytes after escaping. */
#define VALUE_MAX 60

/* The JSON document that is all of text[0..len) (white space may follow
 * the value), or NULL. */
static struct json_value *parse_whole(const char *text, size_t len)
{
	size_t end;
	struct json_value *root = json_parse(text, len, &end);
	while (root && end < len && text[end] && strchr(" \t\r\n", text[end]))
		end++;
	if (root && end != len) {
		json_free(root);
		return NULL;
	}
	return root;
}

/* NULL when a file name from the index stays in the folder, else why not. */
static const char *bad_file_name(const char *name)
{
	if (!*name)
		return "is empty";
	if (name[0] == '/')
		return "is absolute";
	for (const char *p = name; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return "has a '..' component";
	}
	return NULL;
}

struct named {
	const char *name;
	int index;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* order[0..n): the indices of names[0..n), sorted by name (equal names by
 * index). Malloc'd. */
static int *sorted_order(const char *const *names, int n)
{
	struct named *v = xcalloc((size_t)n + 1, sizeof *v);
	for (int i = 0; i < n; i++)
		v[i] = (struct named){names[i], i};
	if (n > 1)
		qsort(v, (size_t)n, sizeof *v, cmp_named);
	int *order = xcalloc((size_t)n + 1, sizeof *order);
	for (int i = 0; i < n; i++)
		order[i] = v[i].index;
	free(v);
	return order;
}

/* Reads weight_map's members into ix (shards not yet numbered). */
static int read_weight_map(const struct json_value *map, const char *where, struct hub_index *ix,
                           const char ***files, struct error *e)
{
	int n = json_count(map);
	ix->tensors = xcalloc((size_t)n + 1, sizeof *ix->tensors);
	ix->shard = xcalloc((size_t)n + 1, sizeof *ix->shard);
	*files = xcalloc((size_t)n + 1, sizeof **files);
	for (const struct json_value *v = json_first(map); v; v = json_next(v)) {
		const char *name = json_key(v);
		if (json_kind(v) != JSON_STRING)
			return error_setk(e, ERR_INPUT,
			                  "%s: weight_map: tensor '%s': the file is not a string",
			                  where, name);
		const char *why = bad_file_name(json_text(v));
		if (why)
			return error_setk(e, ERR_INPUT,
			                  "%s: weight_map: tensor '%s': file name '%s' %s (the "
			                  "shards must be in the folder)",
			                  where, name, json_text(v), why);
		ix->tensors[ix->n] = xstrdup(name);
		(*files)[ix->n] = json_text(v);
		ix->n++;
	}
	return 0;
}

/* Refuses a tensor listed twice; numbers the shards in name order. */
static int number_shards(const char *const *files, const char *where, struct hub_index *ix,
                         struct error *e)
{
	ix->by_name = sorted_order((const char *const *)ix->tensors, ix->n);
	for (int i = 1; i < ix->n; i++)
		if (strcmp(ix->tensors[ix->by_name[i - 1]], ix->tensors[ix->by_name[i]]) == 0)
			return error_setk(e, ERR_INPUT,
			                  "%s: weight_map: tensor '%s' is listed twice", where,
			                  ix->tensors[ix->by_name[i]]);
	int *order = sorted_order(files, ix->n);
	ix->shards = xcalloc((size_t)ix->n + 1, sizeof *ix->shards);
	for (int i = 0; i < ix->n; i++) {
		const char *file = files[order[i]];
		if (i == 0 || strcmp(files[order[i - 1]], file) != 0)
			ix->shards[ix->nshards++] = xstrdup(file);
		ix->shard[order[i]] = ix->nshards - 1;
	}
	free(order);
	return 0;
}

int hub_index_parse(const char *text, size_t len, const char *where, struct hub_index *ix,
                    struct error *e)
{
	*ix = (struct hub_index){0};
	struct json_value *root = parse_whole(text, len);
	if (!root)
		return error_setk(e, ERR_INPUT, "%s: not valid JSON", where);
	const struct json_value *map =
	    json_kind(root) == JSON_OBJECT ? json_member(root, "weight_map") : NULL;
	const char **files = NULL;
	int rc;
	if (!map || json_kind(map) != JSON_OBJECT)
		rc = error_setk(e, ERR_INPUT, "%s: no \"weight_map\" object (not a shard index)",
		                where);
	else if (json_count(map) == 0)
		rc = error_setk(e, ERR_INPUT, "%s: the weight_map lists no tensors", where);
	else
		rc = read_weight_map(map, where, ix, &files, e) < 0
		         ? -1
		         : number_shards(files, where, ix, e);
	free(files);
	json_free(root);
	if (rc < 0)
		hub_index_free(ix);
	return rc;
}

int hub_index_find(const struct hub_index *ix, const char *name)
{
	int lo = 0, hi = ix->n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(ix->tensors[ix->by_name[mid]], name);
		if (c == 0)
			return ix->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void hub_index_free(struct hub_index *ix)
{
	for (int i = 0; i < ix->n; i++)
		free(ix->tensors[i]);
	for (int i = 0; i < ix->nshards; i++)
		free(ix->shards[i]);
	free(ix->tensors);
	free(ix->shard);
	free(ix->shards);
	free(ix->by_name);
	*ix = (struct hub_index){0};
}

/* Appends v as JSON, unescaped, stopping once sb holds more than
 * VALUE_MAX bytes; an object is "{N keys}", a container in an array
 * "[...]" or "{...}". */
static void add_value(struct strbuf *sb, const struct json_value *v, bool top)
{
	switch (json_kind(v)) {
	case JSON_NUMBER:
		strbuf_addf(sb, "%.15g", json_number(v));
		break;
	case JSON_STRING:
		strbuf_addf(sb, "\"%s\"", json_text(v));
		break;
	case JSON_TRUE:
		strbuf_add(sb, "true");
		break;
	case JSON_FALSE:
		strbuf_add(sb, "false");
		break;
	case JSON_NULL:
		strbuf_add(sb, "null");
		break;
	case JSON_OBJECT:
		if (top)
			strbuf_addf(sb, "{%d key%s}", json_count(v), json_count(v) == 1 ? "" : "s");
		else
			strbuf_add(sb, "{...}");
		break;
	case JSON_ARRAY:
		if (!top) {
			strbuf_add(sb, "[...]");
			break;
		}
		strbuf_add(sb, "[");
		for (const struct json_value *x = json_first(v); x && sb->len <= VALUE_MAX;
		     x = json_next(x)) {
			add_value(sb, x, false);
			if (json_next(x))
				strbuf_add(sb, ", ");
		}
		strbuf_add(sb, "]");
		break;
	case JSON_OTHER:
		strbuf_add(sb, "?");
		break;
	}
}

/* Appends s escaped, cut to at most max bytes with "..." when longer. */
static void add_escaped_cut(struct strbuf *out, const char *s, size_t max)
{
	struct strbuf sb = {0};
	text_escape_control(&sb, s);
	if (sb.len > max) {
		size_t cut = max;
		while (cut > 0 && ((unsigned char)sb.s[cut] & 0xC0) == 0x80)
			cut--; /* the escaped text is UTF-8: cut between characters */
		strbuf_addn(out, sb.s, cut);
		strbuf_add(out, "...");
	} else {
		strbuf_add(out, sb.len ? sb.s : "");
	}
	strbuf_free(&sb);
}

char *hub_config_text(const char *text, size_t len)
{
	struct json_value *root = parse_whole(text, len);
	if (!root || json_kind(root) != JSON_OBJECT) {
		json_free(root);
		return NULL;
	}
	struct strbuf out = {0};
	int shown = 0;
	for (const struct json_value *v = json_first(root); v && shown < HUB_CONFIG_SHOWN;
	     v = json_next(v), shown++) {
		struct strbuf value = {0};
		add_value(&value, v, true);
		if (shown)
			strbuf_add(&out, ", ");
		add_escaped_cut(&out, json_key(v), VALUE_MAX);
		strbuf_add(&out, "=");
		add_escaped_cut(&out, value.s, VALUE_MAX);
		strbuf_free(&value);
	}
	int count = json_count(root);
	if (count > shown)
		strbuf_addf(&out, "%s(%d more)", shown ? ", " : "", count - shown);
	json_free(root);
	return strbuf_take(&out);
}
