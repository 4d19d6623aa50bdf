/* Elementwise ops: unary, binary and ternary maps with broadcasting.
 * The front (core/elementwise.c) is device-independent: it works out the result
 * dtype with PyTorch's promotion rules (dimensioned tensors > 0-d tensors > Lua
 * numbers), the compute dtype, the output shape, allocation, `out=` and in-place
 * checks. Kernels (core/cpu/unary.c, binary.c, ternary.c) see operands already
 * converted to the compute dtype, and an output of the compute dtype (or bool for
 * predicates); they only loop. */
#ifndef EM_ELEMENTWISE_H
#define EM_ELEMENTWISE_H

#include "tensor.h"

/* An operand: a tensor, or (t == NULL) a number as Lua handed it over. */
typedef struct em_arg {
    em_tensor *t;
    em_scalar s;
} em_arg;

static inline em_arg em_arg_tensor(em_tensor *t)
{
    em_arg a = { t, { false, false, 0, 0.0 } };
    return a;
}
static inline em_arg em_arg_scalar(em_scalar s)
{
    em_arg a = { NULL, s };
    return a;
}

typedef enum em_unary_op {
    /* keep the dtype (integers included) */
    EM_UN_NEG, EM_UN_ABS, EM_UN_SIGN, EM_UN_FLOOR, EM_UN_CEIL, EM_UN_ROUND, EM_UN_TRUNC,
    EM_UN_RELU, EM_UN_FRAC, EM_UN_CLAMP, EM_UN_NAN_TO_NUM, EM_UN_BITWISE_NOT,
    /* float results (integer inputs compute in float32) */
    EM_UN_EXP, EM_UN_EXPM1, EM_UN_LOG, EM_UN_LOG1P, EM_UN_LOG2, EM_UN_LOG10, EM_UN_SQRT,
    EM_UN_RSQRT, EM_UN_RECIPROCAL, EM_UN_SIN, EM_UN_COS, EM_UN_TAN, EM_UN_ASIN, EM_UN_ACOS,
    EM_UN_ATAN, EM_UN_SINH, EM_UN_COSH, EM_UN_TANH, EM_UN_SIGMOID, EM_UN_ERF,
    /* bool results */
    EM_UN_ISNAN, EM_UN_ISINF, EM_UN_ISFINITE, EM_UN_LOGICAL_NOT,
    EM_UN_COUNT
} em_unary_op;

typedef enum em_binary_op {
    EM_BIN_ADD, EM_BIN_SUB, EM_BIN_MUL, EM_BIN_DIV, EM_BIN_DIV_FLOOR, EM_BIN_DIV_TRUNC,
    EM_BIN_REMAINDER, EM_BIN_FMOD, EM_BIN_POW, EM_BIN_ATAN2, EM_BIN_MAXIMUM, EM_BIN_MINIMUM,
    EM_BIN_BITWISE_AND, EM_BIN_BITWISE_OR, EM_BIN_BITWISE_XOR, EM_BIN_SHL, EM_BIN_SHR,
    /* bool results */
    EM_BIN_EQ, EM_BIN_NE, EM_BIN_LT, EM_BIN_LE, EM_BIN_GT, EM_BIN_GE,
    EM_BIN_LOGICAL_AND, EM_BIN_LOGICAL_OR, EM_BIN_LOGICAL_XOR,
    EM_BIN_COUNT
} em_binary_op;

typedef enum em_ternary_op {
    EM_TER_WHERE,   /* cond ? a : b (operand 1 is bool) */
    EM_TER_LERP,    /* a + w * (b - a) */
    EM_TER_ADDCMUL, /* a + value * b * c */
    EM_TER_ADDCDIV, /* a + value * b / c */
    EM_TER_CLAMP,   /* min(max(a, lo), hi) with tensor bounds */
    EM_TER_COUNT
} em_ternary_op;

/* Extra numbers some ops take, already in the compute dtype's range:
 * alpha (add/sub), lo/hi (clamp; has_lo/has_hi), nan/posinf/neginf (nan_to_num),
 * value (addcmul/addcdiv). */
typedef struct em_ew_params {
    em_scalar alpha;
    em_scalar lo, hi;
    bool has_lo, has_hi;
    double nan, posinf, neginf;
    bool has_posinf, has_neginf;
    em_scalar value;
} em_ew_params;

/* Kernels. Operands share the compute dtype ct and broadcast to out's shape; out
 * has dtype ct, or bool for predicates. Return 0, -1 with an error set, or
 * EM_EW_ZERO_DIVISION for an integer division by zero (nothing written; the front
 * names the op in the message). p is never NULL. */
#define EM_EW_ZERO_DIVISION (-2)
typedef int (*em_unary_kernel)(em_tensor *out, const em_tensor *x, em_unary_op op, const em_ew_params *p);
typedef int (*em_binary_kernel)(em_tensor *out, const em_tensor *a, const em_tensor *b, em_binary_op op,
                                const em_ew_params *p);
/* For WHERE, a is the bool condition and b, c the values (dtype ct). */
typedef int (*em_ternary_kernel)(em_tensor *out, const em_tensor *a, const em_tensor *b, const em_tensor *c,
                                 em_ternary_op op, const em_ew_params *p);

const char *em_unary_name(em_unary_op op);
const char *em_binary_name(em_binary_op op);

/* The fronts. `out` (borrowed, may be NULL) receives the result and is returned
 * retained; otherwise a new tensor is returned. NULL on error. In-place forms
 * write into self and return 0 or -1. p may be NULL (alpha = 1). Numbers in
 * em_arg take part in promotion as Lua numbers do in PyTorch. */
em_tensor *em_unary(em_unary_op op, em_tensor *x, const em_ew_params *p, em_tensor *out);
int em_unary_(em_unary_op op, em_tensor *self, const em_ew_params *p);
em_tensor *em_binary(em_binary_op op, em_arg a, em_arg b, const em_ew_params *p, em_tensor *out);
int em_binary_(em_binary_op op, em_tensor *self, em_arg b, const em_ew_params *p);
em_tensor *em_ternary(em_ternary_op op, em_arg a, em_arg b, em_arg c, const em_ew_params *p, em_tensor *out);
int em_ternary_(em_ternary_op op, em_tensor *self, em_arg b, em_arg c, const em_ew_params *p);

/* clamp with number or tensor bounds; a NULL bound is absent (not both). */
em_tensor *em_clamp(em_tensor *x, const em_arg *lo, const em_arg *hi, em_tensor *out);
int em_clamp_(em_tensor *self, const em_arg *lo, const em_arg *hi);

/* PyTorch's result_type over up to 4 operands. */
em_dtype em_result_type(int n, const em_arg *args);
/* PyTorch's can_cast: float -> integral and non-bool -> bool are refused. */
bool em_can_cast(em_dtype from, em_dtype to);

#endif
