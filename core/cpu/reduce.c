/* CPU reductions: each output element reduces one strided run of the input (see
 * core/reduce.c). Floats accumulate in double; integer sums and products wrap in
 * int64 as in PyTorch. Work is split over threads by output element, or, for a few
 * long runs, by chunks of the run whose partial results are combined. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../copy.h"
#include "../dispatch.h"
#include "../error.h"
#include "../iter.h"
#include "../reduce.h"
#include "cpu.h"
#include "sortline.h"
#include "typed.h"

#define NO_NAN(x) 0
#define AT(T, k) (*(const T *)(base + (k) * s))

/* A partial result: d for floating inputs, i for integral ones (and counts, flags). */
typedef struct acc {
    double d;
    int64_t i;
} acc;

typedef struct rctx {
    em_reduce_op op;
    double p, correction;
    em_dtype in_dt, out_dt;
    bool isf;
    int64_t len, stride; /* run length, run stride in bytes */
} rctx;

/* Contiguous fast paths: independent accumulators (and OpenMP simd reductions) let
 * the compiler vectorise; a NaN anywhere makes the extreme NaN. */
#define DEF_CONTIG(NAME, T, ISNAN)                                                      \
    static double sum_contig_##NAME(const T *x, int64_t n)                              \
    {                                                                                   \
        /* blocks of 256 summed in 16 lanes of T (float: exact enough for 16 terms     \
         * per lane), the block sums in double */                                       \
        double t = 0;                                                                   \
        int64_t k = 0;                                                                  \
        if ((T)0.5 != 0) {                                                              \
            for (; k + 256 <= n; k += 256) {                                            \
                T a[16] = { 0 };                                                        \
                for (int b = 0; b < 256; b += 16)                                       \
                    for (int j = 0; j < 16; j++)                                        \
                        a[j] += x[k + b + j];                                           \
                double bs = 0;                                                          \
                for (int j = 0; j < 16; j++)                                            \
                    bs += (double)a[j];                                                 \
                t += bs;                                                                \
            }                                                                           \
        }                                                                               \
        for (; k < n; k++)                                                              \
            t += (double)x[k];                                                          \
        return t;                                                                       \
    }                                                                                   \
    static T extreme_contig_##NAME(const T *x, int64_t n, bool mx)                      \
    {                                                                                   \
        T m = x[0];                                                                     \
        int nan = 0;                                                                    \
        if (mx) {                                                                       \
            _Pragma("omp simd reduction(max : m) reduction(| : nan)")                   \
            for (int64_t k = 0; k < n; k++) {                                           \
                m = x[k] > m ? x[k] : m;                                                \
                nan |= ISNAN(x[k]);                                                     \
            }                                                                           \
        } else {                                                                        \
            _Pragma("omp simd reduction(min : m) reduction(| : nan)")                   \
            for (int64_t k = 0; k < n; k++) {                                           \
                m = x[k] < m ? x[k] : m;                                                \
                nan |= ISNAN(x[k]);                                                     \
            }                                                                           \
        }                                                                               \
        if (nan)                                                                        \
            for (int64_t k = 0; k < n; k++)                                             \
                if (ISNAN(x[k]))                                                        \
                    return x[k];                                                        \
        return m;                                                                       \
    }

DEF_CONTIG(b8, uint8_t, NO_NAN)
DEF_CONTIG(u8, uint8_t, NO_NAN)
DEF_CONTIG(i8, int8_t, NO_NAN)
DEF_CONTIG(i16, int16_t, NO_NAN)
DEF_CONTIG(i32, int32_t, NO_NAN)
DEF_CONTIG(i64, int64_t, NO_NAN)
DEF_CONTIG(f32, float, isnan)
DEF_CONTIG(f64, double, isnan)

