/* Nodes for nll_loss and cross_entropy: the saved (N, C, S) input, targets,
 * weight and log-sum-exp go back to the fused backward kernel. Under create_graph
 * the gradient is composed from differentiable ops instead (second derivatives,
 * MAML-style inner steps): with g the output's gradient and K the constant
 * per-class coefficients of the loss (target weights, label smoothing, mean
 * divisors), the log-probabilities' gradient is -K g, and cross_entropy's
 * gradient of the logits is softmax(x) * sum_c(K g) - K g. */
#include <stdlib.h>
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "../view.h"
#include "fn_reduce_internal.h"
#include "functions.h"

typedef struct loss_ctx {
    const char *op;
    bool fused, has_weight;
    int64_t ignore_index;
    double smoothing;
    em_reduction reduction;
    double denom[2];
    int ndim;
    int64_t sizes[EM_MAX_DIMS];
} loss_ctx;

enum { SAVED_X, SAVED_TARGET, SAVED_WEIGHT, SAVED_LSE, SAVED_INPUT, SAVED_COUNT };

/* K (N, C, S) in x's dtype: the loss is sum over (n, s) of -K[n, c, s] logp[n, c, s]
 * times the output's gradient, as the backward kernel (core/cpu/loss.c) weighs it. */
static em_tensor *coefficients(const loss_ctx *c, const em_tensor *x3, em_tensor *target, em_tensor *weight)
{
    int64_t N = x3->sizes[0], C = x3->sizes[1], S = x3->sizes[2];
    em_tensor *t = em_contiguous(target), *w = weight ? em_to_dtype(weight, EM_FLOAT64, true) : NULL;
    em_tensor *k = t && (!weight || w) ? em_full(3, x3->sizes, em_scalar_int(0), EM_FLOAT64, em_tensor_device(x3))
                                       : NULL;
    if (k) {
        const int64_t *tp = em_tensor_data(t);
        const double *wp = w ? em_tensor_data(w) : NULL;
        double *kp = em_tensor_data(k), eps = c->smoothing;
        double sa = 1 - eps, sb = eps / (double)C;
        if (c->reduction == EM_REDUCTION_MEAN) {
            sa /= c->denom[0];
            sb = eps > 0 ? sb / c->denom[1] : 0;
        }
        for (int64_t i = 0; i < N * S; i++) {
            int64_t n = i / S, s = i % S;
            if (tp[i] == c->ignore_index)
                continue;
            double *row = kp + n * C * S + s;
            for (int64_t cl = 0; cl < C && sb != 0; cl++)
                row[cl * S] = sb * (wp ? wp[cl] : 1.0);
            row[(tp[i] - 1) * S] += sa * (wp ? wp[tp[i] - 1] : 1.0);
        }
    }
    em_tensor *r = k ? em_to_dtype(k, x3->dtype, false) : NULL;
    em_tensor_release(k);
    em_tensor_release(t);
    em_tensor_release(w);
    return r;
}

static em_tensor *loss_backward_differentiable(const loss_ctx *c, em_tensor *x3, em_tensor *input, em_tensor *target,
                                               em_tensor *weight, em_tensor *g)
{
    agr_scope sc = { .n = 0 };
    int64_t N = x3->sizes[0], C = x3->sizes[1], S = x3->sizes[2];
    em_tensor *k = agr_keep(&sc, coefficients(c, x3, target, weight));
    int64_t gs[3] = { N, 1, S };
    em_tensor *gb = g;
    if (k && c->reduction == EM_REDUCTION_NONE)
        gb = agr_keep(&sc, em_ag_reshape(g, 3, gs));
    em_tensor *a = k && gb ? agr_keep(&sc, agr_mul(k, gb)) : NULL, *g3 = NULL;
    if (a && c->fused) {
        int64_t xs[3] = { N, C, S };
        bool dims[3] = { false, true, false };
        em_tensor *xr = agr_keep(&sc, em_ag_reshape(input, 3, xs));
        em_tensor *p = xr ? agr_keep(&sc, em_ag_softmax(xr, 1, -1)) : NULL;
        em_tensor *sa = agr_keep(&sc, agr_sum_keep(a, dims));
        g3 = agr_keep(&sc, agr_sub(agr_keep(&sc, agr_mul(p, sa)), a));
    } else if (a) {
        g3 = agr_keep(&sc, agr_mul_s(a, -1.0));
    }
    em_tensor *r = g3 ? agr_keep(&sc, em_ag_reshape(g3, c->ndim, c->sizes)) : NULL;
    return agr_return(&sc, r);
}

