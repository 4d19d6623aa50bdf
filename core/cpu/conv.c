/* CPU convolution kernels: vol2col + GEMM, in column tiles.
 * The columns matrix of one sample and group is (Cg*K, OS): row r = (channel, kernel
 * offset), column j = output position, holding the input element that kernel offset
 * reads for that output (0 in the padding). Rather than building it whole (7 MiB for
 * a 64-channel 3x3 conv on 56x56), it is built TW columns at a time into a buffer
 * that stays in L2 and consumed at once by the GEMM:
 *   forward          out[:, tile]  = W (Og, R) @ cols (R, TW)
 *   input-backward   cols          = W^T (R, Og) @ gout[:, tile]; col2vol adds into gin
 *   weight-backward  gW (Og, R)   += gout[:, tile] @ cols^T
 * A 1x1 kernel with stride 1 and no padding needs no columns: the input is the matrix.
 * With stride 1 the input-gradient is run as a forward convolution (flipped weight).
 * float32 on AVX-512 CPUs skips OpenBLAS where the output channels per group are a
 * multiple of 8: stride 1 runs direct (forward and weight-gradient micro-kernels read
 * a zero-padded copy of the image, no columns at all), other strides build the columns
 * in the packed layout of an 8x48 micro-kernel. The direct path also takes 5 or more
 * channels per group that are not a multiple of 8, as blocks of 8 with zero rows. The rest is
 * em_cpu_blas_gemm (float64, odd channel counts, strided input-gradients): OpenBLAS, or
 * Ember's sgemm for float32 shapes it runs faster. A forward with at most 64 output
 * positions per sample (the deep layers of a ResNet) puts the columns of several samples
 * side by side, so one GEMM gets full tiles.
 * Batches run one sample per thread (the GEMM single-threaded inside the region);
 * otherwise samples run in turn and the GEMM uses the threads. Buffers come from the
 * caching allocator, so repeated calls reuse the same memory. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <omp.h>

#include "../alloc.h"
#include "../conv.h"
#include "../error.h"
#include "../fold.h"
#include "../iter.h"
#include "cpu.h"

/* Per-sample shape of the problem, derived once from the geometry. */
typedef struct conv_plan {
    const em_conv_geom *g;
    int64_t cg, og;  /* channels per group: image side, result side */
    int64_t ogp;     /* og rounded up to whole blocks of CONV_MR (packed weight, direct paths) */
    int64_t kk;      /* kernel elements */
    int64_t r;       /* rows of the columns matrix: cg * kk */
    int64_t is, os;  /* image and result spatial sizes */
    int64_t tw;      /* columns per tile */
    bool pointwise;  /* 1x1 kernel, stride 1, no padding: no columns needed */
    bool parallel;   /* one sample per thread */
    bool packed;     /* float32 forward through the AVX-512 micro-kernel */
    const float *wpack; /* packed weight (packed and direct forward) */
    bool direct;     /* float32, stride 1: the micro-kernel reads a zero-padded copy of the input */
    int64_t pdim[3], pvol; /* direct: padded image dims and their product */
    int64_t wide;    /* direct: positions on the padded-width grid up to the last output */
    int64_t *off;    /* direct: per row (c, kd, kh, kw) of the weight, its offset in the padded image */
    const void *strips; /* direct forward: each strip's stores (direct_strip), the same for every sample */
    int nt;          /* threads */
    int inner;       /* threads over the strips of one sample, when samples run in turn */
    size_t es;
} conv_plan;

#define CONV_MR 8  /* packed micro-kernel: output channels ... */
#define CONV_NR 48 /* ... by output positions (3 AVX-512 vectors) */

/* Tiles of about this many bytes stay in L2 next to the GEMM's packed panels. */
#define CONV_TILE_BYTES (384 * 1024)
#define CONV_TILE_BYTES_SERIAL (16 * 1024 * 1024)

static void plan_init(conv_plan *p, const em_conv_geom *g)
{
    p->g = g;
    p->cg = g->c_in / g->groups;
    p->og = g->c_out / g->groups;
    p->ogp = (p->og + 7) / 8 * 8; /* CONV_MR */
    p->kk = g->k[0] * g->k[1] * g->k[2];
    p->r = p->cg * p->kk;
    p->is = g->in[0] * g->in[1] * g->in[2];
    p->os = g->out[0] * g->out[1] * g->out[2];
    p->es = g->dtype == EM_FLOAT32 ? sizeof(float) : sizeof(double);
    p->pointwise = true;
    for (int i = 0; i < 3; i++)
        if (g->k[i] != 1 || g->stride[i] != 1 || g->pad[i] != 0 || g->in[i] != g->out[i])
            p->pointwise = false;
    p->nt = em_num_threads();
    /* BLAS loaded first: whether it shares our OpenMP pool is known only then */
    p->parallel = p->nt > 1 && g->n > 1 && em_cpu_blas_ready("conv") == 0 && em_cpu_blas_openmp();
    p->inner = p->parallel ? 1 : p->nt; /* threads within one sample (direct forward) */
    if (!p->parallel)
        p->nt = 1;
    int64_t bytes = p->parallel ? CONV_TILE_BYTES : CONV_TILE_BYTES_SERIAL;
    int64_t tw = bytes / (p->r * (int64_t)p->es > 0 ? p->r * (int64_t)p->es : 1);
    if (tw < 128)
        tw = 128;
    tw = (tw + 15) / 16 * 16;
    if (tw * 3 / 2 >= p->os) /* one tile, rather than a sliver at the end */
        tw = p->os;
    p->tw = tw > 0 ? tw : 1;
    p->packed = false;
    p->wpack = NULL;
    p->direct = false;
    p->off = NULL;
    p->strips = NULL;
}

static bool fits_int(int64_t v)
{
    return v >= 0 && v <= INT32_MAX;
}

static int plan_check(const conv_plan *p, const char *op)
{
    if (!fits_int(p->r) || !fits_int(p->os) || !fits_int(p->is) || !fits_int(p->og) || !fits_int(p->r * p->tw))
        return em_error("%s: the problem is too large for BLAS (%lld x %lld columns)", op, (long long)p->r,
                        (long long)p->os);
    return em_cpu_blas_ready(op);
}

/* ---- vol2col / col2vol over the column range [j0, j0 + tw) ----
 * src is one sample's group of channels (cg, in0, in1, in2); dst is (r, tw). */

