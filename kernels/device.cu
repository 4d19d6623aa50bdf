/* CUDA device query and the CUDA backend's allocator and copies. The runtime is
 * linked statically and loads the driver lazily, so a binary built here runs on a
 * machine without a GPU: the device count is then 0. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

extern "C" {
#include "../core/copy.h"
#include "../core/dispatch.h"
#include "../core/error.h"
#include "cuda.h"
}

void em_cuda_register_fill(em_backend *be);

extern "C" int em_cuda_device_count(void)
{
    static int count = -1;
    if (count < 0) {
        int n = 0;
        count = cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
        cudaGetLastError(); /* clear the sticky "no driver" error */
    }
    return count;
}

extern "C" int em_cuda_device_name(int i, char *buf, int size)
{
    cudaDeviceProp prop;
    if (i < 0 || i >= em_cuda_device_count() || cudaGetDeviceProperties(&prop, i) != cudaSuccess)
        return em_error("cuda: no device %d", i);
    snprintf(buf, (size_t)size, "%s", prop.name);
    return 0;
}

static void *cuda_alloc(size_t nbytes)
{
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, nbytes);
    if (err != cudaSuccess) {
        cudaGetLastError();
        em_error("cuda: out of memory allocating %zu bytes (%s)", nbytes, cudaGetErrorString(err));
        return NULL;
    }
    return p;
}

static void cuda_free(void *p, size_t nbytes)
{
    (void)nbytes;
    cudaFree(p);
}

/* Copies between host and device, or within a device, for contiguous tensors of
 * one dtype; other cases are staged through a contiguous host copy. */
static int cuda_copy(em_tensor *dst, const em_tensor *src)
{
    if (!em_same_shape(dst, src) || dst->dtype != src->dtype || !em_tensor_is_contiguous(dst) ||
        !em_tensor_is_contiguous(src)) {
        if (em_tensor_device(src).type == EM_DEV_CPU && em_tensor_is_contiguous(dst)) {
            em_tensor *staged = em_tensor_empty(dst->ndim, dst->sizes, dst->dtype, EM_CPU);
            if (!staged)
                return -1;
            int rc = em_copy_(staged, src);
            if (rc == 0)
                rc = cuda_copy(dst, staged);
            em_tensor_release(staged);
            return rc;
        }
        if (em_tensor_device(dst).type == EM_DEV_CPU && em_tensor_is_contiguous(src) &&
            dst->ndim == src->ndim) {
            em_tensor *staged = em_tensor_empty(src->ndim, src->sizes, src->dtype, EM_CPU);
            if (!staged)
                return -1;
            int rc = cuda_copy(staged, src);
            if (rc == 0)
                rc = em_copy_(dst, staged);
            em_tensor_release(staged);
            return rc;
        }
        return em_error("copy_: on cuda only contiguous copies are supported so far");
    }
    cudaMemcpyKind kind = em_tensor_device(dst).type == EM_DEV_CPU   ? cudaMemcpyDeviceToHost
                          : em_tensor_device(src).type == EM_DEV_CPU ? cudaMemcpyHostToDevice
                                                                     : cudaMemcpyDeviceToDevice;
    cudaError_t err = cudaMemcpy(em_tensor_data(dst), em_tensor_data(src), em_tensor_nbytes(dst), kind);
    if (err != cudaSuccess)
        return em_error("copy_: cuda copy failed (%s)", cudaGetErrorString(err));
    return 0;
}

extern "C" int em_cuda_backend_init(em_backend *be)
{
    if (em_cuda_device_count() == 0)
        return em_error("cuda: no GPU is available on this machine");
    be->name = "cuda";
    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->kernels[EM_K_COPY] = (em_kernel_fn)cuda_copy;
    em_cuda_register_fill(be);
    return 0;
}
