-- nn.functional losses against PyTorch fixtures (scripts/fixtures/gen_nn_loss.py):
-- loss values and input gradients for every reduction and the options that change
-- the math (class weights, ignore_index, label smoothing, probability targets,
-- (N, C, d1, d2) inputs, pos_weight, log_target, the legacy size_average/reduce);
-- non-contiguous inputs; gradcheck in float64; target validation errors.
local torch = require 'torch'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_loss')

local function opts_of(c)
  local o = {}
  for k, v in pairs(c.opts) do
    o[k] = (type(v) == 'table' and v.data) and H.tensor(v) or v
  end
  return o
end

local function describe_case(c)
  local kv = {}
  for k, v in pairs(c.opts) do kv[#kv + 1] = k .. '=' .. ((type(v) == 'table') and 'tensor' or tostring(v)) end
  table.sort(kv)
  return ('%s(%s, {%s})'):format(c.fn, table.concat(c.x.shape, 'x'), table.concat(kv, ', '))
end

describe('nn.functional losses', function()
  before_each(function() torch.set_grad_enabled(true) end) -- other specs (fuzz) may leave it off
  for k, c in ipairs(fx.cases) do
    for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
      it(('%d %s, %s'):format(k, describe_case(c), layout), function()
        local x = H.tensor(c.x)
        if layout == 'non-contiguous' then x = H.noncontig(x) end
        x:requires_grad_()
        local out = F[c.fn](x, H.tensor(c.target), opts_of(c))
        H.assert_close(out, c.out, { rtol = 1e-5, atol = 1e-6 })
        out:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx, { rtol = 1e-5, atol = 1e-6 })
      end)
    end
  end

  it('passes gradcheck in float64', function()
    local gc = torch.autograd.gradcheck
    local function x64(...) return torch.randn({ ... }, { dtype = 'float64', requires_grad = true }) end
    local t = torch.tensor { 1, 5, 3, 3 }
    local w = torch.rand(5, { dtype = 'float64' }) + 0.5
    for _, red in ipairs { 'mean', 'sum', 'none' } do
      assert.is_true(gc(function(x) return F.cross_entropy(x, t, { weight = w, ignore_index = 5, label_smoothing = 0.2,
          reduction = red }) end, { x64(4, 5) }))
      assert.is_true(gc(function(x) return F.nll_loss(x, t, { weight = w, reduction = red }) end, { x64(4, 5) }))
    end
    local t3 = torch.tensor { { 1, 2 }, { 3, 3 } }
    assert.is_true(gc(function(x) return F.cross_entropy(x, t3) end, { x64(2, 3, 2) }))
    local y = torch.rand(3, 4, { dtype = 'float64' })
    assert.is_true(gc(function(x) return F.binary_cross_entropy_with_logits(x, y, { pos_weight = w[{ { 1, 4 } }] }) end,
      { x64(3, 4) }))
    assert.is_true(gc(function(x) return F.smooth_l1_loss(x, y, { beta = 0.3 }) end, { x64(3, 4) }))
    assert.is_true(gc(function(x) return F.huber_loss(x, y, { delta = 0.3 }) end, { x64(3, 4) }))
    assert.is_true(gc(function(x) return F.kl_div(x, y, { reduction = 'batchmean' }) end, { x64(3, 4) }))
  end)

  it('cross_entropy is stable for large logits', function()
    local x = torch.tensor { { 1000.0, 0.0, -1000.0 } }
    H.assert_close(F.cross_entropy(x, torch.tensor { 1 }), { 0 })
    H.assert_close(F.cross_entropy(x, torch.tensor { 3 }), { 2000 }, { rtol = 1e-6 })
  end)

  it('validates targets, options and shapes', function()
    local x = torch.randn(4, 10)
    H.assert_error(function() F.cross_entropy(x, torch.tensor { 1, 2, 11, 3 }) end,
      'cross_entropy: target 11 is out of range 1..10')
    H.assert_error(function() F.cross_entropy(x, torch.tensor { 0, 2, 1, 3 }) end,
      'cross_entropy: target 0 is out of range 1..10')
    H.assert_error(function() F.nll_loss(x, torch.tensor { 1, 2, -3, 3 }) end,
      'nll_loss: target -3 is out of range 1..10')
    H.assert_error(function() F.cross_entropy(x, torch.tensor { 1, 2, 3 }) end,
      'cross_entropy: expected target of shape 4 for input 4x10, got 3')
    H.assert_error(function() F.nll_loss(x, torch.tensor { true, false, true, true }) end,
      'nll_loss: expected a target of 1-based class labels (int64), got bool')
    H.assert_error(function() F.cross_entropy(x, torch.rand(4, 3)) end,
      'cross_entropy: class-probability targets must have the input\'s shape 4x10')
    H.assert_error(function() F.cross_entropy(x, torch.tensor { 1, 2, 3, 4 }, { weight = torch.ones(3) }) end,
      'cross_entropy: expected a weight of 10 elements')
    H.assert_error(function() F.cross_entropy(x, torch.tensor { 1, 2, 3, 4 }, { reduction = 'avg' }) end,
      "cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'")
    H.assert_error(function() F.mse_loss(x, torch.randn(4, 3)) end, "mse_loss: expected target of the input's shape")
    H.assert_error(function() F.binary_cross_entropy(x, torch.rand(4, 10)) end,
      'binary_cross_entropy: input values must be between 0 and 1')
  end)

  -- second derivatives: the create_graph backward is composed of differentiable ops
  local function x64(...) return torch.randn({ ... }, { dtype = 'float64', requires_grad = true }) end
  local ggc = torch.autograd.gradgradcheck
  local t3 = torch.tensor { 1, 3, 2, 3 }
  local ggcases = {
    { 'cross_entropy mean', function(x) return F.cross_entropy(x, t3) end, { 4, 3 } },
    { 'cross_entropy weight, smoothing, ignore', function(x)
      return F.cross_entropy(x, t3, { weight = torch.tensor({ 0.5, 2.0, 1.0 }, { dtype = 'float64' }),
        label_smoothing = 0.2, ignore_index = 2 })
    end, { 4, 3 } },
    { 'cross_entropy none, spatial', function(x)
      return F.cross_entropy(x, torch.tensor { { 1, 2 }, { 3, 1 } }, { reduction = 'none', label_smoothing = 0.1 })
    end, { 2, 3, 2 } },
    { 'cross_entropy sum, unbatched', function(x) return F.cross_entropy(x, torch.tensor(2), { reduction = 'sum' }) end,
      { 3 } },
    { 'nll_loss of log_softmax', function(x)
      return F.nll_loss(F.log_softmax(x, 2), t3, { weight = torch.tensor({ 1.0, 3.0, 0.5 }, { dtype = 'float64' }) })
    end, { 4, 3 } },
    { 'nll_loss none', function(x) return F.nll_loss(x * x, t3, { reduction = 'none' }) end, { 4, 3 } },
  }
  for _, c in ipairs(ggcases) do
    it(c[1] .. ': gradgradcheck', function()
      assert.is_true(ggc(c[2], { x64(table.unpack(c[3])) }))
    end)
  end

  it('cross_entropy Hessian-vector product matches the composed formula', function()
    local x = x64(3, 4)
    local t = torch.tensor { 2, 4, 1 }
    local v = torch.randn(3, 4, { dtype = 'float64' })
    local function hvp(f)
      local g = torch.autograd.grad({ f(x) }, { x }, { create_graph = true })
      g = g[1] or g
      local h = torch.autograd.grad({ (g * v):sum() }, { x })
      return h[1] or h
    end
    local fused = hvp(function(a) return F.cross_entropy(a, t, { label_smoothing = 0.3 }) end)
    local composed = hvp(function(a)
      local lp = F.log_softmax(a, 2)
      local nll = -lp:gather(2, t:view(3, 1)):mean()
      return nll * 0.7 + (-lp:mean(2)):mean() * 0.3
    end)
    H.assert_close(fused, composed, { atol = 1e-12, rtol = 1e-10 })
  end)
end)

