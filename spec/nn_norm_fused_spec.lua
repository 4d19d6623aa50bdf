-- The fused normalisation kernels (core/norm.c: torch.batch_norm, torch.layer_norm,
-- torch.group_norm, and nn.functional on top of them) against PyTorch fixtures
-- (scripts/fixtures/gen_nn_norm_fused.py): outputs and input/weight/bias
-- gradients with and without weight/bias, contiguous and non-contiguous inputs,
-- inputs with a large mean and small variance, running statistics after 5 steps;
-- gradcheck and gradgradcheck (create_graph goes through the composed formula) in
-- float64; the bindings' errors.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_norm_fused')

local function x64(...) return torch.randn({ ... }, { dtype = 'float64', requires_grad = true }) end

describe('fused normalisation against PyTorch', function()
  before_each(function() torch.set_grad_enabled(true) end)

  for k, c in ipairs(fx.functional) do
    for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
      it(('%d %s, %s'):format(k, c.name, layout), function()
        local x = H.tensor(c.x)
        if layout == 'non-contiguous' then x = H.noncontig(x) end
        x:requires_grad_()
        local t = {}
        if c.w then t.w = H.tensor(c.w):requires_grad_() end
        if c.b then t.b = H.tensor(c.b):requires_grad_() end
        if c.rm then t.rm, t.rv = H.tensor(c.rm), H.tensor(c.rv) end
        local args = {}
        for i = 1, #c.args do
          local a = c.args[i]
          if a == 'w' or a == 'b' or a == 'rm' or a == 'rv' then a = t[a] end
          args[i] = a
        end
        local out = F[c.fn](x, table.unpack(args, 1, #c.args))
        -- large-mean inputs: float32 itself resolves 1e4 + v to 1e-3, the rest is the statistics
        local tol = c.name:find('large') and { rtol = 1e-4, atol = 1e-4 } or { rtol = 1e-5, atol = 1e-5 }
        H.assert_close(out, c.out, tol)
        out:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx, tol)
        if c.gw then H.assert_close(t.w.grad, c.gw, { rtol = 1e-4, atol = 1e-4 }) end
        if c.gb then H.assert_close(t.b.grad, c.gb, { rtol = 1e-5, atol = 1e-4 }) end
        if c.rm_after then
          H.assert_close(t.rm, c.rm_after, { rtol = 1e-5, atol = 1e-6 })
          H.assert_close(t.rv, c.rv_after, { rtol = 1e-5, atol = 1e-6 })
        end
      end)
    end
  end

  it('a large mean with a small variance keeps its precision (E[x^2] - E[x]^2 would not)', function()
    local x = 1e4 + 1e-2 * torch.randn(6, 3, 4, 4)
    local dims = { 1, 3, 4 }
    local x64 = x:to('float64')
    local m, v = x64:mean(dims, true), x64:var(dims, { unbiased = false, keepdim = true })
    local ref = ((x64 - m) / (v + 1e-5):sqrt()):to('float32')
    H.assert_close(torch.batch_norm(x, nil, nil, nil, nil, true), ref, { rtol = 1e-5, atol = 1e-5 })
    local naive = (x * x):mean(dims) - x:mean(dims) ^ 2
    assert.is_true((naive - v:view(3)):abs():max():item() > 1e-2)
    local rows = x:view(6, 48)
    local r64 = rows:to('float64')
    local lref = ((r64 - r64:mean(2, true)) / (r64:var(2, { unbiased = false, keepdim = true }) + 1e-5):sqrt())
    H.assert_close(torch.layer_norm(rows, 48), lref:to('float32'), { rtol = 1e-5, atol = 1e-5 })
  end)

  for k, c in ipairs(fx.steps) do
    it(('%d running statistics after %d steps: %s'):format(k, #c.xs, c.ctor), function()
      local m = nn[c.ctor](table.unpack(c.args))
      for _, x in ipairs(c.xs) do m(H.tensor(x)) end
      H.assert_close(m.running_mean, c.running_mean, { rtol = 1e-5, atol = 1e-6 })
      H.assert_close(m.running_var, c.running_var, { rtol = 1e-5, atol = 1e-5 })
      assert.equal(H.tensor(c.num_batches_tracked):item(), m.num_batches_tracked:item())
    end)
  end

  it('eval mode reads the running statistics and leaves them alone', function()
    local x = torch.randn(5, 3, 4)
    local rm, rv = torch.randn(3), torch.rand(3) + 0.5
    local rm0, rv0 = rm:clone(), rv:clone()
    local y = torch.batch_norm(x, nil, nil, rm, rv, false)
    H.assert_close(y, (x - rm:view(1, 3, 1)) / (rv:view(1, 3, 1) + 1e-5):sqrt(), { rtol = 1e-5, atol = 1e-6 })
    H.assert_close(rm, rm0, { rtol = 0, atol = 0 })
    H.assert_close(rv, rv0, { rtol = 0, atol = 0 })
    -- running statistics of another dtype (float64 stats, float32 input)
    local rm64, rv64 = torch.zeros(3, { dtype = 'float64' }), torch.ones(3, { dtype = 'float64' })
    torch.batch_norm(x, nil, nil, rm64, rv64, true, 0.5)
    H.assert_close(rm64, x:to('float64'):mean({ 1, 3 }) * 0.5, { rtol = 1e-6 })
    H.assert_close(rv64, x:to('float64'):var({ 1, 3 }) * 0.5 + 0.5, { rtol = 1e-6 })
  end)

  it('records the fused nodes', function()
    local x = torch.randn(4, 6, 3, { requires_grad = true })
    assert.equal('NativeBatchNormBackward', F.batch_norm(x, nil, nil, nil, nil, true).grad_fn:name())
    assert.equal('NativeLayerNormBackward', F.layer_norm(x, 3).grad_fn:name())
    assert.equal('NativeGroupNormBackward', F.group_norm(x, 2).grad_fn:name())
    assert.equal('NativeGroupNormBackward', F.instance_norm(x).grad_fn:name())
  end)
end)

describe('fused normalisation gradients (float64)', function()
  before_each(function() torch.set_grad_enabled(true) end)
  local gc, gg = torch.autograd.gradcheck, torch.autograd.gradgradcheck

  local function cases()
    local rm, rv = torch.randn(3, { dtype = 'float64' }), torch.rand(3, { dtype = 'float64' }) + 0.5
    return {
      { 'batch_norm train, w and b', function(x, w, b) return torch.batch_norm(x, w, b, nil, nil, true) end,
        { x64(4, 3, 2), x64(3), x64(3) } },
      { 'batch_norm train, no affine', function(x) return torch.batch_norm(x, nil, nil, nil, nil, true) end,
        { x64(5, 3) } },
      { 'batch_norm train, bias only', function(x, b) return torch.batch_norm(x, nil, b, nil, nil, true) end,
        { x64(3, 3, 2, 2), x64(3) } },
      { 'batch_norm eval, w and b', function(x, w, b) return torch.batch_norm(x, w, b, rm, rv, false) end,
        { x64(4, 3, 2), x64(3), x64(3) } },
      { 'batch_norm eval, no affine', function(x) return torch.batch_norm(x, nil, nil, rm, rv, false) end,
        { x64(4, 3, 2) } },
      { 'layer_norm, w and b', function(x, w, b) return torch.layer_norm(x, { 2, 3 }, w, b) end,
        { x64(2, 2, 3), x64(2, 3), x64(2, 3) } },
      { 'layer_norm, no affine', function(x) return torch.layer_norm(x, 4) end, { x64(3, 4) } },
      { 'layer_norm, weight only', function(x, w) return torch.layer_norm(x, 4, w) end, { x64(2, 3, 4), x64(4) } },
      { 'group_norm, w and b', function(x, w, b) return torch.group_norm(x, 2, w, b) end,
        { x64(2, 4, 3), x64(4), x64(4) } },
      { 'group_norm, no affine', function(x) return torch.group_norm(x, 3, nil, nil, 1e-3) end, { x64(2, 6, 2) } },
      { 'instance_norm, w and b', function(x, w, b) return F.instance_norm(x, nil, nil, w, b) end,
        { x64(2, 3, 4), x64(3), x64(3) } },
      { 'non-contiguous input', function(x, w) return torch.group_norm(x:transpose(2, 3), 2, w) end,
        { x64(2, 3, 4), x64(4) } },
    }
  end

  for _, c in ipairs(cases()) do
    it('gradcheck and gradgradcheck: ' .. c[1], function()
      assert.is_true(gc(c[2], c[3]))
      assert.is_true(gg(c[2], c[3]))
    end)
  end

  it('the fused backward and the composed create_graph backward agree', function()
    local x, w, b = x64(3, 4, 5), x64(4), x64(4)
    local g = torch.randn(3, 4, 5, { dtype = 'float64' })
    for _, f in ipairs {
      function() return torch.batch_norm(x, w, b, nil, nil, true) end,
      function() return torch.group_norm(x, 2, w, b) end,
      function() return F.layer_norm(x, 5, w:repeat_(2):narrow(1, 1, 5), nil) end,
    } do
      local a = torch.autograd.grad({ f() }, { x, w, b }, { grad_outputs = { g }, allow_unused = true })
      local c = torch.autograd.grad({ f() }, { x, w, b },
        { grad_outputs = { g }, create_graph = true, allow_unused = true })
      for i = 1, 3 do
        if a[i] ~= nil then H.assert_close(c[i], a[i], { rtol = 1e-10, atol = 1e-12 }) end
      end
    end
  end)
end)

describe('fused normalisation errors', function()
  it('torch.batch_norm', function()
    local x = torch.randn(4, 3, 2)
    H.assert_error(function() torch.batch_norm(torch.ones(4, 3, { dtype = 'int64' }), nil, nil, nil, nil, true) end,
      'batch_norm: expected a float32 or float64 input, got int64')
    H.assert_error(function() torch.batch_norm(torch.randn(4), nil, nil, nil, nil, true) end,
      'expected an input with at least 2 dims, got 1D input')
    H.assert_error(function() torch.batch_norm(x, torch.ones(4), nil, nil, nil, true) end,
      'batch_norm: expected weight of size (3), got 4')
    H.assert_error(function() torch.batch_norm(x, nil, nil, torch.zeros(3), nil, false) end,
      'running_mean and running_var must be given when training is false')
    H.assert_error(function() torch.batch_norm(torch.randn(1, 3), nil, nil, nil, nil, true) end,
      'expected more than 1 value per channel when training, got input size 1x3')
    H.assert_error(function() torch.batch_norm(x, nil, nil, torch.zeros(3, { dtype = 'int64' }), torch.ones(3), true) end,
      'expected a floating-point running_mean, got int64')
    H.assert_error(function() torch.batch_norm(x, nil, nil, nil, nil, 'yes') end, 'boolean expected')
    H.assert_error(function() torch.batch_norm(x, nil, nil, nil, nil, true, 0.1, -1) end, 'eps must be a non-negative')
  end)

  it('torch.layer_norm and torch.group_norm', function()
    local x = torch.randn(2, 6, 3)
    H.assert_error(function() torch.layer_norm(x, 4) end, 'layer_norm: given normalized_shape=(4), expected input with shape (*, 4), but got input of size 2x6x3')
    H.assert_error(function() torch.layer_norm(x, { 6, 3 }, torch.ones(3, 6)) end,
      'layer_norm: expected weight of size (6, 3), got 3x6')
    H.assert_error(function() torch.layer_norm(x, 'a') end, 'normalized_shape must be an integer or a table')
    H.assert_error(function() torch.layer_norm(x, { 1.5 }) end, 'must be an integer')
    H.assert_error(function() torch.group_norm(x, 4) end, 'divisible by num_groups, but got input of shape 2x6x3')
    H.assert_error(function() torch.group_norm(x, 0) end, 'num_groups must be a positive integer, got 0')
    H.assert_error(function() torch.group_norm(x, 3, torch.ones(3)) end, 'group_norm: expected weight of size (6), got 3')
    H.assert_error(function() torch.group_norm(x, 3, nil, 'b') end, 'Tensor expected')
  end)
end)
