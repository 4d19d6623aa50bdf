-- CTC loss (torch.ctc_loss, F.ctc_loss, nn.CTCLoss) against PyTorch fixtures
-- (scripts/fixtures/gen_nn_ctc.py): padded and concatenated targets, varied
-- lengths, repeated labels, infeasible alignments with and without zero_infinity,
-- each reduction, a non-default blank, unbatched and float64 inputs; the loss and
-- its gradient wrt log_probs. Also non-contiguous inputs, gradcheck in float64
-- through log_softmax, validation errors; and F.gumbel_softmax, checked by its
-- structure and statistics (PyTorch's random stream differs).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_ctc')

local function inputs(c)
  return H.tensor(c.lp), H.tensor(c.targets), H.tensor(c.input_lengths), H.tensor(c.target_lengths)
end

local function as_table(t)
  if t:dim() == 0 then return t:item() end
  return t:tolist()
end

describe('F.ctc_loss against PyTorch', function()
  before_each(function() torch.set_grad_enabled(true) end)
  for _, c in ipairs(fx.cases) do
    it(c.name .. ' (' .. c.lp.dtype .. ')', function()
      local lp0, tg, il, tl = inputs(c)
      for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
        local lp = (layout == 'contiguous' and lp0:clone() or H.noncontig(lp0)):requires_grad_()
        local out = F.ctc_loss(lp, tg, il, tl, c.opts)
        H.assert_close(out, c.out, { rtol = 1e-5, atol = 1e-6 })
        out:backward(H.tensor(c.g))
        H.assert_close(lp.grad, c.glp, { rtol = 1e-5, atol = 1e-6 })
      end
    end)
  end

  it('takes the lengths as Lua tables (or numbers for unbatched input), and nn.CTCLoss agrees', function()
    for _, c in ipairs(fx.cases) do
      local lp, tg, il, tl = inputs(c)
      H.assert_close(F.ctc_loss(lp, tg, as_table(il), as_table(tl), c.opts), c.out, { rtol = 1e-5, atol = 1e-6 })
      local m = nn.CTCLoss(c.opts)
      H.assert_close(m(lp, tg, il, tl), c.out, { rtol = 1e-5, atol = 1e-6 })
      H.assert_close(torch.ctc_loss(lp, tg, il, tl, c.opts), c.out, { rtol = 1e-5, atol = 1e-6 })
    end
  end)

  it('accepts int32 targets and lengths', function()
    local c = fx.cases[1]
    local lp, tg, il, tl = inputs(c)
    H.assert_close(F.ctc_loss(lp, tg:int(), il:int(), tl:int(), c.opts), c.out, { rtol = 1e-5, atol = 1e-6 })
  end)
end)

