/* NativeBatchNormBackward, NativeLayerNormBackward, NativeGroupNormBackward: one
 * node per fused forward, saving the input, the weight and the statistics. The
 * first-order backward is the fused kernel. With create_graph the gradients are
 * composed from em_ag_ ops on the (N, G, D, S) view instead, the statistics
 * recomputed from the saved input so that their dependence on it is recorded:
 *   xhat = (x - mean) * invstd, h = g * w
 *   gx = invstd * (h - mean(h) - xhat * mean(h * xhat))   (batch statistics)
 *   gx = invstd * h                                        (running statistics)
 *   gw = sum(g * xhat), gb = sum(g) over the non-channel dims. */
#include <string.h>

#include "../error.h"
#include "fn_reduce_internal.h"
#include "functions.h"

typedef struct norm_ctx {
    const char *op;
    em_norm_saved s; /* geometry only; the statistics live in the saved slots */
    bool has_weight, has_bias;
    int pndim; /* the parameters' shape */
    int64_t psizes[EM_MAX_DIMS];
} norm_ctx;

enum { SAVED_X, SAVED_WEIGHT, SAVED_MEAN, SAVED_INVSTD, SAVED_COUNT };

static em_tensor *reshape(em_tensor *t, int nd, const int64_t *sizes)
{
    return t ? em_ag_reshape(t, nd, sizes) : NULL;
}

static em_tensor *mean_keep(em_tensor *t, const bool *dims)
{
    return t ? em_ag_mean(t, dims, true, -1, NULL) : NULL;
}

static em_tensor *add_s(em_tensor *t, double v)
{
    return t ? em_ag_binary(EM_BIN_ADD, em_arg_tensor(t), em_arg_scalar(em_scalar_double(v)), NULL, NULL) : NULL;
}

/* the gradients as differentiable ops (create_graph) */
static int composed_backward(const norm_ctx *c, em_tensor *g, em_tensor *x, em_tensor *w, em_tensor *mean,
                             em_tensor *invstd, em_tensor **gx, em_tensor **gw, em_tensor **gb)
{
    const em_norm_saved *s = &c->s;
    agr_scope sc = { .n = 0 };
    int64_t v4[4] = { s->N, s->G, s->D, s->S }, p4[4] = { 1, s->G, s->D, 1 };
    bool batch = s->kind == EM_NORM_BATCH, stats = !batch || s->training;
    bool sdims[4] = { batch, batch, !batch, true }, adims[4] = { true, false, false, true };
    em_tensor *xv = agr_keep(&sc, reshape(x, 4, v4)), *gv = agr_keep(&sc, reshape(g, 4, v4)), *m, *is;
    if (stats) {
        m = agr_keep(&sc, mean_keep(xv, sdims));
        em_tensor *xc = agr_keep(&sc, agr_sub(xv, m));
        em_tensor *var = agr_keep(&sc, mean_keep(agr_keep(&sc, agr_mul(xc, xc)), sdims));
        is = agr_keep(&sc, agr_pow_s(agr_keep(&sc, add_s(var, s->eps)), -0.5));
    } else {
        /* running statistics: constants */
        m = agr_keep(&sc, reshape(mean, 4, p4));
        is = agr_keep(&sc, reshape(invstd, 4, p4));
    }
    em_tensor *xhat = agr_keep(&sc, agr_mul(agr_keep(&sc, agr_sub(xv, m)), is));
    em_tensor *h = w ? agr_keep(&sc, agr_mul(gv, agr_keep(&sc, reshape(w, 4, p4)))) : gv;
    if (gx) {
        em_tensor *r;
        if (stats) {
            em_tensor *hm = agr_keep(&sc, mean_keep(h, sdims));
            em_tensor *hx = agr_keep(&sc, mean_keep(agr_keep(&sc, agr_mul(h, xhat)), sdims));
            em_tensor *d = agr_keep(&sc, agr_sub(agr_keep(&sc, agr_sub(h, hm)), agr_keep(&sc, agr_mul(xhat, hx))));
            r = agr_keep(&sc, agr_mul(d, is));
        } else {
            r = agr_keep(&sc, agr_mul(h, is));
        }
        *gx = reshape(r, x->ndim, x->sizes);
        if (!*gx)
            goto fail;
    }
    if (gw) {
        *gw = reshape(agr_keep(&sc, agr_sum_keep(agr_keep(&sc, agr_mul(gv, xhat)), adims)), c->pndim, c->psizes);
        if (!*gw)
            goto fail;
    }
    if (gb) {
        *gb = reshape(agr_keep(&sc, agr_sum_keep(gv, adims)), c->pndim, c->psizes);
        if (!*gb)
            goto fail;
    }
    agr_free(&sc);
    return 0;
fail:
    agr_free(&sc);
    em_tensor **outs[3] = { gx, gw, gb };
    for (int i = 0; i < 3; i++)
        if (outs[i] && *outs[i]) {
            em_tensor_release(*outs[i]);
            *outs[i] = NULL;
        }
    return -1;
}

