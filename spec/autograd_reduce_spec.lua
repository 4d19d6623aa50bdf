-- Autograd of reductions, scans, sorting and softmax: table-driven gradcheck of
-- every differentiable op (all elements and per dim, keepdim true/false, negative
-- dims, non-contiguous inputs), gradgradcheck where double backward applies, and
-- PyTorch's conventions checked on exact values: where max/median/sort route the
-- gradient, how ties are shared, subgradients at 0, zeros in prod/cumprod.
local torch = require 'torch'
local H = require 'spec.support.helpers'

local gradcheck, gradgradcheck = torch.autograd.gradcheck, torch.autograd.gradgradcheck

-- Distinct, nonzero float64 values with distinct magnitudes (a scaled permutation
-- shifted off the integers), so no op meets a tie or a kink under gradcheck's eps.
local function vals(shape, seed)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local g = torch.Generator():manual_seed(seed or 7)
  local p = torch.randperm(n, { generator = g }):double()
  return ((p - n / 2 - 0.75) * 0.3):view(shape):requires_grad_()
end

local X2 = vals({ 3, 4 }, 1)
local X3 = vals({ 2, 3, 2 }, 2)
local X0 = torch.tensor(0.7, { dtype = 'float64', requires_grad = true })

-- Each input as given and as a non-contiguous tensor with the same values.
local function layouts(x)
  return { { 'contiguous', x }, { 'non-contiguous', H.noncontig(x:detach()):requires_grad_() } }
end

local function check(fn, x, label)
  local ok, err = pcall(gradcheck, fn, { x })
  assert(ok, label .. ': ' .. tostring(err))
end

local function check2(fn, x, label)
  local ok, err = pcall(gradgradcheck, fn, { x })
  assert(ok, label .. ' (double backward): ' .. tostring(err))
end

local function dims_str(d)
  if d == nil then return 'all' end
  if type(d) == 'table' then return '{' .. table.concat(d, ',') .. '}' end
  return tostring(d)
end

-- ---- reductions over a set of dims: op(x, dims, keepdim) ----
local reductions = {
  sum = function(x, d, k) return x:sum(d, k) end,
  sum_dtype = function(x, d, k) return x:sum(d, { keepdim = k, dtype = 'float64' }) end,
  mean = function(x, d, k) return x:mean(d, k) end,
  prod = function(x, d, k) return x:prod(d, k) end,
  amax = function(x, d, k) return x:amax(d, k) end,
  amin = function(x, d, k) return x:amin(d, k) end,
  var = function(x, d, k) return x:var(d, { keepdim = k }) end,
  var_correction0 = function(x, d, k) return x:var(d, { keepdim = k, correction = 0 }) end,
  std = function(x, d, k) return x:std(d, { keepdim = k }) end,
  std_correction_half = function(x, d, k) return x:std(d, { keepdim = k, correction = 0.5 }) end,
  logsumexp = function(x, d, k) return x:logsumexp(d or { 1, 2 }, k) end,
}
for _, p in ipairs { 1, 2, 'fro', 3, 0.5, 1.5, -2, math.huge, -math.huge, 0 } do
  reductions['norm_p' .. tostring(p)] = function(x, d, k) return x:norm(p, d, k) end
end

local dim_sets = {
  { X2, { 'all', 1, 2, -1, { 1, 2 } } },
  { X3, { 'all', 2, -1, { 1, 3 }, { -1, -2 } } },
}

