/* cat, stack, flip, roll, tril/triu, repeat and one_hot, built from views plus
 * em_copy_ / em_fill_ (see shape_ops.h). */
#include "shape_ops.h"
#include "copy.h"
#include "error.h"
#include "index.h"
#include "view.h"

#include <string.h>

static int check_dim(const char *op, int dim, int ndim)
{
    if (dim < 0 || dim >= (ndim > 0 ? ndim : 1))
        return em_error("%s: dimension %d out of range for a %d-d tensor", op, dim + 1, ndim);
    return 0;
}

bool em_cat_skips(const em_tensor *t)
{
    return t->ndim == 1 && t->sizes[0] == 0;
}

em_tensor *em_cat(int n, em_tensor *const *ts, int dim)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (n <= 0)
        return em_error("cat: expected a non-empty list of tensors"), NULL;
    const em_tensor *first = NULL;
    int ifirst = 0;
    em_dtype dt = ts[0]->dtype;
    for (int i = 0; i < n; i++) {
        if (ts[i]->ndim == 0)
            return em_error("cat: zero-dimensional tensor (at position %d) cannot be concatenated", i + 1), NULL;
        dt = i == 0 ? ts[i]->dtype : em_dtype_promote(dt, ts[i]->dtype);
        if (!em_device_eq(em_tensor_device(ts[i]), em_tensor_device(ts[0])))
            return em_error("cat: tensors are on different devices (tensor %d)", i + 1), NULL;
        if (!first && !em_cat_skips(ts[i])) {
            first = ts[i];
            ifirst = i;
        }
    }
    if (!first) /* every tensor is a 1-d empty one */
        return em_tensor_empty(1, (int64_t[]){ 0 }, dt, em_tensor_device(ts[0]));
    if (check_dim("cat", dim, first->ndim) < 0)
        return NULL;
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, first->sizes, sizeof sizes);
    sizes[dim] = 0;
    for (int i = 0; i < n; i++) {
        const em_tensor *t = ts[i];
        if (em_cat_skips(t))
            continue;
        bool ok = t->ndim == first->ndim;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = d == dim || t->sizes[d] == first->sizes[d];
        if (!ok)
            return em_error("cat: sizes of tensors must match except in dimension %d (tensor %d is %s, tensor %d "
                            "is %s)",
                            dim + 1, ifirst + 1, em_tensor_shape_str(first, b1, sizeof b1), i + 1,
                            em_tensor_shape_str(t, b2, sizeof b2)),
                   NULL;
        sizes[dim] += t->sizes[dim];
    }
    em_tensor *out = em_tensor_empty(first->ndim, sizes, dt, em_tensor_device(first));
    if (!out)
        return NULL;
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (em_cat_skips(ts[i]))
            continue;
        em_tensor *part = em_narrow(out, dim, at, ts[i]->sizes[dim]);
        int rc = part ? em_copy_(part, ts[i]) : -1;
        em_tensor_release(part);
        if (rc < 0) {
            em_tensor_release(out);
            return NULL;
        }
        at += ts[i]->sizes[dim];
    }
    out->storage->version = 0;
    return out;
}

em_tensor *em_stack(int n, em_tensor *const *ts, int dim)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (n <= 0)
        return em_error("stack: expected a non-empty list of tensors"), NULL;
    if (dim < 0 || dim > ts[0]->ndim)
        return em_error("stack: dimension %d out of range for %d-d inputs (expected 1..%d)", dim + 1, ts[0]->ndim,
                        ts[0]->ndim + 1),
               NULL;
    for (int i = 1; i < n; i++)
        if (!em_same_shape(ts[i], ts[0]))
            return em_error("stack: expects each tensor to be equal size, but got %s at entry 1 and %s at entry %d",
                            em_tensor_shape_str(ts[0], b1, sizeof b1), em_tensor_shape_str(ts[i], b2, sizeof b2),
                            i + 1),
                   NULL;
    em_tensor *us[64], **u = n <= 64 ? us : NULL;
    if (!u)
        return em_error("stack: at most 64 tensors at once, got %d", n), NULL;
    int made = 0;
    em_tensor *out = NULL;
    for (; made < n; made++)
        if (!(u[made] = em_unsqueeze(ts[made], dim)))
            goto done;
    out = em_cat(n, u, dim);
done:
    for (int i = 0; i < made; i++)
        em_tensor_release(u[i]);
    return out;
}

