/* Differentiable linalg ops (see core/linalg.h for the plain ones). */
#ifndef EM_AG_FN_LINALG_H
#define EM_AG_FN_LINALG_H

#include "autograd.h"

#endif
