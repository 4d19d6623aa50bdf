-- Upsampling against PyTorch fixtures (scripts/fixtures/gen_nn_upsample.py):
-- F.interpolate for every mode x align_corners x (size | integer scale |
-- fractional up and down), outputs and input gradients, contiguous, transposed
-- and channels-last-like strided inputs; pixel (un)shuffle; gradcheck and
-- double backward in float64; modules and their printed form; errors.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_upsample')

local function describe_opts(c)
  local kv = {}
  for k, v in pairs(c.opts) do kv[#kv + 1] = k .. '=' .. (type(v) == 'table' and table.concat(v, 'x') or tostring(v)) end
  table.sort(kv)
  return c.fn .. '{' .. table.concat(kv, ', ') .. '}'
end

-- the same values as t laid out channels-last: dim 2 (C) has the smallest stride
local function channels_last(t)
  local d = t:dim()
  local perm = { 1 }
  for i = 3, d do perm[#perm + 1] = i end
  perm[#perm + 1] = 2
  local inv = { 1, d }
  for i = 3, d do inv[#inv + 1] = i - 1 end
  return t:permute(perm):contiguous():permute(inv)
end

local LAYOUTS = {
  contiguous = function(t) return t end,
  ['non-contiguous'] = H.noncontig,
  ['channels-last'] = channels_last,
}

describe('nn.functional upsampling', function()
  before_each(function() torch.set_grad_enabled(true) end)

  for k, c in ipairs(fx.cases) do
    for _, layout in ipairs { 'contiguous', 'non-contiguous', 'channels-last' } do
      -- the three layouts on a subset, contiguous everywhere
      if layout == 'contiguous' or k % 3 == 0 then
        it(('%d %s, %s%s'):format(k, describe_opts(c), layout, c.adjoint and ' (gradient: U^T g, see generator)' or ''), function()
          local x = LAYOUTS[layout](H.tensor(c.x))
          if layout ~= 'contiguous' and x:size(2) > 1 then assert.is_false(x:is_contiguous()) end
          x:requires_grad_()
          local out = F[c.fn](x, c.opts)
          H.assert_close(out, c.out)
          out:backward(H.tensor(c.g))
          H.assert_close(x.grad, c.gx)
        end)
      end
    end
  end

  for k, c in ipairs(fx.shuffle) do
    it(('%s(%d) on %s'):format(c.fn, c.arg, table.concat(c.x.shape, 'x')), function()
      for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
        local x = LAYOUTS[layout](H.tensor(c.x)):requires_grad_()
        local out = F[c.fn](x, c.arg)
        H.assert_close(out, c.out)
        out:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx)
      end
      assert(k)
    end)
  end

  it('positional arguments follow PyTorch (size, scale_factor, mode, align_corners)', function()
    local x = torch.randn(1, 2, 3, 4)
    H.assert_close(F.interpolate(x, { 6, 8 }), F.interpolate(x, { size = { 6, 8 } }))
    H.assert_close(F.interpolate(x, nil, 2, 'bilinear', true),
      F.interpolate(x, { scale_factor = 2, mode = 'bilinear', align_corners = true }))
    H.assert_close(F.upsample(x, nil, 2, 'bicubic'), F.interpolate(x, { scale_factor = 2, mode = 'bicubic' }))
    H.assert_close(F.upsample_nearest(x, 5), F.interpolate(x, 5))
    assert.same({ 1, 2, 6, 8 }, F.interpolate(x, { scale_factor = 2 }):size())
  end)

  it('passes gradcheck in float64 for every mode', function()
    local gc = torch.autograd.gradcheck
    local function x64(...) return torch.randn({ ... }, { dtype = 'float64', requires_grad = true }) end
    local checks = {
      { x64(1, 2, 5), { mode = 'nearest', scale_factor = 1.7 } },
      { x64(1, 2, 5), { mode = 'nearest-exact', size = 3 } },
      { x64(1, 1, 3, 4), { mode = 'nearest', size = { 5, 3 } } },
      { x64(1, 1, 2, 3, 2), { mode = 'nearest', scale_factor = 2 } },
      { x64(2, 1, 5), { mode = 'linear', scale_factor = 1.7 } },
      { x64(2, 1, 5), { mode = 'linear', size = 3, align_corners = true } },
      { x64(1, 2, 3, 4), { mode = 'bilinear', scale_factor = 1.7 } },
      { x64(1, 1, 5, 4), { mode = 'bilinear', size = { 3, 6 }, align_corners = true } },
      { x64(1, 1, 4, 3), { mode = 'bicubic', scale_factor = 1.7 } },
      { x64(1, 1, 5, 5), { mode = 'bicubic', scale_factor = 0.6, align_corners = true } },
      { x64(1, 1, 3, 2, 3), { mode = 'trilinear', scale_factor = 1.7 } },
      { x64(1, 1, 3, 2, 3), { mode = 'trilinear', size = { 2, 3, 4 }, align_corners = true } },
    }
    for _, c in ipairs(checks) do
      assert.is_true(gc(function(x) return F.interpolate(x, c[2]) end, { c[1] }), c[2].mode)
    end
    assert.is_true(gc(function(x) return F.pixel_shuffle(x, 2) end, { x64(2, 4, 2, 3) }))
    assert.is_true(gc(function(x) return F.pixel_unshuffle(x, 2) end, { x64(1, 4, 2, 4) }))
  end)

  it('has gradients of second and third order (create_graph)', function()
    for _, o in ipairs { { mode = 'bilinear', scale_factor = 1.7 }, { mode = 'bicubic', size = { 3, 5 } },
      { mode = 'nearest', scale_factor = 0.6 } } do
      local x = torch.randn(1, 2, 4, 4, { dtype = 'float64', requires_grad = true })
      local y = F.interpolate(x, o)
      local w = torch.randn(y:size(), { dtype = 'float64' })
      -- f = sum(w * y)^2 / 2: df/dx = s * U^T w with s = sum(w * y); d/dx of sum(df/dx * v) = (U^T w . v) U^T w
      local s = (w * y):sum()
      local gx = torch.autograd.grad({ s * s / 2 }, { x }, { create_graph = true })[1]
      local v = torch.randn(x:size(), { dtype = 'float64' })
      local ggx = torch.autograd.grad({ (gx * v):sum() }, { x }, { create_graph = true })[1]
      local utw = torch.autograd.grad({ (w * F.interpolate(x, o)):sum() }, { x })[1]
      H.assert_close(ggx, utw * (utw * v):sum(), { rtol = 1e-10, atol = 1e-12 })
      -- the backward of the backward is the forward: gradcheck of the gradient function
      assert.is_true(torch.autograd.gradcheck(function(g)
        return torch.autograd.grad({ F.interpolate(x, o) }, { x }, { grad_outputs = { g }, create_graph = true })[1]
      end, { w:clone():requires_grad_() }))
    end
  end)

  it('upsample_bilinear uses align_corners=true', function()
    local x = torch.randn(1, 1, 3, 3)
    H.assert_close(F.upsample_bilinear(x, { scale_factor = 2 }),
      F.interpolate(x, { scale_factor = 2, mode = 'bilinear', align_corners = true }))
  end)

  it('reports wrong arguments with the function name', function()
    local x4 = torch.randn(1, 2, 3, 4)
    H.assert_error(function() F.interpolate(x4, { scale_factor = 2, align_corners = true }) end,
      "interpolate: align_corners can only be set with the interpolating modes")
    H.assert_error(function() F.interpolate(x4, { scale_factor = 2, mode = 'nearest-exact', align_corners = false }) end,
      'align_corners can only be set')
    H.assert_error(function() F.interpolate(x4, { size = 3, scale_factor = 2 }) end,
      'interpolate: only one of size and scale_factor may be given')
    H.assert_error(function() F.interpolate(x4, { mode = 'bilinear' }) end,
      'interpolate: either size or scale_factor must be given')
    H.assert_error(function() F.interpolate(x4, { size = { 2, 3, 4 } }) end,
      'interpolate: size must have 2 entries (one per spatial dim of the 4-D (1x2x3x4) input), got 3')
    H.assert_error(function() F.interpolate(x4, { scale_factor = { 2 } }) end, 'scale_factor must have 2 entries')
    H.assert_error(function() F.interpolate(torch.randn(1, 2, 5), { scale_factor = 2, mode = 'bilinear' }) end,
      "interpolate: mode 'bilinear' expects a 4-D input (N, C, H, W), got 3-D (1x2x5)")
    H.assert_error(function() F.interpolate(x4, { scale_factor = 2, mode = 'trilinear' }) end,
      "mode 'trilinear' expects a 5-D input")
    H.assert_error(function() F.interpolate(x4, { scale_factor = 2, mode = 'linear' }) end,
      "mode 'linear' expects a 3-D input")
    H.assert_error(function() F.interpolate(torch.randn(3, 4), { scale_factor = 2 }) end,
      'interpolate: expected 3-D, 4-D or 5-D input (N, C, spatial...), got 2-D (3x4)')
    H.assert_error(function() F.interpolate(x4, { size = { 0, 3 } }) end,
      'interpolate: input and output sizes must be greater than 0, got input 4-D (1x2x3x4) and output size 0x3')
    H.assert_error(function() F.interpolate(x4, { scale_factor = 0.2 }) end, 'output size 0x0')
    H.assert_error(function() F.interpolate(x4, { scale_factor = -1 }) end,
      'interpolate: scale_factor must be a positive number')
    H.assert_error(function() F.interpolate(x4, { size = 2.5 }) end, 'interpolate: size must be an integer')
    H.assert_error(function() F.interpolate(x4, { size = 4, mode = 'cubic' }) end,
      "interpolate: mode must be one of 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic'")
    H.assert_error(function() F.interpolate(x4, { size = 4, mode = 'bilinear', antialias = true }) end,
      'interpolate: antialias=true is not supported')
    H.assert_error(function() F.interpolate(x4, { size = 4, recompute_scale_factor = true }) end,
      'recompute_scale_factor is not meaningful with an explicit size')
    H.assert_error(function() F.interpolate(x4, { size = 4, sizes = 3 }) end, 'interpolate: unknown option \'sizes\'')
    H.assert_error(function() F.interpolate(torch.randn(1, 1, 2, 2, 2), { size = 1, mode = 'area' }) end,
      "mode 'area' is not supported for 5-D input")
    H.assert_error(function() F.interpolate(torch.ones(1, 1, 3, { dtype = 'int64' }), { size = 4 }) end,
      'expected a float32 or float64 input')
    H.assert_error(function() F.pixel_shuffle(torch.randn(1, 5, 2, 2), 2) end,
      'pixel_shuffle: expected the channel dim (size 5 of input 4-D (1x5x2x2)) to be divisible by upscale_factor^2 = 4')
    H.assert_error(function() F.pixel_shuffle(torch.randn(4, 2), 2) end,
      'pixel_shuffle: expected an input of at least 3 dims (*, C, H, W), got 2-D (4x2)')
    H.assert_error(function() F.pixel_shuffle(torch.randn(1, 4, 2, 2), 0) end,
      'pixel_shuffle: upscale_factor must be a positive integer, got 0')
    H.assert_error(function() F.pixel_unshuffle(torch.randn(1, 1, 3, 4), 2) end,
      'pixel_unshuffle: expected height and width (3x4 of input 4-D (1x1x3x4)) to be divisible by downscale_factor 2')
  end)

  it('torch.upsample checks its arguments', function()
    local x = torch.randn(1, 1, 3, 3)
    H.assert_error(function() torch.upsample(x, 'bilinear') end, 'upsample: output_size is required')
    H.assert_error(function() torch.upsample(x, 'bilinear', { 2 }) end, 'output_size must have 2 entries')
    H.assert_error(function() torch.upsample(x, 'linear', 2) end, "upsample: mode 'linear' expects a 3-D input")
    H.assert_error(function() torch.upsample(x, 'nearest', 2, { align_corners = true }) end,
      'align_corners can only be set')
    H.assert_error(function() torch.upsample(x, 'bicubic', { 2, -1 }) end, 'sizes must be greater than 0')
    H.assert_error(function() torch.upsample(x, 'bicubic', 2, { scales = { 1, 0 / 0 } }) end,
      'scales must be positive and finite')
    H.assert_error(function() torch.upsample(x, 'box', 2) end, 'upsample: mode must be one of')
  end)
end)

describe('nn upsampling modules', function()
  before_each(function() torch.set_grad_enabled(true) end)

  it('print as PyTorch', function()
    assert.equal('Upsample(scale_factor=2.0, mode=nearest)', tostring(nn.Upsample({ scale_factor = 2 })))
    assert.equal('Upsample(size=(3, 4), mode=bilinear)', tostring(nn.Upsample({ size = { 3, 4 }, mode = 'bilinear' })))
    assert.equal('Upsample(size=5, mode=nearest)', tostring(nn.Upsample(5)))
    assert.equal('Upsample(scale_factor=(2.0, 1.5), mode=bicubic)', tostring(nn.Upsample(nil, { 2, 1.5 }, 'bicubic')))
    assert.equal('UpsamplingBilinear2d(scale_factor=2.0, mode=bilinear)',
      tostring(nn.UpsamplingBilinear2d({ scale_factor = 2 })))
    assert.equal('UpsamplingNearest2d(size=(2, 3), mode=nearest)', tostring(nn.UpsamplingNearest2d({ 2, 3 })))
    assert.equal('PixelShuffle(upscale_factor=3)', tostring(nn.PixelShuffle(3)))
    assert.equal('PixelUnshuffle(downscale_factor=2)', tostring(nn.PixelUnshuffle(2)))
  end)

  it('compute what F computes', function()
    local x = torch.randn(2, 3, 4, 5)
    H.assert_close(nn.Upsample({ scale_factor = 1.7, mode = 'bilinear', align_corners = true })(x),
      F.interpolate(x, { scale_factor = 1.7, mode = 'bilinear', align_corners = true }))
    H.assert_close(nn.Upsample({ 6, 7 }, nil, 'bicubic')(x), F.interpolate(x, { size = { 6, 7 }, mode = 'bicubic' }))
    H.assert_close(nn.UpsamplingNearest2d({ scale_factor = 2 })(x), F.interpolate(x, { scale_factor = 2 }))
    H.assert_close(nn.UpsamplingBilinear2d({ size = { 5, 5 } })(x),
      F.interpolate(x, { size = { 5, 5 }, mode = 'bilinear', align_corners = true }))
    local y = torch.randn(2, 12, 3, 3)
    H.assert_close(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(y)), y)
    local s = nn.Sequential(nn.Conv2d(3, 12, 3, { padding = 1 }), nn.PixelShuffle(2))
    assert.same({ 2, 3, 8, 10 }, s(x):size())
  end)

  it('name the module in errors', function()
    H.assert_error(function() nn.Upsample({ scale_factor = 2 })(torch.randn(3, 4)) end,
      'Upsample: expected 3-D, 4-D or 5-D input (N, C, spatial...), got 2-D (3x4)')
    H.assert_error(function() nn.UpsamplingBilinear2d({ scale_factor = 2 })(torch.randn(1, 2, 3)) end,
      "UpsamplingBilinear2d: mode 'bilinear' expects a 4-D input")
    H.assert_error(function() nn.Upsample({ mode = 'nearest', align_corners = true, size = 2 })(torch.randn(1, 2, 3)) end,
      'Upsample: align_corners can only be set')
    H.assert_error(function() nn.Upsample() end, 'Upsample: exactly one of size and scale_factor must be given')
    H.assert_error(function() nn.Upsample({ size = 2, scale_factor = 2 }) end, 'exactly one of size and scale_factor')
    H.assert_error(function() nn.PixelShuffle(1.5) end, 'PixelShuffle: upscale_factor must be a positive integer')
    H.assert_error(function() nn.PixelUnshuffle() end, 'PixelUnshuffle: downscale_factor must be a positive integer')
  end)
end)
