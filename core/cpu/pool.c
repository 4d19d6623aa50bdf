/* CPU pooling kernels: every tensor is contiguous planes (P, H, W); one plane per
 * OpenMP iteration, so scatters within a plane never race. Max pooling takes the
 * first maximum of a window and lets NaN win, as PyTorch does; indices are 1-based
 * positions in the flattened input plane. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "../error.h"
#include "../iter.h"
#include "../pool.h"
#include "cpu.h"
#include "typed.h"

/* Adaptive windows: [floor(o * in / out), ceil((o + 1) * in / out)). */
static inline int64_t ad_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
static inline int64_t ad_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

typedef struct geo {
    int64_t P, H, W, OH, OW;
} geo;

#define MAX_WINDOW(scalar_t, x, h0, h1, hstep, w0, w1, wstep, W, best, bi)  \
    do {                                                                    \
        for (int64_t ih = (h0); ih < (h1); ih += (hstep))                   \
            for (int64_t iw = (w0); iw < (w1); iw += (wstep)) {             \
                scalar_t v_ = (x)[ih * (W) + iw];                           \
                if ((bi) < 0 || v_ > (best) || isnan(v_)) {                 \
                    (best) = v_;                                            \
                    (bi) = ih * (W) + iw;                                   \
                    if (isnan(v_))                                          \
                        goto done_;                                         \
                }                                                           \
            }                                                               \
    done_:;                                                                 \
    } while (0)

/* first in-range tap of a dilated window starting at s (may be negative) */
static inline int64_t first_tap(int64_t s, int64_t dil)
{
    return s >= 0 ? s : s + ((-s + dil - 1) / dil) * dil;
}

/* Windows without padding or dilation that all lie inside the plane (the common
 * MaxPool2d(k) case): parameters in locals, no clipping, and the NaN rule without
 * branches (random data mispredicts them): a value replaces the best unless it is
 * <= the best or the best is already NaN, so the first maximum, or the first NaN,
 * wins. The 2x2 stride-2 rows are written so that the compiler vectorises them; they
 * are built twice, for AVX2 and for the baseline, and picked at run time. */
#define POOL_ROW2(scalar_t, SUF, ATTR)                                                                        \
    ATTR static void max_row2_##SUF(const scalar_t *restrict r0, const scalar_t *restrict r1,                \
                                    scalar_t *restrict y, int64_t *restrict ix, int64_t OW, int64_t base,    \
                                    int64_t W)                                                                \
    {                                                                                                         \
        for (int64_t ow = 0; ow < OW; ow++) {                                                                 \
            scalar_t a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];                  \
            scalar_t best = a;                                                                                \
            int64_t k = 0;                                                                                    \
            bool t = !(b <= best) && best == best;                                                            \
            best = t ? b : best;                                                                              \
            k = t ? 1 : k;                                                                                    \
            t = !(c <= best) && best == best;                                                                 \
            best = t ? c : best;                                                                              \
            k = t ? W : k;                                                                                    \
            t = !(d <= best) && best == best;                                                                 \
            best = t ? d : best;                                                                              \
            k = t ? W + 1 : k;                                                                                \
            y[ow] = best;                                                                                     \
            ix[ow] = base + 2 * ow + k + 1;                                                                   \
        }                                                                                                     \
    }

/* the same rows when no indices are wanted (inference) */
#define POOL_ROW2_VALUES(scalar_t, SUF, ATTR)                                                                 \
    ATTR static void max_row2v_##SUF(const scalar_t *restrict r0, const scalar_t *restrict r1,               \
                                     scalar_t *restrict y, int64_t OW)                                        \
    {                                                                                                         \
        for (int64_t ow = 0; ow < OW; ow++) {                                                                 \
            scalar_t best = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];               \
            best = !(b <= best) && best == best ? b : best;                                                   \
            best = !(c <= best) && best == best ? c : best;                                                   \
            best = !(d <= best) && best == best ? d : best;                                                   \
            y[ow] = best;                                                                                     \
        }                                                                                                     \
    }

