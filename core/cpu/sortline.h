/* Sorting one strided line of values: shared by the sort/topk/unique kernels and the
 * median/kthvalue/mode reductions. */
#ifndef EM_CPU_SORTLINE_H
#define EM_CPU_SORTLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "../dtype.h"

/* Packs the n values of the line at `line` (stride in bytes) into buf (n * element size
 * bytes) and sorts positions 0..n-1 into idx by value: stable, NaN the largest value
 * (last ascending, first descending). tmp is scratch space of n entries. dt is one of
 * the math dtypes (bool, integers, float32, float64). */
void em_cpu_argsort_line(em_dtype dt, const char *line, int64_t n, int64_t stride, bool descending, void *buf,
                         int64_t *idx, int64_t *tmp);

/* Whether two packed elements are equal as values (NaN equals nothing). */
bool em_cpu_elem_eq(em_dtype dt, const void *a, const void *b);
bool em_cpu_elem_isnan(em_dtype dt, const void *a);

#endif
