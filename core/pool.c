/* Pooling fronts: argument checks, output sizes (PyTorch's rules, ceil_mode
 * included), contiguous plane views for the kernels, allocation, dispatch. */
#include "pool.h"

#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "view.h"

static int check_input(const char *name, const em_tensor *x, int nsp)
{
    char b[EM_SHAPE_BUF];
    if (x->ndim != nsp + 1 && x->ndim != nsp + 2)
        return em_error("%s: expected a %dd or %dd input (C, %s) or (N, C, %s), got %s", name, nsp + 1, nsp + 2,
                        nsp == 1 ? "L" : "H, W", nsp == 1 ? "L" : "H, W", em_tensor_shape_str(x, b, sizeof b));
    if (!em_dtype_is_float(x->dtype) || em_dtype_is_reduced(x->dtype))
        return em_error("%s: expected a float32 or float64 input, got %s", name, em_dtype_name(x->dtype));
    for (int d = x->ndim == nsp + 2 ? 1 : 0; d < x->ndim; d++)
        if (x->sizes[d] == 0)
            return em_error("%s: expected non-empty channel and spatial dims, got input %s", name,
                            em_tensor_shape_str(x, b, sizeof b));
    return 0;
}

/* t as contiguous planes (P, H, W), H = 1 for one spatial dim. */
static em_tensor *planes(em_tensor *t, int nsp)
{
    em_tensor *c = em_contiguous(t);
    if (!c)
        return NULL;
    int64_t w = t->sizes[t->ndim - 1], h = nsp == 2 ? t->sizes[t->ndim - 2] : 1;
    int64_t n = em_tensor_numel(t), sz[3] = { h * w != 0 ? n / (h * w) : 0, h, w };
    em_tensor *v = em_view(c, 3, sz);
    em_tensor_release(c);
    return v;
}

static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t dil, bool ceil_mode)
{
    int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
    if (ceil_mode && o > 0 && (o - 1) * s >= in + pad)
        o--;
    return o;
}

int em_pool_out_size(const char *name, const em_tensor *x, int nsp, em_pool_params *p, bool max, int64_t *osz)
{
    if (check_input(name, x, nsp) < 0)
        return -1;
    const int64_t lim = (int64_t)1 << 40;
    for (int d = 2 - nsp; d < 2; d++) {
        int64_t in = x->sizes[x->ndim - 2 + d];
        if (p->kernel[d] <= 0 || p->kernel[d] > lim)
            return em_error("%s: kernel_size must be positive, got %lld", name, (long long)p->kernel[d]);
        if (p->stride[d] <= 0 || p->stride[d] > lim)
            return em_error("%s: stride must be positive, got %lld", name, (long long)p->stride[d]);
        if (p->dilation[d] <= 0 || p->dilation[d] > lim)
            return em_error("%s: dilation must be positive, got %lld", name, (long long)p->dilation[d]);
        if (p->padding[d] < 0 || p->padding[d] > p->kernel[d] / 2)
            return em_error("%s: padding must be between 0 and half the kernel size (%lld), got %lld", name,
                            (long long)(p->kernel[d] / 2), (long long)p->padding[d]);
        if (!max && p->dilation[d] != 1)
            return em_error("%s: dilation is not supported", name);
        int64_t o = out_dim(in, p->kernel[d], p->stride[d], p->padding[d], p->dilation[d], p->ceil_mode);
        if (o <= 0) {
            char b[EM_SHAPE_BUF];
            return em_error("%s: input %s is too small for kernel %lld (dilation %lld, padding %lld): output "
                            "size would be %lld",
                            name, em_tensor_shape_str(x, b, sizeof b), (long long)p->kernel[d],
                            (long long)p->dilation[d], (long long)p->padding[d], (long long)o);
        }
        osz[d] = o;
    }
    if (nsp == 1)
        osz[0] = 1;
    return 0;
}

