/* Differentiable fused losses (see core/loss.h): the gradient flows to the input
 * only (class weights and targets get none, as in PyTorch). The backward is one C
 * kernel of first order: create_graph through these losses is an error (compose
 * log_softmax and gather when a second derivative is needed). */
#ifndef EM_AG_FN_LOSS_H
#define EM_AG_FN_LOSS_H

#include "autograd.h"
#include "../loss.h"

em_tensor *em_ag_nll_loss(em_tensor *x, em_tensor *target, em_tensor *weight, int64_t ignore_index,
                          em_reduction reduction);
em_tensor *em_ag_cross_entropy(em_tensor *x, em_tensor *target, em_tensor *weight, int64_t ignore_index,
                               double label_smoothing, em_reduction reduction);

#endif
