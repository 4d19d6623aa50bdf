-- torch.load_npy / torch.save_npy / torch.load_npz: NumPy's .npy and .npz files.
-- A .npy file is the magic "\x93NUMPY", a version (1.0, 2.0 or 3.0), a header
-- length (2 bytes in 1.0, 4 after), a Python dict literal
-- {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces
-- and a newline, then the raw elements. The dict is parsed strictly here (it is
-- never evaluated). A .npz file is a zip archive of .npy members, stored or
-- deflated (torch.zip).
--
-- Loading: little- and big-endian data (big-endian is byte-swapped); Fortran
-- order is loaded and made C-contiguous, so every loaded tensor is contiguous and
-- owns its memory. Unsigned types Ember lacks are widened: <u2 -> int32,
-- <u4 -> int64, <u8 -> int64 (an error if a value is 2^63 or more). Bool bytes
-- other than 0/1, complex, object (pickled) and structured dtypes are refused.
-- Saving writes version 1.0, C order, as numpy.save does, byte for byte.
return function(torch)
  local zip = require 'torch.zip'
  local write_atomic = require 'torch.atomic'

  local MAGIC = '\x93NUMPY'
  local MAX_HEADER = 1 << 20 -- numpy itself refuses dict headers over 10000 bytes

  -- kind .. size -> Ember dtype, and the dtype the bytes are read as when it differs
  local KINDS = {
    f8 = 'float64', f4 = 'float32', f2 = 'float16', i8 = 'int64', i4 = 'int32', i2 = 'int16',
    i1 = 'int8', u1 = 'uint8', b1 = 'bool', u2 = 'int32', u4 = 'int64', u8 = 'int64',
  }
  local READ_AS = { b1 = 'uint8', u2 = 'int16', u4 = 'int32', u8 = 'int64' }
  local DESCR = {
    float64 = '<f8', float32 = '<f4', float16 = '<f2', int64 = '<i8', int32 = '<i4', int16 = '<i2',
    int8 = '|i1', uint8 = '|u1', bool = '|b1',
  }

  local function fail(what, fmt, ...)
    error(what .. ': ' .. string.format(fmt, ...), 0)
  end

  -- ---- the header dict: a strict reader for the Python literal numpy writes ----

  local function parse_dict(what, s)
    local pos = 1
    local function ws() pos = s:find('[^ \t]', pos) or #s + 1 end
    local function expect(c)
      ws()
      if s:sub(pos, pos) ~= c then fail(what, "bad header dict: expected '%s' at character %d of %q", c, pos, s) end
      pos = pos + 1
    end
    local function string_lit()
      ws()
      local q = s:sub(pos, pos)
      if q ~= "'" and q ~= '"' then return nil end
      local close = s:find(q, pos + 1, true)
      if not close then fail(what, 'bad header dict: unterminated string') end
      local v = s:sub(pos + 1, close - 1)
      if v:find('\\', 1, true) then fail(what, 'bad header dict: escapes in strings are not supported') end
      pos = close + 1
      return v
    end
    local function value()
      ws()
      local str = string_lit()
      if str then return str end
      if s:sub(pos, pos + 3) == 'True' then pos = pos + 4 return true end
      if s:sub(pos, pos + 4) == 'False' then pos = pos + 5 return false end
      if s:sub(pos, pos) == '[' then fail(what, 'structured dtypes are not supported') end
      if s:sub(pos, pos) ~= '(' then fail(what, 'bad header dict: unexpected value at character %d of %q', pos, s) end
      pos = pos + 1
      local t = { tuple = true }
      ws()
      if s:sub(pos, pos) == ')' then pos = pos + 1 return t end
      while true do
        ws()
        local num = s:match('^%d+', pos)
        if not num then fail(what, 'bad header dict: expected a size at character %d of %q', pos, s) end
        local v = math.tointeger(tonumber(num))
        if not v or #num > 18 then fail(what, 'shape entry %s is too large', num) end
        t[#t + 1] = v
        pos = pos + #num
        ws()
        local c = s:sub(pos, pos)
        pos = pos + 1
        if c == ')' then
          if #t == 1 then fail(what, 'bad header dict: a 1-tuple needs a trailing comma') end
          return t
        end
        if c ~= ',' then fail(what, 'bad header dict: expected , or ) in the shape') end
        ws()
        if s:sub(pos, pos) == ')' then pos = pos + 1 return t end
      end
    end
    local d = {}
    expect('{')
    while true do
      ws()
      if s:sub(pos, pos) == '}' then pos = pos + 1 break end
      local key = string_lit()
      if not key then fail(what, 'bad header dict: expected a string key at character %d of %q', pos, s) end
      if d[key] ~= nil then fail(what, 'bad header dict: duplicate key %q', key) end
      expect(':')
      d[key] = value()
      ws()
      local c = s:sub(pos, pos)
      pos = pos + 1
      if c == '}' then break end
      if c ~= ',' then fail(what, 'bad header dict: expected , or } at character %d of %q', pos - 1, s) end
    end
    if not s:find('^[ \t]*\n$', pos) then fail(what, 'bad header: trailing characters after the dict') end
    for k in pairs(d) do
      if k ~= 'descr' and k ~= 'shape' and k ~= 'fortran_order' then fail(what, 'bad header dict: unknown key %q', k) end
    end
    if type(d.descr) ~= 'string' then fail(what, "bad header dict: 'descr' must be a dtype string") end
    if type(d.fortran_order) ~= 'boolean' then fail(what, "bad header dict: 'fortran_order' must be True or False") end
    if type(d.shape) ~= 'table' then fail(what, "bad header dict: 'shape' must be a tuple") end
    if #d.shape > 16 then fail(what, '%d dimensions (at most 16)', #d.shape) end
    return d
  end

  -- (descr) -> Ember dtype, dtype to read the bytes as, element size, byte swap?
  local function parse_descr(what, descr)
    local order, kind, size = descr:match('^([<>|=])([a-zA-Z])(%d+)$')
    if not order then fail(what, 'unsupported dtype %q', descr) end
    local key = kind .. size
    if kind == 'c' then fail(what, 'complex dtype %q is not supported', descr) end
    if kind == 'O' then fail(what, 'object arrays (pickled Python objects) are refused') end
    local dt = KINDS[key]
    if not dt then fail(what, 'unsupported dtype %q', descr) end
    local esize = tonumber(size)
    if esize > 1 and order == '|' then fail(what, "dtype %q: '|' is only valid for 1-byte types", descr) end
    return dt, READ_AS[key] or dt, esize, esize > 1 and order == '>', key
  end

  -- Reads the magic, version and header from src:read(n) (a file or a string
  -- cursor); returns the parsed dict and the header's total length.
  local function read_header(what, src)
    local head = src.read(8)
    if #head < 8 or head:sub(1, 6) ~= MAGIC then fail(what, 'not a .npy file (bad magic)') end
    local major, minor = head:byte(7, 8)
    if minor ~= 0 or major < 1 or major > 3 then fail(what, 'unsupported .npy version %d.%d', major, minor) end
    local hlen_size = major == 1 and 2 or 4
    local lenbytes = src.read(hlen_size)
    if #lenbytes < hlen_size then fail(what, 'truncated header') end
    local hlen = string.unpack(major == 1 and '<I2' or '<I4', lenbytes)
    if hlen > MAX_HEADER then fail(what, 'header length %d exceeds the %d-byte limit', hlen, MAX_HEADER) end
    if hlen > src.remaining() then fail(what, 'header length %d runs past the end of the data', hlen) end
    local text = src.read(hlen)
    if major == 3 then
      if not utf8.len(text) then fail(what, 'the header is not valid UTF-8') end
    elseif text:find('[\128-\255]') then
      fail(what, 'non-ASCII characters in a version %d header', major)
    end
    return parse_dict(what, text)
  end

  -- Builds the tensor from a parsed header and the data that follows in src.
  local function read_data(what, d, src)
    local dt, read_as, esize, swap, key = parse_descr(what, d.descr)
    -- Fortran order: the bytes are the transpose in C order
    local sizes = {}
    for i = 1, #d.shape do sizes[i] = d.fortran_order and d.shape[#d.shape + 1 - i] or d.shape[i] end
    local left = src.remaining()
    local nbytes = esize
    for _, s in ipairs(sizes) do
      if s == 0 then nbytes = 0 end
    end
    for _, s in ipairs(nbytes > 0 and sizes or {}) do
      if nbytes > (1 << 62) // s then fail(what, 'the shape needs more than 2^62 bytes') end
      nbytes = nbytes * s
    end
    if nbytes ~= left then
      fail(what, 'the shape and dtype need %d bytes of data, %d are present%s', nbytes, left,
        nbytes > left and ' (truncated)' or '')
    end
    local t
    if swap then
      t = torch._tensor_from_bytes(torch._byteswap(src.read(nbytes), esize), read_as, sizes)
    else
      t = src.tensor(read_as, sizes)
    end
    if key == 'b1' then
      if t:numel() > 0 and t:max():item() > 1 then fail(what, 'a bool byte other than 0 or 1') end
      t = t:to('bool')
    elseif key == 'u2' or key == 'u4' then
      t = t:to(dt)
      t = t + t:lt(0):to(dt) * (key == 'u2' and 65536 or 4294967296)
    elseif key == 'u8' then
      if t:numel() > 0 and t:lt(0):any():item() then
        fail(what, 'a uint64 value is 2^63 or more and does not fit int64')
      end
    end
    if d.fortran_order and #sizes > 1 then
      local perm = {}
      for i = 1, #sizes do perm[i] = #sizes + 1 - i end
      t = t:permute(perm):contiguous()
    end
    return t
  end

  local function file_source(f)
    local size = f:seek('end')
    f:seek('set', 0)
    return {
      read = function(n) return f:read(n) or '' end,
      remaining = function() return size - f:seek() end,
      tensor = function(dt, sizes) return torch._read_tensor(f, dt, sizes) end,
    }
  end

  local function string_source(s)
    local pos = 1
    return {
      read = function(n)
        local r = s:sub(pos, pos + n - 1)
        pos = pos + #r
        return r
      end,
      remaining = function() return #s - pos + 1 end,
      tensor = function(dt, sizes) return torch._tensor_from_bytes(s, dt, sizes, pos) end,
    }
  end

  --- Loads a .npy file (versions 1.0-3.0) as a contiguous tensor.
  function torch.load_npy(path)
    if type(path) ~= 'string' then error('load_npy: expected a path string, got ' .. type(path), 2) end
    local f, err = io.open(path, 'rb')
    if not f then error('load_npy: ' .. err, 2) end
    local what = 'load_npy: ' .. path
    local ok, t = pcall(function()
      local src = file_source(f)
      return read_data(what, read_header(what, src), src)
    end)
    f:close()
    if not ok then error(t, 0) end
    return t
  end

  --- Loads every .npy member of a .npz archive (numpy.savez or savez_compressed)
  --- as {name = tensor}, with the '.npy' suffix dropped from the names.
  function torch.load_npz(path)
    if type(path) ~= 'string' then error('load_npz: expected a path string, got ' .. type(path), 2) end
    local ok, z = pcall(zip.open, path)
    if not ok then error('load_npz: ' .. tostring(z):gsub('^zip%.open: ', ''), 0) end
    local out = {}
    local rok, err = pcall(function()
      for _, m in ipairs(z.members) do
        local name = m.name:match('^(.*)%.npy$')
        if not name then fail('load_npz: ' .. path, 'member %q is not a .npy file', m.name) end
        local what = 'load_npz: ' .. path .. ': ' .. m.name
        local src = string_source(z:read(m))
        out[name] = read_data(what, read_header(what, src), src)
      end
    end)
    z:close()
    if not rok then error(err:find('^load_npz') and err or 'load_npz: ' .. err, 0) end
    return out
  end

  local function shape_repr(size)
    local parts = {}
    for i = 1, #size do parts[i] = string.format('%d', size[i]) end
    if #parts == 1 then return '(' .. parts[1] .. ',)' end
    return '(' .. table.concat(parts, ', ') .. ')'
  end

  --- Saves tensor t to path as a .npy file (version 1.0, C order), byte for byte
  --- as numpy.save writes it. bfloat16 has no numpy dtype: convert it first.
  --- The file is written atomically (temporary file, then rename).
  function torch.save_npy(path, t)
    if type(path) ~= 'string' then error('save_npy: expected a path string, got ' .. type(path), 2) end
    if not torch.isTensor(t) then error('save_npy: expected a tensor, got ' .. type(t), 2) end
    local descr = DESCR[t.dtype]
    if not descr then error('save_npy: numpy has no ' .. t.dtype .. ' dtype; convert first, e.g. x:float()', 2) end
    if t.device ~= 'cpu' then t = t:to('cpu') end
    local size = t:size()
    local dict = string.format("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape_repr(size))
    -- numpy leaves room for the first dimension to grow to 21 digits in place
    if #size > 0 then dict = dict .. string.rep(' ', 21 - #string.format('%d', size[1])) end
    local version, fmt, prefix = 1, '<I2', 10
    if #dict + 1 + prefix > 65535 then version, fmt, prefix = 2, '<I4', 12 end
    local pad = 64 - (prefix + #dict + 1) % 64
    local header = MAGIC .. string.char(version, 0) .. string.pack(fmt, #dict + pad + 1) .. dict .. string.rep(' ', pad) .. '\n'
    write_atomic(path, function(f)
      assert(f:write(header))
      torch._write_tensor(f, t)
    end, 'save_npy')
  end
end
