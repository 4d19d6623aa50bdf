/* Upsampling (interpolation) over the last 1, 2 or 3 dims of (N, C, L),
 * (N, C, H, W) or (N, C, D, H, W) inputs: nearest, nearest-exact, linear /
 * bilinear / trilinear and bicubic, with PyTorch's source-coordinate rules.
 *
 * Every mode is separable: output element (od, oh, ow) is a weighted sum over a
 * few taps per spatial dim (1 for nearest, 2 for linear, 4 for cubic) of the
 * input. The kernels see contiguous planes (P, D, H, W) with P = N * C and
 * absent spatial dims of size 1; the backward kernel scatters the same weights. */
#ifndef EM_UPSAMPLE_H
#define EM_UPSAMPLE_H

#include "tensor.h"

typedef enum em_upsample_mode {
    EM_UPSAMPLE_NEAREST,       /* src = floor(dst * scale) */
    EM_UPSAMPLE_NEAREST_EXACT, /* src = floor((dst + 0.5) * scale) */
    EM_UPSAMPLE_LINEAR,        /* linear, bilinear, trilinear: 2 taps per dim */
    EM_UPSAMPLE_CUBIC,         /* bicubic: 4 taps per dim (A = -0.75), indices clamped at the border */
} em_upsample_mode;

typedef struct em_upsample_params {
    em_upsample_mode mode;
    int nsp;            /* spatial dims: 1, 2 or 3 (the input's last nsp dims) */
    bool align_corners; /* interpolating modes only */
    int64_t osize[3];   /* output spatial sizes, osize[0..nsp-1] */
    double scales[3];   /* the user's scale factors (> 0), or 0: derived from the sizes */
} em_upsample_params;

/* Backward (true): out (the input's gradient, zeroed by the kernel) <- in (the
 * output's gradient). Both contiguous and 4-d (P, D, H, W). Returns 0 or -1. */
typedef int (*em_upsample_kernel)(bool backward, em_tensor *out, const em_tensor *in, const em_upsample_params *p);

/* The mode named s ("nearest", "nearest-exact", "linear", "bilinear", "bicubic",
 * "trilinear") and the spatial dims it needs (0: any of 1..3). 0, or -1 with an
 * error naming fn. */
int em_upsample_mode_parse(const char *fn, const char *s, em_upsample_mode *mode, int *nsp);

/* y = interpolate(x) with x (N, C, spatial...) of p->nsp spatial dims. New reference or NULL. */
em_tensor *em_upsample(em_tensor *x, const em_upsample_params *p);
/* The input's gradient (shape ndim / sizes, the forward input's) from the
 * output's gradient g. New reference or NULL. */
em_tensor *em_upsample_backward(em_tensor *g, const em_upsample_params *p, int ndim, const int64_t *sizes);

#endif
