/* Elementwise ops, the device-independent front: result and compute dtypes,
 * output shape, `out=` and in-place checks, operand conversion. The kernels live
 * in core/cpu/{unary,binary,ternary}.c and see operands of one compute dtype. */
#include "elementwise.h"
#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "iter.h"
#include "overlap.h"

#include <stdio.h>
#include <string.h>

static const char *const unary_names[EM_UN_COUNT] = {
    [EM_UN_NEG] = "neg", [EM_UN_ABS] = "abs", [EM_UN_SIGN] = "sign", [EM_UN_FLOOR] = "floor",
    [EM_UN_CEIL] = "ceil", [EM_UN_ROUND] = "round", [EM_UN_TRUNC] = "trunc", [EM_UN_RELU] = "relu",
    [EM_UN_FRAC] = "frac", [EM_UN_CLAMP] = "clamp", [EM_UN_NAN_TO_NUM] = "nan_to_num",
    [EM_UN_BITWISE_NOT] = "bitwise_not", [EM_UN_EXP] = "exp", [EM_UN_EXPM1] = "expm1", [EM_UN_LOG] = "log",
    [EM_UN_LOG1P] = "log1p", [EM_UN_LOG2] = "log2", [EM_UN_LOG10] = "log10", [EM_UN_SQRT] = "sqrt",
    [EM_UN_RSQRT] = "rsqrt", [EM_UN_RECIPROCAL] = "reciprocal", [EM_UN_SIN] = "sin", [EM_UN_COS] = "cos",
    [EM_UN_TAN] = "tan", [EM_UN_ASIN] = "asin", [EM_UN_ACOS] = "acos", [EM_UN_ATAN] = "atan",
    [EM_UN_SINH] = "sinh", [EM_UN_COSH] = "cosh", [EM_UN_TANH] = "tanh", [EM_UN_SIGMOID] = "sigmoid",
    [EM_UN_ERF] = "erf", [EM_UN_ISNAN] = "isnan", [EM_UN_ISINF] = "isinf", [EM_UN_ISFINITE] = "isfinite",
    [EM_UN_LOGICAL_NOT] = "logical_not",
};

static const char *const binary_names[EM_BIN_COUNT] = {
    [EM_BIN_ADD] = "add", [EM_BIN_SUB] = "sub", [EM_BIN_MUL] = "mul", [EM_BIN_DIV] = "div",
    [EM_BIN_DIV_FLOOR] = "floor_divide", [EM_BIN_DIV_TRUNC] = "div", [EM_BIN_REMAINDER] = "remainder",
    [EM_BIN_FMOD] = "fmod", [EM_BIN_POW] = "pow", [EM_BIN_ATAN2] = "atan2", [EM_BIN_MAXIMUM] = "maximum",
    [EM_BIN_MINIMUM] = "minimum", [EM_BIN_BITWISE_AND] = "bitwise_and", [EM_BIN_BITWISE_OR] = "bitwise_or",
    [EM_BIN_BITWISE_XOR] = "bitwise_xor", [EM_BIN_SHL] = "bitwise_left_shift",
    [EM_BIN_SHR] = "bitwise_right_shift", [EM_BIN_EQ] = "eq", [EM_BIN_NE] = "ne", [EM_BIN_LT] = "lt",
    [EM_BIN_LE] = "le", [EM_BIN_GT] = "gt", [EM_BIN_GE] = "ge", [EM_BIN_LOGICAL_AND] = "logical_and",
    [EM_BIN_LOGICAL_OR] = "logical_or", [EM_BIN_LOGICAL_XOR] = "logical_xor",
};

static const char *const ternary_names[EM_TER_COUNT] = {
    [EM_TER_WHERE] = "where", [EM_TER_LERP] = "lerp", [EM_TER_ADDCMUL] = "addcmul",
    [EM_TER_ADDCDIV] = "addcdiv", [EM_TER_CLAMP] = "clamp",
};

