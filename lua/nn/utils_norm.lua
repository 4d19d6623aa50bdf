-- nn.utils weight reparametrisations, PyTorch's classic hook-based API:
-- weight_norm / remove_weight_norm (weight = g * v / ||v||) and spectral_norm /
-- remove_spectral_norm (weight = weight_orig / sigma, sigma from power iteration).
-- A forward pre-hook recomputes the plain `weight` attribute before each forward.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'

local utils = nn.utils or {}
nn.utils = utils

-- hook handles per reparametrised name, in a field the module walks ignore
local function hooks_of(module, field)
  local h = rawget(module, field)
  if not h then
    h = {}
    rawset(module, field, h)
  end
  return h
end

local function check_module(what, module, name)
  if not nn.is_module(module) then error(('%s: expected an nn.Module, got %s'):format(what, torch.type(module)), 3) end
  if type(name) ~= 'string' then error(('%s: name must be a string, got %s'):format(what, torch.type(name)), 3) end
end

-- 1-based dim of t (negative counts from the end) -> 1..t:dim()
local function norm_dim(what, dim, t)
  local n = t:dim()
  if math.type(dim) ~= 'integer' or dim == 0 or dim > n or dim < -n then
    error(('%s: dim must be an integer in 1..%d or -%d..-1 for a %d-d weight, got %s'):format(what, n, n, n,
      tostring(dim)), 3)
  end
  return dim < 0 and n + 1 + dim or dim
end

