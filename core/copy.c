/* Copies, fills and dtype conversion; the kernels are in core/cpu/copy.c. */
#include "copy.h"
#include "dispatch.h"
#include "error.h"
#include "overlap.h"

#include <string.h>

int em_copy_(em_tensor *dst, const em_tensor *src)
{
    if (!em_device_eq(em_tensor_device(dst), em_tensor_device(src))) {
        /* cross-device copies go through the destination's backend when it has one */
        if (em_tensor_device(dst).type != EM_DEV_CPU && em_tensor_device(src).type != EM_DEV_CPU)
            return em_error("copy_: cannot copy between two different accelerators");
    }
    if (em_overlap_check_internal("copy_", dst) < 0 || em_overlap_check_input("copy_", dst, src) < 0)
        return -1;
    em_device dev = em_tensor_device(dst).type != EM_DEV_CPU ? em_tensor_device(dst) : em_tensor_device(src);
    em_copy_kernel k = (em_copy_kernel)em_kernel_get(EM_K_COPY, dev, "copy_");
    if (!k)
        return -1;
    if (k(dst, src) < 0)
        return -1;
    em_tensor_bump_version(dst);
    return 0;
}

int em_fill_(em_tensor *dst, em_scalar v)
{
    em_fill_kernel k = (em_fill_kernel)em_kernel_get(EM_K_FILL, em_tensor_device(dst), "fill_");
    if (!k || k(dst, v) < 0)
        return -1;
    em_tensor_bump_version(dst);
    return 0;
}

int em_zero_(em_tensor *dst)
{
    return em_fill_(dst, em_scalar_int(0));
}

em_tensor *em_clone(const em_tensor *t)
{
    em_tensor *r = em_tensor_empty_like(t);
    if (!r)
        return NULL;
    if (em_copy_(r, t) < 0) {
        em_tensor_release(r);
        return NULL;
    }
    r->storage->version = 0;
    return r;
}

em_tensor *em_contiguous(em_tensor *t)
{
    if (em_tensor_is_contiguous(t)) {
        em_tensor_retain(t);
        return t;
    }
    return em_clone(t);
}

em_tensor *em_to_dtype(em_tensor *t, em_dtype dt, bool copy)
{
    if (t->dtype == dt && !copy) {
        em_tensor_retain(t);
        return t;
    }
    em_tensor *r = em_tensor_empty(t->ndim, t->sizes, dt, em_tensor_device(t));
    if (!r)
        return NULL;
    if (em_copy_(r, t) < 0) {
        em_tensor_release(r);
        return NULL;
    }
    r->storage->version = 0;
    return r;
}

em_tensor *em_full(int ndim, const int64_t *sizes, em_scalar v, em_dtype dt, em_device dev)
{
    em_tensor *r = em_tensor_empty(ndim, sizes, dt, dev);
    if (!r)
        return NULL;
    if (em_fill_(r, v) < 0) {
        em_tensor_release(r);
        return NULL;
    }
    r->storage->version = 0;
    return r;
}

em_scalar em_read_scalar(const void *p, em_dtype dt)
{
    if (dt == EM_BOOL)
        return em_scalar_bool(*(const uint8_t *)p != 0);
    if (em_dtype_is_int(dt))
        return em_scalar_int(em_load_int64(p, dt));
    return em_scalar_double(em_load_double(p, dt));
}

int em_item(const em_tensor *t, em_scalar *out)
{
    int64_t n = em_tensor_numel(t);
    if (n != 1) {
        char buf[EM_SHAPE_BUF];
        return em_error("item: a tensor with %lld elements cannot be converted to a number (shape %s)",
                        (long long)n, em_tensor_shape_str(t, buf, sizeof buf));
    }
    if (em_tensor_device(t).type != EM_DEV_CPU) {
        em_tensor *c = em_tensor_empty(0, NULL, t->dtype, EM_CPU);
        if (!c)
            return -1;
        em_tensor *flat = em_tensor_new_view(t->storage, t->dtype, t->offset, 0, NULL, NULL);
        int rc = flat ? em_copy_(c, flat) : -1;
        em_tensor_release(flat);
        if (rc == 0)
            *out = em_read_scalar(em_tensor_data(c), c->dtype);
        em_tensor_release(c);
        return rc;
    }
    *out = em_read_scalar(em_tensor_data(t), t->dtype);
    return 0;
}

em_tensor *em_stack_scalar_init(em_stack_scalar *ss, em_scalar v, em_dtype dt)
{
    memset(ss, 0, sizeof *ss);
    ss->s.refcount = 1;
    ss->s.device = EM_CPU;
    ss->s.data = &ss->bits;
    ss->s.nbytes = sizeof ss->bits;
    ss->t.refcount = 1;
    ss->t.ndim = 0;
    ss->t.dtype = dt;
    ss->t.storage = &ss->s;
    em_store_scalar(&ss->bits, dt, v);
    return &ss->t;
}
