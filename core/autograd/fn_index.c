/* Differentiable indexing ops with PyTorch's formulas. A reading op sends its
 * gradient back with the matching writing op into zeros (index_select ->
 * index_add, gather -> scatter_add, take -> index_add on the flat tensor,
 * masked_select -> masked_scatter), and a writing op reads its gradient with
 * the matching reading op, so the family is closed under differentiation and
 * double backward works. Writing ops are computed out of place (clone + the
 * plain in-place op + a node); their in-place forms follow fn_copy.h's pattern.
 * Also here: the select/slice views behind the Lua binding's x[i] and x[{...}]. */
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "../factory.h"
#include "../iter.h"
#include "../view.h"
#include "functions.h"

typedef enum ix_kind {
    IX_INDEX_SELECT,
    IX_GATHER,
    IX_TAKE,
    IX_MASKED_SELECT,
    IX_INDEX_ADD,
    IX_INDEX_COPY,
    IX_INDEX_FILL,
    IX_SCATTER,
    IX_MASKED_FILL,
    IX_MASKED_SCATTER,
} ix_kind;

/* The arguments of a writing op. */
typedef struct ix_args {
    int dim;
    const em_tensor *index; /* the index, or the mask */
    em_tensor *src;         /* the source, or the fill-value tensor of the fill ops, or NULL */
    em_scalar v, alpha;
    em_scatter_reduce reduce;
} ix_args;

/* Edge 0 is self (the indexed tensor), edge 1 the source or value; saved slot 0
 * the index or mask, when a formula reads it. */
typedef struct ix_ctx {
    ix_kind kind;
    int dim;
    em_scalar v, alpha;
    em_scatter_reduce reduce;
    bool has_src;
    int ndim; /* self's shape; masked_select: the broadcast shape of self and mask */
    int64_t sizes[EM_MAX_DIMS];
    int src_ndim;
    int64_t src_sizes[EM_MAX_DIMS];
} ix_ctx;

static const char *ix_name(ix_kind k, bool has_src, em_scatter_reduce reduce)
{
    switch (k) {
    case IX_INDEX_SELECT: return "IndexSelectBackward";
    case IX_GATHER: return "GatherBackward";
    case IX_TAKE: return "TakeBackward";
    case IX_MASKED_SELECT: return "MaskedSelectBackward";
    case IX_INDEX_ADD: return "IndexAddBackward";
    case IX_INDEX_COPY: return "IndexCopyBackward";
    case IX_INDEX_FILL: return "IndexFillBackward";
    case IX_SCATTER: return has_src && reduce == EM_SCATTER_ADD ? "ScatterAddBackward" : "ScatterBackward";
    case IX_MASKED_FILL: return "MaskedFillBackward";
    case IX_MASKED_SCATTER: return "MaskedScatterBackward";
    }
    return "IndexBackward";
}

static em_tensor *zeros(int ndim, const int64_t *sizes, const em_tensor *like)
{
    return em_full(ndim, sizes, em_scalar_int(0), like->dtype, em_tensor_device(like));
}

/* Releases a and returns r (for chains). */
static em_tensor *drop(em_tensor *a, em_tensor *r)
{
    em_tensor_release(a);
    return r;
}

static em_tensor *fail(em_node *n, em_tensor *r)
{
    em_node_release(n);
    em_tensor_release(r);
    return NULL;
}

/* Records r as the output of a node for `kind` with edges to a and b; saves
 * `saved` (index or mask) when non-NULL. shape gives ctx's sizes. */
static em_tensor *ix_record(ix_kind kind, em_backward_fn fn, em_tensor *r, em_tensor *a, em_tensor *b,
                            const em_tensor *saved, const ix_args *args, int ndim, const int64_t *sizes)
{
    bool has_src = args && args->src;
    em_scatter_reduce reduce = args ? args->reduce : EM_SCATTER_ASSIGN;
    em_node *n = em_node_new(ix_name(kind, has_src, reduce), fn, 2, 1, 1, sizeof(ix_ctx));
    if (!n)
        return fail(n, r);
    ix_ctx *c = n->ctx;
    c->kind = kind;
    c->ndim = ndim;
    memcpy(c->sizes, sizes, (size_t)ndim * sizeof(int64_t));
    if (args) {
        c->dim = args->dim;
        c->v = args->v;
        c->alpha = args->alpha;
        c->reduce = args->reduce;
        c->has_src = has_src;
        if (b) {
            c->src_ndim = b->ndim;
            memcpy(c->src_sizes, b->sizes, (size_t)b->ndim * sizeof(int64_t));
        }
    }
    if (em_node_set_next(n, 0, a) < 0 || em_node_set_next(n, 1, b) < 0 ||
        (saved && em_node_save(n, 0, (em_tensor *)saved) < 0) || em_set_history(r, n, 0) < 0)
        return fail(n, r);
    em_node_release(n);
    return r;
}

