-- Torch7's functional optim (optim.sgd, adam, adagrad, rmsprop, lbfgs, cg) and
-- nn.Module:getParameters. Torch7 is not available: the reference trajectories in
-- spec/fixtures/optim_functional.lua are Torch7's update rules re-implemented in plain
-- Python float64 by scripts/fixtures/gen_optim_sched.py, on a fixed quadratic.
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'
local H = require 'spec.support.helpers'

local F = H.fixture('optim_functional')

local function quadratic()
  local A = torch.tensor(F.A, { dtype = 'float64' })
  local B = torch.tensor(F.B, { dtype = 'float64' })
  local evals = 0
  local g = torch.zeros(#F.A, { dtype = 'float64' })
  return function(x)
    evals = evals + 1
    local f = ((A * x * x) * 0.5 + B * x):sum():item()
    g:copy_(A * x + B) -- the same gradient tensor each time, as getParameters' is
    return f, g
  end
end

local function rosenbrock(x)
  local a, b = x[1], x[2]
  local f = (1 - a) ^ 2 + 100 * (b - a * a) ^ 2
  local g = torch.tensor({ -2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a) }, { dtype = 'float64' })
  return f, g
end

local function tensorize(cfg)
  local c = {}
  for k, v in pairs(cfg) do
    c[k] = type(v) == 'table' and torch.tensor(v, { dtype = 'float64' }) or v
  end
  return c
end