#define CONV_NOATTR
#define DEFINE_VOL2COL_ROW(T, SUF, ATTR)                                                                          \
    /* row r of the columns tile into d (tw elements) */                                                          \
    ATTR static void vol2col_row_##SUF(const conv_plan *p, const T *src, int64_t r, int64_t j0, int64_t tw, T *d) \
    {                                                                                                             \
        const em_conv_geom *g = p->g;                                                                             \
        const int64_t o1 = g->out[1], o2 = g->out[2], i0 = g->in[0], i1 = g->in[1], i2 = g->in[2];                \
        const int64_t s2 = g->stride[2];                                                                          \
        {                                                                                                         \
            int64_t c = r / p->kk, q = r % p->kk;                                                                 \
            int64_t kd = q / (g->k[1] * g->k[2]), kh = q / g->k[2] % g->k[1], kw = q % g->k[2];                   \
            const T *s = src + c * p->is;                                                                         \
            int64_t j = j0, end = j0 + tw;                                                                        \
            int64_t od = j / (o1 * o2), oh = j / o2 % o1, ow = j % o2;                                            \
            while (j < end) {                                                                                     \
                int64_t seg = o2 - ow < end - j ? o2 - ow : end - j;                                              \
                int64_t id = od * g->stride[0] - g->pad[0] + kd * g->dil[0];                                      \
                int64_t ih = oh * g->stride[1] - g->pad[1] + kh * g->dil[1];                                      \
                if (id < 0 || id >= i0 || ih < 0 || ih >= i1) {                                                   \
                    memset(d, 0, (size_t)seg * sizeof(T));                                                        \
                } else {                                                                                          \
                    const T *row = s + (id * i1 + ih) * i2;                                                       \
                    int64_t iw = ow * s2 - g->pad[2] + kw * g->dil[2];                                            \
                    if (s2 == 1) {                                                                                \
                        int64_t t = 0;                                                                            \
                        for (; t < seg && iw + t < 0; t++)                                                        \
                            d[t] = 0;                                                                             \
                        int64_t hi = i2 - iw < seg ? i2 - iw : seg;                                               \
                        for (; t < hi; t++) /* short runs: a loop beats a call */                                 \
                            d[t] = row[iw + t];                                                                   \
                        for (; t < seg; t++)                                                                      \
                            d[t] = 0;                                                                             \
                    } else {                                                                                      \
                        for (int64_t t = 0; t < seg; t++, iw += s2)                                               \
                            d[t] = iw >= 0 && iw < i2 ? row[iw] : (T)0;                                           \
                    }                                                                                             \
                }                                                                                                 \
                d += seg, j += seg, ow = 0;                                                                       \
                if (++oh == o1)                                                                                   \
                    oh = 0, od++;                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    }

#define DEFINE_VOL2COL(T, SUF)                                                                            \
    DEFINE_VOL2COL_ROW(T, SUF, CONV_NOATTR)                                                               \
    static void vol2col_##SUF(const conv_plan *p, const T *src, int64_t j0, int64_t tw, T *dst)                   \
    {                                                                                                             \
        for (int64_t r = 0; r < p->r; r++)                                                                        \
            vol2col_row_##SUF(p, src, r, j0, tw, dst + r * tw);                                                   \
    }                                                                                                             \
    static void col2vol_##SUF(const conv_plan *p, const T *src, int64_t j0, int64_t tw, T *dst)                   \
    {                                                                                                             \
        const em_conv_geom *g = p->g;                                                                             \
        const int64_t o1 = g->out[1], o2 = g->out[2], i0 = g->in[0], i1 = g->in[1], i2 = g->in[2];                \
        const int64_t s2 = g->stride[2];                                                                          \
        for (int64_t r = 0; r < p->r; r++) {                                                                      \
            int64_t c = r / p->kk, q = r % p->kk;                                                                 \
            int64_t kd = q / (g->k[1] * g->k[2]), kh = q / g->k[2] % g->k[1], kw = q % g->k[2];                   \
            T *d = dst + c * p->is;                                                                               \
            const T *s = src + r * tw;                                                                            \
            int64_t j = j0, end = j0 + tw;                                                                        \
            int64_t od = j / (o1 * o2), oh = j / o2 % o1, ow = j % o2;                                            \
            while (j < end) {                                                                                     \
                int64_t seg = o2 - ow < end - j ? o2 - ow : end - j;                                              \
                int64_t id = od * g->stride[0] - g->pad[0] + kd * g->dil[0];                                      \
                int64_t ih = oh * g->stride[1] - g->pad[1] + kh * g->dil[1];                                      \
                if (id >= 0 && id < i0 && ih >= 0 && ih < i1) {                                                   \
                    T *row = d + (id * i1 + ih) * i2;                                                             \
                    int64_t iw = ow * s2 - g->pad[2] + kw * g->dil[2];                                            \
                    if (s2 == 1) {                                                                                \
                        int64_t lo = iw < 0 ? -iw : 0, hi = i2 - iw < seg ? i2 - iw : seg;                        \
                        for (int64_t t = lo; t < hi; t++)                                                         \
                            row[iw + t] += s[t];                                                                  \
                    } else {                                                                                      \
                        for (int64_t t = 0; t < seg; t++, iw += s2)                                               \
                            if (iw >= 0 && iw < i2)                                                               \
                                row[iw] += s[t];                                                                  \
                    }                                                                                             \
                }                                                                                                 \
                s += seg, j += seg, ow = 0;                                                                       \
                if (++oh == o1)                                                                                   \
                    oh = 0, od++;                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    }

DEFINE_VOL2COL(float, f32)
DEFINE_VOL2COL(double, f64)

static void vol2col(const conv_plan *p, const void *src, int64_t j0, int64_t tw, void *dst)
{
    if (p->g->dtype == EM_FLOAT32)
        vol2col_f32(p, src, j0, tw, dst);
    else
        vol2col_f64(p, src, j0, tw, dst);
}

static void col2vol(const conv_plan *p, const void *src, int64_t j0, int64_t tw, void *dst)
{
    if (p->g->dtype == EM_FLOAT32)
        col2vol_f32(p, src, j0, tw, dst);
    else
        col2vol_f64(p, src, j0, tw, dst);
}

static void gemm(const conv_plan *p, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                 const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0) { /* BLAS would skip; the result is beta * C */
        if (beta == 0)
            for (int64_t i = 0; i < m; i++)
                memset((char *)c + (size_t)(i * ldc) * p->es, 0, (size_t)n * p->es);
        return;
    }
    em_cpu_blas_gemm(p->g->dtype, ta, tb, (int)m, (int)n, (int)k, 1.0, a, (int)(lda > 0 ? lda : 1), b,
                     (int)(ldb > 0 ? ldb : 1), beta, c, (int)(ldc > 0 ? ldc : 1));
}

static const char *at(const void *base, int64_t elems, size_t es)
{
    return (const char *)base + elems * (int64_t)es;
}

static char *at_mut(void *base, int64_t elems, size_t es)
{
    return (char *)base + elems * (int64_t)es;
}

/* Elements of one thread's columns scratch: the tile, and for the packed layout whole
 * strips plus a row buffer. */
static int64_t cols_elems(const conv_plan *p)
{
    if (p->packed) {
        int64_t w = (p->tw + CONV_NR - 1) / CONV_NR * CONV_NR;
        return w * (p->r + 1);
    }
    return p->r * p->tw;
}

/* Scratch: nt column tiles. NULL with an error on failure. */
static char *cols_alloc(const conv_plan *p, size_t *nbytes)
{
    *nbytes = p->pointwise ? 0 : (size_t)(p->nt * cols_elems(p)) * p->es;
    if (*nbytes == 0)
        return NULL;
    return em_alloc_cpu(*nbytes);
}

/* ---- float32 with AVX-512: own GEMM on packed operands ----
 * OpenBLAS reaches about half the machine's peak on these thin products (64 rows)
 * and packs the columns tile a second time. Here vol2col writes the tile directly in
 * the layout the micro-kernel streams: strips of NR columns, each (R, NR) row-major;
 * the weight is packed once per call as blocks of MR output channels, (R, MR). The
 * micro-kernel keeps an MR x NR block of the output in 24 registers. */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CONV_HAVE_AVX512 1

/* the row builder again, vectorised for AVX-512 (inlined into vol2col_packed) */
#define CONV_AVX512_ATTR __attribute__((target("avx512f"), optimize("tree-vectorize")))
DEFINE_VOL2COL_ROW(float, f32v, CONV_AVX512_ATTR)

static bool cpu_has_avx512(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return known == 1;
}

/* c (MR rows, ldc apart; ncols <= NR of them) = a (R, MR) @ b (R, NR) [+ bias (MR), when given] */
__attribute__((target("avx512f"))) static void ukernel_8x48(int64_t R, const float *a, const float *b, float *c,
                                                           int64_t ldc, int64_t ncols, const float *bias)
{
#define INIT(i) __m512 c##i##0 = _mm512_set1_ps(bias ? bias[i] : 0.0f), c##i##1 = c##i##0, c##i##2 = c##i##0;
    INIT(0) INIT(1) INIT(2) INIT(3) INIT(4) INIT(5) INIT(6) INIT(7)
#undef INIT
    for (int64_t k = 0; k < R; k++, a += CONV_MR, b += CONV_NR) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32);
#define ROW(i)                                                                                                    \
    {                                                                                                             \
        __m512 ai = _mm512_set1_ps(a[i]);                                                                         \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                                               \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                                               \
        c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);                                                               \
    }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
    if (ncols == CONV_NR) {
#define STORE(i)                                                                                                  \
    _mm512_storeu_ps(c + i * ldc, c##i##0);                                                                       \
    _mm512_storeu_ps(c + i * ldc + 16, c##i##1);                                                                  \
    _mm512_storeu_ps(c + i * ldc + 32, c##i##2);
        STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
    } else {
        int64_t n0 = ncols < 16 ? ncols : 16, n1 = ncols - 16 < 0 ? 0 : (ncols - 16 < 16 ? ncols - 16 : 16);
        int64_t n2 = ncols - 32 < 0 ? 0 : ncols - 32;
        __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1), m2 = (__mmask16)((1u << n2) - 1);
#define STORE(i)                                                                                                  \
    _mm512_mask_storeu_ps(c + i * ldc, m0, c##i##0);                                                              \
    _mm512_mask_storeu_ps(c + i * ldc + 16, m1, c##i##1);                                                         \
    _mm512_mask_storeu_ps(c + i * ldc + 32, m2, c##i##2);
        STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
    }
}
#else
static bool cpu_has_avx512(void)
{
    return false;
}
#endif

/* Whether the forward of this plan takes the packed path. */
static bool plan_packed(const conv_plan *p)
{
    return p->g->dtype == EM_FLOAT32 && !p->pointwise && p->og % CONV_MR == 0 && p->r <= 4096 && cpu_has_avx512();
}

/* The weight of every group as blocks of MR output channels: (groups * ogp / MR, R, MR),
 * the rows past og of a group's last block zero. */
static void pack_weight(const conv_plan *p, const float *w, float *wp)
{
    int64_t bpg = p->ogp / CONV_MR;
    for (int64_t gi = 0; gi < p->g->groups; gi++)
        for (int64_t b = 0; b < bpg; b++)
            for (int64_t k = 0; k < p->r; k++)
                for (int64_t i = 0; i < CONV_MR; i++) {
                    int64_t o = b * CONV_MR + i;
                    wp[((gi * bpg + b) * p->r + k) * CONV_MR + i] = o < p->og ? w[(gi * p->og + o) * p->r + k] : 0.0f;
                }
}

/* Floats of the packed weight. */
static int64_t pack_elems(const conv_plan *p)
{
    return p->g->groups * p->ogp * p->r;
}

#ifdef CONV_HAVE_AVX512
/* y (og rows, os apart) [:, j0 .. j0 + tw) = wp of the group @ packed columns [+ bias (og)] */
static void gemm_packed(const conv_plan *p, const float *wp, const float *cols, int64_t tw, float *y,
                        const float *bias)
{
    int64_t strips = (tw + CONV_NR - 1) / CONV_NR;
    for (int64_t b = 0; b < p->og / CONV_MR; b++)
        for (int64_t s = 0; s < strips; s++) {
            int64_t nc = tw - s * CONV_NR < CONV_NR ? tw - s * CONV_NR : CONV_NR;
            ukernel_8x48(p->r, wp + b * p->r * CONV_MR, cols + s * p->r * CONV_NR,
                         y + b * CONV_MR * p->os + s * CONV_NR, p->os, nc, bias ? bias + b * CONV_MR : NULL);
        }
}

/* 48 floats, as three unaligned vectors (a libc call costs more than the copy) */
__attribute__((target("avx512f"))) static void copy48(float *d, const float *s)
{
    _mm512_storeu_ps(d, _mm512_loadu_ps(s));
    _mm512_storeu_ps(d + 16, _mm512_loadu_ps(s + 16));
    _mm512_storeu_ps(d + 32, _mm512_loadu_ps(s + 32));
}

/* The columns tile [j0, j0 + tw) as strips of NR columns, (R, NR) each; zeros past tw. */
__attribute__((target("avx512f"), optimize("tree-vectorize"))) static void
vol2col_packed(const conv_plan *p, const float *src, int64_t j0, int64_t tw, float *dst, float *row)
{
    int64_t strips = (tw + CONV_NR - 1) / CONV_NR;
    for (int64_t r = 0; r < p->r; r++) {
        vol2col_row_f32v(p, src, r, j0, tw, row);
        for (int64_t t = tw; t < strips * CONV_NR; t++)
            row[t] = 0;
        for (int64_t s = 0; s < strips; s++)
            copy48(dst + (s * p->r + r) * CONV_NR, row + s * CONV_NR);
    }
}
/* ---- float32, stride 1: direct convolution on a zero-padded image ----
 * With stride 1, element (c, kd, kh, kw) x (output position) of the columns matrix is
 * the padded image at (c, od + kd*dd, oh + kh*dh, ow + kw*dw). Numbering output
 * positions on the padded grid (j = (od*Hp + oh)*Wp + ow, some of them unused) makes
 * each row of the columns matrix a contiguous run of the padded image starting at
 * off[r]: the micro-kernel loads its B vectors straight from there, no columns are
 * built, and the window one strip reads (Cg channels x a few rows) stays in cache.
 * Results for unused grid positions are dropped when the tile is stored. */

/* ct (MR x NR, row-major) = a (R, MR) @ rows of the padded image at xb + off[k] [+ bias] */
__attribute__((target("avx512f"))) static void ukernel_direct_8x48(int64_t R, const float *a, const float *xb,
                                                                  const int64_t *off, float *ct, const float *bias,
                                                                  int nrows)
{
#define INIT(i)                                                                                                   \
    __m512 c##i##0 = _mm512_set1_ps(bias && i < nrows ? bias[i] : 0.0f), c##i##1 = c##i##0, c##i##2 = c##i##0;
    INIT(0) INIT(1) INIT(2) INIT(3) INIT(4) INIT(5) INIT(6) INIT(7)
#undef INIT
    for (int64_t k = 0; k < R; k++, a += CONV_MR) {
        const float *b = xb + off[k];
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32);
#define ROW(i)                                                                                                    \
    {                                                                                                             \
        __m512 ai = _mm512_set1_ps(a[i]);                                                                         \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                                               \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                                               \
        c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);                                                               \
    }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
#define STORE(i)                                                                                                  \
    _mm512_storeu_ps(ct + i * CONV_NR, c##i##0);                                                                  \
    _mm512_storeu_ps(ct + i * CONV_NR + 16, c##i##1);                                                             \
    _mm512_storeu_ps(ct + i * CONV_NR + 32, c##i##2);
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
}

/* Whether the forward of this plan can run direct; fills the padded geometry. */
static bool plan_direct(conv_plan *p)
{
    const em_conv_geom *g = p->g;
    /* og not a multiple of MR runs in padded blocks: at most 3/8 of the block is waste from 5 rows up */
    if (g->dtype != EM_FLOAT32 || p->pointwise || (p->og % CONV_MR != 0 && p->og < 5) || p->r > 4096 || p->os == 0 ||
        p->is == 0 || !cpu_has_avx512())
        return false;
    for (int i = 0; i < 3; i++) {
        if (g->stride[i] != 1)
            return false;
        p->pdim[i] = g->out[i] + g->dil[i] * (g->k[i] - 1);
        if (p->pdim[i] < g->in[i] + g->pad[i]) /* stride 1 covers the whole input */
            return false;
    }
    p->pvol = p->pdim[0] * p->pdim[1] * p->pdim[2];
    p->wide = ((g->out[0] - 1) * p->pdim[1] + g->out[1] - 1) * p->pdim[2] + g->out[2];
    return p->pvol <= INT32_MAX / 2 && p->cg * p->pvol <= INT32_MAX / 2;
}

/* Floats of one thread's padded image, with slack for the last strip's unused tail,
 * rounded to whole cache lines so that what follows stays 64-byte aligned. */
static int64_t direct_elems(const conv_plan *p)
{
    return (p->cg * p->pvol + 2 * CONV_NR + 15) / 16 * 16;
}

/* The interior of xp (cg, Dp, Hp, Wp) <- the sample's group x (cg, in...); borders stay 0. */
static void direct_fill(const conv_plan *p, const float *x, float *xp)
{
    const em_conv_geom *g = p->g;
    int64_t Hp = p->pdim[1], Wp = p->pdim[2];
    for (int64_t c = 0; c < p->cg; c++)
        for (int64_t d = 0; d < g->in[0]; d++)
            for (int64_t h = 0; h < g->in[1]; h++)
                memcpy(xp + c * p->pvol + ((d + g->pad[0]) * Hp + h + g->pad[1]) * Wp + g->pad[2],
                       x + c * p->is + (d * g->in[1] + h) * g->in[2], (size_t)g->in[2] * sizeof(float));
}

/* One masked store of the tile: lanes m of vector v of each row go to y + base. */
typedef struct direct_store {
    int v;
    __mmask16 m;
    int64_t base;
} direct_store;

/* A strip's grid positions that are outputs, as masked stores of runs contiguous in y. */
typedef struct direct_strip {
    int nst;
    direct_store st[CONV_NR];
} direct_strip;

static int64_t direct_nstrips(const conv_plan *p)
{
    return (p->wide + CONV_NR - 1) / CONV_NR;
}

static void direct_strips(const conv_plan *p, direct_strip *ds)
{
    const em_conv_geom *g = p->g;
    int64_t Hp = p->pdim[1], Wp = p->pdim[2];
    for (int64_t sj = 0; sj < direct_nstrips(p); sj++) {
        direct_store *st = ds[sj].st;
        int nst = 0;
        for (int64_t t = 0; t < CONV_NR; t++) {
            int64_t j = sj * CONV_NR + t, ow = j % Wp, q = j / Wp, oh = q % Hp, od = q / Hp;
            if (j >= p->wide || ow >= g->out[2] || oh >= g->out[1] || od >= g->out[0])
                continue;
            int64_t pos = (od * g->out[1] + oh) * g->out[2] + ow;
            int v = (int)(t / 16), lane = (int)(t % 16);
            if (nst > 0 && st[nst - 1].v == v && st[nst - 1].base + lane == pos) {
                st[nst - 1].m = (__mmask16)(st[nst - 1].m | (1u << lane));
            } else {
                st[nst].v = v, st[nst].m = (__mmask16)(1u << lane), st[nst].base = pos - lane;
                nst++;
            }
        }
        ds[sj].nst = nst;
    }
}

/* yb (nrows <= 8 rows, ldy apart) <- the tile ct (8 x NR) through the strip's stores */
__attribute__((target("avx512f"))) static void direct_put(const float *ct, float *yb, int64_t ldy,
                                                         const direct_store *st, int nst, int nrows)
{
    for (int i = 0; i < nrows; i++)
        for (int k = 0; k < nst; k++)
            _mm512_mask_storeu_ps(yb + i * ldy + st[k].base, st[k].m, _mm512_loadu_ps(ct + i * CONV_NR + st[k].v * 16));
}

static void direct_group(const conv_plan *p, const float *xp, const float *wp, const float *bias, float *y)
{
    int64_t nstrips = direct_nstrips(p);
    const direct_strip *strips = p->strips;
#pragma omp parallel for num_threads(p->inner) if (p->inner > 1 && nstrips > 1) schedule(static)
    for (int64_t sj = 0; sj < nstrips; sj++) {
        int64_t j0 = sj * CONV_NR;
        float ct[CONV_MR * CONV_NR];
        const direct_store *st = strips[sj].st;
        int nst = strips[sj].nst;
        for (int64_t b = 0; b < p->ogp / CONV_MR; b++) {
            int nrows = p->og - b * CONV_MR < CONV_MR ? (int)(p->og - b * CONV_MR) : CONV_MR;
            ukernel_direct_8x48(p->r, wp + b * p->r * CONV_MR, xp + j0, p->off, ct, bias ? bias + b * CONV_MR : NULL,
                                nrows);
            /* masked-off lanes are not written (nor can they fault), so a store may span a row end */
            direct_put(ct, y + b * CONV_MR * p->os, p->os, st, nst, nrows);
        }
    }
}

static void direct_sample(const conv_plan *p, int64_t n, const float *in, const float *bias, float *out, float *xp)
{
    const em_conv_geom *g = p->g;
    for (int64_t gi = 0; gi < g->groups; gi++) {
        direct_fill(p, in + (n * g->c_in + gi * p->cg) * p->is, xp);
        direct_group(p, xp, p->wpack + gi * p->ogp * p->r, bias ? bias + gi * p->og : NULL,
                     out + (n * g->c_out + gi * p->og) * p->os);
    }
}

/* Offsets of the weight rows (c, kd, kh, kw) in the padded image. */
static void direct_offsets(const conv_plan *p, int64_t *off)
{
    const em_conv_geom *g = p->g;
    int64_t Hp = p->pdim[1], Wp = p->pdim[2];
    for (int64_t r = 0; r < p->r; r++) {
        int64_t c = r / p->kk, q = r % p->kk;
        int64_t kd = q / (g->k[1] * g->k[2]), kh = q / g->k[2] % g->k[1], kw = q % g->k[2];
        off[r] = c * p->pvol + (kd * g->dil[0] * Hp + kh * g->dil[1]) * Wp + kw * g->dil[2];
    }
}

/* Weight gradient, stride 1, as gW^T (R, og) += X (R, positions) @ G^T (positions, og):
 * row r of X is the padded image read at off[r] + the grid position of each output, and
 * G^T is the output gradient transposed once per sample, (os, ldg) with its columns past
 * og zero. A micro-tile of WG_MR weight rows x up to 64 output channels (4 vectors) sits
 * in 24 registers for the whole sample: per output position, WG_MR broadcasts of image
 * elements and up to 4 vector loads of G^T feed 24 FMAs, with no horizontal sums. Each
 * thread sums into its own gW^T (R, ldg) and transposes it into gW once at the end. */
#define WG_MR 6

/* ct (nrows <= WG_MR rows, ldc apart; NV * 16 columns) += X rows at xp + off[0..] @ G^T columns */
#define DEFINE_UKERNEL_WGT(NV)                                                                                    \
    __attribute__((target("avx512f"))) static void ukernel_wgt_##NV(const conv_plan *p, const float *xp,         \
                                                                   const int64_t *off, int nrows,                \
                                                                   const float *gt, int64_t ldg, float *ct,      \
                                                                   int64_t ldc)                                  \
    {                                                                                                             \
        const em_conv_geom *g = p->g;                                                                             \
        const int64_t Hp = p->pdim[1], Wp = p->pdim[2], OW = g->out[2];                                           \
        const float *x0 = xp + off[0], *x1 = xp + off[nrows > 1 ? 1 : 0], *x2 = xp + off[nrows > 2 ? 2 : 0];      \
        const float *x3 = xp + off[nrows > 3 ? 3 : 0], *x4 = xp + off[nrows > 4 ? 4 : 0];                         \
        const float *x5 = xp + off[nrows > 5 ? 5 : 0];                                                            \
        __m512 c[WG_MR][NV];                                                                                      \
        _Pragma("GCC unroll 8") for (int i = 0; i < WG_MR; i++)                                                   \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) c[i][v] = _mm512_setzero_ps();                  \
        for (int64_t od = 0; od < g->out[0]; od++)                                                                \
            for (int64_t oh = 0; oh < g->out[1]; oh++) {                                                          \
                const int64_t base = (od * Hp + oh) * Wp;                                                         \
                for (int64_t ow = 0; ow < OW; ow++, gt += ldg) {                                                  \
                    __m512 b[NV];                                                                                 \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) b[v] = _mm512_load_ps(gt + 16 * v);     \
                    const int64_t j = base + ow;                                                                  \
                    const __m512 a0 = _mm512_set1_ps(x0[j]), a1 = _mm512_set1_ps(x1[j]);                          \
                    const __m512 a2 = _mm512_set1_ps(x2[j]), a3 = _mm512_set1_ps(x3[j]);                          \
                    const __m512 a4 = _mm512_set1_ps(x4[j]), a5 = _mm512_set1_ps(x5[j]);                          \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                        \
                        c[0][v] = _mm512_fmadd_ps(a0, b[v], c[0][v]);                                             \
                        c[1][v] = _mm512_fmadd_ps(a1, b[v], c[1][v]);                                             \
                        c[2][v] = _mm512_fmadd_ps(a2, b[v], c[2][v]);                                             \
                        c[3][v] = _mm512_fmadd_ps(a3, b[v], c[3][v]);                                             \
                        c[4][v] = _mm512_fmadd_ps(a4, b[v], c[4][v]);                                             \
                        c[5][v] = _mm512_fmadd_ps(a5, b[v], c[5][v]);                                             \
                    }                                                                                             \
                }                                                                                                 \
            }                                                                                                     \
        _Pragma("GCC unroll 8") for (int i = 0; i < WG_MR; i++)                                                   \
            if (i < nrows)                                                                                        \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                            \
                    float *d = ct + i * ldc + 16 * v;                                                             \
                    _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), c[i][v]));                              \
                }                                                                                                 \
    }
