/* luaopen_torch_core: the C module behind `require 'torch'`. It creates the
 * Tensor metatable and methods table and lets each binding family register. */
#include "lua_ember.h"

static int size_tostring(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "torch.Size([");
    lua_Integer n = luaL_len(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        if (i > 1)
            luaL_addstring(&b, ", ");
        luaL_addvalue(&b);
    }
    luaL_addstring(&b, "])");
    luaL_pushresult(&b);
    return 1;
}

static int size_eq(lua_State *L)
{
    lua_Integer n = luaL_len(L, 1);
    if (luaL_len(L, 2) != n) {
        lua_pushboolean(L, 0);
        return 1;
    }
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        lua_geti(L, 2, i);
        if (!lua_rawequal(L, -1, -2)) {
            lua_pushboolean(L, 0);
            return 1;
        }
        lua_pop(L, 2);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int size_numel(lua_State *L)
{
    lua_Integer n = luaL_len(L, 1), p = 1;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        p *= lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_pushinteger(L, p);
    return 1;
}

int luaopen_torch_core(lua_State *L)
{
    em_init();

    luaL_newmetatable(L, "torch.Size");
    lua_pushcfunction(L, size_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, size_eq);
    lua_setfield(L, -2, "__eq");
    lua_newtable(L);
    lua_pushcfunction(L, size_numel);
    lua_setfield(L, -2, "numel");
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "torch.Size");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);

    lua_newtable(L); /* module */
    int module = lua_gettop(L);
    lua_newtable(L); /* methods */
    int methods = lua_gettop(L);
    luaL_newmetatable(L, EM_TENSOR_MT);
    int meta = lua_gettop(L);

    emL_open_tensor(L, methods, module, meta);
    emL_open_factory(L, methods, module, meta);
    emL_open_view(L, methods, module, meta);
    emL_open_elementwise(L, methods, module, meta);
    emL_open_reduce(L, methods, module, meta);
    emL_open_linalg(L, methods, module, meta);
    emL_open_index(L, methods, module, meta);
    emL_open_random(L, methods, module, meta);
    emL_open_shape(L, methods, module, meta);
    emL_open_cuda(L, methods, module, meta);
    emL_open_autograd(L, methods, module, meta);
    emL_open_pool(L, methods, module, meta);
    emL_open_loss(L, methods, module, meta);
    emL_open_embedding_bag(L, methods, module, meta);
    emL_open_tensor_io(L, methods, module, meta);
    emL_open_fs(L, methods, module, meta);
    emL_open_ctc(L, methods, module, meta);
    emL_open_conv(L, methods, module, meta);
    emL_open_vision(L, methods, module, meta);
    emL_open_upsample(L, methods, module, meta);
    emL_open_optim(L, methods, module, meta);
    emL_open_norm(L, methods, module, meta);
    emL_open_pad(L, methods, module, meta);
    emL_open_rnn(L, methods, module, meta);
    emL_open_formats(L, methods, module, meta);
    emL_open_image(L, methods, module, meta);
    emL_open_dir(L, methods, module, meta);
    emL_open_workers(L, methods, module, meta);

    lua_pushvalue(L, methods);
    lua_setfield(L, module, "_methods");
    lua_pushvalue(L, meta);
    lua_setfield(L, module, "_metatable");
    lua_settop(L, module);
    return 1;
}
