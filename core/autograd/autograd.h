/* The autograd engine: graph nodes, saved tensors, hooks, grad mode, and the
 * backward pass. Differentiable ops (core/autograd/fn_*.c) run the plain core op,
 * and when grad mode is on and an input requires grad they record a node holding
 * the backward function and what it saved. y:backward() walks the graph from y in
 * dependency order and accumulates into the .grad of leaves.
 *
 * Ownership: a tensor's meta owns its grad_fn; a node owns the nodes its edges
 * point to and the tensors it saved (outputs are saved as history-free aliases, so
 * no cycle forms). A leaf's AccumulateGrad node owns the leaf; the leaf points back
 * to it weakly. Everything is refcounted; a graph is freed when its last output
 * tensor is. */
#ifndef EM_AUTOGRAD_H
#define EM_AUTOGRAD_H

#include "../tensor.h"

typedef struct em_node em_node;

/* grad_out has one entry per output of the forward op (never NULL when called;
 * missing gradients are materialised as zeros). The function sets grad_in[i] to a
 * new reference, or leaves it NULL for "no gradient" (always allowed, and expected
 * for inputs where !em_node_needs(n, i)). Gradients may have a broadcast shape or a
 * wider dtype: the engine sums and casts them to the input's. Returns 0 or -1. */
typedef int (*em_backward_fn)(em_node *n, em_tensor **grad_out, em_tensor **grad_in);

typedef struct em_edge {
    em_node *node; /* NULL: this input needs no gradient */
    int input_nr;  /* which output of `node` the gradient belongs to */
} em_edge;

typedef struct em_saved {
    em_tensor *t;     /* owned; an alias without history when it is an output */
    uint64_t version; /* storage version when saved */
    int output_nr;    /* >= 0: an output of this node (history rebuilt on use) */
} em_saved;

typedef struct em_out_meta {
    int ndim;
    em_dtype dtype;
    em_device device;
    int64_t sizes[EM_MAX_DIMS];
} em_out_meta;

/* A hook on the gradient of a tensor. fn may set *replacement (a new reference) to
 * replace the gradient. Returns 0 or -1 (error set). */
typedef struct em_hook {
    struct em_hook *next;
    int output_nr; /* node pre-hooks: which output's gradient */
    int id;        /* for removal */
    int (*fn)(void *ud, em_tensor *grad, em_tensor **replacement);
    void (*free)(void *ud);
    void *ud;
} em_hook;

struct em_node {
    int refcount;
    const char *name; /* "MulBackward" */
    em_backward_fn backward;
    void (*free_ctx)(em_node *n); /* optional: releases what ctx holds */
    uint64_t seq;
    int n_next, n_out, n_saved;
    em_edge *next;
    em_out_meta *out_meta;
    em_saved *saved;
    bool released;          /* saved tensors freed by a backward without retain_graph */
    em_hook *pre_hooks;     /* hooks on outputs' gradients (register_hook, retain_grad) */
    em_tensor *variable;    /* AccumulateGrad: the leaf (owned) */
    void *ctx;              /* op-specific data, allocated with the node */
    int block_class;        /* allocation size class (node.c) */
    /* engine scratch, valid during one backward */
    uint64_t gen;
    int dep;
    bool needed;
    em_tensor **buf;        /* n_out gradients: buf_small or allocated */
    em_tensor *buf_small[2];
};

/* Per-tensor autograd state, allocated on first use. */
typedef struct em_autograd_meta {
    em_node *grad_fn; /* owned; NULL for leaves */
    int output_nr;
    em_node *accumulator; /* leaves: weak, cleared when the accumulator dies */
    em_hook *hooks;       /* leaves: run before accumulation */
    struct em_tensor *self; /* back pointer (weak) */
    bool retains_grad;
} em_autograd_meta;

/* ---- grad mode (thread-local) ---- */
bool em_grad_enabled(void);
void em_set_grad_enabled(bool on);

/* ---- recording ---- */
/* True when an op with this input must record: grad mode on and t requires grad. */
static inline bool em_ag_wants(const em_tensor *t) { return t && t->requires_grad && em_grad_enabled(); }
em_autograd_meta *em_ag_meta(em_tensor *t); /* creates on demand; NULL on OOM */
static inline bool em_is_leaf(const em_tensor *t) { return !t->autograd || !t->autograd->grad_fn; }

/* A node with n_next input edges, n_out outputs, n_saved saved slots and ctx_size
 * bytes of zeroed op data (n->ctx). NULL on OOM. */
em_node *em_node_new(const char *name, em_backward_fn fn, int n_next, int n_out, int n_saved, size_t ctx_size);
void em_node_retain(em_node *n);
void em_node_release(em_node *n);
/* Edge i goes to t's history (NULL or no requires_grad: no edge). 0 or -1. */
int em_node_set_next(em_node *n, int i, em_tensor *t);
static inline bool em_node_needs(const em_node *n, int i) { return n->next[i].node != NULL; }
/* Saves t in slot i (retained; version recorded). An output is saved as an alias
 * so the node does not own its own output. 0 or -1. */
int em_node_save(em_node *n, int i, em_tensor *t);
int em_node_save_output(em_node *n, int i, em_tensor *t, int output_nr);
/* The saved tensor (new reference), or NULL with an error when the graph was
 * freed or the tensor was modified in place since. Outputs come back with their
 * history when grad mode is on (create_graph), so double backward works. */
em_tensor *em_node_saved(em_node *n, int i);
/* Makes `out` the output_nr-th output of n: records its shape and sets its
 * history. Call once per output after the edges are set. 0 or -1. */
int em_set_history(em_tensor *out, em_node *n, int output_nr);
/* The edge a gradient for t flows along (creating t's accumulator for a leaf). */
em_edge em_gradient_edge(em_tensor *t);

/* ---- tensor-level operations ---- */
/* requires_grad_ on a leaf (error for non-leaves turning it off, integer dtypes). */
int em_set_requires_grad(em_tensor *t, bool on);
/* A new tensor sharing t's storage and geometry, without history. */
em_tensor *em_detach(em_tensor *t);
int em_detach_(em_tensor *t);
int em_retain_grad(em_tensor *t);
/* Adds a gradient hook to t (leaf: before accumulation; else on its grad_fn).
 * Takes ownership of ud (freed with free_fn). Returns the hook id (> 0) or -1. */
int em_register_hook(em_tensor *t, int (*fn)(void *, em_tensor *, em_tensor **), void (*free_fn)(void *),
                     void *ud);
int em_remove_hook(em_tensor *t, int id);
/* Replaces t's gradient (NULL clears). Checks shape, dtype and device. */
int em_set_grad(em_tensor *t, em_tensor *g);

/* ---- the backward pass ---- */
/* Gradients of the roots w.r.t. graph leaves, accumulated into their .grad.
 * grads[i] may be NULL for a one-element root (ones). 0 or -1. */
int em_backward(int n, em_tensor **roots, em_tensor **grads, bool retain_graph, bool create_graph);
/* Gradients of the roots w.r.t. `inputs` returned in result[] (new references;
 * NULL for an unused input when allow_unused). Leaves' .grad are not touched. */
int em_grad(int n, em_tensor **roots, em_tensor **grads, int n_inputs, em_tensor **inputs, bool retain_graph,
            bool create_graph, bool allow_unused, em_tensor **result);

/* Sums g over broadcast dims down to the given shape (a new reference). */
em_tensor *em_ag_sum_to(em_tensor *g, int ndim, const int64_t *sizes);

/* Sets the hook used to free Lua-side hook state when called outside Lua. */
void em_autograd_init(void);

#endif
