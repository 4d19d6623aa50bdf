/* Differentiable value reductions: sum, mean, prod, amax/amin (and max/min/median
 * over all elements), var, std, norm, logsumexp, and the two-tensor max/min.
 * A reduction's gradient is the output gradient with the reduced dims put back
 * as size 1 (when keepdim was false), broadcast against the input, scaled as the
 * op needs; the formulas are PyTorch's. max/min/median with a dim, sort and topk
 * are in fn_sort.c; scans and softmax in fn_scan.c. */
#include <math.h>
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "fn_reduce_internal.h"
#include "functions.h"

/* Formula temporaries go into the scope S of the function using K(). */
#define K(e) agr_keep(&S, (e))

typedef struct red_ctx {
    int ndim;
    int64_t sizes[EM_MAX_DIMS]; /* the input's */
    bool dims[EM_MAX_DIMS];     /* reduced dims */
    bool keepdim;
    double scale;      /* sum/mean: the gradient's factor */
    double p;          /* norm order */
    double correction; /* var/std */
} red_ctx;

static red_ctx ctx_of(const em_tensor *x, const bool *dims, bool keepdim)
{
    red_ctx c;
    memset(&c, 0, sizeof c);
    c.ndim = x->ndim;
    memcpy(c.sizes, x->sizes, sizeof c.sizes);
    for (int i = 0; i < x->ndim; i++)
        c.dims[i] = dims ? dims[i] : true;
    c.keepdim = keepdim;
    c.scale = 1.0;
    return c;
}

static const bool *dims_arg(const red_ctx *c)
{
    return c->ndim > 0 ? c->dims : NULL;
}

/* Elements reduced into each output element. */
static int64_t reduced_count(const red_ctx *c)
{
    int64_t n = 1;
    for (int i = 0; i < c->ndim; i++)
        if (c->dims[i])
            n *= c->sizes[i];
    return n;
}

/* t with the reduced dims back as size 1 (a new reference). */
static em_tensor *unsq(const red_ctx *c, em_tensor *t)
{
    return agr_unsqueeze_dims(t, c->ndim, c->sizes, c->dims, c->keepdim);
}



/* The saved input (slot 0) and result (slot 1) as asked; -1 when one is gone. */
static int saved(em_node *n, agr_scope *s, em_tensor **x, em_tensor **r)
{
    if (x && !(*x = agr_keep(s, em_node_saved(n, 0))))
        return -1;
    if (r && !(*r = agr_keep(s, em_node_saved(n, 1))))
        return -1;
    return 0;
}

static int done(agr_scope *s, em_tensor **gi, em_tensor *res)
{
    gi[0] = agr_return(s, res);
    return gi[0] ? 0 : -1;
}

/* g expanded back to the input's shape (used by other families too). */
em_tensor *em_ag_reduce_grad_expand(em_tensor *g, int ndim, const int64_t *sizes, const bool *dims, bool keepdim)
{
    em_tensor *k = agr_unsqueeze_dims(g, ndim, sizes, dims, keepdim);
    if (!k)
        return NULL;
    em_tensor *e = em_ag_expand(k, ndim, sizes);
    em_tensor_release(k);
    return e;
}

/* ---- sum, mean ---- */

static int sum_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const red_ctx *c = n->ctx;
    agr_scope S = { 0 };
    em_tensor *e = K(em_ag_reduce_grad_expand(go[0], c->ndim, c->sizes, c->dims, c->keepdim));
    return done(&S, gi, c->scale == 1.0 ? e : K(agr_mul_s(e, c->scale)));
}

/* A one-input reduction's node: input in slot 0, result in slot 1 when asked. */
static em_tensor *record(const char *name, em_backward_fn fn, em_tensor *x, const red_ctx *c, bool save_x,
                         bool save_r, em_tensor *r)
{
    return agr_record(name, fn, x, c, sizeof *c, save_x, save_r, r);
}

em_tensor *em_ag_sum(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("sum", x, out) ? NULL : em_sum(x, dims, keepdim, dtype, out);
    red_ctx c = ctx_of(x, dims, keepdim);
    return record("SumBackward", sum_backward, x, &c, false, false, em_sum(x, dims, keepdim, dtype, NULL));
}

