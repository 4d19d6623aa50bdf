/* Differentiable im2col / col2im (core/fold.h): each is the other's adjoint, so
 * each backward is the other op through em_ag_*, and double backward works. */
#ifndef EM_AG_FN_FOLD_H
#define EM_AG_FN_FOLD_H

#include "autograd.h"
#include "../fold.h"

em_tensor *em_ag_im2col(em_tensor *x, const em_fold_params *p);
em_tensor *em_ag_col2im(em_tensor *x, const int64_t *osize, const em_fold_params *p);

#endif
