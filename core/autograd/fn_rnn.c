/* The recurrent layer node: saves the input, batch_sizes, both weight matrices and
 * the per-row activations of the forward, and hands them to the C backward through
 * time. Outputs: out, h_n and (LSTM) c_n. */
#include "../error.h"
#include "functions.h"

typedef struct rnn_ctx {
    em_rnn_mode mode;
    bool reverse, has_bias;
} rnn_ctx;

enum { SAVED_X, SAVED_BS, SAVED_WIH, SAVED_WHH, SAVED_WS, SAVED_COUNT };
enum { NEXT_X, NEXT_H0, NEXT_C0, NEXT_WIH, NEXT_WHH, NEXT_BIH, NEXT_BHH, NEXT_COUNT };

static int rnn_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const rnn_ctx *c = n->ctx;
    if (em_grad_enabled())
        return em_error("%s: double backward is not supported (create_graph); compose the cell from nn.Linear "
                        "and elementwise ops for a second derivative", n->name);
    em_tensor *s[SAVED_COUNT] = { NULL };
    bool ok = true;
    for (int i = 0; i < SAVED_COUNT && ok; i++)
        ok = (s[i] = em_node_saved(n, i)) != NULL;
    bool want[NEXT_COUNT];
    for (int i = 0; i < NEXT_COUNT; i++)
        want[i] = em_node_needs(n, i);
    em_rnn_grads r = { 0 };
    ok = ok && em_rnn_backward(c->mode, c->reverse, s[SAVED_X], s[SAVED_BS], s[SAVED_WIH], s[SAVED_WHH], c->has_bias,
                               s[SAVED_WS], go[0], go[1], c->mode == EM_RNN_LSTM ? go[2] : NULL, want, &r) == 0;
    for (int i = 0; i < SAVED_COUNT; i++)
        em_tensor_release(s[i]);
    if (!ok)
        return -1;
    gi[NEXT_X] = r.gx, gi[NEXT_H0] = r.gh0, gi[NEXT_C0] = r.gc0, gi[NEXT_WIH] = r.gw_ih, gi[NEXT_WHH] = r.gw_hh;
    gi[NEXT_BIH] = r.gb_ih, gi[NEXT_BHH] = r.gb_hh;
    return 0;
}

static const char *node_name(em_rnn_mode m)
{
    return m == EM_RNN_LSTM ? "LSTMBackward" : m == EM_RNN_GRU ? "GRUBackward" : "RNNBackward";
}

int em_ag_rnn(em_rnn_mode mode, bool reverse, em_tensor *x, em_tensor *batch_sizes, em_tensor *h0, em_tensor *c0,
              em_tensor *w_ih, em_tensor *w_hh, em_tensor *b_ih, em_tensor *b_hh, em_tensor **out, em_tensor **hn,
              em_tensor **cn)
{
    em_tensor *in[NEXT_COUNT] = { x, h0, c0, w_ih, w_hh, b_ih, b_hh };
    bool any = false;
    for (int i = 0; i < NEXT_COUNT; i++)
        any = any || em_ag_wants(in[i]);
    em_tensor *o = NULL, *h = NULL, *cc = NULL, *ws = NULL;
    bool lstm = mode == EM_RNN_LSTM;
    if (em_rnn(mode, reverse, x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, &o, &h, lstm ? &cc : NULL,
               any ? &ws : NULL) < 0)
        return -1;
    if (any && em_dtype_is_float(o->dtype)) {
        em_node *n = em_node_new(node_name(mode), rnn_backward, NEXT_COUNT, lstm ? 3 : 2, SAVED_COUNT,
                                 sizeof(rnn_ctx));
        bool ok = n != NULL;
        for (int i = 0; i < NEXT_COUNT && ok; i++)
            ok = em_node_set_next(n, i, in[i]) == 0;
        em_tensor *sv[SAVED_COUNT] = { x, batch_sizes, w_ih, w_hh, ws };
        for (int i = 0; i < SAVED_COUNT && ok; i++)
            ok = em_node_save(n, i, sv[i]) == 0;
        if (ok) {
            rnn_ctx *c = n->ctx;
            c->mode = mode;
            c->reverse = reverse;
            c->has_bias = b_ih != NULL;
            ok = em_set_history(o, n, 0) == 0 && em_set_history(h, n, 1) == 0 && (!lstm || em_set_history(cc, n, 2) == 0);
        }
        em_node_release(n);
        if (!ok) {
            em_tensor_release(o);
            em_tensor_release(h);
            em_tensor_release(cc);
            em_tensor_release(ws);
            return -1;
        }
    }
    em_tensor_release(ws);
    *out = o;
    *hn = h;
    if (cn)
        *cn = cc;
    else
        em_tensor_release(cc);
    return 0;
}
