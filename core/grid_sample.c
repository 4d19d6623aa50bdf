/* Grid sampling front: shape, dtype and option checks (PyTorch's rules and
 * message contents), contiguous operands, allocation and dispatch. */
#include "grid_sample.h"

#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"

int em_grid_mode_parse(const char *name, em_grid_mode *mode)
{
    if (strcmp(name, "bilinear") == 0)
        *mode = EM_GRID_BILINEAR;
    else if (strcmp(name, "nearest") == 0)
        *mode = EM_GRID_NEAREST;
    else if (strcmp(name, "bicubic") == 0)
        *mode = EM_GRID_BICUBIC;
    else
        return em_error("grid_sample: mode must be 'bilinear', 'nearest' or 'bicubic', got '%s'", name);
    return 0;
}

int em_grid_padding_parse(const char *name, em_grid_padding *padding)
{
    if (strcmp(name, "zeros") == 0)
        *padding = EM_GRID_ZEROS;
    else if (strcmp(name, "border") == 0)
        *padding = EM_GRID_BORDER;
    else if (strcmp(name, "reflection") == 0)
        *padding = EM_GRID_REFLECTION;
    else
        return em_error("grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got '%s'", name);
    return 0;
}

static int geometry(const em_tensor *x, const em_tensor *grid, const em_grid_params *p, em_grid_geom *g)
{
    char b[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (x->ndim != 4 && x->ndim != 5)
        return em_error("grid_sample: expected a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, got %d-D (%s)",
                        x->ndim, em_tensor_shape_str(x, b, sizeof b));
    int nsp = x->ndim - 2;
    if (grid->ndim != x->ndim)
        return em_error("grid_sample: expected a %d-D grid for a %d-D input, got %d-D grid (%s)", x->ndim, x->ndim,
                        grid->ndim, em_tensor_shape_str(grid, b, sizeof b));
    if (grid->sizes[grid->ndim - 1] != nsp)
        return em_error("grid_sample: expected grid to have size %d in its last dimension for a %d-D input, got "
                        "grid (%s)",
                        nsp, x->ndim, em_tensor_shape_str(grid, b, sizeof b));
    if (grid->sizes[0] != x->sizes[0])
        return em_error("grid_sample: expected grid and input to have the same batch size, got input (%s) and "
                        "grid (%s)",
                        em_tensor_shape_str(x, b, sizeof b), em_tensor_shape_str(grid, b2, sizeof b2));
    if (p->mode == EM_GRID_BICUBIC && nsp != 2)
        return em_error("grid_sample: bicubic interpolation only supports 4-D input, got %d-D (%s)", x->ndim,
                        em_tensor_shape_str(x, b, sizeof b));
    if (x->dtype != EM_FLOAT32 && x->dtype != EM_FLOAT64)
        return em_error("grid_sample: expected a float32 or float64 input, got %s", em_dtype_name(x->dtype));
    if (grid->dtype != x->dtype)
        return em_error("grid_sample: expected grid of the input's dtype %s, got %s", em_dtype_name(x->dtype),
                        em_dtype_name(grid->dtype));
    if (em_tensor_device(x).type != em_tensor_device(grid).type ||
        em_tensor_device(x).index != em_tensor_device(grid).index)
        return em_error("grid_sample: input and grid must be on the same device");
    for (int d = 2; d < x->ndim; d++)
        if (x->sizes[d] == 0)
            return em_error("grid_sample: expected input to have non-empty spatial dimensions, got input (%s)",
                            em_tensor_shape_str(x, b, sizeof b));
    memset(g, 0, sizeof *g);
    g->dtype = x->dtype;
    g->nsp = nsp;
    g->n = x->sizes[0];
    g->c = x->sizes[1];
    g->p = *p;
    for (int d = 0; d < 3; d++)
        g->in[d] = g->out[d] = 1;
    for (int d = 0; d < nsp; d++) {
        g->in[3 - nsp + d] = x->sizes[2 + d];
        g->out[3 - nsp + d] = grid->sizes[1 + d];
    }
    return 0;
}

static em_grid_sample_kernel kernel(const em_tensor *x)
{
    return (em_grid_sample_kernel)em_kernel_get(EM_K_GRID_SAMPLE, em_tensor_device(x), "grid_sample");
}

em_tensor *em_grid_sample(em_tensor *input, em_tensor *grid, const em_grid_params *p)
{
    em_grid_geom g;
    if (geometry(input, grid, p, &g) < 0)
        return NULL;
    em_grid_sample_kernel k = kernel(input);
    if (!k)
        return NULL;
    int64_t sizes[5] = { g.n, g.c };
    for (int d = 0; d < g.nsp; d++)
        sizes[2 + d] = grid->sizes[1 + d];
    em_tensor *out = em_tensor_empty(input->ndim, sizes, input->dtype, em_tensor_device(input));
    em_tensor *x = out ? em_contiguous(input) : NULL, *gr = x ? em_contiguous(grid) : NULL;
    int rc = gr ? k(&g, em_tensor_data(x), em_tensor_data(gr), NULL, em_tensor_data(out), NULL) : -1;
    em_tensor_release(x);
    em_tensor_release(gr);
    if (rc < 0) {
        em_tensor_release(out);
        return NULL;
    }
    return out;
}

int em_grid_sample_backward(em_tensor *grad_out, em_tensor *input, em_tensor *grid, const em_grid_params *p,
                            em_tensor **grad_input, em_tensor **grad_grid)
{
    em_grid_geom g;
    char b[EM_SHAPE_BUF];
    if (geometry(input, grid, p, &g) < 0)
        return -1;
    if (grad_out->dtype != input->dtype || grad_out->ndim != input->ndim || grad_out->sizes[0] != g.n ||
        grad_out->sizes[1] != g.c)
        return em_error("grid_sample: unexpected gradient %s", em_tensor_shape_str(grad_out, b, sizeof b));
    for (int d = 0; d < g.nsp; d++)
        if (grad_out->sizes[2 + d] != grid->sizes[1 + d])
            return em_error("grid_sample: unexpected gradient %s", em_tensor_shape_str(grad_out, b, sizeof b));
    em_grid_sample_kernel k = kernel(input);
    if (!k)
        return -1;
    em_device dev = em_tensor_device(input);
    em_tensor *gi = NULL, *gg = NULL, *x = NULL, *gr = NULL, *go = NULL;
    int rc = -1;
    if (grad_input && !(gi = em_tensor_empty(input->ndim, input->sizes, input->dtype, dev)))
        goto done;
    if (grad_grid && !(gg = em_tensor_empty(grid->ndim, grid->sizes, grid->dtype, dev)))
        goto done;
    if (!(x = em_contiguous(input)) || !(gr = em_contiguous(grid)) || !(go = em_contiguous(grad_out)))
        goto done;
    rc = k(&g, em_tensor_data(x), em_tensor_data(gr), em_tensor_data(go), gi ? em_tensor_data(gi) : NULL,
           gg ? em_tensor_data(gg) : NULL);
done:
    em_tensor_release(x);
    em_tensor_release(gr);
    em_tensor_release(go);
    if (rc < 0) {
        em_tensor_release(gi);
        em_tensor_release(gg);
        return -1;
    }
    if (grad_input)
        *grad_input = gi;
    if (grad_grid)
        *grad_grid = gg;
    return 0;
}
