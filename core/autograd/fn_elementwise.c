/* Differentiable elementwise ops: unary, binary and ternary maps and clamp.
 * Forward runs the plain core op; when recording, a node saves what the formula
 * reads (inputs, or the result where that is cheaper: exp, tanh, sqrt, ...) and
 * the numbers of the call. Formulas are PyTorch's, special points included (abs
 * and relu at 0, pow at 0^0, maximum's ties, clamp's bounds), written with em_ag_
 * ops so that they are differentiable themselves (create_graph). Gradients may
 * come out broadcast or promoted: the engine sums and casts them to each input. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "functions.h"

/* Saved slots: the operands in order (unary: slot 0 is the input), then the result. */
enum { SLOT_RESULT = 3, N_SLOTS = 4 };

typedef struct ew_ctx {
    int op;
    em_ew_params p;
    em_scalar s[3];  /* operands given as numbers */
    unsigned saved;  /* bit k: slot k holds a tensor the formula reads */
} ew_ctx;

static double sval(em_scalar s)
{
    return s.is_int ? (double)s.i : s.d;
}

/* ---- recording ---- */

/* A node for an op on k operands: edges to the tensor operands, numbers in ctx. */
static em_node *node_new(const char *name, em_backward_fn fn, int op, int k, const em_arg *args,
                         const em_ew_params *p)
{
    em_node *n = em_node_new(name, fn, k, 1, N_SLOTS, sizeof(ew_ctx));
    if (!n)
        return NULL;
    ew_ctx *c = n->ctx;
    c->op = op;
    if (p) {
        c->p = *p;
    } else {
        c->p.alpha = em_scalar_int(1);
        c->p.value = em_scalar_int(1);
    }
    for (int i = 0; i < k; i++) {
        c->s[i] = args[i].s;
        if (em_node_set_next(n, i, args[i].t) < 0) {
            em_node_release(n);
            return NULL;
        }
    }
    return n;
}

/* Saves operand t (when it is a tensor) in its slot. */
static int save_in(em_node *n, int slot, em_tensor *t)
{
    if (!t)
        return 0;
    ((ew_ctx *)n->ctx)->saved |= 1u << slot;
    return em_node_save(n, slot, t);
}

static int save_result(em_node *n, em_tensor *r)
{
    ((ew_ctx *)n->ctx)->saved |= 1u << SLOT_RESULT;
    return em_node_save_output(n, SLOT_RESULT, r, 0);
}

/* Gives out its history (consumes n); NULL and out released on failure. */
static em_tensor *finish(em_node *n, em_tensor *out, int rc)
{
    if (rc < 0 || em_set_history(out, n, 0) < 0) {
        em_node_release(n);
        em_tensor_release(out);
        return NULL;
    }
    em_node_release(n);
    return out;
}

/* "add" -> "add_" for messages about in-place calls */
static const char *inplace_name(char *buf, size_t size, const char *base)
{
    snprintf(buf, size, "%s_", base);
    return buf;
}

/* The result of an in-place op computed out of place must have self's shape. */
static int check_inplace_shape(const char *name, const em_tensor *self, const em_tensor *r)
{
    if (em_same_shape(self, r))
        return 0;
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    return em_error("%s_: output with shape %s doesn't match the broadcast shape %s", name,
                    em_tensor_shape_str(self, b1, sizeof b1), em_tensor_shape_str(r, b2, sizeof b2));
}

/* The in-place pattern (core/autograd/fn_copy.h): r was computed out of place from
 * a clone of self; write it into self with r's history. */
static int commit(em_tensor *self, const char *name, em_tensor *r)
{
    if (r && check_inplace_shape(name, self, r) < 0) {
        em_tensor_release(r);
        return -1;
    }
    return em_ag_commit_inplace(self, r);
}

/* ---- formulas ----
 * A formula's temporaries live in an fx and are released when it ends. After a
 * failed step the later ones return NULL without running, so formulas read as
 * straight-line math and are checked once at the end. */
typedef struct fx {
    em_tensor *tmp[24];
    int n;
    bool failed;
} fx;

static em_tensor *keep(fx *f, em_tensor *t)
{
    if (!t) {
        f->failed = true;
        return NULL;
    }
    assert(f->n < (int)(sizeof f->tmp / sizeof f->tmp[0]));
    f->tmp[f->n++] = t;
    return t;
}

static em_arg T(em_tensor *t)
{
    return em_arg_tensor(t);
}
static em_arg S(double v)
{
    return em_arg_scalar(em_scalar_double(v));
}

