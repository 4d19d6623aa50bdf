/* Matrix products, device-independent part: shape and dtype checks, batch
 * broadcasting, output allocation and `out`. Every product is reduced to one call of
 * the batched GEMM kernel (EM_K_GEMM) over strided views, so transposed or expanded
 * operands are never copied here; float16/bfloat16 compute in float32. */
#include "linalg.h"
#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "iter.h"
#include "view.h"

#include <stdlib.h>
#include <string.h>

static const char *shp(const em_tensor *t, char *buf)
{
    return em_tensor_shape_str(t, buf, EM_SHAPE_BUF);
}

static int check_pair(const char *op, const em_tensor *a, const em_tensor *b)
{
    if (a->dtype != b->dtype)
        return em_error("%s: expected both operands to have the same dtype, got %s and %s", op,
                        em_dtype_name(a->dtype), em_dtype_name(b->dtype));
    if (!em_device_eq(em_tensor_device(a), em_tensor_device(b)))
        return em_error("%s: expected both operands on the same device", op);
    if (a->dtype == EM_BOOL)
        return em_error("%s: bool tensors are not supported (convert with x:float() or x:long())", op);
    return 0;
}

static int check_input(const char *op, const em_tensor *input, const em_tensor *a)
{
    if (input->dtype != a->dtype)
        return em_error("%s: expected input to have the same dtype as the product, got %s and %s", op,
                        em_dtype_name(input->dtype), em_dtype_name(a->dtype));
    if (!em_device_eq(em_tensor_device(input), em_tensor_device(a)))
        return em_error("%s: expected input on the same device as the product", op);
    return 0;
}

/* alpha/beta must be integral for integer tensors (a float would be silently cut). */
static int check_coef(const char *op, em_dtype dt, em_scalar s, const char *name)
{
    if (!em_dtype_is_float(dt) && !s.is_int)
        return em_error("%s: %s must be an integer for %s tensors, got %g", op, name, em_dtype_name(dt), s.d);
    return 0;
}

/* The result tensor: `out` (checked, retained) or a new one. */
static em_tensor *result_for(const char *op, em_tensor *out, int ndim, const int64_t *sizes, em_dtype dt,
                             em_device dev)
{
    if (!out)
        return em_tensor_empty(ndim, sizes, dt, dev);
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (out->dtype != dt)
        return em_error("%s: expected out to have dtype %s, got %s", op, em_dtype_name(dt), em_dtype_name(out->dtype)),
               NULL;
    if (!em_device_eq(em_tensor_device(out), dev))
        return em_error("%s: expected out on the same device as the operands", op), NULL;
    bool same = out->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = out->sizes[i] == sizes[i];
    if (!same)
        return em_error("%s: out has shape %s, expected %s", op, shp(out, b1), em_shape_str(b2, sizeof b2, ndim, sizes)),
               NULL;
    em_tensor_retain(out);
    return out;
}

static bool shares(const em_tensor *x, const em_tensor *y)
{
    return x && y && x->storage == y->storage;
}

/* c = alpha * a @ b + beta * c over views that already have the same batch dims:
 * a (batch..., m, k), b (batch..., k, n), c (batch..., m, n). */
