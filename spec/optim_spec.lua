-- optim against PyTorch fixtures (scripts/fixtures/gen_optim.py): 20-step parameter
-- trajectories of every optimizer and every option that changes the math on a fixed
-- least-squares problem (W (3,2), b (2), gradients by autograd); two parameter groups;
-- lr changed between steps; state_dict save/resume bit-identical; LBFGS on the
-- Rosenbrock function; the tutorial's linear regression; the construction errors.
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'
local H = require 'spec.support.helpers'

local fx = H.fixture('optim')
local X, Y = H.tensor(fx.X), H.tensor(fx.Y)

local function make_params()
  return { H.tensor(fx.W0):requires_grad_(), H.tensor(fx.B0):requires_grad_() }
end

local function loss_fn(W, b)
  return ((X:mm(W) + b - Y) ^ 2):mean()
end

local function one_step(opt, params)
  opt:zero_grad()
  loss_fn(params[1], params[2]):backward()
  opt:step()
end

-- rtol 1e-6 plus atol 1e-6: the optimizers' math follows PyTorch's op order, but the
-- gradients come from Ember's autograd, whose float32 roundings (mm, mean) differ
-- from PyTorch's by an ulp; over 20 steps that reaches ~1e-6 relative on elements
-- crossing zero or on diverging (maximize) runs.
local RTOL, ATOL = 1e-6, 1e-6

local function check_traj(make_opt, traj, lr_change)
  local params = make_params()
  local opt = make_opt(params)
  for i, expected in ipairs(traj) do
    if lr_change and i == lr_change.at then
      for _, g in ipairs(opt.param_groups) do g.lr = lr_change.lr end
    end
    one_step(opt, params)
    H.assert_close(params[1], expected[1], { rtol = RTOL, atol = ATOL })
    H.assert_close(params[2], expected[2], { rtol = RTOL, atol = ATOL })
  end
end

local function opts_str(o)
  local keys = {}
  for k in pairs(o) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local v = o[k]
    if type(v) == 'table' then v = '{' .. table.concat(v, ',') .. '}' end
    parts[i] = k .. '=' .. tostring(v)
  end
  return '{' .. table.concat(parts, ', ') .. '}'
end

describe('optim trajectories match PyTorch (float32, rtol 1e-6)', function()
  for i = 1, #fx.cases do
    local c = fx.cases[i]
    it(c.name .. ' ' .. opts_str(c.opts), function()
      check_traj(function(params) return optim[c.name](params, c.opts) end, c.traj)
    end)
  end

  it('SGD with two parameter groups of different lr', function()
    check_traj(function(params)
      return optim.SGD({ { params = { params[1] } }, { params = { params[2] }, lr = 0.2 } }, { lr = 0.05, momentum = 0.9 })
    end, fx.groups.traj)
  end)

  it('Adam with lr changed between steps', function()
    local c = fx.lr_change
    check_traj(function(params) return optim[c.name](params, c.opts) end, c.traj, { at = c.at, lr = c.lr })
  end)
end)

