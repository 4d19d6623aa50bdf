/* Connectionist temporal classification loss (ctc_loss), as PyTorch computes it:
 * the alpha recursion in log space over the extended label sequence (a blank
 * before, between and after the labels) gives each sample's negative log
 * likelihood; the backward runs the beta recursion and returns PyTorch's gradient
 * wrt log_probs, exp(lp) - exp(log_alpha + log_beta + nll - lp) summed over the
 * extended positions of each class, which assumes log_probs are log_softmax
 * outputs (it is the exact gradient once composed with log_softmax).
 * Targets hold Ember's 1-based class labels; `blank` is 0-based here (the
 * binding converts). Errors are prefixed with "CTCLoss". */
#ifndef EM_CTC_H
#define EM_CTC_H

#include "loss.h"
#include "tensor.h"

typedef struct em_ctc_args {
    bool backward;
    const em_tensor *lp;      /* (T, N, C) contiguous log_probs, float32 or float64 */
    const em_tensor *targets; /* int64, contiguous: (N, S) padded, or (sum of lengths) when concat */
    bool concat;
    const em_tensor *in_len, *tg_len; /* (N) int64 */
    int64_t blank;                    /* 0-based class */
    bool zero_infinity;
    em_reduction reduction;
    /* forward: out is (N) for NONE, else 0-d, in lp's dtype; the kernel allocates
     * nll (N) and log_alpha (N, T, 2 * max target length + 1), both float64.
     * backward: nll and log_alpha are the forward's; grad is the loss's gradient
     * (out's shape, contiguous, lp's dtype); out is (T, N, C). */
    em_tensor *out, *nll, *log_alpha;
    const em_tensor *grad;
} em_ctc_args;

typedef int (*em_ctc_kernel)(em_ctc_args *a);

/* What the backward needs (new references). */
typedef struct em_ctc_saved {
    em_tensor *lp, *targets, *in_len, *tg_len, *nll, *log_alpha;
    bool concat;
    int ndim; /* log_probs' shape: (T, N, C) or (T, C) */
    int64_t sizes[3];
} em_ctc_saved;

/* The loss: (N) for 'none' with (T, N, C) log_probs, 0-d otherwise.
 * log_probs (T, N, C) or unbatched (T, C); targets (N, S) padded or 1-D
 * concatenated (unbatched: (S) or (1, S)); input_lengths and target_lengths
 * integer tensors of N elements. 'mean' divides each loss by its target length
 * (at least 1), then averages over the batch. When saved is non-NULL it is filled
 * for em_ctc_loss_backward. */
em_tensor *em_ctc_loss(em_tensor *log_probs, em_tensor *targets, em_tensor *input_lengths, em_tensor *target_lengths,
                       int64_t blank, em_reduction reduction, bool zero_infinity, em_ctc_saved *saved);
/* The gradient wrt log_probs (its shape) for the loss's gradient g. */
em_tensor *em_ctc_loss_backward(const em_ctc_saved *s, int64_t blank, em_reduction reduction, bool zero_infinity,
                                em_tensor *g);
void em_ctc_saved_clear(em_ctc_saved *s);

#endif
