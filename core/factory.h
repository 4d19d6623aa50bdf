/* Range constructors: arange (end-exclusive, PyTorch), range (end-inclusive,
 * Torch7), linspace, logspace, eye. Values are computed on the CPU (one pass, no
 * kernel needed) and copied to the target device when it is not the CPU. */
#ifndef EM_FACTORY_H
#define EM_FACTORY_H

#include "tensor.h"

/* start, start+step, ... < end (> end for negative step); length ceil((end-start)/step). */
em_tensor *em_arange(em_scalar start, em_scalar end, em_scalar step, em_dtype dt, em_device dev);
/* start, start+step, ... <= end; length floor((end-start)/step) + 1 (Torch7's torch.range). */
em_tensor *em_range(em_scalar start, em_scalar end, em_scalar step, em_dtype dt, em_device dev);
em_tensor *em_linspace(double start, double end, int64_t steps, em_dtype dt, em_device dev);
em_tensor *em_logspace(double start, double end, int64_t steps, double base, em_dtype dt, em_device dev);
/* n x m with ones on the diagonal. */
em_tensor *em_eye(int64_t n, int64_t m, em_dtype dt, em_device dev);

#endif
