/* hub_json.h - the JSON files of a Hugging Face hub-style model folder
 * (model_folder.h): the shard index that says which file holds each
 * tensor, and config.json, read only to be shown. */
#ifndef GRAFT_HUB_JSON_H
#define GRAFT_HUB_JSON_H

#include <stddef.h>

#include "core/error.h"

/* Largest shard index graft reads (the index of a model with a hundred
 * thousand tensors is a few megabytes). */
#define HUB_INDEX_MAX_BYTES (64u << 20)
/* Largest config.json graft reads; a larger one is not shown. */
#define HUB_CONFIG_MAX_BYTES (4u << 20)

/* A shard index (model.safetensors.index.json): every tensor, and the file
 * of the folder that holds it. */
struct hub_index {
	char **tensors; /* the tensor names, in the index's order */
	int *shard;     /* tensors[i] is in shards[shard[i]] */
	int n;
	char **shards; /* the files named, each once, sorted by name */
	int nshards;
	int *by_name; /* the indices of tensors, sorted by name */
};

/* Parses the len bytes of a shard index: a JSON object whose "weight_map"
 * object maps each tensor name to a file name relative to the folder
 * ("metadata" and other members are ignored). Refuses, with ERR_INPUT and
 * a message that starts with `where` and names the tensor: no weight_map,
 * an empty one, a file name that is not a string, is empty, absolute or
 * has a ".." component, and a tensor listed twice. 0 with *ix filled (free
 * with hub_index_free), or -1 with e set and *ix empty. */
int hub_index_parse(const char *text, size_t len, const char *where, struct hub_index *ix,
                    struct error *e);
/* The index in ix->tensors of the tensor called name, or -1. */
int hub_index_find(const struct hub_index *ix, const char *name);
/* Frees what ix holds and empties it. */
void hub_index_free(struct hub_index *ix);

/* The len bytes of a config.json as one line to show: its top-level
 * members as "key=value" joined by ", ", in file order. Values are shown
 * as JSON, a long one cut with "..."; an object as "{N keys}"; at most
 * HUB_CONFIG_SHOWN members, then "(N more)". Control characters and bytes
 * that are not UTF-8 are escaped (text_escape_control). Malloc'd; NULL
 * when the text is not a JSON object. */
char *hub_config_text(const char *text, size_t len);
#define HUB_CONFIG_SHOWN 32

#endif
