/* libFuzzer harness for Ember's file readers (`make fuzz-libfuzzer`).
 *
 * Embeds a Lua state with Ember's C core and its lua/ modules, writes each input
 * to a temporary file and hands it to torch.load, torch.load_safetensors,
 * torch.load_npy, torch.load_npz and torch.load_pytorch in turn. Each must return
 * a value or raise a Lua error; the tensors it returns are read in full (a view
 * past its storage shows up under ASan). A crash, a sanitizer report, a timeout or
 * an allocation past libFuzzer's -malloc_limit_mb is a finding. With
 * EMBER_FUZZ_STRICT=1 (the make target's default) a Lua runtime error inside a
 * reader ("x.lua:12: attempt to ...", "bad argument #1 to ...", "stack overflow";
 * matched at the start, as the readers' own messages may quote the file) is a
 * finding too: the readers must reject bad input with their own messages.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined against objects compiled
 * with -fsanitize=fuzzer-no-link,address,undefined (see the Makefile). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EMBER_LUA_DIR
#error "build with -DEMBER_LUA_DIR=\"<repo>/lua\""
#endif

int luaopen_torch_core(lua_State *L);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;
static char path[256];
static int strict;
static unsigned long runs;

static const char driver[] =
    "local torch = require 'torch'\n"
    "pcall(require, 'nn')\n"
    "local strict = ...\n"
    "local loaders = { {'load', torch.load}, {'load_safetensors', torch.load_safetensors},\n"
    "  {'load_npy', torch.load_npy}, {'load_npz', torch.load_npz}, {'load_pytorch', torch.load_pytorch} }\n"
    "local function touch(v, seen, depth)\n"
    "  if depth > 50 or seen[v] then return end\n"
    "  if torch.isTensor(v) then\n"
    "    seen[v] = true\n"
    "    if v:numel() <= 1e6 then v:clone() end\n"
    "  elseif type(v) == 'table' then\n"
    "    seen[v] = true\n"
    "    for k, x in next, v do touch(k, seen, depth + 1); touch(x, seen, depth + 1) end\n"
    "  end\n"
    "end\n"
    "return function(path)\n"
    "  for _, l in ipairs(loaders) do\n"
    "    local ok, res = pcall(l[2], path)\n"
    "    if ok then\n"
    "      touch(res, {}, 0)\n"
    "    elseif type(res) ~= 'string' then\n"
    "      return l[1] .. ' raised a ' .. type(res) .. ' error'\n"
    "    elseif strict and (res:find('^[^\\n]-%.lua:%d+: attempt to ') or res:find('^[^\\n]-%.lua:%d+: bad argument #')\n"
    "        or res:find('^[^\\n]-%.lua:%d+: stack overflow')) then\n"
    "      return l[1] .. ': ' .. res\n"
    "    end\n"
    "  end\n"
    "end\n";

static void die_lua(const char *what)
{
    fprintf(stderr, "fuzz_load: %s: %s\n", what, lua_tostring(L, -1));
    abort();
}

static void init(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/ember-fuzz-%ld.bin", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    const char *s = getenv("EMBER_FUZZ_STRICT");
    strict = s && *s && strcmp(s, "0") != 0;
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, EMBER_LUA_DIR "/?.lua;" EMBER_LUA_DIR "/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_torch_core);
    lua_setfield(L, -2, "torch.core");
    lua_pop(L, 2);
    if (luaL_loadbuffer(L, driver, sizeof driver - 1, "=fuzz_load") != LUA_OK)
        die_lua("driver");
    lua_pushboolean(L, strict);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        die_lua("setting up Ember");
    lua_setfield(L, LUA_REGISTRYINDEX, "ember.fuzz_driver");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L)
        init();
    /* a new file each time: safetensors may still map the previous one */
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("fuzz_load: cannot write the input file");
        abort();
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "ember.fuzz_driver");
    lua_pushstring(L, path);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        die_lua("driver failed");
    if (!lua_isnil(L, -1)) {
        fprintf(stderr, "fuzz_load: finding: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_pop(L, 1);
    if (++runs % 64 == 0)
        lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
