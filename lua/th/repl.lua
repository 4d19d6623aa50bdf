-- th.repl: the Lua half of th's REPL. pretty(v) is the short one-line form a
-- result prints as (tables as {1, 2, a = {...}}, tensors through their
-- __tostring); show(...) prints results; complete(word) lists what Tab can
-- complete `word` to (globals, table fields, methods through metatables).
local M = {}

local MAX_DEPTH = 3    -- nested tables deeper than this print as {...}
local MAX_ITEMS = 30   -- entries shown per table
local MAX_WIDTH = 1000 -- characters of one printed table

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch('%a+') do keywords[w] = true end

local function is_identifier(s)
  return type(s) == 'string' and s:match('^[%a_][%w_]*$') ~= nil and not keywords[s]
end

local function is_tensor(v)
  local torch = package.loaded.torch
  return type(v) == 'userdata' and torch ~= nil and torch.is_tensor ~= nil and torch.is_tensor(v)
end

local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  return ok and s or ('<' .. type(v) .. ': __tostring failed>')
end

-- A tensor inside a table: its type and shape, not its values.
local function tensor_summary(t)
  local ok, s = pcall(function()
    local dims = {}
    for i = 1, t:dim() do dims[i] = tostring(t:size(i)) end
    return t:type() .. ' of size ' .. (#dims > 0 and table.concat(dims, 'x') or 'scalar')
  end)
  return ok and ('<' .. s .. '>') or safe_tostring(t)
end

-- Orders keys of mixed types: numbers, then strings, then the rest.
local type_rank = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ra, rb = type_rank[type(a)] or 4, type_rank[type(b)] or 4
  if ra ~= rb then return ra < rb end
  if ra <= 2 then return a < b end
  return tostring(a) < tostring(b)
end

local format

local function format_table(t, depth, seen)
  local mt = getmetatable(t)
  if type(mt) == 'table' and rawget(mt, '__tostring') then return safe_tostring(t) end
  if seen[t] then return '<cycle>' end
  if depth > MAX_DEPTH then return next(t) == nil and '{}' or '{...}' end
  seen[t] = true
  local parts, width, n = {}, 0, rawlen(t)
  local function add(s)
    if #parts >= MAX_ITEMS or width > MAX_WIDTH then return false end
    parts[#parts + 1] = s
    width = width + #s + 2
    return true
  end
  local complete = true
  for i = 1, n do
    if not add(format(rawget(t, i), depth + 1, seen)) then complete = false break end
  end
  if complete then
    local keys = {}
    for k in next, t do
      if not (math.type(k) == 'integer' and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, key_less)
    for _, k in ipairs(keys) do
      local ks = is_identifier(k) and k or ('[' .. format(k, MAX_DEPTH + 1, seen) .. ']')
      if not add(ks .. ' = ' .. format(rawget(t, k), depth + 1, seen)) then complete = false break end
    end
  end
  seen[t] = nil
  if not complete then parts[#parts + 1] = '...' end
  return '{' .. table.concat(parts, ', ') .. '}'
end

function format(v, depth, seen)
  local tv = type(v)
  if tv == 'string' then return (string.format('%q', v):gsub('\\\n', '\\n')) end
  if tv == 'table' then return format_table(v, depth, seen) end
  if is_tensor(v) then return tensor_summary(v) end
  return safe_tostring(v)
end

-- The one-line form of a REPL result: strings as they are, tensors through
-- their own __tostring, tables as a short listing.
function M.pretty(v)
  if type(v) == 'string' or is_tensor(v) then return safe_tostring(v) end
  return format(v, 1, {})
end

-- Prints each value (tab-separated, as print does).
function M.show(...)
  local n = select('#', ...)
  local out = {}
  for i = 1, n do out[i] = M.pretty((select(i, ...))) end
  io.stdout:write(table.concat(out, '\t'), '\n')
  io.stdout:flush()
end

-- ---- completion ----

-- Adds the identifier keys of t (and, through __index tables, of its
-- metatables) to names; methods_only keeps function-valued ones.
local function collect(names, t, methods_only, visited)
  if type(t) ~= 'table' or visited[t] then return end
  visited[t] = true
  for k, v in next, t do
    if is_identifier(k) and (not methods_only or type(v) == 'function' or type(v) == 'table') then
      names[k] = true
    end
  end
  local mt = getmetatable(t)
  if type(mt) == 'table' then collect(names, rawget(mt, '__index'), methods_only, visited) end
end

-- Fields and methods reachable from value v with `.` (fields) or `:` (methods).
local function members(v, sep)
  local names, visited, methods_only = {}, {}, sep == ':'
  if type(v) == 'table' then collect(names, v, methods_only, visited) end
  if is_tensor(v) then
    local torch = package.loaded.torch
    collect(names, torch.Tensor_methods or torch._methods, methods_only, visited)
    if not methods_only then collect(names, torch._getters, false, visited) end
  else
    local mt = getmetatable(v)
    if type(mt) == 'table' then collect(names, rawget(mt, '__index'), methods_only, visited) end
  end
  return names
end

-- Candidates for completing word (`torch.ze`, `x:si`, `pri`), full words,
-- sorted. env: where globals live (_G).
function M.complete(word, env)
  env = env or _G
  local path, sep, partial = word:match('^([%a_][%w_%.]*)([%.:])([%w_]*)$')
  local names, prefix
  if path then
    local v = env
    for key in path:gmatch('[^.]+') do
      local ok, nextv = pcall(function() return v[key] end)
      if not ok or nextv == nil then return {} end
      v = nextv
    end
    names, prefix = members(v, sep), path .. sep
  else
    partial = word:match('^[%a_][%w_]*$') or (word == '' and '')
    if not partial then return {} end
    names, prefix = members(env, '.'), ''
    for k in pairs(keywords) do names[k] = true end
  end
  local out = {}
  for name in pairs(names) do
    if name:sub(1, #partial) == partial then out[#out + 1] = prefix .. name end
  end
  table.sort(out)
  return out
end

return M
