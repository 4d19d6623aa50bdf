/* Bindings for reductions, scans, sorting and softmax. Dims are 1-based (negative
 * from the end) and may be a table of dims where PyTorch takes a list; options come
 * as a trailing table ({keepdim=, dtype=, out=}). Positions returned (max/min with a
 * dim, argmax, sort, topk, ...) are 1-based int64, and ops that give values and
 * positions return both as two Lua values: `local v, i = x:max(2)`. */
#include <math.h>
#include <string.h>

#include "../core/reduce.h"
#include "lua_ember.h"

#include "../core/autograd/functions.h"

/* Dims, keepdim and options of a reduction: x, [dim | {dims}], [keepdim], [opts]. */
typedef struct rargs {
    bool mask[EM_MAX_DIMS];
    bool has_dims;
    bool keepdim;
    int opts; /* stack index of the options table, 0 if none */
    int next; /* first argument after the dims and keepdim */
} rargs;

static bool is_dim_list(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TTABLE && !emL_totensor(L, idx) && lua_rawlen(L, idx) > 0;
}

static void set_dim(lua_State *L, rargs *r, lua_Integer d, int ndim, const char *op)
{
    int k = emL_dim_value(L, d, ndim, op);
    if (ndim == 0)
        return;
    if (r->mask[k])
        luaL_error(L, "%s: dim %d appears more than once in the list of dims", op, (int)d);
    r->mask[k] = true;
}

/* Reads the dims at idx (a number or a list); returns whether there were any. */
static bool read_dims(lua_State *L, int idx, rargs *r, int ndim, const char *op)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        set_dim(L, r, luaL_checkinteger(L, idx), ndim, op);
        return true;
    }
    if (is_dim_list(L, idx)) {
        int64_t dims[EM_MAX_DIMS];
        int n = emL_checkintlist(L, idx, dims, EM_MAX_DIMS, op);
        for (int i = 0; i < n; i++)
            set_dim(L, r, dims[i], ndim, op);
        return true;
    }
    return false;
}

static void parse_reduce(lua_State *L, int arg, const em_tensor *x, rargs *r, const char *op)
{
    int top = lua_gettop(L), a = arg;
    memset(r, 0, sizeof *r);
    if (a <= top && read_dims(L, a, r, x->ndim, op))
        r->has_dims = true, a++;
    else if (a <= top && lua_isnil(L, a))
        a++;
    if (a <= top && lua_isboolean(L, a))
        r->keepdim = lua_toboolean(L, a), a++;
    r->next = a;
    for (int i = a; i <= top; i++)
        if (emL_isopts(L, i)) {
            r->opts = i;
            break;
        }
    if (r->opts) {
        r->keepdim = emL_optbool(L, r->opts, "keepdim", r->keepdim);
        emL_getopt(L, r->opts, "dim");
        if (!lua_isnil(L, -1)) {
            memset(r->mask, 0, sizeof r->mask);
            if (!read_dims(L, lua_gettop(L), r, x->ndim, op))
                luaL_error(L, "%s: option 'dim' must be a number or a list of numbers", op);
            r->has_dims = true;
        }
        lua_pop(L, 1);
    }
}

static const bool *dims_of(const rargs *r, const em_tensor *x)
{
    return r->has_dims && x->ndim > 0 ? r->mask : NULL;
}

/* ---- sum, mean, prod, amax, amin, all, any, count_nonzero, norm, var, std, logsumexp ---- */
typedef em_tensor *(*dtype_reduce_fn)(em_tensor *, const bool *, bool, int, em_tensor *);
typedef em_tensor *(*plain_reduce_fn)(em_tensor *, const bool *, bool, em_tensor *);

static int dtype_reduce(lua_State *L, const char *op, dtype_reduce_fn fn)
{
    em_tensor *x = emL_checktensor(L, 1);
    rargs r;
    parse_reduce(L, 2, x, &r, op);
    int dt = (int)emL_opt_dtype(L, r.opts, (em_dtype)-1);
    emL_pushtensor(L, fn(x, dims_of(&r, x), r.keepdim, dt, emL_opt_out(L, r.opts)));
    return 1;
}

static int plain_reduce(lua_State *L, const char *op, plain_reduce_fn fn)
{
    em_tensor *x = emL_checktensor(L, 1);
    rargs r;
    parse_reduce(L, 2, x, &r, op);
    emL_pushtensor(L, fn(x, dims_of(&r, x), r.keepdim, emL_opt_out(L, r.opts)));
    return 1;
}

