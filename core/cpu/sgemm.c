/* Ember's own float32 GEMM for x86-64 CPUs with AVX-512F:
 *   C (m, n) = alpha * op(A) (m, k) @ op(B) (k, n) + beta * C, row-major, any leading dims.
 * OpenBLAS 0.3.21 (SkylakeX kernels) reaches about 90% of this machine's peak on large
 * squares and much less on the thin products of a small network; this kernel matches it on
 * large squares and beats it on mid-sized and thin products, so blas.c sends float32 here
 * where it wins (em_sgemm_suits: not the tiny or very narrow ones).
 * GotoBLAS/BLIS structure: op(B) is packed a KC x NC block at a time into panels of NR
 * columns (the block stays in L2), op(A) a panel of MR rows at a time (it stays in L1), and
 * a 12x32 micro-kernel keeps its tile of C in 24 zmm registers for the whole KC-deep step.
 * Packing absorbs the transposes and the ragged edges (panels are zero-padded, so the
 * micro-kernel never reads outside them); edge tiles of C go through a masked merge. Each
 * thread computes its own block of rows (or columns) of C with its own buffers, so threads
 * never wait for each other; inside an OpenMP region everything runs on the calling thread,
 * as OpenBLAS does, so callers that run one sample per thread keep working. float64 and
 * CPUs without AVX-512 stay on OpenBLAS. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../error.h"
#include "../iter.h"
#include "cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define SG_ATTR __attribute__((target("avx512f")))
#define SG_INLINE __attribute__((target("avx512f"), always_inline)) static inline

/* Micro-tile: MR rows of C (A broadcast element by element) by NR columns (2 vectors of
 * B); 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers. */
#define SG_MR 12
#define SG_NR 32
/* Depth of one packed step: an A panel (KC x MR, 24 KiB) stays in L1 (48 KiB) while
 * the B panels stream past it from L2 (384 measured 1% slower on 2048^2, same elsewhere). */
#define SG_KC 512
/* Columns of one thread's packed B block: KC x NC floats (1 MiB) stay in its L2 (2 MiB). */
#define SG_NC 512
/* Rows of A kept packed for the later blocks of columns (KC x MC floats, 4.7 MiB, read back
 * from L3 a panel at a time). */
#define SG_MC 2400
/* Below this many multiply-adds one thread is faster than waking the others (48^3: 1.9 us
 * on one thread, 2.4 on two; 64^3: 3.9 and 3.2). */
#define SG_PARALLEL_WORK (64 * 64 * 64)

static int64_t sg_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t sg_ceil(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static __mmask16 sg_mask(int64_t lanes)
{
    return lanes >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (lanes > 0 ? lanes : 0)) - 1);
}

/* ---- packing ---- */

/* In-place transpose of a 16x16 block held as 16 rows. */
SG_INLINE void sg_transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4g + c], 128-bit lane l: rows 4g..4g+3 of column 4l + c */
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
        __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512 v01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), w01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
        __m512 v23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 w23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = _mm512_shuffle_f32x4(v01, v23, 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(v01, v23, 0xdd);
        r[4 + c] = _mm512_shuffle_f32x4(w01, w23, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(w01, w23, 0xdd);
    }
}

/* Starts fetching the line at address addr into L1 (and L2). The address may lie past the
 * matrix (a prefetch never faults), so it is an integer, not a pointer. Written as asm:
 * GCC's dead-code elimination drops _mm_prefetch loops it can see have no other effect. */
static inline void sg_prefetch_at(uintptr_t addr)
{
    __asm__ volatile("prefetcht0 (%0)" : : "r"(addr));
}

/* The line off floats past p. */
static inline void sg_prefetch(const float *p, int64_t off)
{
    sg_prefetch_at((uintptr_t)p + (uintptr_t)(off * (int64_t)sizeof(float)));
}

/* dst (cols, dld) [q][0 .. rows) = src (rows, ld) [i][q] for q < cols: a rows x cols piece
 * (both <= 16) of a row-major matrix, transposed; lanes past rows are stored as zeros when
 * they fall inside the store mask. The same piece `ahead` floats further on is prefetched:
 * the packing loops read short runs of many rows, which the hardware prefetchers do not
 * pick up in time. */
