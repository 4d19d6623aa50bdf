/* Views: new tensors over the same storage with different geometry. No data moves
 * (reshape and flatten copy only when no view is possible). Dims are 0-based here;
 * the binding converts from Lua's 1-based dims. All return a new reference or NULL. */
#ifndef EM_VIEW_H
#define EM_VIEW_H

#include "tensor.h"

em_tensor *em_view(em_tensor *t, int ndim, const int64_t *sizes);      /* one size may be -1 */
em_tensor *em_reshape(em_tensor *t, int ndim, const int64_t *sizes);   /* view, else a copy */
em_tensor *em_permute(em_tensor *t, const int *perm);
em_tensor *em_transpose(em_tensor *t, int d0, int d1);
em_tensor *em_narrow(em_tensor *t, int dim, int64_t start, int64_t length);
em_tensor *em_slice(em_tensor *t, int dim, int64_t start, int64_t end, int64_t step);
em_tensor *em_select(em_tensor *t, int dim, int64_t index);
em_tensor *em_squeeze(em_tensor *t, int dim);                          /* dim < 0: all size-1 dims */
em_tensor *em_unsqueeze(em_tensor *t, int dim);                        /* 0 <= dim <= ndim */
em_tensor *em_expand(em_tensor *t, int ndim, const int64_t *sizes);    /* -1 keeps a size */
em_tensor *em_flatten(em_tensor *t, int start, int end);
em_tensor *em_unflatten(em_tensor *t, int dim, int n, const int64_t *sizes);
em_tensor *em_unfold(em_tensor *t, int dim, int64_t size, int64_t step);
em_tensor *em_diagonal(em_tensor *t, int64_t offset, int d1, int d2);
em_tensor *em_as_strided(em_tensor *t, int ndim, const int64_t *sizes, const int64_t *strides,
                         int64_t offset);
/* Makes t view src's storage with the given geometry, in place (t keeps its identity
 * and autograd fields). 0 or -1. */
int em_tensor_set_(em_tensor *t, const em_tensor *src, int64_t offset, int ndim, const int64_t *sizes,
                   const int64_t *strides);

/* Whether sizes can be a view of t, filling strides if so (PyTorch's view rule). */
bool em_view_strides(const em_tensor *t, int ndim, const int64_t *sizes, int64_t *strides);
/* Resolves a single -1 in sizes against numel; -1 with an error naming op. */
int em_infer_size(const char *op, int64_t numel, int ndim, int64_t *sizes);

#endif
