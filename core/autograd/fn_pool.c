/* Pooling nodes. One context for every pooling op: the input's shape, the
 * window parameters, and (max, unpool) the positions saved in slot 0. */
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "functions.h"

typedef struct pool_ctx {
    const char *name;
    em_pool_op op; /* the backward kernel */
    int nsp;
    em_pool_params p;
    int ndim; /* the gradient's shape (the forward input's) */
    int64_t sizes[EM_MAX_DIMS];
} pool_ctx;

/* g viewed as (P, n) with a differentiable reshape: the planes of its last nsp dims. */
static em_tensor *flat_planes(em_tensor *g, int nsp, bool ag)
{
    int64_t n = g->sizes[g->ndim - 1] * (nsp == 2 ? g->sizes[g->ndim - 2] : 1);
    int64_t sz[2] = { -1, n };
    if (n == 0)
        sz[0] = 0;
    return ag ? em_ag_reshape(g, 2, sz) : em_reshape(g, 2, sz);
}

/* create_graph: the same gradient from differentiable scatter / gather. */
static em_tensor *move_differentiable(const pool_ctx *c, em_tensor *g, em_tensor *idx)
{
    int64_t n = c->sizes[c->ndim - 1] * (c->nsp == 2 ? c->sizes[c->ndim - 2] : 1);
    em_tensor *g2 = flat_planes(g, c->nsp, true), *i2 = g2 ? flat_planes(idx, c->nsp, false) : NULL, *r = NULL;
    if (i2 && c->op == EM_POOL_SCATTER_ADD) {
        int64_t zs[2] = { g2->sizes[0], n };
        em_tensor *z = em_full(2, zs, em_scalar_int(0), g->dtype, em_tensor_device(g));
        r = z ? em_ag_scatter(z, 1, i2, g2, em_scalar_int(0), EM_SCATTER_ADD) : NULL;
        em_tensor_release(z);
    } else if (i2) {
        r = em_ag_gather(g2, 1, i2);
    }
    em_tensor_release(g2);
    em_tensor_release(i2);
    em_tensor *out = r ? em_ag_reshape(r, c->ndim, c->sizes) : NULL;
    em_tensor_release(r);
    return out;
}

/* create_graph through average pooling: its backward is linear in the output's
 * gradient g, and the adjoint of that backward is the pooling itself, so the
 * gradient is recorded as an op whose own backward pools again. */
typedef struct avg_bwd_ctx {
    pool_ctx c;
    int64_t osize[2]; /* adaptive: the pooled sizes (g's last nsp dims) */
} avg_bwd_ctx;

static int avg_bwd_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const avg_bwd_ctx *a = n->ctx;
    gi[0] = a->c.op == EM_POOL_AVG_BWD ? em_ag_avg_pool(go[0], a->c.nsp, &a->c.p)
                                       : em_ag_adaptive_avg_pool(go[0], a->c.nsp, a->osize);
    return gi[0] ? 0 : -1;
}

static em_tensor *avg_backward_differentiable(const pool_ctx *c, em_tensor *g)
{
    em_tensor *r = em_pool_apply(c->name, c->op, g, NULL, c->ndim, c->sizes, c->nsp, &c->p);
    if (!r || !em_ag_wants(g))
        return r;
    avg_bwd_ctx a;
    memset(&a, 0, sizeof a);
    a.c = *c;
    for (int i = 0; i < c->nsp; i++)
        a.osize[i] = g->sizes[g->ndim - c->nsp + i];
    return em_ag_record1(c->op == EM_POOL_AVG_BWD ? "AvgPoolBackwardBackward" : "AdaptiveAvgPoolBackwardBackward",
                         avg_bwd_backward, g, r, &a, sizeof a);
}

static int pool_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const pool_ctx *c = n->ctx;
    em_tensor *idx = NULL;
    if (n->n_saved > 0 && !(idx = em_node_saved(n, 0)))
        return -1;
    if (em_grad_enabled()) { /* create_graph */
        gi[0] = idx ? move_differentiable(c, go[0], idx) : avg_backward_differentiable(c, go[0]);
    } else {
        gi[0] = em_pool_apply(c->name, c->op, go[0], idx, c->ndim, c->sizes, c->nsp, &c->p);
    }
    em_tensor_release(idx);
    return gi[0] ? 0 : -1;
}