const char *em_unary_name(em_unary_op op) { return unary_names[op]; }
const char *em_binary_name(em_binary_op op) { return binary_names[op]; }

/* ---- type promotion ---- */

static em_dtype arg_dtype(const em_arg *a)
{
    return a->t ? a->t->dtype : em_scalar_dtype(a->s);
}

/* PyTorch's combine_categories: the higher-priority result wins unless the lower
 * one is of a higher category (bool < integral < floating). */
static em_dtype combine(em_dtype higher, em_dtype lower)
{
    if (em_dtype_is_float(higher))
        return higher;
    if (higher == EM_BOOL || em_dtype_is_float(lower))
        return em_dtype_promote(higher, lower);
    return higher;
}

em_dtype em_result_type(int n, const em_arg *args)
{
    /* priority: 2 = dimensioned tensor, 1 = 0-d tensor, 0 = number */
    em_dtype r[3] = { EM_BOOL, EM_BOOL, EM_BOOL };
    bool has[3] = { false, false, false };
    for (int i = 0; i < n; i++) {
        const em_arg *a = &args[i];
        int p = !a->t ? 0 : a->t->ndim == 0 ? 1 : 2;
        em_dtype dt = arg_dtype(a);
        r[p] = has[p] ? em_dtype_promote(r[p], dt) : dt;
        has[p] = true;
    }
    em_dtype res = EM_BOOL;
    bool any = false;
    for (int p = 0; p < 3; p++) {
        if (!has[p])
            continue;
        res = any ? combine(r[p], res) : r[p];
        any = true;
    }
    return res;
}

bool em_can_cast(em_dtype from, em_dtype to)
{
    if (em_dtype_is_float(from) && !em_dtype_is_float(to))
        return false;
    if (from != EM_BOOL && to == EM_BOOL)
        return false;
    return true;
}

static inline em_dtype compute_dtype(em_dtype dt)
{
    return em_dtype_is_reduced(dt) ? EM_FLOAT32 : dt;
}

/* ---- the shared driver ---- */

typedef enum { FAM_UNARY, FAM_BINARY, FAM_TERNARY } family;

/* What an op call resolved to. */
typedef struct plan {
    family fam;
    int op;
    char name[40];  /* for messages: "add" or "add_" */
    em_dtype rdt;   /* result dtype (what the user gets) */
    em_dtype ct;    /* dtype the kernel computes in (operands are converted to it) */
    em_dtype kdt;   /* dtype the kernel writes: ct, or bool for predicates */
    em_dtype cond;  /* for where: operand 0 is converted to bool, not ct */
} plan;

static int not_supported(const plan *pl, em_dtype dt)
{
    return em_error("%s: not supported for %s tensors", pl->name, em_dtype_name(dt));
}

static void plan_name(plan *pl, const char *base, bool inplace)
{
    size_t n = strlen(base);
    memcpy(pl->name, base, n);
    if (inplace)
        pl->name[n++] = '_';
    pl->name[n] = '\0';
}

/* Result and compute dtypes of a unary op on dtype dt. */
static int plan_unary(plan *pl, em_unary_op op, em_dtype dt)
{
    int cat = em_dtype_category(dt);
    pl->rdt = dt;
    switch (op) {
    case EM_UN_NEG:
        if (cat == 0)
            return em_error("%s: negation of a bool tensor is not supported (use logical_not or bitwise_not)",
                            pl->name);
        break;
    case EM_UN_ABS: case EM_UN_FLOOR: case EM_UN_CEIL: case EM_UN_ROUND: case EM_UN_TRUNC: case EM_UN_RELU:
        if (cat == 0)
            return not_supported(pl, dt);
        break;
    case EM_UN_FRAC:
        if (cat != 2)
            return not_supported(pl, dt);
        break;
    case EM_UN_BITWISE_NOT:
        if (cat == 2)
            return not_supported(pl, dt);
        break;
    case EM_UN_SIGN: case EM_UN_CLAMP: case EM_UN_NAN_TO_NUM:
        break;
    case EM_UN_ISNAN: case EM_UN_ISINF: case EM_UN_ISFINITE: case EM_UN_LOGICAL_NOT:
        pl->rdt = EM_BOOL;
        pl->ct = compute_dtype(dt);
        pl->kdt = EM_BOOL;
        return 0;
    default: /* float results */
        if (cat != 2)
            pl->rdt = EM_DEFAULT_FLOAT;
        break;
    }
    pl->ct = pl->kdt = compute_dtype(pl->rdt);
    return 0;
}

