/* Fused optimizer updates: one pass over a parameter, its gradient and its state
 * buffers, in the parameter's dtype (float32 or float64), with PyTorch's formulas
 * and operation order (so float32 trajectories match PyTorch's to rounding).
 * The bookkeeping (groups, steps, bias corrections) lives in lua/optim/; these
 * kernels only see contiguous tensors of one shape and the scalars of one step. */
#ifndef EM_OPTIM_H
#define EM_OPTIM_H

#include "tensor.h"

typedef enum em_optim_kind {
    EM_OPTIM_SGD = 0, /* buf[0] momentum buffer (or NULL without momentum) */
    EM_OPTIM_ADAM,    /* buf[0] exp_avg, buf[1] exp_avg_sq, buf[2] max_exp_avg_sq or NULL */
    EM_OPTIM_RMSPROP, /* buf[0] square_avg, buf[1] momentum buffer or NULL, buf[2] grad_avg or NULL */
    EM_OPTIM_ADAGRAD, /* buf[0] sum */
} em_optim_kind;

typedef struct em_optim_args {
    const char *op; /* for messages */
    em_optim_kind kind;
    em_tensor *param;
    const em_tensor *grad;
    em_tensor *buf[3];
    double lr, weight_decay;
    bool maximize;
    /* SGD */
    double momentum, dampening;
    bool nesterov, first; /* first: the momentum buffer is new and takes the gradient */
    /* Adam / AdamW: step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t) */
    double beta1, beta2, eps, step_size, bc2_sqrt;
    bool decoupled; /* AdamW: param *= 1 - lr * weight_decay instead of an L2 term */
    /* RMSprop: alpha (smoothing), momentum, centered (grad_avg in buf[2]) */
    double alpha;
    /* Adagrad: clr = lr / (1 + (t - 1) * lr_decay) */
    double clr;
} em_optim_args;

typedef int (*em_optim_kernel)(em_optim_args *a);

/* Checks the tensors (same shape, contiguous, float32/float64, same dtype and
 * device, no overlap between param and its state) and runs the update in place.
 * Bumps the version counter of the parameter and of every state buffer written.
 * 0, or -1 with an error naming a->op. */
int em_optim_step(em_optim_args *a);

#endif
