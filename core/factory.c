/* Range constructors (see factory.h). Each follows PyTorch's CPU arithmetic so
 * values match it bit for bit where it matters: arange/range compute start + i*step
 * in double (int64 for integer dtypes), linspace steps from both ends. */
#include "factory.h"

#include <math.h>

#include "copy.h"
#include "error.h"

/* v stored as dtype dt at element i of the contiguous data p. */
static inline void put(void *p, em_dtype dt, int64_t i, double v)
{
    switch (dt) {
    case EM_FLOAT32: ((float *)p)[i] = (float)v; break;
    case EM_FLOAT64: ((double *)p)[i] = v; break;
    default: em_store_scalar((char *)p + i * (int64_t)em_dtype_size(dt), dt, em_scalar_double(v)); break;
    }
}

static inline void put_int(void *p, em_dtype dt, int64_t i, int64_t v)
{
    if (dt == EM_INT64)
        ((int64_t *)p)[i] = v;
    else
        em_store_scalar((char *)p + i * (int64_t)em_dtype_size(dt), dt, em_scalar_int(v));
}

/* A contiguous CPU tensor of n elements to fill. */
static em_tensor *cpu_vector(int64_t n, em_dtype dt)
{
    return em_tensor_empty(1, &n, dt, EM_CPU);
}

/* The filled CPU tensor t moved to dev (t itself for the CPU). */
static em_tensor *to_device(em_tensor *t, em_device dev)
{
    if (!t || dev.type == EM_DEV_CPU)
        return t;
    em_tensor *r = em_tensor_empty(t->ndim, t->sizes, t->dtype, dev);
    if (r && em_copy_(r, t) < 0) {
        em_tensor_release(r);
        r = NULL;
    }
    em_tensor_release(t);
    return r;
}

static int check_range(const char *op, double start, double end, double step)
{
    if (!isfinite(start) || !isfinite(end))
        return em_error("%s: unsupported range %g -> %g (bounds must be finite)", op, start, end);
    if (step == 0 || step != step)
        return em_error("%s: step must be nonzero", op);
    if ((step > 0 && end < start) || (step < 0 && end > start))
        return em_error("%s: upper bound and step sign are inconsistent (start=%g, end=%g, step=%g)", op, start,
                        end, step);
    return 0;
}

static em_tensor *ranged(const char *op, em_scalar start, em_scalar end, em_scalar step, em_dtype dt,
                         em_device dev, bool inclusive)
{
    if (dt == EM_BOOL)
        return em_error("%s: dtype bool is not supported", op), NULL;
    bool integral = em_dtype_category(dt) == 1;
    if (integral) { /* integer dtypes truncate their arguments first, as PyTorch */
        int64_t s = start.is_int ? start.i : (int64_t)start.d, e = end.is_int ? end.i : (int64_t)end.d;
        int64_t st = step.is_int ? step.i : (int64_t)step.d;
        if (check_range(op, (double)s, (double)e, (double)st) < 0)
            return NULL;
        /* in double: e - s overflows int64 for far-apart bounds */
        double span = (double)e - (double)s;
        double len = inclusive ? floor(span / (double)st) + 1 : ceil(span / (double)st);
        if (len > 1e15)
            return em_error("%s: range too large (%g elements)", op, len), NULL;
        int64_t n = (int64_t)len;
        em_tensor *t = cpu_vector(n, dt);
        if (!t)
            return NULL;
        void *p = em_tensor_data(t);
        for (int64_t i = 0; i < n; i++)
            put_int(p, dt, i, (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)st)); /* lies in [s, e]: exact */
        return to_device(t, dev);
    }
    double s = start.d, e = end.d, st = step.d;
    if (check_range(op, s, e, st) < 0)
        return NULL;
    double len = inclusive ? floor((e - s) / st) + 1 : ceil((e - s) / st);
    if (len > 1e15)
        return em_error("%s: range too large (%g elements)", op, len), NULL;
    int64_t n = (int64_t)len;
    em_tensor *t = cpu_vector(n, dt);
    if (!t)
        return NULL;
    void *p = em_tensor_data(t);
    for (int64_t i = 0; i < n; i++)
        put(p, dt, i, s + (double)i * st);
    return to_device(t, dev);
}

