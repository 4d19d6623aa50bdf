/* Raw tensor bytes to and from files and memory (see tensor_io.h). */
#include "tensor_io.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <pthread.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "copy.h"
#include "dtype.h"
#include "error.h"
#include "iter.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensor_io writes the host's bytes: a big-endian host needs byte swapping here"
#endif

int64_t em_io_nbytes(em_dtype dt, int ndim, const int64_t *sizes)
{
    if (ndim < 0 || ndim > EM_MAX_DIMS)
        return em_error("tensor data: %d dims (at most %d)", ndim, EM_MAX_DIMS);
    int64_t n = (int64_t)em_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (sizes[i] < 0)
            return em_error("tensor data: negative size %lld", (long long)sizes[i]);
        if (sizes[i] > 0 && n > INT64_MAX / sizes[i])
            return em_error("tensor data: the sizes overflow 64 bits");
        n *= sizes[i];
    }
    return n;
}

static em_tensor *cpu_only(em_tensor *t, const char *what)
{
    if (em_tensor_device(t).type != EM_DEV_CPU) {
        em_error("%s: expected a CPU tensor (move it with :to('cpu') first)", what);
        return NULL;
    }
    return t;
}

int em_io_write(FILE *f, em_tensor *t)
{
    if (!cpu_only(t, "write tensor"))
        return -1;
    em_tensor *c = em_contiguous(t);
    if (!c)
        return -1;
    size_t n = (size_t)em_tensor_numel(c) * em_dtype_size(c->dtype);
    size_t w = n ? fwrite(em_tensor_data(c), 1, n, f) : 0;
    em_tensor_release(c);
    if (w != n)
        return em_error("write tensor: wrote %zu of %zu bytes (%s)", w, n, strerror(errno));
    return 0;
}

/* Bytes left between the file position and its end; -1 when unknown (a pipe). */
static int64_t remaining(FILE *f)
{
    struct stat st;
    long pos = ftell(f);
    if (pos < 0 || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    return (int64_t)st.st_size - pos;
}

em_tensor *em_io_read(FILE *f, em_dtype dt, int ndim, const int64_t *sizes)
{
    uint32_t unused = 0;
    return em_io_read_crc(f, dt, ndim, sizes, EM_CRC_NONE, &unused);
}

em_tensor *em_io_from_bytes(const void *buf, size_t n, em_dtype dt, int ndim, const int64_t *sizes)
{
    int64_t need = em_io_nbytes(dt, ndim, sizes);
    if (need < 0)
        return NULL;
    if ((uint64_t)need != n) {
        em_error("tensor from bytes: %zu bytes given, the %s tensor needs %lld", n, em_dtype_name(dt),
                 (long long)need);
        return NULL;
    }
    em_tensor *t = em_tensor_empty(ndim, sizes, dt, EM_CPU);
    if (t && n)
        memcpy(em_tensor_data(t), buf, n);
    return t;
}

/* ---- CRC-32 (zlib) ---- */

static uint32_t crc32_serial(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n > 0) { /* zlib takes a uInt length */
        uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, step);
        p += step;
        n -= step;
    }
    return crc;
}

#define CRC_PAR_MIN ((size_t)8 << 20) /* below this one thread is as fast */
#define CRC_MAX_PARTS 64

uint32_t em_io_crc32(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    int nt = n >= CRC_PAR_MIN ? em_num_threads() : 1;
#ifdef _OPENMP
    if (omp_in_parallel())
        nt = 1;
#endif
    if (nt > CRC_MAX_PARTS)
        nt = CRC_MAX_PARTS;
    if (nt <= 1)
        return crc32_serial(crc, p, n);
    /* CRC-32 of each part from 0, then crc32_combine: the same value as one pass */
    uint32_t part[CRC_MAX_PARTS];
    size_t chunk = (n + (size_t)nt - 1) / (size_t)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int i = 0; i < nt; i++) {
        size_t lo = (size_t)i * chunk;
        size_t len = lo >= n ? 0 : (n - lo < chunk ? n - lo : chunk);
        part[i] = crc32_serial(0, p + lo, len);
    }
    for (int i = 0; i < nt; i++) {
        size_t lo = (size_t)i * chunk;
        size_t len = lo >= n ? 0 : (n - lo < chunk ? n - lo : chunk);
        crc = (uint32_t)crc32_combine(crc, part[i], (z_off_t)len);
    }
    return crc;
}

/* ---- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) ---- */

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[i] = c;
    }
}

/* the portable version (non-x86 hosts, or x86 without SSE4.2): a byte at a time */
static uint32_t crc32c_sw(uint32_t c, const unsigned char *p, size_t n)
{
    pthread_once(&crc32c_once, crc32c_init_table);
    while (n--)
        c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define EM_HAVE_CRC32C_HW 1

/* Three independent streams hide the instruction's 3-cycle latency (one crc32 a
 * cycle); their values are joined by shifting the first two over the bytes that
 * follow them (crc32c_shift: multiplication by x^(8*len) mod P, done with the
 * same zlib-style matrix squaring as crc32_combine, once per block length). */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    for (int i = 0; vec; i++, vec >>= 1)
        if (vec & 1)
            sum ^= mat[i];
    return sum;
}

static void gf2_square(uint32_t *sq, const uint32_t *mat)
{
    for (int i = 0; i < 32; i++)
        sq[i] = gf2_times(mat, mat[i]);
}

