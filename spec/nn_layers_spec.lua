-- nn pooling, loss and Embedding modules: module forms agree with the functional
-- forms; the composed functional losses against PyTorch fixtures
-- (scripts/fixtures/gen_nn_loss2.py: values and input gradients, every reduction),
-- gradcheck in float64; Embedding's padding row, from_pretrained, state_dict;
-- printing and argument errors.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_loss2')

local function dims(t)
  local r = {}
  for i = 1, t:dim() do r[i] = t:size(i) end
  return r
end

local function opts_of(c)
  local o = {}
  for k, v in pairs(c.opts) do o[k] = (type(v) == 'table' and v.data) and H.tensor(v) or v end
  return o
end

local function describe_case(c)
  local kv = {}
  for k, v in pairs(c.opts) do kv[#kv + 1] = k .. '=' .. ((type(v) == 'table') and 'tensor' or tostring(v)) end
  table.sort(kv)
  local shapes = {}
  for i, t in ipairs(c.inputs) do shapes[i] = #t.shape == 0 and '()' or table.concat(t.shape, 'x') end
  return ('%s(%s, {%s})'):format(c.fn, table.concat(shapes, ', '), table.concat(kv, ', '))
end

local function call(fn, ins, o)
  if #ins == 2 then return fn(ins[1], ins[2], o) end
  return fn(ins[1], ins[2], ins[3], o)
end

-- module class for each functional loss, and how its options map to constructor options
local MODULE_OF = {
  poisson_nll_loss = 'PoissonNLLLoss', gaussian_nll_loss = 'GaussianNLLLoss',
  cosine_embedding_loss = 'CosineEmbeddingLoss', margin_ranking_loss = 'MarginRankingLoss',
  hinge_embedding_loss = 'HingeEmbeddingLoss', multilabel_margin_loss = 'MultiLabelMarginLoss',
  multilabel_soft_margin_loss = 'MultiLabelSoftMarginLoss', multi_margin_loss = 'MultiMarginLoss',
  soft_margin_loss = 'SoftMarginLoss', triplet_margin_loss = 'TripletMarginLoss',
}

describe('nn.functional composed losses', function()
  before_each(function() torch.set_grad_enabled(true) end) -- other specs (fuzz) may leave it off
  for k, c in ipairs(fx.cases) do
    for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
      it(('%d %s, %s'):format(k, describe_case(c), layout), function()
        local ins = {}
        for i, t in ipairs(c.inputs) do
          ins[i] = H.tensor(t)
          if i <= c.ngrad then
            if layout == 'non-contiguous' and ins[i]:dim() > 0 then ins[i] = H.noncontig(ins[i]) end
            ins[i]:requires_grad_()
          end
        end
        local out = call(F[c.fn], ins, opts_of(c))
        H.assert_close(out, c.out, { rtol = 1e-5, atol = 1e-6 })
        out:backward(H.tensor(c.g))
        for i = 1, c.ngrad do H.assert_close(ins[i].grad, c.gx[i], { rtol = 1e-5, atol = 1e-6 }) end
      end)
    end
    it(('%d the module form of %s'):format(k, describe_case(c)), function()
      local ins = {}
      for i, t in ipairs(c.inputs) do ins[i] = H.tensor(t) end
      local m = nn[MODULE_OF[c.fn]](opts_of(c))
      H.assert_close(m(table.unpack(ins)), c.out, { rtol = 1e-5, atol = 1e-6 })
    end)
  end

  it('passes gradcheck in float64', function()
    local gc = torch.autograd.gradcheck
    local function x64(...) return torch.randn({ ... }, { dtype = 'float64', requires_grad = true }) end
    local y = torch.randn(3, 4, { dtype = 'float64' })
    local sgn = y:sign()
    local counts = (torch.rand(3, 4, { dtype = 'float64' }) * 4):floor()
    local var = (torch.rand(3, 4, { dtype = 'float64' }) + 0.3):requires_grad_()
    local cls = torch.tensor { 2, 4, 1 }
    local ml = torch.tensor { { 2, 1, 0, 3 }, { 4, 0, 1, 1 }, { 1, 2, 3, 4 } }
    local ypm = torch.tensor { 1, -1, -1 }
    local w = torch.rand(4, { dtype = 'float64' }) + 0.5
    for _, red in ipairs { 'mean', 'sum', 'none' } do
      local o = { reduction = red }
      assert.is_true(gc(function(x) return F.poisson_nll_loss(x, counts, o) end, { x64(3, 4) }))
      assert.is_true(gc(function(x) return F.poisson_nll_loss(x:abs() + 0.5, counts, { log_input = false, full = true,
        reduction = red }) end, { x64(3, 4) }))
      assert.is_true(gc(function(x, v) return F.gaussian_nll_loss(x, y, v, { full = true, reduction = red }) end,
        { x64(3, 4), var }))
      assert.is_true(gc(function(a, b) return F.cosine_embedding_loss(a, b, ypm, { margin = -0.5, reduction = red }) end,
        { x64(3, 4), x64(3, 4) }))
      assert.is_true(gc(function(a, b) return F.margin_ranking_loss(a, b, sgn, { margin = 0.1, reduction = red }) end,
        { x64(3, 4), x64(3, 4) }))
      assert.is_true(gc(function(x) return F.hinge_embedding_loss(x, sgn, { margin = 0.5, reduction = red }) end,
        { x64(3, 4) }))
      assert.is_true(gc(function(x) return F.multilabel_margin_loss(x, ml, o) end, { x64(3, 4) }))
      assert.is_true(gc(function(x) return F.multilabel_soft_margin_loss(x, (y:gt(0)):double(),
        { weight = w, reduction = red }) end, { x64(3, 4) }))
      assert.is_true(gc(function(x) return F.multi_margin_loss(x, cls, { p = 2, weight = w, reduction = red }) end,
        { x64(3, 4) }))
      assert.is_true(gc(function(x) return F.multi_margin_loss(x, cls, o) end, { x64(3, 4) }))
      assert.is_true(gc(function(x) return F.soft_margin_loss(x, sgn, o) end, { x64(3, 4) }))
      assert.is_true(gc(function(a, p, n) return F.triplet_margin_loss(a, p, n, { swap = true, reduction = red }) end,
        { x64(3, 4), x64(3, 4), x64(3, 4) }))
    end
  end)

  it('rejects bad targets and shapes with clear errors', function()
    local x = torch.randn(3, 4)
    H.assert_error(function() F.multi_margin_loss(x, torch.tensor { 1, 5, 2 }) end, 'out of range')
    H.assert_error(function() F.multi_margin_loss(x, torch.tensor { 1, 2 }) end, 'target of size 3')
    H.assert_error(function() F.multi_margin_loss(x, torch.tensor { 1, 2, 3 }, { p = 3 }) end, 'p == 1')
    H.assert_error(function() F.multilabel_margin_loss(x, torch.tensor { { 1, 5, 0, 0 }, { 1, 0, 0, 0 }, { 0, 0, 0, 0 } }) end,
      'out of range')
    H.assert_error(function() F.multilabel_margin_loss(x, torch.randn(3, 4)) end, 'integer')
    H.assert_error(function() F.gaussian_nll_loss(x, x, torch.rand(2)) end, 'incorrect size')
    H.assert_error(function() F.gaussian_nll_loss(x, x, -torch.rand(3, 4)) end, 'negative')
    H.assert_error(function() F.triplet_margin_loss(x, x, torch.randn(3, 5)) end, 'same shape')
    H.assert_error(function() F.triplet_margin_loss(x, x, x, { margin = 0 }) end, 'margin')
    H.assert_error(function() F.cosine_embedding_loss(x, x, torch.ones(3, 1)) end, 'target')
    H.assert_error(function() F.soft_margin_loss(x, torch.ones(4)) end, 'shape')
    H.assert_error(function() F.poisson_nll_loss(x, x, { reduction = 'avg' }) end, 'reduction')
  end)

  it('multilabel_margin_loss ignores the labels after the first 0', function()
    local x = torch.randn(2, 5)
    local a = F.multilabel_margin_loss(x, torch.tensor { { 2, 4, 0, 1, 3 }, { 5, 0, 2, 2, 2 } }, { reduction = 'none' })
    local b = F.multilabel_margin_loss(x, torch.tensor { { 2, 4, 0, 0, 0 }, { 5, 0, 0, 0, 0 } }, { reduction = 'none' })
    H.assert_close(a, b)
  end)
end)

describe('nn loss modules', function()
  before_each(function() torch.set_grad_enabled(true) end)
  local x, y = torch.randn(4, 5), torch.randn(4, 5)
  local p, yb = torch.rand(4, 5) * 0.9 + 0.05, torch.rand(4, 5)
  local labels = torch.tensor { 1, 5, 3, 3 }
  local w = torch.rand(5) + 0.5

  it('agree with the functional forms for every reduction', function()
    for _, red in ipairs { 'mean', 'sum', 'none' } do
      local o = { reduction = red }
      H.assert_close(nn.MSELoss(o)(x, y), F.mse_loss(x, y, o))
      H.assert_close(nn.L1Loss(o)(x, y), F.l1_loss(x, y, o))
      H.assert_close(nn.SmoothL1Loss { reduction = red, beta = 0.4 }(x, y), F.smooth_l1_loss(x, y, { reduction = red, beta = 0.4 }))
      H.assert_close(nn.HuberLoss(red, 0.6)(x, y), F.huber_loss(x, y, { reduction = red, delta = 0.6 }))
      H.assert_close(nn.BCELoss(w, o)(p, yb), F.binary_cross_entropy(p, yb, { weight = w, reduction = red }))
      H.assert_close(nn.BCEWithLogitsLoss { pos_weight = w, reduction = red }(x, yb),
        F.binary_cross_entropy_with_logits(x, yb, { pos_weight = w, reduction = red }))
      H.assert_close(nn.CrossEntropyLoss { weight = w, ignore_index = 3, label_smoothing = 0.1, reduction = red }(x, labels),
        F.cross_entropy(x, labels, { weight = w, ignore_index = 3, label_smoothing = 0.1, reduction = red }))
      local lp = x:log_softmax(2)
      H.assert_close(nn.NLLLoss(w, nil, 5, nil, red)(lp, labels),
        F.nll_loss(lp, labels, { weight = w, ignore_index = 5, reduction = red }))
      H.assert_close(nn.KLDivLoss(o)(lp, yb), F.kl_div(lp, yb, o))
      H.assert_close(nn.KLDivLoss { reduction = red, log_target = true }(lp, lp * 0.5),
        F.kl_div(lp, lp * 0.5, { reduction = red, log_target = true }))
    end
    H.assert_close(nn.KLDivLoss { reduction = 'batchmean' }(x:log_softmax(2), yb),
      F.kl_div(x:log_softmax(2), yb, { reduction = 'batchmean' }))
  end)

  it('map the legacy size_average / reduce to a reduction', function()
    assert.are.equal('sum', nn.MSELoss(false).reduction)
    assert.are.equal('none', nn.MSELoss { reduce = false }.reduction)
    assert.are.equal('mean', nn.L1Loss { size_average = true }.reduction)
    assert.are.equal('sum', nn.CrossEntropyLoss { size_average = false }.reduction)
    assert.are.equal('none', nn.MultiMarginLoss { size_average = false, reduce = false }.reduction)
    H.assert_close(nn.MSELoss { size_average = false }(x, y), F.mse_loss(x, y, { reduction = 'sum' }))
  end)

  it('keep class weights as buffers, PyTorch defaults as fields', function()
    local ce = nn.CrossEntropyLoss { weight = w }
    assert.are.equal(-100, ce.ignore_index)
    assert.are.equal(0.0, ce.label_smoothing)
    assert.are.equal('mean', ce.reduction)
    local sd = ce:state_dict()
    assert.are.same({ 5 }, dims(sd.weight))
    assert.is_nil(nn.CrossEntropyLoss():state_dict().weight)
    local d = nn.BCEWithLogitsLoss { weight = w, pos_weight = w }:double()
    assert.are.equal('float64', d.weight.dtype)
    assert.are.equal('float64', d.pos_weight.dtype)
    local t = nn.TripletMarginLoss()
    assert.are.equal(1.0, t.margin)
    assert.are.equal(2.0, t.p)
    assert.is_false(t.swap)
    assert.are.equal(1, nn.MultiMarginLoss().p)
    assert.is_true(nn.PoissonNLLLoss().log_input)
  end)

  it('backpropagate through the module form', function()
    local xr = x:clone():requires_grad_()
    nn.CrossEntropyLoss()(xr, labels):backward()
    local xr2 = x:clone():requires_grad_()
    F.cross_entropy(xr2, labels):backward()
    H.assert_close(xr.grad, xr2.grad)
  end)

  it('print as PyTorch prints them', function()
    assert.are.equal('MSELoss()', tostring(nn.MSELoss()))
    assert.are.equal('CrossEntropyLoss()', tostring(nn.CrossEntropyLoss { weight = w }))
    assert.are.equal('TripletMarginLoss()', tostring(nn.TripletMarginLoss { margin = 2 }))
  end)

  it('refuse unknown options, bad reductions and wrong argument counts', function()
    H.assert_error(function() nn.MSELoss { reductio = 'sum' } end, 'unknown option')
    H.assert_error(function() nn.MSELoss { reduction = 'avg' } end, 'reduction')
    H.assert_error(function() nn.CrossEntropyLoss { weight = 3 } end, 'weight must be a tensor')
    H.assert_error(function() nn.MSELoss()(x) end, 'expected 2 tensor arguments')
    H.assert_error(function() nn.MarginRankingLoss()(x, y) end, 'expected 3 tensor arguments')
    H.assert_error(function() nn.MSELoss()(x, 3) end, 'must be a tensor')
  end)
end)

describe('nn pooling modules', function()
  before_each(function() torch.set_grad_enabled(true) end)
  local x = torch.randn(2, 3, 9, 8)
  local x1 = torch.randn(2, 3, 11)

  it('agree with the functional forms', function()
    H.assert_close(nn.MaxPool2d(3, 2, 1)(x), F.max_pool2d(x, 3, { stride = 2, padding = 1 }))
    H.assert_close(nn.MaxPool2d({ 3, 2 }, { dilation = 2, ceil_mode = true })(x),
      F.max_pool2d(x, { 3, 2 }, { stride = { 3, 2 }, dilation = 2, ceil_mode = true }))
    H.assert_close(nn.MaxPool1d(3)(x1), F.max_pool1d(x1, 3))
    local v, i = nn.MaxPool2d(2, { return_indices = true })(x)
    local v2, i2 = F.max_pool2d(x, 2, { return_indices = true })
    H.assert_close(v, v2)
    assert.is_true(torch.equal(i, i2))
    local u = nn.MaxUnpool2d(2)(v, i)
    H.assert_close(u, F.max_unpool2d(v, i, 2))
    assert.are.same({ 2, 3, 8, 8 }, dims(u))
    assert.are.same({ 2, 3, 9, 8 }, dims(nn.MaxUnpool2d(2)(v, i, x:size())))
    local v1, i1 = nn.MaxPool1d(2, { return_indices = true })(x1)
    assert.are.same({ 2, 3, 11 }, dims(nn.MaxUnpool1d(2)(v1, i1, { 11 })))
    H.assert_close(nn.AvgPool2d(3, 2, 1, true, false)(x), F.avg_pool2d(x, 3, 2, 1, true, false))
    H.assert_close(nn.AvgPool2d(2, { divisor_override = 3 })(x), F.avg_pool2d(x, 2, { divisor_override = 3 }))
    H.assert_close(nn.AvgPool1d(3, 2, 1)(x1), F.avg_pool1d(x1, 3, 2, 1))
    H.assert_close(nn.AdaptiveAvgPool2d({ 4, 3 })(x), F.adaptive_avg_pool2d(x, { 4, 3 }))
    H.assert_close(nn.AdaptiveAvgPool2d({ 4, nil })(x), F.adaptive_avg_pool2d(x, { 4, 8 }))
    H.assert_close(nn.AdaptiveAvgPool1d(4)(x1), F.adaptive_avg_pool1d(x1, 4))
    H.assert_close(nn.AdaptiveMaxPool2d(3)(x), F.adaptive_max_pool2d(x, 3))
    local am, ai = nn.AdaptiveMaxPool1d(4, true)(x1)
    local bm, bi = F.adaptive_max_pool1d(x1, 4, { return_indices = true })
    H.assert_close(am, bm)
    assert.is_true(torch.equal(ai, bi))
    H.assert_close(nn.LPPool2d(2, 3, 2)(x:abs()), F.lp_pool2d(x:abs(), 2, 3, 2))
    H.assert_close(nn.LPPool1d(3, 2)(x1:abs()), F.lp_pool1d(x1:abs(), 3, 2))
  end)

  it('keep PyTorch defaults and print as PyTorch does', function()
    assert.are.equal('MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=false)', tostring(nn.MaxPool2d(2)))
    assert.are.equal('MaxPool2d(kernel_size=(3, 2), stride=1, padding=1, dilation=1, ceil_mode=true)',
      tostring(nn.MaxPool2d({ 3, 2 }, 1, 1, { ceil_mode = true })))
    assert.are.equal('AvgPool2d(kernel_size=3, stride=2, padding=1)', tostring(nn.AvgPool2d(3, 2, 1)))
    assert.are.equal('AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))', tostring(nn.AvgPool1d(3)))
    assert.are.equal('MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))', tostring(nn.MaxUnpool2d(2)))
    assert.are.equal('AdaptiveAvgPool2d(output_size=(7, 7))', tostring(nn.AdaptiveAvgPool2d({ 7, 7 })))
    assert.are.equal('AdaptiveMaxPool1d(output_size=5)', tostring(nn.AdaptiveMaxPool1d(5)))
    assert.are.equal('LPPool2d(norm_type=2, kernel_size=3, stride=nil, ceil_mode=false)', tostring(nn.LPPool2d(2, 3)))
    local m = nn.MaxPool2d(3, { return_indices = true })
    assert.is_true(m.return_indices)
    assert.are.equal(3, m.stride)
  end)

  it('refuse bad arguments', function()
    H.assert_error(function() nn.MaxPool2d() end, 'kernel_size')
    H.assert_error(function() nn.MaxPool2d(0) end, 'kernel_size')
    H.assert_error(function() nn.MaxPool2d(2, { strid = 1 }) end, 'unknown option')
    H.assert_error(function() nn.AvgPool2d({ 2, 2, 2 }) end, 'kernel_size')
    H.assert_error(function() nn.LPPool2d(nil, 2) end, 'norm_type')
    H.assert_error(function() nn.AvgPool2d(2, { divisor_override = 0 }) end, 'divisor_override')
    H.assert_error(function() nn.MaxPool2d(2)('x') end, 'expected a tensor')
  end)
end)

describe('nn.Embedding', function()
  before_each(function() torch.set_grad_enabled(true) end)

  it('looks up rows of its weight', function()
    local e = nn.Embedding(10, 4)
    local idx = torch.tensor { { 1, 3 }, { 10, 3 } }
    local y = e(idx)
    assert.are.same({ 2, 2, 4 }, dims(y))
    H.assert_close(y, F.embedding(idx, e.weight))
    H.assert_close(y[2][1], e.weight[10])
  end)

  it('initialises from N(0, 1) with the padding row zeroed', function()
    torch.manual_seed(3)
    local e = nn.Embedding(2000, 8, { padding_idx = 5 })
    local w = e.weight:detach()
    assert.are.equal(0, w[5]:abs():sum():item())
    assert.is_true(math.abs(w:mean():item()) < 0.02)
    assert.is_true(math.abs(w:std():item() - 1) < 0.02)
  end)

  it('gives the padding row no gradient', function()
    local e = nn.Embedding(6, 3, { padding_idx = -1 })
    assert.are.equal(6, e.padding_idx)
    local y = e(torch.tensor { 1, 6, 2, 6, 1 })
    local l = (y * torch.randn(5, 3)):sum()
    l:backward()
    assert.are.equal(0, e.weight.grad[6]:abs():sum():item())
    assert.is_true(e.weight.grad[1]:abs():sum():item() > 0)
    assert.are.equal(0, e.weight.grad[3]:abs():sum():item())
  end)

  it('renormalises referenced rows with max_norm', function()
    local e = nn.Embedding(5, 3, { max_norm = 1.0 })
    torch.no_grad(function() e.weight:mul_(10) end)
    e(torch.tensor { 2, 4 })
    local n = e.weight:detach():norm(2, { dim = 2 })
    assert.is_true(n[2] <= 1.0 + 1e-5 and n[4] <= 1.0 + 1e-5)
    assert.is_true(n[1] > 1.0)
  end)

  it('from_pretrained uses the weights, frozen by default', function()
    local w = torch.randn(4, 3)
    local e = nn.Embedding.from_pretrained(w)
    assert.is_false(e.weight.requires_grad)
    H.assert_close(e(torch.tensor { 2 }), w[{ { 2, 2 } }])
    assert.are.equal('Embedding(4, 3)', tostring(e))
    local f = nn.Embedding.from_pretrained(w, { freeze = false, padding_idx = 2 })
    assert.is_true(f.weight.requires_grad)
    H.assert_close(f.weight[2], w[2]) -- the padding row is kept as given
    f(torch.tensor { 1, 2 }):sum():backward()
    assert.are.equal(0, f.weight.grad[2]:abs():sum():item())
    H.assert_error(function() nn.Embedding.from_pretrained(torch.randn(3)) end, '2-d')
    H.assert_error(function() nn.Embedding.from_pretrained(w, { frozen = true }) end, 'unknown option')
  end)

  it('has a state_dict of one weight and loads it back', function()
    local e = nn.Embedding(7, 2)
    local sd = e:state_dict()
    local names = {}
    for k in pairs(sd) do names[#names + 1] = k end
    assert.are.same({ 'weight' }, names)
    assert.are.same({ 7, 2 }, dims(sd.weight))
    local f = nn.Embedding(7, 2)
    f:load_state_dict(sd)
    H.assert_close(f.weight, e.weight)
  end)

  it('prints as PyTorch does', function()
    assert.are.equal('Embedding(10, 3)', tostring(nn.Embedding(10, 3)))
    assert.are.equal('Embedding(10, 3, padding_idx=1)', tostring(nn.Embedding(10, 3, 1)))
    assert.are.equal('Embedding(10, 3, max_norm=2.0, norm_type=1.0)',
      tostring(nn.Embedding(10, 3, { max_norm = 2.0, norm_type = 1.0 })))
  end)

  it('refuses bad arguments', function()
    H.assert_error(function() nn.Embedding(-1, 3) end, 'num_embeddings')
    H.assert_error(function() nn.Embedding(4, 3, { padding_idx = 5 }) end, 'padding_idx')
    H.assert_error(function() nn.Embedding(4, 3, { padding_idx = 0 }) end, 'padding_idx')
    H.assert_error(function() nn.Embedding(4, 3, { sparse = true }) end, 'sparse')
    H.assert_error(function() nn.Embedding(4, 3, { scale_grad_by_freq = true }) end, 'scale_grad_by_freq')
    H.assert_error(function() nn.Embedding(4, 3)(torch.tensor { 5 }) end, 'out of range')
    H.assert_error(function() nn.Embedding(4, 3)(torch.tensor { 1.0 }) end, 'integer')
  end)
end)