DEFINE_UKERNEL_WGT(1)
DEFINE_UKERNEL_WGT(2)
DEFINE_UKERNEL_WGT(3)
DEFINE_UKERNEL_WGT(4)

/* Columns of G^T and of a thread's gW^T: og rounded up to whole vectors. */
static int64_t wgrad_ldg(const conv_plan *p)
{
    return (p->og + 15) / 16 * 16;
}

/* Floats of one thread's weight-gradient scratch: padded image, G^T (os, ldg), then
 * gW^T of every group (groups, R, ldg). Zeroed once: the columns past og stay 0. */
static int64_t wgrad_elems(const conv_plan *p)
{
    return direct_elems(p) + (p->os + p->g->groups * p->r) * wgrad_ldg(p);
}

static float *wgrad_acc(const conv_plan *p, float *scratch)
{
    return scratch + direct_elems(p) + p->os * wgrad_ldg(p);
}

static void wgrad_sample(const conv_plan *p, int64_t n, const float *gout, const float *in, double *gb,
                         float *scratch)
{
    const em_conv_geom *g = p->g;
    int64_t ldg = wgrad_ldg(p);
    float *xp = scratch, *gt = scratch + direct_elems(p);
    for (int64_t gi = 0; gi < g->groups; gi++) {
        const float *dy = gout + (n * g->c_out + gi * p->og) * p->os; /* (og, os) */
        direct_fill(p, in + (n * g->c_in + gi * p->cg) * p->is, xp);
        for (int64_t q0 = 0; q0 < p->os; q0 += 16) { /* G^T in blocks of 16 positions (stays in L1) */
            int64_t q1 = p->os - q0 < 16 ? p->os : q0 + 16;
            for (int64_t o = 0; o < p->og; o++)
                for (int64_t q = q0; q < q1; q++)
                    gt[q * ldg + o] = dy[o * p->os + q];
        }
        float *acc = wgrad_acc(p, scratch) + gi * p->r * ldg; /* (R, ldg) */
        for (int64_t o0 = 0; o0 < ldg; o0 += 64) {
            int nv = (int)((ldg - o0) / 16 < 4 ? (ldg - o0) / 16 : 4);
            for (int64_t r = 0; r < p->r; r += WG_MR) {
                int nrows = p->r - r < WG_MR ? (int)(p->r - r) : WG_MR;
                float *ct = acc + r * ldg + o0;
                switch (nv) {
                case 1: ukernel_wgt_1(p, xp, p->off + r, nrows, gt + o0, ldg, ct, ldg); break;
                case 2: ukernel_wgt_2(p, xp, p->off + r, nrows, gt + o0, ldg, ct, ldg); break;
                case 3: ukernel_wgt_3(p, xp, p->off + r, nrows, gt + o0, ldg, ct, ldg); break;
                default: ukernel_wgt_4(p, xp, p->off + r, nrows, gt + o0, ldg, ct, ldg); break;
                }
            }
        }
        if (gb)
            for (int64_t o = 0; o < p->og; o++) {
                const float *row = dy + o * p->os;
                float s = 0;
                for (int64_t t = 0; t < p->os; t++)
                    s += row[t];
                gb[gi * p->og + o] += s;
            }
    }
}

