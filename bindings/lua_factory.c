/* Constructors: torch.tensor from nested Lua tables, empty/zeros/ones/full and
 * their *_like forms. Sizes come as numbers, a table or a torch.Size; options as a
 * trailing table {dtype=, device=, requires_grad=}. */
#include "lua_ember.h"

#include <string.h>

/* ---- torch.tensor(data) ---- */

typedef struct {
    int ndim;
    int64_t sizes[EM_MAX_DIMS];
    bool any_float, any_int, any_bool;
} table_shape;

/* Walks the first element at each level for the shape, then checks every nested
 * table agrees, recording what kinds of numbers appear. */
static void scan_table(lua_State *L, int idx, int depth, table_shape *sh)
{
    luaL_checkstack(L, 3, "tensor: table nested too deeply");
    int t = lua_type(L, idx);
    if (t == LUA_TTABLE && !emL_totensor(L, idx)) {
        lua_Integer n = luaL_len(L, idx);
        if (depth >= EM_MAX_DIMS)
            luaL_error(L, "tensor: more than %d nested levels", EM_MAX_DIMS);
        if (depth == sh->ndim) {
            sh->sizes[depth] = n;
            sh->ndim = depth + 1;
        } else if (depth > sh->ndim || sh->sizes[depth] != n) {
            luaL_error(L, "tensor: ragged nested table (expected %d elements at level %d, got %d)",
                       depth < sh->ndim ? (int)sh->sizes[depth] : 0, depth + 1, (int)n);
        }
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, idx, i);
            if (i > 1 && lua_type(L, -1) != LUA_TTABLE && depth + 1 < sh->ndim)
                luaL_error(L, "tensor: ragged nested table at level %d", depth + 2);
            scan_table(L, lua_gettop(L), depth + 1, sh);
            lua_pop(L, 1);
        }
        return;
    }
    if (depth != sh->ndim)
        luaL_error(L, "tensor: ragged nested table (a number where a table was expected at level %d)", depth + 1);
    if (t == LUA_TNUMBER) {
        if (lua_isinteger(L, idx))
            sh->any_int = true;
        else
            sh->any_float = true;
    } else if (t == LUA_TBOOLEAN) {
        sh->any_bool = true;
    } else {
        em_tensor *e = emL_totensor(L, idx);
        if (e && e->ndim == 0) {
            if (em_dtype_is_float(e->dtype))
                sh->any_float = true;
            else if (e->dtype == EM_BOOL)
                sh->any_bool = true;
            else
                sh->any_int = true;
            return;
        }
        luaL_error(L, "tensor: expected numbers or booleans, got %s", luaL_typename(L, idx));
    }
}

static void fill_from_table(lua_State *L, int idx, int depth, const em_tensor *t, char **p)
{
    if (depth == t->ndim) {
        em_scalar s;
        em_tensor *e = emL_totensor(L, idx);
        if (e)
            emL_check(L, em_item(e, &s));
        else
            s = emL_checkscalar(L, idx);
        em_store_scalar(*p, t->dtype, s);
        *p += em_dtype_size(t->dtype);
        return;
    }
    for (int64_t i = 1; i <= t->sizes[depth]; i++) {
        lua_geti(L, idx, i);
        fill_from_table(L, lua_gettop(L), depth + 1, t, p);
        lua_pop(L, 1);
    }
}

/* Builds a CPU tensor from the Lua value at idx (number, boolean or nested table). */
static em_tensor *tensor_from_lua(lua_State *L, int idx, int opts)
{
    table_shape sh;
    memset(&sh, 0, sizeof sh);
    scan_table(L, idx, 0, &sh);
    em_dtype def = sh.any_float ? EM_DEFAULT_FLOAT : sh.any_int ? EM_INT64 : sh.any_bool ? EM_BOOL : EM_DEFAULT_FLOAT;
    em_dtype dt = emL_opt_dtype(L, opts, def);
    em_tensor *t = em_tensor_empty(sh.ndim, sh.sizes, dt, EM_CPU);
    if (!t)
        emL_error(L);
    emL_pushtensor(L, t); /* owned by Lua from here, so an error below leaks nothing */
    char *p = em_tensor_data(t);
    fill_from_table(L, idx, 0, t, &p);
    return t;
}

