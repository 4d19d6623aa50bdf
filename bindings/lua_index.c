/* Indexing: x[key] / x[key] = v for non-string keys, and the index ops
 * (index_select, gather, scatter_, masked_fill_, nonzero, ...). Everything is
 * 1-based and negative positions count from the end.
 *   x[i]           select along dim 1; a 1-d tensor gives a Lua number (Torch7's
 *                  rule) unless it takes part in autograd (a 0-d view keeps the graph)
 *   x[{i, {a,b}}]  one entry per dim: an integer selects, {} keeps the dim, {a, b}
 *                  or {a, b, step} is the inclusive range a..b, {a} is a..a
 *   x[mask]        bool mask over the leading dims -> (count, rest...) copy
 *   x[idx]         int64 tensor -> index_select along dim 1, shape idx.shape + rest
 *   x[{i, idx, m}] tensors among the entries: PyTorch's advanced indexing (integer
 *                  tensors broadcast together; a mask covers mask.ndim dims)
 * Intermediate tensors are pushed on the Lua stack as soon as they exist, so a
 * Lua error never leaks them. Everything goes through the differentiable em_ag_
 * ops: reads keep the graph, and assignments record (CopySlices when writing into
 * a view) or refuse to write into a leaf that requires grad. */
#include "lua_ember.h"

#include "../core/autograd/functions.h"
#include "../core/factory.h"

#include <string.h>

static bool wants_tensor_result(const em_tensor *t)
{
    return t->requires_grad || t->autograd != NULL;
}

/* pushes t (Lua owns it from now on) and returns it borrowed */
static em_tensor *push(lua_State *L, em_tensor *t)
{
    emL_pushtensor(L, t);
    return t;
}

/* A 1-based / negative index into a dim of size n -> 0-based, or a Lua error. */
static int64_t index_pos(lua_State *L, lua_Integer i, int64_t n, int dim)
{
    if (i == 0 || i > n || i < -n)
        luaL_error(L, "index: index %I is out of range for dimension %d of size %I%s", (lua_Integer)i, dim + 1,
                   (lua_Integer)n, i == 0 ? " (indices are 1-based)" : "");
    return i > 0 ? i - 1 : i + n;
}

/* The integer at idx, accepting floats with an integral value; errors name what. */
static lua_Integer check_int(lua_State *L, int idx, const char *what)
{
    int ok;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok) {
        if (lua_type(L, idx) == LUA_TNUMBER)
            luaL_error(L, "index: %s must be an integer, got %s", what, lua_tostring(L, idx));
        luaL_error(L, "index: %s must be an integer, got %s", what, luaL_typename(L, idx));
    }
    return v;
}

static void push_number_of(lua_State *L, em_tensor *t0)
{
    em_scalar s;
    emL_check(L, em_item(t0, &s));
    emL_pushscalar(L, s);
}

/* ---- x[{...}]: one entry per leading dim (a mask entry covers mask.ndim dims) ---- */
typedef struct dim_entry {
    enum { ENTRY_SELECT, ENTRY_RANGE, ENTRY_TENSOR } kind;
    int dim;                   /* the first dim of t it applies to */
    int64_t start, stop, step; /* 0-based, stop exclusive */
    em_tensor *index;          /* ENTRY_TENSOR: an integer index or a mask (borrowed from the key table) */
} dim_entry;

static bool is_mask_dtype(em_dtype dt)
{
    return dt == EM_BOOL || dt == EM_UINT8;
}

static void check_tensor_key(lua_State *L, em_tensor *k)
{
    if (!is_mask_dtype(k->dtype) && !em_dtype_is_int(k->dtype))
        luaL_error(L, "index: a tensor index must hold integers (int64) or a mask (bool), got %s",
                   em_dtype_name(k->dtype));
}

/* Reads the range table on top of the stack for dim d of size `size` into e. */
static void parse_range(lua_State *L, dim_entry *e, int d, int64_t size)
{
    e->kind = ENTRY_RANGE;
    int len = (int)lua_rawlen(L, -1);
    if (len > 3)
        luaL_error(L, "index: a range for dimension %d is {first, last} or {first, last, step}, got %d entries",
                   d + 1, len);
    if (len == 0) {
        e->start = 0;
        e->stop = size;
        e->step = 1;
        return;
    }
    lua_rawgeti(L, -1, 1);
    lua_Integer a = check_int(L, -1, "range start");
    lua_pop(L, 1);
    lua_Integer b = a, step = 1;
    if (len >= 2) {
        lua_rawgeti(L, -1, 2);
        b = check_int(L, -1, "range end");
        lua_pop(L, 1);
    }
    if (len == 3) {
        lua_rawgeti(L, -1, 3);
        step = check_int(L, -1, "range step");
        lua_pop(L, 1);
        if (step <= 0)
            luaL_error(L, "index: range step must be positive, got %I", step);
    }
    /* negative ends count from the end: -1 is the last */
    lua_Integer a0 = a < 0 ? a + size + 1 : a, b0 = b < 0 ? b + size + 1 : b;
    if (a0 < 1 || a0 > size + 1 || b0 < a0 - 1 || b0 > size || (a0 == size + 1 && b0 != size))
        luaL_error(L, "index: range %I..%I is out of range for dimension %d of size %I", a, b, d + 1,
                   (lua_Integer)size);
    e->start = a0 - 1;
    e->stop = b0;
    e->step = step;
}