static em_tensor *bin(fx *f, em_binary_op op, em_arg a, em_arg b)
{
    return f->failed ? NULL : keep(f, em_ag_binary(op, a, b, NULL, NULL));
}
static em_tensor *un(fx *f, em_unary_op op, em_tensor *x)
{
    return f->failed ? NULL : keep(f, em_ag_unary(op, x, NULL, NULL));
}
static em_tensor *where(fx *f, em_tensor *cond, em_arg a, em_arg b)
{
    return f->failed ? NULL : keep(f, em_ag_ternary(EM_TER_WHERE, T(cond), a, b, NULL, NULL));
}
static em_tensor *zeros(fx *f, const em_tensor *like)
{
    return f->failed ? NULL
                     : keep(f, em_full(like->ndim, like->sizes, em_scalar_int(0), like->dtype, em_tensor_device(like)));
}
static em_tensor *cast(fx *f, em_tensor *t, em_dtype dt)
{
    return f->failed ? NULL : keep(f, em_ag_to_dtype(t, dt, false));
}
static em_tensor *mul(fx *f, em_tensor *a, em_tensor *b) { return bin(f, EM_BIN_MUL, T(a), T(b)); }
static em_tensor *divt(fx *f, em_tensor *a, em_tensor *b) { return bin(f, EM_BIN_DIV, T(a), T(b)); }
static em_tensor *muls(fx *f, em_tensor *a, double v) { return bin(f, EM_BIN_MUL, T(a), S(v)); }
static em_tensor *adds(fx *f, em_tensor *a, double v) { return bin(f, EM_BIN_ADD, T(a), S(v)); }
static em_tensor *rsubs(fx *f, double v, em_tensor *a) { return bin(f, EM_BIN_SUB, S(v), T(a)); }
static em_tensor *neg(fx *f, em_tensor *a) { return un(f, EM_UN_NEG, a); }
/* g where cond holds, 0 elsewhere; and the other way round */
static em_tensor *pass_if(fx *f, em_tensor *cond, em_tensor *g) { return where(f, cond, T(g), S(0)); }
static em_tensor *zero_if(fx *f, em_tensor *cond, em_tensor *g) { return where(f, cond, S(0), T(g)); }

/* a*a for an operand that may be a number */
static em_arg sq(fx *f, em_arg a)
{
    if (!a.t)
        return S(sval(a.s) * sval(a.s));
    return T(bin(f, EM_BIN_MUL, a, a));
}
/* a - b for operands that may both be numbers */
static em_arg sub(fx *f, em_arg a, em_arg b)
{
    if (!a.t && !b.t)
        return S(sval(a.s) - sval(b.s));
    return T(bin(f, EM_BIN_SUB, a, b));
}

/* An operand for a formula: its saved tensor, or the number it was. */
static em_arg operand(const ew_ctx *c, em_tensor **sv, int i)
{
    return sv[i] ? T(sv[i]) : em_arg_scalar(c->s[i]);
}

typedef void (*formula_fn)(fx *f, const ew_ctx *c, em_tensor *g, em_tensor **sv, const bool *need, em_tensor **r);

/* Loads the saved tensors, runs the formula, hands out the gradients. */
static int run_formula(em_node *n, em_tensor **go, em_tensor **gi, formula_fn fn)
{
    const ew_ctx *c = n->ctx;
    em_tensor *sv[N_SLOTS] = { NULL, NULL, NULL, NULL };
    int rc = 0;
    for (int i = 0; i < N_SLOTS && rc == 0; i++)
        if (((c->saved >> i) & 1u) && !(sv[i] = em_node_saved(n, i)))
            rc = -1;
    fx f = { .n = 0, .failed = false };
    if (rc == 0) {
        bool need[3] = { false, false, false };
        em_tensor *r[3] = { NULL, NULL, NULL };
        for (int i = 0; i < n->n_next && i < 3; i++)
            need[i] = em_node_needs(n, i);
        fn(&f, c, go[0], sv, need, r);
        for (int i = 0; i < n->n_next && i < 3 && rc == 0; i++) {
            if (!need[i])
                continue;
            if (f.failed || !r[i]) {
                if (!f.failed)
                    em_error("backward: %s computed no gradient for input %d", n->name, i + 1);
                rc = -1;
                break;
            }
            em_tensor_retain(r[i]);
            gi[i] = r[i];
        }
    }
    for (int i = 0; i < f.n; i++)
        em_tensor_release(f.tmp[i]);
    for (int i = 0; i < N_SLOTS; i++)
        em_tensor_release(sv[i]);
    return rc;
}

/* ---- clamp ----
 * PyTorch's convention: the input gets the gradient where lo <= x <= hi (bounds
 * included); a tensor bound gets it where it is the value taken (x beyond it), lo
 * only while lo < hi, hi also wherever hi < lo (then hi is the result). */

