-- nn.functional padding: F.pad(x, pad [, mode='constant', value=0]) or
-- F.pad(x, pad, {mode=, value=}), composed from differentiable cat/narrow/
-- index_select/expand. pad lists (left, right) amounts from the LAST dim
-- backwards, as PyTorch: {1, 2} pads the last dim by 1 before and 2 after,
-- {1, 1, 2, 2} also pads the dim before it by 2 on both sides.
-- Modes: 'constant' (value; negative amounts crop), 'reflect' (mirror without
-- repeating the edge; amount < size), 'replicate' (repeat the edge), 'circular'
-- (wrap around; amount <= size). Non-constant modes pad the last 1, 2 or 3 dims of
-- a 2-3D, 3-4D or 4-5D input (with or without a batch dim).
local torch = require 'torch'

local F = {}

local MODES = { constant = true, reflect = true, replicate = true, circular = true }

local function size_str(x)
  local s = x:size()
  for i = 1, #s do s[i] = tostring(s[i]) end
  return #s == 0 and '(scalar)' or table.concat(s, 'x')
end

local function block(x, d, n, value)
  local s = x:size()
  s[d] = n
  return torch.full(s, value, { dtype = x.dtype, device = x.device })
end

local function pad_dim(x, d, l, r, mode, value)
  local n = x:size(d)
  if mode == 'constant' then
    if l < 0 or r < 0 then
      local start, len = 1 + math.max(-l, 0), n - math.max(-l, 0) - math.max(-r, 0)
      if len < 0 then
        error(('pad: the negative padding crops dim %d (size %d) below zero'):format(d, n), 4)
      end
      x = x:narrow(d, start, len)
      l, r = math.max(l, 0), math.max(r, 0)
    end
    if l == 0 and r == 0 then return x end
    local parts = {}
    if l > 0 then parts[#parts + 1] = block(x, d, l, value) end
    parts[#parts + 1] = x
    if r > 0 then parts[#parts + 1] = block(x, d, r, value) end
    return torch.cat(parts, d)
  end
  if l < 0 or r < 0 then error(('pad: %s padding amounts must be >= 0, got (%d, %d)'):format(mode, l, r), 4) end
  if l == 0 and r == 0 then return x end
  local left, right
  if mode == 'reflect' then
    if l >= n or r >= n then
      error(('pad: reflect padding (%d, %d) must be less than the size of dim %d (%d)'):format(l, r, d, n), 4)
    end
    if l > 0 then
      local idx = {}
      for i = 1, l do idx[i] = l + 2 - i end -- positions l+1 .. 2
      left = x:index_select(d, torch.tensor(idx, { device = x.device }))
    end
    if r > 0 then
      local idx = {}
      for i = 1, r do idx[i] = n - i end -- positions n-1 .. n-r
      right = x:index_select(d, torch.tensor(idx, { device = x.device }))
    end
  elseif mode == 'replicate' then
    if n == 0 then error(('pad: replicate padding needs a non-empty dim %d'):format(d), 4) end
    local s = x:size()
    if l > 0 then s[d] = l; left = x:narrow(d, 1, 1):expand(s) end
    if r > 0 then s[d] = r; right = x:narrow(d, n, 1):expand(s) end
  else -- circular
    if l > n or r > n then
      error(('pad: circular padding (%d, %d) must be at most the size of dim %d (%d)'):format(l, r, d, n), 4)
    end
    if l > 0 then left = x:narrow(d, n - l + 1, l) end
    if r > 0 then right = x:narrow(d, 1, r) end
  end
  local parts = {}
  if left then parts[#parts + 1] = left end
  parts[#parts + 1] = x
  if right then parts[#parts + 1] = right end
  return torch.cat(parts, d)
end

-- F.pad(x, pad [, mode='constant' [, value=0]]) or F.pad(x, pad, {mode=, value=})
function F.pad(x, pad, ...)
  if not torch.isTensor(x) then error('pad: expected a tensor as input, got ' .. torch.type(x), 2) end
  if type(pad) ~= 'table' or torch.isTensor(pad) then
    error('pad: pad must be a table of integers {left, right, ...}, got ' .. torch.type(pad), 2)
  end
  local mode, value = ...
  if type(mode) == 'table' then
    if select('#', ...) > 1 then error('pad: the options table must be the last argument', 2) end
    local o = mode
    mode, value = nil, nil
    for k, v in pairs(o) do
      if k == 'mode' then mode = v elseif k == 'value' then value = v
      else error(('pad: unknown option \'%s\'%s'):format(tostring(k), torch._did_you_mean(k, { 'mode', 'value' })), 2) end
    end
  elseif select('#', ...) > 2 then
    error('pad: expected at most (x, pad, mode, value)', 2)
  end
  mode = mode or 'constant'
  if type(mode) ~= 'string' or not MODES[mode] then
    error(('pad: mode must be one of constant, reflect, replicate, circular, got %s'):format(tostring(mode)), 2)
  end
  if value ~= nil and type(value) ~= 'number' then
    error('pad: value must be a number, got ' .. type(value), 2)
  end
  if value ~= nil and value ~= 0 and mode ~= 'constant' then
    error(('pad: padding mode "%s" does not take a value'):format(mode), 2)
  end
  value = value or 0
  local np = #pad
  if np % 2 ~= 0 then error('pad: pad length must be divisible by 2, got ' .. np, 2) end
  for i = 1, np do
    if math.type(pad[i]) ~= 'integer' then
      error(('pad: pad must hold integers, got %s at position %d'):format(tostring(pad[i]), i), 2)
    end
  end
  local k, d = np // 2, x:dim()
  if k > d then
    error(('pad: padding length %d is too large for a %dD input (at most 2 per dim)'):format(np, d), 2)
  end
  if mode ~= 'constant' then
    if k < 1 or k > 3 or (d ~= k + 1 and d ~= k + 2) then
      error(('pad: %s padding of %d dims expects a %dD or %dD input, got %dD (input size %s)'):format(mode, k,
        k + 1, k + 2, d, size_str(x)), 2)
    end
  end
  local y = x
  for i = 1, k do
    y = pad_dim(y, d - i + 1, pad[2 * i - 1], pad[2 * i], mode, value)
  end
  if y == x then y = x:clone() end -- always a new tensor, as PyTorch
  return y
end

return F
