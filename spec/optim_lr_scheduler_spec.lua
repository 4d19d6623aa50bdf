-- optim.lr_scheduler: learning-rate (and momentum) sequences against PyTorch's
-- (spec/fixtures/optim_sched.lua from scripts/fixtures/gen_optim_sched.py), state_dict
-- round trips in the middle of a run, argument errors. The optimizer is a stand-in
-- (param_groups and a step method), so these specs do not depend on optim's optimizers.
local torch = require 'torch'
local optim = require 'optim'
local H = require 'spec.support.helpers'

local S = optim.lr_scheduler
local F = H.fixture('optim_sched')

local LAMBDAS = {
  pow95 = function(e) return 0.95 ^ e end,
  inv = function(e) return 1.0 / (e + 1) end,
  const9 = function() return 0.9 end,
  alt = function(e) return e % 2 == 0 and 0.95 or 1.0 end,
}

local function standin(lrs, kind)
  local groups = {}
  for i, lr in ipairs(lrs) do
    groups[i] = kind == 'adam' and { lr = lr, betas = { 0.9, 0.999 }, eps = 1e-8 } or { lr = lr, momentum = 0.9 }
  end
  local defaults = kind == 'adam' and { lr = lrs[1], betas = { 0.9, 0.999 } } or { lr = lrs[1], momentum = 0.9 }
  return { param_groups = groups, defaults = defaults, step = function() end }
end

local function copy(v)
  if type(v) ~= 'table' then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = copy(x) end
  return r
end

local function build(opt, spec)
  local o = copy(spec.opts or {})
  if o.lambdas then
    local fs = {}
    for i, n in ipairs(o.lambdas) do fs[i] = LAMBDAS[n] end
    o.lambdas, o.lr_lambda = nil, fs
  end
  if o.schedulers then
    local kids = {}
    for i, k in ipairs(o.schedulers) do kids[i] = build(opt, k) end
    if spec.sched == 'ChainedScheduler' then return S.ChainedScheduler(kids) end
    o.schedulers = kids
  end
  return S[spec.sched](opt, o)
end

