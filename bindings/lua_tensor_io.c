/* Bindings for raw tensor I/O (core/tensor_io.c), the building block of the file
 * formats written in Lua. `file` is a handle from io.open:
 *   torch._write_tensor(file, t)                 -> bytes written
 *   torch._read_tensor(file, dtype, sizes [, crc_kind, crc=0])
 *                                                -> a new tensor read at the position; with
 *                                                   crc_kind ('crc32' or 'crc32c') also the
 *                                                   checksum of its bytes, continuing from crc
 *   torch._tensor_from_bytes(s, dtype, sizes [, offset=1]) -> a copy of #sizes' bytes of s
 *   torch._tensor_bytes(t)                       -> a string of t's raw bytes
 *   torch._crc32(string_or_tensor [, crc=0])     -> CRC-32 (zlib's), as an integer
 *   torch._crc32c(string_or_tensor [, crc=0])    -> CRC-32C (Castagnoli), as an integer */
#include <lualib.h>
#include <string.h>

#include "lua_ember.h"

#include "../core/tensor_io.h"

static FILE *check_file(lua_State *L, int arg, const char *fn)
{
    luaL_Stream *s = luaL_testudata(L, arg, LUA_FILEHANDLE);
    if (!s)
        luaL_error(L, "%s: expected a file handle from io.open as argument %d, got %s", fn, arg,
                   luaL_typename(L, arg));
    if (!s->closef || !s->f)
        luaL_error(L, "%s: the file is closed", fn);
    return s->f;
}

static int l_write_tensor(lua_State *L)
{
    FILE *f = check_file(L, 1, "_write_tensor");
    em_tensor *t = emL_checktensor(L, 2);
    emL_check(L, em_io_write(f, t));
    lua_pushinteger(L, em_io_nbytes(t->dtype, t->ndim, t->sizes));
    return 1;
}

static int l_read_tensor(lua_State *L)
{
    FILE *f = check_file(L, 1, "_read_tensor");
    em_dtype dt = emL_checkdtype(L, 2);
    int64_t sizes[EM_MAX_DIMS];
    luaL_checktype(L, 3, LUA_TTABLE);
    int nd = emL_checksizes(L, 3, sizes);
    if (lua_isnoneornil(L, 4)) {
        emL_pushtensor(L, em_io_read(f, dt, nd, sizes));
        return 1;
    }
    static const char *const kinds[] = { "crc32", "crc32c", NULL };
    em_crc_kind kind = luaL_checkoption(L, 4, NULL, kinds) == 0 ? EM_CRC_32 : EM_CRC_32C;
    lua_Integer crc = luaL_optinteger(L, 5, 0);
    if (crc < 0 || crc > 0xffffffffLL)
        return luaL_error(L, "_read_tensor: the running crc must be in 0..2^32-1, got %I", crc);
    uint32_t c = (uint32_t)crc;
    emL_pushtensor(L, em_io_read_crc(f, dt, nd, sizes, kind, &c));
    lua_pushinteger(L, (lua_Integer)c);
    return 2;
}

static int l_tensor_from_bytes(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    em_dtype dt = emL_checkdtype(L, 2);
    int64_t sizes[EM_MAX_DIMS];
    luaL_checktype(L, 3, LUA_TTABLE);
    int nd = emL_checksizes(L, 3, sizes);
    lua_Integer off = luaL_optinteger(L, 4, 1);
    int64_t n = em_io_nbytes(dt, nd, sizes);
    if (n < 0)
        return emL_error(L);
    if (off < 1 || (uint64_t)(off - 1) > len || (uint64_t)n > len - (size_t)(off - 1))
        return luaL_error(L, "_tensor_from_bytes: %I bytes from position %I do not fit in a string of %I bytes",
                          (lua_Integer)n, off, (lua_Integer)len);
    emL_pushtensor(L, em_io_from_bytes(s + off - 1, (size_t)n, dt, nd, sizes));
    return 1;
}

static int l_tensor_bytes(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (em_tensor_device(t).type != EM_DEV_CPU)
        return luaL_error(L, "_tensor_bytes: expected a CPU tensor");
    em_tensor *c = em_contiguous(t);
    if (!c)
        return emL_error(L);
    size_t n = (size_t)em_tensor_numel(c) * em_dtype_size(c->dtype);
    lua_pushlstring(L, n ? em_tensor_data(c) : "", n);
    em_tensor_release(c);
    return 1;
}

static int crc_common(lua_State *L, const char *fn, uint32_t (*fun)(uint32_t, const void *, size_t))
{
    lua_Integer crc = luaL_optinteger(L, 2, 0);
    if (crc < 0 || crc > 0xffffffffLL)
        return luaL_error(L, "%s: the running crc must be in 0..2^32-1, got %I", fn, crc);
    uint32_t r;
    em_tensor *t = emL_totensor(L, 1);
    if (t) {
        if (em_tensor_device(t).type != EM_DEV_CPU)
            return luaL_error(L, "%s: expected a CPU tensor", fn);
        em_tensor *c = em_contiguous(t);
        if (!c)
            return emL_error(L);
        r = fun((uint32_t)crc, em_tensor_data(c), (size_t)em_tensor_numel(c) * em_dtype_size(c->dtype));
        em_tensor_release(c);
    } else {
        size_t len;
        const char *s = luaL_checklstring(L, 1, &len);
        r = fun((uint32_t)crc, s, len);
    }
    lua_pushinteger(L, (lua_Integer)r);
    return 1;
}

static int l_crc32(lua_State *L) { return crc_common(L, "_crc32", em_io_crc32); }
static int l_crc32c(lua_State *L) { return crc_common(L, "_crc32c", em_io_crc32c); }

void emL_open_tensor_io(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    static const luaL_Reg funcs[] = {
        { "_write_tensor", l_write_tensor },
        { "_read_tensor", l_read_tensor },
        { "_tensor_from_bytes", l_tensor_from_bytes },
        { "_tensor_bytes", l_tensor_bytes },
        { "_crc32", l_crc32 },
        { "_crc32c", l_crc32c },
        { NULL, NULL },
    };
    (void)methods; /* functions only, not Tensor methods */
    for (const luaL_Reg *r = funcs; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, module, r->name);
    }
}
