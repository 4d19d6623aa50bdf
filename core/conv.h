/* Convolution (1-d, 2-d, 3-d): forward and the two backwards, with stride, padding
 * (separate low/high amounts per dim, so 'same' with an even kernel needs no padded
 * copy), dilation and groups; transposed convolution is the forward's input-backward.
 * This front checks shapes and dtypes (float32, float64), makes operands contiguous,
 * allocates results and calls the CPU kernels (core/cpu/conv.c: vol2col + GEMM).
 * `op` names the user-facing function in error messages ("conv2d"). */
#ifndef EM_CONV_H
#define EM_CONV_H

#include "tensor.h"

#define EM_CONV_MAX_SPATIAL 3

typedef struct em_conv_params {
    int nd; /* spatial dims: 1, 2 or 3 */
    int64_t stride[EM_CONV_MAX_SPATIAL];
    int64_t pad_lo[EM_CONV_MAX_SPATIAL], pad_hi[EM_CONV_MAX_SPATIAL];
    int64_t dilation[EM_CONV_MAX_SPATIAL];
    int64_t output_padding[EM_CONV_MAX_SPATIAL]; /* transposed only */
    int64_t groups;
    bool transposed;
} em_conv_params;

/* The geometry a kernel runs on, always as 3 spatial dims (missing leading dims are
 * size 1). "in" is the image side of the convolution (conv's input, a transposed
 * conv's output), "out" the side of its result; weight is (c_out, c_in / groups, k...). */
typedef struct em_conv_geom {
    em_dtype dtype;
    int64_t n, c_in, c_out, groups;
    int64_t in[3], out[3], k[3], stride[3], pad[3], dil[3];
} em_conv_geom;

/* Kernels (contiguous operands, dtype float32/float64). 0 or -1 with an error. */
/* out (n, c_out, out...) = conv(in, w) (+ bias (c_out) when not NULL) */
typedef int (*em_conv_fwd_kernel)(const em_conv_geom *g, const void *in, const void *w, const void *bias,
                                  void *out);
/* gin (n, c_in, in...) = conv's gradient w.r.t. its input for gout (n, c_out, out...) */
typedef int (*em_conv_bwd_input_kernel)(const em_conv_geom *g, const void *gout, const void *w, void *gin);
/* gw (c_out, c_in/groups, k...) = gradient w.r.t. the weight; gbias (c_out) when not NULL */
typedef int (*em_conv_bwd_weight_kernel)(const em_conv_geom *g, const void *gout, const void *in, void *gw,
                                         void *gbias);

/* Checks params (positive strides and dilations, non-negative padding, groups >= 1,
 * output_padding smaller than stride or dilation) and the operand shapes (input
 * (N, C, spatial...), weight, bias) and fills the geometry. 0 or -1. */
int em_conv_geometry(const char *op, const em_tensor *input, const em_tensor *weight, const em_tensor *bias,
                     const em_conv_params *p, em_conv_geom *g);

/* y = conv(input, weight) + bias (bias may be NULL); transposed when p->transposed. */
em_tensor *em_conv(const char *op, em_tensor *input, em_tensor *weight, em_tensor *bias, const em_conv_params *p);

/* The three gradients of em_conv for grad_out, each computed only when its pointer
 * is not NULL (new references). input/weight are the forward's operands. 0 or -1. */
int em_conv_backward(const char *op, em_tensor *grad_out, em_tensor *input, em_tensor *weight,
                     const em_conv_params *p, em_tensor **grad_input, em_tensor **grad_weight, em_tensor **grad_bias);

#endif
