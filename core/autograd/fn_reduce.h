/* Differentiable reductions, scans, sorting and softmax (see core/reduce.h for the
 * plain ones; same arguments and results). Values are differentiable; positions
 * (indices) and boolean/integer results are not. */
#ifndef EM_AG_FN_REDUCE_H
#define EM_AG_FN_REDUCE_H

#include "autograd.h"
#include "../reduce.h"

/* value reductions (fn_reduce.c) */
em_tensor *em_ag_sum(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_ag_mean(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_ag_prod(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_ag_amax(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out);
em_tensor *em_ag_amin(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out);
em_tensor *em_ag_norm(em_tensor *x, double p, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_ag_var(em_tensor *x, const bool *dims, double correction, bool keepdim, em_tensor *out);
em_tensor *em_ag_std(em_tensor *x, const bool *dims, double correction, bool keepdim, em_tensor *out);
em_tensor *em_ag_logsumexp(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out);
em_tensor *em_ag_max_binary(em_tensor *a, em_tensor *b);
em_tensor *em_ag_min_binary(em_tensor *a, em_tensor *b);
em_tensor *em_ag_max_all(em_tensor *x);
em_tensor *em_ag_min_all(em_tensor *x);
em_tensor *em_ag_median_all(em_tensor *x);
/* g (a reduction's output gradient) expanded back to the input's shape. */
em_tensor *em_ag_reduce_grad_expand(em_tensor *g, int ndim, const int64_t *sizes, const bool *dims, bool keepdim);

/* values and positions along a dim (fn_sort.c): the gradient goes to the
 * returned positions */
int em_ag_max_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_ag_min_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_ag_median_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_ag_mode(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_ag_kthvalue(em_tensor *x, int64_t k, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_ag_sort(em_tensor *x, int dim, bool descending, em_tensor **values, em_tensor **indices);
int em_ag_topk(em_tensor *x, int64_t k, int dim, bool largest, em_tensor **values, em_tensor **indices);
/* Before an out= form of the ops above (then em_select_out): -1 with an error
 * when x requires grad and grad mode is on. */
int em_ag_select_refuse_out(const char *op, em_tensor *x);

/* scans and softmax (fn_scan.c) */
em_tensor *em_ag_cumsum(em_tensor *x, int dim, int dtype, em_tensor *out);
em_tensor *em_ag_cumprod(em_tensor *x, int dim, int dtype, em_tensor *out);
em_tensor *em_ag_softmax(em_tensor *x, int dim, int dtype);
em_tensor *em_ag_log_softmax(em_tensor *x, int dim, int dtype);

#endif
