/* Bindings for random numbers and the range constructors.
 * torch.manual_seed/seed/initial_seed/get_rng_state/set_rng_state act on the
 * default CPU generator; torch.Generator() makes independent ones, passed to any
 * random op as {generator=g}. Sizes come as numbers or one table; options as a
 * trailing table {dtype=, device=, generator=}. randperm, randint's classes and
 * multinomial's samples follow Ember's 1-based rule where they are indices:
 * randperm(n) is a permutation of 1..n, multinomial returns 1-based classes;
 * randint(low, high) keeps PyTorch's [low, high) values (they are values, not indices). */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

#include <string.h>

#include "../core/factory.h"
#include "../core/random.h"

#define EM_GENERATOR_MT "torch.Generator"

/* ---- the Generator userdata ---- */

typedef struct {
    em_generator *g;
    bool owned; /* false for the default generators, which live in the core */
} gen_box;

static gen_box *checkgen(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, EM_GENERATOR_MT);
}

static void pushgen(lua_State *L, em_generator *g, bool owned)
{
    gen_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->g = g;
    b->owned = owned;
    luaL_setmetatable(L, EM_GENERATOR_MT);
}

static uint64_t checkseed(lua_State *L, int idx)
{
    int ok;
    lua_Integer s = lua_tointegerx(L, idx, &ok);
    if (!ok)
        luaL_argerror(L, idx, lua_pushfstring(L, "seed must be an integer, got %s", luaL_typename(L, idx)));
    return (uint64_t)s;
}

static int gen_new(lua_State *L)
{
    em_device dev = lua_isnoneornil(L, 1) ? EM_CPU : emL_checkdevice(L, 1);
    gen_box *b = lua_newuserdatauv(L, sizeof *b, 0); /* before the resource: an error leaks nothing */
    b->g = NULL;
    b->owned = true;
    luaL_setmetatable(L, EM_GENERATOR_MT);
    b->g = em_generator_new(dev, EM_DEFAULT_SEED);
    if (!b->g)
        return emL_error(L);
    return 1;
}

static int gen_gc(lua_State *L)
{
    gen_box *b = checkgen(L, 1);
    if (b->owned && b->g)
        em_generator_free(b->g);
    b->g = NULL;
    return 0;
}

static int gen_manual_seed(lua_State *L)
{
    em_generator_manual_seed(checkgen(L, 1)->g, checkseed(L, 2));
    lua_settop(L, 1);
    return 1;
}

static int gen_seed(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)em_generator_seed(checkgen(L, 1)->g));
    return 1;
}

static int gen_initial_seed(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)checkgen(L, 1)->g->seed);
    return 1;
}

static void push_state(lua_State *L, const em_generator *g)
{
    int64_t n = EM_GENERATOR_STATE_BYTES;
    em_tensor *t = em_tensor_empty(1, &n, EM_UINT8, EM_CPU);
    if (t)
        em_generator_get_state(g, em_tensor_data(t));
    emL_pushtensor(L, t);
}

static void set_state(lua_State *L, em_generator *g, int idx, const char *op)
{
    em_tensor *t = emL_totensor(L, idx);
    if (!t)
        luaL_error(L, "%s: expected a uint8 tensor (from get_rng_state), got %s", op, luaL_typename(L, idx));
    if (t->dtype != EM_UINT8 || em_tensor_device(t).type != EM_DEV_CPU)
        luaL_error(L, "%s: expected a uint8 cpu tensor (from get_rng_state), got %s", op, em_dtype_name(t->dtype));
    if (em_tensor_numel(t) != EM_GENERATOR_STATE_BYTES || t->ndim != 1)
        luaL_error(L, "%s: expected a state of %d bytes (seed and offset), got %d bytes", op,
                   EM_GENERATOR_STATE_BYTES, (int)em_tensor_numel(t));
    uint8_t buf[EM_GENERATOR_STATE_BYTES];
    const uint8_t *p = em_tensor_data(t);
    for (int i = 0; i < EM_GENERATOR_STATE_BYTES; i++)
        buf[i] = p[i * t->strides[0]];
    emL_check(L, em_generator_set_state(g, buf, EM_GENERATOR_STATE_BYTES));
}

