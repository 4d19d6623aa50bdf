/* The CPU backend: allocator plus each kernel family's registration. */
#include "../alloc.h"
#include "../dispatch.h"
#include "cpu.h"

void em_cpu_backend_init(em_backend *be)
{
    be->alloc = em_alloc_cpu;
    be->free = em_free_cpu;
    em_cpu_register_copy(be);
    em_cpu_register_index(be);
    em_cpu_register_random(be);
    em_cpu_register_unary(be);
    em_cpu_register_binary(be);
    em_cpu_register_ternary(be);
    em_cpu_register_blas(be);
    em_cpu_register_reduce(be);
    em_cpu_register_scan(be);
    em_cpu_register_sort(be);
    em_cpu_register_pool(be);
    em_cpu_register_loss(be);
    em_cpu_register_embedding_bag(be);
    em_cpu_register_ctc(be);
    em_cpu_register_conv(be);
    em_cpu_register_grid_sample(be);
    em_cpu_register_upsample(be);
    em_cpu_register_optim(be);
    em_cpu_register_norm(be);
    em_cpu_register_pad(be);
    em_cpu_register_rnn(be);
}
