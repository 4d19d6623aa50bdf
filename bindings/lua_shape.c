/* Bindings for the shape ops (core/shape_ops.c, differentiable through
 * core/autograd/fn_shape.c) plus split / chunk / tensor_split / movedim, which are views built
 * here from differentiable narrow / permute. Dims arrive 1-based (negative from
 * the end). */
#include "lua_ember.h"

#include "../core/autograd/functions.h"

#include <string.h>

#define MAX_CAT 1024
#define MAX_EMPTY_PIECES 65536

/* Tensors for cat/stack: a table of tensors at arg, or tensors as arguments from
 * arg on. Returns the count; *next is the first argument after them. */
static int check_tensor_list(lua_State *L, int arg, em_tensor **ts, int *next, const char *op)
{
    int n = 0;
    if (lua_type(L, arg) == LUA_TTABLE && !emL_totensor(L, arg)) {
        int len = (int)lua_rawlen(L, arg);
        if (len > MAX_CAT)
            luaL_error(L, "%s: at most %d tensors at once, got %d", op, MAX_CAT, len);
        for (int i = 1; i <= len; i++) {
            lua_rawgeti(L, arg, i);
            ts[n] = emL_totensor(L, -1);
            if (!ts[n])
                luaL_error(L, "%s: expected a table of tensors, entry %d is a %s", op, i, luaL_typename(L, -1));
            lua_pop(L, 1); /* still referenced by the table */
            n++;
        }
        *next = arg + 1;
    } else {
        while (n < MAX_CAT && emL_totensor(L, arg + n)) {
            ts[n] = emL_totensor(L, arg + n);
            n++;
        }
        *next = arg + n;
    }
    if (n == 0)
        luaL_error(L, "%s: expected a non-empty table of tensors", op);
    return n;
}

/* A dim given as a number or in an options table ({dim=2}); def when absent. */
static lua_Integer opt_dim_arg(lua_State *L, int arg, lua_Integer def)
{
    if (lua_isnoneornil(L, arg))
        return def;
    if (emL_isopts(L, arg))
        return emL_optint(L, arg, "dim", def);
    return luaL_checkinteger(L, arg);
}

static int l_cat(lua_State *L)
{
    em_tensor *ts[MAX_CAT];
    int next;
    int n = check_tensor_list(L, 1, ts, &next, "cat");
    lua_Integer d = opt_dim_arg(L, next, 1);
    int nd = ts[0]->ndim;
    for (int i = 0; i < n; i++)
        if (!em_cat_skips(ts[i])) {
            nd = ts[i]->ndim;
            break;
        }
    int dim = emL_dim_value(L, d, nd, "cat");
    emL_pushtensor(L, em_ag_cat(n, ts, dim));
    return 1;
}

static int l_stack(lua_State *L)
{
    em_tensor *ts[MAX_CAT];
    int next;
    int n = check_tensor_list(L, 1, ts, &next, "stack");
    lua_Integer d = opt_dim_arg(L, next, 1);
    int dim = emL_dim_value(L, d, ts[0]->ndim + 1, "stack");
    emL_pushtensor(L, em_ag_stack(n, ts, dim));
    return 1;
}

/* dims from arg on: numbers, or one table; converted to 0-based */
static int check_dims(lua_State *L, int arg, int ndim, int *dims, const char *op)
{
    int64_t raw[EM_MAX_DIMS];
    int n = emL_checksizes(L, arg, raw);
    for (int i = 0; i < n; i++)
        dims[i] = emL_dim_value(L, raw[i], ndim, op);
    return n;
}

static int l_flip(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int dims[EM_MAX_DIMS];
    int n = check_dims(L, 2, t->ndim, dims, "flip");
    emL_pushtensor(L, em_ag_flip(t, n, dims));
    return 1;
}

/* roll(shifts[, dims]): each a number or a table */
static int read_ints(lua_State *L, int arg, int64_t *out, const char *what)
{
    if (lua_type(L, arg) == LUA_TTABLE)
        return emL_checkintlist(L, arg, out, EM_MAX_DIMS, what);
    out[0] = luaL_checkinteger(L, arg);
    return 1;
}