static int gen_get_state(lua_State *L)
{
    push_state(L, checkgen(L, 1)->g);
    return 1;
}

static int gen_set_state(lua_State *L)
{
    set_state(L, checkgen(L, 1)->g, 2, "set_state");
    lua_settop(L, 1);
    return 1;
}

static int gen_tostring(lua_State *L)
{
    em_generator *g = checkgen(L, 1)->g;
    lua_pushfstring(L, "torch.Generator(device='%s', initial_seed=%I)", g->device.type == EM_DEV_CPU ? "cpu" : "cuda",
                    (lua_Integer)g->seed);
    return 1;
}

static const luaL_Reg gen_methods[] = {
    { "manual_seed", gen_manual_seed },
    { "seed", gen_seed },
    { "initial_seed", gen_initial_seed },
    { "get_state", gen_get_state },
    { "set_state", gen_set_state },
    { NULL, NULL },
};

/* ---- the default generator ---- */

static em_generator *default_cpu(void) { return em_generator_default(EM_CPU); }

/* Pushes the userdata standing for the default CPU generator (one per state, kept in
 * the registry so torch.manual_seed returns the same object each time). */
static void push_default(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "torch.default_generator") == LUA_TUSERDATA)
        return;
    lua_pop(L, 1);
    pushgen(L, default_cpu(), false);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "torch.default_generator");
}

/* Seeds the CUDA defaults alongside the CPU one, as PyTorch's manual_seed does. */
static void seed_all(uint64_t s)
{
    em_generator_manual_seed(default_cpu(), s);
    for (int i = 0; i < 16; i++) {
        em_device d = { EM_DEV_CUDA, i };
        em_generator *g = em_generator_default(d);
        if (g)
            em_generator_manual_seed(g, s);
    }
}

static int l_manual_seed(lua_State *L)
{
    seed_all(checkseed(L, 1));
    push_default(L);
    return 1;
}

static int l_seed(lua_State *L)
{
    uint64_t s = em_generator_seed(default_cpu());
    seed_all(s);
    lua_pushinteger(L, (lua_Integer)s);
    return 1;
}

static int l_initial_seed(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)default_cpu()->seed);
    return 1;
}

static int l_get_rng_state(lua_State *L)
{
    push_state(L, default_cpu());
    return 1;
}

static int l_set_rng_state(lua_State *L)
{
    set_state(L, default_cpu(), 1, "set_rng_state");
    return 0;
}

/* ---- argument helpers ---- */

/* opts.generator, or NULL for the default of the op's device. */
static em_generator *opt_generator(lua_State *L, int opts)
{
    em_generator *g = NULL;
    if (emL_getopt(L, opts, "generator") != LUA_TNIL) {
        gen_box *b = luaL_testudata(L, -1, EM_GENERATOR_MT);
        if (!b)
            luaL_error(L, "option 'generator' must be a torch.Generator, got %s", luaL_typename(L, -1));
        g = b->g;
    }
    lua_pop(L, 1);
    return g;
}

/* A table of sizes: a torch.Size, a non-empty array or {} (0-d); a table with only
 * named keys is an options table. */
static bool is_sizes_table(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE || emL_totensor(L, idx))
        return false;
    if (!emL_isopts(L, idx) || luaL_len(L, idx) > 0)
        return true;
    lua_pushnil(L);
    bool empty = lua_next(L, idx) == 0;
    if (!empty)
        lua_pop(L, 2);
    return empty;
}

