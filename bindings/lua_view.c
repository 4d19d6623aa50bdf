/* Bindings for view ops (core/view.c) through their differentiable forms
 * (core/autograd/fn_view.c): dims and indices arrive 1-based. */
#include "lua_ember.h"

#include <string.h>

#include "../core/autograd/functions.h"

static int l_view(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t sizes[EM_MAX_DIMS];
    em_tensor *other = emL_totensor(L, 2);
    if (lua_type(L, 2) == LUA_TSTRING) { /* x:view('float32'): same bytes, other dtype is not supported */
        return luaL_argerror(L, 2, "view(dtype) is not supported; use x:to(dtype)");
    }
    if (other) {
        emL_pushtensor(L, em_ag_view(t, other->ndim, other->sizes));
        return 1;
    }
    int n = emL_checksizes(L, 2, sizes);
    emL_pushtensor(L, em_ag_view(t, n, sizes));
    return 1;
}

static int l_view_as(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1), *o = emL_checktensor(L, 2);
    emL_pushtensor(L, em_ag_view(t, o->ndim, o->sizes));
    return 1;
}

static int l_reshape(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t sizes[EM_MAX_DIMS];
    int n = emL_checksizes(L, 2, sizes);
    emL_pushtensor(L, em_ag_reshape(t, n, sizes));
    return 1;
}

static int l_reshape_as(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1), *o = emL_checktensor(L, 2);
    emL_pushtensor(L, em_ag_reshape(t, o->ndim, o->sizes));
    return 1;
}

static int l_permute(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t dims[EM_MAX_DIMS];
    int n = emL_checksizes(L, 2, dims);
    if (n != t->ndim)
        return luaL_error(L, "permute: expected %d dimensions, got %d", t->ndim, n);
    int perm[EM_MAX_DIMS];
    for (int i = 0; i < n; i++)
        perm[i] = emL_dim_value(L, dims[i], t->ndim, "permute");
    emL_pushtensor(L, em_ag_permute(t, perm));
    return 1;
}

static int l_transpose(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int d0 = emL_checkdim(L, 2, t->ndim), d1 = emL_checkdim(L, 3, t->ndim);
    emL_pushtensor(L, em_ag_transpose(t, d0, d1));
    return 1;
}

/* t(): 2-d transpose; 0-d and 1-d come back unchanged, as in PyTorch. */
static int l_t(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (t->ndim > 2)
        return luaL_error(L, "t: expects a tensor with at most 2 dimensions, got %d (use transpose or permute)",
                          t->ndim);
    emL_pushtensor(L, em_ag_t(t));
    return 1;
}

/* T: all dims reversed. */
static int l_T(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int perm[EM_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        perm[i] = t->ndim - 1 - i;
    emL_pushtensor(L, em_ag_permute(t, perm));
    return 1;
}

/* narrow(dim, start, length): start is 1-based (negative counts from the end). */
static int l_narrow(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (t->ndim == 0)
        return luaL_error(L, "narrow: cannot narrow a 0-d tensor");
    int d = emL_checkdim(L, 2, t->ndim);
    lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
    int64_t n = t->sizes[d];
    if (start < 0)
        start += n + 1;
    if (start < 1 || start > n + 1)
        return luaL_error(L, "narrow: start %I is out of range for dimension %d of size %I", (lua_Integer)start, d + 1,
                          (lua_Integer)n);
    emL_pushtensor(L, em_ag_narrow(t, d, start - 1, len));
    return 1;
}

static int l_select(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (t->ndim == 0)
        return luaL_error(L, "select: cannot index a 0-d tensor");
    int d = emL_checkdim(L, 2, t->ndim);
    int64_t i = emL_index_value(L, luaL_checkinteger(L, 3), t->sizes[d], d);
    emL_pushtensor(L, em_ag_select(t, d, i));
    return 1;
}

static int l_squeeze(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int d = lua_isnoneornil(L, 2) ? -1 : emL_checkdim(L, 2, t->ndim);
    if (t->ndim == 0)
        d = -1;
    emL_pushtensor(L, em_ag_squeeze(t, d));
    return 1;
}

static int l_unsqueeze(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    lua_Integer d = luaL_checkinteger(L, 2);
    int n = t->ndim + 1;
    if (d == 0 || d > n || d < -n)
        return luaL_argerror(L, 2, lua_pushfstring(L, "dimension %I out of range (expected 1..%d or -%d..-1)",
                                                   (lua_Integer)d, n, n));
    emL_pushtensor(L, em_ag_unsqueeze(t, (int)(d > 0 ? d - 1 : d + n)));
    return 1;
}

static int l_expand(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t sizes[EM_MAX_DIMS];
    em_tensor *other = emL_totensor(L, 2);
    if (other) {
        emL_pushtensor(L, em_ag_expand(t, other->ndim, other->sizes));
        return 1;
    }
    int n = emL_checksizes(L, 2, sizes);
    emL_pushtensor(L, em_ag_expand(t, n, sizes));
    return 1;
}

static int l_expand_as(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1), *o = emL_checktensor(L, 2);
    emL_pushtensor(L, em_ag_expand(t, o->ndim, o->sizes));
    return 1;
}

