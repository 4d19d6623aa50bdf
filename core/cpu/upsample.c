/* CPU upsampling kernels. Each spatial axis gets a table of taps (input index
 * and weight per output index and tap) computed with PyTorch's formulas in the
 * input's precision (float for float32; nearest always in float, as PyTorch);
 * the forward pass is then a weighted sum over taps per output element, the
 * backward pass the same weights scattered into the input's gradient.
 * Forward: one output row (plane, od, oh) per OpenMP iteration; backward: one
 * plane per iteration, so the scatter never races. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../iter.h"
#include "../upsample.h"
#include "cpu.h"

/* One spatial axis: for output o, taps t < taps read input idx[o * taps + t]
 * with weight w[o * taps + t]. */
typedef struct axis {
    int64_t in, out;
    int taps;
    int64_t *idx;
    double *w;
} axis;

static inline int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* PyTorch's nearest rules, in float whatever the dtype (as aten's nearest_idx). */
static void axis_nearest(axis *a, double user_scale, bool exact)
{
    float scale = user_scale > 0 ? (float)(1.0 / user_scale) : (float)a->in / (float)a->out;
    for (int64_t o = 0; o < a->out; o++) {
        float src = exact ? (float)(((double)o + 0.5) * scale) : (float)o * scale;
        int64_t i = (int64_t)floorf(src);
        a->idx[o] = i < a->in - 1 ? i : a->in - 1;
        a->w[o] = 1;
    }
}

/* Linear (2 taps) and cubic (4 taps, A = -0.75) source positions and weights in
 * scalar_t: aten's area_pixel_compute_scale / area_pixel_compute_source_index. */
#define AXIS_INTERP(scalar_t, FLOOR)                                                                            \
    static inline scalar_t cubic1_##scalar_t(scalar_t x, scalar_t A) { return ((A + 2) * x - (A + 3)) * x * x + 1; } \
    static inline scalar_t cubic2_##scalar_t(scalar_t x, scalar_t A)                                            \
    {                                                                                                           \
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;                                                       \
    }                                                                                                           \
    static void axis_interp_##scalar_t(axis *a, double user_scale, bool align_corners, bool cubic)              \
    {                                                                                                           \
        scalar_t scale;                                                                                         \
        if (align_corners)                                                                                      \
            scale = a->out > 1 ? (scalar_t)(a->in - 1) / (scalar_t)(a->out - 1) : (scalar_t)0;                  \
        else                                                                                                    \
            scale = user_scale > 0 ? (scalar_t)(1.0 / user_scale) : (scalar_t)a->in / (scalar_t)a->out;        \
        for (int64_t o = 0; o < a->out; o++) {                                                                  \
            int64_t *ix = a->idx + o * a->taps;                                                                 \
            double *w = a->w + o * a->taps;                                                                     \
            scalar_t src = align_corners ? scale * (scalar_t)o : (scalar_t)((double)scale * ((double)o + 0.5) - 0.5); \
            if (!cubic) {                                                                                       \
                /* same size: aten copies the axis whatever the scale */                                        \
                if (a->in == a->out) {                                                                          \
                    ix[0] = ix[1] = o;                                                                          \
                    w[0] = 1, w[1] = 0;                                                                         \
                    continue;                                                                                   \
                }                                                                                               \
                if (src < 0)                                                                                    \
                    src = 0;                                                                                    \
                int64_t i0 = (int64_t)FLOOR(src);                                                               \
                i0 = i0 < a->in - 1 ? i0 : a->in - 1;                                                           \
                scalar_t l1 = src - (scalar_t)i0;                                                               \
                l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;                                                              \
                ix[0] = i0;                                                                                     \
                ix[1] = i0 + (i0 < a->in - 1 ? 1 : 0);                                                          \
                w[0] = (double)((scalar_t)1 - l1);                                                              \
                w[1] = (double)l1;                                                                              \
            } else {                                                                                            \
                int64_t i0 = (int64_t)FLOOR(src);                                                               \
                scalar_t t = src - (scalar_t)i0, A = (scalar_t)-0.75;                                           \
                w[0] = (double)cubic2_##scalar_t((scalar_t)(t + 1.0), A);                                       \
                w[1] = (double)cubic1_##scalar_t(t, A);                                                         \
                scalar_t t2 = (scalar_t)(1.0 - t);                                                              \
                w[2] = (double)cubic1_##scalar_t(t2, A);                                                        \
                w[3] = (double)cubic2_##scalar_t((scalar_t)(t2 + 1.0), A);                                      \
                for (int k = 0; k < 4; k++)                                                                     \
                    ix[k] = clamp_index(i0 - 1 + k, a->in);                                                     \
            }                                                                                                   \
        }                                                                                                       \
    }

