/* Differentiable padding (see core/pad.h for the plain ops; same arguments and
 * results). Padding is linear in its input: the backward of constant padding is
 * a crop (constant padding with the amounts negated), the backward of the other
 * modes is the scatter-add kernel, whose own backward is the forward pad again.
 * Both directions record nodes, so gradients of any order work (create_graph). */
#ifndef EM_AG_FN_PAD_H
#define EM_AG_FN_PAD_H

#include "autograd.h"
#include "../pad.h"

em_tensor *em_ag_pad(em_tensor *x, const em_pad_params *p);
em_tensor *em_ag_pad_backward(em_tensor *g, const em_pad_params *p, int ndim, const int64_t *sizes);

#endif
