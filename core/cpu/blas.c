/* The CPU GEMM kernel (EM_K_GEMM): batched strided matrix products.
 * float64 goes to OpenBLAS, loaded with dlopen on first use so that `th` starts fast and a
 * machine without OpenBLAS still runs everything else; float32 goes to Ember's own AVX-512
 * kernel (sgemm.c) where the CPU has AVX-512 and the shape suits it, to OpenBLAS otherwise
 * (tiny and very narrow products, the matrix-vector and dot-product forms, other CPUs);
 * integer dtypes use a plain C loop. An operand that is a transposed-contiguous view is handed to BLAS with
 * the transpose flag and its leading dimension instead of being copied; only layouts
 * BLAS cannot express (stride-0 rows, gaps in both dims) are packed first. */
#include "../dispatch.h"
#include "../error.h"
#include "../iter.h"
#include "../linalg.h"
#include "cpu.h"
#include "typed.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

/* ---- OpenBLAS, resolved at first use ---- */

/* CBLAS enum values (cblas.h), declared here so no header is needed at build time. */
enum { CBLAS_ROW_MAJOR = 101 };
enum { CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                         double, double *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float, float *,
                         int);
typedef void (*dgemv_fn)(int, int, int, int, double, const double *, int, const double *, int, double,
                         double *, int);
typedef float (*sdot_fn)(int, const float *, int, const float *, int);
typedef double (*ddot_fn)(int, const double *, int, const double *, int);
typedef void (*set_threads_fn)(int);

static struct {
    bool tried, ok, openmp; /* openmp: the OpenMP build (safe to call from our parallel loops) */
    char why[320];
    sgemm_fn sgemm;
    dgemm_fn dgemm;
    sgemv_fn sgemv;
    dgemv_fn dgemv;
    sdot_fn sdot;
    ddot_fn ddot;
    set_threads_fn set_threads;
    int threads; /* the count last handed to openblas_set_num_threads */
} blas;

static const char *const blas_paths[] = {
    "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", /* shares our OpenMP pool */
    "libopenblas.so.0",
    "libopenblas.so",
};

/* Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs (Zen 5) and falls
 * back to its AVX2 kernels at about half the speed; its SkylakeX kernels run fine on
 * them. The choice is read once, when the library loads, so it must be set before. */
static void blas_pick_coretype(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!getenv("OPENBLAS_CORETYPE") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
#endif
}

static bool blas_load(void)
{
    if (blas.tried)
        return blas.ok;
    blas.tried = true;
    blas_pick_coretype();
    void *h = NULL;
    const char *err = "not found";
    const char *user = getenv("EMBER_OPENBLAS"); /* a library path chosen by the user */
    size_t ndefault = sizeof blas_paths / sizeof *blas_paths;
    if (user && *user) {
        ndefault = 0; /* only the user's choice */
        if (!(h = dlopen(user, RTLD_NOW | RTLD_LOCAL)))
            err = dlerror();
    }
    for (size_t i = 0; i < ndefault && !h; i++) {
        h = dlopen(blas_paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            err = dlerror();
        else
            blas.openmp = (i == 0);
    }
    if (!h) {
        snprintf(blas.why, sizeof blas.why, "OpenBLAS could not be loaded (%s); install libopenblas0", err);
        return false;
    }
    /* object -> function pointer through memcpy: ISO C has no cast between them */
#define BLAS_SYM(field, name)                                                                    \
    do {                                                                                         \
        void *p = dlsym(h, name);                                                                \
        if (!p) {                                                                                \
            snprintf(blas.why, sizeof blas.why, "OpenBLAS has no symbol %s", name);               \
            dlclose(h);                                                                          \
            return false;                                                                        \
        }                                                                                        \
        memcpy(&blas.field, &p, sizeof p);                                                       \
    } while (0)
    BLAS_SYM(sgemm, "cblas_sgemm");
    BLAS_SYM(dgemm, "cblas_dgemm");
    BLAS_SYM(sgemv, "cblas_sgemv");
    BLAS_SYM(dgemv, "cblas_dgemv");
    BLAS_SYM(sdot, "cblas_sdot");
    BLAS_SYM(ddot, "cblas_ddot");
    BLAS_SYM(set_threads, "openblas_set_num_threads");
#undef BLAS_SYM
    blas.ok = true;
    return true;
}

/* Keeps OpenBLAS's thread count equal to ours (torch.set_num_threads may change it). */
static void blas_sync_threads(void)
{
    int n = em_num_threads();
    if (n != blas.threads) {
        blas.set_threads(n);
        blas.threads = n;
    }
}

/* ---- layouts ---- */

/* How BLAS can read a rows x cols matrix with strides (rs, cs): row-major as is
 * (trans = NO_TRANS) or as the transpose of a row-major matrix (TRANS), with leading
 * dimension ld. Strides of size-1 dims do not matter. False when neither fits. */
static bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, int *trans, int *ld)
{
    if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) {
        int64_t l = rows == 1 ? (cols > 1 ? cols : 1) : rs;
        if (l > INT_MAX)
            return false;
        *trans = CBLAS_NO_TRANS, *ld = (int)(l > 0 ? l : 1);
        return true;
    }
    if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows)) {
        int64_t l = cols == 1 ? (rows > 1 ? rows : 1) : cs;
        if (l > INT_MAX)
            return false;
        *trans = CBLAS_TRANS, *ld = (int)(l > 0 ? l : 1);
        return true;
    }
    return false;
}

