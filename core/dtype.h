/* Element types: sizes, names, categories, type promotion, and the
 * float16 / bfloat16 <-> float32 conversions. */
#ifndef EM_DTYPE_H
#define EM_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum em_dtype {
    EM_BOOL = 0,
    EM_UINT8,
    EM_INT8,
    EM_INT16,
    EM_INT32,
    EM_INT64,
    EM_FLOAT16,
    EM_BFLOAT16,
    EM_FLOAT32,
    EM_FLOAT64,
    EM_DTYPE_COUNT
} em_dtype;

#define EM_DEFAULT_FLOAT EM_FLOAT32

size_t em_dtype_size(em_dtype dt);
const char *em_dtype_name(em_dtype dt);        /* "float32" */
const char *em_dtype_tensor_type(em_dtype dt); /* "torch.FloatTensor" */
/* Parses "float32", "float", "torch.float32", "torch.FloatTensor", ...; -1 if unknown. */
int em_dtype_parse(const char *name);

static inline bool em_dtype_is_float(em_dtype dt)
{
    return dt == EM_FLOAT16 || dt == EM_BFLOAT16 || dt == EM_FLOAT32 || dt == EM_FLOAT64;
}
static inline bool em_dtype_is_int(em_dtype dt) /* integral, bool excluded */
{
    return dt >= EM_UINT8 && dt <= EM_INT64;
}
/* float16/bfloat16 have storage and conversion only: math on them computes in float32. */
static inline bool em_dtype_is_reduced(em_dtype dt)
{
    return dt == EM_FLOAT16 || dt == EM_BFLOAT16;
}
/* 0 = bool, 1 = integral, 2 = floating */
static inline int em_dtype_category(em_dtype dt)
{
    return dt == EM_BOOL ? 0 : em_dtype_is_float(dt) ? 2 : 1;
}

/* The smallest type both a and b convert to without loss of category (PyTorch's promote_types). */
em_dtype em_dtype_promote(em_dtype a, em_dtype b);

/* Half and bfloat16, stored as raw 16-bit patterns. */
typedef uint16_t em_half;
typedef uint16_t em_bfloat16;
float em_half_to_float(em_half h);
em_half em_float_to_half(float f);
float em_bf16_to_float(em_bfloat16 h);
em_bfloat16 em_float_to_bf16(float f);

/* A scalar as Lua hands it over: an exact integer or a double. */
typedef struct em_scalar {
    bool is_int;
    bool is_bool;
    int64_t i;
    double d;
} em_scalar;

static inline em_scalar em_scalar_int(int64_t v)
{
    em_scalar s = { true, false, v, (double)v };
    return s;
}
static inline em_scalar em_scalar_double(double v)
{
    em_scalar s = { false, false, (int64_t)0, v };
    return s;
}
static inline em_scalar em_scalar_bool(bool v)
{
    em_scalar s = { true, true, v ? 1 : 0, v ? 1.0 : 0.0 };
    return s;
}
/* The dtype a lone scalar has: bool, int64 or the default float. */
static inline em_dtype em_scalar_dtype(em_scalar s)
{
    return s.is_bool ? EM_BOOL : s.is_int ? EM_INT64 : EM_DEFAULT_FLOAT;
}

/* Reads element `p` of type dt as double / int64; writes a scalar into `p`. */
double em_load_double(const void *p, em_dtype dt);
int64_t em_load_int64(const void *p, em_dtype dt);
void em_store_scalar(void *p, em_dtype dt, em_scalar v);

#endif
