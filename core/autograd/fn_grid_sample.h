/* Differentiable grid sampling (core/grid_sample.h): gradients w.r.t. the input
 * and the grid from the C backward kernel. First order only: create_graph through
 * it is an error. */
#ifndef EM_AG_FN_GRID_SAMPLE_H
#define EM_AG_FN_GRID_SAMPLE_H

#include "autograd.h"
#include "../grid_sample.h"

em_tensor *em_ag_grid_sample(em_tensor *input, em_tensor *grid, const em_grid_params *p);

#endif
