/* Shared by the reduction family's files (fn_reduce.c, fn_sort.c, fn_scan.c):
 * a scope that owns the temporaries of a gradient formula, NULL-propagating
 * differentiable arithmetic (a formula is written as a chain and checked once at
 * the end: the first failing op sets the error, the later ones pass NULL on),
 * plain masks (no gradient flows through a comparison), and NULL-propagating
 * forms of the differentiable index ops the formulas route gradients with
 * (gather with 1-based positions, its adjoint scatter-add into zeros, flip). */
#ifndef EM_AG_FN_REDUCE_INTERNAL_H
#define EM_AG_FN_REDUCE_INTERNAL_H

#include "autograd.h"

/* ---- temporaries ---- */
#define EM_AGR_SCOPE_MAX 48
typedef struct agr_scope {
    em_tensor *t[EM_AGR_SCOPE_MAX];
    int n;
} agr_scope;

/* Takes ownership of t (NULL passes through). */
em_tensor *agr_keep(agr_scope *s, em_tensor *t);
void agr_free(agr_scope *s);
/* Retains r, frees the scope, returns r (NULL stays NULL). */
em_tensor *agr_return(agr_scope *s, em_tensor *r);

/* ---- differentiable arithmetic (em_ag_ ops; NULL in, NULL out) ---- */
em_tensor *agr_add(em_tensor *a, em_tensor *b);
em_tensor *agr_sub(em_tensor *a, em_tensor *b);
em_tensor *agr_mul(em_tensor *a, em_tensor *b);
em_tensor *agr_div(em_tensor *a, em_tensor *b);
em_tensor *agr_mul_s(em_tensor *a, double s);
em_tensor *agr_pow_s(em_tensor *a, double e);
em_tensor *agr_exp(em_tensor *a);
/* Sum over dims (NULL: all) keeping them as size 1. */
em_tensor *agr_sum_keep(em_tensor *a, const bool *dims);
em_tensor *agr_to(em_tensor *a, em_dtype dt);
/* t (a reduction's result or gradient) with the reduced dims put back as size 1. */
em_tensor *agr_unsqueeze_dims(em_tensor *t, int ndim, const int64_t *sizes, const bool *dims, bool keepdim);

/* ---- plain (non-differentiable) values ---- */
em_tensor *agr_eq(em_tensor *a, em_tensor *b);  /* bool */
em_tensor *agr_eq_s(em_tensor *a, double v);    /* bool */
em_tensor *agr_float(em_tensor *mask, em_dtype dt); /* 0/1 in dt */
em_tensor *agr_one_minus(em_tensor *t);
/* a == b, or both NaN: the positions that reached an extremum (NaN wins). */
em_tensor *agr_hit_mask(em_tensor *x, em_tensor *value);
em_tensor *agr_sign(em_tensor *a);
em_tensor *agr_count(em_tensor *mask, const bool *dims); /* sum keeping dims, plain */
/* 1 when any element is zero; -1 on error. */
int agr_has_zero(em_tensor *x);
/* arange(0, n) (int64) shaped [1,..,n,..,1] at dim of an ndim tensor. */
em_tensor *agr_positions(int64_t n, int ndim, int dim, em_device dev);

/* ---- differentiable index ops (positions 1-based, as the core's) ---- */
/* out = src gathered along dim at index (index may be an expanded view). */
em_tensor *agr_gather(em_tensor *src, int dim, em_tensor *index);
/* zeros(sizes) with src added at index along dim (index has src's shape). */
em_tensor *agr_scatter_add(em_tensor *src, int dim, em_tensor *index, int ndim, const int64_t *sizes);
em_tensor *agr_flip(em_tensor *x, int dim);

/* ---- recording ---- */
/* For a one-input op r = op(x) with a floating result: a node with a copy of
 * ctx, the input in saved slot 0 and the result in slot 1 when asked. */
em_tensor *agr_record(const char *name, em_backward_fn fn, em_tensor *x, const void *ctx, size_t size, bool save_x,
                      bool save_r, em_tensor *r);
/* True (error set) when out= is given while x wants grad, as PyTorch refuses. */
bool agr_refuse_out(const char *op, em_tensor *x, em_tensor *out);

#endif