describe('autograd reductions', function()
  for name, fn in pairs(reductions) do
    it(name .. ' passes gradcheck (all elements, per dim, keepdim, negative dims, non-contiguous)', function()
      for _, set in ipairs(dim_sets) do
        local x, dimlist = set[1], set[2]
        for _, lay in ipairs(layouts(x)) do
          for _, dv in ipairs(dimlist) do
            local d = dv ~= 'all' and dv or nil
            for _, keep in ipairs { false, true } do
              check(function(a) return fn(a, d, keep) end, lay[2],
                ('%s %s dims=%s keepdim=%s'):format(name, lay[1], dims_str(d), tostring(keep)))
            end
          end
        end
      end
    end)
  end

  it('a 0-d input passes gradcheck for every reduction', function()
    for name, fn in pairs(reductions) do
      if name ~= 'logsumexp' and not name:match('^var') and not name:match('^std') then
        check(function(a) return fn(a, nil, false) end, X0, name .. ' 0-d')
      end
    end
    check(function(a) return a:logsumexp(1) end, X0, 'logsumexp 0-d')
  end)

  local doubles = { 'sum', 'mean', 'prod', 'var', 'std', 'logsumexp', 'norm_p2', 'norm_pfro', 'norm_p1',
    'norm_p' .. tostring(math.huge), 'amax', 'sum_dtype' }
  for _, name in ipairs(doubles) do
    it(name .. ' passes gradgradcheck', function()
      local fn = reductions[name]
      for _, d in ipairs { 2, -1, { 1, 3 } } do
        check2(function(a) return fn(a, d, false) end, X3, name .. ' dims=' .. dims_str(d))
      end
      check2(function(a) return fn(a, nil, true) end, X2, name .. ' all keepdim')
      check2(function(a) return fn(a, 1, true) end, H.noncontig(X2:detach()):requires_grad_(), name .. ' non-contiguous')
    end)
  end

  it('norm of other orders passes gradgradcheck (through pow)', function()
    for _, p in ipairs { 3, 1.5, 0.5, -2 } do
      check2(function(a) return a:norm(p, 2) end, X3, 'norm p=' .. p)
      check2(function(a) return a:norm(p) end, X2, 'norm p=' .. p .. ' all')
    end
  end)
end)

-- ---- max/min/median over all elements ----
describe('autograd max, min, median over all elements', function()
  for _, op in ipairs { 'max', 'min', 'median' } do
    it(op .. '() passes gradcheck and gradgradcheck', function()
      for _, x in ipairs { X2, X3, X0 } do
        for _, lay in ipairs(layouts(x)) do
          check(function(a) return a[op](a) end, lay[2], op .. ' ' .. lay[1])
        end
      end
      check2(function(a) return a[op](a) end, X2, op)
    end)
  end
end)

-- ---- ops along one dim: op(x, dim, keepdim) ----
local along = {
  max = function(x, d, k) return (x:max(d, k)) end,
  min = function(x, d, k) return (x:min(d, k)) end,
  median = function(x, d, k) return (x:median(d, k)) end,
  kthvalue = function(x, d, k) return (x:kthvalue(2, d, k)) end,
  mode = function(x, d, k) return (x:mode(d, k)) end,
  cumsum = function(x, d) return x:cumsum(d) end,
  cumprod = function(x, d) return x:cumprod(d) end,
  softmax = function(x, d) return x:softmax(d) end,
  log_softmax = function(x, d) return x:log_softmax(d) end,
  softmax_dtype = function(x, d) return x:softmax(d, { dtype = 'float64' }) end,
  sort = function(x, d) return (x:sort(d)) end,
  sort_descending = function(x, d) return (x:sort(d, true)) end,
  topk = function(x, d) return (x:topk(2, d)) end,
  topk_smallest = function(x, d) return (x:topk(2, d, false)) end,
}

describe('autograd ops along a dim', function()
  for name, fn in pairs(along) do
    it(name .. ' passes gradcheck (each dim, negative dims, keepdim, non-contiguous)', function()
      for _, x in ipairs { X2, X3 } do
        for _, lay in ipairs(layouts(x)) do
          for _, d in ipairs { 1, 2, -1 } do
            for _, keep in ipairs { false, true } do
              check(function(a) return fn(a, d, keep) end, lay[2],
                ('%s %s dim=%d keepdim=%s'):format(name, lay[1], d, tostring(keep)))
            end
          end
        end
      end
      if not name:match('^kthvalue') and not name:match('^topk') then -- k = 2 needs two elements
        check(function(a) return fn(a, 1, false) end, X0, name .. ' 0-d')
      end
    end)
  end

  for _, name in ipairs { 'cumsum', 'cumprod', 'softmax', 'log_softmax', 'softmax_dtype', 'max', 'median', 'sort',
    'topk' } do
    it(name .. ' passes gradgradcheck', function()
      for _, d in ipairs { 1, -1 } do
        check2(function(a) return along[name](a, d, false) end, X3, name .. ' dim=' .. d)
      end
      check2(function(a) return along[name](a, 2, true) end, H.noncontig(X2:detach()):requires_grad_(),
        name .. ' non-contiguous')
    end)
  end

  it('msort passes gradcheck', function()
    check(function(a) return a:msort() end, X2, 'msort')
  end)
end)

