-- Worker processes behind the DataLoader (lua/data/workers.lua, core/proc.c):
-- batches in plan order through shared memory, seeding, worker_init_fn, errors
-- with the worker's traceback, dead workers, timeouts, clean-up (no processes
-- left), iterable datasets. The fetch functions here are minimal stand-ins for
-- the DataLoader's.
local torch = require 'torch'
local data = require 'data'
local H = require 'spec.support.helpers'

local W = torch._workers

-- a map-style dataset: sample i = {x = a 2x3 tensor, y = i, name = 'sample i'}
local function make_ds(n)
  local ds = { n = n }
  function ds.get(i)
    return { x = torch.arange(6, { dtype = 'float32' }):view(2, 3) + i, y = i, name = 'sample ' .. i }
  end
  return setmetatable(ds, { __len = function() return n end })
end

-- stand-in for the DataLoader's fetch: a list of indices -> a collated batch
local function fetch(ds, items)
  if type(items) ~= 'table' then return ds.get(items) end
  local xs, ys, names = {}, {}, {}
  for k, i in ipairs(items) do
    local s = ds.get(i)
    xs[k], ys[k], names[k] = s.x, s.y, s.name
  end
  return { x = torch.stack(xs), y = torch.tensor(ys), names = names }
end

local function batches_of(n, bs)
  local plan = {}
  for i = 1, n, bs do
    local b = {}
    for j = i, math.min(n, i + bs - 1) do b[#b + 1] = j end
    plan[#plan + 1] = b
  end
  return plan
end

local function collect(pool, plan)
  local out = {}
  for b in pool:run(plan) do out[#out + 1] = b end
  return out
end

local function alive(pid)
  return io.open('/proc/' .. pid .. '/stat') ~= nil -- a zombie still has its /proc entry
end

local function children()
  local p = io.popen('ps -o pid= --ppid ' .. io.open('/proc/self/stat'):read('n'))
  local s = p:read('a')
  p:close()
  local pids = {}
  for pid in s:gmatch('%d+') do pids[#pids + 1] = tonumber(pid) end
  return pids
end

local function assert_same_batch(a, b)
  assert.is_true(torch.equal(a.x, b.x))
  assert.is_true(torch.equal(a.y, b.y))
  assert.are.same(a.names, b.names)
end

describe('data workers', function()
  it('returns the same batches in the same order as the in-process loop', function()
    local ds = make_ds(23)
    local plan = batches_of(23, 4)
    local expected = {}
    for i, item in ipairs(plan) do expected[i] = fetch(ds, item) end
    for _, n in ipairs { 1, 2, 3 } do
      local pool = data._WorkerPool { dataset = ds, fetch = fetch, num_workers = n, seed = 5 }
      local got = collect(pool, plan)
      assert.are.equal(#plan, #got)
      for i = 1, #plan do assert_same_batch(expected[i], got[i]) end
      pool:shutdown()
    end
  end)

  it('takes single indices and tensors as plan items', function()
    local ds = make_ds(5)
    local pool = data._WorkerPool { dataset = ds, num_workers = 2, prefetch_factor = 1,
      fetch = function(d, item)
        if torch.isTensor(item) then return item * 2 end
        return d.get(item)
      end }
    local got = collect(pool, { 3, 1, torch.tensor { 1.5, 2 } })
    assert.are.equal(3, got[1].y)
    assert.are.equal('sample 1', got[2].name)
    H.assert_close(got[3], { 3, 4 })
    pool:shutdown()
  end)

  it('seeds each worker with seed + id - 1, reproducibly', function()
    local ds = make_ds(8)
    local function seeded(d, i)
      local info = data.get_worker_info()
      return { id = info.id, seed = info.seed, n = info.num_workers, same = info.dataset == d, r = torch.rand(3), i = i }
    end
    local function run()
      local pool = data._WorkerPool { dataset = ds, fetch = seeded, num_workers = 2, seed = 100 }
      local got = collect(pool, { 1, 2, 3, 4 })
      pool:shutdown()
      return got
    end
    local a, b = run(), run()
    assert.is_nil(data.get_worker_info())
    for i = 1, 4 do
      local id = (i - 1) % 2 + 1
      assert.are.equal(id, a[i].id)
      assert.are.equal(100 + id - 1, a[i].seed)
      assert.are.equal(2, a[i].n)
      assert.is_true(a[i].same)
      assert.is_true(torch.equal(a[i].r, b[i].r)) -- reproducible
    end
    assert.is_false(torch.equal(a[1].r, a[2].r)) -- workers differ
    -- worker k's first draw is that of a generator seeded with seed + k - 1
    for k = 1, 2 do
      local g = torch.Generator():manual_seed(100 + k - 1)
      assert.is_true(torch.equal(a[k].r, torch.rand(3, { generator = g })))
    end
  end)

  it('calls worker_init_fn once in each worker, after seeding', function()
    local ds = make_ds(6)
    local calls = 0 -- counted in each worker's own copy
    local init_draw
    local pool = data._WorkerPool { dataset = ds, num_workers = 3, seed = 1,
      worker_init_fn = function(id)
        calls = calls + 1
        init_draw = torch.rand(1)
        assert(id == data.get_worker_info().id)
      end,
      fetch = function() return { calls = calls, id = data.get_worker_info().id, draw = init_draw } end }
    local got = collect(pool, { 1, 2, 3, 4, 5, 6 })
    for i, b in ipairs(got) do
      assert.are.equal(1, b.calls)
      assert.are.equal((i - 1) % 3 + 1, b.id)
      local g = torch.Generator():manual_seed(1 + b.id - 1)
      assert.is_true(torch.equal(b.draw, torch.rand(1, { generator = g })))
    end
    assert.are.equal(0, calls)
  end)

  it('round-trips tensors of every dtype, strided and empty ones, and nested tables', function()
    local Point = torch.class('spec.WorkerPoint')
    function Point:__init(x) self.x = x end
    local shared = torch.ones(2)
    local function make()
      local t = {}
      for _, dt in ipairs { 'float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool' } do
        t[dt] = torch.tensor({ { 1, 0, 3 }, { 4, 5, 0 } }, { dtype = dt })
      end
      return {
        tensors = t,
        strided = torch.arange(12):view(3, 4):t(),
        scalar = torch.tensor(2.5),
        empty = torch.zeros(0, 3),
        nested = { { 1, 2.0, 'three', true, false }, deep = { deeper = { torch.eye(2) } } },
        int = 7, float = 7.0, big = math.maxinteger, [3] = 'int key', [1.5] = 'float key',
        size = torch.zeros(4, 5):size(),
        obj = Point(3),
        same1 = shared, same2 = shared,
      }
    end
    local pool = data._WorkerPool { dataset = {}, num_workers = 1, fetch = function() return make() end }
    local b = collect(pool, { 1 })[1]
    local want = make()
    for dt, t in pairs(want.tensors) do
      assert.are.equal(dt, b.tensors[dt].dtype)
      assert.is_true(torch.equal(t, b.tensors[dt]), dt)
    end
    assert.is_true(torch.equal(want.strided, b.strided))
    assert.is_true(b.strided:is_contiguous())
    assert.are.equal(0, b.scalar:dim())
    assert.are.equal(2.5, b.scalar:item())
    assert.are.same({ 0, 3 }, { b.empty:size(1), b.empty:size(2) })
    assert.are.same({ 1, 2.0, 'three', true, false }, b.nested[1])
    assert.are.equal('float', math.type(b.nested[1][2]))
    assert.is_true(torch.equal(torch.eye(2), b.nested.deep.deeper[1]))
    assert.are.equal('integer', math.type(b.int))
    assert.are.equal('float', math.type(b.float))
    assert.are.equal(math.maxinteger, b.big)
    assert.are.equal('int key', b[3])
    assert.are.equal('float key', b[1.5])
    assert.are.equal(20, b.size:numel())
    assert.are.equal('spec.WorkerPoint', torch.type(b.obj))
    assert.are.equal(3, b.obj.x)
    assert.are.equal(b.same1, b.same2) -- one tensor sent once
    -- received tensors are ordinary, writable tensors
    b.tensors.float32:add_(1)
    assert.are.equal(2, b.tensors.float32[1][1])
    pool:shutdown()
  end)

  it('moves large batches through shared memory', function()
    local pool = data._WorkerPool { dataset = {}, num_workers = 2,
      fetch = function(_, i) return torch.full({ 512, 1024 }, i, { dtype = 'float32' }) end }
    local got = collect(pool, { 1, 2, 3, 4 })
    for i = 1, 4 do assert.are.equal(512 * 1024 * i, got[i]:sum():item()) end
    pool:shutdown()
  end)

  it('re-raises an error in fetch with the worker number and its traceback', function()
    local ds = make_ds(10)
    local pool = data._WorkerPool { dataset = ds, num_workers = 2, seed = 0,
      fetch = function(d, i)
        if i == 4 then error('bad sample ' .. i) end
        return d.get(i)
      end }
    local next_batch = pool:run({ 1, 2, 3, 4, 5 })
    for _ = 1, 3 do next_batch() end
    local err = H.assert_error(next_batch, 'DataLoader worker 2: ')
    assert.truthy(err:find('bad sample 4', 1, true))
    assert.truthy(err:find('stack traceback', 1, true))
    assert.truthy(err:find('data_workers_spec.lua', 1, true))
    assert.are.equal(5, next_batch().y) -- like PyTorch, the iterator goes on
    assert.is_nil(next_batch())
    pool:shutdown()
  end)

  it('re-raises an error in worker_init_fn', function()
    local pool = data._WorkerPool { dataset = make_ds(4), fetch = fetch, num_workers = 2,
      worker_init_fn = function(id) if id == 2 then error('init failed') end end }
    local next_batch = pool:run({ 1, 2 })
    assert.are.equal(1, next_batch().y)
    local err = H.assert_error(next_batch, 'DataLoader worker 2: ')
    assert.truthy(err:find('init failed', 1, true))
    pool:shutdown()
  end)

  it('reports a worker that exits or is killed, naming it and how it ended', function()
    local ds = make_ds(10)
    local pool = data._WorkerPool { dataset = ds, num_workers = 2,
      fetch = function(d, i)
        if i == 2 then os.exit(3) end
        return d.get(i)
      end }
    local next_batch = pool:run({ 1, 2, 3, 4 })
    local pids = pool:pids()
    local err = H.assert_error(function()
      for _ = 1, 4 do next_batch() end
    end, 'DataLoader worker 2 (pid ' .. pids[2] .. ') exited unexpectedly with exit code 3')
    assert.is_nil(err:find('stack traceback', 1, true))
    for _, pid in ipairs(pids) do assert.is_false(alive(pid)) end
    assert.are.same({}, pool:pids())

    pool = data._WorkerPool { dataset = ds, num_workers = 2,
      fetch = function(d, i)
        if i == 3 then
          local pid = io.open('/proc/self/stat'):read('n')
          os.execute('kill -9 ' .. pid)
          W.poll({}, 5) -- wait for the signal
        end
        return d.get(i)
      end }
    next_batch = pool:run({ 1, 2, 3, 4 })
    pids = pool:pids()
    H.assert_error(function()
      for _ = 1, 4 do next_batch() end
    end, 'DataLoader worker 1 (pid ' .. pids[1] .. ') exited unexpectedly with signal 9 (Killed)')
    for _, pid in ipairs(pids) do assert.is_false(alive(pid)) end
  end)

  it('raises after timeout seconds without a batch', function()
    local pool = data._WorkerPool { dataset = make_ds(4), num_workers = 2, timeout = 0.2,
      fetch = function(d, i)
        if i == 2 then W.poll({}, 5) end -- a 5 s stall
        return d.get(i)
      end }
    local next_batch = pool:run({ 1, 2, 3 })
    local pids = pool:pids()
    assert.are.equal(1, next_batch().y)
    local t0 = W.now()
    H.assert_error(next_batch, 'DataLoader timed out after 0.2 s')
    local waited = W.now() - t0
    assert.is_true(waited >= 0.19 and waited < 2, 'waited ' .. waited .. ' s')
    for _, pid in ipairs(pids) do assert.is_false(alive(pid)) end
  end)

  it('leaves no processes when a loop breaks early or its iterator is dropped', function()
    local ds = make_ds(40)
    local before = #children()
    local pool = data._WorkerPool { dataset = ds, fetch = fetch, num_workers = 2 }
    -- generic for closes the run (its fourth value) on break
    local pids
    for b in pool:run(batches_of(40, 2)) do
      pids = pool:pids()
      assert.are.equal(2, #pids)
      if b.y[1] >= 5 then break end
    end
    for _, pid in ipairs(pids) do assert.is_false(alive(pid)) end
    assert.are.equal(before, #children())
    -- a dropped iterator is collected
    local next_batch = pool:run(batches_of(40, 2))
    next_batch()
    pids = pool:pids()
    next_batch = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    for _, pid in ipairs(pids) do assert.is_false(alive(pid)) end
    -- so is a dropped pool
    next_batch = pool:run(batches_of(40, 2))
    next_batch()
    pids = pool:pids()
    pool, next_batch = nil, nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    for _, pid in ipairs(pids) do assert.is_false(alive(pid)) end
    assert.are.equal(before, #children())
  end)

  it('ends the workers at the end of a run, unless they are persistent', function()
    local ds = make_ds(6)
    local pool = data._WorkerPool { dataset = ds, fetch = fetch, num_workers = 2 }
    local nb = pool:run({ 1, 2 })
    local pids = pool:pids()
    nb()
    nb()
    assert.is_nil(nb())
    for _, pid in ipairs(pids) do assert.is_false(alive(pid)) end

    pool = data._WorkerPool { dataset = ds, fetch = fetch, num_workers = 2, persistent_workers = true }
    local first = collect(pool, { 1, 2, 3 })
    pids = pool:pids()
    local nb2 = pool:run({ 4, 5, 6 })
    assert.are.equal(4, nb2().y) -- an unfinished run ...
    local second = collect(pool, { 1, 2, 3 }) -- ... then a new one, on the same workers
    assert.are.same(pids, pool:pids())
    for i = 1, 3 do assert.are.equal(first[i].y, second[i].y) end
    assert.is_nil(nb2())
    pool:shutdown()
    pool:shutdown() -- idempotent
    for _, pid in ipairs(pids) do assert.is_false(alive(pid)) end
  end)

  describe('iterable datasets', function()
    -- samples 1..n; with shard = true each worker yields its share (get_worker_info)
    local function make_iter(n, shard)
      local ds = {}
      function ds:iter()
        local info = data.get_worker_info()
        local i, step = 0, 1
        if shard and info then i, step = info.id - info.num_workers, info.num_workers end
        return function()
          i = i + step
          if i <= n then return i end
        end
      end
      return ds
    end
    local function ids(d, samples)
      if type(samples) ~= 'table' then return { samples } end
      return { table.unpack(samples) }
    end

    it('interleaves the workers\' batches and tracks the end of each stream', function()
      local pool = data._WorkerPool { dataset = make_iter(11, true), fetch = ids, num_workers = 2,
        iterable = true, batch_size = 3 }
      assert.are.same({ { 1, 3, 5 }, { 2, 4, 6 }, { 7, 9, 11 }, { 8, 10 } }, collect(pool))
      pool = data._WorkerPool { dataset = make_iter(11, true), fetch = ids, num_workers = 2,
        iterable = true, batch_size = 3, drop_last = true }
      assert.are.same({ { 1, 3, 5 }, { 2, 4, 6 }, { 7, 9, 11 } }, collect(pool))
      pool = data._WorkerPool { dataset = make_iter(5, true), fetch = ids, num_workers = 3, iterable = true }
      assert.are.same({ { 1 }, { 2 }, { 3 }, { 4 }, { 5 } }, collect(pool))
      -- without sharding every worker yields the whole stream, as in PyTorch
      pool = data._WorkerPool { dataset = make_iter(4, false), fetch = ids, num_workers = 2,
        iterable = true, batch_size = 2 }
      assert.are.same({ { 1, 2 }, { 1, 2 }, { 3, 4 }, { 3, 4 } }, collect(pool))
    end)

    it('restarts the streams for each run of persistent workers', function()
      local pool = data._WorkerPool { dataset = make_iter(6, true), fetch = ids, num_workers = 2,
        iterable = true, batch_size = 2, persistent_workers = true }
      local a = collect(pool)
      local b = collect(pool)
      assert.are.same({ { 1, 3 }, { 2, 4 }, { 5 }, { 6 } }, a)
      assert.are.same(a, b)
      pool:shutdown()
    end)

    it('re-raises an error in iter or in the iterator', function()
      local ds = {}
      function ds:iter()
        if data.get_worker_info().id == 2 then error('no stream here') end
        local i = 0
        return function()
          i = i + 1
          if i == 2 then error('broken sample') end
          if i <= 3 then return i end
        end
      end
      local pool = data._WorkerPool { dataset = ds, fetch = ids, num_workers = 2, iterable = true }
      local nb = pool:run()
      assert.are.same({ 1 }, nb())
      H.assert_error(nb, 'DataLoader worker 2: ')
      H.assert_error(nb, 'broken sample')
      pool:shutdown()
    end)
  end)

  it('checks its options', function()
    local ds = make_ds(2)
    H.assert_error(function() data._WorkerPool { dataset = ds, fetch = fetch, num_workers = 0 } end,
      'num_workers must be a positive integer, got 0')
    H.assert_error(function() data._WorkerPool { dataset = ds, num_workers = 1 } end, 'fetch must be a function')
    H.assert_error(function() data._WorkerPool { dataset = ds, fetch = fetch, num_workers = 1, timeout = -1 } end,
      'timeout must be a non-negative number')
    H.assert_error(function() data._WorkerPool { dataset = ds, fetch = fetch, num_workers = 1, prefetch_factor = 0 } end,
      'prefetch_factor must be a positive integer')
    H.assert_error(function() data._WorkerPool { dataset = ds, fetch = fetch, num_workers = 1, iterable = true } end,
      'an iterable dataset needs an iter() method')
    local pool = data._WorkerPool { dataset = ds, fetch = fetch, num_workers = 1 }
    H.assert_error(function() pool:run() end, 'expected a plan')
    -- a batch that cannot be sent is an error naming the worker
    pool = data._WorkerPool { dataset = ds, num_workers = 1, fetch = function() return { f = print } end }
    H.assert_error(function() collect(pool, { 1 }) end, 'DataLoader worker 1: cannot send the batch: cannot send a function value')
    pool:shutdown()
  end)

  it('encodes values the same way back', function()
    local v = { 1, 'two', { 3.5, false }, k = { x = true } }
    local bytes, ts = data._encode(v)
    assert.are.same(v, data._decode(bytes, ts))
    local cyc = {}
    cyc.self = cyc
    H.assert_error(function() data._encode(cyc) end, 'cannot send a table that contains itself')
  end)
end)
