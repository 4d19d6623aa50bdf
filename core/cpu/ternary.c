/* CPU ternary elementwise kernels: where, lerp, addcmul, addcdiv and clamp with
 * tensor bounds. One loop per (op, dtype), contiguous and strided branches. */
#include <tgmath.h>

#include "cpu.h"
#include "ew.h"

typedef struct ter_ctx {
    uint64_t value; /* addcmul/addcdiv factor in the loop's type */
    bool has_lo, has_hi;
} ter_ctx;

/* o[k] = EXPR(a, b, c); the condition of where is read as uint8_t by its own loop. */
#define TER_LOOP(NAME, TA, T, PRE, EXPR)                                                           \
    static void NAME(char **d, const int64_t *s, int64_t n, void *ctx)                             \
    {                                                                                              \
        const ter_ctx *cx = ctx;                                                                   \
        (void)cx;                                                                                  \
        PRE;                                                                                       \
        if (s[0] == sizeof(T) && s[1] == sizeof(TA) && s[2] == sizeof(T) && s[3] == sizeof(T)) {   \
            T *restrict o = (T *)d[0];                                                             \
            const TA *restrict x = (const TA *)d[1];                                               \
            const T *restrict y = (const T *)d[2], *restrict z = (const T *)d[3];                  \
            _Pragma("omp simd")                                                                    \
            for (int64_t k = 0; k < n; k++) {                                                      \
                TA a = x[k];                                                                       \
                T b = y[k], c = z[k];                                                              \
                o[k] = (T)(EXPR);                                                                  \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t k = 0; k < n; k++) {                                                          \
            TA a = *(const TA *)(d[1] + k * s[1]);                                                 \
            T b = *(const T *)(d[2] + k * s[2]), c = *(const T *)(d[3] + k * s[3]);                \
            *(T *)(d[0] + k * s[0]) = (T)(EXPR);                                                   \
        }                                                                                          \
    }

#define NOPRE (void)0
#define VAL_PRE(T) typedef T ut_; (void)sizeof(ut_); const T v = EM_CTX_VAL(T, cx->value)
#define IVAL_PRE(T, UT) typedef UT ut_; (void)sizeof(ut_); const T v = EM_CTX_VAL(T, cx->value)
#define CLAMP_PRE const bool hl = cx->has_lo, hh = cx->has_hi
#define CLAMP_EXPR (hh && ((hl && a < b) ? b : a) > c) ? c : ((hl && a < b) ? b : a)
#define TT __typeof__(b)

#define DEF_F(OP, PRE, EXPR) TER_LOOP(OP##_f32, float, float, PRE(float), EXPR) \
    TER_LOOP(OP##_f64, double, double, PRE(double), EXPR)
#define DEF_I(OP, PRE, EXPR)                                                 \
    TER_LOOP(OP##_u8, uint8_t, uint8_t, PRE(uint8_t, uint8_t), EXPR)         \
    TER_LOOP(OP##_i8, int8_t, int8_t, PRE(int8_t, uint8_t), EXPR)            \
    TER_LOOP(OP##_i16, int16_t, int16_t, PRE(int16_t, uint16_t), EXPR)       \
    TER_LOOP(OP##_i32, int32_t, int32_t, PRE(int32_t, uint32_t), EXPR)       \
    TER_LOOP(OP##_i64, int64_t, int64_t, PRE(int64_t, uint64_t), EXPR)

#define P_NONE(...) NOPRE
#define P_CLAMP(...) CLAMP_PRE

/* where: the condition is bool (uint8_t), any value type */
#define DEF_WHERE(SUF, T) TER_LOOP(where_##SUF, uint8_t, T, NOPRE, a ? b : c)
DEF_WHERE(f32, float)
DEF_WHERE(f64, double)
DEF_WHERE(u8, uint8_t)
DEF_WHERE(i8, int8_t)
DEF_WHERE(i16, int16_t)
DEF_WHERE(i32, int32_t)
DEF_WHERE(i64, int64_t)
DEF_WHERE(b8, uint8_t)

/* lerp as PyTorch computes it: exact at both ends */
DEF_F(lerp, P_NONE, c < (TT)0.5 ? a + c * (b - a) : b - (b - a) * (1 - c))
DEF_F(addcmul, VAL_PRE, a + v * b * c)
DEF_I(addcmul, IVAL_PRE, EM_WADD(TT, ut_, a, EM_WMUL(TT, ut_, v, EM_WMUL(TT, ut_, b, c))))
DEF_F(addcdiv, VAL_PRE, a + v * b / c)
DEF_F(clamp, P_CLAMP, CLAMP_EXPR)
DEF_I(clamp, P_CLAMP, CLAMP_EXPR)

#define R_F(OP) [EM_FLOAT32] = OP##_f32, [EM_FLOAT64] = OP##_f64
#define R_I(OP) [EM_UINT8] = OP##_u8, [EM_INT8] = OP##_i8, [EM_INT16] = OP##_i16, [EM_INT32] = OP##_i32, \
                [EM_INT64] = OP##_i64

static const em_loop_fn ter_table[EM_TER_COUNT][EM_DTYPE_COUNT] = {
    [EM_TER_WHERE] = { R_F(where), R_I(where), [EM_BOOL] = where_b8 },
    [EM_TER_LERP] = { R_F(lerp) },
    [EM_TER_ADDCMUL] = { R_F(addcmul), R_I(addcmul) },
    [EM_TER_ADDCDIV] = { R_F(addcdiv) },
    [EM_TER_CLAMP] = { R_F(clamp), R_I(clamp) },
};

static const char *const ter_names[EM_TER_COUNT] = { "where", "lerp", "addcmul", "addcdiv", "clamp" };

static int cpu_ternary(em_tensor *out, const em_tensor *a, const em_tensor *b, const em_tensor *c,
                       em_ternary_op op, const em_ew_params *p)
{
    em_dtype dt = out->dtype;
    em_loop_fn fn = ter_table[op][dt];
    if (!fn)
        return em_error("%s: not supported for %s tensors", ter_names[op], em_dtype_name(dt));
    ter_ctx cx;
    memset(&cx, 0, sizeof cx);
    em_store_scalar(&cx.value, dt, p->value);
    cx.has_lo = p->has_lo;
    cx.has_hi = p->has_hi;
    const em_tensor *ops[4] = { out, a, b, c };
    return em_ew_launch(4, ops, fn, &cx, ter_names[op]);
}

void em_cpu_register_ternary(em_backend *be)
{
    be->kernels[EM_K_TERNARY] = (em_kernel_fn)cpu_ternary;
}
