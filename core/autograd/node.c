/* Graph nodes and per-tensor autograd state: creating nodes and edges, saving
 * tensors with their version, setting a tensor's history, hooks, detach and
 * requires_grad. Nodes are freed iteratively so that a graph with a million
 * nodes in a chain does not overflow the C stack when its output dies. */
#include "autograd.h"

#include <stdlib.h>
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "functions.h"

static _Thread_local bool grad_enabled = true;

/* Nodes and metas are made and freed once per op in a training step; small blocks
 * are kept on per-thread free lists by 64-byte class instead of going back to
 * malloc each time. */
#define BLOCK_CLASSES 16
#define BLOCK_CACHE_MAX 4096
static _Thread_local void *block_free[BLOCK_CLASSES];
static _Thread_local int block_count[BLOCK_CLASSES];

static void *block_alloc(size_t size, int *cls)
{
    int c = (int)((size + 63) / 64) - 1;
    if (c < BLOCK_CLASSES) {
        *cls = c;
        void *p = block_free[c];
        if (p) {
            block_free[c] = *(void **)p;
            block_count[c]--;
            memset(p, 0, (size_t)(c + 1) * 64);
            return p;
        }
        return calloc(1, (size_t)(c + 1) * 64);
    }
    *cls = -1;
    return calloc(1, size);
}

static void block_free_(void *p, int cls)
{
    if (cls >= 0 && block_count[cls] < BLOCK_CACHE_MAX) {
        *(void **)p = block_free[cls];
        block_free[cls] = p;
        block_count[cls]++;
        return;
    }
    free(p);
}
static uint64_t next_seq = 1;
static int next_hook_id = 1;

bool em_grad_enabled(void) { return grad_enabled; }
void em_set_grad_enabled(bool on) { grad_enabled = on; }

/* ---- meta ---- */

static void hooks_free(em_hook *h)
{
    while (h) {
        em_hook *next = h->next;
        if (h->free)
            h->free(h->ud);
        free(h);
        h = next;
    }
}

static int retain_grad_hook(void *ud, em_tensor *grad, em_tensor **replacement);

static void meta_free(em_autograd_meta *m)
{
    if (m->retains_grad && m->grad_fn) {
        /* drop the retain_grad hook that points (weakly) at this tensor */
        em_hook **pp = &m->grad_fn->pre_hooks;
        while (*pp) {
            em_hook *h = *pp;
            if (h->fn == retain_grad_hook && h->ud == m->self) {
                *pp = h->next;
                free(h);
            } else {
                pp = &h->next;
            }
        }
    }
    hooks_free(m->hooks);
    em_node_release(m->grad_fn);
    block_free_(m, 0);
}

void em_autograd_init(void)
{
    em_autograd_meta_free = meta_free;
}

em_autograd_meta *em_ag_meta(em_tensor *t)
{
    if (t->autograd)
        return t->autograd;
    int cls;
    _Static_assert(sizeof(em_autograd_meta) <= 64, "meta fits the first block class");
    em_autograd_meta *m = block_alloc(sizeof *m, &cls);
    if (!m) {
        em_error("out of memory");
        return NULL;
    }
    if (!em_autograd_meta_free)
        em_autograd_init();
    m->self = t;
    t->autograd = m;
    return m;
}

/* ---- nodes ---- */

em_node *em_node_new(const char *name, em_backward_fn fn, int n_next, int n_out, int n_saved, size_t ctx_size)
{
    size_t ctx_off = sizeof(em_node);
    ctx_size = (ctx_size + 15) & ~(size_t)15;
    size_t edges_off = ctx_off + ctx_size;
    size_t meta_off = edges_off + (size_t)n_next * sizeof(em_edge);
    size_t saved_off = meta_off + (size_t)n_out * sizeof(em_out_meta);
    size_t total = saved_off + (size_t)n_saved * sizeof(em_saved);
    int cls;
    char *p = block_alloc(total, &cls);
    if (!p) {
        em_error("out of memory");
        return NULL;
    }
    em_node *n = (em_node *)p;
    n->block_class = cls;
    n->refcount = 1;
    n->name = name;
    n->backward = fn;
    n->seq = next_seq++;
    n->n_next = n_next;
    n->n_out = n_out;
    n->n_saved = n_saved;
    n->ctx = ctx_size ? p + ctx_off : NULL;
    n->next = (em_edge *)(p + edges_off);
    n->out_meta = (em_out_meta *)(p + meta_off);
    n->saved = (em_saved *)(p + saved_off);
    for (int i = 0; i < n_saved; i++)
        n->saved[i].output_nr = -1;
    return n;
}

