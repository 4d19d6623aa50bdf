/* View ops: geometry only, the storage is shared. */
#include "view.h"
#include "copy.h"
#include "error.h"

#include <string.h>

static em_tensor *make_view(em_tensor *t, int ndim, const int64_t *sizes, const int64_t *strides,
                            int64_t offset)
{
    return em_tensor_new_view(t->storage, t->dtype, offset, ndim, sizes, strides);
}

static int check_dim(const char *op, int dim, int ndim)
{
    if (dim < 0 || dim >= (ndim > 0 ? ndim : 1))
        return em_error("%s: dimension %d out of range for a %d-d tensor", op, dim + 1, ndim);
    return 0;
}

int em_infer_size(const char *op, int64_t numel, int ndim, int64_t *sizes)
{
    int infer = -1;
    int64_t known = 1;
    bool overflow = false, zero = false;
    for (int i = 0; i < ndim; i++) {
        if (sizes[i] == -1) {
            if (infer >= 0)
                return em_error("%s: only one dimension can be inferred (-1)", op);
            infer = i;
        } else if (sizes[i] < 0) {
            return em_error("%s: invalid size %lld", op, (long long)sizes[i]);
        } else if (sizes[i] == 0) {
            zero = true;
        } else if (known > INT64_MAX / sizes[i]) {
            overflow = true; /* no tensor has that many elements */
        } else {
            known *= sizes[i];
        }
    }
    if (zero)
        known = 0;
    char buf[EM_SHAPE_BUF];
    if (overflow && !zero)
        return em_error("%s: shape %s is invalid for input of size %lld", op,
                        em_shape_str(buf, sizeof buf, ndim, sizes), (long long)numel);
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return em_error("%s: shape %s is invalid for input of size %lld", op,
                            em_shape_str(buf, sizeof buf, ndim, sizes), (long long)numel);
        sizes[infer] = numel / known;
    } else if (known != numel) {
        return em_error("%s: shape %s is invalid for input of size %lld", op,
                        em_shape_str(buf, sizeof buf, ndim, sizes), (long long)numel);
    }
    return 0;
}

bool em_view_strides(const em_tensor *t, int ndim, const int64_t *sizes, int64_t *strides)
{
    int64_t numel = em_tensor_numel(t);
    if (numel == 0 || t->ndim == 0) {
        em_contiguous_strides(ndim, sizes, strides);
        return true;
    }
    /* Walk the old dims from the innermost, in chunks that are contiguous among
     * themselves; each chunk must be covered exactly by a run of new dims. */
    int vd = ndim - 1;
    int64_t base = t->strides[t->ndim - 1];
    int64_t tnumel = 1, vnumel = 1;
    for (int td = t->ndim - 1; td >= 0; td--) {
        tnumel *= t->sizes[td];
        if (td == 0 || (t->sizes[td - 1] != 1 && t->strides[td - 1] != tnumel * base)) {
            while (vd >= 0 && (vnumel < tnumel || sizes[vd] == 1)) {
                strides[vd] = vnumel * base;
                vnumel *= sizes[vd];
                vd--;
            }
            if (vnumel != tnumel)
                return false;
            if (td > 0) {
                base = t->strides[td - 1];
                tnumel = 1;
                vnumel = 1;
            }
        }
    }
    return vd == -1;
}

em_tensor *em_view(em_tensor *t, int ndim, const int64_t *sizes_in)
{
    if (ndim > EM_MAX_DIMS)
        return em_error("view: at most %d dimensions", EM_MAX_DIMS), NULL;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    memcpy(sizes, sizes_in, (size_t)ndim * sizeof(int64_t));
    if (em_infer_size("view", em_tensor_numel(t), ndim, sizes) < 0)
        return NULL;
    if (!em_view_strides(t, ndim, sizes, strides)) {
        char buf[EM_SHAPE_BUF], buf2[EM_SHAPE_BUF];
        em_error("view: shape %s is not compatible with the input's size and strides (%s, not contiguous); "
                 "use reshape instead",
                 em_shape_str(buf, sizeof buf, ndim, sizes), em_tensor_shape_str(t, buf2, sizeof buf2));
        return NULL;
    }
    return make_view(t, ndim, sizes, strides, t->offset);
}

