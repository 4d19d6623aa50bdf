/* rnn front: argument checks with messages naming the layer, the contiguous
 * operands and the buffers the kernel wants (allocated once per call through the
 * tensor allocator, which caches them), dispatch. */
#include "rnn.h"

#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"

static const char *mode_op(em_rnn_mode m)
{
    return m == EM_RNN_LSTM ? "lstm" : m == EM_RNN_GRU ? "gru" : "rnn";
}

int em_rnn_mode_parse(const char *name)
{
    static const char *names[] = { "RNN_TANH", "RNN_RELU", "LSTM", "GRU" };
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return em_error("rnn: mode must be 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU', got '%s'", name);
}

int em_rnn_gates(em_rnn_mode mode)
{
    return mode == EM_RNN_LSTM ? 4 : mode == EM_RNN_GRU ? 3 : 1;
}

/* Per row: RNN [h' | h], LSTM [h' | i f g o | c' | c], GRU [h' | r z n | W_hn h' + b_hn]. */
int64_t em_rnn_ws_width(em_rnn_mode mode, int64_t H)
{
    return (mode == EM_RNN_LSTM ? 7 : mode == EM_RNN_GRU ? 5 : 2) * H;
}

int64_t em_rnn_scratch_numel(const em_rnn_args *a)
{
    int64_t GH = em_rnn_gates(a->mode) * a->H;
    if (!a->backward) /* input projections (N, GH), recurrent ones (B, GH), h and c (B, H) */
        return a->N * GH + a->B * GH + 2 * a->B * a->H;
    /* gate gradients of the input side (N, GH) and (GRU) of the hidden side, dh, dc */
    return (a->mode == EM_RNN_GRU ? 2 : 1) * a->N * GH + 2 * a->B * a->H;
}

static bool same_shape(const em_tensor *t, int nd, int64_t s0, int64_t s1)
{
    return t->ndim == nd && t->sizes[0] == s0 && (nd == 1 || t->sizes[1] == s1);
}

/* Checks t against the expected shape and the input's dtype and device. */
static int check_operand(const char *op, const char *what, const em_tensor *t, int nd, int64_t s0, int64_t s1,
                         const em_tensor *x)
{
    char b1[EM_SHAPE_BUF];
    if (!same_shape(t, nd, s0, s1)) {
        if (nd == 1)
            return em_error("%s: expected %s of size (%lld), got %s", op, what, (long long)s0,
                            em_tensor_shape_str(t, b1, sizeof b1));
        return em_error("%s: expected %s of size (%lld, %lld), got %s", op, what, (long long)s0, (long long)s1,
                        em_tensor_shape_str(t, b1, sizeof b1));
    }
    if (t->dtype != x->dtype)
        return em_error("%s: %s has dtype %s but the input has %s", op, what, em_dtype_name(t->dtype),
                        em_dtype_name(x->dtype));
    if (!em_device_eq(em_tensor_device(t), em_tensor_device(x)))
        return em_error("%s: %s and the input must be on the same device", op, what);
    return 0;
}

/* batch_sizes: 1-d int64 on the CPU, T >= 1 entries in 1..B, non-increasing,
 * batch_sizes[0] == B, summing to N. */
static int check_batch_sizes(const char *op, const em_tensor *bs, int64_t B, int64_t N)
{
    char b1[EM_SHAPE_BUF];
    if (bs->ndim != 1 || bs->dtype != EM_INT64 || bs->sizes[0] < 1 || em_tensor_device(bs).type != EM_DEV_CPU)
        return em_error("%s: batch_sizes must be a non-empty 1-d int64 CPU tensor, got %s %s", op,
                        em_tensor_shape_str(bs, b1, sizeof b1), em_dtype_name(bs->dtype));
    const int64_t *p = em_tensor_data(bs);
    int64_t T = bs->sizes[0], st = bs->strides[0], sum = 0;
    if (p[0] != B)
        return em_error("%s: batch_sizes[1] is %lld but the initial state holds %lld sequences", op,
                        (long long)p[0], (long long)B);
    for (int64_t t = 0; t < T; t++) {
        int64_t v = p[t * st];
        if (v < 1 || (t > 0 && v > p[(t - 1) * st]))
            return em_error("%s: batch_sizes must be positive and non-increasing, got %lld at step %lld", op,
                            (long long)v, (long long)t + 1);
        sum += v;
    }
    if (sum != N)
        return em_error("%s: batch_sizes sum to %lld but the input has %lld rows", op, (long long)sum,
                        (long long)N);
    return 0;
}

