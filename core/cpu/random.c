/* CPU random kernels: fill a contiguous tensor from the op's Philox stream.
 * Draw i reads block (i*w)/4 only (see em_random_words), so every element is a
 * function of (seed, offset, i) and OpenMP chunking never changes the result. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../iter.h"
#include "../random.h"
#include "cpu.h"
#include "typed.h"

#define CHUNK 8192 /* elements per parallel task; a multiple of 4 keeps blocks whole */

static inline double u53(uint32_t hi, uint32_t lo)
{
    return (double)((((uint64_t)hi << 32) | lo) >> 11) * 0x1.0p-53;
}
static inline double u32(uint32_t w) { return (double)w * 0x1.0p-32; }

/* The largest value of the float dtype strictly below hi (for [a, b) uniforms). */
static uint16_t bits16_below(uint16_t h)
{
    if ((h & 0x7FFF) == 0)
        return 0x8001; /* below +-0: the smallest negative subnormal */
    return (h & 0x8000) ? (uint16_t)(h + 1) : (uint16_t)(h - 1);
}

/* Stores a uniform value v of [a, b) into p, stepping down when rounding to the
 * element type lands on b. */
static void store_uniform(char *p, em_dtype dt, double v, double a, double b)
{
    switch (dt) {
    case EM_FLOAT64:
        if (v >= b && b > a)
            v = nextafter(b, -INFINITY);
        *(double *)p = v;
        break;
    case EM_FLOAT32: {
        float f = (float)v;
        if (f >= (float)b && b > a)
            f = nextafterf((float)b, -INFINITY);
        *(float *)p = f;
        break;
    }
    case EM_FLOAT16: {
        em_half h = em_float_to_half((float)v);
        if (em_half_to_float(h) >= (float)b && b > a)
            h = bits16_below(em_float_to_half((float)b));
        *(em_half *)p = h;
        break;
    }
    case EM_BFLOAT16: {
        em_bfloat16 h = em_float_to_bf16((float)v);
        if (em_bf16_to_float(h) >= (float)b && b > a)
            h = bits16_below(em_float_to_bf16((float)b));
        *(em_bfloat16 *)p = h;
        break;
    }
    default:
        em_store_scalar(p, dt, em_scalar_double(floor(v)));
        break;
    }
}

static inline void store_double(char *p, em_dtype dt, double v)
{
    switch (dt) {
    case EM_FLOAT32: *(float *)p = (float)v; break;
    case EM_FLOAT64: *(double *)p = v; break;
    default: em_store_scalar(p, dt, em_scalar_double(v)); break;
    }
}

/* Draws [i0, i1) of an elementwise kind into out (contiguous, element size es). */
static void gen_range(char *out, em_dtype dt, const em_random_op *op, int w, int64_t i0, int64_t i1)
{
    size_t es = em_dtype_size(dt);
    const double *s1 = op->src1 ? (const double *)em_tensor_data(op->src1) : NULL;
    const double *s2 = op->src2 ? (const double *)em_tensor_data(op->src2) : NULL;
    uint32_t blk[4];
    uint64_t cur = UINT64_MAX;
    for (int64_t i = i0; i < i1; i++) {
        uint64_t word = (uint64_t)i * (uint64_t)w;
        uint64_t b = word >> 2;
        int k = (int)(word & 3);
        if (b != cur) {
            em_philox_block(op->seed, op->base_lo, op->base_hi, b, blk);
            cur = b;
        }
        char *p = out + i * (int64_t)es;
        switch (op->kind) {
        case EM_RAND_UNIFORM: {
            /* 24 random bits for float32 and below, 53 for float64: exact in the type, < 1 */
            double u = w == 2 ? u53(blk[k], blk[k + 1]) : (double)(blk[k] >> 8) * 0x1.0p-24;
            store_uniform(p, dt, op->a + (op->b - op->a) * u, op->a, op->b);
            break;
        }
        case EM_RAND_NORMAL: {
            double u1 = 1.0 - u53(blk[0], blk[1]); /* (0, 1]: log is finite */
            double u2 = u53(blk[2], blk[3]);
            double r = sqrt(-2.0 * log(u1));
            double z = (i & 1) ? r * sin(2.0 * M_PI * u2) : r * cos(2.0 * M_PI * u2);
            double mean = s1 ? s1[i] : op->a, std = s2 ? s2[i] : op->b;
            store_double(p, dt, mean + std * z);
            break;
        }
        case EM_RAND_INT: {
            uint64_t r = w == 1 ? blk[k] : (((uint64_t)blk[k] << 32) | blk[k + 1]);
            if (op->irange)
                r %= op->irange;
            em_store_scalar(p, dt, em_scalar_int((int64_t)((uint64_t)op->ilo + r)));
            break;
        }
        case EM_RAND_BERNOULLI: {
            double prob = s1 ? s1[i] : op->a;
            em_store_scalar(p, dt, em_scalar_int(u32(blk[k]) < prob ? 1 : 0));
            break;
        }
        case EM_RAND_EXPONENTIAL:
            store_double(p, dt, -log1p(-u53(blk[k], blk[k + 1])) / op->a);
            break;
        default:
            break;
        }
    }
}

