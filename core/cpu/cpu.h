/* Registration functions of the CPU kernel families (one per core/cpu/ file). */
#ifndef EM_CPU_H
#define EM_CPU_H

#include "../dispatch.h"

void em_cpu_register_copy(em_backend *be);
void em_cpu_register_index(em_backend *be);
void em_cpu_register_random(em_backend *be);
void em_cpu_register_unary(em_backend *be);
void em_cpu_register_binary(em_backend *be);
void em_cpu_register_ternary(em_backend *be);
void em_cpu_register_blas(em_backend *be);
void em_cpu_register_reduce(em_backend *be); /* reduce.c, scan.c, sort.c */
void em_cpu_register_scan(em_backend *be);
void em_cpu_register_sort(em_backend *be);
void em_cpu_register_pool(em_backend *be);
void em_cpu_register_loss(em_backend *be);

#endif
