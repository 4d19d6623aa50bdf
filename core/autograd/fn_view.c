/* Differentiable views. Each records its base (the tensor owning the memory) so
 * an in-place write through the view can rebase the base's history (see
 * fn_copy.c), and a node whose backward maps the view's gradient back to the
 * input's shape. Views that drop elements (slice, select, diagonal, unfold,
 * as_strided) have a gradient that writes the view's gradient into zeros of the
 * input's shape; that "embedding" is itself recorded, with the view as its
 * gradient, so double backward works. */
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "../factory.h"
#include "../index.h"
#include "functions.h"

em_tensor *em_ag_mark_view(em_tensor *t, em_tensor *v)
{
    if (v && v != t && v->storage == t->storage && !v->base) {
        em_tensor *b = t->base ? t->base : t;
        em_tensor_retain(b);
        v->base = b;
    }
    return v;
}


/* ---- views whose gradient is a reshape of the output's ---- */

typedef struct shape_ctx {
    int ndim;
    int64_t sizes[EM_MAX_DIMS]; /* the input's */
} shape_ctx;

static em_tensor *record_shape(const char *name, em_backward_fn fn, em_tensor *x, em_tensor *r)
{
    if (!r || !em_ag_wants(x))
        return r;
    shape_ctx c;
    memset(&c, 0, sizeof c);
    c.ndim = x->ndim;
    memcpy(c.sizes, x->sizes, sizeof c.sizes);
    return em_ag_record1(name, fn, x, r, &c, sizeof c);
}

static int reshape_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const shape_ctx *c = n->ctx;
    gi[0] = em_ag_reshape(go[0], c->ndim, c->sizes);
    return gi[0] ? 0 : -1;
}

/* A reshape-like result is a view when it shares the input's memory. */
static const char *reshape_name(const em_tensor *t, const em_tensor *r)
{
    return r && r->storage == t->storage ? "ViewBackward" : "ReshapeBackward";
}

em_tensor *em_ag_view(em_tensor *t, int ndim, const int64_t *sizes)
{
    em_tensor *r = em_ag_mark_view(t, em_view(t, ndim, sizes));
    return record_shape("ViewBackward", reshape_backward, t, r);
}

em_tensor *em_ag_reshape(em_tensor *t, int ndim, const int64_t *sizes)
{
    em_tensor *r = em_ag_mark_view(t, em_reshape(t, ndim, sizes));
    return record_shape(reshape_name(t, r), reshape_backward, t, r);
}

/* expand's gradient: the engine sums a gradient of the expanded shape down to
 * the input's, so passing it through is the whole formula. */
em_tensor *em_ag_expand(em_tensor *t, int ndim, const int64_t *sizes)
{
    em_tensor *r = em_ag_mark_view(t, em_expand(t, ndim, sizes));
    return record_shape("ExpandBackward", em_ag_identity_backward, t, r);
}

em_tensor *em_ag_squeeze(em_tensor *t, int dim)
{
    em_tensor *r = em_ag_mark_view(t, em_squeeze(t, dim));
    return record_shape("SqueezeBackward", reshape_backward, t, r);
}

em_tensor *em_ag_unsqueeze(em_tensor *t, int dim)
{
    em_tensor *r = em_ag_mark_view(t, em_unsqueeze(t, dim));
    return record_shape("UnsqueezeBackward", reshape_backward, t, r);
}

em_tensor *em_ag_flatten(em_tensor *t, int start, int end)
{
    em_tensor *r = em_ag_mark_view(t, em_flatten(t, start, end));
    return record_shape(reshape_name(t, r), reshape_backward, t, r);
}

em_tensor *em_ag_unflatten(em_tensor *t, int dim, int n, const int64_t *sizes)
{
    em_tensor *r = em_ag_mark_view(t, em_unflatten(t, dim, n, sizes));
    return record_shape("ViewBackward", reshape_backward, t, r);
}

em_tensor *em_ag_alias(em_tensor *t)
{
    em_tensor *r = em_ag_mark_view(t, em_tensor_alias(t));
    return record_shape("AliasBackward", em_ag_identity_backward, t, r);
}

