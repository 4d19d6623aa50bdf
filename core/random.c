/* Random numbers, device-independent part: Philox4x32-10, the generators (one
 * default per device plus user-made ones), and the ops' checks and allocation.
 * Kernels (core/cpu/random.c) fill contiguous tensors from a reserved stretch of
 * the generator's counter. */
#include "random.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "iter.h"
#include "view.h"

/* ---- Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) ---- */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void em_philox(const uint32_t ctr[4], uint64_t seed, uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

void em_philox_block(uint64_t seed, uint64_t base_lo, uint64_t base_hi, uint64_t index, uint32_t out[4])
{
    uint64_t lo = base_lo + index;
    uint64_t hi = base_hi + (lo < base_lo); /* carry into the upper 64 bits */
    uint32_t ctr[4] = { (uint32_t)lo, (uint32_t)(lo >> 32), (uint32_t)hi, (uint32_t)(hi >> 32) };
    em_philox(ctr, seed, out);
}

/* ---- generators ---- */

#define MAX_DEVICES 16
static em_generator cpu_default = { EM_DEFAULT_SEED, 0, 0, { EM_DEV_CPU, 0 } };
static em_generator cuda_default[MAX_DEVICES];
static bool cuda_default_init[MAX_DEVICES];

em_generator *em_generator_default(em_device dev)
{
    if (dev.type == EM_DEV_CPU)
        return &cpu_default;
    if (dev.index < 0 || dev.index >= MAX_DEVICES)
        return em_error("generator: no device cuda:%d", dev.index), NULL;
    if (!cuda_default_init[dev.index]) {
        cuda_default[dev.index] = (em_generator){ EM_DEFAULT_SEED, 0, 0, dev };
        cuda_default_init[dev.index] = true;
    }
    return &cuda_default[dev.index];
}

em_generator *em_generator_new(em_device dev, uint64_t seed)
{
    em_generator *g = malloc(sizeof *g);
    if (!g)
        return em_error("Generator: out of memory"), NULL;
    *g = (em_generator){ seed, 0, 0, dev };
    return g;
}

void em_generator_free(em_generator *g)
{
    if (g && g != &cpu_default && !(g >= cuda_default && g < cuda_default + MAX_DEVICES))
        free(g);
}

void em_generator_manual_seed(em_generator *g, uint64_t seed)
{
    g->seed = seed;
    g->offset_lo = g->offset_hi = 0;
}

uint64_t em_generator_seed(em_generator *g)
{
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&s, sizeof s, 1, f) != 1) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)(uintptr_t)g << 16);
    }
    if (f)
        fclose(f);
    s &= 0x7FFFFFFFFFFFFFFFull; /* stays a positive Lua integer */
    em_generator_manual_seed(g, s);
    return s;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void em_generator_get_state(const em_generator *g, uint8_t out[EM_GENERATOR_STATE_BYTES])
{
    put_u64(out, g->seed);
    put_u64(out + 8, g->offset_lo);
    put_u64(out + 16, g->offset_hi);
}

int em_generator_set_state(em_generator *g, const uint8_t *state, int64_t nbytes)
{
    if (nbytes != EM_GENERATOR_STATE_BYTES)
        return em_error("set_rng_state: expected a uint8 tensor of %d bytes (seed and offset), got %lld bytes",
                        EM_GENERATOR_STATE_BYTES, (long long)nbytes);
    g->seed = get_u64(state);
    g->offset_lo = get_u64(state + 8);
    g->offset_hi = get_u64(state + 16);
    return 0;
}

void em_generator_reserve(em_generator *g, uint64_t nblocks, uint64_t *base_lo, uint64_t *base_hi)
{
    *base_lo = g->offset_lo;
    *base_hi = g->offset_hi;
    uint64_t lo = g->offset_lo + nblocks;
    g->offset_hi += lo < g->offset_lo;
    g->offset_lo = lo;
}

/* ---- running a kernel ---- */

static em_generator *pick(em_generator *gen, em_device dev, const char *op)
{
    if (!gen)
        return em_generator_default(dev);
    if (!em_device_eq(gen->device, dev))
        return em_error("%s: the generator is for %s, the tensor is on %s", op,
                        gen->device.type == EM_DEV_CPU ? "cpu" : "cuda",
                        dev.type == EM_DEV_CPU ? "cpu" : "cuda"),
               NULL;
    return gen;
}

