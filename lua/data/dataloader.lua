-- DataLoader: batches of a dataset, one epoch per iter() call. The options and the
-- rules between them are PyTorch's; indices are 1-based. With num_workers > 0 the
-- batches come from worker processes (data._WorkerPool, lua/data/workers.lua): the
-- loader makes the plan of the epoch (the index lists of its batches) and the fetch
-- function, the pool runs them and returns the batches in plan order.
local torch = require 'torch'
local data = require 'data'

local DataLoader = torch.class('data.DataLoader')

local OPTIONS = {
  'batch_size', 'shuffle', 'sampler', 'batch_sampler', 'num_workers', 'collate_fn', 'pin_memory',
  'drop_last', 'timeout', 'worker_init_fn', 'generator', 'prefetch_factor', 'persistent_workers',
}

-- an option error at the user's line (level 4: fail <- __init <- new_instance <- user)
local function fail(msg, ...)
  error('DataLoader: ' .. msg:format(...), 4)
end

local function is_callable(f)
  if type(f) == 'function' then return true end
  local mt = getmetatable(f)
  return type(mt) == 'table' and rawget(mt, '__call') ~= nil
end

local function opt_bool(opts, name, default)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= 'boolean' then
    error(('DataLoader: %s should be a boolean, got %s'):format(name, tostring(v)), 4)
  end
  return v
end

local function is_iterable_dataset(ds)
  return torch.isTypeOf(ds, 'data.IterableDataset')
end

