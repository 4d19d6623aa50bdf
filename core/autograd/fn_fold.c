/* Im2ColBackward / Col2ImBackward: the gradient of unfold is fold of the output's
 * gradient onto the input's image size, and the gradient of fold is unfold. */
#include "functions.h"

typedef struct fold_ctx {
    em_fold_params p;
    int64_t osize[2]; /* im2col: the input image's (H, W) */
} fold_ctx;

static int im2col_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const fold_ctx *c = n->ctx;
    gi[0] = em_ag_col2im(go[0], c->osize, &c->p);
    return gi[0] ? 0 : -1;
}

static int col2im_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const fold_ctx *c = n->ctx;
    gi[0] = em_ag_im2col(go[0], &c->p);
    return gi[0] ? 0 : -1;
}

static em_tensor *record(const char *name, em_backward_fn fn, em_tensor *x, em_tensor *r, const em_fold_params *p,
                         const int64_t *osize)
{
    em_node *n = em_node_new(name, fn, 1, 1, 0, sizeof(fold_ctx));
    if (!n) {
        em_tensor_release(r);
        return NULL;
    }
    fold_ctx *c = n->ctx;
    c->p = *p;
    c->osize[0] = osize[0];
    c->osize[1] = osize[1];
    if (em_node_set_next(n, 0, x) < 0) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    return em_ag_finish(n, r);
}

em_tensor *em_ag_im2col(em_tensor *x, const em_fold_params *p)
{
    em_tensor *r = em_im2col(x, p);
    if (!r || !em_ag_wants(x))
        return r;
    int64_t img[2] = { x->sizes[x->ndim - 2], x->sizes[x->ndim - 1] };
    return record("Im2ColBackward", im2col_backward, x, r, p, img);
}

em_tensor *em_ag_col2im(em_tensor *x, const int64_t *osize, const em_fold_params *p)
{
    em_tensor *r = em_col2im(x, osize, p);
    if (!r || !em_ag_wants(x))
        return r;
    return record("Col2ImBackward", col2im_backward, x, r, p, osize);
}
