/* Bindings for PNG images (core/png.c), the C half of lua/image:
 *   torch._png_decode(bytes) -> C×H×W tensor (uint8, or int32 0..65535 for 16-bit
 *       files), info {width=, height=, channels=, bit_depth=, color_type=, interlaced=}
 *   torch._png_encode(t [, level=-1]) -> the bytes of a PNG file (a string)
 * Files are read and written in Lua (image.load / image.save), so paths, atomic
 * writes and error messages naming the file live there. */
#include <stdlib.h>

#include "lua_ember.h"

#include "../core/png.h"

static const char *color_name(int ct)
{
    switch (ct) {
    case 0: return "gray";
    case 2: return "rgb";
    case 3: return "palette";
    case 4: return "gray_alpha";
    case 6: return "rgba";
    default: return "unknown";
    }
}

static int l_png_decode(lua_State *L)
{
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "_png_decode: expected the bytes of a PNG file (a string), got %s", luaL_typename(L, 1));
    const char *s = lua_tolstring(L, 1, &len);
    em_png_info info;
    emL_pushtensor(L, em_png_decode(s, len, &info));
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, info.width);
    lua_setfield(L, -2, "width");
    lua_pushinteger(L, info.height);
    lua_setfield(L, -2, "height");
    lua_pushinteger(L, info.channels);
    lua_setfield(L, -2, "channels");
    lua_pushinteger(L, info.bit_depth);
    lua_setfield(L, -2, "bit_depth");
    lua_pushstring(L, color_name(info.color_type));
    lua_setfield(L, -2, "color_type");
    lua_pushboolean(L, info.interlaced);
    lua_setfield(L, -2, "interlaced");
    return 2;
}

static int l_png_encode(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    lua_Integer level = luaL_optinteger(L, 2, -1);
    if (level < -1 || level > 9)
        return luaL_error(L, "_png_encode: compression level must be -1 (default) or 0..9, got %I", level);
    void *buf;
    size_t len;
    emL_check(L, em_png_encode(t, (int)level, &buf, &len));
    /* the buffer is lost only if pushing the string itself runs out of memory */
    lua_pushlstring(L, buf, len);
    free(buf);
    return 1;
}

static const luaL_Reg image_funcs[] = {
    { "_png_decode", l_png_decode },
    { "_png_encode", l_png_encode },
    { NULL, NULL },
};

void emL_open_image(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, image_funcs, 0);
    lua_pop(L, 1);
}
