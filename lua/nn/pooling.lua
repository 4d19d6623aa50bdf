-- Pooling modules over the nn.functional pooling forms (lua/nn/functional/pooling.lua),
-- with PyTorch's constructor arguments (positional or a trailing options table),
-- defaults (stride defaults to kernel_size) and printed form:
--   nn.MaxPool2d(2), nn.MaxPool2d(3, 2, 1), nn.MaxPool2d(3, {stride=2, return_indices=true}),
--   nn.AdaptiveAvgPool2d({7, 7}), nn.LPPool2d(2, 3).
-- Indices from return_indices are 1-based positions in each flattened input plane,
-- the values MaxUnpool reads back.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local repr = nn._repr
local classes = {}

local function size_arg(what, name, v, n, allow_nil, min)
  if v == nil and allow_nil then return end
  local ok = math.type(v) == 'integer' and v >= min
  if type(v) == 'table' and not torch.isTensor(v) then
    ok = #v <= n and (#v == n or allow_nil == 'adaptive') and next(v) ~= nil
    for i = 1, n do
      ok = ok and (math.type(v[i]) == 'integer' and v[i] >= min or (allow_nil == 'adaptive' and v[i] == nil))
    end
  end
  if not ok then
    error(('%s: %s must be an integer >= %d or a table of %d such integers, got %s'):format(what, name, min, n,
      type(v) == 'table' and 'a table' or tostring(v)), 4)
  end
end

local function tuple(v, n)
  if type(v) == 'table' then return v end
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

local function check_x(what, x)
  if not torch.isTensor(x) then error(what .. ': expected a tensor as input, got ' .. torch.type(x), 3) end
end

-- ---- max pooling ----

local function max_pool(name, n, fn)
  local class, Module = torch.class('nn.' .. name, 'nn.Module')
  function class:__init(...)
    Module.__init(self)
    local a = nn._args(name, { 'kernel_size', 'stride', 'padding', 'dilation', 'return_indices', 'ceil_mode' },
      { padding = 0, dilation = 1, return_indices = false, ceil_mode = false }, ...)
    size_arg(name, 'kernel_size', a.kernel_size, n, false, 1)
    size_arg(name, 'stride', a.stride, n, true, 1)
    size_arg(name, 'padding', a.padding, n, false, 0)
    size_arg(name, 'dilation', a.dilation, n, false, 1)
    self.kernel_size = a.kernel_size
    self.stride = a.stride ~= nil and a.stride or a.kernel_size
    self.padding, self.dilation = a.padding, a.dilation
    self.return_indices, self.ceil_mode = a.return_indices and true or false, a.ceil_mode and true or false
  end
  function class:forward(x)
    check_x(name, x)
    return F[fn](x, self.kernel_size, { stride = self.stride, padding = self.padding, dilation = self.dilation,
      ceil_mode = self.ceil_mode, return_indices = self.return_indices })
  end
  function class:extra_repr()
    return ('kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s'):format(repr(self.kernel_size),
      repr(self.stride), repr(self.padding), repr(self.dilation), tostring(self.ceil_mode))
  end
  classes[name] = class
end
max_pool('MaxPool1d', 1, 'max_pool1d')
max_pool('MaxPool2d', 2, 'max_pool2d')

