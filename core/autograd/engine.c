/* The backward pass. From the roots' gradient edges, a depth-first walk finds
 * every reachable node and counts how many edges point at each; a node runs once
 * all of its consumers have delivered their gradients (dependency counting, so
 * the order is topological whatever order nodes were created in). Gradients for
 * the same output are summed in the node's buffer; each is first summed to the
 * output's shape and cast to its dtype, so formulas may return broadcast or
 * promoted gradients. Grad mode during the pass equals create_graph, so formulas
 * written with differentiable ops build a graph of the backward when asked. */
#include "autograd.h"

#include <stdlib.h>
#include <string.h>

#include "../copy.h"
#include "../error.h"
#include "functions.h"

static uint64_t generation;

/* Work arrays kept between passes (the outermost pass on a thread reuses them; a
 * pass started from inside a Lua backward allocates its own). */
typedef struct frame { em_node *node; int i; } frame;
static _Thread_local int run_depth;
static _Thread_local em_node **keep_nodes, **keep_ready;
static _Thread_local int keep_nodes_cap, keep_ready_cap;
static _Thread_local frame *keep_stack;
static _Thread_local int keep_stack_cap;

typedef struct capture {
    em_node *node;
    int nr;
    em_tensor *grad;
} capture;

typedef struct graph {
    em_node **nodes; /* every reachable node, in post-order (consumers after producers' ... ) */
    int n, cap;
    uint64_t gen;
    bool keep, create;
    capture *caps;
    int n_caps;
} graph;

static int push_node(em_node ***arr, int *n, int *cap, em_node *x)
{
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 64;
        em_node **p = realloc(*arr, (size_t)c * sizeof *p);
        if (!p)
            return em_error("backward: out of memory");
        *arr = p;
        *cap = c;
    }
    (*arr)[(*n)++] = x;
    return 0;
}

static void mark(em_node *x, uint64_t gen)
{
    x->gen = gen;
    x->dep = 0;
    x->needed = false;
    x->buf = NULL;
}

/* Depth-first walk from the roots; fills g->nodes in post-order and counts deps. */
static int discover(graph *g, int n_roots, em_edge *roots)
{
    bool outer = run_depth == 1;
    frame *stack = outer ? keep_stack : NULL;
    int sp = 0, scap = outer ? keep_stack_cap : 0;
    int rc = 0;
    for (int r = 0; r < n_roots && rc == 0; r++) {
        em_node *root = roots[r].node;
        if (!root || root->gen == g->gen)
            continue;
        mark(root, g->gen);
        if (sp == scap) {
            scap = scap ? scap * 2 : 64;
            frame *p = realloc(stack, (size_t)scap * sizeof *p);
            if (!p) { rc = em_error("backward: out of memory"); break; }
            stack = p;
        }
        stack[sp++] = (frame){ root, 0 };
        while (sp > 0) {
            frame *f = &stack[sp - 1];
            if (f->i < f->node->n_next) {
                em_node *c = f->node->next[f->i++].node;
                if (!c)
                    continue;
                if (c->gen != g->gen) {
                    mark(c, g->gen);
                    if (sp == scap) {
                        scap *= 2;
                        frame *p = realloc(stack, (size_t)scap * sizeof *p);
                        if (!p) { rc = em_error("backward: out of memory"); break; }
                        stack = p;
                    }
                    stack[sp++] = (frame){ c, 0 };
                }
                c->dep++;
            } else {
                if (push_node(&g->nodes, &g->n, &g->cap, f->node) < 0) { rc = -1; break; }
                sp--;
            }
        }
    }
    if (outer) {
        keep_stack = stack;
        keep_stack_cap = scap;
    } else {
        free(stack);
    }
    return rc;
}

static bool is_capture(const graph *g, const em_node *x)
{
    for (int i = 0; i < g->n_caps; i++)
        if (g->caps[i].node == x)
            return true;
    return false;
}

/* Whether a node's backward must run: in a plain backward every node's does; for
 * autograd.grad only those on a path to a captured input. Post-order means every
 * producer is decided before its consumers. */
static void decide_needed(graph *g)
{
    for (int k = 0; k < g->n; k++) {
        em_node *x = g->nodes[k];
        if (!g->caps) {
            x->needed = true;
            continue;
        }
        bool need = is_capture(g, x);
        for (int i = 0; i < x->n_next && !need; i++)
            need = x->next[i].node && x->next[i].node->needed;
        x->needed = need;
    }
}

