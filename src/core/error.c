/* error.c - filling struct error. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/text.h"

/* Messages quote names and text from files: they keep no control
 * characters, so printing one cannot drive the terminal. */
static int error_vset(struct error *e, enum error_kind kind, const char *fmt, va_list ap)
{
	if (!e)
		return -1;
	char raw[sizeof e->msg];
	e->kind = kind;
	vsnprintf(raw, sizeof raw, fmt, ap);
	text_escape_buf(raw, e->msg, sizeof e->msg);
	return -1;
}

int error_set(struct error *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(e, ERR_INPUT, fmt, ap);
	va_end(ap);
	return -1;
}

int error_setk(struct error *e, enum error_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

int error_prefix(struct error *e, const char *fmt, ...)
{
	char prefix[512], shown[sizeof prefix], old[sizeof e->msg];
	va_list ap;
	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%s: %s", text_escape_buf(prefix, shown, sizeof shown), old);
	if (e->kind == ERR_NONE)
		e->kind = ERR_INPUT;
	return -1;
}

void error_clear(struct error *e)
{
	if (!e)
		return;
	e->kind = ERR_NONE;
	e->msg[0] = '\0';
}