static int norm_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const norm_ctx *c = nd->ctx;
    em_tensor *x = em_node_saved(nd, SAVED_X);
    em_tensor *w = x && c->has_weight ? em_node_saved(nd, SAVED_WEIGHT) : NULL;
    em_tensor *mean = x && (w || !c->has_weight) ? em_node_saved(nd, SAVED_MEAN) : NULL;
    em_tensor *invstd = mean ? em_node_saved(nd, SAVED_INVSTD) : NULL;
    int rc = -1;
    if (invstd) {
        em_tensor **gx = em_node_needs(nd, 0) ? &gi[0] : NULL;
        em_tensor **gw = c->has_weight && em_node_needs(nd, 1) ? &gi[1] : NULL;
        em_tensor **gb = c->has_bias && em_node_needs(nd, 2) ? &gi[2] : NULL;
        if (em_grad_enabled()) {
            rc = composed_backward(c, go[0], x, w, mean, invstd, gx, gw, gb);
        } else {
            em_norm_saved s = c->s;
            s.mean = mean;
            s.invstd = invstd;
            rc = em_norm_backward(c->op, &s, go[0], x, w, gx, gw, gb);
            /* (C) gradients in the parameters' shape */
            for (int i = 1; rc == 0 && i < 3; i++) {
                if (!gi[i])
                    continue;
                em_tensor *v = em_view(gi[i], c->pndim, c->psizes);
                em_tensor_release(gi[i]);
                gi[i] = v;
                rc = v ? 0 : -1;
            }
        }
    }
    em_tensor_release(x);
    em_tensor_release(w);
    em_tensor_release(mean);
    em_tensor_release(invstd);
    return rc;
}

/* Records the node for y = op(x, weight, bias) with the statistics in s (taken). */
static em_tensor *record(const char *op, const char *name, em_tensor *x, em_tensor *weight, em_tensor *bias,
                         em_norm_saved *s, em_tensor *y)
{
    em_node *nd = em_node_new(name, norm_backward, 3, 1, SAVED_COUNT, sizeof(norm_ctx));
    bool ok = nd && em_node_set_next(nd, 0, x) == 0 && (!weight || em_node_set_next(nd, 1, weight) == 0) &&
              (!bias || em_node_set_next(nd, 2, bias) == 0) && em_node_save(nd, SAVED_X, x) == 0 &&
              (!weight || em_node_save(nd, SAVED_WEIGHT, weight) == 0) && em_node_save(nd, SAVED_MEAN, s->mean) == 0 &&
              em_node_save(nd, SAVED_INVSTD, s->invstd) == 0;
    if (ok) {
        norm_ctx *c = nd->ctx;
        const em_tensor *p = weight ? weight : bias;
        c->op = op;
        c->s = *s;
        c->s.mean = c->s.invstd = NULL;
        c->has_weight = weight != NULL;
        c->has_bias = bias != NULL;
        c->pndim = p ? p->ndim : 0;
        if (p)
            memcpy(c->psizes, p->sizes, (size_t)p->ndim * sizeof(int64_t));
    }
    em_norm_saved_clear(s);
    if (!ok) {
        em_node_release(nd);
        em_tensor_release(y);
        return NULL;
    }
    return em_ag_finish(nd, y);
}

static bool wants(em_tensor *x, em_tensor *w, em_tensor *b)
{
    return em_ag_wants(x) || em_ag_wants(w) || em_ag_wants(b);
}

em_tensor *em_ag_batch_norm(em_tensor *x, em_tensor *weight, em_tensor *bias, em_tensor *running_mean,
                            em_tensor *running_var, bool training, double momentum, double eps)
{
    if (!wants(x, weight, bias))
        return em_batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, NULL);
    em_norm_saved s = { 0 };
    em_tensor *y = em_batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, &s);
    return y ? record("batch_norm", "NativeBatchNormBackward", x, weight, bias, &s, y) : NULL;
}

em_tensor *em_ag_layer_norm(em_tensor *x, int k, const int64_t *shape, em_tensor *weight, em_tensor *bias,
                            double eps)
{
    if (!wants(x, weight, bias))
        return em_layer_norm(x, k, shape, weight, bias, eps, NULL);
    em_norm_saved s = { 0 };
    em_tensor *y = em_layer_norm(x, k, shape, weight, bias, eps, &s);
    return y ? record("layer_norm", "NativeLayerNormBackward", x, weight, bias, &s, y) : NULL;
}

em_tensor *em_ag_group_norm(em_tensor *x, int64_t groups, em_tensor *weight, em_tensor *bias, double eps)
{
    if (!wants(x, weight, bias))
        return em_group_norm(x, groups, weight, bias, eps, NULL);
    em_norm_saved s = { 0 };
    em_tensor *y = em_group_norm(x, groups, weight, bias, eps, &s);
    return y ? record("group_norm", "NativeGroupNormBackward", x, weight, bias, &s, y) : NULL;
}
