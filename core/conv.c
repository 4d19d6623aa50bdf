/* Convolution front: parameter and shape checks, the geometry the kernels run on,
 * contiguous operands, result allocation and dispatch. A transposed convolution
 * x -> y with weight (Cx, Cy/groups, k...) is run as the input-backward of the
 * convolution y -> x with the same weight, so both share one geometry: "in" is the
 * image side (conv's input, a transposed conv's output). */
#include "conv.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "reduce.h"

static const char *shape(char *buf, const em_tensor *t)
{
    return em_shape_str(buf, EM_SHAPE_BUF, t->ndim, t->sizes);
}

/* "(N, 3, H, W)" for nd spatial dims and c channels. */
static const char *expected_input(char *buf, int nd, int64_t c)
{
    static const char *const names[3][3] = { { "L" }, { "H", "W" }, { "D", "H", "W" } };
    int n = snprintf(buf, EM_SHAPE_BUF, "(N, %lld", (long long)c);
    for (int i = 0; i < nd; i++)
        n += snprintf(buf + n, (size_t)(EM_SHAPE_BUF - n), ", %s", names[nd - 1][i]);
    snprintf(buf + n, (size_t)(EM_SHAPE_BUF - n), ")");
    return buf;
}

static int check_params(const char *op, const em_conv_params *p)
{
    if (p->nd < 1 || p->nd > EM_CONV_MAX_SPATIAL)
        return em_error("%s: %d spatial dims are not supported (1, 2 or 3)", op, p->nd);
    for (int i = 0; i < p->nd; i++) {
        /* bounds that keep every size computation below from overflowing */
        const int64_t big = INT32_MAX;
        if (p->stride[i] > big || p->dilation[i] > big || p->pad_lo[i] > big || p->pad_hi[i] > big ||
            p->output_padding[i] > big)
            return em_error("%s: stride, padding, dilation and output_padding must be below 2^31", op);
        if (p->stride[i] <= 0)
            return em_error("%s: stride must be positive, got %lld", op, (long long)p->stride[i]);
        if (p->dilation[i] <= 0)
            return em_error("%s: dilation must be positive, got %lld", op, (long long)p->dilation[i]);
        if (p->pad_lo[i] < 0 || p->pad_hi[i] < 0)
            return em_error("%s: negative padding is not supported, got %lld", op,
                            (long long)(p->pad_lo[i] < 0 ? p->pad_lo[i] : p->pad_hi[i]));
        if (p->transposed) {
            if (p->output_padding[i] < 0)
                return em_error("%s: output_padding must be non-negative, got %lld", op,
                                (long long)p->output_padding[i]);
            if (p->output_padding[i] >= p->stride[i] && p->output_padding[i] >= p->dilation[i])
                return em_error("%s: output padding must be smaller than either stride or dilation, got "
                                "output_padding %lld, stride %lld, dilation %lld",
                                op, (long long)p->output_padding[i], (long long)p->stride[i],
                                (long long)p->dilation[i]);
        }
    }
    if (p->groups <= 0 || p->groups > INT32_MAX)
        return em_error("%s: groups must be positive (and fit in 32 bits), got %lld", op, (long long)p->groups);
    return 0;
}

