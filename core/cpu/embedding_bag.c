/* CPU kernels for embedding_bag. Forward: OpenMP over bags, each bag reduces its
 * weight rows into its output row (max mode records the row of each maximum).
 * Backward: the weight's gradient is a scatter-add that rows of different bags
 * may share, so threads split the embedding columns instead of the bags; the
 * per-sample-weight gradient is one dot product per index, OpenMP over bags. */
#include <stdlib.h>

#include "../embedding_bag.h"
#include "../error.h"
#include "../iter.h"
#include "cpu.h"

/* Columns per backward task: threads own disjoint column blocks of the gradient. */
#define BAG_COL_BLOCK 64

/* The 0-based index range [lo, hi) of bag b. */
static inline void bag_range(const em_bag_args *a, const int64_t *off, int64_t N, int64_t b, int64_t *lo, int64_t *hi)
{
    if (!off) {
        *lo = b * a->bag_len;
        *hi = *lo + a->bag_len;
        return;
    }
    *lo = off[b] - 1;
    *hi = b + 1 < em_tensor_numel(a->offsets) ? off[b + 1] - 1 : N;
}

static int check_inputs(const em_bag_args *a, int64_t V, int64_t N)
{
    const int64_t *idx = em_tensor_data(a->indices);
    for (int64_t i = 0; i < N; i++)
        if (idx[i] < 1 || idx[i] > V)
            return em_error("%s: index %lld is out of range 1..%lld", a->op, (long long)idx[i], (long long)V);
    if (!a->offsets)
        return 0;
    const int64_t *off = em_tensor_data(a->offsets);
    int64_t n = em_tensor_numel(a->offsets);
    if (n > 0 && off[0] != 1)
        return em_error("%s: offsets[1] must be 1 (offsets are the 1-based starts of the bags), got %lld", a->op,
                        (long long)off[0]);
    for (int64_t i = 0; i < n; i++) {
        if (off[i] > N + 1)
            return em_error("%s: offset %lld is past the end of the input (%lld indices)", a->op, (long long)off[i],
                            (long long)N);
        if (i > 0 && off[i] < off[i - 1])
            return em_error("%s: offsets must be non-decreasing, got %lld after %lld", a->op, (long long)off[i],
                            (long long)off[i - 1]);
    }
    return 0;
}

/* Non-padding entries of bag [lo, hi). */
static inline int64_t bag_count(const int64_t *idx, int64_t lo, int64_t hi, int64_t pad)
{
    int64_t c = 0;
    for (int64_t i = lo; i < hi; i++)
        c += idx[i] != pad;
    return c;
}