static void clamp_formula(fx *f, const ew_ctx *c, em_tensor *g, em_tensor **sv, const bool *need, em_tensor **r)
{
    em_tensor *x = sv[0];
    em_arg lo = operand(c, sv, 1), hi = operand(c, sv, 2);
    bool hl = c->p.has_lo, hh = c->p.has_hi;
    if (need[0]) {
        em_tensor *ge = hl ? bin(f, EM_BIN_GE, T(x), lo) : NULL;
        em_tensor *le = hh ? bin(f, EM_BIN_LE, T(x), hi) : NULL;
        em_tensor *m = hl && hh ? bin(f, EM_BIN_LOGICAL_AND, T(ge), T(le)) : hl ? ge : le;
        r[0] = pass_if(f, m, g);
    }
    if (need[1]) {
        em_tensor *m = bin(f, EM_BIN_LT, T(x), lo);
        if (hh)
            m = bin(f, EM_BIN_LOGICAL_AND, T(m), T(bin(f, EM_BIN_LT, lo, hi)));
        r[1] = pass_if(f, m, g);
    }
    if (need[2]) {
        em_tensor *m = bin(f, EM_BIN_GT, T(x), hi);
        if (hl)
            m = bin(f, EM_BIN_LOGICAL_OR, T(m), T(bin(f, EM_BIN_LT, hi, lo)));
        r[2] = pass_if(f, m, g);
    }
}

static int clamp_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    return run_formula(n, go, gi, clamp_formula);
}

em_tensor *em_ag_clamp(em_tensor *x, const em_arg *lo, const em_arg *hi, em_tensor *out)
{
    bool wants = em_ag_wants(x) || (lo && em_ag_wants(lo->t)) || (hi && em_ag_wants(hi->t));
    if (!wants)
        return em_clamp(x, lo, hi, out);
    if (out)
        return em_ag_refuse_out("clamp"), NULL;
    em_tensor *r = em_clamp(x, lo, hi, NULL);
    if (!r || !em_dtype_is_float(r->dtype))
        return r;
    em_ew_params p;
    memset(&p, 0, sizeof p);
    p.has_lo = lo != NULL;
    p.has_hi = hi != NULL;
    em_arg none = em_arg_scalar(em_scalar_int(0));
    em_arg args[3] = { em_arg_tensor(x), lo ? *lo : none, hi ? *hi : none };
    const char *name = lo && hi ? "ClampBackward" : lo ? "ClampMinBackward" : "ClampMaxBackward";
    em_node *n = node_new(name, clamp_backward, 0, 3, args, &p);
    if (!n)
        return em_tensor_release(r), NULL;
    int rc = save_in(n, 0, x);
    for (int i = 1; i < 3 && rc == 0; i++)
        rc = save_in(n, i, args[i].t);
    return finish(n, r, rc);
}

int em_ag_clamp_(em_tensor *self, const em_arg *lo, const em_arg *hi)
{
    em_tensor *in[2] = { lo ? lo->t : NULL, hi ? hi->t : NULL };
    if (!em_ag_inplace_records(self, 2, in))
        return em_clamp_(self, lo, hi);
    if (em_ag_check_inplace(self, "clamp_") < 0)
        return -1;
    em_tensor *xc = em_ag_clone(self);
    if (!xc)
        return -1;
    em_tensor *r = em_ag_clamp(xc, lo, hi, NULL);
    em_tensor_release(xc);
    return commit(self, "clamp", r);
}

/* ---- unary ---- */

/* clamp is differentiable too, through em_ag_clamp (its own node) */
static bool unary_differentiable(em_unary_op op)
{
    return op < EM_UN_ISNAN && op != EM_UN_BITWISE_NOT && op != EM_UN_CLAMP;
}

static const char *const unary_node_names[EM_UN_COUNT] = {
    [EM_UN_NEG] = "NegBackward", [EM_UN_ABS] = "AbsBackward", [EM_UN_SIGN] = "SignBackward",
    [EM_UN_FLOOR] = "FloorBackward", [EM_UN_CEIL] = "CeilBackward", [EM_UN_ROUND] = "RoundBackward",
    [EM_UN_TRUNC] = "TruncBackward", [EM_UN_RELU] = "ReluBackward", [EM_UN_FRAC] = "FracBackward",
    [EM_UN_CLAMP] = "ClampBackward", [EM_UN_NAN_TO_NUM] = "NanToNumBackward", [EM_UN_EXP] = "ExpBackward",
    [EM_UN_EXPM1] = "Expm1Backward", [EM_UN_LOG] = "LogBackward", [EM_UN_LOG1P] = "Log1PBackward",
    [EM_UN_LOG2] = "Log2Backward", [EM_UN_LOG10] = "Log10Backward", [EM_UN_SQRT] = "SqrtBackward",
    [EM_UN_RSQRT] = "RsqrtBackward", [EM_UN_RECIPROCAL] = "ReciprocalBackward", [EM_UN_SIN] = "SinBackward",
    [EM_UN_COS] = "CosBackward", [EM_UN_TAN] = "TanBackward", [EM_UN_ASIN] = "AsinBackward",
    [EM_UN_ACOS] = "AcosBackward", [EM_UN_ATAN] = "AtanBackward", [EM_UN_SINH] = "SinhBackward",
    [EM_UN_COSH] = "CoshBackward", [EM_UN_TANH] = "TanhBackward", [EM_UN_SIGMOID] = "SigmoidBackward",
    [EM_UN_ERF] = "ErfBackward",
};