/* gw (groups, og, R) += the thread's gW^T (groups, R, ldg) transposed */
static void wgrad_finish(const conv_plan *p, float *gw, const float *scratch)
{
    int64_t ldg = wgrad_ldg(p);
    const float *acc = scratch + direct_elems(p) + p->os * ldg;
    for (int64_t gi = 0; gi < p->g->groups; gi++)
        for (int64_t o = 0; o < p->og; o++)
            for (int64_t r = 0; r < p->r; r++)
                gw[(gi * p->og + o) * p->r + r] += acc[(gi * p->r + r) * ldg + o];
}

/* The direct forward; the packed weight is set up by the caller. 0 or -1. */
static int direct_forward(conv_plan *p, const float *in, const float *bias, float *out)
{
    const em_conv_geom *g = p->g;
    size_t obytes = (size_t)p->r * sizeof(int64_t);
    size_t xbytes = (size_t)(p->nt * direct_elems(p)) * sizeof(float);
    size_t sbytes = (size_t)direct_nstrips(p) * sizeof(direct_strip);
    int64_t *off = em_alloc_cpu(obytes);
    float *xp = off ? em_alloc_cpu(xbytes) : NULL;
    direct_strip *strips = xp ? em_alloc_cpu(sbytes) : NULL;
    if (!strips) {
        if (xp)
            em_free_cpu(xp, xbytes);
        if (off)
            em_free_cpu(off, obytes);
        return -1;
    }
    direct_offsets(p, off);
    direct_strips(p, strips);
    p->off = off;
    p->strips = strips;
    memset(xp, 0, xbytes);
    int64_t stride = direct_elems(p);
    if (p->parallel) {
#pragma omp parallel for num_threads(p->nt) schedule(dynamic, 1)
        for (int64_t n = 0; n < g->n; n++)
            direct_sample(p, n, in, bias, out, xp + omp_get_thread_num() * stride);
    } else {
        for (int64_t n = 0; n < g->n; n++)
            direct_sample(p, n, in, bias, out, xp);
    }
    em_free_cpu(strips, sbytes);
    em_free_cpu(xp, xbytes);
    em_free_cpu(off, obytes);
    return 0;
}
#endif

