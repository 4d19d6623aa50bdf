/* Binding for padding (core/pad.c, differentiable through core/autograd/fn_pad.c),
 * the kernel-level call under F.pad (lua/nn/functional/padding.lua):
 *   torch.pad(x, pad [, mode='constant' [, value=0]])
 * pad: a table of (left, right) amounts from the last dim backwards, as PyTorch
 * ({1, 2} pads the last dim by 1 before and 2 after); mode: 'constant',
 * 'reflect', 'replicate' or 'circular'; value: constant mode's fill. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

static int l_pad(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    if (lua_type(L, 2) != LUA_TTABLE || emL_totensor(L, 2))
        return luaL_error(L, "pad: pad must be a table of integers {left, right, ...}, got %s", luaL_typename(L, 2));
    em_pad_params p = { 0 };
    lua_Integer len = luaL_len(L, 2);
    if (len % 2 != 0)
        return luaL_error(L, "pad: pad length must be divisible by 2, got %d", (int)len);
    if (len > 2 * x->ndim)
        return luaL_error(L, "pad: padding length %d is too large for a %dD input (at most 2 per dim)", (int)len,
                          x->ndim);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, 2, i);
        int ok;
        p.pad[i - 1] = lua_tointegerx(L, -1, &ok);
        if (!ok || lua_type(L, -1) != LUA_TNUMBER)
            return luaL_error(L, "pad: pad must hold integers, got %s at position %d", luaL_typename(L, -1), (int)i);
        lua_pop(L, 1);
    }
    p.npad = (int)(len / 2);
    if (!lua_isnoneornil(L, 3)) {
        if (lua_type(L, 3) != LUA_TSTRING)
            return luaL_error(L, "pad: mode must be one of constant, reflect, replicate, circular, got %s",
                              luaL_typename(L, 3));
        if (em_pad_mode_parse("pad", lua_tostring(L, 3), &p.mode) < 0)
            return emL_error(L);
    }
    p.value = em_scalar_int(0);
    if (!lua_isnoneornil(L, 4)) {
        if (lua_type(L, 4) != LUA_TNUMBER && lua_type(L, 4) != LUA_TBOOLEAN)
            return luaL_error(L, "pad: value must be a number, got %s", luaL_typename(L, 4));
        p.value = emL_checkscalar(L, 4);
    }
    emL_pushtensor(L, em_ag_pad(x, &p));
    return 1;
}

static const luaL_Reg pad_funcs[] = {
    { "pad", l_pad },
    { NULL, NULL },
};

void emL_open_pad(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, pad_funcs, 0);
    lua_pop(L, 1);
}
