/* CPU unary elementwise kernels: one loop per (op, dtype), a contiguous branch
 * the compiler vectorises and a strided one. Float math is libm through tgmath,
 * so float32 calls expf, logf, ... */
#include <float.h>
#include <tgmath.h>

#include "cpu.h"
#include "ew.h"

typedef struct un_ctx {
    uint64_t lo, hi;       /* clamp bounds in the loop's type */
    bool has_lo, has_hi;
    double nan, posinf, neginf;
} un_ctx;

/* o[k] = EXPR(x) with x of type T, o of type OT; PRE runs once (reads ctx). */
#define UN_LOOP(NAME, T, OT, PRE, EXPR)                                            \
    static void NAME(char **d, const int64_t *s, int64_t n, void *ctx)             \
    {                                                                              \
        const un_ctx *c = ctx;                                                     \
        (void)c;                                                                   \
        PRE;                                                                       \
        if (s[0] == sizeof(OT) && s[1] == sizeof(T)) {                             \
            OT *restrict o = (OT *)d[0];                                           \
            const T *restrict in = (const T *)d[1];                                \
            _Pragma("omp simd")                                                    \
            for (int64_t k = 0; k < n; k++) {                                      \
                T x = in[k];                                                       \
                (void)x;                                                           \
                o[k] = (OT)(EXPR);                                                 \
            }                                                                      \
            return;                                                                \
        }                                                                          \
        for (int64_t k = 0; k < n; k++) {                                          \
            T x = *(const T *)(d[1] + k * s[1]);                                   \
            (void)x;                                                               \
            *(OT *)(d[0] + k * s[0]) = (OT)(EXPR);                                 \
        }                                                                          \
    }

#define NOPRE (void)0
/* float32 and float64 */
#define DEF_F(OP, PRE, EXPR) UN_LOOP(OP##_f32, float, float, PRE, EXPR) UN_LOOP(OP##_f64, double, double, PRE, EXPR)
/* signed integers (T and its unsigned UT are in scope) */
#define DEF_S_(OP, T, UT, SUF, PRE, EXPR) UN_LOOP(OP##_##SUF, T, T, typedef UT ut_; (void)sizeof(ut_); PRE, EXPR)
#define DEF_S(OP, PRE, EXPR)                                                                   \
    DEF_S_(OP, int8_t, uint8_t, i8, PRE, EXPR) DEF_S_(OP, int16_t, uint16_t, i16, PRE, EXPR) \
    DEF_S_(OP, int32_t, uint32_t, i32, PRE, EXPR) DEF_S_(OP, int64_t, uint64_t, i64, PRE, EXPR)