static int gemm_views(const char *op, em_tensor *c, const em_tensor *a, const em_tensor *b, em_scalar alpha,
                      em_scalar beta)
{
    em_dtype dt = c->dtype;
    if (em_dtype_is_reduced(dt)) { /* compute in float32, convert back */
        em_tensor *a32 = em_to_dtype((em_tensor *)a, EM_FLOAT32, false);
        em_tensor *b32 = a32 ? em_to_dtype((em_tensor *)b, EM_FLOAT32, false) : NULL;
        em_tensor *c32 = b32 ? em_to_dtype(c, EM_FLOAT32, true) : NULL;
        int rc = c32 ? gemm_views(op, c32, a32, b32, alpha, beta) : -1;
        if (rc == 0)
            rc = em_copy_(c, c32);
        em_tensor_release(a32);
        em_tensor_release(b32);
        em_tensor_release(c32);
        return rc;
    }
    if (check_coef(op, dt, alpha, "alpha") < 0 || check_coef(op, dt, beta, "beta") < 0)
        return -1;
    em_gemm_kernel k = (em_gemm_kernel)em_kernel_get(EM_K_GEMM, em_tensor_device(c), op);
    if (!k)
        return -1;
    em_gemm_desc d;
    memset(&d, 0, sizeof d);
    int nd = c->ndim;
    d.op = op;
    d.dtype = dt;
    d.m = c->sizes[nd - 2], d.n = c->sizes[nd - 1], d.k = a->sizes[nd - 1];
    d.a = em_tensor_data(a), d.b = em_tensor_data(b), d.c = em_tensor_data(c);
    d.a_rs = a->strides[nd - 2], d.a_cs = a->strides[nd - 1];
    d.b_rs = b->strides[nd - 2], d.b_cs = b->strides[nd - 1];
    d.c_rs = c->strides[nd - 2], d.c_cs = c->strides[nd - 1];
    d.alpha = alpha, d.beta = beta;
    for (int i = 0; i < nd - 2; i++) {
        if (c->sizes[i] == 1)
            continue; /* size-1 batch dims change nothing */
        int j = d.batch_ndim++;
        d.batch[j] = c->sizes[i];
        d.a_bs[j] = a->strides[i], d.b_bs[j] = b->strides[i], d.c_bs[j] = c->strides[i];
    }
    /* A batch of A rows against one shared B is one taller product: fold the
     * innermost batch dims into m while A and C step over whole row blocks. */
    while (d.batch_ndim > 0) {
        int j = d.batch_ndim - 1;
        if (d.b_bs[j] != 0)
            break;
        if (d.m == 1) {
            d.a_rs = d.a_bs[j], d.c_rs = d.c_bs[j];
        } else if (d.a_bs[j] != d.a_rs * d.m || d.c_bs[j] != d.c_rs * d.m) {
            break;
        }
        d.m *= d.batch[j];
        d.batch_ndim--;
    }
    if (k(&d) < 0)
        return -1;
    em_tensor_bump_version(c);
    return 0;
}

/* ---- matmul: every case ---- */

/* a @ b with PyTorch's matmul rules; beta * input is added when input is given.
 * want_ndim_a/b > 0 restricts the operand ranks (mm: 2 and 2, bmm: 3 and 3). */