/* Sizes from arg on (numbers or one table), then an optional options table. */
static int sizes_and_opts(lua_State *L, int arg, int64_t *sizes, int *opts, const char *op)
{
    int n, next;
    *opts = 0;
    if (is_sizes_table(L, arg)) {
        n = emL_checkintlist(L, arg, sizes, EM_MAX_DIMS, op);
        next = arg + 1;
    } else {
        n = emL_checksizes(L, arg, sizes);
        next = arg + n;
    }
    if (!lua_isnoneornil(L, next)) {
        if (!emL_isopts(L, next))
            luaL_error(L, "%s: bad argument #%d (expected sizes or an options table, got %s)", op, next,
                       luaL_typename(L, next));
        *opts = next;
    }
    return n;
}

static int sized(lua_State *L, bool normal)
{
    int64_t sizes[EM_MAX_DIMS];
    int opts;
    const char *op = normal ? "randn" : "rand";
    int n = sizes_and_opts(L, 1, sizes, &opts, op);
    em_dtype dt = emL_opt_dtype(L, opts, EM_DEFAULT_FLOAT);
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    em_generator *g = opt_generator(L, opts);
    emL_pushtensor(L, normal ? em_randn(n, sizes, dt, dev, g) : em_rand(n, sizes, dt, dev, g));
    return 1;
}

static int l_rand(lua_State *L) { return sized(L, false); }
static int l_randn(lua_State *L) { return sized(L, true); }

static int64_t checkint_arg(lua_State *L, int idx, const char *op, const char *what)
{
    int ok;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok)
        luaL_error(L, "%s: %s must be an integer, got %s", op, what,
                   lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
    return v;
}

/* randint(low, high, sizes [, opts]) or randint(high, sizes [, opts]); high exclusive. */
static int l_randint(lua_State *L)
{
    int64_t lo = 0, hi, sizes[EM_MAX_DIMS];
    int arg;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lo = checkint_arg(L, 1, "randint", "low");
        hi = checkint_arg(L, 2, "randint", "high");
        arg = 3;
    } else {
        hi = checkint_arg(L, 1, "randint", "high");
        arg = 2;
    }
    if (lua_type(L, arg) != LUA_TTABLE || emL_totensor(L, arg))
        return luaL_error(L, "randint: expected sizes as a table, e.g. torch.randint(0, 10, {2, 3}), got %s",
                          luaL_typename(L, arg));
    int n = emL_checkintlist(L, arg, sizes, EM_MAX_DIMS, "randint");
    int opts = 0;
    if (!lua_isnoneornil(L, arg + 1)) {
        if (!emL_isopts(L, arg + 1))
            return luaL_error(L, "randint: expected an options table after the sizes, got %s",
                              luaL_typename(L, arg + 1));
        opts = arg + 1;
    }
    em_dtype dt = emL_opt_dtype(L, opts, EM_INT64);
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    emL_pushtensor(L, em_randint(lo, hi, n, sizes, dt, dev, opt_generator(L, opts)));
    return 1;
}

static int l_randperm(lua_State *L)
{
    int64_t n = checkint_arg(L, 1, "randperm", "n");
    int opts = emL_isopts(L, 2) ? 2 : 0;
    em_dtype dt = emL_opt_dtype(L, opts, EM_INT64);
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    emL_pushtensor(L, em_randperm(n, dt, dev, opt_generator(L, opts)));
    return 1;
}

