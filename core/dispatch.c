/* Backend tables keyed by device type. */
#include "dispatch.h"
#include "error.h"

#include <stdbool.h>

static em_backend *backends[EM_DEV_COUNT];
static em_backend cpu_backend;
static bool initialised;

/* The CUDA backend is set up on first use, so start-up never touches the driver. */
#ifdef EM_HAVE_CUDA
#include "../kernels/cuda.h"
static em_backend cuda_backend;
static bool cuda_tried;
static void load_cuda(void)
{
    if (cuda_tried) {
        em_error("cuda: no GPU is available on this machine");
        return;
    }
    cuda_tried = true;
    if (em_cuda_backend_init(&cuda_backend) == 0)
        backends[EM_DEV_CUDA] = &cuda_backend;
}
#else
static void load_cuda(void)
{
    em_error("cuda: Ember was built without CUDA support");
}
#endif

static const char *device_type_name(em_device_type t)
{
    return t == EM_DEV_CPU ? "cpu" : "cuda";
}

void em_backend_register(em_device_type type, em_backend *be)
{
    backends[type] = be;
}

const em_backend *em_backend_get(em_device dev)
{
    if (dev.type == EM_DEV_CUDA && !backends[EM_DEV_CUDA]) {
        load_cuda();
        if (!backends[EM_DEV_CUDA])
            return NULL; /* load_cuda set the reason */
    }
    if (dev.type < 0 || dev.type >= EM_DEV_COUNT || !backends[dev.type]) {
        em_error("device %s is not available", device_type_name(dev.type));
        return NULL;
    }
    return backends[dev.type];
}

em_kernel_fn em_kernel_get(em_kernel_id id, em_device dev, const char *op)
{
    const em_backend *be = em_backend_get(dev);
    if (!be)
        return NULL;
    em_kernel_fn fn = be->kernels[id];
    if (!fn)
        em_error("%s: not supported on %s", op, device_type_name(dev.type));
    return fn;
}

void em_init(void)
{
    if (initialised)
        return;
    initialised = true;
    cpu_backend.name = "cpu";
    em_cpu_backend_init(&cpu_backend);
    em_backend_register(EM_DEV_CPU, &cpu_backend);
}