-- ---- two tensors: max(a, b), min(a, b) ----
describe('autograd max(a, b) and min(a, b)', function()
  it('pass gradcheck with broadcasting and non-contiguous operands', function()
    local a, b = vals({ 3, 1 }, 3), vals({ 4 }, 4)
    local c = vals({ 3, 4 }, 5)
    for _, op in ipairs { 'max', 'min' } do
      for _, pair in ipairs { { a, b }, { c, H.noncontig(c:detach() * 0.5):requires_grad_() } } do
        local ok, err = pcall(gradcheck, function(x, y) return x[op](x, y) end, pair)
        assert(ok, op .. ': ' .. tostring(err))
        ok, err = pcall(gradgradcheck, function(x, y) return torch[op](x, y) end, pair)
        assert(ok, op .. ' (double backward): ' .. tostring(err))
      end
    end
  end)

  it('split the gradient half and half on ties, as maximum/minimum', function()
    local a = torch.tensor({ 1.0, 2.0, 5.0 }, { requires_grad = true })
    local b = torch.tensor({ 1.0, 3.0, 4.0 }, { requires_grad = true })
    a:max(b):sum():backward()
    H.assert_close(a.grad, { 0.5, 0, 1 })
    H.assert_close(b.grad, { 0.5, 1, 0 })
    a.grad, b.grad = nil, nil
    torch.min(a, b):sum():backward()
    H.assert_close(a.grad, { 0.5, 1, 0 })
    H.assert_close(b.grad, { 0.5, 0, 1 })
    assert.equal('MaximumBackward', a:max(b).grad_fn:name())
  end)
end)

