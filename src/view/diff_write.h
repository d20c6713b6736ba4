/* diff_write.h - a model diff (diff.h) as text for people or JSON for
 * programs. */
#ifndef GRAFT_DIFF_WRITE_H
#define GRAFT_DIFF_WRITE_H

#include <stdbool.h>
#include <stdio.h>

#include "core/util.h"
#include "view/diff.h"

struct diff_write_opts {
	bool json;
	int limit; /* text: lines a section lists before "N more"; -1: all */
};

/* Text: a summary (module changes with the type changes grouped, tensor
 * counts, parameter totals), then the changed modules, the changed tensors
 * and the identical ones (as the largest modules whose tensors are all
 * identical). JSON: every module change and every tensor, with the counts
 * and totals. Names from the files are escaped in the text. */
void diff_write(FILE *out, const struct model_diff *d, const struct diff_write_opts *o);

/* Appends one module change, without a newline: "+ PATH: NEW",
 * "- PATH: OLD" or "~ PATH: OLD -> NEW" (types with their key
 * hyper-parameters, registry_describe). */
void diff_module_line(const struct diff_module *dm, struct strbuf *out);

/* Appends the parameter totals before and after, and the changed inputs,
 * one line each. */
void diff_totals(const struct model_diff *d, struct strbuf *out);

#endif
