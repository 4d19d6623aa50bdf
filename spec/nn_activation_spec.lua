-- nn activations, Linear and Bilinear against PyTorch fixtures
-- (scripts/fixtures/gen_nn_activation.py): outputs, input gradients, parameter
-- gradients, modules and functional forms, gradcheck in float64, errors.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_activation')

-- name -> {functional form, module constructor} computing the fixture's function
local ACTS = {
  relu = { function(x) return F.relu(x) end, function() return nn.ReLU() end },
  relu6 = { function(x) return F.relu6(x * 2) end },
  leaky_relu = { function(x) return F.leaky_relu(x, 0.2) end, function() return nn.LeakyReLU(0.2) end },
  elu = { function(x) return F.elu(x, { alpha = 0.7 }) end, function() return nn.ELU(0.7) end },
  selu = { F.selu, nn.SELU },
  celu = { function(x) return F.celu(x, 1.5) end, function() return nn.CELU { alpha = 1.5 } end },
  gelu = { F.gelu, nn.GELU },
  gelu_tanh = { function(x) return F.gelu(x, { approximate = 'tanh' }) end,
    function() return nn.GELU { approximate = 'tanh' } end },
  silu = { F.silu, nn.SiLU },
  mish = { F.mish, nn.Mish },
  sigmoid = { F.sigmoid, nn.Sigmoid },
  tanh = { F.tanh, nn.Tanh },
  hardtanh = { function(x) return F.hardtanh(x, -2.0, 1.5) end, function() return nn.Hardtanh(-2.0, 1.5) end },
  hardsigmoid = { F.hardsigmoid, nn.Hardsigmoid },
  hardswish = { F.hardswish, nn.Hardswish },
  softplus = { function(x) return F.softplus(x, { beta = 2, threshold = 5 }) end, function() return nn.Softplus(2, 5) end },
  softsign = { F.softsign, nn.Softsign },
  softshrink = { function(x) return F.softshrink(x, 0.5) end, function() return nn.Softshrink(0.5) end },
  hardshrink = { function(x) return F.hardshrink(x) end, function() return nn.Hardshrink() end },
  tanhshrink = { F.tanhshrink, nn.Tanhshrink },
  threshold = { function(x) return F.threshold(x, 0.1, 20.0) end, function() return nn.Threshold(0.1, 20.0) end },
  logsigmoid = { F.logsigmoid, nn.LogSigmoid },
  softmax = { function(x) return F.softmax(x, 2) end, function() return nn.Softmax(2) end },
  log_softmax = { function(x) return F.log_softmax(x, 1) end, function() return nn.LogSoftmax { dim = 1 } end },
  softmin = { function(x) return F.softmin(x, 2) end, function() return nn.Softmin(2) end },
  glu = { function(x) return F.glu(x) end, function() return nn.GLU() end },
  rrelu_eval = { function(x) return F.rrelu(x, 0.1, 0.3) end, function() return nn.RReLU(0.1, 0.3):eval() end },
}

