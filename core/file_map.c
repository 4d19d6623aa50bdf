/* Files mapped into memory as tensor storage (see file_map.h). */
#include "file_map.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "tensor_io.h"

struct em_file_map {
    int refcount;
    void *data;
    size_t size;
};

em_file_map *em_file_map_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        em_error("mmap: cannot open %s (%s)", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        em_error("mmap: %s is not a non-empty regular file", path);
        close(fd);
        return NULL;
    }
    em_file_map *m = em_file_map_open_fd(fd, (int64_t)st.st_size, 0);
    if (!m) {
        char why[256]; /* the message buffer is about to be rewritten */
        snprintf(why, sizeof why, "%s", em_last_error());
        em_error("mmap: cannot map %s (%s)", path, why);
    }
    close(fd); /* the mapping keeps the file alive */
    return m;
}

em_file_map *em_file_map_open_fd(int fd, int64_t size, int shared)
{
    if (size <= 0) {
        em_error("mmap: cannot map %lld bytes", (long long)size);
        return NULL;
    }
    /* PROT_WRITE with MAP_PRIVATE: writes go to private copies of the pages, so
     * in-place ops on loaded tensors work and the file is never modified. */
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        em_error("%s", strerror(errno));
        return NULL;
    }
    em_file_map *m = malloc(sizeof *m);
    if (!m) {
        munmap(p, (size_t)size);
        em_error("out of memory");
        return NULL;
    }
    m->refcount = 1;
    m->data = p;
    m->size = (size_t)size;
    return m;
}

int64_t em_file_map_size(const em_file_map *m) { return (int64_t)m->size; }
const void *em_file_map_data(const em_file_map *m) { return m->data; }
void em_file_map_retain(em_file_map *m) { m->refcount++; }

void em_file_map_release(em_file_map *m)
{
    if (!m || --m->refcount > 0)
        return;
    munmap(m->data, m->size);
    free(m);
}

/* em_storage.release for storages over a mapping: drops the storage's reference. */
static void storage_unmap(void *ctx, void *data)
{
    (void)data;
    em_file_map_release(ctx);
}

em_tensor *em_file_map_tensor(em_file_map *m, int64_t offset, em_dtype dt, int ndim, const int64_t *sizes)
{
    int64_t n = em_io_nbytes(dt, ndim, sizes);
    if (n < 0)
        return NULL;
    if (offset < 0 || (uint64_t)offset > m->size || (uint64_t)n > m->size - (uint64_t)offset) {
        em_error("mmap: %lld bytes at offset %lld do not fit in a file of %zu bytes", (long long)n,
                 (long long)offset, m->size);
        return NULL;
    }
    const char *src = (const char *)m->data + offset;
    size_t esize = em_dtype_size(dt);
    if (n == 0 || offset % (int64_t)esize != 0)
        return em_io_from_bytes(src, (size_t)n, dt, ndim, sizes);
    em_storage *s = em_storage_new(EM_CPU, 0);
    if (!s)
        return NULL;
    s->data = (void *)src;
    s->nbytes = (size_t)n;
    s->release = storage_unmap;
    s->release_ctx = m;
    em_file_map_retain(m);
    int64_t strides[EM_MAX_DIMS];
    em_contiguous_strides(ndim, sizes, strides);
    em_tensor *t = em_tensor_new_view(s, dt, 0, ndim, sizes, strides);
    em_storage_release(s); /* the tensor holds its own reference */
    return t;
}