local function close(got, exp, what)
  for i = 1, #exp do
    local g, e = got[i], exp[i]
    if not (type(g) == 'number' and math.abs(g - e) <= 1e-12 * math.abs(e) + 1e-300) then
      error(('%s group %d: got %s, expected %.17g'):format(what, i, tostring(g), e), 2)
    end
  end
  assert(#got == #exp, what .. ': group count')
end

local function momentums(opt, key)
  local r = {}
  for i, g in ipairs(opt.param_groups) do r[i] = key == 'betas' and g.betas[1] or g.momentum end
  return r
end

local function lrs_of(opt)
  local r = {}
  for i, g in ipairs(opt.param_groups) do r[i] = g.lr end
  return r
end

local function advance(case, sched, opt, i)
  if case.scale_at == i then
    for _, g in ipairs(opt.param_groups) do g.lr = g.lr * case.scale end
  end
  opt:step()
  if case.metrics then
    sched:step(case.metrics[i])
  elseif case.epochs then
    sched:step(case.epochs[i])
  else
    sched:step()
  end
end

local function check_step(case, sched, opt, i, name)
  close(lrs_of(opt), case.lrs[i + 1], ('%s step %d lr'):format(name, i))
  close(sched:get_last_lr(), case.lrs[i + 1], ('%s step %d get_last_lr'):format(name, i))
  if case.momentum then
    close(momentums(opt, case.momentum), case.momentums[i + 1], ('%s step %d momentum'):format(name, i))
  end
end

describe('optim.lr_scheduler sequences match PyTorch', function()
  local names = {}
  for name in pairs(F) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local case = F[name]
    it(name, function()
      local opt = standin(case.groups, case.optimizer)
      local sched = build(opt, case)
      check_step(case, sched, opt, 0, name)
      for i = 1, #case.lrs - 1 do
        advance(case, sched, opt, i)
        check_step(case, sched, opt, i, name)
      end
    end)

    it(name .. ': state_dict round trip mid-run continues identically', function()
      local opt = standin(case.groups, case.optimizer)
      local sched = build(opt, case)
      local stop = (#case.lrs - 1) // 2 + 1
      for i = 1, stop do advance(case, sched, opt, i) end
      local sd = sched:state_dict()
      assert.is_nil(sd.optimizer)
      local saved_groups = copy(opt.param_groups)
      -- run the original on: the saved dict must not change
      advance(case, sched, opt, stop + 1)
      -- a fresh optimizer and scheduler, resumed as a checkpoint would be
      local opt2 = standin(case.groups, case.optimizer)
      local sched2 = build(opt2, case)
      sched2:load_state_dict(sd)
      opt2.param_groups = copy(saved_groups)
      for i = stop + 1, #case.lrs - 1 do
        advance(case, sched2, opt2, i)
        check_step(case, sched2, opt2, i, name .. ' resumed')
      end
    end)
  end
end)

describe('optim.lr_scheduler API', function()
  it('sets initial_lr and performs the initial step', function()
    local opt = standin({ 0.1, 0.2 })
    local s = S.StepLR(opt, { step_size = 2, gamma = 0.5 })
    assert.equal(0, s.last_epoch)
    assert.equal(0.1, opt.param_groups[1].initial_lr)
    assert.same({ 0.1, 0.2 }, s:get_last_lr())
    s:step(); s:step()
    assert.equal(2, s.last_epoch)
    assert.same({ 0.05, 0.1 }, s:get_last_lr())
  end)

  it('accepts positional arguments in PyTorch order', function()
    local a, b = standin({ 0.1 }), standin({ 0.1 })
    local s1 = S.StepLR(a, 3, 0.5)
    local s2 = S.StepLR(b, { step_size = 3, gamma = 0.5 })
    for _ = 1, 7 do s1:step(); s2:step() end
    assert.same(s1:get_last_lr(), s2:get_last_lr())
    local c = standin({ 0.1 })
    local s3 = S.MultiStepLR(c, { 2, 4 }, { gamma = 0.1 })
    for _ = 1, 4 do s3:step() end
    assert.is_true(math.abs(c.param_groups[1].lr - 0.001) < 1e-15)
    local p = standin({ 1.0 })
    local r = S.ReduceLROnPlateau(p, 'max', 0.5, 0)
    r:step(1); r:step(1)
    assert.equal(0.5, p.param_groups[1].lr)
  end)

  it('ReduceLROnPlateau takes a tensor metric', function()
    local p = standin({ 1.0 })
    local r = S.ReduceLROnPlateau(p, { patience = 0 })
    r:step(torch.tensor(1.0)); r:step(torch.tensor(2.0))
    assert.equal(0.1, p.param_groups[1].lr)
    assert.same({ 0.1 }, r:get_last_lr())
  end)

  it('LambdaLR saves callable objects\' fields, not functions', function()
    local counter = setmetatable({ k = 0.5 }, { __call = function(self, e) return self.k ^ e end })
    local opt = standin({ 0.1, 0.2 })
    local s = S.LambdaLR(opt, { lr_lambda = { counter, function() return 1 end } })
    local sd = s:state_dict()
    assert.same({ { k = 0.5 }, false }, sd.lr_lambdas)
    counter.k = 0.1
    s:load_state_dict(sd)
    assert.equal(0.5, counter.k)
  end)

  it('CosineAnnealingWarmRestarts interleaves step() and step(epoch)', function()
    local opt = standin({ 0.1 })
    local s = S.CosineAnnealingWarmRestarts(opt, { T_0 = 10 })
    for _ = 1, 20 do s:step() end
    s:step(26)
    assert.equal(26, s.last_epoch)
    s:step()
    assert.equal(27, s.last_epoch)
    assert.is_true(math.abs(opt.param_groups[1].lr - (0.1 * (1 + math.cos(math.pi * 7 / 10)) / 2)) < 1e-15)
  end)

  it('reports bad arguments with the option name', function()
    local opt = standin({ 0.1 })
    H.assert_error(function() S.StepLR(opt, { step_size = 3, gama = 0.5 }) end, "StepLR: unknown option 'gama' (did you mean 'gamma'?)")
    H.assert_error(function() S.StepLR(opt, {}) end, 'StepLR: step_size is required')
    H.assert_error(function() S.StepLR({}, { step_size = 1 }) end, 'expected an optimizer')
    H.assert_error(function() S.ConstantLR(opt, { factor = 2 }) end, 'between 0 and 1')
    H.assert_error(function() S.LinearLR(opt, { start_factor = 0 }) end, 'greater than 0')
    H.assert_error(function() S.LambdaLR(standin({ 0.1, 0.2 }), { lr_lambda = { LAMBDAS.inv } }) end, 'expected 2 lr_lambdas, but got 1')
    H.assert_error(function() S.CyclicLR(opt, { base_lr = 0.1, max_lr = 1, mode = 'tri' }) end, "mode 'tri' is invalid")
    H.assert_error(function() S.CyclicLR({ param_groups = { { lr = 1 } } }, { base_lr = 0.1, max_lr = 1 }) end, 'must support momentum')
    H.assert_error(function() S.CyclicLR(opt, { base_lr = { 0.1, 0.2 }, max_lr = 1 }) end, 'expected 1 values for base_lr, got 2')
    H.assert_error(function() S.OneCycleLR(opt, { max_lr = 1 }) end, 'total_steps')
    H.assert_error(function() S.OneCycleLR(opt, { max_lr = 1, total_steps = 10, anneal_strategy = 'exp' }) end, 'anneal_strategy')
    H.assert_error(function()
      local s = S.OneCycleLR(standin({ 0.1 }), { max_lr = 1, total_steps = 2 })
      s:step(); s:step(); s:step()
    end, 'tried to step 3 times')
    H.assert_error(function() S.ReduceLROnPlateau(opt, { factor = 1 }) end, 'factor should be < 1.0')
    H.assert_error(function() S.ReduceLROnPlateau(opt, { mode = 'mid' }) end, "mode 'mid' is unknown")
    H.assert_error(function() S.ReduceLROnPlateau(opt, { threshold_mode = 'x' }) end, "threshold mode 'x' is unknown")
    H.assert_error(function() S.ReduceLROnPlateau(opt, { min_lr = { 1, 2 } }) end, 'expected 1 min_lrs, got 2')
    H.assert_error(function() S.ReduceLROnPlateau(opt):step('x') end, 'step expects the metric')
    H.assert_error(function() S.StepLR(standin({ 0.1 }), { step_size = 1, last_epoch = 3 }) end, "param 'initial_lr' is not specified in param_groups[1]")
    local a = S.ConstantLR(opt)
    H.assert_error(function() S.SequentialLR(opt, { schedulers = { a }, milestones = { 1 } }) end, 'one more than the number of milestone points')
    H.assert_error(function() S.SequentialLR(opt, { schedulers = { S.ConstantLR(standin({ 1 })) }, milestones = {} }) end, 'same optimizer')
    H.assert_error(function() S.CosineAnnealingWarmRestarts(opt, { T_0 = 0 }) end, 'T_0 must be at least 1')
    H.assert_error(function() S.CosineAnnealingWarmRestarts(opt, { T_0 = 2 }):step(-1) end, 'expected non-negative epoch')
  end)
end)