/* Values-only max pooling with unit dilation (no indices wanted: inference), in two
 * vectorised passes per output row: the elementwise max of the window's input rows
 * into a row padded with -inf, then the max over each window's columns. The NaN rule
 * is the same: a NaN anywhere in a window wins. */
#define POOL_SEP(scalar_t, SUF, ATTR)                                                                         \
    ATTR static void max_vrow_##SUF(scalar_t *restrict acc, const scalar_t *restrict r, int64_t n)            \
    {                                                                                                         \
        for (int64_t i = 0; i < n; i++) {                                                                     \
            scalar_t v = r[i], a = acc[i];                                                                    \
            acc[i] = ((v > a) | (v != v)) ? v : a;                                                            \
        }                                                                                                     \
    }                                                                                                         \
    ATTR static void max_hrow_##SUF(const scalar_t *restrict row, scalar_t *restrict y, int64_t OW, int64_t kw, \
                                    int64_t sw)                                                               \
    {                                                                                                         \
        for (int64_t ow = 0; ow < OW; ow++)                                                                   \
            y[ow] = row[ow * sw];                                                                             \
        for (int64_t j = 1; j < kw; j++)                                                                      \
            for (int64_t ow = 0; ow < OW; ow++) {                                                             \
                scalar_t v = row[ow * sw + j], a = y[ow];                                                     \
                y[ow] = ((v > a) | (v != v)) ? v : a;                                                         \
            }                                                                                                 \
    }

#if defined(__x86_64__) && defined(__GNUC__)
#define POOL_AVX2_ATTR __attribute__((target("avx2"), optimize("tree-vectorize")))
#define POOL_HAVE_AVX2 1
POOL_ROW2(float, f32_avx2, POOL_AVX2_ATTR)
POOL_ROW2(double, f64_avx2, POOL_AVX2_ATTR)
POOL_ROW2_VALUES(float, f32_avx2, POOL_AVX2_ATTR)
POOL_ROW2_VALUES(double, f64_avx2, POOL_AVX2_ATTR)
POOL_SEP(float, f32_avx2, POOL_AVX2_ATTR)
POOL_SEP(double, f64_avx2, POOL_AVX2_ATTR)
static bool pool_avx2(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return known == 1;
}
#endif
#define POOL_BASE_ATTR __attribute__((optimize("tree-vectorize")))
POOL_ROW2(float, f32, POOL_BASE_ATTR)
POOL_ROW2(double, f64, POOL_BASE_ATTR)
POOL_ROW2_VALUES(float, f32, POOL_BASE_ATTR)
POOL_ROW2_VALUES(double, f64, POOL_BASE_ATTR)
POOL_SEP(float, f32, POOL_BASE_ATTR)
POOL_SEP(double, f64, POOL_BASE_ATTR)

#ifdef POOL_HAVE_AVX2
#define POOL_ROW2_CALL(SUF, ...) (avx2 ? max_row2_##SUF##_avx2(__VA_ARGS__) : max_row2_##SUF(__VA_ARGS__))
#define POOL_ROW2V_CALL(SUF, ...) (avx2 ? max_row2v_##SUF##_avx2(__VA_ARGS__) : max_row2v_##SUF(__VA_ARGS__))
#define POOL_SEP_CALL(NAME, SUF, ...) (avx2 ? NAME##_##SUF##_avx2(__VA_ARGS__) : NAME##_##SUF(__VA_ARGS__))
#else
#define POOL_ROW2_CALL(SUF, ...) max_row2_##SUF(__VA_ARGS__)
#define POOL_ROW2V_CALL(SUF, ...) max_row2v_##SUF(__VA_ARGS__)
#define POOL_SEP_CALL(NAME, SUF, ...) NAME##_##SUF(__VA_ARGS__)
#endif

