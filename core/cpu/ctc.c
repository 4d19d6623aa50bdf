/* CPU kernels for ctc_loss: one sample per iteration, OpenMP over the batch.
 * Everything is computed in double; log_alpha is kept (float64) for the
 * backward. Extended position s of a sample with L labels (0 <= s <= 2L) stands
 * for the blank when s is even and for label (s - 1) / 2 when s is odd. The
 * lengths and labels are checked first, so bad values error before anything is
 * written. */
#include <math.h>
#include <stdlib.h>

#include "../ctc.h"
#include "../error.h"
#include "../iter.h"
#include "cpu.h"

#define OP "CTCLoss"

/* log(exp(a) + exp(b) + exp(c)), exact when all are -inf (gives -inf) */
static inline double lse3(double a, double b, double c)
{
    double m = a > b ? a : b;
    m = c > m ? c : m;
    if (m == -INFINITY)
        return -INFINITY;
    return m + log(exp(a - m) + exp(b - m) + exp(c - m));
}

/* Checks lengths and labels; fills off[b] (start of sample b's labels) and
 * returns the longest target length, or -1 with an error. */
static int64_t check_values(const em_ctc_args *a, int64_t *off)
{
    int64_t T = a->lp->sizes[0], N = a->lp->sizes[1], C = a->lp->sizes[2];
    const int64_t *il = em_tensor_data(a->in_len), *tl = em_tensor_data(a->tg_len);
    const int64_t *tg = em_tensor_data(a->targets);
    int64_t S = a->concat ? 0 : a->targets->sizes[1], total = em_tensor_numel(a->targets), sum = 0, lmax = 0;
    for (int64_t b = 0; b < N; b++) {
        if (il[b] < 0 || il[b] > T)
            return em_error(OP ": input_lengths[%lld] = %lld is out of range 0..%lld (T, the length of log_probs)",
                            (long long)(b + 1), (long long)il[b], (long long)T);
        if (tl[b] < 0)
            return em_error(OP ": target_lengths[%lld] = %lld is negative", (long long)(b + 1), (long long)tl[b]);
        if (!a->concat && tl[b] > S)
            return em_error(OP ": target_lengths[%lld] = %lld exceeds the padded targets' length S = %lld",
                            (long long)(b + 1), (long long)tl[b], (long long)S);
        if (a->concat && tl[b] > total - sum)
            return em_error(OP ": target_lengths sum to more than the %lld concatenated targets", (long long)total);
        off[b] = a->concat ? sum : b * S;
        sum += tl[b];
        lmax = tl[b] > lmax ? tl[b] : lmax;
    }
    if (a->concat && sum != total)
        return em_error(OP ": target_lengths sum to %lld but the concatenated targets have %lld elements",
                        (long long)sum, (long long)total);
    for (int64_t b = 0; b < N; b++)
        for (int64_t i = 0; i < tl[b]; i++) {
            int64_t l = tg[off[b] + i];
            if (l < 1 || l > C)
                return em_error(OP ": target label %lld (sample %lld, position %lld) is out of range 1..%lld "
                                "(labels are 1-based)",
                                (long long)l, (long long)(b + 1), (long long)(i + 1), (long long)C);
            if (l - 1 == a->blank)
                return em_error(OP ": target label %lld (sample %lld, position %lld) is the blank; targets must "
                                "not contain blank = %lld",
                                (long long)l, (long long)(b + 1), (long long)(i + 1), (long long)(a->blank + 1));
        }
    return lmax;
}