static bool runs_backward(const graph *g, const em_node *x)
{
    if (x->variable)
        return false;
    if (!g->caps)
        return true;
    for (int i = 0; i < x->n_next; i++)
        if (x->next[i].node && x->next[i].node->needed)
            return true;
    return false;
}

/* Adds grad (consumed: the reference is taken over) to x's buffer for output nr. */
static int deliver(em_node *x, int nr, em_tensor *grad, const char *from)
{
    em_out_meta *om = &x->out_meta[nr];
    em_tensor *gr = grad;
    bool same = gr->ndim == om->ndim && memcmp(gr->sizes, om->sizes, sizeof(int64_t) * (size_t)om->ndim) == 0;
    if (!same) {
        bool ok = gr->ndim >= om->ndim;
        for (int i = 0; ok && i < om->ndim; i++) {
            int64_t gs = gr->sizes[gr->ndim - om->ndim + i];
            ok = gs == om->sizes[i] || om->sizes[i] == 1;
        }
        if (!ok) {
            char a[EM_SHAPE_BUF], b[EM_SHAPE_BUF];
            em_error("backward: %s returned a gradient of shape %s for an input of shape %s", from,
                     em_tensor_shape_str(gr, a, sizeof a), em_shape_str(b, sizeof b, om->ndim, om->sizes));
            em_tensor_release(gr);
            return -1;
        }
        em_tensor *s = em_ag_sum_to(gr, om->ndim, om->sizes);
        em_tensor_release(gr);
        if (!s)
            return -1;
        gr = s;
    }
    if (gr->dtype != om->dtype) {
        em_tensor *c = em_ag_to_dtype(gr, om->dtype, false);
        em_tensor_release(gr);
        if (!c)
            return -1;
        gr = c;
    }
    if (!x->buf) {
        if (x->n_out <= 2) {
            x->buf_small[0] = x->buf_small[1] = NULL;
            x->buf = x->buf_small;
        } else {
            x->buf = calloc((size_t)x->n_out, sizeof *x->buf);
        }
        if (!x->buf) {
            em_tensor_release(gr);
            return em_error("backward: out of memory");
        }
    }
    if (!x->buf[nr]) {
        x->buf[nr] = gr;
        return 0;
    }
    em_tensor *sum = em_ag_binary(EM_BIN_ADD, em_arg_tensor(x->buf[nr]), em_arg_tensor(gr), NULL, NULL);
    em_tensor_release(gr);
    if (!sum)
        return -1;
    em_tensor_release(x->buf[nr]);
    x->buf[nr] = sum;
    return 0;
}

static int run_hooks(em_hook *h, int nr, em_tensor **grad)
{
    for (; h; h = h->next) {
        if (h->output_nr != nr && nr >= 0)
            continue;
        em_tensor *rep = NULL;
        if (h->fn(h->ud, *grad, &rep) < 0)
            return -1;
        if (rep) {
            em_tensor_release(*grad);
            *grad = rep;
        }
    }
    return 0;
}

/* AccumulateGrad: leaf.grad += grad (the leaf's own hooks first). */
static int accumulate(em_node *acc, em_tensor **grad, bool create)
{
    em_tensor *leaf = acc->variable;
    if (leaf->autograd && run_hooks(leaf->autograd->hooks, -1, grad) < 0)
        return -1;
    em_tensor *g = *grad;
    if (!leaf->grad) {
        em_tensor *ng;
        bool ours = g->refcount == 1 && g->storage->refcount == 1 && !g->autograd && g->base == NULL &&
                    em_tensor_is_contiguous(g) && em_same_shape(g, leaf);
        if (ours) {
            em_tensor_retain(g);
            ng = g;
        } else {
            /* a shared gradient (e.g. passed through by a view's backward) is copied,
             * keeping its history under create_graph */
            ng = create ? em_ag_clone(g) : em_clone(g);
        }
        if (!ng)
            return -1;
        leaf->grad = ng;
        return 0;
    }
    if (!create && !leaf->grad->requires_grad)
        return em_binary_(EM_BIN_ADD, leaf->grad, em_arg_tensor(g), NULL);
    em_tensor *sum = em_ag_binary(EM_BIN_ADD, em_arg_tensor(leaf->grad), em_arg_tensor(g), NULL, NULL);
    if (!sum)
        return -1;
    em_tensor_release(leaf->grad);
    leaf->grad = sum;
    return 0;
}

static void release_buf(em_node *x)
{
    if (!x->buf)
        return;
    for (int i = 0; i < x->n_out; i++)
        em_tensor_release(x->buf[i]);
    if (x->buf != x->buf_small)
        free(x->buf);
    x->buf = NULL;
}

