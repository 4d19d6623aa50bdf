/* Bindings for autograd (core/autograd): the tensor fields requires_grad, grad,
 * grad_fn, is_leaf and data; backward, detach, retain_grad, register_hook; grad
 * mode; autograd.grad; and the C half of custom Lua functions (a node whose
 * backward calls the Lua function). The Lua half is lua/torch/autograd.lua.
 *
 * Lua values owned by nodes (hooks, custom-function contexts) are held through
 * registry references. A node can die anywhere (inside a tensor's __gc, inside
 * the engine), so releasing a reference is queued and done on the next entry
 * into this file rather than calling Lua from wherever the node died. */
#include "lua_ember.h"

#include <stdlib.h>
#include <string.h>

#include "../core/autograd/functions.h"

#define NODE_MT "torch.autograd.Node"

/* The state running the current backward pass (hooks and custom functions run there). */
static _Thread_local lua_State *current_L;

/* ---- deferred registry releases ---- */

typedef struct pending_unref {
    lua_State *main;
    int ref;
} pending_unref;
static pending_unref *pending;
static int n_pending, cap_pending;

static void queue_unref(lua_State *main, int ref)
{
    if (ref == LUA_NOREF || ref == LUA_REFNIL)
        return;
    if (n_pending == cap_pending) {
        int cap = cap_pending ? cap_pending * 2 : 64;
        pending_unref *p = realloc(pending, (size_t)cap * sizeof *p);
        if (!p)
            return; /* the reference leaks; nothing else to do without memory */
        pending = p;
        cap_pending = cap;
    }
    pending[n_pending++] = (pending_unref){ main, ref };
}

static lua_State *main_thread(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *m = lua_tothread(L, -1);
    lua_pop(L, 1);
    return m;
}

static void flush_unrefs(lua_State *L)
{
    if (!n_pending)
        return;
    lua_State *m = main_thread(L);
    int keep = 0;
    for (int i = 0; i < n_pending; i++) {
        if (pending[i].main == m)
            luaL_unref(L, LUA_REGISTRYINDEX, pending[i].ref);
        else
            pending[keep++] = pending[i];
    }
    n_pending = keep;
}

/* ---- fields ---- */

static int g_requires_grad(lua_State *L)
{
    lua_pushboolean(L, emL_checktensor(L, 1)->requires_grad);
    return 1;
}

static int s_requires_grad(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (!lua_isboolean(L, 2))
        return luaL_error(L, "requires_grad: expected a boolean, got %s", luaL_typename(L, 2));
    emL_check(L, em_set_requires_grad(t, lua_toboolean(L, 2)));
    return 0;
}

static int m_requires_grad_(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (!lua_isnoneornil(L, 2) && !lua_isboolean(L, 2))
        return luaL_error(L, "requires_grad_: expected a boolean, got %s", luaL_typename(L, 2));
    bool on = lua_isnoneornil(L, 2) ? true : lua_toboolean(L, 2);
    emL_check(L, em_set_requires_grad(t, on));
    lua_settop(L, 1);
    return 1;
}

static int g_grad(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (!t->grad) {
        lua_pushnil(L);
        return 1;
    }
    em_tensor_retain(t->grad);
    emL_pushtensor(L, t->grad);
    return 1;
}

static int s_grad(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    em_tensor *g = lua_isnil(L, 2) ? NULL : emL_totensor(L, 2);
    if (!g && !lua_isnil(L, 2))
        return luaL_error(L, "grad: expected a tensor or nil, got %s", luaL_typename(L, 2));
    emL_check(L, em_set_grad(t, g));
    return 0;
}

static int g_is_leaf(lua_State *L)
{
    lua_pushboolean(L, em_is_leaf(emL_checktensor(L, 1)));
    return 1;
}

static int g_data(lua_State *L)
{
    emL_pushtensor(L, em_detach(emL_checktensor(L, 1)));
    return 1;
}

static int m_detach(lua_State *L)
{
    emL_pushtensor(L, em_detach(emL_checktensor(L, 1)));
    return 1;
}

static int m_detach_(lua_State *L)
{
    emL_check(L, em_detach_(emL_checktensor(L, 1)));
    lua_settop(L, 1);
    return 1;
}

static int m_retain_grad(lua_State *L)
{
    emL_check(L, em_retain_grad(emL_checktensor(L, 1)));
    return 0;
}

/* ---- grad_fn objects ---- */

static void push_node(lua_State *L, em_node *n)
{
    if (!n) {
        lua_pushnil(L);
        return;
    }
    em_node **box = lua_newuserdatauv(L, sizeof(em_node *), 0);
    em_node_retain(n);
    *box = n;
    luaL_setmetatable(L, NODE_MT);
}

