-- torch.save / torch.load (lua/torch/serialization.lua, docs/serialization.md):
-- round trips of every kind of value, views sharing storage, modules, refusal of
-- code, atomic saves (killed writer, full disk) and hostile files.
local torch = require 'torch'
local nn = require 'nn'
local H = require 'spec.support.helpers'
local Z = require 'spec.support.ser_fuzz'

local DTYPES = { 'float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool' }

local dir = os.tmpname()
os.remove(dir)
assert(os.execute('mkdir -p ' .. dir))
local path = dir .. '/ckpt.t7'

local function roundtrip(obj)
  torch.save(path, obj)
  return torch.load(path)
end

local function bits(x) return string.pack('<d', x) end

local function same_tensor(a, b)
  assert.are.equal(a.dtype, b.dtype)
  assert.are.same(a:size(), b:size())
  assert.are.equal(torch._tensor_bytes(a), torch._tensor_bytes(b))
end

local function files_in(d)
  local p = io.popen('ls -A ' .. d)
  local names = {}
  for l in p:lines() do names[#names + 1] = l end
  p:close()
  return names
end

describe('torch.save/torch.load', function()
  teardown(function() os.execute('rm -rf ' .. dir) end)

  describe('round trips', function()
    it('keeps nil, booleans, integers, floats (inf, nan, -0.0 bit for bit) and binary strings', function()
      assert.is_nil(roundtrip(nil))
      assert.are.equal(true, roundtrip(true))
      assert.are.equal(false, roundtrip(false))
      for _, v in ipairs { 0, 1, -1, math.maxinteger, math.mininteger, 1 << 53 } do
        local r = roundtrip(v)
        assert.are.equal('integer', math.type(r))
        assert.are.equal(v, r)
      end
      local nan = string.unpack('<d', '\1\0\0\0\0\0\248\127') -- a NaN with a payload
      for _, v in ipairs { 0.0, -0.0, 1.5, 1 / 0, -1 / 0, 0 / 0, nan, 5e-324, 1e308, 2.0 } do
        local r = roundtrip(v)
        assert.are.equal('float', math.type(r))
        assert.are.equal(bits(v), bits(r))
      end
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      all = table.concat(all)
      assert.are.equal(all, roundtrip(all))
      assert.are.equal('', roundtrip(''))
      assert.are.equal(string.rep('x', 100000), roundtrip(string.rep('x', 100000)))
    end)

    it('keeps nested tables, keys of every kind, shared references and cycles', function()
      local shared = { 'shared' }
      local tkey = { 'a table key' }
      local x = torch.ones(2)
      local obj = {
        1, 2, 3, nil, 5, -- a hole
        nested = { a = { b = { c = { 'deep' } } } },
        [true] = 'yes', [false] = 'no', [1.5] = 'float key', [-7] = 'negative', ['a b'] = 'spaces',
        [tkey] = 'value of a table key', tk = tkey,
        [x] = 'tensor key', x = x,
        s1 = shared, s2 = shared, list = { shared, shared },
      }
      obj.self = obj
      obj.ring = { next = { next = {} } }
      obj.ring.next.next.next = obj.ring
      local r = roundtrip(obj)
      assert.are.equal(1, r[1]); assert.are.equal(3, r[3]); assert.is_nil(r[4]); assert.are.equal(5, r[5])
      assert.are.equal('deep', r.nested.a.b.c[1])
      assert.are.equal('yes', r[true]); assert.are.equal('no', r[false]); assert.are.equal('float key', r[1.5])
      assert.are.equal('negative', r[-7]); assert.are.equal('spaces', r['a b'])
      assert.are.equal('value of a table key', r[r.tk])
      assert.are.equal('tensor key', r[r.x])
      assert.are.equal(r.s1, r.s2)
      assert.are.equal(r.s1, r.list[1]); assert.are.equal(r.s1, r.list[2])
      assert.are.equal(r, r.self)
      assert.are.equal(r.ring, r.ring.next.next.next)
    end)

    it('gives the same bytes for the same object in every run (keys are ordered)', function()
      local obj = { b = 1, a = 2, [3] = 'c', [10] = 'd', [true] = 1, [2.5] = 'e', t = torch.ones(3) }
      torch.save(path, obj)
      local one = Z.read(path)
      local copy = { t = obj.t, [2.5] = 'e', [true] = 1, [10] = 'd', [3] = 'c', a = 2, b = 1 }
      torch.save(path, copy)
      assert.are.equal(one, Z.read(path))
    end)

    it('keeps tensors of every dtype, 0-d, empty and non-contiguous', function()
      for _, dt in ipairs(DTYPES) do
        local t = (torch.randn(3, 5) * 50):to(dt)
        local obj = { t = t, nc = t:t(), z = torch.tensor(7):to(dt), e = torch.empty(0, 4, { dtype = dt }),
          slice = t[{ {}, { 2, 4 } }] }
        local r = roundtrip(obj)
        for k, v in pairs(obj) do same_tensor(v, r[k]) end
        assert.are.equal(0, r.z:dim())
        assert.are.same({ 5, 3 }, r.nc:size())
        assert.is_false(r.nc:is_contiguous())
        assert.are.same(obj.nc:stride(), r.nc:stride())
      end
    end)

    it('restores views of one storage as views of one storage', function()
      local base = torch.randn(6, 8)
      local obj = { base = base, t = base:t(), row = base[3], col = base[{ {}, 4 }], e = base[1]:expand(3, 8),
        n = base:narrow(1, 2, 3) }
      local r = roundtrip(obj)
      for k, v in pairs(obj) do
        same_tensor(v, r[k])
        assert.is_true(r[k]:is_set_to(r.base), k)
        assert.are.same(v:stride(), r[k]:stride(), k)
        assert.are.equal(v:storage_offset(), r[k]:storage_offset(), k)
      end
      r.base:fill_(1) -- writes through every view
      assert.are.equal(1, r.col:sum():item() / 6)
      -- views without their base share one storage too
      local r2 = roundtrip { a = base[2], b = base[5] }
      assert.is_true(r2.a:is_set_to(r2.b))
      same_tensor(base[5], r2.b)
    end)

    it('saves only the span of a storage that the saved views use', function()
      local huge = torch.zeros(1 << 20) -- 4 MiB
      torch.save(path, { v = huge:narrow(1, 1000, 10) })
      assert.is_true(#Z.read(path) < 1000)
      local r = torch.load(path)
      assert.are.equal(10, r.v:numel())
      assert.are.equal(0, r.v:storage_offset())
      -- an expanded view saves one row
      torch.save(path, torch.ones(1, 1000):expand(1000, 1000))
      assert.is_true(#Z.read(path) < 5000)
      same_tensor(torch.ones(1000, 1000), torch.load(path):contiguous())
    end)

    it('keeps the same tensor object shared, and requires_grad', function()
      local w = torch.randn(3, { requires_grad = true })
      local r = roundtrip { w, w, torch.ones(2) }
      assert.are.equal(r[1], r[2])
      assert.is_true(r[1].requires_grad)
      assert.is_true(r[1].is_leaf)
      assert.is_false(r[3].requires_grad)
      -- a non-leaf is saved as its data, loaded as a leaf that requires grad
      local y = roundtrip(w * 2)
      assert.is_true(y.requires_grad and y.is_leaf)
    end)

    it('keeps torch.class instances and torch.Size', function()
      local Point = torch.getclass('SerSpecPoint') or torch.class('SerSpecPoint')
      function Point:__init(x, y) self.x, self.y = x, y end
      function Point:norm2() return self.x * self.x + self.y * self.y end
      local r = roundtrip { p = Point(3, 4), s = torch.zeros(2, 3):size() }
      assert.are.equal(Point, getmetatable(r.p))
      assert.are.equal(25, r.p:norm2())
      assert.are.equal('torch.Size([2, 3])', tostring(r.s))
    end)

    it('keeps a torch.Generator and its state', function()
      local g = torch.Generator():manual_seed(42)
      torch.randn(5, { generator = g })
      local r = roundtrip { g = g }
      same_tensor(torch.randn(4, { generator = g }), torch.randn(4, { generator = r.g }))
    end)

    it('keeps modules: parameters, buffers, nn.Sequential, outputs', function()
      torch.manual_seed(1)
      local net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
      net:train()
      net(torch.randn(5, 4)) -- moves the running stats
      net:eval()
      local r = roundtrip(net)
      assert.are.equal('nn.Sequential', torch.type(r))
      assert.are.equal('nn.BatchNorm1d', torch.type(r[2]))
      local p1, p2 = net:parameters(), r:parameters()
      assert.are.equal(#p1, #p2)
      for i = 1, #p1 do
        same_tensor(p1[i], p2[i])
        assert.is_true(nn.is_parameter(p2[i]) and p2[i].requires_grad)
      end
      local b1, b2 = net:buffers(), r:buffers()
      assert.are.equal(#b1, #b2)
      for i = 1, #b1 do same_tensor(b1[i], b2[i]) end
      local x = torch.randn(3, 4)
      same_tensor(net(x), r(x))
      local sd = r:state_dict()
      for k, v in pairs(net:state_dict()) do same_tensor(v, sd[k]) end
      r:train()
      r(x):sum():backward()
      assert.is_not_nil(r[1].weight.grad)
    end)

    it('resumes a training run bit for bit (module + momentum buffers + rng state)', function()
      local function make()
        torch.manual_seed(7)
        return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
      end
      local function step(net, state)
        local x, y = torch.randn(8, 3), torch.randn(8, 1)
        local loss = ((net(x) - y) ^ 2):mean()
        for _, p in ipairs(net:parameters()) do p.grad = nil end
        loss:backward()
        torch.no_grad(function()
          for _, p in ipairs(net:parameters()) do
            local buf = state.momentum[p]
            if buf then buf:mul_(0.9):add_(p.grad) else buf = p.grad:clone(); state.momentum[p] = buf end
            p:add_(buf * -0.05)
          end
        end)
        state.step = state.step + 1
        return loss:item()
      end
      local net = make()
      local state = { momentum = {}, step = 0 }
      for _ = 1, 4 do step(net, state) end
      torch.save(path, { model = net, state = state, rng = torch.get_rng_state() })
      local losses = {}
      for i = 1, 4 do losses[i] = step(net, state) end

      torch.manual_seed(999) -- the resumed run must not depend on the current state
      local ck = torch.load(path)
      torch.set_rng_state(ck.rng)
      assert.are.equal(4, ck.state.step)
      for _, p in ipairs(ck.model:parameters()) do assert.is_not_nil(ck.state.momentum[p]) end
      for i = 1, 4 do assert.are.equal(bits(losses[i]), bits(step(ck.model, ck.state))) end
      local p1, p2 = net:parameters(), ck.model:parameters()
      for i = 1, #p1 do same_tensor(p1[i], p2[i]) end
    end)
  end)

  describe('resuming training', function()
    local optim = require 'optim'

    -- a small net, fixed data, and a step function that trains it
    local function setup_run(make_opt)
      torch.manual_seed(11)
      local net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2))
      local opt = make_opt(net:parameters())
      local sched = optim.lr_scheduler.StepLR(opt, { step_size = 3, gamma = 0.5 })
      return { model = net, optimizer = opt, scheduler = sched }
    end
    local xs, ys = {}, {}
    torch.manual_seed(5)
    for i = 1, 12 do xs[i], ys[i] = torch.randn(6, 4), torch.randn(6, 2) end
    local function train(run, from, to)
      for i = from, to do
        run.optimizer:zero_grad()
        local loss = nn.functional.mse_loss(run.model:forward(xs[i]), ys[i])
        loss:backward()
        run.optimizer:step()
        run.scheduler:step()
      end
    end
    local function same_params(a, b)
      local pa, pb = a.model:parameters(), b.model:parameters()
      assert.are.equal(#pa, #pb)
      for i = 1, #pa do assert.is_true(torch.equal(pa[i], pb[i]), 'parameter ' .. i) end
      local sa, sb = a.model:state_dict(), b.model:state_dict()
      for k, v in pairs(sa) do assert.is_true(torch.equal(v, sb[k]), k) end
    end
    local makers = {
      ['SGD with momentum'] = function(ps)
        return optim.SGD(ps, { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 1e-3 })
      end,
      Adam = function(ps) return optim.Adam(ps, { lr = 0.01, amsgrad = true }) end,
    }

    for name, make_opt in pairs(makers) do
      it(name .. ': model + optimizer + scheduler saved mid-training continue bit-identically', function()
        local ref = setup_run(make_opt)
        train(ref, 1, 12)
        local run = setup_run(make_opt)
        train(run, 1, 5)
        torch.save(path, run)
        train(run, 6, 12) -- the saved objects go on training: the file must not change with them
        same_params(ref, run)
        local back = torch.load(path)
        -- the optimizer works on the loaded module's parameters, the scheduler on the loaded optimizer
        local params = back.model:parameters()
        for i, p in ipairs(back.optimizer.param_groups[1].params) do assert.are.equal(params[i], p) end
        assert.are.equal(back.optimizer, back.scheduler.optimizer)
        assert.are.equal(5, back.scheduler.last_epoch)
        train(back, 6, 12)
        same_params(ref, back)
        assert.are.equal(ref.optimizer.param_groups[1].lr, back.optimizer.param_groups[1].lr)
      end)

      it(name .. ': state dicts saved with torch.save load into fresh objects', function()
        local ref = setup_run(make_opt)
        train(ref, 1, 12)
        local run = setup_run(make_opt)
        train(run, 1, 5)
        torch.save(path, { model = run.model:state_dict(), optimizer = run.optimizer:state_dict(),
          scheduler = run.scheduler:state_dict() })
        local sd = torch.load(path)
        local fresh = setup_run(make_opt)
        fresh.model:load_state_dict(sd.model)
        fresh.optimizer:load_state_dict(sd.optimizer)
        fresh.scheduler:load_state_dict(sd.scheduler)
        train(fresh, 6, 12)
        same_params(ref, fresh)
      end)
    end

    it('a fresh interpreter loads the checkpoint and continues bit-identically', function()
      local exe = io.popen('readlink /proc/' .. (io.open('/proc/self/stat'):read('l'):match('^%d+')) .. '/exe')
      local th = exe:read('l')
      exe:close()
      if not th or not th:match('/th$') then return end -- run by a plain lua: nothing to start
      local make_opt = makers.Adam
      local ref = setup_run(make_opt)
      train(ref, 1, 12)
      local run = setup_run(make_opt)
      train(run, 1, 5)
      run.xs, run.ys = xs, ys
      torch.save(path, run)
      local out = dir .. '/resumed.t7'
      local code = ([[
        local run = torch.load(%q)
        for i = 6, 12 do
          run.optimizer:zero_grad()
          nn.functional.mse_loss(run.model:forward(run.xs[i]), run.ys[i]):backward()
          run.optimizer:step()
          run.scheduler:step()
        end
        torch.save(%q, run.model)]]):format(path, out)
      local script = dir .. '/resume.lua'
      Z.write(script, code)
      local ok = os.execute(("'%s' '%s'"):format(th, script))
      local resumed = ok and torch.load(out)
      os.remove(script)
      os.remove(out)
      assert.is_true(ok)
      same_params(ref, { model = resumed })
    end)

    it("a module's state_dict() (a torch.OrderedDict) round-trips in order", function()
      local net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
      local sd = net:state_dict()
      sd.extra = torch.ones(1) -- a key added later stays last
      torch.save(path, { sd = sd, again = sd })
      local r = torch.load(path)
      assert.are.equal(r.sd, r.again)
      local ka, kb = {}, {}
      for k in pairs(sd) do ka[#ka + 1] = k end
      for k, v in pairs(r.sd) do kb[#kb + 1] = k; same_tensor(sd[k], v) end
      assert.are.same(ka, kb)
      assert.are.equal('extra', kb[#kb])
      r.sd.extra = nil
      local fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
      fresh:load_state_dict(r.sd)
      assert.is_true(torch.equal(net:forward(torch.ones(2, 3)), fresh:forward(torch.ones(2, 3))))
    end)

    it('a LambdaLR (a function) is refused at save time with the path; its state dict saves', function()
      local run = setup_run(function(ps) return optim.SGD(ps, { lr = 0.1 }) end)
      local sched = optim.lr_scheduler.LambdaLR(run.optimizer, { lr_lambda = function(e) return 0.9 ^ e end })
      H.assert_error(function() torch.save(path, { scheduler = sched }) end,
        'torch.save: cannot save a function at obj.scheduler.lr_lambdas[1]')
      sched:step()
      torch.save(path, sched:state_dict())
      local fresh = optim.lr_scheduler.LambdaLR(run.optimizer, { lr_lambda = function(e) return 0.9 ^ e end })
      fresh:load_state_dict(torch.load(path))
      assert.are.equal(sched.last_epoch, fresh.last_epoch)
    end)
  end)

  describe('refuses what is not data', function()
    it('names the path to a function, coroutine or foreign userdata', function()
      H.assert_error(function() torch.save(path, { model = { hook = print } }) end,
        'torch.save: cannot save a function at obj.model.hook')
      H.assert_error(function() torch.save(path, { 1, 2, function() end }) end, 'cannot save a function at obj[3]')
      H.assert_error(function() torch.save(path, { ['a b'] = { co = coroutine.create(print) } }) end,
        'cannot save a thread at obj["a b"].co')
      H.assert_error(function() torch.save(path, { f = io.stdout }) end, 'cannot save a FILE* at obj.f')
      H.assert_error(function() torch.save(path, { [print] = 1 }) end, 'cannot save a function as a key')
      H.assert_error(function() torch.save(path, setmetatable({}, {})) end,
        'cannot save a table whose metatable is not a torch.class at obj')
      H.assert_error(function() torch.save(path, print) end, 'cannot save a function at obj')
      local net = nn.Linear(2, 2)
      net.hook = function() end
      H.assert_error(function() torch.save(path, { model = net }) end, 'at obj.model.hook')
    end)

    it('refuses nesting deeper than 1000 at save time and leaves no file behind', function()
      os.remove(path)
      local deep = {}
      local t = deep
      for _ = 1, 1100 do t.next = {}; t = t.next end
      H.assert_error(function() torch.save(path, deep) end, 'nested more than 1000 deep at obj.next.next')
      assert.are.same({}, files_in(dir))
      deep = {}
      t = deep
      for _ = 1, 990 do t.next = {}; t = t.next end
      assert.is_table(roundtrip(deep).next.next)
    end)

    it('checks its arguments', function()
      H.assert_error(function() torch.save({}, path) end, 'Torch7 order')
      H.assert_error(function() torch.load(42) end, 'expected a file path')
      H.assert_error(function() torch.load(dir .. '/missing') end, 'torch.load: cannot open')
      torch.save(path, 1)
      H.assert_error(function() torch.load(path, 'cpu') end, 'options must be a table')
      H.assert_error(function() torch.load(path, { map_location = 'tpu' }) end, "map_location must be 'cpu'")
      assert.are.equal(1, torch.load(path, { map_location = 'cpu' }))
    end)

    it('map_location', function()
      torch.save(path, { t = torch.ones(2) })
      assert.are.equal('cpu', tostring(torch.load(path, { map_location = 'cpu' }).t.device))
      if not torch.cuda.is_available() then
        H.assert_error(function() torch.load(path, { map_location = 'cuda' }) end, 'no GPU is available')
      else
        assert.is_true(torch.load(path, { map_location = 'cuda' }).t.is_cuda)
      end
    end)

    it('an unknown class is an error naming it', function()
      local C = torch.getclass('SerSpecAAA') or torch.class('SerSpecAAA')
      torch.save(path, { obj = C() })
      local s = Z.read(path):gsub('SerSpecAAA', 'SerSpecZZZ')
      Z.write(path, Z.refix(s))
      H.assert_error(function() torch.load(path) end, "unknown class 'SerSpecZZZ'")
    end)
  end)

  describe('atomic saves', function()
    it('a writer killed mid-save leaves a complete file (the old one or the new one)', function()
      local th = 'build/th'
      if not io.open(th, 'rb') then return pending('build/th not found') end
      torch.save(path, { gen = 0, data = torch.zeros(1 << 20) })
      local script = ('local p = %q; local i = 0; while true do i = i + 1; '
        .. 'torch.save(p, { gen = i, data = torch.full({ 1 << 23 }, i) }) end'):format(path)
      local pipe = io.popen(("sh -c 'echo $$; exec %s -e \"%s\"' 2>&1"):format(th, script:gsub('"', '\\"')))
      local pid = tonumber(pipe:read('l'))
      assert.is_number(pid)
      os.execute('sleep 0.7')
      os.execute('kill -9 ' .. pid)
      pipe:close()
      local r = torch.load(path)
      assert.is_true(r.gen >= 0)
      assert.are.equal(r.gen, r.data:min():item())
      assert.are.equal(r.gen, r.data:max():item())
      -- a killed writer cannot clean up: its temporary file may stay, under a
      -- name that cannot collide with the checkpoint; remove it here
      for _, n in ipairs(files_in(dir)) do
        if n ~= 'ckpt.t7' then
          assert.is_truthy(n:match('^ckpt%.t7%.tmp%-'), n)
          os.remove(dir .. '/' .. n)
        end
      end
    end)

    it('a full disk gives a clear error and keeps the previous file', function()
      local mnt = dir .. '/small'
      os.execute('mkdir -p ' .. mnt)
      local ok = os.execute('mount -t tmpfs -o size=1m tmpfs ' .. mnt .. ' 2>/dev/null')
      if not ok then
        os.execute('rmdir ' .. mnt)
        return pending('cannot mount a tmpfs here (needs root): full-disk test skipped')
      end
      local target = mnt .. '/ckpt.t7'
      local res, err = pcall(function()
        torch.save(target, { step = 1, w = torch.ones(1000) })
        H.assert_error(function() torch.save(target, { step = 2, w = torch.ones(1 << 20) }) end,
          'No space left on device')
        local r = torch.load(target)
        assert.are.equal(1, r.step)
        same_tensor(torch.ones(1000), r.w)
        assert.are.same({ 'ckpt.t7' }, files_in(mnt))
      end)
      os.execute('umount ' .. mnt)
      os.execute('rmdir ' .. mnt)
      assert(res, err)
    end)

    it('a save that fails before writing leaves the previous file alone', function()
      torch.save(path, { step = 1 })
      pcall(torch.save, path, { step = 2, bad = print })
      assert.are.equal(1, torch.load(path).step)
      assert.are.same({ 'ckpt.t7' }, files_in(dir))
      H.assert_error(function() torch.save(dir .. '/no/such/dir/x.t7', 1) end, 'torch.save: cannot create')
    end)
  end)

  describe('hostile files', function()
    local valid
    setup(function()
      torch.save(path, Z.sample())
      valid = Z.read(path)
    end)

    it('writes version 2 (CRC-32C) and still reads version 1 (CRC-32)', function()
      assert.are.equal(2, string.unpack('<I4', valid, #Z.MAGIC + 1))
      local g = string.pack('<I4Bi8s1', 1, 1, 2, 'cpu') -- one float32 storage of 2 elements
        .. string.pack('<BBBBi8i8I4i8', 10, 0, 1, 1, 2, 1, 1, 0)
      local data = string.pack('<ff', 1.5, -2)
      for _, v in ipairs { 1, 2 } do
        assert.is_true(Z.try(path, Z.file(g, { data }, v)))
        assert.is_true(torch.equal(torch.tensor { 1.5, -2 }, torch.load(path)))
      end
      -- a version-1 file checked with CRC-32C (or the reverse) is damaged
      local v1 = Z.file(g, { data }, 1)
      local _, e = Z.try(path, Z.MAGIC .. string.pack('<I4', 2) .. v1:sub(15))
      assert.is_truthy(e:find('checksum mismatch', 1, true))
      Z.write(path, valid)
    end)

    it('loads the fuzzing sample', function()
      local r = torch.load(path)
      assert.are.equal(r, r.self)
      assert.is_true(r.xt:is_set_to(r.x))
    end)

    it('every truncation is an error', function()
      assert.is_true(#valid < 2000)
      for n = 0, #valid - 1 do
        local ok = Z.try(path, valid:sub(1, n))
        assert.is_false(ok, 'a prefix of ' .. n .. ' bytes loaded')
      end
    end)

    it('random bytes, a wrong magic, a newer version, stray bytes', function()
      math.randomseed(7)
      for n = 1, 200, 7 do
        local b = {}
        for i = 1, n do b[i] = string.char(math.random(0, 255)) end
        assert.is_false(Z.try(path, table.concat(b)))
        assert.is_false(Z.try(path, Z.MAGIC .. '\1\0\0\0' .. table.concat(b)))
      end
      local _, e = Z.try(path, 'PK\3\4' .. valid:sub(5))
      assert.is_truthy(e:find('wrong magic', 1, true))
      _, e = Z.try(path, Z.MAGIC .. string.pack('<I4', 3) .. valid:sub(15))
      assert.is_truthy(e:find('format version 3, this Ember reads versions 1 to 2', 1, true))
      _, e = Z.try(path, valid .. 'x')
      assert.is_truthy(e:find('stray bytes', 1, true))
    end)

    it('bad checksums and unknown record types', function()
      local s = valid:sub(1, 40) .. string.char(valid:byte(41) ~ 1) .. valid:sub(42)
      local _, e = Z.try(path, s)
      assert.is_truthy(e:find('checksum mismatch', 1, true))
      local g = Z.record(0x58, 'x')
      _, e = Z.try(path, Z.MAGIC .. '\1\0\0\0' .. g)
      assert.is_truthy(e:find('unknown record type 0x58', 1, true))
    end)

    it('absurd lengths and counts are refused before allocating', function()
      local head = Z.MAGIC .. '\1\0\0\0'
      local cases = {
        -- a graph record claiming 2^62 bytes
        { head .. string.pack('<Bi8I4', 0x47, 1 << 62, 0), 'claims' },
        { head .. string.pack('<Bi8I4', 0x47, -5, 0), 'claims' },
        -- 2^32-1 storages
        { Z.file(string.pack('<I4', 0xffffffff) .. '\1'), 'storages claimed' },
        -- a storage of 2^60 float32 elements
        { Z.file(string.pack('<I4Bi8s1', 1, 1, 1 << 60, 'cpu') .. '\1', { 'abcd' }), 'more than the file holds' },
        -- a string of 2^62 bytes
        { Z.file(string.pack('<I4Bi8', 0, 6, 1 << 62)), 'does not fit' },
        -- a reference to an object that does not exist
        { Z.file(string.pack('<I4BI4', 0, 7, 5)), 'reference to object 5' },
        -- a tensor with 200 dims, with a negative size, with a view past its storage
        { Z.file(string.pack('<I4BBBB', 0, 10, 0, 1, 200)), '200 dims' },
        { Z.file(string.pack('<I4BBBBi8i8I4i8', 0, 10, 0, 1, 1, -3, 1, 0, 0)), 'negative size' },
        { Z.file(string.pack('<I4Bi8s1BBBBi8i8I4i8', 1, 1, 1, 'cpu', 10, 0, 1, 1, 1 << 40, 1, 1, 0), { 'abcd' }),
          'reaches past its storage' },
        { Z.file(string.pack('<I4Bi8s1BBBBi8i8i8i8I4i8', 1, 1, 1, 'cpu', 10, 0, 1, 2, 1 << 40, 0, 1 << 40, 0, 1, 0),
          { 'abcd' }), 'absurd size' },
        -- a storage on an unknown device, a data record of the wrong length
        { Z.file(string.pack('<I4Bi8s1', 1, 1, 1, 'tpu') .. '\1', { 'abcd' }), 'unknown device' },
        { Z.file(string.pack('<I4Bi8s1', 1, 1, 2, 'cpu') .. '\1', { 'abcdab' }), 'data record 1 holds 6 bytes' },
        { Z.file(string.pack('<I4Bi8s1', 1, 1, 1, 'cpu') .. '\1', { 'abcd', 'abcd' }), "expected 'E'" },
        -- an unknown value tag, a nil key
        { Z.file(string.pack('<I4B', 0, 99)), 'unknown value tag 99' },
        { Z.file(string.pack('<I4BBB', 0, 8, 1, 1)), 'a nil key' },
      }
      for i, c in ipairs(cases) do
        local ok, e = Z.try(path, c[1])
        assert.is_false(ok, 'case ' .. i)
        assert(e:find(c[2], 1, true), 'case ' .. i .. ': expected "' .. c[2] .. '", got: ' .. e)
      end
    end)

    it('a file nested 10000 deep is a clear error', function()
      local inner = string.rep(string.pack('<BBi8', 8, 4, 1), 9999) .. string.pack('<B', 8) .. string.rep('\0', 10000)
      local _, e = Z.try(path, Z.file(string.pack('<I4', 0) .. inner))
      assert.is_truthy(e:find('nested more than 1000 deep', 1, true))
      inner = string.rep(string.pack('<BBi8', 8, 4, 1), 500) .. string.pack('<B', 8) .. string.rep('\0', 501)
      assert.is_true(Z.try(path, Z.file(string.pack('<I4', 0) .. inner)))
    end)

    it('2000 seeded mutations of a valid file each load or raise a clean error', function()
      local seed = 20240607
      math.randomseed(seed)
      local loaded = 0
      for i = 1, 2000 do
        local s = valid
        for _ = 1, math.random(1, 3) do s = Z.mutate(s, math.random) end
        if i % 4 ~= 0 then s = Z.refix(s) end -- most mutations get past the checksums
        local ok, ok2 = pcall(Z.try, path, s)
        assert(ok, ('mutation %d (seed %d): %s'):format(i, seed, tostring(ok2)))
        if ok2 then loaded = loaded + 1 end
      end
      assert.is_true(loaded < 2000)
    end)
  end)
end)