-- ---- PyTorch's conventions on exact values ----
describe('autograd reductions: where the gradient goes', function()
  local function grad_of(x, fn)
    x = x:detach():requires_grad_()
    fn(x):sum():backward()
    return x.grad
  end
  local T = function(v) return torch.tensor(v, { dtype = 'float64' }) end

  it('max/min with a dim route the gradient to the selected element only', function()
    local x = T { { 1, 3, 3 }, { 2, 2, 1 } }
    local _, i = x:max(2)
    H.assert_close(i, { 2, 1 })
    H.assert_close(grad_of(x, function(a) return (a:max(2)) end), { { 0, 1, 0 }, { 1, 0, 0 } })
    H.assert_close(grad_of(x, function(a) return (a:min(2, true)) end), { { 1, 0, 0 }, { 0, 0, 1 } })
    -- the positions are not differentiable
    local v, idx = x:requires_grad_():max(1)
    assert.is_true(v.requires_grad)
    assert.is_false(idx.requires_grad)
    assert.equal('MaxBackward', v.grad_fn:name())
  end)

  it('max()/min() over all elements and amax/amin share the gradient evenly among ties', function()
    local x = T { { 1, 3, 3 }, { 2, 2, 1 } }
    H.assert_close(grad_of(x, function(a) return a:max() end), { { 0, 0.5, 0.5 }, { 0, 0, 0 } })
    H.assert_close(grad_of(x, function(a) return a:min() end), { { 0.5, 0, 0 }, { 0, 0, 0.5 } })
    H.assert_close(grad_of(x, function(a) return a:amax(2) end), { { 0, 0.5, 0.5 }, { 0.5, 0.5, 0 } })
    H.assert_close(grad_of(x, function(a) return a:amin({ 1, 2 }) end), { { 0.5, 0, 0 }, { 0, 0, 0.5 } })
    local n = T { 1, 0 / 0, 2 } -- a NaN maximum takes the whole gradient
    H.assert_close(grad_of(n, function(a) return a:max() end), { 0, 1, 0 })
  end)

  it('median and kthvalue with a dim route the gradient to one element', function()
    local x = T { { 4, 2, 2, 9 }, { 1, 5, 3, 3 } }
    local _, i = x:median(2)
    local g = grad_of(x, function(a) return (a:median(2)) end)
    for r = 1, 2 do
      for c = 1, 4 do
        assert.equal(c == i[r] and 1 or 0, g[r][c])
      end
    end
    local _, k = x:kthvalue(3, 2)
    g = grad_of(x, function(a) return (a:kthvalue(3, 2)) end)
    for r = 1, 2 do
      for c = 1, 4 do
        assert.equal(c == k[r] and 1 or 0, g[r][c])
      end
    end
    -- median() over all elements shares evenly among the elements equal to it (PyTorch)
    H.assert_close(grad_of(T { 1, 2, 2, 3 }, function(a) return a:median() end), { 0, 0.5, 0.5, 0 })
    -- mode routes to the position it returns
    local m = T { 3, 1, 3, 2 }
    local _, mi = m:mode(1)
    g = grad_of(m, function(a) return (a:mode(1)) end)
    H.assert_close(g:sum(), 1)
    assert.equal(1, g[mi:item()])
  end)

  it('sort and topk scatter the values gradient back through the positions', function()
    local x = T { 3, 1, 2 }
    local w = T { 1, 10, 100 }
    H.assert_close(grad_of(x, function(a) return (a:sort()) * w end), { 100, 1, 10 })
    H.assert_close(grad_of(x, function(a) return (a:sort(1, true)) * w end), { 1, 100, 10 })
    H.assert_close(grad_of(x, function(a) return (a:topk(2)) * w:narrow(1, 1, 2) end), { 1, 0, 10 })
    H.assert_close(grad_of(x, function(a) return (a:topk(2, 1, false)) * w:narrow(1, 1, 2) end), { 0, 1, 10 })
    local m = T { { 2, 1 }, { 0, 5 } }
    H.assert_close(grad_of(m, function(a) return (a:sort(1)) * T { { 1, 2 }, { 3, 4 } } end), { { 3, 2 }, { 1, 4 } })
  end)

  it('prod with zeros gives the exact gradient, not a division by zero', function()
    H.assert_close(grad_of(T { 2, 0, 3 }, function(a) return a:prod() end), { 0, 6, 0 })
    H.assert_close(grad_of(T { 0, 0, 3 }, function(a) return a:prod() end), { 0, 0, 0 })
    H.assert_close(grad_of(T { { 2, 0, 3 }, { 4, 5, 6 } }, function(a) return a:prod(2) end),
      { { 0, 6, 0 }, { 30, 24, 20 } })
    H.assert_close(grad_of(T { { 2, 0 }, { 3, 4 } }, function(a) return a:prod({ 1, 2 }) end), { { 0, 24 }, { 0, 0 } })
    -- zeros in gradcheck and gradgradcheck (one and two zeros in a slice, several dims)
    local z = T { { 1.5, 0, 2, -1 }, { 0, 3, 0, 2 }, { 1.2, 0.7, -0.9, 1.1 } }:requires_grad_()
    for _, d in ipairs { 2, 1 } do
      check(function(a) return a:prod(d) end, z, 'prod with zeros dim ' .. d)
      check2(function(a) return a:prod(d) end, z, 'prod with zeros dim ' .. d)
    end
    check(function(a) return a:prod() end, z, 'prod with zeros, all')
    check2(function(a) return a:prod({ 1, 2 }) end, z, 'prod with zeros, dims {1,2}')
  end)

  it('cumprod with a zero gives the exact gradient, never NaN (first and second order)', function()
    H.assert_close(grad_of(T { 2, 0, 3 }, function(a) return a:cumprod(1) end), { 1, 8, 0 })
    H.assert_close(grad_of(T { 0, 2, 0, 3 }, function(a) return a:cumprod(1) end), { 3, 0, 0, 0 })
    local x = T { 2, 0, 3 }:requires_grad_()
    local g = torch.autograd.grad({ x:cumprod(1):sum() }, { x }, { create_graph = true })[1]
    H.assert_close(g, { 1, 8, 0 })
    local z = T { { 1.5, 0, 2, -1 }, { 0, 3, 0, 2 }, { 1.2, 0.7, -0.9, 1.1 } }:requires_grad_()
    for _, d in ipairs { 2, 1 } do
      check(function(a) return a:cumprod(d) end, z, 'cumprod with zeros dim ' .. d)
      check2(function(a) return a:cumprod(d) end, z, 'cumprod with zeros dim ' .. d)
    end
  end)

  it('norm, std and var take PyTorch subgradients at 0 (no NaN)', function()
    local z = T { 0, 0, 0 }
    for _, p in ipairs { 2, 1, 3, 0.5, math.huge, -math.huge, 0 } do
      H.assert_close(grad_of(z, function(a) return a:norm(p) end), { 0, 0, 0 })
    end
    H.assert_close(grad_of(T { 3, 0, -4 }, function(a) return a:norm(1) end), { 1, 0, -1 })
    -- p = 0.5: sgn(x) |x|^(-1/2) (sum |x|^(1/2))
    local s = 3 ^ 0.5 + 2
    H.assert_close(grad_of(T { 3, 0, -4 }, function(a) return a:norm(0.5) end), { s / 3 ^ 0.5, 0, -s / 2 })
    H.assert_close(grad_of(T { 3, -4, 4 }, function(a) return a:norm(math.huge) end), { 0, -0.5, 0.5 })
    H.assert_close(grad_of(T { 2, 2, 2 }, function(a) return a:std() end), { 0, 0, 0 })
    H.assert_close(grad_of(T { 2, 2, 2 }, function(a) return a:var() end), { 0, 0, 0 })
  end)

  it('softmax and log_softmax give PyTorch values', function()
    local x = T { 1, 2, 3 }
    local y = x:softmax(1)
    -- d/dx of y[1]: y1 (e1 - y)
    local g = grad_of(x, function(a) return a:softmax(1) * T { 1, 0, 0 } end)
    H.assert_close(g, { y[1] * (1 - y[1]), -y[1] * y[2], -y[1] * y[3] })
    g = grad_of(x, function(a) return a:log_softmax(1) end)
    H.assert_close(g, (1 - 3 * y):tolist())
  end)
end)

