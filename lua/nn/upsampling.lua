-- Upsampling modules over F.interpolate and F.pixel_(un)shuffle
-- (lua/nn/functional/upsampling.lua), with PyTorch's constructor arguments
-- (positional or a trailing options table) and printed form:
--   nn.Upsample({scale_factor=2, mode='bilinear', align_corners=false}),
--   nn.Upsample({16, 16}), nn.UpsamplingNearest2d({scale_factor=2}),
--   nn.UpsamplingBilinear2d({size={8, 8}}), nn.PixelShuffle(3), nn.PixelUnshuffle(2).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local repr = nn._repr

-- scale factors are kept as floats, as PyTorch does
local function as_float(v)
  if type(v) == 'table' then
    local t = {}
    for i, x in ipairs(v) do t[i] = type(x) == 'number' and x + 0.0 or x end
    return t
  end
  return type(v) == 'number' and v + 0.0 or v
end

local Upsample, Module = torch.class('nn.Upsample', 'nn.Module')

-- nn.Upsample(size, scale_factor, mode='nearest', align_corners, recompute_scale_factor)
function Upsample:__init(...)
  Module.__init(self)
  local a = nn._args('Upsample', { 'size', 'scale_factor', 'mode', 'align_corners', 'recompute_scale_factor' },
    { mode = 'nearest' }, ...)
  self:_setup('Upsample', a)
end

function Upsample:_setup(name, a)
  if (a.size == nil) == (a.scale_factor == nil) then
    error(name .. ': exactly one of size and scale_factor must be given', 4)
  end
  if type(a.mode) ~= 'string' then error(name .. ': mode must be a string, got ' .. type(a.mode), 4) end
  self.size = a.size
  self.scale_factor = as_float(a.scale_factor)
  self.mode = a.mode
  self.align_corners = a.align_corners
  self.recompute_scale_factor = a.recompute_scale_factor
end

function Upsample:forward(x)
  local name = torch.type(self):gsub('^nn%.', '')
  return F._interpolate(name, x, { size = self.size, scale_factor = self.scale_factor,
    mode = self.mode, align_corners = self.align_corners, recompute_scale_factor = self.recompute_scale_factor })
end

function Upsample:extra_repr()
  local info = self.scale_factor ~= nil and 'scale_factor=' .. repr(self.scale_factor) or 'size=' .. repr(self.size)
  return info .. ', mode=' .. self.mode
end

-- nn.UpsamplingNearest2d(size, scale_factor): Upsample with mode 'nearest'
local UpsamplingNearest2d = torch.class('nn.UpsamplingNearest2d', 'nn.Upsample')
function UpsamplingNearest2d:__init(...)
  Module.__init(self)
  local a = nn._args('UpsamplingNearest2d', { 'size', 'scale_factor' }, {}, ...)
  a.mode = 'nearest'
  self:_setup('UpsamplingNearest2d', a)
end

-- nn.UpsamplingBilinear2d(size, scale_factor): Upsample with mode 'bilinear', align_corners=true
local UpsamplingBilinear2d = torch.class('nn.UpsamplingBilinear2d', 'nn.Upsample')
function UpsamplingBilinear2d:__init(...)
  Module.__init(self)
  local a = nn._args('UpsamplingBilinear2d', { 'size', 'scale_factor' }, {}, ...)
  a.mode, a.align_corners = 'bilinear', true
  self:_setup('UpsamplingBilinear2d', a)
end

local function factor(name, what, r)
  if math.type(r) ~= 'integer' or r <= 0 then
    error(('%s: %s must be a positive integer, got %s'):format(name, what, tostring(r)), 4)
  end
  return r
end

local PixelShuffle = torch.class('nn.PixelShuffle', 'nn.Module')
function PixelShuffle:__init(...)
  Module.__init(self)
  local a = nn._args('PixelShuffle', { 'upscale_factor' }, {}, ...)
  self.upscale_factor = factor('PixelShuffle', 'upscale_factor', a.upscale_factor)
end
function PixelShuffle:forward(x) return F.pixel_shuffle(x, self.upscale_factor) end
function PixelShuffle:extra_repr() return 'upscale_factor=' .. self.upscale_factor end

local PixelUnshuffle = torch.class('nn.PixelUnshuffle', 'nn.Module')
function PixelUnshuffle:__init(...)
  Module.__init(self)
  local a = nn._args('PixelUnshuffle', { 'downscale_factor' }, {}, ...)
  self.downscale_factor = factor('PixelUnshuffle', 'downscale_factor', a.downscale_factor)
end
function PixelUnshuffle:forward(x) return F.pixel_unshuffle(x, self.downscale_factor) end
function PixelUnshuffle:extra_repr() return 'downscale_factor=' .. self.downscale_factor end