SG_INLINE void sg_transpose_piece(float *dst, int64_t dld, __mmask16 store, const float *src, int64_t ld,
                                  int64_t rows, int64_t cols, int64_t ahead)
{
    __m512 r[16];
    __mmask16 load = sg_mask(cols);
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        if (i < rows)
            sg_prefetch(src, i * ld + ahead);
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(load, src + i * ld) : _mm512_setzero_ps();
    sg_transpose16(r);
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++)
        if (q < cols)
            _mm512_mask_storeu_ps(dst + q * dld, store, r[q]);
}

/* dst (16, dld) [q][0 .. rows) = src (rows, ld) [i][q]: a whole piece of rows = 12 or 16 rows
 * by 16 columns, transposed (the lanes past rows hold garbage; the store mask drops them).
 * The lane-crossing half of the transpose is done by the loads (128-bit broadcasts into one
 * lane each, which run on the load ports and port 0), so only 32 in-lane shuffles are left
 * for port 5, against 64 in sg_transpose16: packing A is shuffle-bound. */
SG_INLINE void sg_transpose_whole(float *dst, int64_t dld, __mmask16 store, const float *src, int64_t ld,
                                  const int rows)
{
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) {
        /* x[i], lane j: row i + 4 j, columns 4 l .. 4 l + 3 */
        __m512 x[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            const float *r = src + i * ld + 4 * l;
            x[i] = _mm512_broadcast_f32x4(_mm_loadu_ps(r));
            x[i] = _mm512_mask_broadcast_f32x4(x[i], 0x00f0, _mm_loadu_ps(r + 4 * ld));
            x[i] = _mm512_mask_broadcast_f32x4(x[i], 0x0f00, _mm_loadu_ps(r + 8 * ld));
            if (rows == 16)
                x[i] = _mm512_mask_broadcast_f32x4(x[i], 0xf000, _mm_loadu_ps(r + 12 * ld));
        }
        /* 4 x 4 transposes within the lanes: y[c], lane j = rows 4 j .. 4 j + 3 of column 4 l + c */
        __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(x[0], x[1]));
        __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(x[0], x[1]));
        __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(x[2], x[3]));
        __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(x[2], x[3]));
        _mm512_mask_storeu_ps(dst + (4 * l + 0) * dld, store, _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2)));
        _mm512_mask_storeu_ps(dst + (4 * l + 1) * dld, store, _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2)));
        _mm512_mask_storeu_ps(dst + (4 * l + 2) * dld, store, _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3)));
        _mm512_mask_storeu_ps(dst + (4 * l + 3) * dld, store, _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3)));
    }
}

/* One A panel: dst (kc, MR) [p][i] = op(A)[i0 + i][p0 + p], rows past mr zero. op(A)[i][p]
 * is a[i * lda + p], or a[p * lda + i] when ta. */
SG_ATTR static void sg_pack_a(float *restrict dst, const float *a, int64_t lda, bool ta, int64_t i0, int64_t mr,
                              int64_t p0, int64_t kc)
{
    if (ta) { /* each step p is a contiguous run of mr floats */
        __mmask16 load = sg_mask(mr);
        const float *s = a + p0 * lda + i0;
        for (int64_t p = 0; p < kc; p++) {
            sg_prefetch(s + p * lda, 16 * lda);
            _mm512_mask_storeu_ps(dst + p * SG_MR, sg_mask(SG_MR), _mm512_maskz_loadu_ps(load, s + p * lda));
        }
        return;
    }
    /* rows of A are contiguous in p: transpose 16 steps at a time (12 rows + 4 zero rows),
     * prefetching the rows of the next panel */
    const float *s = a + i0 * lda + p0;
    int64_t p = 0;
    if (mr == SG_MR)
        for (; p + 16 <= kc; p += 16)
            sg_transpose_whole(dst + p * SG_MR, SG_MR, sg_mask(SG_MR), s + p, lda, SG_MR);
    for (; p < kc; p += 16)
        sg_transpose_piece(dst + p * SG_MR, SG_MR, sg_mask(SG_MR), s + p, lda, mr, sg_min(16, kc - p), SG_MR * lda);
}

/* A block of B panels when op(B) is b transposed (otherwise the first sweep over the
 * block packs it, see sg_kernel_tpl): dst (nc / NR panels of (kc, NR)) [q][p][j] =
 * op(B)[p0 + p][j0 + q NR + j] = b[(j0 + q NR + j) * ldb + p0 + p], columns past nc zero. */