static em_node *check_node(lua_State *L, int idx)
{
    em_node **box = luaL_checkudata(L, idx, NODE_MT);
    return *box;
}

static int node_gc(lua_State *L)
{
    em_node **box = luaL_checkudata(L, 1, NODE_MT);
    em_node_release(*box);
    *box = NULL;
    return 0;
}

static int node_tostring(lua_State *L)
{
    em_node *n = check_node(L, 1);
    lua_pushfstring(L, "<%s>", n ? n->name : "released");
    return 1;
}

static int node_name(lua_State *L)
{
    em_node *n = check_node(L, 1);
    lua_pushstring(L, n ? n->name : "released");
    return 1;
}

static int node_eq(lua_State *L)
{
    em_node **a = luaL_testudata(L, 1, NODE_MT), **b = luaL_testudata(L, 2, NODE_MT);
    lua_pushboolean(L, a && b && *a == *b);
    return 1;
}

static int node_index(lua_State *L)
{
    em_node *n = check_node(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "name") == 0) {
        lua_pushcfunction(L, node_name);
        return 1;
    }
    if (strcmp(k, "next_functions") == 0) {
        lua_createtable(L, n->n_next, 0);
        for (int i = 0; i < n->n_next; i++) {
            lua_createtable(L, 2, 0);
            push_node(L, n->next[i].node);
            lua_rawseti(L, -2, 1);
            lua_pushinteger(L, n->next[i].input_nr + 1);
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, -2, i + 1);
        }
        return 1;
    }
    if (strcmp(k, "variable") == 0) {
        if (!n->variable)
            return 0;
        em_tensor_retain(n->variable);
        emL_pushtensor(L, n->variable);
        return 1;
    }
    return 0;
}

static int g_grad_fn(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    push_node(L, t->autograd ? t->autograd->grad_fn : NULL);
    return 1;
}

/* ---- hooks ---- */

typedef struct lua_cb {
    lua_State *main;
    int ref;
} lua_cb;

static void cb_free(void *ud)
{
    lua_cb *c = ud;
    queue_unref(c->main, c->ref);
    free(c);
}

static int lua_hook(void *ud, em_tensor *grad, em_tensor **replacement)
{
    lua_cb *c = ud;
    lua_State *L = current_L;
    if (!L)
        return em_error("hook: a Lua hook ran outside a backward pass started from Lua");
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    em_tensor_retain(grad);
    emL_pushtensor(L, grad);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        em_error("hook: %s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
        lua_pop(L, 1);
        return -1;
    }
    if (!lua_isnil(L, -1)) {
        em_tensor *t = emL_totensor(L, -1);
        if (!t) {
            em_error("hook: a hook must return nil or a tensor, got %s", luaL_typename(L, -1));
            lua_pop(L, 1);
            return -1;
        }
        em_tensor_retain(t);
        *replacement = t;
    }
    lua_pop(L, 1);
    return 0;
}

static int handle_remove(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    em_tensor *t = emL_totensor(L, -1);
    lua_getiuservalue(L, 1, 2);
    lua_Integer id = lua_tointeger(L, -1);
    if (t)
        em_remove_hook(t, (int)id);
    return 0;
}

