/* CPU binary elementwise kernels: one loop per (op, dtype) with branches for the
 * all-contiguous case and a broadcast single element on either side (both
 * vectorise), and a strided fallback. Integer arithmetic wraps (computed in the
 * unsigned type); integer division by zero is caught before any write. */
#include <tgmath.h>

#include "cpu.h"
#include "ew.h"

/* o[k] = EXPR(a, b); PRE runs once per call (reads ctx, which points at alpha's
 * bits in the loop's type). */
#define BIN_LOOP(NAME, T, OT, PRE, EXPR)                                                   \
    static void NAME(char **d, const int64_t *s, int64_t n, void *ctx)                     \
    {                                                                                      \
        typedef T T_;                                                                      \
        (void)sizeof(T_);                                                                  \
        const uint64_t *c = ctx;                                                           \
        (void)c;                                                                           \
        PRE;                                                                               \
        if (s[0] == sizeof(OT) && s[1] == sizeof(T) && s[2] == sizeof(T)) {                \
            OT *restrict o = (OT *)d[0];                                                   \
            const T *restrict x = (const T *)d[1], *restrict y = (const T *)d[2];          \
            _Pragma("omp simd")                                                            \
            for (int64_t k = 0; k < n; k++) {                                              \
                T a = x[k], b = y[k];                                                      \
                o[k] = (OT)(EXPR);                                                         \
            }                                                                              \
        } else if (s[0] == sizeof(OT) && s[1] == sizeof(T) && s[2] == 0) {                 \
            OT *restrict o = (OT *)d[0];                                                   \
            const T *restrict x = (const T *)d[1];                                         \
            const T b = *(const T *)d[2];                                                  \
            _Pragma("omp simd")                                                            \
            for (int64_t k = 0; k < n; k++) {                                              \
                T a = x[k];                                                                \
                o[k] = (OT)(EXPR);                                                         \
            }                                                                              \
        } else if (s[0] == sizeof(OT) && s[1] == 0 && s[2] == sizeof(T)) {                 \
            OT *restrict o = (OT *)d[0];                                                   \
            const T *restrict y = (const T *)d[2];                                         \
            const T a = *(const T *)d[1];                                                  \
            _Pragma("omp simd")                                                            \
            for (int64_t k = 0; k < n; k++) {                                              \
                T b = y[k];                                                                \
                o[k] = (OT)(EXPR);                                                         \
            }                                                                              \
        } else {                                                                           \
            for (int64_t k = 0; k < n; k++) {                                              \
                T a = *(const T *)(d[1] + k * s[1]), b = *(const T *)(d[2] + k * s[2]);    \
                *(OT *)(d[0] + k * s[0]) = (OT)(EXPR);                                     \
            }                                                                              \
        }                                                                                  \
    }

#define NOPRE (void)0
#define ALPHA_PRE(T) const T al = EM_CTX_VAL(T, *c)
#define UT_PRE(UT) typedef UT ut_; (void)sizeof(ut_)
#define TT T_

