/* Padding of the last dims of a tensor in one pass: constant (negative amounts
 * crop), reflect (mirror without repeating the edge), replicate (repeat the
 * edge) and circular (wrap around), with PyTorch's F.pad rules.
 *
 * Every mode is an index map per padded dim: output index o of a dim padded by
 * (l, r) reads input index map(o - l), or the constant value where the map
 * falls outside (constant mode only). The forward kernel gathers through the
 * maps; the backward kernel scatter-adds the output's gradient through the
 * same maps (its adjoint). */
#ifndef EM_PAD_H
#define EM_PAD_H

#include "tensor.h"

typedef enum em_pad_mode {
    EM_PAD_CONSTANT,  /* outside: value; negative amounts crop */
    EM_PAD_REFLECT,   /* -j, 2(n-1) - j; amounts < n */
    EM_PAD_REPLICATE, /* clamp to [0, n-1]; n > 0 where padded */
    EM_PAD_CIRCULAR,  /* j mod n; amounts <= n */
} em_pad_mode;

typedef struct em_pad_params {
    em_pad_mode mode;
    int npad;                     /* padded dims: the input's last npad */
    int64_t pad[2 * EM_MAX_DIMS]; /* PyTorch's order: (left, right) of the last dim, then the dim before, ... */
    em_scalar value;              /* constant mode */
} em_pad_params;

/* Forward (backward false): out (the padded shape, contiguous) <- in (any strides).
 * Backward: out (the input's gradient, contiguous, zeroed by the kernel) <- the
 * scatter-add of in (the output's gradient, contiguous); float32 / float64.
 * Sizes are already checked. Returns 0 or -1. */
typedef int (*em_pad_kernel)(bool backward, em_tensor *out, const em_tensor *in, const em_pad_params *p);

/* The mode named s ("constant", "reflect", "replicate", "circular"). 0, or -1
 * with an error naming fn. */
int em_pad_mode_parse(const char *fn, const char *s, em_pad_mode *mode);
/* The crop that undoes constant padding p: the amounts negated, value 0 (the
 * adjoint of constant padding, so its backward). */
em_pad_params em_pad_negated(const em_pad_params *p);

/* y = pad(x). New reference or NULL. */
em_tensor *em_pad(em_tensor *x, const em_pad_params *p);
/* The input's gradient (shape ndim / sizes, the forward input's) from the
 * output's gradient g: for constant mode g cropped, for the others the
 * scatter-add through the index maps. New reference or NULL. */
em_tensor *em_pad_backward(em_tensor *g, const em_pad_params *p, int ndim, const int64_t *sizes);

#endif
