/* CPU padding kernels (see core/pad.h). The forward pass walks output rows
 * (every dim but the last) in parallel: each row's source row comes from the
 * index map of every outer dim (or the row is all value, constant mode), then
 * the row is its left edge, a straight copy of the source row, and its right
 * edge. It reads any strides and moves elements by size, so every dtype works.
 * The backward pass scatter-adds the output's gradient through the same maps,
 * one plane (the unpadded leading dims) per OpenMP iteration so that the
 * scatter never races. */
#include <string.h>

#include "../error.h"
#include "../iter.h"
#include "../pad.h"
#include "cpu.h"

/* The input index that output position j + l of a dim of size n reads (j is
 * relative to the input's start), or -1 for the constant value. Amounts are
 * checked: reflect |j| stays below n from each side, circular wraps once. */
static inline int64_t src_index(em_pad_mode m, int64_t j, int64_t n)
{
    if (j >= 0 && j < n)
        return j;
    switch (m) {
    case EM_PAD_REFLECT: return j < 0 ? -j : 2 * (n - 1) - j;
    case EM_PAD_REPLICATE: return j < 0 ? 0 : n - 1;
    case EM_PAD_CIRCULAR: return j < 0 ? j + n : j - n;
    default: return -1;
    }
}

/* Per dim of a tensor of D dims: left amount (0 where unpadded), input and
 * output sizes. */
typedef struct geom {
    em_pad_mode mode;
    int D;
    int64_t left[EM_MAX_DIMS], isz[EM_MAX_DIMS], osz[EM_MAX_DIMS];
} geom;

static void geom_make(geom *g, const em_pad_params *p, const int64_t *isz, const int64_t *osz, int D)
{
    memset(g, 0, sizeof *g);
    g->mode = p->mode;
    g->D = D;
    for (int d = 0; d < D; d++) {
        g->isz[d] = isz[d];
        g->osz[d] = osz[d];
    }
    for (int k = 0; k < p->npad; k++)
        g->left[D - 1 - k] = p->pad[2 * k];
}

/* The source offset (in input strides ist) of output row r over dims first..D-2,
 * or -1 when any of them falls in the constant padding. */
static inline int64_t row_source(const geom *g, int first, const int64_t *ist, int64_t r)
{
    int64_t off = 0;
    for (int d = g->D - 2; d >= first; d--) {
        int64_t o = r % g->osz[d];
        r /= g->osz[d];
        int64_t i = src_index(g->mode, o - g->left[d], g->isz[d]);
        if (i < 0)
            return -1;
        off += i * ist[d];
    }
    return off;
}

/* Elements are moved as unsigned integers of their size. */
#define FWD(T)                                                                                                  \
    /* x (isz, strides ist) -> y (osz, contiguous) */                                                           \
    static void fwd_##T(const geom *g, const int64_t *ist, const T *x, T *y, T value)                           \
    {                                                                                                           \
        int D = g->D;                                                                                           \
        int64_t W = g->osz[D - 1], n = g->isz[D - 1], s = ist[D - 1], l = g->left[D - 1];                       \
        int64_t rows = 1;                                                                                       \
        for (int d = 0; d < D - 1; d++)                                                                         \
            rows *= g->osz[d];                                                                                  \
        /* the middle [lo, hi) of a row copies input j = ow - l */                                              \
        int64_t lo = l > 0 ? l : 0, hi = l + n < W ? l + n : W;                                                 \
        if (hi < lo)                                                                                            \
            hi = lo;                                                                                            \
        int64_t work_ = rows * W;                                                                               \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t r = 0; r < rows; r++) {                                                                    \
            T *yr = y + r * W;                                                                                  \
            int64_t off = row_source(g, 0, ist, r);                                                             \
            if (off < 0) {                                                                                      \
                for (int64_t ow = 0; ow < W; ow++)                                                              \
                    yr[ow] = value;                                                                             \
                continue;                                                                                       \
            }                                                                                                   \
            const T *xr = x + off;                                                                              \
            for (int64_t ow = 0; ow < lo; ow++) {                                                               \
                int64_t i = src_index(g->mode, ow - l, n);                                                      \
                yr[ow] = i < 0 ? value : xr[i * s];                                                             \
            }                                                                                                   \
            if (s == 1 && hi > lo) /* x may be NULL when the input is empty */                                  \
                memcpy(yr + lo, xr + (lo - l), (size_t)(hi - lo) * sizeof(T));                                  \
            else                                                                                                \
                for (int64_t ow = lo; ow < hi; ow++)                                                            \
                    yr[ow] = xr[(ow - l) * s];                                                                  \
            for (int64_t ow = hi; ow < W; ow++) {                                                               \
                int64_t i = src_index(g->mode, ow - l, n);                                                      \
                yr[ow] = i < 0 ? value : xr[i * s];                                                             \
            }                                                                                                   \
        }                                                                                                       \
    }

