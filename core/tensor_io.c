/* Raw tensor bytes to and from files and memory (see tensor_io.h). */
#include "tensor_io.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "copy.h"
#include "dtype.h"
#include "error.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensor_io writes the host's bytes: a big-endian host needs byte swapping here"
#endif

int64_t em_io_nbytes(em_dtype dt, int ndim, const int64_t *sizes)
{
    if (ndim < 0 || ndim > EM_MAX_DIMS)
        return em_error("tensor data: %d dims (at most %d)", ndim, EM_MAX_DIMS);
    int64_t n = (int64_t)em_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (sizes[i] < 0)
            return em_error("tensor data: negative size %lld", (long long)sizes[i]);
        if (sizes[i] > 0 && n > INT64_MAX / sizes[i])
            return em_error("tensor data: the sizes overflow 64 bits");
        n *= sizes[i];
    }
    return n;
}

static em_tensor *cpu_only(em_tensor *t, const char *what)
{
    if (em_tensor_device(t).type != EM_DEV_CPU) {
        em_error("%s: expected a CPU tensor (move it with :to('cpu') first)", what);
        return NULL;
    }
    return t;
}

int em_io_write(FILE *f, em_tensor *t)
{
    if (!cpu_only(t, "write tensor"))
        return -1;
    em_tensor *c = em_contiguous(t);
    if (!c)
        return -1;
    size_t n = (size_t)em_tensor_numel(c) * em_dtype_size(c->dtype);
    size_t w = n ? fwrite(em_tensor_data(c), 1, n, f) : 0;
    em_tensor_release(c);
    if (w != n)
        return em_error("write tensor: wrote %zu of %zu bytes (%s)", w, n, strerror(errno));
    return 0;
}

/* Bytes left between the file position and its end; -1 when unknown (a pipe). */
static int64_t remaining(FILE *f)
{
    struct stat st;
    long pos = ftell(f);
    if (pos < 0 || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    return (int64_t)st.st_size - pos;
}

em_tensor *em_io_read(FILE *f, em_dtype dt, int ndim, const int64_t *sizes)
{
    int64_t n = em_io_nbytes(dt, ndim, sizes);
    if (n < 0)
        return NULL;
    int64_t left = remaining(f);
    if (left >= 0 && n > left) {
        em_error("read tensor: the file holds %lld more bytes, the tensor needs %lld (truncated or corrupt)",
                 (long long)left, (long long)n);
        return NULL;
    }
    em_tensor *t = em_tensor_empty(ndim, sizes, dt, EM_CPU);
    if (!t)
        return NULL;
    size_t r = n ? fread(em_tensor_data(t), 1, (size_t)n, f) : 0;
    if (r != (size_t)n) {
        em_tensor_release(t);
        em_error("read tensor: unexpected end of file (read %zu of %lld bytes)", r, (long long)n);
        return NULL;
    }
    return t;
}

em_tensor *em_io_from_bytes(const void *buf, size_t n, em_dtype dt, int ndim, const int64_t *sizes)
{
    int64_t need = em_io_nbytes(dt, ndim, sizes);
    if (need < 0)
        return NULL;
    if ((uint64_t)need != n) {
        em_error("tensor from bytes: %zu bytes given, the %s tensor needs %lld", n, em_dtype_name(dt),
                 (long long)need);
        return NULL;
    }
    em_tensor *t = em_tensor_empty(ndim, sizes, dt, EM_CPU);
    if (t && n)
        memcpy(em_tensor_data(t), buf, n);
    return t;
}

uint32_t em_io_crc32(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) { /* zlib takes a uInt length */
        uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, step);
        p += step;
        n -= step;
    }
    return crc;
}
