/* Reductions, scans, sorting and softmax (device-independent front).
 * Dims are 0-based here (the binding converts Lua's 1-based dims); a reduction over
 * several dims takes a mask `dims` of x->ndim flags (NULL = every dim). Index tensors
 * produced here (max/min/sort/topk/... indices, unique's inverse) hold 1-BASED int64
 * positions, Ember's convention for index tensors. Every function returns new
 * references (or 0) and NULL (or -1) with an error set. */
#ifndef EM_REDUCE_H
#define EM_REDUCE_H

#include "tensor.h"

/* ---- value reductions (EM_K_REDUCE) ---- */
typedef enum em_reduce_op {
    EM_RED_SUM,
    EM_RED_MEAN,
    EM_RED_PROD,
    EM_RED_AMAX,
    EM_RED_AMIN,
    EM_RED_ALL,
    EM_RED_ANY,
    EM_RED_COUNT_NONZERO,
    EM_RED_NORM,      /* args.p: 0, 1, 2, inf, -inf or any other p */
    EM_RED_VAR,       /* args.correction */
    EM_RED_STD,
    EM_RED_LOGSUMEXP,
    EM_RED_ALLCLOSE,  /* reduces a binary predicate: out (0-d bool) <- all(close(in, in2)) */
    EM_RED_EQUAL,
    EM_RED_MAXIMUM,   /* elementwise: out <- max(in, in2) (NaN propagates), all of one shape */
    EM_RED_MINIMUM,
} em_reduce_op;

typedef struct em_reduce_args {
    em_reduce_op op;
    double p;          /* norm order */
    double correction; /* var/std: divide by n - correction */
    double rtol, atol; /* allclose */
    bool equal_nan;
    const em_tensor *in2; /* allclose/equal: second operand, same shape as `starts` */
} em_reduce_args;

/* out has x's shape with the reduced dims of size 1 (strides arbitrary); `starts` has the
 * same shape and points at the first element of each run; each run is run_len elements
 * run_stride (in elements) apart. out's dtype may differ from the input's. */
typedef int (*em_reduce_kernel)(em_tensor *out, const em_tensor *starts, int64_t run_len,
                                int64_t run_stride, const em_reduce_args *a);

