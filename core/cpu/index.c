/* CPU kernels for indexing: bounds checks, gather (also index_select), scatter
 * (also index_add_/index_copy_/index_fill_), masked fill/select/scatter, nonzero.
 * Index values are Lua's (1-based, negative from the end) and have been checked by
 * index_check before a kernel that uses them runs. Order-dependent kernels
 * (masked_select, masked_scatter, nonzero) walk their operands in row-major order. */
#include "../copy.h"
#include "../dispatch.h"
#include "../error.h"
#include "../index.h"
#include "../iter.h"
#include "cpu.h"
#include "typed.h"

#include <string.h>

static inline int64_t load_index(const char *p, em_dtype dt)
{
    switch (dt) {
    case EM_INT64: return *(const int64_t *)p;
    case EM_INT32: return *(const int32_t *)p;
    default: return em_load_int64(p, dt);
    }
}

/* 1-based or negative -> 0-based (the value is known to be in range) */
static inline int64_t norm_index(int64_t v, int64_t n)
{
    return v < 0 ? v + n : v - 1;
}

static inline void copy_elem(char *dst, const char *src, size_t esize)
{
    switch (esize) {
    case 1: *(uint8_t *)dst = *(const uint8_t *)src; break;
    case 2: *(uint16_t *)dst = *(const uint16_t *)src; break;
    case 4: *(uint32_t *)dst = *(const uint32_t *)src; break;
    default: *(uint64_t *)dst = *(const uint64_t *)src; break;
    }
}

/* ---- bounds check ---- */
typedef struct check_ctx {
    em_dtype dt;
    int64_t size;
    bool bad;
    int64_t bad_value;
} check_ctx;

static void check_loop(char **data, const int64_t *s, int64_t n, void *vctx)
{
    check_ctx *c = vctx;
    if (c->bad)
        return;
    for (int64_t k = 0; k < n; k++) {
        int64_t v = load_index(data[0] + k * s[0], c->dt);
        if (v == 0 || v > c->size || v < -c->size) {
            c->bad = true;
            c->bad_value = v;
            return;
        }
    }
}

static int cpu_index_check(const char *op, const em_tensor *index, int dim, int64_t size)
{
    const em_tensor *ops[1] = { index };
    em_iter it;
    if (em_iter_init(&it, 1, ops, op) < 0)
        return -1;
    check_ctx c = { index->dtype, size, false, 0 };
    em_iter_run(&it, check_loop, &c, false);
    if (c.bad) {
        if (c.bad_value == 0)
            return em_error("%s: index 0 is out of bounds for dimension %d with size %lld (indices are 1-based)", op,
                            dim + 1, (long long)size);
        return em_error("%s: index %lld is out of bounds for dimension %d with size %lld", op,
                        (long long)c.bad_value, dim + 1, (long long)size);
    }
    return 0;
}

/* ---- gather: out[p] = src[p, dim <- index[p]] ---- */
typedef struct gather_ctx {
    size_t esize;
    em_dtype idt;
    int64_t dim_stride; /* bytes */
    int64_t dim_size;
} gather_ctx;

static void gather_loop(char **data, const int64_t *s, int64_t n, void *vctx)
{
    const gather_ctx *c = vctx;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = norm_index(load_index(data[2] + k * s[2], c->idt), c->dim_size);
        copy_elem(data[0] + k * s[0], data[1] + k * s[1] + i * c->dim_stride, c->esize);
    }
}

static int cpu_gather(em_tensor *out, const em_tensor *src, int dim, const em_tensor *index)
{
    /* src seen with out's sizes and no movement along dim: the index supplies it */
    int64_t strides[EM_MAX_DIMS];
    memcpy(strides, src->strides, sizeof strides);
    strides[dim] = 0;
    em_tensor *sv = em_tensor_new_view(src->storage, src->dtype, src->offset, out->ndim, out->sizes, strides);
    if (!sv)
        return -1;
    const em_tensor *ops[3] = { out, sv, index };
    em_iter it;
    int rc = em_iter_init(&it, 3, ops, "gather");
    if (rc == 0) {
        gather_ctx c = { em_dtype_size(src->dtype), index->dtype, src->strides[dim] * (int64_t)em_dtype_size(src->dtype),
                         src->sizes[dim] };
        em_iter_run(&it, gather_loop, &c, true);
    }
    em_tensor_release(sv);
    return rc;
}

