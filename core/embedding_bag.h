/* embedding_bag: per bag, the sum, mean or max of the weight rows its indices
 * select, in one pass without materialising the (N, D) gathered rows.
 * Index VALUES are Lua's (1-based, as in core/index.h); bags are either the rows of
 * a 2-d (B, L) input or runs of a 1-d (N) input starting at 1-based offsets
 * (offsets[1] must be 1; with include_last_offset the last offset is N + 1, the end).
 * padding_idx (1-based, 0 for none) entries are left out of their bag and of the
 * mean's count; an empty bag gives zeros. The kernels check every index and offset
 * before writing. */
#ifndef EM_EMBEDDING_BAG_H
#define EM_EMBEDDING_BAG_H

#include "tensor.h"

typedef enum em_bag_mode { EM_BAG_SUM = 0, EM_BAG_MEAN, EM_BAG_MAX } em_bag_mode;

typedef struct em_bag_args {
    const char *op;
    bool backward;
    em_bag_mode mode;
    const em_tensor *weight;  /* (V, D) contiguous */
    const em_tensor *indices; /* (N) int64 contiguous */
    const em_tensor *offsets; /* (B) or (B + 1) int64 contiguous; NULL: bags of bag_len */
    int64_t bag_len;          /* fixed bag length (offsets == NULL) */
    int64_t nbags;            /* B */
    bool include_last_offset;
    const em_tensor *psw;     /* (N) per-sample weights of weight's dtype, or NULL */
    int64_t padding_idx;      /* 1-based; 0: none */
    bool scale_grad_by_freq;
    /* forward: out (B, D), argmax (B, D) int64 (max mode: 0-based row, -1 for none)
     * backward: grad (B, D) contiguous; out is the weight's gradient (V, D) or NULL,
     * grad_psw (N) or NULL */
    em_tensor *out, *argmax, *grad_psw;
    const em_tensor *grad;
} em_bag_args;

typedef int (*em_bag_kernel)(em_bag_args *a);

/* Mode names 'sum' | 'mean' | 'max' -> enum; -1 with an error otherwise. */
int em_bag_mode_parse(const char *name);

/* What the forward keeps for the backward (new references). */
typedef struct em_bag_saved {
    em_tensor *indices, *offsets, *psw, *argmax; /* as in em_bag_args */
    int64_t bag_len, nbags, num_weights;
} em_bag_saved;

/* input: (N) with offsets, or (B, L) without; per_sample_weights has input's shape
 * (mode sum only). Returns (B, D). saved (optional) receives what the backward needs. */
em_tensor *em_embedding_bag(em_tensor *weight, em_tensor *input, em_tensor *offsets, em_tensor *psw,
                            em_bag_mode mode, int64_t padding_idx, bool include_last_offset, em_bag_saved *saved);
/* Gradients for the output gradient g (B, D): *gw (V, D) when gw != NULL, *gpsw
 * (N) when gpsw != NULL (needs weight). 0 or -1. */
int em_embedding_bag_backward(const em_bag_saved *s, em_tensor *weight, em_bag_mode mode, int64_t padding_idx,
                              bool include_last_offset, bool scale_grad_by_freq, em_tensor *g, em_tensor **gw,
                              em_tensor **gpsw);
void em_bag_saved_clear(em_bag_saved *s);

#endif
