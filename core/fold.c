/* im2col / col2im fronts: argument checks with PyTorch's rules, the window
 * geometry, contiguous operands, allocation and dispatch (EM_K_FOLD). */
#include "fold.h"

#include <stdio.h>
#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"

static int check_params(const char *op, const em_fold_params *p)
{
    const int64_t lim = (int64_t)1 << 32;
    for (int d = 0; d < 2; d++) {
        if (p->kernel[d] <= 0 || p->kernel[d] > lim)
            return em_error("%s: kernel_size must be positive, got %lld", op, (long long)p->kernel[d]);
        if (p->dilation[d] <= 0 || p->dilation[d] > lim)
            return em_error("%s: dilation must be positive, got %lld", op, (long long)p->dilation[d]);
        if (p->stride[d] <= 0 || p->stride[d] > lim)
            return em_error("%s: stride must be positive, got %lld", op, (long long)p->stride[d]);
        if (p->padding[d] < 0 || p->padding[d] > lim)
            return em_error("%s: padding must be non-negative, got %lld", op, (long long)p->padding[d]);
    }
    return 0;
}

static int check_dtype(const char *op, const em_tensor *x)
{
    if (x->dtype != EM_FLOAT32 && x->dtype != EM_FLOAT64)
        return em_error("%s: expected a float32 or float64 input, got %s", op, em_dtype_name(x->dtype));
    return 0;
}

