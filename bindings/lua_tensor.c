/* The Tensor userdata: creation, release (__gc and __close share one idempotent
 * release), field access, and the basic methods every tensor answers (size, dim,
 * type conversion, item, tolist, copy_, fill_). Tensor memory lives outside Lua's
 * heap, so pushing a tensor with fresh storage counts its bytes: every
 * GC_STEP_BYTES of them run a collector step (in the generational mode th sets,
 * a minor collection: it frees the tensors of a training step that died young,
 * for microseconds), and a full collection runs when they pass a threshold that
 * follows the live tensor bytes (old garbage). Without the minor steps the dead
 * temporaries of a training loop piled up to the size of the live tensors (the
 * dataset) before a collection, doubling the peak resident memory. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

#include <string.h>

#define GC_MIN_THRESHOLD ((int64_t)64 << 20)
#define GC_STEP_BYTES ((int64_t)8 << 20)
#define GC_POINT_BYTES ((int64_t)1 << 20)

static int64_t gc_pending, gc_since_full;
static int64_t gc_threshold = GC_MIN_THRESHOLD;

/* A minor step, or a full collection once the bytes since the last one pass the threshold. */
static void collect_step(lua_State *L)
{
    gc_since_full += gc_pending;
    gc_pending = 0;
    if (gc_since_full < gc_threshold) {
        lua_gc(L, LUA_GCSTEP, 0);
        return;
    }
    gc_since_full = 0;
    lua_gc(L, LUA_GCCOLLECT);
    int64_t live = em_alloc_get_stats().allocated;
    gc_threshold = live / 4 > GC_MIN_THRESHOLD ? live / 4 : GC_MIN_THRESHOLD;
}

static void account(lua_State *L, const em_tensor *t)
{
    if (t->storage->refcount != 1 || t->storage->device.type != EM_DEV_CPU)
        return;
    gc_pending += (int64_t)t->storage->nbytes;
    if (gc_pending >= GC_STEP_BYTES)
        collect_step(L);
}

/* torch._gc_point(): nn.Module calls it before each forward, where the previous
 * layer's input has just died: stepping there frees it before the next output is
 * allocated (a big batch's activations then do not all coexist). */
static int t_gc_point(lua_State *L)
{
    if (gc_pending >= GC_POINT_BYTES)
        collect_step(L);
    return 0;
}

/* The Tensor metatable is also kept in the registry under this address: a
 * pointer-keyed lookup skips the string compare of luaL_testudata on the hot path. */
static const char tensor_mt_key = 0;

void emL_pushtensor(lua_State *L, em_tensor *t)
{
    if (!t)
        emL_error(L);
    /* before the box exists: a collection run now cannot see the new tensor, so a
     * big temporary is not promoted by the step its own allocation triggered */
    account(L, t);
    em_tensor **box = lua_newuserdatauv(L, sizeof(em_tensor *), 1);
    *box = t;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
    lua_setmetatable(L, -2);
}

/* The tensor box at idx, or NULL when the value is not a Tensor. */
static em_tensor **tensor_box(lua_State *L, int idx)
{
    em_tensor **box = lua_touserdata(L, idx);
    if (!box || !lua_getmetatable(L, idx))
        return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? box : NULL;
}

em_tensor *emL_totensor(lua_State *L, int idx)
{
    em_tensor **box = tensor_box(L, idx);
    return box ? *box : NULL;
}

em_tensor *emL_checktensor(lua_State *L, int arg)
{
    em_tensor **box = tensor_box(L, arg);
    if (!box)
        luaL_typeerror(L, arg, "Tensor");
    if (!*box)
        luaL_argerror(L, arg, "tensor was released (closed)");
    return *box;
}

em_tensor *emL_opttensor(lua_State *L, int arg)
{
    return lua_isnoneornil(L, arg) ? NULL : emL_checktensor(L, arg);
}

/* __gc and __close: drop the reference once; later use reports a closed tensor. */
static int t_release(lua_State *L)
{
    em_tensor **box = tensor_box(L, 1);
    if (!box)
        return luaL_typeerror(L, 1, "Tensor");
    if (*box) {
        em_tensor_release(*box);
        *box = NULL;
    }
    return 0;
}

/* ---- fields and methods ---- */

/* __index(t, key): string keys look up the methods table (upvalue 1), then the
 * property getters (upvalue 2); other keys index the tensor's elements. */
static int t_index(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) /* methods[key] */
            return 1;
        lua_pop(L, 1);
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) { /* getters[key](t) */
            lua_pushvalue(L, 1);
            lua_call(L, 1, 1);
            return 1;
        }
        return 0;
    }
    return emL_tensor_index(L);
}