em_tensor *em_flip(em_tensor *t, int n, const int *dims)
{
    int64_t strides[EM_MAX_DIMS];
    memcpy(strides, t->strides, sizeof strides);
    int64_t offset = t->offset;
    bool seen[EM_MAX_DIMS] = { false };
    for (int i = 0; i < n; i++) {
        int d = dims[i];
        if (check_dim("flip", d, t->ndim) < 0)
            return NULL;
        if (t->ndim == 0)
            continue;
        if (seen[d])
            return em_error("flip: dimension %d appears more than once", d + 1), NULL;
        seen[d] = true;
        if (t->sizes[d] > 0)
            offset += (t->sizes[d] - 1) * strides[d];
        strides[d] = -strides[d];
    }
    /* a private view with negative strides, read once by the copy */
    em_tensor *v = em_tensor_new_view(t->storage, t->dtype, offset, t->ndim, t->sizes, strides);
    em_tensor *out = v ? em_clone(v) : NULL;
    em_tensor_release(v);
    return out;
}

/* out <- t rolled by s along d (out and t same shape, distinct storage) */
static int roll_into(em_tensor *out, em_tensor *t, int d, int64_t s)
{
    int64_t n = t->sizes[d];
    if (n == 0)
        return em_copy_(out, t);
    s = ((s % n) + n) % n;
    em_tensor *a = em_narrow(out, d, s, n - s), *b = em_narrow(t, d, 0, n - s);
    em_tensor *c = em_narrow(out, d, 0, s), *e = em_narrow(t, d, n - s, s);
    int rc = (a && b && c && e && em_copy_(a, b) == 0 && em_copy_(c, e) == 0) ? 0 : -1;
    em_tensor_release(a);
    em_tensor_release(b);
    em_tensor_release(c);
    em_tensor_release(e);
    return rc;
}

em_tensor *em_roll(em_tensor *t, int n, const int64_t *shifts, const int *dims)
{
    if (n == 0) {
        em_tensor *flat = em_reshape(t, 1, (int64_t[]){ -1 });
        int zero = 0;
        em_tensor *r = flat ? em_roll(flat, 1, shifts, &zero) : NULL;
        em_tensor *out = r ? em_reshape(r, t->ndim, t->sizes) : NULL;
        em_tensor_release(flat);
        em_tensor_release(r);
        return out;
    }
    if (t->ndim == 0)
        return em_error("roll: cannot roll a 0-d tensor along a dimension"), NULL;
    for (int i = 0; i < n; i++)
        if (check_dim("roll", dims[i], t->ndim) < 0)
            return NULL;
    em_tensor *cur = t;
    em_tensor_retain(cur);
    for (int i = 0; i < n; i++) {
        em_tensor *next = em_tensor_empty(t->ndim, t->sizes, t->dtype, em_tensor_device(t));
        if (!next || roll_into(next, cur, dims[i], shifts[i]) < 0) {
            em_tensor_release(next);
            em_tensor_release(cur);
            return NULL;
        }
        em_tensor_release(cur);
        cur = next;
        cur->storage->version = 0;
    }
    return cur;
}

int em_tril_(em_tensor *t, int64_t k, bool upper)
{
    const char *op = upper ? "triu_" : "tril_";
    if (t->ndim < 2)
        return em_error("%s: input must have at least 2 dimensions, got %d", op, t->ndim);
    int rd = t->ndim - 2;
    int64_t rows = t->sizes[rd], cols = t->sizes[rd + 1];
    for (int64_t i = 0; i < rows; i++) {
        /* tril zeroes the columns j > i + k; triu those j < i + k */
        int64_t start, len;
        if (upper) {
            start = 0;
            len = i + k < 0 ? 0 : (i + k > cols ? cols : i + k);
        } else {
            start = i + k + 1 < 0 ? 0 : (i + k + 1 > cols ? cols : i + k + 1);
            len = cols - start;
        }
        if (len == 0)
            continue;
        em_tensor *row = em_select(t, rd, i);
        em_tensor *part = row ? em_narrow(row, rd, start, len) : NULL;
        int rc = part ? em_fill_(part, em_scalar_int(0)) : -1;
        em_tensor_release(part);
        em_tensor_release(row);
        if (rc < 0)
            return -1;
    }
    em_tensor_bump_version(t);
    return 0;
}

em_tensor *em_tril(em_tensor *t, int64_t k, bool upper)
{
    if (t->ndim < 2)
        return em_error("%s: input must have at least 2 dimensions, got %d", upper ? "triu" : "tril", t->ndim), NULL;
    em_tensor *out = em_clone(t);
    if (out && em_tril_(out, k, upper) < 0) {
        em_tensor_release(out);
        return NULL;
    }
    if (out)
        out->storage->version = 0;
    return out;
}

