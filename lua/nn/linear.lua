-- Linear layers: Identity, Linear, Bilinear, Flatten, Unflatten, with PyTorch's
-- arguments, parameter names and default initialisation.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local args, repr = nn._args, nn._repr

local function factory(a)
  return { dtype = a.dtype, device = a.device }
end

local function check_int(what, name, v, min)
  if math.type(v) ~= 'integer' or v < min then
    error(('%s: %s must be an integer >= %d, got %s'):format(what, name, min, tostring(v)), 3)
  end
end

-- ---- Identity ----

local Identity, Module = torch.class('nn.Identity', 'nn.Module')

-- nn.Identity(...): arguments are ignored, as in PyTorch
function Identity:__init()
  Module.__init(self)
end

function Identity:forward(x, ...) return x, ... end

-- ---- Linear ----

local Linear = torch.class('nn.Linear', 'nn.Module')

-- nn.Linear(in_features, out_features [, {bias=true, dtype=, device=}]) (bias may
-- also be the third argument); y = x W^T + b, W (out_features, in_features)
function Linear:__init(...)
  Module.__init(self)
  local a = args('Linear', { 'in_features', 'out_features', 'bias', 'dtype', 'device' }, { bias = true }, ...)
  check_int('Linear', 'in_features', a.in_features, 0)
  check_int('Linear', 'out_features', a.out_features, 0)
  self.in_features, self.out_features = a.in_features, a.out_features
  self.weight = nn.Parameter(torch.empty(a.out_features, a.in_features, factory(a)))
  if a.bias then
    self.bias = nn.Parameter(torch.empty(a.out_features, factory(a)))
  else
    self:register_parameter('bias', nil)
  end
  self:reset_parameters()
end

-- kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias
function Linear:reset_parameters()
  nn.init.kaiming_uniform_(self.weight, { a = math.sqrt(5) })
  if self.bias ~= nil then
    local fan_in = self.in_features
    local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
    nn.init.uniform_(self.bias, -bound, bound)
  end
end

function Linear:forward(x)
  if not torch.isTensor(x) then error('Linear: expected a tensor as input, got ' .. torch.type(x), 2) end
  if x:dim() == 0 or x:size(x:dim()) ~= self.in_features then
    error(('Linear: expected input with %d features (last dim), got %s (input size %s)'):format(self.in_features,
      x:dim() == 0 and 'a scalar' or tostring(x:size(x:dim())), F._size_str(x)), 2)
  end
  return F.linear(x, self.weight, self.bias)
end

function Linear:extra_repr()
  return ('in_features=%d, out_features=%d, bias=%s'):format(self.in_features, self.out_features,
    tostring(self.bias ~= nil))
end

-- ---- Bilinear ----

local Bilinear = torch.class('nn.Bilinear', 'nn.Module')

-- nn.Bilinear(in1_features, in2_features, out_features [, {bias=true}])
function Bilinear:__init(...)
  Module.__init(self)
  local a = args('Bilinear', { 'in1_features', 'in2_features', 'out_features', 'bias', 'dtype', 'device' },
    { bias = true }, ...)
  check_int('Bilinear', 'in1_features', a.in1_features, 1)
  check_int('Bilinear', 'in2_features', a.in2_features, 1)
  check_int('Bilinear', 'out_features', a.out_features, 1)
  self.in1_features, self.in2_features, self.out_features = a.in1_features, a.in2_features, a.out_features
  self.weight = nn.Parameter(torch.empty(a.out_features, a.in1_features, a.in2_features, factory(a)))
  if a.bias then
    self.bias = nn.Parameter(torch.empty(a.out_features, factory(a)))
  else
    self:register_parameter('bias', nil)
  end
  self:reset_parameters()
end

function Bilinear:reset_parameters()
  local bound = 1 / math.sqrt(self.weight:size(2))
  nn.init.uniform_(self.weight, -bound, bound)
  if self.bias ~= nil then nn.init.uniform_(self.bias, -bound, bound) end
end

function Bilinear:forward(x1, x2)
  return F.bilinear(x1, x2, self.weight, self.bias)
end

function Bilinear:extra_repr()
  return ('in1_features=%d, in2_features=%d, out_features=%d, bias=%s'):format(self.in1_features,
    self.in2_features, self.out_features, tostring(self.bias ~= nil))
end

-- ---- Flatten / Unflatten ----

local Flatten = torch.class('nn.Flatten', 'nn.Module')

-- nn.Flatten([start_dim=2, end_dim=-1]) (1-based: keeps the batch dim)
function Flatten:__init(...)
  Module.__init(self)
  local a = args('Flatten', { 'start_dim', 'end_dim' }, { start_dim = 2, end_dim = -1 }, ...)
  check_int('Flatten', 'start_dim', a.start_dim, -math.maxinteger)
  check_int('Flatten', 'end_dim', a.end_dim, -math.maxinteger)
  self.start_dim, self.end_dim = a.start_dim, a.end_dim
end

function Flatten:forward(x)
  if not torch.isTensor(x) then error('Flatten: expected a tensor as input, got ' .. torch.type(x), 2) end
  return x:flatten(self.start_dim, self.end_dim)
end

function Flatten:extra_repr()
  return ('start_dim=%d, end_dim=%d'):format(self.start_dim, self.end_dim)
end

local Unflatten = torch.class('nn.Unflatten', 'nn.Module')

-- nn.Unflatten(dim, unflattened_size): dim (1-based) becomes unflattened_size
function Unflatten:__init(...)
  Module.__init(self)
  local a = args('Unflatten', { 'dim', 'unflattened_size' }, {}, ...)
  check_int('Unflatten', 'dim', a.dim, -math.maxinteger)
  local sz = a.unflattened_size
  if type(sz) ~= 'table' or #sz == 0 then
    error('Unflatten: unflattened_size must be a non-empty table of sizes, got ' .. torch.type(sz), 2)
  end
  for _, s in ipairs(sz) do
    if math.type(s) ~= 'integer' then error('Unflatten: unflattened_size must hold integers', 2) end
  end
  self.dim, self.unflattened_size = a.dim, sz
end

function Unflatten:forward(x)
  if not torch.isTensor(x) then error('Unflatten: expected a tensor as input, got ' .. torch.type(x), 2) end
  return x:unflatten(self.dim, self.unflattened_size)
end

function Unflatten:extra_repr()
  return ('dim=%d, unflattened_size=%s'):format(self.dim, repr(self.unflattened_size))
end

return { Identity = Identity, Linear = Linear, Bilinear = Bilinear, Flatten = Flatten, Unflatten = Unflatten }
