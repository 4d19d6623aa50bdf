/* Bindings for the fused normalisations (core/norm.c, differentiable through
 * core/autograd/fn_norm.c), with PyTorch's positional arguments (nil for an
 * absent tensor):
 *   torch.batch_norm(x, weight, bias, running_mean, running_var, training=false,
 *                    momentum=0.1, eps=1e-5)   x (N, C, *); training updates the
 *                    running statistics in place
 *   torch.layer_norm(x, normalized_shape, weight, bias, eps=1e-5)
 *   torch.group_norm(x, num_groups, weight, bias, eps=1e-5)   x (N, C, *)
 * nn.functional wraps these with its option tables and messages. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

static double opt_number(lua_State *L, int arg, double def)
{
    return lua_isnoneornil(L, arg) ? def : luaL_checknumber(L, arg);
}

static int l_batch_norm(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    em_tensor *w = emL_opttensor(L, 2), *b = emL_opttensor(L, 3);
    em_tensor *rm = emL_opttensor(L, 4), *rv = emL_opttensor(L, 5);
    bool training = false;
    if (!lua_isnoneornil(L, 6)) {
        luaL_checktype(L, 6, LUA_TBOOLEAN);
        training = lua_toboolean(L, 6);
    }
    double momentum = opt_number(L, 7, 0.1), eps = opt_number(L, 8, 1e-5);
    emL_pushtensor(L, em_ag_batch_norm(x, w, b, rm, rv, training, momentum, eps));
    return 1;
}

static int l_layer_norm(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    int64_t shape[EM_MAX_DIMS];
    int k;
    if (lua_isinteger(L, 2)) {
        shape[0] = lua_tointeger(L, 2);
        k = 1;
    } else if (lua_type(L, 2) == LUA_TTABLE && !emL_totensor(L, 2)) {
        k = emL_checkintlist(L, 2, shape, EM_MAX_DIMS, "layer_norm: normalized_shape");
    } else {
        return luaL_error(L, "layer_norm: normalized_shape must be an integer or a table of integers, got %s",
                          luaL_typename(L, 2));
    }
    em_tensor *w = emL_opttensor(L, 3), *b = emL_opttensor(L, 4);
    double eps = opt_number(L, 5, 1e-5);
    emL_pushtensor(L, em_ag_layer_norm(x, k, shape, w, b, eps));
    return 1;
}

static int l_group_norm(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    lua_Integer groups = luaL_checkinteger(L, 2);
    em_tensor *w = emL_opttensor(L, 3), *b = emL_opttensor(L, 4);
    double eps = opt_number(L, 5, 1e-5);
    emL_pushtensor(L, em_ag_group_norm(x, (int64_t)groups, w, b, eps));
    return 1;
}

static const luaL_Reg norm_funcs[] = {
    { "batch_norm", l_batch_norm },
    { "layer_norm", l_layer_norm },
    { "group_norm", l_group_norm },
    { NULL, NULL },
};

void emL_open_norm(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, norm_funcs, 0);
    lua_pop(L, 1);
}