/* Reserves the blocks for `draws` draws and runs the kernel on out (contiguous). */
static int run(em_tensor *out, em_random_op *op, int64_t draws, em_generator *gen, const char *name)
{
    em_device dev = em_tensor_device(out);
    em_random_kernel k = (em_random_kernel)em_kernel_get(EM_K_RANDOM, dev, name);
    if (!k)
        return -1;
    gen = pick(gen, dev, name);
    if (!gen)
        return -1;
    int w = em_random_words(op->kind, out->dtype, op->irange);
    uint64_t blocks = ((uint64_t)draws * (uint64_t)w + 3) / 4;
    if (op->kind == EM_RAND_NORMAL)
        blocks = ((uint64_t)draws + 1) / 2;
    op->seed = gen->seed;
    em_generator_reserve(gen, blocks, &op->base_lo, &op->base_hi);
    return k(out, op);
}

/* Fills t in place through a contiguous buffer when t is not contiguous. */
static int fill_(em_tensor *t, em_random_op *op, em_generator *gen, const char *name)
{
    int rc;
    if (em_tensor_is_contiguous(t)) {
        rc = run(t, op, em_tensor_numel(t), gen, name);
    } else {
        em_tensor *tmp = em_tensor_empty(t->ndim, t->sizes, t->dtype, em_tensor_device(t));
        if (!tmp)
            return -1;
        rc = run(tmp, op, em_tensor_numel(t), gen, name);
        if (rc == 0)
            rc = em_copy_(t, tmp);
        em_tensor_release(tmp);
    }
    if (rc == 0)
        em_tensor_bump_version(t);
    return rc;
}

static int need_float(const em_tensor *t, const char *op)
{
    if (!em_dtype_is_float(t->dtype))
        return em_error("%s: expected a floating-point tensor, got %s", op, em_dtype_name(t->dtype));
    return 0;
}

static int check_finite(const char *op, const char *what, double v)
{
    if (!isfinite(v))
        return em_error("%s: %s must be finite, got %g", op, what, v);
    return 0;
}

int em_uniform_(em_tensor *t, double a, double b, em_generator *gen)
{
    if (need_float(t, "uniform_") < 0 || check_finite("uniform_", "from", a) < 0 ||
        check_finite("uniform_", "to", b) < 0)
        return -1;
    if (a > b)
        return em_error("uniform_: expected from <= to, got from=%g, to=%g", a, b);
    em_random_op op = { .kind = EM_RAND_UNIFORM, .a = a, .b = b };
    return fill_(t, &op, gen, "uniform_");
}

int em_normal_(em_tensor *t, double mean, double std, em_generator *gen)
{
    if (need_float(t, "normal_") < 0 || check_finite("normal_", "mean", mean) < 0)
        return -1;
    if (!(std >= 0) || isinf(std))
        return em_error("normal_: expected std >= 0 (finite), got %g", std);
    em_random_op op = { .kind = EM_RAND_NORMAL, .a = mean, .b = std };
    return fill_(t, &op, gen, "normal_");
}

int em_bernoulli_(em_tensor *t, double p, em_generator *gen)
{
    if (!(p >= 0 && p <= 1))
        return em_error("bernoulli_: expected 0 <= p <= 1, got %g", p);
    em_random_op op = { .kind = EM_RAND_BERNOULLI, .a = p };
    return fill_(t, &op, gen, "bernoulli_");
}

int em_exponential_(em_tensor *t, double lambd, em_generator *gen)
{
    if (need_float(t, "exponential_") < 0)
        return -1;
    if (!(lambd > 0) || isinf(lambd))
        return em_error("exponential_: expected lambd > 0, got %g", lambd);
    em_random_op op = { .kind = EM_RAND_EXPONENTIAL, .a = lambd };
    return fill_(t, &op, gen, "exponential_");
}

/* The integer range a dtype holds exactly (floats: their integer-exact range). */
static void dtype_int_range(em_dtype dt, int64_t *lo, int64_t *hi)
{
    switch (dt) {
    case EM_BOOL: *lo = 0, *hi = 1; break;
    case EM_UINT8: *lo = 0, *hi = 255; break;
    case EM_INT8: *lo = -128, *hi = 127; break;
    case EM_INT16: *lo = -32768, *hi = 32767; break;
    case EM_INT32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case EM_FLOAT16: *lo = -2048, *hi = 2048; break;
    case EM_BFLOAT16: *lo = -256, *hi = 256; break;
    case EM_FLOAT32: *lo = -(1 << 24), *hi = 1 << 24; break;
    case EM_FLOAT64: *lo = -(1LL << 53), *hi = 1LL << 53; break;
    default: *lo = INT64_MIN, *hi = INT64_MAX; break;
    }
}

