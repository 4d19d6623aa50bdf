/* Differentiable copies and the in-place machinery.
 *
 * Every in-place op under autograd is run as "compute the result out of place
 * (with history), then write it into self": em_ag_commit_inplace. Writing into a
 * whole tensor gives it the result's history. Writing into a view rebases the
 * view's base: the base's new history is a CopySlices node whose gradient goes
 * to the old base outside the view's elements and to the written value inside
 * them, and the view becomes an as_strided view of the new base. So in-place
 * ops on non-leaves (and on views of them) record correctly, and a node that
 * saved the overwritten tensor raises at backward through the version counter. */
#include <stdlib.h>
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "../view.h"
#include "autograd.h"
#include "functions.h"

em_tensor *em_ag_finish(em_node *n, em_tensor *out)
{
    if (!n || !out || em_set_history(out, n, 0) < 0) {
        em_node_release(n);
        em_tensor_release(out);
        return NULL;
    }
    em_node_release(n);
    return out;
}

em_tensor *em_ag_record1(const char *name, em_backward_fn fn, em_tensor *x, em_tensor *r, const void *ctx,
                         size_t size)
{
    if (!r || !em_ag_wants(x) || !em_dtype_is_float(r->dtype))
        return r;
    em_node *n = em_node_new(name, fn, 1, 1, 0, size);
    if (n && em_node_set_next(n, 0, x) < 0) {
        em_node_release(n);
        n = NULL;
    }
    if (n && size)
        memcpy(n->ctx, ctx, size);
    return em_ag_finish(n, r);
}

int em_ag_refuse_out(const char *op)
{
    return em_error("%s: out= cannot be used when an input requires grad", op);
}

int em_ag_identity_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    (void)n;
    em_tensor_retain(go[0]);
    gi[0] = go[0];
    return 0;
}

em_tensor *em_ag_clone(em_tensor *t)
{
    em_tensor *r = em_clone(t);
    if (!em_ag_wants(t))
        return r;
    return em_ag_record1("CloneBackward", em_ag_identity_backward, t, r, NULL, 0);
}

em_tensor *em_ag_contiguous(em_tensor *t)
{
    if (em_tensor_is_contiguous(t)) {
        em_tensor_retain(t);
        return t;
    }
    return em_ag_clone(t);
}

em_tensor *em_ag_to_dtype(em_tensor *t, em_dtype dt, bool copy)
{
    em_tensor *r = em_to_dtype(t, dt, copy);
    if (!r || r == t || !em_ag_wants(t) || !em_dtype_is_float(dt))
        return r;
    /* the engine casts the gradient back to t's dtype */
    return em_ag_record1("ToCopyBackward", em_ag_identity_backward, t, r, NULL, 0);
}

/* ---- in-place ---- */

int em_ag_check_inplace(em_tensor *self, const char *op)
{
    if (!em_grad_enabled())
        return 0;
    /* A view made a leaf by requires_grad_ counts as a leaf, whatever its base. */
    if (self->requires_grad && em_is_leaf(self))
        return em_error("%s: a leaf tensor that requires grad cannot be modified in place; "
                        "do it under torch.no_grad (e.g. for a parameter update), or clone it first", op);
    em_tensor *b = self->base;
    if (b && b->requires_grad && em_is_leaf(b))
        return em_error("%s: a view of a leaf tensor that requires grad cannot be modified in place; "
                        "do it under torch.no_grad, or clone the leaf first", op);
    return 0;
}

bool em_ag_inplace_records(em_tensor *self, int n, em_tensor *const *inputs)
{
    if (!em_grad_enabled() || !em_dtype_is_float(self->dtype))
        return false;
    if (self->requires_grad || (self->base && self->base->requires_grad))
        return true;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad)
            return true;
    return false;
}

/* Geometry of a view and of its base, both over the same storage. */
typedef struct slices_ctx {
    int view_ndim, base_ndim;
    int64_t view_offset, base_offset;
    int64_t view_sizes[EM_MAX_DIMS], view_strides[EM_MAX_DIMS];
    int64_t base_sizes[EM_MAX_DIMS], base_strides[EM_MAX_DIMS];
} slices_ctx;

static void slices_set(slices_ctx *c, const em_tensor *view, const em_tensor *base)
{
    c->view_ndim = view->ndim;
    c->base_ndim = base->ndim;
    c->view_offset = view->offset;
    c->base_offset = base->offset;
    memcpy(c->view_sizes, view->sizes, sizeof c->view_sizes);
    memcpy(c->view_strides, view->strides, sizeof c->view_strides);
    memcpy(c->base_sizes, base->sizes, sizeof c->base_sizes);
    memcpy(c->base_strides, base->strides, sizeof c->base_strides);
}

/* A zeroed buffer laid out like the base's storage, and views of it with the
 * base's and the view's geometry. */
static int slices_buffers(const slices_ctx *c, em_dtype dt, em_device dev, em_tensor **as_base, em_tensor **as_view)
{
    int64_t extent = c->base_offset + 1;
    for (int i = 0; i < c->base_ndim; i++)
        if (c->base_sizes[i] == 0)
            extent = 0;
    if (extent > 0)
        for (int i = 0; i < c->base_ndim; i++)
            extent += (c->base_sizes[i] - 1) * c->base_strides[i];
    int64_t vext = c->view_offset + 1;
    for (int i = 0; i < c->view_ndim; i++)
        vext += (c->view_sizes[i] > 0 ? c->view_sizes[i] - 1 : 0) * c->view_strides[i];
    if (vext > extent)
        extent = vext;
    em_tensor *buf = em_full(1, &extent, em_scalar_int(0), dt, dev);
    if (!buf)
        return -1;
    *as_base = em_tensor_new_view(buf->storage, dt, c->base_offset, c->base_ndim, c->base_sizes, c->base_strides);
    *as_view = em_tensor_new_view(buf->storage, dt, c->view_offset, c->view_ndim, c->view_sizes, c->view_strides);
    em_tensor_release(buf);
    if (!*as_base || !*as_view) {
        em_tensor_release(*as_base);
        em_tensor_release(*as_view);
        return -1;
    }
    return 0;
}