int em_conv_geometry(const char *op, const em_tensor *input, const em_tensor *weight, const em_tensor *bias,
                     const em_conv_params *p, em_conv_geom *g)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF], b3[EM_SHAPE_BUF];
    if (check_params(op, p) < 0)
        return -1;
    int nd = p->nd;
    if (!em_dtype_is_float(input->dtype) || (input->dtype != EM_FLOAT32 && input->dtype != EM_FLOAT64))
        return em_error("%s: expected a float32 or float64 input, got %s", op, em_dtype_name(input->dtype));
    if (weight->dtype != input->dtype)
        return em_error("%s: input (%s) and weight (%s) must have the same dtype", op, em_dtype_name(input->dtype),
                        em_dtype_name(weight->dtype));
    if (bias && bias->dtype != input->dtype)
        return em_error("%s: input (%s) and bias (%s) must have the same dtype", op, em_dtype_name(input->dtype),
                        em_dtype_name(bias->dtype));
    if (!em_device_eq(em_tensor_device(input), em_tensor_device(weight)) ||
        (bias && !em_device_eq(em_tensor_device(input), em_tensor_device(bias))))
        return em_error("%s: input, weight and bias must be on the same device", op);
    if (weight->ndim != nd + 2)
        return em_error("%s: expected a %d-d weight (out_channels, in_channels/groups, %s), got %s", op, nd + 2,
                        nd == 1 ? "kL" : nd == 2 ? "kH, kW" : "kD, kH, kW", shape(b1, weight));
    if (input->ndim != nd + 2)
        return em_error("%s: expected a %d-d input (batch, channels, spatial...), got %s", op, nd + 2,
                        shape(b1, input));
    for (int i = 0; i < nd; i++)
        if (weight->sizes[2 + i] <= 0)
            return em_error("%s: kernel sizes must be positive, got weight %s", op, shape(b1, weight));
    int64_t G = p->groups;
    memset(g, 0, sizeof *g);
    g->dtype = input->dtype;
    g->n = input->sizes[0];
    g->groups = G;
    int off = 3 - nd;
    for (int i = 0; i < 3; i++)
        g->in[i] = g->out[i] = g->k[i] = g->stride[i] = g->dil[i] = 1, g->pad[i] = 0;
    if (!p->transposed) {
        int64_t cin = weight->sizes[1] * G;
        if (input->sizes[1] != cin)
            return em_error("%s: expected input of shape %s to match weight %s, got %s", op,
                            expected_input(b1, nd, cin), shape(b2, weight), shape(b3, input));
        if (weight->sizes[0] % G != 0)
            return em_error("%s: out_channels (%lld, weight %s) must be divisible by groups (%lld)", op,
                            (long long)weight->sizes[0], shape(b1, weight), (long long)G);
        g->c_in = cin, g->c_out = weight->sizes[0];
    } else {
        if (input->sizes[1] != weight->sizes[0])
            return em_error("%s: expected input of shape %s to match weight %s, got %s", op,
                            expected_input(b1, nd, weight->sizes[0]), shape(b2, weight), shape(b3, input));
        if (weight->sizes[0] % G != 0)
            return em_error("%s: in_channels (%lld, weight %s) must be divisible by groups (%lld)", op,
                            (long long)weight->sizes[0], shape(b1, weight), (long long)G);
        g->c_out = weight->sizes[0], g->c_in = weight->sizes[1] * G;
    }
    int64_t cbias = p->transposed ? g->c_in : g->c_out;
    if (bias && (bias->ndim != 1 || bias->sizes[0] != cbias))
        return em_error("%s: expected bias of shape (%lld), got %s", op, (long long)cbias, shape(b1, bias));
    for (int i = 0; i < nd; i++) {
        int j = off + i;
        int64_t k = weight->sizes[2 + i], s = p->stride[i], d = p->dilation[i];
        int64_t span = d * (k - 1) + 1;
        g->k[j] = k, g->stride[j] = s, g->dil[j] = d, g->pad[j] = p->pad_lo[i];
        if (!p->transposed) {
            int64_t padded = input->sizes[2 + i] + p->pad_lo[i] + p->pad_hi[i];
            if (padded < span)
                return em_error("%s: padded input size %lld in spatial dim %d is smaller than the dilated kernel "
                                "size %lld (input %s, weight %s)",
                                op, (long long)padded, i + 1, (long long)span, shape(b1, input), shape(b2, weight));
            g->in[j] = input->sizes[2 + i];
            g->out[j] = (padded - span) / s + 1;
        } else {
            int64_t y = (input->sizes[2 + i] - 1) * s - p->pad_lo[i] - p->pad_hi[i] + span + p->output_padding[i];
            if (y <= 0)
                return em_error("%s: output size %lld in spatial dim %d is too small (input %s, weight %s)", op,
                                (long long)y, i + 1, shape(b1, input), shape(b2, weight));
            g->in[j] = y;
            g->out[j] = input->sizes[2 + i];
        }
    }
    return 0;
}