/* normal(mean, std, sizes... [, opts]) with numbers; normal(mean_t, std_t | std) with tensors. */
static int l_normal(lua_State *L)
{
    em_tensor *mt = emL_totensor(L, 1), *st = emL_totensor(L, 2);
    if (mt || st) {
        double ms = mt ? 0 : luaL_checknumber(L, 1);
        double ss = st ? 1 : luaL_optnumber(L, 2, 1.0);
        int opts = emL_isopts(L, 3) ? 3 : 0;
        emL_pushtensor(L, em_normal_tensor(mt, ms, st, ss, opt_generator(L, opts)));
        return 1;
    }
    double mean = luaL_checknumber(L, 1), std = luaL_checknumber(L, 2);
    int64_t sizes[EM_MAX_DIMS];
    int opts;
    if (lua_type(L, 3) != LUA_TNUMBER && !is_sizes_table(L, 3))
        return luaL_error(L, "normal: with numbers for mean and std, give the sizes: torch.normal(%f, %f, {2, 3})",
                          mean, std);
    int n = sizes_and_opts(L, 3, sizes, &opts, "normal");
    em_dtype dt = emL_opt_dtype(L, opts, EM_DEFAULT_FLOAT);
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    em_tensor *t = em_tensor_empty(n, sizes, dt, dev);
    if (!t)
        return emL_error(L);
    emL_pushtensor(L, t);
    emL_check(L, em_normal_(t, mean, std, opt_generator(L, opts)));
    return 1;
}

/* bernoulli(p) draws with the probabilities in p; bernoulli(x, p) a tensor like x. */
static int l_bernoulli(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        int opts = emL_isopts(L, 3) ? 3 : 0;
        double p = lua_tonumber(L, 2);
        em_tensor *r = em_tensor_empty(t->ndim, t->sizes, t->dtype, em_tensor_device(t));
        if (!r)
            return emL_error(L);
        emL_pushtensor(L, r);
        emL_check(L, em_bernoulli_(r, p, opt_generator(L, opts)));
        return 1;
    }
    int opts = emL_isopts(L, 2) ? 2 : 0;
    emL_pushtensor(L, em_bernoulli(t, opt_generator(L, opts)));
    return 1;
}

/* multinomial(probs, n [, replacement | {replacement=, generator=}]) -> 1-based classes */
static int l_multinomial(lua_State *L)
{
    em_tensor *p = emL_checktensor(L, 1);
    int64_t n = checkint_arg(L, 2, "multinomial", "num_samples");
    bool repl = false;
    int opts = 0;
    if (lua_type(L, 3) == LUA_TBOOLEAN) {
        repl = lua_toboolean(L, 3);
        opts = emL_isopts(L, 4) ? 4 : 0;
    } else if (emL_isopts(L, 3)) {
        opts = 3;
        repl = emL_optbool(L, opts, "replacement", false);
    }
    emL_pushtensor(L, em_multinomial(p, n, repl, opt_generator(L, opts)));
    return 1;
}

/* ---- in-place fills ---- */

/* Index of the options table among the trailing arguments from `from` on, or 0. */
static int trailing_opts(lua_State *L, int from)
{
    for (int i = lua_gettop(L); i >= from; i--)
        if (emL_isopts(L, i))
            return i;
    return 0;
}

static double optnum(lua_State *L, int idx, int opts, double def)
{
    if (idx == opts || lua_isnoneornil(L, idx))
        return def;
    return luaL_checknumber(L, idx);
}

/* Random fills overwrite their tensor with values that carry no gradient: refused
 * on a leaf that requires grad (outside no_grad), recorded as constants otherwise. */
static bool ag_before(lua_State *L, em_tensor *t, const char *op)
{
    if (!em_ag_inplace_records(t, 0, NULL))
        return false;
    emL_check(L, em_ag_check_inplace(t, op));
    return true;
}

static void ag_after(lua_State *L, em_tensor *t, bool recorded)
{
    if (recorded)
        emL_check(L, em_ag_overwritten(t));
}

static int l_uniform_(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    bool rec = ag_before(L, t, "uniform_");
    int opts = trailing_opts(L, 2);
    double a = optnum(L, 2, opts, 0.0), b = opts == 3 ? 1.0 : optnum(L, 3, opts, 1.0);
    emL_check(L, em_uniform_(t, a, b, opt_generator(L, opts)));
    ag_after(L, t, rec);
    lua_settop(L, 1);
    return 1;
}

