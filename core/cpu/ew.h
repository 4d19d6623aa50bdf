/* Shared pieces of the CPU elementwise kernels (unary.c, binary.c, ternary.c):
 * running a loop function over operands, with a flat path (no iterator) when every
 * operand is contiguous with the output's shape or a single broadcast element, and
 * OpenMP above EM_PARALLEL_THRESHOLD. */
#ifndef EM_CPU_EW_H
#define EM_CPU_EW_H

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../elementwise.h"
#include "../error.h"
#include "../iter.h"
#include "typed.h"

/* Wrapping integer arithmetic in the unsigned type UT (no signed-overflow UB). */
#define EM_WADD(T, UT, a, b) ((T)(1u * (UT)(a) + (UT)(b)))
#define EM_WSUB(T, UT, a, b) ((T)(1u * (UT)(a) - (UT)(b)))
#define EM_WMUL(T, UT, a, b) ((T)(1u * (UT)(a) * (UT)(b)))
#define EM_WNEG(T, UT, a) ((T)(0u - (UT)(a)))

/* Reads a scalar stored with em_store_scalar in the loop's own type. */
#define EM_CTX_VAL(T, bits) \
    ({                      \
        T v_;               \
        memcpy(&v_, &(bits), sizeof v_); \
        v_;                 \
    })

static inline int em_ew_launch(int nops, const em_tensor *const *ops, em_loop_fn fn, void *ctx, const char *name)
{
    const em_tensor *out = ops[0];
    int64_t n = em_tensor_numel(out);
    bool flat = em_tensor_is_contiguous(out);
    char *data[EM_ITER_MAX_OPS];
    int64_t st[EM_ITER_MAX_OPS];
    for (int k = 0; k < nops && flat; k++) {
        const em_tensor *t = ops[k];
        data[k] = (char *)em_tensor_data(t);
        if (k > 0 && t->ndim == 0)
            st[k] = 0;
        else if ((k == 0 || (em_same_shape(t, out) && em_tensor_is_contiguous(t))))
            st[k] = (int64_t)em_dtype_size(t->dtype);
        else
            flat = false;
    }
    if (flat) {
        if (n == 0)
            return 0;
        int nt = n >= EM_PARALLEL_THRESHOLD ? em_num_threads() : 1;
        if (nt <= 1) {
            fn(data, st, n, ctx);
            return 0;
        }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int tid = omp_get_thread_num(), m = omp_get_num_threads();
            int64_t chunk = (n + m - 1) / m;
            int64_t b = tid * chunk, e = b + chunk < n ? b + chunk : n;
            if (b < e) {
                char *d[EM_ITER_MAX_OPS];
                for (int k = 0; k < nops; k++)
                    d[k] = data[k] + b * st[k];
                fn(d, st, e - b, ctx);
            }
        }
#endif
        return 0;
    }
    em_iter it;
    if (em_iter_init(&it, nops, ops, name) < 0)
        return -1;
    em_iter_run(&it, fn, ctx, true);
    return 0;
}

#endif
