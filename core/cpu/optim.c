/* CPU kernels of the fused optimizer updates: one loop over the elements, every
 * state buffer read and written once, OpenMP above EM_PARALLEL_THRESHOLD. The math
 * runs in the parameter's type with the scalars rounded to it first, in the order
 * of PyTorch's single-tensor implementations (so float32 results agree bit for bit
 * or to rounding): e.g. Adam's exp_avg.mul_(b1).add_(g, alpha=1-b1) is m*b1 + (1-b1)*g. */
/* -O3 for this file: the loops carry loop-invariant option branches (maximize,
 * weight decay, momentum, nesterov) that -O3 unswitches into straight loops the
 * compiler vectorises; at -O2 they stay scalar and compute-bound. */
#pragma GCC optimize("O3")

#include <math.h>

#include "../error.h"
#include "../iter.h"
#include "../optim.h"
#include "cpu.h"
#include "typed.h"

#define OPTIM_FOR(n) _Pragma("omp parallel for schedule(static) num_threads(em_num_threads()) if (n >= EM_PARALLEL_THRESHOLD)") \
    for (int64_t i = 0; i < n; i++)

/* The gradient after maximize and the L2 term: d = (+/-g) + wd * p. */
#define OPTIM_GRAD(scalar_t)                                   \
    scalar_t d = maximize ? -g[i] : g[i];                      \
    if (has_wd)                                                \
        d = d + wd * p[i];

