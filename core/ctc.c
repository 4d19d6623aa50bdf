/* ctc_loss front: rank, shape and dtype checks with messages naming CTCLoss, the
 * contiguous (T, N, C) / int64 views the kernels want, dispatch. The checks that
 * need the values (lengths, labels) run in the kernel before anything is
 * computed. */
#include "ctc.h"

#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "view.h"

#define OP "CTCLoss"

void em_ctc_saved_clear(em_ctc_saved *s)
{
    em_tensor_release(s->lp);
    em_tensor_release(s->targets);
    em_tensor_release(s->in_len);
    em_tensor_release(s->tg_len);
    em_tensor_release(s->nll);
    em_tensor_release(s->log_alpha);
    memset(s, 0, sizeof *s);
}

/* A lengths tensor of n integers as contiguous int64 (n); NULL with an error. */
static em_tensor *lengths(em_tensor *t, const char *what, int64_t n, bool batched)
{
    char b[EM_SHAPE_BUF];
    if (!em_dtype_is_int(t->dtype))
        return em_error(OP ": expected integer %s, got %s", what, em_dtype_name(t->dtype)), NULL;
    if (t->ndim > 1 || em_tensor_numel(t) != n)
        return em_error(OP ": expected %s of %s, got %s", what,
                        batched ? "shape (N) (one per sample)" : "one element (unbatched input)",
                        em_tensor_shape_str(t, b, sizeof b)),
               NULL;
    int64_t sz[1] = { n };
    em_tensor *c = em_to_dtype(t, EM_INT64, false), *cc = c ? em_contiguous(c) : NULL;
    em_tensor_release(c);
    em_tensor *r = cc ? em_view(cc, 1, sz) : NULL;
    em_tensor_release(cc);
    return r;
}

static int prepare(em_tensor *lp, em_tensor *targets, em_tensor *il, em_tensor *tl, int64_t blank,
                   em_ctc_saved *s)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    memset(s, 0, sizeof *s);
    if (!em_dtype_is_float(lp->dtype) || em_dtype_is_reduced(lp->dtype))
        return em_error(OP ": expected float32 or float64 log_probs, got %s", em_dtype_name(lp->dtype));
    if (lp->ndim != 3 && lp->ndim != 2)
        return em_error(OP ": expected log_probs of shape (T, N, C) or unbatched (T, C), got %d-D %s", lp->ndim,
                        em_tensor_shape_str(lp, b1, sizeof b1));
    bool batched = lp->ndim == 3;
    int64_t T = lp->sizes[0], N = batched ? lp->sizes[1] : 1, C = lp->sizes[lp->ndim - 1];
    if (C < 1)
        return em_error(OP ": expected at least one class, got log_probs %s", em_tensor_shape_str(lp, b1, sizeof b1));
    if (blank < 0 || blank >= C)
        return em_error(OP ": blank must be a class in 1..%lld (1-based), got %lld", (long long)C,
                        (long long)(blank + 1));
    em_device dev = em_tensor_device(lp);
    if (!em_device_eq(dev, em_tensor_device(targets)) || !em_device_eq(dev, em_tensor_device(il)) ||
        !em_device_eq(dev, em_tensor_device(tl)))
        return em_error(OP ": log_probs, targets and lengths are on different devices");
    if (!em_dtype_is_int(targets->dtype))
        return em_error(OP ": expected integer targets (1-based class labels), got %s", em_dtype_name(targets->dtype));
    if (targets->ndim == 1) {
        s->concat = true;
    } else if (targets->ndim == 2 && targets->sizes[0] == N) {
        s->concat = false;
    } else {
        return em_error(OP ": expected targets of shape %s (padded) or 1-D (concatenated) for log_probs %s, got %s",
                        batched ? "(N, S)" : "(S) or (1, S)", em_tensor_shape_str(lp, b1, sizeof b1),
                        em_tensor_shape_str(targets, b2, sizeof b2));
    }
    s->ndim = lp->ndim;
    memcpy(s->sizes, lp->sizes, (size_t)lp->ndim * sizeof(int64_t));
    int64_t ls[3] = { T, N, C };
    em_tensor *lc = em_contiguous(lp);
    s->lp = lc ? em_view(lc, 3, ls) : NULL;
    em_tensor_release(lc);
    em_tensor *tc = s->lp ? em_to_dtype(targets, EM_INT64, false) : NULL;
    s->targets = tc ? em_contiguous(tc) : NULL;
    em_tensor_release(tc);
    s->in_len = s->targets ? lengths(il, "input_lengths", N, batched) : NULL;
    s->tg_len = s->in_len ? lengths(tl, "target_lengths", N, batched) : NULL;
    if (!s->tg_len) {
        em_ctc_saved_clear(s);
        return -1;
    }
    return 0;
}

static em_ctc_kernel kernel(const em_tensor *lp)
{
    return (em_ctc_kernel)em_kernel_get(EM_K_CTC, em_tensor_device(lp), "ctc_loss");
}

em_tensor *em_ctc_loss(em_tensor *log_probs, em_tensor *targets, em_tensor *input_lengths, em_tensor *target_lengths,
                       int64_t blank, em_reduction reduction, bool zero_infinity, em_ctc_saved *saved)
{
    em_ctc_kernel k = kernel(log_probs);
    em_ctc_saved s;
    if (!k || prepare(log_probs, targets, input_lengths, target_lengths, blank, &s) < 0)
        return NULL;
    int64_t N = s.lp->sizes[1];
    bool vec = reduction == EM_REDUCTION_NONE && s.ndim == 3;
    em_tensor *out = em_tensor_empty(vec ? 1 : 0, &N, log_probs->dtype, em_tensor_device(log_probs));
    em_ctc_args a = { .lp = s.lp, .targets = s.targets, .concat = s.concat, .in_len = s.in_len, .tg_len = s.tg_len,
                      .blank = blank, .zero_infinity = zero_infinity, .reduction = reduction, .out = out };
    if (!out || k(&a) < 0) {
        em_tensor_release(a.nll);
        em_tensor_release(a.log_alpha);
        em_tensor_release(out);
        em_ctc_saved_clear(&s);
        return NULL;
    }
    s.nll = a.nll;
    s.log_alpha = a.log_alpha;
    if (saved)
        *saved = s;
    else
        em_ctc_saved_clear(&s);
    return out;
}

em_tensor *em_ctc_loss_backward(const em_ctc_saved *s, int64_t blank, em_reduction reduction, bool zero_infinity,
                                em_tensor *g)
{
    em_ctc_kernel k = kernel(s->lp);
    if (!k)
        return NULL;
    em_tensor *gc = em_to_dtype(g, s->lp->dtype, false), *gcc = gc ? em_contiguous(gc) : NULL;
    em_tensor_release(gc);
    em_tensor *gi = gcc ? em_tensor_empty(3, s->lp->sizes, s->lp->dtype, em_tensor_device(s->lp)) : NULL;
    em_ctc_args a = { .backward = true, .lp = s->lp, .targets = s->targets, .concat = s->concat,
                      .in_len = s->in_len, .tg_len = s->tg_len, .blank = blank, .zero_infinity = zero_infinity,
                      .reduction = reduction, .out = gi, .nll = s->nll, .log_alpha = s->log_alpha, .grad = gcc };
    int rc = gi ? k(&a) : -1;
    em_tensor_release(gcc);
    em_tensor *r = rc == 0 ? em_view(gi, s->ndim, s->sizes) : NULL;
    em_tensor_release(gi);
    return r;
}
