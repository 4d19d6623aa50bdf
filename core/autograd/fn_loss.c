/* Nodes for nll_loss and cross_entropy: the saved (N, C, S) input, targets,
 * weight and log-sum-exp go back to the fused backward kernel. */
#include <string.h>

#include "../error.h"
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

enum { SAVED_X, SAVED_TARGET, SAVED_WEIGHT, SAVED_LSE, SAVED_COUNT };

static int loss_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const loss_ctx *c = n->ctx;
    if (em_grad_enabled())
        return em_error("%s: double backward is not supported (create_graph); compose log_softmax and gather "
                        "for a second derivative",
                        c->op);
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
    gi[0] = em_nll_backward(c->op, c->fused, &s, c->ignore_index, c->smoothing, c->reduction, go[0]);
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
              (!s.lse || em_node_save(n, SAVED_LSE, s.lse) == 0);
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