#define KERNEL_MAX_PLAIN(scalar_t, SUF)                                                                       \
    static void max_plain_##scalar_t(geo g, const scalar_t *x, scalar_t *y, int64_t *ix, int64_t kh, int64_t kw, \
                                     int64_t sh, int64_t sw)                                                  \
    {                                                                                                         \
        const int64_t P = g.P, H = g.H, W = g.W, OH = g.OH, OW = g.OW;                                        \
        const bool two = kh == 2 && kw == 2 && sh == 2 && sw == 2;                                            \
        POOL_AVX2_FLAG                                                                                        \
        int64_t work_ = P * OH * OW * kh * kw;                                                                \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < P; pl++) {                                                                  \
            const scalar_t *xp = x + pl * H * W;                                                              \
            scalar_t *yp = y + pl * OH * OW;                                                                  \
            int64_t *ip = ix ? ix + pl * OH * OW : NULL;                                                      \
            for (int64_t oh = 0; oh < OH; oh++) {                                                             \
                if (two && !ip) {                                                                             \
                    POOL_ROW2V_CALL(SUF, xp + 2 * oh * W, xp + (2 * oh + 1) * W, yp + oh * OW, OW);           \
                    continue;                                                                                 \
                }                                                                                             \
                if (two) {                                                                                    \
                    POOL_ROW2_CALL(SUF, xp + 2 * oh * W, xp + (2 * oh + 1) * W, yp + oh * OW, ip + oh * OW, OW, \
                                   2 * oh * W, W);                                                            \
                    continue;                                                                                 \
                }                                                                                             \
                for (int64_t ow = 0; ow < OW; ow++) {                                                         \
                    int64_t b = oh * sh * W + ow * sw;                                                        \
                    scalar_t best = xp[b];                                                                    \
                    for (int64_t i = 0; i < kh; i++)                                                          \
                        for (int64_t j = 0; j < kw; j++) {                                                    \
                            int64_t q = (oh * sh + i) * W + ow * sw + j;                                      \
                            scalar_t v = xp[q];                                                               \
                            bool take = !(v <= best) && best == best;                                         \
                            best = take ? v : best;                                                           \
                            b = take ? q : b;                                                                 \
                        }                                                                                     \
                    yp[oh * OW + ow] = best;                                                                  \
                    if (ip)                                                                                   \
                        ip[oh * OW + ow] = b + 1;                                                             \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    }

#ifdef POOL_HAVE_AVX2
#define POOL_AVX2_FLAG const bool avx2 = pool_avx2();
#else
#define POOL_AVX2_FLAG
#endif

/* The padded row of the separable path lives on the stack up to this many elements. */
#define POOL_SEP_MAX_ROW 4096

#define KERNEL_MAX_SEP(scalar_t, SUF)                                                                         \
    static bool max_sep_##scalar_t(geo g, const scalar_t *x, scalar_t *y, const em_pool_params *p)            \
    {                                                                                                         \
        const int64_t kh = p->kernel[0], kw = p->kernel[1], sh = p->stride[0], sw = p->stride[1];             \
        const int64_t ph = p->padding[0], pw = p->padding[1];                                                 \
        const int64_t L = (g.OW - 1) * sw + kw; /* padded columns the windows cover */                       \
        const int64_t ncopy = L - pw < g.W ? L - pw : g.W; /* image columns inside them */                    \
        if (p->dilation[0] != 1 || p->dilation[1] != 1 || L > POOL_SEP_MAX_ROW || ncopy <= 0)                 \
            return false;                                                                                     \
        POOL_AVX2_FLAG                                                                                        \
        int64_t work_ = g.P * g.OH * (L * kh + g.OW * kw);                                                    \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < g.P; pl++) {                                                                \
            scalar_t row[POOL_SEP_MAX_ROW]; /* (L): padded columns, -inf outside the image */                 \
            for (int64_t i = 0; i < L; i++)                                                                   \
                row[i] = -INFINITY;                                                                           \
            const scalar_t *xp = x + pl * g.H * g.W;                                                          \
            scalar_t *yp = y + pl * g.OH * g.OW;                                                              \
            for (int64_t oh = 0; oh < g.OH; oh++) {                                                           \
                int64_t hs = oh * sh - ph, he = hs + kh;                                                      \
                hs = hs > 0 ? hs : 0;                                                                         \
                he = he < g.H ? he : g.H;                                                                     \
                if (hs >= he) { /* a window wholly in the padding */                                          \
                    for (int64_t ow = 0; ow < g.OW; ow++)                                                     \
                        yp[oh * g.OW + ow] = -INFINITY;                                                       \
                    continue;                                                                                 \
                }                                                                                             \
                memcpy(row + pw, xp + hs * g.W, (size_t)ncopy * sizeof(scalar_t));                            \
                for (int64_t h = hs + 1; h < he; h++)                                                         \
                    POOL_SEP_CALL(max_vrow, SUF, row + pw, xp + h * g.W, ncopy);                              \
                POOL_SEP_CALL(max_hrow, SUF, row, yp + oh * g.OW, g.OW, kw, sw);                              \
            }                                                                                                 \
        }                                                                                                     \
        return true;                                                                                          \
    }

#define KERNEL_MAX(scalar_t)                                                                                  \
    static void max_fwd_##scalar_t(geo g, const scalar_t *x, scalar_t *y, int64_t *ix, const em_pool_params *p) \
    {                                                                                                         \
        if (p->padding[0] == 0 && p->padding[1] == 0 && p->dilation[0] == 1 && p->dilation[1] == 1 &&         \
            (g.OH - 1) * p->stride[0] + p->kernel[0] <= g.H && (g.OW - 1) * p->stride[1] + p->kernel[1] <= g.W) { \
            max_plain_##scalar_t(g, x, y, ix, p->kernel[0], p->kernel[1], p->stride[0], p->stride[1]);        \
            return;                                                                                           \
        }                                                                                                     \
        if (!ix && max_sep_##scalar_t(g, x, y, p))                                                            \
            return;                                                                                           \
        int64_t work_ = g.P * g.OH * g.OW * p->kernel[0] * p->kernel[1];                                   \
        const bool dil1 = p->dilation[0] == 1 && p->dilation[1] == 1;                                         \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < (g.P); pl++) {                                    \
            const scalar_t *xp = x + pl * g.H * g.W;                                                          \
            for (int64_t oh = 0; oh < g.OH; oh++)                                                             \
                for (int64_t ow = 0; ow < g.OW; ow++) {                                                       \
                    int64_t hs = oh * p->stride[0] - p->padding[0], ws = ow * p->stride[1] - p->padding[1];   \
                    int64_t he = hs + (p->kernel[0] - 1) * p->dilation[0] + 1;                               \
                    int64_t we = ws + (p->kernel[1] - 1) * p->dilation[1] + 1;                               \
                    scalar_t best = -INFINITY;                                                                \
                    int64_t bi = -1;                                                                          \
                    if (dil1 && hs >= 0 && ws >= 0 && he <= g.H && we <= g.W) {                               \
                        /* an interior window (most of a padded pool): the branch-free rule */                \
                        bi = hs * g.W + ws;                                                                   \
                        best = xp[bi];                                                                        \
                        for (int64_t i = hs; i < he; i++)                                                     \
                            for (int64_t j = ws; j < we; j++) {                                               \
                                scalar_t v = xp[i * g.W + j];                                                 \
                                bool take = !(v <= best) && best == best;                                     \
                                best = take ? v : best;                                                       \
                                bi = take ? i * g.W + j : bi;                                                 \
                            }                                                                                 \
                    } else {                                                                                  \
                        he = he < g.H ? he : g.H;                                                             \
                        we = we < g.W ? we : g.W;                                                             \
                        MAX_WINDOW(scalar_t, xp, first_tap(hs, p->dilation[0]), he, p->dilation[0],         \
                                   first_tap(ws, p->dilation[1]), we, p->dilation[1], g.W, best, bi);        \
                    }                                                                                         \
                    int64_t o = pl * g.OH * g.OW + oh * g.OW + ow;                                            \
                    y[o] = best;                                                                              \
                    if (ix)                                                                                   \
                        ix[o] = bi + 1;                                                                       \
                }                                                                                             \
        }                                                                                                     \
    }                                                                                                         \
    static void amax_fwd_##scalar_t(geo g, const scalar_t *x, scalar_t *y, int64_t *ix)                       \
    {                                                                                                         \
        int64_t work_ = g.P * g.H * g.W; \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < (g.P); pl++) {                                                                     \
            const scalar_t *xp = x + pl * g.H * g.W;                                                          \
            for (int64_t oh = 0; oh < g.OH; oh++)                                                             \
                for (int64_t ow = 0; ow < g.OW; ow++) {                                                       \
                    scalar_t best = -INFINITY;                                                                \
                    int64_t bi = -1;                                                                          \
                    MAX_WINDOW(scalar_t, xp, ad_start(oh, g.H, g.OH), ad_end(oh, g.H, g.OH), 1,               \
                               ad_start(ow, g.W, g.OW), ad_end(ow, g.W, g.OW), 1, g.W, best, bi);             \
                    int64_t o = pl * g.OH * g.OW + oh * g.OW + ow;                                            \
                    y[o] = best;                                                                              \
                    if (ix)                                                                                   \
                        ix[o] = bi + 1;                                                                       \
                }                                                                                             \
        }                                                                                                     \
    }

