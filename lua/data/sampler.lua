-- Samplers: which dataset indices (1-based) an epoch visits, in which order.
-- Each is a torch.class with #sampler and sampler:iter(), a Lua iterator
-- (`for i in sampler:iter() do`); BatchSampler groups another sampler's indices
-- into lists. The random ones draw from torch's RNG (or their generator), so
-- torch.manual_seed reproduces them; each iter() call is a fresh draw.
local torch = require 'torch'
local data = require 'data'

-- an iterator over the elements of a Lua list
local function list_iter(list)
  local k = 0
  return function()
    k = k + 1
    return list[k]
  end
end

local function check_opts(what, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= 'table' then error(('%s: expected an options table, got %s'):format(what, type(opts)), 4) end
  for k in pairs(opts) do
    local ok = false
    for _, name in ipairs(known) do ok = ok or k == name end
    if not ok then
      error(('%s: unknown option \'%s\'%s'):format(what, tostring(k), torch._did_you_mean(tostring(k), known)), 4)
    end
  end
  return opts
end

local function positive_int(what, name, v)
  if math.type(v) ~= 'integer' or v <= 0 then
    error(('%s: %s should be a positive integer value, but got %s=%s'):format(what, name, name, tostring(v)), 4)
  end
end

local function boolean(what, name, v)
  if type(v) ~= 'boolean' then
    error(('%s: %s should be a boolean value, but got %s=%s'):format(what, name, name, tostring(v)), 4)
  end
end

local Sampler = torch.class('data.Sampler')

function Sampler:__init() end

function Sampler:iter()
  error(torch.type(self) .. ': a sampler must define iter()', 2)
end

function Sampler:__len()
  error(torch.type(self) .. ': this sampler has no length', 2)
end

-- SequentialSampler(ds): 1, 2, ..., #ds
local SequentialSampler = torch.class('data.SequentialSampler', 'data.Sampler')

function SequentialSampler:__init(data_source)
  data._len(data_source, 'SequentialSampler', 4)
  self.data_source = data_source
end

function SequentialSampler:__len() return #self.data_source end

function SequentialSampler:iter()
  local i, n = 0, #self.data_source
  return function()
    if i < n then i = i + 1; return i end
  end
end

-- The generator a random sampler draws from this epoch: its own, or (as PyTorch)
-- a fresh one seeded from torch's RNG, so the default RNG advances by one draw
-- per epoch whatever the sampler's size.
local function epoch_generator(g)
  if g then return g end
  local seed = torch.empty({}, { dtype = 'int64' }):random_():item()
  return torch.Generator():manual_seed(seed)
end

-- RandomSampler(ds, {replacement=false, num_samples=#ds, generator=}): a random
-- permutation of 1..#ds (repeated and cut to num_samples when that differs), or
-- num_samples independent draws with replacement.
local RandomSampler = torch.class('data.RandomSampler', 'data.Sampler')

function RandomSampler:__init(data_source, opts)
  opts = check_opts('RandomSampler', opts, { 'replacement', 'num_samples', 'generator' })
  data._len(data_source, 'RandomSampler', 4)
  self.data_source = data_source
  self.replacement = opts.replacement
  if self.replacement == nil then self.replacement = false end
  boolean('RandomSampler', 'replacement', self.replacement)
  self._num_samples = opts.num_samples
  -- as PyTorch: an empty data source without num_samples is num_samples=0, an error
  positive_int('RandomSampler', 'num_samples', opts.num_samples or #data_source)
  self.generator = data._as_generator(opts.generator, 'RandomSampler', 4)
end

function RandomSampler:__index_missing(k)
  if k == 'num_samples' then return self._num_samples or #self.data_source end
end

function RandomSampler:__len() return self.num_samples end

function RandomSampler:iter()
  local n, m = #self.data_source, self.num_samples
  if n == 0 then
    error('RandomSampler: the data source is empty (it was not when the sampler was made)', 2)
  end
  local g = epoch_generator(self.generator)
  local chunk, k, done = {}, 0, 0
  -- draws a chunk at a time, like PyTorch: 32 with replacement, a permutation without
  local function refill()
    if self.replacement then
      local c = math.min(32, m - done)
      chunk = torch.randint(1, n + 1, { c }, { generator = g }):tolist()
    else
      chunk = torch.randperm(n, { generator = g }):tolist()
      for j = m - done + 1, #chunk do chunk[j] = nil end
    end
    k = 0
  end
  return function()
    if done >= m then return nil end
    if k >= #chunk then refill() end
    k, done = k + 1, done + 1
    return chunk[k]
  end
end

-- SubsetRandomSampler(indices, {generator=}): the given indices in a random order
local SubsetRandomSampler = torch.class('data.SubsetRandomSampler', 'data.Sampler')

function SubsetRandomSampler:__init(indices, opts)
  opts = check_opts('SubsetRandomSampler', opts, { 'generator' })
  self.indices = data._index_list(indices, nil, 'SubsetRandomSampler', 4)
  self.generator = data._as_generator(opts.generator, 'SubsetRandomSampler', 4)
end

function SubsetRandomSampler:__len() return #self.indices end

function SubsetRandomSampler:iter()
  local n = #self.indices
  local perm = n > 0 and torch.randperm(n, { generator = self.generator }):tolist() or {}
  local k = 0
  return function()
    k = k + 1
    local p = perm[k]
    if p then return self.indices[p] end
  end
end

-- WeightedRandomSampler(weights, num_samples, {replacement=true, generator=}):
-- num_samples indices in 1..#weights drawn with probability proportional to weights
local WeightedRandomSampler = torch.class('data.WeightedRandomSampler', 'data.Sampler')

function WeightedRandomSampler:__init(weights, num_samples, opts)
  local what = 'WeightedRandomSampler'
  opts = check_opts(what, opts, { 'replacement', 'generator' })
  positive_int(what, 'num_samples', num_samples)
  local replacement = opts.replacement
  if replacement == nil then replacement = true end
  boolean(what, 'replacement', replacement)
  local w
  if torch.isTensor(weights) then
    w = weights:to('float64')
  elseif type(weights) == 'table' then
    for k, v in ipairs(weights) do
      if type(v) ~= 'number' then error(('%s: weight %d is %s, expected a number'):format(what, k, type(v)), 3) end
    end
    if #weights == 0 then error(what .. ': weights is empty', 3) end
    w = torch.tensor(weights, { dtype = 'float64' })
  else
    error(('%s: expected weights as a list or a tensor, got %s'):format(what, torch.type(weights)), 3)
  end
  if w:dim() ~= 1 then
    local s = {}
    for d = 1, w:dim() do s[d] = w:size(d) end
    error(('%s: weights should be a 1-D sequence, but given weights have shape {%s}'):format(
      what, table.concat(s, ',')), 3)
  end
  if not replacement and num_samples > w:size(1) then
    error(('%s: cannot draw %d samples without replacement from %d weights'):format(what, num_samples, w:size(1)), 3)
  end
  self.weights, self.num_samples, self.replacement = w, num_samples, replacement
  self.generator = data._as_generator(opts.generator, what, 4)
end

function WeightedRandomSampler:__len() return self.num_samples end

function WeightedRandomSampler:iter()
  local draws = torch.multinomial(self.weights, self.num_samples,
    { replacement = self.replacement, generator = self.generator })
  return list_iter(draws:tolist())
end

-- BatchSampler(sampler, batch_size, drop_last): lists of batch_size indices from
-- sampler (any sampler, or a plain list of indices); the last list is shorter
-- unless drop_last
local BatchSampler = torch.class('data.BatchSampler', 'data.Sampler')

-- an iterator over a sampler: its iter(), or the elements of a plain list
local function sampler_iter(s)
  if type(s) == 'table' and type(s.iter) == 'function' then return s:iter() end
  if type(s) == 'table' then return list_iter(s) end
  error(('expected a sampler (with iter()) or a list of indices, got %s'):format(torch.type(s)), 3)
end
data._sampler_iter = sampler_iter

function BatchSampler:__init(sampler, batch_size, drop_last)
  if type(sampler) ~= 'table' then
    error(('BatchSampler: expected a sampler or a list of indices, got %s'):format(torch.type(sampler)), 3)
  end
  positive_int('BatchSampler', 'batch_size', batch_size)
  if drop_last == nil then drop_last = false end
  boolean('BatchSampler', 'drop_last', drop_last)
  self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last
end

function BatchSampler:__len()
  local n, b = #self.sampler, self.batch_size
  if self.drop_last then return n // b end
  return (n + b - 1) // b
end

function BatchSampler:iter()
  local it, b, drop = sampler_iter(self.sampler), self.batch_size, self.drop_last
  local finished = false
  return function()
    if finished then return nil end
    local batch = {}
    for k = 1, b do
      local i = it()
      if i == nil then
        finished = true
        if #batch == 0 or drop then return nil end
        return batch
      end
      batch[k] = i
    end
    return batch
  end
end

data.Sampler, data.SequentialSampler, data.RandomSampler = Sampler, SequentialSampler, RandomSampler
data.SubsetRandomSampler, data.WeightedRandomSampler = SubsetRandomSampler, WeightedRandomSampler
data.BatchSampler = BatchSampler
return data