SG_ATTR static void sg_pack_bt(float *restrict dst, const float *b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                               int64_t nc)
{
    /* columns of op(B) are rows of b, contiguous in p: transpose 16 x 16 pieces */
    for (int64_t q = 0; q * SG_NR < nc; q++) {
        int64_t nr = sg_min(SG_NR, nc - q * SG_NR);
        const float *s = b + (j0 + q * SG_NR) * ldb + p0;
        float *d = dst + q * kc * SG_NR;
        int64_t p = 0;
        if (nr == SG_NR)
            for (; p + 16 <= kc; p += 16) {
                sg_transpose_whole(d + p * SG_NR, SG_NR, 0xffff, s + p, ldb, 16);
                sg_transpose_whole(d + p * SG_NR + 16, SG_NR, 0xffff, s + 16 * ldb + p, ldb, 16);
            }
        for (; p < kc; p += 16) {
            sg_transpose_piece(d + p * SG_NR, SG_NR, 0xffff, s + p, ldb, sg_min(16, nr), sg_min(16, kc - p),
                               SG_NR * ldb);
            /* the second half: zeros past nr (no rows of b are read for them) */
            sg_transpose_piece(d + p * SG_NR + 16, SG_NR, 0xffff, nr > 16 ? s + 16 * ldb + p : s + p, ldb,
                               nr - 16, sg_min(16, kc - p), SG_NR * ldb);
        }
    }
}

/* ---- micro-kernel ---- */

/* c (mr rows, ldc apart; nv vectors) = alpha * ap (kc, MR) @ B (kc, NR) + beta * c, for the
 * first mr rows of the A panel. B is the packed panel bp; or, when copy is set, it is read
 * straight from op(B) at bs (rows bld apart, the columns past cols masked to zero) and each
 * step is written to bp on the way: the first sweep over a block of B packs it, the loads
 * of the copy overlapping the arithmetic instead of going before it. beta == 0 writes c
 * without reading it (NaN in the output does not propagate). */
SG_INLINE void sg_kernel_tpl(int64_t kc, const float *restrict ap, float *restrict bp, const float *bs, int64_t bld,
                             int64_t cols, float *restrict c, int64_t ldc, float alpha, float beta, const int mr,
                             const int nv, const bool copy)
{
    __m512 acc[SG_MR][2];
    __mmask16 bm[2] = {sg_mask(cols), sg_mask(cols - 16)};
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++, ap += SG_MR, bp += SG_NR) {
        __m512 b[2];
        if (copy) {
            sg_prefetch(bs, 8 * bld);
            sg_prefetch(bs, 8 * bld + 16 * nv - 1);
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) {
                b[v] = _mm512_maskz_loadu_ps(bm[v], bs + 16 * v);
                _mm512_store_ps(bp + 16 * v, b[v]);
            }
            bs += bld;
        } else {
            /* the panel streams from L2: ask for it 16 steps ahead */
            sg_prefetch(bp, 16 * SG_NR);
            sg_prefetch(bp, 16 * SG_NR + 16 * nv - 1);
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++)
                b[v] = _mm512_load_ps(bp + 16 * v);
        }
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (alpha == 1 && beta == 1) { /* the later depth steps: accumulate */
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++)
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++)
                _mm512_storeu_ps(c + i * ldc + 16 * v, _mm512_add_ps(acc[i][v], _mm512_loadu_ps(c + i * ldc + 16 * v)));
    } else if (beta == 0) {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++)
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++)
                _mm512_storeu_ps(c + i * ldc + 16 * v, _mm512_mul_ps(va, acc[i][v]));
    } else {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++)
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++)
                _mm512_storeu_ps(c + i * ldc + 16 * v,
                                 _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + i * ldc + 16 * v), _mm512_mul_ps(va, acc[i][v])));
    }
}

typedef void (*sg_kernel_fn)(int64_t kc, const float *ap, float *bp, const float *bs, int64_t bld, int64_t cols,
                             float *c, int64_t ldc, float alpha, float beta);

#define SG_KERNEL(MRV, NV, COPY, NAME)                                                                             \
    SG_ATTR static void NAME(int64_t kc, const float *ap, float *bp, const float *bs, int64_t bld, int64_t cols,   \
                             float *c, int64_t ldc, float alpha, float beta)                                       \
    {                                                                                                              \
        sg_kernel_tpl(kc, ap, bp, bs, bld, cols, c, ldc, alpha, beta, MRV, NV, COPY);                              \
    }
