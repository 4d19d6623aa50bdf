-- Dataset classes. A map-style dataset is any object answering #ds and ds[i]
-- (1-based); subclasses of data.Dataset define __len and get(i), and ds[i] calls
-- get(i). An iterable-style dataset (data.IterableDataset) defines iter(), a
-- function returning an iterator over its samples. Also here: TensorDataset,
-- Subset, ConcatDataset and random_split, with PyTorch's rules.
local torch = require 'torch'
local data = require 'data'

local Dataset = torch.class('data.Dataset')

function Dataset:__init() end

-- ds[i] for integer i: the subclass's get(i) (torch.class calls this hook for keys
-- the instance and its class do not hold)
function Dataset:__index_missing(k)
  if math.type(k) == 'integer' then
    local get = self.get
    if get then return get(self, k) end
  end
end

function Dataset:__len()
  error(torch.type(self) .. ': a map-style dataset must define __len', 2)
end

local IterableDataset = torch.class('data.IterableDataset')

function IterableDataset:__init() end

function IterableDataset:iter()
  error(torch.type(self) .. ': an iterable dataset must define iter()', 2)
end


-- the number of samples of a map-style dataset: #ds (tables, datasets, tensors)
local function length(ds, what, level)
  local ok, n = pcall(function() return #ds end)
  if not ok or math.type(n) ~= 'integer' then
    error(('%s: expected a map-style dataset (answering #ds and ds[i]), got %s'):format(what, torch.type(ds)), level or 3)
  end
  return n
end
data._len = length

-- A Lua list of integer indices from a list or a 1-D integer tensor, each checked
-- against 1..n (n may be nil: no bound). level: as error()'s, for the caller's caller
-- (4 from a constructor, whose caller is torch.class's new_instance).
local function index_list(indices, n, what, level)
  level = level or 3
  if torch.isTensor(indices) then
    if indices:dim() ~= 1 or indices:is_floating_point() or indices.dtype == 'bool' then
      error(('%s: expected indices as a list or a 1-D integer tensor, got a %s tensor of %d dims'):format(
        what, indices.dtype, indices:dim()), level)
    end
    indices = indices:tolist()
  elseif type(indices) ~= 'table' then
    error(('%s: expected indices as a list or a 1-D integer tensor, got %s'):format(what, type(indices)), level)
  end
  local out = {}
  for k = 1, #indices do
    local i = indices[k]
    if math.type(i) ~= 'integer' then
      i = type(i) == 'number' and math.tointeger(i) or nil
      if not i then
        error(('%s: index %d is not an integer (%s)'):format(what, k, tostring(indices[k])), level)
      end
    end
    if n and (i < 1 or i > n) then
      error(('%s: index %d is %d, out of range 1..%d'):format(what, k, i, n), level)
    end
    out[k] = i
  end
  return out
end
data._index_list = index_list

-- A lookup that raises a clear error for indices outside 1..n (ds[i] would
-- otherwise return nil through the class's __index and fail later).
local function check_index(what, i, n)
  if math.type(i) ~= 'integer' or i < 1 or i > n then
    error(('%s: index %s out of range 1..%d'):format(what, tostring(i), n), 3)
  end
end

-- TensorDataset(x, y, ...): sample i is {x[i], y[i], ...}, each a select along the
-- first dimension (a 0-d tensor for 1-D inputs, as in PyTorch, so collating keeps
-- the dtype). get_batch(indices) gives the collated batch with one index_select
-- per tensor; the DataLoader uses it with the default collate.
local TensorDataset = torch.class('data.TensorDataset', 'data.Dataset')

function TensorDataset:__init(...)
  local tensors = table.pack(...)
  if tensors.n == 0 then error('TensorDataset: expected at least one tensor', 3) end
  for k = 1, tensors.n do
    local t = tensors[k]
    if not torch.isTensor(t) then
      error(('TensorDataset: argument #%d is %s, expected a tensor'):format(k, torch.type(t)), 3)
    end
    if t:dim() == 0 then
      error(('TensorDataset: argument #%d is a 0-d tensor; each tensor needs a first dimension of samples'):format(k), 3)
    end
    if t:size(1) ~= tensors[1]:size(1) then
      error(('TensorDataset: size mismatch between tensors: argument #1 has %d samples, argument #%d has %d')
        :format(tensors[1]:size(1), k, t:size(1)), 3)
    end
  end
  tensors.n = nil
  self.tensors = tensors
end

function TensorDataset:__len() return self.tensors[1]:size(1) end

function TensorDataset:get(i)
  check_index('TensorDataset', i, #self)
  local s = {}
  for k, t in ipairs(self.tensors) do s[k] = t:select(1, i) end
  return s
end

function TensorDataset:get_batch(indices)
  local idx = torch.tensor(indices, { dtype = 'int64' })
  local b = {}
  for k, t in ipairs(self.tensors) do b[k] = t:index_select(1, idx) end
  return b
end

-- Subset(ds, indices): sample i is ds[indices[i]].
local Subset = torch.class('data.Subset', 'data.Dataset')

function Subset:__init(dataset, indices)
  length(dataset, 'Subset', 4)
  self.dataset = dataset
  self.indices = index_list(indices, nil, 'Subset', 4)
end

function Subset:__len() return #self.indices end

function Subset:get(i)
  check_index('Subset', i, #self.indices)
  return self.dataset[self.indices[i]]
end

-- present only when the wrapped dataset has a batched path
function Subset:__index_missing(k)
  if k == 'get_batch' then
    local inner = type(self.dataset) == 'table' and self.dataset.get_batch
    if inner then
      return function(s, indices)
        local mapped = {}
        for j, i in ipairs(indices) do mapped[j] = s.indices[i] end
        return inner(s.dataset, mapped)
      end
    end
    return nil
  end
  return data.Dataset.__index_missing(self, k)
end

-- ConcatDataset({ds1, ds2, ...}): the samples of ds1, then those of ds2, ...
local ConcatDataset = torch.class('data.ConcatDataset', 'data.Dataset')

function ConcatDataset:__init(datasets)
  if type(datasets) ~= 'table' or torch.isTypeOf(datasets, 'data.Dataset') or #datasets == 0 then
    error('ConcatDataset: expected a non-empty list of datasets, e.g. data.ConcatDataset({ds1, ds2})', 3)
  end
  self.datasets, self.cumulative_sizes = {}, {}
  local total = 0
  for k, ds in ipairs(datasets) do
    if torch.isTypeOf(ds, 'data.IterableDataset') then
      error(('ConcatDataset: dataset %d is an IterableDataset, which ConcatDataset does not support'):format(k), 3)
    end
    local ok, n = pcall(function() return #ds end)
    if not ok or math.type(n) ~= 'integer' then
      error(('ConcatDataset: dataset %d (%s) does not answer #ds'):format(k, torch.type(ds)), 3)
    end
    total = total + n
    self.datasets[k], self.cumulative_sizes[k] = ds, total
  end
end

function ConcatDataset:__len() return self.cumulative_sizes[#self.cumulative_sizes] end

function ConcatDataset:get(i)
  local n = #self
  if math.type(i) == 'integer' and i < 0 and -i <= n then i = n + 1 + i end -- ds[-1]: the last, as PyTorch
  check_index('ConcatDataset', i, n)
  local cs = self.cumulative_sizes
  local lo, hi = 1, #cs -- the first dataset whose cumulative size reaches i
  while lo < hi do
    local mid = (lo + hi) // 2
    if cs[mid] >= i then hi = mid else lo = mid + 1 end
  end
  return self.datasets[lo][i - (cs[lo - 1] or 0)]
end

-- A torch.Generator from a generator or a seed integer; nil stays nil (the default).
local function as_generator(g, what, level)
  if g == nil then return nil end
  if math.type(g) == 'integer' then return torch.Generator():manual_seed(g) end
  if type(g) == 'userdata' and tostring(g):find('^torch%.Generator') then return g end
  error(('%s: generator must be a torch.Generator or a seed integer, got %s'):format(what, torch.type(g)), level or 3)
end
data._as_generator = as_generator

-- random_split(ds, lengths [, generator]): disjoint Subsets of the given lengths,
-- from one random permutation. Fractions summing to 1 become lengths as in
-- PyTorch 2: floor(n * f) each, then the remainder one by one round-robin from the
-- first. generator: a torch.Generator or a seed integer (default: torch's RNG).
function data.random_split(dataset, lengths, generator)
  local n = length(dataset, 'random_split')
  if type(lengths) ~= 'table' or #lengths == 0 then
    error('random_split: expected lengths as a non-empty list, e.g. {0.8, 0.2} or {800, 200}', 2)
  end
  generator = as_generator(generator, 'random_split')
  local sum = 0
  for k, l in ipairs(lengths) do
    if type(l) ~= 'number' then
      error(('random_split: length %d is %s, expected a number'):format(k, type(l)), 2)
    end
    sum = sum + l
  end
  local sizes = {}
  if math.abs(sum - 1) <= 1e-9 and sum <= 1 then -- fractions (math.isclose, as PyTorch)
    local used = 0
    for k, f in ipairs(lengths) do
      if f < 0 or f > 1 then
        error(('random_split: fraction at index %d is not between 0 and 1 (%s)'):format(k, tostring(f)), 2)
      end
      sizes[k] = math.floor(n * f)
      used = used + sizes[k]
    end
    for r = 0, n - used - 1 do
      local k = r % #sizes + 1
      sizes[k] = sizes[k] + 1
    end
  else
    for k, l in ipairs(lengths) do
      local li = math.tointeger(l)
      if not li or li < 0 then
        error(('random_split: length %d is %s; expected non-negative integers, or fractions summing to 1')
          :format(k, tostring(l)), 2)
      end
      sizes[k] = li
    end
    sum = math.tointeger(sum)
  end
  local total = 0
  for _, s in ipairs(sizes) do total = total + s end
  if total ~= n then
    error(('random_split: the lengths sum to %d, but the dataset has %d samples'):format(total, n), 2)
  end
  local perm = torch.randperm(n, { generator = generator }):tolist()
  local subsets, offset = {}, 0
  for k, s in ipairs(sizes) do
    subsets[k] = Subset(dataset, table.move(perm, offset + 1, offset + s, 1, {}))
    offset = offset + s
  end
  return subsets
end

data.Dataset, data.IterableDataset = Dataset, IterableDataset
data.TensorDataset, data.Subset, data.ConcatDataset = TensorDataset, Subset, ConcatDataset
return data