/* ---- permutations: the gradient is permuted back ---- */

typedef struct perm_ctx {
    int ndim;
    int perm[EM_MAX_DIMS];
} perm_ctx;

static int permute_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const perm_ctx *c = n->ctx;
    int inv[EM_MAX_DIMS];
    for (int i = 0; i < c->ndim; i++)
        inv[c->perm[i]] = i;
    gi[0] = em_ag_permute(go[0], inv);
    return gi[0] ? 0 : -1;
}

em_tensor *em_ag_permute(em_tensor *t, const int *perm)
{
    em_tensor *r = em_ag_mark_view(t, em_permute(t, perm));
    if (!r || !em_ag_wants(t))
        return r;
    perm_ctx c;
    memset(&c, 0, sizeof c);
    c.ndim = t->ndim;
    memcpy(c.perm, perm, (size_t)t->ndim * sizeof(int));
    return em_ag_record1("PermuteBackward", permute_backward, t, r, &c, sizeof c);
}

typedef struct transpose_ctx {
    int d0, d1;
} transpose_ctx;

static int transpose_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const transpose_ctx *c = n->ctx;
    gi[0] = em_ag_transpose(go[0], c->d0, c->d1);
    return gi[0] ? 0 : -1;
}

em_tensor *em_ag_transpose(em_tensor *t, int d0, int d1)
{
    em_tensor *r = em_ag_mark_view(t, em_transpose(t, d0, d1));
    transpose_ctx c = { d0, d1 };
    return em_ag_record1("TransposeBackward", transpose_backward, t, r, &c, sizeof c);
}

em_tensor *em_ag_t(em_tensor *t)
{
    if (t->ndim > 2)
        return em_error("t: expects a tensor with at most 2 dimensions, got %d (use transpose or permute)", t->ndim),
               NULL;
    em_tensor *r = em_ag_mark_view(t, t->ndim < 2 ? em_tensor_alias(t) : em_transpose(t, 0, 1));
    transpose_ctx c = { 0, 1 };
    return em_ag_record1("TBackward", t->ndim < 2 ? em_ag_identity_backward : transpose_backward, t, r, &c, sizeof c);
}

/* ---- views that pick some elements: the gradient embeds into zeros ---- */

typedef enum view_kind { VIEW_SLICE, VIEW_SELECT, VIEW_DIAGONAL, VIEW_UNFOLD } view_kind;

static const char *const view_names[][2] = {
    { "SliceBackward", "SliceBackwardBackward" },
    { "SelectBackward", "SelectBackwardBackward" },
    { "DiagonalBackward", "DiagonalBackwardBackward" },
    { "UnfoldBackward", "UnfoldBackwardBackward" },
};

/* The view's arguments and the input's shape: enough to take the same view of
 * any tensor of that shape. */
typedef struct view_ctx {
    view_kind kind;
    int dim, dim2;
    int64_t a, b, c; /* slice: start, end, step; select: index; diagonal: offset; unfold: size, step */
    int ndim;
    int64_t sizes[EM_MAX_DIMS];
} view_ctx;

static em_tensor *view_apply(const view_ctx *c, em_tensor *t, bool ag)
{
    switch (c->kind) {
    case VIEW_SLICE:
        return ag ? em_ag_slice(t, c->dim, c->a, c->b, c->c) : em_slice(t, c->dim, c->a, c->b, c->c);
    case VIEW_SELECT:
        return ag ? em_ag_select(t, c->dim, c->a) : em_select(t, c->dim, c->a);
    case VIEW_DIAGONAL:
        return ag ? em_ag_diagonal(t, c->a, c->dim, c->dim2) : em_diagonal(t, c->a, c->dim, c->dim2);
    case VIEW_UNFOLD:
        return ag ? em_ag_unfold(t, c->dim, c->a, c->b) : em_unfold(t, c->dim, c->a, c->b);
    }
    return em_error("view: unknown view kind"), NULL;
}

/* Overlapping unfold windows (step < size): z's elements get the sum of every
 * window position they appear in. Window element j of all windows is the slice
 * j, j + step, ... of the input, which has no overlap within itself. */