#define DEF_F(OP, PRE, EXPR) BIN_LOOP(OP##_f32, float, float, PRE, EXPR) BIN_LOOP(OP##_f64, double, double, PRE, EXPR)
#define DEF_S(OP, PRE, EXPR)                                                   \
    BIN_LOOP(OP##_i8, int8_t, int8_t, UT_PRE(uint8_t); PRE, EXPR)              \
    BIN_LOOP(OP##_i16, int16_t, int16_t, UT_PRE(uint16_t); PRE, EXPR)          \
    BIN_LOOP(OP##_i32, int32_t, int32_t, UT_PRE(uint32_t); PRE, EXPR)          \
    BIN_LOOP(OP##_i64, int64_t, int64_t, UT_PRE(uint64_t); PRE, EXPR)
#define DEF_U8(OP, PRE, EXPR) BIN_LOOP(OP##_u8, uint8_t, uint8_t, UT_PRE(uint8_t); PRE, EXPR)
#define DEF_I(OP, PRE, EXPR) DEF_S(OP, PRE, EXPR) DEF_U8(OP, PRE, EXPR)
#define DEF_B(OP, PRE, EXPR) BIN_LOOP(OP##_b8, uint8_t, uint8_t, PRE, EXPR)
/* predicates: bool output, every input type */
#define DEF_P(OP, EXPR)                                                                                    \
    BIN_LOOP(OP##_f32, float, uint8_t, NOPRE, EXPR) BIN_LOOP(OP##_f64, double, uint8_t, NOPRE, EXPR)       \
    BIN_LOOP(OP##_u8, uint8_t, uint8_t, NOPRE, EXPR) BIN_LOOP(OP##_i8, int8_t, uint8_t, NOPRE, EXPR)       \
    BIN_LOOP(OP##_i16, int16_t, uint8_t, NOPRE, EXPR) BIN_LOOP(OP##_i32, int32_t, uint8_t, NOPRE, EXPR)    \
    BIN_LOOP(OP##_i64, int64_t, uint8_t, NOPRE, EXPR) BIN_LOOP(OP##_b8, uint8_t, uint8_t, NOPRE, EXPR)

/* ---- float helpers, Python semantics for floor division and remainder ---- */
#define DEF_FLOAT_HELPERS(T, SUF)                                                  \
    static inline T floordiv_##SUF(T a, T b)                                       \
    {                                                                              \
        if (b == 0)                                                                \
            return a / b;                                                          \
        T mod = fmod(a, b);                                                        \
        T div = (a - mod) / b;                                                     \
        if (mod != 0 && (b < 0) != (mod < 0))                                      \
            div -= 1;                                                              \
        if (div == 0)                                                              \
            return copysign((T)0, a / b);                                          \
        T fl = floor(div);                                                         \
        if (div - fl > (T)0.5)                                                     \
            fl += 1;                                                               \
        return fl;                                                                 \
    }                                                                              \
    static inline T remainder_##SUF(T a, T b)                                      \
    {                                                                              \
        T r = fmod(a, b);                                                          \
        if (r != 0 && (r < 0) != (b < 0))                                          \
            r += b;                                                                \
        return r;                                                                  \
    }                                                                              \
    static inline T maximum_##SUF(T a, T b) { return a != a ? a : b != b ? b : a > b ? a : b; } \
    static inline T minimum_##SUF(T a, T b) { return a != a ? a : b != b ? b : a < b ? a : b; }
DEF_FLOAT_HELPERS(float, f32)
DEF_FLOAT_HELPERS(double, f64)
#define FSEL(name, a, b) _Generic((a), float: name##_f32, double: name##_f64)(a, b)

/* integer power by squaring, wrapping; negative exponents give 0 except for 1 and -1 */
static inline int64_t ipow64(int64_t base, int64_t e)
{
    if (e < 0)
        return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)base;
    while (e) {
        if (e & 1)
            r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* shifts defined for every amount: out-of-range left shifts give 0, right shifts the sign */
#define SHL(T, UT, a, b) ((b) < 0 || (b) >= (TT)(8 * sizeof(T)) ? (T)0 : (T)((UT)(a) << (b)))
#define SHR(T, a, b) ((b) < 0 || (b) >= (TT)(8 * sizeof(T)) ? (T)((a) < 0 ? -1 : 0) : (T)((a) >> (b)))

/* ---- arithmetic ---- */
DEF_F(add, NOPRE, a + b)
DEF_I(add, NOPRE, EM_WADD(TT, ut_, a, b))
DEF_B(add, NOPRE, a | b)
DEF_F(adda, ALPHA_PRE(TT), a + al * b)
DEF_I(adda, ALPHA_PRE(TT), EM_WADD(TT, ut_, a, EM_WMUL(TT, ut_, al, b)))
DEF_B(adda, ALPHA_PRE(uint8_t), a | (al & b))
DEF_F(sub, NOPRE, a - b)
DEF_I(sub, NOPRE, EM_WSUB(TT, ut_, a, b))
DEF_F(mul, NOPRE, a * b)
DEF_I(mul, NOPRE, EM_WMUL(TT, ut_, a, b))
DEF_B(mul, NOPRE, a & b)
DEF_F(div, NOPRE, a / b)
DEF_F(fdiv, NOPRE, FSEL(floordiv, a, b))
DEF_S(fdiv, NOPRE,
      b == 0 ? 0 : b == -1 ? EM_WNEG(TT, ut_, a) : (a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0)))
DEF_U8(fdiv, NOPRE, b == 0 ? 0 : a / b)
DEF_F(tdiv, NOPRE, trunc(a / b))
DEF_S(tdiv, NOPRE, b == 0 ? 0 : b == -1 ? EM_WNEG(TT, ut_, a) : a / b)
DEF_U8(tdiv, NOPRE, b == 0 ? 0 : a / b)
DEF_F(rem, NOPRE, FSEL(remainder, a, b))
DEF_S(rem, NOPRE, (b == 0 || b == -1) ? 0 : (a % b != 0 && (a % b < 0) != (b < 0)) ? a % b + b : a % b)
DEF_U8(rem, NOPRE, b == 0 ? 0 : a % b)
DEF_F(fmod, NOPRE, fmod(a, b))
DEF_S(fmod, NOPRE, (b == 0 || b == -1) ? 0 : a % b)
DEF_U8(fmod, NOPRE, b == 0 ? 0 : a % b)
DEF_F(pow, NOPRE, pow(a, b))
DEF_I(pow, NOPRE, ipow64(a, b))
DEF_F(atan2, NOPRE, atan2(a, b))
DEF_F(max, NOPRE, FSEL(maximum, a, b))
DEF_I(max, NOPRE, a > b ? a : b)
DEF_B(max, NOPRE, a | b)
DEF_F(min, NOPRE, FSEL(minimum, a, b))
DEF_I(min, NOPRE, a < b ? a : b)
DEF_B(min, NOPRE, a & b)

/* ---- bits ---- */
DEF_I(band, NOPRE, a & b)
DEF_B(band, NOPRE, a & b)
DEF_I(bor, NOPRE, a | b)
DEF_B(bor, NOPRE, a | b)
DEF_I(bxor, NOPRE, a ^ b)
DEF_B(bxor, NOPRE, a ^ b)
DEF_S(shl, NOPRE, SHL(TT, ut_, a, b))
DEF_U8(shl, NOPRE, (b >= 8 ? 0 : (uint8_t)(a << b)))
DEF_S(shr, NOPRE, SHR(TT, a, b))
DEF_U8(shr, NOPRE, (b >= 8 ? 0 : a >> b))

/* ---- predicates ---- */
DEF_P(eq, a == b)
DEF_P(ne, a != b)
DEF_P(lt, a < b)
DEF_P(le, a <= b)
DEF_P(gt, a > b)
DEF_P(ge, a >= b)
DEF_P(land, a != 0 && b != 0)
DEF_P(lor, a != 0 || b != 0)
DEF_P(lxor, (a != 0) != (b != 0))

#define R_F(OP) [EM_FLOAT32] = OP##_f32, [EM_FLOAT64] = OP##_f64
#define R_S(OP) [EM_INT8] = OP##_i8, [EM_INT16] = OP##_i16, [EM_INT32] = OP##_i32, [EM_INT64] = OP##_i64
#define R_I(OP) R_S(OP), [EM_UINT8] = OP##_u8
#define R_B(OP) [EM_BOOL] = OP##_b8
#define R_ALL(OP) R_F(OP), R_I(OP), R_B(OP)

static const em_loop_fn bin_table[EM_BIN_COUNT][EM_DTYPE_COUNT] = {
    [EM_BIN_ADD] = { R_ALL(add) },
    [EM_BIN_SUB] = { R_F(sub), R_I(sub) },
    [EM_BIN_MUL] = { R_ALL(mul) },
    [EM_BIN_DIV] = { R_F(div) },
    [EM_BIN_DIV_FLOOR] = { R_F(fdiv), R_I(fdiv) },
    [EM_BIN_DIV_TRUNC] = { R_F(tdiv), R_I(tdiv) },
    [EM_BIN_REMAINDER] = { R_F(rem), R_I(rem) },
    [EM_BIN_FMOD] = { R_F(fmod), R_I(fmod) },
    [EM_BIN_POW] = { R_F(pow), R_I(pow) },
    [EM_BIN_ATAN2] = { R_F(atan2) },
    [EM_BIN_MAXIMUM] = { R_ALL(max) },
    [EM_BIN_MINIMUM] = { R_ALL(min) },
    [EM_BIN_BITWISE_AND] = { R_I(band), R_B(band) },
    [EM_BIN_BITWISE_OR] = { R_I(bor), R_B(bor) },
    [EM_BIN_BITWISE_XOR] = { R_I(bxor), R_B(bxor) },
    [EM_BIN_SHL] = { R_I(shl) },
    [EM_BIN_SHR] = { R_I(shr) },
    [EM_BIN_EQ] = { R_ALL(eq) },
    [EM_BIN_NE] = { R_ALL(ne) },
    [EM_BIN_LT] = { R_ALL(lt) },
    [EM_BIN_LE] = { R_ALL(le) },
    [EM_BIN_GT] = { R_ALL(gt) },
    [EM_BIN_GE] = { R_ALL(ge) },
    [EM_BIN_LOGICAL_AND] = { R_ALL(land) },
    [EM_BIN_LOGICAL_OR] = { R_ALL(lor) },
    [EM_BIN_LOGICAL_XOR] = { R_ALL(lxor) },
};
static const em_loop_fn adda_table[EM_DTYPE_COUNT] = { R_ALL(adda) };

/* ---- integer division by zero: scanned before anything is written ---- */
#define DEF_ZSCAN(T)                                                                   \
    static void zscan_##T(char **d, const int64_t *s, int64_t n, void *ctx)            \
    {                                                                                  \
        int *found = ctx;                                                              \
        for (int64_t k = 0; k < n; k++)                                                \
            if (*(const T *)(d[0] + k * s[0]) == 0) {                                  \
                *found = 1;                                                            \
                return;                                                                \
            }                                                                          \
    }
DEF_ZSCAN(uint8_t)
DEF_ZSCAN(uint16_t)
DEF_ZSCAN(uint32_t)
DEF_ZSCAN(uint64_t)

static bool has_zero(const em_tensor *t)
{
    em_iter it;
    const em_tensor *ops[1] = { t };
    if (em_iter_init(&it, 1, ops, "div") < 0)
        return false;
    int found = 0;
    em_loop_fn fn;
    switch (em_dtype_size(t->dtype)) {
    case 1: fn = zscan_uint8_t; break;
    case 2: fn = zscan_uint16_t; break;
    case 4: fn = zscan_uint32_t; break;
    default: fn = zscan_uint64_t; break;
    }
    em_iter_run(&it, fn, &found, false);
    return found != 0;
}

static int cpu_binary(em_tensor *out, const em_tensor *a, const em_tensor *b, em_binary_op op,
                      const em_ew_params *p)
{
    em_dtype dt = a->dtype;
    em_loop_fn fn = bin_table[op][dt];
    uint64_t alpha = 0;
    if ((op == EM_BIN_ADD || op == EM_BIN_SUB) && !(p->alpha.is_int && p->alpha.i == 1)) {
        em_scalar al = p->alpha;
        if (op == EM_BIN_SUB) /* a - alpha*b == a + (-alpha)*b */
            al = al.is_int ? em_scalar_int((int64_t)(0u - (uint64_t)al.i)) : em_scalar_double(-al.d);
        em_store_scalar(&alpha, dt, al);
        fn = adda_table[dt];
    }
    if (!fn)
        return em_error("%s: not supported for %s tensors", em_binary_name(op), em_dtype_name(dt));
    if (em_dtype_is_int(dt) &&
        (op == EM_BIN_DIV_FLOOR || op == EM_BIN_DIV_TRUNC || op == EM_BIN_REMAINDER || op == EM_BIN_FMOD) &&
        has_zero(b))
        return EM_EW_ZERO_DIVISION;
    const em_tensor *ops[3] = { out, a, b };
    return em_ew_launch(3, ops, fn, &alpha, em_binary_name(op));
}

void em_cpu_register_binary(em_backend *be)
{
    be->kernels[EM_K_BINARY] = (em_kernel_fn)cpu_binary;
}
