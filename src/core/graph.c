/* graph.c - forward graphs: building, lookup and binding to a module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/registry.h"
#include "core/text.h"
#include "core/util.h"

static const char *const node_op_names[] = {
	[NODE_PLACEHOLDER] = "placeholder",     [NODE_CALL_MODULE] = "call_module",
	[NODE_CALL_FUNCTION] = "call_function", [NODE_CALL_METHOD] = "call_method",
	[NODE_GET_ATTR] = "get_attr",           [NODE_OUTPUT] = "output",
};

const char *node_op_name(enum node_op op)
{
	return node_op_names[op];
}

int node_op_parse(const char *s, enum node_op *out)
{
	for (int i = 0; i < (int)(sizeof node_op_names / sizeof node_op_names[0]); i++) {
		if (strcmp(s, node_op_names[i]) == 0) {
			*out = (enum node_op)i;
			return 0;
		}
	}
	return -1;
}

struct graph *graph_new(void)
{
	return xcalloc(1, sizeof(struct graph));
}

void graph_free(struct graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n; i++) {
		struct graph_node *nd = &g->nodes[i];
		free(nd->name);
		free(nd->target);
		for (int a = 0; a < nd->nargs; a++)
			value_free(&nd->args[a]);
		free(nd->args);
		for (int k = 0; k < nd->nkwargs; k++) {
			free(nd->kwargs[k].name);
			value_free(&nd->kwargs[k].value);
		}
		free(nd->kwargs);
		value_free(&nd->out);
	}
	free(g->nodes);
	free(g);
}

struct graph_node *graph_add(struct graph *g, char *name, enum node_op op, char *target)
{
	xgrow(&g->nodes, &g->cap, g->n + 1, sizeof *g->nodes);
	struct graph_node *nd = &g->nodes[g->n++];
	memset(nd, 0, sizeof *nd);
	nd->name = name;
	nd->op = op;
	nd->target = target;
	nd->attr_index = -1;
	return nd;
}

int graph_find(const struct graph *g, const char *name)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->nodes[i].name, name) == 0)
			return i;
	return -1;
}

/* Resolves a dotted get_attr target "a.b.weight" below m: the longest
 * module prefix that exists, then a parameter whose name is the rest (so
 * "self_attention.out_proj.weight" finds a parameter named
 * "out_proj.weight" on self_attention). */
static int bind_get_attr(struct module *m, struct graph_node *nd)
{
	char *path = xstrdup(nd->target);
	for (long cut = (long)strlen(path); cut >= 0; cut--) {
		if (cut > 0 && path[cut] != '.')
			continue;
		const char *pname = cut == 0 ? nd->target : nd->target + cut + 1;
		struct module *owner = m;
		if (cut > 0) {
			path[cut] = '\0';
			owner = module_find(m, path);
			path[cut] = '.';
		}
		struct param *p = owner ? module_param(owner, pname) : NULL;
		if (p) {
			nd->attr_owner = owner;
			nd->attr_index = (int)(p - owner->params);
			free(path);
			return 0;
		}
	}
	free(path);
	return -1;
}

/* " (did you mean 'a', 'b' or 'c'?)": the known functions closest to
 * `name`, up to three within text_did_you_mean's reach; "" when none is. */
static void function_hint(const char *name, char *buf, size_t size)
{
	int n, best[3], dist[3], nbest = 0;
	const struct op_def *const *defs = registry_all(OP_FUNCTION, &n);
	int limit = (int)strlen(name) / 2 + 1;
	limit = limit < 3 ? limit : 3;
	for (int i = 0; i < n; i++) {
		int d = text_distance(name, defs[i]->name), at = nbest;
		if (d > limit)
			continue;
		while (at > 0 && dist[at - 1] > d)
			at--;
		if (at == 3)
			continue;
		if (nbest < 3)
			nbest++;
		memmove(&best[at + 1], &best[at], (size_t)(nbest - 1 - at) * sizeof *best);
		memmove(&dist[at + 1], &dist[at], (size_t)(nbest - 1 - at) * sizeof *dist);
		best[at] = i;
		dist[at] = d;
	}
	buf[0] = '\0';
	if (!nbest)
		return;
	struct strbuf sb = {0};
	strbuf_add(&sb, " (did you mean ");
	for (int i = 0; i < nbest; i++)
		strbuf_addf(&sb, "%s'%s'", i == 0 ? "" : i == nbest - 1 ? " or " : ", ",
		            defs[best[i]]->name);
	strbuf_add(&sb, "?)");
	snprintf(buf, size, "%s", sb.s);
	strbuf_free(&sb);
}

int graph_bind(struct module *m, struct error *e)
{
	struct graph *g = m->forward;
	char where[512];
	module_path_buf(m, where, sizeof where);
	const char *at = where[0] ? where : "the root module";
	if (g->n == 0 || g->nodes[g->n - 1].op != NODE_OUTPUT)
		return error_set(e, "%s: forward graph does not end with an output node", at);
	for (int i = 0; i < g->n; i++) {
		struct graph_node *nd = &g->nodes[i];
		switch (nd->op) {
		case NODE_PLACEHOLDER:
			break;
		case NODE_CALL_MODULE:
			nd->callee = module_find(m, nd->target);
			if (!nd->callee || nd->callee == m)
				return error_set(e, "%s: forward node '%s' calls '%s', which is not a child",
						 at, nd->name, nd->target);
			break;
		case NODE_CALL_FUNCTION:
		case NODE_CALL_METHOD:
			nd->fn = registry_function(nd->target);
			if (!nd->fn) {
				char hint[256];
				function_hint(nd->target, hint, sizeof hint);
				return error_set(e, "%s: forward node '%s' calls unknown %s '%s'%s", at,
						 nd->name,
						 nd->op == NODE_CALL_METHOD ? "method" : "function",
						 nd->target, hint);
			}
			break;
		case NODE_GET_ATTR:
			if (bind_get_attr(m, nd) < 0)
				return error_set(e, "%s: forward node '%s' reads '%s', which is not a parameter or buffer",
						 at, nd->name, nd->target);
			break;
		case NODE_OUTPUT:
			if (i != g->n - 1)
				return error_set(e, "%s: forward graph has an output node '%s' before its end",
						 at, nd->name);
			if (nd->nargs < 1)
				return error_set(e, "%s: output node '%s' returns nothing", at, nd->name);
			break;
		}
	}
	return 0;
}
