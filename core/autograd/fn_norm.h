/* Differentiable fused normalisations (see core/norm.h): gradients flow to the
 * input, weight and bias (not to running statistics). The backward is the fused
 * kernel; under create_graph it is the same formula written with em_ag_ ops
 * (statistics recomputed from the input), so double backward works. */
#ifndef EM_AG_FN_NORM_H
#define EM_AG_FN_NORM_H

#include "autograd.h"
#include "../norm.h"

em_tensor *em_ag_batch_norm(em_tensor *x, em_tensor *weight, em_tensor *bias, em_tensor *running_mean,
                            em_tensor *running_var, bool training, double momentum, double eps);
em_tensor *em_ag_layer_norm(em_tensor *x, int k, const int64_t *shape, em_tensor *weight, em_tensor *bias,
                            double eps);
em_tensor *em_ag_group_norm(em_tensor *x, int64_t groups, em_tensor *weight, em_tensor *bias, double eps);

#endif