em_tensor *em_ag_mean(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("mean", x, out) ? NULL : em_mean(x, dims, keepdim, dtype, out);
    red_ctx c = ctx_of(x, dims, keepdim);
    int64_t count = reduced_count(&c);
    c.scale = count ? 1.0 / (double)count : 0.0;
    return record("MeanBackward", sum_backward, x, &c, false, false, em_mean(x, dims, keepdim, dtype, NULL));
}

/* ---- prod ---- */

/* g * prod_{j != i} x_j along dim d, computed with exclusive products (cumprods
 * of x shifted by one, forwards and backwards), so zeros in x are exact. */
static em_tensor *exclusive_grad(em_tensor *x, int d, em_tensor *g)
{
    int64_t len = x->sizes[d];
    if (len == 1) {
        em_tensor_retain(g);
        return g;
    }
    agr_scope S = { 0 };
    em_tensor *pos = K(agr_positions(len, x->ndim, d, em_tensor_device(x)));
    /* 1-based position of each element's predecessor (the first one's is masked) */
    em_tensor *prev = pos ? K(em_binary(EM_BIN_MAXIMUM, em_arg_tensor(pos), em_arg_scalar(em_scalar_int(1)), NULL,
                                        NULL))
                          : NULL;
    em_tensor *idx = prev ? K(em_expand(prev, x->ndim, x->sizes)) : NULL;
    em_tensor *first = K(agr_float(K(agr_eq_s(pos, 0)), x->dtype));
    em_tensor *rest = K(agr_one_minus(first));
    /* [1, x0, x1, ...] and its cumprod: the product of the elements before i */
    em_tensor *shifted = K(agr_add(K(agr_mul(K(agr_gather(x, d, idx)), rest)), first));
    em_tensor *before = shifted ? K(em_ag_cumprod(shifted, d, -1, NULL)) : NULL;
    /* the same from the other end: the product of the elements after i */
    em_tensor *xr = K(agr_flip(x, d));
    em_tensor *rshift = K(agr_add(K(agr_mul(K(agr_gather(xr, d, idx)), rest)), first));
    em_tensor *rcum = rshift ? K(em_ag_cumprod(rshift, d, -1, NULL)) : NULL;
    em_tensor *after = K(agr_flip(rcum, d));
    return agr_return(&S, K(agr_mul(g, K(agr_mul(before, after)))));
}

/* prod over several dims is a chain of one-dim prods; its gradient goes back
 * through the chain (dims[0] innermost). g has the reduced dims as size 1. */
static em_tensor *prod_zeros_grad(em_tensor *x, const int *dims, int nd, em_tensor *g)
{
    if (nd == 0) {
        em_tensor_retain(g);
        return g;
    }
    if (nd == 1)
        return exclusive_grad(x, dims[0], g);
    bool m[EM_MAX_DIMS] = { false };
    m[dims[0]] = true;
    agr_scope S = { 0 };
    em_tensor *y1 = K(em_ag_prod(x, m, true, -1, NULL));
    em_tensor *g1 = y1 ? K(prod_zeros_grad(y1, dims + 1, nd - 1, g)) : NULL;
    return agr_return(&S, g1 ? K(exclusive_grad(x, dims[0], g1)) : NULL);
}

static int prod_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const red_ctx *c = n->ctx;
    agr_scope S = { 0 };
    em_tensor *x, *r;
    if (saved(n, &S, &x, &r) < 0)
        return done(&S, gi, NULL);
    if (c->ndim == 0)
        return done(&S, gi, go[0]);
    x = K(agr_to(x, r->dtype)); /* prod(x, {dtype=}) computed in dtype */
    em_tensor *g = K(unsq(c, go[0]));
    int zero = x ? agr_has_zero(x) : -1;
    if (zero < 0 || !g)
        return done(&S, gi, NULL);
    if (!zero)
        return done(&S, gi, K(agr_mul(g, K(agr_div(K(unsq(c, r)), x)))));
    int dims[EM_MAX_DIMS], nd = 0;
    for (int i = 0; i < c->ndim; i++)
        if (c->dims[i] && c->sizes[i] > 1)
            dims[nd++] = i;
    return done(&S, gi, K(prod_zeros_grad(x, dims, nd, g)));
}

