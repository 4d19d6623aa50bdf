/* CPU scans and softmax along one dim: each line along the dim is one task (lines in
 * parallel above a size threshold). Floats accumulate in double; integer cumsum and
 * cumprod run in int64 (the front converts) and wrap as in PyTorch. */
#include <math.h>
#include <string.h>

#include "../dispatch.h"
#include "../error.h"
#include "../iter.h"
#include "../reduce.h"
#include "cpu.h"
#include "typed.h"

typedef struct scan_ctx {
    em_scan_op op;
    int64_t len, is, os; /* line length, input / output strides along the dim in bytes */
} scan_ctx;

#define IN(T, k) (*(const T *)(in + (k) * c->is))
#define OUT(T, k) (*(T *)(out + (k) * c->os))

#define DEF_FLOAT_SCAN(NAME, T, EXP)                                                          \
    static void scan_##NAME(const scan_ctx *c, char *out, const char *in)               \
    {                                                                                    \
        int64_t n = c->len;                                                              \
        if (c->op == EM_SCAN_CUMSUM || c->op == EM_SCAN_CUMPROD) {                       \
            bool sum = c->op == EM_SCAN_CUMSUM;                                          \
            double t = sum ? 0.0 : 1.0;                                                  \
            for (int64_t k = 0; k < n; k++) {                                            \
                t = sum ? t + (double)IN(T, k) : t * (double)IN(T, k);                   \
                OUT(T, k) = (T)t;                                                        \
            }                                                                            \
            return;                                                                      \
        }                                                                                \
        T m = -INFINITY;                                                                 \
        double s = 0;                                                                    \
        for (int64_t k = 0; k < n; k++) {                                                \
            T v = IN(T, k);                                                              \
            m = (v > m || isnan(v)) && !isnan(m) ? v : m;                                \
        }                                                                                \
        if (c->op == EM_SCAN_SOFTMAX) {                                                  \
            for (int64_t k = 0; k < n; k++) {                                            \
                T e = EXP(IN(T, k) - m);                                                 \
                OUT(T, k) = e;                                                           \
                s += (double)e;                                                          \
            }                                                                            \
            T inv = (T)(1.0 / s);                                                        \
            for (int64_t k = 0; k < n; k++)                                              \
                OUT(T, k) *= inv;                                                        \
        } else {                                                                         \
            for (int64_t k = 0; k < n; k++)                                              \
                s += (double)EXP(IN(T, k) - m);                                          \
            T ls = (T)log(s);                                                            \
            for (int64_t k = 0; k < n; k++)                                              \
                OUT(T, k) = (IN(T, k) - m) - ls;                                         \
        }                                                                                \
    }
DEF_FLOAT_SCAN(f32, float, expf)
DEF_FLOAT_SCAN(f64, double, exp)

static void scan_i64(const scan_ctx *c, char *out, const char *in)
{
    bool sum = c->op == EM_SCAN_CUMSUM;
    uint64_t t = sum ? 0 : 1;
    for (int64_t k = 0; k < c->len; k++) {
        uint64_t v = (uint64_t)IN(int64_t, k);
        t = sum ? t + v : t * v;
        OUT(int64_t, k) = (int64_t)t;
    }
}

typedef struct scan_run {
    scan_ctx c;
    void (*fn)(const scan_ctx *c, char *out, const char *in);
} scan_run;

/* data: output line starts, input line starts */
static void scan_lines(char **data, const int64_t *s, int64_t n, void *ctx)
{
    const scan_run *r = ctx;
    for (int64_t l = 0; l < n; l++)
        r->fn(&r->c, data[0] + l * s[0], data[1] + l * s[1]);
}

static em_tensor *line_starts(const em_tensor *t, int dim)
{
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, t->sizes, sizeof sizes);
    sizes[dim] = 1;
    return em_tensor_new_view(t->storage, t->dtype, t->offset, t->ndim, sizes, t->strides);
}

static int cpu_scan(em_tensor *out, const em_tensor *in, int dim, em_scan_op op)
{
    int64_t es = (int64_t)em_dtype_size(in->dtype);
    scan_run r = { { op, in->sizes[dim], in->strides[dim] * es, out->strides[dim] * es }, NULL };
    switch (in->dtype) {
    case EM_FLOAT32: r.fn = scan_f32; break;
    case EM_FLOAT64: r.fn = scan_f64; break;
    case EM_INT64: r.fn = scan_i64; break;
    default: return em_error("scan: unsupported dtype %s", em_dtype_name(in->dtype));
    }
    if (em_tensor_numel(in) == 0)
        return 0;
    em_tensor *ops[2] = { line_starts(out, dim), line_starts(in, dim) };
    int rc = -1;
    em_iter it;
    if (ops[0] && ops[1] && em_iter_init(&it, 2, (const em_tensor *const *)ops, "scan") == 0) {
        em_iter_run(&it, scan_lines, &r, it.numel * r.c.len >= EM_PARALLEL_THRESHOLD && it.numel > 1);
        rc = 0;
    }
    em_tensor_release(ops[0]);
    em_tensor_release(ops[1]);
    return rc;
}

void em_cpu_register_scan(em_backend *be)
{
    be->kernels[EM_K_SCAN] = (em_kernel_fn)cpu_scan;
}
