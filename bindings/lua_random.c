/* Bindings for the random op family. */
#include "lua_ember.h"

void emL_open_random(lua_State *L, int methods, int module, int meta)
{
    (void)L, (void)methods, (void)module, (void)meta;
}
