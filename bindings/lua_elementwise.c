/* Bindings for the elementwise op family. */
#include "lua_ember.h"

void emL_open_elementwise(lua_State *L, int methods, int module, int meta)
{
    (void)L, (void)methods, (void)module, (void)meta;
}