describe('optim state_dict', function()
  local configs = {
    { 'SGD', { lr = 0.05, momentum = 0.9, nesterov = true } },
    { 'Adam', { lr = 0.05, amsgrad = true } },
    { 'AdamW', { lr = 0.05 } },
    { 'Adamax', { lr = 0.05 } },
    { 'NAdam', { lr = 0.05 } },
    { 'RAdam', { lr = 0.05 } },
    { 'RMSprop', { lr = 0.01, momentum = 0.9, centered = true } },
    { 'Adagrad', { lr = 0.1, lr_decay = 0.01 } },
    { 'Adadelta', {} },
    { 'ASGD', { lr = 0.05, t0 = 3 } },
    { 'Rprop', { lr = 0.05 } },
  }
  for _, cfg in ipairs(configs) do
    it(cfg[1] .. ': save at step 10, load into a new optimizer, steps 11..20 are bit-identical', function()
      local pa = make_params()
      local oa = optim[cfg[1]](pa, cfg[2])
      for _ = 1, 20 do one_step(oa, pa) end

      local pb = make_params()
      local ob = optim[cfg[1]](pb, cfg[2])
      for _ = 1, 10 do one_step(ob, pb) end
      local sd = ob:state_dict()
      local saved = { pb[1]:detach():clone(), pb[2]:detach():clone() }
      -- the dict holds copies: more steps do not change it
      one_step(ob, pb)

      local pc = { saved[1]:clone():requires_grad_(), saved[2]:clone():requires_grad_() }
      local oc = optim[cfg[1]](pc, { lr = 123 })
      oc:load_state_dict(sd)
      assert.are.equal(cfg[2].lr or oa.defaults.lr, oc.param_groups[1].lr)
      for _ = 11, 20 do one_step(oc, pc) end
      assert.is_true(torch.equal(pa[1], pc[1]))
      assert.is_true(torch.equal(pa[2], pc[2]))
    end)
  end

  it('uses PyTorch\'s layout: state by parameter position, groups with position lists', function()
    local p = make_params()
    local o = optim.SGD({ { params = { p[1] } }, { params = { p[2] }, lr = 0.5 } }, { lr = 0.1, momentum = 0.9 })
    one_step(o, p)
    local sd = o:state_dict()
    assert.are.same({ 1 }, sd.param_groups[1].params)
    assert.are.same({ 2 }, sd.param_groups[2].params)
    assert.are.equal(0.5, sd.param_groups[2].lr)
    assert.is_true(torch.isTensor(sd.state[1].momentum_buffer))
    assert.are.same({ 2 }, sd.state[2].momentum_buffer:size())
  end)

  it('casts state tensors to the parameter dtype and checks the group sizes', function()
    local p = { torch.ones(3, { dtype = 'float64', requires_grad = true }) }
    local o = optim.Adam(p, { lr = 0.1 })
    local sd = { state = { [1] = { step = 2, exp_avg = torch.ones(3), exp_avg_sq = torch.ones(3) } },
      param_groups = { { params = { 1 }, lr = 0.1, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0,
        amsgrad = false, maximize = false } } }
    o:load_state_dict(sd)
    assert.are.equal('float64', o.state[p[1]].exp_avg.dtype)
    local two = { torch.ones(2, { requires_grad = true }), torch.ones(2, { requires_grad = true }) }
    local o2 = optim.Adam(two)
    H.assert_error(function() o2:load_state_dict(sd) end, "doesn't match the size")
    H.assert_error(function() o2:load_state_dict({ state = {}, param_groups = {} }) end, 'parameter groups')
  end)
end)

