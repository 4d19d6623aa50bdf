-- Worker processes for the DataLoader (num_workers > 0) and data.get_worker_info.
--
-- Design. Workers are forked (torch._workers.spawn, core/proc.c): each inherits the
-- dataset, the fetch function and the whole Lua state, so nothing is pickled. Each
-- worker has one Unix socket to the parent. The parent sends tasks (a plan item, or
-- "next batch" for iterable datasets) and the worker answers each with one message:
-- a batch, an error (message and traceback) or, for iterable datasets, the end of
-- its stream. Tensors never go through the socket: a worker writes a batch's
-- tensor bytes into one of its shared-memory slots (memfds mapped in both processes
-- and reused batch after batch; a slot's fd goes to the parent once, with
-- SCM_RIGHTS) and sends a small header; the parent copies the tensors out of the
-- slot into ordinary tensors and hands the slot back with its next task. Reusing
-- slots matters here: touching fresh pages costs about 10 us a page on the target
-- machines, so a new memfd per batch (zero-copy in the parent) was several times
-- slower than this one extra memcpy. The rest of a batch (tables, numbers, strings,
-- booleans, torch.Size, torch.class instances) is encoded with string.pack into
-- the message.
--
-- Scheduling follows PyTorch's _MultiProcessingDataLoaderIter: tasks go round-robin
-- to the active workers with at most prefetch_factor * num_workers outstanding; the
-- parent waits on all sockets with poll(), keeps results that arrive early, and
-- returns them in task order. A worker whose iterable stream ends answers "end" and
-- gets no more tasks. Worker k seeds torch's and math's generators with
-- seed + k - 1 before worker_init_fn(k).
--
-- Ending: pool:shutdown() closes the sockets (a worker sees the end and exits),
-- waits up to SHUTDOWN_GRACE s, SIGKILLs the rest and reaps them all. It runs at the
-- end of a run (unless persistent), when a run's iterator is dropped (__gc) or closed
-- (__close: the fourth value of pool:run, for generic for), on a worker's death or a
-- timeout, from the pool's __gc, and at process exit (core/proc.c). A worker is
-- killed when its parent dies (PR_SET_PDEATHSIG).
local torch = require 'torch'
local data = require 'data'

local W = torch._workers

local TASK, BATCH, ERROR, END = 1, 2, 3, 4
local SHUTDOWN_GRACE = 1.0 -- s a worker gets to finish its current fetch

local worker_info -- set in a worker process only

-- data.get_worker_info(): nil in the main process; in a worker
-- {id = k (1-based), num_workers = n, seed = s, dataset = ds}
function data.get_worker_info()
  return worker_info
end

------------------------------------------------------------------ encoding

local pack, unpack = string.pack, string.unpack
local SIZE_MT = debug.getregistry()['torch.Size']
local MAX_DEPTH = 200

-- encode(v) -> bytes, {tensor, ...}: v's structure with tensors as indices into the
-- list (a tensor that occurs twice is sent once)
local function encode(v)
  local out, n = {}, 0
  local tensors, tindex = {}, {}
  local open = {} -- tables being encoded: a cycle cannot be sent
  local function put(s)
    n = n + 1
    out[n] = s
  end
  local function enc(x, depth)
    local t = type(x)
    if t == 'nil' then
      put('n')
    elseif t == 'boolean' then
      put(x and 'T' or 'F')
    elseif t == 'number' then
      if math.type(x) == 'integer' then put(pack('<c1j', 'i', x)) else put(pack('<c1d', 'd', x)) end
    elseif t == 'string' then
      put(pack('<c1s4', 's', x))
    elseif torch.isTensor(x) then
      local i = tindex[x]
      if not i then
        i = #tensors + 1
        tensors[i], tindex[x] = x, i
      end
      put(pack('<c1I4', 'X', i))
    elseif t == 'table' then
      if open[x] then error('cannot send a table that contains itself', 0) end
      if depth > MAX_DEPTH then error(('cannot send a table nested more than %d deep'):format(MAX_DEPTH), 0) end
      local mt = getmetatable(x)
      if mt ~= nil then
        local name = type(mt) == 'table' and rawget(mt, '__typename')
        if mt == SIZE_MT then
          put('S')
        elseif type(name) == 'string' and torch.getclass(name) == mt then
          put(pack('<c1s2', 'C', name))
        else
          error('cannot send a table whose metatable is not a torch.class', 0)
        end
      end
      open[x] = true
      local narr = #x
      local nhash = 0
      for k in next, x do
        if not (math.type(k) == 'integer' and k >= 1 and k <= narr) then nhash = nhash + 1 end
      end
      put(pack('<c1I4I4', 't', narr, nhash))
      for i = 1, narr do enc(rawget(x, i), depth + 1) end
      for k, val in next, x do
        if not (math.type(k) == 'integer' and k >= 1 and k <= narr) then
          enc(k, depth + 1)
          enc(val, depth + 1)
        end
      end
      open[x] = nil
    else
      error('cannot send a ' .. t .. ' value', 0)
    end
  end
  enc(v, 0)
  return table.concat(out), tensors
