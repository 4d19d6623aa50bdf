/* Shape ops that build new tensors from views and copies: cat, stack, flip, roll,
 * tril/triu, repeat and one_hot. No kernel of their own: they narrow / select /
 * restride views and move data with em_copy_ and em_fill_, so every device that
 * can copy runs them. Dims are 0-based here (the binding converts); one_hot's
 * classes are Lua's, 1..C. All return a new reference or NULL (in-place: 0 / -1). */
#ifndef EM_SHAPE_OPS_H
#define EM_SHAPE_OPS_H

#include "tensor.h"

/* PyTorch's legacy rule: 1-d empty tensors are skipped; dtypes promote. dim is
 * relative to the tensors that are not skipped. */
em_tensor *em_cat(int n, em_tensor *const *ts, int dim);
/* 1-d empty tensors that cat skips. */
bool em_cat_skips(const em_tensor *t);
em_tensor *em_stack(int n, em_tensor *const *ts, int dim); /* 0 <= dim <= ndim */
em_tensor *em_flip(em_tensor *t, int n, const int *dims);
/* n == 0: t is flattened, rolled by shifts[0] and reshaped back. */
em_tensor *em_roll(em_tensor *t, int n, const int64_t *shifts, const int *dims);
/* Keeps the lower (upper = false) or upper triangle of the last two dims relative
 * to diagonal k (0 = main, > 0 above, < 0 below); zeroes the rest. */
em_tensor *em_tril(em_tensor *t, int64_t k, bool upper);
int em_tril_(em_tensor *t, int64_t k, bool upper);
em_tensor *em_repeat(em_tensor *t, int n, const int64_t *reps);
/* labels: integer tensor of classes 1..num_classes (num_classes < 0: the largest
 * label). Result: labels' shape + (num_classes), int64, ones at the classes. */
em_tensor *em_one_hot(const em_tensor *labels, int64_t num_classes);

#endif
