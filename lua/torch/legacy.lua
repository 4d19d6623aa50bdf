-- Torch7's typed constructors: torch.Tensor (float32), torch.FloatTensor,
-- DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor,
-- ByteTensor, BoolTensor. Each accepts the Torch7 forms:
--   torch.Tensor()            an empty 1-d tensor of size 0 (Ember has no 0-dim
--                             empty tensor: a 0-d tensor holds one value)
--   torch.Tensor(2, 3)        sizes as numbers or a torch.Size; zero-filled (Torch7
--                             left memory uninitialised, Ember zeros it for safety)
--   torch.Tensor{1, 2, 3}     values from a (nested) table, in the class's dtype
--   torch.Tensor(t)           a view sharing t's storage (t must have the same dtype)
-- torch.isTypeOf(x, torch.FloatTensor) and torch.type(x) == 'torch.FloatTensor' hold
-- for tensors made by any constructor.
return function(torch)
  local classes = {
    Tensor = 'float32', FloatTensor = 'float32', DoubleTensor = 'float64', HalfTensor = 'float16',
    BFloat16Tensor = 'bfloat16', LongTensor = 'int64', IntTensor = 'int32', ShortTensor = 'int16',
    CharTensor = 'int8', ByteTensor = 'uint8', BoolTensor = 'bool',
  }

  local function construct(cls, ...)
    local name, dtype = cls.__typename, cls.dtype
    local n = select('#', ...)
    local a = ...
    if n == 0 then
      return torch.empty(0, { dtype = dtype })
    end
    if torch.isTensor(a) then
      if n > 1 then error(name .. ': expected a single tensor to share', 2) end
      if a.dtype ~= dtype then
        error(('%s: cannot share the storage of a %s tensor (convert it first, e.g. x:%s())')
          :format(name, a.dtype, ({ float32 = 'float', float64 = 'double', float16 = 'half', bfloat16 = 'bfloat16',
            int64 = 'long', int32 = 'int', int16 = 'short', int8 = 'char', uint8 = 'byte', bool = 'bool' })[dtype]), 2)
      end
      return a:as_strided(a:size(), a:stride(), a:storage_offset())
    end
    local is_size = type(a) == 'table' and getmetatable(a) ~= nil and getmetatable(a).__name == 'torch.Size'
    if type(a) == 'number' or is_size then
      local sizes = type(a) == 'table' and a or { ... }
      for i = 1, #sizes do
        if math.type(sizes[i]) ~= 'integer' or sizes[i] < 0 then
          error(('%s: size %d must be a non-negative integer, got %s'):format(name, i, tostring(sizes[i])), 2)
        end
      end
      return torch.zeros(sizes, { dtype = dtype })
    end
    if type(a) == 'table' then
      if n > 1 then error(name .. ': expected one table of values', 2) end
      if #a == 0 then return torch.empty(0, { dtype = dtype }) end
      return torch.tensor(a, { dtype = dtype })
    end
    error(('%s: expected sizes, a table of values or a tensor, got %s'):format(name, type(a)), 2)
  end

  for cname, dtype in pairs(classes) do
    local cls = { __typename = 'torch.' .. cname, dtype = dtype }
    setmetatable(cls, {
      __call = construct,
      __index = torch.Tensor_methods, -- torch.FloatTensor.add(x, y) style calls
      __tostring = function() return 'torch.' .. cname end,
    })
    torch[cname] = cls
  end

  -- torch.isTypeOf(x, torch.FloatTensor), torch.isTypeOf(x, torch.Tensor)
  local is_type_of = torch.isTypeOf
  function torch.isTypeOf(obj, class)
    if type(class) == 'table' and rawget(class, 'dtype') and rawget(class, '__typename') then
      if not torch.isTensor(obj) then return false end
      return class == torch.Tensor or obj.dtype == class.dtype
    end
    return is_type_of(obj, class)
  end
end