static int l_roll(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t shifts[EM_MAX_DIMS], raw[EM_MAX_DIMS];
    int dims[EM_MAX_DIMS];
    int ns = read_ints(L, 2, shifts, "roll");
    if (lua_isnoneornil(L, 3)) {
        if (ns != 1)
            return luaL_error(L, "roll: without dims, shifts must be a single number, got %d", ns);
        emL_pushtensor(L, em_ag_roll(t, 0, shifts, dims));
        return 1;
    }
    int nd = read_ints(L, 3, raw, "roll");
    if (nd != ns)
        return luaL_error(L, "roll: shifts and dims must have the same length, got %d and %d", ns, nd);
    for (int i = 0; i < nd; i++)
        dims[i] = emL_dim_value(L, raw[i], t->ndim, "roll");
    emL_pushtensor(L, em_ag_roll(t, nd, shifts, dims));
    return 1;
}

static int tri(lua_State *L, bool upper, bool inplace)
{
    em_tensor *t = emL_checktensor(L, 1);
    lua_Integer k = emL_isopts(L, 2) ? emL_optint(L, 2, "diagonal", 0) : luaL_optinteger(L, 2, 0);
    if (inplace) {
        emL_check(L, em_ag_tril_(t, k, upper));
        lua_settop(L, 1);
        return 1;
    }
    emL_pushtensor(L, em_ag_tril(t, k, upper));
    return 1;
}

static int l_tril(lua_State *L) { return tri(L, false, false); }
static int l_triu(lua_State *L) { return tri(L, true, false); }
static int l_tril_(lua_State *L) { return tri(L, false, true); }
static int l_triu_(lua_State *L) { return tri(L, true, true); }

/* repeat(sizes): PyTorch's repeat (not an in-place op despite the name repeat_) */
static int l_repeat(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t reps[EM_MAX_DIMS];
    int n = emL_checksizes(L, 2, reps);
    emL_pushtensor(L, em_ag_repeat(t, n, reps));
    return 1;
}

/* split(size or {sizes}, dim=1) -> a table of views */
static int l_split(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (t->ndim == 0)
        return luaL_error(L, "split: cannot split a 0-d tensor");
    int dim = emL_dim_value(L, opt_dim_arg(L, 3, 1), t->ndim, "split");
    int64_t n = t->sizes[dim];
    lua_newtable(L);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_Integer cnt = (lua_Integer)lua_rawlen(L, 2), total = 0;
        for (lua_Integer i = 1; i <= cnt; i++) {
            lua_rawgeti(L, 2, i);
            int ok;
            lua_Integer s = lua_tointegerx(L, -1, &ok);
            lua_pop(L, 1);
            if (!ok || s < 0)
                return luaL_error(L, "split: sizes must be non-negative integers (entry %I)", i);
            total += s;
        }
        if (total != n)
            return luaL_error(L, "split: sizes add up to %I but dimension %d has size %I", total, dim + 1,
                              (lua_Integer)n);
        int64_t at = 0;
        for (lua_Integer i = 1; i <= cnt; i++) {
            lua_rawgeti(L, 2, i);
            int64_t s = lua_tointeger(L, -1);
            lua_pop(L, 1);
            emL_pushtensor(L, em_ag_narrow(t, dim, at, s));
            lua_rawseti(L, -2, i);
            at += s;
        }
        return 1;
    }
    lua_Integer size = luaL_checkinteger(L, 2);
    if (size <= 0 && !(size == 0 && n == 0))
        return luaL_error(L, "split: split size must be positive, got %I", size);
    int k = 1;
    if (n == 0) {
        emL_pushtensor(L, em_ag_narrow(t, dim, 0, 0));
        lua_rawseti(L, -2, 1);
        return 1;
    }
    for (int64_t at = 0; at < n; at += size) {
        emL_pushtensor(L, em_ag_narrow(t, dim, at, at + size > n ? n - at : size));
        lua_rawseti(L, -2, k++);
    }
    return 1;
}

/* chunk(n, dim=1): split into pieces of ceil(size / n) */
static int l_chunk(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    lua_Integer chunks = luaL_checkinteger(L, 2);
    if (chunks <= 0)
        return luaL_error(L, "chunk: number of chunks must be positive, got %I", chunks);
    if (t->ndim == 0)
        return luaL_error(L, "chunk: cannot chunk a 0-d tensor");
    int dim = emL_dim_value(L, opt_dim_arg(L, 3, 1), t->ndim, "chunk");
    int64_t n = t->sizes[dim];
    lua_Integer size = (n + chunks - 1) / chunks;
    lua_settop(L, 1);
    lua_pushinteger(L, size > 0 ? size : 0);
    lua_pushinteger(L, dim + 1);
    return l_split(L);
}

/* One piece of tensor_split: PyTorch's slice(start, end) rules on 0-based
 * positions (negative ones count from the end, both clamped to the dimension, an
 * end before the start gives an empty piece). */