/* Result and compute dtypes of a binary op whose operands promote to dt. */
static int plan_binary(plan *pl, em_binary_op op, em_dtype dt)
{
    int cat = em_dtype_category(dt);
    pl->rdt = dt;
    switch (op) {
    case EM_BIN_SUB:
        if (cat == 0)
            return em_error("%s: subtraction of two bool tensors is not supported (use logical_xor)", pl->name);
        break;
    case EM_BIN_DIV: case EM_BIN_ATAN2:
        if (cat != 2)
            pl->rdt = EM_DEFAULT_FLOAT;
        break;
    case EM_BIN_DIV_FLOOR: case EM_BIN_DIV_TRUNC: case EM_BIN_REMAINDER: case EM_BIN_FMOD: case EM_BIN_POW:
        if (cat == 0)
            return not_supported(pl, dt);
        break;
    case EM_BIN_BITWISE_AND: case EM_BIN_BITWISE_OR: case EM_BIN_BITWISE_XOR:
        if (cat == 2)
            return not_supported(pl, dt);
        break;
    case EM_BIN_SHL: case EM_BIN_SHR:
        if (cat != 1)
            return not_supported(pl, dt);
        break;
    case EM_BIN_EQ: case EM_BIN_NE: case EM_BIN_LT: case EM_BIN_LE: case EM_BIN_GT: case EM_BIN_GE:
    case EM_BIN_LOGICAL_AND: case EM_BIN_LOGICAL_OR: case EM_BIN_LOGICAL_XOR:
        pl->rdt = EM_BOOL;
        pl->ct = compute_dtype(dt);
        pl->kdt = EM_BOOL;
        return 0;
    default:
        break;
    }
    pl->ct = pl->kdt = compute_dtype(pl->rdt);
    return 0;
}

static int plan_ternary(plan *pl, em_ternary_op op, em_dtype dt)
{
    int cat = em_dtype_category(dt);
    pl->rdt = dt;
    switch (op) {
    case EM_TER_LERP:
        if (cat != 2)
            return not_supported(pl, dt);
        break;
    case EM_TER_ADDCMUL:
        if (cat == 0)
            return not_supported(pl, dt);
        break;
    case EM_TER_ADDCDIV:
        if (cat != 2)
            return em_error("%s: integer division is not supported (got %s tensors; convert them to float)",
                            pl->name, em_dtype_name(dt));
        break;
    default:
        break;
    }
    pl->ct = pl->kdt = compute_dtype(pl->rdt);
    return 0;
}

static int check_out(const plan *pl, em_tensor *out, bool inplace, int nd, const int64_t *shape)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (out->ndim != nd || memcmp(out->sizes, shape, (size_t)nd * sizeof(int64_t)) != 0) {
        if (inplace)
            return em_error("%s: output with shape %s doesn't match the broadcast shape %s", pl->name,
                            em_tensor_shape_str(out, b1, sizeof b1), em_shape_str(b2, sizeof b2, nd, shape));
        if (em_tensor_numel(out) != 0)
            return em_error("%s: out has shape %s but the result has shape %s (only an empty out is resized)",
                            pl->name, em_tensor_shape_str(out, b1, sizeof b1), em_shape_str(b2, sizeof b2, nd, shape));
        if (em_tensor_resize_empty(out, nd, shape) < 0)
            return -1;
    }
    if (!em_can_cast(pl->rdt, out->dtype))
        return em_error("%s: result type %s can't be cast to the desired output type %s", pl->name,
                        em_dtype_name(pl->rdt), em_dtype_name(out->dtype));
    return em_overlap_check_internal(pl->name, out);
}

