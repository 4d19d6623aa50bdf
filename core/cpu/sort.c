/* CPU sort, topk and unique: a stable merge sort of positions keyed by value, one
 * line at a time (lines along the sorted dim, in parallel above a size threshold);
 * unique over a dim sorts whole slices (rows) lexicographically. */
#include <stdlib.h>
#include <string.h>

#include "../dispatch.h"
#include "../error.h"
#include "../iter.h"
#include "../reduce.h"
#include "cpu.h"
#include "sortline.h"
#include "typed.h"

#define NO_NAN(x) 0
#define BEFORE(a, b, desc, ISNAN) \
    ((desc) ? ((a) > (b) || (ISNAN(a) && !ISNAN(b))) : ((a) < (b) || (!ISNAN(a) && ISNAN(b))))

/* Insertion sort on runs of 16, then bottom-up merges; takes from the right run only
 * when strictly before, so equal values keep their order. */
#define DEF_MSORT(NAME, T, ISNAN)                                                                   \
    static void msort_##NAME(const T *v, int64_t *idx, int64_t *tmp, int64_t n, bool desc)          \
    {                                                                                               \
        for (int64_t lo = 0; lo < n; lo += 16) {                                                    \
            int64_t hi = lo + 16 < n ? lo + 16 : n;                                                 \
            for (int64_t i = lo + 1; i < hi; i++) {                                                 \
                int64_t x = idx[i], j = i;                                                          \
                while (j > lo && BEFORE(v[x], v[idx[j - 1]], desc, ISNAN)) {                        \
                    idx[j] = idx[j - 1];                                                            \
                    j--;                                                                            \
                }                                                                                   \
                idx[j] = x;                                                                         \
            }                                                                                       \
        }                                                                                           \
        int64_t *src = idx, *dst = tmp;                                                             \
        for (int64_t w = 16; w < n; w *= 2) {                                                       \
            for (int64_t lo = 0; lo < n; lo += 2 * w) {                                             \
                int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;        \
                int64_t i = lo, j = mid;                                                            \
                for (int64_t o = lo; o < hi; o++) {                                                 \
                    if (j < hi && (i >= mid || BEFORE(v[src[j]], v[src[i]], desc, ISNAN)))          \
                        dst[o] = src[j++];                                                          \
                    else                                                                            \
                        dst[o] = src[i++];                                                          \
                }                                                                                   \
            }                                                                                       \
            int64_t *t = src;                                                                       \
            src = dst;                                                                              \
            dst = t;                                                                                \
        }                                                                                           \
        if (src != idx)                                                                             \
            memcpy(idx, src, (size_t)n * sizeof(int64_t));                                          \
    }

DEF_MSORT(u8, uint8_t, NO_NAN)
DEF_MSORT(i8, int8_t, NO_NAN)
DEF_MSORT(i16, int16_t, NO_NAN)
DEF_MSORT(i32, int32_t, NO_NAN)
DEF_MSORT(i64, int64_t, NO_NAN)
DEF_MSORT(f32, float, isnan)
DEF_MSORT(f64, double, isnan)

void em_cpu_argsort_line(em_dtype dt, const char *line, int64_t n, int64_t stride, bool descending, void *buf,
                         int64_t *idx, int64_t *tmp)
{
    size_t es = em_dtype_size(dt);
    char *b = buf;
    for (int64_t k = 0; k < n; k++) {
        memcpy(b + (size_t)k * es, line + k * stride, es);
        idx[k] = k;
    }
    switch (dt) {
    case EM_BOOL:
    case EM_UINT8: msort_u8(buf, idx, tmp, n, descending); break;
    case EM_INT8: msort_i8(buf, idx, tmp, n, descending); break;
    case EM_INT16: msort_i16(buf, idx, tmp, n, descending); break;
    case EM_INT32: msort_i32(buf, idx, tmp, n, descending); break;
    case EM_INT64: msort_i64(buf, idx, tmp, n, descending); break;
    case EM_FLOAT32: msort_f32(buf, idx, tmp, n, descending); break;
    case EM_FLOAT64: msort_f64(buf, idx, tmp, n, descending); break;
    default: break;
    }
}

bool em_cpu_elem_eq(em_dtype dt, const void *a, const void *b)
{
    if (em_dtype_is_float(dt))
        return em_load_double(a, dt) == em_load_double(b, dt);
    return em_load_int64(a, dt) == em_load_int64(b, dt);
}

bool em_cpu_elem_isnan(em_dtype dt, const void *a)
{
    return em_dtype_is_float(dt) && isnan(em_load_double(a, dt));
}

/* ---- sort / topk: lines along dim; the first k of each sorted line are written ---- */
typedef struct sort_ctx {
    em_dtype dt;
    int64_t len, stride, k;         /* line length, input stride along dim (bytes), kept */
    int64_t vstride, istride;       /* output strides along dim (bytes) */
    bool descending;
    volatile bool failed;
} sort_ctx;