static int l_sum(lua_State *L) { return dtype_reduce(L, "sum", em_ag_sum); }
static int l_mean(lua_State *L) { return dtype_reduce(L, "mean", em_ag_mean); }
static int l_prod(lua_State *L) { return dtype_reduce(L, "prod", em_ag_prod); }
static int l_amax(lua_State *L) { return plain_reduce(L, "amax", em_ag_amax); }
static int l_amin(lua_State *L) { return plain_reduce(L, "amin", em_ag_amin); }
static int l_all(lua_State *L) { return plain_reduce(L, "all", em_all); }
static int l_any(lua_State *L) { return plain_reduce(L, "any", em_any); }

static int l_count_nonzero(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    rargs r;
    parse_reduce(L, 2, x, &r, "count_nonzero");
    emL_pushtensor(L, em_count_nonzero(x, dims_of(&r, x)));
    return 1;
}

/* norm(x, [p=2 | 'fro'], [dim | {dims}], [keepdim], [opts]) */
static int l_norm(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    double p = 2;
    int arg = 2;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        p = lua_tonumber(L, 2), arg = 3;
    } else if (lua_type(L, 2) == LUA_TSTRING) {
        const char *s = lua_tostring(L, 2);
        if (strcmp(s, "fro") != 0)
            luaL_error(L, "norm: p '%s' is not supported (expected a number or 'fro')", s);
        arg = 3;
    } else if (lua_isnil(L, 2) && lua_gettop(L) >= 2) {
        arg = 3;
    }
    rargs r;
    parse_reduce(L, arg, x, &r, "norm");
    int dt = (int)emL_opt_dtype(L, r.opts, (em_dtype)-1);
    emL_pushtensor(L, em_ag_norm(x, p, dims_of(&r, x), r.keepdim, dt, emL_opt_out(L, r.opts)));
    return 1;
}

/* var(x, [dim | {dims}], [unbiased], [keepdim], [opts {unbiased=, correction=, keepdim=}]) */
static int var_std(lua_State *L, const char *op, bool is_std)
{
    em_tensor *x = emL_checktensor(L, 1);
    bool unbiased = true;
    int arg = 2;
    if (lua_isboolean(L, 2)) /* var(x, unbiased) */
        unbiased = lua_toboolean(L, 2), arg = 3;
    rargs r;
    memset(&r, 0, sizeof r);
    int top = lua_gettop(L), a = arg;
    if (a <= top && read_dims(L, a, &r, x->ndim, op))
        r.has_dims = true, a++;
    else if (a <= top && lua_isnil(L, a))
        a++;
    if (r.has_dims && a <= top && lua_isboolean(L, a))
        unbiased = lua_toboolean(L, a), a++;
    if (a <= top && lua_isboolean(L, a))
        r.keepdim = lua_toboolean(L, a), a++;
    if (a <= top && emL_isopts(L, a))
        r.opts = a;
    r.keepdim = emL_optbool(L, r.opts, "keepdim", r.keepdim);
    unbiased = emL_optbool(L, r.opts, "unbiased", unbiased);
    double correction = emL_optnumber(L, r.opts, "correction", unbiased ? 1.0 : 0.0);
    em_tensor *out = emL_opt_out(L, r.opts);
    const bool *dims = dims_of(&r, x);
    emL_pushtensor(L, is_std ? em_ag_std(x, dims, correction, r.keepdim, out)
                           : em_ag_var(x, dims, correction, r.keepdim, out));
    return 1;
}

static int l_var(lua_State *L) { return var_std(L, "var", false); }
static int l_std(lua_State *L) { return var_std(L, "std", true); }

static int l_logsumexp(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    rargs r;
    parse_reduce(L, 2, x, &r, "logsumexp");
    if (!r.has_dims)
        luaL_error(L, "logsumexp: a dim (or a list of dims) is required, e.g. x:logsumexp(1)");
    emL_pushtensor(L, em_ag_logsumexp(x, dims_of(&r, x), r.keepdim, emL_opt_out(L, r.opts)));
    return 1;
}

/* ---- max/min and the other reductions that give positions ---- */
typedef int (*pair_fn)(em_tensor *, int, bool, em_tensor **, em_tensor **);

/* out={values, indices} in the first options table among the arguments from arg
 * on: returns the table's stack index (0 when there is no out=). */
