/* Branch-free float exp, sigmoid and tanh that compilers vectorise (plain arithmetic
 * and bit moves, no libm calls), for the fused gate loops of the recurrent kernels.
 * exp: Cody-Waite reduction by ln 2 and a degree-6 polynomial (Cephes' coefficients),
 * within 2 ulp of expf; inputs are clamped to [-87.3, 88.3] (results saturate) and NaN
 * passes through. tanh: an odd polynomial below |x| = 0.625, 1 - 2 / (exp(2|x|) + 1)
 * above, within a few ulp. */
#ifndef EM_CPU_VMATH_H
#define EM_CPU_VMATH_H

#include <stdint.h>
#include <string.h>

static inline float em_vexpf(float x)
{
    float c = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x); /* NaN compares false: kept */
    /* n = round(c / ln 2) by the 1.5 * 2^23 trick (round to nearest, no libm) */
    float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    int32_t ni = c == c ? (int32_t)n : 0;
    int32_t bits = (ni + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return c == c ? e * scale : c;
}

static inline float em_vsigmoidf(float x)
{
    return 1.0f / (1.0f + em_vexpf(-x));
}

static inline float em_vtanhf(float x)
{
    float a = x < 0 ? -x : x;
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = x + x * z * p;
    float big = 1.0f - 2.0f / (em_vexpf(2.0f * a) + 1.0f);
    big = x < 0 ? -big : big;
    return a < 0.625f ? small : big; /* NaN: a < 0.625 false, big is NaN */
}

#endif
