/* The C interface of the CUDA backend (the .cu files in kernels/). Built only where nvcc
 * exists; the core reaches it through em_cuda_backend_load() and the dispatch
 * table, never directly. */
#ifndef EM_KERNELS_CUDA_H
#define EM_KERNELS_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

struct em_backend;

/* Number of usable GPUs (0 when there is no driver or no device). */
int em_cuda_device_count(void);
/* Name of device i into buf; 0 or -1. */
int em_cuda_device_name(int i, char *buf, int size);
/* Fills the CUDA backend table; -1 with an error set when no GPU can be used. */
int em_cuda_backend_init(struct em_backend *be);

#ifdef __cplusplus
}
#endif

#endif
