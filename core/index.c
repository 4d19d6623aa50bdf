/* Indexing ops, device-independent part: argument checks, output shapes, and the
 * index views that turn index_select / index_add_ / ... into gather and scatter
 * (a 1-d index along dim, expanded with stride 0 over the other dims). Kernels are
 * in core/cpu/index.c. */
#include "index.h"
#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "iter.h"
#include "view.h"

#include <string.h>

int em_index_check_dtype(const char *op, const em_tensor *index)
{
    if (!em_dtype_is_int(index->dtype))
        return em_error("%s: index must be an integer tensor (int64), got %s", op, em_dtype_name(index->dtype));
    return 0;
}

int em_mask_check_dtype(const char *op, const em_tensor *mask)
{
    if (mask->dtype != EM_BOOL && mask->dtype != EM_UINT8)
        return em_error("%s: mask must be a bool tensor, got %s", op, em_dtype_name(mask->dtype));
    return 0;
}

static int same_device(const char *op, const em_tensor *a, const em_tensor *b)
{
    if (!em_device_eq(em_tensor_device(a), em_tensor_device(b)))
        return em_error("%s: tensors are on different devices", op);
    return 0;
}

int em_index_check(const char *op, const em_tensor *index, int dim, int64_t size)
{
    if (em_index_check_dtype(op, index) < 0)
        return -1;
    em_index_check_kernel k = (em_index_check_kernel)em_kernel_get(EM_K_INDEX_CHECK, em_tensor_device(index), op);
    return k ? k(op, index, dim, size) : -1;
}

/* index as a vector: 0-d or 1-d */
static int check_vector_index(const char *op, const em_tensor *index)
{
    if (em_index_check_dtype(op, index) < 0)
        return -1;
    if (index->ndim > 1) {
        char buf[EM_SHAPE_BUF];
        return em_error("%s: index must be 1-d, got shape %s", op, em_tensor_shape_str(index, buf, sizeof buf));
    }
    return 0;
}

static int check_dim(const char *op, int dim, int ndim)
{
    if (dim < 0 || dim >= (ndim > 0 ? ndim : 1))
        return em_error("%s: dimension %d out of range for a %d-d tensor", op, dim + 1, ndim);
    return 0;
}

/* A view of the 1-d (or 0-d) index spread over `sizes` (ndim dims): its values run
 * along dim, every other dim has stride 0. */
static em_tensor *spread_index(const em_tensor *index, int ndim, const int64_t *sizes, int dim)
{
    int64_t strides[EM_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        strides[d] = 0;
    strides[dim] = index->ndim == 1 ? index->strides[0] : 0;
    return em_tensor_new_view(index->storage, index->dtype, index->offset, ndim, sizes, strides);
}

/* 0-d tensors index like 1-d tensors of one element. */
static em_tensor *as_1d(em_tensor *t)
{
    if (t->ndim > 0) {
        em_tensor_retain(t);
        return t;
    }
    int64_t one = 1, st = 1;
    return em_tensor_new_view(t->storage, t->dtype, t->offset, 1, &one, &st);
}

em_tensor *em_index_select(em_tensor *src_in, int dim, const em_tensor *index)
{
    const char *op = "index_select";
    if (check_vector_index(op, index) < 0 || check_dim(op, dim, src_in->ndim) < 0 ||
        same_device(op, src_in, index) < 0)
        return NULL;
    if (em_index_check(op, index, dim, src_in->ndim ? src_in->sizes[dim] : 1) < 0)
        return NULL;
    em_tensor *src = as_1d(src_in);
    if (!src)
        return NULL;
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, src->sizes, sizeof sizes);
    sizes[dim] = em_tensor_numel(index);
    em_tensor *out = em_tensor_empty(src->ndim, sizes, src->dtype, em_tensor_device(src));
    em_tensor *idx = out ? spread_index(index, src->ndim, sizes, dim) : NULL;
    em_gather_kernel k = idx ? (em_gather_kernel)em_kernel_get(EM_K_INDEX_SELECT, em_tensor_device(src), op) : NULL;
    int rc = k ? k(out, src, dim, idx) : -1;
    em_tensor_release(idx);
    em_tensor_release(src);
    if (rc < 0) {
        em_tensor_release(out);
        return NULL;
    }
    if (src_in->ndim == 0 && index->ndim == 0) { /* 0-d picked by a 0-d index stays 0-d */
        em_tensor *r = em_view(out, 0, NULL);
        em_tensor_release(out);
        return r;
    }
    return out;
}