em_tensor *em_repeat(em_tensor *t, int n, const int64_t *reps)
{
    if (n < t->ndim)
        return em_error("repeat: number of repeat sizes (%d) cannot be smaller than the number of dimensions of the "
                        "tensor (%d)",
                        n, t->ndim),
               NULL;
    if (n > EM_MAX_DIMS)
        return em_error("repeat: at most %d dimensions", EM_MAX_DIMS), NULL;
    int64_t out_sizes[EM_MAX_DIMS];
    /* t seen with leading size-1 dims, then each repeated dim split into
     * (repeats, size) with stride 0 on the repeats */
    int64_t vs[EM_MAX_DIMS], vst[EM_MAX_DIMS];
    int m = 0;
    for (int d = 0; d < n; d++) {
        int td = d - (n - t->ndim);
        int64_t sz = td >= 0 ? t->sizes[td] : 1, st = td >= 0 ? t->strides[td] : 0;
        if (reps[d] < 0)
            return em_error("repeat: repeat sizes must be non-negative, got %lld for dimension %d",
                            (long long)reps[d], d + 1),
                   NULL;
        if (sz > 0 && reps[d] > INT64_MAX / sz)
            return em_error("repeat: the result would have too many elements (dimension %d: size %lld repeated "
                            "%lld times)",
                            d + 1, (long long)sz, (long long)reps[d]),
                   NULL;
        out_sizes[d] = reps[d] * sz;
        if (reps[d] != 1) {
            if (m >= EM_MAX_DIMS)
                return em_error("repeat: too many repeated dimensions"), NULL;
            vs[m] = reps[d];
            vst[m++] = 0;
        }
        if (m >= EM_MAX_DIMS)
            return em_error("repeat: too many repeated dimensions"), NULL;
        vs[m] = sz;
        vst[m++] = st;
    }
    if (em_check_sizes("repeat", n, out_sizes) < 0)
        return NULL;
    em_tensor *v = em_tensor_new_view(t->storage, t->dtype, t->offset, m, vs, vst);
    em_tensor *tmp = v ? em_tensor_empty(m, vs, t->dtype, em_tensor_device(t)) : NULL;
    em_tensor *out = NULL;
    if (tmp && em_copy_(tmp, v) == 0)
        out = em_view(tmp, n, out_sizes);
    if (out)
        out->storage->version = 0;
    em_tensor_release(v);
    em_tensor_release(tmp);
    return out;
}

em_tensor *em_one_hot(const em_tensor *labels, int64_t num_classes)
{
    if (!em_dtype_is_int(labels->dtype))
        return em_error("one_hot: labels must be an integer tensor (int64), got %s", em_dtype_name(labels->dtype)),
               NULL;
    if (labels->ndim >= EM_MAX_DIMS)
        return em_error("one_hot: at most %d label dimensions", EM_MAX_DIMS - 1), NULL;
    /* the labels are read on the CPU to find the class count and check ranges */
    em_tensor *cpu = em_tensor_empty(labels->ndim, labels->sizes, EM_INT64, EM_CPU);
    if (!cpu || em_copy_(cpu, labels) < 0) {
        em_tensor_release(cpu);
        return NULL;
    }
    const int64_t *v = em_tensor_data(cpu);
    int64_t n = em_tensor_numel(cpu), mx = 0;
    for (int64_t i = 0; i < n; i++)
        mx = v[i] > mx ? v[i] : mx;
    if (num_classes < 0) {
        if (n == 0) {
            em_tensor_release(cpu);
            return em_error("one_hot: cannot infer the number of classes from an empty tensor"), NULL;
        }
        num_classes = mx;
    }
    for (int64_t i = 0; i < n; i++)
        if (v[i] < 1 || v[i] > num_classes) {
            em_error("one_hot: class %lld is out of range 1..%lld (classes are 1-based)", (long long)v[i],
                     (long long)num_classes);
            em_tensor_release(cpu);
            return NULL;
        }
    em_tensor_release(cpu);
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, labels->sizes, (size_t)labels->ndim * sizeof(int64_t));
    sizes[labels->ndim] = num_classes;
    em_tensor *out = em_full(labels->ndim + 1, sizes, em_scalar_int(0), EM_INT64, em_tensor_device(labels));
    if (!out || n == 0)
        return out;
    em_tensor *idx = em_unsqueeze((em_tensor *)labels, labels->ndim);
    int rc = idx ? em_scatter_(out, labels->ndim, idx, NULL, em_scalar_int(1), EM_SCATTER_ASSIGN) : -1;
    em_tensor_release(idx);
    if (rc < 0) {
        em_tensor_release(out);
        return NULL;
    }
    out->storage->version = 0;
    return out;
}
