/* Fused NLL / cross-entropy fronts: shape and dtype checks with messages naming
 * the loss, the (N, C, S) / (N, S) views the kernels want, dispatch. */
#include "loss.h"

#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "view.h"

int em_reduction_parse(const char *op, const char *name)
{
    if (strcmp(name, "mean") == 0)
        return EM_REDUCTION_MEAN;
    if (strcmp(name, "sum") == 0)
        return EM_REDUCTION_SUM;
    if (strcmp(name, "none") == 0)
        return EM_REDUCTION_NONE;
    return em_error("%s: reduction must be 'mean', 'sum' or 'none', got '%s'", op, name);
}

void em_nll_saved_clear(em_nll_saved *s)
{
    em_tensor_release(s->x);
    em_tensor_release(s->target);
    em_tensor_release(s->weight);
    em_tensor_release(s->lse);
    memset(s, 0, sizeof *s);
}

/* x as contiguous (N, C, S), target as contiguous int64 (N, S), weight as
 * contiguous (C) of x's dtype; checks everything a user can get wrong. */
static int prepare(const char *op, em_tensor *x, em_tensor *target, em_tensor *weight, em_nll_saved *s)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF], b3[EM_SHAPE_BUF];
    memset(s, 0, sizeof *s);
    if (!em_dtype_is_float(x->dtype) || em_dtype_is_reduced(x->dtype))
        return em_error("%s: expected a float32 or float64 input, got %s", op, em_dtype_name(x->dtype));
    if (x->ndim < 1)
        return em_error("%s: expected an input of shape (C), (N, C) or (N, C, d1, ...), got a scalar", op);
    if (!em_device_eq(em_tensor_device(x), em_tensor_device(target)))
        return em_error("%s: input and target are on different devices", op);
    if (em_dtype_is_float(target->dtype) || target->dtype == EM_BOOL)
        return em_error("%s: expected a target of 1-based class labels (int64), got %s%s", op,
                        em_dtype_name(target->dtype),
                        em_dtype_is_float(target->dtype) ? " (class probabilities need the input's shape)" : "");
    /* expected target shape: x's without the class dim */
    int64_t tsz[EM_MAX_DIMS];
    int tnd = 0;
    int cdim = x->ndim == 1 ? 0 : 1;
    for (int d = 0; d < x->ndim; d++)
        if (d != cdim)
            tsz[tnd++] = x->sizes[d];
    bool ok = target->ndim == tnd;
    for (int d = 0; ok && d < tnd; d++)
        ok = target->sizes[d] == tsz[d];
    if (!ok)
        return em_error("%s: expected target of shape %s for input %s, got %s", op, em_shape_str(b1, sizeof b1, tnd, tsz),
                        em_tensor_shape_str(x, b2, sizeof b2), em_tensor_shape_str(target, b3, sizeof b3));
    int64_t C = x->sizes[cdim];
    if (C == 0)
        return em_error("%s: expected at least one class, got input %s", op, em_tensor_shape_str(x, b1, sizeof b1));
    int64_t N = x->ndim == 1 ? 1 : x->sizes[0], S = 1;
    for (int d = 2; d < x->ndim; d++)
        S *= x->sizes[d];
    if (weight) {
        if (weight->ndim != 1 || weight->sizes[0] != C)
            return em_error("%s: expected a weight of %lld elements (one per class), got %s", op, (long long)C,
                            em_tensor_shape_str(weight, b1, sizeof b1));
        if (!em_dtype_is_float(weight->dtype))
            return em_error("%s: expected a floating-point weight, got %s", op, em_dtype_name(weight->dtype));
        if (!em_device_eq(em_tensor_device(x), em_tensor_device(weight)))
            return em_error("%s: input and weight are on different devices", op);
    }
    s->ndim = x->ndim;
    memcpy(s->sizes, x->sizes, (size_t)x->ndim * sizeof(int64_t));
    int64_t xs[3] = { N, C, S }, ts[2] = { N, S };
    em_tensor *xc = em_contiguous(x);
    s->x = xc ? em_view(xc, 3, xs) : NULL;
    em_tensor_release(xc);
    em_tensor *tc = s->x ? em_to_dtype(target, EM_INT64, false) : NULL;
    em_tensor *tcc = tc ? em_contiguous(tc) : NULL;
    em_tensor_release(tc);
    s->target = tcc ? em_reshape(tcc, 2, ts) : NULL;
    em_tensor_release(tcc);
    if (s->target && weight) {
        em_tensor *wc = em_to_dtype(weight, x->dtype, false);
        s->weight = wc ? em_contiguous(wc) : NULL;
        em_tensor_release(wc);
        if (!s->weight)
            goto fail;
    }
    if (!s->target)
        goto fail;
    return 0;