-- DataLoader(dataset, {batch_size=1, shuffle=false, sampler=, batch_sampler=,
-- num_workers=0, collate_fn=, pin_memory=false, drop_last=false, timeout=0,
-- worker_init_fn=, generator=, prefetch_factor=, persistent_workers=false}).
-- batch_size=false turns batching off: one sample per item, not collated.
function DataLoader:__init(dataset, opts)
  if dataset == nil then fail('expected a dataset as argument #1') end
  opts = opts or {}
  if type(opts) ~= 'table' or torch.isTypeOf(opts, 'data.Sampler') then
    fail('expected an options table as argument #2, got %s', torch.type(opts))
  end
  for k in pairs(opts) do
    local known = false
    for _, name in ipairs(OPTIONS) do known = known or k == name end
    if not known then fail("unknown option '%s'%s", tostring(k), torch._did_you_mean(tostring(k), OPTIONS)) end
  end

  local batch_size = opts.batch_size
  if batch_size == nil then batch_size = 1 elseif batch_size == false then batch_size = nil end
  if batch_size ~= nil and (math.type(batch_size) ~= 'integer' or batch_size <= 0) then
    fail('batch_size should be a positive integer (or false to turn batching off), got %s', tostring(batch_size))
  end
  local shuffle = opt_bool(opts, 'shuffle', nil)
  local drop_last = opt_bool(opts, 'drop_last', false)
  local num_workers = opts.num_workers or 0
  if math.type(num_workers) ~= 'integer' then fail('num_workers should be an integer, got %s', tostring(num_workers)) end
  if num_workers < 0 then
    fail('num_workers option should be non-negative; use num_workers=0 to disable multiprocessing')
  end
  local timeout = opts.timeout or 0
  if type(timeout) ~= 'number' then fail('timeout should be a number of seconds, got %s', tostring(timeout)) end
  if timeout < 0 then fail('timeout option should be non-negative') end
  local prefetch_factor = opts.prefetch_factor
  if num_workers == 0 and prefetch_factor ~= nil then
    fail('prefetch_factor option could only be specified in multiprocessing: let num_workers > 0 to enable '
      .. 'multiprocessing, otherwise leave prefetch_factor unset')
  elseif num_workers > 0 and prefetch_factor == nil then
    prefetch_factor = 2
  elseif prefetch_factor ~= nil and (math.type(prefetch_factor) ~= 'integer' or prefetch_factor < 0) then
    fail('prefetch_factor option should be a non-negative integer, got %s', tostring(prefetch_factor))
  end
  local persistent_workers = opt_bool(opts, 'persistent_workers', false)
  if persistent_workers and num_workers == 0 then fail('persistent_workers option needs num_workers > 0') end
  if timeout > 0 and num_workers == 0 then
    fail('timeout option needs num_workers > 0 (it bounds the wait for a worker\'s batch)')
  end
  local pin_memory = opt_bool(opts, 'pin_memory', false) -- accepted; tensors are in ordinary CPU memory
  local collate_fn, worker_init_fn = opts.collate_fn, opts.worker_init_fn
  if collate_fn ~= nil and not is_callable(collate_fn) then
    fail('collate_fn should be a function, got %s', torch.type(collate_fn))
  end
  if worker_init_fn ~= nil and not is_callable(worker_init_fn) then
    fail('worker_init_fn should be a function, got %s', torch.type(worker_init_fn))
  end
  local generator = data._as_generator(opts.generator, 'DataLoader', 4)
  local sampler, batch_sampler = opts.sampler, opts.batch_sampler
  for _, s in ipairs({ { 'sampler', sampler }, { 'batch_sampler', batch_sampler } }) do
    if s[2] ~= nil and type(s[2]) ~= 'table' then
      fail('%s should be a sampler or a list, got %s', s[1], torch.type(s[2]))
    end
  end

  local iterable = is_iterable_dataset(dataset)
  if iterable then
    if shuffle then
      fail('with an IterableDataset: expected unspecified shuffle option, but got shuffle=%s', tostring(shuffle))
    elseif sampler ~= nil then
      fail('with an IterableDataset: expected unspecified sampler option, but got sampler=%s', torch.type(sampler))
    elseif batch_sampler ~= nil then
      fail('with an IterableDataset: expected unspecified batch_sampler option, but got batch_sampler=%s',
        torch.type(batch_sampler))
    end
  end
  shuffle = shuffle or false
  if sampler ~= nil and shuffle then fail('sampler option is mutually exclusive with shuffle') end
  if batch_sampler ~= nil then
    if batch_size ~= 1 or shuffle or sampler ~= nil or drop_last then
      fail('batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last')
    end
    batch_size, drop_last = nil, false
  elseif batch_size == nil and drop_last then
    fail('batch_size=false disables auto-batching and is mutually exclusive with drop_last')
  end

  if sampler == nil and not iterable then
    local ok, n = pcall(function() return #dataset end)
    if not ok or math.type(n) ~= 'integer' then
      fail('expected a map-style dataset (answering #ds and ds[i]) or a data.IterableDataset, got %s',
        torch.type(dataset))
    end
    sampler = shuffle and data.RandomSampler(dataset, { generator = generator }) or data.SequentialSampler(dataset)
  end
  if batch_size ~= nil and batch_sampler == nil and not iterable then
    batch_sampler = data.BatchSampler(sampler, batch_size, drop_last)
  end

  self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
  self.sampler, self.batch_sampler = sampler, batch_sampler
  self.num_workers, self.prefetch_factor, self.persistent_workers = num_workers, prefetch_factor, persistent_workers
  self.pin_memory, self.timeout = pin_memory, timeout
  self.worker_init_fn, self.generator = worker_init_fn, generator
  self._iterable = iterable
  self._auto_collation = batch_sampler ~= nil or (iterable and batch_size ~= nil)
  self.collate_fn = collate_fn or (self._auto_collation and data.default_collate or data.default_convert)
  self._epoch = 0
  self._live = setmetatable({}, { __mode = 'v' }) -- the current epoch's worker state, held weakly
end

-- #loader: the number of batches of an epoch (of samples without batching)
function DataLoader:__len()
  if self._iterable then
    local mt = getmetatable(self.dataset)
    if not (type(mt) == 'table' and mt.__len) then
      error(('DataLoader: the iterable dataset (%s) has no length; define __len on it to use #loader')
        :format(torch.type(self.dataset)), 2)
    end
    local n = #self.dataset
    if self.batch_size == nil then return n end
    if self.drop_last then return n // self.batch_size end
    return (n + self.batch_size - 1) // self.batch_size
  end
  return #(self.batch_sampler or self.sampler)
end

-- The function that turns one plan item into what the loop receives: for
-- map-style datasets an index list (collated) or one index (converted); for
-- iterable ones the list of samples a worker gathered (one sample, unbatched).
function DataLoader:_fetcher()
  local collate, auto = self.collate_fn, self._auto_collation
  if self._iterable then
    if auto then return function(_, samples) return collate(samples) end end
    return function(_, sample) return collate(sample) end -- one sample, not a list
  end
  local batched_path = collate == data.default_collate
  local function get(ds, i)
    local s = ds[i]
    if s == nil then error(('DataLoader: the dataset (%s) gave nil for index %s'):format(torch.type(ds), tostring(i)), 0) end
    return s
  end
  if not auto then return function(ds, i) return collate(get(ds, i)) end end
  return function(ds, indices)
    if batched_path and type(ds) == 'table' then
      local gb = ds.get_batch -- a dataset's own batched path (TensorDataset: one index_select per tensor)
      if gb then return gb(ds, indices) end
    end
    local samples = {}
    for k, i in ipairs(indices) do samples[k] = get(ds, i) end
    return collate(samples)
  end
end

-- the samples of an iterable dataset, one per call (ds:iter() may return a
-- closure or a generic-for triple)
local function sample_stream(ds)
  local f, s, c = ds:iter()
  if type(f) ~= 'function' then
    error(('DataLoader: %s:iter() should return an iterator function, got %s'):format(torch.type(ds), type(f)), 0)
  end
  return function()
    local v = f(s, c)
    c = v
    return v
  end
end

-- In the main process: one batch per call, or nil at the end.
function DataLoader:_single_process()
  local ds, fetch = self.dataset, self:_fetcher()
  if self._iterable then
    local nxt, bs, drop, done = sample_stream(ds), self.batch_size, self.drop_last, false
    if not self._auto_collation then
      return function()
        local v = nxt()
        if v ~= nil then return fetch(ds, v) end
      end
    end
    return function()
      if done then return nil end
      local samples = {}
      for k = 1, bs do
        local v = nxt()
        if v == nil then done = true; break end
        samples[k] = v
      end
      if #samples == 0 or (done and drop and #samples < bs) then return nil end
      return fetch(ds, samples)
    end
  end
  local items = data._sampler_iter(self.batch_sampler or self.sampler)
  return function()
    local item = items()
    if item ~= nil then return fetch(ds, item) end
  end
end

local function shutdown(state)
  local pool = state.pool
  state.pool = nil
  if pool then pool:shutdown() end
end

-- owns an epoch's pool (or the loader's persistent one): shut down when closed
-- (the for loop ends or breaks) or collected
local STATE_MT = {
  __close = function(state) if not state.persistent then shutdown(state) end end,
  __gc = function(state) pcall(shutdown, state) end,
}

