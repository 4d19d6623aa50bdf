/* Bindings for the reduce op family. */
#include "lua_ember.h"

void emL_open_reduce(lua_State *L, int methods, int module, int meta)
{
    (void)L, (void)methods, (void)module, (void)meta;
}
