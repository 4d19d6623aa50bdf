/* File-system helpers for atomic saves (lua/torch/serialization.lua):
 *   torch._fsync(file)  flushes a file handle from io.open and fsyncs it, so the
 *                       data is on disk before the temporary file is renamed over
 *                       the target. Raises an error naming errno's message.
 *   torch._isatty(file)  true when a file handle (io.stdout, io.stderr, io.open)
 *                       is a terminal; lua/torch/progress.lua picks in-place bars
 *                       or plain log lines with it. */
#include <errno.h>
#include <lualib.h>
#include <string.h>
#include <unistd.h>

#include "lua_ember.h"

static int l_fsync(lua_State *L)
{
    luaL_Stream *s = luaL_testudata(L, 1, LUA_FILEHANDLE);
    if (!s)
        return luaL_error(L, "_fsync: expected a file handle from io.open as argument 1, got %s",
                          luaL_typename(L, 1));
    if (!s->closef || !s->f)
        return luaL_error(L, "_fsync: the file is closed");
    if (fflush(s->f) != 0)
        return luaL_error(L, "_fsync: flush failed (%s)", strerror(errno));
    if (fsync(fileno(s->f)) != 0 && errno != EINVAL) /* EINVAL: a pipe or special file */
        return luaL_error(L, "_fsync: fsync failed (%s)", strerror(errno));
    return 0;
}

static int l_isatty(lua_State *L)
{
    luaL_Stream *s = luaL_testudata(L, 1, LUA_FILEHANDLE);
    if (!s)
        return luaL_error(L, "_isatty: expected a file handle (io.stdout, io.stderr, io.open) "
                             "as argument 1, got %s", luaL_typename(L, 1));
    if (!s->closef || !s->f)
        return luaL_error(L, "_isatty: the file is closed");
    lua_pushboolean(L, isatty(fileno(s->f)) == 1);
    return 1;
}

void emL_open_fs(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushcfunction(L, l_fsync);
    lua_setfield(L, module, "_fsync");
    lua_pushcfunction(L, l_isatty);
    lua_setfield(L, module, "_isatty");
}
