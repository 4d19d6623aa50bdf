/* Argument checking helpers shared by every binding file. */
#include "lua_ember.h"

#include "../core/autograd/autograd.h"

#include <stdlib.h>
#include <string.h>

int emL_error(lua_State *L)
{
    return luaL_error(L, "%s", em_last_error());
}

bool emL_isscalar(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    return t == LUA_TNUMBER || t == LUA_TBOOLEAN;
}

em_scalar emL_checkscalar(lua_State *L, int arg)
{
    switch (lua_type(L, arg)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, arg))
            return em_scalar_int(lua_tointeger(L, arg));
        return em_scalar_double(lua_tonumber(L, arg));
    case LUA_TBOOLEAN:
        return em_scalar_bool(lua_toboolean(L, arg));
    default:
        luaL_typeerror(L, arg, "number");
        return em_scalar_int(0);
    }
}

void emL_pushscalar(lua_State *L, em_scalar s)
{
    if (s.is_bool)
        lua_pushboolean(L, s.i != 0);
    else if (s.is_int)
        lua_pushinteger(L, s.i);
    else
        lua_pushnumber(L, s.d);
}

int emL_dim_value(lua_State *L, lua_Integer d, int ndim, const char *what)
{
    int n = ndim > 0 ? ndim : 1;
    if (d < -n || d > n || d == 0)
        return luaL_error(L, "%s: dimension %I out of range (expected %d..-1 or 1..%d for a %d-d tensor)", what,
                          (lua_Integer)d, -n, n, ndim);
    return (int)(d > 0 ? d - 1 : d + n);
}

static const char *current_function(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name)
        return ar.name;
    return "?";
}

int emL_checkdim(lua_State *L, int arg, int ndim)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    int n = ndim > 0 ? ndim : 1;
    if (d < -n || d > n || d == 0) {
        const char *msg = lua_pushfstring(L, "dimension %I out of range for a %d-d tensor (expected 1..%d or -%d..-1)",
                                          (lua_Integer)d, ndim, n, n);
        luaL_argerror(L, arg, msg);
    }
    return (int)(d > 0 ? d - 1 : d + n);
}

int emL_optdim(lua_State *L, int arg, int ndim, int def)
{
    if (lua_isnoneornil(L, arg))
        return def;
    return emL_checkdim(L, arg, ndim);
}

int64_t emL_index_value(lua_State *L, lua_Integer i, int64_t n, int dim)
{
    if (i == 0 || i > n || i < -n)
        luaL_error(L, "%s: index %I is out of range for dimension %d of size %I", current_function(L), (lua_Integer)i,
                   dim + 1, (lua_Integer)n);
    return i > 0 ? i - 1 : i + n;
}

em_dtype emL_checkdtype(lua_State *L, int arg)
{
    const char *s = luaL_checkstring(L, arg);
    int dt = em_dtype_parse(s);
    if (dt < 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "unknown dtype '%s'", s));
    return (em_dtype)dt;
}

em_dtype emL_optdtype(lua_State *L, int arg, em_dtype def)
{
    return lua_isnoneornil(L, arg) ? def : emL_checkdtype(L, arg);
}

int emL_checkintlist(lua_State *L, int idx, int64_t *out, int max, const char *what)
{
    idx = lua_absindex(L, idx);
    lua_Integer n = luaL_len(L, idx);
    if (n > max)
        luaL_error(L, "%s: at most %d entries, got %I", what, max, (lua_Integer)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, idx, i);
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint)
            luaL_error(L, "%s: entry %d must be an integer, got %s", what, (int)i, luaL_typename(L, -1));
        out[i - 1] = v;
        lua_pop(L, 1);
    }
    return (int)n;
}

int emL_checksizes(lua_State *L, int arg, int64_t *sizes)
{
    if (lua_istable(L, arg) && !emL_totensor(L, arg))
        return emL_checkintlist(L, arg, sizes, EM_MAX_DIMS, current_function(L));
    int top = lua_gettop(L), n = 0;
    for (int i = arg; i <= top; i++) {
        if (lua_type(L, i) != LUA_TNUMBER)
            break;
        if (n >= EM_MAX_DIMS)
            luaL_error(L, "%s: at most %d dimensions", current_function(L), EM_MAX_DIMS);
        sizes[n++] = luaL_checkinteger(L, i);
    }
    return n;
}

bool emL_isopts(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TTABLE && lua_getmetatable(L, idx) == 0;
}

int emL_getopt(lua_State *L, int opts_idx, const char *name)
{
    if (opts_idx == 0 || lua_type(L, opts_idx) != LUA_TTABLE) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    return lua_getfield(L, opts_idx, name);
}

