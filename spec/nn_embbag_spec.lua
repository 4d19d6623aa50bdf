-- F.embedding_bag / nn.EmbeddingBag and nn.utils weight_norm / spectral_norm against
-- PyTorch 1.13 fixtures (scripts/fixtures/gen_nn_embbag.py): outputs, weight and
-- per-sample-weight gradients, state_dict names, and the power iteration with u / v
-- loaded from PyTorch.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_embbag')
local tol = { rtol = 1e-5, atol = 1e-6 }
local ctol = { rtol = 1e-4, atol = 1e-5 }

local function i64(t) return torch.tensor(t, { dtype = 'int64' }) end

local function run_bag(c, w, noncontig)
  local idx = H.tensor(c.idx)
  if noncontig then idx = H.noncontig(idx) end
  local psw = c.psw and H.tensor(c.psw):requires_grad_() or nil
  local out = F.embedding_bag(idx, w, { offsets = c.offsets and H.tensor(c.offsets) or nil, mode = c.mode,
    per_sample_weights = psw, padding_idx = c.pad, include_last_offset = c.last, max_norm = c.max_norm,
    scale_grad_by_freq = c.freq })
  return out, psw
end

describe('nn.functional.embedding_bag', function()
  local names = {}
  for name in pairs(fx) do if not name:match('^[ws]n_') then names[#names + 1] = name end end
  table.sort(names)
  for _, name in ipairs(names) do
    local c = fx[name]
    it(name .. ' matches PyTorch (output, weight and per-sample-weight gradients)', function()
      for _, nc in ipairs({ false, true }) do
        local w = H.tensor(c.w)
        if nc then w = H.noncontig(w) end
        w:requires_grad_()
        local out, psw = run_bag(c, w, nc)
        H.assert_close(out, c.out, tol)
        ;(out * H.tensor(c.gy)):sum():backward()
        H.assert_close(w.grad, c.gw, tol)
        if c.gpsw then H.assert_close(psw.grad, c.gpsw, tol) end
        if c.w_after then H.assert_close(w:detach(), c.w_after, tol) end
      end
    end)
  end

  it('nn.EmbeddingBag matches the functional form, from_pretrained freezes', function()
    local c = fx.off_max
    local m = nn.EmbeddingBag.from_pretrained(H.tensor(c.w), { mode = 'max', freeze = false })
    assert.is_true(m.weight.requires_grad)
    H.assert_close(m(H.tensor(c.idx), H.tensor(c.offsets)), c.out, tol)
    local f = nn.EmbeddingBag.from_pretrained(H.tensor(c.w))
    assert.is_false(f.weight.requires_grad)
    assert.equal("EmbeddingBag(10, 4, mode='mean')", tostring(f))
    local p = fx.psw_1d
    local s = nn.EmbeddingBag(10, 4, { mode = 'sum', _weight = H.tensor(p.w) })
    H.assert_close(s(H.tensor(p.idx), H.tensor(p.offsets), H.tensor(p.psw)), p.out, tol)
    local z = nn.EmbeddingBag(6, 3, { padding_idx = -1 })
    assert.equal(6, z.padding_idx)
    assert.equal(0, z.weight[6]:abs():sum():item())
    assert.equal(2, #z:parameters() + 1)
  end)

  it('positional options follow PyTorch order; offsets may be a Lua list', function()
    local c = fx.off_sum
    local w = H.tensor(c.w)
    H.assert_close(F.embedding_bag(H.tensor(c.idx), w, H.tensor(c.offsets), nil, 2, false, 'sum'), c.out, tol)
    H.assert_close(F.embedding_bag(H.tensor(c.idx), w, { offsets = { 1, 3, 3, 6 }, mode = 'sum' }), c.out, tol)
  end)

  it('passes gradcheck in float64 (weight and per_sample_weights)', function()
    local w = torch.randn(6, 3, { dtype = 'float64', requires_grad = true })
    local p = torch.randn(7, { dtype = 'float64', requires_grad = true })
    local idx, off = i64({ 1, 2, 6, 2, 3, 3, 5 }), i64({ 1, 3, 3, 5 })
    for _, mode in ipairs({ 'sum', 'mean', 'max' }) do
      assert.is_true(torch.autograd.gradcheck(function(x)
        return F.embedding_bag(idx, x, { offsets = off, mode = mode, padding_idx = 5 })
      end, { w }))
    end
    assert.is_true(torch.autograd.gradcheck(function(x, q)
      return F.embedding_bag(idx, x, { offsets = off, mode = 'sum', per_sample_weights = q })
    end, { w, p }))
  end)

  it('refuses double backward; records nothing when no input requires grad', function()
    local w = torch.randn(5, 3, { requires_grad = true })
    local out = F.embedding_bag(i64({ { 1, 2 } }), w, { mode = 'sum' })
    H.assert_error(function() torch.autograd.grad({ out:sum() }, { w }, { create_graph = true }) end,
      'embedding_bag: double backward is not supported (create_graph)')
    local plain = F.embedding_bag(i64({ { 1, 2 } }), w:detach(), { mode = 'sum' })
    assert.is_false(plain.requires_grad)
    torch.no_grad(function()
      assert.is_false(F.embedding_bag(i64({ { 1, 2 } }), w, { mode = 'max' }).requires_grad)
    end)
  end)

  it('gives clear errors', function()
    local w = torch.randn(5, 3)
    local idx = i64({ 1, 2, 3 })
    H.assert_error(function() F.embedding_bag(idx, w) end, 'embedding_bag: a 1-d input needs offsets')
    H.assert_error(function() F.embedding_bag(i64({ { 1 } }), w, { offsets = i64({ 1 }) }) end,
      'offsets must be nil for a 2-d input')
    H.assert_error(function() F.embedding_bag(i64({ { { 1 } } }), w) end,
      'expected a 1-d input with offsets or a 2-d input (B, L), got 3-d')
    H.assert_error(function() F.embedding_bag(idx, w, { offsets = i64({ 2 }) }) end,
      'offsets[1] must be 1 (offsets are the 1-based starts of the bags), got 2')
    H.assert_error(function() F.embedding_bag(idx, w, { offsets = i64({ 1, 3, 2 }) }) end,
      'offsets must be non-decreasing, got 2 after 3')
    H.assert_error(function() F.embedding_bag(idx, w, { offsets = i64({ 1, 5 }) }) end,
      'offset 5 is past the end of the input (3 indices)')
    H.assert_error(function() F.embedding_bag(i64({ 1, 6 }), w, { offsets = i64({ 1 }) }) end,
      'embedding_bag: index 6 is out of range 1..5')
    H.assert_error(function() F.embedding_bag(i64({ 0 }), w, { offsets = i64({ 1 }) }) end,
      'embedding_bag: index 0 is out of range 1..5')
    H.assert_error(function() F.embedding_bag(idx, w, { offsets = i64({ 1 }), mode = 'min' }) end,
      "mode must be 'sum', 'mean' or 'max', got 'min'")
    H.assert_error(function()
      F.embedding_bag(idx, w, { offsets = i64({ 1 }), per_sample_weights = torch.ones(3) })
    end, "per_sample_weights are only supported for mode 'sum', got mode 'mean'")
    H.assert_error(function()
      F.embedding_bag(idx, w, { offsets = i64({ 1 }), mode = 'sum', per_sample_weights = torch.ones(2) })
    end, 'per_sample_weights must have the input\'s shape 3, got 2')
    H.assert_error(function() F.embedding_bag(idx, w, { offsets = i64({ 1 }), sparse = true }) end,
      'sparse gradients (sparse=true) are not supported')
    H.assert_error(function() F.embedding_bag(idx, w, { offsets = i64({ 1 }), mode = 'max', scale_grad_by_freq = true }) end,
      "mode 'max' does not support scale_grad_by_freq")
    H.assert_error(function() F.embedding_bag(torch.ones(3), w, { offsets = i64({ 1 }) }) end,
      'expected integer (int64) indices, got float32')
    H.assert_error(function() F.embedding_bag(idx, torch.randn(5), { offsets = i64({ 1 }) }) end,
      'expected a 2-d weight (num_embeddings, embedding_dim), got 1-d')
    H.assert_error(function() F.embedding_bag(idx, w, { offsets = i64({ 1 }), padding_idx = 6 }) end,
      'padding_idx must be an integer in 1..5 or -5..-1, got 6')
    H.assert_error(function() F.embedding_bag(idx, w, { offsets = i64({}), include_last_offset = true }) end,
      'include_last_offset needs at least one offset')
    H.assert_error(function() nn.EmbeddingBag(5, 3, { mode = 'min' }) end,
      "EmbeddingBag: mode must be 'sum', 'mean' or 'max', got min")
    H.assert_error(function() nn.EmbeddingBag(5, 3, { sparse = true }) end, 'EmbeddingBag: sparse gradients')
    H.assert_error(function() torch.embedding_bag(w, idx, 3) end, 'offsets must be a tensor or nil, got number')
  end)
end)

local function load_state(m, c)
  local sd = {}
  for k, v in pairs(c.state) do sd[k] = H.tensor(v) end
  m:load_state_dict(sd)
end

local function sorted_names(m)
  local r = {}
  for k in pairs(m:state_dict()) do r[#r + 1] = k end
  table.sort(r)
  return r
end

local function check_grads(m, grads, t)
  local p = {}
  for _, e in ipairs(m:named_parameters()) do p[e[1]] = e[2] end
  for k, g in pairs(grads) do H.assert_close(p[k].grad, g, t) end
end

describe('nn.utils.weight_norm', function()
  for _, name in ipairs({ 'wn_linear_0', 'wn_linear_1', 'wn_linear_none', 'wn_conv_0', 'wn_conv_none' }) do
    local c = fx[name]
    it(name .. ' matches PyTorch (state_dict names, output, gradients of g and v)', function()
      local m = name:match('conv') and nn.Conv2d(2, 3, 3) or nn.Linear(4, 3)
      nn.utils.weight_norm(m, { dim = c.dim })
      local want = {}
      for i, k in ipairs(c.names) do want[i] = k end
      table.sort(want)
      assert.same(want, sorted_names(m))
      load_state(m, c)
      local t = name:match('conv') and ctol or tol
      local out = m(H.tensor(c.x))
      H.assert_close(out, c.out, t)
      ;(out * H.tensor(c.gy)):sum():backward()
      check_grads(m, c.grads, t)
      nn.utils.remove_weight_norm(m)
      assert.is_true(nn.Parameter.is(m.weight))
      assert.is_nil(m.weight_g)
      H.assert_close(m.weight, c.removed, tol)
      local names = {}
      for _, e in ipairs(m:named_parameters()) do names[#names + 1] = e[1] end
      assert.same({ 'weight', 'bias' }, names)
    end)
  end

  it('takes dim positionally (an explicit nil is the whole tensor) and checks its arguments', function()
    local m = nn.utils.weight_norm(nn.Linear(4, 3), 'weight', nil)
    assert.equal(0, m.weight_g:dim())
    m = nn.utils.weight_norm(nn.Linear(4, 3), 'weight', -1)
    assert.equal(1, m.weight_g:size(1))
    assert.equal(4, m.weight_g:size(2))
    H.assert_error(function() nn.utils.weight_norm(nn.Linear(4, 3), { dim = 3 }) end,
      'weight_norm: dim must be an integer in 1..2 or -2..-1 for a 2-d weight, got 3')
    H.assert_error(function() nn.utils.weight_norm(nn.ReLU()) end, 'weight_norm: ReLU has no parameter "weight"')
    H.assert_error(function() nn.utils.weight_norm(m) end, 'cannot register two weight_norm hooks')
    H.assert_error(function() nn.utils.remove_weight_norm(nn.Linear(2, 2)) end,
      "remove_weight_norm: weight_norm of 'weight' not found in Linear")
    H.assert_error(function() nn.utils.weight_norm(3) end, 'weight_norm: expected an nn.Module, got number')
  end)
end)

describe('nn.utils.spectral_norm', function()
  for _, name in ipairs({ 'sn_linear', 'sn_linear_3', 'sn_conv' }) do
    local c = fx[name]
    it(name .. ' matches PyTorch in train (power iteration) and eval mode', function()
      local m = name:match('conv') and nn.Conv2d(2, 3, 3) or nn.Linear(5, 4)
      nn.utils.spectral_norm(m, { n_power_iterations = c.n_iter })
      local want = {}
      for i, k in ipairs(c.names) do want[i] = k end
      table.sort(want)
      assert.same(want, sorted_names(m))
      load_state(m, c)
      local t = name:match('conv') and ctol or tol
      local x = H.tensor(c.x)
      local out = m(x)
      H.assert_close(out, c.out, t)
      H.assert_close(m.weight_u, c.u1, tol)
      H.assert_close(m.weight_v, c.v1, tol)
      ;(out * H.tensor(c.gy)):sum():backward()
      check_grads(m, c.grads, t)
      m:zero_grad()
      m:eval()
      out = m(x)
      H.assert_close(out, c.out_eval, t)
      H.assert_close(m.weight_u, c.u1, tol) -- no power iteration in eval mode
      ;(out * H.tensor(c.gy_eval)):sum():backward()
      check_grads(m, c.grads_eval, t)
      nn.utils.remove_spectral_norm(m)
      assert.is_true(nn.Parameter.is(m.weight))
      H.assert_close(m.weight, c.removed, tol)
      assert.same({ 'bias', 'weight' }, sorted_names(m))
    end)
  end

  it('picks dim 2 for ConvTranspose, checks its arguments', function()
    if nn.ConvTranspose2d then
      local m = nn.utils.spectral_norm(nn.ConvTranspose2d(2, 5, 3))
      assert.equal(5, m.weight_u:numel())
    end
    H.assert_error(function() nn.utils.spectral_norm(nn.Linear(2, 2), { n_power_iterations = 0 }) end,
      'spectral_norm: n_power_iterations must be a positive integer, got 0')
    H.assert_error(function() nn.utils.spectral_norm(nn.Linear(2, 2), { name = 'bogus' }) end,
      'spectral_norm: Linear has no parameter "bogus"')
    H.assert_error(function() nn.utils.remove_spectral_norm(nn.Linear(2, 2)) end,
      "remove_spectral_norm: spectral_norm of 'weight' not found in Linear")
  end)
end)