em_tensor *em_reshape(em_tensor *t, int ndim, const int64_t *sizes_in)
{
    if (ndim > EM_MAX_DIMS)
        return em_error("reshape: at most %d dimensions", EM_MAX_DIMS), NULL;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    memcpy(sizes, sizes_in, (size_t)ndim * sizeof(int64_t));
    if (em_infer_size("reshape", em_tensor_numel(t), ndim, sizes) < 0)
        return NULL;
    if (em_view_strides(t, ndim, sizes, strides))
        return make_view(t, ndim, sizes, strides, t->offset);
    em_tensor *c = em_clone(t);
    if (!c)
        return NULL;
    em_tensor *r = em_view(c, ndim, sizes);
    em_tensor_release(c);
    return r;
}

em_tensor *em_permute(em_tensor *t, const int *perm)
{
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    bool seen[EM_MAX_DIMS] = { false };
    for (int i = 0; i < t->ndim; i++) {
        int p = perm[i];
        if (p < 0 || p >= t->ndim)
            return em_error("permute: dimension %d out of range for a %d-d tensor", p + 1, t->ndim), NULL;
        if (seen[p])
            return em_error("permute: dimension %d repeats", p + 1), NULL;
        seen[p] = true;
        sizes[i] = t->sizes[p];
        strides[i] = t->strides[p];
    }
    return make_view(t, t->ndim, sizes, strides, t->offset);
}

em_tensor *em_transpose(em_tensor *t, int d0, int d1)
{
    if (t->ndim == 0 && (d0 == 0 || d0 == -1) && (d1 == 0 || d1 == -1))
        return em_tensor_alias(t);
    if (check_dim("transpose", d0, t->ndim) < 0 || check_dim("transpose", d1, t->ndim) < 0)
        return NULL;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    memcpy(sizes, t->sizes, sizeof sizes);
    memcpy(strides, t->strides, sizeof strides);
    sizes[d0] = t->sizes[d1], sizes[d1] = t->sizes[d0];
    strides[d0] = t->strides[d1], strides[d1] = t->strides[d0];
    return make_view(t, t->ndim, sizes, strides, t->offset);
}

em_tensor *em_slice(em_tensor *t, int dim, int64_t start, int64_t end, int64_t step)
{
    if (t->ndim == 0)
        return em_error("slice: cannot slice a 0-d tensor"), NULL;
    if (check_dim("slice", dim, t->ndim) < 0)
        return NULL;
    if (step <= 0)
        return em_error("slice: step must be positive, got %lld", (long long)step), NULL;
    int64_t n = t->sizes[dim];
    if (start < 0)
        start = 0;
    if (end > n)
        end = n;
    if (end < start)
        end = start;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    memcpy(sizes, t->sizes, sizeof sizes);
    memcpy(strides, t->strides, sizeof strides);
    sizes[dim] = (end - start + step - 1) / step;
    strides[dim] = t->strides[dim] * step;
    int64_t off = t->offset + (start < n ? start * t->strides[dim] : 0);
    return make_view(t, t->ndim, sizes, strides, off);
}

em_tensor *em_narrow(em_tensor *t, int dim, int64_t start, int64_t length)
{
    if (t->ndim == 0)
        return em_error("narrow: cannot narrow a 0-d tensor"), NULL;
    if (check_dim("narrow", dim, t->ndim) < 0)
        return NULL;
    int64_t n = t->sizes[dim];
    if (start < 0 || length < 0 || start + length > n)
        return em_error("narrow: range [%lld, %lld] is out of bounds for dimension %d of size %lld",
                        (long long)start + 1, (long long)(start + length), dim + 1, (long long)n), NULL;
    return em_slice(t, dim, start, start + length, 1);
}

em_tensor *em_select(em_tensor *t, int dim, int64_t index)
{
    if (t->ndim == 0)
        return em_error("select: cannot index a 0-d tensor"), NULL;
    if (check_dim("select", dim, t->ndim) < 0)
        return NULL;
    int64_t n = t->sizes[dim];
    if (index < 0 || index >= n)
        return em_error("select: index %lld is out of range for dimension %d of size %lld",
                        (long long)index + 1, dim + 1, (long long)n), NULL;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == dim)
            continue;
        sizes[k] = t->sizes[i];
        strides[k++] = t->strides[i];
    }
    return make_view(t, t->ndim - 1, sizes, strides, t->offset + index * t->strides[dim]);
}

em_tensor *em_squeeze(em_tensor *t, int dim)
{
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    int k = 0;
    if (dim >= 0 && t->ndim > 0 && check_dim("squeeze", dim, t->ndim) < 0)
        return NULL;
    for (int i = 0; i < t->ndim; i++) {
        if (t->sizes[i] == 1 && (dim < 0 || dim == i))
            continue;
        sizes[k] = t->sizes[i];
        strides[k++] = t->strides[i];
    }
    return make_view(t, k, sizes, strides, t->offset);
}

