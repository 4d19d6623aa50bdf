-- nn.functional normalisation: batch_norm, instance_norm, layer_norm, group_norm,
-- local_response_norm, normalize. batch/layer/group norm run the fused C kernels
-- (torch.batch_norm, torch.layer_norm, torch.group_norm: core/norm.c) for float32
-- and float64 CPU inputs; instance_norm is group_norm with one channel per group.
-- Other inputs (float16, bfloat16, other devices) are composed from differentiable
-- tensor ops. The math follows PyTorch: normalisation uses the biased variance,
-- running_var is updated with the unbiased one. Dims are 1-based (input (N, C, *):
-- channels are dim 2). Arguments positionally or as a trailing options table:
-- F.batch_norm(x, rm, rv, {weight=w, bias=b, training=true}).
local torch = require 'torch'

local F = {}

local function size_str(x)
  local s = x:size()
  for i = 1, #s do s[i] = tostring(s[i]) end
  return #s == 0 and '(scalar)' or table.concat(s, 'x')
end

local function args(what, names, defaults, ...)
  local n = select('#', ...)
  local res, opts = {}, nil
  local last = n > 0 and select(n, ...) or nil
  if type(last) == 'table' and not torch.isTensor(last) and getmetatable(last) == nil and rawlen(last) == 0 then
    opts, n = last, n - 1
  end
  if n > #names then error(('%s: expected at most %d arguments after the input, got %d'):format(what, #names, n), 3) end
  for i = 1, n do res[names[i]] = select(i, ...) end
  if opts then
    local known = {}
    for _, k in ipairs(names) do known[k] = true end
    for k, v in pairs(opts) do
      if not known[k] then error(('%s: unknown option \'%s\'%s'):format(what, tostring(k), torch._did_you_mean(k, names)), 3) end
      res[k] = v
    end
  end
  for _, k in ipairs(names) do
    if res[k] == nil then res[k] = defaults[k] end
    local d = defaults[k]
    if d ~= nil and type(res[k]) ~= type(d) then
      error(('%s: %s must be a %s, got %s'):format(what, k, type(d), type(res[k])), 3)
    end
  end
  return res
end

local function check(x, what, mindim)
  if not torch.isTensor(x) then
    error(('%s: expected a tensor as input, got %s'):format(what, torch.type(x)), 3)
  end
  if not x:is_floating_point() then
    error(('%s: expected a floating point input, got %s'):format(what, x:type()), 3)
  end
  if mindim and x:dim() < mindim then
    error(('%s: expected an input with at least %d dims, got %dD input (input size %s)'):format(what, mindim,
      x:dim(), size_str(x)), 3)
  end
end

local function check_vec(what, name, t, n)
  if t == nil then return end
  if not torch.isTensor(t) then error(('%s: %s must be a tensor or nil, got %s'):format(what, name, torch.type(t)), 3) end
  if t:dim() ~= 1 or t:size(1) ~= n then
    error(('%s: %s should contain %d elements not %s'):format(what, name, n,
      t:dim() == 1 and tostring(t:size(1)) or ('a ' .. size_str(t) .. ' tensor')), 3)
  end
end

-- a (C,) vector as (1, C, 1, ...) for an input of d dims
local function chan_view(v, d)
  local s = { 1, v:size(1) }
  for i = 3, d do s[i] = 1 end
  return v:view(s)
end

-- (x - mean) / sqrt(var + eps) [* w + b] with mean/var broadcast over x
local function normalise(x, mean, var, eps)
  return (x - mean) * (var + eps):rsqrt()
end

local function affine(y, w, b, d)
  if w ~= nil then y = y * chan_view(w, d) end
  if b ~= nil then y = y + chan_view(b, d) end
  return y
end

-- the fused C kernels take float32/float64 CPU inputs
local function fused(x)
  return x.device == 'cpu' and (x.dtype == 'float32' or x.dtype == 'float64')
end

local BN = { 'running_mean', 'running_var', 'weight', 'bias', 'training', 'momentum', 'eps' }
local BN_DEF = { training = false, momentum = 0.1, eps = 1e-5 }