/* What each formula reads: 1 the input, 2 the result, 0 nothing. */
static int unary_saves(em_unary_op op)
{
    switch (op) {
    case EM_UN_NEG: case EM_UN_SIGN: case EM_UN_FLOOR: case EM_UN_CEIL: case EM_UN_ROUND: case EM_UN_TRUNC:
    case EM_UN_FRAC:
        return 0;
    case EM_UN_RELU: case EM_UN_EXP: case EM_UN_EXPM1: case EM_UN_SQRT: case EM_UN_RSQRT: case EM_UN_RECIPROCAL:
    case EM_UN_TAN: case EM_UN_TANH: case EM_UN_SIGMOID:
        return 2;
    default:
        return 1;
    }
}

static void unary_formula(fx *f, const ew_ctx *c, em_tensor *g, em_tensor **sv, const bool *need, em_tensor **r)
{
    (void)need;
    em_tensor *x = sv[0], *y = sv[SLOT_RESULT];
    switch ((em_unary_op)c->op) {
    case EM_UN_NEG:
        r[0] = neg(f, g);
        break;
    case EM_UN_ABS: /* sign(0) = 0: abs'(0) = 0 */
        r[0] = mul(f, g, un(f, EM_UN_SIGN, x));
        break;
    case EM_UN_SIGN: case EM_UN_FLOOR: case EM_UN_CEIL: case EM_UN_ROUND: case EM_UN_TRUNC:
        r[0] = zeros(f, g);
        break;
    case EM_UN_RELU: /* threshold_backward: 0 where the result is <= 0 (so 0 at 0) */
        r[0] = zero_if(f, bin(f, EM_BIN_LE, T(y), S(0)), g);
        break;
    case EM_UN_FRAC:
        r[0] = g;
        break;
    case EM_UN_NAN_TO_NUM: /* a replaced value is a constant */
        r[0] = bin(f, EM_BIN_MUL, T(g), T(un(f, EM_UN_ISFINITE, x)));
        break;
    case EM_UN_EXP:
        r[0] = mul(f, g, y);
        break;
    case EM_UN_EXPM1:
        r[0] = mul(f, g, adds(f, y, 1));
        break;
    case EM_UN_LOG:
        r[0] = divt(f, g, x);
        break;
    case EM_UN_LOG1P:
        r[0] = divt(f, g, adds(f, x, 1));
        break;
    case EM_UN_LOG2:
        r[0] = divt(f, g, muls(f, x, M_LN2));
        break;
    case EM_UN_LOG10:
        r[0] = divt(f, g, muls(f, x, M_LN10));
        break;
    case EM_UN_SQRT:
        r[0] = divt(f, g, muls(f, y, 2));
        break;
    case EM_UN_RSQRT: /* -1/2 x^-3/2 = -1/2 y^3 */
        r[0] = mul(f, muls(f, g, -0.5), bin(f, EM_BIN_POW, T(y), em_arg_scalar(em_scalar_int(3))));
        break;
    case EM_UN_RECIPROCAL: /* -1/x^2 = -y^2 */
        r[0] = mul(f, neg(f, g), mul(f, y, y));
        break;
    case EM_UN_SIN:
        r[0] = mul(f, g, un(f, EM_UN_COS, x));
        break;
    case EM_UN_COS:
        r[0] = mul(f, g, neg(f, un(f, EM_UN_SIN, x)));
        break;
    case EM_UN_TAN: /* 1 + tan^2 */
        r[0] = mul(f, g, adds(f, mul(f, y, y), 1));
        break;
    case EM_UN_ASIN:
        r[0] = mul(f, g, un(f, EM_UN_RSQRT, rsubs(f, 1, mul(f, x, x))));
        break;
    case EM_UN_ACOS:
        r[0] = mul(f, g, neg(f, un(f, EM_UN_RSQRT, rsubs(f, 1, mul(f, x, x)))));
        break;
    case EM_UN_ATAN:
        r[0] = divt(f, g, adds(f, mul(f, x, x), 1));
        break;
    case EM_UN_SINH:
        r[0] = mul(f, g, un(f, EM_UN_COSH, x));
        break;
    case EM_UN_COSH:
        r[0] = mul(f, g, un(f, EM_UN_SINH, x));
        break;
    case EM_UN_TANH:
        r[0] = mul(f, g, rsubs(f, 1, mul(f, y, y)));
        break;
    case EM_UN_SIGMOID:
        r[0] = mul(f, g, mul(f, rsubs(f, 1, y), y));
        break;
    case EM_UN_ERF: /* 2/sqrt(pi) exp(-x^2) */
        r[0] = mul(f, g, muls(f, un(f, EM_UN_EXP, neg(f, mul(f, x, x))), M_2_SQRTPI));
        break;
    default:
        em_error("backward: %s has no gradient formula", em_unary_name((em_unary_op)c->op));
        f->failed = true;
        break;
    }
}