em_tensor *em_unsqueeze(em_tensor *t, int dim)
{
    if (dim < 0 || dim > t->ndim)
        return em_error("unsqueeze: dimension %d out of range for a %d-d tensor (expected 1..%d)", dim + 1,
                        t->ndim, t->ndim + 1), NULL;
    if (t->ndim >= EM_MAX_DIMS)
        return em_error("unsqueeze: at most %d dimensions", EM_MAX_DIMS), NULL;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    int k = 0;
    for (int i = 0; i <= t->ndim; i++) {
        if (i == dim) {
            sizes[k] = 1;
            strides[k++] = i < t->ndim ? t->sizes[i] * t->strides[i] : 1;
        }
        if (i < t->ndim) {
            sizes[k] = t->sizes[i];
            strides[k++] = t->strides[i];
        }
    }
    return make_view(t, t->ndim + 1, sizes, strides, t->offset);
}

em_tensor *em_expand(em_tensor *t, int ndim, const int64_t *want)
{
    char buf[EM_SHAPE_BUF], buf2[EM_SHAPE_BUF];
    if (ndim < t->ndim)
        return em_error("expand: the number of sizes (%d) must be at least the tensor's dimensions (%d)",
                        ndim, t->ndim), NULL;
    if (ndim > EM_MAX_DIMS)
        return em_error("expand: at most %d dimensions", EM_MAX_DIMS), NULL;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    for (int i = ndim - 1; i >= 0; i--) {
        int ti = t->ndim - ndim + i;
        if (ti < 0) {
            if (want[i] < 0)
                return em_error("expand: size -1 is not allowed in a new leading dimension"), NULL;
            sizes[i] = want[i];
            strides[i] = 0;
            continue;
        }
        int64_t w = want[i] == -1 ? t->sizes[ti] : want[i];
        if (t->sizes[ti] == w) {
            sizes[i] = w;
            strides[i] = t->strides[ti];
        } else if (t->sizes[ti] == 1 && w >= 0) {
            sizes[i] = w;
            strides[i] = 0;
        } else {
            return em_error("expand: shape %s cannot be expanded to %s (dimension %d: %lld vs %lld)",
                            em_tensor_shape_str(t, buf, sizeof buf), em_shape_str(buf2, sizeof buf2, ndim, want),
                            i + 1, (long long)t->sizes[ti], (long long)w), NULL;
        }
    }
    return make_view(t, ndim, sizes, strides, t->offset);
}

em_tensor *em_flatten(em_tensor *t, int start, int end)
{
    if (t->ndim == 0) {
        int64_t one = 1;
        return em_reshape(t, 1, &one);
    }
    if (check_dim("flatten", start, t->ndim) < 0 || check_dim("flatten", end, t->ndim) < 0)
        return NULL;
    if (start > end)
        return em_error("flatten: start_dim %d comes after end_dim %d", start + 1, end + 1), NULL;
    int64_t sizes[EM_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < start; i++)
        sizes[k++] = t->sizes[i];
    int64_t m = 1;
    for (int i = start; i <= end; i++)
        m *= t->sizes[i];
    sizes[k++] = m;
    for (int i = end + 1; i < t->ndim; i++)
        sizes[k++] = t->sizes[i];
    return em_reshape(t, k, sizes);
}

em_tensor *em_unflatten(em_tensor *t, int dim, int n, const int64_t *parts)
{
    if (check_dim("unflatten", dim, t->ndim) < 0)
        return NULL;
    if (n < 1 || t->ndim - 1 + n > EM_MAX_DIMS)
        return em_error("unflatten: sizes must have between 1 and %d entries", EM_MAX_DIMS - t->ndim + 1), NULL;
    int64_t p[EM_MAX_DIMS];
    memcpy(p, parts, (size_t)n * sizeof(int64_t));
    if (em_infer_size("unflatten", t->sizes[dim], n, p) < 0)
        return NULL;
    int64_t sizes[EM_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == dim)
            for (int j = 0; j < n; j++)
                sizes[k++] = p[j];
        else
            sizes[k++] = t->sizes[i];
    }
    return em_view(t, k, sizes);
}

