-- nn.Unfold(kernel_size, {dilation=1, padding=0, stride=1}) and
-- nn.Fold(output_size, kernel_size, {dilation=1, padding=0, stride=1}): the module
-- forms of F.unfold (im2col) and F.fold (col2im). Sizes are an integer or a table
-- of two (H, W).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local args, repr = nn._args, nn._repr
local Module = nn.Module
local DEFAULTS = { dilation = 1, padding = 0, stride = 1 }

local function check_input(name, x)
  if not torch.isTensor(x) then error(name .. ': expected a tensor as input, got ' .. torch.type(x), 3) end
end

local function opts(self) return { dilation = self.dilation, padding = self.padding, stride = self.stride } end

local Unfold = torch.class('nn.Unfold', 'nn.Module')

function Unfold:__init(...)
  Module.__init(self)
  local a = args('Unfold', { 'kernel_size', 'dilation', 'padding', 'stride' }, DEFAULTS, ...)
  if a.kernel_size == nil then error('Unfold: kernel_size is required', 2) end
  self.kernel_size, self.dilation, self.padding, self.stride = a.kernel_size, a.dilation, a.padding, a.stride
end

function Unfold:forward(x)
  check_input('Unfold', x)
  return F.unfold(x, self.kernel_size, opts(self))
end

function Unfold:extra_repr()
  return ('kernel_size=%s, dilation=%s, padding=%s, stride=%s'):format(repr(self.kernel_size), repr(self.dilation),
    repr(self.padding), repr(self.stride))
end

local Fold = torch.class('nn.Fold', 'nn.Module')

function Fold:__init(...)
  Module.__init(self)
  local a = args('Fold', { 'output_size', 'kernel_size', 'dilation', 'padding', 'stride' }, DEFAULTS, ...)
  if a.output_size == nil then error('Fold: output_size is required', 2) end
  if a.kernel_size == nil then error('Fold: kernel_size is required', 2) end
  self.output_size, self.kernel_size = a.output_size, a.kernel_size
  self.dilation, self.padding, self.stride = a.dilation, a.padding, a.stride
end

function Fold:forward(x)
  check_input('Fold', x)
  return F.fold(x, self.output_size, self.kernel_size, opts(self))
end

function Fold:extra_repr()
  return ('output_size=%s, kernel_size=%s, dilation=%s, padding=%s, stride=%s'):format(repr(self.output_size),
    repr(self.kernel_size), repr(self.dilation), repr(self.padding), repr(self.stride))
end

return { Unfold = Unfold, Fold = Fold }