/* ---- formula helpers (all differentiable, for create_graph) ---- */

/* x placed at the start of every dim of a zero tensor of the given shape (x is
 * no larger in any dim and has as many dims): a scatter along dim 0 with the
 * row numbers as index, so it is differentiable too. */
static em_tensor *embed(em_tensor *x, int ndim, const int64_t *sizes)
{
    if (x->ndim == ndim && memcmp(x->sizes, sizes, (size_t)ndim * sizeof(int64_t)) == 0) {
        em_tensor_retain(x);
        return x;
    }
    em_tensor *rows = em_arange(em_scalar_int(1), em_scalar_int(x->sizes[0] + 1), em_scalar_int(1), EM_INT64,
                                em_tensor_device(x));
    if (!rows)
        return NULL;
    int64_t strides[EM_MAX_DIMS] = { 1 }; /* row numbers along dim 0, repeated over the others */
    em_tensor *idx = em_tensor_new_view(rows->storage, EM_INT64, rows->offset, x->ndim, x->sizes, strides);
    em_tensor_release(rows);
    em_tensor *z = idx ? zeros(ndim, sizes, x) : NULL;
    em_tensor *r = z ? em_ag_scatter(z, 0, idx, x, em_scalar_int(0), EM_SCATTER_ASSIGN) : NULL;
    em_tensor_release(z);
    em_tensor_release(idx);
    return r;
}

static em_tensor *scale(em_tensor *g, em_scalar alpha)
{
    if (alpha.is_int ? alpha.i == 1 : alpha.d == 1.0) {
        em_tensor_retain(g);
        return g;
    }
    return em_ag_binary(EM_BIN_MUL, em_arg_tensor(g), em_arg_scalar(alpha), NULL, NULL);
}

/* sum(g - masked_g): the gradient of a fill value, from g with the filled
 * positions zeroed (repeated indices count once, as they should). */
static em_tensor *filled_sum(em_tensor *g, em_tensor *masked_g)
{
    em_tensor *d = em_ag_binary(EM_BIN_SUB, em_arg_tensor(g), em_arg_tensor(masked_g), NULL, NULL);
    return d ? drop(d, em_ag_sum(d, NULL, false, -1, NULL)) : NULL;
}

static em_tensor *zero_at(ix_kind k, em_tensor *g, int dim, const em_tensor *idx)
{
    if (k == IX_MASKED_FILL)
        return em_ag_masked_fill(g, idx, em_scalar_int(0), NULL);
    if (k == IX_SCATTER)
        return em_ag_scatter(g, dim, idx, NULL, em_scalar_int(0), EM_SCATTER_ASSIGN);
    return em_ag_index_fill(g, dim, idx, em_scalar_int(0), NULL);
}

/* ---- backward ---- */

