/* CPU kernels for one RNN / LSTM / GRU layer-direction (core/rnn.h). The GEMMs go
 * through em_cpu_blas_gemm: the input projection of all steps at once, then per step
 * h' W_hh^T for the active rows; the gate math of a step is one fused loop (OpenMP
 * over rows when a step is large). Backward runs the steps in the other order: the
 * fused gate backward writes the gate gradients of every row, one GEMM per step
 * carries dh to the previous step, and the input and weight gradients are one GEMM
 * each over all rows afterwards. */
/* -O3: the gate loops vectorise (with the libm-free exp/tanh of vmath.h for float) */
#pragma GCC optimize("O3")

#include <math.h>
#include <string.h>

#include <omp.h>

#include "../iter.h"
#include "../rnn.h"
#include "cpu.h"
#include "vmath.h"

/* The gate loops are compiled for AVX-512 and AVX2 as well, chosen at load time
 * (x86-64 with GNU ifunc); elsewhere once, for the baseline. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(EM_SANITIZE)
#define RNN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RNN_CLONES
#endif

/* Recurrent work per step (batch x hidden x gates x hidden multiply-adds) from which
 * the time loop runs on all threads. Rows of the batch are independent sequences, so
 * each thread owns a block of rows for the whole loop (its own single-threaded GEMM
 * and gate math per step) and the threads meet once per call, not once per step. */
#define RNN_PARALLEL_WORK 65536

/* Threads for the time loop: OpenBLAS must be the OpenMP build (single-threaded
 * inside our parallel region) and the step large enough. */
static int loop_threads(const em_rnn_args *a)
{
    int64_t work = a->B * em_rnn_gates(a->mode) * a->H * a->H;
    int nt = em_num_threads();
    if (nt < 2 || !em_cpu_blas_openmp() || work < RNN_PARALLEL_WORK || a->B < 2)
        return 1;
    return (int)(a->B < nt ? a->B : nt);
}

/* Rows [lo, hi) of the batch that thread tid of nt owns. */
static void row_block(int64_t B, int tid, int nt, int64_t *lo, int64_t *hi)
{
    *lo = B * tid / nt;
    *hi = B * (tid + 1) / nt;
}