/* The window of output (oh, ow) of average pooling clipped to the input, and
 * its divisor (PyTorch's rules for padding, ceil_mode and the override). */
static inline double avg_window(const em_pool_params *p, int64_t H, int64_t W, int64_t oh, int64_t ow, int64_t *h0,
                                int64_t *h1, int64_t *w0, int64_t *w1)
{
    int64_t hs = oh * p->stride[0] - p->padding[0], ws = ow * p->stride[1] - p->padding[1];
    int64_t he = hs + p->kernel[0], we = ws + p->kernel[1];
    he = he < H + p->padding[0] ? he : H + p->padding[0];
    we = we < W + p->padding[1] ? we : W + p->padding[1];
    int64_t pool = (he - hs) * (we - ws);
    hs = hs > 0 ? hs : 0;
    ws = ws > 0 ? ws : 0;
    he = he < H ? he : H;
    we = we < W ? we : W;
    *h0 = hs, *h1 = he, *w0 = ws, *w1 = we;
    if (hs >= he || ws >= we)
        return 0;
    if (p->divisor > 0)
        return (double)p->divisor;
    return p->count_include_pad ? (double)pool : (double)((he - hs) * (we - ws));
}

#define KERNEL_AVG(scalar_t)                                                                                  \
    static void avg_##scalar_t(geo g, const scalar_t *x, scalar_t *y, const em_pool_params *p, bool bwd)       \
    {                                                                                                         \
        int64_t work_ = g.P * g.OH * g.OW * p->kernel[0] * p->kernel[1];                                   \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < (g.P); pl++) {                                    \
            const scalar_t *gp = x + pl * (bwd ? g.OH * g.OW : g.H * g.W);                                    \
            scalar_t *yp = y + pl * (bwd ? g.H * g.W : g.OH * g.OW);                                          \
            if (bwd)                                                                                          \
                memset(yp, 0, (size_t)(g.H * g.W) * sizeof(scalar_t));                                        \
            for (int64_t oh = 0; oh < g.OH; oh++)                                                             \
                for (int64_t ow = 0; ow < g.OW; ow++) {                                                       \
                    int64_t h0, h1, w0, w1;                                                                   \
                    double div = avg_window(p, g.H, g.W, oh, ow, &h0, &h1, &w0, &w1);                         \
                    if (div == 0) {                                                                           \
                        if (!bwd)                                                                             \
                            yp[oh * g.OW + ow] = 0;                                                           \
                        continue;                                                                             \
                    }                                                                                         \
                    if (bwd) {                                                                                \
                        scalar_t v = (scalar_t)(gp[oh * g.OW + ow] / div);                                    \
                        for (int64_t ih = h0; ih < h1; ih++)                                                  \
                            for (int64_t iw = w0; iw < w1; iw++)                                              \
                                yp[ih * g.W + iw] += v;                                                       \
                    } else {                                                                                  \
                        double s = 0;                                                                         \
                        for (int64_t ih = h0; ih < h1; ih++)                                                  \
                            for (int64_t iw = w0; iw < w1; iw++)                                              \
                                s += gp[ih * g.W + iw];                                                       \
                        yp[oh * g.OW + ow] = (scalar_t)(s / div);                                             \
                    }                                                                                         \
                }                                                                                             \
        }                                                                                                     \
    }                                                                                                         \
    static void aavg_##scalar_t(geo g, const scalar_t *x, scalar_t *y, bool bwd)                              \
    {                                                                                                         \
        int64_t work_ = g.P * g.H * g.W; \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < (g.P); pl++) {                                                                     \
            const scalar_t *gp = x + pl * (bwd ? g.OH * g.OW : g.H * g.W);                                    \
            scalar_t *yp = y + pl * (bwd ? g.H * g.W : g.OH * g.OW);                                          \
            if (bwd)                                                                                          \
                memset(yp, 0, (size_t)(g.H * g.W) * sizeof(scalar_t));                                        \
            for (int64_t oh = 0; oh < g.OH; oh++)                                                             \
                for (int64_t ow = 0; ow < g.OW; ow++) {                                                       \
                    int64_t h0 = ad_start(oh, g.H, g.OH), h1 = ad_end(oh, g.H, g.OH);                         \
                    int64_t w0 = ad_start(ow, g.W, g.OW), w1 = ad_end(ow, g.W, g.OW);                         \
                    double div = (double)((h1 - h0) * (w1 - w0));                                             \
                    if (bwd) {                                                                                \
                        scalar_t v = (scalar_t)(gp[oh * g.OW + ow] / div);                                    \
                        for (int64_t ih = h0; ih < h1; ih++)                                                  \
                            for (int64_t iw = w0; iw < w1; iw++)                                              \
                                yp[ih * g.W + iw] += v;                                                       \
                    } else {                                                                                  \
                        double s = 0;                                                                         \
                        for (int64_t ih = h0; ih < h1; ih++)                                                  \
                            for (int64_t iw = w0; iw < w1; iw++)                                              \
                                s += gp[ih * g.W + iw];                                                       \
                        yp[oh * g.OW + ow] = (scalar_t)(s / div);                                             \
                    }                                                                                         \
                }                                                                                             \
        }                                                                                                     \
    }

