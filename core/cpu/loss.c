/* CPU kernels for nll_loss and the fused cross-entropy: one pass per position
 * (n, s) over the C classes (stride S), OpenMP over positions; sums in double.
 * The class targets are checked first, so an out-of-range label errors before
 * anything is written. */
#include <math.h>

#include "../error.h"
#include "../iter.h"
#include "../loss.h"
#include "cpu.h"
#include "typed.h"

static int check_targets(const em_nll_args *a, const int64_t *t, int64_t n, int64_t C)
{
    for (int64_t i = 0; i < n; i++)
        if (t[i] != a->ignore_index && (t[i] < 1 || t[i] > C))
            return em_error("%s: target %lld is out of range 1..%lld", a->op, (long long)t[i], (long long)C);
    return 0;
}

#define NLL_KERNELS(scalar_t)                                                                                   \
    static int nll_fwd_##scalar_t(em_nll_args *a)                                                              \
    {                                                                                                          \
        int64_t N = a->x->sizes[0], C = a->x->sizes[1], S = a->x->sizes[2], NS = N * S;                        \
        const scalar_t *x = em_tensor_data(a->x);                                                              \
        const int64_t *t = em_tensor_data(a->target);                                                          \
        const scalar_t *w = a->weight ? em_tensor_data(a->weight) : NULL;                                      \
        scalar_t *out = em_tensor_data(a->out);                                                                \
        scalar_t *lse = a->lse ? em_tensor_data(a->lse) : NULL;                                                \
        if (check_targets(a, t, NS, C) < 0)                                                                    \
            return -1;                                                                                         \
        double eps = a->smoothing, sum_nll = 0, sum_smooth = 0, sum_w = 0, count = 0;                          \
        bool none = a->reduction == EM_REDUCTION_NONE;                                                         \
        _Pragma("omp parallel for num_threads(em_num_threads()) if (NS * C >= EM_PARALLEL_THRESHOLD) reduction(+ : sum_nll, sum_smooth, sum_w, count)") \
        for (int64_t i = 0; i < NS; i++) {                                                                     \
            int64_t n = i / S, s = i % S;                                                                      \
            const scalar_t *xp = x + n * C * S + s;                                                            \
            double m = 0;                                                                                      \
            if (a->fused) {                                                                                    \
                double mx = -INFINITY, acc = 0;                                                                \
                for (int64_t c = 0; c < C; c++)                                                                \
                    mx = xp[c * S] > mx || isnan((double)xp[c * S]) ? xp[c * S] : mx;                          \
                if (isinf(mx) && mx < 0)                                                                       \
                    mx = 0;                                                                                    \
                for (int64_t c = 0; c < C; c++)                                                                \
                    acc += exp((double)xp[c * S] - mx);                                                        \
                m = mx + log(acc);                                                                             \
                lse[i] = (scalar_t)m;                                                                          \
            }                                                                                                  \
            if (t[i] == a->ignore_index) {                                                                     \
                if (none)                                                                                      \
                    out[i] = 0;                                                                                \
                continue;                                                                                      \
            }                                                                                                  \
            double wt = w ? (double)w[t[i] - 1] : 1.0;                                                         \
            double nll = -wt * ((double)xp[(t[i] - 1) * S] - m), smooth = 0;                                   \
            if (eps > 0)                                                                                       \
                for (int64_t c = 0; c < C; c++)                                                                \
                    smooth -= (w ? (double)w[c] : 1.0) * ((double)xp[c * S] - m);                              \
            if (none)                                                                                          \
                out[i] = (scalar_t)((1 - eps) * nll + eps / (double)C * smooth);                               \
            sum_nll += nll;                                                                                    \
            sum_smooth += smooth;                                                                              \
            sum_w += wt;                                                                                       \
            count += 1;                                                                                        \
        }                                                                                                      \
        a->denom[0] = sum_w;                                                                                   \
        a->denom[1] = w ? sum_w : count;                                                                       \
        if (a->reduction == EM_REDUCTION_MEAN)                                                                 \
            out[0] = (scalar_t)((1 - eps) * sum_nll / a->denom[0] +                                            \
                                (eps > 0 ? eps / (double)C * sum_smooth / a->denom[1] : 0.0));                 \
        else if (a->reduction == EM_REDUCTION_SUM)                                                             \
            out[0] = (scalar_t)((1 - eps) * sum_nll + eps / (double)C * sum_smooth);                           \
        return 0;                                                                                              \
    }                                                                                                          \
    static int nll_bwd_##scalar_t(em_nll_args *a)                                                              \
    {                                                                                                          \
        int64_t N = a->x->sizes[0], C = a->x->sizes[1], S = a->x->sizes[2], NS = N * S;                        \
        const scalar_t *x = em_tensor_data(a->x);                                                              \
        const int64_t *t = em_tensor_data(a->target);                                                          \
        const scalar_t *w = a->weight ? em_tensor_data(a->weight) : NULL;                                      \
        const scalar_t *lse = a->lse ? em_tensor_data(a->lse) : NULL;                                          \
        const scalar_t *g = em_tensor_data(a->grad);                                                           \
        scalar_t *gi = em_tensor_data(a->out);                                                                 \
        double eps = a->smoothing, wsum = 0;                                                                   \
        if (w)                                                                                                 \
            for (int64_t c = 0; c < C; c++)                                                                    \
                wsum += (double)w[c];                                                                          \
        else                                                                                                   \
            wsum = (double)C;                                                                                  \
        _Pragma("omp parallel for num_threads(em_num_threads()) if (NS * C >= EM_PARALLEL_THRESHOLD)")          \
        for (int64_t i = 0; i < NS; i++) {                                                                     \
            int64_t n = i / S, s = i % S;                                                                      \
            const scalar_t *xp = x + n * C * S + s;                                                            \
            scalar_t *gp = gi + n * C * S + s;                                                                 \
            if (t[i] == a->ignore_index) {                                                                     \
                for (int64_t c = 0; c < C; c++)                                                                \
                    gp[c * S] = 0;                                                                             \
                continue;                                                                                      \
            }                                                                                                  \
            double go = a->reduction == EM_REDUCTION_NONE ? (double)g[i] : (double)g[0];                       \
            double sa = go * (1 - eps), sb = go * eps / (double)C;                                             \
            if (a->reduction == EM_REDUCTION_MEAN) {                                                           \
                sa /= a->denom[0];                                                                             \
                sb = eps > 0 ? sb / a->denom[1] : 0;                                                           \
            }                                                                                                  \
            double wt = w ? (double)w[t[i] - 1] : 1.0;                                                         \
            for (int64_t c = 0; c < C; c++) {                                                                  \
                double v = 0;                                                                                  \
                if (a->fused) {                                                                                \
                    double p = exp((double)xp[c * S] - (double)lse[i]);                                        \
                    v = sa * wt * p + (eps > 0 ? sb * (wsum * p - (w ? (double)w[c] : 1.0)) : 0.0);            \
                }                                                                                              \
                if (c == t[i] - 1)                                                                             \
                    v -= sa * wt;                                                                              \
                gp[c * S] = (scalar_t)v;                                                                       \
            }                                                                                                  \
        }                                                                                                      \
        return 0;                                                                                              \
    }

NLL_KERNELS(float)
NLL_KERNELS(double)

static int cpu_nll(em_nll_args *a)
{
    if (a->x->dtype == EM_FLOAT32)
        return a->backward ? nll_bwd_float(a) : nll_fwd_float(a);
    if (a->x->dtype == EM_FLOAT64)
        return a->backward ? nll_bwd_double(a) : nll_fwd_double(a);
    return em_error("%s: unsupported dtype %s", a->op, em_dtype_name(a->x->dtype));
}

void em_cpu_register_loss(em_backend *be)
{
    be->kernels[EM_K_NLL] = (em_kernel_fn)cpu_nll;
}
