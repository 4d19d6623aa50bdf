/* Bindings of the fused optimizer updates (core/optim.h), used by lua/optim/:
 *   torch._sgd_step(param, grad, momentum_buffer_or_nil, {lr=, momentum=0, dampening=0,
 *                   weight_decay=0, nesterov=false, maximize=false}) -> momentum_buffer or nil
 *     (with momentum and no buffer, a new one is made from this step's gradient)
 *   torch._adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq_or_nil, {lr=, beta1=, beta2=,
 *                    eps=, weight_decay=0, step=, maximize=false, decoupled=false})
 *   torch._rmsprop_step(param, grad, square_avg, momentum_buffer_or_nil, grad_avg_or_nil,
 *                       {lr=, alpha=, eps=, weight_decay=0, momentum=0, maximize=false})
 *   torch._adagrad_step(param, grad, sum, {lr=, lr_decay=0, weight_decay=0, eps=, step=, maximize=false})
 * Everything is updated in place, with no autograd history (the parameter's version
 * counter is bumped as by an in-place op). step counts from 1. */
#include "lua_ember.h"

#include <math.h>

#include "../core/optim.h"

static int opts_arg(lua_State *L, int idx, const char *fn)
{
    if (!emL_isopts(L, idx))
        luaL_error(L, "%s: expected an options table as argument %d, got %s", fn, idx, luaL_typename(L, idx));
    return idx;
}

static double need_number(lua_State *L, int opts, const char *fn, const char *name)
{
    if (emL_getopt(L, opts, name) != LUA_TNUMBER)
        luaL_error(L, "%s: option '%s' must be a number, got %s", fn, name, luaL_typename(L, -1));
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static double need_step(lua_State *L, int opts, const char *fn)
{
    double step = need_number(L, opts, fn, "step");
    if (!(step >= 1))
        luaL_error(L, "%s: option 'step' must be at least 1, got %f", fn, step);
    return step;
}

static void run(lua_State *L, em_optim_args *a)
{
    if (em_optim_step(a) < 0)
        emL_error(L);
}

static int l_sgd_step(lua_State *L)
{
    const char *fn = "_sgd_step";
    em_optim_args a = { .op = "SGD", .kind = EM_OPTIM_SGD };
    a.param = emL_checktensor(L, 1);
    a.grad = emL_checktensor(L, 2);
    a.buf[0] = emL_opttensor(L, 3);
    int o = opts_arg(L, 4, fn);
    a.lr = need_number(L, o, fn, "lr");
    a.momentum = emL_optnumber(L, o, "momentum", 0);
    a.dampening = emL_optnumber(L, o, "dampening", 0);
    a.weight_decay = emL_optnumber(L, o, "weight_decay", 0);
    a.nesterov = emL_optbool(L, o, "nesterov", false);
    a.maximize = emL_optbool(L, o, "maximize", false);
    lua_settop(L, 4);
    if (a.momentum != 0 && !a.buf[0]) {
        emL_pushtensor(L, em_tensor_empty_like(a.param)); /* owned by Lua before anything can fail */
        a.buf[0] = emL_checktensor(L, 5);
        a.first = true;
    } else {
        a.buf[0] = a.momentum != 0 ? a.buf[0] : NULL;
        lua_pushvalue(L, 3);
    }
    run(L, &a);
    return 1;
}

static int l_adam_step(lua_State *L)
{
    const char *fn = "_adam_step";
    em_optim_args a = { .op = "Adam", .kind = EM_OPTIM_ADAM };
    a.param = emL_checktensor(L, 1);
    a.grad = emL_checktensor(L, 2);
    a.buf[0] = emL_checktensor(L, 3);
    a.buf[1] = emL_checktensor(L, 4);
    a.buf[2] = emL_opttensor(L, 5);
    int o = opts_arg(L, 6, fn);
    a.lr = need_number(L, o, fn, "lr");
    a.beta1 = need_number(L, o, fn, "beta1");
    a.beta2 = need_number(L, o, fn, "beta2");
    a.eps = need_number(L, o, fn, "eps");
    double step = need_step(L, o, fn);
    a.weight_decay = emL_optnumber(L, o, "weight_decay", 0);
    a.maximize = emL_optbool(L, o, "maximize", false);
    a.decoupled = emL_optbool(L, o, "decoupled", false);
    if (a.decoupled)
        a.op = "AdamW";
    /* as PyTorch: lr / (1 - beta1^t) and sqrt(1 - beta2^t), in double */
    a.step_size = a.lr / (1 - pow(a.beta1, step));
    a.bc2_sqrt = sqrt(1 - pow(a.beta2, step));
    run(L, &a);
    return 0;
}

static int l_rmsprop_step(lua_State *L)
{
    const char *fn = "_rmsprop_step";
    em_optim_args a = { .op = "RMSprop", .kind = EM_OPTIM_RMSPROP };
    a.param = emL_checktensor(L, 1);
    a.grad = emL_checktensor(L, 2);
    a.buf[0] = emL_checktensor(L, 3);
    a.buf[1] = emL_opttensor(L, 4);
    a.buf[2] = emL_opttensor(L, 5);
    int o = opts_arg(L, 6, fn);
    a.lr = need_number(L, o, fn, "lr");
    a.alpha = need_number(L, o, fn, "alpha");
    a.eps = need_number(L, o, fn, "eps");
    a.weight_decay = emL_optnumber(L, o, "weight_decay", 0);
    a.momentum = emL_optnumber(L, o, "momentum", 0);
    a.maximize = emL_optbool(L, o, "maximize", false);
    if (!(a.momentum > 0))
        a.buf[1] = NULL;
    run(L, &a);
    return 0;
}

static int l_adagrad_step(lua_State *L)
{
    const char *fn = "_adagrad_step";
    em_optim_args a = { .op = "Adagrad", .kind = EM_OPTIM_ADAGRAD };
    a.param = emL_checktensor(L, 1);
    a.grad = emL_checktensor(L, 2);
    a.buf[0] = emL_checktensor(L, 3);
    int o = opts_arg(L, 4, fn);
    a.lr = need_number(L, o, fn, "lr");
    a.eps = need_number(L, o, fn, "eps");
    double step = need_step(L, o, fn);
    double lr_decay = emL_optnumber(L, o, "lr_decay", 0);
    a.weight_decay = emL_optnumber(L, o, "weight_decay", 0);
    a.maximize = emL_optbool(L, o, "maximize", false);
    a.clr = a.lr / (1 + (step - 1) * lr_decay);
    run(L, &a);
    return 0;
}

static const luaL_Reg optim_funcs[] = {
    { "_sgd_step", l_sgd_step },
    { "_adam_step", l_adam_step },
    { "_rmsprop_step", l_rmsprop_step },
    { "_adagrad_step", l_adagrad_step },
    { NULL, NULL },
};

void emL_open_optim(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, optim_funcs, 0);
    lua_pop(L, 1);
}