/* Scatter (n_in values per plane into n_out slots) and gather. */
#define KERNEL_MOVE(scalar_t)                                                                                 \
    static void scatter_##scalar_t(int64_t P, int64_t n_in, int64_t n_out, const scalar_t *x, const int64_t *ix, \
                                   scalar_t *y, bool add)                                                     \
    {                                                                                                         \
        int64_t work_ = P * (n_in + n_out); \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < (P); pl++) {                                                                    \
            scalar_t *yp = y + pl * n_out;                                                                    \
            const scalar_t *xp = x + pl * n_in;                                                               \
            const int64_t *ip = ix + pl * n_in;                                                               \
            memset(yp, 0, (size_t)n_out * sizeof(scalar_t));                                                  \
            if (add)                                                                                          \
                for (int64_t i = 0; i < n_in; i++)                                                            \
                    yp[ip[i] - 1] += xp[i];                                                                   \
            else                                                                                              \
                for (int64_t i = 0; i < n_in; i++)                                                            \
                    yp[ip[i] - 1] = xp[i];                                                                    \
        }                                                                                                     \
    }                                                                                                         \
    static void gather_##scalar_t(int64_t P, int64_t n_in, int64_t n_out, const scalar_t *x, const int64_t *ix, \
                                  scalar_t *y)                                                                \
    {                                                                                                         \
        int64_t work_ = P * n_out; \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < (P); pl++) {                                                                             \
            for (int64_t i = 0; i < n_out; i++)                                                               \
                y[pl * n_out + i] = x[pl * n_in + ix[pl * n_out + i] - 1];                                    \
        }                                                                                                     \
    }

