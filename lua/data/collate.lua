-- Collation: turning the list of samples of one batch into one structure of
-- batched tensors, as PyTorch's default_collate does. Tensors are stacked along a
-- new first dimension; numbers become a tensor (int64 when all are integers,
-- float64 otherwise), booleans a bool tensor; strings stay a list; tables are
-- collated key by key, nested. Errors name the position (`[2].label`) and the
-- samples that differ.
local torch = require 'torch'
local data = require 'data'

local function describe(v)
  if torch.isTensor(v) then return 'a tensor' end
  if v == nil then return 'nil' end
  local t = torch.type(v)
  return (t:match('^[aeiou]') and 'an ' or 'a ') .. t
end

local function shape_str(t)
  if t:dim() == 0 then return 'a 0-d tensor' end
  local s = {}
  for d = 1, t:dim() do s[d] = tostring(t:size(d)) end
  return table.concat(s, 'x')
end

local function same_shape(a, b)
  if a:dim() ~= b:dim() then return false end
  for d = 1, a:dim() do
    if a:size(d) ~= b:size(d) then return false end
  end
  return true
end

local function at(path)
  return path == '' and '' or (' at ' .. path)
end

local function key_str(k)
  if math.type(k) == 'integer' then return '[' .. k .. ']' end
  if type(k) == 'string' and k:match('^[%a_][%w_]*$') then return '.' .. k end
  return '[' .. tostring(k) .. ']'
end

local function name(k)
  return type(k) == 'string' and ("'" .. k .. "'") or tostring(k)
end

local function is_plain_table(v)
  if type(v) ~= 'table' then return false end
  local mt = getmetatable(v)
  return mt == nil or rawget(mt, '__typename') == nil
end

local function fail(path, msg)
  error('default_collate' .. at(path) .. ': ' .. msg, 0)
end

local collate

local function collate_table(batch, path)
  local first, out = batch[1], {}
  for j = 2, #batch do
    local s = batch[j]
    if #s ~= #first then
      fail(path, ('sample %d has %d elements, sample 1 has %d (samples must share one structure)'):format(
        j, #s, #first))
    end
    for k in pairs(first) do
      if s[k] == nil then fail(path, ('sample %d has no key %s, which sample 1 has'):format(j, name(k))) end
    end
    for k in pairs(s) do
      if first[k] == nil then fail(path, ('sample %d has key %s, which sample 1 lacks'):format(j, name(k))) end
    end
  end
  for k in pairs(first) do
    local column = {}
    for j = 1, #batch do column[j] = batch[j][k] end
    out[k] = collate(column, path .. key_str(k))
  end
  return out
end

function collate(batch, path)
  local first = batch[1]
  local kind = torch.isTensor(first) and 'tensor' or type(first)
  for j = 2, #batch do
    local s = batch[j]
    local sk = torch.isTensor(s) and 'tensor' or type(s)
    if sk ~= kind or (kind == 'table' and is_plain_table(s) ~= is_plain_table(first)) then
      fail(path, ('sample %d is %s, but sample 1 is %s'):format(j, describe(s), describe(first)))
    end
  end
  if kind == 'tensor' then
    for j = 2, #batch do
      if not same_shape(batch[j], first) then
        fail(path, ('tensors differ in shape: sample %d is %s, sample 1 is %s'):format(
          j, shape_str(batch[j]), shape_str(first)))
      end
    end
    return torch.stack(batch)
  elseif kind == 'number' then
    local dtype = 'int64'
    for j = 1, #batch do
      if math.type(batch[j]) == 'float' then dtype = 'float64'; break end
    end
    return torch.tensor(batch, { dtype = dtype })
  elseif kind == 'boolean' then
    return torch.tensor(batch, { dtype = 'bool' })
  elseif kind == 'string' then
    return table.move(batch, 1, #batch, 1, {})
  elseif kind == 'table' and is_plain_table(first) then
    return collate_table(batch, path)
  end
  fail(path, ('samples must hold tensors, numbers, booleans, strings or tables of these; found %s')
    :format(describe(first)))
end

-- default_collate(samples): one batch from a list of samples (see the header)
function data.default_collate(samples)
  if type(samples) ~= 'table' or not is_plain_table(samples) then
    error(('default_collate: expected a list of samples, got %s'):format(describe(samples)), 2)
  end
  local n = #samples
  if n == 0 then error('default_collate: expected a non-empty list of samples', 2) end
  for j = 1, n do
    if samples[j] == nil then error(('default_collate: sample %d is nil'):format(j), 2) end
  end
  return collate(samples, '')
end

-- default_convert(sample): the collate function when the loader does not batch
-- (batch_size=false). PyTorch converts NumPy arrays to tensors here; Lua samples
-- have nothing to convert, so each is returned as it is.
function data.default_convert(sample)
  return sample
end

return data
