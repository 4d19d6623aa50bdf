/* Registration functions of the CPU kernel families (one per core/cpu/ file). */
#ifndef EM_CPU_H
#define EM_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "../dispatch.h"

void em_cpu_register_copy(em_backend *be);
void em_cpu_register_index(em_backend *be);
void em_cpu_register_random(em_backend *be);
void em_cpu_register_unary(em_backend *be);
void em_cpu_register_binary(em_backend *be);
void em_cpu_register_ternary(em_backend *be);
void em_cpu_register_blas(em_backend *be);
void em_cpu_register_reduce(em_backend *be); /* reduce.c, scan.c, sort.c */
void em_cpu_register_scan(em_backend *be);
void em_cpu_register_sort(em_backend *be);
void em_cpu_register_pool(em_backend *be);
void em_cpu_register_loss(em_backend *be);
void em_cpu_register_embedding_bag(em_backend *be);
void em_cpu_register_ctc(em_backend *be);
void em_cpu_register_conv(em_backend *be);
void em_cpu_register_grid_sample(em_backend *be);
void em_cpu_register_upsample(em_backend *be);
void em_cpu_register_optim(em_backend *be);
void em_cpu_register_norm(em_backend *be);
void em_cpu_register_pad(em_backend *be);
void em_cpu_register_rnn(em_backend *be);

/* Direct float32/float64 GEMM for kernels that call BLAS on their own buffers
 * (row-major, CBLAS semantics; ta/tb transpose A/B); float32 runs on em_sgemm where the
 * CPU has AVX-512. em_cpu_blas_ready loads OpenBLAS and syncs its thread count (0, or -1
 * with an error naming op); em_cpu_blas_openmp says whether OpenBLAS shares our OpenMP
 * pool, so that it may be called from inside a parallel region (it then runs
 * single-threaded, as em_sgemm does). */
int em_cpu_blas_ready(const char *op);
bool em_cpu_blas_openmp(void);
void em_cpu_blas_gemm(em_dtype dt, bool ta, bool tb, int m, int n, int k, double alpha, const void *a, int lda,
                      const void *b, int ldb, double beta, void *c, int ldc);

/* Ember's own float32 GEMM (sgemm.c), for CPUs with AVX-512F (em_sgemm_available):
 * C (m, n) = alpha * op(A) @ op(B) + beta * C, row-major, op = transpose when ta/tb, leading
 * dimensions at least the row lengths of the stored matrices; beta == 0 ignores what C
 * holds. Multithreaded, except inside an OpenMP parallel region. 0, or -1 (em_error set)
 * when its packing buffers cannot be allocated. */
bool em_sgemm_available(void);
/* Whether em_sgemm beats OpenBLAS on an m x n x k product here (measured: not below 64^3
 * multiply-adds, nor 128^3 when it runs single-threaded, nor for fewer than 4 columns). */
bool em_sgemm_suits(int64_t m, int64_t n, int64_t k);
int em_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
             const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