static void release_all(em_tensor **ts, int n)
{
    for (int i = 0; i < n; i++) {
        em_tensor_release(ts[i]);
        ts[i] = NULL;
    }
}

int em_rnn(em_rnn_mode mode, bool reverse, em_tensor *x, em_tensor *batch_sizes, em_tensor *h0, em_tensor *c0,
           em_tensor *w_ih, em_tensor *w_hh, em_tensor *b_ih, em_tensor *b_hh, em_tensor **out, em_tensor **hn,
           em_tensor **cn, em_tensor **ws)
{
    const char *op = mode_op(mode);
    char b1[EM_SHAPE_BUF];
    em_device dev = em_tensor_device(x);
    em_rnn_kernel k = (em_rnn_kernel)em_kernel_get(EM_K_RNN, dev, op);
    if (!k)
        return -1;
    if (x->ndim != 2)
        return em_error("%s: expected a 2-d input (rows, input_size), got %s", op,
                        em_tensor_shape_str(x, b1, sizeof b1));
    if (x->dtype != EM_FLOAT32 && x->dtype != EM_FLOAT64)
        return em_error("%s: expected a float32 or float64 input, got %s", op, em_dtype_name(x->dtype));
    if (h0->ndim != 2)
        return em_error("%s: expected a 2-d initial state (batch, hidden_size), got %s", op,
                        em_tensor_shape_str(h0, b1, sizeof b1));
    if ((mode == EM_RNN_LSTM) != (c0 != NULL))
        return em_error("%s: %s", op, c0 ? "only LSTM takes a cell state" : "LSTM needs a cell state c0");
    if ((b_ih == NULL) != (b_hh == NULL))
        return em_error("%s: give both biases or neither", op);
    int64_t N = x->sizes[0], I = x->sizes[1], B = h0->sizes[0], H = h0->sizes[1], GH = em_rnn_gates(mode) * H;
    if (I < 1 || H < 1)
        return em_error("%s: input_size and hidden_size must be positive, got %lld and %lld", op, (long long)I,
                        (long long)H);
    if (check_operand(op, "h0", h0, 2, B, H, x) < 0 || (c0 && check_operand(op, "c0", c0, 2, B, H, x) < 0) ||
        check_operand(op, "weight_ih", w_ih, 2, GH, I, x) < 0 || check_operand(op, "weight_hh", w_hh, 2, GH, H, x) < 0 ||
        (b_ih && check_operand(op, "bias_ih", b_ih, 1, GH, 0, x) < 0) ||
        (b_hh && check_operand(op, "bias_hh", b_hh, 1, GH, 0, x) < 0) || check_batch_sizes(op, batch_sizes, B, N) < 0)
        return -1;
    em_tensor *c[8] = { NULL }; /* x, h0, c0, w_ih, w_hh, b_ih, b_hh, batch_sizes */
    em_tensor *src[8] = { x, h0, c0, w_ih, w_hh, b_ih, b_hh, batch_sizes };
    em_tensor *res[5] = { NULL }; /* out, hn, cn, ws, scratch */
    bool ok = true;
    for (int i = 0; i < 8 && ok; i++)
        ok = !src[i] || (c[i] = em_contiguous(src[i])) != NULL;
    em_rnn_args a = { .op = op, .reverse = reverse, .mode = mode, .T = batch_sizes->sizes[0], .B = B, .N = N,
                      .I = I, .H = H, .x = c[0], .h0 = c[1], .c0 = c[2], .w_ih = c[3], .w_hh = c[4], .b_ih = c[5],
                      .b_hh = c[6] };
    a.batch_sizes = ok ? em_tensor_data(c[7]) : NULL;
    int64_t osz[2] = { N, H }, hsz[2] = { B, H }, wsz[2] = { N, em_rnn_ws_width(mode, H) },
            ssz = em_rnn_scratch_numel(&a);
    ok = ok && (res[0] = em_tensor_empty(2, osz, x->dtype, dev)) && (res[1] = em_tensor_empty(2, hsz, x->dtype, dev)) &&
         (!c0 || (res[2] = em_tensor_empty(2, hsz, x->dtype, dev))) &&
         (!ws || (res[3] = em_tensor_empty(2, wsz, x->dtype, dev))) &&
         (res[4] = em_tensor_empty(1, &ssz, x->dtype, dev));
    if (ok) {
        a.out = res[0], a.hn = res[1], a.cn = res[2], a.ws = res[3], a.scratch = res[4];
        ok = k(&a) == 0;
    }
    release_all(c, 8);
    if (!ok) {
        release_all(res, 5);
        return -1;
    }
    em_tensor_release(res[4]);
    *out = res[0];
    *hn = res[1];
    if (cn)
        *cn = res[2];
    else
        em_tensor_release(res[2]);
    if (ws)
        *ws = res[3];
    return 0;
}