/* ---- forward ---- */

static void fwd_sample(const conv_plan *p, int64_t n, const void *in, const void *w, const void *bias, void *out,
                       char *cols)
{
    const em_conv_geom *g = p->g;
    size_t es = p->es;
    for (int64_t gi = 0; gi < g->groups; gi++) {
        const char *x = at(in, (n * g->c_in + gi * p->cg) * p->is, es);
        const char *wg = at(w, gi * p->og * p->r, es);
        char *y = at_mut(out, (n * g->c_out + gi * p->og) * p->os, es);
        for (int64_t j0 = 0; j0 < p->os; j0 += p->tw) {
            int64_t tw = p->os - j0 < p->tw ? p->os - j0 : p->tw;
            if (p->pointwise) {
                gemm(p, false, false, p->og, tw, p->r, wg, p->r, x + j0 * (int64_t)es, p->is, 0.0, y + j0 * (int64_t)es,
                     p->os);
#ifdef CONV_HAVE_AVX512
            } else if (p->packed) {
                int64_t wide = (tw + CONV_NR - 1) / CONV_NR * CONV_NR;
                float *pc = (float *)(void *)cols;
                vol2col_packed(p, (const float *)(const void *)x, j0, tw, pc, pc + wide * p->r);
                gemm_packed(p, p->wpack + gi * p->og * p->r, pc, tw, (float *)(void *)y + j0,
                            bias ? (const float *)bias + gi * p->og : NULL);
                continue; /* bias added by the micro-kernel */
#endif
            } else {
                vol2col(p, x, j0, tw, cols);
                gemm(p, false, false, p->og, tw, p->r, wg, p->r, cols, tw, 0.0, y + j0 * (int64_t)es, p->os);
            }
            if (bias) {
                for (int64_t o = 0; o < p->og; o++) {
                    int64_t oc = gi * p->og + o;
                    if (g->dtype == EM_FLOAT32) {
                        float b = ((const float *)bias)[oc], *row = (float *)y + o * p->os + j0;
                        for (int64_t t = 0; t < tw; t++)
                            row[t] += b;
                    } else {
                        double b = ((const double *)bias)[oc], *row = (double *)y + o * p->os + j0;
                        for (int64_t t = 0; t < tw; t++)
                            row[t] += b;
                    }
                }
            }
        }
    }
}

