/* Differentiable pooling (see core/pool.h for the plain ops; same arguments and
 * results). Max pooling sends its gradient back to the saved 1-based positions
 * (a per-plane scatter-add, or a differentiable scatter under create_graph, so
 * double backward works); unpooling gathers it. Average pooling's backward is a
 * C kernel of first order only: create_graph through it is an error. */
#ifndef EM_AG_FN_POOL_H
#define EM_AG_FN_POOL_H

#include "autograd.h"
#include "../pool.h"

int em_ag_max_pool(em_tensor *x, int nsp, const em_pool_params *p, em_tensor **out, em_tensor **idx);
em_tensor *em_ag_avg_pool(em_tensor *x, int nsp, const em_pool_params *p);
int em_ag_adaptive_max_pool(em_tensor *x, int nsp, const int64_t *osize, em_tensor **out, em_tensor **idx);
em_tensor *em_ag_adaptive_avg_pool(em_tensor *x, int nsp, const int64_t *osize);
em_tensor *em_ag_max_unpool2d(em_tensor *x, const em_tensor *idx, int64_t oh, int64_t ow);

#endif