static int m_register_hook(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    flush_unrefs(L);
    lua_cb *c = malloc(sizeof *c);
    if (!c)
        return luaL_error(L, "register_hook: out of memory");
    c->main = main_thread(L);
    lua_pushvalue(L, 2);
    c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    int id = em_register_hook(t, lua_hook, cb_free, c);
    if (id < 0)
        return emL_error(L);
    /* a handle with :remove() */
    lua_newuserdatauv(L, 1, 2);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lua_pushinteger(L, id);
    lua_setiuservalue(L, -2, 2);
    if (luaL_newmetatable(L, "torch.autograd.HookHandle")) {
        lua_newtable(L);
        lua_pushcfunction(L, handle_remove);
        lua_setfield(L, -2, "remove");
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    return 1;
}

/* ---- backward and autograd.grad ---- */

static int m_backward(lua_State *L)
{
    em_tensor *y = emL_checktensor(L, 1);
    em_tensor *g = NULL;
    int opts = 0, top = lua_gettop(L);
    for (int i = 2; i <= top && i <= 3; i++) {
        if (lua_isnil(L, i))
            continue;
        em_tensor *t = emL_totensor(L, i);
        if (t && i == 2)
            g = t;
        else if (emL_isopts(L, i))
            opts = i;
        else
            return luaL_error(L, "backward: expected a gradient tensor or an options table as argument #%d, got %s",
                              i, luaL_typename(L, i));
    }
    bool retain = emL_optbool(L, opts, "retain_graph", false);
    bool create = emL_optbool(L, opts, "create_graph", false);
    flush_unrefs(L);
    lua_State *prev = current_L;
    current_L = L;
    int rc = em_backward(1, &y, &g, retain, create);
    current_L = prev;
    emL_check(L, rc);
    return 0;
}

/* A tensor or a list of tensors at idx, into out (max n); returns the count. */
static int tensor_list(lua_State *L, int idx, em_tensor **out, int max, const char *what, bool allow_nil)
{
    em_tensor *t = emL_totensor(L, idx);
    if (t) {
        out[0] = t;
        return 1;
    }
    if (!lua_istable(L, idx))
        return luaL_error(L, "autograd.grad: %s must be a tensor or a list of tensors, got %s", what,
                          luaL_typename(L, idx));
    int n = (int)luaL_len(L, idx);
    if (n > max)
        return luaL_error(L, "autograd.grad: at most %d %s", max, what);
    for (int i = 0; i < n; i++) {
        lua_geti(L, idx, i + 1);
        out[i] = emL_totensor(L, -1);
        if (!out[i] && !(allow_nil && lua_isnil(L, -1)))
            return luaL_error(L, "autograd.grad: %s[%d] is a %s, not a tensor", what, i + 1, luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    return n;
}

#define MAX_GRAD_ARGS 256

static int l_grad(lua_State *L)
{
    em_tensor *outs[MAX_GRAD_ARGS], *ins[MAX_GRAD_ARGS], *gouts[MAX_GRAD_ARGS] = { 0 }, *res[MAX_GRAD_ARGS];
    int n_out = tensor_list(L, 1, outs, MAX_GRAD_ARGS, "outputs", false);
    int n_in = tensor_list(L, 2, ins, MAX_GRAD_ARGS, "inputs", false);
    int opts = emL_isopts(L, 3) ? 3 : 0;
    if (!lua_isnoneornil(L, 3) && !opts)
        return luaL_error(L, "autograd.grad: argument #3 must be an options table");
    if (emL_getopt(L, opts, "grad_outputs") != LUA_TNIL) {
        int top = lua_gettop(L);
        int ng = tensor_list(L, top, gouts, MAX_GRAD_ARGS, "grad_outputs", true);
        if (ng > n_out)
            return luaL_error(L, "autograd.grad: %d grad_outputs for %d outputs", ng, n_out);
    }
    lua_pop(L, 1);
    bool create = emL_optbool(L, opts, "create_graph", false);
    bool retain = emL_optbool(L, opts, "retain_graph", create);
    bool unused = emL_optbool(L, opts, "allow_unused", false);
    flush_unrefs(L);
    lua_State *prev = current_L;
    current_L = L;
    int rc = em_grad(n_out, outs, gouts, n_in, ins, retain, create, unused, res);
    current_L = prev;
    emL_check(L, rc);
    lua_createtable(L, n_in, 0);
    for (int i = 0; i < n_in; i++) {
        if (res[i]) {
            emL_pushtensor(L, res[i]);
            lua_rawseti(L, -2, i + 1);
        }
    }
    return 1;
}

/* ---- grad mode ---- */

static int l_is_grad_enabled(lua_State *L)
{
    lua_pushboolean(L, em_grad_enabled());
    return 1;
}

static int l_set_grad_enabled(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TBOOLEAN);
    bool prev = em_grad_enabled();
    em_set_grad_enabled(lua_toboolean(L, 1));
    lua_pushboolean(L, prev);
    return 1;
}

/* ---- custom functions ---- */

/* What a custom function's node keeps: the Lua ctx and backward, a weak link to
 * ctx's node box, and for each of the node's outputs its position among the Lua
 * results. */
typedef struct fn_ctx {
    lua_State *main;
    int ctx_ref, backward_ref;
    em_node **box; /* ctx._node; cleared when the node dies */
    char name[64];
    int n_results;
    int out_pos[];
} fn_ctx;

static void fn_free(em_node *n)
{
    fn_ctx *c = n->ctx;
    if (c->box)
        *c->box = NULL;
    queue_unref(c->main, c->ctx_ref);
    queue_unref(c->main, c->backward_ref);
}

static int fn_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    fn_ctx *c = n->ctx;
    lua_State *L = current_L;
    if (!L)
        return em_error("backward: %s is a Lua function but the backward pass was not started from Lua", n->name);
    int top = lua_gettop(L);
    if (!lua_checkstack(L, c->n_results + 4))
        return em_error("backward: %s: Lua stack overflow", n->name);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->backward_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ctx_ref);
    for (int pos = 0; pos < c->n_results; pos++) {
        int k = -1;
        for (int j = 0; j < n->n_out; j++)
            if (c->out_pos[j] == pos)
                k = j;
        if (k >= 0) {
            em_tensor_retain(go[k]);
            emL_pushtensor(L, go[k]);
        } else {
            lua_pushnil(L);
        }
    }
    if (lua_pcall(L, 1 + c->n_results, LUA_MULTRET, 0) != LUA_OK) {
        em_error("%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
        lua_settop(L, top);
        return -1;
    }
    int nret = lua_gettop(L) - top;
    int rc = 0;
    if (nret > n->n_next)
        rc = em_error("backward: %s returned %d gradients, but its forward took %d inputs", n->name, nret, n->n_next);
    for (int i = 0; i < nret && rc == 0; i++) {
        int idx = top + 1 + i;
        if (lua_isnil(L, idx))
            continue;
        em_tensor *t = emL_totensor(L, idx);
        if (!t) {
            rc = em_error("backward: %s returned a %s as gradient %d; expected a tensor or nil", n->name,
                          luaL_typename(L, idx), i + 1);
            break;
        }
        if (em_node_needs(n, i)) {
            em_tensor_retain(t);
            gi[i] = t;
        }
    }
    lua_settop(L, top);
    return rc;
}

static bool in_set(lua_State *L, int set, em_tensor *t)
{
    if (!set)
        return false;
    int n = (int)luaL_len(L, set);
    for (int i = 1; i <= n; i++) {
        lua_geti(L, set, i);
        bool same = emL_totensor(L, -1) == t;
        lua_pop(L, 1);
        if (same)
            return true;
    }
    return false;
}

/* _record_function(name, ctx, backward, inputs, n_inputs, outputs, n_outputs,
 * to_save, non_differentiable, dirty) -> outputs (with returned inputs aliased). */
static int l_record_function(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    luaL_checktype(L, 4, LUA_TTABLE);
    int n_in = (int)lua_tointeger(L, 5);
    luaL_checktype(L, 6, LUA_TTABLE);
    int n_res = (int)lua_tointeger(L, 7);
    lua_Integer n_in_arg = luaL_checkinteger(L, 5), n_res_arg = luaL_checkinteger(L, 7);
    if (n_in_arg < 0 || n_in_arg > 4096 || n_res_arg < 0 || n_res_arg > 4096)
        return luaL_error(L, "%s: a custom function takes and returns at most 4096 values", name);
    int save = lua_istable(L, 8) ? 8 : 0;
    int nondiff = lua_istable(L, 9) ? 9 : 0;
    int dirty = lua_istable(L, 10) ? 10 : 0;
    flush_unrefs(L);

    /* which results are differentiable tensors */
    int n_out = 0;
    int *pos = malloc(sizeof(int) * (size_t)(n_res + 1));
    if (!pos)
        return luaL_error(L, "%s: out of memory", name);
    for (int i = 0; i < n_res; i++) {
        lua_geti(L, 6, i + 1);
        em_tensor *t = emL_totensor(L, -1);
        if (t && em_dtype_is_float(t->dtype) && !in_set(L, nondiff, t))
            pos[n_out++] = i;
        lua_pop(L, 1);
    }
    int n_save = save ? (int)luaL_len(L, save) : 0;
    em_node *n = em_node_new("", fn_backward, n_in, n_out > 0 ? n_out : 1, n_save,
                             sizeof(fn_ctx) + sizeof(int) * (size_t)(n_out + 1));
    if (!n) {
        free(pos);
        return emL_error(L);
    }
    fn_ctx *c = n->ctx;
    snprintf(c->name, sizeof c->name, "%s", name); /* lives as long as the node */
    n->name = c->name;
    c->main = main_thread(L);
    c->n_results = n_res;
    memcpy(c->out_pos, pos, sizeof(int) * (size_t)n_out);
    free(pos);
    lua_pushvalue(L, 2);
    c->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, 3);
    c->backward_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    n->free_ctx = fn_free;
    /* ctx._node: a box the node clears when it dies */
    c->box = lua_newuserdatauv(L, sizeof(em_node *), 0);
    *c->box = n;
    lua_setfield(L, 2, "_node");

    int rc = 0;
    for (int i = 0; i < n_in && rc == 0; i++) {
        lua_geti(L, 4, i + 1);
        em_tensor *t = emL_totensor(L, -1);
        if (t && em_grad_enabled())
            rc = em_node_set_next(n, i, t);
        lua_pop(L, 1);
    }
    /* results: inputs returned as they are become aliases with the new history */
    for (int k = 0; k < n_out && rc == 0; k++) {
        lua_geti(L, 6, c->out_pos[k] + 1);
        em_tensor *t = emL_totensor(L, -1);
        bool is_input = false;
        for (int i = 0; i < n_in && !is_input; i++) {
            lua_geti(L, 4, i + 1);
            is_input = emL_totensor(L, -1) == t;
            lua_pop(L, 1);
        }
        if (is_input && in_set(L, dirty, t)) {
            rc = em_ag_check_inplace(t, name);
            if (rc == 0)
                rc = em_set_history(t, n, k);
        } else if (is_input) {
            em_tensor *a = em_ag_mark_view(t, em_tensor_alias(t));
            rc = a ? em_set_history(a, n, k) : -1;
            if (rc == 0) {
                emL_pushtensor(L, a);
                lua_seti(L, 6, c->out_pos[k] + 1);
            } else {
                em_tensor_release(a);
            }
        } else {
            rc = em_set_history(t, n, k);
        }
        lua_pop(L, 1);
    }
    /* saved tensors: an output is saved without its history (no cycle) */
    for (int i = 0; i < n_save && rc == 0; i++) {
        lua_geti(L, save, i + 1);
        em_tensor *t = emL_totensor(L, -1);
        if (!t && !lua_isnil(L, -1)) {
            rc = em_error("%s: save_for_backward takes tensors (or nil), argument %d is a %s", name, i + 1,
                          luaL_typename(L, -1));
        } else if (t) {
            int out_nr = -1;
            for (int k = 0; k < n_out; k++) {
                lua_geti(L, 6, c->out_pos[k] + 1);
                if (emL_totensor(L, -1) == t)
                    out_nr = k;
                lua_pop(L, 1);
            }
            rc = out_nr >= 0 ? em_node_save_output(n, i, t, out_nr) : em_node_save(n, i, t);
        }
        lua_pop(L, 1);
    }
    em_node_release(n);
    emL_check(L, rc);
    lua_pushvalue(L, 6);
    return 1;
}