-- ||v||_2 over every dim but dim (1-based), shaped 1 except size(dim) at dim;
-- dim == nil: the norm of the whole tensor, 0-d (PyTorch's norm_except_dim)
local function norm_except_dim(v, dim)
  if dim == nil then return v:norm() end
  local rows = v:transpose(1, dim):reshape(v:size(dim), -1):norm(2, 2)
  local shape = {}
  for i = 1, v:dim() do shape[i] = i == dim and v:size(dim) or 1 end
  return rows:reshape(shape)
end

local function wn_compute(module, name, dim)
  local g, v = rawget(module, name .. '_g'), rawget(module, name .. '_v')
  return v * (g / norm_except_dim(v, dim))
end

-- weight_norm(module [, name='weight' [, dim=1]]) or weight_norm(module, {name=, dim=}):
-- replaces the parameter `name` by name_g (its norm over every dim but dim,
-- keeping dim; 0-d for the whole tensor) and name_v (its direction), registered in
-- that order; name becomes a plain tensor g * v / ||v|| recomputed before each
-- forward. dim is 1-based (1 = the output features of Linear/Conv); PyTorch's
-- dim=None (one norm over the whole tensor) is dim=false, or an explicit
-- positional nil. Returns module.
function utils.weight_norm(module, ...)
  local name, dim = 'weight', 1
  local nargs = select('#', ...)
  local first = ...
  if type(first) == 'table' then
    local a = nn._args('weight_norm', { 'name', 'dim' }, { name = 'weight' }, first)
    name = a.name
    if first.dim ~= nil then dim = first.dim end
  else
    if first ~= nil then name = first end
    if nargs >= 2 then dim = select(2, ...) end
  end
  check_module('weight_norm', module, name)
  local hooks = hooks_of(module, '_weight_norm_hooks')
  if hooks[name] then error(('weight_norm: cannot register two weight_norm hooks on the same parameter %s'):format(name), 2) end
  local w = rawget(module, name)
  if not nn.Parameter.is(w) then
    error(('weight_norm: %s has no parameter "%s"'):format(module._class_name(module), name), 2)
  end
  if dim == false or dim == nil then
    dim = nil
  else
    dim = norm_dim('weight_norm', dim, w)
  end
  rawset(module, name, nil)
  torch.no_grad(function()
    module:register_parameter(name .. '_g', nn.Parameter(norm_except_dim(w, dim):clone()))
    module:register_parameter(name .. '_v', nn.Parameter(w:detach()))
  end)
  module[name] = wn_compute(module, name, dim)
  hooks[name] = module:register_forward_pre_hook(function(m) m[name] = wn_compute(m, name, dim) end)
  rawget(module, '_weight_norm_hooks')[name .. '#dim'] = dim or false
  return module
end

-- remove_weight_norm(module [, name='weight']): name becomes a parameter again,
-- holding the current g * v / ||v||; name_g and name_v are removed. Returns module.
function utils.remove_weight_norm(module, name)
  name = name or 'weight'
  check_module('remove_weight_norm', module, name)
  local hooks = rawget(module, '_weight_norm_hooks')
  if not hooks or not hooks[name] then
    error(("remove_weight_norm: weight_norm of '%s' not found in %s"):format(name, module._class_name(module)), 2)
  end
  local dim = hooks[name .. '#dim'] or nil
  local w = torch.no_grad(function() return wn_compute(module, name, dim) end)
  hooks[name]:remove()
  hooks[name], hooks[name .. '#dim'] = nil, nil
  rawset(module, name .. '_g', nil)
  rawset(module, name .. '_v', nil)
  module[name] = nn.Parameter(w:detach())
  return module
end

-- ---- spectral norm ----

-- weight as a matrix (size(dim), rest), dim moved to the front
local function sn_matrix(w, dim)
  if dim ~= 1 then
    local perm = { dim }
    for i = 1, w:dim() do if i ~= dim then perm[#perm + 1] = i end end
    w = w:permute(perm)
  end
  return w:reshape(w:size(1), -1)
end

local function sn_compute(module, s, power)
  local name = s.name
  local w = rawget(module, name .. '_orig')
  local u, v = rawget(module, name .. '_u'), rawget(module, name .. '_v')
  local mat = sn_matrix(w, s.dim)
  if power then
    torch.no_grad(function()
      local md = mat:detach()
      for _ = 1, s.n_power_iterations do
        v:copy_(F.normalize(torch.mv(md:t(), u), 2, 1, s.eps))
        u:copy_(F.normalize(torch.mv(md, v), 2, 1, s.eps))
      end
      if s.n_power_iterations > 0 then u, v = u:clone(), v:clone() end
    end)
  end
  local sigma = torch.dot(u, torch.mv(mat, v))
  return w / sigma
end

-- spectral_norm(module [, {name='weight', n_power_iterations=1, eps=1e-12, dim=}]) (or the
-- options positionally): name becomes name_orig (parameter) / sigma, sigma the
-- largest singular value of the weight as a (size(dim), rest) matrix, estimated by
-- power iteration with the buffers name_u and name_v (one step per forward in
-- training mode, none in eval mode). dim is 1-based: 1, or 2 for ConvTranspose.
-- u and v start as normalised N(0, 1) draws, u first, as in PyTorch. Returns module.
function utils.spectral_norm(module, ...)
  local a = nn._args('spectral_norm', { 'name', 'n_power_iterations', 'eps', 'dim' },
    { name = 'weight', n_power_iterations = 1, eps = 1e-12 }, ...)
  local name = a.name
  check_module('spectral_norm', module, name)
  local hooks = hooks_of(module, '_spectral_norm_hooks')
  if hooks[name] then
    error(('spectral_norm: cannot register two spectral_norm hooks on the same parameter %s'):format(name), 2)
  end
  local w = rawget(module, name)
  if not nn.Parameter.is(w) then
    error(('spectral_norm: %s has no parameter "%s"'):format(module._class_name(module), name), 2)
  end
  if math.type(a.n_power_iterations) ~= 'integer' or a.n_power_iterations <= 0 then
    error('spectral_norm: n_power_iterations must be a positive integer, got ' .. tostring(a.n_power_iterations), 2)
  end
  if type(a.eps) ~= 'number' then error('spectral_norm: eps must be a number, got ' .. torch.type(a.eps), 2) end
  local dim = a.dim
  if dim == nil then dim = torch.type(module):match('^nn%.ConvTranspose') and 2 or 1 end
  dim = norm_dim('spectral_norm', dim, w)
  local s = { name = name, dim = dim, n_power_iterations = a.n_power_iterations, eps = a.eps }
  local u, v = torch.no_grad(function()
    local mat = sn_matrix(w, dim)
    local o = { dtype = w.dtype, device = w.device }
    local u0 = F.normalize(torch.randn(mat:size(1), o), 2, 1, s.eps)
    local v0 = F.normalize(torch.randn(mat:size(2), o), 2, 1, s.eps)
    return u0, v0
  end)
  rawset(module, name, nil)
  module:register_parameter(name .. '_orig', w)
  module[name] = w:detach()
  module:register_buffer(name .. '_u', u)
  module:register_buffer(name .. '_v', v)
  hooks[name] = module:register_forward_pre_hook(function(m) m[name] = sn_compute(m, s, m.training) end)
  hooks[name .. '#state'] = s
  return module
end

-- remove_spectral_norm(module [, name='weight']): name becomes a parameter again,
-- holding name_orig / sigma (no power iteration); name_orig, name_u and name_v
-- are removed. Returns module.
function utils.remove_spectral_norm(module, name)
  name = name or 'weight'
  check_module('remove_spectral_norm', module, name)
  local hooks = rawget(module, '_spectral_norm_hooks')
  if not hooks or not hooks[name] then
    error(("remove_spectral_norm: spectral_norm of '%s' not found in %s"):format(name, module._class_name(module)), 2)
  end
  local w = torch.no_grad(function() return sn_compute(module, hooks[name .. '#state'], false) end)
  hooks[name]:remove()
  hooks[name], hooks[name .. '#state'] = nil, nil
  local bufs = rawget(module, '_buffers')
  for _, k in ipairs({ name .. '_orig', name .. '_u', name .. '_v' }) do
    rawset(module, k, nil)
    if bufs then bufs[k] = nil end
  end
  module[name] = nn.Parameter(w:detach())
  return module
end

return utils