FWD(uint8_t)
FWD(uint16_t)
FWD(uint32_t)
FWD(uint64_t)

#define BWD(T)                                                                                                  \
    /* gy (osz, contiguous) -> gx (isz, contiguous, zeroed here); dims below `first` are unpadded planes */     \
    static void bwd_##T(const geom *g, int first, const T *gy, T *gx)                                           \
    {                                                                                                           \
        int D = g->D;                                                                                           \
        int64_t ist[EM_MAX_DIMS], s = 1;                                                                        \
        for (int d = D - 1; d >= 0; d--) {                                                                      \
            ist[d] = s;                                                                                         \
            s *= g->isz[d];                                                                                     \
        }                                                                                                       \
        int64_t planes = 1, iplane = 1, orows = 1;                                                              \
        for (int d = 0; d < first; d++)                                                                         \
            planes *= g->isz[d];                                                                                \
        for (int d = first; d < D; d++)                                                                         \
            iplane *= g->isz[d];                                                                                \
        for (int d = first; d < D - 1; d++)                                                                     \
            orows *= g->osz[d];                                                                                 \
        int64_t W = g->osz[D - 1], n = g->isz[D - 1], l = g->left[D - 1];                                       \
        int64_t lo = l > 0 ? l : 0, hi = l + n < W ? l + n : W;                                                 \
        if (hi < lo)                                                                                            \
            hi = lo;                                                                                            \
        int64_t work_ = planes * orows * W;                                                                     \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < planes; pl++) {                                                               \
            T *xp = gx + pl * iplane;                                                                           \
            const T *yp = gy + pl * orows * W;                                                                  \
            memset(xp, 0, (size_t)iplane * sizeof(T));                                                          \
            for (int64_t r = 0; r < orows; r++) {                                                               \
                int64_t off = row_source(g, first, ist, r);                                                     \
                if (off < 0)                                                                                    \
                    continue;                                                                                   \
                T *xr = xp + off;                                                                               \
                const T *yr = yp + r * W;                                                                       \
                for (int64_t ow = lo; ow < hi; ow++)                                                            \
                    xr[ow - l] += yr[ow];                                                                       \
                for (int64_t ow = 0; ow < lo; ow++) {                                                           \
                    int64_t i = src_index(g->mode, ow - l, n);                                                  \
                    if (i >= 0)                                                                                 \
                        xr[i] += yr[ow];                                                                        \
                }                                                                                               \
                for (int64_t ow = hi; ow < W; ow++) {                                                           \
                    int64_t i = src_index(g->mode, ow - l, n);                                                  \
                    if (i >= 0)                                                                                 \
                        xr[i] += yr[ow];                                                                        \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }

BWD(float)
BWD(double)

static int cpu_pad(bool backward, em_tensor *out, const em_tensor *in, const em_pad_params *p)
{
    geom g;
    if (!backward) {
        geom_make(&g, p, in->sizes, out->sizes, in->ndim);
        unsigned char vbytes[8] = { 0 }; /* the value in the input's dtype */
        em_store_scalar(vbytes, in->dtype, p->value);
        const void *x = em_tensor_data(in);
        void *y = em_tensor_data(out);
        switch (em_dtype_size(in->dtype)) {
#define CASE(T)                                                                                                 \
    case sizeof(T): {                                                                                           \
        T v;                                                                                                    \
        memcpy(&v, vbytes, sizeof v);                                                                           \
        fwd_##T(&g, in->strides, x, y, v);                                                                      \
    } break;
            CASE(uint8_t)
            CASE(uint16_t)
            CASE(uint32_t)
            CASE(uint64_t)
#undef CASE
        default: return em_error("pad: unsupported dtype %s", em_dtype_name(in->dtype));
        }
        return 0;
    }
    /* out: the input's gradient (its shape), in: the output's gradient */
    if (!em_tensor_is_contiguous(in))
        return em_error("pad_backward: expected a contiguous gradient");
    geom_make(&g, p, out->sizes, in->sizes, out->ndim);
    /* leading dims the padding leaves alone are independent planes */
    int first = out->ndim - p->npad < out->ndim - 1 ? out->ndim - p->npad : out->ndim - 1;
    switch (in->dtype) {
    case EM_FLOAT32: bwd_float(&g, first, em_tensor_data(in), em_tensor_data(out)); break;
    case EM_FLOAT64: bwd_double(&g, first, em_tensor_data(in), em_tensor_data(out)); break;
    default: return em_error("pad_backward: unsupported dtype %s", em_dtype_name(in->dtype));
    }
    return 0;
}

void em_cpu_register_pad(em_backend *be)
{
    be->kernels[EM_K_PAD] = (em_kernel_fn)cpu_pad;
}
