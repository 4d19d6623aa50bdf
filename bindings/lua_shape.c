/* Bindings for the shape op family. */
#include "lua_ember.h"

void emL_open_shape(lua_State *L, int methods, int module, int meta)
{
    (void)L, (void)methods, (void)module, (void)meta;
}