static int process(graph *g, em_node *x)
{
    em_tensor **gin = NULL;
    int rc = 0;
    bool any = false;
    for (int i = 0; x->buf && i < x->n_out; i++)
        any = any || x->buf[i];
    if (any) {
        for (int i = 0; i < x->n_out && rc == 0; i++)
            if (x->buf[i])
                rc = run_hooks(x->pre_hooks, i, &x->buf[i]);
        if (rc == 0 && g->caps && x->variable && x->variable->autograd && x->buf[0])
            rc = run_hooks(x->variable->autograd->hooks, -1, &x->buf[0]);
        for (int c = 0; c < g->n_caps && rc == 0; c++) {
            if (g->caps[c].node == x && x->buf[g->caps[c].nr]) {
                em_tensor *t = x->buf[g->caps[c].nr];
                em_tensor_retain(t);
                em_tensor_release(g->caps[c].grad);
                g->caps[c].grad = t;
            }
        }
        if (rc == 0 && x->variable && !g->caps)
            rc = accumulate(x, &x->buf[0], g->create);
        if (rc == 0 && runs_backward(g, x)) {
            /* missing gradients of a multi-output node are zeros */
            for (int i = 0; i < x->n_out && rc == 0; i++) {
                if (!x->buf[i]) {
                    em_out_meta *om = &x->out_meta[i];
                    x->buf[i] = em_full(om->ndim, om->sizes, em_scalar_int(0), om->dtype, om->device);
                    if (!x->buf[i])
                        rc = -1;
                }
            }
            em_tensor *gin_small[8] = { NULL };
            gin = rc == 0 ? (x->n_next < 8 ? gin_small : calloc((size_t)x->n_next + 1, sizeof *gin)) : NULL;
            if (rc == 0 && !gin)
                rc = em_error("backward: out of memory");
            if (rc == 0)
                rc = x->backward(x, x->buf, gin);
            if (rc == 0 && !g->keep) {
                for (int i = 0; i < x->n_saved; i++) {
                    if (x->saved[i].t)
                        x->released = true;
                    em_tensor_release(x->saved[i].t);
                    x->saved[i].t = NULL;
                }
            }
            for (int i = 0; i < x->n_next; i++) {
                em_tensor *gi = gin ? gin[i] : NULL;
                if (!gi)
                    continue;
                gin[i] = NULL;
                em_node *nx = x->next[i].node;
                if (rc == 0 && nx && nx->needed)
                    rc = deliver(nx, x->next[i].input_nr, gi, x->name);
                else
                    em_tensor_release(gi);
            }
            if (gin != gin_small)
                free(gin);
        }
    }
    release_buf(x);
    return rc;
}

