/* test_registry_kernels.c - the registry and the kernel table agree: every
 * module type and function graft checks can also run, and every kernel
 * computes an op the registry knows (and of the same kind). */
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "core/registry.h"
#include "exec/kernels.h"

/* Entries without a kernel: the shape pass knows them, but `graft run`
 * never meets them as operations, or cannot run them yet. */
static const char *const shape_only[] = {
    /* Python-level values computed while planning (ints, bools, tuples):
     * comparisons, assertions and tensor attributes fold to constants. */
    "eq", "ne", "lt", "le", "gt", "ge", "not_", "mod", "_assert", "getattr", "size", "dim", "numel",
    /* Not written yet: `graft run` stops at it with "no kernel". */
    "scaled_dot_product_attention",
    /* Refused by their shape rules: random pooling regions on every call. */
    "fractional_max_pool2d", "fractional_max_pool3d",
};

static bool is_shape_only(const char *name)
{
	for (size_t i = 0; i < sizeof shape_only / sizeof *shape_only; i++)
		if (strcmp(shape_only[i], name) == 0)
			return true;
	return false;
}

static void test_every_entry_has_a_kernel(void)
{
	for (int kind = OP_MODULE; kind <= OP_FUNCTION; kind++) {
		int n;
		const struct op_def *const *defs = registry_all((enum op_kind)kind, &n);
		for (int i = 0; i < n; i++) {
			bool has = kernels_find(defs[i]->name, (enum op_kind)kind) != NULL;
			if (has == is_shape_only(defs[i]->name))
				printf("  %s: %s\n", defs[i]->name,
				       has ? "has a kernel but is listed as shape-only"
				           : "has no kernel and is not listed as shape-only");
			CHECK(has != is_shape_only(defs[i]->name));
		}
	}
}

static void test_every_kernel_has_an_entry(void)
{
	int count = 0;
	for (const struct kernel *const *t = kernels_tables; *t; t++)
		for (const struct kernel *k = *t; k->name; k++, count++) {
			const struct op_def *d = k->kind == OP_MODULE ? registry_module(k->name)
			                                              : registry_function(k->name);
			if (!d)
				printf("  kernel %s names no registry entry\n", k->name);
			CHECK(d != NULL);
			/* The first kernel of that name and kind is the one found. */
			CHECK(kernels_find(k->name, k->kind) == k);
		}
	CHECK(count > 50);
}

static void test_shape_only_entries_exist(void)
{
	for (size_t i = 0; i < sizeof shape_only / sizeof *shape_only; i++)
		CHECK(registry_function(shape_only[i]) != NULL);
}

int main(void)
{
	RUN(test_every_entry_has_a_kernel);
	RUN(test_every_kernel_has_an_entry);
	RUN(test_shape_only_entries_exist);
	return CHECK_DONE();
}