end

local function decode(s, tensors)
  local pos = 1
  local function dec()
    local tag = s:sub(pos, pos)
    pos = pos + 1
    if tag == 'n' then return nil
    elseif tag == 'T' then return true
    elseif tag == 'F' then return false
    elseif tag == 'i' then
      local v
      v, pos = unpack('<j', s, pos)
      return v
    elseif tag == 'd' then
      local v
      v, pos = unpack('<d', s, pos)
      return v
    elseif tag == 's' then
      local v
      v, pos = unpack('<s4', s, pos)
      return v
    elseif tag == 'X' then
      local i
      i, pos = unpack('<I4', s, pos)
      return tensors[i]
    end
    local mt
    if tag == 'S' then
      mt = SIZE_MT
      tag = s:sub(pos, pos)
      pos = pos + 1
    elseif tag == 'C' then
      local name
      name, pos = unpack('<s2', s, pos)
      mt = torch.getclass(name)
      tag = s:sub(pos, pos)
      pos = pos + 1
    end
    if tag ~= 't' then error('DataLoader: malformed message from a worker', 0) end
    local narr, nhash
    narr, nhash, pos = unpack('<I4I4', s, pos)
    local t = {}
    for i = 1, narr do t[i] = dec() end
    for _ = 1, nhash do
      local k = dec()
      t[k] = dec()
    end
    if mt then setmetatable(t, mt) end
    return t
  end
  return dec()
end

------------------------------------------------------------------ the worker

local function traceback(e)
  return debug.traceback(tostring(e), 2)
end

-- The body of worker `id`: answers tasks until the parent closes the socket.
local function worker_main(ch, id, cfg)
  local seed = cfg.seed + id - 1
  worker_info = { id = id, num_workers = cfg.num_workers, seed = seed, dataset = cfg.dataset }
  torch.manual_seed(seed)
  math.randomseed(seed)
  local init_err
  if cfg.worker_init_fn then
    local ok, err = xpcall(cfg.worker_init_fn, traceback, id)
    if not ok then init_err = err end
  end
  local ds, fetch = cfg.dataset, cfg.fetch
  local queue, qhead, qtail = {}, 1, 0 -- tasks read ahead while checking for the parent's end
  local run_id, nextf, state, ctrl, ended

  -- a socket the parent closed means the pool is shutting down: leave quietly
  local function send(kind, seq, meta, tensors)
    local ok, err = pcall(ch.send, ch, kind, seq, meta, tensors)
    if ok then return end
    if tostring(err):find('cannot send a message', 1, true) then W.exit(0) end
    -- e.g. no shared memory left: the parent reports it
    if not pcall(ch.send, ch, ERROR, seq, 'cannot send the batch: ' .. tostring(err)) then W.exit(0) end
  end

  local function reply(seq, ok, result)
    if not ok then return send(ERROR, seq, result) end
    local eok, bytes, tensors = pcall(encode, result)
    if not eok then return send(ERROR, seq, 'cannot send the batch: ' .. tostring(bytes)) end
    send(BATCH, seq, bytes, tensors)
  end

  -- the next sample of the current stream (nil at its end)
  local function next_sample()
    local v = nextf(state, ctrl)
    ctrl = v
    return v
  end

  -- one batch of an iterable dataset, or NO_MORE at the end of the stream
  local NO_MORE = {}
  local function iterable_batch()
    local bs = cfg.batch_size
    if not bs then
      local v = next_sample()
      if v == nil then return NO_MORE end
      return fetch(ds, v)
    end
    local samples = {}
    for i = 1, bs do
      local v = next_sample()
      if v == nil then break end
      samples[i] = v
    end
    if #samples == 0 or (cfg.drop_last and #samples < bs) then return NO_MORE end
    return fetch(ds, samples)
  end

  local function iterable_task(seq, rid)
    if rid ~= run_id then -- a new run (epoch): a new stream
      run_id, ended = rid, false
      local ok, f, s, c = xpcall(ds.iter, traceback, ds)
      if not ok then
        ended = true
        return reply(seq, false, f)
      end
      nextf, state, ctrl = f, s, c
    end
    if ended then return end -- after its end a worker ignores its tasks, as PyTorch's do
    local ok, batch = xpcall(iterable_batch, traceback)
    if ok and batch == NO_MORE then
      ended = true
      send(END, seq)
    else
      reply(seq, ok, batch)
    end
  end

  while true do
    -- take the parent's tasks already waiting: a closed socket (the pool shutting
    -- down) then ends the worker before it starts work nobody will collect
    while #W.poll({ ch }, 0) > 0 do
      local kind, seq, meta, tensors = ch:recv()
      if not kind then return end
      qtail = qtail + 1
      queue[qtail] = { seq, meta, tensors }
    end
    local task
    if qhead <= qtail then
      task = queue[qhead]
      queue[qhead] = nil
      qhead = qhead + 1
    else
      local kind, seq, meta, tensors = ch:recv()
      if not kind then return end
      task = { seq, meta, tensors }
    end
    local seq = task[1]
    local msg = decode(task[2], task[3]) -- {run id, item}
    if init_err then
      reply(seq, false, init_err)
    elseif cfg.iterable then
      iterable_task(seq, msg[1])
    else
      reply(seq, xpcall(fetch, traceback, ds, msg[2]))
    end
  end
