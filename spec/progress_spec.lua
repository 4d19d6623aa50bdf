-- torch.progress / torch.ProgressBar: plain periodic lines when the output is a file,
-- in-place "\r" redraws in terminal mode, fields, rate and ETA. A fake clock makes the
-- timing deterministic.
local torch = require 'torch'
local H = require 'spec.support.helpers'

local function tmpfile()
  local path = os.tmpname()
  return path, assert(io.open(path, 'w+'))
end

local function read_all(f)
  f:flush()
  f:seek('set', 0)
  return f:read('a')
end

local function lines_of(s)
  local out = {}
  for l in s:gmatch('[^\n]+') do out[#out + 1] = l end
  return out
end

-- a clock advancing by dt at each read
local function fake_clock(dt)
  local t = 0
  return function() t = t + dt; return t end
end

describe('torch.progress', function()
  it('writes plain lines every 10% and a final line to a file', function()
    local path, f = tmpfile()
    local clock = fake_clock(0.01)
    for i = 1, 200 do
      torch.progress(i, 200, { stream = f, clock = clock, label = 'spec-plain',
        fields = { loss = 1 / i, acc = i / 200 } })
    end
    local out = read_all(f)
    f:close(); os.remove(path)
    assert.is_nil(out:find('\r', 1, true))
    local lines = lines_of(out)
    assert.are.equal(10, #lines) -- 20, 40, ..., 200
    assert.truthy(lines[1]:find('spec-plain  20/200 (10%)', 1, true))
    local last = lines[#lines]
    assert.truthy(last:find('200/200 (100%)', 1, true))
    -- fields in sorted key order, 4 decimals
    assert.truthy(last:find('acc=1.0000 loss=0.0050', 1, true))
    -- 100 steps per second on the fake clock
    local rate = tonumber(last:match('([%d.]+) it/s'))
    assert.is_true(rate > 99 and rate < 101, last)
    assert.truthy(last:find('elapsed 00:02', 1, true))
    -- halfway: about one second left
    local eta = lines[5]:match('eta (%d+:%d+)')
    assert.are.equal('00:01', eta)
  end)

  it('prints a line when the interval passes between 10% marks', function()
    local path, f = tmpfile()
    local clock = fake_clock(1) -- one second per step
    for i = 1, 100 do
      torch.progress(i, 100, { stream = f, clock = clock, label = 'spec-interval', interval = 5, every = false })
    end
    local lines = lines_of(read_all(f))
    f:close(); os.remove(path)
    -- every 5 seconds (5 steps), the last one being the final line
    assert.are.equal(20, #lines)
    local rate = tonumber(lines[2]:match('([%d.]+) it/s'))
    assert.is_true(rate > 0.99 and rate < 1.01)
    assert.truthy(lines[3]:find('16/100 (16%)', 1, true), lines[3])
    assert.truthy(lines[3]:find('eta 01:24', 1, true), lines[3])
  end)

  it('starts a new bar for a new epoch and keeps ordered fields', function()
    local path, f = tmpfile()
    local clock = fake_clock(0.5)
    for epoch = 1, 2 do
      for i = 1, 4 do
        torch.progress(i, 4, { stream = f, clock = clock, label = 'spec-epochs',
          fields = { { 'loss', torch.tensor(0.25) }, { 'step', i }, { 'name', 'x' } } })
      end
    end
    local lines = lines_of(read_all(f))
    f:close(); os.remove(path)
    assert.are.equal(8, #lines) -- n = 4 < 10: every step crosses a 10% mark
    assert.truthy(lines[4]:find('4/4 (100%)', 1, true))
    assert.truthy(lines[5]:find('1/4 (25%)', 1, true))
    assert.truthy(lines[8]:find('loss=0.2500 step=4 name=x', 1, true), lines[8])
  end)

  it('redraws in place with carriage returns in terminal mode', function()
    local path, f = tmpfile()
    local clock = fake_clock(0.05)
    local bar = torch.ProgressBar(50, { stream = f, tty = true, clock = clock, width = 10 })
    for i = 1, 50 do bar:update(i, { loss = 0.5 }) end
    local out = read_all(f)
    f:close(); os.remove(path)
    local _, returns = out:gsub('\r', '')
    assert.is_true(returns >= 10 and returns <= 50, 'redraws: ' .. returns)
    local _, newlines = out:gsub('\n', '')
    assert.are.equal(1, newlines) -- only the final call ends the line
    assert.truthy(out:find('50/50 [==========] 100%', 1, true))
    assert.truthy(out:find('[====>     ]', 1, true))
    assert.truthy(out:find('loss=0.5000', 1, true))
    assert.are.equal('\n', out:sub(-1))
  end)

  it('close ends an unfinished terminal line', function()
    local path, f = tmpfile()
    local bar = torch.ProgressBar(10, { stream = f, tty = true, clock = fake_clock(1) })
    bar:update(3)
    bar:close()
    local out = read_all(f)
    f:close(); os.remove(path)
    assert.are.equal('\n', out:sub(-1))
  end)

  it('is cheap when nothing is drawn', function()
    local f = assert(io.open('/dev/null', 'w'))
    local bar = torch.ProgressBar(100000, { stream = f, tty = false })
    local t0 = torch.clock()
    for i = 1, 100000 do bar:update(i) end
    local per_call = (torch.clock() - t0) / 100000
    f:close()
    assert.is_true(per_call < 20e-6, 'seconds per call: ' .. per_call)
    assert.is_true(bar.lines <= 11)
  end)

  it('detects terminals with torch._isatty', function()
    local path, f = tmpfile()
    assert.is_false(torch._isatty(f))
    f:close(); os.remove(path)
    H.assert_error(function() torch._isatty(1) end, 'file handle')
    H.assert_error(function() torch._isatty(f) end, 'closed')
  end)

  it('rejects bad arguments with clear errors', function()
    H.assert_error(function() torch.progress('a', 10) end, 'current step')
    H.assert_error(function() torch.progress(1, 'x') end, 'number of steps')
    H.assert_error(function() torch.progress(1, 0) end, 'n must be >= 1')
    H.assert_error(function() torch.progress(11, 10, { stream = io.stderr, label = 'spec-bad' }) end, '0..10')
    H.assert_error(function() torch.progress(1, 10, { witdh = 3 }) end, "unknown option 'witdh'")
    H.assert_error(function() torch.progress(1, 10, { stream = 'stderr' }) end, 'open file')
    H.assert_error(function() torch.ProgressBar(10, { fields = 3 }) end, 'fields must be a table')
  end)
end)
