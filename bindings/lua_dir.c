/* Directory listing for the datasets that walk a tree (data.datasets.ImageFolder):
 *   torch._listdir(path) -> names, kinds   the entries of the directory except . and ..,
 *                                          sorted bytewise (Python's sorted() on UTF-8);
 *                                          kinds[i] is 'file', 'directory' or 'other'
 *                                          (symbolic links followed; a broken one is 'other')
 *                        -> nil, message   when the directory cannot be read
 * Lua has no readdir; this is the smallest piece that lets Lua do the rest. */
#include <dirent.h>
#include <errno.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lua_ember.h"

#define LISTING_MT "torch.DirListing"

/* The open directory and the entries read so far live in a userdata created before
 * opendir, so a Lua error (out of memory) at any point releases them in __gc. */
typedef struct {
    char *name;
    char kind; /* 'f', 'd' or 'o' */
} dir_entry;

typedef struct {
    DIR *dir;
    dir_entry *entries;
    size_t n, cap;
} listing;

/* idempotent: __gc runs it again after l_listdir released the listing itself */
static void listing_release(listing *ls)
{
    if (ls->dir)
        closedir(ls->dir);
    for (size_t i = 0; i < ls->n; i++)
        free(ls->entries[i].name);
    free(ls->entries);
    memset(ls, 0, sizeof *ls);
}

static int listing_gc(lua_State *L)
{
    listing_release((listing *)luaL_checkudata(L, 1, LISTING_MT));
    return 0;
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const dir_entry *)a)->name, ((const dir_entry *)b)->name);
}

static char entry_kind(DIR *d, const char *name)
{
    struct stat st;
    if (fstatat(dirfd(d), name, &st, 0) != 0)
        return 'o';
    return S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : 'o';
}

static int l_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    listing *ls = (listing *)lua_newuserdatauv(L, sizeof *ls, 0); /* listing */
    memset(ls, 0, sizeof *ls);
    luaL_setmetatable(L, LISTING_MT);
    ls->dir = opendir(path);
    if (!ls->dir) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(ls->dir);
        if (!e) {
            if (errno) {
                int err = errno;
                lua_pushnil(L);
                lua_pushfstring(L, "%s: %s", path, strerror(err));
                return 2; /* the listing is released by __gc */
            }
            break;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (ls->n == ls->cap) {
            size_t cap = ls->cap ? 2 * ls->cap : 64;
            dir_entry *entries = (dir_entry *)realloc(ls->entries, cap * sizeof *entries);
            if (!entries)
                return luaL_error(L, "_listdir: out of memory listing %s", path);
            ls->entries = entries;
            ls->cap = cap;
        }
        char *name = strdup(e->d_name);
        if (!name)
            return luaL_error(L, "_listdir: out of memory listing %s", path);
        ls->entries[ls->n].name = name;
        ls->entries[ls->n].kind = entry_kind(ls->dir, name);
        ls->n++;
    }
    closedir(ls->dir);
    ls->dir = NULL;
    if (ls->n > 1)
        qsort(ls->entries, ls->n, sizeof *ls->entries, cmp_entries);
    lua_createtable(L, (int)ls->n, 0); /* listing, names */
    lua_createtable(L, (int)ls->n, 0); /* listing, names, kinds */
    for (size_t i = 0; i < ls->n; i++) {
        char k = ls->entries[i].kind;
        lua_pushstring(L, ls->entries[i].name);
        lua_rawseti(L, -3, (lua_Integer)i + 1);
        lua_pushstring(L, k == 'f' ? "file" : k == 'd' ? "directory" : "other");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    listing_release(ls);
    return 2;
}

void emL_open_dir(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    luaL_newmetatable(L, LISTING_MT);
    lua_pushcfunction(L, listing_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_listdir);
    lua_setfield(L, module, "_listdir");
}
