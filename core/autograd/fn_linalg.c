/* Differentiable matrix products and einsum. Every product is a @ b with
 * matmul's rules (1-d operands promoted to matrices, batch dims broadcast), so
 * one formula serves mm, mv, bmm, dot, matmul and the add* forms:
 *   grad_a = g @ b^T,  grad_b = a^T @ g
 * with the dims added for 1-d operands removed again; the engine sums gradients
 * over broadcast batch dims. einsum's gradient for an operand is an einsum of the
 * output's gradient with the other operands. Formulas use em_ag_ ops, so double
 * backward works. */
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "../factory.h"
#include "functions.h"

typedef enum prod_kind { PROD_MATMUL, PROD_OUTER } prod_kind;

typedef struct prod_ctx {
    prod_kind kind;
    int a_ndim, b_ndim;
    bool has_input; /* addmm & co: edge 0 is the added input */
    em_scalar alpha, beta;
} prod_ctx;

static const em_scalar ONE = { true, false, 1, 1.0 };

static bool is_one(em_scalar s)
{
    return s.is_int ? s.i == 1 : s.d == 1.0;
}

/* s * t as a new reference (t itself when s is 1). */
static em_tensor *scale(em_tensor *t, em_scalar s)
{
    if (is_one(s)) {
        em_tensor_retain(t);
        return t;
    }
    return em_ag_binary(EM_BIN_MUL, em_arg_tensor(t), em_arg_scalar(s), NULL, NULL);
}

static em_tensor *consume(em_tensor *tmp, em_tensor *r)
{
    em_tensor_release(tmp);
    return r;
}

/* t with g's dtype (outer promotes its operands; the others have one dtype). */
static em_tensor *like_grad(em_tensor *t, const em_tensor *g)
{
    return em_ag_to_dtype(t, g->dtype, false);
}

/* The last two dims swapped. */
static em_tensor *mT(em_tensor *t)
{
    return em_ag_transpose(t, t->ndim - 2, t->ndim - 1);
}

/* Gradients of a @ b (matmul rules) for the output gradient g. a is given when
 * grad_b is wanted, b when grad_a is. */
static int matmul_grads(const prod_ctx *c, em_tensor *g, em_tensor *a, em_tensor *b, em_tensor **ga, em_tensor **gb)
{
    if (c->kind == PROD_OUTER) { /* g (m, n) */
        if (b && !(*ga = em_ag_matmul(g, b, NULL)))
            return -1;
        if (a && !(*gb = em_ag_matmul(a, g, NULL)))
            return -1;
        return 0;
    }
    if (c->a_ndim == 1 && c->b_ndim == 1) { /* dot: g is 0-d */
        if (b && !(*ga = em_ag_binary(EM_BIN_MUL, em_arg_tensor(g), em_arg_tensor(b), NULL, NULL)))
            return -1;
        if (a && !(*gb = em_ag_binary(EM_BIN_MUL, em_arg_tensor(g), em_arg_tensor(a), NULL, NULL)))
            return -1;
        return 0;
    }
    /* G: g with the dims dropped for 1-d operands put back, (batch..., m, n) */
    em_tensor *G;
    if (c->a_ndim == 1)
        G = em_ag_unsqueeze(g, g->ndim - 1);
    else if (c->b_ndim == 1)
        G = em_ag_unsqueeze(g, g->ndim);
    else {
        em_tensor_retain(g);
        G = g;
    }
    if (!G)
        return -1;
    int rc = 0;
    if (b) { /* (batch..., m, n) @ (..., n, k) */
        em_tensor *bt = c->b_ndim == 1 ? em_ag_unsqueeze(b, 0) : mT(b);
        em_tensor *full = bt ? consume(bt, em_ag_matmul(G, bt, NULL)) : NULL;
        if (full && c->a_ndim == 1)
            full = consume(full, em_ag_select(full, full->ndim - 2, 0));
        if (!(*ga = full))
            rc = -1;
    }
    if (a && rc == 0 && c->b_ndim == 2 && c->a_ndim > 2) {
        /* a (batch..., m, k) @ b (k, n): the batch dims folded into rows make grad_b
         * one GEMM, a2^T @ G2, instead of a batched product summed over the batch */
        int64_t as[2] = { -1, a->sizes[a->ndim - 1] }, gs[2] = { -1, G->sizes[G->ndim - 1] };
        em_tensor *a2 = em_ag_reshape(a, 2, as), *g2 = a2 ? em_ag_reshape(G, 2, gs) : NULL;
        em_tensor *at = g2 ? mT(a2) : NULL;
        *gb = at ? em_ag_matmul(at, g2, NULL) : NULL;
        em_tensor_release(a2);
        em_tensor_release(g2);
        em_tensor_release(at);
        if (!*gb)
            rc = -1;
    } else if (a && rc == 0) { /* (..., k, m) @ (batch..., m, n) */
        em_tensor *at = c->a_ndim == 1 ? em_ag_unsqueeze(a, 1) : mT(a);
        em_tensor *full = at ? consume(at, em_ag_matmul(at, G, NULL)) : NULL;
        if (full && c->b_ndim == 1)
            full = consume(full, em_ag_select(full, full->ndim - 1, 0));
        if (!(*gb = full))
            rc = -1;
    }
    em_tensor_release(G);
    return rc;
}

