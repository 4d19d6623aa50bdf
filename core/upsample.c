/* Upsampling fronts: mode names, argument checks, contiguous (P, D, H, W) plane
 * views for the kernels, allocation, dispatch (see core/upsample.h). */
#include "upsample.h"

#include <math.h>
#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "view.h"

static const struct {
    const char *name;
    em_upsample_mode mode;
    int nsp;
} modes[] = {
    { "nearest", EM_UPSAMPLE_NEAREST, 0 }, { "nearest-exact", EM_UPSAMPLE_NEAREST_EXACT, 0 },
    { "linear", EM_UPSAMPLE_LINEAR, 1 },   { "bilinear", EM_UPSAMPLE_LINEAR, 2 },
    { "trilinear", EM_UPSAMPLE_LINEAR, 3 }, { "bicubic", EM_UPSAMPLE_CUBIC, 2 },
};

int em_upsample_mode_parse(const char *fn, const char *s, em_upsample_mode *mode, int *nsp)
{
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(s, modes[i].name) == 0) {
            *mode = modes[i].mode;
            *nsp = modes[i].nsp;
            return 0;
        }
    return em_error("%s: mode must be one of 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', "
                    "'trilinear', got '%.40s'",
                    fn, s);
}

static const char *spatial_names(int nsp)
{
    return nsp == 1 ? "L" : nsp == 2 ? "H, W" : "D, H, W";
}

/* The checks shared by forward and backward: params and the input's shape. */
static int check_params(const char *name, const em_upsample_params *p, int ndim, const int64_t *sizes,
                        em_dtype dt, const em_tensor *shown)
{
    char b[EM_SHAPE_BUF];
    if (p->nsp < 1 || p->nsp > 3)
        return em_error("%s: expected 1, 2 or 3 spatial dims, got %d", name, p->nsp);
    if (ndim != p->nsp + 2)
        return em_error("%s: expected a %dd input (N, C, %s), got %s", name, p->nsp + 2, spatial_names(p->nsp),
                        em_tensor_shape_str(shown, b, sizeof b));
    if (!em_dtype_is_float(dt) || em_dtype_is_reduced(dt))
        return em_error("%s: expected a float32 or float64 input, got %s", name, em_dtype_name(dt));
    if ((p->mode == EM_UPSAMPLE_NEAREST || p->mode == EM_UPSAMPLE_NEAREST_EXACT) && p->align_corners)
        return em_error("%s: align_corners can only be set with the interpolating modes", name);
    if ((int)p->mode < 0 || p->mode > EM_UPSAMPLE_CUBIC)
        return em_error("%s: unknown mode %d", name, (int)p->mode);
    const int64_t lim = (int64_t)1 << 31;
    int64_t planes = sizes[0] * sizes[1], total = planes;
    for (int d = 0; d < p->nsp; d++) {
        int64_t in = sizes[2 + d], out = p->osize[d];
        if (in <= 0 || out <= 0 || out > lim)
            return em_error("%s: input and output sizes must be greater than 0, got input %s and output size %lld "
                            "in spatial dim %d",
                            name, em_tensor_shape_str(shown, b, sizeof b), (long long)out, d + 1);
        if (!(p->scales[d] >= 0) || isinf(p->scales[d]))
            return em_error("%s: scale factors must be positive and finite, got %g", name, p->scales[d]);
        if (total > 0 && out > (((int64_t)1 << 62) / total))
            return em_error("%s: output of %s would be too large", name, em_tensor_shape_str(shown, b, sizeof b));
        total *= out;
    }
    return 0;
}

/* t (N, C, spatial...) as contiguous planes (P, D, H, W), absent dims of size 1. */
static em_tensor *planes(em_tensor *t, int nsp)
{
    em_tensor *c = em_contiguous(t);
    if (!c)
        return NULL;
    int64_t sz[4] = { t->sizes[0] * t->sizes[1], 1, 1, 1 };
    for (int d = 0; d < nsp; d++)
        sz[4 - nsp + d] = t->sizes[2 + d];
    em_tensor *v = em_view(c, 4, sz);
    em_tensor_release(c);
    return v;
}

/* Runs the kernel from `in` into a new tensor of shape (ndim, sizes). */
static em_tensor *apply(const char *name, bool backward, em_tensor *in, int ndim, const int64_t *sizes,
                        const em_upsample_params *p)
{
    em_upsample_kernel k = (em_upsample_kernel)em_kernel_get(EM_K_UPSAMPLE, em_tensor_device(in), name);
    if (!k)
        return NULL;
    em_tensor *out = em_tensor_empty(ndim, sizes, in->dtype, em_tensor_device(in));
    em_tensor *po = out ? planes(out, p->nsp) : NULL;
    em_tensor *pi = po ? planes(in, p->nsp) : NULL;
    int rc = pi ? k(backward, po, pi, p) : -1;
    em_tensor_release(po);
    em_tensor_release(pi);
    if (rc < 0) {
        em_tensor_release(out);
        return NULL;
    }
    return out;
}

em_tensor *em_upsample(em_tensor *x, const em_upsample_params *p)
{
    const char *name = "upsample";
    if (check_params(name, p, x->ndim, x->sizes, x->dtype, x) < 0)
        return NULL;
    int64_t sizes[5] = { x->sizes[0], x->sizes[1] };
    for (int d = 0; d < p->nsp; d++)
        sizes[2 + d] = p->osize[d];
    return apply(name, false, x, x->ndim, sizes, p);
}

em_tensor *em_upsample_backward(em_tensor *g, const em_upsample_params *p, int ndim, const int64_t *sizes)
{
    const char *name = "upsample_backward";
    char b[EM_SHAPE_BUF];
    if (ndim < 3 || ndim > 5)
        return em_error("%s: expected 3 to 5 input dims, got %d", name, ndim), NULL;
    if (check_params(name, p, ndim, sizes, g->dtype, g) < 0)
        return NULL;
    bool ok = g->ndim == ndim && g->sizes[0] == sizes[0] && g->sizes[1] == sizes[1];
    for (int d = 0; ok && d < p->nsp; d++)
        ok = g->sizes[2 + d] == p->osize[d];
    if (!ok)
        return em_error("%s: gradient %s does not match the output size", name, em_tensor_shape_str(g, b, sizeof b)),
               NULL;
    return apply(name, true, g, ndim, sizes, p);
}
