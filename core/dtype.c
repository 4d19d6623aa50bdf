/* Element types: names, sizes, promotion and 16-bit float conversion. */
#include "dtype.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    const char *tensor_type;
    size_t size;
} dtype_info[EM_DTYPE_COUNT] = {
    [EM_BOOL] = { "bool", "torch.BoolTensor", 1 },
    [EM_UINT8] = { "uint8", "torch.ByteTensor", 1 },
    [EM_INT8] = { "int8", "torch.CharTensor", 1 },
    [EM_INT16] = { "int16", "torch.ShortTensor", 2 },
    [EM_INT32] = { "int32", "torch.IntTensor", 4 },
    [EM_INT64] = { "int64", "torch.LongTensor", 8 },
    [EM_FLOAT16] = { "float16", "torch.HalfTensor", 2 },
    [EM_BFLOAT16] = { "bfloat16", "torch.BFloat16Tensor", 2 },
    [EM_FLOAT32] = { "float32", "torch.FloatTensor", 4 },
    [EM_FLOAT64] = { "float64", "torch.DoubleTensor", 8 },
};

static const struct {
    const char *alias;
    em_dtype dt;
} dtype_aliases[] = {
    { "float", EM_FLOAT32 }, { "double", EM_FLOAT64 }, { "half", EM_FLOAT16 },
    { "long", EM_INT64 },    { "int", EM_INT32 },      { "short", EM_INT16 },
    { "char", EM_INT8 },     { "byte", EM_UINT8 },
};

size_t em_dtype_size(em_dtype dt)
{
    return dtype_info[dt].size;
}

const char *em_dtype_name(em_dtype dt)
{
    return dtype_info[dt].name;
}

const char *em_dtype_tensor_type(em_dtype dt)
{
    return dtype_info[dt].tensor_type;
}

int em_dtype_parse(const char *name)
{
    if (strncmp(name, "torch.", 6) == 0)
        name += 6;
    for (int i = 0; i < EM_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_info[i].name) == 0 || strcmp(name, dtype_info[i].tensor_type + 6) == 0)
            return i;
    }
    for (size_t i = 0; i < sizeof dtype_aliases / sizeof dtype_aliases[0]; i++)
        if (strcmp(name, dtype_aliases[i].alias) == 0)
            return (int)dtype_aliases[i].dt;
    return -1;
}

em_dtype em_dtype_promote(em_dtype a, em_dtype b)
{
    if (a == b)
        return a;
    if (a == EM_BOOL)
        return b;
    if (b == EM_BOOL)
        return a;
    /* uint8 with a signed integer needs a wider signed type */
    if (a == EM_UINT8 && (b == EM_INT8))
        return EM_INT16;
    if (b == EM_UINT8 && (a == EM_INT8))
        return EM_INT16;
    /* half with bfloat16 meets at float32 */
    if ((a == EM_FLOAT16 && b == EM_BFLOAT16) || (a == EM_BFLOAT16 && b == EM_FLOAT16))
        return EM_FLOAT32;
    return a > b ? a : b;
}

/* IEEE binary16 <-> binary32, round to nearest even. */
float em_half_to_float(em_half h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

em_half em_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (em_half)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (em_half)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (absx < 0x33000000u)
            return (em_half)sign;
        uint32_t e = absx >> 23;
        uint32_t man = (absx & 0x7fffff) | 0x800000;
        /* value = man * 2^(e-150); in units of the half subnormal 2^-24 that is man >> (126 - e) */
        uint32_t keep_shift = 126 - e;
        uint32_t q = man >> keep_shift;
        uint32_t rem = man & ((1u << keep_shift) - 1);
        uint32_t halfway = 1u << (keep_shift - 1);
        if (rem > halfway || (rem == halfway && (q & 1)))
            q++;
        return (em_half)(sign | q);
    }
    uint32_t e = ((absx >> 23) - 127 + 15);
    uint32_t man = absx & 0x7fffff;
    uint32_t h = (e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return (em_half)(sign | h);
}

float em_bf16_to_float(em_bfloat16 h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

em_bfloat16 em_float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000u)
        return (em_bfloat16)((x >> 16) | 0x40); /* quiet nan */
    uint32_t lsb = (x >> 16) & 1;
    x += 0x7fff + lsb;
    return (em_bfloat16)(x >> 16);
}

double em_load_double(const void *p, em_dtype dt)
{
    switch (dt) {
    case EM_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    case EM_UINT8: return *(const uint8_t *)p;
    case EM_INT8: return *(const int8_t *)p;
    case EM_INT16: return *(const int16_t *)p;
    case EM_INT32: return *(const int32_t *)p;
    case EM_INT64: return (double)*(const int64_t *)p;
    case EM_FLOAT16: return em_half_to_float(*(const em_half *)p);
    case EM_BFLOAT16: return em_bf16_to_float(*(const em_bfloat16 *)p);
    case EM_FLOAT32: return *(const float *)p;
    case EM_FLOAT64: return *(const double *)p;
    default: return 0.0;
    }
}

/* Float to integer conversion that is defined for every input (C leaves
 * out-of-range and nan conversions undefined): nan gives 0, the rest saturate. */
static int64_t double_to_int64(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

int64_t em_load_int64(const void *p, em_dtype dt)
{
    switch (dt) {
    case EM_INT64: return *(const int64_t *)p;
    case EM_INT32: return *(const int32_t *)p;
    case EM_INT16: return *(const int16_t *)p;
    case EM_INT8: return *(const int8_t *)p;
    case EM_UINT8: return *(const uint8_t *)p;
    case EM_BOOL: return *(const uint8_t *)p ? 1 : 0;
    default: return double_to_int64(em_load_double(p, dt));
    }
}

void em_store_scalar(void *p, em_dtype dt, em_scalar v)
{
    int64_t i = v.is_int ? v.i : double_to_int64(v.d);
    switch (dt) {
    case EM_BOOL: *(uint8_t *)p = v.is_int ? (v.i != 0) : (v.d != 0.0); break;
    case EM_UINT8: *(uint8_t *)p = (uint8_t)i; break;
    case EM_INT8: *(int8_t *)p = (int8_t)i; break;
    case EM_INT16: *(int16_t *)p = (int16_t)i; break;
    case EM_INT32: *(int32_t *)p = (int32_t)i; break;
    case EM_INT64: *(int64_t *)p = i; break;
    case EM_FLOAT16: *(em_half *)p = em_float_to_half((float)v.d); break;
    case EM_BFLOAT16: *(em_bfloat16 *)p = em_float_to_bf16((float)v.d); break;
    case EM_FLOAT32: *(float *)p = (float)v.d; break;
    case EM_FLOAT64: *(double *)p = v.d; break;
    default: break;
    }
}