/* The shared checks of index_add_ / index_copy_: src has self's shape with
 * sizes[dim] = numel(index). */
static int index_put(const char *op, em_tensor *self_in, int dim, const em_tensor *index, const em_tensor *src_in,
                     em_scalar v, em_scatter_reduce reduce, em_scalar alpha)
{
    if (check_vector_index(op, index) < 0 || check_dim(op, dim, self_in->ndim) < 0 ||
        same_device(op, self_in, index) < 0)
        return -1;
    int64_t n = em_tensor_numel(index);
    em_tensor *self = as_1d(self_in);
    if (!self)
        return -1;
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, self->sizes, sizeof sizes);
    sizes[dim] = n;
    em_tensor *src = NULL;
    int rc = -1;
    if (src_in) {
        bool ok = src_in->ndim == self->ndim || (self_in->ndim == 0 && src_in->ndim <= 1) ||
                  (self->ndim == 1 && src_in->ndim == 0);
        for (int d = 0; ok && d < src_in->ndim; d++)
            ok = src_in->sizes[d] == sizes[d];
        if (ok && src_in->ndim == 0)
            ok = n == 1;
        if (!ok) {
            char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF], b3[EM_SHAPE_BUF];
            em_error("%s: source shape %s does not match %s (self %s with %lld indices along dimension %d)", op,
                     em_tensor_shape_str(src_in, b1, sizeof b1), em_shape_str(b2, sizeof b2, self->ndim, sizes),
                     em_tensor_shape_str(self_in, b3, sizeof b3), (long long)n, dim + 1);
            goto done;
        }
        if (same_device(op, self, src_in) < 0)
            goto done;
        src = em_to_dtype((em_tensor *)src_in, self->dtype, false);
        if (!src)
            goto done;
    }
    if (em_index_check(op, index, dim, self->sizes[dim]) < 0)
        goto done;
    em_stack_scalar ss;
    const em_tensor *value = src ? src : em_stack_scalar_init(&ss, v, self->dtype);
    em_tensor *idx = spread_index(index, self->ndim, sizes, dim);
    if (!idx)
        goto done;
    em_scatter_kernel k = (em_scatter_kernel)em_kernel_get(EM_K_INDEX_PUT, em_tensor_device(self), op);
    rc = k ? k(self, dim, idx, value, reduce, alpha) : -1;
    em_tensor_release(idx);
    if (rc == 0)
        em_tensor_bump_version(self_in);
done:
    em_tensor_release(src);
    em_tensor_release(self);
    return rc;
}

int em_index_add_(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src, em_scalar alpha)
{
    return index_put("index_add_", self, dim, index, src, alpha, EM_SCATTER_ADD, alpha);
}

int em_index_copy_(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src)
{
    return index_put("index_copy_", self, dim, index, src, em_scalar_int(0), EM_SCATTER_ASSIGN, em_scalar_int(1));
}

int em_index_fill_(em_tensor *self, int dim, const em_tensor *index, em_scalar v)
{
    return index_put("index_fill_", self, dim, index, NULL, v, EM_SCATTER_ASSIGN, em_scalar_int(1));
}

/* gather / scatter: index has self's number of dims and is no larger than self
 * in any dim but dim (and no larger than src anywhere). */