/* Reads the key table at idx into entries. Returns the count; sets *all_int when
 * every entry selects and *ntensor to the number of tensor entries. Raises on bad
 * input. */
static int parse_table_key(lua_State *L, int idx, const em_tensor *t, dim_entry *ent, bool *all_int, int *ntensor)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n > t->ndim)
        luaL_error(L, "index: too many indices for a %d-d tensor (%I given)", t->ndim, n);
    *all_int = n > 0;
    *ntensor = 0;
    int d = 0; /* the next dim of t */
    for (int e = 0; e < (int)n; e++) {
        int ty = lua_rawgeti(L, idx, e + 1);
        em_tensor *k = emL_totensor(L, -1);
        int width = k && is_mask_dtype(k->dtype) ? k->ndim : 1;
        if (k && width == 0)
            luaL_error(L, "index: a 0-d mask is not supported inside an index table (entry %d)", e + 1);
        if (d + width > t->ndim)
            luaL_error(L, "index: too many indices for a %d-d tensor (entry %d reaches dimension %d)", t->ndim,
                       e + 1, d + width);
        ent[e].dim = d;
        int64_t size = t->sizes[d];
        if (ty == LUA_TNUMBER) {
            ent[e].kind = ENTRY_SELECT;
            ent[e].start = index_pos(L, check_int(L, -1, "index"), size, d);
        } else if (k) {
            check_tensor_key(L, k);
            *all_int = false;
            (*ntensor)++;
            ent[e].kind = ENTRY_TENSOR;
            ent[e].index = k;
        } else if (ty == LUA_TTABLE) {
            *all_int = false;
            parse_range(L, &ent[e], d, size);
        } else {
            luaL_error(L, "index: entry %d must be an integer, a {first, last} table or a tensor, got %s", e + 1,
                       luaL_typename(L, -1));
        }
        d += width;
        lua_pop(L, 1);
    }
    return (int)n;
}

/* The advanced (tensor) part of a key: k index tensors (1-based values) on dims
 * pos[] of the basic view, in increasing order; tdim[] names t's dim in errors. */
typedef struct adv_key {
    int k;
    int pos[EM_MAX_DIMS];
    int tdim[EM_MAX_DIMS];
    em_tensor *idx[EM_MAX_DIMS]; /* borrowed (on the stack or in the key table) */
} adv_key;

/* The basic view x[{...}] with selects and ranges applied, pushed on the stack and
 * returned (borrowed). Tensor entries keep their dims; when adv != NULL they are
 * described there (masks become one index tensor per dim, from nonzero). */
static em_tensor *push_table_view(lua_State *L, em_tensor *t, int key, bool *all_int, adv_key *adv)
{
    dim_entry ent[EM_MAX_DIMS];
    int ntensor;
    int n = parse_table_key(L, key, t, ent, all_int, &ntensor);
    em_tensor *cur = NULL;
    /* last entry first: selecting dim e leaves dims before e where they were */
    for (int e = n - 1; e >= 0; e--) {
        em_tensor *from = cur ? cur : t;
        int d = ent[e].dim;
        if (ent[e].kind == ENTRY_SELECT)
            cur = push(L, em_ag_select(from, d, ent[e].start));
        else if (ent[e].kind == ENTRY_RANGE &&
                 (ent[e].start != 0 || ent[e].stop != from->sizes[d] || ent[e].step != 1))
            cur = push(L, em_ag_slice(from, d, ent[e].start, ent[e].stop, ent[e].step));
        else
            continue;
        if (from != t)
            lua_remove(L, -2);
    }
    if (!cur) /* x[{}] or only full ranges: a view of the whole tensor */
        cur = push(L, em_ag_view(t, t->ndim, t->sizes));
    if (!adv)
        return cur;
    adv->k = 0;
    luaL_checkstack(L, 2 * EM_MAX_DIMS + 8, "index: too many tensor indices");
    int selected = 0;
    for (int e = 0; e < n; e++) {
        if (ent[e].kind == ENTRY_SELECT) {
            selected++;
            continue;
        }
        if (ent[e].kind != ENTRY_TENSOR)
            continue;
        em_tensor *k = ent[e].index;
        int vpos = ent[e].dim - selected;
        if (!is_mask_dtype(k->dtype)) {
            adv->pos[adv->k] = vpos;
            adv->tdim[adv->k] = ent[e].dim;
            adv->idx[adv->k++] = k;
            continue;
        }
        for (int i = 0; i < k->ndim; i++) {
            if (k->sizes[i] != t->sizes[ent[e].dim + i])
                luaL_error(L, "index: the mask's size %I in its dimension %d does not match size %I of "
                              "dimension %d of the indexed tensor",
                           (lua_Integer)k->sizes[i], i + 1, (lua_Integer)t->sizes[ent[e].dim + i],
                           ent[e].dim + i + 1);
        }
        em_tensor *nz = push(L, em_nonzero(k)); /* (count, mask.ndim), 1-based */
        for (int i = 0; i < k->ndim; i++) {
            adv->pos[adv->k] = vpos + i;
            adv->tdim[adv->k] = ent[e].dim + i;
            adv->idx[adv->k++] = push(L, em_select(nz, 1, i));
        }
    }
    return cur;
}

