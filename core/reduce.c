/* Reductions, scans, sorting and softmax: dims, output shapes and dtypes, allocation,
 * `out` tensors. The kernels see one simple picture: every output element reduces one
 * strided run of the input. When the reduced dims do not merge into one run, the
 * input is permuted (reduced dims last) and copied once so that they do. */
#include "reduce.h"

#include <math.h>
#include <string.h>

#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "iter.h"
#include "view.h"

/* ---- the run plan ---- */
typedef struct plan {
    em_tensor *starts; /* x's shape with reduced dims 1: the first element of each run */
    int64_t run_len, run_stride;
    int nd;
    bool mask[EM_MAX_DIMS];
    int64_t keep_sizes[EM_MAX_DIMS]; /* x's shape, reduced dims 1 */
    int out_nd;
    int64_t out_sizes[EM_MAX_DIMS]; /* the result's shape (keepdim or not) */
} plan;

/* Replaces *t by its conversion to dt (results computed in float32 go back to
 * float16/bfloat16); *t becomes NULL and -1 is returned on failure. */
static int cast_in_place(em_tensor **t, em_dtype dt)
{
    em_tensor *c = em_to_dtype(*t, dt, false);
    em_tensor_release(*t);
    *t = c;
    return c ? 0 : -1;
}

static int plan_init(plan *p, em_tensor *x, const bool *dims, bool keepdim)
{
    int nd = x->ndim, red[EM_MAX_DIMS], nred = 0;
    p->nd = nd;
    p->starts = NULL;
    p->out_nd = 0;
    int64_t run_len = 1;
    for (int d = 0; d < nd; d++) {
        p->mask[d] = dims ? dims[d] : true;
        p->keep_sizes[d] = p->mask[d] ? 1 : x->sizes[d];
        if (p->mask[d]) {
            run_len *= x->sizes[d];
            if (x->sizes[d] != 1)
                red[nred++] = d;
        }
        if (keepdim || !p->mask[d])
            p->out_sizes[p->out_nd++] = p->keep_sizes[d];
    }
    /* reduced dims by decreasing stride; they form one run when each steps over the next */
    for (int i = 1; i < nred; i++) {
        int d = red[i], j = i;
        while (j > 0 && x->strides[red[j - 1]] < x->strides[d])
            red[j] = red[j - 1], j--;
        red[j] = d;
    }
    bool merge = true;
    for (int i = 1; i < nred; i++)
        merge = merge && x->strides[red[i - 1]] == x->strides[red[i]] * x->sizes[red[i]];
    if (run_len == 0)
        merge = true;

    int64_t st[EM_MAX_DIMS];
    em_tensor *base = x, *copy = NULL;
    if (merge) {
        p->run_stride = nred > 0 && run_len > 0 ? x->strides[red[nred - 1]] : 1;
        for (int d = 0; d < nd; d++)
            st[d] = x->strides[d];
    } else {
        int perm[EM_MAX_DIMS], n = 0;
        for (int d = 0; d < nd; d++)
            if (!p->mask[d])
                perm[n++] = d;
        for (int d = 0; d < nd; d++)
            if (p->mask[d])
                perm[n++] = d;
        em_tensor *xp = em_permute(x, perm);
        if (!xp)
            return -1;
        copy = em_clone(xp);
        em_tensor_release(xp);
        if (!copy)
            return -1;
        for (int j = 0; j < nd; j++)
            st[perm[j]] = copy->strides[j];
        base = copy;
        p->run_stride = 1;
    }
    p->run_len = run_len;
    p->starts = em_tensor_new_view(base->storage, base->dtype, base->offset, nd, p->keep_sizes, st);
    em_tensor_release(copy);
    return p->starts ? 0 : -1;
}

/* The result (a new tensor, or `out` after checking its shape) and a view of it in
 * the kernel's keepdim shape. */
