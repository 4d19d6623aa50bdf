-- nn.init: the weight initialisers of torch.nn.init. Each fills its tensor in
-- place without recording gradients and returns it. Arguments follow PyTorch,
-- positionally or as a trailing options table:
-- nn.init.kaiming_uniform_(w, {a=math.sqrt(5), mode='fan_in', nonlinearity='leaky_relu'}).
local torch = require 'torch'
local nn = require 'nn'
require 'nn.module'

local init = {}
nn.init = init

local function check(t, what)
  if not torch.isTensor(t) then
    error(('init.%s: expected a tensor, got %s'):format(what, torch.type(t)), 3)
  end
  return t
end

local function args(what, names, defaults, ...)
  return nn._args('init.' .. what, names, defaults, ...)
end

-- in-place fill of t (a parameter is a leaf that requires grad) with grad mode off
local function nograd(fn, ...)
  return torch.no_grad(fn, ...)
end

-- calculate_gain(nonlinearity [, param]): the recommended gain for a nonlinearity
function init.calculate_gain(nonlinearity, param)
  local linear = { linear = true, conv1d = true, conv2d = true, conv3d = true, conv_transpose1d = true,
    conv_transpose2d = true, conv_transpose3d = true, sigmoid = true }
  if linear[nonlinearity] then return 1 end
  if nonlinearity == 'tanh' then return 5.0 / 3 end
  if nonlinearity == 'relu' then return math.sqrt(2.0) end
  if nonlinearity == 'leaky_relu' then
    local slope = 0.01
    if param ~= nil then
      if type(param) ~= 'number' or type(param) == 'boolean' then
        error('init.calculate_gain: negative_slope ' .. tostring(param) .. ' is not a valid number', 2)
      end
      slope = param
    end
    return math.sqrt(2.0 / (1 + slope * slope))
  end
  if nonlinearity == 'selu' then return 3.0 / 4 end
  error('init.calculate_gain: unsupported nonlinearity ' .. tostring(nonlinearity), 2)
end

-- fan_in = size(2) * receptive field, fan_out = size(1) * receptive field
local function fans(t, what)
  if t:dim() < 2 then
    error(('init.%s: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (got size %s)')
      :format(what, table.concat(t:size(), 'x')), 3)
  end
  local receptive = 1
  for d = 3, t:dim() do receptive = receptive * t:size(d) end
  return t:size(2) * receptive, t:size(1) * receptive
end
init._calculate_fan_in_and_fan_out = function(t) return fans(check(t, '_calculate_fan_in_and_fan_out'), 'fans') end

function init.uniform_(t, ...)
  check(t, 'uniform_')
  local a = args('uniform_', { 'a', 'b', 'generator' }, { a = 0.0, b = 1.0 }, ...)
  return nograd(function() return t:uniform_(a.a, a.b, a.generator and { generator = a.generator } or nil) end)
end

function init.normal_(t, ...)
  check(t, 'normal_')
  local a = args('normal_', { 'mean', 'std', 'generator' }, { mean = 0.0, std = 1.0 }, ...)
  return nograd(function() return t:normal_(a.mean, a.std, a.generator and { generator = a.generator } or nil) end)
end

function init.constant_(t, val)
  check(t, 'constant_')
  if type(val) ~= 'number' then error('init.constant_: expected a number value, got ' .. type(val), 2) end
  return nograd(function() return t:fill_(val) end)
end

function init.ones_(t) check(t, 'ones_') return nograd(function() return t:fill_(1) end) end
function init.zeros_(t) check(t, 'zeros_') return nograd(function() return t:zero_() end) end

-- eye_(t): the identity in a 2-d tensor (ones on the main diagonal)
function init.eye_(t)
  check(t, 'eye_')
  if t:dim() ~= 2 then error('init.eye_: only 2-d tensors are supported, got ' .. t:dim() .. '-d', 2) end
  return nograd(function()
    t:copy_(torch.eye(t:size(1), t:size(2), { dtype = t.dtype }))
    return t
  end)