static void push_piece(lua_State *L, em_tensor *t, int dim, int64_t start, int64_t end, int k)
{
    int64_t n = t->sizes[dim];
    if (start < 0)
        start += n;
    if (end < 0)
        end += n;
    start = start < 0 ? 0 : start > n ? n : start;
    end = end < start ? start : end > n ? n : end;
    emL_pushtensor(L, em_ag_narrow(t, dim, start, end - start));
    lua_rawseti(L, -2, k);
}

/* An Ember split point (1-based position where a piece starts, negative from
 * the end) as PyTorch's 0-based index. */
static int64_t split_point(lua_State *L, lua_Integer p, const char *op)
{
    if (p == 0)
        luaL_error(L, "%s: split points are 1-based positions where a piece starts, got 0", op);
    return p > 0 ? p - 1 : p;
}

/* Splits into a table of views at dim (0-based) by the argument at arg: a number
 * of sections, a table of split points, or an int tensor (0-d: sections, 1-d:
 * points). divisible: sections must divide the size (hsplit/vsplit/dsplit). */
static int tensor_split_at(lua_State *L, em_tensor *t, int arg, int dim, bool divisible, const char *op)
{
    int64_t n = t->sizes[dim];
    em_tensor *it = emL_totensor(L, arg);
    lua_Integer sections = 0;
    bool by_sections;
    if (it) {
        if (!em_dtype_is_int(it->dtype) || it->ndim > 1)
            return luaL_error(L, "%s: a tensor of split points must be a 0-d or 1-d integer tensor, got %s %d-d", op,
                              em_dtype_name(it->dtype), it->ndim);
        if (em_tensor_device(it).type != EM_DEV_CPU)
            return luaL_error(L, "%s: a tensor of split points must be on the CPU", op);
        by_sections = it->ndim == 0;
        if (by_sections)
            sections = em_load_int64(em_tensor_data(it), it->dtype);
    } else if (lua_type(L, arg) == LUA_TTABLE) {
        by_sections = false;
    } else {
        int ok;
        sections = lua_tointegerx(L, arg, &ok);
        if (!ok)
            return luaL_error(L, "%s: expected a number of sections or a table of split points, got %s", op,
                              luaL_typename(L, arg));
        by_sections = true;
    }
    lua_newtable(L);
    if (by_sections) {
        if (sections <= 0)
            return luaL_error(L, "%s: number of sections must be positive, got %I", op, sections);
        /* PyTorch makes the empty pieces too; a runaway count would only hang */
        if (sections > n && sections > MAX_EMPTY_PIECES)
            return luaL_error(L, "%s: %I sections of a dimension of size %I would make more than %d empty pieces", op,
                              sections, (lua_Integer)n, MAX_EMPTY_PIECES);
        if (divisible && n % sections != 0)
            return luaL_error(L, "%s: dimension %d of size %I is not divisible into %I sections", op, dim + 1,
                              (lua_Integer)n, sections);
        /* the first n % sections pieces are one longer */
        int64_t base = n / sections, extra = n % sections, at = 0;
        for (lua_Integer k = 1; k <= sections; k++) {
            int64_t len = base + (k <= extra ? 1 : 0);
            push_piece(L, t, dim, at, at + len, (int)k);
            at += len;
        }
        return 1;
    }
    lua_Integer cnt = it ? (lua_Integer)(it->ndim == 1 ? it->sizes[0] : 0) : (lua_Integer)lua_rawlen(L, arg);
    if (cnt >= INT32_MAX)
        return luaL_error(L, "%s: too many split points (%I)", op, cnt);
    int64_t start = 0;
    for (lua_Integer i = 1; i <= cnt; i++) {
        lua_Integer p;
        if (it) {
            int64_t idx = i - 1;
            p = em_load_int64(em_tensor_elem_ptr(it, &idx), it->dtype);
        } else {
            int ok;
            lua_rawgeti(L, arg, i);
            p = lua_tointegerx(L, -1, &ok);
            lua_pop(L, 1);
            if (!ok)
                return luaL_error(L, "%s: split point %I must be an integer", op, i);
        }
        int64_t end = split_point(L, p, op);
        push_piece(L, t, dim, start, end, (int)i);
        start = end;
    }
    push_piece(L, t, dim, start, n, (int)cnt + 1);
    return 1;
}

