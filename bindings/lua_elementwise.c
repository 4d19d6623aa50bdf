/* Bindings for the elementwise op family (core/elementwise.c): torch.op(x, ...)
 * and x:op(...) with in-place op_ forms and {out=t}, plus the Tensor arithmetic
 * metamethods (+ - * / // % ^ unary-, and & | ~ << >> on integer tensors). Either
 * operand of a binary op may be a Lua number. Each op is one C call into the core. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

#include <string.h>

/* Operand at idx: a tensor or a number/boolean; raises otherwise. */
static em_arg check_arg(lua_State *L, int idx, const char *op)
{
    em_tensor **box = lua_touserdata(L, idx);
    if (box && lua_getmetatable(L, idx)) {
        bool is_tensor = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
        if (is_tensor) {
            if (!*box)
                luaL_error(L, "%s: argument #%d is a released (closed) tensor", op, idx);
            return em_arg_tensor(*box);
        }
    }
    int t = lua_type(L, idx);
    if (t == LUA_TNUMBER) {
        int isint;
        lua_Integer i = lua_tointegerx(L, idx, &isint);
        return em_arg_scalar(isint ? em_scalar_int(i) : em_scalar_double(lua_tonumber(L, idx)));
    }
    if (t == LUA_TBOOLEAN)
        return em_arg_scalar(em_scalar_bool(lua_toboolean(L, idx)));
    luaL_error(L, "%s: expected a tensor or a number as argument #%d, got %s", op, idx, luaL_typename(L, idx));
    return em_arg_tensor(NULL);
}

static em_tensor *check_self(lua_State *L, int idx, const char *op)
{
    em_arg a = check_arg(L, idx, op);
    if (!a.t)
        luaL_error(L, "%s: expected a tensor as argument #%d, got %s", op, idx, luaL_typename(L, idx));
    return a.t;
}

/* The options table: the last argument when it is a plain table past `first`. */
static int opts_at(lua_State *L, int first)
{
    int n = lua_gettop(L);
    return n >= first && emL_isopts(L, n) ? n : 0;
}

/* Pushes the result of an op that may have written into opts.out. */
static int push_result(lua_State *L, em_tensor *r, em_tensor *out, int opts)
{
    if (!r)
        return emL_error(L);
    if (out) {
        em_tensor_release(r);
        lua_getfield(L, opts, "out");
        return 1;
    }
    emL_pushtensor(L, r);
    return 1;
}

