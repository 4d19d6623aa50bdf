-- Reductions, scans, sorting and softmax against PyTorch 1.13 fixtures
-- (scripts/fixtures/gen_reduce.py), plus dtypes, NaN, ties, empty tensors and errors.
local torch = require 'torch'
local H = require 'spec.support.helpers'

local fx = H.fixture('reduce')
local inputs = {}
for name, t in pairs(fx.inputs) do inputs[name] = H.tensor(t) end

local function input(name)
  local A = inputs.A
  if name == 'A_narrow' then return A:narrow(3, 2, 2) end
  if name == 'A_expand' then return A:narrow(2, 1, 1):expand(2, 3, 4) end
  if name == 'A_t' then return A:transpose(1, 3) end
  return inputs[name]
end

local plain = { sum = true, mean = true, prod = true, amax = true, amin = true, all = true, any = true,
  count_nonzero = true, logsumexp = true }

local function call(c, x)
  local op, opts = c.op, { keepdim = c.keepdim, dtype = c.dtype }
  if plain[op] then return x[op](x, c.dims, opts) end
  if op == 'norm' then return x:norm(c.p, c.dims, opts) end
  if op == 'var' or op == 'std' then
    opts.unbiased, opts.correction = c.unbiased, c.correction
    return x[op](x, c.dims, opts)
  end
  if op == 'max' or op == 'min' or op == 'argmax' or op == 'argmin' or op == 'median' or op == 'mode' then
    if c.dims then return x[op](x, c.dims, opts) end
    return x[op](x)
  end
  if op == 'kthvalue' then return x:kthvalue(c.k, c.dims, opts) end
  if op == 'cumsum' or op == 'cumprod' or op == 'softmax' or op == 'log_softmax' then
    return x[op](x, c.dims, { dtype = c.dtype })
  end
  if op == 'sort' then return x:sort(c.dims, { descending = c.descending, stable = true }) end
  if op == 'topk' then return x:topk(c.k, c.dims, { largest = c.largest }) end
  if op == 'unique' then return x:unique({ dim = c.dims, return_inverse = true, return_counts = true }) end
  error('no call for ' .. op)
end

