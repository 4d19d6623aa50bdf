/* rnn: one layer and one direction of an Elman RNN (tanh / relu), LSTM or GRU over
 * a whole sequence, with PyTorch's gate order and formulas:
 *   RNN   h = act(W_ih x + b_ih + W_hh h' + b_hh)
 *   LSTM  i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the 4H pre-activations;
 *         c = f c' + i g, h = o tanh(c)
 *   GRU   r, z = sigmoid(W_i{r,z} x + b_i{r,z} + W_h{r,z} h' + b_h{r,z});
 *         n = tanh(W_in x + b_in + r (W_hn h' + b_hn)); h = (1 - z) n + z h'
 * The input is packed time-major rows (N, I): step t owns batch_sizes[t] rows, the
 * first batch_sizes[t] sequences (sorted by length, longest first), as PyTorch packs
 * them; a padded (T, B, I) input is the case batch_sizes = {B, ..., B}. The input
 * projection of all steps is one GEMM, each step one GEMM (h' W_hh^T) and one fused
 * gate kernel; backward through time is the same loop reversed, and the weight
 * gradients are one GEMM each over all steps. */
#ifndef EM_RNN_H
#define EM_RNN_H

#include "tensor.h"

typedef enum em_rnn_mode { EM_RNN_TANH = 0, EM_RNN_RELU, EM_RNN_LSTM, EM_RNN_GRU } em_rnn_mode;

typedef struct em_rnn_args {
    const char *op;
    bool backward, reverse;
    em_rnn_mode mode;
    int64_t T, B, N, I, H;        /* steps, batch (batch_sizes[0]), rows, input and hidden size */
    const int64_t *batch_sizes;   /* (T), non-increasing, batch_sizes[0] == B, summing to N */
    const em_tensor *x;           /* (N, I) */
    const em_tensor *w_ih;        /* (G H, I), G = 1, 4, 3 gates for RNN, LSTM, GRU */
    const em_tensor *w_hh;        /* (G H, H) */
    const em_tensor *b_ih, *b_hh; /* (G H) or NULL */
    const em_tensor *h0, *c0;     /* (B, H); c0 for LSTM only */
    /* per-row activations the backward reads, (N, em_rnn_ws_width), or NULL when no
     * backward will run: written by the forward, read by the backward */
    em_tensor *ws;
    em_tensor *scratch; /* em_rnn_scratch_numel elements, reused by every step */
    /* forward: out (N, H), hn and cn (B, H) (cn: LSTM only) */
    em_tensor *out, *hn, *cn;
    /* backward: g_out (N, H), g_hn and g_cn (B, H) (NULL: zeros); each result may be
     * NULL when not wanted (gradients are written, not accumulated) */
    const em_tensor *g_out, *g_hn, *g_cn;
    em_tensor *gx, *gh0, *gc0, *gw_ih, *gw_hh, *gb_ih, *gb_hh;
} em_rnn_args;

typedef int (*em_rnn_kernel)(em_rnn_args *a);

/* 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU' -> mode; -1 with an error otherwise. */
int em_rnn_mode_parse(const char *name);
/* Gates per hidden unit: 1, 4 or 3. */
int em_rnn_gates(em_rnn_mode mode);
/* Columns of the saved activations per row. */
int64_t em_rnn_ws_width(em_rnn_mode mode, int64_t H);
/* Elements of the scratch buffer a forward / backward needs. */
int64_t em_rnn_scratch_numel(const em_rnn_args *a);

/* Forward of one layer-direction. x (N, I), batch_sizes (T) int64 on the CPU,
 * h0 (B, H), c0 (B, H) for LSTM (NULL otherwise), b_ih / b_hh both or neither.
 * Sets *out, *hn and (LSTM, cn != NULL) *cn to new references, and *ws (when ws
 * != NULL) to the activations the backward needs. 0 or -1 with an error. */
int em_rnn(em_rnn_mode mode, bool reverse, em_tensor *x, em_tensor *batch_sizes, em_tensor *h0, em_tensor *c0,
           em_tensor *w_ih, em_tensor *w_hh, em_tensor *b_ih, em_tensor *b_hh, em_tensor **out, em_tensor **hn,
           em_tensor **cn, em_tensor **ws);

/* Gradients of em_rnn (new references, NULL where not wanted). */
typedef struct em_rnn_grads {
    em_tensor *gx, *gh0, *gc0, *gw_ih, *gw_hh, *gb_ih, *gb_hh;
} em_rnn_grads;

/* Backward of em_rnn from its x, batch_sizes, weights and ws. g_out (N, H), g_hn
 * (B, H) and g_cn (LSTM) may be NULL (zeros). want[] in the order gx, gh0, gc0,
 * gw_ih, gw_hh, gb_ih, gb_hh. 0 or -1. */
int em_rnn_backward(em_rnn_mode mode, bool reverse, em_tensor *x, em_tensor *batch_sizes, em_tensor *w_ih,
                    em_tensor *w_hh, bool has_bias, em_tensor *ws, em_tensor *g_out, em_tensor *g_hn,
                    em_tensor *g_cn, const bool want[7], em_rnn_grads *r);

#endif
