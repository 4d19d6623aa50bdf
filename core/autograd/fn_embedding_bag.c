/* The EmbeddingBag node: saves the flattened indices, offsets, per-sample weights
 * (for the weight's gradient), the weight (for the per-sample weights' gradient)
 * and max mode's argmax, and hands them back to the fused backward kernel. */
#include <string.h>

#include "../error.h"
#include "../view.h"
#include "functions.h"

typedef struct bag_ctx {
    em_bag_mode mode;
    int64_t padding_idx, bag_len, nbags, num_weights;
    bool include_last_offset, scale_grad_by_freq, has_offsets, has_psw;
} bag_ctx;

enum { SAVED_INDICES, SAVED_OFFSETS, SAVED_PSW, SAVED_WEIGHT, SAVED_ARGMAX, SAVED_COUNT };
enum { NEXT_WEIGHT, NEXT_PSW };

static int bag_backward(em_node *n, em_tensor **go, em_tensor **gi)
{
    const bag_ctx *c = n->ctx;
    if (em_grad_enabled())
        return em_error("embedding_bag: double backward is not supported (create_graph); compose index_select "
                        "and index_add for a second derivative");
    bool need_w = em_node_needs(n, NEXT_WEIGHT), need_p = em_node_needs(n, NEXT_PSW);
    em_bag_saved s = { .bag_len = c->bag_len, .nbags = c->nbags, .num_weights = c->num_weights };
    em_tensor *w = NULL;
    bool ok = (s.indices = em_node_saved(n, SAVED_INDICES)) != NULL &&
              (!c->has_offsets || (s.offsets = em_node_saved(n, SAVED_OFFSETS))) &&
              (!c->has_psw || !need_w || (s.psw = em_node_saved(n, SAVED_PSW))) &&
              (c->mode != EM_BAG_MAX || (s.argmax = em_node_saved(n, SAVED_ARGMAX))) &&
              (!need_p || (w = em_node_saved(n, SAVED_WEIGHT)));
    if (ok && c->has_psw && !need_w) /* the weight gradient alone reads psw */
        s.psw = NULL;
    ok = ok && em_embedding_bag_backward(&s, w, c->mode, c->padding_idx, c->include_last_offset,
                                         c->scale_grad_by_freq, go[0], need_w ? &gi[NEXT_WEIGHT] : NULL,
                                         need_p ? &gi[NEXT_PSW] : NULL) == 0;
    if (ok && need_p && !c->has_offsets) { /* per_sample_weights of a 2-d input: (B, L) */
        int64_t sz[2] = { c->nbags, c->bag_len };
        em_tensor *r = em_view(gi[NEXT_PSW], 2, sz);
        em_tensor_release(gi[NEXT_PSW]);
        gi[NEXT_PSW] = r;
        ok = r != NULL;
    }
    em_bag_saved_clear(&s);
    em_tensor_release(w);
    return ok ? 0 : -1;
}

em_tensor *em_ag_embedding_bag(em_tensor *weight, em_tensor *input, em_tensor *offsets, em_tensor *psw,
                               em_bag_mode mode, int64_t padding_idx, bool include_last_offset,
                               bool scale_grad_by_freq)
{
    if (!em_ag_wants(weight) && !em_ag_wants(psw))
        return em_embedding_bag(weight, input, offsets, psw, mode, padding_idx, include_last_offset, NULL);
    em_bag_saved s;
    em_tensor *r = em_embedding_bag(weight, input, offsets, psw, mode, padding_idx, include_last_offset, &s);
    if (!r)
        return NULL;
    em_node *n = em_node_new("EmbeddingBagBackward", bag_backward, 2, 1, SAVED_COUNT, sizeof(bag_ctx));
    bool ok = n && em_node_set_next(n, NEXT_WEIGHT, weight) == 0 &&
              (!psw || em_node_set_next(n, NEXT_PSW, psw) == 0) &&
              em_node_save(n, SAVED_INDICES, s.indices) == 0 &&
              (!s.offsets || em_node_save(n, SAVED_OFFSETS, s.offsets) == 0) &&
              (!s.psw || em_node_save(n, SAVED_PSW, s.psw) == 0) &&
              (!s.argmax || em_node_save(n, SAVED_ARGMAX, s.argmax) == 0) &&
              (!em_ag_wants(psw) || em_node_save(n, SAVED_WEIGHT, weight) == 0);
    if (ok) {
        bag_ctx *c = n->ctx;
        c->mode = mode;
        c->padding_idx = padding_idx;
        c->bag_len = s.bag_len;
        c->nbags = s.nbags;
        c->num_weights = s.num_weights;
        c->include_last_offset = include_last_offset;
        c->scale_grad_by_freq = scale_grad_by_freq;
        c->has_offsets = s.offsets != NULL;
        c->has_psw = s.psw != NULL;
    }
    em_bag_saved_clear(&s);
    if (!ok) {
        em_node_release(n);
        em_tensor_release(r);
        return NULL;
    }
    return em_ag_finish(n, r);
}