/* Copies a strided rows x cols matrix into (or out of) a dense row-major buffer. */
static void pack(char *dst, const char *src, int64_t rows, int64_t cols, int64_t rs, int64_t cs, size_t es)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            memcpy(dst + (size_t)(i * cols + j) * es, src + (i * rs + j * cs) * (int64_t)es, es);
}

static void unpack(char *dst, const char *src, int64_t rows, int64_t cols, int64_t rs, int64_t cs, size_t es)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            memcpy(dst + (i * rs + j * cs) * (int64_t)es, src + (size_t)(i * cols + j) * es, es);
}

/* A matrix operand ready for BLAS: its pointer, transpose flag and leading dimension,
 * and the packed copy (to free) when one was needed. */
typedef struct {
    const char *p;
    int trans, ld;
    char *tmp;
} blas_operand;

static int operand_prepare(const char *op, blas_operand *o, const char *p, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                           size_t es)
{
    o->tmp = NULL;
    o->p = p;
    if (blas_layout(rows, cols, rs, cs, &o->trans, &o->ld))
        return 0;
    o->tmp = malloc((size_t)(rows * cols) * es);
    if (!o->tmp)
        return em_error("%s: out of memory packing a %lldx%lld operand", op, (long long)rows, (long long)cols);
    pack(o->tmp, p, rows, cols, rs, cs, es);
    o->p = o->tmp, o->trans = CBLAS_NO_TRANS, o->ld = (int)(cols > 1 ? cols : 1);
    return 0;
}

/* ---- one matrix through BLAS ---- */

static void blas_gemm_call(em_dtype dt, int ta, int tb, int m, int n, int k, double alpha, const char *a, int lda,
                           const char *b, int ldb, double beta, char *c, int ldc)
{
    /* float32 on AVX-512 CPUs: Ember's own kernel (sgemm.c) for the shapes it runs faster;
     * OpenBLAS for the others, or if the packing buffers cannot be had */
    if (dt == EM_FLOAT32 && em_sgemm_suits(m, n, k) &&
        em_sgemm(ta == CBLAS_TRANS, tb == CBLAS_TRANS, m, n, k, (float)alpha, (const float *)a, lda,
                 (const float *)b, ldb, (float)beta, (float *)c, ldc) == 0)
        return;
    if (dt == EM_FLOAT32)
        blas.sgemm(CBLAS_ROW_MAJOR, ta, tb, m, n, k, (float)alpha, (const float *)a, lda, (const float *)b, ldb,
                   (float)beta, (float *)c, ldc);
    else
        blas.dgemm(CBLAS_ROW_MAJOR, ta, tb, m, n, k, alpha, (const double *)a, lda, (const double *)b, ldb, beta,
                   (double *)c, ldc);
}

