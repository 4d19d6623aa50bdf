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
    /* sum of p[0..n), of (p - m)^2, and of g and g * (x - m): in double, vectorised (omp simd lets the     \
     * compiler split the sum over lanes, which plain C ordering forbids) */                                  \
    static double sum_##T(const T *p, int64_t n)                                                               \
    {                                                                                                          \
        double s = 0;                                                                                          \
        _Pragma("omp simd reduction(+ : s)")                                                                   \
        for (int64_t i = 0; i < n; i++)                                                                        \
            s += (double)p[i];                                                                                 \
        return s;                                                                                              \
    }                                                                                                          \
    static double sqdev_##T(const T *p, int64_t n, double m)                                                   \
    {                                                                                                          \
        double s = 0;                                                                                          \
        _Pragma("omp simd reduction(+ : s)")                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                                      \
            double v = (double)p[i] - m;                                                                       \
            s += v * v;                                                                                        \
        }                                                                                                      \
        return s;                                                                                              \
    }                                                                                                          \
    static void gsums_##T(const T *g, const T *x, int64_t n, double m, double *sg, double *sgx)                \
    {                                                                                                          \
        double a = 0, b = 0;                                                                                   \
        _Pragma("omp simd reduction(+ : a, b)")                                                                \
        for (int64_t i = 0; i < n; i++) {                                                                      \
            a += (double)g[i];                                                                                 \
            b += (double)g[i] * ((double)x[i] - m);                                                            \
        }                                                                                                      \
        *sg += a;                                                                                              \
        *sgx += b;                                                                                             \
    }                                                                                                          \
    /* the weighted sums of a row norm's backward: sum of w g and of w g (x - m) */                            \
    static void wgsums_##T(const T *g, const T *x, const T *w, int64_t n, double m, double *sg, double *sgx)   \
    {                                                                                                          \
        double a = 0, b = 0;                                                                                   \
        _Pragma("omp simd reduction(+ : a, b)")                                                                \
        for (int64_t i = 0; i < n; i++) {                                                                      \
            double h = (double)g[i] * (double)w[i];                                                            \
            a += h;                                                                                            \
            b += h * ((double)x[i] - m);                                                                       \
        }                                                                                                      \
        *sg += a;                                                                                              \
        *sgx += b;                                                                                             \
    }                                                                                                          \
                                                                                                               \
    /* batch_norm with short runs (S < 16, e.g. BatchNorm1d on (N, C)): a channel's values are strided, so     \
     * the (N, K = D*S) matrix is swept row by row, each thread owning a block of columns whose sums it       \
     * keeps; col[j] then per channel. Returns the per-column sums of f over n in acc (K doubles). */         \
    static void colsum_##T(const T *x, const T *g, int64_t N, int64_t K, int64_t S, const double *m,            \
                           int what, double *acc, double *acc2)                                              \
    {                                                                                                          \
        _Pragma("omp parallel num_threads(em_num_threads()) if (N * K >= EM_PARALLEL_THRESHOLD)")             \
        {                                                                                                      \
            int t = omp_get_thread_num(), nt = omp_get_num_threads();                                          \
            int64_t lo = K * t / nt, hi = K * (t + 1) / nt;                                                    \
            for (int64_t j = lo; j < hi; j++)                                                                  \
                acc[j] = 0, acc2[j] = 0;                                                                       \
            for (int64_t n = 0; n < N; n++) {                                                                  \
                const T *xr = x + n * K, *gr = g ? g + n * K : NULL;                                           \
                if (what == 0)                                                                                 \
                    for (int64_t j = lo; j < hi; j++)                                                          \
                        acc[j] += (double)xr[j];                                                               \
                else if (what == 1)                                                                            \
                    for (int64_t j = lo; j < hi; j++) {                                                        \
                        double v = (double)xr[j] - m[j / S];                                                   \
                        acc[j] += v * v;                                                                       \
                    }                                                                                          \
                else                                                                                           \
                    for (int64_t j = lo; j < hi; j++) {                                                        \
                        acc[j] += (double)gr[j];                                                               \
                        acc2[j] += (double)gr[j] * ((double)xr[j] - m[j / S]);                                 \
                    }                                                                                          \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
    static double per_channel_##T(const double *acc, int64_t d, int64_t S)                                     \
    {                                                                                                          \
        double s = 0;                                                                                          \
        for (int64_t k = 0; k < S; k++)                                                                        \
            s += acc[d * S + k];                                                                               \
        return s;                                                                                              \
    }                                                                                                          \
    static int batch_cols_##T(em_norm_args *a)                                                                 \
    {                                                                                                          \
        int64_t N = a->N, D = a->D, S = a->S, K = D * S;                                                       \
        const T *x = em_tensor_data(a->x), *w = a->weight ? em_tensor_data(a->weight) : NULL;                  \
        const T *g = a->backward ? em_tensor_data(a->grad) : NULL;                                             \
        double *mean = em_tensor_data(a->mean), *invstd = em_tensor_data(a->invstd);                           \
        double *acc = malloc((size_t)(3 * K + 2 * D + 1) * sizeof(double));                                    \
        if (!acc)                                                                                              \
            return em_error("%s: out of memory", a->op);                                                       \
        double *acc2 = acc + K, *mcol = acc + 2 * K, *sc = acc + 3 * K, *sh = sc + D;                          \
        double cnt = (double)(N * S);                                                                          \
        if (!a->backward) {                                                                                    \
            const T *b = a->bias ? em_tensor_data(a->bias) : NULL;                                             \
            const double *vin = a->var_in ? em_tensor_data(a->var_in) : NULL;                                  \
            double *var = a->var ? em_tensor_data(a->var) : NULL;                                              \
            if (a->training) {                                                                                 \
                colsum_##T(x, NULL, N, K, S, NULL, 0, acc, acc2);                                              \
                for (int64_t d = 0; d < D; d++)                                                                \
                    mean[d] = per_channel_##T(acc, d, S) / cnt;                                                \
                colsum_##T(x, NULL, N, K, S, mean, 1, acc, acc2);                                              \
            }                                                                                                  \
            for (int64_t d = 0; d < D; d++) {                                                                  \
                double v = a->training ? per_channel_##T(acc, d, S) / cnt : vin[d];                            \
                if (a->training && var)                                                                        \
                    var[d] = v;                                                                                \
                invstd[d] = 1.0 / sqrt(v + a->eps);                                                            \
                sc[d] = w ? invstd[d] * (double)w[d] : invstd[d];                                              \
                sh[d] = b ? (double)b[d] : 0.0;                                                                \
            }                                                                                                  \
            for (int64_t j = 0; j < K; j++)                                                                    \
                mcol[j] = mean[j / S], acc[j] = sc[j / S], acc2[j] = sh[j / S];                                \
            T *y = em_tensor_data(a->out);                                                                     \
            _Pragma("omp parallel for num_threads(em_num_threads()) schedule(static) if (N * K >= EM_PARALLEL_THRESHOLD)") \
            for (int64_t n = 0; n < N; n++)                                                                    \
                for (int64_t j = 0; j < K; j++)                                                                \
                    y[n * K + j] = (T)(((double)x[n * K + j] - mcol[j]) * acc[j] + acc2[j]);                   \
            free(acc);                                                                                         \
            return 0;                                                                                          \
        }                                                                                                      \
        T *gx = a->gx ? em_tensor_data(a->gx) : NULL, *gw = a->gw ? em_tensor_data(a->gw) : NULL;              \
        T *gb = a->gb ? em_tensor_data(a->gb) : NULL;                                                          \
        bool sums = gw || gb || (gx && a->training);                                                           \
        if (sums)                                                                                              \
            colsum_##T(x, g, N, K, S, mean, 2, acc, acc2);                                                     \
        for (int64_t d = 0; d < D; d++) {                                                                      \
            double sg = sums ? per_channel_##T(acc, d, S) : 0, sgx = sums ? per_channel_##T(acc2, d, S) : 0;   \
            double is = invstd[d];                                                                             \
            if (gw)                                                                                            \
                gw[d] = (T)(sgx * is);                                                                         \
            if (gb)                                                                                            \
                gb[d] = (T)sg;                                                                                 \
            sc[d] = w ? is * (double)w[d] : is;                                                                \
            sh[d] = a->training ? sg / cnt : 0.0;                   /* mean of g */                            \
            mcol[d] = a->training ? sgx * is * is / cnt : 0.0;      /* k, per channel (mcol reused) */         \
        }                                                                                                      \
        if (gx) {                                                                                              \
            /* gx = (g - gm - (x - m) k) c = (g - x k + (m k - gm)) c, with per-column c, k, m k - gm */         \
            double *cc = acc, *ck = acc2, *co = acc + 2 * K;                                                   \
            for (int64_t j = 0; j < K; j++) {                                                                  \
                int64_t d = j / S;                                                                             \
                cc[j] = sc[d];                                                                                 \
                ck[j] = mcol[d];                                                                               \
            }                                                                                                  \
            for (int64_t j = 0; j < K; j++) { /* co overwrites mcol: read k from ck */                         \
                int64_t d = j / S;                                                                             \
                co[j] = mean[d] * ck[j] - sh[d];                                                               \
            }                                                                                                  \
            _Pragma("omp parallel for num_threads(em_num_threads()) schedule(static) if (N * K >= EM_PARALLEL_THRESHOLD)") \
            for (int64_t n = 0; n < N; n++)                                                                    \
                for (int64_t j = 0; j < K; j++)                                                                \
                    gx[n * K + j] = (T)(((double)g[n * K + j] - (double)x[n * K + j] * ck[j] + co[j]) * cc[j]); \
        }                                                                                                      \
        free(acc);                                                                                             \
        return 0;                                                                                              \
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
            if (S == 1) { /* layer norm over the last dims: weight and bias run along the row */             \
                const T *wr = w ? w + c0 : NULL, *br = b ? b + c0 : NULL;                                      \
                _Pragma("omp simd")                                                                            \
                for (int64_t d = 0; d < D; d++)                                                                \
                    q[d] = (T)(((double)p[d] - m) * is * (wr ? (double)wr[d] : 1.0) + (br ? (double)br[d] : 0.0)); \
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
            if (w && S == 1) {                                                                                 \
                wgsums_##T(gp, xp, w + c0, D, m, &sh, &shx);                                                   \
            } else if (w) {                                                                                    \
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
            if (S == 1) {                                                                                      \
                const T *wr = w ? w + c0 : NULL;                                                               \
                _Pragma("omp simd")                                                                            \
                for (int64_t d = 0; d < D; d++)                                                                \
                    o[d] = (T)(is * ((double)gp[d] * (wr ? (double)wr[d] : 1.0) - hm - ((double)xp[d] - m) * k)); \
                continue;                                                                                      \
            }                                                                                                  \
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
                for (int64_t n = 0; n < N && S == 1 && G == 1; n++) { /* layer norm: one row per n */           \
                    const T *gr = g + n * C, *xr = x + n * C;                                                  \
                    double m = (double)mean[n], is = (double)invstd[n];                                        \
                    _Pragma("omp simd")                                                                        \
                    for (int64_t c = lo; c < hi; c++) {                                                        \
                        acc[2 * (c - lo)] += (double)gr[c];                                                    \
                        acc[2 * (c - lo) + 1] += (double)gr[c] * ((double)xr[c] - m) * is;                     \
                    }                                                                                          \
                }                                                                                              \
                for (int64_t n = 0; n < N && !(S == 1 && G == 1); n++)                                         \
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
    if (batch && a->S < 16) /* short runs: sweep rows (see batch_cols) */
        return a->x->dtype == EM_FLOAT32 ? batch_cols_float(a) : batch_cols_double(a);
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
