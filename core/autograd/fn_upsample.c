/* Upsampling nodes: UpsampleBackward sends the output's gradient through the
 * backward kernel; UpsampleBackwardBackward (recorded when that runs under
 * create_graph) sends its gradient through the forward kernel. */
#include <string.h>

#include "functions.h"

typedef struct upsample_ctx {
    em_upsample_params p;
    int ndim; /* the forward input's shape */
    int64_t sizes[EM_MAX_DIMS];
} upsample_ctx;

static int upsample_bwd(em_node *n, em_tensor **go, em_tensor **gi)
{
    const upsample_ctx *c = n->ctx;
    gi[0] = em_ag_upsample_backward(go[0], &c->p, c->ndim, c->sizes);
    return gi[0] ? 0 : -1;
}

static int upsample_bwd_bwd(em_node *n, em_tensor **go, em_tensor **gi)
{
    const upsample_ctx *c = n->ctx;
    gi[0] = em_ag_upsample(go[0], &c->p);
    return gi[0] ? 0 : -1;
}

static const char *node_name(const em_upsample_params *p, bool backward)
{
    static const char *fwd[4][3] = {
        { "UpsampleNearest1DBackward", "UpsampleNearest2DBackward", "UpsampleNearest3DBackward" },
        { "UpsampleNearestExact1DBackward", "UpsampleNearestExact2DBackward", "UpsampleNearestExact3DBackward" },
        { "UpsampleLinear1DBackward", "UpsampleBilinear2DBackward", "UpsampleTrilinear3DBackward" },
        { "UpsampleBicubic1DBackward", "UpsampleBicubic2DBackward", "UpsampleBicubic3DBackward" },
    };
    static const char *bwd[4][3] = {
        { "UpsampleNearest1DBackwardBackward", "UpsampleNearest2DBackwardBackward",
          "UpsampleNearest3DBackwardBackward" },
        { "UpsampleNearestExact1DBackwardBackward", "UpsampleNearestExact2DBackwardBackward",
          "UpsampleNearestExact3DBackwardBackward" },
        { "UpsampleLinear1DBackwardBackward", "UpsampleBilinear2DBackwardBackward",
          "UpsampleTrilinear3DBackwardBackward" },
        { "UpsampleBicubic1DBackwardBackward", "UpsampleBicubic2DBackwardBackward",
          "UpsampleBicubic3DBackwardBackward" },
    };
    return (backward ? bwd : fwd)[p->mode][p->nsp - 1];
}

/* Records r = op(x) with the shape in ctx being the forward input's. */
static em_tensor *record(em_tensor *x, em_tensor *r, const em_upsample_params *p, bool backward, int ndim,
                         const int64_t *sizes)
{
    upsample_ctx c;
    memset(&c, 0, sizeof c);
    c.p = *p;
    c.ndim = ndim;
    memcpy(c.sizes, sizes, (size_t)ndim * sizeof(int64_t));
    return em_ag_record1(node_name(p, backward), backward ? upsample_bwd_bwd : upsample_bwd, x, r, &c, sizeof c);
}

em_tensor *em_ag_upsample(em_tensor *x, const em_upsample_params *p)
{
    em_tensor *r = em_upsample(x, p);
    if (!r || !em_ag_wants(x))
        return r;
    return record(x, r, p, false, x->ndim, x->sizes);
}

em_tensor *em_ag_upsample_backward(em_tensor *g, const em_upsample_params *p, int ndim, const int64_t *sizes)
{
    em_tensor *r = em_upsample_backward(g, p, ndim, sizes);
    if (!r || !em_ag_wants(g))
        return r;
    return record(g, r, p, true, ndim, sizes);
}