-- F.batch_norm(x, running_mean, running_var [, weight, bias, training=false,
-- momentum=0.1, eps=1e-5]): x (N, C, *). training: normalise with the batch's
-- statistics and update the running ones in place (when given):
-- running = (1 - momentum) * running + momentum * batch (unbiased variance);
-- otherwise normalise with running_mean / running_var.
function F.batch_norm(x, ...)
  check(x, 'batch_norm', 2)
  local a = args('batch_norm', BN, BN_DEF, ...)
  local C, d = x:size(2), x:dim()
  for _, k in ipairs { 'running_mean', 'running_var', 'weight', 'bias' } do check_vec('batch_norm', k, a[k], C) end
  if a.training then
    local count = x:numel() // math.max(C, 1)
    if count <= 1 then
      error(('batch_norm: expected more than 1 value per channel when training, got input size %s'):format(
        size_str(x)), 2)
    end
    if fused(x) then
      return torch.batch_norm(x, a.weight, a.bias, a.running_mean, a.running_var, true, a.momentum, a.eps)
    end
    local dims = { 1 }
    for i = 3, d do dims[#dims + 1] = i end
    local mean = x:mean(dims, true)
    local var = x:var(dims, { unbiased = false, keepdim = true })
    if a.running_mean ~= nil or a.running_var ~= nil then
      torch.no_grad(function()
        local m = a.momentum
        if a.running_mean ~= nil then
          a.running_mean:mul_(1 - m):add_(mean:detach():reshape({ C }):mul(m):to(a.running_mean.dtype))
        end
        if a.running_var ~= nil then
          local unb = var:detach():reshape({ C }):mul(m * count / (count - 1))
          a.running_var:mul_(1 - m):add_(unb:to(a.running_var.dtype))
        end
      end)
    end
    return affine(normalise(x, mean, var, a.eps), a.weight, a.bias, d)
  end
  if a.running_mean == nil or a.running_var == nil then
    error('batch_norm: running_mean and running_var must be given when training is false', 2)
  end
  if fused(x) then
    return torch.batch_norm(x, a.weight, a.bias, a.running_mean, a.running_var, false, a.momentum, a.eps)
  end
  local y = normalise(x, chan_view(a.running_mean, d):to(x.dtype), chan_view(a.running_var, d):to(x.dtype), a.eps)
  return affine(y, a.weight, a.bias, d)
end

local IN = { 'running_mean', 'running_var', 'weight', 'bias', 'use_input_stats', 'momentum', 'eps' }
local IN_DEF = { use_input_stats = true, momentum = 0.1, eps = 1e-5 }

-- F.instance_norm(x [, running_mean, running_var, weight, bias, use_input_stats=true,
-- momentum=0.1, eps=1e-5]): x (N, C, *); each (n, c) plane is normalised over its
-- own spatial values. Running stats (when given) are updated with the batch
-- average of the per-instance statistics.
function F.instance_norm(x, ...)
  check(x, 'instance_norm', 3)
  local a = args('instance_norm', IN, IN_DEF, ...)
  local N, C, d = x:size(1), x:size(2), x:dim()
  for _, k in ipairs { 'running_mean', 'running_var', 'weight', 'bias' } do check_vec('instance_norm', k, a[k], C) end
  if not a.use_input_stats then
    if a.running_mean == nil or a.running_var == nil then
      error('instance_norm: running_mean and running_var must be given when use_input_stats is false', 2)
    end
    if fused(x) then
      return torch.batch_norm(x, a.weight, a.bias, a.running_mean, a.running_var, false, a.momentum, a.eps)
    end
    local y = normalise(x, chan_view(a.running_mean, d):to(x.dtype), chan_view(a.running_var, d):to(x.dtype), a.eps)
    return affine(y, a.weight, a.bias, d)
  end
  local count = x:numel() // math.max(N * C, 1)
  if count <= 1 then
    error(('instance_norm: expected more than 1 spatial element when training, got input size %s'):format(
      size_str(x)), 2)
  end
  local dims = {}
  for i = 3, d do dims[#dims + 1] = i end
  local mean, var
  if not fused(x) or a.running_mean ~= nil or a.running_var ~= nil then
    local xs = fused(x) and x:detach() or x -- the fused path needs them for the running statistics only
    mean = xs:mean(dims, true)
    var = xs:var(dims, { unbiased = false, keepdim = true })
  end
  if a.running_mean ~= nil or a.running_var ~= nil then
    torch.no_grad(function()
      local m = a.momentum
      if a.running_mean ~= nil then
        a.running_mean:mul_(1 - m):add_(mean:detach():reshape({ N, C }):mean(1):mul(m):to(a.running_mean.dtype))
      end
      if a.running_var ~= nil then
        local unb = var:detach():reshape({ N, C }):mean(1):mul(m * count / (count - 1))
        a.running_var:mul_(1 - m):add_(unb:to(a.running_var.dtype))
      end
    end)
  end
  if fused(x) then
    -- group_norm with one channel per group: each (n, c) plane on its own
    return torch.group_norm(x, C, a.weight, a.bias, a.eps)
  end
  return affine(normalise(x, mean, var, a.eps), a.weight, a.bias, d)
end

local function shape_list(what, s)
  if math.type(s) == 'integer' then return { s } end
  if type(s) == 'table' and not torch.isTensor(s) and #s > 0 then
    for _, v in ipairs(s) do
      if math.type(v) ~= 'integer' then error(what .. ': normalized_shape must hold integers', 4) end
    end
    return s
  end
  error(what .. ': normalized_shape must be an integer or a non-empty table of integers, got ' .. torch.type(s), 4)
end
F._shape_list = shape_list

-- F.layer_norm(x, normalized_shape [, weight, bias, eps=1e-5]): normalises over the
-- last #normalized_shape dims; weight and bias have shape normalized_shape.
function F.layer_norm(x, ...)
  check(x, 'layer_norm')
  local a = args('layer_norm', { 'normalized_shape', 'weight', 'bias', 'eps' }, { eps = 1e-5 }, ...)
  local ns = shape_list('layer_norm', a.normalized_shape)
  local d, k = x:dim(), #ns
  local ok = d >= k
  for i = 1, k do
    if ok and x:size(d - k + i) ~= ns[i] then ok = false end
  end
  if not ok then
    error(('layer_norm: given normalized_shape=(%s), expected input with shape (*, %s), but got input of size %s')
      :format(table.concat(ns, ', '), table.concat(ns, ', '), size_str(x)), 2)
  end
  for _, name in ipairs { 'weight', 'bias' } do
    local t = a[name]
    if t ~= nil then
      if not torch.isTensor(t) then error(('layer_norm: %s must be a tensor or nil'):format(name), 2) end
      local same = t:dim() == k
      for i = 1, k do if same and t:size(i) ~= ns[i] then same = false end end
      if not same then
        error(('layer_norm: expected %s of size (%s), got %s'):format(name, table.concat(ns, ', '), size_str(t)), 2)
      end
    end
  end
  if fused(x) then return torch.layer_norm(x, ns, a.weight, a.bias, a.eps) end
  local dims = {}
  for i = d - k + 1, d do dims[#dims + 1] = i end
  local mean = x:mean(dims, true)
  local var = x:var(dims, { unbiased = false, keepdim = true })
  local y = normalise(x, mean, var, a.eps)
  if a.weight ~= nil then y = y * a.weight end
  if a.bias ~= nil then y = y + a.bias end
  return y
end

-- F.group_norm(x, num_groups [, weight, bias, eps=1e-5]): x (N, C, *); the C
-- channels are split into num_groups groups, each normalised over its channels and
-- spatial values; weight and bias are per channel (C,).
function F.group_norm(x, ...)
  check(x, 'group_norm', 2)
  local a = args('group_norm', { 'num_groups', 'weight', 'bias', 'eps' }, { eps = 1e-5 }, ...)
  local G = a.num_groups
  local N, C, d = x:size(1), x:size(2), x:dim()
  if math.type(G) ~= 'integer' or G < 1 then
    error('group_norm: num_groups must be a positive integer, got ' .. tostring(G), 2)
  end
  if C % G ~= 0 then
    error(('group_norm: expected number of channels in input to be divisible by num_groups, but got input of ' ..
      'shape %s and num_groups=%d'):format(size_str(x), G), 2)
  end
  check_vec('group_norm', 'weight', a.weight, C)
  check_vec('group_norm', 'bias', a.bias, C)
  if fused(x) then return torch.group_norm(x, G, a.weight, a.bias, a.eps) end
  local g = x:reshape({ N, G, -1 })
  local mean = g:mean(3, true)
  local var = g:var(3, { unbiased = false, keepdim = true })
  local y = normalise(g, mean, var, a.eps):reshape(x:size())
  return affine(y, a.weight, a.bias, d)
end

-- F.local_response_norm(x, size [, alpha=1e-4, beta=0.75, k=1]): x (N, C, *);
-- x / (k + alpha/size * sum of x^2 over a window of `size` neighbouring channels)^beta
function F.local_response_norm(x, ...)
  check(x, 'local_response_norm', 3)
  local a = args('local_response_norm', { 'size', 'alpha', 'beta', 'k' }, { alpha = 1e-4, beta = 0.75, k = 1.0 }, ...)
  local size = a.size
  if math.type(size) ~= 'integer' or size < 1 then
    error('local_response_norm: size must be a positive integer, got ' .. tostring(size), 2)
  end
  local C = x:size(2)
  local sq = x * x
  local parts = {}
  local lo, hi = size // 2, (size - 1) // 2
  local s = sq:size()
  if lo > 0 then s[2] = lo; parts[#parts + 1] = torch.zeros(s, { dtype = x.dtype, device = x.device }) end
  parts[#parts + 1] = sq
  if hi > 0 then s[2] = hi; parts[#parts + 1] = torch.zeros(s, { dtype = x.dtype, device = x.device }) end
  local padded = #parts > 1 and torch.cat(parts, 2) or sq
  local acc = padded:narrow(2, 1, C)
  for j = 2, size do acc = acc + padded:narrow(2, j, C) end
  local div = (acc * (a.alpha / size) + a.k):pow(a.beta)
  return x / div
end

-- F.normalize(x [, p=2, dim=2, eps=1e-12]): x / max(||x||_p over dim, eps)
-- (dim is 1-based; the default 2 is PyTorch's dim=1)
function F.normalize(x, ...)
  check(x, 'normalize')
  local a = args('normalize', { 'p', 'dim', 'eps' }, { p = 2.0, dim = 2, eps = 1e-12 }, ...)
  if math.type(a.dim) ~= 'integer' then error('normalize: dim must be an integer, got ' .. tostring(a.dim), 2) end
  local d = math.max(x:dim(), 1)
  if a.dim < -d or a.dim == 0 or a.dim > d then
    error(('normalize: dim %d is out of range for a %dD input'):format(a.dim, x:dim()), 2)
  end
  local n = x:norm(a.p, a.dim, true):clamp_min(a.eps)
  return x / n:expand_as(x)
end

return F
