-- Tensor basics: construction from tables, sizes, dtypes, views, copies.
local torch = require 'torch'
local H = require 'spec.support.helpers'

describe('torch.tensor', function()
  it('gives int64 for Lua integers and float32 for floats', function()
    assert.equal('int64', torch.tensor { 1, 2, 3 }.dtype)
    assert.equal('float32', torch.tensor { 1, 2.5 }.dtype)
    assert.equal('bool', torch.tensor { true, false }.dtype)
  end)
  it('builds nested shapes and honours dtype', function()
    local x = torch.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, { dtype = 'float64' })
    assert.equal('float64', x.dtype)
    assert.same({ 2, 3 }, { x:size(1), x:size(2) })
    H.assert_close(x, { { 1, 2, 3 }, { 4, 5, 6 } })
  end)
  it('rejects ragged tables with a clear error', function()
    H.assert_error(function() torch.tensor { { 1, 2 }, { 3 } } end, 'ragged')
    H.assert_error(function() torch.tensor { 'a' } end, 'expected numbers')
  end)
end)

describe('views', function()
  it('transposes without copying and copies back contiguously', function()
    local x = torch.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    local t = x:t()
    assert.is_false(t:is_contiguous())
    assert.is_true(t:is_set_to(x))
    H.assert_close(t:contiguous(), { { 1, 4 }, { 2, 5 }, { 3, 6 } })
  end)
  it('reports incompatible views', function()
    local x = torch.zeros(2, 3)
    H.assert_error(function() x:view(4) end, 'view: shape 4 is invalid for input of size 6')
    H.assert_error(function() x:t():view(6) end, 'use reshape')
    assert.equal(6, x:t():reshape(6):numel())
  end)
end)

describe('memory', function()
  it('keeps tensor memory bounded in a loop without collectgarbage', function()
    -- 10 MB per iteration; the binding tells the collector about tensor bytes
    local before = torch.memory_stats().allocated_bytes
    for _ = 1, 300 do
      local x = torch.empty(10 * 1024 * 1024 // 4)
      x:fill_(1)
    end
    local after = torch.memory_stats().allocated_bytes
    assert.is_true(after - before < 400 * 1024 * 1024,
      ('live tensor bytes grew by %d MB'):format((after - before) // (1024 * 1024)))
  end)
  it('reuses freed blocks through the caching allocator', function()
    local s0 = torch.memory_stats()
    for _ = 1, 50 do
      local x <close> = torch.empty(1000, 1000)
    end
    local s1 = torch.memory_stats()
    -- with <close> each block is freed at once, so nearly all 50 come from the cache
    assert.is_true(s1.num_system_allocs - s0.num_system_allocs <= 2)
    assert.is_true(s1.cached_bytes > 0)
    torch.empty_cache()
    assert.equal(0, torch.memory_stats().cached_bytes)
  end)
  it('carves smaller large blocks out of a freed bigger one, and merges them back', function()
    do local big <close> = torch.empty(10 * 1024 * 1024) end -- 40 MiB, freed at once
    local s1 = torch.memory_stats()
    do
      local a <close> = torch.empty(1024 * 1024) -- 4 MiB
      local b <close> = torch.empty(4 * 1024 * 1024) -- 16 MiB
      local c <close> = torch.empty(2 * 1024 * 1024) -- 8 MiB
      assert.equal(s1.num_system_allocs, torch.memory_stats().num_system_allocs)
    end
    do local big <close> = torch.empty(10 * 1024 * 1024) end -- the pieces merged back
    assert.equal(s1.num_system_allocs, torch.memory_stats().num_system_allocs)
    torch.empty_cache()
  end)
  it('reports use of a closed tensor clearly', function()
    local x = torch.zeros(3)
    do
      local y <close> = x
    end
    H.assert_error(function() return x:size() end, 'tensor was released (closed)')
  end)
end)

describe('float16 and bfloat16', function()
  it('store and convert values', function()
    local x = torch.tensor({ 1.5, -2.25, 65504, 1e-7, 3.1415926 }, { dtype = 'float16' })
    assert.equal('float16', x.dtype)
    H.assert_close(x:float(), { 1.5, -2.25, 65504, 1.1920928955078125e-07, 3.140625 }, { rtol = 0, atol = 0 })
    local b = torch.tensor({ 1.5, -2.25, 3.1415926 }, { dtype = 'bfloat16' })
    H.assert_close(b:float(), { 1.5, -2.25, 3.140625 }, { rtol = 0, atol = 0 })
    assert.equal(math.huge, torch.tensor({ 70000.0 }, { dtype = 'float16' }):float()[1])
  end)
end)

describe('cuda', function()
  it('is unavailable without a GPU and says so clearly', function()
    if torch.cuda.is_available() then
      assert.equal('cuda:0', torch.zeros(2):cuda().device)
    else
      H.assert_error(function() torch.zeros(2):cuda() end, 'cuda:')
    end
  end)
end)

describe('huge arguments', function()
  it('rejects as_strided geometry that overflows instead of reading past the storage', function()
    H.assert_error(function() torch.zeros(2, 3):as_strided({ 2 }, { 2 ^ 61 }) end,
      'as_strided: sizes and strides reach past any storage')
  end)
  it('prints large indices exactly in errors', function()
    H.assert_error(function() torch.zeros(3):narrow(1, 2 ^ 62, 1) end, 'narrow: start 4611686018427387904 is out of range')
    H.assert_error(function() torch.zeros(3):select(1, math.mininteger) end, 'index -9223372036854775808 is out of range')
  end)
end)
