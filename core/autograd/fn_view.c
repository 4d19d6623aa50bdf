/* Differentiable views. Each records its base (the tensor owning the memory) so
 * an in-place write through the view can rebase the base's history (see
 * fn_copy.c), and a node whose backward maps the view's gradient back to the
 * input's shape. */
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "functions.h"

typedef struct shape_ctx {
    int ndim;
    int64_t sizes[EM_MAX_DIMS]; /* the input's */
} shape_ctx;

em_tensor *em_ag_mark_view(em_tensor *t, em_tensor *v)
{
    if (v && v != t && v->storage == t->storage && !v->base) {
        em_tensor *b = t->base ? t->base : t;
        em_tensor_retain(b);
        v->base = b;
    }
    return v;
}

static em_tensor *record_shape(const char *name, em_backward_fn fn, em_tensor *x, em_tensor *r)
{
    if (!r || !em_ag_wants(x))
        return r;
    em_node *n = em_node_new(name, fn, 1, 1, 0, sizeof(shape_ctx));
    if (!n || em_node_set_next(n, 0, x) < 0) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    shape_ctx *c = n->ctx;
    c->ndim = x->ndim;
    memcpy(c->sizes, x->sizes, sizeof c->sizes);
    if (em_set_history(r, n, 0) < 0) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    em_node_release(n);
    return r;
}

static int reshape_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const shape_ctx *c = n->ctx;
    gi[0] = em_ag_reshape(go[0], c->ndim, c->sizes);
    return gi[0] ? 0 : -1;
}

em_tensor *em_ag_view(em_tensor *t, int ndim, const int64_t *sizes)
{
    em_tensor *r = em_ag_mark_view(t, em_view(t, ndim, sizes));
    return record_shape("ViewBackward", reshape_backward, t, r);
}

em_tensor *em_ag_reshape(em_tensor *t, int ndim, const int64_t *sizes)
{
    em_tensor *r = em_ag_mark_view(t, em_reshape(t, ndim, sizes));
    return record_shape(r && r->storage == t->storage ? "ViewBackward" : "ReshapeBackward", reshape_backward, t, r);
}

/* expand's gradient: the engine sums a gradient of the expanded shape down to
 * the input's, so passing it through is the whole formula. */
em_tensor *em_ag_expand(em_tensor *t, int ndim, const int64_t *sizes)
{
    em_tensor *r = em_ag_mark_view(t, em_expand(t, ndim, sizes));
    return record_shape("ExpandBackward", em_ag_identity_backward, t, r);
}