/* ---- forward, small outputs: the columns of several samples side by side ----
 * With few output positions per sample (7x7, 14x14: the deep layers of a ResNet) the
 * per-sample tiles are thin and their last strip of 48 mostly empty; here the columns
 * of nb samples form one (R, nb*os) matrix, so one GEMM per group and chunk keeps the
 * GEMM's tiles full. The GEMM runs outside any parallel region and uses the threads. */
#define CONV_BATCH_OS 64      /* output positions per sample at most (8x8) */
#define CONV_BATCH_COLS 2048  /* columns per chunk, about */

static bool plan_batched(const conv_plan *p)
{
    return !p->pointwise && p->g->n > 1 && p->os <= CONV_BATCH_OS && p->r <= 16384;
}

static void vol2col_row_any(const conv_plan *p, const void *src, int64_t r, int64_t tw, void *dst)
{
    if (p->g->dtype == EM_FLOAT32)
        vol2col_row_f32(p, src, r, 0, tw, dst);
    else
        vol2col_row_f64(p, src, r, 0, tw, dst);
}

/* out[n0 + s, gi*og + o, :] = tmp (og, cnt*os)[o, s*os .. (s+1)*os) [+ bias] */
static void batched_store(const conv_plan *p, const char *tmp, int64_t n0, int64_t cnt, int64_t gi, const void *bias,
                          void *out)
{
    const em_conv_geom *g = p->g;
    size_t es = p->es;
    int64_t ncol = cnt * p->os;
#pragma omp parallel for collapse(2) num_threads(em_num_threads()) if (cnt * p->og * p->os >= EM_PARALLEL_THRESHOLD)
    for (int64_t s = 0; s < cnt; s++)
        for (int64_t o = 0; o < p->og; o++) {
            int64_t oc = gi * p->og + o;
            char *y = at_mut(out, ((n0 + s) * g->c_out + oc) * p->os, es);
            const char *t = at(tmp, o * ncol + s * p->os, es);
            if (g->dtype == EM_FLOAT32) {
                float b = bias ? ((const float *)bias)[oc] : 0.0f;
                for (int64_t i = 0; i < p->os; i++)
                    ((float *)(void *)y)[i] = ((const float *)(const void *)t)[i] + b;
            } else {
                double b = bias ? ((const double *)bias)[oc] : 0.0;
                for (int64_t i = 0; i < p->os; i++)
                    ((double *)(void *)y)[i] = ((const double *)(const void *)t)[i] + b;
            }
        }
}

static int batched_forward(const conv_plan *p, const void *in, const void *w, const void *bias, void *out)
{
    const em_conv_geom *g = p->g;
    size_t es = p->es;
    int64_t nchunks = (g->n * p->os + CONV_BATCH_COLS - 1) / CONV_BATCH_COLS;
    int64_t nb = (g->n + nchunks - 1) / nchunks;
    size_t cbytes = (size_t)(p->r * nb * p->os) * es, tbytes = (size_t)(p->og * nb * p->os) * es;
    char *cols = em_alloc_cpu(cbytes); /* (R, nb*os) */
    char *tmp = cols ? em_alloc_cpu(tbytes) : NULL; /* (og, nb*os) */
    if (!tmp) {
        if (cols)
            em_free_cpu(cols, cbytes);
        return -1;
    }
    for (int64_t n0 = 0; n0 < g->n; n0 += nb) {
        int64_t cnt = g->n - n0 < nb ? g->n - n0 : nb, ncol = cnt * p->os;
        for (int64_t gi = 0; gi < g->groups; gi++) {
#pragma omp parallel for collapse(2) num_threads(em_num_threads()) if (p->r * ncol >= EM_PARALLEL_THRESHOLD)
            for (int64_t s = 0; s < cnt; s++)
                for (int64_t r = 0; r < p->r; r++)
                    vol2col_row_any(p, at(in, ((n0 + s) * g->c_in + gi * p->cg) * p->is, es), r, p->os,
                                    at_mut(cols, r * ncol + s * p->os, es));
            gemm(p, false, false, p->og, ncol, p->r, at(w, gi * p->og * p->r, es), p->r, cols, ncol, 0.0, tmp, ncol);
            batched_store(p, tmp, n0, cnt, gi, bias, out);
        }
    }
    em_free_cpu(tmp, tbytes);
    em_free_cpu(cols, cbytes);
    return 0;
}

