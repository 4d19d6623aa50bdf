-- Activation modules: each wraps its nn.functional form (lua/nn/functional/
-- activation.lua) with PyTorch's constructor arguments and printed form.
-- Arguments go positionally or as a trailing options table:
-- nn.LeakyReLU(0.2), nn.LeakyReLU{negative_slope=0.2}, nn.Softmax(2), nn.GELU{approximate='tanh'}.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local repr = nn._repr
local classes = {}

-- define(name, fn, names, defaults, extra_repr): a module whose forward is
-- F[fn](x, options) with the options named in `names`
local function define(name, fn, names, defaults, extra)
  local class, Module = torch.class('nn.' .. name, 'nn.Module')
  local f = F[fn]
  function class:__init(...)
    Module.__init(self)
    local a = nn._args(name, names, defaults, ...)
    for _, k in ipairs(names) do self[k] = a[k] end
  end
  function class:forward(x)
    if not torch.isTensor(x) then error(name .. ': expected a tensor as input, got ' .. torch.type(x), 2) end
    local o = {}
    for _, k in ipairs(names) do o[k] = self[k] end
    return f(x, o)
  end
  if extra then class.extra_repr = extra end
  classes[name] = class
  return class
end

local function inplace_repr(self) return self.inplace and 'inplace=true' or '' end
local function with_inplace(s, self) return self.inplace and (s .. ', inplace=true') or s end

define('ReLU', 'relu', { 'inplace' }, { inplace = false }, inplace_repr)
define('ReLU6', 'relu6', { 'inplace' }, { inplace = false }, inplace_repr)
define('LeakyReLU', 'leaky_relu', { 'negative_slope', 'inplace' }, { negative_slope = 0.01, inplace = false },
  function(self) return with_inplace('negative_slope=' .. repr(self.negative_slope), self) end)
define('ELU', 'elu', { 'alpha', 'inplace' }, { alpha = 1.0, inplace = false },
  function(self) return with_inplace('alpha=' .. repr(self.alpha), self) end)
define('SELU', 'selu', { 'inplace' }, { inplace = false }, inplace_repr)
define('CELU', 'celu', { 'alpha', 'inplace' }, { alpha = 1.0, inplace = false },
  function(self) return with_inplace('alpha=' .. repr(self.alpha), self) end)
define('GELU', 'gelu', { 'approximate' }, { approximate = 'none' },
  function(self) return 'approximate=' .. repr(self.approximate) end)
define('SiLU', 'silu', { 'inplace' }, { inplace = false }, inplace_repr)
define('Mish', 'mish', { 'inplace' }, { inplace = false }, inplace_repr)
define('Sigmoid', 'sigmoid', {}, {})
define('Tanh', 'tanh', {}, {})
define('Hardtanh', 'hardtanh', { 'min_val', 'max_val', 'inplace' }, { min_val = -1.0, max_val = 1.0, inplace = false },
  function(self) return with_inplace(('min_val=%s, max_val=%s'):format(repr(self.min_val), repr(self.max_val)), self) end)
define('Hardsigmoid', 'hardsigmoid', { 'inplace' }, { inplace = false }, inplace_repr)
define('Hardswish', 'hardswish', { 'inplace' }, { inplace = false }, inplace_repr)
define('Softplus', 'softplus', { 'beta', 'threshold' }, { beta = 1, threshold = 20 },
  function(self) return ('beta=%s, threshold=%s'):format(repr(self.beta), repr(self.threshold)) end)
define('Softsign', 'softsign', {}, {})
define('Softshrink', 'softshrink', { 'lambd' }, { lambd = 0.5 }, function(self) return repr(self.lambd) end)
define('Hardshrink', 'hardshrink', { 'lambd' }, { lambd = 0.5 }, function(self) return repr(self.lambd) end)
define('Tanhshrink', 'tanhshrink', {}, {})
define('LogSigmoid', 'logsigmoid', {}, {})

local Threshold = define('Threshold', 'threshold', { 'threshold', 'value', 'inplace' }, { inplace = false },
  function(self) return with_inplace(('threshold=%s, value=%s'):format(repr(self.threshold), repr(self.value)), self) end)
local threshold_init = Threshold.__init
function Threshold:__init(...)
  threshold_init(self, ...)
  if type(self.threshold) ~= 'number' or type(self.value) ~= 'number' then
    error('Threshold: expected numbers threshold and value (nn.Threshold(threshold, value))', 2)
  end
end

-- RReLU: random slopes in training, their mean in eval
local RReLU = define('RReLU', 'rrelu', { 'lower', 'upper', 'inplace' }, { lower = 1 / 8, upper = 1 / 3, inplace = false },
  function(self) return with_inplace(('lower=%s, upper=%s'):format(repr(self.lower), repr(self.upper)), self) end)
function RReLU:forward(x)
  return F.rrelu(x, { lower = self.lower, upper = self.upper, training = self.training })
end

-- Softmax, LogSoftmax, Softmin: dim is 1-based (nil: PyTorch's implicit choice)
for _, e in ipairs { { 'Softmax', 'softmax' }, { 'LogSoftmax', 'log_softmax' }, { 'Softmin', 'softmin' } } do
  local class = define(e[1], e[2], { 'dim' }, {}, function(self) return 'dim=' .. tostring(self.dim) end)
  local f = F[e[2]]
  function class:forward(x) return f(x, self.dim) end
end

local GLU = define('GLU', 'glu', { 'dim' }, { dim = -1 }, function(self) return 'dim=' .. tostring(self.dim) end)
function GLU:forward(x) return F.glu(x, self.dim) end

-- PReLU(num_parameters=1, init=0.25): a learnt negative slope, one or one per channel
local PReLU, Module = torch.class('nn.PReLU', 'nn.Module')
function PReLU:__init(...)
  Module.__init(self)
  local a = nn._args('PReLU', { 'num_parameters', 'init', 'dtype', 'device' }, { num_parameters = 1, init = 0.25 }, ...)
  if math.type(a.num_parameters) ~= 'integer' or a.num_parameters < 1 then
    error('PReLU: num_parameters must be a positive integer, got ' .. tostring(a.num_parameters), 2)
  end
  self.num_parameters, self.init = a.num_parameters, a.init
  self.weight = nn.Parameter(torch.full({ a.num_parameters }, a.init, { dtype = a.dtype }))
end
function PReLU:reset_parameters()
  torch.no_grad(function() self.weight:fill_(self.init) end)
end
function PReLU:forward(x) return F.prelu(x, self.weight) end
function PReLU:extra_repr() return 'num_parameters=' .. self.num_parameters end
classes.PReLU = PReLU

return classes