end

-- dirac_(t [, groups=1]): a 3-, 4- or 5-d convolution weight that passes its
-- input channels through unchanged (per group)
function init.dirac_(t, ...)
  check(t, 'dirac_')
  local a = args('dirac_', { 'groups' }, { groups = 1 }, ...)
  local nd = t:dim()
  if nd < 3 or nd > 5 then error('init.dirac_: only 3, 4 and 5-d tensors are supported, got ' .. nd .. '-d', 2) end
  local g = a.groups
  if math.type(g) ~= 'integer' or g < 1 or t:size(1) % g ~= 0 then
    error(('init.dirac_: dim 1 (size %d) must be divisible by groups (%s)'):format(t:size(1), tostring(g)), 2)
  end
  local out_per = t:size(1) // g
  local min_dim = math.min(out_per, t:size(2))
  return nograd(function()
    t:zero_()
    for gi = 0, g - 1 do
      for d = 1, min_dim do
        local idx = { gi * out_per + d, d }
        for k = 3, nd do idx[k] = t:size(k) // 2 + 1 end
        t[idx] = 1
      end
    end
    return t
  end)
end

function init.xavier_uniform_(t, ...)
  check(t, 'xavier_uniform_')
  local a = args('xavier_uniform_', { 'gain', 'generator' }, { gain = 1.0 }, ...)
  local fin, fout = fans(t, 'xavier_uniform_')
  local std = a.gain * math.sqrt(2.0 / (fin + fout))
  local bound = math.sqrt(3.0) * std
  return init.uniform_(t, -bound, bound, { generator = a.generator })
end

function init.xavier_normal_(t, ...)
  check(t, 'xavier_normal_')
  local a = args('xavier_normal_', { 'gain', 'generator' }, { gain = 1.0 }, ...)
  local fin, fout = fans(t, 'xavier_normal_')
  local std = a.gain * math.sqrt(2.0 / (fin + fout))
  return init.normal_(t, 0, std, { generator = a.generator })
end

local function kaiming_std(t, a, what)
  if a.mode ~= 'fan_in' and a.mode ~= 'fan_out' then
    error(("init.%s: mode must be 'fan_in' or 'fan_out', got %s"):format(what, tostring(a.mode)), 3)
  end
  local fin, fout = fans(t, what)
  local fan = a.mode == 'fan_in' and fin or fout
  local gain = init.calculate_gain(a.nonlinearity, a.a)
  return gain / math.sqrt(fan), fan
end