/* One pass over a run of n elements (stride s bytes) for the ops that combine. */
#define DEF_RAW(NAME, T, ISF, ISNAN)                                                             \
    static acc raw_##NAME(const rctx *c, const char *base, int64_t n, int64_t s)                 \
    {                                                                                            \
        acc r = { 0.0, 0 };                                                                      \
        switch (c->op) {                                                                         \
        case EM_RED_SUM:                                                                         \
        case EM_RED_MEAN:                                                                        \
            if (ISF) {                                                                           \
                double t = 0;                                                                    \
                if (s == (int64_t)sizeof(T)) {                                                   \
                    t = sum_contig_##NAME((const T *)base, n);                                   \
                } else {                                                                         \
                    for (int64_t k = 0; k < n; k++)                                              \
                        t += (double)AT(T, k);                                                   \
                }                                                                                \
                r.d = t;                                                                         \
            } else {                                                                             \
                uint64_t t = 0;                                                                  \
                for (int64_t k = 0; k < n; k++)                                                  \
                    t += (uint64_t)(int64_t)AT(T, k);                                            \
                r.i = (int64_t)t;                                                                \
            }                                                                                    \
            break;                                                                               \
        case EM_RED_PROD:                                                                        \
            if (ISF) {                                                                           \
                double t = 1;                                                                    \
                for (int64_t k = 0; k < n; k++)                                                  \
                    t *= (double)AT(T, k);                                                       \
                r.d = t;                                                                         \
            } else {                                                                             \
                uint64_t t = 1;                                                                  \
                for (int64_t k = 0; k < n; k++)                                                  \
                    t *= (uint64_t)(int64_t)AT(T, k);                                            \
                r.i = (int64_t)t;                                                                \
            }                                                                                    \
            break;                                                                               \
        case EM_RED_AMAX:                                                                        \
        case EM_RED_AMIN: {                                                                      \
            bool mx = c->op == EM_RED_AMAX;                                                      \
            if (s == (int64_t)sizeof(T) && n > 0) {                                              \
                T m = extreme_contig_##NAME((const T *)base, n, mx);                             \
                r.d = (double)m;                                                                 \
                r.i = (int64_t)m;                                                                \
            } else if (ISF) {                                                                    \
                double m = mx ? -INFINITY : INFINITY;                                            \
                for (int64_t k = 0; k < n; k++) {                                                \
                    double v = (double)AT(T, k);                                                 \
                    if (ISNAN(v)) {                                                              \
                        m = v;                                                                   \
                        break;                                                                   \
                    }                                                                            \
                    if (mx ? v > m : v < m)                                                      \
                        m = v;                                                                   \
                }                                                                                \
                r.d = m;                                                                         \
            } else {                                                                             \
                int64_t m = mx ? INT64_MIN : INT64_MAX;                                          \
                for (int64_t k = 0; k < n; k++) {                                                \
                    int64_t v = (int64_t)AT(T, k);                                               \
                    if (mx ? v > m : v < m)                                                      \
                        m = v;                                                                   \
                }                                                                                \
                r.i = m;                                                                         \
            }                                                                                    \
            break;                                                                               \
        }                                                                                        \
        case EM_RED_ALL:                                                                         \
            r.i = 1;                                                                             \
            for (int64_t k = 0; k < n && r.i; k++)                                               \
                r.i = AT(T, k) != 0;                                                             \
            break;                                                                               \
        case EM_RED_ANY:                                                                         \
            for (int64_t k = 0; k < n && !r.i; k++)                                              \
                r.i = AT(T, k) != 0;                                                             \
            break;                                                                               \
        case EM_RED_COUNT_NONZERO:                                                               \
            for (int64_t k = 0; k < n; k++)                                                      \
                r.i += AT(T, k) != 0;                                                            \
            break;                                                                               \
        case EM_RED_NORM: {                                                                      \
            double p = c->p, t = p == -INFINITY ? INFINITY : 0.0;                                \
            for (int64_t k = 0; k < n; k++) {                                                    \
                double v = fabs((double)AT(T, k));                                               \
                if (p == 2)                                                                      \
                    t += v * v;                                                                  \
                else if (p == 1)                                                                 \
                    t += v;                                                                      \
                else if (p == 0)                                                                 \
                    t += v != 0;                                                                 \
                else if (p == INFINITY)                                                          \
                    t = (ISNAN(v) || v > t) ? v : t;                                             \
                else if (p == -INFINITY)                                                         \
                    t = (ISNAN(v) || v < t) ? v : t;                                             \
                else                                                                             \
                    t += pow(v, p);                                                              \
                if (ISNAN(t))                                                                    \
                    break;                                                                       \
            }                                                                                    \
            r.d = t;                                                                             \
            break;                                                                               \
        }                                                                                        \
        default: break;                                                                          \
        }                                                                                        \
        return r;                                                                                \
    }

