/* Bindings for the linear-algebra family (core/linalg.c, differentiable through
 * core/autograd/fn_linalg.c): mm, mv, bmm, matmul, dot,
 * outer/ger, addmm, addmv, baddbmm, einsum; options {out=, beta=, alpha=} as a
 * trailing table. Also torch.clock(), a monotonic wall clock for benchmarks. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

#include <time.h>

/* The trailing options table after `nargs` positional arguments, or 0. */
static int opts_at(lua_State *L, int nargs)
{
    return emL_isopts(L, nargs + 1) ? nargs + 1 : 0;
}

typedef em_tensor *(*binary_fn)(em_tensor *, em_tensor *, em_tensor *);

static int binary(lua_State *L, binary_fn fn)
{
    em_tensor *a = emL_checktensor(L, 1), *b = emL_checktensor(L, 2);
    em_tensor *out = emL_opt_out(L, opts_at(L, 2));
    emL_pushtensor(L, fn(a, b, out));
    return 1;
}

static int l_mm(lua_State *L) { return binary(L, em_ag_mm); }
static int l_mv(lua_State *L) { return binary(L, em_ag_mv); }
static int l_bmm(lua_State *L) { return binary(L, em_ag_bmm); }
static int l_matmul(lua_State *L) { return binary(L, em_ag_matmul); }
static int l_dot(lua_State *L) { return binary(L, em_ag_dot); }
static int l_outer(lua_State *L) { return binary(L, em_ag_outer); }

static em_scalar opt_scalar(lua_State *L, int opts, const char *name)
{
    em_scalar s = em_scalar_int(1);
    if (emL_getopt(L, opts, name) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "option '%s' must be a number, got %s", name, luaL_typename(L, -1));
        s = emL_checkscalar(L, -1);
    }
    lua_pop(L, 1);
    return s;
}

typedef em_tensor *(*addmm_fn)(em_tensor *, em_tensor *, em_tensor *, em_scalar, em_scalar, em_tensor *);

/* input:addmm(m1, m2, {beta=1, alpha=1, out=}) = beta * input + alpha * (m1 @ m2) */
static int add_product(lua_State *L, addmm_fn fn)
{
    em_tensor *input = emL_checktensor(L, 1), *a = emL_checktensor(L, 2), *b = emL_checktensor(L, 3);
    int opts = opts_at(L, 3);
    em_scalar beta = opt_scalar(L, opts, "beta"), alpha = opt_scalar(L, opts, "alpha");
    em_tensor *out = emL_opt_out(L, opts);
    emL_pushtensor(L, fn(input, a, b, beta, alpha, out));
    return 1;
}

typedef int (*addmm_inplace_fn)(em_tensor *, em_tensor *, em_tensor *, em_scalar, em_scalar);

/* The in-place forms write into input itself: input:addmm_(m1, m2, {beta=, alpha=}). */
static int add_product_(lua_State *L, addmm_inplace_fn fn)
{
    em_tensor *input = emL_checktensor(L, 1), *a = emL_checktensor(L, 2), *b = emL_checktensor(L, 3);
    int opts = opts_at(L, 3);
    em_scalar beta = opt_scalar(L, opts, "beta"), alpha = opt_scalar(L, opts, "alpha");
    emL_check(L, fn(input, a, b, beta, alpha));
    lua_settop(L, 1);
    return 1;
}

static int l_addmm(lua_State *L) { return add_product(L, em_ag_addmm); }
static int l_addmv(lua_State *L) { return add_product(L, em_ag_addmv); }
static int l_baddbmm(lua_State *L) { return add_product(L, em_ag_baddbmm); }
static int l_addmm_(lua_State *L) { return add_product_(L, em_ag_addmm_); }
static int l_addmv_(lua_State *L) { return add_product_(L, em_ag_addmv_); }
static int l_baddbmm_(lua_State *L) { return add_product_(L, em_ag_baddbmm_); }

/* torch.einsum('ij,jk->ik', a, b) or torch.einsum('ij,jk->ik', {a, b}); '...' as in
 * PyTorch ('...ij,...jk->...ik'), size-1 dims broadcast */
static int l_einsum(lua_State *L)
{
    const char *eq = luaL_checkstring(L, 1);
    em_tensor *ops[EM_MAX_DIMS];
    int n = 0;
    if (lua_type(L, 2) == LUA_TTABLE && !emL_totensor(L, 2)) {
        lua_Integer len = luaL_len(L, 2);
        if (len > EM_MAX_DIMS)
            return luaL_error(L, "einsum: at most %d operands, got %I", EM_MAX_DIMS, (lua_Integer)len);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_geti(L, 2, i);
            ops[n] = emL_totensor(L, -1);
            if (!ops[n])
                return luaL_error(L, "einsum: operand %d is not a tensor (%s)", (int)i, luaL_typename(L, -1));
            n++;
            lua_pop(L, 1); /* still referenced by the table */
        }
    } else {
        int top = lua_gettop(L);
        if (top - 1 > EM_MAX_DIMS)
            return luaL_error(L, "einsum: at most %d operands, got %d", EM_MAX_DIMS, top - 1);
        for (int i = 2; i <= top; i++)
            ops[n++] = emL_checktensor(L, i);
    }
    if (n == 0)
        return luaL_error(L, "einsum: expected at least one operand");
    emL_pushtensor(L, em_ag_einsum(eq, n, ops));
    return 1;
}

/* torch.clock(): seconds on a monotonic clock (for timing, not the date). */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

static const luaL_Reg linalg_funcs[] = {
    { "mm", l_mm },
    { "mv", l_mv },
    { "bmm", l_bmm },
    { "matmul", l_matmul },
    { "dot", l_dot },
    { "outer", l_outer },
    { "ger", l_outer },
    { "addmm", l_addmm },
    { "addmv", l_addmv },
    { "baddbmm", l_baddbmm },
    { "addmm_", l_addmm_ },
    { "addmv_", l_addmv_ },
    { "baddbmm_", l_baddbmm_ },
    { NULL, NULL },
};

static const luaL_Reg module_only[] = {
    { "einsum", l_einsum },
    { "clock", l_clock },
    { NULL, NULL },
};

void emL_open_linalg(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    emL_register(L, methods, module, linalg_funcs);
    lua_pushvalue(L, module);
    luaL_setfuncs(L, module_only, 0);
    lua_pop(L, 1);
}