/* Sizes of the image side (n, c_in, in...) and the result side (n, c_out, out...). */
static void side_sizes(const em_conv_geom *g, int nd, bool image, int64_t *sizes)
{
    sizes[0] = g->n;
    sizes[1] = image ? g->c_in : g->c_out;
    for (int i = 0; i < nd; i++)
        sizes[2 + i] = image ? g->in[3 - nd + i] : g->out[3 - nd + i];
}

static em_tensor *contig(em_tensor *t)
{
    return em_contiguous(t);
}

/* t += bias over channel dim 1 (t contiguous (n, c, spatial...)). */
static em_tensor *add_channel_bias(const char *op, em_tensor *t, em_tensor *bias)
{
    em_tensor *b = contig(bias);
    if (!b)
        return NULL;
    int64_t n = t->sizes[0], c = t->sizes[1], inner = em_tensor_numel(t) / (n * c > 0 ? n * c : 1);
    if (em_tensor_device(t).type != EM_DEV_CPU) {
        em_tensor_release(b);
        em_error("%s: transposed convolution bias is only supported on the CPU", op);
        return NULL;
    }
#define ADD_BIAS(T)                                                                                               \
    do {                                                                                                          \
        T *y = em_tensor_data(t);                                                                                 \
        const T *bb = em_tensor_data(b);                                                                          \
        for (int64_t i = 0; i < n * c; i++) {                                                                     \
            T v = bb[i % c];                                                                                      \
            for (int64_t j = 0; j < inner; j++)                                                                   \
                y[i * inner + j] += v;                                                                            \
        }                                                                                                         \
    } while (0)
    if (t->dtype == EM_FLOAT32)
        ADD_BIAS(float);
    else
        ADD_BIAS(double);
#undef ADD_BIAS
    em_tensor_release(b);
    return t;
}

em_tensor *em_conv(const char *op, em_tensor *input, em_tensor *weight, em_tensor *bias, const em_conv_params *p)
{
    em_conv_geom g;
    if (em_conv_geometry(op, input, weight, bias, p, &g) < 0)
        return NULL;
    em_device dev = em_tensor_device(input);
    int64_t sizes[EM_MAX_DIMS];
    side_sizes(&g, p->nd, p->transposed, sizes);
    em_tensor *x = contig(input), *w = x ? contig(weight) : NULL, *b = NULL, *out = NULL;
    if (!w)
        goto done;
    if (bias && !p->transposed && !(b = contig(bias)))
        goto done;
    if (!(out = em_tensor_empty(p->nd + 2, sizes, input->dtype, dev)))
        goto done;
    int rc;
    if (!p->transposed) {
        em_conv_fwd_kernel k = (em_conv_fwd_kernel)em_kernel_get(EM_K_CONV_FWD, dev, op);
        rc = k ? k(&g, em_tensor_data(x), em_tensor_data(w), b ? em_tensor_data(b) : NULL, em_tensor_data(out)) : -1;
    } else {
        em_conv_bwd_input_kernel k = (em_conv_bwd_input_kernel)em_kernel_get(EM_K_CONV_BWD_INPUT, dev, op);
        rc = k ? k(&g, em_tensor_data(x), em_tensor_data(w), em_tensor_data(out)) : -1;
        if (rc == 0 && bias && !add_channel_bias(op, out, bias))
            rc = -1;
    }
    if (rc < 0) {
        em_tensor_release(out);
        out = NULL;
    }
done:
    em_tensor_release(x);
    em_tensor_release(w);
    em_tensor_release(b);
    return out;
}