/* __newindex(t, key, v): string keys go to setters (upvalue 1); others assign elements. */
static int t_newindex(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNIL)
            return luaL_error(L, "cannot set field '%s' of a Tensor", lua_tostring(L, 2));
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 3);
        lua_call(L, 2, 0);
        return 0;
    }
    return emL_tensor_newindex(L);
}

static int t_shape(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    emL_pushsize(L, t->ndim, t->sizes);
    return 1;
}

static int t_size(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        emL_pushsize(L, t->ndim, t->sizes);
        return 1;
    }
    if (t->ndim == 0)
        return luaL_argerror(L, 2, "a 0-d tensor has no dimensions");
    int d = emL_checkdim(L, 2, t->ndim);
    lua_pushinteger(L, t->sizes[d]);
    return 1;
}

static int t_stride(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        emL_pushsize(L, t->ndim, t->strides);
        return 1;
    }
    if (t->ndim == 0)
        return luaL_argerror(L, 2, "a 0-d tensor has no dimensions");
    lua_pushinteger(L, t->strides[emL_checkdim(L, 2, t->ndim)]);
    return 1;
}

static int t_dim(lua_State *L)
{
    lua_pushinteger(L, emL_checktensor(L, 1)->ndim);
    return 1;
}

static int t_numel(lua_State *L)
{
    lua_pushinteger(L, em_tensor_numel(emL_checktensor(L, 1)));
    return 1;
}

static int t_len(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (t->ndim == 0)
        return luaL_error(L, "#: a 0-d tensor has no length (use x:item())");
    lua_pushinteger(L, t->sizes[0]);
    return 1;
}

static int t_dtype(lua_State *L)
{
    lua_pushstring(L, em_dtype_name(emL_checktensor(L, 1)->dtype));
    return 1;
}

static int t_device(lua_State *L)
{
    emL_pushdevice(L, em_tensor_device(emL_checktensor(L, 1)));
    return 1;
}

static int t_is_cuda(lua_State *L)
{
    lua_pushboolean(L, em_tensor_device(emL_checktensor(L, 1)).type == EM_DEV_CUDA);
    return 1;
}

static int t_storage_offset(lua_State *L)
{
    lua_pushinteger(L, emL_checktensor(L, 1)->offset);
    return 1;
}

static int t_element_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)em_dtype_size(emL_checktensor(L, 1)->dtype));
    return 1;
}

static int t_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, em_tensor_is_contiguous(emL_checktensor(L, 1)));
    return 1;
}

static int t_is_floating_point(lua_State *L)
{
    lua_pushboolean(L, em_dtype_is_float(emL_checktensor(L, 1)->dtype));
    return 1;
}

static int t_is_same_storage(lua_State *L)
{
    lua_pushboolean(L, emL_checktensor(L, 1)->storage == emL_checktensor(L, 2)->storage);
    return 1;
}

static int t_data_ptr(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)(intptr_t)em_tensor_data(emL_checktensor(L, 1)));
    return 1;
}

static int t_version(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)emL_checktensor(L, 1)->storage->version);
    return 1;
}

/* x:type() -> 'torch.FloatTensor'; x:type('torch.DoubleTensor') converts. */
static int t_type(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_pushstring(L, em_dtype_tensor_type(t->dtype));
        return 1;
    }
    em_dtype dt = emL_checkdtype(L, 2);
    emL_pushtensor(L, em_ag_to_dtype(t, dt, false));
    return 1;
}

static int t_item(lua_State *L)
{
    em_scalar s;
    emL_check(L, em_item(emL_checktensor(L, 1), &s));
    emL_pushscalar(L, s);
    return 1;
}

/* Nested Lua tables of numbers (a number for a 0-d tensor). */
static void push_list(lua_State *L, const em_tensor *t, int dim, const char *base)
{
    size_t es = em_dtype_size(t->dtype);
    if (dim == t->ndim) {
        emL_pushscalar(L, em_read_scalar(base, t->dtype));
        return;
    }
    luaL_checkstack(L, 4, "tolist: too deeply nested");
    lua_createtable(L, (int)t->sizes[dim], 0);
    for (int64_t i = 0; i < t->sizes[dim]; i++) {
        push_list(L, t, dim + 1, base + i * t->strides[dim] * (int64_t)es);
        lua_rawseti(L, -2, i + 1);
    }
}