static int random_int_(em_tensor *t, int64_t lo, int64_t hi, em_generator *gen, const char *name)
{
    if (lo >= hi)
        return em_error("%s: expected low < high, got low=%lld, high=%lld", name, (long long)lo, (long long)hi);
    int64_t dlo, dhi;
    dtype_int_range(t->dtype, &dlo, &dhi);
    if (lo < dlo || hi - 1 > dhi)
        return em_error("%s: range [%lld, %lld) does not fit dtype %s", name, (long long)lo, (long long)hi,
                        em_dtype_name(t->dtype));
    em_random_op op = { .kind = EM_RAND_INT, .ilo = lo, .irange = (uint64_t)hi - (uint64_t)lo };
    return fill_(t, &op, gen, name);
}

int em_random_int_(em_tensor *t, int64_t lo, int64_t hi, em_generator *gen)
{
    return random_int_(t, lo, hi, gen, "random_");
}

/* ---- constructors ---- */

static em_tensor *fresh(const char *op, int ndim, const int64_t *sizes, em_dtype dt, em_device dev)
{
    if (em_check_sizes(op, ndim, sizes) < 0)
        return NULL;
    return em_tensor_empty(ndim, sizes, dt, dev);
}

em_tensor *em_rand(int ndim, const int64_t *sizes, em_dtype dt, em_device dev, em_generator *gen)
{
    if (!em_dtype_is_float(dt))
        return em_error("rand: expected a floating-point dtype, got %s", em_dtype_name(dt)), NULL;
    em_tensor *t = fresh("rand", ndim, sizes, dt, dev);
    if (!t)
        return NULL;
    em_random_op op = { .kind = EM_RAND_UNIFORM, .a = 0, .b = 1 };
    if (run(t, &op, em_tensor_numel(t), gen, "rand") < 0)
        return em_tensor_release(t), NULL;
    return t;
}

em_tensor *em_randn(int ndim, const int64_t *sizes, em_dtype dt, em_device dev, em_generator *gen)
{
    if (!em_dtype_is_float(dt))
        return em_error("randn: expected a floating-point dtype, got %s", em_dtype_name(dt)), NULL;
    em_tensor *t = fresh("randn", ndim, sizes, dt, dev);
    if (!t)
        return NULL;
    em_random_op op = { .kind = EM_RAND_NORMAL, .a = 0, .b = 1 };
    if (run(t, &op, em_tensor_numel(t), gen, "randn") < 0)
        return em_tensor_release(t), NULL;
    return t;
}

em_tensor *em_randint(int64_t lo, int64_t hi, int ndim, const int64_t *sizes, em_dtype dt, em_device dev,
                      em_generator *gen)
{
    em_tensor *t = fresh("randint", ndim, sizes, dt, dev);
    if (!t)
        return NULL;
    if (random_int_(t, lo, hi, gen, "randint") < 0)
        return em_tensor_release(t), NULL;
    return t;
}

em_tensor *em_randperm(int64_t n, em_dtype dt, em_device dev, em_generator *gen)
{
    if (n < 0)
        return em_error("randperm: expected n >= 0, got %lld", (long long)n), NULL;
    em_tensor *t = em_tensor_empty(1, &n, EM_INT64, dev);
    if (!t)
        return NULL;
    em_random_op op = { .kind = EM_RAND_RANDPERM };
    if (run(t, &op, n > 0 ? n - 1 : 0, gen, "randperm") < 0)
        return em_tensor_release(t), NULL;
    if (dt == EM_INT64)
        return t;
    int64_t lo, hi;
    dtype_int_range(dt, &lo, &hi);
    if (n > hi) {
        em_tensor_release(t);
        return em_error("randperm: n=%lld does not fit dtype %s", (long long)n, em_dtype_name(dt)), NULL;
    }
    em_tensor *r = em_to_dtype(t, dt, false);
    em_tensor_release(t);
    return r;
}

/* t as a contiguous float64 tensor of the given shape (broadcast), or NULL. */
static em_tensor *as_f64(const em_tensor *t, int ndim, const int64_t *sizes)
{
    em_tensor *e = em_expand((em_tensor *)t, ndim, sizes);
    if (!e)
        return NULL;
    em_tensor *r = em_tensor_empty(ndim, sizes, EM_FLOAT64, em_tensor_device(t));
    if (r && em_copy_(r, e) < 0) {
        em_tensor_release(r);
        r = NULL;
    }
    em_tensor_release(e);
    return r;
}

