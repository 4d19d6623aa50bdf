/* Copies, fills and dtype conversion (device-independent front). */
#ifndef EM_COPY_H
#define EM_COPY_H

#include "tensor.h"

typedef int (*em_copy_kernel)(em_tensor *dst, const em_tensor *src);
typedef int (*em_fill_kernel)(em_tensor *dst, em_scalar v);

/* dst <- src, src broadcast to dst's shape, converting dtype. 0 or -1. */
int em_copy_(em_tensor *dst, const em_tensor *src);
int em_fill_(em_tensor *dst, em_scalar v);
int em_zero_(em_tensor *dst);

/* New references (NULL on error). */
em_tensor *em_contiguous(em_tensor *t);   /* t itself (retained) when already contiguous */
em_tensor *em_clone(const em_tensor *t);  /* always a fresh contiguous copy */
em_tensor *em_to_dtype(em_tensor *t, em_dtype dt, bool copy); /* t retained when same dtype and !copy */
em_tensor *em_full(int ndim, const int64_t *sizes, em_scalar v, em_dtype dt, em_device dev);

/* The value of a one-element tensor. */
int em_item(const em_tensor *t, em_scalar *out);
/* Element of t at a 0-based multi-index, as a scalar (int for integral, bool for bool). */
em_scalar em_read_scalar(const void *p, em_dtype dt);

/* A 0-d tensor on the stack holding v as dtype dt, for ops that take a scalar. The
 * tensor must not outlive the buffers and must not be retained. */
typedef struct em_stack_scalar {
    em_tensor t;
    em_storage s;
    uint64_t bits;
} em_stack_scalar;
em_tensor *em_stack_scalar_init(em_stack_scalar *ss, em_scalar v, em_dtype dt);

#endif
