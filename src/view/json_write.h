/* json_write.h - writing JSON text by hand, for the views' --json output. */
#ifndef GRAFT_JSON_WRITE_H
#define GRAFT_JSON_WRITE_H

#include <stdio.h>

#include "core/tensor.h"

/* Writes s as a JSON string, quoted, with '"', '\\' and control
 * characters escaped. */
void json_write_string(FILE *out, const char *s);

/* Writes s as a JSON array of its dims, [1,1000,4]; a bounded dim is the
 * string "≤1000": [1,"≤1000",4]. */
void json_write_shape(FILE *out, const struct shape *s);

#endif