/* ---- x[mask] ---- */
/* The mask (shape = t's leading dims) expanded to t's shape, pushed; *count is its
 * number of set elements when count != NULL. */
static em_tensor *push_expanded_mask(lua_State *L, em_tensor *t, em_tensor *mask)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    bool ok = mask->ndim <= t->ndim;
    for (int d = 0; ok && d < mask->ndim; d++)
        ok = mask->sizes[d] == t->sizes[d];
    if (!ok)
        luaL_error(L, "index: mask of shape %s does not match the indexed tensor's shape %s", 
                   em_tensor_shape_str(mask, b1, sizeof b1), em_tensor_shape_str(t, b2, sizeof b2));
    int64_t sizes[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) {
        sizes[d] = t->sizes[d];
        strides[d] = d < mask->ndim ? mask->strides[d] : 0;
    }
    return push(L, em_tensor_new_view(mask->storage, mask->dtype, mask->offset, t->ndim, sizes, strides));
}

static int64_t mask_count(lua_State *L, em_tensor *mask)
{
    em_tensor *nz = push(L, em_nonzero(mask));
    int64_t c = nz->sizes[0];
    lua_pop(L, 1);
    return c;
}

/* x[mask]: (count, t.shape[mask.ndim:]...) */
static void push_mask_select(lua_State *L, em_tensor *t, em_tensor *mask)
{
    emL_check(L, em_mask_check_dtype("index", mask));
    em_tensor *m = push_expanded_mask(L, t, mask);
    em_tensor *flat = push(L, em_ag_masked_select(t, m));
    int64_t sizes[EM_MAX_DIMS];
    int nd = 1 + t->ndim - mask->ndim;
    sizes[0] = -1;
    for (int d = mask->ndim; d < t->ndim; d++)
        sizes[d - mask->ndim + 1] = t->sizes[d];
    int64_t inner = 1;
    for (int d = 1; d < nd; d++)
        inner *= sizes[d];
    if (nd == 1) /* a mask over every dim: flat is the result */
        return;
    if (inner == 0)
        sizes[0] = mask_count(L, mask);
    push(L, em_ag_view(flat, nd, sizes));
}

/* x[idx] for an integer tensor idx: index_select along dim 1 */
static void push_index_select(lua_State *L, em_tensor *t, em_tensor *idx)
{
    if (t->ndim == 0)
        luaL_error(L, "index: cannot index a 0-d tensor with a tensor");
    emL_check(L, em_index_check("index", idx, 0, t->sizes[0]));
    em_tensor *flat = push(L, em_reshape(idx, 1, (int64_t[]){ -1 }));
    em_tensor *r = push(L, em_ag_index_select(t, 0, flat));
    if (idx->ndim == 1)
        return;
    int64_t sizes[EM_MAX_DIMS + 1];
    int nd = idx->ndim + t->ndim - 1;
    if (nd > EM_MAX_DIMS)
        luaL_error(L, "index: the result would have %d dimensions (at most %d)", nd, EM_MAX_DIMS);
    memcpy(sizes, idx->sizes, (size_t)idx->ndim * sizeof(int64_t));
    for (int d = 1; d < t->ndim; d++)
        sizes[idx->ndim + d - 1] = t->sizes[d];
    push(L, em_ag_view(r, nd, sizes));
}

/* ---- tensors inside x[{...}]: PyTorch's advanced indexing ----
 * The index tensors broadcast together to a shape B. Integers and ranges are
 * applied first (push_table_view), so the advanced dims are those of the basic
 * view v; when they are adjacent there, B takes their place in the result,
 * otherwise B goes first. Positions are combined into one linear index over the
 * advanced dims, so reading is a permute + reshape + index_select (differentiable). */
typedef struct adv_plan {
    int64_t b[EM_MAX_DIMS]; /* the broadcast index shape */
    int nb;
    int64_t nbnumel;
    int rest[EM_MAX_DIMS]; /* v's other dims, in order */
    int nrest;
    int at;                  /* where B sits among the result's dims */
    int64_t r[EM_MAX_DIMS];  /* the result's shape */
    int nr;
    int perm[EM_MAX_DIMS];   /* v's dims, advanced first */
    int64_t p[EM_MAX_DIMS];  /* (numel of the advanced dims, rest sizes...) */
} adv_plan;