/* Runs a resolved op: n operands in args (args[k].t NULL for numbers), the result
 * into out (when given; self for in-place) or a new tensor. */
static em_tensor *run(const plan *pl, int n, const em_arg *args, const em_ew_params *p, em_tensor *out,
                      bool inplace)
{
    /* output shape, devices */
    int nd = 0;
    int64_t shape[EM_MAX_DIMS];
    const em_tensor *first = NULL;
    for (int k = 0; k < n; k++) {
        const em_tensor *t = args[k].t;
        if (!t)
            continue;
        if (em_broadcast_shape(pl->name, nd, shape, t->ndim, t->sizes, &nd, shape) < 0)
            return NULL;
        if (!first || (first->ndim == 0 && t->ndim > 0))
            first = t;
    }
    em_device dev = first ? em_tensor_device(first) : (out ? em_tensor_device(out) : EM_CPU);
    for (int k = 0; k < n; k++) {
        const em_tensor *t = args[k].t;
        if (t && !em_device_eq(em_tensor_device(t), dev) &&
            !(t->ndim == 0 && em_tensor_device(t).type == EM_DEV_CPU))
            return em_error("%s: expected all tensors on one device, got %s and %s", pl->name,
                            em_tensor_device(t).type == EM_DEV_CPU ? "cpu" : "cuda",
                            dev.type == EM_DEV_CPU ? "cpu" : "cuda"), NULL;
    }
    if (out) {
        if (!em_device_eq(em_tensor_device(out), dev))
            return em_error("%s: out is on another device than the inputs", pl->name), NULL;
        if (check_out(pl, out, inplace, nd, shape) < 0)
            return NULL;
        for (int k = 0; k < n; k++)
            if (args[k].t && em_overlap_check_input(pl->name, out, args[k].t) < 0)
                return NULL;
    }

    em_kernel_id kid = pl->fam == FAM_UNARY ? EM_K_UNARY : pl->fam == FAM_BINARY ? EM_K_BINARY : EM_K_TERNARY;
    em_kernel_fn kfn = em_kernel_get(kid, dev, pl->name);
    if (!kfn)
        return NULL;

    /* operands in the compute dtype: numbers as stack scalars, other tensors converted */
    em_stack_scalar ss[3];
    em_tensor *ops[3] = { NULL, NULL, NULL };
    em_tensor *owned[3] = { NULL, NULL, NULL };
    em_tensor *result = NULL, *target = NULL;
    int rc = -1;
    for (int k = 0; k < n; k++) {
        em_dtype want = (k == 0 && pl->cond == EM_BOOL) ? EM_BOOL : pl->ct;
        const em_arg *a = &args[k];
        if (!a->t) {
            ops[k] = em_stack_scalar_init(&ss[k], a->s, want);
        } else if (a->t->dtype == want) {
            ops[k] = a->t;
        } else {
            /* a 0-d CPU operand of a device op becomes a device scalar via its value */
            if (!(owned[k] = em_to_dtype(a->t, want, false)))
                goto done;
            ops[k] = owned[k];
        }
    }

    if (out && out->dtype == pl->kdt) {
        target = out;
        em_tensor_retain(target);
    } else if (!(target = em_tensor_empty(nd, shape, pl->kdt, dev))) {
        goto done;
    }
    em_ew_params defaults;
    if (!p) {
        memset(&defaults, 0, sizeof defaults);
        defaults.alpha = em_scalar_int(1);
        defaults.value = em_scalar_int(1);
        p = &defaults;
    }
    switch (pl->fam) {
    case FAM_UNARY: rc = ((em_unary_kernel)kfn)(target, ops[0], (em_unary_op)pl->op, p); break;
    case FAM_BINARY: rc = ((em_binary_kernel)kfn)(target, ops[0], ops[1], (em_binary_op)pl->op, p); break;
    case FAM_TERNARY:
        rc = ((em_ternary_kernel)kfn)(target, ops[0], ops[1], ops[2], (em_ternary_op)pl->op, p);
        break;
    }
    if (rc == EM_EW_ZERO_DIVISION) {
        rc = em_error("%s: integer division by zero", pl->name);
        goto done;
    }
    if (rc < 0)
        goto done;
    if (out) {
        if (target != out && em_copy_(out, target) < 0) {
            rc = -1;
            goto done;
        }
        em_tensor_bump_version(out);
        em_tensor_retain(out);
        result = out;
    } else if (pl->kdt != pl->rdt) { /* float16/bfloat16: computed in float32 */
        result = em_to_dtype(target, pl->rdt, false);
    } else {
        result = target;
        target = NULL;
    }
done:
    for (int k = 0; k < n; k++)
        em_tensor_release(owned[k]);
    em_tensor_release(target);
    return rc < 0 ? NULL : result;
}