static em_tensor *plan_output(const plan *p, const char *op, em_dtype dt, em_device dev, em_tensor *out,
                              em_tensor **keepview)
{
    em_tensor *res;
    if (out) {
        bool same = out->ndim == p->out_nd;
        for (int d = 0; same && d < p->out_nd; d++)
            same = out->sizes[d] == p->out_sizes[d];
        if (!same) {
            char a[EM_SHAPE_BUF], b[EM_SHAPE_BUF];
            return em_error("%s: out has shape %s, expected %s", op, em_tensor_shape_str(out, a, sizeof a),
                            em_shape_str(b, sizeof b, p->out_nd, p->out_sizes)),
                   NULL;
        }
        em_tensor_retain(out);
        res = out;
    } else {
        res = em_tensor_empty(p->out_nd, p->out_sizes, dt, dev);
        if (!res)
            return NULL;
    }
    int64_t st[EM_MAX_DIMS];
    bool keepdim = p->out_nd == p->nd;
    for (int d = 0, j = 0; d < p->nd; d++) {
        if (keepdim)
            st[d] = res->strides[d];
        else
            st[d] = p->mask[d] ? 0 : res->strides[j++];
    }
    *keepview = em_tensor_new_view(res->storage, res->dtype, res->offset, p->nd, p->keep_sizes, st);
    if (!*keepview) {
        em_tensor_release(res);
        return NULL;
    }
    return res;
}

/* float16/bfloat16 compute in float32; everything else as is (a new reference). */
static em_tensor *compute_input(em_tensor *x, int dtype)
{
    if (dtype >= 0)
        return em_to_dtype(x, (em_dtype)dtype, false);
    return em_to_dtype(x, em_dtype_is_reduced(x->dtype) ? EM_FLOAT32 : x->dtype, false);
}

static int64_t output_numel(const plan *p)
{
    int64_t n = 1;
    for (int d = 0; d < p->out_nd; d++)
        n *= p->out_sizes[d];
    return n;
}

static em_tensor *reduce_with(const char *op, em_tensor *x, const bool *dims, bool keepdim, em_dtype out_dt,
                              const em_reduce_args *a, em_tensor *out)
{
    plan p;
    if (plan_init(&p, x, dims, keepdim) < 0)
        return NULL;
    if (p.run_len == 0 && (a->op == EM_RED_AMAX || a->op == EM_RED_AMIN) && output_numel(&p) > 0) {
        char buf[EM_SHAPE_BUF];
        em_tensor_release(p.starts);
        return em_error("%s: cannot reduce over an empty dimension (input %s); pass a dim whose size is not 0",
                        op, em_tensor_shape_str(x, buf, sizeof buf)),
               NULL;
    }
    em_tensor *kv = NULL;
    em_tensor *res = plan_output(&p, op, out_dt, em_tensor_device(x), out, &kv);
    em_reduce_kernel k = res ? (em_reduce_kernel)em_kernel_get(EM_K_REDUCE, em_tensor_device(x), op) : NULL;
    int rc = k ? k(kv, p.starts, p.run_len, p.run_stride, a) : -1;
    em_tensor_release(kv);
    em_tensor_release(p.starts);
    if (rc < 0) {
        em_tensor_release(res);
        return NULL;
    }
    if (out)
        em_tensor_bump_version(out);
    return res;
}

/* Runs a reduction on x converted for computing; out_dt < 0: the compute dtype. */
static em_tensor *reduce_op(const char *op, em_tensor *x, const bool *dims, bool keepdim, int dtype, int out_dt,
                            const em_reduce_args *a, em_tensor *out)
{
    em_tensor *xc = compute_input(x, dtype);
    if (!xc)
        return NULL;
    em_dtype odt = out_dt >= 0 ? (em_dtype)out_dt : dtype >= 0 ? (em_dtype)dtype : x->dtype;
    em_tensor *r = reduce_with(op, xc, dims, keepdim, odt, a, out);
    em_tensor_release(xc);
    return r;
}

static int require_float(const char *op, const em_tensor *x, int dtype)
{
    if (dtype >= 0 ? em_dtype_is_float((em_dtype)dtype) : em_dtype_is_float(x->dtype))
        return 0;
    return em_error("%s: expected a floating point input, got %s (convert it first, e.g. x:double(), "
                    "or pass {dtype='float32'})",
                    op, em_dtype_name(dtype >= 0 ? (em_dtype)dtype : x->dtype));
}

static int sum_dtype(const em_tensor *x, int dtype)
{
    return dtype >= 0 ? dtype : em_dtype_is_float(x->dtype) ? (int)x->dtype : (int)EM_INT64;
}