static int opt_out_pair(lua_State *L, int arg, const char *op, em_tensor **ov, em_tensor **oi)
{
    int top = lua_gettop(L), opts = 0;
    for (int a = arg; a <= top && !opts; a++)
        if (emL_isopts(L, a))
            opts = a;
    if (emL_getopt(L, opts, "out") == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (!emL_isopts(L, -1) || lua_rawlen(L, -1) != 2)
        luaL_error(L, "%s: option 'out' must be a table of two tensors {values, indices}, got %s", op,
                   emL_totensor(L, -1) ? "one tensor" : luaL_typename(L, -1));
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    *ov = emL_totensor(L, -2);
    *oi = emL_totensor(L, -1);
    if (!*ov || !*oi)
        luaL_error(L, "%s: option 'out' must be a table of two tensors {values, indices}", op);
    emL_check_out_grad(L, *ov, op);
    lua_pop(L, 3); /* still referenced by the options table */
    return opts;
}

/* The out= pair of op on x among the arguments from arg on, refused when x
 * requires grad: the options table's stack index, 0 when none. */
static int select_out(lua_State *L, int arg, const char *op, em_tensor *x, em_tensor **ov, em_tensor **oi)
{
    int opts = opt_out_pair(L, arg, op, ov, oi);
    if (opts)
        emL_check(L, em_ag_select_refuse_out(op, x));
    return opts;
}

/* Pushes *v and *i after the call that filled them (rc is evaluated first). With
 * an out= pair (opts from select_out) the results are written into it and the
 * two tensors of the out table are returned themselves, as PyTorch does. */
static int push_pair_out(lua_State *L, const char *op, int rc, em_tensor **v, em_tensor **i, int opts, em_tensor *ov,
                         em_tensor *oi)
{
    if (opts) {
        emL_check(L, em_select_out(op, rc, v, i, ov, oi));
        em_tensor_release(*v);
        em_tensor_release(*i);
        emL_getopt(L, opts, "out");
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        return 2;
    }
    emL_check(L, rc);
    emL_pushtensor(L, *v);
    emL_pushtensor(L, *i);
    return 2;
}

/* The single dim of x at arg (default def, 0-based; -1 = none given). */
static int one_dim(lua_State *L, int arg, const em_tensor *x, int def)
{
    if (lua_type(L, arg) == LUA_TNUMBER)
        return emL_checkdim(L, arg, x->ndim);
    return def;
}

static bool opt_keepdim(lua_State *L, int arg)
{
    int top = lua_gettop(L);
    bool keep = false;
    for (int a = arg; a <= top; a++) {
        if (lua_isboolean(L, a))
            keep = lua_toboolean(L, a);
        else if (emL_isopts(L, a))
            keep = emL_optbool(L, a, "keepdim", keep);
    }
    return keep;
}

static int max_min(lua_State *L, bool is_max)
{
    em_tensor *x = emL_checktensor(L, 1);
    em_tensor *y = emL_totensor(L, 2);
    if (y) {
        emL_pushtensor(L, is_max ? em_ag_max_binary(x, y) : em_ag_min_binary(x, y));
        return 1;
    }
    if (lua_type(L, 2) != LUA_TNUMBER) {
        emL_pushtensor(L, is_max ? em_ag_max_all(x) : em_ag_min_all(x));
        return 1;
    }
    const char *op = is_max ? "max" : "min";
    int dim = emL_checkdim(L, 2, x->ndim);
    em_tensor *v = NULL, *i = NULL, *ov = NULL, *oi = NULL;
    bool keep = opt_keepdim(L, 3);
    int out_opts = select_out(L, 3, op, x, &ov, &oi);
    return push_pair_out(L, op, (is_max ? em_ag_max_dim : em_ag_min_dim)(x, dim, keep, &v, &i), &v, &i, out_opts, ov,
                         oi);
}

static int l_max(lua_State *L) { return max_min(L, true); }
static int l_min(lua_State *L) { return max_min(L, false); }

static int l_argmax(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    emL_pushtensor(L, em_argmax(x, one_dim(L, 2, x, -1), opt_keepdim(L, 2)));
    return 1;
}

static int l_argmin(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    emL_pushtensor(L, em_argmin(x, one_dim(L, 2, x, -1), opt_keepdim(L, 2)));
    return 1;
}

static int l_median(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER) {
        emL_pushtensor(L, em_ag_median_all(x));
        return 1;
    }
    em_tensor *v = NULL, *i = NULL, *ov = NULL, *oi = NULL;
    int dim = emL_checkdim(L, 2, x->ndim);
    bool keep = opt_keepdim(L, 3);
    int out_opts = select_out(L, 3, "median", x, &ov, &oi);
    return push_pair_out(L, "median", em_ag_median_dim(x, dim, keep, &v, &i), &v, &i, out_opts, ov, oi);
}

