/* Shared helpers for the Lua bindings: the Tensor userdata, argument checking and
 * raising core errors as Lua errors. Every binding file uses only these to talk to
 * Lua about tensors. */
#ifndef EM_LUA_EMBER_H
#define EM_LUA_EMBER_H

#include <lauxlib.h>
#include <lua.h>

#include "../core/ember.h"

#define EM_TENSOR_MT "torch.Tensor"

/* ---- the Tensor userdata (a box holding one reference) ---- */
em_tensor *emL_totensor(lua_State *L, int idx);              /* NULL when not a live tensor */
em_tensor *emL_checktensor(lua_State *L, int arg);           /* borrowed; raises on misuse */
em_tensor *emL_opttensor(lua_State *L, int arg);             /* NULL for nil/none */
/* Pushes t as a Lua value, taking over its reference. t == NULL raises the core's
 * last error, so `emL_pushtensor(L, em_op(...))` is the normal way to return. */
void emL_pushtensor(lua_State *L, em_tensor *t);
/* Raises the core's last error as a Lua error (never returns). */
int emL_error(lua_State *L);
/* Raises the core's last error when rc < 0. */
static inline void emL_check(lua_State *L, int rc)
{
    if (rc < 0)
        emL_error(L);
}

/* ---- arguments ---- */
/* A 1-based (or negative, counting from the end) dimension of a tensor with ndim
 * dims, as a 0-based int. 0-d tensors accept 1 and -1. */
int emL_checkdim(lua_State *L, int arg, int ndim);
int emL_optdim(lua_State *L, int arg, int ndim, int def);
/* Same rule for a value already read: returns -1 after setting an error message in
 * buf-less form via luaL_error when out of range. */
int emL_dim_value(lua_State *L, lua_Integer d, int ndim, const char *what);
/* A 1-based index into a dimension of size n (negative counts from the end) -> 0-based. */
int64_t emL_index_value(lua_State *L, lua_Integer i, int64_t n, int dim);
em_scalar emL_checkscalar(lua_State *L, int arg);
bool emL_isscalar(lua_State *L, int idx);
void emL_pushscalar(lua_State *L, em_scalar s);
em_dtype emL_checkdtype(lua_State *L, int arg);
em_dtype emL_optdtype(lua_State *L, int arg, em_dtype def);
/* Sizes given as numbers from `arg` on, or as one table / torch.Size at `arg`.
 * Returns ndim; raises on bad input. */
int emL_checksizes(lua_State *L, int arg, int64_t *sizes);
/* Reads an integer list from a table at idx (1-based Lua array). Returns count. */
int emL_checkintlist(lua_State *L, int idx, int64_t *out, int max, const char *what);

/* ---- trailing option tables ---- */
/* If the value at idx is a table that is not a tensor, it is an options table. */
bool emL_isopts(lua_State *L, int idx);
/* Pushes opts[name] (or nil when opts_idx is 0 or not a table); returns its type. */
int emL_getopt(lua_State *L, int opts_idx, const char *name);
bool emL_optbool(lua_State *L, int opts_idx, const char *name, bool def);
lua_Integer emL_optint(lua_State *L, int opts_idx, const char *name, lua_Integer def);
double emL_optnumber(lua_State *L, int opts_idx, const char *name, double def);
em_tensor *emL_opt_out(lua_State *L, int opts_idx);         /* opts.out, borrowed, or NULL */
/* Raises when out requires grad while grad mode is on (out= is not differentiable). */
void emL_check_out_grad(lua_State *L, const em_tensor *out, const char *op);
em_dtype emL_opt_dtype(lua_State *L, int opts_idx, em_dtype def);
em_device emL_opt_device(lua_State *L, int opts_idx, em_device def);
em_device emL_checkdevice(lua_State *L, int idx);
void emL_pushdevice(lua_State *L, em_device d);

/* Pushes a torch.Size table for the sizes. */
void emL_pushsize(lua_State *L, int ndim, const int64_t *sizes);

/* ---- registration ---- */
/* Registers funcs into the Tensor methods table (as methods) and the torch.core
 * table (as functions); both are at the given absolute stack indices. */
void emL_register(lua_State *L, int methods, int module, const luaL_Reg *funcs);

/* One open function per binding family; each registers its functions. */
void emL_open_tensor(lua_State *L, int methods, int module, int meta);
void emL_open_factory(lua_State *L, int methods, int module, int meta);
void emL_open_view(lua_State *L, int methods, int module, int meta);
void emL_open_elementwise(lua_State *L, int methods, int module, int meta);
void emL_open_reduce(lua_State *L, int methods, int module, int meta);
void emL_open_linalg(lua_State *L, int methods, int module, int meta);
void emL_open_index(lua_State *L, int methods, int module, int meta);
void emL_open_random(lua_State *L, int methods, int module, int meta);
void emL_open_shape(lua_State *L, int methods, int module, int meta);
void emL_open_cuda(lua_State *L, int methods, int module, int meta);
void emL_open_autograd(lua_State *L, int methods, int module, int meta);
void emL_open_pool(lua_State *L, int methods, int module, int meta);
void emL_open_loss(lua_State *L, int methods, int module, int meta);
void emL_open_embedding_bag(lua_State *L, int methods, int module, int meta);
void emL_open_tensor_io(lua_State *L, int methods, int module, int meta);
void emL_open_fs(lua_State *L, int methods, int module, int meta);
void emL_open_ctc(lua_State *L, int methods, int module, int meta);
void emL_open_conv(lua_State *L, int methods, int module, int meta);
void emL_open_vision(lua_State *L, int methods, int module, int meta);
void emL_open_upsample(lua_State *L, int methods, int module, int meta);
void emL_open_optim(lua_State *L, int methods, int module, int meta);
void emL_open_norm(lua_State *L, int methods, int module, int meta);
void emL_open_pad(lua_State *L, int methods, int module, int meta);
void emL_open_rnn(lua_State *L, int methods, int module, int meta);
void emL_open_formats(lua_State *L, int methods, int module, int meta);
void emL_open_image(lua_State *L, int methods, int module, int meta);
void emL_open_dir(lua_State *L, int methods, int module, int meta);
void emL_open_workers(lua_State *L, int methods, int module, int meta);

/* x[key] and x[key] = v for non-string keys (bindings/lua_index.c). */
int emL_tensor_index(lua_State *L);
int emL_tensor_newindex(lua_State *L);

/* The module entry point (also preloaded by th). */
int luaopen_torch_core(lua_State *L);

#endif
