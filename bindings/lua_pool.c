/* Bindings for pooling (core/pool.c, differentiable through
 * core/autograd/fn_pool.c). Sizes are an integer or a table of one integer per
 * spatial dim; options follow PyTorch's names:
 *   torch.max_pool2d(x, kernel_size, {stride=kernel_size, padding=0, dilation=1,
 *                    ceil_mode=false, return_indices=false}) -> y[, indices]
 *   torch.avg_pool2d(x, kernel_size, {stride=, padding=, ceil_mode=,
 *                    count_include_pad=true, divisor_override=})
 *   torch.adaptive_avg_pool2d(x, output_size), torch.adaptive_max_pool2d(x,
 *                    output_size, {return_indices=false})
 *   torch.max_unpool2d(x, indices, output_size)
 * and the 1d forms. Indices are 1-based positions in the flattened input plane. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

/* An integer or a table of nsp integers at idx, for `what`, into v[0..1] (H, W);
 * 1-d fills v[1]. Returns false when the value is nil (v untouched). */
static bool get_pair(lua_State *L, int idx, const char *fn, const char *what, int nsp, int64_t *v)
{
    idx = lua_absindex(L, idx);
    if (lua_isnil(L, idx))
        return false;
    if (lua_isinteger(L, idx)) {
        v[1] = lua_tointeger(L, idx);
        if (nsp == 2)
            v[0] = v[1];
        return true;
    }
    if (lua_type(L, idx) == LUA_TTABLE && !emL_totensor(L, idx)) {
        int64_t t[2];
        lua_Integer n = luaL_len(L, idx);
        if (n != 1 && n != nsp)
            luaL_error(L, "%s: %s must be an integer or a table of %d integers, got a table of %d", fn, what, nsp,
                       (int)n);
        emL_checkintlist(L, idx, t, 2, fn);
        if (n == 1)
            t[1] = t[0];
        if (nsp == 2) {
            v[0] = t[0];
            v[1] = t[1];
        } else {
            v[1] = t[0];
        }
        return true;
    }
    return luaL_error(L, "%s: %s must be an integer or a table of %d integers, got %s", fn, what, nsp,
                      luaL_typename(L, idx));
}

static bool opt_pair(lua_State *L, int opts, const char *fn, const char *what, int nsp, int64_t *v)
{
    emL_getopt(L, opts, what);
    bool got = get_pair(L, -1, fn, what, nsp, v);
    lua_pop(L, 1);
    return got;
}

static int opts_at(lua_State *L, int arg, const char *fn)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    if (!emL_isopts(L, arg))
        return luaL_error(L, "%s: expected an options table as argument %d, got %s", fn, arg, luaL_typename(L, arg));
    return arg;
}

static void read_params(lua_State *L, int nsp, const char *fn, bool max, em_pool_params *p, int *opts)
{
    for (int d = 0; d < 2; d++)
        p->kernel[d] = p->stride[d] = p->dilation[d] = 1, p->padding[d] = 0;
    p->ceil_mode = false;
    p->count_include_pad = true;
    p->divisor = 0;
    if (!get_pair(L, 2, fn, "kernel_size", nsp, p->kernel))
        luaL_error(L, "%s: kernel_size is required", fn);
    *opts = opts_at(L, 3, fn);
    p->stride[0] = p->kernel[0];
    p->stride[1] = p->kernel[1];
    opt_pair(L, *opts, fn, "stride", nsp, p->stride);
    opt_pair(L, *opts, fn, "padding", nsp, p->padding);
    if (max)
        opt_pair(L, *opts, fn, "dilation", nsp, p->dilation);
    p->ceil_mode = emL_optbool(L, *opts, "ceil_mode", false);
    if (!max) {
        p->count_include_pad = emL_optbool(L, *opts, "count_include_pad", true);
        if (emL_getopt(L, *opts, "divisor_override") != LUA_TNIL) {
            int isint;
            p->divisor = lua_tointegerx(L, -1, &isint);
            if (!isint || p->divisor <= 0)
                luaL_error(L, "%s: divisor_override must be a positive integer", fn);
        }
        lua_pop(L, 1);
    }
}

static int push_pair(lua_State *L, int rc, em_tensor *out, em_tensor *idx, bool want_idx)
{
    if (rc < 0)
        return emL_error(L);
    emL_pushtensor(L, out);
    if (!want_idx)
        return 1;
    emL_pushtensor(L, idx);
    return 2;
}

