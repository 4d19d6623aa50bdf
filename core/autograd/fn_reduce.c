/* Differentiable reductions, scans, sorting and softmax. A reduction's gradient
 * is the output gradient put back in the reduced dims (unsqueezed when keepdim
 * was false) and expanded to the input's shape, scaled as the op needs. */
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "functions.h"

typedef struct red_ctx {
    int ndim;
    int64_t sizes[EM_MAX_DIMS]; /* the input's */
    bool dims[EM_MAX_DIMS];     /* reduced dims */
    bool keepdim;
    double scale;
} red_ctx;

static void red_ctx_set(red_ctx *c, const em_tensor *x, const bool *dims, bool keepdim)
{
    c->ndim = x->ndim;
    memcpy(c->sizes, x->sizes, sizeof c->sizes);
    for (int i = 0; i < x->ndim; i++)
        c->dims[i] = dims ? dims[i] : true;
    c->keepdim = keepdim;
}

/* g (the reduction's output gradient) expanded back to the input's shape. */
em_tensor *em_ag_reduce_grad_expand(em_tensor *g, int ndim, const int64_t *sizes, const bool *dims, bool keepdim)
{
    int64_t kshape[EM_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        kshape[i] = dims[i] ? 1 : sizes[i];
    em_tensor *k;
    if (keepdim || ndim == 0) {
        em_tensor_retain(g);
        k = g;
    } else {
        k = em_ag_reshape(g, ndim, kshape);
    }
    if (!k)
        return NULL;
    em_tensor *e = em_ag_expand(k, ndim, sizes);
    em_tensor_release(k);
    return e;
}

static int sum_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const red_ctx *c = n->ctx;
    em_tensor *e = em_ag_reduce_grad_expand(go[0], c->ndim, c->sizes, c->dims, c->keepdim);
    if (!e)
        return -1;
    if (c->scale == 1.0) {
        gi[0] = e;
        return 0;
    }
    gi[0] = em_ag_binary(EM_BIN_MUL, em_arg_tensor(e), em_arg_scalar(em_scalar_double(c->scale)), NULL, NULL);
    em_tensor_release(e);
    return gi[0] ? 0 : -1;
}

static em_tensor *record_reduce(const char *name, em_backward_fn fn, em_tensor *x, const bool *dims, bool keepdim,
                                double scale, em_tensor *r)
{
    if (!r || !em_dtype_is_float(r->dtype))
        return r;
    em_node *n = em_node_new(name, fn, 1, 1, 0, sizeof(red_ctx));
    if (!n || em_node_set_next(n, 0, x) < 0) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    red_ctx *c = n->ctx;
    red_ctx_set(c, x, dims, keepdim);
    c->scale = scale;
    if (em_set_history(r, n, 0) < 0) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    em_node_release(n);
    return r;
}

/* out= is refused when recording (as in PyTorch). */
static bool refuse_out(const char *op, em_tensor *x, em_tensor *out)
{
    if (out && em_ag_wants(x)) {
        em_error("%s: out= cannot be used when an input requires grad", op);
        return true;
    }
    return false;
}

em_tensor *em_ag_sum(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return refuse_out("sum", x, out) ? NULL : em_sum(x, dims, keepdim, dtype, out);
    em_tensor *r = em_sum(x, dims, keepdim, dtype, NULL);
    return record_reduce("SumBackward", sum_backward, x, dims, keepdim, 1.0, r);
}

em_tensor *em_ag_mean(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    if (!em_ag_wants(x) || out)
        return refuse_out("mean", x, out) ? NULL : em_mean(x, dims, keepdim, dtype, out);
    em_tensor *r = em_mean(x, dims, keepdim, dtype, NULL);
    if (!r)
        return r;
    int64_t count = 1;
    for (int i = 0; i < x->ndim; i++)
        if (!dims || dims[i])
            count *= x->sizes[i];
    return record_reduce("MeanBackward", sum_backward, x, dims, keepdim, count ? 1.0 / (double)count : 0.0, r);
}