/* ---- scatter: self[p, dim <- index[p]] (op)= src[p] ---- */
typedef struct scatter_ctx {
    em_dtype dt, idt;
    em_scatter_reduce reduce;
    em_scalar alpha;
    int64_t dim_stride;
    int64_t dim_size;
} scatter_ctx;

#define SCATTER_TYPED(T, EXPR)                                                                  \
    for (int64_t k = 0; k < n; k++) {                                                           \
        int64_t i = norm_index(load_index(data[1] + k * s[1], c->idt), c->dim_size);            \
        T *d = (T *)(data[0] + k * s[0] + i * c->dim_stride);                                   \
        T v = *(const T *)(data[2] + k * s[2]);                                                 \
        *d = (T)(EXPR);                                                                         \
    }

static void scatter_loop(char **data, const int64_t *s, int64_t n, void *vctx)
{
    const scatter_ctx *c = vctx;
    size_t esize = em_dtype_size(c->dt);
    if (c->reduce == EM_SCATTER_ASSIGN) {
        for (int64_t k = 0; k < n; k++) {
            int64_t i = norm_index(load_index(data[1] + k * s[1], c->idt), c->dim_size);
            copy_elem(data[0] + k * s[0] + i * c->dim_stride, data[2] + k * s[2], esize);
        }
        return;
    }
    bool add = c->reduce == EM_SCATTER_ADD;
    if (c->dt == EM_BOOL) {
        SCATTER_TYPED(uint8_t, add ? ((*d | v) != 0) : ((*d & v) != 0));
        return;
    }
    if (em_dtype_is_reduced(c->dt)) { /* float16 / bfloat16: compute in float */
        for (int64_t k = 0; k < n; k++) {
            int64_t i = norm_index(load_index(data[1] + k * s[1], c->idt), c->dim_size);
            char *d = data[0] + k * s[0] + i * c->dim_stride;
            double a = em_load_double(d, c->dt), b = em_load_double(data[2] + k * s[2], c->dt);
            em_store_scalar(d, c->dt, em_scalar_double(add ? a + c->alpha.d * b : a * b));
        }
        return;
    }
    if (em_dtype_is_float(c->dt)) {
        double al = c->alpha.d;
        EM_SWITCH_FLOAT(c->dt, SCATTER_TYPED(scalar_t, add ? *d + (scalar_t)al * v : *d * v))
    } else {
        int64_t al = c->alpha.is_int ? c->alpha.i : em_sat_i64(c->alpha.d);
        EM_SWITCH_INT(c->dt, SCATTER_TYPED(scalar_t, add ? *d + (scalar_t)al * v : *d * v))
    }
}

/* index_add_ on contiguous float tensors (the backward of index_select and of
 * embedding lookups): whole rows of `inner` elements are added at once, in
 * vectorisable loops, split over threads by column blocks (or by the outer dims),
 * so repeated indices never race. The index is the spread view index_put makes:
 * stride 0 in every dim but dim. Returns 1 when it handled the call. */
#define ADD_ROWS(T)                                                                                  \
    do {                                                                                             \
        T *dst = em_tensor_data(self);                                                               \
        const T *sp = em_tensor_data(src);                                                           \
        const T al = (T)alpha.d;                                                                     \
        _Pragma("omp parallel for num_threads(em_num_threads()) schedule(static) if (par)")         \
        for (int64_t job = 0; job < jobs; job++) {                                                   \
            int64_t o0 = by_cols ? 0 : job, o1 = by_cols ? outer : job + 1;                          \
            int64_t c0 = by_cols ? job * inner / jobs : 0, c1 = by_cols ? (job + 1) * inner / jobs : inner; \
            for (int64_t o = o0; o < o1; o++)                                                        \
                for (int64_t k = 0; k < n; k++) {                                                    \
                    int64_t i = norm_index(load_index(ip + k * istride, index->dtype), dsize);       \
                    T *d = dst + (o * dsize + i) * inner;                                            \
                    const T *v = sp + (o * n + k) * inner;                                           \
                    for (int64_t c = c0; c < c1; c++)                                                \
                        d[c] += al * v[c];                                                           \
                }                                                                                    \
        }                                                                                            \
    } while (0)

