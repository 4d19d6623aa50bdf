/* Differentiable elementwise ops (see core/elementwise.h for the plain ones):
 * same arguments and results as em_unary/em_binary/em_ternary/em_clamp and their
 * in-place forms; they record a node when an input requires grad. */
#ifndef EM_AG_FN_ELEMENTWISE_H
#define EM_AG_FN_ELEMENTWISE_H

#include "autograd.h"
#include "../elementwise.h"

em_tensor *em_ag_unary(em_unary_op op, em_tensor *x, const em_ew_params *p, em_tensor *out);
int em_ag_unary_(em_unary_op op, em_tensor *self, const em_ew_params *p);
em_tensor *em_ag_binary(em_binary_op op, em_arg a, em_arg b, const em_ew_params *p, em_tensor *out);
int em_ag_binary_(em_binary_op op, em_tensor *self, em_arg b, const em_ew_params *p);
em_tensor *em_ag_ternary(em_ternary_op op, em_arg a, em_arg b, em_arg c, const em_ew_params *p, em_tensor *out);
int em_ag_ternary_(em_ternary_op op, em_tensor *self, em_arg b, em_arg c, const em_ew_params *p);
em_tensor *em_ag_clamp(em_tensor *x, const em_arg *lo, const em_arg *hi, em_tensor *out);
int em_ag_clamp_(em_tensor *self, const em_arg *lo, const em_arg *hi);

#endif
