/* Tensor and storage lifetime, geometry helpers. */
#include "tensor.h"
#include "alloc.h"
#include "dispatch.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

const em_device EM_CPU = { EM_DEV_CPU, 0 };

/* Small per-thread free lists for the tensor and storage structs: a training step
 * creates and drops many small tensors, and malloc/free of these headers was a
 * large part of the per-op cost. */
#define FREELIST_MAX 8192
static _Thread_local em_tensor *tensor_free_list;
static _Thread_local int tensor_free_count;
static _Thread_local em_storage *storage_free_list;
static _Thread_local int storage_free_count;

static em_storage *storage_struct_alloc(void)
{
    em_storage *s = storage_free_list;
    if (s) {
        storage_free_list = (em_storage *)s->data;
        storage_free_count--;
        return s;
    }
    return malloc(sizeof *s);
}

static void storage_struct_free(em_storage *s)
{
    if (storage_free_count >= FREELIST_MAX) {
        free(s);
        return;
    }
    s->data = storage_free_list;
    storage_free_list = s;
    storage_free_count++;
}
void (*em_autograd_meta_free)(struct em_autograd_meta *) = NULL;

em_storage *em_storage_new(em_device dev, size_t nbytes)
{
    em_storage *s = storage_struct_alloc();
    if (!s) {
        em_error("out of memory");
        return NULL;
    }
    s->refcount = 1;
    s->device = dev;
    s->nbytes = nbytes;
    s->version = 0;
    s->release = NULL;
    s->release_ctx = NULL;
    s->data = NULL;
    if (nbytes > 0) {
        const em_backend *be = em_backend_get(dev);
        if (!be) {
            storage_struct_free(s);
            return NULL;
        }
        s->data = be->alloc(nbytes);
        if (!s->data) {
            storage_struct_free(s);
            return NULL;
        }
    }
    return s;
}

void em_storage_retain(em_storage *s)
{
    s->refcount++;
}

void em_storage_release(em_storage *s)
{
    if (!s || --s->refcount > 0)
        return;
    if (s->release)
        s->release(s->release_ctx, s->data);
    else if (s->data)
        em_backend_get(s->device)->free(s->data, s->nbytes);
    storage_struct_free(s);
}

int em_check_sizes(const char *op, int ndim, const int64_t *sizes)
{
    if (ndim < 0 || ndim > EM_MAX_DIMS)
        return em_error("%s: at most %d dimensions are supported, got %d", op, EM_MAX_DIMS, ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (sizes[i] < 0)
            return em_error("%s: negative size %lld in dimension %d", op, (long long)sizes[i], i + 1);
        if (sizes[i] > 0 && n > INT64_MAX / 16 / sizes[i])
            return em_error("%s: tensor too large", op);
        n *= sizes[i];
    }
    return 0;
}

void em_contiguous_strides(int ndim, const int64_t *sizes, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= sizes[i] > 0 ? sizes[i] : 1;
    }
}

static em_tensor *tensor_alloc(void)
{
    em_tensor *t = tensor_free_list;
    if (t) {
        tensor_free_list = t->grad;
        tensor_free_count--;
    } else {
        t = malloc(sizeof *t);
    }
    if (!t) {
        em_error("out of memory");
        return NULL;
    }
    t->refcount = 1;
    t->requires_grad = false;
    t->grad = NULL;
    t->autograd = NULL;
    t->base = NULL;
    return t;
}

em_tensor *em_tensor_new_view(em_storage *s, em_dtype dt, int64_t offset, int ndim,
                              const int64_t *sizes, const int64_t *strides)
{
    em_tensor *t = tensor_alloc();
    if (!t)
        return NULL;
    t->ndim = ndim;
    t->dtype = dt;
    t->storage = s;
    em_storage_retain(s);
    t->offset = offset;
    if (ndim > 0) {
        memcpy(t->sizes, sizes, (size_t)ndim * sizeof(int64_t));
        memcpy(t->strides, strides, (size_t)ndim * sizeof(int64_t));
    }
    return t;
}

em_tensor *em_tensor_empty(int ndim, const int64_t *sizes, em_dtype dt, em_device dev)
{
    if (em_check_sizes("empty", ndim, sizes) < 0)
        return NULL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= sizes[i];
    em_storage *s = em_storage_new(dev, (size_t)n * em_dtype_size(dt));
    if (!s)
        return NULL;
    em_tensor *t = tensor_alloc();
    if (!t) {
        em_storage_release(s);
        return NULL;
    }
    t->ndim = ndim;
    t->dtype = dt;
    t->storage = s; /* takes the reference from em_storage_new */
    t->offset = 0;
    if (ndim > 0)
        memcpy(t->sizes, sizes, (size_t)ndim * sizeof(int64_t));
    em_contiguous_strides(ndim, sizes, t->strides);
    return t;
}

em_tensor *em_tensor_empty_like(const em_tensor *t)
{
    return em_tensor_empty(t->ndim, t->sizes, t->dtype, em_tensor_device(t));
}

int em_tensor_resize_empty(em_tensor *t, int ndim, const int64_t *sizes)
{
    em_tensor *fresh = em_tensor_empty(ndim, sizes, t->dtype, em_tensor_device(t));
    if (!fresh)
        return -1;
    em_storage *old = t->storage;
    t->storage = fresh->storage;
    em_storage_retain(t->storage);
    em_storage_release(old);
    t->offset = 0;
    t->ndim = ndim;
    memcpy(t->sizes, fresh->sizes, sizeof t->sizes);
    memcpy(t->strides, fresh->strides, sizeof t->strides);
    em_tensor_release(fresh);
    return 0;
}

em_tensor *em_tensor_alias(const em_tensor *t)
{
    return em_tensor_new_view(t->storage, t->dtype, t->offset, t->ndim, t->sizes, t->strides);
}

void em_tensor_retain(em_tensor *t)
{
    t->refcount++;
}

void em_tensor_release(em_tensor *t)
{
    if (!t || --t->refcount > 0)
        return;
    if (t->autograd && em_autograd_meta_free)
        em_autograd_meta_free(t->autograd);
    em_tensor_release(t->grad);
    em_tensor_release(t->base);
    em_storage_release(t->storage);
    if (tensor_free_count >= FREELIST_MAX) {
        free(t);
        return;
    }
    t->grad = tensor_free_list;
    tensor_free_list = t;
    tensor_free_count++;
}

int64_t em_tensor_numel(const em_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->sizes[i];
    return n;
}

size_t em_tensor_nbytes(const em_tensor *t)
{
    return (size_t)em_tensor_numel(t) * em_dtype_size(t->dtype);
}

bool em_tensor_is_contiguous(const em_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->sizes[i] == 1)
            continue;
        if (t->sizes[i] == 0)
            return true;
        if (t->strides[i] != s)
            return false;
        s *= t->sizes[i];
    }
    return true;
}

bool em_same_shape(const em_tensor *a, const em_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->sizes[i] != b->sizes[i])
            return false;
    return true;
}

const char *em_tensor_shape_str(const em_tensor *t, char *buf, int size)
{
    return em_shape_str(buf, size, t->ndim, t->sizes);
}

void *em_tensor_elem_ptr(const em_tensor *t, const int64_t *index)
{
    int64_t off = t->offset;
    for (int i = 0; i < t->ndim; i++)
        off += index[i] * t->strides[i];
    return (char *)t->storage->data + off * (int64_t)em_dtype_size(t->dtype);
}
