-- Normalisation layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm,
-- GroupNorm, LocalResponseNorm, with PyTorch's arguments, parameter and buffer
-- names (weight, bias, running_mean, running_var, num_batches_tracked) and
-- defaults. momentum=false is PyTorch's momentum=None: the running statistics
-- are a cumulative moving average (factor 1/num_batches_tracked).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local args, repr = nn._args, nn._repr
local Module = nn.Module
local res = {}

local function factory(a)
  return { dtype = a.dtype, device = a.device }
end

local function size_str(x)
  local s = x:size()
  for i = 1, #s do s[i] = tostring(s[i]) end
  return #s == 0 and '(scalar)' or table.concat(s, 'x')
end

local function check_int(what, name, v, min)
  if math.type(v) ~= 'integer' or v < min then
    error(('%s: %s must be an integer >= %d, got %s'):format(what, name, min, tostring(v)), 4)
  end
end

local function check_bool(what, name, v)
  if type(v) ~= 'boolean' then error(('%s: %s must be a boolean, got %s'):format(what, name, type(v)), 4) end
end

local function check_num(what, name, v)
  if type(v) ~= 'number' then error(('%s: %s must be a number, got %s'):format(what, name, type(v)), 4) end
end

-- ---- BatchNorm / InstanceNorm (shared base) ----

local NORM_ARGS = { 'num_features', 'eps', 'momentum', 'affine', 'track_running_stats', 'dtype', 'device' }

local function init_norm(self, name, defaults, ...)
  Module.__init(self)
  local a = args(name, NORM_ARGS, defaults, ...)
  check_int(name, 'num_features', a.num_features, 1)
  check_num(name, 'eps', a.eps)
  if a.momentum ~= false then check_num(name, 'momentum', a.momentum) end
  check_bool(name, 'affine', a.affine)
  check_bool(name, 'track_running_stats', a.track_running_stats)
  self.num_features, self.eps, self.momentum = a.num_features, a.eps, a.momentum
  self.affine, self.track_running_stats = a.affine, a.track_running_stats
  local C = a.num_features
  if a.affine then
    self.weight = nn.Parameter(torch.empty(C, factory(a)))
    self.bias = nn.Parameter(torch.empty(C, factory(a)))
  else
    self:register_parameter('weight', nil)
    self:register_parameter('bias', nil)
  end
  if a.track_running_stats then
    self:register_buffer('running_mean', torch.zeros(C, factory(a)))
    self:register_buffer('running_var', torch.ones(C, factory(a)))
    self:register_buffer('num_batches_tracked', torch.zeros({}, { dtype = 'int64', device = a.device }))
  else
    self:register_buffer('running_mean', nil)
    self:register_buffer('running_var', nil)
    self:register_buffer('num_batches_tracked', nil)
  end
  self:reset_parameters()
end

local function reset_running_stats(self)
  if self.track_running_stats then
    torch.no_grad(function()
      self.running_mean:zero_()
      self.running_var:fill_(1)
      self.num_batches_tracked:zero_()
    end)
  end
end

local function reset_parameters(self)
  reset_running_stats(self)
  if self.affine then
    nn.init.ones_(self.weight)
    nn.init.zeros_(self.bias)
  end
end

local function norm_repr(self)
  return ('%d, eps=%s, momentum=%s, affine=%s, track_running_stats=%s'):format(self.num_features, repr(self.eps),
    self.momentum == false and 'None' or repr(self.momentum), tostring(self.affine), tostring(self.track_running_stats))
end

-- the momentum for this step (bumps num_batches_tracked when training with running stats)
local function step_factor(self)
  local f = self.momentum == false and 0.0 or self.momentum
  if self.training and self.track_running_stats and self.num_batches_tracked ~= nil then
    torch.no_grad(function() self.num_batches_tracked:add_(1) end)
    if self.momentum == false then f = 1.0 / self.num_batches_tracked:item() end
  end
  return f
end