/* data: indices line starts, values line starts, input line starts */
static void sort_lines(char **data, const int64_t *s, int64_t n, void *ctx)
{
    sort_ctx *c = ctx;
    size_t es = em_dtype_size(c->dt);
    int64_t len = c->len > 0 ? c->len : 1;
    int64_t *idx = malloc((size_t)len * 2 * sizeof(int64_t));
    char *buf = malloc((size_t)len * es);
    if (!idx || !buf) {
        c->failed = true;
        free(idx);
        free(buf);
        return;
    }
    for (int64_t l = 0; l < n; l++) {
        char *io = data[0] + l * s[0], *vo = data[1] + l * s[1];
        const char *in = data[2] + l * s[2];
        em_cpu_argsort_line(c->dt, in, c->len, c->stride, c->descending, buf, idx, idx + len);
        for (int64_t j = 0; j < c->k; j++) {
            memcpy(vo + j * c->vstride, buf + (size_t)idx[j] * es, es);
            *(int64_t *)(io + j * c->istride) = idx[j] + 1;
        }
    }
    free(idx);
    free(buf);
}

/* A view of t with dim shrunk to size 1: the starts of the lines along dim. */
static em_tensor *line_starts(const em_tensor *t, int dim)
{
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, t->sizes, sizeof sizes);
    sizes[dim] = 1;
    return em_tensor_new_view(t->storage, t->dtype, t->offset, t->ndim, sizes, t->strides);
}

static int cpu_sort(em_tensor *values, em_tensor *indices, const em_tensor *in, int dim, bool descending)
{
    sort_ctx c = { .dt = in->dtype, .len = in->sizes[dim], .k = values->sizes[dim], .descending = descending };
    int64_t es = (int64_t)em_dtype_size(in->dtype);
    c.stride = in->strides[dim] * es;
    c.vstride = values->strides[dim] * es;
    c.istride = indices->strides[dim] * (int64_t)sizeof(int64_t);
    if (c.k == 0 || em_tensor_numel(in) == 0)
        return 0;
    em_tensor *ops[3] = { line_starts(indices, dim), line_starts(values, dim), line_starts(in, dim) };
    int rc = -1;
    em_iter it;
    if (ops[0] && ops[1] && ops[2] && em_iter_init(&it, 3, (const em_tensor *const *)ops, "sort") == 0) {
        bool par = it.numel * c.len >= EM_PARALLEL_THRESHOLD && it.numel > 1;
        em_iter_run(&it, sort_lines, &c, par);
        rc = c.failed ? em_error("sort: out of memory for a line of %lld elements", (long long)c.len) : 0;
    }
    for (int i = 0; i < 3; i++)
        em_tensor_release(ops[i]);
    return rc;
}

/* ---- unique over a contiguous 1-D tensor ---- */
static int cpu_unique(const em_tensor *in, em_tensor **values, em_tensor **inverse, em_tensor **counts)
{
    int64_t n = in->sizes[0], len = n > 0 ? n : 1;
    em_dtype dt = in->dtype;
    size_t es = em_dtype_size(dt);
    int64_t *idx = malloc((size_t)len * 2 * sizeof(int64_t));
    char *buf = malloc((size_t)len * es);
    em_tensor *v = NULL, *inv = NULL, *cnt = NULL;
    if (!idx || !buf) {
        em_error("unique: out of memory for %lld elements", (long long)n);
        goto fail;
    }
    em_cpu_argsort_line(dt, em_tensor_data(in), n, (int64_t)es, false, buf, idx, idx + len);
    int64_t u = 0; /* number of distinct values */
    for (int64_t j = 0; j < n; j++)
        if (j == 0 || !em_cpu_elem_eq(dt, buf + idx[j] * es, buf + idx[j - 1] * es))
            u++;
    v = em_tensor_empty(1, &u, dt, EM_CPU);
    if (!v || (inverse && !(inv = em_tensor_empty(1, &n, EM_INT64, EM_CPU))) ||
        (counts && !(cnt = em_tensor_empty(1, &u, EM_INT64, EM_CPU))))
        goto fail;
    char *vd = em_tensor_data(v);
    int64_t *id = inv ? em_tensor_data(inv) : NULL, *cd = cnt ? em_tensor_data(cnt) : NULL;
    for (int64_t j = 0, g = -1; j < n; j++) {
        if (j == 0 || !em_cpu_elem_eq(dt, buf + idx[j] * es, buf + idx[j - 1] * es)) {
            g++;
            memcpy(vd + g * (int64_t)es, buf + idx[j] * es, es);
            if (cd)
                cd[g] = 0;
        }
        if (cd)
            cd[g]++;
        if (id)
            id[idx[j]] = g + 1;
    }
    free(idx);
    free(buf);
    *values = v;
    if (inverse)
        *inverse = inv;
    if (counts)
        *counts = cnt;
    return 0;
fail:
    free(idx);
    free(buf);
    em_tensor_release(v);
    em_tensor_release(inv);
    em_tensor_release(cnt);
    return -1;
}

