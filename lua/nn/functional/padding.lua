-- nn.functional padding: F.pad(x, pad [, mode='constant', value=0]) or
-- F.pad(x, pad, {mode=, value=}): the argument checks here, then one fused C
-- op, torch.pad (core/pad.c), which checks the amounts against the sizes. pad lists (left, right) amounts from the LAST dim
-- backwards, as PyTorch: {1, 2} pads the last dim by 1 before and 2 after,
-- {1, 1, 2, 2} also pads the dim before it by 2 on both sides.
-- Modes: 'constant' (value; negative amounts crop), 'reflect' (mirror without
-- repeating the edge; amount < size), 'replicate' (repeat the edge), 'circular'
-- (wrap around; amount <= size). Non-constant modes pad the last 1, 2 or 3 dims of
-- a 2-3D, 3-4D or 4-5D input (with or without a batch dim).
local torch = require 'torch'

local F = {}

local MODES = { constant = true, reflect = true, replicate = true, circular = true }

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
  return torch.pad(x, pad, mode, value)
end

return F
