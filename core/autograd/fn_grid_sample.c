/* GridSamplerBackward: both gradients in one pass of the backward kernel, each
 * computed only when its edge needs it. */
#include "../error.h"
#include "functions.h"

typedef struct grid_ctx {
    em_grid_params p;
} grid_ctx;

static int grid_backward(em_node *nd, em_tensor **go, em_tensor **gi)
{
    const grid_ctx *c = nd->ctx;
    if (em_grad_enabled())
        return em_error("grid_sample: double backward (create_graph=true) is not supported");
    em_tensor *x = em_node_saved(nd, 0), *grid = x ? em_node_saved(nd, 1) : NULL;
    int rc = -1;
    if (x && grid) {
        em_tensor **gx = em_node_needs(nd, 0) ? &gi[0] : NULL;
        em_tensor **gg = em_node_needs(nd, 1) ? &gi[1] : NULL;
        rc = gx || gg ? em_grid_sample_backward(go[0], x, grid, &c->p, gx, gg) : 0;
    }
    em_tensor_release(x);
    em_tensor_release(grid);
    return rc;
}

em_tensor *em_ag_grid_sample(em_tensor *input, em_tensor *grid, const em_grid_params *p)
{
    em_tensor *r = em_grid_sample(input, grid, p);
    if (!r || (!em_ag_wants(input) && !em_ag_wants(grid)))
        return r;
    em_node *nd = em_node_new(input->ndim == 4 ? "GridSampler2DBackward" : "GridSampler3DBackward", grid_backward,
                              2, 1, 2, sizeof(grid_ctx));
    if (!nd)
        goto fail;
    ((grid_ctx *)nd->ctx)->p = *p;
    if (em_node_set_next(nd, 0, input) < 0 || em_node_set_next(nd, 1, grid) < 0 || em_node_save(nd, 0, input) < 0 ||
        em_node_save(nd, 1, grid) < 0)
        goto fail;
    return em_ag_finish(nd, r);
fail:
    em_node_release(nd);
    em_tensor_release(r);
    return NULL;
}
