-- torch.save(path, obj) / torch.load(path [, {map_location=}]): Ember's own
-- checkpoint format (docs/serialization.md). Files are data only: loading never
-- runs code from the file; classes are found by name in torch.class's registry.
-- Saving is atomic (a temporary file in the same directory, fsync, rename) and
-- streams tensor data to the file; loading checks every length, count and
-- checksum against the file before it allocates anything.
return function(torch)
  local MAGIC = '\x89EMBER\r\n\x1a\n' -- 10 bytes, PNG-style: catches text-mode mangling
  local VERSION = 2 -- 2: records checked with CRC-32C; 1 (still read): zlib's CRC-32
  local CRC_OF = { [1] = 'crc32', [2] = 'crc32c' } -- the checksum of each version
  local CRC_FN = { [1] = torch._crc32, [2] = torch._crc32c }
  local MAX_DEPTH = 1000
  local REC_HEADER = 13 -- type u8, payload length i64, crc u32

  -- record types
  local R_GRAPH, R_DATA, R_END = 0x47, 0x44, 0x45 -- 'G', 'D', 'E'

  -- value tags inside the graph record
  local T_END, T_NIL, T_FALSE, T_TRUE, T_INT, T_FLOAT, T_STRING, T_REF, T_TABLE, T_OBJECT,
    T_TENSOR, T_GENERATOR = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11

  local DTYPES = { 'float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8',
    'uint8', 'bool' }
  local DTYPE_CODE = {}
  for i, d in ipairs(DTYPES) do DTYPE_CODE[d] = i end
  local ELEM_SIZE = { 4, 8, 2, 2, 8, 4, 2, 1, 1, 1 }
  local MAX_DIMS = 16

  local F_REQUIRES_GRAD, F_PARAMETER = 1, 2

  local ORDERED = 'torch.OrderedDict' -- restored by torch.OrderedDict(), keys in file order

  -- metatables that are not torch.class classes but are safe to restore by name
  local function builtin_metatable(name)
    if name == 'torch.Size' then return debug.getregistry()['torch.Size'] end
  end

  local function cuda_available()
    return torch.cuda ~= nil and torch.cuda.is_available ~= nil and torch.cuda.is_available()
  end

  ---------------------------------------------------------------- save

  local LUA_KEYWORDS = {}
  for w in ([[and break do else elseif end false for function goto if in local nil not or
    repeat return then true until while]]):gmatch('%a+') do LUA_KEYWORDS[w] = true end

  local function key_text(k)
    if type(k) == 'string' then
      if k:match('^[%a_][%w_]*$') and not LUA_KEYWORDS[k] then return '.' .. k end
      return '[' .. string.format('%q', k):gsub('\\\n', '\\n') .. ']'
    elseif math.type(k) == 'integer' then
      return '[' .. k .. ']'
    elseif type(k) == 'number' or type(k) == 'boolean' then
      return '[' .. tostring(k) .. ']'
    end
    return '[<' .. torch.type(k) .. ' key>]'
  end

  local function path_text(path, n)
    local parts = { 'obj' }
    local first, last = n, 0
    if n > 40 then first, last = 20, n - 19 end
    for i = 1, first do parts[#parts + 1] = key_text(path[i]) end
    if last > 0 then
      parts[#parts + 1] = ('...(%d more)...'):format(last - first - 1)
      for i = last, n do parts[#parts + 1] = key_text(path[i]) end
    end
    return table.concat(parts)
  end

  local function userdata_name(v)
    local mt = getmetatable(v)
    if type(mt) == 'table' and type(rawget(mt, '__name')) == 'string' then return rawget(mt, '__name') end
    return 'userdata'
  end

  local function is_generator(v)
    return type(v) == 'userdata' and userdata_name(v) == 'torch.Generator'
  end

  local function generator_device(g)
    return tostring(g):match("device='([^']*)'") or 'cpu'
  end

  -- the key order of a table: 1..n first, then scalar keys sorted (so the same
  -- object gives the same bytes in every run), then other keys in next() order
  local SCALAR_RANK = { boolean = 1, number = 2, string = 3 }
  local function ordered_keys(t)
    local keys, n = {}, 0
    while rawget(t, n + 1) ~= nil do
      n = n + 1
      keys[n] = n
    end
    local scalars, others = {}, {}
    for k in next, t do
      if not (math.type(k) == 'integer' and k >= 1 and k <= n) then
        if SCALAR_RANK[type(k)] then scalars[#scalars + 1] = k else others[#others + 1] = k end
      end
    end
    table.sort(scalars, function(a, b)
      local ra, rb = SCALAR_RANK[type(a)], SCALAR_RANK[type(b)]
      if ra ~= rb then return ra < rb end
      if ra == 1 then return (not a) and b end
      return a < b
    end)
    for _, k in ipairs(scalars) do keys[#keys + 1] = k end
    for _, k in ipairs(others) do keys[#keys + 1] = k end
    return keys
  end

  local function is_parameter(t)
    local nn = package.loaded.nn
    return type(nn) == 'table' and type(nn.is_parameter) == 'function' and nn.is_parameter(t)
  end

  -- Builds the graph record's payload in memory (structure only: tensor bytes are
  -- written later, one record per storage) and the list of storage spans to write.
  local function encode(root)
    local out, nout = {}, 0
    local function emit(s)
      nout = nout + 1
      out[nout] = s
    end
    local ids, nids = {}, 0
    local storages, storage_index = {}, {}
    local path, depth = {}, 0

    local function fail(what)
      error(('torch.save: cannot save %s at %s'):format(what, path_text(path, depth)), 0)
    end

    local function storage_of(t)
      local dev = tostring(t.device)
      local esize = t:element_size()
      local key = dev .. '@' .. (t:data_ptr() - t:storage_offset() * esize)
      local s = storage_index[key]
      if not s then
        s = { tensor = t, dtype = t.dtype, device = dev, lo = math.maxinteger, hi = -1 }
        storages[#storages + 1] = s
        s.index = #storages
        storage_index[key] = s
      end
      return s
    end

    local value
    local function tensor(t)
      local sizes, strides = t:size(), t:stride()
      local nd = #sizes
      local numel = t:numel()
      for i = 1, nd do
        if strides[i] < 0 then t = t:contiguous(); strides = t:stride(); break end
      end
      local flags = (t.requires_grad and F_REQUIRES_GRAD or 0) | (is_parameter(t) and F_PARAMETER or 0)
      emit(string.pack('<BBBB', T_TENSOR, flags, DTYPE_CODE[t.dtype], nd))
      for i = 1, nd do emit(string.pack('<i8i8', sizes[i], strides[i])) end
      if numel == 0 then
        emit(string.pack('<I4i8', 0, 0))
        return
      end
      local s = storage_of(t)
      local off = t:storage_offset()
      local last = off
      for i = 1, nd do last = last + (sizes[i] - 1) * strides[i] end
      if off < s.lo then s.lo = off end
      if last > s.hi then s.hi = last end
      -- the offset is rewritten relative to the saved span once every view is known
      emit(string.pack('<I4', s.index))
      nout = nout + 1
      out[nout] = { storage = s, offset = off }
    end

    local function table_body(t, keys)
      for _, k in ipairs(keys or ordered_keys(t)) do
        depth = depth + 1
        path[depth] = k
        if k ~= k then fail('a NaN key') end
        local ok_key = type(k)
        if ok_key == 'function' or ok_key == 'thread' or (ok_key == 'userdata' and not torch.isTensor(k)
          and not is_generator(k)) then
          fail(('a %s as a key'):format(ok_key == 'userdata' and userdata_name(k) or ok_key))
        end
        value(k)
        value(rawget(t, k))
        depth = depth - 1
      end
      emit(string.pack('<B', T_END))
    end

    function value(v)
      local tv = type(v)
      if tv == 'nil' then
        emit(string.pack('<B', T_NIL))
      elseif tv == 'boolean' then
        emit(string.pack('<B', v and T_TRUE or T_FALSE))
      elseif tv == 'number' then
        if math.type(v) == 'integer' then
          emit(string.pack('<Bi8', T_INT, v))
        else
          emit(string.pack('<Bd', T_FLOAT, v))
        end
      elseif tv == 'string' then
        emit(string.pack('<Bi8', T_STRING, #v))
        emit(v)
      elseif tv == 'table' or tv == 'userdata' then
        local id = ids[v]
        if id then
          emit(string.pack('<BI4', T_REF, id))
          return
        end
        if tv == 'userdata' then
          if torch.isTensor(v) then
            nids = nids + 1
            ids[v] = nids
            tensor(v)
          elseif is_generator(v) then
            nids = nids + 1
            ids[v] = nids
            local dev = generator_device(v)
            local state = torch._tensor_bytes(v:get_state())
            emit(string.pack('<Bs1s4', T_GENERATOR, dev, state))
          else
            fail('a ' .. userdata_name(v))
          end
          return
        end
        if depth >= MAX_DEPTH then
          fail(('a table nested more than %d deep'):format(MAX_DEPTH))
        end
        local mt = getmetatable(v)
        local class
        if torch.is_ordered_dict(v) then -- kept as one, in insertion order
          class = ORDERED
        elseif mt ~= nil then
          class = type(mt) == 'table' and rawget(mt, '__typename') or nil
          if type(class) ~= 'string' or torch.getclass(class) ~= mt then
            class = type(mt) == 'table' and rawget(mt, '__name') or nil
            if type(class) ~= 'string' or builtin_metatable(class) ~= mt then
              fail('a table whose metatable is not a torch.class')
            end
          end
        end
        nids = nids + 1
        ids[v] = nids
        if class then
          emit(string.pack('<Bs4', T_OBJECT, class))
        else
          emit(string.pack('<B', T_TABLE))
        end
        if class == ORDERED then
          local keys = {}
          for k in pairs(v) do keys[#keys + 1] = k end
          table_body(v, keys)
        else
          table_body(v)
        end
      else
        fail('a ' .. tv)
      end
    end

    value(root)

    -- every view is known: offsets become relative to the start of the saved span
    for i = 1, nout do
      local p = out[i]
      if type(p) == 'table' then out[i] = string.pack('<i8', p.offset - p.storage.lo) end
    end
    local head = { string.pack('<I4', #storages) }
    for i, s in ipairs(storages) do
      head[i + 1] = string.pack('<Bi8s1', DTYPE_CODE[s.dtype], s.hi - s.lo + 1, s.device)
    end
    return table.concat(head) .. table.concat(out), storages
  end

  local function record_header(rtype, len, payload_crc_fn)
    local h = string.pack('<Bi8', rtype, len)
    local crc = payload_crc_fn(torch._crc32c(h))
    return h .. string.pack('<I4', crc)
  end

  local function check_io(ok, err, what)
    if not ok then error(('torch.save: %s (%s)'):format(what, tostring(err)), 0) end
    return ok
  end

  local function write_all(f, target, graph, storages)
    check_io(f:write(MAGIC, string.pack('<I4', VERSION)), nil, 'cannot write ' .. target)
    local h = record_header(R_GRAPH, #graph, function(c) return torch._crc32c(graph, c) end)
    check_io(f:write(h, graph))
    for _, s in ipairs(storages) do
      local span = s.tensor:detach():as_strided({ s.hi - s.lo + 1 }, { 1 }, s.lo)
      if tostring(span.device) ~= 'cpu' then span = span:to('cpu') end
      local n = span:numel() * span:element_size()
      check_io(f:write(record_header(R_DATA, n, function(c) return torch._crc32c(span, c) end)))
      torch._write_tensor(f, span)
    end
    check_io(f:write(record_header(R_END, 0, function(c) return c end)))
  end

  local write_atomic = require 'torch.atomic'

  function torch.save(path, obj)
    if type(path) ~= 'string' then
      error('torch.save: expected a file path (string) as argument 1, got ' .. type(path)
        .. ' (Torch7 order: torch.save(path, obj))', 2)
    end
    local graph, storages = encode(obj)
    write_atomic(path, function(f) write_all(f, path, graph, storages) end, 'torch.save')
  end

  ---------------------------------------------------------------- load

  local function parse_device(dev, map_location, where)
    if dev ~= 'cpu' and not dev:match('^cuda$') and not dev:match('^cuda:%d%d?$') then
      error(('torch.load: %s: unknown device %q (corrupt file)'):format(where, dev), 0)
    end
    local target = map_location or dev
    if target == 'cpu' then return 'cpu' end
    if not cuda_available() then
      if map_location then
        error(("torch.load: map_location='%s' but no GPU is available"):format(map_location), 0)
      end
      return 'cpu'
    end
    return target
  end

  function torch.load(path, opts)
    if type(path) ~= 'string' then
      error('torch.load: expected a file path (string) as argument 1, got ' .. type(path), 2)
    end
    if opts ~= nil and type(opts) ~= 'table' then
      error('torch.load: options must be a table like {map_location=\'cpu\'}, got ' .. type(opts), 2)
    end
    local map_location = opts and opts.map_location
    if map_location ~= nil and (type(map_location) ~= 'string'
      or not (map_location == 'cpu' or map_location == 'cuda' or map_location:match('^cuda:%d+$'))) then
      error(("torch.load: map_location must be 'cpu', 'cuda' or 'cuda:N', got %s"):format(
        tostring(map_location)), 2)
    end
    local f, err = io.open(path, 'rb')
    if not f then error(('torch.load: cannot open %s (%s)'):format(path, err), 2) end
    local ok, res = pcall(function()
      local size = f:seek('end')
      f:seek('set', 0)
      if not size then error('not a regular file', 0) end
      local pos = 0
      local function bad(msg, ...)
        error(('%s is not a valid Ember checkpoint: ' .. msg):format(path, ...), 0)
      end
      local function read(n)
        if n > size - pos then bad('truncated at byte %d (%d bytes needed, %d left)', pos, n, size - pos) end
        local s = n == 0 and '' or f:read(n)
        if not s or #s ~= n then bad('unexpected end of file at byte %d', pos) end
        pos = pos + n
        return s
      end

      local head = read(#MAGIC + 4)
      if head:sub(1, #MAGIC) ~= MAGIC then bad('wrong magic bytes (not a file written by torch.save)') end
      local version = string.unpack('<I4', head, #MAGIC + 1)
      if not CRC_OF[version] then
        bad('format version %d, this Ember reads versions 1 to %d', version, VERSION)
      end
      local crc_fn, crc_kind = CRC_FN[version], CRC_OF[version]

      -- a record header; the payload's length is checked against the file here
      local function record(expect)
        local at = pos
        local h = read(REC_HEADER)
        local rtype, len, crc = string.unpack('<Bi8I4', h)
        if rtype ~= R_GRAPH and rtype ~= R_DATA and rtype ~= R_END then
          bad('unknown record type 0x%02x at byte %d', rtype, at)
        end
        if rtype ~= expect then
          bad("record at byte %d is '%s', expected '%s'", at, string.char(rtype), string.char(expect))
        end
        if len < 0 or len > size - pos then
          bad('record at byte %d claims %d bytes, the file holds %d more', at, len, size - pos)
        end
        return len, crc, crc_fn(h:sub(1, 9)), at
      end

      local glen, gcrc, c0, gat = record(R_GRAPH)
      local g = read(glen)
      if crc_fn(g, c0) ~= gcrc then bad('checksum mismatch in the record at byte %d', gat) end

      -- the graph payload, read with bounds checks
      local gp = 1
      local function take(fmt, n)
        if n > glen - gp + 1 then bad('the object record ends inside a value (offset %d)', gp - 1) end
        local a, b, c = string.unpack(fmt, g, gp)
        gp = gp + n
        return a, b, c
      end
      local function take_string(lenfmt, lensize, max)
        local n = take(lenfmt, lensize)
        if n < 0 or n > glen - gp + 1 or (max and n > max) then
          bad('a string of %d bytes does not fit in the object record (offset %d)', n, gp - 1)
        end
        local s = g:sub(gp, gp + n - 1)
        gp = gp + n
        return s
      end

      -- storages: each needs a data record of at least REC_HEADER bytes
      local nstorage = take('<I4', 4)
      if nstorage > (size - pos) // REC_HEADER then
        bad('%d storages claimed, the file has room for at most %d', nstorage, (size - pos) // REC_HEADER)
      end
      local storages = {}
      for i = 1, nstorage do
        local code = take('<B', 1)
        local numel = take('<i8', 8)
        local dev = take_string('<B', 1, 32)
        local dt = DTYPES[code]
        if not dt then bad('storage %d has unknown dtype code %d', i, code) end
        if numel < 1 or numel > (size - pos) // ELEM_SIZE[code] then
          bad('storage %d claims %d elements, more than the file holds', i, numel)
        end
        storages[i] = { dtype = dt, numel = numel, device = parse_device(dev, map_location, 'storage ' .. i) }
      end
      for i = 1, nstorage do
        local s = storages[i]
        local len, crc, c, at = record(R_DATA)
        if len ~= s.numel * ELEM_SIZE[DTYPE_CODE[s.dtype]] then
          bad('data record %d holds %d bytes, its storage needs %d', i, len,
            s.numel * ELEM_SIZE[DTYPE_CODE[s.dtype]])
        end
        -- read in chunks, each checksummed while it is in cache
        local t, tcrc = torch._read_tensor(f, s.dtype, { s.numel }, crc_kind, c)
        pos = pos + len
        if tcrc ~= crc then bad('checksum mismatch in the record at byte %d', at) end
        if s.device ~= 'cpu' then t = t:to(s.device) end
        s.tensor = t
      end
      local elen, ecrc, ec, eat = record(R_END)
      if elen ~= 0 or ec ~= ecrc then bad('damaged end record at byte %d', eat) end
      if pos ~= size or f:read(1) ~= nil then bad('%d stray bytes after the end record', size - pos) end

      -- the object graph
      local objs, nobj = {}, 0
      local value
      local function new_id(v)
        nobj = nobj + 1
        objs[nobj] = v
      end
      local function tensor()
        local flags, code, nd = take('<BBB', 3)
        local dt = DTYPES[code]
        if not dt then bad('a tensor has unknown dtype code %d', code) end
        if nd > MAX_DIMS then bad('a tensor has %d dims (at most %d)', nd, MAX_DIMS) end
        if flags > 3 then bad('a tensor has unknown flags %d', flags) end
        local sizes, strides = {}, {}
        local numel = 1
        for i = 1, nd do
          sizes[i], strides[i] = take('<i8i8', 16)
          if sizes[i] < 0 or strides[i] < 0 then bad('a tensor has a negative size or stride') end
          if sizes[i] == 0 then numel = 0 end
        end
        if numel ~= 0 then -- the element count must fit in 62 bits (expanded views are not allocated)
          for i = 1, nd do
            if sizes[i] > (1 << 62) // numel then bad('a tensor of absurd size') end
            numel = numel * sizes[i]
          end
        end
        local si = take('<I4', 4)
        local t
        if si == 0 then
          take('<i8', 8)
          if numel ~= 0 then bad('a non-empty tensor without a storage') end
          t = torch.empty(sizes, { dtype = dt })
        else
          local s = storages[si]
          if not s then bad('a tensor refers to storage %d of %d', si, nstorage) end
          if s.dtype ~= dt then bad('a %s tensor refers to a %s storage', dt, s.dtype) end
          local off = take('<i8', 8)
          if numel == 0 then bad('an empty tensor with a storage') end
          if off < 0 or off >= s.numel then bad('a tensor offset %d is outside its storage', off) end
          local last = off
          for i = 1, nd do
            if strides[i] > 0 and sizes[i] - 1 > (s.numel - 1 - last) // strides[i] then
              bad('a tensor view reaches past its storage')
            end
            last = last + (sizes[i] - 1) * strides[i]
          end
          t = s.tensor:as_strided(sizes, strides, off)
        end
        if flags & F_REQUIRES_GRAD ~= 0 then
          if not t:is_floating_point() then bad('a %s tensor that requires grad', dt) end
        end
        if flags & F_PARAMETER ~= 0 then
          local nn = require 'nn'
          t = nn.Parameter(t, flags & F_REQUIRES_GRAD ~= 0)
        elseif flags & F_REQUIRES_GRAD ~= 0 then
          t:requires_grad_(true)
        end
        return t
      end

      local function find_class(name)
        local c = torch.getclass(name) or builtin_metatable(name)
        if not c then
          local pkg = name:match('^(%a+)%.')
          if pkg == 'nn' or pkg == 'optim' or pkg == 'data' or pkg == 'image' then
            if pcall(require, pkg) then c = torch.getclass(name) end
          end
        end
        if not c then
          error(("torch.load: unknown class '%s' in %s (define it with torch.class before loading)")
            :format(name, path), 0)
        end
        return c
      end

      local depth = 0
      local END_MARK = {}
      local function body(t, ordered)
        depth = depth + 1
        if depth > MAX_DEPTH then bad('tables nested more than %d deep', MAX_DEPTH) end
        while true do
          local k = value(true)
          if k == END_MARK then break end
          if k == nil then bad('a nil key (offset %d)', gp - 1) end
          if k ~= k then bad('a NaN key (offset %d)', gp - 1) end
          local v = value()
          if ordered and rawget(t, k) == nil and v ~= nil then
            t[k] = v -- an OrderedDict records the order of new keys
          else
            rawset(t, k, v)
          end
        end
        depth = depth - 1
      end

      -- one value; with `key`, the end-of-table tag returns T_END
      function value(key)
        local tag = take('<B', 1)
        if tag == T_NIL then
          return nil
        elseif tag == T_FALSE then
          return false
        elseif tag == T_TRUE then
          return true
        elseif tag == T_INT then
          return take('<i8', 8)
        elseif tag == T_FLOAT then
          return take('<d', 8)
        elseif tag == T_STRING then
          return take_string('<i8', 8)
        elseif tag == T_REF then
          local id = take('<I4', 4)
          if id < 1 or id > nobj then bad('a reference to object %d of %d', id, nobj) end
          return objs[id]
        elseif tag == T_TABLE then
          local t = {}
          new_id(t)
          body(t)
          return t
        elseif tag == T_OBJECT then
          local name = take_string('<I4', 4, 256)
          if name == ORDERED then
            local t = torch.OrderedDict()
            new_id(t)
            body(t, true)
            return t
          end
          local class = find_class(name)
          local t = {}
          new_id(t)
          body(t)
          return setmetatable(t, class)
        elseif tag == T_TENSOR then
          local id = nobj + 1
          new_id(false)
          local t = tensor()
          objs[id] = t
          return t
        elseif tag == T_GENERATOR then
          local dev = take_string('<B', 1, 32)
          local state = take_string('<I4', 4)
          local gdev = parse_device(dev, map_location, 'a generator')
          local want = torch.get_rng_state():numel()
          if #state ~= want then bad('a generator state of %d bytes (expected %d)', #state, want) end
          local gen = torch.Generator(gdev)
          gen:set_state(torch._tensor_from_bytes(state, 'uint8', { #state }))
          new_id(gen)
          return gen
        elseif tag == T_END and key then
          return END_MARK
        end
        bad('unknown value tag %d (offset %d)', tag, gp - 2)
      end

      local root = value()
      if gp ~= glen + 1 then bad('%d stray bytes in the object record', glen + 1 - gp) end
      return root
    end)
    f:close()
    if not ok then
      if type(res) == 'string' and not res:match('^torch%.load: ') then res = 'torch.load: ' .. res end
      error(res, 2)
    end
    return res
  end
end