static int product_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const prod_ctx *c = nd->ctx;
    int off = c->has_input ? 1 : 0;
    bool need_a = em_node_needs(nd, off), need_b = em_node_needs(nd, off + 1);
    em_tensor *g = go[0], *a = NULL, *b = NULL, *ga = NULL, *gb = NULL;
    int rc = -1;
    if (need_b && !(a = em_node_saved(nd, 0)))
        goto done;
    if (need_a && !(b = em_node_saved(nd, 1)))
        goto done;
    if (a && a->dtype != g->dtype)
        a = consume(a, like_grad(a, g));
    if (b && b->dtype != g->dtype)
        b = consume(b, like_grad(b, g));
    if ((need_b && !a) || (need_a && !b))
        goto done;
    if (off && em_node_needs(nd, 0) && !(gi[0] = scale(g, c->beta)))
        goto done;
    if (matmul_grads(c, g, a, b, &ga, &gb) < 0)
        goto done;
    if (ga && !(gi[off] = scale(ga, c->alpha)))
        goto done;
    if (gb && !(gi[off + 1] = scale(gb, c->alpha)))
        goto done;
    rc = 0;
done:
    em_tensor_release(a);
    em_tensor_release(b);
    em_tensor_release(ga);
    em_tensor_release(gb);
    return rc;
}

/* r = [beta * input +] alpha * (a @ b): its node, saving what each gradient reads. */
static em_tensor *record_product(const char *name, prod_kind kind, em_tensor *input, em_tensor *a, em_tensor *b,
                                 em_scalar beta, em_scalar alpha, em_tensor *r)
{
    if (!r || !em_dtype_is_float(r->dtype))
        return r;
    int off = input ? 1 : 0;
    em_node *nd = em_node_new(name, product_backward, 2 + off, 1, 2, sizeof(prod_ctx));
    if (!nd)
        goto fail;
    prod_ctx *c = nd->ctx;
    c->kind = kind;
    c->a_ndim = a->ndim;
    c->b_ndim = b->ndim;
    c->has_input = input != NULL;
    c->alpha = alpha;
    c->beta = beta;
    if ((input && em_node_set_next(nd, 0, input) < 0) || em_node_set_next(nd, off, a) < 0 ||
        em_node_set_next(nd, off + 1, b) < 0)
        goto fail;
    if (em_node_needs(nd, off + 1) && em_node_save(nd, 0, a) < 0)
        goto fail;
    if (em_node_needs(nd, off) && em_node_save(nd, 1, b) < 0)
        goto fail;
    if (em_set_history(r, nd, 0) < 0)
        goto fail;
    em_node_release(nd);
    return r;
fail:
    em_node_release(nd);
    em_tensor_release(r);
    return NULL;
}

static em_tensor *refuse_out(const char *op)
{
    em_ag_refuse_out(op);
    return NULL;
}

typedef em_tensor *(*binary_fn)(em_tensor *, em_tensor *, em_tensor *);

static em_tensor *product2(const char *op, const char *name, prod_kind kind, binary_fn fn, em_tensor *a, em_tensor *b,
                           em_tensor *out)
{
    if (!em_ag_wants(a) && !em_ag_wants(b))
        return fn(a, b, out);
    if (out)
        return refuse_out(op);
    return record_product(name, kind, NULL, a, b, ONE, ONE, fn(a, b, NULL));
}

em_tensor *em_ag_mm(em_tensor *a, em_tensor *b, em_tensor *out)
{
    return product2("mm", "MmBackward", PROD_MATMUL, em_mm, a, b, out);
}

em_tensor *em_ag_mv(em_tensor *a, em_tensor *v, em_tensor *out)
{
    return product2("mv", "MvBackward", PROD_MATMUL, em_mv, a, v, out);
}

em_tensor *em_ag_bmm(em_tensor *a, em_tensor *b, em_tensor *out)
{
    return product2("bmm", "BmmBackward", PROD_MATMUL, em_bmm, a, b, out);
}