/* _saved_tensors(ctx): the tensors ctx:save_for_backward kept, checked. */
static int l_saved_tensors(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "_node");
    em_node **box = lua_touserdata(L, -1);
    if (!box || !*box)
        return luaL_error(L, "saved_tensors: only available in backward, while the graph is alive");
    em_node *n = *box;
    lua_createtable(L, n->n_saved, 0);
    for (int i = 0; i < n->n_saved; i++) {
        if (!n->saved[i].t && !n->released)
            continue;
        em_tensor *t = em_node_saved(n, i);
        if (!t)
            return emL_error(L);
        emL_pushtensor(L, t);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static const luaL_Reg methods[] = {
    { "requires_grad_", m_requires_grad_ },
    { "detach", m_detach },
    { "detach_", m_detach_ },
    { "retain_grad", m_retain_grad },
    { "register_hook", m_register_hook },
    { "backward", m_backward },
    { NULL, NULL },
};

static const luaL_Reg module_funcs[] = {
    { "is_grad_enabled", l_is_grad_enabled },
    { "_set_grad_enabled", l_set_grad_enabled },
    { "_autograd_grad", l_grad },
    { "_record_function", l_record_function },
    { "_saved_tensors", l_saved_tensors },
    { NULL, NULL },
};

/* Fields reachable as x.name (and x.name = v). */
static const luaL_Reg getters[] = {
    { "requires_grad", g_requires_grad },
    { "grad", g_grad },
    { "grad_fn", g_grad_fn },
    { "is_leaf", g_is_leaf },
    { "data", g_data },
    { NULL, NULL },
};

static const luaL_Reg setters[] = {
    { "requires_grad", s_requires_grad },
    { "grad", s_grad },
    { NULL, NULL },
};

void emL_open_autograd(lua_State *L, int methods_idx, int module, int meta)
{
    (void)meta;
    em_autograd_init();
    emL_register(L, methods_idx, module, methods);
    lua_pushvalue(L, module);
    luaL_setfuncs(L, module_funcs, 0);
    lua_pop(L, 1);

    lua_getfield(L, module, "_getters");
    luaL_setfuncs(L, getters, 0);
    lua_pop(L, 1);
    lua_getfield(L, module, "_setters");
    luaL_setfuncs(L, setters, 0);
    lua_pop(L, 1);

    luaL_newmetatable(L, NODE_MT);
    lua_pushcfunction(L, node_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, node_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, node_eq);
    lua_setfield(L, -2, "__eq");
    lua_pushcfunction(L, node_index);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, NODE_MT);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}
