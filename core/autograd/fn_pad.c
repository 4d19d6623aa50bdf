/* Padding nodes: PadBackward sends the output's gradient through the crop
 * (constant) or the scatter-add (other modes); PadBackwardBackward (recorded
 * when the scatter-add runs under create_graph) sends its gradient through the
 * forward pad. Node names follow PyTorch's (ConstantPadNdBackward,
 * ReflectionPad2DBackward, ...). */
#include <string.h>

#include "functions.h"

typedef struct pad_ctx {
    em_pad_params p;
    int ndim; /* the forward input's shape */
    int64_t sizes[EM_MAX_DIMS];
} pad_ctx;

static int pad_bwd(em_node *n, em_tensor **go, em_tensor **gi)
{
    const pad_ctx *c = n->ctx;
    gi[0] = em_ag_pad_backward(go[0], &c->p, c->ndim, c->sizes);
    return gi[0] ? 0 : -1;
}

static int pad_bwd_bwd(em_node *n, em_tensor **go, em_tensor **gi)
{
    const pad_ctx *c = n->ctx;
    gi[0] = em_ag_pad(go[0], &c->p);
    return gi[0] ? 0 : -1;
}

static const char *node_name(const em_pad_params *p, bool backward)
{
    static const char *fwd[3][3] = {
        { "ReflectionPad1DBackward", "ReflectionPad2DBackward", "ReflectionPad3DBackward" },
        { "ReplicationPad1DBackward", "ReplicationPad2DBackward", "ReplicationPad3DBackward" },
        { "CircularPad1DBackward", "CircularPad2DBackward", "CircularPad3DBackward" },
    };
    static const char *bwd[3][3] = {
        { "ReflectionPad1DBackwardBackward", "ReflectionPad2DBackwardBackward", "ReflectionPad3DBackwardBackward" },
        { "ReplicationPad1DBackwardBackward", "ReplicationPad2DBackwardBackward",
          "ReplicationPad3DBackwardBackward" },
        { "CircularPad1DBackwardBackward", "CircularPad2DBackwardBackward", "CircularPad3DBackwardBackward" },
    };
    if (p->mode == EM_PAD_CONSTANT)
        return "ConstantPadNdBackward";
    return (backward ? bwd : fwd)[p->mode - EM_PAD_REFLECT][p->npad - 1];
}

/* Records r = op(x) with the shape in ctx being the forward input's. */
static em_tensor *record(em_tensor *x, em_tensor *r, const em_pad_params *p, bool backward, int ndim,
                         const int64_t *sizes)
{
    pad_ctx c;
    memset(&c, 0, sizeof c);
    c.p = *p;
    c.ndim = ndim;
    memcpy(c.sizes, sizes, (size_t)ndim * sizeof(int64_t));
    return em_ag_record1(node_name(p, backward), backward ? pad_bwd_bwd : pad_bwd, x, r, &c, sizeof c);
}

em_tensor *em_ag_pad(em_tensor *x, const em_pad_params *p)
{
    em_tensor *r = em_pad(x, p);
    if (!r || !em_ag_wants(x))
        return r;
    return record(x, r, p, false, x->ndim, x->sizes);
}

em_tensor *em_ag_pad_backward(em_tensor *g, const em_pad_params *p, int ndim, const int64_t *sizes)
{
    if (p->mode == EM_PAD_CONSTANT) {
        /* a crop, recorded as constant padding so that it differentiates again */
        em_pad_params q = em_pad_negated(p);
        return em_ag_pad(g, &q);
    }
    em_tensor *r = em_pad_backward(g, p, ndim, sizes);
    if (!r || !em_ag_wants(g))
        return r;
    return record(g, r, p, true, ndim, sizes);
}
