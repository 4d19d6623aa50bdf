/* fill_ on the GPU: the first CUDA kernel, one thread per element of a
 * contiguous tensor. */
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "../core/dispatch.h"
#include "../core/error.h"
}

template <typename T>
__global__ void fill_kernel(T *out, T value, int64_t n)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = value;
}

template <typename T>
static void launch(void *data, const void *bits, int64_t n)
{
    const int threads = 256;
    int64_t blocks = (n + threads - 1) / threads;
    fill_kernel<T><<<(unsigned)blocks, threads>>>((T *)data, *(const T *)bits, n);
}

static int cuda_fill(em_tensor *dst, em_scalar v)
{
    if (!em_tensor_is_contiguous(dst))
        return em_error("fill_: on cuda only contiguous tensors are supported so far");
    int64_t n = em_tensor_numel(dst);
    if (n == 0)
        return 0;
    uint64_t bits = 0;
    em_store_scalar(&bits, dst->dtype, v);
    switch (em_dtype_size(dst->dtype)) {
    case 1: launch<uint8_t>(em_tensor_data(dst), &bits, n); break;
    case 2: launch<uint16_t>(em_tensor_data(dst), &bits, n); break;
    case 4: launch<uint32_t>(em_tensor_data(dst), &bits, n); break;
    default: launch<uint64_t>(em_tensor_data(dst), &bits, n); break;
    }
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess)
        return em_error("fill_: cuda kernel launch failed (%s)", cudaGetErrorString(err));
    return 0;
}

void em_cuda_register_fill(em_backend *be)
{
    be->kernels[EM_K_FILL] = (em_kernel_fn)cuda_fill;
}