-- MaxUnpool: forward(input, indices [, output_size]); sizes are kept as tuples as in PyTorch
local function max_unpool(name, n, fn)
  local class, Module = torch.class('nn.' .. name, 'nn.Module')
  function class:__init(...)
    Module.__init(self)
    local a = nn._args(name, { 'kernel_size', 'stride', 'padding' }, { padding = 0 }, ...)
    size_arg(name, 'kernel_size', a.kernel_size, n, false, 1)
    size_arg(name, 'stride', a.stride, n, true, 1)
    size_arg(name, 'padding', a.padding, n, false, 0)
    self.kernel_size = tuple(a.kernel_size, n)
    self.stride = tuple(a.stride ~= nil and a.stride or a.kernel_size, n)
    self.padding = tuple(a.padding, n)
  end
  function class:forward(x, indices, output_size)
    check_x(name, x)
    if not torch.isTensor(indices) then error(name .. ': expected a tensor of indices, got ' .. torch.type(indices), 2) end
    if type(output_size) == 'table' and n == 2 and #output_size > 2 then
      output_size = { output_size[#output_size - 1], output_size[#output_size] }
    end
    return F[fn](x, indices, { kernel_size = n == 1 and self.kernel_size[1] or self.kernel_size,
      stride = n == 1 and self.stride[1] or self.stride, padding = n == 1 and self.padding[1] or self.padding,
      output_size = output_size })
  end
  function class:extra_repr()
    return ('kernel_size=%s, stride=%s, padding=%s'):format(repr(self.kernel_size), repr(self.stride),
      repr(self.padding))
  end
  classes[name] = class
end
max_unpool('MaxUnpool1d', 1, 'max_unpool1d')
max_unpool('MaxUnpool2d', 2, 'max_unpool2d')

-- ---- average pooling ----

local AvgPool1d, Module = torch.class('nn.AvgPool1d', 'nn.Module')

-- nn.AvgPool1d(kernel_size [, stride=kernel_size, padding=0, ceil_mode=false, count_include_pad=true]);
-- sizes are kept as 1-tuples, as in PyTorch
function AvgPool1d:__init(...)
  Module.__init(self)
  local a = nn._args('AvgPool1d', { 'kernel_size', 'stride', 'padding', 'ceil_mode', 'count_include_pad' },
    { padding = 0, ceil_mode = false, count_include_pad = true }, ...)
  size_arg('AvgPool1d', 'kernel_size', a.kernel_size, 1, false, 1)
  size_arg('AvgPool1d', 'stride', a.stride, 1, true, 1)
  size_arg('AvgPool1d', 'padding', a.padding, 1, false, 0)
  self.kernel_size = tuple(a.kernel_size, 1)
  self.stride = tuple(a.stride ~= nil and a.stride or a.kernel_size, 1)
  self.padding = tuple(a.padding, 1)
  self.ceil_mode, self.count_include_pad = a.ceil_mode and true or false, a.count_include_pad and true or false
end

function AvgPool1d:forward(x)
  check_x('AvgPool1d', x)
  return F.avg_pool1d(x, self.kernel_size[1], { stride = self.stride[1], padding = self.padding[1],
    ceil_mode = self.ceil_mode, count_include_pad = self.count_include_pad })
end

function AvgPool1d:extra_repr()
  return ('kernel_size=%s, stride=%s, padding=%s'):format(repr(self.kernel_size), repr(self.stride),
    repr(self.padding))
end
classes.AvgPool1d = AvgPool1d

local AvgPool2d = torch.class('nn.AvgPool2d', 'nn.Module')

-- nn.AvgPool2d(kernel_size [, stride=kernel_size, padding=0, ceil_mode=false, count_include_pad=true,
-- divisor_override=nil])
function AvgPool2d:__init(...)
  Module.__init(self)
  local a = nn._args('AvgPool2d', { 'kernel_size', 'stride', 'padding', 'ceil_mode', 'count_include_pad',
    'divisor_override' }, { padding = 0, ceil_mode = false, count_include_pad = true }, ...)
  size_arg('AvgPool2d', 'kernel_size', a.kernel_size, 2, false, 1)
  size_arg('AvgPool2d', 'stride', a.stride, 2, true, 1)
  size_arg('AvgPool2d', 'padding', a.padding, 2, false, 0)
  if a.divisor_override ~= nil and (math.type(a.divisor_override) ~= 'integer' or a.divisor_override < 1) then
    error('AvgPool2d: divisor_override must be a positive integer, got ' .. tostring(a.divisor_override), 2)
  end
  self.kernel_size = a.kernel_size
  self.stride = a.stride ~= nil and a.stride or a.kernel_size
  self.padding = a.padding
  self.ceil_mode, self.count_include_pad = a.ceil_mode and true or false, a.count_include_pad and true or false
  self.divisor_override = a.divisor_override
end

function AvgPool2d:forward(x)
  check_x('AvgPool2d', x)
  return F.avg_pool2d(x, self.kernel_size, { stride = self.stride, padding = self.padding, ceil_mode = self.ceil_mode,
    count_include_pad = self.count_include_pad, divisor_override = self.divisor_override })
end

function AvgPool2d:extra_repr()
  return ('kernel_size=%s, stride=%s, padding=%s'):format(repr(self.kernel_size), repr(self.stride),
    repr(self.padding))
end
classes.AvgPool2d = AvgPool2d

-- ---- adaptive pooling ----

local function adaptive(name, n, fn, with_indices)
  local class = torch.class('nn.' .. name, 'nn.Module')
  local names = with_indices and { 'output_size', 'return_indices' } or { 'output_size' }
  function class:__init(...)
    Module.__init(self)
    local a = nn._args(name, names, { return_indices = false }, ...)
    size_arg(name, 'output_size', a.output_size, n, n == 2 and 'adaptive' or false, 1)
    self.output_size = a.output_size
    if with_indices then self.return_indices = a.return_indices and true or false end
  end
  function class:forward(x)
    check_x(name, x)
    local out = self.output_size
    if n == 2 and type(out) == 'table' and (out[1] == nil or out[2] == nil) then
      -- nil keeps the input's size in that dim
      local d = x:dim()
      if d < 2 then error(name .. ': expected a 3d or 4d input, got ' .. d .. 'd', 2) end
      out = { out[1] or x:size(d - 1), out[2] or x:size(d) }
    end
    if with_indices then return F[fn](x, out, { return_indices = self.return_indices }) end
    return F[fn](x, out)
  end
  function class:extra_repr()
    local o = self.output_size
    if type(o) == 'table' then
      return ('output_size=(%s, %s)'):format(o[1] == nil and 'nil' or tostring(o[1]), o[2] == nil and 'nil' or tostring(o[2]))
    end
    return 'output_size=' .. repr(o)
  end
  classes[name] = class
end
adaptive('AdaptiveAvgPool1d', 1, 'adaptive_avg_pool1d', false)
adaptive('AdaptiveAvgPool2d', 2, 'adaptive_avg_pool2d', false)
adaptive('AdaptiveMaxPool1d', 1, 'adaptive_max_pool1d', true)
adaptive('AdaptiveMaxPool2d', 2, 'adaptive_max_pool2d', true)

-- ---- LP pooling ----

local function lp_pool(name, n, fn)
  local class = torch.class('nn.' .. name, 'nn.Module')
  -- nn.LPPool2d(norm_type, kernel_size [, stride=kernel_size, ceil_mode=false]); stride stays nil when not given
  function class:__init(...)
    Module.__init(self)
    local a = nn._args(name, { 'norm_type', 'kernel_size', 'stride', 'ceil_mode' }, { ceil_mode = false }, ...)
    if type(a.norm_type) ~= 'number' or a.norm_type <= 0 then
      error(name .. ': norm_type must be a positive number, got ' .. tostring(a.norm_type), 2)
    end
    size_arg(name, 'kernel_size', a.kernel_size, n, false, 1)
    size_arg(name, 'stride', a.stride, n, true, 1)
    self.norm_type, self.kernel_size, self.stride = a.norm_type, a.kernel_size, a.stride
    self.ceil_mode = a.ceil_mode and true or false
  end
  function class:forward(x)
    check_x(name, x)
    return F[fn](x, self.norm_type, self.kernel_size, { stride = self.stride, ceil_mode = self.ceil_mode })
  end
  function class:extra_repr()
    return ('norm_type=%s, kernel_size=%s, stride=%s, ceil_mode=%s'):format(repr(self.norm_type),
      repr(self.kernel_size), self.stride == nil and 'nil' or repr(self.stride), tostring(self.ceil_mode))
  end
  classes[name] = class
end
lp_pool('LPPool1d', 1, 'lp_pool1d')
lp_pool('LPPool2d', 2, 'lp_pool2d')

return classes