static void adv_plan_make(lua_State *L, const em_tensor *v, const adv_key *a, adv_plan *pl)
{
    pl->nb = 0;
    for (int j = 0; j < a->k; j++) {
        int64_t tmp[EM_MAX_DIMS];
        int nn;
        if (em_broadcast_shape("index", pl->nb, pl->b, a->idx[j]->ndim, a->idx[j]->sizes, &nn, tmp) < 0)
            emL_error(L);
        memcpy(pl->b, tmp, (size_t)nn * sizeof(int64_t));
        pl->nb = nn;
    }
    pl->nbnumel = 1;
    for (int d = 0; d < pl->nb; d++)
        pl->nbnumel *= pl->b[d];
    bool adjacent = true, is_adv[EM_MAX_DIMS] = { false };
    for (int j = 0; j < a->k; j++) {
        adjacent = adjacent && a->pos[j] == a->pos[0] + j;
        is_adv[a->pos[j]] = true;
        pl->perm[j] = a->pos[j];
    }
    pl->at = adjacent ? a->pos[0] : 0;
    pl->nrest = 0;
    pl->p[0] = 1;
    for (int j = 0; j < a->k; j++)
        pl->p[0] *= v->sizes[a->pos[j]];
    for (int d = 0; d < v->ndim; d++) {
        if (is_adv[d])
            continue;
        pl->perm[a->k + pl->nrest] = d;
        pl->p[1 + pl->nrest] = v->sizes[d];
        pl->rest[pl->nrest++] = d;
    }
    pl->nr = pl->nb + pl->nrest;
    if (pl->nr > EM_MAX_DIMS)
        luaL_error(L, "index: the result would have %d dimensions (at most %d)", pl->nr, EM_MAX_DIMS);
    int o = 0;
    for (int i = 0; i < pl->at; i++)
        pl->r[o++] = v->sizes[pl->rest[i]];
    for (int i = 0; i < pl->nb; i++)
        pl->r[o++] = pl->b[i];
    for (int i = pl->at; i < pl->nrest; i++)
        pl->r[o++] = v->sizes[pl->rest[i]];
}

/* The 1-based position of each index tuple within the advanced dims taken
 * row-major, as a 1-d int64 tensor of B's numel, pushed. Checks every index. */
static em_tensor *push_linear_index(lua_State *L, const em_tensor *v, const adv_key *a, const adv_plan *pl)
{
    luaL_checkstack(L, 8, "index");
    em_tensor *lin = NULL;
    int64_t stride = 1;
    int top = lua_gettop(L);
    for (int j = a->k - 1; j >= 0; j--) {
        em_tensor *ix = a->idx[j];
        int64_t n = v->sizes[a->pos[j]];
        emL_check(L, em_index_check("index", ix, a->tdim[j], n));
        /* 0-based, negatives resolved: arange(n)[ix] */
        em_tensor *r = push(L, em_arange(em_scalar_int(0), em_scalar_int(n), em_scalar_int(1), EM_INT64,
                                         em_tensor_device(v)));
        em_tensor *flat = push(L, em_reshape(ix, 1, (int64_t[]){ -1 }));
        em_tensor *z = push(L, em_index_select(r, 0, flat));
        z = push(L, em_reshape(z, ix->ndim, ix->sizes));
        if (stride != 1)
            z = push(L, em_binary(EM_BIN_MUL, em_arg_tensor(z), em_arg_scalar(em_scalar_int(stride)), NULL, NULL));
        if (lin)
            z = push(L, em_binary(EM_BIN_ADD, em_arg_tensor(lin), em_arg_tensor(z), NULL, NULL));
        lin = z;
        /* keep only lin on the stack above top */
        lua_replace(L, top + 1);
        lua_settop(L, top + 1);
        stride *= n;
    }
    /* B's shape (lin may be smaller when a single index is 0-d), then 1-based */
    em_tensor *e = push(L, em_expand(lin, pl->nb, pl->b));
    em_tensor *flat = push(L, em_reshape(e, 1, (int64_t[]){ -1 }));
    em_tensor *one = push(L, em_binary(EM_BIN_ADD, em_arg_tensor(flat), em_arg_scalar(em_scalar_int(1)), NULL, NULL));
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return one;
}

/* x[{...}] with tensor entries: the result pushed */
static void push_advanced_read(lua_State *L, em_tensor *v, const adv_key *a)
{
    adv_plan pl;
    adv_plan_make(L, v, a, &pl);
    em_tensor *lin = push_linear_index(L, v, a, &pl);
    if (a->k == 1) { /* one index tensor: index_select along its dim */
        em_tensor *r = push(L, em_ag_index_select(v, a->pos[0], lin));
        push(L, em_ag_view(r, pl.nr, pl.r));
        return;
    }
    em_tensor *p = push(L, em_ag_permute(v, pl.perm));
    em_tensor *q = push(L, em_ag_reshape(p, 1 + pl.nrest, pl.p));
    em_tensor *r = push(L, em_ag_index_select(q, 0, lin)); /* (numel B, rest...) */
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, pl.b, (size_t)pl.nb * sizeof(int64_t));
    for (int i = 0; i < pl.nrest; i++)
        sizes[pl.nb + i] = pl.p[1 + i];
    if (pl.nb != 1) /* (B..., rest...) */
        r = push(L, em_ag_view(r, pl.nr, sizes));
    if (pl.at == 0)
        return;
    int perm[EM_MAX_DIMS], o = 0; /* move B to position at */
    for (int i = 0; i < pl.at; i++)
        perm[o++] = pl.nb + i;
    for (int i = 0; i < pl.nb; i++)
        perm[o++] = i;
    for (int i = pl.at; i < pl.nrest; i++)
        perm[o++] = pl.nb + i;
    r = push(L, em_ag_permute(r, perm));
    push(L, em_ag_contiguous(r));
}