DEF_RAW(b8, uint8_t, 0, NO_NAN)
DEF_RAW(u8, uint8_t, 0, NO_NAN)
DEF_RAW(i8, int8_t, 0, NO_NAN)
DEF_RAW(i16, int16_t, 0, NO_NAN)
DEF_RAW(i32, int32_t, 0, NO_NAN)
DEF_RAW(i64, int64_t, 0, NO_NAN)
DEF_RAW(f32, float, 1, isnan)
DEF_RAW(f64, double, 1, isnan)

static acc raw(const rctx *c, const char *base, int64_t n, int64_t s)
{
    switch (c->in_dt) {
    case EM_BOOL: return raw_b8(c, base, n, s);
    case EM_UINT8: return raw_u8(c, base, n, s);
    case EM_INT8: return raw_i8(c, base, n, s);
    case EM_INT16: return raw_i16(c, base, n, s);
    case EM_INT32: return raw_i32(c, base, n, s);
    case EM_INT64: return raw_i64(c, base, n, s);
    case EM_FLOAT32: return raw_f32(c, base, n, s);
    default: return raw_f64(c, base, n, s);
    }
}

/* Two passes over a run (floating inputs): var/std and logsumexp. */
#define DEF_TWO(NAME, T)                                                                \
    static double two_##NAME(const rctx *c, const char *base, int64_t n, int64_t s)     \
    {                                                                                   \
        if (c->op == EM_RED_LOGSUMEXP) {                                                \
            double m = -INFINITY;                                                       \
            for (int64_t k = 0; k < n; k++) {                                           \
                double v = (double)AT(T, k);                                            \
                if (isnan(v))                                                           \
                    return v;                                                           \
                m = v > m ? v : m;                                                      \
            }                                                                           \
            if (isinf(m))                                                               \
                return m;                                                               \
            double t = 0;                                                               \
            for (int64_t k = 0; k < n; k++)                                             \
                t += exp((double)AT(T, k) - m);                                         \
            return m + log(t);                                                          \
        }                                                                               \
        double mean = 0, m2 = 0;                                                        \
        for (int64_t k = 0; k < n; k++)                                                 \
            mean += (double)AT(T, k);                                                   \
        mean /= (double)n;                                                              \
        for (int64_t k = 0; k < n; k++) {                                               \
            double d = (double)AT(T, k) - mean;                                         \
            m2 += d * d;                                                                \
        }                                                                               \
        double dof = (double)n - c->correction;                                         \
        double var = m2 / (dof > 0 ? dof : 0);                                          \
        return c->op == EM_RED_STD ? sqrt(var) : var;                                   \
    }
DEF_TWO(f32, float)
DEF_TWO(f64, double)

static bool is_two_pass(em_reduce_op op)
{
    return op == EM_RED_VAR || op == EM_RED_STD || op == EM_RED_LOGSUMEXP;
}

static acc combine(const rctx *c, acc x, acc y)
{
    acc r = x;
    switch (c->op) {
    case EM_RED_PROD:
        r.d = x.d * y.d;
        r.i = (int64_t)((uint64_t)x.i * (uint64_t)y.i);
        break;
    case EM_RED_AMAX:
        r.d = isnan(x.d) ? x.d : isnan(y.d) ? y.d : fmax(x.d, y.d);
        r.i = x.i > y.i ? x.i : y.i;
        break;
    case EM_RED_AMIN:
        r.d = isnan(x.d) ? x.d : isnan(y.d) ? y.d : fmin(x.d, y.d);
        r.i = x.i < y.i ? x.i : y.i;
        break;
    case EM_RED_ALL: r.i = x.i && y.i; break;
    case EM_RED_ANY: r.i = x.i || y.i; break;
    case EM_RED_NORM:
        if (c->p == INFINITY)
            r.d = isnan(x.d) ? x.d : isnan(y.d) ? y.d : fmax(x.d, y.d);
        else if (c->p == -INFINITY)
            r.d = isnan(x.d) ? x.d : isnan(y.d) ? y.d : fmin(x.d, y.d);
        else
            r.d = x.d + y.d;
        break;
    default: /* sums and counts */
        r.d = x.d + y.d;
        r.i = (int64_t)((uint64_t)x.i + (uint64_t)y.i);
        break;
    }
    return r;
}

