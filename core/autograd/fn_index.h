/* Differentiable index ops (see core/index.h for the plain ones). Index tensors
 * hold 1-based positions as in the core; dims are 0-based. */
#ifndef EM_AG_FN_INDEX_H
#define EM_AG_FN_INDEX_H

#include "autograd.h"
#include "../index.h"

/* ---- reading ops: same arguments and results as the core ops ---- */
em_tensor *em_ag_index_select(em_tensor *src, int dim, const em_tensor *index);
em_tensor *em_ag_gather(em_tensor *src, int dim, const em_tensor *index);
em_tensor *em_ag_take(em_tensor *src, const em_tensor *index);
em_tensor *em_ag_masked_select(em_tensor *src, const em_tensor *mask);

/* ---- writing ops, out of place: a new tensor, self untouched ----
 * For index_fill / masked_fill, `value` is an optional 0-d tensor used instead of
 * v (its gradient is the sum of the gradient over the filled positions). */
em_tensor *em_ag_index_add(em_tensor *self, int dim, const em_tensor *index, em_tensor *src, em_scalar alpha);
em_tensor *em_ag_index_copy(em_tensor *self, int dim, const em_tensor *index, em_tensor *src);
em_tensor *em_ag_index_fill(em_tensor *self, int dim, const em_tensor *index, em_scalar v, em_tensor *value);
/* src == NULL scatters v (as em_scatter_). A source with reduce multiply has no gradient. */
em_tensor *em_ag_scatter(em_tensor *self, int dim, const em_tensor *index, em_tensor *src, em_scalar v,
                         em_scatter_reduce reduce);
em_tensor *em_ag_masked_fill(em_tensor *self, const em_tensor *mask, em_scalar v, em_tensor *value);
em_tensor *em_ag_masked_scatter(em_tensor *self, const em_tensor *mask, em_tensor *src);

/* ---- the same in place (0 or -1) ---- */
int em_ag_index_add_(em_tensor *self, int dim, const em_tensor *index, em_tensor *src, em_scalar alpha);
int em_ag_index_copy_(em_tensor *self, int dim, const em_tensor *index, em_tensor *src);
int em_ag_index_fill_(em_tensor *self, int dim, const em_tensor *index, em_scalar v, em_tensor *value);
int em_ag_scatter_(em_tensor *self, int dim, const em_tensor *index, em_tensor *src, em_scalar v,
                   em_scatter_reduce reduce);
int em_ag_masked_fill_(em_tensor *self, const em_tensor *mask, em_scalar v, em_tensor *value);
int em_ag_masked_scatter_(em_tensor *self, const em_tensor *mask, em_tensor *src);

#endif