int emL_tensor_index(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int ty = lua_type(L, 2);
    if (ty == LUA_TNUMBER) {
        lua_Integer i = check_int(L, 2, "index");
        if (t->ndim == 0)
            return luaL_error(L, "index: cannot index a 0-d tensor (use x:item())");
        int64_t p = index_pos(L, i, t->sizes[0], 0);
        if (t->ndim == 1 && !wants_tensor_result(t) && em_tensor_device(t).type == EM_DEV_CPU) {
            emL_pushscalar(L, em_read_scalar((char *)em_tensor_data(t) +
                                                 p * t->strides[0] * (int64_t)em_dtype_size(t->dtype),
                                             t->dtype));
            return 1;
        }
        emL_pushtensor(L, em_ag_select(t, 0, p));
        return 1;
    }
    em_tensor *k = emL_totensor(L, 2);
    if (k) {
        check_tensor_key(L, k);
        if (is_mask_dtype(k->dtype))
            push_mask_select(L, t, k);
        else
            push_index_select(L, t, k);
        return 1;
    }
    if (ty == LUA_TTABLE) {
        bool all_int;
        adv_key adv;
        em_tensor *v = push_table_view(L, t, 2, &all_int, &adv);
        if (adv.k > 0) {
            push_advanced_read(L, v, &adv);
            return 1;
        }
        if (all_int && v->ndim == 0 && !wants_tensor_result(t))
            push_number_of(L, v);
        return 1;
    }
    return luaL_error(L, "index: unsupported index of type %s (expected an integer, a table, or an int64 or bool "
                         "tensor)",
                      luaL_typename(L, 2));
}

/* dst <- the value at idx (a number/boolean fills, a tensor copies with broadcasting) */
static void assign(lua_State *L, em_tensor *dst, int idx)
{
    em_tensor *src = emL_totensor(L, idx);
    if (src) {
        emL_check(L, em_ag_copy_(dst, src));
    } else if (emL_isscalar(L, idx)) {
        emL_check(L, em_ag_fill_(dst, emL_checkscalar(L, idx)));
    } else {
        luaL_error(L, "index: cannot assign a %s to tensor elements (expected a number or a tensor)",
                   luaL_typename(L, idx));
    }
}

/* Whether the value at idx fills: a number (*s) or a 0-d tensor (*vt, whose
 * gradient the fill ops route when it requires grad). */
static bool value_scalar(lua_State *L, int idx, em_scalar *s, em_tensor **vt)
{
    em_tensor *v = emL_totensor(L, idx);
    *vt = NULL;
    *s = em_scalar_int(0);
    if (v) {
        if (v->ndim > 0)
            return false;
        *vt = v;
        return true;
    }
    if (!emL_isscalar(L, idx))
        luaL_error(L, "index: cannot assign a %s to tensor elements (expected a number or a tensor)",
                   luaL_typename(L, idx));
    *s = emL_checkscalar(L, idx);
    return true;
}

/* v broadcast to sizes (nd dims) as a contiguous tensor, pushed */
static em_tensor *push_values(lua_State *L, em_tensor *v, int nd, const int64_t *sizes)
{
    em_tensor *e = em_ag_expand(v, nd, sizes);
    if (!e) {
        char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
        luaL_error(L, "index: shape mismatch: value tensor of shape %s cannot be broadcast to indexing result of "
                      "shape %s",
                   em_tensor_shape_str(v, b1, sizeof b1), em_shape_str(b2, sizeof b2, nd, sizes));
    }
    push(L, e);
    return push(L, em_ag_contiguous(e));
}

/* x[{...}] = value with tensor entries. One index tensor: index_copy_ /
 * index_fill_ along its dim of the basic view. Several: the advanced dims of the
 * view, permuted to the front, are written through a mask over them; the value
 * rows are put in the mask's row-major order (the last of repeated positions wins). */
