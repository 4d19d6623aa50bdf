/* Fused normalisation fronts: checks with messages naming the op, the contiguous
 * (N, G, D, S) view the kernels want, the parameters in the input's dtype,
 * dispatch, and batch_norm's in-place update of the running statistics. */
#include "norm.h"

#include <stdio.h>
#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "view.h"

void em_norm_saved_clear(em_norm_saved *s)
{
    em_tensor_release(s->mean);
    em_tensor_release(s->invstd);
    s->mean = s->invstd = NULL;
}

static int check_input(const char *op, const em_tensor *x, int mindim)
{
    char b[EM_SHAPE_BUF];
    if (x->dtype != EM_FLOAT32 && x->dtype != EM_FLOAT64)
        return em_error("%s: expected a float32 or float64 input, got %s", op, em_dtype_name(x->dtype));
    if (x->ndim < mindim)
        return em_error("%s: expected an input with at least %d dims, got %dD input (input size %s)", op, mindim,
                        x->ndim, em_tensor_shape_str(x, b, sizeof b));
    return 0;
}

/* "6, 3": sizes as PyTorch prints a tuple's inside */
static const char *tuple_str(char *buf, int size, int n, const int64_t *sizes)
{
    int len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < size; i++)
        len += snprintf(buf + len, (size_t)(size - len), "%s%lld", i ? ", " : "", (long long)sizes[i]);
    return buf;
}

/* t (a parameter or running statistic) must have the given shape, a floating
 * dtype and x's device; NULL passes. */
static int check_param(const char *op, const char *name, const em_tensor *x, const em_tensor *t, int nd,
                       const int64_t *sizes)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (!t)
        return 0;
    bool ok = t->ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = t->sizes[i] == sizes[i];
    if (!ok)
        return em_error("%s: expected %s of size (%s), got %s", op, name, tuple_str(b1, sizeof b1, nd, sizes),
                        em_tensor_shape_str(t, b2, sizeof b2));
    if (!em_dtype_is_float(t->dtype))
        return em_error("%s: expected a floating-point %s, got %s", op, name, em_dtype_name(t->dtype));
    if (!em_device_eq(em_tensor_device(x), em_tensor_device(t)))
        return em_error("%s: input and %s are on different devices", op, name);
    return 0;
}

/* t as a contiguous 1-D tensor of dtype dt (a fresh copy when copy), or NULL. */
static em_tensor *flat(em_tensor *t, em_dtype dt, bool copy)
{
    if (!t)
        return NULL;
    em_tensor *c = em_to_dtype(t, dt, copy), *cc = c ? em_contiguous(c) : NULL;
    em_tensor_release(c);
    if (!cc)
        return NULL;
    int64_t n = em_tensor_numel(cc);
    em_tensor *v = em_view(cc, 1, &n);
    em_tensor_release(cc);
    return v;
}

/* running = (1 - m) * running + m * scale * stat, in double, written in place */
static int update_running(em_tensor *run, const em_tensor *stat, double m, double scale)
{
    em_tensor *r = flat(run, EM_FLOAT64, true), *st = r ? flat((em_tensor *)stat, EM_FLOAT64, false) : NULL;
    int rc = -1;
    if (st) {
        double *rp = em_tensor_data(r);
        const double *sp = em_tensor_data(st);
        for (int64_t i = 0; i < em_tensor_numel(r); i++)
            rp[i] = (1.0 - m) * rp[i] + m * scale * sp[i];
        em_tensor *rv = em_view(r, run->ndim, run->sizes);
        rc = rv ? em_copy_(run, rv) : -1;
        em_tensor_release(rv);
    }
    em_tensor_release(r);
    em_tensor_release((em_tensor *)st);
    return rc;
}

/* Runs the forward kernel on x seen as (N, G, D, S); a->weight etc. as given
 * by the caller (raw tensors), converted here. Returns y (x's shape). */