describe('nn activations match PyTorch', function()
  local names = {}
  for k in pairs(ACTS) do names[#names + 1] = k end
  table.sort(names)
  for _, name in ipairs(names) do
    local f, ctor = ACTS[name][1], ACTS[name][2]
    local c = fx[name]
    it(name .. ': forward and input gradient', function()
      assert(c, 'no fixture for ' .. name)
      local x = H.tensor(c.x):requires_grad_(true)
      local y = f(x)
      H.assert_close(y, c.y)
      y:backward(H.tensor(c.g))
      H.assert_close(x.grad, c.gx, { atol = 1e-5 })
    end)
    if ctor then
      it(name .. ': module form', function()
        local m = ctor()
        assert.is_true(nn.is_module(m))
        H.assert_close(m(H.tensor(c.x)), c.y)
        H.assert_close(m(H.noncontig(H.tensor(c.x))), c.y)
        assert.is_string(tostring(m))
      end)
    end
    it(name .. ': gradcheck in float64', function()
      local x = H.tensor(c.x):double():requires_grad_(true)
      assert.is_true(torch.autograd.gradcheck(f, { x }, { atol = 1e-5, rtol = 1e-3 }))
    end)
  end

  -- inplace=true writes into the input and returns it; gradients still match
  local INPLACE = {
    relu = function(x) return F.relu(x, { inplace = true }) end,
    leaky_relu = function(x) return F.leaky_relu(x, 0.2, true) end,
    elu = function(x) return F.elu(x, { alpha = 0.7, inplace = true }) end,
    selu = function(x) return F.selu(x, true) end,
    celu = function(x) return F.celu(x, { alpha = 1.5, inplace = true }) end,
    silu = function(x) return F.silu(x, true) end,
    mish = function(x) return F.mish(x, true) end,
    hardtanh = function(x) return F.hardtanh(x, -2.0, 1.5, true) end,
    hardsigmoid = function(x) return nn.Hardsigmoid(true)(x) end,
    hardswish = function(x) return nn.Hardswish { inplace = true }(x) end,
  }
  it('inplace=true writes into the input, with the same values and gradients', function()
    for name, f in pairs(INPLACE) do
      local c = fx[name]
      local leaf = H.tensor(c.x):requires_grad_(true)
      local x = leaf * 1
      local y = f(x)
      assert.is_true(rawequal(x, y), name)
      H.assert_close(x, c.y)
      y:backward(H.tensor(c.g))
      H.assert_close(leaf.grad, c.gx, { atol = 1e-5 })
      local plain = H.tensor(c.x)
      assert.is_true(rawequal(plain, f(plain)), name)
      H.assert_close(plain, c.y)
      H.assert_error(function() f(H.tensor(c.x):requires_grad_(true)) end, 'a leaf tensor that requires grad')
    end
  end)

  it('stays finite for large inputs', function()
    local c = fx.large
    local x = H.tensor(c.x)
    H.assert_close(F.softplus(x), c.softplus)
    H.assert_close(F.logsigmoid(x), c.logsigmoid)
    H.assert_close(F.softmax(x, 2), c.softmax)
    H.assert_close(F.log_softmax(x, 2), c.log_softmax)
    H.assert_close(F.sigmoid(x), c.sigmoid)
    H.assert_close(F.silu(x), c.silu)
    H.assert_close(F.elu(x), c.elu)
    H.assert_close(F.mish(x), c.mish)
    local xg = x:clone():requires_grad_(true)
    F.softplus(xg):sum():backward()
    assert.is_true(xg.grad:isfinite():all():item())
    local xe = x:clone():requires_grad_(true)
    F.elu(xe):sum():backward()
    assert.is_true(xe.grad:isfinite():all():item())
  end)

  it('PReLU: per-channel slopes, input and weight gradients', function()
    local c = fx.prelu
    local m = nn.PReLU(3)
    assert.are.equal(0.25, m.weight[1]:item())
    torch.no_grad(function() m.weight:copy_(H.tensor(c.w)) end)
    local x = H.tensor(c.x):requires_grad_(true)
    local y = m(x)
    H.assert_close(y, c.y)
    y:backward(H.tensor(c.g))
    H.assert_close(x.grad, c.gx)
    H.assert_close(m.weight.grad, c.gw)
    assert.are.equal('PReLU(num_parameters=3)', tostring(m))
    local w = H.tensor(c.w):double():requires_grad_(true)
    assert.is_true(torch.autograd.gradcheck(F.prelu, { H.tensor(c.x):double():requires_grad_(true), w }))
    H.assert_error(function() F.prelu(torch.randn(2, 4), torch.ones(3)) end, 'prelu: weight has 3 elements')
  end)

  it('RReLU samples slopes in [lower, upper] in training', function()
    local m = nn.RReLU(0.1, 0.3)
    local x = -torch.ones(1000)
    local y = m(x)
    assert.is_true(y:ge(-0.3):all():item() and y:le(-0.1):all():item())
    assert.is_true(y:std():item() > 0.01)
    m:eval()
    H.assert_close(m(x), torch.full({ 1000 }, -0.2))
  end)

  it('softmax picks PyTorch\'s implicit dim', function()
    local x = torch.randn(2, 3)
    H.assert_close(F.softmax(x), F.softmax(x, 2))
    local x3 = torch.randn(2, 3, 4)
    H.assert_close(nn.Softmax()(x3), F.softmax(x3, 1))
    H.assert_close(F.softmax(x:double(), 2, { dtype = 'float32' }), F.softmax(x, 2))
  end)

  it('prints like PyTorch', function()
    assert.are.equal('ReLU()', tostring(nn.ReLU()))
    assert.are.equal('ReLU(inplace=true)', tostring(nn.ReLU(true)))
    assert.are.equal('LeakyReLU(negative_slope=0.01)', tostring(nn.LeakyReLU()))
    assert.are.equal("GELU(approximate='none')", tostring(nn.GELU()))
    assert.are.equal('Hardtanh(min_val=-1.0, max_val=1.0)', tostring(nn.Hardtanh()))
    assert.are.equal('Softmax(dim=2)', tostring(nn.Softmax(2)))
    assert.are.equal('ELU(alpha=1.0)', tostring(nn.ELU()))
    assert.are.equal('Threshold(threshold=0.1, value=20.0)', tostring(nn.Threshold(0.1, 20.0)))
  end)

  it('errors name the function and the problem', function()
    H.assert_error(function() F.relu(nil) end, 'relu: expected a tensor as input, got nil')
    H.assert_error(function() F.relu(torch.tensor { 1, 2 }) end, 'relu: expected a floating point input')
    H.assert_error(function() F.glu(torch.randn(2, 5)) end, 'glu: halving dimension must be even, but dimension 2 is size 5')
    H.assert_error(function() F.gelu(torch.randn(2), { approximate = 'fast' }) end, "approximate must be 'none' or 'tanh'")
    H.assert_error(function() F.leaky_relu(torch.randn(2), { slope = 1 }) end, 'leaky_relu: unknown option \'slope\'')
    H.assert_error(function() nn.Threshold(0.1) end, 'Threshold: expected numbers threshold and value')
    H.assert_error(function() F.softmax(torch.randn(2), 1.5) end, 'softmax: dim must be an integer')
  end)
end)

describe('nn.Linear and nn.Bilinear match PyTorch', function()
  it('Linear: forward and gradients of input, weight and bias', function()
    local c = fx.linear
    local m = nn.Linear(5, 4)
    m:load_state_dict({ weight = H.tensor(c.w), bias = H.tensor(c.b) })
    local x = H.tensor(c.x):requires_grad_(true)
    local y = m(x)
    H.assert_close(y, c.y)
    y:backward(H.tensor(c.g))
    H.assert_close(x.grad, c.gx)
    H.assert_close(m.weight.grad, c.gw)
    H.assert_close(m.bias.grad, c.gb)
    H.assert_close(m(H.noncontig(H.tensor(c.x))), c.y)
    -- 2-d input takes the addmm path
    local x2 = H.tensor(c.x):reshape(6, 5)
    H.assert_close(m(x2), H.tensor(c.y):reshape(6, 4))
  end)

  it('Linear: gradcheck, no bias, shapes, default init bounds', function()
    local w = torch.randn(3, 4, { dtype = 'float64', requires_grad = true })
    local b = torch.randn(3, { dtype = 'float64', requires_grad = true })
    local x = torch.randn(2, 4, { dtype = 'float64', requires_grad = true })
    assert.is_true(torch.autograd.gradcheck(F.linear, { x, w, b }))
    assert.is_true(torch.autograd.gradcheck(function(a, ww) return F.linear(a, ww) end, { x, w }))
    local m = nn.Linear(4, 3, { bias = false })
    assert.is_nil(m.bias)
    assert.are.equal(1, #m:parameters())
    assert.are.equal('Linear(in_features=4, out_features=3, bias=false)', tostring(m))
    assert.are.same({ 2, 7, 3 }, m(torch.randn(2, 7, 4)):size())
    local big = nn.Linear(400, 300)
    local bound = 1 / math.sqrt(400)
    assert.is_true(big.weight:abs():max():item() <= bound)
    assert.is_true(big.weight:abs():max():item() > 0.95 * bound)
    assert.is_true(big.bias:abs():max():item() <= bound)
    assert.is_true(math.abs(big.weight:std():item() - bound / math.sqrt(3)) < 0.002)
    H.assert_error(function() big(torch.randn(64, 1, 28, 28)) end,
      'Linear: expected input with 400 features (last dim), got 28 (input size 64x1x28x28)')
    assert.are.equal('float64', nn.Linear(2, 2, { dtype = 'float64' }).weight.dtype)
  end)

  it('Bilinear: forward and all gradients', function()
    local c = fx.bilinear
    local m = nn.Bilinear(4, 2, 5)
    assert.are.same({ 5, 4, 2 }, m.weight:size())
    m:load_state_dict({ weight = H.tensor(c.w), bias = H.tensor(c.b) })
    local x1 = H.tensor(c.x1):requires_grad_(true)
    local x2 = H.tensor(c.x2):requires_grad_(true)
    local y = m(x1, x2)
    H.assert_close(y, c.y)
    y:backward(H.tensor(c.g))
    H.assert_close(x1.grad, c.gx1)
    H.assert_close(x2.grad, c.gx2)
    H.assert_close(m.weight.grad, c.gw)
    H.assert_close(m.bias.grad, c.gb)
    local d = function(t) return t:double():requires_grad_(true) end
    assert.is_true(torch.autograd.gradcheck(F.bilinear,
      { d(H.tensor(c.x1)), d(H.tensor(c.x2)), d(H.tensor(c.w)), d(H.tensor(c.b)) }))
    assert.are.equal('Bilinear(in1_features=4, in2_features=2, out_features=5, bias=true)', tostring(m))
    H.assert_error(function() m(torch.randn(3, 3), torch.randn(3, 2)) end, 'bilinear: expected input1 with 4 features')
  end)

  it('Identity, Flatten, Unflatten', function()
    local x = torch.randn(2, 3, 4, 5)
    assert.is_true(rawequal(x, nn.Identity(54, { unused = 1 })(x)))
    assert.are.same({ 2, 60 }, nn.Flatten()(x):size())
    assert.are.same({ 2, 3, 20 }, nn.Flatten(3)(x):size())
    assert.are.same({ 6, 4, 5 }, nn.Flatten(1, 2)(x):size())
    assert.are.same({ 2, 3, 2, 2, 5 }, nn.Unflatten(3, { 2, 2 })(x):size())
    assert.are.equal('Flatten(start_dim=2, end_dim=-1)', tostring(nn.Flatten()))
    assert.are.equal('Unflatten(dim=2, unflattened_size=(2, 5))', tostring(nn.Unflatten(2, { 2, 5 })))
  end)
end)