static int cpu_conv_fwd(const em_conv_geom *g, const void *in, const void *w, const void *bias, void *out)
{
    conv_plan p;
    plan_init(&p, g);
    if (g->n == 0 || g->c_out == 0 || p.os == 0)
        return 0;
    if (plan_check(&p, "conv") < 0)
        return -1;
    if (plan_batched(&p))
        return batched_forward(&p, in, w, bias, out);
    float *wp = NULL;
    size_t wbytes = 0;
#ifdef CONV_HAVE_AVX512
    if (plan_direct(&p)) {
        wbytes = (size_t)pack_elems(&p) * sizeof(float);
        if (!(wp = em_alloc_cpu(wbytes)))
            return -1;
        pack_weight(&p, w, wp);
        p.wpack = wp;
        int rc = direct_forward(&p, in, bias, out);
        em_free_cpu(wp, wbytes);
        return rc;
    }
#endif
    if (plan_packed(&p)) {
        int64_t tw = p.tw / CONV_NR * CONV_NR;
        if (tw < CONV_NR)
            tw = CONV_NR;
        if (tw * 3 / 2 >= p.os)
            tw = p.os;
        wbytes = (size_t)pack_elems(&p) * sizeof(float);
        if (!(wp = em_alloc_cpu(wbytes)))
            return -1;
        pack_weight(&p, w, wp);
        p.packed = true, p.tw = tw, p.wpack = wp;
    }
    size_t nbytes;
    char *cols = cols_alloc(&p, &nbytes);
    if (nbytes && !cols) {
        if (wp)
            em_free_cpu(wp, wbytes);
        return -1;
    }
    size_t stride = (size_t)cols_elems(&p) * p.es;
    if (p.parallel) {
#pragma omp parallel for num_threads(p.nt) schedule(dynamic, 1)
        for (int64_t n = 0; n < g->n; n++)
            fwd_sample(&p, n, in, w, bias, out, cols ? cols + (size_t)omp_get_thread_num() * stride : NULL);
    } else {
        for (int64_t n = 0; n < g->n; n++)
            fwd_sample(&p, n, in, w, bias, out, cols);
    }
    if (cols)
        em_free_cpu(cols, nbytes);
    if (wp)
        em_free_cpu(wp, wbytes);
    return 0;
}

/* ---- input-backward (and the transposed forward) ---- */

static void bwd_input_sample(const conv_plan *p, int64_t n, const void *gout, const void *w, void *gin, char *cols)
{
    const em_conv_geom *g = p->g;
    size_t es = p->es;
    if (!p->pointwise)
        memset(at_mut(gin, n * g->c_in * p->is, es), 0, (size_t)(g->c_in * p->is) * es);
    for (int64_t gi = 0; gi < g->groups; gi++) {
        const char *dy = at(gout, (n * g->c_out + gi * p->og) * p->os, es);
        const char *wg = at(w, gi * p->og * p->r, es);
        char *dx = at_mut(gin, (n * g->c_in + gi * p->cg) * p->is, es);
        for (int64_t j0 = 0; j0 < p->os; j0 += p->tw) {
            int64_t tw = p->os - j0 < p->tw ? p->os - j0 : p->tw;
            if (p->pointwise) {
                gemm(p, true, false, p->r, tw, p->og, wg, p->r, dy + j0 * (int64_t)es, p->os, 0.0,
                     dx + j0 * (int64_t)es, p->is);
            } else {
                gemm(p, true, false, p->r, tw, p->og, wg, p->r, dy + j0 * (int64_t)es, p->os, 0.0, cols, tw);
                col2vol(p, cols, j0, tw, dx);
            }
        }
    }
}

/* With stride 1 the input-gradient is itself a convolution: of gout with the weight
 * flipped in space and transposed per group, padded by span - 1 - pad. That runs the
 * forward's GEMM shape (Cg rows of output against Og*K) with no col2vol scatter.
 * Returns 1 when it applied, 0 when the geometry does not fit, -1 on error. */
static int bwd_input_as_forward(const conv_plan *p, const void *gout, const void *w, void *gin)
{
    const em_conv_geom *g = p->g;
    em_conv_geom t = *g;
    for (int i = 0; i < 3; i++) {
        int64_t span = g->dil[i] * (g->k[i] - 1) + 1;
        if (g->stride[i] != 1 || g->pad[i] > span - 1 || g->out[i] + span - 1 - g->pad[i] - g->pad[i] != g->in[i])
            return 0; /* asymmetric ('same' with an even kernel) or strided */
        t.in[i] = g->out[i], t.out[i] = g->in[i], t.pad[i] = span - 1 - g->pad[i];
    }
    t.c_in = g->c_out, t.c_out = g->c_in;
    size_t nbytes = (size_t)(g->c_out * p->r) * p->es;
    char *wt = em_alloc_cpu(nbytes ? nbytes : 1);
    if (!wt)
        return -1;
    /* wt[gi*cg + c][o][flipped q] = w[gi*og + o][c][q] */
    int64_t kk = p->kk;
    for (int64_t gi = 0; gi < g->groups; gi++)
        for (int64_t o = 0; o < p->og; o++)
            for (int64_t c = 0; c < p->cg; c++) {
                int64_t src = ((gi * p->og + o) * p->cg + c) * kk, dst = ((gi * p->cg + c) * p->og + o) * kk;
                for (int64_t q = 0; q < kk; q++) {
                    if (p->es == sizeof(float))
                        ((float *)wt)[dst + kk - 1 - q] = ((const float *)w)[src + q];
                    else
                        ((double *)wt)[dst + kk - 1 - q] = ((const double *)w)[src + q];
                }
            }
    int rc = cpu_conv_fwd(&t, gout, wt, NULL, gin);
    em_free_cpu(wt, nbytes ? nbytes : 1);
    return rc < 0 ? -1 : 1;
}

static int cpu_conv_bwd_input(const em_conv_geom *g, const void *gout, const void *w, void *gin)
{
    conv_plan p;
    plan_init(&p, g);
    size_t es = p.es;
    if (g->n == 0 || g->c_in == 0 || p.is == 0)
        return 0;
    if (p.os == 0 || g->c_out == 0) {
        memset(gin, 0, (size_t)(g->n * g->c_in * p.is) * es);
        return 0;
    }
    if (plan_check(&p, "conv") < 0)
        return -1;
    if (!p.pointwise) {
        int done = bwd_input_as_forward(&p, gout, w, gin);
        if (done != 0)
            return done < 0 ? -1 : 0;
    }
    size_t nbytes;
    char *cols = cols_alloc(&p, &nbytes);
    if (nbytes && !cols)
        return -1;
    size_t stride = (size_t)(p.r * p.tw) * es;
    if (p.parallel) {
#pragma omp parallel for num_threads(p.nt) schedule(dynamic, 1)
        for (int64_t n = 0; n < g->n; n++)
            bwd_input_sample(&p, n, gout, w, gin, cols ? cols + (size_t)omp_get_thread_num() * stride : NULL);
    } else {
        for (int64_t n = 0; n < g->n; n++)
            bwd_input_sample(&p, n, gout, w, gin, cols);
    }
    if (cols)
        em_free_cpu(cols, nbytes);
    return 0;
}

/* ---- weight-backward: per-thread accumulators, summed at the end ---- */