static em_tensor *product(const char *op, em_tensor *a, em_tensor *b, em_tensor *input, em_scalar beta,
                          em_scalar alpha, em_tensor *out)
{
    char s1[EM_SHAPE_BUF], s2[EM_SHAPE_BUF];
    if (a->ndim == 0 || b->ndim == 0)
        return em_error("%s: both arguments need at least 1 dimension, got %d-d and %d-d", op, a->ndim, b->ndim),
               NULL;
    if (check_pair(op, a, b) < 0)
        return NULL;
    /* promote 1-d operands to matrices: a (k) -> (1, k), b (k) -> (k, 1) */
    em_tensor *a2 = a->ndim == 1 ? em_unsqueeze(a, 0) : em_tensor_alias(a);
    em_tensor *b2 = b->ndim == 1 ? em_unsqueeze(b, 1) : em_tensor_alias(b);
    em_tensor *ae = NULL, *be = NULL, *c = NULL, *cv = NULL, *tmp = NULL;
    if (!a2 || !b2)
        goto fail;
    int64_t m = a2->sizes[a2->ndim - 2], k = a2->sizes[a2->ndim - 1];
    int64_t k2 = b2->sizes[b2->ndim - 2], n = b2->sizes[b2->ndim - 1];
    if (k != k2) {
        if (a->ndim == 1 && b->ndim == 1)
            em_error("%s: sizes differ (%s and %s)", op, shp(a, s1), shp(b, s2));
        else
            em_error("%s: inner dimensions differ (%s @ %s)", op, shp(a, s1), shp(b, s2));
        goto fail;
    }
    /* batch dims broadcast */
    int nbatch;
    int64_t full[EM_MAX_DIMS + 2];
    if (em_broadcast_shape(op, a2->ndim - 2, a2->sizes, b2->ndim - 2, b2->sizes, &nbatch, full) < 0)
        goto fail;
    int64_t sa[EM_MAX_DIMS + 2], sb[EM_MAX_DIMS + 2];
    memcpy(sa, full, sizeof(int64_t) * (size_t)nbatch);
    memcpy(sb, full, sizeof(int64_t) * (size_t)nbatch);
    sa[nbatch] = m, sa[nbatch + 1] = k;
    sb[nbatch] = k, sb[nbatch + 1] = n;
    full[nbatch] = m, full[nbatch + 1] = n;
    if (nbatch + 2 > EM_MAX_DIMS) {
        em_error("%s: result would have more than %d dimensions", op, EM_MAX_DIMS);
        goto fail;
    }
    ae = em_expand(a2, nbatch + 2, sa);
    be = ae ? em_expand(b2, nbatch + 2, sb) : NULL;
    if (!be)
        goto fail;
    /* the user-visible shape drops the dims added for 1-d operands */
    int64_t vis[EM_MAX_DIMS];
    int nv = 0;
    for (int i = 0; i < nbatch; i++)
        vis[nv++] = full[i];
    if (a->ndim > 1)
        vis[nv++] = m;
    if (b->ndim > 1)
        vis[nv++] = n;
    if (input && check_input(op, input, a) < 0)
        goto fail;
    c = result_for(op, out, nv, vis, a->dtype, em_tensor_device(a));
    if (!c)
        goto fail;
    /* writing into an operand's memory while reading it: compute aside, then copy */
    bool alias = out && (shares(out, a) || shares(out, b) || (input && shares(out, input) && out != input));
    em_tensor *dst = c;
    if (alias) {
        tmp = em_tensor_empty(nv, vis, a->dtype, em_tensor_device(a));
        if (!tmp)
            goto fail;
        dst = tmp;
    }
    bool use_input = input && !(beta.is_int ? beta.i == 0 : beta.d == 0);
    if (use_input && em_copy_(dst, input) < 0) {
        if (em_last_error() && strstr(em_last_error(), "broadcast"))
            em_error("%s: input of shape %s cannot be broadcast to %s", op, shp(input, s1), shp(dst, s2));
        goto fail;
    }
    cv = em_view(dst, nbatch + 2, full);
    if (!cv)
        goto fail;
    if (gemm_views(op, cv, ae, be, alpha, use_input ? beta : em_scalar_int(0)) < 0)
        goto fail;
    if (alias && em_copy_(c, tmp) < 0)
        goto fail;
    em_tensor_release(a2);
    em_tensor_release(b2);
    em_tensor_release(ae);
    em_tensor_release(be);
    em_tensor_release(cv);
    em_tensor_release(tmp);
    return c;
fail:
    em_tensor_release(a2);
    em_tensor_release(b2);
    em_tensor_release(ae);
    em_tensor_release(be);
    em_tensor_release(cv);
    em_tensor_release(tmp);
    em_tensor_release(c);
    return NULL;
}

static const em_scalar ONE = { true, false, 1, 1.0 };
static const em_scalar ZERO = { true, false, 0, 0.0 };

static int check_ranks(const char *op, const em_tensor *a, const em_tensor *b, int ra, int rb, const char *what)
{
    if (a->ndim != ra || b->ndim != rb)
        return em_error("%s: expected %s, got %d-d and %d-d", op, what, a->ndim, b->ndim);
    return 0;
}

em_tensor *em_matmul(em_tensor *a, em_tensor *b, em_tensor *out)
{
    return product("matmul", a, b, NULL, ZERO, ONE, out);
}

em_tensor *em_mm(em_tensor *a, em_tensor *b, em_tensor *out)
{
    if (check_ranks("mm", a, b, 2, 2, "2-d tensors") < 0)
        return NULL;
    return product("mm", a, b, NULL, ZERO, ONE, out);
}

em_tensor *em_mv(em_tensor *a, em_tensor *v, em_tensor *out)
{
    if (check_ranks("mv", a, v, 2, 1, "a 2-d matrix and a 1-d vector") < 0)
        return NULL;
    return product("mv", a, v, NULL, ZERO, ONE, out);
}

static int check_bmm(const char *op, const em_tensor *a, const em_tensor *b)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (check_ranks(op, a, b, 3, 3, "3-d tensors") < 0)
        return -1;
    if (a->sizes[0] != b->sizes[0])
        return em_error("%s: batch sizes differ (%s @ %s)", op, shp(a, b1), shp(b, b2));
    return 0;
}

em_tensor *em_bmm(em_tensor *a, em_tensor *b, em_tensor *out)
{
    if (check_bmm("bmm", a, b) < 0)
        return NULL;
    return product("bmm", a, b, NULL, ZERO, ONE, out);
}

