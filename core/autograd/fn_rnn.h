/* Differentiable RNN / LSTM / GRU layer-direction (see core/rnn.h): one node per
 * call, whose backward through time is the fused C kernel; gradients flow to the
 * input, h0, c0 and the four parameters. Double backward (create_graph) is an
 * error. */
#ifndef EM_AG_FN_RNN_H
#define EM_AG_FN_RNN_H

#include "autograd.h"
#include "../rnn.h"

/* As em_rnn; *cn only for LSTM (cn may be NULL otherwise). 0 or -1. */
int em_ag_rnn(em_rnn_mode mode, bool reverse, em_tensor *x, em_tensor *batch_sizes, em_tensor *h0, em_tensor *c0,
              em_tensor *w_ih, em_tensor *w_hh, em_tensor *b_ih, em_tensor *b_hh, em_tensor **out, em_tensor **hn,
              em_tensor **cn);

#endif