static void finish(const rctx *c, char *o, acc r)
{
    em_scalar v = c->isf ? em_scalar_double(r.d) : em_scalar_int(r.i);
    switch (c->op) {
    case EM_RED_MEAN: v = em_scalar_double(r.d / (double)c->len); break;
    case EM_RED_ALL:
    case EM_RED_ANY:
    case EM_RED_COUNT_NONZERO: v = em_scalar_int(r.i); break;
    case EM_RED_NORM:
        if (c->p == 2)
            r.d = sqrt(r.d);
        else if (c->p != 1 && c->p != 0 && !isinf(c->p))
            r.d = pow(r.d, 1.0 / c->p);
        v = em_scalar_double(r.d);
        break;
    default: break;
    }
    em_store_scalar(o, c->out_dt, v);
}

static void reduce_one(const rctx *c, char *o, const char *in)
{
    if (is_two_pass(c->op)) {
        double d = c->in_dt == EM_FLOAT32 ? two_f32(c, in, c->len, c->stride) : two_f64(c, in, c->len, c->stride);
        em_store_scalar(o, c->out_dt, em_scalar_double(d));
        return;
    }
    finish(c, o, raw(c, in, c->len, c->stride));
}

/* data: outputs, run starts */
static void reduce_loop(char **data, const int64_t *s, int64_t n, void *ctx)
{
    const rctx *c = ctx;
    for (int64_t k = 0; k < n; k++)
        reduce_one(c, data[0] + k * s[0], data[1] + k * s[1]);
}

#define MAX_PARTS 256

/* One long run split into per-thread chunks. */
static void reduce_split_loop(char **data, const int64_t *s, int64_t n, void *ctx)
{
    const rctx *c = ctx;
    for (int64_t k = 0; k < n; k++) {
        char *o = data[0] + k * s[0];
        const char *in = data[1] + k * s[1];
        acc parts[MAX_PARTS];
        int used = 1;
        int nt = em_num_threads() < MAX_PARTS ? em_num_threads() : MAX_PARTS;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int tid = omp_get_thread_num(), nth = omp_get_num_threads();
            int64_t chunk = (c->len + nth - 1) / nth;
            int64_t b = tid * chunk, e = b + chunk < c->len ? b + chunk : c->len;
            parts[tid] = raw(c, in + (b < e ? b : 0) * c->stride, b < e ? e - b : 0, c->stride);
            if (tid == 0)
                used = nth;
        }
#else
        (void)nt;
        parts[0] = raw(c, in, c->len, c->stride);
#endif
        acc r = parts[0];
        for (int t = 1; t < used; t++)
            r = combine(c, r, parts[t]);
        finish(c, o, r);
    }
}

/* Column sums: when neighbouring outputs read neighbouring inputs (a sum over dim 1
 * of a row-major matrix), walking each run would stride through memory; instead
 * whole rows are added into per-output double accumulators. */
#define DEF_COLS(NAME, T)                                                                  \
    static void cols_##NAME(double *sums, const char *base, int64_t nout, int64_t len,      \
                            int64_t stride)                                                \
    {                                                                                      \
        for (int64_t j = 0; j < nout; j++)                                                 \
            sums[j] = 0;                                                                   \
        for (int64_t r = 0; r < len; r++) {                                                \
            const T *row = (const T *)(base + r * stride);                                 \
            for (int64_t j = 0; j < nout; j++)                                             \
                sums[j] += (double)row[j];                                                 \
        }                                                                                  \
    }
DEF_COLS(f32, float)
DEF_COLS(f64, double)