SG_KERNEL(12, 2, false, sg_kernel_12x2)
SG_KERNEL(12, 1, false, sg_kernel_12x1)
SG_KERNEL(8, 2, false, sg_kernel_8x2)
SG_KERNEL(8, 1, false, sg_kernel_8x1)
SG_KERNEL(4, 2, false, sg_kernel_4x2)
SG_KERNEL(4, 1, false, sg_kernel_4x1)
SG_KERNEL(12, 2, true, sg_kernel_12x2_copy)
SG_KERNEL(12, 1, true, sg_kernel_12x1_copy)
SG_KERNEL(8, 2, true, sg_kernel_8x2_copy)
SG_KERNEL(8, 1, true, sg_kernel_8x1_copy)
SG_KERNEL(4, 2, true, sg_kernel_4x2_copy)
SG_KERNEL(4, 1, true, sg_kernel_4x1_copy)
#undef SG_KERNEL

/* Kernels by [copy][rows / 4 - 1][vectors - 1]: ragged tiles run the smallest that covers
 * them. */
static const sg_kernel_fn sg_kernels[2][3][2] = {
    {{sg_kernel_4x1, sg_kernel_4x2}, {sg_kernel_8x1, sg_kernel_8x2}, {sg_kernel_12x1, sg_kernel_12x2}},
    {{sg_kernel_4x1_copy, sg_kernel_4x2_copy},
     {sg_kernel_8x1_copy, sg_kernel_8x2_copy},
     {sg_kernel_12x1_copy, sg_kernel_12x2_copy}},
};

/* One tile of C (rows <= MR, cols <= NR at c) from an A panel and a B panel (packed at bp,
 * or read from bs and packed on the way when bs is not NULL; see sg_kernel_tpl). A ragged
 * tile is computed into a scratch tile and merged under masks. */
SG_ATTR static void sg_tile(int64_t kc, const float *ap, float *bp, const float *bs, int64_t bld, float *c,
                            int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta)
{
    /* a panel being packed is written whole (zeros past cols), so it takes both vectors */
    int nv = cols > 16 || bs ? 2 : 1;
    sg_kernel_fn kern = sg_kernels[bs != NULL][(rows + 3) / 4 - 1][nv - 1];
    /* The tile of C is needed only after the depth loop: start fetching it now (here, not
     * in the kernel, where the row addresses would take registers from the loop). */
    for (int64_t i = 0; i < rows; i++) {
        sg_prefetch(c, i * ldc);
        sg_prefetch(c, i * ldc + cols - 1);
    }
    if (cols == 16 * nv && rows % 4 == 0) {
        kern(kc, ap, bp, bs, bld, cols, c, ldc, alpha, beta);
        return;
    }
    float t[SG_MR * SG_NR] __attribute__((aligned(64))); /* (rows, NR) */
    kern(kc, ap, bp, bs, bld, cols, t, SG_NR, alpha, 0.0f);
    __m512 vb = _mm512_set1_ps(beta);
    for (int64_t i = 0; i < rows; i++)
        for (int v = 0; v < nv; v++) {
            __mmask16 m = sg_mask(cols - 16 * v);
            float *d = c + i * ldc + 16 * v;
            __m512 x = _mm512_load_ps(t + i * SG_NR + 16 * v);
            if (beta != 0)
                x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, d), x);
            _mm512_mask_storeu_ps(d, m, x);
        }
}

/* ---- the blocked product ---- */

typedef struct sg_args {
    bool ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
    int64_t kc; /* depth of a packed step (k split evenly) */
} sg_args;

/* Blocks of columns [c_lo, c_lo + w) of one thread: how many, and how wide (whole NR panels,
 * as even as they come). */
static int64_t sg_col_blocks(int64_t w, int64_t *ncb)
{
    int64_t nb = sg_ceil(w, SG_NC);
    *ncb = sg_ceil(sg_ceil(w, nb), SG_NR) * SG_NR;
    return nb;
}