static int run(int n, em_tensor **roots, em_tensor **grads, bool keep, bool create, capture *caps, int n_caps,
               const char *op)
{
    if (n <= 0)
        return em_error("%s: no outputs given", op);
    em_edge edges_small[4] = { { NULL, 0 } };
    em_tensor *seeds_small[4] = { NULL };
    em_edge *edges = n <= 4 ? edges_small : calloc((size_t)n, sizeof *edges);
    em_tensor **seeds = n <= 4 ? seeds_small : calloc((size_t)n, sizeof *seeds);
    graph g = { 0 };
    g.keep = keep;
    g.create = create;
    g.caps = caps;
    g.n_caps = n_caps;
    g.gen = ++generation;
    int rc = 0;
    bool outer = ++run_depth == 1;
    em_node **ready = outer ? keep_ready : NULL;
    int n_ready = 0, cap_ready = outer ? keep_ready_cap : 0;
    if (outer) {
        g.nodes = keep_nodes;
        g.cap = keep_nodes_cap;
    }
    bool was_enabled = em_grad_enabled();
    if (!edges || !seeds) {
        rc = em_error("%s: out of memory", op);
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        em_tensor *r = roots[i];
        char a[EM_SHAPE_BUF], b[EM_SHAPE_BUF];
        if (!r->requires_grad) {
            rc = em_error("%s: output %d does not require grad and has no grad_fn (was it computed under "
                          "torch.no_grad, or from tensors without requires_grad?)", op, i + 1);
            break;
        }
        if (grads && grads[i]) {
            if (!em_same_shape(grads[i], r)) {
                rc = em_error("%s: the gradient has shape %s but output %d has shape %s", op,
                              em_tensor_shape_str(grads[i], a, sizeof a), i + 1,
                              em_tensor_shape_str(r, b, sizeof b));
                break;
            }
            em_tensor_retain(grads[i]);
            seeds[i] = grads[i];
        } else {
            if (em_tensor_numel(r) != 1) {
                rc = em_error("%s: a gradient can be created implicitly only for a one-element output; "
                              "pass one of shape %s, e.g. y:backward(torch.ones_like(y))", op,
                              em_tensor_shape_str(r, a, sizeof a));
                break;
            }
            seeds[i] = em_full(r->ndim, r->sizes, em_scalar_int(1), r->dtype, em_tensor_device(r));
            if (!seeds[i]) {
                rc = -1;
                break;
            }
        }
        edges[i] = em_gradient_edge(r);
        if (!edges[i].node)
            rc = -1;
    }
    if (rc == 0)
        rc = discover(&g, n, edges);
    if (rc < 0)
        goto done;
    decide_needed(&g);

    em_set_grad_enabled(create);
    for (int i = 0; i < n && rc == 0; i++) {
        em_tensor *s = seeds[i];
        seeds[i] = NULL;
        rc = deliver(edges[i].node, edges[i].input_nr, s, op);
    }
    for (int i = 0; i < n && rc == 0; i++) {
        em_node *x = edges[i].node;
        bool dup = false;
        for (int j = 0; j < i; j++)
            dup = dup || edges[j].node == x;
        if (!dup && x->dep == 0)
            rc = push_node(&ready, &n_ready, &cap_ready, x);
    }
    while (rc == 0 && n_ready > 0) {
        em_node *x = ready[--n_ready];
        rc = process(&g, x);
        for (int i = 0; rc == 0 && i < x->n_next; i++) {
            em_node *c = x->next[i].node;
            if (c && --c->dep == 0)
                rc = push_node(&ready, &n_ready, &cap_ready, c);
        }
    }
done:
    em_set_grad_enabled(was_enabled);
    for (int k = 0; k < g.n; k++) {
        release_buf(g.nodes[k]);
        g.nodes[k]->gen = 0;
    }
    if (outer) {
        keep_nodes = g.nodes;
        keep_nodes_cap = g.cap;
        keep_ready = ready;
        keep_ready_cap = cap_ready;
    } else {
        free(g.nodes);
        free(ready);
    }
    run_depth--;
    for (int i = 0; edges && i < n; i++)
        em_node_release(edges[i].node);
    for (int i = 0; seeds && i < n; i++)
        em_tensor_release(seeds[i]);
    if (edges != edges_small)
        free(edges);
    if (seeds != seeds_small)
        free(seeds);
    return rc;
}

int em_backward(int n, em_tensor **roots, em_tensor **grads, bool retain_graph, bool create_graph)
{
    return run(n, roots, grads, retain_graph || create_graph, create_graph, NULL, 0, "backward");
}

int em_grad(int n, em_tensor **roots, em_tensor **grads, int n_inputs, em_tensor **inputs, bool retain_graph,
            bool create_graph, bool allow_unused, em_tensor **result)
{
    capture *caps = calloc((size_t)n_inputs + 1, sizeof *caps);
    if (!caps)
        return em_error("autograd.grad: out of memory");
    int rc = 0;
    for (int i = 0; i < n_inputs && rc == 0; i++) {
        result[i] = NULL;
        if (!inputs[i]->requires_grad) {
            rc = em_error("autograd.grad: input %d does not require grad", i + 1);
            break;
        }
        em_edge e = em_gradient_edge(inputs[i]);
        if (!e.node) {
            rc = -1;
            break;
        }
        caps[i].node = e.node;
        caps[i].nr = e.input_nr;
    }
    if (rc == 0)
        rc = run(n, roots, grads, retain_graph || create_graph, create_graph, caps, n_inputs, "autograd.grad");
    for (int i = 0; i < n_inputs; i++) {
        if (rc == 0 && !caps[i].grad && !allow_unused)
            rc = em_error("autograd.grad: input %d was not used to compute the outputs; pass "
                          "{allow_unused=true} to get nil for it", i + 1);
        if (rc == 0) {
            result[i] = caps[i].grad;
            caps[i].grad = NULL;
        }
        em_tensor_release(caps[i].grad);
        em_node_release(caps[i].node);
    }
    if (rc < 0)
        for (int i = 0; i < n_inputs; i++) {
            em_tensor_release(result[i]);
            result[i] = NULL;
        }
    free(caps);
    return rc;
}
