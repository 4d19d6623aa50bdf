/* ConvolutionBackward: the gradients of input, weight and bias through the
 * convolution kernels (core/conv.c), each computed only when its edge needs it.
 * Under create_graph the same gradients are built from differentiable pieces, so
 * gradients of gradients work (gradient penalties, gradgradcheck): the input's
 * gradient is the transposed convolution (or, for a transposed convolution, the
 * convolution) of the output's gradient, and the weight's gradient is a node of
 * its own, bilinear in the output's gradient and the input, whose backward is
 * again made of convolutions. */
#include <string.h>

#include "../error.h"
#include "functions.h"

/* ---- the weight's gradient as a differentiable op ----
 * gw = dconv/dw for the convolution (non-transposed frame p) of `img` giving
 * `res`: res is (N, c_out, out...), img (N, c_in, in...), w only gives the shape. */
typedef struct wgrad_ctx {
    em_conv_params p;
    const char *op;
} wgrad_ctx;

/* The gradient of conv(x) w.r.t. x for g, as a transposed convolution whose
 * output_padding restores x's spatial sizes (the forward floors them). */
static em_tensor *input_grad(const char *op, em_tensor *g, em_tensor *w, const int64_t *x_sizes,
                             const em_conv_params *p)
{
    em_conv_params q = *p;
    q.transposed = true;
    for (int i = 0; i < p->nd; i++) {
        int64_t span = p->dilation[i] * (w->sizes[2 + i] - 1) + 1;
        q.output_padding[i] = x_sizes[2 + i] - ((g->sizes[2 + i] - 1) * p->stride[i] - p->pad_lo[i] - p->pad_hi[i] + span);
    }
    return em_ag_conv(op, g, w, NULL, &q);
}

static int wgrad_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const wgrad_ctx *c = nd->ctx;
    em_tensor *res = em_node_saved(nd, 0), *img = res ? em_node_saved(nd, 1) : NULL;
    int rc = -1;
    if (img) {
        rc = 0;
        /* <ggw, dW(res, img)> is the convolution of img by ggw, summed against res */
        if (em_node_needs(nd, 0) && !(gi[0] = em_ag_conv(c->op, img, go[0], NULL, &c->p)))
            rc = -1;
        if (rc == 0 && em_node_needs(nd, 1) && !(gi[1] = input_grad(c->op, res, go[0], img->sizes, &c->p)))
            rc = -1;
    }
    em_tensor_release(res);
    em_tensor_release(img);
    return rc;
}

static em_tensor *weight_grad(const char *op, em_tensor *res, em_tensor *img, em_tensor *w, const em_conv_params *p)
{
    em_tensor *gw = NULL;
    if (em_conv_backward(op, res, img, w, p, NULL, &gw, NULL) < 0)
        return NULL;
    if (!em_ag_wants(res) && !em_ag_wants(img))
        return gw;
    em_node *nd = em_node_new("ConvolutionBackwardBackward", wgrad_backward, 2, 1, 2, sizeof(wgrad_ctx));
    if (!nd || em_node_set_next(nd, 0, res) < 0 || em_node_set_next(nd, 1, img) < 0 || em_node_save(nd, 0, res) < 0 ||
        em_node_save(nd, 1, img) < 0) {
        em_node_release(nd);
        em_tensor_release(gw);
        return NULL;
    }
    wgrad_ctx *c = nd->ctx;
    c->p = *p;
    c->op = op;
    return em_ag_finish(nd, gw);
}

/* The three gradients with history (create_graph). */
static int conv_backward_differentiable(const char *op, const em_conv_params *p, em_tensor *g, em_tensor *x,
                                        em_tensor *w, em_tensor **gx, em_tensor **gw, em_tensor **gb)
{
    em_conv_params f = *p; /* the non-transposed frame */
    f.transposed = false;
    memset(f.output_padding, 0, sizeof f.output_padding);
    /* conv: image x, result g; transposed conv: image g, result x */
    em_tensor *res = p->transposed ? x : g, *img = p->transposed ? g : x;
    if (gx && !(*gx = p->transposed ? em_ag_conv(op, g, w, NULL, &f) : input_grad(op, g, w, x->sizes, p)))
        return -1;
    if (gw && !(*gw = weight_grad(op, res, img, w, &f)))
        return -1;
    if (gb) {
        bool dims[EM_MAX_DIMS] = { false };
        for (int i = 0; i < g->ndim; i++)
            dims[i] = i != 1;
        if (!(*gb = em_ag_sum(g, dims, false, -1, NULL)))
            return -1;
    }
    return 0;
}

typedef struct conv_ctx {
    em_conv_params p;
    const char *op;
    bool has_bias;
} conv_ctx;

static int conv_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const conv_ctx *c = nd->ctx;
    em_tensor *x = em_node_saved(nd, 0), *w = x ? em_node_saved(nd, 1) : NULL;
    int rc = -1;
    if (x && w) {
        em_tensor **gx = em_node_needs(nd, 0) ? &gi[0] : NULL;
        em_tensor **gw = em_node_needs(nd, 1) ? &gi[1] : NULL;
        em_tensor **gb = c->has_bias && em_node_needs(nd, 2) ? &gi[2] : NULL;
        em_tensor *g = go[0];
        em_tensor *gc = g->dtype == x->dtype ? g : NULL;
        if (!gc) {
            em_error("%s: gradient dtype %s differs from the input's %s", c->op, em_dtype_name(g->dtype),
                     em_dtype_name(x->dtype));
        } else if (em_grad_enabled()) { /* create_graph */
            rc = conv_backward_differentiable(c->op, &c->p, gc, x, w, gx, gw, gb);
        } else if (gx || gw || gb) {
            rc = em_conv_backward(c->op, gc, x, w, &c->p, gx, gw, gb);
        } else {
            rc = 0;
        }
    }
    em_tensor_release(x);
    em_tensor_release(w);
    return rc;
}

em_tensor *em_ag_conv(const char *op, em_tensor *input, em_tensor *weight, em_tensor *bias, const em_conv_params *p)
{
    if (!em_ag_wants(input) && !em_ag_wants(weight) && !em_ag_wants(bias))
        return em_conv(op, input, weight, bias, p);
    em_tensor *r = em_conv(op, input, weight, bias, p);
    if (!r)
        return NULL;
    em_node *nd = em_node_new("ConvolutionBackward",
                              conv_backward, 3, 1, 2, sizeof(conv_ctx));
    if (!nd)
        goto fail;
    conv_ctx *c = nd->ctx;
    c->p = *p;
    c->op = op; /* a string literal of the binding */
    c->has_bias = bias != NULL;
    if (em_node_set_next(nd, 0, input) < 0 || em_node_set_next(nd, 1, weight) < 0 ||
        (bias && em_node_set_next(nd, 2, bias) < 0))
        goto fail;
    /* input and weight are read by every gradient's geometry */
    if (em_node_save(nd, 0, input) < 0 || em_node_save(nd, 1, weight) < 0)
        goto fail;
    return em_ag_finish(nd, r);
fail:
    em_node_release(nd);
    em_tensor_release(r);
    return NULL;
}

em_tensor *em_ag_conv_transpose(const char *op, em_tensor *input, em_tensor *weight, em_tensor *bias,
                                const em_conv_params *p)
{
    em_conv_params q = *p;
    q.transposed = true;
    return em_ag_conv(op, input, weight, bias, &q);
}
