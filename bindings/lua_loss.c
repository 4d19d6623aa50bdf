/* Bindings for the fused losses (core/loss.c, differentiable through
 * core/autograd/fn_loss.c). Class targets hold 1-based labels:
 *   torch.nll_loss(log_probs, target, {weight=, ignore_index=-100, reduction='mean'})
 *   torch.cross_entropy(logits, target, {weight=, ignore_index=-100,
 *                       reduction='mean', label_smoothing=0})
 * Class-probability targets are composed in Lua (nn.functional.cross_entropy). */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

typedef struct loss_opts {
    em_tensor *weight;
    int64_t ignore_index;
    double smoothing;
    em_reduction reduction;
} loss_opts;

static void read_opts(lua_State *L, const char *fn, loss_opts *o)
{
    int opts = 0;
    if (!lua_isnoneornil(L, 3)) {
        if (!emL_isopts(L, 3))
            luaL_error(L, "%s: expected an options table as argument 3, got %s", fn, luaL_typename(L, 3));
        opts = 3;
    }
    o->weight = NULL;
    if (emL_getopt(L, opts, "weight") != LUA_TNIL) {
        o->weight = emL_totensor(L, -1);
        if (!o->weight)
            luaL_error(L, "%s: weight must be a tensor, got %s", fn, luaL_typename(L, -1));
    }
    lua_pop(L, 1); /* still referenced by the options table */
    o->ignore_index = emL_optint(L, opts, "ignore_index", -100);
    o->smoothing = emL_optnumber(L, opts, "label_smoothing", 0.0);
    o->reduction = EM_REDUCTION_MEAN;
    if (emL_getopt(L, opts, "reduction") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: reduction must be 'mean', 'sum' or 'none', got %s", fn, luaL_typename(L, -1));
        int r = em_reduction_parse(fn, lua_tostring(L, -1));
        if (r < 0)
            emL_error(L);
        o->reduction = (em_reduction)r;
    }
    lua_pop(L, 1);
}

static int l_nll_loss(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1), *t = emL_checktensor(L, 2);
    loss_opts o;
    read_opts(L, "nll_loss", &o);
    emL_pushtensor(L, em_ag_nll_loss(x, t, o.weight, o.ignore_index, o.reduction));
    return 1;
}

static int l_cross_entropy(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1), *t = emL_checktensor(L, 2);
    loss_opts o;
    read_opts(L, "cross_entropy", &o);
    emL_pushtensor(L, em_ag_cross_entropy(x, t, o.weight, o.ignore_index, o.smoothing, o.reduction));
    return 1;
}

static const luaL_Reg loss_funcs[] = {
    { "nll_loss", l_nll_loss },
    { "cross_entropy", l_cross_entropy },
    { NULL, NULL },
};

void emL_open_loss(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, loss_funcs, 0);
    lua_pop(L, 1);
}