bool emL_optbool(lua_State *L, int opts_idx, const char *name, bool def)
{
    int t = emL_getopt(L, opts_idx, name);
    bool v = def;
    if (t == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (t != LUA_TNIL)
        luaL_error(L, "%s: option '%s' must be a boolean, got %s", current_function(L), name, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

lua_Integer emL_optint(lua_State *L, int opts_idx, const char *name, lua_Integer def)
{
    int t = emL_getopt(L, opts_idx, name);
    lua_Integer v = def;
    if (t != LUA_TNIL) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok)
            luaL_error(L, "%s: option '%s' must be an integer, got %s", current_function(L), name,
                       luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

double emL_optnumber(lua_State *L, int opts_idx, const char *name, double def)
{
    int t = emL_getopt(L, opts_idx, name);
    double v = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TNUMBER)
            luaL_error(L, "%s: option '%s' must be a number, got %s", current_function(L), name,
                       luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

void emL_check_out_grad(lua_State *L, const em_tensor *out, const char *op)
{
    if (out->requires_grad && em_grad_enabled())
        luaL_error(L, "%s: out= cannot write into a tensor that requires grad (do it under torch.no_grad)", op);
}

em_tensor *emL_opt_out(lua_State *L, int opts_idx)
{
    int t = emL_getopt(L, opts_idx, "out");
    em_tensor *out = NULL;
    if (t != LUA_TNIL) {
        out = emL_totensor(L, -1);
        if (!out)
            luaL_error(L, "%s: option 'out' must be a tensor, got %s", current_function(L), luaL_typename(L, -1));
        if (out->requires_grad) /* the name lookup only when it may raise: it is slow */
            emL_check_out_grad(L, out, current_function(L));
    }
    lua_pop(L, 1);
    return out; /* still referenced by the options table */
}

em_dtype emL_opt_dtype(lua_State *L, int opts_idx, em_dtype def)
{
    int t = emL_getopt(L, opts_idx, "dtype");
    em_dtype dt = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING)
            luaL_error(L, "%s: option 'dtype' must be a string such as 'float64', got %s", current_function(L),
                       luaL_typename(L, -1));
        int d = em_dtype_parse(lua_tostring(L, -1));
        if (d < 0)
            luaL_error(L, "%s: unknown dtype '%s'", current_function(L), lua_tostring(L, -1));
        dt = (em_dtype)d;
    }
    lua_pop(L, 1);
    return dt;
}

em_device emL_checkdevice(lua_State *L, int idx)
{
    const char *s = luaL_checkstring(L, idx);
    em_device d = EM_CPU;
    if (strcmp(s, "cpu") == 0)
        return d;
    if (strncmp(s, "cuda", 4) == 0) {
        d.type = EM_DEV_CUDA;
        d.index = 0;
        if (s[4] == ':') {
            char *end;
            long v = strtol(s + 5, &end, 10);
            if (*end != '\0' || v < 0 || v > 255)
                luaL_error(L, "invalid device '%s'", s);
            d.index = (int)v;
        } else if (s[4] != '\0') {
            luaL_error(L, "invalid device '%s'", s);
        }
        return d;
    }
    luaL_error(L, "invalid device '%s' (expected 'cpu', 'cuda' or 'cuda:N')", s);
    return d;
}

em_device emL_opt_device(lua_State *L, int opts_idx, em_device def)
{
    int t = emL_getopt(L, opts_idx, "device");
    em_device d = def;
    if (t != LUA_TNIL)
        d = emL_checkdevice(L, -1);
    lua_pop(L, 1);
    return d;
}

void emL_pushdevice(lua_State *L, em_device d)
{
    if (d.type == EM_DEV_CPU)
        lua_pushliteral(L, "cpu");
    else
        lua_pushfstring(L, "cuda:%d", d.index);
}

void emL_pushsize(lua_State *L, int ndim, const int64_t *sizes)
{
    lua_createtable(L, ndim, 0);
    for (int i = 0; i < ndim; i++) {
        lua_pushinteger(L, sizes[i]);
        lua_rawseti(L, -2, i + 1);
    }
    luaL_setmetatable(L, "torch.Size");
}

void emL_register(lua_State *L, int methods, int module, const luaL_Reg *funcs)
{
    for (; funcs->name; funcs++) {
        lua_pushcfunction(L, funcs->func);
        lua_pushvalue(L, -1);
        lua_setfield(L, methods, funcs->name);
        lua_setfield(L, module, funcs->name);
    }
}