/* ---- unary ---- */

static em_tensor *unary_impl(em_unary_op op, em_tensor *x, const em_ew_params *p, em_tensor *out, bool inplace)
{
    plan pl;
    pl.fam = FAM_UNARY;
    pl.op = op;
    pl.cond = EM_DTYPE_COUNT;
    plan_name(&pl, unary_names[op], inplace);
    if (plan_unary(&pl, op, x->dtype) < 0)
        return NULL;
    em_arg a = em_arg_tensor(x);
    em_ew_params q;
    if (op == EM_UN_NAN_TO_NUM && em_dtype_is_reduced(x->dtype)) {
        /* the default replacements are the largest finite values of the result dtype */
        double big = x->dtype == EM_FLOAT16 ? 65504.0 : 3.3895313892515355e38;
        memset(&q, 0, sizeof q);
        if (p)
            q = *p;
        if (!q.has_posinf)
            q.posinf = big, q.has_posinf = true;
        if (!q.has_neginf)
            q.neginf = -big, q.has_neginf = true;
        p = &q;
    }
    return run(&pl, 1, &a, p, out, inplace);
}

em_tensor *em_unary(em_unary_op op, em_tensor *x, const em_ew_params *p, em_tensor *out)
{
    /* fast path: a new contiguous result of the same dtype, no conversions */
    if (!out && op < EM_UN_EXP && op != EM_UN_CLAMP && !em_dtype_is_reduced(x->dtype) && x->dtype != EM_BOOL &&
        !(op == EM_UN_FRAC && !em_dtype_is_float(x->dtype)) && !(op == EM_UN_BITWISE_NOT && em_dtype_is_float(x->dtype))) {
        em_unary_kernel k = (em_unary_kernel)em_kernel_get(EM_K_UNARY, em_tensor_device(x), unary_names[op]);
        if (!k)
            return NULL;
        em_tensor *r = em_tensor_empty(x->ndim, x->sizes, x->dtype, em_tensor_device(x));
        em_ew_params defaults;
        if (!p) {
            memset(&defaults, 0, sizeof defaults);
            p = &defaults;
        }
        if (r && k(r, x, op, p) < 0) {
            em_tensor_release(r);
            return NULL;
        }
        return r;
    }
    return unary_impl(op, x, p, out, false);
}

int em_unary_(em_unary_op op, em_tensor *self, const em_ew_params *p)
{
    em_tensor *r = unary_impl(op, self, p, self, true);
    em_tensor_release(r);
    return r ? 0 : -1;
}

/* ---- binary ---- */