static int no_double_backward(const char *name)
{
    return em_error("backward: create_graph through %s (an in-place write into a view) is not supported; "
                    "write the view out of place (e.g. with torch.cat or index_put) for higher-order gradients",
                    name);
}

/* CopySlices: edge 0 the base's old history, edge 1 the value written. */
static int copy_slices_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    if (em_grad_enabled())
        return no_double_backward(n->name);
    const slices_ctx *c = n->ctx;
    em_tensor *g = go[0];
    em_tensor *b = NULL, *v = NULL;
    if (slices_buffers(c, g->dtype, em_tensor_device(g), &b, &v) < 0)
        return -1;
    int rc = em_copy_(b, g);
    if (rc == 0 && em_node_needs(n, 1))
        gi[1] = em_clone(v);
    if (rc == 0 && em_node_needs(n, 0))
        rc = em_zero_(v);
    if (rc == 0 && em_node_needs(n, 0)) {
        gi[0] = b;
        b = NULL;
    }
    if (rc == 0 && em_node_needs(n, 1) && !gi[1])
        rc = -1;
    em_tensor_release(b);
    em_tensor_release(v);
    return rc;
}

/* The view after its base was rebased: scatter the gradient into the base. */
static int view_of_base_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    if (em_grad_enabled())
        return no_double_backward(n->name);
    const slices_ctx *c = n->ctx;
    em_tensor *b = NULL, *v = NULL;
    if (slices_buffers(c, go[0]->dtype, em_tensor_device(go[0]), &b, &v) < 0)
        return -1;
    int rc = em_copy_(v, go[0]);
    em_tensor_release(v);
    if (rc < 0) {
        em_tensor_release(b);
        return -1;
    }
    gi[0] = b;
    return 0;
}

/* self (a view of base) now holds src's values: rebase the base's history. */
static int rebase_view(em_tensor *self, em_tensor *src)
{
    em_tensor *base = self->base;
    if (!base->requires_grad && !(src && src->requires_grad))
        return 0;
    if (!em_dtype_is_float(base->dtype))
        return 0;
    em_node *n = em_node_new("CopySlices", copy_slices_backward, 2, 1, 0, sizeof(slices_ctx));
    if (!n)
        return -1;
    slices_set(n->ctx, self, base);
    if (em_node_set_next(n, 0, base) < 0 || em_node_set_next(n, 1, src) < 0 || em_set_history(base, n, 0) < 0) {
        em_node_release(n);
        return -1;
    }
    em_node_release(n);
    em_node *v = em_node_new("AsStridedBackward", view_of_base_backward, 1, 1, 0, sizeof(slices_ctx));
    if (!v)
        return -1;
    slices_set(v->ctx, self, base);
    int rc = em_node_set_next(v, 0, base);
    if (rc == 0)
        rc = em_set_history(self, v, 0);
    em_node_release(v);
    return rc;
}

static int copy_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    if (em_node_needs(n, 0)) {
        em_tensor_retain(go[0]);
        gi[0] = go[0];
    }
    return 0;
}

/* self was just overwritten with src's values (src may be NULL: a constant). */
static int rebase(em_tensor *self, em_tensor *src)
{
    if (self->base)
        return rebase_view(self, src);
    em_node *n = em_node_new(src ? "CopyBackwards" : "FillBackward", copy_backward, 1, 1, 0, 0);
    if (!n)
        return -1;
    int rc = em_node_set_next(n, 0, src);
    if (rc == 0)
        rc = em_set_history(self, n, 0);
    em_node_release(n);
    return rc;
}

int em_ag_commit_inplace(em_tensor *self, em_tensor *result)
{
    if (!result)
        return -1;
    int rc = em_copy_(self, result);
    if (rc == 0) {
        bool adopt = !self->base && result->requires_grad && !em_is_leaf(result) && em_same_shape(self, result) &&
                     result->dtype == self->dtype;
        if (adopt) {
            /* the fresh result's own node (MulBackward for mul_) becomes self's */
            em_autograd_meta *rm = result->autograd;
            rc = em_set_history(self, rm->grad_fn, rm->output_nr);
        } else {
            rc = rebase(self, result);
        }
    }
    em_tensor_release(result);
    return rc;
}

int em_ag_overwritten(em_tensor *self)
{
    return rebase(self, NULL);
}

int em_ag_copy_(em_tensor *dst, em_tensor *src)
{
    em_tensor *in[1] = { src };
    if (!em_ag_inplace_records(dst, 1, in))
        return em_copy_(dst, src);
    if (em_ag_check_inplace(dst, "copy_") < 0 || em_copy_(dst, src) < 0)
        return -1;
    return rebase(dst, src);
}

int em_ag_fill_(em_tensor *dst, em_scalar v)
{
    if (!em_ag_inplace_records(dst, 0, NULL))
        return em_fill_(dst, v);
    if (em_ag_check_inplace(dst, "fill_") < 0 || em_fill_(dst, v) < 0)
        return -1;
    return rebase(dst, NULL);
}

int em_ag_zero_(em_tensor *dst)
{
    return em_ag_fill_(dst, em_scalar_int(0));
}
