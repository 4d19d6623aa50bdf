/* Bindings for the linalg op family. */
#include "lua_ember.h"

void emL_open_linalg(lua_State *L, int methods, int module, int meta)
{
    (void)L, (void)methods, (void)module, (void)meta;
}