static void blas_gemv_call(em_dtype dt, int trans, int m, int n, double alpha, const char *a, int lda,
                           const char *x, int incx, char *y, int incy)
{
    /* y is zeroed by the caller when beta == 0, and scaled in place otherwise: always beta 1 here */
    if (dt == EM_FLOAT32)
        blas.sgemv(CBLAS_ROW_MAJOR, trans, m, n, (float)alpha, (const float *)a, lda, (const float *)x, incx, 1.0f,
                   (float *)y, incy);
    else
        blas.dgemv(CBLAS_ROW_MAJOR, trans, m, n, alpha, (const double *)a, lda, (const double *)x, incx, 1.0,
                   (double *)y, incy);
}

static double load_f(const char *p, em_dtype dt)
{
    return dt == EM_FLOAT32 ? (double)*(const float *)p : *(const double *)p;
}

static void store_f(char *p, em_dtype dt, double v)
{
    if (dt == EM_FLOAT32)
        *(float *)p = (float)v;
    else
        *(double *)p = v;
}

/* C = beta * C over a strided m x n block (beta == 0 writes zeros, ignoring NaN). */
static void scale_c(char *c, int64_t m, int64_t n, int64_t rs, int64_t cs, em_dtype dt, double beta)
{
    size_t es = em_dtype_size(dt);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            char *p = c + (i * rs + j * cs) * (int64_t)es;
            store_f(p, dt, beta == 0 ? 0.0 : beta * load_f(p, dt));
        }
}

static bool fits_int(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}

/* Matrix-vector forms for thin products: y = alpha * M x (+ beta y already applied). */
static int gemm_one_gemv(const em_gemm_desc *d, const char *a, const char *b, char *c, bool *done)
{
    em_dtype dt = d->dtype;
    size_t es = em_dtype_size(dt);
    int64_t m = d->m, n = d->n, k = d->k;
    const char *mat, *x;
    int64_t rows, cols, mrs, mcs, incx, incy;
    if (n == 1) { /* c[:,0] = A b[:,0] */
        mat = a, rows = m, cols = k, mrs = d->a_rs, mcs = d->a_cs;
        x = b, incx = k == 1 ? 1 : d->b_rs, incy = m == 1 ? 1 : d->c_rs;
    } else { /* m == 1: c[0,:] = B^T a[0,:] */
        mat = b, rows = n, cols = k, mrs = d->b_cs, mcs = d->b_rs;
        x = a, incx = k == 1 ? 1 : d->a_cs, incy = n == 1 ? 1 : d->c_cs;
    }
    *done = false;
    if (incx <= 0 || incy <= 0 || !fits_int(incx) || !fits_int(incy))
        return 0; /* the gemm path packs what BLAS cannot take */
    int64_t ylen = rows;
    double beta = d->beta.d, alpha = d->alpha.d;
    if (beta != 1)
        scale_c(c, ylen, 1, incy, 1, dt, beta);
    int64_t incm = cols == 1 ? 1 : mcs;
    if (rows == 1 && incm > 0 && fits_int(incm)) { /* a dot product */
        double s = dt == EM_FLOAT32
                       ? (double)blas.sdot((int)cols, (const float *)mat, (int)incm, (const float *)x, (int)incx)
                       : blas.ddot((int)cols, (const double *)mat, (int)incm, (const double *)x, (int)incx);
        store_f(c, dt, load_f(c, dt) + alpha * s);
        *done = true;
        return 0;
    }
    blas_operand o;
    if (operand_prepare(d->op, &o, mat, rows, cols, mrs, mcs, es) < 0)
        return -1;
    /* o is rows x cols, row-major (NO_TRANS) or stored as its transpose (TRANS) */
    if (o.trans == CBLAS_NO_TRANS)
        blas_gemv_call(dt, CBLAS_NO_TRANS, (int)rows, (int)cols, alpha, o.p, o.ld, x, (int)incx, c, (int)incy);
    else
        blas_gemv_call(dt, CBLAS_TRANS, (int)cols, (int)rows, alpha, o.p, o.ld, x, (int)incx, c, (int)incy);
    free(o.tmp);
    *done = true;
    return 0;
}

