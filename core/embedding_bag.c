/* embedding_bag front: checks with messages naming the op, the contiguous int64
 * (N) indices / offsets the kernels want, dispatch. */
#include "embedding_bag.h"

#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "view.h"

#define OP "embedding_bag"

int em_bag_mode_parse(const char *name)
{
    if (strcmp(name, "sum") == 0)
        return EM_BAG_SUM;
    if (strcmp(name, "mean") == 0)
        return EM_BAG_MEAN;
    if (strcmp(name, "max") == 0)
        return EM_BAG_MAX;
    return em_error(OP ": mode must be 'sum', 'mean' or 'max', got '%s'", name);
}

void em_bag_saved_clear(em_bag_saved *s)
{
    em_tensor_release(s->indices);
    em_tensor_release(s->offsets);
    em_tensor_release(s->psw);
    em_tensor_release(s->argmax);
    memset(s, 0, sizeof *s);
}

/* t as a contiguous (n) tensor of dtype dt (a new reference). */
static em_tensor *flat(em_tensor *t, em_dtype dt)
{
    em_tensor *c = em_to_dtype(t, dt, false), *cc = c ? em_contiguous(c) : NULL;
    em_tensor_release(c);
    int64_t n = em_tensor_numel(t);
    em_tensor *r = cc ? em_view(cc, 1, &n) : NULL;
    em_tensor_release(cc);
    return r;
}

static bool is_index(const em_tensor *t) { return em_dtype_is_int(t->dtype); }

em_tensor *em_embedding_bag(em_tensor *weight, em_tensor *input, em_tensor *offsets, em_tensor *psw,
                            em_bag_mode mode, int64_t padding_idx, bool include_last_offset, em_bag_saved *saved)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    em_device dev = em_tensor_device(weight);
    em_bag_kernel k = (em_bag_kernel)em_kernel_get(EM_K_EMBEDDING_BAG, dev, OP);
    if (!k)
        return NULL;
    if (weight->ndim != 2)
        return em_error(OP ": expected a 2-d weight (num_embeddings, embedding_dim), got %s",
                        em_tensor_shape_str(weight, b1, sizeof b1)), NULL;
    if (weight->dtype != EM_FLOAT32 && weight->dtype != EM_FLOAT64)
        return em_error(OP ": expected a float32 or float64 weight, got %s", em_dtype_name(weight->dtype)), NULL;
    if (!is_index(input))
        return em_error(OP ": expected integer (int64) indices, got %s", em_dtype_name(input->dtype)), NULL;
    if (!em_device_eq(dev, em_tensor_device(input)) || (offsets && !em_device_eq(dev, em_tensor_device(offsets))) ||
        (psw && !em_device_eq(dev, em_tensor_device(psw))))
        return em_error(OP ": weight, input, offsets and per_sample_weights must be on the same device"), NULL;
    int64_t nbags, bag_len = 0;
    if (input->ndim == 2) {
        if (offsets)
            return em_error(OP ": offsets must be nil for a 2-d input (B, L), got offsets %s",
                            em_tensor_shape_str(offsets, b1, sizeof b1)), NULL;
        nbags = input->sizes[0];
        bag_len = input->sizes[1];
    } else if (input->ndim == 1) {
        if (!offsets)
            return em_error(OP ": a 1-d input needs offsets (the 1-based start of each bag)"), NULL;
        if (offsets->ndim != 1 || !is_index(offsets))
            return em_error(OP ": expected 1-d integer offsets, got %s %s",
                            em_tensor_shape_str(offsets, b1, sizeof b1), em_dtype_name(offsets->dtype)), NULL;
        nbags = offsets->sizes[0] - (include_last_offset ? 1 : 0);
        if (nbags < 0)
            return em_error(OP ": include_last_offset needs at least one offset"), NULL;
    } else {
        return em_error(OP ": expected a 1-d input with offsets or a 2-d input (B, L), got %dd (%s)", input->ndim,
                        em_tensor_shape_str(input, b1, sizeof b1)), NULL;
    }
    if (psw) {
        if (mode != EM_BAG_SUM)
            return em_error(OP ": per_sample_weights are only supported for mode 'sum', got mode '%s'",
                            mode == EM_BAG_MEAN ? "mean" : "max"), NULL;
        bool same = psw->ndim == input->ndim;
        for (int d = 0; same && d < input->ndim; d++)
            same = psw->sizes[d] == input->sizes[d];
        if (!same)
            return em_error(OP ": per_sample_weights must have the input's shape %s, got %s",
                            em_tensor_shape_str(input, b1, sizeof b1), em_tensor_shape_str(psw, b2, sizeof b2)), NULL;
        if (psw->dtype != weight->dtype)
            return em_error(OP ": per_sample_weights must have the weight's dtype %s, got %s",
                            em_dtype_name(weight->dtype), em_dtype_name(psw->dtype)), NULL;
    }
    em_bag_saved s = { .bag_len = bag_len, .nbags = nbags, .num_weights = weight->sizes[0] };
    em_tensor *w = em_contiguous(weight), *out = NULL;
    s.indices = w ? flat(input, EM_INT64) : NULL;
    bool ok = s.indices && (!offsets || (s.offsets = flat(offsets, EM_INT64))) && (!psw || (s.psw = flat(psw, psw->dtype)));
    int64_t osz[2] = { nbags, weight->sizes[1] };
    if (ok)
        out = em_tensor_empty(2, osz, weight->dtype, dev);
    if (out && mode == EM_BAG_MAX)
        s.argmax = em_tensor_empty(2, osz, EM_INT64, dev);
    em_bag_args a = { .op = OP, .mode = mode, .weight = w, .indices = s.indices, .offsets = s.offsets,
                      .bag_len = bag_len, .nbags = nbags, .include_last_offset = include_last_offset, .psw = s.psw,
                      .padding_idx = padding_idx, .out = out, .argmax = s.argmax };
    if (!out || (mode == EM_BAG_MAX && !s.argmax) || k(&a) < 0) {
        em_tensor_release(out);
        em_tensor_release(w);
        em_bag_saved_clear(&s);
        return NULL;
    }
    em_tensor_release(w);
    if (saved)
        *saved = s;
    else
        em_bag_saved_clear(&s);
    return out;
}