#define CTC_KERNELS(scalar_t)                                                                                  \
    static int ctc_fwd_##scalar_t(em_ctc_args *a)                                                              \
    {                                                                                                          \
        int64_t T = a->lp->sizes[0], N = a->lp->sizes[1], C = a->lp->sizes[2];                                 \
        int64_t *off = malloc((size_t)(N > 0 ? N : 1) * sizeof *off);                                         \
        if (!off)                                                                                              \
            return em_error(OP ": out of memory");                                                             \
        int64_t lmax = check_values(a, off), W = 2 * lmax + 1;                                                 \
        int64_t nsz[1] = { N }, asz[3] = { N, T, W };                                                          \
        if (lmax >= 0) {                                                                                       \
            a->nll = em_tensor_empty(1, nsz, EM_FLOAT64, em_tensor_device(a->lp));                             \
            a->log_alpha = a->nll ? em_tensor_empty(3, asz, EM_FLOAT64, em_tensor_device(a->lp)) : NULL;       \
        }                                                                                                      \
        if (!a->log_alpha) {                                                                                   \
            free(off);                                                                                         \
            return -1;                                                                                         \
        }                                                                                                      \
        const scalar_t *lp = em_tensor_data(a->lp); /* (T, N, C) */                                            \
        const int64_t *tg = em_tensor_data(a->targets), *il = em_tensor_data(a->in_len);                       \
        const int64_t *tl = em_tensor_data(a->tg_len), blank = a->blank;                                       \
        double *nll = em_tensor_data(a->nll), *alpha = em_tensor_data(a->log_alpha); /* (N), (N, T, W) */      \
        _Pragma("omp parallel for num_threads(em_num_threads()) if (N > 1 && N * T * W >= 4096)")              \
        for (int64_t b = 0; b < N; b++) {                                                                      \
            int64_t Tb = il[b], L = tl[b];                                                                     \
            const int64_t *y = tg + off[b];                                                                    \
            double *la = alpha + b * T * W;                                                                    \
            for (int64_t i = 0; i < T * W; i++)                                                                \
                la[i] = -INFINITY;                                                                             \
            if (Tb == 0) {                                                                                     \
                nll[b] = L == 0 ? 0.0 : INFINITY;                                                              \
                continue;                                                                                      \
            }                                                                                                  \
            const scalar_t *lpb = lp + b * C; /* row t at lpb + t * N * C */                                   \
            la[0] = (double)lpb[blank];                                                                        \
            if (L > 0)                                                                                         \
                la[1] = (double)lpb[y[0] - 1];                                                                 \
            for (int64_t t = 1; t < Tb; t++) {                                                                 \
                const double *prev = la + (t - 1) * W;                                                         \
                double *cur = la + t * W;                                                                      \
                const scalar_t *row = lpb + t * N * C;                                                         \
                for (int64_t s = 0; s <= 2 * L; s++) {                                                         \
                    int64_t c = s % 2 == 0 ? blank : y[s / 2] - 1;                                             \
                    double a2 = s > 0 ? prev[s - 1] : -INFINITY;                                               \
                    double a3 = s > 1 && s % 2 == 1 && y[s / 2] != y[s / 2 - 1] ? prev[s - 2] : -INFINITY;     \
                    double v = lse3(prev[s], a2, a3);                                                          \
                    cur[s] = v == -INFINITY ? -INFINITY : v + (double)row[c];                                  \
                }                                                                                              \
            }                                                                                                  \
            const double *last = la + (Tb - 1) * W;                                                            \
            double ll = lse3(last[2 * L], L > 0 ? last[2 * L - 1] : -INFINITY, -INFINITY);                     \
            nll[b] = -ll;                                                                                      \
        }                                                                                                      \
        scalar_t *out = em_tensor_data(a->out);                                                                \
        double acc = 0;                                                                                        \
        for (int64_t b = 0; b < N; b++) {                                                                      \
            double v = a->zero_infinity && isinf(nll[b]) ? 0.0 : nll[b];                                       \
            if (a->reduction == EM_REDUCTION_NONE)                                                             \
                out[b] = (scalar_t)v;                                                                          \
            else                                                                                               \
                acc += a->reduction == EM_REDUCTION_MEAN ? v / (double)(tl[b] > 1 ? tl[b] : 1) : v;            \
        }                                                                                                      \
        if (a->reduction == EM_REDUCTION_MEAN)                                                                 \
            out[0] = (scalar_t)(acc / (double)N);                                                              \
        else if (a->reduction == EM_REDUCTION_SUM)                                                             \
            out[0] = (scalar_t)acc;                                                                            \
        free(off);                                                                                             \
        return 0;                                                                                              \
    }                                                                                                          \
    static int ctc_bwd_##scalar_t(em_ctc_args *a)                                                              \
    {                                                                                                          \
        int64_t T = a->lp->sizes[0], N = a->lp->sizes[1], C = a->lp->sizes[2], W = a->log_alpha->sizes[2];      \
        int64_t *off = malloc((size_t)(N > 0 ? N : 1) * sizeof *off);                                         \
        double *scratch = off ? malloc((size_t)(N > 0 ? N : 1) * (size_t)(2 * W + C) * sizeof *scratch) : NULL; \
        if (!scratch) {                                                                                        \
            free(off);                                                                                         \
            return em_error(OP ": out of memory");                                                             \
        }                                                                                                      \
        if (check_values(a, off) < 0) {                                                                        \
            free(scratch);                                                                                     \
            free(off);                                                                                         \
            return -1;                                                                                         \
        }                                                                                                      \
        const scalar_t *lp = em_tensor_data(a->lp);                                                            \
        const int64_t *tg = em_tensor_data(a->targets), *il = em_tensor_data(a->in_len);                       \
        const int64_t *tl = em_tensor_data(a->tg_len), blank = a->blank;                                       \
        const double *nll = em_tensor_data(a->nll), *alpha = em_tensor_data(a->log_alpha);                     \
        const scalar_t *gs = em_tensor_data(a->grad);                                                          \
        scalar_t *gi = em_tensor_data(a->out); /* (T, N, C) */                                                 \
        bool none = a->reduction == EM_REDUCTION_NONE;                                                         \
        _Pragma("omp parallel for num_threads(em_num_threads()) if (N > 1 && N * T * W >= 4096)")              \
        for (int64_t b = 0; b < N; b++) {                                                                      \
            int64_t Tb = il[b], L = tl[b];                                                                     \
            const int64_t *y = tg + off[b];                                                                    \
            const double *la = alpha + b * T * W;                                                              \
            const scalar_t *lpb = lp + b * C;                                                                  \
            scalar_t *gb = gi + b * C;                                                                         \
            double g = none ? (double)gs[em_tensor_numel(a->grad) == 1 ? 0 : b]                                \
                            : a->reduction == EM_REDUCTION_SUM ? (double)gs[0]                                 \
                                                               : (double)gs[0] / (double)(L > 1 ? L : 1) / (double)N; \
            for (int64_t t = 0; t < T; t++)                                                                    \
                for (int64_t c = 0; c < C; c++)                                                                \
                    gb[t * N * C + c] = 0;                                                                     \
            if (Tb == 0 || (a->zero_infinity && isinf(nll[b])))                                                \
                continue;                                                                                      \
            double *next = scratch + b * (2 * W + C), *cur = next + W, *lcab = cur + W;                        \
            for (int64_t t = Tb - 1; t >= 0; t--) {                                                            \
                const scalar_t *row = lpb + t * N * C;                                                         \
                for (int64_t s = 0; s <= 2 * L; s++) {                                                         \
                    int64_t c = s % 2 == 0 ? blank : y[s / 2] - 1;                                             \
                    double v;                                                                                  \
                    if (t == Tb - 1) {                                                                         \
                        v = s >= 2 * L - 1 ? (double)row[c] : -INFINITY;                                       \
                    } else {                                                                                   \
                        double b2 = s < 2 * L ? next[s + 1] : -INFINITY;                                       \
                        double b3 = s < 2 * L - 1 && s % 2 == 1 && y[s / 2] != y[s / 2 + 1] ? next[s + 2]      \
                                                                                          : -INFINITY;         \
                        v = lse3(next[s], b2, b3);                                                             \
                        v = v == -INFINITY ? -INFINITY : v + (double)row[c];                                   \
                    }                                                                                          \
                    cur[s] = v;                                                                                \
                }                                                                                              \
                for (int64_t c = 0; c < C; c++)                                                                \
                    lcab[c] = -INFINITY;                                                                       \
                for (int64_t s = 0; s <= 2 * L; s++) {                                                         \
                    int64_t c = s % 2 == 0 ? blank : y[s / 2] - 1;                                             \
                    double v = la[t * W + s] + cur[s];                                                         \
                    if (v > -INFINITY) /* log(exp(lcab) + exp(v)) */                                           \
                        lcab[c] = lcab[c] == -INFINITY ? v : lse3(lcab[c], v, -INFINITY);                      \
                }                                                                                              \
                scalar_t *gr = gb + t * N * C;                                                                 \
                for (int64_t c = 0; c < C; c++) {                                                              \
                    double x = (double)row[c];                                                                 \
                    gr[c] = (scalar_t)((exp(x) - exp(lcab[c] + nll[b] - x)) * g);                              \
                }                                                                                              \
                double *tmp = next;                                                                            \
                next = cur;                                                                                    \
                cur = tmp;                                                                                     \
            }                                                                                                  \
        }                                                                                                      \
        free(scratch);                                                                                         \
        free(off);                                                                                             \
        return 0;                                                                                              \
    }

CTC_KERNELS(float)
CTC_KERNELS(double)

static int cpu_ctc(em_ctc_args *a)
{
    if (a->lp->dtype == EM_FLOAT32)
        return a->backward ? ctc_bwd_float(a) : ctc_fwd_float(a);
    if (a->lp->dtype == EM_FLOAT64)
        return a->backward ? ctc_bwd_double(a) : ctc_fwd_double(a);
    return em_error(OP ": unsupported dtype %s", em_dtype_name(a->lp->dtype));
}

void em_cpu_register_ctc(em_backend *be)
{
    be->kernels[EM_K_CTC] = (em_kernel_fn)cpu_ctc;
}
