/* Helpers shared by the reduction family's gradient formulas (see
 * fn_reduce_internal.h). Gradients are routed with the index family's gather and
 * scatter-add (each the other's gradient, so formulas built from them stay
 * differentiable to any order) and the shape family's flip. */
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "../factory.h"
#include "fn_reduce_internal.h"
#include "functions.h"

/* ---- temporaries ---- */

em_tensor *agr_keep(agr_scope *s, em_tensor *t)
{
    if (!t)
        return NULL;
    if (s->n == EM_AGR_SCOPE_MAX) {
        em_tensor_release(t);
        return em_error("backward: internal error: too many temporaries in a gradient formula"), NULL;
    }
    s->t[s->n++] = t;
    return t;
}

void agr_free(agr_scope *s)
{
    for (int i = 0; i < s->n; i++)
        em_tensor_release(s->t[i]);
    s->n = 0;
}

em_tensor *agr_return(agr_scope *s, em_tensor *r)
{
    if (r)
        em_tensor_retain(r);
    agr_free(s);
    return r;
}

/* ---- differentiable arithmetic ---- */

static em_tensor *bin(em_binary_op op, em_tensor *a, em_tensor *b)
{
    if (!a || !b)
        return NULL;
    return em_ag_binary(op, em_arg_tensor(a), em_arg_tensor(b), NULL, NULL);
}

em_tensor *agr_add(em_tensor *a, em_tensor *b) { return bin(EM_BIN_ADD, a, b); }
em_tensor *agr_sub(em_tensor *a, em_tensor *b) { return bin(EM_BIN_SUB, a, b); }
em_tensor *agr_mul(em_tensor *a, em_tensor *b) { return bin(EM_BIN_MUL, a, b); }
em_tensor *agr_div(em_tensor *a, em_tensor *b) { return bin(EM_BIN_DIV, a, b); }

em_tensor *agr_mul_s(em_tensor *a, double s)
{
    if (!a)
        return NULL;
    return em_ag_binary(EM_BIN_MUL, em_arg_tensor(a), em_arg_scalar(em_scalar_double(s)), NULL, NULL);
}

em_tensor *agr_pow_s(em_tensor *a, double e)
{
    if (!a)
        return NULL;
    return em_ag_binary(EM_BIN_POW, em_arg_tensor(a), em_arg_scalar(em_scalar_double(e)), NULL, NULL);
}

em_tensor *agr_exp(em_tensor *a)
{
    return a ? em_ag_unary(EM_UN_EXP, a, NULL, NULL) : NULL;
}

em_tensor *agr_sum_keep(em_tensor *a, const bool *dims)
{
    if (!a)
        return NULL;
    return em_ag_sum(a, a->ndim > 0 ? dims : NULL, true, -1, NULL);
}

em_tensor *agr_to(em_tensor *a, em_dtype dt)
{
    return a ? em_ag_to_dtype(a, dt, false) : NULL;
}

