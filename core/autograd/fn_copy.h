/* Differentiable copies, and the machinery every in-place op uses. */
#ifndef EM_AG_FN_COPY_H
#define EM_AG_FN_COPY_H

#include "autograd.h"

em_tensor *em_ag_clone(em_tensor *t);
em_tensor *em_ag_contiguous(em_tensor *t);
em_tensor *em_ag_to_dtype(em_tensor *t, em_dtype dt, bool copy);
int em_ag_copy_(em_tensor *dst, em_tensor *src);
int em_ag_fill_(em_tensor *dst, em_scalar v);
int em_ag_zero_(em_tensor *dst);

/* ---- for op families ---- */
/* Gives out the history of n (as output 0) and drops the caller's reference to
 * n; on error (or n == NULL) releases both and returns NULL. */
em_tensor *em_ag_finish(em_node *n, em_tensor *out);
/* For r = op(x): when x wants grad and r is floating point, records a one-input
 * node holding a copy of ctx (size bytes). r is consumed and returned. */
em_tensor *em_ag_record1(const char *name, em_backward_fn fn, em_tensor *x, em_tensor *r, const void *ctx,
                         size_t size);
/* The error for out= given while an input requires grad (out= records nothing,
 * as in PyTorch): sets it and returns -1. */
int em_ag_refuse_out(const char *op);
/* Backward that passes the gradient through unchanged (the engine sums and casts). */
int em_ag_identity_backward(em_node *n, em_tensor **go, em_tensor **gi);

/* In-place ops: when em_ag_inplace_records(self, inputs) is false, run the plain
 * core op. Otherwise call em_ag_check_inplace (errors for leaves), compute the
 * result out of place from em_ag_clone(self) with the em_ag_ op, and pass it to
 * em_ag_commit_inplace, which writes it into self and sets self's history (it
 * consumes the result). */
bool em_ag_inplace_records(em_tensor *self, int n, em_tensor *const *inputs);
int em_ag_check_inplace(em_tensor *self, const char *op);
int em_ag_commit_inplace(em_tensor *self, em_tensor *result);
/* For ops that overwrite self with values carrying no gradient (random fills):
 * after em_ag_check_inplace and the plain op, records self as a constant. */
int em_ag_overwritten(em_tensor *self);

#endif
