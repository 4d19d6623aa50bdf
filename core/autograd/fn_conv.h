/* Differentiable convolution (core/conv.h): one node for conv and transposed conv
 * whose backward runs the convolution kernels; under create_graph the backward
 * is itself made of differentiable convolutions (any order). */
#ifndef EM_FN_CONV_H
#define EM_FN_CONV_H

#include "../conv.h"

/* em_conv with a ConvolutionBackward node when an operand requires grad (bias may be NULL). */
em_tensor *em_ag_conv(const char *op, em_tensor *input, em_tensor *weight, em_tensor *bias, const em_conv_params *p);
/* The transposed form (p->transposed set by the caller or here). */
em_tensor *em_ag_conv_transpose(const char *op, em_tensor *input, em_tensor *weight, em_tensor *bias,
                                const em_conv_params *p);

#endif
