/* Bindings for convolution (core/conv.c, differentiable through
 * core/autograd/fn_conv.c): torch.conv1d/2d/3d(input, weight[, bias][, opts]) with
 * opts {stride=, padding= (number, list, 'same' or 'valid'), dilation=, groups=}, and
 * torch.conv_transpose1d/2d/3d(input, weight[, bias][, opts]) with {stride=, padding=,
 * output_padding=, groups=, dilation=}. Numbers or lists of one entry per spatial dim
 * (a one-entry list is repeated), as in PyTorch. An unbatched input (C, spatial...)
 * gives an unbatched result. Padding modes other than zeros are the caller's (F.pad). */
#include "lua_ember.h"

#include <stdio.h>
#include <string.h>

#include "../core/autograd/functions.h"

static const char *const conv_options[] = { "stride", "padding", "dilation", "groups", NULL };
static const char *const convt_options[] = { "stride", "padding", "output_padding", "groups", "dilation", NULL };

/* Raises on a key of opts that is not in names (a misspelt option must not be ignored). */
static void check_option_names(lua_State *L, int opts, const char *op, const char *const *names)
{
    lua_pushnil(L);
    while (lua_next(L, opts)) { /* opts, key -> opts, key, value */
        bool known = false;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            for (int i = 0; names[i]; i++)
                known = known || strcmp(k, names[i]) == 0;
        }
        if (!known) {
            lua_pushvalue(L, -2);
            luaL_error(L, "%s: unknown option '%s'", op, luaL_tolstring(L, -1, NULL));
        }
        lua_pop(L, 1);
    }
}

/* opts[name] as nd integers (a number, or a list of 1 or nd numbers); def when absent. */
static void opt_ints(lua_State *L, int opts, const char *op, const char *name, int nd, int64_t def, int64_t *out)
{
    int t = emL_getopt(L, opts, name);
    for (int i = 0; i < nd; i++)
        out[i] = def;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t == LUA_TNUMBER) {
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint)
            luaL_error(L, "%s: option '%s' must be an integer, got %s", op, name, lua_tostring(L, -1));
        for (int i = 0; i < nd; i++)
            out[i] = v;
    } else if (t == LUA_TTABLE && !emL_totensor(L, -1)) {
        int64_t v[EM_CONV_MAX_SPATIAL];
        char what[64];
        snprintf(what, sizeof what, "%s: option '%s'", op, name);
        lua_Integer len = luaL_len(L, -1);
        if (len != 1 && len != nd)
            luaL_error(L, "%s: option '%s' must have 1 or %d entries, got %I", op, name, nd, (lua_Integer)len);
        int n = emL_checkintlist(L, -1, v, EM_CONV_MAX_SPATIAL, what);
        for (int i = 0; i < nd; i++)
            out[i] = v[n == 1 ? 0 : i];
    } else {
        luaL_error(L, "%s: option '%s' must be an integer or a list of %d integers, got %s", op, name, nd,
                   luaL_typename(L, -1));
    }
    lua_pop(L, 1);
}

/* input, weight[, bias][, opts]: fills the tensors and returns the opts index (0: none). */
static int conv_args(lua_State *L, em_tensor **input, em_tensor **weight, em_tensor **bias)
{
    *input = emL_checktensor(L, 1);
    *weight = emL_checktensor(L, 2);
    *bias = NULL;
    int opts = 0;
    if (emL_isopts(L, 3) && !emL_totensor(L, 3)) {
        opts = 3;
    } else {
        if (!lua_isnoneornil(L, 3))
            *bias = emL_checktensor(L, 3);
        if (!lua_isnoneornil(L, 4)) {
            if (!emL_isopts(L, 4) || emL_totensor(L, 4))
                luaL_argerror(L, 4, "expected an options table");
            opts = 4;
        }
    }
    return opts;
}

/* Runs the op on a batched input, adding and removing the batch dim of an unbatched one. */
static int conv_run(lua_State *L, const char *op, em_tensor *input, em_tensor *weight, em_tensor *bias,
                    const em_conv_params *p)
{
    int nd = p->nd;
    if (input->ndim != nd + 1 && input->ndim != nd + 2) {
        char buf[EM_SHAPE_BUF];
        return luaL_error(L, "%s: expected a %d-d (unbatched) or %d-d (batched) input, got %s", op, nd + 1, nd + 2,
                          em_shape_str(buf, sizeof buf, input->ndim, input->sizes));
    }
    if (input->ndim == nd + 2) {
        emL_pushtensor(L, em_ag_conv(op, input, weight, bias, p));
        return 1;
    }
    em_tensor *x = em_ag_unsqueeze(input, 0);
    if (!x)
        return emL_error(L);
    em_tensor *y = em_ag_conv(op, x, weight, bias, p);
    em_tensor_release(x);
    if (!y)
        return emL_error(L);
    em_tensor *r = em_ag_squeeze(y, 0);
    em_tensor_release(y);
    emL_pushtensor(L, r);
    return 1;
}

