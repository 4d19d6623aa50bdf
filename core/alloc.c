/* Caching CPU allocator: size classes of four steps per power of two (at most 25%
 * rounding waste), a LIFO free list per class, guarded by one mutex so loader
 * threads can share it. A loop that allocates the same sizes every iteration is
 * served from the cache; a request the cache cannot serve first hands cached blocks
 * beyond CACHE_SLACK back to the system (largest first), so blocks of sizes that are
 * no longer asked for (a big batch's activations) do not add to the peak memory. */
#include "alloc.h"
#include "error.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Under AddressSanitizer cached blocks are poisoned (all but the free-list link),
 * so a use after free is still caught although the block is not returned. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((char *)(p) + sizeof(void *), (n) - sizeof(void *))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define N_CLASSES 256
#define MIN_BLOCK 64
#define CACHE_SLACK ((int64_t)8 << 20)

typedef struct block {
    struct block *next;
} block;

static block *free_lists[N_CLASSES];
static em_alloc_stats stats;
static int64_t cache_limit;
/* A spinlock: the critical sections are a few pointer moves, and an uncontended
 * pthread mutex cost a noticeable share of a small op. */
static atomic_flag lock_flag = ATOMIC_FLAG_INIT;

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&lock_flag, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&lock_flag, memory_order_release);
}

/* Class index and rounded size of a request. Sizes up to 256 B round to 64 B;
 * above that, each power of two [2^k, 2^(k+1)) is split in four classes. */
static int size_class(size_t n, size_t *rounded)
{
    if (n <= 256) {
        size_t r = (n + MIN_BLOCK - 1) / MIN_BLOCK * MIN_BLOCK;
        if (r == 0)
            r = MIN_BLOCK;
        *rounded = r;
        return (int)(r / MIN_BLOCK) - 1; /* 0..3 */
    }
    int k = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^k < n <= 2^(k+1) */
    size_t base = (size_t)1 << k;
    size_t step = base / 4;
    size_t q = (n - base + step - 1) / step; /* 1..4 */
    *rounded = base + q * step;
    return 4 + (k - 8) * 4 + (int)(q - 1);
}

/* The rounded size of class c (the inverse of size_class). */
static size_t class_size(int c)
{
    if (c < 4)
        return (size_t)(c + 1) * MIN_BLOCK;
    size_t base = (size_t)1 << ((c - 4) / 4 + 8);
    return base + (size_t)((c - 4) % 4 + 1) * (base / 4);
}

/* Frees cached blocks, largest class first, until at most keep bytes stay cached or
 * want bytes were freed. Called with the lock held. */
static void trim_cache_locked(int64_t keep, int64_t want)
{
    int64_t freed = 0;
    for (int c = N_CLASSES - 1; c >= 0 && stats.cached > keep && freed < want; c--) {
        while (free_lists[c] && stats.cached > keep && freed < want) {
            block *b = free_lists[c];
            free_lists[c] = b->next;
            size_t rounded = class_size(c);
            UNPOISON(b, rounded);
            stats.cached -= (int64_t)rounded;
            freed += (int64_t)rounded;
            free(b);
        }
    }
}

static void drop_cache_locked(void)
{
    for (int c = 0; c < N_CLASSES; c++) {
        block *b = free_lists[c];
        while (b) {
            block *next = b->next;
            free(b);
            b = next;
        }
        free_lists[c] = NULL;
    }
    stats.cached = 0;
}

void *em_alloc_cpu(size_t nbytes)
{
    size_t rounded;
    int c = size_class(nbytes, &rounded);
    lock();
    stats.n_alloc++;
    if (c < N_CLASSES && free_lists[c]) {
        block *b = free_lists[c];
        free_lists[c] = b->next;
        UNPOISON(b, rounded);
        stats.cached -= (int64_t)rounded;
        stats.allocated += (int64_t)rounded;
        if (stats.allocated > stats.peak_allocated)
            stats.peak_allocated = stats.allocated;
        unlock();
        return b;
    }
    stats.n_system_alloc++;
    if (stats.cached > CACHE_SLACK)
        trim_cache_locked(CACHE_SLACK, (int64_t)rounded);
    unlock();

    void *p = NULL;
    if (posix_memalign(&p, 64, rounded) != 0) {
        /* under memory pressure: give the cache back and try once more */
        lock();
        drop_cache_locked();
        unlock();
        if (posix_memalign(&p, 64, rounded) != 0) {
            em_error("out of memory: cannot allocate %zu bytes", nbytes);
            return NULL;
        }
    }
    lock();
    stats.allocated += (int64_t)rounded;
    if (stats.allocated > stats.peak_allocated)
        stats.peak_allocated = stats.allocated;
    unlock();
    return p;
}

void em_free_cpu(void *p, size_t nbytes)
{
    if (!p)
        return;
    size_t rounded;
    int c = size_class(nbytes, &rounded);
    lock();
    stats.allocated -= (int64_t)rounded;
    if (cache_limit == 0) {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        cache_limit = (pages > 0 && psize > 0) ? (int64_t)pages * psize / 4 : ((int64_t)1 << 30);
    }
    if (c < N_CLASSES && stats.cached + (int64_t)rounded <= cache_limit) {
        block *b = p;
        b->next = free_lists[c];
        free_lists[c] = b;
        POISON(b, rounded);
        stats.cached += (int64_t)rounded;
        unlock();
        return;
    }
    unlock();
    free(p);
}

void em_alloc_empty_cache(void)
{
    lock();
    drop_cache_locked();
    unlock();
}

em_alloc_stats em_alloc_get_stats(void)
{
    lock();
    em_alloc_stats s = stats;
    unlock();
    return s;
}