local function check(c, x)
  local got = table.pack(call(c, x))
  local want = c.out.dtype and { c.out } or c.out
  assert.equal(#want, got.n)
  for k = 1, #want do H.assert_close(got[k], want[k]) end
end

local function dims_str(d)
  if type(d) == 'table' then return '{' .. table.concat(d, ',') .. '}' end
  return tostring(d)
end

describe('reductions match PyTorch', function()
  for _, c in ipairs(fx.cases) do
    local extra = ''
    for _, key in ipairs { 'p', 'k', 'dtype', 'descending', 'largest', 'unbiased', 'correction' } do
      if c[key] ~= nil then extra = extra .. (' %s=%s'):format(key, tostring(c[key])) end
    end
    local name = ('%s(%s, dims=%s, keepdim=%s%s)'):format(c.op, c.input, dims_str(c.dims), tostring(c.keepdim), extra)
    it(name, function()
      local x = input(c.input)
      check(c, x)
      if x:is_contiguous() and x:dim() > 0 then check(c, H.noncontig(x)) end
    end)
  end
end)

describe('reduction dtypes', function()
  it('sums and products of integers and bools give int64', function()
    assert.equal('int64', torch.tensor({ 1, 2 }, { dtype = 'int32' }):sum().dtype)
    assert.equal('int64', torch.tensor({ true, true, false }):sum().dtype)
    assert.equal(2, torch.tensor({ true, true, false }):sum():item())
    assert.equal('int64', torch.tensor({ 3, 4 }, { dtype = 'int16' }):prod().dtype)
    assert.equal('int32', torch.tensor({ 1, 2 }, { dtype = 'int32' }):amax().dtype)
  end)
  it('sums int64 exactly', function()
    local big = 2 ^ 62 // 1
    assert.equal(big + 3, torch.tensor({ big, 1, 2 }):sum():item())
  end)
  it('all/any give bool (uint8 for uint8)', function()
    assert.equal('bool', torch.tensor({ 1, 2 }):all().dtype)
    assert.equal('uint8', torch.tensor({ 1, 0 }, { dtype = 'uint8' }):any().dtype)
    assert.is_true(torch.tensor({ 1.5, -2 }):all():item())
    assert.is_false(torch.tensor({ 0.0, 0.0 }):any():item())
  end)
  it('computes float16 in float32 and keeps the dtype', function()
    local h = torch.tensor({ 1.5, 2.25, 3 }, { dtype = 'float16' })
    assert.equal('float16', h:sum().dtype)
    assert.equal(6.75, h:sum():item())
    local v, i = h:max(1)
    assert.equal('float16', v.dtype)
    assert.equal(3, i:item())
    assert.equal('float16', h:sort().dtype)
  end)
  it('accumulates float32 sums precisely', function()
    local x = torch.full({ 1000003 }, 0.1)
    H.assert_close(x:sum(), { 100000.3 }, { rtol = 1e-6 })
  end)
  it('writes into out', function()
    local x = torch.tensor { { 1.0, 2 }, { 3, 4 } }
    local o = torch.zeros(2)
    local r = x:sum(2, { out = o })
    assert.is_true(r:is_set_to(o))
    H.assert_close(o, { 3, 7 })
    H.assert_error(function() x:sum(2, { out = torch.zeros(3) }) end, 'sum: out has shape 3, expected 2')
  end)
end)

describe('max/min and positions', function()
  it('returns values and 1-based indices', function()
    local x = torch.tensor { { 1, 9, 3 }, { 7, 2, 7 } }
    local v, i = x:max(2)
    H.assert_close(v, { 9, 7 })
    H.assert_close(i, { 2, 1 })
    v, i = torch.max(x, 1, { keepdim = true })
    H.assert_close(v, { { 7, 9, 7 } })
    H.assert_close(i, { { 2, 1, 2 } })
    assert.equal(2, x:argmax():item())
    assert.equal(1, x:argmin():item())
  end)
  it('picks the first index on ties, as PyTorch on CPU', function()
    local v, i = torch.tensor({ 1.0, 3, 3, 2 }):max(1)
    assert.equal(2, i:item())
    v, i = torch.tensor({ 5, 1, 1, 5 }):min(1)
    assert.equal(2, i:item())
    assert.equal(1, torch.tensor({ 5, 1, 1, 5 }):argmax():item())
  end)
  it('propagates NaN', function()
    local x = torch.tensor { 1.0, 0 / 0, 3, 0 / 0 }
    assert.is_true(x:max():item() ~= x:max():item())
    local v, i = x:max(1)
    assert.is_true(v:item() ~= v:item())
    assert.equal(2, i:item())
    assert.equal(2, x:argmin():item())
  end)
  it('takes two tensors as the elementwise maximum/minimum, broadcasting', function()
    local a = torch.tensor { { 1.0, 5 }, { 3, 0 } }
    H.assert_close(torch.max(a, torch.tensor { 2.0, 2 }), { { 2, 5 }, { 3, 2 } })
    H.assert_close(a:min(torch.tensor { 2.0, 2 }), { { 1, 2 }, { 2, 0 } })
    H.assert_close(torch.max(torch.tensor { 1.0, 2 }, torch.tensor { 0 / 0, 1 }), { 0 / 0, 2 })
    assert.equal('float32', torch.max(torch.tensor { 1, 2 }, torch.tensor { 1.5, 0 }).dtype)
  end)
  it('reports empty reductions and bad dims', function()
    H.assert_error(function() torch.zeros(0):max() end, 'max: cannot reduce an empty tensor')
    H.assert_error(function() torch.zeros(2, 0):max(2) end, 'max: cannot reduce over dimension 2 of size 0')
    H.assert_error(function() torch.zeros(2, 0):amax(2) end, 'amax: cannot reduce over an empty dimension')
    local v, i = torch.zeros(2, 0):max(1)
    assert.same({ 0 }, { v:numel() })
    H.assert_error(function() torch.zeros(2, 3):max(3) end, 'dimension 3 out of range')
    H.assert_error(function() torch.zeros(2, 3):sum(-3) end, 'out of range')
    H.assert_error(function() torch.zeros(2, 3):sum({ 1, 1 }) end, 'dim 1 appears more than once')
    H.assert_error(function() torch.zeros(2, 3):kthvalue(4, 2) end, 'kthvalue: k 4 is out of range for dimension 2 of size 3')
    H.assert_error(function() torch.zeros(2, 3):topk(4) end, 'topk: k 4 is out of range for dimension 2 of size 3')
  end)
  it('handles 0-d tensors', function()
    local s = torch.tensor(3.5)
    local v, i = s:max(1)
    assert.equal(3.5, v:item())
    assert.equal(1, i:item())
    assert.equal(3.5, s:sum(1):item())
    assert.equal(3.5, s:cumsum(1):item())
  end)
end)

describe('empty tensors and special values', function()
  it('gives sum 0, prod 1, mean nan over nothing', function()
    assert.equal(0, torch.zeros(0):sum():item())
    assert.equal(1, torch.zeros(0):prod():item())
    local m = torch.zeros(0):mean():item()
    assert.is_true(m ~= m)
    H.assert_close(torch.zeros(2, 0):sum(2), { 0, 0 })
  end)
  it('var of one element is nan; logsumexp of -inf is -inf', function()
    local v = torch.tensor({ 1.0 }):var():item()
    assert.is_true(v ~= v)
    assert.equal(-math.huge, torch.tensor({ -math.huge, -math.huge }):logsumexp(1):item())
    assert.equal(math.huge, torch.tensor({ math.huge, 1 }):logsumexp(1):item())
  end)
  it('rejects integer inputs where PyTorch does', function()
    local i = torch.tensor { 1, 2, 3 }
    H.assert_error(function() i:mean() end, 'mean: could not infer output dtype')
    H.assert_error(function() i:var() end, 'var: std and var only support floating point dtypes, got int64')
    H.assert_error(function() i:norm() end, 'norm: expected a floating point input, got int64')
    H.assert_error(function() i:softmax(1) end, 'softmax: expected a floating point input, got int64')
    H.assert_error(function() i:logsumexp() end, 'logsumexp: a dim')
    H.assert_error(function() i:cumsum() end, 'cumsum: a dim is required')
    assert.equal('float32', i:logsumexp(1).dtype)
    assert.equal('int64', torch.tensor({ 1, 2 }, { dtype = 'int32' }):cumsum(1).dtype)
  end)
end)

describe('sorting', function()
  it('sorts stably with 1-based indices, NaN last ascending', function()
    local v, i = torch.tensor({ 2, 1, 2, 1 }):sort()
    H.assert_close(v, { 1, 1, 2, 2 })
    H.assert_close(i, { 2, 4, 1, 3 })
    v, i = torch.tensor({ 1.0, 0 / 0, 3 }):sort({ descending = true })
    H.assert_close(v, { 0 / 0, 3, 1 })
    H.assert_close(i, { 2, 3, 1 })
    H.assert_close(torch.tensor({ 3, 1, 2 }):argsort(), { 2, 3, 1 })
    H.assert_close(torch.tensor({ 3, 1, 2 }):argsort(1, true), { 1, 3, 2 })
    H.assert_close(torch.tensor({ { 3, 1 }, { 2, 4 } }):msort(), { { 2, 1 }, { 3, 4 } })
  end)
  it('topk returns the largest or smallest k', function()
    local v, i = torch.tensor({ 5.0, 1, 4, 2 }):topk(2, 1, { largest = false })
    H.assert_close(v, { 1, 2 })
    H.assert_close(i, { 2, 4 })
    v = torch.tensor({ 5.0, 1, 4 }):topk(0)
    assert.equal(0, v:numel())
  end)
  it('accept sorted=false and stable= (sorted, stable results are valid for both)', function()
    local x = torch.tensor { 3.0, 1, 2, 1, 5 }
    local v, i = x:topk(3, { sorted = false })
    H.assert_close(v, { 5, 3, 2 })
    H.assert_close(i, { 5, 1, 3 })
    v, i = torch.topk(x, 2, 1, false, false)
    H.assert_close(v, { 1, 1 })
    H.assert_close(i, { 2, 4 })
    for _, stable in ipairs { true, false } do
      v, i = x:sort({ stable = stable, descending = true })
      H.assert_close(v, { 5, 3, 2, 1, 1 })
      H.assert_close(i, { 5, 1, 3, 2, 4 })
    end
    H.assert_close(x:argsort({ stable = true }), { 2, 4, 3, 1, 5 })
    H.assert_error(function() x:topk(2, { sorted = 1 }) end, "topk: option 'sorted' must be a boolean, got number")
    H.assert_error(function() x:sort({ stable = 'yes' }) end, "sort: option 'stable' must be a boolean, got string")
  end)
  it('unique gives sorted values, 1-based inverse, counts', function()
    local u, inv, cnt = torch.tensor({ { 3, 1 }, { 3, 2 } }):unique({ return_inverse = true, return_counts = true })
    H.assert_close(u, { 1, 2, 3 })
    H.assert_close(inv, { { 3, 1 }, { 3, 2 } })
    H.assert_close(cnt, { 1, 1, 2 })
    local only = torch.unique(torch.tensor { 2, 2 })
    H.assert_close(only, { 2 })
  end)
  it('unique over a dim gives the distinct slices in lexicographic order', function()
    local x = torch.tensor { { 1, 2, 1 }, { 0, 5, 0 }, { 1, 2, 1 } }
    local u, inv, cnt = torch.unique(x, { dim = 1, return_inverse = true, return_counts = true })
    H.assert_close(u, { { 0, 5, 0 }, { 1, 2, 1 } })
    H.assert_close(inv, { 2, 1, 2 })
    H.assert_close(cnt, { 1, 2 })
    u, inv = x:unique({ dim = -1, return_inverse = true })
    H.assert_close(u, { { 1, 2 }, { 0, 5 }, { 1, 2 } })
    H.assert_close(inv, { 1, 2, 1 })
    assert.equal('float32', torch.tensor({ { 1.5 }, { 1.5 } }, { dtype = 'float32' }):unique({ dim = 1 }).dtype)
    local b = torch.tensor({ true, false, true }):unique({ dim = 1 })
    H.assert_close(b, torch.tensor { false, true })
    local e = torch.zeros(0, 3):unique({ dim = 1 })
    assert.same({ 0, 3 }, { e:size(1), e:size(2) })
    H.assert_error(function() torch.zeros(3, 0):unique({ dim = 1 }) end, 'unique: dimension 2 has size 0')
    H.assert_error(function() torch.tensor(1):unique({ dim = 1 }) end, 'unique: dim given for a 0-d tensor')
    H.assert_error(function() x:unique({ dim = 3 }) end, 'unique: dimension 3 out of range')
    assert.is_false(torch.rand(2, 2):requires_grad_():unique({ dim = 1 }).requires_grad)
  end)
end)

describe('out= of the ops giving values and positions', function()
  local x = torch.tensor { { 3.0, 1, 2, 2 }, { 0, 5, 4, 0 } }
  local function pair(vdt) return { torch.empty(0, { dtype = vdt }), torch.empty(0, { dtype = 'int64' }) } end
  local cases = {
    { 'max', function(o) return torch.max(x, 2, { out = o }) end, function() return x:max(2) end },
    { 'max keepdim', function(o) return x:max(2, true, { out = o }) end, function() return x:max(2, true) end },
    { 'min', function(o) return x:min(1, { out = o }) end, function() return x:min(1) end },
    { 'sort', function(o) return x:sort(2, true, { out = o }) end, function() return x:sort(2, true) end },
    { 'topk', function(o) return torch.topk(x, 2, { out = o }) end, function() return x:topk(2) end },
    { 'kthvalue', function(o) return x:kthvalue(2, 2, { out = o }) end, function() return x:kthvalue(2, 2) end },
    { 'median', function(o) return x:median(1, { keepdim = true, out = o }) end,
      function() return x:median(1, true) end },
    { 'mode', function(o) return x:mode(2, { out = o }) end, function() return x:mode(2) end },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. ' writes into empty tensors, resizing them, and returns them', function()
      local o = pair('float32')
      local v, i = c[2](o)
      assert.equal(o[1], v)
      assert.equal(o[2], i)
      local ev, ei = c[3]()
      H.assert_close(v, ev)
      H.assert_close(i, ei)
    end)
  end
  it('write into tensors of the right shape, also non-contiguous ones', function()
    local vals = torch.full({ 2, 3 }, -1.0)
    local idx = torch.zeros(3, 2, { dtype = 'int64' })
    local v, i = x:topk(3, 2, { out = { vals, idx:t() } })
    assert.equal(vals, v)
    local ev, ei = x:topk(3, 2)
    H.assert_close(vals, ev)
    H.assert_close(idx:t(), ei)
    local iv = torch.zeros(2, { dtype = 'int64' })
    local ii = torch.zeros(2, { dtype = 'int64' })
    torch.max(torch.tensor { { 1, 7 }, { 9, 2 } }, 2, { out = { iv, ii } })
    H.assert_close(iv, { 7, 9 })
    H.assert_close(ii, { 2, 1 })
  end)
  it('check dtypes, shapes and the form of out', function()
    H.assert_error(function() x:sort(2, { out = { torch.zeros(3), torch.zeros(0, { dtype = 'int64' }) } }) end,
      'sort: out values have shape 3 but the result has shape 2x4 (only an empty out is resized)')
    H.assert_error(function() x:max(2, { out = pair('float64') }) end, 'max: out values must have dtype float32, got float64')
    H.assert_error(function() x:topk(1, { out = { torch.zeros(0), torch.zeros(0, { dtype = 'int32' }) } }) end,
      'topk: out indices must have dtype int64, got int32')
    H.assert_error(function() x:sort({ out = torch.zeros(0) }) end,
      "sort: option 'out' must be a table of two tensors {values, indices}, got one tensor")
    H.assert_error(function() x:sort({ out = { torch.zeros(0) } }) end, "sort: option 'out' must be a table of two tensors")
    local same = torch.zeros(0)
    H.assert_error(function() x:mode(2, { out = { same, same } }) end,
      'mode: out values and indices must be two different tensors')
    -- nothing was written when a check failed
    local v, i = torch.full({ 2 }, 7.0), torch.zeros(0, { dtype = 'int32' })
    pcall(function() x:max(2, { out = { v, i } }) end)
    H.assert_close(v, { 7, 7 })
  end)
end)

describe('allclose and equal', function()
  it('compares with tolerances and broadcasting', function()
    local a = torch.tensor({ { 1.0, 2 }, { 3, 4 } }, { dtype = 'float64' })
    local near = torch.tensor({ { 1.0 + 1e-7, 2 }, { 3, 4 } }, { dtype = 'float64' })
    local far = torch.tensor({ { 1.0, 2 }, { 3, 4.001 } }, { dtype = 'float64' })
    assert.is_true(torch.allclose(a, near))
    assert.is_false(a:allclose(far))
    assert.is_true(a:allclose(far, { atol = 1e-2 }))
    assert.is_true(a:allclose(far, { rtol = 1e-3 }))
    assert.is_true(torch.allclose(torch.ones(2, 3), torch.ones(3)))
    local n = torch.tensor { 0 / 0, 1 }
    assert.is_false(torch.allclose(n, n))
    assert.is_true(torch.allclose(n, n, { equal_nan = true }))
    assert.is_true(torch.allclose(torch.tensor { math.huge }, torch.tensor { math.huge }))
    H.assert_error(function() torch.allclose(torch.ones(2), torch.ones(3)) end, 'not broadcastable')
  end)
  it('equal needs the same shape and values', function()
    local a = torch.tensor { 1, 2, 3 }
    assert.is_true(torch.equal(a, torch.tensor { 1, 2, 3 }))
    assert.is_false(a:equal(torch.tensor { 1, 2, 4 }))
    assert.is_false(a:equal(torch.tensor { { 1, 2, 3 } }))
  end)
end)

describe('large reductions', function()
  it('splits long runs over threads and matches a double sum', function()
    local vals = {}
    for k = 1, 200000 do vals[k] = k end
    local x = torch.tensor(vals, { dtype = 'float32' })
    assert.equal(200000 * 200001 / 2, x:sum({ dtype = 'float64' }):item())
    H.assert_close(x:sum(), { 200000 * 200001 / 2 })
    assert.equal(200000, x:max():item())
    assert.equal(200000, x:argmax():item())
    local m = x:view(400, 500)
    H.assert_close(m:sum(1):sum(), { 200000 * 200001 / 2 })
    H.assert_close(m:t():sum(1):sum(), { 200000 * 200001 / 2 })
  end)
end)
