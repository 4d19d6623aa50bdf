/* Fused optimizer updates: argument checks with messages naming the optimizer,
 * then the kernel of the parameter's device. */
#include "optim.h"

#include "dispatch.h"
#include "error.h"

static int check(const em_optim_args *a, const em_tensor *t, const char *what)
{
    char b1[EM_SHAPE_BUF], b2[EM_SHAPE_BUF];
    const em_tensor *p = a->param;
    if (!em_same_shape(p, t))
        return em_error("%s: %s of shape %s does not match the parameter's shape %s", a->op, what,
                        em_tensor_shape_str(t, b1, sizeof b1), em_tensor_shape_str(p, b2, sizeof b2));
    if (t->dtype != p->dtype)
        return em_error("%s: %s is %s but the parameter is %s", a->op, what, em_dtype_name(t->dtype),
                        em_dtype_name(p->dtype));
    if (!em_device_eq(em_tensor_device(t), em_tensor_device(p)))
        return em_error("%s: %s is on a different device than the parameter", a->op, what);
    if (!em_tensor_is_contiguous(t))
        return em_error("%s: %s must be contiguous", a->op, what);
    if (t->storage == p->storage)
        return em_error("%s: %s shares memory with the parameter", a->op, what);
    return 0;
}

int em_optim_step(em_optim_args *a)
{
    static const char *names[3][3] = {
        { "momentum_buffer", NULL, NULL },
        { "exp_avg", "exp_avg_sq", "max_exp_avg_sq" },
        { "square_avg", "momentum_buffer", "grad_avg" },
    };
    em_tensor *p = a->param;
    if (p->dtype != EM_FLOAT32 && p->dtype != EM_FLOAT64)
        return em_error("%s: fused update needs a float32 or float64 parameter, got %s", a->op,
                        em_dtype_name(p->dtype));
    if (!em_tensor_is_contiguous(p))
        return em_error("%s: the parameter must be contiguous", a->op);
    if (check(a, a->grad, "grad") < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (!a->buf[i])
            continue;
        const char *nm = a->kind == EM_OPTIM_ADAGRAD ? "sum" : a->kind <= EM_OPTIM_RMSPROP ? names[a->kind][i] : "state";
        if (check(a, a->buf[i], nm ? nm : "state") < 0)
            return -1;
        if (a->buf[i]->storage == a->grad->storage)
            return em_error("%s: %s shares memory with the gradient", a->op, nm ? nm : "state");
        for (int j = 0; j < i; j++)
            if (a->buf[j] && a->buf[j]->storage == a->buf[i]->storage)
                return em_error("%s: two state buffers share memory", a->op);
    }
    bool need0 = a->kind != EM_OPTIM_SGD || a->momentum != 0;
    if (need0 && !a->buf[0])
        return em_error("%s: missing state buffer", a->op);
    if (a->kind == EM_OPTIM_ADAM && !a->buf[1])
        return em_error("%s: missing exp_avg_sq", a->op);
    if (a->kind == EM_OPTIM_RMSPROP && a->momentum > 0 && !a->buf[1])
        return em_error("%s: missing momentum_buffer", a->op);
    em_optim_kernel k = (em_optim_kernel)em_kernel_get(EM_K_OPTIM, em_tensor_device(p), a->op);
    if (!k || k(a) < 0)
        return -1;
    em_tensor_bump_version(p);
    for (int i = 0; i < 3; i++)
        if (a->buf[i])
            em_tensor_bump_version(a->buf[i]);
    return 0;
}
