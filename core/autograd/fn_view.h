/* Differentiable view ops (see core/view.h for the plain ones). */
#ifndef EM_AG_FN_VIEW_H
#define EM_AG_FN_VIEW_H

#include "autograd.h"
#include "../view.h"

/* Views made here record their base (t->base) so in-place writes through them
 * rebase the base's history. Arguments and results are those of the em_ ops. */
em_tensor *em_ag_view(em_tensor *t, int ndim, const int64_t *sizes);
em_tensor *em_ag_reshape(em_tensor *t, int ndim, const int64_t *sizes);
em_tensor *em_ag_expand(em_tensor *t, int ndim, const int64_t *sizes);
em_tensor *em_ag_permute(em_tensor *t, const int *perm);
em_tensor *em_ag_transpose(em_tensor *t, int d0, int d1);
/* PyTorch's t(): the 2-d transpose; 0-d and 1-d tensors come back as views of themselves. */
em_tensor *em_ag_t(em_tensor *t);
/* A view with t's own geometry (for ops that return their input unchanged). */
em_tensor *em_ag_alias(em_tensor *t);
em_tensor *em_ag_narrow(em_tensor *t, int dim, int64_t start, int64_t length);
em_tensor *em_ag_slice(em_tensor *t, int dim, int64_t start, int64_t end, int64_t step);
em_tensor *em_ag_select(em_tensor *t, int dim, int64_t index);
em_tensor *em_ag_squeeze(em_tensor *t, int dim);
em_tensor *em_ag_unsqueeze(em_tensor *t, int dim);
em_tensor *em_ag_flatten(em_tensor *t, int start, int end);
em_tensor *em_ag_unflatten(em_tensor *t, int dim, int n, const int64_t *sizes);
em_tensor *em_ag_unfold(em_tensor *t, int dim, int64_t size, int64_t step);
em_tensor *em_ag_diagonal(em_tensor *t, int64_t offset, int d1, int d2);
em_tensor *em_ag_as_strided(em_tensor *t, int ndim, const int64_t *sizes, const int64_t *strides, int64_t offset);
/* set_ with autograd's rules: refused for tensors with history, and for leaves that
 * require grad while grad mode is on (as PyTorch); a leaf's AccumulateGrad learns
 * the new shape. 0 or -1. */
int em_ag_set_(em_tensor *t, const em_tensor *src, int64_t offset, int ndim, const int64_t *sizes,
               const int64_t *strides);
/* Sets v->base from t when v shares t's storage; passes v through. */
em_tensor *em_ag_mark_view(em_tensor *t, em_tensor *v);

#endif
