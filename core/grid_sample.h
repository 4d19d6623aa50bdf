/* Grid sampling (F.grid_sample): out[n, c, o...] = input[n, c] read at the
 * normalised location grid[n, o...] in [-1, 1] (x first), interpolated bilinearly
 * (trilinearly in 3-d), by the nearest pixel (ties to even) or bicubically (2-d
 * only); locations outside the image read zeros, the border, or the image
 * reflected at its edges. Coordinates, reflection and clipping follow PyTorch's
 * rules exactly. input (N, C, H, W) with grid (N, Ho, Wo, 2) -> (N, C, Ho, Wo);
 * input (N, C, D, H, W) with grid (N, Do, Ho, Wo, 3) -> (N, C, Do, Ho, Wo). */
#ifndef EM_GRID_SAMPLE_H
#define EM_GRID_SAMPLE_H

#include "tensor.h"

typedef enum em_grid_mode { EM_GRID_BILINEAR, EM_GRID_NEAREST, EM_GRID_BICUBIC } em_grid_mode;
typedef enum em_grid_padding { EM_GRID_ZEROS, EM_GRID_BORDER, EM_GRID_REFLECTION } em_grid_padding;

typedef struct em_grid_params {
    em_grid_mode mode;
    em_grid_padding padding;
    bool align_corners;
} em_grid_params;

/* Sizes as 3 spatial dims (2-d: D = 1); nsp is 2 or 3. */
typedef struct em_grid_geom {
    em_dtype dtype;
    int nsp;
    int64_t n, c, in[3], out[3];
    em_grid_params p;
} em_grid_geom;

/* Contiguous operands: in (N, C, in...), grid (N, out..., nsp), out/gout (N, C, out...).
 * Forward (gout NULL): out <- sample(in, grid). Backward: gin (zeroed by the kernel,
 * may be NULL) and ggrid (may be NULL) <- the gradients for gout. 0 or -1. */
typedef int (*em_grid_sample_kernel)(const em_grid_geom *g, const void *in, const void *grid, const void *gout,
                                     void *out_or_gin, void *ggrid);

/* 'bilinear' | 'nearest' | 'bicubic' and 'zeros' | 'border' | 'reflection'; -1 with an error otherwise. */
int em_grid_mode_parse(const char *name, em_grid_mode *mode);
int em_grid_padding_parse(const char *name, em_grid_padding *padding);

em_tensor *em_grid_sample(em_tensor *input, em_tensor *grid, const em_grid_params *p);
/* The gradients w.r.t. input and grid for grad_out, each only when its pointer is
 * not NULL (new references). 0 or -1. */
int em_grid_sample_backward(em_tensor *grad_out, em_tensor *input, em_tensor *grid, const em_grid_params *p,
                            em_tensor **grad_input, em_tensor **grad_grid);

#endif