void em_node_retain(em_node *n)
{
    n->refcount++;
}

static void node_release_saved(em_node *n)
{
    for (int i = 0; i < n->n_saved; i++) {
        em_tensor_release(n->saved[i].t);
        n->saved[i].t = NULL;
    }
}

/* Nodes whose count reached zero wait here; the outermost release drains it, so
 * freeing a long chain takes a loop, not a recursion. */
static _Thread_local em_node **doomed;
static _Thread_local size_t n_doomed, cap_doomed;
static _Thread_local bool draining;

static void node_destroy(em_node *n)
{
    for (int i = 0; i < n->n_next; i++)
        em_node_release(n->next[i].node);
    node_release_saved(n);
    if (n->free_ctx)
        n->free_ctx(n);
    hooks_free(n->pre_hooks);
    if (n->variable) {
        em_autograd_meta *m = n->variable->autograd;
        if (m && m->accumulator == n)
            m->accumulator = NULL;
        em_tensor_release(n->variable);
    }
    block_free_(n, n->block_class);
}

void em_node_release(em_node *n)
{
    if (!n || --n->refcount > 0)
        return;
    if (n_doomed == cap_doomed) {
        size_t cap = cap_doomed ? cap_doomed * 2 : 64;
        em_node **p = realloc(doomed, cap * sizeof *p);
        if (!p) { /* out of memory: fall back to recursion */
            node_destroy(n);
            return;
        }
        doomed = p;
        cap_doomed = cap;
    }
    doomed[n_doomed++] = n;
    if (draining)
        return;
    draining = true;
    while (n_doomed > 0)
        node_destroy(doomed[--n_doomed]);
    draining = false;
}

em_edge em_gradient_edge(em_tensor *t)
{
    em_edge e = { NULL, 0 };
    if (!t || !t->requires_grad)
        return e;
    em_autograd_meta *m = t->autograd;
    if (m && m->grad_fn) {
        em_node_retain(m->grad_fn);
        e.node = m->grad_fn;
        e.input_nr = m->output_nr;
        return e;
    }
    if (m && m->accumulator) {
        em_node_retain(m->accumulator);
        e.node = m->accumulator;
        return e;
    }
    m = em_ag_meta(t);
    if (!m)
        return e;
    em_node *acc = em_node_new("AccumulateGrad", NULL, 0, 1, 0, 0);
    if (!acc)
        return e;
    acc->out_meta[0].ndim = t->ndim;
    acc->out_meta[0].dtype = t->dtype;
    acc->out_meta[0].device = em_tensor_device(t);
    memcpy(acc->out_meta[0].sizes, t->sizes, sizeof(int64_t) * (size_t)t->ndim);
    em_tensor_retain(t);
    acc->variable = t;
    m->accumulator = acc;
    e.node = acc;
    return e;
}

int em_node_set_next(em_node *n, int i, em_tensor *t)
{
    em_node_release(n->next[i].node);
    n->next[i].node = NULL;
    if (!t || !t->requires_grad)
        return 0;
    em_edge e = em_gradient_edge(t);
    if (!e.node)
        return -1;
    n->next[i] = e;
    return 0;
}

int em_node_save(em_node *n, int i, em_tensor *t)
{
    em_tensor_release(n->saved[i].t);
    n->saved[i].t = t;
    n->saved[i].output_nr = -1;
    if (t) {
        em_tensor_retain(t);
        n->saved[i].version = t->storage->version;
    }
    return 0;
}