static int unary_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    return run_formula(n, go, gi, unary_formula);
}

/* clamp with number bounds given as a unary op */
static void clamp_bounds(const em_ew_params *p, em_arg *lo, em_arg *hi)
{
    *lo = em_arg_scalar(p->lo);
    *hi = em_arg_scalar(p->hi);
}

em_tensor *em_ag_unary(em_unary_op op, em_tensor *x, const em_ew_params *p, em_tensor *out)
{
    if (op == EM_UN_CLAMP && p && (p->has_lo || p->has_hi)) {
        em_arg lo, hi;
        clamp_bounds(p, &lo, &hi);
        return em_ag_clamp(x, p->has_lo ? &lo : NULL, p->has_hi ? &hi : NULL, out);
    }
    if (!em_ag_wants(x) || !unary_differentiable(op))
        return em_unary(op, x, p, out);
    if (out)
        return em_ag_refuse_out(em_unary_name(op)), NULL;
    em_tensor *r = em_unary(op, x, p, NULL);
    if (!r || !em_dtype_is_float(r->dtype))
        return r;
    em_arg a = em_arg_tensor(x);
    em_node *n = node_new(unary_node_names[op], unary_backward, op, 1, &a, p);
    if (!n)
        return em_tensor_release(r), NULL;
    int saves = unary_saves(op), rc = 0;
    if (saves & 1)
        rc = save_in(n, 0, x);
    if (rc == 0 && (saves & 2))
        rc = save_result(n, r);
    return finish(n, r, rc);
}

int em_ag_unary_(em_unary_op op, em_tensor *self, const em_ew_params *p)
{
    if (op == EM_UN_CLAMP && p && (p->has_lo || p->has_hi)) {
        em_arg lo, hi;
        clamp_bounds(p, &lo, &hi);
        return em_ag_clamp_(self, p->has_lo ? &lo : NULL, p->has_hi ? &hi : NULL);
    }
    if (!em_ag_inplace_records(self, 0, NULL))
        return em_unary_(op, self, p);
    char name[48];
    if (em_ag_check_inplace(self, inplace_name(name, sizeof name, em_unary_name(op))) < 0)
        return -1;
    if (!unary_differentiable(op)) {
        /* logical_not_ on a float tensor: the new values are constants */
        em_tensor *xc = em_clone(self);
        if (!xc || em_unary_(op, xc, p) < 0)
            return em_tensor_release(xc), -1;
        return em_ag_commit_inplace(self, xc);
    }
    em_tensor *xc = em_ag_clone(self);
    if (!xc)
        return -1;
    em_tensor *r = em_ag_unary(op, xc, p, NULL);
    em_tensor_release(xc);
    return commit(self, em_unary_name(op), r);
}

/* ---- binary ---- */

static bool binary_differentiable(em_binary_op op)
{
    return op <= EM_BIN_MINIMUM;
}

static const char *const binary_node_names[EM_BIN_COUNT] = {
    [EM_BIN_ADD] = "AddBackward", [EM_BIN_SUB] = "SubBackward", [EM_BIN_MUL] = "MulBackward",
    [EM_BIN_DIV] = "DivBackward", [EM_BIN_DIV_FLOOR] = "FloorDivideBackward", [EM_BIN_DIV_TRUNC] = "DivBackward",
    [EM_BIN_REMAINDER] = "RemainderBackward", [EM_BIN_FMOD] = "FmodBackward", [EM_BIN_POW] = "PowBackward",
    [EM_BIN_ATAN2] = "Atan2Backward", [EM_BIN_MAXIMUM] = "MaximumBackward", [EM_BIN_MINIMUM] = "MinimumBackward",
};

/* pow: PyTorch's pow_backward_self / pow_backward_exponent. The base gets 0 where
 * the exponent is 0 (so 0^0 has gradient 0); the exponent gets g * x^y * log(x),
 * with 0 where x == 0 and y >= 0 (log 0 = -inf would give nan or -inf there). */