static int unfold_add(const view_ctx *c, em_tensor *z, em_tensor *g)
{
    int64_t size = c->a, step = c->b, nwin = g->sizes[c->dim];
    for (int64_t j = 0; j < size; j++) {
        em_tensor *gj = em_select(g, g->ndim - 1, j);
        em_tensor *zj = gj ? em_slice(z, c->dim, j, j + (nwin - 1) * step + 1, step) : NULL;
        int rc = zj ? em_binary_(EM_BIN_ADD, zj, em_arg_tensor(gj), NULL) : -1;
        em_tensor_release(gj);
        em_tensor_release(zj);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* The embedding's gradient is the view of the incoming gradient. */
static int embed_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    gi[0] = view_apply(n->ctx, go[0], true);
    return gi[0] ? 0 : -1;
}

/* The input's gradient for the view's gradient g (of the view's shape). */
static em_tensor *view_embed(const view_ctx *c, em_tensor *g)
{
    em_tensor *z = em_full(c->ndim, c->sizes, em_scalar_int(0), g->dtype, em_tensor_device(g));
    em_tensor *v = z ? view_apply(c, z, false) : NULL;
    int rc = v ? 0 : -1;
    if (rc == 0) {
        if (c->kind == VIEW_UNFOLD && c->b < c->a && c->ndim > 0)
            rc = unfold_add(c, z, g);
        else
            rc = em_copy_(v, g);
    }
    em_tensor_release(v);
    if (rc < 0) {
        em_tensor_release(z);
        return NULL;
    }
    return em_ag_record1(view_names[c->kind][1], embed_backward, g, z, c, sizeof *c);
}

static int view_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    gi[0] = view_embed(n->ctx, go[0]);
    return gi[0] ? 0 : -1;
}

static em_tensor *record_view(em_tensor *t, em_tensor *r, view_ctx *c)
{
    if (!r || !em_ag_wants(t))
        return r;
    c->ndim = t->ndim;
    memcpy(c->sizes, t->sizes, sizeof c->sizes);
    return em_ag_record1(view_names[c->kind][0], view_backward, t, r, c, sizeof *c);
}

em_tensor *em_ag_slice(em_tensor *t, int dim, int64_t start, int64_t end, int64_t step)
{
    em_tensor *r = em_ag_mark_view(t, em_slice(t, dim, start, end, step));
    view_ctx c = { .kind = VIEW_SLICE, .dim = dim, .a = start, .b = end, .c = step };
    return record_view(t, r, &c);
}

em_tensor *em_ag_narrow(em_tensor *t, int dim, int64_t start, int64_t length)
{
    em_tensor *r = em_ag_mark_view(t, em_narrow(t, dim, start, length));
    view_ctx c = { .kind = VIEW_SLICE, .dim = dim, .a = start, .b = start + length, .c = 1 };
    return record_view(t, r, &c);
}

em_tensor *em_ag_select(em_tensor *t, int dim, int64_t index)
{
    em_tensor *r = em_ag_mark_view(t, em_select(t, dim, index));
    view_ctx c = { .kind = VIEW_SELECT, .dim = dim, .a = index };
    return record_view(t, r, &c);
}

em_tensor *em_ag_diagonal(em_tensor *t, int64_t offset, int d1, int d2)
{
    em_tensor *r = em_ag_mark_view(t, em_diagonal(t, offset, d1, d2));
    view_ctx c = { .kind = VIEW_DIAGONAL, .dim = d1, .dim2 = d2, .a = offset };
    return record_view(t, r, &c);
}

em_tensor *em_ag_unfold(em_tensor *t, int dim, int64_t size, int64_t step)
{
    em_tensor *r = em_ag_mark_view(t, em_unfold(t, dim, size, step));
    view_ctx c = { .kind = VIEW_UNFOLD, .dim = dim, .a = size, .b = step };
    return record_view(t, r, &c);
}