int em_node_save_output(em_node *n, int i, em_tensor *t, int output_nr)
{
    em_tensor *a = em_tensor_alias(t);
    if (!a)
        return -1;
    em_tensor_release(n->saved[i].t);
    n->saved[i].t = a;
    n->saved[i].version = t->storage->version;
    n->saved[i].output_nr = output_nr;
    return 0;
}

em_tensor *em_node_saved(em_node *n, int i)
{
    em_saved *s = &n->saved[i];
    if (n->released || !s->t) {
        em_error("backward: trying to backward through the graph a second time (%s's saved tensors were freed "
                 "by the first backward); pass {retain_graph=true} to the first backward to keep them",
                 n->name);
        return NULL;
    }
    if (s->t->storage->version != s->version) {
        em_error("backward: a tensor saved by %s for the gradient was modified by an in-place operation "
                 "(its version is %llu, %llu when saved); clone it before the in-place change",
                 n->name, (unsigned long long)s->t->storage->version, (unsigned long long)s->version);
        return NULL;
    }
    if (s->output_nr < 0 || !em_grad_enabled()) {
        em_tensor_retain(s->t);
        return s->t;
    }
    /* create_graph: the output must carry this node's history again */
    em_tensor *t = em_tensor_alias(s->t);
    if (!t)
        return NULL;
    em_autograd_meta *m = em_ag_meta(t);
    if (!m) {
        em_tensor_release(t);
        return NULL;
    }
    em_node_retain(n);
    m->grad_fn = n;
    m->output_nr = s->output_nr;
    t->requires_grad = true;
    return t;
}

int em_set_history(em_tensor *out, em_node *n, int output_nr)
{
    em_out_meta *om = &n->out_meta[output_nr];
    om->ndim = out->ndim;
    om->dtype = out->dtype;
    om->device = em_tensor_device(out);
    memcpy(om->sizes, out->sizes, sizeof(int64_t) * (size_t)out->ndim);
    em_autograd_meta *m = em_ag_meta(out);
    if (!m)
        return -1;
    em_node_retain(n);
    em_node_release(m->grad_fn);
    m->grad_fn = n;
    m->output_nr = output_nr;
    out->requires_grad = true;
    return 0;
}

/* ---- tensor-level operations ---- */

int em_set_requires_grad(em_tensor *t, bool on)
{
    if (on && !em_dtype_is_float(t->dtype))
        return em_error("requires_grad: only floating-point tensors can require gradients (this one is %s)",
                        em_dtype_name(t->dtype));
    if (!em_is_leaf(t)) {
        if (on)
            return 0;
        return em_error("requires_grad: only a leaf tensor's requires_grad can be changed; "
                        "use x:detach() for a non-leaf that should not require grad");
    }
    t->requires_grad = on;
    return 0;
}

em_tensor *em_detach(em_tensor *t)
{
    return em_tensor_alias(t);
}

int em_detach_(em_tensor *t)
{
    if (t->autograd) {
        em_node_release(t->autograd->grad_fn);
        t->autograd->grad_fn = NULL;
    }
    t->requires_grad = false;
    return 0;
}

static int retain_grad_hook(void *ud, em_tensor *grad, em_tensor **replacement)
{
    (void)replacement;
    em_tensor *t = ud;
    em_tensor *g;
    if (t->grad) {
        g = em_ag_binary(EM_BIN_ADD, em_arg_tensor(t->grad), em_arg_tensor(grad), NULL, NULL);
    } else if (em_grad_enabled()) {
        g = grad;
        em_tensor_retain(g);
    } else {
        g = em_clone(grad);
    }
    if (!g)
        return -1;
    em_tensor_release(t->grad);
    t->grad = g;
    return 0;
}

static em_hook *hook_new(int (*fn)(void *, em_tensor *, em_tensor **), void (*free_fn)(void *), void *ud,
                         int output_nr)
{
    em_hook *h = calloc(1, sizeof *h);
    if (!h) {
        em_error("out of memory");
        return NULL;
    }
    h->fn = fn;
    h->free = free_fn;
    h->ud = ud;
    h->output_nr = output_nr;
    h->id = next_hook_id++;
    return h;
}