static em_tensor *binary_impl(em_binary_op op, em_arg a, em_arg b, const em_ew_params *p, em_tensor *out,
                              bool inplace)
{
    plan pl;
    pl.fam = FAM_BINARY;
    pl.op = op;
    pl.cond = EM_DTYPE_COUNT;
    plan_name(&pl, binary_names[op], inplace);
    em_arg args[2] = { a, b };
    if (plan_binary(&pl, op, em_result_type(2, args)) < 0)
        return NULL;
    if (p && (op == EM_BIN_ADD || op == EM_BIN_SUB)) {
        em_scalar al = p->alpha;
        if (em_dtype_category(pl.ct) == 1 && !al.is_int)
            return em_error("%s: alpha must be an integer for integer tensors, got %g", pl.name, al.d), NULL;
        if (pl.ct == EM_BOOL && !al.is_bool)
            return em_error("%s: alpha must be a boolean for bool tensors", pl.name), NULL;
    }
    if (op == EM_BIN_POW && em_dtype_category(pl.ct) == 1 && !b.t && b.s.is_int && b.s.i < 0)
        return em_error("%s: integers to negative integer powers are not allowed (exponent %lld)", pl.name,
                        (long long)b.s.i), NULL;
    return run(&pl, 2, args, p, out, inplace);
}

/* Ops whose result keeps the operands' dtype for every non-bool type. */
static bool keeps_dtype(em_binary_op op, em_dtype dt)
{
    switch (op) {
    case EM_BIN_ADD: case EM_BIN_SUB: case EM_BIN_MUL: case EM_BIN_MAXIMUM: case EM_BIN_MINIMUM:
    case EM_BIN_DIV_FLOOR: case EM_BIN_DIV_TRUNC: case EM_BIN_REMAINDER: case EM_BIN_FMOD:
        return true;
    case EM_BIN_DIV: case EM_BIN_ATAN2:
        return em_dtype_is_float(dt);
    default:
        return false;
    }
}

em_tensor *em_binary(em_binary_op op, em_arg a, em_arg b, const em_ew_params *p, em_tensor *out)
{
    /* fast path: two contiguous tensors of one shape and dtype, a fresh result */
    em_tensor *x = a.t, *y = b.t;
    if (!out && x && y && x->dtype == y->dtype && x->dtype != EM_BOOL && !em_dtype_is_reduced(x->dtype) &&
        (!p || (op != EM_BIN_ADD && op != EM_BIN_SUB) || (p->alpha.is_int && !p->alpha.is_bool)) &&
        keeps_dtype(op, x->dtype) && em_same_shape(x, y) && em_device_eq(em_tensor_device(x), em_tensor_device(y)) &&
        em_tensor_is_contiguous(x) && em_tensor_is_contiguous(y)) {
        em_binary_kernel k = (em_binary_kernel)em_kernel_get(EM_K_BINARY, em_tensor_device(x), binary_names[op]);
        if (!k)
            return NULL;
        em_tensor *r = em_tensor_empty(x->ndim, x->sizes, x->dtype, em_tensor_device(x));
        if (!r)
            return NULL;
        em_ew_params defaults;
        if (!p) {
            defaults.alpha = em_scalar_int(1);
            p = &defaults;
        }
        int rc = k(r, x, y, op, p);
        if (rc < 0) {
            em_tensor_release(r);
            if (rc == EM_EW_ZERO_DIVISION)
                em_error("%s: integer division by zero", binary_names[op]);
            return NULL;
        }
        return r;
    }
    return binary_impl(op, a, b, p, out, false);
}

int em_binary_(em_binary_op op, em_tensor *self, em_arg b, const em_ew_params *p)
{
    em_tensor *r = binary_impl(op, em_arg_tensor(self), b, p, self, true);
    em_tensor_release(r);
    return r ? 0 : -1;
}

/* ---- ternary ---- */