/* tensor_split(sections or {points}, dim=1): PyTorch's tensor_split with 1-based
 * split points, the positions where new pieces start: PyTorch's
 * tensor_split([1, 3]) is tensor_split({2, 4}) here. */
static int l_tensor_split(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (t->ndim == 0)
        return luaL_error(L, "tensor_split: expected a tensor with at least 1 dimension, got a 0-d tensor");
    int dim = emL_dim_value(L, opt_dim_arg(L, 3, 1), t->ndim, "tensor_split");
    return tensor_split_at(L, t, 2, dim, false, "tensor_split");
}

/* hsplit / vsplit / dsplit: tensor_split along dim 2 (dim 1 for 1-d), 1 and 3;
 * a number of sections must divide the size. */
static int dir_split(lua_State *L, int dim, int min_ndim, const char *op)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (t->ndim < min_ndim)
        return luaL_error(L, "%s: expected a tensor with at least %d dimension%s, got %d", op, min_ndim,
                          min_ndim > 1 ? "s" : "", t->ndim);
    if (t->ndim == 1 && dim == 1)
        dim = 0;
    return tensor_split_at(L, t, 2, dim, true, op);
}

static int l_hsplit(lua_State *L) { return dir_split(L, 1, 1, "hsplit"); }
static int l_vsplit(lua_State *L) { return dir_split(L, 0, 2, "vsplit"); }
static int l_dsplit(lua_State *L) { return dir_split(L, 2, 3, "dsplit"); }

static int l_one_hot(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    lua_Integer c = emL_isopts(L, 2) ? emL_optint(L, 2, "num_classes", -1) : luaL_optinteger(L, 2, -1);
    if (c == 0 || c < -1)
        return luaL_error(L, "one_hot: num_classes must be positive (or -1 to infer it), got %I", c);
    emL_pushtensor(L, em_one_hot(t, c));
    return 1;
}

/* movedim(source, destination): numbers or tables of dims */
static int l_movedim(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int64_t src[EM_MAX_DIMS], dst[EM_MAX_DIMS];
    int ns = read_ints(L, 2, src, "movedim"), nd = read_ints(L, 3, dst, "movedim");
    if (ns != nd)
        return luaL_error(L, "movedim: source and destination must have the same number of dims, got %d and %d", ns,
                          nd);
    int perm[EM_MAX_DIMS];
    bool used_src[EM_MAX_DIMS] = { false }, used_dst[EM_MAX_DIMS] = { false };
    for (int i = 0; i < t->ndim; i++)
        perm[i] = -1;
    for (int i = 0; i < ns; i++) {
        int s = emL_dim_value(L, src[i], t->ndim, "movedim"), d = emL_dim_value(L, dst[i], t->ndim, "movedim");
        if (used_src[s] || used_dst[d])
            return luaL_error(L, "movedim: repeated dim in %s", used_src[s] ? "source" : "destination");
        used_src[s] = used_dst[d] = true;
        perm[d] = s;
    }
    /* the other dims keep their order in the free slots */
    int next = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (perm[d] >= 0)
            continue;
        while (used_src[next])
            next++;
        perm[d] = next++;
    }
    emL_pushtensor(L, t->ndim == 0 ? em_ag_alias(t) : em_ag_permute(t, perm));
    return 1;
}

static int l_swapaxes(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int d0 = emL_checkdim(L, 2, t->ndim), d1 = emL_checkdim(L, 3, t->ndim);
    emL_pushtensor(L, t->ndim == 0 ? em_ag_alias(t) : em_ag_transpose(t, d0, d1));
    return 1;
}

static const luaL_Reg shape_funcs[] = {
    { "cat", l_cat },
    { "concat", l_cat },
    { "stack", l_stack },
    { "flip", l_flip },
    { "roll", l_roll },
    { "tril", l_tril },
    { "triu", l_triu },
    { "tril_", l_tril_ },
    { "triu_", l_triu_ },
    { "repeat_", l_repeat },
    { "repeat", l_repeat },
    { "repeat_tensor", l_repeat },
    { "split", l_split },
    { "chunk", l_chunk },
    { "tensor_split", l_tensor_split },
    { "hsplit", l_hsplit },
    { "vsplit", l_vsplit },
    { "dsplit", l_dsplit },
    { "one_hot", l_one_hot },
    { "movedim", l_movedim },
    { "moveaxis", l_movedim },
    { "swapaxes", l_swapaxes },
    { "swapdims", l_swapaxes },
    { NULL, NULL },
};

void emL_open_shape(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    emL_register(L, methods, module, shape_funcs);
}
