/* CPU grid sampling, forward and backward. Source coordinates are computed with
 * PyTorch's formulas in the operands' precision (float32 arithmetic is emulated by
 * rounding every step, so ties and floors land where PyTorch's do); interpolation
 * sums run in double. Bilinear and nearest share one corner loop over 2 (2-d) or
 * 3 (3-d) dims; bicubic (2-d) reads a 4x4 neighbourhood whose taps are each moved
 * by the padding rule, as in PyTorch.
 * The forward runs output positions in parallel; the backward one sample per thread
 * (each sample's input gradient is its own, so the scatter needs no atomics). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../grid_sample.h"
#include "cpu.h"

typedef struct gs {
    const em_grid_geom *g;
    bool f32;
} gs;

/* the value as the operands' dtype would hold it */
static inline double rnd(bool f32, double v) { return f32 ? (double)(float)v : v; }

static inline double ld(bool f32, const void *p, int64_t i)
{
    return f32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static inline void st(bool f32, void *p, int64_t i, double v)
{
    if (f32)
        ((float *)p)[i] = (float)v;
    else
        ((double *)p)[i] = v;
}

static inline void add(bool f32, void *p, int64_t i, double v)
{
    if (f32)
        ((float *)p)[i] += (float)v;
    else
        ((double *)p)[i] += v;
}

/* An index from an integral coordinate (truncating, as a C++ cast does); values
 * far outside any image, inf and NaN give a position that is out of bounds. */
static inline int64_t to_index(double v)
{
    if (!(v > -1e15 && v < 1e15))
        return -((int64_t)1 << 52);
    return (int64_t)v;
}

static double unnormalize(bool f, double x, int64_t size, bool ac, double *gmul)
{
    if (ac) {
        *gmul = rnd(f, (double)(size - 1) / 2);
        return rnd(f, rnd(f, rnd(f, x + 1) / 2) * (double)(size - 1));
    }
    *gmul = rnd(f, (double)size / 2);
    return rnd(f, (rnd(f, rnd(f, x + 1) * (double)size) - 1) / 2);
}

/* std::min(limit - 1, std::max(in, 0)), NaN included (it clips to limit - 1) */
static double clip(double in, int64_t limit, double *g)
{
    double hi = (double)(limit - 1);
    if (in <= 0) {
        *g = 0;
        return 0;
    }
    if (in >= hi || in != in) {
        *g = 0;
        return hi;
    }
    *g = 1;
    return in;
}

static double reflect(bool f, double in, int64_t twice_lo, int64_t twice_hi, double *g)
{
    if (twice_lo == twice_hi) {
        *g = 0;
        return 0;
    }
    double mn = (double)twice_lo / 2, span = (double)(twice_hi - twice_lo) / 2, mult = 1;
    in = rnd(f, in - mn);
    if (in < 0) {
        mult = -1;
        in = -in;
    }
    double extra = fmod(in, span), flips = floor(rnd(f, in / span));
    if (fmod(flips, 2) == 0) {
        *g = mult;
        return rnd(f, extra + mn);
    }
    *g = -mult;
    return rnd(f, rnd(f, span - extra) + mn);
}

/* PyTorch's compute_coordinates; *g receives d(result)/d(coord) */
static double pad_coord(bool f, double x, int64_t size, em_grid_padding pad, bool ac, double *g)
{
    double gc, gr;
    *g = 1;
    if (pad == EM_GRID_BORDER) {
        x = clip(x, size, &gc);
        *g = gc;
    } else if (pad == EM_GRID_REFLECTION) {
        x = ac ? reflect(f, x, 0, 2 * (size - 1), &gr) : reflect(f, x, -1, 2 * size - 1, &gr);
        x = clip(x, size, &gc);
        *g = gr * gc;
    }
    return x;
}

/* grid value -> source coordinate; *g = its derivative */
static double source_index(const gs *s, double x, int64_t size, double *g)
{
    double gu, gp;
    x = unnormalize(s->f32, x, size, s->g->p.align_corners, &gu);
    x = pad_coord(s->f32, x, size, s->g->p.padding, s->g->p.align_corners, &gp);
    *g = gu * gp;
    return x;
}

/* ---- bilinear / nearest: one corner loop over nsp dims ---- */

typedef struct corners {
    int nc;              /* corners: 1 (nearest), 4 or 8 */
    int64_t off[8];      /* plane offset, -1 outside */
    double w[8];         /* weight */
    double dw[8][3];     /* d weight / d coordinate (x, y, z) */
} corners;

/* coord[d] for d = x, y, z; sizes in (D, H, W) order */
static void make_corners(const gs *s, const double *coord, corners *k)
{
    const em_grid_geom *g = s->g;
    int nsp = g->nsp;
    int64_t size[3] = { g->in[2], g->in[1], g->in[0] }; /* x, y, z */
    if (g->p.mode == EM_GRID_NEAREST) {
        int64_t off = 0, mul = 1;
        for (int d = 0; d < nsp; d++) {
            int64_t i = to_index(nearbyint(coord[d]));
            if (i < 0 || i >= size[d]) {
                off = -1;
                break;
            }
            off += i * mul;
            mul *= size[d];
        }
        k->nc = 1;
        k->off[0] = off;
        k->w[0] = 1;
        memset(k->dw[0], 0, sizeof k->dw[0]);
        return;
    }
    double lo[3], wt[3][2];
    int64_t il[3];
    for (int d = 0; d < nsp; d++) {
        lo[d] = floor(coord[d]);
        il[d] = to_index(lo[d]);
        wt[d][0] = lo[d] + 1 - coord[d];
        wt[d][1] = coord[d] - lo[d];
    }
    k->nc = 1 << nsp;
    for (int c = 0; c < k->nc; c++) {
        int64_t off = 0, mul = 1;
        double w = 1;
        for (int d = 0; d < nsp; d++) {
            int b = (c >> d) & 1;
            int64_t i = il[d] + b;
            if (off >= 0 && (i < 0 || i >= size[d]))
                off = -1;
            if (off >= 0)
                off += i * mul;
            mul *= size[d];
            w *= wt[d][b];
        }
        k->off[c] = off;
        k->w[c] = w;
        for (int e = 0; e < nsp; e++) {
            double dw = (c >> e) & 1 ? 1 : -1;
            for (int d = 0; d < nsp; d++)
                if (d != e)
                    dw *= wt[d][(c >> d) & 1];
            k->dw[c][e] = dw;
        }
    }
}

/* ---- bicubic (2-d) ---- */

static void cubic_coeffs(double t, double *c)
{
    const double a = -0.75;
    double x1 = t, x2 = 1 - t;
    c[0] = ((a * (x1 + 1) - 5 * a) * (x1 + 1) + 8 * a) * (x1 + 1) - 4 * a;
    c[1] = ((a + 2) * x1 - (a + 3)) * x1 * x1 + 1;
    c[2] = ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1;
    c[3] = ((a * (x2 + 1) - 5 * a) * (x2 + 1) + 8 * a) * (x2 + 1) - 4 * a;
}

static void cubic_coeffs_grad(double t, double *c)
{
    const double a = -0.75;
    double x = -1 - t;
    c[0] = (-3 * a * x - 10 * a) * x - 8 * a;
    x = -t;
    c[1] = (-3 * (a + 2) * x - 2 * (a + 3)) * x;
    x = 1 - t;
    c[2] = (3 * (a + 2) * x - 2 * (a + 3)) * x;
    x = 2 - t;
    c[3] = (3 * a * x - 10 * a) * x + 8 * a;
}

typedef struct taps {
    int64_t off[16]; /* [j * 4 + i]: row y0 - 1 + j, column x0 - 1 + i; -1 outside */
    double cx[4], cy[4], dcx[4], dcy[4];
    double gmul[2];
} taps;

static void make_taps(const gs *s, double gx, double gy, taps *t)
{
    const em_grid_geom *g = s->g;
    bool f = s->f32, ac = g->p.align_corners;
    int64_t w = g->in[2], h = g->in[1];
    double ix = unnormalize(f, gx, w, ac, &t->gmul[0]), iy = unnormalize(f, gy, h, ac, &t->gmul[1]);
    double x0 = floor(ix), y0 = floor(iy), tx = rnd(f, ix - x0), ty = rnd(f, iy - y0), unused;
    cubic_coeffs(tx, t->cx);
    cubic_coeffs(ty, t->cy);
    cubic_coeffs_grad(tx, t->dcx);
    cubic_coeffs_grad(ty, t->dcy);
    int64_t col[4], row[4];
    for (int i = 0; i < 4; i++) {
        col[i] = to_index(pad_coord(f, rnd(f, x0 - 1 + i), w, g->p.padding, ac, &unused));
        row[i] = to_index(pad_coord(f, rnd(f, y0 - 1 + i), h, g->p.padding, ac, &unused));
    }
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 4; i++)
            t->off[j * 4 + i] = col[i] >= 0 && col[i] < w && row[j] >= 0 && row[j] < h ? row[j] * w + col[i] : -1;
}

