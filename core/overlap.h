/* Memory overlap between a written-to tensor and the tensors an op reads, as
 * PyTorch checks it: writing through an expanded tensor (several elements in one
 * location) is refused, and so is an input that shares only some of the output's
 * memory or lays the same memory out differently (the result would depend on the
 * order of the loop). The same tensor read and written (x:add_(x)) is fine. */
#ifndef EM_OVERLAP_H
#define EM_OVERLAP_H

#include "tensor.h"

typedef enum em_overlap {
    EM_OVERLAP_NO,       /* no shared element */
    EM_OVERLAP_FULL,     /* the same elements in the same layout */
    EM_OVERLAP_PARTIAL,  /* some shared elements, or the same ones laid out differently */
    EM_OVERLAP_TOO_HARD  /* memory ranges interleave; not decided (allowed, as in PyTorch) */
} em_overlap;

/* Whether t has a stride-0 dim of size > 1 (an expanded tensor). */
bool em_tensor_has_internal_overlap(const em_tensor *t);
/* Whether t's elements fill a contiguous block of memory exactly once, in any dim order. */
bool em_tensor_is_dense(const em_tensor *t);
em_overlap em_overlap_get(const em_tensor *a, const em_tensor *b);

/* The checks of ops that write: 0, or -1 with an error naming op. */
int em_overlap_check_internal(const char *op, const em_tensor *out);
int em_overlap_check_input(const char *op, const em_tensor *out, const em_tensor *in);

#endif
