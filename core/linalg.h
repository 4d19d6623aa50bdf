/* Linear algebra: matrix products (mm, mv, bmm, matmul, addmm, addmv, baddbmm, dot,
 * outer, einsum). This front checks shapes and dtypes, broadcasts batch dims and
 * allocates the result; every product ends in one batched strided GEMM, the kernel
 * EM_K_GEMM (OpenBLAS on the CPU, core/cpu/blas.c). All return a new reference or
 * NULL with an error set. `out` (may be NULL) receives the result and is returned
 * retained. */
#ifndef EM_LINALG_H
#define EM_LINALG_H

#include "tensor.h"

/* C[i] = alpha * A[i] @ B[i] + beta * C[i] for every batch index i.
 * A is (batch..., m, k), B (batch..., k, n), C (batch..., m, n); strides in
 * elements, any layout (batch strides may be 0 for broadcast operands; C's
 * elements must not overlap). Size-1 batch dims are already dropped and batches of
 * A rows against one shared B folded into m by the front.
 * beta == 0 means C is written without being read (NaN in C is ignored).
 * All three have the same dtype and device. */
typedef struct em_gemm_desc {
    const char *op; /* the user-facing op, for error messages */
    em_dtype dtype;
    int batch_ndim;
    int64_t batch[EM_MAX_DIMS];
    int64_t m, n, k;
    const char *a, *b; /* element (0,0) of batch 0 */
    char *c;
    int64_t a_bs[EM_MAX_DIMS], b_bs[EM_MAX_DIMS], c_bs[EM_MAX_DIMS]; /* batch strides */
    int64_t a_rs, a_cs, b_rs, b_cs, c_rs, c_cs;                      /* row / column strides */
    em_scalar alpha, beta;
} em_gemm_desc;

typedef int (*em_gemm_kernel)(const em_gemm_desc *d);

em_tensor *em_mm(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_mv(em_tensor *a, em_tensor *v, em_tensor *out);
em_tensor *em_bmm(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_matmul(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_dot(em_tensor *a, em_tensor *b, em_tensor *out);
em_tensor *em_outer(em_tensor *a, em_tensor *b, em_tensor *out);
/* beta * input + alpha * (m1 @ m2), input broadcast to the product's shape. */
em_tensor *em_addmm(em_tensor *input, em_tensor *m1, em_tensor *m2, em_scalar beta, em_scalar alpha,
                    em_tensor *out);
em_tensor *em_addmv(em_tensor *input, em_tensor *mat, em_tensor *vec, em_scalar beta, em_scalar alpha,
                    em_tensor *out);
em_tensor *em_baddbmm(em_tensor *input, em_tensor *b1, em_tensor *b2, em_scalar beta, em_scalar alpha,
                      em_tensor *out);
/* Einstein summation over n operands ("ij,jk->ik", implicit output when no "->"),
 * with PyTorch's '...' and broadcasting of size-1 dims. */
em_tensor *em_einsum(const char *equation, int n, em_tensor *const *operands);

/* The longest equation em_einsum_prepare writes, with its terminating 0. */
#define EM_EINSUM_EQ_MAX 320
/* Rewrites equation for these operands without '...' and with the output always
 * written out: each '...' becomes letters used nowhere else (the ellipsis dims
 * are right-aligned across operands, as broadcast dims are), and the implicit
 * output is the ellipsis dims, then the letters seen once in a..zA..Z order.
 * sizes[i] gets operand i's shape broadcast against the others (a dim of size 1
 * takes the size the same letter has elsewhere). Checks the equation against the
 * operands. 0 or -1 with an error. */
int em_einsum_prepare(const char *equation, int n, em_tensor *const *operands, char *explicit_eq,
                      int64_t (*sizes)[EM_MAX_DIMS]);

#endif
