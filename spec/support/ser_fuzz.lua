-- Helpers for fuzzing torch.load (spec/serialization_spec.lua and `make fuzz`):
-- a small valid checkpoint, file building from raw record payloads, checksum
-- repair (so mutations reach the parser behind the CRC check) and seeded mutations.
local torch = require 'torch'

local M = {}

M.MAGIC = '\x89EMBER\r\n\x1a\n'

function M.read(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

function M.write(path, s)
  local f = assert(io.open(path, 'wb'))
  f:write(s)
  f:close()
end

-- one record: type, length, checksum of (type, length, payload), payload; the
-- checksum is CRC-32C in version 2 (the default), zlib's CRC-32 in version 1
function M.record(rtype, payload, version)
  local crc = (version == 1) and torch._crc32 or torch._crc32c
  local h = string.pack('<Bi8', rtype, #payload)
  return h .. string.pack('<I4', crc(payload, crc(h))) .. payload
end

-- a whole file from a graph payload and the data payloads
function M.file(graph, datas, version)
  version = version or 2
  local parts = { M.MAGIC, string.pack('<I4', version), M.record(0x47, graph, version) }
  for _, d in ipairs(datas or {}) do parts[#parts + 1] = M.record(0x44, d, version) end
  parts[#parts + 1] = M.record(0x45, '', version)
  return table.concat(parts)
end

-- recomputes the checksum of every record whose length still fits in the file
function M.refix(s)
  local pos = #M.MAGIC + 4 + 1
  local parts = { s:sub(1, pos - 1) }
  local version = #s >= pos - 1 and string.unpack('<I4', s, #M.MAGIC + 1) or 2
  while pos + 12 <= #s do
    local rtype, len = string.unpack('<Bi8', s, pos)
    if len < 0 or len > #s - (pos + 12) then break end
    local payload = s:sub(pos + 13, pos + 12 + len)
    parts[#parts + 1] = M.record(rtype, payload, version)
    pos = pos + 13 + len
  end
  parts[#parts + 1] = s:sub(pos)
  return table.concat(parts)
end

-- a small object with every kind of value
function M.sample()
  local base = torch.arange(24, { dtype = 'float32' }):view(4, 6)
  local shared = { 'shared' }
  local obj = {
    1, 2.5, -0.0, 1 / 0, 'text', true, false,
    nested = { a = { b = { c = 'deep' } } },
    s1 = shared, s2 = shared,
    x = base, xt = base:t(), col = base[{ {}, 3 }],
    h = torch.tensor({ 1.5, -2 }, { dtype = 'float16' }),
    i = torch.tensor({ 7, -8 }, { dtype = 'int64' }),
    e = torch.empty(0, 2),
    w = torch.ones(2, { requires_grad = true }),
    size = base:size(),
    gen = torch.Generator():manual_seed(3),
  }
  obj.self = obj
  obj[{ 'key' }] = 'table key'
  return obj
end

local INTERESTING = { 0, -1, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0xffffffff, 1 << 31, 1 << 40, 1 << 62,
  math.maxinteger, math.mininteger }

-- one seeded mutation of s (rand is math.random-like)
function M.mutate(s, rand)
  local n = #s
  local kind = rand(1, 8)
  if n == 0 then return string.char(rand(0, 255)) end
  local i = rand(1, n)
  if kind == 1 then -- flip one bit
    local b = s:byte(i) ~ (1 << rand(0, 7))
    s = s:sub(1, i - 1) .. string.char(b) .. s:sub(i + 1)
  elseif kind == 2 then -- a random byte
    s = s:sub(1, i - 1) .. string.char(rand(0, 255)) .. s:sub(i + 1)
  elseif kind == 3 then -- a few random bytes
    for _ = 1, rand(2, 8) do
      local j = rand(1, n)
      s = s:sub(1, j - 1) .. string.char(rand(0, 255)) .. s:sub(j + 1)
    end
  elseif kind == 4 then -- an interesting 1, 4 or 8-byte integer
    local v = INTERESTING[rand(1, #INTERESTING)]
    local fmt = ({ '<i1', '<i4', '<i8' })[rand(1, 3)]
    local ok, p = pcall(string.pack, fmt, v)
    if not ok then p = string.pack('<i8', v) end
    s = s:sub(1, i - 1) .. p .. s:sub(i + #p)
  elseif kind == 5 then -- delete a range
    s = s:sub(1, i - 1) .. s:sub(i + rand(1, 16))
  elseif kind == 6 then -- insert random bytes
    local ins = {}
    for k = 1, rand(1, 16) do ins[k] = string.char(rand(0, 255)) end
    s = s:sub(1, i - 1) .. table.concat(ins) .. s:sub(i)
  elseif kind == 7 then -- duplicate a range
    local j = math.min(n, i + rand(0, 32))
    s = s:sub(1, j) .. s:sub(i, j) .. s:sub(j + 1)
  else -- truncate
    s = s:sub(1, i - 1)
  end
  return s
end

-- loads the bytes s from path; returns true (loaded), or false and the error;
-- raises when the error is not a clean torch.load error (a Lua runtime error
-- inside the reader is a bug)
function M.try(path, s)
  M.write(path, s)
  local ok, err = pcall(torch.load, path)
  if ok then return true end
  if type(err) ~= 'string' or not err:find('^torch%.load: ') or err:find('attempt to ')
    or err:find('bad argument') then
    error('torch.load gave an unexpected error: ' .. tostring(err), 0)
  end
  return false, err
end

return M