static void advanced_write(lua_State *L, em_tensor *v, const adv_key *a, int validx)
{
    em_scalar s;
    em_tensor *vt;
    bool scalar = value_scalar(L, validx, &s, &vt);
    adv_plan pl;
    adv_plan_make(L, v, a, &pl);
    em_tensor *lin = push_linear_index(L, v, a, &pl);
    if (a->k == 1) {
        if (scalar) {
            emL_check(L, em_ag_index_fill_(v, a->pos[0], lin, s, vt));
            return;
        }
        em_tensor *vals = push_values(L, emL_totensor(L, validx), pl.nr, pl.r);
        int64_t sizes[EM_MAX_DIMS]; /* B flattened in place */
        int o = 0;
        for (int i = 0; i < pl.at; i++)
            sizes[o++] = pl.r[i];
        sizes[o++] = pl.nbnumel;
        for (int i = pl.at + pl.nb; i < pl.nr; i++)
            sizes[o++] = pl.r[i];
        em_tensor *rows = push(L, em_ag_view(vals, o, sizes));
        emL_check(L, em_ag_index_copy_(v, a->pos[0], lin, rows));
        return;
    }
    em_device dev = em_tensor_device(v);
    em_tensor *p = push(L, em_ag_permute(v, pl.perm)); /* (advanced..., rest...) */
    /* owner[i] = 1-based number of the index tuple written to position i, or 0 */
    em_tensor *owner = push(L, em_full(1, pl.p, em_scalar_int(0), EM_INT64, dev));
    em_tensor *tuples = push(L, em_arange(em_scalar_int(1), em_scalar_int(pl.nbnumel + 1), em_scalar_int(1),
                                          EM_INT64, dev));
    emL_check(L, em_scatter_(owner, 0, lin, tuples, em_scalar_int(0), EM_SCATTER_ASSIGN));
    em_tensor *set = push(L, em_binary(EM_BIN_NE, em_arg_tensor(owner), em_arg_scalar(em_scalar_int(0)), NULL,
                                       NULL));
    int64_t adv_sizes[EM_MAX_DIMS];
    for (int j = 0; j < a->k; j++)
        adv_sizes[j] = v->sizes[a->pos[j]];
    em_tensor *mask = push(L, em_reshape(set, a->k, adv_sizes));
    em_tensor *m = push_expanded_mask(L, p, mask);
    if (scalar) {
        emL_check(L, em_ag_masked_fill_(p, m, s, vt));
        return;
    }
    em_tensor *order = push(L, em_masked_select(owner, set)); /* tuple numbers, row-major */
    em_tensor *vals = push_values(L, emL_totensor(L, validx), pl.nr, pl.r);
    if (pl.at > 0) { /* B first */
        int perm[EM_MAX_DIMS], o = 0;
        for (int i = 0; i < pl.nb; i++)
            perm[o++] = pl.at + i;
        for (int i = 0; i < pl.at; i++)
            perm[o++] = i;
        for (int i = pl.at + pl.nb; i < pl.nr; i++)
            perm[o++] = i;
        vals = push(L, em_ag_permute(vals, perm));
    }
    int64_t sizes[EM_MAX_DIMS];
    sizes[0] = pl.nbnumel;
    for (int i = 0; i < pl.nrest; i++)
        sizes[1 + i] = pl.p[1 + i];
    em_tensor *rows = push(L, em_ag_reshape(vals, 1 + pl.nrest, sizes));
    em_tensor *sel = push(L, em_ag_index_select(rows, 0, order)); /* (count, rest...) */
    emL_check(L, em_ag_masked_scatter_(p, m, sel));
}

int emL_tensor_newindex(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int ty = lua_type(L, 2);
    if (ty == LUA_TNUMBER) {
        lua_Integer i = check_int(L, 2, "index");
        if (t->ndim == 0)
            return luaL_error(L, "index: cannot index a 0-d tensor (use x:fill_(v))");
        em_tensor *v = push(L, em_ag_select(t, 0, index_pos(L, i, t->sizes[0], 0)));
        assign(L, v, 3);
        return 0;
    }
    if (ty == LUA_TTABLE && !emL_totensor(L, 2)) {
        bool all_int;
        adv_key adv;
        em_tensor *v = push_table_view(L, t, 2, &all_int, &adv);
        if (adv.k > 0)
            advanced_write(L, v, &adv, 3);
        else
            assign(L, v, 3);
        return 0;
    }
    em_tensor *k = emL_totensor(L, 2);
    if (!k)
        return luaL_error(L, "index: unsupported index of type %s (expected an integer, a table, or an int64 or "
                             "bool tensor)",
                          luaL_typename(L, 2));
    check_tensor_key(L, k);
    em_scalar s;
    em_tensor *vt;
    bool scalar = value_scalar(L, 3, &s, &vt);
    if (is_mask_dtype(k->dtype)) {
        em_tensor *m = push_expanded_mask(L, t, k);
        if (scalar) {
            emL_check(L, em_ag_masked_fill_(t, m, s, vt));
            return 0;
        }
        /* values broadcast to (count, rest...), then scattered in row-major order */
        int64_t sizes[EM_MAX_DIMS];
        int nd = 1 + t->ndim - k->ndim;
        sizes[0] = mask_count(L, k);
        for (int d = k->ndim; d < t->ndim; d++)
            sizes[d - k->ndim + 1] = t->sizes[d];
        em_tensor *vals = push_values(L, emL_totensor(L, 3), nd, sizes);
        emL_check(L, em_ag_masked_scatter_(t, m, vals));
        return 0;
    }
    if (t->ndim == 0)
        return luaL_error(L, "index: cannot index a 0-d tensor with a tensor");
    emL_check(L, em_index_check("index", k, 0, t->sizes[0]));
    em_tensor *flat = push(L, em_reshape(k, 1, (int64_t[]){ -1 }));
    if (scalar) {
        emL_check(L, em_ag_index_fill_(t, 0, flat, s, vt));
        return 0;
    }
    int64_t sizes[EM_MAX_DIMS];
    int nd = k->ndim + t->ndim - 1;
    if (nd > EM_MAX_DIMS)
        return luaL_error(L, "index: the indexing result would have %d dimensions (at most %d)", nd, EM_MAX_DIMS);
    memcpy(sizes, k->sizes, (size_t)k->ndim * sizeof(int64_t));
    for (int d = 1; d < t->ndim; d++)
        sizes[k->ndim + d - 1] = t->sizes[d];
    em_tensor *vals = push_values(L, emL_totensor(L, 3), nd, sizes);
    sizes[0] = flat->sizes[0];
    memcpy(sizes + 1, t->sizes + 1, (size_t)(t->ndim - 1) * sizeof(int64_t));
    em_tensor *rows = push(L, em_ag_view(vals, t->ndim, sizes));
    emL_check(L, em_ag_index_copy_(t, 0, flat, rows));
    return 0;
}

