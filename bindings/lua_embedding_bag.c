/* Binding for the fused embedding_bag (core/embedding_bag.c, differentiable through
 * core/autograd/fn_embedding_bag.c). Indices and offsets are 1-based:
 *   torch.embedding_bag(weight, input, offsets, {mode='mean', per_sample_weights=,
 *                       padding_idx=, include_last_offset=false, scale_grad_by_freq=false})
 * input is (N) with offsets (the 1-based start of each bag) or (B, L) with offsets nil.
 * nn.functional.embedding_bag adds max_norm and the PyTorch-style checks. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

#define FN "embedding_bag"

static int l_embedding_bag(lua_State *L)
{
    em_tensor *w = emL_checktensor(L, 1), *input = emL_checktensor(L, 2);
    em_tensor *offsets = NULL;
    if (!lua_isnoneornil(L, 3)) {
        offsets = emL_totensor(L, 3);
        if (!offsets)
            return luaL_error(L, FN ": offsets must be a tensor or nil, got %s", luaL_typename(L, 3));
    }
    int opts = 0;
    if (!lua_isnoneornil(L, 4)) {
        if (!emL_isopts(L, 4))
            return luaL_error(L, FN ": expected an options table as argument 4, got %s", luaL_typename(L, 4));
        opts = 4;
    }
    em_bag_mode mode = EM_BAG_MEAN;
    if (emL_getopt(L, opts, "mode") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, FN ": mode must be 'sum', 'mean' or 'max', got %s", luaL_typename(L, -1));
        int m = em_bag_mode_parse(lua_tostring(L, -1));
        if (m < 0)
            emL_error(L);
        mode = (em_bag_mode)m;
    }
    lua_pop(L, 1);
    em_tensor *psw = NULL;
    if (emL_getopt(L, opts, "per_sample_weights") != LUA_TNIL) {
        psw = emL_totensor(L, -1);
        if (!psw)
            return luaL_error(L, FN ": per_sample_weights must be a tensor, got %s", luaL_typename(L, -1));
    }
    lua_pop(L, 1); /* still referenced by the options table */
    int64_t pad = 0;
    if (emL_getopt(L, opts, "padding_idx") != LUA_TNIL) {
        int isint = 0;
        lua_Integer p = lua_tointegerx(L, -1, &isint);
        int64_t V = w->ndim == 2 ? w->sizes[0] : 0;
        if (!isint || p == 0 || p > V || p < -V)
            return luaL_error(L, FN ": padding_idx must be an integer in 1..%d or -%d..-1, got %s", (int)V, (int)V,
                              luaL_tolstring(L, -1, NULL));
        pad = p < 0 ? V + 1 + p : p;
    }
    lua_pop(L, 1);
    bool last = emL_optbool(L, opts, "include_last_offset", false);
    bool freq = emL_optbool(L, opts, "scale_grad_by_freq", false);
    emL_pushtensor(L, em_ag_embedding_bag(w, input, offsets, psw, mode, pad, last, freq));
    return 1;
}

static const luaL_Reg embedding_bag_funcs[] = {
    { "embedding_bag", l_embedding_bag },
    { NULL, NULL },
};

void emL_open_embedding_bag(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, embedding_bag_funcs, 0);
    lua_pop(L, 1);
}