em_tensor *em_dot(em_tensor *a, em_tensor *b, em_tensor *out)
{
    if (check_ranks("dot", a, b, 1, 1, "1-d tensors") < 0)
        return NULL;
    return product("dot", a, b, NULL, ZERO, ONE, out);
}

em_tensor *em_outer(em_tensor *a, em_tensor *b, em_tensor *out)
{
    if (check_ranks("outer", a, b, 1, 1, "1-d tensors") < 0)
        return NULL;
    /* outer promotes like elementwise multiplication does */
    em_dtype dt = em_dtype_promote(a->dtype, b->dtype);
    em_tensor *pa = em_to_dtype(a, dt, false), *pb = pa ? em_to_dtype(b, dt, false) : NULL;
    em_tensor *ac = pb ? em_unsqueeze(pa, 1) : NULL, *bc = ac ? em_unsqueeze(pb, 0) : NULL;
    em_tensor *r = bc ? product("outer", ac, bc, NULL, ZERO, ONE, out) : NULL;
    em_tensor_release(pa);
    em_tensor_release(pb);
    em_tensor_release(ac);
    em_tensor_release(bc);
    return r;
}

em_tensor *em_addmm(em_tensor *input, em_tensor *m1, em_tensor *m2, em_scalar beta, em_scalar alpha, em_tensor *out)
{
    if (check_ranks("addmm", m1, m2, 2, 2, "2-d matrices") < 0)
        return NULL;
    return product("addmm", m1, m2, input, beta, alpha, out);
}

em_tensor *em_addmv(em_tensor *input, em_tensor *mat, em_tensor *vec, em_scalar beta, em_scalar alpha,
                    em_tensor *out)
{
    if (check_ranks("addmv", mat, vec, 2, 1, "a 2-d matrix and a 1-d vector") < 0)
        return NULL;
    return product("addmv", mat, vec, input, beta, alpha, out);
}

em_tensor *em_baddbmm(em_tensor *input, em_tensor *b1, em_tensor *b2, em_scalar beta, em_scalar alpha,
                      em_tensor *out)
{
    if (check_bmm("baddbmm", b1, b2) < 0)
        return NULL;
    return product("baddbmm", b1, b2, input, beta, alpha, out);
}

/* ---- einsum: contractions as permute + reshape + batched GEMM ----
 * em_einsum_prepare (at the end) first writes '...' out as spare letters and
 * finds the broadcast sizes; es_run then only sees explicit equations. */

#define EINSUM_LETTERS 52

typedef struct {
    em_tensor *t;
    int n;
    char l[EM_MAX_DIMS]; /* one letter per dim */
} es_term;

