-- Padding (torch.pad, core/pad.c) against PyTorch fixtures
-- (scripts/fixtures/gen_nn_pad.py): F.pad in every mode over 1, 2 and 3 padded
-- dims, batched and unbatched, asymmetric / zero / cropping amounts, outputs and
-- input gradients on contiguous and non-contiguous inputs; integer and bool
-- dtypes; gradcheck and gradgradcheck in float64; the modules and conv's
-- padding_mode going through it; errors.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_pad')

local function describe_case(c)
  return ('%s %s pad {%s}%s'):format(c.mode, table.concat(c.x.shape, 'x'), table.concat(c.pad, ','),
    c.value and (' value ' .. c.value) or '')
end

local function call(c, x)
  if c.value then return F.pad(x, c.pad, c.mode, c.value) end
  return F.pad(x, c.pad, c.mode)
end

-- a view with the same values whose last dim has stride 2
local function strided_last(t)
  local s = t:size()
  s[#s] = s[#s] * 2
  local big = torch.zeros(s, { dtype = t.dtype })
  local v = big:unfold(t:dim(), 1, 2):squeeze(t:dim() + 1)
  v:copy_(t)
  return v
end

describe('torch.pad / F.pad against PyTorch', function()
  before_each(function() torch.set_grad_enabled(true) end)

  for k, c in ipairs(fx.cases) do
    for _, layout in ipairs { 'contiguous', 'non-contiguous', 'strided last dim' } do
      it(('%d %s, %s'):format(k, describe_case(c), layout), function()
        local x = H.tensor(c.x)
        if layout == 'non-contiguous' then
          x = H.noncontig(x)
          if x:dim() > 1 and x:size(x:dim()) > 1 and x:size(x:dim() - 1) > 1 then assert.is_false(x:is_contiguous()) end
        elseif layout == 'strided last dim' then
          x = strided_last(x)
        end
        x:requires_grad_()
        local out = call(c, x)
        H.assert_close(out, c.out, { rtol = 1e-5, atol = 1e-6 })
        out:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx, { rtol = 1e-5, atol = 1e-6 })
      end)
    end
  end

  for k, c in ipairs(fx.dtypes) do
    it(('%d %s %s'):format(k, c.x.dtype, describe_case(c)), function()
      local out = call(c, H.tensor(c.x))
      assert.equal(c.x.dtype, out.dtype)
      H.assert_close(out, c.out)
      H.assert_close(call(c, H.noncontig(H.tensor(c.x))), c.out)
    end)
  end

  it('torch.pad takes positional (pad, mode, value) and defaults to constant 0', function()
    local x = torch.randn(2, 3, 4)
    H.assert_close(torch.pad(x, { 1, 2 }), F.pad(x, { 1, 2 }, 'constant', 0))
    H.assert_close(torch.pad(x, { 1, 2, 0, 1 }, 'reflect'), F.pad(x, { 1, 2, 0, 1 }, { mode = 'reflect' }))
    H.assert_close(torch.pad(x, { 1, 1 }, 'constant', 2.5), F.pad(x, { 1, 1 }, { value = 2.5 }))
    assert.same({ 2, 3, 4 }, torch.pad(x, {}):size())
  end)

  it('always returns a new tensor, also with nothing to pad', function()
    local x = torch.randn(2, 3)
    for _, mode in ipairs { 'constant', 'reflect', 'replicate', 'circular' } do
      local y = F.pad(x, { 0, 0 }, mode)
      H.assert_close(y, x)
      y:fill_(0)
      assert.is_true(x:abs():sum():item() > 0, mode)
    end
    local s = torch.tensor(3.5)
    local y = F.pad(s, {})
    assert.equal(0, y:dim())
    assert.equal(3.5, y:item())
  end)

  it('handles empty inputs and empty outputs', function()
    assert.same({ 2, 0, 3 }, F.pad(torch.randn(2, 0, 1), { 1, 1 }):size())
    assert.same({ 2, 2, 0 }, F.pad(torch.randn(2, 0, 3), { -1, -2, 1, 1 }):size())
    assert.same({ 3, 0 }, F.pad(torch.randn(3, 0), { 0, 0 }, 'reflect'):size())
    H.assert_close(F.pad(torch.zeros(2, 0), { 1, 1 }, 'constant', 4), torch.full({ 2, 2 }, 4.0))
  end)

  it('passes gradcheck and gradgradcheck in float64 for every mode and 1, 2, 3 padded dims', function()
    local gc, ggc = torch.autograd.gradcheck, torch.autograd.gradgradcheck
    local inputs = { { 2, 2, 4 }, { 1, 2, 3, 4 }, { 1, 1, 3, 3, 4 } }
    local pads = { { 2, 1 }, { 1, 2, 0, 2 }, { 1, 0, 2, 1, 1, 2 } }
    for _, mode in ipairs { 'constant', 'reflect', 'replicate', 'circular' } do
      for nd = 1, 3 do
        local x = torch.randn(inputs[nd], { dtype = 'float64', requires_grad = true })
        local f = function(t) return F.pad(t, pads[nd], mode) end
        assert.is_true(gc(f, { x }), mode .. ' ' .. nd)
        assert.is_true(ggc(f, { x }), mode .. ' ' .. nd)
        -- unbatched, on a non-contiguous input
        local xu = H.noncontig(torch.randn(inputs[nd], { dtype = 'float64' })[1]):requires_grad_()
        assert.is_true(gc(f, { xu }), mode .. ' unbatched ' .. nd)
      end
    end
    local f = function(t) return F.pad(t, { -1, 2, 1, -2 }, 'constant', 0.5) end
    local x = torch.randn(3, 4, { dtype = 'float64', requires_grad = true })
    assert.is_true(gc(f, { x }))
    assert.is_true(ggc(f, { x }))
  end)

  it('records nodes for the backward, so create_graph gives higher gradients', function()
    local x = torch.randn(1, 2, 3, 4, { dtype = 'float64', requires_grad = true })
    local y = F.pad(x, { 1, 2, 2, 1 }, 'reflect')
    assert.equal('ReflectionPad2DBackward', y.grad_fn:name())
    local g = torch.randn(y:size(), { dtype = 'float64', requires_grad = true })
    local gx = torch.autograd.grad({ y }, { x }, { grad_outputs = { g }, create_graph = true })[1]
    assert.is_truthy(gx.grad_fn)
    -- d(sum(gx * v))/dg is pad(v): the backward of the backward is the forward
    local v = torch.randn(x:size(), { dtype = 'float64' })
    local gg = torch.autograd.grad({ (gx * v):sum() }, { g })[1]
    H.assert_close(gg, F.pad(v, { 1, 2, 2, 1 }, 'reflect'))
    assert.equal('ConstantPadNdBackward', F.pad(x, { 1, 1 }).grad_fn:name())
    assert.equal('CircularPad3DBackward', F.pad(x, { 1, 1, 1, 1, 1, 1 }, 'circular').grad_fn:name())
  end)

  it('float16 and bfloat16 pad and accumulate their gradient in float32', function()
    local z = torch.zeros(2, 3, 4, { requires_grad = true })
    F.pad(z, { 2, 1 }, 'reflect'):backward(torch.ones(2, 3, 7))
    for _, dt in ipairs { 'float16', 'bfloat16' } do
      local x = torch.randn(2, 3, 4):to(dt):requires_grad_()
      local y = F.pad(x, { 2, 1 }, 'reflect')
      assert.equal(dt, y.dtype)
      H.assert_close(y:float(), F.pad(x:detach():float(), { 2, 1 }, 'reflect'))
      y:backward(torch.ones(y:size(), { dtype = dt }))
      assert.equal(dt, x.grad.dtype)
      H.assert_close(x.grad:float(), z.grad)
    end
  end)

  it('padding modules and conv padding_mode use it', function()
    local x = torch.randn(1, 2, 4, 5)
    local y = nn.ReflectionPad2d({ 1, 2, 2, 1 })(x:clone():requires_grad_())
    assert.equal('ReflectionPad2DBackward', y.grad_fn:name())
    assert.equal('ReplicationPad1DBackward', nn.ReplicationPad1d(1)(x[1]:clone():requires_grad_()).grad_fn:name())
    assert.equal('CircularPad3DBackward',
      nn.CircularPad3d(1)(torch.randn(1, 2, 3, 3, 3, { requires_grad = true })).grad_fn:name())
    assert.equal('ConstantPadNdBackward', nn.ZeroPad2d(1)(x:clone():requires_grad_()).grad_fn:name())
    local m = nn.Conv2d(2, 3, 3, { padding = 1, padding_mode = 'circular' })
    H.assert_close(m(x), F.conv2d(F.pad(x, { 1, 1, 1, 1 }, 'circular'), m.weight, m.bias), { rtol = 1e-4, atol = 1e-5 })
  end)

  it('errors name pad, the expectation and what was got', function()
    local x = torch.randn(2, 3, 4)
    H.assert_error(function() F.pad(x, { 1 }) end, 'pad: pad length must be divisible by 2, got 1')
    H.assert_error(function() F.pad(x, { 4, 0 }, 'reflect') end,
      'pad: reflect padding (4, 0) must be less than the size of dim 3 (4)')
    H.assert_error(function() F.pad(x, { 0, 0, 0, 3 }, 'reflect') end,
      'pad: reflect padding (0, 3) must be less than the size of dim 2 (3)')
    H.assert_error(function() F.pad(x, { 5, 0 }, 'circular') end,
      'pad: circular padding (5, 0) must be at most the size of dim 3 (4)')
    H.assert_error(function() F.pad(torch.randn(2, 0), { 1, 0 }, 'replicate') end,
      'pad: replicate padding needs a non-empty dim 2')
    H.assert_error(function() F.pad(x, { -1, 0 }, 'replicate') end, 'pad: replicate padding amounts must be >= 0, got (-1, 0)')
    H.assert_error(function() F.pad(x, { 1, 1 }, 'wrap') end,
      'pad: mode must be one of constant, reflect, replicate, circular, got wrap')
    H.assert_error(function() F.pad(x, { 1, 1 }, { mode = 'constant', fill = 2 }) end, "unknown option 'fill'")
    H.assert_error(function() F.pad(x, { 1, 1, 1, 1, 1, 1, 1, 1 }) end,
      'pad: padding length 8 is too large for a 3D input (at most 2 per dim)')
    H.assert_error(function() F.pad(torch.randn(4), { 1, 1 }, 'reflect') end,
      'pad: reflect padding of 1 dims expects a 2D or 3D input, got 1D (input size 4)')
    H.assert_error(function() F.pad(x, { 1, 1, 1, 1, 1, 1 }, 'replicate') end,
      'pad: replicate padding of 3 dims expects a 4D or 5D input, got 3D')
    H.assert_error(function() F.pad(x, { 1.5, 1 }) end, 'pad: pad must hold integers, got 1.5 at position 1')
    H.assert_error(function() F.pad(x, { -3, -2 }) end, 'pad: the negative padding crops dim 3 (size 4) below zero')
    H.assert_error(function() F.pad(x, { 1, 1 }, 'reflect', 2) end, 'pad: padding mode "reflect" does not take a value')
    H.assert_error(function() F.pad(x, { 1, 1 }, 'constant', 'a') end, 'pad: value must be a number, got string')
    H.assert_error(function() F.pad('x', { 1, 1 }) end, 'pad: expected a tensor as input, got string')
    H.assert_error(function() F.pad(x, 1) end, 'pad: pad must be a table of integers {left, right, ...}, got number')
    -- the binding checks on its own (torch.pad is public)
    H.assert_error(function() torch.pad(x, { 1, 'a' }) end, 'pad: pad must hold integers, got string at position 2')
    H.assert_error(function() torch.pad(x, { 1 }) end, 'pad: pad length must be divisible by 2, got 1')
    H.assert_error(function() torch.pad(x, { 1, 1 }, 3) end, 'pad: mode must be one of')
    H.assert_error(function() torch.pad(x, { 1, 1 }, 'reflect', 1) end, 'does not take a value')
    H.assert_error(function() torch.pad(x, { 1, 1 }, 'constant', {}) end, 'pad: value must be a number, got table')
    H.assert_error(function() torch.pad(x, { 1, math.maxinteger }) end, 'pad: padding amounts (1, '
      .. math.maxinteger .. ') of dim 3 are too large')
    H.assert_error(function() torch.pad(x, { 1 << 39, 1 << 39, 1 << 39, 1 << 39 }) end, 'too large')
  end)
end)