-- ---- dtypes, out=, fast path, non-differentiable ops ----
describe('autograd reductions: dtypes, out= and the fast path', function()
  it('dtype= computes in the asked dtype and gives the gradient in the input dtype', function()
    local x = torch.tensor({ { 1.0, 2.0 }, { 3.0, 4.0 } }, { requires_grad = true })
    x:sum(nil, { dtype = 'float64' }):backward()
    assert.equal('float32', x.grad.dtype)
    H.assert_close(x.grad, { { 1, 1 }, { 1, 1 } })
    for _, f in ipairs {
      function(a) return a:mean(2, { dtype = 'float64' }) end,
      function(a) return a:prod(1, { dtype = 'float64' }) end,
      function(a) return a:softmax(2, { dtype = 'float64' }) end,
      function(a) return a:log_softmax(1, { dtype = 'float64' }) end,
      function(a) return a:cumsum(2, { dtype = 'float64' }) end,
      function(a) return a:cumprod(1, { dtype = 'float64' }) end,
      function(a) return a:norm(2, 1, { dtype = 'float64' }) end,
    } do
      x.grad = nil
      local y = f(x)
      assert.equal('float64', y.dtype)
      local w = torch.arange(1, y:numel() + 1):double():view(y:size())
      local s = (y * w):sum()
      s:backward()
      assert.equal('float32', x.grad.dtype)
      local x64 = x:detach():double():requires_grad_()
      local s64 = (f(x64) * w):sum()
      s64:backward()
      H.assert_close(x.grad, x64.grad:float(), { rtol = 1e-5 })
    end
  end)

  it('float32 and float16 inputs get gradients of their own dtype', function()
    for _, dt in ipairs { 'float32', 'float16' } do
      local x = torch.tensor({ 3.0, 1.0, 2.0 }, { dtype = dt, requires_grad = true })
      local y = x:softmax(1) + x:cumsum(1) + (x:sort()) + x:max() + x:amax(1) + x:logsumexp(1);
      y:sum():backward()
      assert.equal(dt, x.grad.dtype)
    end
  end)

  it('out= with an input that requires grad is an error', function()
    local x = vals({ 2, 3 })
    local out = torch.empty(2, { dtype = 'float64' })
    local full = torch.empty(2, 3, { dtype = 'float64' })
    H.assert_error(function() x:sum(2, { out = out }) end, 'sum: out= cannot be used when an input requires grad')
    H.assert_error(function() x:prod(2, { out = out }) end, 'prod: out=')
    H.assert_error(function() x:amax(2, { out = out }) end, 'amax: out=')
    H.assert_error(function() x:norm(2, 2, { out = out }) end, 'norm: out=')
    H.assert_error(function() x:var(2, { out = out }) end, 'var: out=')
    H.assert_error(function() x:logsumexp(2, { out = out }) end, 'logsumexp: out=')
    H.assert_error(function() x:cumsum(2, { out = full }) end, 'cumsum: out=')
    H.assert_error(function() x:cumprod(2, { out = full }) end, 'cumprod: out=')
    -- without grad, out= works
    torch.no_grad(function() x:sum(2, { out = out }) end)
    H.assert_close(out, x:detach():sum(2))
  end)

  it('out= of the ops giving values and positions is refused with an input that requires grad', function()
    local x = vals({ 2, 3 })
    local function pair() return { torch.empty(0, { dtype = 'float64' }), torch.empty(0, { dtype = 'int64' }) } end
    H.assert_error(function() x:max(2, { out = pair() }) end, 'max: out= cannot be used when an input requires grad')
    H.assert_error(function() torch.min(x, 1, { out = pair() }) end, 'min: out=')
    H.assert_error(function() x:sort({ out = pair() }) end, 'sort: out=')
    H.assert_error(function() x:topk(2, { out = pair() }) end, 'topk: out=')
    H.assert_error(function() x:kthvalue(1, 2, { out = pair() }) end, 'kthvalue: out=')
    H.assert_error(function() x:median(2, { out = pair() }) end, 'median: out=')
    H.assert_error(function() x:mode(2, { out = pair() }) end, 'mode: out=')
    local o = pair()
    local v, i = torch.no_grad(function() return x:sort(2, { out = o }) end)
    assert.equal(o[1], v)
    assert.is_false(v.requires_grad)
    local ev, ei = x:detach():sort(2)
    H.assert_close(o[1], ev)
    H.assert_close(o[2], ei)
  end)

  it('records nothing without grad (fast path) and under no_grad', function()
    local x = vals({ 2, 3 }):detach()
    for _, y in ipairs { x:prod(), x:amax(1), (x:max(1)), x:norm(), x:var(), x:logsumexp(1), x:cumprod(2),
      x:softmax(1), (x:sort(2)), (x:topk(1)), x:max(x), (x:median(1)), (x:kthvalue(1, 2)) } do
      assert.is_false(y.requires_grad)
      assert.is_nil(y.grad_fn)
    end
    local r = vals({ 2, 3 })
    torch.no_grad(function()
      assert.is_false(r:prod().requires_grad)
      assert.is_false((r:sort(1)).requires_grad)
    end)
  end)

  it('argmax, argmin, all, any, count_nonzero, unique, allclose, equal are not differentiable', function()
    local x = vals({ 2, 3 })
    for _, y in ipairs { x:argmax(), x:argmin(2), x:ne(0):all(), x:gt(0):any(1), x:count_nonzero(), x:argsort(2),
      (x:unique()) } do
      assert.is_false(y.requires_grad)
      assert.is_nil(y.grad_fn)
    end
    assert.is_true(x:allclose(x))
    assert.is_true(x:equal(x))
  end)

  it('node names follow PyTorch', function()
    local x = vals({ 2, 3 })
    local names = {
      { x:prod(), 'ProdBackward' }, { x:amax(1), 'AmaxBackward' }, { x:max(), 'MaxBackward' },
      { x:var(), 'VarBackward' }, { x:std(), 'StdBackward' }, { x:norm(), 'NormBackward' },
      { x:logsumexp(1), 'LogsumexpBackward' }, { x:cumsum(1), 'CumsumBackward' },
      { x:cumprod(1), 'CumprodBackward' }, { x:softmax(1), 'SoftmaxBackward' },
      { x:log_softmax(1), 'LogSoftmaxBackward' }, { (x:sort(1)), 'SortBackward' }, { (x:topk(1)), 'TopkBackward' },
      { (x:kthvalue(1, 1)), 'KthvalueBackward' }, { (x:mode(1)), 'ModeBackward' },
      { (x:median(1)), 'MedianBackward' }, { x:min(x * 2), 'MinimumBackward' },
    }
    for _, p in ipairs(names) do assert.equal(p[2], p[1].grad_fn:name()) end
  end)

  it('a saved tensor modified in place is detected at backward', function()
    local x = vals({ 2, 3 })
    local y = x * 1
    local p = y:prod(2)
    y:mul_(2)
    H.assert_error(function() p:sum():backward() end, 'modified by an in-place operation')
    local v, i = x:max(2)
    i:fill_(1)
    H.assert_error(function() v:sum():backward() end, 'modified by an in-place operation')
  end)
end)
