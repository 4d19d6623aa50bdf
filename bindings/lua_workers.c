/* Worker processes for lua/data/workers.lua (core/proc.h), as torch._workers:
 *   spawn(main)              -> a Channel to a new worker process; in the worker,
 *                               main(chan) runs instead and the process exits when it
 *                               returns (code 0) or raises (message on stderr, code 1)
 *   poll({chan, ...}, secs)  -> {i, ...} the channels with a message or their end,
 *                               {} after secs (nil or < 0: wait as long as it takes)
 *   exit(code)               -> leaves the worker at once (flushing stdio)
 *   now()                    -> seconds on a monotonic clock (for timeouts)
 *   chan:send(kind, seq, meta, {tensor, ...})
 *   chan:recv()              -> kind, seq, meta, {tensor, ...}; nil at the end
 *   chan:close()             -> closes the socket (the worker sees the end)
 *   chan:reap(grace)         -> closes, waits up to grace s, SIGKILLs, reaps; how the
 *                               worker ended ("exit code 3", "signal 9 (Killed)")
 *   chan:kill(sig), chan:pid()
 * Kinds and meta are the Lua side's business; tensors travel through shared memory
 * (a worker's reusable slots, or a one-off memfd: core/proc.h). */
#include <lualib.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "lua_ember.h"

#include "../core/proc.h"

#define CHAN_MT "torch.WorkerChannel"

typedef struct chan_box {
    em_proc_chan ch;
    char status[96];
} chan_box;

static chan_box *checkchan(lua_State *L, int i) { return luaL_checkudata(L, i, CHAN_MT); }

static int chan_gc(lua_State *L)
{
    chan_box *b = checkchan(L, 1);
    em_proc_reap(&b->ch, 0); /* last resort: the pool ends its workers gracefully */
    em_proc_untrack(&b->ch);
    return 0;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    chan_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    b->ch.fd = -1;
    b->ch.reaped = true; /* nothing to reap until the fork succeeds */
    luaL_setmetatable(L, CHAN_MT);
    pid_t pid = em_proc_fork(&b->ch);
    if (pid < 0)
        return emL_error(L);
    if (pid > 0)
        return 1;
    /* the worker: run main(chan) and never return into the parent's code */
    lua_pushcfunction(L, traceback);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 1, 0, -3) != LUA_OK) {
        fprintf(stderr, "DataLoader worker: %s\n", lua_tostring(L, -1));
        em_proc_exit(1);
    }
    em_proc_exit(0);
}

static int l_poll(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    double secs = luaL_optnumber(L, 2, -1);
    int n = (int)luaL_len(L, 1);
    if (n < 0 || n > 4096)
        return luaL_error(L, "poll: expected 0..4096 channels, got %d", n);
    em_proc_chan **chans = lua_newuserdatauv(L, (size_t)(n ? n : 1) * (sizeof *chans + sizeof(bool)), 0);
    bool *ready = (bool *)(chans + (n ? n : 1));
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        chans[i] = &((chan_box *)luaL_checkudata(L, -1, CHAN_MT))->ch;
        lua_pop(L, 1);
    }
    int ms = secs < 0 || secs != secs ? -1 : secs > 1e8 ? 100000000 : (int)(secs * 1000 + 0.5);
    int rc = em_proc_poll(chans, n, ms, ready);
    if (rc < 0)
        return emL_error(L);
    lua_createtable(L, rc, 0);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (ready[i]) {
            lua_pushinteger(L, i + 1);
            lua_seti(L, -2, ++k);
        }
    return 1;
}

static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
    return 1;
}

static int l_exit(lua_State *L) { em_proc_exit((int)luaL_optinteger(L, 1, 0)); }

