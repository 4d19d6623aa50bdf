-- torch.save_safetensors / torch.load_safetensors: the Hugging Face safetensors
-- format. A file is an 8-byte little-endian header length N, N bytes of JSON
-- ({"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}, ...},
-- padded with spaces to a multiple of 8), then the tensors' bytes, little-endian,
-- row-major, back to back. The JSON header is parsed strictly (torch.json) and
-- every offset checked: the tensors must tile the data section exactly, in order,
-- with no gap, overlap or trailing byte, as the reference implementation demands.
-- Files are written as the reference writer writes them (tensors sorted by
-- descending dtype alignment, then name), so every tensor is aligned in the file
-- and can be memory-mapped in place.
return function(torch)
  local json = require 'torch.json'
  local write_atomic = require 'torch.atomic'

  local MAX_HEADER = 100000000 -- bytes; the reference implementation's limit

  -- safetensors dtype -> Ember dtype, element size, and the reference's dtype
  -- order (its enum order, which sorts tensors by alignment when writing)
  local DTYPES = {
    BOOL = { 'bool', 1, 0 }, U8 = { 'uint8', 1, 1 }, I8 = { 'int8', 1, 2 }, I16 = { 'int16', 2, 5 },
    F16 = { 'float16', 2, 7 }, BF16 = { 'bfloat16', 2, 8 }, I32 = { 'int32', 4, 9 }, F32 = { 'float32', 4, 11 },
    F64 = { 'float64', 8, 12 }, I64 = { 'int64', 8, 13 },
  }
  local UNSUPPORTED = { U16 = true, U32 = true, U64 = true, F8_E5M2 = true, F8_E4M3 = true }
  local CODES = {}
  for code, d in pairs(DTYPES) do CODES[d[1]] = code end

  local function check_opts(opts, fn, allowed)
    if opts == nil then return {} end
    if type(opts) ~= 'table' or torch.isTensor(opts) then
      error(fn .. ': options must be a table, got ' .. type(opts), 3)
    end
    for k in pairs(opts) do
      if not allowed[k] then error(fn .. ': unknown option ' .. tostring(k), 3) end
    end
    return opts
  end

  --- Saves a table {name = tensor} to path in the safetensors format. opts:
  --- metadata = {key = 'string value', ...}. CUDA tensors are copied to the CPU.
  --- The file is written atomically (temporary file, then rename).
  function torch.save_safetensors(path, tensors, opts)
    if type(path) ~= 'string' then error('save_safetensors: expected a path string, got ' .. type(path), 2) end
    if type(tensors) ~= 'table' or torch.isTensor(tensors) then
      error('save_safetensors: expected a table of {name = tensor}, got ' .. (torch.isTensor(tensors) and 'a tensor' or type(tensors)), 2)
    end
    opts = check_opts(opts, 'save_safetensors', { metadata = true })
    local entries = {}
    for name, t in pairs(tensors) do
      if type(name) ~= 'string' then error('save_safetensors: tensor names must be strings, got ' .. type(name), 2) end
      if name == '__metadata__' then error("save_safetensors: '__metadata__' is reserved for the metadata", 2) end
      if not utf8.len(name) then error(string.format('save_safetensors: name %q is not valid UTF-8', name), 2) end
      if not torch.isTensor(t) then error(string.format('save_safetensors: %q is a %s, not a tensor', name, type(t)), 2) end
      if t.device ~= 'cpu' then t = t:to('cpu') end
      local code = CODES[t.dtype]
      entries[#entries + 1] = { name = name, t = t, code = code, shape = t:size(), nbytes = t:numel() * DTYPES[code][2] }
    end
    local metadata = opts.metadata
    if metadata ~= nil then
      if type(metadata) ~= 'table' then error('save_safetensors: metadata must be a table of strings', 2) end
      for k, v in pairs(metadata) do
        if type(k) ~= 'string' or type(v) ~= 'string' then
          error('save_safetensors: metadata keys and values must be strings, got ' .. type(k) .. ' = ' .. type(v), 2)
        end
        if not utf8.len(k) or not utf8.len(v) then error('save_safetensors: metadata must be valid UTF-8', 2) end
      end
    end
    table.sort(entries, function(a, b)
      local ra, rb = DTYPES[a.code][3], DTYPES[b.code][3]
      if ra ~= rb then return ra > rb end
      return a.name < b.name
    end)
    local parts, offset = { '{' }, 0
    if metadata then parts[#parts + 1] = '"__metadata__":' .. json.encode(metadata) end
    for _, e in ipairs(entries) do
      if #parts > 1 then parts[#parts + 1] = ',' end
      local dims = {}
      for i = 1, #e.shape do dims[i] = string.format('%d', e.shape[i]) end
      parts[#parts + 1] = string.format('%s:{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}',
        json.encode_string(e.name), e.code, table.concat(dims, ','), offset, offset + e.nbytes)
      offset = offset + e.nbytes
    end
    parts[#parts + 1] = '}'
    local header = table.concat(parts)
    header = header .. string.rep(' ', (8 - #header % 8) % 8)
    write_atomic(path, function(f)
      assert(f:write(string.pack('<I8', #header), header))
      for _, e in ipairs(entries) do torch._write_tensor(f, e.t) end
    end, 'save_safetensors')
  end

  local function fail(path, fmt, ...)
    error('load_safetensors: ' .. path .. ': ' .. string.format(fmt, ...), 0)
  end

  -- A list of non-negative integers from the header, or an error naming it.
  local function int_list(path, v, what, n)
    if type(v) ~= 'table' or not json.is_array(v) then fail(path, '%s must be an array', what) end
    if n and #v ~= n then fail(path, '%s must have %d entries, got %d', what, n, #v) end
    for i = 1, #v do
      if math.type(v[i]) ~= 'integer' or v[i] < 0 then fail(path, '%s[%d] must be a non-negative integer', what, i) end
    end
    return v
  end

  -- Parses and validates the header; returns the entries sorted by offset, the
  -- metadata, and the 0-based offset of the data section.
  local function read_header(path, f)
    local size = f:seek('end')
    if size < 8 then fail(path, 'the file has %d bytes, too short for a safetensors header', size) end
    f:seek('set', 0)
    local n = string.unpack('<i8', f:read(8))
    if n < 0 or n > MAX_HEADER then
      fail(path, 'header length %s exceeds the %d-byte limit', n < 0 and string.format('%u', n) or n, MAX_HEADER)
    end
    if n > size - 8 then fail(path, 'header length %d runs past the end of the file (%d bytes)', n, size) end
    local text = f:read(n) or ''
    if #text ~= n then fail(path, 'short read of the header') end
    if text:sub(1, 1) ~= '{' then fail(path, "the header does not start with '{'") end
    local ok, header = pcall(json.decode, text, { max_depth = 8 })
    if not ok then fail(path, 'bad JSON header (%s)', header) end
    if json.is_array(header) then fail(path, 'the header must be a JSON object') end
    local metadata, entries = {}, {}
    for name, info in pairs(header) do
      if name == '__metadata__' then
        if type(info) ~= 'table' or json.is_array(info) then fail(path, '__metadata__ must be an object of strings') end
        for k, v in pairs(info) do
          if type(v) ~= 'string' then fail(path, '__metadata__[%q] must be a string', k) end
          metadata[k] = v
        end
      else
        if type(info) ~= 'table' or json.is_array(info) then fail(path, 'tensor %q: expected an object', name) end
        for k in pairs(info) do
          if k ~= 'dtype' and k ~= 'shape' and k ~= 'data_offsets' then fail(path, 'tensor %q: unknown field %q', name, k) end
        end
        local code = info.dtype
        if type(code) ~= 'string' then fail(path, 'tensor %q: dtype must be a string', name) end
        if UNSUPPORTED[code] then fail(path, 'tensor %q: dtype %s has no Ember equivalent', name, code) end
        if not DTYPES[code] then fail(path, 'tensor %q: unknown dtype %q', name, code) end
        local shape = int_list(path, info.shape, 'tensor ' .. string.format('%q', name) .. ' shape')
        if #shape > 16 then fail(path, 'tensor %q: %d dimensions (at most 16)', name, #shape) end
        local offs = int_list(path, info.data_offsets, 'tensor ' .. string.format('%q', name) .. ' data_offsets', 2)
        if offs[2] < offs[1] then fail(path, 'tensor %q: data_offsets end %d before they begin %d', name, offs[2], offs[1]) end
        entries[#entries + 1] = { name = name, code = code, shape = shape, b = offs[1], e = offs[2] }
      end
    end
    local data_start = 8 + n
    local buffer_len = size - data_start
    table.sort(entries, function(x, y)
      if x.b ~= y.b then return x.b < y.b end
      if x.e ~= y.e then return x.e < y.e end
      return x.name < y.name
    end)
    local pos = 0
    for _, e in ipairs(entries) do
      if e.b ~= pos then
        fail(path, 'tensor %q: data_offsets [%d, %d] %s the previous tensor, which ends at %d', e.name, e.b, e.e,
          e.b < pos and 'overlap' or 'leave a gap after', pos)
      end
      if e.e > buffer_len then
        fail(path, 'tensor %q: data_offsets [%d, %d] run past the data section of %d bytes', e.name, e.b, e.e, buffer_len)
      end
      local nbytes = DTYPES[e.code][2]
      for _, s in ipairs(e.shape) do
        if s == 0 then nbytes = 0 end
      end
      for _, s in ipairs(nbytes > 0 and e.shape or {}) do
        if s > 0 and nbytes > (1 << 62) // s then nbytes = -1 break end
        nbytes = nbytes * s
      end
      if nbytes ~= e.e - e.b then
        fail(path, 'tensor %q: shape and dtype %s need %s bytes, data_offsets give %d', e.name, e.code,
          nbytes < 0 and 'more than 2^62' or tostring(nbytes), e.e - e.b)
      end
      pos = e.e
    end
    if pos ~= buffer_len then
      fail(path, 'the tensors cover %d bytes but the data section holds %d', pos, buffer_len)
    end
    return entries, metadata, data_start
  end

  --- Loads a safetensors file: returns {name = tensor} and the metadata table
  --- (empty when the file has none). opts: mmap = true (default) maps the file
  --- and lets tensors use its pages directly (copy-on-write; falls back to reading
  --- when mapping fails); mmap = false reads every tensor into fresh memory.
  function torch.load_safetensors(path, opts)
    if type(path) ~= 'string' then error('load_safetensors: expected a path string, got ' .. type(path), 2) end
    opts = check_opts(opts, 'load_safetensors', { mmap = true })
    local f, err = io.open(path, 'rb')
    if not f then error('load_safetensors: ' .. err, 2) end
    local ok, entries, metadata, data_start = pcall(read_header, path, f)
    if not ok then
      f:close()
      error(entries, 0)
    end
    -- BOOL bytes are loaded as uint8 and checked: a byte other than 0/1 is not a bool
    local function ember_dtype(e) return e.code == 'BOOL' and 'uint8' or DTYPES[e.code][1] end
    local list
    if opts.mmap ~= false and #entries > 0 then
      local specs = {}
      for i, e in ipairs(entries) do specs[i] = { ember_dtype(e), e.shape, data_start + e.b } end
      local mok, res = pcall(torch._mmap_tensors, path, specs)
      if mok then list = res end
    end
    if not list then
      list = {}
      local rok, rerr = pcall(function()
        for i, e in ipairs(entries) do
          assert(f:seek('set', data_start + e.b))
          list[i] = torch._read_tensor(f, ember_dtype(e), e.shape)
        end
      end)
      if not rok then
        f:close()
        fail(path, '%s', rerr)
      end
    end
    f:close()
    local out = {}
    for i, e in ipairs(entries) do
      local t = list[i]
      if e.code == 'BOOL' then
        if t:numel() > 0 and t:max():item() > 1 then fail(path, 'tensor %q: a BOOL byte other than 0 or 1', e.name) end
        t = t:to('bool')
      end
      out[e.name] = t
    end
    return out, metadata
  end
end
