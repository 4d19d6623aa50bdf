/* Differentiable shape ops. Each gradient is the inverse rearrangement of the
 * output's gradient, written with em_ag_ ops so it is differentiable again:
 * cat narrows it, stack selects, flip flips, roll rolls back, tril/triu mask it
 * the same way, and repeat sums the repeated blocks. one_hot has no gradient
 * (its result is int64). */
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "functions.h"

static bool any_wants(int n, em_tensor *const *ts)
{
    for (int i = 0; i < n; i++)
        if (em_ag_wants(ts[i]))
            return true;
    return false;
}

/* ---- cat / stack ---- */

typedef struct cat_ctx {
    int n, dim;
    int64_t len[]; /* each input's size along dim; -1 for the 1-d empty ones cat skips */
} cat_ctx;

static int cat_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const cat_ctx *c = nd->ctx;
    int64_t at = 0;
    for (int i = 0; i < c->n; i++) {
        if (c->len[i] < 0) {
            if (em_node_needs(nd, i) &&
                !(gi[i] = em_full(1, (int64_t[]){ 0 }, em_scalar_int(0), go[0]->dtype, em_tensor_device(go[0]))))
                return -1;
            continue;
        }
        if (em_node_needs(nd, i) && !(gi[i] = em_ag_narrow(go[0], c->dim, at, c->len[i])))
            return -1;
        at += c->len[i];
    }
    return 0;
}

/* The node for a result made from all of ts (n edges, ctx_size bytes of ctx). */
static em_node *node_for_all(const char *name, em_backward_fn fn, int n, em_tensor *const *ts, size_t ctx_size)
{
    em_node *nd = em_node_new(name, fn, n, 1, 0, ctx_size);
    for (int i = 0; nd && i < n; i++)
        if (em_node_set_next(nd, i, ts[i]) < 0) {
            em_node_release(nd);
            nd = NULL;
        }
    return nd;
}

em_tensor *em_ag_cat(int n, em_tensor *const *ts, int dim)
{
    em_tensor *r = em_cat(n, ts, dim);
    if (!r || !any_wants(n, ts) || !em_dtype_is_float(r->dtype))
        return r;
    em_node *nd = node_for_all("CatBackward", cat_backward, n, ts, sizeof(cat_ctx) + (size_t)n * sizeof(int64_t));
    if (nd) {
        cat_ctx *c = nd->ctx;
        c->n = n;
        c->dim = dim;
        for (int i = 0; i < n; i++)
            c->len[i] = em_cat_skips(ts[i]) ? -1 : ts[i]->sizes[dim];
    }
    return em_ag_finish(nd, r);
}

typedef struct stack_ctx {
    int n, dim;
} stack_ctx;

static int stack_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const stack_ctx *c = nd->ctx;
    for (int i = 0; i < c->n; i++)
        if (em_node_needs(nd, i) && !(gi[i] = em_ag_select(go[0], c->dim, i)))
            return -1;
    return 0;
}

em_tensor *em_ag_stack(int n, em_tensor *const *ts, int dim)
{
    em_tensor *r = em_stack(n, ts, dim);
    if (!r || !any_wants(n, ts) || !em_dtype_is_float(r->dtype))
        return r;
    em_node *nd = node_for_all("StackBackward", stack_backward, n, ts, sizeof(stack_ctx));
    if (nd) {
        stack_ctx *c = nd->ctx;
        c->n = n;
        c->dim = dim;
    }
    return em_ag_finish(nd, r);
}

/* ---- flip / roll ---- */

typedef struct dims_ctx {
    int n;
    int dims[EM_MAX_DIMS];
    int64_t shifts[EM_MAX_DIMS];
} dims_ctx;

static int flip_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const dims_ctx *c = nd->ctx;
    gi[0] = em_ag_flip(go[0], c->n, c->dims);
    return gi[0] ? 0 : -1;
}

em_tensor *em_ag_flip(em_tensor *t, int n, const int *dims)
{
    em_tensor *r = em_flip(t, n, dims);
    if (!r || !em_ag_wants(t))
        return r;
    dims_ctx c;
    memset(&c, 0, sizeof c);
    c.n = n;
    memcpy(c.dims, dims, (size_t)n * sizeof(int));
    return em_ag_record1("FlipBackward", flip_backward, t, r, &c, sizeof c);
}