static int l_mode(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    em_tensor *v = NULL, *i = NULL, *ov = NULL, *oi = NULL;
    int dim = one_dim(L, 2, x, x->ndim > 0 ? x->ndim - 1 : 0);
    bool keep = opt_keepdim(L, 2);
    int out_opts = select_out(L, 2, "mode", x, &ov, &oi);
    return push_pair_out(L, "mode", em_ag_mode(x, dim, keep, &v, &i), &v, &i, out_opts, ov, oi);
}

static int l_kthvalue(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    em_tensor *v = NULL, *i = NULL, *ov = NULL, *oi = NULL;
    int dim = one_dim(L, 3, x, x->ndim > 0 ? x->ndim - 1 : 0);
    bool keep = opt_keepdim(L, 3);
    int out_opts = select_out(L, 3, "kthvalue", x, &ov, &oi);
    return push_pair_out(L, "kthvalue", em_ag_kthvalue(x, k, dim, keep, &v, &i), &v, &i, out_opts, ov, oi);
}

/* ---- scans and softmax: x, dim, [opts {dtype=, out=}] ---- */
static int scan(lua_State *L, const char *op, int kind)
{
    em_tensor *x = emL_checktensor(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        luaL_error(L, "%s: a dim is required, e.g. x:%s(1)", op, op);
    int dim = emL_checkdim(L, 2, x->ndim);
    int opts = emL_isopts(L, 3) ? 3 : 0;
    int dt = (int)emL_opt_dtype(L, opts, (em_dtype)-1);
    em_tensor *out = kind < 2 ? emL_opt_out(L, opts) : NULL;
    switch (kind) {
    case 0: emL_pushtensor(L, em_ag_cumsum(x, dim, dt, out)); break;
    case 1: emL_pushtensor(L, em_ag_cumprod(x, dim, dt, out)); break;
    case 2: emL_pushtensor(L, em_ag_softmax(x, dim, dt)); break;
    default: emL_pushtensor(L, em_ag_log_softmax(x, dim, dt)); break;
    }
    return 1;
}

static int l_cumsum(lua_State *L) { return scan(L, "cumsum", 0); }
static int l_cumprod(lua_State *L) { return scan(L, "cumprod", 1); }
static int l_softmax(lua_State *L) { return scan(L, "softmax", 2); }
static int l_log_softmax(lua_State *L) { return scan(L, "log_softmax", 3); }

/* ---- sorting ---- */
/* sort(x, [dim=-1], [descending], [opts {descending=, stable=, dim=, out={values, indices}}]);
 * sorting is always stable, so stable=false (any order of ties) is honoured too */
static int sort_args(lua_State *L, em_tensor *x, bool *descending)
{
    int dim = one_dim(L, 2, x, x->ndim > 0 ? x->ndim - 1 : 0);
    int top = lua_gettop(L);
    *descending = false;
    for (int a = 2; a <= top; a++) {
        if (lua_isboolean(L, a)) {
            *descending = lua_toboolean(L, a);
        } else if (emL_isopts(L, a)) {
            *descending = emL_optbool(L, a, "descending", *descending);
            (void)emL_optbool(L, a, "stable", false); /* checked; sorting is always stable */
            if (emL_getopt(L, a, "dim") != LUA_TNIL)
                dim = emL_dim_value(L, luaL_checkinteger(L, -1), x->ndim, "sort");
            lua_pop(L, 1);
        }
    }
    return dim;
}

static int l_sort(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    bool desc;
    int dim = sort_args(L, x, &desc);
    em_tensor *v = NULL, *i = NULL, *ov = NULL, *oi = NULL;
    int out_opts = select_out(L, 2, "sort", x, &ov, &oi);
    return push_pair_out(L, "sort", em_ag_sort(x, dim, desc, &v, &i), &v, &i, out_opts, ov, oi);
}

static int l_argsort(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    bool desc;
    int dim = sort_args(L, x, &desc);
    em_tensor *v = NULL, *i = NULL;
    emL_check(L, em_sort(x, dim, desc, &v, &i));
    em_tensor_release(v);
    emL_pushtensor(L, i);
    return 1;
}

static int l_msort(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    em_tensor *v = NULL, *i = NULL;
    emL_check(L, em_ag_sort(x, 0, false, &v, &i));
    em_tensor_release(i);
    emL_pushtensor(L, v);
    return 1;
}

/* topk(x, k, [dim=-1], [largest=true], [sorted=true], [opts {largest=, sorted=, dim=, out=}]);
 * results always come sorted, which sorted=false (any order) allows */
static int l_topk(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    int dim = one_dim(L, 3, x, x->ndim > 0 ? x->ndim - 1 : 0);
    int top = lua_gettop(L), nbool = 0;
    bool largest = true;
    for (int a = 3; a <= top; a++) {
        if (lua_isboolean(L, a)) {
            if (nbool++ == 0)
                largest = lua_toboolean(L, a);
        } else if (emL_isopts(L, a)) {
            largest = emL_optbool(L, a, "largest", largest);
            (void)emL_optbool(L, a, "sorted", true); /* checked; results are always sorted */
            if (emL_getopt(L, a, "dim") != LUA_TNIL)
                dim = emL_dim_value(L, luaL_checkinteger(L, -1), x->ndim, "topk");
            lua_pop(L, 1);
        }
    }
    em_tensor *v = NULL, *i = NULL, *ov = NULL, *oi = NULL;
    int out_opts = select_out(L, 3, "topk", x, &ov, &oi);
    return push_pair_out(L, "topk", em_ag_topk(x, k, dim, largest, &v, &i), &v, &i, out_opts, ov, oi);
}

/* unique(x, [opts {sorted=true, return_inverse=, return_counts=, dim=nil}]) -> values[, inverse][, counts]
 * With dim: the distinct slices along dim, sorted lexicographically (always sorted). */
static int l_unique(lua_State *L)
{
    em_tensor *x = emL_checktensor(L, 1);
    int opts = emL_isopts(L, 2) ? 2 : 0;
    (void)emL_optbool(L, opts, "sorted", true);
    bool inv = emL_optbool(L, opts, "return_inverse", false);
    bool cnt = emL_optbool(L, opts, "return_counts", false);
    int dim = -1;
    if (emL_getopt(L, opts, "dim") != LUA_TNIL) {
        if (x->ndim == 0)
            luaL_error(L, "unique: dim given for a 0-d tensor (use unique without dim)");
        dim = emL_dim_value(L, luaL_checkinteger(L, -1), x->ndim, "unique");
    }
    lua_pop(L, 1);
    em_tensor *v = NULL, *i = NULL, *c = NULL;
    if (dim >= 0)
        emL_check(L, em_unique_dim(x, dim, &v, inv ? &i : NULL, cnt ? &c : NULL));
    else
        emL_check(L, em_unique(x, &v, inv ? &i : NULL, cnt ? &c : NULL));
    emL_pushtensor(L, v);
    if (inv)
        emL_pushtensor(L, i);
    if (cnt)
        emL_pushtensor(L, c);
    return 1 + inv + cnt;
}

/* ---- whole-tensor comparisons giving a Lua boolean ---- */
static int l_allclose(lua_State *L)
{
    em_tensor *a = emL_checktensor(L, 1), *b = emL_checktensor(L, 2);
    int opts = emL_isopts(L, 3) ? 3 : 0;
    double rtol = emL_optnumber(L, opts, "rtol", 1e-5), atol = emL_optnumber(L, opts, "atol", 1e-8);
    bool equal_nan = emL_optbool(L, opts, "equal_nan", false);
    bool res = false;
    emL_check(L, em_allclose(a, b, rtol, atol, equal_nan, &res));
    lua_pushboolean(L, res);
    return 1;
}

static int l_equal(lua_State *L)
{
    em_tensor *a = emL_checktensor(L, 1), *b = emL_checktensor(L, 2);
    bool res = false;
    emL_check(L, em_equal(a, b, &res));
    lua_pushboolean(L, res);
    return 1;
}

static const luaL_Reg reduce_funcs[] = {
    { "sum", l_sum },
    { "mean", l_mean },
    { "prod", l_prod },
    { "amax", l_amax },
    { "amin", l_amin },
    { "all", l_all },
    { "any", l_any },
    { "count_nonzero", l_count_nonzero },
    { "norm", l_norm },
    { "var", l_var },
    { "std", l_std },
    { "logsumexp", l_logsumexp },
    { "max", l_max },
    { "min", l_min },
    { "argmax", l_argmax },
    { "argmin", l_argmin },
    { "median", l_median },
    { "mode", l_mode },
    { "kthvalue", l_kthvalue },
    { "cumsum", l_cumsum },
    { "cumprod", l_cumprod },
    { "softmax", l_softmax },
    { "log_softmax", l_log_softmax },
    { "sort", l_sort },
    { "argsort", l_argsort },
    { "msort", l_msort },
    { "topk", l_topk },
    { "unique", l_unique },
    { "allclose", l_allclose },
    { "equal", l_equal },
    { NULL, NULL },
};

void emL_open_reduce(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    emL_register(L, methods, module, reduce_funcs);
}