static int t_tolist(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (em_tensor_device(t).type != EM_DEV_CPU)
        return luaL_error(L, "tolist: move the tensor to the cpu first (x:cpu())");
    push_list(L, t, 0, em_tensor_data(t));
    return 1;
}

static int t_clone(lua_State *L)
{
    emL_pushtensor(L, em_ag_clone(emL_checktensor(L, 1)));
    return 1;
}

static int t_contiguous(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (em_tensor_is_contiguous(t)) {
        lua_settop(L, 1);
        return 1;
    }
    emL_pushtensor(L, em_ag_clone(t));
    return 1;
}

static int t_copy_(lua_State *L)
{
    em_tensor *dst = emL_checktensor(L, 1);
    em_tensor *src = emL_checktensor(L, 2);
    emL_check(L, em_ag_copy_(dst, src));
    lua_settop(L, 1);
    return 1;
}

static int t_fill_(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    em_tensor *v = emL_totensor(L, 2);
    if (v) {
        em_scalar s;
        if (v->ndim != 0)
            return luaL_argerror(L, 2, "fill_ expects a number or a 0-d tensor");
        emL_check(L, em_item(v, &s));
        emL_check(L, em_ag_fill_(t, s));
    } else {
        emL_check(L, em_ag_fill_(t, emL_checkscalar(L, 2)));
    }
    lua_settop(L, 1);
    return 1;
}

static int t_zero_(lua_State *L)
{
    emL_check(L, em_ag_zero_(emL_checktensor(L, 1)));
    lua_settop(L, 1);
    return 1;
}

/* Conversions to a fixed dtype: x:float(), x:double(), ... (the tensor itself when
 * the dtype already matches, as in PyTorch). */
static int convert_to(lua_State *L, em_dtype dt)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (t->dtype == dt) {
        lua_settop(L, 1);
        return 1;
    }
    emL_pushtensor(L, em_ag_to_dtype(t, dt, false));
    return 1;
}
#define CONVERTER(NAME, DT) \
    static int t_##NAME(lua_State *L) { return convert_to(L, DT); }
CONVERTER(float, EM_FLOAT32)
CONVERTER(double, EM_FLOAT64)
CONVERTER(half, EM_FLOAT16)
CONVERTER(bfloat16, EM_BFLOAT16)
CONVERTER(long, EM_INT64)
CONVERTER(int, EM_INT32)
CONVERTER(short, EM_INT16)
CONVERTER(char, EM_INT8)
CONVERTER(byte, EM_UINT8)
CONVERTER(bool, EM_BOOL)

/* x:to(dtype | device | tensor [, opts]) */
static int t_to(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    em_dtype dt = t->dtype;
    em_device dev = em_tensor_device(t);
    int opts = 0;
    for (int i = 2; i <= lua_gettop(L); i++) {
        em_tensor *other = emL_totensor(L, i);
        if (other) {
            dt = other->dtype;
            dev = em_tensor_device(other);
        } else if (lua_type(L, i) == LUA_TSTRING) {
            const char *s = lua_tostring(L, i);
            int d = em_dtype_parse(s);
            if (d >= 0)
                dt = (em_dtype)d;
            else
                dev = emL_checkdevice(L, i);
        } else if (emL_isopts(L, i)) {
            opts = i;
        } else if (!lua_isnil(L, i)) {
            return luaL_typeerror(L, i, "dtype, device or tensor");
        }
    }
    dt = emL_opt_dtype(L, opts, dt);
    dev = emL_opt_device(L, opts, dev);
    bool copy = emL_optbool(L, opts, "copy", false);
    if (dt == t->dtype && em_device_eq(dev, em_tensor_device(t)) && !copy) {
        lua_settop(L, 1);
        return 1;
    }
    if (em_device_eq(dev, em_tensor_device(t))) {
        emL_pushtensor(L, em_ag_to_dtype(t, dt, copy));
        return 1;
    }
    em_tensor *r = em_tensor_empty(t->ndim, t->sizes, dt, dev);
    if (!r)
        return emL_error(L);
    if (em_copy_(r, t) < 0) {
        em_tensor_release(r);
        return emL_error(L);
    }
    emL_pushtensor(L, r);
    return 1;
}