/* ---- the index ops ---- */
/* In-place forms return self; out-of-place forms compute a new tensor (both
 * record when an input requires grad). */
static em_tensor *check_index(lua_State *L, int arg)
{
    em_tensor *i = emL_checktensor(L, arg);
    if (!em_dtype_is_int(i->dtype))
        luaL_argerror(L, arg, lua_pushfstring(L, "index must be an integer tensor (int64), got %s",
                                              em_dtype_name(i->dtype)));
    return i;
}

static int l_index_select(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int dim = emL_checkdim(L, 2, t->ndim);
    emL_pushtensor(L, em_ag_index_select(t, dim, check_index(L, 3)));
    return 1;
}

/* an in-place op's status -> self as the one result */
static int done_inplace(lua_State *L, int rc)
{
    emL_check(L, rc);
    lua_settop(L, 1);
    return 1;
}

static int index_add(lua_State *L, bool inplace)
{
    em_tensor *t = emL_checktensor(L, 1);
    int dim = emL_checkdim(L, 2, t->ndim);
    em_tensor *idx = check_index(L, 3), *src = emL_checktensor(L, 4);
    em_scalar alpha = em_scalar_int(1);
    if (emL_isopts(L, 5)) {
        emL_getopt(L, 5, "alpha");
        if (!lua_isnil(L, -1))
            alpha = emL_checkscalar(L, -1);
        lua_pop(L, 1);
    }
    if (inplace)
        return done_inplace(L, em_ag_index_add_(t, dim, idx, src, alpha));
    emL_pushtensor(L, em_ag_index_add(t, dim, idx, src, alpha));
    return 1;
}

static int l_index_add_(lua_State *L) { return index_add(L, true); }
static int l_index_add(lua_State *L) { return index_add(L, false); }

static int index_copy(lua_State *L, bool inplace)
{
    em_tensor *t = emL_checktensor(L, 1);
    int dim = emL_checkdim(L, 2, t->ndim);
    em_tensor *idx = check_index(L, 3), *src = emL_checktensor(L, 4);
    if (inplace)
        return done_inplace(L, em_ag_index_copy_(t, dim, idx, src));
    emL_pushtensor(L, em_ag_index_copy(t, dim, idx, src));
    return 1;
}

static int l_index_copy_(lua_State *L) { return index_copy(L, true); }
static int l_index_copy(lua_State *L) { return index_copy(L, false); }

/* a number (*s), or a 0-d tensor (*vt: the fill ops read it and route its gradient) */
static void check_value(lua_State *L, int arg, em_scalar *s, em_tensor **vt)
{
    em_tensor *v = emL_totensor(L, arg);
    *vt = NULL;
    *s = em_scalar_int(0);
    if (v) {
        if (v->ndim != 0)
            luaL_argerror(L, arg, lua_pushfstring(L, "expected a number or a 0-d tensor, got a %d-d tensor", v->ndim));
        *vt = v;
        return;
    }
    *s = emL_checkscalar(L, arg);
}

static int index_fill(lua_State *L, bool inplace)
{
    em_tensor *t = emL_checktensor(L, 1);
    int dim = emL_checkdim(L, 2, t->ndim);
    em_tensor *idx = check_index(L, 3), *vt;
    em_scalar v;
    check_value(L, 4, &v, &vt);
    if (inplace)
        return done_inplace(L, em_ag_index_fill_(t, dim, idx, v, vt));
    emL_pushtensor(L, em_ag_index_fill(t, dim, idx, v, vt));
    return 1;
}

static int l_index_fill_(lua_State *L) { return index_fill(L, true); }
static int l_index_fill(lua_State *L) { return index_fill(L, false); }

static int l_gather(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    int dim = emL_checkdim(L, 2, t->ndim);
    emL_pushtensor(L, em_ag_gather(t, dim, check_index(L, 3)));
    return 1;
}