/* C[rows [r_lo, r_hi), cols [c_lo, c_hi)] on one thread. bp (KC x NC floats) holds a packed
 * block of B: packed up front when op(B) is a transpose; otherwise by the first sweep over
 * the block (its kernels read op(B) and write the panels as they go), which saves a pass
 * over the block when few A panels share it. Each A panel is packed right before the first
 * sweep that uses it: written to L1 and read from there. With one block of columns, ap
 * holds that one panel (KC x MR); with several, ap holds the panels of up to a_rows rows
 * (a_rows / MR panels of KC x MR), packed during the sweeps of the first block and read back
 * for the others. */
static void sg_block(const sg_args *g, int64_t r_lo, int64_t r_hi, int64_t c_lo, int64_t c_hi, float *ap,
                     int64_t a_rows, float *bp)
{
    int64_t ncb;
    if (c_hi <= c_lo || r_hi <= r_lo)
        return;
    bool keep = sg_col_blocks(c_hi - c_lo, &ncb) > 1, fused = !g->tb;
    int64_t mcb = keep ? a_rows : r_hi - r_lo;
    for (int64_t ic = r_lo; ic < r_hi; ic += mcb) {
        int64_t ie = sg_min(ic + mcb, r_hi);
        for (int64_t pc = 0; pc < g->k; pc += g->kc) {
            int64_t kc = sg_min(g->kc, g->k - pc);
            float beta = pc == 0 ? g->beta : 1.0f;
            for (int64_t jc = c_lo; jc < c_hi; jc += ncb) {
                int64_t nc = sg_min(ncb, c_hi - jc), sweep = sg_ceil(nc, SG_NR);
                bool pack = !keep || jc == c_lo;
                if (!fused)
                    sg_pack_bt(bp, g->b, g->ldb, pc, kc, jc, nc); /* panels of (kc, NR) */
                for (int64_t ir = ic; ir < ie; ir += SG_MR) {
                    int64_t rows = sg_min(SG_MR, ie - ir);
                    float *panel = keep ? ap + (ir - ic) * kc : ap; /* (kc, MR) */
                    if (pack)
                        sg_pack_a(panel, g->a, g->lda, g->ta, ir, rows, pc, kc);
                    for (int64_t q = 0; q < sweep; q++) {
                        const float *bs = fused && ir == ic ? g->b + pc * g->ldb + jc + q * SG_NR : NULL;
                        sg_tile(kc, panel, bp + q * SG_NR * kc, bs, g->ldb, g->c + ir * g->ldc + jc + q * SG_NR,
                                g->ldc, rows, sg_min(SG_NR, nc - q * SG_NR), g->alpha, beta);
                    }
                }
            }
        }
    }
}

/* Floats of ap for sg_block over rows x cols (see there). */
static int64_t sg_a_elems(const sg_args *g, int64_t rows, int64_t cols, int64_t *a_rows)
{
    int64_t ncb;
    *a_rows = sg_col_blocks(cols, &ncb) > 1 ? sg_min(SG_MC, sg_ceil(rows, SG_MR) * SG_MR) : SG_MR;
    return sg_ceil(*a_rows * g->kc, 16) * 16; /* the B block after it starts on 64 bytes */
}

/* The packing buffers of the calling thread, kept from call to call and grown when a call
 * needs more (a multithreaded call takes a slice per thread). Not the caching allocator:
 * its large blocks go back to the system when other sizes are asked for, and fresh pages
 * cost ~10 us each here on first touch (a GRU training step spent 8% more time in page
 * faults). At most ~6 MiB per slice (KC x (MC + NC) floats); like OpenBLAS's own
 * buffers, they last as long as the thread. NULL when the memory cannot be had. */
static _Thread_local float *sg_buf;
static _Thread_local size_t sg_buf_bytes;

static float *sg_buffer(size_t bytes)
{
    if (bytes > sg_buf_bytes) {
        free(sg_buf);
        size_t want = (bytes + 4095) / 4096 * 4096; /* aligned_alloc: a multiple of the alignment */
        sg_buf = aligned_alloc(64, want);
        sg_buf_bytes = sg_buf ? want : 0;
    }
    return sg_buf;
}

/* C = beta * C (beta == 0 writes zeros without reading C). */
static void sg_scale(int64_t m, int64_t n, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++) {
        float *r = c + i * ldc;
        if (beta == 0)
            memset(r, 0, (size_t)n * sizeof(float));
        else if (beta != 1)
            for (int64_t j = 0; j < n; j++)
                r[j] *= beta;
    }
}

