/* Differentiable elementwise ops. Forward runs the plain core op; when recording,
 * a node saves what the formula needs (inputs, or the result as an output) and
 * the numbers of the call. Formulas are written with em_ag_ ops, so they are
 * themselves differentiable (create_graph). Gradients may come out broadcast or
 * promoted: the engine sums and casts them to each input. */
#include <math.h>
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "functions.h"

typedef struct ew_ctx {
    int op;
    em_ew_params p;
    em_scalar a, b; /* scalar operands (when the tensor side is absent) */
    bool a_is_tensor, b_is_tensor;
} ew_ctx;

static em_tensor *finish(em_node *n, em_tensor *out)
{
    if (em_set_history(out, n, 0) < 0) {
        em_node_release(n);
        em_tensor_release(out);
        return NULL;
    }
    em_node_release(n);
    return out;
}

static em_tensor *fail(em_node *n, em_tensor *out)
{
    em_node_release(n);
    em_tensor_release(out);
    return NULL;
}

/* Small constructors for formulas. */
static em_tensor *mul(em_tensor *a, em_tensor *b)
{
    return em_ag_binary(EM_BIN_MUL, em_arg_tensor(a), em_arg_tensor(b), NULL, NULL);
}
static em_tensor *mul_s(em_tensor *a, double s)
{
    return em_ag_binary(EM_BIN_MUL, em_arg_tensor(a), em_arg_scalar(em_scalar_double(s)), NULL, NULL);
}
static em_tensor *divt(em_tensor *a, em_tensor *b)
{
    return em_ag_binary(EM_BIN_DIV, em_arg_tensor(a), em_arg_tensor(b), NULL, NULL);
}
static em_tensor *neg(em_tensor *a)
{
    return em_ag_unary(EM_UN_NEG, a, NULL, NULL);
}
/* Releases a then returns r (for chains like r = f(take(tmp))). */
static em_tensor *drop(em_tensor *a, em_tensor *r)
{
    em_tensor_release(a);
    return r;
}

/* ---- unary ---- */

static bool unary_differentiable(em_unary_op op)
{
    return op < EM_UN_ISNAN && op != EM_UN_BITWISE_NOT;
}

static int unary_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const ew_ctx *c = n->ctx;
    em_tensor *g = go[0];
    em_tensor *x = em_node_saved(n, 0); /* input, or NULL when the formula uses the result */
    em_tensor *y = em_node_saved(n, 1);
    if ((n->saved[0].t || n->released) && !x)
        goto error;
    if ((n->saved[1].t || n->released) && !y)
        goto error;
    em_tensor *r = NULL;
    switch ((em_unary_op)c->op) {
    case EM_UN_NEG:
        r = neg(g);
        break;
    case EM_UN_EXP:
        r = mul(g, y);
        break;
    default:
        em_error("backward: %s has no gradient formula yet", n->name);
        goto error;
    }
    em_tensor_release(x);
    em_tensor_release(y);
    gi[0] = r;
    return r ? 0 : -1;
error:
    em_tensor_release(x);
    em_tensor_release(y);
    return -1;
}

/* What the formula of each op reads: 1 the input, 2 the result, 3 both. */
static int unary_saves(em_unary_op op)
{
    switch (op) {
    case EM_UN_NEG:
        return 0;
    case EM_UN_EXP:
        return 2;
    default:
        return 1;
    }
}

static const char *unary_node_name(em_unary_op op)
{
    static char names[EM_UN_COUNT][32];
    char *s = names[op];
    if (!s[0]) {
        const char *b = em_unary_name(op);
        size_t k = 0;
        for (; b[k] && k < 20; k++)
            s[k] = (char)(k == 0 ? b[k] - 'a' + 'A' : b[k]);
        memcpy(s + k, "Backward", 9);
    }
    return s;
}

em_tensor *em_ag_unary(em_unary_op op, em_tensor *x, const em_ew_params *p, em_tensor *out)
{
    if (!em_ag_wants(x) || !unary_differentiable(op))
        return em_unary(op, x, p, out);
    if (out)
        return em_error("%s: out= cannot be used when an input requires grad", em_unary_name(op)), NULL;
    em_tensor *r = em_unary(op, x, p, NULL);
    if (!r)
        return NULL;
    em_node *n = em_node_new(unary_node_name(op), unary_backward, 1, 1, 2, sizeof(ew_ctx));
    if (!n)
        return fail(n, r);
    ew_ctx *c = n->ctx;
    c->op = op;
    if (p)
        c->p = *p;
    int saves = unary_saves(op);
    if (em_node_set_next(n, 0, x) < 0)
        return fail(n, r);
    if (saves & 1)
        em_node_save(n, 0, x);
    if ((saves & 2) && em_node_save_output(n, 1, r, 0) < 0)
        return fail(n, r);
    return finish(n, r);
}

int em_ag_unary_(em_unary_op op, em_tensor *self, const em_ew_params *p)
{
    if (!unary_differentiable(op) || !em_ag_inplace_records(self, 0, NULL))
        return em_unary_(op, self, p);
    if (em_ag_check_inplace(self, em_unary_name(op)) < 0)
        return -1;
    em_tensor *xc = em_ag_clone(self);
    if (!xc)
        return -1;
    em_tensor *r = em_ag_unary(op, xc, p, NULL);
    em_tensor_release(xc);
    return em_ag_commit_inplace(self, r);
}