/* ---- as_strided ----
 * Two geometries over one storage: the input's and the view's. The gradient
 * scatter-adds the view's gradient into a zeroed buffer laid out like the
 * storage, then reads the input's elements from it; where the input's own
 * elements overlap, each storage position's sum is shared out among them
 * (PyTorch's rule). The general map "scatter-add through one geometry, gather
 * through another, optionally dividing by either side's overlap counts" is
 * linear, and its adjoint is the same map with the sides swapped, which is how
 * double backward goes. */

typedef struct geom {
    int ndim;
    int64_t offset;
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
} geom;

typedef struct restride_ctx {
    geom from, to;
    bool div_from, div_to; /* divide by the overlap counts of that side */
} restride_ctx;

static void geom_of(geom *g, const em_tensor *t)
{
    memset(g, 0, sizeof *g);
    g->ndim = t->ndim;
    g->offset = t->offset;
    memcpy(g->sizes, t->sizes, sizeof g->sizes);
    memcpy(g->strides, t->strides, sizeof g->strides);
}

static int64_t geom_numel(const geom *g)
{
    int64_t n = 1;
    for (int i = 0; i < g->ndim; i++)
        n *= g->sizes[i];
    return n;
}

/* Lowest and highest storage positions of a non-empty geometry. */
static void geom_span(const geom *g, int64_t *lo, int64_t *hi)
{
    *lo = *hi = g->offset;
    for (int i = 0; i < g->ndim; i++) {
        int64_t d = (g->sizes[i] - 1) * g->strides[i];
        if (d < 0)
            *lo += d;
        else
            *hi += d;
    }
}

/* Whether two elements of the geometry share a storage position. */
static bool geom_overlaps(const geom *g)
{
    int idx[EM_MAX_DIMS], n = 0;
    for (int i = 0; i < g->ndim; i++)
        if (g->sizes[i] > 1)
            idx[n++] = i;
    for (int i = 1; i < n; i++) /* by |stride|, ascending */
        for (int j = i; j > 0; j--) {
            int64_t a = g->strides[idx[j - 1]], b = g->strides[idx[j]];
            if ((a < 0 ? -a : a) <= (b < 0 ? -b : b))
                break;
            int tmp = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = tmp;
        }
    int64_t reach = 0; /* the span of the dims so far */
    for (int i = 0; i < n; i++) {
        int64_t s = g->strides[idx[i]];
        s = s < 0 ? -s : s;
        if (s <= reach)
            return true;
        reach += (g->sizes[idx[i]] - 1) * s;
    }
    return false;
}

/* 1-based storage positions (relative to lo) of g's elements, flattened. */
static em_tensor *geom_positions(const geom *g, em_tensor *ar, int64_t lo)
{
    em_tensor *v = em_tensor_new_view(ar->storage, EM_INT64, ar->offset + g->offset - lo, g->ndim, g->sizes,
                                      g->strides);
    em_tensor *c = v ? em_clone(v) : NULL;
    em_tensor_release(v);
    int64_t n = geom_numel(g);
    em_tensor *f = c ? em_view(c, 1, &n) : NULL;
    em_tensor_release(c);
    return f;
}

/* How many elements share each element's storage position (pos as above). */
static em_tensor *geom_counts(em_tensor *pos, int64_t extent, em_dtype dt)
{
    em_device dev = em_tensor_device(pos);
    int64_t n = pos->sizes[0];
    em_tensor *cnt = em_full(1, &extent, em_scalar_int(0), dt, dev);
    em_tensor *ones = cnt ? em_full(1, &n, em_scalar_int(1), dt, dev) : NULL;
    em_tensor *r = NULL;
    if (ones && em_index_add_(cnt, 0, pos, ones, em_scalar_int(1)) == 0)
        r = em_take(cnt, pos);
    em_tensor_release(cnt);
    em_tensor_release(ones);
    return r;
}

/* t / counts of the geometry at positions pos (t is consumed). */
static em_tensor *divide_counts(em_tensor *t, em_tensor *pos, int64_t extent)
{
    em_tensor *cnt = t ? geom_counts(pos, extent, t->dtype) : NULL;
    em_tensor *r = cnt ? em_binary(EM_BIN_DIV, em_arg_tensor(t), em_arg_tensor(cnt), NULL, NULL) : NULL;
    em_tensor_release(cnt);
    em_tensor_release(t);
    return r;
}

