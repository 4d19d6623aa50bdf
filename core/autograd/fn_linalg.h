/* Differentiable linalg ops (see core/linalg.h for the plain ones). */
#ifndef EM_AG_FN_LINALG_H
#define EM_AG_FN_LINALG_H

#include "autograd.h"
#include "../linalg.h"

em_tensor *em_ag_mm(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_ag_mv(em_tensor *a, em_tensor *v, em_tensor *out);
em_tensor *em_ag_bmm(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_ag_matmul(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_ag_dot(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_ag_outer(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_ag_addmm(em_tensor *input, em_tensor *m1, em_tensor *m2, em_scalar beta, em_scalar alpha,
                       em_tensor *out);
em_tensor *em_ag_addmv(em_tensor *input, em_tensor *mat, em_tensor *vec, em_scalar beta, em_scalar alpha,
                       em_tensor *out);
em_tensor *em_ag_baddbmm(em_tensor *input, em_tensor *b1, em_tensor *b2, em_scalar beta, em_scalar alpha,
                         em_tensor *out);
/* In place: self = beta * self + alpha * (m1 @ m2). 0 or -1. */
int em_ag_addmm_(em_tensor *self, em_tensor *m1, em_tensor *m2, em_scalar beta, em_scalar alpha);
int em_ag_addmv_(em_tensor *self, em_tensor *mat, em_tensor *vec, em_scalar beta, em_scalar alpha);
int em_ag_baddbmm_(em_tensor *self, em_tensor *b1, em_tensor *b2, em_scalar beta, em_scalar alpha);
em_tensor *em_ag_einsum(const char *equation, int n, em_tensor *const *operands);

#endif
