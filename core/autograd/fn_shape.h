/* Differentiable shape ops (see core/shape_ops.h for the plain ones). */
#ifndef EM_AG_FN_SHAPE_H
#define EM_AG_FN_SHAPE_H

#include "autograd.h"

#endif