em_tensor *em_ag_dot(em_tensor *a, em_tensor *b, em_tensor *out)
{
    return product2("dot", "DotBackward", PROD_MATMUL, em_dot, a, b, out);
}

em_tensor *em_ag_outer(em_tensor *a, em_tensor *b, em_tensor *out)
{
    return product2("outer", "OuterBackward", PROD_OUTER, em_outer, a, b, out);
}

/* Named after the product the ranks make, as PyTorch's graphs show it. */
em_tensor *em_ag_matmul(em_tensor *a, em_tensor *b, em_tensor *out)
{
    const char *name = "MatmulBackward";
    if (a->ndim == 1 && b->ndim == 1)
        name = "DotBackward";
    else if (a->ndim == 2 && b->ndim == 1)
        name = "MvBackward";
    else if (a->ndim == 2 && b->ndim == 2)
        name = "MmBackward";
    return product2("matmul", name, PROD_MATMUL, em_matmul, a, b, out);
}

typedef em_tensor *(*addmm_fn)(em_tensor *, em_tensor *, em_tensor *, em_scalar, em_scalar, em_tensor *);

static em_tensor *add_product(const char *op, const char *name, addmm_fn fn, em_tensor *input, em_tensor *a,
                              em_tensor *b, em_scalar beta, em_scalar alpha, em_tensor *out)
{
    if (!em_ag_wants(input) && !em_ag_wants(a) && !em_ag_wants(b))
        return fn(input, a, b, beta, alpha, out);
    if (out)
        return refuse_out(op);
    return record_product(name, PROD_MATMUL, input, a, b, beta, alpha, fn(input, a, b, beta, alpha, NULL));
}

em_tensor *em_ag_addmm(em_tensor *input, em_tensor *m1, em_tensor *m2, em_scalar beta, em_scalar alpha,
                       em_tensor *out)
{
    return add_product("addmm", "AddmmBackward", em_addmm, input, m1, m2, beta, alpha, out);
}

em_tensor *em_ag_addmv(em_tensor *input, em_tensor *mat, em_tensor *vec, em_scalar beta, em_scalar alpha,
                       em_tensor *out)
{
    return add_product("addmv", "AddmvBackward", em_addmv, input, mat, vec, beta, alpha, out);
}

em_tensor *em_ag_baddbmm(em_tensor *input, em_tensor *b1, em_tensor *b2, em_scalar beta, em_scalar alpha,
                         em_tensor *out)
{
    return add_product("baddbmm", "BaddbmmBackward", em_baddbmm, input, b1, b2, beta, alpha, out);
}

/* self = beta * self + alpha * (a @ b), recorded as the out-of-place op on a
 * clone of self written back (see fn_copy.h). */
static int add_product_(const char *op, addmm_fn plain, addmm_fn ag, em_tensor *self, em_tensor *a, em_tensor *b,
                        em_scalar beta, em_scalar alpha)
{
    em_tensor *in[2] = { a, b };
    if (!em_ag_inplace_records(self, 2, in)) {
        em_tensor *r = plain(self, a, b, beta, alpha, self);
        em_tensor_release(r);
        return r ? 0 : -1;
    }
    if (em_ag_check_inplace(self, op) < 0)
        return -1;
    em_tensor *xc = em_ag_clone(self);
    em_tensor *r = xc ? ag(xc, a, b, beta, alpha, NULL) : NULL;
    em_tensor_release(xc);
    if (r && !em_same_shape(r, self)) {
        char s1[EM_SHAPE_BUF], s2[EM_SHAPE_BUF];
        em_error("%s: the product has shape %s but self has shape %s (an in-place op cannot broadcast self)", op,
                 em_tensor_shape_str(r, s1, sizeof s1), em_tensor_shape_str(self, s2, sizeof s2));
        em_tensor_release(r);
        return -1;
    }
    return em_ag_commit_inplace(self, r);
}

int em_ag_addmm_(em_tensor *self, em_tensor *m1, em_tensor *m2, em_scalar beta, em_scalar alpha)
{
    return add_product_("addmm_", em_addmm, em_ag_addmm, self, m1, m2, beta, alpha);
}

int em_ag_addmv_(em_tensor *self, em_tensor *mat, em_tensor *vec, em_scalar beta, em_scalar alpha)
{
    return add_product_("addmv_", em_addmv, em_ag_addmv, self, mat, vec, beta, alpha);
}

int em_ag_baddbmm_(em_tensor *self, em_tensor *b1, em_tensor *b2, em_scalar beta, em_scalar alpha)
{
    return add_product_("baddbmm_", em_baddbmm, em_ag_baddbmm, self, b1, b2, beta, alpha);
}