static em_tensor *restride_plain(em_tensor *src, const restride_ctx *c)
{
    em_dtype dt = src->dtype;
    em_device dev = em_tensor_device(src);
    int64_t nfrom = geom_numel(&c->from), nto = geom_numel(&c->to);
    if (nfrom == 0 || nto == 0)
        return em_full(c->to.ndim, c->to.sizes, em_scalar_int(0), dt, dev);
    int64_t lo1, hi1, lo2, hi2;
    geom_span(&c->from, &lo1, &hi1);
    geom_span(&c->to, &lo2, &hi2);
    int64_t lo = lo1 < lo2 ? lo1 : lo2, hi = hi1 > hi2 ? hi1 : hi2, extent = hi - lo + 1;
    em_tensor *ar = em_arange(em_scalar_int(1), em_scalar_int(extent + 1), em_scalar_int(1), EM_INT64, dev);
    em_tensor *pf = ar ? geom_positions(&c->from, ar, lo) : NULL;
    em_tensor *pt = pf ? geom_positions(&c->to, ar, lo) : NULL;
    em_tensor *flat = pt ? em_reshape(src, 1, &nfrom) : NULL;
    em_tensor *store = NULL, *out = NULL, *r = NULL;
    if (flat && c->div_from && geom_overlaps(&c->from))
        flat = divide_counts(flat, pf, extent);
    if (flat)
        store = em_full(1, &extent, em_scalar_int(0), dt, dev);
    if (store && em_index_add_(store, 0, pf, flat, em_scalar_int(1)) == 0)
        out = em_take(store, pt);
    if (out && c->div_to && geom_overlaps(&c->to))
        out = divide_counts(out, pt, extent);
    if (out)
        r = em_view(out, c->to.ndim, c->to.sizes);
    em_tensor_release(ar);
    em_tensor_release(pf);
    em_tensor_release(pt);
    em_tensor_release(flat);
    em_tensor_release(store);
    em_tensor_release(out);
    return r;
}

static em_tensor *restride(em_tensor *src, const restride_ctx *c);

static int restride_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    gi[0] = restride(go[0], n->ctx);
    return gi[0] ? 0 : -1;
}

static em_tensor *restride(em_tensor *src, const restride_ctx *c)
{
    em_tensor *r = restride_plain(src, c);
    if (!r || !em_ag_wants(src))
        return r;
    restride_ctx adj = { .from = c->to, .to = c->from, .div_from = c->div_to, .div_to = c->div_from };
    return em_ag_record1("AsStridedBackwardBackward", restride_backward, src, r, &adj, sizeof adj);
}

em_tensor *em_ag_as_strided(em_tensor *t, int ndim, const int64_t *sizes, const int64_t *strides, int64_t offset)
{
    em_tensor *r = em_ag_mark_view(t, em_as_strided(t, ndim, sizes, strides, offset));
    if (!r || !em_ag_wants(t))
        return r;
    restride_ctx c;
    memset(&c, 0, sizeof c);
    geom_of(&c.from, r);
    geom_of(&c.to, t);
    c.div_to = true;
    return em_ag_record1("AsStridedBackward", restride_backward, t, r, &c, sizeof c);
}

int em_ag_set_(em_tensor *t, const em_tensor *src, int64_t offset, int ndim, const int64_t *sizes,
               const int64_t *strides)
{
    if (!em_is_leaf(t))
        return em_error("set_: cannot change the storage of a tensor that has autograd history (not a leaf)");
    if (t->requires_grad && em_grad_enabled())
        return em_error("set_: a leaf tensor that requires grad cannot be set_ while grad mode is on "
                        "(wrap the call in torch.no_grad)");
    if (em_tensor_set_(t, src, offset, ndim, sizes, strides) < 0)
        return -1;
    em_node *acc = t->autograd ? t->autograd->accumulator : NULL;
    if (acc) {
        acc->out_meta[0].ndim = t->ndim;
        memcpy(acc->out_meta[0].sizes, t->sizes, sizeof(int64_t) * (size_t)t->ndim);
    }
    return 0;
}