em_tensor *em_pool_apply(const char *name, em_pool_op op, em_tensor *in, const em_tensor *idx, int ndim,
                         const int64_t *sizes, int nsp, const em_pool_params *p)
{
    em_pool_kernel k = (em_pool_kernel)em_kernel_get(EM_K_POOL, em_tensor_device(in), name);
    if (!k)
        return NULL;
    em_tensor *out = em_tensor_empty(ndim, sizes, in->dtype, em_tensor_device(in));
    em_tensor *po = out ? planes(out, nsp) : NULL;
    em_tensor *pi = po ? planes(in, nsp) : NULL;
    em_tensor *px = pi && idx ? planes((em_tensor *)idx, nsp) : NULL;
    int rc = pi && (px || !idx) ? k(op, po, px, pi, p) : -1;
    em_tensor_release(po);
    em_tensor_release(pi);
    em_tensor_release(px);
    if (rc < 0) {
        em_tensor_release(out);
        return NULL;
    }
    return out;
}

/* The output shape: x's leading dims, then osz's spatial dims. */
static void out_shape(const em_tensor *x, int nsp, const int64_t *osz, int64_t *sizes)
{
    memcpy(sizes, x->sizes, (size_t)x->ndim * sizeof(int64_t));
    sizes[x->ndim - 1] = osz[1];
    if (nsp == 2)
        sizes[x->ndim - 2] = osz[0];
}

/* Runs a forward kernel that writes values, and indices when idx is given (a pool
 * under no_grad without return_indices skips them: they are as big as the output). */
static int run_with_indices(const char *name, em_pool_op op, em_tensor *x, int nsp, const em_pool_params *p,
                            const int64_t *osz, em_tensor **out, em_tensor **idx)
{
    *out = NULL;
    if (idx)
        *idx = NULL;
    em_pool_kernel k = (em_pool_kernel)em_kernel_get(EM_K_POOL, em_tensor_device(x), name);
    if (!k)
        return -1;
    int64_t sizes[EM_MAX_DIMS];
    out_shape(x, nsp, osz, sizes);
    em_tensor *o = em_tensor_empty(x->ndim, sizes, x->dtype, em_tensor_device(x));
    em_tensor *ix = o && idx ? em_tensor_empty(x->ndim, sizes, EM_INT64, em_tensor_device(x)) : NULL;
    bool ok = o && (ix || !idx);
    em_tensor *po = ok ? planes(o, nsp) : NULL, *px = po && ix ? planes(ix, nsp) : NULL;
    em_tensor *pi = po && (px || !ix) ? planes(x, nsp) : NULL;
    int rc = pi ? k(op, po, px, pi, p) : -1;
    em_tensor_release(po);
    em_tensor_release(px);
    em_tensor_release(pi);
    if (rc < 0) {
        em_tensor_release(o);
        em_tensor_release(ix);
        return -1;
    }
    *out = o;
    if (idx)
        *idx = ix;
    return 0;
}

int em_max_pool(em_tensor *x, int nsp, const em_pool_params *p, em_tensor **out, em_tensor **idx)
{
    const char *name = nsp == 1 ? "max_pool1d" : "max_pool2d";
    em_pool_params q = *p;
    int64_t osz[2];
    if (em_pool_out_size(name, x, nsp, &q, true, osz) < 0) {
        *out = NULL;
        if (idx)
            *idx = NULL;
        return -1;
    }
    return run_with_indices(name, EM_POOL_MAX_FWD, x, nsp, &q, osz, out, idx);
}

em_tensor *em_avg_pool(em_tensor *x, int nsp, const em_pool_params *p)
{
    const char *name = nsp == 1 ? "avg_pool1d" : "avg_pool2d";
    em_pool_params q = *p;
    int64_t osz[2], sizes[EM_MAX_DIMS];
    if (em_pool_out_size(name, x, nsp, &q, false, osz) < 0)
        return NULL;
    if (q.divisor < 0)
        return em_error("%s: divisor_override must be positive, got %lld", name, (long long)q.divisor), NULL;
    out_shape(x, nsp, osz, sizes);
    return em_pool_apply(name, EM_POOL_AVG_FWD, x, NULL, x->ndim, sizes, nsp, &q);
}

