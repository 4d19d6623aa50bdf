/* Pooling over the last one or two dims of (C, L) / (N, C, L) or (C, H, W) /
 * (N, C, H, W) inputs: max, average, adaptive average, adaptive max, and max
 * unpooling. The kernels see every input as contiguous planes (P, H, W) with
 * P = N * C (1-d pooling is 2-d pooling with H = 1) and run one plane per thread.
 *
 * Indices follow Ember's 1-based convention: max pooling returns, per output
 * element, the 1-based position of the maximum in its flattened input plane
 * (h * W + w + 1), the value max_unpool2d reads back. */
#ifndef EM_POOL_H
#define EM_POOL_H

#include "tensor.h"

/* Window geometry for dims H and W (index 0 and 1). 1-d pooling sets H's to
 * kernel 1, stride 1, padding 0, dilation 1. divisor 0: no override. */
typedef struct em_pool_params {
    int64_t kernel[2], stride[2], padding[2], dilation[2];
    bool ceil_mode, count_include_pad;
    int64_t divisor;
} em_pool_params;

typedef enum em_pool_op {
    EM_POOL_MAX_FWD,          /* out, idx <- in (windows of p) */
    EM_POOL_AVG_FWD,          /* out <- in */
    EM_POOL_AVG_BWD,          /* out (the input's gradient) <- in (the output's gradient) */
    EM_POOL_ADAPTIVE_AVG_FWD, /* out <- in; windows from the sizes */
    EM_POOL_ADAPTIVE_AVG_BWD, /* out <- in (gradient) */
    EM_POOL_ADAPTIVE_MAX_FWD, /* out, idx <- in */
    EM_POOL_SCATTER_ADD,      /* out (zeroed by the kernel) [idx] += in, per plane */
    EM_POOL_SCATTER,          /* out (zeroed by the kernel) [idx] = in, per plane (unpooling) */
    EM_POOL_GATHER,           /* out = in[idx], per plane */
} em_pool_op;

/* All tensors contiguous and 3-d (P, H, W); idx is int64 holding 1-based plane
 * positions already checked to be in range (NULL for a max forward that need not
 * write them). Returns 0 or -1. */
typedef int (*em_pool_kernel)(em_pool_op op, em_tensor *out, em_tensor *idx, const em_tensor *in,
                              const em_pool_params *p);

/* ---- ops (nsp: 1 or 2 spatial dims). New references in *out / *idx; 0 or -1. ---- */
/* idx may be NULL when the caller does not want indices: none are computed. */
int em_max_pool(em_tensor *x, int nsp, const em_pool_params *p, em_tensor **out, em_tensor **idx);
em_tensor *em_avg_pool(em_tensor *x, int nsp, const em_pool_params *p);
int em_adaptive_max_pool(em_tensor *x, int nsp, const int64_t *osize, em_tensor **out, em_tensor **idx);
em_tensor *em_adaptive_avg_pool(em_tensor *x, int nsp, const int64_t *osize);
/* x and idx (N, C, H, W) or (C, H, W); out (.., oh, ow) with x[i] written at idx[i]. */
em_tensor *em_max_unpool2d(em_tensor *x, const em_tensor *idx, int64_t oh, int64_t ow);

/* ---- pieces shared with the autograd nodes (core/autograd/fn_pool.c) ---- */
/* Runs kernel op with `in` of shape like `like_in` (any layout) into a new tensor
 * shaped like `out_shape` (ndim / sizes); idx as the kernel wants it or NULL. */
em_tensor *em_pool_apply(const char *name, em_pool_op op, em_tensor *in, const em_tensor *idx, int ndim,
                         const int64_t *sizes, int nsp, const em_pool_params *p);
/* Validates the geometry and computes the output sizes (oh, ow) for x. */
int em_pool_out_size(const char *name, const em_tensor *x, int nsp, em_pool_params *p, bool max, int64_t *osz);

#endif