static int conv(lua_State *L, int nd, const char *op)
{
    em_tensor *input, *weight, *bias;
    int opts = conv_args(L, &input, &weight, &bias);
    if (opts)
        check_option_names(L, opts, op, conv_options);
    em_conv_params p;
    memset(&p, 0, sizeof p);
    p.nd = nd;
    opt_ints(L, opts, op, "stride", nd, 1, p.stride);
    opt_ints(L, opts, op, "dilation", nd, 1, p.dilation);
    lua_Integer groups = 1;
    if (emL_getopt(L, opts, "groups") != LUA_TNIL) {
        int isint;
        groups = lua_tointegerx(L, -1, &isint);
        if (!isint)
            luaL_error(L, "%s: option 'groups' must be an integer, got %s", op, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    p.groups = groups;
    if (emL_getopt(L, opts, "padding") == LUA_TSTRING) {
        const char *mode = lua_tostring(L, -1);
        if (strcmp(mode, "valid") == 0) {
            /* all zeros */
        } else if (strcmp(mode, "same") == 0) {
            for (int i = 0; i < nd; i++)
                if (p.stride[i] != 1)
                    return luaL_error(L, "%s: padding='same' is not supported for strided convolutions", op);
            if (weight->ndim == nd + 2)
                for (int i = 0; i < nd; i++) {
                    /* an odd total puts the extra element at the end, as PyTorch does */
                    int64_t total = p.dilation[i] * (weight->sizes[2 + i] - 1);
                    p.pad_lo[i] = total / 2;
                    p.pad_hi[i] = total - total / 2;
                }
        } else {
            return luaL_error(L, "%s: invalid padding string '%s', expected 'same' or 'valid'", op, mode);
        }
        lua_pop(L, 1);
    } else {
        lua_pop(L, 1);
        opt_ints(L, opts, op, "padding", nd, 0, p.pad_lo);
        memcpy(p.pad_hi, p.pad_lo, sizeof p.pad_hi);
    }
    return conv_run(L, op, input, weight, bias, &p);
}

static int conv_transpose(lua_State *L, int nd, const char *op)
{
    em_tensor *input, *weight, *bias;
    int opts = conv_args(L, &input, &weight, &bias);
    if (opts)
        check_option_names(L, opts, op, convt_options);
    em_conv_params p;
    memset(&p, 0, sizeof p);
    p.nd = nd;
    p.transposed = true;
    opt_ints(L, opts, op, "stride", nd, 1, p.stride);
    opt_ints(L, opts, op, "dilation", nd, 1, p.dilation);
    opt_ints(L, opts, op, "padding", nd, 0, p.pad_lo);
    memcpy(p.pad_hi, p.pad_lo, sizeof p.pad_hi);
    opt_ints(L, opts, op, "output_padding", nd, 0, p.output_padding);
    lua_Integer groups = 1;
    if (emL_getopt(L, opts, "groups") != LUA_TNIL) {
        int isint;
        groups = lua_tointegerx(L, -1, &isint);
        if (!isint)
            luaL_error(L, "%s: option 'groups' must be an integer, got %s", op, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    p.groups = groups;
    return conv_run(L, op, input, weight, bias, &p);
}

static int l_conv1d(lua_State *L) { return conv(L, 1, "conv1d"); }
static int l_conv2d(lua_State *L) { return conv(L, 2, "conv2d"); }
static int l_conv3d(lua_State *L) { return conv(L, 3, "conv3d"); }
static int l_conv_transpose1d(lua_State *L) { return conv_transpose(L, 1, "conv_transpose1d"); }
static int l_conv_transpose2d(lua_State *L) { return conv_transpose(L, 2, "conv_transpose2d"); }
static int l_conv_transpose3d(lua_State *L) { return conv_transpose(L, 3, "conv_transpose3d"); }

static const luaL_Reg conv_funcs[] = {
    { "conv1d", l_conv1d },
    { "conv2d", l_conv2d },
    { "conv3d", l_conv3d },
    { "conv_transpose1d", l_conv_transpose1d },
    { "conv_transpose2d", l_conv_transpose2d },
    { "conv_transpose3d", l_conv_transpose3d },
    { NULL, NULL },
};

/* Functions of the torch module only (not tensor methods, as in PyTorch). */
void emL_open_conv(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    lua_pushvalue(L, module);
    luaL_setfuncs(L, conv_funcs, 0);
    lua_pop(L, 1);
}
