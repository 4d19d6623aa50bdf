/* Fused classification losses: nll_loss, and cross_entropy as log-softmax + NLL in
 * one pass (with class weights, ignore_index, label smoothing and reductions).
 * Inputs are (C), (N, C) or (N, C, d1, ...); class targets hold 1-based labels
 * (Ember's convention) and are checked against 1..C before anything is computed.
 * The kernels see the input as contiguous (N, C, S) and the target as (N, S). */
#ifndef EM_LOSS_H
#define EM_LOSS_H

#include "tensor.h"

typedef enum em_reduction { EM_REDUCTION_NONE = 0, EM_REDUCTION_MEAN, EM_REDUCTION_SUM } em_reduction;

typedef struct em_nll_args {
    const char *op;       /* "cross_entropy" or "nll_loss", for messages */
    bool fused;           /* cross_entropy: x holds logits (log_softmax applied inside) */
    bool backward;
    const em_tensor *x;   /* (N, C, S) */
    const em_tensor *target; /* (N, S) int64 */
    const em_tensor *weight; /* (C) of x's dtype, or NULL */
    int64_t ignore_index;
    double smoothing;     /* label smoothing (fused only) */
    em_reduction reduction;
    /* forward: out is (N, S) for NONE, else 0-d; lse (N, S) receives the
     * log-sum-exp of each position (fused). denom[0] / denom[1] receive the mean
     * divisors of the NLL and smoothing terms.
     * backward: grad is the output's gradient (out's shape); out is (N, C, S). */
    em_tensor *out, *lse;
    const em_tensor *grad;
    double denom[2];
} em_nll_args;

typedef int (*em_nll_kernel)(em_nll_args *a);

/* Reduction names 'none' | 'mean' | 'sum' -> enum; -1 with an error otherwise. */
int em_reduction_parse(const char *op, const char *name);

/* Forward: the loss (target's shape for 'none', else 0-d). When ctx is non-NULL,
 * fills it for the backward (em_nll_backward): it holds new references. */
typedef struct em_nll_saved {
    em_tensor *x, *target, *weight, *lse; /* (N, C, S), (N, S), (C) or NULL, (N, S) or NULL */
    double denom[2];
    int ndim; /* the input's shape */
    int64_t sizes[EM_MAX_DIMS];
} em_nll_saved;

em_tensor *em_nll(const char *op, bool fused, em_tensor *x, em_tensor *target, em_tensor *weight,
                  int64_t ignore_index, double smoothing, em_reduction reduction, em_nll_saved *saved);
/* The input's gradient (the input's shape) for the output gradient g. */
em_tensor *em_nll_backward(const char *op, bool fused, const em_nll_saved *s, int64_t ignore_index,
                           double smoothing, em_reduction reduction, em_tensor *g);
void em_nll_saved_clear(em_nll_saved *s);

#endif
