/* Binding for one recurrent layer-direction (core/rnn.c, differentiable through
 * core/autograd/fn_rnn.c); nn.RNN / nn.LSTM / nn.GRU (lua/nn/rnn.lua) stack and
 * pair these calls:
 *   out, h_n[, c_n] = torch._rnn(mode, x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
 * mode 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU'; x (N, I) packed time-major rows;
 * batch_sizes (T) int64, the active rows of each step; h0, c0 (B, H) (c0 nil except
 * for LSTM); biases both or neither (nil). */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

#define FN "_rnn"

static em_tensor *opt_tensor(lua_State *L, int arg, const char *what)
{
    if (lua_isnoneornil(L, arg))
        return NULL;
    em_tensor *t = emL_totensor(L, arg);
    if (!t)
        luaL_error(L, FN ": %s (argument %d) must be a tensor or nil, got %s", what, arg, luaL_typename(L, arg));
    return t;
}

static int l_rnn(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    int m = em_rnn_mode_parse(name);
    if (m < 0)
        return emL_error(L);
    em_tensor *x = emL_checktensor(L, 2), *bs = emL_checktensor(L, 3), *h0 = emL_checktensor(L, 4);
    em_tensor *c0 = opt_tensor(L, 5, "c0");
    em_tensor *w_ih = emL_checktensor(L, 6), *w_hh = emL_checktensor(L, 7);
    em_tensor *b_ih = opt_tensor(L, 8, "bias_ih"), *b_hh = opt_tensor(L, 9, "bias_hh");
    bool reverse = lua_toboolean(L, 10);
    em_tensor *out = NULL, *hn = NULL, *cn = NULL;
    if (em_ag_rnn((em_rnn_mode)m, reverse, x, bs, h0, c0, w_ih, w_hh, b_ih, b_hh, &out, &hn, &cn) < 0)
        return emL_error(L);
    emL_pushtensor(L, out);
    emL_pushtensor(L, hn);
    if (!cn)
        return 2;
    emL_pushtensor(L, cn);
    return 3;
}

static const luaL_Reg rnn_funcs[] = {
    { "_rnn", l_rnn },
    { NULL, NULL },
};

void emL_open_rnn(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, rnn_funcs, 0);
    lua_pop(L, 1);
}
