/* Error reporting for the C core.
 * Core functions never abort or longjmp: they record a message here and return
 * NULL or -1; the Lua binding turns the message into a Lua error. */
#ifndef EM_ERROR_H
#define EM_ERROR_H

#include <stdarg.h>
#include <stdint.h>

/* Records a formatted message (op name first, lowercase, no trailing period)
 * and returns -1 so callers can write `return em_error(...)`. */
int em_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int em_verror(const char *fmt, va_list ap);
const char *em_last_error(void);

/* Formats a shape as "2x3" (or "scalar" for 0-d) into buf. */
const char *em_shape_str(char *buf, int size, int ndim, const int64_t *sizes);

#define EM_SHAPE_BUF 160

#endif