static int loss_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const loss_ctx *c = n->ctx;
    em_nll_saved s;
    memset(&s, 0, sizeof s);
    s.x = em_node_saved(n, SAVED_X);
    s.target = s.x ? em_node_saved(n, SAVED_TARGET) : NULL;
    s.weight = s.target && c->has_weight ? em_node_saved(n, SAVED_WEIGHT) : NULL;
    s.lse = s.target && c->fused ? em_node_saved(n, SAVED_LSE) : NULL;
    if (!s.target || (c->has_weight && !s.weight) || (c->fused && !s.lse)) {
        em_nll_saved_clear(&s);
        return -1;
    }
    s.denom[0] = c->denom[0];
    s.denom[1] = c->denom[1];
    s.ndim = c->ndim;
    memcpy(s.sizes, c->sizes, sizeof s.sizes);
    if (em_grad_enabled()) { /* create_graph */
        em_tensor *input = em_node_saved(n, SAVED_INPUT);
        gi[0] = input ? loss_backward_differentiable(c, s.x, input, s.target, s.weight, go[0]) : NULL;
        em_tensor_release(input);
    } else {
        gi[0] = em_nll_backward(c->op, c->fused, &s, c->ignore_index, c->smoothing, c->reduction, go[0]);
    }
    em_nll_saved_clear(&s);
    return gi[0] ? 0 : -1;
}

static em_tensor *loss(const char *op, bool fused, em_tensor *x, em_tensor *target, em_tensor *weight,
                       int64_t ignore_index, double smoothing, em_reduction reduction)
{
    if (!em_ag_wants(x))
        return em_nll(op, fused, x, target, weight, ignore_index, smoothing, reduction, NULL);
    em_nll_saved s;
    em_tensor *r = em_nll(op, fused, x, target, weight, ignore_index, smoothing, reduction, &s);
    if (!r)
        return NULL;
    em_node *n = em_node_new(fused ? "NllLossBackward" : "NllLossBackward", loss_backward, 1, 1, SAVED_COUNT,
                             sizeof(loss_ctx));
    if (fused && n)
        n->name = "CrossEntropyLossBackward";
    bool ok = n && em_node_set_next(n, 0, x) == 0 && em_node_save(n, SAVED_X, s.x) == 0 &&
              em_node_save(n, SAVED_TARGET, s.target) == 0 && (!s.weight || em_node_save(n, SAVED_WEIGHT, s.weight) == 0) &&
              (!s.lse || em_node_save(n, SAVED_LSE, s.lse) == 0) && em_node_save(n, SAVED_INPUT, x) == 0;
    if (ok) {
        loss_ctx *c = n->ctx;
        c->op = op;
        c->fused = fused;
        c->has_weight = s.weight != NULL;
        c->ignore_index = ignore_index;
        c->smoothing = smoothing;
        c->reduction = reduction;
        c->denom[0] = s.denom[0];
        c->denom[1] = s.denom[1];
        c->ndim = s.ndim;
        memcpy(c->sizes, s.sizes, sizeof c->sizes);
    }
    em_nll_saved_clear(&s);
    if (!ok) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    return em_ag_finish(n, r);
}

em_tensor *em_ag_nll_loss(em_tensor *x, em_tensor *target, em_tensor *weight, int64_t ignore_index,
                          em_reduction reduction)
{
    return loss("nll_loss", false, x, target, weight, ignore_index, 0.0, reduction);
}

em_tensor *em_ag_cross_entropy(em_tensor *x, em_tensor *target, em_tensor *weight, int64_t ignore_index,
                               double label_smoothing, em_reduction reduction)
{
    return loss("cross_entropy", true, x, target, weight, ignore_index, label_smoothing, reduction);
}