em_tensor *em_ag_prod(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("prod", x, out) ? NULL : em_prod(x, dims, keepdim, dtype, out);
    red_ctx c = ctx_of(x, dims, keepdim);
    return record("ProdBackward", prod_backward, x, &c, true, true, em_prod(x, dims, keepdim, dtype, NULL));
}

/* ---- amax, amin, and max/min/median over all elements ---- */

/* The gradient shared evenly among the elements equal to the result (NaN: the
 * NaNs), as PyTorch's evenly_distribute_backward and amax's formula. */
static int evenly_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const red_ctx *c = n->ctx;
    agr_scope S = { 0 };
    em_tensor *x, *r;
    if (saved(n, &S, &x, &r) < 0)
        return done(&S, gi, NULL);
    em_tensor *mask = K(agr_float(K(agr_hit_mask(x, K(unsq(c, r)))), go[0]->dtype));
    em_tensor *count = K(agr_count(mask, dims_arg(c)));
    return done(&S, gi, K(agr_mul(mask, K(agr_div(K(unsq(c, go[0])), count)))));
}

static em_tensor *record_evenly(const char *name, em_tensor *x, const bool *dims, bool keepdim, em_tensor *r)
{
    red_ctx c = ctx_of(x, dims, keepdim);
    return record(name, evenly_backward, x, &c, true, true, r);
}

em_tensor *em_ag_amax(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("amax", x, out) ? NULL : em_amax(x, dims, keepdim, out);
    return record_evenly("AmaxBackward", x, dims, keepdim, em_amax(x, dims, keepdim, NULL));
}

em_tensor *em_ag_amin(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("amin", x, out) ? NULL : em_amin(x, dims, keepdim, out);
    return record_evenly("AminBackward", x, dims, keepdim, em_amin(x, dims, keepdim, NULL));
}

em_tensor *em_ag_max_all(em_tensor *x)
{
    if (!em_ag_wants(x))
        return em_max_all(x);
    return record_evenly("MaxBackward", x, NULL, false, em_max_all(x));
}

em_tensor *em_ag_min_all(em_tensor *x)
{
    if (!em_ag_wants(x))
        return em_min_all(x);
    return record_evenly("MinBackward", x, NULL, false, em_min_all(x));
}

em_tensor *em_ag_median_all(em_tensor *x)
{
    if (!em_ag_wants(x))
        return em_median_all(x);
    return record_evenly("MedianBackward", x, NULL, false, em_median_all(x));
}

/* ---- max(a, b), min(a, b) ---- */

/* a's share of the gradient, 1 - [a loses] - [a == b] / 2 in dt: 1 where a
 * wins, 1/2 on ties, 0 where b wins; with a NaN both get the whole gradient, as
 * in PyTorch's maximum. */
static em_tensor *pair_weight(em_tensor *a, em_tensor *b, bool is_max, em_dtype dt)
{
    agr_scope S = { 0 };
    em_binary_op lose = is_max ? EM_BIN_LT : EM_BIN_GT;
    em_tensor *l = K(agr_float(K(em_binary(lose, em_arg_tensor(a), em_arg_tensor(b), NULL, NULL)), dt));
    em_tensor *e = K(agr_float(K(agr_eq(a, b)), dt));
    em_tensor *h = e ? K(em_binary(EM_BIN_MUL, em_arg_tensor(e), em_arg_scalar(em_scalar_double(0.5)), NULL, NULL))
                     : NULL;
    em_tensor *w = l && h ? K(em_binary(EM_BIN_ADD, em_arg_tensor(l), em_arg_tensor(h), NULL, NULL)) : NULL;
    return agr_return(&S, K(agr_one_minus(w)));
}

static int pair_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    bool is_max = *(const bool *)n->ctx;
    agr_scope S = { 0 };
    em_tensor *a = K(em_node_saved(n, 0)), *b = a ? K(em_node_saved(n, 1)) : NULL;
    int rc = -1;
    if (!b)
        goto out;
    em_dtype dt = go[0]->dtype;
    if (em_node_needs(n, 0) && !(gi[0] = agr_mul(go[0], K(pair_weight(a, b, is_max, dt)))))
        goto out;
    if (em_node_needs(n, 1) && !(gi[1] = agr_mul(go[0], K(pair_weight(b, a, is_max, dt)))))
        goto out;
    rc = 0;