/* ---- unique slices: rows of a contiguous (n, m) tensor ---- */
/* -1, 0, 1 for a before, equal to, after b (NaN after every number, as in sort) */
static int elem_cmp(em_dtype dt, const char *a, const char *b)
{
    if (em_dtype_is_float(dt)) {
        double x = em_load_double(a, dt), y = em_load_double(b, dt);
        if (isnan(x) || isnan(y))
            return isnan(x) - isnan(y);
        return (x > y) - (x < y);
    }
    int64_t x = em_load_int64(a, dt), y = em_load_int64(b, dt);
    return (x > y) - (x < y);
}

typedef struct rows_ctx {
    em_dtype dt;
    const char *data;
    int64_t m;  /* elements per row */
    size_t es;
} rows_ctx;

/* lexicographic order of rows i and j */
static int row_cmp(const rows_ctx *c, int64_t i, int64_t j)
{
    const char *a = c->data + i * c->m * (int64_t)c->es, *b = c->data + j * c->m * (int64_t)c->es;
    for (int64_t k = 0; k < c->m; k++) {
        int r = elem_cmp(c->dt, a + k * (int64_t)c->es, b + k * (int64_t)c->es);
        if (r)
            return r;
    }
    return 0;
}

static bool row_eq(const rows_ctx *c, int64_t i, int64_t j)
{
    const char *a = c->data + i * c->m * (int64_t)c->es, *b = c->data + j * c->m * (int64_t)c->es;
    for (int64_t k = 0; k < c->m; k++)
        if (!em_cpu_elem_eq(c->dt, a + k * (int64_t)c->es, b + k * (int64_t)c->es))
            return false;
    return true;
}

/* stable top-down merge sort of row numbers idx[lo, hi) using tmp */
static void rows_msort(const rows_ctx *c, int64_t *idx, int64_t *tmp, int64_t lo, int64_t hi)
{
    if (hi - lo < 2)
        return;
    int64_t mid = lo + (hi - lo) / 2;
    rows_msort(c, idx, tmp, lo, mid);
    rows_msort(c, idx, tmp, mid, hi);
    int64_t i = lo, j = mid;
    for (int64_t o = lo; o < hi; o++)
        tmp[o] = (j < hi && (i >= mid || row_cmp(c, idx[j], idx[i]) < 0)) ? idx[j++] : idx[i++];
    memcpy(idx + lo, tmp + lo, (size_t)(hi - lo) * sizeof(int64_t));
}

static int cpu_unique_dim(const em_tensor *in, em_tensor **values, em_tensor **inverse, em_tensor **counts)
{
    int64_t n = in->sizes[0], len = n > 0 ? n : 1;
    rows_ctx c = { in->dtype, em_tensor_data(in), in->sizes[1], em_dtype_size(in->dtype) };
    int64_t *idx = malloc((size_t)len * 2 * sizeof(int64_t));
    em_tensor *v = NULL, *inv = NULL, *cnt = NULL;
    if (!idx) {
        em_error("unique: out of memory for %lld slices", (long long)n);
        goto fail;
    }
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    rows_msort(&c, idx, idx + len, 0, n);
    int64_t u = 0; /* number of distinct rows */
    for (int64_t j = 0; j < n; j++)
        if (j == 0 || !row_eq(&c, idx[j], idx[j - 1]))
            u++;
    int64_t vs[2] = { u, c.m };
    v = em_tensor_empty(2, vs, c.dt, EM_CPU);
    if (!v || (inverse && !(inv = em_tensor_empty(1, &n, EM_INT64, EM_CPU))) ||
        (counts && !(cnt = em_tensor_empty(1, &u, EM_INT64, EM_CPU))))
        goto fail;
    char *vd = em_tensor_data(v);
    int64_t row = c.m * (int64_t)c.es;
    int64_t *id = inv ? em_tensor_data(inv) : NULL, *cd = cnt ? em_tensor_data(cnt) : NULL;
    for (int64_t j = 0, g = -1; j < n; j++) {
        if (j == 0 || !row_eq(&c, idx[j], idx[j - 1])) {
            g++;
            memcpy(vd + g * row, c.data + idx[j] * row, (size_t)row);
            if (cd)
                cd[g] = 0;
        }
        if (cd)
            cd[g]++;
        if (id)
            id[idx[j]] = g + 1;
    }
    free(idx);
    *values = v;
    if (inverse)
        *inverse = inv;
    if (counts)
        *counts = cnt;
    return 0;
fail:
    free(idx);
    em_tensor_release(v);
    em_tensor_release(inv);
    em_tensor_release(cnt);
    return -1;
}

void em_cpu_register_sort(em_backend *be)
{
    be->kernels[EM_K_SORT] = (em_kernel_fn)cpu_sort;
    be->kernels[EM_K_UNIQUE] = (em_kernel_fn)cpu_unique;
    be->kernels[EM_K_UNIQUE_DIM] = (em_kernel_fn)cpu_unique_dim;
}