em_tensor *em_unfold(em_tensor *t, int dim, int64_t size, int64_t step)
{
    int nd = t->ndim == 0 ? 1 : t->ndim;
    int64_t n = t->ndim == 0 ? 1 : t->sizes[dim];
    int64_t st = t->ndim == 0 ? 1 : t->strides[dim];
    if (t->ndim > 0 && check_dim("unfold", dim, t->ndim) < 0)
        return NULL;
    if (t->ndim >= EM_MAX_DIMS)
        return em_error("unfold: at most %d dimensions", EM_MAX_DIMS), NULL;
    if (size < 0 || size > n)
        return em_error("unfold: size %lld exceeds the size %lld of dimension %d", (long long)size,
                        (long long)n, dim + 1), NULL;
    if (step <= 0)
        return em_error("unfold: step must be positive, got %lld", (long long)step), NULL;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        sizes[i] = t->sizes[i], strides[i] = t->strides[i];
    sizes[dim] = (n - size) / step + 1;
    strides[dim] = st * step;
    sizes[nd] = size;
    strides[nd] = st;
    return make_view(t, t->ndim == 0 ? 1 : nd + 1, sizes, strides, t->offset);
}

em_tensor *em_diagonal(em_tensor *t, int64_t offset, int d1, int d2)
{
    if (t->ndim < 2)
        return em_error("diagonal: expected a tensor with at least 2 dimensions, got %d", t->ndim), NULL;
    if (check_dim("diagonal", d1, t->ndim) < 0 || check_dim("diagonal", d2, t->ndim) < 0)
        return NULL;
    if (d1 == d2)
        return em_error("diagonal: dimensions %d and %d are the same", d1 + 1, d2 + 1), NULL;
    int64_t len, off = t->offset;
    if (offset >= 0) {
        len = t->sizes[d2] - offset < t->sizes[d1] ? t->sizes[d2] - offset : t->sizes[d1];
        if (len > 0)
            off += offset * t->strides[d2];
    } else {
        len = t->sizes[d1] + offset < t->sizes[d2] ? t->sizes[d1] + offset : t->sizes[d2];
        if (len > 0)
            off -= offset * t->strides[d1];
    }
    if (len < 0)
        len = 0;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == d1 || i == d2)
            continue;
        sizes[k] = t->sizes[i];
        strides[k++] = t->strides[i];
    }
    sizes[k] = len;
    strides[k++] = t->strides[d1] + t->strides[d2];
    return make_view(t, k, sizes, strides, off);
}

em_tensor *em_as_strided(em_tensor *t, int ndim, const int64_t *sizes, const int64_t *strides,
                         int64_t offset)
{
    if (em_check_sizes("as_strided", ndim, sizes) < 0)
        return NULL;
    int64_t hi = offset, esize = (int64_t)em_dtype_size(t->dtype);
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (strides[i] < 0)
            return em_error("as_strided: negative strides are not supported"), NULL;
        if (sizes[i] == 0)
            empty = true;
        else if (strides[i] > 0 && sizes[i] - 1 > (INT64_MAX / esize - 1 - hi) / strides[i])
            return em_error("as_strided: sizes and strides reach past any storage"), NULL;
        else
            hi += (sizes[i] - 1) * strides[i];
    }
    if (offset < 0 || (!empty && (hi + 1) * esize > (int64_t)t->storage->nbytes))
        return em_error("as_strided: the view needs %lld elements but the storage holds %lld", (long long)hi + 1,
                        (long long)(t->storage->nbytes / (size_t)esize)), NULL;
    return make_view(t, ndim, sizes, strides, offset);
}

/* t:set_(src, offset, sizes, strides): t itself (the same tensor object) now views
 * src's storage with the given geometry, checked as as_strided checks it. t's old
 * storage reference is dropped; t stops being a view of any base. */
int em_tensor_set_(em_tensor *t, const em_tensor *src, int64_t offset, int ndim, const int64_t *sizes,
                   const int64_t *strides)
{
    if (t->dtype != src->dtype)
        return em_error("set_: the source has dtype %s but the tensor has dtype %s", em_dtype_name(src->dtype),
                        em_dtype_name(t->dtype));
    if (!em_device_eq(em_tensor_device(t), em_tensor_device(src)))
        return em_error("set_: the source is on another device than the tensor");
    em_tensor *v = em_as_strided((em_tensor *)src, ndim, sizes, strides, offset);
    if (!v)
        return -1;
    em_storage_retain(v->storage);
    em_storage_release(t->storage);
    t->storage = v->storage;
    t->offset = v->offset;
    t->ndim = v->ndim;
    memcpy(t->sizes, v->sizes, sizeof t->sizes);
    memcpy(t->strides, v->strides, sizeof t->strides);
    if (t->base) {
        em_tensor_release(t->base);
        t->base = NULL;
    }
    em_tensor_release(v);
    em_tensor_bump_version(t);
    return 0;
}