static int chan_send(lua_State *L)
{
    chan_box *b = checkchan(L, 1);
    lua_Integer kind = luaL_checkinteger(L, 2);
    lua_Integer seq = luaL_checkinteger(L, 3);
    size_t len;
    const char *meta = luaL_optlstring(L, 4, "", &len);
    if (kind < 0 || kind > 0xffff)
        return luaL_argerror(L, 2, "kind must be in 0..65535");
    int n = 0;
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        lua_Integer ln = luaL_len(L, 5);
        if (ln < 0 || ln > (1 << 20))
            return luaL_error(L, "send: expected at most 2^20 tensors, got %I", ln);
        n = (int)ln;
    }
    em_tensor **ts = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *ts, 0);
    for (int i = 0; i < n; i++) {
        lua_geti(L, 5, i + 1);
        ts[i] = emL_totensor(L, -1);
        if (!ts[i])
            return luaL_error(L, "send: item %d of the tensor list is a %s, not a tensor", i + 1, luaL_typename(L, -1));
        lua_pop(L, 1); /* still referenced by the list */
    }
    emL_check(L, em_proc_send(&b->ch, (uint32_t)kind, (int64_t)seq, meta, len, ts, n));
    return 0;
}

static int chan_recv(lua_State *L)
{
    chan_box *b = checkchan(L, 1);
    em_proc_msg msg;
    int rc = em_proc_recv(&b->ch, &msg);
    if (rc < 0)
        return emL_error(L);
    if (rc == 0) {
        lua_pushnil(L);
        return 1;
    }
    /* the tensors first: each push takes over one reference */
    lua_createtable(L, msg.ntensors, 0);
    for (int i = 0; i < msg.ntensors; i++) {
        em_tensor *t = msg.tensors[i];
        msg.tensors[i] = NULL;
        emL_pushtensor(L, t);
        lua_seti(L, -2, i + 1);
    }
    lua_pushinteger(L, msg.kind);
    lua_pushinteger(L, msg.seq);
    lua_pushlstring(L, msg.meta ? msg.meta : "", msg.meta_len);
    em_proc_msg_free(&msg);
    lua_rotate(L, -4, -1); /* tensors, kind, seq, meta -> kind, seq, meta, tensors */
    return 4;
}

static int chan_close(lua_State *L)
{
    em_proc_close(&checkchan(L, 1)->ch);
    return 0;
}

static int chan_reap(lua_State *L)
{
    chan_box *b = checkchan(L, 1);
    double grace = luaL_optnumber(L, 2, 0);
    int ms = !(grace > 0) ? 0 : grace > 60 ? 60000 : (int)(grace * 1000 + 0.5);
    bool was = b->ch.reaped;
    em_proc_reap(&b->ch, ms);
    if (!b->ch.reaped)
        return 0;
    if (!was)
        em_proc_status_str(b->ch.status, b->status, sizeof b->status);
    lua_pushstring(L, b->status[0] ? b->status : "not started");
    return 1;
}

static int chan_kill(lua_State *L)
{
    chan_box *b = checkchan(L, 1);
    lua_Integer sig = luaL_optinteger(L, 2, SIGKILL);
    if (sig < 1 || sig > 64)
        return luaL_argerror(L, 2, "not a signal number");
    emL_check(L, em_proc_kill(&b->ch, (int)sig));
    return 0;
}

static int chan_pid(lua_State *L)
{
    lua_pushinteger(L, checkchan(L, 1)->ch.pid);
    return 1;
}

static int chan_tostring(lua_State *L)
{
    chan_box *b = checkchan(L, 1);
    lua_pushfstring(L, "torch.WorkerChannel(pid %d%s)", (int)b->ch.pid, b->ch.fd < 0 ? ", closed" : "");
    return 1;
}

void emL_open_workers(lua_State *L, int methods, int module, int meta)
{
    (void)methods;
    (void)meta;
    static const luaL_Reg chan_methods[] = {
        { "send", chan_send }, { "recv", chan_recv }, { "close", chan_close }, { "reap", chan_reap },
        { "kill", chan_kill }, { "pid", chan_pid },   { NULL, NULL },
    };
    luaL_newmetatable(L, CHAN_MT);
    luaL_newlib(L, chan_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, chan_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, chan_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    static const luaL_Reg funcs[] = {
        { "spawn", l_spawn },
        { "poll", l_poll },
        { "exit", l_exit },
        { "now", l_now },
        { NULL, NULL },
    };
    luaL_newlib(L, funcs);
    lua_setfield(L, module, "_workers");
}