static void gemm(em_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                 const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    if (m == 0 || n == 0 || k == 0)
        return; /* callers never need the beta-only case */
    em_cpu_blas_gemm(dt, ta, tb, (int)m, (int)n, (int)k, 1.0, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* The typed loops: float32 and float64 share their text through this macro. */
#define RNN_TYPED(R, SFX, EXP, TANH)                                                                              \
    static inline R sig_##SFX(R v) { return (R)1 / ((R)1 + EXP(-v)); }                                          \
                                                                                                                  \
    /* rows (n, cols) = bias (cols) */                                                                            \
    static void fill_rows_##SFX(R *dst, const R *bias, int64_t n, int64_t cols)                                    \
    {                                                                                                             \
        for (int64_t r = 0; r < n; r++)                                                                           \
            memcpy(dst + r * cols, bias, (size_t)cols * sizeof(R));                                               \
    }                                                                                                             \
                                                                                                                  \
    /* dst (cols) = column sums of src (n, cols) */                                                               \
    static void colsum_##SFX(R *dst, const R *src, int64_t n, int64_t cols)                                        \
    {                                                                                                             \
        _Pragma("omp parallel for num_threads(em_num_threads()) schedule(static) if (n * cols >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t j = 0; j < cols; j++) {                                                                      \
            R s = 0;                                                                                              \
            for (int64_t r = 0; r < n; r++)                                                                       \
                s += src[r * cols + j];                                                                           \
            dst[j] = s;                                                                                           \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    /* One step forward for rows 0..b-1: gi (b, GH) input projections of these rows,                            \
     * gh (b, GH) recurrent ones (with b_hh); h, c (B, H) the state, updated in place;                          \
     * out (b, H) this step's output rows; ws (b, W) or NULL. */                                                \
    RNN_CLONES static void step_fwd_##SFX(em_rnn_mode mode, int64_t b, int64_t H, const R *gi, const R *gh, R *h, R *c,      \
                               R *out, R *ws)                                                                     \
    {                                                                                                             \
        int64_t G = em_rnn_gates(mode), GH = G * H, W = em_rnn_ws_width(mode, H);                                \
        for (int64_t r = 0; r < b; r++) {                                                                         \
            const R *xi = gi + r * GH, *hh = gh + r * GH;                                                         \
            R *hr = h + r * H, *o = out + r * H, *w = ws ? ws + r * W : NULL;                                     \
            if (w)                                                                                                \
                memcpy(w, hr, (size_t)H * sizeof(R));                                                             \
            if (mode == EM_RNN_TANH || mode == EM_RNN_RELU) {                                                    \
                for (int64_t j = 0; j < H; j++) {                                                                 \
                    R v = xi[j] + hh[j];                                                                          \
                    v = mode == EM_RNN_TANH ? TANH(v) : (v > 0 ? v : 0);                                          \
                    hr[j] = o[j] = v;                                                                             \
                    if (w)                                                                                        \
                        w[H + j] = v;                                                                             \
                }                                                                                                 \
            } else if (mode == EM_RNN_LSTM) {                                                                    \
                R *cr = c + r * H;                                                                                \
                for (int64_t j = 0; j < H; j++) {                                                                 \
                    R ig = sig_##SFX(xi[j] + hh[j]), fg = sig_##SFX(xi[H + j] + hh[H + j]);                       \
                    R gg = TANH(xi[2 * H + j] + hh[2 * H + j]), og = sig_##SFX(xi[3 * H + j] + hh[3 * H + j]);    \
                    R cp = cr[j], cn = fg * cp + ig * gg, hv = og * TANH(cn);                                     \
                    cr[j] = cn;                                                                                   \
                    hr[j] = o[j] = hv;                                                                            \
                    if (w) {                                                                                      \
                        w[H + j] = ig, w[2 * H + j] = fg, w[3 * H + j] = gg, w[4 * H + j] = og;                   \
                        w[5 * H + j] = cp, w[6 * H + j] = cn;                                                     \
                    }                                                                                             \
                }                                                                                                 \
            } else {                                                                                              \
                for (int64_t j = 0; j < H; j++) {                                                                 \
                    R rg = sig_##SFX(xi[j] + hh[j]), zg = sig_##SFX(xi[H + j] + hh[H + j]);                       \
                    R ghn = hh[2 * H + j], ng = TANH(xi[2 * H + j] + rg * ghn);                                   \
                    R hv = ((R)1 - zg) * ng + zg * hr[j];                                                         \
                    hr[j] = o[j] = hv;                                                                            \
                    if (w)                                                                                        \
                        w[H + j] = rg, w[2 * H + j] = zg, w[3 * H + j] = ng, w[4 * H + j] = ghn;                  \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    /* One step backward for rows 0..b-1: dh, dc (B, H) the carried gradients (dh of                            \
     * this step's output state on entry; on exit dc is the previous step's and, for                           \
     * GRU, dh holds the direct term dh * z); gout (b, H) or NULL; ws (b, W); dgi, dgh                         \
     * (b, GH) the pre-activation gradients of the input and hidden sides (the same                            \
     * buffer except for GRU). */                                                                                 \
    RNN_CLONES static void step_bwd_##SFX(em_rnn_mode mode, int64_t b, int64_t H, R *dh, R *dc, const R *gout, const R *ws,  \
                               R *dgi, R *dgh)                                                                    \
    {                                                                                                             \
        int64_t G = em_rnn_gates(mode), GH = G * H, W = em_rnn_ws_width(mode, H);                                \
        for (int64_t r = 0; r < b; r++) {                                                                         \
            const R *w = ws + r * W, *go = gout ? gout + r * H : NULL;                                            \
            R *dhr = dh + r * H, *di = dgi + r * GH;                                                              \
            if (mode == EM_RNN_TANH || mode == EM_RNN_RELU) {                                                    \
                for (int64_t j = 0; j < H; j++) {                                                                 \
                    R g = dhr[j] + (go ? go[j] : 0), hv = w[H + j];                                               \
                    di[j] = mode == EM_RNN_TANH ? g * ((R)1 - hv * hv) : (hv > 0 ? g : 0);                        \
                }                                                                                                 \
            } else if (mode == EM_RNN_LSTM) {                                                                    \
                R *dcr = dc + r * H;                                                                              \
                for (int64_t j = 0; j < H; j++) {                                                                 \
                    R g = dhr[j] + (go ? go[j] : 0);                                                              \
                    R ig = w[H + j], fg = w[2 * H + j], gg = w[3 * H + j], og = w[4 * H + j];                     \
                    R cp = w[5 * H + j], tc = TANH(w[6 * H + j]);                                                 \
                    R dcv = dcr[j] + g * og * ((R)1 - tc * tc);                                                   \
                    di[j] = dcv * gg * ig * ((R)1 - ig);                                                          \
                    di[H + j] = dcv * cp * fg * ((R)1 - fg);                                                      \
                    di[2 * H + j] = dcv * ig * ((R)1 - gg * gg);                                                  \
                    di[3 * H + j] = g * tc * og * ((R)1 - og);                                                    \
                    dcr[j] = dcv * fg;                                                                            \
                }                                                                                                 \
            } else {                                                                                              \
                R *dd = dgh + r * GH;                                                                             \
                for (int64_t j = 0; j < H; j++) {                                                                 \
                    R g = dhr[j] + (go ? go[j] : 0);                                                              \
                    R hp = w[j], rg = w[H + j], zg = w[2 * H + j], ng = w[3 * H + j], ghn = w[4 * H + j];         \
                    R dnp = g * ((R)1 - zg) * ((R)1 - ng * ng);                                                   \
                    R drp = dnp * ghn * rg * ((R)1 - rg), dzp = g * (hp - ng) * zg * ((R)1 - zg);                 \
                    di[j] = dd[j] = drp;                                                                          \
                    di[H + j] = dd[H + j] = dzp;                                                                  \
                    di[2 * H + j] = dnp;                                                                          \
                    dd[2 * H + j] = dnp * rg;                                                                     \
                    dhr[j] = g * zg;                                                                              \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    }

RNN_TYPED(float, f32, em_vexpf, em_vtanhf)
RNN_TYPED(double, f64, exp, tanh)

static int rnn_forward(em_rnn_args *a)
{
    em_dtype dt = a->x->dtype;
    bool f32 = dt == EM_FLOAT32;
    size_t es = em_dtype_size(dt);
    int64_t H = a->H, B = a->B, N = a->N, GH = em_rnn_gates(a->mode) * H, W = em_rnn_ws_width(a->mode, H);
    char *s = em_tensor_data(a->scratch);
    char *gi = s, *gh = gi + N * GH * es, *h = gh + B * GH * es, *c = h + B * H * es; /* (N,GH) (B,GH) (B,H) (B,H) */
    const char *x = em_tensor_data(a->x), *wih = em_tensor_data(a->w_ih), *whh = em_tensor_data(a->w_hh);
    const void *bih = a->b_ih ? em_tensor_data(a->b_ih) : NULL, *bhh = a->b_hh ? em_tensor_data(a->b_hh) : NULL;
    char *out = em_tensor_data(a->out), *ws = a->ws ? em_tensor_data(a->ws) : NULL;
    /* gi = x W_ih^T + b_ih, all steps in one GEMM */
    if (bih) {
        if (f32)
            fill_rows_f32((float *)gi, bih, N, GH);
        else
            fill_rows_f64((double *)gi, bih, N, GH);
    }
    gemm(dt, false, true, N, GH, a->I, x, a->I, wih, a->I, bih ? 1.0 : 0.0, gi, GH);
    memcpy(h, em_tensor_data(a->h0), (size_t)(B * H) * es);
    if (a->c0)
        memcpy(c, em_tensor_data(a->c0), (size_t)(B * H) * es);
    int nt = loop_threads(a);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int64_t r0, r1;
        row_block(B, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
        int64_t off = a->reverse ? N : 0;
        for (int64_t i = 0; i < a->T; i++) {
            int64_t t = a->reverse ? a->T - 1 - i : i, b = a->batch_sizes[t];
            if (a->reverse)
                off -= b;
            int64_t lo = r0, n = (b < r1 ? b : r1) - r0; /* this thread's active rows */
            if (n > 0) {
                char *ghr = gh + lo * GH * es, *hr = h + lo * H * es, *cr = c + lo * H * es;
                if (bhh) {
                    if (f32)
                        fill_rows_f32((float *)ghr, bhh, n, GH);
                    else
                        fill_rows_f64((double *)ghr, bhh, n, GH);
                }
                gemm(dt, false, true, n, GH, H, hr, H, whh, H, bhh ? 1.0 : 0.0, ghr, GH);
                int64_t row = off + lo;
                char *gir = gi + row * GH * es, *outr = out + row * H * es, *wsr = ws ? ws + row * W * es : NULL;
                if (f32)
                    step_fwd_f32(a->mode, n, H, (float *)gir, (float *)ghr, (float *)hr, (float *)cr, (float *)outr,
                                 (float *)wsr);
                else
                    step_fwd_f64(a->mode, n, H, (double *)gir, (double *)ghr, (double *)hr, (double *)cr,
                                 (double *)outr, (double *)wsr);
            }
            if (!a->reverse)
                off += b;
        }
    }
    memcpy(em_tensor_data(a->hn), h, (size_t)(B * H) * es);
    if (a->cn)
        memcpy(em_tensor_data(a->cn), c, (size_t)(B * H) * es);
    return 0;
}

static int rnn_backward(em_rnn_args *a)
{
    em_dtype dt = a->x->dtype;
    bool f32 = dt == EM_FLOAT32, gru = a->mode == EM_RNN_GRU;
    size_t es = em_dtype_size(dt);
    int64_t H = a->H, B = a->B, N = a->N, I = a->I, GH = em_rnn_gates(a->mode) * H, W = em_rnn_ws_width(a->mode, H);
    char *s = em_tensor_data(a->scratch);
    char *dgi = s, *dgh = gru ? dgi + N * GH * es : dgi; /* (N, GH) each */
    char *dh = (gru ? dgh + N * GH * es : dgi + N * GH * es), *dc = dh + B * H * es; /* (B, H) each */
    const char *x = em_tensor_data(a->x), *wih = em_tensor_data(a->w_ih), *whh = em_tensor_data(a->w_hh);
    const char *ws = em_tensor_data(a->ws), *gout = a->g_out ? em_tensor_data(a->g_out) : NULL;
    if (a->g_hn)
        memcpy(dh, em_tensor_data(a->g_hn), (size_t)(B * H) * es);
    else
        memset(dh, 0, (size_t)(B * H) * es);
    if (a->g_cn)
        memcpy(dc, em_tensor_data(a->g_cn), (size_t)(B * H) * es);
    else
        memset(dc, 0, (size_t)(B * H) * es);
    /* steps in the opposite order of the forward; threads own row blocks as there */
    int nt = loop_threads(a);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int64_t r0, r1;
        row_block(B, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
        int64_t off = a->reverse ? 0 : N;
        for (int64_t i = 0; i < a->T; i++) {
            int64_t t = a->reverse ? i : a->T - 1 - i, b = a->batch_sizes[t];
            if (!a->reverse)
                off -= b;
            int64_t lo = r0, n = (b < r1 ? b : r1) - r0, row = off + lo;
            if (n > 0) {
                const char *gor = gout ? gout + row * H * es : NULL, *wsr = ws + row * W * es;
                char *dgir = dgi + row * GH * es, *dghr = dgh + row * GH * es, *dhr = dh + lo * H * es;
                char *dcr = dc + lo * H * es;
                if (f32)
                    step_bwd_f32(a->mode, n, H, (float *)dhr, (float *)dcr, (const float *)gor, (const float *)wsr,
                                 (float *)dgir, (float *)dghr);
                else
                    step_bwd_f64(a->mode, n, H, (double *)dhr, (double *)dcr, (const double *)gor,
                                 (const double *)wsr, (double *)dgir, (double *)dghr);
                /* dh' = (GRU: dh z) + dgh W_hh */
                gemm(dt, false, false, n, H, GH, dghr, GH, whh, H, gru ? 1.0 : 0.0, dhr, H);
            }
            if (a->reverse)
                off += b;
        }
    }
    if (a->gh0)
        memcpy(em_tensor_data(a->gh0), dh, (size_t)(B * H) * es);
    if (a->gc0)
        memcpy(em_tensor_data(a->gc0), dc, (size_t)(B * H) * es);
    if (a->gx)
        gemm(dt, false, false, N, I, GH, dgi, GH, wih, I, 0.0, em_tensor_data(a->gx), I);
    if (a->gw_ih)
        gemm(dt, true, false, GH, I, N, dgi, GH, x, I, 0.0, em_tensor_data(a->gw_ih), I);
    if (a->gw_hh) /* h' is column block 0 of ws, row stride W */
        gemm(dt, true, false, GH, H, N, dgh, GH, ws, W, 0.0, em_tensor_data(a->gw_hh), H);
    if (f32) {
        if (a->gb_ih)
            colsum_f32(em_tensor_data(a->gb_ih), (const float *)dgi, N, GH);
        if (a->gb_hh)
            colsum_f32(em_tensor_data(a->gb_hh), (const float *)dgh, N, GH);
    } else {
        if (a->gb_ih)
            colsum_f64(em_tensor_data(a->gb_ih), (const double *)dgi, N, GH);
        if (a->gb_hh)
            colsum_f64(em_tensor_data(a->gb_hh), (const double *)dgh, N, GH);
    }
    return 0;
}

static int cpu_rnn(em_rnn_args *a)
{
    if (em_cpu_blas_ready(a->op) < 0)
        return -1;
    return a->backward ? rnn_backward(a) : rnn_forward(a);
}

void em_cpu_register_rnn(em_backend *be)
{
    be->kernels[EM_K_RNN] = (em_kernel_fn)cpu_rnn;
}
