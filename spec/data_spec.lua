-- The data package without worker processes: datasets (TensorDataset, Subset,
-- ConcatDataset, random_split), samplers, default_collate and the DataLoader's
-- options, batches and epochs. Counts, sizes and sequential batches are checked
-- against PyTorch (spec/fixtures/data.lua from scripts/fixtures/gen_data.py); the
-- random ones for reproducibility, coverage and rough frequencies.
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'
local data = require 'data'
local H = require 'spec.support.helpers'

local F = H.fixture('data')

local function collect(iter)
  local out = {}
  for v in iter do out[#out + 1] = v end
  return out
end

local function same_list(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

local function sorted(list)
  local c = table.move(list, 1, #list, 1, {})
  table.sort(c)
  return c
end

local function range(a, b)
  local t = {}
  for i = a, b do t[#t + 1] = i end
  return t
end

-- a map-style dataset defined the documented way: __len and get(i)
local Squares = torch.class('spec_data.Squares', 'data.Dataset')
function Squares:__init(n) self.n = n end
function Squares:__len() return self.n end
function Squares:get(i) return { torch.tensor({ i, i * i }, { dtype = 'float32' }), i } end

-- an iterable dataset yielding 1..n, with and without a length
local Counting = torch.class('spec_data.Counting', 'data.IterableDataset')
function Counting:__init(n) self.n = n end
function Counting:iter()
  local i = 0
  return function()
    if i < self.n then i = i + 1; return i end
  end
end
local SizedCounting = torch.class('spec_data.SizedCounting', 'spec_data.Counting')
function SizedCounting:__len() return self.n end

describe('datasets', function()
  it('a Dataset subclass answers #ds and ds[i] through get(i)', function()
    local ds = Squares(5)
    assert.are.equal(5, #ds)
    assert.are.same({ 3, 9 }, ds[3][1]:tolist())
    assert.are.equal(3, ds[3][2])
    assert.is_true(torch.isTypeOf(ds, 'data.Dataset'))
    H.assert_error(function() return #data.Dataset() end, 'must define __len')
    H.assert_error(function() return data.IterableDataset():iter() end, 'must define iter()')
  end)

  it('TensorDataset gives {x[i], y[i], ...} as tensors of the first dimension', function()
    local x, y = torch.randn(6, 3), torch.arange(1, 7)
    local ds = data.TensorDataset(x, y, x * 2)
    assert.are.equal(6, #ds)
    local s = ds[4]
    assert.are.equal(3, #s)
    H.assert_close(s[1], x[4])
    assert.are.equal(0, s[2]:dim()) -- 0-d, so collating keeps the dtype
    assert.are.equal('int64', s[2].dtype)
    assert.are.equal(4, s[2]:item())
    H.assert_close(s[3], x[4] * 2)
    -- the batched path equals collating the samples
    local b = ds:get_batch({ 5, 2, 2 })
    local c = data.default_collate({ ds[5], ds[2], ds[2] })
    for k = 1, 3 do H.assert_close(b[k], c[k]) end
  end)

  it('TensorDataset errors', function()
    H.assert_error(function() data.TensorDataset(torch.zeros(3), torch.zeros(4)) end,
      'size mismatch between tensors: argument #1 has 3 samples, argument #2 has 4')
    H.assert_error(function() data.TensorDataset() end, 'at least one tensor')
    H.assert_error(function() data.TensorDataset(torch.zeros(3), { 1, 2, 3 }) end, 'argument #2 is table')
    H.assert_error(function() data.TensorDataset(torch.tensor(1)) end, '0-d tensor')
    H.assert_error(function() return data.TensorDataset(torch.zeros(3))[4] end, 'index 4 out of range 1..3')
  end)

  it('Subset maps indices (a list or a tensor)', function()
    local ds = Squares(10)
    local s = data.Subset(ds, { 10, 2, 5 })
    assert.are.equal(3, #s)
    assert.are.equal(10, s[1][2])
    assert.are.equal(5, s[3][2])
    local t = data.Subset(ds, torch.tensor({ 7, 8 }))
    assert.are.equal(8, t[2][2])
    H.assert_error(function() return s[4] end, 'index 4 out of range 1..3')
    H.assert_error(function() data.Subset(ds, { 1.5 }) end, 'index 1 is not an integer')
    H.assert_error(function() data.Subset(ds, 'x') end, 'expected indices')
    -- a Subset of a TensorDataset keeps the batched path
    local td = data.TensorDataset(torch.arange(1, 11))
    local sub = data.Subset(td, { 3, 6, 9 })
    assert.are.same({ 9, 3 }, sub:get_batch({ 3, 1 })[1]:tolist())
    assert.is_nil(s.get_batch)
  end)

  it('ConcatDataset chains datasets (negative indices count from the end)', function()
    local c = data.ConcatDataset({ Squares(3), data.TensorDataset(torch.arange(101, 105)), { 'a', 'b' } })
    assert.are.equal(9, #c)
    assert.are.same({ 3, 7, 9 }, c.cumulative_sizes)
    assert.are.equal(3, c[3][2])
    assert.are.equal(101, c[4][1]:item())
    assert.are.equal(104, c[7][1]:item())
    assert.are.equal('a', c[8])
    assert.are.equal('b', c[9])
    assert.are.equal('b', c[-1])
    H.assert_error(function() return c[10] end, 'index 10 out of range 1..9')
    H.assert_error(function() return c[0] end, 'out of range')
    H.assert_error(function() data.ConcatDataset({}) end, 'non-empty list of datasets')
    H.assert_error(function() data.ConcatDataset({ Counting(3) }) end, 'is an IterableDataset, which ConcatDataset does not support')
  end)
end)

describe('random_split', function()
  it('turns fractions into lengths as PyTorch', function()
    for _, case in ipairs(F.random_split) do
      local parts = data.random_split(data.TensorDataset(torch.zeros(case.n)), case.fractions, 0)
      local got = {}
      for k, p in ipairs(parts) do got[k] = #p end
      assert.are.same(case.lengths, got, ('n=%d'):format(case.n))
    end
  end)

  it('gives disjoint subsets covering the dataset, reproducible with a seed', function()
    local ds = Squares(20)
    local function split(g) return data.random_split(ds, { 12, 5, 3 }, g) end
    local parts = split(7)
    local all = {}
    for _, p in ipairs(parts) do for _, i in ipairs(p.indices) do all[#all + 1] = i end end
    assert.are.same(range(1, 20), sorted(all))
    assert.are.same({ 12, 5, 3 }, { #parts[1], #parts[2], #parts[3] })
    assert.are.same(parts[1].indices, split(7)[1].indices)
    assert.are.same(parts[1].indices, split(torch.Generator():manual_seed(7))[1].indices)
    assert.is_false(same_list(parts[1].indices, split(8)[1].indices))
    torch.manual_seed(3)
    local a = split()
    torch.manual_seed(3)
    assert.are.same(a[2].indices, split()[2].indices)
    assert.are.equal(parts[2].indices[1], parts[2][1][2]) -- Squares' sample i carries i
  end)

  it('errors', function()
    local ds = Squares(10)
    H.assert_error(function() data.random_split(ds, { 5, 4 }) end, 'the lengths sum to 9, but the dataset has 10')
    H.assert_error(function() data.random_split(ds, { 1.5, -0.5 }) end, 'fraction at index 1 is not between 0 and 1')
    H.assert_error(function() data.random_split(ds, {}) end, 'non-empty list')
    H.assert_error(function() data.random_split(ds, { 0.5, 0.4 }) end, 'non-negative integers, or fractions summing to 1')
    H.assert_error(function() data.random_split(ds, { 5, 5 }, 'x') end, 'generator must be a torch.Generator or a seed')
  end)
end)

describe('samplers', function()
  it('SequentialSampler counts 1..n', function()
    local s = data.SequentialSampler(Squares(4))
    assert.are.equal(4, #s)
    assert.are.same({ 1, 2, 3, 4 }, collect(s:iter()))
    assert.are.same({}, collect(data.SequentialSampler({}):iter()))
  end)

  it('RandomSampler: a permutation, new each epoch, reproducible with a seed or generator', function()
    local s = data.RandomSampler(Squares(12))
    assert.are.equal(12, #s)
    torch.manual_seed(5)
    local a, b = collect(s:iter()), collect(s:iter())
    assert.are.same(range(1, 12), sorted(a))
    assert.is_false(same_list(a, b))
    torch.manual_seed(5)
    assert.are.same(a, collect(s:iter()))
    local g = data.RandomSampler(Squares(12), { generator = torch.Generator():manual_seed(9) })
    local c = collect(g:iter())
    assert.are.same(c, collect(data.RandomSampler(Squares(12), { generator = 9 }):iter()))
    assert.is_false(same_list(c, collect(g:iter()))) -- the generator moves on
  end)

  it('RandomSampler with num_samples and replacement', function()
    torch.manual_seed(0)
    local s = data.RandomSampler(Squares(5), { num_samples = 12 })
    assert.are.equal(12, #s)
    local v = collect(s:iter())
    assert.are.equal(12, #v)
    assert.are.same(range(1, 5), sorted(table.move(v, 1, 5, 1, {}))) -- whole permutations, then a cut one
    assert.are.same(range(1, 5), sorted(table.move(v, 6, 10, 1, {})))
    local r = data.RandomSampler(Squares(3), { replacement = true, num_samples = 100 })
    local w = collect(r:iter())
    assert.are.equal(100, #w)
    local seen = {}
    for _, i in ipairs(w) do
      assert.is_true(i >= 1 and i <= 3)
      seen[i] = true
    end
    assert.is_true(seen[1] and seen[2] and seen[3])
    assert.are.equal(6, #collect(data.RandomSampler(Squares(3), { replacement = true, num_samples = 6 }):iter()))
    H.assert_error(function() data.RandomSampler(Squares(3), { num_samples = 0 }) end,
      'num_samples should be a positive integer value')
    H.assert_error(function() data.RandomSampler(Squares(0)) end,
      'num_samples should be a positive integer value, but got num_samples=0')
    H.assert_error(function() data.RandomSampler(Squares(3), { replacement = 1 }) end,
      'replacement should be a boolean value')
    H.assert_error(function() data.RandomSampler(Squares(3), { replacment = true }) end, "did you mean 'replacement'")
    H.assert_error(function() data.RandomSampler(function() end) end, 'expected a map-style dataset')
  end)

  it('SubsetRandomSampler permutes the given indices', function()
    local s = data.SubsetRandomSampler({ 10, 20, 30, 40 }, { generator = 1 })
    assert.are.equal(4, #s)
    local a = collect(s:iter())
    assert.are.same({ 10, 20, 30, 40 }, sorted(a))
    torch.manual_seed(2)
    local u = data.SubsetRandomSampler(torch.tensor({ 3, 1, 4, 15, 9, 2, 6 }))
    local b = collect(u:iter())
    torch.manual_seed(2)
    assert.are.same(b, collect(u:iter()))
    assert.are.same({ 1, 2, 3, 4, 6, 9, 15 }, sorted(b))
  end)

  it('WeightedRandomSampler draws in proportion to the weights', function()
    torch.manual_seed(0)
    local s = data.WeightedRandomSampler({ 1, 2, 0, 7 }, 20000)
    assert.are.equal(20000, #s)
    local counts = { 0, 0, 0, 0 }
    for i in s:iter() do counts[i] = counts[i] + 1 end
    assert.are.equal(0, counts[3])
    for k, w in ipairs({ 0.1, 0.2, 0, 0.7 }) do
      assert.is_true(math.abs(counts[k] / 20000 - w) < 0.02, ('class %d: %d draws'):format(k, counts[k]))
    end
    local nr = collect(data.WeightedRandomSampler(torch.tensor({ 1, 1, 1, 1, 1 }), 5, { replacement = false }):iter())
    assert.are.same({ 1, 2, 3, 4, 5 }, sorted(nr))
    local g1 = collect(data.WeightedRandomSampler({ 1, 2, 3 }, 30, { generator = 4 }):iter())
    assert.are.same(g1, collect(data.WeightedRandomSampler({ 1, 2, 3 }, 30, { generator = 4 }):iter()))
    H.assert_error(function() data.WeightedRandomSampler({ 1, 2 }, 0) end, 'num_samples should be a positive integer')
    H.assert_error(function() data.WeightedRandomSampler(torch.ones(2, 2), 3) end, 'weights should be a 1-D sequence')
    H.assert_error(function() data.WeightedRandomSampler({ 1, 2 }, 3, { replacement = false }) end,
      'cannot draw 3 samples without replacement from 2 weights')
    H.assert_error(function() data.WeightedRandomSampler({ 1, 'x' }, 3) end, 'weight 2 is string')
  end)

  it('BatchSampler: lengths and batches as PyTorch', function()
    for _, case in ipairs(F.batch_sampler) do
      local s = data.BatchSampler(data.SequentialSampler(torch.zeros(case.n)), case.batch_size, case.drop_last)
      local what = ('n=%d batch_size=%d drop_last=%s'):format(case.n, case.batch_size, tostring(case.drop_last))
      assert.are.equal(case.len, #s, what)
      assert.are.same(case.batches, collect(s:iter()), what)
    end
  end)

  it("BatchSampler: the tutorials' example (RandomSampler over 5..14, batches of 3)", function()
    torch.manual_seed(0)
    local s = data.BatchSampler(data.RandomSampler(range(5, 14)), 3, false)
    assert.are.equal(4, #s)
    local batches = collect(s:iter())
    assert.are.equal(4, #batches)
    assert.are.same({ 3, 3, 3, 1 }, { #batches[1], #batches[2], #batches[3], #batches[4] })
    local all = {}
    for _, b in ipairs(batches) do for _, i in ipairs(b) do all[#all + 1] = i end end
    assert.are.same(range(1, 10), sorted(all)) -- indices into the list, 1-based
    local d = data.BatchSampler(data.RandomSampler(range(5, 14)), 3, true)
    assert.are.equal(3, #d)
    assert.are.equal(3, #collect(d:iter()))
    -- a plain list of indices works as the inner sampler
    assert.are.same({ { 7, 8 }, { 9 } }, collect(data.BatchSampler({ 7, 8, 9 }, 2, false):iter()))
    H.assert_error(function() data.BatchSampler(s, 0, false) end, 'batch_size should be a positive integer value')
    H.assert_error(function() data.BatchSampler(s, 2, 'no') end, 'drop_last should be a boolean value')
    H.assert_error(function() data.BatchSampler(5, 2, false) end, 'expected a sampler or a list')
  end)
end)

describe('default_collate', function()
  it('stacks a nested batch as PyTorch', function()
    local samples = {}
    for k = 1, 3 do
      local a = 2 * k - 1
      samples[k] = {
        torch.tensor({ a, a + 1 }, { dtype = 'float32' }),
        k + 2,
        ({ 1.5, 2.0, -0.5 })[k],
        { flag = k ~= 2, pair = { torch.tensor({ { a, a + 1 } }, { dtype = 'int32' }), k + 6 } },
      }
    end
    local b = data.default_collate(samples)
    local f = F.collate
    H.assert_close(b[1], f.t)
    H.assert_close(b[2], f.ints)
    H.assert_close(b[3], f.floats)
    H.assert_close(b[4].flag, f.flag)
    H.assert_close(b[4].pair[1], f.pair_t)
    H.assert_close(b[4].pair[2], f.pair_n)
    H.assert_close(data.default_collate({ torch.tensor(1.5), torch.tensor(2.5) }), F.collate_0d)
  end)

  it('keeps strings as a list and collates named fields', function()
    local b = data.default_collate({ { name = 'a', x = 1 }, { name = 'b', x = 2.5 } })
    assert.are.same({ 'a', 'b' }, b.name)
    H.assert_close(b.x, { 1, 2.5 }, { dtype = 'float64' })
    local t = data.default_collate({ { true }, { false } })
    assert.are.equal('bool', t[1].dtype)
    assert.are.same({}, data.default_collate({ {}, {} }))
  end)

  it('names the position of mismatched structures and shapes', function()
    H.assert_error(function()
      data.default_collate({ { torch.zeros(2), { img = torch.zeros(3, 4) } }, { torch.zeros(2), { img = torch.zeros(3, 5) } } })
    end, 'default_collate at [2].img: tensors differ in shape: sample 2 is 3x5, sample 1 is 3x4')
    H.assert_error(function() data.default_collate({ { 1, 2 }, { 1, 2 }, { 1 } }) end,
      'sample 3 has 1 elements, sample 1 has 2')
    H.assert_error(function() data.default_collate({ { a = 1 }, { b = 1 } }) end, "sample 2 has no key 'a'")
    H.assert_error(function() data.default_collate({ { a = 1 }, { a = 1, b = 2 } }) end, "sample 2 has key 'b', which sample 1 lacks")
    H.assert_error(function() data.default_collate({ { x = 1 }, { x = 'y' } }) end,
      'default_collate at .x: sample 2 is a string, but sample 1 is a number')
    H.assert_error(function() data.default_collate({ torch.zeros(1), 3 }) end, 'sample 2 is a number, but sample 1 is a tensor')
    H.assert_error(function() data.default_collate({ Squares(1), Squares(1) }) end, 'found a spec_data.Squares')
    H.assert_error(function() data.default_collate({}) end, 'non-empty list')
    H.assert_error(function() data.default_collate(torch.zeros(2)) end, 'expected a list of samples')
  end)

  it('default_convert leaves a sample as it is', function()
    local s = { torch.zeros(2), 3 }
    assert.are.equal(s, data.default_convert(s))
  end)
end)

describe('DataLoader', function()
  local function tds(n) return data.TensorDataset(torch.arange(1, 2 * n + 1):float():reshape(n, 2), torch.arange(1, n + 1)) end

  it('batches a TensorDataset as PyTorch', function()
    for _, case in ipairs(F.loader) do
      local dl = data.DataLoader(tds(11), { batch_size = case.batch_size, drop_last = case.drop_last })
      local what = ('batch_size=%d drop_last=%s'):format(case.batch_size, tostring(case.drop_last))
      assert.are.equal(case.len, #dl, what)
      local n = 0
      for i, b in dl:iter() do
        n = n + 1
        assert.are.equal(n, i)
        local x, y = b[1], b[2]
        H.assert_close(x, case.batches[i].x)
        H.assert_close(y, case.batches[i].y)
      end
      assert.are.equal(case.len, n, what)
    end
  end)

  it('batches a Dataset subclass through the collate function', function()
    local dl = data.DataLoader(Squares(5), { batch_size = 2 })
    local it = dl:iter()
    local i, b = it()
    assert.are.equal(1, i)
    H.assert_close(b[1], { { 1, 1 }, { 2, 4 } })
    H.assert_close(b[2], { 1, 2 }, { dtype = 'int64' })
    assert.are.equal(2, (it()))
    local i3, b3 = it()
    assert.are.equal(3, i3)
    assert.are.equal(1, b3[1]:size(1))
    assert.is_nil(it())
    assert.is_nil(it())
  end)

  it('shuffles: a new order each epoch, the same with the same seed', function()
    local dl = data.DataLoader(tds(10), { batch_size = 3, shuffle = true })
    local function epoch()
      local order = {}
      for _, b in dl:iter() do for _, v in ipairs(b[2]:tolist()) do order[#order + 1] = v end end
      return order
    end
    torch.manual_seed(11)
    local a, b = epoch(), epoch()
    assert.are.same(range(1, 10), sorted(a))
    assert.is_false(same_list(a, b))
    torch.manual_seed(11)
    assert.are.same(a, epoch())
    assert.are.same(b, epoch())
    local g1 = data.DataLoader(tds(10), { batch_size = 4, shuffle = true, generator = torch.Generator():manual_seed(1) })
    local g2 = data.DataLoader(tds(10), { batch_size = 4, shuffle = true, generator = torch.Generator():manual_seed(1) })
    for _ = 1, 2 do
      local o1, o2 = {}, {}
      for _, bb in g1:iter() do o1[#o1 + 1] = table.concat(bb[2]:tolist(), ',') end
      for _, bb in g2:iter() do o2[#o2 + 1] = table.concat(bb[2]:tolist(), ',') end
      assert.are.same(o1, o2)
    end
  end)

  it('takes a sampler or a batch sampler (objects or plain lists)', function()
    local ds = tds(6)
    local dl = data.DataLoader(ds, { sampler = { 6, 5, 4 }, batch_size = 2 })
    assert.are.equal(2, #dl)
    local got = {}
    for _, b in dl:iter() do got[#got + 1] = b[2]:tolist() end
    assert.are.same({ { 6, 5 }, { 4 } }, got)
    local bs = data.DataLoader(ds, { batch_sampler = { { 1, 3 }, { 2 }, { 6, 5, 4 } } })
    assert.are.equal(3, #bs)
    got = {}
    for _, b in bs:iter() do got[#got + 1] = b[2]:tolist() end
    assert.are.same({ { 1, 3 }, { 2 }, { 6, 5, 4 } }, got)
    local ws = data.DataLoader(ds, { sampler = data.WeightedRandomSampler({ 0, 0, 1, 0, 0, 0 }, 4), batch_size = 4 })
    local _, b = ws:iter()()
    assert.are.same({ 3, 3, 3, 3 }, b[2]:tolist())
    local sub = data.DataLoader(ds, { sampler = data.SubsetRandomSampler({ 2, 4 }), batch_size = 5 })
    local _, sb = sub:iter()()
    assert.are.same({ 2, 4 }, sorted(sb[2]:tolist()))
  end)

  it('batch_size=false gives one sample per item, not collated', function()
    local dl = data.DataLoader(Squares(3), { batch_size = false })
    assert.are.equal(3, #dl)
    local got = {}
    for i, s in dl:iter() do got[i] = s[2]; assert.are.equal(1, s[1]:dim()) end
    assert.are.same({ 1, 2, 3 }, got)
    local c = data.DataLoader(Squares(3), { batch_size = false, collate_fn = function(s) return s[2] * 10 end })
    got = {}
    for _, v in c:iter() do got[#got + 1] = v end
    assert.are.same({ 10, 20, 30 }, got)
    assert.are.equal(data.default_convert, dl.collate_fn)
  end)

  it('uses a custom collate_fn on the list of samples', function()
    local dl = data.DataLoader(Squares(4), { batch_size = 3, collate_fn = function(samples) return #samples end })
    local got = {}
    for _, n in dl:iter() do got[#got + 1] = n end
    assert.are.same({ 3, 1 }, got)
  end)

  it('iterable datasets: batches as PyTorch, #loader only with __len', function()
    for _, case in ipairs(F.iterable) do
      local dl = data.DataLoader(SizedCounting(case.n), { batch_size = case.batch_size, drop_last = case.drop_last })
      assert.are.equal(case.len, #dl)
      local got = {}
      for i, b in dl:iter() do got[i] = b end
      assert.are.equal(#case.batches, #got)
      for i = 1, #got do H.assert_close(got[i], case.batches[i]) end
    end
    local plain = data.DataLoader(Counting(4), { batch_size = false })
    local got = {}
    for _, v in plain:iter() do got[#got + 1] = v end
    assert.are.same({ 1, 2, 3, 4 }, got)
    H.assert_error(function() return #plain end, 'has no length; define __len')
    assert.are.equal(4, #data.DataLoader(SizedCounting(4), { batch_size = false }))
    assert.are.equal(0, #collect(data.DataLoader(Counting(0), { batch_size = 2 }):iter()))
  end)

  it('stops early on break and starts over with each iter()', function()
    local dl = data.DataLoader(tds(10), { batch_size = 2 })
    local n = 0
    for i in dl:iter() do
      n = i
      if i == 2 then break end
    end
    assert.are.equal(2, n)
    local count = 0
    for _ in dl:iter() do count = count + 1 end
    assert.are.equal(5, count)
    -- two iterators of one loader are independent without workers
    local a, b = dl:iter(), dl:iter()
    a(); a()
    local i, bb = b()
    assert.are.equal(1, i)
    assert.are.same({ 1, 2 }, bb[2]:tolist())
  end)

  it('rejects option combinations as PyTorch', function()
    local ds = tds(4)
    local cases = {
      { { sampler = { 1, 2 }, shuffle = true }, 'sampler option is mutually exclusive with shuffle' },
      { { batch_sampler = { { 1 } }, batch_size = 2 }, 'batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last' },
      { { batch_sampler = { { 1 } }, shuffle = true }, 'mutually exclusive with batch_size' },
      { { batch_sampler = { { 1 } }, sampler = { 1 } }, 'mutually exclusive with batch_size' },
      { { batch_sampler = { { 1 } }, drop_last = true }, 'mutually exclusive with batch_size' },
      { { batch_sampler = { { 1 } }, batch_size = false }, 'mutually exclusive with batch_size' },
      { { batch_size = false, drop_last = true }, 'mutually exclusive with drop_last' },
      { { num_workers = -1 }, 'num_workers option should be non-negative' },
      { { timeout = -1 }, 'timeout option should be non-negative' },
      { { timeout = 5 }, 'timeout option needs num_workers > 0' },
      { { prefetch_factor = 2 }, 'prefetch_factor option could only be specified in multiprocessing' },
      { { persistent_workers = true }, 'persistent_workers option needs num_workers > 0' },
      { { num_workers = 2, prefetch_factor = -1 }, 'prefetch_factor option should be a non-negative integer' },
      { { batch_size = 0 }, 'batch_size should be a positive integer' },
      { { batch_size = 2.5 }, 'batch_size should be a positive integer' },
      { { shuffle = 'yes' }, 'shuffle should be a boolean' },
      { { batchsize = 2 }, "unknown option 'batchsize' (did you mean 'batch_size'?)" },
      { { collate_fn = 3 }, 'collate_fn should be a function' },
      { { generator = 'g' }, 'generator must be a torch.Generator' },
      { { sampler = 3 }, 'sampler should be a sampler or a list' },
    }
    for _, c in ipairs(cases) do
      H.assert_error(function() data.DataLoader(ds, c[1]) end, c[2])
    end
    local it = Counting(3)
    H.assert_error(function() data.DataLoader(it, { shuffle = true }) end,
      'with an IterableDataset: expected unspecified shuffle option, but got shuffle=true')
    H.assert_error(function() data.DataLoader(it, { sampler = { 1 } }) end, 'expected unspecified sampler option')
    H.assert_error(function() data.DataLoader(it, { batch_sampler = { { 1 } } }) end, 'expected unspecified batch_sampler option')
    data.DataLoader(it, { shuffle = false }) -- false is the same as unspecified
    H.assert_error(function() data.DataLoader() end, 'expected a dataset')
    H.assert_error(function() data.DataLoader(function() end) end, 'expected a map-style dataset')
    -- accepted: pin_memory (a no-op here), options that PyTorch allows together
    data.DataLoader(ds, { pin_memory = true, batch_size = 2, drop_last = true, shuffle = true })
    data.DataLoader(ds, { batch_sampler = { { 1 } }, batch_size = 1 })
  end)

  it('reports a dataset that gives nil', function()
    local dl = data.DataLoader({ 1, 2 }, { sampler = { 1, 3 }, batch_size = 2 })
    H.assert_error(function() for _ in dl:iter() do end end, 'gave nil for index 3')
  end)

  it('names the missing worker module when num_workers > 0 and no pool exists', function()
    if data._WorkerPool then return end -- lua/data/workers.lua present: its own spec covers workers
    local dl = data.DataLoader(tds(4), { num_workers = 2 })
    assert.are.equal(2, dl.prefetch_factor)
    H.assert_error(function() for _ in dl:iter() do end end, 'worker processes are not available')
  end)

  it('trains a linear model whose loss falls (TensorDataset + DataLoader + SGD)', function()
    torch.manual_seed(0)
    local n = 256
    local x = torch.randn(n, 4)
    local w = torch.tensor({ { 1.5 }, { -2.0 }, { 0.5 }, { 3.0 } })
    local y = x:mm(w) + 0.7 + torch.randn(n, 1) * 0.01
    local loader = data.DataLoader(data.TensorDataset(x, y), { batch_size = 16, shuffle = true })
    local net = nn.Linear(4, 1)
    local opt = optim.SGD(net:parameters(), { lr = 0.05 })
    local mse = nn.MSELoss()
    local first, last
    for _ = 1, 5 do
      local total = 0
      for _, batch in loader:iter() do
        local bx, by = batch[1], batch[2]
        opt:zero_grad()
        local loss = mse(net(bx), by)
        loss:backward()
        opt:step()
        total = total + loss:item()
      end
      first = first or total / #loader
      last = total / #loader
    end
    assert.is_true(first > 1, 'first epoch loss ' .. first)
    assert.is_true(last < 0.01, 'last epoch loss ' .. last)
  end)
end)

-- The loader's side of the worker interface, against an in-process stand-in for
-- data._WorkerPool (the real one, lua/data/workers.lua, has its own spec): the pool
-- options, the epoch plan, the fetch function, the per-epoch seed and when pools
-- are shut down.
describe('DataLoader with a worker pool (stand-in)', function()
  local saved, pools
  before_each(function()
    saved, pools = data._WorkerPool, {}
    data._WorkerPool = function(o)
      local pool = { opts = o, runs = 0, closed = false }
      function pool:run(plan)
        assert(not self.closed, 'run on a closed pool')
        self.runs = self.runs + 1
        self.plan = plan
        if o.iterable then -- group the stream as the worker module does
          local nxt = o.dataset:iter()
          return function()
            local samples = {}
            for k = 1, o.batch_size or 1 do
              local v = nxt()
              if v == nil then break end
              samples[k] = v
            end
            if #samples == 0 or (o.drop_last and #samples < o.batch_size) then return nil end
            return o.fetch(o.dataset, samples)
          end
        end
        local k = 0
        return function()
          k = k + 1
          if plan[k] ~= nil then return o.fetch(o.dataset, plan[k]) end
        end
      end
      function pool:shutdown() self.closed = true end
      pools[#pools + 1] = pool
      return pool
    end
  end)
  after_each(function() data._WorkerPool = saved end)

  local function tds(n) return data.TensorDataset(torch.arange(1, n + 1)) end

  it('passes its options and the plan of the epoch; batches equal num_workers=0', function()
    local init = function() end
    local dl = data.DataLoader(tds(7), { batch_size = 3, num_workers = 2, worker_init_fn = init, timeout = 4 })
    local got = {}
    for i, b in dl:iter() do got[i] = b[1]:tolist() end
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 }, { 7 } }, got)
    local o = pools[1].opts
    assert.are.equal(2, o.num_workers)
    assert.are.equal(2, o.prefetch_factor)
    assert.are.equal(4, o.timeout)
    assert.are.equal(init, o.worker_init_fn)
    assert.are.equal(3, o.batch_size)
    assert.is_false(o.drop_last)
    assert.is_false(o.iterable)
    assert.are.equal('integer', math.type(o.seed))
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 }, { 7 } }, pools[1].plan)
    assert.is_true(pools[1].closed) -- the epoch ended
    -- with a seed, the shuffled batches match those of num_workers=0
    local function epoch(workers)
      torch.manual_seed(21)
      local l = data.DataLoader(tds(9), { batch_size = 4, shuffle = true, num_workers = workers })
      local out = {}
      for _, b in l:iter() do out[#out + 1] = table.concat(b[1]:tolist(), ',') end
      return out, l._base_seed
    end
    local a, sa = epoch(0)
    local b, sb = epoch(2)
    assert.are.same(a, b)
    assert.are.equal(sa, sb)
    assert.are.equal(sb, pools[#pools].opts.seed)
  end)

  it('no-batch mode fetches single indices; iterable datasets get lists of samples', function()
    local dl = data.DataLoader(tds(3), { batch_size = false, num_workers = 1 })
    local got = {}
    for _, s in dl:iter() do got[#got + 1] = s[1]:item() end
    assert.are.same({ 1, 2, 3 }, got)
    assert.are.same({ 1, 2, 3 }, pools[1].plan)
    local it = data.DataLoader(SizedCounting(5), { batch_size = 2, num_workers = 2 })
    got = {}
    for _, b in it:iter() do got[#got + 1] = b:tolist() end
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5 } }, got)
    assert.is_true(pools[2].opts.iterable)
    assert.is_nil(pools[2].plan)
  end)

  it('shuts the pool down on break, on a new epoch and on collection; persistent pools stay', function()
    local dl = data.DataLoader(tds(10), { batch_size = 2, num_workers = 2 })
    for i in dl:iter() do if i == 2 then break end end
    assert.is_true(pools[1].closed)
    local it = dl:iter()
    it()
    assert.is_false(pools[2].closed)
    local it2 = dl:iter() -- a new epoch ends the previous one's workers
    assert.is_true(pools[2].closed)
    H.assert_error(function() it() end, 'ended by a later iter() call')
    it2()
    it2 = nil
    collectgarbage(); collectgarbage()
    assert.is_true(pools[3].closed)
    local p = data.DataLoader(tds(4), { batch_size = 2, num_workers = 2, persistent_workers = true })
    for _ = 1, 3 do
      local n = 0
      for _ in p:iter() do n = n + 1 end
      assert.are.equal(2, n)
    end
    assert.are.equal(4, #pools)
    assert.are.equal(3, pools[4].runs)
    assert.is_false(pools[4].closed)
    p = nil
    collectgarbage(); collectgarbage()
    assert.is_true(pools[4].closed)
  end)
end)

describe('DataLoader with worker processes', function()
  local data = require 'data'
  it('gives the batches of the in-process loop, in order, for the same seed', function()
    local x, y = torch.randn(50, 3), torch.arange(50)
    local ds = data.TensorDataset(x, y)
    local function epoch(workers)
      torch.manual_seed(7)
      local loader = data.DataLoader(ds, { batch_size = 8, shuffle = true, num_workers = workers })
      local out = {}
      for i, b in loader:iter() do out[i] = b end
      return out, #loader
    end
    local a, na = epoch(0)
    local b, nb = epoch(2)
    assert.are.equal(na, nb)
    assert.are.equal(#a, #b)
    for i = 1, #a do
      assert.is_true(torch.equal(a[i][1], b[i][1]) and torch.equal(a[i][2], b[i][2]), 'batch ' .. i)
    end
  end)

  it('runs iterable datasets in workers, sharded by get_worker_info, batched or not', function()
    local It, parent = torch.class('SpecWorkerIterable', 'data.IterableDataset')
    function It:__init(n) parent.__init(self); self.n = n end
    function It:iter()
      local info = data.get_worker_info()
      local k, step = info and info.id or 1, info and info.num_workers or 1
      local i = k - step
      return function()
        i = i + step
        if i <= self.n then return torch.tensor(i) end
      end
    end
    local seen = {}
    for _, b in data.DataLoader(It(10), { batch_size = 3, num_workers = 2 }):iter() do
      for _, v in ipairs(b:tolist()) do seen[#seen + 1] = v end
    end
    table.sort(seen)
    assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, seen)
    local single = {}
    for _, s in data.DataLoader(It(4), { batch_size = false, num_workers = 2 }):iter() do single[#single + 1] = s:item() end
    table.sort(single)
    assert.are.same({ 1, 2, 3, 4 }, single)
  end)

  it('re-raises a worker error with its message and stops cleanly on an early break', function()
    local Bad, parent = torch.class('SpecWorkerBad', 'data.Dataset')
    function Bad:__init() parent.__init(self) end
    function Bad:__len() return 20 end
    function Bad:get(i)
      if i == 13 then error('sample 13 is broken') end
      return torch.tensor(i)
    end
    local ok, err = pcall(function()
      for _ in data.DataLoader(Bad(), { batch_size = 4, num_workers = 2 }):iter() do end
    end)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find('sample 13 is broken', 1, true))
    for i in data.DataLoader(Bad(), { batch_size = 2, num_workers = 2 }):iter() do
      if i == 2 then break end
    end
    collectgarbage()
    collectgarbage()
  end)
end)