bool em_sgemm_available(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return known == 1;
}

/* Where OpenBLAS (0.3.21, SkylakeX kernels) is faster, measured on this machine: its
 * unpacked small-matrix kernels win below 64^3 multiply-adds (16^3: 78 vs 31 GFLOP/s,
 * 32^3: 150 vs 105), and single-threaded up to about 128^3 (96^3: 127 vs 109); with fewer
 * than 4 columns the product is bound by reading A, which it does without packing
 * (4096x2x64: 59 vs 11). */
bool em_sgemm_suits(int64_t m, int64_t n, int64_t k)
{
    /* EMBER_SGEMM=always sends every shape here (the specs check the edge cases that way),
     * EMBER_SGEMM=off none (for comparisons) */
    static int forced = -1; /* 0 off, 1 always, 2 by shape */
    if (forced < 0) {
        const char *e = getenv("EMBER_SGEMM");
        forced = e && !strcmp(e, "always") ? 1 : e && !strcmp(e, "off") ? 0 : 2;
    }
    if (!em_sgemm_available() || forced == 0)
        return false;
    if (forced == 1)
        return true;
    if (n < 4)
        return false;
    bool one_thread = omp_in_parallel() || em_num_threads() < 2;
    return m * n * k >= (one_thread ? 128 * 128 * 128 : SG_PARALLEL_WORK);
}

int em_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
             const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (m <= 0 || n <= 0)
        return 0;
    if (k <= 0 || alpha == 0) {
        sg_scale(m, n, beta, c, ldc);
        return 0;
    }
    sg_args g = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta, .a = a, .b = b,
                 .c = c, .lda = lda, .ldb = ldb, .ldc = ldc};
    g.kc = sg_ceil(k, sg_ceil(k, SG_KC)); /* even depth steps: 600 -> 300 + 300, not 512 + 88 */
    int nt = em_num_threads();
    if (omp_in_parallel() || m * n * k < SG_PARALLEL_WORK)
        nt = 1;
    /* Each thread computes a block of C on its own (no waiting for each other): a share of
     * the rows, each packing all of B for itself (packing B costs less than packing A,
     * whose 12-row panels are transposed); a share of the columns when C is much wider than
     * tall, each packing all of A (a short A then). */
    int64_t np = sg_ceil(n, SG_NR), mp = sg_ceil(m, SG_MR);
    bool by_columns = np >= 2 * nt && n >= 2 * m;
    if (!by_columns && mp < 2 * nt)
        nt = 1;
    /* per thread: A panels, then a B block */
    int64_t rows_t = by_columns ? m : sg_ceil(mp, nt) * SG_MR, cols_t = by_columns ? sg_ceil(np, nt) * SG_NR : n;
    int64_t a_rows, a_elems = sg_a_elems(&g, rows_t, cols_t, &a_rows), t_elems = a_elems + g.kc * SG_NC;
    size_t bytes = (size_t)(t_elems * nt) * sizeof(float);
    float *buf = sg_buffer(bytes); /* 64-byte aligned */
    if (!buf)
        return em_error("sgemm: out of memory for %zu bytes of packing buffers", bytes);
    if (nt == 1) {
        sg_block(&g, 0, m, 0, n, buf, a_rows, buf + a_elems);
    } else {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), tn = omp_get_num_threads();
            float *ap = buf + t * t_elems, *bp = ap + a_elems;
            if (by_columns) /* whole NR panels each */
                sg_block(&g, 0, m, sg_min(np * t / tn * SG_NR, n), sg_min(np * (t + 1) / tn * SG_NR, n), ap, a_rows,
                         bp);
            else /* whole MR panels each */
                sg_block(&g, sg_min(mp * t / tn * SG_MR, m), sg_min(mp * (t + 1) / tn * SG_MR, m), 0, n, ap, a_rows,
                         bp);
        }
    }
    return 0;
}

#else /* no AVX-512 build: OpenBLAS does all of it */

bool em_sgemm_available(void)
{
    return false;
}

bool em_sgemm_suits(int64_t m, int64_t n, int64_t k)
{
    (void)m, (void)n, (void)k;
    return false;
}

int em_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
             const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb, (void)beta,
        (void)c, (void)ldc;
    return -1;
}

#endif
