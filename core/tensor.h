/* The tensor: a refcounted storage plus a strided view of it.
 * A tensor owns one reference to its storage; views share the storage and differ
 * in offset, sizes and strides (all in elements). Tensors are refcounted too, so
 * autograd nodes can keep the ones they save. */
#ifndef EM_TENSOR_H
#define EM_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "dtype.h"

#define EM_MAX_DIMS 16

typedef enum em_device_type { EM_DEV_CPU = 0, EM_DEV_CUDA = 1, EM_DEV_COUNT } em_device_type;

typedef struct em_device {
    em_device_type type;
    int index;
} em_device;

typedef struct em_storage {
    int refcount;
    em_device device;
    void *data;
    size_t nbytes;
    /* Bumped by every in-place write; shared by all views of the storage, so the
     * autograd engine can tell that a saved tensor was modified. */
    uint64_t version;
    /* Non-NULL for memory Ember does not own (mmap, a buffer from elsewhere). */
    void (*release)(void *ctx, void *data);
    void *release_ctx;
} em_storage;

struct em_autograd_meta; /* defined by the autograd engine */

typedef struct em_tensor {
    int refcount;
    int ndim;
    em_dtype dtype;
    em_storage *storage;
    int64_t offset;
    int64_t sizes[EM_MAX_DIMS];
    int64_t strides[EM_MAX_DIMS];
    /* Autograd fields, reserved here and filled in by the engine. */
    bool requires_grad;
    struct em_tensor *grad;
    struct em_autograd_meta *autograd;
    /* For views made by differentiable view ops: the tensor that owns the memory
     * (owned), so an in-place write through the view can rebase its history. */
    struct em_tensor *base;
} em_tensor;

/* ---- storage ---- */
em_storage *em_storage_new(em_device dev, size_t nbytes);
void em_storage_retain(em_storage *s);
void em_storage_release(em_storage *s);

/* ---- lifetime ---- */
/* A new contiguous tensor with uninitialised data; NULL on error. */
em_tensor *em_tensor_empty(int ndim, const int64_t *sizes, em_dtype dt, em_device dev);
em_tensor *em_tensor_empty_like(const em_tensor *t);
/* A view over an existing storage (retains it); sizes/strides are copied. */
em_tensor *em_tensor_new_view(em_storage *s, em_dtype dt, int64_t offset, int ndim,
                              const int64_t *sizes, const int64_t *strides);
/* A view with the same storage and geometry as t (no autograd state). */
em_tensor *em_tensor_alias(const em_tensor *t);
/* Gives an empty `out=` tensor (0 elements) the given shape with fresh storage,
 * as PyTorch resizes an empty out. 0 or -1. */
int em_tensor_resize_empty(em_tensor *t, int ndim, const int64_t *sizes);
void em_tensor_retain(em_tensor *t);
void em_tensor_release(em_tensor *t);
/* Hook called when a tensor with autograd state is freed (set by the engine). */
extern void (*em_autograd_meta_free)(struct em_autograd_meta *);

/* ---- properties ---- */
int64_t em_tensor_numel(const em_tensor *t);
bool em_tensor_is_contiguous(const em_tensor *t);
size_t em_tensor_nbytes(const em_tensor *t); /* numel * element size */
static inline em_device em_tensor_device(const em_tensor *t) { return t->storage->device; }
static inline void *em_tensor_data(const em_tensor *t)
{
    char *d = (char *)t->storage->data; /* NULL for an empty tensor: NULL + 0 is undefined in C */
    return d ? d + t->offset * (int64_t)em_dtype_size(t->dtype) : NULL;
}
static inline void em_tensor_bump_version(em_tensor *t) { t->storage->version++; }
const char *em_tensor_shape_str(const em_tensor *t, char *buf, int size);
void em_contiguous_strides(int ndim, const int64_t *sizes, int64_t *strides);
/* Checks sizes are non-negative and the element count fits; op names the caller. */
int em_check_sizes(const char *op, int ndim, const int64_t *sizes);
bool em_same_shape(const em_tensor *a, const em_tensor *b);

/* Reads/writes one element by 0-based multi-index. */
void *em_tensor_elem_ptr(const em_tensor *t, const int64_t *index);

static inline bool em_device_eq(em_device a, em_device b) { return a.type == b.type && a.index == b.index; }
extern const em_device EM_CPU;

#endif
