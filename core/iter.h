/* Strided n-d iteration over up to EM_ITER_MAX_OPS operands of one shape.
 * Operand 0 is the output and fixes the shape; the others broadcast to it
 * (missing leading dims and size-1 dims get stride 0). Dimensions are reordered so
 * the output's smallest stride is innermost, and merged where every operand allows,
 * so a contiguous op becomes one call over all elements. A kernel is a loop over
 * the innermost dimension: fn(data pointers, byte strides, count). */
#ifndef EM_ITER_H
#define EM_ITER_H

#include "tensor.h"

#define EM_ITER_MAX_OPS 6
/* Elementwise work below this many elements runs on one thread. */
#define EM_PARALLEL_THRESHOLD 32768

typedef struct em_iter {
    int nops;
    int ndim; /* >= 1 after setup; innermost dimension last */
    int64_t numel;
    int64_t shape[EM_MAX_DIMS];
    int64_t strides[EM_ITER_MAX_OPS][EM_MAX_DIMS]; /* bytes */
    char *data[EM_ITER_MAX_OPS];
} em_iter;

typedef void (*em_loop_fn)(char **data, const int64_t *strides, int64_t n, void *ctx);

/* 0 on success; -1 with "op: shapes AxB and C are not broadcastable" otherwise. */
int em_iter_init(em_iter *it, int nops, const em_tensor *const *ops, const char *op);
/* Runs fn over all elements; splits the work over threads for large iterations
 * when parallel is true (the kernel must then be free of shared state). */
void em_iter_run(const em_iter *it, em_loop_fn fn, void *ctx, bool parallel);
/* Runs fn over the linear element range [begin, end). */
void em_iter_run_range(const em_iter *it, em_loop_fn fn, void *ctx, int64_t begin, int64_t end);

/* Broadcast shape of a and b into out (out may alias neither); -1 with an error naming op. */
int em_broadcast_shape(const char *op, int na, const int64_t *a, int nb, const int64_t *b,
                       int *nout, int64_t *out);

/* Number of threads used for parallel loops. */
int em_num_threads(void);
void em_set_num_threads(int n);

#endif