/* Moves the tensor at the top of the stack to opts.device when one is given. */
static void apply_device(lua_State *L, int opts)
{
    em_tensor *t = emL_checktensor(L, -1);
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    if (em_device_eq(dev, em_tensor_device(t)))
        return;
    em_tensor *r = em_tensor_empty(t->ndim, t->sizes, t->dtype, dev);
    if (!r)
        emL_error(L);
    if (em_copy_(r, t) < 0) {
        em_tensor_release(r);
        emL_error(L);
    }
    lua_pop(L, 1);
    emL_pushtensor(L, r);
}

static int l_tensor(lua_State *L)
{
    int opts = emL_isopts(L, 2) ? 2 : 0;
    em_tensor *src = emL_totensor(L, 1);
    if (src) { /* torch.tensor(t) copies */
        em_dtype dt = emL_opt_dtype(L, opts, src->dtype);
        emL_pushtensor(L, em_to_dtype(src, dt, true));
    } else {
        if (lua_isnoneornil(L, 1))
            return luaL_argerror(L, 1, "expected a number, boolean or (nested) table");
        tensor_from_lua(L, 1, opts);
    }
    apply_device(L, opts);
    return 1;
}

/* Reads sizes (numbers from arg on, or a table) and finds the options table after them. */
static int sizes_and_opts(lua_State *L, int arg, int64_t *sizes, int *opts)
{
    int n;
    int top = lua_gettop(L);
    *opts = 0;
    if (lua_type(L, arg) == LUA_TTABLE && !emL_totensor(L, arg)) {
        n = emL_checkintlist(L, arg, sizes, EM_MAX_DIMS, "sizes");
        if (top > arg) {
            if (!emL_isopts(L, arg + 1))
                luaL_typeerror(L, arg + 1, "options table");
            *opts = arg + 1;
        }
    } else {
        n = emL_checksizes(L, arg, sizes);
        int next = arg + n;
        if (next <= top && !lua_isnil(L, next)) {
            if (!emL_isopts(L, next))
                luaL_typeerror(L, next, n ? "number or options table" : "sizes (numbers or a table)");
            *opts = next;
        }
    }
    return n;
}

static int make_filled(lua_State *L, int arg, bool fill, em_scalar v, bool value_sets_dtype)
{
    int64_t sizes[EM_MAX_DIMS];
    int opts;
    int n = sizes_and_opts(L, arg, sizes, &opts);
    em_dtype def = value_sets_dtype ? em_scalar_dtype(v) : EM_DEFAULT_FLOAT;
    em_dtype dt = emL_opt_dtype(L, opts, def);
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    if (fill)
        emL_pushtensor(L, em_full(n, sizes, v, dt, dev));
    else
        emL_pushtensor(L, em_tensor_empty(n, sizes, dt, dev));
    return 1;
}

static int l_empty(lua_State *L) { return make_filled(L, 1, false, em_scalar_int(0), false); }
static int l_zeros(lua_State *L) { return make_filled(L, 1, true, em_scalar_int(0), false); }
static int l_ones(lua_State *L) { return make_filled(L, 1, true, em_scalar_int(1), false); }

/* full(sizes, value [, opts]): the dtype follows the value as in PyTorch. */
static int l_full(lua_State *L)
{
    int64_t sizes[EM_MAX_DIMS];
    int n;
    int opts = 0, varg;
    if (lua_type(L, 1) == LUA_TTABLE && !emL_totensor(L, 1)) {
        n = emL_checkintlist(L, 1, sizes, EM_MAX_DIMS, "full");
        varg = 2;
    } else {
        return luaL_argerror(L, 1, "full expects a table of sizes, e.g. torch.full({2, 3}, 7)");
    }
    em_scalar v = emL_checkscalar(L, varg);
    if (emL_isopts(L, varg + 1))
        opts = varg + 1;
    em_dtype dt = emL_opt_dtype(L, opts, em_scalar_dtype(v));
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    emL_pushtensor(L, em_full(n, sizes, v, dt, dev));
    return 1;
}