#define OPTIM_KERNELS(scalar_t)                                                                    \
    static void sgd_##scalar_t(em_optim_args *a)                                                   \
    {                                                                                              \
        int64_t n = em_tensor_numel(a->param);                                                     \
        scalar_t *p = em_tensor_data(a->param), *buf = a->buf[0] ? em_tensor_data(a->buf[0]) : NULL; \
        const scalar_t *g = em_tensor_data(a->grad);                                               \
        const scalar_t wd = (scalar_t)a->weight_decay, mom = (scalar_t)a->momentum;                \
        const scalar_t damp1 = (scalar_t)(1 - a->dampening), neg_lr = (scalar_t)(-a->lr);          \
        const bool maximize = a->maximize, has_wd = a->weight_decay != 0, first = a->first;         \
        const bool nesterov = a->nesterov, has_mom = a->momentum != 0;                             \
        OPTIM_FOR(n) {                                                                             \
            OPTIM_GRAD(scalar_t)                                                                   \
            if (has_mom) {                                                                         \
                scalar_t b = first ? d : buf[i] * mom + damp1 * d;                                 \
                buf[i] = b;                                                                        \
                d = nesterov ? d + mom * b : b;                                                    \
            }                                                                                      \
            p[i] = p[i] + neg_lr * d;                                                              \
        }                                                                                          \
    }                                                                                              \
    static void adam_##scalar_t(em_optim_args *a)                                                  \
    {                                                                                              \
        int64_t n = em_tensor_numel(a->param);                                                     \
        scalar_t *p = em_tensor_data(a->param), *m = em_tensor_data(a->buf[0]);                    \
        scalar_t *v = em_tensor_data(a->buf[1]), *vmax = a->buf[2] ? em_tensor_data(a->buf[2]) : NULL; \
        const scalar_t *g = em_tensor_data(a->grad);                                               \
        const bool maximize = a->maximize, decoupled = a->decoupled;                               \
        const bool has_wd = a->weight_decay != 0 && !decoupled;                                    \
        const scalar_t wd = (scalar_t)a->weight_decay, decay = (scalar_t)(1 - a->lr * a->weight_decay); \
        const scalar_t b1 = (scalar_t)a->beta1, b1c = (scalar_t)(1 - a->beta1);                    \
        const scalar_t b2 = (scalar_t)a->beta2, b2c = (scalar_t)(1 - a->beta2);                    \
        const scalar_t bc2 = (scalar_t)a->bc2_sqrt, eps = (scalar_t)a->eps;                        \
        const scalar_t neg_step = (scalar_t)(-a->step_size);                                       \
        OPTIM_FOR(n) {                                                                             \
            if (decoupled)                                                                         \
                p[i] = p[i] * decay;                                                               \
            OPTIM_GRAD(scalar_t)                                                                   \
            scalar_t mi = m[i] * b1 + b1c * d;                                                     \
            scalar_t vi = v[i] * b2 + b2c * d * d;                                                 \
            m[i] = mi;                                                                             \
            v[i] = vi;                                                                             \
            if (vmax) {                                                                            \
                vi = vmax[i] > vi || isnan(vmax[i]) ? vmax[i] : vi;                                \
                vmax[i] = vi;                                                                      \
            }                                                                                      \
            scalar_t denom = sqrt##scalar_t(vi) / bc2 + eps;                                       \
            p[i] = p[i] + neg_step * mi / denom;                                                   \
        }                                                                                          \
    }                                                                                              \
    static void rmsprop_##scalar_t(em_optim_args *a)                                               \
    {                                                                                              \
        int64_t n = em_tensor_numel(a->param);                                                     \
        scalar_t *p = em_tensor_data(a->param), *sq = em_tensor_data(a->buf[0]);                   \
        scalar_t *buf = a->buf[1] ? em_tensor_data(a->buf[1]) : NULL;                              \
        scalar_t *gavg = a->buf[2] ? em_tensor_data(a->buf[2]) : NULL;                             \
        const scalar_t *g = em_tensor_data(a->grad);                                               \
        const bool maximize = a->maximize, has_wd = a->weight_decay != 0, has_mom = a->momentum > 0; \
        const scalar_t wd = (scalar_t)a->weight_decay, al = (scalar_t)a->alpha;                    \
        const scalar_t alc = (scalar_t)(1 - a->alpha), eps = (scalar_t)a->eps;                     \
        const scalar_t mom = (scalar_t)a->momentum, neg_lr = (scalar_t)(-a->lr);                   \
        OPTIM_FOR(n) {                                                                             \
            OPTIM_GRAD(scalar_t)                                                                   \
            scalar_t s = sq[i] * al + alc * d * d;                                                 \
            sq[i] = s;                                                                             \
            scalar_t avg;                                                                          \
            if (gavg) {                                                                            \
                scalar_t ga = gavg[i] * al + alc * d;                                              \
                gavg[i] = ga;                                                                      \
                avg = sqrt##scalar_t(s + (scalar_t)-1 * ga * ga);                                  \
            } else {                                                                               \
                avg = sqrt##scalar_t(s);                                                           \
            }                                                                                      \
            avg = avg + eps;                                                                       \
            if (has_mom) {                                                                         \
                scalar_t b = buf[i] * mom + (scalar_t)1 * d / avg;                                 \
                buf[i] = b;                                                                        \
                p[i] = p[i] + neg_lr * b;                                                          \
            } else {                                                                               \
                p[i] = p[i] + neg_lr * d / avg;                                                    \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void adagrad_##scalar_t(em_optim_args *a)                                               \
    {                                                                                              \
        int64_t n = em_tensor_numel(a->param);                                                     \
        scalar_t *p = em_tensor_data(a->param), *sum = em_tensor_data(a->buf[0]);                  \
        const scalar_t *g = em_tensor_data(a->grad);                                               \
        const bool maximize = a->maximize, has_wd = a->weight_decay != 0;                          \
        const scalar_t wd = (scalar_t)a->weight_decay, eps = (scalar_t)a->eps;                     \
        const scalar_t neg_clr = (scalar_t)(-a->clr);                                              \
        OPTIM_FOR(n) {                                                                             \
            OPTIM_GRAD(scalar_t)                                                                   \
            scalar_t s = sum[i] + (scalar_t)1 * d * d;                                             \
            sum[i] = s;                                                                            \
            p[i] = p[i] + neg_clr * d / (sqrt##scalar_t(s) + eps);                                 \
        }                                                                                          \
    }

static inline float sqrtfloat(float x) { return sqrtf(x); }
static inline double sqrtdouble(double x) { return sqrt(x); }

OPTIM_KERNELS(float)
OPTIM_KERNELS(double)

static int cpu_optim(em_optim_args *a)
{
    bool f32 = a->param->dtype == EM_FLOAT32;
    switch (a->kind) {
    case EM_OPTIM_SGD: f32 ? sgd_float(a) : sgd_double(a); return 0;
    case EM_OPTIM_ADAM: f32 ? adam_float(a) : adam_double(a); return 0;
    case EM_OPTIM_RMSPROP: f32 ? rmsprop_float(a) : rmsprop_double(a); return 0;
    case EM_OPTIM_ADAGRAD: f32 ? adagrad_float(a) : adagrad_double(a); return 0;
    }
    return em_error("%s: unknown optimizer kind", a->op);
}

void em_cpu_register_optim(em_backend *be)
{
    be->kernels[EM_K_OPTIM] = (em_kernel_fn)cpu_optim;
}