static bool try_column_sum(const rctx *c, const em_iter *it)
{
    int64_t es = (int64_t)em_dtype_size(c->in_dt);
    if ((c->op != EM_RED_SUM && c->op != EM_RED_MEAN) || !c->isf || it->ndim != 1 ||
        it->strides[1][0] != es || c->stride == es || c->len < 2)
        return false;
    int64_t nout = it->numel;
    int nt = em_num_threads();
    if (nt < 1 || nout * c->len < EM_PARALLEL_THRESHOLD)
        nt = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int tid = 0, nth = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num(), nth = omp_get_num_threads();
#endif
        int64_t chunk = (nout + nth - 1) / nth;
        int64_t b = tid * chunk, e = b + chunk < nout ? b + chunk : nout;
        for (int64_t j0 = b; j0 < e; j0 += 1024) { /* blocks of outputs that stay in cache */
            double sums[1024];
            int64_t m = e - j0 < 1024 ? e - j0 : 1024;
            const char *base = it->data[1] + j0 * es;
            if (c->in_dt == EM_FLOAT32)
                cols_f32(sums, base, m, c->len, c->stride);
            else
                cols_f64(sums, base, m, c->len, c->stride);
            for (int64_t j = 0; j < m; j++) {
                acc r = { sums[j], 0 };
                finish(c, it->data[0] + (j0 + j) * it->strides[0][0], r);
            }
        }
    }
    return true;
}

static int pair_kernel(em_tensor *out, const em_tensor *a, const em_reduce_args *args);

static int cpu_reduce(em_tensor *out, const em_tensor *starts, int64_t run_len, int64_t run_stride,
                      const em_reduce_args *a)
{
    if (a->op == EM_RED_ALLCLOSE || a->op == EM_RED_EQUAL || a->op == EM_RED_MAXIMUM || a->op == EM_RED_MINIMUM)
        return pair_kernel(out, starts, a);
    rctx c = { .op = a->op, .p = a->p, .correction = a->correction, .in_dt = starts->dtype,
               .out_dt = out->dtype, .isf = em_dtype_is_float(starts->dtype), .len = run_len,
               .stride = run_stride * (int64_t)em_dtype_size(starts->dtype) };
    const em_tensor *ops[2] = { out, starts };
    em_iter it;
    if (em_iter_init(&it, 2, ops, "reduce") < 0)
        return -1;
    int64_t nout = it.numel;
    int nt = em_num_threads();
    if (try_column_sum(&c, &it))
        return 0;
    if (nt <= 1 || nout * (run_len > 0 ? run_len : 1) < EM_PARALLEL_THRESHOLD) {
        em_iter_run_range(&it, reduce_loop, &c, 0, nout);
    } else if (nout < 4 * nt && !is_two_pass(a->op) && run_len >= EM_PARALLEL_THRESHOLD) {
        em_iter_run_range(&it, reduce_split_loop, &c, 0, nout);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int tid = omp_get_thread_num(), nth = omp_get_num_threads();
            int64_t chunk = (nout + nth - 1) / nth;
            int64_t b = tid * chunk, e = b + chunk < nout ? b + chunk : nout;
            em_iter_run_range(&it, reduce_loop, &c, b, e);
        }
#else
        em_iter_run_range(&it, reduce_loop, &c, 0, nout);
#endif
    }
    return 0;
}

/* ---- pairwise: allclose / equal (flags into ctx), maximum / minimum (written) ---- */
typedef struct pctx {
    const em_reduce_args *a;
    int64_t bad;
} pctx;

#define DEF_PAIR(NAME, T, ISNAN)                                                             \
    static void close_##NAME(char **d, const int64_t *s, int64_t n, void *ctx)               \
    {                                                                                        \
        pctx *c = ctx;                                                                       \
        for (int64_t k = 0; k < n; k++) {                                                    \
            T x = *(const T *)(d[0] + k * s[0]), y = *(const T *)(d[1] + k * s[1]);          \
            bool ok;                                                                         \
            if (c->a->op == EM_RED_EQUAL) {                                                  \
                ok = x == y;                                                                 \
            } else if (x == y) {                                                             \
                ok = true;                                                                   \
            } else if (ISNAN(x) || ISNAN(y)) {                                               \
                ok = c->a->equal_nan && ISNAN(x) && ISNAN(y);                                \
            } else {                                                                         \
                double dx = (double)x, dy = (double)y;                                       \
                ok = !isinf(dx) && !isinf(dy) &&                                             \
                     fabs(dx - dy) <= c->a->atol + c->a->rtol * fabs(dy);                    \
            }                                                                                \
            c->bad += !ok;                                                                   \
        }                                                                                    \
    }                                                                                        \
    static void maxmin_##NAME(char **d, const int64_t *s, int64_t n, void *ctx)              \
    {                                                                                        \
        const pctx *c = ctx;                                                                 \
        bool mx = c->a->op == EM_RED_MAXIMUM;                                                \
        for (int64_t k = 0; k < n; k++) {                                                    \
            T x = *(const T *)(d[1] + k * s[1]), y = *(const T *)(d[2] + k * s[2]);          \
            T r = ISNAN(x) ? x : ISNAN(y) ? y : (mx ? (x > y ? x : y) : (x < y ? x : y));    \
            *(T *)(d[0] + k * s[0]) = r;                                                     \
        }                                                                                    \
    }