static int adaptive_params(const char *name, const em_tensor *x, int nsp, const int64_t *osize, em_pool_params *q,
                           int64_t *osz)
{
    memset(q, 0, sizeof *q);
    if (check_input(name, x, nsp) < 0)
        return -1;
    osz[0] = 1;
    for (int d = 2 - nsp; d < 2; d++) {
        int64_t o = osize[d - (2 - nsp)];
        if (o < 0 || o > ((int64_t)1 << 32))
            return em_error("%s: output_size must be non-negative, got %lld", name, (long long)o);
        osz[d] = o;
    }
    return 0;
}

int em_adaptive_max_pool(em_tensor *x, int nsp, const int64_t *osize, em_tensor **out, em_tensor **idx)
{
    const char *name = nsp == 1 ? "adaptive_max_pool1d" : "adaptive_max_pool2d";
    em_pool_params q;
    int64_t osz[2];
    if (adaptive_params(name, x, nsp, osize, &q, osz) < 0) {
        *out = NULL;
        if (idx)
            *idx = NULL;
        return -1;
    }
    return run_with_indices(name, EM_POOL_ADAPTIVE_MAX_FWD, x, nsp, &q, osz, out, idx);
}

em_tensor *em_adaptive_avg_pool(em_tensor *x, int nsp, const int64_t *osize)
{
    const char *name = nsp == 1 ? "adaptive_avg_pool1d" : "adaptive_avg_pool2d";
    em_pool_params q;
    int64_t osz[2], sizes[EM_MAX_DIMS];
    if (adaptive_params(name, x, nsp, osize, &q, osz) < 0)
        return NULL;
    out_shape(x, nsp, osz, sizes);
    return em_pool_apply(name, EM_POOL_ADAPTIVE_AVG_FWD, x, NULL, x->ndim, sizes, nsp, &q);
}

em_tensor *em_max_unpool2d(em_tensor *x, const em_tensor *idx, int64_t oh, int64_t ow)
{
    const char *name = "max_unpool2d";
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    if (check_input(name, x, 2) < 0)
        return NULL;
    if (idx->dtype != EM_INT64)
        return em_error("%s: expected int64 indices, got %s", name, em_dtype_name(idx->dtype)), NULL;
    if (!em_same_shape(x, idx))
        return em_error("%s: indices %s must have the input's shape %s", name,
                        em_tensor_shape_str(idx, b1, sizeof b1), em_tensor_shape_str(x, b2, sizeof b2)),
               NULL;
    if (oh <= 0 || ow <= 0 || oh > ((int64_t)1 << 31) || ow > ((int64_t)1 << 31))
        return em_error("%s: output size must be positive, got %lldx%lld", name, (long long)oh, (long long)ow),
               NULL;
    /* every index must land in its output plane */
    em_tensor *ci = em_contiguous((em_tensor *)idx);
    if (!ci)
        return NULL;
    const int64_t *iv = em_tensor_data(ci), n = em_tensor_numel(ci), lim = oh * ow;
    for (int64_t i = 0; i < n; i++)
        if (iv[i] < 1 || iv[i] > lim) {
            int64_t bad = iv[i];
            em_tensor_release(ci);
            return em_error("%s: index %lld is out of range 1..%lld (output planes %lldx%lld)", name,
                            (long long)bad, (long long)lim, (long long)oh, (long long)ow),
                   NULL;
        }
    int64_t sizes[EM_MAX_DIMS], osz[2] = { oh, ow };
    out_shape(x, 2, osz, sizes);
    em_tensor *r = em_pool_apply(name, EM_POOL_SCATTER, x, ci, x->ndim, sizes, 2, NULL);
    em_tensor_release(ci);
    return r;
}