/* Number of blocks along one dim (may be < 1). */
static int64_t blocks(int64_t in, int64_t k, int64_t d, int64_t pad, int64_t s)
{
    int64_t num = in + 2 * pad - d * (k - 1) - 1;
    return (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
}

static void fill_geom(em_conv_geom *g, em_dtype dt, const int64_t *img, const int64_t *nb, const em_fold_params *p)
{
    memset(g, 0, sizeof *g);
    g->dtype = dt;
    g->n = g->c_in = g->c_out = g->groups = 1;
    g->in[0] = g->out[0] = g->k[0] = g->stride[0] = g->dil[0] = 1;
    for (int d = 0; d < 2; d++) {
        g->in[d + 1] = img[d];
        g->out[d + 1] = nb[d];
        g->k[d + 1] = p->kernel[d];
        g->stride[d + 1] = p->stride[d];
        g->pad[d + 1] = p->padding[d];
        g->dil[d + 1] = p->dilation[d];
    }
}

/* "(a, b)" into buf */
static const char *pair(char *buf, size_t n, const int64_t *v)
{
    snprintf(buf, n, "(%lld, %lld)", (long long)v[0], (long long)v[1]);
    return buf;
}

static em_tensor *run(const char *op, em_tensor *x, const em_conv_geom *g, int64_t planes, bool to_cols, int ndim,
                      const int64_t *sizes)
{
    em_fold_kernel k = (em_fold_kernel)em_kernel_get(EM_K_FOLD, em_tensor_device(x), op);
    if (!k)
        return NULL;
    em_tensor *out = em_tensor_empty(ndim, sizes, x->dtype, em_tensor_device(x));
    em_tensor *c = out ? em_contiguous(x) : NULL;
    int rc = c ? k(g, planes, to_cols, em_tensor_data(c), em_tensor_data(out)) : -1;
    em_tensor_release(c);
    if (rc < 0) {
        em_tensor_release(out);
        return NULL;
    }
    return out;
}

em_tensor *em_im2col(em_tensor *x, const em_fold_params *p)
{
    const char *op = "unfold";
    char b[EM_SHAPE_BUF], b1[48], b2[48], b3[48];
    if (x->ndim != 3 && x->ndim != 4)
        return em_error("%s: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got %d-D (%s)", op, x->ndim,
                        em_tensor_shape_str(x, b, sizeof b)),
               NULL;
    if (check_dtype(op, x) < 0 || check_params(op, p) < 0)
        return NULL;
    int b0 = x->ndim - 3;
    int64_t n = b0 ? x->sizes[0] : 1, c = x->sizes[b0], img[2] = { x->sizes[b0 + 1], x->sizes[b0 + 2] };
    if (c == 0 || img[0] == 0 || img[1] == 0)
        return em_error("%s: expected non-empty channel and spatial dims, got input (%s)", op,
                        em_tensor_shape_str(x, b, sizeof b)),
               NULL;
    int64_t nb[2];
    for (int d = 0; d < 2; d++)
        nb[d] = blocks(img[d], p->kernel[d], p->dilation[d], p->padding[d], p->stride[d]);
    if (nb[0] < 1 || nb[1] < 1)
        return em_error("%s: given input with spatial size %s, kernel_size=%s, dilation=%s, padding=%s, "
                        "calculated shape of the array of sliding blocks as (%lld, %lld), but its components "
                        "must be at least one",
                        op, pair(b, sizeof b, img), pair(b1, sizeof b1, p->kernel), pair(b2, sizeof b2, p->dilation),
                        pair(b3, sizeof b3, p->padding), (long long)nb[0], (long long)nb[1]),
               NULL;
    int64_t kk = p->kernel[0] * p->kernel[1], sizes[3] = { n, c * kk, nb[0] * nb[1] };
    if (em_check_sizes(op, 3, sizes) < 0)
        return NULL;
    em_conv_geom g;
    fill_geom(&g, x->dtype, img, nb, p);
    return run(op, x, &g, n * c, true, x->ndim - 1, sizes + (b0 ? 0 : 1));
}

em_tensor *em_col2im(em_tensor *x, const int64_t *osize, const em_fold_params *p)
{
    const char *op = "fold";
    char b[EM_SHAPE_BUF], b1[48], b2[48], b3[48], b4[48];
    if (x->ndim != 2 && x->ndim != 3)
        return em_error("%s: expected a 2-D (C*kh*kw, L) or 3-D (N, C*kh*kw, L) input, got %d-D (%s)", op,
                        x->ndim, em_tensor_shape_str(x, b, sizeof b)),
               NULL;
    if (check_dtype(op, x) < 0 || check_params(op, p) < 0)
        return NULL;
    for (int d = 0; d < 2; d++)
        if (osize[d] <= 0 || osize[d] > ((int64_t)1 << 32))
            return em_error("%s: output_size must be positive, got %lld", op, (long long)osize[d]), NULL;
    int b0 = x->ndim - 2;
    int64_t n = b0 ? x->sizes[0] : 1, ck = x->sizes[b0], l = x->sizes[b0 + 1];
    int64_t kk = p->kernel[0] * p->kernel[1];
    if (ck == 0 || ck % kk != 0)
        return em_error("%s: expected size of input's dimension %d to be divisible by the product of "
                        "kernel_size, but got input.size(%d)=%lld and kernel_size=%s",
                        op, b0 + 1, b0 + 1, (long long)ck, pair(b1, sizeof b1, p->kernel)),
               NULL;
    int64_t nb[2];
    for (int d = 0; d < 2; d++)
        nb[d] = blocks(osize[d], p->kernel[d], p->dilation[d], p->padding[d], p->stride[d]);
    if (nb[0] < 1 || nb[1] < 1 || nb[0] * nb[1] != l)
        return em_error("%s: given output_size=%s, kernel_size=%s, dilation=%s, padding=%s, stride=%s, expected "
                        "size of input's dimension %d to match the calculated number of sliding blocks %lld * "
                        "%lld = %lld, but got input.size(%d)=%lld",
                        op, pair(b, sizeof b, osize), pair(b1, sizeof b1, p->kernel),
                        pair(b2, sizeof b2, p->dilation), pair(b3, sizeof b3, p->padding),
                        pair(b4, sizeof b4, p->stride), b0 + 2, (long long)nb[0], (long long)nb[1],
                        (long long)(nb[0] * nb[1]), b0 + 2, (long long)l),
               NULL;
    int64_t c = ck / kk, sizes[4] = { n, c, osize[0], osize[1] };
    if (em_check_sizes(op, 4, sizes) < 0)
        return NULL;
    em_conv_geom g;
    fill_geom(&g, x->dtype, osize, nb, p);
    return run(op, x, &g, n * c, false, x->ndim + 1, sizes + (b0 ? 0 : 1));
}