em_tensor *em_sum(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    em_reduce_args a = { .op = EM_RED_SUM };
    return reduce_op("sum", x, dims, keepdim, dtype, sum_dtype(x, dtype), &a, out);
}

em_tensor *em_prod(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    em_reduce_args a = { .op = EM_RED_PROD };
    return reduce_op("prod", x, dims, keepdim, dtype, sum_dtype(x, dtype), &a, out);
}

em_tensor *em_mean(em_tensor *x, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    if (dtype < 0 && !em_dtype_is_float(x->dtype))
        return em_error("mean: could not infer output dtype. Input dtype must be either a floating point or "
                        "complex dtype. Got: %s (convert it first, e.g. x:float())",
                        em_dtype_name(x->dtype)),
               NULL;
    if (require_float("mean", x, dtype) < 0)
        return NULL;
    em_reduce_args a = { .op = EM_RED_MEAN };
    return reduce_op("mean", x, dims, keepdim, dtype, -1, &a, out);
}

em_tensor *em_amax(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out)
{
    em_reduce_args a = { .op = EM_RED_AMAX };
    return reduce_op("amax", x, dims, keepdim, -1, -1, &a, out);
}

em_tensor *em_amin(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out)
{
    em_reduce_args a = { .op = EM_RED_AMIN };
    return reduce_op("amin", x, dims, keepdim, -1, -1, &a, out);
}

em_tensor *em_all(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out)
{
    em_reduce_args a = { .op = EM_RED_ALL };
    return reduce_op("all", x, dims, keepdim, -1, x->dtype == EM_UINT8 ? EM_UINT8 : EM_BOOL, &a, out);
}

em_tensor *em_any(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out)
{
    em_reduce_args a = { .op = EM_RED_ANY };
    return reduce_op("any", x, dims, keepdim, -1, x->dtype == EM_UINT8 ? EM_UINT8 : EM_BOOL, &a, out);
}

em_tensor *em_count_nonzero(em_tensor *x, const bool *dims)
{
    em_reduce_args a = { .op = EM_RED_COUNT_NONZERO };
    return reduce_op("count_nonzero", x, dims, false, -1, EM_INT64, &a, NULL);
}

em_tensor *em_norm(em_tensor *x, double p, const bool *dims, bool keepdim, int dtype, em_tensor *out)
{
    if (require_float("norm", x, dtype) < 0)
        return NULL;
    em_reduce_args a = { .op = EM_RED_NORM, .p = p };
    return reduce_op("norm", x, dims, keepdim, dtype, -1, &a, out);
}

static em_tensor *var_std(const char *op, em_reduce_op rop, em_tensor *x, const bool *dims, double correction,
                          bool keepdim, em_tensor *out)
{
    if (!em_dtype_is_float(x->dtype))
        return em_error("%s: std and var only support floating point dtypes, got %s (convert it first, e.g. "
                        "x:double())",
                        op, em_dtype_name(x->dtype)),
               NULL;
    em_reduce_args a = { .op = rop, .correction = correction };
    return reduce_op(op, x, dims, keepdim, -1, -1, &a, out);
}

em_tensor *em_var(em_tensor *x, const bool *dims, double correction, bool keepdim, em_tensor *out)
{
    return var_std("var", EM_RED_VAR, x, dims, correction, keepdim, out);
}

em_tensor *em_std(em_tensor *x, const bool *dims, double correction, bool keepdim, em_tensor *out)
{
    return var_std("std", EM_RED_STD, x, dims, correction, keepdim, out);
}

em_tensor *em_logsumexp(em_tensor *x, const bool *dims, bool keepdim, em_tensor *out)
{
    em_reduce_args a = { .op = EM_RED_LOGSUMEXP };
    int dt = em_dtype_is_float(x->dtype) ? -1 : (int)EM_DEFAULT_FLOAT;
    return reduce_op("logsumexp", x, dims, keepdim, dt, -1, &a, out);
}

