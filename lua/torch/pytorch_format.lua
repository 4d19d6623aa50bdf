-- torch.load_pytorch: reads the zip-format checkpoints that PyTorch >= 1.6's torch.save
-- writes, without Python and without running anything from the file. It implements
-- only the pickle subset PyTorch's own weights_only=True unpickler accepts (tensors and
-- their storages, dicts, OrderedDicts, lists, tuples, numbers, strings, None, booleans);
-- every other opcode or global is an error naming it. Also torch.pytorch_to_ember_names,
-- which shifts PyTorch's 0-based child numbers in state-dict keys to Ember's 1-based ones.
--
-- What the result looks like:
--   dict / OrderedDict -> a table whose pairs() walks the keys in insertion order; the
--                         keys list is getmetatable(t).keys (a None value keeps its key
--                         there but pairs() skips it); attributes set by BUILD (the
--                         '_metadata' of a state dict) are in getmetatable(t).attributes
--   list / tuple       -> a Lua array; a None inside leaves a hole at its position, and
--                         then the array also gets n = its length (as table.pack does)
--   tensor             -> a tensor on the CPU (whatever the saved location) viewing its
--                         storage with PyTorch's sizes, strides and offset; tensors that
--                         share a storage in the file share it here; nn.Parameter stays one
--   int / float / str / bool / None -> integer / float / string / boolean / nil
--   torch.Size         -> an array of integers; torch.float32 etc. -> the dtype name
--
-- The archive is read with the shared zip reader (lua/torch/zip.lua).
local M = {}

local MAX_DEPTH = 1000 -- containers nested deeper than this, or more open MARKs, are refused
local zip = require 'torch.zip'

local function fail(fmt, ...)
  error('load_pytorch: ' .. fmt:format(...), 0)
end

-- ---- the result's dictionaries ----

-- dicts are torch.OrderedDicts (lua/torch/ordered_dict.lua); installed with the module
local new_dict
M.new_dict = function() return new_dict() end

