/* Element indexing through __index / __newindex with non-string keys.
 * x[i] selects along dim 1 (1-based, negative from the end). On a 1-d tensor it
 * gives a Lua number (Torch7's rule, so reading a value stays easy), except when
 * the tensor takes part in autograd: then a 0-d view keeps the graph. */
#include "lua_ember.h"

static bool wants_tensor_result(const em_tensor *t)
{
    return t->requires_grad || t->autograd != NULL;
}

int emL_tensor_index(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (lua_isinteger(L, 2)) {
        if (t->ndim == 0)
            return luaL_error(L, "index: cannot index a 0-d tensor (use x:item())");
        int64_t i = emL_index_value(L, lua_tointeger(L, 2), t->sizes[0], 0);
        if (t->ndim == 1 && !wants_tensor_result(t) && em_tensor_device(t).type == EM_DEV_CPU) {
            emL_pushscalar(L, em_read_scalar((char *)em_tensor_data(t) + i * t->strides[0] *
                                                                         (int64_t)em_dtype_size(t->dtype),
                                             t->dtype));
            return 1;
        }
        emL_pushtensor(L, em_select(t, 0, i));
        return 1;
    }
    return luaL_error(L, "index: unsupported index of type %s", luaL_typename(L, 2));
}

int emL_tensor_newindex(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (lua_isinteger(L, 2)) {
        if (t->ndim == 0)
            return luaL_error(L, "index: cannot index a 0-d tensor (use x:fill_(v))");
        int64_t i = emL_index_value(L, lua_tointeger(L, 2), t->sizes[0], 0);
        em_tensor *v = em_select(t, 0, i);
        if (!v)
            return emL_error(L);
        em_tensor *src = emL_totensor(L, 3);
        int rc = src ? em_copy_(v, src) : emL_isscalar(L, 3) ? em_fill_(v, emL_checkscalar(L, 3)) : -2;
        em_tensor_release(v);
        if (rc == -2)
            return luaL_typeerror(L, 3, "number or tensor");
        emL_check(L, rc);
        return 0;
    }
    return luaL_error(L, "index: unsupported index of type %s", luaL_typename(L, 2));
}

void emL_open_index(lua_State *L, int methods, int module, int meta)
{
    (void)L, (void)methods, (void)module, (void)meta;
}