static void pow_formula(fx *f, em_tensor *g, em_arg a, em_arg b, em_tensor *y, const bool *need, em_tensor **r)
{
    if (need[0] && !b.t) { /* tensor ^ number */
        em_scalar e = b.s;
        if (sval(e) == 0) {
            r[0] = zeros(f, g);
        } else {
            em_scalar e1 = e.is_int && !e.is_bool ? em_scalar_int(e.i - 1) : em_scalar_double(sval(e) - 1);
            em_tensor *d = bin(f, EM_BIN_MUL, T(bin(f, EM_BIN_POW, a, em_arg_scalar(e1))), b);
            r[0] = mul(f, g, d);
        }
    } else if (need[0]) {
        em_tensor *d = bin(f, EM_BIN_MUL, b, T(bin(f, EM_BIN_POW, a, T(bin(f, EM_BIN_SUB, b, S(1))))));
        r[0] = zero_if(f, bin(f, EM_BIN_EQ, b, S(0)), mul(f, g, d));
    }
    if (need[1] && !a.t) { /* number ^ tensor */
        double base = sval(a.s);
        em_tensor *d = muls(f, y, log(base));
        if (base == 0)
            d = zero_if(f, bin(f, EM_BIN_GE, b, S(0)), d);
        r[1] = mul(f, g, d);
    } else if (need[1]) {
        em_tensor *m = bin(f, EM_BIN_LOGICAL_AND, T(bin(f, EM_BIN_EQ, a, S(0))), T(bin(f, EM_BIN_GE, b, S(0))));
        em_tensor *la = f->failed ? NULL : un(f, EM_UN_LOG, cast(f, a.t, y->dtype));
        r[1] = mul(f, g, zero_if(f, m, mul(f, y, la)));
    }
}

static void binary_formula(fx *f, const ew_ctx *c, em_tensor *g, em_tensor **sv, const bool *need, em_tensor **r)
{
    em_arg a = operand(c, sv, 0), b = operand(c, sv, 1);
    em_binary_op op = (em_binary_op)c->op;
    switch (op) {
    case EM_BIN_ADD:
    case EM_BIN_SUB: {
        double alpha = sval(c->p.alpha);
        r[0] = g;
        if (need[1])
            r[1] = op == EM_BIN_ADD && alpha == 1 ? g : muls(f, g, op == EM_BIN_SUB ? -alpha : alpha);
        break;
    }
    case EM_BIN_MUL:
        if (need[0])
            r[0] = bin(f, EM_BIN_MUL, T(g), b);
        if (need[1])
            r[1] = bin(f, EM_BIN_MUL, T(g), a);
        break;
    case EM_BIN_DIV:
        if (need[0])
            r[0] = bin(f, EM_BIN_DIV, T(g), b);
        if (need[1]) /* -g a / b^2 */
            r[1] = divt(f, bin(f, EM_BIN_MUL, T(neg(f, g)), a), mul(f, b.t, b.t));
        break;
    case EM_BIN_DIV_FLOOR:
    case EM_BIN_DIV_TRUNC: /* piecewise constant */
        if (need[0])
            r[0] = zeros(f, g);
        if (need[1])
            r[1] = zeros(f, g);
        break;
    case EM_BIN_REMAINDER:
    case EM_BIN_FMOD: /* a - q b with q = a // b (floor or trunc) held constant */
        r[0] = g;
        if (need[1])
            r[1] = mul(f, neg(f, g), bin(f, op == EM_BIN_REMAINDER ? EM_BIN_DIV_FLOOR : EM_BIN_DIV_TRUNC, a, b));
        break;
    case EM_BIN_POW:
        pow_formula(f, g, a, b, sv[SLOT_RESULT], need, r);
        break;
    case EM_BIN_ATAN2: { /* (b, -a) / (a^2 + b^2) */
        em_tensor *den = bin(f, EM_BIN_ADD, sq(f, a), sq(f, b));
        if (need[0])
            r[0] = divt(f, bin(f, EM_BIN_MUL, T(g), b), den);
        if (need[1])
            r[1] = divt(f, bin(f, EM_BIN_MUL, T(neg(f, g)), a), den);
        break;
    }
    case EM_BIN_MAXIMUM:
    case EM_BIN_MINIMUM: { /* ties split the gradient half and half */
        bool mx = op == EM_BIN_MAXIMUM;
        em_tensor *h = where(f, bin(f, EM_BIN_EQ, a, b), T(muls(f, g, 0.5)), T(g));
        if (need[0])
            r[0] = zero_if(f, bin(f, mx ? EM_BIN_LT : EM_BIN_GT, a, b), h);
        if (need[1])
            r[1] = zero_if(f, bin(f, mx ? EM_BIN_GT : EM_BIN_LT, a, b), h);
        break;
    }
    default:
        em_error("backward: %s has no gradient formula", em_binary_name(op));
        f->failed = true;
        break;
    }
}

static int binary_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    return run_formula(n, go, gi, binary_formula);
}

/* Saves the operands (and the result) the formula will read, given which
 * operands need a gradient. */
