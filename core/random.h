/* Random numbers: the Philox4x32-10 generator and the random ops' front end.
 * Philox is counter-based: a generator is a 64-bit seed (the key) plus a 128-bit
 * offset counting the 128-bit blocks already used. An op reserves the blocks it
 * needs and element i derives its numbers from block (offset + i*words/4) alone, so
 * results do not depend on how the work is split over threads, and the same
 * scheme runs on a GPU. Same seed => same numbers, every run. */
#ifndef EM_RANDOM_H
#define EM_RANDOM_H

#include <stdint.h>

#include "tensor.h"

#define EM_DEFAULT_SEED 67280421310721ULL /* PyTorch's default CPU seed */
/* get_state/set_state layout: seed, offset_lo, offset_hi (little-endian uint64 each). */
#define EM_GENERATOR_STATE_BYTES 24

typedef struct em_generator {
    uint64_t seed;
    uint64_t offset_lo, offset_hi; /* 128-bit block counter */
    em_device device;
} em_generator;

/* ---- Philox4x32-10 ---- */
/* The 4 x 32-bit output for counter ctr[4] and key (seed). */
void em_philox(const uint32_t ctr[4], uint64_t seed, uint32_t out[4]);
/* Output block `index` (counted from the generator state base). */
void em_philox_block(uint64_t seed, uint64_t base_lo, uint64_t base_hi, uint64_t index, uint32_t out[4]);

/* ---- generators ---- */
em_generator *em_generator_default(em_device dev);
em_generator *em_generator_new(em_device dev, uint64_t seed);
void em_generator_free(em_generator *g);
void em_generator_manual_seed(em_generator *g, uint64_t seed);
/* Reseeds from /dev/urandom (time as a fallback); returns the new seed (< 2^63). */
uint64_t em_generator_seed(em_generator *g);
void em_generator_get_state(const em_generator *g, uint8_t out[EM_GENERATOR_STATE_BYTES]);
int em_generator_set_state(em_generator *g, const uint8_t *state, int64_t nbytes);
/* Reserves nblocks blocks: writes the base offset and advances the generator. */
void em_generator_reserve(em_generator *g, uint64_t nblocks, uint64_t *base_lo, uint64_t *base_hi);

/* ---- the kernel interface ---- */
typedef enum em_random_kind {
    EM_RAND_UNIFORM,     /* a + (b - a) * u, u in [0, 1), never b */
    EM_RAND_NORMAL,      /* a + b * z (Box-Muller); src1/src2: per-element mean/std */
    EM_RAND_INT,         /* lo + r mod range, range = (uint64) ilo..ihi exclusive */
    EM_RAND_BERNOULLI,   /* u < a; src1: per-element p */
    EM_RAND_EXPONENTIAL, /* -log(1 - u) / a */
    EM_RAND_RANDPERM,    /* 1..n shuffled (out is int64 1-d) */
    EM_RAND_MULTINOMIAL, /* out (rows, n) int64 from src1 = probs (rows, k) */
} em_random_kind;

typedef struct em_random_op {
    em_random_kind kind;
    uint64_t seed, base_lo, base_hi; /* generator state reserved for this op */
    double a, b;
    int64_t ilo;
    uint64_t irange;
    /* optional per-element operands: float64, contiguous, out's shape (multinomial: probs) */
    const em_tensor *src1, *src2;
    bool replacement;
} em_random_op;

/* Fills the contiguous tensor out (any dtype). 0 or -1 with an error set. */
typedef int (*em_random_kernel)(em_tensor *out, const em_random_op *op);

/* 32-bit words each draw uses: draw i reads words [i*w, i*w + w) of the op's stream,
 * i.e. block (i*w)/4. Normal draws come in Box-Muller pairs: draws 2j and 2j+1 share
 * block j (cos and sin). Front and kernels (CPU and GPU) must agree on this. */
static inline int em_random_words(em_random_kind kind, em_dtype dt, uint64_t irange)
{
    switch (kind) {
    case EM_RAND_UNIFORM: return dt == EM_FLOAT64 ? 2 : 1;
    case EM_RAND_INT: return irange != 0 && irange <= 0xFFFFFFFFull ? 1 : 2;
    case EM_RAND_BERNOULLI: return 1;
    default: return 2; /* normal, exponential, randperm, multinomial */
    }
}

/* ---- ops (new references, NULL on error; gen NULL = the default generator) ---- */
/* In place: any tensor layout (non-contiguous ones fill a contiguous copy). */
int em_uniform_(em_tensor *t, double a, double b, em_generator *gen);
int em_normal_(em_tensor *t, double mean, double std, em_generator *gen);
int em_bernoulli_(em_tensor *t, double p, em_generator *gen);
int em_exponential_(em_tensor *t, double lambd, em_generator *gen);
/* Integers in [lo, hi) (hi exclusive). */
int em_random_int_(em_tensor *t, int64_t lo, int64_t hi, em_generator *gen);

em_tensor *em_rand(int ndim, const int64_t *sizes, em_dtype dt, em_device dev, em_generator *gen);
em_tensor *em_randn(int ndim, const int64_t *sizes, em_dtype dt, em_device dev, em_generator *gen);
em_tensor *em_randint(int64_t lo, int64_t hi, int ndim, const int64_t *sizes, em_dtype dt, em_device dev,
                      em_generator *gen);
em_tensor *em_randperm(int64_t n, em_dtype dt, em_device dev, em_generator *gen);
/* mean + std * z with mean/std tensors broadcast (either may be NULL: then ms/ss). */
em_tensor *em_normal_tensor(const em_tensor *mean, double ms, const em_tensor *std, double ss, em_generator *gen);
/* 0/1 with probability p elementwise; result has p's shape and dtype. */
em_tensor *em_bernoulli(const em_tensor *p, em_generator *gen);
/* probs: 1-d (k) or 2-d (rows, k); result int64 (n) or (rows, n), 1-based classes. */
em_tensor *em_multinomial(const em_tensor *probs, int64_t n, bool replacement, em_generator *gen);

#endif