/* ---- pairwise ops: both operands broadcast and promoted, then one kernel call ---- */
static int pair_prepare(const char *op, em_tensor *a, em_tensor *b, em_tensor **pa, em_tensor **pb)
{
    int nd;
    int64_t shape[EM_MAX_DIMS];
    if (em_broadcast_shape(op, a->ndim, a->sizes, b->ndim, b->sizes, &nd, shape) < 0)
        return -1;
    em_dtype dt = em_dtype_promote(a->dtype, b->dtype);
    if (em_dtype_is_reduced(dt))
        dt = EM_FLOAT32;
    em_tensor *ca = em_to_dtype(a, dt, false), *cb = ca ? em_to_dtype(b, dt, false) : NULL;
    *pa = ca ? em_expand(ca, nd, shape) : NULL;
    *pb = cb ? em_expand(cb, nd, shape) : NULL;
    em_tensor_release(ca);
    em_tensor_release(cb);
    if (!*pa || !*pb) {
        em_tensor_release(*pa);
        em_tensor_release(*pb);
        return -1;
    }
    return 0;
}

static em_tensor *pair_run(const char *op, em_reduce_op rop, em_tensor *a, em_tensor *b, em_tensor *out,
                           const em_reduce_args *extra)
{
    em_tensor *pa, *pb;
    if (pair_prepare(op, a, b, &pa, &pb) < 0)
        return NULL;
    em_reduce_args args = extra ? *extra : (em_reduce_args){ 0 };
    args.op = rop;
    args.in2 = pb;
    em_tensor *res = out;
    if (!res) {
        res = em_tensor_empty(pa->ndim, pa->sizes, pa->dtype, em_tensor_device(a));
        if (!res)
            goto fail;
    }
    em_reduce_kernel k = (em_reduce_kernel)em_kernel_get(EM_K_REDUCE, em_tensor_device(a), op);
    if (!k || k(res, pa, 0, 0, &args) < 0) {
        if (!out)
            em_tensor_release(res);
        goto fail;
    }
    em_tensor_release(pa);
    em_tensor_release(pb);
    return res;
fail:
    em_tensor_release(pa);
    em_tensor_release(pb);
    return NULL;
}

static int pair_all(const char *op, em_reduce_op rop, em_tensor *a, em_tensor *b, const em_reduce_args *extra,
                    bool *res)
{
    em_tensor *r = em_tensor_empty(0, NULL, EM_BOOL, em_tensor_device(a));
    if (!r)
        return -1;
    em_tensor *got = pair_run(op, rop, a, b, r, extra);
    if (got) {
        em_scalar s;
        em_item(r, &s);
        *res = s.i != 0;
    }
    em_tensor_release(r);
    return got ? 0 : -1;
}

int em_allclose(em_tensor *a, em_tensor *b, double rtol, double atol, bool equal_nan, bool *res)
{
    em_reduce_args e = { .rtol = rtol, .atol = atol, .equal_nan = equal_nan };
    return pair_all("allclose", EM_RED_ALLCLOSE, a, b, &e, res);
}

int em_equal(em_tensor *a, em_tensor *b, bool *res)
{
    if (!em_same_shape(a, b)) {
        *res = false;
        return 0;
    }
    return pair_all("equal", EM_RED_EQUAL, a, b, NULL, res);
}

em_tensor *em_max_binary(em_tensor *a, em_tensor *b)
{
    return pair_run("max", EM_RED_MAXIMUM, a, b, NULL, NULL);
}

em_tensor *em_min_binary(em_tensor *a, em_tensor *b)
{
    return pair_run("min", EM_RED_MINIMUM, a, b, NULL, NULL);
}