static int add_rows(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src, em_scalar alpha)
{
    if ((self->dtype != EM_FLOAT32 && self->dtype != EM_FLOAT64) || src->dtype != self->dtype ||
        src->ndim != self->ndim || index->ndim != self->ndim || !em_tensor_is_contiguous(self) ||
        !em_tensor_is_contiguous(src))
        return 0;
    for (int d = 0; d < self->ndim; d++)
        if ((d != dim && (index->strides[d] != 0 || src->sizes[d] != self->sizes[d])) || index->sizes[d] != src->sizes[d])
            return 0;
    int64_t outer = 1, inner = 1, n = src->sizes[dim], dsize = self->sizes[dim];
    for (int d = 0; d < dim; d++)
        outer *= self->sizes[d];
    for (int d = dim + 1; d < self->ndim; d++)
        inner *= self->sizes[d];
    const char *ip = em_tensor_data(index);
    int64_t istride = index->strides[dim] * (int64_t)em_dtype_size(index->dtype);
    int nt = em_num_threads();
    bool by_cols = outer < nt && inner >= 64 * nt;
    int64_t jobs = by_cols ? nt : outer;
    bool par = nt > 1 && outer * n * inner >= EM_PARALLEL_THRESHOLD && (by_cols || outer > 1);
    if (self->dtype == EM_FLOAT32)
        ADD_ROWS(float);
    else
        ADD_ROWS(double);
    return 1;
}

static int cpu_scatter(em_tensor *self, int dim, const em_tensor *index, const em_tensor *src,
                       em_scatter_reduce reduce, em_scalar alpha)
{
    if (reduce == EM_SCATTER_ADD && src->ndim > 0 && add_rows(self, dim, index, src, alpha))
        return 0;
    int64_t strides[EM_MAX_DIMS];
    memcpy(strides, self->strides, sizeof strides);
    strides[dim] = 0;
    em_tensor *sv = em_tensor_new_view(self->storage, self->dtype, self->offset, index->ndim, index->sizes, strides);
    if (!sv)
        return -1;
    const em_tensor *ops[3] = { sv, index, src };
    em_iter it;
    int rc = em_iter_init(&it, 3, ops, "scatter");
    if (rc == 0) {
        scatter_ctx c = { self->dtype, index->dtype, reduce, alpha,
                          self->strides[dim] * (int64_t)em_dtype_size(self->dtype), self->sizes[dim] };
        em_iter_run(&it, scatter_loop, &c, false); /* serial: indices may repeat */
    }
    em_tensor_release(sv);
    return rc;
}

/* ---- masked_fill ---- */
static void masked_fill_loop(char **data, const int64_t *s, int64_t n, void *vctx)
{
    size_t esize = *(const size_t *)vctx;
    for (int64_t k = 0; k < n; k++)
        if (*(const uint8_t *)(data[1] + k * s[1]))
            copy_elem(data[0] + k * s[0], data[2], esize);
}

static int cpu_masked_fill(em_tensor *self, const em_tensor *mask, const em_tensor *value)
{
    const em_tensor *ops[3] = { self, mask, value };
    em_iter it;
    if (em_iter_init(&it, 3, ops, "masked_fill_") < 0)
        return -1;
    size_t esize = em_dtype_size(self->dtype);
    em_iter_run(&it, masked_fill_loop, &esize, true);
    return 0;
}

/* ---- row-major walks ---- */
typedef struct walk {
    int nd, nops;
    int64_t sizes[EM_MAX_DIMS], idx[EM_MAX_DIMS];
    int64_t st[2][EM_MAX_DIMS];
    char *p[2];
} walk;

static void walk_init(walk *w, int nops, const em_tensor *const *ts)
{
    w->nd = ts[0]->ndim;
    w->nops = nops;
    for (int d = 0; d < w->nd; d++) {
        w->sizes[d] = ts[0]->sizes[d];
        w->idx[d] = 0;
    }
    for (int k = 0; k < nops; k++) {
        w->p[k] = (char *)em_tensor_data(ts[k]);
        for (int d = 0; d < w->nd; d++)
            w->st[k][d] = ts[k]->strides[d] * (int64_t)em_dtype_size(ts[k]->dtype);
    }
}

