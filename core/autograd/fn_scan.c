/* Differentiable scans and softmax along one dim: cumsum, cumprod, softmax,
 * log_softmax, with PyTorch's formulas. cumprod's gradient divides by the input
 * only when it has no zero; with zeros it takes an exact O(n) path, or, when the
 * gradient itself must be differentiable (create_graph), an O(n^2) one whose
 * derivative is the true second derivative (as PyTorch does). */
#include <string.h>

#include "../error.h"
#include "fn_reduce_internal.h"
#include "functions.h"

#define K(e) agr_keep(&S, (e))

typedef struct scan_ctx {
    int dim, ndim;
    int64_t len; /* size of dim (1 for a 0-d input) */
} scan_ctx;

static scan_ctx scan_ctx_of(const em_tensor *x, int dim)
{
    scan_ctx c = { dim, x->ndim, x->ndim > 0 ? x->sizes[dim] : 1 };
    return c;
}

/* The dim as a reduction mask (NULL for a 0-d tensor: every dim). */
static const bool *dim_mask(const scan_ctx *c, bool *mask)
{
    if (c->ndim == 0)
        return NULL;
    memset(mask, 0, EM_MAX_DIMS * sizeof *mask);
    mask[c->dim] = true;
    return mask;
}

static em_tensor *record(const char *name, em_backward_fn fn, em_tensor *x, int dim, bool save_x, bool save_r,
                         em_tensor *r)
{
    scan_ctx c = scan_ctx_of(x, dim);
    return agr_record(name, fn, x, &c, sizeof c, save_x, save_r, r);
}


static int done(agr_scope *s, em_tensor **gi, em_tensor *res)
{
    gi[0] = agr_return(s, res);
    return gi[0] ? 0 : -1;
}

/* sum_{j >= i} t_j along dim: flip, cumsum, flip back. */
static em_tensor *reversed_cumsum(em_tensor *t, int dim)
{
    agr_scope S = { 0 };
    em_tensor *f = K(agr_flip(t, dim));
    em_tensor *c = f ? K(em_ag_cumsum(f, dim, -1, NULL)) : NULL;
    return agr_return(&S, K(agr_flip(c, dim)));
}

/* ---- cumsum ---- */

static int cumsum_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const scan_ctx *c = n->ctx;
    agr_scope S = { 0 };
    if (c->ndim == 0 || c->len <= 1)
        return done(&S, gi, go[0]);
    return done(&S, gi, K(reversed_cumsum(go[0], c->dim)));
}

em_tensor *em_ag_cumsum(em_tensor *x, int dim, int dtype, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("cumsum", x, out) ? NULL : em_cumsum(x, dim, dtype, out);
    return record("CumsumBackward", cumsum_backward, x, dim, false, false, em_cumsum(x, dim, dtype, NULL));
}

/* ---- cumprod ---- */

/* First-order gradient with zeros, O(n). With z the first zero of a slice:
 * before z it is the no-zero formula; at z it is sum_{i >= z} g_i times the
 * cumprod with x_z replaced by 1; after z it is 0. */
static em_tensor *cumprod_grad_zeros(const scan_ctx *c, em_tensor *x, em_tensor *y, em_tensor *g)
{
    agr_scope S = { 0 };
    bool mask[EM_MAX_DIMS];
    em_tensor *zero = K(agr_float(K(agr_eq_s(x, 0.0)), x->dtype));
    em_tensor *nz = zero ? K(em_cumsum(zero, c->dim, -1, NULL)) : NULL; /* zeros up to i */
    em_tensor *before = K(agr_float(K(agr_eq_s(nz, 0.0)), x->dtype));
    em_tensor *first = K(agr_mul(zero, K(agr_float(K(agr_eq_s(nz, 1.0)), x->dtype))));
    em_tensor *from_first = K(agr_one_minus(before));
    em_tensor *lead = K(agr_mul(K(agr_div(K(reversed_cumsum(K(agr_mul(y, g)), c->dim)), K(agr_add(x, zero)))),
                                before));
    em_tensor *x1 = K(agr_add(x, first)); /* the first zero of each slice set to 1 */
    em_tensor *y1 = x1 ? K(em_cumprod(x1, c->dim, -1, NULL)) : NULL;
    em_tensor *at = K(agr_sum_keep(K(agr_mul(K(agr_mul(g, y1)), from_first)), dim_mask(c, mask)));
    return agr_return(&S, K(agr_add(lead, K(agr_mul(at, first)))));
}