int em_embedding_bag_backward(const em_bag_saved *s, em_tensor *weight, em_bag_mode mode, int64_t padding_idx,
                              bool include_last_offset, bool scale_grad_by_freq, em_tensor *g, em_tensor **gw,
                              em_tensor **gpsw)
{
    em_device dev = em_tensor_device(g);
    em_bag_kernel k = (em_bag_kernel)em_kernel_get(EM_K_EMBEDDING_BAG, dev, OP);
    if (!k)
        return -1;
    em_dtype dt = g->dtype;
    em_tensor *gc = em_contiguous(g), *w = NULL, *out = NULL, *gp = NULL;
    bool ok = gc != NULL;
    if (ok && gw) {
        int64_t sz[2] = { s->num_weights, g->sizes[1] };
        ok = (out = em_full(2, sz, em_scalar_int(0), dt, dev)) != NULL;
    }
    if (ok && gpsw) {
        int64_t n = em_tensor_numel(s->indices);
        ok = (w = em_contiguous(weight)) && (gp = em_tensor_empty(1, &n, dt, dev));
    }
    em_bag_args a = { .op = OP, .backward = true, .mode = mode, .weight = w, .indices = s->indices,
                      .offsets = s->offsets, .bag_len = s->bag_len, .nbags = s->nbags,
                      .include_last_offset = include_last_offset, .psw = s->psw, .padding_idx = padding_idx,
                      .scale_grad_by_freq = scale_grad_by_freq, .out = out, .argmax = s->argmax, .grad_psw = gp,
                      .grad = gc };
    ok = ok && k(&a) == 0;
    em_tensor_release(gc);
    em_tensor_release(w);
    if (!ok) {
        em_tensor_release(out);
        em_tensor_release(gp);
        return -1;
    }
    if (gw)
        *gw = out;
    if (gpsw)
        *gpsw = gp;
    return 0;
}
