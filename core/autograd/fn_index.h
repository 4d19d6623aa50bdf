/* Differentiable index ops (see core/index.h for the plain ones). */
#ifndef EM_AG_FN_INDEX_H
#define EM_AG_FN_INDEX_H

#include "autograd.h"

#endif