static int t_tostring(lua_State *L)
{
    emL_checktensor(L, 1);
    if (lua_getfield(L, LUA_REGISTRYINDEX, "torch.tostring") != LUA_TFUNCTION) {
        em_tensor *t = emL_checktensor(L, 1);
        char buf[EM_SHAPE_BUF];
        lua_pushfstring(L, "%s of size %s", em_dtype_tensor_type(t->dtype), em_tensor_shape_str(t, buf, sizeof buf));
        return 1;
    }
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

static int t_istensor(lua_State *L)
{
    lua_pushboolean(L, emL_totensor(L, 1) != NULL || luaL_testudata(L, 1, EM_TENSOR_MT) != NULL);
    return 1;
}

static int t_memory_stats(lua_State *L)
{
    em_alloc_stats s = em_alloc_get_stats();
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, s.allocated);
    lua_setfield(L, -2, "allocated_bytes");
    lua_pushinteger(L, s.cached);
    lua_setfield(L, -2, "cached_bytes");
    lua_pushinteger(L, s.peak_allocated);
    lua_setfield(L, -2, "peak_allocated_bytes");
    lua_pushinteger(L, s.n_alloc);
    lua_setfield(L, -2, "num_allocs");
    lua_pushinteger(L, s.n_system_alloc);
    lua_setfield(L, -2, "num_system_allocs");
    return 1;
}

static int t_empty_cache(lua_State *L)
{
    (void)L;
    em_alloc_empty_cache();
    return 0;
}

static int t_get_num_threads(lua_State *L)
{
    lua_pushinteger(L, em_num_threads());
    return 1;
}

static int t_set_num_threads(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 1024, 1, "thread count must be between 1 and 1024");
    em_set_num_threads((int)n);
    return 0;
}

static const luaL_Reg tensor_methods[] = {
    { "size", t_size },
    { "stride", t_stride },
    { "dim", t_dim },
    { "ndimension", t_dim },
    { "nDimension", t_dim },
    { "numel", t_numel },
    { "nelement", t_numel },
    { "storage_offset", t_storage_offset },
    { "element_size", t_element_size },
    { "is_contiguous", t_is_contiguous },
    { "is_floating_point", t_is_floating_point },
    { "is_set_to", t_is_same_storage },
    { "data_ptr", t_data_ptr },
    { "_version", t_version },
    { "type", t_type },
    { "item", t_item },
    { "tolist", t_tolist },
    { "clone", t_clone },
    { "contiguous", t_contiguous },
    { "copy_", t_copy_ },
    { "fill_", t_fill_ },
    { "zero_", t_zero_ },
    { "float", t_float },
    { "double", t_double },
    { "half", t_half },
    { "bfloat16", t_bfloat16 },
    { "long", t_long },
    { "int", t_int },
    { "short", t_short },
    { "char", t_char },
    { "byte", t_byte },
    { "bool", t_bool },
    { "to", t_to },
    { NULL, NULL },
};

static const luaL_Reg module_funcs[] = {
    { "isTensor", t_istensor },
    { "is_tensor", t_istensor },
    { "memory_stats", t_memory_stats },
    { "empty_cache", t_empty_cache },
    { "_gc_point", t_gc_point },
    { "get_num_threads", t_get_num_threads },
    { "set_num_threads", t_set_num_threads },
    { NULL, NULL },
};

/* Property getters reachable as x.name. */
static const luaL_Reg getters[] = {
    { "shape", t_shape },
    { "dtype", t_dtype },
    { "device", t_device },
    { "ndim", t_dim },
    { "is_cuda", t_is_cuda },
    { NULL, NULL },
};

void emL_open_tensor(lua_State *L, int methods, int module, int meta)
{
    emL_register(L, methods, module, tensor_methods);
    lua_pushvalue(L, module);
    luaL_setfuncs(L, module_funcs, 0);
    lua_pop(L, 1);

    /* getters and setters tables, exposed to Lua so later layers (autograd) add fields */
    lua_newtable(L);
    luaL_setfuncs(L, getters, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, module, "_getters");
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, module, "_setters");
    /* stack: getters, setters */
    lua_pushvalue(L, methods);
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, t_index, 2);
    lua_setfield(L, meta, "__index");
    lua_pushcclosure(L, t_newindex, 1); /* captures setters */
    lua_setfield(L, meta, "__newindex");
    lua_pop(L, 1); /* getters */

    lua_pushcfunction(L, t_release);
    lua_setfield(L, meta, "__gc");
    lua_pushcfunction(L, t_release);
    lua_setfield(L, meta, "__close");
    lua_pushcfunction(L, t_len);
    lua_setfield(L, meta, "__len");
    lua_pushcfunction(L, t_tostring);
    lua_setfield(L, meta, "__tostring");
    lua_pushliteral(L, "torch.Tensor");
    lua_setfield(L, meta, "__name");
    lua_pushvalue(L, meta);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
}