static int binary_save(em_node *n, em_binary_op op, em_arg a, em_arg b, em_tensor *r)
{
    bool na = em_node_needs(n, 0), nb = em_node_needs(n, 1);
    int rc = 0;
    switch (op) {
    case EM_BIN_MUL:
        if (nb)
            rc = save_in(n, 0, a.t);
        if (rc == 0 && na)
            rc = save_in(n, 1, b.t);
        break;
    case EM_BIN_DIV:
        if (nb)
            rc = save_in(n, 0, a.t);
        if (rc == 0)
            rc = save_in(n, 1, b.t);
        break;
    case EM_BIN_REMAINDER:
    case EM_BIN_FMOD:
        if (nb) {
            rc = save_in(n, 0, a.t);
            if (rc == 0)
                rc = save_in(n, 1, b.t);
        }
        break;
    case EM_BIN_POW:
        rc = save_in(n, 0, a.t);
        if (rc == 0)
            rc = save_in(n, 1, b.t);
        if (rc == 0 && nb)
            rc = save_result(n, r);
        break;
    case EM_BIN_ATAN2:
    case EM_BIN_MAXIMUM:
    case EM_BIN_MINIMUM:
        rc = save_in(n, 0, a.t);
        if (rc == 0)
            rc = save_in(n, 1, b.t);
        break;
    default:
        break;
    }
    return rc;
}

em_tensor *em_ag_binary(em_binary_op op, em_arg a, em_arg b, const em_ew_params *p, em_tensor *out)
{
    if ((!em_ag_wants(a.t) && !em_ag_wants(b.t)) || !binary_differentiable(op))
        return em_binary(op, a, b, p, out);
    if (out)
        return em_ag_refuse_out(em_binary_name(op)), NULL;
    em_tensor *r = em_binary(op, a, b, p, NULL);
    if (!r || !em_dtype_is_float(r->dtype))
        return r;
    em_arg args[2] = { a, b };
    em_node *n = node_new(binary_node_names[op], binary_backward, op, 2, args, p);
    if (!n)
        return em_tensor_release(r), NULL;
    return finish(n, r, binary_save(n, op, a, b, r));
}

int em_ag_binary_(em_binary_op op, em_tensor *self, em_arg b, const em_ew_params *p)
{
    em_tensor *in[1] = { b.t };
    if (!em_ag_inplace_records(self, 1, in))
        return em_binary_(op, self, b, p);
    char name[48];
    inplace_name(name, sizeof name, em_binary_name(op));
    if (!binary_differentiable(op)) {
        /* comparisons and logical ops write constants (PyTorch: zero gradient);
         * only self's own history matters */
        if (!em_ag_inplace_records(self, 0, NULL))
            return em_binary_(op, self, b, p);
        if (em_ag_check_inplace(self, name) < 0)
            return -1;
        em_tensor *xc = em_clone(self);
        if (!xc || em_binary_(op, xc, b, p) < 0)
            return em_tensor_release(xc), -1;
        return em_ag_commit_inplace(self, xc);
    }
    if (em_ag_check_inplace(self, name) < 0)
        return -1;
    em_tensor *xc = em_ag_clone(self);
    if (!xc)
        return -1;
    em_tensor *r = em_ag_binary(op, em_arg_tensor(xc), b, p, NULL);
    em_tensor_release(xc);
    return commit(self, em_binary_name(op), r);
}

/* ---- ternary ---- */

static const char *const ternary_names[EM_TER_COUNT] = {
    [EM_TER_WHERE] = "where", [EM_TER_LERP] = "lerp", [EM_TER_ADDCMUL] = "addcmul",
    [EM_TER_ADDCDIV] = "addcdiv", [EM_TER_CLAMP] = "clamp",
};
static const char *const ternary_node_names[EM_TER_COUNT] = {
    [EM_TER_WHERE] = "WhereBackward", [EM_TER_LERP] = "LerpBackward", [EM_TER_ADDCMUL] = "AddcmulBackward",
    [EM_TER_ADDCDIV] = "AddcdivBackward", [EM_TER_CLAMP] = "ClampBackward",
};