/* ---- reductions with positions ---- */
static int index_reduce(const char *op, em_tensor *x, int dim, bool keepdim, em_index_op iop, int64_t k,
                        bool want_values, em_tensor **values, em_tensor **indices)
{
    bool mask[EM_MAX_DIMS] = { false };
    if (x->ndim > 0)
        mask[dim] = true;
    em_tensor *xc = compute_input(x, -1);
    if (!xc)
        return -1;
    plan p;
    if (plan_init(&p, xc, mask, keepdim) < 0) {
        em_tensor_release(xc);
        return -1;
    }
    em_tensor *v = NULL, *vk = NULL, *ik = NULL, *idx = NULL;
    int rc = -1;
    if (p.run_len == 0 && output_numel(&p) > 0) {
        char buf[EM_SHAPE_BUF];
        em_error("%s: cannot reduce over dimension %d of size 0 (input %s)", op, dim + 1,
                 em_tensor_shape_str(x, buf, sizeof buf));
        goto done;
    }
    if (want_values && !(v = plan_output(&p, op, xc->dtype, em_tensor_device(x), NULL, &vk)))
        goto done;
    if (!(idx = plan_output(&p, op, EM_INT64, em_tensor_device(x), NULL, &ik)))
        goto done;
    em_reduce_index_kernel kern = (em_reduce_index_kernel)em_kernel_get(EM_K_REDUCE_INDEX, em_tensor_device(x), op);
    rc = kern ? kern(vk, ik, p.starts, p.run_len, p.run_stride, iop, k) : -1;
done:
    em_tensor_release(vk);
    em_tensor_release(ik);
    em_tensor_release(p.starts);
    em_tensor_release(xc);
    if (rc == 0 && want_values && v->dtype != x->dtype) { /* back to float16/bfloat16 */
        rc = cast_in_place(&v, x->dtype);
    }
    if (rc < 0) {
        em_tensor_release(v);
        em_tensor_release(idx);
        return -1;
    }
    if (values)
        *values = v;
    *indices = idx;
    return 0;
}

int em_max_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    return index_reduce("max", x, dim, keepdim, EM_IDX_MAX, 0, true, values, indices);
}

int em_min_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    return index_reduce("min", x, dim, keepdim, EM_IDX_MIN, 0, true, values, indices);
}

int em_median_dim(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    return index_reduce("median", x, dim, keepdim, EM_IDX_MEDIAN, 0, true, values, indices);
}

int em_mode(em_tensor *x, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    return index_reduce("mode", x, dim, keepdim, EM_IDX_MODE, 0, true, values, indices);
}

int em_kthvalue(em_tensor *x, int64_t k, int dim, bool keepdim, em_tensor **values, em_tensor **indices)
{
    int64_t n = x->ndim > 0 ? x->sizes[dim] : 1;
    if (k < 1 || k > n)
        return em_error("kthvalue: k %lld is out of range for dimension %d of size %lld (expected 1..%lld)",
                        (long long)k, dim + 1, (long long)n, (long long)n);
    return index_reduce("kthvalue", x, dim, keepdim, EM_IDX_KTHVALUE, k - 1, true, values, indices);
}

static em_tensor *flat_view(em_tensor *x)
{
    int64_t n = em_tensor_numel(x);
    return em_reshape(x, 1, &n);
}

static em_tensor *over_all(const char *op, em_tensor *x, em_index_op iop, bool want_values)
{
    if (em_tensor_numel(x) == 0) {
        char buf[EM_SHAPE_BUF];
        return em_error("%s: cannot reduce an empty tensor (shape %s); pass a dim to reduce over", op,
                        em_tensor_shape_str(x, buf, sizeof buf)),
               NULL;
    }
    em_tensor *f = flat_view(x);
    if (!f)
        return NULL;
    em_tensor *v = NULL, *i = NULL;
    int rc = index_reduce(op, f, 0, false, iop, 0, want_values, want_values ? &v : NULL, &i);
    em_tensor_release(f);
    if (rc < 0)
        return NULL;
    if (want_values) {
        em_tensor_release(i);
        return v;
    }
    return i;
}

em_tensor *em_max_all(em_tensor *x)
{
    if (em_tensor_numel(x) == 0)
        return over_all("max", x, EM_IDX_MAX, true);
    return em_amax(x, NULL, false, NULL);
}

em_tensor *em_min_all(em_tensor *x)
{
    if (em_tensor_numel(x) == 0)
        return over_all("min", x, EM_IDX_MIN, true);
    return em_amin(x, NULL, false, NULL);
}

em_tensor *em_median_all(em_tensor *x)
{
    return over_all("median", x, EM_IDX_MEDIAN, true);
}

static em_tensor *arg_best(const char *op, em_tensor *x, int dim, bool keepdim, em_index_op iop)
{
    if (dim < 0)
        return over_all(op, x, iop, false);
    em_tensor *i = NULL;
    if (index_reduce(op, x, dim, keepdim, iop, 0, false, NULL, &i) < 0)
        return NULL;
    return i;
}

em_tensor *em_argmax(em_tensor *x, int dim, bool keepdim)
{
    return arg_best("argmax", x, dim, keepdim, EM_IDX_MAX);
}

