-- Padding layers over F.pad: ZeroPad1d/2d/3d, ConstantPad1d/2d/3d,
-- ReflectionPad1d/2d/3d, ReplicationPad1d/2d/3d, CircularPad1d/2d/3d.
-- padding is one integer (all sides) or a table of 2*N amounts in PyTorch's order
-- (left, right [, top, bottom [, front, back]]): last dim first.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local args = nn._args
local Module = nn.Module
local res = {}

local function norm_padding(name, p, nd)
  if math.type(p) == 'integer' then
    local t = {}
    for i = 1, 2 * nd do t[i] = p end
    return t
  end
  if type(p) == 'table' and not torch.isTensor(p) and #p == 2 * nd then
    local t = {}
    for i = 1, 2 * nd do
      if math.type(p[i]) ~= 'integer' then
        error(('%s: padding must hold integers, got %s'):format(name, tostring(p[i])), 4)
      end
      t[i] = p[i]
    end
    return t
  end
  error(('%s: padding must be an integer or a table of %d integers, got %s'):format(name, 2 * nd,
    type(p) == 'table' and ('a table of ' .. #p) or tostring(p)), 4)
end

local function make(name, nd, mode, with_value)
  local C = torch.class('nn.' .. name, 'nn.Module')
  function C:__init(...)
    Module.__init(self)
    local names = with_value and { 'padding', 'value' } or { 'padding' }
    local a = args(name, names, {}, ...)
    self.padding = norm_padding(name, a.padding, nd)
    if with_value then
      if type(a.value) ~= 'number' then error(name .. ': value must be a number, got ' .. type(a.value), 2) end
      self.value = a.value
    end
  end
  function C:forward(x)
    if not torch.isTensor(x) then error(name .. ': expected a tensor as input, got ' .. torch.type(x), 2) end
    if x:dim() ~= nd + 1 and x:dim() ~= nd + 2 then
      error(('%s: expected a %dD or %dD input, got %dD input'):format(name, nd + 1, nd + 2, x:dim()), 2)
    end
    if mode == 'constant' then return F.pad(x, self.padding, 'constant', self.value or 0) end
    return F.pad(x, self.padding, mode)
  end
  function C:extra_repr()
    if with_value then return ('%s, value=%s'):format(nn._repr(self.padding), nn._repr(self.value)) end
    return nn._repr(self.padding)
  end
  res[name] = C
end

for nd = 1, 3 do
  make('ZeroPad' .. nd .. 'd', nd, 'constant', false)
  make('ConstantPad' .. nd .. 'd', nd, 'constant', true)
  make('ReflectionPad' .. nd .. 'd', nd, 'reflect', false)
  make('ReplicationPad' .. nd .. 'd', nd, 'replicate', false)
  make('CircularPad' .. nd .. 'd', nd, 'circular', false)
end

return res
