/* Caching allocator for CPU tensor storage.
 * First touch of fresh memory is expensive here (~10 us per 4 KiB page), so freed
 * blocks are kept and handed out again instead of going back to the system: small ones
 * in per-size-class free lists, large ones (1 MiB and up) as free parts of segments that
 * later requests are carved from. em_alloc_empty_cache() (and a failed allocation)
 * gives back the small free lists and every segment with nothing in use; the cache never
 * grows past a quarter of physical memory. */
#ifndef EM_ALLOC_H
#define EM_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *em_alloc_cpu(size_t nbytes);   /* 64-byte aligned; NULL (with em_error set) on failure */
void em_free_cpu(void *p, size_t nbytes);
void em_alloc_empty_cache(void);

typedef struct em_alloc_stats {
    int64_t allocated;       /* bytes handed out and not yet freed (rounded to size class) */
    int64_t cached;          /* bytes held in free lists */
    int64_t peak_allocated;
    int64_t n_alloc;         /* calls to em_alloc_cpu */
    int64_t n_system_alloc;  /* of those, how many went to the system */
} em_alloc_stats;

em_alloc_stats em_alloc_get_stats(void);

#endif
