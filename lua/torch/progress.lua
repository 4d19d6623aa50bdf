-- Progress bars for training loops: torch.progress(i, n, opts) called once per batch,
-- or the object form torch.ProgressBar(n, opts) with bar:update(i, fields). On a
-- terminal the bar is redrawn in place ("\r", then clear to the end of the line); when
-- the output is a file or a pipe it prints plain lines every 10% (or every `interval`
-- seconds), so logs stay short. Loaded on first use (torch/init.lua has a stub).
local torch = require 'torch'

local clock = torch.clock

local M = {}

local defaults = {
  width = 25,       -- characters inside the [====>   ] bar
  refresh = 0.1,    -- seconds between redraws on a terminal
  every = 0.1,      -- plain mode: a line each time this fraction of n is crossed
  interval = 60,    -- plain mode: and a line when this many seconds passed since the last
  unit = 'it',      -- rate unit: "85.3 it/s"
  unit_scale = 1,   -- items per step (e.g. the batch size, with unit='samples')
}

local known = {
  width = true, refresh = true, every = true, interval = true, unit = true,
  unit_scale = true, stream = true, label = true, tty = true, fields = true, clock = true,
}

-- errors blame the user's call: level 4 from these helpers (helper, new, the public
-- function, the user)
local function check_opts(fname, opts)
  if opts == nil then return {} end
  if type(opts) ~= 'table' then
    error(fname .. ': expected an options table, got ' .. type(opts), 4)
  end
  for k in pairs(opts) do
    if type(k) ~= 'string' or not known[k] then
      local names = {}
      for name in pairs(known) do names[#names + 1] = name end
      table.sort(names)
      error(string.format("%s: unknown option '%s' (known: %s)", fname, tostring(k),
        table.concat(names, ', ')), 4)
    end
  end
  return opts
end

local function check_number(fname, what, v, min)
  if type(v) ~= 'number' or v ~= v or v < min then
    error(string.format('%s: %s must be a number >= %s, got %s', fname, what, min, tostring(v)), 4)
  end
end

-- "mm:ss", or "h:mm:ss" past an hour
local function fmt_time(s)
  if s ~= s or s == math.huge or s < 0 then return '?' end
  s = math.floor(s + 0.5)
  local h, m, sec = s // 3600, (s // 60) % 60, s % 60
  if h > 0 then return string.format('%d:%02d:%02d', h, m, sec) end
  return string.format('%02d:%02d', m, sec)
end

local function fmt_rate(rate, unit)
  if not rate or rate ~= rate or rate <= 0 or rate == math.huge then return '? ' .. unit .. '/s' end
  if rate < 1 then return string.format('%.2f s/%s', 1 / rate, unit) end
  if rate >= 99.95 then return string.format('%.0f %s/s', rate, unit) end
  if rate >= 9.995 then return string.format('%.1f %s/s', rate, unit) end
  return string.format('%.2f %s/s', rate, unit)
end

local function fmt_value(v)
  if torch.isTensor(v) then v = v:item() end
  if math.type(v) == 'integer' then return tostring(v) end
  if type(v) == 'number' then
    if v ~= v or v == math.huge or v == -math.huge then return tostring(v) end
    if v ~= 0 and (math.abs(v) < 1e-3 or math.abs(v) >= 1e5) then return string.format('%.3e', v) end
    return string.format('%.4f', v)
  end
  return tostring(v)
end

-- fields: {loss=0.1, acc=0.9} (printed in sorted key order) or an ordered list
-- {{'loss', 0.1}, {'acc', 0.9}}
local function fmt_fields(fields)
  if not fields then return '' end
  local parts = {}
  if fields[1] ~= nil then
    for _, f in ipairs(fields) do
      if type(f) ~= 'table' then
        error('progress: fields as a list must hold {name, value} pairs, got ' .. type(f), 4)
      end
      parts[#parts + 1] = tostring(f[1]) .. '=' .. fmt_value(f[2])
    end
  else
    local keys = {}
    for k in pairs(fields) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. '=' .. fmt_value(fields[k]) end
  end
  return table.concat(parts, ' ')
end

local Bar = {}
Bar.__index = Bar

-- a new bar; fname names the public function in errors (level 3: new, the public
-- function, the user)
local function new(fname, n, opts)
  if type(n) ~= 'number' or n ~= math.floor(n) then
    error(fname .. ': expected the number of steps n (an integer), got ' .. tostring(n), 3)
  end
  if n < 1 then error(fname .. ': n must be >= 1, got ' .. tostring(n), 3) end
  opts = check_opts(fname, opts)
  local self = setmetatable({}, Bar)
  self.n = math.tointeger(n) or n
  self.stream = opts.stream or io.stderr
  if io.type(self.stream) ~= 'file' then
    error(fname .. ': stream must be an open file (io.stderr, io.stdout, io.open), got '
      .. tostring(opts.stream), 3)
  end
  for _, k in ipairs { 'width', 'refresh', 'every', 'interval', 'unit_scale' } do
    local v = opts[k]
    if v == nil then v = defaults[k] end
    if v ~= false then check_number(fname, k, v, 0) end
    self[k] = v
  end
  self.width = math.floor(self.width or 0)
  self.unit = tostring(opts.unit or defaults.unit)
  self.label = opts.label and tostring(opts.label) or nil
  self.clock = opts.clock or clock
  if type(self.clock) ~= 'function' then error(fname .. ': clock must be a function', 3) end
  if opts.tty ~= nil then
    self.tty = opts.tty and true or false
  else
    self.tty = torch._isatty(self.stream)
  end
  -- a dumb terminal may not know "clear to end of line": pad with spaces instead
  self.clear = os.getenv('TERM') ~= 'dumb'
  if opts.fields ~= nil and type(opts.fields) ~= 'table' then
    error(fname .. ': fields must be a table ({loss=0.1} or {{"loss", 0.1}}), got '
      .. type(opts.fields), 3)
  end
  self.fields = opts.fields
  self.i = nil          -- last step seen
  self.done = false
  self.lines = 0        -- lines written (plain mode) or redraws (terminal)
  return self
end

-- torch.ProgressBar(n, opts): a bar for n steps. opts: width (of the bar, 25), stream
-- (io.stderr), label, tty (force terminal or plain mode; default isatty(stream)),
-- refresh (0.1 s), every (0.1 of n), interval (60 s), unit ('it'), unit_scale (1),
-- fields, clock (a function returning seconds, for tests).
function M.ProgressBar(n, opts)
  local bar = new('ProgressBar', n, opts)
  return bar
end

-- the text shared by both modes, minus the bar
function Bar:_status(i, t, final)
  local elapsed = t - self.t0
  local rate, eta
  if final then
    if elapsed > 0 and i > self.i0 then rate = (i - self.i0) / elapsed else rate = self.rate end
  else
    rate = self.rate
    if rate and rate > 0 then eta = (self.n - i) / rate end
  end
  local scale = self.unit_scale or 1
  local rtext = fmt_rate(rate and rate * scale, self.unit)
  local ttext
  if self.tty then
    ttext = fmt_time(elapsed) .. '<' .. (final and '00:00' or fmt_time(eta or 0 / 0))
  else
    ttext = 'elapsed ' .. fmt_time(elapsed) .. (final and '' or ', eta ' .. fmt_time(eta or 0 / 0))
  end
  local f = fmt_fields(self.fields)
  return rtext, ttext, f
end

function Bar:_draw(i, t, final)
  -- the smoothed rate: an exponential moving average of the rate between draws
  if self.t_draw and t > self.t_draw and i > self.i_draw then
    local inst = (i - self.i_draw) / (t - self.t_draw)
    self.rate = self.rate and (0.3 * inst + 0.7 * self.rate) or inst
  end
  self.t_draw, self.i_draw = t, i
  local n = self.n
  local ndigits = #tostring(n)
  local pct = math.floor(100 * i / n)
  local rtext, ttext, f = self:_status(i, t, final)
  local head = (self.label and self.label .. ' ' or '')
    .. string.format('%' .. ndigits .. 'd/%d', i, n)
  local line
  if self.tty then
    local w = self.width
    local filled = math.floor(w * i / n)
    local bar -- [=====>    ]: '>' marks the head while unfinished
    if filled >= w then bar = string.rep('=', w)
    elseif filled == 0 then bar = string.rep(' ', w)
    else bar = string.rep('=', filled - 1) .. '>' .. string.rep(' ', w - filled) end
    line = string.format('%s [%s] %3d%% %s %s', head, bar, pct, rtext, ttext)
    if f ~= '' then line = line .. ' ' .. f end
    local pad = ''
    if not self.clear and self.last_len and self.last_len > #line then
      pad = string.rep(' ', self.last_len - #line)
    end
    self.last_len = #line
    self.stream:write('\r', line, self.clear and '\27[K' or pad, final and '\n' or '')
  else
    line = string.format('%s (%d%%) %s, %s', head, pct, rtext, ttext)
    if f ~= '' then line = line .. ', ' .. f end
    self.stream:write(line, '\n')
  end
  self.stream:flush()
  self.lines = self.lines + 1
  self.t_line = t
end

-- one step; errors at level 3 (step, update or progress, the user)
local function step(self, i, fields)
  if type(i) ~= 'number' or i ~= i or i < 0 or i > self.n then
    error(string.format('progress: step must be a number in 0..%d, got %s', self.n, tostring(i)), 3)
  end
  if fields ~= nil then
    if type(fields) ~= 'table' then
      error('progress: fields must be a table ({loss=0.1} or {{"loss", 0.1}}), got '
        .. type(fields), 3)
    end
    self.fields = fields
  end
  local t = self.clock()
  if not self.t0 then
    self.t0, self.i0 = t, i
    self.t_draw, self.i_draw = t, i
    self.t_line = t
    if self.every and self.every > 0 then
      self.next_mark = self.every * self.n -- the first 10% mark, counted from step 0
    end
  end
  self.i = i
  if i >= self.n then
    if not self.done then
      self.done = true
      self:_draw(i, t, true)
    end
    return
  end
  self.done = false
  if self.tty then
    if self.lines == 0 or t - self.t_line >= self.refresh then self:_draw(i, t, false) end
  else
    local due = false
    if self.next_mark and i >= self.next_mark - 1e-9 then
      due = true
      local span = self.every * self.n
      repeat self.next_mark = self.next_mark + span until self.next_mark > i + 1e-9
    end
    if self.interval and self.interval > 0 and t - self.t_line >= self.interval then due = true end
    if due then self:_draw(i, t, false) end
  end
end

-- bar:update(i [, fields]): step i of n done (0 <= i <= n). Cheap when nothing is
-- drawn: one clock read and a few comparisons.
function Bar:update(i, fields)
  step(self, i, fields)
  return self
end

-- bar:close(): ends an unfinished terminal line (after a loop that broke early)
function Bar:close()
  if self.tty and self.i and not self.done and self.lines > 0 then
    self.stream:write('\n')
    self.stream:flush()
  end
  self.done = true
end

-- torch.progress(i, n, opts): the function form keeps one bar per label; a call with
-- a different n, a step lower than the last one, or after the final step starts a new
-- bar, so calling it every batch of every epoch just works.
local bars = {}

local function progress(i, n, opts)
  if type(i) ~= 'number' then
    error('progress: expected (i, n [, opts]) with i the current step, got i = ' .. tostring(i), 2)
  end
  if opts ~= nil and type(opts) ~= 'table' then
    error('progress: expected an options table as argument 3, got ' .. type(opts), 2)
  end
  local key = opts and opts.label or ''
  local bar = bars[key]
  if not bar or bar.n ~= n or (bar.i and (i < bar.i or bar.done))
    or (opts and opts.stream and opts.stream ~= bar.stream) then
    bar = new('progress', n, opts)
    bars[key] = bar
  end
  step(bar, i, opts and opts.fields)
  return bar
end

M.progress = progress
M._fmt_time = fmt_time

return setmetatable(M, { __call = function(_, ...) return progress(...) end })