fail:
    em_nll_saved_clear(s);
    return -1;
}

em_tensor *em_nll(const char *op, bool fused, em_tensor *x, em_tensor *target, em_tensor *weight,
                  int64_t ignore_index, double smoothing, em_reduction reduction, em_nll_saved *saved)
{
    if (!(smoothing >= 0.0 && smoothing <= 1.0))
        return em_error("%s: label_smoothing must be between 0 and 1, got %g", op, smoothing), NULL;
    em_nll_kernel k = (em_nll_kernel)em_kernel_get(EM_K_NLL, em_tensor_device(x), op);
    em_nll_saved s;
    if (!k || prepare(op, x, target, weight, &s) < 0)
        return NULL;
    em_nll_args a = { .op = op, .fused = fused, .x = s.x, .target = s.target, .weight = s.weight,
                      .ignore_index = ignore_index, .smoothing = fused ? smoothing : 0.0, .reduction = reduction };
    int64_t N = s.x->sizes[0], S = s.x->sizes[2], ts[2] = { N, S };
    em_tensor *out = NULL;
    if (reduction == EM_REDUCTION_NONE) {
        /* the target's shape */
        int cdim = x->ndim == 1 ? 0 : 1, nd = 0;
        int64_t osz[EM_MAX_DIMS];
        for (int d = 0; d < x->ndim; d++)
            if (d != cdim)
                osz[nd++] = x->sizes[d];
        out = em_tensor_empty(nd, osz, x->dtype, em_tensor_device(x));
    } else {
        out = em_tensor_empty(0, NULL, x->dtype, em_tensor_device(x));
    }
    a.out = out;
    if (out && fused)
        a.lse = s.lse = em_tensor_empty(2, ts, x->dtype, em_tensor_device(x));
    if (!out || (fused && !s.lse) || k(&a) < 0) {
        em_tensor_release(out);
        em_nll_saved_clear(&s);
        return NULL;
    }
    s.denom[0] = a.denom[0];
    s.denom[1] = a.denom[1];
    if (saved)
        *saved = s;
    else
        em_nll_saved_clear(&s);
    return out;
}

em_tensor *em_nll_backward(const char *op, bool fused, const em_nll_saved *s, int64_t ignore_index,
                           double smoothing, em_reduction reduction, em_tensor *g)
{
    em_nll_kernel k = (em_nll_kernel)em_kernel_get(EM_K_NLL, em_tensor_device(s->x), op);
    if (!k)
        return NULL;
    em_tensor *gc = em_to_dtype(g, s->x->dtype, false), *gcc = gc ? em_contiguous(gc) : NULL;
    em_tensor_release(gc);
    em_tensor *gi = gcc ? em_tensor_empty(3, s->x->sizes, s->x->dtype, em_tensor_device(s->x)) : NULL;
    em_nll_args a = { .op = op, .fused = fused, .backward = true, .x = s->x, .target = s->target,
                      .weight = s->weight, .ignore_index = ignore_index, .smoothing = fused ? smoothing : 0.0,
                      .reduction = reduction, .out = gi, .lse = s->lse, .grad = gcc };
    a.denom[0] = s->denom[0];
    a.denom[1] = s->denom[1];
    int rc = gi ? k(&a) : -1;
    em_tensor_release(gcc);
    em_tensor *r = rc == 0 ? em_view(gi, s->ndim, s->sizes) : NULL;
    em_tensor_release(gi);
    return r;
}