local function make_bn(name, dims_ok, expect)
  local C = torch.class('nn.' .. name, 'nn.Module')
  -- nn.BatchNormNd(num_features [, eps=1e-5, momentum=0.1, affine=true,
  -- track_running_stats=true, {dtype=, device=}])
  function C:__init(...)
    init_norm(self, name, { eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true }, ...)
  end
  C.reset_running_stats = reset_running_stats
  C.reset_parameters = reset_parameters
  C.extra_repr = norm_repr
  function C:forward(x)
    if not torch.isTensor(x) then error(name .. ': expected a tensor as input, got ' .. torch.type(x), 2) end
    if not dims_ok[x:dim()] then error(('%s: expected %s input (got %dD input)'):format(name, expect, x:dim()), 2) end
    if x:size(2) ~= self.num_features then
      error(('%s: expected input with %d channels (dim 2), got %d (input size %s)'):format(name,
        self.num_features, x:size(2), size_str(x)), 2)
    end
    local factor = step_factor(self)
    -- batch statistics in training, or in eval when no running statistics are kept
    local bn_training = self.training or (self.running_mean == nil and self.running_var == nil)
    local use_running = not self.training or self.track_running_stats
    return F.batch_norm(x, use_running and self.running_mean or nil, use_running and self.running_var or nil,
      self.weight, self.bias, bn_training, factor, self.eps)
  end
  res[name] = C
end

make_bn('BatchNorm1d', { [2] = true, [3] = true }, '2D or 3D')
make_bn('BatchNorm2d', { [4] = true }, '4D')
make_bn('BatchNorm3d', { [5] = true }, '5D')

local function make_in(name, nd)
  local C = torch.class('nn.' .. name, 'nn.Module')
  -- nn.InstanceNormNd(num_features [, eps=1e-5, momentum=0.1, affine=false,
  -- track_running_stats=false]); inputs (N, C, *) or unbatched (C, *)
  function C:__init(...)
    init_norm(self, name, { eps = 1e-5, momentum = 0.1, affine = false, track_running_stats = false }, ...)
  end
  C.reset_running_stats = reset_running_stats
  C.reset_parameters = reset_parameters
  C.extra_repr = norm_repr
  function C:forward(x)
    if not torch.isTensor(x) then error(name .. ': expected a tensor as input, got ' .. torch.type(x), 2) end
    local d = x:dim()
    if d ~= nd + 1 and d ~= nd + 2 then
      error(('%s: expected %dD or %dD input (got %dD input)'):format(name, nd + 1, nd + 2, d), 2)
    end
    local unbatched = d == nd + 1
    if unbatched then x = x:unsqueeze(1) end
    if x:size(2) ~= self.num_features then
      error(('%s: expected input with %d channels, got %d (input size %s)'):format(name, self.num_features,
        x:size(2), size_str(x)), 2)
    end
    local factor = step_factor(self)
    local use_input_stats = self.training or not self.track_running_stats
    local y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
      factor, self.eps)
    if unbatched then y = y:squeeze(1) end
    return y
  end
  res[name] = C
end

make_in('InstanceNorm1d', 1)
make_in('InstanceNorm2d', 2)
make_in('InstanceNorm3d', 3)

-- ---- LayerNorm ----

local LayerNorm = torch.class('nn.LayerNorm', 'nn.Module')

-- nn.LayerNorm(normalized_shape [, eps=1e-5, elementwise_affine=true, bias=true,
-- {dtype=, device=}]): normalises over the last dims given by normalized_shape
function LayerNorm:__init(...)
  Module.__init(self)
  local a = args('LayerNorm', { 'normalized_shape', 'eps', 'elementwise_affine', 'bias', 'dtype', 'device' },
    { eps = 1e-5, elementwise_affine = true, bias = true }, ...)
  local ns = F._shape_list('LayerNorm', a.normalized_shape)
  for _, v in ipairs(ns) do check_int('LayerNorm', 'normalized_shape', v, 1) end
  check_num('LayerNorm', 'eps', a.eps)
  check_bool('LayerNorm', 'elementwise_affine', a.elementwise_affine)
  check_bool('LayerNorm', 'bias', a.bias)
  local copy = {}
  for i, v in ipairs(ns) do copy[i] = v end
  self.normalized_shape, self.eps, self.elementwise_affine = copy, a.eps, a.elementwise_affine
  if a.elementwise_affine then
    self.weight = nn.Parameter(torch.ones(copy, factory(a)))
    if a.bias then
      self.bias = nn.Parameter(torch.zeros(copy, factory(a)))
    else
      self:register_parameter('bias', nil)
    end
  else
    self:register_parameter('weight', nil)
    self:register_parameter('bias', nil)
  end
