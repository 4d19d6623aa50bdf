-- Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict.
-- List containers keep their items at integer keys 1..n of the instance (so
-- net[i], #net and ipairs(net) are plain Lua); dict containers keep them at their
-- names, in insertion order. Child names are '1', '2', ... (1-based, as
-- everywhere in Ember).
local torch = require 'torch'
local nn = require 'nn'
local Parameter = require 'nn.parameter'
require 'nn.module'

local is_module = nn.is_module

-- ---- shared list behaviour ----

-- re-lists the integer keys 1..n first, then the named keys in their order
local function reorder(self)
  local o = rawget(self, '_order') or {}
  local named = {}
  for _, k in ipairs(o) do
    if type(k) ~= 'number' then named[#named + 1] = k end
  end
  local n = rawlen(self)
  local new = {}
  for i = 1, n do new[i] = i end
  for _, k in ipairs(named) do new[#new + 1] = k end
  rawset(self, '_order', new)
end

local function norm_index(self, i, what, extra)
  local n = rawlen(self) + (extra or 0)
  if math.type(i) ~= 'integer' then
    error(('%s: index must be an integer, got %s'):format(what, math.type(i) or type(i)), 3)
  end
  if i < 0 then i = n + i + 1 end
  if i < 1 or i > n then
    error(('%s: index %d is out of range (1..%d)'):format(what, i, n), 3)
  end
  return i
end

local function list_methods(class, what, check)
  function class:append(v)
    v = check(v, what .. ':append')
    local n = rawlen(self)
    self[n + 1] = v
    return self
  end

  function class:extend(list)
    if type(list) ~= 'table' then error(what .. ':extend: expected a list, got ' .. type(list), 2) end
    local items = is_module(list) and list:children() or list
    for _, v in ipairs(items) do self:append(v) end
    return self
  end

  -- insert(index, v) (PyTorch) or insert(v [, index]) (Torch7)
  function class:insert(a, b)
    local index, v
    if math.type(a) == 'integer' then index, v = a, b else v, index = a, b end
    v = check(v, what .. ':insert')
    local n = rawlen(self)
    if index == nil then index = n + 1 end
    if math.type(index) ~= 'integer' then error(what .. ':insert: index must be an integer', 2) end
    if index < 0 then index = n + index + 1 end
    if index < 1 or index > n + 1 then error(('%s:insert: index %d is out of range (1..%d)'):format(what, index, n + 1), 2) end
    for i = n, index, -1 do rawset(self, i + 1, rawget(self, i)) end
    rawset(self, index, v)
    reorder(self)
    return self
  end

  -- remove([index]): removes and returns the item (the last one by default)
  function class:remove(index)
    local n = rawlen(self)
    if n == 0 then error(what .. ':remove: the container is empty', 2) end
    index = index == nil and n or norm_index(self, index, what .. ':remove')
    local v = rawget(self, index)
    for i = index, n - 1 do rawset(self, i, rawget(self, i + 1)) end
    rawset(self, n, nil)
    reorder(self)
    return v
  end
  class.pop = class.remove

  function class:__len() return rawlen(self) end

  function class:get(i) return rawget(self, norm_index(self, i, what .. ':get')) end

  function class:set(i, v)
    rawset(self, norm_index(self, i, what .. ':set'), check(v, what .. ':set'))
  end

  -- pairs(list) walks the items 1..n
  function class:__pairs()
    return function(t, i)
      i = i + 1
      local v = rawget(t, i)
      if v ~= nil then return i, v end
    end, self, 0
  end
end

local function check_module(v, what)
  if not is_module(v) then
    error(('%s: expected an nn.Module, got %s'):format(what, torch.type(v)), 3)
  end
  return v
end

local function check_param(v, what)
  if not torch.isTensor(v) then
    error(('%s: expected a tensor, got %s'):format(what, torch.type(v)), 3)
  end
  if not Parameter.is(v) then v = Parameter(v) end
  return v
end

-- ---- Sequential ----

local Sequential, Module = torch.class('nn.Sequential', 'nn.Module')

-- the position of a named item, or nil
local function named_position(self, k)
  local names = rawget(self, '_names')
  if not names or type(k) ~= 'string' then return nil end
  for i = 1, rawlen(self) do
    if names[i] == k then return i end
  end
end

local function check_item_name(self, name, what)
  if type(name) ~= 'string' then error(('%s: a name must be a string, got %s'):format(what, type(name)), 4) end
  if name == '' or name:find('.', 1, true) or name:sub(1, 1) == '_' then
    error(('%s: bad name "%s" (empty, containing ".", or starting with "_")'):format(what, name), 4)
  end
  if Sequential[name] ~= nil or name == 'training' then
    error(('%s: name "%s" is reserved (a method or field of Sequential)'):format(what, name), 4)
  end
  if named_position(self, name) then error(('%s: name "%s" is given twice'):format(what, name), 4) end
end

-- nn.Sequential(a, b, c), nn.Sequential():add(a):add(b) (Torch7), or named children
-- in order, PyTorch's Sequential(OrderedDict(...)): nn.Sequential{{'conv1', m1},
-- {'relu1', m2}}. Named items are reached by position (net[1]) and by name
-- (net.conv1), and their names appear in state dicts ('conv1.weight').
function Sequential:__init(...)
  Module.__init(self)
  local first = ...
  if select('#', ...) == 1 and type(first) == 'table' and not is_module(first) and getmetatable(first) == nil then
    rawset(self, '_names', {})
    for i, e in ipairs(first) do
      if type(e) ~= 'table' or is_module(e) or #e ~= 2 then
        error(('Sequential: item %d of a named list must be a {name, module} pair'):format(i), 3)
      end
      check_item_name(self, e[1], 'Sequential')
      self:add(check_module(e[2], 'Sequential'))
      rawget(self, '_names')[i] = e[1]
    end
    return
  end
  for i = 1, select('#', ...) do
    self:add(check_module(select(i, ...), 'Sequential'))
  end
end

list_methods(Sequential, 'Sequential', check_module)

-- names follow their items when positions shift
local insert, remove = Sequential.insert, Sequential.remove
function Sequential:insert(a, b)
  local names = rawget(self, '_names')
  local n = rawlen(self)
  insert(self, a, b)
  if names then
    local index = math.type(a) == 'integer' and a or b or n + 1
    if index < 0 then index = n + index + 1 end
    for i = n, index, -1 do names[i + 1] = names[i] end
    names[index] = nil
  end
  return self
end
function Sequential:remove(index)
  local names = rawget(self, '_names')
  local n = rawlen(self)
  local v = remove(self, index)
  if names then
    if index == nil then index = n elseif index < 0 then index = n + index + 1 end
    for i = index, n - 1 do names[i] = names[i + 1] end
    names[n] = nil
  end
  return v
end
Sequential.pop = Sequential.remove

-- net.name reads and replaces a named item (also in subclasses: see torch.class)
function Sequential:__index_missing(k)
  local i = named_position(self, k)
  if i then return rawget(self, i) end
end

function Sequential.__newindex(self, k, v)
  local i = named_position(self, k)
  if i then
    rawset(self, i, check_module(v, 'Sequential'))
    return
  end
  Module.__newindex(self, k, v)
end

function Sequential:add(m)
  return self:append(m)
end

function Sequential:size() return rawlen(self) end

function Sequential:forward(x, ...)
  local n = rawlen(self)
  if n == 0 then return x end
  local out = table.pack(x, ...)
  for i = 1, n do
    out = table.pack(rawget(self, i)(table.unpack(out, 1, out.n)))
  end
  return table.unpack(out, 1, out.n)
end

-- ---- ModuleList ----

local ModuleList = torch.class('nn.ModuleList', 'nn.Module')

function ModuleList:__init(list)
  Module.__init(self)
  if list ~= nil then self:extend(list) end
end

list_methods(ModuleList, 'ModuleList', check_module)

function ModuleList:forward()
  error('ModuleList: has no forward; call its modules in your own forward', 2)
end

-- ---- ParameterList ----

local ParameterList = torch.class('nn.ParameterList', 'nn.Module')

function ParameterList:__init(list)
  Module.__init(self)
  if list ~= nil then self:extend(list) end
end

list_methods(ParameterList, 'ParameterList', check_param)

function ParameterList:extra_repr()
  local lines = {}
  for i = 1, rawlen(self) do
    local p = rawget(self, i)
    local s = p:size()
    local d = {}
    for j = 1, #s do d[j] = tostring(s[j]) end
    lines[i] = ('(%d): Parameter containing: [%s of size %s]'):format(i, p:type(), table.concat(d, 'x'))
  end
  return table.concat(lines, '\n')
end

-- ---- dicts ----

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- the (name, value) pairs of a constructor argument: a list of {name, value}
-- pairs keeps its order, a plain table is taken in sorted key order
local function dict_items(src, what)
  if src == nil then return {} end
  if type(src) ~= 'table' then error(what .. ': expected a table of items, got ' .. type(src), 3) end
  if is_module(src) and src.items then return src:items() end
  local items = {}
  if #src > 0 and type(src[1]) == 'table' and not torch.isTensor(src[1]) and not is_module(src[1]) then
    for i, e in ipairs(src) do items[i] = { e[1], e[2] } end
  else
    for _, k in ipairs(sorted_keys(src)) do items[#items + 1] = { k, src[k] } end
  end
  return items
end

local function dict_methods(class, what, check)
  function class:__init(src)
    Module.__init(self)
    self:update(src)
  end

  function class:update(src)
    for _, e in ipairs(dict_items(src, what .. ':update')) do self:set(e[1], e[2]) end
    return self
  end

  function class:set(k, v)
    if type(k) ~= 'string' then error(what .. ': keys must be strings, got ' .. type(k), 2) end
    if k == '' or k:find('.', 1, true) then error(what .. ': bad key "' .. k .. '" (empty or containing ".")', 2) end
    if k:sub(1, 1) == '_' or k == 'training' or class[k] ~= nil then
      error(('%s: key "%s" is reserved (a method or field of %s)'):format(what, k, what), 2)
    end
    self[k] = check(v, what)
  end

  function class:get(k) return rawget(self, k) end

  function class:keys()
    local res = {}
    for _, k in ipairs(rawget(self, '_order') or {}) do
      if type(k) == 'string' and rawget(self, k) ~= nil and k ~= 'training' then res[#res + 1] = k end
    end
    return res
  end

  function class:values()
    local res = {}
    for i, k in ipairs(self:keys()) do res[i] = rawget(self, k) end
    return res
  end

  function class:items()
    local res = {}
    for i, k in ipairs(self:keys()) do res[i] = { k, rawget(self, k) } end
    return res
  end

  function class:contains(k) return type(k) == 'string' and rawget(self, k) ~= nil and k ~= 'training' end

  function class:pop(k)
    local v = rawget(self, k)
    if v == nil then error(what .. ':pop: no key "' .. tostring(k) .. '"', 2) end
    rawset(self, k, nil)
    local o = rawget(self, '_order')
    for i = #o, 1, -1 do if o[i] == k then table.remove(o, i) end end
    return v
  end

  function class:clear()
    for _, k in ipairs(self:keys()) do self:pop(k) end
  end

  function class:__len() return #self:keys() end

  -- pairs(dict) walks the items in insertion order
  function class:__pairs()
    local keys, i = self:keys(), 0
    return function()
      i = i + 1
      local k = keys[i]
      if k ~= nil then return k, rawget(self, k) end
    end, self, nil
  end
end

local ModuleDict = torch.class('nn.ModuleDict', 'nn.Module')
dict_methods(ModuleDict, 'ModuleDict', check_module)
function ModuleDict:forward()
  error('ModuleDict: has no forward; call its modules in your own forward', 2)
end

local ParameterDict = torch.class('nn.ParameterDict', 'nn.Module')
dict_methods(ParameterDict, 'ParameterDict', check_param)

function ParameterDict:extra_repr()
  local lines = {}
  for _, e in ipairs(self:items()) do
    local s = e[2]:size()
    local d = {}
    for j = 1, #s do d[j] = tostring(s[j]) end
    lines[#lines + 1] = ('(%s): Parameter containing: [%s of size %s]'):format(e[1], e[2]:type(), table.concat(d, 'x'))
  end
  return table.concat(lines, '\n')
end

return { Sequential = Sequential, ModuleList = ModuleList, ModuleDict = ModuleDict,
  ParameterList = ParameterList, ParameterDict = ParameterDict }