DEF_PAIR(u8, uint8_t, NO_NAN)
DEF_PAIR(i8, int8_t, NO_NAN)
DEF_PAIR(i16, int16_t, NO_NAN)
DEF_PAIR(i32, int32_t, NO_NAN)
DEF_PAIR(i64, int64_t, NO_NAN)
DEF_PAIR(f32, float, isnan)
DEF_PAIR(f64, double, isnan)

static int pair_kernel(em_tensor *out, const em_tensor *a, const em_reduce_args *args)
{
    em_loop_fn closef = NULL, maxf = NULL;
    switch (a->dtype) {
    case EM_BOOL:
    case EM_UINT8: closef = close_u8, maxf = maxmin_u8; break;
    case EM_INT8: closef = close_i8, maxf = maxmin_i8; break;
    case EM_INT16: closef = close_i16, maxf = maxmin_i16; break;
    case EM_INT32: closef = close_i32, maxf = maxmin_i32; break;
    case EM_INT64: closef = close_i64, maxf = maxmin_i64; break;
    case EM_FLOAT32: closef = close_f32, maxf = maxmin_f32; break;
    case EM_FLOAT64: closef = close_f64, maxf = maxmin_f64; break;
    default: return em_error("reduce: unsupported dtype %s", em_dtype_name(a->dtype));
    }
    pctx c = { args, 0 };
    em_iter it;
    if (args->op == EM_RED_MAXIMUM || args->op == EM_RED_MINIMUM) {
        const em_tensor *ops[3] = { out, a, args->in2 };
        if (em_iter_init(&it, 3, ops, args->op == EM_RED_MAXIMUM ? "max" : "min") < 0)
            return -1;
        em_iter_run(&it, maxf, &c, true);
        return 0;
    }
    const em_tensor *ops[2] = { a, args->in2 };
    if (em_iter_init(&it, 2, ops, args->op == EM_RED_EQUAL ? "equal" : "allclose") < 0)
        return -1;
    em_iter_run(&it, closef, &c, false);
    *(uint8_t *)em_tensor_data(out) = c.bad == 0;
    return 0;
}

/* ---- reductions with positions ---- */
typedef struct ictx {
    em_index_op op;
    em_dtype dt;
    int64_t len, stride, k;
    bool has_values;
    volatile bool failed;
} ictx;

#define DEF_ARG(NAME, T, ISNAN)                                                          \
    static int64_t argbest_##NAME(const char *base, int64_t n, int64_t s, bool mx)      \
    {                                                                                    \
        int64_t best = 0;                                                                \
        T bv = AT(T, 0);                                                                 \
        if (ISNAN(bv))                                                                   \
            return 0;                                                                    \
        for (int64_t k = 1; k < n; k++) {                                                \
            T v = AT(T, k);                                                              \
            if (ISNAN(v))                                                                \
                return k;                                                                \
            if (mx ? v > bv : v < bv) {                                                  \
                bv = v;                                                                  \
                best = k;                                                                \
            }                                                                            \
        }                                                                                \
        return best;                                                                     \
    }
DEF_ARG(u8, uint8_t, NO_NAN)
DEF_ARG(i8, int8_t, NO_NAN)
DEF_ARG(i16, int16_t, NO_NAN)
DEF_ARG(i32, int32_t, NO_NAN)
DEF_ARG(i64, int64_t, NO_NAN)
DEF_ARG(f32, float, isnan)
DEF_ARG(f64, double, isnan)

