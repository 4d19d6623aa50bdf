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
end)
