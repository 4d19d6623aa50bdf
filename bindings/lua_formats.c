/* C helpers for the file formats written in Lua (lua/torch/zip.lua, safetensors.lua,
 * numpy.lua): the parts that are too slow or impossible in Lua.
 *   torch._inflate(s, size)             -> the raw-deflate stream s (zip method 8)
 *                                          inflated; its length must be exactly size
 *   torch._mmap_tensors(path, specs)    -> {tensor, ...} over a private mapping of the
 *                                          file; specs = {{dtype, sizes, offset}, ...},
 *                                          offset in bytes from the file's start (0-based)
 *   torch._byteswap(s, width)           -> s with every width-byte group reversed
 *                                          (big-endian data to the host's order)
 * (torch._fsync, used by lua/torch/atomic.lua, is in bindings/lua_fs.c) */
#include <errno.h>
#include <lualib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lua_ember.h"

#include "../core/file_map.h"

/* Deflate never expands more than 1032:1, so a larger claimed size is a lie and is
 * refused before anything is allocated. */
#define INFLATE_MAX_RATIO 1032

static int l_inflate(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer want = luaL_checkinteger(L, 2);
    if (want < 0 || (uint64_t)want > (uint64_t)len * INFLATE_MAX_RATIO + 64)
        return luaL_error(L, "_inflate: %I bytes cannot come out of a deflate stream of %I bytes", want,
                          (lua_Integer)len);
    luaL_Buffer b;
    /* one spare byte, to notice a stream that inflates to more than expected */
    unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, (size_t)want + 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK)
        return luaL_error(L, "_inflate: zlib could not start (out of memory)");
    size_t in_left = len, out_left = (size_t)want + 1;
    z.next_in = (unsigned char *)s;
    z.next_out = out;
    int rc;
    do {
        /* zlib counts in uInt: feed large buffers in pieces */
        uInt in_chunk = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
        uInt out_chunk = out_left > 0x40000000u ? 0x40000000u : (uInt)out_left;
        z.avail_in = in_chunk;
        z.avail_out = out_chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        in_left -= in_chunk - z.avail_in;
        out_left -= out_chunk - z.avail_out;
    } while (rc == Z_OK && (in_left > 0 || out_left > 0));
    const char *msg = z.msg;
    size_t produced = (size_t)want + 1 - out_left;
    inflateEnd(&z);
    if (rc == Z_DATA_ERROR)
        return luaL_error(L, "_inflate: corrupt deflate data (%s)", msg ? msg : "bad stream");
    if (rc == Z_MEM_ERROR)
        return luaL_error(L, "_inflate: out of memory");
    if (rc != Z_STREAM_END) {
        if (out_left == 0)
            return luaL_error(L, "_inflate: the data inflates to more than the expected %I bytes", want);
        return luaL_error(L, "_inflate: the deflate stream is truncated (%I of %I bytes produced)", (lua_Integer)produced,
                          want);
    }
    if (produced != (size_t)want)
        return luaL_error(L, "_inflate: the data inflates to %I bytes, expected %I", (lua_Integer)produced, want);
    if (in_left > 0)
        return luaL_error(L, "_inflate: %I bytes of garbage after the end of the deflate stream", (lua_Integer)in_left);
    luaL_pushresultsize(&b, (size_t)want);
    return 1;
}

/* ---- memory-mapped tensors ---- */

#define FILE_MAP_MT "torch.FileMap"

/* The binding's own reference to a map lives in a userdata, so a Lua error raised
 * halfway through (a bad spec) still releases it when the box is collected. */
static int map_gc(lua_State *L)
{
    em_file_map **box = luaL_checkudata(L, 1, FILE_MAP_MT);
    em_file_map_release(*box);
    *box = NULL;
    return 0;
}

static int l_mmap_tensors(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    em_file_map **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, FILE_MAP_MT)) {
        lua_pushcfunction(L, map_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    int boxidx = lua_gettop(L);
    if (!(*box = em_file_map_open(path)))
        return emL_error(L);
    lua_createtable(L, n > 0 && n < 1 << 20 ? (int)n : 0, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_geti(L, 2, i) != LUA_TTABLE)
            return luaL_error(L, "_mmap_tensors: spec %I must be a table {dtype, sizes, offset}", i);
        int spec = lua_gettop(L);
        lua_geti(L, spec, 1);
        em_dtype dt = emL_checkdtype(L, lua_gettop(L));
        int64_t sizes[EM_MAX_DIMS];
        if (lua_geti(L, spec, 2) != LUA_TTABLE)
            return luaL_error(L, "_mmap_tensors: spec %I needs a table of sizes", i);
        int nd = emL_checkintlist(L, lua_gettop(L), sizes, EM_MAX_DIMS, "sizes");
        lua_geti(L, spec, 3);
        int isint;
        lua_Integer off = lua_tointegerx(L, -1, &isint);
        if (!isint)
            return luaL_error(L, "_mmap_tensors: spec %I needs an integer byte offset", i);
        lua_settop(L, spec - 1);
        emL_pushtensor(L, em_file_map_tensor(*box, off, dt, nd, sizes));
        lua_seti(L, -2, i);
    }
    (void)boxidx; /* the box is collected later and drops the binding's reference */
    return 1;
}

static int l_byteswap(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer w = luaL_checkinteger(L, 2);
    if (w != 1 && w != 2 && w != 4 && w != 8)
        return luaL_error(L, "_byteswap: width must be 1, 2, 4 or 8, got %I", w);
    if (len % (size_t)w != 0)
        return luaL_error(L, "_byteswap: %I bytes are not a whole number of %I-byte values", (lua_Integer)len, w);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, len);
    for (size_t i = 0; i < len; i += (size_t)w)
        for (size_t j = 0; j < (size_t)w; j++)
            out[i + j] = s[i + (size_t)w - 1 - j];
    luaL_pushresultsize(&b, len);
    return 1;
}


void emL_open_formats(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    static const luaL_Reg funcs[] = {
        { "_inflate", l_inflate },
        { "_mmap_tensors", l_mmap_tensors },
        { "_byteswap", l_byteswap },
        { NULL, NULL },
    };
    for (const luaL_Reg *r = funcs; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, module, r->name);
    }
}
