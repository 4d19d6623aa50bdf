-- Helpers shared by the specs: loading PyTorch fixtures, building tensors from
-- them, and comparing a tensor with expected values (atol + rtol*|expected|),
-- printing the first mismatches with their indices.
local torch = require 'torch'

local H = {}

-- The fixture table written by scripts/fixtures/gen_<area>.py.
function H.fixture(area)
  local here = debug.getinfo(1, 'S').source:sub(2):match('^(.*)/support/') or 'spec'
  return dofile(here .. '/fixtures/' .. area .. '.lua')
end

-- A tensor from a fixture entry {dtype=, shape=, data=}.
function H.tensor(f)
  local t = torch.tensor(#f.data > 0 and f.data or { 0 }, { dtype = f.dtype })
  if #f.data == 0 then t = torch.empty(f.shape, { dtype = f.dtype }) end
  return t:reshape(f.shape)
end

local function flatten(v, out)
  if type(v) == 'table' then
    for _, x in ipairs(v) do flatten(x, out) end
  else
    out[#out + 1] = v
  end
  return out
end

local function shape_str(s)
  local parts = {}
  for i = 1, #s do parts[i] = tostring(s[i]) end
  return '{' .. table.concat(parts, ',') .. '}'
end

local function unravel(i, shape)
  local idx = {}
  local r = i - 1
  for d = #shape, 1, -1 do
    idx[d] = r % shape[d] + 1
    r = r // shape[d]
  end
  return '[' .. table.concat(idx, ',') .. ']'
end

local function isnan(x) return x ~= x end

-- Asserts tensor t matches expected: a fixture entry, another tensor, or a nested
-- table of numbers. opts: rtol, atol (defaults 1e-5 / 1e-6 for float32, exact
-- otherwise), dtype (checked when given or when expected is a fixture entry).
function H.assert_close(t, expected, opts)
  opts = opts or {}
  assert(torch.isTensor(t), 'assert_close: expected a tensor, got ' .. type(t))
  local exp_shape, exp_data, exp_dtype
  if torch.isTensor(expected) then
    exp_shape, exp_data, exp_dtype = expected:size(), flatten(expected:tolist(), {}), expected.dtype
  elseif type(expected) == 'table' and expected.data then
    exp_shape, exp_data, exp_dtype = expected.shape, expected.data, expected.dtype
  else
    exp_data = flatten(expected, {})
  end
  exp_dtype = opts.dtype or exp_dtype
  if exp_dtype and not opts.ignore_dtype then
    assert(t.dtype == exp_dtype, ('dtype: expected %s, got %s'):format(exp_dtype, t.dtype))
  end
  if exp_shape then
    local s = t:size()
    local same = #s == #exp_shape
    for i = 1, #s do same = same and s[i] == exp_shape[i] end
    assert(same, ('shape: expected %s, got %s'):format(shape_str(exp_shape), shape_str(s)))
  end
  local got = t:dim() == 0 and { t:item() } or flatten(t:tolist(), {})
  assert(#got == #exp_data, ('element count: expected %d, got %d'):format(#exp_data, #got))
  local float = t:is_floating_point()
  local rtol = opts.rtol or (float and (t.dtype == 'float64' and 1e-10 or 1e-5) or 0)
  local atol = opts.atol or (float and (t.dtype == 'float64' and 1e-12 or 1e-6) or 0)
  local bad = {}
  for i = 1, #got do
    local g, e = got[i], exp_data[i]
    if type(g) == 'boolean' or type(e) == 'boolean' then
      if g ~= e then bad[#bad + 1] = i end
    elseif isnan(e) then
      if not isnan(g) then bad[#bad + 1] = i end
    elseif e == math.huge or e == -math.huge then
      if g ~= e then bad[#bad + 1] = i end
    elseif not (math.abs(g - e) <= atol + rtol * math.abs(e)) then
      bad[#bad + 1] = i
    end
  end
  if #bad > 0 then
    local shape = exp_shape or t:size()
    local lines = { ('%d of %d elements differ (rtol=%g, atol=%g):'):format(#bad, #got, rtol, atol) }
    for k = 1, math.min(#bad, 5) do
      local i = bad[k]
      lines[#lines + 1] = ('  at %s: got %s, expected %s'):format(unravel(i, shape), tostring(got[i]), tostring(exp_data[i]))
    end
    error(table.concat(lines, '\n'), 2)
  end
  return true
end

-- Asserts that fn(...) raises an error whose message contains `pattern` (plain text).
function H.assert_error(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, 'expected an error containing "' .. pattern .. '", but the call succeeded')
  err = tostring(err)
  assert(err:find(pattern, 1, true), 'expected an error containing "' .. pattern .. '", got: ' .. err)
  return err
end

-- A non-contiguous tensor with the same values as t (a transposed copy, transposed back).
function H.noncontig(t)
  if t:dim() < 2 then
    local big = torch.zeros(t:numel() * 2, { dtype = t.dtype })
    local v = big:as_strided({ t:numel() }, { 2 }, 0)
    v:copy_(t:reshape(-1))
    return v:view(t:size())
  end
  local d = t:dim()
  return t:transpose(d - 1, d):contiguous():transpose(d - 1, d)
end

return H