static em_scalar opt_scalar(lua_State *L, int opts, const char *name, em_scalar def, bool *given)
{
    if (given)
        *given = false;
    if (!opts)
        return def;
    em_scalar v = def;
    int t = lua_getfield(L, opts, name);
    if (t == LUA_TNUMBER || t == LUA_TBOOLEAN) {
        v = emL_checkscalar(L, -1);
        if (given)
            *given = true;
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option '%s' must be a number, got %s", name, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

/* ---- unary ---- */

static int unary(lua_State *L, em_unary_op op, bool inplace)
{
    const char *name = em_unary_name(op);
    em_tensor *x = check_self(L, 1, name);
    int opts = opts_at(L, 2);
    em_ew_params p, *pp = NULL;
    if (op == EM_UN_NAN_TO_NUM) {
        memset(&p, 0, sizeof p);
        pp = &p;
        if (opts) {
            p.nan = opt_scalar(L, opts, "nan", em_scalar_double(0), NULL).d;
            p.posinf = opt_scalar(L, opts, "posinf", em_scalar_double(0), &p.has_posinf).d;
            p.neginf = opt_scalar(L, opts, "neginf", em_scalar_double(0), &p.has_neginf).d;
        }
    }
    if (inplace) {
        emL_check(L, em_ag_unary_(op, x, pp));
        lua_settop(L, 1);
        return 1;
    }
    em_tensor *out = opts ? emL_opt_out(L, opts) : NULL;
    return push_result(L, em_ag_unary(op, x, pp, out), out, opts);
}

#define UNARY_OUT(NAME, OP) \
    static int ew_##NAME(lua_State *L) { return unary(L, OP, false); }
#define UNARY(NAME, OP) UNARY_OUT(NAME, OP) \
    static int ew_##NAME##_(lua_State *L) { return unary(L, OP, true); }

UNARY(neg, EM_UN_NEG)
UNARY(abs, EM_UN_ABS)
UNARY(sign, EM_UN_SIGN)
UNARY(floor, EM_UN_FLOOR)
UNARY(ceil, EM_UN_CEIL)
UNARY(round, EM_UN_ROUND)
UNARY(trunc, EM_UN_TRUNC)
UNARY(relu, EM_UN_RELU)
UNARY(frac, EM_UN_FRAC)
UNARY(nan_to_num, EM_UN_NAN_TO_NUM)
UNARY(bitwise_not, EM_UN_BITWISE_NOT)
UNARY(exp, EM_UN_EXP)
UNARY(expm1, EM_UN_EXPM1)
UNARY(log, EM_UN_LOG)
UNARY(log1p, EM_UN_LOG1P)
UNARY(log2, EM_UN_LOG2)
UNARY(log10, EM_UN_LOG10)
UNARY(sqrt, EM_UN_SQRT)
UNARY(rsqrt, EM_UN_RSQRT)
UNARY(reciprocal, EM_UN_RECIPROCAL)
UNARY(sin, EM_UN_SIN)
UNARY(cos, EM_UN_COS)
UNARY(tan, EM_UN_TAN)
UNARY(asin, EM_UN_ASIN)
UNARY(acos, EM_UN_ACOS)
UNARY(atan, EM_UN_ATAN)
UNARY(sinh, EM_UN_SINH)
UNARY(cosh, EM_UN_COSH)
UNARY(tanh, EM_UN_TANH)
UNARY(sigmoid, EM_UN_SIGMOID)
UNARY(erf, EM_UN_ERF)
UNARY_OUT(isnan, EM_UN_ISNAN)
UNARY_OUT(isinf, EM_UN_ISINF)
UNARY_OUT(isfinite, EM_UN_ISFINITE)
UNARY(logical_not, EM_UN_LOGICAL_NOT)

/* ---- binary ---- */

static int binary(lua_State *L, em_binary_op op, const char *name, bool inplace)
{
    int opts = opts_at(L, 3);
    em_ew_params p, *pp = NULL;
    if (opts && (op == EM_BIN_ADD || op == EM_BIN_SUB)) {
        bool given;
        memset(&p, 0, sizeof p);
        p.alpha = opt_scalar(L, opts, "alpha", em_scalar_int(1), &given);
        if (given)
            pp = &p;
    }
    if (inplace) {
        em_tensor *self = check_self(L, 1, name);
        emL_check(L, em_ag_binary_(op, self, check_arg(L, 2, name), pp));
        lua_settop(L, 1);
        return 1;
    }
    em_arg a = check_arg(L, 1, name), b = check_arg(L, 2, name);
    if (!a.t && !b.t)
        return luaL_error(L, "%s: expected at least one tensor argument, got two numbers", name);
    em_tensor *out = opts ? emL_opt_out(L, opts) : NULL;
    return push_result(L, em_ag_binary(op, a, b, pp, out), out, opts);
}

#define BINARY_OUT(NAME, OP) \
    static int ew_##NAME(lua_State *L) { return binary(L, OP, #NAME, false); }
#define BINARY(NAME, OP) BINARY_OUT(NAME, OP) \
    static int ew_##NAME##_(lua_State *L) { return binary(L, OP, #NAME "_", true); }

BINARY(add, EM_BIN_ADD)
BINARY(sub, EM_BIN_SUB)
BINARY(mul, EM_BIN_MUL)
BINARY(floor_divide, EM_BIN_DIV_FLOOR)
BINARY(remainder, EM_BIN_REMAINDER)
BINARY(fmod, EM_BIN_FMOD)
BINARY(pow, EM_BIN_POW)
BINARY(atan2, EM_BIN_ATAN2)
BINARY_OUT(maximum, EM_BIN_MAXIMUM)
BINARY_OUT(minimum, EM_BIN_MINIMUM)
BINARY(bitwise_and, EM_BIN_BITWISE_AND)
BINARY(bitwise_or, EM_BIN_BITWISE_OR)
BINARY(bitwise_xor, EM_BIN_BITWISE_XOR)
BINARY(bitwise_left_shift, EM_BIN_SHL)
BINARY(bitwise_right_shift, EM_BIN_SHR)
BINARY(eq, EM_BIN_EQ)
BINARY(ne, EM_BIN_NE)
BINARY(lt, EM_BIN_LT)
BINARY(le, EM_BIN_LE)
BINARY(gt, EM_BIN_GT)
BINARY(ge, EM_BIN_GE)
BINARY(logical_and, EM_BIN_LOGICAL_AND)
BINARY(logical_or, EM_BIN_LOGICAL_OR)
BINARY(logical_xor, EM_BIN_LOGICAL_XOR)

/* div(x, y, {rounding_mode='floor'|'trunc'}) */
static int div_impl(lua_State *L, bool inplace)
{
    int opts = opts_at(L, 3);
    em_binary_op op = EM_BIN_DIV;
    if (opts) {
        if (lua_getfield(L, opts, "rounding_mode") != LUA_TNIL) {
            const char *m = lua_tostring(L, -1);
            if (m && strcmp(m, "floor") == 0)
                op = EM_BIN_DIV_FLOOR;
            else if (m && strcmp(m, "trunc") == 0)
                op = EM_BIN_DIV_TRUNC;
            else
                return luaL_error(L, "div: rounding_mode must be 'floor' or 'trunc', got %s",
                                  m ? m : luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    return binary(L, op, inplace ? "div_" : "div", inplace);
}
static int ew_div(lua_State *L) { return div_impl(L, false); }
static int ew_div_(lua_State *L) { return div_impl(L, true); }

/* ---- metamethods: two operands, no options, the fastest path ---- */

static int meta_binary(lua_State *L, em_binary_op op, const char *name)
{
    em_arg a = check_arg(L, 1, name), b = check_arg(L, 2, name);
    emL_pushtensor(L, em_ag_binary(op, a, b, NULL, NULL));
    return 1;
}

#define META(NAME, OP, OPNAME) \
    static int m_##NAME(lua_State *L) { return meta_binary(L, OP, OPNAME); }
META(add, EM_BIN_ADD, "add")
META(sub, EM_BIN_SUB, "sub")
META(mul, EM_BIN_MUL, "mul")
META(div, EM_BIN_DIV, "div")
META(pow, EM_BIN_POW, "pow")
META(idiv, EM_BIN_DIV_FLOOR, "floor_divide")
META(mod, EM_BIN_REMAINDER, "remainder")
META(band, EM_BIN_BITWISE_AND, "bitwise_and")
META(bor, EM_BIN_BITWISE_OR, "bitwise_or")
META(bxor, EM_BIN_BITWISE_XOR, "bitwise_xor")
META(shl, EM_BIN_SHL, "bitwise_left_shift")
META(shr, EM_BIN_SHR, "bitwise_right_shift")

static int m_unm(lua_State *L)
{
    emL_pushtensor(L, em_ag_unary(EM_UN_NEG, check_self(L, 1, "neg"), NULL, NULL));
    return 1;
}

static int m_bnot(lua_State *L)
{
    emL_pushtensor(L, em_ag_unary(EM_UN_BITWISE_NOT, check_self(L, 1, "bitwise_not"), NULL, NULL));
    return 1;
}

/* ---- clamp ---- */

/* A bound: nil (absent), a number or a tensor. */
static bool opt_bound(lua_State *L, int idx, em_arg *a, const char *op)
{
    if (lua_isnoneornil(L, idx))
        return false;
    *a = check_arg(L, idx, op);
    return true;
}

static int clamp_impl(lua_State *L, int which, bool inplace)
{
    const char *name = which == 0 ? (inplace ? "clamp_" : "clamp")
                     : which < 0 ? (inplace ? "clamp_min_" : "clamp_min") : (inplace ? "clamp_max_" : "clamp_max");
    em_tensor *x = check_self(L, 1, name);
    int opts = opts_at(L, 2);
    em_arg lo, hi;
    bool has_lo = false, has_hi = false;
    if (which < 0) {
        has_lo = opt_bound(L, 2, &lo, name);
    } else if (which > 0) {
        has_hi = opt_bound(L, 2, &hi, name);
    } else if (opts == 2) { /* clamp(x, {min=, max=}) */
        lua_getfield(L, 2, "min");
        lua_getfield(L, 2, "max");
        has_lo = opt_bound(L, -2, &lo, name);
        has_hi = opt_bound(L, -1, &hi, name);
    } else {
        has_lo = opt_bound(L, 2, &lo, name);
        has_hi = opt_bound(L, 3, &hi, name);
    }
    if (!has_lo && !has_hi)
        return luaL_error(L, "%s: expected a min or a max bound (a number or a tensor)", name);
    const em_arg *plo = has_lo ? &lo : NULL, *phi = has_hi ? &hi : NULL;
    if (inplace) {
        emL_check(L, em_ag_clamp_(x, plo, phi));
        lua_settop(L, 1);
        return 1;
    }
    em_tensor *out = opts ? emL_opt_out(L, opts) : NULL;
    return push_result(L, em_ag_clamp(x, plo, phi, out), out, opts);
}
static int ew_clamp(lua_State *L) { return clamp_impl(L, 0, false); }
static int ew_clamp_(lua_State *L) { return clamp_impl(L, 0, true); }
static int ew_clamp_min(lua_State *L) { return clamp_impl(L, -1, false); }
static int ew_clamp_min_(lua_State *L) { return clamp_impl(L, -1, true); }
static int ew_clamp_max(lua_State *L) { return clamp_impl(L, 1, false); }
static int ew_clamp_max_(lua_State *L) { return clamp_impl(L, 1, true); }

/* ---- ternary ---- */

static int ternary(lua_State *L, em_ternary_op op, const char *name, bool inplace)
{
    int opts = opts_at(L, 4);
    em_ew_params p;
    memset(&p, 0, sizeof p);
    p.value = opt_scalar(L, opts, "value", em_scalar_int(1), NULL);
    if (lua_isnoneornil(L, 3))
        return luaL_error(L, "%s: expected 3 arguments, got %d", name, lua_gettop(L) - (opts ? 1 : 0));
    if (inplace) {
        em_tensor *self = check_self(L, 1, name);
        emL_check(L, em_ag_ternary_(op, self, check_arg(L, 2, name), check_arg(L, 3, name), &p));
        lua_settop(L, 1);
        return 1;
    }
    em_arg a = check_arg(L, 1, name), b = check_arg(L, 2, name), c = check_arg(L, 3, name);
    em_tensor *out = opts ? emL_opt_out(L, opts) : NULL;
    return push_result(L, em_ag_ternary(op, a, b, c, &p, out), out, opts);
}

static int ew_lerp(lua_State *L) { return ternary(L, EM_TER_LERP, "lerp", false); }
static int ew_lerp_(lua_State *L) { return ternary(L, EM_TER_LERP, "lerp_", true); }
static int ew_addcmul(lua_State *L) { return ternary(L, EM_TER_ADDCMUL, "addcmul", false); }
static int ew_addcmul_(lua_State *L) { return ternary(L, EM_TER_ADDCMUL, "addcmul_", true); }
static int ew_addcdiv(lua_State *L) { return ternary(L, EM_TER_ADDCDIV, "addcdiv", false); }
static int ew_addcdiv_(lua_State *L) { return ternary(L, EM_TER_ADDCDIV, "addcdiv_", true); }
/* torch.where(cond, x, y) */
static int ew_where(lua_State *L) { return ternary(L, EM_TER_WHERE, "where", false); }
/* x:where(cond, y) is torch.where(cond, x, y), as in PyTorch */
static int ew_where_method(lua_State *L)
{
    lua_settop(L, 3);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_replace(L, 1); /* cond, cond, y, x */
    lua_replace(L, 2); /* cond, x, y */
    return ternary(L, EM_TER_WHERE, "where", false);
}

/* ---- registration ---- */

#define BOTH(NAME) { #NAME, ew_##NAME }, { #NAME "_", ew_##NAME##_ }

static const luaL_Reg funcs[] = {
    BOTH(neg), BOTH(abs), BOTH(sign), BOTH(floor), BOTH(ceil), BOTH(round), BOTH(trunc), BOTH(relu),
    BOTH(frac), BOTH(nan_to_num), BOTH(bitwise_not), BOTH(exp), BOTH(expm1), BOTH(log), BOTH(log1p),
    BOTH(log2), BOTH(log10), BOTH(sqrt), BOTH(rsqrt), BOTH(reciprocal), BOTH(sin), BOTH(cos), BOTH(tan),
    BOTH(asin), BOTH(acos), BOTH(atan), BOTH(sinh), BOTH(cosh), BOTH(tanh), BOTH(sigmoid), BOTH(erf),
    { "isnan", ew_isnan }, { "isinf", ew_isinf }, { "isfinite", ew_isfinite }, BOTH(logical_not),
    BOTH(add), BOTH(sub), BOTH(mul), BOTH(div), BOTH(floor_divide), BOTH(remainder), BOTH(fmod), BOTH(pow),
    BOTH(atan2), { "maximum", ew_maximum }, { "minimum", ew_minimum }, BOTH(bitwise_and), BOTH(bitwise_or),
    BOTH(bitwise_xor), BOTH(bitwise_left_shift), BOTH(bitwise_right_shift), BOTH(eq), BOTH(ne), BOTH(lt),
    BOTH(le), BOTH(gt), BOTH(ge), BOTH(logical_and), BOTH(logical_or), BOTH(logical_xor),
    BOTH(clamp), BOTH(clamp_min), BOTH(clamp_max), BOTH(lerp), BOTH(addcmul), BOTH(addcdiv),
    /* PyTorch's aliases */
    { "negative", ew_neg }, { "negative_", ew_neg_ }, { "absolute", ew_abs }, { "absolute_", ew_abs_ },
    { "clip", ew_clamp }, { "clip_", ew_clamp_ }, { "subtract", ew_sub }, { "subtract_", ew_sub_ },
    { "multiply", ew_mul }, { "multiply_", ew_mul_ }, { "divide", ew_div }, { "divide_", ew_div_ },
    { "true_divide", ew_div }, { "true_divide_", ew_div_ }, { "arctan2", ew_atan2 },
    { "greater", ew_gt }, { "greater_equal", ew_ge }, { "less", ew_lt }, { "less_equal", ew_le },
    { "not_equal", ew_ne },
    { NULL, NULL }
};

static const luaL_Reg metamethods[] = {
    { "__add", m_add }, { "__sub", m_sub }, { "__mul", m_mul }, { "__div", m_div }, { "__pow", m_pow },
    { "__idiv", m_idiv }, { "__mod", m_mod }, { "__unm", m_unm }, { "__band", m_band }, { "__bor", m_bor },
    { "__bxor", m_bxor }, { "__shl", m_shl }, { "__shr", m_shr }, { "__bnot", m_bnot },
    { NULL, NULL }
};

/* Every function gets the Tensor metatable as upvalue 1, so telling a tensor from
 * other values is one pointer comparison. */
static void set_with_meta(lua_State *L, int table, const char *name, lua_CFunction fn, int meta)
{
    lua_pushvalue(L, meta);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, table, name);
}

void emL_open_elementwise(lua_State *L, int methods, int module, int meta)
{
    for (const luaL_Reg *r = funcs; r->name; r++) {
        set_with_meta(L, methods, r->name, r->func, meta);
        set_with_meta(L, module, r->name, r->func, meta);
    }
    set_with_meta(L, module, "where", ew_where, meta);
    set_with_meta(L, methods, "where", ew_where_method, meta);
    for (const luaL_Reg *r = metamethods; r->name; r++)
        set_with_meta(L, meta, r->name, r->func, meta);
}