local function dict_set(d, k, v)
  local mt = getmetatable(d)
  if not mt.index[k] then mt.keys[#mt.keys + 1], mt.index[k] = k, true end
  rawset(d, k, v)
end

-- ---- the unpickler ----

local OPNAMES = {
  ['c'] = 'GLOBAL', ['i'] = 'INST', ['o'] = 'OBJ', ['R'] = 'REDUCE', ['b'] = 'BUILD', ['\x81'] = 'NEWOBJ',
  ['\x92'] = 'NEWOBJ_EX', ['\x93'] = 'STACK_GLOBAL', ['P'] = 'PERSID', ['Q'] = 'BINPERSID', ['\x82'] = 'EXT1',
  ['\x83'] = 'EXT2', ['\x84'] = 'EXT4', ['0'] = 'POP', ['1'] = 'POP_MARK', ['2'] = 'DUP', ['I'] = 'INT',
  ['L'] = 'LONG', ['\x8b'] = 'LONG4', ['F'] = 'FLOAT', ['S'] = 'STRING', ['T'] = 'BINSTRING', ['V'] = 'UNICODE',
  ['B'] = 'BINBYTES', ['C'] = 'SHORT_BINBYTES', ['\x8e'] = 'BINBYTES8', ['\x96'] = 'BYTEARRAY8',
  ['\x97'] = 'NEXT_BUFFER', ['\x98'] = 'READONLY_BUFFER', ['\x8f'] = 'EMPTY_SET', ['\x90'] = 'ADDITEMS',
  ['\x91'] = 'FROZENSET', ['d'] = 'DICT', ['l'] = 'LIST', ['p'] = 'PUT', ['g'] = 'GET',
}

local NIL = setmetatable({}, { __name = 'pickle None' }) -- None as a memo value

local DTYPES = {
  FloatStorage = 'float32', DoubleStorage = 'float64', HalfStorage = 'float16', BFloat16Storage = 'bfloat16',
  LongStorage = 'int64', IntStorage = 'int32', ShortStorage = 'int16', CharStorage = 'int8',
  ByteStorage = 'uint8', BoolStorage = 'bool', UntypedStorage = 'uint8',
}
local DTYPE_GLOBALS = {
  float32 = 'float32', float = 'float32', float64 = 'float64', double = 'float64', float16 = 'float16',
  half = 'float16', bfloat16 = 'bfloat16', int64 = 'int64', long = 'int64', int32 = 'int32', int = 'int32',
  int16 = 'int16', short = 'int16', int8 = 'int8', uint8 = 'uint8', bool = 'bool',
}

-- M.unpickle(data, loader [, torch]) -> value. loader(dtype, key, location, numel) returns the
-- storage as a 1-D tensor; nothing in data is ever called, only recognised.
function M.unpickle(data, loader, torch)
  if type(data) ~= 'string' then fail('expected the pickle as a string, got %s', type(data)) end
  local pos, n = 1, #data
  local st, sp = {}, 0          -- the stack (values may be nil, so its top is kept in sp)
  local marks = {}              -- stack positions saved by MARK
  local memo, memo_count = {}, 0
  local kind = {}               -- value -> 'list' | 'tuple' | 'dict' | 'global' | 'storage'
  local depth = {}              -- container -> nesting depth below it
  local holes = {}              -- list/tuple -> its length, when a None left a hole in it
  local len = {}                -- list -> its length so far
  local globals = {}            -- global record -> its description
  local op_at = 1

  local function perr(fmt, ...)
    fail('%s (pickle byte %d)', fmt:format(...), op_at - 1)
  end
  local function take(k, what)
    if k > n - pos + 1 then perr('truncated pickle: %s needs %d bytes, %d left', what, k, n - pos + 1) end
    local s = data:sub(pos, pos + k - 1)
    pos = pos + k
    return s
  end
  local function uint(fmt, k, what) return (string.unpack(fmt, take(k, what))) end
  local function push(v)
    sp = sp + 1
    st[sp] = v
  end
  local function floor() return marks[#marks] or 0 end
  local function pop(what)
    if sp <= floor() then perr('%s: the stack is empty', what) end
    local v = st[sp]
    st[sp] = nil
    sp = sp - 1
    return v
  end
  local function top(what)
    if sp <= floor() then perr('%s: the stack is empty', what) end
    return st[sp]
  end
  local function pop_mark(what)
    if #marks == 0 then perr('%s without MARK', what) end
    local base = table.remove(marks)
    local items, k = {}, sp - base
    for i = 1, k do items[i] = st[base + i]; st[base + i] = nil end
    sp = base
    return items, k
  end
  local function nest(parent, child)
    local d = (type(child) == 'table' and depth[child] or 0) + 1
    if d > (depth[parent] or 0) then
      if d > MAX_DEPTH then perr('containers nested deeper than %d', MAX_DEPTH) end
      depth[parent] = d
    end
  end
  local function tuple(items, k)
    local t = {}
    kind[t], depth[t] = 'tuple', 1
    for i = 1, k do
      t[i] = items[i]
      if items[i] == nil then holes[t] = k end
      nest(t, items[i])
    end
    return t
  end
  local function expect_tuple(v, what)
    if kind[v] ~= 'tuple' then perr('%s expects a tuple, got %s', what, kind[v] or type(v)) end
    return v
  end
  local function int_tuple(v, what, limit)
    expect_tuple(v, what)
    local k = #v
    if k > limit then perr('%s has %d entries, at most %d allowed', what, k, limit) end
    for i = 1, k do
      if math.type(v[i]) ~= 'integer' or v[i] < 0 then perr('%s must hold integers >= 0', what) end
    end
    return v, k
  end
  local function append(list, v)
    local k = len[list] + 1
    len[list] = k
    if v == nil then holes[list] = k elseif holes[list] then holes[list] = k end
    list[k] = v
    nest(list, v)
  end
  local function setitem(d, k, v)
    if kind[d] ~= 'dict' then perr('SETITEM on a %s, expected a dict', kind[d] or type(d)) end
    if k == nil or k ~= k then perr('a dict key is None or NaN') end
    dict_set(d, k, v)
    nest(d, v)
  end

  -- tensors
  local function rebuild_tensor(storage, offset, size, stride, requires_grad)
    if kind[storage] ~= 'storage' then
      perr('_rebuild_tensor: expected a storage, got %s', kind[storage] or type(storage))
    end
    if math.type(offset) ~= 'integer' or offset < 0 then perr('_rebuild_tensor: bad storage offset') end
    local _, nd = int_tuple(size, 'tensor size', 16)
    local _, ns = int_tuple(stride, 'tensor stride', 16)
    if nd ~= ns then perr('tensor with %d sizes but %d strides', nd, ns) end
    local avail, empty = storage:numel(), false
    local sizes, strides = {}, {}
    for i = 1, nd do
      sizes[i], strides[i] = size[i], stride[i]
      if size[i] == 0 then empty = true end
    end
    if empty then
      if offset > avail then perr('tensor offset %d is past its storage of %d elements', offset, avail) end
    else
      local last = offset -- the last element the view touches
      if last >= avail then perr('tensor offset %d is past its storage of %d elements', offset, avail) end
      for i = 1, nd do
        local s, d = size[i] - 1, stride[i]
        if s > 0 and d > 0 then
          if s > (avail - 1 - last) // d then
            perr('tensor of sizes {%s} and strides {%s} at offset %d reaches past its storage of %d elements',
              table.concat(sizes, ','), table.concat(strides, ','), offset, avail)
          end
          last = last + s * d
        end
      end
    end
    local t = torch.as_strided(storage, sizes, strides, offset)
    if requires_grad == true then
      if not t:is_floating_point() then perr('a %s tensor cannot require gradients', t.dtype) end
      t:requires_grad_(true)
    end
    return t
  end
  local function make_parameter(t, requires_grad)
    if not torch.isTensor(t) then perr('Parameter: expected a tensor, got %s', kind[t] or type(t)) end
    if requires_grad == nil then requires_grad = true end
    if type(requires_grad) ~= 'boolean' then perr('Parameter: requires_grad must be a boolean') end
    if requires_grad and not t:is_floating_point() then perr('a %s Parameter cannot require gradients', t.dtype) end
    return require('nn').Parameter(t, requires_grad)
  end
  local function empty_state(s)
    return s == nil or (kind[s] == 'dict' and next(s) == nil) or (kind[s] == 'tuple' and #s == 0)
  end

  -- the allowed globals: name -> {call = f(args tuple)} or {value = v} or a marker
  local ALLOWED = {
    ['collections.OrderedDict'] = { call = function(a)
      if #a ~= 0 then perr('OrderedDict(...) with arguments is not supported') end
      local d = new_dict()
      kind[d] = 'dict'
      return d
    end },
    ['torch._utils._rebuild_tensor'] = { call = function(a)
      return rebuild_tensor(a[1], a[2], a[3], a[4], false)
    end },
    ['torch._utils._rebuild_tensor_v2'] = { call = function(a)
      if type(a[5]) ~= 'boolean' then perr('_rebuild_tensor_v2: requires_grad must be a boolean') end
      return rebuild_tensor(a[1], a[2], a[3], a[4], a[5])
    end },
    ['torch._utils._rebuild_parameter'] = { call = function(a) return make_parameter(a[1], a[2]) end },
    ['torch._utils._rebuild_parameter_with_state'] = { call = function(a)
      if not empty_state(a[4]) then perr('_rebuild_parameter_with_state: Parameter attributes are not supported') end
      return make_parameter(a[1], a[2])
    end },
    ['torch.nn.parameter.Parameter'] = { call = function(a) return make_parameter(a[1], a[2]) end, parameter = true },
    ['torch.Tensor'] = { tensor = true },
    ['torch._tensor._rebuild_from_type_v2'] = { call = function(a)
      local func, new_type, args = globals[a[1]], globals[a[2]], a[3]
      if not func or not func.call or func.parameter then perr('_rebuild_from_type_v2: expected a rebuild function') end
      if not new_type or not (new_type.tensor or new_type.parameter) then
        perr('_rebuild_from_type_v2: only torch.Tensor and torch.nn.Parameter can be rebuilt')
      end
      local t = func.call(expect_tuple(args, '_rebuild_from_type_v2'))
      if not empty_state(a[4]) then perr('_rebuild_from_type_v2: tensor attributes are not supported') end
      if new_type.parameter and torch.isTensor(t) then t = make_parameter(t, t.requires_grad) end
      return t
    end },
    ['torch.Size'] = { call = function(a)
      local s, k = int_tuple(a[1], 'torch.Size', 1 << 20)
      local items = {}
      for i = 1, k do items[i] = s[i] end
      return tuple(items, k)
    end },
  }
  for name, dt in pairs(DTYPES) do ALLOWED['torch.' .. name] = { storage = dt } end
  ALLOWED['torch.storage.UntypedStorage'] = { storage = 'uint8' }
  for name, dt in pairs(DTYPE_GLOBALS) do ALLOWED['torch.' .. name] = { value = dt } end

  local function global(module, name)
    local full = module .. '.' .. name
    local g = ALLOWED[full]
    if not g then perr("global '%s' is not allowed", full) end
    if g.value then return g.value end
    local rec = setmetatable({ global = full }, { __name = 'pickle global', __tostring = function() return full end })
    kind[rec], globals[rec] = 'global', g
    return rec
  end
  local function line(what)
    local e = data:find('\n', pos, true)
    if not e or e - pos > 256 then perr('truncated or overlong %s', what) end
    local s = data:sub(pos, e - 1)
    pos = e + 1
    return s
  end

  local function persistent(pid)
    if kind[pid] ~= 'tuple' or pid[1] ~= 'storage' then perr('persistent ids other than storages are not allowed') end
    local g = globals[pid[2]]
    if not g or not g.storage then perr('storage of unknown type %s', tostring(pid[2])) end
    if type(pid[3]) ~= 'string' or type(pid[4]) ~= 'string' then perr('bad storage key or location') end
    if math.type(pid[5]) ~= 'integer' or pid[5] < 0 then perr('bad storage element count') end
    local t = loader(g.storage, pid[3], pid[4], pid[5])
    kind[t] = 'storage'
    return t
  end

  while true do
    op_at = pos
    local op = take(1, 'an opcode')
    if op == '\x80' then -- PROTO
      local v = uint('B', 1, 'PROTO')
      if v < 2 or v > 5 then perr('unsupported pickle protocol %d', v) end
    elseif op == '\x95' then -- FRAME (its length only helps buffered readers)
      take(8, 'FRAME')
    elseif op == '}' then local d = new_dict(); kind[d] = 'dict'; push(d)
    elseif op == ']' then local l = {}; kind[l], len[l] = 'list', 0; push(l)
    elseif op == ')' then push(tuple({}, 0))
    elseif op == '(' then
      if #marks >= MAX_DEPTH then perr('more than %d nested MARKs', MAX_DEPTH) end
      marks[#marks + 1] = sp
    elseif op == 's' then
      local v = pop('SETITEM'); local k = pop('SETITEM')
      setitem(top('SETITEM'), k, v)
    elseif op == 'u' then
      local items, k = pop_mark('SETITEMS')
      if k % 2 ~= 0 then perr('SETITEMS with an odd number of items') end
      local d = top('SETITEMS')
      for i = 1, k, 2 do setitem(d, items[i], items[i + 1]) end
    elseif op == 'a' then
      local v = pop('APPEND')
      local l = top('APPEND')
      if kind[l] ~= 'list' then perr('APPEND to a %s, expected a list', kind[l] or type(l)) end
      append(l, v)
    elseif op == 'e' then
      local items, k = pop_mark('APPENDS')
      local l = top('APPENDS')
      if kind[l] ~= 'list' then perr('APPENDS to a %s, expected a list', kind[l] or type(l)) end
      for i = 1, k do append(l, items[i]) end
    elseif op == 't' then push(tuple(pop_mark('TUPLE')))
    elseif op == '\x85' then local a = pop('TUPLE1'); push(tuple({ a }, 1))
    elseif op == '\x86' then local b = pop('TUPLE2'); local a = pop('TUPLE2'); push(tuple({ a, b }, 2))
    elseif op == '\x87' then
      local c = pop('TUPLE3'); local b = pop('TUPLE3'); local a = pop('TUPLE3')
      push(tuple({ a, b, c }, 3))
    elseif op == 'J' then push(uint('<i4', 4, 'BININT'))
    elseif op == 'K' then push(uint('B', 1, 'BININT1'))
    elseif op == 'M' then push(uint('<I2', 2, 'BININT2'))
    elseif op == '\x8a' then -- LONG1: little-endian two's complement
      local k = uint('B', 1, 'LONG1')
      if k > 8 then perr('LONG1 of %d bytes does not fit a 64-bit integer', k) end
      push(k == 0 and 0 or uint('<i' .. k, k, 'LONG1'))
    elseif op == 'G' then push(uint('>d', 8, 'BINFLOAT'))
    elseif op == 'X' then push(take(uint('<I4', 4, 'BINUNICODE'), 'BINUNICODE'))
    elseif op == '\x8c' then push(take(uint('B', 1, 'SHORT_BINUNICODE'), 'SHORT_BINUNICODE'))
    elseif op == '\x8d' then
      local k = uint('<i8', 8, 'BINUNICODE8')
      if k < 0 then perr('BINUNICODE8 length out of range') end
      push(take(k, 'BINUNICODE8'))
    elseif op == 'U' then push(take(uint('B', 1, 'SHORT_BINSTRING'), 'SHORT_BINSTRING'))
    elseif op == 'N' then push(nil)
    elseif op == '\x88' then push(true)
    elseif op == '\x89' then push(false)
    elseif op == 'q' or op == 'r' or op == '\x94' then -- BINPUT, LONG_BINPUT, MEMOIZE
      local i
      if op == 'q' then i = uint('B', 1, 'BINPUT')
      elseif op == 'r' then i = uint('<I4', 4, 'LONG_BINPUT')
      else i = memo_count end
      local v = top('memo')
      if memo[i] == nil then memo_count = memo_count + 1 end
      if v == nil then memo[i] = NIL else memo[i] = v end
    elseif op == 'h' or op == 'j' then -- BINGET, LONG_BINGET
      local i = op == 'h' and uint('B', 1, 'BINGET') or uint('<I4', 4, 'LONG_BINGET')
      local v = memo[i]
      if v == nil then perr('memo entry %d was never stored', i) end
      if v == NIL then push(nil) else push(v) end
    elseif op == 'c' then
      local module = line('GLOBAL module'); local name = line('GLOBAL name')
      push(global(module, name))
    elseif op == '\x93' then
      local name = pop('STACK_GLOBAL'); local module = pop('STACK_GLOBAL')
      if type(name) ~= 'string' or type(module) ~= 'string' then perr('STACK_GLOBAL expects two strings') end
      push(global(module, name))
    elseif op == 'R' then
      local args = pop('REDUCE')
      local f = top('REDUCE')
      local g = globals[f]
      if not g or not g.call then perr("REDUCE: '%s' cannot be called", tostring(f)) end
      st[sp] = g.call(expect_tuple(args, tostring(f)))
    elseif op == '\x81' then -- NEWOBJ: cls.__new__(cls, *args)
      local args = pop('NEWOBJ')
      local cls = pop('NEWOBJ')
      local g = globals[cls]
      if not g or not (g.parameter or (g.call and cls.global == 'collections.OrderedDict')) then
        perr("NEWOBJ: '%s' cannot be instantiated", tostring(cls))
      end
      push(g.call(expect_tuple(args, 'NEWOBJ')))
    elseif op == 'b' then -- BUILD: only an OrderedDict's attributes, or an empty tensor state
      local state = pop('BUILD')
      local inst = top('BUILD')
      if kind[inst] == 'dict' and kind[state] == 'dict' then
        getmetatable(inst).attributes = state
      elseif not (torch.isTensor(inst) and empty_state(state)) then
        perr('BUILD on a %s is not allowed', kind[inst] or type(inst))
      end
    elseif op == 'Q' then push(persistent(pop('BINPERSID')))
    elseif op == '.' then
      local v = pop('STOP')
      for t, k in pairs(holes) do t.n = k end
      return v
    else
      perr('opcode %s (0x%02x) is not allowed', OPNAMES[op] or 'unknown', op:byte())
    end
  end
end

-- ---- torch.load_pytorch ----

local function load(torch, path)
  local ok, z = pcall(zip.open, path)
  if not ok then fail('%s', (tostring(z):gsub('^zip: ', ''))) end
  local prefix
  for _, m in ipairs(z.members) do
    local p = m.name:match('^([^/]+)/data%.pkl$')
    if p then
      if prefix then fail('the archive holds several data.pkl records') end
      prefix = p
    end
  end
  if not prefix then fail('no <archive>/data.pkl record: not a PyTorch checkpoint') end
  local function read(name)
    local r, res = pcall(z.read, z, name)
    if not r then fail('%s', (tostring(res):gsub('^zip: ', ''))) end
    return res
  end
  if z:member(prefix .. '/version') then -- 1 to 3 so far; the layout read here has not changed
    local v = read(prefix .. '/version')
    if not v:match('^%d+\n?$') or tonumber(v) < 1 then fail('bad archive version record %q', v:sub(1, 20)) end
  end
  if z:member(prefix .. '/byteorder') then
    local order = read(prefix .. '/byteorder')
    if order ~= 'little' then fail("checkpoint byte order '%s' is not supported (only little-endian)", order) end
  end
  local pkl = read(prefix .. '/data.pkl')
  local storages = {}
  local function loader(dtype, key, _, numel)
    local s = storages[key]
    if s then
      if s.dtype ~= dtype then fail('storage %s is read both as %s and as %s', key, s.dtype, dtype) end
      return s
    end
    local m = z:member(prefix .. '/data/' .. key)
    if not m then fail('the archive has no member %s/data/%s', prefix, key) end
    local esize = torch.empty(0, { dtype = dtype }):element_size()
    if numel > m.size // esize then
      fail('storage %s claims %d %s elements but its record holds %d bytes', key, numel, dtype, m.size)
    end
    if m.size % esize ~= 0 then fail('storage %s holds %d bytes, not whole %s elements', key, m.size, dtype) end
    local r, res = pcall(z.read_tensor, z, m, dtype, { m.size // esize })
    if not r then fail('%s', (tostring(res):gsub('^zip: ', ''))) end
    s = numel < res:numel() and res:narrow(1, 1, numel) or res
    storages[key] = s
    return s
  end
  local result = M.unpickle(pkl, loader, torch)
  z:close()
  return result
end

-- shifts the purely numeric components of a dotted name: '0.weight' -> '1.weight'
local function shift_name(k)
  if type(k) ~= 'string' then return k end
  return (k:gsub('[^.]+', function(c)
    if c == '0' or (c:match('^[1-9]%d*$') and #c < 18) then return tostring(math.tointeger(c) + 1) end
  end))
end
M.shift_name = shift_name

local function install(_, torch)
  new_dict = torch.OrderedDict
  -- torch.load_pytorch(path) -> the object a PyTorch (>= 1.6) torch.save wrote to path,
  -- read without running anything from the file (see the top of lua/torch/pytorch_format.lua
  -- for how Python values map to Lua). Tensors load onto the CPU.
  function torch.load_pytorch(path)
    if type(path) ~= 'string' then error('load_pytorch: expected a file name, got ' .. torch.type(path), 2) end
    local ok, res = pcall(load, torch, path)
    if not ok then
      res = tostring(res)
      if not res:find('^load_pytorch: ') then res = 'load_pytorch: ' .. res end
      error(res, 2)
    end
    return res
  end

  -- torch.pytorch_to_ember_names(sd) -> a new ordered state dict whose keys have PyTorch's
  -- 0-based child numbers shifted to Ember's 1-based ones: '0.weight' -> '1.weight',
  -- 'features.3.bias' -> 'features.4.bias'. Only purely numeric components change; the
  -- tensors are the same objects. Use: net:load_state_dict(torch.pytorch_to_ember_names(sd)).
  function torch.pytorch_to_ember_names(sd)
    if type(sd) ~= 'table' then
      error('pytorch_to_ember_names: expected a state dict table, got ' .. torch.type(sd), 2)
    end
    local out = new_dict()
    for k, v in pairs(sd) do
      local nk = shift_name(k)
      if rawget(out, nk) ~= nil then error('pytorch_to_ember_names: two keys map to ' .. tostring(nk), 2) end
      out[nk] = v
    end
    return out
  end
  return M
end

-- require('torch.pytorch_format')(torch) installs the functions; the module's table
-- (M.unpickle, M.shift_name, M.new_dict) stays reachable for the specs
return setmetatable(M, { __call = install })
