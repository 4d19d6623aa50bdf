/* ConvolutionBackward: the gradients of input, weight and bias through the
 * convolution kernels (core/conv.c), each computed only when its edge needs it.
 * The formulas are the kernels themselves, not em_ag_ ops, so there is no double
 * backward: with create_graph the node raises instead of returning gradients
 * without history. */
#include <string.h>

#include "../error.h"
#include "functions.h"

typedef struct conv_ctx {
    em_conv_params p;
    const char *op;
    bool has_bias;
} conv_ctx;

static int conv_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const conv_ctx *c = nd->ctx;
    if (em_grad_enabled())
        return em_error("%s: double backward (create_graph=true) is not supported for convolution", c->op);
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