static int64_t argbest(em_dtype dt, const char *base, int64_t n, int64_t s, bool mx)
{
    switch (dt) {
    case EM_BOOL:
    case EM_UINT8: return argbest_u8(base, n, s, mx);
    case EM_INT8: return argbest_i8(base, n, s, mx);
    case EM_INT16: return argbest_i16(base, n, s, mx);
    case EM_INT32: return argbest_i32(base, n, s, mx);
    case EM_INT64: return argbest_i64(base, n, s, mx);
    case EM_FLOAT32: return argbest_f32(base, n, s, mx);
    default: return argbest_f64(base, n, s, mx);
    }
}

/* Position (0-based, in the run) chosen by median/kthvalue/mode from the sorted order. */
static int64_t pick_sorted(const ictx *c, const char *buf, const int64_t *idx)
{
    size_t es = em_dtype_size(c->dt);
    int64_t n = c->len;
    if (c->op == EM_IDX_KTHVALUE)
        return idx[c->k];
    if (c->op == EM_IDX_MEDIAN) {
        /* NaNs sort last; with any NaN the median is the first NaN */
        if (em_cpu_elem_isnan(c->dt, buf + idx[n - 1] * es)) {
            int64_t j = n - 1;
            while (j > 0 && em_cpu_elem_isnan(c->dt, buf + idx[j - 1] * es))
                j--;
            return idx[j];
        }
        return idx[(n - 1) / 2];
    }
    /* mode: the longest run of equal values; the smallest value on ties; its last position */
    int64_t best = idx[0], best_len = 0;
    for (int64_t j = 0; j < n;) {
        int64_t e = j + 1;
        while (e < n && em_cpu_elem_eq(c->dt, buf + idx[e] * es, buf + idx[j] * es))
            e++;
        if (e - j > best_len) {
            best_len = e - j;
            best = idx[e - 1];
        }
        j = e;
    }
    return best;
}

/* data: indices, run starts, values (when wanted) */
static void index_loop(char **data, const int64_t *s, int64_t n, void *ctx)
{
    ictx *c = ctx;
    size_t es = em_dtype_size(c->dt);
    bool sorted = c->op != EM_IDX_MAX && c->op != EM_IDX_MIN;
    int64_t *idx = NULL;
    char *buf = NULL;
    if (sorted) {
        idx = malloc((size_t)c->len * 2 * sizeof(int64_t));
        buf = malloc((size_t)c->len * es);
        if (!idx || !buf) {
            c->failed = true;
            free(idx);
            free(buf);
            return;
        }
    }
    for (int64_t k = 0; k < n; k++) {
        const char *in = data[1] + k * s[1];
        int64_t pos;
        if (sorted) {
            em_cpu_argsort_line(c->dt, in, c->len, c->stride, false, buf, idx, idx + c->len);
            pos = pick_sorted(c, buf, idx);
        } else {
            pos = argbest(c->dt, in, c->len, c->stride, c->op == EM_IDX_MAX);
        }
        *(int64_t *)(data[0] + k * s[0]) = pos + 1;
        if (c->has_values)
            memcpy(data[2] + k * s[2], in + pos * c->stride, es);
    }
    free(idx);
    free(buf);
}

static int cpu_reduce_index(em_tensor *values, em_tensor *indices, const em_tensor *starts, int64_t run_len,
                            int64_t run_stride, em_index_op op, int64_t k)
{
    ictx c = { .op = op, .dt = starts->dtype, .len = run_len, .k = k, .has_values = values != NULL,
               .stride = run_stride * (int64_t)em_dtype_size(starts->dtype) };
    const em_tensor *ops[3] = { indices, starts, values };
    em_iter it;
    if (em_iter_init(&it, values ? 3 : 2, ops, "reduce") < 0)
        return -1;
    if (it.numel == 0)
        return 0;
    bool par = it.numel > 1 && it.numel * run_len >= EM_PARALLEL_THRESHOLD;
    em_iter_run(&it, index_loop, &c, par);
    if (c.failed)
        return em_error("reduce: out of memory for a run of %lld elements", (long long)run_len);
    return 0;
}

void em_cpu_register_reduce(em_backend *be)
{
    be->kernels[EM_K_REDUCE] = (em_kernel_fn)cpu_reduce;
    be->kernels[EM_K_REDUCE_INDEX] = (em_kernel_fn)cpu_reduce_index;
}