static void ternary_formula(fx *f, const ew_ctx *c, em_tensor *g, em_tensor **sv, const bool *need, em_tensor **r)
{
    em_arg a = operand(c, sv, 0), b = operand(c, sv, 1), w = operand(c, sv, 2);
    em_arg value = em_arg_scalar(c->p.value);
    switch ((em_ternary_op)c->op) {
    case EM_TER_WHERE: /* the condition (a) is not differentiable */
        if (need[1])
            r[1] = pass_if(f, sv[0], g);
        if (need[2])
            r[2] = zero_if(f, sv[0], g);
        break;
    case EM_TER_LERP: /* a + w (b - a) */
        if (need[0])
            r[0] = bin(f, EM_BIN_MUL, T(g), sub(f, S(1), w));
        if (need[1])
            r[1] = bin(f, EM_BIN_MUL, T(g), w);
        if (need[2])
            r[2] = bin(f, EM_BIN_MUL, T(g), sub(f, b, a));
        break;
    case EM_TER_ADDCMUL: /* a + value b w */
        r[0] = g;
        if (need[1])
            r[1] = bin(f, EM_BIN_MUL, T(bin(f, EM_BIN_MUL, T(g), w)), value);
        if (need[2])
            r[2] = bin(f, EM_BIN_MUL, T(bin(f, EM_BIN_MUL, T(g), b)), value);
        break;
    case EM_TER_ADDCDIV: /* a + value b / w */
        r[0] = g;
        if (need[1])
            r[1] = bin(f, EM_BIN_DIV, T(bin(f, EM_BIN_MUL, T(g), value)), w);
        if (need[2]) {
            em_tensor *t = bin(f, EM_BIN_MUL, T(bin(f, EM_BIN_MUL, T(neg(f, g)), value)), b);
            r[2] = bin(f, EM_BIN_DIV, T(t), sq(f, w));
        }
        break;
    default:
        em_error("backward: %s has no gradient formula", ternary_names[c->op]);
        f->failed = true;
        break;
    }
}

static int ternary_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    return run_formula(n, go, gi, ternary_formula);
}

static int ternary_save(em_node *n, em_ternary_op op, const em_arg *args)
{
    bool n0 = em_node_needs(n, 0), n1 = em_node_needs(n, 1), n2 = em_node_needs(n, 2);
    int rc = 0;
    switch (op) {
    case EM_TER_WHERE:
        rc = save_in(n, 0, args[0].t);
        break;
    case EM_TER_LERP:
        if (n0 || n1)
            rc = save_in(n, 2, args[2].t);
        if (rc == 0 && n2)
            rc = save_in(n, 0, args[0].t);
        if (rc == 0 && n2)
            rc = save_in(n, 1, args[1].t);
        break;
    case EM_TER_ADDCMUL:
        if (n1)
            rc = save_in(n, 2, args[2].t);
        if (rc == 0 && n2)
            rc = save_in(n, 1, args[1].t);
        break;
    case EM_TER_ADDCDIV:
        if (n1 || n2)
            rc = save_in(n, 2, args[2].t);
        if (rc == 0 && n2)
            rc = save_in(n, 1, args[1].t);
        break;
    default:
        break;
    }
    return rc;
}

/* clamp as a ternary op: the bounds are operands 1 and 2, present per p */
static em_tensor *ternary_clamp(em_arg a, em_arg b, em_arg c, const em_ew_params *p, em_tensor *out)
{
    if (!a.t)
        return em_error("clamp: expected a tensor input"), NULL;
    bool hl = p && p->has_lo, hh = p && p->has_hi;
    return em_ag_clamp(a.t, hl ? &b : NULL, hh ? &c : NULL, out);
}

em_tensor *em_ag_ternary(em_ternary_op op, em_arg a, em_arg b, em_arg c, const em_ew_params *p, em_tensor *out)
{
    if (!em_ag_wants(a.t) && !em_ag_wants(b.t) && !em_ag_wants(c.t))
        return em_ternary(op, a, b, c, p, out);
    if (op == EM_TER_CLAMP)
        return ternary_clamp(a, b, c, p, out);
    if (out)
        return em_ag_refuse_out(ternary_names[op]), NULL;
    em_tensor *r = em_ternary(op, a, b, c, p, NULL);
    if (!r || !em_dtype_is_float(r->dtype))
        return r;
    em_arg args[3] = { a, b, c };
    em_node *n = node_new(ternary_node_names[op], ternary_backward, op, 3, args, p);
    if (!n)
        return em_tensor_release(r), NULL;
    return finish(n, r, ternary_save(n, op, args));
}

int em_ag_ternary_(em_ternary_op op, em_tensor *self, em_arg b, em_arg c, const em_ew_params *p)
{
    em_tensor *in[2] = { b.t, c.t };
    if (!em_ag_inplace_records(self, 2, in))
        return em_ternary_(op, self, b, c, p);
    if (op == EM_TER_CLAMP)
        return em_ag_clamp_(self, p && p->has_lo ? &b : NULL, p && p->has_hi ? &c : NULL);
    char name[48];
    if (em_ag_check_inplace(self, inplace_name(name, sizeof name, ternary_names[op])) < 0)
        return -1;
    em_tensor *xc = em_ag_clone(self);
    if (!xc)
        return -1;
    em_tensor *r = em_ag_ternary(op, em_arg_tensor(xc), b, c, p, NULL);
    em_tensor_release(xc);
    return commit(self, ternary_names[op], r);
}
