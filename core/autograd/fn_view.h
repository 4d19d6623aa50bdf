/* Differentiable view ops (see core/view.h for the plain ones). */
#ifndef EM_AG_FN_VIEW_H
#define EM_AG_FN_VIEW_H

#include "autograd.h"
#include "../view.h"

/* Views made here record their base (t->base) so in-place writes through them
 * rebase the base's history. */
em_tensor *em_ag_view(em_tensor *t, int ndim, const int64_t *sizes);
em_tensor *em_ag_reshape(em_tensor *t, int ndim, const int64_t *sizes);
em_tensor *em_ag_expand(em_tensor *t, int ndim, const int64_t *sizes);
/* Sets v->base from t when v shares t's storage; passes v through. */
em_tensor *em_ag_mark_view(em_tensor *t, em_tensor *v);

#endif