static void bwd_weight_sample(const conv_plan *p, int64_t n, const void *gout, const void *in, char *gw, double *gb,
                              char *cols)
{
    const em_conv_geom *g = p->g;
    size_t es = p->es;
    for (int64_t gi = 0; gi < g->groups; gi++) {
        const char *dy = at(gout, (n * g->c_out + gi * p->og) * p->os, es);
        const char *x = at(in, (n * g->c_in + gi * p->cg) * p->is, es);
        char *dw = gw + (size_t)(gi * p->og * p->r) * es;
        for (int64_t j0 = 0; j0 < p->os; j0 += p->tw) {
            int64_t tw = p->os - j0 < p->tw ? p->os - j0 : p->tw;
            if (p->pointwise) {
                gemm(p, false, true, p->og, p->r, tw, dy + j0 * (int64_t)es, p->os, x + j0 * (int64_t)es, p->is, 1.0,
                     dw, p->r);
            } else {
                vol2col(p, x, j0, tw, cols);
                gemm(p, false, true, p->og, p->r, tw, dy + j0 * (int64_t)es, p->os, cols, tw, 1.0, dw, p->r);
            }
        }
        if (gb) {
            for (int64_t o = 0; o < p->og; o++) {
                double s = 0;
                if (g->dtype == EM_FLOAT32) {
                    const float *row = (const float *)dy + o * p->os;
                    float acc = 0;
                    for (int64_t t = 0; t < p->os; t++)
                        acc += row[t];
                    s = acc;
                } else {
                    const double *row = (const double *)dy + o * p->os;
                    for (int64_t t = 0; t < p->os; t++)
                        s += row[t];
                }
                gb[gi * p->og + o] += s;
            }
        }
    }
}

static int cpu_conv_bwd_weight(const em_conv_geom *g, const void *gout, const void *in, void *gw, void *gbias)
{
    conv_plan p;
    plan_init(&p, g);
    size_t es = p.es;
    int64_t wn = g->c_out * p.r;
    if (wn == 0 && !gbias)
        return 0;
    if (plan_check(&p, "conv") < 0)
        return -1;
    int nt = p.nt;
    bool direct = false;
    int64_t *off = NULL;
    size_t obytes = (size_t)p.r * sizeof(int64_t);
#ifdef CONV_HAVE_AVX512
    if (plan_direct(&p)) {
        if (!(off = em_alloc_cpu(obytes)))
            return -1;
        direct_offsets(&p, off);
        p.off = off;
        direct = true;
    }
#endif
    /* accumulators: thread 0 writes gw itself, the others their own copy */
    size_t acc_bytes = (size_t)((nt - 1) * wn) * es, gb_bytes = (size_t)(nt * g->c_out) * sizeof(double);
    size_t nbytes;
    char *cols = direct ? NULL : cols_alloc(&p, &nbytes);
    if (direct) {
        nbytes = (size_t)(nt * wgrad_elems(&p)) * sizeof(float);
        if ((cols = em_alloc_cpu(nbytes)))
            memset(cols, 0, nbytes);
    }
    char *acc = acc_bytes ? em_alloc_cpu(acc_bytes) : NULL;
    double *gb = gbias && gb_bytes ? em_alloc_cpu(gb_bytes) : NULL;
    int rc = 0;
    if ((nbytes && !cols) || (acc_bytes && !acc) || (gbias && gb_bytes && !gb)) {
        rc = -1;
        goto done;
    }
    memset(gw, 0, (size_t)wn * es);
    if (acc)
        memset(acc, 0, acc_bytes);
    if (gb)
        memset(gb, 0, gb_bytes);
    size_t stride = direct ? (size_t)wgrad_elems(&p) * sizeof(float) : (size_t)(p.r * p.tw) * es;
    if (p.parallel) {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num();
            char *mine = t == 0 ? (char *)gw : acc + (size_t)((t - 1) * wn) * es;
#pragma omp for schedule(dynamic, 1)
            for (int64_t n = 0; n < g->n; n++) {
                double *gbt = gb ? gb + t * g->c_out : NULL;
                char *scratch = cols ? cols + (size_t)t * stride : NULL;
#ifdef CONV_HAVE_AVX512
                if (direct) {
                    wgrad_sample(&p, n, gout, in, gbt, (float *)(void *)scratch);
                    continue;
                }
#endif
                bwd_weight_sample(&p, n, gout, in, mine, gbt, scratch);
            }
#ifdef CONV_HAVE_AVX512
            if (direct)
                wgrad_finish(&p, (float *)(void *)mine, (const float *)(const void *)(cols + (size_t)t * stride));
#endif
        }
        for (int t = 1; t < nt; t++) {
            if (g->dtype == EM_FLOAT32) {
                float *d = gw;
                const float *s = (const float *)acc + (t - 1) * wn;
                for (int64_t i = 0; i < wn; i++)
                    d[i] += s[i];
            } else {
                double *d = gw;
                const double *s = (const double *)acc + (t - 1) * wn;
                for (int64_t i = 0; i < wn; i++)
                    d[i] += s[i];
            }
        }
    } else {
        for (int64_t n = 0; n < g->n; n++) {
#ifdef CONV_HAVE_AVX512
            if (direct) {
                wgrad_sample(&p, n, gout, in, gb, (float *)(void *)cols);
                continue;
            }
#endif
            bwd_weight_sample(&p, n, gout, in, gw, gb, cols);
        }
#ifdef CONV_HAVE_AVX512
        if (direct)
            wgrad_finish(&p, gw, (const float *)(const void *)cols);
#endif
    }
    if (gbias) {
        for (int64_t c = 0; c < g->c_out; c++) {
            double s = 0;
            for (int t = 0; t < nt && gb; t++)
                s += gb[t * g->c_out + c];
            if (g->dtype == EM_FLOAT32)
                ((float *)gbias)[c] = (float)s;
            else
                ((double *)gbias)[c] = s;
        }
    }
done:
    if (cols)
        em_free_cpu(cols, nbytes);
    if (off)
        em_free_cpu(off, obytes);
    if (acc)
        em_free_cpu(acc, acc_bytes);
    if (gb)
        em_free_cpu(gb, gb_bytes);
    return rc;
}

/* im2col / col2im (core/fold.h): the column builders on one channel per plane, all
 * columns at once; planes run one per thread. col2im zeroes its plane first. */
static int cpu_fold(const em_conv_geom *g, int64_t planes, bool to_cols, const void *src, void *dst)
{
    conv_plan p;
    memset(&p, 0, sizeof p);
    p.g = g;
    p.cg = p.og = 1;
    p.kk = g->k[0] * g->k[1] * g->k[2];
    p.r = p.kk;
    p.is = g->in[0] * g->in[1] * g->in[2];
    p.os = g->out[0] * g->out[1] * g->out[2];
    p.tw = p.os;
    p.es = g->dtype == EM_FLOAT32 ? sizeof(float) : sizeof(double);
    const int64_t cs = p.r * p.os; /* one plane's columns */
#pragma omp parallel for schedule(static) if (planes > 1 && planes * cs > 32768)
    for (int64_t i = 0; i < planes; i++) {
        if (to_cols) {
            vol2col(&p, at(src, i * p.is, p.es), 0, p.os, at_mut(dst, i * cs, p.es));
        } else {
            memset(at_mut(dst, i * p.is, p.es), 0, (size_t)p.is * p.es);
            col2vol(&p, at(src, i * cs, p.es), 0, p.os, at_mut(dst, i * p.is, p.es));
        }
    }
    return 0;
}

void em_cpu_register_conv(em_backend *be)
{
    be->kernels[EM_K_FOLD] = (em_kernel_fn)cpu_fold;
    be->kernels[EM_K_CONV_FWD] = (em_kernel_fn)cpu_conv_fwd;
    be->kernels[EM_K_CONV_BWD_INPUT] = (em_kernel_fn)cpu_conv_bwd_input;
    be->kernels[EM_K_CONV_BWD_WEIGHT] = (em_kernel_fn)cpu_conv_bwd_weight;
}
