/* Differentiable upsampling (see core/upsample.h for the plain ops; same
 * arguments and results). The op is linear in its input, so its backward is the
 * backward kernel and the backward of that is the forward kernel again: both
 * directions record nodes, and gradients of any order work (create_graph). */
#ifndef EM_AG_FN_UPSAMPLE_H
#define EM_AG_FN_UPSAMPLE_H

#include "autograd.h"
#include "../upsample.h"

em_tensor *em_ag_upsample(em_tensor *x, const em_upsample_params *p);
em_tensor *em_ag_upsample_backward(em_tensor *g, const em_upsample_params *p, int ndim, const int64_t *sizes);

#endif