out:
    agr_free(&S);
    return rc;
}

static em_tensor *pair(bool is_max, em_tensor *a, em_tensor *b)
{
    em_tensor *r = is_max ? em_max_binary(a, b) : em_min_binary(a, b);
    if (!r || !em_dtype_is_float(r->dtype) || (!em_ag_wants(a) && !em_ag_wants(b)))
        return r;
    em_node *n = em_node_new(is_max ? "MaximumBackward" : "MinimumBackward", pair_backward, 2, 1, 2, sizeof(bool));
    if (!n || em_node_set_next(n, 0, a) < 0 || em_node_set_next(n, 1, b) < 0 || em_node_save(n, 0, a) < 0 ||
        em_node_save(n, 1, b) < 0 || em_set_history(r, n, 0) < 0) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    *(bool *)n->ctx = is_max;
    em_node_release(n);
    return r;
}

em_tensor *em_ag_max_binary(em_tensor *a, em_tensor *b) { return pair(true, a, b); }
em_tensor *em_ag_min_binary(em_tensor *a, em_tensor *b) { return pair(false, a, b); }

/* ---- var, std ---- */

/* 1 where t == 0, else 0 (plain, in t's dtype), and t with those entries set to 1
 * (differentiable), for formulas that divide by t and mask the result. */
static int zero_safe(agr_scope *s, em_tensor *t, em_tensor **zero, em_tensor **nonzero, em_tensor **safe)
{
    if (!t)
        return -1;
    *zero = agr_keep(s, agr_float(agr_keep(s, agr_eq_s(t, 0.0)), t->dtype));
    *nonzero = agr_keep(s, agr_one_minus(*zero));
    *safe = agr_keep(s, agr_add(t, *zero));
    return *nonzero && *safe ? 0 : -1;
}

/* d var / dx = 2 (x - mean) / (N - correction), times g (reduced dims as size 1). */
static em_tensor *var_grad(const red_ctx *c, em_tensor *x, em_tensor *gk)
{
    agr_scope S = { 0 };
    em_tensor *mean = K(em_ag_mean(x, dims_arg(c), true, -1, NULL));
    double scale = 2.0 / ((double)reduced_count(c) - c->correction);
    return agr_return(&S, K(agr_mul(K(agr_sub(x, mean)), K(agr_mul_s(gk, scale)))));
}

static int var_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const red_ctx *c = n->ctx;
    agr_scope S = { 0 };
    em_tensor *x;
    if (saved(n, &S, &x, NULL) < 0)
        return done(&S, gi, NULL);
    return done(&S, gi, K(var_grad(c, x, K(unsq(c, go[0])))));
}

/* std = sqrt(var): g / (2 std) into var's formula, 0 where std is 0 (PyTorch). */
static int std_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const red_ctx *c = n->ctx;
    agr_scope S = { 0 };
    em_tensor *x, *r;
    if (saved(n, &S, &x, &r) < 0)
        return done(&S, gi, NULL);
    em_tensor *rk = K(unsq(c, r)), *zero, *nonzero, *safe;
    if (!rk || zero_safe(&S, rk, &zero, &nonzero, &safe) < 0)
        return done(&S, gi, NULL);
    em_tensor *gv = K(agr_div(K(agr_mul(K(unsq(c, go[0])), nonzero)), K(agr_mul_s(safe, 2.0))));
    return done(&S, gi, gv ? K(var_grad(c, x, gv)) : NULL);
}

em_tensor *em_ag_var(em_tensor *x, const bool *dims, double correction, bool keepdim, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("var", x, out) ? NULL : em_var(x, dims, correction, keepdim, out);
    red_ctx c = ctx_of(x, dims, keepdim);
    c.correction = correction;
    return record("VarBackward", var_backward, x, &c, true, false, em_var(x, dims, correction, keepdim, NULL));
}

em_tensor *em_ag_std(em_tensor *x, const bool *dims, double correction, bool keepdim, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("std", x, out) ? NULL : em_std(x, dims, correction, keepdim, out);
    red_ctx c = ctx_of(x, dims, keepdim);
    c.correction = correction;
    return record("StdBackward", std_backward, x, &c, true, true, em_std(x, dims, correction, keepdim, NULL));
}