static int like(lua_State *L, bool fill, em_scalar v, int opts)
{
    em_tensor *t = emL_checktensor(L, 1);
    em_dtype dt = emL_opt_dtype(L, opts, t->dtype);
    em_device dev = emL_opt_device(L, opts, em_tensor_device(t));
    if (fill)
        emL_pushtensor(L, em_full(t->ndim, t->sizes, v, dt, dev));
    else
        emL_pushtensor(L, em_tensor_empty(t->ndim, t->sizes, dt, dev));
    return 1;
}

static int l_empty_like(lua_State *L) { return like(L, false, em_scalar_int(0), emL_isopts(L, 2) ? 2 : 0); }
static int l_zeros_like(lua_State *L) { return like(L, true, em_scalar_int(0), emL_isopts(L, 2) ? 2 : 0); }
static int l_ones_like(lua_State *L) { return like(L, true, em_scalar_int(1), emL_isopts(L, 2) ? 2 : 0); }
static int l_full_like(lua_State *L)
{
    return like(L, true, emL_checkscalar(L, 2), emL_isopts(L, 3) ? 3 : 0);
}

/* new_zeros/new_ones/new_full/new_empty/new_tensor: dtype and device of self. */
static int new_filled(lua_State *L, bool fill, em_scalar v, int arg)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t sizes[EM_MAX_DIMS];
    int opts;
    int n = sizes_and_opts(L, arg, sizes, &opts);
    em_dtype dt = emL_opt_dtype(L, opts, t->dtype);
    em_device dev = emL_opt_device(L, opts, em_tensor_device(t));
    if (fill)
        emL_pushtensor(L, em_full(n, sizes, v, dt, dev));
    else
        emL_pushtensor(L, em_tensor_empty(n, sizes, dt, dev));
    return 1;
}
static int l_new_zeros(lua_State *L) { return new_filled(L, true, em_scalar_int(0), 2); }
static int l_new_ones(lua_State *L) { return new_filled(L, true, em_scalar_int(1), 2); }
static int l_new_empty(lua_State *L) { return new_filled(L, false, em_scalar_int(0), 2); }
static int l_new_full(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t sizes[EM_MAX_DIMS];
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = emL_checkintlist(L, 2, sizes, EM_MAX_DIMS, "new_full");
    em_scalar v = emL_checkscalar(L, 3);
    int opts = emL_isopts(L, 4) ? 4 : 0;
    emL_pushtensor(L, em_full(n, sizes, v, emL_opt_dtype(L, opts, t->dtype),
                              emL_opt_device(L, opts, em_tensor_device(t))));
    return 1;
}

static int l_new_tensor(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int opts = emL_isopts(L, 3) ? 3 : 0;
    em_tensor *src = emL_totensor(L, 2);
    if (src) {
        emL_pushtensor(L, em_to_dtype(src, emL_opt_dtype(L, opts, t->dtype), true));
        return 1;
    }
    lua_newtable(L);
    lua_pushstring(L, em_dtype_name(emL_opt_dtype(L, opts, t->dtype)));
    lua_setfield(L, -2, "dtype");
    tensor_from_lua(L, 2, lua_gettop(L));
    return 1;
}

static const luaL_Reg factory_funcs[] = {
    { "empty_like", l_empty_like },
    { "zeros_like", l_zeros_like },
    { "ones_like", l_ones_like },
    { "full_like", l_full_like },
    { "new_zeros", l_new_zeros },
    { "new_ones", l_new_ones },
    { "new_empty", l_new_empty },
    { "new_full", l_new_full },
    { "new_tensor", l_new_tensor },
    { NULL, NULL },
};

static const luaL_Reg module_only[] = {
    { "tensor", l_tensor },
    { "empty", l_empty },
    { "zeros", l_zeros },
    { "ones", l_ones },
    { "full", l_full },
    { NULL, NULL },
};

void emL_open_factory(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    emL_register(L, methods, module, factory_funcs);
    lua_pushvalue(L, module);
    luaL_setfuncs(L, module_only, 0);
    lua_pop(L, 1);
}