em_tensor *em_normal_tensor(const em_tensor *mean, double ms, const em_tensor *std, double ss, em_generator *gen)
{
    const em_tensor *any = mean ? mean : std;
    if (!any)
        return em_error("normal: expected mean or std to be a tensor"), NULL;
    int ndim = any->ndim;
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, any->sizes, sizeof sizes);
    if (mean && std) {
        if (!em_device_eq(em_tensor_device(mean), em_tensor_device(std)))
            return em_error("normal: mean and std are on different devices"), NULL;
        if (em_broadcast_shape("normal", mean->ndim, mean->sizes, std->ndim, std->sizes, &ndim, sizes) < 0)
            return NULL;
    }
    em_dtype dt = mean && std ? em_dtype_promote(mean->dtype, std->dtype) : any->dtype;
    if (!em_dtype_is_float(dt))
        return em_error("normal: expected floating-point mean/std, got %s", em_dtype_name(dt)), NULL;
    if (!mean && check_finite("normal", "mean", ms) < 0)
        return NULL;
    if (!std && (!(ss >= 0) || isinf(ss)))
        return em_error("normal: expected std >= 0 (finite), got %g", ss), NULL;
    em_tensor *m = mean ? as_f64(mean, ndim, sizes) : NULL;
    em_tensor *s = std ? as_f64(std, ndim, sizes) : NULL;
    em_tensor *out = NULL;
    if ((mean && !m) || (std && !s))
        goto done;
    out = em_tensor_empty(ndim, sizes, dt, em_tensor_device(any));
    if (!out)
        goto done;
    em_random_op op = { .kind = EM_RAND_NORMAL, .a = ms, .b = ss, .src1 = m, .src2 = s };
    if (run(out, &op, em_tensor_numel(out), gen, "normal") < 0) {
        em_tensor_release(out);
        out = NULL;
    }
done:
    if (m)
        em_tensor_release(m);
    if (s)
        em_tensor_release(s);
    return out;
}

em_tensor *em_bernoulli(const em_tensor *p, em_generator *gen)
{
    if (!em_dtype_is_float(p->dtype))
        return em_error("bernoulli: expected a floating-point probability tensor, got %s",
                        em_dtype_name(p->dtype)), NULL;
    em_tensor *pf = as_f64(p, p->ndim, p->sizes);
    if (!pf)
        return NULL;
    em_tensor *out = em_tensor_empty(p->ndim, p->sizes, p->dtype, em_tensor_device(p));
    if (out) {
        em_random_op op = { .kind = EM_RAND_BERNOULLI, .src1 = pf };
        if (run(out, &op, em_tensor_numel(out), gen, "bernoulli") < 0) {
            em_tensor_release(out);
            out = NULL;
        }
    }
    em_tensor_release(pf);
    return out;
}

em_tensor *em_multinomial(const em_tensor *probs, int64_t n, bool replacement, em_generator *gen)
{
    char buf[EM_SHAPE_BUF];
    if (probs->ndim != 1 && probs->ndim != 2)
        return em_error("multinomial: expected a 1-d or 2-d probability tensor, got %s",
                        em_tensor_shape_str(probs, buf, sizeof buf)), NULL;
    if (!em_dtype_is_float(probs->dtype))
        return em_error("multinomial: expected floating-point probabilities, got %s",
                        em_dtype_name(probs->dtype)), NULL;
    int64_t k = probs->sizes[probs->ndim - 1];
    if (k == 0)
        return em_error("multinomial: the distribution has no classes (%s)",
                        em_tensor_shape_str(probs, buf, sizeof buf)), NULL;
    if (n <= 0)
        return em_error("multinomial: expected a positive number of samples, got %lld", (long long)n), NULL;
    if (!replacement && n > k)
        return em_error("multinomial: cannot draw %lld samples without replacement from %lld classes",
                        (long long)n, (long long)k), NULL;
    em_tensor *pf = as_f64(probs, probs->ndim, probs->sizes);
    if (!pf)
        return NULL;
    int64_t rows = probs->ndim == 2 ? probs->sizes[0] : 1;
    int64_t osizes[2] = { rows, n };
    em_tensor *out = probs->ndim == 2 ? em_tensor_empty(2, osizes, EM_INT64, em_tensor_device(probs))
                                      : em_tensor_empty(1, &n, EM_INT64, em_tensor_device(probs));
    if (out) {
        em_random_op op = { .kind = EM_RAND_MULTINOMIAL, .src1 = pf, .replacement = replacement };
        if (run(out, &op, rows * (replacement ? n : k), gen, "multinomial") < 0) {
            em_tensor_release(out);
            out = NULL;
        }
    }
    em_tensor_release(pf);
    return out;
}