static int check_index_shape(const char *op, const em_tensor *self, int dim, const em_tensor *index,
                             const em_tensor *src)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (em_index_check_dtype(op, index) < 0 || check_dim(op, dim, self->ndim) < 0 ||
        same_device(op, self, index) < 0)
        return -1;
    int nd = self->ndim > 0 ? self->ndim : 1, ni = index->ndim > 0 ? index->ndim : 1;
    if (nd != ni)
        return em_error("%s: index must have as many dimensions as the input (%d), got shape %s", op, self->ndim,
                        em_tensor_shape_str(index, b1, sizeof b1));
    for (int d = 0; d < index->ndim; d++) {
        int64_t s = self->ndim ? self->sizes[d] : 1;
        if (d != dim && index->sizes[d] > s)
            return em_error("%s: index shape %s is larger than the input %s in dimension %d", op,
                            em_tensor_shape_str(index, b1, sizeof b1), em_tensor_shape_str(self, b2, sizeof b2),
                            d + 1);
        if (src && src->ndim > 0 && (src->ndim != index->ndim || index->sizes[d] > src->sizes[d]))
            return em_error("%s: index shape %s is larger than the source %s in dimension %d", op,
                            em_tensor_shape_str(index, b1, sizeof b1), em_tensor_shape_str(src, b2, sizeof b2),
                            d + 1);
    }
    if (src && src->ndim == 0 && em_tensor_numel(index) > 1 && index->ndim > 0)
        return em_error("%s: a 0-d source needs a one-element index, got shape %s", op,
                        em_tensor_shape_str(index, b1, sizeof b1));
    return em_index_check(op, index, dim, self->ndim ? self->sizes[dim] : 1);
}

em_tensor *em_gather(em_tensor *src, int dim, const em_tensor *index)
{
    const char *op = "gather";
    if (check_index_shape(op, src, dim, index, NULL) < 0)
        return NULL;
    em_tensor *out = em_tensor_empty(index->ndim, index->sizes, src->dtype, em_tensor_device(src));
    if (!out)
        return NULL;
    em_tensor *s1 = as_1d(src), *o1 = as_1d(out), *i1 = as_1d((em_tensor *)index);
    em_gather_kernel k = (em_gather_kernel)em_kernel_get(EM_K_GATHER, em_tensor_device(src), op);
    int rc = (s1 && o1 && i1 && k) ? k(o1, s1, dim, i1) : -1;
    em_tensor_release(s1);
    em_tensor_release(o1);
    em_tensor_release(i1);
    if (rc < 0) {
        em_tensor_release(out);
        return NULL;
    }
    return out;
}

int em_scatter_(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src_in, em_scalar v,
                em_scatter_reduce reduce)
{
    const char *op = reduce == EM_SCATTER_ADD && src_in ? "scatter_add_" : "scatter_";
    if (check_index_shape(op, self, dim, index, src_in) < 0)
        return -1;
    if (src_in && same_device(op, self, src_in) < 0)
        return -1;
    if (em_tensor_numel(index) == 0)
        return 0;
    em_tensor *src = NULL;
    em_stack_scalar ss;
    const em_tensor *value;
    if (src_in) {
        /* the part of src that index covers, converted to self's dtype */
        em_tensor *part = src_in->ndim ? em_as_strided((em_tensor *)src_in, index->ndim, index->sizes,
                                                       src_in->strides, src_in->offset)
                                       : em_tensor_alias(src_in);
        src = part ? em_to_dtype(part, self->dtype, false) : NULL;
        em_tensor_release(part);
        if (!src)
            return -1;
        value = src;
    } else {
        value = em_stack_scalar_init(&ss, v, self->dtype);
    }
    em_tensor *s1 = as_1d(self), *i1 = as_1d((em_tensor *)index);
    em_scatter_kernel k = (em_scatter_kernel)em_kernel_get(EM_K_SCATTER, em_tensor_device(self), op);
    int rc = (s1 && i1 && k) ? k(s1, dim, i1, value, reduce, em_scalar_int(1)) : -1;
    em_tensor_release(s1);
    em_tensor_release(i1);
    em_tensor_release(src);
    if (rc == 0)
        em_tensor_bump_version(self);
    return rc;
}