static int l_normal_(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    bool rec = ag_before(L, t, "normal_");
    int opts = trailing_opts(L, 2);
    double m = optnum(L, 2, opts, 0.0), s = opts == 3 ? 1.0 : optnum(L, 3, opts, 1.0);
    emL_check(L, em_normal_(t, m, s, opt_generator(L, opts)));
    ag_after(L, t, rec);
    lua_settop(L, 1);
    return 1;
}

static int l_exponential_(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    bool rec = ag_before(L, t, "exponential_");
    int opts = trailing_opts(L, 2);
    emL_check(L, em_exponential_(t, optnum(L, 2, opts, 1.0), opt_generator(L, opts)));
    ag_after(L, t, rec);
    lua_settop(L, 1);
    return 1;
}

/* x:bernoulli_(p) with p a number (default 0.5) or a tensor broadcast to x. */
static int l_bernoulli_(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    bool rec = ag_before(L, t, "bernoulli_");
    int opts = trailing_opts(L, 2);
    em_generator *g = opt_generator(L, opts);
    em_tensor *p = emL_totensor(L, 2);
    if (p) {
        em_tensor *e = em_expand(p, t->ndim, t->sizes);
        if (!e)
            return emL_error(L);
        emL_pushtensor(L, e);
        em_tensor *r = em_bernoulli(e, g);
        emL_pushtensor(L, r);
        emL_check(L, em_copy_(t, r));
        em_tensor_bump_version(t);
    } else {
        emL_check(L, em_bernoulli_(t, optnum(L, 2, opts, 0.5), g));
    }
    ag_after(L, t, rec);
    lua_settop(L, 1);
    return 1;
}

/* x:random_([from,] to) draws integers in [from, to) (PyTorch's rule); x:random_()
 * covers [0, 2^mantissa] for floats and [0, max] for integers. */
static int l_random_(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    bool rec = ag_before(L, t, "random_");
    int opts = trailing_opts(L, 2);
    int nnum = 0;
    while (nnum < 2 && lua_type(L, 2 + nnum) == LUA_TNUMBER)
        nnum++;
    int64_t lo = 0, hi;
    if (nnum == 2) {
        lo = checkint_arg(L, 2, "random_", "from");
        hi = checkint_arg(L, 3, "random_", "to");
    } else if (nnum == 1) {
        hi = checkint_arg(L, 2, "random_", "to");
    } else {
        switch (t->dtype) {
        case EM_BOOL: hi = 2; break;
        case EM_UINT8: hi = 256; break;
        case EM_INT8: hi = 128; break;
        case EM_INT16: hi = 32768; break;
        case EM_INT32: hi = (int64_t)INT32_MAX + 1; break;
        case EM_INT64: hi = INT64_MAX; break;
        case EM_FLOAT16: hi = 2049; break;
        case EM_BFLOAT16: hi = 257; break;
        case EM_FLOAT32: hi = (1 << 24) + 1; break;
        default: hi = (1LL << 53) + 1; break;
        }
    }
    emL_check(L, em_random_int_(t, lo, hi, opt_generator(L, opts)));
    ag_after(L, t, rec);
    lua_settop(L, 1);
    return 1;
}

/* ---- range constructors ---- */

static int num_args(lua_State *L, int max)
{
    int n = 0;
    while (n < max && lua_type(L, n + 1) == LUA_TNUMBER)
        n++;
    return n;
}

static int range_like(lua_State *L, bool inclusive)
{
    const char *op = inclusive ? "range" : "arange";
    int n = num_args(L, 3);
    if (n == 0 || (inclusive && n < 2))
        return luaL_error(L, inclusive ? "range: expected (start, end [, step]) numbers"
                                       : "arange: expected (end) or (start, end [, step]) numbers");
    em_scalar start = em_scalar_int(0), end, step = em_scalar_int(1);
    if (n == 1) {
        end = emL_checkscalar(L, 1);
    } else {
        start = emL_checkscalar(L, 1);
        end = emL_checkscalar(L, 2);
        if (n == 3)
            step = emL_checkscalar(L, 3);
    }
    int opts = 0;
    if (!lua_isnoneornil(L, n + 1)) {
        if (!emL_isopts(L, n + 1))
            return luaL_error(L, "%s: expected an options table after the numbers, got %s", op,
                              luaL_typename(L, n + 1));
        opts = n + 1;
    }
    bool all_int = start.is_int && end.is_int && step.is_int;
    em_dtype def = inclusive ? EM_DEFAULT_FLOAT : all_int ? EM_INT64 : EM_DEFAULT_FLOAT;
    em_dtype dt = emL_opt_dtype(L, opts, def);
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    emL_pushtensor(L, inclusive ? em_range(start, end, step, dt, dev) : em_arange(start, end, step, dt, dev));
    return 1;
}

