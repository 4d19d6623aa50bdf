/* Differentiable shape ops (see core/shape_ops.h for the plain ones). */
#ifndef EM_AG_FN_SHAPE_H
#define EM_AG_FN_SHAPE_H

#include "autograd.h"
#include "../shape_ops.h"

em_tensor *em_ag_cat(int n, em_tensor *const *ts, int dim);
em_tensor *em_ag_stack(int n, em_tensor *const *ts, int dim);
em_tensor *em_ag_flip(em_tensor *t, int n, const int *dims);
em_tensor *em_ag_roll(em_tensor *t, int n, const int64_t *shifts, const int *dims);
em_tensor *em_ag_tril(em_tensor *t, int64_t k, bool upper);
int em_ag_tril_(em_tensor *t, int64_t k, bool upper);
em_tensor *em_ag_repeat(em_tensor *t, int n, const int64_t *reps);

#endif