/* ---- binary ---- */

static bool binary_differentiable(em_binary_op op)
{
    switch (op) {
    case EM_BIN_ADD: case EM_BIN_SUB: case EM_BIN_MUL: case EM_BIN_DIV:
        return true;
    default:
        return false;
    }
}

static const char *binary_node_name(em_binary_op op)
{
    switch (op) {
    case EM_BIN_ADD: return "AddBackward";
    case EM_BIN_SUB: return "SubBackward";
    case EM_BIN_MUL: return "MulBackward";
    case EM_BIN_DIV: return "DivBackward";
    default: return "BinaryBackward";
    }
}

/* An operand as a tensor for formulas: the saved tensor, or the scalar. */
static int binary_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const ew_ctx *c = n->ctx;
    em_tensor *g = go[0];
    em_tensor *a = NULL, *b = NULL;
    int rc = -1;
    if (n->saved[0].t || n->released) {
        if (!(a = em_node_saved(n, 0)))
            goto done;
    }
    if (n->saved[1].t || n->released) {
        if (!(b = em_node_saved(n, 1)))
            goto done;
    }
    bool need_a = em_node_needs(n, 0), need_b = em_node_needs(n, 1);
    double alpha = c->p.alpha.is_int ? (double)c->p.alpha.i : c->p.alpha.d;
    em_arg bv = b ? em_arg_tensor(b) : em_arg_scalar(c->b);
    switch ((em_binary_op)c->op) {
    case EM_BIN_ADD:
    case EM_BIN_SUB:
        if (need_a) {
            em_tensor_retain(g);
            gi[0] = g;
        }
        if (need_b)
            gi[1] = mul_s(g, c->op == EM_BIN_SUB ? -alpha : alpha);
        break;
    case EM_BIN_MUL:
        if (need_a)
            gi[0] = em_ag_binary(EM_BIN_MUL, em_arg_tensor(g), bv, NULL, NULL);
        if (need_b)
            gi[1] = mul(g, a);
        break;
    case EM_BIN_DIV:
        if (need_a)
            gi[0] = em_ag_binary(EM_BIN_DIV, em_arg_tensor(g), bv, NULL, NULL);
        if (need_b) {
            /* -g * a / b^2 */
            em_tensor *t = divt(g, b);
            em_tensor *t2 = t ? drop(t, divt(t, b)) : NULL;
            em_tensor *t3 = t2 ? drop(t2, mul(t2, a)) : NULL;
            gi[1] = t3 ? drop(t3, neg(t3)) : NULL;
        }
        break;
    default:
        em_error("backward: %s has no gradient formula yet", n->name);
        goto done;
    }
    rc = ((need_a && !gi[0]) || (need_b && !gi[1])) ? -1 : 0;
done:
    em_tensor_release(a);
    em_tensor_release(b);
    return rc;
}

em_tensor *em_ag_binary(em_binary_op op, em_arg a, em_arg b, const em_ew_params *p, em_tensor *out)
{
    bool wa = em_ag_wants(a.t), wb = em_ag_wants(b.t);
    if ((!wa && !wb) || !binary_differentiable(op))
        return em_binary(op, a, b, p, out);
    if (out)
        return em_error("%s: out= cannot be used when an input requires grad", em_binary_name(op)), NULL;
    em_tensor *r = em_binary(op, a, b, p, NULL);
    if (!r)
        return NULL;
    if (!em_dtype_is_float(r->dtype))
        return r;
    em_node *n = em_node_new(binary_node_name(op), binary_backward, 2, 1, 2, sizeof(ew_ctx));
    if (!n)
        return fail(n, r);
    ew_ctx *c = n->ctx;
    c->op = op;
    if (p)
        c->p = *p;
    else
        c->p.alpha = em_scalar_int(1);
    c->a = a.s;
    c->b = b.s;
    if (em_node_set_next(n, 0, a.t) < 0 || em_node_set_next(n, 1, b.t) < 0)
        return fail(n, r);
    /* each formula saves only the operands it reads */
    switch (op) {
    case EM_BIN_MUL:
        if (wb && a.t)
            em_node_save(n, 0, a.t);
        if (wa && b.t)
            em_node_save(n, 1, b.t);
        break;
    case EM_BIN_DIV:
        if (wb && a.t)
            em_node_save(n, 0, a.t);
        if (b.t)
            em_node_save(n, 1, b.t);
        break;
    default:
        break;
    }
    return finish(n, r);
}

int em_ag_binary_(em_binary_op op, em_tensor *self, em_arg b, const em_ew_params *p)
{
    em_tensor *in[1] = { b.t };
    if (!binary_differentiable(op) || !em_ag_inplace_records(self, 1, in))
        return em_binary_(op, self, b, p);
    if (em_ag_check_inplace(self, em_binary_name(op)) < 0)
        return -1;
    em_tensor *xc = em_ag_clone(self);
    if (!xc)
        return -1;
    em_tensor *r = em_ag_binary(op, em_arg_tensor(xc), b, p, NULL);
    em_tensor_release(xc);
    return em_ag_commit_inplace(self, r);
}