static int gemm_one_blas(const em_gemm_desc *d, const char *a, const char *b, char *c)
{
    em_dtype dt = d->dtype;
    size_t es = em_dtype_size(dt);
    int64_t m = d->m, n = d->n, k = d->k;
    double alpha = d->alpha.d, beta = d->beta.d;
    if (k == 0 || alpha == 0) {
        scale_c(c, m, n, d->c_rs, d->c_cs, dt, beta);
        return 0;
    }
    if (n == 1 || m == 1) {
        bool done;
        if (gemm_one_gemv(d, a, b, c, &done) < 0)
            return -1;
        if (done)
            return 0;
    }
    blas_operand oa, ob;
    if (operand_prepare(d->op, &oa, a, m, k, d->a_rs, d->a_cs, es) < 0)
        return -1;
    if (operand_prepare(d->op, &ob, b, k, n, d->b_rs, d->b_cs, es) < 0) {
        free(oa.tmp);
        return -1;
    }
    int ct, ldc;
    char *ctmp = NULL;
    int rc = 0;
    if (blas_layout(m, n, d->c_rs, d->c_cs, &ct, &ldc)) {
        if (ct == CBLAS_NO_TRANS) {
            blas_gemm_call(dt, oa.trans, ob.trans, (int)m, (int)n, (int)k, alpha, oa.p, oa.ld, ob.p, ob.ld, beta, c,
                           ldc);
        } else { /* C is stored transposed: C^T = B^T A^T */
            int fa = oa.trans == CBLAS_TRANS ? CBLAS_NO_TRANS : CBLAS_TRANS;
            int fb = ob.trans == CBLAS_TRANS ? CBLAS_NO_TRANS : CBLAS_TRANS;
            blas_gemm_call(dt, fb, fa, (int)n, (int)m, (int)k, alpha, ob.p, ob.ld, oa.p, oa.ld, beta, c, ldc);
        }
    } else {
        ctmp = malloc((size_t)(m * n) * es);
        if (!ctmp) {
            rc = em_error("%s: out of memory for a %lldx%lld result", d->op, (long long)m, (long long)n);
        } else {
            if (beta != 0)
                pack(ctmp, c, m, n, d->c_rs, d->c_cs, es);
            blas_gemm_call(dt, oa.trans, ob.trans, (int)m, (int)n, (int)k, alpha, oa.p, oa.ld, ob.p, ob.ld, beta,
                           ctmp, (int)(n > 1 ? n : 1));
            unpack(c, ctmp, m, n, d->c_rs, d->c_cs, es);
        }
    }
    free(ctmp);
    free(oa.tmp);
    free(ob.tmp);
    return rc;
}

/* ---- integers: a plain loop, wrapping on overflow like PyTorch (unsigned arithmetic) ---- */

static void gemm_one_int(const em_gemm_desc *d, const char *a, const char *b, char *c)
{
    uint64_t alpha = (uint64_t)d->alpha.i, beta = (uint64_t)d->beta.i;
    bool keep = d->beta.i != 0;
    EM_SWITCH_INT(d->dtype, {
        for (int64_t i = 0; i < d->m; i++)
            for (int64_t j = 0; j < d->n; j++) {
                uint64_t acc = 0;
                for (int64_t p = 0; p < d->k; p++)
                    acc += (uint64_t)(int64_t)((const scalar_t *)a)[i * d->a_rs + p * d->a_cs] *
                           (uint64_t)(int64_t)((const scalar_t *)b)[p * d->b_rs + j * d->b_cs];
                scalar_t *pc = (scalar_t *)c + i * d->c_rs + j * d->c_cs;
                uint64_t v = alpha * acc + (keep ? beta * (uint64_t)(int64_t)*pc : 0);
                *pc = (scalar_t)(int64_t)v;
            }
    });
}

