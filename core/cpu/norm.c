/* CPU kernels for the fused normalisations (core/norm.h). The input is a
 * contiguous (N, G, D, S) block. batch_norm works per channel d (OpenMP over
 * channels; the channel's N runs of S values stay in cache between the passes),
 * group/layer norm per row (n, g) of D*S contiguous values (OpenMP over rows).
 * Statistics are two-pass in double: the mean, then the sum of centred squares,
 * never E[x^2] - E[x]^2. The weight/bias gradients of the row norms reduce over
 * rows: each thread owns a block of channels and sums them over all rows. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "../error.h"
#include "../iter.h"
#include "../norm.h"
#include "cpu.h"

#define NORM_KERNELS(T)                                                                                        \
    /* sum of p[0..n) and of (p - m)^2, four accumulators to hide the add latency */                          \
    static double sum_##T(const T *p, int64_t n)                                                               \
    {                                                                                                          \
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                                 \
        int64_t i = 0;                                                                                         \
        for (; i + 4 <= n; i += 4) {                                                                           \
            s0 += (double)p[i];                                                                                \
            s1 += (double)p[i + 1];                                                                            \
            s2 += (double)p[i + 2];                                                                            \
            s3 += (double)p[i + 3];                                                                            \
        }                                                                                                      \
        for (; i < n; i++)                                                                                     \
            s0 += (double)p[i];                                                                                \
        return (s0 + s1) + (s2 + s3);                                                                          \
    }                                                                                                          \
    static double sqdev_##T(const T *p, int64_t n, double m)                                                   \
    {                                                                                                          \
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                                 \
        int64_t i = 0;                                                                                         \
        for (; i + 4 <= n; i += 4) {                                                                           \
            double v0 = (double)p[i] - m, v1 = (double)p[i + 1] - m;                                           \
            double v2 = (double)p[i + 2] - m, v3 = (double)p[i + 3] - m;                                       \
            s0 += v0 * v0;                                                                                     \
            s1 += v1 * v1;                                                                                     \
            s2 += v2 * v2;                                                                                     \
            s3 += v3 * v3;                                                                                     \
        }                                                                                                      \
        for (; i < n; i++) {                                                                                   \
            double v = (double)p[i] - m;                                                                       \
            s0 += v * v;                                                                                       \
        }                                                                                                      \
        return (s0 + s1) + (s2 + s3);                                                                          \
    }                                                                                                          \
    /* sum of g and of g * (x - m) over n values */                                                            \
    static void gsums_##T(const T *g, const T *x, int64_t n, double m, double *sg, double *sgx)                \
    {                                                                                                          \
        double a0 = 0, a1 = 0, b0 = 0, b1 = 0;                                                                 \
        int64_t i = 0;                                                                                         \
        for (; i + 2 <= n; i += 2) {                                                                           \
            a0 += (double)g[i];                                                                                \
            a1 += (double)g[i + 1];                                                                            \
            b0 += (double)g[i] * ((double)x[i] - m);                                                           \
            b1 += (double)g[i + 1] * ((double)x[i + 1] - m);                                                   \
        }                                                                                                      \
        for (; i < n; i++) {                                                                                   \
            a0 += (double)g[i];                                                                                \
            b0 += (double)g[i] * ((double)x[i] - m);                                                           \
        }                                                                                                      \
        *sg += a0 + a1;                                                                                        \
        *sgx += b0 + b1;                                                                                       \
    }                                                                                                          \
                                                                                                               \
    /* batch_norm forward: x (N, 1, D, S), statistics per channel d */                                         \
    static int batch_fwd_##T(em_norm_args *a)                                                                  \
    {                                                                                                          \
        int64_t N = a->N, D = a->D, S = a->S;                                                                  \
        const T *x = em_tensor_data(a->x), *w = a->weight ? em_tensor_data(a->weight) : NULL;                  \
        const T *b = a->bias ? em_tensor_data(a->bias) : NULL;                                                 \
        const double *vin = a->var_in ? em_tensor_data(a->var_in) : NULL;                                           \
        T *y = em_tensor_data(a->out);                                                                         \
        double *mean = em_tensor_data(a->mean), *invstd = em_tensor_data(a->invstd);  \
        double *var = a->var ? em_tensor_data(a->var) : NULL;                                                  \
        double cnt = (double)(N * S);                                                                          \
        _Pragma("omp parallel for num_threads(em_num_threads()) schedule(static) if (N * D * S >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t d = 0; d < D; d++) {                                                                      \
            double m, is;                                                                                      \
            if (a->training) {                                                                                 \
                double s = 0, q = 0;                                                                           \
                for (int64_t n = 0; n < N; n++)                                                                \
                    s += sum_##T(x + (n * D + d) * S, S);                                                      \
                m = s / cnt;                                                                                   \
                for (int64_t n = 0; n < N; n++)                                                                \
                    q += sqdev_##T(x + (n * D + d) * S, S, m);                                                 \
                is = 1.0 / sqrt(q / cnt + a->eps);                                                             \
                mean[d] = m;                                                                                \
                if (var)                                                                                       \
                    var[d] = q / cnt;                                                                          \
            } else {                                                                                           \
                m = (double)mean[d];                                                                           \
                is = 1.0 / sqrt(vin[d] + a->eps);                                                      \
            }                                                                                                  \
            invstd[d] = is;                                                                                 \
            double sc = w ? is * (double)w[d] : is, sh = b ? (double)b[d] : 0.0;                               \
            for (int64_t n = 0; n < N; n++) {                                                                  \
                const T *p = x + (n * D + d) * S;                                                              \
                T *q = y + (n * D + d) * S;                                                                    \
                for (int64_t s = 0; s < S; s++)                                                                \
                    q[s] = (T)(((double)p[s] - m) * sc + sh);                                                  \
            }                                                                                                  \
        }                                                                                                      \
        return 0;                                                                                              \
    }                                                                                                          \
                                                                                                               \
    /* batch_norm backward: per channel, sums of g and g * (x - mean), then gx */                              \
    static int batch_bwd_##T(em_norm_args *a)                                                                  \
    {                                                                                                          \
        int64_t N = a->N, D = a->D, S = a->S;                                                                  \
        const T *x = em_tensor_data(a->x), *g = em_tensor_data(a->grad);                                       \
        const T *w = a->weight ? em_tensor_data(a->weight) : NULL;                                             \
        const double *mean = em_tensor_data(a->mean), *invstd = em_tensor_data(a->invstd);                          \
        T *gx = a->gx ? em_tensor_data(a->gx) : NULL, *gw = a->gw ? em_tensor_data(a->gw) : NULL;              \
        T *gb = a->gb ? em_tensor_data(a->gb) : NULL;                                                          \
        double cnt = (double)(N * S);                                                                          \
        _Pragma("omp parallel for num_threads(em_num_threads()) schedule(static) if (N * D * S >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t d = 0; d < D; d++) {                                                                      \
            double m = (double)mean[d], is = (double)invstd[d], sg = 0, sgx = 0;                               \
            bool sums = gw || gb || (gx && a->training);                                                       \
            for (int64_t n = 0; sums && n < N; n++)                                                            \
                gsums_##T(g + (n * D + d) * S, x + (n * D + d) * S, S, m, &sg, &sgx);                          \
            if (gw)                                                                                            \
                gw[d] = (T)(sgx * is);                                                                         \
            if (gb)                                                                                            \
                gb[d] = (T)sg;                                                                                 \
            if (!gx)                                                                                           \
                continue;                                                                                      \
            double c = w ? is * (double)w[d] : is;                                                             \
            double gm = a->training ? sg / cnt : 0.0, k = a->training ? sgx * is * is / cnt : 0.0;             \
            for (int64_t n = 0; n < N; n++) {                                                                  \
                const T *xp = x + (n * D + d) * S, *gp = g + (n * D + d) * S;                                  \
                T *o = gx + (n * D + d) * S;                                                                   \
                for (int64_t s = 0; s < S; s++)                                                                \
                    o[s] = (T)(((double)gp[s] - gm - ((double)xp[s] - m) * k) * c);                            \
            }                                                                                                  \
        }                                                                                                      \
        return 0;                                                                                              \
    }                                                                                                          \
                                                                                                               \
    /* group/layer norm forward: one row (n, g) of D*S values at a time */                                     \
    static int rows_fwd_##T(em_norm_args *a)                                                                   \
    {                                                                                                          \
        int64_t R = a->N * a->G, G = a->G, D = a->D, S = a->S, L = D * S;                                      \
        const T *x = em_tensor_data(a->x), *w = a->weight ? em_tensor_data(a->weight) : NULL;                  \
        const T *b = a->bias ? em_tensor_data(a->bias) : NULL;                                                 \
        T *y = em_tensor_data(a->out);                                                                         \
        double *mean = em_tensor_data(a->mean), *invstd = em_tensor_data(a->invstd);  \
        _Pragma("omp parallel for num_threads(em_num_threads()) schedule(static) if (R * L >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t r = 0; r < R; r++) {                                                                      \
            const T *p = x + r * L;                                                                            \
            T *q = y + r * L;                                                                                  \
            double m = L > 0 ? sum_##T(p, L) / (double)L : 0.0;                                                \
            double v = L > 0 ? sqdev_##T(p, L, m) / (double)L : 0.0;                                           \
            double is = 1.0 / sqrt(v + a->eps);                                                                \
            mean[r] = m;                                                                                    \
            invstd[r] = is;                                                                                 \
            int64_t c0 = (r % G) * D;                                                                          \
            if (!w && !b) {                                                                                    \
                for (int64_t i = 0; i < L; i++)                                                                \
                    q[i] = (T)(((double)p[i] - m) * is);                                                       \
                continue;                                                                                      \
            }                                                                                                  \
            for (int64_t d = 0; d < D; d++) {                                                                  \
                double sc = w ? is * (double)w[c0 + d] : is, sh = b ? (double)b[c0 + d] : 0.0;                 \
                for (int64_t s = 0; s < S; s++)                                                                \
                    q[d * S + s] = (T)(((double)p[d * S + s] - m) * sc + sh);                                  \
            }                                                                                                  \
        }                                                                                                      \
        return 0;                                                                                              \
    }                                                                                                          \
                                                                                                               \
    /* group/layer norm backward. gx per row: with h = g * w,                                                  \
     * gx = invstd * (h - mean(h) - xhat * mean(h * xhat)); gw, gb per channel */                              \
    static int rows_bwd_##T(em_norm_args *a)                                                                   \
    {                                                                                                          \
        int64_t N = a->N, R = N * a->G, G = a->G, D = a->D, S = a->S, L = D * S, C = G * D;                    \
        const T *x = em_tensor_data(a->x), *g = em_tensor_data(a->grad);                                       \
        const T *w = a->weight ? em_tensor_data(a->weight) : NULL;                                             \
        const double *mean = em_tensor_data(a->mean), *invstd = em_tensor_data(a->invstd);                          \
        T *gx = a->gx ? em_tensor_data(a->gx) : NULL, *gw = a->gw ? em_tensor_data(a->gw) : NULL;              \
        T *gb = a->gb ? em_tensor_data(a->gb) : NULL;                                                          \
        bool par = R * L >= EM_PARALLEL_THRESHOLD;                                                             \
        _Pragma("omp parallel for num_threads(em_num_threads()) schedule(static) if (par)")                    \
        for (int64_t r = 0; r < (gx ? R : 0); r++) {                                                           \
            const T *xp = x + r * L, *gp = g + r * L;                                                          \
            T *o = gx + r * L;                                                                                 \
            double m = (double)mean[r], is = (double)invstd[r], sh = 0, shx = 0;                               \
            int64_t c0 = (r % G) * D;                                                                          \
            if (w) {                                                                                           \
                for (int64_t d = 0; d < D; d++) {                                                              \
                    double sg = 0, sgx = 0, wd = (double)w[c0 + d];                                            \
                    gsums_##T(gp + d * S, xp + d * S, S, m, &sg, &sgx);                                        \
                    sh += wd * sg;                                                                             \
                    shx += wd * sgx;                                                                           \
                }                                                                                              \
            } else {                                                                                           \
                gsums_##T(gp, xp, L, m, &sh, &shx);                                                            \
            }                                                                                                  \
            double hm = sh / (double)L, k = shx * is * is / (double)L;                                         \
            for (int64_t d = 0; d < D; d++) {                                                                  \
                double wd = w ? (double)w[c0 + d] : 1.0;                                                       \
                for (int64_t s = 0; s < S; s++) {                                                              \
                    int64_t i = d * S + s;                                                                     \
                    o[i] = (T)(is * ((double)gp[i] * wd - hm - ((double)xp[i] - m) * k));                      \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        if (!gw && !gb)                                                                                        \
            return 0;                                                                                          \
        int nt = par ? em_num_threads() : 1, fail = 0;                                                         \
        _Pragma("omp parallel num_threads(nt) reduction(| : fail)")                                            \
        {                                                                                                      \
            int t = omp_get_thread_num(), n_t = omp_get_num_threads();                                         \
            int64_t lo = C * t / n_t, hi = C * (t + 1) / n_t;                                                  \
            double *acc = hi > lo ? calloc((size_t)(hi - lo) * 2, sizeof(double)) : NULL;                      \
            if (hi > lo && !acc) {                                                                             \
                fail = 1;                                                                                      \
            } else if (hi > lo) {                                                                              \
                for (int64_t n = 0; n < N; n++)                                                                \
                    for (int64_t c = lo; c < hi; c++) {                                                        \
                        int64_t r = n * G + c / D;                                                             \
                        double sg = 0, sgx = 0;                                                                \
                        gsums_##T(g + (n * C + c) * S, x + (n * C + c) * S, S, (double)mean[r], &sg, &sgx);    \
                        acc[2 * (c - lo)] += sg;                                                               \
                        acc[2 * (c - lo) + 1] += sgx * (double)invstd[r];                                      \
                    }                                                                                          \
                for (int64_t c = lo; c < hi; c++) {                                                            \
                    if (gb)                                                                                    \
                        gb[c] = (T)acc[2 * (c - lo)];                                                          \
                    if (gw)                                                                                    \
                        gw[c] = (T)acc[2 * (c - lo) + 1];                                                      \
                }                                                                                              \
            }                                                                                                  \
            free(acc);                                                                                         \
        }                                                                                                      \
        return fail ? em_error("%s: out of memory", a->op) : 0;                                                \
    }

NORM_KERNELS(float)
NORM_KERNELS(double)

static int cpu_norm(em_norm_args *a)
{
    bool batch = a->kind == EM_NORM_BATCH;
    if (a->x->dtype == EM_FLOAT32)
        return batch ? (a->backward ? batch_bwd_float(a) : batch_fwd_float(a))
                     : (a->backward ? rows_bwd_float(a) : rows_fwd_float(a));
    if (a->x->dtype == EM_FLOAT64)
        return batch ? (a->backward ? batch_bwd_double(a) : batch_fwd_double(a))
                     : (a->backward ? rows_bwd_double(a) : rows_fwd_double(a));
    return em_error("%s: unsupported dtype %s", a->op, em_dtype_name(a->x->dtype));
}

void em_cpu_register_norm(em_backend *be)
{
    be->kernels[EM_K_NORM] = (em_kernel_fn)cpu_norm;
}
