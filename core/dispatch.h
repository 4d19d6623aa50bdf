/* The single dispatch point: one backend table per device type.
 * Device-independent op code (shape checks, dtype promotion, allocation) lives in
 * the core/ op files and calls its kernel through em_kernel_get(id, device), so a CUDA
 * backend slots in by filling its own table. Each op family declares its kernel's
 * typed signature in its own header and casts the em_kernel_fn it gets back. */
#ifndef EM_DISPATCH_H
#define EM_DISPATCH_H

#include <stddef.h>

#include "tensor.h"

typedef enum em_kernel_id {
    /* memory */
    EM_K_COPY,          /* em_copy_kernel: dst <- src, any dtypes and strides, same shape */
    EM_K_FILL,          /* em_fill_kernel */
    /* elementwise */
    EM_K_UNARY,
    EM_K_BINARY,
    EM_K_TERNARY,
    /* reductions and scans */
    EM_K_REDUCE,
    EM_K_REDUCE_INDEX,
    EM_K_SCAN,
    EM_K_SORT,
    EM_K_UNIQUE,
    EM_K_UNIQUE_DIM,
    /* linear algebra */
    EM_K_GEMM,
    /* indexing */
    EM_K_INDEX_SELECT,  /* em_gather_kernel (index_select is a gather over an expanded index) */
    EM_K_INDEX_PUT,     /* em_scatter_kernel (index_add_/index_copy_/index_fill_) */
    EM_K_GATHER,        /* em_gather_kernel */
    EM_K_SCATTER,       /* em_scatter_kernel */
    EM_K_MASKED,        /* em_masked_fill_kernel */
    EM_K_INDEX_CHECK,   /* em_index_check_kernel: bounds check before any write */
    EM_K_MASKED_SELECT,
    EM_K_MASKED_SCATTER,
    EM_K_NONZERO,
    /* random numbers */
    EM_K_RANDOM,
    /* nn */
    EM_K_POOL,          /* em_pool_kernel (core/pool.h) */
    EM_K_NLL,           /* em_nll_kernel (core/loss.h) */
    EM_K_EMBEDDING_BAG, /* em_bag_kernel (core/embedding_bag.h) */
    EM_K_CTC,           /* em_ctc_kernel (core/ctc.h) */
    EM_K_UPSAMPLE,      /* em_upsample_kernel (core/upsample.h) */
    EM_K_NORM,          /* em_norm_kernel (core/norm.h) */
    EM_K_PAD,           /* em_pad_kernel (core/pad.h) */
    EM_K_RNN,           /* em_rnn_kernel (core/rnn.h) */
    /* convolution (core/conv.h) */
    EM_K_CONV_FWD,        /* em_conv_fwd_kernel */
    EM_K_CONV_BWD_INPUT,  /* em_conv_bwd_input_kernel */
    EM_K_CONV_BWD_WEIGHT, /* em_conv_bwd_weight_kernel */
    EM_K_FOLD,            /* em_fold_kernel (core/fold.h): im2col / col2im */
    EM_K_GRID_SAMPLE,     /* em_grid_sample_kernel (core/grid_sample.h) */
    /* optimizers */
    EM_K_OPTIM,           /* em_optim_kernel (core/optim.h) */
    /* room for later families (conv, pooling, optimizer steps, ...) */
    EM_K_COUNT = 64
} em_kernel_id;

typedef void (*em_kernel_fn)(void);

typedef struct em_backend {
    const char *name;
    void *(*alloc)(size_t nbytes);
    void (*free)(void *p, size_t nbytes);
    em_kernel_fn kernels[EM_K_COUNT];
} em_backend;

/* The backend of a device, or NULL with an error set (e.g. no GPU). */
const em_backend *em_backend_get(em_device dev);
/* The kernel for id on dev, or NULL with "op: not supported on <device>" set. */
em_kernel_fn em_kernel_get(em_kernel_id id, em_device dev, const char *op);

/* Registration, called once by each backend's init. */
void em_backend_register(em_device_type type, em_backend *be);

/* Fills the CPU table; called from em_init(). */
void em_cpu_backend_init(em_backend *be);

/* Sets up the library (backends, thread count); idempotent. */
void em_init(void);

#endif