static int ix_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const ix_ctx *c = n->ctx;
    em_tensor *g = go[0], *idx = NULL;
    if ((n->saved[0].t || n->released) && !(idx = em_node_saved(n, 0)))
        return -1;
    bool n0 = em_node_needs(n, 0), n1 = em_node_needs(n, 1);
    em_tensor *z = NULL, *t = NULL;
    switch (c->kind) {
    case IX_INDEX_SELECT:
        z = zeros(c->ndim, c->sizes, g);
        gi[0] = z ? em_ag_index_add(z, c->dim, idx, g, em_scalar_int(1)) : NULL;
        break;
    case IX_GATHER:
        z = zeros(c->ndim, c->sizes, g);
        gi[0] = z ? em_ag_scatter(z, c->dim, idx, g, em_scalar_int(0), EM_SCATTER_ADD) : NULL;
        break;
    case IX_TAKE: {
        /* put_ with accumulation, on the flat tensor */
        int64_t numel = 1, flat = -1;
        for (int d = 0; d < c->ndim; d++)
            numel *= c->sizes[d];
        em_tensor *fi = em_reshape(idx, 1, &flat);
        em_tensor *fg = fi ? em_ag_reshape(g, 1, &flat) : NULL;
        z = fg ? zeros(1, &numel, g) : NULL;
        t = z ? em_ag_index_add(z, 0, fi, fg, em_scalar_int(1)) : NULL;
        gi[0] = t ? em_ag_reshape(t, c->ndim, c->sizes) : NULL;
        em_tensor_release(fi);
        em_tensor_release(fg);
        break;
    }
    case IX_MASKED_SELECT:
        /* in the broadcast shape; the engine sums it down to self's */
        z = zeros(c->ndim, c->sizes, g);
        gi[0] = z ? em_ag_masked_scatter(z, idx, g) : NULL;
        break;
    case IX_INDEX_ADD:
        if (n0) {
            em_tensor_retain(g);
            gi[0] = g;
        }
        if (n1) {
            t = em_ag_index_select(g, c->dim, idx);
            gi[1] = t ? scale(t, c->alpha) : NULL;
        }
        break;
    case IX_INDEX_COPY:
        if (n0)
            gi[0] = zero_at(c->kind, g, c->dim, idx);
        if (n1)
            gi[1] = em_ag_index_select(g, c->dim, idx);
        break;
    case IX_INDEX_FILL:
    case IX_MASKED_FILL:
        t = zero_at(c->kind, g, c->dim, idx);
        if (t && n0) {
            em_tensor_retain(t);
            gi[0] = t;
        }
        if (t && n1)
            gi[1] = filled_sum(g, t);
        break;
    case IX_SCATTER:
        if (n0 && c->reduce == EM_SCATTER_ADD) {
            em_tensor_retain(g);
            gi[0] = g;
        } else if (n0 && c->reduce == EM_SCATTER_MUL) {
            /* self * v^(times hit): the factor is a constant */
            z = em_full(c->ndim, c->sizes, em_scalar_int(1), g->dtype, em_tensor_device(g));
            if (z && em_scatter_(z, c->dim, idx, NULL, c->v, EM_SCATTER_MUL) == 0)
                gi[0] = em_ag_binary(EM_BIN_MUL, em_arg_tensor(g), em_arg_tensor(z), NULL, NULL);
        } else if (n0) {
            gi[0] = zero_at(c->kind, g, c->dim, idx);
        }
        if (n1) {
            /* the part of src the index covers gets the gradient, the rest zero */
            t = em_ag_gather(g, c->dim, idx);
            if (t && c->src_ndim > 0) {
                gi[1] = embed(t, c->src_ndim, c->src_sizes);
            } else {
                gi[1] = t; /* a 0-d source: the engine sums the one-element gradient */
                t = NULL;
            }
        }
        break;
    case IX_MASKED_SCATTER:
        if (n0)
            gi[0] = zero_at(IX_MASKED_FILL, g, 0, idx);
        if (n1) {
            /* the first count(mask) elements of src were used, in order */
            int64_t numel = 1;
            for (int d = 0; d < c->src_ndim; d++)
                numel *= c->src_sizes[d];
            t = em_ag_masked_select(g, idx);
            z = t ? embed(t, 1, &numel) : NULL;
            gi[1] = z ? em_ag_reshape(z, c->src_ndim, c->src_sizes) : NULL;
        }
        break;
    }
    em_tensor_release(z);
    em_tensor_release(t);
    em_tensor_release(idx);
    return ((n0 && !gi[0]) || (n1 && !gi[1])) ? -1 : 0;
}

/* ---- reading ops ---- */

em_tensor *em_ag_index_select(em_tensor *src, int dim, const em_tensor *index)
{
    em_tensor *r = em_index_select(src, dim, index);
    if (!r || !em_ag_wants(src) || !em_dtype_is_float(r->dtype))
        return r;
    ix_args a = { .dim = dim };
    return ix_record(IX_INDEX_SELECT, ix_backward, r, src, NULL, index, &a, src->ndim, src->sizes);
}

em_tensor *em_ag_gather(em_tensor *src, int dim, const em_tensor *index)
{
    em_tensor *r = em_gather(src, dim, index);
    if (!r || !em_ag_wants(src) || !em_dtype_is_float(r->dtype))
        return r;
    ix_args a = { .dim = dim };
    return ix_record(IX_GATHER, ix_backward, r, src, NULL, index, &a, src->ndim, src->sizes);
}