#define BAG_KERNELS(scalar_t)                                                                                   \
    static int bag_fwd_##scalar_t(em_bag_args *a)                                                              \
    {                                                                                                          \
        int64_t V = a->weight->sizes[0], D = a->weight->sizes[1], N = em_tensor_numel(a->indices), B = a->nbags;          \
        if (check_inputs(a, V, N) < 0)                                                                         \
            return -1;                                                                                         \
        const scalar_t *w = em_tensor_data(a->weight);                                                         \
        const int64_t *idx = em_tensor_data(a->indices);                                                       \
        const int64_t *off = a->offsets ? em_tensor_data(a->offsets) : NULL;                                   \
        const scalar_t *psw = a->psw ? em_tensor_data(a->psw) : NULL;                                          \
        scalar_t *out = em_tensor_data(a->out);                                                                \
        int64_t *am = a->argmax ? em_tensor_data(a->argmax) : NULL;                                            \
        int64_t pad = a->padding_idx;                                                                          \
        em_bag_mode mode = a->mode;                                                                            \
        _Pragma("omp parallel for num_threads(em_num_threads()) if ((N + B) * D >= EM_PARALLEL_THRESHOLD)")     \
        for (int64_t b = 0; b < B; b++) {                                                                      \
            int64_t lo, hi, cnt = 0;                                                                           \
            bag_range(a, off, N, b, &lo, &hi);                                                                 \
            scalar_t *o = out + b * D;                                                                         \
            int64_t *m = am ? am + b * D : NULL;                                                               \
            for (int64_t d = 0; d < D; d++)                                                                    \
                o[d] = 0;                                                                                      \
            if (m)                                                                                             \
                for (int64_t d = 0; d < D; d++)                                                                \
                    m[d] = -1;                                                                                 \
            for (int64_t i = lo; i < hi; i++) {                                                                \
                if (idx[i] == pad)                                                                             \
                    continue;                                                                                  \
                int64_t r = idx[i] - 1;                                                                        \
                const scalar_t *wr = w + r * D; /* (D) */                                                      \
                if (mode == EM_BAG_MAX) {                                                                      \
                    for (int64_t d = 0; d < D; d++)                                                            \
                        if (cnt == 0 || wr[d] > o[d]) {                                                        \
                            o[d] = wr[d];                                                                      \
                            m[d] = r;                                                                          \
                        }                                                                                      \
                } else {                                                                                       \
                    scalar_t s = psw ? psw[i] : (scalar_t)1;                                                   \
                    for (int64_t d = 0; d < D; d++)                                                            \
                        o[d] += s * wr[d];                                                                     \
                }                                                                                              \
                cnt++;                                                                                         \
            }                                                                                                  \
            if (mode == EM_BAG_MEAN && cnt > 0)                                                                \
                for (int64_t d = 0; d < D; d++)                                                                \
                    o[d] /= (scalar_t)cnt;                                                                     \
        }                                                                                                      \
        return 0;                                                                                              \
    }                                                                                                          \
    static int bag_bwd_##scalar_t(em_bag_args *a)                                                              \
    {                                                                                                          \
        int64_t N = em_tensor_numel(a->indices), B = a->nbags, D = a->grad->sizes[1];                                    \
        const int64_t *idx = em_tensor_data(a->indices);                                                       \
        const int64_t *off = a->offsets ? em_tensor_data(a->offsets) : NULL;                                   \
        const scalar_t *psw = a->psw ? em_tensor_data(a->psw) : NULL;                                          \
        const scalar_t *g = em_tensor_data(a->grad); /* (B, D) */                                              \
        const int64_t *am = a->argmax ? em_tensor_data(a->argmax) : NULL;                                      \
        int64_t pad = a->padding_idx;                                                                          \
        em_bag_mode mode = a->mode;                                                                            \
        if (a->out) {                                                                                          \
            int64_t V = a->out->sizes[0];                                                                      \
            scalar_t *gw = em_tensor_data(a->out); /* (V, D), zeroed */                                        \
            int64_t *freq = NULL;                                                                              \
            if (a->scale_grad_by_freq && mode != EM_BAG_MAX) {                                                 \
                freq = calloc((size_t)(V > 0 ? V : 1), sizeof *freq);                                          \
                if (!freq)                                                                                     \
                    return em_error("%s: out of memory", a->op);                                               \
                for (int64_t i = 0; i < N; i++)                                                                \
                    freq[idx[i] - 1]++;                                                                        \
            }                                                                                                  \
            int64_t nblk = (D + BAG_COL_BLOCK - 1) / BAG_COL_BLOCK;                                            \
            _Pragma("omp parallel for num_threads(em_num_threads()) if (nblk > 1 && (N + B) * D >= EM_PARALLEL_THRESHOLD)") \
            for (int64_t k = 0; k < nblk; k++) {                                                               \
                int64_t d0 = k * BAG_COL_BLOCK, d1 = d0 + BAG_COL_BLOCK < D ? d0 + BAG_COL_BLOCK : D;          \
                for (int64_t b = 0; b < B; b++) {                                                              \
                    const scalar_t *gb = g + b * D;                                                            \
                    if (mode == EM_BAG_MAX) {                                                                  \
                        for (int64_t d = d0; d < d1; d++)                                                      \
                            if (am[b * D + d] >= 0)                                                            \
                                gw[am[b * D + d] * D + d] += gb[d];                                            \
                        continue;                                                                              \
                    }                                                                                          \
                    int64_t lo, hi;                                                                            \
                    bag_range(a, off, N, b, &lo, &hi);                                                         \
                    double bs = 1.0;                                                                           \
                    if (mode == EM_BAG_MEAN) {                                                                 \
                        int64_t c = bag_count(idx, lo, hi, pad);                                               \
                        bs = c > 0 ? 1.0 / (double)c : 0.0;                                                    \
                    }                                                                                          \
                    for (int64_t i = lo; i < hi; i++) {                                                        \
                        if (idx[i] == pad)                                                                     \
                            continue;                                                                          \
                        int64_t r = idx[i] - 1;                                                                \
                        double s = bs * (psw ? (double)psw[i] : 1.0) / (freq ? (double)freq[r] : 1.0);         \
                        scalar_t st = (scalar_t)s, *gr = gw + r * D;                                           \
                        for (int64_t d = d0; d < d1; d++)                                                      \
                            gr[d] += st * gb[d];                                                               \
                    }                                                                                          \
                }                                                                                              \
            }                                                                                                  \
            free(freq);                                                                                        \
        }                                                                                                      \
        if (a->grad_psw) {                                                                                     \
            const scalar_t *w = em_tensor_data(a->weight);                                                     \
            scalar_t *gp = em_tensor_data(a->grad_psw); /* (N) */                                              \
            for (int64_t i = 0; i < N; i++)                                                                    \
                gp[i] = 0; /* indices outside every bag (include_last_offset) */                               \
            _Pragma("omp parallel for num_threads(em_num_threads()) if ((N + B) * D >= EM_PARALLEL_THRESHOLD)") \
            for (int64_t b = 0; b < B; b++) {                                                                  \
                int64_t lo, hi;                                                                                \
                bag_range(a, off, N, b, &lo, &hi);                                                             \
                const scalar_t *gb = g + b * D;                                                                \
                for (int64_t i = lo; i < hi; i++) {                                                            \
                    double acc = 0;                                                                            \
                    if (idx[i] != pad) {                                                                       \
                        const scalar_t *wr = w + (idx[i] - 1) * D;                                             \
                        for (int64_t d = 0; d < D; d++)                                                        \
                            acc += (double)gb[d] * (double)wr[d];                                              \
                    }                                                                                          \
                    gp[i] = (scalar_t)acc;                                                                     \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        return 0;                                                                                              \
    }

BAG_KERNELS(float)
BAG_KERNELS(double)

static int cpu_embedding_bag(em_bag_args *a)
{
    em_dtype dt = a->backward ? a->grad->dtype : a->weight->dtype;
    if (dt == EM_FLOAT32)
        return a->backward ? bag_bwd_float(a) : bag_fwd_float(a);
    if (dt == EM_FLOAT64)
        return a->backward ? bag_bwd_double(a) : bag_fwd_double(a);
    return em_error("%s: unsupported dtype %s", a->op, em_dtype_name(dt));
}

void em_cpu_register_embedding_bag(em_backend *be)
{
    be->kernels[EM_K_EMBEDDING_BAG] = (em_kernel_fn)cpu_embedding_bag;
}