em_tensor *em_argmin(em_tensor *x, int dim, bool keepdim)
{
    return arg_best("argmin", x, dim, keepdim, EM_IDX_MIN);
}

/* ---- scans and softmax ---- */
/* Runs the scan kernel on x converted to compute dtype cdt; the result is converted to
 * res_dt and written into out when given. */
static em_tensor *scan_run(const char *op, em_tensor *x, int dim, em_scan_op sop, em_dtype cdt, em_dtype res_dt,
                           em_tensor *out)
{
    if (out && !em_same_shape(out, x)) {
        char a[EM_SHAPE_BUF], b[EM_SHAPE_BUF];
        return em_error("%s: out has shape %s, expected %s", op, em_tensor_shape_str(out, a, sizeof a),
                        em_tensor_shape_str(x, b, sizeof b)),
               NULL;
    }
    em_tensor *xc = em_to_dtype(x, cdt, false);
    em_tensor *x1 = xc && x->ndim == 0 ? flat_view(xc) : xc;
    if (xc && x1 != xc)
        em_tensor_release(xc);
    if (!x1)
        return NULL;
    em_tensor *r = em_tensor_empty(x1->ndim, x1->sizes, cdt, em_tensor_device(x));
    em_scan_kernel k = r ? (em_scan_kernel)em_kernel_get(EM_K_SCAN, em_tensor_device(x), op) : NULL;
    int rc = k ? k(r, x1, x->ndim == 0 ? 0 : dim, sop) : -1;
    em_tensor_release(x1);
    if (rc < 0) {
        em_tensor_release(r);
        return NULL;
    }
    if (x->ndim == 0) {
        em_tensor *v = em_reshape(r, 0, x->sizes);
        em_tensor_release(r);
        if (!(r = v))
            return NULL;
    }
    if (out) {
        rc = em_copy_(out, r);
        em_tensor_release(r);
        if (rc < 0)
            return NULL;
        em_tensor_retain(out);
        return out;
    }
    if (r->dtype != res_dt)
        cast_in_place(&r, res_dt);
    return r;
}

static em_tensor *cum(const char *op, em_tensor *x, int dim, int dtype, em_scan_op sop, em_tensor *out)
{
    em_dtype res = dtype >= 0 ? (em_dtype)dtype : em_dtype_is_float(x->dtype) ? x->dtype : EM_INT64;
    em_dtype cdt = em_dtype_is_reduced(res) ? EM_FLOAT32 : res;
    return scan_run(op, x, dim, sop, cdt, res, out);
}

em_tensor *em_cumsum(em_tensor *x, int dim, int dtype, em_tensor *out)
{
    return cum("cumsum", x, dim, dtype, EM_SCAN_CUMSUM, out);
}

em_tensor *em_cumprod(em_tensor *x, int dim, int dtype, em_tensor *out)
{
    return cum("cumprod", x, dim, dtype, EM_SCAN_CUMPROD, out);
}

static em_tensor *softmax_op(const char *op, em_tensor *x, int dim, int dtype, em_scan_op sop)
{
    if (require_float(op, x, dtype) < 0)
        return NULL;
    em_dtype res = dtype >= 0 ? (em_dtype)dtype : x->dtype;
    return scan_run(op, x, dim, sop, em_dtype_is_reduced(res) ? EM_FLOAT32 : res, res, NULL);
}

em_tensor *em_softmax(em_tensor *x, int dim, int dtype)
{
    return softmax_op("softmax", x, dim, dtype, EM_SCAN_SOFTMAX);
}

em_tensor *em_log_softmax(em_tensor *x, int dim, int dtype)
{
    return softmax_op("log_softmax", x, dim, dtype, EM_SCAN_LOG_SOFTMAX);
}

