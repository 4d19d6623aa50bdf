/* The CtcLossBackward node: log_probs, targets, lengths, the per-sample NLL and
 * log_alpha saved by the forward go back to the beta-recursion kernel. */
#include <string.h>

#include "../error.h"
#include "functions.h"

typedef struct ctc_ctx {
    int64_t blank;
    em_reduction reduction;
    bool zero_infinity, concat;
    int ndim;
    int64_t sizes[3];
} ctc_ctx;

enum { SAVED_LP, SAVED_TARGETS, SAVED_IN_LEN, SAVED_TG_LEN, SAVED_NLL, SAVED_ALPHA, SAVED_COUNT };

static int ctc_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const ctc_ctx *c = n->ctx;
    if (em_grad_enabled())
        return em_error("CTCLoss: double backward is not supported (create_graph)");
    em_ctc_saved s;
    memset(&s, 0, sizeof s);
    em_tensor **slot[SAVED_COUNT] = { &s.lp, &s.targets, &s.in_len, &s.tg_len, &s.nll, &s.log_alpha };
    for (int i = 0; i < SAVED_COUNT; i++)
        if (!(*slot[i] = em_node_saved(n, i))) {
            em_ctc_saved_clear(&s);
            return -1;
        }
    s.concat = c->concat;
    s.ndim = c->ndim;
    memcpy(s.sizes, c->sizes, sizeof s.sizes);
    gi[0] = em_ctc_loss_backward(&s, c->blank, c->reduction, c->zero_infinity, go[0]);
    em_ctc_saved_clear(&s);
    return gi[0] ? 0 : -1;
}

em_tensor *em_ag_ctc_loss(em_tensor *log_probs, em_tensor *targets, em_tensor *input_lengths,
                          em_tensor *target_lengths, int64_t blank, em_reduction reduction, bool zero_infinity)
{
    if (!em_ag_wants(log_probs))
        return em_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity, NULL);
    em_ctc_saved s;
    em_tensor *r = em_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity, &s);
    if (!r)
        return NULL;
    em_node *n = em_node_new("CtcLossBackward", ctc_backward, 1, 1, SAVED_COUNT, sizeof(ctc_ctx));
    em_tensor *saved[SAVED_COUNT] = { s.lp, s.targets, s.in_len, s.tg_len, s.nll, s.log_alpha };
    bool ok = n && em_node_set_next(n, 0, log_probs) == 0;
    for (int i = 0; ok && i < SAVED_COUNT; i++)
        ok = em_node_save(n, i, saved[i]) == 0;
    if (ok) {
        ctc_ctx *c = n->ctx;
        c->blank = blank;
        c->reduction = reduction;
        c->zero_infinity = zero_infinity;
        c->concat = s.concat;
        c->ndim = s.ndim;
        memcpy(c->sizes, s.sizes, sizeof c->sizes);
    }
    em_ctc_saved_clear(&s);
    if (!ok) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    return em_ag_finish(n, r);
}