static int l_flatten(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int s = emL_optdim(L, 2, t->ndim, 0);
    int e = emL_optdim(L, 3, t->ndim, t->ndim > 0 ? t->ndim - 1 : 0);
    emL_pushtensor(L, em_ag_flatten(t, s, e));
    return 1;
}

static int l_unflatten(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int d = emL_checkdim(L, 2, t->ndim);
    int64_t sizes[EM_MAX_DIMS];
    luaL_checktype(L, 3, LUA_TTABLE);
    int n = emL_checkintlist(L, 3, sizes, EM_MAX_DIMS, "unflatten");
    emL_pushtensor(L, em_ag_unflatten(t, d, n, sizes));
    return 1;
}

static int l_unfold(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int d = emL_checkdim(L, 2, t->ndim);
    emL_pushtensor(L, em_ag_unfold(t, d, luaL_checkinteger(L, 3), luaL_checkinteger(L, 4)));
    return 1;
}

static int l_diagonal(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int opts = emL_isopts(L, 2) ? 2 : 0;
    lua_Integer off = opts ? emL_optint(L, opts, "offset", 0) : luaL_optinteger(L, 2, 0);
    int d1 = 0, d2 = 1;
    if (opts) {
        lua_Integer a = emL_optint(L, opts, "dim1", 1), b = emL_optint(L, opts, "dim2", 2);
        d1 = emL_dim_value(L, a, t->ndim, "diagonal");
        d2 = emL_dim_value(L, b, t->ndim, "diagonal");
    } else {
        d1 = emL_optdim(L, 3, t->ndim, 0);
        d2 = emL_optdim(L, 4, t->ndim, 1);
    }
    emL_pushtensor(L, em_ag_diagonal(t, off, d1, d2));
    return 1;
}

static int l_as_strided(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    int n = emL_checkintlist(L, 2, sizes, EM_MAX_DIMS, "as_strided");
    int m = emL_checkintlist(L, 3, strides, EM_MAX_DIMS, "as_strided");
    if (n != m)
        return luaL_error(L, "as_strided: %d sizes but %d strides", n, m);
    lua_Integer off = luaL_optinteger(L, 4, t->offset);
    emL_pushtensor(L, em_ag_as_strided(t, n, sizes, strides, off));
    return 1;
}

/* t:set_(src [, storage_offset, sizes [, strides]]): t (the same object, keeping its
 * autograd fields) views src's storage: with src's geometry, or from the 0-based
 * storage offset with the given sizes and strides (contiguous by default). */
static int l_set_(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1), *src = emL_checktensor(L, 2);
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    int n = src->ndim;
    int64_t off = src->offset;
    memcpy(sizes, src->sizes, sizeof sizes);
    memcpy(strides, src->strides, sizeof strides);
    if (!lua_isnoneornil(L, 3)) {
        off = luaL_checkinteger(L, 3);
        luaL_checktype(L, 4, LUA_TTABLE);
        n = emL_checkintlist(L, 4, sizes, EM_MAX_DIMS, "set_");
        if (lua_isnoneornil(L, 5)) {
            for (int i = 0; i < n; i++)
                if (sizes[i] < 0)
                    return luaL_error(L, "set_: sizes must be non-negative, got %I at dimension %d",
                                      (lua_Integer)sizes[i], i + 1);
            em_contiguous_strides(n, sizes, strides);
        } else {
            luaL_checktype(L, 5, LUA_TTABLE);
            int m = emL_checkintlist(L, 5, strides, EM_MAX_DIMS, "set_");
            if (n != m)
                return luaL_error(L, "set_: %d sizes but %d strides", n, m);
        }
    } else if (!lua_isnoneornil(L, 4)) {
        return luaL_argerror(L, 3, "storage offset expected when sizes are given");
    }
    emL_check(L, em_ag_set_(t, src, off, n, sizes, strides));
    lua_settop(L, 1);
    return 1;
}

static const luaL_Reg view_funcs[] = {
    { "set_", l_set_ },
    { "view", l_view },
    { "view_as", l_view_as },
    { "reshape", l_reshape },
    { "reshape_as", l_reshape_as },
    { "permute", l_permute },
    { "transpose", l_transpose },
    { "t", l_t },
    { "narrow", l_narrow },
    { "select", l_select },
    { "squeeze", l_squeeze },
    { "unsqueeze", l_unsqueeze },
    { "expand", l_expand },
    { "expand_as", l_expand_as },
    { "flatten", l_flatten },
    { "unflatten", l_unflatten },
    { "unfold", l_unfold },
    { "diagonal", l_diagonal },
    { "as_strided", l_as_strided },
    { NULL, NULL },
};

void emL_open_view(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    emL_register(L, methods, module, view_funcs);
    lua_getfield(L, module, "_getters");
    lua_pushcfunction(L, l_T);
    lua_setfield(L, -2, "T");
    lua_pop(L, 1);
}
