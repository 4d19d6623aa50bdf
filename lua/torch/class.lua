-- Torch7's class system: torch.class(name [, parent]) returns the class table
-- and its parent. Instances are tables whose metatable is the class; calling the
-- class creates one and runs __init. Classes are kept in a registry by name, so
-- serialization can find them again (torch.getclass).
return function(torch)
  local registry = {}

  -- metamethods are looked up raw on the metatable, so a subclass copies its
  -- parent's (net(x) works for every nn.Module subclass through __call)
  local function inherit_metamethods(class, parent)
    for k, v in pairs(parent) do
      if type(k) == 'string' and k:sub(1, 2) == '__' and rawget(class, k) == nil
        and k ~= '__index' and k ~= '__typename' and k ~= '__init' and k ~= '__parent' then
        rawset(class, k, v)
      end
    end
  end

  local function new_instance(class, ...)
    local obj = setmetatable({}, class)
    local init = class.__init
    if init then init(obj, ...) end
    return obj
  end

  local function set_in_namespace(name, class)
    local prefix, short = name:match('^(.*)%.([^.]+)$')
    if not prefix then
      if rawget(_G, name) == nil then rawset(_G, name, class) end
      return
    end
    local ns = package.loaded[prefix]
    if type(ns) ~= 'table' then ns = rawget(_G, prefix) end
    if type(ns) == 'table' and rawget(ns, short) == nil then rawset(ns, short, class) end
  end

  -- A class (or an ancestor) may define __index_missing(self, key), called for keys
  -- that neither the instance nor the class chain holds: data.Dataset answers ds[i]
  -- with ds:get(i), a named Sequential answers net.conv1. Only such classes pay for a
  -- function __index; the others keep the class table as __index.
  local function with_index_hook(class)
    class.__index = function(obj, k)
      local v = class[k]
      if v ~= nil then return v end
      local hook = class.__index_missing
      if hook then return hook(obj, k) end
    end
  end

  function torch.class(name, parent_name, ...)
    if type(name) ~= 'string' or name == '' then
      error("torch.class: expected a class name (string), got " .. type(name), 2)
    end
    if registry[name] then
      error("torch.class: class '" .. name .. "' is already defined", 2)
    end
    local parent
    if parent_name ~= nil then
      parent = type(parent_name) == 'table' and parent_name or registry[parent_name]
      if not parent then
        error("torch.class: unknown parent class '" .. tostring(parent_name) .. "'", 2)
      end
    end
    local class = { __typename = name, __parent = parent }
    class.__index = class
    if parent then
      inherit_metamethods(class, parent)
    end
    if parent and parent.__index_missing then with_index_hook(class) end
    setmetatable(class, {
      __index = parent,
      __call = new_instance,
      __tostring = function() return 'class ' .. name end,
      -- a metamethod defined on the class later must be visible to instances too
      __newindex = function(c, k, v)
        rawset(c, k, v)
        if k == '__index_missing' then with_index_hook(c) end
      end,
    })
    registry[name] = class
    set_in_namespace(name, class)
    return class, parent
  end

  function torch.getclass(name)
    return registry[name]
  end

  function torch.classes()
    return registry
  end

  -- torch.type(x): the class name for class instances, 'torch.FloatTensor' etc.
  -- for tensors, otherwise Lua's type
  function torch.type(x)
    if torch.isTensor(x) then return x:type() end
    local mt = getmetatable(x)
    if type(mt) == 'table' then
      local tn = rawget(mt, '__typename')
      if tn then return tn end
    end
    return type(x)
  end

  -- torch.isTypeOf(obj, 'nn.Module' | class): true when obj's class is that class
  -- or inherits from it
  function torch.isTypeOf(obj, class)
    if type(class) == 'string' then
      if torch.isTensor(obj) then return obj:type() == class or class == 'torch.Tensor' end
      class = registry[class]
    end
    local mt = getmetatable(obj)
    while type(mt) == 'table' do
      if mt == class then return true end
      mt = rawget(mt, '__parent')
    end
    return false
  end
end
