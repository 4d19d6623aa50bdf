-- Normalisation, padding and dropout layers against PyTorch fixtures
-- (scripts/fixtures/gen_nn_norm.py): outputs and input/weight/bias gradients in
-- training and eval mode, running statistics after training steps (momentum 0.1
-- and None = false), F.pad in every mode, F.normalize; dropout statistics and
-- train/eval behaviour; gradcheck in float64; state_dict names; errors.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_norm')

local function describe_args(args)
  local parts = {}
  for _, a in ipairs(args) do
    if type(a) == 'table' then
      local kv = {}
      for k, v in pairs(a) do
        kv[#kv + 1] = type(k) == 'number' and tostring(v) or (k .. '=' .. tostring(v))
      end
      table.sort(kv)
      parts[#parts + 1] = '{' .. table.concat(kv, ', ') .. '}'
    else
      parts[#parts + 1] = tostring(a)
    end
  end
  return table.concat(parts, ', ')
end

local function set(t, f)
  torch.no_grad(function() t:copy_(H.tensor(f)) end)
end

describe('nn normalisation layers', function()
  before_each(function() torch.set_grad_enabled(true) end) -- other specs (fuzz) may leave it off

  for k, c in ipairs(fx.modules) do
    for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
      it(('%d %s(%s) %s, %s'):format(k, c.ctor, describe_args(c.args), c.train and 'train' or 'eval', layout),
        function()
          local m = nn[c.ctor](table.unpack(c.args))
          if c.weight then set(m.weight, c.weight) end
          if c.bias then set(m.bias, c.bias) end
          if c.running_mean0 then
            set(m.running_mean, c.running_mean0)
            set(m.running_var, c.running_var0)
          end
          m:train(c.train)
          local x = H.tensor(c.x)
          if layout == 'non-contiguous' then x = H.noncontig(x) end
          x:requires_grad_()
          local out = m(x)
          H.assert_close(out, c.out, { rtol = 1e-5, atol = 1e-5 })
          out:backward(H.tensor(c.g))
          H.assert_close(x.grad, c.gx, { rtol = 1e-5, atol = 1e-5 })
          if c.gw then H.assert_close(m.weight.grad, c.gw, { rtol = 1e-5, atol = 1e-4 }) end
          if c.gb then H.assert_close(m.bias.grad, c.gb, { rtol = 1e-5, atol = 1e-4 }) end
          if c.running_mean then
            H.assert_close(m.running_mean, c.running_mean, { rtol = 1e-5, atol = 1e-6 })
            H.assert_close(m.running_var, c.running_var, { rtol = 1e-5, atol = 1e-6 })
          end
        end)
    end
  end

  for k, c in ipairs(fx.steps) do
    it(('%d running statistics after 3 steps: %s(%s)'):format(k, c.ctor, describe_args(c.args)), function()
      local m = nn[c.ctor](table.unpack(c.args))
      for _, x in ipairs(c.xs) do m(H.tensor(x)) end
      H.assert_close(m.running_mean, c.running_mean, { rtol = 1e-5, atol = 1e-6 })
      H.assert_close(m.running_var, c.running_var, { rtol = 1e-5, atol = 1e-6 })
      assert.equal('int64', m.num_batches_tracked.dtype)
      assert.equal(H.tensor(c.num_batches_tracked):item(), m.num_batches_tracked:item())
      -- eval mode uses the running statistics and leaves them alone
      m:eval()
      local x = H.tensor(c.xs[1])
      local rm = m.running_mean:clone()
      local y = m(x)
      H.assert_close(m.running_mean, rm)
      local d = x:dim()
      local shape = { 1, x:size(2) }
      for i = 3, d do shape[i] = 1 end
      local expect = (x - rm:view(shape)) / (m.running_var:view(shape) + m.eps):sqrt() * m.weight:view(shape)
        + m.bias:view(shape)
      H.assert_close(y, expect, { rtol = 1e-5, atol = 1e-5 })
    end)
  end

  it('BatchNorm: state_dict names, buffers and parameters', function()
    local bn = nn.BatchNorm2d(4)
    local names = {}
    for _, e in ipairs(bn:named_buffers()) do names[#names + 1] = e[1] end
    assert.same({ 'running_mean', 'running_var', 'num_batches_tracked' }, names)
    names = {}
    for _, e in ipairs(bn:named_parameters()) do names[#names + 1] = e[1] end
    assert.same({ 'weight', 'bias' }, names)
    local sd = bn:state_dict()
    for _, n in ipairs { 'weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked' } do
      assert.is_true(torch.isTensor(sd[n]), n)
    end
    assert.equal('int64', sd.num_batches_tracked.dtype)
    assert.equal(0, sd.num_batches_tracked:dim())
    local net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    assert.is_true(torch.isTensor(net:state_dict()['2.num_batches_tracked']))
    -- load_state_dict round trip
    bn:train()
    bn(torch.randn(3, 4, 2, 2))
    local bn2 = nn.BatchNorm2d(4)
    bn2:load_state_dict(bn:state_dict())
    H.assert_close(bn2.running_mean, bn.running_mean)
    assert.equal(1, bn2.num_batches_tracked:item())
    -- without running statistics / affine
    local b3 = nn.BatchNorm1d(3, { affine = false, track_running_stats = false })
    assert.same({}, b3:parameters())
    assert.same({}, b3:buffers())
    assert.equal('BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)', tostring(bn))
    assert.equal('BatchNorm1d(3, eps=1e-05, momentum=None, affine=true, track_running_stats=true)',
      tostring(nn.BatchNorm1d(3, { momentum = false })))
  end)

  it('BatchNorm without running statistics uses batch statistics in eval mode', function()
    local b = nn.BatchNorm1d(3, { track_running_stats = false })
    b:eval()
    local x = torch.randn(5, 3)
    local y = b(x)
    H.assert_close(y:mean(1), torch.zeros(3), { atol = 1e-5 })
    b:train()
    H.assert_close(b(x), y)
  end)

  it('InstanceNorm2d defaults and unbatched input', function()
    local m = nn.InstanceNorm2d(3)
    assert.is_nil(m.weight)
    assert.is_nil(m.running_mean)
    assert.equal('InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=false, track_running_stats=false)', tostring(m))
    local x = torch.randn(3, 4, 5)
    H.assert_close(m(x), m(x:unsqueeze(1)):squeeze(1))
  end)

  it('LayerNorm and GroupNorm options', function()
    local ln = nn.LayerNorm({ 4, 5 }, { bias = false })
    assert.is_nil(ln.bias)
    assert.same({ 4, 5 }, ln.weight:size())
    assert.equal('LayerNorm((4, 5), eps=1e-05, elementwise_affine=true)', tostring(ln))
    assert.equal('GroupNorm(2, 6, eps=1e-05, affine=true)', tostring(nn.GroupNorm(2, 6)))
    assert.equal('LocalResponseNorm(3, alpha=0.0001, beta=0.75, k=1.0)', tostring(nn.LocalResponseNorm(3)))
  end)

  it('input shape and argument errors', function()
    H.assert_error(function() nn.BatchNorm2d(3)(torch.randn(2, 3, 4)) end, 'expected 4D input (got 3D input)')
    H.assert_error(function() nn.BatchNorm1d(3)(torch.randn(2, 3, 4, 4)) end, 'expected 2D or 3D input (got 4D input)')
    H.assert_error(function() nn.BatchNorm3d(3)(torch.randn(2, 3, 4, 4)) end, 'expected 5D input (got 4D input)')
    H.assert_error(function() nn.BatchNorm2d(3)(torch.randn(2, 4, 4, 4)) end, 'expected input with 3 channels')
    H.assert_error(function() nn.BatchNorm1d(3)(torch.randn(1, 3)) end, 'expected more than 1 value per channel')
    H.assert_error(function() nn.BatchNorm1d(3, { bogus = 1 }) end, 'unknown option \'bogus\'')
    H.assert_error(function() nn.BatchNorm1d(0) end, 'num_features must be an integer >= 1')
    H.assert_error(function() nn.LayerNorm(4)(torch.randn(2, 5)) end, 'expected input with shape (*, 4)')
    H.assert_error(function() nn.GroupNorm(4, 6) end, 'must be divisible by num_groups')
    H.assert_error(function() F.group_norm(torch.randn(2, 6, 3), 4) end, 'divisible by num_groups')
    H.assert_error(function() F.batch_norm(torch.randn(4, 3), torch.zeros(4), torch.ones(3)) end,
      'running_mean should contain 3 elements not 4')
    H.assert_error(function() F.batch_norm(torch.randn(4, 3), nil, nil) end, 'must be given when training is false')
    H.assert_error(function() nn.InstanceNorm2d(3)(torch.randn(2, 3)) end, 'expected 3D or 4D input')
    H.assert_error(function() F.normalize(torch.randn(2, 3), 2, 3) end, 'out of range')
  end)
end)

describe('nn.functional pad and normalize', function()
  before_each(function() torch.set_grad_enabled(true) end)

  for k, c in ipairs(fx.functional) do
    for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
      it(('%d %s(%s), %s'):format(k, c.fn, describe_args(c.args), layout), function()
        local x = H.tensor(c.x)
        if layout == 'non-contiguous' then x = H.noncontig(x) end
        x:requires_grad_()
        local out = F[c.fn](x, table.unpack(c.args))
        H.assert_close(out, c.out, { rtol = 1e-5, atol = 1e-5 })
        out:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx, { rtol = 1e-5, atol = 1e-5 })
      end)
    end
  end

  it('pad errors', function()
    local x = torch.randn(2, 3, 4)
    H.assert_error(function() F.pad(x, { 1 }) end, 'divisible by 2')
    H.assert_error(function() F.pad(x, { 4, 0 }, 'reflect') end, 'must be less than the size')
    H.assert_error(function() F.pad(x, { 5, 0 }, 'circular') end, 'at most the size')
    H.assert_error(function() F.pad(x, { 1, 1 }, 'wrap') end, 'mode must be one of')
    H.assert_error(function() F.pad(x, { 1, 1 }, { mode = 'constant', fill = 2 }) end, 'unknown option \'fill\'')
    H.assert_error(function() F.pad(x, { 1, 1, 1, 1, 1, 1, 1, 1 }) end, 'too large')
    H.assert_error(function() F.pad(torch.randn(4), { 1, 1 }, 'reflect') end, 'expects a 2D or 3D input')
    H.assert_error(function() F.pad(x, { 1.5, 1 }) end, 'must hold integers')
    H.assert_error(function() F.pad(x, { -3, -2 }) end, 'below zero')
  end)

  it('padding modules', function()
    local x = torch.randn(1, 2, 3, 4)
    H.assert_close(nn.ZeroPad2d(1)(x), F.pad(x, { 1, 1, 1, 1 }))
    H.assert_close(nn.ZeroPad2d({ 1, 0, 2, 1 })(x), F.pad(x, { 1, 0, 2, 1 }))
    H.assert_close(nn.ConstantPad2d(2, 3.5)(x), F.pad(x, { 2, 2, 2, 2 }, 'constant', 3.5))
    H.assert_close(nn.ConstantPad1d({ 1, 2 }, -1)(x[1]), F.pad(x[1], { 1, 2 }, { value = -1 }))
    H.assert_close(nn.ReflectionPad2d({ 1, 2, 2, 1 })(x), F.pad(x, { 1, 2, 2, 1 }, 'reflect'))
    H.assert_close(nn.ReflectionPad1d(2)(x[1]), F.pad(x[1], { 2, 2 }, 'reflect'))
    H.assert_close(nn.ReplicationPad2d(2)(x), F.pad(x, { 2, 2, 2, 2 }, 'replicate'))
    H.assert_close(nn.ReplicationPad1d({ 0, 3 })(x[1]), F.pad(x[1], { 0, 3 }, 'replicate'))
    H.assert_close(nn.CircularPad2d(1)(x), F.pad(x, { 1, 1, 1, 1 }, 'circular'))
    assert.equal('ReflectionPad2d((1, 2, 2, 1))', tostring(nn.ReflectionPad2d({ 1, 2, 2, 1 })))
    assert.equal('ConstantPad1d((1, 2), value=3.5)', tostring(nn.ConstantPad1d({ 1, 2 }, 3.5)))
    H.assert_error(function() nn.ZeroPad2d({ 1, 2 }) end, 'a table of 4 integers')
    H.assert_error(function() nn.ReflectionPad2d(1)(torch.randn(4)) end, 'expected a 3D or 4D input')
  end)
end)

describe('dropout', function()
  before_each(function() torch.set_grad_enabled(true) end)

  it('F.dropout zeroes about p of the values and scales the rest by 1/(1-p)', function()
    torch.manual_seed(1)
    local x = torch.ones(200, 500)
    for _, p in ipairs { 0.1, 0.5, 0.8 } do
      local y = F.dropout(x, p)
      local zeros = y:eq(0):sum():item() / x:numel()
      assert.is_true(math.abs(zeros - p) < 0.01, ('p=%g: zero fraction %g'):format(p, zeros))
      local kept = y:masked_select(y:ne(0))
      H.assert_close(kept, torch.full({ kept:numel() }, 1 / (1 - p)), { rtol = 1e-6 })
      assert.is_true(math.abs(y:mean():item() - 1) < 0.03)
    end
    H.assert_close(F.dropout(x, 1), torch.zeros(200, 500))
    H.assert_close(F.dropout(x, 0), x)
    H.assert_close(F.dropout(x, 0.5, false), x)
    H.assert_close(F.dropout(x, { p = 0.5, training = false }), x)
  end)

  it('gradient flows through the kept values only', function()
    local x = torch.randn(50, 40, { requires_grad = true })
    local y = F.dropout(x, 0.3)
    y:sum():backward()
    local mask = y:detach():ne(0):to('float32')
    H.assert_close(x.grad, mask / 0.7, { rtol = 1e-6 })
  end)

  it('inplace writes into the input', function()
    local x = torch.ones(1000)
    local y = F.dropout(x, 0.5, true, true)
    assert.equal(x:data_ptr(), y:data_ptr())
    assert.is_true(x:eq(0):sum():item() > 0)
  end)

  it('channel dropout drops whole channels', function()
    torch.manual_seed(2)
    -- {fn, input size, number of mask entries (batch x channels, or channels)}
    local cases = {
      { F.dropout1d, { 40, 30, 7 }, 1200 }, { F.dropout2d, { 40, 30, 3, 4 }, 1200 },
      { F.dropout3d, { 20, 30, 2, 3, 2 }, 600 }, { F.dropout1d, { 300, 7 }, 300 },
      { F.dropout3d, { 300, 2, 2, 3 }, 300 }, { F.dropout2d, { 40, 30, 5 }, 1200 },
    }
    for _, c in ipairs(cases) do
      local x = torch.ones(c[2])
      local y = c[1](x, 0.4)
      local flat = y:reshape({ c[3], -1 })
      -- every channel is all zero or all 1/(1-p)
      local mn, mx = flat:amin(2), flat:amax(2)
      H.assert_close(mn, mx)
      local zeros = mn:eq(0):sum():item() / mn:numel()
      assert.is_true(math.abs(zeros - 0.4) < 0.1, ('zero fraction %g'):format(zeros))
    end
    H.assert_error(function() F.dropout2d(torch.randn(3, 4), 0.5) end, 'expected a 3D or 4D input')
  end)

  it('alpha_dropout keeps mean and variance of a standard normal input', function()
    torch.manual_seed(3)
    local x = torch.randn(400, 500)
    local y = F.alpha_dropout(x, 0.2, true)
    assert.is_true(math.abs(y:mean():item()) < 0.02)
    assert.is_true(math.abs(y:std():item() - 1) < 0.02)
    H.assert_close(F.alpha_dropout(x, 0.2), x) -- training defaults to false
    local z = F.feature_alpha_dropout(x:view(400, 500, 1), 0.5, true)
    H.assert_close(z:amin(3), z:amax(3))
  end)

  it('modules: train drops, eval is the identity', function()
    local x = torch.ones(100, 100)
    for _, name in ipairs { 'Dropout', 'AlphaDropout' } do
      local d = nn[name](0.5)
      assert.is_true(d(x):ne(1):sum():item() > 1000, name)
      d:eval()
      H.assert_close(d(x), x)
    end
    local d2 = nn.Dropout2d({ p = 0.25 })
    assert.equal(0.25, d2.p)
    assert.equal('Dropout2d(p=0.25, inplace=false)', tostring(d2))
    local x4 = torch.ones(8, 16, 3, 3)
    local y = d2(x4)
    H.assert_close(y:amin({ 3, 4 }), y:amax({ 3, 4 }))
    d2:eval()
    H.assert_close(d2(x4), x4)
    assert.equal('Dropout(p=0.5, inplace=false)', tostring(nn.Dropout()))
    local seq = nn.Sequential(nn.Linear(4, 4), nn.Dropout1d(0.5))
    seq:eval()
    assert.is_false(seq[2].training)
  end)

  it('rejects a probability outside [0, 1]', function()
    H.assert_error(function() nn.Dropout(1.5) end, 'dropout probability has to be between 0 and 1, but got 1.5')
    H.assert_error(function() nn.Dropout(-0.1) end, 'between 0 and 1')
    H.assert_error(function() F.dropout(torch.randn(3), 2) end, 'between 0 and 1')
    H.assert_error(function() F.dropout(torch.randn(3), { q = 1 }) end, 'unknown option \'q\'')
    H.assert_error(function() nn.Dropout(0.5, { bogus = true }) end, 'unknown option \'bogus\'')
  end)
end)

describe('normalisation gradcheck (float64)', function()
  before_each(function() torch.set_grad_enabled(true) end)

  it('passes for every layer', function()
    local gc = torch.autograd.gradcheck
    local function x64(...) return torch.randn({ ... }, { dtype = 'float64', requires_grad = true }) end
    local w, b = x64(3), x64(3)
    assert.is_true(gc(function(x, ww, bb) return F.batch_norm(x, nil, nil, ww, bb, true) end, { x64(4, 3, 2), w, b }))
    local rm, rv = torch.randn(3, { dtype = 'float64' }), torch.rand(3, { dtype = 'float64' }) + 0.5
    assert.is_true(gc(function(x, ww, bb) return F.batch_norm(x, rm, rv, ww, bb, false) end, { x64(4, 3, 2), w, b }))
    assert.is_true(gc(function(x, ww, bb) return F.layer_norm(x, { 2, 3 }, ww, bb) end,
      { x64(2, 2, 3), x64(2, 3), x64(2, 3) }))
    assert.is_true(gc(function(x, ww, bb) return F.group_norm(x, 3, ww, bb) end, { x64(2, 6, 2), x64(6), x64(6) }))
    assert.is_true(gc(function(x, ww, bb) return F.instance_norm(x, nil, nil, ww, bb) end, { x64(2, 3, 4), w, b }))
    assert.is_true(gc(function(x) return F.local_response_norm(x, 3, 0.1, 0.75, 1) end, { x64(2, 5, 3) }))
    assert.is_true(gc(function(x) return F.normalize(x, 2, 2) end, { x64(3, 4) }))
    assert.is_true(gc(function(x) return F.normalize(x, 3, 1) end, { x64(3, 4) }))
    for _, mode in ipairs { 'constant', 'reflect', 'replicate', 'circular' } do
      assert.is_true(gc(function(x) return F.pad(x, { 2, 1, 1, 2 }, mode) end, { x64(1, 2, 3, 3) }), mode)
    end
    assert.is_true(gc(function(x) return F.pad(x, { -1, 2 }, { value = 0.5 }) end, { x64(2, 4) }))
  end)
end)