describe('nn.functional embedding', function()
  before_each(function() torch.set_grad_enabled(true) end)
  it('looks up 1-based rows; the padding row gets no gradient', function()
    local w = torch.randn(6, 3, { requires_grad = true })
    local idx = torch.tensor { { 1, 2, 6 }, { 2, 2, 4 } }
    local e = F.embedding(idx, w, { padding_idx = 2 })
    assert.same({ 2, 3, 3 }, e:size())
    H.assert_close(e[1][3], w[6]:detach())
    H.assert_close(e[2][1], w[2]:detach())
    e:backward(torch.ones(2, 3, 3))
    H.assert_close(w.grad, { { 1, 1, 1 }, { 0, 0, 0 }, { 0, 0, 0 }, { 1, 1, 1 }, { 0, 0, 0 }, { 1, 1, 1 } })
    assert.is_true(torch.autograd.gradcheck(function(v) return F.embedding(idx, v) end,
      { torch.randn(6, 3, { dtype = 'float64', requires_grad = true }) }))
  end)

  it('renormalises referenced rows to max_norm', function()
    local w = torch.tensor { { 3.0, 4.0 }, { 0.3, 0.4 }, { 6.0, 8.0 } }
    local e = F.embedding(torch.tensor { 1, 2 }, w, { max_norm = 1 })
    H.assert_close(e, { { 0.6, 0.8 }, { 0.3, 0.4 } }, { rtol = 1e-6 })
    H.assert_close(w[3], { 6, 8 }) -- not referenced: untouched
  end)

  it('checks indices', function()
    local w = torch.randn(5, 2)
    H.assert_error(function() F.embedding(torch.tensor { 1, 6 }, w) end, 'embedding: index 6 is out of range 1..5')
    H.assert_error(function() F.embedding(torch.tensor { 0 }, w) end, 'embedding: index 0 is out of range 1..5')
    H.assert_error(function() F.embedding(torch.tensor { 1.0 }, w) end, 'embedding: expected integer (int64) indices')
  end)

  it('one_hot uses 1-based labels', function()
    H.assert_close(F.one_hot(torch.tensor { 1, 3 }, 3), { { 1, 0, 0 }, { 0, 0, 1 } })
  end)
end)
