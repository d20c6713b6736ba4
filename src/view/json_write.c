/* json_write.c - writing JSON text by hand (json_write.h). */
#include "view/json_write.h"

#include <inttypes.h>

void json_write_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void json_write_shape(FILE *out, const struct shape *s)
{
	fputc('[', out);
	for (int d = 0; d < s->ndim; d++)
		fprintf(out, s->bounded >> d & 1 ? "%s\"≤%" PRId64 "\"" : "%s%" PRId64, d ? "," : "",
		        s->dim[d]);
	fputc(']', out);
}