em_tensor *em_ag_take(em_tensor *src, const em_tensor *index)
{
    em_tensor *r = em_take(src, index);
    if (!r || !em_ag_wants(src) || !em_dtype_is_float(r->dtype))
        return r;
    return ix_record(IX_TAKE, ix_backward, r, src, NULL, index, NULL, src->ndim, src->sizes);
}

em_tensor *em_ag_masked_select(em_tensor *src, const em_tensor *mask)
{
    em_tensor *r = em_masked_select(src, mask);
    if (!r || !em_ag_wants(src) || !em_dtype_is_float(r->dtype))
        return r;
    int nd;
    int64_t shape[EM_MAX_DIMS];
    if (em_broadcast_shape("masked_select", src->ndim, src->sizes, mask->ndim, mask->sizes, &nd, shape) < 0)
        return fail(NULL, r);
    return ix_record(IX_MASKED_SELECT, ix_backward, r, src, NULL, mask, NULL, nd, shape);
}

/* ---- writing ops ---- */

static const char *ix_op(ix_kind k, const ix_args *a)
{
    switch (k) {
    case IX_INDEX_ADD: return "index_add_";
    case IX_INDEX_COPY: return "index_copy_";
    case IX_INDEX_FILL: return "index_fill_";
    case IX_SCATTER: return a->src && a->reduce == EM_SCATTER_ADD ? "scatter_add_" : "scatter_";
    case IX_MASKED_FILL: return "masked_fill_";
    default: return "masked_scatter_";
    }
}

/* The fill ops take their value from a 0-d tensor when one is given. */
static int ix_resolve_value(ix_kind k, ix_args *a)
{
    if ((k != IX_INDEX_FILL && k != IX_MASKED_FILL) || !a->src)
        return 0;
    if (a->src->ndim != 0)
        return em_error("%s: the value must be a number or a 0-d tensor, got a %d-d tensor", ix_op(k, a),
                        a->src->ndim);
    return em_item(a->src, &a->v);
}

/* The plain in-place op. */
static int ix_plain(ix_kind k, em_tensor *self, const ix_args *a)
{
    switch (k) {
    case IX_INDEX_ADD: return em_index_add_(self, a->dim, a->index, a->src, a->alpha);
    case IX_INDEX_COPY: return em_index_copy_(self, a->dim, a->index, a->src);
    case IX_INDEX_FILL: return em_index_fill_(self, a->dim, a->index, a->v);
    case IX_SCATTER: return em_scatter_(self, a->dim, a->index, a->src, a->v, a->reduce);
    case IX_MASKED_FILL: return em_masked_fill_(self, a->index, a->v);
    case IX_MASKED_SCATTER: return em_masked_scatter_(self, a->index, a->src);
    default: return em_error("index: internal error (not a writing op)");
    }
}

/* Whether the gradient of self reads the index (add-like ops pass it through). */
static bool ix_self_reads_index(ix_kind k, const ix_args *a)
{
    return k != IX_INDEX_ADD && !(k == IX_SCATTER && a->reduce == EM_SCATTER_ADD);
}

/* The writing op out of place: clone + plain op + node. */
static em_tensor *ix_write(ix_kind k, em_tensor *self, const ix_args *args)
{
    ix_args a = *args;
    if (ix_resolve_value(k, &a) < 0)
        return NULL;
    bool ws = em_ag_wants(self), wsrc = em_ag_wants(a.src);
    bool records = (ws || wsrc) && em_dtype_is_float(self->dtype);
    if (records && k == IX_SCATTER && a.src && a.reduce == EM_SCATTER_MUL)
        return em_error("scatter_: reduce='multiply' with a source tensor is not differentiable; "
                        "run it under torch.no_grad or on tensors that do not require grad"),
               NULL;
    em_tensor *r = em_clone(self);
    if (!r || ix_plain(k, r, &a) < 0)
        return fail(NULL, r);
    if (!records)
        return r;
    const em_tensor *saved = (wsrc || (ws && ix_self_reads_index(k, &a))) ? a.index : NULL;
    return ix_record(k, ix_backward, r, self, a.src, saved, &a, self->ndim, self->sizes);
}

/* In place (fn_copy.h's pattern): plain when nothing records, else computed out
 * of place from a recorded clone of self and committed. */
