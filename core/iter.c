/* Strided n-d iteration with broadcasting, dimension merging and OpenMP splitting. */
#include "iter.h"
#include "error.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int em_broadcast_shape(const char *op, int na, const int64_t *a, int nb, const int64_t *b,
                       int *nout, int64_t *out)
{
    int n = na > nb ? na : nb;
    int64_t tmp[EM_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        int ia = na - n + i, ib = nb - n + i;
        int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
        if (sa == sb || sb == 1)
            tmp[i] = sa;
        else if (sa == 1)
            tmp[i] = sb;
        else {
            char bufa[EM_SHAPE_BUF], bufb[EM_SHAPE_BUF];
            return em_error("%s: shapes %s and %s are not broadcastable", op,
                            em_shape_str(bufa, sizeof bufa, na, a), em_shape_str(bufb, sizeof bufb, nb, b));
        }
    }
    memcpy(out, tmp, (size_t)n * sizeof(int64_t));
    *nout = n;
    return 0;
}

int em_iter_init(em_iter *it, int nops, const em_tensor *const *ops, const char *op)
{
    const em_tensor *out = ops[0];
    int nd = out->ndim;
    it->nops = nops;
    it->numel = em_tensor_numel(out);

    /* byte strides of every operand, broadcast to the output's shape */
    int64_t shape[EM_MAX_DIMS];
    int64_t strides[EM_ITER_MAX_OPS][EM_MAX_DIMS];
    for (int d = 0; d < nd; d++)
        shape[d] = out->sizes[d];
    for (int k = 0; k < nops; k++) {
        const em_tensor *t = ops[k];
        int64_t esize = (int64_t)em_dtype_size(t->dtype);
        it->data[k] = (char *)em_tensor_data(t);
        if (t->ndim > nd)
            goto mismatch;
        for (int d = 0; d < nd; d++) {
            int td = t->ndim - nd + d;
            if (td < 0) {
                strides[k][d] = 0;
            } else if (t->sizes[td] == shape[d]) {
                strides[k][d] = t->sizes[td] == 1 ? 0 : t->strides[td] * esize;
            } else if (t->sizes[td] == 1) {
                strides[k][d] = 0;
            } else {
                goto mismatch;
            }
        }
    }

    /* drop size-1 dims, then order the rest by the output's stride (largest first) */
    int perm[EM_MAX_DIMS], n = 0;
    for (int d = 0; d < nd; d++)
        if (shape[d] != 1)
            perm[n++] = d;
    for (int i = 1; i < n; i++) { /* insertion sort: stable, n is tiny */
        int p = perm[i], j = i;
        while (j > 0 && strides[0][perm[j - 1]] < strides[0][p] && strides[0][p] != 0)
            perm[j] = perm[j - 1], j--;
        perm[j] = p;
    }

    /* merge neighbouring dims that every operand walks as one */
    int m = 0;
    for (int i = 0; i < n; i++) {
        int d = perm[i];
        if (m > 0) {
            bool merge = true;
            for (int k = 0; k < nops && merge; k++)
                merge = it->strides[k][m - 1] == strides[k][d] * shape[d];
            if (merge) {
                it->shape[m - 1] *= shape[d];
                for (int k = 0; k < nops; k++)
                    it->strides[k][m - 1] = strides[k][d];
                continue;
            }
        }
        it->shape[m] = shape[d];
        for (int k = 0; k < nops; k++)
            it->strides[k][m] = strides[k][d];
        m++;
    }
    if (m == 0) { /* a single element (or a 0-d tensor) */
        it->shape[0] = it->numel == 0 ? 0 : 1;
        for (int k = 0; k < nops; k++)
            it->strides[k][0] = 0;
        m = 1;
    }
    it->ndim = m;
    return 0;

mismatch:;
    char bufa[EM_SHAPE_BUF], bufb[EM_SHAPE_BUF];
    for (int k = 1; k < nops; k++) {
        int nout;
        int64_t tmp[EM_MAX_DIMS];
        if (ops[k]->ndim > nd ||
            em_broadcast_shape(op, out->ndim, out->sizes, ops[k]->ndim, ops[k]->sizes, &nout, tmp) < 0 ||
            nout != nd || memcmp(tmp, out->sizes, (size_t)nd * sizeof(int64_t)) != 0)
            return em_error("%s: shape %s cannot be broadcast to %s", op,
                            em_tensor_shape_str(ops[k], bufa, sizeof bufa),
                            em_tensor_shape_str(out, bufb, sizeof bufb));
    }
    return em_error("%s: shape mismatch", op);
}

void em_iter_run_range(const em_iter *it, em_loop_fn fn, void *ctx, int64_t begin, int64_t end)
{
    if (begin >= end)
        return;
    const int nd = it->ndim, nops = it->nops;
    const int64_t inner = it->shape[nd - 1];
    int64_t idx[EM_MAX_DIMS];
    char *ptr[EM_ITER_MAX_OPS];
    int64_t inner_strides[EM_ITER_MAX_OPS];

    /* position of `begin` as a multi-index */
    int64_t rest = begin;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rest % it->shape[d];
        rest /= it->shape[d];
    }
    for (int k = 0; k < nops; k++) {
        ptr[k] = it->data[k];
        for (int d = 0; d < nd; d++)
            ptr[k] += idx[d] * it->strides[k][d];
        inner_strides[k] = it->strides[k][nd - 1];
    }

    int64_t pos = begin;
    while (pos < end) {
        int64_t n = inner - idx[nd - 1];
        if (n > end - pos)
            n = end - pos;
        fn(ptr, inner_strides, n, ctx);
        pos += n;
        if (pos >= end)
            break;
        /* advance the multi-index past the row just done */
        for (int k = 0; k < nops; k++)
            ptr[k] += (inner - idx[nd - 1]) * inner_strides[k];
        idx[nd - 1] = inner;
        for (int d = nd - 1; d > 0 && idx[d] == it->shape[d]; d--) {
            for (int k = 0; k < nops; k++)
                ptr[k] += it->strides[k][d - 1] - it->shape[d] * it->strides[k][d];
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

static int num_threads = 0;

int em_num_threads(void)
{
#ifdef _OPENMP
    if (num_threads <= 0)
        num_threads = omp_get_max_threads();
    return num_threads;
#else
    return 1;
#endif
}

void em_set_num_threads(int n)
{
    num_threads = n < 1 ? 1 : n;
#ifdef _OPENMP
    omp_set_num_threads(num_threads);
#endif
}

void em_iter_run(const em_iter *it, em_loop_fn fn, void *ctx, bool parallel)
{
    int64_t total = it->numel;
    int nt = (parallel && total >= EM_PARALLEL_THRESHOLD) ? em_num_threads() : 1;
    if (nt <= 1) {
        em_iter_run_range(it, fn, ctx, 0, total);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num(), n = omp_get_num_threads();
        int64_t chunk = (total + n - 1) / n;
        int64_t b = tid * chunk, e = b + chunk < total ? b + chunk : total;
        em_iter_run_range(it, fn, ctx, b, e);
    }
#endif
}
