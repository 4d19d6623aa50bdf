/* Differentiable ops that select values: max/min/median/kthvalue/mode along a
 * dim, sort and topk. The values carry the gradient, the positions do not; the
 * gradient goes back to the selected positions (a scatter-add into zeros, whose
 * own gradient is a gather, so double backward works), as PyTorch's
 * value_selecting_reduction_backward and sort/topk formulas. */
#include <string.h>

#include "../error.h"
#include "fn_reduce_internal.h"
#include "functions.h"

#define K(e) agr_keep(&S, (e))

typedef struct sel_ctx {
    int dim, ndim;
    bool keepdim;               /* false: dim was removed from the values */
    int64_t sizes[EM_MAX_DIMS]; /* the input's */
} sel_ctx;

static int select_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const sel_ctx *c = n->ctx;
    if (c->ndim == 0) { /* a 0-d input selects itself */
        em_tensor_retain(go[0]);
        gi[0] = go[0];
        return 0;
    }
    agr_scope S = { 0 };
    bool dims[EM_MAX_DIMS] = { false };
    dims[c->dim] = true;
    em_tensor *idx = K(em_node_saved(n, 0));
    em_tensor *g = K(agr_unsqueeze_dims(go[0], c->ndim, c->sizes, dims, c->keepdim));
    em_tensor *ik = K(agr_unsqueeze_dims(idx, c->ndim, c->sizes, dims, c->keepdim));
    gi[0] = agr_return(&S, K(agr_scatter_add(g, c->dim, ik, c->ndim, c->sizes)));
    return gi[0] ? 0 : -1;
}

/* Gives *values (float) a node whose gradient goes to *indices' positions; on
 * failure both are released. rc is the plain op's status. */
static int record_select(const char *name, em_tensor *x, int dim, bool keepdim, int rc, em_tensor **values,
                         em_tensor **indices)
{
    if (rc < 0 || !values || !em_dtype_is_float((*values)->dtype))
        return rc;
    em_node *n = em_node_new(name, select_backward, 1, 1, 1, sizeof(sel_ctx));
    if (!n || em_node_set_next(n, 0, x) < 0 || em_node_save(n, 0, *indices) < 0 ||
        em_set_history(*values, n, 0) < 0) {
        em_node_release(n);
        em_tensor_release(*values);
        em_tensor_release(*indices);
        *values = *indices = NULL;
        return -1;
    }
    sel_ctx *c = n->ctx;
    c->dim = dim;
    c->ndim = x->ndim;
    c->keepdim = keepdim;
    memcpy(c->sizes, x->sizes, sizeof c->sizes);
    em_node_release(n);
    return 0;
}

int em_ag_max_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    if (!em_ag_wants(x))
        return em_max_dim(x, dim, keepdim, values, indices);
    return record_select("MaxBackward", x, dim, keepdim, em_max_dim(x, dim, keepdim, values, indices), values,
                         indices);
}

int em_ag_min_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    if (!em_ag_wants(x))
        return em_min_dim(x, dim, keepdim, values, indices);
    return record_select("MinBackward", x, dim, keepdim, em_min_dim(x, dim, keepdim, values, indices), values,
                         indices);
}

int em_ag_median_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    if (!em_ag_wants(x))
        return em_median_dim(x, dim, keepdim, values, indices);
    return record_select("MedianBackward", x, dim, keepdim, em_median_dim(x, dim, keepdim, values, indices),
                         values, indices);
}

int em_ag_mode(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    if (!em_ag_wants(x))
        return em_mode(x, dim, keepdim, values, indices);
    return record_select("ModeBackward", x, dim, keepdim, em_mode(x, dim, keepdim, values, indices), values,
                         indices);
}

int em_ag_kthvalue(em_tensor *x, int64_t k, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    if (!em_ag_wants(x))
        return em_kthvalue(x, k, dim, keepdim, values, indices);
    return record_select("KthvalueBackward", x, dim, keepdim, em_kthvalue(x, k, dim, keepdim, values, indices),
                         values, indices);
}

/* out= of these ops is refused when recording (as in PyTorch): -1 with the error. */
int em_ag_select_refuse_out(const char *op, em_tensor *x)
{
    if (em_ag_wants(x))
        return em_ag_refuse_out(op);
    return 0;
}

/* sort and topk keep every dim: the gradient is scattered back as it is. */
int em_ag_sort(em_tensor *x, int dim, bool descending, em_tensor **values, em_tensor **indices)
{
    if (!em_ag_wants(x))
        return em_sort(x, dim, descending, values, indices);
    return record_select("SortBackward", x, dim, true, em_sort(x, dim, descending, values, indices), values,
                         indices);
}

int em_ag_topk(em_tensor *x, int64_t k, int dim, bool largest, em_tensor **values, em_tensor **indices)
{
    if (!em_ag_wants(x))
        return em_topk(x, k, dim, largest, values, indices);
    return record_select("TopkBackward", x, dim, true, em_topk(x, k, dim, largest, values, indices), values,
                         indices);
}
