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
 * Batches run one sample per thread (OpenBLAS single-threaded inside the region);
 * otherwise samples run in turn and OpenBLAS uses the threads. Buffers come from the
 * caching allocator, so repeated calls reuse the same memory. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <omp.h>

#include "../alloc.h"
#include "../conv.h"
#include "../error.h"
#include "../iter.h"
#include "cpu.h"

/* Per-sample shape of the problem, derived once from the geometry. */
typedef struct conv_plan {
    const em_conv_geom *g;
    int64_t cg, og;  /* channels per group: image side, result side */
    int64_t kk;      /* kernel elements */
    int64_t r;       /* rows of the columns matrix: cg * kk */
    int64_t is, os;  /* image and result spatial sizes */
    int64_t tw;      /* columns per tile */
    bool pointwise;  /* 1x1 kernel, stride 1, no padding: no columns needed */
    bool parallel;   /* one sample per thread */
    int nt;          /* threads */
    size_t es;
} conv_plan;

/* Tiles of about this many bytes stay in L2 next to the GEMM's packed panels. */
#define CONV_TILE_BYTES (384 * 1024)
#define CONV_TILE_BYTES_SERIAL (16 * 1024 * 1024)

static void plan_init(conv_plan *p, const em_conv_geom *g)
{
    p->g = g;
    p->cg = g->c_in / g->groups;
    p->og = g->c_out / g->groups;
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
    p->parallel = p->nt > 1 && g->n > 1 && em_cpu_blas_openmp();
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

#define DEFINE_VOL2COL(T, SUF)                                                                                    \
    static void vol2col_##SUF(const conv_plan *p, const T *src, int64_t j0, int64_t tw, T *dst)                   \
    {                                                                                                             \
        const em_conv_geom *g = p->g;                                                                             \
        const int64_t o1 = g->out[1], o2 = g->out[2], i0 = g->in[0], i1 = g->in[1], i2 = g->in[2];                \
        const int64_t s2 = g->stride[2];                                                                          \
        for (int64_t r = 0; r < p->r; r++) {                                                                      \
            int64_t c = r / p->kk, q = r % p->kk;                                                                 \
            int64_t kd = q / (g->k[1] * g->k[2]), kh = q / g->k[2] % g->k[1], kw = q % g->k[2];                   \
            const T *s = src + c * p->is;                                                                         \
            T *d = dst + r * tw;                                                                                  \
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
                        if (hi > t) {                                                                             \
                            memcpy(d + t, row + iw + t, (size_t)(hi - t) * sizeof(T));                            \
                            t = hi;                                                                               \
                        }                                                                                         \
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

/* Scratch: nt column tiles of r x tw elements. NULL with an error on failure. */
static char *cols_alloc(const conv_plan *p, size_t *nbytes)
{
    *nbytes = p->pointwise ? 0 : (size_t)(p->nt * p->r * p->tw) * p->es;
    if (*nbytes == 0)
        return NULL;
    return em_alloc_cpu(*nbytes);
}

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

static int cpu_conv_fwd(const em_conv_geom *g, const void *in, const void *w, const void *bias, void *out)
{
    conv_plan p;
    plan_init(&p, g);
    if (g->n == 0 || g->c_out == 0 || p.os == 0)
        return 0;
    if (plan_check(&p, "conv") < 0)
        return -1;
    size_t nbytes;
    char *cols = cols_alloc(&p, &nbytes);
    if (nbytes && !cols)
        return -1;
    size_t stride = (size_t)(p.r * p.tw) * p.es;
    if (p.parallel) {
#pragma omp parallel for num_threads(p.nt) schedule(static)
        for (int64_t n = 0; n < g->n; n++)
            fwd_sample(&p, n, in, w, bias, out, cols ? cols + (size_t)omp_get_thread_num() * stride : NULL);
    } else {
        for (int64_t n = 0; n < g->n; n++)
            fwd_sample(&p, n, in, w, bias, out, cols);
    }
    if (cols)
        em_free_cpu(cols, nbytes);
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
#pragma omp parallel for num_threads(p.nt) schedule(static)
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
    /* accumulators: thread 0 writes gw itself, the others their own copy */
    size_t acc_bytes = (size_t)((nt - 1) * wn) * es, gb_bytes = (size_t)(nt * g->c_out) * sizeof(double);
    size_t nbytes;
    char *cols = cols_alloc(&p, &nbytes);
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
    size_t stride = (size_t)(p.r * p.tw) * es;
    if (p.parallel) {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num();
            char *mine = t == 0 ? (char *)gw : acc + (size_t)((t - 1) * wn) * es;
#pragma omp for schedule(static)
            for (int64_t n = 0; n < g->n; n++)
                bwd_weight_sample(&p, n, gout, in, mine, gb ? gb + t * g->c_out : NULL,
                                  cols ? cols + (size_t)t * stride : NULL);
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
        for (int64_t n = 0; n < g->n; n++)
            bwd_weight_sample(&p, n, gout, in, gw, gb, cols);
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
    if (acc)
        em_free_cpu(acc, acc_bytes);
    if (gb)
        em_free_cpu(gb, gb_bytes);
    return rc;
}

void em_cpu_register_conv(em_backend *be)
{
    be->kernels[EM_K_CONV_FWD] = (em_kernel_fn)cpu_conv_fwd;
    be->kernels[EM_K_CONV_BWD_INPUT] = (em_kernel_fn)cpu_conv_bwd_input;
    be->kernels[EM_K_CONV_BWD_WEIGHT] = (em_kernel_fn)cpu_conv_bwd_weight;
}
