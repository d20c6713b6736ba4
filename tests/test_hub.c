/* test_hub.c - the JSON files of a model folder (hub_json.h): shard
 * indexes checked, config.json shown escaped and bounded. The folders
 * themselves are tested from the command line (test_hub.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/util.h"
#include "io/hub_json.h"

/* Parses text as an index; the message when it is refused, else "". */
static const char *parse(const char *text, struct hub_index *ix)
{
	static struct error e;
	e = (struct error){0};
	if (hub_index_parse(text, strlen(text), "m/index.json", ix, &e) < 0)
		return e.msg;
	return "";
}

static void test_index(void)
{
	struct hub_index ix;
	CHECK_STR(parse("{\"metadata\": {\"total_size\": 8},\n"
	                " \"weight_map\": {\"fc.weight\": \"b.safetensors\", \"conv.weight\": "
	                "\"a.safetensors\", \"fc.bias\": \"b.safetensors\"}}\n",
	                &ix),
	          "");
	CHECK(ix.n == 3 && ix.nshards == 2);
	CHECK_STR(ix.tensors[0], "fc.weight");
	CHECK_STR(ix.shards[0], "a.safetensors"); /* shards sorted by name */
	CHECK_STR(ix.shards[1], "b.safetensors");
	CHECK(ix.shard[0] == 1 && ix.shard[1] == 0 && ix.shard[2] == 1);
	CHECK(hub_index_find(&ix, "fc.bias") == 2);
	CHECK(hub_index_find(&ix, "conv.weight") == 1);
	CHECK(hub_index_find(&ix, "fc") == -1);
	hub_index_free(&ix);
	CHECK_STR(parse("{\"weight_map\": {\"x\": \"sub/x.bin\"}}", &ix), "");
	CHECK_STR(ix.shards[0], "sub/x.bin");
	hub_index_free(&ix);
}

static void test_index_refused(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"", "m/index.json: not valid JSON"},
	    {"{\"weight_map\": {}} x", "not valid JSON"},
	    {"[1]", "no \"weight_map\" object"},
	    {"{\"weight_map\": [\"a\"]}", "no \"weight_map\" object"},
	    {"{\"weight_map\": {}}", "the weight_map lists no tensors"},
	    {"{\"weight_map\": {\"a\": 1}}", "tensor 'a': the file is not a string"},
	    {"{\"weight_map\": {\"a\": \"\"}}", "file name '' is empty"},
	    {"{\"weight_map\": {\"a\": \"../x.safetensors\"}}",
	     "tensor 'a': file name '../x.safetensors' has a '..' component"},
	    {"{\"weight_map\": {\"a\": \"sub/../../x\"}}", "has a '..' component"},
	    {"{\"weight_map\": {\"a\": \"sub/..\"}}", "has a '..' component"},
	    {"{\"weight_map\": {\"a\": \"/etc/passwd\"}}", "'/etc/passwd' is absolute"},
	    {"{\"weight_map\": {\"a\": \"x\", \"b\": \"y\", \"a\": \"x\"}}",
	     "weight_map: tensor 'a' is listed twice"},
	    {"{\"weight_map\": {\"a\\u001b[2J\": \"/x\"}}", "tensor 'a\\x1b[2J'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hub_index ix;
		const char *msg = parse(cases[i].text, &ix);
		CHECK_CONTAINS(msg, cases[i].msg);
		CHECK(ix.n == 0 && !ix.tensors && !ix.shards);
	}
	/* names with dots that are not '..' components stay */
	struct hub_index ix;
	CHECK_STR(parse("{\"weight_map\": {\"a\": \"..x/.y/a..b\"}}", &ix), "");
	hub_index_free(&ix);
}

static void test_config(void)
{
	const char *text = "{\"architectures\": [\"ResNetForImageClassification\"],\n"
	                   " \"hidden_sizes\": [64, 128, 256, 512], \"num_labels\": 1000,\n"
	                   " \"id2label\": {\"0\": \"tench\"}, \"label2id\": {},\n"
	                   " \"use_cache\": true, \"pruned\": false, \"pad\": null,\n"
	                   " \"nested\": [[1], {\"a\": 1}], \"eps\": 1e-05}";
	char *s = hub_config_text(text, strlen(text));
	CHECK_STR(s, "architectures=[\"ResNetForImageClassification\"], "
	             "hidden_sizes=[64, 128, 256, 512], num_labels=1000, id2label={1 key}, "
	             "label2id={0 keys}, use_cache=true, pruned=false, pad=null, "
	             "nested=[[...], {...}], eps=1e-05");
	free(s);
	CHECK(!hub_config_text("[1, 2]", 6));
	CHECK(!hub_config_text("{\"a\": 1", 7));
	CHECK(!hub_config_text("", 0));
}

static void test_config_hostile(void)
{
	/* control characters escaped, in keys and values */
	const char *text =
	    "{\"k\\u001b]0;x\\u0007\": \"v\\u001b[31m\\r\\n\", \"c1\": \"\\u009b2J\"}";
	char *s = hub_config_text(text, strlen(text));
	CHECK_STR(s, "k\\x1b]0;x\\x07=\"v\\x1b[31m\\x0d\\x0a\", c1=\"\\u009b2J\"");
	free(s);
	/* a long value is cut, a long array stops early */
	struct strbuf sb = {0};
	strbuf_add(&sb, "{\"long\": \"");
	for (int i = 0; i < 10000; i++)
		strbuf_add(&sb, "\xc3\xa9"); /* é: cut between characters */
	strbuf_add(&sb, "\", \"many\": [");
	for (int i = 0; i < 100000; i++)
		strbuf_addf(&sb, "%s%d", i ? "," : "", i);
	strbuf_add(&sb, "]");
	for (int i = 0; i < 100; i++)
		strbuf_addf(&sb, ", \"k%d\": %d", i, i);
	strbuf_add(&sb, "}");
	s = hub_config_text(sb.s, sb.len);
	CHECK(s && strlen(s) < HUB_CONFIG_SHOWN * 140);
	CHECK_CONTAINS(s, "long=\"\xc3\xa9\xc3\xa9");
	CHECK_CONTAINS(s, "\xc3\xa9...");
	CHECK_CONTAINS(s, "many=[0, 1, 2, ");
	CHECK_CONTAINS(s, ", k29=29, (70 more)");
	CHECK(!strstr(s, "k30"));
	free(s);
	strbuf_free(&sb);
}

int main(void)
{
	RUN(test_index);
	RUN(test_index_refused);
	RUN(test_config);
	RUN(test_config_hostile);
	return CHECK_DONE();
}