static int l_arange(lua_State *L) { return range_like(L, false); }
static int l_range(lua_State *L) { return range_like(L, true); }

static int spaced(lua_State *L, bool log)
{
    const char *op = log ? "logspace" : "linspace";
    double start = luaL_checknumber(L, 1), end = luaL_checknumber(L, 2);
    if (lua_type(L, 3) != LUA_TNUMBER)
        return luaL_error(L, "%s: expected the number of steps as argument 3, got %s", op, luaL_typename(L, 3));
    int64_t steps = checkint_arg(L, 3, op, "steps");
    int opts = emL_isopts(L, 4) ? 4 : 0;
    em_dtype dt = emL_opt_dtype(L, opts, EM_DEFAULT_FLOAT);
    em_device dev = emL_opt_device(L, opts, EM_CPU);
    if (log)
        emL_pushtensor(L, em_logspace(start, end, steps, emL_optnumber(L, opts, "base", 10.0), dt, dev));
    else
        emL_pushtensor(L, em_linspace(start, end, steps, dt, dev));
    return 1;
}

static int l_linspace(lua_State *L) { return spaced(L, false); }
static int l_logspace(lua_State *L) { return spaced(L, true); }

static int l_eye(lua_State *L)
{
    int64_t n = checkint_arg(L, 1, "eye", "n");
    int64_t m = n;
    int opts = 2;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        m = checkint_arg(L, 2, "eye", "m");
        opts = 3;
    }
    opts = emL_isopts(L, opts) ? opts : 0;
    emL_pushtensor(L, em_eye(n, m, emL_opt_dtype(L, opts, EM_DEFAULT_FLOAT), emL_opt_device(L, opts, EM_CPU)));
    return 1;
}

/* ---- registration ---- */

static const luaL_Reg random_methods[] = {
    { "uniform_", l_uniform_ },
    { "normal_", l_normal_ },
    { "bernoulli_", l_bernoulli_ },
    { "random_", l_random_ },
    { "exponential_", l_exponential_ },
    { "bernoulli", l_bernoulli },
    { "multinomial", l_multinomial },
    { NULL, NULL },
};

static const luaL_Reg module_only[] = {
    { "manual_seed", l_manual_seed },
    { "seed", l_seed },
    { "initial_seed", l_initial_seed },
    { "get_rng_state", l_get_rng_state },
    { "set_rng_state", l_set_rng_state },
    { "Generator", gen_new },
    { "rand", l_rand },
    { "randn", l_randn },
    { "randint", l_randint },
    { "randperm", l_randperm },
    { "normal", l_normal },
    { "arange", l_arange },
    { "range", l_range },
    { "linspace", l_linspace },
    { "logspace", l_logspace },
    { "eye", l_eye },
    { NULL, NULL },
};

void emL_open_random(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    if (luaL_newmetatable(L, EM_GENERATOR_MT)) {
        luaL_newlib(L, gen_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, gen_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, gen_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, EM_GENERATOR_MT);
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    emL_register(L, methods, module, random_methods);
    lua_pushvalue(L, module);
    luaL_setfuncs(L, module_only, 0);
    push_default(L);
    lua_setfield(L, -2, "default_generator");
    lua_pop(L, 1);
}