describe('Torch7 functional optim: trajectories on a quadratic', function()
  local names = {}
  for name, case in pairs(F) do if type(case) == 'table' and case.fn then names[#names + 1] = name end end
  table.sort(names)
  for _, name in ipairs(names) do
    local case = F[name]
    it(name, function()
      local x = torch.tensor(F.x0, { dtype = 'float64' })
      local feval = quadratic()
      local config = tensorize(case.config)
      for step = 1, #case.xs do
        local xr, fs = optim[case.fn](feval, x, config)
        assert.is_true(rawequal(xr, x))
        assert.is_true(math.abs(fs[1] - case.fs[step]) <= 1e-12 * math.abs(case.fs[step]) + 1e-14,
          ('step %d: f %.17g, expected %.17g'):format(step, fs[1], case.fs[step]))
        H.assert_close(x, case.xs[step], { rtol = 1e-12, atol = 1e-14, ignore_dtype = true })
      end
    end)
  end

  it('learningRates and weightDecays may be Lua lists', function()
    local case = F.sgd_lrs_wds
    local x = torch.tensor(F.x0, { dtype = 'float64' })
    local feval = quadratic()
    for _ = 1, #case.xs do optim.sgd(feval, x, case.config) end
    H.assert_close(x, case.xs[#case.xs], { rtol = 1e-12, atol = 1e-14, ignore_dtype = true })
  end)

  it('keeps its state in the separate state table when given', function()
    local x = torch.tensor(F.x0, { dtype = 'float64' })
    local config, state = { learningRate = 0.1 }, {}
    optim.adam(quadratic(), x, config, state)
    assert.equal(1, state.t)
    assert.is_nil(config.t)
  end)

  it('reports bad arguments', function()
    local x = torch.zeros(2, { dtype = 'float64' })
    H.assert_error(function() optim.sgd(nil, x) end, 'sgd: expected feval')
    H.assert_error(function() optim.adam(rosenbrock, {}) end, 'adam: expected a parameter tensor')
    H.assert_error(function() optim.sgd(rosenbrock, x, { nesterov = true }) end, 'Nesterov momentum requires a momentum and zero dampening')
    H.assert_error(function() optim.rmsprop(function() return 1 end, x) end, 'feval must return f')
    H.assert_error(function() optim.lbfgs(rosenbrock, x, { lineSearch = 'wolfe' }) end, 'lineSearch must be a function')
  end)
end)

describe('Torch7 functional optim: Rosenbrock', function()
  it('lbfgs with optim.lswolfe reaches {1, 1}', function()
    local x = torch.tensor({ -1.2, 1.0 }, { dtype = 'float64' })
    local _, fs, evals = optim.lbfgs(rosenbrock, x, { maxIter = 100, lineSearch = optim.lswolfe, tolFun = 1e-12, tolX = 1e-14 })
    H.assert_close(x, { 1, 1 }, { rtol = 0, atol = 1e-6, ignore_dtype = true })
    assert.is_true(fs[#fs] < 1e-10 and fs[#fs] < fs[1])
    assert.is_true(evals > 1)
  end)

  it('lbfgs with a fixed step reaches {1, 1}', function()
    local x = torch.tensor({ 0.5, 0.5 }, { dtype = 'float64' })
    local state = {}
    for _ = 1, 20 do optim.lbfgs(rosenbrock, x, { maxIter = 50, learningRate = 0.5 }, state) end
    H.assert_close(x, { 1, 1 }, { rtol = 0, atol = 1e-4, ignore_dtype = true })
  end)

  it('cg reaches {1, 1}', function()
    local x = torch.tensor({ -1.2, 1.0 }, { dtype = 'float64' })
    local _, fs, evals = optim.cg(rosenbrock, x, { maxIter = 200 })
    H.assert_close(x, { 1, 1 }, { rtol = 0, atol = 1e-6, ignore_dtype = true })
    assert.is_true(fs[#fs] < 1e-10)
    assert.is_true(evals <= 250)
  end)
end)

describe('nn.Module:getParameters', function()
  local function net()
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
  end

  it('flattens every parameter, and the parameters view the flat tensor', function()
    local m = net()
    local w1 = m[1].weight
    local before = {}
    for i, p in ipairs(m:parameters()) do before[i] = p:clone() end
    local params, grads = m:getParameters()
    assert.equal(3 * 4 + 4 + 4 * 2 + 2, params:numel())
    assert.equal(params:numel(), grads:numel())
    assert.equal(1, params:dim())
    assert.is_true(rawequal(w1, m[1].weight))
    local ps = m:parameters()
    local off = 0
    for i, p in ipairs(ps) do
      assert.is_true(p.is_leaf and p.requires_grad)
      assert.is_true(nn.is_parameter(p))
      H.assert_close(p, before[i]) -- values kept
      H.assert_close(params:narrow(1, off + 1, p:numel()), before[i]:reshape(-1))
      off = off + p:numel()
    end
    params:fill_(0.5)
    for _, p in ipairs(ps) do H.assert_close(p, torch.full(p:size(), 0.5)) end
    params[1] = 2.0
    assert.equal(2.0, m[1].weight[1][1]:item())
  end)

  it('backward fills the flat gradient; a functional step moves the module', function()
    local m = net()
    local params, grads = m:getParameters()
    local x = torch.randn(5, 3)
    m(x):sum():backward()
    local off = 0
    for _, p in ipairs(m:parameters()) do
      H.assert_close(grads:narrow(1, off + 1, p:numel()), p.grad:reshape(-1))
      off = off + p:numel()
    end
    assert.is_true(grads:abs():sum():item() > 0)
    local b = m[3].bias:clone()
    local function feval()
      grads:zero_()
      local loss = m(x):pow(2):sum()
      loss:backward()
      return loss:item(), grads
    end
    local _, fs = optim.sgd(feval, params, { learningRate = 0.01 })
    local g3 = grads:narrow(1, params:numel() - 1, 2)
    H.assert_close(m[3].bias, b - g3 * 0.01)
    local _, fs2 = optim.sgd(feval, params, { learningRate = 0.01 })
    assert.is_true(fs2[1] < fs[1])
  end)

  it('keeps existing gradients and can be called twice', function()
    local m = net()
    local x = torch.randn(2, 3)
    m(x):sum():backward()
    local g = m[1].weight.grad:clone()
    local p1 = m:getParameters()
    local p2, g2 = m:getParameters()
    H.assert_close(g2:narrow(1, 1, 12), g:reshape(-1))
    H.assert_close(p2, p1)
    m(x):sum():backward()
    H.assert_close(g2:narrow(1, 1, 12), (g * 2):reshape(-1))
    p2:zero_()
    assert.equal(0, m[1].weight:abs():sum():item())
  end)

  it('returns empty tensors for a module without parameters', function()
    local p, g = nn.Tanh():getParameters()
    assert.equal(0, p:numel())
    assert.equal(0, g:numel())
  end)
end)

describe('tensor:set_', function()
  it('makes a tensor view another storage in place', function()
    local flat = torch.arange(1, 7, { dtype = 'float32' })
    local t = torch.zeros(2, 2)
    t:set_(flat, 2, { 2, 2 })
    H.assert_close(t, { { 3, 4 }, { 5, 6 } })
    flat[3] = 10
    assert.equal(10, t[1][1])
    local u = torch.zeros(1)
    u:set_(flat)
    assert.equal(6, u:numel())
    t:set_(flat, 0, { 2 }, { 3 })
    H.assert_close(t, { 1, 4 })
  end)

  it('reports bad arguments', function()
    local flat = torch.zeros(4)
    H.assert_error(function() torch.zeros(2):set_(flat, 3, { 2 }) end, 'needs 5 elements but the storage holds 4')
    H.assert_error(function() torch.zeros(2):set_(torch.zeros(4, { dtype = 'float64' })) end, 'set_: the source has dtype float64')
    H.assert_error(function() torch.zeros(2):set_(flat, 0, { -1 }) end, 'sizes must be non-negative')
    H.assert_error(function() torch.zeros(2):set_(flat, 0, { 2 }, { 1, 1 }) end, '1 sizes but 2 strides')
    local p = torch.zeros(2, { requires_grad = true })
    H.assert_error(function() p:set_(flat) end, 'wrap the call in torch.no_grad')
    H.assert_error(function() (p * 2):set_(flat) end, 'not a leaf')
  end)
end)
