/* Differentiable reduce ops (see core/reduce.h for the plain ones). */
#ifndef EM_AG_FN_REDUCE_H
#define EM_AG_FN_REDUCE_H

#include "autograd.h"
#include "../reduce.h"

em_tensor *em_ag_sum(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_ag_mean(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_ag_reduce_grad_expand(em_tensor *g, int ndim, const int64_t *sizes, const bool *dims, bool keepdim);

#endif
