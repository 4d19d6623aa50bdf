/* Sliding blocks of 2-d images: im2col (F.unfold) gathers every kernel window of a
 * (N, C, H, W) image into a column of (N, C*kh*kw, L), L the number of windows;
 * col2im (F.fold) is its adjoint, summing overlapping windows back into an image.
 * Unbatched forms drop N. The kernels are the convolution's column builders
 * (core/cpu/conv.c), run with one channel per plane. */
#ifndef EM_FOLD_H
#define EM_FOLD_H

#include "conv.h"

/* Window geometry over (H, W). */
typedef struct em_fold_params {
    int64_t kernel[2], dilation[2], padding[2], stride[2];
} em_fold_params;

/* to_cols: dst (P, kh*kw, L) <- src (P, H, W); else dst (P, H, W) <- the sum of
 * src (P, kh*kw, L). g describes one plane (c_in = 1) with in/out/k/... as 3 dims
 * whose first is 1; P = planes. Contiguous operands. 0 or -1. */
typedef int (*em_fold_kernel)(const em_conv_geom *g, int64_t planes, bool to_cols, const void *src, void *dst);

/* (N, C, H, W) or (C, H, W) -> (N, C*kh*kw, L) or (C*kh*kw, L). */
em_tensor *em_im2col(em_tensor *x, const em_fold_params *p);
/* (N, C*kh*kw, L) or (C*kh*kw, L) -> (N, C, oh, ow) or (C, oh, ow), osize = {oh, ow}. */
em_tensor *em_col2im(em_tensor *x, const int64_t *osize, const em_fold_params *p);

#endif