AXIS_INTERP(float, floorf)
AXIS_INTERP(double, floor)

/* Fills the three axes (D, H, W) of planes in (P, D, H, W) -> out (P, OD, OH, OW);
 * absent spatial dims are trivial axes (one tap, weight 1). 0 or -1. */
static int axes_make(axis ax[3], const em_upsample_params *p, const int64_t *in, const int64_t *out, bool dbl)
{
    int taps = p->mode == EM_UPSAMPLE_LINEAR ? 2 : p->mode == EM_UPSAMPLE_CUBIC ? 4 : 1;
    for (int j = 0; j < 3; j++) {
        int k = j - (3 - p->nsp); /* the spatial dim of p, or < 0 */
        axis *a = &ax[j];
        a->in = in[j];
        a->out = out[j];
        a->taps = k < 0 ? 1 : taps;
        a->idx = malloc((size_t)(a->out * a->taps) * sizeof(int64_t));
        a->w = malloc((size_t)(a->out * a->taps) * sizeof(double));
        if (!a->idx || !a->w)
            return em_error("upsample: out of memory for %lld interpolation weights", (long long)(a->out * a->taps));
        if (k < 0) {
            a->idx[0] = 0, a->w[0] = 1;
            continue;
        }
        double s = p->scales[k];
        switch (p->mode) {
        case EM_UPSAMPLE_NEAREST:
        case EM_UPSAMPLE_NEAREST_EXACT:
            axis_nearest(a, s, p->mode == EM_UPSAMPLE_NEAREST_EXACT);
            break;
        case EM_UPSAMPLE_LINEAR:
        case EM_UPSAMPLE_CUBIC:
            if (dbl)
                axis_interp_double(a, s, p->align_corners, p->mode == EM_UPSAMPLE_CUBIC);
            else
                axis_interp_float(a, s, p->align_corners, p->mode == EM_UPSAMPLE_CUBIC);
            break;
        }
    }
    return 0;
}

static void axes_free(axis ax[3])
{
    for (int j = 0; j < 3; j++) {
        free(ax[j].idx);
        free(ax[j].w);
    }
}

