/* torch.cuda.*: device query and host/device moves. Without a GPU (or without
 * CUDA in the build) is_available() is false and moves raise a clear error. */
#include "lua_ember.h"

#ifdef EM_HAVE_CUDA
#include "../kernels/cuda.h"
static int device_count(void) { return em_cuda_device_count(); }
#else
static int device_count(void) { return 0; }
#endif

static int l_is_available(lua_State *L)
{
    lua_pushboolean(L, device_count() > 0);
    return 1;
}

static int l_device_count(lua_State *L)
{
    lua_pushinteger(L, device_count());
    return 1;
}

static int l_built_with_cuda(lua_State *L)
{
#ifdef EM_HAVE_CUDA
    lua_pushboolean(L, 1);
#else
    lua_pushboolean(L, 0);
#endif
    return 1;
}

static int l_get_device_name(lua_State *L)
{
#ifdef EM_HAVE_CUDA
    char buf[256];
    emL_check(L, em_cuda_device_name((int)luaL_optinteger(L, 1, 0), buf, sizeof buf));
    lua_pushstring(L, buf);
    return 1;
#else
    return luaL_error(L, "cuda: Ember was built without CUDA support");
#endif
}

static int move_to(lua_State *L, em_device dev)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (em_device_eq(em_tensor_device(t), dev)) {
        lua_settop(L, 1);
        return 1;
    }
    em_tensor *r = em_tensor_empty(t->ndim, t->sizes, t->dtype, dev);
    if (!r)
        return emL_error(L);
    if (em_copy_(r, t) < 0) {
        em_tensor_release(r);
        return emL_error(L);
    }
    emL_pushtensor(L, r);
    return 1;
}

static int l_cuda(lua_State *L)
{
    em_device d = { EM_DEV_CUDA, (int)luaL_optinteger(L, 2, 0) };
    return move_to(L, d);
}

static int l_cpu(lua_State *L)
{
    return move_to(L, EM_CPU);
}

static const luaL_Reg cuda_funcs[] = {
    { "is_available", l_is_available },
    { "device_count", l_device_count },
    { "get_device_name", l_get_device_name },
    { "_built_with_cuda", l_built_with_cuda },
    { NULL, NULL },
};

void emL_open_cuda(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    static const luaL_Reg moves[] = { { "cuda", l_cuda }, { "cpu", l_cpu }, { NULL, NULL } };
    emL_register(L, methods, module, moves);
    lua_newtable(L);
    luaL_setfuncs(L, cuda_funcs, 0);
    lua_setfield(L, module, "cuda");
}