static int roll_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const dims_ctx *c = nd->ctx;
    int64_t back[EM_MAX_DIMS];
    for (int i = 0; i < (c->n > 0 ? c->n : 1); i++)
        back[i] = -c->shifts[i];
    gi[0] = em_ag_roll(go[0], c->n, back, c->dims);
    return gi[0] ? 0 : -1;
}

em_tensor *em_ag_roll(em_tensor *t, int n, const int64_t *shifts, const int *dims)
{
    em_tensor *r = em_roll(t, n, shifts, dims);
    if (!r || !em_ag_wants(t))
        return r;
    dims_ctx c;
    memset(&c, 0, sizeof c);
    c.n = n;
    if (n == 0) { /* flattened roll: one shift */
        c.shifts[0] = shifts[0];
    } else {
        memcpy(c.dims, dims, (size_t)n * sizeof(int));
        memcpy(c.shifts, shifts, (size_t)n * sizeof(int64_t));
    }
    return em_ag_record1("RollBackward", roll_backward, t, r, &c, sizeof c);
}

/* ---- tril / triu ---- */

typedef struct tri_ctx {
    int64_t k;
    bool upper;
} tri_ctx;

static int tril_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const tri_ctx *c = nd->ctx;
    gi[0] = em_ag_tril(go[0], c->k, c->upper);
    return gi[0] ? 0 : -1;
}

em_tensor *em_ag_tril(em_tensor *t, int64_t k, bool upper)
{
    em_tensor *r = em_tril(t, k, upper);
    tri_ctx c = { k, upper };
    return em_ag_record1(upper ? "TriuBackward" : "TrilBackward", tril_backward, t, r, &c, sizeof c);
}

int em_ag_tril_(em_tensor *t, int64_t k, bool upper)
{
    if (!em_ag_inplace_records(t, 0, NULL))
        return em_tril_(t, k, upper);
    if (em_ag_check_inplace(t, upper ? "triu_" : "tril_") < 0)
        return -1;
    em_tensor *xc = em_ag_clone(t);
    if (!xc)
        return -1;
    em_tensor *r = em_ag_tril(xc, k, upper);
    em_tensor_release(xc);
    return em_ag_commit_inplace(t, r);
}

/* ---- repeat ---- */

typedef struct repeat_ctx {
    int n, ndim;
    int64_t reps[EM_MAX_DIMS];
    int64_t sizes[EM_MAX_DIMS]; /* the input's */
} repeat_ctx;

/* Each repeated dim of the gradient is seen as (before, reps, size, after) and
 * summed over reps: four dims whatever the rank, so EM_MAX_DIMS is never
 * exceeded. */
static int repeat_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const repeat_ctx *c = nd->ctx;
    em_tensor *g = go[0];
    em_tensor_retain(g);
    int64_t cur[EM_MAX_DIMS];
    memcpy(cur, g->sizes, sizeof cur);
    for (int d = 0; d < c->n && g; d++) {
        if (c->reps[d] == 1)
            continue;
        int td = d - (c->n - c->ndim);
        int64_t sz = td >= 0 ? c->sizes[td] : 1, before = 1, after = 1;
        for (int i = 0; i < d; i++)
            before *= cur[i];
        for (int i = d + 1; i < c->n; i++)
            after *= cur[i];
        int64_t s4[4] = { before, c->reps[d], sz, after };
        bool dims[4] = { false, true, false, false };
        em_tensor *v = em_ag_reshape(g, 4, s4);
        em_tensor *s = v ? em_ag_sum(v, dims, false, -1, NULL) : NULL;
        cur[d] = sz;
        em_tensor *b = s ? em_ag_reshape(s, c->n, cur) : NULL;
        em_tensor_release(v);
        em_tensor_release(s);
        em_tensor_release(g);
        g = b;
    }
    if (!g)
        return -1;
    gi[0] = em_ag_reshape(g, c->ndim, c->sizes);
    em_tensor_release(g);
    return gi[0] ? 0 : -1;
}

em_tensor *em_ag_repeat(em_tensor *t, int n, const int64_t *reps)
{
    em_tensor *r = em_repeat(t, n, reps);
    if (!r || !em_ag_wants(t))
        return r;
    repeat_ctx c;
    memset(&c, 0, sizeof c);
    c.n = n;
    c.ndim = t->ndim;
    memcpy(c.reps, reps, (size_t)n * sizeof(int64_t));
    memcpy(c.sizes, t->sizes, sizeof c.sizes);
    return em_ag_record1("RepeatBackward", repeat_backward, t, r, &c, sizeof c);
}
