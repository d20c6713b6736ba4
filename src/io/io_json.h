/* io_json.h - the graft JSON architecture format (doc/format.md), and a
 * small reader of JSON documents: the one module that uses cJSON. */
#ifndef GRAFT_IO_JSON_H
#define GRAFT_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/model.h"

/* Parses an architecture document of n bytes. `where` names its source in
 * messages ("resnet18.json"). The model has shapes for every tensor and no
 * storage; its weights path (if the document names one) must be relative
 * with no '..' and is resolved against `dir` (may be NULL). NULL with e set: "WHERE: module 'layer1.0': ...". */
struct model *json_load_model(const char *text, size_t n, const char *where, const char *dir,
			      struct error *e);

/* Serialises m's architecture; `weights` (may be NULL) is written as the
 * "weights" key. Returns a malloc'd, NUL-terminated document. */
char *json_save_model(const struct model *m, const char *weights);

/* A parsed JSON document, read through the functions below, for the
 * other file formats' JSON parts (a safetensors header). Nodes belong to
 * the document and live until json_free of its root. */
struct json_value;
enum json_kind {
	JSON_OTHER,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL
};
/* Parses the JSON value at the start of text[0..n). *end gets the offset
 * where the value ended or, on failure, where parsing stopped. NULL when
 * it is not valid JSON. */
struct json_value *json_parse(const char *text, size_t n, size_t *end);
/* At most the bytes parsing text[0..n) allocates (json_parse, or the
 * document json_load_model reads), counted before parsing so that a
 * reader can charge them to its file's budget (core/budget.h). */
size_t json_parse_cost(const char *text, size_t n);
void json_free(struct json_value *root);
enum json_kind json_kind(const struct json_value *v);
/* The first member or element of an object or array, and the one after
 * v: a loop is `for (v = json_first(a); v; v = json_next(v))`. */
const struct json_value *json_first(const struct json_value *container);
const struct json_value *json_next(const struct json_value *v);
/* The number of members or elements. */
int json_count(const struct json_value *container);
/* The member of obj named key (case-sensitive), or NULL. */
const struct json_value *json_member(const struct json_value *obj, const char *key);
/* The name of an object member. */
const char *json_key(const struct json_value *v);
/* A number's value; a string's text. */
double json_number(const struct json_value *v);
const char *json_text(const struct json_value *v);

#endif