static em_tensor *run_forward(em_norm_args *a, em_tensor *x, em_tensor *weight, em_tensor *bias, em_tensor *mean_in,
                              em_tensor *var_in, em_norm_saved *saved)
{
    em_norm_kernel k = (em_norm_kernel)em_kernel_get(EM_K_NORM, em_tensor_device(x), a->op);
    if (!k)
        return NULL;
    int64_t nstat = a->kind == EM_NORM_BATCH ? a->D : a->N * a->G;
    em_tensor *xc = em_contiguous(x), *w = NULL, *b = NULL, *out = NULL, *mean = NULL, *invstd = NULL;
    em_tensor *vin = NULL;
    bool ok = xc != NULL;
    if (ok && weight)
        ok = (w = flat(weight, x->dtype, false)) != NULL;
    if (ok && bias)
        ok = (b = flat(bias, x->dtype, false)) != NULL;
    if (ok && mean_in)
        ok = (mean = flat(mean_in, EM_FLOAT64, true)) != NULL; /* a snapshot: the backward reads it */
    else if (ok)
        ok = (mean = em_tensor_empty(1, &nstat, EM_FLOAT64, em_tensor_device(x))) != NULL;
    if (ok && var_in)
        ok = (vin = flat(var_in, EM_FLOAT64, false)) != NULL;
    ok = ok && (invstd = em_tensor_empty(1, &nstat, EM_FLOAT64, em_tensor_device(x))) != NULL;
    ok = ok && (out = em_tensor_empty(x->ndim, x->sizes, x->dtype, em_tensor_device(x))) != NULL;
    if (ok) {
        a->x = xc;
        a->weight = w;
        a->bias = b;
        a->mean = mean;
        a->invstd = invstd;
        a->var_in = vin;
        a->out = out;
        ok = k(a) == 0;
    }
    em_tensor_release(xc);
    em_tensor_release(w);
    em_tensor_release(b);
    em_tensor_release(vin);
    if (ok && saved) {
        saved->kind = a->kind;
        saved->training = a->training;
        saved->eps = a->eps;
        saved->N = a->N;
        saved->G = a->G;
        saved->D = a->D;
        saved->S = a->S;
        saved->mean = mean;
        saved->invstd = invstd;
    } else {
        em_tensor_release(mean);
        em_tensor_release(invstd);
    }
    if (!ok) {
        em_tensor_release(out);
        return NULL;
    }
    return out;
}

em_tensor *em_batch_norm(em_tensor *x, em_tensor *weight, em_tensor *bias, em_tensor *running_mean,
                         em_tensor *running_var, bool training, double momentum, double eps, em_norm_saved *saved)
{
    const char *op = "batch_norm";
    char b[EM_SHAPE_BUF];
    if (check_input(op, x, 2) < 0)
        return NULL;
    int64_t C = x->sizes[1], S = 1;
    for (int d = 2; d < x->ndim; d++)
        S *= x->sizes[d];
    if (check_param(op, "weight", x, weight, 1, &C) < 0 || check_param(op, "bias", x, bias, 1, &C) < 0 ||
        check_param(op, "running_mean", x, running_mean, 1, &C) < 0 ||
        check_param(op, "running_var", x, running_var, 1, &C) < 0)
        return NULL;
    if (!(eps >= 0))
        return em_error("%s: eps must be a non-negative number, got %g", op, eps), NULL;
    em_norm_args a = { .op = op, .kind = EM_NORM_BATCH, .training = training, .eps = eps, .N = x->sizes[0],
                       .G = 1, .D = C, .S = S };
    if (training) {
        if (x->sizes[0] * S <= 1)
            return em_error("%s: expected more than 1 value per channel when training, got input size %s", op,
                            em_tensor_shape_str(x, b, sizeof b)),
                   NULL;
        if (!(momentum == momentum))
            return em_error("%s: momentum must be a number, got nan", op), NULL;
        em_tensor *var = running_var ? em_tensor_empty(1, &C, EM_FLOAT64, em_tensor_device(x)) : NULL;
        if (running_var && !var)
            return NULL;
        a.var = var;
        em_norm_saved s = { 0 };
        em_tensor *y = run_forward(&a, x, weight, bias, NULL, NULL, &s);
        double count = (double)(x->sizes[0] * S);
        if (y && ((running_mean && update_running(running_mean, s.mean, momentum, 1.0) < 0) ||
                  (running_var && update_running(running_var, var, momentum, count / (count - 1)) < 0))) {
            em_tensor_release(y);
            y = NULL;
        }
        em_tensor_release(var);
        if (y && saved)
            *saved = s;
        else
            em_norm_saved_clear(&s);
        return y;
    }
    if (!running_mean || !running_var)
        return em_error("%s: running_mean and running_var must be given when training is false", op), NULL;
    return run_forward(&a, x, weight, bias, running_mean, running_var, saved);
}

