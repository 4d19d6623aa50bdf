/* th: the Ember interpreter. Runs a Lua 5.4 state with the C core linked in,
 * finds Ember's Lua modules relative to its own executable, preloads `torch`,
 * and runs a script, -e code, or stdin. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int luaopen_torch_core(lua_State *L);

/* Directory holding the running executable (no trailing slash). */
static void exe_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        snprintf(buf, size, ".");
        return;
    }
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
}

/* Puts Ember's module folders ahead of Lua's defaults: the source tree when run
 * from build/, the installed share/ and lib/ folders when run from bin/. */
static void set_paths(lua_State *L)
{
    char dir[PATH_MAX];
    exe_dir(dir, sizeof dir);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/../lua/?.lua;%s/../lua/?/init.lua;%s/../share/lua/5.4/?.lua;%s/../share/lua/5.4/?/init.lua;%s",
                    dir, dir, dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
    lua_getfield(L, -1, "cpath");
    lua_pushfstring(L, "%s/?.so;%s/../lib/lua/5.4/?.so;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "cpath");
    lua_pop(L, 1);
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_torch_core);
    lua_setfield(L, -2, "torch.core");
    lua_pop(L, 2);
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        fprintf(stderr, "th: %s\n", lua_tostring(L, -1));
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int status = lua_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "th: cannot create Lua state\n");
        return 1;
    }
    luaL_openlibs(L);
    set_paths(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "torch");
    if (report(L, docall(L, 1, 1)) != LUA_OK)
        return 1;
    lua_setglobal(L, "torch");

    int script = 1;
    while (script < argc && argv[script][0] == '-' && argv[script][1] != '\0') {
        if (strcmp(argv[script], "-e") == 0 && script + 1 < argc) {
            if (report(L, luaL_loadstring(L, argv[script + 1]) || docall(L, 0, 0)) != LUA_OK)
                return 1;
            script += 2;
            if (script >= argc)
                return 0;
            continue;
        }
        break;
    }
    /* arg table as lua.c builds it */
    lua_createtable(L, argc, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
    const char *fname = script < argc && strcmp(argv[script], "-") != 0 ? argv[script] : NULL;
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = 0;
        for (int i = script + 1; i < argc; i++, n++)
            lua_pushstring(L, argv[i]);
        status = docall(L, n, 0);
    }
    status = report(L, status);
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