describe('F.ctc_loss semantics', function()
  before_each(function() torch.set_grad_enabled(true) end)

  local function lsm(T, N, C, dtype)
    local shape = N and { T, N, C } or { T, C }
    return torch.randn(shape, { dtype = dtype or 'float32' }):log_softmax(#shape)
  end

  it('is inf when a target cannot fit its input, 0 with a zero gradient under zero_infinity', function()
    torch.manual_seed(1)
    -- sample 1: labels {2, 2} need 3 steps (a blank between the repeats) but has 2
    local lp = lsm(4, 2, 3):requires_grad_()
    local tg = torch.tensor { { 2, 2 }, { 2, 3 } }
    local l = F.ctc_loss(lp, tg, { 2, 4 }, { 2, 2 }, { reduction = 'none' }):tolist()
    assert.are.equal(math.huge, l[1])
    assert.is_true(l[2] < math.huge)
    local lz = F.ctc_loss(lp, tg, { 2, 4 }, { 2, 2 }, { reduction = 'none', zero_infinity = true })
    assert.are.equal(0, lz:tolist()[1])
    assert.is_true(math.abs(lz:tolist()[2] - l[2]) < 1e-6)
    lz:sum():backward()
    assert.are.equal(0, lp.grad:select(2, 1):abs():sum():item())
    assert.is_true(lp.grad:select(2, 2):abs():sum():item() > 0)
    -- the same labels fit in 3 steps
    assert.is_true(F.ctc_loss(lp, tg, { 3, 4 }, { 2, 2 }, { reduction = 'none' }):tolist()[1] < math.huge)
  end)

  it('gives the probability of the only alignment when T equals the target length', function()
    local lp = lsm(3, 1, 4, 'float64')
    local l = F.ctc_loss(lp, torch.tensor { { 2, 3, 4 } }, { 3 }, { 3 }, { reduction = 'sum' })
    local want = -(lp[{ 1, 1, 2 }] + lp[{ 2, 1, 3 }] + lp[{ 3, 1, 4 }])
    assert.is_true(math.abs(l:item() - want) < 1e-12)
  end)

  it('an empty input with an empty target costs 0; with a non-empty target inf', function()
    local lp = lsm(3, 2, 4):requires_grad_()
    local l = F.ctc_loss(lp, torch.tensor { { 2 }, { 3 } }, { 0, 0 }, { 0, 1 }, { reduction = 'none' })
    H.assert_close(l, { 0, math.huge })
    F.ctc_loss(lp, torch.tensor { { 2 }, { 3 } }, { 0, 2 }, { 0, 1 }, { reduction = 'sum' }):backward()
    assert.are.equal(0, lp.grad:select(2, 1):abs():sum():item())
  end)

  it("'mean' divides by the target lengths (at least 1) and averages over the batch", function()
    local lp = lsm(6, 3, 5)
    local tg, il, tl = torch.tensor { { 2, 3, 2 }, { 4, 0, 0 }, { 0, 0, 0 } }, { 6, 5, 4 }, { 3, 1, 0 }
    local none = F.ctc_loss(lp, tg, il, tl, { reduction = 'none' })
    local want = (none[1] / 3 + none[2] + none[3]) / 3
    H.assert_close(F.ctc_loss(lp, tg, il, tl), { want })
    H.assert_close(F.ctc_loss(lp, tg, il, tl, { reduction = 'sum' }), none:sum())
    -- the legacy size_average=false of old tutorials means 'sum'
    H.assert_close(F.ctc_loss(lp, tg, il, tl, { size_average = false }), none:sum())
    H.assert_close(nn.CTCLoss { size_average = false }(lp, tg, il, tl), none:sum())
  end)

  it('padded and concatenated targets give the same loss; padding is never read', function()
    local lp = lsm(7, 2, 5)
    local a = F.ctc_loss(lp, torch.tensor { { 2, 3, 3 }, { 5, 99, -7 } }, { 7, 6 }, { 3, 1 }, { reduction = 'none' })
    local b = F.ctc_loss(lp, torch.tensor { 2, 3, 3, 5 }, { 7, 6 }, { 3, 1 }, { reduction = 'none' })
    H.assert_close(a, b)
  end)

  it('passes gradcheck in float64 through log_softmax', function()
    local gc = torch.autograd.gradcheck
    torch.manual_seed(2)
    local x = torch.randn(6, 3, 4, { dtype = 'float64', requires_grad = true })
    local padded, concat = torch.tensor { { 2, 2, 3 }, { 4, 0, 0 }, { 3, 4, 0 } }, torch.tensor { 2, 2, 3, 4, 3, 4 }
    local il, tl = torch.tensor { 6, 4, 5 }, torch.tensor { 3, 1, 2 }
    for _, red in ipairs { 'none', 'mean', 'sum' } do
      assert.is_true(gc(function(z) return F.ctc_loss(z:log_softmax(3), padded, il, tl, { reduction = red }) end, { x }))
      assert.is_true(gc(function(z) return F.ctc_loss(z:log_softmax(3), concat, il, tl, { reduction = red }) end, { x }))
    end
    local nb = torch.tensor { { 1, 1, 3 }, { 4, 0, 0 }, { 3, 1, 0 } }
    assert.is_true(gc(function(z) return F.ctc_loss(z:log_softmax(3), nb, il, tl, { blank = 2 }) end, { x }))
    -- an infeasible sample under zero_infinity contributes nothing
    assert.is_true(gc(function(z)
      return F.ctc_loss(z:log_softmax(3), padded, { 6, 2, 5 }, tl, { zero_infinity = true, reduction = 'sum' })
    end, { x }))
    local u = torch.randn(5, 4, { dtype = 'float64', requires_grad = true })
    assert.is_true(gc(function(z) return F.ctc_loss(z:log_softmax(2), torch.tensor { 3, 3 }, 5, 2) end, { u }))
  end)

  it('refuses double backward with a clear error', function()
    local x = torch.randn(4, 2, 3, { requires_grad = true })
    local l = F.ctc_loss(x:log_softmax(3), torch.tensor { { 2 }, { 3 } }, { 4, 4 }, { 1, 1 })
    H.assert_error(function() torch.autograd.grad({ l }, { x }, { create_graph = true }) end,
      'CTCLoss: double backward is not supported')
  end)

  it('nn.CTCLoss takes blank, reduction and zero_infinity positionally or by name and prints as PyTorch', function()
    local m = nn.CTCLoss(2, 'sum', true)
    assert.are.equal(2, m.blank)
    assert.are.equal('sum', m.reduction)
    assert.is_true(m.zero_infinity)
    local d = nn.CTCLoss()
    assert.are.equal(1, d.blank)
    assert.are.equal('mean', d.reduction)
    assert.is_false(d.zero_infinity)
    assert.are.equal('CTCLoss()', tostring(d))
    H.assert_error(function() nn.CTCLoss { reduction = 'avg' } end, "CTCLoss: reduction must be 'mean', 'sum' or 'none'")
    H.assert_error(function() nn.CTCLoss { blanks = 1 } end, 'CTCLoss: unknown option \'blanks\'')
    H.assert_error(function() d(torch.randn(4, 3), torch.tensor { 2 }, 4) end, 'CTCLoss: expected 4 tensor arguments')
  end)
end)

describe('F.ctc_loss validation', function()
  local lp = torch.randn(5, 2, 4):log_softmax(3)
  local tg = torch.tensor { { 2, 3 }, { 4, 2 } }
  local il, tl = torch.tensor { 5, 5 }, torch.tensor { 2, 2 }
  local m = nn.CTCLoss()

  it('checks the labels: 1..C and never the blank', function()
    H.assert_error(function() m(lp, torch.tensor { { 2, 0 }, { 4, 2 } }, il, tl) end,
      'CTCLoss: target label 0 (sample 1, position 2) is out of range 1..4 (labels are 1-based)')
    H.assert_error(function() m(lp, torch.tensor { { 2, 3 }, { 5, 2 } }, il, tl) end,
      'CTCLoss: target label 5 (sample 2, position 1) is out of range 1..4')
    H.assert_error(function() m(lp, torch.tensor { { 2, 1 }, { 4, 2 } }, il, tl) end,
      'CTCLoss: target label 1 (sample 1, position 2) is the blank; targets must not contain blank = 1')
    H.assert_error(function() F.ctc_loss(lp, tg, il, tl, { blank = 3 }) end,
      'CTCLoss: target label 3 (sample 1, position 2) is the blank; targets must not contain blank = 3')
    H.assert_error(function() F.ctc_loss(lp, tg, il, tl, { blank = 5 }) end,
      'CTCLoss: blank must be a class in 1..4 (1-based), got 5')
    H.assert_error(function() F.ctc_loss(lp, tg, il, tl, { blank = 0 }) end,
      'CTCLoss: blank must be a class label >= 1 (labels are 1-based), got 0')
  end)

  it('checks the lengths against T, S and the concatenated targets', function()
    H.assert_error(function() m(lp, tg, { 6, 5 }, tl) end,
      'CTCLoss: input_lengths[1] = 6 is out of range 0..5 (T, the length of log_probs)')
    H.assert_error(function() m(lp, tg, { 5, -1 }, tl) end, 'CTCLoss: input_lengths[2] = -1 is out of range 0..5')
    H.assert_error(function() m(lp, tg, il, { 2, 3 }) end,
      "CTCLoss: target_lengths[2] = 3 exceeds the padded targets' length S = 2")
    H.assert_error(function() m(lp, tg, il, { -1, 2 }) end, 'CTCLoss: target_lengths[1] = -1 is negative')
    H.assert_error(function() m(lp, torch.tensor { 2, 3, 4 }, il, tl) end,
      'CTCLoss: target_lengths sum to more than the 3 concatenated targets')
    H.assert_error(function() m(lp, torch.tensor { 2, 3, 4, 2, 3 }, il, tl) end,
      'CTCLoss: target_lengths sum to 4 but the concatenated targets have 5 elements')
    H.assert_error(function() m(lp, tg, { 5, 5, 5 }, tl) end,
      'CTCLoss: expected input_lengths of shape (N) (one per sample), got 3')
    H.assert_error(function() m(lp, tg, il, torch.tensor { { 2, 2 } }) end,
      'CTCLoss: expected target_lengths of shape (N) (one per sample), got 1x2')
    H.assert_error(function() m(lp[{ {}, 1 }], torch.tensor { 2, 3 }, { 5, 5 }, 2) end,
      'CTCLoss: expected input_lengths of one element (unbatched input), got 2')
  end)

  it('checks dtypes and ranks', function()
    H.assert_error(function() m(lp, tg, torch.tensor { 5.0, 5.0 }, tl) end,
      'CTCLoss: expected integer input_lengths, got float32')
    H.assert_error(function() m(lp, tg, il, torch.tensor { true, true }) end,
      'CTCLoss: expected integer target_lengths, got bool')
    H.assert_error(function() m(lp, tg:float(), il, tl) end,
      'CTCLoss: expected integer targets (1-based class labels), got float32')
    H.assert_error(function() m(lp:long(), tg, il, tl) end, 'CTCLoss: expected float32 or float64 log_probs, got int64')
    H.assert_error(function() m(lp:half(), tg, il, tl) end, 'CTCLoss: expected float32 or float64 log_probs, got float16')
    H.assert_error(function() m(lp:unsqueeze(1), tg, il, tl) end,
      'CTCLoss: expected log_probs of shape (T, N, C) or unbatched (T, C), got 4-D 1x5x2x4')
    H.assert_error(function() m(torch.randn(5), tg, il, tl) end,
      'CTCLoss: expected log_probs of shape (T, N, C) or unbatched (T, C), got 1-D 5')
    H.assert_error(function() m(lp, tg:unsqueeze(1), il, tl) end,
      'CTCLoss: expected targets of shape (N, S) (padded) or 1-D (concatenated) for log_probs 5x2x4, got 1x2x2')
    H.assert_error(function() m(lp, torch.tensor { { 2, 3 } }, il, tl) end,
      'CTCLoss: expected targets of shape (N, S) (padded) or 1-D (concatenated) for log_probs 5x2x4, got 1x2')
    H.assert_error(function() m(lp, tg, { 5, 4.5 }, tl) end, 'CTCLoss: input_lengths must hold integers, got 4.5 at position 2')
    H.assert_error(function() m(lp, tg, 'x', tl) end,
      'CTCLoss: expected input_lengths as an integer tensor or a table of integers, got string')
    H.assert_error(function() F.ctc_loss(lp, tg, il, tl, { reduction = 'avg' }) end,
      "CTCLoss: reduction must be 'mean', 'sum' or 'none', got 'avg'")
    H.assert_error(function() F.ctc_loss(lp, tg, il, tl, { zero_infinity = 1 }) end,
      'CTCLoss: zero_infinity must be a boolean, got number')
    H.assert_error(function() F.ctc_loss({}, tg, il, tl) end, 'CTCLoss: expected a tensor of log_probs, got table')
    H.assert_error(function() torch.ctc_loss(lp, tg, il, tl, 3) end, 'ctc_loss: expected an options table as argument 5')
  end)
end)

describe('F.gumbel_softmax', function()
  before_each(function() torch.set_grad_enabled(true) end)

  it('gives rows of probabilities (soft) or one-hot rows (hard) along the last dim by default', function()
    torch.manual_seed(5)
    local x = torch.randn(6, 7)
    local y = F.gumbel_softmax(x)
    H.assert_close(y:sum(2), torch.ones(6), { rtol = 1e-6, atol = 1e-6 })
    assert.is_true(y:min():item() >= 0)
    local h = F.gumbel_softmax(x, { hard = true, tau = 0.3 })
    H.assert_close(h:sum(2), torch.ones(6))
    H.assert_close(h:eq(0):logical_or(h:eq(1)):all(), true)
    -- dim=1 normalises columns
    local c = F.gumbel_softmax(x, { dim = 1, hard = true })
    H.assert_close(c:sum(1), torch.ones(7))
    -- positional tau, hard, eps, dim as PyTorch
    H.assert_close(F.gumbel_softmax(x, 0.5, true, 1e-10, -2):sum(1), torch.ones(7))
  end)

  it('repeats with the same seed', function()
    local x = torch.randn(3, 4)
    torch.manual_seed(11)
    local a = F.gumbel_softmax(x, { tau = 0.7 })
    torch.manual_seed(11)
    local b = F.gumbel_softmax(x, { tau = 0.7 })
    H.assert_close(a, b, { rtol = 0, atol = 0 })
    assert.is_true((a - F.gumbel_softmax(x, { tau = 0.7 })):abs():max():item() > 0)
  end)

  it('the hard sample carries the soft sample\'s gradient (straight-through)', function()
    local x = torch.randn(4, 5, { requires_grad = true })
    local w = torch.randn(4, 5)
    torch.manual_seed(3)
    local h = F.gumbel_softmax(x, { hard = true, tau = 0.5 })
    assert.is_not_nil(h.grad_fn)
    ;(h * w):sum():backward()
    local gh = x.grad:clone()
    x.grad = nil
    torch.manual_seed(3)
    local s = F.gumbel_softmax(x, { tau = 0.5 })
    ;(s * w):sum():backward()
    H.assert_close(gh, x.grad, { rtol = 1e-5, atol = 1e-6 })
    assert.is_true(gh:abs():sum():item() > 0)
    -- the softmax's gradient sums to 0 over each row
    H.assert_close(gh:sum(2), torch.zeros(4), { atol = 1e-5 })
  end)

  it('samples the categorical distribution softmax(logits)', function()
    torch.manual_seed(7)
    local p = torch.tensor { 0.5, 0.3, 0.15, 0.05 }
    local n = 20000
    local logits = p:log():unsqueeze(1):expand(n, 4)
    local freq = F.gumbel_softmax(logits, { hard = true }):mean(1)
    for i = 1, 4 do
      assert.is_true(math.abs(freq[i] - p[i]) < 0.015, ('class %d: %g vs %g'):format(i, freq[i], p[i]))
    end
    -- a small tau makes soft samples nearly one-hot; a large one nearly uniform
    local cold = F.gumbel_softmax(logits:narrow(1, 1, 500), { tau = 0.05 }):max(2)
    assert.is_true(cold:mean():item() > 0.95)
    local hot = F.gumbel_softmax(logits:narrow(1, 1, 500), { tau = 100 })
    assert.is_true((hot - 0.25):abs():max():item() < 0.05)
  end)

  it('checks its arguments', function()
    local x = torch.randn(2, 3)
    H.assert_error(function() F.gumbel_softmax(x, { tau = 0 }) end, 'gumbel_softmax: tau must be positive, got 0')
    H.assert_error(function() F.gumbel_softmax(x, { dim = 3 }) end,
      'gumbel_softmax: dim 3 is out of range for a 2-d input')
    H.assert_error(function() F.gumbel_softmax(x, { hard = 1 }) end, 'gumbel_softmax: hard must be a boolean')
    H.assert_error(function() F.gumbel_softmax(x, { taus = 1 }) end, 'gumbel_softmax: unknown option \'taus\'')
    H.assert_error(function() F.gumbel_softmax(torch.tensor { 1, 2 }) end,
      'gumbel_softmax: expected a floating point input')
  end)
end)