int em_rnn_backward(em_rnn_mode mode, bool reverse, em_tensor *x, em_tensor *batch_sizes, em_tensor *w_ih,
                    em_tensor *w_hh, bool has_bias, em_tensor *ws, em_tensor *g_out, em_tensor *g_hn,
                    em_tensor *g_cn, const bool want[7], em_rnn_grads *r)
{
    const char *op = mode_op(mode);
    em_device dev = em_tensor_device(x);
    em_rnn_kernel k = (em_rnn_kernel)em_kernel_get(EM_K_RNN, dev, op);
    if (!k)
        return -1;
    em_dtype dt = x->dtype;
    int64_t N = x->sizes[0], I = x->sizes[1], H = w_hh->sizes[1], GH = w_hh->sizes[0];
    const int64_t *bs = em_tensor_data(batch_sizes);
    int64_t B = bs[0];
    em_tensor *c[8] = { NULL }; /* x, w_ih, w_hh, ws, g_out, g_hn, g_cn, batch_sizes */
    em_tensor *src[8] = { x, w_ih, w_hh, ws, g_out, g_hn, g_cn, batch_sizes };
    em_tensor *res[8] = { NULL }; /* gx, gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh, scratch */
    bool ok = true;
    for (int i = 0; i < 8 && ok; i++)
        ok = !src[i] || (c[i] = em_contiguous(src[i])) != NULL;
    em_rnn_args a = { .op = op, .backward = true, .reverse = reverse, .mode = mode, .T = batch_sizes->sizes[0],
                      .B = B, .N = N, .I = I, .H = H, .x = c[0], .w_ih = c[1], .w_hh = c[2], .ws = c[3],
                      .g_out = c[4], .g_hn = c[5], .g_cn = c[6] };
    a.batch_sizes = ok ? em_tensor_data(c[7]) : NULL;
    int64_t sizes[7][2] = { { N, I }, { B, H }, { B, H }, { GH, I }, { GH, H }, { GH, 0 }, { GH, 0 } };
    for (int i = 0; i < 7 && ok; i++) {
        if (!want[i] || (i == 2 && mode != EM_RNN_LSTM) || (i >= 5 && !has_bias))
            continue;
        ok = (res[i] = em_tensor_empty(i >= 5 ? 1 : 2, sizes[i], dt, dev)) != NULL;
    }
    int64_t ssz = em_rnn_scratch_numel(&a);
    ok = ok && (res[7] = em_tensor_empty(1, &ssz, dt, dev)) != NULL;
    if (ok) {
        a.gx = res[0], a.gh0 = res[1], a.gc0 = res[2], a.gw_ih = res[3], a.gw_hh = res[4], a.gb_ih = res[5],
        a.gb_hh = res[6], a.scratch = res[7];
        ok = k(&a) == 0;
    }
    release_all(c, 8);
    em_tensor_release(res[7]);
    if (!ok) {
        release_all(res, 7);
        return -1;
    }
    r->gx = res[0], r->gh0 = res[1], r->gc0 = res[2], r->gw_ih = res[3], r->gw_hh = res[4], r->gb_ih = res[5],
    r->gb_hh = res[6];
    return 0;
}
