-- Raw tensor I/O (core/tensor_io.c): the primitive under every file format.
local torch = require 'torch'
local H = require 'spec.support.helpers'

describe('raw tensor I/O', function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  it('writes a strided tensor in row-major order and reads it back, for every dtype', function()
    for _, dt in ipairs { 'float32', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool', 'float16', 'bfloat16' } do
      local t = (torch.randn(3, 4) * 10):to(dt):t()
      local f = assert(io.open(path, 'wb'))
      assert.are.equal(12 * torch.empty(0, { dtype = dt }):element_size(), torch._write_tensor(f, t))
      f:close()
      f = assert(io.open(path, 'rb'))
      local r = torch._read_tensor(f, dt, { 4, 3 })
      f:close()
      assert.is_true(torch.equal(r, t), dt)
      assert.is_true(torch.equal(torch._tensor_from_bytes(torch._tensor_bytes(t), dt, { 4, 3 }), t), dt)
    end
  end)

  it('checks lengths against the file before allocating', function()
    local f = assert(io.open(path, 'wb'))
    torch._write_tensor(f, torch.zeros(4))
    f:close()
    f = assert(io.open(path, 'rb'))
    H.assert_error(function() torch._read_tensor(f, 'float32', { 5 }) end, 'the file holds 16 more bytes, the tensor needs 20')
    H.assert_error(function() torch._read_tensor(f, 'float32', { 1 << 40, 1 << 40 }) end, 'overflow')
    H.assert_error(function() torch._read_tensor(f, 'float32', { -1 }) end, '')
    f:close()
    H.assert_error(function() torch._read_tensor(f, 'float32', { 1 }) end, 'the file is closed')
    H.assert_error(function() torch._read_tensor(3, 'float32', { 1 }) end, 'expected a file handle from io.open')
    H.assert_error(function() torch._tensor_from_bytes('abc', 'float32', { 1 }) end, 'do not fit in a string of 3 bytes')
    H.assert_error(function() torch._tensor_from_bytes('abcdefgh', 'int8', { 2 }, 8) end, 'from position 8')
  end)

  it('computes zlib CRC-32 of strings and tensors', function()
    assert.are.equal(0xCBF43926, torch._crc32('123456789'))
    assert.are.equal(torch._crc32('6789', torch._crc32('12345')), torch._crc32('123456789'))
    local t = torch.arange(10):t()
    assert.are.equal(torch._crc32(torch._tensor_bytes(t)), torch._crc32(t))
    H.assert_error(function() torch._crc32('x', -1) end, 'the running crc must be in 0..2^32-1')
  end)

  it('computes CRC-32 of large buffers in parallel parts with the same value', function()
    local t = torch.rand(1 << 22) -- 16 MiB: split across the threads
    local half = 1 << 21
    local two = torch._crc32(t:narrow(1, half + 1, half), torch._crc32(t:narrow(1, 1, half)))
    assert.are.equal(two, torch._crc32(t))
    assert.are.equal(torch._crc32(t, 12345), torch._crc32(t:narrow(1, half + 1, half),
      torch._crc32(t:narrow(1, 1, half), 12345)))
  end)

  it('computes CRC-32C of strings and tensors (hardware and table agree)', function()
    assert.are.equal(0xE3069283, torch._crc32c('123456789'))
    assert.are.equal(0, torch._crc32c(''))
    assert.are.equal(torch._crc32c('6789', torch._crc32c('12345')), torch._crc32c('123456789'))
    -- a plain bytewise CRC-32C in Lua, on lengths around the 3 x 8 KiB stream blocks
    local tab = {}
    for i = 0, 255 do
      local c = i
      for _ = 1, 8 do c = (c & 1 == 1) and ((c >> 1) ~ 0x82F63B78) or (c >> 1) end
      tab[i] = c
    end
    local function ref(s)
      local c = 0xffffffff
      for i = 1, #s do c = tab[(c ~ s:byte(i)) & 0xff] ~ (c >> 8) end
      return c ~ 0xffffffff
    end
    local bytes = torch._tensor_bytes(torch.randint(0, 256, { 3 * 8192 * 2 + 77 }, { dtype = 'uint8' }))
    for _, n in ipairs { 1, 7, 8, 9, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 5, #bytes } do
      local s = bytes:sub(2, n) -- unaligned start
      assert.are.equal(ref(s), torch._crc32c(s), n)
    end
    local t = torch.arange(10):t()
    assert.are.equal(torch._crc32c(torch._tensor_bytes(t)), torch._crc32c(t))
    H.assert_error(function() torch._crc32c('x', 1 << 32) end, '_crc32c: the running crc must be in 0..2^32-1')
  end)

  it('checksums while reading', function()
    local t = torch.rand(3 * (1 << 20) + 3) -- more than one 4 MiB chunk
    local f = assert(io.open(path, 'wb'))
    torch._write_tensor(f, t)
    f:close()
    for _, kind in ipairs { 'crc32', 'crc32c' } do
      f = assert(io.open(path, 'rb'))
      local r, crc = torch._read_tensor(f, 'float32', { t:numel() }, kind, 7)
      f:close()
      assert.is_true(torch.equal(r, t))
      assert.are.equal(torch['_' .. kind](t, 7), crc)
    end
    f = assert(io.open(path, 'rb'))
    H.assert_error(function() torch._read_tensor(f, 'float32', { 1 }, 'md5') end, "invalid option 'md5'")
    H.assert_error(function() torch._read_tensor(f, 'float32', { 1 }, 'crc32', -1) end, 'running crc')
    f:close()
  end)
end)