end

------------------------------------------------------------------ the pool

local Pool = {}
Pool.__index = Pool

local function check_opts(o)
  local function bad(msg) error('_WorkerPool: ' .. msg, 3) end
  if type(o) ~= 'table' then bad('expected an options table') end
  if o.dataset == nil then bad('dataset is required') end
  if type(o.fetch) ~= 'function' then bad('fetch must be a function(dataset, item)') end
  local n = o.num_workers
  if math.type(n) ~= 'integer' or n < 1 then bad('num_workers must be a positive integer, got ' .. tostring(n)) end
  if o.seed ~= nil and math.type(o.seed) ~= 'integer' then bad('seed must be an integer, got ' .. tostring(o.seed)) end
  if o.worker_init_fn ~= nil and type(o.worker_init_fn) ~= 'function' then bad('worker_init_fn must be a function') end
  local t = o.timeout or 0
  if type(t) ~= 'number' or t < 0 or t ~= t then bad('timeout must be a non-negative number, got ' .. tostring(t)) end
  local pf = o.prefetch_factor or 2
  if math.type(pf) ~= 'integer' or pf < 1 then bad('prefetch_factor must be a positive integer, got ' .. tostring(pf)) end
  local bs = o.batch_size
  if bs ~= nil and (math.type(bs) ~= 'integer' or bs < 1) then
    bad('batch_size must be a positive integer or nil, got ' .. tostring(bs))
  end
  if o.iterable and type(o.dataset.iter) ~= 'function' then bad('an iterable dataset needs an iter() method') end
  return {
    dataset = o.dataset, fetch = o.fetch, num_workers = n, seed = o.seed or 0, worker_init_fn = o.worker_init_fn,
    timeout = t, prefetch_factor = pf, iterable = o.iterable and true or false, batch_size = bs,
    drop_last = o.drop_last and true or false, persistent = o.persistent_workers and true or false,
  }
end

-- data._WorkerPool{dataset=, fetch=function(ds, item) -> batch, num_workers=,
--   seed=0, worker_init_fn=nil, timeout=0, prefetch_factor=2, iterable=false,
--   batch_size=nil, drop_last=false, persistent_workers=false}
function data._WorkerPool(opts)
  local cfg = check_opts(opts)
  return setmetatable({ cfg = cfg, chans = nil, run_id = 0, seq = 0 }, Pool)
end

function Pool:_start()
  local cfg = self.cfg
  local chans = {}
  self.chans = chans
  for id = 1, cfg.num_workers do
    local ok, ch = pcall(W.spawn, function(c) worker_main(c, id, cfg) end)
    if not ok then
      self:shutdown()
      error('DataLoader: cannot start worker ' .. id .. ': ' .. tostring(ch), 0)
    end
    chans[id] = ch
  end
end

-- The workers' process ids (empty when none run).
function Pool:pids()
  local p = {}
  for i, ch in ipairs(self.chans or {}) do p[i] = ch:pid() end
  return p
end

function Pool:shutdown()
  local chans = self.chans
  self.chans = nil
  self.active_run = nil
  if not chans then return end
  for _, ch in ipairs(chans) do ch:close() end
  local deadline = W.now() + SHUTDOWN_GRACE
  for _, ch in ipairs(chans) do ch:reap(math.max(0, deadline - W.now())) end
end

Pool.__gc = Pool.shutdown
Pool.__close = Pool.shutdown

-- A run's state: its __gc / __close end the workers when the iterator is dropped
-- or a generic for leaves early.
local Run = {}
Run.__index = Run

-- Ends the run: a pool without persistent workers ends them too. (Persistent
-- workers left with tasks of an unfinished run finish them; the next run ignores
-- those results.)
function Run:finish()
  if self.done then return end
  self.done = true
  local pool = self.pool
  if pool.active_run == self.id then
    pool.active_run = nil
    if not pool.cfg.persistent then pool:shutdown() end
  end