#define DEF_U8(OP, PRE, EXPR) UN_LOOP(OP##_u8, uint8_t, uint8_t, typedef uint8_t ut_; (void)sizeof(ut_); PRE, EXPR)
#define DEF_I(OP, PRE, EXPR) DEF_S(OP, PRE, EXPR) DEF_U8(OP, PRE, EXPR)
#define DEF_B(OP, EXPR) UN_LOOP(OP##_b8, uint8_t, uint8_t, NOPRE, EXPR)
/* predicates: bool output */
#define DEF_PF(OP, EXPR) UN_LOOP(OP##_f32, float, uint8_t, NOPRE, EXPR) UN_LOOP(OP##_f64, double, uint8_t, NOPRE, EXPR)
#define DEF_PI(OP, EXPR)                                                                               \
    UN_LOOP(OP##_u8, uint8_t, uint8_t, NOPRE, EXPR) UN_LOOP(OP##_i8, int8_t, uint8_t, NOPRE, EXPR)     \
    UN_LOOP(OP##_i16, int16_t, uint8_t, NOPRE, EXPR) UN_LOOP(OP##_i32, int32_t, uint8_t, NOPRE, EXPR)  \
    UN_LOOP(OP##_i64, int64_t, uint8_t, NOPRE, EXPR) UN_LOOP(OP##_b8, uint8_t, uint8_t, NOPRE, EXPR)

#define TT __typeof__(x)

/* ---- keep the dtype ---- */
DEF_F(neg, NOPRE, -x)
DEF_I(neg, NOPRE, EM_WNEG(TT, ut_, x))
DEF_F(abs, NOPRE, fabs(x))
DEF_S(abs, NOPRE, x < 0 ? EM_WNEG(TT, ut_, x) : x)
DEF_U8(abs, NOPRE, x)
DEF_F(sign, NOPRE, (0 < x) - (x < 0))
DEF_S(sign, NOPRE, (0 < x) - (x < 0))
DEF_U8(sign, NOPRE, x != 0)
DEF_B(sign, x)
DEF_F(floor, NOPRE, floor(x))
DEF_F(ceil, NOPRE, ceil(x))
DEF_F(round, NOPRE, nearbyint(x))
DEF_F(trunc, NOPRE, trunc(x))
DEF_I(ident, NOPRE, x)
DEF_F(relu, NOPRE, x < 0 ? 0 : x)
DEF_S(relu, NOPRE, x < 0 ? 0 : x)
DEF_F(frac, NOPRE, x - trunc(x))
#define CLAMP_PRE(T)                                                \
    T lo = EM_CTX_VAL(T, c->lo), hi = EM_CTX_VAL(T, c->hi);         \
    const bool hl = c->has_lo, hh = c->has_hi
#define CLAMP_EXPR(x) (hh && ((hl && x < lo) ? lo : x) > hi) ? hi : ((hl && x < lo) ? lo : x)
UN_LOOP(clamp_f32, float, float, CLAMP_PRE(float), CLAMP_EXPR(x))
UN_LOOP(clamp_f64, double, double, CLAMP_PRE(double), CLAMP_EXPR(x))
UN_LOOP(clamp_u8, uint8_t, uint8_t, CLAMP_PRE(uint8_t), CLAMP_EXPR(x))
UN_LOOP(clamp_i8, int8_t, int8_t, CLAMP_PRE(int8_t), CLAMP_EXPR(x))
UN_LOOP(clamp_i16, int16_t, int16_t, CLAMP_PRE(int16_t), CLAMP_EXPR(x))
UN_LOOP(clamp_i32, int32_t, int32_t, CLAMP_PRE(int32_t), CLAMP_EXPR(x))
UN_LOOP(clamp_i64, int64_t, int64_t, CLAMP_PRE(int64_t), CLAMP_EXPR(x))
#define NTN_PRE(T) const T vn = (T)c->nan, vp = (T)c->posinf, vm = (T)c->neginf
UN_LOOP(ntn_f32, float, float, NTN_PRE(float), x != x ? vn : x == INFINITY ? vp : x == -INFINITY ? vm : x)
UN_LOOP(ntn_f64, double, double, NTN_PRE(double), x != x ? vn : x == INFINITY ? vp : x == -INFINITY ? vm : x)
DEF_I(bnot, NOPRE, ~x)
DEF_B(bnot, !x)

/* ---- float results ---- */
DEF_F(exp, NOPRE, exp(x))
DEF_F(expm1, NOPRE, expm1(x))
DEF_F(log, NOPRE, log(x))
DEF_F(log1p, NOPRE, log1p(x))
DEF_F(log2, NOPRE, log2(x))
DEF_F(log10, NOPRE, log10(x))
DEF_F(sqrt, NOPRE, sqrt(x))
DEF_F(rsqrt, NOPRE, 1 / sqrt(x))
DEF_F(reciprocal, NOPRE, 1 / x)
DEF_F(sin, NOPRE, sin(x))
DEF_F(cos, NOPRE, cos(x))
DEF_F(tan, NOPRE, tan(x))
DEF_F(asin, NOPRE, asin(x))
DEF_F(acos, NOPRE, acos(x))
DEF_F(atan, NOPRE, atan(x))
DEF_F(sinh, NOPRE, sinh(x))
DEF_F(cosh, NOPRE, cosh(x))
DEF_F(tanh, NOPRE, tanh(x))
DEF_F(sigmoid, NOPRE, 1 / (1 + exp(-x)))
DEF_F(erf, NOPRE, erf(x))

/* ---- bool results ---- */
DEF_PF(isnan, x != x)
DEF_PI(isnan, 0)
DEF_PF(isinf, isinf(x))
DEF_PI(isinf, 0)
DEF_PF(isfinite, isfinite(x))
DEF_PI(isfinite, 1)
DEF_PF(lnot, !x)
DEF_PI(lnot, !x)

#define R_F(OP) [EM_FLOAT32] = OP##_f32, [EM_FLOAT64] = OP##_f64
#define R_S(OP) [EM_INT8] = OP##_i8, [EM_INT16] = OP##_i16, [EM_INT32] = OP##_i32, [EM_INT64] = OP##_i64
#define R_I(OP) R_S(OP), [EM_UINT8] = OP##_u8
#define R_B(OP) [EM_BOOL] = OP##_b8
#define R_ALL(OP) R_F(OP), R_I(OP), R_B(OP)

static const em_loop_fn un_table[EM_UN_COUNT][EM_DTYPE_COUNT] = {
    [EM_UN_NEG] = { R_F(neg), R_I(neg) },
    [EM_UN_ABS] = { R_F(abs), R_S(abs), [EM_UINT8] = abs_u8 },
    [EM_UN_SIGN] = { R_F(sign), R_S(sign), [EM_UINT8] = sign_u8, R_B(sign) },
    [EM_UN_FLOOR] = { R_F(floor), R_I(ident) },
    [EM_UN_CEIL] = { R_F(ceil), R_I(ident) },
    [EM_UN_ROUND] = { R_F(round), R_I(ident) },
    [EM_UN_TRUNC] = { R_F(trunc), R_I(ident) },
    [EM_UN_RELU] = { R_F(relu), R_S(relu), [EM_UINT8] = ident_u8 },
    [EM_UN_FRAC] = { R_F(frac) },
    [EM_UN_CLAMP] = { R_F(clamp), R_I(clamp) },
    [EM_UN_NAN_TO_NUM] = { R_F(ntn), R_I(ident), [EM_BOOL] = ident_u8 },
    [EM_UN_BITWISE_NOT] = { R_I(bnot), R_B(bnot) },
    [EM_UN_EXP] = { R_F(exp) },
    [EM_UN_EXPM1] = { R_F(expm1) },
    [EM_UN_LOG] = { R_F(log) },
    [EM_UN_LOG1P] = { R_F(log1p) },
    [EM_UN_LOG2] = { R_F(log2) },
    [EM_UN_LOG10] = { R_F(log10) },
    [EM_UN_SQRT] = { R_F(sqrt) },
    [EM_UN_RSQRT] = { R_F(rsqrt) },
    [EM_UN_RECIPROCAL] = { R_F(reciprocal) },
    [EM_UN_SIN] = { R_F(sin) },
    [EM_UN_COS] = { R_F(cos) },
    [EM_UN_TAN] = { R_F(tan) },
    [EM_UN_ASIN] = { R_F(asin) },
    [EM_UN_ACOS] = { R_F(acos) },
    [EM_UN_ATAN] = { R_F(atan) },
    [EM_UN_SINH] = { R_F(sinh) },
    [EM_UN_COSH] = { R_F(cosh) },
    [EM_UN_TANH] = { R_F(tanh) },
    [EM_UN_SIGMOID] = { R_F(sigmoid) },
    [EM_UN_ERF] = { R_F(erf) },
    [EM_UN_ISNAN] = { R_ALL(isnan) },
    [EM_UN_ISINF] = { R_ALL(isinf) },
    [EM_UN_ISFINITE] = { R_ALL(isfinite) },
    [EM_UN_LOGICAL_NOT] = { R_ALL(lnot) },
};

static double dtype_max(em_dtype dt)
{
    return dt == EM_FLOAT32 ? FLT_MAX : DBL_MAX;
}

static int cpu_unary(em_tensor *out, const em_tensor *x, em_unary_op op, const em_ew_params *p)
{
    em_loop_fn fn = un_table[op][x->dtype];
    if (!fn)
        return em_error("%s: not supported for %s tensors", em_unary_name(op), em_dtype_name(x->dtype));
    un_ctx c;
    memset(&c, 0, sizeof c);
    if (op == EM_UN_CLAMP) {
        c.has_lo = p->has_lo;
        c.has_hi = p->has_hi;
        if (c.has_lo)
            em_store_scalar(&c.lo, x->dtype, p->lo);
        if (c.has_hi)
            em_store_scalar(&c.hi, x->dtype, p->hi);
    } else if (op == EM_UN_NAN_TO_NUM) {
        c.nan = p->nan;
        c.posinf = p->has_posinf ? p->posinf : dtype_max(x->dtype);
        c.neginf = p->has_neginf ? p->neginf : -dtype_max(x->dtype);
    }
    const em_tensor *ops[2] = { out, x };
    return em_ew_launch(2, ops, fn, &c, em_unary_name(op));
}

void em_cpu_register_unary(em_backend *be)
{
    be->kernels[EM_K_UNARY] = (em_kernel_fn)cpu_unary;
}