static int max_pool(lua_State *L, int nsp, const char *fn)
{
    em_tensor *x = emL_checktensor(L, 1);
    em_pool_params p;
    int opts;
    read_params(L, nsp, fn, true, &p, &opts);
    bool want = emL_optbool(L, opts, "return_indices", false);
    em_tensor *out, *idx;
    int rc = em_ag_max_pool(x, nsp, &p, &out, want ? &idx : NULL);
    return push_pair(L, rc, out, want ? idx : NULL, want);
}

static int avg_pool(lua_State *L, int nsp, const char *fn)
{
    em_tensor *x = emL_checktensor(L, 1);
    em_pool_params p;
    int opts;
    read_params(L, nsp, fn, false, &p, &opts);
    emL_pushtensor(L, em_ag_avg_pool(x, nsp, &p));
    return 1;
}

static void output_size(lua_State *L, int nsp, const char *fn, int64_t *osz)
{
    int64_t v[2] = { 1, 1 };
    if (!get_pair(L, 2, fn, "output_size", nsp, v))
        luaL_error(L, "%s: output_size is required", fn);
    osz[0] = nsp == 2 ? v[0] : v[1];
    osz[1] = v[1];
}

static int adaptive_avg(lua_State *L, int nsp, const char *fn)
{
    em_tensor *x = emL_checktensor(L, 1);
    int64_t osz[2];
    output_size(L, nsp, fn, osz);
    emL_pushtensor(L, em_ag_adaptive_avg_pool(x, nsp, osz));
    return 1;
}

static int adaptive_max(lua_State *L, int nsp, const char *fn)
{
    em_tensor *x = emL_checktensor(L, 1);
    int64_t osz[2];
    output_size(L, nsp, fn, osz);
    bool want = emL_optbool(L, opts_at(L, 3, fn), "return_indices", false);
    em_tensor *out, *idx;
    int rc = em_ag_adaptive_max_pool(x, nsp, osz, &out, want ? &idx : NULL);
    return push_pair(L, rc, out, want ? idx : NULL, want);
}

static int l_max_pool1d(lua_State *L) { return max_pool(L, 1, "max_pool1d"); }
static int l_max_pool2d(lua_State *L) { return max_pool(L, 2, "max_pool2d"); }
static int l_avg_pool1d(lua_State *L) { return avg_pool(L, 1, "avg_pool1d"); }
static int l_avg_pool2d(lua_State *L) { return avg_pool(L, 2, "avg_pool2d"); }
static int l_adaptive_avg_pool1d(lua_State *L) { return adaptive_avg(L, 1, "adaptive_avg_pool1d"); }
static int l_adaptive_avg_pool2d(lua_State *L) { return adaptive_avg(L, 2, "adaptive_avg_pool2d"); }
static int l_adaptive_max_pool1d(lua_State *L) { return adaptive_max(L, 1, "adaptive_max_pool1d"); }
static int l_adaptive_max_pool2d(lua_State *L) { return adaptive_max(L, 2, "adaptive_max_pool2d"); }

/* torch.max_unpool2d(x, indices, output_size): output_size is {oh, ow} (or the
 * full output shape, whose last two entries are used). */
static int l_max_unpool2d(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1), *idx = emL_checktensor(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    int64_t sz[EM_MAX_DIMS];
    int n = emL_checkintlist(L, 3, sz, EM_MAX_DIMS, "max_unpool2d");
    if (n < 2)
        return luaL_error(L, "max_unpool2d: output_size must hold at least 2 sizes, got %d", n);
    emL_pushtensor(L, em_ag_max_unpool2d(x, idx, sz[n - 2], sz[n - 1]));
    return 1;
}

static const luaL_Reg pool_funcs[] = {
    { "max_pool1d", l_max_pool1d },
    { "max_pool2d", l_max_pool2d },
    { "avg_pool1d", l_avg_pool1d },
    { "avg_pool2d", l_avg_pool2d },
    { "adaptive_avg_pool1d", l_adaptive_avg_pool1d },
    { "adaptive_avg_pool2d", l_adaptive_avg_pool2d },
    { "adaptive_max_pool1d", l_adaptive_max_pool1d },
    { "adaptive_max_pool2d", l_adaptive_max_pool2d },
    { "max_unpool2d", l_max_unpool2d },
    { NULL, NULL },
};

void emL_open_pool(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, pool_funcs, 0);
    lua_pop(L, 1);
}