-- With worker processes: the plan of the epoch runs on a pool.
function DataLoader:_multi_process(base_seed)
  local Pool = data._WorkerPool
  if not Pool then
    error(('DataLoader: worker processes are not available (num_workers=%d needs lua/data/workers.lua); '
      .. 'use num_workers=0'):format(self.num_workers), 3)
  end
  local plan
  if not self._iterable then
    plan = {}
    for item in data._sampler_iter(self.batch_sampler or self.sampler) do plan[#plan + 1] = item end
  end
  local state = self.persistent_workers and self._persistent or nil
  local previous = self._live.state
  if previous and previous ~= state then shutdown(previous) end -- a new epoch ends the last one's workers
  if not state then
    state = setmetatable({ persistent = self.persistent_workers }, STATE_MT)
    state.pool = Pool {
      dataset = self.dataset, fetch = self:_fetcher(), num_workers = self.num_workers, seed = base_seed,
      worker_init_fn = self.worker_init_fn, timeout = self.timeout, prefetch_factor = self.prefetch_factor,
      iterable = self._iterable, batch_size = self.batch_size, drop_last = self.drop_last,
    }
    if self.persistent_workers then self._persistent = state end -- the loader keeps it; collected with it
  end
  self._live.state = state
  local next_batch, epoch = state.pool:run(plan), self._epoch
  return function()
    if self._epoch ~= epoch then
      error('DataLoader: this iterator was ended by a later iter() call on the same loader (its workers moved on)', 2)
    end
    if not state.pool then error('DataLoader: the workers of this iterator were shut down', 2) end
    local b = next_batch()
    if b == nil and not state.persistent then shutdown(state) end
    return b
  end, state
end

-- loader:iter(): one epoch. `for i, batch in loader:iter() do ... end` (i counts
-- batches from 1), or `local it = loader:iter(); local i, b = it()`. Shuffling
-- draws a new order each call.
function DataLoader:iter()
  self._epoch = self._epoch + 1
  -- the epoch's base seed, drawn as PyTorch does (even without workers, so the
  -- RNG stream does not depend on num_workers); worker k is seeded base_seed + k
  local base_seed = torch.empty({}, { dtype = 'int64' }):random_({ generator = self.generator }):item()
  self._base_seed = base_seed
  local next_batch, state
  if self.num_workers > 0 then
    next_batch, state = self:_multi_process(base_seed)
  else
    next_batch = self:_single_process()
  end
  local i = 0
  return function()
    local b = next_batch()
    if b == nil then return nil end
    i = i + 1
    return i, b
  end, nil, nil, state
end

data.DataLoader = DataLoader
return data
