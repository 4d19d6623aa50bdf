/* Indexing ops: index_select / index_add_ / index_copy_ / index_fill_, gather and
 * scatter, masked_select / masked_fill_ / masked_scatter_, nonzero and take.
 * Dims are 0-based here (the binding converts), but the VALUES held by index
 * tensors are Lua's: 1-based, with -n..-1 counting from the end, so a Lua index
 * tensor reaches the kernels without a shifted copy. Every index is bounds-checked
 * before anything is written; an out-of-range index is an error, never a write.
 * nonzero returns 1-based coordinates for the same reason. */
#ifndef EM_INDEX_H
#define EM_INDEX_H

#include "tensor.h"

typedef enum em_scatter_reduce {
    EM_SCATTER_ASSIGN = 0,
    EM_SCATTER_ADD,
    EM_SCATTER_MUL
} em_scatter_reduce;

/* ---- kernel signatures (dispatch ids in dispatch.h) ---- */
/* Checks every value of index lies in 1..size or -size..-1; the error names op,
 * the offending (1-based) value, dim + 1 and size. */
typedef int (*em_index_check_kernel)(const char *op, const em_tensor *index, int dim, int64_t size);
/* out[p] = src[p with coordinate dim replaced by index[p]]; index has out's shape
 * (often an expanded view) and holds checked indices; src is at least as large as
 * out in every dim but dim. */
typedef int (*em_gather_kernel)(em_tensor *out, const em_tensor *src, int dim, const em_tensor *index);
/* self[p with coordinate dim replaced by index[p]] (op)= src[p] for p over index's
 * shape; src broadcasts to index's shape (a 0-d tensor is a fill value) and has
 * self's dtype. alpha scales src for EM_SCATTER_ADD. Runs serially, in order. */
typedef int (*em_scatter_kernel)(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src,
                                 em_scatter_reduce reduce, em_scalar alpha);
/* self[mask] = value; mask (bool or uint8) broadcasts to self; value is 0-d of self's dtype. */
typedef int (*em_masked_fill_kernel)(em_tensor *self, const em_tensor *mask, const em_tensor *value);
/* The elements of src where mask is set, row-major, as a new 1-d tensor; src and
 * mask have the same shape (expanded views allowed). */
typedef em_tensor *(*em_masked_select_kernel)(const em_tensor *src, const em_tensor *mask);
/* Row-major, the k-th set position of mask (self's shape) gets src's k-th element
 * (src contiguous, self's dtype); fails before writing when src is too short. */
typedef int (*em_masked_scatter_kernel)(em_tensor *self, const em_tensor *mask, const em_tensor *src);
/* N x ndim int64 of the 1-based coordinates of the nonzero elements, row-major. */
typedef em_tensor *(*em_nonzero_kernel)(const em_tensor *src);

/* ---- ops: new references or NULL; in-place ops return 0 or -1 ---- */
em_tensor *em_index_select(em_tensor *src, int dim, const em_tensor *index);
int em_index_add_(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src, em_scalar alpha);
int em_index_copy_(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src);
int em_index_fill_(em_tensor *self, int dim, const em_tensor *index, em_scalar v);
em_tensor *em_gather(em_tensor *src, int dim, const em_tensor *index);
/* src == NULL scatters the value v instead. */
int em_scatter_(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src, em_scalar v,
                em_scatter_reduce reduce);
em_tensor *em_masked_select(em_tensor *src, const em_tensor *mask);
int em_masked_fill_(em_tensor *self, const em_tensor *mask, em_scalar v);
int em_masked_scatter_(em_tensor *self, const em_tensor *mask, const em_tensor *src);
em_tensor *em_nonzero(const em_tensor *src);
/* src viewed as 1-d, indexed by index (any shape); result has index's shape. */
em_tensor *em_take(em_tensor *src, const em_tensor *index);
/* Same checks as the kernels, for callers that index with values they computed. */
int em_index_check(const char *op, const em_tensor *index, int dim, int64_t size);
/* Index dtypes: any integer type (not bool). */
int em_index_check_dtype(const char *op, const em_tensor *index);
int em_mask_check_dtype(const char *op, const em_tensor *mask);

#endif
