/* Small helpers for writing CPU kernels once per element type.
 * EM_SWITCH_*(dt, ...) expands its body once per dtype with `scalar_t` bound to the
 * C type; bool is stored as uint8_t (0 or 1). float16/bfloat16 are not in the math
 * switches: ops compute those in float32 (see em_compute_dtype). */
#ifndef EM_CPU_TYPED_H
#define EM_CPU_TYPED_H

#include <math.h>
#include <stdint.h>

#include "../dtype.h"

#define EM_CASE_(ENUM, T, ...) \
    case ENUM: {               \
        typedef T scalar_t;    \
        __VA_ARGS__;           \
    } break;

/* float32, float64 */
#define EM_SWITCH_FLOAT(dt, ...)                  \
    switch (dt) {                                 \
        EM_CASE_(EM_FLOAT32, float, __VA_ARGS__)  \
        EM_CASE_(EM_FLOAT64, double, __VA_ARGS__) \
    default: break;                               \
    }

/* the integral types, bool excluded */
#define EM_SWITCH_INT(dt, ...)                    \
    switch (dt) {                                 \
        EM_CASE_(EM_UINT8, uint8_t, __VA_ARGS__)  \
        EM_CASE_(EM_INT8, int8_t, __VA_ARGS__)    \
        EM_CASE_(EM_INT16, int16_t, __VA_ARGS__)  \
        EM_CASE_(EM_INT32, int32_t, __VA_ARGS__)  \
        EM_CASE_(EM_INT64, int64_t, __VA_ARGS__)  \
    default: break;                               \
    }

/* every type math runs in: bool, integers, float32, float64 */
#define EM_SWITCH_NUMERIC(dt, ...)                \
    switch (dt) {                                 \
        EM_CASE_(EM_BOOL, uint8_t, __VA_ARGS__)   \
        EM_CASE_(EM_UINT8, uint8_t, __VA_ARGS__)  \
        EM_CASE_(EM_INT8, int8_t, __VA_ARGS__)    \
        EM_CASE_(EM_INT16, int16_t, __VA_ARGS__)  \
        EM_CASE_(EM_INT32, int32_t, __VA_ARGS__)  \
        EM_CASE_(EM_INT64, int64_t, __VA_ARGS__)  \
        EM_CASE_(EM_FLOAT32, float, __VA_ARGS__)  \
        EM_CASE_(EM_FLOAT64, double, __VA_ARGS__) \
    default: break;                               \
    }

/* Float -> integer conversion defined for every input: nan gives 0, out-of-range saturates. */
static inline int64_t em_sat_i64(double v)
{
    if (v != v)
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

#endif