em_tensor *agr_unsqueeze_dims(em_tensor *t, int ndim, const int64_t *sizes, const bool *dims, bool keepdim)
{
    if (!t)
        return NULL;
    if (keepdim || ndim == 0) {
        em_tensor_retain(t);
        return t;
    }
    int64_t k[EM_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        k[i] = !dims || dims[i] ? 1 : sizes[i];
    return em_ag_reshape(t, ndim, k);
}

/* ---- plain values ---- */

em_tensor *agr_eq(em_tensor *a, em_tensor *b)
{
    if (!a || !b)
        return NULL;
    return em_binary(EM_BIN_EQ, em_arg_tensor(a), em_arg_tensor(b), NULL, NULL);
}

em_tensor *agr_eq_s(em_tensor *a, double v)
{
    if (!a)
        return NULL;
    return em_binary(EM_BIN_EQ, em_arg_tensor(a), em_arg_scalar(em_scalar_double(v)), NULL, NULL);
}

em_tensor *agr_float(em_tensor *mask, em_dtype dt)
{
    return mask ? em_to_dtype(mask, dt, false) : NULL;
}

em_tensor *agr_one_minus(em_tensor *t)
{
    return t ? em_binary(EM_BIN_SUB, em_arg_scalar(em_scalar_int(1)), em_arg_tensor(t), NULL, NULL) : NULL;
}

em_tensor *agr_hit_mask(em_tensor *x, em_tensor *value)
{
    if (!x || !value)
        return NULL;
    em_tensor *eq = agr_eq(x, value);
    em_tensor *xn = eq ? em_unary(EM_UN_ISNAN, x, NULL, NULL) : NULL;
    em_tensor *vn = xn ? em_unary(EM_UN_ISNAN, value, NULL, NULL) : NULL;
    em_tensor *both = vn ? em_binary(EM_BIN_LOGICAL_AND, em_arg_tensor(xn), em_arg_tensor(vn), NULL, NULL) : NULL;
    em_tensor *r = both ? em_binary(EM_BIN_LOGICAL_OR, em_arg_tensor(eq), em_arg_tensor(both), NULL, NULL) : NULL;
    em_tensor_release(eq);
    em_tensor_release(xn);
    em_tensor_release(vn);
    em_tensor_release(both);
    return r;
}

em_tensor *agr_sign(em_tensor *a)
{
    return a ? em_unary(EM_UN_SIGN, a, NULL, NULL) : NULL;
}

em_tensor *agr_count(em_tensor *mask, const bool *dims)
{
    if (!mask)
        return NULL;
    return em_sum(mask, mask->ndim > 0 ? dims : NULL, true, -1, NULL);
}

int agr_has_zero(em_tensor *x)
{
    em_tensor *z = agr_eq_s(x, 0.0);
    em_tensor *any = z ? em_any(z, NULL, false, NULL) : NULL;
    em_tensor_release(z);
    if (!any)
        return -1;
    em_scalar s;
    int rc = em_item(any, &s);
    em_tensor_release(any);
    return rc < 0 ? -1 : s.i != 0;
}

em_tensor *agr_positions(int64_t n, int ndim, int dim, em_device dev)
{
    em_tensor *a = em_arange(em_scalar_int(0), em_scalar_int(n), em_scalar_int(1), EM_INT64, dev);
    if (!a || ndim == 0)
        return a;
    int64_t shape[EM_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        shape[i] = i == dim ? n : 1;
    em_tensor *r = em_reshape(a, ndim, shape);
    em_tensor_release(a);
    return r;
}

/* ---- differentiable index ops (the index and shape families') ---- */

em_tensor *agr_gather(em_tensor *src, int dim, em_tensor *index)
{
    return src && index ? em_ag_gather(src, dim, index) : NULL;
}

em_tensor *agr_scatter_add(em_tensor *src, int dim, em_tensor *index, int ndim, const int64_t *sizes)
{
    if (!src || !index)
        return NULL;
    em_tensor *z = em_full(ndim, sizes, em_scalar_int(0), src->dtype, em_tensor_device(src));
    em_tensor *r = z ? em_ag_scatter(z, dim, index, src, em_scalar_int(0), EM_SCATTER_ADD) : NULL;
    em_tensor_release(z);
    return r;
}

em_tensor *agr_flip(em_tensor *x, int dim)
{
    return x ? em_ag_flip(x, 1, &dim) : NULL;
}

em_tensor *agr_record(const char *name, em_backward_fn fn, em_tensor *x, const void *ctx, size_t size, bool save_x,
                      bool save_r, em_tensor *r)
{
    if (!r || !em_dtype_is_float(r->dtype))
        return r;
    em_node *n = em_node_new(name, fn, 1, 1, 2, size);
    if (!n || em_node_set_next(n, 0, x) < 0 || (save_x && em_node_save(n, 0, x) < 0) ||
        (save_r && em_node_save_output(n, 1, r, 0) < 0) || em_set_history(r, n, 0) < 0) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    memcpy(n->ctx, ctx, size);
    em_node_release(n);
    return r;
}

bool agr_refuse_out(const char *op, em_tensor *x, em_tensor *out)
{
    if (out && em_ag_wants(x)) {
        em_ag_refuse_out(op);
        return true;
    }
    return false;
}
