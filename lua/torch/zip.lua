-- torch.zip: a strict reader of zip archives (.npz files, PyTorch's .pt checkpoints).
-- It reads the central directory, checks every offset and length against the file
-- size before using it, and reads members stored (method 0) or deflated (method 8,
-- inflated in C through zlib) with their CRC-32 verified. Zip64 sizes and offsets
-- are understood; encryption, multi-disk archives and other methods are refused.
--
--   local zip = require 'torch.zip'
--   local z <close> = zip.open(path)  -- raises on anything malformed
--   for _, m in ipairs(z.members) do print(m.name, m.size) end
--   local bytes = z:read('data.pkl')  -- a string, CRC checked
--   local t = z:read_tensor('archive/data/0', 'float32', {2, 3})
--   z:close()
--
-- A member (z.members[i], z:member(name)) is a table of: name, method (0 or 8),
-- crc32, size (uncompressed bytes), compressed_size, header_offset (0-based
-- offset of its local header) and data_offset (0-based offset of its data).
local C = require 'torch.core'

local zip = {}

local Archive = {}
Archive.__index = Archive

local SIG_LOCAL, SIG_CENTRAL = 'PK\3\4', 'PK\1\2'
local SIG_EOCD, SIG_EOCD64, SIG_LOCATOR64 = 'PK\5\6', 'PK\6\6', 'PK\6\7'
local EOCD_LEN, LOCATOR64_LEN, EOCD64_LEN = 22, 20, 56
local CENTRAL_LEN, LOCAL_LEN = 46, 30
local U16_MAX, U32_MAX = 0xffff, 0xffffffff

local function fail(where, fmt, ...)
  error(string.format('zip: %s: ' .. fmt, where, ...), 0)
end

-- Reads exactly n bytes at the 0-based offset, or fails naming what was read.
local function read_at(z, offset, n, what)
  if offset < 0 or n < 0 or offset > z.file_size or n > z.file_size - offset then
    fail(z.path, '%s (%d bytes at offset %d) lies outside the file of %d bytes', what, n, offset, z.file_size)
  end
  if n == 0 then return '' end
  assert(z.file:seek('set', offset))
  local s = z.file:read(n)
  if not s or #s ~= n then fail(z.path, 'short read of %s (the file changed while open?)', what) end
  return s
end

-- The end-of-central-directory record: the last "PK\5\6" whose comment runs
-- exactly to the end of the file.
local function find_eocd(z)
  local tail_len = math.min(z.file_size, EOCD_LEN + U16_MAX)
  local tail = read_at(z, z.file_size - tail_len, tail_len, 'the end of the archive')
  for i = tail_len - EOCD_LEN + 1, 1, -1 do
    if tail:sub(i, i + 3) == SIG_EOCD then
      local comment_len = string.unpack('<I2', tail, i + 20)
      if i - 1 + EOCD_LEN + comment_len == tail_len then
        return z.file_size - tail_len + i - 1, tail:sub(i, i + EOCD_LEN - 1)
      end
    end
  end
  fail(z.path, 'not a zip file (no end-of-central-directory record)')
end

-- Where the central directory is and how many entries it has, from the EOCD
-- record and, where present, the zip64 records before it.
local function read_directory_location(z)
  local eocd_pos, eocd = find_eocd(z)
  local disk, cd_disk, n_disk, n_total, cd_size, cd_offset = string.unpack('<I2I2I2I2I4I4', eocd, 5)
  local limit = eocd_pos -- the central directory must end before this
  local saturated = n_disk == U16_MAX or n_total == U16_MAX or cd_size == U32_MAX or cd_offset == U32_MAX
  local loc_pos = eocd_pos - LOCATOR64_LEN
  if loc_pos >= 0 and read_at(z, loc_pos, 4, 'the zip64 locator') == SIG_LOCATOR64 then
    local loc = read_at(z, loc_pos, LOCATOR64_LEN, 'the zip64 locator')
    local z64_disk, z64_pos, ndisks = string.unpack('<I4i8I4', loc, 5)
    if z64_disk ~= 0 or ndisks > 1 then fail(z.path, 'multi-disk archives are not supported') end
    if z64_pos < 0 or z64_pos > loc_pos - EOCD64_LEN then
      fail(z.path, 'the zip64 end record offset %d is out of range', z64_pos)
    end
    local rec = read_at(z, z64_pos, EOCD64_LEN, 'the zip64 end record')
    if rec:sub(1, 4) ~= SIG_EOCD64 then fail(z.path, 'bad zip64 end record signature at offset %d', z64_pos) end
    local d64, cd64, nd64, nt64, size64, off64 = string.unpack('<I4I4i8i8i8i8', rec, 17)
    if nd64 < 0 or nt64 < 0 or size64 < 0 or off64 < 0 then fail(z.path, 'negative count or size in the zip64 end record') end
    -- where the 32-bit record holds a real value it must agree with the zip64 one
    if (n_total ~= U16_MAX and n_total ~= nt64) or (cd_size ~= U32_MAX and cd_size ~= size64)
        or (cd_offset ~= U32_MAX and cd_offset ~= off64) then
      fail(z.path, 'the zip64 end record disagrees with the end-of-central-directory record')
    end
    disk, cd_disk, n_disk, n_total, cd_size, cd_offset = d64, cd64, nd64, nt64, size64, off64
    limit = z64_pos
  elseif saturated then
    fail(z.path, 'the end record needs zip64 values but there is no zip64 locator')
  end
  if disk ~= 0 or cd_disk ~= 0 or n_disk ~= n_total then fail(z.path, 'multi-disk archives are not supported') end
  if cd_offset > limit or cd_size > limit - cd_offset then
    fail(z.path, 'the central directory (%d bytes at offset %d) runs past its end record at %d', cd_size, cd_offset, limit)
  end
  if n_total > cd_size // CENTRAL_LEN then
    fail(z.path, '%d entries cannot fit in a central directory of %d bytes', n_total, cd_size)
  end
  return cd_offset, cd_size, n_total
end

-- The zip64 extended-information extra field (id 1): the 64-bit values of the
-- fields that hold 0xffffffff, in this fixed order.
local function apply_zip64_extra(z, m, extra)
  local pos = 1
  while pos <= #extra do
    if pos + 3 > #extra then fail(z.path, '%s: truncated extra field', m.name) end
    local id, len = string.unpack('<I2I2', extra, pos)
    if pos + 3 + len > #extra then fail(z.path, '%s: extra field %d runs past its end', m.name, id) end
    if id == 1 then
      local p, stop = pos + 4, pos + 4 + len
      local function take(field)
        if m[field] == U32_MAX then
          if p + 8 > stop then fail(z.path, '%s: the zip64 extra field lacks %s', m.name, field) end
          local v = string.unpack('<i8', extra, p)
          if v < 0 then fail(z.path, '%s: negative zip64 %s', m.name, field) end
          m[field], p = v, p + 8
        end
      end
      take('size'); take('compressed_size'); take('header_offset')
    end
    pos = pos + 4 + len
  end
  for _, field in ipairs { 'size', 'compressed_size', 'header_offset' } do
    if m[field] == U32_MAX then fail(z.path, '%s: %s needs a zip64 extra field, none given', m.name, field) end
  end
end

local function parse_central_directory(z, cd, n_total)
  local pos = 1
  for i = 1, n_total do
    if pos + CENTRAL_LEN - 1 > #cd or cd:sub(pos, pos + 3) ~= SIG_CENTRAL then
      fail(z.path, 'central directory entry %d is missing or has a bad signature', i)
    end
    local flags, method, _time, _date, crc, csize, size, name_len, extra_len, comment_len, disk =
        string.unpack('<I2I2I2I2I4I4I4I2I2I2I2', cd, pos + 8)
    local header_offset = string.unpack('<I4', cd, pos + 42)
    local vstart = pos + CENTRAL_LEN
    if vstart + name_len + extra_len + comment_len - 1 > #cd then
      fail(z.path, 'central directory entry %d runs past the directory', i)
    end
    local m = {
      name = cd:sub(vstart, vstart + name_len - 1), method = method, crc32 = crc,
      size = size, compressed_size = csize, header_offset = header_offset, flags = flags,
    }
    apply_zip64_extra(z, m, cd:sub(vstart + name_len, vstart + name_len + extra_len - 1))
    if m.name == '' then fail(z.path, 'central directory entry %d has an empty name', i) end
    if flags & 0x41 ~= 0 then fail(z.path, '%s: encrypted members are not supported', m.name) end
    if method ~= 0 and method ~= 8 then
      fail(z.path, '%s: compression method %d is not supported (only stored and deflated)', m.name, method)
    end
    if method == 0 and m.size ~= m.compressed_size then
      fail(z.path, '%s: a stored member with size %d but %d bytes of data', m.name, m.size, m.compressed_size)
    end
    if disk ~= 0 and disk ~= U16_MAX then fail(z.path, '%s: multi-disk archives are not supported', m.name) end
    if z.by_name[m.name] then fail(z.path, 'duplicate member name %q', m.name) end
    z.by_name[m.name] = m
    z.members[i] = m
    pos = vstart + name_len + extra_len + comment_len
  end
  if pos ~= #cd + 1 then fail(z.path, '%d stray bytes after the last central directory entry', #cd + 1 - pos) end
end

-- Each member's local header: its signature and name, and where the data starts;
-- the data must end before the central directory and members must not overlap.
local function check_local_headers(z, cd_offset)
  for _, m in ipairs(z.members) do
    if m.header_offset > cd_offset - LOCAL_LEN then
      fail(z.path, '%s: local header offset %d is past the central directory at %d', m.name, m.header_offset, cd_offset)
    end
    local h = read_at(z, m.header_offset, LOCAL_LEN, m.name .. "'s local header")
    if h:sub(1, 4) ~= SIG_LOCAL then fail(z.path, '%s: bad local header signature at offset %d', m.name, m.header_offset) end
    local method = string.unpack('<I2', h, 9)
    local name_len, extra_len = string.unpack('<I2I2', h, 27)
    local data_offset = m.header_offset + LOCAL_LEN + name_len + extra_len
    if data_offset > cd_offset or m.compressed_size > cd_offset - data_offset then
      fail(z.path, '%s: %d bytes of data at offset %d run into the central directory at %d', m.name,
        m.compressed_size, data_offset, cd_offset)
    end
    if read_at(z, m.header_offset + LOCAL_LEN, name_len, m.name .. "'s local name") ~= m.name then
      fail(z.path, '%s: the local header names a different member', m.name)
    end
    if method ~= m.method then fail(z.path, '%s: local and central headers disagree on the method', m.name) end
    m.data_offset = data_offset
  end
  local sorted = table.move(z.members, 1, #z.members, 1, {})
  table.sort(sorted, function(a, b) return a.header_offset < b.header_offset end)
  for i = 2, #sorted do
    local prev = sorted[i - 1]
    if prev.data_offset + prev.compressed_size > sorted[i].header_offset then
      fail(z.path, 'members %q and %q overlap', prev.name, sorted[i].name)
    end
  end
end

--- Opens and validates the archive at path. Raises a clear error on anything
--- malformed; returns an archive object (close it, or use `<close>`).
function zip.open(path)
  if type(path) ~= 'string' then error('zip.open: expected a path string, got ' .. type(path), 2) end
  local f, err = io.open(path, 'rb')
  if not f then error('zip.open: ' .. err, 2) end
  local z = setmetatable({ path = path, file = f, members = {}, by_name = {} }, Archive)
  local ok, e = pcall(function()
    z.file_size = f:seek('end')
    if z.file_size < EOCD_LEN then fail(path, 'not a zip file (%d bytes)', z.file_size) end
    local cd_offset, cd_size, n_total = read_directory_location(z)
    parse_central_directory(z, read_at(z, cd_offset, cd_size, 'the central directory'), n_total)
    check_local_headers(z, cd_offset)
  end)
  if not ok then
    f:close()
    error(e, 0)
  end
  return z
end

function Archive:close()
  if self.file then
    self.file:close()
    self.file = nil
  end
end
Archive.__close = Archive.close
Archive.__gc = Archive.close

--- The member called name, or nil.
function Archive:member(name) return self.by_name[name] end

local function entry(z, m)
  if not z.file then error('zip: ' .. z.path .. ': the archive is closed', 3) end
  if type(m) == 'string' then
    local e = z.by_name[m]
    if not e then fail(z.path, 'no member named %q', m) end
    return e
  end
  if type(m) ~= 'table' or z.by_name[m.name] ~= m then
    error('zip: expected a member name or a member of this archive', 3)
  end
  return m
end

--- The member's bytes as a string (inflated if deflated, CRC-32 checked).
function Archive:read(m)
  m = entry(self, m)
  local data = read_at(self, m.data_offset, m.compressed_size, m.name)
  if m.method == 8 then
    local ok, out = pcall(C._inflate, data, m.size)
    if not ok then fail(self.path, '%s: %s', m.name, tostring(out):gsub('^_inflate: ', '')) end
    data = out
  end
  local crc = C._crc32(data)
  if crc ~= m.crc32 then fail(self.path, '%s: CRC-32 mismatch (stored %08x, data %08x)', m.name, m.crc32, crc) end
  return data
end

--- A tensor of dtype and sizes holding the member's bytes, which must be exactly
--- that many. Stored members are read straight from the file (no string copy).
function Archive:read_tensor(m, dtype, sizes)
  m = entry(self, m)
  if type(sizes) ~= 'table' then error('zip: read_tensor expects a table of sizes', 2) end
  -- the byte count, checked against the member before anything is allocated
  local n, huge = C._tensor_from_bytes('', dtype, { 0 }):element_size(), false
  for i = 1, #sizes do
    local s = sizes[i]
    if math.type(s) ~= 'integer' or s < 0 then error('zip: read_tensor: bad size at position ' .. i, 2) end
    if s > 0 and n > m.size // s then n, huge = m.size + 1, true else n = n * s end
  end
  if n ~= m.size then fail(self.path, '%s: holds %d bytes, the tensor needs %s', m.name, m.size, huge and 'more' or n) end
  if m.method ~= 0 then return C._tensor_from_bytes(self:read(m), dtype, sizes) end
  assert(self.file:seek('set', m.data_offset))
  local t, crc = C._read_tensor(self.file, dtype, sizes, 'crc32') -- checksummed chunk by chunk as read
  if crc ~= m.crc32 then fail(self.path, '%s: CRC-32 mismatch (stored %08x, data %08x)', m.name, m.crc32, crc) end
  return t
end

return zip