/* dtype: -1 for PyTorch's default (int/bool sums and products give int64). */
em_tensor *em_sum(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_mean(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_prod(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_amax(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out);
em_tensor *em_amin(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out);
em_tensor *em_all(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out);
em_tensor *em_any(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out);
em_tensor *em_count_nonzero(em_tensor *x, const bool *dims);
em_tensor *em_norm(em_tensor *x, double p, const bool *dims, bool keepdim, int dtype, em_tensor *out);
em_tensor *em_var(em_tensor *x, const bool *dims, double correction, bool keepdim, em_tensor *out);
em_tensor *em_std(em_tensor *x, const bool *dims, double correction, bool keepdim, em_tensor *out);
em_tensor *em_logsumexp(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out);
/* Whole-tensor comparisons (broadcasting): 0 with *res set, or -1. */
int em_allclose(em_tensor *a, em_tensor *b, double rtol, double atol, bool equal_nan, bool *res);
int em_equal(em_tensor *a, em_tensor *b, bool *res);
/* max(x, y) / min(x, y): elementwise with broadcasting and NaN propagation. */
em_tensor *em_max_binary(em_tensor *a, em_tensor *b);
em_tensor *em_min_binary(em_tensor *a, em_tensor *b);

/* ---- reductions that also give a position (EM_K_REDUCE_INDEX) ---- */
typedef enum em_index_op {
    EM_IDX_MAX, /* first maximum; a NaN wins (the first NaN) */
    EM_IDX_MIN,
    EM_IDX_MEDIAN, /* lower median; NaN if any */
    EM_IDX_KTHVALUE,
    EM_IDX_MODE, /* most frequent value (smallest on ties), its last position */
} em_index_op;

/* values (may be NULL) and indices (int64, 1-based) have x's shape with dim of size 1;
 * starts likewise; each run is run_len elements run_stride apart. k is 0-based. */
typedef int (*em_reduce_index_kernel)(em_tensor *values, em_tensor *indices, const em_tensor *starts,
                                      int64_t run_len, int64_t run_stride, em_index_op op, int64_t k);

/* values and indices along dim (0-based). */
int em_max_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_min_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_median_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_mode(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
int em_kthvalue(em_tensor *x, int64_t k, int dim, bool keepdim, em_tensor **values, em_tensor **indices);
/* Over all elements: a 0-d tensor. */
em_tensor *em_max_all(em_tensor *x);
em_tensor *em_min_all(em_tensor *x);
em_tensor *em_median_all(em_tensor *x);
/* dim < 0: the flat (1-based) position over all elements, as a 0-d int64. */
em_tensor *em_argmax(em_tensor *x, int dim, bool keepdim);
em_tensor *em_argmin(em_tensor *x, int dim, bool keepdim);

/* ---- scans and softmax along one dim (EM_K_SCAN) ---- */
typedef enum em_scan_op { EM_SCAN_CUMSUM, EM_SCAN_CUMPROD, EM_SCAN_SOFTMAX, EM_SCAN_LOG_SOFTMAX } em_scan_op;
/* out and in have the same shape and dtype (the front converts first). */
typedef int (*em_scan_kernel)(em_tensor *out, const em_tensor *in, int dim, em_scan_op op);

em_tensor *em_cumsum(em_tensor *x, int dim, int dtype, em_tensor *out);
em_tensor *em_cumprod(em_tensor *x, int dim, int dtype, em_tensor *out);
em_tensor *em_softmax(em_tensor *x, int dim, int dtype);
em_tensor *em_log_softmax(em_tensor *x, int dim, int dtype);

/* ---- sorting (EM_K_SORT, EM_K_UNIQUE) ---- */
/* values/indices have in's shape with dim of size k; the first k of the sorted order
 * along dim are written (NaN sorts as the largest value). Sorting is always stable. */
typedef int (*em_sort_kernel)(em_tensor *values, em_tensor *indices, const em_tensor *in, int dim,
                              bool descending);
/* in: contiguous 1-D. Outputs the sorted distinct values, and where asked for, the
 * 1-based inverse (in's shape) and the counts. */
typedef int (*em_unique_kernel)(const em_tensor *in, em_tensor **values, em_tensor **inverse,
                                em_tensor **counts);

int em_sort(em_tensor *x, int dim, bool descending, em_tensor **values, em_tensor **indices);
int em_topk(em_tensor *x, int64_t k, int dim, bool largest, em_tensor **values, em_tensor **indices);
/* out= for the ops above that give values and positions: checks out_v, out_i
 * (values: the result's dtype; indices: int64; both on the result's device; an
 * empty one is resized, any other must have the result's shape), copies the
 * results in and replaces *values and *indices by new references to them. rc is the
 * op's status; on any failure both results are released and -1 returned. */
int em_select_out(const char *op, int rc, em_tensor **values, em_tensor **indices, em_tensor *out_v,
                  em_tensor *out_i);
/* inverse (reshaped to x's shape) and counts may be NULL when not wanted. */
int em_unique(em_tensor *x, em_tensor **values, em_tensor **inverse, em_tensor **counts);
/* in: contiguous 2-D (n slices, m elements each). Outputs the distinct rows sorted
 * lexicographically (u, m), and where asked for, the 1-based inverse (n) and the
 * counts (u). */
typedef int (*em_unique_dim_kernel)(const em_tensor *in, em_tensor **values, em_tensor **inverse,
                                    em_tensor **counts);
/* PyTorch's unique(x, dim): the distinct slices along dim (0-based), sorted
 * lexicographically; values keep x's shape but for dim; inverse has dim's size. */
int em_unique_dim(em_tensor *x, int dim, em_tensor **values, em_tensor **inverse, em_tensor **counts);

#endif
