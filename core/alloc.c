/* Caching CPU allocator. Small blocks (under 1 MiB): size classes of four steps per
 * power of two (at most 25% rounding waste), a LIFO free list per class. Large blocks:
 * carved best-fit out of segments taken from the system, split when the rest is worth
 * keeping and merged with free neighbours when freed, so memory freed by one size
 * (a layer's output) serves the next sizes asked for (the layers after it) and the
 * resident set stays near the live bytes; a loop that asks for the same sizes every
 * iteration is served without system calls or fresh page faults. One spinlock guards
 * both, so loader threads can share them. */
#include "alloc.h"
#include "error.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* Under AddressSanitizer cached blocks are poisoned (all but the free-list link),
 * so a use after free is still caught although the block is not returned. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((char *)(p) + sizeof(void *), (n) - sizeof(void *))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define POISON_ALL(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define POISON_ALL(p, n) ((void)(p), (void)(n))
#endif

#define N_CLASSES 256
#define MIN_BLOCK 64
#define LARGE_MIN ((size_t)1 << 20)    /* requests from this size on are large blocks */
#define LARGE_ROUND ((size_t)64 << 10) /* large sizes are rounded up to this */
#define LARGE_HASH 1024                /* buckets of the in-use large blocks */

typedef struct block {
    struct block *next;
} block;

static block *free_lists[N_CLASSES];
static em_alloc_stats stats;
static int64_t small_cached; /* the part of stats.cached in the small free lists */
static int64_t cache_limit;  /* at most this many bytes stay cached (a quarter of RAM) */
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

static void limit_init_locked(void)
{
    if (cache_limit == 0) {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        cache_limit = (pages > 0 && psize > 0) ? (int64_t)pages * psize / 4 : ((int64_t)1 << 30);
    }
}

/* ---- large blocks ---- */

/* A block of a segment: in use or free. Blocks of one segment are linked in address
 * order (prev/next); a free block is on the free list, a block in use in a hash
 * bucket (link). Block records live outside the memory they describe. */
typedef struct lblock {
    char *ptr;
    size_t size;
    bool free;
    struct lblock *prev, *next; /* address-order neighbours in the same segment */
    struct lblock *link, *link_prev; /* free list (doubly linked) or hash chain (link only) */
} lblock;

static lblock *large_free;
static lblock *large_used[LARGE_HASH];

static size_t large_bucket(const void *p)
{
    return ((uintptr_t)p >> 16) % LARGE_HASH;
}

static void free_list_push(lblock *b)
{
    b->free = true;
    b->link_prev = NULL;
    b->link = large_free;
    if (large_free)
        large_free->link_prev = b;
    large_free = b;
}

static void free_list_remove(lblock *b)
{
    if (b->link_prev)
        b->link_prev->link = b->link;
    else
        large_free = b->link;
    if (b->link)
        b->link->link_prev = b->link_prev;
    b->free = false;
}

/* A free block that is a whole segment goes back to the system. */
static bool is_segment(const lblock *b)
{
    return !b->prev && !b->next;
}

static void segment_release(lblock *b)
{
    free_list_remove(b);
    stats.cached -= (int64_t)b->size;
    UNPOISON(b->ptr, b->size);
    free(b->ptr);
    free(b);
}

/* Gives whole free segments back until `want` bytes went (all of them when want < 0). */
static void large_release_locked(int64_t want)
{
    lblock *b = large_free;
    int64_t done = 0;
    while (b && (want < 0 || done < want)) {
        lblock *next = b->link;
        if (is_segment(b)) {
            done += (int64_t)b->size;
            segment_release(b);
        }
        b = next;
    }
}

/* Hands out b (off the free list, not counted as cached), split to need bytes. */
static void *large_take_locked(lblock *b, size_t need)
{
    if (b->size - need >= LARGE_MIN) { /* split: the rest stays free */
        lblock *rest = malloc(sizeof *rest);
        if (rest) {
            *rest = (lblock){ .ptr = b->ptr + need, .size = b->size - need, .prev = b, .next = b->next };
            if (b->next)
                b->next->prev = rest;
            b->next = rest;
            b->size = need;
            free_list_push(rest);
            stats.cached += (int64_t)rest->size;
        }
    }
    size_t h = large_bucket(b->ptr);
    b->link = large_used[h];
    large_used[h] = b;
    UNPOISON(b->ptr, b->size);
    stats.allocated += (int64_t)b->size;
    if (stats.allocated > stats.peak_allocated)
        stats.peak_allocated = stats.allocated;
    return b->ptr;
}

static void *large_alloc(size_t nbytes)
{
    size_t need = (nbytes + LARGE_ROUND - 1) / LARGE_ROUND * LARGE_ROUND;
    lock();
    stats.n_alloc++;
    lblock *best = NULL;
    for (lblock *b = large_free; b; b = b->link)
        if (b->size >= need && (!best || b->size < best->size))
            best = b;
    if (best) {
        free_list_remove(best);
        stats.cached -= (int64_t)best->size;
        void *p = large_take_locked(best, need);
        unlock();
        return p;
    }
    /* a miss: free segments that could not serve it go back first, so the footprint
     * moves to the new size instead of growing by it */
    stats.n_system_alloc++;
    large_release_locked((int64_t)need);
    unlock();

    lblock *b = malloc(sizeof *b);
    void *p = NULL;
    if (b && posix_memalign(&p, 4096, need) != 0) {
        em_alloc_empty_cache(); /* under memory pressure: give the cache back, try once more */
        if (posix_memalign(&p, 4096, need) != 0)
            p = NULL;
    }
    if (!b || !p) {
        free(b);
        em_error("out of memory: cannot allocate %zu bytes", nbytes);
        return NULL;
    }
    *b = (lblock){ .ptr = p, .size = need };
    lock();
    large_take_locked(b, need);
    unlock();
    return p;
}

static void large_free_block(void *p)
{
    lock();
    lblock **pp = &large_used[large_bucket(p)];
    while (*pp && (*pp)->ptr != (char *)p)
        pp = &(*pp)->link;
    lblock *b = *pp;
    if (!b) { /* not ours: a caller bug; leave the memory alone rather than corrupt the pool */
        unlock();
        return;
    }
    *pp = b->link;
    stats.allocated -= (int64_t)b->size;
    stats.cached += (int64_t)b->size;
    POISON_ALL(b->ptr, b->size);
    lblock *n = b->next;
    if (n && n->free) { /* merge the next block into b */
        free_list_remove(n);
        b->size += n->size;
        b->next = n->next;
        if (n->next)
            n->next->prev = b;
        free(n);
    }
    lblock *pr = b->prev;
    if (pr && pr->free) { /* merge b into the previous block */
        pr->size += b->size;
        pr->next = b->next;
        if (b->next)
            b->next->prev = pr;
        free(b);
        b = pr;
    } else {
        free_list_push(b);
    }
    limit_init_locked();
    if (is_segment(b) && stats.cached > cache_limit)
        segment_release(b);
    unlock();
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
    stats.cached -= small_cached;
    small_cached = 0;
    large_release_locked(-1);
}

void *em_alloc_cpu(size_t nbytes)
{
    if (nbytes >= LARGE_MIN)
        return large_alloc(nbytes);
    size_t rounded;
    int c = size_class(nbytes, &rounded);
    lock();
    stats.n_alloc++;
    if (c < N_CLASSES && free_lists[c]) {
        block *b = free_lists[c];
        free_lists[c] = b->next;
        UNPOISON(b, rounded);
        stats.cached -= (int64_t)rounded;
        small_cached -= (int64_t)rounded;
        stats.allocated += (int64_t)rounded;
        if (stats.allocated > stats.peak_allocated)
            stats.peak_allocated = stats.allocated;
        unlock();
        return b;
    }
    stats.n_system_alloc++;
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
    if (nbytes >= LARGE_MIN) {
        large_free_block(p);
        return;
    }
    size_t rounded;
    int c = size_class(nbytes, &rounded);
    lock();
    stats.allocated -= (int64_t)rounded;
    limit_init_locked();
    if (c < N_CLASSES && stats.cached + (int64_t)rounded <= cache_limit) {
        block *b = p;
        b->next = free_lists[c];
        free_lists[c] = b;
        POISON(b, rounded);
        stats.cached += (int64_t)rounded;
        small_cached += (int64_t)rounded;
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
