-- Composite expressions from the tutorials against PyTorch 1.13 fixtures
-- (scripts/fixtures/gen_autograd.py): gradients agree within 1e-5.
local torch = require 'torch'
local H = require 'spec.support.helpers'

local fx = H.fixture('autograd')
local T = H.tensor

describe('against PyTorch', function()
  it('linear model with MSE', function()
    local c = fx.linear_mse
    local params = torch.tensor({ 1.0, 0.0 }, { requires_grad = true })
    local t_un = T(c.t_u) * 0.1
    local loss = ((params[1] * t_un + params[2] - T(c.t_c)) ^ 2):mean()
    H.assert_close(loss, c.loss)
    loss:backward()
    H.assert_close(params.grad, c.grad, { rtol = 1e-5 })
  end)

  it('the tutorial training loop reaches the same parameters', function()
    local c = fx.linear_train
    local out = {}
    local f = io.popen('build/th scripts/examples/linear_regression.lua 2>&1')
    for line in f:lines() do out[#out + 1] = line end
    f:close()
    local text = table.concat(out, '\n')
    local w, b = text:match('w = ([%-%d%.]+), b = ([%-%d%.]+)')
    assert.is_not_nil(w, text)
    assert.is_true(math.abs(tonumber(w) - c.params.data[1]) < 1e-3, text)
    assert.is_true(math.abs(tonumber(b) - c.params.data[2]) < 1e-2, text)
    local l500 = tonumber(text:match('Epoch 500, Loss ([%d%.]+)'))
    assert.is_true(math.abs(l500 - c.losses[500]) < 1e-3 * c.losses[500], text)
  end)

  it('polynomial features with a hand-written smooth L1 loss', function()
    local c = fx.poly_smooth_l1
    local x, y = T(c.x), T(c.y)
    local w, b = T(c.w):requires_grad_(), T(c.b):requires_grad_()
    local feats = torch.stack({ x, x ^ 2, x ^ 3 }, 2)
    local d = feats:matmul(w) + b - y
    local loss = torch.where(d:abs():lt(1), d ^ 2 * 0.5, d:abs() - 0.5):mean()
    H.assert_close(loss, c.loss)
    loss:backward()
    H.assert_close(w.grad, c.grad_w, { rtol = 1e-5, atol = 1e-5 })
    H.assert_close(b.grad, c.grad_b, { rtol = 1e-5, atol = 1e-5 })
  end)

  it('softmax cross-entropy written by hand', function()
    local c = fx.softmax_ce
    local logits = T(c.logits):requires_grad_()
    local target = T(c.target)
    local picked = (logits * torch.one_hot(target, 5)):sum(2)
    local loss = (logits:logsumexp(2) - picked):mean()
    H.assert_close(loss, c.loss)
    loss:backward()
    H.assert_close(logits.grad, c.grad, { rtol = 1e-5, atol = 1e-6 })
    local l2 = T(c.logits):requires_grad_()
    local loss2 = -l2:log_softmax(2):gather(2, target:view(-1, 1)):mean()
    H.assert_close(loss2, fx.softmax_ce_gather.loss)
    loss2:backward()
    H.assert_close(l2.grad, fx.softmax_ce_gather.grad, { rtol = 1e-5, atol = 1e-6 })
  end)

  it('a two-layer MLP with raw tensors', function()
    local c = fx.mlp
    local X, Y = T(c.X), T(c.Y)
    local W1, b1 = T(c.W1):requires_grad_(), T(c.b1):requires_grad_()
    local W2, b2 = T(c.W2):requires_grad_(), T(c.b2):requires_grad_()
    local h = (X:mm(W1) + b1):relu()
    local out = h:mm(W2) + b2
    local loss = ((out - Y) ^ 2):mean()
    H.assert_close(loss, c.loss)
    loss:backward()
    for name, p in pairs { gW1 = W1, gb1 = b1, gW2 = W2, gb2 = b2 } do
      H.assert_close(p.grad, c[name], { rtol = 1e-5, atol = 1e-6 })
    end
  end)

  it('a gradient penalty (second derivatives through tanh and matmul)', function()
    local c = fx.grad_penalty
    local x, W = T(c.x):requires_grad_(), T(c.W):requires_grad_()
    local f = x:matmul(W):tanh():sum()
    local gx = torch.autograd.grad(f, x, { create_graph = true })[1]
    H.assert_close(gx, c.gx, { rtol = 1e-5, atol = 1e-6 })
    local pen = (gx ^ 2):sum()
    H.assert_close(pen, c.pen, { rtol = 1e-5 })
    pen:backward()
    H.assert_close(W.grad, c.gW, { rtol = 1e-4, atol = 1e-5 })
    H.assert_close(x.grad, c.gx2, { rtol = 1e-4, atol = 1e-5 })
  end)
end)
