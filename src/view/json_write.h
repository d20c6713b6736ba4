/* json_write.h - writing JSON text by hand, for the views' --json output. */
#ifndef GRAFT_JSON_WRITE_H
#define GRAFT_JSON_WRITE_H

#include <stdio.h>

/* Writes s as a JSON string, quoted, with '"', '\\' and control
 * characters escaped. */
void json_write_string(FILE *out, const char *s);

#endif