end

Run.__gc = Run.finish
Run.__close = Run.finish

-- pool:run(plan) -> next_batch, nil, nil, closer: next_batch() returns the batches
-- of plan's items in order (plan is nil for an iterable dataset), then nil.
function Pool:run(plan)
  local cfg = self.cfg
  if not cfg.iterable and type(plan) ~= 'table' then
    error('run: expected a plan (a list of items) for a map-style dataset, got ' .. type(plan), 2)
  end
  if self.active_run and self.chans then
    -- the last run was left unfinished: its tasks are still queued in the workers
    if cfg.persistent then self.active_run = nil else self:shutdown() end
  end
  if not self.chans then self:_start() end
  self.run_id = self.run_id + 1
  local run = setmetatable({ pool = self, id = self.run_id }, Run)
  self.active_run = run.id

  local n, chans = cfg.num_workers, self.chans
  local limit = cfg.prefetch_factor * n
  local first = self.seq + 1 -- results with smaller seqs belong to earlier runs
  local send_idx, rcvd_idx = first, first
  local info = {} -- seq -> {w = worker, has = bool, kind, meta, tensors}
  local active = {}
  for w = 1, n do active[w] = true end
  local cycle, outstanding, plan_pos = 0, 0, 0
  local nplan = plan and #plan or 0

  local function fail(msg)
    run:finish()
    self:shutdown()
    error(msg, 0)
  end

  local function dead(w)
    local pid = chans[w]:pid()
    local how = chans[w]:reap(SHUTDOWN_GRACE) or 'an unknown status'
    fail(('DataLoader worker %d (pid %d) exited unexpectedly with %s'):format(w, pid, how))
  end

  local function try_put()
    if outstanding >= limit or run.done then return end
    local item
    if not cfg.iterable then
      if plan_pos >= nplan then return end
      plan_pos = plan_pos + 1
      item = plan[plan_pos]
    end
    local w
    for _ = 1, n do
      cycle = cycle % n + 1
      if active[cycle] then
        w = cycle
        break
      end
    end
    if not w then return end
    local bytes, tensors = encode({ run.id, item })
    local ok, err = pcall(chans[w].send, chans[w], TASK, send_idx, bytes, tensors)
    if not ok then
      if tostring(err):find('cannot send a message', 1, true) then dead(w) end -- its socket is gone
      fail(('DataLoader: cannot send work to worker %d: %s'):format(w, tostring(err)))
    end
    info[send_idx] = { w = w }
    self.seq = send_idx
    send_idx = send_idx + 1
    outstanding = outstanding + 1
  end

  -- reads every message waiting (or waits for one); raises on a worker's death or
  -- after timeout s without any message
  local function receive()
    local deadline = cfg.timeout > 0 and W.now() + cfg.timeout or nil
    while true do
      local wait = deadline and math.max(0, deadline - W.now()) or -1
      local ready = W.poll(chans, wait)
      if #ready == 0 then
        if deadline and W.now() >= deadline then
          fail(('DataLoader timed out after %g s'):format(cfg.timeout))
        end
      else
        for _, w in ipairs(ready) do
          local ok, kind, seq, meta, tensors = pcall(chans[w].recv, chans[w])
          if not ok then fail(('DataLoader worker %d: %s'):format(w, tostring(kind))) end
          if not kind then dead(w) end
          if seq >= first and info[seq] then
            outstanding = outstanding - 1
            if kind == END then
              active[w] = false
              try_put()
            else
              local t = info[seq]
              t.has, t.kind, t.meta, t.tensors = true, kind, meta, tensors
            end
          end
        end
        return
      end
    end
  end

  local function next_batch()
    if run.done then return nil end
    if self.active_run ~= run.id or self.chans ~= chans then
      run.done = true -- the pool was shut down, or started another run
      return nil
    end
    while true do
      -- skip the tasks of workers whose stream has ended
      while rcvd_idx < send_idx do
        local t = info[rcvd_idx]
        if t.has or active[t.w] then break end
        info[rcvd_idx] = nil
        rcvd_idx = rcvd_idx + 1
      end
      if rcvd_idx >= send_idx then
        run:finish()
        return nil
      end
      local t = info[rcvd_idx]
      if t.has then
        info[rcvd_idx] = nil
        rcvd_idx = rcvd_idx + 1
        try_put()
        if t.kind == ERROR then error(('DataLoader worker %d: %s'):format(t.w, t.meta), 0) end
        return decode(t.meta, t.tensors)
      end
      receive()
    end
  end

  for _ = 1, limit do try_put() end
  return next_batch, nil, nil, run
end

data._encode, data._decode = encode, decode -- for the specs
return data