/* The sum of t over every dim but 1: (c). */
static em_tensor *channel_sum(em_tensor *t)
{
    bool dims[EM_MAX_DIMS] = { 0 };
    for (int i = 0; i < t->ndim; i++)
        dims[i] = i != 1;
    return em_sum(t, dims, false, -1, NULL);
}

int em_conv_backward(const char *op, em_tensor *grad_out, em_tensor *input, em_tensor *weight,
                     const em_conv_params *p, em_tensor **grad_input, em_tensor **grad_weight, em_tensor **grad_bias)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    em_conv_geom g;
    if (em_conv_geometry(op, input, weight, NULL, p, &g) < 0)
        return -1;
    int64_t osizes[EM_MAX_DIMS], isizes[EM_MAX_DIMS];
    side_sizes(&g, p->nd, p->transposed, osizes); /* the forward's result */
    if (grad_out->ndim != p->nd + 2 || memcmp(grad_out->sizes, osizes, sizeof(int64_t) * (size_t)(p->nd + 2)) != 0)
        return em_error("%s: gradient of shape %s does not match the output %s", op, shape(b1, grad_out),
                        em_shape_str(b2, EM_SHAPE_BUF, p->nd + 2, osizes));
    if (grad_out->dtype != input->dtype)
        return em_error("%s: gradient dtype %s differs from the input's %s", op, em_dtype_name(grad_out->dtype),
                        em_dtype_name(input->dtype));
    em_device dev = em_tensor_device(input);
    em_tensor *go = contig(grad_out), *x = NULL, *w = NULL, *gi = NULL, *gw = NULL, *gb = NULL;
    int rc = -1;
    if (!go || !(x = contig(input)) || !(w = contig(weight)))
        goto done;
    /* kernel view: "gout" is the result side, "img" the image side */
    const void *res = p->transposed ? em_tensor_data(x) : em_tensor_data(go);
    const void *img = p->transposed ? em_tensor_data(go) : em_tensor_data(x);
    if (grad_input) {
        memcpy(isizes, input->sizes, sizeof isizes);
        if (!(gi = em_tensor_empty(input->ndim, isizes, input->dtype, dev)))
            goto done;
        if (!p->transposed) {
            em_conv_bwd_input_kernel k = (em_conv_bwd_input_kernel)em_kernel_get(EM_K_CONV_BWD_INPUT, dev, op);
            if (!k || k(&g, res, em_tensor_data(w), em_tensor_data(gi)) < 0)
                goto done;
        } else {
            em_conv_fwd_kernel k = (em_conv_fwd_kernel)em_kernel_get(EM_K_CONV_FWD, dev, op);
            if (!k || k(&g, img, em_tensor_data(w), NULL, em_tensor_data(gi)) < 0)
                goto done;
        }
    }
    bool fused_bias = grad_bias && !p->transposed;
    if (grad_weight || fused_bias) {
        if (!(gw = em_tensor_empty(weight->ndim, weight->sizes, weight->dtype, dev)))
            goto done;
        if (fused_bias && !(gb = em_tensor_empty(1, &g.c_out, weight->dtype, dev)))
            goto done;
        em_conv_bwd_weight_kernel k = (em_conv_bwd_weight_kernel)em_kernel_get(EM_K_CONV_BWD_WEIGHT, dev, op);
        if (!k || k(&g, res, img, em_tensor_data(gw), gb ? em_tensor_data(gb) : NULL) < 0)
            goto done;
    }
    if (grad_bias && p->transposed && !(gb = channel_sum(go)))
        goto done;
    rc = 0;
done:
    em_tensor_release(go);
    em_tensor_release(x);
    em_tensor_release(w);
    if (rc == 0) {
        if (grad_input)
            *grad_input = gi, gi = NULL;
        if (grad_weight)
            *grad_weight = gw, gw = NULL;
        if (grad_bias)
            *grad_bias = gb, gb = NULL;
    }
    em_tensor_release(gi);
    em_tensor_release(gw);
    em_tensor_release(gb);
    return rc;
}
