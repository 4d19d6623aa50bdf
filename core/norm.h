/* Fused normalisation: batch_norm, layer_norm and group_norm forward and backward
 * (instance_norm is group_norm with one channel per group, composed in Lua).
 * Every input is seen as a contiguous (N, G, D, S) block:
 *   batch_norm  x (N, C, *)  -> (N, 1, C, S): statistics per channel over N and S
 *   group_norm  x (N, C, *)  -> (N, G, C/G, S): statistics per (n, group) row
 *   layer_norm  x (*, K...)  -> (M, 1, K, 1): statistics per row of the last dims
 * weight and bias hold G*D values (one per channel, or the normalized shape);
 * the affine index of element (n, g, d, s) is g*D + d. Statistics are computed in
 * double over the cache-resident slice (two passes: mean, then centred squares),
 * so a large mean with a small variance keeps its precision. */
#ifndef EM_NORM_H
#define EM_NORM_H

#include "tensor.h"

typedef enum em_norm_kind { EM_NORM_BATCH = 0, EM_NORM_GROUP, EM_NORM_LAYER } em_norm_kind;

typedef struct em_norm_args {
    const char *op;
    em_norm_kind kind;
    bool backward;
    bool training;            /* batch_norm: batch statistics; else mean/invstd come from var_in */
    double eps;
    int64_t N, G, D, S;
    const em_tensor *x;       /* contiguous (N, G, D, S) */
    const em_tensor *weight, *bias; /* contiguous (G*D) of x's dtype, or NULL */
    /* statistics in float64 (a float32 mean of 1e4 would lose a tenth of a small
     * standard deviation): batch (D) per channel, rows (N*G). forward: written
     * (training / rows); batch eval: mean given, invstd written from var_in (the
     * running variance, float64). backward: given. */
    em_tensor *mean, *invstd;
    const em_tensor *var_in;
    em_tensor *var;           /* forward batch training: float64 (D) biased variance, or NULL */
    em_tensor *out;           /* forward: y, contiguous like x */
    const em_tensor *grad;    /* backward: dy, contiguous like x */
    em_tensor *gx, *gw, *gb;  /* backward results (NULL: not wanted) */
} em_norm_args;

typedef int (*em_norm_kernel)(em_norm_args *a);

/* What a forward leaves for the backward (new references; clear with
 * em_norm_saved_clear). */
typedef struct em_norm_saved {
    em_norm_kind kind;
    bool training;
    double eps;
    int64_t N, G, D, S;
    em_tensor *mean, *invstd; /* float64 */
} em_norm_saved;

/* batch_norm: x (N, C, *); weight, bias, running_mean, running_var (C) or NULL.
 * training: normalises with the batch mean and biased variance and, when given,
 * updates running = (1 - momentum) * running + momentum * batch in place (the
 * unbiased variance for running_var). Else normalises with the running ones. */
em_tensor *em_batch_norm(em_tensor *x, em_tensor *weight, em_tensor *bias, em_tensor *running_mean,
                         em_tensor *running_var, bool training, double momentum, double eps, em_norm_saved *saved);
/* layer_norm over the last k dims (their sizes in shape[]); weight/bias of that shape. */
em_tensor *em_layer_norm(em_tensor *x, int k, const int64_t *shape, em_tensor *weight, em_tensor *bias, double eps,
                         em_norm_saved *saved);
/* group_norm: x (N, C, *), C divisible by groups; weight/bias (C). */
em_tensor *em_group_norm(em_tensor *x, int64_t groups, em_tensor *weight, em_tensor *bias, double eps,
                         em_norm_saved *saved);
/* The gradients for dy = g (x's shape) into *gx (x's shape), *gw, *gb (weight's
 * shape, weight's dtype may differ: the caller casts); a NULL pointer skips one. */
int em_norm_backward(const char *op, const em_norm_saved *s, em_tensor *g, em_tensor *x, em_tensor *weight,
                     em_tensor **gx, em_tensor **gw, em_tensor **gb);
void em_norm_saved_clear(em_norm_saved *s);

#endif