/* ---- einsum ----
 * The gradient of operand i is einsum(g, the other operands -> i's subscripts).
 * Two things keep that einsum well formed:
 *  - a subscript repeated within operand i ('ii') cannot repeat in an output:
 *    each repeat gets a fresh letter and an identity matrix joins the operands
 *    ('...,iJ->iJ'), which puts the gradient on the diagonal;
 *  - a subscript found only in operand i (summed there, 'ij->i') appears in no
 *    other operand: the einsum leaves it out and the result is expanded along it. */

#define EINSUM_LETTERS 52

typedef struct einsum_ctx {
    int n, nout;
    int nl[EM_MAX_DIMS];
    char l[EM_MAX_DIMS][EM_MAX_DIMS]; /* each operand's subscripts */
    char out[EINSUM_LETTERS];
    int64_t sizes[EM_MAX_DIMS][EM_MAX_DIMS]; /* each operand's shape */
} einsum_ctx;

static int letter_index(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

static char index_letter(int i)
{
    return (char)(i < 26 ? 'a' + i : 'A' + i - 26);
}

/* Parses an equation the forward accepted (so without checks), as core/linalg.c
 * does: implicit output = the letters seen once, in a..zA..Z order. */
static void einsum_parse(einsum_ctx *c, const char *eq, int n)
{
    int count[EINSUM_LETTERS] = { 0 };
    int t = 0;
    const char *p = eq;
    c->n = n;
    for (; *p && !(p[0] == '-' && p[1] == '>'); p++) {
        int li = letter_index(*p);
        if (*p == ',')
            t++;
        else if (li >= 0 && t < n && c->nl[t] < EM_MAX_DIMS) {
            c->l[t][c->nl[t]++] = *p;
            count[li]++;
        }
    }
    if (*p) {
        for (p += 2; *p; p++)
            if (letter_index(*p) >= 0 && c->nout < EINSUM_LETTERS)
                c->out[c->nout++] = *p;
    } else {
        for (int li = 0; li < EINSUM_LETTERS; li++)
            if (count[li] == 1)
                c->out[c->nout++] = index_letter(li);
    }
}

/* Appends letters to the equation being built. */
static void eq_put(char *eq, size_t *len, const char *s, int n)
{
    memcpy(eq + *len, s, (size_t)n);
    *len += (size_t)n;
    eq[*len] = '\0';
}

/* The gradient of operand i; saved[j] holds operand j for every j != i. */
static em_tensor *einsum_grad(const einsum_ctx *c, int i, em_tensor *g, em_tensor *const *saved)
{
    bool used[EINSUM_LETTERS] = { false }, avail[EINSUM_LETTERS] = { false };
    for (int j = 0; j < c->n; j++)
        for (int q = 0; q < c->nl[j]; q++)
            used[letter_index(c->l[j][q])] = true;
    em_tensor *ops[EM_MAX_DIMS];
    char eq[512]; /* out (<= 52) + 15 operands * 17 + 16 identities * 3 + 19 */
    size_t len = 0;
    int nops = 0, neye = 0;
    em_tensor *eyes[EM_MAX_DIMS];
    char target[EM_MAX_DIMS];
    em_tensor *r = NULL;
    eq[0] = '\0';
    ops[nops++] = g;
    eq_put(eq, &len, c->out, c->nout);
    for (int q = 0; q < c->nout; q++)
        avail[letter_index(c->out[q])] = true;
    for (int j = 0; j < c->n; j++) {
        if (j == i)
            continue;
        ops[nops++] = saved[j];
        eq_put(eq, &len, ",", 1);
        eq_put(eq, &len, c->l[j], c->nl[j]);
        for (int q = 0; q < c->nl[j]; q++)
            avail[letter_index(c->l[j][q])] = true;
    }
    for (int p = 0; p < c->nl[i]; p++) {
        char ch = c->l[i][p];
        target[p] = ch;
        if (!memchr(c->l[i], ch, (size_t)p))
            continue;
        int fresh = 0;
        while (fresh < EINSUM_LETTERS && used[fresh])
            fresh++;
        if (fresh == EINSUM_LETTERS) {
            em_error("einsum backward: no free subscript letter is left to differentiate the repeated subscript "
                     "'%c' of operand %d",
                     ch, i + 1);
            goto done;
        }
        if (nops >= EM_MAX_DIMS) {
            em_error("einsum backward: the gradient of operand %d (repeated subscript '%c') needs more than %d "
                     "operands",
                     i + 1, ch, EM_MAX_DIMS);
            goto done;
        }
        used[fresh] = avail[fresh] = true;
        avail[letter_index(ch)] = true;
        target[p] = index_letter(fresh);
        int64_t sz = c->sizes[i][p];
        if (!(eyes[neye] = em_eye(sz, sz, g->dtype, em_tensor_device(g))))
            goto done;
        ops[nops++] = eyes[neye++];
        char pair[3] = { ',', ch, target[p] };
        eq_put(eq, &len, pair, 3);
    }
    eq_put(eq, &len, "->", 2);
    int64_t shape1[EM_MAX_DIMS]; /* the operand's shape with 1 where the einsum leaves a letter out */
    bool missing = false;
    for (int p = 0; p < c->nl[i]; p++) {
        if (avail[letter_index(target[p])]) {
            eq_put(eq, &len, &target[p], 1);
            shape1[p] = c->sizes[i][p];
        } else {
            shape1[p] = 1;
            missing = true;
        }
    }
    r = em_ag_einsum(eq, nops, ops);
    if (r && missing) {
        r = consume(r, em_ag_reshape(r, c->nl[i], shape1));
        if (r)
            r = consume(r, em_ag_expand(r, c->nl[i], c->sizes[i]));
    }
done:
    for (int k = 0; k < neye; k++)
        em_tensor_release(eyes[k]);
    return r;
}

static int einsum_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const einsum_ctx *c = nd->ctx;
    em_tensor *saved[EM_MAX_DIMS] = { NULL };
    int rc = -1;
    for (int j = 0; j < c->n; j++)
        if (nd->saved[j].t || nd->released)
            if (!(saved[j] = em_node_saved(nd, j)))
                goto done;
    for (int i = 0; i < c->n; i++)
        if (em_node_needs(nd, i) && !(gi[i] = einsum_grad(c, i, go[0], saved)))
            goto done;
    rc = 0;
done:
    for (int j = 0; j < c->n; j++)
        em_tensor_release(saved[j]);
    return rc;
}