/* ---- sorting ---- */
static int sort_k(const char *op, em_tensor *x, int64_t k, int dim, bool descending, em_tensor **values,
                  em_tensor **indices)
{
    em_tensor *xc = compute_input(x, -1);
    em_tensor *x1 = xc && x->ndim == 0 ? flat_view(xc) : xc;
    if (xc && x1 != xc)
        em_tensor_release(xc);
    if (!x1)
        return -1;
    if (x->ndim == 0)
        dim = 0;
    int64_t sizes[EM_MAX_DIMS];
    memcpy(sizes, x1->sizes, sizeof sizes);
    sizes[dim] = k;
    em_tensor *v = em_tensor_empty(x1->ndim, sizes, x1->dtype, em_tensor_device(x));
    em_tensor *i = v ? em_tensor_empty(x1->ndim, sizes, EM_INT64, em_tensor_device(x)) : NULL;
    em_sort_kernel kern = i ? (em_sort_kernel)em_kernel_get(EM_K_SORT, em_tensor_device(x), op) : NULL;
    int rc = kern ? kern(v, i, x1, dim, descending) : -1;
    em_tensor_release(x1);
    if (rc == 0 && x->ndim == 0) {
        em_tensor *v0 = em_reshape(v, 0, x->sizes), *i0 = em_reshape(i, 0, x->sizes);
        em_tensor_release(v);
        em_tensor_release(i);
        v = v0, i = i0;
        rc = v && i ? 0 : -1;
    }
    if (rc == 0 && v->dtype != x->dtype) {
        rc = cast_in_place(&v, x->dtype);
    }
    if (rc < 0) {
        em_tensor_release(v);
        em_tensor_release(i);
        return -1;
    }
    if (values)
        *values = v;
    else
        em_tensor_release(v);
    *indices = i;
    return 0;
}

int em_sort(em_tensor *x, int dim, bool descending, em_tensor **values, em_tensor **indices)
{
    return sort_k("sort", x, x->ndim > 0 ? x->sizes[dim] : 1, dim, descending, values, indices);
}

int em_topk(em_tensor *x, int64_t k, int dim, bool largest, em_tensor **values, em_tensor **indices)
{
    int64_t n = x->ndim > 0 ? x->sizes[dim] : 1;
    if (k < 0 || k > n)
        return em_error("topk: k %lld is out of range for dimension %d of size %lld (expected 0..%lld)",
                        (long long)k, dim + 1, (long long)n, (long long)n);
    return sort_k("topk", x, k, dim, largest, values, indices);
}

static int check_select_out(const char *op, const char *what, em_tensor *out, const em_tensor *res)
{
    char a[EM_SHAPE_BUF], b[EM_SHAPE_BUF];
    if (out->dtype != res->dtype)
        return em_error("%s: out %s must have dtype %s, got %s", op, what, em_dtype_name(res->dtype),
                        em_dtype_name(out->dtype));
    if (!em_device_eq(em_tensor_device(out), em_tensor_device(res)))
        return em_error("%s: out %s is on another device than the input", op, what);
    if (em_same_shape(out, res))
        return 0;
    if (em_tensor_numel(out) != 0)
        return em_error("%s: out %s have shape %s but the result has shape %s (only an empty out is resized)", op,
                        what, em_tensor_shape_str(out, a, sizeof a), em_tensor_shape_str(res, b, sizeof b));
    return 0;
}

int em_select_out(const char *op, int rc, em_tensor **values, em_tensor **indices, em_tensor *out_v,
                  em_tensor *out_i)
{
    if (rc < 0)
        return rc;
    if (out_v == out_i)
        rc = em_error("%s: out values and indices must be two different tensors", op);
    else if (check_select_out(op, "values", out_v, *values) < 0 || check_select_out(op, "indices", out_i, *indices) < 0)
        rc = -1;
    /* both checked before either is written */
    em_tensor *res[2] = { *values, *indices }, *outs[2] = { out_v, out_i };
    for (int k = 0; k < 2 && rc == 0; k++) {
        if (!em_same_shape(outs[k], res[k]) && em_tensor_resize_empty(outs[k], res[k]->ndim, res[k]->sizes) < 0)
            rc = -1;
        else if (em_copy_(outs[k], res[k]) < 0)
            rc = -1;
    }
    em_tensor_release(*values);
    em_tensor_release(*indices);
    *values = *indices = NULL;
    if (rc < 0)
        return rc;
    em_tensor_retain(out_v);
    em_tensor_retain(out_i);
    *values = out_v;
    *indices = out_i;
    return 0;
}