describe('optim.Optimizer', function()
  it('skips parameters without a gradient and returns the closure loss', function()
    local a, b = torch.ones(2, { requires_grad = true }), torch.ones(2, { requires_grad = true })
    local o = optim.SGD({ a, b }, { lr = 0.5 })
    local loss = o:step(function()
      o:zero_grad()
      local l = (a * a):sum()
      l:backward()
      return l
    end)
    assert.are.equal(2, loss:item())
    H.assert_close(a, { 0, 0 })
    H.assert_close(b, { 1, 1 })
  end)

  it('runs the closure with grad enabled even inside no_grad', function()
    local a = torch.ones(2, { requires_grad = true })
    local o = optim.SGD({ a }, { lr = 0.5 })
    torch.no_grad(function()
      o:step(function() o:zero_grad(); local l = (a * a):sum(); l:backward(); return l end)
    end)
    H.assert_close(a, { 0, 0 })
  end)

  it('zero_grad sets grads to nil by default, zeroes them with set_to_none=false', function()
    local a = torch.ones(2, { requires_grad = true })
    local o = optim.SGD({ a }, { lr = 0.1 })
    ;(a * 2):sum():backward()
    o:zero_grad({ set_to_none = false })
    H.assert_close(a.grad, { 0, 0 })
    o:zero_grad()
    assert.is_nil(a.grad)
  end)

  it('updates without recording history and bumps the version counter', function()
    local a = torch.ones(4, { requires_grad = true })
    local o = optim.Adam({ a }, { lr = 0.1 })
    local y = a * a -- saves a for backward
    ;(a * 3):sum():backward()
    o:step()
    assert.is_true(a.is_leaf)
    assert.is_nil(a.grad_fn)
    assert.has_error(function() y:sum():backward() end)
  end)

  it('add_param_group adds a group with the defaults filled in', function()
    local a, b = torch.ones(2, { requires_grad = true }), torch.ones(2, { requires_grad = true })
    local o = optim.SGD({ a }, { lr = 0.1, momentum = 0.9 })
    o:add_param_group({ params = { b }, lr = 0.01 })
    assert.are.equal(2, #o.param_groups)
    assert.are.equal(0.01, o.param_groups[2].lr)
    assert.are.equal(0.9, o.param_groups[2].momentum)
    H.assert_error(function() o:add_param_group({ params = { a } }) end, 'more than one parameter group')
  end)

  it('accepts a filtered parameter list (freezing)', function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    net[1].weight.requires_grad = false
    net[1].bias.requires_grad = false
    local ps = {}
    for _, p in ipairs(net:parameters()) do if p.requires_grad then ps[#ps + 1] = p end end
    local o = optim.SGD(ps, { lr = 0.1 })
    local w0 = net[1].weight:clone()
    o:zero_grad()
    net(torch.ones(3, 2)):sum():backward()
    o:step()
    assert.is_true(torch.equal(w0, net[1].weight))
  end)

  it('raises clear errors', function()
    local a = torch.ones(2, { requires_grad = true })
    H.assert_error(function() optim.SGD({ a }, { learning_rate = 0.1 }) end,
      "SGD: unknown option 'learning_rate' (did you mean 'lr'?)")
    H.assert_error(function() optim.Adam({ a }, { beta = { 0.9, 0.99 } }) end, "(did you mean 'betas'?)")
    H.assert_error(function() optim.SGD({ a, a }, { lr = 0.1 }) end, 'appears twice')
    H.assert_error(function() optim.SGD({ { params = { a } }, { params = { a } } }, { lr = 0.1 }) end,
      'more than one parameter group')
    H.assert_error(function() optim.SGD({ a * 2 }, { lr = 0.1 }) end, 'non-leaf')
    H.assert_error(function() optim.SGD({ a, "x" }, { lr = 0.1 }) end, "not a tensor")
    H.assert_error(function() optim.SGD(a, { lr = 0.1 }) end, 'single tensor')
    H.assert_error(function() optim.SGD({}, { lr = 0.1 }) end, 'empty parameter list')
    H.assert_error(function() optim.SGD({ a }, { lr = -1 }) end, 'invalid lr value: -1')
    H.assert_error(function() optim.SGD({ a }, { lr = 0.1, nesterov = true }) end, 'Nesterov momentum requires')
    H.assert_error(function() optim.SGD({ a }, { lr = 0.1, momentum = 0.9, dampening = 0.1, nesterov = true }) end,
      'Nesterov momentum requires')
    H.assert_error(function() optim.Adam({ a }, { betas = { 1.0, 0.999 } }) end, 'invalid beta parameter at index 1')
    H.assert_error(function() optim.Adam({ a }, { betas = { 0.9, -0.1 } }) end, 'invalid beta parameter at index 2')
    H.assert_error(function() optim.Adam({ a }, { eps = -1 }) end, 'invalid eps value')
    H.assert_error(function() optim.RMSprop({ a }, { momentum = -1 }) end, 'invalid momentum value')
    H.assert_error(function() optim.Rprop({ a }, { etas = { 1.5, 1.2 } }) end, 'invalid eta values')
    H.assert_error(function() optim.Adadelta({ a }, { rho = 1.5 }) end, 'invalid rho value')
    H.assert_error(function() optim.LBFGS({ a }, { line_search_fn = 'backtracking' }) end, "'strong_wolfe'")
    H.assert_error(function() optim.LBFGS({ { params = { a } }, { params = { torch.ones(1, { requires_grad = true }) } } }) end,
      "doesn't support per-parameter options")
    H.assert_error(function() optim.LBFGS({ a }):step() end, 'needs a closure')
  end)

  it('fused kernels reject mismatched tensors with clear errors', function()
    local p, g = torch.ones(3), torch.ones(4)
    H.assert_error(function() torch._sgd_step(p, g, nil, { lr = 0.1 }) end, 'does not match')
    H.assert_error(function() torch._sgd_step(p, p, nil, { lr = 0.1 }) end, 'shares memory')
    H.assert_error(function() torch._adam_step(p, torch.ones(3), torch.ones(3), torch.ones(3, { dtype = 'float64' }),
      nil, { lr = 0.1, beta1 = 0.9, beta2 = 0.99, eps = 1e-8, step = 1 }) end, 'float64')
    H.assert_error(function() torch._adagrad_step(torch.ones(3, { dtype = 'int64' }), torch.ones(3, { dtype = 'int64' }),
      torch.ones(3, { dtype = 'int64' }), { lr = 0.1, eps = 1e-10, step = 1 }) end, 'float32 or float64')
    H.assert_error(function() torch._adam_step(p, torch.ones(3), torch.ones(3), torch.ones(3), nil,
      { lr = 0.1, beta1 = 0.9, beta2 = 0.99, eps = 1e-8, step = 0 }) end, "'step' must be at least 1")
  end)

  it('float64 parameters use the float64 kernels', function()
    local p = torch.tensor({ 1.0, -2.0 }, { dtype = 'float64', requires_grad = true })
    local o = optim.SGD({ p }, { lr = 0.1, momentum = 0.9 })
    for _ = 1, 2 do o:zero_grad(); (p * p):sum():backward(); o:step() end
    -- step 1: buf = 2p, p = 0.8p; step 2: buf = 0.9*2p + 1.6p = 3.4p, p = 0.8p - 0.34p = 0.46p
    H.assert_close(p, { 0.46, -0.92 }, { rtol = 1e-12, atol = 0 })
    assert.are.equal('float64', o.state[p].momentum_buffer.dtype)
  end)
end)

describe('optim.LBFGS on the Rosenbrock function', function()
  local function rosenbrock(x)
    return (1 - x[1]) ^ 2 + 100 * (x[2] - x[1] ^ 2) ^ 2
  end
  for _, key in ipairs { 'plain', 'strong_wolfe' } do
    it(key .. ' ends where PyTorch does', function()
      local ref = fx.lbfgs[key]
      local x = torch.tensor({ -1.5, 2.0 }, { requires_grad = true })
      local o = optim.LBFGS({ x }, { lr = ref.lr, max_iter = 20,
        line_search_fn = key == 'strong_wolfe' and 'strong_wolfe' or nil })
      local function closure()
        o:zero_grad()
        local l = rosenbrock(x)
        l:backward()
        return l
      end
      -- the plain run (lr=0.1, no line search) does not converge and is chaotic: its first
      -- steps must agree; the strong-Wolfe run must follow PyTorch's path to the minimum
      local n = key == 'strong_wolfe' and #ref.path or 3
      for i = 1, n do
        o:step(closure)
        H.assert_close(x, ref.path[i], { rtol = 0, atol = 1e-3 })
      end
      if key == 'strong_wolfe' then
        assert.is_true(rosenbrock(x):item() < 1e-6)
      end
    end)
  end
end)

describe('optim tutorial programs', function()
  it('fits y = 2x with nn.Linear(1,1), SGD lr=0.01 and MSELoss{size_average=false}', function()
    torch.manual_seed(1)
    local model = nn.Linear(1, 1)
    local opt = optim.SGD(model:parameters(), { lr = 0.01 })
    local crit = nn.MSELoss({ size_average = false })
    local x = torch.tensor({ { 1.0 }, { 2.0 }, { 3.0 } })
    local y = torch.tensor({ { 2.0 }, { 4.0 }, { 6.0 } })
    for _ = 1, 2000 do
      opt:zero_grad()
      local loss = crit(model(x), y)
      loss:backward()
      opt:step()
    end
    assert.is_true(math.abs(model.weight:item() - 2) < 1e-2)
    assert.is_true(math.abs(model(torch.tensor({ { 4.0 } })):item() - 8) < 2e-2)
  end)
end)