static void hook_append(em_hook **list, em_hook *h)
{
    while (*list)
        list = &(*list)->next;
    *list = h;
}

int em_retain_grad(em_tensor *t)
{
    if (!t->requires_grad)
        return em_error("retain_grad: the tensor does not require grad");
    if (em_is_leaf(t))
        return 0; /* leaves keep their grad anyway */
    em_autograd_meta *m = t->autograd;
    if (m->retains_grad)
        return 0;
    em_hook *h = hook_new(retain_grad_hook, NULL, t, m->output_nr);
    if (!h)
        return -1;
    hook_append(&m->grad_fn->pre_hooks, h);
    m->retains_grad = true;
    return 0;
}

int em_register_hook(em_tensor *t, int (*fn)(void *, em_tensor *, em_tensor **), void (*free_fn)(void *),
                     void *ud)
{
    if (!t->requires_grad) {
        if (free_fn)
            free_fn(ud);
        return em_error("register_hook: the tensor does not require grad, so no gradient will reach the hook");
    }
    em_autograd_meta *m = em_ag_meta(t);
    em_hook *h = m ? hook_new(fn, free_fn, ud, m->output_nr) : NULL;
    if (!h) {
        if (free_fn)
            free_fn(ud);
        return -1;
    }
    if (m->grad_fn) {
        /* before the retain_grad hook, so a retained grad sees the replacement */
        em_hook **pp = &m->grad_fn->pre_hooks;
        while (*pp && (*pp)->fn != retain_grad_hook)
            pp = &(*pp)->next;
        h->next = *pp;
        *pp = h;
    } else {
        hook_append(&m->hooks, h);
    }
    return h->id;
}

static bool hook_remove(em_hook **list, int id)
{
    for (; *list; list = &(*list)->next) {
        em_hook *h = *list;
        if (h->id == id) {
            *list = h->next;
            if (h->free)
                h->free(h->ud);
            free(h);
            return true;
        }
    }
    return false;
}

int em_remove_hook(em_tensor *t, int id)
{
    em_autograd_meta *m = t->autograd;
    if (!m)
        return 0;
    if (hook_remove(&m->hooks, id))
        return 0;
    if (m->grad_fn)
        hook_remove(&m->grad_fn->pre_hooks, id);
    return 0;
}

int em_set_grad(em_tensor *t, em_tensor *g)
{
    if (g) {
        char a[EM_SHAPE_BUF], b[EM_SHAPE_BUF];
        if (!em_same_shape(t, g))
            return em_error("grad: the assigned gradient has shape %s but the tensor has shape %s",
                            em_tensor_shape_str(g, a, sizeof a), em_tensor_shape_str(t, b, sizeof b));
        if (g->dtype != t->dtype)
            return em_error("grad: the assigned gradient is %s but the tensor is %s", em_dtype_name(g->dtype),
                            em_dtype_name(t->dtype));
        if (!em_device_eq(em_tensor_device(g), em_tensor_device(t)))
            return em_error("grad: the assigned gradient is on another device than the tensor");
        em_tensor_retain(g);
    }
    em_tensor_release(t->grad);
    t->grad = g;
    return 0;
}

em_tensor *em_ag_sum_to(em_tensor *g, int ndim, const int64_t *sizes)
{
    int lead = g->ndim - ndim;
    bool dims[EM_MAX_DIMS] = { false };
    bool any = false;
    for (int i = 0; i < g->ndim; i++) {
        if (i < lead || (sizes[i - lead] == 1 && g->sizes[i] != 1)) {
            dims[i] = true;
            any = true;
        }
    }
    if (!any && lead == 0) {
        em_tensor_retain(g);
        return g;
    }
    em_tensor *s = em_ag_sum(g, dims, true, -1, NULL);
    if (!s)
        return NULL;
    em_tensor *r = em_ag_view(s, ndim, sizes);
    em_tensor_release(s);
    return r;
}