int em_unique(em_tensor *x, em_tensor **values, em_tensor **inverse, em_tensor **counts)
{
    em_tensor *xc = compute_input(x, -1);
    em_tensor *f = xc ? flat_view(xc) : NULL;
    em_tensor *fc = f ? em_contiguous(f) : NULL;
    em_tensor_release(xc);
    em_tensor_release(f);
    if (!fc)
        return -1;
    em_tensor *v = NULL, *inv = NULL, *cnt = NULL;
    em_unique_kernel k = (em_unique_kernel)em_kernel_get(EM_K_UNIQUE, em_tensor_device(x), "unique");
    int rc = k ? k(fc, &v, inverse ? &inv : NULL, counts ? &cnt : NULL) : -1;
    em_tensor_release(fc);
    if (rc == 0 && v->dtype != x->dtype) {
        rc = cast_in_place(&v, x->dtype);
    }
    if (rc == 0 && inv) {
        em_tensor *r = em_reshape(inv, x->ndim, x->sizes);
        em_tensor_release(inv);
        inv = r;
        rc = r ? 0 : -1;
    }
    if (rc < 0) {
        em_tensor_release(v);
        em_tensor_release(inv);
        em_tensor_release(cnt);
        return -1;
    }
    *values = v;
    if (inverse)
        *inverse = inv;
    if (counts)
        *counts = cnt;
    return 0;
}

int em_unique_dim(em_tensor *x, int dim, em_tensor **values, em_tensor **inverse, em_tensor **counts)
{
    char buf[EM_SHAPE_BUF];
    if (x->ndim == 0)
        return em_error("unique: dim given for a 0-d tensor (use unique without dim)");
    if (dim < 0 || dim >= x->ndim)
        return em_error("unique: dimension %d out of range for a %d-d tensor", dim + 1, x->ndim);
    int perm[EM_MAX_DIMS], back[EM_MAX_DIMS]; /* dim first, the others in order; and back */
    int64_t sizes[EM_MAX_DIMS], m = 1;
    perm[0] = dim;
    for (int d = 0, o = 1; d < x->ndim; d++) {
        if (d == dim)
            continue;
        if (x->sizes[d] == 0)
            return em_error("unique: dimension %d has size 0 and is not the one selected (shape %s, dim %d)",
                            d + 1, em_tensor_shape_str(x, buf, sizeof buf), dim + 1);
        m *= x->sizes[d];
        perm[o++] = d;
    }
    for (int d = 0; d < x->ndim; d++)
        back[perm[d]] = d;
    int64_t n = x->sizes[dim], rows[2] = { n, m };
    em_tensor *xc = compute_input(x, -1);
    em_tensor *p = xc ? em_permute(xc, perm) : NULL;
    em_tensor *r = p ? em_reshape(p, 2, rows) : NULL; /* (n, m), a copy unless dim is the first */
    em_tensor *rc_ = r ? em_contiguous(r) : NULL;
    em_tensor_release(xc);
    em_tensor_release(p);
    em_tensor_release(r);
    if (!rc_)
        return -1;
    em_tensor *v = NULL, *inv = NULL, *cnt = NULL;
    em_unique_dim_kernel k =
        (em_unique_dim_kernel)em_kernel_get(EM_K_UNIQUE_DIM, em_tensor_device(x), "unique");
    int rc = k ? k(rc_, &v, inverse ? &inv : NULL, counts ? &cnt : NULL) : -1;
    em_tensor_release(rc_);
    if (rc == 0 && v->dtype != x->dtype)
        rc = cast_in_place(&v, x->dtype);
    if (rc == 0) { /* (u, m) -> x's shape with dim of size u */
        sizes[0] = v->sizes[0];
        for (int d = 1; d < x->ndim; d++)
            sizes[d] = x->sizes[perm[d]];
        em_tensor *s = em_reshape(v, x->ndim, sizes);
        em_tensor *b = s ? em_permute(s, back) : NULL;
        em_tensor *c = b ? em_contiguous(b) : NULL;
        em_tensor_release(s);
        em_tensor_release(b);
        em_tensor_release(v);
        v = c;
        rc = c ? 0 : -1;
    }
    if (rc < 0) {
        em_tensor_release(v);
        em_tensor_release(inv);
        em_tensor_release(cnt);
        return -1;
    }
    *values = v;
    if (inverse)
        *inverse = inv;
    if (counts)
        *counts = cnt;
    return 0;
}