local KAIMING = { 'a', 'mode', 'nonlinearity', 'generator' }
local KAIMING_DEF = { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu' }

function init.kaiming_uniform_(t, ...)
  check(t, 'kaiming_uniform_')
  local a = args('kaiming_uniform_', KAIMING, KAIMING_DEF, ...)
  if t:numel() == 0 then return t end
  local std = kaiming_std(t, a, 'kaiming_uniform_')
  local bound = math.sqrt(3.0) * std
  return init.uniform_(t, -bound, bound, { generator = a.generator })
end

function init.kaiming_normal_(t, ...)
  check(t, 'kaiming_normal_')
  local a = args('kaiming_normal_', KAIMING, KAIMING_DEF, ...)
  if t:numel() == 0 then return t end
  local std = kaiming_std(t, a, 'kaiming_normal_')
  return init.normal_(t, 0, std, { generator = a.generator })
end

-- trunc_normal_(t, {mean=0, std=1, a=-2, b=2}): normal values redrawn until they lie in [a, b]
function init.trunc_normal_(t, ...)
  check(t, 'trunc_normal_')
  local a = args('trunc_normal_', { 'mean', 'std', 'a', 'b', 'generator' }, { mean = 0.0, std = 1.0, a = -2.0, b = 2.0 }, ...)
  if a.a >= a.b then error(('init.trunc_normal_: a (%g) must be less than b (%g)'):format(a.a, a.b), 2) end
  local gopt = a.generator and { generator = a.generator } or nil
  return nograd(function()
    t:normal_(a.mean, a.std, gopt)
    for _ = 1, 1000 do
      local bad = t:lt(a.a):logical_or(t:gt(a.b))
      if not bad:any():item() then return t end
      local fresh = torch.empty(t:size(), { dtype = t.dtype }):normal_(a.mean, a.std, gopt)
      t:copy_(torch.where(bad, fresh, t))
    end
    -- a range far in the tail: what is left is drawn uniformly inside [a, b]
    local bad = t:lt(a.a):logical_or(t:gt(a.b))
    local fresh = torch.empty(t:size(), { dtype = t.dtype }):uniform_(a.a, a.b, gopt)
    t:copy_(torch.where(bad, fresh, t))
    return t
  end)
end

-- Q of the QR decomposition of a (rows >= cols), with R's diagonal positive:
-- modified Gram-Schmidt, each column orthogonalised twice (float64)
local function qr_q(a)
  local rows, cols = a:size(1), a:size(2)
  local q = torch.zeros(rows, cols, { dtype = 'float64' })
  for j = 1, cols do
    local v = a:select(2, j):clone()
    if j > 1 then
      local qs = q:narrow(2, 1, j - 1)
      for _ = 1, 2 do v = v - qs:mv(qs:t():mv(v)) end
    end
    local n = v:norm():item()
    if n == 0 then n = 1 end
    q:select(2, j):copy_(v / n)
  end
  return q
end

-- orthogonal_(t [, gain=1]): a (semi-)orthogonal matrix from the QR of a normal
-- matrix (t flattened to size(1) x rest)
function init.orthogonal_(t, ...)
  check(t, 'orthogonal_')
  local a = args('orthogonal_', { 'gain', 'generator' }, { gain = 1.0 }, ...)
  if t:dim() < 2 then error('init.orthogonal_: only tensors with 2 or more dimensions are supported', 2) end
  if t:numel() == 0 then return t end
  local rows = t:size(1)
  local cols = t:numel() // rows
  return nograd(function()
    local flat = torch.empty(rows, cols, { dtype = 'float64' }):normal_(0, 1,
      a.generator and { generator = a.generator } or nil)
    if rows < cols then flat = flat:t():contiguous() end
    local q = qr_q(flat)
    if rows < cols then q = q:t() end
    t:copy_((q * a.gain):reshape(t:size()))
    return t
  end)
end

-- sparse_(t, sparsity [, std=0.01]): a 2-d tensor with normal values and, in
-- each column, ceil(sparsity * rows) zeros
function init.sparse_(t, ...)
  check(t, 'sparse_')
  local a = args('sparse_', { 'sparsity', 'std', 'generator' }, { std = 0.01 }, ...)
  if t:dim() ~= 2 then error('init.sparse_: only 2-d tensors are supported, got ' .. t:dim() .. '-d', 2) end
  if type(a.sparsity) ~= 'number' or a.sparsity < 0 or a.sparsity > 1 then
    error('init.sparse_: sparsity must be a number in [0, 1], got ' .. tostring(a.sparsity), 2)
  end
  local rows, cols = t:size(1), t:size(2)
  local nz = math.ceil(a.sparsity * rows)
  local gopt = a.generator and { generator = a.generator } or nil
  return nograd(function()
    t:normal_(0, a.std, gopt)
    for c = 1, cols do
      if nz > 0 then
        local perm = torch.randperm(rows, gopt):narrow(1, 1, nz)
        t:select(2, c):index_fill_(1, perm, 0)
      end
    end
    return t
  end)
end

-- Torch7-era names without the trailing underscore (deprecated in PyTorch)
for _, n in ipairs { 'uniform', 'normal', 'constant', 'eye', 'dirac', 'xavier_uniform', 'xavier_normal',
  'kaiming_uniform', 'kaiming_normal', 'orthogonal', 'sparse' } do
  init[n] = init[n .. '_']
end

return init
