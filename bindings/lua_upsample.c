/* Bindings for upsampling (core/upsample.c, differentiable through
 * core/autograd/fn_upsample.c): the kernel-level call under F.interpolate,
 * which resolves size / scale_factor (lua/nn/functional/upsampling.lua):
 *   torch.upsample(x, mode, output_size [, {align_corners=false, scales=}])
 * mode: 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear';
 * output_size: an integer or a table of one integer per spatial dim; scales: the
 * user's scale factors (a number or a table), used for the source coordinates
 * as PyTorch does (1 / scale) when align_corners is false. */
#include <math.h>

#include "lua_ember.h"

#include "../core/autograd/functions.h"

/* An integer, number or table of n of them at idx into v[0..n-1]. */
static void read_list(lua_State *L, int idx, int n, bool integers, const char *what, int64_t *iv, double *dv)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        for (int d = 0; d < n; d++) {
            if (integers && !lua_isinteger(L, idx))
                luaL_error(L, "upsample: %s must be an integer or a table of %d integers, got %f", what, n,
                           lua_tonumber(L, idx));
            if (integers)
                iv[d] = lua_tointeger(L, idx);
            else
                dv[d] = lua_tonumber(L, idx);
        }
        return;
    }
    if (lua_type(L, idx) != LUA_TTABLE || emL_totensor(L, idx))
        luaL_error(L, "upsample: %s must be a number or a table of %d numbers, got %s", what, n,
                   luaL_typename(L, idx));
    lua_Integer len = luaL_len(L, idx);
    if (len != n)
        luaL_error(L, "upsample: %s must have %d entries (one per spatial dim), got %d", what, n, (int)len);
    for (int d = 0; d < n; d++) {
        lua_geti(L, idx, d + 1);
        int ok;
        if (integers) {
            iv[d] = lua_tointegerx(L, -1, &ok);
        } else {
            dv[d] = lua_tonumberx(L, -1, &ok);
            ok = ok && lua_type(L, -1) == LUA_TNUMBER;
        }
        if (!ok)
            luaL_error(L, "upsample: %s entry %d must be %s, got %s", what, d + 1, integers ? "an integer" : "a number",
                       luaL_typename(L, -1));
        lua_pop(L, 1);
    }
}

static int l_upsample(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    const char *mode = luaL_checkstring(L, 2);
    em_upsample_params p = { 0 };
    int nsp;
    if (em_upsample_mode_parse("upsample", mode, &p.mode, &nsp) < 0)
        return emL_error(L);
    if (nsp == 0)
        nsp = x->ndim - 2;
    if (nsp < 1 || nsp > 3 || x->ndim != nsp + 2) {
        char b[EM_SHAPE_BUF];
        return luaL_error(L, "upsample: mode '%s' expects a %s input, got %s", mode,
                          nsp == 1 ? "3-D" : nsp == 2 ? "4-D" : nsp == 3 ? "5-D" : "3-D, 4-D or 5-D",
                          em_tensor_shape_str(x, b, sizeof b));
    }
    p.nsp = nsp;
    if (lua_isnoneornil(L, 3))
        return luaL_error(L, "upsample: output_size is required");
    read_list(L, 3, nsp, true, "output_size", p.osize, NULL);
    int opts = 0;
    if (!lua_isnoneornil(L, 4)) {
        if (!emL_isopts(L, 4))
            return luaL_error(L, "upsample: expected an options table as argument 4, got %s", luaL_typename(L, 4));
        opts = 4;
    }
    p.align_corners = emL_optbool(L, opts, "align_corners", false);
    if (emL_getopt(L, opts, "scales") != LUA_TNIL) {
        read_list(L, -1, nsp, false, "scales", NULL, p.scales);
        for (int d = 0; d < nsp; d++)
            if (!(p.scales[d] > 0) || isinf(p.scales[d]))
                return luaL_error(L, "upsample: scales must be positive and finite, got %f", p.scales[d]);
    }
    lua_pop(L, 1);
    emL_pushtensor(L, em_ag_upsample(x, &p));
    return 1;
}

static const luaL_Reg upsample_funcs[] = {
    { "upsample", l_upsample },
    { NULL, NULL },
};

void emL_open_upsample(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, upsample_funcs, 0);
    lua_pop(L, 1);
}