em_tensor *em_arange(em_scalar start, em_scalar end, em_scalar step, em_dtype dt, em_device dev)
{
    return ranged("arange", start, end, step, dt, dev, false);
}

em_tensor *em_range(em_scalar start, em_scalar end, em_scalar step, em_dtype dt, em_device dev)
{
    return ranged("range", start, end, step, dt, dev, true);
}

em_tensor *em_linspace(double start, double end, int64_t steps, em_dtype dt, em_device dev)
{
    if (steps < 0)
        return em_error("linspace: number of steps must be non-negative, got %lld", (long long)steps), NULL;
    if (dt == EM_BOOL)
        return em_error("linspace: dtype bool is not supported"), NULL;
    em_tensor *t = cpu_vector(steps, dt);
    if (!t)
        return NULL;
    void *p = em_tensor_data(t);
    int64_t half = steps / 2;
    if (steps == 1) {
        put(p, dt, 0, start);
    } else if (dt == EM_FLOAT32 || em_dtype_is_reduced(dt)) {
        /* PyTorch steps in the element type for floats, and its AVX2 loop computes
         * pairs of 8-wide chunks as base + k*step from each chunk's first index;
         * we follow the same arithmetic (with its fused multiply-adds) so values
         * match it bit for bit */
        float s = (float)start, e = (float)end, st = (e - s) / (float)(steps - 1);
        int64_t i = 0;
        for (; i + 16 <= steps; i += 16)
            for (int64_t c = i; c < i + 16; c += 8) {
                float base = c < half ? fmaf(st, (float)c, s) : fmaf(-st, (float)(steps - c - 1), e);
                for (int k = 0; k < 8; k++)
                    put(p, dt, c + k, base + (float)k * st);
            }
        for (; i < steps; i++)
            put(p, dt, i, i < half ? fmaf(st, (float)i, s) : fmaf(-st, (float)(steps - i - 1), e));
    } else {
        double s = start, e = end;
        bool integral = em_dtype_category(dt) == 1;
        if (integral) /* integer dtypes: integer bounds, a double step */
            s = trunc(s), e = trunc(e);
        double st = (e - s) / (double)(steps - 1);
        int64_t i = 0;
        if (!integral) { /* float64: the same chunked arithmetic, 4 wide */
            for (; i + 8 <= steps; i += 8)
                for (int64_t c = i; c < i + 8; c += 4) {
                    double base = c < half ? fma(st, (double)c, s) : fma(-st, (double)(steps - c - 1), e);
                    for (int k = 0; k < 4; k++)
                        put(p, dt, c + k, base + (double)k * st);
                }
        }
        for (; i < steps; i++)
            put(p, dt, i, i < half ? s + st * (double)i : e - st * (double)(steps - i - 1));
    }
    return to_device(t, dev);
}

em_tensor *em_logspace(double start, double end, int64_t steps, double base, em_dtype dt, em_device dev)
{
    if (steps < 0)
        return em_error("logspace: number of steps must be non-negative, got %lld", (long long)steps), NULL;
    if (dt == EM_BOOL)
        return em_error("logspace: dtype bool is not supported"), NULL;
    em_tensor *t = cpu_vector(steps, dt);
    if (!t)
        return NULL;
    void *p = em_tensor_data(t);
    int64_t half = steps / 2;
    double st = steps > 1 ? (end - start) / (double)(steps - 1) : 0;
    for (int64_t i = 0; i < steps; i++)
        put(p, dt, i, pow(base, i < half ? start + st * (double)i : end - st * (double)(steps - i - 1)));
    return to_device(t, dev);
}

em_tensor *em_eye(int64_t n, int64_t m, em_dtype dt, em_device dev)
{
    if (n < 0 || m < 0)
        return em_error("eye: sizes must be non-negative, got n=%lld, m=%lld", (long long)n, (long long)m), NULL;
    int64_t sizes[2] = { n, m };
    em_tensor *t = em_full(2, sizes, em_scalar_int(0), dt, EM_CPU);
    if (!t)
        return NULL;
    char *p = em_tensor_data(t);
    size_t es = em_dtype_size(dt);
    for (int64_t i = 0; i < n && i < m; i++)
        em_store_scalar(p + (i * m + i) * (int64_t)es, dt, em_scalar_int(1));
    return to_device(t, dev);
}