/* einsum of an explicit equation (em_einsum_prepare's) on operands already
 * broadcast to one another. */
static em_tensor *einsum_record(const char *equation, int n, em_tensor *const *operands)
{
    bool any = false;
    for (int i = 0; i < n; i++)
        any = any || em_ag_wants(operands[i]);
    em_tensor *r = em_einsum(equation, n, operands);
    if (!r || !any || !em_dtype_is_float(r->dtype))
        return r;
    if (n == 1) /* a permutation or diagonal of the operand may share its memory */
        em_ag_mark_view(operands[0], r);
    em_node *nd = em_node_new("EinsumBackward", einsum_backward, n, 1, n, sizeof(einsum_ctx));
    if (!nd)
        goto fail;
    einsum_ctx *c = nd->ctx;
    einsum_parse(c, equation, n);
    for (int i = 0; i < n; i++) {
        memcpy(c->sizes[i], operands[i]->sizes, sizeof c->sizes[i]);
        if (em_node_set_next(nd, i, operands[i]) < 0)
            goto fail;
    }
    /* operand j is read by the gradients of the others */
    for (int j = 0; j < n; j++) {
        bool read = false;
        for (int i = 0; i < n && !read; i++)
            read = i != j && em_node_needs(nd, i);
        if (read && em_node_save(nd, j, operands[j]) < 0)
            goto fail;
    }
    if (em_set_history(r, nd, 0) < 0)
        goto fail;
    em_node_release(nd);
    return r;
fail:
    em_node_release(nd);
    em_tensor_release(r);
    return NULL;
}

/* '...' is written out as letters and size-1 dims are broadcast by a
 * differentiable expand first, so the node (forward and backward) only ever sees
 * explicit equations on operands of matching sizes. */
em_tensor *em_ag_einsum(const char *equation, int n, em_tensor *const *operands)
{
    char xeq[EM_EINSUM_EQ_MAX];
    int64_t sizes[EM_MAX_DIMS][EM_MAX_DIMS];
    if (em_einsum_prepare(equation, n, operands, xeq, sizes) < 0)
        return NULL;
    em_tensor *ex[EM_MAX_DIMS];
    em_tensor *r = NULL;
    int k = 0;
    for (; k < n; k++) {
        em_tensor *t = operands[k];
        bool same = memcmp(t->sizes, sizes[k], (size_t)t->ndim * sizeof(int64_t)) == 0;
        if (same)
            em_tensor_retain(t);
        if (!(ex[k] = same ? t : em_ag_expand(t, t->ndim, sizes[k])))
            goto done;
    }
    r = einsum_record(xeq, n, ex);
done:
    for (int i = 0; i < k; i++)
        em_tensor_release(ex[i]);
    return r;
}
