/* Differentiable embedding_bag (see core/embedding_bag.h): gradients flow to the
 * weight and to per_sample_weights. The backward is one first-order C kernel:
 * create_graph through embedding_bag is an error. */
#ifndef EM_AG_FN_EMBEDDING_BAG_H
#define EM_AG_FN_EMBEDDING_BAG_H

#include "autograd.h"
#include "../embedding_bag.h"

em_tensor *em_ag_embedding_bag(em_tensor *weight, em_tensor *input, em_tensor *offsets, em_tensor *psw,
                               em_bag_mode mode, int64_t padding_idx, bool include_last_offset,
                               bool scale_grad_by_freq);

#endif
