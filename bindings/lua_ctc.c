/* Binding for the CTC loss (core/ctc.c, differentiable through
 * core/autograd/fn_ctc.c):
 *   torch.ctc_loss(log_probs, targets, input_lengths, target_lengths,
 *                  {blank=1, reduction='mean', zero_infinity=false})
 * Targets hold 1-based class labels and blank is 1-based (PyTorch's blank=0 is
 * Ember's blank=1). Lengths are integer tensors here; nn.functional.ctc_loss also
 * takes Lua tables. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

static int l_ctc_loss(lua_State *L)
{
    em_tensor *lp = emL_checktensor(L, 1), *tg = emL_checktensor(L, 2);
    em_tensor *il = emL_checktensor(L, 3), *tl = emL_checktensor(L, 4);
    int opts = 0;
    if (!lua_isnoneornil(L, 5)) {
        if (!emL_isopts(L, 5))
            luaL_error(L, "ctc_loss: expected an options table as argument 5, got %s", luaL_typename(L, 5));
        opts = 5;
    }
    lua_Integer blank = emL_optint(L, opts, "blank", 1);
    if (blank < 1)
        luaL_error(L, "CTCLoss: blank must be a class label >= 1 (labels are 1-based), got %I", blank);
    bool zero_infinity = emL_optbool(L, opts, "zero_infinity", false);
    em_reduction reduction = EM_REDUCTION_MEAN;
    if (emL_getopt(L, opts, "reduction") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "CTCLoss: reduction must be 'mean', 'sum' or 'none', got %s", luaL_typename(L, -1));
        int r = em_reduction_parse("CTCLoss", lua_tostring(L, -1));
        if (r < 0)
            emL_error(L);
        reduction = (em_reduction)r;
    }
    lua_pop(L, 1);
    emL_pushtensor(L, em_ag_ctc_loss(lp, tg, il, tl, (int64_t)(blank - 1), reduction, zero_infinity));
    return 1;
}

static const luaL_Reg ctc_funcs[] = {
    { "ctc_loss", l_ctc_loss },
    { NULL, NULL },
};

void emL_open_ctc(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, ctc_funcs, 0);
    lua_pop(L, 1);
}