end

function LayerNorm:reset_parameters()
  if self.weight ~= nil then nn.init.ones_(self.weight) end
  if self.bias ~= nil then nn.init.zeros_(self.bias) end
end

function LayerNorm:forward(x)
  if not torch.isTensor(x) then error('LayerNorm: expected a tensor as input, got ' .. torch.type(x), 2) end
  return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
end

function LayerNorm:extra_repr()
  return ('%s, eps=%s, elementwise_affine=%s'):format(repr(self.normalized_shape), repr(self.eps),
    tostring(self.elementwise_affine))
end
res.LayerNorm = LayerNorm

-- ---- GroupNorm ----

local GroupNorm = torch.class('nn.GroupNorm', 'nn.Module')

-- nn.GroupNorm(num_groups, num_channels [, eps=1e-5, affine=true, {dtype=, device=}])
function GroupNorm:__init(...)
  Module.__init(self)
  local a = args('GroupNorm', { 'num_groups', 'num_channels', 'eps', 'affine', 'dtype', 'device' },
    { eps = 1e-5, affine = true }, ...)
  check_int('GroupNorm', 'num_groups', a.num_groups, 1)
  check_int('GroupNorm', 'num_channels', a.num_channels, 1)
  check_num('GroupNorm', 'eps', a.eps)
  check_bool('GroupNorm', 'affine', a.affine)
  if a.num_channels % a.num_groups ~= 0 then
    error(('GroupNorm: num_channels (%d) must be divisible by num_groups (%d)'):format(a.num_channels,
      a.num_groups), 2)
  end
  self.num_groups, self.num_channels, self.eps, self.affine = a.num_groups, a.num_channels, a.eps, a.affine
  if a.affine then
    self.weight = nn.Parameter(torch.ones(a.num_channels, factory(a)))
    self.bias = nn.Parameter(torch.zeros(a.num_channels, factory(a)))
  else
    self:register_parameter('weight', nil)
    self:register_parameter('bias', nil)
  end
end

function GroupNorm:reset_parameters()
  if self.affine then
    nn.init.ones_(self.weight)
    nn.init.zeros_(self.bias)
  end
end

function GroupNorm:forward(x)
  if not torch.isTensor(x) then error('GroupNorm: expected a tensor as input, got ' .. torch.type(x), 2) end
  if x:dim() < 2 or x:size(2) ~= self.num_channels then
    error(('GroupNorm: expected input (N, %d, *), got input size %s'):format(self.num_channels, size_str(x)), 2)
  end
  return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
end

function GroupNorm:extra_repr()
  return ('%d, %d, eps=%s, affine=%s'):format(self.num_groups, self.num_channels, repr(self.eps),
    tostring(self.affine))
end
res.GroupNorm = GroupNorm

-- ---- LocalResponseNorm ----

local LRN = torch.class('nn.LocalResponseNorm', 'nn.Module')

-- nn.LocalResponseNorm(size [, alpha=1e-4, beta=0.75, k=1])
function LRN:__init(...)
  Module.__init(self)
  local a = args('LocalResponseNorm', { 'size', 'alpha', 'beta', 'k' }, { alpha = 1e-4, beta = 0.75, k = 1.0 }, ...)
  check_int('LocalResponseNorm', 'size', a.size, 1)
  check_num('LocalResponseNorm', 'alpha', a.alpha)
  check_num('LocalResponseNorm', 'beta', a.beta)
  check_num('LocalResponseNorm', 'k', a.k)
  self.size, self.alpha, self.beta, self.k = a.size, a.alpha, a.beta, a.k
end

function LRN:forward(x)
  if not torch.isTensor(x) then error('LocalResponseNorm: expected a tensor as input, got ' .. torch.type(x), 2) end
  return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)
end

function LRN:extra_repr()
  return ('%d, alpha=%s, beta=%s, k=%s'):format(self.size, repr(self.alpha), repr(self.beta), repr(self.k))
end
res.LocalResponseNorm = LRN

return res
