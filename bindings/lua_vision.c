/* Bindings for sliding blocks (core/fold.c) and grid sampling
 * (core/grid_sample.c), differentiable through core/autograd/fn_fold.c and
 * fn_grid_sample.c. Sizes are an integer or a table of 2 integers (H, W):
 *   torch.im2col(x, kernel_size, {dilation=1, padding=0, stride=1})
 *   torch.col2im(x, output_size, kernel_size, {dilation=1, padding=0, stride=1})
 *   torch.grid_sample(input, grid, {mode='bilinear', padding_mode='zeros',
 *                     align_corners=false})
 * F.unfold / F.fold / F.grid_sample (lua/nn/functional/vision.lua) wrap them. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

/* An integer or a table of 2 integers at idx into v (H, W); def when nil. */
static void get_pair(lua_State *L, int idx, const char *fn, const char *what, int64_t def, int64_t *v)
{
    idx = lua_absindex(L, idx);
    if (lua_isnil(L, idx)) {
        if (def < 0)
            luaL_error(L, "%s: %s is required", fn, what);
        v[0] = v[1] = def;
        return;
    }
    if (lua_isinteger(L, idx)) {
        v[0] = v[1] = lua_tointeger(L, idx);
        return;
    }
    if (lua_type(L, idx) == LUA_TTABLE && !emL_totensor(L, idx)) {
        int64_t t[2];
        lua_Integer n = luaL_len(L, idx);
        if (n != 1 && n != 2)
            luaL_error(L, "%s: %s must be an integer or a table of 2 integers, got a table of %d", fn, what, (int)n);
        emL_checkintlist(L, idx, t, 2, fn);
        v[0] = t[0];
        v[1] = n == 1 ? t[0] : t[1];
        return;
    }
    luaL_error(L, "%s: %s must be an integer or a table of 2 integers, got %s", fn, what, luaL_typename(L, idx));
}

static int opts_at(lua_State *L, int arg, const char *fn)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    if (!emL_isopts(L, arg))
        return luaL_error(L, "%s: expected an options table as argument %d, got %s", fn, arg, luaL_typename(L, arg));
    return arg;
}

static void opt_pair(lua_State *L, int opts, const char *fn, const char *what, int64_t def, int64_t *v)
{
    emL_getopt(L, opts, what);
    get_pair(L, -1, fn, what, def, v);
    lua_pop(L, 1);
}

static void read_fold(lua_State *L, int karg, const char *fn, em_fold_params *p)
{
    get_pair(L, karg, fn, "kernel_size", -1, p->kernel);
    int opts = opts_at(L, karg + 1, fn);
    opt_pair(L, opts, fn, "dilation", 1, p->dilation);
    opt_pair(L, opts, fn, "padding", 0, p->padding);
    opt_pair(L, opts, fn, "stride", 1, p->stride);
}

static int l_im2col(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    em_fold_params p;
    read_fold(L, 2, "unfold", &p);
    emL_pushtensor(L, em_ag_im2col(x, &p));
    return 1;
}

static int l_col2im(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    int64_t osize[2];
    get_pair(L, 2, "fold", "output_size", -1, osize);
    em_fold_params p;
    read_fold(L, 3, "fold", &p);
    emL_pushtensor(L, em_ag_col2im(x, osize, &p));
    return 1;
}

static const char *opt_string(lua_State *L, int opts, const char *name, const char *def)
{
    int t = emL_getopt(L, opts, name);
    const char *s = def;
    if (t == LUA_TSTRING)
        s = lua_tostring(L, -1); /* still referenced by the options table */
    else if (t != LUA_TNIL)
        luaL_error(L, "grid_sample: %s must be a string, got %s", name, luaL_typename(L, -1));
    lua_pop(L, 1);
    return s;
}

static int l_grid_sample(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1), *grid = emL_checktensor(L, 2);
    int opts = opts_at(L, 3, "grid_sample");
    em_grid_params p;
    if (em_grid_mode_parse(opt_string(L, opts, "mode", "bilinear"), &p.mode) < 0 ||
        em_grid_padding_parse(opt_string(L, opts, "padding_mode", "zeros"), &p.padding) < 0)
        return emL_error(L);
    p.align_corners = emL_optbool(L, opts, "align_corners", false);
    emL_pushtensor(L, em_ag_grid_sample(x, grid, &p));
    return 1;
}

static const luaL_Reg vision_funcs[] = {
    { "im2col", l_im2col },
    { "col2im", l_col2im },
    { "grid_sample", l_grid_sample },
    { NULL, NULL },
};

void emL_open_vision(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, vision_funcs, 0);
    lua_pop(L, 1);
}