/* mask must broadcast to `shape`; returns the expanded mask view */
static em_tensor *expand_mask(const char *op, const em_tensor *mask, const em_tensor *to)
{
    if (em_mask_check_dtype(op, mask) < 0 || same_device(op, mask, to) < 0)
        return NULL;
    int n;
    int64_t shape[EM_MAX_DIMS];
    if (em_broadcast_shape(op, to->ndim, to->sizes, mask->ndim, mask->sizes, &n, shape) < 0 || n != to->ndim || memcmp(shape, to->sizes, (size_t)n * sizeof(int64_t)) != 0) {
        char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
        return em_error("%s: mask of shape %s cannot be broadcast to the input's shape %s", op,
                        em_tensor_shape_str(mask, b1, sizeof b1), em_tensor_shape_str(to, b2, sizeof b2)),
               NULL;
    }
    return em_expand((em_tensor *)mask, n, shape);
}

em_tensor *em_masked_select(em_tensor *src, const em_tensor *mask)
{
    const char *op = "masked_select";
    if (em_mask_check_dtype(op, mask) < 0 || same_device(op, src, mask) < 0)
        return NULL;
    int n;
    int64_t shape[EM_MAX_DIMS];
    if (em_broadcast_shape(op, src->ndim, src->sizes, mask->ndim, mask->sizes, &n, shape) < 0)
        return NULL;
    em_tensor *s = em_expand(src, n, shape), *m = em_expand((em_tensor *)mask, n, shape);
    em_masked_select_kernel k = (em_masked_select_kernel)em_kernel_get(EM_K_MASKED_SELECT, em_tensor_device(src), op);
    em_tensor *out = (s && m && k) ? k(s, m) : NULL;
    em_tensor_release(s);
    em_tensor_release(m);
    return out;
}

int em_masked_fill_(em_tensor *self, const em_tensor *mask, em_scalar v)
{
    const char *op = "masked_fill_";
    em_tensor *m = expand_mask(op, mask, self);
    if (!m)
        return -1;
    em_stack_scalar ss;
    em_tensor *value = em_stack_scalar_init(&ss, v, self->dtype);
    em_masked_fill_kernel k = (em_masked_fill_kernel)em_kernel_get(EM_K_MASKED, em_tensor_device(self), op);
    int rc = k ? k(self, m, value) : -1;
    em_tensor_release(m);
    if (rc == 0)
        em_tensor_bump_version(self);
    return rc;
}

int em_masked_scatter_(em_tensor *self, const em_tensor *mask, const em_tensor *src_in)
{
    const char *op = "masked_scatter_";
    if (same_device(op, self, src_in) < 0)
        return -1;
    em_tensor *m = expand_mask(op, mask, self);
    if (!m)
        return -1;
    em_tensor *tmp = em_to_dtype((em_tensor *)src_in, self->dtype, false);
    em_tensor *src = tmp ? em_contiguous(tmp) : NULL;
    em_tensor_release(tmp);
    em_masked_scatter_kernel k =
        src ? (em_masked_scatter_kernel)em_kernel_get(EM_K_MASKED_SCATTER, em_tensor_device(self), op) : NULL;
    int rc = k ? k(self, m, src) : -1;
    em_tensor_release(m);
    em_tensor_release(src);
    if (rc == 0)
        em_tensor_bump_version(self);
    return rc;
}

em_tensor *em_nonzero(const em_tensor *src)
{
    em_nonzero_kernel k = (em_nonzero_kernel)em_kernel_get(EM_K_NONZERO, em_tensor_device(src), "nonzero");
    return k ? k(src) : NULL;
}

em_tensor *em_take(em_tensor *src, const em_tensor *index)
{
    const char *op = "take";
    if (em_index_check_dtype(op, index) < 0 || same_device(op, src, index) < 0)
        return NULL;
    if (em_index_check(op, index, 0, em_tensor_numel(src)) < 0)
        return NULL;
    em_tensor *flat = em_reshape(src, 1, (int64_t[]){ -1 });
    em_tensor *i1 = flat ? em_reshape((em_tensor *)index, 1, (int64_t[]){ -1 }) : NULL;
    em_tensor *r = i1 ? em_index_select(flat, 0, i1) : NULL;
    em_tensor *out = r ? em_view(r, index->ndim, index->sizes) : NULL;
    em_tensor_release(flat);
    em_tensor_release(i1);
    em_tensor_release(r);
    return out;
}