/* ---- kernels ---- */

static void read_grid(const gs *s, const void *grid, int64_t pos, double *coord)
{
    for (int d = 0; d < s->g->nsp; d++)
        coord[d] = ld(s->f32, grid, pos * s->g->nsp + d);
}

static int cpu_grid_sample(const em_grid_geom *g, const void *in, const void *grid, const void *gout,
                           void *out_or_gin, void *ggrid)
{
    gs s = { g, g->dtype == EM_FLOAT32 };
    const bool f = s.f32;
    const int64_t is = g->in[0] * g->in[1] * g->in[2], os = g->out[0] * g->out[1] * g->out[2];
    const int64_t insz[3] = { g->in[2], g->in[1], g->in[0] }, c = g->c;
    if (!gout) { /* forward: out (N, C, os) */
        void *out = out_or_gin;
        const int64_t total = g->n * os;
#pragma omp parallel for schedule(static) if (total * c > 4096)
        for (int64_t q = 0; q < total; q++) {
            int64_t n = q / os, o = q % os;
            double coord[3], unused;
            read_grid(&s, grid, q, coord);
            const int64_t ib = n * c * is, ob = n * c * os + o;
            if (g->p.mode == EM_GRID_BICUBIC) {
                taps t;
                make_taps(&s, coord[0], coord[1], &t);
                for (int64_t ch = 0; ch < c; ch++) {
                    double v = 0;
                    for (int j = 0; j < 4; j++) {
                        double r = 0;
                        for (int i = 0; i < 4; i++)
                            if (t.off[j * 4 + i] >= 0)
                                r += t.cx[i] * ld(f, in, ib + ch * is + t.off[j * 4 + i]);
                        v += t.cy[j] * r;
                    }
                    st(f, out, ob + ch * os, v);
                }
                continue;
            }
            for (int d = 0; d < g->nsp; d++)
                coord[d] = source_index(&s, coord[d], insz[d], &unused);
            corners k;
            make_corners(&s, coord, &k);
            for (int64_t ch = 0; ch < c; ch++) {
                double v = 0;
                for (int e = 0; e < k.nc; e++)
                    if (k.off[e] >= 0)
                        v += k.w[e] * ld(f, in, ib + ch * is + k.off[e]);
                st(f, out, ob + ch * os, v);
            }
        }
        return 0;
    }
    void *gin = out_or_gin;
    if (gin)
        memset(gin, 0, (size_t)(g->n * c * is) * (f ? sizeof(float) : sizeof(double)));
#pragma omp parallel for schedule(static) if (g->n > 1 && os * c > 1024)
    for (int64_t n = 0; n < g->n; n++) {
        for (int64_t o = 0; o < os; o++) {
            const int64_t q = n * os + o, ib = n * c * is, ob = n * c * os + o;
            double coord[3], gm[3] = { 0, 0, 0 }, acc[3] = { 0, 0, 0 };
            read_grid(&s, grid, q, coord);
            if (g->p.mode == EM_GRID_BICUBIC) {
                taps t;
                make_taps(&s, coord[0], coord[1], &t);
                gm[0] = t.gmul[0], gm[1] = t.gmul[1];
                for (int64_t ch = 0; ch < c; ch++) {
                    double go = ld(f, gout, ob + ch * os);
                    for (int j = 0; j < 4; j++)
                        for (int i = 0; i < 4; i++) {
                            int64_t off = t.off[j * 4 + i];
                            if (off < 0)
                                continue;
                            if (gin)
                                add(f, gin, ib + ch * is + off, go * t.cx[i] * t.cy[j]);
                            double v = ld(f, in, ib + ch * is + off);
                            acc[0] -= v * t.dcx[i] * t.cy[j] * go;
                            acc[1] -= v * t.dcy[j] * t.cx[i] * go;
                        }
                }
            } else {
                for (int d = 0; d < g->nsp; d++)
                    coord[d] = source_index(&s, coord[d], insz[d], &gm[d]);
                corners k;
                make_corners(&s, coord, &k);
                for (int64_t ch = 0; ch < c; ch++) {
                    double go = ld(f, gout, ob + ch * os);
                    for (int e = 0; e < k.nc; e++) {
                        if (k.off[e] < 0)
                            continue;
                        if (gin)
                            add(f, gin, ib + ch * is + k.off[e], k.w[e] * go);
                        double v = ld(f, in, ib + ch * is + k.off[e]) * go;
                        for (int d = 0; d < g->nsp; d++)
                            acc[d] += v * k.dw[e][d];
                    }
                }
            }
            if (ggrid)
                for (int d = 0; d < g->nsp; d++)
                    st(f, ggrid, q * g->nsp + d, g->p.mode == EM_GRID_NEAREST ? 0 : gm[d] * acc[d]);
        }
    }
    return 0;
}

void em_cpu_register_grid_sample(em_backend *be)
{
    be->kernels[EM_K_GRID_SAMPLE] = (em_kernel_fn)cpu_grid_sample;
}