static em_tensor *ternary_impl(em_ternary_op op, em_arg a, em_arg b, em_arg c, const em_ew_params *p,
                               em_tensor *out, bool inplace)
{
    plan pl;
    pl.fam = FAM_TERNARY;
    pl.op = op;
    pl.cond = EM_DTYPE_COUNT;
    plan_name(&pl, ternary_names[op], inplace);
    em_arg args[3] = { a, b, c };
    em_dtype dt;
    if (op == EM_TER_WHERE) {
        if (!a.t || a.t->dtype != EM_BOOL)
            return em_error("where: expected a bool condition tensor, got %s",
                            a.t ? em_dtype_name(a.t->dtype) : "a number"), NULL;
        pl.cond = EM_BOOL;
        dt = em_result_type(2, args + 1);
    } else if (op == EM_TER_LERP) {
        dt = em_result_type(2, args); /* the weight takes the inputs' dtype */
    } else {
        dt = em_result_type(3, args);
    }
    if (plan_ternary(&pl, op, dt) < 0)
        return NULL;
    if ((op == EM_TER_ADDCMUL || op == EM_TER_ADDCDIV) && p && em_dtype_category(pl.ct) == 1 && !p->value.is_int)
        return em_error("%s: value must be an integer for integer tensors, got %g", pl.name, p->value.d), NULL;
    return run(&pl, 3, args, p, out, inplace);
}

em_tensor *em_ternary(em_ternary_op op, em_arg a, em_arg b, em_arg c, const em_ew_params *p, em_tensor *out)
{
    return ternary_impl(op, a, b, c, p, out, false);
}

int em_ternary_(em_ternary_op op, em_tensor *self, em_arg b, em_arg c, const em_ew_params *p)
{
    em_tensor *r = ternary_impl(op, em_arg_tensor(self), b, c, p, self, true);
    em_tensor_release(r);
    return r ? 0 : -1;
}

/* ---- clamp: number bounds run as a unary op, tensor bounds as a ternary one ---- */

static em_tensor *clamp_impl(em_tensor *x, const em_arg *lo, const em_arg *hi, em_tensor *out, bool inplace)
{
    plan pl;
    plan_name(&pl, "clamp", inplace);
    if (!lo && !hi)
        return em_error("%s: at least one of min and max must be given", pl.name), NULL;
    em_arg args[3] = { em_arg_tensor(x) };
    int n = 1;
    if (lo)
        args[n++] = *lo;
    if (hi)
        args[n++] = *hi;
    em_dtype dt = em_result_type(n, args);
    if (dt == EM_BOOL)
        return not_supported(&pl, dt), NULL;
    em_ew_params p;
    memset(&p, 0, sizeof p);
    p.has_lo = lo != NULL;
    p.has_hi = hi != NULL;
    pl.cond = EM_DTYPE_COUNT;
    pl.rdt = dt;
    pl.ct = pl.kdt = compute_dtype(dt);
    if ((!lo || !lo->t) && (!hi || !hi->t)) {
        if (lo)
            p.lo = lo->s;
        if (hi)
            p.hi = hi->s;
        pl.fam = FAM_UNARY;
        pl.op = EM_UN_CLAMP;
        return run(&pl, 1, args, &p, out, inplace);
    }
    /* an absent bound is a placeholder the kernel ignores */
    em_arg t3[3] = { em_arg_tensor(x), lo ? *lo : em_arg_scalar(em_scalar_int(0)),
                     hi ? *hi : em_arg_scalar(em_scalar_int(0)) };
    pl.fam = FAM_TERNARY;
    pl.op = EM_TER_CLAMP;
    return run(&pl, 3, t3, &p, out, inplace);
}

em_tensor *em_clamp(em_tensor *x, const em_arg *lo, const em_arg *hi, em_tensor *out)
{
    return clamp_impl(x, lo, hi, out, false);
}

int em_clamp_(em_tensor *self, const em_arg *lo, const em_arg *hi)
{
    em_tensor *r = clamp_impl(self, lo, hi, self, true);
    em_tensor_release(r);
    return r ? 0 : -1;
}