static void walk_next(walk *w)
{
    for (int d = w->nd - 1; d >= 0; d--) {
        for (int k = 0; k < w->nops; k++)
            w->p[k] += w->st[k][d];
        if (++w->idx[d] < w->sizes[d])
            return;
        for (int k = 0; k < w->nops; k++)
            w->p[k] -= w->st[k][d] * w->sizes[d];
        w->idx[d] = 0;
    }
}

static int64_t count_mask(const em_tensor *mask)
{
    walk w;
    walk_init(&w, 1, &mask);
    int64_t n = em_tensor_numel(mask), c = 0;
    for (int64_t e = 0; e < n; e++, walk_next(&w))
        c += *(const uint8_t *)w.p[0] != 0;
    return c;
}

static em_tensor *cpu_masked_select(const em_tensor *src, const em_tensor *mask)
{
    int64_t count = count_mask(mask);
    em_tensor *out = em_tensor_empty(1, &count, src->dtype, EM_CPU);
    if (!out)
        return NULL;
    const em_tensor *ts[2] = { src, mask };
    walk w;
    walk_init(&w, 2, ts);
    size_t esize = em_dtype_size(src->dtype);
    char *o = em_tensor_data(out);
    int64_t n = em_tensor_numel(src);
    for (int64_t e = 0; e < n; e++, walk_next(&w))
        if (*(const uint8_t *)w.p[1]) {
            copy_elem(o, w.p[0], esize);
            o += esize;
        }
    return out;
}

static int cpu_masked_scatter(em_tensor *self, const em_tensor *mask, const em_tensor *src)
{
    int64_t count = count_mask(mask), have = em_tensor_numel(src);
    if (count > have)
        return em_error("masked_scatter_: the mask selects %lld elements but the source has only %lld",
                        (long long)count, (long long)have);
    const em_tensor *ts[2] = { self, mask };
    walk w;
    walk_init(&w, 2, ts);
    size_t esize = em_dtype_size(self->dtype);
    const char *in = em_tensor_data(src);
    int64_t n = em_tensor_numel(self);
    for (int64_t e = 0; e < n; e++, walk_next(&w))
        if (*(const uint8_t *)w.p[1]) {
            copy_elem(w.p[0], in, esize);
            in += esize;
        }
    return 0;
}

static inline bool is_nonzero(const char *p, em_dtype dt, size_t esize)
{
    if (em_dtype_is_float(dt))
        return em_load_double(p, dt) != 0.0; /* -0.0 is zero, nan is not */
    for (size_t b = 0; b < esize; b++)
        if (p[b])
            return true;
    return false;
}

static em_tensor *cpu_nonzero(const em_tensor *src)
{
    int64_t n = em_tensor_numel(src), count = 0;
    size_t esize = em_dtype_size(src->dtype);
    walk w;
    walk_init(&w, 1, &src);
    for (int64_t e = 0; e < n; e++, walk_next(&w))
        count += is_nonzero(w.p[0], src->dtype, esize);
    int64_t sizes[2] = { count, src->ndim };
    em_tensor *out = em_tensor_empty(2, sizes, EM_INT64, EM_CPU);
    if (!out)
        return NULL;
    int64_t *o = em_tensor_data(out);
    walk_init(&w, 1, &src);
    for (int64_t e = 0; e < n; e++, walk_next(&w))
        if (is_nonzero(w.p[0], src->dtype, esize))
            for (int d = 0; d < src->ndim; d++)
                *o++ = w.idx[d] + 1;
    return out;
}

void em_cpu_register_index(em_backend *be)
{
    be->kernels[EM_K_INDEX_CHECK] = (em_kernel_fn)cpu_index_check;
    be->kernels[EM_K_INDEX_SELECT] = (em_kernel_fn)cpu_gather;
    be->kernels[EM_K_GATHER] = (em_kernel_fn)cpu_gather;
    be->kernels[EM_K_INDEX_PUT] = (em_kernel_fn)cpu_scatter;
    be->kernels[EM_K_SCATTER] = (em_kernel_fn)cpu_scatter;
    be->kernels[EM_K_MASKED] = (em_kernel_fn)cpu_masked_fill;
    be->kernels[EM_K_MASKED_SELECT] = (em_kernel_fn)cpu_masked_select;
    be->kernels[EM_K_MASKED_SCATTER] = (em_kernel_fn)cpu_masked_scatter;
    be->kernels[EM_K_NONZERO] = (em_kernel_fn)cpu_nonzero;
}
