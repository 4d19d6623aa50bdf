/* CPU copy with dtype conversion (every pair of dtypes) and fill. */
#include "../dispatch.h"
#include "../iter.h"
#include "../copy.h"
#include "cpu.h"
#include "typed.h"

#include <string.h>

/* ---- loading a source element as int64 (integral kinds) or double (float kinds) ---- */
#define LOAD_I(T, p) ((int64_t) * (const T *)(p))
#define LOAD_H(T, p) ((double)em_half_to_float(*(const em_half *)(p)))
#define LOAD_B(T, p) ((double)em_bf16_to_float(*(const em_bfloat16 *)(p)))
#define LOAD_F(T, p) ((double)*(const T *)(p))

/* ---- storing an int64 or double into a destination element ---- */
#define TO_INT(T, x) _Generic((x), double: (T)em_sat_i64((double)(x)), default: (T)(x))
#define STORE_b8(p, x) (*(uint8_t *)(p) = (uint8_t)((x) != 0))
#define STORE_u8(p, x) (*(uint8_t *)(p) = TO_INT(uint8_t, x))
#define STORE_i8(p, x) (*(int8_t *)(p) = TO_INT(int8_t, x))
#define STORE_i16(p, x) (*(int16_t *)(p) = TO_INT(int16_t, x))
#define STORE_i32(p, x) (*(int32_t *)(p) = TO_INT(int32_t, x))
#define STORE_i64(p, x) (*(int64_t *)(p) = TO_INT(int64_t, x))
#define STORE_f16(p, x) (*(em_half *)(p) = em_float_to_half((float)(x)))
#define STORE_bf16(p, x) (*(em_bfloat16 *)(p) = em_float_to_bf16((float)(x)))
#define STORE_f32(p, x) (*(float *)(p) = (float)(x))
#define STORE_f64(p, x) (*(double *)(p) = (double)(x))

#define DEF_COPY(DN, SN, ST, SK)                                                         \
    static void copy_##DN##_##SN(char **data, const int64_t *s, int64_t n, void *ctx)    \
    {                                                                                    \
        (void)ctx;                                                                       \
        char *o = data[0];                                                               \
        const char *in = data[1];                                                        \
        for (int64_t k = 0; k < n; k++)                                                  \
            STORE_##DN(o + k * s[0], LOAD_##SK(ST, in + k * s[1]));                      \
    }

#define SOURCES(X, DN)                                                                     \
    X(DN, b8, uint8_t, I) X(DN, u8, uint8_t, I) X(DN, i8, int8_t, I) X(DN, i16, int16_t, I) \
    X(DN, i32, int32_t, I) X(DN, i64, int64_t, I) X(DN, f16, em_half, H)                     \
    X(DN, bf16, em_bfloat16, B) X(DN, f32, float, F) X(DN, f64, double, F)

#define DESTS(X) X(b8) X(u8) X(i8) X(i16) X(i32) X(i64) X(f16) X(bf16) X(f32) X(f64)

#define DEF_ROW(DN) SOURCES(DEF_COPY, DN)
DESTS(DEF_ROW)

/* table[dst][src], in em_dtype order (bool, u8, i8, i16, i32, i64, f16, bf16, f32, f64) */
#define ROW_ENTRY(DN, SN, ST, SK) copy_##DN##_##SN,
#define TABLE_ROW(DN) { SOURCES(ROW_ENTRY, DN) },
static const em_loop_fn copy_table[EM_DTYPE_COUNT][EM_DTYPE_COUNT] = { DESTS(TABLE_ROW) };

/* Same-dtype copy: element size is all that matters. */
#define DEF_RAW(T)                                                                   \
    static void copy_raw_##T(char **data, const int64_t *s, int64_t n, void *ctx)    \
    {                                                                                \
        (void)ctx;                                                                   \
        if (s[0] == sizeof(T) && s[1] == sizeof(T)) {                                \
            memcpy(data[0], data[1], (size_t)n * sizeof(T));                         \
            return;                                                                  \
        }                                                                            \
        for (int64_t k = 0; k < n; k++)                                              \
            *(T *)(data[0] + k * s[0]) = *(const T *)(data[1] + k * s[1]);           \
    }
DEF_RAW(uint8_t)
DEF_RAW(uint16_t)
DEF_RAW(uint32_t)
DEF_RAW(uint64_t)

static int cpu_copy(em_tensor *dst, const em_tensor *src)
{
    const em_tensor *ops[2] = { dst, src };
    em_iter it;
    if (em_iter_init(&it, 2, ops, "copy_") < 0)
        return -1;
    em_loop_fn fn;
    if (dst->dtype == src->dtype) {
        switch (em_dtype_size(dst->dtype)) {
        case 1: fn = copy_raw_uint8_t; break;
        case 2: fn = copy_raw_uint16_t; break;
        case 4: fn = copy_raw_uint32_t; break;
        default: fn = copy_raw_uint64_t; break;
        }
    } else {
        fn = copy_table[dst->dtype][src->dtype];
    }
    em_iter_run(&it, fn, NULL, true);
    return 0;
}

#define DEF_FILL(T)                                                                  \
    static void fill_##T(char **data, const int64_t *s, int64_t n, void *ctx)        \
    {                                                                                \
        T v = *(const T *)ctx;                                                       \
        if (s[0] == sizeof(T)) {                                                     \
            T *o = (T *)data[0];                                                     \
            for (int64_t k = 0; k < n; k++)                                          \
                o[k] = v;                                                            \
            return;                                                                  \
        }                                                                            \
        for (int64_t k = 0; k < n; k++)                                              \
            *(T *)(data[0] + k * s[0]) = v;                                          \
    }
DEF_FILL(uint8_t)
DEF_FILL(uint16_t)
DEF_FILL(uint32_t)
DEF_FILL(uint64_t)

static int cpu_fill(em_tensor *dst, em_scalar v)
{
    const em_tensor *ops[1] = { dst };
    em_iter it;
    if (em_iter_init(&it, 1, ops, "fill_") < 0)
        return -1;
    uint64_t bits = 0;
    em_store_scalar(&bits, dst->dtype, v);
    em_loop_fn fn;
    switch (em_dtype_size(dst->dtype)) {
    case 1: fn = fill_uint8_t; break;
    case 2: fn = fill_uint16_t; break;
    case 4: fn = fill_uint32_t; break;
    default: fn = fill_uint64_t; break;
    }
    em_iter_run(&it, fn, &bits, true);
    return 0;
}

void em_cpu_register_copy(em_backend *be)
{
    be->kernels[EM_K_COPY] = (em_kernel_fn)cpu_copy;
    be->kernels[EM_K_FILL] = (em_kernel_fn)cpu_fill;
}
