/* Memory overlap checks for in-place ops, out= and copy_ (see overlap.h). Cheap on
 * the common path: tensors on different storages, or whose byte ranges do not
 * meet, are decided before any geometry is compared. */
#include "overlap.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

bool em_tensor_has_internal_overlap(const em_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->strides[d] == 0 && t->sizes[d] > 1)
            return true;
    return false;
}

bool em_tensor_is_dense(const em_tensor *t)
{
    /* dims of size > 1 by increasing |stride| must have strides 1, s0, s0*s1, ... */
    int dims[EM_MAX_DIMS], n = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->sizes[d] == 0)
            return true;
        if (t->sizes[d] > 1)
            dims[n++] = d;
    }
    for (int i = 1; i < n; i++) { /* insertion sort by |stride| */
        int d = dims[i], j = i;
        while (j > 0 && llabs(t->strides[dims[j - 1]]) > llabs(t->strides[d])) {
            dims[j] = dims[j - 1];
            j--;
        }
        dims[j] = d;
    }
    int64_t expect = 1;
    for (int i = 0; i < n; i++) {
        if (llabs(t->strides[dims[i]]) != expect)
            return false;
        expect *= t->sizes[dims[i]];
    }
    return true;
}

/* [lo, hi) in bytes of the memory t's elements touch; false for an empty tensor */
static bool byte_range(const em_tensor *t, uintptr_t *lo, uintptr_t *hi)
{
    int64_t first = 0, last = 0, es = (int64_t)em_dtype_size(t->dtype);
    for (int d = 0; d < t->ndim; d++) {
        if (t->sizes[d] == 0)
            return false;
        int64_t span = t->strides[d] * (t->sizes[d] - 1);
        if (span < 0)
            first += span;
        else
            last += span;
    }
    uintptr_t base = (uintptr_t)t->storage->data + (uintptr_t)(t->offset * es);
    *lo = base + (uintptr_t)(first * es);
    *hi = base + (uintptr_t)((last + 1) * es);
    return true;
}

static bool same_geometry(const em_tensor *a, const em_tensor *b)
{
    return a->ndim == b->ndim && em_dtype_size(a->dtype) == em_dtype_size(b->dtype) &&
           memcmp(a->sizes, b->sizes, (size_t)a->ndim * sizeof(int64_t)) == 0 &&
           memcmp(a->strides, b->strides, (size_t)a->ndim * sizeof(int64_t)) == 0;
}

em_overlap em_overlap_get(const em_tensor *a, const em_tensor *b)
{
    if (a == b)
        return EM_OVERLAP_FULL;
    if (!em_device_eq(em_tensor_device(a), em_tensor_device(b)) || !a->storage->data || !b->storage->data)
        return EM_OVERLAP_NO;
    uintptr_t alo, ahi, blo, bhi;
    if (!byte_range(a, &alo, &ahi) || !byte_range(b, &blo, &bhi) || ahi <= blo || bhi <= alo)
        return EM_OVERLAP_NO;
    uintptr_t abase = (uintptr_t)em_tensor_data(a), bbase = (uintptr_t)em_tensor_data(b);
    if (abase == bbase && same_geometry(a, b))
        return EM_OVERLAP_FULL;
    bool ad = em_tensor_is_dense(a), bd = em_tensor_is_dense(b);
    /* a dense tensor owns every byte of its range: whatever of the other lies inside is shared */
    if ((ad && bd) || (ad && blo >= alo && bhi <= ahi) || (bd && alo >= blo && ahi <= bhi))
        return EM_OVERLAP_PARTIAL;
    return EM_OVERLAP_TOO_HARD;
}

int em_overlap_check_internal(const char *op, const em_tensor *out)
{
    if (em_tensor_has_internal_overlap(out))
        return em_error("%s: unsupported operation: more than one element of the written-to tensor refers to a "
                        "single memory location (an expanded tensor); clone() it first",
                        op);
    return 0;
}

int em_overlap_check_input(const char *op, const em_tensor *out, const em_tensor *in)
{
    if (em_overlap_get(out, in) == EM_OVERLAP_PARTIAL)
        return em_error("%s: unsupported operation: some elements of the input tensor and the written-to tensor "
                        "refer to a single memory location; clone() the input first",
                        op);
    return 0;
}