em_tensor *em_layer_norm(em_tensor *x, int k, const int64_t *shape, em_tensor *weight, em_tensor *bias, double eps,
                         em_norm_saved *saved)
{
    const char *op = "layer_norm";
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (check_input(op, x, 0) < 0)
        return NULL;
    if (k < 1 || k > EM_MAX_DIMS)
        return em_error("%s: normalized_shape must have 1 to %d dims, got %d", op, EM_MAX_DIMS, k), NULL;
    bool ok = x->ndim >= k;
    int64_t K = 1, M = 1;
    for (int i = 0; i < k; i++)
        ok = ok && x->sizes[x->ndim - k + i] == shape[i];
    if (!ok)
        return em_error("%s: given normalized_shape=(%s), expected input with shape (*, %s), but got input of size %s",
                        op, tuple_str(b1, sizeof b1, k, shape), b1, em_tensor_shape_str(x, b2, sizeof b2)),
               NULL;
    for (int i = 0; i < k; i++)
        K *= shape[i];
    for (int i = 0; i < x->ndim - k; i++)
        M *= x->sizes[i];
    if (check_param(op, "weight", x, weight, k, shape) < 0 || check_param(op, "bias", x, bias, k, shape) < 0)
        return NULL;
    if (!(eps >= 0))
        return em_error("%s: eps must be a non-negative number, got %g", op, eps), NULL;
    em_norm_args a = { .op = op, .kind = EM_NORM_LAYER, .training = true, .eps = eps, .N = M, .G = 1, .D = K,
                       .S = 1 };
    return run_forward(&a, x, weight, bias, NULL, NULL, saved);
}

em_tensor *em_group_norm(em_tensor *x, int64_t groups, em_tensor *weight, em_tensor *bias, double eps,
                         em_norm_saved *saved)
{
    const char *op = "group_norm";
    char b[EM_SHAPE_BUF];
    if (check_input(op, x, 2) < 0)
        return NULL;
    int64_t C = x->sizes[1], S = 1;
    for (int d = 2; d < x->ndim; d++)
        S *= x->sizes[d];
    if (groups < 1)
        return em_error("%s: num_groups must be a positive integer, got %lld", op, (long long)groups), NULL;
    if (C % groups != 0)
        return em_error("%s: expected number of channels in input to be divisible by num_groups, but got input of "
                        "shape %s and num_groups=%lld",
                        op, em_tensor_shape_str(x, b, sizeof b), (long long)groups),
               NULL;
    if (check_param(op, "weight", x, weight, 1, &C) < 0 || check_param(op, "bias", x, bias, 1, &C) < 0)
        return NULL;
    if (!(eps >= 0))
        return em_error("%s: eps must be a non-negative number, got %g", op, eps), NULL;
    em_norm_args a = { .op = op, .kind = EM_NORM_GROUP, .training = true, .eps = eps, .N = x->sizes[0],
                       .G = groups, .D = C / groups, .S = S };
    return run_forward(&a, x, weight, bias, NULL, NULL, saved);
}

int em_norm_backward(const char *op, const em_norm_saved *s, em_tensor *g, em_tensor *x, em_tensor *weight,
                     em_tensor **gx, em_tensor **gw, em_tensor **gb)
{
    em_norm_kernel k = (em_norm_kernel)em_kernel_get(EM_K_NORM, em_tensor_device(x), op);
    if (!k)
        return -1;
    if (!em_same_shape(g, x)) {
        char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
        return em_error("%s: gradient of size %s for an output of size %s", op, em_tensor_shape_str(g, b1, sizeof b1),
                        em_tensor_shape_str(x, b2, sizeof b2));
    }
    int64_t C = s->G * s->D;
    em_tensor *xc = em_contiguous(x), *gc = NULL, *w = NULL, *rx = NULL, *rw = NULL, *rb = NULL;
    em_tensor *g1 = xc ? em_to_dtype(g, x->dtype, false) : NULL;
    bool ok = g1 && (gc = em_contiguous(g1)) != NULL;
    em_tensor_release(g1);
    if (ok && weight)
        ok = (w = flat(weight, x->dtype, false)) != NULL;
    if (ok && gx)
        ok = (rx = em_tensor_empty(x->ndim, x->sizes, x->dtype, em_tensor_device(x))) != NULL;
    if (ok && gw)
        ok = (rw = em_tensor_empty(1, &C, x->dtype, em_tensor_device(x))) != NULL;
    if (ok && gb)
        ok = (rb = em_tensor_empty(1, &C, x->dtype, em_tensor_device(x))) != NULL;
    if (ok) {
        em_norm_args a = { .op = op, .kind = s->kind, .backward = true, .training = s->training, .eps = s->eps,
                           .N = s->N, .G = s->G, .D = s->D, .S = s->S, .x = xc, .weight = w, .mean = s->mean,
                           .invstd = s->invstd, .grad = gc, .gx = rx, .gw = rw, .gb = rb };
        ok = k(&a) == 0;
    }
    em_tensor_release(xc);
    em_tensor_release(gc);
    em_tensor_release(w);
    if (!ok) {
        em_tensor_release(rx);
        em_tensor_release(rw);
        em_tensor_release(rb);
        return -1;
    }
    if (gx)
        *gx = rx;
    if (gw)
        *gw = rw;
    if (gb)
        *gb = rb;
    return 0;
}