static em_tensor *record(const char *node_name, const char *name, em_pool_op op, em_tensor *x, int nsp,
                         const em_pool_params *p, em_tensor *out, const em_tensor *idx)
{
    em_node *n = em_node_new(node_name, pool_backward, 1, 1, idx ? 1 : 0, sizeof(pool_ctx));
    if (!n) {
        em_tensor_release(out);
        return NULL;
    }
    pool_ctx *c = n->ctx;
    c->name = name;
    c->op = op;
    c->nsp = nsp;
    if (p)
        c->p = *p;
    c->ndim = x->ndim;
    memcpy(c->sizes, x->sizes, (size_t)x->ndim * sizeof(int64_t));
    if (em_node_set_next(n, 0, x) < 0 || (idx && em_node_save(n, 0, (em_tensor *)idx) < 0)) {
        em_node_release(n);
        em_tensor_release(out);
        return NULL;
    }
    return em_ag_finish(n, out);
}

/* Records a values+positions forward; *idx is released when the caller did not ask. */
static int finish_max(const char *node_name, const char *name, em_tensor *x, int nsp, const em_pool_params *p,
                      em_tensor **out, em_tensor **idx, em_tensor *ix)
{
    if (*out && em_ag_wants(x)) {
        *out = record(node_name, name, EM_POOL_SCATTER_ADD, x, nsp, p, *out, ix);
        if (!*out) {
            em_tensor_release(ix);
            return -1;
        }
    }
    if (idx)
        *idx = ix;
    else
        em_tensor_release(ix);
    return 0;
}

int em_ag_max_pool(em_tensor *x, int nsp, const em_pool_params *p, em_tensor **out, em_tensor **idx)
{
    em_tensor *ix = NULL;
    if (em_max_pool(x, nsp, p, out, idx || em_ag_wants(x) ? &ix : NULL) < 0)
        return -1;
    return finish_max(nsp == 1 ? "MaxPool1DWithIndicesBackward" : "MaxPool2DWithIndicesBackward",
                      nsp == 1 ? "max_pool1d" : "max_pool2d", x, nsp, p, out, idx, ix);
}

int em_ag_adaptive_max_pool(em_tensor *x, int nsp, const int64_t *osize, em_tensor **out, em_tensor **idx)
{
    em_tensor *ix = NULL;
    if (em_adaptive_max_pool(x, nsp, osize, out, idx || em_ag_wants(x) ? &ix : NULL) < 0)
        return -1;
    return finish_max(nsp == 1 ? "AdaptiveMaxPool1DBackward" : "AdaptiveMaxPool2DBackward",
                      nsp == 1 ? "adaptive_max_pool1d" : "adaptive_max_pool2d", x, nsp, NULL, out, idx, ix);
}

em_tensor *em_ag_avg_pool(em_tensor *x, int nsp, const em_pool_params *p)
{
    em_tensor *r = em_avg_pool(x, nsp, p);
    if (!r || !em_ag_wants(x))
        return r;
    return record(nsp == 1 ? "AvgPool1DBackward" : "AvgPool2DBackward", nsp == 1 ? "avg_pool1d" : "avg_pool2d",
                  EM_POOL_AVG_BWD, x, nsp, p, r, NULL);
}

em_tensor *em_ag_adaptive_avg_pool(em_tensor *x, int nsp, const int64_t *osize)
{
    em_tensor *r = em_adaptive_avg_pool(x, nsp, osize);
    if (!r || !em_ag_wants(x))
        return r;
    return record(nsp == 1 ? "AdaptiveAvgPool1DBackward" : "AdaptiveAvgPool2DBackward",
                  nsp == 1 ? "adaptive_avg_pool1d" : "adaptive_avg_pool2d", EM_POOL_ADAPTIVE_AVG_BWD, x, nsp, NULL,
                  r, NULL);
}

em_tensor *em_ag_max_unpool2d(em_tensor *x, const em_tensor *idx, int64_t oh, int64_t ow)
{
    em_tensor *r = em_max_unpool2d(x, idx, oh, ow);
    if (!r || !em_ag_wants(x))
        return r;
    return record("MaxUnpool2DBackward", "max_unpool2d", EM_POOL_GATHER, x, 2, NULL, r, idx);
}