static int ix_write_(ix_kind k, em_tensor *self, const ix_args *args)
{
    em_tensor *in[1] = { args->src };
    if (!em_ag_inplace_records(self, 1, in)) {
        ix_args a = *args;
        return ix_resolve_value(k, &a) < 0 ? -1 : ix_plain(k, self, &a);
    }
    if (em_ag_check_inplace(self, ix_op(k, args)) < 0)
        return -1;
    em_tensor *xc = em_ag_clone(self);
    if (!xc)
        return -1;
    em_tensor *r = ix_write(k, xc, args);
    em_tensor_release(xc);
    return em_ag_commit_inplace(self, r);
}

static ix_args args_of(int dim, const em_tensor *index, em_tensor *src, em_scalar v, em_scalar alpha,
                       em_scatter_reduce reduce)
{
    ix_args a = { dim, index, src, v, alpha, reduce };
    return a;
}

#define ONE em_scalar_int(1)
#define ZERO em_scalar_int(0)

em_tensor *em_ag_index_add(em_tensor *self, int dim, const em_tensor *index, em_tensor *src, em_scalar alpha)
{
    ix_args a = args_of(dim, index, src, ZERO, alpha, EM_SCATTER_ADD);
    return ix_write(IX_INDEX_ADD, self, &a);
}

int em_ag_index_add_(em_tensor *self, int dim, const em_tensor *index, em_tensor *src, em_scalar alpha)
{
    ix_args a = args_of(dim, index, src, ZERO, alpha, EM_SCATTER_ADD);
    return ix_write_(IX_INDEX_ADD, self, &a);
}

em_tensor *em_ag_index_copy(em_tensor *self, int dim, const em_tensor *index, em_tensor *src)
{
    ix_args a = args_of(dim, index, src, ZERO, ONE, EM_SCATTER_ASSIGN);
    return ix_write(IX_INDEX_COPY, self, &a);
}

int em_ag_index_copy_(em_tensor *self, int dim, const em_tensor *index, em_tensor *src)
{
    ix_args a = args_of(dim, index, src, ZERO, ONE, EM_SCATTER_ASSIGN);
    return ix_write_(IX_INDEX_COPY, self, &a);
}

em_tensor *em_ag_index_fill(em_tensor *self, int dim, const em_tensor *index, em_scalar v, em_tensor *value)
{
    ix_args a = args_of(dim, index, value, v, ONE, EM_SCATTER_ASSIGN);
    return ix_write(IX_INDEX_FILL, self, &a);
}

int em_ag_index_fill_(em_tensor *self, int dim, const em_tensor *index, em_scalar v, em_tensor *value)
{
    ix_args a = args_of(dim, index, value, v, ONE, EM_SCATTER_ASSIGN);
    return ix_write_(IX_INDEX_FILL, self, &a);
}

em_tensor *em_ag_scatter(em_tensor *self, int dim, const em_tensor *index, em_tensor *src, em_scalar v,
                         em_scatter_reduce reduce)
{
    ix_args a = args_of(dim, index, src, v, ONE, reduce);
    return ix_write(IX_SCATTER, self, &a);
}

int em_ag_scatter_(em_tensor *self, int dim, const em_tensor *index, em_tensor *src, em_scalar v,
                   em_scatter_reduce reduce)
{
    ix_args a = args_of(dim, index, src, v, ONE, reduce);
    return ix_write_(IX_SCATTER, self, &a);
}

em_tensor *em_ag_masked_fill(em_tensor *self, const em_tensor *mask, em_scalar v, em_tensor *value)
{
    ix_args a = args_of(0, mask, value, v, ONE, EM_SCATTER_ASSIGN);
    return ix_write(IX_MASKED_FILL, self, &a);
}

int em_ag_masked_fill_(em_tensor *self, const em_tensor *mask, em_scalar v, em_tensor *value)
{
    ix_args a = args_of(0, mask, value, v, ONE, EM_SCATTER_ASSIGN);
    return ix_write_(IX_MASKED_FILL, self, &a);
}

em_tensor *em_ag_masked_scatter(em_tensor *self, const em_tensor *mask, em_tensor *src)
{
    ix_args a = args_of(0, mask, src, ZERO, ONE, EM_SCATTER_ASSIGN);
    return ix_write(IX_MASKED_SCATTER, self, &a);
}

int em_ag_masked_scatter_(em_tensor *self, const em_tensor *mask, em_tensor *src)
{
    ix_args a = args_of(0, mask, src, ZERO, ONE, EM_SCATTER_ASSIGN);
    return ix_write_(IX_MASKED_SCATTER, self, &a);
}