static int cpu_elementwise(em_tensor *out, const em_random_op *op)
{
    int64_t n = em_tensor_numel(out);
    int w = em_random_words(op->kind, out->dtype, op->irange);
    char *data = em_tensor_data(out);
    if (op->kind == EM_RAND_BERNOULLI && op->src1) {
        const double *p = em_tensor_data(op->src1);
        for (int64_t i = 0; i < n; i++)
            if (!(p[i] >= 0.0 && p[i] <= 1.0))
                return em_error("bernoulli: probabilities must be in [0, 1], got %g at element %lld", p[i],
                                (long long)i + 1);
    }
    int64_t nchunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (n >= EM_PARALLEL_THRESHOLD)
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t i0 = c * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        gen_range(data, out->dtype, op, w, i0, i1);
    }
    return 0;
}

/* A 64-bit draw (2 words) number i of the op's stream. */
static uint64_t draw64(const em_random_op *op, uint64_t i)
{
    uint32_t blk[4];
    em_philox_block(op->seed, op->base_lo, op->base_hi, i >> 1, blk);
    int k = (int)(i & 1) * 2;
    return ((uint64_t)blk[k] << 32) | blk[k + 1];
}

/* Fisher-Yates over 1..n, draw j picks the swap partner for position n-1-j. */
static int cpu_randperm(em_tensor *out, const em_random_op *op)
{
    int64_t n = em_tensor_numel(out);
    int64_t *v = em_tensor_data(out);
    for (int64_t i = 0; i < n; i++)
        v[i] = i + 1;
    for (int64_t i = n - 1, j = 0; i > 0; i--, j++) {
        int64_t s = (int64_t)(draw64(op, (uint64_t)j) % (uint64_t)(i + 1));
        int64_t t = v[i];
        v[i] = v[s];
        v[s] = t;
    }
    return 0;
}

typedef struct {
    double key;
    int64_t idx;
} keyed;

static int keyed_desc(const void *a, const void *b)
{
    double x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;
    if (x != y)
        return x < y ? 1 : -1;
    int64_t i = ((const keyed *)a)->idx, j = ((const keyed *)b)->idx;
    return (i > j) - (i < j);
}

/* Multinomial over rows of probs (rows, k) float64 -> out (rows, n) int64, 1-based.
 * With replacement: inverse CDF by binary search. Without: the Efraimidis-Spirakis
 * keys log(u)/p_i, the n largest win (same law as drawing one by one). */
static int cpu_multinomial(em_tensor *out, const em_random_op *op)
{
    const em_tensor *pr = op->src1;
    int64_t rows = pr->ndim == 2 ? pr->sizes[0] : 1, k = pr->sizes[pr->ndim - 1];
    int64_t n = out->sizes[out->ndim - 1];
    const double *p = em_tensor_data(pr);
    int64_t *o = em_tensor_data(out);
    for (int64_t r = 0; r < rows; r++) {
        const double *row = p + r * k;
        double total = 0;
        int64_t nonzero = 0;
        for (int64_t j = 0; j < k; j++) {
            if (!(row[j] >= 0.0) || isinf(row[j]))
                return em_error("multinomial: probabilities must be finite and non-negative, got %g "
                                "(row %lld, class %lld)", row[j], (long long)r + 1, (long long)j + 1);
            total += row[j];
            nonzero += row[j] > 0;
        }
        if (!(total > 0))
            return em_error("multinomial: invalid distribution in row %lld (probabilities sum to %g, "
                            "expected > 0)", (long long)r + 1, total);
        if (!op->replacement && n > nonzero)
            return em_error("multinomial: cannot draw %lld samples without replacement from %lld classes "
                            "with non-zero probability (row %lld)", (long long)n, (long long)nonzero,
                            (long long)r + 1);
    }
    double *cdf = NULL;
    keyed *keys = NULL;
    if (op->replacement)
        cdf = malloc((size_t)k * sizeof *cdf);
    else
        keys = malloc((size_t)k * sizeof *keys);
    if (!cdf && !keys)
        return em_error("multinomial: out of memory for %lld classes", (long long)k);
    for (int64_t r = 0; r < rows; r++) {
        const double *row = p + r * k;
        int64_t *orow = o + r * n;
        if (op->replacement) {
            double acc = 0;
            int64_t last = 0;
            for (int64_t j = 0; j < k; j++) {
                acc += row[j];
                cdf[j] = acc;
                if (row[j] > 0)
                    last = j;
            }
            for (int64_t s = 0; s < n; s++) {
                uint64_t d = draw64(op, (uint64_t)(r * n + s));
                double u = (double)(d >> 11) * 0x1.0p-53 * acc;
                int64_t lo = 0, hi = last; /* first j with cdf[j] > u */
                while (lo < hi) {
                    int64_t mid = lo + (hi - lo) / 2;
                    if (cdf[mid] > u)
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                orow[s] = lo + 1;
            }
        } else {
            for (int64_t j = 0; j < k; j++) {
                uint64_t d = draw64(op, (uint64_t)(r * k + j));
                double u = 1.0 - (double)(d >> 11) * 0x1.0p-53; /* (0, 1] */
                keys[j].key = row[j] > 0 ? log(u) / row[j] : -INFINITY;
                keys[j].idx = j;
            }
            qsort(keys, (size_t)k, sizeof *keys, keyed_desc);
            for (int64_t s = 0; s < n; s++)
                orow[s] = keys[s].idx + 1;
        }
    }
    free(cdf);
    free(keys);
    return 0;
}

static int cpu_random(em_tensor *out, const em_random_op *op)
{
    switch (op->kind) {
    case EM_RAND_RANDPERM: return cpu_randperm(out, op);
    case EM_RAND_MULTINOMIAL: return cpu_multinomial(out, op);
    default: return cpu_elementwise(out, op);
    }
}

void em_cpu_register_random(em_backend *be)
{
    be->kernels[EM_K_RANDOM] = (em_kernel_fn)cpu_random;
}