/* the operator that advances a (pre/post-conditioning-free) CRC register over len zero bytes */
static void crc32c_zeros_op(uint32_t *op, size_t len)
{
    uint32_t odd[32], even[32];
    odd[0] = 0x82F63B78u; /* one zero bit */
    for (int i = 1; i < 32; i++)
        odd[i] = 1u << (i - 1);
    gf2_square(even, odd); /* 2 bits */
    gf2_square(odd, even); /* 4 bits */
    /* odd = 4 bits; square to 8 bits = one byte */
    gf2_square(even, odd);
    uint32_t res[32];
    for (int i = 0; i < 32; i++)
        res[i] = 1u << i; /* identity */
    uint32_t *cur = even, *other = odd; /* cur advances 2^k bytes */
    while (len) {
        if (len & 1) {
            uint32_t tmp[32];
            for (int i = 0; i < 32; i++)
                tmp[i] = gf2_times(cur, res[i]);
            memcpy(res, tmp, sizeof(tmp));
        }
        len >>= 1;
        if (!len)
            break;
        gf2_square(other, cur);
        uint32_t *sw = cur;
        cur = other;
        other = sw;
    }
    memcpy(op, res, sizeof(res));
}

#define CRC32C_BLOCK 8192 /* bytes per stream per round: 3 x 8 KiB */
static uint32_t crc32c_shift_op[32];
static pthread_once_t crc32c_shift_once = PTHREAD_ONCE_INIT;
static void crc32c_init_shift(void) { crc32c_zeros_op(crc32c_shift_op, CRC32C_BLOCK); }

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const unsigned char *p, size_t n)
{
    uint64_t c0 = c;
    while (n && ((uintptr_t)p & 7)) {
        c0 = _mm_crc32_u8((uint32_t)c0, *p++);
        n--;
    }
    if (n >= 3 * CRC32C_BLOCK) {
        pthread_once(&crc32c_shift_once, crc32c_init_shift);
        while (n >= 3 * CRC32C_BLOCK) {
            uint64_t c1 = 0, c2 = 0;
            const unsigned char *p1 = p + CRC32C_BLOCK, *p2 = p + 2 * CRC32C_BLOCK;
            for (size_t i = 0; i < CRC32C_BLOCK; i += 8) {
                uint64_t a, b, d;
                memcpy(&a, p + i, 8);
                memcpy(&b, p1 + i, 8);
                memcpy(&d, p2 + i, 8);
                c0 = _mm_crc32_u64(c0, a);
                c1 = _mm_crc32_u64(c1, b);
                c2 = _mm_crc32_u64(c2, d);
            }
            /* crc(A B C) = shift(shift(cA) ^ cB) ^ cC with the registers started at 0
             * for B and C (the register is linear once conditioning is left out) */
            c0 = gf2_times(crc32c_shift_op, (uint32_t)c0) ^ (uint32_t)c1;
            c0 = gf2_times(crc32c_shift_op, (uint32_t)c0) ^ (uint32_t)c2;
            p += 3 * CRC32C_BLOCK;
            n -= 3 * CRC32C_BLOCK;
        }
    }
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c0 = _mm_crc32_u64(c0, v);
        p += 8;
        n -= 8;
    }
    while (n--)
        c0 = _mm_crc32_u8((uint32_t)c0, *p++);
    return (uint32_t)c0;
}
#endif

#ifdef EM_HAVE_CRC32C_HW
static int crc32c_use_hw;
static pthread_once_t crc32c_hw_once = PTHREAD_ONCE_INIT;
/* EMBER_NO_CRC32C_HW=1 forces the table (to test it) */
static void crc32c_detect(void) { crc32c_use_hw = __builtin_cpu_supports("sse4.2") && !getenv("EMBER_NO_CRC32C_HW"); }
#endif

uint32_t em_io_crc32c(uint32_t crc, const void *buf, size_t n)
{
    uint32_t c = ~crc;
#ifdef EM_HAVE_CRC32C_HW
    pthread_once(&crc32c_hw_once, crc32c_detect);
    if (crc32c_use_hw)
        return ~crc32c_hw(c, buf, n);
#endif
    return ~crc32c_sw(c, buf, n);
}

static uint32_t crc_update(em_crc_kind kind, uint32_t crc, const void *p, size_t n)
{
    if (kind == EM_CRC_32)
        return em_io_crc32(crc, p, n);
    if (kind == EM_CRC_32C)
        return em_io_crc32c(crc, p, n);
    return crc;
}

#define READ_CHUNK ((size_t)4 << 20)

em_tensor *em_io_read_crc(FILE *f, em_dtype dt, int ndim, const int64_t *sizes, em_crc_kind kind,
                          uint32_t *crc)
{
    int64_t n = em_io_nbytes(dt, ndim, sizes);
    if (n < 0)
        return NULL;
    int64_t left = remaining(f);
    if (left >= 0 && n > left) {
        em_error("read tensor: the file holds %lld more bytes, the tensor needs %lld (truncated or corrupt)",
                 (long long)left, (long long)n);
        return NULL;
    }
    em_tensor *t = em_tensor_empty(ndim, sizes, dt, EM_CPU);
    if (!t)
        return NULL;
    if (n == 0)
        return t; /* an empty tensor has no data pointer; its checksum is unchanged */
    unsigned char *p = em_tensor_data(t);
    size_t done = 0;
    uint32_t c = *crc;
    while (done < (size_t)n) {
        size_t want = (size_t)n - done < READ_CHUNK ? (size_t)n - done : READ_CHUNK;
        size_t r = fread(p + done, 1, want, f);
        c = crc_update(kind, c, p + done, r); /* still in cache */
        done += r;
        if (r != want) {
            em_tensor_release(t);
            em_error("read tensor: unexpected end of file (read %zu of %lld bytes)", done, (long long)n);
            return NULL;
        }
    }
    *crc = c;
    return t;
}