/* ---- the batched kernel ---- */

static int gemm_batch_item(const em_gemm_desc *d, int64_t idx)
{
    size_t es = em_dtype_size(d->dtype);
    int64_t oa = 0, ob = 0, oc = 0;
    for (int i = d->batch_ndim - 1; i >= 0; i--) {
        int64_t j = idx % d->batch[i];
        idx /= d->batch[i];
        oa += j * d->a_bs[i], ob += j * d->b_bs[i], oc += j * d->c_bs[i];
    }
    const char *a = d->a + oa * (int64_t)es, *b = d->b + ob * (int64_t)es;
    char *c = d->c + oc * (int64_t)es;
    if (em_dtype_is_int(d->dtype)) {
        gemm_one_int(d, a, b, c);
        return 0;
    }
    return gemm_one_blas(d, a, b, c);
}

static int cpu_gemm(const em_gemm_desc *d)
{
    bool is_float = d->dtype == EM_FLOAT32 || d->dtype == EM_FLOAT64;
    if (!is_float && !em_dtype_is_int(d->dtype))
        return em_error("%s: %s tensors are not supported by the CPU matrix product", d->op, em_dtype_name(d->dtype));
    if (is_float) {
        if (!blas_load())
            return em_error("%s: %s", d->op, blas.why);
        if (!fits_int(d->m) || !fits_int(d->n) || !fits_int(d->k))
            return em_error("%s: matrices of %lldx%lld @ %lldx%lld are too large for BLAS", d->op, (long long)d->m,
                            (long long)d->k, (long long)d->k, (long long)d->n);
        blas_sync_threads();
    }
    int64_t nb = 1;
    for (int i = 0; i < d->batch_ndim; i++)
        nb *= d->batch[i];
    if (nb == 0 || d->m == 0 || d->n == 0)
        return 0;
    /* Many small products: one per thread (the OpenMP OpenBLAS runs single-threaded
     * inside our parallel region, and so does Ember's sgemm). Large ones: one at a time,
     * the GEMM uses the threads. */
    int64_t work = d->m * d->n * (d->k > 0 ? d->k : 1);
    bool parallel = nb > 1 && work < 128 * 128 * 128 && em_num_threads() > 1 && (!is_float || blas.openmp) &&
                    nb * work >= EM_PARALLEL_THRESHOLD;
    int rc = 0;
    if (parallel) {
#pragma omp parallel for num_threads(em_num_threads()) reduction(min : rc)
        for (int64_t i = 0; i < nb; i++)
            if (gemm_batch_item(d, i) < 0)
                rc = -1;
    } else {
        for (int64_t i = 0; i < nb && rc == 0; i++)
            rc = gemm_batch_item(d, i);
    }
    return rc;
}

/* ---- direct entry for other kernel families (cpu.h) ---- */

int em_cpu_blas_ready(const char *op)
{
    if (!blas_load())
        return em_error("%s: %s", op, blas.why);
    blas_sync_threads();
    return 0;
}

bool em_cpu_blas_openmp(void)
{
    return blas.ok && blas.openmp;
}

void em_cpu_blas_gemm(em_dtype dt, bool ta, bool tb, int m, int n, int k, double alpha, const void *a, int lda,
                      const void *b, int ldb, double beta, void *c, int ldc)
{
    blas_gemm_call(dt, ta ? CBLAS_TRANS : CBLAS_NO_TRANS, tb ? CBLAS_TRANS : CBLAS_NO_TRANS, m, n, k, alpha, a, lda,
                   b, ldb, beta, c, ldc);
}

void em_cpu_register_blas(em_backend *be)
{
    be->kernels[EM_K_GEMM] = (em_kernel_fn)cpu_gemm;
}
