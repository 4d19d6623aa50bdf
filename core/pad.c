/* Padding fronts: mode names, the checks F.pad makes (same messages), output
 * shapes, allocation, dispatch (see core/pad.h). */
#include "pad.h"

#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"

static const char *const mode_names[] = { "constant", "reflect", "replicate", "circular" };

int em_pad_mode_parse(const char *fn, const char *s, em_pad_mode *mode)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, mode_names[i]) == 0) {
            *mode = (em_pad_mode)i;
            return 0;
        }
    return em_error("%s: mode must be one of constant, reflect, replicate, circular, got %.40s", fn, s);
}

em_pad_params em_pad_negated(const em_pad_params *p)
{
    em_pad_params q = *p;
    for (int i = 0; i < 2 * p->npad; i++)
        q.pad[i] = -p->pad[i];
    q.value = em_scalar_int(0);
    return q;
}

/* Checks p against an input of shape (ndim, sizes) and fills the output's sizes. */
static int check(const char *name, const em_pad_params *p, int ndim, const int64_t *sizes, int64_t *osizes)
{
    char b[EM_SHAPE_BUF];
    const int64_t lim = (int64_t)1 << 40; /* keeps n + l + r far from overflow */
    if ((int)p->mode < 0 || p->mode > EM_PAD_CIRCULAR)
        return em_error("%s: unknown mode %d", name, (int)p->mode);
    if (p->npad < 0 || p->npad > ndim)
        return em_error("%s: padding length %d is too large for a %dD input (at most 2 per dim)", name,
                        2 * p->npad, ndim);
    if (p->mode != EM_PAD_CONSTANT) {
        int k = p->npad;
        if (k < 1 || k > 3 || (ndim != k + 1 && ndim != k + 2))
            return em_error("%s: %s padding of %d dims expects a %dD or %dD input, got %dD (input size %s)", name,
                            mode_names[p->mode], k, k + 1, k + 2, ndim, em_shape_str(b, sizeof b, ndim, sizes));
        if (p->value.d != 0 || p->value.i != 0)
            return em_error("%s: padding mode \"%s\" does not take a value", name, mode_names[p->mode]);
    }
    memcpy(osizes, sizes, (size_t)ndim * sizeof(int64_t));
    for (int k = 0; k < p->npad; k++) {
        int d = ndim - 1 - k;
        int64_t l = p->pad[2 * k], r = p->pad[2 * k + 1], n = sizes[d];
        if (l > lim || l < -lim || r > lim || r < -lim)
            return em_error("%s: padding amounts (%lld, %lld) of dim %d are too large", name, (long long)l,
                            (long long)r, d + 1);
        switch (p->mode) {
        case EM_PAD_CONSTANT:
            if (n - (l < 0 ? -l : 0) - (r < 0 ? -r : 0) < 0)
                return em_error("%s: the negative padding crops dim %d (size %lld) below zero", name, d + 1,
                                (long long)n);
            break;
        case EM_PAD_REFLECT:
        case EM_PAD_REPLICATE:
        case EM_PAD_CIRCULAR:
            if (l < 0 || r < 0)
                return em_error("%s: %s padding amounts must be >= 0, got (%lld, %lld)", name, mode_names[p->mode],
                                (long long)l, (long long)r);
            if (l == 0 && r == 0)
                break;
            if (p->mode == EM_PAD_REFLECT && (l >= n || r >= n))
                return em_error("%s: reflect padding (%lld, %lld) must be less than the size of dim %d (%lld)", name,
                                (long long)l, (long long)r, d + 1, (long long)n);
            if (p->mode == EM_PAD_REPLICATE && n == 0)
                return em_error("%s: replicate padding needs a non-empty dim %d", name, d + 1);
            if (p->mode == EM_PAD_CIRCULAR && (l > n || r > n))
                return em_error("%s: circular padding (%lld, %lld) must be at most the size of dim %d (%lld)", name,
                                (long long)l, (long long)r, d + 1, (long long)n);
            break;
        }
        osizes[d] = n + l + r;
    }
    return em_check_sizes(name, ndim, osizes);
}

/* Runs the kernel from `in` into a new contiguous tensor of shape (ndim, sizes). */
static em_tensor *apply(const char *name, bool backward, em_tensor *in, int ndim, const int64_t *sizes,
                        const em_pad_params *p)
{
    em_pad_kernel k = (em_pad_kernel)em_kernel_get(EM_K_PAD, em_tensor_device(in), name);
    if (!k)
        return NULL;
    em_tensor *out = em_tensor_empty(ndim, sizes, in->dtype, em_tensor_device(in));
    if (!out || em_tensor_numel(out) == 0)
        return out;
    int rc = ndim == 0 ? em_copy_(out, in) : k(backward, out, in, p);
    if (rc < 0) {
        em_tensor_release(out);
        return NULL;
    }
    return out;
}

em_tensor *em_pad(em_tensor *x, const em_pad_params *p)
{
    int64_t osizes[EM_MAX_DIMS];
    if (check("pad", p, x->ndim, x->sizes, osizes) < 0)
        return NULL;
    return apply("pad", false, x, x->ndim, osizes, p);
}

em_tensor *em_pad_backward(em_tensor *g, const em_pad_params *p, int ndim, const int64_t *sizes)
{
    const char *name = "pad_backward";
    char b[EM_SHAPE_BUF], c[EM_SHAPE_BUF];
    int64_t osizes[EM_MAX_DIMS];
    if (ndim < 0 || ndim > EM_MAX_DIMS)
        return em_error("%s: expected 0 to %d input dims, got %d", name, EM_MAX_DIMS, ndim), NULL;
    if (check(name, p, ndim, sizes, osizes) < 0)
        return NULL;
    if (g->ndim != ndim || memcmp(g->sizes, osizes, (size_t)ndim * sizeof(int64_t)) != 0)
        return em_error("%s: gradient %s does not match the output size %s", name,
                        em_tensor_shape_str(g, b, sizeof b), em_shape_str(c, sizeof c, ndim, osizes)),
               NULL;
    if (p->mode == EM_PAD_CONSTANT) {
        em_pad_params q = em_pad_negated(p);
        return em_pad(g, &q);
    }
    if (!em_dtype_is_float(g->dtype))
        return em_error("%s: expected a floating point gradient, got %s", name, em_dtype_name(g->dtype)), NULL;
    /* float16 / bfloat16 accumulate in float32 */
    em_tensor *gc = em_dtype_is_reduced(g->dtype) ? em_to_dtype(g, EM_FLOAT32, true) : em_contiguous(g);
    em_tensor *r = gc ? apply(name, true, gc, ndim, sizes, p) : NULL;
    em_tensor_release(gc);
    if (r && r->dtype != g->dtype) {
        em_tensor *h = em_to_dtype(r, g->dtype, false);
        em_tensor_release(r);
        r = h;
    }
    return r;
}