static int es_index(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

static int es_find(const es_term *x, char c)
{
    for (int i = 0; i < x->n; i++)
        if (x->l[i] == c)
            return i;
    return -1;
}

/* Takes the diagonal for every letter repeated within one operand ('ii->i'). */
static int es_diagonals(es_term *x)
{
    for (int i = 0; i < x->n; i++)
        for (int j = i + 1; j < x->n; j++) {
            if (x->l[i] != x->l[j])
                continue;
            if (x->t->sizes[i] != x->t->sizes[j])
                return em_error("einsum: subscript %c is repeated for dimensions of different sizes (%lld and %lld)",
                                x->l[i], (long long)x->t->sizes[i], (long long)x->t->sizes[j]);
            em_tensor *d = em_diagonal(x->t, 0, i, j); /* the diagonal dim goes last */
            if (!d)
                return -1;
            char c = x->l[i];
            int k = 0;
            for (int q = 0; q < x->n; q++)
                if (q != i && q != j)
                    x->l[k++] = x->l[q];
            x->l[k++] = c;
            x->n = k;
            em_tensor_release(x->t);
            x->t = d;
            i = -1; /* rescan */
            break;
        }
    return 0;
}

/* Rewrites x to have exactly the letters of `keep` (in that order; every one must be
 * in x), summing over its other letters with a product against a vector of ones. */
static int es_reduce(es_term *x, const char *keep, int nkeep)
{
    int perm[EM_MAX_DIMS], np = 0;
    int64_t ksz[EM_MAX_DIMS], kn = 1, sn = 1;
    for (int i = 0; i < nkeep; i++) {
        perm[np] = es_find(x, keep[i]);
        ksz[i] = x->t->sizes[perm[np]];
        kn *= ksz[i];
        np++;
    }
    for (int i = 0; i < x->n; i++)
        if (!memchr(keep, x->l[i], (size_t)nkeep)) {
            perm[np++] = i;
            sn *= x->t->sizes[i];
        }
    em_tensor *p = em_permute(x->t, perm);
    if (!p)
        return -1;
    if (np > nkeep) { /* sum the trailing letters: (kn, sn) @ ones(sn) */
        int64_t s2[2] = { kn, sn };
        em_tensor *flat = em_reshape(p, 2, s2);
        em_tensor_release(p);
        p = NULL;
        int64_t one = sn;
        em_tensor *ones = flat ? em_full(1, &one, em_scalar_int(1), flat->dtype, em_tensor_device(flat)) : NULL;
        em_tensor *v = ones ? product("einsum", flat, ones, NULL, ZERO, ONE, NULL) : NULL;
        em_tensor_release(flat);
        em_tensor_release(ones);
        if (!v)
            return -1;
        p = em_view(v, nkeep, ksz);
        em_tensor_release(v);
        if (!p)
            return -1;
    }
    em_tensor_release(x->t);
    x->t = p;
    x->n = nkeep;
    memcpy(x->l, keep, (size_t)nkeep);
    return 0;
}

/* Contracts a and b into a (taking over both), keeping the letters in `need`. */
static int es_contract(es_term *a, es_term *b, const bool *need)
{
    char batch[EM_MAX_DIMS], ak[EM_MAX_DIMS], bk[EM_MAX_DIMS], con[EM_MAX_DIMS];
    int nb = 0, na = 0, nbk = 0, nc = 0;
    char akeep[EM_MAX_DIMS], bkeep[EM_MAX_DIMS];
    int nak = 0, nbkeep = 0;
    for (int i = 0; i < a->n; i++) {
        char c = a->l[i];
        bool inb = es_find(b, c) >= 0, nd = need[es_index(c)];
        if (inb && nd)
            batch[nb++] = c;
        else if (inb)
            con[nc++] = c;
        else if (nd)
            ak[na++] = c;
    }
    for (int i = 0; i < b->n; i++) {
        char c = b->l[i];
        if (es_find(a, c) < 0 && need[es_index(c)])
            bk[nbk++] = c;
    }
    /* a -> (batch, a-kept, contracted); b -> (batch, contracted, b-kept) */
    memcpy(akeep, batch, (size_t)nb), memcpy(akeep + nb, ak, (size_t)na), memcpy(akeep + nb + na, con, (size_t)nc);
    nak = nb + na + nc;
    memcpy(bkeep, batch, (size_t)nb), memcpy(bkeep + nb, con, (size_t)nc), memcpy(bkeep + nb + nc, bk, (size_t)nbk);
    nbkeep = nb + nc + nbk;
    if (es_reduce(a, akeep, nak) < 0 || es_reduce(b, bkeep, nbkeep) < 0)
        return -1;
    int64_t B = 1, M = 1, K = 1, N = 1, rs[EM_MAX_DIMS];
    int nr = 0;
    for (int i = 0; i < nb; i++)
        B *= a->t->sizes[i], rs[nr++] = a->t->sizes[i];
    for (int i = 0; i < na; i++)
        M *= a->t->sizes[nb + i], rs[nr++] = a->t->sizes[nb + i];
    for (int i = 0; i < nc; i++)
        K *= a->t->sizes[nb + na + i];
    for (int i = 0; i < nbk; i++)
        N *= b->t->sizes[nb + nc + i], rs[nr++] = b->t->sizes[nb + nc + i];
    int64_t s3a[3] = { B, M, K }, s3b[3] = { B, K, N };
    em_tensor *a3 = em_reshape(a->t, 3, s3a), *b3 = a3 ? em_reshape(b->t, 3, s3b) : NULL;
    em_tensor *r = b3 ? product("einsum", a3, b3, NULL, ZERO, ONE, NULL) : NULL;
    em_tensor *rv = r ? em_view(r, nr, rs) : NULL;
    em_tensor_release(a3);
    em_tensor_release(b3);
    em_tensor_release(r);
    if (!rv)
        return -1;
    em_tensor_release(a->t);
    em_tensor_release(b->t);
    b->t = NULL;
    a->t = rv;
    a->n = nr;
    memcpy(a->l, batch, (size_t)nb), memcpy(a->l + nb, ak, (size_t)na), memcpy(a->l + nb + na, bk, (size_t)nbk);
    return 0;
}

/* einsum of an equation em_einsum_prepare wrote, on operands of the shapes it gave. */
static em_tensor *es_run(const char *eq, int n, em_tensor *const *ops)
{
    es_term terms[EM_MAX_DIMS];
    char outl[EM_MAX_DIMS];
    int nout = 0;
    int64_t size_of[EINSUM_LETTERS];
    int count[EINSUM_LETTERS] = { 0 };
    if (n < 1 || n > EM_MAX_DIMS)
        return em_error("einsum: expected 1 to %d operands, got %d", EM_MAX_DIMS, n), NULL;
    for (int i = 0; i < EINSUM_LETTERS; i++)
        size_of[i] = -1;
    for (int i = 0; i < n; i++)
        terms[i].t = NULL;
    const char *p = eq;
    int ti = 0;
    em_tensor *res = NULL;
    /* operands' subscripts */
    terms[0].n = 0;
    for (; *p && !(p[0] == '-' && p[1] == '>'); p++) {
        char c = *p;
        if (c == ' ')
            continue;
        if (c == ',') {
            if (++ti < n)
                terms[ti].n = 0;
            continue;
        }
        if (ti >= n)
            continue; /* counted, reported below */
        int li = es_index(c);
        if (li < 0) {
            em_error("einsum: invalid subscript '%c' in \"%s\" (use letters a-z, A-Z)", c, eq);
            goto done;
        }
        if (terms[ti].n >= EM_MAX_DIMS) {
            em_error("einsum: too many subscripts for operand %d", ti + 1);
            goto done;
        }
        terms[ti].l[terms[ti].n++] = c;
        count[li]++;
    }
    if (ti != n - 1) {
        em_error("einsum: the equation has %d operands but %d were given", ti + 1, n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (terms[i].n != ops[i]->ndim) {
            em_error("einsum: operand %d has %d dimensions but the equation gives it %d subscripts", i + 1,
                     ops[i]->ndim, terms[i].n);
            goto done;
        }
        if (i > 0 && (ops[i]->dtype != ops[0]->dtype)) {
            em_error("einsum: expected all operands to have the same dtype, got %s and %s",
                     em_dtype_name(ops[0]->dtype), em_dtype_name(ops[i]->dtype));
            goto done;
        }
        for (int d = 0; d < terms[i].n; d++) {
            int li = es_index(terms[i].l[d]);
            if (size_of[li] >= 0 && size_of[li] != ops[i]->sizes[d]) {
                em_error("einsum: subscript %c has size %lld in operand %d, which does not match %lld",
                         terms[i].l[d], (long long)ops[i]->sizes[d], i + 1, (long long)size_of[li]);
                goto done;
            }
            size_of[li] = ops[i]->sizes[d];
        }
    }
    /* output subscripts: explicit, or every letter seen once, in alphabetical order */
    if (*p) {
        for (p += 2; *p; p++) {
            if (*p == ' ')
                continue;
            int li = es_index(*p);
            if (li < 0 || count[li] == 0) {
                em_error("einsum: output subscript '%c' does not appear in the inputs", *p);
                goto done;
            }
            if (memchr(outl, *p, (size_t)nout)) {
                em_error("einsum: output subscript '%c' appears more than once", *p);
                goto done;
            }
            outl[nout++] = *p;
        }
    } else {
        for (int li = 0; li < EINSUM_LETTERS; li++)
            if (count[li] == 1)
                outl[nout++] = (char)(li < 26 ? 'a' + li : 'A' + li - 26);
    }
    for (int i = 0; i < n; i++) {
        em_tensor_retain(ops[i]);
        terms[i].t = ops[i];
        if (es_diagonals(&terms[i]) < 0)
            goto done;
    }
    /* fold left: contract the running result with each next operand */
    for (int i = 1; i < n; i++) {
        bool need[EINSUM_LETTERS] = { false };
        for (int q = 0; q < nout; q++)
            need[es_index(outl[q])] = true;
        for (int j = i + 1; j < n; j++)
            for (int q = 0; q < terms[j].n; q++)
                need[es_index(terms[j].l[q])] = true;
        if (es_contract(&terms[0], &terms[i], need) < 0)
            goto done;
    }
    if (es_reduce(&terms[0], outl, nout) < 0)
        goto done;
    res = terms[0].t;
    terms[0].t = NULL;
done:
    for (int i = 0; i < n; i++)
        em_tensor_release(terms[i].t);
    return res;
}

static char es_letter(int li)
{
    return (char)(li < 26 ? 'a' + li : 'A' + li - 26);
}

/* p points at a '.': true when it starts '...'. */
static bool es_is_ellipsis(const char *p)
{
    return p[0] == '.' && p[1] == '.' && p[2] == '.';
}

int em_einsum_prepare(const char *eq, int n, em_tensor *const *ops, char *xeq, int64_t (*sizes)[EM_MAX_DIMS])
{
    char l[EM_MAX_DIMS][EM_MAX_DIMS]; /* each operand's letters, without the ellipsis */
    int nl[EM_MAX_DIMS] = { 0 }, ell_at[EM_MAX_DIMS], ne[EM_MAX_DIMS];
    int count[EINSUM_LETTERS] = { 0 };
    bool used[EINSUM_LETTERS] = { false };
    if (n < 1 || n > EM_MAX_DIMS)
        return em_error("einsum: expected 1 to %d operands, got %d", EM_MAX_DIMS, n);
    for (int i = 0; i < n; i++)
        ell_at[i] = -1;
    const char *p = eq;
    int ti = 0;
    for (; *p && !(p[0] == '-' && p[1] == '>'); p++) {
        char c = *p;
        if (c == ' ')
            continue;
        if (c == ',') {
            ti++;
            continue;
        }
        if (ti >= n)
            continue; /* counted, reported below */
        if (c == '.') {
            if (!es_is_ellipsis(p))
                return em_error("einsum: found '.' for operand %d that is not part of an ellipsis ('...')", ti + 1);
            if (ell_at[ti] >= 0)
                return em_error("einsum: operand %d has more than one ellipsis ('...')", ti + 1);
            ell_at[ti] = nl[ti];
            p += 2;
            continue;
        }
        int li = es_index(c);
        if (li < 0)
            return em_error("einsum: invalid subscript '%c' in \"%s\" (use letters a-z, A-Z)", c, eq);
        if (nl[ti] >= EM_MAX_DIMS)
            return em_error("einsum: too many subscripts for operand %d", ti + 1);
        l[ti][nl[ti]++] = c;
        count[li]++;
        used[li] = true;
    }
    if (ti != n - 1)
        return em_error("einsum: the equation has %d operands but %d were given", ti + 1, n);
    const char *outp = *p ? p + 2 : NULL;
    for (const char *q = outp; q && *q; q++)
        if (es_index(*q) >= 0)
            used[es_index(*q)] = true;
    /* the ellipsis dims: as many as each operand has beyond its letters */
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (ell_at[i] < 0 && nl[i] != ops[i]->ndim)
            return em_error("einsum: operand %d has %d dimensions but the equation gives it %d subscripts", i + 1,
                            ops[i]->ndim, nl[i]);
        if (ell_at[i] >= 0 && nl[i] > ops[i]->ndim)
            return em_error("einsum: operand %d has %d dimensions but the equation gives it %d subscripts besides "
                            "the ellipsis",
                            i + 1, ops[i]->ndim, nl[i]);
        ne[i] = ell_at[i] >= 0 ? ops[i]->ndim - nl[i] : 0;
        if (ne[i] > m)
            m = ne[i];
    }
    char ell[EM_MAX_DIMS]; /* letters for the ellipsis dims, right-aligned */
    for (int li = 0, k = 0; k < m; li++) {
        if (li == EINSUM_LETTERS)
            return em_error("einsum: no unused subscript letters are left for the %d dimensions of '...'", m);
        if (!used[li])
            ell[k++] = es_letter(li);
    }
    /* each operand's letters with its ellipsis written out, and the broadcast sizes */
    char full[EM_MAX_DIMS][EM_MAX_DIMS];
    int64_t size_of[EINSUM_LETTERS];
    for (int i = 0; i < EINSUM_LETTERS; i++)
        size_of[i] = -1;
    for (int i = 0; i < n; i++) {
        int k = 0;
        for (int q = 0; q <= nl[i]; q++) {
            if (q == ell_at[i])
                for (int e = m - ne[i]; e < m; e++)
                    full[i][k++] = ell[e];
            if (q < nl[i])
                full[i][k++] = l[i][q];
        }
        for (int d = 0; d < k; d++) {
            int li = es_index(full[i][d]);
            int64_t sz = ops[i]->sizes[d];
            const char *prev = memchr(full[i], full[i][d], (size_t)d);
            if (prev && ops[i]->sizes[prev - full[i]] != sz)
                return em_error("einsum: subscript %c is repeated for dimensions of different sizes (%lld and %lld)",
                                full[i][d], (long long)ops[i]->sizes[prev - full[i]], (long long)sz);
            if (size_of[li] < 0 || size_of[li] == 1) {
                size_of[li] = sz;
            } else if (sz != 1 && sz != size_of[li]) {
                if (!count[li])
                    return em_error("einsum: the dimensions of '...' do not broadcast: size %lld in operand %d "
                                    "against %lld",
                                    (long long)sz, i + 1, (long long)size_of[li]);
                return em_error("einsum: subscript %c has size %lld in operand %d, which does not broadcast with %lld",
                                full[i][d], (long long)sz, i + 1, (long long)size_of[li]);
            }
        }
    }
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            xeq[len++] = ',';
        for (int d = 0; d < ops[i]->ndim; d++) {
            sizes[i][d] = size_of[es_index(full[i][d])];
            xeq[len++] = full[i][d];
        }
    }
    xeq[len++] = '-';
    xeq[len++] = '>';
    size_t out_at = len;
    if (outp) {
        bool seen_ell = false;
        for (const char *q = outp; *q; q++) {
            if (*q == ' ')
                continue;
            if (*q == '.') {
                if (!es_is_ellipsis(q))
                    return em_error("einsum: found '.' in the output that is not part of an ellipsis ('...')");
                if (seen_ell)
                    return em_error("einsum: the output has more than one ellipsis ('...')");
                seen_ell = true;
                q += 2;
                if (len - out_at + (size_t)m > EM_MAX_DIMS)
                    return em_error("einsum: the output has more than %d dimensions", EM_MAX_DIMS);
                memcpy(xeq + len, ell, (size_t)m);
                len += (size_t)m;
                continue;
            }
            int li = es_index(*q);
            if (li < 0)
                return em_error("einsum: invalid subscript '%c' in \"%s\" (use letters a-z, A-Z)", *q, eq);
            if (!count[li])
                return em_error("einsum: output subscript '%c' does not appear in the inputs", *q);
            if (memchr(xeq + out_at, *q, len - out_at))
                return em_error("einsum: output subscript '%c' appears more than once", *q);
            if (len - out_at >= EM_MAX_DIMS)
                return em_error("einsum: the output has more than %d dimensions", EM_MAX_DIMS);
            xeq[len++] = *q;
        }
    } else {
        memcpy(xeq + len, ell, (size_t)m);
        len += (size_t)m;
        for (int li = 0; li < EINSUM_LETTERS; li++)
            if (count[li] == 1) {
                if (len - out_at >= EM_MAX_DIMS)
                    return em_error("einsum: the output has more than %d dimensions", EM_MAX_DIMS);
                xeq[len++] = es_letter(li);
            }
    }
    xeq[len] = '\0';
    return 0;
}

em_tensor *em_einsum(const char *eq, int n, em_tensor *const *ops)
{
    char xeq[EM_EINSUM_EQ_MAX];
    int64_t sizes[EM_MAX_DIMS][EM_MAX_DIMS];
    if (em_einsum_prepare(eq, n, ops, xeq, sizes) < 0)
        return NULL;
    em_tensor *ex[EM_MAX_DIMS];
    em_tensor *r = NULL;
    int k = 0;
    for (; k < n; k++)
        if (!(ex[k] = em_expand(ops[k], ops[k]->ndim, sizes[k])))
            goto done;
    r = es_run(xeq, n, ex);
done:
    for (int i = 0; i < k; i++)
        em_tensor_release(ex[i]);
    return r;
}
