/* Differentiable ctc_loss (see core/ctc.h): the gradient flows to log_probs only.
 * The backward is one C kernel of first order: create_graph through it is an
 * error. */
#ifndef EM_AG_FN_CTC_H
#define EM_AG_FN_CTC_H

#include "autograd.h"
#include "../ctc.h"

em_tensor *em_ag_ctc_loss(em_tensor *log_probs, em_tensor *targets, em_tensor *input_lengths,
                          em_tensor *target_lengths, int64_t blank, em_reduction reduction, bool zero_infinity);

#endif
