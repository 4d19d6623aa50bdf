/* Thread-local last-error message for the C core. */
#include "error.h"

#include <inttypes.h>
#include <stdio.h>

static _Thread_local char em_errbuf[1024];

int em_verror(const char *fmt, va_list ap)
{
    vsnprintf(em_errbuf, sizeof em_errbuf, fmt, ap);
    return -1;
}

int em_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    em_verror(fmt, ap);
    va_end(ap);
    return -1;
}

const char *em_last_error(void)
{
    return em_errbuf[0] ? em_errbuf : "unknown error";
}

const char *em_shape_str(char *buf, int size, int ndim, const int64_t *sizes)
{
    if (ndim == 0) {
        snprintf(buf, (size_t)size, "scalar");
        return buf;
    }
    int pos = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && pos < size; i++)
        pos += snprintf(buf + pos, (size_t)(size - pos), i ? "x%" PRId64 : "%" PRId64, sizes[i]);
    return buf;
}