/* The gradient with zeros as a differentiable expression (create_graph):
 * g_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j, one cumprod per k. */
static em_tensor *cumprod_grad_zeros_exact(const scan_ctx *c, em_tensor *x, em_tensor *g)
{
    bool mask[EM_MAX_DIMS];
    const bool *dm = dim_mask(c, mask);
    em_tensor *pos = agr_positions(c->len, c->ndim, c->dim, em_tensor_device(x));
    em_tensor *acc = NULL;
    for (int64_t k = 0; pos && k < c->len; k++) {
        agr_scope S = { 0 };
        em_tensor *at_k = K(agr_float(K(agr_eq_s(pos, (double)k)), x->dtype));
        em_tensor *from_k = K(agr_float(K(em_binary(EM_BIN_GE, em_arg_tensor(pos),
                                                    em_arg_scalar(em_scalar_int(k)), NULL, NULL)),
                                        x->dtype));
        em_tensor *xk = K(agr_add(K(agr_mul(x, K(agr_one_minus(at_k)))), at_k)); /* x with x_k = 1 */
        em_tensor *ck = xk ? K(em_ag_cumprod(xk, c->dim, -1, NULL)) : NULL;
        em_tensor *term = K(agr_mul(K(agr_sum_keep(K(agr_mul(K(agr_mul(g, ck)), from_k)), dm)), at_k));
        em_tensor *next = acc ? agr_add(acc, term) : term;
        if (next && !acc)
            em_tensor_retain(next);
        agr_free(&S);
        em_tensor_release(acc);
        if (!(acc = next))
            break;
    }
    em_tensor_release(pos);
    return acc;
}

static int cumprod_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const scan_ctx *c = n->ctx;
    agr_scope S = { 0 };
    if (c->ndim == 0 || c->len <= 1)
        return done(&S, gi, go[0]);
    em_tensor *x = K(em_node_saved(n, 0)), *y = x ? K(em_node_saved(n, 1)) : NULL;
    x = y ? K(agr_to(x, y->dtype)) : NULL; /* cumprod(x, {dtype=}) computed in dtype */
    int zero = x ? agr_has_zero(x) : -1;
    if (zero < 0)
        return done(&S, gi, NULL);
    if (!zero) /* sum_{i >= k} g_i y_i / x_k */
        return done(&S, gi, K(agr_div(K(reversed_cumsum(K(agr_mul(y, go[0])), c->dim)), x)));
    if (!em_grad_enabled())
        return done(&S, gi, K(cumprod_grad_zeros(c, x, y, go[0])));
    return done(&S, gi, K(cumprod_grad_zeros_exact(c, x, go[0])));
}

em_tensor *em_ag_cumprod(em_tensor *x, int dim, int dtype, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("cumprod", x, out) ? NULL : em_cumprod(x, dim, dtype, out);
    return record("CumprodBackward", cumprod_backward, x, dim, true, true, em_cumprod(x, dim, dtype, NULL));
}

/* ---- softmax, log_softmax ---- */

/* y (g - sum(g y)) */
static int softmax_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const scan_ctx *c = n->ctx;
    agr_scope S = { 0 };
    bool mask[EM_MAX_DIMS];
    em_tensor *y = K(em_node_saved(n, 1));
    em_tensor *dot = K(agr_sum_keep(K(agr_mul(go[0], y)), dim_mask(c, mask)));
    return done(&S, gi, K(agr_mul(y, K(agr_sub(go[0], dot)))));
}

/* g - exp(y) sum(g) */
static int log_softmax_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const scan_ctx *c = n->ctx;
    agr_scope S = { 0 };
    bool mask[EM_MAX_DIMS];
    em_tensor *y = K(em_node_saved(n, 1));
    em_tensor *sum = K(agr_sum_keep(go[0], dim_mask(c, mask)));
    return done(&S, gi, K(agr_sub(go[0], K(agr_mul(K(agr_exp(y)), sum)))));
}

em_tensor *em_ag_softmax(em_tensor *x, int dim, int dtype)
{
    if (!em_ag_wants(x))
        return em_softmax(x, dim, dtype);
    return record("SoftmaxBackward", softmax_backward, x, dim, false, true, em_softmax(x, dim, dtype));
}

em_tensor *em_ag_log_softmax(em_tensor *x, int dim, int dtype)
{
    if (!em_ag_wants(x))
        return em_log_softmax(x, dim, dtype);
    return record("LogSoftmaxBackward", log_softmax_backward, x, dim, false, true, em_log_softmax(x, dim, dtype));
}