#define KERNELS(scalar_t)                                                                                       \
    /* x (P, D, H, W) -> y (P, OD, OH, OW) */                                                                   \
    static void fwd_##scalar_t(int64_t P, const axis *ax, const scalar_t *x, scalar_t *y)                       \
    {                                                                                                           \
        const axis *ad = &ax[0], *ah = &ax[1], *aw = &ax[2];                                                    \
        int64_t H = ah->in, W = aw->in, plane = ad->in * H * W, rows = P * ad->out * ah->out;                   \
        int64_t work_ = rows * aw->out * ad->taps * ah->taps * aw->taps;                                        \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t r = 0; r < rows; r++) {                                                                    \
            int64_t pl = r / (ad->out * ah->out), od = (r / ah->out) % ad->out, oh = r % ah->out;                \
            const scalar_t *xp = x + pl * plane;                                                                \
            scalar_t *yr = y + r * aw->out;                                                                     \
            for (int64_t ow = 0; ow < aw->out; ow++) {                                                          \
                double acc = 0;                                                                                 \
                for (int td = 0; td < ad->taps; td++) {                                                         \
                    const scalar_t *xd = xp + ad->idx[od * ad->taps + td] * H * W;                              \
                    double acc_h = 0;                                                                           \
                    for (int th = 0; th < ah->taps; th++) {                                                     \
                        const scalar_t *xh = xd + ah->idx[oh * ah->taps + th] * W;                              \
                        double acc_w = 0;                                                                       \
                        for (int tw = 0; tw < aw->taps; tw++)                                                   \
                            acc_w += aw->w[ow * aw->taps + tw] * (double)xh[aw->idx[ow * aw->taps + tw]];       \
                        acc_h += ah->w[oh * ah->taps + th] * acc_w;                                             \
                    }                                                                                           \
                    acc += ad->w[od * ad->taps + td] * acc_h;                                                   \
                }                                                                                               \
                yr[ow] = (scalar_t)acc;                                                                         \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
    /* gy (P, OD, OH, OW) -> gx (P, D, H, W), zeroed here */                                                    \
    static void bwd_##scalar_t(int64_t P, const axis *ax, const scalar_t *gy, scalar_t *gx)                     \
    {                                                                                                           \
        const axis *ad = &ax[0], *ah = &ax[1], *aw = &ax[2];                                                    \
        int64_t H = ah->in, W = aw->in, plane = ad->in * H * W, oplane = ad->out * ah->out * aw->out;           \
        int64_t work_ = P * oplane * ad->taps * ah->taps * aw->taps;                                            \
        _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (work_ >= EM_PARALLEL_THRESHOLD)") \
        for (int64_t pl = 0; pl < P; pl++) {                                                                    \
            scalar_t *xp = gx + pl * plane;                                                                     \
            const scalar_t *gp = gy + pl * oplane;                                                              \
            memset(xp, 0, (size_t)plane * sizeof(scalar_t));                                                    \
            for (int64_t od = 0; od < ad->out; od++)                                                            \
                for (int64_t oh = 0; oh < ah->out; oh++)                                                        \
                    for (int64_t ow = 0; ow < aw->out; ow++) {                                                  \
                        double g = (double)gp[(od * ah->out + oh) * aw->out + ow];                              \
                        for (int td = 0; td < ad->taps; td++) {                                                 \
                            scalar_t *xd = xp + ad->idx[od * ad->taps + td] * H * W;                            \
                            double gd = g * ad->w[od * ad->taps + td];                                          \
                            for (int th = 0; th < ah->taps; th++) {                                             \
                                scalar_t *xh = xd + ah->idx[oh * ah->taps + th] * W;                            \
                                double gh = gd * ah->w[oh * ah->taps + th];                                     \
                                for (int tw = 0; tw < aw->taps; tw++)                                           \
                                    xh[aw->idx[ow * aw->taps + tw]] += (scalar_t)(gh * aw->w[ow * aw->taps + tw]); \
                            }                                                                                   \
                        }                                                                                       \
                    }                                                                                           \
        }                                                                                                       \
    }

KERNELS(float)
KERNELS(double)

static int cpu_upsample(bool backward, em_tensor *out, const em_tensor *in, const em_upsample_params *p)
{
    em_dtype dt = in->dtype;
    if (dt != EM_FLOAT32 && dt != EM_FLOAT64)
        return em_error("upsample: unsupported dtype %s", em_dtype_name(dt));
    /* the input planes are the larger-or-not side named by the pass: x is `in`
     * going forward, `out` (the input's gradient) going backward */
    const em_tensor *x = backward ? out : in, *y = backward ? in : out;
    axis ax[3] = { { 0 } };
    if (axes_make(ax, p, x->sizes + 1, y->sizes + 1, dt == EM_FLOAT64) < 0) {
        axes_free(ax);
        return -1;
    }
    int64_t P = x->sizes[0];
    const void *src = em_tensor_data(in);
    void *dst = em_tensor_data(out);
    if (!backward && dt == EM_FLOAT32)
        fwd_float(P, ax, src, dst);
    else if (!backward)
        fwd_double(P, ax, src, dst);
    else if (dt == EM_FLOAT32)
        bwd_float(P, ax, src, dst);
    else
        bwd_double(P, ax, src, dst);
    axes_free(ax);
    return 0;
}

void em_cpu_register_upsample(em_backend *be)
{
    be->kernels[EM_K_UPSAMPLE] = (em_kernel_fn)cpu_upsample;
}
