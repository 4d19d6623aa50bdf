-- Random numbers: determinism (seeds, states, generators, thread counts), ranges,
-- rough distribution checks (computed in Lua from tolist), multinomial and errors.
local torch = require 'torch'
local H = require 'spec.support.helpers'

local function flat(t)
  local out = {}
  local function walk(v)
    if type(v) == 'table' then for _, x in ipairs(v) do walk(x) end else out[#out + 1] = v end
  end
  walk(t:tolist())
  return out
end

local function mean_std(v)
  local s, s2 = 0, 0
  for _, x in ipairs(v) do s = s + x; s2 = s2 + x * x end
  local m = s / #v
  return m, math.sqrt(s2 / #v - m * m)
end

local function same(a, b)
  local x, y = flat(a), flat(b)
  if #x ~= #y then return false end
  for i = 1, #x do if x[i] ~= y[i] then return false end end
  return true
end

describe('seeding and generators', function()
  it('the same seed gives the same numbers', function()
    torch.manual_seed(42)
    local a, b = torch.rand(100), torch.randn(3, 4)
    torch.manual_seed(42)
    assert.is_true(same(a, torch.rand(100)))
    assert.is_true(same(b, torch.randn(3, 4)))
    assert.is_false(same(torch.rand(100), a))
    torch.manual_seed(43)
    assert.is_false(same(torch.rand(100), a))
  end)

  it('manual_seed returns the default generator; initial_seed and seed report seeds', function()
    local g = torch.manual_seed(7)
    assert.are.equal('torch.Generator', getmetatable(g).__name)
    assert.are.equal(g, torch.default_generator)
    assert.are.equal(7, torch.initial_seed())
    assert.are.equal(7, g:initial_seed())
    local s = torch.seed()
    assert.are.equal('integer', math.type(s))
    assert.is_true(s >= 0)
    assert.are.equal(s, torch.initial_seed())
  end)

  it('get_rng_state / set_rng_state round trip', function()
    torch.manual_seed(1)
    torch.rand(10)
    local st = torch.get_rng_state()
    assert.are.equal('uint8', st.dtype)
    local a = torch.randn(50)
    torch.rand(3)
    torch.set_rng_state(st)
    assert.is_true(same(a, torch.randn(50)))
  end)

  it('set_rng_state validates its argument', function()
    H.assert_error(function() torch.set_rng_state(torch.zeros(3, { dtype = 'uint8' })) end,
      'set_rng_state: expected a state of 24 bytes')
    H.assert_error(function() torch.set_rng_state(torch.zeros(24)) end, 'expected a uint8 cpu tensor')
    H.assert_error(function() torch.set_rng_state(5) end, 'set_rng_state: expected a uint8 tensor')
  end)

  it('generators are independent of the default one', function()
    local g = torch.Generator()
    g:manual_seed(5)
    local a = torch.rand(20, { generator = g })
    torch.manual_seed(5)
    local d = torch.rand(20)
    assert.is_true(same(a, d)) -- same seed, same stream
    g:manual_seed(5)
    torch.manual_seed(99)
    torch.rand(7) -- default advances; g does not
    assert.is_true(same(a, torch.rand(20, { generator = g })))
    local st = g:get_state()
    local b = torch.randint(0, 100, { 30 }, { generator = g })
    g:set_state(st)
    assert.is_true(same(b, torch.randint(0, 100, { 30 }, { generator = g })))
    assert.are.equal(5, g:initial_seed())
    assert.are.equal('integer', math.type(g:seed()))
    H.assert_error(function() torch.rand(2, { generator = 3 }) end, "option 'generator' must be a torch.Generator")
  end)

  it('every random op accepts {generator=}', function()
    local g1, g2 = torch.Generator(), torch.Generator()
    g1:manual_seed(3); g2:manual_seed(3)
    local ops = {
      function(g) return torch.randn(5, { generator = g }) end,
      function(g) return torch.randperm(9, { generator = g }) end,
      function(g) return torch.normal(0, 1, { 4 }, { generator = g }) end,
      function(g) return torch.normal(torch.zeros(4), torch.ones(4), { generator = g }) end,
      function(g) return torch.bernoulli(torch.full({ 6 }, 0.5), { generator = g }) end,
      function(g) return torch.multinomial(torch.ones(5), 3, { generator = g }) end,
      function(g) return torch.zeros(5):uniform_(0, 1, { generator = g }) end,
      function(g) return torch.zeros(5):normal_(0, 1, { generator = g }) end,
      function(g) return torch.zeros(5):bernoulli_(0.5, { generator = g }) end,
      function(g) return torch.zeros(5):random_(10, { generator = g }) end,
      function(g) return torch.zeros(5):exponential_(1, { generator = g }) end,
    }
    for _, op in ipairs(ops) do assert.is_true(same(op(g1), op(g2))) end
  end)

  it('results do not depend on the thread count', function()
    local n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(11)
    local a, b = torch.rand(200000), torch.randn(100001)
    torch.set_num_threads(math.max(2, n))
    torch.manual_seed(11)
    local c, d = torch.rand(200000), torch.randn(100001)
    torch.set_num_threads(n)
    assert.is_true(same(a, c))
    assert.is_true(same(b, d))
  end)

  it('in-place fills of non-contiguous tensors equal contiguous draws', function()
    torch.manual_seed(4)
    local a = torch.rand(3, 4)
    torch.manual_seed(4)
    local t = torch.zeros(4, 3):t()
    t:uniform_()
    assert.is_true(same(a, t))
  end)
end)

describe('rand and randn', function()
  it('rand is in [0, 1) with mean 1/2 and std 1/sqrt(12)', function()
    torch.manual_seed(0)
    local v = flat(torch.rand(100000))
    for _, x in ipairs(v) do assert(x >= 0 and x < 1, 'rand out of [0,1): ' .. x) end
    local m, s = mean_std(v)
    assert.is_true(math.abs(m - 0.5) < 0.01)
    assert.is_true(math.abs(s - 1 / math.sqrt(12)) < 0.01)
  end)

  it('accepts sizes as numbers, a table or a torch.Size, and options', function()
    assert.are.same({ 2, 3 }, { torch.rand(2, 3):size(1), torch.rand(2, 3):size(2) })
    assert.are.equal(6, torch.rand({ 2, 3 }):numel())
    assert.are.equal(6, torch.rand(torch.zeros(2, 3):size()):numel())
    assert.are.equal(0, torch.rand({}):dim())
    assert.are.equal('float64', torch.rand(2, { dtype = 'float64' }).dtype)
    assert.are.equal('float64', torch.randn({ 2 }, { dtype = 'float64' }).dtype)
    assert.are.equal(0, torch.rand(0, 3):numel())
  end)

  it('never returns 1 in reduced precision', function()
    torch.manual_seed(2)
    for _, dt in ipairs { 'float16', 'bfloat16', 'float64' } do
      local v = flat(torch.rand(20000, { dtype = dt }):float())
      for _, x in ipairs(v) do assert(x >= 0 and x < 1, dt .. ' out of range: ' .. x) end
    end
    local u = flat(torch.zeros(20000, { dtype = 'float16' }):uniform_(-1, 1):float())
    for _, x in ipairs(u) do assert(x >= -1 and x < 1, 'uniform_ out of range: ' .. x) end
  end)

  it('randn has mean 0 and std 1', function()
    torch.manual_seed(0)
    local m, s = mean_std(flat(torch.randn(100000)))
    assert.is_true(math.abs(m) < 0.02)
    assert.is_true(math.abs(s - 1) < 0.02)
  end)

  it('rejects integer dtypes and negative sizes', function()
    H.assert_error(function() torch.rand(2, { dtype = 'int64' }) end, 'rand: expected a floating-point dtype, got int64')
    H.assert_error(function() torch.randn(2, { dtype = 'bool' }) end, 'randn: expected a floating-point dtype')
    H.assert_error(function() torch.rand(-1) end, 'negative size')
    H.assert_error(function() torch.rand(2, 'x') end, 'expected sizes or an options table')
  end)
end)

describe('randint and randperm', function()
  it('randint(low, high, sizes) is in [low, high) and int64', function()
    torch.manual_seed(0)
    local t = torch.randint(-3, 4, { 10000 })
    assert.are.equal('int64', t.dtype)
    local seen = {}
    for _, x in ipairs(flat(t)) do
      assert(math.type(x) == 'integer' and x >= -3 and x < 4, 'randint out of range: ' .. x)
      seen[x] = true
    end
    for x = -3, 3 do assert.is_true(seen[x]) end
    local u = torch.randint(5, { 2, 3 })
    assert.are.same({ 2, 3 }, { u:size(1), u:size(2) })
    for _, x in ipairs(flat(u)) do assert(x >= 0 and x < 5) end
    assert.are.equal('int32', torch.randint(0, 3, { 2 }, { dtype = 'int32' }).dtype)
    local big = flat(torch.randint(0, 1 << 40, { 1000 }))
    for _, x in ipairs(big) do assert(x >= 0 and x < (1 << 40)) end
  end)

  it('randint errors', function()
    H.assert_error(function() torch.randint(5, 5, { 2 }) end, 'randint: expected low < high, got low=5, high=5')
    H.assert_error(function() torch.randint(0, 300, { 2 }, { dtype = 'uint8' }) end, 'does not fit dtype uint8')
    H.assert_error(function() torch.randint(0, 3, 2) end, 'randint: expected sizes as a table')
    H.assert_error(function() torch.randint(0.5, { 2 }) end, 'randint: high must be an integer')
  end)

  it('randperm(n) is a permutation of 1..n (1-based), int64', function()
    torch.manual_seed(0)
    local p = torch.randperm(1000)
    assert.are.equal('int64', p.dtype)
    local v = flat(p)
    local seen = {}
    for _, x in ipairs(v) do seen[x] = (seen[x] or 0) + 1 end
    for i = 1, 1000 do assert.are.equal(1, seen[i]) end
    assert.are.equal(0, torch.randperm(0):numel())
    H.assert_close(torch.randperm(1), { 1 })
    local sorted = true
    for i = 2, #v do sorted = sorted and v[i] > v[i - 1] end
    assert.is_false(sorted)
    H.assert_error(function() torch.randperm(-1) end, 'randperm: expected n >= 0, got -1')
  end)

  it('random_ draws integers in [from, to)', function()
    torch.manual_seed(0)
    for _, x in ipairs(flat(torch.zeros(1000):random_(3, 7))) do assert(x >= 3 and x < 7 and x == math.floor(x)) end
    for _, x in ipairs(flat(torch.zeros(1000, { dtype = 'int64' }):random_(4))) do assert(x >= 0 and x < 4) end
    for _, x in ipairs(flat(torch.zeros(1000, { dtype = 'uint8' }):random_())) do assert(x >= 0 and x <= 255) end
    H.assert_error(function() torch.zeros(2):random_(5, 1) end, 'random_: expected low < high')
  end)
end)

describe('normal, bernoulli, exponential', function()
  it('normal(mean, std, sizes) and normal_ have the asked moments', function()
    torch.manual_seed(0)
    local m, s = mean_std(flat(torch.normal(3, 2, { 100000 })))
    assert.is_true(math.abs(m - 3) < 0.03 and math.abs(s - 2) < 0.03)
    m, s = mean_std(flat(torch.zeros(100000, { dtype = 'float64' }):normal_(-1, 0.5)))
    assert.is_true(math.abs(m + 1) < 0.01 and math.abs(s - 0.5) < 0.01)
  end)

  it('normal(mean_tensor, std_tensor) broadcasts per element', function()
    torch.manual_seed(0)
    local mean = torch.tensor { 0.0, 100.0 }
    local std = torch.tensor { { 1e-6 }, { 1e-6 } }
    local r = torch.normal(mean, std)
    assert.are.same({ 2, 2 }, { r:size(1), r:size(2) })
    H.assert_close(r, { { 0, 100 }, { 0, 100 } }, { atol = 1e-3 })
    H.assert_close(torch.normal(mean, 0.0), { 0, 100 })
    H.assert_close(torch.normal(5.0, torch.zeros(3)), { 5, 5, 5 })
    H.assert_error(function() torch.normal(torch.zeros(2), torch.ones(3)) end, 'normal: shapes 2 and 3 are not broadcastable')
    H.assert_error(function() torch.normal(0, 1) end, 'normal: with numbers for mean and std, give the sizes')
    H.assert_error(function() torch.normal(0, -1, { 2 }) end, 'expected std >= 0')
  end)

  it('bernoulli draws with per-element probabilities', function()
    torch.manual_seed(0)
    local p = torch.tensor { 0.0, 1.0, 0.3 }:expand(3, 3)
    local r = torch.bernoulli(p:contiguous())
    assert.are.equal('float32', r.dtype)
    for i = 1, 3 do assert.are.equal(0, r[i][1]); assert.are.equal(1, r[i][2]) end
    local ones = 0
    for _, x in ipairs(flat(torch.bernoulli(torch.full({ 100000 }, 0.3)))) do ones = ones + x end
    assert.is_true(math.abs(ones / 100000 - 0.3) < 0.01)
    local b = flat(torch.bernoulli(torch.zeros(50000), 0.25))
    local m = mean_std(b)
    assert.is_true(math.abs(m - 0.25) < 0.01)
    local x = torch.zeros(4, 4)
    x:bernoulli_(torch.tensor { 0.0, 1.0, 0.0, 1.0 })
    H.assert_close(x[1], { 0, 1, 0, 1 })
    H.assert_error(function() torch.bernoulli(torch.tensor { 0.5, 1.5 }) end, 'bernoulli: probabilities must be in [0, 1], got 1.5')
    H.assert_error(function() torch.zeros(2):bernoulli_(2) end, 'bernoulli_: expected 0 <= p <= 1, got 2')
  end)

  it('exponential_ has mean 1/lambda', function()
    torch.manual_seed(0)
    local v = flat(torch.zeros(100000):exponential_(2))
    for _, x in ipairs(v) do assert(x >= 0) end
    assert.is_true(math.abs(mean_std(v) - 0.5) < 0.01)
    H.assert_error(function() torch.zeros(2):exponential_(0) end, 'exponential_: expected lambd > 0')
  end)

  it('in-place fills need floating tensors and valid ranges', function()
    H.assert_error(function() torch.zeros(2, { dtype = 'int64' }):uniform_() end, 'uniform_: expected a floating-point tensor, got int64')
    H.assert_error(function() torch.zeros(2):uniform_(1, 0) end, 'uniform_: expected from <= to, got from=1, to=0')
    local t = torch.zeros(1000):uniform_(-2, 3)
    for _, x in ipairs(flat(t)) do assert(x >= -2 and x < 3) end
  end)
end)

describe('multinomial', function()
  it('draws 1-based classes with the given frequencies (with replacement)', function()
    torch.manual_seed(0)
    local r = torch.multinomial(torch.tensor { 0.1, 0.0, 0.6, 0.3 }, 100000, true)
    assert.are.equal('int64', r.dtype)
    local c = { 0, 0, 0, 0 }
    for _, x in ipairs(flat(r)) do c[x] = c[x] + 1 end
    assert.are.equal(0, c[2])
    assert.is_true(math.abs(c[1] / 1e5 - 0.1) < 0.01)
    assert.is_true(math.abs(c[3] / 1e5 - 0.6) < 0.01)
    assert.is_true(math.abs(c[4] / 1e5 - 0.3) < 0.01)
  end)

  it('without replacement gives distinct classes; first picks follow the weights', function()
    torch.manual_seed(0)
    local probs = torch.tensor { { 1.0, 1, 1, 1, 1 }, { 0.0, 0, 5, 0, 1 } }
    local r = torch.multinomial(probs, 2)
    assert.are.same({ 2, 2 }, { r:size(1), r:size(2) })
    local row2 = flat(r[2])
    table.sort(row2)
    assert.are.same({ 3, 5 }, row2)
    local all = flat(torch.multinomial(torch.ones(6), 6))
    table.sort(all)
    assert.are.same({ 1, 2, 3, 4, 5, 6 }, all)
    local first = 0
    for _ = 1, 2000 do
      if torch.multinomial(torch.tensor { 0.8, 0.2 }, 1)[1] == 1 then first = first + 1 end
    end
    assert.is_true(math.abs(first / 2000 - 0.8) < 0.04)
  end)

  it('raises clear errors', function()
    H.assert_error(function() torch.multinomial(torch.tensor { 0.5, -0.1 }, 1) end,
      'multinomial: probabilities must be finite and non-negative, got -0.1')
    H.assert_error(function() torch.multinomial(torch.zeros(3), 1) end, 'multinomial: invalid distribution in row 1')
    H.assert_error(function() torch.multinomial(torch.ones(3), 4) end,
      'multinomial: cannot draw 4 samples without replacement from 3 classes')
    H.assert_error(function() torch.multinomial(torch.tensor { 1.0, 0.0, 0.0 }, 2) end, 'with non-zero probability')
    H.assert_error(function() torch.multinomial(torch.ones(2, 2, 2), 1) end, 'expected a 1-d or 2-d probability tensor, got 2x2x2')
    H.assert_error(function() torch.multinomial(torch.ones(3), 0) end, 'expected a positive number of samples, got 0')
    H.assert_error(function() torch.multinomial(torch.tensor { 1, 2 }, 1) end, 'expected floating-point probabilities, got int64')
  end)
end)
