/* budget.c - the memory budget of opening one file. */
#include "core/budget.h"

#include "core/util.h"

void budget_init(struct budget *b, size_t file_size)
{
	size_t limit;
	if (__builtin_mul_overflow(file_size, (size_t)BUDGET_PER_BYTE, &limit) ||
	    __builtin_add_overflow(limit, BUDGET_FLOOR, &limit))
		limit = (size_t)-1;
	*b = (struct budget){.file_size = file_size, .limit = limit};
}

int budget_spend(struct budget *b, size_t bytes, struct error *e)
{
	if (bytes <= b->limit - b->used) {
		b->used += bytes;
		return 0;
	}
	char limit[32], size[32], floor[32];
	fmt_bytes((double)b->limit, limit, sizeof limit);
	fmt_bytes((double)b->file_size, size, sizeof size);
	fmt_bytes((double)BUDGET_FLOOR, floor, sizeof floor);
	return error_set(e,
	                 "reading it would take more than %s of memory (the budget for a file "
	                 "of %s: %d times its size plus %s)",
	                 limit, size, BUDGET_PER_BYTE, floor);
}