/* ---- norm ---- */

/* PyTorch's norm_backward, subgradient 0 at 0. Powers other than 1 and 2 use
 * pow, so their double backward needs pow's gradient. */
static int norm_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const red_ctx *c = n->ctx;
    double p = c->p;
    agr_scope S = { 0 };
    em_tensor *x, *r;
    if (saved(n, &S, &x, &r) < 0)
        return done(&S, gi, NULL);
    x = K(agr_to(x, r->dtype)); /* norm(x, {dtype=}) computed in dtype */
    em_tensor *g = K(unsq(c, go[0])), *rk = K(unsq(c, r));
    if (!x || !g || !rk)
        return done(&S, gi, NULL);
    if (p == 0.0) /* piecewise constant */
        return done(&S, gi, K(em_full(x->ndim, x->sizes, em_scalar_int(0), x->dtype, em_tensor_device(x))));
    em_tensor *sgn = K(agr_sign(x));
    if (p == 1.0)
        return done(&S, gi, K(agr_mul(sgn, g)));
    em_tensor *rz, *rnz, *rsafe;
    if (zero_safe(&S, rk, &rz, &rnz, &rsafe) < 0)
        return done(&S, gi, NULL);
    if (p == 2.0) /* g x / norm, 0 where the norm is 0 */
        return done(&S, gi, K(agr_mul(x, K(agr_div(K(agr_mul(g, rnz)), rsafe)))));
    em_tensor *absx = K(agr_mul(x, sgn));
    if (isinf(p)) { /* amax(|x|): shared evenly among the elements reaching it */
        em_tensor *mask = K(agr_float(K(agr_hit_mask(absx, rk)), x->dtype));
        em_tensor *count = K(agr_count(mask, dims_arg(c)));
        return done(&S, gi, K(agr_mul(K(agr_mul(sgn, mask)), K(agr_div(g, count)))));
    }
    em_tensor *xz, *xnz, *absafe;
    if (zero_safe(&S, absx, &xz, &xnz, &absafe) < 0)
        return done(&S, gi, NULL);
    if (p < 1.0) { /* sgn(x) |x|^(p-1) g norm^(1-p), 0 where x is 0 */
        em_tensor *scaled = K(agr_mul(K(agr_mul(sgn, K(agr_pow_s(absafe, p - 1.0)))), xnz));
        return done(&S, gi, K(agr_mul(K(agr_mul(scaled, g)), K(agr_pow_s(rk, 1.0 - p)))));
    }
    /* p > 1: sgn(x) |x|^(p-1) g / norm^(p-1), 0 where the norm is 0 */
    em_tensor *scaled = K(agr_mul(K(agr_mul(sgn, K(agr_pow_s(absafe, p - 1.0)))), xnz));
    em_tensor *scale = K(agr_div(K(agr_mul(g, rnz)), K(agr_pow_s(rsafe, p - 1.0))));
    return done(&S, gi, K(agr_mul(scaled, scale)));
}

em_tensor *em_ag_norm(em_tensor *x, double p, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("norm", x, out) ? NULL : em_norm(x, p, dims, keepdim, dtype, out);
    red_ctx c = ctx_of(x, dims, keepdim);
    c.p = p;
    return record("NormBackward", norm_backward, x, &c, true, true, em_norm(x, p, dims, keepdim, dtype, NULL));
}

/* ---- logsumexp ---- */

static int logsumexp_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const red_ctx *c = n->ctx;
    agr_scope S = { 0 };
    em_tensor *x, *r;
    if (saved(n, &S, &x, &r) < 0)
        return done(&S, gi, NULL);
    return done(&S, gi, K(agr_mul(K(unsq(c, go[0])), K(agr_exp(K(agr_sub(x, K(unsq(c, r)))))))));
}

em_tensor *em_ag_logsumexp(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return agr_refuse_out("logsumexp", x, out) ? NULL : em_logsumexp(x, dims, keepdim, out);
    red_ctx c = ctx_of(x, dims, keepdim);
    return record("LogsumexpBackward", logsumexp_backward, x, &c, true, true, em_logsumexp(x, dims, keepdim, NULL));
}