KERNEL_MAX_PLAIN(float, f32)
KERNEL_MAX_PLAIN(double, f64)
KERNEL_MAX_SEP(float, f32)
KERNEL_MAX_SEP(double, f64)
KERNEL_MAX(float)
KERNEL_MAX(double)
KERNEL_AVG(float)
KERNEL_AVG(double)
KERNEL_MOVE(float)
KERNEL_MOVE(double)

static int cpu_pool(em_pool_op op, em_tensor *out, em_tensor *idx, const em_tensor *in, const em_pool_params *p)
{
    bool bwd = op == EM_POOL_AVG_BWD || op == EM_POOL_ADAPTIVE_AVG_BWD;
    /* g: input planes H x W, output planes OH x OW (for backward ops `in` is the
     * output's gradient and `out` the input's) */
    const em_tensor *big = bwd ? out : in, *small = bwd ? in : out;
    geo g = { in->sizes[0], big->sizes[1], big->sizes[2], small->sizes[1], small->sizes[2] };
    int64_t n_in = in->sizes[1] * in->sizes[2], n_out = out->sizes[1] * out->sizes[2];
    em_dtype dt = in->dtype;
    if (dt != EM_FLOAT32 && dt != EM_FLOAT64)
        return em_error("pool: unsupported dtype %s", em_dtype_name(dt));
    int64_t *ix = idx ? em_tensor_data(idx) : NULL;
    {
        const void *x = em_tensor_data(in);
        void *y = em_tensor_data(out);
        switch (op) {
        case EM_POOL_MAX_FWD:
            if (dt == EM_FLOAT32)
                max_fwd_float(g, (const float *)x, (float *)y, ix, p);
            else
                max_fwd_double(g, (const double *)x, (double *)y, ix, p);
            break;
        case EM_POOL_ADAPTIVE_MAX_FWD:
            if (dt == EM_FLOAT32)
                amax_fwd_float(g, (const float *)x, (float *)y, ix);
            else
                amax_fwd_double(g, (const double *)x, (double *)y, ix);
            break;
        case EM_POOL_AVG_FWD:
        case EM_POOL_AVG_BWD:
            if (dt == EM_FLOAT32)
                avg_float(g, (const float *)x, (float *)y, p, bwd);
            else
                avg_double(g, (const double *)x, (double *)y, p, bwd);
            break;
        case EM_POOL_ADAPTIVE_AVG_FWD:
        case EM_POOL_ADAPTIVE_AVG_BWD:
            if (dt == EM_FLOAT32)
                aavg_float(g, (const float *)x, (float *)y, bwd);
            else
                aavg_double(g, (const double *)x, (double *)y, bwd);
            break;
        case EM_POOL_SCATTER_ADD:
        case EM_POOL_SCATTER:
            if (dt == EM_FLOAT32)
                scatter_float(g.P, n_in, n_out, (const float *)x, ix, (float *)y, op == EM_POOL_SCATTER_ADD);
            else
                scatter_double(g.P, n_in, n_out, (const double *)x, ix, (double *)y, op == EM_POOL_SCATTER_ADD);
            break;
        case EM_POOL_GATHER:
            if (dt == EM_FLOAT32)
                gather_float(g.P, n_in, n_out, (const float *)x, ix, (float *)y);
            else
                gather_double(g.P, n_in, n_out, (const double *)x, ix, (double *)y);
            break;
        }
    }
    return 0;
}

void em_cpu_register_pool(em_backend *be)
{
    be->kernels[EM_K_POOL] = (em_kernel_fn)cpu_pool;
}
