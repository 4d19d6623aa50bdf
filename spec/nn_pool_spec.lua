-- nn.functional pooling against PyTorch fixtures (scripts/fixtures/gen_nn_pool.py):
-- outputs, 1-based indices and input gradients for a table of option
-- combinations, contiguous and not; gradcheck in float64; errors.
local torch = require 'torch'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_pool')

local function describe_case(c)
  local parts = {}
  for _, a in ipairs(c.args) do
    if type(a) == 'table' then
      local kv = {}
      for k, v in pairs(a) do kv[#kv + 1] = k .. '=' .. (type(v) == 'table' and table.concat(v, 'x') or tostring(v)) end
      table.sort(kv)
      parts[#parts + 1] = '{' .. table.concat(kv, ', ') .. '}'
    else
      parts[#parts + 1] = tostring(a)
    end
  end
  return c.fn .. '(' .. table.concat(parts, ', ') .. ')'
end

local function run(c, x)
  local r = table.pack(F[c.fn](x, table.unpack(c.args)))
  return r[1], r[2]
end

describe('nn.functional pooling', function()
  before_each(function() torch.set_grad_enabled(true) end) -- other specs (fuzz) may leave it off
  for k, c in ipairs(fx.cases) do
    for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
      it(('%d %s, %s'):format(k, describe_case(c), layout), function()
        local x = H.tensor(c.x)
        if layout == 'non-contiguous' then x = H.noncontig(x) end
        x:requires_grad_()
        local out, idx = run(c, x)
        H.assert_close(out, c.out)
        if c.indices then H.assert_close(idx, c.indices) end
        out:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx)
      end)
    end
  end

  -- without autograd and without return_indices, max pooling computes values only
  -- (a separate kernel): the same outputs as PyTorch's
  for k, c in ipairs(fx.cases) do
    if c.fn:match('^max_pool') then
      it(('%d %s without grad or indices'):format(k, describe_case(c)), function()
        local args = {}
        for i, a in ipairs(c.args) do
          if type(a) == 'table' then
            local o = {}
            for key, v in pairs(a) do if key ~= 'return_indices' then o[key] = v end end
            a = o
          end
          args[i] = a
        end
        torch.no_grad(function()
          H.assert_close(F[c.fn](H.noncontig(H.tensor(c.x)), table.unpack(args)), c.out)
          H.assert_close(F[c.fn](H.tensor(c.x), table.unpack(args)), c.out)
        end)
      end)
    end
  end

  it('values-only max pooling lets a NaN anywhere in the window win', function()
    local x = torch.zeros(1, 1, 5, 6)
    x[{ 1, 1, 3, 4 }] = 0 / 0
    local want = F.max_pool2d(x:clone():requires_grad_(), 3, { stride = 2, padding = 1 }):detach()
    local got = torch.no_grad(function() return F.max_pool2d(x, 3, { stride = 2, padding = 1 }) end)
    assert.same(want:isnan():tolist(), got:isnan():tolist())
    assert.equal(2, got:isnan():sum():item()) -- output row 2, columns 2 and 3 hold row 3, column 4
  end)

  it('max_unpool2d puts values back at the 1-based indices', function()
    local u = fx.unpool
    local x = H.tensor(u.x):requires_grad_()
    local out = F.max_unpool2d(x, H.tensor(u.indices), 2, { output_size = { 7, 6 } })
    H.assert_close(out, u.out)
    out:backward(H.tensor(u.g))
    H.assert_close(x.grad, u.gx)
    -- output_size from kernel/stride/padding: (3 - 1) * 2 + 2 = 6 rows
    assert.same({ 2, 3, 6, 6 }, F.max_unpool2d(H.tensor(u.x), H.tensor(u.indices), 2):size())
  end)

  it('passes gradcheck in float64', function()
    local gc = torch.autograd.gradcheck
    local function x64(...) return torch.randn({ ... }, { dtype = 'float64', requires_grad = true }) end
    assert.is_true(gc(function(x) return F.max_pool2d(x, 3, { stride = 2, padding = 1 }) end, { x64(2, 2, 6, 5) }))
    assert.is_true(gc(function(x) return F.max_pool1d(x, 2, { dilation = 2, ceil_mode = true }) end, { x64(2, 7) }))
    assert.is_true(gc(function(x) return F.avg_pool2d(x, 3, { stride = 2, padding = 1, ceil_mode = true,
        count_include_pad = false }) end, { x64(1, 2, 6, 5) }))
    assert.is_true(gc(function(x) return F.avg_pool1d(x, 3, { divisor_override = 2 }) end, { x64(2, 3, 7) }))
    assert.is_true(gc(function(x) return F.adaptive_avg_pool2d(x, { 3, 2 }) end, { x64(2, 7, 5) }))
    assert.is_true(gc(function(x) return F.adaptive_max_pool2d(x, { 3, 2 }) end, { x64(2, 7, 5) }))
    assert.is_true(gc(function(x) return F.adaptive_max_pool1d(x, 3) end, { x64(2, 2, 7) }))
    local y, i = F.max_pool2d(torch.randn(1, 2, 4, 4, { dtype = 'float64' }), 2, { return_indices = true })
    assert.is_true(gc(function(v) return F.max_unpool2d(v, i, 2) end, { y:clone():requires_grad_() }))
  end)

  it('max pooling has a second derivative (create_graph)', function()
    local x = torch.randn(1, 1, 4, 4, { dtype = 'float64', requires_grad = true })
    local y = F.max_pool2d(x, 2, { stride = 1 })
    local g = torch.autograd.grad({ (y * y):sum() }, { x }, { create_graph = true })[1]
    local gg = torch.autograd.grad({ g:sum() }, { x })[1]
    -- d/dx of sum(2 * y * count) routed to the maxima: 2 per window a maximum wins
    H.assert_close(gg:sum(), { 2 * 9 }, { atol = 1e-12 })
  end)

  it('average pooling has second derivatives (gradgradcheck)', function()
    local ggc = torch.autograd.gradgradcheck
    local function x64(...) return torch.randn({ ... }, { dtype = 'float64', requires_grad = true }) end
    -- squared so the second derivative is not zero
    assert.is_true(ggc(function(x) return F.avg_pool2d(x, 3, { stride = 2, padding = 1, ceil_mode = true,
        count_include_pad = false }) ^ 2 end, { x64(1, 2, 6, 5) }))
    assert.is_true(ggc(function(x) return F.avg_pool1d(x, 3, { divisor_override = 2 }) ^ 2 end, { x64(2, 3, 7) }))
    assert.is_true(ggc(function(x) return F.adaptive_avg_pool2d(x, { 3, 2 }) ^ 2 end, { x64(2, 7, 5) }))
    assert.is_true(ggc(function(x) return F.adaptive_avg_pool1d(x, 3) end, { x64(2, 2, 7) }))
  end)

  it('float64 matches float32 and 3-d inputs pool per plane', function()
    local x = torch.randn(3, 8, 8)
    H.assert_close(F.max_pool2d(x:double(), 2):float(), F.max_pool2d(x, 2))
    H.assert_close(F.max_pool2d(x, 2), F.max_pool2d(x:unsqueeze(1), 2):squeeze(1))
  end)

  it('gives clear errors', function()
    local x = torch.randn(1, 1, 4, 4)
    H.assert_error(function() F.max_pool2d(x, 0) end, 'max_pool2d: kernel_size must be positive, got 0')
    H.assert_error(function() F.max_pool2d(x, 2, { padding = 2 }) end, 'max_pool2d: padding must be between 0')
    H.assert_error(function() F.max_pool2d(x, 5) end, 'max_pool2d: input 1x1x4x4 is too small')
    H.assert_error(function() F.max_pool2d(torch.randn(4, 4), 2) end, 'max_pool2d: expected a 3d or 4d input')
    H.assert_error(function() F.max_pool2d(torch.ones(1, 4, 4, { dtype = 'int64' }), 2) end,
      'max_pool2d: expected a float32 or float64 input, got int64')
    H.assert_error(function() F.avg_pool2d(x, 2, { stride = { 1, 2, 3 } }) end, 'avg_pool2d: stride must be')
    H.assert_error(function() F.max_pool1d(x, 2) end, 'max_pool1d: expected a 2d or 3d input')
    H.assert_error(function() F.adaptive_avg_pool2d(x, -1) end, 'adaptive_avg_pool2d: output_size must be')
    local y, i = F.max_pool2d(x, 2, { return_indices = true })
    H.assert_error(function() F.max_unpool2d(y, i * 10, 2) end, 'max_unpool2d: index')
    H.assert_error(function() F.max_unpool2d(y, i:float(), 2) end, 'max_unpool2d: expected int64 indices')
  end)
end)