static em_scatter_reduce opt_reduce(lua_State *L, int opts)
{
    em_scatter_reduce r = EM_SCATTER_ASSIGN;
    if (emL_getopt(L, opts, "reduce") != LUA_TNIL) {
        const char *s = lua_tostring(L, -1);
        if (s && strcmp(s, "add") == 0)
            r = EM_SCATTER_ADD;
        else if (s && strcmp(s, "multiply") == 0)
            r = EM_SCATTER_MUL;
        else
            luaL_error(L, "scatter_: reduce must be 'add' or 'multiply', got %s", s ? s : luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return r;
}

static int do_scatter(lua_State *L, bool add, bool inplace)
{
    em_tensor *t = emL_checktensor(L, 1);
    int dim = emL_checkdim(L, 2, t->ndim);
    em_tensor *idx = check_index(L, 3);
    em_tensor *src = emL_totensor(L, 4);
    em_scalar v = em_scalar_int(0);
    if (!src) {
        if (add)
            return luaL_typeerror(L, 4, "tensor");
        v = emL_checkscalar(L, 4);
    }
    em_scatter_reduce r = add ? EM_SCATTER_ADD : opt_reduce(L, emL_isopts(L, 5) ? 5 : 0);
    if (inplace)
        return done_inplace(L, em_ag_scatter_(t, dim, idx, src, v, r));
    emL_pushtensor(L, em_ag_scatter(t, dim, idx, src, v, r));
    return 1;
}

static int l_scatter_(lua_State *L) { return do_scatter(L, false, true); }
static int l_scatter_add_(lua_State *L) { return do_scatter(L, true, true); }
static int l_scatter(lua_State *L) { return do_scatter(L, false, false); }
static int l_scatter_add(lua_State *L) { return do_scatter(L, true, false); }

static int l_masked_select(lua_State *L)
{
    emL_pushtensor(L, em_ag_masked_select(emL_checktensor(L, 1), emL_checktensor(L, 2)));
    return 1;
}

static int masked_fill(lua_State *L, bool inplace)
{
    em_tensor *t = emL_checktensor(L, 1), *m = emL_checktensor(L, 2), *vt;
    em_scalar v;
    check_value(L, 3, &v, &vt);
    if (inplace)
        return done_inplace(L, em_ag_masked_fill_(t, m, v, vt));
    emL_pushtensor(L, em_ag_masked_fill(t, m, v, vt));
    return 1;
}

static int l_masked_fill_(lua_State *L) { return masked_fill(L, true); }
static int l_masked_fill(lua_State *L) { return masked_fill(L, false); }

static int masked_scatter(lua_State *L, bool inplace)
{
    em_tensor *t = emL_checktensor(L, 1), *m = emL_checktensor(L, 2), *src = emL_checktensor(L, 3);
    if (inplace)
        return done_inplace(L, em_ag_masked_scatter_(t, m, src));
    emL_pushtensor(L, em_ag_masked_scatter(t, m, src));
    return 1;
}

static int l_masked_scatter_(lua_State *L) { return masked_scatter(L, true); }
static int l_masked_scatter(lua_State *L) { return masked_scatter(L, false); }

/* nonzero as a table of 1-d tensors, one per dim (as_tuple) */
static int push_nonzero_tuple(lua_State *L, em_tensor *t)
{
    em_tensor *nz = push(L, em_nonzero(t)); /* N x ndim */
    int nd = t->ndim > 0 ? t->ndim : 1;
    lua_createtable(L, nd, 0);
    for (int d = 0; d < nd; d++) {
        if (t->ndim == 0) { /* a 0-d tensor: one coordinate column of 1s (or none) */
            emL_pushtensor(L, em_full(1, nz->sizes, em_scalar_int(1), EM_INT64, em_tensor_device(nz)));
        } else {
            em_tensor *col = push(L, em_select(nz, 1, d));
            emL_pushtensor(L, em_contiguous(col));
            lua_remove(L, -2);
        }
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

static int l_nonzero(lua_State *L)
{
    em_tensor *t = emL_checktensor(L, 1);
    if (emL_optbool(L, emL_isopts(L, 2) ? 2 : 0, "as_tuple", false))
        return push_nonzero_tuple(L, t);
    emL_pushtensor(L, em_nonzero(t));
    return 1;
}

/* where(cond): nonzero(cond, {as_tuple=true}); the 3-argument form belongs to the
 * elementwise family and is forwarded to the function registered before (upvalue 1). */
static int l_where(lua_State *L)
{
    if (lua_gettop(L) >= 2 && !emL_isopts(L, 2)) {
        if (lua_type(L, lua_upvalueindex(1)) != LUA_TFUNCTION)
            return luaL_error(L, "where: the 3-argument form where(cond, x, y) is not available");
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
        return lua_gettop(L);
    }
    return push_nonzero_tuple(L, emL_checktensor(L, 1));
}

static int l_take(lua_State *L)
{
    emL_pushtensor(L, em_ag_take(emL_checktensor(L, 1), check_index(L, 2)));
    return 1;
}

static const luaL_Reg index_funcs[] = {
    { "index_select", l_index_select },
    { "index_add_", l_index_add_ },
    { "index_add", l_index_add },
    { "index_copy_", l_index_copy_ },
    { "index_copy", l_index_copy },
    { "index_fill_", l_index_fill_ },
    { "index_fill", l_index_fill },
    { "gather", l_gather },
    { "scatter_", l_scatter_ },
    { "scatter", l_scatter },
    { "scatter_add_", l_scatter_add_ },
    { "scatter_add", l_scatter_add },
    { "masked_select", l_masked_select },
    { "masked_fill_", l_masked_fill_ },
    { "masked_fill", l_masked_fill },
    { "masked_scatter_", l_masked_scatter_ },
    { "masked_scatter", l_masked_scatter },
    { "nonzero", l_nonzero },
    { "take", l_take },
    { NULL, NULL },
};

void emL_open_index(lua_State *L, int methods, int module, int meta)
{
    (void)meta;
    emL_register(L, methods, module, index_funcs);
    /* wrap the earlier where of each table (elementwise's function and method
     * forms take their arguments in different orders) */
    lua_getfield(L, module, "where");
    lua_pushcclosure(L, l_where, 1);
    lua_setfield(L, module, "where");
    lua_getfield(L, methods, "where");
    lua_pushcclosure(L, l_where, 1);
    lua_setfield(L, methods, "where");
}
